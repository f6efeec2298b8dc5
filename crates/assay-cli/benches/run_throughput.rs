//! Benchmark: sample throughput of one run against the fake model server with a fixed 50 ms
//! latency, as a ratio of the ideal `concurrency / latency`. Run with
//! `cargo bench -p assay-cli --bench run_throughput` (release build of the real binary).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use assay_testkit::FakeModelOptions;
use serde_json::json;

const LATENCY: Duration = Duration::from_millis(50);

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // Kept to the end: dropping it stops the server and the fake model.
    let bench = common::bench(FakeModelOptions {
        base_latency: LATENCY,
        log_capacity: 16,
        ..Default::default()
    })
    .await;
    let api = &bench.api;
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
