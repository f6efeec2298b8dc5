//! Text generation from a GGUF file on the CPU.
//!
//! [`GgufBackend`] loads the weights with candle's quantized transformer implementations
//! (dispatching on `general.architecture`: llama/mistral, qwen2, qwen3, gemma3, phi3), the
//! tokenizer and chat template from the file's metadata, and serves
//! [`ModelBackend::generate`] through a bounded pool of workers, each with its own KV cache.
//!
//! - **Request** ([`GenerateRequest`]): the prompt rendered with the chat template (system
//!   message from `instructions`, then the user prompt, `add_generation_prompt=true`; the plain
//!   prompt when the file has no template), `max_output_tokens` (default
//!   [`DEFAULT_MAX_OUTPUT_TOKENS`]), sampling parameters, `extra_body.seed` and `stop`. Its
//!   JSON is the cache key, so it holds everything that changes the answer.
//! - **Decoding**: greedy when `temperature` is 0 or `do_sample` is false; otherwise seeded
//!   sampling (temperature, top_k, top_p, min_p; `temperature` defaults to 1 as on OpenAI's API,
//!   and a request without a seed draws one). Repetition, presence and frequency penalties
//!   apply in both modes. Generation ends at an end-of-turn token, at `max_output_tokens`, or as
//!   soon as the text contains a stop sequence (the text is cut before it).
//! - **Usage** is counted, not estimated: prompt tokens as fed (BOS included) and generated
//!   tokens (the end-of-turn token included when one was generated).
//! - **Concurrency**: at most `workers` requests decode at once, each on a blocking thread;
//!   more wait for a worker. Dropping the future stops its decode loop before the next token.
//!
//! Weights in formats candle multiplies without SIMD (`Q4_1`, `Q5_0`, `Q5_1`) are converted
//! to `Q8_0` when loading, which keeps their values to within 1/254 of each block's range and
//! multiplies several times faster.

mod model;
mod sampler;
mod template;
mod tokenizer;

use std::io::Cursor;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use assay_domain::generation::GenerationConfig;
use assay_models::request::prefill_prefix;
use assay_models::{
    AttemptError, ErrorKind, ModelBackend, RawEmbeddings, RawGeneration, ResolvedModel, Usage,
};
use candle_core::quantized::gguf_file;
use futures::future::BoxFuture;
use serde_json::{json, Map, Value};
use tokio::sync::Semaphore;

use crate::LoadError;
pub use model::SUPPORTED_ARCHITECTURES;
use model::{Model, PreparedGguf};
pub use sampler::SamplingParams;
pub use template::ChatTemplate;
pub use tokenizer::GgufTokenizer;

/// `max_output_tokens` when the config sets none.
pub const DEFAULT_MAX_OUTPUT_TOKENS: usize = 256;

/// How a [`GgufBackend`] is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GgufOptions {
    /// Requests decoded at the same time, each with its own KV cache (at least 1).
    pub workers: usize,
    /// Convert matrices in formats candle multiplies without SIMD (`Q4_1`, `Q5_0`, `Q5_1`) to
    /// `Q8_0` when loading (default true): several times faster, and within 1/254 of each
    /// block's range.
    pub convert_slow_formats: bool,
}

impl Default for GgufOptions {
    /// `workers` from `ASSAY_LOCAL_WORKERS` when set, else min(available cores, 2).
    fn default() -> Self {
        let workers = std::env::var("ASSAY_LOCAL_WORKERS")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1)
                    .min(2)
            });
        let convert_slow_formats =
            std::env::var("ASSAY_LOCAL_CONVERT_WEIGHTS").as_deref() != Ok("0");
        Self {
            workers,
            convert_slow_formats,
        }
    }
}

/// A GGUF text-generation model served in-process (see the [module docs](self)).
pub struct GgufBackend {
    shared: Arc<Shared>,
}

struct Shared {
    architecture: String,
    tokenizer: GgufTokenizer,
    template: Option<ChatTemplate>,
    context_length: usize,
    workers: usize,
    /// Idle model instances; `permits` guarantees one is here for every holder of a permit.
    idle: Mutex<Vec<Model>>,
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for GgufBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufBackend")
            .field("architecture", &self.shared.architecture)
            .field("context_length", &self.shared.context_length)
            .field("workers", &self.shared.workers)
            .field("chat_template", &self.shared.template.is_some())
            .finish()
    }
}

/// One generation, fully specified: what [`GgufBackend`] builds as the request JSON and
/// decodes from it.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateRequest {
    /// The prompt text exactly as tokenized (chat template applied).
    pub prompt: String,
    /// Most tokens to generate.
    pub max_output_tokens: usize,
    /// Token choice.
    pub sampling: SamplingParams,
    /// Stop sequences: generation ends when the text contains one, and the text is cut there.
    pub stop: Vec<String>,
}

impl GenerateRequest {
    /// The request JSON (also the response cache's key): sampling knobs only when sampling,
    /// the seed only when sampling with a given seed.
    pub fn to_json(&self, model: &str, seeded: bool) -> Value {
        let s = &self.sampling;
        let mut b = Map::new();
        b.insert("model".into(), json!(model));
        b.insert("prompt".into(), json!(self.prompt));
        b.insert("max_output_tokens".into(), json!(self.max_output_tokens));
        b.insert("temperature".into(), json!(s.temperature));
        if !s.is_greedy() {
            b.insert("top_p".into(), json!(s.top_p));
            b.insert("top_k".into(), json!(s.top_k));
            b.insert("min_p".into(), json!(s.min_p));
            if seeded {
                b.insert("seed".into(), json!(s.seed));
            }
        }
        b.insert("repetition_penalty".into(), json!(s.repetition_penalty));
        if s.presence_penalty != 0.0 {
            b.insert("presence_penalty".into(), json!(s.presence_penalty));
        }
        if s.frequency_penalty != 0.0 {
            b.insert("frequency_penalty".into(), json!(s.frequency_penalty));
        }
        b.insert("stop".into(), json!(self.stop));
        Value::Object(b)
    }

    /// Reads a request built by [`to_json`](Self::to_json); a sampling request without a seed
    /// gets a random one.
    pub fn from_json(v: &Value) -> Result<Self, String> {
        if let Some(e) = v.get("error").and_then(Value::as_str) {
            return Err(e.to_string());
        }
        let f = |k: &str, default: f64| v.get(k).and_then(Value::as_f64).unwrap_or(default);
        let prompt = v
            .get("prompt")
            .and_then(Value::as_str)
            .ok_or("request has no prompt")?
            .to_string();
        let max_output_tokens = v
            .get("max_output_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(DEFAULT_MAX_OUTPUT_TOKENS as u64) as usize;
        let seed = match v.get("seed") {
            Some(s) => s
                .as_u64()
                .or_else(|| s.as_i64().map(|i| i as u64))
                .ok_or("seed must be an integer")?,
            None => rand::random(),
        };
        let sampling = SamplingParams {
            temperature: f("temperature", 1.0),
            top_k: v.get("top_k").and_then(Value::as_u64).unwrap_or(0) as usize,
            top_p: f("top_p", 1.0),
            min_p: f("min_p", 0.0),
            repetition_penalty: f("repetition_penalty", 1.0),
            presence_penalty: f("presence_penalty", 0.0),
            frequency_penalty: f("frequency_penalty", 0.0),
            seed,
        };
        let stop = match v.get("stop") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
            _ => Vec::new(),
        };
        Ok(Self {
            prompt,
            max_output_tokens,
            sampling,
            stop,
        })
    }
}

/// What one generation produced.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOutput {
    /// The answer, cut before the first stop sequence.
    pub text: String,
    /// Prompt tokens fed to the model.
    pub input_tokens: usize,
    /// Tokens generated.
    pub output_tokens: usize,
    /// Why generation ended.
    pub finish: Finish,
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// The model ended its turn.
    EndOfTurn,
    /// A stop sequence appeared.
    Stop,
    /// `max_output_tokens` (or the context window) was reached.
    Length,
}

fn load_error(path: &Path, message: impl std::fmt::Display) -> LoadError {
    LoadError::Invalid {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

impl GgufBackend {
    /// Loads the GGUF model at `path` with [`GgufOptions::default`].
    pub fn load(path: &Path) -> Result<Self, LoadError> {
        Self::load_with(path, GgufOptions::default())
    }

    /// Loads the GGUF model at `path`.
    pub fn load_with(path: &Path, options: GgufOptions) -> Result<Self, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let content = gguf_file::Content::read(&mut Cursor::new(&bytes))
            .map_err(|e| load_error(path, format!("not a readable GGUF file: {e}")))?;
        let md = &content.metadata;
        let architecture = md
            .get("general.architecture")
            .and_then(|v| v.to_string().ok())
            .cloned()
            .ok_or_else(|| load_error(path, "metadata has no general.architecture"))?;
        if !SUPPORTED_ARCHITECTURES.contains(&architecture.as_str()) {
            return Err(load_error(
                path,
                format!(
                    "unsupported architecture {architecture:?} (supported: {})",
                    SUPPORTED_ARCHITECTURES.join(", ")
                ),
            ));
        }
        let tokenizer = GgufTokenizer::from_metadata(md).map_err(|e| load_error(path, e))?;
        let template = match md
            .get("tokenizer.chat_template")
            .and_then(|v| v.to_string().ok())
        {
            Some(src) => {
                let token = |k: &str| {
                    md.get(k)
                        .and_then(|v| v.to_u32().ok())
                        .and_then(|i| tokenizer.token_text(i))
                        .unwrap_or("")
                        .to_string()
                };
                match ChatTemplate::new(
                    src,
                    &token("tokenizer.ggml.bos_token_id"),
                    &token("tokenizer.ggml.eos_token_id"),
                ) {
                    Ok(t) => Some(t),
                    Err(e) => {
                        tracing::warn!(path = %path.display(), error = %e, "unusable chat template; using plain prompts");
                        None
                    }
                }
            }
            None => None,
        };
        let context_length = model::context_length(&architecture, md);
        let prepared = PreparedGguf::new(content, bytes, options.convert_slow_formats)
            .map_err(|e| load_error(path, e))?;
        let workers = options.workers.max(1);
        let first = Model::load(&architecture, &prepared).map_err(|e| load_error(path, e))?;
        let mut idle = Vec::with_capacity(workers);
        for _ in 1..workers {
            let m = match first.fork() {
                Some(m) => m,
                None => Model::load(&architecture, &prepared).map_err(|e| load_error(path, e))?,
            };
            idle.push(m);
        }
        idle.push(first);
        Ok(Self {
            shared: Arc::new(Shared {
                architecture,
                tokenizer,
                template,
                context_length,
                workers,
                idle: Mutex::new(idle),
                permits: Arc::new(Semaphore::new(workers)),
            }),
        })
    }

    /// `general.architecture` of the loaded file.
    pub fn architecture(&self) -> &str {
        &self.shared.architecture
    }

    /// The tokenizer built from the file's metadata.
    pub fn tokenizer(&self) -> &GgufTokenizer {
        &self.shared.tokenizer
    }

    /// Whether the file carries a usable chat template.
    pub fn has_chat_template(&self) -> bool {
        self.shared.template.is_some()
    }

    /// Most tokens (prompt and answer together) one sequence may hold.
    pub fn context_length(&self) -> usize {
        self.shared.context_length
    }

    /// Requests decoded at the same time.
    pub fn workers(&self) -> usize {
        self.shared.workers
    }

    /// The prompt text the model is given: the chat template applied to `[system?, user]`
    /// (a template that rejects a system message gets it prepended to the user message), or
    /// the plain prompt without a template; then the `prefill_think` prefix, if any.
    pub fn render_prompt(&self, prompt: &str, config: &GenerationConfig) -> Result<String, String> {
        let system = config.instructions.as_deref();
        let mut text = match &self.shared.template {
            Some(t) => {
                let kwargs = config.chat_template_kwargs.as_ref();
                t.render(system, prompt, kwargs).or_else(|e| match system {
                    Some(s) => t.render(None, &template::plain_prompt(Some(s), prompt), kwargs),
                    None => Err(e),
                })?
            }
            None => template::plain_prompt(system, prompt),
        };
        if let Some(prefix) = prefill_prefix(config) {
            text.push_str(prefix);
        }
        Ok(text)
    }

    /// The [`GenerateRequest`] for `prompt` under `config`, and whether the config gave a seed
    /// (`extra_body.seed`; without one, sampling draws a fresh seed per call).
    pub fn request(
        &self,
        prompt: &str,
        config: &GenerationConfig,
    ) -> Result<(GenerateRequest, bool), String> {
        let config = config.clone().normalize();
        let rendered = self.render_prompt(prompt, &config)?;
        let extra = config.extra_body.as_ref();
        let seed = extra.and_then(|e| e.get("seed")).and_then(|s| {
            s.as_u64()
                .or_else(|| s.as_i64().map(|i| i as u64))
                .or_else(|| s.as_f64().map(|f| f as u64))
        });
        let greedy = config.is_greedy();
        let sampling = SamplingParams {
            temperature: if greedy {
                0.0
            } else {
                config.temperature.unwrap_or(1.0)
            },
            top_k: config.top_k.unwrap_or(0).max(0) as usize,
            top_p: config.top_p.unwrap_or(1.0),
            min_p: config.min_p.unwrap_or(0.0),
            repetition_penalty: config.repetition_penalty.unwrap_or(1.0),
            presence_penalty: config.presence_penalty.unwrap_or(0.0),
            frequency_penalty: config.frequency_penalty.unwrap_or(0.0),
            seed: seed.unwrap_or(0),
        };
        let max_output_tokens = config
            .max_output_tokens
            .map(|n| n.max(1) as usize)
            .unwrap_or(DEFAULT_MAX_OUTPUT_TOKENS);
        Ok((
            GenerateRequest {
                prompt: rendered,
                max_output_tokens,
                sampling,
                stop: config.stop_sequences(),
            },
            seed.is_some(),
        ))
    }

    /// Runs `request` on a worker, waiting for a free one. Dropping the future stops the
    /// decode loop before its next token.
    pub async fn run(&self, request: GenerateRequest) -> Result<GenerateOutput, AttemptError> {
        let permit = self
            .shared
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| AttemptError::new(ErrorKind::ServerError, "the model is shut down"))?;
        let cancelled = Arc::new(AtomicBool::new(false));
        let _cancel_on_drop = CancelOnDrop(cancelled.clone());
        let shared = self.shared.clone();
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut lease = Lease::take(&shared);
            decode(&shared, lease.model(), &request, &cancelled)
        });
        task.await.map_err(|e| {
            AttemptError::new(
                ErrorKind::ServerError,
                format!("the local model's worker failed: {e}"),
            )
        })?
    }
}

/// Sets the flag when the generating future is dropped.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A model instance taken from the idle list, put back (reset) when dropped, even on panic.
struct Lease<'a> {
    shared: &'a Shared,
    model: Option<Model>,
}

impl<'a> Lease<'a> {
    fn take(shared: &'a Shared) -> Self {
        let model = shared
            .idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .expect("a permit guarantees an idle model");
        Self {
            shared,
            model: Some(model),
        }
    }

    fn model(&mut self) -> &mut Model {
        self.model.as_mut().expect("present until dropped")
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(mut m) = self.model.take() {
            m.reset();
            self.shared
                .idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(m);
        }
    }
}

fn server_error(e: impl std::fmt::Display) -> AttemptError {
    AttemptError::new(ErrorKind::ServerError, format!("local model: {e}"))
}

/// The decode loop of one request on one model instance.
fn decode(
    shared: &Shared,
    model: &mut Model,
    request: &GenerateRequest,
    cancelled: &AtomicBool,
) -> Result<GenerateOutput, AttemptError> {
    let tok = &shared.tokenizer;
    let prompt = tok
        .encode(&request.prompt, true)
        .map_err(|e| AttemptError::new(ErrorKind::BadRequest, e))?;
    if prompt.is_empty() {
        return Err(AttemptError::new(
            ErrorKind::BadRequest,
            "the prompt is empty",
        ));
    }
    if prompt.len() >= shared.context_length {
        return Err(AttemptError::new(
            ErrorKind::ContextLength,
            format!(
                "the prompt has {} tokens; the model's context holds {}",
                prompt.len(),
                shared.context_length
            ),
        ));
    }
    let budget = request
        .max_output_tokens
        .min(shared.context_length - prompt.len());
    model.reset();
    let mut logits = model.forward(&prompt, 0).map_err(server_error)?;
    let mut sampler = sampler::Sampler::new(request.sampling.clone(), logits.len(), &prompt);
    let mut generated: Vec<u32> = Vec::with_capacity(budget);
    let mut text = String::new();
    let mut finish = Finish::Length;
    let longest_stop = request.stop.iter().map(String::len).max().unwrap_or(0);
    let mut checked_up_to = 0usize;
    while generated.len() < budget {
        if cancelled.load(Ordering::Relaxed) {
            return Err(AttemptError::new(
                ErrorKind::Cancelled,
                "generation cancelled",
            ));
        }
        let next = sampler.sample(&mut logits);
        sampler.accept(next);
        generated.push(next);
        if tok.is_end_of_generation(next) {
            finish = Finish::EndOfTurn;
            break;
        }
        text = tok.decode(&generated).map_err(server_error)?;
        if longest_stop > 0 {
            // Only text after the last check (plus a stop's length of overlap) can hold a new
            // occurrence.
            let mut from = checked_up_to.saturating_sub(longest_stop);
            while !text.is_char_boundary(from) {
                from -= 1;
            }
            let hit = request
                .stop
                .iter()
                .filter_map(|s| text[from..].find(s.as_str()).map(|i| from + i))
                .min();
            if let Some(cut) = hit {
                text.truncate(cut);
                finish = Finish::Stop;
                break;
            }
            checked_up_to = text.len();
        }
        if generated.len() >= budget {
            break;
        }
        let pos = prompt.len() + generated.len() - 1;
        logits = model.forward(&[next], pos).map_err(server_error)?;
    }
    if finish == Finish::EndOfTurn {
        text = tok
            .decode(&generated[..generated.len() - 1])
            .map_err(server_error)?;
    }
    Ok(GenerateOutput {
        text,
        input_tokens: prompt.len(),
        output_tokens: generated.len(),
        finish,
    })
}

impl ModelBackend for GgufBackend {
    fn generation_request(
        &self,
        target: &ResolvedModel,
        prompt: &str,
        config: &GenerationConfig,
    ) -> Value {
        match self.request(prompt, config) {
            Ok((req, seeded)) => req.to_json(&target.upstream_model, seeded),
            // Carried to `generate`, which fails the attempt with it.
            Err(e) => json!({"model": target.upstream_model, "error": e}),
        }
    }

    fn generate<'a>(
        &'a self,
        _target: &'a ResolvedModel,
        request: &'a Value,
    ) -> BoxFuture<'a, Result<RawGeneration, AttemptError>> {
        Box::pin(async move {
            let req = GenerateRequest::from_json(request)
                .map_err(|e| AttemptError::new(ErrorKind::BadRequest, e))?;
            let out = self.run(req).await?;
            Ok(RawGeneration {
                text: out.text,
                reasoning: None,
                response_id: None,
                usage: Some(Usage {
                    input_tokens: out.input_tokens as u64,
                    output_tokens: out.output_tokens as u64,
                    cached_tokens: None,
                    reasoning_tokens: None,
                    estimated: false,
                }),
            })
        })
    }

    fn embed<'a>(
        &'a self,
        _target: &'a ResolvedModel,
        _texts: &'a [String],
    ) -> BoxFuture<'a, Result<RawEmbeddings, AttemptError>> {
        Box::pin(async {
            Err(AttemptError::new(
                ErrorKind::BadRequest,
                "this local model only generates",
            ))
        })
    }
}
