//! The gateway against the fake model server: every retry and error path, reasoning capture,
//! usage, request mapping, cache, limits and cancellation.

use std::sync::Arc;
use std::time::{Duration, Instant};

use assay_domain::generation::GenerationConfig;
use assay_models::tokens::count_tokens;
use assay_models::{
    CallError, CancellationToken, ErrorKind, Gateway, Generation, MemoryCache, ModelsConfig,
    RetryPolicy, Role,
};
use assay_testkit::{FakeModelOptions, FakeModelServer};
use serde_json::{json, Value};

struct Fixture {
    fake: FakeModelServer,
    gateway: Gateway,
}

/// Fast backoff so tests of retry counts do not wait; `Retry-After` is still honoured.
fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        ..RetryPolicy::default()
    }
}

fn registry(url: &str, extra: &str) -> ModelsConfig {
    let toml = format!(
        r#"
        [resp]
        kind = "responses"
        base_url = "{url}"
        model = "fake-responses"
        [chat]
        kind = "chat_completions"
        base_url = "{url}"
        [comp]
        kind = "completions"
        base_url = "{url}"
        [emb]
        kind = "embeddings"
        base_url = "{url}"
        [capped]
        kind = "chat_completions"
        base_url = "{url}"
        max_concurrency = 2
        [rpm]
        kind = "completions"
        base_url = "{url}"
        requests_per_minute = 600
        [keyed]
        kind = "chat_completions"
        base_url = "{url}"
        api_key_env = "ASSAY_TEST_SURELY_UNSET_KEY_VARIABLE"
        {extra}
        [auto]
        generation = "chat"
        judge = "resp"
        embedding = "emb"
        "#
    );
    toml::from_str(&toml).expect("registry parses")
}

async fn fixture() -> Fixture {
    let fake = FakeModelServer::start(FakeModelOptions::default())
        .await
        .expect("fake starts");
    let gateway = Gateway::builder(registry(&fake.openai_base_url(), ""))
        .retry_policy(fast_retries())
        .build()
        .expect("gateway builds");
    Fixture { fake, gateway }
}

fn gen(v: Value) -> GenerationConfig {
    serde_json::from_value::<GenerationConfig>(v)
        .expect("generation config")
        .normalize()
}

impl Fixture {
    async fn call(
        &self,
        model: &str,
        prompt: &str,
        config: Value,
    ) -> Result<Generation, CallError> {
        self.gateway
            .generate(model, prompt, &gen(config), &CancellationToken::new())
            .await
    }
}

#[tokio::test]
async fn rate_limited_with_retry_after_then_success() {
    let f = fixture().await;
    let prompt = "Q [[status:429 retry_after=1 times=2]] [[answer:ok]]";
    let start = Instant::now();
    let g = f
        .call("chat", prompt, json!({}))
        .await
        .expect("succeeds on the third attempt");
    let elapsed = start.elapsed();
    assert_eq!(g.output_text, "ok");
    assert_eq!(g.attempts, 3);
    assert_eq!(f.fake.calls_for(prompt), 3);
    // Two waits of Retry-After: 1 s each, although the backoff alone would be ≤ 60 ms.
    assert!(elapsed >= Duration::from_secs(2), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    assert!(g.latency_ms >= 2000);

    // retry-after-ms is honoured too.
    let prompt = "Q [[status:429 retry_after_ms=300 times=1]]";
    let start = Instant::now();
    let g = f.call("resp", prompt, json!({})).await.unwrap();
    assert_eq!(g.attempts, 2);
    assert!(start.elapsed() >= Duration::from_millis(300));

    // Out of retries: the last error with its status and attempt count.
    let prompt = "Q [[status:429 retry_after_ms=1]]";
    let err = f
        .call("chat", prompt, json!({"max_retries": 1}))
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind, err.status, err.attempts),
        (ErrorKind::RateLimited, Some(429), 2)
    );
    assert_eq!(f.fake.calls_for(prompt), 2);
    assert_eq!(
        err.to_json(),
        json!({"type": "rate_limited", "message": err.message, "status": 429, "attempts": 2})
    );
}

#[tokio::test]
async fn server_errors_are_retried() {
    let f = fixture().await;
    let prompt = "Q [[status:500 times=1]] [[answer:fine]]";
    let g = f.call("comp", prompt, json!({})).await.unwrap();
    assert_eq!((g.output_text.as_str(), g.attempts), ("fine", 2));

    let prompt = "Q [[status:503]]";
    let err = f.call("chat", prompt, json!({})).await.unwrap_err();
    assert_eq!(
        (err.kind, err.status, err.attempts),
        (ErrorKind::ServerError, Some(503), 3)
    );
    let err = f
        .call("chat", "Q2 [[status:503]]", json!({"max_retries": 0}))
        .await
        .unwrap_err();
    assert_eq!(err.attempts, 1);
    let g = f
        .call(
            "chat",
            "Q [[status:408 times=1]] [[status:409 times=1]]",
            json!({}),
        )
        .await
        .unwrap();
    assert_eq!(g.attempts, 3);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let f = fixture().await;
    for (prompt, kind, status) in [
        ("Q [[status:400]]", ErrorKind::BadRequest, 400),
        ("Q [[status:404]]", ErrorKind::BadRequest, 404),
        ("Q [[status:422]]", ErrorKind::BadRequest, 422),
        ("Q [[status:401]]", ErrorKind::Authentication, 401),
        ("Q [[status:403]]", ErrorKind::Authentication, 403),
    ] {
        let err = f
            .call("chat", prompt, json!({"max_retries": 5}))
            .await
            .unwrap_err();
        assert_eq!(
            (err.kind, err.status, err.attempts),
            (kind, Some(status), 1),
            "{prompt}"
        );
        assert_eq!(f.fake.calls_for(prompt), 1, "{prompt}");
    }
    // A configured key variable that is unset fails without a request.
    let err = f.call("keyed", "Q keyed", json!({})).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Authentication);
    assert!(err.message.contains("ASSAY_TEST_SURELY_UNSET_KEY_VARIABLE"));
    assert_eq!(f.fake.calls_for("Q keyed"), 0);
}

#[tokio::test]
async fn timeouts_on_hang() {
    let f = fixture().await;
    let prompt = "Q [[hang times=1]] [[answer:late]]";
    let start = Instant::now();
    let g = f
        .call(
            "chat",
            prompt,
            json!({"timeout_seconds": 1, "max_retries": 1}),
        )
        .await
        .unwrap();
    assert_eq!((g.output_text.as_str(), g.attempts), ("late", 2));
    assert!(start.elapsed() >= Duration::from_secs(1));

    let start = Instant::now();
    let err = f
        .call(
            "resp",
            "Q [[hang]]",
            json!({"timeout_seconds": 1, "max_retries": 0}),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind, err.status, err.attempts),
        (ErrorKind::Timeout, None, 1)
    );
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn empty_output_and_empty_retries() {
    let f = fixture().await;
    let err = f
        .call("chat", "Q1 [[empty times=1]] [[answer:A]]", json!({}))
        .await
        .unwrap_err();
    assert_eq!((err.kind, err.attempts), (ErrorKind::EmptyOutput, 1));

    let prompt = "Q2 [[empty times=1]] [[answer:A]]";
    let g = f
        .call("chat", prompt, json!({"max_empty_retries": 1}))
        .await
        .unwrap();
    assert_eq!((g.output_text.as_str(), g.attempts), ("A", 2));
    assert_eq!(f.fake.calls_for(prompt), 2);

    let err = f
        .call("resp", "Q3 [[empty]]", json!({"max_empty_retries": 2}))
        .await
        .unwrap_err();
    assert_eq!((err.kind, err.attempts), (ErrorKind::EmptyOutput, 3));

    // Reasoning alone is not an answer.
    let err = f
        .call("chat", "Q4 [[empty]] [[think:only thoughts]]", json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::EmptyOutput);
}

#[tokio::test]
async fn context_length_and_content_filter() {
    let f = fixture().await;
    for model in ["resp", "chat", "comp"] {
        let prompt = format!("{model} [[context_length]]");
        let err = f.call(model, &prompt, json!({})).await.unwrap_err();
        assert_eq!(
            (err.kind, err.status, err.attempts),
            (ErrorKind::ContextLength, Some(400), 1)
        );
        assert!(
            err.message.contains("maximum context length"),
            "{}",
            err.message
        );
    }
    for model in ["resp", "chat", "comp"] {
        let prompt = format!("{model} [[content_filter]]");
        let err = f.call(model, &prompt, json!({})).await.unwrap_err();
        assert_eq!(
            (err.kind, err.attempts),
            (ErrorKind::ContentFilter, 1),
            "{model}"
        );
    }
}

#[tokio::test]
async fn reasoning_is_captured_in_all_three_forms() {
    let f = fixture().await;
    let g = f
        .call(
            "resp",
            "Q [[reasoning:item thoughts]] [[answer:A]]",
            json!({}),
        )
        .await
        .unwrap();
    assert_eq!(
        (g.output_text.as_str(), g.reasoning.as_deref()),
        ("A", Some("item thoughts"))
    );
    assert_eq!(
        g.response_id.as_deref().map(|s| s.starts_with("resp_")),
        Some(true)
    );

    let g = f
        .call(
            "chat",
            "Q [[reasoning:field thoughts]] [[answer:B]]",
            json!({}),
        )
        .await
        .unwrap();
    assert_eq!(
        (g.output_text.as_str(), g.reasoning.as_deref()),
        ("B", Some("field thoughts"))
    );

    for model in ["resp", "chat", "comp"] {
        let g = f
            .call(model, "Q [[think:tag thoughts]] [[answer:C]]", json!({}))
            .await
            .unwrap();
        assert_eq!(
            (g.output_text.as_str(), g.reasoning.as_deref()),
            ("C", Some("tag thoughts")),
            "{model}"
        );
    }

    // prefill_think: the model continues the open block; the gateway still separates it.
    let prompt = "Q [[think:continued]] [[answer:D]]";
    let g = f
        .call("chat", prompt, json!({"prefill_think": true}))
        .await
        .unwrap();
    assert_eq!(
        (g.output_text.as_str(), g.reasoning.as_deref()),
        ("D", Some("continued"))
    );
    let body = f.fake.last_body_for(prompt).unwrap();
    assert_eq!(
        body["messages"][1],
        json!({"role": "assistant", "content": "<think>\n"})
    );
    assert_eq!(body["continue_final_message"], true);
    assert_eq!(body["add_generation_prompt"], false);

    let g = f
        .call(
            "comp",
            "Q [[answer:E]]",
            json!({"prefill_think": "<think>I think"}),
        )
        .await
        .unwrap();
    assert_eq!(
        (g.output_text.as_str(), g.reasoning.as_deref()),
        ("E", Some("I think"))
    );
    assert_eq!(f.fake.calls_for("Q [[answer:E]]<think>I think"), 1);
}

#[tokio::test]
async fn usage_reported_or_estimated() {
    let f = fixture().await;
    let g = f
        .call("chat", "one two three [[answer:x y]]", json!({}))
        .await
        .unwrap();
    assert!(!g.usage.estimated);
    assert_eq!((g.usage.input_tokens, g.usage.output_tokens), (3, 2));
    assert_eq!(g.usage.cached_tokens, Some(0));

    let prompt = "Count these tokens please [[no_usage]] [[answer:Paris is the answer]] [[reasoning:because reasons]]";
    let g = f
        .call("resp", prompt, json!({"instructions": "Answer briefly."}))
        .await
        .unwrap();
    assert!(g.usage.estimated);
    assert_eq!(
        g.usage.input_tokens,
        count_tokens(prompt) + count_tokens("Answer briefly.")
    );
    assert_eq!(
        g.usage.reasoning_tokens,
        Some(count_tokens("because reasons"))
    );
    assert_eq!(
        g.usage.output_tokens,
        count_tokens("Paris is the answer") + count_tokens("because reasons")
    );
    let g = f.call("comp", "a [[no_usage]]", json!({})).await.unwrap();
    assert!(g.usage.estimated && g.usage.reasoning_tokens.is_none());
}

#[tokio::test]
async fn generation_fields_reach_the_request_body() {
    let f = fixture().await;
    let config = json!({
        "instructions": "Be terse.", "max_gen_toks": 3, "until": ["."], "temperature": 0.6, "top_p": 0.8,
        "top_k": 20, "min_p": 0.05, "repetition_penalty": 1.05, "presence_penalty": 0.5,
        "chat_template_kwargs": {"enable_thinking": false}, "reasoning": {"effort": "low"},
        "extra_body": {"seed": 11, "temperature": 0.1}
    });
    let prompt = "[[answer:one two. three four five]]";
    let g = f
        .call("chat:upstream/model-x", prompt, config.clone())
        .await
        .unwrap();
    assert_eq!(g.output_text, "one two");
    let body = f.fake.last_body_for(prompt).unwrap();
    assert_eq!(body["model"], "upstream/model-x");
    assert_eq!(
        body["messages"][0],
        json!({"role": "system", "content": "Be terse."})
    );
    assert_eq!(
        body["messages"][1],
        json!({"role": "user", "content": prompt})
    );
    assert_eq!(body["max_tokens"], 3);
    assert_eq!(body["stop"], json!(["."]));
    assert_eq!(
        body["chat_template_kwargs"],
        json!({"enable_thinking": false})
    );
    assert_eq!(body["reasoning_effort"], "low");
    assert_eq!(body["seed"], 11);
    assert_eq!(body["temperature"], 0.1, "extra_body is merged last");
    assert_eq!(
        (body["top_k"].clone(), body["min_p"].clone()),
        (json!(20), json!(0.05))
    );
    assert_eq!(body["repetition_penalty"], 1.05);

    // max tokens reach the server: the fake cuts to 3 whitespace tokens.
    let prompt = "[[answer:a b c d e]]";
    let g = f
        .call(
            "comp",
            prompt,
            json!({"max_output_tokens": 3, "instructions": "Sys."}),
        )
        .await
        .unwrap();
    assert_eq!(g.output_text, "a b c");
    let key = format!("Sys.\n\n{prompt}");
    assert_eq!(f.fake.last_body_for(&key).unwrap()["max_tokens"], 3);

    // Responses: instructions and max_output_tokens as such; stop applied by the gateway.
    let prompt = "[[answer:keep END drop]]";
    let g = f
        .call("resp", prompt, json!({"instructions": "Sys.", "max_output_tokens": 9, "stop": "END", "truncation": "auto", "do_sample": false, "top_p": 0.5}))
        .await
        .unwrap();
    assert_eq!(g.output_text, "keep ");
    let body = f.fake.last_body_for(prompt).unwrap();
    assert_eq!(body["model"], "fake-responses");
    assert_eq!(body["instructions"], "Sys.");
    assert_eq!(body["max_output_tokens"], 9);
    assert_eq!(body["truncation"], "auto");
    assert_eq!(body["temperature"], 0.0);
    assert!(body.get("top_p").is_none() && body.get("stop").is_none());

    // `auto` resolves per role.
    f.call("auto", "via auto", json!({})).await.unwrap();
    assert_eq!(
        f.fake.requests().recent.last().unwrap().endpoint.as_str(),
        "chat_completions"
    );
    let judge = f.gateway.resolve("auto", Role::Judge).unwrap();
    f.gateway
        .generate_resolved(
            &judge,
            "judge me",
            &gen(json!({})),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(
        f.fake.requests().recent.last().unwrap().endpoint.as_str(),
        "responses"
    );
}

#[tokio::test]
async fn unknown_models_fail_without_a_request() {
    let f = fixture().await;
    let err = f.call("gpt-9", "x", json!({})).await.unwrap_err();
    assert_eq!((err.kind, err.attempts), (ErrorKind::BadRequest, 0));
    assert!(
        err.message.contains("unknown model \"gpt-9\""),
        "{}",
        err.message
    );
    assert!(f.gateway.resolve("emb", Role::Generation).is_err());
    assert_eq!(f.fake.requests().total, 0);
}

#[tokio::test]
async fn cache_answers_identical_requests() {
    let f = fixture().await;
    let prompt = "cached question [[answer:42]]";
    let first = f
        .call("chat", prompt, json!({"use_cache": true}))
        .await
        .unwrap();
    assert_eq!(first.attempts, 1);
    let second = f
        .call("chat", prompt, json!({"use_cache": true}))
        .await
        .unwrap();
    assert_eq!(second.attempts, 0);
    assert_eq!(second.output_text, "42");
    assert_eq!(second.usage, first.usage);
    assert_eq!(second.response_id, first.response_id);
    assert_eq!(f.fake.calls_for(prompt), 1);

    // A different request body or endpoint, or no use_cache, goes to the model.
    f.call(
        "chat",
        prompt,
        json!({"use_cache": true, "temperature": 0.5}),
    )
    .await
    .unwrap();
    f.call("chat:other", prompt, json!({"use_cache": true}))
        .await
        .unwrap();
    f.call("chat", prompt, json!({})).await.unwrap();
    assert_eq!(f.fake.calls_for(prompt), 4);

    // Failures are not cached.
    let prompt = "flaky [[status:400 times=1]]";
    assert!(f
        .call("chat", prompt, json!({"use_cache": true}))
        .await
        .is_err());
    assert_eq!(
        f.call("chat", prompt, json!({"use_cache": true}))
            .await
            .unwrap()
            .attempts,
        1
    );

    // A custom cache sees the entries; a gateway without a cache ignores use_cache.
    let cache = Arc::new(MemoryCache::new(10));
    let gw = Gateway::builder(registry(&f.fake.openai_base_url(), ""))
        .cache(cache.clone())
        .build()
        .unwrap();
    let cfg = gen(json!({"use_cache": true}));
    gw.generate("comp", "c1", &cfg, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(cache.len(), 1);
    let gw = Gateway::builder(registry(&f.fake.openai_base_url(), ""))
        .without_cache()
        .build()
        .unwrap();
    for _ in 0..2 {
        gw.generate("comp", "c2", &cfg, &CancellationToken::new())
            .await
            .unwrap();
    }
    assert_eq!(f.fake.calls_for("c2"), 2);
}

#[tokio::test]
async fn concurrency_cap_is_shared_by_all_callers() {
    let f = fixture().await;
    let gateway = f.gateway.clone();
    let calls = (0..8).map(|i| {
        let gw = gateway.clone();
        tokio::spawn(async move {
            gw.generate(
                "capped",
                &format!("q{i} [[latency_ms:100]]"),
                &GenerationConfig::default(),
                &CancellationToken::new(),
            )
            .await
        })
    });
    let start = Instant::now();
    for r in futures::future::join_all(calls).await {
        r.unwrap().unwrap();
    }
    assert_eq!(f.fake.max_in_flight(), 2);
    assert!(
        start.elapsed() >= Duration::from_millis(400),
        "8 calls of 100 ms, 2 at a time"
    );

    // Without a cap the same load runs all at once.
    f.fake.reset();
    let calls = (0..8).map(|i| {
        let gw = gateway.clone();
        tokio::spawn(async move {
            gw.generate(
                "chat",
                &format!("u{i} [[latency_ms:100]]"),
                &GenerationConfig::default(),
                &CancellationToken::new(),
            )
            .await
        })
    });
    for r in futures::future::join_all(calls).await {
        r.unwrap().unwrap();
    }
    assert_eq!(f.fake.max_in_flight(), 8);
}

#[tokio::test]
async fn requests_per_minute_spaces_calls() {
    let f = fixture().await;
    // 600/min: a burst of 10, then one every 100 ms.
    let start = Instant::now();
    for i in 0..12 {
        f.call("rpm", &format!("r{i}"), json!({})).await.unwrap();
    }
    assert!(
        start.elapsed() >= Duration::from_millis(190),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn cancellation_stops_at_once() {
    let f = fixture().await;
    // While a request hangs.
    let cancel = CancellationToken::new();
    let gw = f.gateway.clone();
    let token = cancel.clone();
    let call = tokio::spawn(async move {
        gw.generate(
            "chat",
            "Q [[hang]]",
            &gen(json!({"timeout_seconds": 60})),
            &token,
        )
        .await
    });
    f.fake.wait_for_calls("Q [[hang]]", 1).await;
    let start = Instant::now();
    cancel.cancel();
    let err = call.await.unwrap().unwrap_err();
    assert_eq!((err.kind, err.attempts), (ErrorKind::Cancelled, 1));
    assert!(start.elapsed() < Duration::from_secs(2));
    // The request was abandoned: the fake sees the connection close.
    tokio::time::timeout(Duration::from_secs(5), f.fake.wait_until_idle())
        .await
        .expect("cancelled request is dropped");

    // While backing off after a 429 asking for a long wait: no further attempt.
    let prompt = "Q [[status:429 retry_after=60]]";
    let cancel = CancellationToken::new();
    let gw = f.gateway.clone();
    let token = cancel.clone();
    let call =
        tokio::spawn(async move { gw.generate("resp", prompt, &gen(json!({})), &token).await });
    f.fake.wait_for_calls(prompt, 1).await;
    let start = Instant::now();
    cancel.cancel();
    let err = call.await.unwrap().unwrap_err();
    assert_eq!((err.kind, err.attempts), (ErrorKind::Cancelled, 1));
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(f.fake.calls_for(prompt), 1);

    // Already cancelled: nothing is sent.
    let cancel = CancellationToken::new();
    cancel.cancel();
    let err = f
        .gateway
        .generate("chat", "never sent", &GenerationConfig::default(), &cancel)
        .await
        .unwrap_err();
    assert_eq!((err.kind, err.attempts), (ErrorKind::Cancelled, 0));
    assert_eq!(f.fake.calls_for("never sent"), 0);
}

#[tokio::test]
async fn embeddings_with_usage_and_retries() {
    let f = fixture().await;
    let texts: Vec<String> = ["the cat sat", "a cat sat", "stock prices fell"]
        .map(String::from)
        .to_vec();
    let e = f.gateway.embed("emb", &texts).await.unwrap();
    assert_eq!(e.vectors.len(), 3);
    assert_eq!(e.vectors[0].len(), 64);
    assert!(!e.usage.estimated);
    assert_eq!(e.usage.input_tokens, 9);
    let auto = f.gateway.embed("auto", &texts[..1]).await.unwrap();
    assert_eq!(auto.vectors[0], e.vectors[0]);

    let texts = vec!["flaky [[status:500 times=1]]".to_string()];
    let e = f.gateway.embed("emb", &texts).await.unwrap();
    assert_eq!(e.vectors.len(), 1);
    assert_eq!(f.fake.calls_for("flaky [[status:500 times=1]]"), 2);

    let texts = vec!["quiet [[no_usage]]".to_string()];
    let e = f.gateway.embed("emb", &texts).await.unwrap();
    assert!(e.usage.estimated);
    assert_eq!(e.usage.input_tokens, count_tokens(&texts[0]));

    let err = f
        .gateway
        .embed("emb", &["bad [[status:400]]".to_string()])
        .await
        .unwrap_err();
    assert_eq!((err.kind, err.attempts), (ErrorKind::BadRequest, 1));
    let err = f.gateway.embed("chat", &texts).await.unwrap_err();
    assert_eq!((err.kind, err.attempts), (ErrorKind::BadRequest, 0));
    assert!(f
        .gateway
        .embed("emb", &[])
        .await
        .unwrap()
        .vectors
        .is_empty());
}

#[tokio::test]
async fn connection_errors_are_retried_then_reported() {
    // A port nothing listens on: bind, read the port, close.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let gw = Gateway::builder(registry(&format!("http://127.0.0.1:{port}/v1"), ""))
        .retry_policy(fast_retries())
        .build()
        .unwrap();
    let err = gw
        .generate(
            "chat",
            "x",
            &gen(json!({"max_retries": 2})),
            &CancellationToken::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind, err.status, err.attempts),
        (ErrorKind::Connection, None, 3)
    );
}
