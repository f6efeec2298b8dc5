//! The process-wide llama.cpp runtime: initialized once, its log lines routed into `tracing`
//! (targets `llama-cpp-2`), shared by every local GGUF model.

use std::sync::{Mutex, MutexGuard, OnceLock};

use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::{send_logs_to_tracing, LogOptions};

/// The llama.cpp backend, initialized on first use. llama.cpp allows one initialization per
/// process, so every model loads through this one.
pub(crate) fn backend() -> Result<&'static LlamaBackend, String> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            send_logs_to_tracing(LogOptions::default());
            LlamaBackend::init().map_err(|e| format!("cannot start llama.cpp: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// A turn on the CPU for one llama.cpp compute pass. Each pass already uses every core, and
/// llama.cpp's threads spin-wait at their barriers, so two passes at once (two models in one
/// run) do not share the cores: they slow each other down by orders of magnitude. Engines
/// therefore take turns, one decoding step each.
pub(crate) fn compute_turn() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
