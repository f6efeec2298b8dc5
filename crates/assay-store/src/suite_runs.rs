//! A suite's runs read as a whole, for read models such as leaderboards.
//!
//! The caller first finds the suite within its reach (`find_suite`); the runs are then those of
//! the suite that `GET /runs` would show the caller (`Reach::Shared`): every member's runs for
//! the owning team and for an org the suite is shared with, the team's and its own for a
//! delegated caller.
//!
//! - [`Store::completed_suite_runs`]: what the leaderboard-runs feed ranks;
//! - [`Store::agent_board_runs`]: the figures of each completed coding-agent run, which the
//!   agent leaderboard groups into rows.

use assay_domain::api::SuiteObject;
use assay_domain::Principal;
use sqlx::Row;

use crate::runs::{read_run, RUN_COLUMNS};
use crate::sql::{bind_visible, json_col, opt_json_col, push_reach, to_json, Reach, Sql};
use crate::{RunRecord, Store, StoreError};

/// Most ids one `IN (…)` list binds.
const IDS_PER_QUERY: usize = 200;

/// What ranking needs to know of a completed run: its creation order and what it covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEntrant {
    /// The runs table's monotonic sequence: a larger `seq` was created later.
    pub seq: i64,
    pub id: String,
    pub models: Vec<String>,
    /// `None` = every task of the run's suite version.
    pub task_ids: Option<Vec<String>>,
}

/// Which coding-agent runs of a suite a board counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentBoardFilter {
    /// Only runs of this suite version.
    pub suite_version: Option<i64>,
    /// The `scores` key whose summary each run carries.
    pub metric: String,
    /// Only runs of this agent.
    pub agent: Option<String>,
    /// Only runs of this model.
    pub model: Option<String>,
}

/// One completed coding-agent run as a board counts it: its identity and the summaries of its
/// trials that the import kept on the run (and, for the board's metric, in `run_score_stats`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentRunFigures {
    /// The runs table's monotonic sequence: a larger `seq` was created later.
    pub seq: i64,
    pub id: String,
    pub agent_name: String,
    pub agent_version: Option<String>,
    pub agent_effort: Option<String>,
    /// The run's model (an agent run names exactly one).
    pub model: String,
    /// Unix seconds; an import may date a run in the past.
    pub created_at: i64,
    /// Every trial of the run (each one is completed or failed).
    pub trials: i64,
    /// Trials in status `failed`.
    pub failed: i64,
    /// Trials with a numeric value of the metric, their sum, and how many reached 1.
    pub scored: i64,
    pub score_sum: f64,
    pub solved: i64,
    /// The trials' summed spend, else the run's reported total; `None` when neither exists.
    pub cost_usd: Option<f64>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cached_tokens: Option<i64>,
    /// Steps summed over the run's uploaded trajectories; `None` when none was uploaded.
    pub steps: Option<i64>,
    /// Summed `agent_execution` seconds of the `timed_trials` trials that recorded the phase.
    pub agent_seconds: Option<f64>,
    pub timed_trials: i64,
}

impl Store {
    /// The completed, undeleted runs of `suite` (found within the caller's reach), newest
    /// first; only those of `suite_version` when given, and only those with `seq <= up_to` when
    /// given. Reads a few columns per run (the `runs_suite` index finds them).
    pub async fn completed_suite_runs(
        &self,
        caller: &Principal,
        suite: &SuiteObject,
        suite_version: Option<i64>,
        up_to: Option<i64>,
    ) -> Result<Vec<RunEntrant>, StoreError> {
        let mut sql = Sql::new(
            "SELECT runs.seq, runs.id, runs.models, runs.task_ids FROM runs WHERE runs.suite_id = ",
        );
        sql.param();
        sql.push(" AND ");
        push_reach(&mut sql, "runs", Reach::Shared);
        sql.push(" AND runs.status = 'completed' AND runs.deleted_at IS NULL");
        if suite_version.is_some() {
            sql.push(" AND runs.suite_version = ");
            sql.param();
        }
        if up_to.is_some() {
            sql.push(" AND runs.seq <= ");
            sql.param();
        }
        sql.push(" ORDER BY runs.seq DESC");
        let mut query = bind_visible(sqlx::query(&sql.text).bind(&suite.id), caller);
        if let Some(v) = suite_version {
            query = query.bind(v);
        }
        if let Some(seq) = up_to {
            query = query.bind(seq);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                Ok(RunEntrant {
                    seq: row.try_get("seq")?,
                    id: row.try_get("id")?,
                    models: json_col(row, "models")?,
                    task_ids: opt_json_col(row, "task_ids")?,
                })
            })
            .collect()
    }

    /// The live runs of `suite` among `ids`, in no particular order; ids of runs that are
    /// unknown, deleted or of another suite are left out.
    pub async fn suite_runs_by_id(
        &self,
        caller: &Principal,
        suite: &SuiteObject,
        ids: &[String],
    ) -> Result<Vec<RunRecord>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let mut sql = Sql::new(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE runs.suite_id = "
            ));
            sql.param();
            sql.push(" AND ");
            push_reach(&mut sql, "runs", Reach::Shared);
            sql.push(" AND runs.deleted_at IS NULL AND runs.id IN (");
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.param();
            }
            sql.push(")");
            let mut query = bind_visible(sqlx::query(&sql.text).bind(&suite.id), caller);
            for id in chunk {
                query = query.bind(id);
            }
            for row in query.fetch_all(&self.pool).await? {
                out.push(read_run(&row)?);
            }
        }
        Ok(out)
    }

    /// The completed, undeleted coding-agent runs (`agent_name` set) of `suite` (found within
    /// the caller's reach) that pass `filter`, in no particular order, each with its summary for
    /// `filter.metric`. One read of the runs (the `runs_agent` index finds them) joined to their
    /// `run_score_stats` row for the metric; no trial row is read.
    pub async fn agent_board_runs(
        &self,
        caller: &Principal,
        suite: &SuiteObject,
        filter: &AgentBoardFilter,
    ) -> Result<Vec<AgentRunFigures>, StoreError> {
        let mut sql = Sql::new(
            "SELECT runs.seq, runs.id, runs.agent_name, runs.agent_version, runs.agent_effort, \
             runs.models, runs.created_at, runs.completed, runs.failed, \
             COALESCE(runs.trial_cost_usd, runs.cost_usd) AS spend, runs.tokens_input, \
             runs.tokens_output, runs.tokens_cached, runs.trajectory_steps, runs.agent_seconds, \
             runs.timed_trials, run_score_stats.scored, run_score_stats.total AS score_sum, \
             run_score_stats.solved \
             FROM runs LEFT JOIN run_score_stats ON run_score_stats.run_id = runs.id \
             AND run_score_stats.metric = ",
        );
        sql.param();
        sql.push(" WHERE runs.suite_id = ");
        sql.param();
        sql.push(" AND ");
        push_reach(&mut sql, "runs", Reach::Shared);
        sql.push(
            " AND runs.agent_name IS NOT NULL AND runs.status = 'completed' \
             AND runs.deleted_at IS NULL",
        );
        if filter.suite_version.is_some() {
            sql.push(" AND runs.suite_version = ");
            sql.param();
        }
        if filter.agent.is_some() {
            sql.push(" AND runs.agent_name = ");
            sql.param();
        }
        // `models` is stored as the JSON list `to_json` writes, and an agent run has one model.
        let models = filter.model.as_ref().map(|m| to_json(&[m]));
        if models.is_some() {
            sql.push(" AND runs.models = ");
            sql.param();
        }
        let query = sqlx::query(&sql.text).bind(&filter.metric).bind(&suite.id);
        let mut query = bind_visible(query, caller);
        if let Some(v) = filter.suite_version {
            query = query.bind(v);
        }
        if let Some(agent) = &filter.agent {
            query = query.bind(agent);
        }
        if let Some(models) = &models {
            query = query.bind(models);
        }
        let rows = query.fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let models: Vec<String> = json_col(row, "models")?;
            let Some(model) = models.into_iter().next() else {
                // A run without a model has no row to count in.
                continue;
            };
            let completed: i64 = row.try_get("completed")?;
            let failed: i64 = row.try_get("failed")?;
            out.push(AgentRunFigures {
                seq: row.try_get("seq")?,
                id: row.try_get("id")?,
                agent_name: row.try_get("agent_name")?,
                agent_version: row.try_get("agent_version")?,
                agent_effort: row.try_get("agent_effort")?,
                model,
                created_at: row.try_get("created_at")?,
                trials: completed.saturating_add(failed),
                failed,
                scored: row.try_get::<Option<i64>, _>("scored")?.unwrap_or(0),
                score_sum: row.try_get::<Option<f64>, _>("score_sum")?.unwrap_or(0.0),
                solved: row.try_get::<Option<i64>, _>("solved")?.unwrap_or(0),
                cost_usd: row.try_get("spend")?,
                input_tokens: row.try_get("tokens_input")?,
                output_tokens: row.try_get("tokens_output")?,
                cached_tokens: row.try_get("tokens_cached")?,
                steps: row.try_get("trajectory_steps")?,
                agent_seconds: row.try_get("agent_seconds")?,
                timed_trials: row.try_get("timed_trials")?,
            });
        }
        Ok(out)
    }
}
