//! User Python in runs: loading grader and preprocessor code, validating it, the model bridge
//! graders call through, turning what a grader returns into scores, and rewriting dataset rows
//! with a preprocessor. The code itself runs in `assay-sandbox` interpreters.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use assay_domain::api::SampleObject;
use assay_domain::generation::GenerationConfig;
use assay_domain::manifest::{
    GraderExecution, ModelAccess, PreprocessorContract, PythonGrader, PythonPreprocessor, Task,
    MAX_TIMEOUT_SECONDS,
};
use assay_domain::Principal;
use assay_models::{Gateway, ResolvedModel, Role};
use assay_sandbox::{python_kind, Bridge, Fault, InterpreterPool, Sandbox};
use assay_store::{Store, StoreError};
use futures::future::BoxFuture;
use futures::TryStreamExt;
use serde_json::{json, Map, Value};
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

use crate::dataset::Row;
use crate::PlanError;

/// Largest Python file a grader or preprocessor may be loaded from.
pub const MAX_CODE_BYTES: usize = 1 << 20;
/// Rows sent to a `row` preprocessor per exchange.
const ROWS_PER_EXCHANGE: usize = 256;
/// Run graders unused this long are dropped (a worker that did not conclude the run).
const IDLE_GRADERS: Duration = Duration::from_secs(600);
/// Most metrics one grader result may carry, and the longest metric name.
pub const MAX_METRICS: usize = 64;
const MAX_METRIC_NAME: usize = 64;
/// Largest reply of a per-sample grader call.
const MAX_SAMPLE_REPLY: usize = 4 << 20;

/// The function a piece of manifest code must define, and the argument counts it is called
/// with (the last one adds `ctx`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Grade,
    GradeBatch,
    Transform,
    TransformBatch,
}

impl Entry {
    /// The grader's function: `grade` per sample, `grade_batch` in aggregate.
    pub fn of_grader(grader: &PythonGrader) -> Entry {
        match grader.effective_execution() {
            GraderExecution::PerSample => Entry::Grade,
            GraderExecution::Aggregate => Entry::GradeBatch,
        }
    }

    /// The preprocessor's function: `transform` per row, `transform_batch` once.
    pub fn of_preprocessor(pre: &PythonPreprocessor) -> Entry {
        match pre.contract {
            PreprocessorContract::Row => Entry::Transform,
            PreprocessorContract::Batch => Entry::TransformBatch,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Entry::Grade => "grade",
            Entry::GradeBatch => "grade_batch",
            Entry::Transform => "transform",
            Entry::TransformBatch => "transform_batch",
        }
    }

    /// Positional argument counts the function is called with.
    fn arities(self) -> &'static [u32] {
        match self {
            Entry::Grade => &[2, 3],
            Entry::GradeBatch => &[1, 2],
            Entry::Transform | Entry::TransformBatch => &[1],
        }
    }

    fn signature(self) -> &'static str {
        match self {
            Entry::Grade => "grade(sample, item) or grade(sample, item, ctx)",
            Entry::GradeBatch => "grade_batch(samples) or grade_batch(samples, ctx)",
            Entry::Transform => "transform(row)",
            Entry::TransformBatch => "transform_batch(rows)",
        }
    }
}

/// Code of a grader or preprocessor and the name it runs under.
#[derive(Debug, Clone)]
pub struct Code {
    pub source: String,
    pub filename: String,
}

/// Reads manifest code: inline `source`, or the uploaded file `file_id` as `owner` sees it.
/// The error is a message for the user.
pub async fn load_code(
    store: &Store,
    owner: &Principal,
    source: Option<&str>,
    file_id: Option<&str>,
    default_name: &str,
) -> Result<Code, CodeError> {
    if let Some(source) = source {
        return Ok(Code {
            source: source.to_string(),
            filename: default_name.to_string(),
        });
    }
    let file_id = file_id.unwrap_or_default();
    let file = match store.get_file(owner, file_id).await {
        Ok(f) => f,
        Err(StoreError::NotFound) => {
            return Err(CodeError::User(format!("file {file_id} no longer exists")))
        }
        Err(e) => return Err(CodeError::Store(e)),
    };
    if file.object.bytes > MAX_CODE_BYTES as i64 {
        return Err(CodeError::User(format!(
            "file {file_id} is {} bytes; Python code may be at most {MAX_CODE_BYTES} bytes",
            file.object.bytes
        )));
    }
    let mut bytes = Vec::new();
    let mut chunks = store
        .blobs()
        .get_stream(&file.blob_key)
        .await
        .map_err(CodeError::Store)?;
    while let Some(chunk) = chunks.try_next().await.map_err(CodeError::Store)? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_CODE_BYTES {
            return Err(CodeError::User(format!(
                "file {file_id} is larger than {MAX_CODE_BYTES} bytes"
            )));
        }
    }
    let source = String::from_utf8(bytes)
        .map_err(|_| CodeError::User(format!("file {file_id} is not UTF-8 text")))?;
    Ok(Code {
        source,
        filename: file.object.filename,
    })
}

/// Why manifest code could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    /// Something the user can fix (a missing or unreadable file).
    #[error("{0}")]
    User(String),
    #[error("store: {0}")]
    Store(StoreError),
}

/// Why code did not pass [`check_code`].
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The code is wrong; the message is for its author.
    #[error("{0}")]
    Code(String),
    /// The sandbox could not check it (the server's problem, not the code's).
    #[error("{0}")]
    Unavailable(String),
}

/// Checks code without running it: it must parse and define `entry` at the top level with a
/// usable signature.
pub async fn check_code(sandbox: &Sandbox, code: &Code, entry: Entry) -> Result<(), CheckError> {
    let functions = match sandbox.check(&code.source, &code.filename).await {
        Ok(functions) => functions,
        Err(Fault::Raised {
            kind,
            message,
            line,
            ..
        }) => {
            return Err(CheckError::Code(match line {
                Some(line) => format!("{kind} in {} line {line}: {message}", code.filename),
                None => format!("{kind} in {}: {message}", code.filename),
            }))
        }
        Err(Fault::Unavailable(why)) => {
            return Err(CheckError::Unavailable(format!(
                "this server cannot run Python code: {why}"
            )))
        }
        Err(other) => {
            return Err(CheckError::Unavailable(format!(
                "the code could not be checked: {other}"
            )))
        }
    };
    let Some(shape) = functions.get(entry.name()) else {
        return Err(CheckError::Code(format!(
            "{} defines no top-level function {}",
            code.filename,
            entry.signature()
        )));
    };
    if shape.is_async {
        return Err(CheckError::Code(format!(
            "{}() must be a plain function, not async def",
            entry.name()
        )));
    }
    if !entry.arities().iter().any(|n| shape.accepts(*n)) {
        return Err(CheckError::Code(format!(
            "{}() has the wrong parameters: define {}",
            entry.name(),
            entry.signature()
        )));
    }
    Ok(())
}

/// Scores from one grader result: a number or bool (under `metric_id`) or a dict of metric →
/// number or bool. Anything else is an error message.
pub fn scores_from(value: &Value, metric_id: &str) -> Result<Map<String, Value>, String> {
    let number = |v: &Value| match v {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    };
    let mut scores = Map::new();
    match value {
        Value::Object(map) => {
            if map.len() > MAX_METRICS {
                return Err(format!(
                    "the result has {} metrics; at most {MAX_METRICS} are kept per result",
                    map.len()
                ));
            }
            for (key, v) in map {
                if key.is_empty() || key.chars().count() > MAX_METRIC_NAME || key == "tokens" {
                    return Err(format!(
                        "metric name {:?} is not allowed: names are 1 to {MAX_METRIC_NAME} characters and not \"tokens\"",
                        key.chars().take(80).collect::<String>()
                    ));
                }
                let x = number(v).ok_or_else(|| {
                    format!(
                        "metric {key:?} is {}; each value must be a number or a bool",
                        python_kind(v)
                    )
                })?;
                scores.insert(key.clone(), json!(x));
            }
        }
        other => {
            let x = number(other).ok_or_else(|| {
                format!(
                    "the grader returned {}; return a float, a bool or a dict of metric → number",
                    python_kind(other)
                )
            })?;
            scores.insert(metric_id.to_string(), json!(x));
        }
    }
    Ok(scores)
}

/// What a `grade_batch` call returned, split up.
#[derive(Debug, Default, PartialEq)]
pub struct BatchResult {
    /// Per-sample scores, in the order the samples were passed (empty: none given).
    pub samples: Vec<Result<Map<String, Value>, String>>,
    /// Task-level metrics.
    pub metrics: Map<String, Value>,
}

/// Reads a `grade_batch` result over `n` samples: a list of per-sample results; a dict of
/// task-level metrics; or a dict with `samples` (list) and/or `metrics` (dict).
pub fn batch_result(value: &Value, n: usize, metric_id: &str) -> Result<BatchResult, String> {
    let per_sample = |list: &Vec<Value>| -> Result<Vec<_>, String> {
        if list.len() != n {
            return Err(format!(
                "grade_batch returned {} per-sample results for {n} samples",
                list.len()
            ));
        }
        Ok(list.iter().map(|v| scores_from(v, metric_id)).collect())
    };
    match value {
        Value::Array(list) => Ok(BatchResult {
            samples: per_sample(list)?,
            metrics: Map::new(),
        }),
        Value::Object(map) if map.contains_key("samples") || map.contains_key("metrics") => {
            for key in map.keys() {
                if key != "samples" && key != "metrics" {
                    return Err(format!(
                        "grade_batch returned a dict with samples/metrics and also {key:?}"
                    ));
                }
            }
            let samples = match map.get("samples") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(list)) => per_sample(list)?,
                Some(other) => {
                    return Err(format!(
                        "\"samples\" is {}; it must be a list",
                        python_kind(other)
                    ))
                }
            };
            let metrics = match map.get("metrics") {
                None | Some(Value::Null) => Map::new(),
                Some(m @ Value::Object(_)) => scores_from(m, metric_id)?,
                Some(other) => {
                    return Err(format!(
                        "\"metrics\" is {}; it must be a dict",
                        python_kind(other)
                    ))
                }
            };
            Ok(BatchResult { samples, metrics })
        }
        Value::Object(_) => Ok(BatchResult {
            samples: Vec::new(),
            metrics: scores_from(value, metric_id)?,
        }),
        other => Ok(BatchResult {
            samples: Vec::new(),
            metrics: scores_from(other, metric_id)?,
        }),
    }
}

/// A manifest's `timeout_seconds` (validated to 1–600 when the suite was created) as the
/// limit of one call.
fn call_timeout(seconds: i64) -> Duration {
    Duration::from_secs(seconds.clamp(1, MAX_TIMEOUT_SECONDS) as u64)
}

/// The dict a grader receives as `sample`.
pub fn sample_dict(
    sample: &SampleObject,
    output: &str,
    extracted: Option<&str>,
    scores: &Map<String, Value>,
) -> Value {
    json!({
        "id": sample.id,
        "index": sample.sample_index,
        "task_id": sample.task_id,
        "model": sample.model,
        "prompt": sample.prompt,
        "output_text": output,
        "extracted_output": extracted,
        "target": sample.target,
        "scores": scores,
        "usage": {"input_tokens": sample.input_tokens, "output_tokens": sample.output_tokens},
    })
}

/// The dict a grader receives as `item`: the dataset row, with the rendered `target`.
pub fn item_dict(sample: &SampleObject) -> Value {
    let mut row = sample.dataset_row.clone().unwrap_or_default();
    if let Some(target) = &sample.target {
        row.insert("target".into(), json!(target));
    }
    Value::Object(row)
}

/// One task's Python grader within a run: its settings and, once loaded, its interpreters.
pub struct TaskGrader {
    pub config: PythonGrader,
    pub entry: Entry,
    pool_size: usize,
    /// The loaded pool, or why the code cannot load (a user error, kept; storage errors are
    /// not kept, so the next sample tries again).
    pool: OnceCell<Result<Arc<InterpreterPool>, Value>>,
}

impl TaskGrader {
    fn new(config: PythonGrader, pool_size: usize) -> Self {
        Self {
            entry: Entry::of_grader(&config),
            config,
            pool_size,
            pool: OnceCell::new(),
        }
    }

    /// The grader's call limit.
    pub fn timeout(&self) -> Duration {
        call_timeout(self.config.timeout_seconds)
    }

    /// Its interpreters, loading the code on first use; the error is the sample error.
    pub async fn pool(
        &self,
        sandbox: &Sandbox,
        store: &Store,
        owner: &Principal,
    ) -> Result<Arc<InterpreterPool>, Value> {
        let loaded = self
            .pool
            .get_or_try_init(|| async {
                let code = match load_code(
                    store,
                    owner,
                    self.config.source.as_deref(),
                    self.config.file_id.as_deref(),
                    "grader.py",
                )
                .await
                {
                    Ok(code) => code,
                    Err(CodeError::User(why)) => {
                        return Ok(Err(json!({"type": "grader_error", "message": format!("cannot load the grader: {why}")})))
                    }
                    Err(CodeError::Store(e)) => {
                        return Err(json!({"type": "storage_error", "message": format!("cannot load the grader: {e}")}))
                    }
                };
                let mut pool = InterpreterPool::new(
                    sandbox.clone(),
                    code.source,
                    code.filename,
                    self.pool_size,
                    self.timeout(),
                );
                if self.entry == Entry::Grade {
                    pool = pool.with_reply_limit(MAX_SAMPLE_REPLY);
                }
                Ok(Ok(Arc::new(pool)))
            })
            .await?;
        loaded.clone()
    }
}

/// The Python graders of the runs this process works on, kept across the samples of a run
/// (interpreters are started once per task and reused), dropped when the run concludes or
/// after they sat unused for a while.
#[derive(Default)]
pub struct GraderRegistry {
    runs: Arc<Mutex<HashMap<String, (RunGraders, Instant)>>>,
    sweeper: std::sync::OnceLock<()>,
}

/// One run's Python graders, by task id.
pub type RunGraders = Arc<HashMap<String, Arc<TaskGrader>>>;

impl GraderRegistry {
    /// The graders of `run_id`'s tasks, by task id, with pools of `pool_size` interpreters.
    pub fn for_run(
        &self,
        run_id: &str,
        tasks: &HashMap<String, Task>,
        pool_size: usize,
    ) -> RunGraders {
        self.sweeper.get_or_init(|| {
            // Graders of runs this process stopped seeing (another worker concluded them)
            // are dropped even if no other run comes along.
            let runs = Arc::downgrade(&self.runs);
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    loop {
                        tokio::time::sleep(IDLE_GRADERS / 4).await;
                        let Some(registry) = runs.upgrade() else {
                            return;
                        };
                        let now = Instant::now();
                        if let Ok(mut live) = registry.lock() {
                            live.retain(|_, (_, used)| now.duration_since(*used) < IDLE_GRADERS);
                        };
                    }
                });
            }
        });
        let Ok(mut runs) = self.runs.lock() else {
            return Arc::new(HashMap::new());
        };
        let now = Instant::now();
        let entry = runs.entry(run_id.to_string()).or_insert_with(|| {
            let graders = tasks
                .iter()
                .filter_map(|(id, task)| {
                    let grader = task.grader.clone()?;
                    Some((id.clone(), Arc::new(TaskGrader::new(grader, pool_size))))
                })
                .collect();
            (Arc::new(graders), now)
        });
        entry.1 = now;
        entry.0.clone()
    }

    /// Drops `run_id`'s graders (their interpreters stop when the last user lets go).
    pub fn forget(&self, run_id: &str) {
        if let Ok(mut runs) = self.runs.lock() {
            runs.remove(run_id);
        }
    }
}

/// The model bridge of one grader execution: `ctx.responses_create` / `ctx.embeddings_create`
/// go through the gateway with the run's grading models, at most `max_calls` times. The
/// grader never sees an endpoint or key.
pub struct ModelBridge<'a> {
    pub gateway: &'a Gateway,
    pub access: ModelAccess,
    pub judge_model: Result<&'a (String, ResolvedModel), &'a str>,
    pub embedding_model: Result<&'a (String, ResolvedModel), &'a str>,
    pub generation: &'a GenerationConfig,
    pub stop: &'a CancellationToken,
    pub max_calls: usize,
    /// What each call did (stored in the sample's `judge`).
    pub calls: Vec<Value>,
}

impl ModelBridge<'_> {
    /// The sample's `judge` object, when the grader called a model.
    pub fn record(&self) -> Option<Value> {
        (!self.calls.is_empty()).then(|| json!({"model_calls": self.calls}))
    }

    fn target(
        &self,
        params: &Map<String, Value>,
        role: Role,
    ) -> Result<(String, ResolvedModel), Value> {
        let name = match params.get("model") {
            None | Some(Value::Null) => "auto",
            Some(Value::String(s)) => s.as_str(),
            Some(_) => return Err(bridge_error("bad_request", "model must be a string")),
        };
        if name == "auto" {
            let run_model = match role {
                Role::Embedding => self.embedding_model,
                _ => self.judge_model,
            };
            return run_model
                .map(|(id, resolved)| (id.clone(), resolved.clone()))
                .map_err(|why| bridge_error("bad_request", format!("no model for auto: {why}")));
        }
        self.gateway
            .resolve(name, role)
            .map(|r| (name.to_string(), r))
            .map_err(|e| bridge_error("bad_request", e.to_string()))
    }

    async fn responses(&mut self, mut params: Map<String, Value>) -> Result<Value, Value> {
        let (name, target) = self.target(&params, Role::Judge)?;
        let prompt = match params.remove("input") {
            Some(Value::String(s)) => s,
            Some(Value::Array(messages)) => messages_text(&messages)?,
            _ => {
                return Err(bridge_error(
                    "bad_request",
                    "input must be a string or a list of {role, content} messages",
                ))
            }
        };
        params.remove("model");
        // The run's call settings (timeouts, retries, cache) under the grader's own sampling.
        let mut merged = serde_json::to_value(self.generation)
            .ok()
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default();
        for key in [
            "instructions",
            "temperature",
            "top_p",
            "max_output_tokens",
            "stop",
            "seed",
        ] {
            merged.remove(key);
        }
        merged.extend(params);
        let config: GenerationConfig = serde_json::from_value(Value::Object(merged))
            .map_err(|e| bridge_error("bad_request", format!("invalid parameters: {e}")))?;
        config
            .validate("params")
            .map_err(|e| bridge_error("bad_request", e.to_string()))?;
        let config = config.normalize();
        let generated = self
            .gateway
            .generate_resolved(&target, &prompt, &config, self.stop)
            .await
            .map_err(|e| e.to_json())?;
        self.calls.push(json!({
            "kind": "responses", "model": name,
            "input_tokens": generated.usage.input_tokens,
            "output_tokens": generated.usage.output_tokens,
        }));
        Ok(json!({
            "id": generated.response_id,
            "object": "response",
            "model": name,
            "output_text": generated.output_text,
            "output": [{"type": "message", "role": "assistant",
                        "content": [{"type": "output_text", "text": generated.output_text}]}],
            "usage": {
                "input_tokens": generated.usage.input_tokens,
                "output_tokens": generated.usage.output_tokens,
                "total_tokens": generated.usage.input_tokens + generated.usage.output_tokens,
            },
        }))
    }

    async fn embeddings(&mut self, params: Map<String, Value>) -> Result<Value, Value> {
        let (name, target) = self.target(&params, Role::Embedding)?;
        let texts: Vec<String> = match params.get("input") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .ok_or_else(|| {
                    bridge_error("bad_request", "input must be a string or a list of strings")
                })?,
            _ => {
                return Err(bridge_error(
                    "bad_request",
                    "input must be a string or a list of strings",
                ))
            }
        };
        let embedded = self
            .gateway
            .embed_resolved(&target, &texts, self.stop)
            .await
            .map_err(|e| e.to_json())?;
        self.calls.push(json!({
            "kind": "embeddings", "model": name, "inputs": texts.len(),
            "input_tokens": embedded.usage.input_tokens,
        }));
        let data: Vec<Value> = embedded
            .vectors
            .iter()
            .enumerate()
            .map(|(i, v)| json!({"object": "embedding", "index": i, "embedding": v}))
            .collect();
        Ok(json!({
            "object": "list",
            "model": name,
            "data": data,
            "usage": {"prompt_tokens": embedded.usage.input_tokens, "total_tokens": embedded.usage.input_tokens},
        }))
    }
}

impl Bridge for ModelBridge<'_> {
    fn call(&mut self, kind: String, params: Value) -> BoxFuture<'_, Result<Value, Value>> {
        Box::pin(async move {
            if self.access != ModelAccess::Mka1 {
                return Err(bridge_error(
                    "model_access_denied",
                    "this grader has no model access (set model_access: mka1 or use the model_backed contract)",
                ));
            }
            if self.calls.len() >= self.max_calls {
                return Err(bridge_error(
                    "model_call_limit",
                    format!("the grader may make at most {} model calls per execution (max_model_calls)", self.max_calls),
                ));
            }
            let Value::Object(params) = params else {
                return Err(bridge_error(
                    "bad_request",
                    "parameters must be keyword arguments",
                ));
            };
            let result = match kind.as_str() {
                "responses" => self.responses(params).await,
                "embeddings" => self.embeddings(params).await,
                other => Err(bridge_error(
                    "bad_request",
                    format!("unknown model call {other}"),
                )),
            };
            if result.is_err() && self.calls.len() < self.max_calls {
                // Failed calls count too: a grader cannot retry without end.
                self.calls.push(json!({"kind": kind, "error": true}));
            }
            result
        })
    }
}

fn bridge_error(kind: &str, message: impl Into<String>) -> Value {
    json!({"type": kind, "message": message.into()})
}

/// Chat-style messages as one prompt text: each message's content, role-labelled when there
/// is more than one.
fn messages_text(messages: &[Value]) -> Result<String, Value> {
    let mut parts = Vec::new();
    for m in messages {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("user");
        let content = match m.get("content") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|i| i.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n"),
            _ => return Err(bridge_error("bad_request", "each message needs a content")),
        };
        parts.push((role.to_string(), content));
    }
    Ok(match parts.as_slice() {
        [(_, only)] => only.clone(),
        _ => parts
            .iter()
            .map(|(role, content)| format!("{role}: {content}"))
            .collect::<Vec<_>>()
            .join("\n\n"),
    })
}

/// Rewrites a task's rows with its preprocessor: `transform(row)` per row (a `None` result
/// drops the row) or `transform_batch(rows)` once. A failure is the run's planning error.
pub struct Preprocessor {
    interpreter: assay_sandbox::Interpreter,
    entry: Entry,
    timeout: Duration,
    what: String,
}

impl Preprocessor {
    /// Starts the preprocessor of `task`.
    pub async fn start(
        sandbox: &Sandbox,
        store: &Store,
        owner: &Principal,
        task: &Task,
        pre: &PythonPreprocessor,
    ) -> Result<Self, PlanError> {
        let what = format!("task {} preprocessor", task.id);
        let code = load_code(
            store,
            owner,
            pre.source.as_deref(),
            pre.file_id.as_deref(),
            "preprocess.py",
        )
        .await
        .map_err(|e| match e {
            CodeError::User(m) => PlanError::Preprocess(format!("{what}: {m}")),
            CodeError::Store(e) => PlanError::Store(e),
        })?;
        let timeout = call_timeout(pre.timeout_seconds);
        let interpreter = sandbox
            .start(&code.source, &code.filename, timeout)
            .await
            .map_err(|f| preprocess_error(&what, &f))?;
        Ok(Self {
            interpreter,
            entry: Entry::of_preprocessor(pre),
            timeout,
            what,
        })
    }

    /// Whether all rows must be gathered first (`batch`).
    pub fn wants_all_rows(&self) -> bool {
        self.entry == Entry::TransformBatch
    }

    /// Rewrites `rows` (a chunk for `row`, all of them for `batch`).
    pub async fn apply(&mut self, rows: Vec<Row>) -> Result<Vec<Row>, PlanError> {
        let mut out = Vec::with_capacity(rows.len());
        if self.entry == Entry::TransformBatch {
            let value = self
                .interpreter
                .call(
                    self.entry.name(),
                    vec![Value::Array(rows.into_iter().map(Value::Object).collect())],
                    None,
                    self.timeout,
                    &mut assay_sandbox::NoBridge,
                )
                .await
                .map_err(|f| preprocess_error(&self.what, &f))?;
            let Value::Array(items) = value else {
                return Err(PlanError::Preprocess(format!(
                    "{}: transform_batch returned {}; it must return a list of dicts",
                    self.what,
                    python_kind(&value)
                )));
            };
            for (i, item) in items.into_iter().enumerate() {
                match item {
                    Value::Object(row) => out.push(row),
                    other => {
                        return Err(PlanError::Preprocess(format!(
                            "{}: transform_batch returned {} at position {i}; rows must be dicts",
                            self.what,
                            python_kind(&other)
                        )))
                    }
                }
            }
            return Ok(out);
        }
        for chunk in rows.chunks(ROWS_PER_EXCHANGE) {
            let items: Vec<Value> = chunk.iter().cloned().map(Value::Object).collect();
            let results = self
                .interpreter
                .map(
                    self.entry.name(),
                    items,
                    self.timeout.saturating_mul(chunk.len() as u32),
                )
                .await
                .map_err(|f| preprocess_error(&self.what, &f))?;
            for item in results {
                match item {
                    Value::Object(row) => out.push(row),
                    Value::Null => {}
                    other => {
                        return Err(PlanError::Preprocess(format!(
                            "{}: transform returned {} for a row; return a dict, or None to drop the row",
                            self.what,
                            python_kind(&other)
                        )))
                    }
                }
            }
        }
        Ok(out)
    }

    /// Rows per `apply` call in `row` mode.
    pub fn chunk_rows(&self) -> usize {
        ROWS_PER_EXCHANGE
    }
}

fn preprocess_error(what: &str, fault: &Fault) -> PlanError {
    // The error object's texts are already cut to a bounded size.
    let error = fault.to_json("preprocessor");
    let text = |key: &str| error.get(key).and_then(Value::as_str).unwrap_or_default();
    let detail = match text("traceback") {
        "" => text("message").to_string(),
        tb => format!("{}\n{tb}", text("message")),
    };
    PlanError::Preprocess(format!("{what}: {detail}"))
}

/// The `ctx` a grader receives (besides the model helpers).
pub fn grader_ctx(task: &Task, model: &str, grader: &PythonGrader) -> Value {
    json!({
        "task_id": task.id,
        "model": model,
        "metric_id": grader.metric_id,
        "model_access": grader.effective_model_access() == ModelAccess::Mka1,
        "max_model_calls": grader.max_model_calls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_from_numbers_bools_and_dicts() {
        assert_eq!(
            scores_from(&json!(0.5), "score").unwrap(),
            json!({"score": 0.5}).as_object().unwrap().clone()
        );
        assert_eq!(scores_from(&json!(true), "acc").unwrap()["acc"], json!(1.0));
        let dict = scores_from(&json!({"a": 1, "b": false}), "score").unwrap();
        assert_eq!(dict["a"], json!(1.0));
        assert_eq!(dict["b"], json!(0.0));
        assert!(scores_from(&json!("x"), "score")
            .unwrap_err()
            .contains("a string"));
        assert!(scores_from(&Value::Null, "score")
            .unwrap_err()
            .contains("None"));
        assert!(scores_from(&json!({"a": "no"}), "score")
            .unwrap_err()
            .contains("\"a\""));
        assert!(scores_from(&json!([1]), "score")
            .unwrap_err()
            .contains("a list"));
    }

    #[test]
    fn batch_results_in_every_shape() {
        let list = batch_result(&json!([1, {"x": 0.5}]), 2, "score").unwrap();
        assert_eq!(list.samples.len(), 2);
        assert!(list.metrics.is_empty());
        assert!(batch_result(&json!([1]), 2, "score")
            .unwrap_err()
            .contains("1 per-sample"));
        let metrics = batch_result(&json!({"macro_f1": 0.7}), 3, "score").unwrap();
        assert_eq!(metrics.metrics["macro_f1"], json!(0.7));
        assert!(metrics.samples.is_empty());
        let both = batch_result(
            &json!({"samples": [0, 1], "metrics": {"f1": 0.5}}),
            2,
            "score",
        )
        .unwrap();
        assert_eq!(both.samples.len(), 2);
        assert_eq!(both.metrics["f1"], json!(0.5));
        let bare = batch_result(&json!(0.25), 2, "acc").unwrap();
        assert_eq!(bare.metrics["acc"], json!(0.25));
        assert!(batch_result(&json!({"samples": [1], "other": 1}), 1, "score").is_err());
        assert!(batch_result(&json!("x"), 1, "score").is_err());
    }

    #[test]
    fn messages_become_one_prompt() {
        assert_eq!(
            messages_text(&[json!({"role": "user", "content": "hi"})]).unwrap(),
            "hi"
        );
        assert_eq!(
            messages_text(&[
                json!({"role": "system", "content": "be brief"}),
                json!({"role": "user", "content": [{"type": "input_text", "text": "hi"}]})
            ])
            .unwrap(),
            "system: be brief\n\nuser: hi"
        );
        assert!(messages_text(&[json!({"role": "user"})]).is_err());
    }
}
