//! GGUF generation against the reference model (SmolLM2-135M-Instruct Q4_1), loaded from
//! `ASSAY_MODELS_DIR` (default `<repo>/models`). Without the model the tests skip, unless
//! `ASSAY_REQUIRE_MODELS=1`, which makes them fail.

use std::sync::OnceLock;

use assay_domain::generation::GenerationConfig;
use assay_local::generate::{Finish, GgufBackend, GgufOptions};
use assay_models::{EndpointKind, ErrorKind, ModelBackend, ResolvedModel};
use serde_json::{json, Value};

/// The shared backend, or `None` (test skipped) when the model is not installed.
fn backend() -> Option<&'static GgufBackend> {
    static BACKEND: OnceLock<Option<GgufBackend>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            let path = assay_testkit::models::installed(assay_testkit::models::GENERATOR_FILE)?;
            Some(
                GgufBackend::load_with(
                    &path,
                    GgufOptions {
                        slots: 4,
                        ..GgufOptions::default()
                    },
                )
                .expect("model loads"),
            )
        })
        .as_ref()
}

fn target() -> ResolvedModel {
    ResolvedModel {
        endpoint: "local".into(),
        kind: EndpointKind::Local,
        upstream_model: "smollm2".into(),
    }
}

fn config(v: Value) -> GenerationConfig {
    serde_json::from_value::<GenerationConfig>(v)
        .unwrap()
        .normalize()
}

async fn generate(b: &GgufBackend, prompt: &str, cfg: &GenerationConfig) -> (String, u64, u64) {
    let req = b.generation_request(&target(), prompt, cfg);
    let out = b.generate(&target(), &req).await.expect("generation");
    let usage = out.usage.expect("usage");
    assert!(!usage.estimated);
    (out.text, usage.input_tokens, usage.output_tokens)
}

#[test]
fn tokenizer_round_trips() {
    let Some(b) = backend() else { return };
    let tok = b.tokenizer();
    for text in [
        "Hello, world!",
        "The year 2024 has 366 days.",
        "  leading spaces and\ttabs\nnew lines\n\n",
        "Ünïcödé — naïve café, 日本語, emoji 🎉",
        "fn main() { println!(\"{}\", 1 + 2); }",
    ] {
        let ids = tok.encode(text, false);
        assert!(!ids.is_empty());
        assert_eq!(tok.decode(&ids), text, "ids {ids:?}");
    }
    // Digits are split one by one (SmolLM's pre-tokenizer), and "Hello" is a single token.
    let ids = tok.encode("123", false);
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert_eq!(tok.encode("Hello", false).len(), 1);
    // Special tokens written in the text are single tokens.
    let ids = tok.encode("<|im_start|>user\nHi<|im_end|>", false);
    assert_eq!(tok.token_text(ids[0]).as_deref(), Some("<|im_start|>"));
    assert_eq!(
        tok.token_text(*ids.last().unwrap()).as_deref(),
        Some("<|im_end|>")
    );
    assert!(tok.is_end_of_generation(*ids.last().unwrap()));
    assert_eq!(tok.token_text(u32::MAX), None);
}

#[test]
fn chat_template_is_applied() {
    let Some(b) = backend() else { return };
    assert!(b.has_chat_template());
    let cfg = config(json!({"instructions": "Answer briefly.", "temperature": 0}));
    let req = b.generation_request(&target(), "What is 2+2?", &cfg);
    let prompt = req["prompt"].as_str().unwrap();
    assert_eq!(
        prompt,
        "<|im_start|>system\nAnswer briefly.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"
    );
    // Without instructions the template adds its own default system message.
    let req = b.generation_request(&target(), "Hi", &config(json!({})));
    let prompt = req["prompt"].as_str().unwrap();
    assert!(prompt.starts_with("<|im_start|>system\n"), "{prompt}");
    assert!(prompt.ends_with("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"));
}

#[test]
fn request_holds_what_changes_the_answer() {
    let Some(b) = backend() else { return };
    let greedy = b.generation_request(
        &target(),
        "x",
        &config(json!({"do_sample": false, "top_p": 0.5, "max_output_tokens": 7, "stop": ["\n"]})),
    );
    assert_eq!(greedy["temperature"], json!(0.0));
    assert_eq!(greedy["max_output_tokens"], json!(7));
    assert_eq!(greedy["stop"], json!(["\n"]));
    assert!(greedy.get("top_p").is_none() && greedy.get("seed").is_none());
    let sampled = b.generation_request(
        &target(),
        "x",
        &config(
            json!({"temperature": 0.7, "top_p": 0.9, "top_k": 40, "min_p": 0.05,
                       "repetition_penalty": 1.1, "extra_body": {"seed": 42}}),
        ),
    );
    for (k, v) in [
        ("temperature", json!(0.7)),
        ("top_p", json!(0.9)),
        ("top_k", json!(40)),
        ("min_p", json!(0.05)),
        ("repetition_penalty", json!(1.1)),
        ("seed", json!(42)),
        ("max_output_tokens", json!(256)),
    ] {
        assert_eq!(sampled[k], v, "{k}");
    }
}

#[tokio::test]
async fn greedy_answers_and_is_deterministic() {
    let Some(b) = backend() else { return };
    let cfg = config(json!({"temperature": 0, "max_output_tokens": 24}));
    // SmolLM2-135M Q4_1 answers this phrasing with "The capital of France is Paris." (asked
    // "What is the capital of France?" it rambles in French instead).
    let (a, input, output) = generate(b, "Which city is the capital of France?", &cfg).await;
    println!("answer: {a:?} ({input} prompt tokens, {output} generated)");
    assert!(a.contains("Paris"), "{a:?}");
    assert!(input > 10 && output > 0 && output <= 24);
    let (again, _, output2) = generate(b, "Which city is the capital of France?", &cfg).await;
    assert_eq!(a, again);
    assert_eq!(output, output2);
    let (de, _, _) = generate(b, "Name the capital of Germany.", &cfg).await;
    assert!(de.contains("Berlin"), "{de:?}");
}

#[tokio::test]
async fn max_output_tokens_is_exact() {
    let Some(b) = backend() else { return };
    let cfg = config(json!({"temperature": 0, "max_output_tokens": 5}));
    let (text, _, output) = generate(b, "Write a long story about a dragon.", &cfg).await;
    assert_eq!(output, 5, "{text:?}");
    let retokenized = b.tokenizer().encode(&text, false);
    assert!(retokenized.len() <= 6, "{text:?} -> {retokenized:?}");
}

#[tokio::test]
async fn stop_sequences_cut_the_answer() {
    let Some(b) = backend() else { return };
    let prompt = "List the numbers from 1 to 10, separated by commas.";
    let free = config(json!({"temperature": 0, "max_output_tokens": 40}));
    let (full, _, full_tokens) = generate(b, prompt, &free).await;
    println!("without stop: {full:?}");
    assert!(full.contains('5'), "{full:?}");
    let stopped = config(json!({"temperature": 0, "max_output_tokens": 40, "stop": ["5"]}));
    let (cut, _, cut_tokens) = generate(b, prompt, &stopped).await;
    println!("with stop \"5\": {cut:?}");
    assert!(!cut.contains('5'), "{cut:?}");
    assert!(full.starts_with(&cut), "{full:?} vs {cut:?}");
    assert_eq!(&full[cut.len()..cut.len() + 1], "5");
    assert!(cut_tokens < full_tokens);
}

#[tokio::test]
async fn seeded_sampling_repeats() {
    let Some(b) = backend() else { return };
    let prompt = "Write one sentence about the sea.";
    let with_seed = |seed: u64| {
        config(
            json!({"temperature": 1.0, "top_p": 0.95, "top_k": 50, "min_p": 0.02,
                      "repetition_penalty": 1.1, "max_output_tokens": 20,
                      "extra_body": {"seed": seed}}),
        )
    };
    let (a, _, _) = generate(b, prompt, &with_seed(1)).await;
    let (a2, _, _) = generate(b, prompt, &with_seed(1)).await;
    assert_eq!(a, a2);
    let mut others = Vec::new();
    for seed in 2..5 {
        others.push(generate(b, prompt, &with_seed(seed)).await.0);
    }
    println!("seed 1: {a:?}; seeds 2-4: {others:?}");
    assert!(others.iter().any(|o| *o != a), "{a:?} {others:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_and_cancellation() {
    let Some(b) = backend() else { return };
    let cfg = config(json!({"temperature": 0, "max_output_tokens": 8}));
    let prompts = [
        "Name a color.",
        "Name a fruit.",
        "Name an animal.",
        "Name a city.",
    ];
    let alone = {
        let mut v = Vec::new();
        for p in prompts {
            v.push(generate(b, p, &cfg).await.0);
        }
        v
    };
    let together = futures::future::join_all(prompts.iter().map(|p| generate(b, p, &cfg))).await;
    for (a, (t, _, _)) in alone.iter().zip(&together) {
        assert_eq!(a, t);
    }
    // A dropped call frees its slot at once: later calls still complete.
    let long = config(json!({"temperature": 0, "max_output_tokens": 100000}));
    let req = b.generation_request(&target(), "Tell me everything about history.", &long);
    let t = target();
    let dropped = tokio::time::timeout(std::time::Duration::from_millis(300), b.generate(&t, &req));
    assert!(dropped.await.is_err(), "timed out");
    let started = std::time::Instant::now();
    for p in prompts {
        generate(b, p, &cfg).await;
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}

#[tokio::test]
async fn embed_is_refused() {
    let Some(b) = backend() else { return };
    let err = b.embed(&target(), &["x".to_string()]).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::BadRequest);
    assert!(err.message.contains("only generates"));
}

#[test]
fn finish_reasons_are_reported() {
    let Some(b) = backend() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (req, _) = b
        .request(
            "Say hi.",
            &config(json!({"temperature": 0, "max_output_tokens": 64})),
        )
        .unwrap();
    let out = rt.block_on(b.run(req)).unwrap();
    println!("{out:?}");
    assert!(matches!(out.finish, Finish::EndOfTurn | Finish::Length));
}
