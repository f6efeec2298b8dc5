//! Harbor's files, as the `harbor` package (0.26) writes them, read leniently: only the fields
//! the import uses, every one optional where Harbor's own model makes it optional, unknown
//! fields ignored (older and newer Harbor versions add and drop some).
//!
//! A job directory (`jobs/<job_name>/`) holds `config.json` (`JobConfig`), `result.json`
//! (`JobResult`, written without its trial results), `job.log`, `lock.json`, and one directory
//! per trial (`<task name, at most 32 chars>__<7 random chars>`). A trial directory holds
//! `config.json` (`TrialConfig`), `result.json` (`TrialResult`, written when the trial ends),
//! `trial.log`, `exception.txt` (the traceback, when it recorded an exception), `agent/` (the
//! agent's logs, among them its ATIF trajectory `agent/trajectory.json`) and `verifier/`
//! (`test-stdout.txt`, `test-stderr.txt`, `reward.txt` or `reward.json`). A retried trial
//! replaces its directory; a directory without `result.json` is a trial that never finished.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

/// A trial's result, relative to its directory.
pub const TRIAL_RESULT: &str = "result.json";
/// The agent's ATIF trajectory, relative to the trial directory.
pub const TRAJECTORY: &str = "agent/trajectory.json";
/// What the verifier's test script printed, relative to the trial directory.
pub const VERIFIER_STDOUT: &str = "verifier/test-stdout.txt";
/// The log files whose tails go with a trajectory, relative to the trial directory.
pub const LOG_FILES: [&str; 4] = [
    "trial.log",
    VERIFIER_STDOUT,
    "verifier/test-stderr.txt",
    "exception.txt",
];

/// A Harbor job directory and its finished trials.
pub struct Job {
    pub dir: PathBuf,
    pub config: JobConfig,
    pub result: JobResult,
    /// Finished trials, by directory name.
    pub trials: Vec<Trial>,
    /// Trial directories without a `result.json` (trials that never finished).
    pub unfinished: Vec<PathBuf>,
}

/// One finished trial.
pub struct Trial {
    pub dir: PathBuf,
    pub result: TrialResult,
}

/// The job's `config.json` (Harbor's `JobConfig`).
#[derive(Debug, Deserialize)]
pub struct JobConfig {
    pub job_name: String,
    #[serde(default)]
    pub agents: Vec<AgentConfig>,
}

/// The job's `result.json` (Harbor's `JobResult`).
#[derive(Debug, Deserialize)]
pub struct JobResult {
    /// A UUID, stable across resumes of the job.
    pub id: String,
    /// Written with `datetime.now()`: the harness machine's local time, without an offset.
    #[serde(default)]
    pub started_at: Option<String>,
}

/// An agent configuration (Harbor's `AgentConfig`), in the job's and in each trial's config.
#[derive(Debug, Default, Deserialize)]
pub struct AgentConfig {
    /// As given to Harbor, provider prefix included (`anthropic/claude-sonnet-4-5`).
    #[serde(default)]
    pub model_name: Option<String>,
    /// The agent's options; `reasoning_effort` among them for agents that take one.
    #[serde(default)]
    pub kwargs: Option<Map<String, Value>>,
}

/// The part of a trial's `TrialConfig` the import reads.
#[derive(Debug, Default, Deserialize)]
pub struct TrialConfig {
    #[serde(default)]
    pub agent: Option<AgentConfig>,
}

/// A trial's `result.json` (Harbor's `TrialResult`).
#[derive(Debug, Deserialize)]
pub struct TrialResult {
    /// A UUID, new for every trial (and every retry of it).
    #[serde(default)]
    pub id: Option<String>,
    pub task_name: String,
    pub trial_name: String,
    #[serde(default)]
    pub config: Option<TrialConfig>,
    pub agent_info: AgentInfo,
    #[serde(default)]
    pub agent_result: Option<AgentContext>,
    #[serde(default)]
    pub verifier_result: Option<VerifierResult>,
    #[serde(default)]
    pub exception_info: Option<ExceptionInfo>,
    /// Harbor's verdict (a computed field since 0.2x): false when there is no reward or an
    /// exception whose error policy voids it. Absent in results of older versions.
    #[serde(default)]
    pub reward_valid: Option<bool>,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub environment_setup: Option<Timing>,
    #[serde(default)]
    pub agent_setup: Option<Timing>,
    #[serde(default)]
    pub agent_execution: Option<Timing>,
    #[serde(default)]
    pub verifier: Option<Timing>,
    /// Multi-step tasks: one entry per step, each with its own agent context.
    #[serde(default)]
    pub step_results: Option<Vec<StepResult>>,
}

/// The agent that ran a trial, as it reported itself (Harbor's `AgentInfo`).
#[derive(Debug, Deserialize)]
pub struct AgentInfo {
    pub name: String,
    /// `"unknown"` when the agent could not tell.
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub model_info: Option<ModelInfo>,
}

/// Harbor's `ModelInfo`: the model name without its provider prefix.
#[derive(Debug, Deserialize)]
pub struct ModelInfo {
    pub name: String,
}

/// Token and cost figures of an agent session (Harbor's `AgentContext`); null = not reported.
#[derive(Debug, Default, Deserialize)]
pub struct AgentContext {
    /// Input tokens, cached ones included.
    #[serde(default)]
    pub n_input_tokens: Option<i64>,
    #[serde(default)]
    pub n_cache_tokens: Option<i64>,
    #[serde(default)]
    pub n_output_tokens: Option<i64>,
    #[serde(default)]
    pub cost_usd: Option<f64>,
}

/// Harbor's `VerifierResult`: named rewards (numbers, by Harbor's model).
#[derive(Debug, Deserialize)]
pub struct VerifierResult {
    #[serde(default)]
    pub rewards: Option<Map<String, Value>>,
}

/// Harbor's `ExceptionInfo`.
#[derive(Debug, Deserialize)]
pub struct ExceptionInfo {
    pub exception_type: String,
    #[serde(default)]
    pub exception_message: String,
    #[serde(default)]
    pub occurred_at: Option<String>,
}

/// Harbor's `TimingInfo`: ISO 8601 instants, either possibly null.
#[derive(Debug, Deserialize)]
pub struct Timing {
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub finished_at: Option<String>,
}

/// One step of a multi-step trial (Harbor's `StepResult`).
#[derive(Debug, Deserialize)]
pub struct StepResult {
    #[serde(default)]
    pub agent_result: Option<AgentContext>,
    #[serde(default)]
    pub exception_info: Option<ExceptionInfo>,
}

impl Job {
    /// Reads the job's config and result and every trial directory's `result.json`.
    pub fn read(dir: &Path) -> anyhow::Result<Job> {
        let config_path = dir.join("config.json");
        if !config_path.is_file() {
            bail!(
                "{} not found: {} is not a Harbor job directory",
                config_path.display(),
                dir.display()
            );
        }
        let config: JobConfig = read_json(&config_path)?;
        let result: JobResult = read_json(&dir.join("result.json"))?;
        let mut entries = std::fs::read_dir(dir)
            .with_context(|| format!("listing {}", dir.display()))?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("listing {}", dir.display()))?;
        entries.sort();
        let mut trials = Vec::new();
        let mut unfinished = Vec::new();
        for path in entries {
            let hidden = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_none_or(|n| n.starts_with('.'));
            if hidden || !path.is_dir() {
                continue;
            }
            let result_path = path.join(TRIAL_RESULT);
            if !result_path.is_file() {
                unfinished.push(path);
                continue;
            }
            let result = read_json(&result_path)?;
            trials.push(Trial { dir: path, result });
        }
        Ok(Job {
            dir: dir.to_path_buf(),
            config,
            result,
            trials,
            unfinished,
        })
    }
}

impl TrialResult {
    /// The exceptions the trial recorded: its own first, then its steps' in order.
    pub fn exceptions(&self) -> impl Iterator<Item = &ExceptionInfo> {
        let steps = self.step_results.iter().flatten();
        self.exception_info
            .iter()
            .chain(steps.filter_map(|s| s.exception_info.as_ref()))
    }

    /// The agent contexts holding the trial's usage: the trial's own, or for a multi-step
    /// trial (which has none) its steps'.
    pub fn agent_contexts(&self) -> Vec<&AgentContext> {
        match &self.agent_result {
            Some(context) => vec![context],
            None => self
                .step_results
                .iter()
                .flatten()
                .filter_map(|s| s.agent_result.as_ref())
                .collect(),
        }
    }

    /// The agent configuration the trial ran with.
    pub fn agent_config(&self) -> Option<&AgentConfig> {
        self.config.as_ref()?.agent.as_ref()
    }
}

/// Reads and parses a JSON file, naming the file in any error.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not what Harbor writes there", path.display()))
}

/// The last `max_bytes` of a text file (cut at a character boundary), or `None` when the file
/// does not exist.
pub fn tail(path: &Path, max_bytes: u64) -> anyhow::Result<Option<String>> {
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let read = || -> std::io::Result<Vec<u8>> {
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(max_bytes)))?;
        let mut bytes = Vec::new();
        file.take(max_bytes).read_to_end(&mut bytes)?;
        Ok(bytes)
    };
    let bytes = read().with_context(|| format!("reading {}", path.display()))?;
    // A cut inside a multi-byte character leaves continuation bytes at the start.
    let start = bytes
        .iter()
        .position(|b| b & 0xC0 != 0x80)
        .unwrap_or(bytes.len());
    Ok(Some(String::from_utf8_lossy(&bytes[start..]).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_cuts_at_a_character_boundary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.txt");
        std::fs::write(&path, "aé€z").unwrap(); // 1 + 2 + 3 + 1 bytes
        assert_eq!(tail(&path, 100).unwrap().as_deref(), Some("aé€z"));
        assert_eq!(tail(&path, 5).unwrap().as_deref(), Some("€z"));
        assert_eq!(tail(&path, 3).unwrap().as_deref(), Some("z"));
        assert_eq!(tail(&dir.path().join("missing"), 3).unwrap(), None);
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = Job::read(dir.path()).err().unwrap().to_string();
        assert!(err.contains("config.json"), "{err}");
        std::fs::write(dir.path().join("config.json"), r#"{"job_name": "j"}"#).unwrap();
        std::fs::write(dir.path().join("result.json"), "{").unwrap();
        let err = Job::read(dir.path()).err().unwrap().to_string();
        assert!(err.contains("result.json"), "{err}");
    }
}
