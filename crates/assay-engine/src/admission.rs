//! Run admission: whether a run request can run on this server, and the run it becomes.
//!
//! One function answers for every way a run starts — the create-run API today, schedules at
//! creation and at every fire, the web UI — so they all refuse the same requests with the same
//! field paths: the suite and version resolved, task ids, models (candidate, judge, embedding)
//! resolvable by the gateway, and settings that stored versions may predate.

use assay_domain::api::CreateRunRequest;
use assay_domain::error::index;
use assay_domain::manifest::{similarity_threshold, JudgeConfig, Manifest, Task, TaskType};
use assay_domain::{Principal, ValidationError};
use assay_models::Role;
use assay_store::{NewRun, Reach, Store, StoreError};

use crate::Engine;

/// Why a run request was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdmissionError {
    /// A field of the request cannot run; the path names it.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// A stored suite version that cannot be read back (a server fault).
    #[error("{0}")]
    Corrupt(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AdmissionError {
    fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        AdmissionError::Invalid(ValidationError::new(path, message))
    }
}

/// Why a task cannot run on this server yet, if it cannot.
fn unsupported(manifest: &Manifest, task_ids: Option<&[String]>) -> Option<String> {
    for task in &manifest.tasks {
        if task_ids.is_some_and(|ids| !ids.contains(&task.id)) {
            continue;
        }
        let needs = match task.task_type {
            TaskType::Custom if task.grader.is_none() => Some("a Python grader"),
            _ => None,
        };
        if let Some(needs) = needs {
            return Some(format!(
                "task {} needs {needs}, which this server does not run yet",
                task.id
            ));
        }
    }
    None
}

/// A version of a suite the caller owns, read for writing runs under it.
pub struct OwnedVersion {
    pub suite_id: String,
    /// The version number (the suite's active one when none was named).
    pub number: i64,
    pub version_id: String,
    pub manifest: Manifest,
}

/// Resolves `suite_id` and `suite_version` (default: the active version) for a write: the
/// suite must be the caller's own. A suite reached only through a share is refused at
/// `suite_id` with a message saying so; `action` says what was attempted ("start runs of it").
pub async fn owned_version(
    store: &Store,
    caller: &Principal,
    suite_id: &str,
    suite_version: Option<i64>,
    action: &str,
) -> Result<OwnedVersion, AdmissionError> {
    let suite = match store.get_suite(caller, suite_id).await {
        Ok(s) => s,
        Err(StoreError::NotFound) => {
            let shared = store
                .find_suite(caller, suite_id, Reach::Shared)
                .await
                .is_ok();
            let message = if shared {
                format!(
                    "suite {suite_id} is shared with your org read-only; only its owning team can {action}"
                )
            } else {
                format!("no suite with id {suite_id}")
            };
            return Err(AdmissionError::invalid("suite_id", message));
        }
        Err(e) => return Err(e.into()),
    };
    let number = suite_version.unwrap_or(suite.active_version);
    let version = match store.get_suite_version(caller, &suite.id, number).await {
        Ok(v) => v,
        Err(StoreError::NotFound) => {
            return Err(AdmissionError::invalid(
                "suite_version",
                format!("suite {} has no version {number}", suite.id),
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let manifest = Manifest::from_json(&version.manifest, "manifest")
        .map_err(|e| AdmissionError::Corrupt(format!("stored manifest of {}: {e}", version.id)))?;
    Ok(OwnedVersion {
        suite_id: suite.id,
        number,
        version_id: version.id,
        manifest,
    })
}

/// Checks `req` (already validated on its own) against the suite it names and this server's
/// models, and returns the run to store. The suite must be the caller's own: a suite reached
/// through a share is read-only, so its recipients cannot start runs of it.
pub async fn admit(
    engine: &Engine,
    store: &Store,
    caller: &Principal,
    req: CreateRunRequest,
) -> Result<NewRun, AdmissionError> {
    let OwnedVersion {
        suite_id,
        number,
        version_id,
        manifest,
    } = owned_version(
        store,
        caller,
        &req.suite_id,
        req.suite_version,
        "start runs of it",
    )
    .await?;
    if let Some(ids) = &req.task_ids {
        for (i, id) in ids.iter().enumerate() {
            if manifest.task(id).is_none() {
                return Err(AdmissionError::invalid(
                    index("task_ids", i),
                    format!("version {number} of the suite has no task {id}"),
                ));
            }
        }
    }
    if let Some(reason) = unsupported(&manifest, req.task_ids.as_deref()) {
        let path = if req.task_ids.is_some() {
            "task_ids"
        } else {
            "suite_id"
        };
        return Err(AdmissionError::invalid(path, reason));
    }
    // Candidates transcribe the transcription tasks and generate for the others.
    let selected = |t: &&Task| req.task_ids.as_ref().is_none_or(|ids| ids.contains(&t.id));
    for role in [Role::Generation, Role::Transcription] {
        let used = manifest
            .tasks
            .iter()
            .filter(selected)
            .any(|t| (t.task_type == TaskType::Transcription) == (role == Role::Transcription));
        if !used {
            continue;
        }
        for (i, model) in req.models.iter().enumerate() {
            engine.check_model_for(model, role).map_err(|why| {
                let why = if role == Role::Transcription {
                    format!("the suite's transcription tasks need a transcription model: {why}")
                } else {
                    why
                };
                AdmissionError::invalid(index("models", i), why)
            })?;
        }
    }
    check_grading(engine, &manifest, &req, number)?;
    let settings = req.settings();
    Ok(NewRun {
        suite_id,
        suite_version: number,
        suite_version_id: version_id,
        models: req.models,
        task_ids: req.task_ids,
        judge_model: req.judge_model,
        embedding_model: req.embedding_model,
        generation: req.generation.unwrap_or_default().normalize(),
        settings,
        metadata: req.metadata.unwrap_or_default(),
    })
}

/// The selected model-graded tasks' settings, and the judge / embedding models they need.
fn check_grading(
    engine: &Engine,
    manifest: &Manifest,
    req: &CreateRunRequest,
    number: i64,
) -> Result<(), AdmissionError> {
    let selected = |t: &&Task| req.task_ids.as_ref().is_none_or(|ids| ids.contains(&t.id));
    // A task with a Python grader is scored by it, not by the type's model grading.
    let model_graded = |t: &&Task| t.task_type == TaskType::Embedding || t.grader.is_none();
    let needs = |types: &[TaskType]| {
        manifest
            .tasks
            .iter()
            .filter(selected)
            .filter(model_graded)
            .any(|t| types.contains(&t.task_type))
    };
    // Settings are checked when a suite is created; versions stored before a rule existed are
    // checked again here, so a run never fails every sample on them.
    for (i, task) in manifest.tasks.iter().enumerate() {
        if !selected(&task) || !model_graded(&task) {
            continue;
        }
        let path = format!("manifest.tasks[{i}].metadata");
        let checked = match task.task_type {
            TaskType::LlmJudge => JudgeConfig::from_metadata(task.metadata.as_ref(), &path).err(),
            TaskType::SemanticSimilarity => {
                similarity_threshold(task.metadata.as_ref(), &path).err()
            }
            _ => None,
        };
        if let Some(e) = checked {
            return Err(AdmissionError::invalid(
                "suite_version",
                format!("version {number} of the suite cannot run: {e}"),
            ));
        }
    }
    if needs(&[TaskType::LlmJudge]) {
        let model = req.judge_model.as_deref().unwrap_or("auto");
        engine.check_model_for(model, Role::Judge).map_err(|why| {
            AdmissionError::invalid(
                "judge_model",
                format!("the suite's llm_judge tasks need a judge model: {why}"),
            )
        })?;
    }
    if needs(&[TaskType::SemanticSimilarity, TaskType::Embedding]) {
        let model = req.embedding_model.as_deref().unwrap_or("auto");
        engine
            .check_model_for(model, Role::Embedding)
            .map_err(|why| {
                AdmissionError::invalid(
                    "embedding_model",
                    format!("the suite's semantic_similarity or embedding tasks need an embedding model: {why}"),
                )
            })?;
    }
    Ok(())
}
