//! The run overview: a scan of the run's samples into trial counts, the average of one
//! score, cost and tokens (the expensive read kept off `GET run`, which is polled).

use assay_domain::api::{RunOverview, TrialCounts};
use assay_store::{RunRecord, Store, StoreError};

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
            retried: 0,
        },
        cost_usd: agg.cost_usd.or(o.cost_usd),
        tokens: agg.tokens(),
    })
}
