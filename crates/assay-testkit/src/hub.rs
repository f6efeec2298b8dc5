//! A fake Hugging Face Hub for dataset reading tests: repositories built in the test from
//! files at given paths, served over the Hub's HTTP API on `127.0.0.1`.
//!
//! Served (repository ids are `name` or `owner/name`; revisions are percent-encoded in the
//! path, as the Hub expects, so `refs%2Fconvert%2Fparquet` is a branch name):
//!
//! - `GET /api/datasets/{repo}/revision/{revision}` → `{"id", "sha", "siblings"}` for a branch
//!   or a 40-hex commit;
//! - `GET /api/datasets/{repo}/tree/{revision}?recursive=true` → files and directories, at
//!   most [`FakeHubOptions::page_size`] per page, further pages linked with
//!   `Link: <…&cursor=N>; rel="next"`;
//! - `GET /datasets/{repo}/resolve/{revision}/{path}` → the file, with single `Range`
//!   requests answered `206`; files larger than [`FakeHubOptions::cdn_threshold`] answer
//!   `302` to a second "CDN" path on the same server (`/_cdn/…`), which serves them;
//! - `GET /api/datasets/{repo}/parquet` and `…/parquet/{config}/{split}` → the Parquet
//!   conversion (files on branch `refs/convert/parquet` at `{config}/{split}/NNNN.parquet`)
//!   as URLs `…/parquet/{config}/{split}/{n}.parquet`, which answer `302` to the file;
//! - private repositories answer `401` without `Authorization: Bearer <token>`, gated ones
//!   `401` without a token and `403` with another; a missing repository, revision or file
//!   is a `404` with the Hub's `X-Error-Code` (`RepoNotFound`, `RevisionNotFound`,
//!   `EntryNotFound`).
//!
//! Every request is logged with its path, `Range` header, status and the body bytes
//! actually sent ([`FakeHub::requests`]), so tests can assert what was downloaded. Bodies go
//! out in [`FakeHubOptions::chunk_size`] pieces with an optional pause between them, so a
//! client that stops reading early is seen to have stopped.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use bytes::Bytes;
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The branch the Parquet conversion lives on.
pub const PARQUET_BRANCH: &str = "refs/convert/parquet";

/// Behaviour of a [`FakeHub`].
#[derive(Debug, Clone)]
pub struct FakeHubOptions {
    /// Address to listen on; default `127.0.0.1:0` (a free port).
    pub bind: SocketAddr,
    /// Most entries per page of a tree listing.
    pub page_size: usize,
    /// Files larger than this (bytes) are redirected to the "CDN" path.
    pub cdn_threshold: u64,
    /// Size of the pieces response bodies are sent in.
    pub chunk_size: usize,
    /// Pause between two pieces of a body.
    pub chunk_delay: Duration,
    /// Base URL the CDN redirects point at; default this server itself (another origin
    /// shows whether a client refuses to follow redirects off the Hub).
    pub cdn_base: Option<String>,
}

impl Default for FakeHubOptions {
    fn default() -> Self {
        FakeHubOptions {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            page_size: 1000,
            cdn_threshold: 256 * 1024,
            chunk_size: 16 * 1024,
            chunk_delay: Duration::ZERO,
            cdn_base: None,
        }
    }
}

/// Who may read a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Anyone.
    Public,
    /// Only requests with this bearer token; others get `401`.
    Private(String),
    /// Only requests with this bearer token; no token gets `401`, another token `403`.
    Gated(String),
}

/// One logged request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubRequest {
    /// Arrival order, from 1.
    pub seq: u64,
    /// The HTTP method.
    pub method: String,
    /// The path as received (percent-encoded), without the query.
    pub path: String,
    /// The query string, if any.
    pub query: Option<String>,
    /// The `Range` header, if any.
    pub range: Option<String>,
    /// Whether an `Authorization` header was sent.
    pub authorized: bool,
    /// The status answered.
    pub status: u16,
    /// Body bytes sent so far (a body the client stopped reading stops counting).
    pub bytes: u64,
}

#[derive(Default)]
struct Repo {
    access: Option<Access>,
    branches: BTreeMap<String, String>,
    commits: HashMap<String, Arc<BTreeMap<String, Bytes>>>,
}

struct LogEntry {
    seq: u64,
    method: String,
    path: String,
    query: Option<String>,
    range: Option<String>,
    authorized: bool,
    status: u16,
    bytes: Arc<AtomicU64>,
}

struct Shared {
    options: FakeHubOptions,
    base: String,
    repos: Mutex<BTreeMap<String, Repo>>,
    log: Mutex<Vec<LogEntry>>,
    commits_made: AtomicU64,
    /// Statuses to answer the next requests with, before any routing.
    faults: Mutex<Vec<(u16, Option<u64>)>>,
}

impl Shared {
    fn repos(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Repo>> {
        self.repos.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The fake Hub. Dropping it stops the server.
pub struct FakeHub {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl FakeHub {
    /// Binds `options.bind` and serves on a background task of the current tokio runtime.
    pub async fn start(options: FakeHubOptions) -> std::io::Result<FakeHub> {
        let listener = tokio::net::TcpListener::bind(options.bind).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            options,
            base: format!("http://{addr}"),
            repos: Mutex::new(BTreeMap::new()),
            log: Mutex::new(Vec::new()),
            commits_made: AtomicU64::new(0),
            faults: Mutex::new(Vec::new()),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(FakeHub {
            addr,
            shared,
            shutdown: Some(tx),
            task,
        })
    }

    /// `http://127.0.0.1:PORT`, the endpoint to configure a client with.
    pub fn url(&self) -> String {
        self.shared.base.clone()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Makes a commit on `branch` of `repo` (created if needed) holding exactly `files`
    /// (path → bytes), and returns its 40-hex id.
    pub fn commit<P, B>(
        &self,
        repo: &str,
        branch: &str,
        files: impl IntoIterator<Item = (P, B)>,
    ) -> String
    where
        P: Into<String>,
        B: Into<Bytes>,
    {
        let files: BTreeMap<String, Bytes> = files
            .into_iter()
            .map(|(p, b)| (p.into(), b.into()))
            .collect();
        let n = self.shared.commits_made.fetch_add(1, Ordering::SeqCst);
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (repo, branch, n).hash(&mut hasher);
        let h = hasher.finish();
        let sha = format!("{h:016x}{:016x}{n:08x}", h.rotate_left(17) ^ 0x5bd1_e995);
        let mut repos = self.shared.repos();
        let entry = repos.entry(repo.to_string()).or_default();
        entry.commits.insert(sha.clone(), Arc::new(files));
        entry.branches.insert(branch.to_string(), sha.clone());
        sha
    }

    /// Adds `parquet_files` as the Parquet conversion of `config`/`split` (a new commit on
    /// `refs/convert/parquet` keeping the other configs' and splits' files), returning the
    /// commit.
    pub fn add_parquet_export(
        &self,
        repo: &str,
        config: &str,
        split: &str,
        parquet_files: Vec<Bytes>,
    ) -> String {
        let mut files: BTreeMap<String, Bytes> = {
            let repos = self.shared.repos();
            repos
                .get(repo)
                .and_then(|r| {
                    let sha = r.branches.get(PARQUET_BRANCH)?;
                    r.commits.get(sha).map(|f| (**f).clone())
                })
                .unwrap_or_default()
        };
        let prefix = format!("{config}/{split}/");
        files.retain(|p, _| !p.starts_with(&prefix));
        for (i, bytes) in parquet_files.into_iter().enumerate() {
            files.insert(format!("{prefix}{i:04}.parquet"), bytes);
        }
        self.commit(repo, PARQUET_BRANCH, files)
    }

    /// Sets who may read `repo`.
    pub fn set_access(&self, repo: &str, access: Access) {
        self.shared
            .repos()
            .entry(repo.to_string())
            .or_default()
            .access = Some(access);
    }

    /// Answers the next `times` requests with `status` (and `Retry-After` when given),
    /// whatever they ask.
    pub fn fail_next(&self, times: usize, status: u16, retry_after: Option<u64>) {
        let mut faults = self.shared.faults.lock().unwrap_or_else(|e| e.into_inner());
        for _ in 0..times {
            faults.push((status, retry_after));
        }
    }

    /// The requests received so far, in order.
    pub fn requests(&self) -> Vec<HubRequest> {
        let log = self.shared.log.lock().unwrap_or_else(|e| e.into_inner());
        log.iter()
            .map(|e| HubRequest {
                seq: e.seq,
                method: e.method.clone(),
                path: e.path.clone(),
                query: e.query.clone(),
                range: e.range.clone(),
                authorized: e.authorized,
                status: e.status,
                bytes: e.bytes.load(Ordering::SeqCst),
            })
            .collect()
    }

    /// Body bytes sent for paths containing `needle` (e.g. a file name).
    pub fn bytes_served(&self, needle: &str) -> u64 {
        self.requests()
            .iter()
            .filter(|r| r.path.contains(needle))
            .map(|r| r.bytes)
            .sum()
    }

    /// Forgets the logged requests.
    pub fn reset_log(&self) {
        self.shared
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Stops the server and waits for its task to end.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for FakeHub {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.abort();
    }
}

/// A response before logging: status, headers and a body to send in pieces.
struct Answer {
    status: StatusCode,
    headers: Vec<(header::HeaderName, String)>,
    body: Bytes,
}

impl Answer {
    fn new(status: StatusCode, body: impl Into<Bytes>) -> Self {
        Answer {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    fn json(value: Value) -> Self {
        Answer::new(StatusCode::OK, value.to_string())
            .header(header::CONTENT_TYPE, "application/json")
    }

    fn error(status: StatusCode, code: &str, message: &str) -> Self {
        let mut a = Answer::new(status, json!({ "error": message }).to_string())
            .header(header::CONTENT_TYPE, "application/json");
        if !code.is_empty() {
            a = a.header(header::HeaderName::from_static("x-error-code"), code);
        }
        a
    }

    fn redirect(to: &str) -> Self {
        Answer::new(StatusCode::FOUND, Bytes::new()).header(header::LOCATION, to)
    }

    fn header(mut self, name: header::HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

fn decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Some(v) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
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

fn encode(segment: &str) -> String {
    let mut out = String::new();
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn encode_path(path: &str) -> String {
    path.split('/').map(encode).collect::<Vec<_>>().join("/")
}

/// Splits `segments` at the first `keyword` into (repo, rest).
fn split_repo<'a>(segments: &'a [&'a str], keyword: &str) -> Option<(String, &'a [&'a str])> {
    let i = segments.iter().position(|s| *s == keyword)?;
    if i == 0 || i > 2 {
        return None;
    }
    Some((segments[..i].join("/"), &segments[i + 1..]))
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_string)
}

/// Checks access to `repo` and resolves `revision` to (commit, files).
fn lookup(
    shared: &Shared,
    headers: &HeaderMap,
    repo: &str,
    revision: &str,
) -> Result<(String, Arc<BTreeMap<String, Bytes>>), Answer> {
    let repos = shared.repos();
    let Some(r) = repos.get(repo).filter(|r| !r.commits.is_empty()) else {
        return Err(Answer::error(
            StatusCode::NOT_FOUND,
            "RepoNotFound",
            &format!("Repository {repo} not found"),
        ));
    };
    let token = bearer(headers);
    match &r.access {
        None | Some(Access::Public) => {}
        Some(Access::Private(t)) if token.as_deref() == Some(t.as_str()) => {}
        Some(Access::Gated(t)) if token.as_deref() == Some(t.as_str()) => {}
        Some(Access::Gated(_)) if token.is_some() => {
            return Err(Answer::error(
                StatusCode::FORBIDDEN,
                "GatedRepo",
                "Access to this dataset is restricted",
            ))
        }
        Some(_) => {
            return Err(Answer::error(
                StatusCode::UNAUTHORIZED,
                "",
                "Invalid credentials in Authorization header",
            ))
        }
    }
    let sha = r.branches.get(revision).cloned().or_else(|| {
        r.commits
            .contains_key(revision)
            .then(|| revision.to_string())
    });
    match sha.and_then(|s| r.commits.get(&s).map(|f| (s, f.clone()))) {
        Some(found) => Ok(found),
        None => Err(Answer::error(
            StatusCode::NOT_FOUND,
            "RevisionNotFound",
            &format!("Invalid rev id: {revision}"),
        )),
    }
}

/// A single `bytes=` range against a body of `len` bytes: `Ok(None)` without a header,
/// `Err(())` when unsatisfiable.
fn parse_range(value: Option<&str>, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(value) = value else { return Ok(None) };
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().map_err(|_| ())?;
            if n == 0 {
                return Err(());
            }
            (len.saturating_sub(n), len.saturating_sub(1))
        }
        (s, "") => (s.parse().map_err(|_| ())?, len.saturating_sub(1)),
        (s, e) => {
            let e: u64 = e.parse().map_err(|_| ())?;
            (s.parse().map_err(|_| ())?, e.min(len.saturating_sub(1)))
        }
    };
    if len == 0 || start >= len || start > end {
        return Err(());
    }
    Ok(Some((start, end)))
}

fn serve_bytes(data: &Bytes, range: Option<&str>) -> Answer {
    let len = data.len() as u64;
    match parse_range(range, len) {
        Ok(None) => {
            Answer::new(StatusCode::OK, data.clone()).header(header::ACCEPT_RANGES, "bytes")
        }
        Ok(Some((start, end))) => Answer::new(
            StatusCode::PARTIAL_CONTENT,
            data.slice(start as usize..=end as usize),
        )
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}")),
        Err(()) => Answer::new(StatusCode::RANGE_NOT_SATISFIABLE, Bytes::new())
            .header(header::CONTENT_RANGE, format!("bytes */{len}")),
    }
}

fn route(
    shared: &Shared,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Answer {
    if method != Method::GET && method != Method::HEAD {
        return Answer::error(StatusCode::METHOD_NOT_ALLOWED, "", "only GET");
    }
    let raw: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    match raw.as_slice() {
        ["api", "datasets", rest @ ..] => {
            if let Some((repo, tail)) = split_repo(rest, "revision") {
                let [revision] = tail else {
                    return Answer::error(StatusCode::NOT_FOUND, "", "no such route");
                };
                let revision = decode(revision);
                return match lookup(shared, headers, &repo, &revision) {
                    Ok((sha, files)) => Answer::json(json!({
                        "id": repo,
                        "sha": sha,
                        "siblings": files.keys().map(|p| json!({"rfilename": p})).collect::<Vec<_>>(),
                    })),
                    Err(a) => a,
                };
            }
            if let Some((repo, tail)) = split_repo(rest, "tree") {
                let Some(revision) = tail.first() else {
                    return Answer::error(StatusCode::NOT_FOUND, "", "no such route");
                };
                let revision = decode(revision);
                return tree(shared, headers, &repo, &revision, query);
            }
            if let Some((repo, tail)) = split_repo(rest, "parquet") {
                return parquet(shared, headers, &repo, tail);
            }
            Answer::error(StatusCode::NOT_FOUND, "", "no such route")
        }
        ["datasets", rest @ ..] => {
            let Some((repo, tail)) = split_repo(rest, "resolve") else {
                return Answer::error(StatusCode::NOT_FOUND, "", "no such route");
            };
            let [revision, file @ ..] = tail else {
                return Answer::error(StatusCode::NOT_FOUND, "", "no such route");
            };
            let revision = decode(revision);
            let file: Vec<String> = file.iter().map(|s| decode(s)).collect();
            let file = file.join("/");
            let (sha, files) = match lookup(shared, headers, &repo, &revision) {
                Ok(found) => found,
                Err(a) => return a,
            };
            let Some(data) = files.get(&file) else {
                return Answer::error(
                    StatusCode::NOT_FOUND,
                    "EntryNotFound",
                    &format!("{file} does not exist on {revision}"),
                );
            };
            if data.len() as u64 > shared.options.cdn_threshold {
                let cdn = shared.options.cdn_base.as_deref().unwrap_or(&shared.base);
                return Answer::redirect(&format!(
                    "{}/_cdn/{}/{sha}/{}",
                    cdn.trim_end_matches('/'),
                    encode_path(&repo),
                    encode_path(&file)
                ))
                .header(header::HeaderName::from_static("x-repo-commit"), sha);
            }
            serve_bytes(data, range).header(header::HeaderName::from_static("x-repo-commit"), sha)
        }
        ["_cdn", rest @ ..] => {
            // `_cdn/{repo…}/{sha}/{path…}`: the commit is the first 40-hex segment.
            let Some(i) = rest
                .iter()
                .position(|s| s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            else {
                return Answer::error(StatusCode::NOT_FOUND, "", "no such object");
            };
            let repo = rest[..i]
                .iter()
                .map(|s| decode(s))
                .collect::<Vec<_>>()
                .join("/");
            let file = rest[i + 1..]
                .iter()
                .map(|s| decode(s))
                .collect::<Vec<_>>()
                .join("/");
            let repos = shared.repos();
            let data = repos
                .get(&repo)
                .and_then(|r| r.commits.get(rest[i]))
                .and_then(|f| f.get(&file).cloned());
            drop(repos);
            match data {
                Some(data) => serve_bytes(&data, range),
                None => Answer::error(StatusCode::NOT_FOUND, "", "no such object"),
            }
        }
        _ => Answer::error(StatusCode::NOT_FOUND, "", "no such route"),
    }
}

fn tree(
    shared: &Shared,
    headers: &HeaderMap,
    repo: &str,
    revision: &str,
    query: Option<&str>,
) -> Answer {
    let (_, files) = match lookup(shared, headers, repo, revision) {
        Ok(found) => found,
        Err(a) => return a,
    };
    let mut params: HashMap<String, String> = HashMap::new();
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        params.insert(decode(k), decode(v));
    }
    let recursive = params.get("recursive").map(String::as_str) == Some("true");
    // Directories and files, sorted by path.
    let mut entries: BTreeMap<String, Value> = BTreeMap::new();
    for (path, data) in files.iter() {
        let parts: Vec<&str> = path.split('/').collect();
        if !recursive && parts.len() > 1 {
            entries.insert(
                parts[0].to_string(),
                json!({"type": "directory", "oid": "0", "size": 0, "path": parts[0]}),
            );
            continue;
        }
        for depth in 1..parts.len() {
            let dir = parts[..depth].join("/");
            entries.insert(
                dir.clone(),
                json!({"type": "directory", "oid": "0", "size": 0, "path": dir}),
            );
        }
        entries.insert(
            path.clone(),
            json!({"type": "file", "oid": "0", "size": data.len(), "path": path}),
        );
    }
    let start: usize = params
        .get("cursor")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let page_size = shared.options.page_size.max(1);
    let page: Vec<Value> = entries
        .values()
        .skip(start)
        .take(page_size)
        .cloned()
        .collect();
    let mut answer = Answer::json(Value::Array(page));
    if start + page_size < entries.len() {
        let next = format!(
            "{}/api/datasets/{}/tree/{}?recursive={recursive}&cursor={}",
            shared.base,
            encode_path(repo),
            encode(revision),
            start + page_size
        );
        answer = answer.header(header::LINK, format!("<{next}>; rel=\"next\""));
    }
    answer
}

fn parquet(shared: &Shared, headers: &HeaderMap, repo: &str, tail: &[&str]) -> Answer {
    // Access first, as for the repository itself.
    if let Err(a) = lookup(shared, headers, repo, "main").or_else(|e| {
        if e.status == StatusCode::NOT_FOUND {
            lookup(shared, headers, repo, PARQUET_BRANCH)
        } else {
            Err(e)
        }
    }) {
        return a;
    }
    let files = match lookup(shared, headers, repo, PARQUET_BRANCH) {
        Ok((_, files)) => files,
        Err(_) => {
            return Answer::error(
                StatusCode::NOT_FOUND,
                "",
                "No parquet conversion for this dataset",
            )
        }
    };
    // config → split → paths.
    let mut export: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for path in files.keys() {
        let parts: Vec<&str> = path.split('/').collect();
        if let [config, split, _file] = parts.as_slice() {
            export
                .entry(config.to_string())
                .or_default()
                .entry(split.to_string())
                .or_default()
                .push(path.clone());
        }
    }
    let url = |config: &str, split: &str, n: usize| {
        format!(
            "{}/api/datasets/{}/parquet/{}/{}/{n}.parquet",
            shared.base,
            encode_path(repo),
            encode(config),
            encode(split)
        )
    };
    match tail {
        [] => Answer::json(Value::Object(
            export
                .iter()
                .map(|(config, splits)| {
                    let splits = splits
                        .iter()
                        .map(|(split, paths)| {
                            let urls: Vec<Value> = (0..paths.len())
                                .map(|n| Value::String(url(config, split, n)))
                                .collect();
                            (split.clone(), Value::Array(urls))
                        })
                        .collect();
                    (config.clone(), Value::Object(splits))
                })
                .collect(),
        )),
        [config, split] => {
            let (config, split) = (decode(config), decode(split));
            match export.get(&config).and_then(|s| s.get(&split)) {
                Some(paths) => Answer::json(Value::Array(
                    (0..paths.len())
                        .map(|n| Value::String(url(&config, &split, n)))
                        .collect(),
                )),
                None => Answer::error(StatusCode::NOT_FOUND, "", "Not found"),
            }
        }
        [config, split, file] => {
            let (config, split) = (decode(config), decode(split));
            let n: Option<usize> = file.strip_suffix(".parquet").and_then(|n| n.parse().ok());
            match (export.get(&config).and_then(|s| s.get(&split)), n) {
                (Some(paths), Some(n)) if n < paths.len() => Answer::redirect(&format!(
                    "{}/datasets/{}/resolve/{}/{}",
                    shared.base,
                    encode_path(repo),
                    encode(PARQUET_BRANCH),
                    encode_path(&paths[n])
                )),
                _ => Answer::error(StatusCode::NOT_FOUND, "", "Not found"),
            }
        }
        _ => Answer::error(StatusCode::NOT_FOUND, "", "no such route"),
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let query = request.uri().query().map(str::to_string);
    let headers = request.headers().clone();
    let fault = {
        let mut faults = shared.faults.lock().unwrap_or_else(|e| e.into_inner());
        (!faults.is_empty()).then(|| faults.remove(0))
    };
    let answer = match fault {
        Some((status, retry_after)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut a = Answer::error(status, "", "injected failure");
            if let Some(secs) = retry_after {
                a = a.header(header::RETRY_AFTER, secs.to_string());
            }
            a
        }
        None => route(&shared, &method, &path, query.as_deref(), &headers),
    };
    let counter = Arc::new(AtomicU64::new(0));
    {
        let mut log = shared.log.lock().unwrap_or_else(|e| e.into_inner());
        let seq = log.len() as u64 + 1;
        log.push(LogEntry {
            seq,
            method: method.to_string(),
            path,
            query,
            range: headers
                .get(header::RANGE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            authorized: headers.contains_key(header::AUTHORIZATION),
            status: answer.status.as_u16(),
            bytes: counter.clone(),
        });
    }
    let total = answer.body.len();
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        let chunk = shared.options.chunk_size.max(1);
        let delay = shared.options.chunk_delay;
        let data = answer.body;
        Body::from_stream(futures::stream::unfold(0usize, move |offset| {
            let data = data.clone();
            let counter = counter.clone();
            async move {
                if offset >= data.len() {
                    return None;
                }
                if offset > 0 && !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let end = (offset + chunk).min(data.len());
                counter.fetch_add((end - offset) as u64, Ordering::SeqCst);
                Some((Ok::<Bytes, std::io::Error>(data.slice(offset..end)), end))
            }
        }))
    };
    let mut response = (answer.status, body).into_response();
    let h = response.headers_mut();
    for (name, value) in answer.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&total.to_string()) {
        h.insert(header::CONTENT_LENGTH, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 10), Ok(None));
        assert_eq!(parse_range(Some("bytes=0-3"), 10), Ok(Some((0, 3))));
        assert_eq!(parse_range(Some("bytes=5-"), 10), Ok(Some((5, 9))));
        assert_eq!(parse_range(Some("bytes=-4"), 10), Ok(Some((6, 9))));
        assert_eq!(parse_range(Some("bytes=-40"), 10), Ok(Some((0, 9))));
        assert_eq!(parse_range(Some("bytes=8-100"), 10), Ok(Some((8, 9))));
        assert_eq!(parse_range(Some("bytes=10-"), 10), Err(()));
        assert_eq!(parse_range(Some("bytes=0-1,3-4"), 10), Ok(None));
    }

    #[test]
    fn paths() {
        assert_eq!(decode("refs%2Fconvert%2Fparquet"), "refs/convert/parquet");
        assert_eq!(encode("refs/convert/parquet"), "refs%2Fconvert%2Fparquet");
        assert_eq!(encode_path("a b/c.csv"), "a%20b/c.csv");
        let segs = ["org", "ds", "tree", "main"];
        assert_eq!(
            split_repo(&segs, "tree"),
            Some(("org/ds".to_string(), &segs[3..]))
        );
    }
}
