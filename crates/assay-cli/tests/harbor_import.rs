//! `assay import harbor` end to end: the real binary imports the fixture job (written by
//! Harbor's own models, `tests/reference/make_harbor_job.py`) into a real `assay serve`.

mod common;

use std::path::PathBuf;
use std::process::Output;

use serde_json::{json, Value};

const MODEL: &str = "anthropic/claude-sonnet-4-5";

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/harbor-job")
}

/// Runs `assay import harbor JOB_DIR --suite SUITE EXTRA…` against `server`.
async fn import(server: &str, job_dir: &std::path::Path, suite: &str, extra: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_assay"))
        .args(["import", "harbor"])
        .arg(job_dir)
        .args(["--suite", suite])
        .args(extra)
        .env("ASSAY_SERVER_URL", server)
        .env("ASSAY_API_KEY", common::KEY)
        .output()
        .await
        .expect("assay import runs")
}

/// The run id at the end of the URL the import printed, after checking the URL's form.
fn printed_run(server: &str, output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    let url = stdout.trim();
    let prefix = format!("{server}/api/v1/llm/evals/runs/");
    let id = url
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{url} is a run URL"));
    assert!(id.starts_with("eval_run_"), "{url}");
    id.to_string()
}

/// A suite whose tasks are the fixture's (each with the one-row dataset every task needs).
async fn suite(api: &common::Api, tasks: &[&str]) -> String {
    let file = api
        .upload("tasks.jsonl", format!("{}\n", json!({"instruction": "x"})))
        .await;
    let tasks: Vec<Value> = tasks
        .iter()
        .map(|id| json!({"id": id, "type": "custom", "dataset": {"file_id": file}, "prompt_template": "{{instruction}}"}))
        .collect();
    let suite = api
        .post(
            "/api/v1/llm/evals/suites",
            &json!({"name": "harbor tasks", "manifest": {"tasks": tasks}}),
        )
        .await;
    suite["id"].as_str().expect("suite id").to_string()
}

async fn runs_of(api: &common::Api, suite: &str) -> Vec<Value> {
    let runs = api
        .get(&format!("/api/v1/llm/evals/runs?suite_id={suite}"))
        .await;
    runs["data"].as_array().expect("runs").clone()
}

fn assert_run(run: &Value) {
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["agent_name"], "claude-code");
    assert_eq!(run["agent_version"], "2.1.3");
    assert_eq!(run["agent_effort"], "high");
    assert_eq!(run["models"], json!([MODEL]));
    assert_eq!(run["task_ids"], Value::Null, "every task is covered");
    assert_eq!(
        run["request_counts"],
        json!({"total": 6, "completed": 4, "failed": 2})
    );
    // Reported by some trials only: summed where reported, null where nobody did.
    assert_eq!(
        run["tokens"],
        json!({"input": 280_000, "output": 9_150, "cached": 208_000, "reasoning": null})
    );
    let cost = run["cost_usd"].as_f64().expect("cost");
    assert!((cost - 0.5421).abs() < 1e-9, "{cost}");
    // The first trial's start (the job's own start is naive local time).
    assert_eq!(run["created_at"], 1_772_445_601);
    assert_eq!(run["metadata"]["harbor_job_name"], "harbor-job");
    assert_eq!(
        run["metadata"]["harbor_job_id"],
        "6f1c2d3e-4a5b-4c6d-8e7f-90a1b2c3d4e5"
    );
}

#[tokio::test]
async fn a_harbor_job_imports_as_one_run_with_its_trajectories() {
    let data = tempfile::tempdir().expect("data dir");
    let server = common::start_with(data.path(), &[]).await;
    let api = common::api(&server);
    let base = server.base.clone();
    let suite_id = suite(&api, &["hello-world", "fix-bug", "write-docs"]).await;

    let first = import(&base, &fixture(), &suite_id, &[]).await;
    let run_id = printed_run(&base, &first);
    let summary = String::from_utf8_lossy(&first.stderr);
    assert!(
        summary.contains("6 trials, 2 failed, 5 trajectories"),
        "{summary}"
    );

    let run = api.get(&format!("/api/v1/llm/evals/runs/{run_id}")).await;
    assert_run(&run);

    let samples = api.samples(&run_id).await;
    let sample = |task: &str, index: i64| -> &Value {
        samples
            .iter()
            .find(|s| s["task_id"] == task && s["sample_index"] == index)
            .unwrap_or_else(|| panic!("sample {task} {index}"))
    };
    assert_eq!(samples.len(), 6);

    // Attempts in start order: the first hello-world trial solved it.
    let solved = sample("hello-world", 0);
    assert_eq!(solved["status"], "completed");
    assert_eq!(solved["model"], MODEL);
    assert_eq!(solved["scores"], json!({"reward": 1.0}));
    assert_eq!(solved["error"], Value::Null);
    assert_eq!(
        (
            &solved["input_tokens"],
            &solved["cached_tokens"],
            &solved["output_tokens"]
        ),
        (&json!(12_000), &json!(8_000), &json!(900))
    );
    assert!(solved["prompt"]
        .as_str()
        .unwrap()
        .starts_with("Create a file called hello.txt"));
    assert!(solved["output_text"].as_str().unwrap().contains("1 passed"));
    assert_eq!(
        solved["phase_timings"],
        json!({
            "environment_setup": {"started_at": "2026-03-02T10:00:01.500000Z", "finished_at": "2026-03-02T10:00:13.750000Z"},
            "agent_setup": {"started_at": "2026-03-02T10:00:13.750000Z", "finished_at": "2026-03-02T10:00:21.500000Z"},
            "agent_execution": {"started_at": "2026-03-02T10:00:21.500000Z", "finished_at": "2026-03-02T10:01:06.500000Z"},
            "verifier": {"started_at": "2026-03-02T10:01:06.500000Z", "finished_at": "2026-03-02T10:01:15Z"}
        })
    );
    let no_cost = sample("hello-world", 1);
    assert_eq!(no_cost["scores"], json!({"reward": 0.0}));
    assert_eq!(
        no_cost["cost_usd"],
        Value::Null,
        "unreported is null, not 0"
    );

    let timeout = sample("fix-bug", 0);
    assert_eq!(
        timeout["status"], "completed",
        "a timed-out agent the verifier scored"
    );
    assert_eq!(timeout["scores"], json!({"reward": 0.5}));
    assert_eq!(timeout["error"]["type"], "AgentTimeoutError");
    assert_eq!(
        timeout["error"]["message"],
        "Agent execution timed out after 900.0 seconds"
    );

    let setup_failed = sample("fix-bug", 1);
    assert_eq!(setup_failed["status"], "failed");
    assert_eq!(setup_failed["error"]["type"], "AgentSetupTimeoutError");
    assert_eq!(setup_failed["input_tokens"], Value::Null);
    let phases: Vec<&String> = setup_failed["phase_timings"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(phases, ["environment_setup", "agent_setup"]);

    let docs = sample("write-docs", 0);
    assert_eq!(docs["scores"], json!({"reward": 1.0, "style": 0.75}));
    assert_eq!(
        (&docs["input_tokens"], &docs["cost_usd"]),
        (&Value::Null, &Value::Null)
    );
    let voided = sample("write-docs", 1);
    assert_eq!(voided["status"], "failed", "Harbor voided its reward");
    assert_eq!(voided["error"]["type"], "ApiRateLimitError");
    assert_eq!(
        voided["error"]["voided_rewards"],
        json!({"reward": 0.0, "style": 0.0})
    );

    // Trajectories: the steps as the file has them, the schema it names, the log tails.
    let path = |task: &str, index: i64| {
        format!("/api/v1/llm/evals/runs/{run_id}/samples/{index}/trajectory?task_id={task}")
    };
    let trajectory = api.get(&path("hello-world", 0)).await;
    assert_eq!(trajectory["schema_version"], "ATIF-v1.6");
    assert_eq!(trajectory["step_count"], 3);
    assert_eq!(
        trajectory["steps"][1]["tool_calls"][0]["function_name"],
        "Bash"
    );
    assert_eq!(
        trajectory["steps"][0]["message"], solved["prompt"],
        "the prompt is the instruction"
    );
    let logs = trajectory["logs"].as_object().expect("logs");
    assert_eq!(
        logs.keys().collect::<Vec<_>>(),
        ["trial.log", "verifier/test-stdout.txt"]
    );
    let timeout_logs = &api.get(&path("fix-bug", 0)).await["logs"];
    assert!(timeout_logs["exception.txt"]
        .as_str()
        .unwrap()
        .contains("AgentTimeoutError"));
    let missing = api
        .client
        .get(format!("{}{}", base, path("fix-bug", 1)))
        .bearer_auth(common::KEY)
        .send()
        .await
        .expect("request");
    assert_eq!(
        missing.status(),
        404,
        "a trial without a trajectory has none"
    );

    // Again: the same run, nothing new.
    let again = import(&base, &fixture(), &suite_id, &[]).await;
    assert_eq!(printed_run(&base, &again), run_id);
    let runs = runs_of(&api, &suite_id).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(api.samples(&run_id).await.len(), 6);

    // Streamed in batches of two (opened, appended, finalized by the last batch): the same
    // run, and a replay of it changes nothing.
    let streamed_suite = suite(&api, &["hello-world", "fix-bug", "write-docs"]).await;
    let batches = ["--batch-size", "2"];
    let streamed = import(&base, &fixture(), &streamed_suite, &batches).await;
    let streamed_id = printed_run(&base, &streamed);
    assert_ne!(streamed_id, run_id);
    let streamed_run = api
        .get(&format!("/api/v1/llm/evals/runs/{streamed_id}"))
        .await;
    assert_run(&streamed_run);
    let replay = import(&base, &fixture(), &streamed_suite, &batches).await;
    assert_eq!(printed_run(&base, &replay), streamed_id);
    assert_eq!(runs_of(&api, &streamed_suite).await.len(), 1);
}

#[tokio::test]
async fn refusals_and_unreadable_jobs_fail_with_the_reason() {
    let data = tempfile::tempdir().expect("data dir");
    let server = common::start_with(data.path(), &[]).await;
    let api = common::api(&server);
    let base = server.base.clone();

    // A suite without the job's write-docs task: the server refuses, naming the trial.
    let partial = suite(&api, &["hello-world", "fix-bug"]).await;
    let refused = import(&base, &fixture(), &partial, &[]).await;
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("400") && stderr.contains("trials[4].task_id"),
        "{stderr}"
    );
    assert!(refused.stdout.is_empty());
    assert!(runs_of(&api, &partial).await.is_empty());

    // Not a job directory; a trial result that does not parse.
    let empty = tempfile::tempdir().expect("dir");
    let not_a_job = import(&base, empty.path(), &partial, &[]).await;
    assert_eq!(not_a_job.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&not_a_job.stderr);
    assert!(stderr.contains("config.json"), "{stderr}");

    let broken = tempfile::tempdir().expect("dir");
    copy_dir(&fixture(), broken.path());
    let result = broken.path().join("hello-world__Xk9mQ2p/result.json");
    std::fs::write(&result, "{\"task_name\": 3}").expect("write");
    let unreadable = import(&base, broken.path(), &partial, &[]).await;
    assert_eq!(unreadable.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&unreadable.stderr);
    assert!(
        stderr.contains("hello-world__Xk9mQ2p/result.json"),
        "{stderr}"
    );
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}
