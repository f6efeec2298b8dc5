//! [`HubClient`]: the Hub's HTTP API for datasets (revisions, file trees, Parquet
//! conversions, file downloads) and the data-file selection on top of it.

use std::sync::Arc;

use assay_domain::manifest::DataFiles;
use futures::StreamExt;
use reqwest::header::LINK;
use serde::Deserialize;
use url::Url;

use crate::config::HubConfig;
use crate::error::{HubError, Missing};
use crate::http::{same_origin, ClientOptions, Http, Kind, On404};
use crate::rows::{open_rows, RowStream};
use crate::select::{select, Selection};
use crate::source::{ByteSource, HttpSource};
use crate::{DataFile, DataFormat, RepoFile};

/// The branch the Hub keeps its automatic Parquet conversion on.
pub const PARQUET_REVISION: &str = "refs/convert/parquet";

/// The largest dataset card (or `.huggingface.yaml`) read.
const MAX_CARD_BYTES: u64 = 8 << 20;

/// A client for the Hugging Face Hub's dataset API. Cheap to clone (clones share
/// connections).
#[derive(Debug, Clone)]
pub struct HubClient {
    http: Arc<Http>,
}

#[derive(Deserialize)]
struct RevisionInfo {
    sha: Option<String>,
}

#[derive(Deserialize)]
struct TreeEntry {
    #[serde(rename = "type")]
    kind: String,
    path: String,
    #[serde(default)]
    size: u64,
}

/// `n` bytes in the largest binary unit that divides it evenly (`8 MiB`), else in bytes.
fn human_bytes(n: u64) -> String {
    for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if n >= 1 << shift && n.is_multiple_of(1 << shift) {
            return format!("{} {unit}", n >> shift);
        }
    }
    format!("{n} bytes")
}

/// Whether `s` is a full commit id: 40 lowercase hex digits.
pub fn is_commit(s: &str) -> bool {
    s.len() == 40
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Whether `repo` is a plausible dataset id: `name` or `owner/name`, each of ASCII letters,
/// digits, `-`, `_` and `.`, not starting with `.` or `-`, without `..`.
fn valid_repo_id(repo: &str) -> bool {
    let parts: Vec<&str> = repo.split('/').collect();
    (1..=2).contains(&parts.len())
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 96
                && !p.starts_with(['.', '-'])
                && !p.contains("..")
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
}

/// The `rel="next"` target of a `Link` header.
fn next_link(value: &str) -> Option<&str> {
    value.split(',').find_map(|part| {
        let (target, params) = part.trim().split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        params
            .split(';')
            .any(|p| {
                let p = p.trim().replace(' ', "");
                p == "rel=\"next\"" || p == "rel=next"
            })
            .then_some(target)
    })
}

/// The repository path a Parquet-conversion URL stands for: after `/resolve/{revision}/`,
/// else after `/parquet/`.
fn export_path(url: &Url) -> String {
    let path = url.path();
    let decoded = percent_decode;
    if let Some(i) = path.find("/resolve/") {
        let rest = &path[i + "/resolve/".len()..];
        if let Some((_, file)) = rest.split_once('/') {
            return decoded(file);
        }
    }
    if let Some(i) = path.rfind("/parquet/") {
        return decoded(&path[i + "/parquet/".len()..]);
    }
    decoded(path.rsplit('/').next().unwrap_or(path))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl HubClient {
    /// A client for `config.endpoint` with `config.token`, default timeouts and retries.
    pub fn new(config: &HubConfig) -> Result<Self, HubError> {
        Self::with_options(config, ClientOptions::default())
    }

    /// A client with explicit timeouts and retries.
    pub fn with_options(config: &HubConfig, options: ClientOptions) -> Result<Self, HubError> {
        Ok(HubClient {
            http: Arc::new(Http::new(&config.endpoint, config.token.clone(), &options)?),
        })
    }

    /// The Hub's base URL.
    pub fn endpoint(&self) -> &Url {
        &self.http.endpoint
    }

    fn check_repo(repo: &str) -> Result<(), HubError> {
        if valid_repo_id(repo) {
            Ok(())
        } else {
            Err(HubError::not_found(repo, Missing::Repo))
        }
    }

    /// The commit `revision` (a branch, tag or commit; `main` when `None`) of dataset `repo`
    /// points at, as 40 hex digits (`GET /api/datasets/{repo}/revision/{revision}`). `token`
    /// replaces the client's token for this call.
    pub async fn resolve_revision(
        &self,
        repo: &str,
        revision: Option<&str>,
        token: Option<&str>,
    ) -> Result<String, HubError> {
        Self::check_repo(repo)?;
        let revision = revision.unwrap_or("main");
        let url = self.http.url(&[
            ("api", false),
            ("datasets", false),
            (repo, true),
            ("revision", false),
            (revision, false),
        ]);
        let response = self.http.get(repo, Kind::Api, &url, None, token).await?;
        if !response.status().is_success() {
            let token_sent = self.http.token_sent(token);
            return Err(self
                .http
                .status_error(
                    repo,
                    response,
                    On404::Revision(revision.to_string()),
                    token_sent,
                )
                .await);
        }
        let info: RevisionInfo = response.json().await.map_err(|e| {
            HubError::unavailable(
                repo,
                format!("unexpected answer to the revision request: {e}"),
            )
        })?;
        match info.sha {
            Some(sha) if is_commit(&sha) => Ok(sha),
            other => Err(HubError::unavailable(
                repo,
                format!(
                    "the Hub answered revision `{revision}` without a commit id ({})",
                    other.unwrap_or_else(|| "none".into())
                ),
            )),
        }
    }

    /// Every file of dataset `repo` at `commit`, recursively, following the `Link:
    /// rel="next"` pages of `GET /api/datasets/{repo}/tree/{commit}?recursive=true`.
    pub async fn list_files(&self, repo: &str, commit: &str) -> Result<Vec<RepoFile>, HubError> {
        Self::check_repo(repo)?;
        let mut url = self.http.url(&[
            ("api", false),
            ("datasets", false),
            (repo, true),
            ("tree", false),
            (commit, false),
        ]);
        url.query_pairs_mut().append_pair("recursive", "true");
        let mut files = Vec::new();
        let mut pages = 0;
        loop {
            pages += 1;
            if pages > 10_000 {
                return Err(HubError::unavailable(repo, "the file listing does not end"));
            }
            let response = self.http.get(repo, Kind::Api, &url, None, None).await?;
            if !response.status().is_success() {
                let token_sent = self.http.token_sent(None);
                return Err(self
                    .http
                    .status_error(
                        repo,
                        response,
                        On404::Revision(commit.to_string()),
                        token_sent,
                    )
                    .await);
            }
            let next = response
                .headers()
                .get(LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(next_link)
                .map(str::to_string);
            let entries: Vec<TreeEntry> = response.json().await.map_err(|e| {
                HubError::unavailable(repo, format!("unexpected file listing: {e}"))
            })?;
            files.extend(
                entries
                    .into_iter()
                    .filter(|e| e.kind == "file")
                    .map(|e| RepoFile {
                        path: e.path,
                        size: e.size,
                    }),
            );
            let Some(next) = next else { break };
            let next = self.http.endpoint.join(&next).map_err(|e| {
                HubError::unavailable(repo, format!("invalid next-page link `{next}`: {e}"))
            })?;
            if !same_origin(&self.http.endpoint, &next) {
                return Err(HubError::unavailable(
                    repo,
                    format!("the file listing's next page is off the Hub: {next}"),
                ));
            }
            url = next;
        }
        Ok(files)
    }

    /// The download URL of `path` at `revision`: `{endpoint}/datasets/{repo}/resolve/{revision}/{path}`.
    pub fn file_url(&self, repo: &str, revision: &str, path: &str) -> Url {
        self.http.url(&[
            ("datasets", false),
            (repo, true),
            ("resolve", false),
            (revision, false),
            (path, true),
        ])
    }

    /// The whole of file `path` of dataset `repo` at `commit` (`size`: its size from the
    /// listing, when known), refused as [`HubError::Unreadable`] once it passes `max_bytes`.
    pub async fn read_file(
        &self,
        repo: &str,
        commit: &str,
        path: &str,
        size: Option<u64>,
        max_bytes: u64,
    ) -> Result<Vec<u8>, HubError> {
        Self::check_repo(repo)?;
        let too_large = || {
            HubError::unreadable(
                repo,
                path,
                format!("larger than {}", human_bytes(max_bytes)),
            )
        };
        if size.is_some_and(|s| s > max_bytes) {
            return Err(too_large());
        }
        let source = HttpSource::new(
            self.http.clone(),
            self.file_url(repo, commit, path),
            repo,
            path,
            None,
            size,
        );
        let mut stream = source.stream().await?;
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            bytes.extend_from_slice(&chunk?);
            if bytes.len() as u64 > max_bytes {
                return Err(too_large());
            }
        }
        Ok(bytes)
    }

    async fn small_text(
        &self,
        repo: &str,
        commit: &str,
        path: &str,
        size: u64,
    ) -> Result<String, HubError> {
        let bytes = self
            .read_file(repo, commit, path, Some(size), MAX_CARD_BYTES)
            .await?;
        String::from_utf8(bytes).map_err(|_| HubError::unreadable(repo, path, "not UTF-8 text"))
    }

    /// The data files of `split` of config `config` (the default config when `None`) of
    /// dataset `repo` at `commit`, in reading order, chosen the way the `datasets` library
    /// chooses them: explicit `data_files`, else the dataset card's `configs:`, else the
    /// default split patterns, else the Hub's Parquet conversion (see [`crate::select`]).
    pub async fn select_data_files(
        &self,
        repo: &str,
        commit: &str,
        config: Option<&str>,
        split: &str,
        data_files: Option<&DataFiles>,
    ) -> Result<Vec<DataFile>, HubError> {
        let files = self.list_files(repo, commit).await?;
        let card_size = |name: &str| files.iter().find(|f| f.path == name).map(|f| f.size);
        let readme = match card_size("README.md") {
            Some(size) => Some(self.small_text(repo, commit, "README.md", size).await?),
            None => None,
        };
        let standalone = match card_size(".huggingface.yaml") {
            Some(size) => Some(
                self.small_text(repo, commit, ".huggingface.yaml", size)
                    .await?,
            ),
            None => None,
        };
        match select(
            repo,
            &files,
            readme.as_deref(),
            standalone.as_deref(),
            config,
            split,
            data_files,
        )? {
            Selection::Files { files: picked, .. } => Ok(picked
                .into_iter()
                .map(|(path, format)| {
                    let size = files.iter().find(|f| f.path == path).map(|f| f.size);
                    DataFile {
                        repo: repo.to_string(),
                        revision: commit.to_string(),
                        url: self.file_url(repo, commit, &path).to_string(),
                        path,
                        format,
                        size,
                    }
                })
                .collect()),
            Selection::ParquetExport { config, reason } => {
                tracing::info!(repo, %config, split, %reason, "using the Hub's Parquet conversion");
                self.parquet_export(repo, &config, split).await
            }
        }
    }

    /// The Hub's automatic Parquet conversion of `config`/`split`
    /// (`GET /api/datasets/{repo}/parquet/{config}/{split}`, a list of URLs), as files of
    /// the `refs/convert/parquet` commit.
    pub async fn parquet_export(
        &self,
        repo: &str,
        config: &str,
        split: &str,
    ) -> Result<Vec<DataFile>, HubError> {
        Self::check_repo(repo)?;
        let url = self.http.url(&[
            ("api", false),
            ("datasets", false),
            (repo, true),
            ("parquet", false),
            (config, false),
            (split, false),
        ]);
        let response = self.http.get(repo, Kind::Api, &url, None, None).await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Err(self.missing_in_export(repo, config, split).await);
        }
        if !response.status().is_success() {
            let token_sent = self.http.token_sent(None);
            return Err(self
                .http
                .status_error(repo, response, On404::Repo, token_sent)
                .await);
        }
        let urls: Vec<String> = response
            .json()
            .await
            .map_err(|e| HubError::unavailable(repo, format!("unexpected Parquet listing: {e}")))?;
        if urls.is_empty() {
            return Err(HubError::not_found(repo, Missing::DataFiles));
        }
        let revision = self
            .resolve_revision(repo, Some(PARQUET_REVISION), None)
            .await?;
        urls.into_iter()
            .map(|u| {
                let url = self.http.endpoint.join(&u).map_err(|e| {
                    HubError::unavailable(repo, format!("invalid Parquet file URL `{u}`: {e}"))
                })?;
                if !same_origin(&self.http.endpoint, &url) {
                    return Err(HubError::unavailable(
                        repo,
                        format!("the Parquet listing names a file off the Hub: {url}"),
                    ));
                }
                Ok(DataFile {
                    repo: repo.to_string(),
                    revision: revision.clone(),
                    path: export_path(&url),
                    format: DataFormat::Parquet,
                    size: None,
                    url: url.to_string(),
                })
            })
            .collect()
    }

    /// Why `config`/`split` is not in the Parquet conversion: the configs or splits it has
    /// (`GET /api/datasets/{repo}/parquet`), when the Hub says.
    async fn missing_in_export(&self, repo: &str, config: &str, split: &str) -> HubError {
        let url = self.http.url(&[
            ("api", false),
            ("datasets", false),
            (repo, true),
            ("parquet", false),
        ]);
        let listing = match self.http.get(repo, Kind::Api, &url, None, None).await {
            Ok(r) if r.status().is_success() => r
                .json::<serde_json::Map<String, serde_json::Value>>()
                .await
                .ok(),
            Ok(r) => {
                let token_sent = self.http.token_sent(None);
                let err = self
                    .http
                    .status_error(repo, r, On404::Repo, token_sent)
                    .await;
                if matches!(err, HubError::NotFound { .. }) {
                    // No conversion at all.
                    return HubError::not_found(repo, Missing::DataFiles);
                }
                return err;
            }
            Err(e) => return e,
        };
        let Some(listing) = listing else {
            return HubError::not_found(repo, Missing::DataFiles);
        };
        match listing.get(config) {
            None => HubError::NotFound {
                repo: repo.to_string(),
                missing: Missing::Config(config.to_string()),
                available: listing.keys().cloned().collect(),
            },
            Some(splits) => HubError::NotFound {
                repo: repo.to_string(),
                missing: Missing::Split(split.to_string()),
                available: splits
                    .as_object()
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default(),
            },
        }
    }

    /// An [`HttpSource`] for `file` (range requests and streamed downloads of its URL).
    pub fn source(&self, file: &DataFile) -> Result<HttpSource, HubError> {
        let url = Url::parse(&file.url).map_err(|e| {
            HubError::unreadable(&file.repo, &file.path, format!("invalid URL: {e}"))
        })?;
        if !same_origin(&self.http.endpoint, &url) {
            return Err(HubError::unreadable(
                &file.repo,
                &file.path,
                "the file's URL is not on the configured Hub",
            ));
        }
        Ok(HttpSource::new(
            self.http.clone(),
            url,
            &file.repo,
            &file.path,
            None,
            file.size,
        ))
    }

    /// The rows of `file`, read from the Hub, at most `max_rows` (see [`crate::open_rows`]).
    pub fn open_rows(&self, file: &DataFile, max_rows: Option<usize>) -> RowStream {
        match self.source(file) {
            Ok(source) => open_rows(source, file.format, max_rows),
            Err(e) => futures::stream::iter([Err(e)]).boxed(),
        }
    }

    /// The rows of `files` one after the other, at most `max_rows` in all; files after the
    /// limit is reached are not touched.
    pub fn open_split_rows(&self, files: &[DataFile], max_rows: Option<usize>) -> RowStream {
        let client = self.clone();
        let files = files.to_vec();
        let rows = futures::stream::iter(files)
            .flat_map(move |file| client.open_rows(&file, max_rows))
            .boxed();
        match max_rows {
            Some(n) => rows.take(n).boxed(),
            None => rows,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers() {
        assert_eq!(
            next_link(
                r#"<https://huggingface.co/api/datasets/a/b/tree/main?recursive=true&cursor=xyz>; rel="next""#
            ),
            Some("https://huggingface.co/api/datasets/a/b/tree/main?recursive=true&cursor=xyz")
        );
        assert_eq!(next_link(r#"<a>; rel="prev", <b>; rel="next""#), Some("b"));
        assert_eq!(next_link(r#"<a>; rel="prev""#), None);
        assert_eq!(next_link(""), None);
    }

    #[test]
    fn repo_ids_and_commits() {
        assert!(valid_repo_id("facebook/belebele"));
        assert!(valid_repo_id("squad"));
        assert!(!valid_repo_id("a/b/c"));
        assert!(!valid_repo_id("../x"));
        assert!(!valid_repo_id("a/"));
        assert!(!valid_repo_id("a b/c"));
        assert!(is_commit("0123456789abcdef0123456789abcdef01234567"));
        assert!(!is_commit("main"));
        assert!(!is_commit("0123456789ABCDEF0123456789abcdef01234567"));
    }

    #[test]
    fn export_paths() {
        let u =
            Url::parse("https://huggingface.co/api/datasets/o/r/parquet/default/train/0.parquet")
                .unwrap();
        assert_eq!(export_path(&u), "default/train/0.parquet");
        let u = Url::parse("https://huggingface.co/datasets/o/r/resolve/refs%2Fconvert%2Fparquet/default/train/0000.parquet").unwrap();
        assert_eq!(export_path(&u), "default/train/0000.parquet");
        assert_eq!(percent_decode("a%20b%2"), "a b%2");
    }
}
