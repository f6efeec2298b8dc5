//! The fake OpenAI-compatible model server: routes, per-prompt attempt counting and the request
//! log.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::Serialize;
use serde_json::{json, Map, Value};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::directives::{default_answer, strip, Directives, Fault};
use crate::embed::{embed, EmbeddingsMode};

/// Global behaviour of a [`FakeModelServer`].
#[derive(Debug, Clone)]
pub struct FakeModelOptions {
    /// Address to listen on; port 0 picks a free port. Default `127.0.0.1:0`.
    pub bind: SocketAddr,
    /// Latency added to every request before it is answered (plus any `[[latency_ms:N]]`).
    pub base_latency: Duration,
    /// How `/v1/embeddings` computes vectors.
    pub embeddings: EmbeddingsMode,
    /// Vector length for `/v1/embeddings` when the request does not ask for `dimensions`.
    pub embedding_dim: usize,
    /// How many recent requests (with bodies) the log keeps.
    pub log_capacity: usize,
}

impl Default for FakeModelOptions {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            base_latency: Duration::ZERO,
            embeddings: EmbeddingsMode::BagOfWords,
            embedding_dim: 64,
            log_capacity: 1000,
        }
    }
}

/// The four OpenAI endpoints the fake serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `POST /v1/responses`.
    Responses,
    /// `POST /v1/chat/completions`.
    ChatCompletions,
    /// `POST /v1/completions`.
    Completions,
    /// `POST /v1/embeddings`.
    Embeddings,
    /// `POST /v1/audio/transcriptions`.
    Transcriptions,
}

impl Endpoint {
    /// The snake_case name used in the log (`responses`, `chat_completions`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Responses => "responses",
            Endpoint::ChatCompletions => "chat_completions",
            Endpoint::Completions => "completions",
            Endpoint::Embeddings => "embeddings",
            Endpoint::Transcriptions => "transcriptions",
        }
    }
}

/// One received request.
#[derive(Debug, Clone, Serialize)]
pub struct RequestRecord {
    /// Arrival order, from 1.
    pub seq: u64,
    /// Which endpoint was called.
    pub endpoint: Endpoint,
    /// The request's `model`, if any.
    pub model: Option<String>,
    /// The prompt key (see [`FakeModelServer::calls_for`]).
    pub prompt: String,
    /// Which attempt of this (model, prompt) this was, from 1.
    pub attempt: u64,
    /// The JSON body as received (`null` when it was not JSON).
    pub body: Value,
}

/// A snapshot of the request log (also served as `GET /_fake/requests`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RequestLog {
    /// Requests received on the four model endpoints.
    pub total: u64,
    /// Requests being answered right now.
    pub in_flight: u64,
    /// The most requests ever answered at once (since start or the last reset).
    pub max_in_flight: u64,
    /// Requests per endpoint name.
    pub by_endpoint: BTreeMap<String, u64>,
    /// Requests per prompt key.
    pub by_prompt: BTreeMap<String, u64>,
    /// The most recent requests, oldest first (at most `log_capacity`).
    pub recent: Vec<RequestRecord>,
}

#[derive(Default)]
struct LogInner {
    total: u64,
    by_endpoint: BTreeMap<String, u64>,
    by_prompt: HashMap<String, u64>,
    attempts: HashMap<(String, String), u64>,
    recent: VecDeque<RequestRecord>,
}

struct Shared {
    options: FakeModelOptions,
    log: Mutex<LogInner>,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    /// Bumped on every arrival and every finished request, to wake waiters.
    changed: watch::Sender<u64>,
    /// What `/v1/audio/transcriptions` answers for a clip, by the hex SHA-256 of its bytes.
    transcripts: Mutex<HashMap<String, String>>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, LogInner> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Logs a request and returns its sequence number and its attempt number for
    /// (model, prompt).
    fn record(
        &self,
        endpoint: Endpoint,
        model: Option<String>,
        prompt: &str,
        body: Value,
    ) -> (u64, u64) {
        let mut log = self.lock();
        log.total += 1;
        let seq = log.total;
        *log.by_endpoint
            .entry(endpoint.as_str().to_string())
            .or_default() += 1;
        *log.by_prompt.entry(prompt.to_string()).or_default() += 1;
        let attempt = {
            let key = (model.clone().unwrap_or_default(), prompt.to_string());
            let n = log.attempts.entry(key).or_default();
            *n += 1;
            *n
        };
        if self.options.log_capacity > 0 {
            if log.recent.len() >= self.options.log_capacity {
                log.recent.pop_front();
            }
            log.recent.push_back(RequestRecord {
                seq,
                endpoint,
                model,
                prompt: prompt.to_string(),
                attempt,
                body,
            });
        }
        drop(log);
        self.changed.send_modify(|n| *n += 1);
        (seq, attempt)
    }

    fn snapshot(&self) -> RequestLog {
        let log = self.lock();
        RequestLog {
            total: log.total,
            in_flight: self.in_flight.load(Ordering::SeqCst),
            max_in_flight: self.max_in_flight.load(Ordering::SeqCst),
            by_endpoint: log.by_endpoint.clone(),
            by_prompt: log.by_prompt.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            recent: log.recent.iter().cloned().collect(),
        }
    }

    fn reset(&self) {
        *self.lock() = LogInner::default();
        self.max_in_flight
            .store(self.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

/// Counts a request as in flight until dropped.
struct InFlight(Arc<Shared>);

impl InFlight {
    fn new(shared: &Arc<Shared>) -> Self {
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(shared.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.changed.send_modify(|n| *n += 1);
    }
}

/// A running fake model server. Dropping it stops the server.
pub struct FakeModelServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl FakeModelServer {
    /// Makes `/v1/audio/transcriptions` answer `text` for the clip `audio` (directives in
    /// `text`, e.g. `[[status:500 times=1]]`, apply as for prompts and are not part of the
    /// answer).
    pub fn set_transcript(&self, audio: &[u8], text: &str) {
        self.shared
            .transcripts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(sha256_hex(audio), text.to_string());
    }

    /// Binds `options.bind` and serves on a background task of the current tokio runtime.
    pub async fn start(options: FakeModelOptions) -> std::io::Result<FakeModelServer> {
        let listener = tokio::net::TcpListener::bind(options.bind).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            options,
            log: Mutex::new(LogInner::default()),
            in_flight: AtomicU64::new(0),
            max_in_flight: AtomicU64::new(0),
            changed: watch::channel(0).0,
            transcripts: Mutex::new(HashMap::new()),
        });
        let app = router(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(FakeModelServer {
            addr,
            shared,
            shutdown: Some(tx),
            task,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://ADDR/v1`, the OpenAI-style base URL to configure clients with.
    pub fn openai_base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// A snapshot of the request log.
    pub fn requests(&self) -> RequestLog {
        self.shared.snapshot()
    }

    /// How many requests carried this prompt key, over all endpoints and models.
    ///
    /// The prompt key is: Responses — `input` when a string, else the text of the last user
    /// item; Chat Completions — the text of the last user message; Completions — `prompt` (as
    /// sent, so including any prepended instructions); Embeddings — the inputs joined by `\n`.
    pub fn calls_for(&self, prompt: &str) -> u64 {
        self.shared
            .lock()
            .by_prompt
            .get(prompt)
            .copied()
            .unwrap_or(0)
    }

    /// Bodies of the logged requests with this prompt key, oldest first.
    pub fn bodies_for(&self, prompt: &str) -> Vec<Value> {
        self.shared
            .lock()
            .recent
            .iter()
            .filter(|r| r.prompt == prompt)
            .map(|r| r.body.clone())
            .collect()
    }

    /// The body of the most recent request with this prompt key.
    pub fn last_body_for(&self, prompt: &str) -> Option<Value> {
        self.bodies_for(prompt).pop()
    }

    /// The body of the most recent request.
    pub fn last_body(&self) -> Option<Value> {
        self.shared.lock().recent.back().map(|r| r.body.clone())
    }

    /// The most requests answered at once since start (or the last [`reset`](Self::reset)).
    pub fn max_in_flight(&self) -> u64 {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }

    /// Clears the log, the per-prompt attempt counters and the in-flight high-water mark.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Waits until at least `n` requests with this prompt key have arrived.
    pub async fn wait_for_calls(&self, prompt: &str, n: u64) {
        let mut rx = self.shared.changed.subscribe();
        loop {
            if self.calls_for(prompt) >= n {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Waits until no request is being answered (a request whose client went away counts as
    /// finished once the server notices the closed connection).
    pub async fn wait_until_idle(&self) {
        let mut rx = self.shared.changed.subscribe();
        loop {
            if self.shared.in_flight.load(Ordering::SeqCst) == 0 {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Stops accepting connections and waits for the server task to end (requests still in
    /// flight are abandoned).
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for FakeModelServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.abort();
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/responses", post(responses))
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/completions", post(completions))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/audio/transcriptions", post(transcriptions))
        .route("/_fake/transcripts", post(register_transcript))
        .route("/_fake/requests", get(log).delete(reset))
        .with_state(shared)
}

async fn log(State(shared): State<Arc<Shared>>) -> Json<RequestLog> {
    Json(shared.snapshot())
}

async fn reset(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.reset();
    StatusCode::NO_CONTENT
}

// ---------------------------------------------------------------------------------------------
// Request reading

/// The text of a message `content`: a string, or an array of parts with `text`.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| match p {
                Value::String(s) => Some(s.as_str()),
                _ => p.get("text").and_then(Value::as_str),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// What the generation endpoints need from a request.
struct GenRequest {
    model: Option<String>,
    /// The key for attempt counting and `calls_for`; the default answer derives from it.
    prompt: String,
    /// All text that may carry directives.
    texts: Vec<String>,
    /// The request continues an open `<think>` block (prefill).
    continues_think: bool,
    stop: Vec<String>,
    max_tokens: Option<usize>,
}

fn opt_string(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn stops(v: &Value) -> Vec<String> {
    match v.get("stop") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn max_tokens(v: &Value, keys: &[&str]) -> Option<usize> {
    keys.iter()
        .find_map(|k| v.get(*k).and_then(Value::as_u64))
        .map(|n| n as usize)
}

fn open_think(text: &str) -> bool {
    match (text.rfind("<think>"), text.rfind("</think>")) {
        (Some(open), Some(close)) => open > close,
        (Some(_), None) => true,
        _ => false,
    }
}

fn read_responses(body: &Value) -> GenRequest {
    let mut texts = Vec::new();
    if let Some(i) = opt_string(body, "instructions") {
        texts.push(i);
    }
    let prompt = match body.get("input") {
        Some(Value::String(s)) => {
            texts.push(s.clone());
            s.clone()
        }
        Some(Value::Array(items)) => {
            let mut last_user = None;
            for item in items {
                let text = item.get("content").map(content_text).unwrap_or_default();
                if item.get("role").and_then(Value::as_str) == Some("user") {
                    last_user = Some(text.clone());
                }
                texts.push(text);
            }
            last_user.unwrap_or_else(|| texts.join("\n"))
        }
        _ => String::new(),
    };
    GenRequest {
        model: opt_string(body, "model"),
        prompt,
        texts,
        continues_think: false,
        stop: stops(body),
        max_tokens: max_tokens(body, &["max_output_tokens"]),
    }
}

fn read_chat(body: &Value) -> GenRequest {
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut texts = Vec::new();
    let mut prompt = String::new();
    for m in &messages {
        let text = m.get("content").map(content_text).unwrap_or_default();
        if m.get("role").and_then(Value::as_str) == Some("user") {
            prompt = text.clone();
        }
        texts.push(text);
    }
    let continues = body.get("continue_final_message").and_then(Value::as_bool) == Some(true);
    let continues_think = continues
        && messages.last().is_some_and(|m| {
            m.get("role").and_then(Value::as_str) == Some("assistant")
                && open_think(&m.get("content").map(content_text).unwrap_or_default())
        });
    GenRequest {
        model: opt_string(body, "model"),
        prompt,
        texts,
        continues_think,
        stop: stops(body),
        max_tokens: max_tokens(body, &["max_tokens", "max_completion_tokens"]),
    }
}

fn read_completions(body: &Value) -> GenRequest {
    let prompt = match body.get("prompt") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a.first().and_then(Value::as_str).unwrap_or("").to_string(),
        _ => String::new(),
    };
    GenRequest {
        model: opt_string(body, "model"),
        continues_think: open_think(&prompt),
        texts: vec![prompt.clone()],
        prompt,
        stop: stops(body),
        max_tokens: max_tokens(body, &["max_tokens"]),
    }
}

// ---------------------------------------------------------------------------------------------
// Answer shaping

/// Cuts `text` at the earliest stop sequence; returns whether it cut.
fn cut_at_stop(text: &str, stop: &[String]) -> (String, bool) {
    let cut = stop
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| text.find(s.as_str()))
        .min();
    match cut {
        Some(i) => (text[..i].to_string(), true),
        None => (text.to_string(), false),
    }
}

/// Keeps the first `n` whitespace-separated tokens (original spacing kept between them).
fn first_tokens(text: &str, n: usize) -> (String, bool) {
    let mut count = 0;
    let mut in_word = false;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            in_word = false;
        } else if !in_word {
            in_word = true;
            count += 1;
            if count > n {
                return (text[..i].trim_end().to_string(), true);
            }
        }
    }
    (text.to_string(), false)
}

fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn error_response(status: u16, message: &str, code: Option<&str>, headers: HeaderMap) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let kind = match status.as_u16() {
        400 | 404 | 409 | 422 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        429 => "rate_limit_error",
        _ => "server_error",
    };
    let code = code.map(str::to_string).or_else(|| match status.as_u16() {
        429 => Some("rate_limit_exceeded".to_string()),
        _ => None,
    });
    let body = json!({"error": {"message": message, "type": kind, "param": null, "code": code}});
    (status, headers, Json(body)).into_response()
}

fn bad_json(e: serde_json::Error) -> Response {
    error_response(
        400,
        &format!("request body is not valid JSON: {e}"),
        None,
        HeaderMap::new(),
    )
}

/// What a successful (or content-filtered) generation contains.
struct Answer {
    /// The full text, including a `<think>` block when asked for.
    text: String,
    reasoning: Option<String>,
    truncated: bool,
    filtered: bool,
    usage: Option<(u64, u64, u64)>,
    /// The request's sequence number, used in response ids.
    seq: u64,
}

/// Shared front half of the generation endpoints: log, latency, faults. Returns the answer or a
/// ready error response.
async fn generate(
    shared: &Arc<Shared>,
    endpoint: Endpoint,
    body: Value,
    req: GenRequest,
) -> Outcome {
    let (seq, attempt) = shared.record(endpoint, req.model.clone(), &req.prompt, body);
    let d = Directives::parse_all(req.texts.iter().map(String::as_str));
    let latency = shared.options.base_latency + d.latency.unwrap_or_default();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let input_tokens: u64 = req.texts.iter().map(|t| words(&strip(t))).sum();
    let mut filtered = false;
    let mut empty = false;
    match d.fault_for(attempt) {
        None => {}
        Some(fault @ Fault::Status { .. }) => return Outcome::Reply(status_reply(fault, attempt)),
        Some(Fault::Hang) => {
            std::future::pending::<()>().await;
        }
        Some(Fault::ContextLength) => {
            let message = format!(
                "This model's maximum context length is 8 tokens. However, your request has {input_tokens} input tokens. Please reduce the length of the input."
            );
            return Outcome::Reply(error_response(
                400,
                &message,
                Some("context_length_exceeded"),
                HeaderMap::new(),
            ));
        }
        Some(Fault::Empty) => empty = true,
        Some(Fault::ContentFilter) => filtered = true,
    }
    let (answer, truncated) = if empty || filtered {
        (String::new(), false)
    } else {
        let answer = d
            .answer
            .clone()
            .unwrap_or_else(|| default_answer(&req.prompt));
        let (answer, _) = cut_at_stop(&answer, &req.stop);
        match req.max_tokens {
            Some(n) => first_tokens(&answer, n),
            None => (answer, false),
        }
    };
    let think = if filtered { None } else { d.think.clone() };
    let text = match (&think, req.continues_think) {
        (Some(t), true) => format!("{t}</think>\n\n{answer}"),
        (None, true) => format!("</think>\n\n{answer}"),
        (Some(t), false) => format!("<think>{t}</think>\n\n{answer}"),
        (None, false) => answer,
    };
    let reasoning = if filtered { None } else { d.reasoning.clone() };
    let reasoning_tokens =
        reasoning.as_deref().map(words).unwrap_or(0) + think.as_deref().map(words).unwrap_or(0);
    let output_tokens = words(&text) + reasoning.as_deref().map(words).unwrap_or(0);
    Outcome::Answer(Answer {
        seq,
        text,
        reasoning,
        truncated,
        filtered,
        usage: (!d.no_usage).then_some((input_tokens, output_tokens, reasoning_tokens)),
    })
}

/// The reply of an injected `[[status:…]]` fault.
fn status_reply(fault: &Fault, attempt: u64) -> Response {
    let Fault::Status {
        code,
        retry_after,
        retry_after_ms,
    } = fault
    else {
        return error_response(500, "not a status fault", None, HeaderMap::new());
    };
    let mut headers = HeaderMap::new();
    if let Some(s) = retry_after {
        headers.insert("retry-after", HeaderValue::from(*s));
    }
    if let Some(ms) = retry_after_ms {
        headers.insert("retry-after-ms", HeaderValue::from(*ms));
    }
    let message = format!("fake model: injected status {code} (attempt {attempt})");
    error_response(*code, &message, None, headers)
}

/// Either an answer to shape, or a reply already made (an error, injected or not).
enum Outcome {
    Answer(Answer),
    Reply(Response),
}

async fn responses(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let body: Value = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return bad_json(e),
    };
    let _guard = InFlight::new(&shared);
    let req = read_responses(&body);
    let model = req.model.clone().unwrap_or_else(|| "fake-model".into());
    let a = match generate(&shared, Endpoint::Responses, body, req).await {
        Outcome::Answer(a) => a,
        Outcome::Reply(r) => return r,
    };
    let id = a.seq;
    let mut output = Vec::new();
    if let Some(r) = &a.reasoning {
        output.push(json!({
            "type": "reasoning",
            "id": format!("rs_{id}"),
            "summary": [{"type": "summary_text", "text": r}],
        }));
    }
    if !a.filtered {
        output.push(json!({
            "type": "message",
            "id": format!("msg_{id}"),
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": a.text, "annotations": []}],
        }));
    }
    let (status, incomplete) = if a.filtered {
        ("incomplete", json!({"reason": "content_filter"}))
    } else if a.truncated {
        ("incomplete", json!({"reason": "max_output_tokens"}))
    } else {
        ("completed", Value::Null)
    };
    let mut out = json!({
        "id": format!("resp_{id}"),
        "object": "response",
        "created_at": now(),
        "status": status,
        "model": model,
        "output": output,
        "incomplete_details": incomplete,
    });
    if let Some((input, output, reasoning)) = a.usage {
        out["usage"] = json!({
            "input_tokens": input,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": output,
            "output_tokens_details": {"reasoning_tokens": reasoning},
            "total_tokens": input + output,
        });
    }
    Json(out).into_response()
}

fn finish_reason(a: &Answer) -> &'static str {
    if a.filtered {
        "content_filter"
    } else if a.truncated {
        "length"
    } else {
        "stop"
    }
}

fn chat_usage(input: u64, output: u64, reasoning: u64) -> Value {
    json!({
        "prompt_tokens": input,
        "completion_tokens": output,
        "total_tokens": input + output,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    })
}

async fn chat_completions(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let body: Value = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return bad_json(e),
    };
    let _guard = InFlight::new(&shared);
    let req = read_chat(&body);
    let model = req.model.clone().unwrap_or_else(|| "fake-model".into());
    let a = match generate(&shared, Endpoint::ChatCompletions, body, req).await {
        Outcome::Answer(a) => a,
        Outcome::Reply(r) => return r,
    };
    let id = a.seq;
    let mut message = Map::new();
    message.insert("role".into(), json!("assistant"));
    message.insert(
        "content".into(),
        if a.filtered {
            Value::Null
        } else {
            json!(a.text)
        },
    );
    if let Some(r) = &a.reasoning {
        message.insert("reasoning_content".into(), json!(r));
    }
    let mut out = json!({
        "id": format!("chatcmpl-{id}"),
        "object": "chat.completion",
        "created": now(),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(&a), "logprobs": null}],
    });
    if let Some((input, output, reasoning)) = a.usage {
        out["usage"] = chat_usage(input, output, reasoning);
    }
    Json(out).into_response()
}

async fn completions(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let body: Value = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return bad_json(e),
    };
    let _guard = InFlight::new(&shared);
    let req = read_completions(&body);
    let model = req.model.clone().unwrap_or_else(|| "fake-model".into());
    let a = match generate(&shared, Endpoint::Completions, body, req).await {
        Outcome::Answer(a) => a,
        Outcome::Reply(r) => return r,
    };
    let id = a.seq;
    let mut out = json!({
        "id": format!("cmpl-{id}"),
        "object": "text_completion",
        "created": now(),
        "model": model,
        "choices": [{"index": 0, "text": a.text, "finish_reason": finish_reason(&a), "logprobs": null}],
    });
    if let Some((input, output, _)) = a.usage {
        out["usage"] = json!({"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output});
    }
    Json(out).into_response()
}

async fn embeddings(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let body: Value = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return bad_json(e),
    };
    let _guard = InFlight::new(&shared);
    let inputs: Option<Vec<String>> = match body.get("input") {
        Some(Value::String(s)) => Some(vec![s.clone()]),
        Some(Value::Array(a)) => a.iter().map(|v| v.as_str().map(str::to_string)).collect(),
        _ => None,
    };
    let model = opt_string(&body, "model");
    let dim = body
        .get("dimensions")
        .and_then(Value::as_u64)
        .map(|d| d as usize)
        .unwrap_or(shared.options.embedding_dim);
    let Some(inputs) = inputs else {
        shared.record(Endpoint::Embeddings, model, "", body);
        return error_response(
            400,
            "input must be a string or an array of strings",
            None,
            HeaderMap::new(),
        );
    };
    let key = inputs.join("\n");
    let (_, attempt) = shared.record(Endpoint::Embeddings, model.clone(), &key, body);
    let d = Directives::parse_all(inputs.iter().map(String::as_str));
    let latency = shared.options.base_latency + d.latency.unwrap_or_default();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match d.fault_for(attempt) {
        Some(fault @ Fault::Status { .. }) => return status_reply(fault, attempt),
        Some(Fault::Hang) => std::future::pending::<()>().await,
        Some(Fault::ContextLength) => {
            return error_response(
                400,
                "This model's maximum context length is 8 tokens.",
                Some("context_length_exceeded"),
                HeaderMap::new(),
            )
        }
        _ => {}
    }
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| {
            json!({"object": "embedding", "index": i, "embedding": embed(&strip(t), shared.options.embeddings, dim)})
        })
        .collect();
    let mut out = json!({
        "object": "list",
        "data": data,
        "model": model.unwrap_or_else(|| "fake-embedding".into()),
    });
    if !d.no_usage {
        let tokens: u64 = inputs.iter().map(|t| words(&strip(t))).sum();
        out["usage"] = json!({"prompt_tokens": tokens, "total_tokens": tokens});
    }
    Json(out).into_response()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// `POST /_fake/transcripts` `{"sha256": HEX, "text": TEXT}` (or `"audio_base64"` instead of
/// the hash): what a clip transcribes to.
async fn register_transcript(
    State(shared): State<Arc<Shared>>,
    Json(body): Json<Value>,
) -> Response {
    let hash = match (body["sha256"].as_str(), body["audio_base64"].as_str()) {
        (Some(h), _) => h.to_string(),
        (None, Some(b64)) => {
            use base64::Engine;
            match base64::engine::general_purpose::STANDARD.decode(b64) {
                Ok(bytes) => sha256_hex(&bytes),
                Err(e) => {
                    return error_response(
                        400,
                        &format!("audio_base64: {e}"),
                        None,
                        HeaderMap::new(),
                    )
                }
            }
        }
        (None, None) => {
            return error_response(400, "give sha256 or audio_base64", None, HeaderMap::new())
        }
    };
    let Some(text) = body["text"].as_str() else {
        return error_response(400, "text is required", None, HeaderMap::new());
    };
    shared
        .transcripts
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(hash, text.to_string());
    Json(json!({"ok": true})).into_response()
}

/// OpenAI's multipart transcription API: the registered transcript of the clip (see
/// [`FakeModelServer::set_transcript`]), or `unknown clip <hash prefix>`; directives in the
/// registered text (faults, latency) apply per attempt, keyed by the clip.
async fn transcriptions(
    State(shared): State<Arc<Shared>>,
    mut form: axum::extract::Multipart,
) -> Response {
    let mut audio: Option<Bytes> = None;
    let mut model = None;
    let mut language = None;
    while let Ok(Some(field)) = form.next_field().await {
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "file" => audio = field.bytes().await.ok(),
            "model" => model = field.text().await.ok(),
            "language" => language = field.text().await.ok(),
            _ => {}
        }
    }
    let Some(audio) = audio else {
        shared.record(Endpoint::Transcriptions, model, "", json!({}));
        return error_response(400, "file is required", None, HeaderMap::new());
    };
    let hash = sha256_hex(&audio);
    let registered = shared
        .transcripts
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&hash)
        .cloned();
    let text = registered.unwrap_or_else(|| format!("unknown clip {}", &hash[..8]));
    let body = json!({"model": model, "language": language, "bytes": audio.len(), "sha256": hash});
    let (_, attempt) = shared.record(Endpoint::Transcriptions, model.clone(), &text, body);
    let d = Directives::parse_all(std::iter::once(text.as_str()));
    let latency = shared.options.base_latency + d.latency.unwrap_or_default();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match d.fault_for(attempt) {
        Some(fault @ Fault::Status { .. }) => return status_reply(fault, attempt),
        Some(Fault::Hang) => std::future::pending::<()>().await,
        _ => {}
    }
    Json(json!({"text": strip(&text).trim()})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutting() {
        assert_eq!(
            cut_at_stop("a b\n\nc", &["\n\n".into()]),
            ("a b".into(), true)
        );
        assert_eq!(
            cut_at_stop("abcabc", &["c".into(), "b".into()]),
            ("a".into(), true)
        );
        assert_eq!(cut_at_stop("abc", &[]), ("abc".into(), false));
        assert_eq!(first_tokens("one  two three", 2), ("one  two".into(), true));
        assert_eq!(first_tokens("one two", 2), ("one two".into(), false));
        assert_eq!(first_tokens("  one", 0), ("".into(), true));
    }

    #[test]
    fn think_detection() {
        assert!(open_think("x <think>\n"));
        assert!(!open_think("<think>a</think>"));
        assert!(!open_think("plain"));
    }
}
