//! The worker: polls the task queue and runs workflow and activity tasks.

use std::sync::Arc;

use anyhow::Context;
use assay_engine::sample::Stages;
use temporalio_sdk::{Runtime, Worker, WorkerOptions};
use tokio_util::sync::CancellationToken;

use assay_engine::schedules::Firing;
use assay_engine::Engine;

use crate::activities::RunActivities;
use crate::dispatcher::TemporalDispatcher;
use crate::schedules::{ScheduleActivities, ScheduleFireWorkflow};
use crate::workflow::RunWorkflow;
use crate::{connect, TemporalConfig};

/// Runs a worker until `stop` fires (then it finishes its in-flight tasks and returns) or it
/// fails. The future is not `Send`: await it directly (e.g. from `main`) or on a thread of its
/// own, not through `tokio::spawn`.
pub async fn run_worker(
    config: &TemporalConfig,
    stages: Arc<Stages>,
    identity: &str,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let runtime =
        Runtime::from_current_tokio(Default::default()).context("starting the Temporal runtime")?;
    let client = connect(config, identity).await?;
    let dispatcher =
        TemporalDispatcher::without_sweep(client.clone(), config, stages.store.clone());
    let engine = Engine::with_dispatcher(
        stages.gateway.clone(),
        stages.sandbox.clone(),
        Arc::new(dispatcher.clone()),
    );
    let firing = Firing {
        store: stages.store.clone(),
        engine,
    };
    let options = WorkerOptions::new(config.task_queue.clone())
        .register_activities(RunActivities::new(stages))
        .register_activities(ScheduleActivities::new(firing, dispatcher))
        .register_workflow::<RunWorkflow>()
        .context("registering the run workflow")?
        .register_workflow::<ScheduleFireWorkflow>()
        .context("registering the schedule fire workflow")?
        .build();
    let mut worker = Worker::new(&runtime, client, options).context("creating the worker")?;
    let shutdown = worker.shutdown_handle();
    let watcher = tokio::spawn(async move {
        stop.cancelled().await;
        shutdown();
    });
    let result = worker.run().await;
    watcher.abort();
    result.context("the Temporal worker stopped")
}
