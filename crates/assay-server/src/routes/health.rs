//! Liveness and readiness probes.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::AppState;

/// Liveness: the process serves HTTP.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "alive")))]
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: the database and the blob store both take a write. While either fails (a full
/// disk, an unreachable database or object store) the answer is 503 naming the cause.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, description = "ready"),
        (status = 503, description = "storage is failing; the message names what and why")))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let faults = state.store.probe_storage().await;
    if faults.is_empty() {
        return Ok(Json(json!({ "status": "ready" })));
    }
    let causes: Vec<String> = faults.iter().map(ToString::to_string).collect();
    Err(ApiError::Unavailable(format!(
        "not ready: {}",
        causes.join("; ")
    )))
}
