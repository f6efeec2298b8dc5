//! Planning: from a run's suite version to one persisted sample per (model, task, row),
//! before any model call. Rows are streamed and samples inserted in batches, so memory stays
//! flat however large the dataset; only few-shot pools are held (up to [`FEWSHOT_POOL_MAX`]).

use std::collections::VecDeque;

use assay_domain::manifest::{FewshotStrategy, Manifest, Task, TaskType};
use assay_domain::template;
use assay_sandbox::Sandbox;
use assay_store::{NewSample, RunRecord, Store};
use futures::stream::BoxStream;
use futures::StreamExt;
use rand::seq::index::sample as sample_indices;
use rand::SeedableRng;
use serde_json::{json, Value};

use crate::dataset::{open_rows, Row};
use crate::embedding_task::{
    auxiliary_text_count, embedding_model_id, render_row as render_embedding_row, texts_per_row,
};
use crate::python::Preprocessor;
use crate::PlanError;

/// Most rows a few-shot pool may hold in memory.
pub const FEWSHOT_POOL_MAX: usize = 100_000;
/// Samples inserted per transaction while planning.
const INSERT_BATCH: usize = 500;
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

/// Persists every sample of the run and returns how many there are. Safe to repeat: samples
/// that already exist are kept. Tasks with a Python preprocessor have their rows rewritten in
/// `sandbox` before rendering (and a few-shot pool drawn from the task's own rows is drawn
/// from the rewritten rows).
pub async fn plan(
    store: &Store,
    sandbox: &Sandbox,
    run: &RunRecord,
    manifest: &Manifest,
) -> Result<i64, PlanError> {
    let tasks = selected_tasks(manifest, run.object.task_ids.as_deref());
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
        let what = format!("task {}", task.id);
        let source = open_rows(store, &run.owner, &task.dataset, &what).await?;
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
        let mut rows_to_samples = RowPlanner::new(store, run, task, shared.as_deref()).await?;
        let mut rows = match shared {
            Some(all) => TaskRows::from_rows(all),
            None => rows,
        };
        let mut batch = Vec::with_capacity(INSERT_BATCH);
        for index in 0..cap {
            let Some(row) = rows.next().await else { break };
            rows_to_samples.plan_row(row?, index, &mut batch)?;
            if batch.len() >= INSERT_BATCH {
                store.insert_samples(&run.object.id, &batch).await?;
                batch.clear();
            }
        }
        store.insert_samples(&run.object.id, &batch).await?;
    }
    Ok(store.count_samples(&run.object.id).await?)
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
        run: &'t RunRecord,
        task: &'t Task,
        own_rows: Option<&[Row]>,
    ) -> Result<Self, PlanError> {
        if task.task_type != TaskType::Embedding {
            return Ok(Self::Generated {
                task,
                renderer: Renderer::new(store, run, task, own_rows).await?,
                models: &run.object.models,
            });
        }
        let auxiliary = auxiliary_text_count(store, &run.owner, task).await?;
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
struct Renderer<'t> {
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
    async fn new(
        store: &Store,
        run: &RunRecord,
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
        let (dataset, same_dataset) = match &config.dataset {
            Some(d) => (d.clone(), false),
            None => (task.dataset.clone(), true),
        };
        let what = format!("task {} few-shot dataset", task.id);
        // The task's own rows as its preprocessor left them, else the pool dataset as stored.
        let mut rows = match (same_dataset, own_rows) {
            (true, Some(rows)) => TaskRows::from_rows(rows.to_vec()),
            _ => TaskRows::new(open_rows(store, &run.owner, &dataset, &what).await?, None),
        };
        let prompt_t = config
            .prompt_template
            .clone()
            .or_else(|| task.prompt_template.clone());
        let target_t = config
            .target_template
            .clone()
            .or_else(|| task.target_template.clone());
        let example_t = config.example_template.clone();
        let mut examples = Vec::new();
        while let Some(row) = rows.next().await {
            if examples.len() >= FEWSHOT_POOL_MAX {
                return Err(PlanError::Dataset(format!(
                    "{what}: more than {FEWSHOT_POOL_MAX} rows; set max_rows on it"
                )));
            }
            let row = row?;
            let n = examples.len();
            let prompt = render_field(
                prompt_t.as_deref(),
                &PROMPT_COLUMNS,
                &row,
                task,
                n,
                "prompt",
            )?;
            let target = render_field(
                target_t.as_deref(),
                &TARGET_COLUMNS,
                &row,
                task,
                n,
                "target",
            )?
            .unwrap_or_default();
            let example =
                template::render(&example_t, &json!({"prompt": prompt, "target": target}))
                    .map_err(|e| {
                        PlanError::Template(format!("task {} example_template: {e}", task.id))
                    })?;
            examples.push(example);
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

    fn render(&self, row: &Row, index: usize) -> Result<(String, Option<String>), PlanError> {
        let task = self.task;
        let prompt = render_field(
            task.prompt_template.as_deref(),
            &PROMPT_COLUMNS,
            row,
            task,
            index,
            "prompt",
        )?
        .ok_or_else(|| {
            PlanError::Template(format!(
                "task {} has no prompt_template and row {index} has none of the columns {}",
                task.id,
                PROMPT_COLUMNS.join(", ")
            ))
        })?;
        let target = render_field(
            task.target_template.as_deref(),
            &TARGET_COLUMNS,
            row,
            task,
            index,
            "target",
        )?;
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

/// Renders a template over the row (with `choices` from the task), or without a template
/// takes the first present fallback column.
fn render_field(
    template_src: Option<&str>,
    fallbacks: &[&str],
    row: &Row,
    task: &Task,
    index: usize,
    what: &str,
) -> Result<Option<String>, PlanError> {
    match template_src {
        Some(src) => {
            let mut context = row.clone();
            if let Some(choices) = &task.choices {
                context
                    .entry("choices".to_string())
                    .or_insert_with(|| json!(choices));
            }
            template::render(src, &Value::Object(context))
                .map(Some)
                .map_err(|e| {
                    PlanError::Template(format!(
                        "task {} row {index}: {what}_template: {e}",
                        task.id
                    ))
                })
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
