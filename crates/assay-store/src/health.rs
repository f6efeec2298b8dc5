//! What the store knows about its own storage right now: the outages (a full disk, an
//! unreachable database or object store) seen by the last writes and probes, and since when.
//! Writers report what happens to them; the probe ([`Store::probe_storage`]) checks on demand,
//! so readiness and the run views can say what is wrong while it is wrong.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use assay_domain::now_unix;
use bytes::Bytes;

use crate::error::{StorageFault, StorageResource};
use crate::{Store, StoreError};

/// An outage in progress.
#[derive(Debug, Clone)]
pub struct ActiveFault {
    pub fault: StorageFault,
    /// When it was first seen (Unix seconds).
    pub since: i64,
    /// The same moment on the monotonic clock, for measuring how long it has lasted.
    pub started: Instant,
    /// When an operation last failed on it.
    pub last_seen: Instant,
}

/// Shared record of the storage outages in progress, one per resource.
#[derive(Clone, Default)]
pub struct StorageHealth {
    faults: Arc<Mutex<HashMap<StorageResource, ActiveFault>>>,
}

impl StorageHealth {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<StorageResource, ActiveFault>> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that `fault` is happening (keeping the time it started, if it already was).
    /// Returns whether it is new.
    pub fn failing(&self, fault: StorageFault) -> bool {
        let mut faults = self.lock();
        match faults.get_mut(&fault.resource) {
            Some(active) => {
                active.fault = fault;
                active.last_seen = Instant::now();
                false
            }
            None => {
                tracing::warn!(resource = fault.resource.as_str(), cause = %fault.cause, "storage is failing");
                faults.insert(
                    fault.resource,
                    ActiveFault {
                        fault,
                        since: now_unix(),
                        started: Instant::now(),
                        last_seen: Instant::now(),
                    },
                );
                true
            }
        }
    }

    /// Records that `resource` works again.
    pub fn working(&self, resource: StorageResource) {
        if let Some(active) = self.lock().remove(&resource) {
            tracing::info!(
                resource = resource.as_str(),
                seconds = active.started.elapsed().as_secs(),
                "storage works again"
            );
        }
    }

    /// Records that a probe of `resource` worked: that ends an outage only when no real
    /// operation has failed on it for a while. A probe's small write can still fit where a
    /// run's writes do not (a row updated in place on a full Postgres volume).
    fn probe_worked(&self, resource: StorageResource) {
        let quiet = self
            .lock()
            .get(&resource)
            .is_none_or(|a| a.last_seen.elapsed() >= PROBE_QUIET);
        if quiet {
            self.working(resource);
        }
    }

    /// Records the outcome of an operation on `resource`: an outage, a success, or neither
    /// (a failure that says nothing about storage).
    pub fn observe<T>(&self, resource: StorageResource, outcome: &Result<T, StoreError>) {
        match outcome {
            Ok(_) => self.working(resource),
            Err(e) => {
                if let Some(fault) = e.storage_fault() {
                    self.failing(fault);
                }
            }
        }
    }

    /// The outages in progress, oldest first.
    pub fn current(&self) -> Vec<ActiveFault> {
        let mut faults: Vec<ActiveFault> = self.lock().values().cloned().collect();
        faults.sort_by_key(|f| f.started);
        faults
    }

    /// The oldest outage in progress, if any.
    pub fn oldest(&self) -> Option<ActiveFault> {
        self.current().into_iter().next()
    }
}

/// How long after the last failed operation a successful probe may end an outage; longer
/// than the longest backoff, so a writer still failing reports again within it.
const PROBE_QUIET: std::time::Duration = std::time::Duration::from_secs(5);

/// The blob the probe rewrites.
const PROBE_KEY: &str = "assay-probe/readiness";

impl Store {
    /// What is known about the storage's health.
    pub fn health(&self) -> &StorageHealth {
        &self.health
    }

    /// Writes to the database and the blob store once each, records what happened, and
    /// returns the outages in progress (empty when storage works). A write rather than a read:
    /// a full disk still answers reads.
    pub async fn probe_storage(&self) -> Vec<StorageFault> {
        let database = sqlx::query("UPDATE storage_probe SET checked_at = $1 WHERE id = 1")
            .bind(now_unix())
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(StoreError::from);
        let blobs = self
            .blobs
            .put_bytes(PROBE_KEY, Bytes::from_static(b"ok"))
            .await
            .map(|_| ());
        for (resource, outcome) in [
            (StorageResource::Database, database),
            (StorageResource::Blobs, blobs),
        ] {
            match outcome {
                Ok(()) => self.health.probe_worked(resource),
                Err(e) => {
                    self.health
                        .failing(e.storage_fault().unwrap_or(StorageFault {
                            resource,
                            kind: crate::FaultKind::Unavailable,
                            cause: e.to_string(),
                        }));
                }
            }
        }
        let found: Vec<StorageFault> = self.health.current().into_iter().map(|a| a.fault).collect();
        found
    }
}

/// Waits between attempts while storage fails: 100 ms, doubling up to 2 s, so work resumes
/// within about two seconds of storage coming back.
#[derive(Debug)]
pub struct Backoff {
    next: std::time::Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { next: Self::FIRST }
    }
}

impl Backoff {
    const FIRST: std::time::Duration = std::time::Duration::from_millis(100);
    const MAX: std::time::Duration = std::time::Duration::from_secs(2);

    /// Sleeps for the current interval and lengthens the next one.
    pub async fn wait(&mut self) {
        tokio::time::sleep(self.next).await;
        self.next = (self.next * 2).min(Self::MAX);
    }
}

impl Store {
    /// Runs `op` until it succeeds or fails for a reason other than a storage outage,
    /// backing off between attempts and recording the outage in [`Store::health`] (success
    /// marks `resource` working). It never gives up by itself: a caller with a deadline
    /// drops the future.
    pub async fn retrying<T, F, Fut>(
        &self,
        resource: StorageResource,
        what: &str,
        mut op: F,
    ) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        let mut backoff = Backoff::default();
        loop {
            let outcome = op().await;
            match &outcome {
                Ok(_) => {
                    self.health.working(resource);
                    return outcome;
                }
                Err(e) => match e.storage_fault() {
                    Some(fault) => {
                        if self.health.failing(fault) {
                            tracing::warn!(what, error = %e, "waiting for storage");
                        }
                    }
                    None => return outcome,
                },
            }
            backoff.wait().await;
        }
    }
}
