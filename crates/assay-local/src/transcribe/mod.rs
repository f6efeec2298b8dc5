//! Speech-to-text on the CPU: Moonshine (English) on ONNX Runtime, serving the gateway's
//! `transcribe` calls.
//!
//! A model directory holds `encoder_model.ort`, `decoder_model_merged.ort`, `tokenizer.json`
//! and the ONNX Runtime shared library they were converted for (`libonnxruntime.so.*`), which
//! is loaded at run time — once per process, by the first model loaded ([`moonshine`]).
//!
//! - **Audio** ([`audio`]): WAV in every common PCM form, FLAC, MP3 or Ogg Vorbis, any channel
//!   count (averaged) and sample rate (resampled to 16 kHz by a windowed-sinc filter).
//! - **Limits**: clips of at most [`MAX_SECONDS`] seconds (Moonshine reads a clip in one
//!   pass; longer ones are refused, not cut, since a cut can fall inside a word); clips shorter
//!   than a quarter second are padded with silence. An unreadable, empty or too long clip
//!   fails its call with `bad_request`, a fault of the clip that a retry cannot fix.
//! - **Language**: English only. The hint may be absent, `en`, `en-*`, `eng` or `english`; any other
//!   language is refused with `bad_request`.
//! - **Decoding**: greedy, so the same clip always gives the same text; at most 6 tokens per
//!   second of audio plus 10.
//! - **Concurrency**: clips are decoded (audio → samples) in parallel on blocking threads;
//!   the model runs one clip at a time with [`TranscribeOptions::threads`] threads.

pub mod audio;
mod moonshine;
mod resample;

use std::path::Path;
use std::sync::Arc;

use assay_models::{AttemptError, AudioClip, ErrorKind, ModelBackend, ResolvedModel, Role};
use futures::future::BoxFuture;
use tokio::sync::Mutex;

use crate::not_retryable;

pub use moonshine::DecoderShape;
use moonshine::{Moonshine, DECODER_FILE, ENCODER_FILE, TOKENIZER_FILE};

/// The longest clip transcribed, in seconds.
pub const MAX_SECONDS: f64 = 64.0;

/// How a [`TranscriptionBackend`] is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscribeOptions {
    /// CPU threads ONNX Runtime uses for one clip (at least 1).
    pub threads: usize,
}

impl Default for TranscribeOptions {
    /// `threads` from `ASSAY_LOCAL_THREADS` (default: available cores).
    fn default() -> Self {
        Self {
            threads: crate::default_threads(),
        }
    }
}

/// A transcript with what it cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript {
    /// The text, trimmed.
    pub text: String,
    /// Tokens the decoder emitted (the end token not counted).
    pub tokens: usize,
    /// The clip's length after decoding, in 16 kHz samples.
    pub samples: usize,
}

/// An in-process Moonshine model serving the gateway's `transcribe` calls (see the
/// [module docs](self)).
///
/// Calls are cancel-safe: a dropped call's clip finishes on its blocking thread and the
/// result is discarded.
pub struct TranscriptionBackend {
    model: Arc<Mutex<Moonshine>>,
    shape: DecoderShape,
    options: TranscribeOptions,
}

impl std::fmt::Debug for TranscriptionBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TranscriptionBackend")
            .field("shape", &self.shape)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl TranscriptionBackend {
    /// Whether `dir` looks like a Moonshine model directory (holds `encoder_model.ort`).
    pub fn recognizes(dir: &Path) -> bool {
        dir.join(ENCODER_FILE).is_file()
    }

    /// Loads the model in `dir` with the default [`TranscribeOptions`].
    pub fn load(dir: &Path) -> Result<Self, crate::LoadError> {
        Self::load_with(dir, TranscribeOptions::default())
    }

    /// Loads the model in `dir` (see the [module docs](self) for the files).
    pub fn load_with(dir: &Path, options: TranscribeOptions) -> Result<Self, crate::LoadError> {
        for file in [ENCODER_FILE, DECODER_FILE, TOKENIZER_FILE] {
            if !dir.join(file).is_file() {
                return Err(crate::LoadError::invalid(
                    dir,
                    format!("a Moonshine model directory needs {file}"),
                ));
            }
        }
        let model = Moonshine::load(dir, options.threads.max(1))?;
        Ok(Self {
            shape: model.shape.clone(),
            model: Arc::new(Mutex::new(model)),
            options,
        })
    }

    /// The decoder's shape, as read from the model.
    pub fn shape(&self) -> &DecoderShape {
        &self.shape
    }

    /// Transcribes one clip: `language` is checked, the audio decoded and resampled, then the
    /// model run. Every refusal is a `bad_request` [`AttemptError`].
    pub async fn transcribe_clip(
        &self,
        audio: &AudioClip,
        language: Option<&str>,
    ) -> Result<Transcript, AttemptError> {
        check_language(language)?;
        let (bytes, file, mime) = (
            audio.bytes.clone(),
            audio.filename.clone(),
            audio.mime.clone(),
        );
        let samples = blocking("audio decoder", move || {
            audio::decode_16k_mono(&bytes, &file, &mime, MAX_SECONDS)
                .map_err(|e| not_retryable(ErrorKind::BadRequest, e.to_string()))
        })
        .await?;
        let mut model = Arc::clone(&self.model).lock_owned().await;
        blocking("transcription model", move || {
            let count = samples.len();
            model
                .transcribe(&samples)
                .map(|(text, tokens)| Transcript {
                    text,
                    tokens,
                    samples: count,
                })
                .map_err(|e| not_retryable(ErrorKind::ServerError, e))
        })
        .await
    }
}

/// Runs `job` on a blocking thread; a panic in it fails the call (as `what` failing).
async fn blocking<T, F>(what: &str, job: F) -> Result<T, AttemptError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, AttemptError> + Send + 'static,
{
    match tokio::task::spawn_blocking(job).await {
        Ok(result) => result,
        Err(e) => Err(not_retryable(
            ErrorKind::ServerError,
            format!("the {what} failed: {e}"),
        )),
    }
}

/// Accepts no hint or English (`en`, `eng`, `en-US`, `en_GB`, `english`, any case).
fn check_language(language: Option<&str>) -> Result<(), AttemptError> {
    let Some(hint) = language.map(str::trim).filter(|l| !l.is_empty()) else {
        return Ok(());
    };
    let lower = hint.to_ascii_lowercase();
    let primary = lower.split(['-', '_']).next().unwrap_or_default();
    if ["en", "eng", "english"].contains(&primary) {
        return Ok(());
    }
    Err(not_retryable(
        ErrorKind::BadRequest,
        format!(
            "this local transcription model (Moonshine) understands English only, and the task asks for language {hint:?}"
        ),
    ))
}

/// Generation and embedding are refused (the trait's defaults): admission never sends them
/// here, since the backend serves only transcription.
impl ModelBackend for TranscriptionBackend {
    fn transcribe<'a>(
        &'a self,
        _target: &'a ResolvedModel,
        audio: &'a AudioClip,
        language: Option<&'a str>,
    ) -> BoxFuture<'a, Result<String, AttemptError>> {
        Box::pin(async move { Ok(self.transcribe_clip(audio, language).await?.text) })
    }

    fn serves(&self, role: Role) -> bool {
        role == Role::Transcription
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_hints_pass_and_others_are_refused() {
        for ok in [
            None,
            Some(""),
            Some("en"),
            Some("EN"),
            Some("en-US"),
            Some("en_GB"),
            Some("English"),
        ] {
            assert!(check_language(ok).is_ok(), "{ok:?}");
        }
        for refused in ["fr", "de-DE", "es_MX", "zh"] {
            let e = check_language(Some(refused)).unwrap_err();
            assert_eq!(e.kind, ErrorKind::BadRequest);
            assert!(!e.retryable);
            assert!(e.message.contains("English only"), "{}", e.message);
            assert!(e.message.contains(refused), "{}", e.message);
        }
    }
}
