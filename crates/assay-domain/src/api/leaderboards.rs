//! The leaderboard feeds of a suite.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::runs::{RunObject, MAX_MODEL_ID_CHARS};
use crate::error::ValidationError;
use crate::MAX_SAFE_INT;

/// Newest completed runs kept per ranking group when `per_group` is not given.
pub const DEFAULT_PER_GROUP: i64 = 5;
/// Largest accepted `per_group`.
pub const MAX_PER_GROUP: i64 = 100;

/// Query of `GET /evals/suites/{suite_id}/leaderboard-runs`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LeaderboardRunsQuery {
    /// Only runs of this suite version.
    #[param(minimum = 1)]
    pub suite_version: Option<i64>,
    /// Newest completed runs kept per ranking group, 1 to 100 (default 5).
    #[param(minimum = 1, maximum = 100)]
    pub per_group: Option<i64>,
    /// Only the groups of this model.
    pub model: Option<String>,
    /// `next_cursor` of a previous response: the next slice of a truncated feed.
    pub cursor: Option<String>,
}

/// A checked [`LeaderboardRunsQuery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderboardRunsRequest {
    pub suite_version: Option<i64>,
    /// 1 to [`MAX_PER_GROUP`].
    pub per_group: usize,
    pub model: Option<String>,
    /// Not yet decoded: the cursor's format belongs to the engine.
    pub cursor: Option<String>,
}

impl LeaderboardRunsQuery {
    /// Checks the bounds of every parameter; an empty `cursor` counts as none.
    pub fn validate(self) -> Result<LeaderboardRunsRequest, ValidationError> {
        if let Some(v) = self.suite_version {
            if !(1..=MAX_SAFE_INT).contains(&v) {
                return Err(ValidationError::new(
                    "suite_version",
                    format!("must be between 1 and {MAX_SAFE_INT}"),
                ));
            }
        }
        let per_group = self.per_group.unwrap_or(DEFAULT_PER_GROUP);
        if !(1..=MAX_PER_GROUP).contains(&per_group) {
            return Err(ValidationError::new(
                "per_group",
                format!("must be between 1 and {MAX_PER_GROUP}"),
            ));
        }
        if let Some(model) = &self.model {
            if model.is_empty() || model.chars().count() > MAX_MODEL_ID_CHARS {
                return Err(ValidationError::new(
                    "model",
                    format!("must have 1 to {MAX_MODEL_ID_CHARS} characters"),
                ));
            }
        }
        Ok(LeaderboardRunsRequest {
            suite_version: self.suite_version,
            // In 1..=MAX_PER_GROUP, so it fits.
            per_group: per_group as usize,
            model: self.model,
            cursor: self.cursor.filter(|c| !c.is_empty()),
        })
    }
}

/// One run's place in one ranking group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LeaderboardRunGroup {
    pub model: String,
    /// The task a `task_ids`-restricted run targeted; `null` for the model's group of runs over
    /// every task.
    pub task_id: Option<String>,
    /// 1 = the group's newest completed run. Not a slot index: a truncated response lists only
    /// the ranks of the runs it carries.
    pub rank: i64,
    /// The run, in `data`.
    pub run_id: String,
}

/// Each ranking group's newest completed runs of a suite (`object: "eval.leaderboard_runs"`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LeaderboardRunsObject {
    pub object: String,
    /// The runs behind `groups`, each once, newest first.
    pub data: Vec<RunObject>,
    /// Ordered by model, then task (`null` first, then ascending), then rank.
    pub groups: Vec<LeaderboardRunGroup>,
    /// Whether the server's ceiling on runs per response left runs for later pages.
    pub truncated: bool,
    /// Pass back as `cursor` for the next page while `truncated` is true; `null` on the last.
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(per_group: Option<i64>, suite_version: Option<i64>) -> LeaderboardRunsQuery {
        LeaderboardRunsQuery {
            per_group,
            suite_version,
            ..Default::default()
        }
    }

    #[test]
    fn defaults_and_bounds() {
        let req = LeaderboardRunsQuery::default().validate().unwrap();
        assert_eq!(req.per_group, 5);
        assert_eq!(query(Some(100), Some(1)).validate().unwrap().per_group, 100);
        for (q, path) in [
            (query(Some(0), None), "per_group"),
            (query(Some(101), None), "per_group"),
            (query(Some(-1), None), "per_group"),
            (query(None, Some(0)), "suite_version"),
        ] {
            assert_eq!(q.validate().unwrap_err().path, path);
        }
        let empty_model = LeaderboardRunsQuery {
            model: Some(String::new()),
            ..Default::default()
        };
        assert_eq!(empty_model.validate().unwrap_err().path, "model");
    }

    #[test]
    fn an_empty_cursor_is_none() {
        let req = LeaderboardRunsQuery {
            cursor: Some(String::new()),
            ..Default::default()
        }
        .validate()
        .unwrap();
        assert_eq!(req.cursor, None);
    }
}
