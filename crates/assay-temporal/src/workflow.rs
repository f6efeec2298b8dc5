//! The run workflow: the engine's stages, orchestrated by Temporal.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use temporalio_common::RetryPolicy;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityExecutionError, ActivityOptions, ContinueAsNewOptions, WorkflowCancellationToken,
    WorkflowContext, WorkflowResult,
};

use crate::activities::{Batch, BatchEnd, RunActivities};

/// Samples one workflow execution reserves in batch activities before continuing as new, when
/// the run does not set `max_workflow_sample_activities`.
pub const DEFAULT_MAX_SAMPLE_ACTIVITIES: u32 = 5_000;
/// A batch's size in rounds of the run's concurrency: long enough that scheduling the next
/// batch costs little beside it, short enough that a retried batch repeats little.
const ROUNDS_PER_BATCH: u32 = 32;

/// The workflow's input, carried across continue-as-new.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunProgress {
    pub run_id: String,
    /// `prepare` has run (set when continuing as new).
    pub prepared: bool,
    /// Samples up to this position have been run.
    pub after_seq: i64,
    /// The run's generation concurrency (batches are sized by it).
    pub concurrency: u32,
    /// Samples reserved by batch activities per execution before continuing as new.
    pub max_sample_activities: u32,
    /// How many times the workflow has continued as new.
    pub continuations: u32,
}

impl RunProgress {
    /// The start of a run's workflow.
    pub fn start(run_id: &str) -> Self {
        Self {
            run_id: run_id.to_string(),
            ..Self::default()
        }
    }
}

/// Retries for infrastructure failures (database or blob outages): keep trying, backing off
/// to five seconds, so a run continues within seconds of storage coming back. Model errors
/// never reach here: they fail the sample, not the activity.
fn retry() -> RetryPolicy {
    RetryPolicy::builder()
        .initial_interval(Duration::from_secs(1))
        .backoff_coefficient(2.0)
        .maximum_interval(Duration::from_secs(5))
        .build()
}

/// Short bookkeeping activities.
fn quick() -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(300))
        .retry_policy(retry())
        .build()
}

/// Activities that call models or embed whole tasks: long, heartbeating.
fn long() -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(24 * 3600))
        .heartbeat_timeout(Duration::from_secs(10))
        .retry_policy(retry())
        .build()
}

/// A run, from planning to its terminal state.
#[workflow]
#[derive(Default)]
pub struct RunWorkflow;

#[workflow_methods]
impl RunWorkflow {
    #[run]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: RunProgress,
    ) -> WorkflowResult<String> {
        let mut progress = input;
        let run_id = progress.run_id.clone();
        if !progress.prepared {
            let outcome = ctx
                .execute_activity(RunActivities::prepare, run_id.clone(), long())
                .await?;
            if !outcome.proceed {
                return Ok("nothing to do".into());
            }
            progress.prepared = true;
            progress.concurrency = outcome.generation_concurrency.max(1);
            progress.max_sample_activities = outcome
                .max_sample_activities
                .unwrap_or(DEFAULT_MAX_SAMPLE_ACTIVITIES)
                .max(1);
            if outcome.finalizing {
                return conclude(ctx, &run_id, false).await;
            }
            if outcome.embedding_tasks {
                match ctx
                    .execute_activity(RunActivities::embed_tasks, run_id.clone(), long())
                    .await
                {
                    Ok(()) => {}
                    Err(ActivityExecutionError::Cancelled(_)) => {
                        return conclude(ctx, &run_id, true).await
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }

        let batches = run_batches(ctx, &mut progress).await?;
        if matches!(batches, Batches::Cancelled) || ctx.cancellation_token().is_cancelled() {
            return conclude(ctx, &run_id, true).await;
        }
        if matches!(batches, Batches::MoreLeft) {
            // History stays bounded: carry on in a fresh execution from the cursor.
            progress.continuations += 1;
            ctx.continue_as_new(progress, ContinueAsNewOptions::default())?;
        }
        match ctx
            .execute_activity(RunActivities::grade_batches, run_id.clone(), long())
            .await
        {
            Ok(()) => {}
            Err(ActivityExecutionError::Cancelled(_)) => return conclude(ctx, &run_id, true).await,
            Err(e) => return Err(e.into()),
        }
        conclude(ctx, &run_id, false).await
    }
}

/// How the sample stage of one workflow execution ended.
enum Batches {
    /// Every unfinished sample has been run.
    Done,
    /// The execution reserved its share of samples and more are left.
    MoreLeft,
    /// The run is being cancelled.
    Cancelled,
}

/// Runs the unfinished samples after `progress.after_seq` in batch activities, one at a time
/// with the run's whole concurrency, `ROUNDS_PER_BATCH` rounds of it each, until none are
/// left or this execution has reserved `max_sample_activities` samples. Where the next batch
/// ends is found while the current one runs, so batches follow each other closely.
async fn run_batches(
    ctx: &WorkflowContext<RunWorkflow>,
    progress: &mut RunProgress,
) -> WorkflowResult<Batches> {
    let run_id = progress.run_id.clone();
    let size = ROUNDS_PER_BATCH.saturating_mul(progress.concurrency.max(1));
    let mut reserved: u32 = 0;
    let mut next = batch_end(
        ctx,
        &run_id,
        progress.after_seq,
        size.min(progress.max_sample_activities),
    )
    .await?;
    loop {
        let Some(end) = next else {
            return Ok(Batches::Done);
        };
        if ctx.cancellation_token().is_cancelled() {
            return Ok(Batches::Cancelled);
        }
        reserved = reserved.saturating_add(end.count);
        let left = progress.max_sample_activities.saturating_sub(reserved);
        let batch = Batch {
            run_id: run_id.clone(),
            after: progress.after_seq,
            through: end.through,
        };
        let running = ctx.execute_activity(RunActivities::run_batch, batch, long());
        // With nothing left to reserve, only whether more samples remain matters.
        let following = batch_end(ctx, &run_id, end.through, size.min(left).max(1));
        let (ran, following) = futures::join!(running, following);
        match ran {
            Ok(()) => {}
            Err(ActivityExecutionError::Cancelled(_)) => return Ok(Batches::Cancelled),
            Err(e) => return Err(e.into()),
        }
        progress.after_seq = end.through;
        next = following?;
        if left == 0 {
            return Ok(match next {
                Some(_) => Batches::MoreLeft,
                None => Batches::Done,
            });
        }
    }
}

/// Where the batch of the next `limit` unfinished samples after `after` ends.
async fn batch_end(
    ctx: &WorkflowContext<RunWorkflow>,
    run_id: &str,
    after: i64,
    limit: u32,
) -> WorkflowResult<Option<BatchEnd>> {
    Ok(ctx
        .execute_activity(
            RunActivities::batch_end,
            (run_id.to_string(), after, limit),
            quick(),
        )
        .await?)
}

/// Finalizes the run, or after a cancel records it as cancelled. Runs even when the workflow
/// is being cancelled (its own token is never cancelled).
async fn conclude(
    ctx: &WorkflowContext<RunWorkflow>,
    run_id: &str,
    stopped: bool,
) -> WorkflowResult<String> {
    let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(3600))
        .retry_policy(retry())
        .cancellation_token(WorkflowCancellationToken::new())
        .build();
    ctx.execute_activity(
        RunActivities::conclude,
        (run_id.to_string(), stopped),
        options,
    )
    .await?;
    Ok(if stopped { "stopped" } else { "concluded" }.into())
}
