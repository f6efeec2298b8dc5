//! Token backfill: the samples of completed runs that hold text but no token figure, and one
//! transaction per run that records counted figures for them and the run's refreshed sums.
//!
//! A sample is *unmeasured* when none of its four token figures (`input_tokens`,
//! `output_tokens`, `cached_tokens`, `reasoning_tokens`) is recorded: any one figure means a
//! provider, an import or an earlier estimate measured it, and it is never touched. It is
//! *measurable* when it is unmeasured and has answer or reasoning text (`output_text` or
//! `reasoning` non-empty); samples without text stay unmeasured.

use assay_domain::api::{RunTokens, SampleObject};
use assay_domain::{now_unix, Principal};
use serde_json::Value;
use sqlx::Row;

use crate::runs::{read_run, RUN_COLUMNS};
use crate::samples::{read_sample, SAMPLE_COLUMNS};
use crate::sql::{bind_visible, opt_json_col, push_visible, to_json, Sql};
use crate::{RunRecord, Store, StoreError};

/// The condition on `samples` that makes a row measurable (see the module documentation).
const MEASURABLE: &str = "samples.input_tokens IS NULL AND samples.output_tokens IS NULL \
     AND samples.cached_tokens IS NULL AND samples.reasoning_tokens IS NULL \
     AND (COALESCE(samples.output_text, '') <> '' OR COALESCE(samples.reasoning, '') <> '')";

/// Samples read per page, outside and inside the backfill transaction.
const PAGE: i64 = 500;

/// The stored text of a measurable sample.
#[derive(Debug, Clone)]
pub struct UnmeasuredSample {
    /// Its position in the run (the key its figures are written back under).
    pub seq: i64,
    pub prompt: String,
    pub output_text: Option<String>,
    pub reasoning: Option<String>,
}

/// Token figures counted from the text of the sample at `seq` (its `cached_tokens` stays
/// unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenEstimate {
    pub seq: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// `None` when the sample has no reasoning text.
    pub reasoning_tokens: Option<i64>,
}

/// Recomputes a run's results inside the transaction that changed its samples: it is shown
/// every stored sample of the run, in order and with the transaction's writes in place, then
/// the run's current `metrics`, and returns the `metrics` and token totals to store.
pub trait RunRefresh: Send {
    /// Counts one stored sample.
    fn add(&mut self, sample: &SampleObject);
    /// The run's new `metrics`, and its token totals.
    fn finish(self, metrics: Option<Value>) -> (Option<Value>, RunTokens);
}

/// Passes every stored sample of `run_id` through `refresh` (within the caller's transaction)
/// and stores the `metrics` and token totals it returns on the run.
pub(crate) async fn refresh_run(
    conn: &mut sqlx::AnyConnection,
    run_id: &str,
    mut refresh: impl RunRefresh,
    now: i64,
) -> Result<(), StoreError> {
    let mut after = 0i64;
    loop {
        let rows = sqlx::query(&format!(
            "SELECT {SAMPLE_COLUMNS} FROM samples WHERE samples.run_id = $1 AND samples.seq > $2 \
             ORDER BY samples.seq LIMIT $3"
        ))
        .bind(run_id)
        .bind(after)
        .bind(PAGE)
        .fetch_all(&mut *conn)
        .await?;
        for row in &rows {
            let sample = read_sample(row)?;
            after = sample.seq;
            refresh.add(&sample.object);
        }
        if (rows.len() as i64) < PAGE {
            break;
        }
    }
    let row = sqlx::query("SELECT metrics FROM runs WHERE id = $1")
        .bind(run_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    let metrics = opt_json_col::<Value>(&row, "metrics")?;
    let (metrics, tokens) = refresh.finish(metrics);
    sqlx::query(
        "UPDATE runs SET metrics = $1, tokens_input = $2, tokens_output = $3, tokens_cached = $4, \
         tokens_reasoning = $5, updated_at = $6 WHERE id = $7",
    )
    .bind(metrics.as_ref().map(to_json))
    .bind(tokens.input)
    .bind(tokens.output)
    .bind(tokens.cached)
    .bind(tokens.reasoning)
    .bind(now)
    .bind(run_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Appends the runs a backfill considers: `suite_id`'s completed, live runs owned by the
/// caller that hold a measurable sample. Binds the suite id, then the caller.
fn push_runs_to_measure(sql: &mut Sql) {
    sql.push(" FROM runs WHERE runs.suite_id = ");
    sql.param();
    // Imported (agent) runs are left out: their trials' text is a verifier's output, not the
    // agent session that spent the tokens, so counting it would misstate their usage.
    sql.push(" AND runs.status = 'completed' AND runs.source = 'executed' AND runs.deleted_at IS NULL AND ");
    push_visible(sql, "runs");
    sql.push(&format!(
        " AND EXISTS (SELECT 1 FROM samples WHERE samples.run_id = runs.id AND {MEASURABLE})"
    ));
}

impl Store {
    /// Up to `limit` of `suite_id`'s completed, live runs that the caller owns and that hold
    /// measurable samples, oldest first (creation order).
    pub async fn runs_to_measure(
        &self,
        caller: &Principal,
        suite_id: &str,
        limit: i64,
    ) -> Result<Vec<RunRecord>, StoreError> {
        let mut sql = Sql::new(&format!("SELECT {RUN_COLUMNS}"));
        push_runs_to_measure(&mut sql);
        sql.push(" ORDER BY runs.seq LIMIT ");
        sql.param();
        let rows = bind_visible(sqlx::query(&sql.text).bind(suite_id), caller)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(read_run).collect()
    }

    /// How many runs [`Store::runs_to_measure`] would return without a limit.
    pub async fn count_runs_to_measure(
        &self,
        caller: &Principal,
        suite_id: &str,
    ) -> Result<i64, StoreError> {
        let mut sql = Sql::new("SELECT COUNT(*) AS n");
        push_runs_to_measure(&mut sql);
        let row = bind_visible(sqlx::query(&sql.text).bind(suite_id), caller)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Up to `limit` measurable samples of a run after position `after_seq`, in order.
    pub async fn unmeasured_samples(
        &self,
        run_id: &str,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<UnmeasuredSample>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT samples.seq, samples.prompt, samples.output_text, samples.reasoning FROM samples \
             WHERE samples.run_id = $1 AND samples.seq > $2 AND {MEASURABLE} ORDER BY samples.seq LIMIT $3"
        ))
        .bind(run_id)
        .bind(after_seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(UnmeasuredSample {
                    seq: row.try_get("seq")?,
                    prompt: row.try_get("prompt")?,
                    output_text: row.try_get("output_text")?,
                    reasoning: row.try_get("reasoning")?,
                })
            })
            .collect()
    }

    /// In one transaction: writes each estimate to its sample (marked `tokens_estimated`) if
    /// the sample is still unmeasured, passes every stored sample of the run through
    /// `refresh`, and stores the `metrics` and token totals it returns on the run. Returns how
    /// many samples gained figures (fewer than `estimates` when another call measured some
    /// first; the refresh gives the same sums either way).
    pub async fn record_token_estimates(
        &self,
        run_id: &str,
        estimates: &[TokenEstimate],
        refresh: impl RunRefresh,
    ) -> Result<u64, StoreError> {
        let now = now_unix();
        self.in_transaction(async move |conn| {
            let mut written = 0;
            for e in estimates {
                let done = sqlx::query(
                    "UPDATE samples SET input_tokens = $1, output_tokens = $2, reasoning_tokens = $3, \
                     tokens_estimated = 1, updated_at = $4 WHERE samples.run_id = $5 AND samples.seq = $6 \
                     AND samples.input_tokens IS NULL AND samples.output_tokens IS NULL \
                     AND samples.cached_tokens IS NULL AND samples.reasoning_tokens IS NULL",
                )
                .bind(e.input_tokens)
                .bind(e.output_tokens)
                .bind(e.reasoning_tokens)
                .bind(now)
                .bind(run_id)
                .bind(e.seq)
                .execute(&mut *conn)
                .await?;
                written += done.rows_affected();
            }
            refresh_run(conn, run_id, refresh, now).await?;
            Ok(written)
        })
        .await
    }
}
