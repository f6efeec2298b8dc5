//! Benchmark: one run of 1,000,000 samples (`ASSAY_BENCH_ROWS` to change it) of a plain
//! generated task against the zero-latency fake model, 64 in flight, on SQLite. Prints the
//! server's peak resident memory (`VmHWM`, goal under 200 MB), how long finalization took
//! (metrics with standard errors and both artifacts; from the run turning `finalizing` to
//! `completed`, goal under 10 s), and what a page of the sample listing costs at the start,
//! the middle and the end of the run (they should cost the same). Run with
//! `cargo bench -p assay-cli --bench million_samples`; it takes several minutes.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use assay_testkit::FakeModelOptions;
use serde_json::{json, Value};

const GOAL_RSS_MB: f64 = 200.0;
const GOAL_FINALIZE_SECONDS: f64 = 10.0;
/// Listing pages fetched per position; the median is reported.
const PAGE_FETCHES: usize = 21;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rows = common::bench_rows(1_000_000);
    // Kept to the end: dropping it stops the server and the fake model.
    let bench = common::bench(FakeModelOptions {
        log_capacity: 16,
        ..Default::default()
    })
    .await;
    let api = &bench.api;
    let pid = bench.server.child.id().expect("server pid");

    let made = Instant::now();
    let suite = api.suite(rows, "million").await;
    let suite_seconds = made.elapsed().as_secs_f64();
    let started = Instant::now();
    let run = api
        .post(
            "/api/v1/llm/evals/runs",
            &json!({"suite_id": suite, "models": ["fake"], "generation_concurrency": 64}),
        )
        .await;
    let run_id = run["id"].as_str().expect("run id").to_string();
    let path = format!("/api/v1/llm/evals/runs/{run_id}");
    // Watched every 20 ms: when the run turns `finalizing`, and when it completes.
    let mut finalizing_at = None;
    let mut rss_before_finalizing = None;
    let run = loop {
        let run = api.get(&path).await;
        match run["status"].as_str() {
            Some("finalizing") if finalizing_at.is_none() => {
                finalizing_at = Some(Instant::now());
                rss_before_finalizing = Some(common::peak_rss_kib(pid));
            }
            Some("completed") | Some("failed") => break run,
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let ended = Instant::now();
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(
        run["request_counts"],
        json!({"total": rows, "completed": rows, "failed": 0})
    );
    assert_eq!(run["metrics"]["by_task"]["n"]["exact_match"], 1.0, "{run}");
    let run_seconds = (ended - started).as_secs_f64();
    let finalize_seconds = finalizing_at.map(|at| (ended - at).as_secs_f64());
    let rss_mb = common::peak_rss_kib(pid) as f64 / 1024.0;

    let listing = format!("{path}/samples?limit=100&include_dataset_row=false");
    let mut pages = Vec::new();
    for (name, index) in [
        ("first", None),
        ("middle", Some(rows / 2)),
        ("last", Some(rows - 100)),
    ] {
        let url = match index {
            None => listing.clone(),
            Some(index) => {
                let found = api
                    .get(&format!("{path}/samples?sample_index={index}&limit=1"))
                    .await;
                let id = found["data"][0]["id"].as_str().expect("sample id");
                format!("{listing}&after={id}")
            }
        };
        pages.push((name, median_ms(api, &url).await));
    }

    println!("{rows} samples, generation_concurrency 64, zero-latency fake model, SQLite");
    println!("suite created in {suite_seconds:.1} s; run completed in {run_seconds:.1} s");
    println!("{:<34} {:>10} {:>8}", "measure", "value", "goal");
    println!(
        "{:<34} {:>10.1} {:>8.0}",
        "server peak RSS, MB", rss_mb, GOAL_RSS_MB
    );
    if let Some(kib) = rss_before_finalizing {
        println!(
            "{:<34} {:>10.1} {:>8.0}",
            "peak RSS before finalizing, MB",
            kib as f64 / 1024.0,
            GOAL_RSS_MB
        );
    }
    match finalize_seconds {
        Some(s) => println!(
            "{:<34} {:>10.2} {:>8.0}",
            "finalization, s", s, GOAL_FINALIZE_SECONDS
        ),
        None => println!("finalization was not seen (shorter than one 20 ms poll)"),
    }
    for (name, ms) in pages {
        println!(
            "{:<34} {:>10.2} {:>8}",
            format!("listing page of 100, {name}, ms"),
            ms,
            "same"
        );
    }
}

/// The median time of `PAGE_FETCHES` fetches of `url`, in milliseconds.
async fn median_ms(api: &common::Api, url: &str) -> f64 {
    let mut times = Vec::with_capacity(PAGE_FETCHES);
    for _ in 0..PAGE_FETCHES {
        let at = Instant::now();
        let page: Value = api.get(url).await;
        times.push(at.elapsed().as_secs_f64() * 1000.0);
        assert!(
            !page["data"].as_array().expect("data").is_empty(),
            "{url}: empty page"
        );
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}
