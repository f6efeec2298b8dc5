//! Assay's persistence: repositories over SQLite or Postgres (one schema, numbered migrations
//! for each backend, applied at start) and blob storage through `object_store`.
//!
//! The database is chosen by URL: `sqlite://…` (the embedded default) or `postgres://…`.
//! Queries are written once in the SQL both backends accept and run through sqlx's `Any`
//! driver, so the same repository code and the same test suite cover both.

mod agent_runs;
mod blobs;
mod cache;
mod db;
mod error;
mod files;
mod health;
mod hub_files;
mod keys;
mod runs;
mod sample_browse;
mod samples;
mod schedules;
mod score_columns;
mod shares;
mod sql;
mod suite_runs;
mod suites;
mod task_metrics;
mod token_backfill;
mod trajectories;
mod ui_sessions;
mod webhook_outbox;

pub use agent_runs::{ImportOutcome, NewImportedRun, NewTrial, TrialWrite};
pub use blobs::{BlobStore, PutOutcome, StorageConfig};
pub use db::{Backend, DatabaseConfig};
pub use error::{FaultKind, PutError, StorageFault, StorageResource, StoreError};
pub use files::{FileFilter, NewFile, StoredFile};
pub use health::{ActiveFault, Backoff, StorageHealth};
pub use hub_files::HubFile;
pub use keys::{ApiKeyRecord, NewApiKey};
pub use runs::{NewRun, RunFilter, RunRecord, RunResults};
pub use sample_browse::{
    FailureGroup, SampleBrowsePage, SampleOrder, SampleQuery, SampleSummary, PREVIEW_CHARS,
};
pub use samples::{
    redact_data_uris, score_number, NewSample, SampleFilter, SampleUpdate, SampleUsage,
    SampleWriter, StoredSample,
};
pub use schedules::{FireKind, Fired, ScheduleFilter, ScheduleRecord};
pub use score_columns::{SampleScores, ScoreColumns};
pub use shares::ShareError;
pub use sql::Reach;
pub use suite_runs::{AgentBoardFilter, AgentRunFigures, RunEntrant};
pub use suites::{NewSuite, NewVersion};
pub use task_metrics::TaskMetrics;
pub use token_backfill::{RunRefresh, TokenEstimate, UnmeasuredSample};
pub use trajectories::{NewTrajectory, SampleKey, SampleMatch, TrajectoryRecord};
pub use ui_sessions::{OpenedSession, UiSession};
pub use webhook_outbox::{Delivery, DueDelivery};

use sqlx::AnyPool;

/// Handle to everything Assay stores: the database and the blob store.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    blobs: BlobStore,
    health: StorageHealth,
}

impl Store {
    /// Connects to the database, applies pending migrations and opens the blob store.
    pub async fn open(
        database: &DatabaseConfig,
        storage: &StorageConfig,
    ) -> Result<Self, StoreError> {
        let (pool, backend) = db::connect(database).await?;
        let blobs = BlobStore::open(storage)?;
        Ok(Self {
            pool,
            backend,
            blobs,
            health: StorageHealth::default(),
        })
    }

    /// Which database engine this store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The blob store holding file contents.
    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    /// Whether the database answers; used by readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes every pooled connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
