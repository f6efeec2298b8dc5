//! The real `assay` binary under stress: killed with SIGKILL mid-run and restarted, and a
//! 10,000-sample run whose memory must stay flat. The fake model server runs in this process.

mod common;

use std::time::Duration;

use assay_testkit::{FakeModelOptions, FakeModelServer};
use common::{api, assert_each_index_once, peak_rss_kib, start};
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
    let run = a.wait_finished(&run_id).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_while_planning_then_restart_plans_every_row_exactly_once() {
    const ROWS: i64 = 10_000;
    const CONCURRENCY: u64 = 8;
    let models = FakeModelServer::start(FakeModelOptions {
        log_capacity: 16,
        ..Default::default()
    })
    .await
    .expect("fake models");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = start(dir.path(), &models).await;
    let a = api(&server);
    let suite = a.suite(ROWS as usize, "planning").await;
    let run = a
        .post(
            "/api/v1/llm/evals/runs",
            &json!({"suite_id": suite, "models": ["fake"], "generation_concurrency": CONCURRENCY}),
        )
        .await;
    let run_id = run["id"].as_str().expect("run id").to_string();
    // The run's size is counted from the file while planning goes on, and samples run as
    // soon as planning commits its first batch: kill the server then.
    a.wait(&run_id, |r| r["request_counts"]["total"] == ROWS)
        .await;
    models.wait_for_calls("planning 0 [[answer:0]]", 1).await;
    server.child.kill().await.expect("SIGKILL");
    server.child.wait().await.expect("killed");
    // The database says planning was cut short.
    let data_dir = dir.path();
    let store = assay_store::Store::open(
        &assay_store::DatabaseConfig::default().with_default_under(data_dir),
        &assay_store::StorageConfig::default().with_default_under(data_dir),
    )
    .await
    .expect("store");
    let planned_at_kill = store.count_samples(&run_id).await.expect("count");
    let record = store.run_record(&run_id).await.expect("run");
    store.close().await;
    eprintln!("{planned_at_kill} of {ROWS} samples planned at the kill");
    assert!(
        !record.planned && planned_at_kill < ROWS,
        "planning finished before the server could be killed ({planned_at_kill} samples)"
    );

    let server = start(dir.path(), &models).await;
    let a = api(&server);
    let run = a.wait_finished(&run_id).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(
        run["request_counts"],
        json!({"total": ROWS, "completed": ROWS, "failed": 0})
    );
    assert_eq!(run["metrics"]["by_task"]["n"]["exact_match"], 1.0);
    let samples = a.samples(&run_id).await;
    assert_eq!(samples.len() as i64, ROWS);
    assert_each_index_once(&samples, ROWS);
    // Every row was called once, except at most the calls in flight at the kill.
    let calls = models.requests().total;
    assert!(
        calls <= ROWS as u64 + CONCURRENCY,
        "{calls} calls for {ROWS} rows"
    );
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
