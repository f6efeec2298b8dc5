//! Assay's HTTP API: axum routes for the MKA1 Evals contract, bearer-key auth, cursor paging,
//! one error envelope, and an OpenAPI document generated from the same route table
//! (served at `/openapi.json`, browsable at `/docs`).

pub mod auth;
pub mod error;
pub mod extract;
pub mod routes;

use std::future::Future;
use std::sync::Arc;

use assay_store::Store;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde::Deserialize;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

use crate::error::ApiError;

/// The `[server]` section of the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on, e.g. `127.0.0.1:8080` (port 0 picks a free port).
    #[serde(default = "default_bind")]
    pub bind: String,
    /// Largest accepted file upload, in bytes (default 512 MiB).
    #[serde(default = "default_max_upload_bytes")]
    pub max_upload_bytes: u64,
    /// Largest accepted JSON request body, in bytes (default 32 MiB).
    #[serde(default = "default_max_json_bytes")]
    pub max_json_bytes: usize,
    /// Most runs one leaderboard-runs response carries (default 500; at least 1); a larger
    /// feed is truncated and continued with `next_cursor`.
    #[serde(default = "default_leaderboard_runs_max")]
    pub leaderboard_runs_max: usize,
}

fn default_bind() -> String {
    "127.0.0.1:8080".into()
}

fn default_max_upload_bytes() -> u64 {
    512 * 1024 * 1024
}

fn default_max_json_bytes() -> usize {
    32 * 1024 * 1024
}

fn default_leaderboard_runs_max() -> usize {
    500
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: default_bind(),
            max_upload_bytes: default_max_upload_bytes(),
            max_json_bytes: default_max_json_bytes(),
            leaderboard_runs_max: default_leaderboard_runs_max(),
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<ServerConfig>,
    pub engine: assay_engine::Engine,
    /// Schedules: the API's service, over the executor's way of firing them.
    pub schedules: assay_engine::schedules::Schedules,
    /// Where historical imports read lm-eval results from (`[huggingface] endpoint`).
    pub results_hub: assay_engine::historical::ResultsHub,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Assay", description = "A self-hostable LLM evaluation service implementing the MKA1 Evals API."),
    modifiers(&BearerAuth),
    components(schemas(assay_domain::api::Order, assay_domain::api::FilePurpose, error::ErrorBody)),
    tags(
        (name = "suites", description = "Versioned suites of declarative eval tasks"),
        (name = "runs", description = "Runs of a suite over models, their samples and artifacts"),
        (name = "schedules", description = "Recurring runs of a suite, with signed webhooks"),
        (name = "files", description = "Uploaded datasets, Python graders and run artifacts"),
        (name = "health", description = "Probes")
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer_auth",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Documents the error responses every API operation can give, in the error envelope:
/// 400 and 401 everywhere, 404 where a path names a resource, 413 where a body is sent.
struct ErrorResponses;

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, HttpMethod, Ref, ResponseBuilder};
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/api/") {
                continue;
            }
            let has_path_params = path.contains('{');
            for (method, operation) in [
                (HttpMethod::Get, item.get.as_mut()),
                (HttpMethod::Post, item.post.as_mut()),
                (HttpMethod::Put, item.put.as_mut()),
                (HttpMethod::Patch, item.patch.as_mut()),
                (HttpMethod::Delete, item.delete.as_mut()),
            ] {
                let Some(operation) = operation else { continue };
                let responses = &mut operation.responses.responses;
                let mut add = |code: &str, description: &str| {
                    responses
                        .entry(code.to_string())
                        .or_insert_with(|| error(description).into());
                };
                add(
                    "400",
                    "Invalid request; `error.details.param` names the field",
                );
                add("401", "Missing or invalid API key");
                if has_path_params {
                    add("404", "Unknown, deleted, or another tenant's resource");
                }
                if matches!(
                    method,
                    HttpMethod::Post | HttpMethod::Put | HttpMethod::Patch
                ) {
                    add("413", "The request body is too large");
                }
            }
        }
    }
}

/// The API routes with their OpenAPI description, built from one table so they cannot drift.
fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    use routes::{
        agents, files, health, historical, runs, schedules, shares, suites, trajectories,
    };
    let uploads = OpenApiRouter::new()
        .routes(routes!(files::upload_file, files::list_files))
        // The upload streams to blob storage and enforces its own size limit.
        .layer(DefaultBodyLimit::disable());
    let (router, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .merge(uploads)
        .routes(routes!(files::get_file, files::delete_file))
        .routes(routes!(files::get_file_content))
        .routes(routes!(suites::create_suite, suites::list_suites))
        .routes(routes!(suites::get_suite, suites::delete_suite))
        .routes(routes!(
            suites::create_suite_version,
            suites::list_suite_versions
        ))
        .routes(routes!(suites::get_suite_version))
        .routes(routes!(
            shares::list_suite_shares,
            shares::create_suite_share
        ))
        .routes(routes!(shares::delete_suite_share))
        .routes(routes!(suites::list_suite_leaderboard_runs))
        .routes(routes!(suites::get_suite_leaderboard))
        .routes(routes!(suites::measure_suite_tokens))
        .routes(routes!(runs::create_run, runs::list_runs))
        .routes(routes!(runs::get_run, runs::delete_run))
        .routes(routes!(runs::cancel_run))
        .routes(routes!(agents::import_agent_run))
        .routes(routes!(agents::append_agent_trials))
        .routes(routes!(historical::import_huggingface_results))
        .routes(routes!(runs::retry_run))
        .routes(routes!(runs::rerun_failed_samples))
        .routes(routes!(runs::get_run_overview))
        .routes(routes!(runs::list_samples))
        .routes(routes!(runs::get_artifacts))
        .routes(routes!(
            trajectories::get_sample_trajectory,
            trajectories::upload_sample_trajectory
        ))
        .routes(routes!(trajectories::get_sample_audio))
        .routes(routes!(
            schedules::create_schedule,
            schedules::list_schedules
        ))
        .routes(routes!(
            schedules::get_schedule,
            schedules::update_schedule,
            schedules::delete_schedule
        ))
        .routes(routes!(schedules::trigger_schedule))
        .routes(routes!(schedules::list_schedule_runs))
        .split_for_parts();
    // Modifiers on `ApiDoc` run before the routes are added, so this one runs here.
    ErrorResponses.modify(&mut openapi);
    (router, openapi)
}

/// The OpenAPI document of the implemented routes.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().1
}

/// The complete application: API routes, docs, fallbacks and middleware.
pub fn app(state: AppState) -> Router {
    let (router, openapi) = api();
    let json_limit = state.config.max_json_bytes;
    let ui = assay_ui::UiState::new(
        state.store.clone(),
        state.engine.clone(),
        state.schedules.clone(),
        assay_ui::DEFAULT_SESSION_SECONDS,
    );
    router
        .merge(SwaggerUi::new("/docs").url("/openapi.json", openapi))
        .merge(assay_ui::router(ui))
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async {
            ApiError::MethodNotAllowed("this method is not allowed on this route".into())
        })
        .layer(DefaultBodyLimit::max(json_limit))
        .layer(axum::middleware::map_response(error::envelope_errors))
        .layer(CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| -> Response {
                ApiError::Internal("handler panicked".into()).into_response()
            },
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves the application on `listener` until `shutdown` resolves, then drains
/// in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let monitor = tokio::spawn(watch_storage(state.store.clone()));
    let served = axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await;
    monitor.abort();
    served
}

/// Probes the storage every few seconds (every second during an outage), so that readiness,
/// the run views and waiting runs learn of an outage and of its end without a request having
/// to fail first.
async fn watch_storage(store: Store) {
    loop {
        let faults = store.probe_storage().await;
        let every = if faults.is_empty() { 5 } else { 1 };
        tokio::time::sleep(std::time::Duration::from_secs(every)).await;
    }
}

/// Status code helper for tests and callers outside this crate.
pub fn status_of(e: &ApiError) -> StatusCode {
    e.status()
}
