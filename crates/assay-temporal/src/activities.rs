//! The activities: thin wrappers over the engine's stages. Each one is idempotent, so
//! Temporal may run it again after a worker dies.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use assay_domain::api::RunStatus;
use assay_engine::sample::{PreparedRun, SeqRange, Stages};
use assay_engine::{outage, PlanError};
use assay_store::StoreError;
use serde::{Deserialize, Serialize};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::ApplicationFailure;
use tokio_util::sync::CancellationToken;

/// How often a long activity tells Temporal it is alive.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);

/// What the workflow needs to know after `prepare`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrepareOutcome {
    /// False when the run needs nothing more (terminal, cancelled, or failed while planning).
    pub proceed: bool,
    /// The run was already finalizing: skip the sample stage.
    pub finalizing: bool,
    /// The run's generation concurrency (batches are sized by it).
    pub generation_concurrency: u32,
    /// The run has `embedding` tasks to score before its other samples.
    pub embedding_tasks: bool,
    /// Sample activities scheduled per workflow execution before continuing as new.
    pub max_sample_activities: Option<u32>,
}

/// A batch of a run's samples for one `run_batch` activity: those at positions after `after`,
/// up to and including `through`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    pub run_id: String,
    pub after: i64,
    pub through: i64,
}

/// Where a batch ends, and how many unfinished samples it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchEnd {
    pub through: i64,
    pub count: u32,
}

/// The activities, over the stages of this worker process.
pub struct RunActivities {
    stages: Arc<Stages>,
    /// Runs' records and manifests, loaded once per run per worker.
    prepared: Mutex<HashMap<String, Arc<PreparedRun>>>,
}

impl RunActivities {
    pub fn new(stages: Arc<Stages>) -> Self {
        Self {
            stages,
            prepared: Mutex::new(HashMap::new()),
        }
    }

    async fn prepared(&self, run_id: &str) -> Result<Arc<PreparedRun>, ActivityError> {
        if let Some(p) = self.lock().get(run_id) {
            return Ok(p.clone());
        }
        let loaded = Arc::new(self.stages.load(run_id).await.map_err(plan_error)?);
        let mut cache = self.lock();
        // Keep the cache small: a worker serves few runs at a time.
        if cache.len() > 64 {
            cache.clear();
        }
        cache.insert(run_id.to_string(), loaded.clone());
        Ok(loaded)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<PreparedRun>>> {
        self.prepared.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A storage outage is worth retrying (Temporal retries the activity); anything else about
/// the run (e.g. it was deleted) is final for it.
fn plan_error(e: PlanError) -> ActivityError {
    if e.is_transient() {
        ActivityError::from(anyhow::anyhow!("{e}"))
    } else {
        ActivityError::application(ApplicationFailure::non_retryable(e))
    }
}

/// The final error of an activity whose run was failed because storage stayed broken.
fn gave_up(wait: Duration) -> ActivityError {
    ActivityError::application(ApplicationFailure::non_retryable(anyhow::anyhow!(
        "storage failed for longer than {} s; the run was failed with storage_error",
        wait.as_secs()
    )))
}

fn store_error(e: StoreError) -> ActivityError {
    plan_error(PlanError::Store(e))
}

/// A stage that works on a whole run at once, between planning and concluding.
#[derive(Clone, Copy)]
enum WholeRunStage {
    EmbedTasks,
    GradeBatches,
}

impl RunActivities {
    /// Runs `work` like [`heartbeating`], unless a storage outage outlasts the stages'
    /// storage wait first (the work may be blocked on storage all that time): then the run
    /// is failed with `storage_error` and the activity fails for good.
    async fn patiently<T>(
        &self,
        ctx: &ActivityContext,
        run_id: &str,
        work: impl FnOnce(CancellationToken) -> futures::future::BoxFuture<'static, T>,
    ) -> Result<T, ActivityError> {
        let wait = self.stages.storage_wait;
        tokio::select! {
            out = heartbeating(ctx, work) => Ok(out),
            active = outage::outlasting(self.stages.store.health(), wait) => {
                let store = self.stages.store.clone();
                let id = run_id.to_string();
                heartbeating(ctx, move |_token| {
                    Box::pin(async move { outage::fail_run(&store, &id, &active, wait).await })
                })
                .await
                .map_err(store_error)?;
                Err(gave_up(wait))
            }
        }
    }

    /// The activity error for a failed stage: retried while a storage outage is shorter than
    /// the storage wait (the outage is recorded), final otherwise; once the wait is over the
    /// run is failed with `storage_error` first.
    async fn stage_error(&self, run_id: &str, e: PlanError) -> ActivityError {
        let store = &self.stages.store;
        if let PlanError::Store(inner) = &e {
            if let Some(fault) = inner.storage_fault() {
                store.health().failing(fault);
            }
        }
        let wait = self.stages.storage_wait;
        if e.is_transient() {
            if let Some(active) = store.health().oldest() {
                if active.started.elapsed() >= wait
                    && outage::fail_run_once(store, run_id, &active, wait)
                        .await
                        .is_ok()
                {
                    return gave_up(wait);
                }
            }
        }
        plan_error(e)
    }

    /// Runs `stage` over the run, heartbeating; a cancel stops it midway and is reported as
    /// one (what is left is done when the activity runs again).
    async fn whole_run_stage(
        self: &Arc<Self>,
        ctx: &ActivityContext,
        run_id: &str,
        stage: WholeRunStage,
    ) -> Result<(), ActivityError> {
        let prepared = self.prepared(run_id).await?;
        let stages = self.stages.clone();
        let outcome = self
            .patiently(ctx, run_id, move |token| {
                Box::pin(async move {
                    let context = stages.sample_context(&prepared, &token);
                    match stage {
                        WholeRunStage::EmbedTasks => stages.embed_tasks(&prepared, &context).await,
                        WholeRunStage::GradeBatches => {
                            stages.grade_batches(&prepared, &context).await
                        }
                    }
                })
            })
            .await?;
        if let Err(e) = outcome {
            return Err(self.stage_error(run_id, e).await);
        }
        if ctx.is_cancelled() {
            return Err(ActivityError::cancelled());
        }
        Ok(())
    }
}

/// Runs `work` with a token that fires when Temporal cancels the activity, heartbeating
/// meanwhile so a dead worker is noticed and a cancel is delivered.
async fn heartbeating<T>(
    ctx: &ActivityContext,
    work: impl FnOnce(CancellationToken) -> futures::future::BoxFuture<'static, T>,
) -> T {
    let token = CancellationToken::new();
    let mut job = work(token.clone());
    loop {
        tokio::select! {
            out = &mut job => return out,
            _ = ctx.cancelled() => token.cancel(),
            _ = tokio::time::sleep(HEARTBEAT_EVERY) => {
                let _ = ctx.record_heartbeat(()).await;
            }
        }
    }
}

#[activities]
impl RunActivities {
    /// Plans the run (or marks it started again). Planning may run Python preprocessors, so
    /// it heartbeats like the other long activities.
    #[activity]
    pub async fn prepare(
        self: Arc<Self>,
        ctx: ActivityContext,
        run_id: String,
    ) -> Result<PrepareOutcome, ActivityError> {
        let stages = self.stages.clone();
        let id = run_id.clone();
        let prepared = match self
            .patiently(&ctx, &run_id, move |_token| {
                Box::pin(async move { stages.prepare(&id).await })
            })
            .await?
        {
            Ok(prepared) => prepared,
            Err(e) => return Err(self.stage_error(&run_id, e).await),
        };
        self.lock().remove(&run_id);
        Ok(match prepared {
            None => PrepareOutcome {
                proceed: false,
                finalizing: false,
                generation_concurrency: 1,
                embedding_tasks: false,
                max_sample_activities: None,
            },
            Some(p) => PrepareOutcome {
                proceed: true,
                finalizing: p.run.object.status == RunStatus::Finalizing,
                generation_concurrency: p.run.settings.generation_concurrency.max(1) as u32,
                embedding_tasks: p.has_embedding_tasks(),
                max_sample_activities: p
                    .run
                    .settings
                    .max_workflow_sample_activities
                    .map(|n| n.max(1) as u32),
            },
        })
    }

    /// Scores the run's embedding tasks.
    #[activity]
    pub async fn embed_tasks(
        self: Arc<Self>,
        ctx: ActivityContext,
        run_id: String,
    ) -> Result<(), ActivityError> {
        self.whole_run_stage(&ctx, &run_id, WholeRunStage::EmbedTasks)
            .await
    }

    /// Runs the run's aggregate Python graders over their generated samples.
    #[activity]
    pub async fn grade_batches(
        self: Arc<Self>,
        ctx: ActivityContext,
        run_id: String,
    ) -> Result<(), ActivityError> {
        self.whole_run_stage(&ctx, &run_id, WholeRunStage::GradeBatches)
            .await
    }

    /// Where the batch of the next `limit` unfinished samples after `after_seq` ends; `None`
    /// when no sample is left.
    #[activity]
    pub async fn batch_end(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: (String, i64, u32),
    ) -> Result<Option<BatchEnd>, ActivityError> {
        let (run_id, after_seq, limit) = input;
        let span = self
            .stages
            .store
            .unfinished_span(&run_id, after_seq, i64::from(limit.max(1)))
            .await
            .map_err(store_error)?;
        Ok(span.map(|(through, count)| BatchEnd {
            through,
            count: count as u32,
        }))
    }

    /// Takes a batch of samples (those at positions `after` < seq ≤ `through`) to `completed`
    /// or `failed`, with the run's concurrency. Samples a previous attempt finished are
    /// skipped, so a retried batch only does what is left; the activity heartbeats while it
    /// works.
    #[activity]
    pub async fn run_batch(
        self: Arc<Self>,
        ctx: ActivityContext,
        batch: Batch,
    ) -> Result<(), ActivityError> {
        let prepared = self.prepared(&batch.run_id).await?;
        let range = SeqRange {
            after: batch.after,
            through: batch.through,
        };
        let stages = self.stages.clone();
        let outcome = self
            .patiently(&ctx, &batch.run_id, move |token| {
                Box::pin(async move { stages.run_range(&prepared, &token, range).await })
            })
            .await?;
        if let Err(e) = outcome {
            return Err(self.stage_error(&batch.run_id, e).await);
        }
        if ctx.is_cancelled() {
            return Err(ActivityError::cancelled());
        }
        Ok(())
    }

    /// Ends the run: finalizes it, or (`stopped`) records a requested cancel.
    #[activity]
    pub async fn conclude(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: (String, bool),
    ) -> Result<(), ActivityError> {
        let (run_id, stopped) = input;
        let prepared = self.stages.load(&run_id).await.map_err(plan_error)?;
        self.lock().remove(&run_id);
        match self.stages.conclude(&prepared, stopped).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.stage_error(&run_id, e).await),
        }
    }
}
