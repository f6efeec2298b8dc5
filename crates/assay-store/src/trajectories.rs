//! Trajectories: one per sample, the payload in the blob store and a row describing it in
//! `trajectories`; the run's `trajectory_steps` summed from those rows.
//!
//! An upload writes its payload under a key of its own (`trajectories/{sample_id}/{hex}.json`)
//! before the row points at it, so the row always names a payload that exists: a crash or a
//! failed transaction leaves at most an unreferenced blob. The payload the row pointed at
//! before is deleted after the commit (best effort; a leftover is harmless).

use bytes::Bytes;
use sqlx::Row;

use assay_domain::now_unix;

use crate::sql::Sql;
use crate::{Store, StoreError};

/// Most samples one index lookup reads: a run has one sample per (task, model) and index, so
/// this only bounds what an ambiguity error lists.
const MATCH_LIMIT: i64 = 100;

/// The sample a trajectory belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleKey {
    pub id: String,
    pub run_id: String,
    pub task_id: String,
    pub model: String,
    pub sample_index: i64,
}

/// What a sample index (narrowed by task and model) finds in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SampleMatch {
    /// Exactly one sample.
    One(SampleKey),
    /// No sample.
    Missing,
    /// Several samples: the distinct tasks and models they span, sorted.
    Several {
        task_ids: Vec<String>,
        models: Vec<String>,
    },
}

/// A trajectory to store.
#[derive(Debug, Clone)]
pub struct NewTrajectory {
    pub schema_version: String,
    pub step_count: i64,
    /// Bytes the size limit counts (measured by the caller from the payload it stores).
    pub size_bytes: i64,
    /// The document to keep in the blob store.
    pub payload: Bytes,
}

/// A stored trajectory's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrajectoryRecord {
    pub sample_id: String,
    pub run_id: String,
    pub schema_version: String,
    pub step_count: i64,
    pub size_bytes: i64,
    pub blob_key: String,
    pub created_at: i64,
    pub updated_at: i64,
}

fn read_record(row: &sqlx::any::AnyRow) -> Result<TrajectoryRecord, StoreError> {
    Ok(TrajectoryRecord {
        sample_id: row.try_get("sample_id")?,
        run_id: row.try_get("run_id")?,
        schema_version: row.try_get("schema_version")?,
        step_count: row.try_get("step_count")?,
        size_bytes: row.try_get("size_bytes")?,
        blob_key: row.try_get("blob_key")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

const RECORD_COLUMNS: &str = "sample_id, run_id, schema_version, step_count, size_bytes, \
     blob_key, created_at, updated_at";

impl Store {
    /// The samples of run `run_id` with index `sample_index`, narrowed to `task_id` and
    /// `model` when given. The caller has already checked that it may reach the run.
    pub async fn match_sample(
        &self,
        run_id: &str,
        sample_index: i64,
        task_id: Option<&str>,
        model: Option<&str>,
    ) -> Result<SampleMatch, StoreError> {
        let mut sql = Sql::new("SELECT id, task_id, model FROM samples WHERE run_id = ");
        sql.param();
        sql.push(" AND sample_index = ");
        sql.param();
        if task_id.is_some() {
            sql.push(" AND task_id = ");
            sql.param();
        }
        if model.is_some() {
            sql.push(" AND model = ");
            sql.param();
        }
        sql.push(" ORDER BY task_id, model LIMIT ");
        sql.param();
        let mut query = sqlx::query(&sql.text).bind(run_id).bind(sample_index);
        if let Some(task_id) = task_id {
            query = query.bind(task_id);
        }
        if let Some(model) = model {
            query = query.bind(model);
        }
        let rows = query.bind(MATCH_LIMIT).fetch_all(&self.pool).await?;
        let mut found = Vec::with_capacity(rows.len());
        for row in &rows {
            found.push(SampleKey {
                id: row.try_get("id")?,
                run_id: run_id.to_string(),
                task_id: row.try_get("task_id")?,
                model: row.try_get("model")?,
                sample_index,
            });
        }
        if found.len() > 1 {
            let mut task_ids: Vec<String> = found.iter().map(|s| s.task_id.clone()).collect();
            let mut models: Vec<String> = found.iter().map(|s| s.model.clone()).collect();
            for list in [&mut task_ids, &mut models] {
                list.sort();
                list.dedup();
            }
            return Ok(SampleMatch::Several { task_ids, models });
        }
        Ok(found.pop().map_or(SampleMatch::Missing, SampleMatch::One))
    }

    /// Stores (or replaces) the trajectory of `sample`: the payload goes to the blob store
    /// first, then, in one transaction, the row is upserted and the run's `trajectory_steps`
    /// recomputed from its trajectories' rows. Returns the row as stored.
    pub async fn put_trajectory(
        &self,
        sample: &SampleKey,
        new: NewTrajectory,
    ) -> Result<TrajectoryRecord, StoreError> {
        let blob_key = format!(
            "trajectories/{}/{:032x}.json",
            sample.id,
            rand::random::<u128>()
        );
        self.blobs.put_bytes(&blob_key, new.payload).await?;
        let now = now_unix();
        let written = self
            .in_transaction(async |conn| {
                // Writing the run's row first makes concurrent uploads to one run take turns
                // (a row lock on Postgres, the write lock on SQLite), so each recomputation
                // sees every committed trajectory.
                sqlx::query("UPDATE runs SET trajectory_steps = trajectory_steps WHERE id = $1")
                    .bind(&sample.run_id)
                    .execute(&mut *conn)
                    .await?;
                let previous: Option<String> =
                    sqlx::query("SELECT blob_key FROM trajectories WHERE sample_id = $1")
                        .bind(&sample.id)
                        .fetch_optional(&mut *conn)
                        .await?
                        .map(|row| row.try_get("blob_key"))
                        .transpose()?;
                sqlx::query(
                    "INSERT INTO trajectories (sample_id, run_id, schema_version, step_count, \
                     size_bytes, blob_key, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (sample_id) DO UPDATE SET \
                     schema_version = excluded.schema_version, step_count = excluded.step_count, \
                     size_bytes = excluded.size_bytes, blob_key = excluded.blob_key, \
                     updated_at = excluded.updated_at",
                )
                .bind(&sample.id)
                .bind(&sample.run_id)
                .bind(&new.schema_version)
                .bind(new.step_count)
                .bind(new.size_bytes)
                .bind(&blob_key)
                .bind(now)
                .execute(&mut *conn)
                .await?;
                sqlx::query(
                    "UPDATE runs SET trajectory_steps = (SELECT CAST(SUM(step_count) AS BIGINT) \
                     FROM trajectories WHERE trajectories.run_id = $1) WHERE id = $1",
                )
                .bind(&sample.run_id)
                .execute(&mut *conn)
                .await?;
                let row = sqlx::query(&format!(
                    "SELECT {RECORD_COLUMNS} FROM trajectories WHERE sample_id = $1"
                ))
                .bind(&sample.id)
                .fetch_one(&mut *conn)
                .await?;
                Ok((read_record(&row)?, previous))
            })
            .await;
        let (record, previous) = match written {
            Ok(done) => done,
            Err(e) => {
                self.discard_blob(&blob_key).await;
                return Err(e);
            }
        };
        if let Some(previous) = previous.filter(|p| *p != blob_key) {
            self.discard_blob(&previous).await;
        }
        Ok(record)
    }

    /// The trajectory row of a sample, if one was uploaded.
    pub async fn trajectory(
        &self,
        sample_id: &str,
    ) -> Result<Option<TrajectoryRecord>, StoreError> {
        sqlx::query(&format!(
            "SELECT {RECORD_COLUMNS} FROM trajectories WHERE sample_id = $1"
        ))
        .bind(sample_id)
        .fetch_optional(&self.pool)
        .await?
        .map(|row| read_record(&row))
        .transpose()
    }

    /// The trajectory of a sample with its payload, if one was uploaded. A payload replaced
    /// between reading the row and reading the blob is read again from the new row.
    pub async fn read_trajectory(
        &self,
        sample_id: &str,
    ) -> Result<Option<(TrajectoryRecord, Bytes)>, StoreError> {
        let mut attempts = 0;
        loop {
            let Some(record) = self.trajectory(sample_id).await? else {
                return Ok(None);
            };
            match self.blobs.get_bytes(&record.blob_key).await {
                Ok(payload) => return Ok(Some((record, payload))),
                Err(StoreError::Blob(object_store::Error::NotFound { .. })) if attempts < 2 => {
                    attempts += 1;
                }
                Err(StoreError::Blob(object_store::Error::NotFound { .. })) => {
                    return Err(StoreError::Corrupt(format!(
                        "trajectory payload {} is missing",
                        record.blob_key
                    )));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Steps summed over a run's trajectories, as stored on the run (`None` when none was
    /// uploaded).
    pub async fn trajectory_steps(&self, run_id: &str) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT trajectory_steps FROM runs WHERE id = $1")
            .bind(run_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(row.try_get("trajectory_steps")?)
    }

    async fn discard_blob(&self, key: &str) {
        if let Err(e) = self.blobs.delete(key).await {
            tracing::warn!(blob_key = key, error = %e, "could not delete a replaced trajectory payload");
        }
    }
}
