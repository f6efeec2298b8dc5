//! The gateway: model resolution and the call loop (limits, timeouts, retries, empty retries,
//! cache, reasoning capture and usage).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use assay_domain::generation::GenerationConfig;
use reqwest::Client;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::backend::{AudioClip, ModelBackend, OpenAiBackend};
use crate::cache::{cache_key, MemoryCache, ResponseCache};
use crate::config::{ConfigError, EndpointConfig, EndpointKind, ModelsConfig, Role};
use crate::error::{AttemptError, CallError, ErrorKind};
use crate::limits::EndpointLimits;
use crate::request::prefill_prefix;
use crate::response::{apply_stop, split_think, RawGeneration, Usage};
use crate::retry::RetryPolicy;
use crate::tokens::{count_tokens, estimate_usage};

/// Per-attempt timeout when neither the call nor the endpoint sets one.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 120;
/// Retries after a retryable failure when the call does not say (`max_retries`).
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// Extra attempts after an empty answer when the call does not say (`max_empty_retries`).
pub const DEFAULT_MAX_EMPTY_RETRIES: u32 = 0;

/// A run's model id resolved against the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedModel {
    /// The registry entry that serves it.
    pub endpoint: String,
    /// That entry's kind.
    pub kind: EndpointKind,
    /// The model name sent upstream.
    pub upstream_model: String,
}

/// A model id that names nothing usable for its role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown model {model:?}: {reason}")]
pub struct UnknownModel {
    /// The id as given.
    pub model: String,
    /// Why it does not resolve.
    pub reason: String,
}

impl ModelsConfig {
    /// Resolves a run's model id for `role`, without IO:
    /// 1. an exact registry name → that endpoint with its configured upstream model (default:
    ///    the name itself);
    /// 2. `PREFIX:REST` where PREFIX is a registry name → that endpoint with upstream model REST;
    /// 3. `auto` → the entry `[models.auto]` names for the role;
    /// 4. anything else → [`UnknownModel`]. An endpoint whose kind cannot serve the role (an
    ///    embeddings endpoint for generation, or the reverse) is also an [`UnknownModel`].
    pub fn resolve(&self, model: &str, role: Role) -> Result<ResolvedModel, UnknownModel> {
        let unknown = |reason: String| UnknownModel {
            model: model.to_string(),
            reason,
        };
        let entry = |name: &str, ep: &EndpointConfig, upstream: Option<&str>| {
            if !ep.kind.serves(role) {
                return Err(unknown(format!(
                    "{name:?} is a {} endpoint and cannot serve the {role} role",
                    ep.kind
                )));
            }
            Ok(ResolvedModel {
                endpoint: name.to_string(),
                kind: ep.kind,
                upstream_model: upstream.or(ep.model.as_deref()).unwrap_or(name).to_string(),
            })
        };
        if let Some(ep) = self.endpoints.get(model) {
            return entry(model, ep, None);
        }
        if model == "auto" {
            let Some(name) = self.auto.for_role(role) else {
                return Err(unknown(format!(
                    "no auto model is configured for the {role} role"
                )));
            };
            let ep = self
                .endpoints
                .get(name)
                .ok_or_else(|| unknown(format!("auto.{role} names no endpoint: {name:?}")))?;
            return entry(name, ep, None);
        }
        if let Some((prefix, rest)) = model.split_once(':') {
            if let Some(ep) = self.endpoints.get(prefix) {
                if rest.is_empty() {
                    return Err(unknown(format!("no upstream model after {prefix:?}:")));
                }
                return entry(prefix, ep, Some(rest));
            }
        }
        let mut known: Vec<&str> = self.endpoints.keys().map(String::as_str).take(20).collect();
        if self.endpoints.len() > known.len() {
            known.push("…");
        }
        Err(unknown(if known.is_empty() {
            "no model endpoints are configured".to_string()
        } else {
            format!(
                "not a registry entry, `NAME:UPSTREAM` or `auto` (entries: {})",
                known.join(", ")
            )
        }))
    }
}

/// One model answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    /// The answer, with any reasoning removed and cut at the first stop sequence.
    pub output_text: String,
    /// Reasoning captured apart from the answer: Responses reasoning items, chat
    /// `reasoning_content` / `reasoning`, or a `<think>…</think>` block.
    pub reasoning: Option<String>,
    /// The provider's response id.
    pub response_id: Option<String>,
    /// Token usage (reported, else estimated).
    pub usage: Usage,
    /// Requests sent for this answer (0 when it came from the cache).
    #[serde(default)]
    pub attempts: u32,
    /// Wall time of the whole call, retries and waits included, in milliseconds.
    #[serde(default)]
    pub latency_ms: u64,
}

/// Embedding vectors for a batch of texts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Embeddings {
    /// One vector per input text, in order.
    pub vectors: Vec<Vec<f32>>,
    /// Token usage (`output_tokens` is 0).
    pub usage: Usage,
}

struct EndpointState {
    config: EndpointConfig,
    backend: Arc<dyn ModelBackend>,
    limits: EndpointLimits,
}

struct Inner {
    config: ModelsConfig,
    endpoints: HashMap<String, EndpointState>,
    cache: Option<Arc<dyn ResponseCache>>,
    retry: RetryPolicy,
}

/// The model gateway. Cheap to clone; clones share limits, cache and connections.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

impl fmt::Debug for Gateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gateway")
            .field("config", &self.inner.config)
            .field("retry", &self.inner.retry)
            .field("cache", &self.inner.cache.is_some())
            .finish()
    }
}

/// Builds a [`Gateway`]: custom backends (e.g. local models), cache, retry timing, HTTP client.
pub struct GatewayBuilder {
    config: ModelsConfig,
    backends: HashMap<String, Arc<dyn ModelBackend>>,
    cache: Option<Arc<dyn ResponseCache>>,
    retry: RetryPolicy,
    client: Option<Client>,
}

impl GatewayBuilder {
    /// Serves the endpoint `name` with `backend` instead of the built-in HTTP client. Required
    /// for every `kind = "local"` endpoint.
    pub fn backend(mut self, name: impl Into<String>, backend: Arc<dyn ModelBackend>) -> Self {
        self.backends.insert(name.into(), backend);
        self
    }

    /// The cache behind `use_cache` (default: a [`MemoryCache`]).
    pub fn cache(mut self, cache: Arc<dyn ResponseCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// No cache: `use_cache` is ignored.
    pub fn without_cache(mut self) -> Self {
        self.cache = None;
        self
    }

    /// Retry timing (default: 500 ms base, 30 s cap, `Retry-After` up to 120 s).
    pub fn retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The HTTP client shared by all HTTP endpoints (default: a rustls client).
    pub fn http_client(mut self, client: Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Validates the registry and builds the gateway.
    pub fn build(self) -> Result<Gateway, ConfigError> {
        self.config.validate()?;
        for name in self.backends.keys() {
            if !self.config.endpoints.contains_key(name) {
                return Err(ConfigError::new(
                    name.clone(),
                    "a backend was registered for an endpoint that is not configured",
                ));
            }
        }
        let client = match self.client {
            Some(c) => c,
            None => Client::builder()
                .build()
                .map_err(|e| ConfigError::new("", format!("cannot build HTTP client: {e}")))?,
        };
        let mut endpoints = HashMap::new();
        for (name, ep) in &self.config.endpoints {
            let backend = match self.backends.get(name) {
                Some(b) => b.clone(),
                None if ep.kind.is_http() => Arc::new(OpenAiBackend::new(
                    ep.kind,
                    ep.base_url.as_deref().unwrap_or_default(),
                    ep.api_key_env.as_deref(),
                    client.clone(),
                )) as Arc<dyn ModelBackend>,
                None => {
                    return Err(ConfigError::new(
                        format!("{name}.kind"),
                        format!("no backend is available for kind {}", ep.kind),
                    ))
                }
            };
            endpoints.insert(
                name.clone(),
                EndpointState {
                    config: ep.clone(),
                    backend,
                    limits: EndpointLimits::new(ep.max_concurrency, ep.requests_per_minute),
                },
            );
        }
        for role in [
            Role::Generation,
            Role::Judge,
            Role::Embedding,
            Role::Transcription,
        ] {
            let Some(name) = self.config.auto.for_role(role) else {
                continue;
            };
            if let Some(ep) = endpoints.get(name) {
                if !ep.backend.serves(role) {
                    return Err(ConfigError::new(
                        format!("auto.{role}"),
                        unserved(name, ep.config.kind, role),
                    ));
                }
            }
        }
        Ok(Gateway {
            inner: Arc::new(Inner {
                config: self.config,
                endpoints,
                cache: self.cache,
                retry: self.retry,
            }),
        })
    }
}

/// Attempts made and retries used so far in one call.
#[derive(Default)]
struct Budget {
    attempts: u32,
    retries: u32,
}

/// Why endpoint `name` of `kind` cannot serve `role` although its kind could.
fn unserved(name: &str, kind: EndpointKind, role: Role) -> String {
    format!("{name:?} is a {kind} model that cannot serve the {role} role")
}

fn cancelled() -> AttemptError {
    AttemptError::new(ErrorKind::Cancelled, "the call was cancelled")
}

fn to_u32(v: Option<i64>, default: u32) -> u32 {
    v.map(|n| n.clamp(0, i64::from(u32::MAX)) as u32)
        .unwrap_or(default)
}

impl Gateway {
    /// A gateway over `config` with the default cache, retry timing and HTTP client.
    pub fn new(config: ModelsConfig) -> Result<Gateway, ConfigError> {
        Self::builder(config).build()
    }

    /// A builder over `config`.
    pub fn builder(config: ModelsConfig) -> GatewayBuilder {
        GatewayBuilder {
            config,
            backends: HashMap::new(),
            cache: Some(Arc::new(MemoryCache::default())),
            retry: RetryPolicy::default(),
            client: None,
        }
    }

    /// The registry.
    pub fn config(&self) -> &ModelsConfig {
        &self.inner.config
    }

    /// Resolves a run's model id for `role` (see [`ModelsConfig::resolve`]), also refusing an
    /// endpoint whose backend cannot serve the role ([`ModelBackend::serves`]: a local
    /// transcription model named as a generator, say). No IO.
    pub fn resolve(&self, model: &str, role: Role) -> Result<ResolvedModel, UnknownModel> {
        let resolved = self.inner.config.resolve(model, role)?;
        match self.inner.endpoints.get(&resolved.endpoint) {
            Some(ep) if !ep.backend.serves(role) => Err(UnknownModel {
                model: model.to_string(),
                reason: unserved(&resolved.endpoint, ep.config.kind, role),
            }),
            _ => Ok(resolved),
        }
    }

    fn endpoint(&self, target: &ResolvedModel) -> Result<&EndpointState, CallError> {
        self.inner.endpoints.get(&target.endpoint).ok_or_else(|| {
            CallError::new(
                ErrorKind::BadRequest,
                format!("no endpoint named {:?}", target.endpoint),
                0,
            )
        })
    }

    /// The request body a generation would send (what the cache key hashes).
    pub fn request_body(
        &self,
        target: &ResolvedModel,
        prompt: &str,
        config: &GenerationConfig,
    ) -> Result<serde_json::Value, CallError> {
        Ok(self
            .endpoint(target)?
            .backend
            .generation_request(target, prompt, config))
    }

    /// Generates an answer to `prompt` with the candidate model `model` (resolved for
    /// [`Role::Generation`]; an unknown id is a `bad_request` error with no attempt).
    /// `config` should be normalized ([`GenerationConfig::normalize`]).
    pub async fn generate(
        &self,
        model: &str,
        prompt: &str,
        config: &GenerationConfig,
        cancel: &CancellationToken,
    ) -> Result<Generation, CallError> {
        let target = self
            .resolve(model, Role::Generation)
            .map_err(|e| CallError::new(ErrorKind::BadRequest, e.to_string(), 0))?;
        self.generate_resolved(&target, prompt, config, cancel)
            .await
    }

    /// Generates with an already resolved model (e.g. a judge resolved for [`Role::Judge`]).
    ///
    /// Per attempt: wait for the endpoint's concurrency slot and rate limiter, then send with
    /// a timeout of `timeout_seconds` (else the endpoint's, else 120 s). Retryable failures
    /// (429, 408, 409, 5xx, timeouts, connection errors) are retried up to `max_retries`
    /// (default 2) times after the provider's `Retry-After` or a full-jitter exponential
    /// backoff; an empty answer is re-asked up to `max_empty_retries` (default 0) times, then
    /// fails as `empty_output`. With `use_cache: true` an identical earlier request is answered
    /// from the cache (`attempts: 0`). Cancelling `cancel` ends the call at once with
    /// `cancelled`, whatever it is waiting for.
    pub async fn generate_resolved(
        &self,
        target: &ResolvedModel,
        prompt: &str,
        config: &GenerationConfig,
        cancel: &CancellationToken,
    ) -> Result<Generation, CallError> {
        let start = Instant::now();
        let ep = self.endpoint(target)?;
        if cancel.is_cancelled() {
            return Err(cancelled().into_call(0));
        }
        let request = ep.backend.generation_request(target, prompt, config);
        let cache = self.cache_for(target, &request, config);
        if let Some(hit) = cached(cache.as_ref(), cancel, start).await? {
            return Ok(hit);
        }
        let timeout = self.timeout(ep, config.timeout_seconds);
        let max_retries = to_u32(config.max_retries, DEFAULT_MAX_RETRIES);
        let max_empty = to_u32(config.max_empty_retries, DEFAULT_MAX_EMPTY_RETRIES);
        let stop = config.stop_sequences();
        // The thinking prefix the request ends with (Chat and Completions only).
        let prefill = match target.kind {
            EndpointKind::ChatCompletions | EndpointKind::Completions => prefill_prefix(config),
            _ => None,
        };
        let mut budget = Budget::default();
        let mut empties = 0;
        loop {
            let raw = self
                .with_retries(
                    ep,
                    target,
                    timeout,
                    max_retries,
                    cancel,
                    &mut budget,
                    || ep.backend.generate(target, &request),
                )
                .await?;
            let mut g = finish(raw, prompt, config, &stop, prefill);
            if g.output_text.trim().is_empty() {
                if empties < max_empty {
                    empties += 1;
                    tracing::debug!(endpoint = %target.endpoint, attempt = budget.attempts, "empty answer, asking again");
                    continue;
                }
                return Err(CallError::new(
                    ErrorKind::EmptyOutput,
                    format!(
                        "the model returned an empty answer ({} empty retries used)",
                        empties
                    ),
                    budget.attempts,
                ));
            }
            g.attempts = budget.attempts;
            g.latency_ms = start.elapsed().as_millis() as u64;
            if let Some((cache, key)) = &cache {
                if let Ok(v) = serde_json::to_value(&g) {
                    cache.put(key, v).await;
                }
            }
            return Ok(g);
        }
    }

    /// Embeds `texts` with `model` (resolved for [`Role::Embedding`]), one request for the
    /// whole batch, with the endpoint's timeout and the default retry policy.
    pub async fn embed(&self, model: &str, texts: &[String]) -> Result<Embeddings, CallError> {
        let target = self
            .resolve(model, Role::Embedding)
            .map_err(|e| CallError::new(ErrorKind::BadRequest, e.to_string(), 0))?;
        self.embed_resolved(&target, texts, &CancellationToken::new())
            .await
    }

    /// Embeds with an already resolved model, cancellable. Usage missing from the response is
    /// estimated with tiktoken `o200k_base`.
    pub async fn embed_resolved(
        &self,
        target: &ResolvedModel,
        texts: &[String],
        cancel: &CancellationToken,
    ) -> Result<Embeddings, CallError> {
        let ep = self.endpoint(target)?;
        if texts.is_empty() {
            return Ok(Embeddings {
                vectors: Vec::new(),
                usage: Usage::default(),
            });
        }
        if cancel.is_cancelled() {
            return Err(cancelled().into_call(0));
        }
        let timeout = self.timeout(ep, None);
        let mut budget = Budget::default();
        let raw = self
            .with_retries(
                ep,
                target,
                timeout,
                DEFAULT_MAX_RETRIES,
                cancel,
                &mut budget,
                || ep.backend.embed(target, texts),
            )
            .await?;
        let usage = raw.usage.unwrap_or_else(|| Usage {
            input_tokens: texts.iter().map(|t| count_tokens(t)).sum(),
            output_tokens: 0,
            cached_tokens: None,
            reasoning_tokens: None,
            estimated: true,
        });
        Ok(Embeddings {
            vectors: raw.vectors,
            usage,
        })
    }

    /// Transcribes `audio` with an already resolved model (for [`Role::Transcription`]),
    /// `language` as a hint, with the same per-attempt timeout, retries and cancellation as a
    /// generation; with `use_cache: true` an identical earlier request (same endpoint, model,
    /// audio bytes and language) is answered from the cache. Usage is counted from the
    /// transcript (`output_tokens`, estimated).
    pub async fn transcribe_resolved(
        &self,
        target: &ResolvedModel,
        audio: &AudioClip,
        language: Option<&str>,
        config: &GenerationConfig,
        cancel: &CancellationToken,
    ) -> Result<Generation, CallError> {
        let start = Instant::now();
        let ep = self.endpoint(target)?;
        if cancel.is_cancelled() {
            return Err(cancelled().into_call(0));
        }
        let identity = serde_json::json!({
            "transcription": {
                "audio_sha256": hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&audio.bytes)),
                "mime": audio.mime,
                "language": language,
            }
        });
        let cache = self.cache_for(target, &identity, config);
        if let Some(hit) = cached(cache.as_ref(), cancel, start).await? {
            return Ok(hit);
        }
        let timeout = self.timeout(ep, config.timeout_seconds);
        let max_retries = to_u32(config.max_retries, DEFAULT_MAX_RETRIES);
        let mut budget = Budget::default();
        let text = self
            .with_retries(
                ep,
                target,
                timeout,
                max_retries,
                cancel,
                &mut budget,
                || ep.backend.transcribe(target, audio, language),
            )
            .await?;
        let g = Generation {
            usage: Usage {
                input_tokens: 0,
                output_tokens: count_tokens(&text) as u64,
                cached_tokens: None,
                reasoning_tokens: None,
                estimated: true,
            },
            output_text: text,
            reasoning: None,
            response_id: None,
            attempts: budget.attempts,
            latency_ms: start.elapsed().as_millis() as u64,
        };
        if let Some((cache, key)) = &cache {
            if let Ok(v) = serde_json::to_value(&g) {
                cache.put(key, v).await;
            }
        }
        Ok(g)
    }

    /// The cache and the key of `request` when the call asks for the cache (`use_cache`).
    fn cache_for(
        &self,
        target: &ResolvedModel,
        request: &serde_json::Value,
        config: &GenerationConfig,
    ) -> Option<(Arc<dyn ResponseCache>, String)> {
        match (&self.inner.cache, config.use_cache) {
            (Some(cache), Some(true)) => Some((
                cache.clone(),
                cache_key(&target.endpoint, &target.upstream_model, request),
            )),
            _ => None,
        }
    }

    fn timeout(&self, ep: &EndpointState, call: Option<i64>) -> Duration {
        let secs = call
            .filter(|s| *s > 0)
            .map(|s| s as u64)
            .or(ep.config.timeout_seconds)
            .unwrap_or(DEFAULT_TIMEOUT_SECONDS);
        Duration::from_secs(secs)
    }

    /// Runs attempts of `op` until one succeeds, a failure is not retryable, the retry budget
    /// is spent or `cancel` fires.
    #[allow(clippy::too_many_arguments)]
    async fn with_retries<T, F, Fut>(
        &self,
        ep: &EndpointState,
        target: &ResolvedModel,
        timeout: Duration,
        max_retries: u32,
        cancel: &CancellationToken,
        budget: &mut Budget,
        mut op: F,
    ) -> Result<T, CallError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AttemptError>>,
    {
        loop {
            let result = tokio::select! {
                biased;
                _ = cancel.cancelled() => Err(cancelled()),
                r = async {
                    let _permit = ep.limits.acquire().await;
                    budget.attempts += 1;
                    match tokio::time::timeout(timeout, op()).await {
                        Ok(r) => r,
                        Err(_) => Err(AttemptError::new(
                            ErrorKind::Timeout,
                            format!("no response within {} s", timeout.as_secs_f64()),
                        )),
                    }
                } => r,
            };
            let err = match result {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            if !err.retryable || budget.retries >= max_retries {
                return Err(err.into_call(budget.attempts));
            }
            let delay = self.inner.retry.delay(budget.retries, err.retry_after);
            budget.retries += 1;
            tracing::debug!(
                endpoint = %target.endpoint,
                attempt = budget.attempts,
                error = %err,
                delay_ms = delay.as_millis() as u64,
                "model call failed, retrying"
            );
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(cancelled().into_call(budget.attempts)),
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }
}

/// Post-processes one answer: reasoning split, client-side stop, usage (estimated when the
/// provider sent none). With a `prefill` prefix the model continued our open thinking block,
/// so when its text closes a block it did not open, the prefix is put back in front first
/// (a custom prefix such as `<think>Let me` thus starts the reasoning).
/// An earlier answer from the cache (`attempts: 0`), if any; cancellable.
async fn cached(
    cache: Option<&(Arc<dyn ResponseCache>, String)>,
    cancel: &CancellationToken,
    start: Instant,
) -> Result<Option<Generation>, CallError> {
    let Some((cache, key)) = cache else {
        return Ok(None);
    };
    let hit = tokio::select! {
        biased;
        _ = cancel.cancelled() => return Err(cancelled().into_call(0)),
        hit = cache.get(key) => hit,
    };
    Ok(hit
        .and_then(|v| serde_json::from_value::<Generation>(v).ok())
        .map(|g| Generation {
            attempts: 0,
            latency_ms: start.elapsed().as_millis() as u64,
            ..g
        }))
}

fn finish(
    raw: RawGeneration,
    prompt: &str,
    config: &GenerationConfig,
    stop: &[String],
    prefill: Option<&str>,
) -> Generation {
    let continued = match prefill {
        Some(prefix)
            if raw.text.contains("</think>") && !raw.text.trim_start().starts_with("<think>") =>
        {
            Some(format!("{prefix}{}", raw.text))
        }
        _ => None,
    };
    let (answer, think) = split_think(continued.as_deref().unwrap_or(&raw.text));
    let reasoning = match (raw.reasoning, think.filter(|t| !t.is_empty())) {
        (Some(a), Some(b)) => Some(format!("{a}\n\n{b}")),
        (a, b) => a.or(b),
    };
    let output_text = apply_stop(&answer, stop);
    let usage = raw.usage.unwrap_or_else(|| {
        estimate_usage(
            config.instructions.as_deref(),
            prompt,
            &output_text,
            reasoning.as_deref(),
        )
    });
    Generation {
        output_text,
        reasoning,
        response_id: raw.response_id,
        usage,
        attempts: 0,
        latency_ms: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> ModelsConfig {
        let toml = r#"
            [gpt]
            kind = "responses"
            base_url = "http://127.0.0.1:9/v1"
            model = "gpt-4.1-mini"
            [vllm]
            kind = "chat_completions"
            base_url = "http://127.0.0.1:9/v1"
            [emb]
            kind = "embeddings"
            base_url = "http://127.0.0.1:9/v1"
            [auto]
            generation = "vllm"
            judge = "gpt"
            embedding = "emb"
        "#;
        toml::from_str(toml).unwrap()
    }

    #[test]
    fn resolution_rules() {
        let c = registry();
        let r = c.resolve("gpt", Role::Generation).unwrap();
        assert_eq!(
            (r.endpoint.as_str(), r.kind, r.upstream_model.as_str()),
            ("gpt", EndpointKind::Responses, "gpt-4.1-mini")
        );
        let r = c.resolve("vllm", Role::Generation).unwrap();
        assert_eq!(r.upstream_model, "vllm");
        let r = c
            .resolve("vllm:Qwen/Qwen3-8B:fp8", Role::Generation)
            .unwrap();
        assert_eq!(
            (r.endpoint.as_str(), r.upstream_model.as_str()),
            ("vllm", "Qwen/Qwen3-8B:fp8")
        );
        assert_eq!(c.resolve("auto", Role::Judge).unwrap().endpoint, "gpt");
        assert_eq!(
            c.resolve("auto", Role::Generation).unwrap().endpoint,
            "vllm"
        );
        assert_eq!(
            c.resolve("auto", Role::Embedding).unwrap().kind,
            EndpointKind::Embeddings
        );
        let e = c.resolve("auto", Role::Transcription).unwrap_err();
        assert!(e.to_string().contains("no auto model"), "{e}");
        let e = c.resolve("gpt-5", Role::Generation).unwrap_err();
        assert_eq!(e.model, "gpt-5");
        assert!(e.to_string().starts_with("unknown model \"gpt-5\""), "{e}");
        assert!(c.resolve("other:x", Role::Generation).is_err());
        assert!(c.resolve("vllm:", Role::Generation).is_err());
        assert!(c.resolve("emb", Role::Generation).is_err());
        assert!(c.resolve("gpt", Role::Embedding).is_err());
        let e = ModelsConfig::default()
            .resolve("x", Role::Generation)
            .unwrap_err();
        assert!(e.reason.contains("no model endpoints"));
    }

    #[test]
    fn local_endpoints_need_a_backend() {
        let c: ModelsConfig =
            toml::from_str("[tiny]\nkind = \"local\"\npath = \"tiny.gguf\"\n").unwrap();
        let err = Gateway::new(c).unwrap_err();
        assert_eq!(err.path, "tiny.kind");
        let c = registry();
        let err = Gateway::builder(c)
            .backend(
                "nope",
                Arc::new(OpenAiBackend::new(
                    EndpointKind::Responses,
                    "http://x",
                    None,
                    Client::new(),
                )),
            )
            .build()
            .unwrap_err();
        assert_eq!(err.path, "nope");
    }

    /// A local backend that only transcribes.
    struct Transcriber;

    impl ModelBackend for Transcriber {
        fn serves(&self, role: Role) -> bool {
            role == Role::Transcription
        }
    }

    #[test]
    fn a_local_backend_serves_only_its_own_roles() {
        let toml = "[asr]\nkind = \"local\"\npath = \"asr\"\n[auto]\ntranscription = \"asr\"\n";
        let c: ModelsConfig = toml::from_str(toml).unwrap();
        let gateway = Gateway::builder(c.clone())
            .backend("asr", Arc::new(Transcriber))
            .build()
            .unwrap();
        assert_eq!(
            gateway
                .resolve("auto", Role::Transcription)
                .unwrap()
                .endpoint,
            "asr"
        );
        for role in [Role::Generation, Role::Judge, Role::Embedding] {
            let e = gateway.resolve("asr", role).unwrap_err();
            assert!(
                e.reason.contains(&format!("cannot serve the {role} role")),
                "{e}"
            );
        }
        // The registry alone cannot tell: a local entry may be any sort of model.
        assert!(c.resolve("asr", Role::Generation).is_ok());

        let mut c = c;
        c.auto.generation = Some("asr".into());
        let err = Gateway::builder(c)
            .backend("asr", Arc::new(Transcriber))
            .build()
            .unwrap_err();
        assert_eq!(err.path, "auto.generation");
    }

    #[test]
    fn finish_splits_and_estimates() {
        let raw = RawGeneration {
            text: "<think>step one</think>\n\nParis END tail".into(),
            reasoning: Some("summary".into()),
            response_id: None,
            usage: None,
        };
        let g = finish(
            raw,
            "Capital of France?",
            &GenerationConfig::default(),
            &["END".into()],
            None,
        );
        assert_eq!(g.output_text, "Paris ");
        assert_eq!(g.reasoning.as_deref(), Some("summary\n\nstep one"));
        assert!(g.usage.estimated);
        assert_eq!(g.usage.input_tokens, count_tokens("Capital of France?"));
        assert_eq!(
            g.usage.reasoning_tokens,
            Some(count_tokens("summary\n\nstep one"))
        );
        assert_eq!(
            g.usage.output_tokens,
            count_tokens("Paris ") + count_tokens("summary\n\nstep one")
        );
    }
}
