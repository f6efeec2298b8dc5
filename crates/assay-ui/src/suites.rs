//! Suites: the list, a suite's page (its versions, and a version's tasks each with a preview
//! of its dataset and a rendered example prompt), and the diff of two versions' manifests.

use assay_domain::api::{PageRequest, SuiteAccess, SuiteObject, SuiteVersionObject};
use assay_domain::manifest::Manifest;
use assay_engine::suite_preview::{manifest_diff, preview_task};
use assay_store::Reach;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use minijinja::context;
use serde::{Deserialize, Serialize};

use crate::render::{clip, clip_json, format_time, pretty, UiError, CLIP_CHARS};
use crate::runs::given;
use crate::session::{SignedIn, Viewer};
use crate::UiState;

/// Suites per page of the list.
const SUITES_PER_PAGE: i64 = 50;
/// Dataset rows a task's preview shows.
const PREVIEW_ROWS: usize = 5;
/// Rows counted for a task's row count before saying "at least".
const COUNT_LIMIT: u64 = 100_000;
/// Version links a suite's page shows, newest first.
const VERSIONS_SHOWN: i64 = 50;
/// Characters of one dataset value a preview cell shows.
const CELL_CHARS: usize = 300;

#[derive(Deserialize, Default)]
pub(crate) struct SuitesQuery {
    after: Option<String>,
}

#[derive(Serialize)]
struct SuiteRow {
    id: String,
    name: String,
    description: Option<String>,
    shared: bool,
    active_version: i64,
    latest_version: i64,
    updated: String,
}

impl From<SuiteObject> for SuiteRow {
    fn from(s: SuiteObject) -> Self {
        SuiteRow {
            shared: matches!(s.access, SuiteAccess::Shared),
            updated: format_time(s.updated_at),
            id: s.id,
            name: s.name,
            description: s.description,
            active_version: s.active_version,
            latest_version: s.latest_version,
        }
    }
}

pub(crate) async fn suites_page(
    State(state): State<UiState>,
    SignedIn(viewer): SignedIn,
    Query(q): Query<SuitesQuery>,
) -> Response {
    let html = async {
        let page = PageRequest {
            after: given(&q.after),
            limit: SUITES_PER_PAGE,
        };
        let (suites, more) = state
            .store
            .list_suites(&viewer.principal, Reach::Shared, &page)
            .await?;
        let next = more.then(|| suites.last().map(|s| s.id.clone())).flatten();
        let rows: Vec<SuiteRow> = suites.into_iter().map(SuiteRow::from).collect();
        state.render(
            "suites.html",
            context! { suites => rows, next => next, viewer => viewer.view() },
        )
    }
    .await;
    state.respond(&viewer, html)
}

#[derive(Deserialize, Default)]
pub(crate) struct SuiteQuery {
    version: Option<String>,
}

/// A version number from a query field.
fn version_number(field: &str, v: &Option<String>) -> Result<Option<i64>, UiError> {
    given(v)
        .map(|s| {
            s.parse::<i64>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                UiError::BadRequest(format!("{field}: {s:?} is not a version number"))
            })
        })
        .transpose()
}

pub(crate) async fn suite_page(
    State(state): State<UiState>,
    SignedIn(viewer): SignedIn,
    Path(suite_id): Path<String>,
    Query(q): Query<SuiteQuery>,
) -> Response {
    let html = suite_html(&state, &viewer, &suite_id, &q).await;
    state.respond(&viewer, html)
}

async fn suite_html(
    state: &UiState,
    viewer: &Viewer,
    suite_id: &str,
    q: &SuiteQuery,
) -> Result<String, UiError> {
    let who = &viewer.principal;
    let suite = state.store.find_suite(who, suite_id, Reach::Shared).await?;
    let number = version_number("version", &q.version)?.unwrap_or(suite.active_version);
    let version = state.store.get_suite_version(who, suite_id, number).await?;
    // Links to the newest versions (any other is one number away in the address).
    let versions: Vec<_> = (1..=suite.latest_version)
        .rev()
        .take(VERSIONS_SHOWN as usize)
        .map(|v| context! { version => v, active => v == suite.active_version })
        .collect();
    // A share lends the suite, not the owning team's files: a reader sees the manifest only.
    let shared = matches!(suite.access, SuiteAccess::Shared);
    let tasks = if shared {
        Vec::new()
    } else {
        task_views(state, viewer, &version).await?
    };
    state.render(
        "suite.html",
        context! {
            suite => SuiteRow::from(suite.clone()),
            version => context! {
                number => version.version,
                created => format_time(version.created_at),
                active => version.version == suite.active_version,
                manifest => pretty(&clip_json(&version.manifest, CLIP_CHARS)),
            },
            versions => versions,
            more_versions => suite.latest_version > VERSIONS_SHOWN,
            tasks => tasks,
            shared => shared,
            viewer => viewer.view(),
        },
    )
}

/// Each task of a version with its dataset preview; a manifest that no longer parses is
/// shown as stored, without previews.
async fn task_views(
    state: &UiState,
    viewer: &Viewer,
    version: &SuiteVersionObject,
) -> Result<Vec<minijinja::Value>, UiError> {
    let Ok(manifest) = Manifest::from_json(&version.manifest, "manifest") else {
        return Ok(Vec::new());
    };
    let mut views = Vec::new();
    for task in &manifest.tasks {
        // An uploaded file never changes: its row count is counted once and remembered.
        let count_key = task
            .dataset
            .file_id
            .as_ref()
            .map(|f| format!("{f}:{:?}", task.dataset.max_rows));
        let known = count_key.as_ref().and_then(|k| state.row_counts.get(k));
        let limit = if known.is_some() {
            None
        } else {
            Some(COUNT_LIMIT)
        };
        let mut preview =
            preview_task(&state.store, &viewer.principal, task, PREVIEW_ROWS, limit).await?;
        match (known, preview.row_count, count_key) {
            (Some((n, limited)), _, _) if preview.problem.is_none() => {
                preview.row_count = Some(n);
                preview.count_limited = limited;
            }
            (None, Some(n), Some(key)) => state.row_counts.put(key, (n, preview.count_limited)),
            _ => {}
        }
        let cell = |v: Option<&serde_json::Value>| match v {
            None => String::new(),
            Some(serde_json::Value::String(s)) => clip(s, CELL_CHARS),
            Some(other) => clip(&other.to_string(), CELL_CHARS),
        };
        let rows: Vec<Vec<String>> = preview
            .rows
            .iter()
            .map(|row| preview.columns.iter().map(|c| cell(row.get(c))).collect())
            .collect();
        let source = serde_json::to_value(&task.dataset).unwrap_or_default();
        views.push(context! {
            id => &task.id,
            kind => serde_json::to_value(task.task_type).ok(),
            dataset => pretty(&clip_json(&source, CLIP_CHARS)),
            columns => &preview.columns,
            rows => rows,
            row_count => preview.row_count,
            count_limited => preview.count_limited,
            prompt => preview.example.as_ref().map(|(p, _)| clip(p, 20_000)),
            target => preview.example.as_ref().and_then(|(_, t)| t.clone()),
            problem => preview.problem,
        });
    }
    Ok(views)
}

#[derive(Deserialize, Default)]
pub(crate) struct DiffQuery {
    from: Option<String>,
    to: Option<String>,
}

pub(crate) async fn diff_page(
    State(state): State<UiState>,
    SignedIn(viewer): SignedIn,
    Path(suite_id): Path<String>,
    Query(q): Query<DiffQuery>,
) -> Response {
    let html = async {
        let who = &viewer.principal;
        let suite = state
            .store
            .find_suite(who, &suite_id, Reach::Shared)
            .await?;
        let to = version_number("to", &q.to)?.unwrap_or(suite.latest_version);
        let from = version_number("from", &q.from)?.unwrap_or((to - 1).max(1));
        let (before, after) = (
            state.store.get_suite_version(who, &suite_id, from).await,
            state.store.get_suite_version(who, &suite_id, to).await,
        );
        let missing = |field: &str, n: i64, e: assay_store::StoreError| match e {
            assay_store::StoreError::NotFound => {
                UiError::BadRequest(format!("{field}: suite {suite_id} has no version {n}"))
            }
            other => other.into(),
        };
        let before = before.map_err(|e| missing("from", from, e))?;
        let after = after.map_err(|e| missing("to", to, e))?;
        let show = |v: Option<serde_json::Value>| v.map(|v| pretty(&clip_json(&v, CLIP_CHARS)));
        let changes: Vec<_> = manifest_diff(&before.manifest, &after.manifest)
            .into_iter()
            .map(|c| context! { path => c.path, before => show(c.before), after => show(c.after) })
            .collect();
        state.render(
            "suite_diff.html",
            context! {
                suite => SuiteRow::from(suite),
                from => from,
                to => to,
                changes => changes,
                viewer => viewer.view(),
            },
        )
    }
    .await;
    state.respond(&viewer, html)
}
