//! Schedules: the team's schedules with their cadence, next fire and last run, and the pause,
//! resume and trigger buttons, acting through the same schedule service as the API.

use assay_domain::api::{PageRequest, Patch, UpdateScheduleRequest};
use assay_store::ScheduleFilter;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Form;
use minijinja::context;
use serde::Deserialize;

use crate::render::{format_time, see_other, UiError};
use crate::runs::{given, seconds_text, urlencode};
use crate::session::{CsrfForm, SignedIn, Viewer};
use crate::UiState;

/// Schedules per page.
const SCHEDULES_PER_PAGE: i64 = 50;

#[derive(Deserialize, Default)]
pub(crate) struct SchedulesQuery {
    after: Option<String>,
}

pub(crate) async fn schedules_page(
    State(state): State<UiState>,
    SignedIn(viewer): SignedIn,
    Query(q): Query<SchedulesQuery>,
) -> Response {
    let html = async {
        let page = PageRequest {
            after: given(&q.after),
            limit: SCHEDULES_PER_PAGE,
        };
        let (schedules, more) = state
            .schedules
            .list(&viewer.principal, &ScheduleFilter::default(), &page)
            .await?;
        let next = more
            .then(|| schedules.last().map(|s| s.id.clone()))
            .flatten();
        let rows: Vec<_> = schedules
            .iter()
            .map(|s| {
                let cadence = match (&s.cron, s.interval_seconds) {
                    (Some(cron), _) => format!("cron {cron} ({})", s.timezone),
                    (None, Some(every)) => format!("every {}", seconds_text(every)),
                    (None, None) => "—".to_string(),
                };
                context! {
                    id => &s.id,
                    name => &s.name,
                    suite_id => &s.suite_id,
                    version => s.suite_version,
                    cadence => cadence,
                    overlap => serde_json::to_value(s.overlap_policy).ok(),
                    enabled => s.enabled,
                    next => s.next_run_at.map(format_time),
                    last_run_id => &s.last_run_id,
                    last_run_at => s.last_run_at.map(format_time),
                    last_status => &s.last_run_status,
                }
            })
            .collect();
        state.render(
            "schedules.html",
            context! { schedules => rows, next => next, viewer => viewer.view() },
        )
    }
    .await;
    state.respond(&viewer, html)
}

/// What a schedule button does.
#[derive(Clone, Copy)]
enum Action {
    Pause,
    Resume,
    Trigger,
}

async fn act(
    state: UiState,
    viewer: Viewer,
    schedule_id: String,
    csrf: String,
    action: Action,
) -> Response {
    let done = async {
        viewer.check_form(&csrf)?;
        let (schedules, who) = (&state.schedules, &viewer.principal);
        let enabled = |on: bool| UpdateScheduleRequest {
            enabled: Patch::Set(on),
            ..UpdateScheduleRequest::default()
        };
        match action {
            Action::Pause => schedules.update(who, &schedule_id, enabled(false)).await,
            Action::Resume => schedules.update(who, &schedule_id, enabled(true)).await,
            Action::Trigger => schedules.trigger(who, &schedule_id).await,
        }
        .map_err(UiError::from)
    }
    .await;
    match done {
        Ok(_) => see_other(&format!(
            "/ui/schedules#schedule-{}",
            urlencode(&schedule_id)
        )),
        Err(e) => state.error_page(e, Some(&viewer)),
    }
}

pub(crate) async fn pause(
    State(state): State<UiState>,
    SignedIn(viewer): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    act(state, viewer, id, form.csrf, Action::Pause).await
}

pub(crate) async fn resume(
    State(state): State<UiState>,
    SignedIn(viewer): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    act(state, viewer, id, form.csrf, Action::Resume).await
}

pub(crate) async fn trigger(
    State(state): State<UiState>,
    SignedIn(viewer): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    act(state, viewer, id, form.csrf, Action::Trigger).await
}
