//! Where a data file's bytes come from: [`ByteSource`], with an HTTP implementation
//! ([`HttpSource`]: range requests and streamed bodies against the Hub) and a local one
//! ([`LocalFile`]: a cached copy on disk).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::OnceCell;
use url::Url;

use crate::error::HubError;
use crate::http::{describe, Http, Kind, On404};

/// The most memory reserved up front for one range (larger ranges grow as bytes arrive).
const MAX_PREALLOC: usize = 16 << 20;

/// A stream of a file's bytes, in order.
pub type ByteStream = BoxStream<'static, Result<Bytes, HubError>>;

/// Random and sequential access to one file's bytes.
#[async_trait]
pub trait ByteSource: Send + Sync {
    /// The dataset (repository id) and the file's path in it, for error messages.
    fn describe(&self) -> (&str, &str);

    /// The file's length in bytes.
    async fn len(&self) -> Result<u64, HubError>;

    /// Whether the file has no bytes.
    async fn is_empty(&self) -> Result<bool, HubError> {
        Ok(self.len().await? == 0)
    }

    /// Bytes `start..end` (end exclusive). `end` must not be past [`ByteSource::len`].
    async fn read_range(&self, start: u64, end: u64) -> Result<Bytes, HubError>;

    /// The whole file from its first byte, as a stream; dropping it stops the transfer.
    async fn stream(&self) -> Result<ByteStream, HubError>;
}

/// A file on the Hub (or any URL the Hub redirects from), read with HTTP range requests
/// (`Range: bytes=…`, expecting `206`) and streamed `GET`s. Redirects to the Hub's CDN are
/// followed; the token is sent to the Hub only.
#[derive(Clone)]
pub struct HttpSource {
    http: Arc<Http>,
    url: Url,
    repo: String,
    path: String,
    token: Option<String>,
    len: Arc<OnceCell<u64>>,
}

impl std::fmt::Debug for HttpSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSource")
            .field("url", &crate::http::redact(&self.url))
            .field("repo", &self.repo)
            .field("path", &self.path)
            .finish()
    }
}

impl HttpSource {
    pub(crate) fn new(
        http: Arc<Http>,
        url: Url,
        repo: &str,
        path: &str,
        token: Option<String>,
        len: Option<u64>,
    ) -> Self {
        let cell = OnceCell::new();
        if let Some(len) = len {
            let _ = cell.set(len);
        }
        HttpSource {
            http,
            url,
            repo: repo.to_string(),
            path: path.to_string(),
            token,
            len: Arc::new(cell),
        }
    }

    /// The URL read.
    pub fn url(&self) -> &Url {
        &self.url
    }

    async fn get(&self, range: Option<&str>) -> Result<reqwest::Response, HubError> {
        let response = self
            .http
            .get(
                &self.repo,
                Kind::Download,
                &self.url,
                range,
                self.token.as_deref(),
            )
            .await?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        if status == StatusCode::RANGE_NOT_SATISFIABLE {
            return Err(HubError::unreadable(
                &self.repo,
                &self.path,
                format!("range {} not satisfiable", range.unwrap_or("-")),
            ));
        }
        let token_sent = self.http.token_sent(self.token.as_deref());
        Err(self
            .http
            .status_error(
                &self.repo,
                response,
                On404::File(self.path.clone()),
                token_sent,
            )
            .await)
    }

    fn body_error(&self, e: reqwest::Error) -> HubError {
        HubError::unavailable(&self.repo, describe(&e, &self.url))
    }
}

/// `bytes START-END/TOTAL` → (START, TOTAL).
fn content_range(response: &reqwest::Response) -> Option<(u64, Option<u64>)> {
    let value = response
        .headers()
        .get(reqwest::header::CONTENT_RANGE)?
        .to_str()
        .ok()?;
    let rest = value.trim().strip_prefix("bytes ")?;
    let (span, total) = rest.split_once('/')?;
    let (start, _) = span.split_once('-')?;
    Some((start.trim().parse().ok()?, total.trim().parse().ok()))
}

#[async_trait]
impl ByteSource for HttpSource {
    fn describe(&self) -> (&str, &str) {
        (&self.repo, &self.path)
    }

    async fn len(&self) -> Result<u64, HubError> {
        self.len
            .get_or_try_init(|| async {
                let response = self.get(Some("bytes=0-0")).await?;
                let total = match response.status() {
                    StatusCode::PARTIAL_CONTENT => content_range(&response).and_then(|(_, t)| t),
                    _ => response.content_length(),
                };
                total.ok_or_else(|| {
                    HubError::unreadable(
                        &self.repo,
                        &self.path,
                        "the Hub did not say the file's size",
                    )
                })
            })
            .await
            .copied()
    }

    async fn read_range(&self, start: u64, end: u64) -> Result<Bytes, HubError> {
        if end <= start {
            return Ok(Bytes::new());
        }
        if let Some(&len) = self.len.get() {
            if end > len {
                return Err(HubError::unreadable(
                    &self.repo,
                    &self.path,
                    format!("bytes {start}..{end} asked of a file of {len} bytes"),
                ));
            }
        }
        let want = usize::try_from(end - start)
            .map_err(|_| HubError::unreadable(&self.repo, &self.path, "range too large"))?;
        let range = format!("bytes={start}-{}", end - 1);
        let response = self.get(Some(&range)).await?;
        let mut body = Vec::with_capacity(want.min(MAX_PREALLOC));
        match response.status() {
            StatusCode::PARTIAL_CONTENT => {
                if let Some((got_start, _)) = content_range(&response) {
                    if got_start != start {
                        return Err(HubError::unreadable(
                            &self.repo,
                            &self.path,
                            format!("asked for bytes from {start}, got bytes from {got_start}"),
                        ));
                    }
                }
                let mut stream = response.bytes_stream();
                while let Some(chunk) = stream.next().await {
                    body.extend_from_slice(&chunk.map_err(|e| self.body_error(e))?);
                    if body.len() >= want {
                        break;
                    }
                }
            }
            _ => {
                // The server ignored the range: skip to `start`, then stop at `end`.
                let mut skipped: u64 = 0;
                let mut stream = response.bytes_stream();
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk.map_err(|e| self.body_error(e))?;
                    let from = start.saturating_sub(skipped).min(chunk.len() as u64) as usize;
                    skipped += chunk.len() as u64;
                    body.extend_from_slice(&chunk[from..]);
                    if body.len() >= want {
                        break;
                    }
                }
            }
        }
        if body.len() < want {
            return Err(HubError::unreadable(
                &self.repo,
                &self.path,
                format!(
                    "expected {want} bytes from offset {start}, got {}",
                    body.len()
                ),
            ));
        }
        body.truncate(want);
        Ok(Bytes::from(body))
    }

    async fn stream(&self) -> Result<ByteStream, HubError> {
        let response = self.get(None).await?;
        let source = self.clone();
        Ok(response
            .bytes_stream()
            .map_err(move |e| source.body_error(e))
            .boxed())
    }
}

/// A file on local disk (e.g. a cached copy of a Hub file).
#[derive(Debug, Clone)]
pub struct LocalFile {
    path: PathBuf,
    repo: String,
    repo_path: String,
}

impl LocalFile {
    /// The file at `path` on disk, holding `repo_path` of dataset `repo` (both only name it
    /// in errors).
    pub fn new(path: impl AsRef<Path>, repo: &str, repo_path: &str) -> Self {
        LocalFile {
            path: path.as_ref().to_path_buf(),
            repo: repo.to_string(),
            repo_path: repo_path.to_string(),
        }
    }

    fn io_error(&self, e: std::io::Error) -> HubError {
        HubError::unreadable(
            &self.repo,
            &self.repo_path,
            format!("{}: {e}", self.path.display()),
        )
    }
}

#[async_trait]
impl ByteSource for LocalFile {
    fn describe(&self) -> (&str, &str) {
        (&self.repo, &self.repo_path)
    }

    async fn len(&self) -> Result<u64, HubError> {
        Ok(tokio::fs::metadata(&self.path)
            .await
            .map_err(|e| self.io_error(e))?
            .len())
    }

    async fn read_range(&self, start: u64, end: u64) -> Result<Bytes, HubError> {
        if end <= start {
            return Ok(Bytes::new());
        }
        let len = self.len().await?;
        if end > len {
            return Err(HubError::unreadable(
                &self.repo,
                &self.repo_path,
                format!("bytes {start}..{end} asked of a file of {len} bytes"),
            ));
        }
        let mut file = tokio::fs::File::open(&self.path)
            .await
            .map_err(|e| self.io_error(e))?;
        file.seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(|e| self.io_error(e))?;
        let mut buf = vec![0u8; (end - start) as usize];
        file.read_exact(&mut buf)
            .await
            .map_err(|e| self.io_error(e))?;
        Ok(Bytes::from(buf))
    }

    async fn stream(&self) -> Result<ByteStream, HubError> {
        let file = tokio::fs::File::open(&self.path)
            .await
            .map_err(|e| self.io_error(e))?;
        let this = self.clone();
        Ok(tokio_util::io::ReaderStream::new(file)
            .map_err(move |e| this.io_error(e))
            .boxed())
    }
}
