//! Streaming aggregation over samples: counts, token sums and running means, in constant
//! memory however many samples a run has.

use std::collections::BTreeMap;

use assay_domain::api::{RunTokens, SampleObject, SampleStatus};
use assay_domain::manifest::{Task, TaskType};
use assay_scoring::aggregate::{Accumulator, EditTally};
use assay_scoring::metrics::{builtin, edit_counts, MetricInput};
use assay_store::{score_number, Store, StoreError};
use serde_json::{json, Value};

/// Counts, token sums and per-metric running statistics over a set of samples.
#[derive(Default)]
pub struct Aggregate {
    pub total: i64,
    pub completed: i64,
    pub failed: i64,
    /// Samples carrying an `error` (failed ones, and scored ones whose error was recorded).
    pub errored: i64,
    pub cost_usd: Option<f64>,
    input: Option<i64>,
    output: Option<i64>,
    cached: Option<i64>,
    reasoning: Option<i64>,
    pub metrics: BTreeMap<String, Accumulator>,
    /// Edits over reference length summed over the completed samples, per error-rate metric
    /// (`wer`, `cer`): the corpus-level rate beside the mean of the per-sample rates.
    pub corpus: BTreeMap<String, EditTally>,
}

fn add_opt(sum: &mut Option<i64>, v: Option<i64>) {
    if let Some(v) = v {
        *sum = Some(sum.unwrap_or(0) + v);
    }
}

impl Aggregate {
    /// Counts one sample.
    pub fn add(&mut self, s: &SampleObject) {
        self.total += 1;
        if s.error.as_ref().is_some_and(|e| !e.is_null()) {
            self.errored += 1;
        }
        if let Some(c) = s.cost_usd {
            self.cost_usd = Some(self.cost_usd.unwrap_or(0.0) + c);
        }
        add_opt(&mut self.input, s.input_tokens);
        add_opt(&mut self.output, s.output_tokens);
        add_opt(&mut self.cached, s.cached_tokens);
        add_opt(&mut self.reasoning, s.reasoning_tokens);
        match s.status {
            SampleStatus::Completed => {
                self.completed += 1;
                for (metric, value) in &s.scores {
                    if let Some(x) = score_number(value) {
                        self.metrics.entry(metric.clone()).or_default().push(x);
                    }
                }
            }
            SampleStatus::Failed => self.failed += 1,
            _ => {}
        }
    }

    /// Token sums; `None` where no sample reported the figure.
    pub fn tokens(&self) -> RunTokens {
        RunTokens {
            input: self.input,
            output: self.output,
            cached: self.cached,
            reasoning: self.reasoning,
        }
    }

    pub fn counts_json(&self) -> Value {
        json!({"total": self.total, "completed": self.completed, "failed": self.failed})
    }
}

/// A whole run's aggregates: over all of its samples, per task, and per model and task — the
/// three levels of a run's `metrics` and totals.
#[derive(Default)]
pub struct RunAggregates {
    pub totals: Aggregate,
    pub by_task: BTreeMap<String, Aggregate>,
    pub by_model: BTreeMap<String, BTreeMap<String, Aggregate>>,
    /// Per task, its type and the built-in error-rate metrics it scores (their corpus rates
    /// are tallied from each completed sample's output and target).
    error_rates: BTreeMap<String, (TaskType, Vec<&'static str>)>,
}

impl RunAggregates {
    /// Aggregates that also tally the corpus error rates of `tasks`' built-in `wer` / `cer`
    /// (a task with a Python grader reports what its grader returns, so it is left out).
    pub fn for_tasks<'a>(tasks: impl IntoIterator<Item = &'a Task>) -> Self {
        let mut error_rates = BTreeMap::new();
        for task in tasks {
            if task.grader.is_some() {
                continue;
            }
            let ids: Vec<&'static str> = crate::sample::metric_ids(task)
                .iter()
                .filter_map(|id| builtin(id).filter(|m| m.corpus_id.is_some()).map(|m| m.id))
                .collect();
            if !ids.is_empty() {
                error_rates.insert(task.id.clone(), (task.task_type, ids));
            }
        }
        Self {
            error_rates,
            ..Self::default()
        }
    }

    /// Counts one sample at every level.
    pub fn add(&mut self, s: &SampleObject) {
        self.totals.add(s);
        self.by_task.entry(s.task_id.clone()).or_default().add(s);
        self.by_model
            .entry(s.model.clone())
            .or_default()
            .entry(s.task_id.clone())
            .or_default()
            .add(s);
        if s.status != SampleStatus::Completed {
            return;
        }
        let Some((task_type, ids)) = self.error_rates.get(&s.task_id) else {
            return;
        };
        let input = MetricInput::new(
            s.extracted_output.as_deref(),
            s.target.as_deref().unwrap_or(""),
            &[],
            *task_type,
        );
        for id in ids {
            let Some(counts) = edit_counts(id, &input) else {
                continue;
            };
            let levels = [
                &mut self.totals,
                self.by_task.entry(s.task_id.clone()).or_default(),
                self.by_model
                    .entry(s.model.clone())
                    .or_default()
                    .entry(s.task_id.clone())
                    .or_default(),
            ];
            for level in levels {
                level.corpus.entry(id.to_string()).or_default().push(counts);
            }
        }
    }
}

/// A token summary as JSON.
pub fn tokens_json(t: &RunTokens) -> Value {
    json!({"input": t.input, "output": t.output, "cached": t.cached, "reasoning": t.reasoning})
}

/// Samples read per page when scanning a run.
const SCAN_PAGE: i64 = 500;

/// Calls `visit` on every sample of a run, in order, reading them a page at a time so memory
/// stays flat however large the run is.
pub async fn scan_samples(
    store: &Store,
    run_id: &str,
    mut visit: impl FnMut(&SampleObject),
) -> Result<(), StoreError> {
    let mut after = 0;
    loop {
        let page = store.sample_batch(run_id, after, SCAN_PAGE, false).await?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = last.seq;
        for sample in &page {
            visit(&sample.object);
        }
    }
}
