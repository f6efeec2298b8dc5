//! The fake model server over real HTTP: every endpoint and every directive.

use std::time::{Duration, Instant};

use assay_testkit::{EmbeddingsMode, FakeModelOptions, FakeModelServer};
use serde_json::{json, Value};

async fn start() -> FakeModelServer {
    FakeModelServer::start(FakeModelOptions::default())
        .await
        .expect("fake starts")
}

async fn post(
    fake: &FakeModelServer,
    path: &str,
    body: Value,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", fake.openai_base_url()))
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.json().await.expect("json body");
    (status, headers, body)
}

async fn chat(fake: &FakeModelServer, prompt: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    post(
        fake,
        "/chat/completions",
        json!({"model": "m", "messages": [{"role": "user", "content": prompt}]}),
    )
    .await
}

fn chat_text(v: &Value) -> &str {
    v["choices"][0]["message"]["content"].as_str().unwrap()
}

#[tokio::test]
async fn responses_default_answer_usage_and_log() {
    let fake = start().await;
    let (status, _, v) = post(
        &fake,
        "/responses",
        json!({"model": "gpt", "input": "What is the capital of France? Paris.", "instructions": "Be brief."}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(v["object"], "response");
    assert_eq!(v["status"], "completed");
    let out = v["output"].as_array().unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["type"], "message");
    assert_eq!(out[0]["content"][0]["type"], "output_text");
    assert_eq!(out[0]["content"][0]["text"], "Paris");
    assert_eq!(v["usage"]["input_tokens"], 9);
    assert_eq!(v["usage"]["output_tokens"], 1);
    assert_eq!(v["usage"]["total_tokens"], 10);

    let prompt = "What is the capital of France? Paris.";
    assert_eq!(fake.calls_for(prompt), 1);
    assert_eq!(
        fake.last_body_for(prompt).unwrap()["instructions"],
        "Be brief."
    );
    let log: Value = reqwest::get(format!("{}/_fake/requests", fake.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log["total"], 1);
    assert_eq!(log["by_endpoint"]["responses"], 1);
    assert_eq!(log["by_prompt"][prompt], 1);
    assert_eq!(log["recent"][0]["model"], "gpt");
    assert_eq!(log["recent"][0]["attempt"], 1);
    let reset = reqwest::Client::new()
        .delete(format!("{}/_fake/requests", fake.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 204);
    assert_eq!(fake.requests().total, 0);
    assert_eq!(fake.calls_for(prompt), 0);
}

#[tokio::test]
async fn answer_and_reasoning_directives() {
    let fake = start().await;
    let prompt = "Pick one. [[answer:B]] [[reasoning:B is right]]";
    let (_, _, v) = chat(&fake, prompt).await;
    assert_eq!(chat_text(&v), "B");
    assert_eq!(
        v["choices"][0]["message"]["reasoning_content"],
        "B is right"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        v["usage"]["completion_tokens_details"]["reasoning_tokens"],
        3
    );

    let (_, _, v) = post(&fake, "/responses", json!({"input": prompt})).await;
    let out = v["output"].as_array().unwrap();
    assert_eq!(out[0]["type"], "reasoning");
    assert_eq!(out[0]["summary"][0]["type"], "summary_text");
    assert_eq!(out[0]["summary"][0]["text"], "B is right");
    assert_eq!(out[1]["content"][0]["text"], "B");

    let (_, _, v) = post(&fake, "/completions", json!({"prompt": prompt})).await;
    assert_eq!(v["choices"][0]["text"], "B");
    assert_eq!(v["object"], "text_completion");
}

#[tokio::test]
async fn think_directive_and_prefill_continuation() {
    let fake = start().await;
    let (_, _, v) = chat(&fake, "Q [[think:let me see]] [[answer:42]]").await;
    assert_eq!(chat_text(&v), "<think>let me see</think>\n\n42");

    // A prefilled, continued assistant message with an open <think> is continued.
    let (_, _, v) = post(
        &fake,
        "/chat/completions",
        json!({
            "messages": [
                {"role": "user", "content": "Q [[think:hmm]] [[answer:7]]"},
                {"role": "assistant", "content": "<think>\n"}
            ],
            "continue_final_message": true,
            "add_generation_prompt": false
        }),
    )
    .await;
    assert_eq!(chat_text(&v), "hmm</think>\n\n7");
    assert_eq!(fake.calls_for("Q [[think:hmm]] [[answer:7]]"), 1);

    let (_, _, v) = post(
        &fake,
        "/completions",
        json!({"prompt": "2+2= [[answer:4]]<think>\n"}),
    )
    .await;
    assert_eq!(v["choices"][0]["text"], "</think>\n\n4");
}

#[tokio::test]
async fn status_directives_fail_first_attempts_then_succeed() {
    let fake = start().await;
    let prompt = "Q [[status:429 retry_after=1 times=2]] [[answer:ok]]";
    for attempt in 1..=2 {
        let (status, headers, v) = chat(&fake, prompt).await;
        assert_eq!(status, 429, "attempt {attempt}");
        assert_eq!(headers["retry-after"], "1");
        assert_eq!(v["error"]["type"], "rate_limit_error");
        assert_eq!(v["error"]["code"], "rate_limit_exceeded");
    }
    let (status, _, v) = chat(&fake, prompt).await;
    assert_eq!(status, 200);
    assert_eq!(chat_text(&v), "ok");
    assert_eq!(fake.calls_for(prompt), 3);

    // Counting is per (model, prompt): another model starts over.
    let (status, _, _) = post(
        &fake,
        "/chat/completions",
        json!({"model": "other", "messages": [{"role": "user", "content": prompt}]}),
    )
    .await;
    assert_eq!(status, 429);

    let prompt = "Q [[status:500 times=1]] [[status:503 retry_after_ms=20 times=1]]";
    let (status, _, v) = chat(&fake, prompt).await;
    assert_eq!(
        (status, v["error"]["type"].as_str()),
        (500, Some("server_error"))
    );
    let (status, headers, _) = chat(&fake, prompt).await;
    assert_eq!(status, 503);
    assert_eq!(headers["retry-after-ms"], "20");
    assert_eq!(chat(&fake, prompt).await.0, 200);

    for _ in 0..3 {
        let (status, _, v) = chat(&fake, "Q [[status:400]]").await;
        assert_eq!(status, 400);
        assert_eq!(v["error"]["type"], "invalid_request_error");
    }
}

#[tokio::test]
async fn empty_context_length_content_filter_and_no_usage() {
    let fake = start().await;
    let prompt = "Q [[empty times=1]] [[answer:A]]";
    assert_eq!(chat_text(&chat(&fake, prompt).await.2), "");
    assert_eq!(chat_text(&chat(&fake, prompt).await.2), "A");

    let (status, _, v) = post(
        &fake,
        "/responses",
        json!({"input": "long [[context_length]]"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["code"], "context_length_exceeded");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("maximum context length"));

    let (_, _, v) = chat(&fake, "bad [[content_filter]]").await;
    assert_eq!(v["choices"][0]["finish_reason"], "content_filter");
    assert!(v["choices"][0]["message"]["content"].is_null());
    let (_, _, v) = post(
        &fake,
        "/responses",
        json!({"input": "bad [[content_filter]]"}),
    )
    .await;
    assert_eq!(v["status"], "incomplete");
    assert_eq!(v["incomplete_details"]["reason"], "content_filter");

    let (_, _, v) = chat(&fake, "x [[no_usage]]").await;
    assert!(v.get("usage").is_none());
    let (_, _, v) = post(&fake, "/responses", json!({"input": "x [[no_usage]]"})).await;
    assert!(v.get("usage").is_none());
}

#[tokio::test]
async fn hang_never_answers_and_latency_delays() {
    let fake = start().await;
    let client = reqwest::Client::new();
    let err = client
        .post(format!("{}/chat/completions", fake.openai_base_url()))
        .timeout(Duration::from_millis(300))
        .json(&json!({"messages": [{"role": "user", "content": "x [[hang]]"}]}))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(fake.calls_for("x [[hang]]"), 1);
    // The client gave up: the server notices the closed connection and drops the request.
    tokio::time::timeout(Duration::from_secs(5), fake.wait_until_idle())
        .await
        .expect("abandoned request is dropped");

    let start = Instant::now();
    let (status, _, _) = chat(&fake, "x [[latency_ms:150]]").await;
    assert_eq!(status, 200);
    assert!(start.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn stop_and_max_tokens_cut_the_answer() {
    let fake = start().await;
    let (_, _, v) = post(
        &fake,
        "/chat/completions",
        json!({"messages": [{"role": "user", "content": "[[answer:one two. three four]]"}], "stop": ["."], "max_tokens": 50}),
    )
    .await;
    assert_eq!(chat_text(&v), "one two");
    let (_, _, v) = post(
        &fake,
        "/completions",
        json!({"prompt": "[[answer:one two three four]]", "max_tokens": 2, "stop": "x"}),
    )
    .await;
    assert_eq!(v["choices"][0]["text"], "one two");
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    let (_, _, v) = post(
        &fake,
        "/responses",
        json!({"input": "[[answer:one two three]]", "max_output_tokens": 1}),
    )
    .await;
    assert_eq!(v["output"][0]["content"][0]["text"], "one");
    assert_eq!(v["status"], "incomplete");
    assert_eq!(v["incomplete_details"]["reason"], "max_output_tokens");
}

fn cos(a: &Value, b: &Value) -> f64 {
    let a = a.as_array().unwrap();
    let b = b.as_array().unwrap();
    a.iter()
        .zip(b)
        .map(|(x, y)| x.as_f64().unwrap() * y.as_f64().unwrap())
        .sum()
}

#[tokio::test]
async fn embeddings_are_deterministic_and_similarity_preserving() {
    let fake = start().await;
    let texts = [
        "the cat sat on the mat",
        "a cat sat on a mat",
        "stock market crash",
    ];
    let (status, _, v) = post(&fake, "/embeddings", json!({"model": "e", "input": texts})).await;
    assert_eq!(status, 200);
    assert_eq!(v["object"], "list");
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    assert_eq!(data[2]["index"], 2);
    assert_eq!(data[0]["embedding"].as_array().unwrap().len(), 64);
    assert!(
        cos(&data[0]["embedding"], &data[1]["embedding"])
            > cos(&data[0]["embedding"], &data[2]["embedding"])
    );
    assert!((cos(&data[0]["embedding"], &data[0]["embedding"]) - 1.0).abs() < 1e-5);
    assert_eq!(v["usage"]["prompt_tokens"], 15);

    let (_, _, again) = post(
        &fake,
        "/embeddings",
        json!({"input": "the cat sat on the mat", "dimensions": 8}),
    )
    .await;
    assert_eq!(again["data"][0]["embedding"].as_array().unwrap().len(), 8);
    assert_eq!(fake.calls_for(&texts.join("\n")), 1);

    let (status, _, _) = post(
        &fake,
        "/embeddings",
        json!({"input": "x [[status:500 times=1]]"}),
    )
    .await;
    assert_eq!(status, 500);
    let (status, _, _) = post(&fake, "/embeddings", json!({"input": [1, 2]})).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn options_base_latency_hash_embeddings_and_in_flight() {
    let fake = FakeModelServer::start(FakeModelOptions {
        base_latency: Duration::from_millis(100),
        embeddings: EmbeddingsMode::Hash,
        embedding_dim: 16,
        ..FakeModelOptions::default()
    })
    .await
    .unwrap();
    let start = Instant::now();
    let calls = (0..4).map(|i| {
        let f = &fake;
        async move { chat(f, &format!("q{i}")).await }
    });
    let results = futures::future::join_all(calls).await;
    assert!(results.iter().all(|r| r.0 == 200));
    assert!(start.elapsed() >= Duration::from_millis(100));
    assert_eq!(fake.max_in_flight(), 4);
    assert_eq!(fake.requests().in_flight, 0);

    let (_, _, v) = post(&fake, "/embeddings", json!({"input": ["a b", "a b c"]})).await;
    assert_eq!(v["data"][0]["embedding"].as_array().unwrap().len(), 16);
    fake.reset();
    assert_eq!(fake.max_in_flight(), 0);
}

#[tokio::test]
async fn wait_for_calls_wakes_on_arrival() {
    let fake = start().await;
    let url = fake.openai_base_url();
    let call = tokio::spawn(async move {
        reqwest::Client::new()
            .post(format!("{url}/completions"))
            .json(&json!({"prompt": "slow [[latency_ms:200]]"}))
            .send()
            .await
            .unwrap()
            .status()
    });
    tokio::time::timeout(
        Duration::from_secs(5),
        fake.wait_for_calls("slow [[latency_ms:200]]", 1),
    )
    .await
    .expect("request arrives");
    assert_eq!(fake.requests().in_flight, 1);
    assert_eq!(call.await.unwrap(), 200);
}

#[test]
fn binary_prints_its_address_and_serves() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_assay-fake-model"))
        .args(["--bind", "127.0.0.1:0", "--latency-ms", "1"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("binary runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("fake model listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let v: Value = rt.block_on(async {
        reqwest::Client::new()
            .post(format!("{url}/v1/chat/completions"))
            .json(&json!({"messages": [{"role": "user", "content": "[[answer:hi]]"}]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(chat_text(&v), "hi");
}
