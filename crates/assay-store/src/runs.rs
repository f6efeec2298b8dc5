//! Runs: creation, reads, leases for executors, status transitions and finalization.

use assay_domain::api::{
    Metadata, PageRequest, RequestCounts, RunObject, RunSettings, RunStatus, RunTokens,
};
use assay_domain::generation::GenerationConfig;
use assay_domain::{ids, now_unix, Principal};
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::sql::{
    bind_visible, cursor_seq, fetch_reachable, into_page, json_array_has, json_col, opt_json_col,
    push_reach, push_visible, to_json, Reach, Sql,
};
use crate::{Store, StoreError};

/// `runs.planned`: planning has not finished, and `total` counts the samples inserted so far.
pub(crate) const PLANNING: i64 = 0;
/// `runs.planned`: every sample is persisted and `total` is their number.
pub(crate) const PLANNED: i64 = 1;
/// `runs.planned`: planning has not finished, but `total` is already the number of samples
/// it will have persisted ([`Store::set_expected_total`]).
pub(crate) const COUNTED: i64 = 2;

/// A run about to be created.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub suite_id: String,
    pub suite_version: i64,
    pub suite_version_id: String,
    pub models: Vec<String>,
    pub task_ids: Option<Vec<String>>,
    pub judge_model: Option<String>,
    pub embedding_model: Option<String>,
    /// Already normalized.
    pub generation: GenerationConfig,
    pub settings: RunSettings,
    pub metadata: Metadata,
}

/// Everything an executor needs about a run.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub object: RunObject,
    pub settings: RunSettings,
    /// The owner, for files the run writes (artifacts).
    pub owner: Principal,
    /// Whether its samples have been persisted.
    pub planned: bool,
    pub result_file_id: Option<String>,
    pub samples_file_id: Option<String>,
    /// Samples re-queued by rerun-failed, summed over the run's reruns.
    pub retried: i64,
    /// Written by an import (trials sent by a harness), never executed.
    pub imported: bool,
    /// How many times the run's results were reopened by rerun-failed: artifacts of each
    /// round get their own file ids.
    pub artifact_round: i64,
}

/// Filters of `GET /runs`.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub suite_id: Option<String>,
    pub suite_version: Option<i64>,
    pub status: Option<RunStatus>,
    /// Only the runs this schedule fired.
    pub schedule_id: Option<String>,
    /// Only the runs that evaluate this model (one of `models`).
    pub model: Option<String>,
    /// Only the imported runs of this agent.
    pub agent_name: Option<String>,
}

/// What finalization records on a completed run.
#[derive(Debug, Clone)]
pub struct RunResults {
    pub metrics: Value,
    pub tokens: RunTokens,
    pub result_file_id: String,
    pub samples_file_id: String,
}

pub(crate) const RUN_COLUMNS: &str = "runs.id, runs.org_id, runs.team_id, runs.user_id, runs.suite_id, \
     runs.suite_version, runs.suite_version_id, runs.status, runs.models, runs.task_ids, runs.judge_model, \
     runs.embedding_model, runs.generation, runs.settings, runs.metadata, runs.total, runs.completed, \
     runs.failed, runs.metrics, runs.error, runs.artifact_file_ids, runs.result_file_id, runs.samples_file_id, \
     runs.agent_name, runs.agent_version, runs.agent_effort, runs.cost_usd, runs.tokens_input, \
     runs.tokens_output, runs.tokens_cached, runs.tokens_reasoning, runs.planned, runs.created_at, \
     runs.started_at, runs.completed_at, runs.cancelled_at, runs.failed_at, runs.retried, runs.artifact_round, runs.source";

pub(crate) fn read_run(row: &AnyRow) -> Result<RunRecord, StoreError> {
    let status: String = row.try_get("status")?;
    let status = RunStatus::parse(&status)
        .ok_or_else(|| StoreError::Corrupt(format!("run status {status:?}")))?;
    let task_ids = opt_json_col(row, "task_ids")?;
    let object = RunObject {
        id: row.try_get("id")?,
        object: "eval.run".into(),
        suite_id: row.try_get("suite_id")?,
        suite_version: row.try_get("suite_version")?,
        suite_version_id: row.try_get("suite_version_id")?,
        org_id: row.try_get("org_id")?,
        team_id: row.try_get("team_id")?,
        status,
        models: json_col(row, "models")?,
        task_ids,
        judge_model: row.try_get("judge_model")?,
        embedding_model: row.try_get("embedding_model")?,
        generation: json_col(row, "generation")?,
        request_counts: RequestCounts {
            total: row.try_get("total")?,
            completed: row.try_get("completed")?,
            failed: row.try_get("failed")?,
        },
        metrics: opt_json_col(row, "metrics")?,
        error: opt_json_col(row, "error")?,
        artifact_file_ids: json_col(row, "artifact_file_ids")?,
        metadata: json_col(row, "metadata")?,
        agent_name: row.try_get("agent_name")?,
        agent_version: row.try_get("agent_version")?,
        agent_effort: row.try_get("agent_effort")?,
        cost_usd: row.try_get("cost_usd")?,
        tokens: RunTokens {
            input: row.try_get("tokens_input")?,
            output: row.try_get("tokens_output")?,
            cached: row.try_get("tokens_cached")?,
            reasoning: row.try_get("tokens_reasoning")?,
        },
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        completed_at: row.try_get("completed_at")?,
        cancelled_at: row.try_get("cancelled_at")?,
        failed_at: row.try_get("failed_at")?,
    };
    Ok(RunRecord {
        owner: Principal {
            key_id: String::new(),
            org_id: object.org_id.clone(),
            team_id: object.team_id.clone(),
            user_id: row.try_get("user_id")?,
            is_admin: false,
        },
        settings: json_col(row, "settings")?,
        planned: row.try_get::<i64, _>("planned")? == PLANNED,
        result_file_id: row.try_get("result_file_id")?,
        samples_file_id: row.try_get("samples_file_id")?,
        retried: row.try_get("retried")?,
        imported: row.try_get::<String, _>("source")? == "imported",
        artifact_round: row.try_get("artifact_round")?,
        object,
    })
}

impl RunRecord {
    /// Whether `caller` owns the run (rather than reaching it through a suite share).
    pub fn owned_by(&self, caller: &Principal) -> bool {
        caller.owns(
            &self.owner.org_id,
            &self.owner.team_id,
            self.owner.user_id.as_deref(),
        )
    }

    /// The run as `caller` sees it: artifacts stay with the owner, so a reader through a share
    /// sees no artifact files.
    pub fn object_for(self, caller: &Principal) -> RunObject {
        let owned = self.owned_by(caller);
        let mut object = self.object;
        if !owned {
            object.artifact_file_ids.clear();
        }
        object
    }
}

impl Store {
    /// Creates a queued run owned by the caller.
    pub async fn create_run(
        &self,
        owner: &Principal,
        run: &NewRun,
    ) -> Result<RunRecord, StoreError> {
        let id = insert_run(&self.pool, owner, run, None).await?;
        self.run_record(&id).await
    }
    /// A live run the caller owns (what every write to a run starts from: a run reached only
    /// through a suite share is missing here).
    pub async fn get_run(&self, caller: &Principal, id: &str) -> Result<RunRecord, StoreError> {
        self.find_run(caller, id, Reach::Owned).await
    }

    /// A live run within the caller's reach.
    pub async fn find_run(
        &self,
        caller: &Principal,
        id: &str,
        reach: Reach,
    ) -> Result<RunRecord, StoreError> {
        read_run(&fetch_reachable(&self.pool, "runs", RUN_COLUMNS, caller, id, reach).await?)
    }

    /// The live runs among `ids` within the caller's reach, in one read; ids of runs that are
    /// gone or out of reach are left out. In no particular order.
    pub async fn find_runs(
        &self,
        caller: &Principal,
        ids: &[String],
        reach: Reach,
    ) -> Result<Vec<RunRecord>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = Sql::new(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE runs.id IN ("
        ));
        for i in 0..ids.len() {
            if i > 0 {
                sql.push(", ");
            }
            sql.param();
        }
        sql.push(") AND runs.deleted_at IS NULL AND ");
        push_reach(&mut sql, "runs", reach);
        let mut query = sqlx::query(&sql.text);
        for id in ids {
            query = query.bind(id);
        }
        let rows = bind_visible(query, caller).fetch_all(&self.pool).await?;
        rows.iter().map(read_run).collect()
    }

    /// A run by id, for executors (no tenancy check; deleted runs included).
    pub async fn run_record(&self, id: &str) -> Result<RunRecord, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE runs.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        read_run(&row)
    }

    /// A page of the runs within the caller's reach, newest first, as the caller sees them.
    pub async fn list_runs(
        &self,
        caller: &Principal,
        reach: Reach,
        filter: &RunFilter,
        page: &PageRequest,
    ) -> Result<(Vec<RunObject>, bool), StoreError> {
        let (records, more) = self.list_run_records(caller, reach, filter, page).await?;
        let objects = records.into_iter().map(|r| r.object_for(caller)).collect();
        Ok((objects, more))
    }

    /// [`Store::list_runs`] with each run's whole record (owner, whether it was imported).
    pub async fn list_run_records(
        &self,
        caller: &Principal,
        reach: Reach,
        filter: &RunFilter,
        page: &PageRequest,
    ) -> Result<(Vec<RunRecord>, bool), StoreError> {
        let cursor = cursor_seq(&self.pool, "runs", caller, page.after.as_ref(), reach).await?;
        let mut sql = Sql::new(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE runs.deleted_at IS NULL AND "
        ));
        push_reach(&mut sql, "runs", reach);
        if filter.suite_id.is_some() {
            sql.push(" AND runs.suite_id = ");
            sql.param();
        }
        if filter.suite_version.is_some() {
            sql.push(" AND runs.suite_version = ");
            sql.param();
        }
        if filter.status.is_some() {
            sql.push(" AND runs.status = ");
            sql.param();
        }
        if filter.schedule_id.is_some() {
            sql.push(" AND runs.schedule_id = ");
            sql.param();
        }
        if filter.model.is_some() {
            let model = sql.reserve();
            sql.push(&format!(
                " AND {}",
                json_array_has(self.backend(), "runs.models", &model)
            ));
        }
        if filter.agent_name.is_some() {
            sql.push(" AND runs.agent_name = ");
            sql.param();
        }
        if cursor.is_some() {
            sql.push(" AND runs.seq < ");
            sql.param();
        }
        sql.push(" ORDER BY runs.seq DESC LIMIT ");
        sql.param();
        let mut query = bind_visible(sqlx::query(&sql.text), caller);
        if let Some(s) = &filter.suite_id {
            query = query.bind(s);
        }
        if let Some(v) = filter.suite_version {
            query = query.bind(v);
        }
        if let Some(s) = filter.status {
            query = query.bind(s.as_str());
        }
        if let Some(s) = &filter.schedule_id {
            query = query.bind(s);
        }
        if let Some(m) = &filter.model {
            query = query.bind(m);
        }
        if let Some(a) = &filter.agent_name {
            query = query.bind(a);
        }
        if let Some(seq) = cursor {
            query = query.bind(seq);
        }
        let rows = query.bind(page.limit + 1).fetch_all(&self.pool).await?;
        into_page(rows, page.limit, read_run)
    }

    /// Soft-deletes a run the caller may see.
    pub async fn delete_run(&self, caller: &Principal, id: &str) -> Result<(), StoreError> {
        let mut sql = Sql::new("UPDATE runs SET deleted_at = ");
        sql.param();
        sql.push(" WHERE runs.id = ");
        sql.param();
        sql.push(" AND runs.deleted_at IS NULL AND ");
        push_visible(&mut sql, "runs");
        let done = bind_visible(sqlx::query(&sql.text).bind(now_unix()).bind(id), caller)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Asks a queued or running run to stop: it becomes `cancelling` (an executor finishes
    /// the job), or `cancelled` at once when it never started. Returns the new status.
    pub async fn request_cancel(
        &self,
        caller: &Principal,
        id: &str,
    ) -> Result<RunStatus, StoreError> {
        let run = self.get_run(caller, id).await?;
        let status = run.object.status;
        if !status.is_cancellable() {
            if status == RunStatus::Cancelling {
                return Ok(status);
            }
            return Err(StoreError::Conflict(format!(
                "a {} run cannot be cancelled",
                status.as_str()
            )));
        }
        // An imported run has no executor to wind down: it is cancelled at once.
        let changed = sqlx::query(
            "UPDATE runs SET status = CASE WHEN source = 'imported' THEN 'cancelled' ELSE 'cancelling' END, \
             cancelled_at = CASE WHEN source = 'imported' THEN $1 ELSE cancelled_at END, updated_at = $1 \
             WHERE id = $2 AND status IN ('queued', 'in_progress', 'finalizing') RETURNING status",
        )
        .bind(now_unix())
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let status = match changed {
            Some(row) => row.try_get::<String, _>("status")?,
            // It moved on meanwhile; report what it is now.
            None => return Ok(self.run_record(id).await?.object.status),
        };
        RunStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("run status {status:?}")))
    }

    /// Re-queues a failed or cancelled run the caller owns, in place: its run-level error and
    /// end time are cleared and the executor resumes it from its samples' durable states
    /// (finished samples keep their results). Of two concurrent calls exactly one re-queues;
    /// the other, like a call in any other state, is a `Conflict`.
    pub async fn requeue_for_retry(
        &self,
        caller: &Principal,
        id: &str,
    ) -> Result<RunRecord, StoreError> {
        self.get_run(caller, id).await?;
        let done = sqlx::query(
            "UPDATE runs SET status = 'queued', error = NULL, failed_at = NULL, cancelled_at = NULL, \
             lease_owner = NULL, lease_expires_at = NULL, updated_at = $1 \
             WHERE id = $2 AND status IN ('failed', 'cancelled') AND source = 'executed' \
             AND deleted_at IS NULL",
        )
        .bind(now_unix())
        .bind(id)
        .execute(&self.pool)
        .await?;
        let run = self.run_record(id).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(if run.imported {
                format!("run {id} was imported, not executed: append its trials again instead")
            } else {
                format!(
                    "run {id} is {}; only a failed or cancelled run can be retried",
                    run.object.status.as_str()
                )
            }));
        }
        Ok(run)
    }

    /// Re-queues the `failed` samples of a completed run the caller owns, in place (same
    /// sample ids, their previous outcome erased), and reopens the run: its metrics, token
    /// totals and artifacts are computed again when it finishes; the old artifact files are
    /// deleted. `retried` grows by the number of samples re-queued. A run in another state,
    /// or without failed samples, is a `Conflict` (so of two concurrent calls one re-queues).
    pub async fn requeue_failed_samples(
        &self,
        caller: &Principal,
        id: &str,
    ) -> Result<RunRecord, StoreError> {
        let run = self.get_run(caller, id).await?;
        if run.imported {
            return Err(StoreError::Conflict(format!(
                "run {id} was imported, not executed: append its failed trials again instead"
            )));
        }
        let now = now_unix();
        self.in_transaction(async |conn| {
            // The guarded status change goes first: it takes the write lock, so a second
            // caller finds the run no longer completed.
            let reopened = sqlx::query(
                "UPDATE runs SET status = 'queued', metrics = NULL, tokens_input = NULL, \
                 tokens_output = NULL, tokens_cached = NULL, tokens_reasoning = NULL, \
                 result_file_id = NULL, samples_file_id = NULL, artifact_file_ids = '[]', \
                 artifact_round = artifact_round + 1, completed_at = NULL, lease_owner = NULL, \
                 lease_expires_at = NULL, updated_at = $1 \
                 WHERE id = $2 AND status = 'completed' AND deleted_at IS NULL",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *conn)
            .await?;
            if reopened.rows_affected() == 0 {
                let row = sqlx::query("SELECT status FROM runs WHERE id = $1")
                    .bind(id)
                    .fetch_one(&mut *conn)
                    .await?;
                let status: String = row.try_get("status")?;
                return Err(StoreError::Conflict(format!(
                    "run {id} is {status}; only a completed run can rerun its failed samples"
                )));
            }
            let requeued = sqlx::query(
                "UPDATE samples SET status = 'queued', output_text = NULL, reasoning = NULL, \
                 response_id = NULL, extracted_output = NULL, scores = '{}', judge = NULL, \
                 error = NULL, cost_usd = NULL, input_tokens = NULL, output_tokens = NULL, \
                 cached_tokens = NULL, reasoning_tokens = NULL, tokens_estimated = 0, \
                 phase_timings = NULL, started_at = NULL, completed_at = NULL, updated_at = $1 \
                 WHERE run_id = $2 AND status = 'failed'",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *conn)
            .await?
            .rows_affected() as i64;
            if requeued == 0 {
                // Returning an error rolls the reopening back.
                return Err(StoreError::Conflict(format!(
                    "run {id} has no failed samples to rerun"
                )));
            }
            sqlx::query(
                "UPDATE runs SET failed = failed - $1, retried = retried + $1 WHERE id = $2",
            )
            .bind(requeued)
            .bind(id)
            .execute(&mut *conn)
            .await?;
            // The previous round's artifacts describe results that no longer hold.
            for file_id in [&run.result_file_id, &run.samples_file_id]
                .into_iter()
                .flatten()
            {
                sqlx::query(
                    "UPDATE files SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL",
                )
                .bind(now)
                .bind(file_id)
                .execute(&mut *conn)
                .await?;
            }
            Ok(())
        })
        .await?;
        self.run_record(id).await
    }

    /// Non-terminal, undeleted runs whose lease is free, expired, or already `owner`'s.
    pub async fn claimable_runs(&self, owner: &str, limit: i64) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM runs WHERE status IN ('queued', 'in_progress', 'finalizing', 'cancelling') \
             AND source = 'executed' AND deleted_at IS NULL \
             AND (lease_owner IS NULL OR lease_owner = $1 OR lease_expires_at < $2) \
             ORDER BY seq LIMIT $3",
        )
        .bind(owner)
        .bind(now_unix())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
    }

    /// Takes (or renews) the lease on a run for `ttl_seconds`; false when another owner
    /// holds a live lease or the run has ended.
    pub async fn lease_run(
        &self,
        id: &str,
        owner: &str,
        ttl_seconds: i64,
    ) -> Result<bool, StoreError> {
        let now = now_unix();
        let done = sqlx::query(
            "UPDATE runs SET lease_owner = $1, lease_expires_at = $2 WHERE id = $3 \
             AND status IN ('queued', 'in_progress', 'finalizing', 'cancelling') AND source = 'executed' \
             AND (lease_owner IS NULL OR lease_owner = $1 OR lease_expires_at < $4)",
        )
        .bind(owner)
        .bind(now + ttl_seconds)
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives up a lease.
    pub async fn release_run(&self, id: &str, owner: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE runs SET lease_owner = NULL, lease_expires_at = NULL WHERE id = $1 AND lease_owner = $2")
            .bind(id)
            .bind(owner)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records how many samples the run will have once planned, counted before planning ends;
    /// from then on the samples planning inserts no longer add to `total`. False when the run
    /// was planned, or counted, already.
    pub async fn set_expected_total(&self, id: &str, total: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE runs SET total = $1, planned = $2, updated_at = $3 WHERE id = $4 AND planned = $5",
        )
        .bind(total)
        .bind(COUNTED)
        .bind(now_unix())
        .bind(id)
        .bind(PLANNING)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records that the run's samples are persisted: `total` samples, now `in_progress`.
    pub async fn mark_planned(&self, id: &str, total: i64) -> Result<(), StoreError> {
        let now = now_unix();
        sqlx::query(
            "UPDATE runs SET planned = $1, total = $2, updated_at = $3, started_at = COALESCE(started_at, $3), \
             status = CASE WHEN status = 'queued' THEN 'in_progress' ELSE status END WHERE id = $4",
        )
        .bind(PLANNED)
        .bind(total)
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Marks a run started (`in_progress`) if it was queued.
    pub async fn mark_started(&self, id: &str) -> Result<(), StoreError> {
        let now = now_unix();
        sqlx::query(
            "UPDATE runs SET status = 'in_progress', started_at = COALESCE(started_at, $1), updated_at = $1 \
             WHERE id = $2 AND status = 'queued'",
        )
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Moves an `in_progress` run to `finalizing`; false when it is no longer in progress.
    pub async fn mark_finalizing(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE runs SET status = 'finalizing', updated_at = $1 WHERE id = $2 AND status = 'in_progress'",
        )
        .bind(now_unix())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Completes a finalizing run with its results.
    pub async fn complete_run(&self, id: &str, results: &RunResults) -> Result<bool, StoreError> {
        let now = now_unix();
        let done = sqlx::query(
            "UPDATE runs SET status = 'completed', metrics = $1, tokens_input = $2, tokens_output = $3, \
             tokens_cached = $4, tokens_reasoning = $5, result_file_id = $6, samples_file_id = $7, \
             artifact_file_ids = $8, completed_at = $9, updated_at = $9, lease_owner = NULL, lease_expires_at = NULL \
             WHERE id = $10 AND status = 'finalizing'",
        )
        .bind(to_json(&results.metrics))
        .bind(results.tokens.input)
        .bind(results.tokens.output)
        .bind(results.tokens.cached)
        .bind(results.tokens.reasoning)
        .bind(&results.result_file_id)
        .bind(&results.samples_file_id)
        .bind(to_json(&vec![results.result_file_id.clone(), results.samples_file_id.clone()]))
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends a run as `failed` with a run-level error.
    pub async fn fail_run(&self, id: &str, error: &Value) -> Result<(), StoreError> {
        let now = now_unix();
        sqlx::query(
            "UPDATE runs SET status = 'failed', error = $1, failed_at = $2, updated_at = $2, \
             lease_owner = NULL, lease_expires_at = NULL \
             WHERE id = $3 AND status IN ('queued', 'in_progress', 'finalizing')",
        )
        .bind(to_json(error))
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ends a cancelling run as `cancelled`.
    pub async fn finish_cancel(&self, id: &str) -> Result<(), StoreError> {
        let now = now_unix();
        sqlx::query(
            "UPDATE runs SET status = 'cancelled', cancelled_at = $1, updated_at = $1, \
             lease_owner = NULL, lease_expires_at = NULL WHERE id = $2 AND status = 'cancelling'",
        )
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The current status of a run, cheaply (for executors polling for cancellation).
    pub async fn run_status(&self, id: &str) -> Result<RunStatus, StoreError> {
        let row = sqlx::query("SELECT status FROM runs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        let status: String = row.try_get("status")?;
        RunStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("run status {status:?}")))
    }
}

/// The schedule fire a run is created by: one run per `fire_key`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FiredBy<'a> {
    pub schedule_id: &'a str,
    pub fire_key: &'a str,
}

/// Inserts a queued run owned by `owner` (fired by a schedule when `fired_by` says so) and
/// returns its id.
pub(crate) async fn insert_run<'e, E>(
    exec: E,
    owner: &Principal,
    run: &NewRun,
    fired_by: Option<FiredBy<'_>>,
) -> Result<String, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let id = ids::new_id(ids::RUN);
    let now = now_unix();
    sqlx::query(
        "INSERT INTO runs (id, org_id, team_id, user_id, suite_id, suite_version, suite_version_id, status, \
         models, task_ids, judge_model, embedding_model, generation, settings, metadata, artifact_file_ids, \
         created_at, updated_at, schedule_id, fire_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $8, $9, $10, $11, $12, $13, $14, '[]', $15, $15, $16, $17)",
    )
    .bind(&id)
    .bind(&owner.org_id)
    .bind(&owner.team_id)
    .bind(&owner.user_id)
    .bind(&run.suite_id)
    .bind(run.suite_version)
    .bind(&run.suite_version_id)
    .bind(to_json(&run.models))
    .bind(run.task_ids.as_ref().map(to_json))
    .bind(&run.judge_model)
    .bind(&run.embedding_model)
    .bind(to_json(&run.generation))
    .bind(to_json(&run.settings))
    .bind(to_json(&run.metadata))
    .bind(now)
    .bind(fired_by.map(|f| f.schedule_id))
    .bind(fired_by.map(|f| f.fire_key))
    .execute(exec)
    .await?;
    Ok(id)
}
