//! Runs, their samples and artifacts.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::list::HasId;
use super::suites::{validate_metadata, Metadata};
use crate::error::{index, ValidationError};
use crate::generation::GenerationConfig;
use crate::MAX_SAFE_INT;

/// Most models one run may evaluate.
pub const MAX_MODELS: usize = 20;
/// Bounds of `generation_concurrency`, `concurrency` and `grader_concurrency`.
pub const MAX_CONCURRENCY: i64 = 256;
/// Bounds of `max_workflow_sample_activities`.
pub const MIN_WORKFLOW_ACTIVITIES: i64 = 100;
pub const MAX_WORKFLOW_ACTIVITIES: i64 = 50_000;
/// Longest model id.
pub const MAX_MODEL_ID_CHARS: usize = 256;

/// Body of `POST /evals/runs`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CreateRunRequest {
    pub suite_id: String,
    /// Candidate model ids: registry names, `ENDPOINT:MODEL`, or `auto`; 1 to 20.
    pub models: Vec<String>,
    /// Version to run (default: the suite's active version).
    #[serde(default)]
    pub suite_version: Option<i64>,
    /// Tasks to run (default: every task of the version).
    #[serde(default)]
    pub task_ids: Option<Vec<String>>,
    #[serde(default)]
    pub judge_model: Option<String>,
    #[serde(default)]
    pub embedding_model: Option<String>,
    #[serde(default)]
    pub generation: Option<GenerationConfig>,
    /// Model calls in flight at once, 1 to 256.
    #[serde(default)]
    pub generation_concurrency: Option<i64>,
    /// Legacy alias of `generation_concurrency`.
    #[serde(default)]
    pub concurrency: Option<i64>,
    /// Scoring jobs in flight at once, 1 to 256.
    #[serde(default)]
    pub grader_concurrency: Option<i64>,
    /// Cap on samples per task (per model).
    #[serde(default)]
    pub max_samples_per_task: Option<i64>,
    /// Sample activities one Temporal workflow execution schedules before continuing as new.
    #[serde(default)]
    pub max_workflow_sample_activities: Option<i64>,
    #[serde(default)]
    pub metadata: Option<Metadata>,
}

fn check_model_id(path: &str, id: &str) -> Result<(), ValidationError> {
    if id.trim().is_empty() {
        return Err(ValidationError::new(path, "must not be empty"));
    }
    if id.chars().count() > MAX_MODEL_ID_CHARS {
        return Err(ValidationError::new(
            path,
            format!("must have at most {MAX_MODEL_ID_CHARS} characters"),
        ));
    }
    Ok(())
}

fn check_between(path: &str, v: Option<i64>, lo: i64, hi: i64) -> Result<(), ValidationError> {
    match v {
        Some(v) if !(lo..=hi).contains(&v) => Err(ValidationError::new(
            path,
            format!("must be between {lo} and {hi}"),
        )),
        _ => Ok(()),
    }
}

impl CreateRunRequest {
    /// Checks the request's own bounds (suite, version and task existence are checked against
    /// the store by the caller).
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.suite_id.trim().is_empty() {
            return Err(ValidationError::new("suite_id", "must not be empty"));
        }
        if self.models.is_empty() || self.models.len() > MAX_MODELS {
            return Err(ValidationError::new(
                "models",
                format!("must list 1 to {MAX_MODELS} models"),
            ));
        }
        for (i, m) in self.models.iter().enumerate() {
            check_model_id(&index("models", i), m)?;
            if self.models[..i].contains(m) {
                return Err(ValidationError::new(
                    index("models", i),
                    format!("duplicate model {m}"),
                ));
            }
        }
        check_between("suite_version", self.suite_version, 1, MAX_SAFE_INT)?;
        if let Some(ids) = &self.task_ids {
            if ids.is_empty() {
                return Err(ValidationError::new(
                    "task_ids",
                    "must list at least one task",
                ));
            }
            for (i, id) in ids.iter().enumerate() {
                if id.is_empty() {
                    return Err(ValidationError::new(
                        index("task_ids", i),
                        "must not be empty",
                    ));
                }
                if ids[..i].contains(id) {
                    return Err(ValidationError::new(
                        index("task_ids", i),
                        format!("duplicate task {id}"),
                    ));
                }
            }
        }
        for (name, m) in [
            ("judge_model", &self.judge_model),
            ("embedding_model", &self.embedding_model),
        ] {
            if let Some(m) = m {
                check_model_id(name, m)?;
            }
        }
        if let Some(g) = &self.generation {
            g.validate("generation")?;
        }
        check_between(
            "generation_concurrency",
            self.generation_concurrency,
            1,
            MAX_CONCURRENCY,
        )?;
        check_between("concurrency", self.concurrency, 1, MAX_CONCURRENCY)?;
        check_between(
            "grader_concurrency",
            self.grader_concurrency,
            1,
            MAX_CONCURRENCY,
        )?;
        check_between(
            "max_samples_per_task",
            self.max_samples_per_task,
            1,
            MAX_SAFE_INT,
        )?;
        check_between(
            "max_workflow_sample_activities",
            self.max_workflow_sample_activities,
            MIN_WORKFLOW_ACTIVITIES,
            MAX_WORKFLOW_ACTIVITIES,
        )?;
        if let Some(m) = &self.metadata {
            validate_metadata(m, "metadata")?;
        }
        Ok(())
    }
}

/// Where a run is in its life. Terminal: `completed`, `failed`, `cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    InProgress,
    Finalizing,
    Completed,
    Failed,
    Cancelling,
    Cancelled,
}

impl RunStatus {
    pub const ALL: [RunStatus; 7] = [
        RunStatus::Queued,
        RunStatus::InProgress,
        RunStatus::Finalizing,
        RunStatus::Completed,
        RunStatus::Failed,
        RunStatus::Cancelling,
        RunStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::InProgress => "in_progress",
            RunStatus::Finalizing => "finalizing",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Cancelling => "cancelling",
            RunStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether the run has ended.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunStatus::Completed | RunStatus::Failed | RunStatus::Cancelled
        )
    }

    /// Whether `cancel` applies (the run has not ended and is not already stopping).
    pub fn is_cancellable(self) -> bool {
        matches!(
            self,
            RunStatus::Queued | RunStatus::InProgress | RunStatus::Finalizing
        )
    }
}

/// Where a sample is: `queued` → `generating` → `ready_to_score` → `scoring` →
/// `completed` | `failed`. (`running` is a legacy value, never written.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SampleStatus {
    Queued,
    Generating,
    ReadyToScore,
    Scoring,
    Running,
    Completed,
    Failed,
}

impl SampleStatus {
    pub const ALL: [SampleStatus; 7] = [
        SampleStatus::Queued,
        SampleStatus::Generating,
        SampleStatus::ReadyToScore,
        SampleStatus::Scoring,
        SampleStatus::Running,
        SampleStatus::Completed,
        SampleStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SampleStatus::Queued => "queued",
            SampleStatus::Generating => "generating",
            SampleStatus::ReadyToScore => "ready_to_score",
            SampleStatus::Scoring => "scoring",
            SampleStatus::Running => "running",
            SampleStatus::Completed => "completed",
            SampleStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, SampleStatus::Completed | SampleStatus::Failed)
    }
}

/// Sample counters of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RequestCounts {
    pub total: i64,
    pub completed: i64,
    pub failed: i64,
}

/// Token totals; `null` means nobody reported the figure (not zero).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RunTokens {
    pub input: Option<i64>,
    pub output: Option<i64>,
    pub cached: Option<i64>,
    pub reasoning: Option<i64>,
}

/// A run (`object: "eval.run"`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RunObject {
    pub id: String,
    pub object: String,
    pub suite_id: String,
    pub suite_version: i64,
    pub suite_version_id: String,
    pub org_id: String,
    pub team_id: String,
    pub status: RunStatus,
    pub models: Vec<String>,
    /// `null` = every task of the version.
    pub task_ids: Option<Vec<String>>,
    pub judge_model: Option<String>,
    pub embedding_model: Option<String>,
    /// The normalized generation config (aliases folded, unknown keys kept).
    pub generation: GenerationConfig,
    pub request_counts: RequestCounts,
    /// Aggregates once available; see the README for the layout.
    #[schema(value_type = Option<Object>)]
    pub metrics: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
    pub artifact_file_ids: Vec<String>,
    pub metadata: Metadata,
    pub agent_name: Option<String>,
    pub agent_version: Option<String>,
    pub agent_effort: Option<String>,
    pub cost_usd: Option<f64>,
    pub tokens: RunTokens,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub cancelled_at: Option<i64>,
    pub failed_at: Option<i64>,
}

impl HasId for RunObject {
    fn id(&self) -> &str {
        &self.id
    }
}

/// Result of deleting a run (`object: "eval.run.deleted"`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RunDeletedObject {
    pub id: String,
    pub object: String,
    pub deleted: bool,
}

/// One evaluated (model, task, row) (`object: "eval.sample"`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SampleObject {
    pub id: String,
    pub object: String,
    pub run_id: String,
    pub task_id: String,
    pub model: String,
    /// Unique per (task, model): the row's position in the task's dataset.
    pub sample_index: i64,
    pub status: SampleStatus,
    #[schema(value_type = Option<Object>)]
    pub dataset_row: Option<Map<String, Value>>,
    pub prompt: String,
    pub target: Option<String>,
    pub response_id: Option<String>,
    pub output_text: Option<String>,
    /// Reasoning kept apart from the answer; only with `include_reasoning=true`.
    pub reasoning: Option<String>,
    pub extracted_output: Option<String>,
    #[schema(value_type = Object)]
    pub scores: Map<String, Value>,
    #[schema(value_type = Option<Object>)]
    pub judge: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
    pub cost_usd: Option<f64>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cached_tokens: Option<i64>,
    pub reasoning_tokens: Option<i64>,
    pub tokens_estimated: bool,
    #[schema(value_type = Option<Object>)]
    pub phase_timings: Option<Value>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub completed_at: Option<i64>,
}

impl HasId for SampleObject {
    fn id(&self) -> &str {
        &self.id
    }
}

/// A run's downloadable artifacts (`object: "eval.artifacts"`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ArtifactsObject {
    pub run_id: String,
    pub object: String,
    pub result_file_id: Option<String>,
    pub samples_file_id: Option<String>,
    pub artifact_file_ids: Vec<String>,
}

/// Trial counters of the overview.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TrialCounts {
    pub total: i64,
    pub completed: i64,
    pub failed: i64,
    pub errored: i64,
    pub retried: i64,
}

/// Aggregate header of a run's samples (`object: "eval.run.overview"`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RunOverview {
    pub run_id: String,
    pub object: String,
    pub suite_id: String,
    pub status: RunStatus,
    pub agent_name: Option<String>,
    pub agent_version: Option<String>,
    pub agent_effort: Option<String>,
    pub models: Vec<String>,
    /// The `scores` key averaged into `avg_reward`.
    pub metric: String,
    pub avg_reward: Option<f64>,
    pub trials: TrialCounts,
    pub cost_usd: Option<f64>,
    pub tokens: RunTokens,
}

/// Query of `GET /evals/runs`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListRunsQuery {
    /// A run id: list the runs after it.
    pub after: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Leave out runs visible only through a suite share.
    pub owned_only: Option<bool>,
    pub suite_id: Option<String>,
    /// Needs `suite_id`.
    #[param(minimum = 1)]
    pub suite_version: Option<i64>,
    pub status: Option<RunStatus>,
}

/// Query of `GET /evals/runs/{run_id}/samples`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListSamplesQuery {
    /// A sample id: list the samples after it.
    pub after: Option<String>,
    /// Page size, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    pub task_id: Option<String>,
    pub model: Option<String>,
    pub status: Option<SampleStatus>,
    /// The `scores` key `score_min` / `score_max` bound.
    pub score_metric: Option<String>,
    /// Inclusive lower bound on `scores[score_metric]`.
    pub score_min: Option<f64>,
    /// Inclusive upper bound on `scores[score_metric]`.
    pub score_max: Option<f64>,
    /// Include `dataset_row` (default true).
    pub include_dataset_row: Option<bool>,
    /// Include `reasoning` (default false).
    pub include_reasoning: Option<bool>,
    /// Only the samples with this index (an integer).
    pub sample_index: Option<String>,
}

/// Query of `GET /evals/runs/{run_id}/overview`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OverviewQuery {
    /// The `scores` key to average (default `reward`).
    pub metric: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(v: Value) -> CreateRunRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn bounds_name_the_field() {
        let base = json!({"suite_id": "eval_suite_x", "models": ["auto"]});
        req(base.clone()).validate().unwrap();
        let cases = [
            (json!({"models": []}), "models"),
            (json!({"models": [""]}), "models[0]"),
            (json!({"models": ["a", "a"]}), "models[1]"),
            (
                json!({"models": (0..21).map(|i| i.to_string()).collect::<Vec<_>>()}),
                "models",
            ),
            (json!({"suite_version": 0}), "suite_version"),
            (json!({"task_ids": []}), "task_ids"),
            (
                json!({"generation_concurrency": 0}),
                "generation_concurrency",
            ),
            (json!({"concurrency": 257}), "concurrency"),
            (json!({"grader_concurrency": 0}), "grader_concurrency"),
            (json!({"max_samples_per_task": 0}), "max_samples_per_task"),
            (
                json!({"max_workflow_sample_activities": 99}),
                "max_workflow_sample_activities",
            ),
            (
                json!({"max_workflow_sample_activities": 50001}),
                "max_workflow_sample_activities",
            ),
            (
                json!({"generation": {"temperature": 9}}),
                "generation.temperature",
            ),
            (json!({"judge_model": " "}), "judge_model"),
        ];
        for (patch, path) in cases {
            let mut v = base.clone();
            for (k, val) in patch.as_object().unwrap() {
                v[k] = val.clone();
            }
            assert_eq!(req(v.clone()).validate().unwrap_err().path, path, "{v}");
        }
    }

    #[test]
    fn statuses_round_trip() {
        for s in RunStatus::ALL {
            assert_eq!(RunStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
        }
        for s in SampleStatus::ALL {
            assert_eq!(SampleStatus::parse(s.as_str()), Some(s));
        }
        assert!(RunStatus::Cancelled.is_terminal());
        assert!(!RunStatus::Cancelling.is_terminal());
        assert!(RunStatus::Queued.is_cancellable());
    }
}

/// How a run executes: the create-run knobs that are not part of the run object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSettings {
    /// Model calls in flight at once.
    pub generation_concurrency: i64,
    /// Scoring jobs in flight at once.
    pub grader_concurrency: i64,
    /// Cap on rows per task.
    pub max_samples_per_task: Option<i64>,
    /// Temporal: sample activities per workflow execution before continue-as-new.
    pub max_workflow_sample_activities: Option<i64>,
}

/// Default model calls in flight per run.
pub const DEFAULT_GENERATION_CONCURRENCY: i64 = 8;
/// Default scoring jobs in flight per run.
pub const DEFAULT_GRADER_CONCURRENCY: i64 = 4;

impl CreateRunRequest {
    /// The execution settings, with defaults (`concurrency` stands in for
    /// `generation_concurrency` when only it is given).
    pub fn settings(&self) -> RunSettings {
        RunSettings {
            generation_concurrency: self
                .generation_concurrency
                .or(self.concurrency)
                .unwrap_or(DEFAULT_GENERATION_CONCURRENCY),
            grader_concurrency: self
                .grader_concurrency
                .unwrap_or(DEFAULT_GRADER_CONCURRENCY),
            max_samples_per_task: self.max_samples_per_task,
            max_workflow_sample_activities: self.max_workflow_sample_activities,
        }
    }
}
