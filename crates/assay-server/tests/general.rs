//! Auth, probes, the error envelope for unknown routes, and the OpenAPI document.

mod common;

use common::{assert_error, TestServer};

#[tokio::test]
async fn every_api_route_needs_a_valid_key() {
    let server = TestServer::start().await;
    for path in ["/api/v1/llm/files", "/api/v1/llm/evals/suites"] {
        let (status, body) = server.send(server.client.get(server.url(path))).await;
        assert_error(status, &body, 401, "");
        let (status, body) = server
            .send(
                server
                    .client
                    .get(server.url(path))
                    .bearer_auth("assay_sk_nope"),
            )
            .await;
        assert_error(status, &body, 401, "");
        let (status, body) = server
            .send(
                server
                    .client
                    .get(server.url(path))
                    .header("authorization", "Basic abc"),
            )
            .await;
        assert_error(status, &body, 401, "");
    }
}

#[tokio::test]
async fn on_behalf_of_narrows_to_the_end_user() {
    let server = TestServer::start().await;
    let as_user = |user: &str, path: &str| {
        server
            .client
            .get(server.url(path))
            .bearer_auth(&server.key)
            .header("x-on-behalf-of", user.to_string())
    };
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"{}".to_vec()).file_name("alice.jsonl"),
        )
        .text("purpose", "evals");
    let (status, alice_file) = server
        .send(
            server
                .client
                .post(server.url("/api/v1/llm/files"))
                .bearer_auth(&server.key)
                .header("x-on-behalf-of", "alice")
                .multipart(form),
        )
        .await;
    assert_eq!(status, 200);
    let path = format!("/api/v1/llm/files/{}", alice_file["id"].as_str().unwrap());
    let (status, _) = server.send(as_user("alice", &path)).await;
    assert_eq!(status, 200);
    let (status, body) = server.send(as_user("bob", &path)).await;
    assert_error(status, &body, 404, "");
    // The team itself sees its members' files.
    let (status, _) = server.get(&path).await;
    assert_eq!(status, 200);
    let (status, body) = server.send(as_user("", &path)).await;
    assert_error(status, &body, 400, "X-On-Behalf-Of");
}

#[tokio::test]
async fn probes_and_unknown_routes() {
    let server = TestServer::start().await;
    for path in ["/healthz", "/readyz"] {
        let (status, _) = server.send(server.client.get(server.url(path))).await;
        assert_eq!(status, 200);
    }
    let (status, body) = server.get("/api/v1/llm/nope").await;
    assert_error(status, &body, 404, "");
    let (status, body) = server
        .send(
            server
                .client
                .put(server.url("/api/v1/llm/evals/suites"))
                .bearer_auth(&server.key),
        )
        .await;
    assert_error(status, &body, 405, "");
}

#[tokio::test]
async fn openapi_describes_exactly_the_routes() {
    let server = TestServer::start().await;
    let (status, doc) = server
        .send(server.client.get(server.url("/openapi.json")))
        .await;
    assert_eq!(status, 200);
    let paths = doc["paths"].as_object().unwrap();
    let mut listed: Vec<String> = Vec::new();
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            listed.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    listed.sort();
    let mut expected = vec![
        "GET /healthz",
        "GET /readyz",
        "POST /api/v1/llm/files",
        "GET /api/v1/llm/files",
        "GET /api/v1/llm/files/{file_id}",
        "DELETE /api/v1/llm/files/{file_id}",
        "GET /api/v1/llm/files/{file_id}/content",
        "POST /api/v1/llm/evals/suites",
        "GET /api/v1/llm/evals/suites",
        "GET /api/v1/llm/evals/suites/{suite_id}",
        "DELETE /api/v1/llm/evals/suites/{suite_id}",
        "POST /api/v1/llm/evals/suites/{suite_id}/versions",
        "GET /api/v1/llm/evals/suites/{suite_id}/versions",
        "GET /api/v1/llm/evals/suites/{suite_id}/versions/{version}",
        "GET /api/v1/llm/evals/suites/{suite_id}/shares",
        "POST /api/v1/llm/evals/suites/{suite_id}/shares",
        "DELETE /api/v1/llm/evals/suites/{suite_id}/shares/{org_id}",
        "GET /api/v1/llm/evals/suites/{suite_id}/leaderboard-runs",
        "GET /api/v1/llm/evals/suites/{suite_id}/leaderboard",
        "POST /api/v1/llm/evals/suites/{suite_id}/tokens/measure",
        "POST /api/v1/llm/evals/runs",
        "GET /api/v1/llm/evals/runs",
        "GET /api/v1/llm/evals/runs/{run_id}",
        "DELETE /api/v1/llm/evals/runs/{run_id}",
        "POST /api/v1/llm/evals/runs/{run_id}/cancel",
        "POST /api/v1/llm/evals/runs/{run_id}/retry",
        "POST /api/v1/llm/evals/imports/agent-run",
        "POST /api/v1/llm/evals/imports/huggingface-results",
        "POST /api/v1/llm/evals/runs/{run_id}/trials",
        "POST /api/v1/llm/evals/runs/{run_id}/rerun-failed",
        "GET /api/v1/llm/evals/runs/{run_id}/overview",
        "GET /api/v1/llm/evals/runs/{run_id}/samples",
        "GET /api/v1/llm/evals/runs/{run_id}/artifacts",
        "GET /api/v1/llm/evals/runs/{run_id}/samples/{sample_index}/trajectory",
        "PUT /api/v1/llm/evals/runs/{run_id}/samples/{sample_index}/trajectory",
        "GET /api/v1/llm/evals/runs/{run_id}/samples/{sample_index}/audio",
        "POST /api/v1/llm/evals/schedules",
        "GET /api/v1/llm/evals/schedules",
        "GET /api/v1/llm/evals/schedules/{schedule_id}",
        "PATCH /api/v1/llm/evals/schedules/{schedule_id}",
        "DELETE /api/v1/llm/evals/schedules/{schedule_id}",
        "POST /api/v1/llm/evals/schedules/{schedule_id}/trigger",
        "GET /api/v1/llm/evals/schedules/{schedule_id}/runs",
    ];
    expected.sort();
    assert_eq!(listed, expected);
    // Every documented route answers (with 401 without a key, not 404/405).
    for entry in &listed {
        let (method, path) = entry.split_once(' ').unwrap();
        if path.starts_with("/api/") {
            let url = server.url(
                &path
                    .replace("{file_id}", "file-x")
                    .replace("{suite_id}", "s")
                    .replace("{version}", "1"),
            );
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let response = server.client.request(method, url).send().await.unwrap();
            assert_eq!(response.status(), 401, "{entry}");
        }
    }
    for (path, item) in paths {
        if !path.starts_with("/api/") {
            continue;
        }
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            for code in ["200", "400", "401"] {
                assert!(
                    responses.contains_key(code),
                    "{method} {path} does not document {code}"
                );
            }
            if path.contains('{') {
                assert!(
                    responses.contains_key("404"),
                    "{method} {path} does not document 404"
                );
            }
        }
    }
    assert!(doc["components"]["schemas"]["SuiteObject"].is_object());
    assert!(doc["components"]["schemas"]["Order"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer_auth"].is_object());

    let response = server
        .client
        .get(server.url("/docs/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("swagger"), "docs page: {html}");
    assert!(!html.contains("cdn."), "docs must not load from a CDN");
}
