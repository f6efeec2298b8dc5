//! Trial trajectories: upload (owner only, upsert) and read (shares included) one sample's
//! agent session.

use assay_domain::api::{
    SampleAudioObject, TrajectoryObject, TrajectoryQuery, TrajectoryUpload,
    TrajectoryUploadedObject, TRAJECTORY_BODY_MAX_BYTES,
};
use assay_domain::MAX_SAFE_INT;
use assay_engine::trajectories::{self, SampleAddress, TrajectoryError};
use axum::extract::{Path, Request, State};
use axum::Json;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{capped_body, QueryParams};
use crate::AppState;

impl From<TrajectoryError> for ApiError {
    fn from(e: TrajectoryError) -> Self {
        match e {
            TrajectoryError::Invalid(v) => ApiError::Invalid(v),
            TrajectoryError::TooLarge(m) => ApiError::TooLarge(m),
            TrajectoryError::NotFound(m) => ApiError::NotFound(m),
            TrajectoryError::Store(e) => e.into(),
        }
    }
}

/// The `sample_index` path segment: an integer of at least 0.
fn sample_index(raw: &str) -> Result<i64, ApiError> {
    match raw.parse::<i64>() {
        Ok(n) if (0..=MAX_SAFE_INT).contains(&n) => Ok(n),
        _ => Err(ApiError::invalid(
            "sample_index",
            format!("must be an integer between 0 and {MAX_SAFE_INT}"),
        )),
    }
}

fn address<'a>(run_id: &'a str, index: i64, q: &'a TrajectoryQuery) -> SampleAddress<'a> {
    SampleAddress {
        run_id,
        sample_index: index,
        task_id: q.task_id(),
        model: q.model(),
    }
}

/// Upload (or replace) one sample's trajectory: `steps` stored verbatim, never validated.
/// `steps` and `logs` may take 16 MiB together, counted as their JSON text without the
/// whitespace between tokens; the request body may take 20 MiB.
#[utoipa::path(put, path = "/api/v1/llm/evals/runs/{run_id}/samples/{sample_index}/trajectory", tag = "runs",
    params(("run_id" = String, Path), ("sample_index" = i64, Path, minimum = 0), TrajectoryQuery),
    request_body = TrajectoryUpload,
    responses(
        (status = 200, body = TrajectoryUploadedObject),
        (status = 400, description = "a malformed body, or an index that matches samples of several tasks or models (`error.details.param` names `task_id` or `model`)", body = ErrorBody),
        (status = 404, description = "no such run among the caller's own (a shared run cannot be written), or no such sample", body = ErrorBody),
        (status = 413, description = "`steps` and `logs` over 16 MiB, or a body over 20 MiB", body = ErrorBody),
        (status = 503, description = "the database or object store is unreachable", body = ErrorBody),
        (status = 507, description = "insufficient_storage: the data directory is full", body = ErrorBody)),
    security(("bearer_auth" = [])))]
pub async fn upload_sample_trajectory(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((run_id, index)): Path<(String, String)>,
    QueryParams(q): QueryParams<TrajectoryQuery>,
    request: Request,
) -> Result<Json<TrajectoryUploadedObject>, ApiError> {
    let index = sample_index(&index)?;
    let body = capped_body(request, TRAJECTORY_BODY_MAX_BYTES).await?;
    let uploaded =
        trajectories::upload(&state.store, &caller, address(&run_id, index, &q), &body).await?;
    Ok(Json(uploaded))
}

/// One sample's trajectory, `steps` and `logs` as uploaded.
#[utoipa::path(get, path = "/api/v1/llm/evals/runs/{run_id}/samples/{sample_index}/trajectory", tag = "runs",
    params(("run_id" = String, Path), ("sample_index" = i64, Path, minimum = 0), TrajectoryQuery),
    responses(
        (status = 200, body = TrajectoryObject),
        (status = 400, description = "an index that matches samples of several tasks or models (`error.details.param` names `task_id` or `model`)", body = ErrorBody),
        (status = 404, description = "no such run within reach, no such sample, or no trajectory uploaded for it", body = ErrorBody),
        (status = 503, description = "the database or object store is unreachable", body = ErrorBody)),
    security(("bearer_auth" = [])))]
pub async fn get_sample_trajectory(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((run_id, index)): Path<(String, String)>,
    QueryParams(q): QueryParams<TrajectoryQuery>,
) -> Result<Json<TrajectoryObject>, ApiError> {
    let index = sample_index(&index)?;
    let trajectory =
        trajectories::fetch(&state.store, &caller, address(&run_id, index, &q)).await?;
    Ok(Json(trajectory))
}

/// The audio clip of one transcription sample, read from its un-redacted dataset row (the
/// task's `audio_column`, else the row's first audio value): a `data:` URI or the row's URL.
#[utoipa::path(get, path = "/api/v1/llm/evals/runs/{run_id}/samples/{sample_index}/audio", tag = "runs",
    params(("run_id" = String, Path), ("sample_index" = i64, Path, minimum = 0), TrajectoryQuery),
    responses(
        (status = 200, body = SampleAudioObject),
        (status = 400, description = "an index that matches samples of several tasks or models (`error.details.param` names `task_id` or `model`)", body = ErrorBody),
        (status = 404, description = "no such run within reach, no such sample, or no audio in its row", body = ErrorBody),
        (status = 413, description = "the inline clip is over 25 MiB", body = ErrorBody),
        (status = 503, description = "the database is unreachable", body = ErrorBody)),
    security(("bearer_auth" = [])))]
pub async fn get_sample_audio(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((run_id, index)): Path<(String, String)>,
    QueryParams(q): QueryParams<TrajectoryQuery>,
) -> Result<Json<SampleAudioObject>, ApiError> {
    let index = sample_index(&index)?;
    let audio = assay_engine::sample_audio::sample_audio(
        &state.store,
        &caller,
        address(&run_id, index, &q),
    )
    .await?;
    Ok(Json(audio))
}
