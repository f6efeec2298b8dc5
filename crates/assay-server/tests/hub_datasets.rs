//! Runs over Hugging Face datasets, read from the fake Hub in the testkit: Parquet (a config
//! with several splits and files), JSON Lines and CSV through `data_files`, `max_rows`, the
//! commit recorded on the run, the blob-store cache, and the failures a user must be told
//! about (a missing dataset, a private one, an unknown split).

mod common;

use std::path::Path;

use assay_testkit::hub::Access;
use common::{TestServer, HUB_TOKEN};
use serde_json::{json, Value};

const REPO: &str = "acme/fixture";

/// Commits the fixture repository `assay-hub` checks against Python `datasets` to the fake Hub.
fn commit_fixture(server: &TestServer, repo: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assay-hub/tests/fixtures/hub_repo");
    let mut files = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("fixture dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .to_string();
                files.push((rel, std::fs::read(&path).expect("fixture file")));
            }
        }
    }
    server.hub.commit(repo, "main", files)
}

async fn hub_suite(server: &TestServer, dataset: Value, prompt: &str, target: &str) -> String {
    server
        .create_suite(
            json!({"tasks": [{"id": "t", "type": "qa", "dataset": dataset,
            "prompt_template": prompt, "target_template": target,
            "metrics": [{"id": "exact_match"}]}]}),
        )
        .await
}

async fn results_artifact(server: &TestServer, run: &Value) -> Value {
    let (_, artifacts) = server
        .get(&format!(
            "/api/v1/llm/evals/runs/{}/artifacts",
            run["id"].as_str().unwrap()
        ))
        .await;
    let file = artifacts["result_file_id"]
        .as_str()
        .expect("results file")
        .to_string();
    serde_json::from_str(&server.content(&file).await).expect("results json")
}

#[tokio::test]
async fn a_parquet_config_runs_records_its_commit_and_is_cached() {
    let server = TestServer::start().await;
    let commit = commit_fixture(&server, REPO);
    let suite = hub_suite(
        &server,
        json!({"source": "huggingface", "path": REPO, "split": "train"}),
        "{{question}} [[answer:{{answer}}]]",
        "{{answer}}",
    )
    .await;
    let run = server
        .run_to_end(&json!({"suite_id": suite, "models": ["fake"]}))
        .await;
    assert_eq!(run["status"], "completed", "{run}");
    // The default config's train split: two Parquet files, 13 rows, as Python datasets reads.
    assert_eq!(run["request_counts"]["total"], 13);
    assert_eq!(
        common::metric(&run, "fake", "t", "exact_match")["mean"],
        1.0
    );
    let samples = server.all_samples(run["id"].as_str().unwrap(), "").await;
    assert!(samples.iter().any(|s| s["prompt"]
        .as_str()
        .unwrap()
        .starts_with("Q0: which word follows alpha?")));
    let results = results_artifact(&server, &run).await;
    let recorded = &results["datasets"]["t/dataset"];
    assert_eq!(recorded["commit"], commit.as_str(), "{results}");
    assert_eq!(recorded["repo"], REPO);
    assert_eq!(recorded["split"], "train");
    assert_eq!(
        recorded["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["data/main/train-0.parquet", "data/main/train-1.parquet"]
    );

    // A second run reads the files from the blob store, not the Hub.
    let served = server.hub.bytes_served("train-");
    assert!(served > 0);
    let again = server
        .run_to_end(&json!({"suite_id": suite, "models": ["fake"]}))
        .await;
    assert_eq!(again["status"], "completed");
    assert_eq!(again["request_counts"]["total"], 13);
    assert_eq!(
        server.hub.bytes_served("train-"),
        served,
        "no second download"
    );
}

#[tokio::test]
async fn other_splits_formats_and_max_rows() {
    let server = TestServer::start().await;
    commit_fixture(&server, REPO);
    let cases = [
        // A named config's other split.
        (
            json!({"source": "huggingface", "path": REPO, "name": "main", "split": "test"}),
            "{{question}}",
            4,
        ),
        // JSON Lines through data_files.
        (
            json!({"source": "huggingface", "path": REPO, "split": "validation",
            "data_files": {"validation": "raw/*.jsonl"}}),
            "{{question}}",
            3,
        ),
        // CSV through data_files.
        (
            json!({"source": "huggingface", "path": REPO, "data_files": "raw/scores.csv"}),
            "{{text}}",
            4,
        ),
        // max_rows across the split's files.
        (
            json!({"source": "huggingface", "path": REPO, "split": "train", "max_rows": 5}),
            "{{question}}",
            5,
        ),
    ];
    for (dataset, prompt, rows) in cases {
        let suite = hub_suite(&server, dataset.clone(), prompt, "x").await;
        let run = server
            .run_to_end(&json!({"suite_id": suite, "models": ["fake"]}))
            .await;
        assert_eq!(run["status"], "completed", "{dataset}: {run}");
        assert_eq!(run["request_counts"]["total"], rows, "{dataset}");
    }
}

#[tokio::test]
async fn max_rows_reads_only_what_the_rows_need() {
    let server = TestServer::start().await;
    commit_fixture(&server, REPO);
    let suite = hub_suite(
        &server,
        json!({"source": "huggingface", "path": REPO, "name": "main", "split": "train", "max_rows": 2}),
        "{{question}}",
        "x",
    )
    .await;
    let run = server
        .run_to_end(&json!({"suite_id": suite, "models": ["fake"]}))
        .await;
    assert_eq!(run["request_counts"]["total"], 2);
    let size = std::fs::metadata(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../assay-hub/tests/fixtures/hub_repo/data/main/train-1.parquet"),
    )
    .unwrap()
    .len();
    // The second file is never needed for two rows.
    assert!(
        server.hub.bytes_served("train-1.parquet") < size,
        "{:?}",
        server.hub.requests()
    );
}

#[tokio::test]
async fn missing_private_and_misnamed_datasets_fail_the_run_saying_what_to_check() {
    let server = TestServer::start().await;
    commit_fixture(&server, REPO);
    commit_fixture(&server, "acme/private");
    server
        .hub
        .set_access("acme/private", Access::Private("another-token".into()));
    commit_fixture(&server, "acme/mine");
    server
        .hub
        .set_access("acme/mine", Access::Private(HUB_TOKEN.into()));
    let cases = [
        (
            json!({"source": "huggingface", "path": "acme/missing", "split": "train"}),
            "acme/missing",
        ),
        (
            json!({"source": "huggingface", "path": "acme/private", "split": "train"}),
            "token",
        ),
        (
            json!({"source": "huggingface", "path": REPO, "split": "dev"}),
            "dev",
        ),
        (
            json!({"source": "huggingface", "path": REPO, "name": "nope", "split": "train"}),
            "nope",
        ),
        (
            json!({"source": "huggingface", "path": REPO, "revision": "v9", "split": "train"}),
            "v9",
        ),
    ];
    for (dataset, names) in cases {
        let suite = hub_suite(&server, dataset.clone(), "{{question}}", "x").await;
        let run = server
            .run_to_end(&json!({"suite_id": suite, "models": ["fake"]}))
            .await;
        assert_eq!(run["status"], "failed", "{dataset}: {run}");
        let message = run["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(names), "{dataset}: {message}");
        assert!(message.contains("task t"), "{message}");
    }
    // The server's token opens a private dataset it is good for.
    let suite = hub_suite(
        &server,
        json!({"source": "huggingface", "path": "acme/mine", "split": "train"}),
        "{{question}}",
        "x",
    )
    .await;
    let run = server
        .run_to_end(&json!({"suite_id": suite, "models": ["fake"]}))
        .await;
    assert_eq!(run["status"], "completed", "{run}");
}
