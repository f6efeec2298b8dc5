//! Configuration: built-in defaults, then `assay.toml`, then `ASSAY_<SECTION>_<KEY>`
//! environment variables (e.g. `ASSAY_SERVER_BIND`, `ASSAY_DATABASE_URL`).

use std::path::{Path, PathBuf};

use anyhow::Context;
use assay_server::ServerConfig;
use assay_store::{DatabaseConfig, StorageConfig};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// Sections of `assay.toml`; environment variables are read only for these.
const SECTIONS: [&str; 9] = [
    "server",
    "database",
    "storage",
    "log",
    "models",
    "executor",
    "webhooks",
    "huggingface",
    "audio",
];

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default)]
    pub storage: StorageConfig,
    #[serde(default)]
    pub log: LogConfig,
    /// The model registry: `[models.NAME]` endpoints and `[models.auto]`.
    #[serde(default)]
    pub models: assay_models::ModelsConfig,
    #[serde(default)]
    pub executor: ExecutorSection,
    /// Where user Python (graders, preprocessors) runs: the interpreter and its limits.
    #[serde(default)]
    pub sandbox: assay_sandbox::SandboxConfig,
    /// How schedules' webhooks are delivered, and which networks they may reach.
    #[serde(default)]
    pub webhooks: WebhooksSection,
    /// Where Hugging Face datasets are read from.
    #[serde(default)]
    pub huggingface: HuggingfaceSection,
    /// Which networks transcription audio URLs may point into.
    #[serde(default)]
    pub audio: AudioSection,
}

/// The `[audio]` section.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AudioSection {
    /// Networks (CIDRs or addresses) a dataset's audio URLs may point into besides public
    /// addresses, e.g. `["10.0.0.0/8"]` for an internal media server. Default: none.
    #[serde(default)]
    pub allow_networks: Vec<String>,
}

impl AudioSection {
    /// The networks audio URLs may reach.
    pub fn policy(&self) -> anyhow::Result<assay_webhooks::TargetPolicy> {
        assay_webhooks::TargetPolicy::parse_allow(&self.allow_networks)
            .map_err(|e| anyhow::anyhow!("audio.allow_networks: {e}"))
    }
}

/// The `[huggingface]` section.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HuggingfaceSection {
    /// The Hub (or a mirror) datasets are read from (default `https://huggingface.co`).
    #[serde(default = "default_hub_endpoint")]
    pub endpoint: String,
    /// The environment variable holding the server's access token for private and gated
    /// datasets (default `HF_TOKEN`; unset means no token).
    #[serde(default = "default_hub_token_env")]
    pub token_env: String,
}

fn default_hub_endpoint() -> String {
    assay_hub::DEFAULT_ENDPOINT.to_string()
}

fn default_hub_token_env() -> String {
    "HF_TOKEN".into()
}

impl Default for HuggingfaceSection {
    fn default() -> Self {
        Self {
            endpoint: default_hub_endpoint(),
            token_env: default_hub_token_env(),
        }
    }
}

impl HuggingfaceSection {
    /// A client of the configured Hub, with the token from `token_env` when it is set.
    pub fn client(&self) -> anyhow::Result<assay_hub::HubClient> {
        let token = std::env::var(&self.token_env)
            .ok()
            .filter(|t| !t.trim().is_empty());
        let config = assay_hub::HubConfig {
            endpoint: self.endpoint.clone(),
            token,
        };
        assay_hub::HubClient::new(&config)
            .map_err(|e| anyhow::anyhow!("huggingface.endpoint {:?}: {e}", self.endpoint))
    }
}

/// The `[webhooks]` section.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksSection {
    /// Networks (CIDRs or addresses) webhook targets may be in besides public addresses,
    /// e.g. `["127.0.0.0/8", "::1/128"]` for a receiver on this machine or `["10.0.0.0/8"]`
    /// for one on a private network. Default: none — loopback, private, link-local and other
    /// special-purpose addresses are refused.
    #[serde(default)]
    pub allow_networks: Vec<String>,
    /// Seconds one delivery attempt may take (default 10).
    #[serde(default = "default_webhook_timeout")]
    pub timeout_seconds: u64,
    /// Delay before the first retry, doubling per attempt (default 5).
    #[serde(default = "default_webhook_backoff")]
    pub backoff_base_seconds: u64,
    /// Longest delay between retries (default 3600).
    #[serde(default = "default_webhook_backoff_cap")]
    pub backoff_cap_seconds: u64,
    /// Seconds after a transition its delivery is retried before it is given up (default
    /// 86400).
    #[serde(default = "default_webhook_retry_for")]
    pub retry_for_seconds: u64,
    /// Deliveries to one host in flight at once (default 4).
    #[serde(default = "default_webhook_per_target")]
    pub per_target: usize,
}

fn default_webhook_timeout() -> u64 {
    10
}

fn default_webhook_backoff() -> u64 {
    5
}

fn default_webhook_backoff_cap() -> u64 {
    3600
}

fn default_webhook_retry_for() -> u64 {
    24 * 3600
}

fn default_webhook_per_target() -> usize {
    4
}

impl Default for WebhooksSection {
    fn default() -> Self {
        Self {
            allow_networks: Vec::new(),
            timeout_seconds: default_webhook_timeout(),
            backoff_base_seconds: default_webhook_backoff(),
            backoff_cap_seconds: default_webhook_backoff_cap(),
            retry_for_seconds: default_webhook_retry_for(),
            per_target: default_webhook_per_target(),
        }
    }
}

impl WebhooksSection {
    /// The networks webhook targets may reach.
    pub fn policy(&self) -> anyhow::Result<assay_webhooks::TargetPolicy> {
        assay_webhooks::TargetPolicy::parse_allow(&self.allow_networks)
            .map_err(|e| anyhow::anyhow!("webhooks.allow_networks: {e}"))
    }

    /// The delivery settings.
    pub fn settings(&self) -> assay_engine::webhooks::WebhookSettings {
        use std::time::Duration;
        assay_engine::webhooks::WebhookSettings {
            timeout: Duration::from_secs(self.timeout_seconds.max(1)),
            backoff_base: Duration::from_secs(self.backoff_base_seconds.max(1)),
            backoff_cap: Duration::from_secs(self.backoff_cap_seconds.max(1)),
            retry_for: Duration::from_secs(self.retry_for_seconds),
            per_target: self.per_target.max(1),
            ..Default::default()
        }
    }
}

/// Where runs execute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutorKind {
    /// In the server process, leased from the database (one machine, or several servers on
    /// one Postgres).
    #[default]
    Local,
    /// As Temporal workflows, executed by `assay worker` processes.
    Temporal,
}

/// The `[executor]` section: how this process executes runs.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutorSection {
    /// `local` (default) or `temporal`.
    #[serde(default)]
    pub kind: ExecutorKind,
    /// `[executor.temporal]`: the Temporal service (address, namespace, task queue).
    #[serde(default)]
    pub temporal: assay_temporal::TemporalConfig,
    /// Name of this process in run leases (default: the host name). A restart with the same
    /// name resumes its runs at once; give each server sharing a database its own.
    #[serde(default)]
    pub node_id: Option<String>,
    /// Seconds a run lease lasts without renewal (default 30).
    #[serde(default = "default_lease_seconds")]
    pub lease_seconds: i64,
    /// Most runs this process executes at once (default 16).
    #[serde(default = "default_max_runs")]
    pub max_runs: usize,
    /// Seconds a run waits for failing storage (a full disk, an unreachable database or
    /// object store) before it fails with `storage_error` (default 600).
    #[serde(default = "default_storage_wait_seconds")]
    pub storage_wait_seconds: u64,
}

fn default_storage_wait_seconds() -> u64 {
    600
}

fn default_lease_seconds() -> i64 {
    30
}

fn default_max_runs() -> usize {
    16
}

impl Default for ExecutorSection {
    fn default() -> Self {
        Self {
            kind: ExecutorKind::Local,
            temporal: assay_temporal::TemporalConfig::default(),
            node_id: None,
            lease_seconds: default_lease_seconds(),
            max_runs: default_max_runs(),
            storage_wait_seconds: default_storage_wait_seconds(),
        }
    }
}

impl ExecutorSection {
    /// The engine's executor settings.
    pub fn to_engine(&self) -> assay_engine::ExecutorConfig {
        let defaults = assay_engine::ExecutorConfig::default();
        assay_engine::ExecutorConfig {
            node_id: self.node_id.clone().unwrap_or(defaults.node_id),
            lease_seconds: self.lease_seconds.max(3),
            max_runs: self.max_runs.max(1),
            storage_wait: std::time::Duration::from_secs(self.storage_wait_seconds.max(1)),
            ..defaults
        }
    }
}

/// The `[log]` section.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// A tracing filter, e.g. `info` or `assay_server=debug,info`.
    #[serde(default = "default_level")]
    pub level: String,
    /// `text` (default) or `json`.
    #[serde(default = "default_format")]
    pub format: String,
}

/// Info for Assay; llama.cpp's own log (target `llama-cpp-2`, chatty when loading a model)
/// from warnings up.
fn default_level() -> String {
    "info,llama-cpp-2=warn".into()
}

fn default_format() -> String {
    "text".into()
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: default_level(),
            format: default_format(),
        }
    }
}

/// Loads the configuration. `file` is the explicit `--config` / `ASSAY_CONFIG` path (it must
/// exist); without it `./assay.toml` is read when present. Relative defaults land in `data_dir`.
pub fn load(file: Option<&Path>, data_dir: &Path) -> anyhow::Result<Config> {
    let mut figment = Figment::from(Serialized::defaults(serde_json::json!({})));
    match file {
        Some(path) => {
            anyhow::ensure!(
                path.exists(),
                "config file {} does not exist",
                path.display()
            );
            figment = figment.merge(Toml::file(path));
        }
        None => {
            let default = PathBuf::from("assay.toml");
            if default.exists() {
                figment = figment.merge(Toml::file(default));
            }
        }
    }
    figment = figment.merge(env_provider());
    let config: Config = figment.extract().context("invalid configuration")?;
    Ok(Config {
        database: config.database.with_default_under(data_dir),
        storage: config.storage.with_default_under(data_dir),
        ..config
    })
}

/// `ASSAY_SERVER_MAX_UPLOAD_BYTES` → `server.max_upload_bytes`: the first segment after the
/// prefix is the section, the rest the key. Model endpoints nest one level deeper, with a
/// double underscore: `ASSAY_MODELS_VLLM__BASE_URL` → `models.vllm.base_url`.
fn env_provider() -> Env {
    Env::prefixed("ASSAY_")
        .filter(|key| {
            let key = key.as_str().to_ascii_lowercase();
            // `ASSAY_MODELS_DIR` is where local models are installed, not a registry entry.
            if key == "models_dir" {
                return false;
            }
            SECTIONS.iter().any(|s| {
                key.strip_prefix(s)
                    .is_some_and(|rest| rest.starts_with('_'))
            })
        })
        .map(|key| {
            let key = key.as_str().to_ascii_lowercase();
            match key.split_once('_') {
                Some((section, rest)) => format!("{section}.{}", rest.replace("__", ".")).into(),
                None => key.into(),
            }
        })
        .lowercase(false)
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail closures return its error type.
mod tests {
    use super::*;

    #[test]
    fn defaults_then_file_then_env() {
        figment::Jail::expect_with(|jail| {
            let data = jail.directory().join("data");
            let config = load(None, &data).expect("defaults load");
            assert_eq!(config.server.bind, "127.0.0.1:8080");
            assert!(config.database.url.starts_with("sqlite://"));
            assert!(config.database.url.ends_with("assay.db"));

            jail.create_file(
                "assay.toml",
                "[server]\nbind = \"0.0.0.0:9000\"\nmax_upload_bytes = 10\n",
            )?;
            let config = load(None, &data).expect("file loads");
            assert_eq!(config.server.bind, "0.0.0.0:9000");
            assert_eq!(config.server.max_upload_bytes, 10);

            jail.set_env("ASSAY_SERVER_MAX_UPLOAD_BYTES", "20");
            jail.set_env("ASSAY_DATABASE_URL", "postgres://u@127.0.0.1/db");
            jail.set_env("ASSAY_BOOTSTRAP_KEY", "not a config key");
            jail.set_env("ASSAY_MODELS_DIR", "/opt/models");
            let config = load(None, &data).expect("env loads");
            assert_eq!(config.server.max_upload_bytes, 20);
            assert_eq!(config.database.url, "postgres://u@127.0.0.1/db");

            jail.set_env("ASSAY_MODELS_LOCAL__KIND", "chat_completions");
            jail.set_env("ASSAY_MODELS_LOCAL__BASE_URL", "http://127.0.0.1:9/v1");
            jail.set_env("ASSAY_MODELS_AUTO__GENERATION", "local");
            let config = load(None, &data).expect("models from env");
            let local = &config.models.endpoints["local"];
            assert_eq!(local.base_url.as_deref(), Some("http://127.0.0.1:9/v1"));
            assert_eq!(config.models.auto.generation.as_deref(), Some("local"));
            Ok(())
        });
    }

    #[test]
    fn the_executor_is_local_unless_temporal_is_chosen() {
        figment::Jail::expect_with(|jail| {
            let config = load(None, jail.directory()).expect("defaults load");
            assert_eq!(config.executor.kind, ExecutorKind::Local);
            assert_eq!(config.executor.temporal.address, "http://127.0.0.1:7233");
            assert_eq!(config.executor.temporal.task_queue, "assay-runs");
            jail.create_file(
                "assay.toml",
                "[executor]\nkind = \"temporal\"\n[executor.temporal]\nnamespace = \"evals\"\n",
            )?;
            jail.set_env("ASSAY_EXECUTOR_TEMPORAL__ADDRESS", "http://10.0.0.5:7233");
            let config = load(None, jail.directory()).expect("temporal loads");
            assert_eq!(config.executor.kind, ExecutorKind::Temporal);
            assert_eq!(config.executor.temporal.namespace, "evals");
            assert_eq!(config.executor.temporal.address, "http://10.0.0.5:7233");
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_rejected() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("assay.toml", "[server]\nbnd = \"x\"\n")?;
            let err = load(None, jail.directory()).unwrap_err();
            assert!(format!("{err:#}").contains("bnd"), "{err:#}");
            Ok(())
        });
    }
}
