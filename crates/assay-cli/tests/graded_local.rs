//! Model-graded and embedding tasks end to end on the real local models: `assay serve` with
//! no endpoint configured, so `auto` is SmolLM2-135M-Instruct for generation and judging and
//! all-MiniLM-L6-v2 for embeddings. One suite holds an LLM-judge task, a semantic-similarity
//! task and embedding tasks of every kind; the run must complete with
//! every embedding sample scored and sensible MTEB-style numbers from the real embedder.
//!
//! Skips without the reference models (see `scripts/install-models`) unless
//! `ASSAY_REQUIRE_MODELS=1`.

mod common;

use assay_testkit::models;
use serde_json::{json, Value};

fn jsonl(rows: &[Value]) -> String {
    rows.iter().map(|r| format!("{r}\n")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graded_and_embedding_tasks_run_on_the_local_models() {
    if models::installed(models::GENERATOR_FILE).is_none()
        || models::installed(models::EMBEDDER_DIR).is_none()
    {
        return;
    }
    let data = tempfile::tempdir().expect("temp dir");
    let server = common::start_with(
        data.path(),
        &[("ASSAY_MODELS_DIR", models::dir().display().to_string())],
    )
    .await;
    let api = common::api(&server);

    let qa = api
        .upload(
            "qa.jsonl",
            jsonl(&[
                json!({"question": "What is the capital of France?", "answer": "Paris"}),
                json!({"question": "How many legs does a spider have?", "answer": "Eight"}),
            ]),
        )
        .await;
    let sts = api
        .upload(
            "sts.jsonl",
            jsonl(&[
                json!({"sentence1": "A man is eating food.", "sentence2": "A man is eating a piece of bread.", "score": 4.2}),
                json!({"sentence1": "A woman is playing the violin.", "sentence2": "A woman plays a violin.", "score": 5.0}),
                json!({"sentence1": "The cat sleeps on the sofa.", "sentence2": "A child rides a bicycle downhill.", "score": 0.0}),
                json!({"sentence1": "Stock markets fell sharply today.", "sentence2": "Shares dropped a lot on the exchange today.", "score": 4.0}),
                json!({"sentence1": "A dog runs in the park.", "sentence2": "The weather is cold in winter.", "score": 0.4}),
            ]),
        )
        .await;
    let sport = [
        "The striker scored twice in the second half.",
        "The tennis final went to five sets.",
        "Our team won the basketball championship.",
        "The goalkeeper saved a penalty in extra time.",
        "She ran the marathon in under three hours.",
        "The cyclist won the mountain stage.",
    ];
    let cooking = [
        "Simmer the sauce until it thickens.",
        "Knead the dough and let it rise for an hour.",
        "Roast the vegetables with olive oil and garlic.",
        "Whisk the eggs with sugar until pale.",
        "Season the soup with salt and pepper.",
        "Bake the cake at 180 degrees for forty minutes.",
    ];
    let rows = |texts: &[&str], label: &str| -> Vec<Value> {
        texts
            .iter()
            .map(|t| json!({"text": t, "label": label}))
            .collect()
    };
    let mut train = rows(&sport[..4], "sport");
    train.extend(rows(&cooking[..4], "cooking"));
    let mut test = rows(&sport[4..], "sport");
    test.extend(rows(&cooking[4..], "cooking"));
    let train = api.upload("train.jsonl", jsonl(&train)).await;
    let test = api.upload("test.jsonl", jsonl(&test)).await;
    let queries = api
        .upload(
            "queries.jsonl",
            jsonl(&[
                json!({"_id": "q1", "text": "How do volcanoes erupt?"}),
                json!({"_id": "q2", "text": "What do pandas eat?"}),
                json!({"_id": "q3", "text": "How is bread made?"}),
            ]),
        )
        .await;
    let corpus = api
        .upload(
            "corpus.jsonl",
            jsonl(&[
                json!({"_id": "d1", "title": "Volcano", "text": "Magma rises through the crust and bursts out as lava and ash."}),
                json!({"_id": "d2", "title": "Giant panda", "text": "Pandas feed almost entirely on bamboo shoots and leaves."}),
                json!({"_id": "d3", "title": "Bread", "text": "Flour, water and yeast are mixed, kneaded, left to rise and baked."}),
                json!({"_id": "d4", "title": "Tides", "text": "The moon's gravity pulls the oceans, causing high and low tides."}),
                json!({"_id": "d5", "title": "Chess", "text": "Each player starts with sixteen pieces on an eight by eight board."}),
            ]),
        )
        .await;
    let qrels = api
        .upload(
            "qrels.jsonl",
            jsonl(&[
                json!({"query-id": "q1", "corpus-id": "d1", "score": 1}),
                json!({"query-id": "q2", "corpus-id": "d2", "score": 1}),
                json!({"query-id": "q3", "corpus-id": "d3", "score": 1}),
            ]),
        )
        .await;
    // Multilabel: sport, cooking, or both.
    let both = [
        "The team ate pasta with tomato sauce before the match.",
        "The cyclist baked energy bars for the race.",
        "After the football game they grilled sausages.",
        "The tennis player cooked rice and vegetables after training.",
    ];
    let mut ml_train = rows(&sport[..4], "x");
    for r in &mut ml_train {
        r["label"] = json!(["sport"]);
    }
    for t in &cooking[..4] {
        ml_train.push(json!({"text": t, "label": ["cooking"]}));
    }
    for t in &both[..3] {
        ml_train.push(json!({"text": t, "label": ["sport", "cooking"]}));
    }
    let ml_test = vec![
        json!({"text": sport[4], "label": ["sport"]}),
        json!({"text": cooking[4], "label": ["cooking"]}),
        json!({"text": both[3], "label": ["sport", "cooking"]}),
    ];
    let ml_train = api.upload("ml_train.jsonl", jsonl(&ml_train)).await;
    let ml_test = api.upload("ml_test.jsonl", jsonl(&ml_test)).await;
    let top_ranked = api
        .upload(
            "top.jsonl",
            jsonl(&[
                json!({"query-id": "q1", "corpus-ids": ["d4", "d5", "d1"]}),
                json!({"query-id": "q2", "corpus-ids": ["d2", "d3"]}),
                json!({"query-id": "q3", "corpus-ids": ["d1", "d3", "d4"]}),
            ]),
        )
        .await;
    let suite = api
        .post(
            "/api/v1/llm/evals/suites",
            &json!({"name": "graded local", "manifest": {"tasks": [
                {"id": "judge", "type": "llm_judge", "dataset": {"file_id": qa},
                 "prompt_template": "Answer briefly: {{question}}", "target_template": "{{answer}}",
                 "output_extraction": {"type": "take_first"},
                 "metadata": {"judge": {"max_output_tokens": 96, "parse_retries": 1}}},
                {"id": "similar", "type": "semantic_similarity", "dataset": {"file_id": qa},
                 "prompt_template": "Answer briefly: {{question}}", "target_template": "{{answer}}",
                 "output_extraction": {"type": "take_first"}},
                {"id": "sts", "type": "embedding", "dataset": {"file_id": sts}, "embedding": {"kind": "sts"}},
                {"id": "topic", "type": "embedding", "dataset": {"file_id": test},
                 "embedding": {"kind": "classification", "train_dataset": {"file_id": train}, "samples_per_label": 4, "n_experiments": 3}},
                {"id": "search", "type": "embedding", "dataset": {"file_id": queries},
                 "embedding": {"kind": "retrieval", "corpus_dataset": {"file_id": corpus}, "qrels_dataset": {"file_id": qrels}, "k_values": [1, 3]}},
                {"id": "tags", "type": "embedding", "dataset": {"file_id": ml_test},
                 "embedding": {"kind": "multilabel_classification", "train_dataset": {"file_id": ml_train}, "samples_per_label": 8, "n_experiments": 2}},
                {"id": "rerank", "type": "embedding", "dataset": {"file_id": queries},
                 "embedding": {"kind": "reranking", "corpus_dataset": {"file_id": corpus}, "qrels_dataset": {"file_id": qrels},
                               "top_ranked_dataset": {"file_id": top_ranked}, "k_values": [1]}}
            ]}}),
        )
        .await;
    let run = api
        .post(
            "/api/v1/llm/evals/runs",
            &json!({"suite_id": suite["id"], "models": ["auto"],
                    "generation": {"max_gen_toks": 24, "do_sample": false, "until": ["\n"]}}),
        )
        .await;
    let run_id = run["id"].as_str().expect("run id").to_string();
    let run = api
        .wait(&run_id, |r| {
            ["completed", "failed", "cancelled"].contains(&r["status"].as_str().unwrap_or(""))
        })
        .await;
    assert_eq!(run["status"], "completed", "{run}");
    let samples = api.samples(&run_id).await;
    let metric = |model: &str, task: &str, id: &str| {
        run["metrics"]["by_model"][model][task]["metrics"][id]["mean"]
            .as_f64()
            .unwrap_or(f64::NAN)
    };

    // The judge (SmolLM2-135M itself) grades each answer or, when its verdict cannot be read,
    // fails the sample as a judge error — never anything else. (A model this small rarely
    // follows the verdict format; the path is what is under test here.)
    for s in samples.iter().filter(|s| s["task_id"] == "judge") {
        match s["status"].as_str() {
            Some("completed") => {
                let score = s["scores"]["score"].as_f64().expect("score");
                assert!((1.0..=10.0).contains(&score), "{s}");
                assert_eq!(s["judge"]["type"], "llm_judge", "{s}");
                assert!(s["judge"]["prompt"]
                    .as_str()
                    .unwrap_or("")
                    .contains("[Answer to grade]"));
            }
            _ => assert_eq!(s["error"]["type"], "judge_parse_error", "{s}"),
        }
    }
    let graded = samples
        .iter()
        .filter(|s| s["task_id"] == "judge" && s["status"] == "completed")
        .count();
    println!("judge: {graded} of 2 verdicts read");
    for s in samples.iter().filter(|s| s["task_id"] == "judge") {
        println!(
            "  output {:?} → {}",
            s["output_text"],
            if s["status"] == "completed" {
                &s["judge"]["output"]
            } else {
                &s["error"]["judge_output"]
            }
        );
    }
    for s in samples.iter().filter(|s| s["task_id"] == "similar") {
        assert_eq!(s["status"], "completed", "{s}");
        assert!(s["scores"]["cosine"].is_number(), "{s}");
    }
    // Embedding tasks: every sample scored under the embedding model.
    for s in samples.iter().filter(|s| {
        ["sts", "topic", "search", "tags", "rerank"].contains(&s["task_id"].as_str().unwrap_or(""))
    }) {
        assert_eq!(s["status"], "completed", "{s}");
        assert_eq!(s["model"], "auto", "{s}");
    }
    // all-MiniLM-L6-v2 ranks these easy pairs, topics and documents correctly.
    let spearman = metric("auto", "sts", "spearman");
    assert!(spearman >= 0.7, "spearman {spearman}: {}", run["metrics"]);
    assert!(
        metric("auto", "topic", "accuracy") >= 0.75,
        "{}",
        run["metrics"]
    );
    assert!(
        metric("auto", "search", "ndcg_at_1") >= 0.99,
        "{}",
        run["metrics"]
    );
}
