//! The leaderboard-runs feed: each ranking group's newest completed runs of a suite, with the
//! group assignments, sliced by the server's ceiling on runs per response.

use std::collections::{HashMap, HashSet};

use assay_domain::api::{
    LeaderboardRunGroup, LeaderboardRunsObject, LeaderboardRunsRequest, RunStatus,
};
use assay_domain::Principal;
use assay_store::{Reach, RunRecord, Store, StoreError};

use super::cursor::{Cursor, Scope};
use super::ranking::{rank, slice};
use super::LeaderboardError;

/// The feed of a suite the caller can read (its own, or shared with its org): every completed,
/// undeleted run of the suite counts, whoever in the owning team started it, and run objects
/// are shown as the caller may see them. At most `ceiling` (at least 1) runs per response;
/// `request.cursor` continues a truncated feed.
pub async fn leaderboard_runs(
    store: &Store,
    caller: &Principal,
    suite_id: &str,
    request: &LeaderboardRunsRequest,
    ceiling: usize,
) -> Result<LeaderboardRunsObject, LeaderboardError> {
    let suite = store
        .find_suite(caller, suite_id, Reach::Shared)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => LeaderboardError::NoSuite(suite_id.to_string()),
            other => LeaderboardError::Store(other),
        })?;
    let scope = Scope {
        suite_id: suite.id.clone(),
        suite_version: request.suite_version,
        per_group: request.per_group,
        model: request.model.clone(),
    };
    let cursor = request
        .cursor
        .as_deref()
        .map(|text| Cursor::decode(text, &scope))
        .transpose()
        .map_err(LeaderboardError::InvalidCursor)?;
    let runs = store
        .completed_suite_runs(
            caller,
            &suite,
            request.suite_version,
            cursor.as_ref().map(|c| c.up_to),
        )
        .await?;
    let placements = rank(&runs, request.per_group, request.model.as_deref());
    let offset = cursor.as_ref().map_or(0, |c| c.offset);
    let page = slice(&runs, &placements, offset, ceiling);

    let ids: Vec<String> = page.runs.iter().map(|&i| runs[i].id.clone()).collect();
    let mut records: HashMap<String, RunRecord> = store
        .suite_runs_by_id(caller, &suite, &ids)
        .await?
        .into_iter()
        // A run deleted (or reopened) since the ranking read is left out, with its groups.
        .filter(|r| r.object.status == RunStatus::Completed)
        .map(|r| (r.object.id.clone(), r))
        .collect();
    let data: Vec<_> = ids
        .iter()
        .filter_map(|id| records.remove(id))
        .map(|r| r.object_for(caller))
        .collect();
    let present: HashSet<&str> = data.iter().map(|r| r.id.as_str()).collect();
    let groups = page
        .placements
        .iter()
        .filter(|p| present.contains(runs[p.run].id.as_str()))
        .map(|p| LeaderboardRunGroup {
            model: p.group.model.clone(),
            task_id: p.group.task_id.clone(),
            rank: i64::from(p.rank),
            run_id: runs[p.run].id.clone(),
        })
        .collect();

    let next_cursor = page.more.then(|| {
        let up_to = cursor
            .as_ref()
            .map(|c| c.up_to)
            .or_else(|| runs.iter().map(|r| r.seq).max())
            .unwrap_or(0);
        Cursor {
            scope,
            up_to,
            offset: offset + page.runs.len(),
        }
        .encode()
    });
    Ok(LeaderboardRunsObject {
        object: "eval.leaderboard_runs".into(),
        data,
        groups,
        truncated: page.more,
        next_cursor,
    })
}
