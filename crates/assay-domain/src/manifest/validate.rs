//! The manifest's rules: [`validate_manifest`] decodes a manifest and checks everything the
//! spec (and the runner) needs, reporting the first violation at its exact JSON path.

use super::dataset::MAX_ROWS;
use super::embedding::{MAX_CHARS_CEILING, MAX_TEXTS_CEILING};
use super::extraction::{ExtractionGroup, MAX_TAKE_FIRST_LINES};
use super::fewshot::MAX_FEWSHOT;
use super::grading::{similarity_threshold, JudgeConfig};
use super::python::{MAX_MODEL_CALLS, MAX_TIMEOUT_SECONDS};
use super::{
    Dataset, DatasetSource, EmbeddingConfig, FewshotConfig, Manifest, OutputExtraction,
    PythonGrader, PythonPreprocessor, RegexExtraction, Task, TaskType, MAX_TASKS,
};
use crate::error::{field, index, ValidationError};
use crate::{template, MAX_SAFE_INT};
use serde_json::Value;
use std::collections::HashSet;

type Check = Result<(), ValidationError>;

/// Longest task id.
pub const MAX_TASK_ID_LEN: usize = 128;
/// Largest `samples_per_label`.
const MAX_SAMPLES_PER_LABEL: i64 = 10_000;
/// Largest `n_experiments`.
const MAX_EXPERIMENTS: i64 = 100;
/// Largest `k_values` item.
const MAX_K: i64 = 10_000;
/// Most `k_values` items (each adds five metrics to every query).
const MAX_K_VALUES: usize = 20;

/// Decodes and checks a suite manifest. `path` is the manifest's JSON path in the request
/// (e.g. `manifest`); every error names the offending field under it, e.g.
/// `manifest.tasks[2].output_extraction.pattern`, and only the first violation is reported.
///
/// On success the typed manifest is returned with each dataset's `source` filled in
/// (inferred from `file_id` / `path` where it was omitted). Unknown keys are ignored and
/// `null` counts as absent. Python code is not syntax-checked here.
///
/// Rules, beyond the types of the fields:
/// - every integer anywhere (free-form `metadata` included) lies within ±[`MAX_SAFE_INT`];
/// - 1 to 100 tasks; task ids are 1–128 letters, digits, `_`, `.`, `-`, unique;
/// - datasets (task, few-shot and embedding auxiliary ones) name a source: `file` needs a
///   non-empty `file_id`, `huggingface` a non-empty `path`; without `source` it is inferred,
///   and giving both `file_id` and `path` needs an explicit `source`; `max_rows` 1..=1000000;
/// - `transcription` tasks need `dataset.audio_column`;
/// - `embedding` config exactly on `embedding` tasks, with the auxiliary datasets its kind
///   needs and its numbers in range;
/// - graders and preprocessors: exactly one of `source` / `file_id`, timeouts 1..=600,
///   `max_model_calls` 0..=500, non-empty `metric_id`;
/// - few-shot `count` and `num_fewshot` 0..=100 and equal when both are given;
/// - output extraction: regexes compile with their flags (letters from `imsxu`) and `group`
///   names an existing group; `take_first.lines` 1..=10000; labels non-empty and distinct;
/// - metric ids non-empty and unique within the task;
/// - templates are valid Jinja;
/// - `llm_judge` and `semantic_similarity` settings in the task's `metadata` (see
///   [`JudgeConfig`] and [`similarity_threshold`]).
pub fn validate_manifest(value: &Value, path: &str) -> Result<Manifest, ValidationError> {
    check_safe_integers(value, path)?;
    let mut manifest = Manifest::from_json(value, path)?;
    let tasks_path = field(path, "tasks");
    if manifest.tasks.is_empty() {
        return Err(ValidationError::new(
            tasks_path,
            "must contain at least one task",
        ));
    }
    if manifest.tasks.len() > MAX_TASKS {
        return Err(ValidationError::new(
            tasks_path,
            format!(
                "must contain at most {MAX_TASKS} tasks (got {})",
                manifest.tasks.len()
            ),
        ));
    }
    let mut ids = HashSet::new();
    for (i, task) in manifest.tasks.iter_mut().enumerate() {
        let tp = index(&tasks_path, i);
        let id_path = field(&tp, "id");
        check_task_id(&id_path, &task.id)?;
        if !ids.insert(task.id.clone()) {
            return Err(ValidationError::new(
                id_path,
                format!("duplicate task id `{}`", task.id),
            ));
        }
        validate_task(task, &tp)?;
    }
    Ok(manifest)
}

fn validate_task(task: &mut Task, tp: &str) -> Check {
    let dp = field(tp, "dataset");
    validate_dataset(&mut task.dataset, &dp)?;
    if task.task_type == TaskType::Transcription {
        let ap = field(&dp, "audio_column");
        if task.dataset.audio_column.is_none() {
            return fail(&ap, "is required for transcription tasks");
        }
    }
    check_opt_template(&field(tp, "prompt_template"), &task.prompt_template)?;
    check_opt_template(&field(tp, "target_template"), &task.target_template)?;
    if let Some(extraction) = &task.output_extraction {
        validate_extraction(extraction, &field(tp, "output_extraction"))?;
    }
    let mp = field(tp, "metrics");
    let mut metric_ids = HashSet::new();
    for (j, metric) in task.metrics.iter().enumerate() {
        let ip = field(&index(&mp, j), "id");
        check_non_empty(&ip, &metric.id)?;
        if !metric_ids.insert(metric.id.as_str()) {
            return fail(&ip, format!("duplicate metric id `{}`", metric.id));
        }
    }
    if let Some(grader) = &task.grader {
        validate_grader(grader, &field(tp, "grader"))?;
    }
    let ep = field(tp, "embedding");
    match (task.task_type, &mut task.embedding) {
        (TaskType::Embedding, Some(embedding)) => validate_embedding(embedding, &ep)?,
        (TaskType::Embedding, None) => return fail(&ep, "is required for embedding tasks"),
        (other, Some(_)) => {
            return fail(
                &ep,
                format!(
                    "is only allowed on embedding tasks, not on `{}` tasks",
                    other.as_str()
                ),
            )
        }
        (_, None) => {}
    }
    let metadata_path = field(tp, "metadata");
    match task.task_type {
        TaskType::LlmJudge => {
            JudgeConfig::from_metadata(task.metadata.as_ref(), &metadata_path)?;
        }
        TaskType::SemanticSimilarity => {
            similarity_threshold(task.metadata.as_ref(), &metadata_path)?;
        }
        _ => {}
    }
    if let Some(preprocess) = &task.preprocess {
        validate_preprocessor(preprocess, &field(tp, "preprocess"))?;
    }
    if let Some(fewshot) = &mut task.fewshot {
        validate_fewshot(fewshot, &field(tp, "fewshot"))?;
    }
    if let Some(n) = task.num_fewshot {
        let np = field(tp, "num_fewshot");
        check_range(&np, n, 0, MAX_FEWSHOT)?;
        if let Some(count) = task.fewshot.as_ref().and_then(|f| f.count) {
            if count != n {
                return fail(
                    &np,
                    format!("is {n} but fewshot.count is {count}; give one or make them equal"),
                );
            }
        }
    }
    Ok(())
}

/// Checks a dataset at `p` and fills in its inferred `source`.
fn validate_dataset(ds: &mut Dataset, p: &str) -> Check {
    let Some(source) = ds.effective_source() else {
        return if ds.file_id.is_some() {
            fail(
                field(p, "source"),
                "is required when both file_id and path are given",
            )
        } else {
            fail(
                p,
                "needs a file_id (uploaded file) or a path (Hugging Face dataset)",
            )
        };
    };
    match source {
        DatasetSource::File => {
            let fp = field(p, "file_id");
            match &ds.file_id {
                None => return fail(&fp, "is required when source is `file`"),
                Some(id) => check_non_empty(&fp, id)?,
            }
        }
        DatasetSource::Huggingface => {
            let pp = field(p, "path");
            match &ds.path {
                None => return fail(&pp, "is required when source is `huggingface`"),
                Some(path) => {
                    check_non_empty(&pp, path)?;
                    if !is_hub_repo_id(path) {
                        return fail(
                            &pp,
                            "must be a Hugging Face dataset id: `name` or `owner/name` of letters, digits, `-`, `_` and `.`",
                        );
                    }
                }
            }
            for (name, value) in [
                ("name", &ds.name),
                ("split", &ds.split),
                ("revision", &ds.revision),
            ] {
                if let Some(v) = value {
                    check_non_empty(&field(p, name), v)?;
                }
            }
        }
    }
    if let Some(n) = ds.max_rows {
        check_range(&field(p, "max_rows"), n, 1, MAX_ROWS)?;
    }
    if let Some(column) = &ds.audio_column {
        check_non_empty(&field(p, "audio_column"), column)?;
    }
    ds.source = Some(source);
    Ok(())
}

/// Whether `id` names a Hub repository: `name` or `owner/name`, each part of ASCII letters,
/// digits, `-`, `_` and `.`, not starting or ending with `.` or `-` (so no `..` or URL syntax).
pub fn is_hub_repo_id(id: &str) -> bool {
    let parts: Vec<&str> = id.split('/').collect();
    parts.len() <= 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 96
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                && !p.starts_with(['.', '-'])
                && !p.ends_with(['.', '-'])
                && !p.contains("..")
        })
}

fn validate_extraction(extraction: &OutputExtraction, p: &str) -> Check {
    match extraction {
        OutputExtraction::None | OutputExtraction::Number => Ok(()),
        OutputExtraction::TakeFirst(t) => {
            check_range(&field(p, "lines"), t.lines, 1, MAX_TAKE_FIRST_LINES)
        }
        OutputExtraction::Regex(r) | OutputExtraction::RegexLast(r) => validate_regex(r, p),
        OutputExtraction::LabelSet(l) => {
            let lp = field(p, "labels");
            if l.labels.is_empty() {
                return fail(&lp, "must contain at least one label");
            }
            let mut seen = HashSet::new();
            for (j, label) in l.labels.iter().enumerate() {
                let ip = index(&lp, j);
                check_non_empty(&ip, label)?;
                let key = if l.case_sensitive {
                    label.clone()
                } else {
                    label.to_lowercase()
                };
                if !seen.insert(key) {
                    let how = if l.case_sensitive {
                        ""
                    } else {
                        " (labels compare case-insensitively unless case_sensitive is true)"
                    };
                    return fail(&ip, format!("duplicate label `{label}`{how}"));
                }
            }
            Ok(())
        }
    }
}

fn validate_regex(r: &RegexExtraction, p: &str) -> Check {
    let pp = field(p, "pattern");
    if r.pattern.is_empty() {
        return fail(&pp, "must not be empty");
    }
    r.full_pattern()
        .map_err(|message| ValidationError::new(field(p, "flags"), message))?;
    let re = r
        .compile()
        .map_err(|message| ValidationError::new(&pp, message))?;
    let gp = field(p, "group");
    match &r.group {
        None => Ok(()),
        Some(ExtractionGroup::Index(n)) => {
            // `captures_len` counts group 0, the whole match.
            let max = re.captures_len() as i64 - 1;
            if (0..=max).contains(n) {
                Ok(())
            } else if max == 0 {
                fail(
                    &gp,
                    "must be 0 (the whole match): the pattern has no capture groups",
                )
            } else {
                fail(
                    &gp,
                    format!("must be between 0 and {max}, the pattern's number of capture groups"),
                )
            }
        }
        Some(ExtractionGroup::Name(name)) => {
            if re.capture_names().any(|g| g == Some(name.as_str())) {
                Ok(())
            } else {
                fail(&gp, format!("the pattern has no group named `{name}`"))
            }
        }
    }
}

fn validate_grader(g: &PythonGrader, p: &str) -> Check {
    check_non_empty(&field(p, "metric_id"), &g.metric_id)?;
    check_code_source(p, &g.source, &g.file_id)?;
    check_range(
        &field(p, "timeout_seconds"),
        g.timeout_seconds,
        1,
        MAX_TIMEOUT_SECONDS,
    )?;
    check_range(
        &field(p, "max_model_calls"),
        g.max_model_calls,
        0,
        MAX_MODEL_CALLS,
    )
}

fn validate_preprocessor(pre: &PythonPreprocessor, p: &str) -> Check {
    check_code_source(p, &pre.source, &pre.file_id)?;
    check_range(
        &field(p, "timeout_seconds"),
        pre.timeout_seconds,
        1,
        MAX_TIMEOUT_SECONDS,
    )
}

/// Exactly one of `source` and `file_id` (of the grader or preprocessor at `p`), non-empty.
fn check_code_source(p: &str, source: &Option<String>, file_id: &Option<String>) -> Check {
    match (source, file_id) {
        (Some(_), Some(_)) => fail(
            field(p, "file_id"),
            "cannot be combined with source; give exactly one of source and file_id",
        ),
        (None, None) => fail(
            p,
            "needs exactly one of source (inline Python) and file_id (an uploaded .py file)",
        ),
        (Some(src), None) => check_non_empty(&field(p, "source"), src),
        (None, Some(id)) => check_non_empty(&field(p, "file_id"), id),
    }
}

fn validate_embedding(e: &mut EmbeddingConfig, p: &str) -> Check {
    for (name, column) in e.columns() {
        check_non_empty(&field(p, name), column)?;
    }
    let kind = e.kind;
    let required = kind.required_datasets();
    for (name, ds) in [
        ("train_dataset", &mut e.train_dataset),
        ("corpus_dataset", &mut e.corpus_dataset),
        ("qrels_dataset", &mut e.qrels_dataset),
        ("top_ranked_dataset", &mut e.top_ranked_dataset),
    ] {
        let dp = field(p, name);
        match ds {
            Some(ds) => validate_dataset(ds, &dp)?,
            None if required.contains(&name) => {
                return fail(&dp, format!("is required for kind `{}`", kind.as_str()))
            }
            None => {}
        }
    }
    check_range(
        &field(p, "samples_per_label"),
        e.samples_per_label,
        1,
        MAX_SAMPLES_PER_LABEL,
    )?;
    check_range(
        &field(p, "n_experiments"),
        e.n_experiments,
        1,
        MAX_EXPERIMENTS,
    )?;
    check_range(&field(p, "seed"), e.seed, -MAX_SAFE_INT, MAX_SAFE_INT)?;
    if let Some(ks) = &e.k_values {
        let kp = field(p, "k_values");
        if ks.is_empty() {
            return fail(&kp, "must contain at least one cutoff");
        }
        if ks.len() > MAX_K_VALUES {
            return fail(&kp, format!("must contain at most {MAX_K_VALUES} cutoffs"));
        }
        let mut seen = HashSet::new();
        for (j, &k) in ks.iter().enumerate() {
            let ip = index(&kp, j);
            check_range(&ip, k, 1, MAX_K)?;
            if !seen.insert(k) {
                return fail(&ip, format!("duplicate cutoff {k}"));
            }
        }
    }
    check_range(&field(p, "max_chars"), e.max_chars, 1, MAX_CHARS_CEILING)?;
    check_range(&field(p, "max_texts"), e.max_texts, 1, MAX_TEXTS_CEILING)
}

fn validate_fewshot(f: &mut FewshotConfig, p: &str) -> Check {
    if let Some(count) = f.count {
        check_range(&field(p, "count"), count, 0, MAX_FEWSHOT)?;
    }
    if let Some(ds) = &mut f.dataset {
        validate_dataset(ds, &field(p, "dataset"))?;
    }
    check_opt_template(&field(p, "prompt_template"), &f.prompt_template)?;
    check_opt_template(&field(p, "target_template"), &f.target_template)?;
    check_template(&field(p, "example_template"), &f.example_template)?;
    check_range(&field(p, "seed"), f.seed, -MAX_SAFE_INT, MAX_SAFE_INT)
}

fn check_task_id(p: &str, id: &str) -> Check {
    if id.is_empty() {
        return fail(p, "must not be empty");
    }
    if id.len() > MAX_TASK_ID_LEN {
        return fail(
            p,
            format!("must be at most {MAX_TASK_ID_LEN} characters long"),
        );
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return fail(
            p,
            format!("contains {bad:?}; task ids use only letters, digits, `_`, `.` and `-`"),
        );
    }
    Ok(())
}

/// Every integer in `value` (at `path`) lies within ±[`MAX_SAFE_INT`].
fn check_safe_integers(value: &Value, path: &str) -> Check {
    match value {
        Value::Number(n) => {
            let safe = match n.as_i64() {
                Some(i) => (-MAX_SAFE_INT..=MAX_SAFE_INT).contains(&i),
                // Floats are not integers; a `u64` beyond `i64` is out of range.
                None => n.is_f64(),
            };
            if safe {
                Ok(())
            } else {
                fail(
                    path,
                    format!("must be between -{MAX_SAFE_INT} and {MAX_SAFE_INT}"),
                )
            }
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| check_safe_integers(item, &index(path, i))),
        Value::Object(map) => map
            .iter()
            .try_for_each(|(key, item)| check_safe_integers(item, &field(path, key))),
        Value::Null | Value::Bool(_) | Value::String(_) => Ok(()),
    }
}

fn check_range(p: &str, value: i64, min: i64, max: i64) -> Check {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        fail(p, format!("must be between {min} and {max} (got {value})"))
    }
}

fn check_non_empty(p: &str, value: &str) -> Check {
    if value.trim().is_empty() {
        fail(p, "must not be empty")
    } else {
        Ok(())
    }
}

fn check_template(p: &str, src: &str) -> Check {
    template::check_syntax(src)
        .map_err(|err| ValidationError::new(p, format!("invalid template: {err}")))
}

fn check_opt_template(p: &str, src: &Option<String>) -> Check {
    src.as_deref().map_or(Ok(()), |src| check_template(p, src))
}

fn fail(path: impl Into<String>, message: impl Into<String>) -> Check {
    Err(ValidationError::new(path, message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{
        DataFiles, EmbeddingKind, FileRefKind, GraderContract, PreprocessorContract,
    };
    use serde_json::json;

    /// The rich example of spec §7.2, with some datasets moved to uploaded files.
    fn rich() -> Value {
        json!({
            "schema_version": "2026-05-27",
            "metadata": { "project": "model-quality" },
            "tasks": [
                {
                    "id": "es_qa.v2",
                    "name": "Spanish extractive QA",
                    "type": "qa",
                    "dataset": { "source": "huggingface", "path": "IIC/AQuAS", "split": "test", "max_rows": 500 },
                    "preprocess": {
                        "type": "python", "contract": "row",
                        "source": "def transform(row):\n    row['context'] = row['context'].strip()\n    return row\n",
                        "timeout_seconds": 60
                    },
                    "prompt_template": "Contexto: {{context}}\n\nPregunta: {{question}}\n\nRespuesta:",
                    "target_template": "{{answer}}",
                    "fewshot": {
                        "count": 2,
                        "dataset": { "file_id": "file-shots", "format": "jsonl" },
                        "example_template": "{{prompt}} {{target}}",
                        "separator": "\n\n",
                        "strategy": "random",
                        "seed": 7
                    },
                    "output_extraction": { "type": "take_first", "lines": 1 },
                    "metrics": [
                        { "id": "exact_match", "aggregation": "mean", "higher_is_better": true },
                        { "id": "judge_score", "aggregation": "mean", "higher_is_better": true, "description": "LLM judge 0-1" }
                    ],
                    "grader": {
                        "type": "python", "contract": "model_backed", "execution": "per_sample", "model_access": "mka1",
                        "metric_id": "judge_score", "file_id": "file-9a01bc44", "timeout_seconds": 300, "max_model_calls": 4
                    },
                    "metadata": { "source": "aquas" }
                },
                {
                    "id": "belebele_es",
                    "type": "multiple_choice",
                    "dataset": { "source": "huggingface", "path": "facebook/belebele", "name": "spa_Latn", "split": "test" },
                    "prompt_template": "{{flores_passage}}\n\nQ: {{question}}\nA) {{mc_answer1}}\nB) {{mc_answer2}}\nC) {{mc_answer3}}\nD) {{mc_answer4}}\nAnswer:",
                    "target_template": "{{correct_letter}}",
                    "choices": ["A", "B", "C", "D"],
                    "num_fewshot": 0,
                    "output_extraction": { "type": "regex_last", "pattern": "\\b([ABCD])\\b", "group": 1, "flags": "i" },
                    "metrics": [{ "id": "acc" }],
                    "grader": { "type": "python", "contract": "batch",
                        "source": "def grade_batch(samples):\n    return [{'acc': float(s['extracted_output'] == s['target'])} for s in samples]\n" }
                },
                {
                    "id": "sts_es",
                    "type": "embedding",
                    "dataset": { "source": "huggingface", "path": "mteb/sts17-crosslingual-sts", "name": "es-es", "split": "test" },
                    "embedding": { "kind": "sts", "text1_column": "sentence1", "text2_column": "sentence2", "score_column": "score", "max_chars": 8000 }
                },
                {
                    "id": "ur_asr",
                    "type": "transcription",
                    "language": "ur",
                    "dataset": { "source": "huggingface", "path": "mozilla-foundation/common_voice_17_0", "name": "ur", "split": "test", "audio_column": "audio", "max_rows": 200 },
                    "target_template": "{{sentence}}",
                    "metrics": [{ "id": "wer", "higher_is_better": false }],
                    "grader": { "type": "python", "file_id": "file-wer-grader", "metric_id": "wer" }
                },
                {
                    "id": "nfcorpus",
                    "type": "embedding",
                    "dataset": { "file_id": "file-queries", "format": "jsonl", "data_files": { "test": ["q.jsonl"] } },
                    "embedding": {
                        "kind": "retrieval",
                        "corpus_dataset": { "path": "mteb/nfcorpus", "name": "corpus", "dataset_kwargs": { "trust_remote_code": false } },
                        "qrels_dataset": { "file_id": "file-qrels", "format": "csv" },
                        "k_values": [1, 10, 100]
                    }
                },
                {
                    "id": "sentiment",
                    "type": "classification",
                    "dataset": { "file_id": "file-sent" },
                    "prompt_template": "{{text}}\nSentiment:",
                    "output_extraction": { "type": "label_set", "labels": ["positive", "negative", "neutral"] },
                    "metrics": [{ "id": "acc" }],
                    "grader": { "source": "def grade(sample, item):\n    return 1.0\n" }
                }
            ]
        })
    }

    fn validate(v: &Value) -> Result<Manifest, ValidationError> {
        validate_manifest(v, "manifest")
    }

    #[test]
    fn the_rich_example_is_valid() {
        let m = validate(&rich()).unwrap();
        assert_eq!(m.tasks.len(), 6);
        let qa = &m.tasks[0];
        assert_eq!(qa.fewshot_count(), 2);
        assert_eq!(
            qa.grader.as_ref().unwrap().contract,
            GraderContract::ModelBacked
        );
        assert_eq!(
            qa.preprocess.as_ref().unwrap().contract,
            PreprocessorContract::Row
        );
        let shots = qa.fewshot.as_ref().unwrap().dataset.as_ref().unwrap();
        // The inferred source is filled in.
        assert_eq!(shots.source, Some(DatasetSource::File));
        let retrieval = &m.tasks[4];
        assert_eq!(retrieval.dataset.source, Some(DatasetSource::File));
        assert_eq!(
            retrieval.dataset.data_files,
            Some(DataFiles::Splits(
                [(
                    "test".to_string(),
                    super::super::DataFilesEntry::Many(vec!["q.jsonl".into()])
                )]
                .into_iter()
                .collect()
            ))
        );
        let emb = retrieval.embedding.as_ref().unwrap();
        assert_eq!(emb.kind, EmbeddingKind::Retrieval);
        assert_eq!(
            emb.corpus_dataset.as_ref().unwrap().source,
            Some(DatasetSource::Huggingface)
        );
        assert_eq!(m.tasks[2].embedding.as_ref().unwrap().max_chars, 8000);

        let refs: Vec<_> = m
            .file_refs("manifest")
            .into_iter()
            .map(|r| (r.path, r.kind))
            .collect();
        assert_eq!(
            refs,
            vec![
                (
                    "manifest.tasks[0].fewshot.dataset.file_id".to_string(),
                    FileRefKind::Dataset
                ),
                (
                    "manifest.tasks[0].grader.file_id".to_string(),
                    FileRefKind::Python
                ),
                (
                    "manifest.tasks[3].grader.file_id".to_string(),
                    FileRefKind::Python
                ),
                (
                    "manifest.tasks[4].dataset.file_id".to_string(),
                    FileRefKind::Dataset
                ),
                (
                    "manifest.tasks[4].embedding.qrels_dataset.file_id".to_string(),
                    FileRefKind::Dataset
                ),
                (
                    "manifest.tasks[5].dataset.file_id".to_string(),
                    FileRefKind::Dataset
                ),
            ]
        );
    }

    #[test]
    fn the_minimal_example_is_valid() {
        let m = validate(&json!({"tasks": [{
            "id": "qa", "type": "qa",
            "dataset": { "file_id": "file-7f3c0d2a", "format": "jsonl" },
            "prompt_template": "Question: {{question}}\nAnswer:",
            "target_template": "{{answer}}",
            "grader": { "type": "python", "source": "def grade(sample, item):\n    return 1.0\n" }
        }]}))
        .unwrap();
        assert_eq!(m.schema_version, "2026-05-27");
    }

    /// A manifest whose second task is a valid `qa` task with `patch`'s keys replacing its
    /// own (a `null` value removes the key).
    fn with_task(patch: Value) -> Value {
        let mut task = json!({
            "id": "t", "type": "qa", "dataset": {"file_id": "file-1"},
            "grader": {"source": "def grade(sample, item):\n    return 1.0\n"}
        });
        if let (Some(task), Some(patch)) = (task.as_object_mut(), patch.as_object()) {
            for (k, v) in patch {
                task.insert(k.clone(), v.clone());
            }
        }
        json!({"tasks": [{"id": "first", "type": "qa", "dataset": {"path": "org/ds"}}, task]})
    }

    /// The path of the error `patch` causes, relative to the second task.
    fn task_error(patch: Value) -> String {
        let err = validate(&with_task(patch.clone())).expect_err(&patch.to_string());
        err.path
            .strip_prefix("manifest.tasks[1]")
            .unwrap_or_else(|| panic!("{patch}: error outside the task: {err}"))
            .to_string()
    }

    fn assert_task_ok(patch: Value) {
        if let Err(err) = validate(&with_task(patch.clone())) {
            panic!("{patch}: {err}");
        }
    }

    fn emb(config: Value) -> Value {
        json!({"type": "embedding", "grader": null, "embedding": config})
    }

    #[test]
    fn task_count_is_bounded() {
        let err = validate(&json!({"tasks": []})).unwrap_err();
        assert_eq!(err.path, "manifest.tasks");
        let many: Vec<Value> = (0..=MAX_TASKS)
            .map(|i| json!({"id": format!("t{i}"), "type": "qa", "dataset": {"path": "a/b"}}))
            .collect();
        let err = validate(&json!({ "tasks": many })).unwrap_err();
        assert_eq!(err.path, "manifest.tasks");
        assert!(validate(&json!({ "tasks": many[..MAX_TASKS] })).is_ok());
        assert_eq!(validate(&json!({})).unwrap_err().path, "manifest.tasks");
        assert_eq!(
            validate(&json!({"tasks": null})).unwrap_err().path,
            "manifest.tasks"
        );
        assert_eq!(validate(&json!([])).unwrap_err().path, "manifest");
    }

    #[test]
    fn task_ids_are_checked() {
        for bad in [
            json!(""),
            json!("a b"),
            json!("é"),
            json!("x/y"),
            json!("a".repeat(129)),
        ] {
            assert_eq!(task_error(json!({"id": bad})), ".id");
        }
        assert_eq!(task_error(json!({"id": 5})), ".id");
        assert_eq!(task_error(json!({"id": null})), ".id");
        assert_task_ok(json!({"id": "A-z_0.9"}));
        assert_task_ok(json!({"id": "a".repeat(128)}));
    }

    #[test]
    fn task_ids_are_unique() {
        let err = validate(&with_task(json!({"id": "first"}))).unwrap_err();
        assert_eq!(err.path, "manifest.tasks[1].id");
        assert!(err.message.contains("`first`"), "{}", err.message);
    }

    #[test]
    fn task_type_is_closed() {
        assert_eq!(task_error(json!({"type": "quiz"})), ".type");
        assert_eq!(task_error(json!({"type": null})), ".type");
    }

    #[test]
    fn datasets_need_a_source() {
        assert_eq!(task_error(json!({"dataset": null})), ".dataset");
        assert_eq!(task_error(json!({"dataset": {}})), ".dataset");
        assert_eq!(
            task_error(json!({"dataset": {"split": "test"}})),
            ".dataset"
        );
        assert_eq!(
            task_error(json!({"dataset": {"file_id": "f", "path": "a/b"}})),
            ".dataset.source"
        );
        assert_task_ok(json!({"dataset": {"source": "file", "file_id": "f", "path": "a/b"}}));
        assert_task_ok(
            json!({"dataset": {"source": "huggingface", "file_id": "f", "path": "a/b"}}),
        );
        assert_eq!(
            task_error(json!({"dataset": {"source": "file", "path": "a/b"}})),
            ".dataset.file_id"
        );
        assert_eq!(
            task_error(json!({"dataset": {"file_id": ""}})),
            ".dataset.file_id"
        );
        assert_eq!(
            task_error(json!({"dataset": {"file_id": " "}})),
            ".dataset.file_id"
        );
        assert_eq!(
            task_error(json!({"dataset": {"source": "huggingface", "file_id": "f"}})),
            ".dataset.path"
        );
        assert_eq!(
            task_error(json!({"dataset": {"path": ""}})),
            ".dataset.path"
        );
        assert_eq!(
            task_error(json!({"dataset": {"source": "ftp", "path": "a"}})),
            ".dataset.source"
        );
        assert_eq!(
            task_error(json!({"dataset": {"path": "a", "format": "tsv"}})),
            ".dataset.format"
        );
    }

    #[test]
    fn max_rows_is_bounded() {
        for bad in [0, -1, 1_000_001] {
            assert_eq!(
                task_error(json!({"dataset": {"path": "a/b", "max_rows": bad}})),
                ".dataset.max_rows"
            );
        }
        assert_task_ok(json!({"dataset": {"path": "a/b", "max_rows": 1_000_000}}));
        assert_task_ok(json!({"dataset": {"path": "a/b", "max_rows": 1}}));
    }

    #[test]
    fn nested_datasets_are_checked() {
        assert_eq!(
            task_error(json!({"fewshot": {"count": 1, "dataset": {}}})),
            ".fewshot.dataset"
        );
        assert_eq!(
            task_error(json!({"fewshot": {"dataset": {"file_id": "f", "path": "p"}}})),
            ".fewshot.dataset.source"
        );
        assert_eq!(
            task_error(emb(
                json!({"kind": "classification", "train_dataset": {"path": ""}})
            )),
            ".embedding.train_dataset.path"
        );
        assert_eq!(
            task_error(emb(json!({
                "kind": "retrieval", "corpus_dataset": {"path": "a"},
                "qrels_dataset": {"file_id": "f", "max_rows": 0}
            }))),
            ".embedding.qrels_dataset.max_rows"
        );
        assert_eq!(
            task_error(emb(json!({
                "kind": "reranking", "corpus_dataset": {"source": "file"},
                "qrels_dataset": {"path": "a"}, "top_ranked_dataset": {"path": "b"}
            }))),
            ".embedding.corpus_dataset.file_id"
        );
        assert_eq!(
            task_error(emb(json!({
                "kind": "reranking", "corpus_dataset": {"path": "a"},
                "qrels_dataset": {"path": "a"}, "top_ranked_dataset": {}
            }))),
            ".embedding.top_ranked_dataset"
        );
    }

    #[test]
    fn hub_dataset_ids_and_fields_are_checked() {
        for good in ["squad", "google/boolq", "org-1/data_set.v2"] {
            assert!(is_hub_repo_id(good), "{good}");
        }
        for bad in [
            "",
            "../etc/passwd",
            "a/b/c",
            "acme/fixture?x=1",
            "a/.hidden",
            "a b/c",
            "a/b-",
        ] {
            assert!(!is_hub_repo_id(bad), "{bad}");
        }
    }

    #[test]
    fn transcription_needs_an_audio_column() {
        let asr = |dataset: Value| json!({"type": "transcription", "dataset": dataset});
        assert_eq!(
            task_error(asr(json!({"path": "a/b"}))),
            ".dataset.audio_column"
        );
        assert_eq!(
            task_error(asr(json!({"path": "a/b", "audio_column": ""}))),
            ".dataset.audio_column"
        );
        assert_task_ok(asr(json!({"path": "a/b", "audio_column": "audio"})));
    }

    #[test]
    fn embedding_config_goes_with_embedding_tasks() {
        assert_eq!(task_error(json!({"type": "embedding"})), ".embedding");
        assert_eq!(
            task_error(json!({"embedding": {"kind": "sts"}})),
            ".embedding"
        );
        assert_eq!(
            task_error(
                json!({"type": "transcription", "embedding": {"kind": "sts"},
                "dataset": {"path": "a", "audio_column": "audio"}})
            ),
            ".embedding"
        );
        assert_task_ok(emb(json!({"kind": "sts"})));
        assert_eq!(task_error(emb(json!({}))), ".embedding.kind");
        assert_eq!(
            task_error(emb(json!({"kind": "clustering"}))),
            ".embedding.kind"
        );
    }

    #[test]
    fn embedding_kinds_need_their_datasets() {
        let ds = json!({"path": "a/b"});
        for kind in ["classification", "multilabel_classification"] {
            assert_eq!(
                task_error(emb(json!({"kind": kind}))),
                ".embedding.train_dataset"
            );
            assert_task_ok(emb(json!({"kind": kind, "train_dataset": ds})));
        }
        assert_eq!(
            task_error(emb(json!({"kind": "retrieval", "qrels_dataset": ds}))),
            ".embedding.corpus_dataset"
        );
        assert_eq!(
            task_error(emb(json!({"kind": "retrieval", "corpus_dataset": ds}))),
            ".embedding.qrels_dataset"
        );
        assert_task_ok(emb(
            json!({"kind": "retrieval", "corpus_dataset": ds, "qrels_dataset": ds}),
        ));
        assert_eq!(
            task_error(emb(
                json!({"kind": "reranking", "corpus_dataset": ds, "qrels_dataset": ds})
            )),
            ".embedding.top_ranked_dataset"
        );
        assert_eq!(
            task_error(emb(json!({"kind": "reranking", "top_ranked_dataset": ds}))),
            ".embedding.corpus_dataset"
        );
        assert_task_ok(emb(json!({
            "kind": "reranking", "corpus_dataset": ds, "qrels_dataset": ds, "top_ranked_dataset": ds
        })));
    }

    #[test]
    fn embedding_numbers_are_bounded() {
        let cases = [
            ("samples_per_label", json!(0)),
            ("samples_per_label", json!(10_001)),
            ("n_experiments", json!(0)),
            ("n_experiments", json!(101)),
            ("max_chars", json!(0)),
            ("max_chars", json!(64_001)),
            ("max_texts", json!(0)),
            ("max_texts", json!(50_001)),
            ("seed", json!(MAX_SAFE_INT + 1)),
            ("seed", json!(-MAX_SAFE_INT - 1)),
            ("seed", json!(1.5)),
            ("k_values", json!([])),
            ("k_values", json!(5)),
        ];
        for (key, value) in cases {
            let mut config = json!({"kind": "sts"});
            config[key] = value.clone();
            assert_eq!(
                task_error(emb(config)),
                format!(".embedding.{key}"),
                "{key}={value}"
            );
        }
        for (ks, bad) in [
            (json!([0]), 0),
            (json!([1, 10_001]), 1),
            (json!([1, 5, 1]), 2),
        ] {
            assert_eq!(
                task_error(emb(json!({"kind": "sts", "k_values": ks}))),
                format!(".embedding.k_values[{bad}]")
            );
        }
        assert_task_ok(emb(json!({
            "kind": "sts", "samples_per_label": 10_000, "n_experiments": 100, "max_chars": 64_000,
            "max_texts": 50_000, "seed": -MAX_SAFE_INT, "k_values": [1, 10_000]
        })));
        assert_eq!(
            task_error(emb(json!({"kind": "sts", "text_column": ""}))),
            ".embedding.text_column"
        );
        assert_eq!(
            task_error(emb(json!({"kind": "sts", "corpus_ids_column": 1}))),
            ".embedding.corpus_ids_column"
        );
    }

    #[test]
    fn graders_are_checked() {
        let grader = |g: Value| json!({"grader": g});
        let src = "def grade(sample, item):\n    return 1.0\n";
        assert_eq!(
            task_error(grader(json!({"type": "js", "source": src}))),
            ".grader.type"
        );
        assert_eq!(task_error(grader(json!({}))), ".grader");
        assert_eq!(
            task_error(grader(json!({"source": src, "file_id": "f"}))),
            ".grader.file_id"
        );
        assert_eq!(task_error(grader(json!({"source": ""}))), ".grader.source");
        assert_eq!(
            task_error(grader(json!({"file_id": ""}))),
            ".grader.file_id"
        );
        assert_eq!(
            task_error(grader(json!({"source": src, "contract": "row"}))),
            ".grader.contract"
        );
        assert_eq!(
            task_error(grader(json!({"source": src, "execution": "parallel"}))),
            ".grader.execution"
        );
        assert_eq!(
            task_error(grader(json!({"source": src, "model_access": "openai"}))),
            ".grader.model_access"
        );
        assert_eq!(
            task_error(grader(json!({"source": src, "metric_id": ""}))),
            ".grader.metric_id"
        );
        for t in [0, 601, -5] {
            assert_eq!(
                task_error(grader(json!({"source": src, "timeout_seconds": t}))),
                ".grader.timeout_seconds"
            );
        }
        for n in [-1, 501] {
            assert_eq!(
                task_error(grader(json!({"source": src, "max_model_calls": n}))),
                ".grader.max_model_calls"
            );
        }
        assert_task_ok(grader(json!({
            "type": "python", "contract": "model_backed", "execution": "aggregate",
            "model_access": "none", "file_id": "f", "timeout_seconds": 600, "max_model_calls": 0
        })));
        assert_task_ok(grader(
            json!({"source": src, "timeout_seconds": 1, "max_model_calls": 500}),
        ));
        assert_task_ok(json!({"grader": null}));
    }

    #[test]
    fn preprocessors_are_checked() {
        let pre = |p: Value| json!({"preprocess": p});
        let src = "def transform(row):\n    return row\n";
        assert_eq!(
            task_error(pre(json!({"type": "js", "source": src}))),
            ".preprocess.type"
        );
        assert_eq!(
            task_error(pre(json!({"source": src, "contract": "sample"}))),
            ".preprocess.contract"
        );
        assert_eq!(task_error(pre(json!({}))), ".preprocess");
        assert_eq!(
            task_error(pre(json!({"source": src, "file_id": "f"}))),
            ".preprocess.file_id"
        );
        assert_eq!(
            task_error(pre(json!({"file_id": " "}))),
            ".preprocess.file_id"
        );
        for t in [0, 601] {
            assert_eq!(
                task_error(pre(json!({"source": src, "timeout_seconds": t}))),
                ".preprocess.timeout_seconds"
            );
        }
        assert_task_ok(pre(
            json!({"contract": "batch", "file_id": "f", "timeout_seconds": 600}),
        ));
    }

    #[test]
    fn fewshot_is_checked() {
        for c in [-1, 101] {
            assert_eq!(
                task_error(json!({"fewshot": {"count": c}})),
                ".fewshot.count"
            );
            assert_eq!(task_error(json!({"num_fewshot": c})), ".num_fewshot");
        }
        assert_eq!(
            task_error(json!({"fewshot": {"count": 3}, "num_fewshot": 2})),
            ".num_fewshot"
        );
        assert_task_ok(json!({"fewshot": {"count": 3}, "num_fewshot": 3}));
        assert_task_ok(json!({"fewshot": {"strategy": "random"}, "num_fewshot": 100}));
        assert_eq!(
            task_error(json!({"fewshot": {"strategy": "best"}})),
            ".fewshot.strategy"
        );
        assert_eq!(
            task_error(json!({"fewshot": {"seed": MAX_SAFE_INT + 1}})),
            ".fewshot.seed"
        );
        assert_eq!(
            task_error(json!({"fewshot": {"separator": 1}})),
            ".fewshot.separator"
        );
        assert_eq!(
            task_error(json!({"fewshot": {"example_template": ["x"]}})),
            ".fewshot.example_template"
        );
        assert_eq!(task_error(json!({"fewshot": "2"})), ".fewshot");
    }

    #[test]
    fn templates_must_be_valid_jinja() {
        assert_eq!(
            task_error(json!({"prompt_template": "Q: {{ question"})),
            ".prompt_template"
        );
        assert_eq!(
            task_error(json!({"target_template": "{% if x %}y"})),
            ".target_template"
        );
        assert_eq!(
            task_error(json!({"fewshot": {"prompt_template": "{{ }}"}})),
            ".fewshot.prompt_template"
        );
        assert_eq!(
            task_error(json!({"fewshot": {"target_template": "{% endif %}"}})),
            ".fewshot.target_template"
        );
        assert_eq!(
            task_error(json!({"fewshot": {"example_template": "{{prompt}}{{"}})),
            ".fewshot.example_template"
        );
        let err = validate(&with_task(json!({"prompt_template": "{{ q"}))).unwrap_err();
        assert!(
            err.message.starts_with("invalid template"),
            "{}",
            err.message
        );
        assert_task_ok(json!({
            "prompt_template": "{% for c in choices %}{{ c }}\n{% endfor %}{{ question }}",
            "target_template": "{{ answer | trim }}",
            "fewshot": {"example_template": "Q: {{prompt}}\nA: {{target}}"}
        }));
    }

    fn extraction(e: Value) -> Value {
        json!({"output_extraction": e})
    }

    #[test]
    fn extraction_type_is_required_and_closed() {
        assert_eq!(
            task_error(extraction(json!({"pattern": "x"}))),
            ".output_extraction.type"
        );
        let err = validate(&with_task(extraction(json!({"type": "json_path"})))).unwrap_err();
        assert_eq!(err.path, "manifest.tasks[1].output_extraction.type");
        assert!(err.message.contains("`json_path`"), "{}", err.message);
        for t in ["none", "number"] {
            assert_task_ok(extraction(json!({"type": t})));
        }
    }

    #[test]
    fn regex_extractions_are_checked() {
        for kind in ["regex", "regex_last"] {
            let re = |fields: Value| {
                let mut e = json!({"type": kind});
                if let (Some(e), Some(fields)) = (e.as_object_mut(), fields.as_object()) {
                    e.extend(fields.clone());
                }
                extraction(e)
            };
            let p = ".output_extraction";
            assert_eq!(task_error(re(json!({}))), format!("{p}.pattern"));
            assert_eq!(
                task_error(re(json!({"pattern": ""}))),
                format!("{p}.pattern")
            );
            assert_eq!(
                task_error(re(json!({"pattern": "(a"}))),
                format!("{p}.pattern")
            );
            assert_eq!(
                task_error(re(json!({"pattern": "a{2,1}"}))),
                format!("{p}.pattern")
            );
            assert_eq!(
                task_error(re(json!({"pattern": "a", "flags": "g"}))),
                format!("{p}.flags")
            );
            assert_eq!(
                task_error(re(json!({"pattern": "a", "flags": "I"}))),
                format!("{p}.flags")
            );
            assert_eq!(
                task_error(re(json!({"pattern": "(a)", "group": 2}))),
                format!("{p}.group")
            );
            assert_eq!(
                task_error(re(json!({"pattern": "(a)", "group": -1}))),
                format!("{p}.group")
            );
            assert_eq!(
                task_error(re(json!({"pattern": "a", "group": 1}))),
                format!("{p}.group")
            );
            assert_eq!(
                task_error(re(json!({"pattern": "(?P<x>a)", "group": "y"}))),
                format!("{p}.group")
            );
            assert_eq!(
                task_error(re(json!({"pattern": "(a)", "group": "1"}))),
                format!("{p}.group")
            );
            assert_eq!(
                task_error(re(json!({"pattern": "a", "group": 1.5}))),
                format!("{p}.group")
            );

            assert_task_ok(re(json!({"pattern": "a", "group": 0})));
            assert_task_ok(re(json!({"pattern": "(a)(b)", "group": 2})));
            assert_task_ok(re(json!({"pattern": "(?P<x>a)", "group": "x"})));
            assert_task_ok(re(
                json!({"pattern": "(?<ans>a)", "group": "ans", "flags": "imsxu"}),
            ));
            assert_task_ok(re(json!({"pattern": "(?<=answer: )\\w+", "flags": ""})));
            // `x` makes whitespace and `#` comments insignificant.
            assert_task_ok(re(json!({"pattern": "a # unbalanced (", "flags": "x"})));
            assert_eq!(
                task_error(re(json!({"pattern": "a # unbalanced ("}))),
                format!("{p}.pattern")
            );
        }
    }

    #[test]
    fn take_first_lines_are_bounded() {
        for lines in [0, 10_001] {
            assert_eq!(
                task_error(extraction(json!({"type": "take_first", "lines": lines}))),
                ".output_extraction.lines"
            );
        }
        assert_task_ok(extraction(json!({"type": "take_first"})));
        assert_task_ok(extraction(json!({"type": "take_first", "lines": 10_000})));
    }

    #[test]
    fn label_sets_are_checked() {
        let labels = |labels: Value, cs: bool| {
            extraction(json!({"type": "label_set", "labels": labels, "case_sensitive": cs}))
        };
        let p = ".output_extraction.labels";
        assert_eq!(task_error(labels(json!([]), false)), p);
        assert_eq!(
            task_error(labels(json!(["a", ""]), false)),
            format!("{p}[1]")
        );
        assert_eq!(
            task_error(labels(json!(["Yes", "No", "yes"]), false)),
            format!("{p}[2]")
        );
        assert_eq!(
            task_error(labels(json!(["a", "a"]), true)),
            format!("{p}[1]")
        );
        assert_task_ok(labels(json!(["Yes", "yes"]), true));
        assert_eq!(
            task_error(extraction(
                json!({"type": "label_set", "labels": ["a"], "case_sensitive": 1})
            )),
            ".output_extraction.case_sensitive"
        );
    }

    #[test]
    fn metric_ids_are_checked() {
        assert_eq!(
            task_error(json!({"metrics": [{"id": ""}]})),
            ".metrics[0].id"
        );
        assert_eq!(task_error(json!({"metrics": [{}]})), ".metrics[0].id");
        assert_eq!(
            task_error(json!({"metrics": [{"id": "a"}, {"id": "a"}]})),
            ".metrics[1].id"
        );
        assert_eq!(
            task_error(json!({"metrics": [{"id": "a", "aggregation": "max"}]})),
            ".metrics[0].aggregation"
        );
        assert_eq!(
            task_error(json!({"metrics": [{"id": "a", "higher_is_better": "yes"}]})),
            ".metrics[0].higher_is_better"
        );
        assert_task_ok(json!({"metrics": [{"id": "a", "aggregation": "none"}, {"id": "b"}]}));
        // The same metric id in two tasks is fine.
        let mut m = with_task(json!({"metrics": [{"id": "acc"}]}));
        m["tasks"][0]["metrics"] = json!([{"id": "acc"}]);
        assert!(validate(&m).is_ok());
    }

    #[test]
    fn integers_stay_within_the_safe_range() {
        assert_eq!(
            task_error(json!({"metadata": {"n": MAX_SAFE_INT + 1}})),
            ".metadata.n"
        );
        assert_eq!(
            task_error(json!({"metadata": {"deep": [1, {"n": -MAX_SAFE_INT - 1}]}})),
            ".metadata.deep[1].n"
        );
        assert_eq!(
            task_error(json!({"dataset": {"path": "a", "dataset_kwargs": {"x": u64::MAX}}})),
            ".dataset.dataset_kwargs.x"
        );
        assert_eq!(
            task_error(json!({"grader": {"source": "x", "timeout_seconds": u64::MAX}})),
            ".grader.timeout_seconds"
        );
        let mut m = with_task(json!({}));
        m["metadata"] = json!({"big": MAX_SAFE_INT + 1});
        assert_eq!(validate(&m).unwrap_err().path, "manifest.metadata.big");
        assert_task_ok(
            json!({"metadata": {"max": MAX_SAFE_INT, "min": -MAX_SAFE_INT, "f": 1e300}}),
        );
    }

    #[test]
    fn top_level_fields_have_their_types() {
        let mut m = with_task(json!({}));
        m["schema_version"] = json!(5);
        assert_eq!(validate(&m).unwrap_err().path, "manifest.schema_version");
        let mut m = with_task(json!({}));
        m["metadata"] = json!("x");
        assert_eq!(validate(&m).unwrap_err().path, "manifest.metadata");
        assert_eq!(task_error(json!({"metadata": []})), ".metadata");
        assert_eq!(task_error(json!({"choices": "A"})), ".choices");
        assert_eq!(task_error(json!({"name": 1})), ".name");
        assert_eq!(task_error(json!({"language": false})), ".language");
    }

    #[test]
    fn paths_follow_the_given_base() {
        let m = json!({"tasks": [{"id": "", "type": "qa", "dataset": {"path": "a"}}]});
        assert_eq!(validate_manifest(&m, "").unwrap_err().path, "tasks[0].id");
        assert_eq!(
            validate_manifest(&m, "body.manifest").unwrap_err().path,
            "body.manifest.tasks[0].id"
        );
    }

    #[test]
    fn unknown_keys_and_nulls_are_accepted() {
        let mut m = rich();
        m["x-extension"] = json!({"any": "thing"});
        m["tasks"][0]["future_field"] = json!(1);
        m["tasks"][0]["grader"]["sandbox"] = json!("v2");
        m["tasks"][0]["name"] = Value::Null;
        m["tasks"][1]["output_extraction"]["group"] = Value::Null;
        m["tasks"][2]["embedding"]["k_values"] = Value::Null;
        let valid = validate(&m).unwrap();
        assert!(valid.tasks[0].name.is_none());
    }
}
