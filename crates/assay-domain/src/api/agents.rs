//! Coding-agent runs: importing a harness job's trials (`POST /imports/agent-run`), appending
//! trials to an open run (`POST /runs/{id}/trials`), and trial trajectories.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::suites::{validate_metadata, Metadata, NAME_MAX_CHARS};
use crate::error::{field, index, ValidationError};
use crate::MAX_SAFE_INT;

/// Most trials one import or append request may carry.
pub const MAX_TRIALS_PER_REQUEST: usize = 10_000;
/// Longest `idempotency_key`, in characters.
pub const IDEMPOTENCY_KEY_MAX_CHARS: usize = 255;
/// Longest trial `prompt` / `target` / `output_text`, in bytes.
pub const TRIAL_TEXT_MAX_BYTES: usize = 1 << 20;

/// How a trial ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TrialStatus {
    /// The verifier ran and scored it (an agent timeout included: its exception is in `error`).
    #[default]
    Completed,
    /// No score at all.
    Failed,
}

/// One finished trial of a harness job.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct TrialInput {
    /// A task of the target suite version.
    pub task_id: String,
    /// Unique per (task, model); in an import it defaults to the trial's position.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 9007199254740991_i64)]
    pub sample_index: Option<i64>,
    #[serde(default)]
    pub status: Option<TrialStatus>,
    /// The task instruction.
    #[serde(default)]
    pub prompt: Option<String>,
    #[serde(default)]
    pub target: Option<String>,
    /// What decided the score (the verifier's output).
    #[serde(default)]
    pub output_text: Option<String>,
    /// Numeric scores, e.g. `{"reward": 1}`.
    #[serde(default)]
    pub scores: Option<BTreeMap<String, f64>>,
    /// A recorded exception; it does not make the trial a failure by itself.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub error: Option<Map<String, Value>>,
    #[serde(default)]
    #[schema(minimum = 0)]
    pub cost_usd: Option<f64>,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 9007199254740991_i64)]
    pub input_tokens: Option<i64>,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 9007199254740991_i64)]
    pub output_tokens: Option<i64>,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 9007199254740991_i64)]
    pub cached_tokens: Option<i64>,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 9007199254740991_i64)]
    pub reasoning_tokens: Option<i64>,
    /// `{phase: {started_at, finished_at}}`, ISO 8601 as the harness recorded them.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub phase_timings: Option<Map<String, Value>>,
}

impl TrialInput {
    /// Checks the trial's own fields; `path` names it (`trials[3]`). Whether its task exists
    /// and its index is unique is checked against the suite version by the importer.
    pub fn validate(&self, path: &str, index_required: bool) -> Result<(), ValidationError> {
        if self.task_id.trim().is_empty() || self.task_id.chars().count() > NAME_MAX_CHARS {
            return Err(ValidationError::new(
                field(path, "task_id"),
                format!("must have 1 to {NAME_MAX_CHARS} characters"),
            ));
        }
        match self.sample_index {
            None if index_required => {
                return Err(ValidationError::new(
                    field(path, "sample_index"),
                    "is required when appending trials",
                ))
            }
            Some(i) if !(0..=MAX_SAFE_INT).contains(&i) => {
                return Err(ValidationError::new(
                    field(path, "sample_index"),
                    "must be an integer of at least 0",
                ))
            }
            _ => {}
        }
        for (name, text) in [
            ("prompt", &self.prompt),
            ("target", &self.target),
            ("output_text", &self.output_text),
        ] {
            if text
                .as_ref()
                .is_some_and(|t| t.len() > TRIAL_TEXT_MAX_BYTES)
            {
                return Err(ValidationError::new(
                    field(path, name),
                    format!("must be at most {TRIAL_TEXT_MAX_BYTES} bytes"),
                ));
            }
        }
        if let Some(cost) = self.cost_usd {
            if !cost.is_finite() || cost < 0.0 {
                return Err(ValidationError::new(
                    field(path, "cost_usd"),
                    "must be a number of at least 0",
                ));
            }
        }
        for (name, n) in [
            ("input_tokens", self.input_tokens),
            ("output_tokens", self.output_tokens),
            ("cached_tokens", self.cached_tokens),
            ("reasoning_tokens", self.reasoning_tokens),
        ] {
            if n.is_some_and(|n| !(0..=MAX_SAFE_INT).contains(&n)) {
                return Err(ValidationError::new(
                    field(path, name),
                    "must be an integer of at least 0",
                ));
            }
        }
        if let Some(scores) = &self.scores {
            for (key, value) in scores {
                if key.is_empty() || key.chars().count() > NAME_MAX_CHARS {
                    return Err(ValidationError::new(
                        field(&field(path, "scores"), key),
                        format!("score names must have 1 to {NAME_MAX_CHARS} characters"),
                    ));
                }
                if !value.is_finite() {
                    return Err(ValidationError::new(
                        field(&field(path, "scores"), key),
                        "must be a finite number",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The trial's status (`completed` when not given).
    pub fn status(&self) -> TrialStatus {
        self.status.unwrap_or_default()
    }
}

/// Checks every trial of a request: bounds and shapes, with the trial's path in any error.
pub fn validate_trials(trials: &[TrialInput], index_required: bool) -> Result<(), ValidationError> {
    if trials.len() > MAX_TRIALS_PER_REQUEST {
        return Err(ValidationError::new(
            "trials",
            format!("at most {MAX_TRIALS_PER_REQUEST} trials per request; send the rest with POST /runs/{{run_id}}/trials"),
        ));
    }
    for (i, trial) in trials.iter().enumerate() {
        trial.validate(&index("trials", i), index_required)?;
    }
    Ok(())
}

/// Checks a free-form name (agent, model, effort, version): 1 to [`NAME_MAX_CHARS`].
fn validate_label(value: &str, path: &str) -> Result<(), ValidationError> {
    if value.trim().is_empty() || value.chars().count() > NAME_MAX_CHARS {
        return Err(ValidationError::new(
            path,
            format!("must have 1 to {NAME_MAX_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Body of `POST /evals/imports/agent-run`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportAgentRunRequest {
    pub suite_id: String,
    /// The harness agent, e.g. `claude-code`.
    pub agent_name: String,
    pub model: String,
    /// Default: the suite's active version.
    #[serde(default)]
    #[schema(minimum = 1)]
    pub suite_version: Option<i64>,
    #[serde(default)]
    pub agent_version: Option<String>,
    /// Reasoning effort; part of the leaderboard row.
    #[serde(default)]
    pub agent_effort: Option<String>,
    /// The job's total spend; default: the sum of the trials' costs.
    #[serde(default)]
    #[schema(minimum = 0)]
    pub cost_usd: Option<f64>,
    /// When the job ran (unix seconds); default now.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 9007199254740991_i64)]
    pub created_at: Option<i64>,
    #[serde(default)]
    pub metadata: Option<Metadata>,
    /// Reusing a key returns the run the first import created.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 255)]
    pub idempotency_key: Option<String>,
    #[serde(default)]
    pub trials: Option<Vec<TrialInput>>,
    /// Sets `request_counts.total` up front.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 9007199254740991_i64)]
    pub expected_trials: Option<i64>,
    /// `false` opens the run `in_progress` for appended trials (default `true`).
    #[serde(default)]
    pub finalize: Option<bool>,
}

impl ImportAgentRunRequest {
    /// Checks everything that does not need the store.
    pub fn validate(&self) -> Result<(), ValidationError> {
        validate_label(&self.suite_id, "suite_id")?;
        validate_label(&self.agent_name, "agent_name")?;
        validate_label(&self.model, "model")?;
        if let Some(v) = &self.agent_version {
            validate_label(v, "agent_version")?;
        }
        if let Some(e) = &self.agent_effort {
            validate_label(e, "agent_effort")?;
        }
        if self
            .suite_version
            .is_some_and(|v| !(1..=MAX_SAFE_INT).contains(&v))
        {
            return Err(ValidationError::new(
                "suite_version",
                format!("must be between 1 and {MAX_SAFE_INT}"),
            ));
        }
        if self.cost_usd.is_some_and(|c| !c.is_finite() || c < 0.0) {
            return Err(ValidationError::new(
                "cost_usd",
                "must be a number of at least 0",
            ));
        }
        if self
            .created_at
            .is_some_and(|t| !(0..=MAX_SAFE_INT).contains(&t))
        {
            return Err(ValidationError::new(
                "created_at",
                "must be unix seconds of at least 0",
            ));
        }
        if let Some(m) = &self.metadata {
            validate_metadata(m, "metadata")?;
        }
        if let Some(key) = &self.idempotency_key {
            if key.is_empty() || key.chars().count() > IDEMPOTENCY_KEY_MAX_CHARS {
                return Err(ValidationError::new(
                    "idempotency_key",
                    format!("must have 1 to {IDEMPOTENCY_KEY_MAX_CHARS} characters"),
                ));
            }
        }
        if self
            .expected_trials
            .is_some_and(|n| !(0..=MAX_SAFE_INT).contains(&n))
        {
            return Err(ValidationError::new(
                "expected_trials",
                "must be an integer of at least 0",
            ));
        }
        validate_trials(self.trials.as_deref().unwrap_or_default(), false)
    }
}

/// Body of `POST /evals/runs/{run_id}/trials`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct AppendTrialsRequest {
    /// Upserted on (task, model, sample_index); `sample_index` is required.
    #[serde(default)]
    pub trials: Option<Vec<TrialInput>>,
    /// Completes the run after these trials land (default `false`).
    #[serde(default)]
    pub finalize: Option<bool>,
}

impl AppendTrialsRequest {
    /// Checks everything that does not need the store.
    pub fn validate(&self) -> Result<(), ValidationError> {
        validate_trials(self.trials.as_deref().unwrap_or_default(), true)
    }
}

/// Seconds between an ISO 8601 phase's `started_at` and `finished_at`, when both parse and
/// the phase does not run backwards.
pub fn phase_seconds(timings: &Map<String, Value>, phase: &str) -> Option<f64> {
    let phase = timings.get(phase)?.as_object()?;
    let start = parse_instant(phase.get("started_at")?.as_str()?)?;
    let end = parse_instant(phase.get("finished_at")?.as_str()?)?;
    let seconds = end.duration_since(start).ok()?.as_secs_f64();
    Some(seconds)
}

/// An RFC 3339 / ISO 8601 timestamp (`2026-01-02T03:04:05.678Z`, offsets allowed).
fn parse_instant(text: &str) -> Option<std::time::SystemTime> {
    humantime::parse_rfc3339_weak(text)
        .ok()
        .or_else(|| parse_with_offset(text))
}

/// Timestamps with a numeric offset (`+02:00`), which the weak RFC 3339 parser does not take.
fn parse_with_offset(text: &str) -> Option<std::time::SystemTime> {
    let (body, sign, offset) = match text.rfind(['+', '-']) {
        Some(i) if i > 10 => (&text[..i], &text[i..i + 1], &text[i + 1..]),
        _ => return None,
    };
    let (hours, minutes) = offset.split_once(':').unwrap_or((offset, "0"));
    let shift = hours.parse::<u64>().ok()? * 3600 + minutes.parse::<u64>().ok()? * 60;
    let local = humantime::parse_rfc3339_weak(body).ok()?;
    let shift = std::time::Duration::from_secs(shift);
    // A positive offset means local time is ahead of UTC.
    if sign == "+" {
        local.checked_sub(shift)
    } else {
        local.checked_add(shift)
    }
}

/// The upload of a trial's trajectory (`PUT …/samples/{i}/trajectory`), as documented. The
/// server decodes bodies with [`super::TrajectoryPayload::parse`], which keeps the JSON text
/// of `steps` and `logs` rather than these values.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct TrajectoryUpload {
    /// Stored verbatim, never validated: any JSON values.
    #[schema(value_type = Vec<Value>)]
    pub steps: Vec<Value>,
    /// Default `ATIF-v1.7`.
    #[serde(default)]
    pub schema_version: Option<String>,
    /// Tails of the trial's log files, keyed by path.
    #[serde(default)]
    pub logs: Option<BTreeMap<String, String>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn trial_paths_name_the_offending_field() {
        let trials: Vec<TrialInput> = serde_json::from_value(json!([
            {"task_id": "a"},
            {"task_id": "b", "cost_usd": -1.0}
        ]))
        .unwrap();
        let err = validate_trials(&trials, false).unwrap_err();
        assert_eq!(err.path, "trials[1].cost_usd");
        let err = validate_trials(&trials, true).unwrap_err();
        assert_eq!(err.path, "trials[0].sample_index");
    }

    #[test]
    fn phase_seconds_reads_iso_timings() {
        let timings = json!({
            "agent_execution": {"started_at": "2026-01-02T03:04:05.500Z", "finished_at": "2026-01-02T03:05:06Z"},
            "verifier": {"started_at": "2026-01-02T05:00:00+02:00", "finished_at": "2026-01-02T03:00:30Z"},
            "backwards": {"started_at": "2026-01-02T03:00:30Z", "finished_at": "2026-01-02T03:00:00Z"},
        });
        let m = timings.as_object().unwrap();
        assert_eq!(phase_seconds(m, "agent_execution"), Some(60.5));
        assert_eq!(phase_seconds(m, "verifier"), Some(30.0));
        assert_eq!(phase_seconds(m, "backwards"), None);
        assert_eq!(phase_seconds(m, "missing"), None);
    }
}
