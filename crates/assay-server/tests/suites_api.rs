//! Suites and suite versions over HTTP.

mod common;

use common::{assert_error, TestServer};
use serde_json::{json, Value};

async fn dataset(server: &TestServer) -> String {
    let file = server
        .upload("qa.jsonl", b"{\"question\": \"2+2?\", \"answer\": \"4\"}\n")
        .await;
    file["id"].as_str().unwrap().to_string()
}

fn manifest(file_id: &str) -> Value {
    json!({
        "schema_version": "2026-05-27",
        "metadata": {"project": "smoke"},
        "tasks": [
            {
                "id": "qa",
                "type": "qa",
                "dataset": {"file_id": file_id, "format": "jsonl"},
                "prompt_template": "Question: {{question}}\nAnswer:",
                "target_template": "{{answer}}",
                "output_extraction": {"type": "regex", "pattern": "(\\d+)", "group": 1},
                "x_custom_key": {"kept": true}
            },
            {
                "id": "mc.v1",
                "type": "multiple_choice",
                "dataset": {"file_id": file_id},
                "prompt_template": "{{question}} A or B?",
                "target_template": "{{answer}}",
                "choices": ["A", "B"],
                "output_extraction": {"type": "label_set", "labels": ["A", "B"]}
            }
        ]
    })
}

#[tokio::test]
async fn create_get_version_list_delete() {
    let server = TestServer::start().await;
    let file_id = dataset(&server).await;
    let m = manifest(&file_id);
    let (status, suite) = server
        .post(
            "/api/v1/llm/evals/suites",
            &json!({"name": "Smoke", "description": "d", "metadata": {"owner": "me"}, "manifest": m}),
        )
        .await;
    assert_eq!(status, 200, "{suite}");
    let id = suite["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("eval_suite_"));
    assert_eq!(suite["object"], "eval.suite");
    assert_eq!(suite["name"], "Smoke");
    assert_eq!(suite["description"], "d");
    assert_eq!(suite["org_id"], "org_a");
    assert_eq!(suite["team_id"], "team_a");
    assert_eq!(suite["access"], "owner");
    assert_eq!(suite["active_version"], 1);
    assert_eq!(suite["latest_version"], 1);
    assert_eq!(suite["metadata"], json!({"owner": "me"}));

    let (status, got) = server.get(&format!("/api/v1/llm/evals/suites/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(got, suite);

    let (status, v1) = server
        .get(&format!("/api/v1/llm/evals/suites/{id}/versions/1"))
        .await;
    assert_eq!(status, 200, "{v1}");
    assert_eq!(v1["object"], "eval.suite.version");
    assert!(v1["id"].as_str().unwrap().starts_with("eval_sver_"));
    assert_eq!(v1["manifest"], m, "manifest must come back exactly as sent");
    assert_eq!(v1["dataset_file_ids"], json!([file_id]));

    let mut m2 = m.clone();
    m2["tasks"][0]["prompt_template"] = json!("Q: {{question}}");
    let (status, v2) = server
        .post(
            &format!("/api/v1/llm/evals/suites/{id}/versions"),
            &json!({"manifest": m2, "make_active": false, "metadata": {"why": "wording"}}),
        )
        .await;
    assert_eq!(status, 200, "{v2}");
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["metadata"], json!({"why": "wording"}));
    let (_, got) = server.get(&format!("/api/v1/llm/evals/suites/{id}")).await;
    assert_eq!(
        (
            got["active_version"].as_i64(),
            got["latest_version"].as_i64()
        ),
        (Some(1), Some(2))
    );

    let (status, v3) = server
        .post(
            &format!("/api/v1/llm/evals/suites/{id}/versions"),
            &json!({"manifest": m}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(v3["version"], 3);
    let (_, got) = server.get(&format!("/api/v1/llm/evals/suites/{id}")).await;
    assert_eq!(got["active_version"], 3);

    let (status, versions) = server
        .get(&format!("/api/v1/llm/evals/suites/{id}/versions?limit=2"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(versions["has_more"], true);
    let numbers: Vec<i64> = versions["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, vec![1, 2]);
    let (_, rest) = server
        .get(&format!(
            "/api/v1/llm/evals/suites/{id}/versions?limit=2&after={}",
            versions["last_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(rest["data"][0]["version"], 3);
    assert_eq!(rest["has_more"], false);

    let (status, deleted) = server
        .delete(&format!("/api/v1/llm/evals/suites/{id}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        deleted,
        json!({"id": id, "object": "eval.suite.deleted", "deleted": true, "deleted_runs": 0})
    );
    for path in [
        format!("/api/v1/llm/evals/suites/{id}"),
        format!("/api/v1/llm/evals/suites/{id}/versions"),
        format!("/api/v1/llm/evals/suites/{id}/versions/1"),
    ] {
        let (status, body) = server.get(&path).await;
        assert_error(status, &body, 404, "");
    }
    let (status, body) = server
        .delete(&format!("/api/v1/llm/evals/suites/{id}"))
        .await;
    assert_error(status, &body, 404, "");
}

#[tokio::test]
async fn list_suites_pages_newest_first() {
    let server = TestServer::start().await;
    let file_id = dataset(&server).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let (status, suite) = server
            .post(
                "/api/v1/llm/evals/suites",
                &json!({"name": format!("s{i}"), "manifest": manifest(&file_id)}),
            )
            .await;
        assert_eq!(status, 200);
        ids.push(suite["id"].as_str().unwrap().to_string());
    }
    ids.reverse();
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let path = if after.is_empty() {
            "/api/v1/llm/evals/suites?limit=2".to_string()
        } else {
            format!("/api/v1/llm/evals/suites?limit=2&after={after}")
        };
        let (status, page) = server.get(&path).await;
        assert_eq!(status, 200);
        for s in page["data"].as_array().unwrap() {
            seen.push(s["id"].as_str().unwrap().to_string());
        }
        if page["has_more"] == false {
            break;
        }
        after = page["last_id"].as_str().unwrap().to_string();
    }
    assert_eq!(seen, ids);
    let (_, default) = server.get("/api/v1/llm/evals/suites?owned_only=true").await;
    assert_eq!(default["data"].as_array().unwrap().len(), 5);
    for (query, path) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("owned_only=maybe", "owned_only"),
    ] {
        let (status, body) = server
            .get(&format!("/api/v1/llm/evals/suites?{query}"))
            .await;
        assert_error(status, &body, 400, path);
    }
    // The other tenant sees none of them.
    let (_, other) = server
        .get_as(&server.other_key, "/api/v1/llm/evals/suites")
        .await;
    assert_eq!(other["data"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn other_tenants_suites_do_not_exist() {
    let server = TestServer::start().await;
    let file_id = dataset(&server).await;
    let (_, suite) = server
        .post(
            "/api/v1/llm/evals/suites",
            &json!({"name": "mine", "manifest": manifest(&file_id)}),
        )
        .await;
    let id = suite["id"].as_str().unwrap();
    let other = server.other_key.clone();
    for path in [
        format!("/api/v1/llm/evals/suites/{id}"),
        format!("/api/v1/llm/evals/suites/{id}/versions"),
        format!("/api/v1/llm/evals/suites/{id}/versions/1"),
    ] {
        let (status, body) = server.get_as(&other, &path).await;
        assert_error(status, &body, 404, "");
    }
    let (status, body) = server
        .post_as(
            &other,
            &format!("/api/v1/llm/evals/suites/{id}/versions"),
            &json!({"manifest": manifest(&file_id)}),
        )
        .await;
    assert_error(status, &body, 404, "");
    let (status, body) = server
        .delete_as(&other, &format!("/api/v1/llm/evals/suites/{id}"))
        .await;
    assert_error(status, &body, 404, "");
    // And another tenant cannot reference my file from its own suite.
    let (status, body) = server
        .post_as(
            &other,
            "/api/v1/llm/evals/suites",
            &json!({"name": "theirs", "manifest": manifest(&file_id)}),
        )
        .await;
    assert_error(status, &body, 400, "manifest.tasks[0].dataset.file_id");
}

#[tokio::test]
async fn bad_suite_requests_name_the_field() {
    let server = TestServer::start().await;
    let file_id = dataset(&server).await;
    let py = server
        .upload("g.py", b"def grade(s, i):\n    return 1.0\n")
        .await;
    let py_id = py["id"].as_str().unwrap();
    let (_, batch) = server
        .upload_as(&server.key, "b.jsonl", b"{}", "batch")
        .await;
    let batch_id = batch["id"].as_str().unwrap();
    let txt = server
        .upload("rows.txt", b"{\"question\": \"2+2?\", \"answer\": \"4\"}\n")
        .await;
    let txt_id = txt["id"].as_str().unwrap();

    let good = manifest(&file_id);
    let with = |f: &dyn Fn(&mut Value)| {
        let mut m = good.clone();
        f(&mut m);
        json!({"name": "x", "manifest": m})
    };
    let cases: Vec<(Value, &str)> = vec![
        (json!({"manifest": good}), "name"),
        (json!({"name": "x"}), "manifest"),
        (json!({"name": 7, "manifest": good}), "name"),
        (json!({"name": "", "manifest": good}), "name"),
        (
            json!({"name": "x", "manifest": good, "metadata": {"k": 1}}),
            "metadata.k",
        ),
        (
            json!({"name": "x", "manifest": {"tasks": []}}),
            "manifest.tasks",
        ),
        (
            with(&|m| m["tasks"][0]["output_extraction"]["pattern"] = json!("(")),
            "manifest.tasks[0].output_extraction.pattern",
        ),
        (
            with(&|m| m["tasks"][1]["id"] = json!("qa")),
            "manifest.tasks[1].id",
        ),
        (
            with(&|m| m["tasks"][0]["id"] = json!("bad id!")),
            "manifest.tasks[0].id",
        ),
        (
            with(&|m| m["tasks"][0]["type"] = json!("vibes")),
            "manifest.tasks[0].type",
        ),
        (
            with(&|m| {
                m["tasks"][0]["dataset"]["file_id"] = json!("file-00000000000000000000000000000000")
            }),
            "manifest.tasks[0].dataset.file_id",
        ),
        (
            with(&|m| m["tasks"][0]["dataset"]["file_id"] = json!(batch_id)),
            "manifest.tasks[0].dataset.file_id",
        ),
        (
            with(&|m| {
                m["tasks"][0]["grader"] =
                    json!({"source": "def grade(s, i): return 1", "file_id": py_id})
            }),
            "manifest.tasks[0].grader.file_id",
        ),
        (
            with(&|m| m["tasks"][0]["grader"] = json!({"file_id": file_id})),
            "manifest.tasks[0].grader.file_id",
        ),
        (
            with(&|m| m["tasks"][0]["grader"] = json!({"source": "x", "timeout_seconds": 601})),
            "manifest.tasks[0].grader.timeout_seconds",
        ),
        (
            with(&|m| m["tasks"][0]["fewshot"] = json!({"count": 101})),
            "manifest.tasks[0].fewshot.count",
        ),
        (
            with(&|m| m["tasks"][0]["embedding"] = json!({"kind": "sts"})),
            "manifest.tasks[0].embedding",
        ),
        (
            with(&|m| m["tasks"][0]["type"] = json!("transcription")),
            "manifest.tasks[0].dataset.audio_column",
        ),
        (
            with(&|m| m["tasks"][0]["dataset"]["max_rows"] = json!(9007199254740993_i64)),
            "manifest.tasks[0].dataset.max_rows",
        ),
    ];
    for (body, path) in cases {
        let (status, response) = server.post("/api/v1/llm/evals/suites", &body).await;
        assert_eq!(status, 400, "expected 400 for {path}: {response}");
        assert_error(status, &response, 400, path);
    }

    // A file whose name says nothing is fine once the format is declared.
    let declared = with(&|m| {
        m["tasks"][1]["dataset"]["file_id"] = json!(txt_id);
        m["tasks"][1]["dataset"]["format"] = json!("jsonl");
    });
    let (status, body) = server.post("/api/v1/llm/evals/suites", &declared).await;
    assert_eq!(status, 200, "{body}");

    // A grader referencing the uploaded .py is fine.
    let ok = with(&|m| m["tasks"][0]["grader"] = json!({"file_id": py_id}));
    let (status, suite) = server.post("/api/v1/llm/evals/suites", &ok).await;
    assert_eq!(status, 200, "{suite}");
    let (_, v1) = server
        .get(&format!(
            "/api/v1/llm/evals/suites/{}/versions/1",
            suite["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(v1["dataset_file_ids"], json!([file_id, py_id]));

    let (status, body) = server
        .post_raw("/api/v1/llm/evals/suites", "{\"name\": ")
        .await;
    assert_error(status, &body, 400, "body");
    let (status, body) = server.post_raw("/api/v1/llm/evals/suites", "[1, 2]").await;
    assert_eq!(status, 400, "{body}");

    let id = suite["id"].as_str().unwrap();
    for (version, status_want) in [
        ("0", 400),
        ("abc", 400),
        ("9007199254740992", 400),
        ("99", 404),
    ] {
        let (status, body) = server
            .get(&format!("/api/v1/llm/evals/suites/{id}/versions/{version}"))
            .await;
        assert_error(
            status,
            &body,
            status_want,
            if status_want == 400 { "version" } else { "" },
        );
    }
    let (status, body) = server
        .post(
            &format!("/api/v1/llm/evals/suites/{id}/versions"),
            &json!({"manifest": good, "make_active": "yes"}),
        )
        .await;
    assert_error(status, &body, 400, "make_active");
}
