//! Embedding throughput of all-MiniLM-L6-v2 on the CPU: ~2,000 short sentences, sent in
//! batches through the backend, reported as sentences per second.
//!
//! `cargo bench -p assay-local --bench embed_throughput` (a release build). The model comes
//! from `ASSAY_MODELS_DIR` (default `<repo>/models`; `scripts/install-models` installs it).
//! `ASSAY_BENCH_BATCH` sets the texts per call (default 64), `ASSAY_BENCH_ROUNDS` the timed
//! rounds (default 3), `ASSAY_BENCH_WORKERS` the backend's concurrent batches (default: cores).
//!
//! Besides wall-clock sentences/s, each round prints sentences per CPU-second (from
//! `/proc/self/stat`), which stays meaningful when other work shares the machine.
//!
//! CPU features: candle's matrix products (the `gemm` crate) pick AVX2/FMA kernels at run
//! time; the workspace builds for x86-64-v3 (`.cargo/config.toml`), which also lets the
//! compiler vectorize the rest. Threading: candle parallelizes each operation over its own
//! pool (`CANDLE_NUM_THREADS` / `RAYON_NUM_THREADS`, default: physical cores), and this
//! backend runs one batch per core. `CANDLE_NUM_THREADS=1 RAYON_NUM_THREADS=1` (one
//! single-threaded batch per core, no spin-waiting between small operations) measured 169
//! against 134 sentences/s on the 2-core reference machine.
//!
//! The ceiling: all-MiniLM-L6-v2 costs 2 × 10.6 M multiply-adds per token, about 0.24 GFLOP
//! for one of these sentences (11.25 tokens on average). 500 sentences/s would need about
//! 120 GFLOP/s of f32 matrix products; OpenBLAS's own SGEMM reaches 45 GFLOP/s on the 2-core
//! reference machine (AMD EPYC, Zen 1), and 169 sentences/s is 40 GFLOP/s.

use std::time::Instant;

use assay_local::embed::EmbeddingBackend;
use assay_models::{EndpointKind, ModelBackend, ResolvedModel};

const SUBJECTS: &[&str] = &[
    "A man",
    "The woman",
    "A small child",
    "An old dog",
    "The teacher",
    "A musician",
    "Two friends",
    "The farmer",
    "A cyclist",
    "The chef",
];
const VERBS: &[&str] = &[
    "is eating",
    "quickly reads",
    "carefully paints",
    "is playing with",
    "looks at",
    "slowly carries",
    "talks about",
    "is cleaning",
    "photographs",
    "repairs",
];
const OBJECTS: &[&str] = &[
    "a piece of bread.",
    "the old newspaper.",
    "a red bicycle near the station.",
    "some fresh vegetables from the market.",
    "a guitar.",
    "the broken window.",
    "a cup of hot tea.",
    "the blue car parked outside.",
    "a long letter from home.",
    "the garden behind the house.",
    "a map of the city.",
    "an orange.",
    "the kitchen floor.",
    "a small wooden boat on the lake.",
    "the evening news.",
    "a bowl of soup.",
    "the tall tree.",
    "a stack of books.",
    "the mountain at dawn.",
    "a pair of shoes.",
];

fn sentences() -> Vec<String> {
    let mut out = Vec::with_capacity(2000);
    for s in SUBJECTS {
        for v in VERBS {
            for o in OBJECTS {
                out.push(format!("{s} {v} {o}"));
            }
        }
    }
    out
}

fn main() {
    let weights = format!("{}/model.safetensors", assay_testkit::models::EMBEDDER_DIR);
    let Some(weights) = assay_testkit::models::installed(&weights) else {
        return;
    };
    let dir = weights.parent().expect("the weights' directory");
    let batch: usize = std::env::var("ASSAY_BENCH_BATCH")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(64);
    let rounds: u32 = std::env::var("ASSAY_BENCH_ROUNDS")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(3);
    let backend = match std::env::var("ASSAY_BENCH_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
    {
        Some(workers) => EmbeddingBackend::load_with_workers(dir, workers),
        None => EmbeddingBackend::load(dir),
    }
    .expect("the model loads");
    let target = ResolvedModel {
        endpoint: "bench".into(),
        kind: EndpointKind::Local,
        upstream_model: "all-minilm-l6-v2".into(),
    };
    let texts = sentences();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        // Warm-up (allocations, thread pools).
        backend.embed(&target, &texts[..batch.min(texts.len())]).await.unwrap();
        let mut best = 0.0f64;
        for round in 1..=rounds {
            let start = Instant::now();
            let cpu_start = cpu_seconds();
            let mut tokens = 0;
            // Calls of `batch` texts, all in flight at once, as the engine issues them.
            let calls = texts.chunks(batch).map(|chunk| backend.embed(&target, chunk));
            for result in futures::future::join_all(calls).await {
                tokens += result.unwrap().usage.unwrap().input_tokens;
            }
            let secs = start.elapsed().as_secs_f64();
            let rate = texts.len() as f64 / secs;
            best = best.max(rate);
            let cpu = cpu_seconds().zip(cpu_start).map(|(end, start)| end - start);
            println!(
                "round {round}: {} sentences ({tokens} tokens) in {secs:.2} s = {rate:.0} sentences/s{}",
                texts.len(),
                cpu.map(|c| format!(
                    " ({c:.2} CPU-s: {:.0} sentences per CPU-second)",
                    texts.len() as f64 / c
                ))
                .unwrap_or_default()
            );
        }
        println!(
            "embed_throughput all-minilm-l6-v2: {best:.0} sentences/s (best of {rounds}, {} cores, calls of {batch})",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        );
    });
}

/// CPU time (user + system) of this process so far, where `/proc` tells it (Linux): with
/// other work on the machine, wall-clock figures understate the throughput.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesized command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}
