//! A suite's leaderboards: the coding-agent board (accuracy with its 95% interval per agent,
//! model and effort) and the leaderboard-runs board (each model's and task's newest completed
//! runs with their metrics), computed by the engine exactly as the API serves them.

use std::collections::HashMap;

use assay_domain::api::{LeaderboardRunsQuery, PageRequest, SuiteLeaderboardQuery};
use assay_engine::leaderboard::{agent_leaderboard, leaderboard_runs};
use assay_store::Reach;
use axum::extract::{Query, State};
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;

use crate::render::{format_time, number, UiError};
use crate::runs::{given, metric_rows};
use crate::session::{SignedIn, Viewer};
use crate::UiState;

/// Runs the leaderboard-runs board shows per page.
const BOARD_RUNS_PER_PAGE: usize = 100;
/// Suites offered in the suite picker.
const SUITES_OFFERED: i64 = 100;

/// The page's query, as typed.
#[derive(Deserialize, Default)]
pub(crate) struct BoardsQuery {
    suite: Option<String>,
    version: Option<String>,
    metric: Option<String>,
    agent: Option<String>,
    model: Option<String>,
    per_group: Option<String>,
    cursor: Option<String>,
}

/// A whole number from a query field, named when it is not one.
fn whole(field: &str, v: &Option<String>) -> Result<Option<i64>, UiError> {
    given(v)
        .map(|s| {
            s.parse::<i64>()
                .map_err(|_| UiError::BadRequest(format!("{field}: {s:?} is not a whole number")))
        })
        .transpose()
}

pub(crate) async fn leaderboards_page(
    State(state): State<UiState>,
    SignedIn(viewer): SignedIn,
    Query(q): Query<BoardsQuery>,
) -> Response {
    let html = boards_html(&state, &viewer, &q).await;
    state.respond(&viewer, html)
}

async fn boards_html(state: &UiState, viewer: &Viewer, q: &BoardsQuery) -> Result<String, UiError> {
    let who = &viewer.principal;
    let (suites, _) = state
        .store
        .list_suites(
            who,
            Reach::Shared,
            &PageRequest {
                after: None,
                limit: SUITES_OFFERED,
            },
        )
        .await?;
    let offered: Vec<_> = suites
        .iter()
        .map(|s| context! { id => &s.id, name => &s.name })
        .collect();
    let form = context! {
        suite => given(&q.suite), version => given(&q.version), metric => given(&q.metric),
        agent => given(&q.agent), model => given(&q.model), per_group => given(&q.per_group),
    };
    let Some(suite_id) = given(&q.suite) else {
        return state.render(
            "leaderboards.html",
            context! { suites => offered, q => form, viewer => viewer.view() },
        );
    };
    let version = whole("version", &q.version)?;
    // The API's own bounds and defaults, named by the page's fields.
    let agent_request = SuiteLeaderboardQuery {
        suite_version: version,
        metric: given(&q.metric),
        agent: given(&q.agent),
        model: given(&q.model),
        limit: None,
    }
    .validate()
    .map_err(|e| UiError::BadRequest(e.to_string().replace("suite_version", "version")))?;
    let runs_request = LeaderboardRunsQuery {
        suite_version: version,
        per_group: whole("per_group", &q.per_group)?,
        model: given(&q.model),
        cursor: given(&q.cursor),
    }
    .validate()
    .map_err(|e| UiError::BadRequest(e.to_string().replace("suite_version", "version")))?;
    let suite = state
        .store
        .find_suite(who, &suite_id, Reach::Shared)
        .await?;
    let board = agent_leaderboard(&state.store, who, &suite_id, &agent_request).await?;
    let feed = leaderboard_runs(
        &state.store,
        who,
        &suite_id,
        &runs_request,
        BOARD_RUNS_PER_PAGE,
    )
    .await?;

    let agents: Vec<_> = board
        .data
        .iter()
        .map(|r| {
            let ci = r.accuracy_ci.as_ref();
            context! {
                agent => &r.agent_name,
                version => &r.agent_version,
                effort => &r.agent_effort,
                model => &r.model,
                accuracy => number(r.accuracy),
                interval => ci.map(|c| format!("[{}, {}]", number(Some(c.low)), number(Some(c.high)))),
                // On the unit scale of the chart, as percentages.
                bar => r.accuracy.map(|a| (a * 100.0).clamp(0.0, 100.0)),
                lo => ci.map(|c| (c.low * 100.0).clamp(0.0, 100.0)),
                hi => ci.map(|c| (c.high * 100.0).clamp(0.0, 100.0)),
                trials => r.trials,
                scored => r.scored_trials,
                solved => r.solved_trials,
                failed => r.failed_trials,
                cost => r.cost_usd.map(|c| format!("{c:.4}")),
            }
        })
        .collect();

    let runs_by_id: HashMap<&str, &assay_domain::api::RunObject> =
        feed.data.iter().map(|r| (r.id.as_str(), r)).collect();
    let groups: Vec<_> = feed
        .groups
        .iter()
        .filter_map(|g| {
            let run = runs_by_id.get(g.run_id.as_str())?;
            let metrics: Vec<String> = metric_rows(run.metrics.as_ref())
                .into_iter()
                .filter(|m| m.model == g.model && g.task_id.as_ref().is_none_or(|t| *t == m.task))
                .map(|m| format!("{} {} {}", m.task, m.metric, m.mean))
                .collect();
            Some(context! {
                model => &g.model,
                task => &g.task_id,
                rank => g.rank,
                run_id => &g.run_id,
                version => run.suite_version,
                created => format_time(run.created_at),
                metrics => metrics,
            })
        })
        .collect();
    let next = feed.next_cursor.as_ref().map(|cursor| {
        crate::runs::query_string(&[
            ("suite", &Some(suite_id.clone())),
            ("version", &q.version),
            ("metric", &q.metric),
            ("agent", &q.agent),
            ("model", &q.model),
            ("per_group", &q.per_group),
            ("cursor", &Some(cursor.clone())),
        ])
    });
    state.render(
        "leaderboards.html",
        context! {
            suites => offered,
            q => form,
            suite => context! { id => &suite.id, name => &suite.name },
            metric => &board.metric,
            agents => agents,
            groups => groups,
            next => next,
            viewer => viewer.view(),
        },
    )
}
