//! One sandboxed interpreter process and the host side of its protocol.

use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{ChildStderr, ChildStdin, ChildStdout};
use tokio::sync::oneshot;

use crate::UidLease;

/// A top-level function found by [`crate::Sandbox::check`]: how many positional arguments it
/// takes (`most` is `None` with `*args`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionShape {
    pub least: u32,
    pub most: Option<u32>,
    pub is_async: bool,
}

impl FunctionShape {
    /// Whether the function can be called with `n` positional arguments.
    pub fn accepts(&self, n: u32) -> bool {
        self.least <= n && self.most.is_none_or(|most| n <= most)
    }
}

/// Why a call into the sandbox did not return a value.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Fault {
    /// User code raised (or returned something unusable); the interpreter is still usable.
    #[error("{kind}: {message}")]
    Raised {
        kind: String,
        message: String,
        traceback: Option<String>,
        /// Source line of a syntax error.
        line: Option<u64>,
    },
    /// The call ran past its wall-clock limit; the interpreter was killed.
    #[error("did not finish within {seconds} s (the interpreter was stopped)")]
    TimedOut { seconds: u64 },
    /// The interpreter process ended during the call.
    #[error("the interpreter {reason}")]
    Died { reason: String, log: String },
    /// The interpreter sent something that is not the protocol; it was killed.
    #[error("the interpreter broke the sandbox protocol: {0}")]
    Protocol(String),
    /// No interpreter could be started.
    #[error("{0}")]
    Unavailable(String),
}

impl Fault {
    /// Whether the interpreter is gone (it must be replaced).
    pub fn is_fatal(&self) -> bool {
        !matches!(self, Fault::Raised { .. })
    }

    /// The error object stored on a sample (or run) that this fault failed; `what` names the
    /// code (`grader`, `preprocessor`). Texts from user code are cut to [`MAX_ERROR_TEXT`].
    pub fn to_json(&self, what: &str) -> Value {
        let mut error = self.untrimmed_json(what);
        if let Value::Object(fields) = &mut error {
            for value in fields.values_mut() {
                if let Value::String(text) = value {
                    if text.len() > MAX_ERROR_TEXT {
                        *text = cut(text, MAX_ERROR_TEXT);
                    }
                }
            }
        }
        error
    }

    fn untrimmed_json(&self, what: &str) -> Value {
        match self {
            Fault::Raised {
                kind,
                message,
                traceback,
                ..
            } if kind == "InvalidReturn" => json!({
                "type": format!("{what}_invalid_result"),
                "message": format!("the {what} returned an unusable value: {message}"),
                "traceback": traceback,
            }),
            Fault::Raised {
                kind,
                message,
                traceback,
                ..
            } => json!({
                "type": format!("{what}_error"),
                "message": format!("the {what} raised {kind}: {message}"),
                "exception": kind,
                "traceback": traceback,
            }),
            Fault::TimedOut { seconds } => json!({
                "type": format!("{what}_timeout"),
                "message": format!("the {what} did not finish within {seconds} s (timeout_seconds)"),
            }),
            Fault::Died { reason, log } => json!({
                "type": format!("{what}_crashed"),
                "message": format!("the {what}'s interpreter {reason}"),
                "output": log,
            }),
            Fault::Protocol(message) => json!({
                "type": "sandbox_protocol_error",
                "message": format!("the {what}'s interpreter broke the sandbox protocol: {message}"),
            }),
            Fault::Unavailable(message) => json!({
                "type": "sandbox_unavailable",
                "message": message,
            }),
        }
    }
}

/// Longest text (message, traceback, output) kept in an error object, in bytes.
pub const MAX_ERROR_TEXT: usize = 16 * 1024;

/// The start and the end of `text`, at most `max` bytes in all, with a marker between.
fn cut(text: &str, max: usize) -> String {
    let half = max / 2;
    let mut head = half.min(text.len());
    while !text.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = text.len().saturating_sub(half).max(head);
    while !text.is_char_boundary(tail) {
        tail += 1;
    }
    format!(
        "{}\n[… {} bytes cut …]\n{}",
        &text[..head],
        tail - head,
        &text[tail..]
    )
}

/// Answers the model calls user code makes through `ctx` while a call runs.
pub trait Bridge: Send {
    /// Performs one `kind` call (`responses` or `embeddings`) with `params`; the error is a
    /// JSON object with `type` and `message`, raised in user code as `ModelCallError`.
    fn call(&mut self, kind: String, params: Value) -> BoxFuture<'_, Result<Value, Value>>;
}

/// A bridge that refuses every call.
pub struct NoBridge;

impl Bridge for NoBridge {
    fn call(&mut self, _kind: String, _params: Value) -> BoxFuture<'_, Result<Value, Value>> {
        Box::pin(async {
            Err(json!({
                "type": "model_access_denied",
                "message": "this code has no model access (model_access: none)"
            }))
        })
    }
}

/// The last bytes an interpreter printed.
#[derive(Default)]
struct LogTail {
    bytes: Vec<u8>,
    total: u64,
}

/// One sandboxed Python interpreter with a module loaded.
pub struct Interpreter {
    child: Option<Child>,
    input: ChildStdin,
    output: ChildStdout,
    log: Arc<Mutex<LogTail>>,
    max_message: usize,
    /// Largest reply to a `call` or `map` (at most `max_message`).
    max_reply: usize,
    cpu_budget: u64,
    cpu_used: f64,
    dead: bool,
    /// A request was sent and its reply not read (the call was dropped midway): the next
    /// reply would answer the wrong request, so the interpreter is unusable.
    in_call: bool,
    lease: Option<UidLease>,
    /// A slot under the sandbox's `max_interpreters`, freed when this interpreter stops.
    _slot: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl Interpreter {
    pub(crate) fn new(
        mut child: Child,
        lease: Option<UidLease>,
        slot: Option<tokio::sync::OwnedSemaphorePermit>,
        max_message: usize,
        log_bytes: usize,
        cpu_budget: u64,
    ) -> Result<Self, Fault> {
        let pipes = (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let (Some(stdin), Some(stdout), Some(stderr)) = pipes else {
            return Err(Fault::Unavailable("the interpreter has no pipes".into()));
        };
        let convert = |e: std::io::Error| Fault::Unavailable(format!("interpreter pipes: {e}"));
        let input = ChildStdin::from_std(stdin).map_err(convert)?;
        let output = ChildStdout::from_std(stdout).map_err(convert)?;
        let errors = ChildStderr::from_std(stderr).map_err(convert)?;
        let log = Arc::new(Mutex::new(LogTail::default()));
        tokio::spawn(drain(errors, log.clone(), log_bytes));
        Ok(Self {
            child: Some(child),
            input,
            output,
            log,
            max_message,
            max_reply: max_message,
            cpu_budget,
            cpu_used: 0.0,
            dead: false,
            in_call: false,
            lease,
            _slot: slot,
        })
    }

    /// Caps the replies of later calls at `bytes` (never above the sandbox's
    /// `max_message_mb`): a grader returning one score needs far less than a batch.
    pub fn limit_replies(&mut self, bytes: usize) {
        self.max_reply = bytes.min(self.max_message);
    }

    /// Whether the interpreter can take more calls: alive, and with CPU budget left.
    pub fn is_usable(&self) -> bool {
        !self.dead && !self.in_call && self.cpu_used < self.cpu_budget as f64 / 2.0
    }

    /// Calls the loaded module's `function` with `args`, within `timeout` (wall clock and CPU).
    /// With `ctx` set, a `Context` built from it is passed as one more argument when the
    /// function takes it; its model calls go to `bridge`.
    pub async fn call(
        &mut self,
        function: &str,
        args: Vec<Value>,
        ctx: Option<Value>,
        timeout: Duration,
        bridge: &mut dyn Bridge,
    ) -> Result<Value, Fault> {
        let mut request = json!({"op": "call", "function": function, "args": args});
        if let Some(ctx) = ctx {
            request["ctx"] = ctx;
        }
        self.request(request, timeout, bridge).await
    }

    /// Calls the one-argument `function` once per item, in one exchange; fails on the first
    /// item that raises (its `index` is in the traceback's fault message).
    pub async fn map(
        &mut self,
        function: &str,
        items: Vec<Value>,
        timeout: Duration,
    ) -> Result<Vec<Value>, Fault> {
        let per_item = timeout.as_secs().max(1);
        let total = timeout.saturating_mul(items.len().max(1) as u32);
        let request = json!({"op": "map", "function": function, "items": items,
            "item_seconds": per_item});
        match self.request(request, total, &mut NoBridge).await? {
            Value::Array(values) => Ok(values),
            other => Err(Fault::Protocol(format!(
                "map returned {} instead of a list",
                python_kind(&other)
            ))),
        }
    }

    /// Sends one request and serves the interpreter's model calls until its reply. The
    /// request's CPU budget is its `timeout`, like its wall-clock limit.
    pub(crate) async fn request(
        &mut self,
        mut request: Value,
        timeout: Duration,
        bridge: &mut dyn Bridge,
    ) -> Result<Value, Fault> {
        request["cpu_seconds"] = json!(timeout.as_secs().max(1));
        if self.dead || self.in_call {
            self.kill();
            return Err(Fault::Died {
                reason: "had already stopped".into(),
                log: String::new(),
            });
        }
        self.in_call = true;
        let result = tokio::time::timeout(timeout, self.exchange(request, bridge)).await;
        self.in_call = false;
        let outcome = match result {
            Ok(Ok(reply)) => self.read_reply(reply),
            Ok(Err(Exchange::Closed)) => Err(self.death().await),
            Ok(Err(Exchange::Invalid(why))) => Err(Fault::Protocol(why)),
            Err(_) => Err(Fault::TimedOut {
                seconds: timeout.as_secs().max(1),
            }),
        };
        if let Err(fault) = &outcome {
            if fault.is_fatal() {
                self.kill();
            }
        }
        outcome
    }

    async fn exchange(
        &mut self,
        request: Value,
        bridge: &mut dyn Bridge,
    ) -> Result<Value, Exchange> {
        self.send(&request).await?;
        loop {
            let message = self.receive().await?;
            if message.get("op").and_then(Value::as_str) != Some("model") {
                return Ok(message);
            }
            let kind = message
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let params = message.get("params").cloned().unwrap_or(Value::Null);
            let reply = match bridge.call(kind, params).await {
                Ok(value) => json!({"ok": value}),
                Err(error) => json!({"error": error}),
            };
            self.send(&reply).await?;
        }
    }

    fn read_reply(&mut self, mut reply: Value) -> Result<Value, Fault> {
        if let Some(cpu) = reply.get("cpu").and_then(Value::as_f64) {
            self.cpu_used = cpu;
        }
        if let Some(error) = reply.get("error") {
            let text = |key: &str| error.get(key).and_then(Value::as_str).map(str::to_string);
            return Err(Fault::Raised {
                kind: text("type").unwrap_or_else(|| "Error".into()),
                message: match error.get("index").and_then(Value::as_u64) {
                    Some(index) => {
                        format!("{} (item {index})", text("message").unwrap_or_default())
                    }
                    None => text("message").unwrap_or_default(),
                },
                traceback: text("traceback"),
                line: error.get("line").and_then(Value::as_u64),
            });
        }
        match reply.get_mut("ok") {
            Some(value) => Ok(value.take()),
            None => Err(Fault::Protocol("a reply with neither ok nor error".into())),
        }
    }

    async fn send(&mut self, message: &Value) -> Result<(), Exchange> {
        let body = serde_json::to_vec(message)
            .map_err(|e| Exchange::Invalid(format!("unencodable request: {e}")))?;
        let size = u32::try_from(body.len())
            .map_err(|_| Exchange::Invalid("a request larger than 4 GiB".into()))?;
        let mut frame = Vec::with_capacity(body.len() + 4);
        frame.extend_from_slice(&size.to_be_bytes());
        frame.extend_from_slice(&body);
        self.input
            .write_all(&frame)
            .await
            .map_err(|_| Exchange::Closed)?;
        self.input.flush().await.map_err(|_| Exchange::Closed)
    }

    async fn receive(&mut self) -> Result<Value, Exchange> {
        let mut head = [0u8; 4];
        self.output
            .read_exact(&mut head)
            .await
            .map_err(|_| Exchange::Closed)?;
        let size = u32::from_be_bytes(head) as usize;
        let limit = if self.in_call {
            self.max_reply
        } else {
            self.max_message
        };
        if size > limit {
            return Err(Exchange::Invalid(format!(
                "a message of {size} bytes (the limit is {limit})"
            )));
        }
        let mut body = vec![0u8; size];
        self.output
            .read_exact(&mut body)
            .await
            .map_err(|_| Exchange::Closed)?;
        serde_json::from_slice(&body)
            .map_err(|e| Exchange::Invalid(format!("unreadable message: {e}")))
    }

    /// Why the process ended: its exit status and the end of what it printed. The keeper is
    /// told to end the sandbox first (an interpreter that closed its pipes but kept running
    /// dies then; one that already exited keeps its status), and reaped on the blocking pool,
    /// which finishes even if this future is dropped.
    async fn death(&mut self) -> Fault {
        let mut reason = "stopped".to_string();
        if let Some(reaped) = self.end() {
            if let Ok(Ok(status)) = reaped.await {
                use std::os::unix::process::ExitStatusExt;
                reason = match status.code().or(status.signal().map(|s| 128 + s)) {
                    Some(code) if code > 128 => describe_signal(code - 128),
                    Some(code) => format!("exited with status {code}"),
                    None => reason,
                };
            }
        }
        Fault::Died {
            reason,
            log: self.log_tail(),
        }
    }

    /// The end of what the interpreter printed (stdout and stderr), as text.
    pub fn log_tail(&self) -> String {
        match self.log.lock() {
            Ok(tail) => {
                let text = String::from_utf8_lossy(&tail.bytes).into_owned();
                if tail.total > tail.bytes.len() as u64 {
                    format!(
                        "[{} earlier bytes not kept]\n{text}",
                        tail.total - tail.bytes.len() as u64
                    )
                } else {
                    text
                }
            }
            Err(_) => String::new(),
        }
    }

    /// Kills the interpreter and everything it started; the keeper is reaped in the background
    /// (it exits once nothing of the sandbox is left) and the user id freed after that.
    pub fn kill(&mut self) {
        let _ = self.end();
    }

    /// Tells the keeper to end the sandbox and reaps it in the background, freeing the user
    /// id after that; the receiver gets its exit status. `None` when that was done already.
    fn end(&mut self) -> Option<oneshot::Receiver<std::io::Result<std::process::ExitStatus>>> {
        self.dead = true;
        let mut child = self.child.take()?;
        terminate(&child);
        let lease = self.lease.take();
        let (reaped, status) = oneshot::channel();
        let reap = move || {
            let exit = child.wait();
            drop(lease);
            let _ = reaped.send(exit);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn_blocking(reap);
            }
            Err(_) => {
                std::thread::spawn(reap);
            }
        }
        Some(status)
    }
}

/// Asks the keeper to kill the interpreter's namespace (it exits after that).
fn terminate(keeper: &Child) {
    // SAFETY: the keeper is not reaped yet (the caller holds its `Child`), so the pid is its.
    unsafe { libc::kill(keeper.id() as libc::pid_t, libc::SIGTERM) };
}

impl Drop for Interpreter {
    fn drop(&mut self) {
        self.kill();
    }
}

enum Exchange {
    /// The pipes closed: the process is gone.
    Closed,
    Invalid(String),
}

/// What a JSON value is, in Python's words ("a dict", "None", …), for messages about what user
/// code returned.
pub fn python_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "None",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a dict",
    }
}

fn describe_signal(signal: i32) -> String {
    match signal {
        libc::SIGKILL => "was killed (SIGKILL: out of memory, or killed from inside)".into(),
        libc::SIGXCPU => "ran out of CPU time (timeout_seconds) and was stopped".into(),
        libc::SIGXFSZ => "wrote a file larger than the sandbox allows".into(),
        libc::SIGSEGV => "crashed (segmentation fault)".into(),
        libc::SIGABRT => "aborted".into(),
        other => format!("was stopped by signal {other}"),
    }
}

/// Reads what the interpreter prints, keeping only the last `keep` bytes, so that a grader
/// printing without end never blocks or fills memory.
async fn drain(mut errors: ChildStderr, log: Arc<Mutex<LogTail>>, keep: usize) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        match errors.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let Ok(mut tail) = log.lock() else { return };
                tail.total += n as u64;
                tail.bytes.extend_from_slice(&buffer[..n]);
                if tail.bytes.len() > keep {
                    let cut = tail.bytes.len() - keep;
                    tail.bytes.drain(..cut);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_accept_their_argument_counts() {
        let two_or_three = FunctionShape {
            least: 2,
            most: Some(3),
            is_async: false,
        };
        assert!(!two_or_three.accepts(1));
        assert!(two_or_three.accepts(2) && two_or_three.accepts(3));
        assert!(!two_or_three.accepts(4));
        let varargs = FunctionShape {
            least: 1,
            most: None,
            is_async: false,
        };
        assert!(varargs.accepts(7) && !varargs.accepts(0));
    }

    #[test]
    fn faults_become_sample_errors() {
        let raised = Fault::Raised {
            kind: "KeyError".into(),
            message: "'x'".into(),
            traceback: Some("Traceback…".into()),
            line: None,
        };
        let error = raised.to_json("grader");
        assert_eq!(error["type"], "grader_error");
        assert_eq!(error["exception"], "KeyError");
        assert_eq!(error["traceback"], "Traceback…");
        assert!(!raised.is_fatal());
        let invalid = Fault::Raised {
            kind: "InvalidReturn".into(),
            message: "NaN".into(),
            traceback: None,
            line: None,
        };
        assert_eq!(invalid.to_json("grader")["type"], "grader_invalid_result");
        let timeout = Fault::TimedOut { seconds: 3 };
        assert!(timeout.is_fatal());
        assert_eq!(
            timeout.to_json("preprocessor")["type"],
            "preprocessor_timeout"
        );
        assert!(timeout.to_json("grader")["message"]
            .as_str()
            .is_some_and(|m| m.contains("3 s")));
        let long = Fault::Raised {
            kind: "ValueError".into(),
            message: "é".repeat(40_000),
            traceback: None,
            line: None,
        };
        let message = long.to_json("grader")["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(message.len() <= MAX_ERROR_TEXT + 64, "{}", message.len());
        assert!(message.contains("bytes cut"));
        let died = Fault::Died {
            reason: "exited with status 3".into(),
            log: "boom".into(),
        };
        assert_eq!(died.to_json("grader")["output"], "boom");
    }
}
