//! One results file and its samples as one Assay run to import (E29).
//!
//! [`import_run`] reads a results file and the samples files found for it
//! ([`crate::layout::find_samples`]), recomputes the aggregates from the samples, checks them
//! against the results file, and returns everything an importer writes:
//!
//! - the run: model, times, lm-eval's settings as string metadata, and an [`ImportIdentity`]
//!   that tells an already imported file;
//! - the tasks, as suite-manifest tasks: id (the lm-eval task name), a type guess, the prompt
//!   and target templates when they are Jinja, the dataset, the metrics with their
//!   aggregation and direction;
//! - the samples (one per document, all filters merged): index = `doc_id`, prompt, target,
//!   raw output, extracted output, per-sample scores;
//! - the aggregates per task and metric key, with where each number came from.
//!
//! # Metric keys
//!
//! lm-eval scores a metric once per filter and keys its results `"METRIC,FILTER"`. Assay keys
//! scores by one string, named by [`assay_metric_key`]: the bare metric name for lm-eval's
//! default filter `none` (`exact_match`, `acc`), and lm-eval's own `"METRIC,FILTER"` for any
//! other filter (`exact_match,strict-match`, `exact_match,flexible-extract`). So unfiltered
//! metrics line up with the same metrics of runs Assay executes itself, and a filtered key is
//! the results-file key verbatim. The mapping is one to one: lm-eval metric names contain no
//! comma, and [`split_assay_metric_key`] splits at the first one.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::layout::{dir_name, file_name, parse_results_file_name, parse_samples_file_name};
use crate::pyjson::quote_non_finite;
use crate::recompute::{
    aggregate_task, verify, MetricAggregate, Recomputed, Verification, TOLERANCE,
};
use crate::results::{Reported, ResultsFile, TaskConfig, TaskResults, NO_FILTER};
use crate::samples::{parse_samples, text_of, SampleLine};

/// The Assay score key of an lm-eval (metric, filter): `metric` for the filter `none`, else
/// `metric,filter` (see the module docs).
pub fn assay_metric_key(metric: &str, filter: &str) -> String {
    if filter == NO_FILTER {
        metric.to_string()
    } else {
        format!("{metric},{filter}")
    }
}

/// The lm-eval (metric, filter) of an Assay score key; the inverse of [`assay_metric_key`].
pub fn split_assay_metric_key(key: &str) -> (&str, &str) {
    key.split_once(',').unwrap_or((key, NO_FILTER))
}

/// Longest Assay task id.
pub const MAX_TASK_ID_LEN: usize = 128;

/// The Assay task id of an lm-eval task name: the name itself when it is a valid id (1–128
/// letters, digits, `_`, `.`, `-`), else the name with every other character replaced by `_`,
/// cut to 128 characters.
pub fn assay_task_id(name: &str) -> String {
    let mut id: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(MAX_TASK_ID_LEN)
        .collect();
    if id.is_empty() {
        id.push('_');
    }
    id
}

/// What tells a results file already imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportIdentity {
    /// Lower-case hex sha256 of the results file's bytes.
    pub sha256: String,
    /// `lm-eval:sha256:<sha256>`: store it with the run (e.g. as an idempotency key) and skip
    /// a file whose key is already there.
    pub key: String,
}

impl ImportIdentity {
    /// The identity of a results file's bytes.
    ///
    /// The bytes, not the path or the commit: the same file found under another path or at
    /// another revision is the same run, and lm-eval's results file already commits to its
    /// samples (`task_hashes` over each sample's document, prompt and target hashes) and its
    /// start time, so two runs never share one.
    pub fn of(results_bytes: &[u8]) -> Self {
        let digest = Sha256::digest(results_bytes);
        let sha256: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        ImportIdentity {
            key: format!("lm-eval:sha256:{sha256}"),
            sha256,
        }
    }
}

/// A file handed to [`import_run`]: its path (as named in errors and metadata) and bytes.
#[derive(Debug, Clone, Copy)]
pub struct SourceFile<'a> {
    /// The path, `/`-separated.
    pub path: &'a str,
    /// The contents.
    pub bytes: &'a [u8],
}

/// Assay's task types that an lm-eval task maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskType {
    /// `generate_until`: free-form generation scored against a target.
    Qa,
    /// `multiple_choice`.
    MultipleChoice,
    /// Everything else (`loglikelihood`, `loglikelihood_rolling`, unknown).
    Custom,
}

impl TaskType {
    /// The guess for an lm-eval `output_type`.
    pub fn guess(output_type: Option<&str>) -> Self {
        match output_type {
            Some("generate_until") => TaskType::Qa,
            Some("multiple_choice") => TaskType::MultipleChoice,
            _ => TaskType::Custom,
        }
    }

    /// The manifest's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskType::Qa => "qa",
            TaskType::MultipleChoice => "multiple_choice",
            TaskType::Custom => "custom",
        }
    }
}

/// How Assay rolls a metric up from its per-sample scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AssayAggregation {
    /// lm-eval means it: Assay's mean of the scores is the same number.
    Mean,
    /// lm-eval aggregates it otherwise (a corpus score, a perplexity): the per-sample values
    /// are not to be averaged; the task-level number is in [`ImportedRun::aggregates`].
    None,
}

/// A metric of an imported task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportedMetric {
    /// The Assay score key ([`assay_metric_key`]).
    pub id: String,
    /// lm-eval's metric.
    pub metric: String,
    /// lm-eval's filter.
    pub filter: String,
    /// How Assay aggregates it.
    pub aggregation: AssayAggregation,
    /// How lm-eval aggregates it.
    pub lm_eval_aggregation: String,
    /// Whether higher is better (the results file's word, else lm-eval's convention for the
    /// metric: lower for perplexities, bits per byte, TER and Brier score).
    pub higher_is_better: bool,
}

/// The dataset of an imported task, in the manifest's terms.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportedDataset {
    /// Hugging Face path (or loader, e.g. `json`).
    pub path: Option<String>,
    /// Configuration name.
    pub name: Option<String>,
    /// The split evaluated.
    pub split: Option<String>,
    /// `dataset_kwargs.revision`.
    pub revision: Option<String>,
    /// `dataset_kwargs.data_files`.
    pub data_files: Option<Value>,
    /// All of lm-eval's `dataset_kwargs`.
    pub dataset_kwargs: Option<Value>,
}

/// A task of an imported run, as a suite-manifest task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportedTask {
    /// Assay task id ([`assay_task_id`] of the lm-eval name).
    pub id: String,
    /// lm-eval's task name.
    pub lm_eval_task: String,
    /// A display name: lm-eval's alias, when it differs from the name.
    pub name: Option<String>,
    /// The type guess.
    #[serde(rename = "type")]
    pub task_type: TaskType,
    /// lm-eval's `output_type`.
    pub output_type: Option<String>,
    /// lm-eval's `doc_to_text` when it is a Jinja template (it may also be a column name or a
    /// function, which are not templates).
    pub prompt_template: Option<String>,
    /// lm-eval's `doc_to_target` when it is a Jinja template.
    pub target_template: Option<String>,
    /// Few-shot examples per prompt.
    pub num_fewshot: Option<u64>,
    /// The dataset.
    pub dataset: ImportedDataset,
    /// The metrics, in results-file order.
    pub metrics: Vec<ImportedMetric>,
    /// The key a board should rank by: the first `metric_list` metric under the first filter.
    pub primary_metric: Option<String>,
    /// lm-eval's task version.
    pub version: Option<Value>,
    /// For the manifest task's `metadata`: the source, lm-eval's name, version, output type,
    /// filter names and full configuration (`lm_eval_config`).
    pub metadata: Map<String, Value>,
}

/// The output of one filter for a document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FilteredOutput {
    /// The filter.
    pub filter: String,
    /// The filtered response, as text.
    pub output: Option<String>,
}

/// A sample of an imported run: one document of one task, every filter merged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportedSample {
    /// The Assay task id.
    pub task_id: String,
    /// The sample index: lm-eval's `doc_id`.
    pub index: u64,
    /// The prompt sent: the first request's context (with a chat template, the JSON text of
    /// the messages; [`crate::chat_messages`] reads them); `""` when not logged.
    pub prompt: String,
    /// The target.
    pub target: Option<String>,
    /// The model's raw output (the first response of the first request).
    pub output_text: Option<String>,
    /// The output after the task's first filter (in `filter_list` order): what was scored
    /// under [`ImportedTask::primary_metric`].
    pub extracted_output: Option<String>,
    /// The output after every filter, in `filter_list` order.
    pub filtered_outputs: Vec<FilteredOutput>,
    /// Per-sample values by Assay score key, as lm-eval logged them (numbers for mean
    /// metrics; for corpus metrics the item lm-eval aggregates, e.g. `[reference,
    /// prediction]` for `bleu`, which means skip).
    pub scores: Map<String, Value>,
    /// The dataset row (`doc`; a non-object document is wrapped as `{"doc": …}`).
    pub dataset_row: Option<Map<String, Value>>,
    /// lm-eval's sha256 of the document.
    pub doc_hash: Option<String>,
    /// lm-eval's sha256 of the prompt.
    pub prompt_hash: Option<String>,
    /// lm-eval's sha256 of the target.
    pub target_hash: Option<String>,
}

/// Where an aggregate number came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberSource {
    /// Recomputed from the samples.
    Recomputed,
    /// Taken from the results file, the samples being unable to give it.
    Reported,
}

/// A task-level number of an imported run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportedAggregate {
    /// The Assay task id.
    pub task_id: String,
    /// The Assay score key.
    pub key: String,
    /// lm-eval's metric.
    pub metric: String,
    /// lm-eval's filter.
    pub filter: String,
    /// lm-eval's aggregation.
    pub aggregation: String,
    /// Per-sample values behind it (0 when only the results file has it).
    pub n: usize,
    /// The value; `None` when neither side has a number.
    pub value: Option<f64>,
    /// Where [`ImportedAggregate::value`] came from.
    pub value_source: Option<NumberSource>,
    /// The standard error; `None` where lm-eval has none (`"N/A"`).
    pub stderr: Option<f64>,
    /// Where [`ImportedAggregate::stderr`] came from.
    pub stderr_source: Option<NumberSource>,
}

/// One results file as one completed Assay run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportedRun {
    /// What tells this file already imported.
    pub identity: ImportIdentity,
    /// The results file's path.
    pub results_path: String,
    /// The timestamp in its name.
    pub timestamp: Option<String>,
    /// The model ([`ResultsFile::model`], else the results file's directory name).
    pub model: String,
    /// lm-eval's model type (`hf`, `vllm`, `local-chat-completions`, …).
    pub model_source: Option<String>,
    /// Unix seconds lm-eval started.
    pub date: Option<f64>,
    /// lm-eval's version.
    pub lm_eval_version: Option<String>,
    /// For the run's `metadata` (strings only): `source`, and lm-eval's settings under
    /// `lm_eval.*` (`results_path`, `results_sha256`, `timestamp`, `version`, `model_source`,
    /// `model_args`, `gen_kwargs`, `limit`, `num_fewshot`, `git_hash`, …), those present.
    pub metadata: BTreeMap<String, String>,
    /// The tasks with samples, in results-file order.
    pub tasks: Vec<ImportedTask>,
    /// The samples, by task then index.
    pub samples: Vec<ImportedSample>,
    /// The task-level numbers, by task in results-file order.
    pub aggregates: Vec<ImportedAggregate>,
    /// The results file's numbers compared with the samples.
    pub verification: Verification,
    /// Tasks of the results file without a samples file (not imported).
    pub tasks_without_samples: Vec<String>,
    /// Groups of the results file (aggregates over other tasks; not imported as tasks).
    pub groups: Vec<String>,
    /// Anything else worth telling (samples files of tasks the results file lacks, …).
    pub warnings: Vec<String>,
}

impl ImportedRun {
    /// Whether every number the samples can give equals the results file's.
    pub fn is_consistent(&self) -> bool {
        self.verification.is_consistent()
    }
}

/// Metrics lm-eval reports where lower is better.
const LOWER_IS_BETTER: [&str; 6] = [
    "perplexity",
    "word_perplexity",
    "byte_perplexity",
    "bits_per_byte",
    "ter",
    "brier_score",
];

fn is_jinja(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

fn jinja_of(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .filter(|s| is_jinja(s))
        .map(str::to_string)
}

fn metadata_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::Object(m) if m.is_empty() => None,
        other => Some(text_of(other)),
    }
}

/// Reads a results file and its samples files (each named `samples_<task>_<ts>.jsonl`) as one
/// run; see the module docs. Errors name the file, line and field of what cannot be read;
/// numbers that disagree are not errors but [`ImportedRun::verification`]'s differences.
pub fn import_run(
    results_file: SourceFile<'_>,
    samples_files: &[SourceFile<'_>],
) -> Result<ImportedRun, Error> {
    let results = ResultsFile::parse(results_file.path, results_file.bytes)?;
    let raw_configs = raw_configs(results_file)?;
    let identity = ImportIdentity::of(results_file.bytes);
    let timestamp =
        parse_results_file_name(file_name(results_file.path)).map(|n| n.timestamp.to_string());
    let model = results
        .model()
        .or_else(|| Some(file_name(dir_name(results_file.path)).to_string()).filter(|d| !d.is_empty()))
        .ok_or_else(|| {
            Error::new(
                results_file.path,
                "names no model (`model_name`, `config.model_args`) and has no directory to name it",
            )
        })?;

    let mut warnings = Vec::new();
    let task_names: Vec<&str> = results.tasks().iter().map(|t| t.task.as_str()).collect();
    let mut samples: BTreeMap<String, Vec<SampleLine>> = BTreeMap::new();
    for file in samples_files {
        let Some(name) = parse_samples_file_name(file_name(file.path)) else {
            return Err(Error::new(
                file.path,
                "not a samples file name (`samples_<task>_<timestamp>.jsonl`)",
            ));
        };
        if !task_names.contains(&name.task) {
            warnings.push(format!(
                "{}: task `{}` is not in the results file; ignored",
                file.path, name.task
            ));
            continue;
        }
        if samples.contains_key(name.task) {
            return Err(Error::new(
                file.path,
                format!("a second samples file for task `{}`", name.task),
            ));
        }
        samples.insert(name.task.to_string(), parse_samples(file.path, file.bytes)?);
    }

    let verification = verify(&results, &samples, TOLERANCE);
    let mut ids: Vec<String> = Vec::new();
    let mut tasks = Vec::new();
    let mut imported_samples = Vec::new();
    let mut aggregates = Vec::new();
    let mut tasks_without_samples = Vec::new();
    for entry in results.tasks() {
        let Some(lines) = samples.get(&entry.task) else {
            tasks_without_samples.push(entry.task.clone());
            continue;
        };
        let id = unique_id(&mut ids, &entry.task);
        let config = results.configs.get(&entry.task);
        let computed = aggregate_task(&entry.task, config, lines, results.bootstrap_iters());
        let task = imported_task(
            &results,
            entry,
            config,
            raw_configs.get(&entry.task),
            &computed,
            id.clone(),
        );
        let filters = filter_order(config, lines);
        imported_samples.extend(merge_samples(&id, &filters, lines));
        aggregates.extend(imported_aggregates(&id, entry, &computed));
        tasks.push(task);
    }

    let metadata = run_metadata(&results, results_file.path, &identity, timestamp.as_deref());
    Ok(ImportedRun {
        identity,
        results_path: results_file.path.to_string(),
        timestamp,
        model,
        model_source: results.model_source.clone(),
        date: results.date(),
        lm_eval_version: results.lm_eval_version.clone(),
        metadata,
        tasks,
        samples: imported_samples,
        aggregates,
        verification,
        tasks_without_samples,
        groups: results
            .group_names()
            .iter()
            .map(|g| g.to_string())
            .collect(),
        warnings,
    })
}

/// Each task's configuration as written (for the task metadata).
fn raw_configs(file: SourceFile<'_>) -> Result<Map<String, Value>, Error> {
    let text = std::str::from_utf8(file.bytes).map_err(|e| Error::new(file.path, e.to_string()))?;
    let value: Value = serde_json::from_str(&quote_non_finite(text))
        .map_err(|e| Error::from_json(file.path, &e, 0))?;
    Ok(match value {
        Value::Object(mut top) => match top.remove("configs") {
            Some(Value::Object(configs)) => configs,
            _ => Map::new(),
        },
        _ => Map::new(),
    })
}

fn unique_id(taken: &mut Vec<String>, name: &str) -> String {
    let base = assay_task_id(name);
    let mut id = base.clone();
    let mut n = 2;
    while taken.contains(&id) {
        let suffix = format!("-{n}");
        let keep = MAX_TASK_ID_LEN.saturating_sub(suffix.len()).min(base.len());
        id = format!("{}{suffix}", &base[..keep]);
        n += 1;
    }
    taken.push(id.clone());
    id
}

/// The task's filters: those of `filter_list` the samples have, in its order, then any other
/// filter of the samples in order of appearance.
fn filter_order(config: Option<&TaskConfig>, lines: &[SampleLine]) -> Vec<String> {
    let present = |f: &str| lines.iter().any(|l| l.filter == f);
    let mut order: Vec<String> = config
        .map(|c| c.filter_names())
        .unwrap_or_default()
        .into_iter()
        .filter(|f| present(f))
        .map(str::to_string)
        .collect();
    for line in lines {
        if !order.contains(&line.filter) {
            order.push(line.filter.clone());
        }
    }
    order
}

fn imported_task(
    results: &ResultsFile,
    entry: &TaskResults,
    config: Option<&TaskConfig>,
    raw_config: Option<&Value>,
    computed: &[MetricAggregate],
    id: String,
) -> ImportedTask {
    let name = &entry.task;
    let mut keys: Vec<(String, String)> = entry
        .metrics
        .iter()
        .map(|m| (m.metric.clone(), m.filter.clone()))
        .collect();
    for a in computed {
        if !keys.iter().any(|(m, f)| m == &a.metric && f == &a.filter) {
            keys.push((a.metric.clone(), a.filter.clone()));
        }
    }
    let metrics: Vec<ImportedMetric> = keys
        .iter()
        .map(|(metric, filter)| {
            let (aggregation, _) = crate::recompute::aggregation_of(config, metric);
            ImportedMetric {
                id: assay_metric_key(metric, filter),
                metric: metric.clone(),
                filter: filter.clone(),
                aggregation: if aggregation == crate::recompute::Aggregation::Mean {
                    AssayAggregation::Mean
                } else {
                    AssayAggregation::None
                },
                lm_eval_aggregation: aggregation.name().to_string(),
                higher_is_better: results
                    .higher_is_better(name, metric)
                    .unwrap_or(!LOWER_IS_BETTER.contains(&metric.as_str())),
            }
        })
        .collect();
    let primary_metric = config
        .and_then(|c| {
            let metric = c.metric_list.as_deref()?.first()?.metric.as_str();
            let filter = c.filter_names().first().copied()?;
            let key = assay_metric_key(metric, filter);
            metrics.iter().any(|m| m.id == key).then_some(key)
        })
        .or_else(|| metrics.first().map(|m| m.id.clone()));

    let dataset_kwargs = config
        .and_then(|c| c.dataset_kwargs.clone())
        .filter(|v| !v.is_null());
    let dataset = ImportedDataset {
        path: config.and_then(|c| c.dataset_path.clone()),
        name: config.and_then(|c| c.dataset_name.clone()),
        split: config.and_then(|c| c.split().map(str::to_string)),
        revision: dataset_kwargs
            .as_ref()
            .and_then(|k| k.get("revision"))
            .and_then(Value::as_str)
            .map(str::to_string),
        data_files: dataset_kwargs
            .as_ref()
            .and_then(|k| k.get("data_files"))
            .cloned(),
        dataset_kwargs,
    };
    let num_fewshot = results
        .n_shot
        .get(name)
        .and_then(Value::as_u64)
        .or_else(|| config.and_then(|c| c.num_fewshot.as_ref()?.as_u64()));
    let version = results.versions.get(name).cloned();
    let output_type = config.and_then(|c| c.output_type.clone());

    let mut metadata = Map::new();
    metadata.insert("source".into(), Value::from("lm-eval-harness"));
    metadata.insert("lm_eval_task".into(), Value::from(name.as_str()));
    if let Some(v) = &version {
        metadata.insert("lm_eval_version".into(), v.clone());
    }
    if let Some(t) = &output_type {
        metadata.insert("output_type".into(), Value::from(t.as_str()));
    }
    if let Some(c) = config.filter(|c| c.filter_list.is_some()) {
        let names: Vec<Value> = c.filter_names().into_iter().map(Value::from).collect();
        metadata.insert("filters".into(), Value::Array(names));
    }
    if let Some(raw) = raw_config {
        metadata.insert("lm_eval_config".into(), raw.clone());
    }

    let alias = entry
        .alias
        .as_deref()
        .map(|a| a.trim_start_matches([' ', '-']).trim())
        .filter(|a| !a.is_empty() && a != name)
        .map(str::to_string);
    ImportedTask {
        id,
        lm_eval_task: name.clone(),
        name: alias,
        task_type: TaskType::guess(output_type.as_deref()),
        output_type,
        prompt_template: config.and_then(|c| jinja_of(c.doc_to_text.as_ref())),
        target_template: config.and_then(|c| jinja_of(c.doc_to_target.as_ref())),
        num_fewshot,
        dataset,
        metrics,
        primary_metric,
        version,
        metadata,
    }
}

/// One sample per document, in `doc_id` order, with every filter's lines merged.
fn merge_samples(task_id: &str, filters: &[String], lines: &[SampleLine]) -> Vec<ImportedSample> {
    let mut by_doc: BTreeMap<u64, Vec<&SampleLine>> = BTreeMap::new();
    for line in lines {
        by_doc.entry(line.doc_id).or_default().push(line);
    }
    let rank = |filter: &str| {
        filters
            .iter()
            .position(|f| f == filter)
            .unwrap_or(usize::MAX)
    };
    by_doc
        .into_iter()
        .filter_map(|(doc_id, mut doc_lines)| {
            doc_lines.sort_by_key(|l| rank(&l.filter));
            let first = *doc_lines.first()?;
            let mut scores = Map::new();
            for line in &doc_lines {
                for (metric, value) in &line.values {
                    scores.insert(assay_metric_key(metric, &line.filter), value.clone());
                }
            }
            let dataset_row = match &first.doc {
                Value::Null => None,
                Value::Object(m) => Some(m.clone()),
                other => {
                    let mut m = Map::new();
                    m.insert("doc".into(), other.clone());
                    Some(m)
                }
            };
            Some(ImportedSample {
                task_id: task_id.to_string(),
                index: doc_id,
                prompt: first.prompt().unwrap_or_default(),
                target: first.target_text(),
                output_text: first.response(),
                extracted_output: first.filtered_response(),
                filtered_outputs: doc_lines
                    .iter()
                    .map(|l| FilteredOutput {
                        filter: l.filter.clone(),
                        output: l.filtered_response(),
                    })
                    .collect(),
                scores,
                dataset_row,
                doc_hash: first.doc_hash.clone(),
                prompt_hash: first.prompt_hash.clone(),
                target_hash: first.target_hash.clone(),
            })
        })
        .collect()
}

fn imported_aggregates(
    task_id: &str,
    entry: &TaskResults,
    computed: &[MetricAggregate],
) -> Vec<ImportedAggregate> {
    let mut out = Vec::new();
    for a in computed {
        let reported = entry.metric(&a.metric, &a.filter);
        let reported_value = reported
            .and_then(|r| r.value.as_ref())
            .and_then(Reported::as_f64);
        let reported_stderr = reported
            .and_then(|r| r.stderr.as_ref())
            .and_then(Reported::as_f64);
        let (value, value_source) = match (&a.value, reported_value) {
            (Recomputed::Value(x), _) => (Some(*x), Some(NumberSource::Recomputed)),
            (_, Some(r)) => (Some(r), Some(NumberSource::Reported)),
            _ => (None, None),
        };
        let (stderr, stderr_source) = match (&a.stderr, reported_stderr) {
            (Recomputed::Value(x), _) => (Some(*x), Some(NumberSource::Recomputed)),
            (Recomputed::NotAvailable, _) => (None, None),
            (Recomputed::NotRecomputable(_), Some(r)) => (Some(r), Some(NumberSource::Reported)),
            (Recomputed::NotRecomputable(_), None) => (None, None),
        };
        out.push(ImportedAggregate {
            task_id: task_id.to_string(),
            key: assay_metric_key(&a.metric, &a.filter),
            metric: a.metric.clone(),
            filter: a.filter.clone(),
            aggregation: a.aggregation.name().to_string(),
            n: a.n,
            value,
            value_source,
            stderr,
            stderr_source,
        });
    }
    // Numbers of the results file that the samples have no values of.
    for m in &entry.metrics {
        if computed
            .iter()
            .any(|a| a.metric == m.metric && a.filter == m.filter)
        {
            continue;
        }
        let value = m.value.as_ref().and_then(Reported::as_f64);
        let stderr = m.stderr.as_ref().and_then(Reported::as_f64);
        out.push(ImportedAggregate {
            task_id: task_id.to_string(),
            key: assay_metric_key(&m.metric, &m.filter),
            metric: m.metric.clone(),
            filter: m.filter.clone(),
            aggregation: String::new(),
            n: 0,
            value,
            value_source: value.map(|_| NumberSource::Reported),
            stderr,
            stderr_source: stderr.map(|_| NumberSource::Reported),
        });
    }
    out
}

fn run_metadata(
    results: &ResultsFile,
    path: &str,
    identity: &ImportIdentity,
    timestamp: Option<&str>,
) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert("source".into(), "lm-eval-harness".into());
    m.insert("lm_eval.results_path".into(), path.to_string());
    m.insert("lm_eval.results_sha256".into(), identity.sha256.clone());
    let mut put = |key: &str, value: Option<String>| {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            m.insert(format!("lm_eval.{key}"), v);
        }
    };
    put("timestamp", timestamp.map(str::to_string));
    put("version", results.lm_eval_version.clone());
    put("model_source", results.model_source.clone());
    put("model", results.config.model.clone());
    put(
        "model_args",
        results.config.model_args.as_ref().and_then(metadata_text),
    );
    put(
        "gen_kwargs",
        results.config.gen_kwargs.as_ref().and_then(metadata_text),
    );
    put(
        "limit",
        results.config.limit.as_ref().and_then(metadata_text),
    );
    put(
        "bootstrap_iters",
        results.config.bootstrap_iters.map(|b| b.to_string()),
    );
    put("git_hash", results.git_hash.clone());
    put("system_instruction", results.system_instruction.clone());
    put(
        "fewshot_as_multiturn",
        results.fewshot_as_multiturn.map(|b| b.to_string()),
    );
    put(
        "total_evaluation_time_seconds",
        results
            .total_evaluation_time_seconds
            .as_ref()
            .and_then(metadata_text),
    );
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn metric_keys_round_trip() {
        assert_eq!(assay_metric_key("exact_match", "none"), "exact_match");
        assert_eq!(
            assay_metric_key("exact_match", "strict-match"),
            "exact_match,strict-match"
        );
        assert_eq!(
            split_assay_metric_key("exact_match"),
            ("exact_match", "none")
        );
        assert_eq!(
            split_assay_metric_key("exact_match,flexible-extract"),
            ("exact_match", "flexible-extract")
        );
        assert_eq!(split_assay_metric_key("m,a,b"), ("m", "a,b"));
    }

    #[test]
    fn task_ids_are_valid_assay_ids() {
        assert_eq!(
            assay_task_id("leaderboard_bbh_boolean_expressions"),
            "leaderboard_bbh_boolean_expressions"
        );
        assert_eq!(assay_task_id("mmlu (5-shot)/x"), "mmlu__5-shot__x");
        assert_eq!(assay_task_id(""), "_");
        assert_eq!(assay_task_id(&"a".repeat(300)).len(), MAX_TASK_ID_LEN);
        let mut taken = Vec::new();
        assert_eq!(unique_id(&mut taken, "a b"), "a_b");
        assert_eq!(unique_id(&mut taken, "a/b"), "a_b-2");
        assert_eq!(unique_id(&mut taken, "a:b"), "a_b-3");
    }

    #[test]
    fn identity_is_the_sha256_of_the_bytes() {
        let id = ImportIdentity::of(b"abc");
        assert_eq!(
            id.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(id.key, format!("lm-eval:sha256:{}", id.sha256));
    }

    fn results_json() -> Value {
        json!({
            "results": {
                "t": {"alias": "t", "acc,none": 0.5, "acc_stderr,none": 0.5,
                      "ppl,none": 12.5, "ppl_stderr,none": "N/A", "bleu,none": 40.0, "bleu_stderr,none": 3.0},
                "no_samples": {"acc,none": 1.0}
            },
            "configs": {"t": {"task": "t", "output_type": "generate_until",
                              "doc_to_text": "Q: {{q}}", "doc_to_target": "answer",
                              "metric_list": [{"metric": "acc", "aggregation": "mean"},
                                              {"metric": "ppl", "aggregation": "weighted_perplexity", "higher_is_better": false},
                                              {"metric": "bleu"}],
                              "dataset_path": "json", "test_split": "test",
                              "dataset_kwargs": {"data_files": {"test": "t.jsonl"}, "revision": "abc"}}},
            "n-shot": {"t": 0},
            "n-samples": {"t": {"original": 2, "effective": 2}},
            "config": {"model": "hf", "model_args": "pretrained=org/m,dtype=auto", "bootstrap_iters": 1000},
            "model_name": "org/m",
            "lm_eval_version": "0.4.9"
        })
    }

    fn sample(doc_id: u64, acc: f64, ppl: [f64; 2]) -> String {
        json!({"doc_id": doc_id, "doc": {"q": doc_id}, "target": "x",
               "arguments": {"gen_args_0": {"arg_0": format!("Q: {doc_id}"), "arg_1": {}}},
               "resps": [["out"]], "filtered_resps": ["out"], "filter": "none",
               "metrics": ["acc", "ppl", "bleu"], "acc": acc, "ppl": ppl, "bleu": ["x", "out"]})
        .to_string()
    }

    #[test]
    fn maps_a_run() {
        let results = results_json().to_string();
        // weighted perplexity: exp(-(-3 + -5) / (2 + 2)) = exp(2)
        let samples = format!(
            "{}\n{}\n",
            sample(1, 1.0, [-3.0, 2.0]),
            sample(0, 0.0, [-5.0, 2.0])
        );
        let ts = "2024-01-01T00-00-00.000001";
        let results_path = format!("org__m/results_{ts}.json");
        let samples_path = format!("org__m/samples_t_{ts}.jsonl");
        let run = import_run(
            SourceFile {
                path: &results_path,
                bytes: results.as_bytes(),
            },
            &[SourceFile {
                path: &samples_path,
                bytes: samples.as_bytes(),
            }],
        )
        .expect("imports");
        assert_eq!(run.model, "org/m");
        assert_eq!(run.timestamp.as_deref(), Some(ts));
        assert_eq!(run.tasks_without_samples, vec!["no_samples"]);
        assert_eq!(
            run.metadata["lm_eval.model_args"],
            "pretrained=org/m,dtype=auto"
        );
        assert_eq!(run.metadata["lm_eval.bootstrap_iters"], "1000");
        assert_eq!(run.identity, ImportIdentity::of(results.as_bytes()));

        let task = &run.tasks[0];
        assert_eq!(task.id, "t");
        assert_eq!(task.name, None);
        assert_eq!(task.task_type, TaskType::Qa);
        assert_eq!(task.prompt_template.as_deref(), Some("Q: {{q}}"));
        assert_eq!(
            task.target_template, None,
            "a column name is not a template"
        );
        assert_eq!(task.dataset.revision.as_deref(), Some("abc"));
        assert_eq!(task.dataset.split.as_deref(), Some("test"));
        assert_eq!(task.primary_metric.as_deref(), Some("acc"));
        let ppl = task.metrics.iter().find(|m| m.id == "ppl").expect("ppl");
        assert_eq!(ppl.aggregation, AssayAggregation::None);
        assert!(!ppl.higher_is_better);
        assert_eq!(task.metadata["lm_eval_config"]["task"], "t");

        assert_eq!(run.samples.len(), 2);
        assert_eq!(run.samples[0].index, 0, "samples come in doc_id order");
        assert_eq!(run.samples[0].prompt, "Q: 0");
        assert_eq!(run.samples[0].scores["acc"], json!(0.0));
        assert_eq!(
            run.samples[0].dataset_row.as_ref().map(|r| r["q"].clone()),
            Some(json!(0))
        );

        // acc (1.0 + 0.0) / 2 with stderr sqrt(0.5)/sqrt(2) = 0.5; ppl = e^2 ≠ 12.5.
        let diffs = run.verification.differences();
        assert_eq!(diffs.len(), 1, "{diffs:#?}");
        assert_eq!(diffs[0].metric, "ppl");
        let ppl = run.aggregates.iter().find(|a| a.key == "ppl").expect("ppl");
        assert_eq!(ppl.value, Some(2f64.exp()));
        assert_eq!(ppl.stderr, None);
        let bleu = run
            .aggregates
            .iter()
            .find(|a| a.key == "bleu")
            .expect("bleu");
        assert_eq!(
            (bleu.value, bleu.value_source),
            (Some(40.0), Some(NumberSource::Reported))
        );
        assert_eq!(
            (bleu.stderr, bleu.stderr_source),
            (Some(3.0), Some(NumberSource::Reported))
        );
        assert!(!run.is_consistent());
    }

    #[test]
    fn rejects_misnamed_and_duplicate_samples_files() {
        let results = results_json().to_string();
        let ts = "2024-01-01T00-00-00.000001";
        let rp = format!("m/results_{ts}.json");
        let line = sample(0, 1.0, [-1.0, 1.0]);
        let e = import_run(
            SourceFile {
                path: &rp,
                bytes: results.as_bytes(),
            },
            &[SourceFile {
                path: "m/whatever.jsonl",
                bytes: line.as_bytes(),
            }],
        )
        .expect_err("bad name");
        assert_eq!(e.file, "m/whatever.jsonl");
        let sp = format!("m/samples_t_{ts}.jsonl");
        let e = import_run(
            SourceFile {
                path: &rp,
                bytes: results.as_bytes(),
            },
            &[
                SourceFile {
                    path: &sp,
                    bytes: line.as_bytes(),
                },
                SourceFile {
                    path: &sp,
                    bytes: line.as_bytes(),
                },
            ],
        )
        .expect_err("two files for one task");
        assert!(e.message.contains("second samples file"), "{e}");
        let other = format!("m/samples_zzz_{ts}.jsonl");
        let run = import_run(
            SourceFile {
                path: &rp,
                bytes: results.as_bytes(),
            },
            &[SourceFile {
                path: &other,
                bytes: line.as_bytes(),
            }],
        )
        .expect("imports");
        assert_eq!(run.warnings.len(), 1);
        assert!(run.tasks.is_empty());
    }
}
