//! Token backfill (`POST /evals/suites/{suite_id}/tokens/measure`): token figures counted from
//! stored text for samples written before usage was recorded, and their runs' token sums
//! refreshed.
//!
//! One call takes up to `limit` of the suite's completed, live runs owned by the caller that
//! hold *measurable* samples — no token figure at all (input, output, cached and reasoning all
//! null) but answer or reasoning text — oldest run first. Every measurable sample of such a
//! run is counted with the gateway's own estimate ([`estimate_usage`], tiktoken `o200k_base`):
//! the prompt, with the run's `generation.instructions` as they were sent, as `input_tokens`;
//! answer plus reasoning as `output_tokens`; the reasoning alone as `reasoning_tokens` (null
//! without reasoning text: no split is claimed). Then one transaction per run writes the
//! figures (`tokens_estimated: true`) and recomputes the run's `metrics.by_task[*].tokens`,
//! `metrics.by_model[*][*].tokens` and token totals from its stored samples with the
//! aggregation finalize uses ([`RunAggregates`]), never by adding to the old sums.
//!
//! Samples with any figure, and samples without text, are left as they are; a call with
//! nothing left to measure changes nothing. Counting happens before the transaction, off the
//! async workers, so the database is held only for the writes.

use assay_domain::api::{RunTokens, SampleObject, SuiteTokenMeasurement};
use assay_domain::Principal;
use assay_models::tokens::estimate_usage;
use assay_store::{RunRecord, RunRefresh, Store, StoreError, TokenEstimate, UnmeasuredSample};
use serde_json::{json, Map, Value};

use crate::aggregate::{tokens_json, Aggregate, RunAggregates};

/// Measurable samples read (and counted) at a time.
const PAGE: i64 = 500;

/// Measures up to `limit` runs of `suite_id` (which the caller must own; the handler checks)
/// and reports what was done and what is left.
pub async fn measure_suite_tokens(
    store: &Store,
    caller: &Principal,
    suite_id: &str,
    limit: i64,
) -> Result<SuiteTokenMeasurement, StoreError> {
    let mut measured_runs = 0;
    let mut measured_samples = 0;
    for run in store.runs_to_measure(caller, suite_id, limit).await? {
        let estimates = estimate_run(store, &run).await?;
        if estimates.is_empty() {
            // Measured by a concurrent call since the runs were listed.
            continue;
        }
        let written = store
            .record_token_estimates(&run.object.id, &estimates, RunAggregates::default())
            .await?;
        if written > 0 {
            measured_runs += 1;
            measured_samples += i64::try_from(written).unwrap_or(i64::MAX);
        }
    }
    let remaining_runs = store.count_runs_to_measure(caller, suite_id).await?;
    Ok(SuiteTokenMeasurement::new(
        suite_id,
        measured_runs,
        measured_samples,
        remaining_runs,
    ))
}

/// Token figures for every measurable sample of `run`, counted a page at a time on the
/// blocking pool (tokenizing long texts is CPU work).
async fn estimate_run(store: &Store, run: &RunRecord) -> Result<Vec<TokenEstimate>, StoreError> {
    let instructions = run.object.generation.instructions.clone();
    let mut estimates = Vec::new();
    let mut after = 0;
    loop {
        let page = store
            .unmeasured_samples(&run.object.id, after, PAGE)
            .await?;
        let Some(last) = page.last() else {
            return Ok(estimates);
        };
        after = last.seq;
        let instructions = instructions.clone();
        let counted = tokio::task::spawn_blocking(move || {
            page.iter()
                .map(|s| estimate(s, instructions.as_deref()))
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        estimates.extend(counted);
    }
}

/// The figures of one sample, counted from its stored text.
fn estimate(sample: &UnmeasuredSample, instructions: Option<&str>) -> TokenEstimate {
    let usage = estimate_usage(
        instructions,
        &sample.prompt,
        sample.output_text.as_deref().unwrap_or(""),
        sample.reasoning.as_deref(),
    );
    let int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    TokenEstimate {
        seq: sample.seq,
        input_tokens: int(usage.input_tokens),
        output_tokens: int(usage.output_tokens),
        reasoning_tokens: usage.reasoning_tokens.map(int),
    }
}

impl RunRefresh for RunAggregates {
    fn add(&mut self, sample: &SampleObject) {
        RunAggregates::add(self, sample);
    }

    fn finish(self, metrics: Option<Value>) -> (Option<Value>, RunTokens) {
        let metrics = metrics.map(|mut m| {
            refresh_tokens(&mut m, &self);
            m
        });
        (metrics, self.totals.tokens())
    }
}

/// Replaces the `tokens` of every task in `metrics.by_task` and every model's task in
/// `metrics.by_model` (the layout [`crate::finalize`] writes) with the sums in `aggregates`;
/// everything else in `metrics` stays as it is.
fn refresh_tokens(metrics: &mut Value, aggregates: &RunAggregates) {
    let Value::Object(metrics) = metrics else {
        return;
    };
    if let Some(by_task) = object_at(metrics, "by_task") {
        for (task_id, agg) in &aggregates.by_task {
            set_tokens(by_task, task_id, agg);
        }
    }
    if let Some(by_model) = object_at(metrics, "by_model") {
        for (model, per_task) in &aggregates.by_model {
            if let Some(tasks) = object_at(by_model, model) {
                for (task_id, agg) in per_task {
                    set_tokens(tasks, task_id, agg);
                }
            }
        }
    }
}

/// The object under `key`, created when missing; `None` when something else is stored there.
fn object_at<'a>(
    parent: &'a mut Map<String, Value>,
    key: &str,
) -> Option<&'a mut Map<String, Value>> {
    parent
        .entry(key.to_string())
        .or_insert_with(|| json!({}))
        .as_object_mut()
}

/// Sets `parent[key].tokens` to the sums of `agg`.
fn set_tokens(parent: &mut Map<String, Value>, key: &str, agg: &Aggregate) {
    if let Some(entry) = object_at(parent, key) {
        entry.insert("tokens".into(), tokens_json(&agg.tokens()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use assay_domain::api::SampleStatus;
    use assay_models::tokens::count_tokens;

    fn sample(task: &str, model: &str, input: Option<i64>, output: Option<i64>) -> SampleObject {
        serde_json::from_value(json!({
            "id": "s", "object": "eval.sample", "run_id": "r", "task_id": task, "model": model,
            "sample_index": 0, "status": SampleStatus::Completed.as_str(), "dataset_row": null,
            "prompt": "", "target": null, "response_id": null, "output_text": null, "reasoning": null,
            "extracted_output": null, "scores": {}, "judge": null, "error": null, "cost_usd": null,
            "input_tokens": input, "output_tokens": output, "cached_tokens": null,
            "reasoning_tokens": null, "tokens_estimated": false, "phase_timings": null,
            "created_at": 0, "started_at": null, "completed_at": null
        }))
        .expect("sample")
    }

    #[test]
    fn refresh_replaces_token_sums_and_keeps_the_rest() {
        let mut aggregates = RunAggregates::default();
        for s in [
            sample("qa", "m1", Some(3), Some(4)),
            sample("qa", "m2", Some(10), Some(1)),
            sample("mc", "m1", None, None),
        ] {
            RunRefresh::add(&mut aggregates, &s);
        }
        let metrics = json!({
            "samples": {"total": 3, "completed": 3, "failed": 0},
            "by_task": {
                "qa": {"exact_match": 0.5, "tokens": {"input": null, "output": null, "cached": null, "reasoning": null}},
                "mc": {"accuracy": 1.0, "tokens": {"input": 7, "output": 7, "cached": null, "reasoning": null}}
            },
            "by_model": {"m1": {"qa": {"metrics": {"exact_match": {"mean": 1.0}}, "tokens": {}}}}
        });
        let (metrics, totals) = aggregates.finish(Some(metrics));
        let metrics = metrics.expect("metrics");
        assert_eq!(metrics["samples"]["total"], 3);
        assert_eq!(metrics["by_task"]["qa"]["exact_match"], 0.5);
        assert_eq!(
            metrics["by_task"]["qa"]["tokens"],
            json!({"input": 13, "output": 5, "cached": null, "reasoning": null})
        );
        // Recomputed, not kept: no sample of `mc` has a figure.
        assert_eq!(metrics["by_task"]["mc"]["tokens"]["input"], Value::Null);
        assert_eq!(
            metrics["by_model"]["m1"]["qa"]["metrics"]["exact_match"]["mean"],
            1.0
        );
        assert_eq!(metrics["by_model"]["m1"]["qa"]["tokens"]["input"], 3);
        assert_eq!(metrics["by_model"]["m2"]["qa"]["tokens"]["output"], 1);
        assert_eq!(
            totals,
            RunTokens {
                input: Some(13),
                output: Some(5),
                cached: None,
                reasoning: None
            }
        );
        // A run without metrics keeps none.
        assert_eq!(RunAggregates::default().finish(None).0, None);
    }

    #[test]
    fn estimates_follow_the_gateway() {
        let s = UnmeasuredSample {
            seq: 7,
            prompt: "What is 2+2?".into(),
            output_text: Some("4".into()),
            reasoning: Some("two plus two".into()),
        };
        let e = estimate(&s, Some("Be brief."));
        assert_eq!(e.seq, 7);
        assert_eq!(
            e.input_tokens as u64,
            count_tokens("Be brief.") + count_tokens("What is 2+2?")
        );
        assert_eq!(
            e.output_tokens as u64,
            count_tokens("4") + count_tokens("two plus two")
        );
        assert_eq!(
            e.reasoning_tokens,
            Some(count_tokens("two plus two") as i64)
        );
        let reasoning_only = UnmeasuredSample {
            output_text: None,
            reasoning: Some("thinking".into()),
            ..s.clone()
        };
        let e = estimate(&reasoning_only, None);
        assert_eq!(e.output_tokens as u64, count_tokens("thinking"));
        let answer_only = UnmeasuredSample {
            reasoning: None,
            ..s
        };
        assert_eq!(estimate(&answer_only, None).reasoning_tokens, None);
    }
}
