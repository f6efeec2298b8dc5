//! Benchmark: sample throughput of one run against the fake model server with a fixed latency,
//! as a ratio of the ideal `concurrency / latency`: 50 ms at 1 to 64 in flight, then 200 ms at
//! 8 to 256 in flight (the goal: at least 0.95 of ideal at 256, 20,000 samples). Run with
//! `cargo bench -p assay-cli --bench run_throughput` (release build of the real binary).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use assay_testkit::FakeModelOptions;
use serde_json::json;

/// Fraction of the ideal throughput to reach at 256 in flight with 200 ms latency.
const GOAL_AT_256: f64 = 0.95;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!(
        "{:>10} {:>11} {:>8} {:>10} {:>14} {:>14} {:>7}",
        "latency ms", "concurrency", "samples", "seconds", "samples/s", "ideal/s", "ratio"
    );
    let plan: [(u64, &[(usize, usize)]); 2] = [
        (50, &[(1, 60), (8, 400), (32, 1600), (64, 3200)]),
        (200, &[(8, 400), (32, 1600), (128, 6400), (256, 20_000)]),
    ];
    for (latency_ms, runs) in plan {
        let latency = Duration::from_millis(latency_ms);
        // Kept to the end of its runs: dropping it stops the server and the fake model.
        let bench = common::bench(FakeModelOptions {
            base_latency: latency,
            log_capacity: 16,
            ..Default::default()
        })
        .await;
        let api = &bench.api;
        for &(concurrency, samples) in runs {
            let suite = api
                .suite(samples, &format!("bench{latency_ms}x{concurrency}"))
                .await;
            let (run, seconds) = api
                .finished_run(&json!({"suite_id": suite, "models": ["fake"], "generation_concurrency": concurrency}))
                .await;
            assert_eq!(run["status"], "completed", "{run}");
            let achieved = samples as f64 / seconds;
            let ideal = concurrency as f64 / latency.as_secs_f64();
            println!(
                "{latency_ms:>10} {concurrency:>11} {samples:>8} {seconds:>10.2} {achieved:>14.1} {ideal:>14.1} {:>7.3}",
                achieved / ideal
            );
        }
    }
    println!("goal at 256 in flight, 200 ms: ratio >= {GOAL_AT_256}");
}
