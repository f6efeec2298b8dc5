//! The crate over real lm-eval output: tests/fixtures, written by lm-eval 0.4.13 itself
//! (tests/reference/make_lmeval_fixture.py): two runs (`fake-model-a`, `fake-model-b`) of
//! three tasks, one of them with two regex filters and one with corpus BLEU.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assay_lmeval::layout::{find_samples, is_results_file};
use assay_lmeval::recompute::{aggregate_task, Outcome, Quantity, Recomputed};
use assay_lmeval::{
    import_run, parse_samples, verify, AssayAggregation, ImportedRun, Reported, ResultsFile,
    SourceFile, TaskType,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Every file under the fixture directory: (path relative to it, bytes).
fn files() -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("fixture directory") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                let rel = path.strip_prefix(root).expect("under root");
                let rel = rel.to_str().expect("utf-8 path").replace('\\', "/");
                out.insert(rel, std::fs::read(&path).expect("readable"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(&fixtures(), &fixtures(), &mut out);
    out
}

/// Each results file with its samples files, as an importer would find them.
fn runs() -> Vec<ImportedRun> {
    let files = files();
    let mut runs = Vec::new();
    for (path, bytes) in files.iter().filter(|(p, _)| is_results_file(p)) {
        let results = ResultsFile::parse(path, bytes).expect("results parse");
        let samples = find_samples(
            path,
            results.model_name.as_deref(),
            results.model_name_sanitized.as_deref(),
            files.keys().map(String::as_str),
        );
        let sources: Vec<SourceFile<'_>> = samples
            .values()
            .map(|p| SourceFile {
                path: p,
                bytes: &files[*p],
            })
            .collect();
        runs.push(import_run(SourceFile { path, bytes }, &sources).expect("imports"));
    }
    runs
}

#[test]
fn finds_two_runs_with_three_samples_files_each() {
    let files = files();
    let results: Vec<&String> = files.keys().filter(|p| is_results_file(p)).collect();
    assert_eq!(results.len(), 2);
    for path in results {
        let found = find_samples(path, None, None, files.keys().map(String::as_str));
        let tasks: Vec<&str> = found.keys().map(String::as_str).collect();
        assert_eq!(tasks, ["assay_arith", "assay_capitals", "assay_translate"]);
    }
}

#[test]
fn recomputed_means_and_standard_errors_equal_lm_eval_exactly() {
    let files = files();
    let mut compared = 0;
    let mut not_recomputable = 0;
    for (path, bytes) in files.iter().filter(|(p, _)| is_results_file(p)) {
        let results = ResultsFile::parse(path, bytes).expect("results parse");
        let mut samples = BTreeMap::new();
        for (task, samples_path) in find_samples(path, None, None, files.keys().map(String::as_str))
        {
            let lines = parse_samples(samples_path, &files[samples_path]).expect("samples parse");
            samples.insert(task, lines);
        }
        let verification = verify(&results, &samples, 0.0);
        assert!(
            verification.differences().is_empty(),
            "{path}: {:#?}",
            verification.differences()
        );
        for check in &verification.checks {
            match (&check.outcome, &check.reported, &check.recomputed) {
                (Outcome::Equal, Some(Reported::Number(r)), Some(Recomputed::Value(c))) => {
                    // Bit for bit, not merely within a tolerance.
                    assert_eq!(r.to_bits(), c.to_bits(), "{check:?}");
                    if check.quantity != Quantity::Documents {
                        compared += 1;
                    }
                }
                (Outcome::Equal, _, _) => {}
                (Outcome::NotRecomputable(_), _, _) => {
                    assert_eq!(check.metric, "bleu", "{check:?}");
                    not_recomputable += 1;
                }
                other => panic!("{path}: {other:?}"),
            }
        }
        // Every exact_match (value and stderr) of every task and filter was compared.
        let exact_match = verification
            .checks
            .iter()
            .filter(|c| c.metric == "exact_match")
            .count();
        assert_eq!(exact_match, 8, "{path}");
    }
    // 2 runs × 4 (task, filter) exact_match keys × (value, stderr); bleu's value and
    // bootstrapped stderr in each run are not recomputable.
    assert_eq!(compared, 16);
    assert_eq!(not_recomputable, 4);
}

#[test]
fn imports_each_results_file_as_a_run() {
    let runs = runs();
    let models: Vec<&str> = runs.iter().map(|r| r.model.as_str()).collect();
    assert_eq!(models, ["fake-model-a", "fake-model-b"]);
    assert_ne!(runs[0].identity, runs[1].identity);
    for run in &runs {
        assert!(run.is_consistent(), "{:#?}", run.verification.differences());
        assert!(run.tasks_without_samples.is_empty());
        assert!(run.groups.is_empty());
        assert!(run.warnings.is_empty());
        assert_eq!(run.model_source.as_deref(), Some("local-chat-completions"));
        assert_eq!(run.lm_eval_version.as_deref(), Some("0.4.13"));
        assert!(run.date.is_some());
        assert_eq!(run.metadata["source"], "lm-eval-harness");
        assert!(run.metadata["lm_eval.model_args"].contains(&run.model));

        let ids: Vec<&str> = run.tasks.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["assay_arith", "assay_capitals", "assay_translate"]);
        for task in &run.tasks {
            assert_eq!(task.task_type, TaskType::Qa);
            assert_eq!(task.dataset.path.as_deref(), Some("json"));
            assert_eq!(task.dataset.split.as_deref(), Some("test"));
            assert!(task
                .prompt_template
                .as_deref()
                .is_some_and(|t| t.contains("{{")));
        }
        let arith = &run.tasks[0];
        let keys: Vec<&str> = arith.metrics.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(
            keys,
            ["exact_match,strict-match", "exact_match,flexible-extract"]
        );
        assert_eq!(
            arith.primary_metric.as_deref(),
            Some("exact_match,strict-match")
        );
        assert_eq!(arith.num_fewshot, Some(1));
        assert_eq!(run.tasks[1].primary_metric.as_deref(), Some("exact_match"));
        let translate = &run.tasks[2];
        let bleu = translate
            .metrics
            .iter()
            .find(|m| m.id == "bleu")
            .expect("bleu");
        assert_eq!(bleu.aggregation, AssayAggregation::None);
        assert_eq!(bleu.lm_eval_aggregation, "bleu");
        assert!(bleu.higher_is_better);

        let per_task = |id: &str| run.samples.iter().filter(|s| s.task_id == id).count();
        assert_eq!(per_task("assay_arith"), 16);
        assert_eq!(per_task("assay_capitals"), 12);
        assert_eq!(per_task("assay_translate"), 10);

        // Assay's own mean of the imported scores is lm-eval's number.
        for agg in run.aggregates.iter().filter(|a| a.aggregation == "mean") {
            let scores: Vec<f64> = run
                .samples
                .iter()
                .filter(|s| s.task_id == agg.task_id)
                .filter_map(|s| s.scores.get(&agg.key)?.as_f64())
                .collect();
            let mean = scores.iter().sum::<f64>() / scores.len() as f64;
            assert_eq!(Some(mean), agg.value, "{agg:?}");
        }
    }
}

#[test]
fn samples_carry_prompt_outputs_and_filtered_scores() {
    let runs = runs();
    let a = &runs[0];
    let doc2 = a
        .samples
        .iter()
        .find(|s| s.task_id == "assay_arith" && s.index == 2)
        .expect("arith doc 2");
    assert_eq!(doc2.output_text.as_deref(), Some("The answer is 42."));
    // strict-match comes first in the filter list: it finds no `#### N`.
    assert_eq!(doc2.extracted_output.as_deref(), Some("[invalid]"));
    let filtered: Vec<(&str, Option<&str>)> = doc2
        .filtered_outputs
        .iter()
        .map(|f| (f.filter.as_str(), f.output.as_deref()))
        .collect();
    assert_eq!(
        filtered,
        [
            ("strict-match", Some("[invalid]")),
            ("flexible-extract", Some("42."))
        ]
    );
    assert_eq!(doc2.scores["exact_match,strict-match"], 0.0);
    assert_eq!(doc2.scores["exact_match,flexible-extract"], 1.0);
    assert_eq!(doc2.target.as_deref(), Some("#### 42"));
    let messages = assay_lmeval::chat_messages(&doc2.prompt).expect("chat prompt");
    // One-shot as an earlier turn, then the question.
    assert_eq!(messages.len(), 3);
    assert_eq!(messages[1].role, "assistant");
    assert!(messages[2]
        .content
        .starts_with("Question: What is 6 times 7?"));
    assert_eq!(
        doc2.dataset_row.as_ref().map(|r| r["question"].clone()),
        Some("What is 6 times 7?".into())
    );

    // The translation task keeps BLEU's (reference, prediction) item beside exact_match.
    let t0 = a
        .samples
        .iter()
        .find(|s| s.task_id == "assay_translate" && s.index == 0)
        .expect("translate doc 0");
    assert_eq!(t0.scores["exact_match"], 1.0);
    assert_eq!(t0.scores["bleu"], serde_json::json!(["bonjour", "bonjour"]));

    // Model b's replies were cut to three words.
    let b = &runs[1];
    let b0 = b
        .samples
        .iter()
        .find(|s| s.task_id == "assay_arith" && s.index == 0)
        .expect("arith doc 0");
    assert_eq!(b0.output_text.as_deref(), Some("3 plus 4"));
}

#[test]
fn bleu_numbers_come_from_the_results_file() {
    for run in runs() {
        let results_bytes = files()
            .into_iter()
            .find(|(p, _)| *p == run.results_path)
            .map(|(_, b)| b)
            .expect("results file");
        let results = ResultsFile::parse(&run.results_path, &results_bytes).expect("parse");
        let reported = results
            .results
            .get("assay_translate")
            .and_then(|t| t.metric("bleu", "none"))
            .expect("bleu");
        let agg = run
            .aggregates
            .iter()
            .find(|a| a.task_id == "assay_translate" && a.key == "bleu")
            .expect("bleu aggregate");
        assert_eq!(
            agg.value,
            reported.value.as_ref().and_then(Reported::as_f64)
        );
        assert_eq!(
            agg.stderr,
            reported.stderr.as_ref().and_then(Reported::as_f64)
        );
        assert_eq!(agg.n, 10);
    }
}

#[test]
fn the_arith_flexible_filter_scores_more_than_the_strict_one() {
    // A sanity check on the fixture itself: what the data rows were written to produce.
    let files = files();
    let (path, bytes) = files
        .iter()
        .find(|(p, _)| is_results_file(p) && p.starts_with("fake-model-a/"))
        .expect("model a");
    let results = ResultsFile::parse(path, bytes).expect("parse");
    let samples_path = find_samples(path, None, None, files.keys().map(String::as_str))
        .remove("assay_arith")
        .expect("arith samples");
    let lines = parse_samples(samples_path, &files[samples_path]).expect("samples");
    let aggs = aggregate_task(
        "assay_arith",
        results.configs.get("assay_arith"),
        &lines,
        results.bootstrap_iters(),
    );
    let value = |filter: &str| {
        aggs.iter()
            .find(|a| a.filter == filter)
            .and_then(|a| a.value.as_f64())
            .expect("value")
    };
    assert_eq!(value("strict-match"), 9.0 / 16.0);
    assert_eq!(value("flexible-extract"), 12.0 / 16.0);
}
