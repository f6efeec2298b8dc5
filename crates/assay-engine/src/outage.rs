//! Giving up on a run whose storage stays broken: both executors wait out storage outages
//! (see `Store::retrying`), and both end a run the same way once an outage has lasted longer
//! than the configured wait.

use std::time::Duration;

use assay_store::{ActiveFault, StorageHealth, StorageResource, Store, StoreError};
use serde_json::json;

/// Resolves once some storage outage has lasted at least `wait`, with that outage.
pub async fn outlasting(health: &StorageHealth, wait: Duration) -> ActiveFault {
    loop {
        if let Some(active) = health.oldest() {
            if active.started.elapsed() >= wait {
                return active;
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Fails `run_id` with `storage_error` for `active`, retrying the write until the database
/// takes it.
pub async fn fail_run(
    store: &Store,
    run_id: &str,
    active: &ActiveFault,
    wait: Duration,
) -> Result<(), StoreError> {
    let error = giving_up(run_id, active, wait);
    store
        .retrying(StorageResource::Database, "failing the run", || {
            store.fail_run(run_id, &error)
        })
        .await
}

/// Like [`fail_run`], trying the write once.
pub async fn fail_run_once(
    store: &Store,
    run_id: &str,
    active: &ActiveFault,
    wait: Duration,
) -> Result<(), StoreError> {
    store
        .fail_run(run_id, &giving_up(run_id, active, wait))
        .await
}

/// Logs that the run is given up and returns its `error` object.
fn giving_up(run_id: &str, active: &ActiveFault, wait: Duration) -> serde_json::Value {
    tracing::error!(run_id, cause = %active.fault, "storage failed for too long; failing the run");
    json!({
        "type": "storage_error",
        "message": format!(
            "{} for longer than {} s; the run was stopped",
            active.fault.summary(),
            wait.as_secs()
        ),
        "cause": active.fault.cause,
    })
}
