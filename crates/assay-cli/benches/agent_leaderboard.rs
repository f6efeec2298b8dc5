//! Benchmark: latency of the coding-agent leaderboard (`GET /suites/{id}/leaderboard`) over
//! 1,000 imported runs of 100 trials each, on the real binary: SQLite, then Postgres when
//! `ASSAY_TEST_POSTGRES_URL` names a server. The runs are seeded through the import API, a few
//! requests at a time; the board is then read warm, 50 times per query shape, and the median
//! and 95th percentile printed against the 100 ms goal.
//! Run with `cargo bench -p assay-cli --bench agent_leaderboard`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use assay_testkit::{services, FakeModelOptions, FakeModelServer};
use serde_json::{json, Value};
use tokio::task::JoinSet;

const RUNS: usize = 1_000;
const TRIALS_PER_RUN: usize = 100;
/// The suite's tasks; each run has `TRIALS_PER_RUN / TASKS` trials of every task.
const TASKS: usize = 10;
/// Import requests in flight while seeding.
const SEED_CONCURRENCY: usize = 4;
const WARMUP: usize = 5;
const SAMPLES: usize = 50;
const GOAL: Duration = Duration::from_millis(100);

const AGENTS: [&str; 4] = ["omp", "claude-code", "codex", "aider"];
const MODELS: [&str; 5] = ["model-a", "model-b", "model-c", "model-d", "model-e"];
const EFFORTS: [Option<&str>; 3] = [None, Some("medium"), Some("high")];

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let models = FakeModelServer::start(FakeModelOptions::default())
        .await
        .expect("fake model server");
    println!("{RUNS} imported runs x {TRIALS_PER_RUN} trials; {SAMPLES} warm requests per query");
    println!(
        "{:<9} {:<26} {:>5} {:>11} {:>9} {:>9} {:>6}",
        "database", "query", "rows", "seed (s)", "p50 ms", "p95 ms", "goal"
    );
    bench("sqlite", &models, &[]).await;
    match services::postgres_url() {
        Some(url) => {
            let database = services::fresh_postgres_database(&url).await;
            bench("postgres", &models, &[("ASSAY_DATABASE_URL", database)]).await;
        }
        None => println!("postgres  skipped: ASSAY_TEST_POSTGRES_URL is unset"),
    }
}

/// Seeds a fresh server and times the board's query shapes on it.
async fn bench(database: &str, models: &FakeModelServer, env: &[(&str, String)]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut env: Vec<(&str, String)> = env.to_vec();
    env.push(("ASSAY_MODELS_FAKE__KIND", "chat_completions".to_string()));
    env.push(("ASSAY_MODELS_FAKE__BASE_URL", models.openai_base_url()));
    // Concurrent imports queue for SQLite's one writer; its slow-statement warnings are noise.
    env.push(("ASSAY_LOG_LEVEL", "error".to_string()));
    let server = common::start_with(dir.path(), &env).await;
    let api = common::api(&server);
    let suite = suite(&api).await;

    let started = Instant::now();
    seed(&api, &suite).await;
    let seed_seconds = started.elapsed().as_secs_f64();

    let board = format!("/api/v1/llm/evals/suites/{suite}/leaderboard");
    for (name, query) in [
        ("default (reward)", String::new()),
        ("metric=resolved", "?metric=resolved".to_string()),
        ("model=model-c", "?model=model-c".to_string()),
        (
            "agent=omp&metric=resolved",
            "?agent=omp&metric=resolved".to_string(),
        ),
    ] {
        let path = format!("{board}{query}");
        let rows = api.get(&path).await["data"].as_array().map_or(0, Vec::len);
        for _ in 0..WARMUP {
            api.get(&path).await;
        }
        let mut times = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            let t = Instant::now();
            api.get(&path).await;
            times.push(t.elapsed());
        }
        times.sort();
        let p50 = times[SAMPLES / 2];
        let p95 = times[(SAMPLES * 95).div_ceil(100) - 1];
        println!(
            "{database:<9} {name:<26} {rows:>5} {seed_seconds:>11.1} {:>9.2} {:>9.2} {:>6}",
            ms(p50),
            ms(p95),
            if p95 < GOAL { "met" } else { "MISSED" }
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A suite of `TASKS` tasks over one small dataset.
async fn suite(api: &common::Api) -> String {
    let file = api
        .upload(
            "tasks.jsonl",
            format!("{}\n", json!({"q": "Fix the bug.", "a": "ok"})),
        )
        .await;
    let tasks: Vec<Value> = (0..TASKS)
        .map(|t| {
            json!({"id": format!("task-{t}"), "type": "qa", "dataset": {"file_id": file},
                   "prompt_template": "{{q}}", "target_template": "{{a}}"})
        })
        .collect();
    let suite = api
        .post(
            "/api/v1/llm/evals/suites",
            &json!({"name": "agent board bench", "manifest": {"tasks": tasks}}),
        )
        .await;
    suite["id"].as_str().expect("suite id").to_string()
}

/// Imports `RUNS` runs, `SEED_CONCURRENCY` requests at a time.
async fn seed(api: &common::Api, suite: &str) {
    let mut inflight = JoinSet::new();
    for run in 0..RUNS {
        if inflight.len() >= SEED_CONCURRENCY {
            inflight.join_next().await.expect("a task").expect("import");
        }
        let client = api.client.clone();
        let url = format!("{}/api/v1/llm/evals/imports/agent-run", api.base);
        let body = import_body(suite, run);
        inflight.spawn(async move {
            let response = client
                .post(url)
                .bearer_auth(common::KEY)
                .json(&body)
                .send()
                .await
                .expect("import request");
            let status = response.status();
            assert!(
                status.is_success(),
                "{status}: {}",
                response.text().await.unwrap_or_default()
            );
        });
    }
    while let Some(done) = inflight.join_next().await {
        done.expect("import");
    }
}

/// Run `run` of the seed: its agent, model and effort cycle through 60 rows; its trials get
/// deterministic pseudo-random rewards, spend, tokens and agent timings.
fn import_body(suite: &str, run: usize) -> Value {
    let agent = AGENTS[run % AGENTS.len()];
    let model = MODELS[(run / AGENTS.len()) % MODELS.len()];
    let effort = EFFORTS[(run / (AGENTS.len() * MODELS.len())) % EFFORTS.len()];
    let mut state = run as u64 * 0x9E37_79B9_7F4A_7C15 + 1;
    let trials: Vec<Value> = (0..TRIALS_PER_RUN)
        .map(|i| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let reward = f64::from(!(state >> 33).is_multiple_of(3));
            let seconds = 30 + (state >> 40) % 600;
            json!({
                "task_id": format!("task-{}", i % TASKS),
                "sample_index": i / TASKS,
                "scores": {"reward": reward, "resolved": reward},
                "cost_usd": 0.01 * ((state >> 20) % 50) as f64,
                "input_tokens": 10_000 + (state >> 24) % 90_000,
                "output_tokens": 1_000 + (state >> 28) % 9_000,
                "cached_tokens": 5_000,
                "phase_timings": {"agent_execution": {
                    "started_at": "2026-01-02T03:00:00Z",
                    "finished_at": format!("2026-01-02T03:{:02}:{:02}Z", seconds / 60, seconds % 60),
                }},
            })
        })
        .collect();
    json!({
        "suite_id": suite,
        "agent_name": agent,
        "agent_version": format!("1.{}", run % 7),
        "agent_effort": effort,
        "model": model,
        "created_at": 1_767_000_000 + run as i64 * 60,
        "trials": trials,
    })
}
