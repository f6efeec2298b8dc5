//! The audio clip of a transcription sample, read from its dataset row's `audio_column`: a
//! base64 `data:` URI, an http(s) URL (fetched with a size cap and a timeout, no redirects),
//! or a Hugging Face Audio value (`{"bytes": <base64>, "path": "clip.wav"}`). URLs may point
//! only at public addresses unless the operator allows a network (`[audio] allow_networks`).

use std::time::Duration;

use assay_models::AudioClip;
use base64::Engine;
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Map, Value};

/// Largest clip read (OpenAI's transcription API takes up to 25 MB).
pub const MAX_AUDIO_BYTES: usize = 25 * 1024 * 1024;
/// Bound of fetching a clip by URL.
const FETCH_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a row's audio cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The value is not audio in a form Assay reads.
    #[error("{0}")]
    Invalid(String),
    /// The clip is larger than [`MAX_AUDIO_BYTES`].
    #[error("{0}")]
    TooLarge(String),
    /// Fetching the URL failed (unreachable, an error status, too slow).
    #[error("{0}")]
    Unavailable(String),
}

impl AudioError {
    /// The sample's `error` object.
    pub fn to_json(&self) -> Value {
        let kind = match self {
            AudioError::Invalid(_) => "audio_error",
            AudioError::TooLarge(_) => "audio_too_large",
            AudioError::Unavailable(_) => "audio_unavailable",
        };
        serde_json::json!({"type": kind, "message": self.to_string()})
    }
}

/// The media type a file name's extension says (`audio/wav` when it says nothing known).
pub fn mime_for(filename: &str) -> &'static str {
    let ext = filename
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match ext.as_str() {
        "mp3" | "mpga" | "mpeg" => "audio/mpeg",
        "flac" => "audio/flac",
        "ogg" | "oga" | "opus" => "audio/ogg",
        "m4a" | "mp4" => "audio/mp4",
        "webm" => "audio/webm",
        _ => "audio/wav",
    }
}

/// The extension for a media type (for the file name sent with a clip).
fn extension_for(mime: &str) -> &'static str {
    match mime {
        "audio/mpeg" | "audio/mp3" => "mp3",
        "audio/flac" | "audio/x-flac" => "flac",
        "audio/ogg" => "ogg",
        "audio/mp4" | "audio/m4a" => "m4a",
        "audio/webm" => "webm",
        _ => "wav",
    }
}

/// Decodes a `data:[<mime>][;base64],<data>` URI.
pub fn parse_data_uri(uri: &str) -> Result<AudioClip, AudioError> {
    let rest = uri
        .strip_prefix("data:")
        .ok_or_else(|| AudioError::Invalid("not a data: URI".into()))?;
    let (meta, data) = rest
        .split_once(',')
        .ok_or_else(|| AudioError::Invalid("the data: URI has no comma".into()))?;
    let mut parts = meta.split(';');
    let mime = parts
        .next()
        .filter(|m| !m.is_empty())
        .unwrap_or("audio/wav")
        .to_ascii_lowercase();
    if !parts.any(|p| p.eq_ignore_ascii_case("base64")) {
        return Err(AudioError::Invalid(
            "the data: URI is not base64 (`data:audio/wav;base64,…`)".into(),
        ));
    }
    if data.len() / 4 * 3 > MAX_AUDIO_BYTES + 3 {
        return Err(too_large());
    }
    let bytes = decode_base64(data)?;
    Ok(AudioClip {
        filename: format!("audio.{}", extension_for(&mime)),
        bytes: Bytes::from(bytes),
        mime,
    })
}

fn too_large() -> AudioError {
    AudioError::TooLarge(format!(
        "the clip is larger than {} MiB",
        MAX_AUDIO_BYTES / 1024 / 1024
    ))
}

fn decode_base64(data: &str) -> Result<Vec<u8>, AudioError> {
    let clean: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean.as_bytes())
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(clean.as_bytes()))
        .map_err(|e| AudioError::Invalid(format!("the audio is not valid base64: {e}")))
}

/// Reads clips from dataset rows, fetching URLs with a client guarded by the networks the
/// operator allows (public addresses only by default).
#[derive(Clone)]
pub struct AudioReader {
    http: reqwest::Client,
    targets: assay_webhooks::TargetPolicy,
}

impl Default for AudioReader {
    fn default() -> Self {
        Self::new(assay_webhooks::TargetPolicy::default())
    }
}

impl AudioReader {
    /// A reader whose URLs may point at public addresses and `targets`' networks.
    pub fn new(targets: assay_webhooks::TargetPolicy) -> Self {
        let http = assay_webhooks::guarded_client(targets.clone())
            .connect_timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self { http, targets }
    }

    /// Reads the clip in `row[column]`.
    pub async fn clip_from_row(
        &self,
        row: &Map<String, Value>,
        column: &str,
    ) -> Result<AudioClip, AudioError> {
        clip_from_row(row, column, &self.http, &self.targets).await
    }
}

/// Reads the clip in `row[column]`; `http` fetches URLs the `targets` permit.
async fn clip_from_row(
    row: &Map<String, Value>,
    column: &str,
    http: &reqwest::Client,
    targets: &assay_webhooks::TargetPolicy,
) -> Result<AudioClip, AudioError> {
    match row.get(column) {
        None | Some(Value::Null) => Err(AudioError::Invalid(format!(
            "the row has no audio in column {column}"
        ))),
        Some(Value::String(s)) if s.starts_with("data:") => parse_data_uri(s),
        Some(Value::String(s)) if s.starts_with("http://") || s.starts_with("https://") => {
            // Literal addresses and `localhost` are checked here; names resolving to a refused
            // address are refused by the client's resolver.
            targets.check_url(s).map_err(|why| {
                AudioError::Unavailable(format!("fetching {s} is refused: {why}"))
            })?;
            fetch(http, s).await
        }
        Some(Value::Object(audio)) => {
            let Some(data) = audio.get("bytes").and_then(Value::as_str) else {
                return Err(AudioError::Invalid(format!(
                    "column {column} holds an object without base64 `bytes` (a Hugging Face Audio value has bytes and path)"
                )));
            };
            if data.len() / 4 * 3 > MAX_AUDIO_BYTES + 3 {
                return Err(too_large());
            }
            let filename = audio
                .get("path")
                .and_then(Value::as_str)
                .filter(|p| !p.is_empty())
                .map(|p| p.rsplit('/').next().unwrap_or(p).to_string())
                .unwrap_or_else(|| "audio.wav".into());
            Ok(AudioClip {
                bytes: Bytes::from(decode_base64(data)?),
                mime: mime_for(&filename).to_string(),
                filename,
            })
        }
        Some(_) => Err(AudioError::Invalid(format!(
            "column {column} is not audio: expected a data: URI, an http(s) URL or a Hugging Face Audio value ({{bytes, path}})"
        ))),
    }
}

/// Fetches a clip by URL, refusing more than [`MAX_AUDIO_BYTES`].
async fn fetch(http: &reqwest::Client, url: &str) -> Result<AudioClip, AudioError> {
    let unavailable = |e: String| AudioError::Unavailable(format!("fetching {url}: {e}"));
    let response = tokio::time::timeout(FETCH_TIMEOUT, http.get(url).send())
        .await
        .map_err(|_| unavailable(format!("no answer within {} s", FETCH_TIMEOUT.as_secs())))?
        .map_err(|e| unavailable(e.to_string()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(unavailable(format!("the server answered {status}")));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_AUDIO_BYTES as u64)
    {
        return Err(too_large());
    }
    let mime = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_ascii_lowercase())
        .filter(|m| m.starts_with("audio/"));
    let path = response.url().path().to_string();
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    let deadline = tokio::time::Instant::now() + FETCH_TIMEOUT;
    loop {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .map_err(|_| unavailable(format!("not read within {} s", FETCH_TIMEOUT.as_secs())))?;
        match chunk {
            None => break,
            Some(Err(e)) => return Err(unavailable(e.to_string())),
            Some(Ok(bytes)) => {
                if body.len() + bytes.len() > MAX_AUDIO_BYTES {
                    return Err(too_large());
                }
                body.extend_from_slice(&bytes);
            }
        }
    }
    let name = path.rsplit('/').next().filter(|n| n.contains('.'));
    let mime = mime.unwrap_or_else(|| mime_for(name.unwrap_or("audio.wav")).to_string());
    Ok(AudioClip {
        filename: name
            .map(str::to_string)
            .unwrap_or_else(|| format!("audio.{}", extension_for(&mime))),
        bytes: Bytes::from(body),
        mime,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_uris_decode_and_refuse_what_is_not_audio() {
        let clip = parse_data_uri("data:audio/flac;base64,AAEC").unwrap();
        assert_eq!(clip.bytes.as_ref(), &[0, 1, 2]);
        assert_eq!(clip.mime, "audio/flac");
        assert_eq!(clip.filename, "audio.flac");
        assert!(parse_data_uri("data:audio/wav,plain").is_err());
        assert!(parse_data_uri("data:audio/wav;base64,!!").is_err());
        assert!(parse_data_uri("data:audio/wav;base64").is_err());
    }

    #[tokio::test]
    async fn urls_into_private_networks_are_refused_unless_allowed() {
        let http = reqwest::Client::new();
        let policy = assay_webhooks::TargetPolicy::default();
        for url in [
            "http://127.0.0.1:9/clip.wav",
            "http://localhost:9/clip.wav",
            "http://10.1.2.3/clip.wav",
            "http://169.254.169.254/latest/meta-data",
        ] {
            let mut row = Map::new();
            row.insert("audio".into(), Value::String(url.into()));
            let err = clip_from_row(&row, "audio", &http, &policy)
                .await
                .unwrap_err();
            assert!(
                matches!(&err, AudioError::Unavailable(m) if m.contains("refused")),
                "{url}: {err}"
            );
        }
    }
}
