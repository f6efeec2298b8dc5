//! Schedules: recurring runs of a suite, with signed webhooks on their status changes.

use assay_domain::api::{
    CreateScheduleRequest, ListObject, ListScheduleRunsQuery, ListSchedulesQuery, RunObject,
    ScheduleDeletedObject, ScheduleObject, UpdateScheduleRequest,
};
use assay_domain::MAX_SAFE_INT;
use assay_store::ScheduleFilter;
use axum::extract::{Path, State};
use axum::Json;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{page, JsonBody, QueryParams};
use crate::AppState;

/// Schedule a suite's runs on a cron or interval cadence, optionally notifying a webhook of
/// every status change of those runs.
#[utoipa::path(post, path = "/api/v1/llm/evals/schedules", tag = "schedules",
    request_body = CreateScheduleRequest,
    responses((status = 200, body = ScheduleObject), (status = 503, description = "the database, object store or Temporal is unreachable", body = ErrorBody)),
    security(("bearer_auth" = [])))]
pub async fn create_schedule(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(req): JsonBody<CreateScheduleRequest>,
) -> Result<Json<ScheduleObject>, ApiError> {
    Ok(Json(state.schedules.create(&caller, req).await?))
}

/// List the caller's schedules, newest first.
#[utoipa::path(get, path = "/api/v1/llm/evals/schedules", tag = "schedules", params(ListSchedulesQuery),
    responses((status = 200, body = ListObject<ScheduleObject>)),
    security(("bearer_auth" = [])))]
pub async fn list_schedules(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(q): QueryParams<ListSchedulesQuery>,
) -> Result<Json<ListObject<ScheduleObject>>, ApiError> {
    let page = page(q.after, q.limit, 20, 100)?;
    let enabled = match q.enabled.as_deref() {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err(ApiError::invalid("enabled", "must be true or false")),
    };
    let filter = ScheduleFilter {
        suite_id: q.suite_id,
        enabled,
    };
    let (data, has_more) = state.schedules.list(&caller, &filter, &page).await?;
    Ok(Json(ListObject::new(data, has_more)))
}

/// Get a schedule, with its latest run and next fire time.
#[utoipa::path(get, path = "/api/v1/llm/evals/schedules/{schedule_id}", tag = "schedules",
    params(("schedule_id" = String, Path)),
    responses((status = 200, body = ScheduleObject)),
    security(("bearer_auth" = [])))]
pub async fn get_schedule(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(schedule_id): Path<String>,
) -> Result<Json<ScheduleObject>, ApiError> {
    Ok(Json(state.schedules.get(&caller, &schedule_id).await?))
}

/// Update a schedule (merge patch: absent keys are unchanged, `null` clears); `enabled`
/// pauses and resumes.
#[utoipa::path(patch, path = "/api/v1/llm/evals/schedules/{schedule_id}", tag = "schedules",
    params(("schedule_id" = String, Path)),
    request_body = UpdateScheduleRequest,
    responses((status = 200, body = ScheduleObject), (status = 503, description = "the database, object store or Temporal is unreachable", body = ErrorBody)),
    security(("bearer_auth" = [])))]
pub async fn update_schedule(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(schedule_id): Path<String>,
    JsonBody(patch): JsonBody<UpdateScheduleRequest>,
) -> Result<Json<ScheduleObject>, ApiError> {
    Ok(Json(
        state.schedules.update(&caller, &schedule_id, patch).await?,
    ))
}

/// Delete a schedule (soft); the runs it created are kept.
#[utoipa::path(delete, path = "/api/v1/llm/evals/schedules/{schedule_id}", tag = "schedules",
    params(("schedule_id" = String, Path)),
    responses((status = 200, body = ScheduleDeletedObject)),
    security(("bearer_auth" = [])))]
pub async fn delete_schedule(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(schedule_id): Path<String>,
) -> Result<Json<ScheduleDeletedObject>, ApiError> {
    state.schedules.delete(&caller, &schedule_id).await?;
    Ok(Json(ScheduleDeletedObject {
        id: schedule_id,
        object: "eval.schedule.deleted".into(),
        deleted: true,
    }))
}

/// Fire a schedule now, besides its cadence and under its overlap policy; returns the
/// schedule (its new run, if the policy started one, is its `last_run_id`).
#[utoipa::path(post, path = "/api/v1/llm/evals/schedules/{schedule_id}/trigger", tag = "schedules",
    params(("schedule_id" = String, Path)),
    responses((status = 200, body = ScheduleObject), (status = 503, description = "the database, object store or Temporal is unreachable", body = ErrorBody)),
    security(("bearer_auth" = [])))]
pub async fn trigger_schedule(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(schedule_id): Path<String>,
) -> Result<Json<ScheduleObject>, ApiError> {
    Ok(Json(state.schedules.trigger(&caller, &schedule_id).await?))
}

/// List the runs a schedule created, newest first.
#[utoipa::path(get, path = "/api/v1/llm/evals/schedules/{schedule_id}/runs", tag = "schedules",
    params(("schedule_id" = String, Path), ListScheduleRunsQuery),
    responses((status = 200, body = ListObject<RunObject>)),
    security(("bearer_auth" = [])))]
pub async fn list_schedule_runs(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(schedule_id): Path<String>,
    QueryParams(q): QueryParams<ListScheduleRunsQuery>,
) -> Result<Json<ListObject<RunObject>>, ApiError> {
    let page = page(q.after.clone(), q.limit, 20, 100)?;
    if let Some(v) = q.suite_version {
        if !(1..=MAX_SAFE_INT).contains(&v) {
            return Err(ApiError::invalid(
                "suite_version",
                format!("must be between 1 and {MAX_SAFE_INT}"),
            ));
        }
    }
    let (data, has_more) = state
        .schedules
        .runs(&caller, &schedule_id, &q, &page)
        .await?;
    Ok(Json(ListObject::new(data, has_more)))
}
