//! Transcription scoring: the built-in error rates `wer` and `cer`, their per-sample means and
//! corpus values, and their direction (lower is better).

mod common;

use common::{metric, TestServer};
use serde_json::{json, Value};

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

/// A short mono 16 kHz PCM WAV file: a tone whose pitch makes each clip different.
fn wav(pitch: f64) -> Vec<u8> {
    let rate = 16_000u32;
    let samples: Vec<i16> = (0..rate / 4)
        .map(|i| ((i as f64 * pitch * std::f64::consts::TAU / rate as f64).sin() * 8000.0) as i16)
        .collect();
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Serves `clip` at `/clip.wav` on loopback (404 elsewhere); returns the base URL.
async fn audio_server(clip: Vec<u8>) -> String {
    let app = axum::Router::new().route(
        "/clip.wav",
        axum::routing::get(move || {
            let clip = clip.clone();
            async move { ([(axum::http::header::CONTENT_TYPE, "audio/wav")], clip) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    base
}

#[tokio::test]
async fn transcription_tasks_read_every_audio_form_and_score_wer() {
    let server = TestServer::start().await;
    let (a, b, c) = (wav(220.0), wav(330.0), wav(440.0));
    server.models.set_transcript(&a, "hello world");
    server.models.set_transcript(&b, "good morning sir");
    server
        .models
        .set_transcript(&c, "[[status:500 times=1]] see you later");
    let base = audio_server(c.clone()).await;
    let rows = vec![
        json!({"audio": format!("data:audio/wav;base64,{}", b64(&a)), "sentence": "Hello, world!"}),
        json!({"audio": {"bytes": b64(&b), "path": "clips/b.wav"}, "sentence": "good morning"}),
        json!({"audio": format!("{base}/clip.wav"), "sentence": "see you later"}),
        json!({"audio": "not audio at all", "sentence": "x"}),
        json!({"audio": format!("{base}/missing.wav"), "sentence": "x"}),
    ];
    let file = server.upload_jsonl("asr.jsonl", &rows).await;
    let suite = server
        .create_suite(json!({"tasks": [{"id": "asr", "type": "transcription", "language": "en",
            "dataset": {"file_id": file, "audio_column": "audio"}, "target_template": "{{sentence}}"}]}))
        .await;

    // Candidates must transcribe.
    let (status, body) = server
        .post(
            "/api/v1/llm/evals/runs",
            &json!({"suite_id": suite, "models": ["fake"]}),
        )
        .await;
    common::assert_error(status, &body, 400, "models[0]");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("transcription"),
        "{body}"
    );

    let run = server
        .run_to_end(&json!({"suite_id": suite, "models": ["fake-asr"]}))
        .await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(
        run["request_counts"],
        json!({"total": 5, "completed": 3, "failed": 2})
    );
    let samples = common::by_index(&server.all_samples(run["id"].as_str().unwrap(), "").await)
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(samples[0]["output_text"], "hello world");
    // No prompt_template and no prompt-like column: a transcription's input is its audio.
    assert_eq!(samples[0]["prompt"], "");
    assert_eq!(
        samples[0]["scores"]["wer"], 0.0,
        "punctuation and case are normalized"
    );
    assert_eq!(samples[1]["scores"]["wer"], 0.5);
    assert_eq!(
        samples[2]["output_text"], "see you later",
        "a 500 is retried"
    );
    assert_eq!(samples[3]["error"]["type"], "audio_error", "{}", samples[3]);
    assert_eq!(
        samples[4]["error"]["type"], "audio_unavailable",
        "{}",
        samples[4]
    );
    let wer = metric(&run, "fake-asr", "asr", "wer");
    assert!(
        (wer["mean"].as_f64().unwrap() - 0.5 / 3.0).abs() < 1e-12,
        "{wer}"
    );
    assert_eq!(wer["higher_is_better"], false);
    // 1 edit over 2 + 2 + 3 reference words.
    let corpus = metric(&run, "fake-asr", "asr", "wer_corpus");
    assert!(
        (corpus["mean"].as_f64().unwrap() - 1.0 / 7.0).abs() < 1e-12,
        "{corpus}"
    );
    assert!(metric(&run, "fake-asr", "asr", "cer")["mean"].is_number());

    // Sample lists redact inline clips; E23 returns them whole from the stored row.
    let run_id = run["id"].as_str().unwrap();
    let listed = &samples[0]["dataset_row"]["audio"];
    assert!(listed.as_str().unwrap().contains("redacted"), "{listed}");
    assert!(samples[1]["dataset_row"]["audio"]["bytes"]
        .as_str()
        .unwrap()
        .contains("redacted"));
    let audio = |i: i64| format!("/api/v1/llm/evals/runs/{run_id}/samples/{i}/audio");
    let (status, clip) = server.get(&audio(0)).await;
    assert_eq!(status, 200, "{clip}");
    assert_eq!(clip["object"], "eval.sample.audio");
    assert_eq!(clip["audio"], format!("data:audio/wav;base64,{}", b64(&a)));
    assert_eq!(
        (clip["task_id"].as_str(), clip["model"].as_str()),
        (Some("asr"), Some("fake-asr"))
    );
    let (_, clip) = server.get(&audio(1)).await;
    assert_eq!(
        clip["audio"],
        format!("data:audio/wav;base64,{}", b64(&b)),
        "a Hugging Face Audio value"
    );
    let (_, clip) = server.get(&audio(2)).await;
    assert_eq!(clip["audio"], format!("{base}/clip.wav"));
    let (status, body) = server.get(&audio(9)).await;
    common::assert_error(status, &body, 404, "");
    let (status, body) = server.get(&audio(3)).await;
    common::assert_error(status, &body, 404, "");
    let (status, _) = server.get_as(&server.other_key, &audio(0)).await;
    assert_eq!(status, 404);

    // The model was asked in English, three clips once each (the one that failed first twice).
    let log = server.models.requests();
    let asked: Vec<&Value> = log
        .recent
        .iter()
        .filter(|r| r.endpoint == assay_testkit::Endpoint::Transcriptions)
        .map(|r| &r.body)
        .collect();
    assert_eq!(asked.len(), 4, "{asked:?}");
    assert!(asked
        .iter()
        .all(|b| b["language"] == "en" && b["model"] == "fake-whisper"));
}
