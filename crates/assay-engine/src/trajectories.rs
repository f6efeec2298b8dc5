//! Trial trajectories: which sample a `(run, sample_index, task_id?, model?)` address means,
//! and storing or reading that sample's trajectory through it.
//!
//! Uploads are owner-only (a run reached through a share is missing, as for every write);
//! reads also reach runs of suites shared with the caller. An index that matches samples of
//! several tasks or models without `task_id` / `model` to tell them apart is refused, naming
//! the parameter to add: a trajectory is never written to, or read from, a guessed sample.

use assay_domain::api::{
    StoredPayload, TrajectoryObject, TrajectoryPayload, TrajectoryUploadedObject, UploadError,
};
use assay_domain::{Principal, ValidationError};
use assay_store::{NewTrajectory, Reach, SampleKey, SampleMatch, Store, StoreError};
use bytes::Bytes;

/// Where a trajectory lives: a run, a sample index, and the task and model when the index
/// alone is ambiguous.
#[derive(Debug, Clone, Copy)]
pub struct SampleAddress<'a> {
    pub run_id: &'a str,
    pub sample_index: i64,
    pub task_id: Option<&'a str>,
    pub model: Option<&'a str>,
}

/// Why a trajectory could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum TrajectoryError {
    /// A malformed upload, or an index that names several samples (the path names the query
    /// parameter that would tell them apart).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// `steps` and `logs` are over the size limit.
    #[error("{0}")]
    TooLarge(String),
    /// No such run (within reach), sample or trajectory.
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for TrajectoryError {
    fn from(e: StoreError) -> Self {
        TrajectoryError::Store(e)
    }
}

impl From<UploadError> for TrajectoryError {
    fn from(e: UploadError) -> Self {
        match e {
            UploadError::Invalid(v) => TrajectoryError::Invalid(v),
            too_large @ UploadError::TooLarge { .. } => {
                TrajectoryError::TooLarge(too_large.to_string())
            }
        }
    }
}

/// Stores the trajectory in `body` (an upload's JSON body) for the sample `at` names, in a
/// run the caller owns; re-sending replaces it.
pub async fn upload(
    store: &Store,
    caller: &Principal,
    at: SampleAddress<'_>,
    body: &[u8],
) -> Result<TrajectoryUploadedObject, TrajectoryError> {
    let sample = find_sample(store, caller, at, Reach::Owned).await?;
    let payload = TrajectoryPayload::parse(body)?;
    let stored = store
        .put_trajectory(
            &sample,
            NewTrajectory {
                schema_version: payload.schema_version.clone(),
                step_count: payload.step_count,
                size_bytes: payload.size_bytes(),
                payload: Bytes::from(payload.to_blob()),
            },
        )
        .await?;
    Ok(TrajectoryUploadedObject {
        object: "eval.sample.trajectory.uploaded".into(),
        run_id: sample.run_id,
        sample_index: sample.sample_index,
        task_id: sample.task_id,
        model: sample.model,
        step_count: stored.step_count,
        size_bytes: stored.size_bytes,
    })
}

/// The trajectory of the sample `at` names, in a run within the caller's reach (shares
/// included), with `steps` and `logs` as uploaded.
pub async fn fetch(
    store: &Store,
    caller: &Principal,
    at: SampleAddress<'_>,
) -> Result<TrajectoryObject, TrajectoryError> {
    let sample = find_sample(store, caller, at, Reach::Shared).await?;
    let missing = format!(
        "sample {} of task {} and model {} has no trajectory",
        sample.sample_index, sample.task_id, sample.model
    );
    trajectory_of(store, sample)
        .await?
        .ok_or(TrajectoryError::NotFound(missing))
}

/// The trajectory of a sample already found (and its run's reach checked), or `None` when it
/// has none.
pub async fn trajectory_of(
    store: &Store,
    sample: SampleKey,
) -> Result<Option<TrajectoryObject>, TrajectoryError> {
    let Some((record, blob)) = store.read_trajectory(&sample.id).await? else {
        return Ok(None);
    };
    let payload = StoredPayload::from_blob(&blob)
        .map_err(|e| StoreError::Corrupt(format!("trajectory payload {}: {e}", record.blob_key)))?;
    Ok(Some(TrajectoryObject {
        object: "eval.sample.trajectory".into(),
        run_id: sample.run_id,
        sample_index: sample.sample_index,
        task_id: sample.task_id,
        model: sample.model,
        schema_version: record.schema_version,
        step_count: record.step_count,
        size_bytes: record.size_bytes,
        steps: payload.steps,
        logs: payload.logs,
    }))
}

/// The one sample `at` names in a run within `reach`.
pub(crate) async fn find_sample(
    store: &Store,
    caller: &Principal,
    at: SampleAddress<'_>,
    reach: Reach,
) -> Result<SampleKey, TrajectoryError> {
    store
        .find_run(caller, at.run_id, reach)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => {
                TrajectoryError::NotFound(format!("no run with id {}", at.run_id))
            }
            other => other.into(),
        })?;
    match store
        .match_sample(at.run_id, at.sample_index, at.task_id, at.model)
        .await?
    {
        SampleMatch::One(sample) => Ok(sample),
        SampleMatch::Missing => Err(TrajectoryError::NotFound(missing(at))),
        SampleMatch::Several { task_ids, models } => Err(ambiguous(at, &task_ids, &models).into()),
    }
}

fn missing(at: SampleAddress<'_>) -> String {
    let mut text = format!(
        "run {} has no sample with index {}",
        at.run_id, at.sample_index
    );
    if let Some(task_id) = at.task_id {
        text.push_str(&format!(" in task {task_id}"));
    }
    if let Some(model) = at.model {
        text.push_str(&format!(" for model {model}"));
    }
    text
}

/// The 400 for an index that names several samples: it names `task_id` when they span
/// several tasks, else `model`, and lists the values to choose from.
fn ambiguous(at: SampleAddress<'_>, task_ids: &[String], models: &[String]) -> ValidationError {
    let (param, what, values) = if task_ids.len() > 1 {
        ("task_id", "tasks", task_ids)
    } else {
        ("model", "models", models)
    };
    ValidationError::new(
        param,
        format!(
            "is needed: sample index {} of run {} exists in several {what} ({}); pass {param} to pick one",
            at.sample_index,
            at.run_id,
            values.join(", ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> SampleAddress<'static> {
        SampleAddress {
            run_id: "eval_run_x",
            sample_index: 3,
            task_id: None,
            model: None,
        }
    }

    #[test]
    fn ambiguity_names_the_parameter_that_tells_samples_apart() {
        let tasks = ["a".to_string(), "b".to_string()];
        let one_model = ["m".to_string()];
        let e = ambiguous(at(), &tasks, &one_model);
        assert_eq!(e.path, "task_id");
        assert!(e.message.contains("a, b"), "{}", e.message);
        let models = ["m1".to_string(), "m2".to_string()];
        let e = ambiguous(at(), &tasks[..1], &models);
        assert_eq!(e.path, "model");
        assert!(e.message.contains("m1, m2"), "{}", e.message);
        // Several of both: the task comes first; the model is asked for once it is given.
        assert_eq!(ambiguous(at(), &tasks, &models).path, "task_id");
    }

    #[test]
    fn a_missing_sample_is_described_with_its_filters() {
        let text = missing(SampleAddress {
            task_id: Some("t"),
            model: Some("m"),
            ..at()
        });
        assert_eq!(
            text,
            "run eval_run_x has no sample with index 3 in task t for model m"
        );
    }
}
