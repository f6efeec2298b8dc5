//! Suites and suite versions.

use assay_domain::api::{
    validate_description, validate_metadata, validate_name, CreateSuiteRequest,
    CreateSuiteVersionRequest, FilePurpose, LeaderboardRunsObject, LeaderboardRunsQuery,
    ListObject, MeasureSuiteTokensRequest, SuiteDeletedObject, SuiteLeaderboardObject,
    SuiteLeaderboardQuery, SuiteObject, SuiteTokenMeasurement, SuiteVersionObject,
};
use assay_domain::manifest::{validate_manifest, DatasetFormat, FileRefKind, Manifest, TaskType};
use assay_domain::Principal;
use assay_engine::dataset_check::{check_datasets, DatasetCheckError};
use assay_engine::leaderboard::{agent_leaderboard, leaderboard_runs, LeaderboardError};
use assay_engine::python::{check_code, load_code, CheckError, CodeError, Entry};
use assay_store::{NewSuite, NewVersion, Reach, StoreError};
use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{page, positive_int, reach, JsonBody, QueryParams};
use crate::AppState;

/// Validates a manifest and every file it references; returns the new version's record.
async fn prepare_version(
    state: &AppState,
    caller: &Principal,
    manifest: serde_json::Value,
    metadata: Option<assay_domain::api::Metadata>,
) -> Result<NewVersion, ApiError> {
    let metadata = metadata.unwrap_or_default();
    validate_metadata(&metadata, "metadata")?;
    let parsed = validate_manifest(&manifest, "manifest")?;
    check_metric_ids(&parsed)?;
    let mut file_ids: Vec<String> = Vec::new();
    for file_ref in parsed.file_refs("manifest") {
        let file = match state.store.get_file(caller, &file_ref.file_id).await {
            Ok(file) => file,
            Err(StoreError::NotFound) => {
                return Err(ApiError::invalid(
                    &file_ref.path,
                    format!("no file with id {}", file_ref.file_id),
                ))
            }
            Err(e) => return Err(e.into()),
        };
        if file.object.purpose != FilePurpose::Evals {
            return Err(ApiError::invalid(
                &file_ref.path,
                format!(
                    "file {} has purpose {}; eval files need purpose evals",
                    file_ref.file_id,
                    file.object.purpose.as_str()
                ),
            ));
        }
        let name = file.object.filename.to_ascii_lowercase();
        if file_ref.kind == FileRefKind::Python && !name.ends_with(".py") {
            return Err(ApiError::invalid(
                &file_ref.path,
                format!("file {} is not a Python (.py) file", file_ref.file_id),
            ));
        }
        if file_ref.kind == FileRefKind::Dataset
            && file_ref.format.is_none()
            && DatasetFormat::from_filename(&file.object.filename).is_none()
        {
            return Err(ApiError::invalid(
                &file_ref.path,
                format!(
                    "cannot tell the format of file {} ({}) from its name; set the dataset's format to jsonl or csv",
                    file_ref.file_id, file.object.filename
                ),
            ));
        }
        if !file_ids.contains(&file_ref.file_id) {
            file_ids.push(file_ref.file_id);
        }
    }
    check_python(state, caller, &parsed).await?;
    check_datasets(&state.store, caller, &parsed, "manifest")
        .await
        .map_err(|e| match e {
            DatasetCheckError::Unusable { path, message } => ApiError::invalid(path, message),
            DatasetCheckError::Store(e) => e.into(),
        })?;
    Ok(NewVersion {
        manifest,
        dataset_file_ids: file_ids,
        metadata,
    })
}

/// Every grader and preprocessor must parse and define its function with a usable
/// signature; the code is checked in the sandbox without running it.
async fn check_python(
    state: &AppState,
    caller: &Principal,
    manifest: &Manifest,
) -> Result<(), ApiError> {
    for (i, task) in manifest.tasks.iter().enumerate() {
        let grader = task.grader.as_ref().map(|g| {
            (
                "grader",
                g.source.as_deref(),
                g.file_id.as_deref(),
                Entry::of_grader(g),
            )
        });
        let pre = task.preprocess.as_ref().map(|p| {
            (
                "preprocess",
                p.source.as_deref(),
                p.file_id.as_deref(),
                Entry::of_preprocessor(p),
            )
        });
        for (field, source, file_id, entry) in grader.into_iter().chain(pre) {
            let path = format!(
                "manifest.tasks[{i}].{field}.{}",
                if source.is_some() {
                    "source"
                } else {
                    "file_id"
                }
            );
            let default_name = format!("{field}.py");
            let code = load_code(&state.store, caller, source, file_id, &default_name)
                .await
                .map_err(|e| match e {
                    CodeError::User(message) => ApiError::invalid(&path, message),
                    CodeError::Store(e) => e.into(),
                })?;
            check_code(state.engine.sandbox(), &code, entry)
                .await
                .map_err(|e| match e {
                    CheckError::Code(message) => ApiError::invalid(&path, message),
                    CheckError::Unavailable(message) => ApiError::Unavailable(message),
                })?;
        }
    }
    Ok(())
}

/// Without a Python grader, a task's declared metrics must be ones Assay computes itself.
fn check_metric_ids(manifest: &Manifest) -> Result<(), ApiError> {
    for (i, task) in manifest.tasks.iter().enumerate() {
        let builtin_scored = matches!(
            task.task_type,
            TaskType::Classification
                | TaskType::MultipleChoice
                | TaskType::Qa
                | TaskType::Summarization
                | TaskType::Numeric
                | TaskType::Math
        );
        if task.grader.is_some() || !builtin_scored {
            continue;
        }
        for (j, metric) in task.metrics.iter().enumerate() {
            if assay_scoring::metrics::builtin(&metric.id).is_none() {
                return Err(ApiError::invalid(
                    format!("manifest.tasks[{i}].metrics[{j}].id"),
                    format!(
                        "{} is not a built-in metric ({}); add a grader to compute it",
                        metric.id,
                        assay_scoring::metrics::BUILTIN_IDS.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(())
}

pub(crate) fn suite_not_found(id: &str) -> impl FnOnce(StoreError) -> ApiError + '_ {
    move |e| match e {
        StoreError::NotFound => ApiError::NotFound(format!("no suite with id {id}")),
        other => other.into(),
    }
}

/// Create a suite; its manifest becomes active version 1.
#[utoipa::path(post, path = "/api/v1/llm/evals/suites", tag = "suites",
    request_body = CreateSuiteRequest,
    responses((status = 200, body = SuiteObject), (status = 400, body = ErrorBody), (status = 503, description = "the database or object store is unreachable", body = ErrorBody), (status = 507, description = "insufficient_storage: the data directory is full", body = ErrorBody)),
    security(("bearer_auth" = [])))]
pub async fn create_suite(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(req): JsonBody<CreateSuiteRequest>,
) -> Result<Json<SuiteObject>, ApiError> {
    validate_name(&req.name, "name")?;
    if let Some(d) = &req.description {
        validate_description(d, "description")?;
    }
    let metadata = req.metadata.unwrap_or_default();
    validate_metadata(&metadata, "metadata")?;
    // The suite's metadata is its own; version 1 starts with none.
    let version = prepare_version(&state, &caller, req.manifest, None).await?;
    let suite = NewSuite {
        name: req.name,
        description: req.description,
        metadata,
    };
    Ok(Json(
        state.store.create_suite(&caller, &suite, &version).await?,
    ))
}

/// Query of `GET /evals/suites`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListSuitesQuery {
    /// A suite id: list the suites after it.
    after: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// Leave out suites visible only through a share.
    owned_only: Option<bool>,
}

/// List the suites the caller can see, newest first.
#[utoipa::path(get, path = "/api/v1/llm/evals/suites", tag = "suites", params(ListSuitesQuery),
    responses((status = 200, body = ListObject<SuiteObject>), (status = 400, body = ErrorBody)),
    security(("bearer_auth" = [])))]
pub async fn list_suites(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(q): QueryParams<ListSuitesQuery>,
) -> Result<Json<ListObject<SuiteObject>>, ApiError> {
    let page = page(q.after, q.limit, 20, 100)?;
    let (data, has_more) = state
        .store
        .list_suites(&caller, reach(q.owned_only), &page)
        .await?;
    Ok(Json(ListObject::new(data, has_more)))
}

/// Get a suite.
#[utoipa::path(get, path = "/api/v1/llm/evals/suites/{suite_id}", tag = "suites",
    params(("suite_id" = String, Path)),
    responses((status = 200, body = SuiteObject), (status = 404, body = ErrorBody)),
    security(("bearer_auth" = [])))]
pub async fn get_suite(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(suite_id): Path<String>,
) -> Result<Json<SuiteObject>, ApiError> {
    let suite = state
        .store
        .find_suite(&caller, &suite_id, Reach::Shared)
        .await
        .map_err(suite_not_found(&suite_id))?;
    Ok(Json(suite))
}

/// Delete a suite and all of its runs (soft delete).
#[utoipa::path(delete, path = "/api/v1/llm/evals/suites/{suite_id}", tag = "suites",
    params(("suite_id" = String, Path)),
    responses((status = 200, body = SuiteDeletedObject), (status = 404, body = ErrorBody), (status = 503, description = "the database or object store is unreachable", body = ErrorBody), (status = 507, description = "insufficient_storage: the data directory is full", body = ErrorBody)),
    security(("bearer_auth" = [])))]
pub async fn delete_suite(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(suite_id): Path<String>,
) -> Result<Json<SuiteDeletedObject>, ApiError> {
    let deleted_runs = state
        .store
        .delete_suite(&caller, &suite_id)
        .await
        .map_err(suite_not_found(&suite_id))?;
    Ok(Json(SuiteDeletedObject {
        id: suite_id,
        object: "eval.suite.deleted".into(),
        deleted: true,
        deleted_runs,
    }))
}

/// Create a new immutable version of a suite (the way to edit it).
#[utoipa::path(post, path = "/api/v1/llm/evals/suites/{suite_id}/versions", tag = "suites",
    params(("suite_id" = String, Path)),
    request_body = CreateSuiteVersionRequest,
    responses((status = 200, body = SuiteVersionObject), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, description = "the database or object store is unreachable", body = ErrorBody), (status = 507, description = "insufficient_storage: the data directory is full", body = ErrorBody)),
    security(("bearer_auth" = [])))]
pub async fn create_suite_version(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(suite_id): Path<String>,
    JsonBody(req): JsonBody<CreateSuiteVersionRequest>,
) -> Result<Json<SuiteVersionObject>, ApiError> {
    state
        .store
        .get_suite(&caller, &suite_id)
        .await
        .map_err(suite_not_found(&suite_id))?;
    let version = prepare_version(&state, &caller, req.manifest, req.metadata).await?;
    let created = state
        .store
        .create_suite_version(
            &caller,
            &suite_id,
            &version,
            req.make_active.unwrap_or(true),
        )
        .await
        .map_err(suite_not_found(&suite_id))?;
    Ok(Json(created))
}

/// Query of `GET /evals/suites/{suite_id}/versions`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListVersionsQuery {
    /// A version id (`eval_sver_…`): list the versions after it.
    after: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

/// List a suite's versions in version order.
#[utoipa::path(get, path = "/api/v1/llm/evals/suites/{suite_id}/versions", tag = "suites",
    params(("suite_id" = String, Path), ListVersionsQuery),
    responses((status = 200, body = ListObject<SuiteVersionObject>), (status = 404, body = ErrorBody)),
    security(("bearer_auth" = [])))]
pub async fn list_suite_versions(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(suite_id): Path<String>,
    QueryParams(q): QueryParams<ListVersionsQuery>,
) -> Result<Json<ListObject<SuiteVersionObject>>, ApiError> {
    let page = page(q.after, q.limit, 20, 100)?;
    let (data, has_more) = state
        .store
        .list_suite_versions(&caller, &suite_id, &page)
        .await
        .map_err(suite_not_found(&suite_id))?;
    Ok(Json(ListObject::new(data, has_more)))
}

/// Get one version of a suite by its number.
#[utoipa::path(get, path = "/api/v1/llm/evals/suites/{suite_id}/versions/{version}", tag = "suites",
    params(("suite_id" = String, Path), ("version" = i64, Path, minimum = 1, maximum = 9007199254740991.0)),
    responses((status = 200, body = SuiteVersionObject), (status = 404, body = ErrorBody)),
    security(("bearer_auth" = [])))]
pub async fn get_suite_version(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((suite_id, version)): Path<(String, String)>,
) -> Result<Json<SuiteVersionObject>, ApiError> {
    let number = positive_int(&version, "version")?;
    let found = state
        .store
        .get_suite_version(&caller, &suite_id, number)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => {
                ApiError::NotFound(format!("suite {suite_id} has no version {number}"))
            }
            other => other.into(),
        })?;
    Ok(Json(found))
}

/// Each ranking group's newest completed runs of a suite, with the group assignments: a run
/// restricted by `task_ids` ranks in one group per (model, task), a run over every task in its
/// models' groups with `task_id: null`; rank 1 is the group's most recently created run. Build
/// boards from `groups`. A response carries at most the server's `leaderboard_runs_max` runs;
/// when more remain it is `truncated` and `next_cursor` continues it.
#[utoipa::path(get, path = "/api/v1/llm/evals/suites/{suite_id}/leaderboard-runs", tag = "suites",
    params(("suite_id" = String, Path), LeaderboardRunsQuery),
    responses((status = 200, body = LeaderboardRunsObject), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer_auth" = [])))]
pub async fn list_suite_leaderboard_runs(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(suite_id): Path<String>,
    QueryParams(q): QueryParams<LeaderboardRunsQuery>,
) -> Result<Json<LeaderboardRunsObject>, ApiError> {
    let request = q.validate()?;
    let ceiling = state.config.leaderboard_runs_max.max(1);
    let feed = leaderboard_runs(&state.store, &caller, &suite_id, &request, ceiling)
        .await
        .map_err(board_error)?;
    Ok(Json(feed))
}

/// The suite's coding-agent leaderboard: its completed runs that have an `agent_name`, one row
/// per (agent, model, effort), by accuracy on `metric` (default `reward`) with its 95% Wald
/// interval, `null` accuracy last. Computed per request from stored rows, so a rerun trial
/// moves it once its run is finalized. Runs without an agent never appear.
#[utoipa::path(get, path = "/api/v1/llm/evals/suites/{suite_id}/leaderboard", tag = "suites",
    params(("suite_id" = String, Path), SuiteLeaderboardQuery),
    responses((status = 200, body = SuiteLeaderboardObject), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer_auth" = [])))]
pub async fn get_suite_leaderboard(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(suite_id): Path<String>,
    QueryParams(q): QueryParams<SuiteLeaderboardQuery>,
) -> Result<Json<SuiteLeaderboardObject>, ApiError> {
    let request = q.validate()?;
    let board = agent_leaderboard(&state.store, &caller, &suite_id, &request)
        .await
        .map_err(board_error)?;
    Ok(Json(board))
}

/// The API error of a board or feed that could not be read.
fn board_error(e: LeaderboardError) -> ApiError {
    match e {
        LeaderboardError::NoSuite(_) => ApiError::NotFound(e.to_string()),
        LeaderboardError::InvalidCursor(message) => ApiError::invalid("cursor", message),
        LeaderboardError::Store(e) => e.into(),
    }
}

/// Count tokens from stored text for the samples of the suite's completed runs that have
/// answer or reasoning text but no token figure (written before usage was recorded), and
/// refresh those runs' per-task `tokens` and token totals. Processes `limit` runs per call,
/// oldest first; call again until `remaining_runs` is 0. Only the suite's owner may measure.
#[utoipa::path(post, path = "/api/v1/llm/evals/suites/{suite_id}/tokens/measure", tag = "suites",
    params(("suite_id" = String, Path)),
    request_body = MeasureSuiteTokensRequest,
    responses((status = 200, body = SuiteTokenMeasurement), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, description = "the database or object store is unreachable", body = ErrorBody), (status = 507, description = "insufficient_storage: the data directory is full", body = ErrorBody)),
    security(("bearer_auth" = [])))]
pub async fn measure_suite_tokens(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(suite_id): Path<String>,
    JsonBody(req): JsonBody<MeasureSuiteTokensRequest>,
) -> Result<Json<SuiteTokenMeasurement>, ApiError> {
    let limit = req.limit()?;
    state
        .store
        .get_suite(&caller, &suite_id)
        .await
        .map_err(suite_not_found(&suite_id))?;
    let measured =
        assay_engine::token_backfill::measure_suite_tokens(&state.store, &caller, &suite_id, limit)
            .await?;
    Ok(Json(measured))
}
