//! The quickstart end to end on the real local models: `assay serve` with no model endpoint
//! configured (so `auto` is the installed SmolLM2-135M-Instruct, MiniLM and Moonshine), then
//! `assay demo` creates the bundled suite — with its transcription task over sentences spoken
//! by `espeak-ng` (installed by `scripts/test`) — through the API, runs it, and prints its
//! metrics. The run must complete with real model outputs visible through the samples API.
//!
//! The models come from `ASSAY_MODELS_DIR` (default `<repo>/models`, filled by
//! `scripts/install-models`); without them the test skips, unless `ASSAY_REQUIRE_MODELS=1`,
//! which makes it fail.

mod common;

use assay_testkit::models;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_runs_on_the_local_models() {
    if models::installed(models::GENERATOR_FILE).is_none()
        || models::installed(models::TRANSCRIBER_DIR).is_none()
        || !models::tool("espeak-ng")
    {
        return;
    }
    let models = models::dir();
    let data = tempfile::tempdir().expect("temp dir");
    let server = common::start_with(
        data.path(),
        &[("ASSAY_MODELS_DIR", models.display().to_string())],
    )
    .await;

    let demo = tokio::process::Command::new(env!("CARGO_BIN_EXE_assay"))
        .args(["demo", "--url", &server.base, "--key", common::KEY])
        .output()
        .await
        .expect("assay demo runs");
    let stdout = String::from_utf8_lossy(&demo.stdout);
    println!("{stdout}");
    assert!(
        demo.status.success(),
        "demo failed: {stdout}\n{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let run_id = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Run ")?.split_whitespace().next())
        .expect("the demo names its run")
        .to_string();
    // The metrics table and the URLs to inspect the run.
    assert!(stdout.contains("± stderr"), "{stdout}");
    assert!(
        stdout.contains(&format!("/api/v1/llm/evals/runs/{run_id}/samples")),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("/ui/runs/{run_id}")), "{stdout}");

    let api = common::api(&server);
    let run = api.get(&format!("/api/v1/llm/evals/runs/{run_id}")).await;
    assert_eq!(run["status"], "completed", "{run}");
    let counts = &run["request_counts"];
    assert_eq!(counts["failed"], 0, "{run}");
    assert_eq!(counts["completed"], counts["total"], "{run}");

    let samples = api.samples(&run_id).await;
    assert_eq!(Some(samples.len() as i64), counts["total"].as_i64());
    let mut tasks = std::collections::BTreeSet::new();
    for s in &samples {
        assert_eq!(s["status"], "completed", "{s}");
        assert_eq!(s["model"], "auto", "{s}");
        if s["task_id"] != "speech" {
            assert!(s["output_tokens"].as_i64().unwrap_or(0) > 0, "{s}");
        }
        tasks.insert(s["task_id"].as_str().unwrap_or_default().to_string());
    }
    assert_eq!(
        tasks.into_iter().collect::<Vec<_>>(),
        [
            "arithmetic",
            "definitions",
            "factual_qa",
            "multiple_choice",
            "speech"
        ]
    );
    // The spoken sentences (espeak-ng's robotic voice) transcribed in-process by Moonshine:
    // measured 12 word errors in 52 (0.23; "jumped" for "jumps", "hoggum" for "autumn", …);
    // transcripts unrelated to the audio would be near 1.
    let wer = &run["metrics"]["by_model"]["auto"]["speech"]["metrics"]["wer_corpus"]["mean"];
    assert!(wer.as_f64().unwrap_or(1.0) <= 0.35, "{run}");
    // The definitions are graded by the local embedding model: a cosine per sample, and a
    // real answer resembles the reference more than unrelated text does (MiniLM gives
    // unrelated sentences a cosine near 0).
    for s in samples.iter().filter(|s| s["task_id"] == "definitions") {
        assert_eq!(s["judge"]["type"], "embedding_similarity", "{s}");
        let cosine = s["scores"]["cosine"].as_f64().expect("cosine");
        assert!((-1.0..=1.0).contains(&cosine), "{s}");
    }
    let cosine = &run["metrics"]["by_model"]["auto"]["definitions"]["metrics"]["cosine"]["mean"];
    assert!(cosine.as_f64().unwrap_or(0.0) >= 0.3, "{run}");
    // A real model answers most short factual questions (SmolLM2-135M: about 0.9); noise
    // would not.
    let qa = &run["metrics"]["by_model"]["auto"]["factual_qa"]["metrics"]["contains"]["mean"];
    assert!(qa.as_f64().unwrap_or(0.0) >= 0.5, "{run}");
    let answered = samples
        .iter()
        .filter(|s| !s["output_text"].as_str().unwrap_or("").trim().is_empty())
        .count();
    assert!(
        answered * 10 >= samples.len() * 9,
        "{answered} of {}",
        samples.len()
    );
}
