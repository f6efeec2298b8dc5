//! `EvalDataset`: where a task's rows (or few-shot / embedding auxiliary rows) come from.

use serde::de::{Deserializer, Error as _};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Most rows `max_rows` may allow.
pub const MAX_ROWS: i64 = 1_000_000;

/// A dataset backing an eval task; also used for few-shot and embedding auxiliary datasets.
/// Either an uploaded file (`file_id`) or a Hugging Face dataset (`path`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[schema(as = EvalDataset)]
pub struct Dataset {
    /// Where the rows come from. When omitted it is inferred: `file_id` ⇒ `file`, `path` ⇒
    /// `huggingface`; with both it must be given. After validation it is always set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<DatasetSource>,
    /// JSONL or CSV file uploaded with `purpose=evals` (source `file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    /// Format of the uploaded file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<DatasetFormat>,
    /// Hugging Face dataset path, e.g. `facebook/belebele` (source `huggingface`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Hugging Face config (subset) name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Hugging Face split (`test`, `train`, `validation`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<String>,
    /// Hugging Face revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Hugging Face `data_files` for json/csv/parquet-style datasets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_files: Option<DataFiles>,
    /// Extra loader kwargs, kept for import/parity metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_kwargs: Option<Map<String, Value>>,
    /// Safety cap on the number of rows loaded, 1 to 1,000,000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub max_rows: Option<i64>,
    /// Row column holding the audio input (e.g. an HF Audio feature resolving to a clip URL,
    /// or a `data:` URI). Required for `transcription` tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_column: Option<String>,
}

impl Dataset {
    /// The explicit `source`, else the one inferred from `file_id` / `path`; `None` when it
    /// cannot be inferred (neither given, or both).
    pub fn effective_source(&self) -> Option<DatasetSource> {
        self.source.or(match (&self.file_id, &self.path) {
            (Some(_), None) => Some(DatasetSource::File),
            (None, Some(_)) => Some(DatasetSource::Huggingface),
            _ => None,
        })
    }
}

/// Where a dataset's rows come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DatasetSource {
    /// An uploaded file (`file_id`).
    File,
    /// A Hugging Face dataset (`path`).
    Huggingface,
}

/// Format of an uploaded dataset file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DatasetFormat {
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header row.
    Csv,
}

impl DatasetFormat {
    /// The format a file name implies: `.jsonl` / `.ndjson` → JSONL, `.csv` → CSV.
    pub fn from_filename(name: &str) -> Option<Self> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".jsonl") || lower.ends_with(".ndjson") {
            Some(DatasetFormat::Jsonl)
        } else if lower.ends_with(".csv") {
            Some(DatasetFormat::Csv)
        } else {
            None
        }
    }
}

/// Hugging Face `data_files`: one file, a list of files, or a map of split name to one file
/// or a list of files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum DataFiles {
    /// A single file.
    One(String),
    /// Several files.
    Many(Vec<String>),
    /// Files per split.
    Splits(BTreeMap<String, DataFilesEntry>),
}

/// The files of one split in [`DataFiles::Splits`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum DataFilesEntry {
    /// A single file.
    One(String),
    /// Several files.
    Many(Vec<String>),
}

const DATA_FILES_EXPECTED: &str =
    "expected a string, a list of strings, or a map from split name to a string or a list of strings";

impl<'de> Deserialize<'de> for DataFiles {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let invalid = || D::Error::custom(DATA_FILES_EXPECTED);
        match Value::deserialize(deserializer)? {
            Value::Object(map) => map
                .into_iter()
                .map(|(split, files)| {
                    DataFilesEntry::from_value(files)
                        .map(|entry| (split, entry))
                        .ok_or_else(invalid)
                })
                .collect::<Result<_, _>>()
                .map(DataFiles::Splits),
            other => match DataFilesEntry::from_value(other).ok_or_else(invalid)? {
                DataFilesEntry::One(file) => Ok(DataFiles::One(file)),
                DataFilesEntry::Many(files) => Ok(DataFiles::Many(files)),
            },
        }
    }
}

impl<'de> Deserialize<'de> for DataFilesEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::from_value(Value::deserialize(deserializer)?)
            .ok_or_else(|| D::Error::custom("expected a string or a list of strings"))
    }
}

impl DataFilesEntry {
    fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::String(file) => Some(Self::One(file)),
            Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(file) => Some(file),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
                .map(Self::Many),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(v: Value) -> Result<Dataset, crate::ValidationError> {
        crate::json::from_value(&v, "ds")
    }

    #[test]
    fn source_is_inferred() {
        let file = decode(json!({"file_id": "file-1"})).unwrap();
        assert_eq!(file.effective_source(), Some(DatasetSource::File));
        let hf = decode(json!({"path": "org/name"})).unwrap();
        assert_eq!(hf.effective_source(), Some(DatasetSource::Huggingface));
        let both = decode(json!({"path": "org/name", "file_id": "file-1"})).unwrap();
        assert_eq!(both.effective_source(), None);
        let explicit =
            decode(json!({"source": "file", "path": "org/name", "file_id": "f"})).unwrap();
        assert_eq!(explicit.effective_source(), Some(DatasetSource::File));
        assert_eq!(decode(json!({})).unwrap().effective_source(), None);
    }

    #[test]
    fn data_files_take_all_three_shapes() {
        let one = decode(json!({"data_files": "a.json"})).unwrap();
        assert_eq!(one.data_files, Some(DataFiles::One("a.json".into())));
        let many = decode(json!({"data_files": ["a.json", "b.json"]})).unwrap();
        assert_eq!(
            many.data_files,
            Some(DataFiles::Many(vec!["a.json".into(), "b.json".into()]))
        );
        let splits =
            decode(json!({"data_files": {"train": "t.csv", "test": ["x.csv", "y.csv"]}})).unwrap();
        let Some(DataFiles::Splits(map)) = splits.data_files else {
            panic!("expected splits");
        };
        assert_eq!(map["train"], DataFilesEntry::One("t.csv".into()));
        assert_eq!(
            map["test"],
            DataFilesEntry::Many(vec!["x.csv".into(), "y.csv".into()])
        );
        // Serialization gives the same shapes back.
        let v = serde_json::to_value(DataFiles::Splits(map)).unwrap();
        assert_eq!(v, json!({"test": ["x.csv", "y.csv"], "train": "t.csv"}));
    }

    #[test]
    fn bad_data_files_name_the_field() {
        for bad in [
            json!(1),
            json!([1]),
            json!({"train": 2}),
            json!({"t": [true]}),
        ] {
            let err = decode(json!({"data_files": bad})).unwrap_err();
            assert_eq!(err.path, "ds.data_files");
            assert!(
                err.message.starts_with("expected a string"),
                "{}",
                err.message
            );
        }
    }

    #[test]
    fn format_and_source_are_closed_enums() {
        assert_eq!(
            decode(json!({"format": "csv"})).unwrap().format,
            Some(DatasetFormat::Csv)
        );
        assert_eq!(
            decode(json!({"format": "xml"})).unwrap_err().path,
            "ds.format"
        );
        assert_eq!(
            decode(json!({"source": "s3"})).unwrap_err().path,
            "ds.source"
        );
    }
}
