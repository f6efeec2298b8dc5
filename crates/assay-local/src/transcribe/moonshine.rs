//! Moonshine on ONNX Runtime: the encoder reads the 16 kHz samples once, then the merged
//! decoder (one graph with and without a key/value cache, chosen by `use_cache_branch`) emits
//! one token per step, greedily, until the end-of-text token or the token budget.
//!
//! The decoder's shape — layers, key/value heads, head size — is read from its
//! `past_key_values.{layer}.{decoder|encoder}.{key|value}` inputs, and the start and end tokens
//! (`<s>`, `</s>`) from the tokenizer, so other Moonshine sizes exported the same way load too.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ort::environment::Environment;
use ort::session::{Session, SessionInputValue};
use ort::value::{DynValue, Tensor};
use tokenizers::Tokenizer;

use crate::LoadError;

/// The encoder and decoder files and the tokenizer a Moonshine directory holds.
pub(crate) const ENCODER_FILE: &str = "encoder_model.ort";
pub(crate) const DECODER_FILE: &str = "decoder_model_merged.ort";
pub(crate) const TOKENIZER_FILE: &str = "tokenizer.json";

/// Tokens the decoder may emit per second of audio (Moonshine's own budget), plus a floor for
/// short clips.
const TOKENS_PER_SECOND: f64 = 6.0;
const MIN_TOKENS: usize = 10;
/// The fewest samples the encoder's convolutions accept, with margin: shorter clips are
/// padded with silence to this length (0.25 s).
const MIN_SAMPLES: usize = 4_000;

/// The process's ONNX Runtime: the shared library is loaded, and the environment built, once.
/// A later model directory with its own copy of the library uses the one already loaded.
static RUNTIME: Mutex<Option<Arc<Runtime>>> = Mutex::new(None);

struct Runtime {
    library: PathBuf,
    environment: Environment,
}

fn runtime(library: &Path) -> Result<Arc<Runtime>, String> {
    let mut slot = RUNTIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(runtime) = slot.as_ref() {
        if runtime.library != library {
            tracing::info!(
                loaded = %runtime.library.display(),
                ignored = %library.display(),
                "ONNX Runtime is already loaded in this process; using it"
            );
        }
        return Ok(Arc::clone(runtime));
    }
    let environment = ort::init_from(library)
        .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", library.display()))?
        .with_name("assay")
        .build()
        .map_err(|e| format!("cannot start ONNX Runtime: {e}"))?;
    let runtime = Arc::new(Runtime {
        library: library.to_path_buf(),
        environment,
    });
    *slot = Some(Arc::clone(&runtime));
    Ok(runtime)
}

/// The ONNX Runtime shared library in `dir`: `libonnxruntime.so*` (or `.dylib`), the
/// versioned name preferred.
fn find_library(dir: &Path) -> Result<PathBuf, LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|source| LoadError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libonnxruntime.") && !n.contains("providers"))
        })
        .collect();
    // The longest name is the most specific (`libonnxruntime.so.1.22.1` over a
    // `libonnxruntime.so` link).
    found.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
    found.into_iter().next().ok_or_else(|| {
        LoadError::invalid(
            dir,
            "no ONNX Runtime library (libonnxruntime.so.*) beside the model: run scripts/install-models",
        )
    })
}

/// The decoder's shape, read from its inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecoderShape {
    /// Decoder layers (each with self- and cross-attention caches).
    pub layers: usize,
    /// Key/value heads per layer.
    pub kv_heads: usize,
    /// Size of one head.
    pub head_dim: usize,
}

/// A loaded Moonshine model. `run` needs exclusive access: callers serialize.
pub(crate) struct Moonshine {
    encoder: Session,
    decoder: Session,
    tokenizer: Tokenizer,
    pub(crate) shape: DecoderShape,
    /// `layer.{decoder|encoder}.{key|value}`, in the order the caches are kept.
    cache_names: Vec<String>,
    start_token: u32,
    end_token: u32,
}

impl Moonshine {
    /// Loads the model in `dir`, with `threads` threads per session.
    pub(crate) fn load(dir: &Path, threads: usize) -> Result<Self, LoadError> {
        let invalid = |message: String| LoadError::invalid(dir, message);
        let runtime = runtime(&find_library(dir)?).map_err(invalid)?;
        let session = |file: &str| -> Result<Session, LoadError> {
            let path = dir.join(file);
            let fail = |e: String| LoadError::invalid(&path, e);
            Session::builder(&runtime.environment)
                .map_err(|e| fail(e.to_string()))?
                .with_intra_threads(threads.max(1))
                .map_err(|e| fail(e.to_string()))?
                .with_inter_threads(1)
                .map_err(|e| fail(e.to_string()))?
                // Idle threads sleep instead of spinning: as fast here (2.1–2.3 s for the
                // test's 14.4 s of speech either way), and the cores stay free for the other
                // local models and the clips being decoded.
                .with_intra_op_spinning(false)
                .map_err(|e| fail(e.to_string()))?
                .commit_from_file(&path)
                .map_err(|e| fail(e.to_string()))
        };
        let encoder = session(ENCODER_FILE)?;
        let decoder = session(DECODER_FILE)?;
        let tokenizer_path = dir.join(TOKENIZER_FILE);
        let tokenizer = Tokenizer::from_file(&tokenizer_path)
            .map_err(|e| LoadError::invalid(&tokenizer_path, e.to_string()))?;
        let token = |text: &str| {
            tokenizer.token_to_id(text).ok_or_else(|| {
                LoadError::invalid(
                    &tokenizer_path,
                    format!("the tokenizer has no {text} token"),
                )
            })
        };
        let (start_token, end_token) = (token("<s>")?, token("</s>")?);

        let has = |session: &Session, input: bool, name: &str| {
            let outlets = if input {
                session.inputs()
            } else {
                session.outputs()
            };
            outlets.iter().any(|o| o.name() == name)
        };
        for (session, input, name, file) in [
            (&encoder, true, "input_values", ENCODER_FILE),
            (&encoder, false, "last_hidden_state", ENCODER_FILE),
            (&decoder, true, "input_ids", DECODER_FILE),
            (&decoder, true, "encoder_hidden_states", DECODER_FILE),
            (&decoder, true, "use_cache_branch", DECODER_FILE),
            (&decoder, false, "logits", DECODER_FILE),
        ] {
            if !has(session, input, name) {
                let side = if input { "input" } else { "output" };
                return Err(invalid(format!(
                    "{file} has no {side} {name}: not a Moonshine ONNX export"
                )));
            }
        }
        let shape = decoder_shape(&decoder).map_err(invalid)?;
        let cache_names: Vec<String> = (0..shape.layers)
            .flat_map(|layer| {
                ["decoder", "encoder"].into_iter().flat_map(move |side| {
                    ["key", "value"]
                        .into_iter()
                        .map(move |kind| format!("{layer}.{side}.{kind}"))
                })
            })
            .collect();
        for name in &cache_names {
            if !has(&decoder, false, &format!("present.{name}")) {
                return Err(invalid(format!(
                    "{DECODER_FILE} has no output present.{name}"
                )));
            }
        }
        Ok(Self {
            encoder,
            decoder,
            tokenizer,
            shape,
            cache_names,
            start_token,
            end_token,
        })
    }

    /// Transcribes 16 kHz mono `samples` (not empty): the text, and the tokens emitted.
    pub(crate) fn transcribe(&mut self, samples: &[f32]) -> Result<(String, usize), String> {
        let seconds = samples.len() as f64 / f64::from(super::audio::SAMPLE_RATE);
        let budget = (seconds * TOKENS_PER_SECOND).ceil() as usize + MIN_TOKENS;
        let mut audio = samples.to_vec();
        if audio.len() < MIN_SAMPLES {
            audio.resize(MIN_SAMPLES, 0.0);
        }
        let n = audio.len();
        let input = Tensor::from_array(([1usize, n], audio)).map_err(|e| e.to_string())?;
        let hidden: DynValue = self
            .encoder
            .run(ort::inputs!["input_values" => input])
            .map_err(|e| format!("encoder: {e}"))?
            .remove("last_hidden_state")
            .ok_or("the encoder returned no last_hidden_state")?;

        // Before the first step the caches are empty (and ignored by the no-cache branch).
        let (heads, head_dim) = (self.shape.kv_heads, self.shape.head_dim);
        let mut caches: Vec<DynValue> = Vec::with_capacity(self.cache_names.len());
        for _ in &self.cache_names {
            let empty = Tensor::<f32>::from_array(([1usize, heads, 0, head_dim], Vec::new()))
                .map_err(|e| e.to_string())?;
            caches.push(empty.into_dyn());
        }
        let mut tokens: Vec<u32> = Vec::new();
        let mut last = self.start_token;
        for step in 0..budget {
            let use_cache = step > 0;
            let ids = Tensor::from_array(([1usize, 1], vec![i64::from(last)]))
                .map_err(|e| e.to_string())?;
            let branch =
                Tensor::from_array(([1usize], vec![use_cache])).map_err(|e| e.to_string())?;
            let mut inputs: Vec<(Cow<'_, str>, SessionInputValue<'_>)> =
                Vec::with_capacity(3 + caches.len());
            inputs.push(("input_ids".into(), ids.into()));
            inputs.push(("encoder_hidden_states".into(), (&hidden).into()));
            inputs.push(("use_cache_branch".into(), branch.into()));
            for (name, cache) in self.cache_names.iter().zip(&caches) {
                inputs.push((format!("past_key_values.{name}").into(), cache.into()));
            }
            let mut outputs = self
                .decoder
                .run(inputs)
                .map_err(|e| format!("decoder step {step}: {e}"))?;
            let next = {
                let logits = outputs
                    .get("logits")
                    .ok_or("the decoder returned no logits")?;
                let (shape, values) = logits
                    .try_extract_tensor::<f32>()
                    .map_err(|e| format!("logits: {e}"))?;
                let vocab = shape.last().copied().unwrap_or(0).max(0) as usize;
                if vocab == 0 || values.len() < vocab {
                    return Err(format!("logits of unexpected shape {shape:?}"));
                }
                argmax(&values[values.len() - vocab..])
            };
            if next == self.end_token {
                break;
            }
            tokens.push(next);
            last = next;
            // The cross-attention caches depend only on the audio: computed once, at step 0.
            for (name, cache) in self.cache_names.iter().zip(caches.iter_mut()) {
                if !use_cache || name.contains(".decoder.") {
                    *cache = outputs
                        .remove(format!("present.{name}"))
                        .ok_or_else(|| format!("the decoder returned no present.{name}"))?;
                }
            }
        }
        let text = self
            .tokenizer
            .decode(&tokens, true)
            .map_err(|e| format!("detokenizing: {e}"))?;
        Ok((text.trim().to_string(), tokens.len()))
    }
}

/// The index of the largest value (the first on ties).
fn argmax(values: &[f32]) -> u32 {
    let mut best = 0usize;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best as u32
}

/// Layers, heads and head size from the decoder's cache inputs
/// (`past_key_values.{layer}.decoder.key`: `[batch, heads, length, head_dim]`).
fn decoder_shape(decoder: &Session) -> Result<DecoderShape, String> {
    let mut layers = 0usize;
    let mut dims: Option<(i64, i64)> = None;
    for input in decoder.inputs() {
        let Some(layer) = input
            .name()
            .strip_prefix("past_key_values.")
            .and_then(|rest| rest.strip_suffix(".decoder.key"))
        else {
            continue;
        };
        let index: usize = layer
            .parse()
            .map_err(|_| format!("unexpected decoder input {}", input.name()))?;
        layers = layers.max(index + 1);
        let shape = input
            .dtype()
            .tensor_shape()
            .ok_or_else(|| format!("{} is not a tensor", input.name()))?;
        if shape.len() != 4 {
            return Err(format!(
                "{} has {} dimensions, not 4",
                input.name(),
                shape.len()
            ));
        }
        let these = (shape[1], shape[3]);
        if dims.is_some_and(|d| d != these) {
            return Err("the decoder's layers differ in shape".into());
        }
        dims = Some(these);
    }
    let Some((heads, head_dim)) = dims else {
        return Err(
            "the decoder has no past_key_values inputs: not a merged Moonshine decoder".into(),
        );
    };
    if heads <= 0 || head_dim <= 0 {
        return Err(format!(
            "the decoder's cache inputs have dynamic heads or head size ({heads}, {head_dim})"
        ));
    }
    Ok(DecoderShape {
        layers,
        kv_heads: heads as usize,
        head_dim: head_dim as usize,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_takes_the_first_largest() {
        assert_eq!(argmax(&[0.0, 3.0, 1.0, 3.0]), 1);
        assert_eq!(argmax(&[-1.0]), 0);
        assert_eq!(argmax(&[f32::NAN, 1.0]), 0);
    }

    #[test]
    fn a_directory_without_the_runtime_library_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let e = find_library(dir.path()).unwrap_err();
        assert!(e.to_string().contains("libonnxruntime"), "{e}");
        std::fs::write(dir.path().join("libonnxruntime.so"), b"").expect("write");
        std::fs::write(dir.path().join("libonnxruntime.so.1.22.1"), b"").expect("write");
        std::fs::write(dir.path().join("libonnxruntime_providers_shared.so"), b"").expect("write");
        let found = find_library(dir.path()).expect("found");
        assert!(found.ends_with("libonnxruntime.so.1.22.1"), "{found:?}");
    }
}
