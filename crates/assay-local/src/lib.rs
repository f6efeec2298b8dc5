//! Assay's local models: evaluation without a model server. A registry entry of kind `local`
//! names a model on disk, and this crate serves it in-process behind the gateway's
//! [`assay_models::ModelBackend`] trait, so callers cannot tell it from an HTTP endpoint:
//!
//! - a `.gguf` file → text generation with llama.cpp ([`generate`]);
//! - a sentence-transformers directory (`model.safetensors`, `tokenizer.json`, `config.json`)
//!   → embeddings with candle ([`embed`]);
//! - a Moonshine directory (`encoder_model.ort`, `decoder_model_merged.ort`, `tokenizer.json`
//!   and the ONNX Runtime library `libonnxruntime.so.*`) → speech-to-text with ONNX Runtime
//!   ([`transcribe`]).

pub mod embed;
pub mod generate;
mod llama;
pub mod transcribe;

use std::path::Path;
use std::sync::Arc;

use assay_models::{AttemptError, ErrorKind, ModelBackend};

/// Why a local model could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The files are there but are not a model this crate can serve.
    #[error("{path}: {message}")]
    Invalid {
        /// The file or directory at fault.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error reading it.
        #[source]
        source: std::io::Error,
    },
}

impl LoadError {
    pub(crate) fn invalid(path: &Path, message: impl Into<String>) -> Self {
        LoadError::Invalid {
            path: path.display().to_string(),
            message: message.into(),
        }
    }
}

/// An error of `kind` that another attempt would meet again (a fault of the input or of the
/// model's files, not a passing one).
pub(crate) fn not_retryable(kind: ErrorKind, message: String) -> AttemptError {
    let mut err = AttemptError::new(kind, message);
    err.retryable = false;
    err
}

/// A positive count from the environment variable `key` (unset, unparsable or 0: `None`).
pub(crate) fn env_count(key: &str) -> Option<usize> {
    std::env::var(key)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
}

/// CPU threads for a model: `ASSAY_LOCAL_THREADS`, else the available cores.
pub(crate) fn default_threads() -> usize {
    env_count("ASSAY_LOCAL_THREADS")
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Loads the model at `path` as a gateway backend: a `.gguf` file generates, a directory with
/// Moonshine's `encoder_model.ort` transcribes, a directory with `model.safetensors` embeds.
pub fn load(path: &Path) -> Result<Arc<dyn ModelBackend>, LoadError> {
    if path.is_dir() && transcribe::TranscriptionBackend::recognizes(path) {
        Ok(Arc::new(transcribe::TranscriptionBackend::load(path)?))
    } else if path.is_dir() {
        Ok(Arc::new(embed::EmbeddingBackend::load(path)?))
    } else if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
    {
        Ok(Arc::new(generate::GgufBackend::load(path)?))
    } else {
        Err(LoadError::invalid(
            path,
            "expected a .gguf file, or a directory holding model.safetensors (embeddings) \
             or encoder_model.ort (transcription)",
        ))
    }
}
