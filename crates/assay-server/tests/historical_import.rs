//! `POST /evals/imports/huggingface-results`: lm-eval's own output (the fixture written by
//! `tests/reference/make_lmeval_fixture.py` with real lm-eval 0.4.13) served by the fake Hub
//! and imported as runs whose metrics equal lm-eval's results files.

mod common;

use std::path::{Path, PathBuf};

use assay_testkit::hub::Access;
use common::{assert_error, TestServer, HUB_TOKEN};
use serde_json::{json, Value};

const IMPORT: &str = "/api/v1/llm/evals/imports/huggingface-results";
const REPO: &str = "acme/lm-eval-results";
/// The caller's token: not the server's own (`HUB_TOKEN`), which must not be what opens the
/// private repository.
const CALLER_TOKEN: &str = "hf_caller_secret_4711";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assay-lmeval/tests/fixtures")
}

/// Every fixture file as (repository path under `runs/`, bytes).
fn fixture_files() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for model in ["fake-model-a", "fake-model-b"] {
        let dir = fixtures().join(model);
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .expect("fixture dir")
            .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
            .collect();
        names.sort();
        for name in names {
            let bytes = std::fs::read(dir.join(&name)).expect("fixture");
            out.push((format!("runs/{model}/{name}"), bytes));
        }
    }
    out
}

fn results_path(files: &[(String, Vec<u8>)], model: &str) -> String {
    files
        .iter()
        .map(|(p, _)| p)
        .find(|p| p.starts_with(&format!("runs/{model}/results_")))
        .expect("results file")
        .clone()
}

/// The fixture as a private repository only `CALLER_TOKEN` reads, plus `extra` files.
fn publish(server: &TestServer, extra: Vec<(String, Vec<u8>)>) -> Vec<(String, Vec<u8>)> {
    let mut files = fixture_files();
    files.extend(extra);
    server
        .hub
        .set_access(REPO, Access::Private(CALLER_TOKEN.into()));
    server.hub.commit(REPO, "main", files.clone());
    files
}

async fn import_with(server: &TestServer, token: Option<&str>, body: Value) -> (u16, Value) {
    let mut request = server
        .client
        .post(server.url(IMPORT))
        .bearer_auth(&server.key)
        .json(&body);
    if let Some(token) = token {
        request = request.header("X-HuggingFace-Token", token);
    }
    server.send(request).await
}

async fn import(server: &TestServer, body: Value) -> Value {
    let (status, out) = import_with(server, Some(CALLER_TOKEN), body).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["object"], "eval.import");
    out
}

/// The Assay key of lm-eval's `metric,filter`.
fn assay_key(metric: &str, filter: &str) -> String {
    if filter == "none" {
        metric.to_string()
    } else {
        format!("{metric},{filter}")
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0)
}

/// Every number of lm-eval's results file for a task equals the run's metric.
fn assert_metrics_equal_lm_eval(run: &Value, results: &Value) {
    let model = run["models"][0].as_str().expect("model");
    let mut compared = 0;
    for (task, numbers) in results["results"].as_object().expect("results") {
        for (key, reported) in numbers.as_object().expect("task results") {
            let Some((metric, filter)) = key.split_once(',') else {
                continue;
            };
            let Some(reported) = reported.as_f64() else {
                continue;
            };
            let (metric, field) = match metric.strip_suffix("_stderr") {
                Some(m) => (m, "stderr"),
                None => (metric, "mean"),
            };
            let entry =
                &run["metrics"]["by_model"][model][task]["metrics"][assay_key(metric, filter)];
            let ours = entry[field]
                .as_f64()
                .unwrap_or_else(|| panic!("{model} {task} {key}: no {field} in {entry}"));
            assert!(
                close(ours, reported),
                "{model} {task} {key}: Assay {ours} vs lm-eval {reported}"
            );
            compared += 1;
        }
    }
    assert!(compared >= 8, "only {compared} numbers compared");
}

fn results_json(files: &[(String, Vec<u8>)], model: &str) -> Value {
    let path = results_path(files, model);
    let bytes = &files.iter().find(|(p, _)| *p == path).expect("results").1;
    serde_json::from_slice(bytes).expect("results JSON")
}

/// Whether `needle` appears in any file under `dir`.
fn appears_under(dir: &Path, needle: &[u8]) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()? {
        let path = entry.ok()?.path();
        if path.is_dir() {
            if let Some(p) = appears_under(&path, needle) {
                return Some(p);
            }
        } else if let Ok(bytes) = std::fs::read(&path) {
            if bytes.windows(needle.len()).any(|w| w == needle) {
                return Some(path);
            }
        }
    }
    None
}

#[tokio::test]
async fn lm_eval_results_import_as_runs_with_lm_evals_numbers() {
    let server = TestServer::start().await;
    let files = publish(&server, Vec::new());

    // A dry run reads and counts, and writes nothing.
    let dry = import(&server, json!({"source": {"repo": REPO}, "dry_run": true})).await;
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["discovered_files"], 2);
    assert_eq!(dry["imported_runs"], 2);
    assert_eq!(dry["skipped_runs"], 0);
    assert_eq!(dry["created_suite"], true);
    assert_eq!(dry["suite_id"], "");
    let would: i64 = dry["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert_eq!(f["status"], "would_import", "{f}");
            f["samples"].as_i64().unwrap()
        })
        .sum();
    assert_eq!(dry["imported_samples"], would);
    assert_eq!(would, 2 * (16 + 12 + 10));
    let (_, suites) = server.get("/api/v1/llm/evals/suites").await;
    assert_eq!(suites["data"].as_array().unwrap().len(), 0, "{suites}");

    // The import.
    let out = import(
        &server,
        json!({"source": {"repo": REPO}, "metadata": {"batch": "2026-12"}}),
    )
    .await;
    assert_eq!(out["source"]["repo"], REPO);
    assert_eq!(out["source"]["revision"], "main");
    assert_eq!(out["source"]["type"], "huggingface");
    assert_eq!(out["created_suite"], true);
    assert_eq!(out["created_suite_version"], false);
    assert_eq!(out["suite_version"], 1);
    assert_eq!(out["imported_runs"], 2);
    assert_eq!(out["imported_samples"], 76);
    let suite_id = out["suite_id"].as_str().unwrap().to_string();
    let (_, suite) = server
        .get(&format!("/api/v1/llm/evals/suites/{suite_id}"))
        .await;
    assert_eq!(suite["name"], "Historical lm-eval harness results");
    let (_, version) = server
        .get(&format!("/api/v1/llm/evals/suites/{suite_id}/versions/1"))
        .await;
    let tasks: Vec<&str> = version["manifest"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(tasks, ["assay_arith", "assay_capitals", "assay_translate"]);
    let arith = &version["manifest"]["tasks"][0];
    assert_eq!(arith["type"], "custom", "{arith}");
    assert_eq!(
        arith["metadata"]["primary_metric"],
        "exact_match,strict-match"
    );
    assert_eq!(arith["num_fewshot"], 1);
    // lm-eval read local JSON files: the task reads the documents it logged.
    assert_eq!(arith["dataset"]["source"], "file");
    let docs = server
        .content(arith["dataset"]["file_id"].as_str().unwrap())
        .await;
    assert_eq!(docs.lines().count(), 16);

    for f in out["files"].as_array().unwrap() {
        assert_eq!(f["status"], "imported", "{f}");
        let run_id = f["run_id"].as_str().unwrap();
        let (_, run) = server
            .get(&format!("/api/v1/llm/evals/runs/{run_id}"))
            .await;
        assert_eq!(run["status"], "completed");
        assert_eq!(run["suite_id"], suite_id.as_str());
        assert_eq!(run["metadata"]["batch"], "2026-12");
        assert_eq!(run["metadata"]["source"], "lm-eval-harness");
        assert!(run["agent_name"].is_null(), "{run}");
        let model = run["models"][0].as_str().unwrap();
        assert_eq!(f["model"], model);
        assert_eq!(run["request_counts"]["total"], 38);
        assert_eq!(run["request_counts"]["completed"], 38);
        assert_metrics_equal_lm_eval(&run, &results_json(&files, model));
        let arith = &run["metrics"]["by_model"][model]["assay_arith"];
        assert_eq!(arith["primary_metric"], "exact_match,strict-match");
        let bleu = &run["metrics"]["by_model"][model]["assay_translate"]["metrics"]["bleu"];
        assert_eq!(bleu["lm_eval_aggregation"], "bleu", "{bleu}");

        let samples = server.all_samples(run_id, "").await;
        assert_eq!(samples.len(), 38);
        let capital = samples
            .iter()
            .find(|s| s["task_id"] == "assay_capitals" && s["sample_index"] == 3)
            .expect("capitals doc 3");
        assert_eq!(capital["status"], "completed");
        assert_eq!(capital["target"], "Madrid");
        assert!(
            capital["prompt"].as_str().unwrap().contains("Spain"),
            "{capital}"
        );
        assert_eq!(capital["scores"]["exact_match"], 0.0);
        assert_eq!(capital["dataset_row"]["country"], "Spain", "{capital}");
        assert_eq!(capital["tokens_estimated"], true);
        assert!(capital["input_tokens"].as_i64().unwrap() > 0);
        let arith = samples
            .iter()
            .find(|s| s["task_id"] == "assay_arith")
            .expect("arith");
        assert!(
            arith["scores"]["exact_match,strict-match"].is_number(),
            "{arith}"
        );
        assert!(arith["scores"]["exact_match,flexible-extract"].is_number());
    }

    // The same files again: skipped, into the same suite (found by name).
    let again = import(&server, json!({"source": {"repo": REPO}})).await;
    assert_eq!(again["suite_id"], suite_id.as_str());
    assert_eq!(again["created_suite"], false);
    assert_eq!(again["imported_runs"], 0);
    assert_eq!(again["skipped_runs"], 2);
    assert_eq!(again["imported_samples"], 0);
    for (f, first) in again["files"]
        .as_array()
        .unwrap()
        .iter()
        .zip(out["files"].as_array().unwrap())
    {
        assert_eq!(f["status"], "skipped");
        assert_eq!(f["run_id"], first["run_id"]);
    }
    let (_, runs) = server
        .get(&format!("/api/v1/llm/evals/runs?suite_id={suite_id}"))
        .await;
    assert_eq!(runs["data"].as_array().unwrap().len(), 2, "{runs}");

    // The imported runs are ordinary completed runs: they rank on the leaderboard-runs feed.
    let (status, feed) = server
        .get(&format!(
            "/api/v1/llm/evals/suites/{suite_id}/leaderboard-runs"
        ))
        .await;
    assert_eq!(status, 200, "{feed}");
    assert_eq!(feed["data"].as_array().unwrap().len(), 2, "{feed}");

    // The caller's token went to the Hub only: nothing under the data directory holds it.
    // (The scan does see what was stored.)
    assert!(appears_under(server.data_dir(), b"fake-model-b").is_some());
    assert_eq!(
        appears_under(server.data_dir(), CALLER_TOKEN.as_bytes()),
        None
    );
    // Every request to the private repository carried a token, and only the caller's opens it.
    let requests = server.hub.requests();
    assert!(!requests.is_empty());
    assert!(requests.iter().all(|r| r.authorized), "{requests:?}");
}

#[tokio::test]
async fn into_an_existing_suite_missing_tasks_become_a_version() {
    let server = TestServer::start().await;
    let files = publish(&server, Vec::new());
    let file_id = server
        .upload_jsonl(
            "capitals.jsonl",
            &[json!({"country": "France", "capital": "Paris"})],
        )
        .await;
    let suite_id = server
        .create_suite(json!({"tasks": [{
            "id": "assay_capitals", "type": "qa",
            "dataset": {"file_id": file_id},
            "prompt_template": "Capital of {{country}}?", "target_template": "{{capital}}",
        }]}))
        .await;

    // Without create_missing_tasks only the suite's task is imported.
    let a = results_path(&files, "fake-model-a");
    let only = import(
        &server,
        json!({"source": {"repo": REPO, "files": [a]}, "suite_id": suite_id, "create_missing_tasks": false}),
    )
    .await;
    assert_eq!(only["created_suite"], false);
    assert_eq!(only["created_suite_version"], false);
    assert_eq!(only["suite_version"], 1);
    assert_eq!(only["imported_runs"], 1);
    assert_eq!(only["imported_samples"], 12);
    let note = only["files"][0]["notes"].to_string();
    assert!(
        note.contains("assay_arith") && note.contains("create_missing_tasks"),
        "{note}"
    );
    let run_id = only["files"][0]["run_id"].as_str().unwrap();
    let (_, run) = server
        .get(&format!("/api/v1/llm/evals/runs/{run_id}"))
        .await;
    assert_eq!(
        run["task_ids"],
        json!(null),
        "every task of version 1 is covered: {run}"
    );
    let capitals =
        &run["metrics"]["by_model"]["fake-model-a"]["assay_capitals"]["metrics"]["exact_match"];
    assert!(close(
        capitals["mean"].as_f64().unwrap(),
        0.5833333333333334
    ));

    // With it (the default), the other model's tasks are appended as version 2.
    let b = results_path(&files, "fake-model-b");
    let more = import(
        &server,
        json!({"source": {"repo": REPO, "files": [b]}, "suite_id": suite_id}),
    )
    .await;
    assert_eq!(more["created_suite_version"], true);
    assert_eq!(more["suite_version"], 2);
    assert_eq!(more["imported_runs"], 1);
    let (_, suite) = server
        .get(&format!("/api/v1/llm/evals/suites/{suite_id}"))
        .await;
    assert_eq!(suite["active_version"], 2);
    let (_, v2) = server
        .get(&format!("/api/v1/llm/evals/suites/{suite_id}/versions/2"))
        .await;
    let ids: Vec<&str> = v2["manifest"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["assay_capitals", "assay_arith", "assay_translate"]);
    // The user's own task is kept as it was.
    assert_eq!(
        v2["manifest"]["tasks"][0]["prompt_template"],
        "Capital of {{country}}?"
    );
    let run_id = more["files"][0]["run_id"].as_str().unwrap();
    let (_, run) = server
        .get(&format!("/api/v1/llm/evals/runs/{run_id}"))
        .await;
    assert_eq!(run["suite_version"], 2);
    assert_metrics_equal_lm_eval(&run, &results_json(&files, "fake-model-b"));
}

#[tokio::test]
async fn listing_limits_prefixes_and_unusable_files() {
    let server = TestServer::start().await;
    let files = publish(
        &server,
        vec![
            // A results file without samples, and one that is not JSON.
            (
                "runs/orphan/results_2026-01-01T00-00-00.000001.json".into(),
                br#"{"results": {"t": {"acc,none": 1.0}}, "model_name": "orphan"}"#.to_vec(),
            ),
            (
                "runs/zz-broken/results_2026-01-01T00-00-00.000002.json".into(),
                b"{not json".to_vec(),
            ),
            (
                "runs/zz-broken/samples_t_2026-01-01T00-00-00.000002.jsonl".into(),
                b"{}\n".to_vec(),
            ),
            ("README.md".into(), b"# results\n".to_vec()),
        ],
    );

    // limit_files: one per call, and calls progress through the listing (already imported
    // files do not count).
    let first = import(
        &server,
        json!({"source": {"repo": REPO, "path_prefix": "runs/fake-model"}, "limit_files": 1}),
    )
    .await;
    assert_eq!(first["discovered_files"], 2);
    assert_eq!(first["imported_runs"], 1);
    assert_eq!(first["files"].as_array().unwrap().len(), 1);
    assert_eq!(
        first["files"][0]["path"],
        results_path(&files, "fake-model-a")
    );
    let second = import(
        &server,
        json!({"source": {"repo": REPO, "path_prefix": "runs/fake-model"}, "limit_files": 1}),
    )
    .await;
    assert_eq!(second["imported_runs"], 1);
    assert_eq!(second["skipped_runs"], 1);
    assert_eq!(
        second["files"][1]["path"],
        results_path(&files, "fake-model-b")
    );

    // The whole listing: the two unusable files are skipped, saying why.
    let all = import(&server, json!({"source": {"repo": REPO}})).await;
    assert_eq!(all["discovered_files"], 4);
    assert_eq!(all["imported_runs"], 0);
    assert_eq!(all["skipped_runs"], 4);
    let notes = |path: &str| -> String {
        all["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == path)
            .map(|f| f["notes"].to_string())
            .unwrap_or_default()
    };
    assert!(notes("runs/orphan/results_2026-01-01T00-00-00.000001.json").contains("--log_samples"));
    assert!(notes("runs/zz-broken/results_2026-01-01T00-00-00.000002.json").contains("zz-broken"));
}

#[tokio::test]
async fn refusals_name_the_field_and_write_nothing() {
    let server = TestServer::start().await;
    let files = publish(&server, Vec::new());
    let a = results_path(&files, "fake-model-a");

    let (status, body) = import_with(&server, None, json!({})).await;
    assert_error(status, &body, 400, "X-HuggingFace-Token");
    let (status, body) = import_with(&server, Some("  "), json!({})).await;
    assert_error(status, &body, 400, "X-HuggingFace-Token");
    // The server's own token is not used: without the caller's the repository is closed.
    let (status, body) =
        import_with(&server, Some(HUB_TOKEN), json!({"source": {"repo": REPO}})).await;
    assert_error(status, &body, 400, "X-HuggingFace-Token");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("401"),
        "{body}"
    );
    let (status, body) = import_with(
        &server,
        Some(CALLER_TOKEN),
        json!({"source": {"repo": "acme/none"}}),
    )
    .await;
    assert_error(status, &body, 400, "source.repo");
    let (status, body) = import_with(
        &server,
        Some(CALLER_TOKEN),
        json!({"source": {"repo": REPO, "revision": "v9"}}),
    )
    .await;
    assert_error(status, &body, 400, "source.revision");
    let (status, body) = import_with(
        &server,
        Some(CALLER_TOKEN),
        json!({"source": {"repo": REPO, "files": [a, "runs/x/results_2026-01-01T00-00-00.json"]}}),
    )
    .await;
    assert_error(status, &body, 400, "source.files[1]");
    let (status, body) = import_with(
        &server,
        Some(CALLER_TOKEN),
        json!({"source": {"repo": REPO, "files": ["README.md"]}}),
    )
    .await;
    assert_error(status, &body, 400, "source.files[0]");
    for (body, path) in [
        (json!({"limit_files": 0}), "limit_files"),
        (json!({"limit_files": 101}), "limit_files"),
        (json!({"source": {"type": "s3"}}), "source.type"),
        (json!({"source": {"repo": "a/b/c"}}), "source.repo"),
        (json!({"suite_name": ""}), "suite_name"),
        (
            json!({"suite_description": "x".repeat(10_001)}),
            "suite_description",
        ),
        (json!({"suite_id": "eval_suite_missing"}), "suite_id"),
        (json!({"metadata": {"": "x"}}), "metadata."),
    ] {
        let (status, out) = import_with(&server, Some(CALLER_TOKEN), body.clone()).await;
        assert_eq!(status, 400, "{body} → {out}");
        assert!(
            out["error"]["details"]["param"]
                .as_str()
                .unwrap_or("")
                .starts_with(path),
            "{body} → {out}"
        );
    }
    // Another team's suite is not importable into.
    let other_suite = {
        let file = server.upload_jsonl("d.jsonl", &[json!({"q": "x"})]).await;
        server
            .create_suite(json!({"tasks": [{"id": "t", "type": "qa", "dataset": {"file_id": file}, "prompt_template": "{{q}}"}]}))
            .await
    };
    let (status, body) = server
        .send(
            server
                .client
                .post(server.url(IMPORT))
                .bearer_auth(&server.other_key)
                .header("X-HuggingFace-Token", CALLER_TOKEN)
                .json(&json!({"source": {"repo": REPO}, "suite_id": other_suite})),
        )
        .await;
    assert_error(status, &body, 400, "suite_id");

    // A Hub outage: 503 and nothing written.
    server.hub.fail_next(50, 503, None);
    let (status, body) = import_with(
        &server,
        Some(CALLER_TOKEN),
        json!({"source": {"repo": REPO}}),
    )
    .await;
    assert_eq!(status, 503, "{body}");
    let (_, suites) = server.get("/api/v1/llm/evals/suites").await;
    assert_eq!(
        suites["data"].as_array().unwrap().len(),
        1,
        "only the one made above: {suites}"
    );
    let (_, runs) = server.get("/api/v1/llm/evals/runs").await;
    assert_eq!(runs["data"].as_array().unwrap().len(), 0, "{runs}");
}
