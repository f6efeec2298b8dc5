//! A real Assay server on an ephemeral port, with two tenants' keys, for HTTP tests.

#![allow(dead_code)]

use std::sync::Arc;

use assay_engine::schedules::local::LocalScheduler;
use assay_engine::schedules::{Firing, ManualClock, Schedules};
use assay_engine::webhooks::{WebhookDispatcher, WebhookSettings};
use assay_server::{AppState, ServerConfig};
use assay_store::{DatabaseConfig, NewApiKey, StorageConfig, Store};
use reqwest::multipart::{Form, Part};
use serde_json::Value;

/// The token the test server sends to the fake Hub (a private repo made with it is readable).
pub const HUB_TOKEN: &str = "hf_test_token";

pub struct TestServer {
    pub base: String,
    /// The fake model server every run of this server talks to (registry entry `fake`, also
    /// `auto`; `fake-responses` and `fake-completions` reach it through the other APIs).
    pub models: assay_testkit::FakeModelServer,
    /// The fake Hugging Face Hub the server reads `huggingface` datasets from.
    pub hub: assay_testkit::hub::FakeHub,
    /// Admin key of org `org_a`, team `team_a`.
    pub key: String,
    /// A key of another tenant (`org_b`, `team_b`).
    pub other_key: String,
    pub client: reqwest::Client,
    pub store: Store,
    pub engine: assay_engine::Engine,
    /// The time schedules and webhook deliveries see; it moves only when a test moves it.
    pub clock: Arc<ManualClock>,
    /// Fires due schedules when a test calls `tick` (no background loop).
    pub scheduler: Arc<LocalScheduler>,
    /// Delivers the webhook outbox when a test calls `pump` (no background loop); loopback
    /// targets are allowed.
    pub webhooks: Arc<WebhookDispatcher>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    database: DatabaseConfig,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(ServerConfig::default()).await
    }

    pub async fn start_with(config: ServerConfig) -> Self {
        Self::start_on(config, None).await
    }

    /// A server on a fresh database of the test Postgres (`ASSAY_TEST_POSTGRES_URL`), or None
    /// (with a note) when there is none; `database` is that database, for a second server.
    pub async fn start_on_postgres(database: Option<DatabaseConfig>) -> Option<Self> {
        let database = match database {
            Some(d) => d,
            None => {
                let Some(url) = assay_testkit::services::postgres_url() else {
                    eprintln!("SKIPPED: ASSAY_TEST_POSTGRES_URL is unset");
                    return None;
                };
                DatabaseConfig {
                    url: assay_testkit::services::fresh_postgres_database(&url).await,
                    ..Default::default()
                }
            }
        };
        Some(Self::start_on(ServerConfig::default(), Some(database)).await)
    }

    /// The database this server's store was opened on, when it is not the default.
    pub fn database(&self) -> DatabaseConfig {
        self.database.clone()
    }

    /// A server on `database` (default: SQLite under a temporary directory).
    pub async fn start_on(config: ServerConfig, database: Option<DatabaseConfig>) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().expect("tempdir");
        let database =
            database.unwrap_or_else(|| DatabaseConfig::default().with_default_under(dir.path()));
        let storage = StorageConfig::default().with_default_under(dir.path());
        let store = Store::open(&database, &storage).await.expect("store");
        let opened = database.clone();
        let key = mint(&store, "org_a", "team_a", true).await;
        let other_key = mint(&store, "org_b", "team_b", false).await;
        let models = assay_testkit::FakeModelServer::start(Default::default())
            .await
            .expect("fake model server");
        let hub = assay_testkit::hub::FakeHub::start(Default::default())
            .await
            .expect("fake hub");
        let registry: assay_models::ModelsConfig = serde_json::from_value(serde_json::json!({
            "fake": {"kind": "chat_completions", "base_url": models.openai_base_url(), "model": "fake-chat"},
            "fake-responses": {"kind": "responses", "base_url": models.openai_base_url()},
            "fake-completions": {"kind": "completions", "base_url": models.openai_base_url()},
            "fake-embeddings": {"kind": "embeddings", "base_url": models.openai_base_url()},
            "fake-asr": {"kind": "transcriptions", "base_url": models.openai_base_url(), "model": "fake-whisper"},
            "auto": {"generation": "fake", "transcription": "fake-asr"}
        }))
        .expect("registry");
        let gateway = assay_models::Gateway::builder(registry)
            .cache(Arc::new(assay_engine::cache::StoreCache(store.clone())))
            .build()
            .expect("gateway");
        let engine = assay_engine::Engine::start(
            store.clone(),
            gateway,
            assay_sandbox::Sandbox::new(Default::default()),
            assay_engine::ExecutorConfig {
                node_id: "test".into(),
                hub: Some(
                    assay_hub::HubClient::new(&assay_hub::HubConfig {
                        endpoint: hub.url(),
                        token: Some(HUB_TOKEN.into()),
                    })
                    .expect("hub client"),
                ),
                // Test audio is served on loopback.
                audio_targets: assay_webhooks::TargetPolicy::parse_allow(&[
                    "127.0.0.0/8".to_string()
                ])
                .expect("audio targets"),
                ..Default::default()
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        // 2026-01-01T00:00:00Z
        let clock = Arc::new(ManualClock::new(1_767_225_600));
        let firing = Firing {
            store: store.clone(),
            engine: engine.clone(),
        };
        let scheduler = LocalScheduler::new(firing.clone(), clock.clone());
        let targets = assay_webhooks::TargetPolicy::parse_allow(&[
            "127.0.0.0/8".to_string(),
            "::1/128".to_string(),
        ])
        .expect("policy");
        let settings = WebhookSettings {
            timeout: std::time::Duration::from_secs(5),
            backoff_base: std::time::Duration::from_secs(2),
            retry_for: std::time::Duration::from_secs(600),
            ..Default::default()
        };
        let sender = assay_webhooks::Sender::new(assay_webhooks::SenderConfig {
            timeout: settings.timeout,
            policy: targets.clone(),
            user_agent: "assay-tests".into(),
        })
        .expect("sender");
        let webhooks = WebhookDispatcher::new(store.clone(), sender, settings, clock.clone());
        let state = AppState {
            store: store.clone(),
            config: Arc::new(config),
            engine: engine.clone(),
            schedules: Schedules::new(firing, scheduler.clone(), clock.clone(), targets),
            // Quick retries: a test of a Hub outage need not wait out real backoff.
            results_hub: assay_engine::historical::ResultsHub::with_options(
                hub.url(),
                assay_hub::ClientOptions {
                    retry: assay_hub::RetryPolicy {
                        max_attempts: 3,
                        base_delay: std::time::Duration::from_millis(5),
                        max_delay: std::time::Duration::from_millis(20),
                    },
                    ..Default::default()
                },
            ),
        };
        tokio::spawn(async move {
            let _ = assay_server::serve(listener, state, async {
                let _ = rx.await;
            })
            .await;
        });
        Self {
            base: format!("http://{addr}"),
            models,
            hub,
            engine,
            clock,
            scheduler,
            webhooks,
            key,
            other_key,
            client: reqwest::Client::new(),
            store,
            shutdown: Some(tx),
            database: opened,
            _dir: dir,
        }
    }

    /// Polls a run until it reaches a terminal status (bounded: fails after 60 s).
    pub async fn wait_terminal(&self, run_id: &str) -> Value {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let (status, run) = self.get(&format!("/api/v1/llm/evals/runs/{run_id}")).await;
            assert_eq!(status, 200, "{run}");
            if ["completed", "failed", "cancelled"].contains(&run["status"].as_str().unwrap_or(""))
            {
                return run;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "run did not finish: {run}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Creates a run from `body` and waits until it is terminal; returns the run.
    pub async fn run_to_end(&self, body: &Value) -> Value {
        let (status, run) = self.post("/api/v1/llm/evals/runs", body).await;
        assert_eq!(status, 200, "{run}");
        self.wait_terminal(run["id"].as_str().expect("run id"))
            .await
    }

    /// Uploads `rows` as a JSONL file; returns its id.
    pub async fn upload_jsonl(&self, name: &str, rows: &[Value]) -> String {
        let body: String = rows.iter().map(|r| format!("{r}\n")).collect();
        self.upload(name, body.as_bytes()).await["id"]
            .as_str()
            .expect("file id")
            .to_string()
    }

    /// Creates a suite with `manifest`; returns its id.
    pub async fn create_suite(&self, manifest: Value) -> String {
        let (status, suite) = self
            .post(
                "/api/v1/llm/evals/suites",
                &serde_json::json!({"name": "runs", "manifest": manifest}),
            )
            .await;
        assert_eq!(status, 200, "{suite}");
        suite["id"].as_str().expect("suite id").to_string()
    }

    /// Every sample of a run (paging through them), filtered by `query` (`&key=value…`).
    pub async fn all_samples(&self, run_id: &str, query: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut after = String::new();
        loop {
            let mut path = format!("/api/v1/llm/evals/runs/{run_id}/samples?limit=500{query}");
            if !after.is_empty() {
                path.push_str(&format!("&after={after}"));
            }
            let (status, page) = self.get(&path).await;
            assert_eq!(status, 200, "{page}");
            out.extend(page["data"].as_array().expect("data").iter().cloned());
            if page["has_more"] != true {
                return out;
            }
            after = page["last_id"].as_str().expect("last_id").to_string();
        }
    }

    /// A file's content as text, downloaded with the first tenant's key.
    pub async fn content(&self, file_id: &str) -> String {
        self.client
            .get(self.url(&format!("/api/v1/llm/files/{file_id}/content")))
            .bearer_auth(&self.key)
            .send()
            .await
            .expect("download")
            .text()
            .await
            .expect("text body")
    }

    /// Mints a key for (`org`, `team`); returns its secret.
    pub async fn mint(&self, org: &str, team: &str, admin: bool) -> String {
        mint(&self.store, org, team, admin).await
    }

    /// The server's data directory (database, blobs).
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.client.get(self.url(path)).bearer_auth(&self.key))
            .await
    }

    pub async fn get_as(&self, key: &str, path: &str) -> (u16, Value) {
        self.send(self.client.get(self.url(path)).bearer_auth(key))
            .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(
            self.client
                .post(self.url(path))
                .bearer_auth(&self.key)
                .json(body),
        )
        .await
    }

    pub async fn post_as(&self, key: &str, path: &str, body: &Value) -> (u16, Value) {
        self.send(self.client.post(self.url(path)).bearer_auth(key).json(body))
            .await
    }

    pub async fn post_raw(&self, path: &str, body: &'static str) -> (u16, Value) {
        self.send(
            self.client
                .post(self.url(path))
                .bearer_auth(&self.key)
                .header("content-type", "application/json")
                .body(body),
        )
        .await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(
            self.client
                .patch(self.url(path))
                .bearer_auth(&self.key)
                .json(body),
        )
        .await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(self.client.delete(self.url(path)).bearer_auth(&self.key))
            .await
    }

    pub async fn delete_as(&self, key: &str, path: &str) -> (u16, Value) {
        self.send(self.client.delete(self.url(path)).bearer_auth(key))
            .await
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let bytes = response.bytes().await.expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            panic!(
                "status {status}: body is not JSON: {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        (status, body)
    }

    /// Uploads `content` as `filename` with purpose `evals`; returns the file object.
    pub async fn upload(&self, filename: &str, content: &[u8]) -> Value {
        let (status, body) = self.upload_as(&self.key, filename, content, "evals").await;
        assert_eq!(status, 200, "upload failed: {body}");
        body
    }

    pub async fn upload_as(
        &self,
        key: &str,
        filename: &str,
        content: &[u8],
        purpose: &str,
    ) -> (u16, Value) {
        let form = Form::new()
            .part(
                "file",
                Part::bytes(content.to_vec()).file_name(filename.to_string()),
            )
            .text("purpose", purpose.to_string());
        self.send(
            self.client
                .post(self.url("/api/v1/llm/files"))
                .bearer_auth(key)
                .multipart(form),
        )
        .await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.engine.shutdown();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

async fn mint(store: &Store, org: &str, team: &str, admin: bool) -> String {
    store
        .create_api_key(&NewApiKey {
            org_id: org.into(),
            team_id: team.into(),
            is_admin: admin,
            label: None,
        })
        .await
        .expect("key")
        .1
}

/// Asserts the error envelope and that its message names `path`.
pub fn assert_error(status: u16, body: &Value, want_status: u16, path: &str) {
    assert_eq!(status, want_status, "unexpected status; body: {body}");
    let error = &body["error"];
    assert!(error["message"].is_string(), "no error.message in {body}");
    assert!(error["type"].is_string(), "no error.type in {body}");
    assert_eq!(error["code"], want_status, "error.code in {body}");
    if !path.is_empty() {
        assert_eq!(error["details"]["param"], path, "error path in {body}");
        assert!(
            error["message"].as_str().unwrap_or("").contains(path),
            "message does not name {path}: {body}"
        );
    }
}

/// One metric of a finished run: `metrics.by_model[model][task].metrics[metric]`.
pub fn metric<'a>(run: &'a Value, model: &str, task: &str, metric: &str) -> &'a Value {
    &run["metrics"]["by_model"][model][task]["metrics"][metric]
}

/// Samples in dataset order.
pub fn by_index(samples: &[Value]) -> Vec<&Value> {
    let mut v: Vec<&Value> = samples.iter().collect();
    v.sort_by_key(|s| s["sample_index"].as_i64());
    v
}
