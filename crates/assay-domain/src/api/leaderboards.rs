//! The leaderboards of a suite: the leaderboard-runs feed (E11) and the coding-agent board
//! (E12).

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::runs::{RunObject, MAX_MODEL_ID_CHARS};
use super::suites::NAME_MAX_CHARS;
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

/// The `scores` key a coding-agent board averages when `metric` is not given.
pub const DEFAULT_BOARD_METRIC: &str = "reward";
/// Rows a coding-agent board returns when `limit` is not given.
pub const DEFAULT_BOARD_LIMIT: i64 = 100;
/// Largest accepted board `limit`.
pub const MAX_BOARD_LIMIT: i64 = 1000;

/// Query of `GET /evals/suites/{suite_id}/leaderboard`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SuiteLeaderboardQuery {
    /// Only runs of this suite version; pass it when the suite has several versions, or the
    /// board mixes task sets.
    #[param(minimum = 1)]
    pub suite_version: Option<i64>,
    /// The `scores` key to average, 1 to 255 characters (default `reward`).
    pub metric: Option<String>,
    /// Only the rows of this agent (`agent_name`).
    pub agent: Option<String>,
    /// Only the rows of this model.
    pub model: Option<String>,
    /// Most rows returned, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// A checked [`SuiteLeaderboardQuery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteLeaderboardRequest {
    pub suite_version: Option<i64>,
    pub metric: String,
    pub agent: Option<String>,
    pub model: Option<String>,
    /// 1 to [`MAX_BOARD_LIMIT`].
    pub limit: usize,
}

impl SuiteLeaderboardQuery {
    /// Checks the bounds of every parameter and fills in the defaults.
    pub fn validate(self) -> Result<SuiteLeaderboardRequest, ValidationError> {
        if let Some(v) = self.suite_version {
            if !(1..=MAX_SAFE_INT).contains(&v) {
                return Err(ValidationError::new(
                    "suite_version",
                    format!("must be between 1 and {MAX_SAFE_INT}"),
                ));
            }
        }
        let metric = self
            .metric
            .unwrap_or_else(|| DEFAULT_BOARD_METRIC.to_string());
        check_chars(&metric, "metric", NAME_MAX_CHARS)?;
        if let Some(agent) = &self.agent {
            check_chars(agent, "agent", NAME_MAX_CHARS)?;
        }
        if let Some(model) = &self.model {
            check_chars(model, "model", MAX_MODEL_ID_CHARS)?;
        }
        let limit = self.limit.unwrap_or(DEFAULT_BOARD_LIMIT);
        if !(1..=MAX_BOARD_LIMIT).contains(&limit) {
            return Err(ValidationError::new(
                "limit",
                format!("must be between 1 and {MAX_BOARD_LIMIT}"),
            ));
        }
        Ok(SuiteLeaderboardRequest {
            suite_version: self.suite_version,
            metric,
            agent: self.agent,
            model: self.model,
            // In 1..=MAX_BOARD_LIMIT, so it fits.
            limit: limit as usize,
        })
    }
}

/// Refuses an empty `value` or one longer than `max` characters.
fn check_chars(value: &str, path: &str, max: usize) -> Result<(), ValidationError> {
    if value.is_empty() || value.chars().count() > max {
        return Err(ValidationError::new(
            path,
            format!("must have 1 to {max} characters"),
        ));
    }
    Ok(())
}

/// A 95% Wald interval around a row's accuracy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AccuracyInterval {
    /// `accuracy − margin`, at least 0.
    pub low: f64,
    /// `accuracy + margin`, at most 1.
    pub high: f64,
    /// `1.96·√(p(1−p)/n)` before clamping.
    pub margin: f64,
}

/// One (agent, model, effort) of a coding-agent board, over its completed runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LeaderboardRow {
    pub agent_name: String,
    /// As reported by the row's newest run; not part of the row's identity.
    pub agent_version: Option<String>,
    pub agent_effort: Option<String>,
    pub model: String,
    /// Mean of the metric over `scored_trials`; `null` when no trial carried a numeric value.
    pub accuracy: Option<f64>,
    /// 95% Wald interval, meaningful for 0/1 metrics; `null` when `accuracy` is.
    pub accuracy_ci: Option<AccuracyInterval>,
    /// Every trial of the row's runs, whatever its status.
    pub trials: i64,
    /// Trials with a numeric value of the metric (the `n` of `accuracy`).
    pub scored_trials: i64,
    /// Trials in status `failed` (no score); agent timeouts are not failures.
    pub failed_trials: i64,
    /// Summed spend: each run's trial costs, or its reported total when no trial had one;
    /// `null` when neither was reported.
    pub cost_usd: Option<f64>,
    /// Trials whose metric reached 1 (full credit): value ≥ 1.
    pub solved_trials: i64,
    /// Summed, cached included; `null` when no run reported the figure.
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cached_tokens: Option<i64>,
    /// Agent steps summed over uploaded trajectories; `null` when none was uploaded.
    pub steps: Option<i64>,
    /// Wall seconds of the `agent_execution` phase summed over `timed_trials`; `null` if none.
    pub agent_seconds: Option<f64>,
    pub timed_trials: i64,
    pub run_count: i64,
    /// Most trials first, ties newest first: element 0 is the run to drill into.
    pub run_ids: Vec<String>,
    /// Creation time of the row's newest run (unix seconds).
    pub last_run_at: i64,
}

/// A suite's coding-agent board (`object: "eval.leaderboard"`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SuiteLeaderboardObject {
    pub object: String,
    pub suite_id: String,
    /// The version the board was restricted to; `null` = every version.
    pub suite_version: Option<i64>,
    /// The `scores` key averaged.
    pub metric: String,
    /// By `accuracy` descending (`null` last), then agent, model and effort.
    pub data: Vec<LeaderboardRow>,
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

    #[test]
    fn board_defaults_and_bounds() {
        let req = SuiteLeaderboardQuery::default().validate().unwrap();
        assert_eq!(req.metric, "reward");
        assert_eq!(req.limit, 100);
        let ok = SuiteLeaderboardQuery {
            limit: Some(1000),
            metric: Some("m".repeat(255)),
            ..Default::default()
        };
        assert_eq!(ok.validate().unwrap().limit, 1000);
        let cases = [
            (
                SuiteLeaderboardQuery {
                    limit: Some(0),
                    ..Default::default()
                },
                "limit",
            ),
            (
                SuiteLeaderboardQuery {
                    limit: Some(1001),
                    ..Default::default()
                },
                "limit",
            ),
            (
                SuiteLeaderboardQuery {
                    suite_version: Some(0),
                    ..Default::default()
                },
                "suite_version",
            ),
            (
                SuiteLeaderboardQuery {
                    metric: Some(String::new()),
                    ..Default::default()
                },
                "metric",
            ),
            (
                SuiteLeaderboardQuery {
                    metric: Some("m".repeat(256)),
                    ..Default::default()
                },
                "metric",
            ),
            (
                SuiteLeaderboardQuery {
                    agent: Some(String::new()),
                    ..Default::default()
                },
                "agent",
            ),
            (
                SuiteLeaderboardQuery {
                    model: Some(String::new()),
                    ..Default::default()
                },
                "model",
            ),
        ];
        for (q, path) in cases {
            assert_eq!(q.validate().unwrap_err().path, path);
        }
    }
}
