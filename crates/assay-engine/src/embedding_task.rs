//! `embedding` tasks: no generation. Each eval row is one sample (planned once, for the run's
//! `embedding_model`); the stage embeds every text the task needs — eval rows, training rows,
//! the corpus — in batches with bounded concurrency, scores the task MTEB-style in memory by
//! `embedding.kind`, and writes every sample's scores plus the task-level metrics (those a
//! mean over samples cannot give) in one go. A task whose embedding calls fail fails all its
//! unfinished samples with the gateway's error; a resumed run embeds the task again.
//!
//! | kind | per-sample scores (averaged) | task-level metrics |
//! |---|---|---|
//! | `sts` | `cosine` | `spearman`, `pearson` (cosine vs gold score) |
//! | `classification` | `accuracy` (share of experiments right) | `f1` (macro), `ap` (binary) |
//! | `multilabel_classification` | `accuracy` (exact label set) | `f1` (macro), `lrap` |
//! | `retrieval`, `reranking` | `ndcg_at_K`, `map_at_K`, `recall_at_K`, `precision_at_K`, `mrr_at_K` per query | — |
//!
//! Retrieval and reranking queries without any judgement in the qrels are not scored (their
//! samples complete with no scores), as trec_eval-style evaluation skips them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use assay_domain::api::{SampleObject, SampleStatus};
use assay_domain::columns::offered_instead;
use assay_domain::manifest::{Dataset, EmbeddingConfig, EmbeddingKind, Task, TaskType};
use assay_domain::Principal;
use assay_models::{ErrorKind, Gateway, ResolvedModel};
use assay_scoring::embedding::{
    classification, cosine, multilabel_classification, pearson, query_metrics, rank, spearman,
    DEFAULT_K_VALUES,
};
use assay_store::{SampleUpdate, SampleWriter, Store};
use futures::{StreamExt, TryStreamExt};
use serde_json::{json, Map, Value};
use tokio_util::sync::CancellationToken;

use crate::aggregate::scan_samples;
use crate::dataset::{open_rows, DatasetRef, HubFor, Row};
use crate::graded::truncate_chars;
use crate::plan::value_text;
use crate::PlanError;

/// Most texts sent in one embeddings request.
pub const EMBED_BATCH: usize = 32;
/// Most characters sent in one embeddings request (long texts get smaller batches).
pub const EMBED_BATCH_CHARS: usize = 120_000;
/// Sample updates in flight at once when a task's results are written.
const WRITE_CONCURRENCY: usize = 256;

/// The model id an embedding task's samples are planned and reported under.
pub fn embedding_model_id(run_embedding_model: Option<&str>) -> String {
    run_embedding_model.unwrap_or("auto").to_string()
}

/// The config of an embedding task (validated with the manifest).
fn config(task: &Task) -> Result<&EmbeddingConfig, PlanError> {
    task.embedding.as_ref().ok_or_else(|| {
        PlanError::Manifest(format!(
            "embedding task {} has no embedding config",
            task.id
        ))
    })
}

fn column<'r>(row: &'r Row, name: &str, what: &str) -> Result<&'r Value, PlanError> {
    match row.get(name) {
        Some(v) if !v.is_null() => Ok(v),
        _ => Err(PlanError::Dataset(format!(
            "{what}: the row has no column {name}: {}",
            offered_instead(name, row)
        ))),
    }
}

/// Text of a column, cut to `max_chars` characters; an empty text is an error (providers
/// reject empty inputs, and it says nothing).
fn text(row: &Row, name: &str, max_chars: i64, what: &str) -> Result<String, PlanError> {
    let t = value_text(column(row, name, what)?);
    if t.trim().is_empty() {
        return Err(PlanError::Dataset(format!(
            "{what}: column {name} is empty"
        )));
    }
    Ok(truncate(&t, max_chars))
}

fn truncate(s: &str, max_chars: i64) -> String {
    truncate_chars(s, usize::try_from(max_chars).unwrap_or(usize::MAX))
}

fn number(v: &Value, what: &str) -> Result<f64, PlanError> {
    let x = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    };
    x.filter(|x| x.is_finite())
        .ok_or_else(|| PlanError::Dataset(format!("{what}: {v} is not a number")))
}

fn label_list(v: &Value, what: &str) -> Result<Vec<String>, PlanError> {
    match v {
        Value::Array(items) => Ok(items.iter().map(value_text).collect()),
        // CSV cells hold the list as JSON text.
        Value::String(s) if s.trim_start().starts_with('[') => {
            match serde_json::from_str::<Vec<Value>>(s) {
                Ok(items) => Ok(items.iter().map(value_text).collect()),
                Err(e) => Err(PlanError::Dataset(format!(
                    "{what}: {s:?} is not a JSON list: {e}"
                ))),
            }
        }
        _ => Err(PlanError::Dataset(format!(
            "{what}: a multilabel label column must hold a list, not {v}"
        ))),
    }
}

/// The prompt (the text(s) embedded) and target (the gold value) of one eval row.
pub fn render_row(
    task: &Task,
    row: &Row,
    index: usize,
) -> Result<(String, Option<String>), PlanError> {
    let c = config(task)?;
    let what = format!("task {} row {index}", task.id);
    Ok(match c.kind {
        EmbeddingKind::Sts => {
            let a = text(row, &c.text1_column, c.max_chars, &what)?;
            let b = text(row, &c.text2_column, c.max_chars, &what)?;
            let gold = number(column(row, &c.score_column, &what)?, &what)?;
            (format!("{a}\n{b}"), Some(gold.to_string()))
        }
        EmbeddingKind::Classification => {
            let t = text(row, &c.text_column, c.max_chars, &what)?;
            let label = value_text(column(row, &c.label_column, &what)?);
            (t, Some(label))
        }
        EmbeddingKind::MultilabelClassification => {
            let t = text(row, &c.text_column, c.max_chars, &what)?;
            let labels = label_list(column(row, &c.label_column, &what)?, &what)?;
            (t, Some(json!(labels).to_string()))
        }
        EmbeddingKind::Retrieval | EmbeddingKind::Reranking => {
            column(row, &c.id_column, &what)?;
            (text(row, &c.text_column, c.max_chars, &what)?, None)
        }
    })
}

/// What an embedding task needs in one column of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A text that is not empty (it is embedded).
    Text,
    /// Any value (an id, a label, a document body).
    Value,
    /// A number (a gold score or a relevance).
    Number,
    /// A list, or in CSV files its JSON text (multilabel labels, candidate ids).
    List,
}

/// The columns an embedding task reads from every row of one of its datasets (`dataset` for
/// the eval rows, else `train_dataset`, `corpus_dataset`, `qrels_dataset` or
/// `top_ranked_dataset`): each as (its config field, the column, what it must hold). Optional
/// columns (a corpus row's title) are not listed.
pub fn required_columns<'c>(
    c: &'c EmbeddingConfig,
    dataset: &str,
) -> Vec<(&'static str, &'c str, Need)> {
    let label = match c.kind {
        EmbeddingKind::MultilabelClassification => Need::List,
        _ => Need::Value,
    };
    let text = ("text_column", c.text_column.as_str(), Need::Text);
    match (dataset, c.kind) {
        ("dataset", EmbeddingKind::Sts) => vec![
            ("text1_column", &c.text1_column, Need::Text),
            ("text2_column", &c.text2_column, Need::Text),
            ("score_column", &c.score_column, Need::Number),
        ],
        ("dataset" | "train_dataset", EmbeddingKind::Classification)
        | ("dataset" | "train_dataset", EmbeddingKind::MultilabelClassification) => {
            vec![text, ("label_column", &c.label_column, label)]
        }
        ("dataset", EmbeddingKind::Retrieval | EmbeddingKind::Reranking) => {
            vec![("id_column", &c.id_column, Need::Value), text]
        }
        ("corpus_dataset", _) => vec![
            ("id_column", &c.id_column, Need::Value),
            ("text_column", &c.text_column, Need::Value),
        ],
        ("qrels_dataset", _) => vec![
            ("query_id_column", &c.query_id_column, Need::Value),
            ("corpus_id_column", &c.corpus_id_column, Need::Value),
            ("score_column", &c.score_column, Need::Number),
        ],
        ("top_ranked_dataset", _) => vec![
            ("query_id_column", &c.query_id_column, Need::Value),
            ("corpus_ids_column", &c.corpus_ids_column, Need::List),
        ],
        _ => Vec::new(),
    }
}

/// Checks that `row` of `dataset` holds what [`required_columns`] asks, with the wording the
/// embedding stage uses; the error names the config field (`embedding.text_column`).
pub fn check_row(
    c: &EmbeddingConfig,
    dataset: &str,
    row: &Row,
    what: &str,
) -> Result<(), PlanError> {
    for (field, name, need) in required_columns(c, dataset) {
        let held = match need {
            Need::Text => text(row, name, c.max_chars, what).map(drop),
            Need::Value => column(row, name, what).map(drop),
            Need::Number => column(row, name, what)
                .and_then(|v| number(v, what))
                .map(drop),
            Need::List => column(row, name, what)
                .and_then(|v| label_list(v, what))
                .map(drop),
        };
        held.map_err(|e| PlanError::Unusable {
            field: format!("embedding.{field}"),
            template: false,
            message: e.to_string(),
        })?;
    }
    Ok(())
}

/// How many texts one eval row contributes.
pub fn texts_per_row(task: &Task) -> usize {
    match task.embedding.as_ref().map(|c| c.kind) {
        Some(EmbeddingKind::Sts) => 2,
        _ => 1,
    }
}

/// Texts the auxiliary datasets contribute (training rows, corpus documents).
pub async fn auxiliary_text_count(
    store: &Store,
    hub: HubFor<'_>,
    owner: &Principal,
    task: &Task,
) -> Result<usize, PlanError> {
    let c = config(task)?;
    let mut count = 0;
    for (name, dataset) in [
        ("train_dataset", c.train_dataset.as_ref()),
        ("corpus_dataset", c.corpus_dataset.as_ref()),
    ] {
        if let (Some(dataset), true) = (dataset, needs(c.kind, name)) {
            let field = format!("embedding.{name}");
            let at = DatasetRef {
                task_id: &task.id,
                field: &field,
            };
            let mut rows = open_rows(store, hub, owner, dataset, at).await?;
            while let Some(row) = rows.next().await {
                row?;
                count += 1;
            }
        }
    }
    Ok(count)
}

fn needs(kind: EmbeddingKind, dataset: &str) -> bool {
    kind.required_datasets().contains(&dataset)
}

/// What the stage calls and writes with.
pub struct EmbeddingStage<'a> {
    pub store: &'a Store,
    pub writer: &'a SampleWriter,
    pub gateway: &'a Gateway,
    pub owner: &'a Principal,
    /// Where the run's Hugging Face datasets are read from.
    pub hub: HubFor<'a>,
    /// The run's embedding model resolved, or why it does not resolve.
    pub model: Result<&'a (String, ResolvedModel), &'a str>,
    /// Embedding requests in flight at once.
    pub concurrency: usize,
    pub stop: &'a CancellationToken,
}

/// Why embedding stopped short.
enum EmbedError {
    Stopped,
    Failed(Value),
}

impl EmbeddingStage<'_> {
    /// Scores every selected embedding task of the run that still has unfinished samples.
    pub async fn run(&self, run_id: &str, tasks: &[&Task]) -> Result<(), PlanError> {
        for task in tasks.iter().filter(|t| t.task_type == TaskType::Embedding) {
            if self.stop.is_cancelled() {
                return Ok(());
            }
            let mut samples = Vec::new();
            scan_samples(self.store, run_id, |s| {
                if s.task_id == task.id {
                    samples.push(s.clone());
                }
            })
            .await?;
            if samples
                .iter()
                .all(|s| matches!(s.status, SampleStatus::Completed | SampleStatus::Failed))
            {
                continue;
            }
            self.task(run_id, task, samples).await?;
        }
        Ok(())
    }

    async fn task(
        &self,
        run_id: &str,
        task: &Task,
        mut samples: Vec<SampleObject>,
    ) -> Result<(), PlanError> {
        samples.sort_by_key(|s| s.sample_index);
        let c = config(task)?;
        let outcome = match self.model {
            Ok((_, resolved)) => self.score(task, c, resolved, &samples).await,
            Err(why) => Err(EmbedError::Failed(json!({
                "type": "bad_request",
                "message": format!("no embedding model: {why}"),
                "stage": "embedding",
            }))),
        };
        let (per_sample, task_metrics) = match outcome {
            Ok(scored) => scored,
            Err(EmbedError::Stopped) => return Ok(()),
            Err(EmbedError::Failed(error)) => {
                let updates = samples
                    .iter()
                    .filter(|s| !is_terminal(s))
                    .map(|s| SampleUpdate::Failed {
                        id: s.id.clone(),
                        error: error.clone(),
                        attempts: None,
                    })
                    .collect();
                return self.write(updates).await;
            }
        };
        if let Some(model) = samples.first().map(|s| s.model.clone()) {
            if !task_metrics.is_empty() {
                self.store
                    .put_task_metrics(run_id, &task.id, &model, &Value::Object(task_metrics))
                    .await?;
            }
        }
        let updates = samples
            .iter()
            .zip(per_sample)
            .filter(|(s, _)| !is_terminal(s))
            .map(|(s, (extracted_output, scores))| SampleUpdate::Completed {
                id: s.id.clone(),
                extracted_output,
                scores,
                judge: None,
            })
            .collect();
        self.write(updates).await
    }

    /// Per-sample (extracted output, scores) in sample order, and the task-level metrics.
    async fn score(
        &self,
        task: &Task,
        c: &EmbeddingConfig,
        model: &ResolvedModel,
        samples: &[SampleObject],
    ) -> Result<
        (
            Vec<(Option<String>, Map<String, Value>)>,
            Map<String, Value>,
        ),
        EmbedError,
    > {
        let what = |i: i64| format!("task {} row {i}", task.id);
        let rows: Vec<Row> = samples
            .iter()
            .map(|s| s.dataset_row.clone().unwrap_or_default())
            .collect();
        let dataset_error = |e: PlanError| {
            EmbedError::Failed(
                json!({"type": "dataset_error", "message": e.to_string(), "stage": "embedding"}),
            )
        };
        let mut task_metrics = Map::new();
        let per_sample = match c.kind {
            EmbeddingKind::Sts => {
                let mut texts = Vec::with_capacity(rows.len() * 2);
                let mut gold = Vec::with_capacity(rows.len());
                for (row, s) in rows.iter().zip(samples) {
                    let w = what(s.sample_index);
                    texts.push(text(row, &c.text1_column, c.max_chars, &w).map_err(dataset_error)?);
                    texts.push(text(row, &c.text2_column, c.max_chars, &w).map_err(dataset_error)?);
                    let g = column(row, &c.score_column, &w)
                        .and_then(|v| number(v, &w))
                        .map_err(dataset_error)?;
                    gold.push(g);
                }
                let vectors = self.embed(model, texts).await?;
                let cosines: Vec<f64> = vectors
                    .chunks(2)
                    .map(|pair| match pair {
                        [a, b] => cosine(a, b),
                        _ => 0.0,
                    })
                    .collect();
                if let Some(r) = spearman(&cosines, &gold) {
                    task_metrics.insert("spearman".into(), json!(r));
                }
                if let Some(r) = pearson(&cosines, &gold) {
                    task_metrics.insert("pearson".into(), json!(r));
                }
                cosines
                    .iter()
                    .map(|cos| (None, scores([("cosine", *cos)])))
                    .collect()
            }
            EmbeddingKind::Classification | EmbeddingKind::MultilabelClassification => {
                let multilabel = c.kind == EmbeddingKind::MultilabelClassification;
                let train = self
                    .read(task, "train_dataset", c.train_dataset.as_ref())
                    .await
                    .map_err(dataset_error)?;
                let labels_of = |row: &Row, w: &str| -> Result<Vec<String>, PlanError> {
                    let v = column(row, &c.label_column, w)?;
                    if multilabel {
                        label_list(v, w)
                    } else {
                        Ok(vec![value_text(v)])
                    }
                };
                if train.is_empty() {
                    return Err(dataset_error(PlanError::Dataset(format!(
                        "task {}: train_dataset has no rows",
                        task.id
                    ))));
                }
                let mut train_texts = Vec::with_capacity(train.len());
                let mut train_labels = Vec::with_capacity(train.len());
                for (i, row) in train.iter().enumerate() {
                    let w = format!("task {} train_dataset row {i}", task.id);
                    train_texts
                        .push(text(row, &c.text_column, c.max_chars, &w).map_err(dataset_error)?);
                    train_labels.push(labels_of(row, &w).map_err(dataset_error)?);
                }
                let mut test_texts = Vec::with_capacity(rows.len());
                let mut test_labels = Vec::with_capacity(rows.len());
                for (row, s) in rows.iter().zip(samples) {
                    let w = what(s.sample_index);
                    test_texts
                        .push(text(row, &c.text_column, c.max_chars, &w).map_err(dataset_error)?);
                    test_labels.push(labels_of(row, &w).map_err(dataset_error)?);
                }
                let names: BTreeSet<&String> =
                    train_labels.iter().chain(&test_labels).flatten().collect();
                let index: HashMap<&String, usize> =
                    names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
                let ids = |labels: &[Vec<String>]| -> Vec<Vec<usize>> {
                    labels
                        .iter()
                        .map(|ls| ls.iter().filter_map(|l| index.get(l).copied()).collect())
                        .collect()
                };
                let (train_ids, test_ids) = (ids(&train_labels), ids(&test_labels));
                let train_vectors = self.embed(model, train_texts).await?;
                let test_vectors = self.embed(model, test_texts).await?;
                let spl = c.samples_per_label.max(1) as usize;
                let experiments = c.n_experiments.max(1) as usize;
                let seed = c.seed as u64;
                let n_labels = names.len();
                // Fitting is CPU work: off the async workers.
                let (per_sample_accuracy, fitted) = cpu(move || {
                    let train_x: Vec<&[f32]> = train_vectors.iter().map(Vec::as_slice).collect();
                    let test_x: Vec<&[f32]> = test_vectors.iter().map(Vec::as_slice).collect();
                    let mut fitted = Map::new();
                    let per_sample = if multilabel {
                        let result = multilabel_classification(
                            &train_x,
                            &train_ids,
                            &test_x,
                            &test_ids,
                            n_labels,
                            spl,
                            experiments,
                            seed,
                        );
                        fitted.insert("f1".into(), json!(result.mean.f1));
                        fitted.insert("lrap".into(), json!(result.mean.lrap));
                        result.per_sample_accuracy
                    } else {
                        let first = |v: &[Vec<usize>]| -> Vec<usize> {
                            v.iter().map(|l| l.first().copied().unwrap_or(0)).collect()
                        };
                        let result = classification(
                            &train_x,
                            &first(&train_ids),
                            &test_x,
                            &first(&test_ids),
                            n_labels,
                            spl,
                            experiments,
                            seed,
                        );
                        fitted.insert("f1".into(), json!(result.mean.f1));
                        if let Some(ap) = result.mean.average_precision {
                            fitted.insert("ap".into(), json!(ap));
                        }
                        result.per_sample_accuracy
                    };
                    (per_sample, fitted)
                })
                .await?;
                task_metrics.extend(fitted);
                per_sample_accuracy
                    .iter()
                    .map(|acc| (None, scores([("accuracy", *acc)])))
                    .collect()
            }
            EmbeddingKind::Retrieval | EmbeddingKind::Reranking => {
                self.retrieval(task, c, model, samples, &rows).await?
            }
        };
        Ok((per_sample, task_metrics))
    }

    async fn retrieval(
        &self,
        task: &Task,
        c: &EmbeddingConfig,
        model: &ResolvedModel,
        samples: &[SampleObject],
        rows: &[Row],
    ) -> Result<Vec<(Option<String>, Map<String, Value>)>, EmbedError> {
        let dataset_error = |e: PlanError| {
            EmbedError::Failed(
                json!({"type": "dataset_error", "message": e.to_string(), "stage": "embedding"}),
            )
        };
        let corpus = self
            .read(task, "corpus_dataset", c.corpus_dataset.as_ref())
            .await
            .map_err(dataset_error)?;
        let qrels = self
            .read(task, "qrels_dataset", c.qrels_dataset.as_ref())
            .await
            .map_err(dataset_error)?;
        let mut doc_ids = Vec::with_capacity(corpus.len());
        let mut doc_texts = Vec::with_capacity(corpus.len());
        for (i, row) in corpus.iter().enumerate() {
            let w = format!("task {} corpus_dataset row {i}", task.id);
            doc_ids.push(value_text(
                column(row, &c.id_column, &w).map_err(dataset_error)?,
            ));
            let body = value_text(column(row, &c.text_column, &w).map_err(dataset_error)?);
            let title = row
                .get(&c.title_column)
                .filter(|v| !v.is_null())
                .map(value_text)
                .unwrap_or_default();
            let doc = format!("{title} {body}").trim().to_string();
            doc_texts.push(truncate(&doc, c.max_chars));
        }
        let mut relevance: HashMap<String, HashMap<String, i64>> = HashMap::new();
        for (i, row) in qrels.iter().enumerate() {
            let w = format!("task {} qrels_dataset row {i}", task.id);
            let q = value_text(column(row, &c.query_id_column, &w).map_err(dataset_error)?);
            let d = value_text(column(row, &c.corpus_id_column, &w).map_err(dataset_error)?);
            let r = column(row, &c.score_column, &w)
                .and_then(|v| number(v, &w))
                .map_err(dataset_error)?;
            relevance.entry(q).or_default().insert(d, r.trunc() as i64);
        }
        let candidates: Option<HashMap<String, Vec<String>>> = match c.kind {
            EmbeddingKind::Reranking => {
                let top = self
                    .read(task, "top_ranked_dataset", c.top_ranked_dataset.as_ref())
                    .await
                    .map_err(dataset_error)?;
                let mut map = HashMap::new();
                for (i, row) in top.iter().enumerate() {
                    let w = format!("task {} top_ranked_dataset row {i}", task.id);
                    let q = value_text(column(row, &c.query_id_column, &w).map_err(dataset_error)?);
                    let ids = label_list(
                        column(row, &c.corpus_ids_column, &w).map_err(dataset_error)?,
                        &w,
                    )
                    .map_err(dataset_error)?;
                    map.entry(q).or_insert_with(Vec::new).extend(ids);
                }
                Some(map)
            }
            _ => None,
        };
        let mut query_ids = Vec::with_capacity(rows.len());
        let mut query_texts = Vec::with_capacity(rows.len());
        for (row, s) in rows.iter().zip(samples) {
            let w = format!("task {} row {}", task.id, s.sample_index);
            query_ids.push(value_text(
                column(row, &c.id_column, &w).map_err(dataset_error)?,
            ));
            query_texts.push(text(row, &c.text_column, c.max_chars, &w).map_err(dataset_error)?);
        }
        let doc_vectors = self.embed(model, doc_texts).await?;
        let query_vectors = self.embed(model, query_texts).await?;
        let k_values: Vec<usize> = match &c.k_values {
            Some(ks) => ks.iter().map(|k| (*k).max(1) as usize).collect(),
            None => DEFAULT_K_VALUES.to_vec(),
        };
        // Ranking is CPU work: off the async workers.
        let out = cpu(move || {
            let docs: Vec<(&str, &[f32])> = doc_ids
                .iter()
                .map(String::as_str)
                .zip(doc_vectors.iter().map(Vec::as_slice))
                .collect();
            let by_id: HashMap<&str, &[f32]> = docs.iter().copied().collect();
            let mut out = Vec::with_capacity(query_ids.len());
            for (qid, qv) in query_ids.iter().zip(&query_vectors) {
                let ranking = match &candidates {
                    None => rank(qv, &docs),
                    // A query without candidates is not ranked, so not scored.
                    Some(map) => match map.get(qid) {
                        None => {
                            out.push((None, Map::new()));
                            continue;
                        }
                        Some(ids) => {
                            let pool: Vec<(&str, &[f32])> = ids
                                .iter()
                                .filter_map(|id| by_id.get(id.as_str()).map(|v| (id.as_str(), *v)))
                                .collect();
                            rank(qv, &pool)
                        }
                    },
                };
                let top: Vec<&str> = ranking.iter().take(10).map(|(id, _)| id.as_str()).collect();
                let extracted = Some(top.join(", "));
                let scored = match relevance.get(qid) {
                    Some(rel) => query_metrics(&ranking, rel, &k_values)
                        .into_iter()
                        .map(|(k, v)| (k, json!(v)))
                        .collect(),
                    None => Map::new(),
                };
                out.push((extracted, scored));
            }
            out
        })
        .await?;
        Ok(out)
    }

    /// Sends sample updates, many at once so the writer can commit them together.
    async fn write(&self, updates: Vec<SampleUpdate>) -> Result<(), PlanError> {
        let sends = updates.into_iter().map(|u| {
            let writer = self.writer.clone();
            async move { writer.send(u).await }
        });
        let mut pending = futures::stream::iter(sends).buffer_unordered(WRITE_CONCURRENCY);
        while let Some(sent) = pending.next().await {
            sent?;
        }
        Ok(())
    }

    /// Every row of an auxiliary dataset of `task`.
    async fn read(
        &self,
        task: &Task,
        name: &str,
        dataset: Option<&Dataset>,
    ) -> Result<Vec<Row>, PlanError> {
        let field = format!("embedding.{name}");
        let at = DatasetRef {
            task_id: &task.id,
            field: &field,
        };
        let Some(dataset) = dataset else {
            return Err(PlanError::Manifest(format!(
                "{} is not configured",
                at.describe()
            )));
        };
        open_rows(self.store, self.hub, self.owner, dataset, at)
            .await?
            .try_collect()
            .await
    }

    /// Embeds `texts` in batches of [`EMBED_BATCH`], at most `concurrency` requests at once,
    /// keeping their order.
    async fn embed(
        &self,
        model: &ResolvedModel,
        texts: Vec<String>,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let total = texts.len();
        let mut batches: Vec<Vec<String>> = Vec::new();
        let mut chars = 0;
        for t in texts {
            let n = t.chars().count();
            match batches.last_mut() {
                Some(b) if b.len() < EMBED_BATCH && chars + n <= EMBED_BATCH_CHARS => {
                    chars += n;
                    b.push(t);
                }
                _ => {
                    chars = n;
                    batches.push(vec![t]);
                }
            }
        }
        let mut results = futures::stream::iter(batches.into_iter().map(|batch| async move {
            let n = batch.len();
            let embedded = self.gateway.embed_resolved(model, &batch, self.stop).await;
            (n, embedded)
        }))
        .buffered(self.concurrency.max(1));
        let mut vectors = Vec::with_capacity(total);
        while let Some((n, embedded)) = results.next().await {
            match embedded {
                Ok(e) if e.vectors.len() == n => vectors.extend(e.vectors),
                Ok(e) => {
                    return Err(EmbedError::Failed(json!({
                        "type": "bad_response",
                        "message": format!("the embedding model returned {} vectors for {n} texts", e.vectors.len()),
                        "stage": "embedding",
                    })))
                }
                Err(e) if e.kind == ErrorKind::Cancelled || self.stop.is_cancelled() => {
                    return Err(EmbedError::Stopped)
                }
                Err(e) => {
                    let mut error = e.to_json();
                    if let Value::Object(o) = &mut error {
                        o.insert("stage".into(), json!("embedding"));
                    }
                    return Err(EmbedError::Failed(error));
                }
            }
        }
        Ok(vectors)
    }
}

/// Runs CPU-bound scoring on the blocking pool, off the async workers.
async fn cpu<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, EmbedError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        EmbedError::Failed(json!({
            "type": "internal_error",
            "message": format!("scoring the task stopped: {e}"),
            "stage": "embedding",
        }))
    })
}

fn is_terminal(s: &SampleObject) -> bool {
    matches!(s.status, SampleStatus::Completed | SampleStatus::Failed)
}

fn scores<const N: usize>(pairs: [(&str, f64); N]) -> Map<String, Value> {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect()
}

/// The metrics an embedding task reports: (id, computed per sample — else over the task).
pub fn embedding_metric_ids(config: &EmbeddingConfig) -> Vec<(String, bool)> {
    let split = |sample: &str, task: [&str; 2]| {
        std::iter::once((sample.to_string(), true))
            .chain(task.iter().map(|id| (id.to_string(), false)))
            .collect()
    };
    match config.kind {
        EmbeddingKind::Sts => split("cosine", ["spearman", "pearson"]),
        EmbeddingKind::Classification => split("accuracy", ["f1", "ap"]),
        EmbeddingKind::MultilabelClassification => split("accuracy", ["f1", "lrap"]),
        EmbeddingKind::Retrieval | EmbeddingKind::Reranking => {
            let ks: Vec<usize> = match &config.k_values {
                Some(ks) => ks.iter().map(|k| (*k).max(1) as usize).collect(),
                None => DEFAULT_K_VALUES.to_vec(),
            };
            let mut ids = BTreeMap::new();
            for name in ["ndcg", "map", "recall", "precision", "mrr"] {
                for k in &ks {
                    ids.insert((name, *k), format!("{name}_at_{k}"));
                }
            }
            ids.into_values().map(|id| (id, true)).collect()
        }
    }
}
