//! Store errors.

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist or the caller may not see it.
    #[error("not found")]
    NotFound,
    /// A paging cursor names no row the caller can see.
    #[error("unknown cursor id {0}")]
    InvalidCursor(String),
    /// The write conflicts with the current state.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The batched sample writer failed to commit or has stopped.
    #[error("sample write: {0}")]
    Write(String),
    /// A stored value could not be read back.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// The configuration does not describe a usable store.
    #[error("configuration: {0}")]
    Config(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("blob storage: {0}")]
    Blob(#[from] object_store::Error),
}

impl StoreError {
    /// Whether the failure is a passing outage (the client may retry) rather than a fault.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Database(
                sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
            )
        )
    }
}

/// Why streaming an upload into blob storage failed.
#[derive(Debug, thiserror::Error)]
pub enum PutError<E> {
    /// The content exceeded the size limit; nothing was kept.
    #[error("content exceeds {limit} bytes")]
    TooLarge { limit: u64 },
    /// The source stream failed (e.g. the client went away); nothing was kept.
    #[error("upload stream: {0}")]
    Source(E),
    #[error("blob storage: {0}")]
    Blob(#[from] object_store::Error),
}
