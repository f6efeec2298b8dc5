//! Assay's local models: evaluation without a model server. A registry entry of kind `local`
//! names a model on disk, and this crate serves it in-process behind the gateway's
//! [`assay_models::ModelBackend`] trait, so callers cannot tell it from an HTTP endpoint:
//!
//! - a `.gguf` file → text generation with llama.cpp ([`generate`]);
//! - a sentence-transformers directory (`model.safetensors`, `tokenizer.json`, `config.json`)
//!   → embeddings with candle ([`embed`]).

pub mod embed;
pub mod generate;
mod llama;

use std::path::Path;
use std::sync::Arc;

use assay_models::ModelBackend;

/// Why a local model could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Loads the model at `path` as a gateway backend: a `.gguf` file generates, a directory with
/// `model.safetensors` embeds.
pub fn load(path: &Path) -> Result<Arc<dyn ModelBackend>, LoadError> {
    if path.is_dir() {
        Ok(Arc::new(embed::EmbeddingBackend::load(path)?))
    } else if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
    {
        Ok(Arc::new(generate::GgufBackend::load(path)?))
    } else {
        Err(LoadError::Invalid {
            path: path.display().to_string(),
            message: "expected a .gguf file or a directory holding model.safetensors".into(),
        })
    }
}
