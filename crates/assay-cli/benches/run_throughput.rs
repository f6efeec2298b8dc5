//! Benchmark: sample throughput of one run against the fake model server with a fixed 50 ms
//! latency, as a ratio of the ideal `concurrency / latency`. Run with
//! `cargo bench -p assay-cli --bench run_throughput` (release build of the real binary).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use assay_testkit::{FakeModelOptions, FakeModelServer};
use serde_json::json;

const LATENCY: Duration = Duration::from_millis(50);

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let models = FakeModelServer::start(FakeModelOptions {
        base_latency: LATENCY,
        log_capacity: 16,
        ..Default::default()
    })
    .await
    .expect("fake model server");
    let dir = tempfile::tempdir().expect("tempdir");
    let server = common::start(dir.path(), &models).await;
    let api = common::api(&server);
    println!(
        "{:>11} {:>8} {:>10} {:>14} {:>14} {:>7}",
        "concurrency", "samples", "seconds", "samples/s", "ideal/s", "ratio"
    );
    for (concurrency, samples) in [(1usize, 60usize), (8, 400), (32, 1600), (64, 3200)] {
        let suite = api.suite(samples, &format!("bench{concurrency}")).await;
        let (run, seconds) = api
            .finished_run(&json!({"suite_id": suite, "models": ["fake"], "generation_concurrency": concurrency}))
            .await;
        assert_eq!(run["status"], "completed", "{run}");
        let achieved = samples as f64 / seconds;
        let ideal = concurrency as f64 / LATENCY.as_secs_f64();
        println!(
            "{concurrency:>11} {samples:>8} {seconds:>10.2} {achieved:>14.1} {ideal:>14.1} {:>7.3}",
            achieved / ideal
        );
    }
}
