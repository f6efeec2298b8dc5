//! Planning: from a run's suite version to one persisted sample per (model, task, row),
//! before any model call. Rows are streamed and samples inserted in batches, so memory stays
//! flat however large the dataset; only few-shot pools are held (up to [`FEWSHOT_POOL_MAX`]).

use std::collections::VecDeque;

use assay_domain::columns;
use assay_domain::manifest::{FewshotStrategy, Manifest, Task, TaskType};
use assay_domain::template;
use assay_domain::Principal;
use assay_sandbox::Sandbox;
use assay_store::{NewSample, RunRecord, Store};
use futures::stream::BoxStream;
use futures::StreamExt;
use rand::seq::index::sample as sample_indices;
use rand::SeedableRng;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::dataset::{count_rows, open_rows, DatasetRef, HubFor, Row};
use crate::embedding_task::{
    auxiliary_text_count, embedding_model_id, render_row as render_embedding_row, texts_per_row,
};
use crate::hub_datasets::HubDatasets;
use crate::python::Preprocessor;
use crate::PlanError;

/// Most rows a few-shot pool may hold in memory.
pub const FEWSHOT_POOL_MAX: usize = 100_000;
/// Samples in the first transaction of a run's planning, so its first model call waits for
/// little; each later batch is twice the size, up to [`INSERT_BATCH`].
const FIRST_BATCH: usize = 32;
/// Most samples inserted per transaction while planning.
const INSERT_BATCH: usize = 4096;
/// Columns tried, in order, for the prompt when a task has no `prompt_template`.
const PROMPT_COLUMNS: [&str; 4] = ["prompt", "input", "question", "text"];
/// Columns tried, in order, for the target when a task has no `target_template`.
const TARGET_COLUMNS: [&str; 4] = ["target", "answer", "label", "output"];

/// The tasks a run covers, in manifest order.
pub fn selected_tasks<'m>(manifest: &'m Manifest, task_ids: Option<&[String]>) -> Vec<&'m Task> {
    match task_ids {
        None => manifest.tasks.iter().collect(),
        Some(ids) => manifest
            .tasks
            .iter()
            .filter(|t| ids.contains(&t.id))
            .collect(),
    }
}

/// Persists every sample of the run and returns how many there are. Safe to repeat: rows a
/// previous attempt already planned are skipped (their samples are kept), so planning that was
/// interrupted resumes where it stopped. Tasks with a Python preprocessor have their rows
/// rewritten in `sandbox` before rendering (and a few-shot pool drawn from the task's own rows
/// is drawn from the rewritten rows).
///
/// Samples are committed in batches that start small and grow, and `progress` (when given)
/// counts the commits, so a sample stage can work on the first samples while the rest are
/// still being planned.
pub async fn plan(
    store: &Store,
    hub: &HubDatasets,
    sandbox: &Sandbox,
    run: &RunRecord,
    manifest: &Manifest,
    progress: Option<&watch::Sender<u64>>,
) -> Result<i64, PlanError> {
    let tasks = selected_tasks(manifest, run.object.task_ids.as_deref());
    let planned_rows = store.planned_rows(&run.object.id).await?;
    let mut batch_size = FIRST_BATCH;
    let cap = run
        .settings
        .max_samples_per_task
        .map(|n| n as usize)
        .unwrap_or(usize::MAX);
    for task in tasks {
        let mut preprocessor = match &task.preprocess {
            Some(pre) => Some(Preprocessor::start(sandbox, store, &run.owner, task, pre).await?),
            None => None,
        };
        let own = DatasetRef {
            task_id: &task.id,
            field: "dataset",
        };
        let what = own.describe();
        let hub_for = Some((hub, run.object.id.as_str()));
        let source = open_rows(store, hub_for, &run.owner, &task.dataset, own).await?;
        let mut rows = TaskRows::new(source, preprocessor.as_mut());
        // A task whose few-shot examples come from its own rows: with a preprocessor, the
        // rows are rewritten once and serve as both the pool and the samples.
        let own_pool = task.fewshot_count() > 0
            && task
                .fewshot
                .as_ref()
                .and_then(|f| f.dataset.as_ref())
                .is_none();
        let shared = if task.preprocess.is_some() && own_pool {
            let mut all = Vec::new();
            while let Some(row) = rows.next().await {
                if all.len() >= FEWSHOT_POOL_MAX {
                    return Err(PlanError::Dataset(format!(
                        "{what}: more than {FEWSHOT_POOL_MAX} rows to keep as its own \
                         few-shot pool; set max_rows on the dataset"
                    )));
                }
                all.push(row?);
            }
            Some(all)
        } else {
            None
        };
        let mut rows_to_samples =
            RowPlanner::new(store, hub_for, run, task, shared.as_deref()).await?;
        let mut rows = match shared {
            Some(all) => TaskRows::from_rows(all),
            None => rows,
        };
        // Rows below this were planned by an earlier attempt. Embedding tasks are planned
        // again in full (nothing runs until they are), which keeps their text budget exact.
        let done = match rows_to_samples {
            RowPlanner::Generated { .. } => planned_rows.get(&task.id).copied().unwrap_or(0),
            RowPlanner::Embedding { .. } => 0,
        };
        let mut batch = Vec::new();
        for index in 0..cap {
            let Some(row) = rows.next().await else { break };
            let row = row?;
            if (index as i64) < done {
                continue;
            }
            rows_to_samples.plan_row(row, index, &mut batch)?;
            if batch.len() >= batch_size {
                commit(store, run, &mut batch, progress).await?;
                batch_size = (batch_size * 2).min(INSERT_BATCH);
            }
        }
        commit(store, run, &mut batch, progress).await?;
    }
    Ok(store.count_samples(&run.object.id).await?)
}

/// How many samples planning will persist, counted from the datasets without rendering
/// anything; `None` when a task's rows can only be known by planning them (a preprocessor, a
/// Hugging Face dataset, an `embedding` task).
pub async fn expected_samples(
    store: &Store,
    run: &RunRecord,
    manifest: &Manifest,
) -> Result<Option<i64>, PlanError> {
    let cap = run.settings.max_samples_per_task.map(|n| n as usize);
    let mut total = 0i64;
    for task in selected_tasks(manifest, run.object.task_ids.as_deref()) {
        if task.preprocess.is_some() || task.task_type == TaskType::Embedding {
            return Ok(None);
        }
        let own = DatasetRef {
            task_id: &task.id,
            field: "dataset",
        };
        let Some(rows) = count_rows(store, &run.owner, &task.dataset, own).await? else {
            return Ok(None);
        };
        let rows = cap.map_or(rows, |cap| rows.min(cap));
        total += (rows * run.object.models.len()) as i64;
    }
    Ok(Some(total))
}

/// Inserts a batch of planned samples and tells `progress` they are there.
async fn commit(
    store: &Store,
    run: &RunRecord,
    batch: &mut Vec<NewSample>,
    progress: Option<&watch::Sender<u64>>,
) -> Result<(), PlanError> {
    if batch.is_empty() {
        return Ok(());
    }
    store.insert_samples(&run.object.id, batch).await?;
    batch.clear();
    if let Some(progress) = progress {
        progress.send_modify(|commits| *commits += 1);
    }
    Ok(())
}

/// Turns one task's rows into samples: one per candidate model for generated tasks, one
/// under the embedding model for `embedding` tasks (which also stay within `max_texts`).
enum RowPlanner<'t> {
    Generated {
        task: &'t Task,
        renderer: Renderer<'t>,
        models: &'t [String],
    },
    Embedding {
        task: &'t Task,
        model: String,
        max_texts: usize,
        auxiliary: usize,
        per_row: usize,
        texts: usize,
    },
}

impl<'t> RowPlanner<'t> {
    async fn new(
        store: &Store,
        hub: HubFor<'_>,
        run: &'t RunRecord,
        task: &'t Task,
        own_rows: Option<&[Row]>,
    ) -> Result<Self, PlanError> {
        if task.task_type != TaskType::Embedding {
            return Ok(Self::Generated {
                task,
                renderer: Renderer::new(store, hub, &run.owner, task, own_rows).await?,
                models: &run.object.models,
            });
        }
        let auxiliary = auxiliary_text_count(store, hub, &run.owner, task).await?;
        Ok(Self::Embedding {
            task,
            model: embedding_model_id(run.object.embedding_model.as_deref()),
            max_texts: task
                .embedding
                .as_ref()
                .map(|c| c.max_texts.max(0) as usize)
                .unwrap_or(usize::MAX),
            auxiliary,
            per_row: texts_per_row(task),
            texts: auxiliary,
        })
    }

    /// Appends row `index`'s samples to `batch`.
    fn plan_row(
        &mut self,
        row: Row,
        index: usize,
        batch: &mut Vec<NewSample>,
    ) -> Result<(), PlanError> {
        match self {
            Self::Generated {
                task,
                renderer,
                models,
            } => {
                let (prompt, target) = renderer.render(&row, index)?;
                for model in models.iter() {
                    batch.push(NewSample {
                        task_id: task.id.clone(),
                        model: model.clone(),
                        sample_index: index as i64,
                        dataset_row: row.clone(),
                        prompt: prompt.clone(),
                        target: target.clone(),
                    });
                }
            }
            Self::Embedding {
                task,
                model,
                max_texts,
                auxiliary,
                per_row,
                texts,
            } => {
                *texts += *per_row;
                if *texts > *max_texts {
                    return Err(PlanError::Dataset(format!(
                        "task {} would embed more than its max_texts ({max_texts}) texts: \
                         {auxiliary} from its auxiliary datasets plus {per_row} per eval row; \
                         lower max_samples_per_task or the datasets' max_rows",
                        task.id
                    )));
                }
                let (prompt, target) = render_embedding_row(task, &row, index)?;
                batch.push(NewSample {
                    task_id: task.id.clone(),
                    model: model.clone(),
                    sample_index: index as i64,
                    dataset_row: row,
                    prompt,
                    target,
                });
            }
        }
        Ok(())
    }
}

/// A task's rows as its preprocessor (if any) rewrites them: `row` preprocessors get the rows
/// in chunks as they stream, `batch` ones all of them at once.
struct TaskRows<'p> {
    rows: BoxStream<'static, Result<Row, PlanError>>,
    preprocessor: Option<&'p mut Preprocessor>,
    ready: VecDeque<Row>,
    exhausted: bool,
}

impl<'p> TaskRows<'p> {
    fn new(
        rows: BoxStream<'static, Result<Row, PlanError>>,
        preprocessor: Option<&'p mut Preprocessor>,
    ) -> Self {
        Self {
            rows,
            preprocessor,
            ready: VecDeque::new(),
            exhausted: false,
        }
    }

    /// Rows already read (and rewritten).
    fn from_rows(rows: Vec<Row>) -> Self {
        Self {
            rows: futures::stream::empty().boxed(),
            preprocessor: None,
            ready: rows.into(),
            exhausted: true,
        }
    }

    async fn next(&mut self) -> Option<Result<Row, PlanError>> {
        loop {
            if let Some(row) = self.ready.pop_front() {
                return Some(Ok(row));
            }
            if self.exhausted {
                return None;
            }
            let Some(pre) = self.preprocessor.as_deref_mut() else {
                return self.rows.next().await;
            };
            let want = if pre.wants_all_rows() {
                usize::MAX
            } else {
                pre.chunk_rows()
            };
            let mut chunk = Vec::new();
            while chunk.len() < want {
                match self.rows.next().await {
                    Some(Ok(row)) => chunk.push(row),
                    Some(Err(e)) => return Some(Err(e)),
                    None => {
                        self.exhausted = true;
                        break;
                    }
                }
            }
            if !chunk.is_empty() || pre.wants_all_rows() {
                match pre.apply(chunk).await {
                    Ok(rows) => self.ready.extend(rows),
                    Err(e) => return Some(Err(e)),
                }
            }
        }
    }
}

/// Renders one task's prompts and targets, few-shot examples included.
pub(crate) struct Renderer<'t> {
    task: &'t Task,
    fewshot: Option<Fewshot>,
}

struct Fewshot {
    /// Rendered (prompt, target) of every pool row.
    examples: Vec<String>,
    count: usize,
    strategy: FewshotStrategy,
    seed: u64,
    separator: String,
    /// The pool is the task's own dataset: never show a row as its own example.
    same_dataset: bool,
}

impl<'t> Renderer<'t> {
    /// Reads and renders the task's few-shot pool, if it has one: the task's own rows as its
    /// preprocessor left them (`own_rows`), else the pool dataset as stored.
    pub(crate) async fn new(
        store: &Store,
        hub: HubFor<'_>,
        owner: &Principal,
        task: &'t Task,
        own_rows: Option<&[Row]>,
    ) -> Result<Self, PlanError> {
        let count = task.fewshot_count().max(0) as usize;
        if count == 0 {
            return Ok(Self {
                task,
                fewshot: None,
            });
        }
        // `num_fewshot` alone means the defaults of every other few-shot field.
        let config = match &task.fewshot {
            Some(c) => c.clone(),
            None => serde_json::from_value(json!({}))
                .map_err(|e| PlanError::Template(format!("few-shot defaults: {e}")))?,
        };
        let (dataset, pool) = match &config.dataset {
            Some(d) => (d.clone(), "fewshot.dataset"),
            None => (task.dataset.clone(), "dataset"),
        };
        let same_dataset = config.dataset.is_none();
        let pool = DatasetRef {
            task_id: &task.id,
            field: pool,
        };
        let what = pool.describe();
        let mut rows = match (same_dataset, own_rows) {
            (true, Some(rows)) => TaskRows::from_rows(rows.to_vec()),
            _ => TaskRows::new(open_rows(store, hub, owner, &dataset, pool).await?, None),
        };
        let prompt_t = match &config.prompt_template {
            Some(src) => Some(FieldTemplate::new(src, "fewshot.prompt_template")),
            None => FieldTemplate::of(&task.prompt_template, "prompt_template"),
        };
        let target_t = match &config.target_template {
            Some(src) => Some(FieldTemplate::new(src, "fewshot.target_template")),
            None => FieldTemplate::of(&task.target_template, "target_template"),
        };
        let example_t = FieldTemplate::new(&config.example_template, "fewshot.example_template");
        let mut examples = Vec::new();
        while let Some(row) = rows.next().await {
            if examples.len() >= FEWSHOT_POOL_MAX {
                return Err(PlanError::Dataset(format!(
                    "{what}: more than {FEWSHOT_POOL_MAX} rows; set max_rows on it"
                )));
            }
            let row = row?;
            let at = format!("{what} row {}", examples.len());
            let prompt = render_field(prompt_t, &PROMPT_COLUMNS, &row, task, &at)?;
            let target = render_field(target_t, &TARGET_COLUMNS, &row, task, &at)?;
            let mut context = Row::new();
            context.insert("prompt".into(), json!(prompt));
            context.insert("target".into(), json!(target.unwrap_or_default()));
            examples.push(example_t.render(&context, &context, &at)?);
        }
        Ok(Self {
            task,
            fewshot: Some(Fewshot {
                examples,
                count,
                strategy: config.strategy,
                seed: config.seed as u64,
                separator: config.separator.clone(),
                same_dataset,
            }),
        })
    }

    pub(crate) fn render(
        &self,
        row: &Row,
        index: usize,
    ) -> Result<(String, Option<String>), PlanError> {
        let task = self.task;
        let at = format!("task {} row {index}", task.id);
        let prompt_t = FieldTemplate::of(&task.prompt_template, "prompt_template");
        let prompt = render_field(prompt_t, &PROMPT_COLUMNS, row, task, &at)?;
        // A transcription task's input is its audio: the prompt is only what the sample shows.
        let prompt = match prompt {
            None if task.task_type == TaskType::Transcription => Some(String::new()),
            other => other,
        };
        let prompt = prompt.ok_or_else(|| PlanError::Unusable {
            field: "prompt_template".into(),
            template: true,
            message: format!(
                "{at}: the task has no prompt_template and the row has none of the columns \
                     {} ({}); set prompt_template",
                PROMPT_COLUMNS.join(", "),
                columns::listing(row)
            ),
        })?;
        let target_t = FieldTemplate::of(&task.target_template, "target_template");
        let target = render_field(target_t, &TARGET_COLUMNS, row, task, &at)?;
        let prompt = match &self.fewshot {
            None => prompt,
            Some(f) => {
                let chosen = f.choose(index);
                let mut text = String::new();
                for i in chosen {
                    text.push_str(&f.examples[i]);
                    text.push_str(&f.separator);
                }
                text.push_str(&prompt);
                text
            }
        };
        Ok((prompt, target))
    }
}

impl Fewshot {
    /// Indices of the examples shown before row `index`.
    fn choose(&self, index: usize) -> Vec<usize> {
        let excluded = self.same_dataset.then_some(index);
        let available: Vec<usize> = (0..self.examples.len())
            .filter(|i| Some(*i) != excluded)
            .collect();
        let n = self.count.min(available.len());
        match self.strategy {
            FewshotStrategy::First => available.into_iter().take(n).collect(),
            FewshotStrategy::Random => {
                // Seeded per row, so a row's examples do not depend on which other rows ran.
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(
                    self.seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                );
                sample_indices(&mut rng, available.len(), n)
                    .into_iter()
                    .map(|i| available[i])
                    .collect()
            }
        }
    }
}

/// A manifest template and the field (within its task) it comes from, which errors name.
#[derive(Clone, Copy)]
struct FieldTemplate<'t> {
    src: &'t str,
    field: &'static str,
}

impl<'t> FieldTemplate<'t> {
    fn new(src: &'t str, field: &'static str) -> Self {
        Self { src, field }
    }

    fn of(src: &'t Option<String>, field: &'static str) -> Option<Self> {
        src.as_deref().map(|src| Self::new(src, field))
    }

    /// Renders over `context`, made from `row`; `at` says which row (`task qa row 3`). A
    /// variable the context lacks is named, with the row's columns and the closest of them.
    fn render(self, context: &Row, row: &Row, at: &str) -> Result<String, PlanError> {
        template::render(self.src, context).map_err(|error| {
            let missing = template::missing_variables(self.src, context);
            let message = match missing.first() {
                None => format!("{at}: {}: {error}", self.field),
                Some(first) => {
                    let names: Vec<String> =
                        missing.iter().map(|m| format!("{{{{{m}}}}}")).collect();
                    let mut text = format!(
                        "{at}: {} uses {}, which the row does not have: {}",
                        self.field,
                        names.join(", "),
                        columns::offered_instead(first, row)
                    );
                    if missing.iter().any(|m| m == "choices") {
                        text.push_str(" (give the task choices, or the rows a choices column)");
                    }
                    text
                }
            };
            PlanError::Unusable {
                field: self.field.to_string(),
                template: true,
                message,
            }
        })
    }
}

/// Renders a template over the row (with `choices` from the task), or without a template
/// takes the first present fallback column.
fn render_field(
    template: Option<FieldTemplate<'_>>,
    fallbacks: &[&str],
    row: &Row,
    task: &Task,
    at: &str,
) -> Result<Option<String>, PlanError> {
    match template {
        Some(t) => {
            let mut context = row.clone();
            if let Some(choices) = &task.choices {
                context
                    .entry("choices".to_string())
                    .or_insert_with(|| json!(choices));
            }
            t.render(&context, row, at).map(Some)
        }
        None => Ok(fallbacks.iter().find_map(|c| row.get(*c)).map(value_text)),
    }
}

/// A JSON value as prompt text: strings as they are, anything else as JSON.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
