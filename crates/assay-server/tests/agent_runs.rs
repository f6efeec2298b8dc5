//! Coding-agent runs (E27, E28, and the overview E21 on them): imports are writes, validated
//! trial by trial, idempotent under races; appends upsert and recompute from stored rows.

mod common;

use common::{assert_error, TestServer};
use serde_json::{json, Value};

const IMPORT: &str = "/api/v1/llm/evals/imports/agent-run";

/// A suite with tasks `tasks` (each backed by a one-row dataset, as every task needs one).
async fn agent_suite(server: &TestServer, tasks: &[&str]) -> String {
    let file = server
        .upload_jsonl("tasks.jsonl", &[json!({"instruction": "fix it"})])
        .await;
    let tasks: Vec<Value> = tasks
        .iter()
        .map(|id| json!({"id": id, "type": "custom", "dataset": {"file_id": file}, "prompt_template": "{{instruction}}"}))
        .collect();
    server.create_suite(json!({"tasks": tasks})).await
}

fn trial(task: &str, index: i64, reward: f64) -> Value {
    json!({"task_id": task, "sample_index": index, "scores": {"reward": reward}})
}

#[tokio::test]
async fn an_import_validates_every_trial_and_sums_what_was_reported() {
    let server = TestServer::start().await;
    let suite = agent_suite(&server, &["hello", "regex", "sort"]).await;
    let base = json!({"suite_id": suite, "agent_name": "claude-code", "model": "claude-sonnet"});
    let with = |trials: Value| {
        let mut body = base.clone();
        body["trials"] = trials;
        body
    };
    // Every refusal names the trial's field.
    for (trials, path) in [
        (
            json!([{"task_id": "hello"}, {"task_id": "nope"}]),
            "trials[1].task_id",
        ),
        (
            json!([{"task_id": "hello", "status": "maybe"}]),
            "trials[0].status",
        ),
        (
            json!([{"task_id": "hello", "scores": {"reward": "yes"}}]),
            "trials[0].scores.reward",
        ),
        (
            json!([{"task_id": "hello", "sample_index": 3}, {"task_id": "hello", "sample_index": 3}]),
            "trials[1].sample_index",
        ),
        (
            json!([{"task_id": "hello", "sample_index": -1}]),
            "trials[0].sample_index",
        ),
        (
            json!([{"task_id": "hello", "cost_usd": -2}]),
            "trials[0].cost_usd",
        ),
        (
            json!([{"task_id": "hello", "input_tokens": 1.5}]),
            "trials[0].input_tokens",
        ),
    ] {
        let (status, body) = server.post(IMPORT, &with(trials)).await;
        assert_error(status, &body, 400, path);
    }
    for (patch, path) in [
        (json!({"agent_name": ""}), "agent_name"),
        (json!({"suite_id": "eval_suite_missing"}), "suite_id"),
        (json!({"suite_version": 9}), "suite_version"),
        (json!({"expected_trials": -1}), "expected_trials"),
        (json!({"idempotency_key": ""}), "idempotency_key"),
    ] {
        let mut body = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, body) = server.post(IMPORT, &body).await;
        assert_error(status, &body, 400, path);
    }
    let (status, body) = server
        .post_as(&server.other_key, IMPORT, &with(json!([])))
        .await;
    assert_error(status, &body, 400, "suite_id");
    let (_, runs) = server.get("/api/v1/llm/evals/runs").await;
    assert_eq!(runs["data"], json!([]), "nothing was written");

    let timings = json!({
        "agent_execution": {"started_at": "2026-11-01T10:00:00Z", "finished_at": "2026-11-01T10:01:30.5Z"},
        "verifier": {"started_at": "2026-11-01T10:01:31Z", "finished_at": "2026-11-01T10:01:40Z"}
    });
    let (status, run) = server
        .post(
            IMPORT,
            &json!({
                "suite_id": suite, "agent_name": "claude-code", "agent_version": "1.0.3",
                "agent_effort": "high", "model": "claude-sonnet", "created_at": 1_760_000_000,
                "metadata": {"job": "j1"},
                "trials": [
                    {"task_id": "hello", "scores": {"reward": 1, "resolved": 1}, "cost_usd": 0.25,
                     "input_tokens": 1000, "output_tokens": 200, "phase_timings": timings,
                     "prompt": "say hello", "output_text": "1 passed"},
                    {"task_id": "regex", "scores": {"reward": 0}, "cost_usd": 0.5, "input_tokens": 3000,
                     "output_tokens": 100, "error": {"type": "AgentTimeoutError", "message": "timed out"}},
                    {"task_id": "sort", "status": "failed", "error": {"type": "EnvironmentError"}}
                ]
            }),
        )
        .await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["object"], "eval.run");
    assert_eq!(run["status"], "completed");
    assert_eq!(run["agent_name"], "claude-code");
    assert_eq!(run["agent_version"], "1.0.3");
    assert_eq!(run["agent_effort"], "high");
    assert_eq!(run["models"], json!(["claude-sonnet"]));
    assert_eq!(run["task_ids"], Value::Null, "every task is covered");
    assert_eq!(run["created_at"], 1_760_000_000);
    assert_eq!(
        run["request_counts"],
        json!({"total": 3, "completed": 2, "failed": 1})
    );
    assert_eq!(run["cost_usd"], 0.75);
    assert_eq!(
        run["tokens"],
        json!({"input": 4000, "output": 300, "cached": null, "reasoning": null})
    );
    assert!(run["completed_at"].is_i64());
    assert_eq!(run["metadata"], json!({"job": "j1"}));
    let reward = &run["metrics"]["by_model"]["claude-sonnet"]["hello"]["metrics"]["reward"];
    assert_eq!(reward["mean"], 1.0, "{run}");

    let id = run["id"].as_str().unwrap();
    let samples = server.all_samples(id, "").await;
    assert_eq!(samples.len(), 3);
    let hello = samples.iter().find(|s| s["task_id"] == "hello").unwrap();
    assert_eq!(hello["sample_index"], 0);
    assert_eq!(hello["phase_timings"], timings);
    assert_eq!(hello["prompt"], "say hello");
    assert_eq!(hello["output_text"], "1 passed");
    assert_eq!(hello["tokens_estimated"], false);
    let regex = samples.iter().find(|s| s["task_id"] == "regex").unwrap();
    assert_eq!(
        regex["status"], "completed",
        "a timeout with a score stays completed"
    );
    assert_eq!(regex["error"]["type"], "AgentTimeoutError");
    let sort = samples.iter().find(|s| s["task_id"] == "sort").unwrap();
    assert_eq!(sort["status"], "failed");
    assert_eq!(
        sort["input_tokens"],
        Value::Null,
        "unreported is null, not 0"
    );

    // The overview of an agent run.
    let (status, overview) = server
        .get(&format!("/api/v1/llm/evals/runs/{id}/overview"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(overview["agent_name"], "claude-code");
    assert_eq!(overview["agent_effort"], "high");
    assert_eq!(overview["avg_reward"], 0.5);
    assert_eq!(
        overview["trials"],
        json!({"total": 3, "completed": 2, "failed": 1, "errored": 2, "retried": 0})
    );
    assert_eq!(overview["cost_usd"], 0.75);
    assert_eq!(overview["tokens"]["input"], 4000);
    let (_, resolved) = server
        .get(&format!(
            "/api/v1/llm/evals/runs/{id}/overview?metric=resolved"
        ))
        .await;
    assert_eq!(resolved["avg_reward"], 1.0);

    // A reported job total wins over the trials' sum; a partial sweep names its tasks; nobody
    // reported spend or tokens: null.
    let (status, partial) = server
        .post(
            IMPORT,
            &json!({"suite_id": suite, "agent_name": "codex", "model": "gpt", "cost_usd": 9.5,
                    "trials": [trial("sort", 0, 1.0), trial("hello", 0, 0.0)]}),
        )
        .await;
    assert_eq!(status, 200, "{partial}");
    assert_eq!(partial["task_ids"], json!(["hello", "sort"]));
    assert_eq!(partial["cost_usd"], 9.5);
    let (_, bare) = server
        .post(
            IMPORT,
            &json!({"suite_id": suite, "agent_name": "codex", "model": "gpt",
                    "trials": [trial("sort", 0, 1.0)]}),
        )
        .await;
    assert_eq!(bare["cost_usd"], Value::Null);
    assert_eq!(
        bare["tokens"],
        json!({"input": null, "output": null, "cached": null, "reasoning": null})
    );
    // Imports are writes: no model was called, and they cannot be retried or rerun.
    assert_eq!(server.models.requests().total, 0);
    for action in ["retry", "rerun-failed"] {
        let (status, body) = server
            .post(&format!("/api/v1/llm/evals/runs/{id}/{action}"), &json!({}))
            .await;
        assert_error(status, &body, 409, "");
    }
}

#[tokio::test]
async fn streaming_appends_upsert_and_recompute_exactly() {
    let server = TestServer::start().await;
    let suite = agent_suite(&server, &["a", "b"]).await;
    let (status, run) = server
        .post(
            IMPORT,
            &json!({"suite_id": suite, "agent_name": "omp", "model": "m", "finalize": false,
                    "expected_trials": 40}),
        )
        .await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["status"], "in_progress");
    assert_eq!(
        run["request_counts"],
        json!({"total": 40, "completed": 0, "failed": 0})
    );
    let id = run["id"].as_str().unwrap().to_string();
    let trials_path = format!("/api/v1/llm/evals/runs/{id}/trials");
    // sample_index is required when appending.
    let (status, body) = server
        .post(&trials_path, &json!({"trials": [{"task_id": "a"}]}))
        .await;
    assert_error(status, &body, 400, "trials[0].sample_index");
    let (status, body) = server
        .post(
            &trials_path,
            &json!({"trials": [{"task_id": "zz", "sample_index": 0}]}),
        )
        .await;
    assert_error(status, &body, 400, "trials[0].task_id");

    // Twenty concurrent appends with overlapping indices: trial (task, i) always carries
    // reward i % 2 and cost i / 100, so the exact totals are known whatever the order.
    let appends = (0..20).map(|k| {
        let trials: Vec<Value> = (0..6)
            .map(|j| {
                let i = (k + j) % 20;
                let task = if (k + j) % 2 == 0 { "a" } else { "b" };
                json!({"task_id": task, "sample_index": i, "scores": {"reward": i % 2},
                       "cost_usd": i as f64 / 100.0, "input_tokens": 10})
            })
            .collect();
        let path = trials_path.clone();
        let server = &server;
        async move { server.post(&path, &json!({"trials": trials})).await }
    });
    for (status, body) in futures::future::join_all(appends).await {
        assert_eq!(status, 200, "{body}");
    }
    let (_, now) = server.get(&format!("/api/v1/llm/evals/runs/{id}")).await;
    // Distinct (task, index) pairs written.
    let mut pairs = std::collections::BTreeSet::new();
    for k in 0..20 {
        for j in 0..6 {
            let i = (k + j) % 20;
            pairs.insert((if (k + j) % 2 == 0 { "a" } else { "b" }, i));
        }
    }
    let n = pairs.len() as i64;
    assert_eq!(now["request_counts"]["completed"], n);
    assert_eq!(now["request_counts"]["total"], 40.max(n));
    assert_eq!(now["status"], "in_progress");
    let cost: f64 = pairs.iter().map(|(_, i)| *i as f64 / 100.0).sum();
    assert!(
        (now["cost_usd"].as_f64().unwrap() - cost).abs() < 1e-9,
        "{now}"
    );
    assert_eq!(now["tokens"]["input"], 10 * n);
    let (_, overview) = server
        .get(&format!("/api/v1/llm/evals/runs/{id}/overview"))
        .await;
    let rewarded = pairs.iter().filter(|(_, i)| i % 2 == 1).count() as f64;
    assert_eq!(
        overview["avg_reward"].as_f64().unwrap(),
        rewarded / n as f64
    );

    // Re-sending a trial replaces it; finalize completes the run.
    let (status, done) = server
        .post(
            &trials_path,
            &json!({"trials": [{"task_id": "a", "sample_index": 0, "scores": {"reward": 1},
                                "cost_usd": 5.0, "input_tokens": 10}], "finalize": true}),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "completed");
    assert_eq!(done["request_counts"]["completed"], n);
    assert!((done["cost_usd"].as_f64().unwrap() - (cost + 5.0)).abs() < 1e-9);
    // A completed run takes no more trials.
    let (status, body) = server
        .post(&trials_path, &json!({"trials": [trial("a", 0, 0.0)]}))
        .await;
    assert_error(status, &body, 409, "");

    // Cancelling an open import ends it at once; it then refuses appends too.
    let (_, open) = server
        .post(
            IMPORT,
            &json!({"suite_id": suite, "agent_name": "omp", "model": "m", "finalize": false}),
        )
        .await;
    let open_id = open["id"].as_str().unwrap();
    let (status, cancelled) = server
        .post(
            &format!("/api/v1/llm/evals/runs/{open_id}/cancel"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(cancelled["status"], "cancelled");
    let (status, body) = server
        .post(
            &format!("/api/v1/llm/evals/runs/{open_id}/trials"),
            &json!({"trials": [trial("a", 0, 1.0)]}),
        )
        .await;
    assert_error(status, &body, 409, "");
    // Other tenants, and runs Assay executes, cannot take trials.
    let (status, body) = server
        .post_as(&server.other_key, &trials_path, &json!({}))
        .await;
    assert_error(status, &body, 404, "");
    assert_eq!(server.models.requests().total, 0);
}

#[tokio::test]
async fn eight_racing_imports_with_one_key_create_one_run() {
    let server = TestServer::start().await;
    let suite = agent_suite(&server, &["a"]).await;
    let body = json!({"suite_id": suite, "agent_name": "omp", "model": "m",
                      "idempotency_key": "job-7f3a", "trials": [trial("a", 0, 1.0)]});
    let imports = (0..8).map(|_| server.post(IMPORT, &body));
    let answers = futures::future::join_all(imports).await;
    let ids: std::collections::BTreeSet<String> = answers
        .iter()
        .map(|(status, run)| {
            assert_eq!(*status, 200, "{run}");
            run["id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1, "{answers:?}");
    let (_, runs) = server.get("/api/v1/llm/evals/runs").await;
    assert_eq!(runs["data"].as_array().unwrap().len(), 1);
    // Later replays answer with the same run; the key belongs to this team only.
    let (_, again) = server.post(IMPORT, &body).await;
    assert!(ids.contains(again["id"].as_str().unwrap()));
}
