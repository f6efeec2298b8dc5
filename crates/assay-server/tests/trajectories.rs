//! Trial trajectories over HTTP (E24 get, E25 upload): the JSON kept as sent, upserts and the
//! run's step total, the 16 MiB limit (also for bodies streamed without a length), the
//! sample an index means, and who may read and write.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use assay_domain::Principal;
use common::{assert_error, TestServer};
use futures::StreamExt;
use serde_json::{json, Value};

const MIB: usize = 1024 * 1024;

/// A suite with one task per name, each with `rows` rows, run to the end over `models`;
/// returns (suite id, run id).
async fn finished_run(
    server: &TestServer,
    tasks: &[&str],
    rows: usize,
    models: &[&str],
) -> (String, String) {
    let data: Vec<Value> = (0..rows)
        .map(|i| json!({"q": format!("question {i} [[answer:a{i}]]"), "a": format!("a{i}")}))
        .collect();
    let file = server.upload_jsonl("rows.jsonl", &data).await;
    let tasks: Vec<Value> = tasks
        .iter()
        .map(|id| {
            json!({"id": id, "type": "qa", "dataset": {"file_id": file},
                   "prompt_template": "{{q}}", "target_template": "{{a}}",
                   "metrics": [{"id": "exact_match"}]})
        })
        .collect();
    let suite = server.create_suite(json!({ "tasks": tasks })).await;
    let run = server
        .run_to_end(&json!({"suite_id": suite, "models": models}))
        .await;
    assert_eq!(run["status"], "completed", "{run}");
    (suite, run["id"].as_str().expect("run id").to_string())
}

fn path(run_id: &str, index: &str, query: &str) -> String {
    format!("/api/v1/llm/evals/runs/{run_id}/samples/{index}/trajectory{query}")
}

/// PUTs `body` as it is (no re-serialization) with `key`.
async fn put_raw(server: &TestServer, key: &str, path: &str, body: String) -> (u16, Value) {
    server
        .send(
            server
                .client
                .put(server.url(path))
                .bearer_auth(key)
                .header("content-type", "application/json")
                .body(body),
        )
        .await
}

/// GETs `path` and returns the status and the body's text.
async fn get_text(server: &TestServer, key: &str, path: &str) -> (u16, String) {
    let response = server
        .client
        .get(server.url(path))
        .bearer_auth(key)
        .send()
        .await
        .expect("request sent");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

/// The id of the sample (`task`, `model`, `index`) of a run.
async fn sample_id(
    server: &TestServer,
    run_id: &str,
    task: &str,
    model: &str,
    index: i64,
) -> String {
    let samples = server
        .all_samples(
            run_id,
            &format!("&task_id={task}&model={model}&sample_index={index}"),
        )
        .await;
    assert_eq!(samples.len(), 1, "{samples:?}");
    samples[0]["id"].as_str().expect("sample id").to_string()
}

/// Every file under the server's data directory, with its content.
fn data_files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let content = std::fs::read(&path).unwrap_or_default();
                out.push((path, content));
            }
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The trajectory payloads stored for a sample.
fn stored_payloads(server: &TestServer, sample_id: &str) -> Vec<Vec<u8>> {
    let dir = server
        .data_dir()
        .join("blobs")
        .join("trajectories")
        .join(sample_id);
    if !dir.exists() {
        return Vec::new();
    }
    data_files(&dir).into_iter().map(|(_, c)| c).collect()
}

#[tokio::test]
async fn steps_and_logs_come_back_as_sent_and_uploads_replace() {
    let server = TestServer::start().await;
    let (_, run_id) = finished_run(&server, &["t"], 2, &["fake"]).await;
    let first = sample_id(&server, &run_id, "t", "fake", 0).await;
    assert_eq!(server.store.trajectory_steps(&run_id).await.unwrap(), None);

    // Odd JSON, formatted loosely: every token must come back as written, in order.
    let steps = r#"[
        {"z_last_key_first": 1, "a": {"nested": [[], {}, [null, true, false]]},
         "big": 12345678901234567890, "bigger": -123456789012345678901234567890,
         "float": 1.0, "trailing": 1.50, "exp": 1E2, "tiny": 5e-324, "neg": -0.0,
         "unicode": "é ✓ 🦀 \u00e9 \ud83e\udd80", "escapes": "tab\t quote\" slash\\ nl\n",
         "marker": "needle-trajectory-7f3a"},
        null, "text step", 42, [],
        {"tool_calls": [{"function_name": "bash", "arguments": "{\"cmd\": \"ls -la\"}"}]}
    ]"#;
    let compact_steps = r#"[{"z_last_key_first":1,"a":{"nested":[[],{},[null,true,false]]},"big":12345678901234567890,"bigger":-123456789012345678901234567890,"float":1.0,"trailing":1.50,"exp":1E2,"tiny":5e-324,"neg":-0.0,"unicode":"é ✓ 🦀 \u00e9 \ud83e\udd80","escapes":"tab\t quote\" slash\\ nl\n","marker":"needle-trajectory-7f3a"},null,"text step",42,[],{"tool_calls":[{"function_name":"bash","arguments":"{\"cmd\": \"ls -la\"}"}]}]"#;
    let logs = r#"{ "trial.log": "started\n  indented\n", "verifier/test-stdout.txt": "ok ✓", "exception.txt": "" }"#;
    let compact_logs = r#"{"trial.log":"started\n  indented\n","verifier/test-stdout.txt":"ok ✓","exception.txt":""}"#;
    let body = format!(r#"{{ "steps": {steps}, "logs": {logs} }}"#);
    let (status, uploaded) = put_raw(&server, &server.key, &path(&run_id, "0", ""), body).await;
    assert_eq!(status, 200, "{uploaded}");
    let size = (compact_steps.len() + compact_logs.len()) as i64;
    assert_eq!(
        uploaded,
        json!({"object": "eval.sample.trajectory.uploaded", "run_id": run_id, "sample_index": 0,
               "task_id": "t", "model": "fake", "step_count": 6, "size_bytes": size})
    );

    let (status, text) = get_text(&server, &server.key, &path(&run_id, "0", "")).await;
    assert_eq!(status, 200, "{text}");
    // Byte for byte: numbers as written, key order, escapes.
    assert!(
        text.contains(&format!(r#""steps":{compact_steps}"#)),
        "{text}"
    );
    assert!(
        text.contains(&format!(r#""logs":{compact_logs}"#)),
        "{text}"
    );
    let got: Value = serde_json::from_str(&text).unwrap();
    for (key, want) in [
        ("object", json!("eval.sample.trajectory")),
        ("run_id", json!(run_id)),
        ("sample_index", json!(0)),
        ("task_id", json!("t")),
        ("model", json!("fake")),
        ("schema_version", json!("ATIF-v1.7")),
        ("step_count", json!(6)),
        ("size_bytes", json!(size)),
    ] {
        assert_eq!(got[key], want, "{key} in {text}");
    }

    // The payload is in the blob store, and nowhere in the database.
    let payloads = stored_payloads(&server, &first);
    assert_eq!(payloads.len(), 1);
    assert_eq!(
        String::from_utf8(payloads[0].clone()).unwrap(),
        format!(r#"{{"steps":{compact_steps},"logs":{compact_logs}}}"#)
    );
    let record = server.store.trajectory(&first).await.unwrap().expect("row");
    assert!(record
        .blob_key
        .starts_with(&format!("trajectories/{first}/")));
    assert_eq!((record.step_count, record.size_bytes), (6, size));
    for (file, content) in data_files(server.data_dir()) {
        if !file.starts_with(server.data_dir().join("blobs")) {
            assert!(
                !contains(&content, b"needle-trajectory-7f3a"),
                "the payload leaked into {}",
                file.display()
            );
        }
    }
    assert_eq!(
        server.store.trajectory_steps(&run_id).await.unwrap(),
        Some(6)
    );

    // A second sample adds its steps; re-sending the first replaces it (and its blob).
    let (status, body) = put_raw(
        &server,
        &server.key,
        &path(&run_id, "1", ""),
        r#"{"steps": [1, 2, 3], "schema_version": "custom-2"}"#.into(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        server.store.trajectory_steps(&run_id).await.unwrap(),
        Some(9)
    );
    let (status, body) = put_raw(
        &server,
        &server.key,
        &path(&run_id, "0", "?task_id=t&model=fake"),
        r#"{"steps": [{"only": "step"}], "logs": null, "schema_version": "ATIF-v1.8"}"#.into(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["step_count"], 1);
    assert_eq!(body["size_bytes"], r#"[{"only":"step"}]"#.len());
    assert_eq!(
        server.store.trajectory_steps(&run_id).await.unwrap(),
        Some(4)
    );
    let (status, got) = server.get(&path(&run_id, "0", "")).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["steps"], json!([{"only": "step"}]));
    assert_eq!(got["logs"], Value::Null);
    assert_eq!(got["schema_version"], "ATIF-v1.8");
    assert_eq!(got["step_count"], 1);
    let payloads = stored_payloads(&server, &first);
    assert_eq!(
        payloads,
        vec![br#"{"steps":[{"only":"step"}],"logs":null}"#.to_vec()]
    );
    let (status, got) = server.get(&path(&run_id, "1", "")).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["steps"], json!([1, 2, 3]));
    assert_eq!(got["schema_version"], "custom-2");

    // Bodies that are not a trajectory name the field.
    for (body, param) in [
        (r#"{"logs": {}}"#, "steps"),
        (r#"{"steps": {"not": "an array"}}"#, "steps"),
        (
            r#"{"steps": [], "logs": {"trial.log": 1}}"#,
            "logs.trial.log",
        ),
        (r#"{"steps": [], "schema_version": ""}"#, "schema_version"),
        (r#"{"steps": [1,}"#, "body"),
    ] {
        let (status, err) =
            put_raw(&server, &server.key, &path(&run_id, "1", ""), body.into()).await;
        assert_error(status, &err, 400, param);
    }
    assert_eq!(
        server.store.trajectory_steps(&run_id).await.unwrap(),
        Some(4)
    );
}

#[tokio::test]
async fn an_index_shared_by_tasks_or_models_must_be_told_apart() {
    let server = TestServer::start().await;
    let (_, run_id) = finished_run(&server, &["a", "b"], 1, &["fake", "fake-responses"]).await;
    let body = r#"{"steps": [{"n": 1}, {"n": 2}]}"#;

    // Index 0 exists in both tasks for both models: never written to a guess.
    for (query, param) in [
        ("", "task_id"),
        ("?model=fake", "task_id"),
        ("?task_id=a", "model"),
        ("?task_id=&model=", "task_id"),
    ] {
        let (status, err) = put_raw(
            &server,
            &server.key,
            &path(&run_id, "0", query),
            body.into(),
        )
        .await;
        assert_error(status, &err, 400, param);
        let (status, err) = server.get(&path(&run_id, "0", query)).await;
        assert_error(status, &err, 400, param);
    }
    let (_, err) = put_raw(&server, &server.key, &path(&run_id, "0", ""), body.into()).await;
    let message = err["error"]["message"].as_str().unwrap();
    assert!(message.contains("a, b"), "{message}");
    assert_eq!(server.store.trajectory_steps(&run_id).await.unwrap(), None);

    // Task and model together pick one sample; its neighbours stay without a trajectory.
    let (status, uploaded) = put_raw(
        &server,
        &server.key,
        &path(&run_id, "0", "?task_id=b&model=fake-responses"),
        body.into(),
    )
    .await;
    assert_eq!(status, 200, "{uploaded}");
    assert_eq!(
        (&uploaded["task_id"], &uploaded["model"]),
        (&json!("b"), &json!("fake-responses"))
    );
    let (status, got) = server
        .get(&path(&run_id, "0", "?model=fake-responses&task_id=b"))
        .await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["steps"], json!([{"n": 1}, {"n": 2}]));
    assert_eq!(
        (&got["task_id"], &got["model"]),
        (&json!("b"), &json!("fake-responses"))
    );
    for query in ["?task_id=b&model=fake", "?task_id=a&model=fake-responses"] {
        let (status, err) = server.get(&path(&run_id, "0", query)).await;
        assert_error(status, &err, 404, "");
    }
    assert_eq!(
        server.store.trajectory_steps(&run_id).await.unwrap(),
        Some(2)
    );
}

#[tokio::test]
async fn missing_samples_trajectories_and_other_tenants_runs_are_404() {
    let server = TestServer::start().await;
    let (suite_id, run_id) = finished_run(&server, &["t"], 2, &["fake"]).await;
    let body = r#"{"steps": []}"#;
    let (status, _) = put_raw(&server, &server.key, &path(&run_id, "0", ""), body.into()).await;
    assert_eq!(status, 200);

    // No such sample (index, task or model), or no trajectory for it.
    for (index, query) in [
        ("2", ""),
        ("0", "?task_id=other"),
        ("0", "?model=fake-responses"),
    ] {
        let (status, err) = put_raw(
            &server,
            &server.key,
            &path(&run_id, index, query),
            body.into(),
        )
        .await;
        assert_error(status, &err, 404, "");
        let (status, err) = server.get(&path(&run_id, index, query)).await;
        assert_error(status, &err, 404, "");
    }
    let (status, err) = server.get(&path(&run_id, "1", "")).await;
    assert_error(status, &err, 404, "");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no trajectory"),
        "{err}"
    );
    let unknown = "eval_run_00000000000000000000000000000000";
    let (status, err) = server.get(&path(unknown, "0", "")).await;
    assert_error(status, &err, 404, "");
    for index in ["-1", "x", "9007199254740992"] {
        let (status, err) = server.get(&path(&run_id, index, "")).await;
        assert_error(status, &err, 400, "sample_index");
    }

    // Another tenant: neither read nor write, exactly like a missing run.
    let (status, err) = server
        .get_as(&server.other_key, &path(&run_id, "0", ""))
        .await;
    assert_error(status, &err, 404, "");
    let (status, err) = put_raw(
        &server,
        &server.other_key,
        &path(&run_id, "0", ""),
        r#"{"steps": [1]}"#.into(),
    )
    .await;
    assert_error(status, &err, 404, "");

    // Once the suite is shared with that org it may read, still not write.
    let owner = Principal {
        key_id: "test".into(),
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
    let (status, got) = server
        .get_as(&server.other_key, &path(&run_id, "0", ""))
        .await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["steps"], json!([]));
    let (status, err) = put_raw(
        &server,
        &server.other_key,
        &path(&run_id, "0", ""),
        r#"{"steps": [1]}"#.into(),
    )
    .await;
    assert_error(status, &err, 404, "");
    let (_, got) = server.get(&path(&run_id, "0", "")).await;
    assert_eq!(got["steps"], json!([]));
    assert_eq!(
        server.store.trajectory_steps(&run_id).await.unwrap(),
        Some(0)
    );
}

/// A body of `{"steps":["aaa…"],"logs":{"l":"bbb…"}}` whose stored size is exactly `size`.
fn sized_body(size: usize) -> String {
    // `["…"]` adds 4 bytes to its string, `{"l":"…"}` adds 8.
    let steps = "a".repeat(MIB);
    let logs = "b".repeat(size - MIB - 4 - 8);
    format!(r#"{{"steps":["{steps}"],"logs":{{"l":"{logs}"}}}}"#)
}

/// PUTs a `len`-byte body over a plain connection, writing all of it before reading the
/// answer (as simple HTTP clients do); returns the status and the answer's text.
async fn send_then_read(server: &TestServer, path: &str, len: usize) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = server.base.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n",
        server.key
    );
    socket.write_all(head.as_bytes()).await.expect("head sent");
    socket
        .write_all(&vec![b' '; len])
        .await
        .expect("the whole body is accepted");
    let mut answer = Vec::new();
    socket.read_to_end(&mut answer).await.expect("answer read");
    let answer = String::from_utf8_lossy(&answer).to_string();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

#[tokio::test]
async fn sixteen_mib_fit_and_larger_bodies_are_refused_without_storing() {
    let server = TestServer::start().await;
    let (_, run_id) = finished_run(&server, &["t"], 2, &["fake"]).await;
    let first = sample_id(&server, &run_id, "t", "fake", 0).await;
    let second = sample_id(&server, &run_id, "t", "fake", 1).await;
    let limit = 16 * MIB;

    // Exactly 16 MiB of steps and logs as stored fits, formatting whitespace aside.
    let body = sized_body(limit).replacen(r#""logs":"#, "\n  \"logs\" :  ", 1);
    let (status, uploaded) = put_raw(&server, &server.key, &path(&run_id, "1", ""), body).await;
    assert_eq!(status, 200, "{uploaded}");
    assert_eq!(uploaded["size_bytes"], limit);
    assert_eq!(stored_payloads(&server, &second).len(), 1);

    // One byte more does not (sent with a Content-Length).
    let (status, err) = put_raw(
        &server,
        &server.key,
        &path(&run_id, "0", ""),
        sized_body(limit + 1),
    )
    .await;
    assert_error(status, &err, 413, "");
    assert!(
        err["error"]["message"].as_str().unwrap().contains("16 MiB"),
        "{err}"
    );

    // A Content-Length over the body limit is refused up front.
    let (status, err) = put_raw(
        &server,
        &server.key,
        &path(&run_id, "0", ""),
        sized_body(21 * MIB),
    )
    .await;
    assert_error(status, &err, 413, "");

    // A client that sends its whole body before reading still gets the 413 (the server
    // reads and discards the rest instead of resetting the connection under it).
    let (status, _) = send_then_read(&server, &path(&run_id, "0", ""), 24 * MIB).await;
    assert_eq!(status, 413);

    // A body streamed without a length is cut off once it passes the limit: the answer comes
    // while the client still has most of it to send.
    let total = 256 * MIB;
    let pulled = Arc::new(AtomicUsize::new(0));
    let chunk = bytes::Bytes::from(vec![b' '; 256 * 1024]);
    let counter = pulled.clone();
    let stream = futures::stream::iter(
        std::iter::once(bytes::Bytes::from_static(b"{\"steps\": [\""))
            .chain(std::iter::repeat_n(chunk, total / (256 * 1024))),
    )
    .map(move |c| {
        counter.fetch_add(c.len(), Ordering::SeqCst);
        Ok::<_, std::io::Error>(c)
    });
    let response = server
        .client
        .put(server.url(&path(&run_id, "0", "")))
        .bearer_auth(&server.key)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .expect("an answer before the body ends");
    assert_eq!(response.status().as_u16(), 413);
    let sent = pulled.load(Ordering::SeqCst);
    assert!(sent < total, "the whole body was read: {sent} bytes");
    let err: Value = response.json().await.expect("error body");
    assert_error(413, &err, 413, "");

    // Nothing of the refused uploads was kept.
    assert!(server.store.trajectory(&first).await.unwrap().is_none());
    assert!(stored_payloads(&server, &first).is_empty());
    assert_eq!(
        server.store.trajectory_steps(&run_id).await.unwrap(),
        Some(1)
    );
}
