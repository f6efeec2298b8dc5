//! Model-graded tasks over HTTP against the fake model server: semantic similarity through
//! the embeddings endpoint, LLM judges (single and pairwise, unreadable verdicts, judge
//! errors), and the five kinds of embedding tasks.

mod common;

use common::{assert_error, by_index, metric, TestServer};
use serde_json::{json, Value};

fn close(a: &Value, b: f64) -> bool {
    a.as_f64().is_some_and(|a| (a - b).abs() < 1e-9)
}

/// Cosine of two texts under the fake server's default embedding.
fn fake_cosine(a: &str, b: &str) -> f64 {
    use assay_testkit::embed::embed;
    use assay_testkit::EmbeddingsMode;
    let (a, b) = (
        embed(a, EmbeddingsMode::BagOfWords, 64),
        embed(b, EmbeddingsMode::BagOfWords, 64),
    );
    a.iter()
        .zip(&b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum()
}

#[tokio::test]
async fn semantic_similarity_scores_cosine_and_pass_rate() {
    let server = TestServer::start().await;
    let file = server
        .upload_jsonl(
            "sim.jsonl",
            &[
                json!({"q": "Where? [[answer:the red house]]", "a": "the red house"}),
                json!({"q": "Where? [[answer:blue car]]", "a": "the red house"}),
                json!({"q": "Where? [[answer:Answer: the red house]]", "a": "the red house"}),
            ],
        )
        .await;
    let suite = server
        .create_suite(json!({"tasks": [{
            "id": "sim", "type": "semantic_similarity", "dataset": {"file_id": file},
            "prompt_template": "{{q}}", "target_template": "{{a}}",
            "metadata": {"pass_threshold": 0.9}
        }]}))
        .await;
    let (status, body) = server
        .post(
            "/api/v1/llm/evals/runs",
            &json!({"suite_id": suite, "models": ["fake"]}),
        )
        .await;
    // No `auto` embedding model in this registry: the run must name one.
    assert_error(status, &body, 400, "embedding_model");
    let run = server
        .run_to_end(
            &json!({"suite_id": suite, "models": ["fake"], "embedding_model": "fake-embeddings"}),
        )
        .await;
    assert_eq!(run["status"], "completed", "{run}");
    let samples = server.all_samples(run["id"].as_str().unwrap(), "").await;
    let samples = by_index(&samples);
    // The answer and the target went through the fake's bag-of-words embedding.
    let cosines: Vec<f64> = samples
        .iter()
        .map(|s| s["scores"]["cosine"].as_f64().unwrap())
        .collect();
    let expected: Vec<f64> = ["the red house", "blue car", "Answer: the red house"]
        .iter()
        .map(|answer| fake_cosine(answer, "the red house"))
        .collect();
    for (got, want) in cosines.iter().zip(&expected) {
        assert!((got - want).abs() < 1e-6, "{cosines:?} vs {expected:?}");
    }
    assert!((cosines[0] - 1.0).abs() < 1e-6);
    assert!(cosines[2] > 0.8 && cosines[2] < 0.9, "{cosines:?}");
    let passes: Vec<f64> = samples
        .iter()
        .map(|s| s["scores"]["pass_rate"].as_f64().unwrap())
        .collect();
    assert_eq!(passes, [1.0, 0.0, 0.0]);
    assert_eq!(samples[0]["judge"]["type"], "embedding_similarity");
    assert_eq!(samples[0]["judge"]["model"], "fake-embeddings");
    let mean = (cosines.iter().sum::<f64>()) / 3.0;
    assert!(close(&metric(&run, "fake", "sim", "cosine")["mean"], mean));
    assert!(close(
        &metric(&run, "fake", "sim", "pass_rate")["mean"],
        1.0 / 3.0
    ));
    assert!(metric(&run, "fake", "sim", "pass_rate")["stderr"].is_number());
}

#[tokio::test]
async fn llm_judges_grade_with_their_own_prompt_and_fail_on_unreadable_verdicts() {
    let server = TestServer::start().await;
    let file = server
        .upload_jsonl(
            "judge.jsonl",
            &[
                json!({"q": "Capital of France? [[answer:Paris]]", "a": "Paris", "verdict": "[[answer:{\"reasoning\": \"right\", \"score\": 9}]]"}),
                json!({"q": "Capital of Spain? [[answer:Lisbon]]", "a": "Madrid", "verdict": "[[answer:Wrong city.\nScore: 2]]"}),
                json!({"q": "Capital of Italy? [[answer:Rome]]", "a": "Rome", "verdict": "[[answer:{\"winner\": \"A\"}]]"}),
                json!({"q": "Capital of Peru? [[answer:Lima]]", "a": "Lima", "verdict": "[[status:400]]"}),
            ],
        )
        .await;
    // The custom template routes each row's verdict to the fake judge through a directive.
    let template = "Grade {{ output }} against {{ target }}. {{ row.verdict }}";
    let suite = server
        .create_suite(json!({"tasks": [
            {"id": "graded", "type": "llm_judge", "dataset": {"file_id": file},
             "prompt_template": "{{q}}", "target_template": "{{a}}",
             "metadata": {"judge": {"prompt_template": template, "parse_retries": 1}}},
            {"id": "default_prompt", "type": "llm_judge", "dataset": {"file_id": file, "max_rows": 1},
             "prompt_template": "{{q}}", "target_template": "{{a}}"},
            {"id": "pairwise", "type": "llm_judge", "dataset": {"file_id": file, "max_rows": 2},
             "prompt_template": "{{q}}", "target_template": "{{a}}",
             "metadata": {"judge": {"mode": "pairwise", "prompt_template": "A={{answer_a}} B={{answer_b}} [[answer:Winner: A]]"}}}
        ]}))
        .await;
    let run = server.run_to_end(&json!({"suite_id": suite, "models": ["fake"], "judge_model": "fake-responses", "grader_concurrency": 2}),
    )
    .await;
    assert_eq!(run["status"], "completed", "{run}");
    let run_id = run["id"].as_str().unwrap();

    let graded = server.all_samples(run_id, "&task_id=graded").await;
    let graded = by_index(&graded);
    assert_eq!(graded[0]["status"], "completed");
    assert_eq!(graded[0]["scores"]["score"], 9.0);
    assert_eq!(graded[0]["scores"]["pass_rate"], 1.0);
    let judge = &graded[0]["judge"];
    assert_eq!(judge["type"], "llm_judge");
    assert_eq!(judge["model"], "fake-responses");
    assert_eq!(judge["reasoning"], "right");
    assert_eq!(
        judge["prompt"],
        "Grade Paris against Paris. [[answer:{\"reasoning\": \"right\", \"score\": 9}]]"
    );
    assert!(judge["usage"]["input_tokens"].as_u64().unwrap() > 0);
    assert_eq!(graded[1]["scores"]["score"], 2.0);
    assert_eq!(graded[1]["scores"]["pass_rate"], 0.0);
    assert_eq!(graded[1]["judge"]["reasoning"], "Wrong city.");
    // A verdict with no score is asked again (parse_retries: 1), then fails the sample.
    assert_eq!(graded[2]["status"], "failed");
    assert_eq!(graded[2]["error"]["type"], "judge_parse_error");
    assert_eq!(graded[2]["error"]["judge_output"], "{\"winner\": \"A\"}");
    assert_eq!(
        server
            .models
            .calls_for("Grade Rome against Rome. [[answer:{\"winner\": \"A\"}]]"),
        2
    );
    // A judge call that fails is the gateway's error, marked as the grading stage.
    assert_eq!(graded[3]["status"], "failed");
    assert_eq!(graded[3]["error"]["stage"], "grading");
    assert_eq!(graded[3]["error"]["type"], "bad_request");
    // Failed samples are excluded from the means.
    assert!(close(&metric(&run, "fake", "graded", "score")["mean"], 5.5));
    assert!(close(
        &metric(&run, "fake", "graded", "pass_rate")["mean"],
        0.5
    ));
    assert_eq!(metric(&run, "fake", "graded", "score")["n"], 2);
    assert_eq!(
        run["metrics"]["by_model"]["fake"]["graded"]["samples"]["failed"],
        2
    );

    // The default prompt shows the task, the reference and the answer, and asks for JSON.
    // The fake judge echoes the task's own `[[answer:Paris]]`: an unreadable verdict, asked
    // 1 + 2 (default parse_retries) times.
    let default = server.all_samples(run_id, "&task_id=default_prompt").await;
    assert_eq!(default[0]["status"], "failed");
    assert_eq!(default[0]["error"]["type"], "judge_parse_error");
    let sent = server
        .models
        .requests()
        .recent
        .into_iter()
        .filter(|r| r.prompt.contains("[Answer to grade]"))
        .collect::<Vec<_>>();
    assert_eq!(sent.len(), 3, "{sent:?}");
    let text = &sent[0].prompt;
    assert!(
        text.contains("[Task]\nCapital of France? [[answer:Paris]]"),
        "{text}"
    );
    assert!(text.contains("[Reference answer]\nParis"), "{text}");
    assert!(text.contains("\"score\": <number from 1 to 10>"), "{text}");

    // Pairwise: the candidate is A on even rows and B on odd ones; the judge always says A.
    let pairwise = server.all_samples(run_id, "&task_id=pairwise").await;
    let pairwise = by_index(&pairwise);
    assert_eq!(pairwise[0]["judge"]["candidate_position"], "A");
    assert_eq!(pairwise[0]["judge"]["scale"], json!([0.0, 1.0]));
    assert_eq!(graded[0]["judge"]["scale"], json!([1.0, 10.0]));
    assert_eq!(pairwise[0]["scores"]["score"], 1.0);
    assert_eq!(pairwise[1]["judge"]["candidate_position"], "B");
    assert_eq!(pairwise[1]["judge"]["winner"], "A");
    assert_eq!(pairwise[1]["scores"]["score"], 0.0);
    assert_eq!(
        pairwise[1]["judge"]["prompt"],
        "A=Madrid B=Lisbon [[answer:Winner: A]]"
    );
}

#[tokio::test]
async fn judge_settings_are_checked_when_the_suite_is_created() {
    let server = TestServer::start().await;
    let file = server.upload_jsonl("d.jsonl", &[json!({"q": "x"})]).await;
    for (metadata, path) in [
        (
            json!({"judge": {"scale": [10, 1]}}),
            "manifest.tasks[0].metadata.judge.scale",
        ),
        (
            json!({"judge": {"mode": "best"}}),
            "manifest.tasks[0].metadata.judge.mode",
        ),
        (
            json!({"pass_threshold": 50}),
            "manifest.tasks[0].metadata.pass_threshold",
        ),
        (
            json!({"judge": {"prompt_template": "{% if %}"}}),
            "manifest.tasks[0].metadata.judge.prompt_template",
        ),
    ] {
        let (status, body) = server
            .post(
                "/api/v1/llm/evals/suites",
                &json!({"name": "j", "manifest": {"tasks": [{"id": "j", "type": "llm_judge", "dataset": {"file_id": file}, "metadata": metadata}]}}),
            )
            .await;
        assert_error(status, &body, 400, path);
    }
    let (status, body) = server
        .post(
            "/api/v1/llm/evals/suites",
            &json!({"name": "s", "manifest": {"tasks": [{"id": "s", "type": "semantic_similarity", "dataset": {"file_id": file}, "metadata": {"pass_threshold": 2}}]}}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        "manifest.tasks[0].metadata.pass_threshold",
    );
}

/// Uploads JSONL rows and returns a file dataset for them.
async fn dataset(server: &TestServer, name: &str, rows: &[Value]) -> Value {
    json!({"file_id": server.upload_jsonl(name, rows).await})
}

#[tokio::test]
async fn embedding_tasks_of_every_kind_run_end_to_end() {
    let server = TestServer::start().await;
    let sts = dataset(
        &server,
        "sts.jsonl",
        &[
            json!({"sentence1": "a cat sat", "sentence2": "a cat sat", "score": 5}),
            json!({"sentence1": "a cat sat", "sentence2": "a cat ran", "score": 3}),
            json!({"sentence1": "a cat sat", "sentence2": "dogs bark loudly", "score": 0}),
        ],
    )
    .await;
    // Texts made of each label's own words: bag-of-words vectors separate them perfectly.
    let text = |label: &str, i: usize| match label {
        "sport" => format!("football match goal team {i}"),
        _ => format!("election vote parliament minister {i}"),
    };
    let train_rows: Vec<Value> = (0..12)
        .map(|i| {
            let label = if i % 2 == 0 { "sport" } else { "politics" };
            json!({"text": text(label, i), "label": label})
        })
        .collect();
    let test_rows: Vec<Value> = (0..6)
        .map(|i| {
            let label = if i % 3 == 0 { "politics" } else { "sport" };
            json!({"text": text(label, 100 + i), "label": label})
        })
        .collect();
    let train = dataset(&server, "train.jsonl", &train_rows).await;
    let test = dataset(&server, "test.jsonl", &test_rows).await;
    let ml_train_rows: Vec<Value> = (0..12)
        .map(|i| match i % 3 {
            0 => json!({"text": format!("football goal {i}"), "label": ["sport"]}),
            1 => json!({"text": format!("election vote {i}"), "label": ["politics"]}),
            _ => json!({"text": format!("football goal election vote {i}"), "label": ["sport", "politics"]}),
        })
        .collect();
    let ml_train = dataset(&server, "ml_train.jsonl", &ml_train_rows).await;
    let ml_test = dataset(
        &server,
        "ml_test.jsonl",
        &[
            json!({"text": "football goal", "label": ["sport"]}),
            json!({"text": "election vote", "label": ["politics"]}),
        ],
    )
    .await;
    let queries = dataset(
        &server,
        "queries.jsonl",
        &[
            json!({"_id": "q1", "text": "apple orchard harvest"}),
            json!({"_id": "q2", "text": "river boat trip"}),
            json!({"_id": "q3", "text": "no judgements here"}),
        ],
    )
    .await;
    let corpus = dataset(
        &server,
        "corpus.jsonl",
        &[
            json!({"_id": "d1", "title": "Apple", "text": "orchard harvest in autumn"}),
            json!({"_id": "d2", "title": "", "text": "river boat trip downstream"}),
            json!({"_id": "d3", "text": "mountain hiking"}),
            json!({"_id": "d4", "text": "apple pie recipe"}),
        ],
    )
    .await;
    let qrels = dataset(
        &server,
        "qrels.jsonl",
        &[
            json!({"query-id": "q1", "corpus-id": "d1", "score": 2}),
            json!({"query-id": "q1", "corpus-id": "d4", "score": 1}),
            json!({"query-id": "q2", "corpus-id": "d3", "score": 1}),
        ],
    )
    .await;
    let top_ranked = dataset(
        &server,
        "top.jsonl",
        &[
            json!({"query-id": "q1", "corpus-ids": ["d3", "d4"]}),
            json!({"query-id": "q2", "corpus-ids": ["d2", "d3"]}),
        ],
    )
    .await;
    let suite = server
        .create_suite(json!({"tasks": [
            {"id": "sts", "type": "embedding", "dataset": sts, "embedding": {"kind": "sts"}},
            {"id": "cls", "type": "embedding", "dataset": test,
             "embedding": {"kind": "classification", "train_dataset": train, "samples_per_label": 4, "n_experiments": 3}},
            {"id": "ml", "type": "embedding", "dataset": ml_test,
             "embedding": {"kind": "multilabel_classification", "train_dataset": ml_train, "samples_per_label": 4, "n_experiments": 2}},
            {"id": "ret", "type": "embedding", "dataset": queries,
             "embedding": {"kind": "retrieval", "corpus_dataset": corpus, "qrels_dataset": qrels, "k_values": [1, 3]}},
            {"id": "rr", "type": "embedding", "dataset": queries,
             "embedding": {"kind": "reranking", "corpus_dataset": corpus, "qrels_dataset": qrels,
                           "top_ranked_dataset": top_ranked, "k_values": [1]}}
        ]}))
        .await;
    let run = server
        .run_to_end(
            &json!({"suite_id": suite, "models": ["fake"], "embedding_model": "fake-embeddings"}),
        )
        .await;
    assert_eq!(run["status"], "completed", "{run}");
    let run_id = run["id"].as_str().unwrap();
    // One sample per eval row, under the embedding model, none generated.
    assert_eq!(run["request_counts"]["total"], 3 + 6 + 2 + 3 + 3);
    assert_eq!(run["request_counts"]["failed"], 0);
    let m = "fake-embeddings";

    // STS: cosines 1, 2/3, 0 against gold 5, 3, 0 → perfectly rank-correlated.
    assert!(
        close(&metric(&run, m, "sts", "spearman")["mean"], 1.0),
        "{}",
        run["metrics"]
    );
    assert_eq!(metric(&run, m, "sts", "spearman")["aggregation"], "task");
    let pearson = metric(&run, m, "sts", "pearson")["mean"].as_f64().unwrap();
    assert!(pearson > 0.9 && pearson < 1.0, "{pearson}");
    assert!(close(
        &metric(&run, m, "sts", "cosine")["mean"],
        (1.0 + 2.0 / 3.0) / 3.0
    ));
    assert!(close(&run["metrics"]["by_task"]["sts"]["spearman"], 1.0));

    // Classification: separable by words → every experiment gets every row right.
    assert!(
        close(&metric(&run, m, "cls", "accuracy")["mean"], 1.0),
        "{}",
        run["metrics"]
    );
    assert!(close(&metric(&run, m, "cls", "f1")["mean"], 1.0));
    assert!(close(&metric(&run, m, "cls", "ap")["mean"], 1.0));
    // Multilabel: kNN over few neighbours; the label sets are partly right.
    for id in ["accuracy", "f1", "lrap"] {
        let v = metric(&run, m, "ml", id)["mean"].as_f64().unwrap();
        assert!((0.5..=1.0).contains(&v), "{id} {v}");
    }

    // Retrieval: q1's best match is d1 (relevance 2), q2's relevant d3 shares no words.
    let ret = server.all_samples(run_id, "&task_id=ret").await;
    let ret = by_index(&ret);
    assert_eq!(ret[0]["model"], m);
    assert!(
        ret[0]["extracted_output"]
            .as_str()
            .unwrap()
            .starts_with("d1, d4"),
        "{}",
        ret[0]
    );
    assert_eq!(ret[0]["scores"]["ndcg_at_1"], 1.0);
    assert_eq!(ret[0]["scores"]["recall_at_3"], 1.0);
    assert_eq!(ret[1]["scores"]["mrr_at_1"], 0.0);
    // q3 has no judgements: not scored, so not in the means.
    assert_eq!(ret[2]["status"], "completed");
    assert_eq!(ret[2]["scores"], json!({}));
    assert_eq!(metric(&run, m, "ret", "ndcg_at_1")["n"], 2);
    assert!(close(&metric(&run, m, "ret", "ndcg_at_1")["mean"], 0.5));
    // Reranking only ranks each query's candidates: q1 → [d4, d3], q2 → [d2, d3].
    let rr = server.all_samples(run_id, "&task_id=rr").await;
    let rr = by_index(&rr);
    assert!(
        rr[0]["extracted_output"]
            .as_str()
            .unwrap()
            .starts_with("d4"),
        "{}",
        rr[0]
    );
    assert_eq!(rr[0]["scores"]["mrr_at_1"], 1.0);
    assert_eq!(rr[1]["scores"]["mrr_at_1"], 0.0);
}

#[tokio::test]
async fn embedding_tasks_enforce_max_texts_and_fail_on_embedding_errors() {
    let server = TestServer::start().await;
    let rows: Vec<Value> = (0..5)
        .map(|i| json!({"sentence1": format!("s {i}"), "sentence2": "t", "score": i}))
        .collect();
    let sts = dataset(&server, "sts.jsonl", &rows).await;
    let suite = server
        .create_suite(json!({"tasks": [
            {"id": "sts", "type": "embedding", "dataset": sts, "embedding": {"kind": "sts", "max_texts": 9}}
        ]}))
        .await;
    let run = server
        .run_to_end(
            &json!({"suite_id": suite, "models": ["fake"], "embedding_model": "fake-embeddings"}),
        )
        .await;
    assert_eq!(run["status"], "failed", "{run}");
    assert!(
        run["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_texts"),
        "{run}"
    );
    // Within the limit (5 rows = 10 texts) it runs.
    let run = server.run_to_end(&json!({"suite_id": suite, "models": ["fake"], "embedding_model": "fake-embeddings", "max_samples_per_task": 4}),
    )
    .await;
    assert_eq!(run["status"], "completed", "{run}");

    let broken = dataset(
        &server,
        "broken.jsonl",
        &[json!({"sentence1": "fine", "sentence2": "[[status:400]]", "score": 1})],
    )
    .await;
    let suite = server
        .create_suite(json!({"tasks": [
            {"id": "sts", "type": "embedding", "dataset": broken, "embedding": {"kind": "sts"}}
        ]}))
        .await;
    let run = server
        .run_to_end(
            &json!({"suite_id": suite, "models": ["fake"], "embedding_model": "fake-embeddings"}),
        )
        .await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["request_counts"]["failed"], 1);
    let samples = server.all_samples(run["id"].as_str().unwrap(), "").await;
    assert_eq!(samples[0]["error"]["stage"], "embedding");

    // An empty text cannot be embedded: the suite is refused, naming the row and the field.
    let empty = dataset(
        &server,
        "empty.jsonl",
        &[json!({"sentence1": "fine", "sentence2": "  ", "score": 1})],
    )
    .await;
    let (status, body) = server
        .post(
            "/api/v1/llm/evals/suites",
            &json!({"name": "empty", "manifest": {"tasks": [
                {"id": "sts", "type": "embedding", "dataset": empty, "embedding": {"kind": "sts"}}
            ]}}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["error"]["details"]["param"],
        "manifest.tasks[0].embedding.text2_column"
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("task sts row 0: column sentence2 is empty"),
        "{message}"
    );

    // An auxiliary dataset on the Hugging Face Hub that does not exist fails the run,
    // naming it.
    let queries = dataset(&server, "q.jsonl", &[json!({"_id": "q", "text": "x"})]).await;
    let qrels = dataset(
        &server,
        "qrels.jsonl",
        &[json!({"query-id": "q", "corpus-id": "d", "score": 1})],
    )
    .await;
    let suite = server
        .create_suite(json!({"tasks": [
            {"id": "ret", "type": "embedding", "dataset": queries,
             "embedding": {"kind": "retrieval", "corpus_dataset": {"path": "org/corpus"}, "qrels_dataset": qrels}}
        ]}))
        .await;
    let run = server
        .run_to_end(
            &json!({"suite_id": suite, "models": ["fake"], "embedding_model": "fake-embeddings"}),
        )
        .await;
    assert_eq!(run["status"], "failed", "{run}");
    let message = run["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("embedding.corpus_dataset") && message.contains("org/corpus"),
        "{message}"
    );
    // Too many cutoffs.
    let ks: Vec<i64> = (1..=21).collect();
    let (status, body) = server
        .post(
            "/api/v1/llm/evals/suites",
            &json!({"name": "k", "manifest": {"tasks": [
                {"id": "ret", "type": "embedding", "dataset": queries,
                 "embedding": {"kind": "retrieval", "corpus_dataset": queries, "qrels_dataset": qrels, "k_values": ks}}]}}),
        )
        .await;
    assert_error(status, &body, 400, "manifest.tasks[0].embedding.k_values");
}
