//! Benchmark: samples per second of a trivial per-sample Python grader. Side by side in one
//! run: the sandbox's interpreter pool called directly (pools of 1, 2 and 4 interpreters,
//! sample-sized arguments), then whole runs on the real binary against the fake model server
//! (no latency) with built-in scoring only and with the same task graded in Python.
//! Run with `cargo bench -p assay-cli --bench grader_throughput`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use assay_sandbox::{InterpreterPool, NoBridge, Sandbox, SandboxConfig};
use assay_testkit::FakeModelOptions;
use serde_json::json;

const GRADER: &str =
    "def grade(sample, item):\n    return float(sample['extracted_output'] == item['target'])\n";
const POOL_CALLS: usize = 20_000;
const RUN_SAMPLES: usize = 4_000;
const TARGET: f64 = 2_000.0;

/// Calls per second through a pool of `size` interpreters, `size` callers at once.
async fn pool_rate(sandbox: &Sandbox, size: usize) -> f64 {
    let pool = Arc::new(InterpreterPool::new(
        sandbox.clone(),
        GRADER.to_string(),
        "grader.py".into(),
        size,
        Duration::from_secs(30),
    ));
    let sample = json!({
        "id": "evalsample_0123456789abcdef", "index": 17, "task_id": "n", "model": "fake",
        "prompt": "Question: what is the answer to this moderately long benchmark question? ".repeat(3),
        "output_text": "The answer is 42.", "extracted_output": "42", "target": "42",
        "scores": {"exact_match": 1.0}, "usage": {"input_tokens": 40, "output_tokens": 6},
    });
    let item = json!({"q": "what is the answer?", "a": "42", "target": "42"});
    // Start every interpreter before timing.
    {
        let mut warm = Vec::new();
        for _ in 0..size {
            warm.push(pool.acquire().await.expect("interpreter"));
        }
    }
    let started = Instant::now();
    let mut callers = Vec::new();
    for c in 0..size {
        let (pool, sample, item) = (pool.clone(), sample.clone(), item.clone());
        callers.push(tokio::spawn(async move {
            for _ in (c..POOL_CALLS).step_by(size) {
                let mut interpreter = pool.acquire().await.expect("interpreter");
                let score = interpreter
                    .call(
                        "grade",
                        vec![sample.clone(), item.clone()],
                        None,
                        Duration::from_secs(30),
                        &mut NoBridge,
                    )
                    .await
                    .expect("grade");
                assert_eq!(score, json!(1.0));
            }
        }));
    }
    for caller in callers {
        caller.await.expect("caller");
    }
    POOL_CALLS as f64 / started.elapsed().as_secs_f64()
}

/// Samples per second of one run of `RUN_SAMPLES` samples.
async fn run_rate(
    api: &common::Api,
    tag: &str,
    extra: serde_json::Value,
    grader_concurrency: usize,
) -> f64 {
    let suite = api.suite_with(RUN_SAMPLES, tag, extra).await;
    let (run, seconds) = api
        .finished_run(
            &json!({"suite_id": suite, "models": ["fake"], "generation_concurrency": 32,
            "grader_concurrency": grader_concurrency}),
        )
        .await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["request_counts"]["completed"], RUN_SAMPLES, "{run}");
    RUN_SAMPLES as f64 / seconds
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sandbox = Sandbox::new(SandboxConfig::default());
    if let Err(why) = sandbox.available().await {
        eprintln!("no sandbox Python: {why}");
        return;
    }
    println!("trivial per-sample grader, target {TARGET:.0} samples/s");
    println!("{:<44} {:>12} {:>10}", "what", "samples/s", "÷ target");
    for size in [1, 2, 4] {
        let rate = pool_rate(&sandbox, size).await;
        println!(
            "{:<44} {rate:>12.0} {:>10.2}",
            format!("sandbox pool, {size} interpreter(s)"),
            rate / TARGET
        );
    }

    // Kept to the end: dropping it stops the server and the fake model.
    let bench = common::bench(FakeModelOptions {
        log_capacity: 16,
        ..Default::default()
    })
    .await;
    let api = &bench.api;
    let builtin = run_rate(api, "builtin", json!({}), 4).await;
    println!(
        "{:<44} {builtin:>12.0} {:>10.2}",
        "whole run, built-in scoring only",
        builtin / TARGET
    );
    for concurrency in [2, 4] {
        let graded = run_rate(
            api,
            &format!("python{concurrency}"),
            json!({"grader": {"source": GRADER}}),
            concurrency,
        )
        .await;
        println!(
            "{:<44} {graded:>12.0} {:>10.2}   ({:.2}× built-in)",
            format!("whole run, Python grader, grader_concurrency {concurrency}"),
            graded / TARGET,
            graded / builtin
        );
    }
}
