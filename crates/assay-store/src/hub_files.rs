//! Hugging Face dataset files cached in the blob store, and the commits a run's Hub datasets
//! were read at.

use serde_json::{Map, Value};
use sqlx::Row;

use crate::sql::{opt_json_col, to_json};
use crate::{Store, StoreError};

/// A cached Hub file.
#[derive(Debug, Clone)]
pub struct HubFile {
    pub blob_key: String,
    pub bytes: i64,
}

impl Store {
    /// The cached copy of `path` in `repo` at commit `revision`, if one was kept.
    pub async fn hub_file(
        &self,
        repo: &str,
        revision: &str,
        path: &str,
    ) -> Result<Option<HubFile>, StoreError> {
        let row = sqlx::query(
            "SELECT blob_key, bytes FROM hub_files WHERE repo = $1 AND revision = $2 AND path = $3",
        )
        .bind(repo)
        .bind(revision)
        .bind(path)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(HubFile {
                blob_key: r.try_get("blob_key")?,
                bytes: r.try_get("bytes")?,
            })
        })
        .transpose()
    }

    /// Records a downloaded Hub file (already written to the blob store under `blob_key`).
    /// When another run recorded the same file meanwhile, its copy is kept and returned
    /// (the caller deletes its own blob).
    pub async fn record_hub_file(
        &self,
        repo: &str,
        revision: &str,
        path: &str,
        blob_key: &str,
        bytes: i64,
    ) -> Result<HubFile, StoreError> {
        sqlx::query(
            "INSERT INTO hub_files (repo, revision, path, blob_key, bytes, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (repo, revision, path) DO NOTHING",
        )
        .bind(repo)
        .bind(revision)
        .bind(path)
        .bind(blob_key)
        .bind(bytes)
        .bind(assay_domain::now_unix())
        .execute(&self.pool)
        .await?;
        self.hub_file(repo, revision, path)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// The Hub datasets a run read, by `<task>/<field>` (empty before planning reads any).
    pub async fn dataset_revisions(&self, run_id: &str) -> Result<Map<String, Value>, StoreError> {
        let row = sqlx::query("SELECT dataset_revisions FROM runs WHERE id = $1")
            .bind(run_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(opt_json_col::<Map<String, Value>>(&row, "dataset_revisions")?.unwrap_or_default())
    }

    /// Records what one Hub dataset of a run was read at, keeping what is recorded already
    /// under the same key (a re-planned run reads the commit its first planning read).
    /// Returns the record in force.
    pub async fn record_dataset_revision(
        &self,
        run_id: &str,
        key: &str,
        record: Value,
    ) -> Result<Value, StoreError> {
        self.in_transaction(async |conn| {
            // The update first: it takes the row's write lock.
            sqlx::query("UPDATE runs SET dataset_revisions = dataset_revisions WHERE id = $1")
                .bind(run_id)
                .execute(&mut *conn)
                .await?;
            let row = sqlx::query("SELECT dataset_revisions FROM runs WHERE id = $1")
                .bind(run_id)
                .fetch_optional(&mut *conn)
                .await?
                .ok_or(StoreError::NotFound)?;
            let mut all =
                opt_json_col::<Map<String, Value>>(&row, "dataset_revisions")?.unwrap_or_default();
            if let Some(existing) = all.get(key) {
                return Ok(existing.clone());
            }
            all.insert(key.to_string(), record.clone());
            sqlx::query("UPDATE runs SET dataset_revisions = $1 WHERE id = $2")
                .bind(to_json(&all))
                .bind(run_id)
                .execute(&mut *conn)
                .await?;
            Ok(record)
        })
        .await
    }
}
