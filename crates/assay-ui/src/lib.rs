//! Assay's web UI, served by `assay serve` on the API's origin under `/ui`: server-rendered
//! pages (minijinja templates with HTML auto-escaping, so model outputs and dataset rows are
//! shown as text), no build step, no script needed to read a page.
//!
//! Signing in exchanges an API key for a session ([`assay_store::Store::open_ui_session`]):
//! the browser gets only an `HttpOnly`, `SameSite=Strict` cookie holding a random token; the
//! key never lands in a URL, a page or browser storage. Every state-changing form carries the
//! session's CSRF token (the sign-in form a pre-session one, double-submitted through a cookie
//! of its own). Pages read through the store with the signed-in key's principal, so a page
//! shows exactly what the API would show that key. Responses forbid framing and scripts from
//! other origins (`Content-Security-Policy`).

use std::sync::Arc;

use assay_domain::api::PageRequest;
use assay_domain::Principal;
use assay_store::{Reach, RunFilter, Store, StoreError};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use minijinja::{context, Environment};
use rand::distr::{Alphanumeric, SampleString};
use serde::{Deserialize, Serialize};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "assay_session";
/// The sign-in form's CSRF cookie.
const SIGN_IN_COOKIE: &str = "assay_sign_in";
/// How long a session lasts unless configured otherwise: 12 hours.
pub const DEFAULT_SESSION_SECONDS: i64 = 12 * 3600;
/// Runs per page of the runs list.
const RUNS_PER_PAGE: i64 = 50;

const STYLE: &str = include_str!("assets/style.css");
const LIVE_JS: &str = include_str!("assets/live.js");
/// How often a run's live view reads its progress.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// What the UI's handlers share.
#[derive(Clone)]
pub struct UiState {
    store: Store,
    session_seconds: i64,
    templates: Arc<Environment<'static>>,
}

impl UiState {
    /// The UI over `store`, with sessions lasting `session_seconds`.
    pub fn new(store: Store, session_seconds: i64) -> Self {
        UiState {
            store,
            session_seconds,
            templates: Arc::new(templates()),
        }
    }
}

fn templates() -> Environment<'static> {
    let mut env = Environment::new();
    for (name, source) in [
        ("layout.html", include_str!("templates/layout.html")),
        ("sign_in.html", include_str!("templates/sign_in.html")),
        ("runs.html", include_str!("templates/runs.html")),
        ("error.html", include_str!("templates/error.html")),
        ("run.html", include_str!("templates/run.html")),
    ] {
        // The templates are part of the binary; a syntax error in one is caught by the tests.
        if let Err(e) = env.add_template(name, source) {
            tracing::error!(template = name, error = %e, "a UI template does not parse");
        }
    }
    env
}

/// The UI's routes, for merging into the server's router.
pub fn router<S>(state: UiState) -> Router<S> {
    Router::new()
        .route("/ui", get(|| async { Redirect::to("/ui/runs") }))
        .route("/ui/assets/style.css", get(style))
        .route("/ui/assets/live.js", get(live_js))
        .route("/ui/sign-in", get(sign_in_page).post(sign_in))
        .route("/ui/sign-out", post(sign_out))
        .route("/ui/runs", get(runs_page))
        .route("/ui/runs/{run_id}", get(run_page))
        .route("/ui/runs/{run_id}/progress", get(run_progress))
        .with_state(state)
}

/// Who is looking at a page: the signed-in key's principal and the session's CSRF token.
#[derive(Debug, Clone)]
struct Viewer {
    principal: Principal,
    csrf: String,
}

#[derive(Serialize)]
struct ViewerView<'a> {
    org: &'a str,
    team: &'a str,
    csrf: &'a str,
}

impl Viewer {
    fn view(&self) -> ViewerView<'_> {
        ViewerView {
            org: &self.principal.org_id,
            team: &self.principal.team_id,
            csrf: &self.csrf,
        }
    }
}

/// The signed-in viewer of a page; without a live session the request is answered with the
/// sign-in redirect.
struct SignedIn(Viewer);

impl axum::extract::FromRequestParts<UiState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &UiState,
    ) -> Result<Self, Response> {
        match state.viewer(&parts.headers).await {
            Ok(Some(viewer)) => Ok(SignedIn(viewer)),
            Ok(None) => Err(state.error_page(UiError::SignIn, None)),
            Err(e) => Err(state.error_page(e, None)),
        }
    }
}

/// A page that could not be shown.
#[derive(Debug, thiserror::Error)]
enum UiError {
    /// Not signed in (or the session ended): go to the sign-in page.
    #[error("sign in")]
    SignIn,
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Render(String),
}

fn now() -> i64 {
    assay_domain::now_unix()
}

/// Headers every UI response carries.
fn secured(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' data:; media-src 'self' data:; \
             script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
             base-uri 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

fn page(status: StatusCode, html: String) -> Response {
    secured(
        (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response(),
    )
}

impl UiState {
    fn render(&self, name: &str, ctx: minijinja::Value) -> Result<String, UiError> {
        self.templates
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(|e| UiError::Render(format!("{name}: {e}")))
    }

    fn error_page(&self, e: UiError, viewer: Option<&Viewer>) -> Response {
        let (status, message) = match &e {
            UiError::SignIn => return secured(Redirect::to("/ui/sign-in").into_response()),
            UiError::Forbidden(m) => (StatusCode::FORBIDDEN, m.clone()),
            UiError::Store(s) if s.is_unavailable() => (
                StatusCode::SERVICE_UNAVAILABLE,
                "The database or object store is unreachable; try again shortly.".to_string(),
            ),
            UiError::Store(StoreError::NotFound) => {
                (StatusCode::NOT_FOUND, "Not found.".to_string())
            }
            UiError::Store(StoreError::InvalidCursor(_)) => (
                StatusCode::BAD_REQUEST,
                "That page link is no longer valid; start from the first page.".to_string(),
            ),
            UiError::Store(_) | UiError::Render(_) => {
                tracing::error!(error = %e, "a UI page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The page could not be shown; the server's log says why.".to_string(),
                )
            }
        };
        let ctx = context! {
            status => status.as_u16(),
            message => message,
            viewer => viewer.map(Viewer::view),
        };
        let html = self
            .render("error.html", ctx)
            .unwrap_or_else(|_| format!("{status}"));
        page(status, html)
    }

    /// The viewer whose session cookie came with the request, if it is live.
    async fn viewer(&self, headers: &HeaderMap) -> Result<Option<Viewer>, UiError> {
        let Some(token) = cookie(headers, SESSION_COOKIE) else {
            return Ok(None);
        };
        let Some(session) = self.store.ui_session(&token, now()).await? else {
            return Ok(None);
        };
        Ok(Some(Viewer {
            principal: Principal {
                key_id: session.key.id,
                org_id: session.key.org_id,
                team_id: session.key.team_id,
                user_id: None,
                is_admin: session.key.is_admin,
            },
            csrf: session.csrf_token,
        }))
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Strict`, scoped to `path`; `max_age` 0 clears.
fn set_cookie(name: &str, value: &str, path: &str, max_age: i64) -> HeaderValue {
    let text = format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict");
    // Names, paths and tokens are ASCII alphanumerics and `/`.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn random_token() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 40)
}

/// Whether two secrets are equal, in time independent of where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    secured(
        (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            body,
        )
            .into_response(),
    )
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

async fn live_js() -> Response {
    asset("text/javascript; charset=utf-8", LIVE_JS)
}

/// The sign-in form, with a fresh pre-session CSRF token in the form and in its own cookie.
fn sign_in_form(state: &UiState, status: StatusCode, error: Option<&str>) -> Response {
    let csrf = random_token();
    let html = match state.render("sign_in.html", context! { csrf => &csrf, error => error }) {
        Ok(html) => html,
        Err(e) => return state.error_page(e, None),
    };
    let mut response = page(status, html);
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SIGN_IN_COOKIE, &csrf, "/ui/sign-in", 3600),
    );
    response
}

async fn sign_in_page(State(state): State<UiState>) -> Response {
    sign_in_form(&state, StatusCode::OK, None)
}

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    key: String,
    #[serde(default)]
    csrf: String,
}

async fn sign_in(
    State(state): State<UiState>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let expected = cookie(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same_secret(&expected, &form.csrf) {
        return sign_in_form(
            &state,
            StatusCode::FORBIDDEN,
            Some("The sign-in form expired; sign in again."),
        );
    }
    let key = match state.store.authenticate(form.key.trim()).await {
        Ok(Some(key)) => key,
        Ok(None) => {
            return sign_in_form(
                &state,
                StatusCode::UNAUTHORIZED,
                Some("That API key is not valid."),
            )
        }
        Err(e) => return state.error_page(e.into(), None),
    };
    let session = match state
        .store
        .open_ui_session(&key, now(), state.session_seconds)
        .await
    {
        Ok(s) => s,
        Err(e) => return state.error_page(e.into(), None),
    };
    let mut response = secured(Redirect::to("/ui/runs").into_response());
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, &session.token, "/ui", state.session_seconds),
    );
    headers.append(
        header::SET_COOKIE,
        set_cookie(SIGN_IN_COOKIE, "", "/ui/sign-in", 0),
    );
    response
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn sign_out(
    State(state): State<UiState>,
    SignedIn(viewer): SignedIn,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !same_secret(&viewer.csrf, &form.csrf) {
        return state.error_page(
            UiError::Forbidden("The form expired; reload the page and try again.".into()),
            Some(&viewer),
        );
    }
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        if let Err(e) = state.store.close_ui_session(&token).await {
            return state.error_page(e.into(), Some(&viewer));
        }
    }
    let mut response = secured(Redirect::to("/ui/sign-in").into_response());
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", "/ui", 0));
    response
}

#[derive(Deserialize)]
struct RunsQuery {
    after: Option<String>,
}

#[derive(Serialize)]
struct RunRow {
    id: String,
    status: String,
    models: Vec<String>,
    total: i64,
    done: i64,
    created: String,
}

async fn runs_page(
    State(state): State<UiState>,
    SignedIn(viewer): SignedIn,
    Query(q): Query<RunsQuery>,
) -> Response {
    match runs_html(&state, &viewer, q).await {
        Ok(html) => page(StatusCode::OK, html),
        Err(e) => state.error_page(e, Some(&viewer)),
    }
}

async fn runs_html(state: &UiState, viewer: &Viewer, q: RunsQuery) -> Result<String, UiError> {
    let page_request = PageRequest {
        after: q.after.filter(|a| !a.is_empty()),
        limit: RUNS_PER_PAGE,
    };
    let (runs, has_more) = state
        .store
        .list_runs(
            &viewer.principal,
            Reach::Shared,
            &RunFilter::default(),
            &page_request,
        )
        .await?;
    let next = has_more
        .then(|| runs.last().map(|r| r.id.clone()))
        .flatten();
    let rows: Vec<RunRow> = runs
        .into_iter()
        .map(|r| {
            let counts = &r.request_counts;
            RunRow {
                status: r.status.as_str().to_string(),
                id: r.id,
                models: r.models,
                total: counts.total,
                done: counts.completed + counts.failed,
                created: format_time(r.created_at),
            }
        })
        .collect();
    state.render(
        "runs.html",
        context! { runs => rows, next => next, viewer => viewer.view() },
    )
}

/// One metric of one model on one task, as the run page shows it.
#[derive(Serialize)]
struct MetricRow {
    model: String,
    task: String,
    metric: String,
    mean: String,
    stderr: String,
    interval: String,
    n: String,
    higher_is_better: bool,
    /// The mean as a share (0–100) of the largest value of this metric on the page.
    bar: Option<f64>,
    /// The 95% interval's ends on the same scale.
    lo: Option<f64>,
    hi: Option<f64>,
}

fn number(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.4}"),
        _ => "—".into(),
    }
}

/// The rows of a run's `metrics.by_model` (model, task, metric order as stored), with
/// 95% normal intervals (mean ± 1.96 stderr) and bars scaled per metric.
fn metric_rows(metrics: Option<&serde_json::Value>) -> Vec<MetricRow> {
    struct Raw {
        model: String,
        task: String,
        metric: String,
        mean: Option<f64>,
        stderr: Option<f64>,
        n: Option<i64>,
        higher_is_better: bool,
    }
    let mut raw = Vec::new();
    let by_model = metrics
        .and_then(|m| m.get("by_model"))
        .and_then(|m| m.as_object());
    for (model, tasks) in by_model.into_iter().flatten() {
        for (task, entry) in tasks.as_object().into_iter().flatten() {
            let Some(ms) = entry.get("metrics").and_then(|m| m.as_object()) else {
                continue;
            };
            for (metric, m) in ms {
                raw.push(Raw {
                    model: model.clone(),
                    task: task.clone(),
                    metric: metric.clone(),
                    mean: m.get("mean").and_then(|v| v.as_f64()),
                    stderr: m.get("stderr").and_then(|v| v.as_f64()),
                    n: m.get("n").and_then(|v| v.as_i64()),
                    higher_is_better: m
                        .get("higher_is_better")
                        .and_then(|v| v.as_bool())
                        .unwrap_or(true),
                });
            }
        }
    }
    let interval = |r: &Raw| match (r.mean, r.stderr) {
        (Some(m), Some(s)) if m.is_finite() && s.is_finite() => Some((m - 1.96 * s, m + 1.96 * s)),
        _ => None,
    };
    let mut scale: std::collections::HashMap<&str, f64> = std::collections::HashMap::new();
    for r in &raw {
        let top = interval(r).map(|(_, hi)| hi).or(r.mean).unwrap_or(0.0);
        let entry = scale.entry(r.metric.as_str()).or_insert(0.0);
        if top.is_finite() && top > *entry {
            *entry = top;
        }
    }
    raw.iter()
        .map(|r| {
            let max = scale.get(r.metric.as_str()).copied().unwrap_or(0.0);
            let share = |x: f64| ((x / max) * 100.0).clamp(0.0, 100.0);
            let drawable = max > 0.0 && r.mean.is_some_and(|m| m.is_finite() && m >= 0.0);
            let ci = interval(r);
            MetricRow {
                model: r.model.clone(),
                task: r.task.clone(),
                metric: r.metric.clone(),
                mean: number(r.mean),
                stderr: number(r.stderr),
                interval: ci
                    .map(|(lo, hi)| format!("[{}, {}]", number(Some(lo)), number(Some(hi))))
                    .unwrap_or_else(|| "—".into()),
                n: r.n.map(|n| n.to_string()).unwrap_or_else(|| "—".into()),
                higher_is_better: r.higher_is_better,
                bar: drawable.then(|| share(r.mean.unwrap_or(0.0))),
                lo: ci.filter(|_| drawable).map(|(lo, _)| share(lo)),
                hi: ci.filter(|_| drawable).map(|(_, hi)| share(hi)),
            }
        })
        .collect()
}

async fn run_page(
    State(state): State<UiState>,
    SignedIn(viewer): SignedIn,
    Path(run_id): Path<String>,
) -> Response {
    match run_html(&state, &viewer, &run_id).await {
        Ok(html) => page(StatusCode::OK, html),
        Err(e) => state.error_page(e, Some(&viewer)),
    }
}

async fn run_html(state: &UiState, viewer: &Viewer, run_id: &str) -> Result<String, UiError> {
    let run = state
        .store
        .find_run(&viewer.principal, run_id, Reach::Shared)
        .await?
        .object_for(&viewer.principal);
    let counts = &run.request_counts;
    let ended = run.completed_at.or(run.failed_at).or(run.cancelled_at);
    let duration = match (run.started_at, ended) {
        (Some(start), Some(end)) if end >= start => Some(format!("{} s", end - start)),
        _ => None,
    };
    let tokens = format!(
        "input {}, output {}",
        run.tokens
            .input
            .map(|n| n.to_string())
            .unwrap_or_else(|| "—".into()),
        run.tokens
            .output
            .map(|n| n.to_string())
            .unwrap_or_else(|| "—".into()),
    );
    let settings = serde_json::to_string_pretty(&serde_json::json!({
        "suite_id": run.suite_id,
        "suite_version": run.suite_version,
        "models": run.models,
        "task_ids": run.task_ids,
        "judge_model": run.judge_model,
        "embedding_model": run.embedding_model,
        "generation": run.generation,
        "metadata": run.metadata,
    }))
    .unwrap_or_default();
    let view = context! {
        id => &run.id,
        status => run.status.as_str(),
        total => counts.total,
        done => counts.completed + counts.failed,
        failed => counts.failed,
        suite_id => &run.suite_id,
        suite_version => run.suite_version,
        models => &run.models,
        created => format_time(run.created_at),
        duration => duration,
        tokens => tokens,
        cost => run.cost_usd.map(|c| format!("{c:.4}")),
        error => run.error.as_ref().map(|e| serde_json::to_string_pretty(e).unwrap_or_default()),
        settings => settings,
    };
    state.render(
        "run.html",
        context! { run => view, metrics => metric_rows(run.metrics.as_ref()), viewer => viewer.view() },
    )
}

/// A run's progress as the live view shows it.
#[derive(Serialize)]
struct Progress {
    status: &'static str,
    total: i64,
    done: i64,
    failed: i64,
    terminal: bool,
}

/// Server-sent events (`progress`, JSON) of a run's status and counts, about once a second
/// while they change, ending after the run ends.
async fn run_progress(
    State(state): State<UiState>,
    SignedIn(viewer): SignedIn,
    Path(run_id): Path<String>,
) -> Response {
    use axum::response::sse::{Event, KeepAlive, Sse};
    // A run the viewer cannot see is a 404 before any stream starts.
    if let Err(e) = state
        .store
        .find_run(&viewer.principal, &run_id, Reach::Shared)
        .await
    {
        return state.error_page(e.into(), Some(&viewer));
    }
    let store = state.store.clone();
    let principal = viewer.principal;
    // (last progress sent, whether the stream is over)
    let stream = futures::stream::unfold((None::<String>, false), move |(last, over)| {
        let store = store.clone();
        let principal = principal.clone();
        let run_id = run_id.clone();
        async move {
            if over {
                return None;
            }
            loop {
                if last.is_some() {
                    tokio::time::sleep(PROGRESS_EVERY).await;
                }
                let run = match store.find_run(&principal, &run_id, Reach::Shared).await {
                    Ok(run) => run.object,
                    // Deleted meanwhile, or the database is away: end the stream; the
                    // page can be reloaded.
                    Err(_) => return None,
                };
                let counts = &run.request_counts;
                let progress = Progress {
                    status: run.status.as_str(),
                    total: counts.total,
                    done: counts.completed + counts.failed,
                    failed: counts.failed,
                    terminal: run.status.is_terminal(),
                };
                let data = serde_json::to_string(&progress).unwrap_or_default();
                if last.as_deref() != Some(data.as_str()) || progress.terminal {
                    let event = Event::default().event("progress").data(data.clone());
                    let ended = progress.terminal;
                    return Some((
                        Ok::<_, std::convert::Infallible>(event),
                        (Some(data), ended),
                    ));
                }
            }
        }
    });
    secured(
        Sse::new(stream)
            .keep_alive(KeepAlive::default())
            .into_response(),
    )
}

/// Unix seconds as `YYYY-MM-DD HH:MM UTC`.
fn format_time(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| unix.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        let env = templates();
        for name in [
            "layout.html",
            "sign_in.html",
            "runs.html",
            "error.html",
            "run.html",
        ] {
            assert!(env.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn cookies_are_read_from_any_header_and_pair() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; assay_session=tok"),
        );
        headers.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&headers, SESSION_COOKIE).as_deref(), Some("tok"));
        assert_eq!(cookie(&headers, "b").as_deref(), Some("2"));
        assert_eq!(cookie(&headers, "c"), None);
    }

    #[test]
    fn times_are_civil_utc() {
        assert_eq!(format_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_time(1_796_529_836), "2026-12-06 04:03 UTC");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00 UTC");
    }

    #[test]
    fn metric_rows_carry_intervals_and_bars_scaled_per_metric() {
        let metrics = serde_json::json!({"by_model": {"m": {
            "a": {"metrics": {"acc": {"mean": 0.5, "stderr": 0.1, "n": 25, "higher_is_better": true},
                              "wer": {"mean": 0.2, "stderr": null, "n": 4, "higher_is_better": false}}},
            "b": {"metrics": {"acc": {"mean": 0.25, "stderr": 0.05, "n": 75}}}}}});
        let rows = metric_rows(Some(&metrics));
        assert_eq!(rows.len(), 3);
        let a = &rows[0];
        assert_eq!((a.task.as_str(), a.metric.as_str()), ("a", "acc"));
        assert_eq!(a.interval, "[0.3040, 0.6960]");
        // acc's scale is the largest upper end, 0.696.
        let hi = a.hi.unwrap_or_default();
        assert!((hi - 100.0).abs() < 1e-9);
        assert!((a.bar.unwrap_or_default() - 0.5 / 0.696 * 100.0).abs() < 1e-9);
        let wer = &rows[1];
        assert_eq!(wer.interval, "—");
        assert!(!wer.higher_is_better);
        assert!((wer.bar.unwrap_or_default() - 100.0).abs() < 1e-9);
        assert!(wer.lo.is_none());
        assert!(metric_rows(None).is_empty());
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
    }
}
