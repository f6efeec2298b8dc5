//! Benchmark: sample throughput of one run on Temporal with one and with two `assay worker`
//! processes, as a ratio of the local executor's on the same suite (5,000 samples, 64 in
//! flight), against the fake model server with a fixed 50 ms latency. The goal is a ratio of
//! at least 0.9. Needs the `temporal` CLI (see `assay_testkit::services`).
//! Run with `cargo bench -p assay-cli --bench temporal_throughput`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use assay_testkit::services::TemporalDevServer;
use assay_testkit::{FakeModelOptions, FakeModelServer};
use serde_json::json;

const LATENCY: Duration = Duration::from_millis(50);
const SAMPLES: usize = 5_000;
const CONCURRENCY: usize = 64;
/// Throughput on Temporal to reach, as a fraction of the local executor's.
const GOAL_RATIO: f64 = 0.9;

/// Seconds for one run of `SAMPLES` samples through `api`.
async fn timed_run(api: &common::Api, tag: &str) -> f64 {
    let suite = api.suite(SAMPLES, tag).await;
    let (run, seconds) = api
        .finished_run(
            &json!({"suite_id": suite, "models": ["fake"], "generation_concurrency": CONCURRENCY}),
        )
        .await;
    assert_eq!(run["status"], "completed", "{run}");
    seconds
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let Some(temporal) = TemporalDevServer::start() else {
        eprintln!("no temporal CLI: nothing to measure");
        return;
    };
    let models = FakeModelServer::start(FakeModelOptions {
        base_latency: LATENCY,
        log_capacity: 16,
        ..Default::default()
    })
    .await
    .expect("fake model server");
    let registry = vec![
        ("ASSAY_MODELS_FAKE__KIND", "chat_completions".to_string()),
        ("ASSAY_MODELS_FAKE__BASE_URL", models.openai_base_url()),
    ];

    let local_dir = tempfile::tempdir().expect("tempdir");
    let local = common::start_with(local_dir.path(), &registry).await;
    let local_seconds = timed_run(&common::api(&local), "local").await;
    drop(local);

    let dir = tempfile::tempdir().expect("tempdir");
    let mut env = registry.clone();
    env.push(("ASSAY_EXECUTOR_KIND", "temporal".to_string()));
    env.push(("ASSAY_EXECUTOR_TEMPORAL__ADDRESS", temporal.url()));
    let server = common::start_with(dir.path(), &env).await;
    let api = common::api(&server);
    let _first = common::start_worker(dir.path(), &env).await;
    let one_worker = timed_run(&api, "one").await;
    let _second = common::start_worker(dir.path(), &env).await;
    let two_workers = timed_run(&api, "two").await;

    let ideal = CONCURRENCY as f64 / LATENCY.as_secs_f64();
    println!(
        "{SAMPLES} samples, generation_concurrency {CONCURRENCY}, {} ms model latency (ideal {ideal:.0} samples/s)",
        LATENCY.as_millis()
    );
    println!(
        "{:<22} {:>9} {:>11} {:>16}",
        "executor", "seconds", "samples/s", "ratio to local"
    );
    println!("goal: ratio to local >= {GOAL_RATIO}");
    for (name, seconds) in [
        ("local", local_seconds),
        ("temporal, 1 worker", one_worker),
        ("temporal, 2 workers", two_workers),
    ] {
        println!(
            "{name:<22} {seconds:>9.2} {:>11.1} {:>16.3}",
            SAMPLES as f64 / seconds,
            local_seconds / seconds
        );
    }
}
