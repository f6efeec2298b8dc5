//! Historical results import: lm-evaluation-harness output from a Hugging Face dataset
//! repository, written as completed runs.

use assay_domain::api::{HistoricalImportObject, ImportHistoricalResultsRequest, HF_TOKEN_HEADER};
use assay_engine::historical::import_historical_results;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::JsonBody;
use crate::AppState;

/// Import lm-evaluation-harness results (`results_<ts>.json` with the `samples_<task>_<ts>.jsonl`
/// files written by `--log_samples`) from a Hugging Face dataset repository, read with the
/// caller's `X-HuggingFace-Token` (sent to the Hub only; never stored or logged). Each results
/// file becomes a completed run whose aggregates are recomputed from its samples; a results
/// file already imported by the caller's team is skipped.
#[utoipa::path(post, path = "/api/v1/llm/evals/imports/huggingface-results", tag = "runs",
    params(("X-HuggingFace-Token" = String, Header, description = "Caller-owned Hugging Face token with read access to the source repository")),
    request_body = ImportHistoricalResultsRequest,
    responses((status = 200, body = HistoricalImportObject), (status = 400, body = ErrorBody), (status = 503, description = "the Hub, the database or the object store is unreachable", body = ErrorBody), (status = 507, description = "insufficient_storage: the data directory is full", body = ErrorBody)),
    security(("bearer_auth" = [])))]
pub async fn import_huggingface_results(
    State(state): State<AppState>,
    Caller(caller): Caller,
    headers: HeaderMap,
    JsonBody(req): JsonBody<ImportHistoricalResultsRequest>,
) -> Result<Json<HistoricalImportObject>, ApiError> {
    let token =
        match headers.get(HF_TOKEN_HEADER) {
            Some(value) => Some(value.to_str().map_err(|_| {
                ApiError::invalid(HF_TOKEN_HEADER, "must be visible ASCII characters")
            })?),
            None => None,
        };
    let imported =
        import_historical_results(&state.store, &state.results_hub, &caller, token, req).await?;
    Ok(Json(imported))
}
