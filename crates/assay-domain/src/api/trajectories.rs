//! Trial trajectories (`PUT` / `GET …/runs/{run_id}/samples/{sample_index}/trajectory`): the
//! upload decoded with the JSON text of `steps` and `logs` kept as sent, the payload stored
//! for it, and the response objects.
//!
//! `steps` and `logs` are never turned into `serde_json::Value`s and back: that would reorder
//! nothing (keys keep their order here) but would still rewrite numbers such as `1.50`,
//! `1E2` or `123456789012345678901234567890`. Their text is kept token for token; only the
//! whitespace between tokens is dropped, so the size a trajectory counts does not depend on
//! how the client formatted it.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, IgnoredAny, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use utoipa::{IntoParams, ToSchema};

use super::suites::NAME_MAX_CHARS;
use crate::error::{field, ValidationError};
use crate::json;

/// Most bytes `steps` and `logs` may take together, counted as stored: the JSON text of
/// `steps` plus that of `logs` (0 when absent or null), without insignificant whitespace.
pub const TRAJECTORY_MAX_BYTES: usize = 16 * 1024 * 1024;

/// Most bytes of an upload's request body: the payload limit plus a quarter for
/// `schema_version`, the enclosing object and the client's formatting whitespace. A body over
/// this is refused before it is read whole (by its `Content-Length`, or as soon as that many
/// bytes have arrived).
pub const TRAJECTORY_BODY_MAX_BYTES: usize = TRAJECTORY_MAX_BYTES + TRAJECTORY_MAX_BYTES / 4;

/// The interchange format recorded when an upload names none.
pub const DEFAULT_SCHEMA_VERSION: &str = "ATIF-v1.7";

/// Query of both trajectory operations: which sample an index means when the run has several
/// tasks or models.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrajectoryQuery {
    /// The sample's task; needed when the index exists in several tasks of the run.
    pub task_id: Option<String>,
    /// The sample's model; needed when the index exists for several models of the run.
    pub model: Option<String>,
}

impl TrajectoryQuery {
    /// `task_id`, with an empty value meaning not given.
    pub fn task_id(&self) -> Option<&str> {
        self.task_id.as_deref().filter(|t| !t.is_empty())
    }

    /// `model`, with an empty value meaning not given.
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref().filter(|m| !m.is_empty())
    }
}

/// Why an upload's body cannot be stored.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// `steps` and `logs` take `size` bytes as stored, over [`TRAJECTORY_MAX_BYTES`].
    #[error("steps and logs take {size} bytes; a trajectory may take at most {TRAJECTORY_MAX_BYTES} bytes (16 MiB)")]
    TooLarge { size: usize },
}

/// The body as sent, with `steps` and `logs` borrowed from it as JSON text.
#[derive(Deserialize)]
struct RawUpload<'a> {
    #[serde(borrow)]
    steps: &'a RawValue,
    #[serde(default)]
    schema_version: Option<String>,
    #[serde(default, borrow)]
    logs: Option<&'a RawValue>,
}

/// A decoded upload, ready to store; `steps` and `logs` borrow from the body when it had no
/// whitespace to drop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrajectoryPayload<'a> {
    /// As sent, or [`DEFAULT_SCHEMA_VERSION`].
    pub schema_version: String,
    /// How many elements `steps` has.
    pub step_count: i64,
    steps: Cow<'a, str>,
    logs: Option<Cow<'a, str>>,
}

impl<'a> TrajectoryPayload<'a> {
    /// Decodes an upload body. `steps` must be an array (its elements are anything) and
    /// `logs` an object of strings or null; both are kept as JSON text without whitespace
    /// between tokens. Over [`TRAJECTORY_MAX_BYTES`] as stored: [`UploadError::TooLarge`].
    pub fn parse(body: &'a [u8]) -> Result<Self, UploadError> {
        let raw: RawUpload<'a> = json::from_slice(body)?;
        let steps = compact(raw.steps.get());
        let logs = raw.logs.map(|l| compact(l.get()));
        let size = steps.len() + logs.as_ref().map_or(0, |l| l.len());
        if size > TRAJECTORY_MAX_BYTES {
            return Err(UploadError::TooLarge { size });
        }
        let step_count = serde_json::from_str::<Vec<IgnoredAny>>(&steps)
            .map_err(|_| ValidationError::new("steps", "must be an array"))?
            .len() as i64;
        if let Some(logs) = &logs {
            check_logs(logs)?;
        }
        let schema_version = match raw.schema_version {
            None => DEFAULT_SCHEMA_VERSION.to_string(),
            Some(v) if v.trim().is_empty() || v.chars().count() > NAME_MAX_CHARS => {
                return Err(ValidationError::new(
                    "schema_version",
                    format!("must have 1 to {NAME_MAX_CHARS} characters"),
                )
                .into())
            }
            Some(v) => v,
        };
        Ok(Self {
            schema_version,
            step_count,
            steps,
            logs,
        })
    }

    /// Bytes of `steps` and `logs` as stored: what the size limit and `size_bytes` count.
    pub fn size_bytes(&self) -> i64 {
        (self.steps.len() + self.logs.as_ref().map_or(0, |l| l.len())) as i64
    }

    /// The document stored in the blob store: `{"steps":…,"logs":…}`, both as decoded.
    pub fn to_blob(&self) -> Vec<u8> {
        let logs = self.logs.as_deref().unwrap_or("null");
        let mut out = Vec::with_capacity(self.steps.len() + logs.len() + 20);
        out.extend_from_slice(b"{\"steps\":");
        out.extend_from_slice(self.steps.as_bytes());
        out.extend_from_slice(b",\"logs\":");
        out.extend_from_slice(logs.as_bytes());
        out.push(b'}');
        out
    }
}

/// `logs` must map names to text; the texts are checked, not copied.
fn check_logs(logs: &str) -> Result<(), ValidationError> {
    let mut de = serde_json::Deserializer::from_str(logs);
    serde_path_to_error::deserialize::<_, BTreeMap<String, Text>>(&mut de)
        .map(|_| ())
        .map_err(|e| match e.path().to_string() {
            root if root == "." => {
                ValidationError::new("logs", "must be an object mapping log file paths to text")
            }
            name => ValidationError::new(field("logs", &name), "must be a string"),
        })
}

/// Any JSON string, accepted without being kept.
struct Text;

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IsText;
        impl Visitor<'_> for IsText {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Text, E> {
                Ok(Text)
            }
        }
        deserializer.deserialize_str(IsText)
    }
}

/// A stored payload read back: `steps` and `logs` as JSON text, to be sent as they are.
#[derive(Debug, Deserialize)]
pub struct StoredPayload {
    pub steps: Box<RawValue>,
    #[serde(default)]
    pub logs: Option<Box<RawValue>>,
}

impl StoredPayload {
    /// Reads the document [`TrajectoryPayload::to_blob`] wrote.
    pub fn from_blob(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

/// Drops the whitespace between the tokens of valid JSON text; everything else (string
/// contents, numbers as written, key order) is kept byte for byte.
pub fn compact(text: &str) -> Cow<'_, str> {
    let mut out: Option<String> = None;
    // Start of the text not yet copied to `out`.
    let mut kept = 0;
    let mut in_string = false;
    let mut escaped = false;
    for (i, b) in text.bytes().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            // ASCII bytes never occur inside a multi-byte character, so `i` is a boundary.
            b' ' | b'\t' | b'\n' | b'\r' => {
                let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
                out.push_str(&text[kept..i]);
                kept = i + 1;
            }
            _ => {}
        }
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut out) => {
            out.push_str(&text[kept..]);
            Cow::Owned(out)
        }
    }
}

/// One trial's trajectory (`object: "eval.sample.trajectory"`).
#[derive(Debug, Serialize, ToSchema)]
pub struct TrajectoryObject {
    pub object: String,
    pub run_id: String,
    pub sample_index: i64,
    pub task_id: String,
    pub model: String,
    /// The interchange format of `steps`, e.g. `ATIF-v1.7`.
    pub schema_version: String,
    pub step_count: i64,
    /// Bytes of `steps` and `logs` as stored.
    pub size_bytes: i64,
    /// The steps exactly as uploaded.
    #[schema(value_type = Vec<Value>)]
    pub steps: Box<RawValue>,
    /// Tails of the trial's log files keyed by path; null when none were uploaded.
    #[schema(value_type = Option<BTreeMap<String, String>>, required = true)]
    pub logs: Option<Box<RawValue>>,
}

/// What an upload stored (`object: "eval.sample.trajectory.uploaded"`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TrajectoryUploadedObject {
    pub object: String,
    pub run_id: String,
    pub sample_index: i64,
    pub task_id: String,
    pub model: String,
    pub step_count: i64,
    /// Bytes of `steps` and `logs` as stored.
    pub size_bytes: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<TrajectoryPayload<'_>, UploadError> {
        TrajectoryPayload::parse(body.as_bytes())
    }

    #[test]
    fn keeps_tokens_and_drops_whitespace() {
        let body = r#"{ "steps" : [ {"b": 1.50, "a": [ ], "n": 123456789012345678901234567890, "e": 1E2,
            "s": "two  spaces \" and \\ \n", "u": "é 🦀"}, null ],
            "logs": {"trial.log": "x  y"} }"#;
        let p = parse(body).unwrap();
        assert_eq!(p.step_count, 2);
        assert_eq!(p.schema_version, DEFAULT_SCHEMA_VERSION);
        let steps = r#"[{"b":1.50,"a":[],"n":123456789012345678901234567890,"e":1E2,"s":"two  spaces \" and \\ \n","u":"é 🦀"},null]"#;
        let logs = r#"{"trial.log":"x  y"}"#;
        assert_eq!(p.size_bytes() as usize, steps.len() + logs.len());
        let blob = p.to_blob();
        assert_eq!(
            String::from_utf8(blob.clone()).unwrap(),
            format!(r#"{{"steps":{steps},"logs":{logs}}}"#)
        );
        let stored = StoredPayload::from_blob(&blob).unwrap();
        assert_eq!(stored.steps.get(), steps);
        assert_eq!(stored.logs.unwrap().get(), logs);
    }

    #[test]
    fn logs_are_optional_and_counted_as_nothing_when_absent() {
        for body in [
            r#"{"steps": []}"#,
            r#"{"steps": [], "logs": null, "schema_version": "custom-2"}"#,
        ] {
            let p = parse(body).unwrap();
            assert_eq!(p.step_count, 0);
            assert_eq!(p.size_bytes(), 2);
            let stored = StoredPayload::from_blob(&p.to_blob()).unwrap();
            assert!(stored.logs.is_none());
        }
        assert_eq!(
            parse(r#"{"steps": [], "schema_version": "custom-2"}"#)
                .unwrap()
                .schema_version,
            "custom-2"
        );
    }

    #[test]
    fn bad_shapes_name_the_field() {
        let path = |body: &str| match parse(body) {
            Err(UploadError::Invalid(e)) => e.path,
            other => panic!("{body}: {other:?}"),
        };
        assert_eq!(path(r#"{}"#), "steps");
        assert_eq!(path(r#"{"steps": {"a": 1}}"#), "steps");
        assert_eq!(path(r#"{"steps": [], "logs": [1]}"#), "logs");
        assert_eq!(
            path(r#"{"steps": [], "logs": {"a": "x", "b": 2}}"#),
            "logs.b"
        );
        assert_eq!(
            path(r#"{"steps": [], "schema_version": " "}"#),
            "schema_version"
        );
        assert_eq!(
            path(r#"{"steps": [], "schema_version": 3}"#),
            "schema_version"
        );
        assert_eq!(path(r#"{"steps": [1,]}"#), "body");
        assert_eq!(path(r#"[]"#), "body");
    }

    #[test]
    fn the_limit_counts_steps_and_logs_as_stored() {
        let half = TRAJECTORY_MAX_BYTES / 2;
        // Two strings whose stored texts add up to exactly the limit fit; one byte more does not.
        let steps_text = format!("[\"{}\"]", "a".repeat(half - 4));
        let logs_text = format!("{{\"l\":\"{}\"}}", "b".repeat(half - 8));
        assert_eq!(steps_text.len() + logs_text.len(), TRAJECTORY_MAX_BYTES);
        // Whitespace around tokens is not counted.
        let body = format!("{{\"steps\":  {steps_text} ,\n \"logs\": {logs_text}}}");
        let p = parse(&body).unwrap();
        assert_eq!(p.size_bytes() as usize, TRAJECTORY_MAX_BYTES);
        let body = format!(
            "{{\"steps\":{steps_text},\"logs\":{{\"l\":\"{}\"}}}}",
            "b".repeat(half - 7)
        );
        assert!(matches!(
            parse(&body),
            Err(UploadError::TooLarge { size }) if size == TRAJECTORY_MAX_BYTES + 1
        ));
    }

    #[test]
    fn compact_leaves_compact_text_alone() {
        assert!(matches!(compact(r#"{"a":[1,"b c"]}"#), Cow::Borrowed(_)));
        assert_eq!(
            compact("[ 1 ,\t\"\\\\\" , \"\\\" \" ]"),
            r#"[1,"\\","\" "]"#
        );
    }
}

/// A transcription sample's clip (`object: "eval.sample.audio"`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SampleAudioObject {
    pub object: String,
    /// A playable clip: a base64 `data:` URI, or the http(s) URL the row names.
    pub audio: String,
    pub sample_index: i64,
    /// The task the clip came from.
    pub task_id: String,
    /// The model whose sample was read (the clip is the same for every model of a task).
    pub model: String,
}
