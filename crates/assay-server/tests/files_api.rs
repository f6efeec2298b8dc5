//! The Files API over HTTP.

mod common;

use assay_server::ServerConfig;
use common::{assert_error, TestServer};
use sha2::{Digest, Sha256};

#[tokio::test]
async fn upload_get_list_download_delete() {
    let server = TestServer::start().await;
    let content = b"{\"q\": \"1+1\", \"a\": \"2\"}\n{\"q\": \"2+2\", \"a\": \"4\"}\n";
    let file = server.upload("arith.jsonl", content).await;
    let id = file["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("file-"), "{file}");
    assert_eq!(file["object"], "file");
    assert_eq!(file["bytes"], content.len());
    assert_eq!(file["filename"], "arith.jsonl");
    assert_eq!(file["purpose"], "evals");
    assert_eq!(file["sha256"], hex::encode(Sha256::digest(content)));
    assert!(file["created_at"].as_i64().unwrap() > 1_700_000_000);
    assert!(file.get("expires_at").is_some());

    let (status, got) = server.get(&format!("/api/v1/llm/files/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(got, file);

    let response = server
        .client
        .get(server.url(&format!("/api/v1/llm/files/{id}/content")))
        .bearer_auth(&server.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/jsonl");
    assert_eq!(response.bytes().await.unwrap().as_ref(), content);

    let csv = server.upload("d.csv", b"a,b\n1,2\n").await;
    let py = server
        .upload("grader.py", b"def grade(s, i):\n    return 1.0\n")
        .await;
    for (f, ct) in [(&csv, "text/csv"), (&py, "text/x-python")] {
        let response = server
            .client
            .get(server.url(&format!(
                "/api/v1/llm/files/{}/content",
                f["id"].as_str().unwrap()
            )))
            .bearer_auth(&server.key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["content-type"], ct);
    }

    let (status, list) = server.get("/api/v1/llm/files").await;
    assert_eq!(status, 200);
    assert_eq!(list["object"], "list");
    assert_eq!(list["data"].as_array().unwrap().len(), 3);
    assert_eq!(list["has_more"], false);
    assert_eq!(list["first_id"], py["id"]);
    assert_eq!(list["last_id"], file["id"]);

    let (_, page) = server.get("/api/v1/llm/files?limit=1&order=asc").await;
    assert_eq!(page["data"][0]["id"], file["id"]);
    assert_eq!(page["has_more"], true);
    let (_, page) = server
        .get(&format!(
            "/api/v1/llm/files?limit=5&order=asc&after={}",
            page["last_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    assert_eq!(page["has_more"], false);

    let (_, by_hash) = server
        .get(&format!(
            "/api/v1/llm/files?sha256={}",
            file["sha256"].as_str().unwrap()
        ))
        .await;
    assert_eq!(by_hash["data"].as_array().unwrap().len(), 1);
    let (_, by_purpose) = server.get("/api/v1/llm/files?purpose=batch").await;
    assert_eq!(by_purpose["data"].as_array().unwrap().len(), 0);

    let (status, deleted) = server.delete(&format!("/api/v1/llm/files/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        deleted,
        serde_json::json!({"id": id, "object": "file", "deleted": true})
    );
    let (status, body) = server.get(&format!("/api/v1/llm/files/{id}")).await;
    assert_error(status, &body, 404, "");
    let (status, body) = server.get(&format!("/api/v1/llm/files/{id}/content")).await;
    assert_error(status, &body, 404, "");
    let (status, body) = server.delete(&format!("/api/v1/llm/files/{id}")).await;
    assert_error(status, &body, 404, "");
}

#[tokio::test]
async fn other_tenants_files_do_not_exist() {
    let server = TestServer::start().await;
    let file = server.upload("mine.jsonl", b"{}\n").await;
    let id = file["id"].as_str().unwrap();
    for path in [
        format!("/api/v1/llm/files/{id}"),
        format!("/api/v1/llm/files/{id}/content"),
    ] {
        let (status, body) = server.get_as(&server.other_key, &path).await;
        assert_error(status, &body, 404, "");
    }
    let (status, body) = server
        .delete_as(&server.other_key, &format!("/api/v1/llm/files/{id}"))
        .await;
    assert_error(status, &body, 404, "");
    let (_, list) = server.get_as(&server.other_key, "/api/v1/llm/files").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    let (status, body) = server
        .get_as(&server.other_key, &format!("/api/v1/llm/files?after={id}"))
        .await;
    assert_error(status, &body, 400, "after");
    // Still there for its owner.
    let (status, _) = server.get(&format!("/api/v1/llm/files/{id}")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn bad_uploads_are_rejected() {
    let server = TestServer::start().await;
    let (status, body) = server
        .upload_as(&server.key, "x.jsonl", b"{}", "homework")
        .await;
    assert_error(status, &body, 400, "purpose");
    let (status, body) = server.upload_as(&server.key, "blob", b"{}", "evals").await;
    assert_error(status, &body, 400, "file");
    let (status, body) = server.upload_as(&server.key, "  ", b"{}", "evals").await;
    assert_error(status, &body, 400, "file");

    let form = reqwest::multipart::Form::new().text("purpose", "evals");
    let (status, body) = server
        .send(
            server
                .client
                .post(server.url("/api/v1/llm/files"))
                .bearer_auth(&server.key)
                .multipart(form),
        )
        .await;
    assert_error(status, &body, 400, "file");

    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"{}".to_vec()).file_name("a.jsonl"),
    );
    let (status, body) = server
        .send(
            server
                .client
                .post(server.url("/api/v1/llm/files"))
                .bearer_auth(&server.key)
                .multipart(form),
        )
        .await;
    assert_error(status, &body, 400, "purpose");

    let (status, body) = server
        .send(
            server
                .client
                .post(server.url("/api/v1/llm/files"))
                .bearer_auth(&server.key)
                .header("content-type", "application/json")
                .body("{}"),
        )
        .await;
    assert_eq!(status, 400, "{body}");

    // Nothing was kept.
    let (_, list) = server.get("/api/v1/llm/files").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn oversized_upload_is_413_and_leaves_nothing() {
    let server = TestServer::start_with(ServerConfig {
        max_upload_bytes: 1024,
        ..Default::default()
    })
    .await;
    let (status, body) = server
        .upload_as(&server.key, "big.jsonl", &[b'x'; 4096], "evals")
        .await;
    assert_error(status, &body, 413, "");
    let ok = server.upload("small.jsonl", &[b'x'; 1024]).await;
    assert_eq!(ok["bytes"], 1024);
    let (_, list) = server.get("/api/v1/llm/files").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn list_parameters_are_validated() {
    let server = TestServer::start().await;
    for (query, path) in [
        ("limit=0", "limit"),
        ("limit=10001", "limit"),
        ("limit=abc", "limit"),
        ("order=sideways", "order"),
        ("purpose=nope", "purpose"),
        ("sha256=xyz", "sha256"),
        ("after=file-00000000000000000000000000000000", "after"),
    ] {
        let (status, body) = server.get(&format!("/api/v1/llm/files?{query}")).await;
        assert_error(status, &body, 400, path);
    }
}
