//! A trial's trajectory upload: the agent's ATIF steps as the file has them (their JSON text,
//! never re-serialized, so numbers stay as written), and the tails of the trial's log files.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::bail;
use assay_domain::api::DEFAULT_SCHEMA_VERSION;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use super::job::{read_json, tail, LOG_FILES};

/// How much of the end of each log file goes with a trajectory (and of the verifier's
/// output into `output_text`).
pub const LOG_TAIL_BYTES: u64 = 64 * 1024;

/// An ATIF trajectory file (Harbor's `Trajectory`), the parts the import reads.
#[derive(Debug, Deserialize)]
pub struct Atif {
    #[serde(default)]
    pub schema_version: Option<String>,
    /// The steps' JSON text, as in the file.
    pub steps: Box<RawValue>,
}

/// What the instruction is read from: a step's source and message.
#[derive(Deserialize)]
struct StepHead {
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    message: Option<Value>,
}

/// The body of `PUT …/samples/{i}/trajectory`.
#[derive(Debug, Serialize)]
pub struct Upload {
    pub steps: Box<RawValue>,
    pub schema_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logs: Option<BTreeMap<String, String>>,
}

impl Atif {
    /// Reads a trajectory file, naming it in any error.
    pub fn read(path: &Path) -> anyhow::Result<Atif> {
        let atif: Atif = read_json(path)?;
        if !atif.steps.get().trim_start().starts_with('[') {
            bail!("{}: `steps` is not a list", path.display());
        }
        Ok(atif)
    }

    /// The first user message, when it is plain text: the task instruction as the agent
    /// received it.
    pub fn instruction(&self) -> Option<String> {
        let steps: Vec<StepHead> = serde_json::from_str(self.steps.get()).ok()?;
        let first = steps
            .into_iter()
            .find(|s| s.source.as_deref() == Some("user"))?;
        match first.message? {
            Value::String(text) => Some(text),
            _ => None,
        }
    }
}

/// The upload for the trial in `trial_dir` whose trajectory is `trajectory`.
pub fn upload(trial_dir: &Path, trajectory: &Path) -> anyhow::Result<Upload> {
    let atif = Atif::read(trajectory)?;
    let mut logs = BTreeMap::new();
    for name in LOG_FILES {
        if let Some(text) = tail(&trial_dir.join(name), LOG_TAIL_BYTES)? {
            logs.insert(name.to_string(), text);
        }
    }
    Ok(Upload {
        steps: atif.steps,
        schema_version: atif
            .schema_version
            .unwrap_or_else(|| DEFAULT_SCHEMA_VERSION.to_string()),
        logs: (!logs.is_empty()).then_some(logs),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_takes_steps_verbatim_and_log_tails() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("agent")).unwrap();
        let path = dir.path().join("agent/trajectory.json");
        std::fs::write(
            &path,
            r#"{"agent": {"name": "a", "version": "1"}, "steps": [
                {"step_id": 1, "source": "system", "message": "be brief"},
                {"step_id": 2, "source": "user", "message": "Fix it.", "extra": {"x": 1.50}}
            ]}"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("trial.log"), "x".repeat(70_000)).unwrap();
        let upload = upload(dir.path(), &path).unwrap();
        let body = serde_json::to_string(&upload).unwrap();
        assert!(
            body.contains(r#""extra": {"x": 1.50}"#),
            "numbers as written: {body}"
        );
        assert_eq!(upload.schema_version, "ATIF-v1.7");
        let logs = upload.logs.unwrap();
        assert_eq!(logs.keys().collect::<Vec<_>>(), ["trial.log"]);
        assert_eq!(logs["trial.log"].len(), 65_536);
        assert_eq!(
            Atif::read(&path).unwrap().instruction().as_deref(),
            Some("Fix it.")
        );
    }

    #[test]
    fn a_file_without_a_step_list_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trajectory.json");
        for text in [r#"{"schema_version": "ATIF-v1.8"}"#, r#"{"steps": {}}"#] {
            std::fs::write(&path, text).unwrap();
            let err = format!("{:#}", upload(dir.path(), &path).unwrap_err());
            assert!(
                err.contains("trajectory.json") && err.contains("steps"),
                "{err}"
            );
        }
    }
}
