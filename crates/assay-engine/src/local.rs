//! The local executor: drives runs in-process. Runs are leased from the database (renewed
//! while they execute), so a server that restarts, or a second server on the same Postgres,
//! picks up runs whose owner went away; a restarted node takes its own runs back at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use assay_domain::api::RunStatus;
use assay_store::Store;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::sample::Stages;

/// Settings of the local executor.
#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    /// This process's name in run leases; a restart with the same name resumes its runs
    /// immediately. Default: the host name.
    pub node_id: String,
    /// How long a lease lasts without renewal.
    pub lease_seconds: i64,
    /// How often to look for runs that other nodes abandoned.
    pub poll: Duration,
    /// Most runs this process executes at once.
    pub max_runs: usize,
    /// How long a run waits for failing storage before it fails with `storage_error`
    /// (handed to [`Stages`], which both executors share).
    pub storage_wait: Duration,
    /// Where Hugging Face datasets are read from (default: the public Hub, no token).
    pub hub: Option<assay_hub::HubClient>,
    /// Networks transcription audio URLs may point into besides public addresses.
    pub audio_targets: assay_webhooks::TargetPolicy,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        Self {
            node_id: default_node_id(),
            lease_seconds: 30,
            poll: Duration::from_secs(2),
            max_runs: 16,
            storage_wait: Duration::from_secs(600),
            hub: None,
            audio_targets: assay_webhooks::TargetPolicy::default(),
        }
    }
}

/// The host name, or `assay` when it cannot be read.
pub fn default_node_id() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "assay".to_string())
}

/// Handle to the running executor.
#[derive(Clone)]
pub struct LocalExecutor {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    stages: Arc<Stages>,
    config: ExecutorConfig,
    /// Runs executing in this process, with the token that stops them.
    running: Mutex<HashMap<String, CancellationToken>>,
    wake: Notify,
    shutdown: CancellationToken,
}

impl LocalExecutor {
    /// Starts the scheduler loop.
    pub fn start(store: Store, stages: Arc<Stages>, config: ExecutorConfig) -> Self {
        let inner = Arc::new(Inner {
            store,
            stages,
            config,
            running: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            shutdown: CancellationToken::new(),
        });
        let looped = inner.clone();
        tokio::spawn(async move { looped.schedule().await });
        Self { inner }
    }

    /// A run was created or re-queued: look for work now.
    pub fn notify(&self) {
        self.inner.wake.notify_one();
    }

    /// Stops a run executing in this process at once (no model call starts afterwards).
    /// Runs elsewhere notice the `cancelling` status on their next lease renewal.
    pub fn cancel(&self, run_id: &str) {
        if let Some(token) = self.inner.lock_running().get(run_id) {
            token.cancel();
        }
        self.notify();
    }

    /// Stops scheduling and interrupts running runs; their leases lapse and they resume on
    /// the next start.
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
        for token in self.inner.lock_running().values() {
            token.cancel();
        }
    }

    /// Whether a run is executing in this process.
    pub fn is_running(&self, run_id: &str) -> bool {
        self.inner.lock_running().contains_key(run_id)
    }
}

impl Inner {
    fn lock_running(&self) -> std::sync::MutexGuard<'_, HashMap<String, CancellationToken>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn schedule(self: Arc<Self>) {
        loop {
            if self.shutdown.is_cancelled() {
                return;
            }
            if let Err(e) = self.claim_some().await {
                tracing::warn!(error = %e, "looking for runs failed");
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.config.poll) => {}
                _ = self.shutdown.cancelled() => return,
            }
        }
    }

    async fn claim_some(self: &Arc<Self>) -> Result<(), assay_store::StoreError> {
        let free = self
            .config
            .max_runs
            .saturating_sub(self.lock_running().len());
        if free == 0 {
            return Ok(());
        }
        let candidates = self
            .store
            .claimable_runs(&self.config.node_id, (free * 2) as i64)
            .await?;
        for run_id in candidates {
            if self.lock_running().len() >= self.config.max_runs {
                break;
            }
            if self.lock_running().contains_key(&run_id) {
                continue;
            }
            if !self
                .store
                .lease_run(&run_id, &self.config.node_id, self.config.lease_seconds)
                .await?
            {
                continue;
            }
            let token = self.shutdown.child_token();
            self.lock_running().insert(run_id.clone(), token.clone());
            let this = self.clone();
            tokio::spawn(async move {
                this.drive(&run_id, token).await;
                this.lock_running().remove(&run_id);
                this.wake.notify_one();
            });
        }
        Ok(())
    }

    /// Executes one leased run to a terminal state (or until stopped), renewing the lease.
    async fn drive(self: &Arc<Self>, run_id: &str, token: CancellationToken) {
        let heartbeat = {
            let this = self.clone();
            let run_id = run_id.to_string();
            let token = token.clone();
            tokio::spawn(async move { this.heartbeat(&run_id, &token).await })
        };
        let result = self.execute_patiently(run_id, &token).await;
        heartbeat.abort();
        if let Err(e) = result {
            tracing::warn!(run_id, error = %e, "run interrupted; it resumes when its lease is next taken");
        }
        if let Err(e) = self.store.release_run(run_id, &self.config.node_id).await {
            tracing::warn!(run_id, error = %e, "could not release the run lease");
        }
    }

    /// Executes the run, riding out storage outages: a stage that failed on one is tried again
    /// with backoff (every stage resumes from the durable state), and the sample writer holds
    /// finished work meanwhile. An outage that lasts longer than the stages' `storage_wait`
    /// fails the run with `storage_error`, recorded as soon as the database takes the write.
    async fn execute_patiently(
        &self,
        run_id: &str,
        token: &CancellationToken,
    ) -> Result<(), crate::PlanError> {
        let mut backoff = assay_store::Backoff::default();
        loop {
            let outcome = tokio::select! {
                outcome = self.stages.execute(run_id, token) => outcome,
                active = crate::outage::outlasting(self.store.health(), self.stages.storage_wait) => {
                    crate::outage::fail_run(&self.store, run_id, &active, self.stages.storage_wait)
                        .await?;
                    return Ok(());
                }
            };
            match outcome {
                Err(e) if e.is_transient() && !token.is_cancelled() => {
                    if let crate::PlanError::Store(store) = &e {
                        if let Some(fault) = store.storage_fault() {
                            self.store.health().failing(fault);
                        }
                    }
                    tracing::debug!(run_id, error = %e, "waiting for storage");
                    tokio::select! {
                        _ = backoff.wait() => {}
                        _ = token.cancelled() => return Ok(()),
                    }
                }
                other => return other,
            }
        }
    }

    /// Renews the lease and watches for cancellation requested through another process.
    async fn heartbeat(&self, run_id: &str, token: &CancellationToken) {
        let every = Duration::from_secs((self.config.lease_seconds / 3).max(1) as u64);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = token.cancelled() => return,
            }
            match self
                .store
                .lease_run(run_id, &self.config.node_id, self.config.lease_seconds)
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    // Lost the lease (or the run ended elsewhere): stop working on it.
                    token.cancel();
                    return;
                }
                Err(e) => tracing::warn!(run_id, error = %e, "lease renewal failed"),
            }
            if let Ok(RunStatus::Cancelling) = self.store.run_status(run_id).await {
                token.cancel();
                return;
            }
        }
    }
}
