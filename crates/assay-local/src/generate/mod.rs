//! Text generation from a GGUF file on the CPU, with llama.cpp.
//!
//! [`GgufBackend`] loads the file with llama.cpp (every architecture it supports: llama,
//! mistral, qwen2, qwen3, gemma 1–3, phi3 and more), renders prompts with the chat template
//! from the file's metadata, and serves [`ModelBackend::generate`] from one engine thread that
//! decodes several requests together (continuous batching, one KV-cache sequence per slot).
//!
//! - **Request** ([`GenerateRequest`]): the prompt rendered with the chat template (system
//!   message from `instructions`, then the user prompt, `add_generation_prompt=true`; the plain
//!   prompt when the file has no template), `max_output_tokens` (default
//!   [`DEFAULT_MAX_OUTPUT_TOKENS`]), sampling parameters, `extra_body.seed` and `stop`. Its
//!   JSON is the cache key, so it holds everything that changes the answer.
//! - **Decoding**: greedy when `temperature` is 0 or `do_sample` is false; otherwise seeded
//!   sampling (temperature, top_k, top_p, min_p; `temperature` defaults to 1 as on OpenAI's API,
//!   and a request without a seed draws one). Repetition, presence and frequency penalties
//!   apply in both modes. Generation ends at an end-of-generation token, at
//!   `max_output_tokens`, at the end of the sequence's context, or as soon as the text contains
//!   a stop sequence (the text is cut before it).
//! - **Usage** is counted, not estimated: prompt tokens as fed (BOS included) and generated
//!   tokens (the end-of-turn token included when one was generated).
//! - **Concurrency**: up to [`GgufOptions::slots`] requests decode together; more wait in a
//!   queue. Dropping the future frees its slot before the next step.

mod engine;
mod sampler;
mod template;

use std::path::Path;
use std::sync::{mpsc, Arc};

use assay_domain::generation::GenerationConfig;
use assay_models::request::prefill_prefix;
use assay_models::{
    AttemptError, ErrorKind, ModelBackend, RawEmbeddings, RawGeneration, ResolvedModel, Role, Usage,
};
use futures::future::BoxFuture;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use serde_json::{json, Map, Value};
use tokio::sync::oneshot;

use crate::LoadError;
use engine::{EngineShape, Job};
pub use sampler::SamplingParams;
pub use template::ChatTemplate;

/// `max_output_tokens` when the config sets none.
pub const DEFAULT_MAX_OUTPUT_TOKENS: usize = 256;

/// How a [`GgufBackend`] is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GgufOptions {
    /// Requests decoded together, each in its own KV-cache sequence (at least 1).
    pub slots: usize,
    /// Tokens (prompt and answer) one request may hold; `None`: the model's training context,
    /// at most [`DEFAULT_CONTEXT_CAP`].
    pub context_length: Option<usize>,
    /// CPU threads for the model's compute (at least 1).
    pub threads: usize,
}

/// The per-request context when [`GgufOptions::context_length`] is not set and the model was
/// trained on a longer one: it bounds the KV cache's memory (slots × context).
pub const DEFAULT_CONTEXT_CAP: usize = 4096;

impl Default for GgufOptions {
    /// `slots` from `ASSAY_LOCAL_SLOTS` (default 4), `context_length` from
    /// `ASSAY_LOCAL_CONTEXT`, `threads` from `ASSAY_LOCAL_THREADS` (default: available cores).
    fn default() -> Self {
        Self {
            slots: crate::env_count("ASSAY_LOCAL_SLOTS").unwrap_or(4),
            context_length: crate::env_count("ASSAY_LOCAL_CONTEXT"),
            threads: crate::default_threads(),
        }
    }
}

/// A GGUF text-generation model served in-process (see the [module docs](self)).
pub struct GgufBackend {
    model: Arc<LlamaModel>,
    architecture: String,
    template: Option<ChatTemplate>,
    shape: EngineShape,
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for GgufBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufBackend")
            .field("architecture", &self.architecture)
            .field("shape", &self.shape)
            .field("chat_template", &self.template.is_some())
            .finish()
    }
}

/// The model's tokenizer (from the GGUF metadata, run by llama.cpp).
#[derive(Clone, Copy)]
pub struct GgufTokenizer<'a> {
    model: &'a LlamaModel,
}

impl GgufTokenizer<'_> {
    /// Token ids of `text`; special tokens written in the text become single tokens, and
    /// `add_special` adds the BOS token when the model asks for one.
    pub fn encode(&self, text: &str, add_special: bool) -> Vec<u32> {
        self.model
            .vocab()
            .tokenize(text.as_bytes(), add_special, true)
            .into_iter()
            .map(|t| t.0 as u32)
            .collect()
    }

    /// The text of `ids` (special tokens left out; invalid UTF-8 replaced).
    pub fn decode(&self, ids: &[u32]) -> String {
        let vocab = self.model.vocab();
        let mut bytes = Vec::new();
        for &id in ids {
            bytes.extend(vocab.token_to_piece(LlamaToken(id as i32), false, None));
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Whether generation ends at `id` (end of turn or of text).
    pub fn is_end_of_generation(&self, id: u32) -> bool {
        self.model.vocab().is_eog(LlamaToken(id as i32))
    }

    /// The text of token `id`, special tokens included (`None` for an unknown id).
    pub fn token_text(&self, id: u32) -> Option<String> {
        let vocab = self.model.vocab();
        if id >= vocab.n_tokens().max(0) as u32 {
            return None;
        }
        let piece = vocab.token_to_piece(LlamaToken(id as i32), true, None);
        Some(String::from_utf8_lossy(&piece).into_owned())
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
    LoadError::invalid(path, message.to_string())
}

impl GgufBackend {
    /// Loads the GGUF model at `path` with [`GgufOptions::default`].
    pub fn load(path: &Path) -> Result<Self, LoadError> {
        Self::load_with(path, GgufOptions::default())
    }

    /// Loads the GGUF model at `path` and starts its engine thread.
    pub fn load_with(path: &Path, options: GgufOptions) -> Result<Self, LoadError> {
        // llama.cpp reports a missing or unreadable file only as a failed load.
        std::fs::File::open(path).map_err(|source| LoadError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let backend = crate::llama::backend().map_err(|e| load_error(path, e))?;
        let model = LlamaModel::load_from_file(backend, path, &LlamaModelParams::default())
            .map_err(|e| {
                load_error(
                    path,
                    format!("llama.cpp cannot load it as a GGUF model ({e}); see the log"),
                )
            })?;
        let meta = |key: &str| model.meta_val_str(key).ok();
        let architecture = meta("general.architecture").unwrap_or_default();
        let template = match meta("tokenizer.chat_template") {
            Some(source) => {
                let vocab = model.vocab();
                let text = |t: LlamaToken| {
                    String::from_utf8_lossy(&vocab.token_to_piece(t, true, None)).into_owned()
                };
                match ChatTemplate::new(&source, &text(vocab.bos()), &text(vocab.eos())) {
                    Ok(t) => Some(t),
                    Err(e) => {
                        tracing::warn!(path = %path.display(), error = %e, "unusable chat template; using plain prompts");
                        None
                    }
                }
            }
            None => None,
        };
        let trained = model.n_ctx_train().max(1) as usize;
        let shape = EngineShape {
            slots: options.slots.max(1),
            seq_context: options
                .context_length
                .unwrap_or(DEFAULT_CONTEXT_CAP)
                .clamp(1, trained),
            threads: options.threads.max(1),
        };
        let model = Arc::new(model);
        let jobs = engine::spawn(Arc::clone(&model), shape).map_err(|e| load_error(path, e))?;
        Ok(Self {
            model,
            architecture,
            template,
            shape,
            jobs,
        })
    }

    /// `general.architecture` of the loaded file.
    pub fn architecture(&self) -> &str {
        &self.architecture
    }

    /// The tokenizer from the file's metadata.
    pub fn tokenizer(&self) -> GgufTokenizer<'_> {
        GgufTokenizer { model: &self.model }
    }

    /// Whether the file carries a usable chat template.
    pub fn has_chat_template(&self) -> bool {
        self.template.is_some()
    }

    /// Most tokens (prompt and answer together) one request may hold.
    pub fn context_length(&self) -> usize {
        self.shape.seq_context
    }

    /// Requests decoded together.
    pub fn slots(&self) -> usize {
        self.shape.slots
    }

    /// The prompt text the model is given: the chat template applied to `[system?, user]`
    /// (a template that rejects a system message gets it prepended to the user message), or
    /// the plain prompt without a template; then the `prefill_think` prefix, if any.
    pub fn render_prompt(&self, prompt: &str, config: &GenerationConfig) -> Result<String, String> {
        let system = config.instructions.as_deref();
        let mut text = match &self.template {
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

    /// Runs `request`, waiting for a free slot. Dropping the future frees its slot before the
    /// next decoding step.
    pub async fn run(&self, request: GenerateRequest) -> Result<GenerateOutput, AttemptError> {
        let prompt = self
            .model
            .vocab()
            .tokenize(request.prompt.as_bytes(), true, true);
        let (reply, answer) = oneshot::channel();
        let job = Job {
            prompt,
            request,
            reply,
        };
        let stopped = || AttemptError::new(ErrorKind::ServerError, "the local model has stopped");
        self.jobs.send(job).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
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

    fn serves(&self, role: Role) -> bool {
        matches!(role, Role::Generation | Role::Judge)
    }
}
