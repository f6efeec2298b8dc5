//! A suite's runs read as a whole, for read models such as leaderboards.
//!
//! The caller first finds the suite within its reach (`find_suite`); the runs are then those of
//! the suite that `GET /runs` would show the caller (`Reach::Shared`): every member's runs for
//! the owning team and for an org the suite is shared with, the team's and its own for a
//! delegated caller.

use assay_domain::api::SuiteObject;
use assay_domain::Principal;
use sqlx::Row;

use crate::runs::{read_run, RUN_COLUMNS};
use crate::sql::{bind_visible, json_col, opt_json_col, push_reach, Reach, Sql};
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
}
