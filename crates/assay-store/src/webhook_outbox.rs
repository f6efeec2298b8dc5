//! The webhook outbox: status transitions of scheduled runs waiting to be delivered.
//!
//! Rows are written by database triggers (migration 0008) in the transaction that changes a
//! scheduled run's status, so no transition is lost and none is recorded for a change that
//! rolled back. A dispatcher claims a due row with a lease (so two servers do not send it at
//! once, and a server that dies mid-delivery leaves it to be sent again), then records the
//! outcome. Rows of one run are delivered in order: a row waits while an earlier row of its
//! run is still pending.

use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::sql::opt_json_col;
use crate::{Store, StoreError};

/// A pending delivery, as the dispatcher chooses among them.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub id: String,
    /// Where it goes now (None: the schedule's webhook was removed, or the schedule deleted).
    pub webhook_url: Option<String>,
}

/// A claimed delivery with what its body and signature need.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The message id (`webhook-id`), the same on every attempt.
    pub id: String,
    pub schedule_id: String,
    pub run_id: String,
    pub suite_id: String,
    pub suite_version: i64,
    pub previous_status: Option<String>,
    pub status: String,
    /// When the transition happened (Unix seconds).
    pub occurred_at: i64,
    pub total: i64,
    pub completed: i64,
    pub failed: i64,
    /// The run's metrics when it completed.
    pub metrics: Option<Value>,
    /// Attempts so far, this one included.
    pub attempts: i64,
    /// When the transition was recorded (retries stop a bounded time after it).
    pub created_at: i64,
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<String>,
}

fn read_delivery(row: &AnyRow) -> Result<Delivery, StoreError> {
    Ok(Delivery {
        id: row.try_get("id")?,
        schedule_id: row.try_get("schedule_id")?,
        run_id: row.try_get("run_id")?,
        suite_id: row.try_get("suite_id")?,
        suite_version: row.try_get("suite_version")?,
        previous_status: row.try_get("previous_status")?,
        status: row.try_get("status")?,
        occurred_at: row.try_get("occurred_at")?,
        total: row.try_get("total")?,
        completed: row.try_get("completed")?,
        failed: row.try_get("failed")?,
        metrics: opt_json_col(row, "metrics")?,
        attempts: row.try_get("attempts")?,
        created_at: row.try_get("created_at")?,
        webhook_url: row.try_get("webhook_url")?,
        webhook_secret: row.try_get("webhook_secret")?,
    })
}

/// Pending rows: neither delivered nor given up.
const PENDING: &str = "d.delivered_at IS NULL AND d.gave_up_at IS NULL";

impl Store {
    /// Deliveries due at `now` whose lease is free and whose run has no earlier pending
    /// delivery, oldest first.
    pub async fn due_deliveries(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT d.id, CASE WHEN s.deleted_at IS NULL THEN s.webhook_url END AS webhook_url \
             FROM webhook_deliveries d LEFT JOIN schedules s ON s.id = d.schedule_id \
             WHERE {PENDING} AND d.next_attempt_at <= $1 \
             AND (d.lease_until IS NULL OR d.lease_until < $1) \
             AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.run_id = d.run_id \
             AND e.seq < d.seq AND e.delivered_at IS NULL AND e.gave_up_at IS NULL) \
             ORDER BY d.next_attempt_at, d.seq LIMIT $2"
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DueDelivery {
                    id: r.try_get("id")?,
                    webhook_url: r.try_get("webhook_url")?,
                })
            })
            .collect()
    }

    /// Claims a due delivery until `lease_until` and counts the attempt; None when another
    /// dispatcher holds it or it is no longer pending.
    pub async fn claim_delivery(
        &self,
        id: &str,
        now: i64,
        lease_until: i64,
    ) -> Result<Option<Delivery>, StoreError> {
        let claimed = sqlx::query(
            "UPDATE webhook_deliveries SET lease_until = $1, attempts = attempts + 1 \
             WHERE id = $2 AND delivered_at IS NULL AND gave_up_at IS NULL \
             AND (lease_until IS NULL OR lease_until < $3)",
        )
        .bind(lease_until)
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        if claimed.rows_affected() == 0 {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT d.id, d.schedule_id, d.run_id, r.suite_id, r.suite_version, d.previous_status, d.status, \
             d.occurred_at, d.total, d.completed, d.failed, d.metrics, d.attempts, d.created_at, \
             CASE WHEN s.deleted_at IS NULL THEN s.webhook_url END AS webhook_url, s.webhook_secret \
             FROM webhook_deliveries d JOIN runs r ON r.id = d.run_id \
             LEFT JOIN schedules s ON s.id = d.schedule_id WHERE d.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(read_delivery).transpose()
    }

    /// Records that the receiver accepted a delivery.
    pub async fn delivery_succeeded(&self, id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE webhook_deliveries SET delivered_at = $1, lease_until = NULL, last_error = NULL \
             WHERE id = $2",
        )
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a failed attempt: tried again at `retry_at`, or given up at `now` when None.
    pub async fn delivery_failed(
        &self,
        id: &str,
        now: i64,
        error: &str,
        retry_at: Option<i64>,
    ) -> Result<(), StoreError> {
        match retry_at {
            Some(at) => sqlx::query(
                "UPDATE webhook_deliveries SET next_attempt_at = $1, lease_until = NULL, last_error = $2 \
                 WHERE id = $3",
            )
            .bind(at)
            .bind(error)
            .bind(id),
            None => sqlx::query(
                "UPDATE webhook_deliveries SET gave_up_at = $1, lease_until = NULL, last_error = $2 \
                 WHERE id = $3",
            )
            .bind(now)
            .bind(error)
            .bind(id),
        }
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The outbox rows of a run, oldest first: (message id, previous status, status,
    /// delivered, given up). For tests and operators.
    pub async fn run_deliveries(
        &self,
        run_id: &str,
    ) -> Result<Vec<(String, Option<String>, String, bool, bool)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, previous_status, status, delivered_at, gave_up_at FROM webhook_deliveries \
             WHERE run_id = $1 ORDER BY seq",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    r.try_get("previous_status")?,
                    r.try_get("status")?,
                    r.try_get::<Option<i64>, _>("delivered_at")?.is_some(),
                    r.try_get::<Option<i64>, _>("gave_up_at")?.is_some(),
                ))
            })
            .collect()
    }
}
