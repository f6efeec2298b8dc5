//! Token backfill (`POST /suites/{suite_id}/tokens/measure`) over HTTP.
//!
//! Every generation path estimates usage when the provider reports none, so samples "written
//! before usage was recorded" are made by clearing figures in the server's SQLite database
//! after real runs have completed against the fake model server.

mod common;

use assay_domain::Principal;
use assay_models::tokens::count_tokens;
use common::{assert_error, TestServer};
use serde_json::{json, Value};
use sqlx::sqlite::SqlitePool;

const INSTRUCTIONS: &str = "Answer with one word.";

/// One qa task over five rows, each with its own token story.
async fn suite(server: &TestServer) -> String {
    let rows = [
        // 0, 1: measured by the provider, then cleared: the backfill measures them.
        json!({"question": "Capital of France? [[answer:Paris]]", "answer": "Paris"}),
        json!({"question": "Capital of Italy? [[reasoning:Rome has been the capital since 1871, so Rome]] [[answer:Rome]]", "answer": "Rome"}),
        // 2: fails before any text: stays unmeasured.
        json!({"question": "Broken [[status:400]]", "answer": "x"}),
        // 3: measured by the provider and kept.
        json!({"question": "Capital of Spain? [[answer:Madrid]]", "answer": "Madrid"}),
        // 4: no usage reported: estimated when it was written.
        json!({"question": "Capital of Peru? [[no_usage]] [[answer:Lima]]", "answer": "Lima"}),
    ];
    let file = server.upload_jsonl("capitals.jsonl", &rows).await;
    server
        .create_suite(json!({"tasks": [{
            "id": "qa", "type": "qa", "dataset": {"file_id": file},
            "prompt_template": "Q: {{question}}\nA:", "target_template": "{{answer}}"
        }]}))
        .await
}

/// Runs the suite to completion; returns the run id.
async fn completed_run(server: &TestServer, suite_id: &str, generation: Value) -> String {
    let run = server
        .run_to_end(&json!({"suite_id": suite_id, "models": ["fake"], "generation": generation}))
        .await;
    assert_eq!(run["status"], "completed", "{run}");
    run["id"].as_str().expect("run id").to_string()
}

async fn database(server: &TestServer) -> SqlitePool {
    let path = server.data_dir().join("assay.db");
    SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("test database")
}

/// Makes a run look as if it was written before usage was recorded: samples 0 and 1 lose
/// every token figure, and the run's token sums become unknown.
async fn forget_tokens(db: &SqlitePool, run_id: &str) {
    sqlx::query(
        "UPDATE samples SET input_tokens = NULL, output_tokens = NULL, cached_tokens = NULL, \
         reasoning_tokens = NULL, tokens_estimated = 0 WHERE run_id = ? AND sample_index IN (0, 1)",
    )
    .bind(run_id)
    .execute(db)
    .await
    .expect("clear sample figures");
    let metrics: String = sqlx::query_scalar("SELECT metrics FROM runs WHERE id = ?")
        .bind(run_id)
        .fetch_one(db)
        .await
        .expect("metrics");
    let mut metrics: Value = serde_json::from_str(&metrics).expect("metrics JSON");
    let unknown = json!({"input": null, "output": null, "cached": null, "reasoning": null});
    metrics["by_task"]["qa"]["tokens"] = unknown.clone();
    metrics["by_model"]["fake"]["qa"]["tokens"] = unknown;
    sqlx::query(
        "UPDATE runs SET metrics = ?, tokens_input = NULL, tokens_output = NULL, tokens_cached = NULL, \
         tokens_reasoning = NULL WHERE id = ?",
    )
    .bind(metrics.to_string())
    .bind(run_id)
    .execute(db)
    .await
    .expect("clear run sums");
}

async fn measure(server: &TestServer, suite_id: &str, body: Value) -> Value {
    let (status, out) = server
        .post(
            &format!("/api/v1/llm/evals/suites/{suite_id}/tokens/measure"),
            &body,
        )
        .await;
    assert_eq!(status, 200, "{out}");
    out
}

fn measurement(suite_id: &str, runs: i64, samples: i64, remaining: i64) -> Value {
    json!({
        "object": "eval.suite.token_measurement", "suite_id": suite_id,
        "measured_runs": runs, "measured_samples": samples, "remaining_runs": remaining
    })
}

/// The run's samples by index, reasoning included.
async fn samples(server: &TestServer, run_id: &str) -> Vec<Value> {
    let mut all = server.all_samples(run_id, "&include_reasoning=true").await;
    all.sort_by_key(|s| s["sample_index"].as_i64());
    all
}

async fn run(server: &TestServer, run_id: &str) -> Value {
    let (status, run) = server
        .get(&format!("/api/v1/llm/evals/runs/{run_id}"))
        .await;
    assert_eq!(status, 200, "{run}");
    run
}

/// Token sums over samples the way a run reports them: `null` where no sample has the figure.
fn sums(samples: &[Value]) -> Value {
    let sum = |key: &str| {
        let figures: Vec<i64> = samples.iter().filter_map(|s| s[key].as_i64()).collect();
        (!figures.is_empty()).then(|| figures.iter().sum::<i64>())
    };
    json!({
        "input": sum("input_tokens"), "output": sum("output_tokens"),
        "cached": sum("cached_tokens"), "reasoning": sum("reasoning_tokens")
    })
}

fn text(sample: &Value, key: &str) -> u64 {
    sample[key].as_str().map(count_tokens).unwrap_or(0)
}

/// Samples 0 and 1 carry the figures counted from their stored text.
fn assert_backfilled(samples: &[Value], instructions: &str) {
    for s in &samples[..2] {
        assert_eq!(s["tokens_estimated"], true, "{s}");
        assert_eq!(
            s["input_tokens"],
            count_tokens(instructions) + text(s, "prompt"),
            "{s}"
        );
        assert_eq!(
            s["output_tokens"],
            text(s, "output_text") + text(s, "reasoning"),
            "{s}"
        );
        assert_eq!(s["cached_tokens"], Value::Null, "{s}");
    }
    assert_eq!(samples[0]["reasoning"], Value::Null);
    assert_eq!(
        samples[0]["reasoning_tokens"],
        Value::Null,
        "no reasoning, no split"
    );
    assert_eq!(
        samples[1]["reasoning"],
        "Rome has been the capital since 1871, so Rome"
    );
    assert_eq!(
        samples[1]["reasoning_tokens"],
        text(&samples[1], "reasoning")
    );
    assert!(samples[1]["output_tokens"].as_u64() > samples[1]["reasoning_tokens"].as_u64());
}

/// The run's per-task, per-model and total token sums are those of its stored samples.
fn assert_sums_refreshed(run: &Value, samples: &[Value]) {
    let expected = sums(samples);
    assert!(expected["input"].is_i64(), "{expected}");
    assert_eq!(run["metrics"]["by_task"]["qa"]["tokens"], expected, "{run}");
    assert_eq!(
        run["metrics"]["by_model"]["fake"]["qa"]["tokens"], expected,
        "{run}"
    );
    assert_eq!(run["tokens"], expected, "{run}");
}

#[tokio::test]
async fn backfill_measures_text_without_tokens_run_by_run() {
    let server = TestServer::start().await;
    let suite_id = suite(&server).await;
    let first = completed_run(&server, &suite_id, json!({})).await;
    let second = completed_run(&server, &suite_id, json!({"instructions": INSTRUCTIONS})).await;
    let failed = completed_run(&server, &suite_id, json!({})).await;
    let deleted = completed_run(&server, &suite_id, json!({})).await;

    // Written now, a sample whose provider reports no usage is estimated at once.
    let fresh = samples(&server, &first).await;
    let peru = &fresh[4];
    assert_eq!(peru["tokens_estimated"], true, "{peru}");
    assert_eq!(
        peru["input_tokens"],
        text(peru, "prompt"),
        "estimated at write time: {peru}"
    );
    assert_eq!(peru["output_tokens"], text(peru, "output_text"));
    assert_eq!(fresh[3]["tokens_estimated"], false);
    assert!(fresh[3]["input_tokens"].is_i64());

    // Nothing to measure yet.
    assert_eq!(
        measure(&server, &suite_id, json!({})).await,
        measurement(&suite_id, 0, 0, 0)
    );

    let db = database(&server).await;
    for run_id in [&first, &second, &failed, &deleted] {
        forget_tokens(&db, run_id).await;
    }
    // Only completed, live runs are measured.
    sqlx::query("UPDATE runs SET status = 'failed' WHERE id = ?")
        .bind(&failed)
        .execute(&db)
        .await
        .expect("fail a run");
    let (status, _) = server
        .delete(&format!("/api/v1/llm/evals/runs/{deleted}"))
        .await;
    assert_eq!(status, 200);
    let before_first = run(&server, &first).await;
    let before_second_samples = samples(&server, &second).await;

    // One run per call, oldest first.
    assert_eq!(
        measure(&server, &suite_id, json!({"limit": 1})).await,
        measurement(&suite_id, 1, 2, 1)
    );
    let measured = samples(&server, &first).await;
    assert_backfilled(&measured, "");
    // No text: still unmeasured. Measured before: untouched.
    assert_eq!(measured[2]["status"], "failed");
    assert_eq!(measured[2]["input_tokens"], Value::Null);
    assert_eq!(measured[2]["output_tokens"], Value::Null);
    assert_eq!(measured[2]["tokens_estimated"], false);
    assert_eq!(measured[3], fresh[3]);
    assert_eq!(measured[4], fresh[4]);
    let after_first = run(&server, &first).await;
    assert_sums_refreshed(&after_first, &measured);
    // Only token sums moved.
    assert_eq!(
        after_first["metrics"]["by_task"]["qa"]["exact_match"],
        before_first["metrics"]["by_task"]["qa"]["exact_match"]
    );
    assert_eq!(
        after_first["metrics"]["by_model"]["fake"]["qa"]["metrics"],
        before_first["metrics"]["by_model"]["fake"]["qa"]["metrics"]
    );
    assert_eq!(
        after_first["metrics"]["samples"],
        before_first["metrics"]["samples"]
    );
    assert_eq!(
        after_first["request_counts"],
        before_first["request_counts"]
    );
    // The newer run waits for the next call.
    assert_eq!(samples(&server, &second).await, before_second_samples);
    assert_eq!(run(&server, &second).await["tokens"]["input"], Value::Null);

    // The next call takes the rest (the run-level instructions count as prompt).
    assert_eq!(
        measure(&server, &suite_id, json!({})).await,
        measurement(&suite_id, 1, 2, 0)
    );
    let measured_second = samples(&server, &second).await;
    assert_backfilled(&measured_second, INSTRUCTIONS);
    assert_sums_refreshed(&run(&server, &second).await, &measured_second);

    // Nothing left: a no-op.
    let settled = run(&server, &first).await;
    assert_eq!(
        measure(&server, &suite_id, json!({"limit": 100})).await,
        measurement(&suite_id, 0, 0, 0)
    );
    assert_eq!(run(&server, &first).await, settled);
    assert_eq!(samples(&server, &first).await, measured);

    // The failed and the deleted run kept their missing figures.
    for run_id in [&failed, &deleted] {
        let missing: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM samples WHERE run_id = ? AND input_tokens IS NULL \
             AND output_text IS NOT NULL",
        )
        .bind(run_id)
        .fetch_one(&db)
        .await
        .expect("count");
        assert_eq!(missing, 2, "{run_id}");
    }
}

#[tokio::test]
async fn backfill_is_for_the_suite_owner_and_checks_its_body() {
    let server = TestServer::start().await;
    let suite_id = suite(&server).await;
    let path = format!("/api/v1/llm/evals/suites/{suite_id}/tokens/measure");

    let (status, body) = server
        .post(
            "/api/v1/llm/evals/suites/eval_suite_00000000000000000000000000000000/tokens/measure",
            &json!({}),
        )
        .await;
    assert_error(status, &body, 404, "");
    let (status, body) = server.post_as(&server.other_key, &path, &json!({})).await;
    assert_error(status, &body, 404, "");
    // A share lets the other org read the suite, not measure it.
    let owner = Principal {
        key_id: String::new(),
        org_id: "org_a".into(),
        team_id: "team_a".into(),
        user_id: None,
        is_admin: true,
    };
    server
        .store
        .create_share(&owner, &suite_id, "org_b")
        .await
        .expect("share");
    let (status, _) = server
        .get_as(
            &server.other_key,
            &format!("/api/v1/llm/evals/suites/{suite_id}"),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = server.post_as(&server.other_key, &path, &json!({})).await;
    assert_error(status, &body, 404, "");

    for bad in [
        json!({"limit": 0}),
        json!({"limit": 101}),
        json!({"limit": "x"}),
        json!({"limit": 1.5}),
    ] {
        let (status, body) = server.post(&path, &bad).await;
        assert_error(status, &body, 400, "limit");
    }
    // The body is required (it may be `{}`).
    let (status, body) = server.post_raw(&path, "").await;
    assert_error(status, &body, 400, "body");
    let (status, body) = server.post_raw(&path, "null").await;
    assert_error(status, &body, 400, "body");

    // Unknown keys are ignored, as in every other body.
    assert_eq!(
        measure(&server, &suite_id, json!({"limit": 3, "extra": true})).await,
        measurement(&suite_id, 0, 0, 0)
    );
}
