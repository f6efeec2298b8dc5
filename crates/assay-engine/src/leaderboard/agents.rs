//! The coding-agent board of a suite (`GET /suites/{id}/leaderboard`): its completed agent
//! runs, one row per (agent, model, effort), computed per request from the summaries the
//! import keeps on each run — one indexed read, no trial rows — so a rerun trial moves it as
//! soon as its run is finalized again.

use assay_domain::api::{SuiteLeaderboardObject, SuiteLeaderboardRequest};
use assay_domain::Principal;
use assay_store::{AgentBoardFilter, Reach, Store, StoreError};

use super::standings::standings;
use super::LeaderboardError;

/// The board of a suite the caller can read (its own, or shared with its org): every
/// completed, undeleted run with an `agent_name` that `GET /runs` would show the caller, within
/// `request`'s version, agent and model, ranked on `request.metric`.
pub async fn agent_leaderboard(
    store: &Store,
    caller: &Principal,
    suite_id: &str,
    request: &SuiteLeaderboardRequest,
) -> Result<SuiteLeaderboardObject, LeaderboardError> {
    let suite = store
        .find_suite(caller, suite_id, Reach::Shared)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => LeaderboardError::NoSuite(suite_id.to_string()),
            other => LeaderboardError::Store(other),
        })?;
    let filter = AgentBoardFilter {
        suite_version: request.suite_version,
        metric: request.metric.clone(),
        agent: request.agent.clone(),
        model: request.model.clone(),
    };
    let runs = store.agent_board_runs(caller, &suite, &filter).await?;
    Ok(SuiteLeaderboardObject {
        object: "eval.leaderboard".into(),
        suite_id: suite.id,
        suite_version: request.suite_version,
        metric: request.metric.clone(),
        data: standings(runs, request.limit),
    })
}
