//! The runs list, a run's page, their live progress, the run actions (cancel, retry, rerun
//! failed samples) and artifact downloads.

use std::collections::HashMap;

use assay_domain::api::{PageRequest, RunObject, RunStatus};
use assay_domain::Principal;
use assay_store::{Reach, RunFilter, RunRecord, Store};
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Form;
use minijinja::context;
use serde::{Deserialize, Serialize};

use crate::render::{
    clip_json, format_time, number, pretty, secured, see_other, UiError, CLIP_CHARS,
};
use crate::session::{CsrfForm, SignedIn, Viewer};
use crate::UiState;

/// Runs per page of the runs list.
const RUNS_PER_PAGE: i64 = 50;
/// How often live views read progress.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The runs list's query: filters and the page cursor.
#[derive(Deserialize, Default)]
pub(crate) struct RunsQuery {
    suite: Option<String>,
    status: Option<String>,
    model: Option<String>,
    schedule: Option<String>,
    agent: Option<String>,
    after: Option<String>,
}

/// `Some(value)` for a non-empty, trimmed query value.
pub(crate) fn given(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// The query string of the given (non-empty) fields, in order.
pub(crate) fn query_string(fields: &[(&str, &Option<String>)]) -> String {
    let pairs: Vec<(&str, String)> = fields
        .iter()
        .filter_map(|(k, v)| given(v).map(|v| (*k, v)))
        .collect();
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

impl RunsQuery {
    fn filter(&self) -> Result<RunFilter, UiError> {
        let status = given(&self.status)
            .map(|s| {
                RunStatus::parse(&s).ok_or_else(|| {
                    UiError::BadRequest(format!("status: {s:?} is not a run status"))
                })
            })
            .transpose()?;
        Ok(RunFilter {
            suite_id: given(&self.suite),
            status,
            schedule_id: given(&self.schedule),
            model: given(&self.model),
            agent_name: given(&self.agent),
            ..RunFilter::default()
        })
    }

    /// The query string of these filters (without the cursor), for the next page's link.
    fn filters_query(&self) -> String {
        query_string(&[
            ("suite", &self.suite),
            ("status", &self.status),
            ("model", &self.model),
            ("schedule", &self.schedule),
            ("agent", &self.agent),
        ])
    }
}

/// The run actions the viewer may take on a run in its present state.
#[derive(Serialize)]
struct Actions {
    cancel: bool,
    retry: bool,
    rerun_failed: bool,
}

impl Actions {
    fn of(record: &RunRecord, viewer: &Viewer) -> Self {
        let owned = record.owned_by(&viewer.principal);
        let executed = owned && !record.imported;
        let status = record.object.status;
        Actions {
            cancel: owned && status.is_cancellable(),
            retry: executed && matches!(status, RunStatus::Failed | RunStatus::Cancelled),
            rerun_failed: executed
                && status == RunStatus::Completed
                && record.object.request_counts.failed > 0,
        }
    }
}

/// One row of the runs list.
#[derive(Serialize)]
struct RunRow {
    actions: Actions,
    id: String,
    status: &'static str,
    live: bool,
    models: Vec<String>,
    suite_id: String,
    suite_version: i64,
    agent: Option<String>,
    total: i64,
    done: i64,
    failed: i64,
    created: String,
    duration: Option<String>,
    headline: Option<String>,
}

pub(crate) async fn runs_page(
    State(state): State<UiState>,
    SignedIn(viewer): SignedIn,
    Query(q): Query<RunsQuery>,
) -> Response {
    let html = runs_html(&state, &viewer, q).await;
    state.respond(&viewer, html)
}

async fn runs_html(state: &UiState, viewer: &Viewer, q: RunsQuery) -> Result<String, UiError> {
    let filter = q.filter()?;
    let page_request = PageRequest {
        after: given(&q.after),
        limit: RUNS_PER_PAGE,
    };
    let (records, has_more) = state
        .store
        .list_run_records(&viewer.principal, Reach::Shared, &filter, &page_request)
        .await?;
    let next = has_more
        .then(|| records.last().map(|r| r.object.id.clone()))
        .flatten();
    let rows: Vec<RunRow> = records
        .into_iter()
        .map(|record| {
            let actions = Actions::of(&record, viewer);
            let r = record.object_for(&viewer.principal);
            let counts = &r.request_counts;
            RunRow {
                actions,
                status: r.status.as_str(),
                live: !r.status.is_terminal(),
                total: counts.total,
                done: counts.completed + counts.failed,
                failed: counts.failed,
                created: format_time(r.created_at),
                duration: duration(&r),
                headline: headline(r.metrics.as_ref()),
                suite_id: r.suite_id,
                suite_version: r.suite_version,
                agent: r.agent_name,
                id: r.id,
                models: r.models,
            }
        })
        .collect();
    let live_ids: Vec<&str> = rows
        .iter()
        .filter(|r| r.live)
        .map(|r| r.id.as_str())
        .collect();
    let live_url = (!live_ids.is_empty()).then(|| {
        format!(
            "/ui/runs/live?{}",
            serde_urlencoded::to_string([("ids", live_ids.join(","))]).unwrap_or_default()
        )
    });
    let filters = q.filters_query();
    state.render(
        "runs.html",
        context! {
            runs => rows,
            next => next,
            filters => filters,
            live_url => live_url,
            q => context! {
                suite => given(&q.suite), status => given(&q.status), model => given(&q.model),
                schedule => given(&q.schedule), agent => given(&q.agent),
            },
            statuses => RunStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            viewer => viewer.view(),
        },
    )
}

/// How long a run ran, once it has ended.
fn duration(run: &RunObject) -> Option<String> {
    let ended = run.completed_at.or(run.failed_at).or(run.cancelled_at)?;
    let start = run.started_at?;
    (ended >= start).then(|| seconds_text(ended - start))
}

/// Seconds as `42 s`, `3 min 5 s` or `2 h 4 min`.
pub(crate) fn seconds_text(s: i64) -> String {
    match s {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

/// The first metric of the first task of each model, as `model: metric mean`.
fn headline(metrics: Option<&serde_json::Value>) -> Option<String> {
    let mut seen = Vec::new();
    let mut parts = Vec::new();
    for row in metric_rows(metrics) {
        if seen.contains(&row.model) {
            continue;
        }
        parts.push(format!("{} {} {}", row.model, row.metric, row.mean));
        seen.push(row.model);
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// One metric of one model on one task, as the run page shows it.
#[derive(Serialize)]
pub(crate) struct MetricRow {
    pub model: String,
    pub task: String,
    pub metric: String,
    pub mean: String,
    pub stderr: String,
    pub interval: String,
    pub n: String,
    pub higher_is_better: bool,
    /// The mean as a share (0–100) of the metric's scale on the page.
    pub bar: Option<f64>,
    /// The 95% interval's ends on the same scale.
    pub lo: Option<f64>,
    pub hi: Option<f64>,
}

/// The rows of a run's `metrics.by_model` (model, task, metric order as stored), with 95%
/// normal intervals (mean ± 1.96 stderr). A metric whose values all lie in [0, 1] is drawn
/// on [0, 1] and its interval clipped to it; others on [0, largest upper end].
pub(crate) fn metric_rows(metrics: Option<&serde_json::Value>) -> Vec<MetricRow> {
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
    // Per metric: whether every mean is a share (in [0, 1]), and the largest upper end.
    let mut scale: HashMap<&str, (bool, f64)> = HashMap::new();
    for r in &raw {
        let entry = scale.entry(r.metric.as_str()).or_insert((true, 0.0));
        if let Some(m) = r.mean.filter(|m| m.is_finite()) {
            entry.0 &= (0.0..=1.0).contains(&m);
            let top = m + 1.96 * r.stderr.filter(|s| s.is_finite()).unwrap_or(0.0);
            entry.1 = entry.1.max(top);
        }
    }
    raw.iter()
        .map(|r| {
            let (unit, top) = scale
                .get(r.metric.as_str())
                .copied()
                .unwrap_or((false, 0.0));
            let max = if unit { 1.0 } else { top };
            let (floor, ceiling) = if unit {
                (0.0, 1.0)
            } else {
                (f64::NEG_INFINITY, f64::INFINITY)
            };
            let ci = match (r.mean, r.stderr) {
                (Some(m), Some(s)) if m.is_finite() && s.is_finite() => {
                    Some(((m - 1.96 * s).max(floor), (m + 1.96 * s).min(ceiling)))
                }
                _ => None,
            };
            let share = |x: f64| ((x / max) * 100.0).clamp(0.0, 100.0);
            let drawable = max > 0.0 && r.mean.is_some_and(|m| m.is_finite() && m >= 0.0);
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

/// A file of the run offered for download.
#[derive(Serialize)]
struct Artifact {
    id: String,
    label: String,
    filename: String,
    bytes: i64,
}

/// A run the viewer can see, or 404.
pub(crate) async fn visible_run(
    state: &UiState,
    viewer: &Viewer,
    run_id: &str,
) -> Result<RunRecord, UiError> {
    Ok(state
        .store
        .find_run(&viewer.principal, run_id, Reach::Shared)
        .await?)
}

pub(crate) async fn run_page(
    State(state): State<UiState>,
    SignedIn(viewer): SignedIn,
    Path(run_id): Path<String>,
) -> Response {
    let html = run_html(&state, &viewer, &run_id).await;
    state.respond(&viewer, html)
}

async fn run_html(state: &UiState, viewer: &Viewer, run_id: &str) -> Result<String, UiError> {
    let record = visible_run(state, viewer, run_id).await?;
    let owned = record.owned_by(&viewer.principal);
    let actions = Actions::of(&record, viewer);
    let mut artifacts = Vec::new();
    if owned {
        let files = [
            (record.result_file_id.clone(), "Results (JSON)"),
            (record.samples_file_id.clone(), "Samples (JSONL)"),
        ]
        .into_iter()
        .filter_map(|(id, label)| id.map(|id| (id, label.to_string())))
        .chain(
            record
                .object
                .artifact_file_ids
                .iter()
                .filter(|id| {
                    Some(*id) != record.result_file_id.as_ref()
                        && Some(*id) != record.samples_file_id.as_ref()
                })
                .map(|id| (id.clone(), "Artifact".to_string())),
        );
        for (id, label) in files {
            match state.store.get_file(&viewer.principal, &id).await {
                Ok(file) => artifacts.push(Artifact {
                    id,
                    label,
                    filename: file.object.filename,
                    bytes: file.object.bytes,
                }),
                // A file deleted through the Files API is simply not offered.
                Err(assay_store::StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    let run = record.object_for(&viewer.principal);
    let counts = &run.request_counts;
    let failures = if counts.failed > 0 {
        state
            .store
            .failure_groups(&viewer.principal, &run.id)
            .await?
            .into_iter()
            .map(|g| {
                context! {
                    error_type => g.error_type,
                    count => g.count,
                    example => g.example.map(|m| crate::render::clip(&m, 300)),
                }
            })
            .collect()
    } else {
        Vec::new()
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
    let settings = clip_json(
        &serde_json::json!({
            "suite_id": run.suite_id,
            "suite_version": run.suite_version,
            "models": run.models,
            "task_ids": run.task_ids,
            "judge_model": run.judge_model,
            "embedding_model": run.embedding_model,
            "generation": run.generation,
            "metadata": run.metadata,
        }),
        CLIP_CHARS,
    );
    let status = run.status;
    let view = context! {
        id => &run.id,
        status => status.as_str(),
        live => !status.is_terminal(),
        total => counts.total,
        done => counts.completed + counts.failed,
        failed => counts.failed,
        suite_id => &run.suite_id,
        suite_version => run.suite_version,
        models => &run.models,
        agent => &run.agent_name,
        created => format_time(run.created_at),
        duration => duration(&run),
        tokens => tokens,
        cost => run.cost_usd.map(|c| format!("{c:.4}")),
        error => run.error.as_ref().map(|e| pretty(&clip_json(e, CLIP_CHARS))),
        settings => pretty(&settings),
    };
    state.render(
        "run.html",
        context! {
            run => view,
            metrics => metric_rows(run.metrics.as_ref()),
            failures => failures,
            artifacts => artifacts,
            actions => actions,
            viewer => viewer.view(),
        },
    )
}

/// A run's progress as live views show it.
#[derive(Serialize, PartialEq)]
struct Progress {
    id: String,
    status: &'static str,
    total: i64,
    done: i64,
    failed: i64,
    terminal: bool,
}

impl Progress {
    fn of(run: &RunObject) -> Self {
        let counts = &run.request_counts;
        Progress {
            id: run.id.clone(),
            status: run.status.as_str(),
            total: counts.total,
            done: counts.completed + counts.failed,
            failed: counts.failed,
            terminal: run.status.is_terminal(),
        }
    }
}

/// Server-sent `progress` events (JSON [`Progress`]) of runs `ids`: each run's first state,
/// then its changes, read about once a second, until every run has ended (or is gone).
fn progress_events(store: Store, principal: Principal, ids: Vec<String>) -> Response {
    // (runs still followed, what was last sent of each)
    let start = (ids, HashMap::<String, String>::new(), true);
    let stream = futures::stream::unfold(start, move |(mut ids, mut sent, first)| {
        let store = store.clone();
        let principal = principal.clone();
        async move {
            if ids.is_empty() {
                return None;
            }
            if !first {
                tokio::time::sleep(PROGRESS_EVERY).await;
            }
            let mut events = Vec::new();
            let mut still = Vec::new();
            // One read for every followed run. A run deleted meanwhile is no longer followed;
            // when the database is away, none is (the page can be reloaded).
            let runs = store
                .find_runs(&principal, &ids, Reach::Shared)
                .await
                .unwrap_or_default();
            ids.clear();
            for run in runs {
                let id = run.object.id.clone();
                let progress = Progress::of(&run.object);
                let data = serde_json::to_string(&progress).unwrap_or_default();
                if sent.get(&id) != Some(&data) {
                    events.push(Event::default().event("progress").data(data.clone()));
                    sent.insert(id.clone(), data);
                }
                if !progress.terminal {
                    still.push(id);
                }
            }
            let batch =
                futures::stream::iter(events.into_iter().map(Ok::<_, std::convert::Infallible>));
            Some((batch, (still, sent, false)))
        }
    });
    use futures::StreamExt;
    secured(
        Sse::new(stream.flatten())
            .keep_alive(KeepAlive::default())
            .into_response(),
    )
}

/// Live progress of one run (its page).
pub(crate) async fn run_progress(
    State(state): State<UiState>,
    SignedIn(viewer): SignedIn,
    Path(run_id): Path<String>,
) -> Response {
    // A run the viewer cannot see is a 404 before any stream starts.
    if let Err(e) = visible_run(&state, &viewer, &run_id).await {
        return state.error_page(e, Some(&viewer));
    }
    progress_events(state.store.clone(), viewer.principal, vec![run_id])
}

#[derive(Deserialize)]
pub(crate) struct LiveQuery {
    #[serde(default)]
    ids: String,
}

/// Live progress of the unfinished runs of a runs-list page (`ids`, comma-separated, at
/// most one page's worth). Runs the viewer cannot see send nothing.
pub(crate) async fn runs_live(
    State(state): State<UiState>,
    SignedIn(viewer): SignedIn,
    Query(q): Query<LiveQuery>,
) -> Response {
    let ids: Vec<String> = q
        .ids
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .collect();
    if ids.len() as i64 > RUNS_PER_PAGE {
        return state.error_page(
            UiError::BadRequest(format!("ids: at most {RUNS_PER_PAGE} runs")),
            Some(&viewer),
        );
    }
    progress_events(state.store.clone(), viewer.principal, ids)
}

/// What a run action does.
#[derive(Clone, Copy)]
enum Action {
    Cancel,
    Retry,
    RerunFailed,
}

async fn act(
    state: UiState,
    viewer: Viewer,
    run_id: String,
    csrf: String,
    action: Action,
) -> Response {
    let done = async {
        viewer.check_form(&csrf)?;
        let (engine, store, who) = (&state.engine, &state.store, &viewer.principal);
        match action {
            Action::Cancel => engine.cancel_run(store, who, &run_id).await.map(|_| ()),
            Action::Retry => engine.retry_run(store, who, &run_id).await.map(|_| ()),
            Action::RerunFailed => engine.rerun_failed(store, who, &run_id).await.map(|_| ()),
        }
        .map_err(UiError::from)
    }
    .await;
    match done {
        Ok(()) => see_other(&format!("/ui/runs/{}", urlencode(&run_id))),
        Err(e) => state.error_page(e, Some(&viewer)),
    }
}

pub(crate) async fn cancel(
    State(state): State<UiState>,
    SignedIn(viewer): SignedIn,
    Path(run_id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    act(state, viewer, run_id, form.csrf, Action::Cancel).await
}

pub(crate) async fn retry(
    State(state): State<UiState>,
    SignedIn(viewer): SignedIn,
    Path(run_id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    act(state, viewer, run_id, form.csrf, Action::Retry).await
}

pub(crate) async fn rerun_failed(
    State(state): State<UiState>,
    SignedIn(viewer): SignedIn,
    Path(run_id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    act(state, viewer, run_id, form.csrf, Action::RerunFailed).await
}

/// A path segment, percent-encoded.
pub(crate) fn urlencode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Downloads a file the viewer owns (a run's artifacts).
pub(crate) async fn download_file(
    State(state): State<UiState>,
    SignedIn(viewer): SignedIn,
    Path(file_id): Path<String>,
) -> Response {
    let file = match state.store.get_file(&viewer.principal, &file_id).await {
        Ok(f) => f,
        Err(e) => return state.error_page(e.into(), Some(&viewer)),
    };
    let stream = match state.store.blobs().get_stream(&file.blob_key).await {
        Ok(s) => s,
        Err(e) => return state.error_page(e.into(), Some(&viewer)),
    };
    secured(
        (
            [
                (header::CONTENT_TYPE, file.content_type.clone()),
                (header::CONTENT_LENGTH, file.object.bytes.to_string()),
                (header::CONTENT_DISPOSITION, file.content_disposition()),
            ],
            Body::from_stream(stream),
        )
            .into_response(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_rows_carry_intervals_and_bars_on_a_shared_scale() {
        let metrics = serde_json::json!({"by_model": {"m": {
            "a": {"metrics": {"acc": {"mean": 0.5, "stderr": 0.1, "n": 25, "higher_is_better": true},
                              "wer": {"mean": 0.2, "stderr": null, "n": 4, "higher_is_better": false}}},
            "b": {"metrics": {"acc": {"mean": 0.9, "stderr": 0.1, "n": 75},
                              "tokens": {"mean": 40.0, "stderr": 5.0, "n": 75}}}}}});
        let rows = metric_rows(Some(&metrics));
        assert_eq!(rows.len(), 4);
        let a = &rows[0];
        assert_eq!((a.task.as_str(), a.metric.as_str()), ("a", "acc"));
        assert_eq!(a.interval, "[0.3040, 0.6960]");
        // acc is a share: drawn on [0, 1].
        assert!((a.bar.unwrap_or_default() - 50.0).abs() < 1e-9);
        assert!((a.hi.unwrap_or_default() - 69.6).abs() < 1e-9);
        // Its interval is clipped to [0, 1].
        let b = &rows[2];
        assert_eq!(b.interval, "[0.7040, 1.0000]");
        let wer = &rows[1];
        assert_eq!(wer.interval, "—");
        assert!(!wer.higher_is_better);
        assert!((wer.bar.unwrap_or_default() - 20.0).abs() < 1e-9);
        assert!(wer.lo.is_none());
        // A metric beyond [0, 1] is drawn on [0, largest upper end].
        let t = &rows[3];
        assert!((t.hi.unwrap_or_default() - 100.0).abs() < 1e-9);
        assert!((t.bar.unwrap_or_default() - 40.0 / 49.8 * 100.0).abs() < 1e-9);
        assert!(metric_rows(None).is_empty());
        assert_eq!(headline(Some(&metrics)).as_deref(), Some("m acc 0.5000"));
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(seconds_text(42), "42 s");
        assert_eq!(seconds_text(185), "3 min 5 s");
        assert_eq!(seconds_text(7440), "2 h 4 min");
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(urlencode("run-1_a.b~"), "run-1_a.b~");
        assert_eq!(urlencode("a/b c?"), "a%2Fb%20c%3F");
    }
}
