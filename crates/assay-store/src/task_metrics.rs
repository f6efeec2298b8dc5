//! Task-level metrics: values computed over all of a task's samples at once (correlations,
//! macro-F1, …), which a mean over samples cannot give. Written by the engine before the run
//! finalizes, read by finalization.

use serde_json::Value;
use sqlx::Row;

use crate::sql::to_json;
use crate::{Store, StoreError};

/// One (task, model)'s task-level metrics: metric id → value.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskMetrics {
    pub task_id: String,
    pub model: String,
    pub metrics: Value,
}

impl Store {
    /// Stores (or replaces) the task-level metrics of `task_id` × `model` in a run.
    pub async fn put_task_metrics(
        &self,
        run_id: &str,
        task_id: &str,
        model: &str,
        metrics: &Value,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO run_task_metrics (run_id, task_id, model, metrics, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (run_id, task_id, model) \
             DO UPDATE SET metrics = excluded.metrics, created_at = excluded.created_at",
        )
        .bind(run_id)
        .bind(task_id)
        .bind(model)
        .bind(to_json(metrics))
        .bind(assay_domain::now_unix())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every task-level metrics row of a run, ordered by task and model.
    pub async fn task_metrics(&self, run_id: &str) -> Result<Vec<TaskMetrics>, StoreError> {
        let rows = sqlx::query(
            "SELECT task_id, model, metrics FROM run_task_metrics WHERE run_id = $1 \
             ORDER BY task_id, model",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                let text: String = r.try_get("metrics")?;
                Ok(TaskMetrics {
                    task_id: r.try_get("task_id")?,
                    model: r.try_get("model")?,
                    metrics: serde_json::from_str(&text)
                        .map_err(|e| StoreError::Corrupt(format!("task metrics: {e}")))?,
                })
            })
            .collect()
    }
}
