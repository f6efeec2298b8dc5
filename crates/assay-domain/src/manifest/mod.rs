//! The suite manifest (spec §2.1–2.10): the declarative list of eval tasks a suite version
//! snapshots, its typed form, its validation and the files it references.
//!
//! The typed structs here are a *view* of a manifest: they ignore keys they do not know, so
//! the server stores the manifest's raw JSON (which keeps them) and uses these types to read
//! it. Decode with [`validate_manifest`] (new manifests) or [`Manifest::from_json`] (stored
//! ones): both treat an explicit JSON `null` like an absent field, which plain
//! `serde_json::from_value` does not for fields with a default.

mod dataset;
mod decode;
mod embedding;
mod extraction;
mod fewshot;
mod grading;
mod python;
mod validate;

pub use dataset::{DataFiles, DataFilesEntry, Dataset, DatasetFormat, DatasetSource};
pub use embedding::{EmbeddingConfig, EmbeddingKind};
pub use extraction::{
    ExtractionGroup, LabelSetExtraction, OutputExtraction, RegexExtraction, TakeFirstExtraction,
};
pub use fewshot::{FewshotConfig, FewshotStrategy};
pub use grading::{similarity_threshold, JudgeConfig, JudgeMode, DEFAULT_SIMILARITY_THRESHOLD};
pub use python::{
    GraderContract, GraderExecution, ModelAccess, PreprocessorContract, PythonGrader,
    PythonPreprocessor, PythonType, MAX_TIMEOUT_SECONDS,
};
pub use validate::{is_hub_repo_id, validate_manifest};

use crate::error::{field, index, ValidationError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// Manifest schema date assumed when a manifest has no `schema_version`.
pub const DEFAULT_SCHEMA_VERSION: &str = "2026-05-27";

/// Most tasks one manifest may hold.
pub const MAX_TASKS: usize = 100;

/// A suite manifest: the tasks of one suite version.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = EvalSuiteManifest)]
pub struct Manifest {
    /// The eval tasks, 1 to 100, with unique ids.
    #[schema(min_items = 1, max_items = 100)]
    pub tasks: Vec<Task>,
    /// Manifest schema date.
    #[serde(default = "default_schema_version")]
    #[schema(default = "2026-05-27")]
    pub schema_version: String,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
}

fn default_schema_version() -> String {
    DEFAULT_SCHEMA_VERSION.to_string()
}

/// One declarative eval task: a dataset, how to prompt with each row, how to read the
/// answer and how to score it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = EvalTask)]
pub struct Task {
    /// Task id, unique within the manifest: 1–128 letters, digits, `_`, `.` or `-`.
    /// Referenced by run `task_ids`, samples and trials.
    #[schema(min_length = 1, max_length = 128, pattern = "^[A-Za-z0-9_.-]+$")]
    pub id: String,
    /// Task type; `transcription` and `embedding` change how the task runs, the others
    /// are labels for reporting.
    #[serde(rename = "type")]
    pub task_type: TaskType,
    /// The dataset whose rows become the task's samples.
    pub dataset: Dataset,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Jinja template rendered per dataset row into the prompt, e.g.
    /// `"Question: {{question}}"`. Not used by `embedding` tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_template: Option<String>,
    /// Jinja template rendered per dataset row into the expected answer, e.g.
    /// `"{{answer}}"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_template: Option<String>,
    /// Answer options for multiple-choice or classification style prompts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<String>>,
    /// How the answer is pulled out of the model output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_extraction: Option<OutputExtraction>,
    /// Metric declarations: the score keys and how they aggregate. Ids are unique.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
    /// Python scoring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grader: Option<PythonGrader>,
    /// Embedding settings; required for, and only allowed on, `embedding` tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<EmbeddingConfig>,
    /// Python row transform applied before prompt rendering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preprocess: Option<PythonPreprocessor>,
    /// Few-shot examples prefixed to each prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fewshot: Option<FewshotConfig>,
    /// lm-eval-style shorthand for `fewshot.count` (0–100); must agree with it when both
    /// are given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 100)]
    pub num_fewshot: Option<i64>,
    /// BCP-47/ISO language hint for the transcription model on `transcription` tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
}

impl Task {
    /// Number of few-shot examples per sample: `fewshot.count`, else `num_fewshot`, else 0.
    pub fn fewshot_count(&self) -> i64 {
        self.fewshot
            .as_ref()
            .and_then(|f| f.count)
            .or(self.num_fewshot)
            .unwrap_or(0)
    }
}

/// The kind of an eval task (closed enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = EvalTaskType)]
pub enum TaskType {
    Classification,
    MultipleChoice,
    Qa,
    Summarization,
    SemanticSimilarity,
    LlmJudge,
    Numeric,
    Math,
    Custom,
    /// Audio input from `dataset.audio_column`; the output is a transcript.
    Transcription,
    /// No generation: rows are embedded and scored according to `embedding.kind`.
    Embedding,
}

impl TaskType {
    /// Every task type, in the spec's order.
    pub const ALL: [TaskType; 11] = [
        TaskType::Classification,
        TaskType::MultipleChoice,
        TaskType::Qa,
        TaskType::Summarization,
        TaskType::SemanticSimilarity,
        TaskType::LlmJudge,
        TaskType::Numeric,
        TaskType::Math,
        TaskType::Custom,
        TaskType::Transcription,
        TaskType::Embedding,
    ];

    /// The wire spelling, e.g. `multiple_choice`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Classification => "classification",
            Self::MultipleChoice => "multiple_choice",
            Self::Qa => "qa",
            Self::Summarization => "summarization",
            Self::SemanticSimilarity => "semantic_similarity",
            Self::LlmJudge => "llm_judge",
            Self::Numeric => "numeric",
            Self::Math => "math",
            Self::Custom => "custom",
            Self::Transcription => "transcription",
            Self::Embedding => "embedding",
        }
    }
}

/// A metric declaration: names a score key and how it rolls up.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = EvalMetric)]
pub struct Metric {
    /// Metric key; matches keys in sample `scores`. Unique within the task.
    #[schema(min_length = 1)]
    pub id: String,
    /// How per-sample values roll up to the task and run level.
    #[serde(default)]
    pub aggregation: Aggregation,
    /// Whether larger values are better.
    #[serde(default = "yes")]
    #[schema(default = true)]
    pub higher_is_better: bool,
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

fn yes() -> bool {
    true
}

/// How a metric's per-sample values roll up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// Mean over the samples that have a value.
    #[default]
    Mean,
    /// Not aggregated.
    None,
}

/// What a referenced file must be usable as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileRefKind {
    /// A JSONL or CSV dataset.
    Dataset,
    /// A Python grader or preprocessor module.
    Python,
}

/// A file id a manifest references. The server checks that each exists, is visible to the
/// caller and has purpose `evals`, and reports a problem at `path`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileRef {
    /// JSON path of the `file_id` field, e.g. `manifest.tasks[0].dataset.file_id`.
    pub path: String,
    /// The referenced file id.
    pub file_id: String,
    /// What the file is used as.
    pub kind: FileRefKind,
    /// For datasets, the declared `format`; `None` means it is inferred from the file name.
    pub format: Option<DatasetFormat>,
}

impl Manifest {
    /// Decodes a manifest without checking its rules, for manifests that were validated
    /// before (e.g. stored ones). `null` counts as absent; errors name the field under
    /// `path`. New manifests go through [`validate_manifest`] instead.
    pub fn from_json(value: &Value, path: &str) -> Result<Self, ValidationError> {
        decode::decode_manifest(value, path)
    }

    /// Every file the manifest references, in document order: the file ids of the task
    /// datasets, few-shot datasets and embedding auxiliary datasets whose source is `file`,
    /// and the `file_id`s of graders and preprocessors. `path` is the manifest's JSON path
    /// (the same one given to [`validate_manifest`], e.g. `manifest`); each [`FileRef::path`]
    /// is built under it.
    pub fn file_refs(&self, path: &str) -> Vec<FileRef> {
        let mut refs = Vec::new();
        let tasks = field(path, "tasks");
        for (i, task) in self.tasks.iter().enumerate() {
            let tp = index(&tasks, i);
            push_dataset_ref(&mut refs, &task.dataset, &field(&tp, "dataset"));
            if let Some(ds) = task.fewshot.as_ref().and_then(|f| f.dataset.as_ref()) {
                push_dataset_ref(&mut refs, ds, &field(&field(&tp, "fewshot"), "dataset"));
            }
            if let Some(emb) = &task.embedding {
                let ep = field(&tp, "embedding");
                for (name, ds) in emb.aux_datasets() {
                    push_dataset_ref(&mut refs, ds, &field(&ep, name));
                }
            }
            if let Some(id) = task.grader.as_ref().and_then(|g| g.file_id.as_ref()) {
                push_ref(
                    &mut refs,
                    &field(&tp, "grader"),
                    id,
                    FileRefKind::Python,
                    None,
                );
            }
            if let Some(id) = task.preprocess.as_ref().and_then(|p| p.file_id.as_ref()) {
                push_ref(
                    &mut refs,
                    &field(&tp, "preprocess"),
                    id,
                    FileRefKind::Python,
                    None,
                );
            }
        }
        refs
    }

    /// The distinct dataset file ids the manifest references, in document order (the
    /// suite version's `dataset_file_ids`).
    pub fn dataset_file_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for r in self.file_refs("") {
            if r.kind == FileRefKind::Dataset && !ids.contains(&r.file_id) {
                ids.push(r.file_id);
            }
        }
        ids
    }

    /// The task with the given id.
    pub fn task(&self, id: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.id == id)
    }
}

fn push_dataset_ref(refs: &mut Vec<FileRef>, ds: &Dataset, path: &str) {
    if ds.effective_source() == Some(DatasetSource::File) {
        if let Some(id) = &ds.file_id {
            push_ref(refs, path, id, FileRefKind::Dataset, ds.format);
        }
    }
}

fn push_ref(
    refs: &mut Vec<FileRef>,
    parent: &str,
    file_id: &str,
    kind: FileRefKind,
    format: Option<DatasetFormat>,
) {
    refs.push(FileRef {
        path: field(parent, "file_id"),
        file_id: file_id.to_string(),
        kind,
        format,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_are_applied() {
        let m = Manifest::from_json(
            &json!({"tasks": [{
                "id": "t", "type": "qa", "dataset": {"file_id": "file-1"},
                "metrics": [{"id": "acc"}]
            }]}),
            "manifest",
        )
        .unwrap();
        assert_eq!(m.schema_version, DEFAULT_SCHEMA_VERSION);
        assert!(m.metadata.is_none());
        let metric = &m.tasks[0].metrics[0];
        assert_eq!(metric.aggregation, Aggregation::Mean);
        assert!(metric.higher_is_better);
        assert_eq!(m.tasks[0].fewshot_count(), 0);
    }

    #[test]
    fn null_means_absent() {
        let m = Manifest::from_json(
            &json!({"schema_version": null, "metadata": null, "tasks": [{
                "id": "t", "type": "qa", "name": null,
                "dataset": {"file_id": "file-1", "path": null, "max_rows": null},
                "metrics": [{"id": "acc", "higher_is_better": null, "aggregation": null}],
                "grader": {"source": "x", "timeout_seconds": null},
                "metadata": {"kept": null}
            }]}),
            "manifest",
        )
        .unwrap();
        assert_eq!(m.schema_version, DEFAULT_SCHEMA_VERSION);
        let task = &m.tasks[0];
        assert!(task.name.is_none() && task.dataset.path.is_none());
        assert!(task.metrics[0].higher_is_better);
        assert_eq!(task.grader.as_ref().unwrap().timeout_seconds, 120);
        // Free-form maps keep their nulls.
        assert_eq!(task.metadata.as_ref().unwrap()["kept"], Value::Null);
    }

    #[test]
    fn unknown_keys_are_ignored() {
        let m = Manifest::from_json(
            &json!({"future": 1, "tasks": [{
                "id": "t", "type": "qa", "new_field": {"x": 1},
                "dataset": {"file_id": "file-1", "shuffle": true},
                "output_extraction": {"type": "regex", "pattern": "(a)", "extra": 1},
                "grader": {"source": "x", "sandbox": "v2"}
            }]}),
            "manifest",
        )
        .unwrap();
        assert_eq!(m.tasks[0].id, "t");
        // They do not come back on serialization: the raw JSON is what keeps them.
        let out = serde_json::to_value(&m).unwrap();
        assert!(out.get("future").is_none());
        assert!(out["tasks"][0].get("new_field").is_none());
    }

    #[test]
    fn task_type_spelling_round_trips() {
        for t in TaskType::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), json!(t.as_str()));
        }
    }

    #[test]
    fn file_refs_list_every_referenced_file() {
        let m = Manifest::from_json(
            &json!({"tasks": [
                {
                    "id": "a", "type": "qa",
                    "dataset": {"file_id": "file-data"},
                    "fewshot": {"count": 1, "dataset": {"file_id": "file-shots"}},
                    "grader": {"file_id": "file-grader"},
                    "preprocess": {"file_id": "file-pre"}
                },
                {
                    "id": "b", "type": "embedding",
                    "dataset": {"path": "org/queries"},
                    "embedding": {
                        "kind": "reranking",
                        "corpus_dataset": {"file_id": "file-corpus"},
                        "qrels_dataset": {"path": "org/qrels"},
                        "top_ranked_dataset": {"file_id": "file-top"}
                    },
                    "grader": {"source": "x"}
                },
                {
                    "id": "c", "type": "qa",
                    "dataset": {"source": "huggingface", "path": "org/x", "file_id": "file-unused"}
                },
                {"id": "d", "type": "qa", "dataset": {"file_id": "file-data"}}
            ]}),
            "manifest",
        )
        .unwrap();
        let refs: Vec<(String, String, FileRefKind)> = m
            .file_refs("manifest")
            .into_iter()
            .map(|r| (r.path, r.file_id, r.kind))
            .collect();
        let expect = |p: &str, id: &str, k| (p.to_string(), id.to_string(), k);
        assert_eq!(
            refs,
            vec![
                expect(
                    "manifest.tasks[0].dataset.file_id",
                    "file-data",
                    FileRefKind::Dataset
                ),
                expect(
                    "manifest.tasks[0].fewshot.dataset.file_id",
                    "file-shots",
                    FileRefKind::Dataset
                ),
                expect(
                    "manifest.tasks[0].grader.file_id",
                    "file-grader",
                    FileRefKind::Python
                ),
                expect(
                    "manifest.tasks[0].preprocess.file_id",
                    "file-pre",
                    FileRefKind::Python
                ),
                expect(
                    "manifest.tasks[1].embedding.corpus_dataset.file_id",
                    "file-corpus",
                    FileRefKind::Dataset
                ),
                expect(
                    "manifest.tasks[1].embedding.top_ranked_dataset.file_id",
                    "file-top",
                    FileRefKind::Dataset
                ),
                expect(
                    "manifest.tasks[3].dataset.file_id",
                    "file-data",
                    FileRefKind::Dataset
                ),
            ]
        );
        assert_eq!(
            m.dataset_file_ids(),
            vec!["file-data", "file-shots", "file-corpus", "file-top"]
        );
        assert_eq!(m.file_refs("")[0].path, "tasks[0].dataset.file_id");
    }
}
