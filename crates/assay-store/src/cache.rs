//! A key-value table for cached model answers, shared by every run and process.

use serde_json::Value;
use sqlx::Row;

use crate::sql::to_json;
use crate::{Store, StoreError};

impl Store {
    /// The cached value under `key`.
    pub async fn cache_get(&self, key: &str) -> Result<Option<Value>, StoreError> {
        let row = sqlx::query("SELECT value FROM response_cache WHERE cache_key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            let text: String = r.try_get("value")?;
            serde_json::from_str(&text)
                .map_err(|e| StoreError::Corrupt(format!("cached value: {e}")))
        })
        .transpose()
    }

    /// Stores `value` under `key`, replacing an older one.
    pub async fn cache_put(&self, key: &str, value: &Value) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO response_cache (cache_key, value, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (cache_key) DO UPDATE SET value = excluded.value, created_at = excluded.created_at",
        )
        .bind(key)
        .bind(to_json(value))
        .bind(assay_domain::now_unix())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
