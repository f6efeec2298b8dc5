//! Python graders and preprocessors over HTTP: every grader contract and both preprocessor
//! modes end to end in the sandbox, code checked at suite creation, and hostile graders that
//! must fail only their own samples while the server and other runs carry on.

mod common;

use common::{assert_error, by_index, metric, TestServer};
use serde_json::{json, Value};

/// Rows whose prompt makes the fake model answer `answer`.
fn qa_rows(answers: &[(&str, &str)]) -> Vec<Value> {
    answers
        .iter()
        .map(|(answer, target)| json!({"q": format!("Q [[answer:{answer}]]"), "a": target}))
        .collect()
}

const EXACT: &str = r#"
def grade(sample, item):
    return 1.0 if sample["extracted_output"].strip() == item["target"] else 0.0
"#;

#[tokio::test]
async fn sample_contract_scores_every_return_shape() {
    let server = TestServer::start().await;
    let data = server
        .upload_jsonl(
            "qa.jsonl",
            &qa_rows(&[("Paris", "Paris"), ("Rome", "Paris"), ("Oslo", "Oslo")]),
        )
        .await;
    let grader_file = server.upload("exact.py", EXACT.as_bytes()).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let task = |id: &str, grader: Value| {
        json!({"id": id, "type": "custom", "dataset": {"file_id": data},
               "prompt_template": "{{q}}", "target_template": "{{a}}", "grader": grader})
    };
    let suite = server
        .create_suite(json!({"tasks": [
            task("float", json!({"source": EXACT})),
            task("from_file", json!({"file_id": grader_file, "metric_id": "exact"})),
            task("named", json!({"source": EXACT, "metric_id": "right"})),
            task("bool", json!({"source": "def grade(sample, item):\n    return sample['output_text'] == item['a']\n"})),
            task("dict", json!({"source": "def grade(sample, item, ctx):\n    return {'len': len(sample['output_text']), 'first': sample['index'] == 0, 'task': ctx.info.task_id == 'dict'}\n"})),
            task("raises", json!({"source": "def grade(sample, item):\n    if sample['index'] == 1:\n        raise ValueError('no good ' + item['a'])\n    return 1\n"})),
            task("bad_return", json!({"source": "def grade(sample, item):\n    return ['not', 'a', 'score'] if sample['index'] == 2 else 0.5\n"})),
            {"id": "with_builtin", "type": "qa", "dataset": {"file_id": data},
             "prompt_template": "{{q}}", "target_template": "{{a}}",
             "metrics": [{"id": "exact_match"}, {"id": "score"}],
             "grader": {"source": "def grade(sample, item):\n    return sample['scores']['exact_match'] * 2\n"}},
        ]}))
        .await;
    let run = server
        .run_to_end(&json!({"suite_id": suite, "models": ["fake"]}))
        .await;
    assert_eq!(run["status"], "completed", "{run}");
    let third = 2.0 / 3.0;
    for (task, name) in [
        ("float", "score"),
        ("from_file", "exact"),
        ("named", "right"),
    ] {
        let m = metric(&run, "fake", task, name);
        assert!(
            (m["mean"].as_f64().unwrap() - third).abs() < 1e-9,
            "{task}: {m}"
        );
        assert_eq!(m["n"], 3);
    }
    assert!(
        (metric(&run, "fake", "bool", "score")["mean"]
            .as_f64()
            .unwrap()
            - third)
            .abs()
            < 1e-9
    );
    assert_eq!(
        metric(&run, "fake", "dict", "first")["mean"].as_f64(),
        Some(1.0 / 3.0)
    );
    assert_eq!(
        metric(&run, "fake", "dict", "task")["mean"].as_f64(),
        Some(1.0)
    );
    assert_eq!(
        metric(&run, "fake", "dict", "len")["mean"].as_f64(),
        Some(13.0 / 3.0)
    );
    assert_eq!(
        metric(&run, "fake", "with_builtin", "score")["mean"].as_f64(),
        Some(4.0 / 3.0)
    );
    assert_eq!(
        metric(&run, "fake", "with_builtin", "exact_match")["mean"].as_f64(),
        Some(third)
    );

    let run_id = run["id"].as_str().unwrap();
    let raised = server.all_samples(run_id, "&task_id=raises").await;
    let raised = by_index(&raised);
    assert_eq!(raised[0]["status"], "completed");
    assert_eq!(raised[1]["status"], "failed");
    let error = &raised[1]["error"];
    assert_eq!(error["type"], "grader_error", "{error}");
    assert_eq!(error["exception"], "ValueError");
    assert!(
        error["message"].as_str().unwrap().contains("no good Paris"),
        "{error}"
    );
    let traceback = error["traceback"].as_str().unwrap();
    assert!(traceback.contains("line 3, in grade"), "{traceback}");
    assert_eq!(
        run["metrics"]["by_model"]["fake"]["raises"]["samples"]["failed"],
        1
    );

    let bad = server.all_samples(run_id, "&task_id=bad_return").await;
    let bad = by_index(&bad);
    assert_eq!(bad[2]["status"], "failed");
    assert_eq!(bad[2]["error"]["type"], "grader_invalid_result");
    assert!(
        bad[2]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("a list"),
        "{}",
        bad[2]["error"]
    );
    assert_eq!(bad[0]["scores"]["score"], 0.5);
}

#[tokio::test]
async fn batch_contract_gives_per_sample_and_task_metrics() {
    let server = TestServer::start().await;
    let data = server
        .upload_jsonl(
            "labels.jsonl",
            &qa_rows(&[
                ("yes", "yes"),
                ("no", "yes"),
                ("no", "no"),
                ("yes", "no"),
                ("yes", "yes"),
            ]),
        )
        .await;
    // Macro-F1 over the task, plus per-sample correctness, from one call.
    let macro_f1 = r#"
def grade_batch(samples):
    labels = sorted({s["item"]["a"] for s in samples})
    f1s = []
    for label in labels:
        tp = sum(1 for s in samples if s["output_text"] == label and s["item"]["a"] == label)
        fp = sum(1 for s in samples if s["output_text"] == label and s["item"]["a"] != label)
        fn = sum(1 for s in samples if s["output_text"] != label and s["item"]["a"] == label)
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return {"samples": [s["output_text"] == s["item"]["a"] for s in samples],
            "metrics": {"macro_f1": sum(f1s) / len(f1s), "batch_size": len(samples)}}
"#;
    let suite = server
        .create_suite(json!({"tasks": [
            {"id": "f1", "type": "classification", "dataset": {"file_id": data},
             "prompt_template": "{{q}}", "target_template": "{{a}}",
             "grader": {"contract": "batch", "source": macro_f1, "metric_id": "correct"}},
            {"id": "only_task", "type": "custom", "dataset": {"file_id": data},
             "prompt_template": "{{q}}",
             "grader": {"contract": "batch", "source": "def grade_batch(samples, ctx):\n    return len(samples) / 10\n", "metric_id": "size"}},
            {"id": "per_sample_list", "type": "custom", "dataset": {"file_id": data},
             "prompt_template": "{{q}}",
             "grader": {"contract": "sample", "execution": "aggregate",
                        "source": "def grade_batch(samples):\n    return [s['index'] for s in samples]\n"}},
        ]}))
        .await;
    let run = server
        .run_to_end(&json!({"suite_id": suite, "models": ["fake", "fake-responses"]}))
        .await;
    assert_eq!(run["status"], "completed", "{run}");
    for model in ["fake", "fake-responses"] {
        // yes: tp 2, fp 1, fn 1 → 2/3; no: tp 1, fp 1, fn 1 → 1/2.
        let f1 = metric(&run, model, "f1", "macro_f1");
        assert!(
            (f1["mean"].as_f64().unwrap() - (2.0 / 3.0 + 0.5) / 2.0).abs() < 1e-9,
            "{f1}"
        );
        assert_eq!(f1["aggregation"], "task");
        assert_eq!(metric(&run, model, "f1", "batch_size")["mean"], 5.0);
        assert_eq!(
            metric(&run, model, "f1", "correct")["mean"].as_f64(),
            Some(0.6)
        );
        assert_eq!(metric(&run, model, "only_task", "size")["mean"], 0.5);
        assert_eq!(metric(&run, model, "per_sample_list", "score")["mean"], 2.0);
    }
    let samples = server
        .all_samples(run["id"].as_str().unwrap(), "&task_id=f1&model=fake")
        .await;
    assert!(samples.iter().all(|s| s["status"] == "completed"));
    let samples = by_index(&samples);
    assert_eq!(samples[1]["scores"]["correct"], 0.0);
    assert_eq!(samples[0]["scores"]["correct"], 1.0);
}

#[tokio::test]
async fn model_backed_graders_call_models_through_the_bridge() {
    let server = TestServer::start().await;
    let data = server
        .upload_jsonl("judge.jsonl", &qa_rows(&[("7", "x"), ("3", "x")]))
        .await;
    // The judge's answer is the candidate's answer (the fake repeats [[answer:…]]).
    let judge = r#"
def grade(sample, item, ctx):
    reply = ctx.responses_create(input=f"Rate it [[answer:{sample['output_text']}]]")
    vectors = ctx.embeddings_create(input=["a b", "a b"])
    same = vectors.data[0].embedding == vectors["data"][1]["embedding"]
    return {"rating": float(reply.output_text) / 10, "same_vectors": same}
"#;
    let greedy = "def grade(sample, item, ctx):\n    ctx.responses_create(input='one')\n    ctx.responses_create(input='two')\n    return 1\n";
    let denied = "def grade(sample, item, ctx):\n    try:\n        ctx.responses_create(input='hi')\n    except ModelCallError as e:\n        return {'denied': 'model_access_denied' in str(e)}\n    return {'denied': False}\n";
    let suite = server
        .create_suite(json!({"tasks": [
            {"id": "judged", "type": "llm_judge", "dataset": {"file_id": data}, "prompt_template": "{{q}}",
             "grader": {"contract": "model_backed", "source": judge}},
            {"id": "greedy", "type": "custom", "dataset": {"file_id": data}, "prompt_template": "{{q}}",
             "grader": {"contract": "model_backed", "source": greedy, "max_model_calls": 1}},
            {"id": "denied", "type": "custom", "dataset": {"file_id": data}, "prompt_template": "{{q}}",
             "grader": {"source": denied}},
        ]}))
        .await;
    let calls_before = server.models.requests().total;
    let run = server.run_to_end(&json!({"suite_id": suite, "models": ["fake"], "judge_model": "fake", "embedding_model": "fake-embeddings"}),
    )
    .await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(
        metric(&run, "fake", "judged", "rating")["mean"].as_f64(),
        Some(0.5)
    );
    assert_eq!(
        metric(&run, "fake", "judged", "same_vectors")["mean"].as_f64(),
        Some(1.0)
    );
    // The grader replaces the llm_judge type's own judging and metrics.
    assert!(
        metric(&run, "fake", "judged", "pass_rate").is_null(),
        "{run}"
    );
    assert_eq!(
        metric(&run, "fake", "denied", "denied")["mean"].as_f64(),
        Some(1.0)
    );
    let run_id = run["id"].as_str().unwrap();
    let judged = server.all_samples(run_id, "&task_id=judged").await;
    let calls = judged[0]["judge"]["model_calls"]
        .as_array()
        .expect("judge record");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["kind"], "responses");
    assert_eq!(calls[1]["kind"], "embeddings");
    // max_model_calls: 1 → the second call raises, failing the sample with the reason.
    let greedy = server.all_samples(run_id, "&task_id=greedy").await;
    for s in &greedy {
        assert_eq!(s["status"], "failed", "{s}");
        assert_eq!(s["error"]["exception"], "ModelCallError");
        assert!(
            s["error"]["message"]
                .as_str()
                .unwrap()
                .contains("max_model_calls"),
            "{}",
            s["error"]
        );
    }
    // 6 candidate calls, 2 judge + 2 embedding calls, 2 calls of the greedy grader.
    assert_eq!(server.models.requests().total - calls_before, 12);
}

#[tokio::test]
async fn preprocessors_rewrite_rows_before_rendering() {
    let server = TestServer::start().await;
    let data = server
        .upload_jsonl(
            "raw.jsonl",
            &[
                json!({"word": "alpha"}),
                json!({"word": "skip"}),
                json!({"word": "gamma"}),
            ],
        )
        .await;
    let row_pre = "def transform(row):\n    if row['word'] == 'skip':\n        return None\n    return {**row, 'q': 'Say [[answer:' + row['word'].upper() + ']]', 'a': row['word'].upper()}\n";
    let batch_pre = "def transform_batch(rows):\n    rows = [r for r in rows if r['word'] != 'skip']\n    return [{'q': f\"#{i} of {len(rows)} [[answer:{r['word']}]]\", 'a': r['word']} for i, r in enumerate(reversed(rows))]\n";
    // Rows are rewritten once even when they are also the task's few-shot pool: a second
    // pass through this stateful transform would drop every row.
    let once = "seen = set()\ncalls = []\ndef transform_batch(rows):\n    calls.append(1)\n    if len(calls) > 1:\n        raise RuntimeError('called twice')\n    out = []\n    for r in rows:\n        if r['word'] not in seen:\n            seen.add(r['word'])\n            out.append({'q': 'Say [[answer:' + r['word'] + ']]', 'a': r['word']})\n    return out\n";
    let suite = server
        .create_suite(json!({"tasks": [
            {"id": "own_fewshot", "type": "qa", "dataset": {"file_id": data},
             "prompt_template": "{{q}}", "target_template": "{{a}}", "num_fewshot": 1,
             "preprocess": {"contract": "batch", "source": once}},
            {"id": "rows", "type": "qa", "dataset": {"file_id": data},
             "prompt_template": "{{q}}", "target_template": "{{a}}",
             "preprocess": {"source": row_pre}, "metrics": [{"id": "exact_match"}]},
            {"id": "batch", "type": "qa", "dataset": {"file_id": data},
             "prompt_template": "{{q}}", "target_template": "{{a}}",
             "preprocess": {"contract": "batch", "source": batch_pre}, "metrics": [{"id": "exact_match"}]},
        ]}))
        .await;
    let run = server
        .run_to_end(&json!({"suite_id": suite, "models": ["fake"]}))
        .await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["request_counts"]["total"], 7);
    assert_eq!(metric(&run, "fake", "rows", "exact_match")["mean"], 1.0);
    assert_eq!(metric(&run, "fake", "batch", "exact_match")["mean"], 1.0);
    let run_id = run["id"].as_str().unwrap();
    let rows = server.all_samples(run_id, "&task_id=rows").await;
    let rows = by_index(&rows);
    assert_eq!(rows[0]["prompt"], "Say [[answer:ALPHA]]");
    assert_eq!(rows[1]["target"], "GAMMA");
    assert_eq!(rows[1]["dataset_row"]["word"], "gamma");
    let own = server.all_samples(run_id, "&task_id=own_fewshot").await;
    let own = by_index(&own);
    assert_eq!(own.len(), 3);
    // Row 0's example is another rewritten row.
    assert!(
        own[0]["prompt"]
            .as_str()
            .unwrap()
            .starts_with("Say [[answer:skip]]"),
        "{}",
        own[0]["prompt"]
    );
    let batch = server.all_samples(run_id, "&task_id=batch").await;
    let batch = by_index(&batch);
    assert_eq!(batch[0]["prompt"], "#0 of 2 [[answer:gamma]]");
    assert_eq!(batch[1]["target"], "alpha");

    // A preprocessor that raises fails the run with its traceback.
    let broken = server
        .create_suite(
            json!({"tasks": [{"id": "t", "type": "qa", "dataset": {"file_id": data},
            "prompt_template": "{{word}}",
            "preprocess": {"source": "def transform(row):\n    return {'n': 1 / 0}\n"}}]}),
        )
        .await;
    let run = server
        .run_to_end(&json!({"suite_id": broken, "models": ["fake"]}))
        .await;
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["error"]["type"], "preprocessor_error");
    let message = run["error"]["message"].as_str().unwrap();
    assert!(message.contains("ZeroDivisionError"), "{message}");
    assert!(message.contains("line 2, in transform"), "{message}");

    // Rows a preprocessor rewrites are checked when the run plans, with the wording suite
    // creation uses for uploaded rows, before any model call.
    let calls_before = server.models.requests().total;
    let renamed = server
        .create_suite(
            json!({"tasks": [{"id": "t", "type": "qa", "dataset": {"file_id": data},
            "prompt_template": "{{word}}",
            "preprocess": {"source": "def transform(row):\n    return {'wrod': row['word']}\n"}}]}),
        )
        .await;
    let run = server
        .run_to_end(&json!({"suite_id": renamed, "models": ["fake"]}))
        .await;
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["error"]["type"], "template_error");
    assert_eq!(
        run["error"]["message"],
        "task t row 0: prompt_template uses {{word}}, which the row does not have: \
         its columns are wrod; did you mean wrod?"
    );
    assert_eq!(server.models.requests().total, calls_before);
}

#[tokio::test]
async fn code_is_checked_when_the_suite_is_created() {
    let server = TestServer::start().await;
    let data = server
        .upload_jsonl("d.jsonl", &qa_rows(&[("a", "a")]))
        .await;
    let not_python = server
        .upload("grader.py", b"def grade(sample, item)\n    return 1\n")
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let cases = [
        (
            json!({"grader": {"source": "def grade(sample, item):\n    return (\n"}}),
            "manifest.tasks[0].grader.source",
            "line",
        ),
        (
            json!({"grader": {"source": "def score(sample, item):\n    return 1\n"}}),
            "manifest.tasks[0].grader.source",
            "grade(sample, item)",
        ),
        (
            json!({"grader": {"source": "def grade(sample):\n    return 1\n"}}),
            "manifest.tasks[0].grader.source",
            "wrong parameters",
        ),
        (
            json!({"grader": {"source": "async def grade(sample, item):\n    return 1\n"}}),
            "manifest.tasks[0].grader.source",
            "async",
        ),
        (
            json!({"grader": {"contract": "batch", "source": "def grade(sample, item):\n    return 1\n"}}),
            "manifest.tasks[0].grader.source",
            "grade_batch(samples)",
        ),
        (
            json!({"grader": {"file_id": not_python}}),
            "manifest.tasks[0].grader.file_id",
            "line 1",
        ),
        (
            json!({"preprocess": {"source": "def transform_batch(rows):\n    return rows\n"}}),
            "manifest.tasks[0].preprocess.source",
            "transform(row)",
        ),
        (
            json!({"preprocess": {"contract": "batch", "source": "def transform(row):\n    return row\n"}}),
            "manifest.tasks[0].preprocess.source",
            "transform_batch(rows)",
        ),
    ];
    for (extra, path, says) in cases {
        let mut task = json!({"id": "t", "type": "custom", "dataset": {"file_id": data}, "prompt_template": "{{q}}"});
        for (k, v) in extra.as_object().unwrap() {
            task[k] = v.clone();
        }
        let (status, body) = server
            .post(
                "/api/v1/llm/evals/suites",
                &json!({"name": "bad", "manifest": {"tasks": [task]}}),
            )
            .await;
        assert_error(status, &body, 400, path);
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{path}: {message}");
    }
    // Module-level code is not run when checking: this suite is accepted.
    server
        .create_suite(json!({"tasks": [{"id": "t", "type": "custom", "dataset": {"file_id": data},
            "prompt_template": "{{q}}",
            "grader": {"source": "import os\nos._exit(3)\ndef grade(sample, item):\n    return 1\n"}}]}))
        .await;
}

#[tokio::test]
async fn hostile_graders_fail_only_their_own_samples() {
    let server = TestServer::start().await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    let port = listener.local_addr().expect("addr").port();
    let database = std::fs::read_dir(server.data_dir())
        .expect("data dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "db" || x == "sqlite"))
        .expect("the SQLite database file");
    let data = server
        .upload_jsonl("d.jsonl", &qa_rows(&[("Paris", "Paris")]))
        .await;
    let healthy_data = server
        .upload_jsonl(
            "h.jsonl",
            &qa_rows(&[("a", "a"), ("b", "x"), ("c", "c"), ("d", "d")]),
        )
        .await;
    let hostile: Vec<(&str, String)> = vec![
        ("connect", format!("import socket\ndef grade(sample, item):\n    socket.create_connection(('127.0.0.1', {port}), timeout=3).sendall(b'escaped')\n    return 1\n")),
        ("dns", "import socket\ndef grade(sample, item):\n    return len(socket.getaddrinfo('example.com', 443))\n".into()),
        ("read_db", format!("def grade(sample, item):\n    return len(open({:?}, 'rb').read())\n", database.display().to_string())),
        ("read_shadow", "def grade(sample, item):\n    return len(open('/etc/shadow').read())\n".into()),
        ("fork_bomb", "import os\ndef grade(sample, item):\n    while True:\n        os.fork()\n".into()),
        ("loop", "def grade(sample, item):\n    while True:\n        pass\n".into()),
        ("allocate", "def grade(sample, item):\n    block = bytearray(10 * 1024 ** 3)\n    return len(block)\n".into()),
        ("write_outside", "def grade(sample, item):\n    open('/usr/lib/assay-was-here', 'w').write('x')\n    return 1\n".into()),
        ("print_megabytes", "def grade(sample, item):\n    for _ in range(50):\n        print('x' * 100_000)\n    return 0.25\n".into()),
        ("nan", "def grade(sample, item):\n    return float('nan')\n".into()),
        ("kill_parent", "import os\ndef grade(sample, item):\n    os.kill(os.getppid(), 9)\n    os.kill(-1, 9)\n    return 1\n".into()),
    ];
    let mut tasks: Vec<Value> = hostile
        .iter()
        .map(|(id, source)| {
            json!({"id": id, "type": "custom", "dataset": {"file_id": data}, "prompt_template": "{{q}}",
                   "grader": {"source": source, "timeout_seconds": 2}})
        })
        .collect();
    tasks.push(
        json!({"id": "healthy", "type": "custom", "dataset": {"file_id": healthy_data},
        "prompt_template": "{{q}}", "target_template": "{{a}}", "grader": {"source": EXACT}}),
    );
    let hostile_suite = server.create_suite(json!({"tasks": tasks})).await;
    let other_suite = server
        .create_suite(
            json!({"tasks": [{"id": "other", "type": "custom", "dataset": {"file_id": healthy_data},
            "prompt_template": "{{q}}", "target_template": "{{a}}", "grader": {"source": EXACT}}]}),
        )
        .await;
    let (status, hostile_run) = server
        .post(
            "/api/v1/llm/evals/runs",
            &json!({"suite_id": hostile_suite, "models": ["fake"]}),
        )
        .await;
    assert_eq!(status, 200, "{hostile_run}");
    let other = server
        .run_to_end(&json!({"suite_id": other_suite, "models": ["fake"]}))
        .await;
    assert_eq!(other["status"], "completed", "{other}");
    assert_eq!(metric(&other, "fake", "other", "score")["mean"], 0.75);
    let run = server
        .wait_terminal(hostile_run["id"].as_str().unwrap())
        .await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(metric(&run, "fake", "healthy", "score")["mean"], 0.75);
    let samples = server.all_samples(run["id"].as_str().unwrap(), "").await;
    let sample = |task: &str| {
        samples
            .iter()
            .find(|s| s["task_id"] == task)
            .unwrap_or_else(|| panic!("no sample of {task}"))
    };
    let failed_with = |task: &str, kind: &str, says: &str| {
        let s = sample(task);
        assert_eq!(s["status"], "failed", "{task}: {s}");
        assert_eq!(s["error"]["type"], kind, "{task}: {}", s["error"]);
        let text = s["error"].to_string();
        assert!(text.contains(says), "{task}: {text}");
    };
    failed_with("connect", "grader_error", "Network is unreachable");
    failed_with("dns", "grader_error", "gaierror");
    failed_with("read_db", "grader_error", "No such file or directory");
    failed_with("read_shadow", "grader_error", "No such file or directory");
    let bomb = sample("fork_bomb");
    assert_eq!(bomb["status"], "failed", "{bomb}");
    assert!(
        ["grader_error", "grader_timeout"].contains(&bomb["error"]["type"].as_str().unwrap()),
        "{bomb}"
    );
    failed_with("loop", "grader_timeout", "within 2 s");
    failed_with("allocate", "grader_error", "MemoryError");
    failed_with("write_outside", "grader_error", "Read-only file system");
    assert_eq!(sample("print_megabytes")["status"], "completed");
    assert_eq!(sample("print_megabytes")["scores"]["score"], 0.25);
    failed_with("nan", "grader_invalid_result", "NaN");
    assert!(["completed", "failed"].contains(&sample("kill_parent")["status"].as_str().unwrap()));
    // Nothing reached the test's listener, and the server still answers.
    listener.set_nonblocking(true).expect("nonblocking");
    assert!(
        listener.accept().is_err(),
        "a grader reached 127.0.0.1:{port}"
    );
    let (status, _) = server.get("/healthz").await;
    assert_eq!(status, 200);
    assert!(!std::path::Path::new("/usr/lib/assay-was-here").exists());
}
