//! The real `assay` binary under stress: killed with SIGKILL mid-run and restarted, and a
//! 10,000-sample run whose memory must stay flat. The fake model server runs in this process.

mod common;

use std::time::Duration;

use assay_testkit::{FakeModelOptions, FakeModelServer};
use common::{api, assert_each_index_once, start};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_run_then_restart_finishes_every_sample_exactly_once() {
    let models = FakeModelServer::start(FakeModelOptions {
        base_latency: Duration::from_millis(15),
        ..Default::default()
    })
    .await
    .expect("fake models");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = start(dir.path(), &models).await;
    let a = api(&server);
    let suite = a.suite(300, "durable").await;
    let run = a
        .post(
            "/api/v1/llm/evals/runs",
            &json!({"suite_id": suite, "models": ["fake"], "generation_concurrency": 4}),
        )
        .await;
    let run_id = run["id"].as_str().expect("run id").to_string();
    a.wait(&run_id, |r| {
        r["request_counts"]["completed"].as_i64().unwrap_or(0) >= 60
    })
    .await;
    let before: Vec<Value> = a
        .samples(&run_id)
        .await
        .into_iter()
        .filter(|s| s["status"] == "completed")
        .collect();
    server.child.kill().await.expect("SIGKILL");
    let calls_at_kill = models.requests().total;
    assert!(
        calls_at_kill < 300,
        "the run finished before it could be killed"
    );

    let server = start(dir.path(), &models).await;
    let a = api(&server);
    let run = a
        .wait(&run_id, |r| {
            r["status"] == "completed" || r["status"] == "failed"
        })
        .await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(
        run["request_counts"],
        json!({"total": 300, "completed": 300, "failed": 0})
    );
    assert_eq!(
        run["metrics"]["by_model"]["fake"]["n"]["metrics"]["exact_match"]["n"],
        300
    );
    assert_eq!(run["metrics"]["by_task"]["n"]["exact_match"], 1.0);

    let samples = a.samples(&run_id).await;
    assert_eq!(samples.len(), 300);
    assert_each_index_once(&samples, 300);
    assert!(samples.iter().all(|s| s["status"] == "completed"));
    // Samples completed before the kill were not generated again.
    for s in &before {
        let prompt = s["prompt"].as_str().expect("prompt");
        assert_eq!(
            models.calls_for(prompt),
            1,
            "regenerated after restart: {prompt}"
        );
    }
    // At most the calls in flight at the kill were repeated.
    assert!(
        models.requests().total <= 300 + 4,
        "{} calls",
        models.requests().total
    );
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_samples_complete_with_flat_memory() {
    let models = FakeModelServer::start(FakeModelOptions {
        log_capacity: 16,
        ..Default::default()
    })
    .await
    .expect("fake models");
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), &models).await;
    let pid = server.child.id().expect("pid");
    let a = api(&server);
    let mut peaks = Vec::new();
    for rows in [1_000usize, 10_000] {
        let suite = a.suite(rows, &format!("flat{rows}")).await;
        let (run, _) = a
            .finished_run(
                &json!({"suite_id": suite, "models": ["fake"], "generation_concurrency": 32}),
            )
            .await;
        assert_eq!(run["status"], "completed", "{run}");
        assert_eq!(
            run["request_counts"],
            json!({"total": rows, "completed": rows, "failed": 0})
        );
        peaks.push(peak_rss_kib(pid));
    }
    let growth_mib = (peaks[1].saturating_sub(peaks[0])) as f64 / 1024.0;
    eprintln!(
        "peak RSS after 1,000 samples: {} KiB; after 10,000: {} KiB",
        peaks[0], peaks[1]
    );
    // Ten times the samples may not cost ten times the memory: the growth stays small.
    assert!(
        growth_mib < 32.0,
        "peak RSS grew {growth_mib:.1} MiB from 1k to 10k samples"
    );
}
