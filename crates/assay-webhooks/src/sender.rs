//! Sending one delivery attempt.

use std::error::Error as StdError;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;
use url::Host;

use crate::policy::parse_target;
use crate::{sign, TargetPolicy, WebhookSecret};

const WEBHOOK_ID: HeaderName = HeaderName::from_static("webhook-id");
const WEBHOOK_TIMESTAMP: HeaderName = HeaderName::from_static("webhook-timestamp");
const WEBHOOK_SIGNATURE: HeaderName = HeaderName::from_static("webhook-signature");

/// One message to send: where, its Standard Webhooks id and timestamp, the JSON body, and
/// the secret to sign it with (unsigned when `None`).
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// The target URL (`http` or `https`).
    pub url: &'a str,
    /// The message id, sent as `webhook-id`; the same on every attempt of one message.
    pub id: &'a str,
    /// Seconds since the Unix epoch, sent as `webhook-timestamp` and signed. Give the time of
    /// the attempt, not of the message's creation: receivers using the Standard Webhooks
    /// libraries refuse timestamps more than five minutes from their clock, so a retry sent
    /// later with the first attempt's timestamp would fail verification.
    pub timestamp: i64,
    /// The JSON body, sent and signed byte for byte.
    pub body: &'a [u8],
    /// The signing secret; without one no `webhook-signature` header is sent.
    pub secret: Option<&'a WebhookSecret>,
}

/// What one delivery attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver answered with a 2xx status.
    Delivered {
        /// The HTTP status the receiver answered with.
        status: u16,
    },
    /// Worth trying again later (timeout, connection error, 5xx, 408, 429 — with the
    /// Retry-After seconds if the receiver sent one).
    Retry {
        /// What went wrong, for the delivery log (never contains the URL).
        reason: String,
        /// How long the receiver asked the sender to wait (`Retry-After`), when it did.
        retry_after: Option<Duration>,
    },
    /// Never worth retrying (other 4xx, 3xx since redirects are not followed, a target the
    /// policy refuses).
    Rejected {
        /// Why, for the delivery log (never contains the URL).
        reason: String,
    },
}

/// How a [`Sender`] sends.
#[derive(Debug, Clone)]
pub struct SenderConfig {
    /// The bound on a whole attempt: connecting, sending, and reading the response status.
    pub timeout: Duration,
    /// Which addresses deliveries may reach.
    pub policy: TargetPolicy,
    /// The `user-agent` header of every delivery.
    pub user_agent: String,
}

/// Sends delivery attempts; cheap to clone (the clones share one HTTP client and its
/// connection pool).
#[derive(Debug, Clone)]
pub struct Sender {
    client: reqwest::Client,
    policy: Arc<TargetPolicy>,
    timeout: Duration,
}

impl Sender {
    /// A sender with its own HTTP client. Errors on a zero timeout, a user agent that is not
    /// a valid header value, or a client that cannot be built.
    ///
    /// The client follows no redirects, uses no proxy (a proxy would resolve the target
    /// itself, past the policy), and resolves host names through a resolver that drops every
    /// address the policy refuses.
    pub fn new(config: SenderConfig) -> Result<Self, String> {
        if config.timeout.is_zero() {
            return Err("the webhook timeout must be longer than zero".to_string());
        }
        let user_agent = HeaderValue::from_str(&config.user_agent)
            .map_err(|_| "the webhook user agent is not a valid header value".to_string())?;
        let policy = Arc::new(config.policy);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .referer(false)
            .dns_resolver(Arc::new(PolicyResolver {
                policy: Arc::clone(&policy),
            }))
            .connect_timeout(config.timeout)
            .timeout(config.timeout)
            .user_agent(user_agent)
            .build()
            .map_err(|e| format!("could not build the webhook HTTP client: {e}"))?;
        Ok(Self {
            client,
            policy,
            timeout: config.timeout,
        })
    }

    /// The policy this sender applies.
    pub fn policy(&self) -> &TargetPolicy {
        &self.policy
    }

    /// Makes one delivery attempt.
    ///
    /// POSTs the body as `application/json` with the headers `webhook-id`,
    /// `webhook-timestamp`, `webhook-signature` (only when a secret is given), `content-type`
    /// and `user-agent`. Never follows redirects. The whole attempt (connect, send, read the
    /// status) is bounded by the timeout; the response body is not read.
    ///
    /// A literal-IP URL is checked against the policy before anything is sent. A host name
    /// is resolved by a resolver that drops every address the policy refuses, so a public
    /// name resolving to `127.0.0.1` is refused even when [`TargetPolicy::check_url`] passed
    /// (DNS rebinding); if nothing is left the attempt is [`Outcome::Rejected`] without a
    /// connection.
    pub async fn send(&self, msg: &Message<'_>) -> Outcome {
        let url = match parse_target(msg.url) {
            Ok(url) => url,
            Err(reason) => return Outcome::Rejected { reason },
        };
        // reqwest connects to a literal IP without asking the resolver: check it here.
        let literal = match url.host() {
            Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(ip) = literal {
            if let Err(reason) = self.policy.check_ip(ip) {
                tracing::warn!(msg_id = msg.id, %ip, "webhook target refused by the target policy");
                return Outcome::Rejected { reason };
            }
        }
        let headers = match headers(msg) {
            Ok(headers) => headers,
            Err(reason) => return Outcome::Rejected { reason },
        };
        let request = self
            .client
            .post(url)
            .headers(headers)
            .body(msg.body.to_vec())
            .send();
        let outcome = match tokio::time::timeout(self.timeout, request).await {
            Err(_elapsed) => self.timed_out(),
            Ok(Err(error)) => self.failed(error),
            Ok(Ok(response)) => {
                classify_response(response.status(), response.headers(), SystemTime::now())
            }
        };
        tracing::debug!(msg_id = msg.id, ?outcome, "webhook attempt");
        outcome
    }

    fn timed_out(&self) -> Outcome {
        Outcome::Retry {
            reason: format!("no response within {:?}", self.timeout),
            retry_after: None,
        }
    }

    fn failed(&self, error: reqwest::Error) -> Outcome {
        // Webhook URLs can carry credentials in their path or query: keep them out of logs.
        let error = error.without_url();
        if let Some(refused) = find_source::<RefusedAddresses>(&error) {
            tracing::warn!(host = %refused.host, "webhook target refused by the target policy");
            return Outcome::Rejected {
                reason: refused.to_string(),
            };
        }
        if error.is_timeout() {
            return self.timed_out();
        }
        Outcome::Retry {
            reason: error_chain(&error),
            retry_after: None,
        }
    }
}

/// The Standard Webhooks headers of one message, with its content type.
fn headers(msg: &Message<'_>) -> Result<HeaderMap, String> {
    if msg.id.is_empty() {
        return Err("the message id is empty".to_string());
    }
    let id = HeaderValue::from_str(msg.id)
        .map_err(|_| "the message id is not a valid header value".to_string())?;
    let mut headers = HeaderMap::new();
    headers.insert(WEBHOOK_ID, id);
    headers.insert(WEBHOOK_TIMESTAMP, HeaderValue::from(msg.timestamp));
    if let Some(secret) = msg.secret {
        let signature = sign(secret, msg.id, msg.timestamp, msg.body);
        let signature = HeaderValue::from_str(&signature)
            .map_err(|_| "the signature is not a valid header value".to_string())?;
        headers.insert(WEBHOOK_SIGNATURE, signature);
    }
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(headers)
}

/// What a received status means for the message.
fn classify_response(status: StatusCode, headers: &HeaderMap, now: SystemTime) -> Outcome {
    if status.is_success() {
        return Outcome::Delivered {
            status: status.as_u16(),
        };
    }
    if status.is_redirection() {
        return Outcome::Rejected {
            reason: format!(
                "the receiver answered {status}, a redirect, which deliveries do not follow"
            ),
        };
    }
    let reason = format!("the receiver answered {status}");
    if status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
    {
        Outcome::Retry {
            reason,
            retry_after: retry_after(headers, now),
        }
    } else {
        Outcome::Rejected { reason }
    }
}

/// The `Retry-After` header as a wait from `now`: delay seconds, or an HTTP date (a date in
/// the past is no wait). `None` when absent or unreadable.
fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// An error's message followed by those of its sources (reqwest's own message alone, "error
/// sending request", says nothing of what failed).
fn error_chain(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !text.ends_with(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = cause.source();
    }
    text
}

/// The first error of type `E` in `error`'s source chain.
fn find_source<'e, E: StdError + 'static>(error: &'e (dyn StdError + 'static)) -> Option<&'e E> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<E>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// An HTTP client builder guarded by `policy` like the webhook sender's: host names resolve
/// only to addresses the policy permits (so a name pointing at a private address is refused
/// at connect time), no redirects are followed and no proxy is used. Literal-IP URLs skip
/// the resolver: check them with [`TargetPolicy::check_url`] before sending.
pub fn guarded_client(policy: TargetPolicy) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .referer(false)
        .dns_resolver(Arc::new(PolicyResolver {
            policy: Arc::new(policy),
        }))
}

/// Resolves host names with the system resolver, keeping only the addresses the policy
/// permits.
struct PolicyResolver {
    policy: Arc<TargetPolicy>,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let permitted = filter_resolved(&policy, &host, resolved)?;
            Ok(Box::new(permitted.into_iter()) as Addrs)
        })
    }
}

/// A host name all of whose addresses the policy refuses.
#[derive(Debug, thiserror::Error)]
#[error(
    "the webhook host `{host}` resolves only to addresses the target policy refuses ({})",
    join(.refused)
)]
struct RefusedAddresses {
    host: String,
    refused: Vec<IpAddr>,
}

fn join(ips: &[IpAddr]) -> String {
    ips.iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The resolved addresses the policy permits; an error when there were some and it permits
/// none.
fn filter_resolved(
    policy: &TargetPolicy,
    host: &str,
    resolved: Vec<SocketAddr>,
) -> Result<Vec<SocketAddr>, RefusedAddresses> {
    let (permitted, refused): (Vec<SocketAddr>, Vec<SocketAddr>) = resolved
        .into_iter()
        .partition(|addr| policy.permits(addr.ip()));
    if permitted.is_empty() && !refused.is_empty() {
        return Err(RefusedAddresses {
            host: host.to_owned(),
            refused: refused.iter().map(SocketAddr::ip).collect(),
        });
    }
    if !refused.is_empty() {
        tracing::warn!(
            host,
            refused = ?refused.iter().map(SocketAddr::ip).collect::<Vec<_>>(),
            "dropped resolved webhook addresses the target policy refuses"
        );
    }
    Ok(permitted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        SocketAddr::new(s.parse().expect("test IP"), 0)
    }

    #[test]
    fn resolved_addresses_the_policy_refuses_are_dropped() {
        let policy = TargetPolicy::default();
        let kept = filter_resolved(
            &policy,
            "rebind.example",
            vec![
                addr("127.0.0.1"),
                addr("93.184.215.14"),
                addr("::1"),
                addr("2606:4700::1"),
            ],
        )
        .expect("some are public");
        assert_eq!(kept, vec![addr("93.184.215.14"), addr("2606:4700::1")]);
    }

    #[test]
    fn a_name_resolving_only_to_refused_addresses_is_an_error() {
        let policy = TargetPolicy::default();
        let err = filter_resolved(
            &policy,
            "rebind.example",
            vec![
                addr("127.0.0.1"),
                addr("169.254.169.254"),
                addr("::ffff:10.0.0.1"),
            ],
        )
        .expect_err("all refused");
        assert_eq!(
            err.to_string(),
            "the webhook host `rebind.example` resolves only to addresses the target policy \
             refuses (127.0.0.1, 169.254.169.254, ::ffff:10.0.0.1)"
        );
        // Re-allowed by the operator: kept.
        let allowing = TargetPolicy::parse_allow(&["127.0.0.0/8".to_string()]).expect("allow");
        let kept = filter_resolved(&allowing, "localhost", vec![addr("127.0.0.1"), addr("::1")])
            .expect("loopback allowed");
        assert_eq!(kept, vec![addr("127.0.0.1")]);
    }

    #[test]
    fn statuses_are_classified() {
        let none = HeaderMap::new();
        let now = SystemTime::UNIX_EPOCH;
        let classify = |code: u16| {
            let status = StatusCode::from_u16(code).expect("status");
            classify_response(status, &none, now)
        };
        for code in [200, 201, 202, 204, 299] {
            assert_eq!(classify(code), Outcome::Delivered { status: code });
        }
        for code in [408, 429, 500, 502, 503, 504, 599] {
            assert!(
                matches!(
                    classify(code),
                    Outcome::Retry {
                        retry_after: None,
                        ..
                    }
                ),
                "{code}"
            );
        }
        for code in [
            301, 302, 303, 307, 308, 400, 401, 403, 404, 405, 410, 413, 422,
        ] {
            assert!(matches!(classify(code), Outcome::Rejected { .. }), "{code}");
        }
        assert_eq!(
            classify(404),
            Outcome::Rejected {
                reason: "the receiver answered 404 Not Found".to_string()
            }
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(RETRY_AFTER, HeaderValue::from_str(value).expect("header"));
            retry_after(&headers, now)
        };
        assert_eq!(with("7"), Some(Duration::from_secs(7)));
        assert_eq!(with(" 0 "), Some(Duration::ZERO));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(with(&later), Some(Duration::from_secs(90)));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(with(&earlier), Some(Duration::ZERO));
        assert_eq!(with("-5"), None);
        assert_eq!(with("soon"), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
        // Applies to every retryable status.
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("30"));
        assert_eq!(
            classify_response(StatusCode::TOO_MANY_REQUESTS, &headers, now),
            Outcome::Retry {
                reason: "the receiver answered 429 Too Many Requests".to_string(),
                retry_after: Some(Duration::from_secs(30)),
            }
        );
    }

    #[test]
    fn invalid_header_values_are_rejected() {
        let msg = Message {
            url: "http://example.com/",
            id: "msg_1\r\nx-injected: 1",
            timestamp: 1,
            body: b"{}",
            secret: None,
        };
        assert!(headers(&msg).is_err());
        assert!(headers(&Message { id: "", ..msg }).is_err());
    }
}
