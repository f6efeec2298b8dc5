//! Assay's model gateway: every call Assay makes to a model goes through a [`Gateway`].
//!
//! - **Registry** ([`ModelsConfig`], the `[models]` section of `assay.toml`): named endpoints of
//!   kind `responses`, `chat_completions`, `completions`, `embeddings` (OpenAI-compatible HTTP)
//!   or `local` (an in-process [`ModelBackend`] registered by the embedding crate), plus the
//!   `auto` entry per [`Role`]. [`Gateway::resolve`] turns a run's model id into a
//!   [`ResolvedModel`] without IO (`NAME`, `NAME:UPSTREAM`, `auto`), so unknown ids are
//!   rejected when a run is created.
//! - **Requests** ([`request`]): every `generation` field mapped onto each API's body.
//! - **Answers** ([`Generation`]): text with reasoning captured apart (reasoning items,
//!   `reasoning_content`, `<think>` blocks), usage reported or estimated with tiktoken
//!   `o200k_base`.
//! - **Robustness**: per-attempt timeouts, retries with full-jitter exponential backoff that
//!   honour `Retry-After`, empty-answer retries, cancellation, and a [`CallError`] taxonomy
//!   that lands in a sample's `error`.
//! - **Shared limits**: per-endpoint concurrency and requests-per-minute caps across all runs.
//! - **Cache** ([`ResponseCache`]): `use_cache` answers identical requests from a cache keyed
//!   by endpoint, upstream model and request body.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use assay_domain::generation::GenerationConfig;
//! use assay_models::{Gateway, ModelsConfig, Role};
//! use tokio_util::sync::CancellationToken;
//!
//! let config: ModelsConfig = toml::from_str(r#"
//!     [local-vllm]
//!     kind = "chat_completions"
//!     base_url = "http://127.0.0.1:8000/v1"
//!     [auto]
//!     generation = "local-vllm"
//! "#)?;
//! let gateway = Gateway::new(config)?;
//! gateway.resolve("local-vllm:Qwen/Qwen3-8B", Role::Generation)?;
//! let generation = GenerationConfig::default().normalize();
//! let answer = gateway
//!     .generate("auto", "2+2=", &generation, &CancellationToken::new())
//!     .await?;
//! println!("{} ({} attempts)", answer.output_text, answer.attempts);
//! # Ok(()) }
//! ```

pub mod backend;
pub mod cache;
pub mod config;
pub mod error;
mod gateway;
pub mod limits;
pub mod request;
pub mod response;
pub mod retry;
pub mod tokens;

pub use backend::{AudioClip, ModelBackend, OpenAiBackend};
pub use cache::{cache_key, MemoryCache, ResponseCache};
pub use config::{AutoConfig, ConfigError, EndpointConfig, EndpointKind, ModelsConfig, Role};
pub use error::{AttemptError, CallError, ErrorKind};
pub use gateway::{
    Embeddings, Gateway, GatewayBuilder, Generation, ResolvedModel, UnknownModel,
    DEFAULT_MAX_EMPTY_RETRIES, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_SECONDS,
};
pub use response::{RawEmbeddings, RawGeneration, Usage};
pub use retry::RetryPolicy;
pub use tokio_util::sync::CancellationToken;
