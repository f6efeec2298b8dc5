//! Imported runs: a harness job's trials (coding-agent imports) or another tool's logged
//! samples (lm-evaluation-harness results) written as a run's samples, never executed.
//!
//! Every write — an import, an appended batch — commits the trials and everything derived
//! from them in one transaction: the run's counts, spend, timing and per-score summaries
//! (`run_score_stats`, read by the agent leaderboard) are recomputed from the stored sample rows,
//! never added to, and the run's `metrics` and token totals are rebuilt through a
//! [`RunRefresh`]. Appends to one run are serialized by taking the run row's write lock first.

use std::collections::BTreeMap;

use assay_domain::api::{Metadata, TrialStatus};
use assay_domain::{ids, now_unix, Principal};
use serde_json::{Map, Value};
use sqlx::{AnyConnection, Row};

use crate::runs::{read_run, RUN_COLUMNS};
use crate::sql::to_json;
use crate::token_backfill::{refresh_run, RunRefresh};
use crate::{RunRecord, Store, StoreError};

/// An imported run about to be written.
#[derive(Debug, Clone)]
pub struct NewImportedRun {
    pub suite_id: String,
    pub suite_version: i64,
    pub suite_version_id: String,
    pub model: String,
    /// The coding agent; `None` for runs that are not agent runs (they stay off the agent
    /// leaderboard).
    pub agent_name: Option<String>,
    pub agent_version: Option<String>,
    pub agent_effort: Option<String>,
    /// The job's total spend as reported; the run's `cost_usd` falls back to the trials' sum.
    pub reported_cost_usd: Option<f64>,
    /// When the job ran (unix seconds).
    pub created_at: i64,
    pub metadata: Metadata,
    pub idempotency_key: Option<String>,
    /// `request_counts.total` until more trials than this arrive.
    pub expected_trials: Option<i64>,
}

/// One trial, validated, with its index resolved.
#[derive(Debug, Clone)]
pub struct NewTrial {
    pub task_id: String,
    pub sample_index: i64,
    pub status: TrialStatus,
    pub prompt: String,
    pub target: Option<String>,
    pub output_text: Option<String>,
    pub scores: BTreeMap<String, f64>,
    pub error: Option<Map<String, Value>>,
    pub cost_usd: Option<f64>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cached_tokens: Option<i64>,
    pub reasoning_tokens: Option<i64>,
    pub phase_timings: Option<Map<String, Value>>,
    /// Wall seconds of the `agent_execution` phase, when timed.
    pub agent_seconds: Option<f64>,
    /// The dataset row the sample was made from.
    pub dataset_row: Option<Map<String, Value>>,
    /// The answer as extracted from the output.
    pub extracted_output: Option<String>,
    /// Whether the token figures were counted from the text rather than reported.
    pub tokens_estimated: bool,
}

/// What an import did.
#[derive(Debug)]
pub enum ImportOutcome {
    /// A new run.
    Created(RunRecord),
    /// The run an earlier import with the same idempotency key created.
    Existing(RunRecord),
}

/// What the trial writes need to know of the run's suite version.
#[derive(Debug, Clone, Copy)]
pub struct TrialWrite<'a> {
    /// Every task of the version, in manifest order: trials covering all of them make the
    /// run's `task_ids` null (a complete sweep).
    pub version_tasks: &'a [String],
    /// Completes the run after the trials land.
    pub finalize: bool,
}

impl Store {
    /// The run an import with this idempotency key created for the caller's team, if any.
    pub async fn run_by_idempotency_key(
        &self,
        owner: &Principal,
        key: &str,
    ) -> Result<Option<RunRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE runs.org_id = $1 AND runs.team_id = $2 \
             AND runs.idempotency_key = $3"
        ))
        .bind(&owner.org_id)
        .bind(&owner.team_id)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(read_run).transpose()
    }

    /// Writes an imported run with its trials, `in_progress` or (when `write.finalize`)
    /// `completed`. With an idempotency key the caller's team already used, nothing is
    /// written and the earlier run is returned — also when several imports race.
    pub async fn write_imported_run(
        &self,
        owner: &Principal,
        run: &NewImportedRun,
        trials: &[NewTrial],
        write: TrialWrite<'_>,
        refresh: impl RunRefresh,
    ) -> Result<ImportOutcome, StoreError> {
        if let Some(key) = &run.idempotency_key {
            if let Some(existing) = self.run_by_idempotency_key(owner, key).await? {
                return Ok(ImportOutcome::Existing(existing));
            }
        }
        let id = ids::new_id(ids::RUN);
        let now = now_unix();
        let written = self
            .in_transaction(async |conn| {
                sqlx::query(
                    "INSERT INTO runs (id, org_id, team_id, user_id, suite_id, suite_version, suite_version_id, \
                     status, models, task_ids, generation, settings, metadata, artifact_file_ids, agent_name, \
                     agent_version, agent_effort, reported_cost_usd, expected_trials, total, planned, source, \
                     idempotency_key, created_at, updated_at, started_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 'in_progress', $8, NULL, '{}', $9, $10, '[]', $11, $12, \
                     $13, $14, $15, $16, 1, 'imported', $17, $18, $19, $18)",
                )
                .bind(&id)
                .bind(&owner.org_id)
                .bind(&owner.team_id)
                .bind(&owner.user_id)
                .bind(&run.suite_id)
                .bind(run.suite_version)
                .bind(&run.suite_version_id)
                .bind(to_json(&vec![run.model.clone()]))
                .bind(to_json(&serde_json::json!({
                    "generation_concurrency": 1,
                    "grader_concurrency": 1,
                })))
                .bind(to_json(&run.metadata))
                .bind(&run.agent_name)
                .bind(&run.agent_version)
                .bind(&run.agent_effort)
                .bind(run.reported_cost_usd)
                .bind(run.expected_trials)
                .bind(run.expected_trials.unwrap_or(0))
                .bind(&run.idempotency_key)
                .bind(run.created_at)
                .bind(now)
                // Optional floats: see `write_trials`.
                .persistent(false)
                .execute(&mut *conn)
                .await?;
                write_trials(conn, &id, &run.model, trials, now).await?;
                conclude_write(conn, &id, write, refresh, now).await
            })
            .await;
        match written {
            Ok(()) => Ok(ImportOutcome::Created(self.run_record(&id).await?)),
            Err(StoreError::Database(sqlx::Error::Database(e))) if e.is_unique_violation() => {
                // A concurrent import with the same key won; answer with its run.
                let key = run.idempotency_key.as_deref().unwrap_or_default();
                match self.run_by_idempotency_key(owner, key).await? {
                    Some(existing) => Ok(ImportOutcome::Existing(existing)),
                    None => Err(StoreError::Conflict(
                        "the import conflicted with another write; send it again".into(),
                    )),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Upserts trials into an imported `in_progress` run the caller owns (on task, model and
    /// sample index), recomputes everything derived from them, and completes the run when
    /// `write.finalize`. A run that is not an open import is a `Conflict`.
    pub async fn append_trials(
        &self,
        caller: &Principal,
        run_id: &str,
        trials: &[NewTrial],
        write: TrialWrite<'_>,
        refresh: impl RunRefresh,
    ) -> Result<RunRecord, StoreError> {
        let run = self.get_run(caller, run_id).await?;
        let model = run.object.models.first().cloned().unwrap_or_default();
        let now = now_unix();
        self.in_transaction(async |conn| {
            // Taking the run row's write lock first serializes appends to one run.
            let open = sqlx::query(
                "UPDATE runs SET updated_at = $1 WHERE id = $2 AND source = 'imported' \
                 AND status = 'in_progress'",
            )
            .bind(now)
            .bind(run_id)
            .execute(&mut *conn)
            .await?;
            if open.rows_affected() == 0 {
                let row = sqlx::query("SELECT status, source FROM runs WHERE id = $1")
                    .bind(run_id)
                    .fetch_one(&mut *conn)
                    .await?;
                let status: String = row.try_get("status")?;
                let source: String = row.try_get("source")?;
                return Err(StoreError::Conflict(if source != "imported" {
                    format!("run {run_id} is executed by Assay, not imported: trials cannot be appended to it")
                } else {
                    format!(
                        "run {run_id} is {status}; trials can only be appended to an in_progress import"
                    )
                }));
            }
            write_trials(conn, run_id, &model, trials, now).await?;
            conclude_write(conn, run_id, write, refresh, now).await
        })
        .await?;
        self.run_record(run_id).await
    }
}

/// Upserts each trial as a terminal sample of `run_id`.
async fn write_trials(
    conn: &mut AnyConnection,
    run_id: &str,
    model: &str,
    trials: &[NewTrial],
    now: i64,
) -> Result<(), StoreError> {
    for t in trials {
        let status = match t.status {
            TrialStatus::Completed => "completed",
            TrialStatus::Failed => "failed",
        };
        sqlx::query(
            "INSERT INTO samples (id, run_id, task_id, model, sample_index, status, prompt, target, \
             output_text, scores, error, cost_usd, input_tokens, output_tokens, cached_tokens, \
             reasoning_tokens, tokens_estimated, phase_timings, agent_seconds, dataset_row, \
             extracted_output, attempts, created_at, updated_at, completed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, \
             $20, $21, 1, $22, $22, $22) \
             ON CONFLICT (run_id, task_id, model, sample_index) DO UPDATE SET status = excluded.status, \
             prompt = excluded.prompt, target = excluded.target, output_text = excluded.output_text, \
             scores = excluded.scores, error = excluded.error, cost_usd = excluded.cost_usd, \
             input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens, \
             cached_tokens = excluded.cached_tokens, reasoning_tokens = excluded.reasoning_tokens, \
             tokens_estimated = excluded.tokens_estimated, phase_timings = excluded.phase_timings, \
             agent_seconds = excluded.agent_seconds, dataset_row = excluded.dataset_row, \
             extracted_output = excluded.extracted_output, updated_at = excluded.updated_at, \
             completed_at = excluded.completed_at",
        )
        .bind(ids::new_id(ids::SAMPLE))
        .bind(run_id)
        .bind(&t.task_id)
        .bind(model)
        .bind(t.sample_index)
        .bind(status)
        .bind(&t.prompt)
        .bind(&t.target)
        .bind(&t.output_text)
        .bind(to_json(&t.scores))
        .bind(t.error.as_ref().map(to_json))
        .bind(t.cost_usd)
        .bind(t.input_tokens)
        .bind(t.output_tokens)
        .bind(t.cached_tokens)
        .bind(t.reasoning_tokens)
        .bind(i64::from(t.tokens_estimated))
        .bind(t.phase_timings.as_ref().map(to_json))
        .bind(t.agent_seconds)
        .bind(t.dataset_row.as_ref().map(to_json))
        .bind(&t.extracted_output)
        .bind(now)
        // Not cached: the `Any` driver types a missing float as float4 on Postgres, which a
        // statement prepared with a present float8 would refuse.
        .persistent(false)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Recomputes what the run derives from its stored trials, then completes it if asked.
async fn conclude_write(
    conn: &mut AnyConnection,
    run_id: &str,
    write: TrialWrite<'_>,
    refresh: impl RunRefresh,
    now: i64,
) -> Result<(), StoreError> {
    summarize(conn, run_id, write.version_tasks, now).await?;
    refresh_run(conn, run_id, refresh, now).await?;
    if write.finalize {
        sqlx::query(
            "UPDATE runs SET status = 'completed', completed_at = $1, updated_at = $1 \
             WHERE id = $2 AND status = 'in_progress'",
        )
        .bind(now)
        .bind(run_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The run's counts, spend, timing, covered tasks and per-score summaries, from its rows.
async fn summarize(
    conn: &mut AnyConnection,
    run_id: &str,
    version_tasks: &[String],
    now: i64,
) -> Result<(), StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n, \
         COALESCE(SUM(CASE WHEN status = 'completed' THEN 1 ELSE 0 END), 0) AS completed, \
         COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0) AS failed, \
         SUM(cost_usd) AS cost, SUM(agent_seconds) AS seconds, COUNT(agent_seconds) AS timed \
         FROM samples WHERE run_id = $1",
    )
    .bind(run_id)
    .fetch_one(&mut *conn)
    .await?;
    let n: i64 = row.try_get("n")?;
    let completed: i64 = row.try_get("completed")?;
    let failed: i64 = row.try_get("failed")?;
    let cost: Option<f64> = row.try_get("cost")?;
    let seconds: Option<f64> = row.try_get("seconds")?;
    let timed: i64 = row.try_get("timed")?;

    let mut covered = std::collections::BTreeSet::new();
    let mut stats: BTreeMap<String, (i64, f64, i64)> = BTreeMap::new();
    for row in sqlx::query("SELECT task_id, scores FROM samples WHERE run_id = $1")
        .bind(run_id)
        .fetch_all(&mut *conn)
        .await?
    {
        covered.insert(row.try_get::<String, _>("task_id")?);
        let text: String = row.try_get("scores")?;
        let scores: Map<String, Value> =
            serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("scores: {e}")))?;
        for (metric, value) in scores {
            if let Some(v) = value.as_f64() {
                let entry = stats.entry(metric).or_default();
                entry.0 += 1;
                entry.1 += v;
                entry.2 += i64::from(v >= 1.0);
            }
        }
    }
    let task_ids = if covered.is_empty() || version_tasks.iter().all(|t| covered.contains(t)) {
        None
    } else {
        Some(
            version_tasks
                .iter()
                .filter(|t| covered.contains(*t))
                .cloned()
                .collect::<Vec<_>>(),
        )
    };
    sqlx::query(
        "UPDATE runs SET total = CASE WHEN COALESCE(expected_trials, 0) > $1 THEN expected_trials ELSE $1 END, \
         completed = $2, failed = $3, trial_cost_usd = $4, cost_usd = COALESCE(reported_cost_usd, $4), \
         agent_seconds = $5, timed_trials = $6, task_ids = $7, updated_at = $8 WHERE id = $9",
    )
    .bind(n)
    .bind(completed)
    .bind(failed)
    .bind(cost)
    .bind(seconds)
    .bind(timed)
    .bind(task_ids.as_ref().map(to_json))
    .bind(now)
    .bind(run_id)
    // Optional floats: see `write_trials`.
    .persistent(false)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM run_score_stats WHERE run_id = $1")
        .bind(run_id)
        .execute(&mut *conn)
        .await?;
    for (metric, (scored, total, solved)) in stats {
        sqlx::query(
            "INSERT INTO run_score_stats (run_id, metric, scored, total, solved) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(run_id)
        .bind(&metric)
        .bind(scored)
        .bind(total)
        .bind(solved)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
