//! The clip of one transcription sample (E23), read from its stored, un-redacted dataset row:
//! the task's `audio_column` first, else the first value in the row that is audio.

use assay_domain::api::{SampleAudioObject, SampleObject};
use assay_domain::manifest::Manifest;
use assay_domain::Principal;
use assay_store::{Reach, RunRecord, Store, StoreError};
use base64::Engine;
use serde_json::{Map, Value};

use crate::audio::{mime_for, MAX_AUDIO_BYTES};
use crate::trajectories::{find_sample, SampleAddress, TrajectoryError};

/// The clip of the sample `at` names, in a run within the caller's reach (shares included).
pub async fn sample_audio(
    store: &Store,
    caller: &Principal,
    at: SampleAddress<'_>,
) -> Result<SampleAudioObject, TrajectoryError> {
    let key = find_sample(store, caller, at, Reach::Shared).await?;
    let sample = match store.sample_by_id(&key.run_id, &key.id).await {
        Ok(s) => s.object,
        Err(StoreError::NotFound) => {
            return Err(TrajectoryError::NotFound(format!(
                "sample {} of run {} is gone",
                key.sample_index, key.run_id
            )))
        }
        Err(e) => return Err(e.into()),
    };
    let run = store.run_record(&key.run_id).await?;
    audio_of(store, &run, &sample).await
}

/// The clip of a sample already read (its run's reach checked), from its dataset row: the
/// task's `audio_column` first, else the first value in the row that is audio. A row without
/// any audio is `NotFound` without reading the suite's manifest.
pub async fn audio_of(
    store: &Store,
    run: &RunRecord,
    sample: &SampleObject,
) -> Result<SampleAudioObject, TrajectoryError> {
    let no_audio = || {
        TrajectoryError::NotFound(format!(
            "sample {} of task {} has no audio in its dataset row",
            sample.sample_index, sample.task_id
        ))
    };
    let empty = Map::new();
    let row = sample.dataset_row.as_ref().unwrap_or(&empty);
    let first = row.values().find(|v| is_audio(v)).ok_or_else(no_audio)?;
    let manifest = store
        .suite_version_manifest(&run.object.suite_version_id)
        .await?;
    let column = Manifest::from_json(&manifest, "manifest")
        .ok()
        .and_then(|m| {
            m.task(&sample.task_id)
                .and_then(|t| t.dataset.audio_column.clone())
        });
    let value = column
        .as_deref()
        .and_then(|c| row.get(c))
        .filter(|v| is_audio(v))
        .unwrap_or(first);
    let audio = playable(value).ok_or_else(no_audio)?;
    if audio.starts_with("data:") && audio.len() > MAX_AUDIO_BYTES / 3 * 4 + 64 {
        return Err(TrajectoryError::TooLarge(format!(
            "the clip is larger than {} MiB; read it from the dataset instead",
            MAX_AUDIO_BYTES / 1024 / 1024
        )));
    }
    Ok(SampleAudioObject {
        object: "eval.sample.audio".into(),
        audio,
        sample_index: sample.sample_index,
        task_id: sample.task_id.clone(),
        model: sample.model.clone(),
    })
}

/// Whether a row value is a clip: a `data:audio/…` URI, an http(s) URL, or a Hugging Face
/// Audio value (`{bytes, path}`).
fn is_audio(v: &Value) -> bool {
    match v {
        Value::String(s) => {
            s.starts_with("data:audio/") || s.starts_with("http://") || s.starts_with("https://")
        }
        Value::Object(m) => audio_bytes(m).is_some(),
        _ => false,
    }
}

fn audio_bytes(m: &Map<String, Value>) -> Option<&str> {
    m.get("path")?;
    m.get("bytes")?.as_str().filter(|b| !b.is_empty())
}

/// The clip as a URI a player takes.
fn playable(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(m) => {
            let bytes = audio_bytes(m)?;
            // Re-encoded canonically (the stored text may carry line breaks).
            let clean: String = bytes.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let engine = base64::engine::general_purpose::STANDARD;
            let decoded = engine.decode(clean.as_bytes()).ok()?;
            let name = m.get("path").and_then(Value::as_str).unwrap_or("audio.wav");
            Some(format!(
                "data:{};base64,{}",
                mime_for(name),
                engine.encode(decoded)
            ))
        }
        _ => None,
    }
}
