//! Webhooks of scheduled runs: every status transition delivered from the outbox, signed the
//! Standard Webhooks way, retried with the same message id, given up when refused, and a slow
//! receiver holding up only its own deliveries. The clock is injected; receivers are local.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use assay_engine::schedules::Clock;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use common::TestServer;
use serde_json::{json, Value};

const SCHEDULES: &str = "/api/v1/llm/evals/schedules";
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: Bytes,
}

#[derive(Default)]
struct Behaviour {
    /// Answer 500 to the first N attempts of each message.
    fail_first: usize,
    /// Answer with this status instead of 200.
    status: Option<u16>,
    /// Never answer.
    hang: bool,
}

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    behaviour: Arc<Mutex<Behaviour>>,
}

impl Receiver {
    /// Serves on a loopback port; returns the receiver and its URL.
    async fn start(behaviour: Behaviour) -> (Self, String) {
        let receiver = Receiver {
            got: Arc::default(),
            behaviour: Arc::new(Mutex::new(behaviour)),
        };
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (receiver, url)
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// The messages after deduplication by `webhook-id`, in arrival order of first copies.
    fn unique(&self) -> Vec<Received> {
        let mut seen = std::collections::HashSet::new();
        self.got()
            .into_iter()
            .filter(|r| seen.insert(r.id.clone()))
            .collect()
    }
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let got = Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body,
    };
    let (hang, status) = {
        let mut all = r.got.lock().unwrap();
        let attempts = all.iter().filter(|x| x.id == got.id).count();
        all.push(got);
        let b = r.behaviour.lock().unwrap();
        let status = if attempts < b.fail_first {
            500
        } else {
            b.status.unwrap_or(200)
        };
        (b.hang, status)
    };
    if hang {
        std::future::pending::<()>().await;
    }
    StatusCode::from_u16(status).unwrap()
}

/// Checks a message's signature the way a receiver does: HMAC-SHA256 over
/// `id.timestamp.body` with the secret's key, against every `v1,` entry.
fn verify(r: &Received) {
    let secret = assay_webhooks::WebhookSecret::parse(SECRET).unwrap();
    let timestamp: i64 = r.timestamp.parse().expect("webhook-timestamp");
    let expected = assay_webhooks::sign(&secret, &r.id, timestamp, &r.body);
    assert!(
        r.signature.split(' ').any(|s| s == expected),
        "bad signature {:?} for {}",
        r.signature,
        r.id
    );
}

async fn scheduled_suite(server: &TestServer) -> String {
    let rows: Vec<Value> = (0..3).map(|i| json!({"q": format!("q{i}")})).collect();
    let data = server.upload_jsonl("rows.jsonl", &rows).await;
    server
        .create_suite(json!({"tasks": [{"id": "t", "type": "qa",
            "dataset": {"file_id": data}, "prompt_template": "{{q}} [[answer:yes]]",
            "target_template": "yes", "metrics": [{"id": "exact_match"}]}]}))
        .await
}

/// A schedule notifying `url`, fired once; returns (schedule id, run id) once the run ended.
async fn fire_once(server: &TestServer, suite_id: &str, url: &str) -> (String, String) {
    let (status, schedule) = server
        .post(
            SCHEDULES,
            &json!({"name": "hooked", "suite_id": suite_id, "cron": "0 0 1 1 *",
                "webhook_url": url, "webhook_secret": SECRET, "run": {"models": ["fake"]}}),
        )
        .await;
    assert_eq!(status, 200, "{schedule}");
    let id = schedule["id"].as_str().unwrap().to_string();
    let (status, fired) = server
        .post(&format!("{SCHEDULES}/{id}/trigger"), &json!({}))
        .await;
    assert_eq!(status, 200, "{fired}");
    let run_id = fired["last_run_id"].as_str().unwrap().to_string();
    server.wait_terminal(&run_id).await;
    // The outbox rows are due from the (real) time of each transition.
    server.clock.set(assay_domain::now_unix() + 1);
    (id, run_id)
}

/// Pumps the outbox (awaiting each send) until every delivery of `run_id` is delivered or
/// given up, moving the clock `step` seconds between rounds.
async fn drain(server: &TestServer, run_id: &str, step: i64) {
    for _ in 0..50 {
        for send in server.webhooks.pump().await.unwrap() {
            send.await.unwrap();
        }
        let rows = server.store.run_deliveries(run_id).await.unwrap();
        if rows
            .iter()
            .all(|(_, _, _, delivered, gave_up)| *delivered || *gave_up)
        {
            return;
        }
        server.clock.advance(step);
    }
    panic!("deliveries of {run_id} never settled");
}

fn body(r: &Received) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

#[tokio::test]
async fn every_transition_is_delivered_once_signed_and_in_order() {
    every_transition(TestServer::start().await).await;
}

/// The same on Postgres, whose outbox rows come from its own trigger function.
#[tokio::test]
async fn every_transition_is_delivered_on_postgres_too() {
    if let Some(server) = TestServer::start_on_postgres(None).await {
        every_transition(server).await;
    }
}

async fn every_transition(server: TestServer) {
    let (receiver, url) = Receiver::start(Behaviour::default()).await;
    let suite_id = scheduled_suite(&server).await;
    let (schedule_id, run_id) = fire_once(&server, &suite_id, &url).await;
    let start = server.clock.now();
    drain(&server, &run_id, 1).await;

    let got = receiver.got();
    assert_eq!(got.len(), 4, "{got:?}");
    for r in &got {
        verify(r);
        assert!(r.id.starts_with("msg_"), "{}", r.id);
        let sent: i64 = r.timestamp.parse().unwrap();
        assert!((start..=server.clock.now()).contains(&sent), "{sent}");
    }
    let transitions: Vec<(Value, Value)> = got
        .iter()
        .map(|r| {
            let b = body(r);
            (
                b["data"]["previous_status"].clone(),
                b["data"]["status"].clone(),
            )
        })
        .collect();
    assert_eq!(
        transitions,
        vec![
            (Value::Null, json!("queued")),
            (json!("queued"), json!("in_progress")),
            (json!("in_progress"), json!("finalizing")),
            (json!("finalizing"), json!("completed")),
        ]
    );
    let last = body(&got[3]);
    assert_eq!(last["type"], "eval.run.completed");
    assert_eq!(last["data"]["schedule_id"], schedule_id.as_str());
    assert_eq!(last["data"]["run_id"], run_id.as_str());
    assert_eq!(last["data"]["suite_id"], suite_id.as_str());
    assert_eq!(last["data"]["suite_version"], 1);
    assert_eq!(
        last["data"]["request_counts"],
        json!({"total": 3, "completed": 3, "failed": 0})
    );
    assert_eq!(last["data"]["metrics"]["fake"]["t"]["exact_match"], 1.0);
    assert!(last["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(body(&got[0])["data"]["metrics"], Value::Null);
    // Nothing is sent twice once delivered.
    assert!(server.webhooks.pump().await.unwrap().is_empty());
}

#[tokio::test]
async fn failed_attempts_are_retried_with_the_same_id_and_survive_a_dead_dispatcher() {
    let server = TestServer::start().await;
    let (receiver, url) = Receiver::start(Behaviour {
        fail_first: 2,
        ..Default::default()
    })
    .await;
    let suite_id = scheduled_suite(&server).await;
    let (_, run_id) = fire_once(&server, &suite_id, &url).await;

    // A dispatcher that claimed the first delivery and died before sending it: its lease
    // runs out and another dispatcher sends it.
    let now = server.clock.now();
    let rows = server.store.run_deliveries(&run_id).await.unwrap();
    let first = rows[0].0.clone();
    assert!(server
        .store
        .claim_delivery(&first, now, now + 7)
        .await
        .unwrap()
        .is_some());
    for send in server.webhooks.pump().await.unwrap() {
        send.await.unwrap();
    }
    assert!(
        receiver.got().is_empty(),
        "the run's first delivery is leased; the rest wait in order"
    );
    server.clock.advance(8);
    drain(&server, &run_id, 10).await;

    let got = receiver.got();
    let unique = receiver.unique();
    assert_eq!(unique.len(), 4);
    assert_eq!(
        got.len(),
        12,
        "each message three times: two 500s, then 200"
    );
    let mut copies: HashMap<String, usize> = HashMap::new();
    for r in &got {
        verify(r);
        *copies.entry(r.id.clone()).or_default() += 1;
    }
    assert!(copies.values().all(|&n| n == 3), "{copies:?}");
    assert_eq!(unique[0].id, first);
    let statuses: Vec<Value> = unique
        .iter()
        .map(|r| body(r)["data"]["status"].clone())
        .collect();
    assert_eq!(
        statuses,
        vec![
            json!("queued"),
            json!("in_progress"),
            json!("finalizing"),
            json!("completed")
        ]
    );
}

#[tokio::test]
async fn refused_deliveries_and_removed_webhooks_are_given_up() {
    let server = TestServer::start().await;
    let (receiver, url) = Receiver::start(Behaviour {
        status: Some(404),
        ..Default::default()
    })
    .await;
    let suite_id = scheduled_suite(&server).await;
    let (schedule_id, run_id) = fire_once(&server, &suite_id, &url).await;
    drain(&server, &run_id, 1).await;
    let rows = server.store.run_deliveries(&run_id).await.unwrap();
    assert!(rows.iter().all(|r| r.4), "every 404 is given up: {rows:?}");
    assert_eq!(receiver.got().len(), 4, "one attempt each");

    // A second run whose webhook is removed before delivery: nothing is sent.
    let (status, fired) = server
        .post(&format!("{SCHEDULES}/{schedule_id}/trigger"), &json!({}))
        .await;
    assert_eq!(status, 200);
    let second = fired["last_run_id"].as_str().unwrap().to_string();
    server.wait_terminal(&second).await;
    server.clock.set(assay_domain::now_unix() + 1);
    let (status, _) = server
        .patch(
            &format!("{SCHEDULES}/{schedule_id}"),
            &json!({"webhook_url": null}),
        )
        .await;
    assert_eq!(status, 200);
    drain(&server, &second, 1).await;
    assert_eq!(receiver.got().len(), 4);
    assert!(server
        .store
        .run_deliveries(&second)
        .await
        .unwrap()
        .iter()
        .all(|r| r.4));
}

#[tokio::test]
async fn a_slow_receiver_holds_up_only_its_own_deliveries() {
    let server = TestServer::start().await;
    let (slow, slow_url) = Receiver::start(Behaviour {
        hang: true,
        ..Default::default()
    })
    .await;
    let (fast, fast_url) = Receiver::start(Behaviour::default()).await;
    let suite_id = scheduled_suite(&server).await;
    let (_, slow_run) = fire_once(&server, &suite_id, &slow_url).await;
    let (_, fast_run) = fire_once(&server, &suite_id, &fast_url).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while fast.got().len() < 4 {
        // The slow receiver's sends stay in flight (never awaited here).
        let _ = server.webhooks.pump().await.unwrap();
        assert!(
            tokio::time::Instant::now() < deadline,
            "fast deliveries stalled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        slow.got().len(),
        1,
        "the slow receiver still holds its first delivery"
    );
    let fast_rows = server.store.run_deliveries(&fast_run).await.unwrap();
    assert!(fast_rows.iter().all(|r| r.3));
    let slow_rows = server.store.run_deliveries(&slow_run).await.unwrap();
    assert!(slow_rows.iter().all(|r| !r.3));
}
