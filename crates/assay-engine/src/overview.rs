//! The run overview: a scan of the run's samples into trial counts, the average of one
//! score, cost and tokens (the expensive read kept off `GET run`, which is polled).

use assay_domain::api::{RunObject, RunOverview, TrialCounts};
use assay_store::{RunRecord, StorageHealth, Store, StoreError};
use serde_json::json;

use crate::aggregate::{scan_samples, Aggregate};

/// Scans the run's samples; `metric` is the `scores` key averaged into `avg_reward`.
pub async fn overview(
    store: &Store,
    run: &RunRecord,
    metric: &str,
) -> Result<RunOverview, StoreError> {
    let mut agg = Aggregate::default();
    scan_samples(store, &run.object.id, |s| agg.add(s)).await?;
    let o = &run.object;
    let avg = agg.metrics.get(metric).and_then(|m| m.summary().mean);
    Ok(RunOverview {
        run_id: o.id.clone(),
        object: "eval.run.overview".into(),
        suite_id: o.suite_id.clone(),
        status: o.status,
        agent_name: o.agent_name.clone(),
        agent_version: o.agent_version.clone(),
        agent_effort: o.agent_effort.clone(),
        models: o.models.clone(),
        metric: metric.to_string(),
        avg_reward: avg,
        trials: TrialCounts {
            total: agg.total,
            completed: agg.completed,
            failed: agg.failed,
            errored: agg.errored,
            retried: run.retried,
        },
        cost_usd: agg.cost_usd.or(o.cost_usd),
        tokens: agg.tokens(),
    })
}

/// Shows a storage outage on an unfinished run, which cannot move until storage is back:
/// while the store records an outage, the run's `error` (otherwise null until it ends) reads
/// `{"type": "waiting_for_storage", "message", "resource", "since"}`. Computed when the run is
/// read, never stored: the outage may be exactly what keeps the database from taking writes.
pub fn note_storage_wait(health: &StorageHealth, run: &mut RunObject) {
    if run.status.is_terminal() || run.error.is_some() {
        return;
    }
    if let Some(active) = health.oldest() {
        run.error = Some(json!({
            "type": "waiting_for_storage",
            "message": format!("{}; the run continues when it is back", active.fault.summary()),
            "resource": active.fault.resource.as_str(),
            "since": active.since,
        }));
    }
}
