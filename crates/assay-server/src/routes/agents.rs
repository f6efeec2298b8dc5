//! Coding-agent runs: import a finished harness job, append trials to an open import.

use assay_domain::api::{AppendTrialsRequest, ImportAgentRunRequest, RunObject};
use assay_engine::imports::{self, ImportError};
use assay_store::StoreError;
use axum::extract::{Path, State};
use axum::Json;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::JsonBody;
use crate::AppState;

fn import_error(run_id: Option<&str>) -> impl FnOnce(ImportError) -> ApiError + '_ {
    move |e| match e {
        ImportError::Invalid(v) => ApiError::Invalid(v),
        ImportError::Corrupt(m) => ApiError::Internal(m),
        ImportError::Store(StoreError::NotFound) => match run_id {
            Some(id) => ApiError::NotFound(format!("no run with id {id}")),
            None => ApiError::NotFound("not found".into()),
        },
        ImportError::Store(e) => e.into(),
    }
}

/// Import a finished coding-agent run (a harness job's trials) into a suite the caller owns.
/// A write, never an execution. Reusing an `idempotency_key` returns the run the first import
/// created.
#[utoipa::path(post, path = "/api/v1/llm/evals/imports/agent-run", tag = "runs",
    request_body = ImportAgentRunRequest,
    responses((status = 200, body = RunObject), (status = 400, body = ErrorBody), (status = 503, description = "the database or object store is unreachable", body = ErrorBody), (status = 507, description = "insufficient_storage: the data directory is full", body = ErrorBody)),
    security(("bearer_auth" = [])))]
pub async fn import_agent_run(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(req): JsonBody<ImportAgentRunRequest>,
) -> Result<Json<RunObject>, ApiError> {
    let (run, _created) = imports::import_agent_run(&state.store, &caller, req)
        .await
        .map_err(import_error(None))?;
    Ok(Json(run.object))
}

/// Append (upsert) trials to an imported run opened with `finalize: false`; `finalize: true`
/// completes it. A completed or cancelled run: 409.
#[utoipa::path(post, path = "/api/v1/llm/evals/runs/{run_id}/trials", tag = "runs",
    params(("run_id" = String, Path)),
    request_body = AppendTrialsRequest,
    responses((status = 200, body = RunObject), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "the run is not an open import", body = ErrorBody), (status = 503, description = "the database or object store is unreachable", body = ErrorBody), (status = 507, description = "insufficient_storage: the data directory is full", body = ErrorBody)),
    security(("bearer_auth" = [])))]
pub async fn append_agent_trials(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(run_id): Path<String>,
    JsonBody(req): JsonBody<AppendTrialsRequest>,
) -> Result<Json<RunObject>, ApiError> {
    let run = imports::append_trials(&state.store, &caller, &run_id, req)
        .await
        .map_err(import_error(Some(&run_id)))?;
    Ok(Json(run.object))
}
