//! Retry (E20) and rerun-failed (E19) on the local executor: work is re-queued in place, once,
//! and no sample that already has its result is sent to the model again.

mod common;

use std::time::Duration;

use common::{assert_error, metric, TestServer};
use serde_json::{json, Value};

/// Sample statuses of a run, counted.
async fn statuses(server: &TestServer, run_id: &str) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for s in server.all_samples(run_id, "").await {
        *counts
            .entry(s["status"].as_str().unwrap_or("?").to_string())
            .or_insert(0) += 1;
    }
    counts
}

/// Polls until the run's samples reach `want` (bounded).
async fn wait_for_statuses(server: &TestServer, run_id: &str, want: &[(&str, usize)]) {
    let want: std::collections::BTreeMap<String, usize> =
        want.iter().map(|(s, n)| (s.to_string(), *n)).collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let now = statuses(server, run_id).await;
        if now == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "samples never reached {want:?}; now {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn post_path(run_id: &str, action: &str) -> String {
    format!("/api/v1/llm/evals/runs/{run_id}/{action}")
}

/// Sends the same POST twice at once; returns both answers.
async fn twice(server: &TestServer, path: &str) -> [(u16, Value); 2] {
    let empty = json!({});
    let (a, b) = tokio::join!(server.post(path, &empty), server.post(path, &empty));
    [a, b]
}

/// Exactly one of two concurrent calls re-queued the run; the other was refused with 409.
fn one_won(answers: &[(u16, Value); 2]) -> Value {
    let mut statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{answers:?}");
    answers
        .iter()
        .find(|(s, _)| *s == 200)
        .map(|(_, run)| run.clone())
        .expect("a 200")
}

#[tokio::test]
async fn retry_resumes_a_cancelled_run_without_redoing_finished_work() {
    let server = TestServer::start().await;
    // Rows 0-5 finish; 6-7 hang in generation; 8-9 are generated and hang while graded.
    let rows: Vec<Value> = (0..10)
        .map(|i| {
            let q = if (6..8).contains(&i) {
                format!("q{i} [[hang times=1]]")
            } else {
                format!("q{i}")
            };
            json!({"q": q, "n": i, "slow": if i >= 8 { "grade" } else { "" }})
        })
        .collect();
    let data = server.upload_jsonl("rows.jsonl", &rows).await;
    let grader = "def grade(sample, item, ctx):\n    tail = ' [[hang times=1]]' if item['slow'] == 'grade' else ''\n    reply = ctx.responses_create(input=f\"grade {item['n']}{tail}\")\n    return {'ok': 1.0 if reply.output_text else 0.0}\n";
    let suite = server
        .create_suite(
            json!({"tasks": [{"id": "t", "type": "custom", "dataset": {"file_id": data},
            "prompt_template": "{{q}}", "grader": {"contract": "model_backed", "source": grader},
            "metrics": [{"id": "ok"}]}]}),
        )
        .await;
    let request = json!({"suite_id": suite, "models": ["fake"], "judge_model": "fake",
        "generation_concurrency": 4, "grader_concurrency": 4});
    let (status, run) = server.post("/api/v1/llm/evals/runs", &request).await;
    assert_eq!(status, 200, "{run}");
    let run_id = run["id"].as_str().unwrap().to_string();
    wait_for_statuses(
        &server,
        &run_id,
        &[("completed", 6), ("generating", 2), ("scoring", 2)],
    )
    .await;

    // Retry is only for runs that ended badly.
    let (status, body) = server.post(&post_path(&run_id, "retry"), &json!({})).await;
    assert_error(status, &body, 409, "");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("only a failed or cancelled run can be retried"));

    let (status, _) = server.post(&post_path(&run_id, "cancel"), &json!({})).await;
    assert_eq!(status, 200);
    let cancelled = server.wait_terminal(&run_id).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert!(cancelled["cancelled_at"].is_i64());
    // What the cancel left: finished samples, two never generated, two generated but unscored.
    let left = statuses(&server, &run_id).await;
    assert_eq!(left.get("completed"), Some(&6), "{left:?}");

    // Another tenant cannot retry it; two concurrent retries re-queue it once.
    let (status, body) = server
        .post_as(&server.other_key, &post_path(&run_id, "retry"), &json!({}))
        .await;
    assert_error(status, &body, 404, "");
    let retried = one_won(&twice(&server, &post_path(&run_id, "retry")).await);
    assert_eq!(retried["id"], run_id.as_str());
    assert!(["queued", "in_progress"].contains(&retried["status"].as_str().unwrap()));
    assert_eq!(retried["error"], Value::Null);
    assert_eq!(retried["cancelled_at"], Value::Null);
    let done = server.wait_terminal(&run_id).await;
    assert_eq!(done["status"], "completed", "{done}");
    let failed = server.all_samples(&run_id, "&status=failed").await;
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(done["cancelled_at"], Value::Null);
    assert_eq!(done["failed_at"], Value::Null);
    assert_eq!(done["error"], Value::Null);
    assert_eq!(
        done["request_counts"],
        json!({"total": 10, "completed": 10, "failed": 0})
    );

    // Exactly once: finished samples were not generated again, generated ones only graded.
    for i in 0..6 {
        assert_eq!(server.models.calls_for(&format!("q{i}")), 1, "q{i}");
        assert_eq!(
            server.models.calls_for(&format!("grade {i}")),
            1,
            "grade {i}"
        );
    }
    for i in 6..8 {
        // The first call hung and was cancelled: no result was persisted, so it ran again.
        assert_eq!(
            server.models.calls_for(&format!("q{i} [[hang times=1]]")),
            2
        );
    }
    for i in 8..10 {
        assert_eq!(
            server.models.calls_for(&format!("q{i}")),
            1,
            "q{i} resumed at scoring"
        );
        assert_eq!(
            server
                .models
                .calls_for(&format!("grade {i} [[hang times=1]]")),
            2
        );
    }
    // The same metrics as a run that was never interrupted.
    let fresh = server.run_to_end(&request).await;
    assert_eq!(fresh["status"], "completed");
    assert_eq!(
        metric(&done, "fake", "t", "ok"),
        metric(&fresh, "fake", "t", "ok")
    );
    assert_eq!(metric(&done, "fake", "t", "ok")["mean"], 1.0);
    assert_eq!(done["metrics"]["samples"], fresh["metrics"]["samples"]);

    // Unknown runs: 404.
    let (status, body) = server
        .post(&post_path("eval_run_missing", "retry"), &json!({}))
        .await;
    assert_error(status, &body, 404, "");
}

#[tokio::test]
async fn retry_plans_a_run_that_failed_before_persisting_samples() {
    let server = TestServer::start().await;
    let rows: Vec<Value> = (0..4).map(|i| json!({"q": format!("p{i}")})).collect();
    let data = server.upload_jsonl("rows.jsonl", &rows).await;
    let suite = server
        .create_suite(
            json!({"tasks": [{"id": "t", "type": "qa", "dataset": {"file_id": data},
            "prompt_template": "{{q}}"}]}),
        )
        .await;
    // The dataset's object goes missing from the blob store: planning fails.
    let blob = server.data_dir().join("blobs").join("files").join(&data);
    let content = std::fs::read(&blob).expect("dataset blob");
    std::fs::remove_file(&blob).expect("remove blob");
    let failed = server
        .run_to_end(&json!({"suite_id": suite, "models": ["fake"]}))
        .await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(failed["failed_at"].is_i64());
    assert!(failed["error"].is_object());
    let run_id = failed["id"].as_str().unwrap();
    assert_eq!(failed["request_counts"]["total"], 0);
    // The operator restores it; the retry plans the run from scratch.
    std::fs::write(&blob, content).expect("restore blob");
    let (status, retried) = server.post(&post_path(run_id, "retry"), &json!({})).await;
    assert_eq!(status, 200, "{retried}");
    assert_eq!(retried["failed_at"], Value::Null);
    assert_eq!(retried["error"], Value::Null);
    let done = server.wait_terminal(run_id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        done["request_counts"],
        json!({"total": 4, "completed": 4, "failed": 0})
    );
    for i in 0..4 {
        assert_eq!(server.models.calls_for(&format!("p{i}")), 1);
    }
    // A completed run cannot be retried.
    let (status, body) = server.post(&post_path(run_id, "retry"), &json!({})).await;
    assert_error(status, &body, 409, "");
}

#[tokio::test]
async fn rerun_failed_redoes_only_failed_samples_in_place() {
    let server = TestServer::start().await;
    // Rows 0-5 answer right away; 6-8 fail once with a 500 (no client retries), then answer.
    let rows: Vec<Value> = (0..9)
        .map(|i| {
            let q = if i >= 6 {
                format!("r{i} [[status:500 times=1]] [[answer:A{i}]]")
            } else {
                format!("r{i} [[answer:A{i}]]")
            };
            json!({"q": q, "a": format!("A{i}")})
        })
        .collect();
    let data = server.upload_jsonl("rows.jsonl", &rows).await;
    let suite = server
        .create_suite(json!({"tasks": [{"id": "t", "type": "qa", "dataset": {"file_id": data},
            "prompt_template": "{{q}}", "target_template": "{{a}}", "metrics": [{"id": "exact_match"}]}]}))
        .await;
    let first = server
        .run_to_end(
            &json!({"suite_id": suite, "models": ["fake"], "generation": {"max_retries": 0}}),
        )
        .await;
    assert_eq!(first["status"], "completed", "{first}");
    assert_eq!(
        first["request_counts"],
        json!({"total": 9, "completed": 6, "failed": 3})
    );
    let run_id = first["id"].as_str().unwrap().to_string();
    let before: Vec<Value> = server.all_samples(&run_id, "").await;
    let failed_ids: Vec<String> = before
        .iter()
        .filter(|s| s["status"] == "failed")
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(failed_ids.len(), 3);
    let (_, old_artifacts) = server
        .get(&format!("/api/v1/llm/evals/runs/{run_id}/artifacts"))
        .await;
    let old_result = old_artifacts["result_file_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, overview) = server
        .get(&format!("/api/v1/llm/evals/runs/{run_id}/overview"))
        .await;
    assert_eq!(overview["trials"]["retried"], 0);

    // Another tenant: 404. Two concurrent reruns: one re-queues, the other is refused.
    let (status, body) = server
        .post_as(
            &server.other_key,
            &post_path(&run_id, "rerun-failed"),
            &json!({}),
        )
        .await;
    assert_error(status, &body, 404, "");
    let rerun = one_won(&twice(&server, &post_path(&run_id, "rerun-failed")).await);
    assert_eq!(rerun["id"], run_id.as_str());
    assert!(["queued", "in_progress"].contains(&rerun["status"].as_str().unwrap()));
    let done = server.wait_terminal(&run_id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        done["request_counts"],
        json!({"total": 9, "completed": 9, "failed": 0})
    );
    // Only the failed samples were redone, with the same ids.
    for i in 0..6 {
        assert_eq!(server.models.calls_for(&format!("r{i} [[answer:A{i}]]")), 1);
    }
    for i in 6..9 {
        assert_eq!(
            server
                .models
                .calls_for(&format!("r{i} [[status:500 times=1]] [[answer:A{i}]]")),
            2
        );
    }
    let after = server.all_samples(&run_id, "").await;
    assert_eq!(after.len(), 9);
    for s in &after {
        assert_eq!(s["status"], "completed", "{s}");
        assert_eq!(s["error"], Value::Null);
    }
    let mut ids_after: Vec<&str> = after.iter().map(|s| s["id"].as_str().unwrap()).collect();
    let mut ids_before: Vec<&str> = before.iter().map(|s| s["id"].as_str().unwrap()).collect();
    ids_after.sort();
    ids_before.sort();
    assert_eq!(ids_after, ids_before);
    // Untouched samples kept their results exactly.
    for s in before.iter().filter(|s| s["status"] == "completed") {
        let now = after.iter().find(|a| a["id"] == s["id"]).unwrap();
        assert_eq!(now["completed_at"], s["completed_at"]);
        assert_eq!(now["output_text"], s["output_text"]);
    }
    // Metrics, tokens and both artifacts were computed again.
    assert_eq!(metric(&first, "fake", "t", "exact_match")["n"], 6);
    assert_eq!(metric(&done, "fake", "t", "exact_match")["n"], 9);
    assert_eq!(metric(&done, "fake", "t", "exact_match")["mean"], 1.0);
    assert_eq!(done["metrics"]["samples"]["failed"], 0);
    assert!(done["tokens"]["input"].as_i64().unwrap() > first["tokens"]["input"].as_i64().unwrap());
    let (_, artifacts) = server
        .get(&format!("/api/v1/llm/evals/runs/{run_id}/artifacts"))
        .await;
    let result = artifacts["result_file_id"].as_str().unwrap();
    let samples_file = artifacts["samples_file_id"].as_str().unwrap();
    assert_ne!(result, old_result);
    assert_eq!(done["artifact_file_ids"], json!([result, samples_file]));
    let (status, _) = server.get(&format!("/api/v1/llm/files/{old_result}")).await;
    assert_eq!(status, 404, "the previous round's artifacts are gone");
    let content = server.content(samples_file).await;
    let lines: Vec<Value> = content
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 9);
    assert!(lines.iter().all(|s| s["status"] == "completed"));
    let content: Value = serde_json::from_str(&server.content(result).await).unwrap();
    assert_eq!(content["metrics"], done["metrics"]);
    // The overview counts the rerun samples from the snapshot taken before the rerun.
    let (_, overview) = server
        .get(&format!("/api/v1/llm/evals/runs/{run_id}/overview"))
        .await;
    assert_eq!(overview["trials"]["retried"], 3);
    assert_eq!(overview["trials"]["failed"], 0);

    // Nothing left to rerun; other states are refused with the allowed one named.
    let (status, body) = server
        .post(&post_path(&run_id, "rerun-failed"), &json!({}))
        .await;
    assert_error(status, &body, 409, "");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no failed samples"));
    let (status, run) = server
        .post(
            "/api/v1/llm/evals/runs",
            &json!({"suite_id": suite, "models": ["fake"], "task_ids": ["t"]}),
        )
        .await;
    assert_eq!(status, 200);
    let other = run["id"].as_str().unwrap();
    let (status, _) = server.post(&post_path(other, "cancel"), &json!({})).await;
    assert_eq!(status, 200);
    server.wait_terminal(other).await;
    let (status, body) = server
        .post(&post_path(other, "rerun-failed"), &json!({}))
        .await;
    assert_error(status, &body, 409, "");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("only a completed run"));
}
