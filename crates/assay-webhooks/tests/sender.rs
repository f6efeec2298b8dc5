//! One delivery attempt against local servers (127.0.0.1 / ::1 only): what is sent, how
//! answers are classified, redirects, timeouts, and the target policy at send time.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use assay_webhooks::{sign, Message, Outcome, Sender, SenderConfig, TargetPolicy, WebhookSecret};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use axum::Router;

const USER_AGENT: &str = "assay-webhooks-test/1";
const TIMESTAMP: i64 = 1_767_225_600;
const BODY: &[u8] = "{\"type\":\"run.completed\",\"note\":\"Grüße 🦀\"}".as_bytes();

/// One request the test server received.
#[derive(Debug, Clone)]
struct Received {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

/// What a test server saw: every request, and every TCP connection it accepted.
#[derive(Debug, Clone, Default)]
struct Seen {
    requests: Arc<Mutex<Vec<Received>>>,
    connections: Arc<AtomicUsize>,
}

impl Seen {
    fn requests(&self) -> Vec<Received> {
        self.requests.lock().expect("lock").clone()
    }

    fn paths(&self) -> Vec<String> {
        self.requests().into_iter().map(|r| r.path).collect()
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Answers by path: `/ok` 200, `/fail` 500, `/busy` 503 with `Retry-After: 7`, `/missing`
/// 404, `/redirect` 302 to `/target`, `/target` 200.
async fn receive(
    State(seen): State<Seen>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    seen.requests.lock().expect("lock").push(Received {
        method,
        path: path.clone(),
        headers,
        body,
    });
    match path.as_str() {
        "/ok" | "/target" => StatusCode::OK.into_response(),
        "/accepted" => StatusCode::ACCEPTED.into_response(),
        "/fail" => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
        "/busy" => (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "7")]).into_response(),
        "/missing" => StatusCode::NOT_FOUND.into_response(),
        "/redirect" => (StatusCode::FOUND, [("location", "/target")]).into_response(),
        _ => StatusCode::IM_A_TEAPOT.into_response(),
    }
}

/// A receiver on `bind` (port 0), counting connections and recording requests.
async fn spawn_server(bind: &str) -> std::io::Result<(SocketAddr, Seen)> {
    let listener = tokio::net::TcpListener::bind(bind).await?;
    let addr = listener.local_addr()?;
    let seen = Seen::default();
    let connections = Arc::clone(&seen.connections);
    let listener = listener.tap_io(move |_| {
        connections.fetch_add(1, Ordering::SeqCst);
    });
    let app = Router::new().fallback(receive).with_state(seen.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((addr, seen))
}

async fn local_server() -> (SocketAddr, Seen) {
    spawn_server("127.0.0.1:0").await.expect("bind 127.0.0.1")
}

fn sender_with(policy: TargetPolicy, timeout: Duration) -> Sender {
    Sender::new(SenderConfig {
        timeout,
        policy,
        user_agent: USER_AGENT.to_string(),
    })
    .expect("sender")
}

fn loopback_allowed() -> TargetPolicy {
    TargetPolicy::parse_allow(&["127.0.0.0/8".to_string(), "::1/128".to_string()])
        .expect("allow list")
}

/// A sender that may reach loopback, as the test configuration allows.
fn sender() -> Sender {
    sender_with(loopback_allowed(), Duration::from_secs(5))
}

/// A sender with the default policy: public addresses only.
fn strict_sender() -> Sender {
    sender_with(TargetPolicy::default(), Duration::from_secs(5))
}

fn secret() -> WebhookSecret {
    WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret")
}

fn message<'a>(url: &'a str, secret: Option<&'a WebhookSecret>) -> Message<'a> {
    Message {
        url,
        id: "msg_2b1e6f0c9d8a4b7e8f1a2c3d4e5f6a7b",
        timestamp: TIMESTAMP,
        body: BODY,
        secret,
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .expect("ASCII header")
}

/// After a refused attempt, proves that nothing reached `seen`'s server: a permitted
/// request sent afterwards is its first connection and request (the server accepts in
/// order, so an earlier connection would have been counted before it).
async fn assert_untouched(addr: SocketAddr, seen: &Seen) {
    assert_eq!(seen.requests().len(), 0, "requests before the control");
    let url = format!("http://{addr}/ok");
    let control = sender().send(&message(&url, None)).await;
    assert_eq!(control, Outcome::Delivered { status: 200 });
    assert_eq!(seen.paths(), ["/ok"]);
    assert_eq!(seen.connections(), 1, "only the control request connected");
}

#[tokio::test]
async fn a_2xx_is_delivered_with_every_header_and_a_verifiable_signature() {
    let (addr, seen) = local_server().await;
    let url = format!("http://{addr}/ok");
    let secret = secret();
    let msg = message(&url, Some(&secret));

    assert_eq!(
        sender().send(&msg).await,
        Outcome::Delivered { status: 200 }
    );

    let received = seen.requests();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.method, Method::POST);
    assert_eq!(request.body.as_ref(), BODY);
    let headers = &request.headers;
    assert_eq!(header(headers, "webhook-id"), msg.id);
    assert_eq!(header(headers, "webhook-timestamp"), TIMESTAMP.to_string());
    assert_eq!(header(headers, "content-type"), "application/json");
    assert_eq!(header(headers, "user-agent"), USER_AGENT);
    // The receiver's check: recompute from what arrived.
    let timestamp: i64 = header(headers, "webhook-timestamp")
        .parse()
        .expect("seconds");
    let expected = sign(
        &secret,
        header(headers, "webhook-id"),
        timestamp,
        &request.body,
    );
    assert_eq!(header(headers, "webhook-signature"), expected);
    assert!(expected.starts_with("v1,"));

    let accepted = format!("http://{addr}/accepted");
    assert_eq!(
        sender().send(&message(&accepted, Some(&secret))).await,
        Outcome::Delivered { status: 202 }
    );
}

#[tokio::test]
async fn without_a_secret_no_signature_is_sent() {
    let (addr, seen) = local_server().await;
    let url = format!("http://{addr}/ok");
    assert_eq!(
        sender().send(&message(&url, None)).await,
        Outcome::Delivered { status: 200 }
    );
    let headers = &seen.requests()[0].headers;
    assert!(headers.get("webhook-signature").is_none());
    assert_eq!(
        header(headers, "webhook-id"),
        "msg_2b1e6f0c9d8a4b7e8f1a2c3d4e5f6a7b"
    );
}

#[tokio::test]
async fn a_500_is_retried() {
    let (addr, _seen) = local_server().await;
    let url = format!("http://{addr}/fail");
    assert_eq!(
        sender().send(&message(&url, None)).await,
        Outcome::Retry {
            reason: "the receiver answered 500 Internal Server Error".to_string(),
            retry_after: None,
        }
    );
}

#[tokio::test]
async fn a_503_with_retry_after_is_retried_after_that_long() {
    let (addr, _seen) = local_server().await;
    let url = format!("http://{addr}/busy");
    match sender().send(&message(&url, None)).await {
        Outcome::Retry {
            retry_after,
            reason,
        } => {
            assert_eq!(retry_after, Some(Duration::from_secs(7)));
            assert!(reason.contains("503"), "{reason}");
        }
        other => panic!("expected a retry, got {other:?}"),
    }
}

#[tokio::test]
async fn a_404_is_rejected() {
    let (addr, _seen) = local_server().await;
    let url = format!("http://{addr}/missing");
    assert_eq!(
        sender().send(&message(&url, None)).await,
        Outcome::Rejected {
            reason: "the receiver answered 404 Not Found".to_string()
        }
    );
}

#[tokio::test]
async fn a_redirect_is_rejected_and_not_followed() {
    let (addr, seen) = local_server().await;
    let url = format!("http://{addr}/redirect");
    match sender().send(&message(&url, None)).await {
        Outcome::Rejected { reason } => {
            assert!(reason.contains("302"), "{reason}");
            assert!(reason.contains("redirect"), "{reason}");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(
        seen.paths(),
        ["/redirect"],
        "the redirect target was never hit"
    );
}

#[tokio::test]
async fn a_receiver_that_never_answers_is_retried_within_the_timeout() {
    // Accepts connections and holds them open without reading or answering.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    let timeout = Duration::from_millis(300);
    let sender = sender_with(loopback_allowed(), timeout);
    let url = format!("http://{addr}/hang");

    let started = Instant::now();
    let outcome = sender.send(&message(&url, None)).await;
    let elapsed = started.elapsed();

    match outcome {
        Outcome::Retry {
            reason,
            retry_after: None,
        } => assert!(reason.contains("300ms"), "{reason}"),
        other => panic!("expected a retry, got {other:?}"),
    }
    assert!(elapsed >= timeout, "gave up early: {elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "not bounded: {elapsed:?}");
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "it did connect");
}

#[tokio::test]
async fn a_closed_port_is_retried() {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        probe.local_addr().expect("addr").port()
    };
    let url = format!("http://127.0.0.1:{port}/ok");
    match sender().send(&message(&url, None)).await {
        Outcome::Retry {
            reason,
            retry_after: None,
        } => {
            assert!(reason.contains("onnect"), "{reason}");
            assert!(
                !reason.contains(&url),
                "the URL stays out of reasons: {reason}"
            );
        }
        other => panic!("expected a retry, got {other:?}"),
    }
}

#[tokio::test]
async fn a_literal_loopback_target_is_rejected_without_connecting() {
    let (addr, seen) = local_server().await;
    let port = addr.port();
    for url in [
        format!("http://127.0.0.1:{port}/ok"),
        format!("http://127.1:{port}/ok"),
        format!("http://[::1]:{port}/ok"),
        format!("http://[::ffff:127.0.0.1]:{port}/ok"),
    ] {
        match strict_sender().send(&message(&url, None)).await {
            Outcome::Rejected { reason } => {
                assert!(reason.contains("loopback"), "{url}: {reason}");
                assert!(reason.contains("refuses"), "{url}: {reason}");
            }
            other => panic!("{url}: expected a rejection, got {other:?}"),
        }
    }
    assert_untouched(addr, &seen).await;
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_rejected_by_the_resolver() {
    let (addr, seen) = local_server().await;
    // `check_url` would refuse the name itself; `send` leaves names to the resolver, which
    // is what stops a public name that resolves to a private address.
    let url = format!("http://localhost:{}/ok", addr.port());
    match strict_sender().send(&message(&url, None)).await {
        Outcome::Rejected { reason } => {
            assert!(
                reason.contains("`localhost` resolves only to addresses the target policy refuses"),
                "{reason}"
            );
            assert!(reason.contains("127.0.0.1"), "{reason}");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_untouched(addr, &seen).await;
}

#[tokio::test]
async fn a_name_resolving_to_allowed_loopback_is_delivered() {
    let (addr, seen) = local_server().await;
    let url = format!("http://localhost:{}/ok", addr.port());
    assert_eq!(
        sender().send(&message(&url, None)).await,
        Outcome::Delivered { status: 200 }
    );
    assert_eq!(seen.paths(), ["/ok"]);
}

#[tokio::test]
async fn ipv6_loopback_is_reached_when_allowed() {
    let Ok((addr, seen)) = spawn_server("[::1]:0").await else {
        eprintln!("no IPv6 loopback here; skipping");
        return;
    };
    let url = format!("http://{addr}/ok");
    assert_eq!(
        sender().send(&message(&url, None)).await,
        Outcome::Delivered { status: 200 }
    );
    assert_eq!(seen.paths(), ["/ok"]);
    assert!(matches!(
        strict_sender().send(&message(&url, None)).await,
        Outcome::Rejected { .. }
    ));
}

#[tokio::test]
async fn malformed_targets_and_messages_are_rejected() {
    let (addr, seen) = local_server().await;
    let secret = secret();
    for url in [
        "ftp://127.0.0.1/".to_string(),
        "not a url".to_string(),
        format!("http://user:pw@{addr}/ok"),
    ] {
        assert!(
            matches!(
                sender().send(&message(&url, Some(&secret))).await,
                Outcome::Rejected { .. }
            ),
            "{url}"
        );
    }
    let url = format!("http://{addr}/ok");
    let bad_id = Message {
        id: "msg_1\r\nx-injected: yes",
        ..message(&url, Some(&secret))
    };
    assert!(matches!(
        sender().send(&bad_id).await,
        Outcome::Rejected { .. }
    ));
    assert_untouched(addr, &seen).await;
}

#[test]
fn a_sender_needs_a_timeout_and_a_valid_user_agent() {
    let config = |timeout, user_agent: &str| SenderConfig {
        timeout,
        policy: TargetPolicy::default(),
        user_agent: user_agent.to_string(),
    };
    assert!(Sender::new(config(Duration::ZERO, "ua")).is_err());
    assert!(Sender::new(config(Duration::from_secs(1), "bad\nagent")).is_err());
    let sender = Sender::new(config(Duration::from_secs(1), "assay/1")).expect("sender");
    assert_eq!(sender.clone().policy(), &TargetPolicy::default());
}
