//! Assay on Temporal: each run is one durable workflow (id `assay-run-<run id>`), executed by
//! any number of `assay worker` processes sharing the database and blob storage.
//!
//! - The server's [`TemporalDispatcher`] starts a run's workflow when the run is created (and
//!   sweeps for runs without one, so a crash between storing a run and starting its workflow
//!   loses nothing) and cancels it on request.
//! - [`RunWorkflow`] calls the engine's stages as activities ([`RunActivities`]): `prepare`
//!   (plan), `embed_tasks` (when the run has embedding tasks), the unfinished samples in
//!   `run_batch` activities — one at a time, each 32 rounds of the run's
//!   `generation_concurrency`, the next batch's end found (`batch_end`) while it runs —,
//!   `grade_batches` (aggregate Python graders) and `conclude` (finalize, or record the
//!   cancel). One activity carries many samples, so Temporal schedules few.
//!   After reserving `max_workflow_sample_activities` samples in batches it continues as new
//!   with its cursor, so its history stays bounded however many samples the run has.
//! - Activities are idempotent: a batch that runs again skips the samples already finished,
//!   and a sample write never changes a finished sample, so a replayed activity never
//!   double-writes.
//! - Schedules are Temporal Schedules ([`TemporalSchedules`]) whose action is a
//!   [`ScheduleFireWorkflow`]: it creates the fire's run, starts its workflow and waits for the
//!   run to end, so Temporal's overlap policy applies to the runs.
//! - [`run_worker`] runs the workflow and activity worker on its own thread.

mod activities;
mod dispatcher;
mod schedules;
mod worker;
mod workflow;

use std::str::FromStr;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions};

pub use activities::{Batch, BatchEnd, PrepareOutcome, RunActivities};
pub use dispatcher::TemporalDispatcher;
pub use schedules::{
    describe_temporal_schedule, temporal_schedule_id, ScheduleActivities, ScheduleFire,
    ScheduleFireWorkflow, TemporalSchedules,
};
pub use worker::run_worker;
pub use workflow::{RunProgress, RunWorkflow, DEFAULT_MAX_SAMPLE_ACTIVITIES};

/// Where the Temporal service is and which queue Assay's workflows use.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TemporalConfig {
    /// The frontend's address, e.g. `http://127.0.0.1:7233`.
    #[serde(default = "default_address")]
    pub address: String,
    /// The namespace the workflows run in.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// The task queue servers start workflows on and workers poll.
    #[serde(default = "default_task_queue")]
    pub task_queue: String,
}

fn default_address() -> String {
    "http://127.0.0.1:7233".into()
}

fn default_namespace() -> String {
    "default".into()
}

fn default_task_queue() -> String {
    "assay-runs".into()
}

impl Default for TemporalConfig {
    fn default() -> Self {
        Self {
            address: default_address(),
            namespace: default_namespace(),
            task_queue: default_task_queue(),
        }
    }
}

/// The workflow id of a run.
pub fn workflow_id(run_id: &str) -> String {
    format!("assay-run-{run_id}")
}

/// Connects a client to the configured Temporal service.
pub async fn connect(config: &TemporalConfig, identity: &str) -> anyhow::Result<Client> {
    let url = url::Url::from_str(&config.address)
        .with_context(|| format!("temporal address {:?}", config.address))?;
    let options = ConnectionOptions::new(url)
        .identity(identity.to_string())
        .build();
    let connection = Connection::connect(options)
        .await
        .with_context(|| format!("connecting to Temporal at {}", config.address))?;
    Client::new(
        connection,
        ClientOptions::new(config.namespace.clone()).build(),
    )
    .context("creating the Temporal client")
}
