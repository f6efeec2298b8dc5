//! The error taxonomy of model calls.

use std::fmt;
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Why a model call failed. Serialized in snake_case (`rate_limited`, `server_error`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// HTTP 429 (retried, honouring `Retry-After`).
    RateLimited,
    /// HTTP 5xx or 409, or a provider-reported failure (retried).
    ServerError,
    /// An attempt exceeded its timeout, or HTTP 408 (retried).
    Timeout,
    /// The connection failed or broke (retried).
    Connection,
    /// The prompt does not fit the model's context window.
    ContextLength,
    /// The provider withheld the answer (content filter / policy).
    ContentFilter,
    /// The model answered with empty text after every allowed empty retry.
    EmptyOutput,
    /// Any other 4xx, or a request the gateway cannot build (e.g. an unknown model).
    BadRequest,
    /// HTTP 401/403, or the configured API key variable is unset.
    Authentication,
    /// The caller cancelled the call.
    Cancelled,
    /// A 2xx response the gateway could not understand.
    InvalidResponse,
}

impl ErrorKind {
    /// The snake_case name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::ServerError => "server_error",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connection => "connection",
            ErrorKind::ContextLength => "context_length",
            ErrorKind::ContentFilter => "content_filter",
            ErrorKind::EmptyOutput => "empty_output",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::Authentication => "authentication",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::InvalidResponse => "invalid_response",
        }
    }

    /// Whether failures of this kind are retried by default.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::RateLimited
                | ErrorKind::ServerError
                | ErrorKind::Timeout
                | ErrorKind::Connection
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed model call, after retries. Serializes to the sample's `error` object:
/// `{"type": kind, "message": …, "status": 429 | null, "attempts": n}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct CallError {
    /// What went wrong.
    #[serde(rename = "type")]
    pub kind: ErrorKind,
    /// Human-readable detail (the provider's message when it sent one).
    pub message: String,
    /// The last HTTP status, when the failure was an HTTP response.
    pub status: Option<u16>,
    /// Attempts made (requests sent), including the failed last one.
    pub attempts: u32,
}

impl CallError {
    /// A new error with no status.
    pub fn new(kind: ErrorKind, message: impl Into<String>, attempts: u32) -> Self {
        Self {
            kind,
            message: message.into(),
            status: None,
            attempts,
        }
    }

    /// The `error` object stored on a sample.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// One failed attempt, as reported by a [`ModelBackend`](crate::ModelBackend).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptError {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Detail.
    pub message: String,
    /// HTTP status, if any.
    pub status: Option<u16>,
    /// How long the provider asked us to wait (`Retry-After` / `retry-after-ms`).
    pub retry_after: Option<Duration>,
    /// Whether another attempt may succeed (defaults to [`ErrorKind::is_retryable`]).
    pub retryable: bool,
}

impl AttemptError {
    /// An error of `kind`, retryable as the kind says.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            status: None,
            retry_after: None,
            retryable: kind.is_retryable(),
        }
    }

    /// The error after `attempts` attempts, for the caller.
    pub fn into_call(self, attempts: u32) -> CallError {
        CallError {
            kind: self.kind,
            message: self.message,
            status: self.status,
            attempts,
        }
    }

    /// Classifies a non-2xx HTTP response.
    ///
    /// `context_length_exceeded` (by code or by a "maximum context length" message) →
    /// `context_length`; content-policy codes → `content_filter`; 401/403 → `authentication`;
    /// 408 → `timeout`; 429 → `rate_limited` (not retried when the code is
    /// `insufficient_quota`); 409 and 5xx → `server_error`; any other status → `bad_request`.
    pub fn from_http(status: u16, headers: &HeaderMap, body: &str) -> Self {
        let parsed: Option<Value> = serde_json::from_str(body).ok();
        let err = parsed.as_ref().and_then(|v| v.get("error"));
        let field = |k: &str| {
            err.and_then(|e| e.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let code = field("code").unwrap_or_default();
        let message = field("message")
            .or_else(|| err.and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| {
                let text: String = body.chars().take(500).collect();
                if text.trim().is_empty() {
                    format!("HTTP {status}")
                } else {
                    text
                }
            });
        let lower = message.to_ascii_lowercase();
        let kind = if code == "context_length_exceeded"
            || lower.contains("maximum context length")
            || lower.contains("context length exceeded")
            || lower.contains("context_length_exceeded")
        {
            ErrorKind::ContextLength
        } else if code == "content_filter" || code == "content_policy_violation" {
            ErrorKind::ContentFilter
        } else {
            match status {
                401 | 403 => ErrorKind::Authentication,
                408 => ErrorKind::Timeout,
                429 => ErrorKind::RateLimited,
                409 | 500..=599 => ErrorKind::ServerError,
                _ => ErrorKind::BadRequest,
            }
        };
        let mut e = AttemptError::new(kind, message);
        e.status = Some(status);
        e.retry_after = parse_retry_after(headers, SystemTime::now());
        if kind == ErrorKind::RateLimited && code == "insufficient_quota" {
            e.retryable = false;
        }
        e
    }
}

impl fmt::Display for AttemptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

/// The wait a response asks for: `retry-after-ms` (milliseconds), else `Retry-After` as
/// delta-seconds (fractions accepted) or an HTTP date (relative to `now`; a past date means
/// no wait).
pub fn parse_retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        if ms.is_finite() && ms >= 0.0 {
            return Some(Duration::from_secs_f64(ms / 1000.0));
        }
    }
    let value = header("retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;
    use serde_json::json;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            parse_retry_after(&headers(&[("retry-after", "3")]), now),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            parse_retry_after(&headers(&[("retry-after", "0.5")]), now),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            parse_retry_after(
                &headers(&[("retry-after", "3"), ("retry-after-ms", "250")]),
                now
            ),
            Some(Duration::from_millis(250))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(7));
        assert_eq!(
            parse_retry_after(&headers(&[("retry-after", &date)]), now),
            Some(Duration::from_secs(7))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(7));
        assert_eq!(
            parse_retry_after(&headers(&[("retry-after", &past)]), now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after(&headers(&[("retry-after", "soon")]), now),
            None
        );
        assert_eq!(parse_retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn http_classification() {
        let h = HeaderMap::new();
        let body =
            |code: &str, msg: &str| json!({"error": {"code": code, "message": msg}}).to_string();
        let k = |s, b: &str| AttemptError::from_http(s, &h, b);
        assert_eq!(
            k(400, &body("context_length_exceeded", "too long")).kind,
            ErrorKind::ContextLength
        );
        assert_eq!(
            k(
                400,
                &body("", "This model's maximum context length is 4096 tokens")
            )
            .kind,
            ErrorKind::ContextLength
        );
        assert_eq!(
            k(400, &body("content_filter", "no")).kind,
            ErrorKind::ContentFilter
        );
        assert_eq!(k(400, "bad").kind, ErrorKind::BadRequest);
        assert_eq!(k(404, "").message, "HTTP 404");
        assert_eq!(k(401, "").kind, ErrorKind::Authentication);
        let e = k(408, "");
        assert!(e.kind == ErrorKind::Timeout && e.retryable);
        let e = k(409, "");
        assert!(e.kind == ErrorKind::ServerError && e.retryable);
        let e = k(429, &body("rate_limit_exceeded", "slow down"));
        assert!(e.kind == ErrorKind::RateLimited && e.retryable && e.message == "slow down");
        assert!(!k(429, &body("insufficient_quota", "pay")).retryable);
        let e = k(503, "upstream down");
        assert!(e.kind == ErrorKind::ServerError && e.retryable && e.status == Some(503));
        assert!(!k(422, "").retryable);
    }

    #[test]
    fn call_error_json_shape() {
        let mut e = CallError::new(ErrorKind::RateLimited, "slow down", 3);
        e.status = Some(429);
        assert_eq!(
            e.to_json(),
            json!({"type": "rate_limited", "message": "slow down", "status": 429, "attempts": 3})
        );
        let e = CallError::new(ErrorKind::Timeout, "t", 1);
        assert_eq!(e.to_json()["status"], Value::Null);
        assert_eq!(e.to_string(), "timeout: t");
    }
}
