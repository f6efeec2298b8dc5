//! The coding-agent leaderboard (E12) over HTTP: imported runs of several agents, models and
//! efforts, with every row figure checked against values worked out by hand, the filters, the
//! ordering, the runs that must not count, errors, sharing, and a rerun trial moving a row.

mod common;

use common::{assert_error, TestServer};
use serde_json::{json, Value};

const IMPORT: &str = "/api/v1/llm/evals/imports/agent-run";

/// Every key a board row carries, in the contract's order.
const ROW_KEYS: [&str; 20] = [
    "agent_name",
    "agent_version",
    "agent_effort",
    "model",
    "accuracy",
    "accuracy_ci",
    "trials",
    "scored_trials",
    "failed_trials",
    "cost_usd",
    "solved_trials",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "steps",
    "agent_seconds",
    "timed_trials",
    "run_count",
    "run_ids",
    "last_run_at",
];

/// A suite of qa tasks `t1`, `t2`, `t3`, each over a one-row dataset the fake model answers,
/// so that a plain (non-agent) run of it can execute too. Returns the suite id and manifest.
async fn suite(server: &TestServer) -> (String, Value) {
    let file = server
        .upload_jsonl(
            "tasks.jsonl",
            &[json!({"q": "Ready? [[answer:yes]]", "a": "yes"})],
        )
        .await;
    let tasks: Vec<Value> = ["t1", "t2", "t3"]
        .iter()
        .map(|id| {
            json!({"id": id, "type": "qa", "dataset": {"file_id": file},
                   "prompt_template": "{{q}}", "target_template": "{{a}}"})
        })
        .collect();
    let manifest = json!({"tasks": tasks});
    (server.create_suite(manifest.clone()).await, manifest)
}

/// Imports a run; returns its id.
async fn import(server: &TestServer, body: Value) -> String {
    let (status, run) = server.post(IMPORT, &body).await;
    assert_eq!(status, 200, "{run}");
    run["id"].as_str().expect("run id").to_string()
}

/// An `agent_execution` phase of `seconds` (under a minute).
fn timed(seconds: u32) -> Value {
    json!({"agent_execution": {"started_at": "2026-03-01T10:00:00Z",
                               "finished_at": format!("2026-03-01T10:00:{seconds:02}Z")}})
}

/// Uploads a trajectory of `steps` steps for the run's sample (`task`, `index`).
async fn upload_trajectory(
    server: &TestServer,
    run_id: &str,
    task: &str,
    index: i64,
    steps: usize,
) {
    let body = json!({"steps": (0..steps).map(|i| json!({"step_id": i})).collect::<Vec<_>>()});
    let url = server.url(&format!(
        "/api/v1/llm/evals/runs/{run_id}/samples/{index}/trajectory?task_id={task}"
    ));
    let (status, uploaded) = server
        .send(server.client.put(url).bearer_auth(&server.key).json(&body))
        .await;
    assert_eq!(status, 200, "{uploaded}");
    assert_eq!(uploaded["step_count"], steps);
}

async fn board(server: &TestServer, suite: &str, query: &str) -> Value {
    board_as(server, &server.key, suite, query).await
}

async fn board_as(server: &TestServer, key: &str, suite: &str, query: &str) -> Value {
    let (status, body) = server
        .get_as(
            key,
            &format!("/api/v1/llm/evals/suites/{suite}/leaderboard{query}"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The rows' keys (agent, model, effort) in board order.
fn keys(board: &Value) -> Vec<(String, String, Option<String>)> {
    rows(board)
        .iter()
        .map(|r| {
            (
                r["agent_name"].as_str().expect("agent").to_string(),
                r["model"].as_str().expect("model").to_string(),
                r["agent_effort"].as_str().map(String::from),
            )
        })
        .collect()
}

fn key(agent: &str, model: &str, effort: Option<&str>) -> (String, String, Option<String>) {
    (agent.into(), model.into(), effort.map(String::from))
}

fn rows(board: &Value) -> &Vec<Value> {
    board["data"].as_array().expect("data")
}

/// The row of (agent, model, effort).
fn row<'a>(board: &'a Value, agent: &str, model: &str, effort: Option<&str>) -> &'a Value {
    rows(board)
        .iter()
        .find(|r| {
            r["agent_name"] == agent && r["model"] == model && r["agent_effort"] == json!(effort)
        })
        .unwrap_or_else(|| panic!("no row {agent}/{model}/{effort:?} in {board}"))
}

/// Asserts a number within 1e-9 of `want`.
fn assert_close(got: &Value, want: f64, what: &str) {
    let got = got
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: {got} is not a number"));
    assert!((got - want).abs() < 1e-9, "{what}: {got} != {want}");
}

/// Asserts accuracy `p` and its Wald interval `(low, high, margin)`.
fn assert_accuracy(row: &Value, p: f64, ci: (f64, f64, f64)) {
    assert_close(&row["accuracy"], p, "accuracy");
    assert_close(&row["accuracy_ci"]["low"], ci.0, "accuracy_ci.low");
    assert_close(&row["accuracy_ci"]["high"], ci.1, "accuracy_ci.high");
    assert_close(&row["accuracy_ci"]["margin"], ci.2, "accuracy_ci.margin");
}

/// The runs of the scenario, by role.
struct Scenario {
    suite: String,
    manifest: Value,
    /// omp / m-alpha / high: 4 trials (one failed), created at 1000.
    omp_high_big: String,
    /// omp / m-alpha / high: 2 trials, created at 2000 (the row's newest).
    omp_high_small: String,
    /// omp / m-alpha / no effort: 3 solved trials.
    omp_plain: String,
    /// claude-code / m-alpha / high.
    claude_high: String,
    /// claude-code / m-beta / no effort: both trials failed.
    claude_beta_failed: String,
    /// claude-code / m-beta / no effort, opened with `finalize: false`.
    claude_beta_open: String,
    /// aider / m-alpha / medium: one solved trial.
    aider: String,
    /// omp / m-alpha / high, deleted.
    deleted: String,
    /// A run executed on the fake model: no agent.
    executed: String,
}

/// Imports the scenario's version-1 runs (and executes one plain run).
async fn scenario(server: &TestServer) -> Scenario {
    let (suite, manifest) = suite(server).await;
    let omp_high_big = import(
        server,
        json!({
            "suite_id": suite, "agent_name": "omp", "agent_version": "1.0", "agent_effort": "high",
            "model": "m-alpha", "created_at": 1000,
            // The trials report spend, so their sum (1.0) wins over this total.
            "cost_usd": 9.0,
            "trials": [
                {"task_id": "t1", "scores": {"reward": 1, "resolved": 1}, "cost_usd": 0.5,
                 "input_tokens": 100, "output_tokens": 10, "cached_tokens": 50, "phase_timings": timed(45)},
                {"task_id": "t2", "scores": {"reward": 0, "resolved": 0}, "cost_usd": 0.25,
                 "input_tokens": 200, "output_tokens": 20, "cached_tokens": 0, "phase_timings": timed(30),
                 "error": {"type": "AgentTimeoutError", "message": "agent timed out"}},
                {"task_id": "t3", "status": "failed", "error": {"type": "EnvironmentError"}},
                {"task_id": "t1", "sample_index": 1, "scores": {"reward": 0.5, "resolved": 0},
                 "cost_usd": 0.25},
            ],
        }),
    )
    .await;
    let omp_high_small = import(
        server,
        json!({
            "suite_id": suite, "agent_name": "omp", "agent_version": "1.1", "agent_effort": "high",
            "model": "m-alpha", "created_at": 2000,
            // No trial reports spend: the run's total stands in.
            "cost_usd": 3.0,
            "trials": [
                {"task_id": "t1", "scores": {"reward": 1, "resolved": 1}},
                {"task_id": "t2", "scores": {"reward": 1, "resolved": 1}},
            ],
        }),
    )
    .await;
    let omp_plain = import(
        server,
        json!({
            "suite_id": suite, "agent_name": "omp", "agent_version": "0.9", "model": "m-alpha",
            "created_at": 1500,
            "trials": [
                {"task_id": "t1", "scores": {"reward": 1}},
                {"task_id": "t2", "scores": {"reward": 1}},
                {"task_id": "t3", "scores": {"reward": 1}},
            ],
        }),
    )
    .await;
    let claude_high = import(
        server,
        json!({
            "suite_id": suite, "agent_name": "claude-code", "agent_effort": "high",
            "model": "m-alpha", "created_at": 1200,
            "trials": [
                {"task_id": "t1", "scores": {"reward": 1, "resolved": 1}, "input_tokens": 7},
                {"task_id": "t2", "scores": {"reward": 0, "resolved": 1}},
                {"task_id": "t3", "scores": {"reward": 0}},
            ],
        }),
    )
    .await;
    let claude_beta_failed = import(
        server,
        json!({
            "suite_id": suite, "agent_name": "claude-code", "model": "m-beta", "created_at": 1300,
            "trials": [
                {"task_id": "t1", "status": "failed"},
                {"task_id": "t2", "status": "failed"},
            ],
        }),
    )
    .await;
    let claude_beta_open = import(
        server,
        json!({
            "suite_id": suite, "agent_name": "claude-code", "model": "m-beta", "created_at": 1400,
            "finalize": false,
            "trials": [
                {"task_id": "t1", "sample_index": 0, "status": "failed"},
                {"task_id": "t2", "sample_index": 0, "scores": {"reward": 1}},
            ],
        }),
    )
    .await;
    let aider = import(
        server,
        json!({
            "suite_id": suite, "agent_name": "aider", "agent_version": "0.80", "agent_effort": "medium",
            "model": "m-alpha", "created_at": 1100,
            "trials": [{"task_id": "t1", "scores": {"reward": 1}}],
        }),
    )
    .await;
    let deleted = import(
        server,
        json!({
            "suite_id": suite, "agent_name": "omp", "agent_version": "2.0", "agent_effort": "high",
            "model": "m-alpha", "created_at": 3000,
            "trials": [
                {"task_id": "t1", "scores": {"reward": 0}},
                {"task_id": "t2", "scores": {"reward": 0}},
            ],
        }),
    )
    .await;
    let (status, body) = server
        .delete(&format!("/api/v1/llm/evals/runs/{deleted}"))
        .await;
    assert_eq!(status, 200, "{body}");
    let executed = server
        .run_to_end(&json!({"suite_id": suite, "models": ["fake"]}))
        .await;
    assert_eq!(executed["status"], "completed", "{executed}");
    Scenario {
        suite,
        manifest,
        omp_high_big,
        omp_high_small,
        omp_plain,
        claude_high,
        claude_beta_failed,
        claude_beta_open,
        aider,
        deleted,
        executed: executed["id"].as_str().expect("run id").to_string(),
    }
}

#[tokio::test]
async fn rows_add_up_completed_agent_runs_and_rank_by_accuracy() {
    let server = TestServer::start().await;
    let s = scenario(&server).await;
    // Two of the first run's trials have sessions (one uploaded twice: the second replaces it).
    upload_trajectory(&server, &s.omp_high_big, "t1", 0, 99).await;
    upload_trajectory(&server, &s.omp_high_big, "t1", 0, 25).await;
    upload_trajectory(&server, &s.omp_high_big, "t2", 1, 15).await;
    let b = board(&server, &s.suite, "").await;
    assert_eq!(b["object"], "eval.leaderboard");
    assert_eq!(b["suite_id"], s.suite.as_str());
    assert_eq!(b["suite_version"], Value::Null);
    assert_eq!(b["metric"], "reward");
    for r in rows(&b) {
        let listed: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(listed, ROW_KEYS, "row keys");
    }
    // Ties on accuracy fall back to agent, model, effort; the all-failed row comes last.
    assert_eq!(
        keys(&b),
        [
            key("aider", "m-alpha", Some("medium")),     // 1.0
            key("omp", "m-alpha", None),                 // 1.0
            key("omp", "m-alpha", Some("high")),         // 0.7
            key("claude-code", "m-alpha", Some("high")), // 1/3
            key("claude-code", "m-beta", None),          // null
        ]
    );
    let all_ids: Vec<&Value> = rows(&b)
        .iter()
        .flat_map(|r| r["run_ids"].as_array().unwrap())
        .collect();
    for excluded in [&s.deleted, &s.executed, &s.claude_beta_open] {
        assert!(
            !all_ids.iter().any(|id| *id == excluded),
            "{excluded} must not count"
        );
    }

    // omp / m-alpha / high: scores 1, 0, 0.5 (one failed trial) and 1, 1 → 3.5 / 5 = 0.7;
    // margin 1.96·√(0.7·0.3/5) = 0.40168…, so [0.29832…, 1] after clamping.
    let r = row(&b, "omp", "m-alpha", Some("high"));
    assert_accuracy(
        r,
        0.7,
        (0.298_319_529_974_383_66, 1.0, 0.401_680_470_025_616_3),
    );
    assert_eq!(r["agent_version"], "1.1", "from the newest run");
    assert_eq!(r["trials"], 6);
    assert_eq!(r["scored_trials"], 5);
    assert_eq!(r["failed_trials"], 1);
    assert_eq!(r["solved_trials"], 3, "0.5 is not full credit");
    // 0.5 + 0.25 + 0.25 summed from the first run's trials (its 9.0 total ignored), plus the
    // second run's total 3.0 as no trial of it reported spend.
    assert_close(&r["cost_usd"], 4.0, "cost_usd");
    assert_eq!(r["input_tokens"], 300);
    assert_eq!(r["output_tokens"], 30);
    assert_eq!(r["cached_tokens"], 50);
    assert_eq!(
        r["steps"], 40,
        "25 + 15; trials and runs without a trajectory add nothing"
    );
    assert_close(&r["agent_seconds"], 75.0, "agent_seconds");
    assert_eq!(r["timed_trials"], 2);
    assert_eq!(r["run_count"], 2);
    assert_eq!(r["run_ids"], json!([s.omp_high_big, s.omp_high_small]));
    assert_eq!(r["last_run_at"], 2000);

    // omp / m-alpha / no effort: 3 of 3, a zero-width interval at 1.
    let r = row(&b, "omp", "m-alpha", None);
    assert_accuracy(r, 1.0, (1.0, 1.0, 0.0));
    assert_eq!(r["agent_version"], "0.9");
    assert_eq!(r["agent_effort"], Value::Null);
    assert_eq!(
        (r["trials"].as_i64(), r["solved_trials"].as_i64()),
        (Some(3), Some(3))
    );
    for figure in [
        "cost_usd",
        "input_tokens",
        "output_tokens",
        "cached_tokens",
        "steps",
        "agent_seconds",
    ] {
        assert_eq!(r[figure], Value::Null, "{figure}: nothing reported");
    }
    assert_eq!(r["timed_trials"], 0);
    assert_eq!(r["run_ids"], json!([s.omp_plain]));
    assert_eq!(r["last_run_at"], 1500);

    // claude-code / m-alpha / high: 1 of 3; margin 1.96·√((1/3)(2/3)/3) = 0.53344…
    let r = row(&b, "claude-code", "m-alpha", Some("high"));
    assert_accuracy(
        r,
        1.0 / 3.0,
        (0.0, 0.866_777_766_206_114_2, 0.533_444_432_872_781),
    );
    assert_eq!(r["agent_version"], Value::Null);
    assert_eq!(r["input_tokens"], 7);
    assert_eq!(r["output_tokens"], Value::Null);
    assert_eq!(r["run_ids"], json!([s.claude_high]));

    // claude-code / m-beta: every trial failed — no accuracy at all, not 0.
    let r = row(&b, "claude-code", "m-beta", None);
    assert_eq!(r["accuracy"], Value::Null);
    assert_eq!(r["accuracy_ci"], Value::Null);
    assert_eq!(
        (r["trials"].as_i64(), r["failed_trials"].as_i64()),
        (Some(2), Some(2))
    );
    assert_eq!(
        (r["scored_trials"].as_i64(), r["solved_trials"].as_i64()),
        (Some(0), Some(0))
    );
    assert_eq!(r["run_ids"], json!([s.claude_beta_failed]));

    let r = row(&b, "aider", "m-alpha", Some("medium"));
    assert_accuracy(r, 1.0, (1.0, 1.0, 0.0));
    assert_eq!(r["run_ids"], json!([s.aider]));
}

#[tokio::test]
async fn metric_filters_versions_and_limit() {
    let server = TestServer::start().await;
    let s = scenario(&server).await;
    // A second version with its own run.
    let (status, body) = server
        .post(
            &format!("/api/v1/llm/evals/suites/{}/versions", s.suite),
            &json!({"manifest": s.manifest}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let v2 = import(
        &server,
        json!({
            "suite_id": s.suite, "suite_version": 2, "agent_name": "codex", "agent_effort": "low",
            "model": "m-gamma", "created_at": 2500,
            "trials": [{"task_id": "t1", "scores": {"reward": 0}}, {"task_id": "t2", "scores": {"reward": 1}}],
        }),
    )
    .await;

    // 1 of 2: margin 1.96·√(0.25/2) = 0.69296…, clamped at both ends.
    let b = board(&server, &s.suite, "?suite_version=2").await;
    assert_eq!(b["suite_version"], 2);
    assert_eq!(keys(&b), [key("codex", "m-gamma", Some("low"))]);
    assert_accuracy(&rows(&b)[0], 0.5, (0.0, 1.0, 0.692_964_645_562_816_6));
    assert_eq!(rows(&b)[0]["run_ids"], json!([v2]));
    let b = board(&server, &s.suite, "?suite_version=1").await;
    assert_eq!(rows(&b).len(), 5);
    assert!(!keys(&b).contains(&key("codex", "m-gamma", Some("low"))));
    assert_eq!(
        board(&server, &s.suite, "?suite_version=3").await["data"],
        json!([])
    );
    let all = board(&server, &s.suite, "").await;
    assert_eq!(rows(&all).len(), 6);
    assert_eq!(
        keys(&all)[3],
        key("codex", "m-gamma", Some("low")),
        "0.5 sits between 0.7 and 1/3"
    );

    // On `resolved`, rows without the key have no accuracy and go last, in key order.
    let b = board(&server, &s.suite, "?metric=resolved").await;
    assert_eq!(b["metric"], "resolved");
    assert_eq!(
        keys(&b),
        [
            key("claude-code", "m-alpha", Some("high")), // 2 of 2
            key("omp", "m-alpha", Some("high")),         // 3 of 5
            key("aider", "m-alpha", Some("medium")),
            key("claude-code", "m-beta", None),
            key("codex", "m-gamma", Some("low")),
            key("omp", "m-alpha", None),
        ]
    );
    let r = row(&b, "omp", "m-alpha", Some("high"));
    // 1, 0, 0 and 1, 1: 0.6; margin 1.96·√(0.24/5) = 0.42941…
    assert_accuracy(
        r,
        0.6,
        (0.170_585_514_915_949_75, 1.0, 0.429_414_485_084_050_2),
    );
    assert_eq!(
        (r["scored_trials"].as_i64(), r["solved_trials"].as_i64()),
        (Some(5), Some(3))
    );
    assert_eq!(r["trials"], 6, "trials do not depend on the metric");
    let r = row(&b, "claude-code", "m-alpha", Some("high"));
    assert_accuracy(r, 1.0, (1.0, 1.0, 0.0));
    assert_eq!(
        (r["scored_trials"].as_i64(), r["solved_trials"].as_i64()),
        (Some(2), Some(2))
    );
    let r = row(&b, "omp", "m-alpha", None);
    assert_eq!(
        (r["accuracy"].clone(), r["scored_trials"].as_i64()),
        (Value::Null, Some(0))
    );
    // A metric nobody reported: every row is there, none with an accuracy.
    let b = board(&server, &s.suite, "?metric=nothing").await;
    assert_eq!(rows(&b).len(), 6);
    assert!(rows(&b).iter().all(|r| r["accuracy"].is_null()));

    // Filters.
    let b = board(&server, &s.suite, "?agent=claude-code").await;
    assert_eq!(
        keys(&b),
        [
            key("claude-code", "m-alpha", Some("high")),
            key("claude-code", "m-beta", None)
        ]
    );
    let b = board(&server, &s.suite, "?model=m-alpha").await;
    assert_eq!(
        keys(&b),
        [
            key("aider", "m-alpha", Some("medium")),
            key("omp", "m-alpha", None),
            key("omp", "m-alpha", Some("high")),
            key("claude-code", "m-alpha", Some("high")),
        ]
    );
    let b = board(
        &server,
        &s.suite,
        "?agent=omp&model=m-alpha&metric=resolved",
    )
    .await;
    assert_eq!(
        keys(&b),
        [
            key("omp", "m-alpha", Some("high")),
            key("omp", "m-alpha", None)
        ]
    );
    assert_eq!(
        board(&server, &s.suite, "?agent=omp&model=m-beta").await["data"],
        json!([])
    );
    assert_eq!(
        board(&server, &s.suite, "?model=fake").await["data"],
        json!([]),
        "executed runs never count"
    );

    // `limit` keeps the top rows.
    let b = board(&server, &s.suite, "?limit=2").await;
    assert_eq!(
        keys(&b),
        [
            key("aider", "m-alpha", Some("medium")),
            key("omp", "m-alpha", None)
        ]
    );
    assert_eq!(
        rows(&board(&server, &s.suite, "?limit=1000").await).len(),
        6
    );
}

#[tokio::test]
async fn bad_parameters_and_unknown_suites() {
    let server = TestServer::start().await;
    let (suite_id, _) = suite(&server).await;
    let path = format!("/api/v1/llm/evals/suites/{suite_id}/leaderboard");
    let long_metric = format!("metric={}", "m".repeat(256));
    for (query, param) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=-3", "limit"),
        ("limit=ten", "limit"),
        ("suite_version=0", "suite_version"),
        ("suite_version=x", "suite_version"),
        ("metric=", "metric"),
        (long_metric.as_str(), "metric"),
        ("agent=", "agent"),
        ("model=", "model"),
    ] {
        let (status, body) = server.get(&format!("{path}?{query}")).await;
        assert_error(status, &body, 400, param);
    }
    let (status, body) = server
        .get("/api/v1/llm/evals/suites/eval_suite_missing/leaderboard")
        .await;
    assert_error(status, &body, 404, "");
    // Another tenant cannot tell the suite exists.
    let (status, body) = server.get_as(&server.other_key, &path).await;
    assert_error(status, &body, 404, "");
    // A deleted suite has no board.
    let (status, _) = server
        .delete(&format!("/api/v1/llm/evals/suites/{suite_id}"))
        .await;
    assert_eq!(status, 200);
    let (status, body) = server.get(&path).await;
    assert_error(status, &body, 404, "");
    // An empty suite's board is empty.
    let (empty, _) = suite(&server).await;
    let b = board(&server, &empty, "").await;
    assert_eq!(b["data"], json!([]));
}

#[tokio::test]
async fn a_share_recipient_sees_the_owners_board() {
    let server = TestServer::start().await;
    let s = scenario(&server).await;
    let path = format!("/api/v1/llm/evals/suites/{}/leaderboard", s.suite);
    let (status, body) = server.get_as(&server.other_key, &path).await;
    assert_error(status, &body, 404, "");
    let (status, body) = server
        .post(
            &format!("/api/v1/llm/evals/suites/{}/shares", s.suite),
            &json!({"org_id": "org_b"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let owner = board(&server, &s.suite, "?metric=resolved").await;
    let recipient = board_as(&server, &server.other_key, &s.suite, "?metric=resolved").await;
    assert_eq!(recipient, owner);
    assert_eq!(rows(&recipient).len(), 5);
}

#[tokio::test]
async fn a_rerun_trial_moves_the_board_once_its_run_is_finalized() {
    let server = TestServer::start().await;
    let s = scenario(&server).await;
    let trials = format!("/api/v1/llm/evals/runs/{}/trials", s.claude_beta_open);
    // The failed trial rerun and sent again: still open, still off the board.
    let (status, run) = server
        .post(
            &trials,
            &json!({"trials": [{"task_id": "t1", "sample_index": 0, "scores": {"reward": 1}}]}),
        )
        .await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["status"], "in_progress");
    let b = board(&server, &s.suite, "").await;
    let r = row(&b, "claude-code", "m-beta", None);
    assert_eq!(r["accuracy"], Value::Null);
    assert_eq!(r["run_ids"], json!([s.claude_beta_failed]));
    assert_eq!(keys(&b).last(), Some(&key("claude-code", "m-beta", None)));

    let (status, run) = server.post(&trials, &json!({"finalize": true})).await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["status"], "completed");
    let b = board(&server, &s.suite, "").await;
    let r = row(&b, "claude-code", "m-beta", None);
    // Both trials of the finalized run scored 1; the other run's failures have no score.
    assert_accuracy(r, 1.0, (1.0, 1.0, 0.0));
    assert_eq!(
        (r["trials"].as_i64(), r["failed_trials"].as_i64()),
        (Some(4), Some(2))
    );
    assert_eq!(r["run_count"], 2);
    // Equal sizes: the newer run (created at 1400) first.
    assert_eq!(
        r["run_ids"],
        json!([s.claude_beta_open, s.claude_beta_failed])
    );
    assert_eq!(r["last_run_at"], 1400);
    assert_eq!(
        keys(&b),
        [
            key("aider", "m-alpha", Some("medium")),
            key("claude-code", "m-beta", None),
            key("omp", "m-alpha", None),
            key("omp", "m-alpha", Some("high")),
            key("claude-code", "m-alpha", Some("high")),
        ]
    );
}
