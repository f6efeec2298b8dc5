//! Benchmark: how long after a run is created its first model call starts, as the dataset
//! grows. For each size a suite of one generated task over that many rows is created, a run is
//! started, the fake model server's request count is watched until the first call arrives,
//! then the run until its `request_counts.total` is the row count (`total s`), and the run is
//! cancelled. The goal is under 1 s at 1,000,000 rows. Run with
//! `cargo bench -p assay-cli --bench first_call`; `ASSAY_BENCH_SIZES` (comma-separated row
//! counts, default `10000,100000`) chooses the sizes.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use assay_testkit::FakeModelOptions;
use serde_json::json;

/// Seconds to the first model call to reach at 1,000,000 rows.
const GOAL_SECONDS: f64 = 1.0;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sizes: Vec<usize> = std::env::var("ASSAY_BENCH_SIZES")
        .unwrap_or_else(|_| "10000,100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    // Kept to the end: dropping it stops the server and the fake model.
    let bench = common::bench(FakeModelOptions {
        log_capacity: 16,
        ..Default::default()
    })
    .await;
    let api = &bench.api;
    let models = &bench.models;
    println!(
        "{:>9} {:>9} {:>14} {:>8} {:>9}",
        "rows", "suite s", "first call s", "goal s", "total s"
    );
    for rows in sizes {
        let made = Instant::now();
        let suite = api.suite(rows, &format!("first{rows}")).await;
        let suite_seconds = made.elapsed().as_secs_f64();
        let before = models.requests().total;
        let started = Instant::now();
        let run = api
            .post(
                "/api/v1/llm/evals/runs",
                &json!({"suite_id": suite, "models": ["fake"], "generation_concurrency": 8}),
            )
            .await;
        let run_id = run["id"].as_str().expect("run id").to_string();
        // Polled, not awaited: the measure is when the fake server sees a call.
        while models.requests().total == before {
            assert!(
                started.elapsed() < Duration::from_secs(600),
                "no model call within 10 minutes"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let first = started.elapsed().as_secs_f64();
        // Counted from the file while planning goes on.
        api.wait(&run_id, |r| r["request_counts"]["total"] == rows)
            .await;
        let counted = started.elapsed().as_secs_f64();
        api.post(
            &format!("/api/v1/llm/evals/runs/{run_id}/cancel"),
            &json!({}),
        )
        .await;
        api.wait(&run_id, |r| r["status"] == "cancelled").await;
        println!("{rows:>9} {suite_seconds:>9.2} {first:>14.3} {GOAL_SECONDS:>8.1} {counted:>9.3}");
    }
}
