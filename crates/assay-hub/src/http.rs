//! The HTTP layer shared by [`crate::HubClient`] and [`crate::HttpSource`]: two reqwest
//! clients (API calls never follow redirects; file downloads follow the Hub's own redirects
//! to its CDN and nothing else), bounded timeouts, and retries with backoff on network
//! errors, 5xx and 429.

use std::time::Duration;

use reqwest::header::{HeaderMap, AUTHORIZATION, RETRY_AFTER};
use reqwest::{Method, Response, StatusCode};
use url::Url;

use crate::error::{HubError, Missing};

/// How often and how patiently requests are retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// Wait before the second attempt; doubled for each further one.
    pub base_delay: Duration,
    /// Longest wait between two attempts (also caps a `Retry-After`).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        retry_after.unwrap_or(exp).min(self.max_delay)
    }
}

/// Timeouts and retries of a [`crate::HubClient`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// Retries of failed requests.
    pub retry: RetryPolicy,
    /// Time to establish a connection.
    pub connect_timeout: Duration,
    /// Whole-request limit for API calls (revision, tree, Parquet listing).
    pub api_timeout: Duration,
    /// Longest silence while reading a file download (downloads have no overall limit).
    pub read_timeout: Duration,
    /// Most redirects followed for one download.
    pub max_redirects: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(10),
            api_timeout: Duration::from_secs(60),
            read_timeout: Duration::from_secs(60),
            max_redirects: 5,
        }
    }
}

/// Which kind of request: API calls never follow redirects, downloads may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Api,
    Download,
}

/// What a 404 means for a request.
#[derive(Debug, Clone)]
pub(crate) enum On404 {
    Repo,
    Revision(String),
    File(String),
}

#[derive(Debug)]
pub(crate) struct Http {
    pub endpoint: Url,
    pub token: Option<String>,
    api: reqwest::Client,
    download: reqwest::Client,
    retry: RetryPolicy,
}

/// Whether a redirect from the Hub may go to `target`: the endpoint's own origin, a host
/// under the endpoint's host, or (over HTTPS) the Hub's CDN hosts under `hf.co` and
/// `huggingface.co`.
pub(crate) fn redirect_allowed(endpoint: &Url, target: &Url) -> bool {
    if same_origin(endpoint, target) {
        return true;
    }
    let Some(host) = target.host_str() else {
        return false;
    };
    let host = host.to_ascii_lowercase();
    let under = |domain: &str| host == domain || host.ends_with(&format!(".{domain}"));
    let endpoint_host = endpoint.host_str().unwrap_or_default().to_ascii_lowercase();
    let https = target.scheme() == "https";
    (https || target.scheme() == endpoint.scheme())
        && !endpoint_host.is_empty()
        && host.ends_with(&format!(".{endpoint_host}"))
        || https && (under("hf.co") || under("huggingface.co"))
}

pub(crate) fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str().map(str::to_ascii_lowercase) == b.host_str().map(str::to_ascii_lowercase)
        && a.port_or_known_default() == b.port_or_known_default()
}

impl Http {
    pub(crate) fn new(
        endpoint: &str,
        token: Option<String>,
        options: &ClientOptions,
    ) -> Result<Self, HubError> {
        let endpoint = Url::parse(endpoint.trim_end_matches('/')).map_err(|e| {
            HubError::unavailable(
                "",
                format!("invalid Hugging Face endpoint `{endpoint}`: {e}"),
            )
        })?;
        if !matches!(endpoint.scheme(), "http" | "https") {
            return Err(HubError::unavailable(
                "",
                format!("invalid Hugging Face endpoint `{endpoint}`: not http(s)"),
            ));
        }
        let agent = concat!("assay-hub/", env!("CARGO_PKG_VERSION"));
        let api = reqwest::Client::builder()
            .user_agent(agent)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(options.connect_timeout)
            .timeout(options.api_timeout)
            .build()
            .map_err(|e| HubError::unavailable("", format!("HTTP client: {e}")))?;
        let allowed_from = endpoint.clone();
        let max_redirects = options.max_redirects;
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > max_redirects {
                attempt.error("too many redirects")
            } else if redirect_allowed(&allowed_from, attempt.url()) {
                attempt.follow()
            } else {
                let to = attempt.url().to_string();
                attempt.error(format!("refused a redirect off the Hub to {to}"))
            }
        });
        let download = reqwest::Client::builder()
            .user_agent(agent)
            .redirect(policy)
            .connect_timeout(options.connect_timeout)
            .read_timeout(options.read_timeout)
            .build()
            .map_err(|e| HubError::unavailable("", format!("HTTP client: {e}")))?;
        Ok(Http {
            endpoint,
            token: token.filter(|t| !t.is_empty()),
            api,
            download,
            retry: options.retry.clone(),
        })
    }

    /// `{endpoint}/{segments…}` with each segment percent-encoded (a segment may contain
    /// `/`, which is kept as a separator only where `keep_slashes` is true).
    pub(crate) fn url(&self, segments: &[(&str, bool)]) -> Url {
        let mut url = self.endpoint.clone();
        {
            // An http(s) URL always has path segments.
            if let Ok(mut path) = url.path_segments_mut() {
                path.pop_if_empty();
                for (segment, keep_slashes) in segments {
                    if *keep_slashes {
                        for part in segment.split('/') {
                            path.push(part);
                        }
                    } else {
                        path.push(segment);
                    }
                }
            }
        }
        url
    }

    /// Sends a GET (with the token, the optional `Range`), retrying network errors, 5xx and
    /// 429. Any other status is returned as it came.
    pub(crate) async fn get(
        &self,
        repo: &str,
        kind: Kind,
        url: &Url,
        range: Option<&str>,
        token: Option<&str>,
    ) -> Result<Response, HubError> {
        let client = match kind {
            Kind::Api => &self.api,
            Kind::Download => &self.download,
        };
        let token = token.or(self.token.as_deref());
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = client.request(Method::GET, url.clone());
            if let Some(token) = token {
                request = request.header(AUTHORIZATION, format!("Bearer {token}"));
            }
            if let Some(range) = range {
                request = request.header(reqwest::header::RANGE, range);
            }
            let (reason, retry_after) = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    if !(status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS) {
                        return Ok(response);
                    }
                    let retry_after = retry_after(response.headers());
                    (format!("HTTP {status} from {}", redact(url)), retry_after)
                }
                Err(e) => (describe(&e, url), None),
            };
            if attempt >= self.retry.max_attempts.max(1) {
                return Err(HubError::unavailable(
                    repo,
                    format!("{reason} (after {attempt} attempts)"),
                ));
            }
            let delay = self.retry.delay(attempt, retry_after);
            tracing::debug!(repo, %reason, ?delay, "retrying a Hub request");
            tokio::time::sleep(delay).await;
        }
    }

    /// The error for a response that is not a success.
    pub(crate) async fn status_error(
        &self,
        repo: &str,
        response: Response,
        on_404: On404,
        token_sent: bool,
    ) -> HubError {
        let status = response.status();
        let code = response
            .headers()
            .get("x-error-code")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = response.text().await.unwrap_or_default();
        match status {
            StatusCode::UNAUTHORIZED => HubError::Unauthorized {
                repo: repo.to_string(),
                token_sent,
            },
            StatusCode::FORBIDDEN => HubError::Forbidden {
                repo: repo.to_string(),
            },
            StatusCode::NOT_FOUND => {
                let missing = match (code.as_str(), on_404) {
                    ("RepoNotFound", _) => Missing::Repo,
                    ("RevisionNotFound", On404::Revision(r)) => Missing::Revision(r),
                    ("EntryNotFound", On404::File(f)) => Missing::File(f),
                    (_, On404::Repo) => Missing::Repo,
                    (_, On404::Revision(r)) => Missing::Revision(r),
                    (_, On404::File(f)) => Missing::File(f),
                };
                HubError::not_found(repo, missing)
            }
            _ => {
                let snippet: String = body.chars().take(200).collect();
                HubError::unavailable(
                    repo,
                    format!("unexpected HTTP {status}: {}", snippet.trim()),
                )
            }
        }
    }

    pub(crate) fn token_sent(&self, token: Option<&str>) -> bool {
        token.or(self.token.as_deref()).is_some()
    }
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// A URL without its query (which may hold signed CDN parameters).
pub(crate) fn redact(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.to_string()
}

pub(crate) fn describe(e: &reqwest::Error, url: &Url) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_redirect() {
        "bad redirect"
    } else {
        "request failed"
    };
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail = format!("{detail}: {s}");
        source = s.source();
    }
    // reqwest includes the URL (with its query) in its message; keep it short.
    if let Some(q) = url.query() {
        detail = detail.replace(q, "…");
    }
    format!("{what}: {detail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_stay_on_the_hub() {
        let hub = Url::parse("https://huggingface.co").unwrap();
        let ok = |u: &str| redirect_allowed(&hub, &Url::parse(u).unwrap());
        assert!(ok("https://huggingface.co/datasets/x/resolve/abc/a"));
        assert!(ok("https://cdn-lfs.hf.co/repos/x"));
        assert!(ok("https://cas-bridge.xethub.hf.co/x"));
        assert!(ok("https://cdn-lfs.huggingface.co/x"));
        assert!(!ok("http://cdn-lfs.hf.co/x"));
        assert!(!ok("https://evil.example/x"));
        assert!(!ok("https://hf.co.evil.example/x"));
        assert!(!ok("http://127.0.0.1/x"));
        let local = Url::parse("http://127.0.0.1:8080").unwrap();
        assert!(redirect_allowed(
            &local,
            &Url::parse("http://127.0.0.1:8080/cdn/x").unwrap()
        ));
        assert!(!redirect_allowed(
            &local,
            &Url::parse("http://127.0.0.1:9090/x").unwrap()
        ));
        let mirror = Url::parse("https://hub.example.org").unwrap();
        assert!(redirect_allowed(
            &mirror,
            &Url::parse("https://cdn.hub.example.org/x").unwrap()
        ));
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
        };
        assert_eq!(p.delay(1, None), Duration::from_millis(100));
        assert_eq!(p.delay(2, None), Duration::from_millis(200));
        assert_eq!(p.delay(3, None), Duration::from_millis(350));
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(60))),
            Duration::from_millis(350)
        );
    }

    #[test]
    fn urls_encode_revisions_but_keep_repo_slashes() {
        let http = Http::new("https://huggingface.co/", None, &ClientOptions::default()).unwrap();
        let url = http.url(&[
            ("api", false),
            ("datasets", false),
            ("org/name", true),
            ("revision", false),
            ("refs/convert/parquet", false),
        ]);
        assert_eq!(
            url.as_str(),
            "https://huggingface.co/api/datasets/org/name/revision/refs%2Fconvert%2Fparquet"
        );
    }
}
