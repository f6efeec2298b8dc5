//! Storage faults in the middle of a run: the data directory's filesystem filling up, and
//! space coming back. The run must wait, say so, and finish with every sample exactly once,
//! without a restart.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use assay_testkit::services::TemporalDevServer;
use assay_testkit::{FakeModelOptions, FakeModelServer};
use common::{api, assert_each_index_once, start_with, start_worker, KEY};
use serde_json::{json, Value};

/// A small tmpfs mounted over a temporary directory (root only), unmounted on drop.
struct SmallFs {
    dir: tempfile::TempDir,
}

impl SmallFs {
    /// Mounts a tmpfs of `mib` MiB, or explains why the test cannot run here.
    fn mount(mib: u32) -> Option<Self> {
        let dir = tempfile::tempdir().expect("tempdir");
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status();
        match status {
            Ok(s) if s.success() => Some(Self { dir }),
            _ => {
                eprintln!(
                    "SKIPPED: cannot mount a small tmpfs here (needs root and mount(8)); \
                     the full-disk test did not run"
                );
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file until the filesystem is full; returns its path.
    fn fill(&self) -> PathBuf {
        let path = self.path().join("filler");
        let mut file = std::fs::File::create(&path).expect("filler");
        let chunk = vec![0u8; 4096];
        loop {
            match file.write(&chunk) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let _ = file.flush();
        path
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

async fn readyz(base: &str) -> (u16, Value) {
    let response = reqwest::get(format!("{base}/readyz"))
        .await
        .expect("readyz");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The fake model server answering after 20 ms, so a run is still going when storage fails.
async fn slow_models() -> FakeModelServer {
    FakeModelServer::start(FakeModelOptions {
        base_latency: Duration::from_millis(20),
        ..Default::default()
    })
    .await
    .expect("fake models")
}

/// Polls `/readyz` until it answers `want` (at most 60 s); returns the body.
async fn readyz_becomes(base: &str, want: u16) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = readyz(base).await;
        if status == want {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "readyz stayed {status}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_data_directory_pauses_the_run_until_space_returns() {
    let Some(fs) = SmallFs::mount(24) else { return };
    let models = slow_models().await;
    let (server, run_id) = run_in_progress(&fs.path().join("data"), &models, &[]).await;
    let a = api(&server);

    let filler = fs.fill();
    // The server notices on its next write and says so.
    let body = readyz_becomes(&server.base, 503).await;
    eprintln!("readyz while full: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("full"),
        "{body}"
    );
    let waiting = a.get(&format!("/api/v1/llm/evals/runs/{run_id}")).await;
    assert_eq!(waiting["status"], "in_progress", "{waiting}");
    assert_eq!(waiting["error"]["type"], "waiting_for_storage", "{waiting}");
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/llm/files", server.base))
        .bearer_auth(KEY)
        .multipart(
            reqwest::multipart::Form::new()
                .part(
                    "file",
                    reqwest::multipart::Part::text("{\"q\": 1}\n".repeat(1000))
                        .file_name("x.jsonl"),
                )
                .text("purpose", "evals"),
        )
        .send()
        .await
        .expect("upload");
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("envelope");
    eprintln!("upload while full: {status} {body}");
    assert_eq!(status, 507, "{body}");
    assert_eq!(body["error"]["type"], "insufficient_storage", "{body}");

    std::fs::remove_file(&filler).expect("free the space");
    assert_completes_exactly(&a, &models, &run_id).await;
    readyz_becomes(&server.base, 200).await;
}

/// A server whose blob store lives on a small filesystem that is already full, with the
/// dataset uploaded before it filled; the database has room. With `temporal`, the run
/// executes on an `assay worker` through that Temporal server. Returns the server, the
/// worker, the run (which plans and generates, since reads still work, but cannot write
/// its artifacts) and the file filling the filesystem.
async fn run_with_full_blob_store(
    fs: &SmallFs,
    data: &Path,
    models: &FakeModelServer,
    temporal: Option<&TemporalDevServer>,
    extra_env: &[(&str, String)],
) -> (
    common::Server,
    Option<tokio::process::Child>,
    String,
    PathBuf,
) {
    let mut env = vec![(
        "ASSAY_STORAGE_PATH",
        fs.path().join("blobs").display().to_string(),
    )];
    env.extend_from_slice(extra_env);
    let mut filler = None;
    let (server, worker, run_id) = start_run(data, models, temporal, &env, 40, || {
        filler = Some(fs.fill())
    })
    .await;
    (server, worker, run_id, filler.expect("filled"))
}

/// Waits for the run to sit in `finalizing` on a full blob store, frees the space, and
/// checks that it completes with both artifacts and no sample generated twice.
async fn finalize_resumes_when_space_returns(
    a: &common::Api,
    models: &FakeModelServer,
    run_id: &str,
    filler: &Path,
) {
    let waiting = a
        .wait(run_id, |r| {
            r["status"] == "finalizing" && r["error"]["type"] == "waiting_for_storage"
        })
        .await;
    assert_eq!(waiting["error"]["resource"], "object_store", "{waiting}");
    assert_eq!(waiting["request_counts"]["completed"], 40, "{waiting}");
    std::fs::remove_file(filler).expect("free the space");
    let run = a.wait_finished(run_id).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["error"], Value::Null, "{run}");
    assert_eq!(run["metrics"]["by_task"]["n"]["exact_match"], 1.0, "{run}");
    assert_eq!(
        run["artifact_file_ids"].as_array().map(Vec::len),
        Some(2),
        "{run}"
    );
    assert_eq!(models.requests().total, 40, "no sample was generated twice");
}

/// Checks that the run failed with `storage_error` after the outage outlasted the wait,
/// keeping the samples finished before it.
async fn fails_with_storage_error(a: &common::Api, run_id: &str) {
    let run = a.wait_finished(run_id).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["error"]["type"], "storage_error", "{run}");
    let message = run["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("full"), "{message}");
    assert_eq!(run["request_counts"]["completed"], 40, "{run}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_blob_store_holds_finalize_until_space_returns() {
    let Some(fs) = SmallFs::mount(2) else { return };
    let models = FakeModelServer::start(FakeModelOptions::default())
        .await
        .expect("fake models");
    let data = tempfile::tempdir().expect("data dir");
    let (server, _worker, run_id, filler) =
        run_with_full_blob_store(&fs, data.path(), &models, None, &[]).await;
    finalize_resumes_when_space_returns(&api(&server), &models, &run_id, &filler).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_fails_with_storage_error_when_the_outage_outlasts_the_wait() {
    let Some(fs) = SmallFs::mount(2) else { return };
    let models = FakeModelServer::start(FakeModelOptions::default())
        .await
        .expect("fake models");
    let data = tempfile::tempdir().expect("data dir");
    let wait = [("ASSAY_EXECUTOR_STORAGE_WAIT_SECONDS", "1".to_string())];
    let (server, _worker, run_id, _filler) =
        run_with_full_blob_store(&fs, data.path(), &models, None, &wait).await;
    fails_with_storage_error(&api(&server), &run_id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_temporal_a_full_blob_store_holds_finalize_until_space_returns() {
    let Some(temporal) = TemporalDevServer::start() else {
        return;
    };
    let Some(fs) = SmallFs::mount(2) else { return };
    let models = FakeModelServer::start(FakeModelOptions::default())
        .await
        .expect("fake models");
    let data = tempfile::tempdir().expect("data dir");
    let (server, _worker, run_id, filler) =
        run_with_full_blob_store(&fs, data.path(), &models, Some(&temporal), &[]).await;
    finalize_resumes_when_space_returns(&api(&server), &models, &run_id, &filler).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_temporal_a_run_fails_with_storage_error_when_the_outage_outlasts_the_wait() {
    let Some(temporal) = TemporalDevServer::start() else {
        return;
    };
    let Some(fs) = SmallFs::mount(2) else { return };
    let models = FakeModelServer::start(FakeModelOptions::default())
        .await
        .expect("fake models");
    let data = tempfile::tempdir().expect("data dir");
    let wait = [("ASSAY_EXECUTOR_STORAGE_WAIT_SECONDS", "1".to_string())];
    let (server, _worker, run_id, _filler) =
        run_with_full_blob_store(&fs, data.path(), &models, Some(&temporal), &wait).await;
    fails_with_storage_error(&api(&server), &run_id).await;
}

/// A private Postgres cluster this test controls (start, restart, stop), in `dir`; run as the
/// `postgres` user when the test runs as root, as initdb requires.
struct PrivatePostgres {
    bindir: PathBuf,
    data: PathBuf,
    socket_dir: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl PrivatePostgres {
    /// Creates and starts a cluster under `dir`, or explains why it cannot (no server
    /// binaries; set ASSAY_TEST_REQUIRE_POSTGRES=1 to make that a failure).
    fn start(dir: &Path) -> Option<Self> {
        let bindir = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path().join("bin"))
                    .find(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
            });
        let Some(bindir) = bindir else {
            assert!(
                std::env::var("ASSAY_TEST_REQUIRE_POSTGRES").is_err(),
                "no Postgres server binaries under /usr/lib/postgresql"
            );
            eprintln!("SKIPPED: no Postgres server binaries under /usr/lib/postgresql");
            return None;
        };
        let as_postgres = running_as_root();
        if as_postgres {
            run(std::process::Command::new("chown")
                .args(["-R", "postgres"])
                .arg(dir));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let pg = Self {
            data: dir.join("data"),
            socket_dir: dir.to_path_buf(),
            bindir,
            port,
            as_postgres,
        };
        run(pg.command("initdb").arg("-D").arg(&pg.data).args([
            "-U",
            "assay",
            "--auth=trust",
            "-E",
            "UTF8",
            "--wal-segsize=1",
        ]));
        pg.ctl(&["start"]);
        Some(pg)
    }

    fn command(&self, program: &str) -> std::process::Command {
        let path = self.bindir.join(program);
        if self.as_postgres {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            std::process::Command::new(path)
        }
    }

    fn ctl(&self, args: &[&str]) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c max_wal_size=8MB -c min_wal_size=2MB",
            self.port,
            self.socket_dir.display()
        );
        run(self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-w", "-m", "fast", "-o", &options])
            .arg("-l")
            .arg(self.socket_dir.join("server.log"))
            .args(args));
    }

    /// Starts the server unless it is already running (it may have stopped on its own).
    fn ensure_running(&self) {
        let status = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .arg("status")
            .stdout(std::process::Stdio::null())
            .status()
            .expect("pg_ctl status");
        if !status.success() {
            self.ctl(&["start"]);
        }
    }

    fn url(&self) -> String {
        format!("postgres://assay@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "stop"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

fn running_as_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn run(command: &mut std::process::Command) {
    let output = command.output().expect("command starts");
    assert!(
        output.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Starts `assay serve` with `env` (beside the fake model registry entry), creates a
/// 200-sample run and waits until 32 are done.
async fn run_in_progress(
    data: &Path,
    models: &FakeModelServer,
    env: &[(&str, String)],
) -> (common::Server, String) {
    let (server, _, run_id) = run_in_progress_on(data, models, None, env).await;
    (server, run_id)
}

/// Like [`run_in_progress`], executing on an `assay worker` through `temporal` when given.
async fn run_in_progress_on(
    data: &Path,
    models: &FakeModelServer,
    temporal: Option<&TemporalDevServer>,
    env: &[(&str, String)],
) -> (common::Server, Option<tokio::process::Child>, String) {
    let (server, worker, run_id) = start_run(data, models, temporal, env, 200, || {}).await;
    api(&server)
        .wait(&run_id, |r| {
            r["request_counts"]["completed"].as_i64().unwrap_or(0) >= 32
        })
        .await;
    (server, worker, run_id)
}

/// Starts `assay serve` with `env` beside the fake model registry entry (and an `assay
/// worker` through `temporal` when given), uploads a suite of `rows` rows, calls
/// `before_run`, and creates a run of it.
async fn start_run(
    data: &Path,
    models: &FakeModelServer,
    temporal: Option<&TemporalDevServer>,
    env: &[(&str, String)],
    rows: usize,
    before_run: impl FnOnce(),
) -> (common::Server, Option<tokio::process::Child>, String) {
    let mut all = vec![
        ("ASSAY_MODELS_FAKE__KIND", "chat_completions".to_string()),
        ("ASSAY_MODELS_FAKE__BASE_URL", models.openai_base_url()),
    ];
    if let Some(temporal) = temporal {
        all.push(("ASSAY_EXECUTOR_KIND", "temporal".to_string()));
        all.push(("ASSAY_EXECUTOR_TEMPORAL__ADDRESS", temporal.url()));
    }
    all.extend_from_slice(env);
    let server = start_with(data, &all).await;
    let worker = match temporal {
        Some(_) => Some(start_worker(data, &all).await),
        None => None,
    };
    let a = api(&server);
    let suite = a.suite(rows, "fault").await;
    before_run();
    let run = a
        .post(
            "/api/v1/llm/evals/runs",
            &json!({"suite_id": suite, "models": ["fake"], "generation_concurrency": 4}),
        )
        .await;
    let run_id = run["id"].as_str().expect("run id").to_string();
    (server, worker, run_id)
}

async fn assert_completes_exactly(a: &common::Api, models: &FakeModelServer, run_id: &str) {
    let run = a.wait_finished(run_id).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["error"], Value::Null, "{run}");
    assert_eq!(
        run["request_counts"],
        json!({"total": 200, "completed": 200, "failed": 0})
    );
    assert_eq!(run["metrics"]["by_task"]["n"]["exact_match"], 1.0, "{run}");
    assert_eq!(
        run["metrics"]["by_model"]["fake"]["n"]["metrics"]["exact_match"]["n"], 200,
        "{run}"
    );
    assert_each_index_once(&a.samples(run_id).await, 200);
    // A call in flight when the connection dropped may be repeated; no finished one is.
    assert!(
        models.requests().total <= 200 + 4,
        "{} calls",
        models.requests().total
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_mid_run_the_run_completes_without_a_server_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(pg) = PrivatePostgres::start(dir.path()) else {
        return;
    };
    let models = slow_models().await;
    let data = tempfile::tempdir().expect("data dir");
    let (server, run_id) =
        run_in_progress(data.path(), &models, &[("ASSAY_DATABASE_URL", pg.url())]).await;
    pg.ctl(&["restart"]);
    let a = api(&server);
    assert_completes_exactly(&a, &models, &run_id).await;
    readyz_becomes(&server.base, 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_postgres_data_directory_pauses_the_run_until_space_returns() {
    let Some(fs) = SmallFs::mount(96) else { return };
    let Some(pg) = PrivatePostgres::start(fs.path()) else {
        return;
    };
    let models = slow_models().await;
    let data = tempfile::tempdir().expect("data dir");
    let (server, run_id) =
        run_in_progress(data.path(), &models, &[("ASSAY_DATABASE_URL", pg.url())]).await;
    let filler = fs.fill();
    let body = readyz_becomes(&server.base, 503).await;
    eprintln!("readyz while Postgres is full: {body}");
    std::fs::remove_file(&filler).expect("free the space");
    // Postgres may have shut itself down on the full disk; an operator starts it again.
    // Assay itself is not restarted.
    pg.ensure_running();
    let a = api(&server);
    assert_completes_exactly(&a, &models, &run_id).await;
}

/// A TCP proxy in front of the S3 stand-in that the test can unplug: while unplugged it
/// drops open connections and every new one, as an unreachable object store would.
struct Plug {
    addr: std::net::SocketAddr,
    up: tokio::sync::watch::Sender<bool>,
}

impl Plug {
    async fn start(target: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let (up, watch) = tokio::sync::watch::channel(true);
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut watch = watch.clone();
                if !*watch.borrow() {
                    continue;
                }
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = watch.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Self { addr, up }
    }

    fn set(&self, up: bool) {
        let _ = self.up.send(up);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_object_storage_holds_finalize_until_it_answers_again() {
    let (Ok(endpoint), Ok(bucket)) = (
        std::env::var("ASSAY_TEST_S3_ENDPOINT"),
        std::env::var("ASSAY_TEST_S3_BUCKET"),
    ) else {
        assert!(
            std::env::var("ASSAY_TEST_REQUIRE_S3").is_err(),
            "ASSAY_TEST_REQUIRE_S3=1 but ASSAY_TEST_S3_ENDPOINT is unset"
        );
        eprintln!("SKIPPED: ASSAY_TEST_S3_ENDPOINT unset (scripts/test starts a local S3 server)");
        return;
    };
    let target = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let plug = Plug::start(target.to_string()).await;
    let models = slow_models().await;
    let data = tempfile::tempdir().expect("data dir");
    let server = start_with(
        data.path(),
        &[
            ("ASSAY_MODELS_FAKE__KIND", "chat_completions".to_string()),
            ("ASSAY_MODELS_FAKE__BASE_URL", models.openai_base_url()),
            ("ASSAY_STORAGE_KIND", "s3".to_string()),
            ("ASSAY_STORAGE_BUCKET", bucket),
            ("ASSAY_STORAGE_ENDPOINT", format!("http://{}", plug.addr)),
            ("ASSAY_STORAGE_ALLOW_HTTP", "true".to_string()),
            (
                "ASSAY_STORAGE_PREFIX",
                format!("outage-{}", std::process::id()),
            ),
        ],
    )
    .await;
    let a = api(&server);
    let suite = a.suite(40, "s3outage").await;
    let run = a
        .post(
            "/api/v1/llm/evals/runs",
            &json!({"suite_id": suite, "models": ["fake"], "generation_concurrency": 2}),
        )
        .await;
    let run_id = run["id"].as_str().expect("run id").to_string();
    // Planned (it read its dataset); now the object store goes away.
    a.wait(&run_id, |r| {
        r["request_counts"]["completed"].as_i64().unwrap_or(0) >= 1
    })
    .await;
    plug.set(false);
    let waiting = a
        .wait(&run_id, |r| {
            r["status"] == "finalizing" && r["error"]["type"] == "waiting_for_storage"
        })
        .await;
    assert_eq!(waiting["error"]["resource"], "object_store", "{waiting}");
    let body = readyz_becomes(&server.base, 503).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("object store is unreachable"),
        "{body}"
    );
    plug.set(true);
    let run = a.wait_finished(&run_id).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["error"], Value::Null, "{run}");
    assert_eq!(
        run["artifact_file_ids"].as_array().map(Vec::len),
        Some(2),
        "{run}"
    );
    assert_eq!(models.requests().total, 40, "no sample was generated twice");
    readyz_becomes(&server.base, 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_temporal_postgres_restarted_mid_run_the_run_completes() {
    let Some(temporal) = TemporalDevServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(pg) = PrivatePostgres::start(dir.path()) else {
        return;
    };
    let models = slow_models().await;
    let data = tempfile::tempdir().expect("data dir");
    let (server, _worker, run_id) = run_in_progress_on(
        data.path(),
        &models,
        Some(&temporal),
        &[("ASSAY_DATABASE_URL", pg.url())],
    )
    .await;
    pg.ctl(&["restart"]);
    assert_completes_exactly(&api(&server), &models, &run_id).await;
}
