//! Schedules on Temporal: each Assay schedule is a Temporal Schedule (id `assay-schedule-<id>`)
//! whose action starts a [`ScheduleFireWorkflow`]. That workflow creates the fire's run
//! (admitted at fire time, once per workflow id), starts the run's own workflow and waits
//! until the run ends, so Temporal's overlap policy — `skip`, `buffer_one`, `allow_all`, the
//! same names — applies to the runs themselves. Pausing, resuming, triggering and deleting
//! map onto the Temporal Schedule; `next_run_at` is Temporal's next action time. Missed
//! fires while Temporal itself was down follow Temporal's catch-up window.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use assay_domain::api::{OverlapPolicy, RunStatus};
use assay_engine::schedules::{DriverError, Firing, ScheduleDriver};
use assay_store::{ScheduleRecord, StoreError};
use serde::{Deserialize, Serialize};
use temporalio_client::schedules::{
    CreateScheduleOptions, DeleteScheduleOptions, ScheduleAction, ScheduleError,
    ScheduleIntervalSpec, ScheduleOverlapPolicy, ScheduleSpec, TriggerScheduleOptions,
};
use temporalio_client::Client;
use temporalio_common::RetryPolicy;
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::{ActivityOptions, WorkflowContext, WorkflowResult};

use crate::dispatcher::TemporalDispatcher;

/// The Temporal Schedule id of an Assay schedule.
pub fn temporal_schedule_id(schedule_id: &str) -> String {
    format!("assay-schedule-{schedule_id}")
}

/// How often `await_run` looks at its run.
const AWAIT_POLL: Duration = Duration::from_secs(2);

/// The input of one fire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleFire {
    pub schedule_id: String,
}

/// One fire of a schedule: its run, from creation to its end.
#[workflow]
#[derive(Default)]
pub struct ScheduleFireWorkflow;

#[workflow_methods]
impl ScheduleFireWorkflow {
    #[run]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: ScheduleFire,
    ) -> WorkflowResult<String> {
        // Temporal gives each fire its own workflow id (the action's id and the fire time):
        // it names the fire, so a retried activity finds the run it created.
        let fire_key = ctx.workflow_id().to_string();
        let quick = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(120))
            .retry_policy(retry())
            .build();
        let run_id: Option<String> = ctx
            .execute_activity(
                ScheduleActivities::fire,
                (input.schedule_id.clone(), fire_key),
                quick,
            )
            .await?;
        let Some(run_id) = run_id else {
            return Ok("no run".into());
        };
        let waiting =
            ActivityOptions::with_start_to_close_timeout(Duration::from_secs(30 * 24 * 3600))
                .heartbeat_timeout(Duration::from_secs(30))
                .retry_policy(retry())
                .build();
        ctx.execute_activity(ScheduleActivities::await_run, run_id.clone(), waiting)
            .await?;
        Ok(run_id)
    }
}

fn retry() -> RetryPolicy {
    RetryPolicy::builder()
        .initial_interval(Duration::from_secs(1))
        .backoff_coefficient(2.0)
        .maximum_interval(Duration::from_secs(10))
        .build()
}

/// The fire workflow's activities.
pub struct ScheduleActivities {
    firing: Firing,
    dispatcher: TemporalDispatcher,
}

impl ScheduleActivities {
    pub fn new(firing: Firing, dispatcher: TemporalDispatcher) -> Self {
        Self { firing, dispatcher }
    }
}

fn retryable(e: impl std::fmt::Display) -> ActivityError {
    ActivityError::from(anyhow::anyhow!("{e}"))
}

#[activities]
impl ScheduleActivities {
    /// Creates the fire's run (once per `fire_key`) and starts its workflow; None when the
    /// schedule is gone or its run request is refused now.
    #[activity]
    pub async fn fire(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: (String, String),
    ) -> Result<Option<String>, ActivityError> {
        let (schedule_id, fire_key) = input;
        let run_id = self
            .firing
            .fired_run(&schedule_id, &fire_key)
            .await
            .map_err(retryable)?;
        if let Some(id) = &run_id {
            self.dispatcher.start_run(id).await.map_err(retryable)?;
        }
        Ok(run_id)
    }

    /// Returns once the run has ended (or is gone), heartbeating meanwhile.
    #[activity]
    pub async fn await_run(
        self: Arc<Self>,
        ctx: ActivityContext,
        run_id: String,
    ) -> Result<(), ActivityError> {
        loop {
            match self.firing.store.run_status(&run_id).await {
                Ok(RunStatus::Completed | RunStatus::Failed | RunStatus::Cancelled) => {
                    return Ok(())
                }
                Ok(_) => {}
                Err(StoreError::NotFound) => return Ok(()),
                // A passing storage outage: look again.
                Err(e) => tracing::debug!(run_id, error = %e, "reading a run's status failed"),
            }
            let _ = ctx.record_heartbeat(()).await;
            tokio::select! {
                _ = tokio::time::sleep(AWAIT_POLL) => {}
                _ = ctx.cancelled() => return Err(ActivityError::cancelled()),
            }
        }
    }
}

/// The Temporal executor's schedule driver.
pub struct TemporalSchedules {
    client: Client,
    task_queue: String,
}

impl TemporalSchedules {
    pub fn new(client: Client, task_queue: String) -> Self {
        Self { client, task_queue }
    }

    fn spec(schedule: &ScheduleRecord) -> ScheduleSpec {
        let s = &schedule.settings;
        match (&s.cron, s.interval_seconds) {
            (_, Some(seconds)) => {
                // Slots `seconds` apart from the row's next slot (as the local executor does).
                let every = seconds.max(1) as u64;
                let phase = schedule
                    .next_fire_at
                    .unwrap_or(schedule.updated_at + seconds)
                    .rem_euclid(seconds.max(1)) as u64;
                ScheduleSpec::builder()
                    .intervals(vec![ScheduleIntervalSpec::new(
                        Duration::from_secs(every),
                        Some(Duration::from_secs(phase)),
                    )])
                    .build()
            }
            (Some(cron), None) => ScheduleSpec::builder()
                .cron_strings(vec![cron.clone()])
                .timezone_name(s.timezone.clone())
                .build(),
            (None, None) => ScheduleSpec::default(),
        }
    }

    fn policy(policy: OverlapPolicy) -> ScheduleOverlapPolicy {
        match policy {
            OverlapPolicy::Skip => ScheduleOverlapPolicy::Skip,
            OverlapPolicy::BufferOne => ScheduleOverlapPolicy::BufferOne,
            OverlapPolicy::AllowAll => ScheduleOverlapPolicy::AllowAll,
        }
    }

    fn action(&self, schedule: &ScheduleRecord) -> ScheduleAction {
        ScheduleAction::start_workflow(
            ScheduleFireWorkflow::run,
            ScheduleFire {
                schedule_id: schedule.id.clone(),
            },
            self.task_queue.clone(),
            format!("assay-fire-{}", schedule.id),
        )
    }

    /// Brings every live schedule's Temporal Schedule in line with its row (run at server
    /// start: a change whose Temporal half failed, or a Temporal service that lost its
    /// state, is repaired). Returns how many schedules were synced.
    pub async fn reconcile(&self, store: &assay_store::Store) -> Result<usize, DriverError> {
        let mut after = 0;
        let mut synced = 0;
        loop {
            let page = store.live_schedules(after, 200).await?;
            let Some((last, _)) = page.last() else {
                return Ok(synced);
            };
            after = *last;
            for (_, schedule) in &page {
                self.sync(schedule).await?;
                synced += 1;
            }
        }
    }

    async fn create(&self, schedule: &ScheduleRecord) -> Result<(), DriverError> {
        let options = CreateScheduleOptions::builder()
            .action(self.action(schedule))
            .spec(Self::spec(schedule))
            .overlap_policy(Self::policy(schedule.settings.overlap_policy))
            .paused(!schedule.settings.enabled)
            .build();
        self.client
            .create_schedule(temporal_schedule_id(&schedule.id), options)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }
}

fn unavailable(e: impl std::fmt::Display) -> DriverError {
    DriverError::Unavailable(format!("Temporal schedules: {e}"))
}

fn is_not_found(e: &ScheduleError) -> bool {
    matches!(e, ScheduleError::Rpc(status) if status.code() == temporalio_client::tonic::Code::NotFound)
}

#[async_trait::async_trait]
impl ScheduleDriver for TemporalSchedules {
    async fn sync(&self, schedule: &ScheduleRecord) -> Result<(), DriverError> {
        let handle = self
            .client
            .get_schedule_handle(temporal_schedule_id(&schedule.id));
        let spec = Self::spec(schedule);
        let policy = Self::policy(schedule.settings.overlap_policy);
        let action = self.action(schedule);
        let paused = !schedule.settings.enabled;
        let updated = handle
            .update(
                move |update| {
                    update
                        .set_spec(spec)
                        .set_action(action)
                        .set_overlap_policy(policy)
                        .set_paused(paused);
                },
                Default::default(),
            )
            .await;
        match updated {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => self.create(schedule).await,
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn remove(&self, schedule_id: &str) -> Result<(), DriverError> {
        let handle = self
            .client
            .get_schedule_handle(temporal_schedule_id(schedule_id));
        match handle.delete(DeleteScheduleOptions::default()).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn trigger(&self, schedule: &ScheduleRecord) -> Result<(), DriverError> {
        let handle = self
            .client
            .get_schedule_handle(temporal_schedule_id(&schedule.id));
        handle
            .trigger(
                Self::policy(schedule.settings.overlap_policy),
                TriggerScheduleOptions::default(),
            )
            .await
            .map_err(unavailable)
    }

    async fn next_run_at(&self, schedule: &ScheduleRecord) -> Option<i64> {
        let handle = self
            .client
            .get_schedule_handle(temporal_schedule_id(&schedule.id));
        let description = handle.describe(Default::default()).await.ok()?;
        description
            .future_action_times()
            .into_iter()
            .next()
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map(|d| d.as_secs() as i64)
    }
}

/// A schedule's Temporal Schedule as Temporal describes it (for tests and operators checking
/// the Temporal side directly).
pub async fn describe_temporal_schedule(
    client: &Client,
    schedule_id: &str,
) -> Result<temporalio_client::schedules::ScheduleDescription, ScheduleError> {
    client
        .get_schedule_handle(temporal_schedule_id(schedule_id))
        .describe(Default::default())
        .await
}
