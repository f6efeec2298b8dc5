//! Assay's web UI, served by `assay serve` on the API's origin under `/ui`: server-rendered
//! pages (minijinja templates with HTML auto-escaping, so model outputs and dataset rows are
//! shown as text), no build step, no script needed to read a page.
//!
//! Pages read through the store and act through the engine with the signed-in key's
//! principal ([`session`]), the same service functions the API's handlers call, so a page
//! shows exactly what the API would show that key. Responses forbid framing and scripts from
//! other origins (`Content-Security-Policy`).

use std::sync::Arc;

use assay_engine::schedules::Schedules;
use assay_engine::Engine;
use assay_store::Store;
use axum::response::{Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::Environment;

mod compare;
mod leaderboards;
mod render;
mod runs;
mod samples;
mod schedules;
mod session;
mod suites;

pub use session::SESSION_COOKIE;

/// How long a session lasts unless configured otherwise: 12 hours.
pub const DEFAULT_SESSION_SECONDS: i64 = 12 * 3600;

const STYLE: &str = include_str!("assets/style.css");
const LIVE_JS: &str = include_str!("assets/live.js");

/// What the UI's handlers share.
#[derive(Clone)]
pub struct UiState {
    store: Store,
    engine: Engine,
    schedules: Schedules,
    session_seconds: i64,
    templates: Arc<Environment<'static>>,
    comparisons: Arc<compare::ComparisonCache>,
    row_counts: Arc<RowCounts>,
}

/// Row counts of uploaded dataset files (which never change), by file and row cap, so a
/// suite's page counts each file once. Bounded: emptied when full.
#[derive(Default)]
struct RowCounts(std::sync::Mutex<std::collections::HashMap<String, (u64, bool)>>);

/// Row counts kept.
const ROW_COUNTS_KEPT: usize = 10_000;

impl RowCounts {
    fn get(&self, key: &str) -> Option<(u64, bool)> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(key).copied()
    }

    fn put(&self, key: String, count: (u64, bool)) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= ROW_COUNTS_KEPT {
            map.clear();
        }
        map.insert(key, count);
    }
}

impl UiState {
    /// The UI over `store`, acting through `engine` and `schedules`, with sessions lasting
    /// `session_seconds`.
    pub fn new(store: Store, engine: Engine, schedules: Schedules, session_seconds: i64) -> Self {
        UiState {
            store,
            engine,
            schedules,
            session_seconds,
            templates: Arc::new(render::templates()),
            comparisons: Arc::default(),
            row_counts: Arc::default(),
        }
    }
}

fn now() -> i64 {
    assay_domain::now_unix()
}

/// The UI's routes, for merging into the server's router.
pub fn router<S>(state: UiState) -> Router<S> {
    Router::new()
        .route("/ui", get(|| async { Redirect::to("/ui/runs") }))
        .route("/ui/assets/style.css", get(style))
        .route("/ui/assets/live.js", get(live_js))
        .route(
            "/ui/sign-in",
            get(session::sign_in_page).post(session::sign_in),
        )
        .route("/ui/sign-out", post(session::sign_out))
        .route("/ui/runs", get(runs::runs_page))
        .route("/ui/runs/live", get(runs::runs_live))
        .route("/ui/runs/{run_id}", get(runs::run_page))
        .route("/ui/runs/{run_id}/progress", get(runs::run_progress))
        .route("/ui/runs/{run_id}/cancel", post(runs::cancel))
        .route("/ui/runs/{run_id}/retry", post(runs::retry))
        .route("/ui/runs/{run_id}/rerun-failed", post(runs::rerun_failed))
        .route("/ui/runs/{run_id}/samples", get(samples::samples_page))
        .route(
            "/ui/runs/{run_id}/samples/{sample_id}",
            get(samples::sample_page),
        )
        .route(
            "/ui/runs/{run_id}/samples/{sample_id}/audio",
            get(samples::sample_audio),
        )
        .route("/ui/compare", get(compare::compare_page))
        .route("/ui/suites", get(suites::suites_page))
        .route("/ui/suites/{suite_id}", get(suites::suite_page))
        .route("/ui/suites/{suite_id}/diff", get(suites::diff_page))
        .route("/ui/leaderboards", get(leaderboards::leaderboards_page))
        .route("/ui/schedules", get(schedules::schedules_page))
        .route("/ui/schedules/{schedule_id}/pause", post(schedules::pause))
        .route(
            "/ui/schedules/{schedule_id}/resume",
            post(schedules::resume),
        )
        .route(
            "/ui/schedules/{schedule_id}/trigger",
            post(schedules::trigger),
        )
        .route("/ui/files/{file_id}", get(runs::download_file))
        .with_state(state)
}

async fn style() -> Response {
    render::asset("text/css; charset=utf-8", STYLE)
}

async fn live_js() -> Response {
    render::asset("text/javascript; charset=utf-8", LIVE_JS)
}
