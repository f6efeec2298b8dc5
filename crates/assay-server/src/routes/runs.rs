//! Runs: create, read, list, delete, cancel, overview, samples and artifacts.

use assay_domain::api::{
    ArtifactsObject, CreateRunRequest, ListObject, ListRunsQuery, ListSamplesQuery, OverviewQuery,
    RunDeletedObject, RunObject, RunOverview, SampleObject,
};
use assay_domain::MAX_SAFE_INT;
use assay_engine::overview::note_storage_wait;
use assay_store::{Reach, RunFilter, SampleFilter, StoreError};
use axum::extract::{Path, State};
use axum::Json;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{page, reach, JsonBody, QueryParams};
use crate::AppState;

fn run_not_found(id: &str) -> impl FnOnce(StoreError) -> ApiError + '_ {
    move |e| match e {
        StoreError::NotFound => ApiError::NotFound(format!("no run with id {id}")),
        other => other.into(),
    }
}

/// A live run within the caller's reach (owned, or also shared for reads), or a 404 naming it.
async fn find_run(
    state: &AppState,
    caller: &assay_domain::Principal,
    run_id: &str,
    reach: Reach,
) -> Result<assay_store::RunRecord, ApiError> {
    state
        .store
        .find_run(caller, run_id, reach)
        .await
        .map_err(run_not_found(run_id))
}

/// Start a run of a suite version over models; it executes in the background.
#[utoipa::path(post, path = "/api/v1/llm/evals/runs", tag = "runs",
    request_body = CreateRunRequest,
    responses((status = 200, body = RunObject), (status = 503, description = "the database or object store is unreachable", body = ErrorBody), (status = 507, description = "insufficient_storage: the data directory is full", body = ErrorBody)),
    security(("bearer_auth" = [])))]
pub async fn create_run(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(req): JsonBody<CreateRunRequest>,
) -> Result<Json<RunObject>, ApiError> {
    req.validate()?;
    let created = state.engine.submit_run(&state.store, &caller, req).await?;
    Ok(Json(created.object))
}

/// List the runs the caller can see, newest first.
#[utoipa::path(get, path = "/api/v1/llm/evals/runs", tag = "runs", params(ListRunsQuery),
    responses((status = 200, body = ListObject<RunObject>)),
    security(("bearer_auth" = [])))]
pub async fn list_runs(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(q): QueryParams<ListRunsQuery>,
) -> Result<Json<ListObject<RunObject>>, ApiError> {
    let page = page(q.after, q.limit, 20, 100)?;
    if q.suite_version.is_some() && q.suite_id.is_none() {
        return Err(ApiError::invalid("suite_version", "needs suite_id"));
    }
    if let Some(v) = q.suite_version {
        if !(1..=MAX_SAFE_INT).contains(&v) {
            return Err(ApiError::invalid(
                "suite_version",
                format!("must be between 1 and {MAX_SAFE_INT}"),
            ));
        }
    }
    let filter = RunFilter {
        suite_id: q.suite_id,
        suite_version: q.suite_version,
        status: q.status,
        ..RunFilter::default()
    };
    let (mut data, has_more) = state
        .store
        .list_runs(&caller, reach(q.owned_only), &filter, &page)
        .await?;
    for run in &mut data {
        note_storage_wait(state.store.health(), run);
    }
    Ok(Json(ListObject::new(data, has_more)))
}

/// Get a run (cheap; made for polling).
#[utoipa::path(get, path = "/api/v1/llm/evals/runs/{run_id}", tag = "runs",
    params(("run_id" = String, Path)),
    responses((status = 200, body = RunObject)),
    security(("bearer_auth" = [])))]
pub async fn get_run(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(run_id): Path<String>,
) -> Result<Json<RunObject>, ApiError> {
    let mut run = find_run(&state, &caller, &run_id, Reach::Shared)
        .await?
        .object_for(&caller);
    note_storage_wait(state.store.health(), &mut run);
    Ok(Json(run))
}

/// Delete a run (soft): it disappears from lists and reads.
#[utoipa::path(delete, path = "/api/v1/llm/evals/runs/{run_id}", tag = "runs",
    params(("run_id" = String, Path)),
    responses((status = 200, body = RunDeletedObject), (status = 503, description = "the database or object store is unreachable", body = ErrorBody), (status = 507, description = "insufficient_storage: the data directory is full", body = ErrorBody)),
    security(("bearer_auth" = [])))]
pub async fn delete_run(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(run_id): Path<String>,
) -> Result<Json<RunDeletedObject>, ApiError> {
    state
        .store
        .delete_run(&caller, &run_id)
        .await
        .map_err(run_not_found(&run_id))?;
    // A deleted run stops executing.
    state.engine.cancel(&run_id);
    Ok(Json(RunDeletedObject {
        id: run_id,
        object: "eval.run.deleted".into(),
        deleted: true,
    }))
}

/// Cancel a queued or running run: it becomes `cancelling`, then `cancelled`; no model call
/// starts after the request returns.
#[utoipa::path(post, path = "/api/v1/llm/evals/runs/{run_id}/cancel", tag = "runs",
    params(("run_id" = String, Path)),
    responses((status = 200, body = RunObject), (status = 409, body = ErrorBody), (status = 503, description = "the database or object store is unreachable", body = ErrorBody), (status = 507, description = "insufficient_storage: the data directory is full", body = ErrorBody)),
    security(("bearer_auth" = [])))]
pub async fn cancel_run(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(run_id): Path<String>,
) -> Result<Json<RunObject>, ApiError> {
    state
        .engine
        .cancel_run(&state.store, &caller, &run_id)
        .await
        .map_err(run_not_found(&run_id))?;
    let run = find_run(&state, &caller, &run_id, Reach::Owned).await?;
    Ok(Json(run.object))
}

/// Retry a failed or cancelled run in place (same run id): finished samples keep their results,
/// generated-but-unscored samples are only scored, the rest are generated again; a run that
/// never persisted samples is planned from scratch. Other states: 409.
#[utoipa::path(post, path = "/api/v1/llm/evals/runs/{run_id}/retry", tag = "runs",
    params(("run_id" = String, Path)),
    responses((status = 200, body = RunObject), (status = 404, body = ErrorBody), (status = 409, description = "the run is not failed or cancelled", body = ErrorBody), (status = 503, description = "the database or object store is unreachable", body = ErrorBody), (status = 507, description = "insufficient_storage: the data directory is full", body = ErrorBody)),
    security(("bearer_auth" = [])))]
pub async fn retry_run(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(run_id): Path<String>,
) -> Result<Json<RunObject>, ApiError> {
    let run = state
        .engine
        .retry_run(&state.store, &caller, &run_id)
        .await
        .map_err(run_not_found(&run_id))?;
    Ok(Json(run.object))
}

/// Rerun the failed samples of a completed run in place (same run and sample ids); metrics,
/// token totals and artifacts are computed again. Without failed samples, or in another
/// state: 409.
#[utoipa::path(post, path = "/api/v1/llm/evals/runs/{run_id}/rerun-failed", tag = "runs",
    params(("run_id" = String, Path)),
    responses((status = 200, body = RunObject), (status = 404, body = ErrorBody), (status = 409, description = "the run is not completed, or has no failed samples", body = ErrorBody), (status = 503, description = "the database or object store is unreachable", body = ErrorBody), (status = 507, description = "insufficient_storage: the data directory is full", body = ErrorBody)),
    security(("bearer_auth" = [])))]
pub async fn rerun_failed_samples(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(run_id): Path<String>,
) -> Result<Json<RunObject>, ApiError> {
    let run = state
        .engine
        .rerun_failed(&state.store, &caller, &run_id)
        .await
        .map_err(run_not_found(&run_id))?;
    Ok(Json(run.object))
}

/// Trial counts, the average of one score, cost and tokens over the run's samples.
#[utoipa::path(get, path = "/api/v1/llm/evals/runs/{run_id}/overview", tag = "runs",
    params(("run_id" = String, Path), OverviewQuery),
    responses((status = 200, body = RunOverview)),
    security(("bearer_auth" = [])))]
pub async fn get_run_overview(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(run_id): Path<String>,
    QueryParams(q): QueryParams<OverviewQuery>,
) -> Result<Json<RunOverview>, ApiError> {
    let run = find_run(&state, &caller, &run_id, Reach::Shared).await?;
    let metric = q
        .metric
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "reward".into());
    Ok(Json(
        assay_engine::overview::overview(&state.store, &run, &metric).await?,
    ))
}

/// A run's samples: prompt, target, output, extraction, scores and errors.
#[utoipa::path(get, path = "/api/v1/llm/evals/runs/{run_id}/samples", tag = "runs",
    params(("run_id" = String, Path), ListSamplesQuery),
    responses((status = 200, body = ListObject<SampleObject>)),
    security(("bearer_auth" = [])))]
pub async fn list_samples(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(run_id): Path<String>,
    QueryParams(q): QueryParams<ListSamplesQuery>,
) -> Result<Json<ListObject<SampleObject>>, ApiError> {
    let page = page(q.after, q.limit, 100, 500)?;
    let sample_index = q
        .sample_index
        .as_deref()
        .map(|raw| match raw.trim().parse::<i64>() {
            Ok(n) if (0..=MAX_SAFE_INT).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid(
                "sample_index",
                "must be an integer of at least 0",
            )),
        })
        .transpose()?;
    let score = match (&q.score_metric, q.score_min, q.score_max) {
        (None, None, None) => None,
        (None, _, _) => {
            return Err(ApiError::invalid(
                "score_metric",
                "is required with score_min or score_max",
            ))
        }
        (Some(m), min, max) => {
            for (name, v) in [("score_min", min), ("score_max", max)] {
                if v.is_some_and(|v| !v.is_finite()) {
                    return Err(ApiError::invalid(name, "must be a finite number"));
                }
            }
            Some((m.clone(), min, max))
        }
    };
    let filter = SampleFilter {
        task_id: q.task_id,
        model: q.model,
        status: q.status,
        sample_index,
        score,
        include_dataset_row: q.include_dataset_row.unwrap_or(true),
        include_reasoning: q.include_reasoning.unwrap_or(false),
    };
    let (data, has_more) = state
        .store
        .list_samples(&caller, &run_id, &filter, &page)
        .await
        .map_err(run_not_found(&run_id))?;
    Ok(Json(ListObject::new(data, has_more)))
}

/// The run's result and samples files (downloadable through the Files API).
#[utoipa::path(get, path = "/api/v1/llm/evals/runs/{run_id}/artifacts", tag = "runs",
    params(("run_id" = String, Path)),
    responses((status = 200, body = ArtifactsObject)),
    security(("bearer_auth" = [])))]
pub async fn get_artifacts(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(run_id): Path<String>,
) -> Result<Json<ArtifactsObject>, ApiError> {
    let run = find_run(&state, &caller, &run_id, Reach::Shared).await?;
    // Artifact files stay with the run's owner: a reader through a share gets none.
    let owned = run.owned_by(&caller);
    Ok(Json(ArtifactsObject {
        run_id: run.object.id,
        object: "eval.artifacts".into(),
        result_file_id: run.result_file_id.filter(|_| owned),
        samples_file_id: run.samples_file_id.filter(|_| owned),
        artifact_file_ids: if owned {
            run.object.artifact_file_ids
        } else {
            Vec::new()
        },
    }))
}
