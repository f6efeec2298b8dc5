//! Connecting to the database and applying migrations.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

use crate::StoreError;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The `[database]` section of the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` or `postgres://…`. Empty means SQLite under the data directory.
    #[serde(default)]
    pub url: String,
    /// Largest number of pooled connections.
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
}

fn default_max_connections() -> u32 {
    8
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            max_connections: default_max_connections(),
        }
    }
}

impl DatabaseConfig {
    /// Fills in the embedded default (`DATA_DIR/assay.db`) when no URL is configured.
    pub fn with_default_under(mut self, data_dir: &Path) -> Self {
        if self.url.trim().is_empty() {
            self.url = format!("sqlite://{}", data_dir.join("assay.db").display());
        }
        self
    }
}

/// The database engine behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn from_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::Config(format!(
                "database.url must start with sqlite:// or postgres:// (got {url:?})"
            )))
        }
    }
}

pub(crate) async fn connect(config: &DatabaseConfig) -> Result<(AnyPool, Backend), StoreError> {
    sqlx::any::install_default_drivers();
    let backend = Backend::from_url(&config.url)?;
    let mut url = config.url.clone();
    if backend == Backend::Sqlite {
        if let Some(parent) = sqlite_path(&url).and_then(|p| p.parent().map(Path::to_path_buf)) {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(&parent).map_err(|e| {
                    StoreError::Config(format!("cannot create {}: {e}", parent.display()))
                })?;
            }
        }
        if !url.contains('?') {
            url.push_str("?mode=rwc");
        }
    }
    let options = AnyConnectOptions::from_str(&url)?;
    let pool = AnyPoolOptions::new()
        .max_connections(config.max_connections.max(1))
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;",
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await?;
    match backend {
        Backend::Sqlite => SQLITE_MIGRATIONS.run(&pool).await?,
        Backend::Postgres => POSTGRES_MIGRATIONS.run(&pool).await?,
    }
    Ok((pool, backend))
}

fn sqlite_path(url: &str) -> Option<&Path> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then(|| Path::new(path))
}

impl crate::Store {
    /// Runs `work` in one transaction and commits it. On any failure the transaction is
    /// rolled back; a connection that failed at the database level is closed rather than
    /// returned to the pool. SQLite rolls a transaction back by itself on a full disk or an
    /// I/O error, after which the driver's idea of the connection's transaction state is
    /// wrong: reused, such a connection can end up holding the write lock for good.
    pub(crate) async fn in_transaction<T>(
        &self,
        work: impl AsyncFnOnce(&mut sqlx::AnyConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let outcome = async {
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            let value = work(&mut tx).await?;
            tx.commit().await?;
            Ok(value)
        }
        .await;
        if outcome.as_ref().is_err_and(StoreError::is_database_error) {
            conn.close_on_drop();
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_from_url() {
        assert_eq!(Backend::from_url("sqlite://x.db").unwrap(), Backend::Sqlite);
        assert_eq!(
            Backend::from_url("postgres://u@localhost/db").unwrap(),
            Backend::Postgres
        );
        assert!(Backend::from_url("mysql://x").is_err());
    }

    #[test]
    fn sqlite_paths() {
        assert_eq!(
            sqlite_path("sqlite://data/a.db?mode=rwc"),
            Some(Path::new("data/a.db"))
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
    }
}
