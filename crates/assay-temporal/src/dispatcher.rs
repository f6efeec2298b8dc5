//! The server side: start a run's workflow, cancel it, and sweep for runs without one.

use std::sync::Arc;
use std::time::Duration;

use assay_engine::Dispatcher;
use assay_store::Store;
use temporalio_client::errors::WorkflowStartError;
use temporalio_client::{
    Client, WorkflowCancelOptions, WorkflowGetResultOptions, WorkflowIdReusePolicy,
    WorkflowStartOptions,
};
use tokio_util::sync::CancellationToken;

use crate::workflow::{RunProgress, RunWorkflow};
use crate::{workflow_id, TemporalConfig};

/// How often the server looks for unfinished runs whose workflow is missing (a crash between
/// storing a run and starting its workflow, or a workflow ended from outside).
const SWEEP_EVERY: Duration = Duration::from_secs(30);
/// Runs looked at per sweep.
const SWEEP_BATCH: i64 = 1000;
/// The lease owner name the sweep lists runs as (the Temporal executor takes no leases).
const SWEEP_OWNER: &str = "temporal-dispatcher";

/// Starts and cancels runs' workflows.
#[derive(Clone)]
pub struct TemporalDispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    task_queue: String,
    store: Store,
    shutdown: CancellationToken,
}

impl TemporalDispatcher {
    /// A dispatcher over a connected client; starts the sweep.
    pub fn start(client: Client, config: &TemporalConfig, store: Store) -> Self {
        let inner = Arc::new(Inner {
            client,
            task_queue: config.task_queue.clone(),
            store,
            shutdown: CancellationToken::new(),
        });
        let sweeper = inner.clone();
        tokio::spawn(async move { sweeper.sweep_forever().await });
        Self { inner }
    }

    /// A dispatcher that only starts workflows when asked (no sweep), for worker processes
    /// that start the runs schedules fire.
    pub fn without_sweep(client: Client, config: &TemporalConfig, store: Store) -> Self {
        Self {
            inner: Arc::new(Inner {
                client,
                task_queue: config.task_queue.clone(),
                store,
                shutdown: CancellationToken::new(),
            }),
        }
    }

    /// Starts `run_id`'s workflow unless it is running already.
    pub async fn start_run(&self, run_id: &str) -> anyhow::Result<()> {
        self.inner.start_run(run_id).await
    }
}

impl Inner {
    /// Starts the run's workflow; true when one with its id was running already.
    async fn start_workflow(&self, run_id: &str) -> anyhow::Result<bool> {
        // A run id may be reused by a new execution once the previous one closed (a retried
        // or rerun run).
        let options = WorkflowStartOptions::new(self.task_queue.clone(), workflow_id(run_id))
            .id_reuse_policy(WorkflowIdReusePolicy::AllowDuplicate)
            .build();
        match self
            .client
            .start_workflow(RunWorkflow::run, RunProgress::start(run_id), options)
            .await
        {
            Ok(_) => Ok(false),
            Err(WorkflowStartError::AlreadyStarted { .. }) => Ok(true),
            Err(e) => Err(anyhow::anyhow!(
                "starting the workflow of run {run_id}: {e}"
            )),
        }
    }

    async fn start_run(&self, run_id: &str) -> anyhow::Result<()> {
        self.start_workflow(run_id).await.map(|_| ())
    }

    /// Starts a new execution for a run re-queued after it ended. The execution that ended it
    /// may not have closed yet (it records the terminal state, then returns): then this waits
    /// for it to close and starts again. A new execution of a run that is no longer queued
    /// finds nothing to do and closes at once, so starting one too many is harmless.
    async fn restart_run(&self, run_id: &str) -> anyhow::Result<()> {
        while self.start_workflow(run_id).await? {
            let handle = self
                .client
                .get_workflow_handle::<RunWorkflow>(workflow_id(run_id));
            tokio::select! {
                // Any outcome means it closed (or cannot be waited on: then try again).
                _ = handle.get_result(WorkflowGetResultOptions::default()) => {}
                _ = self.shutdown.cancelled() => return Ok(()),
            }
        }
        Ok(())
    }

    async fn sweep_forever(self: Arc<Self>) {
        loop {
            if let Err(e) = self.sweep().await {
                tracing::warn!(error = %e, "looking for runs without a workflow failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(SWEEP_EVERY) => {}
                _ = self.shutdown.cancelled() => return,
            }
        }
    }

    /// Starts a workflow for every unfinished run that has none running.
    async fn sweep(&self) -> anyhow::Result<()> {
        for run_id in self.store.claimable_runs(SWEEP_OWNER, SWEEP_BATCH).await? {
            if self.shutdown.is_cancelled() {
                break;
            }
            self.start_run(&run_id).await?;
        }
        Ok(())
    }
}

impl Dispatcher for TemporalDispatcher {
    fn run_created(&self, run_id: &str) {
        let inner = self.inner.clone();
        let run_id = run_id.to_string();
        tokio::spawn(async move {
            if let Err(e) = inner.start_run(&run_id).await {
                // The sweep starts it later.
                tracing::warn!(run_id, error = %e, "could not start the run's workflow yet");
            }
        });
    }

    fn run_requeued(&self, run_id: &str) {
        let inner = self.inner.clone();
        let run_id = run_id.to_string();
        tokio::spawn(async move {
            if let Err(e) = inner.restart_run(&run_id).await {
                // The sweep starts it later.
                tracing::warn!(run_id, error = %e, "could not restart the run's workflow yet");
            }
        });
    }

    fn cancel(&self, run_id: &str) {
        let inner = self.inner.clone();
        let run_id = run_id.to_string();
        tokio::spawn(async move {
            let handle = inner
                .client
                .get_workflow_handle::<RunWorkflow>(workflow_id(&run_id));
            if let Err(e) = handle.cancel(WorkflowCancelOptions::default()).await {
                tracing::warn!(run_id, error = %e, "could not cancel the run's workflow");
            }
        });
    }

    fn shutdown(&self) {
        self.inner.shutdown.cancel();
    }
}
