//! Transcription scoring: the built-in error rates `wer` and `cer`, their per-sample means and
//! corpus values, and their direction (lower is better).

mod common;

use common::{metric, TestServer};
use serde_json::json;

#[tokio::test]
async fn error_rates_report_means_and_corpus_values_lower_is_better() {
    let server = TestServer::start().await;
    // (answer, reference): 0 of 4 words wrong; 1 of 2 wrong; 2 of 2 wrong (+1 inserted word).
    let rows = [
        ("The cat sat down.", "the cat sat down"),
        ("hello there", "hello world"),
        ("a b c", "x y"),
    ];
    let data: Vec<_> = rows
        .iter()
        .map(|(answer, reference)| json!({"q": format!("say [[answer:{answer}]]"), "ref": reference}))
        .collect();
    let file = server.upload_jsonl("asr.jsonl", &data).await;
    let suite = server
        .create_suite(json!({"tasks": [{"id": "t", "type": "qa",
            "dataset": {"file_id": file}, "prompt_template": "{{q}}",
            "target_template": "{{ref}}", "metrics": [{"id": "wer"}, {"id": "cer"}]}]}))
        .await;
    let run = server
        .run_to_end(&json!({"suite_id": suite, "models": ["fake"]}))
        .await;
    assert_eq!(run["status"], "completed", "{run}");
    let wer = metric(&run, "fake", "t", "wer");
    // Per sample: 0/4, 1/2, 3/2 → mean 2/3; corpus: 4 edits over 8 reference words.
    assert!(
        (wer["mean"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-12,
        "{wer}"
    );
    assert_eq!(wer["higher_is_better"], false);
    let corpus = metric(&run, "fake", "t", "wer_corpus");
    assert_eq!(corpus["mean"], 0.5, "{corpus}");
    assert_eq!(corpus["aggregation"], "corpus");
    assert_eq!(corpus["edits"], 4);
    assert_eq!(corpus["reference_len"], 8);
    assert_eq!(corpus["higher_is_better"], false);
    let cer = metric(&run, "fake", "t", "cer_corpus");
    assert!(cer["mean"].as_f64().unwrap() > 0.0, "{cer}");
    assert_eq!(run["metrics"]["by_task"]["t"]["wer_corpus"], 0.5);
}
