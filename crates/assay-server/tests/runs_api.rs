//! Runs over HTTP, executed by the local executor against the fake model server.

mod common;

use std::time::Duration;

use common::{assert_error, TestServer};
use serde_json::{json, Value};

#[tokio::test]
async fn a_run_generates_scores_aggregates_and_writes_artifacts() {
    let server = TestServer::start().await;
    let qa = server.upload_jsonl("qa.jsonl",
        &[
            json!({"question": "Capital of France? [[answer:It is Paris.]]", "answer": "Paris"}),
            json!({"question": "Capital of Spain? [[answer:Lisbon]]", "answer": "Madrid"}),
            json!({"question": "Capital of Italy? [[reasoning:Rome is the capital]] [[answer:Rome]]", "answer": "Rome"}),
            json!({"question": "Broken [[status:400]]", "answer": "x"}),
        ],
    )
    .await;
    let mc = server
        .upload("mc.csv", b"question,label\n\"Pick B [[answer:The answer is (B)]]\",B\n\"Pick A [[answer:B]]\",A\n")
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let math = server
        .upload_jsonl(
            "math.jsonl",
            &[
                json!({"q": "6*7 [[answer:So the result is \\boxed{42}.]]", "a": "42"}),
                json!({"q": "1/2 [[answer:0.5]]", "a": "\\frac{1}{2}"}),
                json!({"q": "10-3 [[answer:6]]", "a": "7"}),
            ],
        )
        .await;
    let suite_id = server.create_suite(json!({"tasks": [
            {"id": "qa", "type": "qa", "dataset": {"file_id": qa},
             "prompt_template": "Q: {{question}}\nA:", "target_template": "{{answer}}",
             "output_extraction": {"type": "regex", "pattern": "(Paris|Madrid|Rome|Lisbon)", "group": 1}},
            {"id": "mc", "type": "multiple_choice", "dataset": {"file_id": mc},
             "prompt_template": "{{question}}", "target_template": "{{label}}", "choices": ["A", "B"]},
            {"id": "math", "type": "math", "dataset": {"file_id": math},
             "prompt_template": "{{q}}", "target_template": "{{a}}"}
        ]}),
    )
    .await;

    let (status, run) = server
        .post(
            "/api/v1/llm/evals/runs",
            &json!({"suite_id": suite_id, "models": ["fake"], "generation": {"max_gen_toks": 64, "until": ["\n\n"], "do_sample": false, "custom": 1},
                    "metadata": {"purpose": "test"}}),
        )
        .await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["object"], "eval.run");
    assert!(["queued", "in_progress"].contains(&run["status"].as_str().unwrap()));
    assert_eq!(
        run["generation"],
        json!({"max_output_tokens": 64, "stop": ["\n\n"], "do_sample": false, "temperature": 0.0, "custom": 1})
    );
    assert_eq!(run["task_ids"], Value::Null);
    assert_eq!(run["suite_version"], 1);
    assert_eq!(run["metrics"], Value::Null);
    for key in [
        "judge_model",
        "embedding_model",
        "error",
        "agent_name",
        "cost_usd",
        "started_at",
        "completed_at",
        "cancelled_at",
        "failed_at",
    ] {
        assert!(run.get(key).is_some(), "{key} missing from {run}");
    }
    let run_id = run["id"].as_str().unwrap().to_string();

    let run = server.wait_terminal(&run_id).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(
        run["request_counts"],
        json!({"total": 9, "completed": 8, "failed": 1})
    );
    let by_task = &run["metrics"]["by_task"];
    // qa: Paris ✓, Lisbon ✗, Rome ✓ (the 400 row is excluded).
    assert!(
        (by_task["qa"]["exact_match"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9,
        "{by_task}"
    );
    assert_eq!(by_task["mc"]["accuracy"], 0.5);
    assert!((by_task["math"]["exact_match"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9);
    let qa_model = &run["metrics"]["by_model"]["fake"]["qa"];
    assert_eq!(
        qa_model["samples"],
        json!({"total": 4, "completed": 3, "failed": 1})
    );
    assert_eq!(qa_model["metrics"]["exact_match"]["n"], 3);
    assert!(
        qa_model["metrics"]["exact_match"]["stderr"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert!(run["tokens"]["input"].as_i64().unwrap() > 0);
    assert!(run["completed_at"].as_i64().is_some() && run["started_at"].as_i64().is_some());

    // Every sample: prompts rendered, request settings sent, reasoning kept apart.
    let samples = server.all_samples(&run_id, "").await;
    assert_eq!(samples.len(), 9);
    let paris = samples
        .iter()
        .find(|s| s["task_id"] == "qa" && s["sample_index"] == 0)
        .unwrap();
    assert_eq!(
        paris["prompt"],
        "Q: Capital of France? [[answer:It is Paris.]]\nA:"
    );
    assert_eq!(paris["output_text"], "It is Paris.");
    assert_eq!(paris["extracted_output"], "Paris");
    assert_eq!(paris["scores"]["exact_match"], 1.0);
    assert_eq!(paris["status"], "completed");
    assert!(paris["phase_timings"]["generation"]["started_at"].is_string());
    let body = server
        .models
        .last_body_for("Q: Capital of France? [[answer:It is Paris.]]\nA:")
        .expect("request logged");
    assert_eq!(body["max_tokens"], 64);
    assert_eq!(body["temperature"], 0.0);
    assert_eq!(body["stop"], json!(["\n\n"]));
    let rome = samples
        .iter()
        .find(|s| s["task_id"] == "qa" && s["sample_index"] == 2)
        .unwrap();
    assert_eq!(
        rome["reasoning"],
        Value::Null,
        "reasoning only with include_reasoning"
    );
    let with_reasoning = server
        .all_samples(&run_id, "&include_reasoning=true&task_id=qa&sample_index=2")
        .await;
    assert_eq!(with_reasoning.len(), 1);
    assert_eq!(with_reasoning[0]["reasoning"], "Rome is the capital");
    assert_eq!(with_reasoning[0]["output_text"], "Rome");
    let failed = server.all_samples(&run_id, "&status=failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["error"]["type"], "bad_request");
    assert_eq!(failed[0]["scores"], json!({}));
    let mc_b = samples
        .iter()
        .find(|s| s["task_id"] == "mc" && s["sample_index"] == 0)
        .unwrap();
    assert_eq!(
        mc_b["dataset_row"],
        json!({"question": "Pick B [[answer:The answer is (B)]]", "label": "B"})
    );
    assert_eq!(mc_b["scores"]["accuracy"], 1.0);
    let perfect = server
        .all_samples(&run_id, "&score_metric=exact_match&score_min=1")
        .await;
    assert_eq!(perfect.len(), 4);

    // Artifacts are files of the run's owner.
    let (status, artifacts) = server
        .get(&format!("/api/v1/llm/evals/runs/{run_id}/artifacts"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(artifacts["object"], "eval.artifacts");
    assert_eq!(
        json!([artifacts["result_file_id"], artifacts["samples_file_id"]]),
        artifacts["artifact_file_ids"]
    );
    assert_eq!(run["artifact_file_ids"], artifacts["artifact_file_ids"]);
    let samples_file = artifacts["samples_file_id"].as_str().unwrap();
    let jsonl = server.content(samples_file).await;
    assert_eq!(jsonl.lines().count(), 9);
    let first: Value = serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
    assert_eq!(first["object"], "eval.sample");
    let result_file = artifacts["result_file_id"].as_str().unwrap();
    let (status, result) = server
        .get(&format!("/api/v1/llm/files/{result_file}/content"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(result["metrics"], run["metrics"]);
    let (status, body) = server
        .get_as(
            &server.other_key,
            &format!("/api/v1/llm/files/{result_file}"),
        )
        .await;
    assert_error(status, &body, 404, "");

    // Overview.
    let (status, overview) = server
        .get(&format!(
            "/api/v1/llm/evals/runs/{run_id}/overview?metric=exact_match"
        ))
        .await;
    assert_eq!(status, 200, "{overview}");
    assert_eq!(overview["object"], "eval.run.overview");
    assert_eq!(
        overview["trials"],
        json!({"total": 9, "completed": 8, "failed": 1, "errored": 1, "retried": 0})
    );
    assert_eq!(overview["metric"], "exact_match");
    assert!((overview["avg_reward"].as_f64().unwrap() - 4.0 / 6.0).abs() < 1e-9);
    let (_, overview) = server
        .get(&format!("/api/v1/llm/evals/runs/{run_id}/overview"))
        .await;
    assert_eq!(overview["metric"], "reward");
    assert_eq!(overview["avg_reward"], Value::Null);

    // Cancelling a finished run is a conflict; deleting hides it.
    let (status, body) = server
        .post(
            &format!("/api/v1/llm/evals/runs/{run_id}/cancel"),
            &json!({}),
        )
        .await;
    assert_error(status, &body, 409, "");
    let (status, deleted) = server
        .delete(&format!("/api/v1/llm/evals/runs/{run_id}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        deleted,
        json!({"id": run_id, "object": "eval.run.deleted", "deleted": true})
    );
    let (status, body) = server
        .get(&format!("/api/v1/llm/evals/runs/{run_id}"))
        .await;
    assert_error(status, &body, 404, "");
}

#[tokio::test]
async fn cancel_stops_model_calls() {
    let server = TestServer::start().await;
    let rows: Vec<Value> = (0..20)
        .map(|i| json!({"q": format!("slow {i} [[hang]]")}))
        .collect();
    let file = server.upload_jsonl("hang.jsonl", &rows).await;
    let suite_id = server.create_suite(json!({"tasks": [{"id": "t", "type": "qa", "dataset": {"file_id": file}, "prompt_template": "{{q}}"}]}),
    )
    .await;
    let (status, run) = server
        .post(
            "/api/v1/llm/evals/runs",
            &json!({"suite_id": suite_id, "models": ["fake"], "generation_concurrency": 2}),
        )
        .await;
    assert_eq!(status, 200, "{run}");
    let run_id = run["id"].as_str().unwrap().to_string();
    // Two calls are in flight (and hang) before we cancel.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while server.models.requests().total < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no model calls started"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (status, cancelled) = server
        .post(
            &format!("/api/v1/llm/evals/runs/{run_id}/cancel"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{cancelled}");
    assert!(["cancelling", "cancelled"].contains(&cancelled["status"].as_str().unwrap()));
    let calls_at_cancel = server.models.requests().total;
    let run = server.wait_terminal(&run_id).await;
    assert_eq!(run["status"], "cancelled");
    assert!(run["cancelled_at"].as_i64().is_some());
    assert_eq!(
        server.models.requests().total,
        calls_at_cancel,
        "a model call started after cancel"
    );
    assert_eq!(calls_at_cancel, 2);
    assert_eq!(run["request_counts"]["completed"], 0);
}

#[tokio::test]
async fn bad_run_requests_name_the_field() {
    let server = TestServer::start().await;
    let file = server.upload_jsonl("d.jsonl", &[json!({"q": "x"})]).await;
    let suite_id = server.create_suite(json!({"tasks": [{"id": "t", "type": "qa", "dataset": {"file_id": file}, "prompt_template": "{{q}}"}]}),
    )
    .await;
    let judge_suite = server.create_suite(json!({"tasks": [{"id": "j", "type": "llm_judge", "dataset": {"file_id": file}, "prompt_template": "{{q}}"}]}),
    )
    .await;
    let base = json!({"suite_id": suite_id, "models": ["fake"]});
    let with = |patch: Value| {
        let mut v = base.clone();
        for (k, val) in patch.as_object().unwrap() {
            v[k] = val.clone();
        }
        v
    };
    let cases = vec![
        (json!({"models": ["fake"]}), "suite_id"),
        (json!({"suite_id": suite_id}), "models"),
        (with(json!({"models": []})), "models"),
        (with(json!({"models": ["nope"]})), "models[0]"),
        (with(json!({"models": "fake"})), "models"),
        (
            with(json!({"suite_id": "eval_suite_00000000000000000000000000000000"})),
            "suite_id",
        ),
        (with(json!({"suite_version": 2})), "suite_version"),
        (with(json!({"suite_version": 0})), "suite_version"),
        (with(json!({"task_ids": ["t", "zzz"]})), "task_ids[1]"),
        (
            with(json!({"generation_concurrency": 0})),
            "generation_concurrency",
        ),
        (
            with(json!({"grader_concurrency": 300})),
            "grader_concurrency",
        ),
        (
            with(json!({"max_samples_per_task": 0})),
            "max_samples_per_task",
        ),
        (
            with(json!({"max_workflow_sample_activities": 10})),
            "max_workflow_sample_activities",
        ),
        (
            with(json!({"generation": {"temperature": -1}})),
            "generation.temperature",
        ),
        (
            with(json!({"generation": {"max_gen_toks": "many"}})),
            "generation.max_gen_toks",
        ),
        (with(json!({"metadata": {"k": 2}})), "metadata.k"),
        (
            json!({"suite_id": judge_suite, "models": ["fake"]}),
            "judge_model",
        ),
        (
            json!({"suite_id": judge_suite, "models": ["fake"], "judge_model": "fake-embeddings"}),
            "judge_model",
        ),
        (
            json!({"suite_id": judge_suite, "models": ["fake"], "judge_model": "nope"}),
            "judge_model",
        ),
    ];
    for (body, path) in cases {
        let (status, response) = server.post("/api/v1/llm/evals/runs", &body).await;
        assert_error(status, &response, 400, path);
    }
    let (status, body) = server
        .post_as(&server.other_key, "/api/v1/llm/evals/runs", &base)
        .await;
    assert_error(status, &body, 400, "suite_id");
    let (status, body) = server.get("/api/v1/llm/evals/runs?suite_version=1").await;
    assert_error(status, &body, 400, "suite_version");
    for (query, path) in [("limit=0", "limit"), ("status=sleeping", "status")] {
        let (status, body) = server.get(&format!("/api/v1/llm/evals/runs?{query}")).await;
        assert_error(status, &body, 400, path);
    }
    for path in [
        "/api/v1/llm/evals/runs/eval_run_x",
        "/api/v1/llm/evals/runs/eval_run_x/samples",
        "/api/v1/llm/evals/runs/eval_run_x/artifacts",
        "/api/v1/llm/evals/runs/eval_run_x/overview",
    ] {
        let (status, body) = server.get(path).await;
        assert_error(status, &body, 404, "");
    }
}

#[tokio::test]
async fn runs_list_filter_and_tenancy() {
    let server = TestServer::start().await;
    let file = server
        .upload_jsonl("d.jsonl", &[json!({"q": "x [[answer:x]]", "answer": "x"})])
        .await;
    let suite_id = server.create_suite(json!({"tasks": [{"id": "t", "type": "qa", "dataset": {"file_id": file}, "prompt_template": "{{q}}", "target_template": "{{answer}}"}]}),
    )
    .await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (status, run) = server
            .post("/api/v1/llm/evals/runs", &json!({"suite_id": suite_id, "models": ["fake", "fake-responses", "fake-completions"]}))
            .await;
        assert_eq!(status, 200, "{run}");
        ids.push(run["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        let run = server.wait_terminal(id).await;
        assert_eq!(run["status"], "completed", "{run}");
        assert_eq!(
            run["request_counts"],
            json!({"total": 3, "completed": 3, "failed": 0})
        );
        let fake = &run["metrics"]["by_model"];
        for model in ["fake", "fake-responses", "fake-completions"] {
            assert_eq!(
                fake[model]["t"]["metrics"]["exact_match"]["mean"], 1.0,
                "{model}: {run}"
            );
        }
    }
    let (_, page) = server.get("/api/v1/llm/evals/runs?limit=2").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    assert_eq!(page["has_more"], true);
    assert_eq!(page["data"][0]["id"], ids[2].as_str());
    let (_, rest) = server
        .get(&format!(
            "/api/v1/llm/evals/runs?limit=2&after={}",
            page["last_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(rest["data"][0]["id"], ids[0].as_str());
    let (_, filtered) = server
        .get(&format!(
            "/api/v1/llm/evals/runs?suite_id={suite_id}&suite_version=1&status=completed"
        ))
        .await;
    assert_eq!(filtered["data"].as_array().unwrap().len(), 3);
    let (_, none) = server.get("/api/v1/llm/evals/runs?status=failed").await;
    assert_eq!(none["data"].as_array().unwrap().len(), 0);
    let (_, other) = server
        .get_as(&server.other_key, "/api/v1/llm/evals/runs")
        .await;
    assert_eq!(other["data"].as_array().unwrap().len(), 0);
    let (status, body) = server
        .get_as(
            &server.other_key,
            &format!("/api/v1/llm/evals/runs/{}", ids[0]),
        )
        .await;
    assert_error(status, &body, 404, "");
    // Deleting the suite deletes its runs.
    let (_, deleted) = server
        .delete(&format!("/api/v1/llm/evals/suites/{suite_id}"))
        .await;
    assert_eq!(deleted["deleted_runs"], 3);
    let (_, after) = server.get("/api/v1/llm/evals/runs").await;
    assert_eq!(after["data"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn use_cache_answers_repeated_requests_across_runs() {
    let server = TestServer::start().await;
    let rows: Vec<Value> = (0..5)
        .map(|i| json!({"q": format!("cached {i} [[answer:{i}]]"), "a": i.to_string()}))
        .collect();
    let file = server.upload_jsonl("c.jsonl", &rows).await;
    let suite_id = server.create_suite(json!({"tasks": [{"id": "t", "type": "numeric", "dataset": {"file_id": file}, "prompt_template": "{{q}}", "target_template": "{{a}}"}]}),
    )
    .await;
    let body = json!({"suite_id": suite_id, "models": ["fake"], "generation": {"use_cache": true, "temperature": 0}});
    let mut metrics = Vec::new();
    for expected_calls in [5, 5] {
        let (status, run) = server.post("/api/v1/llm/evals/runs", &body).await;
        assert_eq!(status, 200, "{run}");
        let run = server.wait_terminal(run["id"].as_str().unwrap()).await;
        assert_eq!(run["status"], "completed");
        assert_eq!(
            server.models.requests().total,
            expected_calls,
            "the second run must be served from the cache"
        );
        metrics.push(run["metrics"]["by_task"].clone());
    }
    assert_eq!(metrics[0], metrics[1]);
    assert_eq!(metrics[0]["t"]["exact_match"], 1.0);
}

#[tokio::test]
async fn fewshot_limits_task_selection_and_concurrency() {
    let server = TestServer::start().await;
    let rows: Vec<Value> = (0..12)
        .map(|i| json!({"q": format!("q{i} [[latency_ms:20]]"), "a": format!("a{i}")}))
        .collect();
    let data = server.upload_jsonl("rows.jsonl", &rows).await;
    let shots = server
        .upload_jsonl(
            "shots.jsonl",
            &[
                json!({"q": "s0", "a": "t0"}),
                json!({"q": "s1", "a": "t1"}),
                json!({"q": "s2", "a": "t2"}),
            ],
        )
        .await;
    let suite_id = server.create_suite(json!({"tasks": [
            {"id": "first", "type": "qa", "dataset": {"file_id": data}, "prompt_template": "Q: {{q}}", "target_template": "{{a}}",
             "fewshot": {"count": 2, "dataset": {"file_id": shots}, "example_template": "{{prompt}} => {{target}}", "separator": " | "}},
            {"id": "random", "type": "qa", "dataset": {"file_id": data}, "prompt_template": "Q: {{q}}", "target_template": "{{a}}",
             "fewshot": {"strategy": "random", "seed": 7}, "num_fewshot": 3},
            {"id": "skipped", "type": "qa", "dataset": {"file_id": data}, "prompt_template": "{{q}}"}
        ]}),
    )
    .await;
    let (status, run) = server
        .post(
            "/api/v1/llm/evals/runs",
            &json!({"suite_id": suite_id, "models": ["fake"], "task_ids": ["first", "random"],
                    "max_samples_per_task": 5, "generation_concurrency": 3}),
        )
        .await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["task_ids"], json!(["first", "random"]));
    let run_id = run["id"].as_str().unwrap().to_string();
    let run = server.wait_terminal(&run_id).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["request_counts"]["total"], 10, "5 rows × 2 tasks");
    assert!(
        server.models.max_in_flight() <= 3,
        "{} calls in flight",
        server.models.max_in_flight()
    );
    assert!(server.models.max_in_flight() >= 2, "calls did not overlap");

    let samples = server.all_samples(&run_id, "").await;
    let first = samples
        .iter()
        .find(|s| s["task_id"] == "first" && s["sample_index"] == 4)
        .unwrap();
    assert_eq!(
        first["prompt"],
        "Q: s0 => t0 | Q: s1 => t1 | Q: q4 [[latency_ms:20]]"
    );
    // Random few-shot from the task's own rows: 3 examples, never the row itself, seeded.
    for s in samples.iter().filter(|s| s["task_id"] == "random") {
        let prompt = s["prompt"].as_str().unwrap();
        let own = format!("Q: q{} ", s["sample_index"]);
        assert_eq!(prompt.matches("Q: ").count(), 4, "{prompt}");
        assert_eq!(
            prompt.matches(&own).count(),
            1,
            "the row itself was shown as an example: {prompt}"
        );
        assert!(
            prompt.ends_with(&format!("{own}[[latency_ms:20]]")),
            "{prompt}"
        );
    }
    // The same seed gives the same examples in another run.
    let (_, again) = server
        .post(
            "/api/v1/llm/evals/runs",
            &json!({"suite_id": suite_id, "models": ["fake"], "task_ids": ["random"], "max_samples_per_task": 5}),
        )
        .await;
    let again_id = again["id"].as_str().unwrap().to_string();
    server.wait_terminal(&again_id).await;
    let mut a: Vec<(i64, String)> = samples
        .iter()
        .filter(|s| s["task_id"] == "random")
        .map(|s| {
            (
                s["sample_index"].as_i64().unwrap(),
                s["prompt"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut b: Vec<(i64, String)> = server
        .all_samples(&again_id, "")
        .await
        .iter()
        .map(|s| {
            (
                s["sample_index"].as_i64().unwrap(),
                s["prompt"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);
}
