//! The run workflow: the engine's stages, orchestrated by Temporal.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use temporalio_common::RetryPolicy;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityExecutionError, ActivityOptions, ContinueAsNewOptions, WorkflowCancellationToken,
    WorkflowContext, WorkflowResult,
};

use crate::activities::{RunActivities, SampleRef};

/// Sample activities one workflow execution schedules before continuing as new, when the run
/// does not set `max_workflow_sample_activities`.
pub const DEFAULT_MAX_SAMPLE_ACTIVITIES: u32 = 5_000;
/// Unfinished samples fetched per `next_samples` call.
const PAGE: u32 = 256;

/// The workflow's input, carried across continue-as-new.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunProgress {
    pub run_id: String,
    /// `prepare` has run (set when continuing as new).
    pub prepared: bool,
    /// Samples up to this position have been run.
    pub after_seq: i64,
    /// Sample activities in flight at most.
    pub concurrency: u32,
    /// Sample activities per execution before continuing as new.
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

        let mut scheduled: u32 = 0;
        let mut in_flight: Vec<Pending<'_>> = Vec::new();
        let mut cancelled = false;
        'pages: loop {
            if scheduled >= progress.max_sample_activities {
                break;
            }
            let limit = PAGE.min(progress.max_sample_activities - scheduled);
            let page: Vec<SampleRef> = ctx
                .execute_activity(
                    RunActivities::next_samples,
                    (run_id.clone(), progress.after_seq, i64::from(limit)),
                    quick(),
                )
                .await?;
            if page.is_empty() {
                break;
            }
            for sample in page {
                while in_flight.len() >= progress.concurrency as usize {
                    if let Some(Err(e)) = next_done(&mut in_flight).await {
                        if matches!(e, ActivityExecutionError::Cancelled(_)) {
                            cancelled = true;
                            break 'pages;
                        }
                        return Err(e.into());
                    }
                }
                if ctx.cancellation_token().is_cancelled() {
                    cancelled = true;
                    break 'pages;
                }
                in_flight.push(Box::pin(ctx.execute_activity(
                    RunActivities::run_sample,
                    (run_id.clone(), sample.id),
                    long(),
                )));
                progress.after_seq = sample.seq;
                scheduled += 1;
            }
        }
        while let Some(done) = next_done(&mut in_flight).await {
            match done {
                Ok(()) => {}
                Err(ActivityExecutionError::Cancelled(_)) => cancelled = true,
                Err(e) => return Err(e.into()),
            }
        }
        drop(in_flight);
        if cancelled || ctx.cancellation_token().is_cancelled() {
            return conclude(ctx, &run_id, true).await;
        }
        if scheduled >= progress.max_sample_activities {
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

/// A sample activity in flight.
type Pending<'a> = Pin<Box<dyn Future<Output = Result<(), ActivityExecutionError>> + 'a>>;

/// Waits for the first of `pending` to finish (the earliest scheduled when several are ready)
/// and removes it; `None` when nothing is pending. Polls with the workflow's own waker in a
/// fixed order, so replays see the same sequence.
async fn next_done(pending: &mut Vec<Pending<'_>>) -> Option<Result<(), ActivityExecutionError>> {
    if pending.is_empty() {
        return None;
    }
    std::future::poll_fn(|cx| {
        for i in 0..pending.len() {
            if let Poll::Ready(out) = pending[i].as_mut().poll(cx) {
                drop(pending.remove(i));
                return Poll::Ready(Some(out));
            }
        }
        Poll::Pending
    })
    .await
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
