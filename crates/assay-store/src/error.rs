//! Store errors, and which of them are storage outages (a full disk, an unreachable database
//! or object store) rather than faults of the request or the data.

use std::fmt;

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
    /// Storage stayed unusable for longer than the caller was willing to wait.
    #[error("{0}")]
    Outage(StorageFault),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("blob storage: {0}")]
    Blob(#[from] object_store::Error),
}

/// Which part of storage is failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StorageResource {
    /// The SQLite file or the Postgres server.
    Database,
    /// The blob store (a local directory or S3).
    Blobs,
}

impl StorageResource {
    /// How operators and API clients name it.
    pub fn as_str(self) -> &'static str {
        match self {
            StorageResource::Database => "database",
            StorageResource::Blobs => "object_store",
        }
    }
}

/// How storage is failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// No space left: writes fail until space is freed.
    Full,
    /// Unreachable, failing I/O, or busy: it may answer again by itself.
    Unavailable,
}

/// A passing storage outage: what fails, how, and the underlying cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageFault {
    pub resource: StorageResource,
    pub kind: FaultKind,
    /// The error the storage reported, for operators.
    pub cause: String,
}

impl StorageFault {
    /// A sentence a user can act on.
    pub fn summary(&self) -> String {
        match (self.resource, self.kind) {
            (StorageResource::Database, FaultKind::Full) => {
                "the data directory is full: the database cannot write until space is freed"
            }
            (StorageResource::Blobs, FaultKind::Full) => {
                "the data directory is full: the blob store cannot write until space is freed"
            }
            (StorageResource::Database, FaultKind::Unavailable) => {
                "the database is unavailable; retry shortly"
            }
            (StorageResource::Blobs, FaultKind::Unavailable) => {
                "the object store is unreachable; retry shortly"
            }
        }
        .to_string()
    }
}

impl fmt::Display for StorageFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.summary(), self.cause)
    }
}

/// SQLite's primary result codes that mean storage trouble rather than a bad statement.
const SQLITE_BUSY: i64 = 5;
const SQLITE_LOCKED: i64 = 6;
const SQLITE_IOERR: i64 = 10;
const SQLITE_FULL: i64 = 13;
const SQLITE_CANTOPEN: i64 = 14;
const SQLITE_PROTOCOL: i64 = 15;

impl StoreError {
    /// Whether the failure is a passing storage outage (the operation may succeed if tried
    /// again later) rather than a fault of the request, the data or the code.
    pub fn is_unavailable(&self) -> bool {
        self.storage_fault().is_some()
    }

    /// The storage outage behind this error, if it is one.
    pub fn storage_fault(&self) -> Option<StorageFault> {
        let (resource, kind) = match self {
            StoreError::Outage(fault) => return Some(fault.clone()),
            StoreError::Database(e) => (StorageResource::Database, database_fault(e)?),
            StoreError::Blob(e) => (StorageResource::Blobs, blob_fault(e)?),
            _ => return None,
        };
        Some(StorageFault {
            resource,
            kind,
            cause: self.to_string(),
        })
    }

    /// Whether the error came from the database connection itself, so the connection's
    /// state (an open transaction, a half-read result) can no longer be trusted.
    pub(crate) fn is_database_error(&self) -> bool {
        matches!(self, StoreError::Database(_))
    }
}

fn database_fault(e: &sqlx::Error) -> Option<FaultKind> {
    match e {
        sqlx::Error::Io(io) if is_no_space(io) => Some(FaultKind::Full),
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => Some(FaultKind::Unavailable),
        sqlx::Error::Database(db) => {
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                let primary = db.code().and_then(|c| c.parse::<i64>().ok())? & 0xff;
                return match primary {
                    SQLITE_FULL => Some(FaultKind::Full),
                    SQLITE_BUSY | SQLITE_LOCKED | SQLITE_IOERR | SQLITE_CANTOPEN
                    | SQLITE_PROTOCOL => Some(FaultKind::Unavailable),
                    _ => None,
                };
            }
            let state = db.code()?;
            postgres_fault(&state)
        }
        _ => None,
    }
}

/// Postgres SQLSTATEs of a full disk or a server that is going away or not yet back.
fn postgres_fault(state: &str) -> Option<FaultKind> {
    match state {
        // disk_full, and out of memory or connections (insufficient_resources).
        "53100" => Some(FaultKind::Full),
        s if s.starts_with("53") => Some(FaultKind::Unavailable),
        // connection_exception (class 08), admin/crash shutdown, cannot_connect_now,
        // io_error, and a read-only standby after a failover.
        s if s.starts_with("08") => Some(FaultKind::Unavailable),
        "57P01" | "57P02" | "57P03" | "58030" | "25006" => Some(FaultKind::Unavailable),
        _ => None,
    }
}

fn blob_fault(e: &object_store::Error) -> Option<FaultKind> {
    use object_store::Error as E;
    match e {
        E::Generic { source, .. } => {
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(source.as_ref());
            while let Some(err) = cause {
                if let Some(io) = err.downcast_ref::<std::io::Error>() {
                    if is_no_space(io) {
                        return Some(FaultKind::Full);
                    }
                }
                cause = err.source();
            }
            Some(FaultKind::Unavailable)
        }
        E::JoinError { .. } => Some(FaultKind::Unavailable),
        _ => None,
    }
}

fn is_no_space(io: &std::io::Error) -> bool {
    io.kind() == std::io::ErrorKind::StorageFull
        || matches!(
            io.raw_os_error(),
            Some(libc_codes::ENOSPC | libc_codes::EDQUOT)
        )
}

/// The errno values of a full filesystem (Linux).
mod libc_codes {
    pub const ENOSPC: i32 = 28;
    pub const EDQUOT: i32 = 122;
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

impl<E> PutError<E> {
    /// The storage outage behind a failed put, if it is one.
    pub fn storage_fault(&self) -> Option<StorageFault> {
        match self {
            PutError::Blob(e) => Some(StorageFault {
                resource: StorageResource::Blobs,
                kind: blob_fault(e)?,
                cause: format!("blob storage: {e}"),
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_states() {
        assert_eq!(postgres_fault("53100"), Some(FaultKind::Full));
        assert_eq!(postgres_fault("53300"), Some(FaultKind::Unavailable));
        assert_eq!(postgres_fault("08006"), Some(FaultKind::Unavailable));
        assert_eq!(postgres_fault("57P01"), Some(FaultKind::Unavailable));
        assert_eq!(postgres_fault("23505"), None);
        assert_eq!(postgres_fault("42P01"), None);
    }

    #[test]
    fn full_local_directory_is_full() {
        let io = std::io::Error::from_raw_os_error(28);
        let e = object_store::Error::Generic {
            store: "LocalFileSystem",
            source: Box::new(io),
        };
        assert_eq!(blob_fault(&e), Some(FaultKind::Full));
        let missing = object_store::Error::NotFound {
            path: "x".into(),
            source: "gone".into(),
        };
        assert_eq!(blob_fault(&missing), None);
        assert!(StoreError::NotFound.storage_fault().is_none());
    }
}
