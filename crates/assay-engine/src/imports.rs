//! Coding-agent imports: a harness job's finished trials written as a run (`POST
//! /imports/agent-run`) or appended to an open one (`POST /runs/{id}/trials`). These are writes,
//! never executions — no executor or workflow sees an imported run.
//!
//! Every trial is checked against the run's suite version (its task exists, its index is not
//! repeated in the request) with its path in the error; the store then writes the batch and
//! recomputes, in the same transaction, the run's counts, spend, per-score summaries and
//! `metrics` — the latter with finalize's own [`metrics_json`], so an imported run and an
//! executed one report metrics one way.

use std::collections::{BTreeMap, HashMap};

use assay_domain::api::{
    phase_seconds, validate_trials, AppendTrialsRequest, ImportAgentRunRequest, RunTokens,
    SampleObject, TrialInput,
};
use assay_domain::error::{field, index};
use assay_domain::manifest::{Manifest, Task};
use assay_domain::{now_unix, Principal, ValidationError};
use assay_store::{
    ImportOutcome, NewImportedRun, NewTrial, RunRecord, RunRefresh, Store, StoreError, TrialWrite,
};
use serde_json::Value;

use crate::admission::{owned_version, AdmissionError, OwnedVersion};
use crate::aggregate::RunAggregates;
use crate::finalize::{metrics_json, Reported};

/// Why an import or append was refused.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A field of the request cannot be written; the path names it.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// A stored suite version that cannot be read back (a server fault).
    #[error("{0}")]
    Corrupt(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AdmissionError> for ImportError {
    fn from(e: AdmissionError) -> Self {
        match e {
            AdmissionError::Invalid(v) => ImportError::Invalid(v),
            AdmissionError::Corrupt(m) => ImportError::Corrupt(m),
            AdmissionError::Store(e) => ImportError::Store(e),
        }
    }
}

/// Rebuilds an imported run's `metrics` and token totals from its stored trials.
struct TrialRefresh {
    tasks: BTreeMap<String, Task>,
    aggregates: RunAggregates,
}

impl RunRefresh for TrialRefresh {
    fn add(&mut self, sample: &SampleObject) {
        self.aggregates.add(sample);
    }

    fn finish(self, _previous: Option<Value>) -> (Option<Value>, RunTokens) {
        let tasks: BTreeMap<String, &Task> =
            self.tasks.iter().map(|(k, v)| (k.clone(), v)).collect();
        let metrics = metrics_json(
            &tasks,
            &self.aggregates,
            &BTreeMap::new(),
            Reported::DeclaredOrSeen,
        );
        (Some(metrics), self.aggregates.totals.tokens())
    }
}

fn refresh_for(manifest: &Manifest) -> TrialRefresh {
    TrialRefresh {
        tasks: manifest
            .tasks
            .iter()
            .map(|t| (t.id.clone(), t.clone()))
            .collect(),
        aggregates: RunAggregates::default(),
    }
}

fn invalid(path: impl Into<String>, message: impl Into<String>) -> ImportError {
    ImportError::Invalid(ValidationError::new(path, message))
}

/// Checks each trial against the version's tasks and resolves its index (an import defaults
/// to the trial's position); an index repeated for one task is refused, never merged.
fn resolve_trials(
    manifest: &Manifest,
    version: i64,
    trials: &[TrialInput],
) -> Result<Vec<NewTrial>, ImportError> {
    let mut seen: HashMap<(&str, i64), usize> = HashMap::new();
    let mut out = Vec::with_capacity(trials.len());
    for (i, t) in trials.iter().enumerate() {
        let path = index("trials", i);
        if manifest.task(&t.task_id).is_none() {
            return Err(invalid(
                field(&path, "task_id"),
                format!("version {version} of the suite has no task {}", t.task_id),
            ));
        }
        let sample_index = t.sample_index.unwrap_or(i as i64);
        if let Some(first) = seen.insert((t.task_id.as_str(), sample_index), i) {
            return Err(invalid(
                field(&path, "sample_index"),
                format!(
                    "task {} index {sample_index} is already given by trials[{first}]; each (task, sample_index) may appear once per request",
                    t.task_id
                ),
            ));
        }
        let phase_timings = t.phase_timings.clone();
        out.push(NewTrial {
            task_id: t.task_id.clone(),
            sample_index,
            status: t.status(),
            prompt: t.prompt.clone().unwrap_or_default(),
            target: t.target.clone(),
            output_text: t.output_text.clone(),
            scores: t.scores.clone().unwrap_or_default(),
            error: t.error.clone(),
            cost_usd: t.cost_usd,
            input_tokens: t.input_tokens,
            output_tokens: t.output_tokens,
            cached_tokens: t.cached_tokens,
            reasoning_tokens: t.reasoning_tokens,
            agent_seconds: phase_timings
                .as_ref()
                .and_then(|p| phase_seconds(p, "agent_execution")),
            phase_timings,
            dataset_row: None,
            extracted_output: None,
            tokens_estimated: false,
        });
    }
    Ok(out)
}

fn task_ids(manifest: &Manifest) -> Vec<String> {
    manifest.tasks.iter().map(|t| t.id.clone()).collect()
}

fn read_manifest(json: &Value, version_id: &str) -> Result<Manifest, ImportError> {
    Manifest::from_json(json, "manifest")
        .map_err(|e| ImportError::Corrupt(format!("stored manifest of {version_id}: {e}")))
}

/// Writes a finished (or, with `finalize: false`, an open) coding-agent run of a suite the
/// caller owns. Returns the run and whether this call created it (`false`: an earlier import
/// with the same `idempotency_key` did).
pub async fn import_agent_run(
    store: &Store,
    caller: &Principal,
    req: ImportAgentRunRequest,
) -> Result<(RunRecord, bool), ImportError> {
    req.validate()?;
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
        "import runs into it",
    )
    .await?;
    let trials = resolve_trials(&manifest, number, req.trials.as_deref().unwrap_or_default())?;
    let run = NewImportedRun {
        suite_id,
        suite_version: number,
        suite_version_id: version_id,
        model: req.model,
        agent_name: Some(req.agent_name),
        agent_version: req.agent_version,
        agent_effort: req.agent_effort,
        reported_cost_usd: req.cost_usd,
        created_at: req.created_at.unwrap_or_else(now_unix),
        metadata: req.metadata.unwrap_or_default(),
        idempotency_key: req.idempotency_key,
        expected_trials: req.expected_trials,
    };
    let version_tasks = task_ids(&manifest);
    let write = TrialWrite {
        version_tasks: &version_tasks,
        finalize: req.finalize.unwrap_or(true),
    };
    match store
        .write_imported_run(caller, &run, &trials, write, refresh_for(&manifest))
        .await?
    {
        ImportOutcome::Created(run) => Ok((run, true)),
        ImportOutcome::Existing(run) => Ok((run, false)),
    }
}

/// Upserts trials into an open imported run the caller owns (`sample_index` required), and
/// completes it when `finalize` is set. A completed or cancelled run, or one Assay executes,
/// is a `Conflict`.
pub async fn append_trials(
    store: &Store,
    caller: &Principal,
    run_id: &str,
    req: AppendTrialsRequest,
) -> Result<RunRecord, ImportError> {
    let trials = req.trials.unwrap_or_default();
    validate_trials(&trials, true)?;
    let run = store.get_run(caller, run_id).await?;
    let json = store
        .suite_version_manifest(&run.object.suite_version_id)
        .await?;
    let manifest = read_manifest(&json, &run.object.suite_version_id)?;
    let trials = resolve_trials(&manifest, run.object.suite_version, &trials)?;
    let version_tasks = task_ids(&manifest);
    let write = TrialWrite {
        version_tasks: &version_tasks,
        finalize: req.finalize.unwrap_or(false),
    };
    Ok(store
        .append_trials(caller, run_id, &trials, write, refresh_for(&manifest))
        .await?)
}
