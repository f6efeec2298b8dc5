//! Backends: what actually performs one attempt. The gateway owns everything around an
//! attempt (resolution, limits, timeouts, retries, cache, reasoning split, token estimates);
//! a backend only builds a request and performs it once. The OpenAI-compatible HTTP backend is
//! built in; in-process models (`kind = "local"`) plug in as another [`ModelBackend`].

use assay_domain::generation::GenerationConfig;
use futures::future::BoxFuture;
use reqwest::Client;
use serde_json::Value;

use crate::config::{EndpointKind, Role};
use crate::error::{AttemptError, ErrorKind};
use crate::gateway::ResolvedModel;
use crate::request::{embeddings_body, generation_body};
use crate::response::{
    parse_chat, parse_completions, parse_embeddings, parse_responses, RawEmbeddings, RawGeneration,
};

/// Performs single attempts for one endpoint. Implementations must be cancel-safe: the gateway
/// drops the returned future on timeout or cancellation.
pub trait ModelBackend: Send + Sync {
    /// The request of one generation. Its JSON is also what the response cache key hashes,
    /// so it must contain everything that changes the answer. The default, for backends that
    /// cannot generate, names the model and the prompt.
    fn generation_request(
        &self,
        target: &ResolvedModel,
        prompt: &str,
        config: &GenerationConfig,
    ) -> Value {
        let _ = config;
        serde_json::json!({ "model": target.upstream_model, "input": prompt })
    }

    /// Sends a request built by [`generation_request`](Self::generation_request) once.
    /// Backends that cannot refuse with `bad_request` (the default).
    fn generate<'a>(
        &'a self,
        target: &'a ResolvedModel,
        request: &'a Value,
    ) -> BoxFuture<'a, Result<RawGeneration, AttemptError>> {
        let _ = request;
        Box::pin(async move { Err(unsupported(target, "generate text")) })
    }

    /// Embeds `texts` once (one vector per text, in order). Backends that cannot refuse with
    /// `bad_request` (the default).
    fn embed<'a>(
        &'a self,
        target: &'a ResolvedModel,
        texts: &'a [String],
    ) -> BoxFuture<'a, Result<RawEmbeddings, AttemptError>> {
        let _ = texts;
        Box::pin(async move { Err(unsupported(target, "embed text")) })
    }

    /// Transcribes one audio clip once. Backends that cannot refuse with `bad_request` (the
    /// default).
    fn transcribe<'a>(
        &'a self,
        target: &'a ResolvedModel,
        audio: &'a AudioClip,
        language: Option<&'a str>,
    ) -> BoxFuture<'a, Result<String, AttemptError>> {
        let _ = (audio, language);
        Box::pin(async move { Err(unsupported(target, "transcribe audio")) })
    }

    /// Whether this backend can serve `role` at all. The gateway asks when it resolves a model
    /// for a role whose endpoint kind allows it: a `local` endpoint is one kind for every sort of
    /// model, so only its backend knows whether it generates, embeds or transcribes. The default
    /// serves every role the kind allows.
    fn serves(&self, role: Role) -> bool {
        let _ = role;
        true
    }
}

/// The refusal of a call the backend cannot perform: `endpoint NAME cannot WHAT`.
fn unsupported(target: &ResolvedModel, what: &str) -> AttemptError {
    AttemptError::new(
        ErrorKind::BadRequest,
        format!("endpoint {} cannot {what}", target.endpoint),
    )
}

/// An audio clip to transcribe: its bytes, a file name (whose extension tells the format)
/// and its media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioClip {
    pub bytes: bytes::Bytes,
    pub filename: String,
    pub mime: String,
}

/// An OpenAI-compatible HTTP endpoint (Responses, Chat Completions, Completions, Embeddings).
#[derive(Debug, Clone)]
pub struct OpenAiBackend {
    kind: EndpointKind,
    base_url: String,
    /// The key, or why there is none although one was configured.
    api_key: Result<Option<String>, String>,
    client: Client,
}

impl OpenAiBackend {
    /// A backend for `kind` at `base_url` (e.g. `http://host/v1`), reading the API key from
    /// the environment variable `api_key_env` now. A configured but unset variable makes every
    /// call fail with `authentication` (without a request).
    pub fn new(
        kind: EndpointKind,
        base_url: &str,
        api_key_env: Option<&str>,
        client: Client,
    ) -> Self {
        let api_key = match api_key_env {
            None => Ok(None),
            Some(var) => match std::env::var(var) {
                Ok(k) if !k.is_empty() => Ok(Some(k)),
                _ => Err(format!(
                    "environment variable {var} (api_key_env) is not set"
                )),
            },
        };
        Self {
            kind,
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key,
            client,
        }
    }

    fn url(&self, kind: EndpointKind) -> String {
        let path = match kind {
            EndpointKind::ChatCompletions => "chat/completions",
            EndpointKind::Completions => "completions",
            EndpointKind::Embeddings => "embeddings",
            EndpointKind::Transcriptions => "audio/transcriptions",
            _ => "responses",
        };
        format!("{}/{path}", self.base_url)
    }

    async fn post(&self, kind: EndpointKind, body: &Value) -> Result<Value, AttemptError> {
        self.send(self.client.post(self.url(kind)).json(body)).await
    }

    /// Sends a request to this endpoint with its key, and reads the JSON answer.
    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Value, AttemptError> {
        let key = self
            .api_key
            .as_ref()
            .map_err(|m| AttemptError::new(ErrorKind::Authentication, m.clone()))?;
        let mut req = req;
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        let resp = req.send().await.map_err(transport_error)?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.map_err(transport_error)?;
        if !status.is_success() {
            return Err(AttemptError::from_http(status.as_u16(), &headers, &text));
        }
        serde_json::from_str(&text).map_err(|e| {
            let mut err = AttemptError::new(
                ErrorKind::InvalidResponse,
                format!("response body is not JSON: {e}"),
            );
            err.status = Some(status.as_u16());
            err
        })
    }
}

fn transport_error(e: reqwest::Error) -> AttemptError {
    let kind = if e.is_timeout() {
        ErrorKind::Timeout
    } else if e.is_builder() {
        ErrorKind::BadRequest
    } else {
        ErrorKind::Connection
    };
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    AttemptError::new(kind, message)
}

impl ModelBackend for OpenAiBackend {
    fn generation_request(
        &self,
        target: &ResolvedModel,
        prompt: &str,
        config: &GenerationConfig,
    ) -> Value {
        generation_body(self.kind, &target.upstream_model, prompt, config)
    }

    fn generate<'a>(
        &'a self,
        _target: &'a ResolvedModel,
        request: &'a Value,
    ) -> BoxFuture<'a, Result<RawGeneration, AttemptError>> {
        Box::pin(async move {
            let kind = self.kind;
            let body = self.post(kind, request).await?;
            match kind {
                EndpointKind::ChatCompletions => parse_chat(&body),
                EndpointKind::Completions => parse_completions(&body),
                EndpointKind::Responses => parse_responses(&body),
                other => Err(AttemptError::new(
                    ErrorKind::BadRequest,
                    format!("a {other} endpoint cannot generate text"),
                )),
            }
        })
    }

    fn embed<'a>(
        &'a self,
        target: &'a ResolvedModel,
        texts: &'a [String],
    ) -> BoxFuture<'a, Result<RawEmbeddings, AttemptError>> {
        Box::pin(async move {
            if self.kind != EndpointKind::Embeddings {
                return Err(AttemptError::new(
                    ErrorKind::BadRequest,
                    format!("a {} endpoint cannot embed", self.kind),
                ));
            }
            let body = self
                .post(
                    EndpointKind::Embeddings,
                    &embeddings_body(&target.upstream_model, texts),
                )
                .await?;
            parse_embeddings(&body, texts.len())
        })
    }

    fn transcribe<'a>(
        &'a self,
        target: &'a ResolvedModel,
        audio: &'a AudioClip,
        language: Option<&'a str>,
    ) -> BoxFuture<'a, Result<String, AttemptError>> {
        Box::pin(async move {
            if self.kind != EndpointKind::Transcriptions {
                return Err(AttemptError::new(
                    ErrorKind::BadRequest,
                    format!("a {} endpoint cannot transcribe audio", self.kind),
                ));
            }
            let file = reqwest::multipart::Part::bytes(audio.bytes.to_vec())
                .file_name(audio.filename.clone())
                .mime_str(&audio.mime)
                .map_err(|e| {
                    AttemptError::new(ErrorKind::BadRequest, format!("audio media type: {e}"))
                })?;
            let mut form = reqwest::multipart::Form::new()
                .part("file", file)
                .text("model", target.upstream_model.clone())
                .text("response_format", "json");
            if let Some(language) = language {
                form = form.text("language", language.to_string());
            }
            let url = self.url(EndpointKind::Transcriptions);
            let body = self.send(self.client.post(url).multipart(form)).await?;
            match body.get("text").and_then(Value::as_str) {
                Some(text) => Ok(text.to_string()),
                None => Err(AttemptError::new(
                    ErrorKind::InvalidResponse,
                    "the transcription response has no text",
                )),
            }
        })
    }
}
