//! The embedding backend against the reference model all-MiniLM-L6-v2, installed by
//! `scripts/install-models` into `ASSAY_MODELS_DIR` (default `<repo>/models`).
//!
//! Without the model the tests are skipped with a note, or fail when `ASSAY_REQUIRE_MODELS=1`.
//! The reference numbers come from an independent float64 numpy implementation of the same
//! BERT forward pass + mean pooling + L2 normalization over the same files.

use std::sync::OnceLock;
use std::time::Duration;

use assay_local::embed::{EmbeddingBackend, PoolingMode};
use assay_models::{EndpointKind, ErrorKind, ModelBackend, ResolvedModel};

/// cos("A man is eating food.", "A man is eating a piece of bread.") by the reference
/// implementation (0.755337).
const REFERENCE_COSINE: f32 = 0.755_337;

/// The loaded model, or `None` (test skipped) when it is not installed.
fn backend() -> Option<&'static EmbeddingBackend> {
    static BACKEND: OnceLock<Option<EmbeddingBackend>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            let weights = format!("{}/model.safetensors", assay_testkit::models::EMBEDDER_DIR);
            let dir = assay_testkit::models::installed(&weights)?
                .parent()
                .expect("the weights' directory")
                .to_path_buf();
            Some(EmbeddingBackend::load(&dir).expect("the reference model loads"))
        })
        .as_ref()
}

fn target() -> ResolvedModel {
    ResolvedModel {
        endpoint: "local-minilm".into(),
        kind: EndpointKind::Local,
        upstream_model: "all-minilm-l6-v2".into(),
    }
}

fn strings(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|t| t.to_string()).collect()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f32]) -> f32 {
    dot(a, a).sqrt()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    dot(a, b) / (norm(a) * norm(b))
}

#[tokio::test]
async fn reference_similarity_and_usage() {
    let Some(model) = backend() else { return };
    let cfg = model.sentence_config();
    assert_eq!(cfg.pooling, vec![PoolingMode::Mean]);
    assert!(cfg.normalize);
    assert_eq!(cfg.max_seq_length, 256);
    assert_eq!(model.dimension(), 384);

    let texts = strings(&["A man is eating food.", "A man is eating a piece of bread."]);
    let out = model.embed(&target(), &texts).await.unwrap();
    assert_eq!(out.vectors.len(), 2);
    let (a, b) = (&out.vectors[0], &out.vectors[1]);
    assert_eq!(a.len(), 384);
    let cos = cosine(a, b);
    println!("cos = {cos:.6} (reference {REFERENCE_COSINE})");
    assert!(
        (cos - REFERENCE_COSINE).abs() < 1e-3,
        "cos = {cos}, reference {REFERENCE_COSINE}"
    );
    assert!((cos - 0.755).abs() < 1e-3);
    // The first components, as the reference implementation computes them.
    let reference_head = [0.033242f32, 0.004406, -0.006277, 0.048379, -0.138702];
    for (x, r) in a.iter().zip(reference_head) {
        assert!((x - r).abs() < 1e-4, "{:?} vs {reference_head:?}", &a[..5]);
    }
    // [CLS] a man is eating food . [SEP] = 8, and 11 for the second sentence.
    let usage = out.usage.expect("usage is reported");
    assert_eq!(usage.input_tokens, 19);
    assert_eq!(usage.output_tokens, 0);
    assert!(!usage.estimated);
}

#[tokio::test]
async fn vectors_are_unit_length_and_batches_match_single_texts() {
    let Some(model) = backend() else { return };
    let texts = strings(&[
        "A man is eating food.",
        "",
        "Short.",
        "A man is riding a white horse on an enclosed ground.",
        "A monkey is playing drums.",
        "Two men pushed carts through the woods, and then they had lunch by the river.",
        "A man is eating food.",
    ]);
    let batch = model.embed(&target(), &texts).await.unwrap();
    assert_eq!(batch.vectors.len(), texts.len());
    for (text, v) in texts.iter().zip(&batch.vectors) {
        assert_eq!(v.len(), 384);
        assert!(v.iter().all(|x| x.is_finite()));
        assert!(
            (norm(v) - 1.0).abs() < 1e-5,
            "norm {} for {text:?}",
            norm(v)
        );
        let single = model
            .embed(&target(), std::slice::from_ref(text))
            .await
            .unwrap();
        let max_diff = v
            .iter()
            .zip(&single.vectors[0])
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(
            max_diff < 1e-5,
            "batch vs single differ by {max_diff} for {text:?}"
        );
    }
    assert_eq!(batch.vectors[0], batch.vectors[6], "same text, same vector");
}

#[tokio::test]
async fn long_texts_are_truncated_to_max_seq_length() {
    let Some(model) = backend() else { return };
    let long = "word ".repeat(1000);
    let longer = "word ".repeat(2000);
    let out = model
        .embed(&target(), &strings(&[&long, &longer]))
        .await
        .unwrap();
    assert_eq!(out.usage.unwrap().input_tokens, 2 * 256);
    let diff = out.vectors[0]
        .iter()
        .zip(&out.vectors[1])
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(diff < 1e-5, "both read the same first 256 tokens");
}

#[tokio::test]
async fn empty_inputs() {
    let Some(model) = backend() else { return };
    // No texts: no vectors, no tokens.
    let none = model.embed(&target(), &[]).await.unwrap();
    assert!(none.vectors.is_empty());
    assert_eq!(none.usage.unwrap().input_tokens, 0);
    // The empty string is [CLS] [SEP]: a valid unit vector, as sentence-transformers gives.
    let out = model.embed(&target(), &strings(&[""])).await.unwrap();
    assert_eq!(out.usage.unwrap().input_tokens, 2);
    let v = &out.vectors[0];
    assert_eq!(v.len(), 384);
    assert!((norm(v) - 1.0).abs() < 1e-5);
    let reference_head = [-0.118838f32, 0.048299, -0.002548, -0.011011, 0.051951];
    for (x, r) in v.iter().zip(reference_head) {
        assert!((x - r).abs() < 1e-4, "{:?} vs {reference_head:?}", &v[..5]);
    }
}

#[tokio::test]
async fn generation_is_refused() {
    let Some(model) = backend() else { return };
    let request = model.generation_request(&target(), "Hello", &Default::default());
    let err = model.generate(&target(), &request).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::BadRequest);
    assert!(
        err.message.contains("cannot generate text"),
        "{}",
        err.message
    );
    assert!(!err.retryable);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_calls_leave_the_backend_usable() {
    let Some(model) = backend() else { return };
    let many: Vec<String> = (0..400)
        .map(|i| format!("Sentence number {i} about nothing in particular."))
        .collect();
    // Dropped mid-flight, several times: no worker slot may leak.
    let target = target();
    for _ in 0..3 {
        let call = model.embed(&target, &many);
        assert!(tokio::time::timeout(Duration::from_millis(20), call)
            .await
            .is_err());
    }
    let texts = strings(&["still works"]);
    let out = tokio::time::timeout(Duration::from_secs(60), model.embed(&target, &texts))
        .await
        .expect("the backend recovers after dropped calls")
        .unwrap();
    assert_eq!(out.vectors.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_agree() {
    let Some(model) = backend() else { return };
    let texts = strings(&["A man is eating food.", "A woman is slicing an onion."]);
    let target = target();
    let calls = (0..6).map(|_| model.embed(&target, &texts));
    let results = futures::future::join_all(calls).await;
    let first = results[0].as_ref().unwrap();
    for r in &results {
        let r = r.as_ref().unwrap();
        for (a, b) in r.vectors.iter().zip(&first.vectors) {
            let d = a
                .iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f32::max);
            assert!(d < 1e-6);
        }
    }
}
