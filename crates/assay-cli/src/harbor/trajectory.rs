//! A trial's trajectory upload: the agent's ATIF steps, verbatim, and the tails of the trial's
//! log files.

use std::collections::BTreeMap;
use std::path::Path;

use assay_domain::api::agents::TrajectoryUpload;
use serde::Deserialize;
use serde_json::Value;

use super::job::{read_json, tail, LOG_FILES};

/// The schema recorded when a trajectory file names none (the API's own default).
pub const DEFAULT_SCHEMA_VERSION: &str = "ATIF-v1.7";
/// How much of the end of each log file goes with a trajectory (and of the verifier's
/// output into `output_text`).
pub const LOG_TAIL_BYTES: u64 = 64 * 1024;

/// An ATIF trajectory file (Harbor's `Trajectory`), the parts the import reads.
#[derive(Debug, Deserialize)]
pub struct Atif {
    #[serde(default)]
    pub schema_version: Option<String>,
    pub steps: Vec<Value>,
}

impl Atif {
    /// Reads a trajectory file, naming it in any error.
    pub fn read(path: &Path) -> anyhow::Result<Atif> {
        read_json(path)
    }

    /// The first user message, when it is plain text: the task instruction as the agent
    /// received it.
    pub fn instruction(&self) -> Option<&str> {
        self.steps
            .iter()
            .find(|step| step["source"] == "user")
            .and_then(|step| step["message"].as_str())
    }
}

/// The upload for the trial in `trial_dir` whose trajectory is `trajectory`.
pub fn upload(trial_dir: &Path, trajectory: &Path) -> anyhow::Result<TrajectoryUpload> {
    let atif = Atif::read(trajectory)?;
    let mut logs = BTreeMap::new();
    for name in LOG_FILES {
        if let Some(text) = tail(&trial_dir.join(name), LOG_TAIL_BYTES)? {
            logs.insert(name.to_string(), text);
        }
    }
    Ok(TrajectoryUpload {
        steps: atif.steps,
        schema_version: Some(
            atif.schema_version
                .unwrap_or_else(|| DEFAULT_SCHEMA_VERSION.to_string()),
        ),
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
                {"step_id": 2, "source": "user", "message": "Fix it.", "extra": {"x": [1, 2]}}
            ]}"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("trial.log"), "x".repeat(70_000)).unwrap();
        let upload = upload(dir.path(), &path).unwrap();
        assert_eq!(upload.steps.len(), 2);
        assert_eq!(upload.steps[1]["extra"]["x"][1], 2);
        assert_eq!(upload.schema_version.as_deref(), Some("ATIF-v1.7"));
        let logs = upload.logs.unwrap();
        assert_eq!(logs.keys().collect::<Vec<_>>(), ["trial.log"]);
        assert_eq!(logs["trial.log"].len(), 65_536);
        assert_eq!(Atif::read(&path).unwrap().instruction(), Some("Fix it."));
    }

    #[test]
    fn a_file_without_steps_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trajectory.json");
        std::fs::write(&path, r#"{"schema_version": "ATIF-v1.8"}"#).unwrap();
        let err = format!("{:#}", upload(dir.path(), &path).unwrap_err());
        assert!(
            err.contains("trajectory.json") && err.contains("steps"),
            "{err}"
        );
    }
}
