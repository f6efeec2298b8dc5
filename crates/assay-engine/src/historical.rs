//! Historical results import (`POST /evals/imports/huggingface-results`): lm-evaluation-harness
//! output kept in a Hugging Face dataset repository, written as completed runs.
//!
//! One call:
//! 1. resolves the revision to a commit and lists the repository with the **caller's** token
//!    (the `X-HuggingFace-Token` header; it goes to the Hub only and is never stored or
//!    logged — the server's own Hub token is not used here);
//! 2. takes the results files (`…/results_<timestamp>.json`) named in `source.files`, else
//!    those under `path_prefix`, in path order; a file whose bytes an earlier import of the
//!    caller's team already wrote is skipped at once (the sha256 of the results file is the
//!    run's idempotency key) and does not count toward `limit_files`;
//! 3. reads each remaining results file with the samples files lm-eval wrote beside it
//!    (`samples_<task>_<timestamp>.jsonl`, `--log_samples`) through [`assay_lmeval`], which
//!    recomputes every aggregate from the samples; files that cannot be read, lack samples
//!    or (with `create_missing_tasks: false`) share no task with the suite are skipped with
//!    the reason in the response;
//! 4. unless `dry_run`: creates the suite (or, without `suite_id`, reuses the team's newest
//!    suite of that name), appends the tasks it lacks as one new active version, and writes
//!    each results file as one completed run — its samples, and `metrics` from them.
//!
//! An imported task's dataset is the Hub dataset lm-eval read when it names one (`owner/name`
//! or a canonical `name`, without `data_files`); otherwise (local files, a packaged loader
//! such as `json`) the documents lm-eval logged are stored as a JSONL file of the caller's and
//! the task reads that. Its metrics are lm-eval's (`metric`, or `metric,filter` under a
//! filter other than `none`); the run's `metrics` recompute means and standard errors from
//! the samples, and carry lm-eval's task-level number for metrics it does not average (corpus
//! BLEU, perplexities) with its reported standard error. Each `by_model` task entry names its
//! `primary_metric` — lm-eval's first metric under its first filter — for boards to rank by.
//! Token figures are counted from the text at import (`tokens_estimated`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use assay_domain::api::{
    validate_hf_token, HistoricalFileStatus, HistoricalImportFile, HistoricalImportObject,
    HistoricalImportPlan, HistoricalImportSourceObject, ImportHistoricalResultsRequest, RunTokens,
    SampleObject, TrialStatus, HF_TOKEN_HEADER,
};
use assay_domain::manifest::{is_hub_repo_id, validate_manifest, Task};
use assay_domain::{ids, now_unix, Principal, ValidationError};
use assay_hub::{ClientOptions, HubClient, HubConfig, HubError, Missing, RepoFile};
use assay_lmeval::layout::{find_samples, is_results_file};
use assay_lmeval::recompute::{Outcome, Quantity};
use assay_lmeval::{
    import_run, AssayAggregation, ImportIdentity, ImportedRun, ImportedTask, ResultsFile,
    SourceFile,
};
use assay_models::tokens::estimate_usage;
use assay_store::{
    ImportOutcome, NewFile, NewImportedRun, NewSuite, NewTrial, NewVersion, RunRefresh, Store,
    StoreError, TrialWrite,
};
use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::admission::{owned_version, AdmissionError};
use crate::aggregate::RunAggregates;
use crate::finalize::{metrics_json, Reported};

/// The largest results file read.
pub const MAX_RESULTS_FILE_BYTES: u64 = 64 << 20;
/// The largest samples file read.
pub const MAX_SAMPLES_FILE_BYTES: u64 = 512 << 20;
/// What one call downloads at most; the files after it are left for the next call.
pub const MAX_CALL_BYTES: u64 = 2 << 30;

/// Loaders of the `datasets` library that read files rather than a Hub dataset: an lm-eval
/// task naming one as its `dataset_path` read local or remote files.
const PACKAGED_LOADERS: [&str; 9] = [
    "json",
    "csv",
    "parquet",
    "text",
    "arrow",
    "pandas",
    "sql",
    "webdataset",
    "imagefolder",
];

/// Where historical imports read from: the configured Hub endpoint. Every import brings its
/// caller's token.
#[derive(Debug, Clone)]
pub struct ResultsHub {
    endpoint: String,
    options: ClientOptions,
}

impl ResultsHub {
    /// Imports read from the Hub at `endpoint` (`[huggingface] endpoint`), with the default
    /// timeouts and retries.
    pub fn new(endpoint: impl Into<String>) -> Self {
        Self::with_options(endpoint, ClientOptions::default())
    }

    /// Imports read from the Hub at `endpoint` with these timeouts and retries.
    pub fn with_options(endpoint: impl Into<String>, options: ClientOptions) -> Self {
        ResultsHub {
            endpoint: endpoint.into(),
            options,
        }
    }

    fn client(&self, token: &str) -> Result<HubClient, HistoricalImportError> {
        let config = HubConfig {
            endpoint: self.endpoint.clone(),
            token: Some(token.to_string()),
        };
        HubClient::with_options(&config, self.options.clone()).map_err(|e| {
            HistoricalImportError::Corrupt(format!("the Hugging Face endpoint is unusable: {e}"))
        })
    }
}

/// Why an import was refused or stopped.
#[derive(Debug, thiserror::Error)]
pub enum HistoricalImportError {
    /// A field (or the token header) that cannot work; the path names it.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The Hub could not be reached or kept failing; nothing was written.
    #[error("{0}")]
    Unavailable(String),
    /// A server fault (a stored manifest that does not read back, an unusable endpoint).
    #[error("{0}")]
    Corrupt(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AdmissionError> for HistoricalImportError {
    fn from(e: AdmissionError) -> Self {
        match e {
            AdmissionError::Invalid(v) => HistoricalImportError::Invalid(v),
            AdmissionError::Corrupt(m) => HistoricalImportError::Corrupt(m),
            AdmissionError::Store(e) => HistoricalImportError::Store(e),
        }
    }
}

fn invalid(path: &str, message: impl Into<String>) -> HistoricalImportError {
    HistoricalImportError::Invalid(ValidationError::new(path, message))
}

/// A Hub failure while resolving or listing the source, named at the field to check.
fn source_error(e: HubError) -> HistoricalImportError {
    match e {
        HubError::NotFound {
            repo,
            missing: Missing::Repo,
            ..
        } => invalid(
            "source.repo",
            format!(
                "dataset repository `{repo}` was not found on the Hub, or it is private and the {HF_TOKEN_HEADER} token cannot read it"
            ),
        ),
        HubError::NotFound {
            repo,
            missing: Missing::Revision(revision),
            ..
        } => invalid(
            "source.revision",
            format!("dataset repository `{repo}` has no revision `{revision}`"),
        ),
        HubError::Unauthorized { repo, .. } => invalid(
            HF_TOKEN_HEADER,
            format!(
                "the Hub rejected the token (401) for dataset repository `{repo}`; check that it is a valid Hugging Face token"
            ),
        ),
        HubError::Forbidden { repo } => invalid(
            HF_TOKEN_HEADER,
            format!(
                "the token's account may not read dataset repository `{repo}` (403); use a token with read access to it"
            ),
        ),
        HubError::Unavailable { .. } => HistoricalImportError::Unavailable(format!(
            "{e}; nothing was imported, try again later"
        )),
        other => invalid("source", other.to_string()),
    }
}

/// One results file read and ready to write.
struct Pending {
    /// Index into the response's `files`.
    entry: usize,
    run: ImportedRun,
}

/// The suite imported into, as found before anything is written.
struct TargetSuite {
    suite_id: String,
    version: i64,
    latest_version: i64,
    version_id: String,
    manifest: Value,
    task_ids: Vec<String>,
}

/// Imports lm-evaluation-harness results from the Hub for `caller` (see the module docs).
/// `token` is the `X-HuggingFace-Token` header's value, if any.
pub async fn import_historical_results(
    store: &Store,
    hub: &ResultsHub,
    caller: &Principal,
    token: Option<&str>,
    req: ImportHistoricalResultsRequest,
) -> Result<HistoricalImportObject, HistoricalImportError> {
    let token = validate_hf_token(token)?;
    let plan = req.plan()?;
    let target = target_suite(store, caller, &plan).await?;

    let client = hub.client(&token)?;
    let commit = client
        .resolve_revision(&plan.repo, Some(&plan.revision), None)
        .await
        .map_err(source_error)?;
    let listing = client
        .list_files(&plan.repo, &commit)
        .await
        .map_err(source_error)?;
    let candidates = candidates(&plan, &listing)?;

    let mut files: Vec<HistoricalImportFile> = Vec::new();
    let mut pending: Vec<Pending> = Vec::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut counted = 0usize;
    let mut downloaded = 0u64;
    for file in &candidates {
        let mut entry = HistoricalImportFile {
            path: file.path.clone(),
            status: HistoricalFileStatus::Skipped,
            run_id: None,
            model: None,
            samples: 0,
            notes: Vec::new(),
        };
        if plan.limit_files.is_some_and(|limit| counted >= limit) {
            break;
        }
        if downloaded >= MAX_CALL_BYTES {
            entry.notes.push(format!(
                "not read: this call already downloaded {} MiB; import again to continue",
                downloaded >> 20
            ));
            files.push(entry);
            continue;
        }
        let results = match client
            .read_file(
                &plan.repo,
                &commit,
                &file.path,
                Some(file.size),
                MAX_RESULTS_FILE_BYTES,
            )
            .await
        {
            Ok(bytes) => bytes,
            Err(e) => {
                skip_or_stop(&mut entry, e)?;
                counted += 1;
                files.push(entry);
                continue;
            }
        };
        downloaded += results.len() as u64;
        let identity = ImportIdentity::of(&results);
        if let Some(run) = store.run_by_idempotency_key(caller, &identity.key).await? {
            entry.run_id = Some(run.object.id.clone());
            entry.model = run.object.models.first().cloned();
            entry.notes.push(format!(
                "already imported as run {} (same results file bytes)",
                run.object.id
            ));
            files.push(entry);
            continue;
        }
        if let Some(first) = seen.get(&identity.key) {
            entry
                .notes
                .push(format!("the same results file as {first}; imported once"));
            files.push(entry);
            continue;
        }
        seen.insert(identity.key.clone(), file.path.clone());
        counted += 1;
        match read_run(
            &client,
            &plan,
            &commit,
            &listing,
            file,
            &results,
            &mut downloaded,
        )
        .await?
        {
            Ok(run) => {
                entry.model = Some(run.model.clone());
                entry.notes.extend(run_notes(&run));
                pending.push(Pending {
                    entry: files.len(),
                    run,
                });
            }
            Err(reason) => entry.notes.push(reason),
        }
        files.push(entry);
    }

    // The tasks the suite gains, or (without create_missing_tasks) what each run keeps.
    let mut new_tasks: Vec<ImportedTask> = Vec::new();
    let mut kept = Vec::new();
    for mut p in pending {
        let known = |id: &str| {
            target
                .as_ref()
                .is_some_and(|t| t.task_ids.iter().any(|k| k == id))
        };
        if plan.create_missing_tasks {
            for task in &p.run.tasks {
                if !known(&task.id) && !new_tasks.iter().any(|t| t.id == task.id) {
                    new_tasks.push(task.clone());
                }
            }
        } else {
            let dropped: Vec<String> = p
                .run
                .tasks
                .iter()
                .filter(|t| !known(&t.id))
                .map(|t| t.id.clone())
                .collect();
            if !dropped.is_empty() {
                restrict(&mut p.run, &dropped);
                let entry = &mut files[p.entry];
                if p.run.tasks.is_empty() {
                    entry.notes.push(format!(
                        "skipped: the suite has none of its tasks ({}) and create_missing_tasks is false",
                        dropped.join(", ")
                    ));
                    continue;
                }
                entry.notes.push(format!(
                    "tasks not in the suite left out (create_missing_tasks is false): {}",
                    dropped.join(", ")
                ));
            }
        }
        kept.push(p);
    }

    let created_suite = target.is_none();
    let created_suite_version = target.is_some() && !new_tasks.is_empty();
    let source = HistoricalImportSourceObject {
        source_type: "huggingface".into(),
        repo: plan.repo.clone(),
        revision: plan.revision.clone(),
        commit: commit.clone(),
    };
    let discovered_files = candidates.len() as i64;

    if plan.dry_run || kept.is_empty() {
        let (suite_id, suite_version) = match &target {
            Some(t) if created_suite_version && plan.dry_run => {
                (t.suite_id.clone(), t.latest_version + 1)
            }
            Some(t) => (t.suite_id.clone(), t.version),
            None if plan.dry_run && !kept.is_empty() => (String::new(), 1),
            None => (String::new(), 0),
        };
        let mut imported_samples = 0;
        for p in &kept {
            let entry = &mut files[p.entry];
            entry.status = HistoricalFileStatus::WouldImport;
            entry.samples = p.run.samples.len() as i64;
            imported_samples += entry.samples;
        }
        let would = plan.dry_run && !kept.is_empty();
        return Ok(summary(
            source,
            suite_id,
            suite_version,
            would && created_suite,
            would && created_suite_version,
            plan.dry_run,
            discovered_files,
            files,
            if plan.dry_run { kept.len() as i64 } else { 0 },
            imported_samples,
        ));
    }

    // Writes: the tasks' document files, the suite (version), then one run per results file.
    let mut task_json = Vec::new();
    let mut dataset_file_ids = Vec::new();
    for task in &new_tasks {
        let docs = kept
            .iter()
            .find(|p| p.run.tasks.iter().any(|t| t.id == task.id))
            .map(|p| &p.run);
        let (json, file_id) = manifest_task(store, caller, task, docs).await?;
        task_json.push(json);
        dataset_file_ids.extend(file_id);
    }
    let (suite_id, suite_version, version_id) = match &target {
        None => {
            let manifest = json!({"tasks": task_json});
            check_manifest(&manifest)?;
            let suite = store
                .create_suite(
                    caller,
                    &NewSuite {
                        name: plan.suite_name.clone(),
                        description: plan.suite_description.clone(),
                        metadata: BTreeMap::from([(
                            "source".to_string(),
                            "lm-eval-harness".to_string(),
                        )]),
                    },
                    &NewVersion {
                        manifest,
                        dataset_file_ids,
                        metadata: Default::default(),
                    },
                )
                .await?;
            let version = store.get_suite_version(caller, &suite.id, 1).await?;
            (suite.id, 1, version.id)
        }
        Some(t) if !new_tasks.is_empty() => {
            let mut manifest = t.manifest.clone();
            match manifest.get_mut("tasks").and_then(Value::as_array_mut) {
                Some(tasks) => tasks.extend(task_json),
                None => {
                    return Err(HistoricalImportError::Corrupt(format!(
                        "stored manifest of {} has no tasks array",
                        t.version_id
                    )))
                }
            }
            check_manifest(&manifest)?;
            let mut file_ids = file_ids_of(store, caller, &t.suite_id, t.version).await?;
            for id in dataset_file_ids {
                if !file_ids.contains(&id) {
                    file_ids.push(id);
                }
            }
            let version = store
                .create_suite_version(
                    caller,
                    &t.suite_id,
                    &NewVersion {
                        manifest,
                        dataset_file_ids: file_ids,
                        metadata: BTreeMap::from([(
                            "source".to_string(),
                            "lm-eval-harness import".to_string(),
                        )]),
                    },
                    true,
                )
                .await?;
            (t.suite_id.clone(), version.version, version.id)
        }
        Some(t) => (t.suite_id.clone(), t.version, t.version_id.clone()),
    };
    let stored = store.suite_version_manifest(&version_id).await?;
    let manifest =
        assay_domain::manifest::Manifest::from_json(&stored, "manifest").map_err(|e| {
            HistoricalImportError::Corrupt(format!("stored manifest of {version_id}: {e}"))
        })?;
    let version_tasks: Vec<String> = manifest.tasks.iter().map(|t| t.id.clone()).collect();

    let mut imported_runs = 0;
    let mut imported_samples = 0;
    for p in kept {
        let entry = &mut files[p.entry];
        let run = &p.run;
        let mut metadata = run.metadata.clone();
        metadata.insert("source".into(), "lm-eval-harness".into());
        metadata.insert("lm_eval.hub_repo".into(), plan.repo.clone());
        metadata.insert("lm_eval.hub_commit".into(), commit.clone());
        metadata.extend(plan.metadata.clone());
        let new_run = NewImportedRun {
            suite_id: suite_id.clone(),
            suite_version,
            suite_version_id: version_id.clone(),
            model: run.model.clone(),
            agent_name: None,
            agent_version: None,
            agent_effort: None,
            reported_cost_usd: None,
            created_at: run
                .date
                .filter(|d| d.is_finite() && *d > 0.0)
                .map(|d| d as i64)
                .unwrap_or_else(now_unix),
            metadata,
            idempotency_key: Some(run.identity.key.clone()),
            expected_trials: None,
        };
        let trials = trials_of(run);
        let refresh = HistoricalRefresh::new(&manifest.tasks, run);
        let write = TrialWrite {
            version_tasks: &version_tasks,
            finalize: true,
        };
        match store
            .write_imported_run(caller, &new_run, &trials, write, refresh)
            .await?
        {
            ImportOutcome::Created(record) => {
                entry.status = HistoricalFileStatus::Imported;
                entry.run_id = Some(record.object.id);
                entry.samples = trials.len() as i64;
                imported_runs += 1;
                imported_samples += entry.samples;
            }
            ImportOutcome::Existing(record) => {
                entry.notes.push(format!(
                    "already imported as run {} (by a concurrent import)",
                    record.object.id
                ));
                entry.run_id = Some(record.object.id);
            }
        }
    }
    Ok(summary(
        source,
        suite_id,
        suite_version,
        created_suite,
        created_suite_version,
        false,
        discovered_files,
        files,
        imported_runs,
        imported_samples,
    ))
}

#[allow(clippy::too_many_arguments)]
fn summary(
    source: HistoricalImportSourceObject,
    suite_id: String,
    suite_version: i64,
    created_suite: bool,
    created_suite_version: bool,
    dry_run: bool,
    discovered_files: i64,
    files: Vec<HistoricalImportFile>,
    imported_runs: i64,
    imported_samples: i64,
) -> HistoricalImportObject {
    let skipped_runs = files
        .iter()
        .filter(|f| f.status == HistoricalFileStatus::Skipped)
        .count() as i64;
    HistoricalImportObject {
        object: "eval.import".into(),
        source,
        suite_id,
        suite_version,
        created_suite,
        created_suite_version,
        dry_run,
        discovered_files,
        imported_runs,
        skipped_runs,
        imported_samples,
        files,
    }
}

/// The suite named by `suite_id` (which the caller must own), else the team's newest suite
/// named `suite_name`; `None` when it is to be created. Its active version is the base.
async fn target_suite(
    store: &Store,
    caller: &Principal,
    plan: &HistoricalImportPlan,
) -> Result<Option<TargetSuite>, HistoricalImportError> {
    let suite_id = match &plan.suite_id {
        Some(id) => id.clone(),
        None => match store
            .newest_owned_suite_named(caller, &plan.suite_name)
            .await?
        {
            Some(suite) => suite.id,
            None => return Ok(None),
        },
    };
    let version = owned_version(store, caller, &suite_id, None, "import results into it").await?;
    let suite = store.get_suite(caller, &suite_id).await?;
    let manifest = store.suite_version_manifest(&version.version_id).await?;
    Ok(Some(TargetSuite {
        suite_id: version.suite_id,
        version: version.number,
        latest_version: suite.latest_version,
        version_id: version.version_id,
        task_ids: version
            .manifest
            .tasks
            .iter()
            .map(|t| t.id.clone())
            .collect(),
        manifest,
    }))
}

async fn file_ids_of(
    store: &Store,
    caller: &Principal,
    suite_id: &str,
    version: i64,
) -> Result<Vec<String>, HistoricalImportError> {
    Ok(store
        .get_suite_version(caller, suite_id, version)
        .await?
        .dataset_file_ids)
}

/// The results files to look at, in order.
fn candidates(
    plan: &HistoricalImportPlan,
    listing: &[RepoFile],
) -> Result<Vec<RepoFile>, HistoricalImportError> {
    match &plan.files {
        Some(files) => files
            .iter()
            .enumerate()
            .map(|(i, path)| {
                let at = format!("source.files[{i}]");
                if !is_results_file(path) {
                    return Err(invalid(
                        &at,
                        format!(
                            "{path} is not an lm-eval results file (`results_<timestamp>.json`)"
                        ),
                    ));
                }
                listing
                    .iter()
                    .find(|f| &f.path == path)
                    .cloned()
                    .ok_or_else(|| {
                        invalid(
                            &at,
                            format!(
                                "{path} is not in dataset repository `{}` at revision `{}`",
                                plan.repo, plan.revision
                            ),
                        )
                    })
            })
            .collect(),
        None => {
            let prefix = plan.path_prefix.as_deref().unwrap_or("");
            let mut found: Vec<RepoFile> = listing
                .iter()
                .filter(|f| f.path.starts_with(prefix) && is_results_file(&f.path))
                .cloned()
                .collect();
            found.sort_by(|a, b| a.path.cmp(&b.path));
            Ok(found)
        }
    }
}

/// Notes a file that could not be read and goes on; a Hub outage stops the import.
fn skip_or_stop(
    entry: &mut HistoricalImportFile,
    e: HubError,
) -> Result<(), HistoricalImportError> {
    if e.is_transient() {
        return Err(HistoricalImportError::Unavailable(format!(
            "{e}; nothing was imported, try again later"
        )));
    }
    entry.notes.push(format!("skipped: {e}"));
    Ok(())
}

/// Reads a results file's samples files and the run they make; `Ok(Err(reason))` when the
/// file is skipped.
async fn read_run(
    client: &HubClient,
    plan: &HistoricalImportPlan,
    commit: &str,
    listing: &[RepoFile],
    file: &RepoFile,
    results: &[u8],
    downloaded: &mut u64,
) -> Result<Result<ImportedRun, String>, HistoricalImportError> {
    let parsed = match ResultsFile::parse(&file.path, results) {
        Ok(r) => r,
        Err(e) => return Ok(Err(format!("skipped: {e}"))),
    };
    let samples = find_samples(
        &file.path,
        parsed.model_name.as_deref(),
        parsed.model_name_sanitized.as_deref(),
        listing.iter().map(|f| f.path.as_str()),
    );
    if samples.is_empty() {
        return Ok(Err(
            "skipped: no samples files beside it (lm-eval writes them with --log_samples); aggregates are recomputed from samples, so results alone are not imported".into(),
        ));
    }
    let mut contents: Vec<(String, Vec<u8>)> = Vec::new();
    for path in samples.values() {
        let size = listing.iter().find(|f| f.path == *path).map(|f| f.size);
        match client
            .read_file(&plan.repo, commit, path, size, MAX_SAMPLES_FILE_BYTES)
            .await
        {
            Ok(bytes) => {
                *downloaded += bytes.len() as u64;
                contents.push((path.to_string(), bytes));
            }
            Err(e) if e.is_transient() => {
                return Err(HistoricalImportError::Unavailable(format!(
                    "{e}; nothing was imported, try again later"
                )))
            }
            Err(e) => return Ok(Err(format!("skipped: {e}"))),
        }
    }
    let sources: Vec<SourceFile<'_>> = contents
        .iter()
        .map(|(path, bytes)| SourceFile { path, bytes })
        .collect();
    let run = match import_run(
        SourceFile {
            path: &file.path,
            bytes: results,
        },
        &sources,
    ) {
        Ok(run) => run,
        Err(e) => return Ok(Err(format!("skipped: {e}"))),
    };
    if run.tasks.is_empty() {
        return Ok(Err(
            "skipped: none of its tasks has a samples file beside it".into(),
        ));
    }
    Ok(Ok(run))
}

/// What is worth telling about a run read: tasks without samples, and numbers of the results
/// file that the samples do not reproduce (the recomputed ones are stored).
fn run_notes(run: &ImportedRun) -> Vec<String> {
    let mut notes = Vec::new();
    if !run.tasks_without_samples.is_empty() {
        notes.push(format!(
            "tasks without a samples file, not imported: {}",
            run.tasks_without_samples.join(", ")
        ));
    }
    for check in run.verification.differences() {
        let what = match check.quantity {
            Quantity::Value => format!("`{},{}`", check.metric, check.filter),
            Quantity::Stderr => format!("`{}_stderr,{}`", check.metric, check.filter),
            Quantity::Documents => "document count".to_string(),
        };
        let how = match &check.outcome {
            Outcome::Differs(d) => format!("differs by {d:e} from the samples'"),
            Outcome::MissingFromSamples => "has no values in the samples".into(),
            Outcome::MissingFromResults => "is in the samples but not the results file".into(),
            _ => continue,
        };
        notes.push(format!(
            "task {}: {what} {how}; the value recomputed from the samples is stored",
            check.task
        ));
    }
    notes.extend(run.warnings.iter().cloned());
    notes
}

/// Drops `tasks` (ids) from a run read, with their samples and aggregates.
fn restrict(run: &mut ImportedRun, tasks: &[String]) {
    run.tasks.retain(|t| !tasks.contains(&t.id));
    run.samples.retain(|s| !tasks.contains(&s.task_id));
    run.aggregates.retain(|a| !tasks.contains(&a.task_id));
}

fn check_manifest(manifest: &Value) -> Result<(), HistoricalImportError> {
    validate_manifest(manifest, "manifest")
        .map(|_| ())
        .map_err(|e| {
            HistoricalImportError::Corrupt(format!(
                "the suite version made for the imported tasks does not validate: {e}"
            ))
        })
}

/// Whether lm-eval read `task`'s documents from a Hub dataset Assay can read too.
fn hub_dataset(task: &ImportedTask) -> Option<&str> {
    let path = task.dataset.path.as_deref()?;
    (task.dataset.data_files.is_none() && is_hub_repo_id(path) && !PACKAGED_LOADERS.contains(&path))
        .then_some(path)
}

/// An imported task as a manifest task (and the id of the documents file it reads, when
/// one was written).
async fn manifest_task(
    store: &Store,
    caller: &Principal,
    task: &ImportedTask,
    run: Option<&ImportedRun>,
) -> Result<(Value, Option<String>), HistoricalImportError> {
    let (dataset, file_id) = match hub_dataset(task) {
        Some(path) => {
            let mut d = json!({"source": "huggingface", "path": path});
            for (key, value) in [
                ("name", &task.dataset.name),
                ("split", &task.dataset.split),
                ("revision", &task.dataset.revision),
            ] {
                if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                    d[key] = json!(v);
                }
            }
            (d, None)
        }
        None => {
            let id = write_documents(store, caller, task, run).await?;
            (
                json!({"source": "file", "file_id": id, "format": "jsonl"}),
                Some(id),
            )
        }
    };
    let builtin = task
        .metrics
        .iter()
        .all(|m| assay_scoring::metrics::builtin(&m.id).is_some());
    let task_type = if builtin {
        task.task_type.as_str()
    } else {
        "custom"
    };
    let metrics: Vec<Value> = task
        .metrics
        .iter()
        .map(|m| {
            json!({
                "id": m.id,
                "aggregation": match m.aggregation { AssayAggregation::Mean => "mean", AssayAggregation::None => "none" },
                "higher_is_better": m.higher_is_better,
                "description": format!("lm-eval `{}` under filter `{}` (lm-eval aggregation: {})", m.metric, m.filter, m.lm_eval_aggregation),
            })
        })
        .collect();
    let mut metadata = task.metadata.clone();
    if let Some(primary) = &task.primary_metric {
        metadata.insert("primary_metric".into(), json!(primary));
    }
    metadata.insert(
        "lm_eval_dataset".into(),
        serde_json::to_value(&task.dataset).unwrap_or(Value::Null),
    );
    if let Some(t) = &task.prompt_template {
        metadata.insert("lm_eval_doc_to_text".into(), json!(t));
    }
    if let Some(t) = &task.target_template {
        metadata.insert("lm_eval_doc_to_target".into(), json!(t));
    }
    let mut out = json!({
        "id": task.id,
        "type": task_type,
        "dataset": dataset,
        "metrics": metrics,
        "metadata": metadata,
    });
    if let Some(name) = &task.name {
        out["name"] = json!(name);
    }
    if let Some(n) = task.num_fewshot.filter(|n| *n <= 100) {
        out["num_fewshot"] = json!(n);
    }
    Ok((out, file_id))
}

/// Stores the documents lm-eval logged for `task` (one JSON object per line, by `doc_id`) as
/// a file of the caller's; returns its id.
async fn write_documents(
    store: &Store,
    caller: &Principal,
    task: &ImportedTask,
    run: Option<&ImportedRun>,
) -> Result<String, HistoricalImportError> {
    let mut body = Vec::new();
    for sample in run
        .into_iter()
        .flat_map(|r| r.samples.iter())
        .filter(|s| s.task_id == task.id)
    {
        let row = sample.dataset_row.clone().unwrap_or_default();
        serde_json::to_writer(&mut body, &Value::Object(row)).map_err(|e| {
            HistoricalImportError::Corrupt(format!("documents of {}: {e}", task.id))
        })?;
        body.push(b'\n');
    }
    let id = ids::new_id(ids::FILE);
    let key = format!("files/{id}");
    let put = store.blobs().put_bytes(&key, Bytes::from(body)).await?;
    store
        .insert_file(
            caller,
            &NewFile {
                id: id.clone(),
                filename: format!("{}.lm-eval-docs.jsonl", task.id),
                purpose: assay_domain::api::FilePurpose::Evals,
                bytes: put.bytes as i64,
                sha256: put.sha256,
                content_type: "application/jsonl".into(),
                blob_key: key,
            },
        )
        .await?;
    Ok(id)
}

/// A run read's samples as trials: numeric per-sample values as scores (lm-eval's items for
/// corpus metrics are not scores), tokens counted from the text.
fn trials_of(run: &ImportedRun) -> Vec<NewTrial> {
    run.samples
        .iter()
        .map(|s| {
            let scores: BTreeMap<String, f64> = s
                .scores
                .iter()
                .filter_map(|(k, v)| {
                    assay_lmeval::number(v)
                        .filter(|x| x.is_finite())
                        .map(|x| (k.clone(), x))
                })
                .collect();
            let output = s.output_text.as_deref().unwrap_or("");
            let usage = estimate_usage(None, &s.prompt, output, None);
            NewTrial {
                task_id: s.task_id.clone(),
                sample_index: i64::try_from(s.index).unwrap_or(i64::MAX),
                status: TrialStatus::Completed,
                prompt: s.prompt.clone(),
                target: s.target.clone(),
                output_text: s.output_text.clone(),
                scores,
                error: None,
                cost_usd: None,
                input_tokens: i64::try_from(usage.input_tokens).ok(),
                output_tokens: i64::try_from(usage.output_tokens).ok(),
                cached_tokens: None,
                reasoning_tokens: None,
                phase_timings: None,
                agent_seconds: None,
                dataset_row: s.dataset_row.clone(),
                extracted_output: s.extracted_output.clone(),
                tokens_estimated: true,
            }
        })
        .collect()
}

/// Rebuilds an imported lm-eval run's `metrics` from its stored samples, with lm-eval's
/// task-level numbers for the metrics it does not average.
struct HistoricalRefresh {
    tasks: BTreeMap<String, Task>,
    aggregates: RunAggregates,
    model: String,
    /// (task, key) → (value, stderr, lm-eval aggregation) of each metric lm-eval does not
    /// average.
    task_level: BTreeMap<(String, String), (f64, Option<f64>, String)>,
    primary: BTreeMap<String, String>,
}

impl HistoricalRefresh {
    fn new(tasks: &[Task], run: &ImportedRun) -> Self {
        let averaged: BTreeSet<(String, String)> = run
            .tasks
            .iter()
            .flat_map(|t| {
                t.metrics
                    .iter()
                    .filter(|m| m.aggregation == AssayAggregation::Mean)
                    .map(|m| (t.id.clone(), m.id.clone()))
            })
            .collect();
        let task_level = run
            .aggregates
            .iter()
            .filter(|a| !averaged.contains(&(a.task_id.clone(), a.key.clone())))
            .filter_map(|a| {
                Some((
                    (a.task_id.clone(), a.key.clone()),
                    (a.value?, a.stderr, a.aggregation.clone()),
                ))
            })
            .collect();
        HistoricalRefresh {
            tasks: tasks.iter().map(|t| (t.id.clone(), t.clone())).collect(),
            aggregates: RunAggregates::default(),
            model: run.model.clone(),
            task_level,
            primary: run
                .tasks
                .iter()
                .filter_map(|t| Some((t.id.clone(), t.primary_metric.clone()?)))
                .collect(),
        }
    }
}

impl RunRefresh for HistoricalRefresh {
    fn add(&mut self, sample: &SampleObject) {
        self.aggregates.add(sample);
    }

    fn finish(self, _previous: Option<Value>) -> (Option<Value>, RunTokens) {
        let tasks: BTreeMap<String, &Task> =
            self.tasks.iter().map(|(k, v)| (k.clone(), v)).collect();
        let mut whole_task: BTreeMap<(String, String), Map<String, Value>> = BTreeMap::new();
        for ((task, key), (value, _, _)) in &self.task_level {
            whole_task
                .entry((self.model.clone(), task.clone()))
                .or_default()
                .insert(key.clone(), json!(value));
        }
        let mut metrics = metrics_json(
            &tasks,
            &self.aggregates,
            &whole_task,
            Reported::DeclaredOrSeen,
        );
        if let Some(per_task) = metrics
            .pointer_mut(&format!("/by_model/{}", pointer_escape(&self.model)))
            .and_then(Value::as_object_mut)
        {
            for (task, entry) in per_task.iter_mut() {
                if let Some(primary) = self.primary.get(task) {
                    entry["primary_metric"] = json!(primary);
                }
                for ((t, key), (_, stderr, aggregation)) in &self.task_level {
                    if t != task {
                        continue;
                    }
                    if let Some(m) = entry
                        .get_mut("metrics")
                        .and_then(|m| m.get_mut(key))
                        .and_then(Value::as_object_mut)
                    {
                        m.insert("stderr".into(), json!(stderr));
                        m.insert("lm_eval_aggregation".into(), json!(aggregation));
                    }
                }
            }
        }
        (Some(metrics), self.aggregates.totals.tokens())
    }
}

/// `s` escaped as one JSON-pointer segment.
fn pointer_escape(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}
