//! Finalization: aggregate every sample's scores into the run's `metrics` (means with
//! standard errors, per model and task), sum token usage, store the per-sample scores as
//! columns for comparisons ([`crate::compare`]), write the results JSON and samples JSONL
//! artifacts, and complete the run. Samples are streamed in pages: memory grows only by the
//! score columns, 8 bytes per sample and metric.
//!
//! `metrics` layout:
//! ```text
//! {
//!   "samples": {"total", "completed", "failed"},
//!   "by_task":  {TASK: {METRIC: mean over all models, …, "tokens": {input, output, cached, reasoning}}},
//!   "by_model": {MODEL: {TASK: {
//!       "metrics": {METRIC: {"mean", "stderr", "n", "aggregation", "higher_is_better"}},
//!                  (a metric computed over the whole task — e.g. an STS task's `spearman` —
//!                  has `aggregation: "task"`, its value in `mean` and a null `stderr`)
//!                  (a built-in error rate — `wer`, `cer` — is joined by its corpus value,
//!                  `wer_corpus` / `cer_corpus`: all edits over all reference words or
//!                  characters, `aggregation: "corpus"`, with `edits` and `reference_len`)
//!       "samples": {"total", "completed", "failed"},
//!       "tokens":  {input, output, cached, reasoning}}}}
//! }
//! ```
//! Failed samples (model errors, timeouts, …) are excluded from every mean and counted in
//! `samples.failed`; a token figure is `null` when no sample reported it.

use std::collections::BTreeMap;

use assay_domain::api::{FilePurpose, RunTokens, SampleObject};
use assay_domain::manifest::{Aggregation, Manifest, Task};
use assay_domain::Principal;
use assay_store::{NewFile, RunRecord, RunResults, Store, StoreError};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::aggregate::{scan_samples, tokens_json, Aggregate, RunAggregates};
use crate::compare::ColumnsBuilder;
use crate::plan::selected_tasks;
use crate::sample::metric_ids;
use crate::PlanError;

/// Positions per span the samples artifact is read in.
const SPAN: i64 = 500;
/// Spans read at once.
const SPANS_AHEAD: usize = 3;

/// Aggregates, writes artifacts and completes the run; false when the run was no longer
/// `finalizing` (a cancel request won the race).
pub async fn finalize(
    store: &Store,
    run: &RunRecord,
    manifest: &Manifest,
) -> Result<bool, PlanError> {
    let run_id = &run.object.id;
    let tasks: BTreeMap<String, &Task> = selected_tasks(manifest, run.object.task_ids.as_deref())
        .into_iter()
        .map(|t| (t.id.clone(), t))
        .collect();
    // One pass over the samples writes the samples artifact and gathers the aggregates and the
    // score columns comparisons read (a second pass only when the artifact was already written
    // by a finalization that did not finish).
    let mut gathered = Gathered {
        aggregates: RunAggregates::for_tasks(tasks.values().copied()),
        columns: ColumnsBuilder::new(tasks.values().copied(), None),
    };
    let (samples_file_id, streamed) = write_samples_artifact(store, run, &mut gathered).await?;
    if !streamed {
        scan_samples(store, run_id, |s| gathered.add(s)).await?;
    }
    let Gathered {
        aggregates,
        columns,
    } = gathered;
    store.put_score_columns(run_id, &columns.finish()).await?;
    // Values computed over a whole task (per model), e.g. an STS task's Spearman correlation.
    let mut task_level: BTreeMap<(String, String), Map<String, Value>> = BTreeMap::new();
    for row in store.task_metrics(run_id).await? {
        if let Value::Object(m) = row.metrics {
            task_level.insert((row.model, row.task_id), m);
        }
    }
    let metrics = metrics_json(&tasks, &aggregates, &task_level, Reported::Declared);
    let tokens = aggregates.totals.tokens();

    let result_file_id = write_result_artifact(store, run, &metrics, &tokens).await?;
    let completed = store
        .complete_run(
            run_id,
            &RunResults {
                metrics,
                tokens,
                result_file_id,
                samples_file_id,
            },
        )
        .await?;
    Ok(completed)
}

/// Which metrics a task reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reported {
    /// Those the task declares (or its type's built-in ones); a Python grader without
    /// declared metrics adds every metric it returned.
    Declared,
    /// Those it declares, else every score key its samples carry (imported trials, scored by
    /// the harness that ran them).
    DeclaredOrSeen,
}

/// A run's `metrics` (see the module docs for the layout) from its aggregates: `tasks` are the
/// run's selected tasks, `task_level` the values computed over a whole task per (model, task).
pub fn metrics_json(
    tasks: &BTreeMap<String, &Task>,
    aggregates: &RunAggregates,
    task_level: &BTreeMap<(String, String), Map<String, Value>>,
    reported: Reported,
) -> Value {
    let RunAggregates {
        totals,
        by_task,
        by_model,
        ..
    } = aggregates;

    let mut by_task_json = Map::new();
    for (task_id, agg) in by_task {
        let mut entry = Map::new();
        if let Some(task) = tasks.get(task_id) {
            for (metric, aggregation, _) in reported_metrics(task, agg, task_level, reported) {
                let values: Vec<f64> = task_level
                    .iter()
                    .filter(|((_, t), _)| t == task_id)
                    .filter_map(|(_, m)| m.get(&metric).and_then(Value::as_f64))
                    .collect();
                if !values.is_empty() {
                    // A task-level metric: its mean over the models.
                    let mean = values.iter().sum::<f64>() / values.len() as f64;
                    entry.insert(metric.clone(), json!(mean));
                } else if aggregation == Aggregation::Mean {
                    if let Some(stats) = agg.metrics.get(&metric) {
                        entry.insert(metric.clone(), json!(stats.summary().mean));
                    }
                }
            }
        }
        insert_corpus_rates(&mut entry, agg, |rate, _| json!(rate));
        entry.insert("tokens".into(), tokens_json(&agg.tokens()));
        by_task_json.insert(task_id.clone(), Value::Object(entry));
    }
    let mut by_model_json = Map::new();
    for (model, per_task) in by_model {
        let mut model_entry = Map::new();
        for (task_id, agg) in per_task {
            let mut metrics = Map::new();
            if let Some(task) = tasks.get(task_id) {
                let whole_task = task_level.get(&(model.clone(), task_id.clone()));
                for (metric, aggregation, higher_is_better) in
                    reported_metrics(task, agg, task_level, reported)
                {
                    if let Some(value) = whole_task.and_then(|m| m.get(&metric)) {
                        metrics.insert(
                            metric,
                            json!({
                                "mean": value,
                                "stderr": null,
                                "n": agg.completed,
                                "aggregation": "task",
                                "higher_is_better": higher_is_better,
                            }),
                        );
                        continue;
                    }
                    let stats = agg
                        .metrics
                        .get(&metric)
                        .copied()
                        .unwrap_or_default()
                        .summary();
                    let mut m = json!({
                        "n": stats.n,
                        "aggregation": match aggregation { Aggregation::Mean => "mean", Aggregation::None => "none" },
                        "higher_is_better": higher_is_better,
                    });
                    if aggregation == Aggregation::Mean {
                        m["mean"] = json!(stats.mean);
                        m["stderr"] = json!(stats.stderr);
                    }
                    metrics.insert(metric, m);
                }
                insert_corpus_rates(&mut metrics, agg, |rate, tally| {
                    json!({
                        "mean": rate,
                        "stderr": null,
                        "n": tally.n,
                        "aggregation": "corpus",
                        "higher_is_better": false,
                        "edits": tally.totals.edits,
                        "reference_len": tally.totals.reference_len,
                    })
                });
            }
            model_entry.insert(
                task_id.clone(),
                json!({"metrics": metrics, "samples": agg.counts_json(), "tokens": tokens_json(&agg.tokens())}),
            );
        }
        by_model_json.insert(model.clone(), Value::Object(model_entry));
    }
    json!({
        "samples": totals.counts_json(),
        "by_task": by_task_json,
        "by_model": by_model_json,
    })
}

/// Adds each error-rate metric's corpus value (`wer_corpus`: all edits over all reference
/// words, which is not the mean of the per-sample rates) as `entry(rate, tally)` gives it.
fn insert_corpus_rates(
    metrics: &mut Map<String, Value>,
    agg: &Aggregate,
    entry: impl Fn(f64, &assay_scoring::aggregate::EditTally) -> Value,
) {
    for (id, tally) in &agg.corpus {
        let corpus_id = assay_scoring::metrics::builtin(id).and_then(|m| m.corpus_id);
        if let (Some(corpus_id), Some(rate)) = (corpus_id, tally.rate()) {
            metrics.insert(corpus_id.to_string(), entry(rate, tally));
        }
    }
}

/// The task's metrics ([`declared_metrics`]); without declared metrics, a Python grader's task
/// (or any task, for [`Reported::DeclaredOrSeen`]) also reports every metric its samples
/// carried (per sample, or over the task).
fn reported_metrics(
    task: &Task,
    agg: &Aggregate,
    task_level: &BTreeMap<(String, String), Map<String, Value>>,
    reported: Reported,
) -> Vec<(String, Aggregation, bool)> {
    if reported == Reported::DeclaredOrSeen && task.metrics.is_empty() {
        // Keys come sorted from the aggregate's map.
        return agg
            .metrics
            .keys()
            .map(|id| (id.clone(), Aggregation::Mean, true))
            .collect();
    }
    let mut metrics = declared_metrics(task);
    if task.grader.is_some() && task.metrics.is_empty() {
        let mut seen: std::collections::BTreeSet<String> =
            metrics.iter().map(|(m, _, _)| m.clone()).collect();
        let whole_task = task_level
            .iter()
            .filter(|((_, t), _)| t == &task.id)
            .flat_map(|(_, m)| m.keys());
        for id in agg.metrics.keys().chain(whole_task) {
            if seen.insert(id.clone()) {
                metrics.push((id.clone(), Aggregation::Mean, true));
            }
        }
    }
    metrics
}

/// (id, aggregation, higher_is_better) of each metric the task reports.
/// The per-sample metrics a task declares (or its type's built-ins), averaged over samples,
/// with whether higher is better; `None` for a task whose Python grader declares none (it
/// reports whatever its grader returns, each taken as higher-is-better).
pub fn mean_metrics(task: &Task) -> Option<Vec<(String, bool)>> {
    let declared = declared_metrics(task);
    if task.grader.is_some() && task.metrics.is_empty() {
        return None;
    }
    Some(
        declared
            .into_iter()
            .filter(|(_, aggregation, _)| *aggregation == Aggregation::Mean)
            .map(|(id, _, higher)| (id, higher))
            .collect(),
    )
}

fn declared_metrics(task: &Task) -> Vec<(String, Aggregation, bool)> {
    match &task.metrics {
        metrics if !metrics.is_empty() => metrics
            .iter()
            .map(|m| {
                let direction = builtin_direction(task, &m.id).unwrap_or(m.higher_is_better);
                (m.id.clone(), m.aggregation, direction)
            })
            .collect(),
        _ => metric_ids(task)
            .into_iter()
            .map(|id| {
                let direction = builtin_direction(task, &id).unwrap_or(true);
                (id, Aggregation::Mean, direction)
            })
            .collect(),
    }
}

/// Whether a higher value of a built-in metric is better (`wer`, `cer`: no), for a task it
/// scores (a Python grader's task reports what its manifest says).
fn builtin_direction(task: &Task, id: &str) -> Option<bool> {
    if task.grader.is_some() {
        return None;
    }
    assay_scoring::metrics::builtin(id).map(|m| m.higher_is_better)
}

/// A deterministic file id for one of a run's artifacts, so finalizing twice reuses it; each
/// round of results (a rerun of failed samples starts the next) gets its own.
fn artifact_id(run: &RunRecord, kind: &str) -> String {
    let run_id = &run.object.id;
    let seed = match run.artifact_round {
        0 => format!("{run_id}:{kind}"),
        round => format!("{run_id}:{kind}:{round}"),
    };
    let digest = hex::encode(Sha256::digest(seed.as_bytes()));
    format!("{}{}", assay_domain::ids::FILE, &digest[..32])
}

async fn record_artifact(
    store: &Store,
    owner: &Principal,
    id: &str,
    filename: String,
    content_type: &str,
    put: assay_store::PutOutcome,
    blob_key: String,
) -> Result<(), PlanError> {
    let file = NewFile {
        id: id.to_string(),
        filename,
        purpose: FilePurpose::Evals,
        bytes: put.bytes as i64,
        sha256: put.sha256,
        content_type: content_type.to_string(),
        blob_key,
    };
    store.insert_file(owner, &file).await?;
    Ok(())
}

async fn existing(store: &Store, owner: &Principal, id: &str) -> Result<bool, PlanError> {
    match store.get_file(owner, id).await {
        Ok(_) => Ok(true),
        Err(StoreError::NotFound) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// What finalization gathers from every sample.
struct Gathered {
    aggregates: RunAggregates,
    columns: ColumnsBuilder,
}

impl Gathered {
    fn add(&mut self, s: &SampleObject) {
        self.aggregates.add(s);
        self.columns.add(s);
    }
}

/// Streams every sample, one JSON object per line, into the samples artifact, handing each to
/// `gathered` on the way; the artifact's id and whether the samples were streamed (not when
/// the artifact already exists).
async fn write_samples_artifact(
    store: &Store,
    run: &RunRecord,
    gathered: &mut Gathered,
) -> Result<(String, bool), PlanError> {
    let id = artifact_id(run, "samples");
    if existing(store, &run.owner, &id).await? {
        return Ok((id, false));
    }
    let key = format!("files/{id}");
    // The run's positions in spans, each read and written out as JSON lines in a task of its
    // own, a few at a time (on as many cores), and gathered in order.
    let spans: Vec<(i64, i64)> = match store.sample_positions(&run.object.id).await? {
        None => Vec::new(),
        Some((first, last)) => (first - 1..last)
            .step_by(SPAN as usize)
            .map(|after| (after, (after + SPAN).min(last)))
            .collect(),
    };
    let run_id = run.object.id.clone();
    let pages = futures::stream::iter(spans)
        .map(move |(after, through)| {
            let store = store.clone();
            let run_id = run_id.clone();
            tokio::spawn(async move {
                let mut lines = store.sample_lines_between(&run_id, after, through).await?;
                let samples = lines
                    .lines()
                    .map(|line| {
                        serde_json::from_str::<SampleObject>(line).map_err(|e| {
                            StoreError::Corrupt(format!("a sample of run {run_id}: {e}"))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if !lines.is_empty() {
                    lines.push('\n');
                }
                Ok::<_, StoreError>((Bytes::from(lines), samples))
            })
        })
        .buffered(SPANS_AHEAD)
        .map(move |span| {
            let (lines, samples) =
                span.map_err(|e| StoreError::Write(format!("reading samples failed: {e}")))??;
            for s in &samples {
                gathered.add(s);
            }
            Ok(lines)
        });
    let put = store
        .blobs()
        .put_stream(&key, pages, u64::MAX)
        .await
        .map_err(|e| match e {
            assay_store::PutError::Source(e) => PlanError::Store(e),
            assay_store::PutError::Blob(e) => PlanError::Store(StoreError::Blob(e)),
            other => PlanError::Store(StoreError::Write(other.to_string())),
        })?;
    record_artifact(
        store,
        &run.owner,
        &id,
        format!("{}_samples.jsonl", run.object.id),
        "application/jsonl",
        put,
        key,
    )
    .await?;
    Ok((id, true))
}

/// Writes the results JSON: the run's identity, settings, counts and metrics.
async fn write_result_artifact(
    store: &Store,
    run: &RunRecord,
    metrics: &Value,
    tokens: &RunTokens,
) -> Result<String, PlanError> {
    let id = artifact_id(run, "results");
    if existing(store, &run.owner, &id).await? {
        return Ok(id);
    }
    let key = format!("files/{id}");
    let o = &run.object;
    // The commits its Hugging Face datasets were read at, so the run can be reproduced.
    let datasets = store.dataset_revisions(&o.id).await?;
    let body = json!({
        "run_id": o.id,
        "suite_id": o.suite_id,
        "suite_version": o.suite_version,
        "suite_version_id": o.suite_version_id,
        "models": o.models,
        "task_ids": o.task_ids,
        "generation": o.generation,
        "request_counts": o.request_counts,
        "metrics": metrics,
        "tokens": tokens,
        "metadata": o.metadata,
        "datasets": datasets,
        "created_at": o.created_at,
        "started_at": o.started_at,
    });
    let bytes = serde_json::to_vec_pretty(&body).unwrap_or_default();
    let put = store.blobs().put_bytes(&key, Bytes::from(bytes)).await?;
    record_artifact(
        store,
        &run.owner,
        &id,
        format!("{}_results.json", o.id),
        "application/json",
        put,
        key,
    )
    .await?;
    Ok(id)
}
