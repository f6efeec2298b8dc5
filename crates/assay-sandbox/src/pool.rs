//! Interpreters of one module, started on demand and reused across calls.

use std::ops::{Deref, DerefMut};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{Fault, Interpreter, Sandbox};

/// Up to `size` interpreters with one module loaded. An interpreter is started when no idle
/// one is free, handed back after each use, and dropped when it died or used up its CPU
/// budget. A module whose loading fails is not loaded again: every later acquire returns that
/// fault at once.
pub struct InterpreterPool {
    sandbox: Sandbox,
    source: String,
    filename: String,
    load_timeout: Duration,
    idle: std::sync::Arc<Mutex<Vec<Interpreter>>>,
    slots: std::sync::Arc<Semaphore>,
    broken: Mutex<Option<Fault>>,
    max_reply: Option<usize>,
}

impl InterpreterPool {
    /// A pool of at most `size` interpreters of `source`, each given `load_timeout` to run
    /// the module's top-level code.
    pub fn new(
        sandbox: Sandbox,
        source: String,
        filename: String,
        size: usize,
        load_timeout: Duration,
    ) -> Self {
        let idle = std::sync::Arc::new(Mutex::new(Vec::new()));
        sandbox.register_idle(&idle);
        Self {
            sandbox,
            source,
            filename,
            load_timeout,
            idle,
            slots: std::sync::Arc::new(Semaphore::new(size.max(1))),
            broken: Mutex::new(None),
            max_reply: None,
        }
    }

    /// Caps the replies of this pool's calls at `bytes` (see [`Interpreter::limit_replies`]).
    pub fn with_reply_limit(mut self, bytes: usize) -> Self {
        self.max_reply = Some(bytes);
        self
    }

    /// An interpreter for the caller's exclusive use until the guard drops.
    pub async fn acquire(&self) -> Result<Pooled<'_>, Fault> {
        if let Some(fault) = self.broken() {
            return Err(fault);
        }
        let permit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Fault::Unavailable("the interpreter pool is closed".into()))?;
        let reused = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let interpreter = match reused {
            Some(interpreter) => interpreter,
            None => {
                if let Some(fault) = self.broken() {
                    return Err(fault);
                }
                match self
                    .sandbox
                    .start(&self.source, &self.filename, self.load_timeout)
                    .await
                {
                    Ok(mut interpreter) => {
                        if let Some(bytes) = self.max_reply {
                            interpreter.limit_replies(bytes);
                        }
                        interpreter
                    }
                    Err(fault) => {
                        // A module that raises or hangs while loading will do so next time
                        // too; a sandbox that could not start, or a crash, might not recur.
                        if matches!(fault, Fault::Raised { .. } | Fault::TimedOut { .. }) {
                            if let Ok(mut broken) = self.broken.lock() {
                                *broken = Some(fault.clone());
                            }
                        }
                        return Err(fault);
                    }
                }
            }
        };
        Ok(Pooled {
            pool: self,
            interpreter: Some(interpreter),
            _permit: permit,
        })
    }

    fn broken(&self) -> Option<Fault> {
        self.broken.lock().ok().and_then(|b| b.clone())
    }
}

/// An interpreter borrowed from an [`InterpreterPool`].
pub struct Pooled<'p> {
    pool: &'p InterpreterPool,
    interpreter: Option<Interpreter>,
    _permit: OwnedSemaphorePermit,
}

impl Deref for Pooled<'_> {
    type Target = Interpreter;
    fn deref(&self) -> &Interpreter {
        self.interpreter
            .as_ref()
            .expect("a pooled interpreter is present until dropped")
    }
}

impl DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Interpreter {
        self.interpreter
            .as_mut()
            .expect("a pooled interpreter is present until dropped")
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(interpreter) = self.interpreter.take() {
            if interpreter.is_usable() {
                if let Ok(mut idle) = self.pool.idle.lock() {
                    idle.push(interpreter);
                }
            }
        }
    }
}
