//! Generation throughput of the reference GGUF model (SmolLM2-135M-Instruct Q4_1):
//! single-stream greedy tokens/second, and aggregate tokens/second with 4 concurrent
//! requests. Not a test: it prints figures.
//!
//! ```text
//! cargo bench -p assay-local --bench generate_throughput
//! ```
//!
//! `ASSAY_MODELS_DIR` (default `<repo>/models`) locates the model; `ASSAY_LOCAL_SLOTS` and
//! `ASSAY_LOCAL_THREADS` set the backend's shape; `BENCH_TOKENS` the tokens per request
//! (default 128). The build's CPU features come from `.cargo/config.toml` (x86-64-v3).

use std::time::Instant;

use assay_domain::generation::GenerationConfig;
use assay_local::generate::{GgufBackend, GgufOptions};

fn main() {
    let Some(path) = assay_testkit::models::installed(assay_testkit::models::GENERATOR_FILE) else {
        return;
    };
    let tokens: usize = std::env::var("BENCH_TOKENS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128);
    let started = Instant::now();
    let backend = GgufBackend::load_with(&path, GgufOptions::default()).expect("model loads");
    println!(
        "loaded {} ({} slots) in {:.2}s; simd: avx2={} fma={} f16c={}",
        path.display(),
        backend.slots(),
        started.elapsed().as_secs_f64(),
        cfg!(target_feature = "avx2"),
        cfg!(target_feature = "fma"),
        cfg!(target_feature = "f16c"),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config: GenerationConfig = serde_json::from_value(serde_json::json!({
        "temperature": 0,
        "max_output_tokens": tokens,
    }))
    .unwrap();
    let prompts = [
        "Write a long story about a dragon who learns to bake bread.",
        "Explain in detail how a steam engine works.",
        "Describe the history of the Roman Empire.",
        "Write an essay about the importance of sleep.",
    ];
    let request = |p: &str| {
        let mut cfg = config.clone();
        // Ignore end of turn: every request generates exactly `tokens` tokens.
        cfg.stop = None;
        let (mut r, _) = backend.request(p, &cfg).unwrap();
        r.max_output_tokens = tokens;
        r
    };

    // Warm-up.
    rt.block_on(backend.run(request(prompts[0]))).unwrap();

    // Reading the prompt and the first token, timed alone, so the decode rate can exclude them.
    let first_token = |p: &str| {
        let mut r = request(p);
        r.max_output_tokens = 1;
        let t = Instant::now();
        rt.block_on(backend.run(r)).unwrap();
        t.elapsed().as_secs_f64()
    };
    let mut best = 0.0f64;
    let mut best_decode = 0.0f64;
    for p in &prompts[..2] {
        let prefill = first_token(p);
        let t = Instant::now();
        let out = rt.block_on(backend.run(request(p))).unwrap();
        let secs = t.elapsed().as_secs_f64();
        let rate = out.output_tokens as f64 / secs;
        let decode = (out.output_tokens - 1) as f64 / (secs - prefill);
        println!(
            "single stream: {} prompt + {} generated tokens in {secs:.2}s = {rate:.1} tokens/s \
             end to end; {decode:.1} tokens/s decoding (prompt + first token: {prefill:.2}s)",
            out.input_tokens, out.output_tokens
        );
        best = best.max(rate);
        best_decode = best_decode.max(decode);
    }

    let t = Instant::now();
    let outs = rt.block_on(futures::future::join_all(
        prompts.iter().map(|p| backend.run(request(p))),
    ));
    let secs = t.elapsed().as_secs_f64();
    let total: usize = outs.iter().map(|o| o.as_ref().unwrap().output_tokens).sum();
    let aggregate = total as f64 / secs;
    println!(
        "4 concurrent requests: {total} generated tokens in {secs:.2}s = {aggregate:.1} tokens/s aggregate"
    );
    println!(
        "single-stream greedy: {best_decode:.1} tokens/s decoding ({best:.1} end to end); \
         aggregate (4 concurrent): {aggregate:.1} tokens/s, {:.2}x single-stream end to end",
        aggregate / best
    );
}
