//! Python code in a manifest: graders (`EvalPythonGrader`) and row preprocessors
//! (`EvalPythonPreprocessor`). Both take their code from exactly one of inline `source` or an
//! uploaded `.py` (`file_id`, purpose `evals`) and run in the sandbox with a timeout.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Default sandbox timeout of graders and preprocessors, in seconds.
pub const DEFAULT_TIMEOUT_SECONDS: i64 = 120;
/// Longest sandbox timeout of graders and preprocessors, in seconds.
pub const MAX_TIMEOUT_SECONDS: i64 = 600;
/// Default number of model calls a grader execution may make.
pub const DEFAULT_MAX_MODEL_CALLS: i64 = 64;
/// Most model calls a grader execution may make.
pub const MAX_MODEL_CALLS: i64 = 500;

/// The language of manifest code; only Python.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PythonType {
    #[default]
    Python,
}

/// Python scoring for a task.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = EvalPythonGrader)]
pub struct PythonGrader {
    /// Always `python`.
    #[serde(rename = "type", default)]
    pub code_type: PythonType,
    /// Which function the module defines: `sample` ⇒ `grade(sample, item[, ctx])` per
    /// sample, `batch` ⇒ `grade_batch(samples[, ctx])` once per task, `model_backed` ⇒
    /// either, with model access through `ctx`.
    #[serde(default)]
    pub contract: GraderContract,
    /// Override of how the grader runs; see [`PythonGrader::effective_execution`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<GraderExecution>,
    /// Whether `ctx.responses_create` / `ctx.embeddings_create` are available; see
    /// [`PythonGrader::effective_model_access`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_access: Option<ModelAccess>,
    /// Key under which a bare float return value is stored in `scores`.
    #[serde(default = "default_metric_id")]
    #[schema(default = "score", min_length = 1)]
    pub metric_id: String,
    /// Inline Python source. Exactly one of `source` and `file_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Python file uploaded with `purpose=evals`. Exactly one of `source` and `file_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    /// Sandbox execution timeout, 1 to 600 seconds.
    #[serde(default = "default_timeout")]
    #[schema(default = 120, minimum = 1, maximum = 600)]
    pub timeout_seconds: i64,
    /// Model calls allowed per grader execution, 0 to 500.
    #[serde(default = "default_max_model_calls")]
    #[schema(default = 64, minimum = 0, maximum = 500)]
    pub max_model_calls: i64,
}

impl PythonGrader {
    /// `execution`, else the contract's default: `aggregate` for `batch`, `per_sample` for
    /// `sample` and `model_backed`.
    pub fn effective_execution(&self) -> GraderExecution {
        self.execution.unwrap_or(match self.contract {
            GraderContract::Batch => GraderExecution::Aggregate,
            GraderContract::Sample | GraderContract::ModelBacked => GraderExecution::PerSample,
        })
    }

    /// `model_access`, else the contract's default: `mka1` for `model_backed`, `none`
    /// otherwise.
    pub fn effective_model_access(&self) -> ModelAccess {
        self.model_access.unwrap_or(match self.contract {
            GraderContract::ModelBacked => ModelAccess::Mka1,
            GraderContract::Sample | GraderContract::Batch => ModelAccess::None,
        })
    }
}

fn default_metric_id() -> String {
    "score".to_string()
}

fn default_timeout() -> i64 {
    DEFAULT_TIMEOUT_SECONDS
}

fn default_max_model_calls() -> i64 {
    DEFAULT_MAX_MODEL_CALLS
}

/// The function a grader module defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GraderContract {
    /// `grade(sample, item)` or `grade(sample, item, ctx)`, per sample.
    #[default]
    Sample,
    /// `grade_batch(samples)` or `grade_batch(samples, ctx)`, once per task.
    Batch,
    /// Either function, with `ctx` model helpers.
    ModelBacked,
}

/// How a grader is executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GraderExecution {
    /// Once per sample.
    PerSample,
    /// Once over all of a task's samples.
    Aggregate,
}

/// Model access of a grader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModelAccess {
    /// No model helpers.
    None,
    /// `ctx.responses_create` / `ctx.embeddings_create` through the gateway bridge.
    Mka1,
}

/// A Python transform of the dataset rows, applied before prompt rendering.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = EvalPythonPreprocessor)]
pub struct PythonPreprocessor {
    /// Always `python`.
    #[serde(rename = "type", default)]
    pub code_type: PythonType,
    /// `row` ⇒ `transform(row)` per row; `batch` ⇒ `transform_batch(rows)` once.
    #[serde(default)]
    pub contract: PreprocessorContract,
    /// Inline Python source. Exactly one of `source` and `file_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Python file uploaded with `purpose=evals`. Exactly one of `source` and `file_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    /// Sandbox execution timeout, 1 to 600 seconds.
    #[serde(default = "default_timeout")]
    #[schema(default = 120, minimum = 1, maximum = 600)]
    pub timeout_seconds: i64,
}

/// The function a preprocessor module defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PreprocessorContract {
    /// `transform(row)`, called per row, returns the new row.
    #[default]
    Row,
    /// `transform_batch(rows)`, called once, returns the new rows.
    Batch,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn grader_defaults() {
        let g: PythonGrader = serde_json::from_value(json!({"source": "x"})).unwrap();
        assert_eq!(g.code_type, PythonType::Python);
        assert_eq!(g.contract, GraderContract::Sample);
        assert_eq!(g.metric_id, "score");
        assert_eq!(g.timeout_seconds, 120);
        assert_eq!(g.max_model_calls, 64);
        assert_eq!(g.effective_execution(), GraderExecution::PerSample);
        assert_eq!(g.effective_model_access(), ModelAccess::None);
    }

    #[test]
    fn derived_execution_and_model_access() {
        let batch: PythonGrader =
            serde_json::from_value(json!({"source": "x", "contract": "batch"})).unwrap();
        assert_eq!(batch.effective_execution(), GraderExecution::Aggregate);
        assert_eq!(batch.effective_model_access(), ModelAccess::None);
        let backed: PythonGrader =
            serde_json::from_value(json!({"source": "x", "contract": "model_backed"})).unwrap();
        assert_eq!(backed.effective_execution(), GraderExecution::PerSample);
        assert_eq!(backed.effective_model_access(), ModelAccess::Mka1);
        let explicit: PythonGrader = serde_json::from_value(json!({
            "source": "x", "contract": "model_backed",
            "execution": "aggregate", "model_access": "none"
        }))
        .unwrap();
        assert_eq!(explicit.effective_execution(), GraderExecution::Aggregate);
        assert_eq!(explicit.effective_model_access(), ModelAccess::None);
    }

    #[test]
    fn preprocessor_defaults() {
        let p: PythonPreprocessor = serde_json::from_value(json!({"file_id": "f"})).unwrap();
        assert_eq!(p.code_type, PythonType::Python);
        assert_eq!(p.contract, PreprocessorContract::Row);
        assert_eq!(p.timeout_seconds, 120);
    }
}
