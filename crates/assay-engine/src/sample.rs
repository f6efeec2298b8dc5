//! The sample stage: generate → extract → score for each sample, every transition persisted
//! through the store's batched writer. Samples are read in pages, so memory is bounded by
//! the concurrency, not the run size. A resumed sample continues from its last durable state:
//! `queued` / `generating` samples are generated (again), `ready_to_score` / `scoring` ones are
//! only scored, finished ones are skipped.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use assay_domain::api::{RunStatus, SampleStatus};
use assay_domain::generation::GenerationConfig;
use assay_domain::manifest::{Manifest, Task, TaskType};
use assay_models::{ErrorKind, Gateway, ResolvedModel, Role};
use assay_scoring::metrics::MetricInput;
use assay_store::{
    RunRecord, SampleUpdate, SampleUsage, SampleWriter, StorageResource, Store, StoreError,
    StoredSample,
};
use serde_json::{json, Map, Value};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::audio::AudioReader;
use crate::embedding_task::{embedding_metric_ids, EmbeddingStage};
use crate::finalize::finalize;
use crate::graded::{
    resolve_grader, GradeError, Grader, Grading, JUDGE_METRICS, SIMILARITY_METRICS,
};
use crate::hub_datasets::HubDatasets;
use crate::plan::{expected_samples, plan, selected_tasks};
use crate::python::{
    batch_result, grader_ctx, item_dict, sample_dict, scores_from, GraderRegistry, ModelBridge,
    TaskGrader,
};
use crate::PlanError;
use assay_domain::manifest::GraderExecution;
use assay_domain::Principal;
use assay_sandbox::Sandbox;

/// Samples read from the store per page.
const PAGE: i64 = 256;

/// The three stages with what they run against; shared by every run of a process.
pub struct Stages {
    pub store: Store,
    pub writer: SampleWriter,
    pub gateway: Gateway,
    /// Where user Python (graders, preprocessors) runs.
    pub sandbox: Sandbox,
    /// The Python graders of the runs in progress, with their interpreters.
    pub graders: GraderRegistry,
    /// How long a run waits for failing storage before it fails with `storage_error`.
    pub storage_wait: std::time::Duration,
    /// Where Hugging Face datasets are read from.
    pub hub: HubDatasets,
    /// Reads transcription tasks' clips (URLs only into the networks the operator allows).
    pub audio: AudioReader,
}

/// A run ready for its sample stage: its record and manifest.
pub struct PreparedRun {
    pub run: RunRecord,
    pub manifest: Manifest,
}

impl PreparedRun {
    /// Whether the run covers an `embedding` task (scored as one corpus before the other
    /// samples, by [`Stages::embed_tasks`]).
    pub fn has_embedding_tasks(&self) -> bool {
        selected_tasks(&self.manifest, self.run.object.task_ids.as_deref())
            .iter()
            .any(|t| t.task_type == TaskType::Embedding)
    }
}

/// A client of the public Hub with no token (what [`Stages::new`] reads with until
/// [`Stages::with_hub`] says otherwise).
fn default_hub() -> assay_hub::HubClient {
    match assay_hub::HubClient::new(&assay_hub::HubConfig::default()) {
        Ok(client) => client,
        // The default endpoint is a constant URL: this cannot fail.
        Err(e) => unreachable!("the default Hub configuration is valid: {e}"),
    }
}

impl Stages {
    /// The stages over `store`, calling models through `gateway` and running user Python in
    /// `sandbox`.
    pub fn new(store: Store, gateway: Gateway, sandbox: Sandbox) -> Self {
        Self {
            writer: store.sample_writer(),
            store,
            gateway,
            sandbox,
            graders: GraderRegistry::default(),
            storage_wait: std::time::Duration::from_secs(600),
            hub: HubDatasets::new(default_hub()),
            audio: AudioReader::default(),
        }
    }

    /// The same stages fetching audio URLs only from public addresses and `targets`' networks.
    pub fn with_audio_targets(mut self, targets: assay_webhooks::TargetPolicy) -> Self {
        self.audio = AudioReader::new(targets);
        self
    }

    /// The same stages reading Hugging Face datasets through `hub`.
    pub fn with_hub(mut self, hub: assay_hub::HubClient) -> Self {
        self.hub = HubDatasets::new(hub);
        self
    }

    /// The same stages with another storage wait (see [`crate::outage`]).
    pub fn with_storage_wait(mut self, wait: std::time::Duration) -> Self {
        self.storage_wait = wait;
        self
    }

    /// Takes a leased run from wherever it is to a terminal state. Returns early, leaving the
    /// run to be resumed, when `stop` fires for any reason other than a cancel request.
    ///
    /// The stages are public so that any executor composes them the same way: [`prepare`],
    /// then (unless the run was already finalizing) [`embed_tasks`], every sample through
    /// [`run_sample`] and [`grade_batches`], then [`conclude`]. Here planning and the sample
    /// stage overlap: samples are run as soon as their batch of the plan is committed, so the
    /// first model call does not wait for the whole dataset to be planned. (A run with an
    /// `embedding` task is planned first: that task is scored as one corpus.)
    ///
    /// [`prepare`]: Stages::prepare
    /// [`embed_tasks`]: Stages::embed_tasks
    /// [`grade_batches`]: Stages::grade_batches
    /// [`conclude`]: Stages::conclude
    pub async fn execute(&self, run_id: &str, stop: &CancellationToken) -> Result<(), PlanError> {
        let Some(prepared) = self.open(run_id).await? else {
            return Ok(());
        };
        if prepared.run.object.status == RunStatus::Finalizing {
            return self.conclude(&prepared, stop.is_cancelled()).await;
        }
        let overlap = !prepared.run.planned && !prepared.has_embedding_tasks();
        if !overlap && !self.plan_or_start(&prepared).await? {
            return Ok(());
        }
        // Stopped by `stop`, or by planning that failed.
        let samples_stop = stop.child_token();
        let context = self.sample_context(&prepared, &samples_stop);
        let inflight = inflight(&prepared.run);
        if overlap {
            self.store.mark_started(run_id).await?;
            let (progress, committed) = watch::channel(0);
            let planning = async {
                let planned = tokio::select! {
                    planned = self.plan_fully(&prepared, Some(&progress)) => planned,
                    _ = samples_stop.cancelled() => Ok(false),
                };
                if !matches!(planned, Ok(true)) {
                    samples_stop.cancel();
                }
                // Dropping the sender tells the sample stage that no more samples come.
                drop(progress);
                planned
            };
            let sampling =
                self.run_samples(run_id, &context, inflight, SeqRange::ALL, Some(committed));
            let counting = self.count_expected_total(&prepared);
            // An error on either side (storage, for another attempt) ends both.
            let (planned, (), ()) = tokio::try_join!(planning, sampling, counting)?;
            if !planned {
                // Failed while planning (recorded on the run), or stopped.
                return match stop.is_cancelled() {
                    true => self.conclude(&prepared, true).await,
                    false => Ok(()),
                };
            }
        } else {
            self.embed_tasks(&prepared, &context).await?;
            self.run_samples(run_id, &context, inflight, SeqRange::ALL, None)
                .await?;
        }
        self.grade_batches(&prepared, &context).await?;
        self.conclude(&prepared, stop.is_cancelled()).await
    }

    /// Counts the samples the run will have while it is being planned, so its
    /// `request_counts.total` is right before planning ends. Best effort: a dataset problem is
    /// planning's to report, and without a count the total follows planning.
    async fn count_expected_total(&self, prepared: &PreparedRun) -> Result<(), PlanError> {
        let run = &prepared.run;
        match expected_samples(&self.store, run, &prepared.manifest).await {
            Ok(Some(total)) => {
                self.store.set_expected_total(&run.object.id, total).await?;
            }
            Ok(None) => {}
            Err(e) if e.is_transient() => return Err(e),
            Err(e) => {
                tracing::debug!(run_id = %run.object.id, error = %e, "could not count the run's samples")
            }
        }
        Ok(())
    }

    /// Plans the run (first time) or marks it started again (resume). `None` when there is
    /// nothing left to do: the run is terminal, its cancel was recorded, or it failed here
    /// (an unreadable manifest or a planning error, stored on the run).
    pub async fn prepare(&self, run_id: &str) -> Result<Option<PreparedRun>, PlanError> {
        let Some(prepared) = self.open(run_id).await? else {
            return Ok(None);
        };
        Ok(self.plan_or_start(&prepared).await?.then_some(prepared))
    }

    /// The run with its manifest when it has work left. `None` when it is terminal, its
    /// cancel was recorded here, or its manifest cannot be read (the run is failed).
    async fn open(&self, run_id: &str) -> Result<Option<PreparedRun>, PlanError> {
        let run = self.store.run_record(run_id).await?;
        match run.object.status {
            RunStatus::Cancelling => {
                self.store.finish_cancel(run_id).await?;
                return Ok(None);
            }
            s if s.is_terminal() => return Ok(None),
            _ => {}
        }
        match self.manifest_of(&run).await {
            Ok(manifest) => Ok(Some(PreparedRun { run, manifest })),
            Err(error @ PlanError::Manifest(_)) => {
                self.store.fail_run(run_id, &error.to_json()).await?;
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Plans a run that is not planned yet, else marks it started again. False when planning
    /// failed (recorded on the run).
    async fn plan_or_start(&self, prepared: &PreparedRun) -> Result<bool, PlanError> {
        if prepared.run.planned {
            self.store.mark_started(&prepared.run.object.id).await?;
            return Ok(true);
        }
        self.plan_fully(prepared, None).await
    }

    /// Plans the rest of the run and records it as planned; false when planning failed for
    /// good (recorded on the run), an error when it may work on another attempt.
    async fn plan_fully(
        &self,
        prepared: &PreparedRun,
        progress: Option<&watch::Sender<u64>>,
    ) -> Result<bool, PlanError> {
        let run = &prepared.run;
        let run_id = run.object.id.as_str();
        let planned = plan(
            &self.store,
            &self.hub,
            &self.sandbox,
            run,
            &prepared.manifest,
            progress,
        )
        .await;
        match planned {
            Ok(total) => {
                self.store.mark_planned(run_id, total).await?;
                Ok(true)
            }
            Err(e) if e.is_transient() => Err(e),
            Err(e) => {
                tracing::info!(run_id, error = %e, "run failed while planning");
                self.store.fail_run(run_id, &e.to_json()).await?;
                Ok(false)
            }
        }
    }

    /// A run's record and manifest as they are, without planning or changing it (for an
    /// executor that runs the stages in separate steps).
    pub async fn load(&self, run_id: &str) -> Result<PreparedRun, PlanError> {
        let run = self.store.run_record(run_id).await?;
        let manifest = self.manifest_of(&run).await?;
        Ok(PreparedRun { run, manifest })
    }

    /// The run's suite version manifest; `PlanError::Manifest` when it cannot be read.
    async fn manifest_of(&self, run: &RunRecord) -> Result<Manifest, PlanError> {
        let json = self
            .store
            .suite_version_manifest(&run.object.suite_version_id)
            .await?;
        Manifest::from_json(&json, "manifest")
            .map_err(|e| PlanError::Manifest(format!("the stored manifest cannot be read: {e}")))
    }

    /// What every sample of the run shares: its tasks, gradings, resolved grading models,
    /// generation settings and concurrency limits. `stop` ends its model calls.
    pub fn sample_context(
        &self,
        prepared: &PreparedRun,
        stop: &CancellationToken,
    ) -> Arc<SampleContext> {
        let run = &prepared.run;
        let tasks: HashMap<String, Task> = prepared
            .manifest
            .tasks
            .iter()
            .map(|t| (t.id.clone(), t.clone()))
            .collect();
        let gradings = tasks
            .iter()
            .filter(|(_, t)| t.grader.is_none())
            .filter_map(|(id, t)| Some((id.clone(), Grading::for_task(t)?)))
            .collect();
        let python = self.graders.for_run(
            &run.object.id,
            &tasks,
            run.settings.grader_concurrency.max(1) as usize,
        );
        Arc::new(SampleContext {
            store: self.store.clone(),
            sandbox: self.sandbox.clone(),
            owner: run.owner.clone(),
            python,
            writer: self.writer.clone(),
            gateway: self.gateway.clone(),
            audio: self.audio.clone(),
            judge_model: resolve_grader(
                &self.gateway,
                run.object.judge_model.as_deref(),
                Role::Judge,
            ),
            embedding_model: resolve_grader(
                &self.gateway,
                run.object.embedding_model.as_deref(),
                Role::Embedding,
            ),
            gradings,
            tasks,
            generation: run.object.generation.clone(),
            generation_permits: Arc::new(Semaphore::new(
                run.settings.generation_concurrency.max(1) as usize,
            )),
            grader_permits: Arc::new(Semaphore::new(
                run.settings.grader_concurrency.max(1) as usize
            )),
            stop: stop.clone(),
        })
    }

    /// Scores the run's `embedding` tasks (see [`EmbeddingStage`]).
    pub async fn embed_tasks(
        &self,
        prepared: &PreparedRun,
        context: &SampleContext,
    ) -> Result<(), PlanError> {
        let run = &prepared.run;
        let selected = selected_tasks(&prepared.manifest, run.object.task_ids.as_deref());
        EmbeddingStage {
            store: &self.store,
            writer: &self.writer,
            gateway: &self.gateway,
            owner: &run.owner,
            hub: Some((&self.hub, run.object.id.as_str())),
            model: context.embedding_model.as_ref().map_err(String::as_str),
            concurrency: run.settings.generation_concurrency.max(1) as usize,
            stop: &context.stop,
        }
        .run(&run.object.id, &selected)
        .await
    }

    /// Ends the sample stage: records a requested cancel, or finalizes the run (aggregates,
    /// artifacts, `completed`). `stopped` says the sample stage was interrupted; then the run
    /// is left to be resumed unless a cancel was requested.
    pub async fn conclude(&self, prepared: &PreparedRun, stopped: bool) -> Result<(), PlanError> {
        let run_id = prepared.run.object.id.as_str();
        self.graders.forget(run_id);
        if prepared.run.object.status != RunStatus::Finalizing
            && (stopped || !self.store.mark_finalizing(run_id).await?)
        {
            if self.store.run_status(run_id).await? == RunStatus::Cancelling {
                self.store.finish_cancel(run_id).await?;
            }
            return Ok(());
        }
        let run = self.store.run_record(run_id).await?;
        match finalize(&self.store, &run, &prepared.manifest).await {
            Ok(true) => Ok(()),
            Ok(false) => {
                // The run left `finalizing` meanwhile: only a cancel request does that.
                if self.store.run_status(run_id).await? == RunStatus::Cancelling {
                    self.store.finish_cancel(run_id).await?;
                }
                Ok(())
            }
            Err(e) if e.is_transient() => Err(e),
            Err(e) => {
                self.store.fail_run(run_id, &e.to_json()).await?;
                Ok(())
            }
        }
    }

    /// Runs the unfinished samples at positions `range`, for an executor that works through
    /// a run's samples in batches. Samples finished already (by an earlier attempt at the same
    /// batch) are skipped.
    pub async fn run_range(
        &self,
        prepared: &PreparedRun,
        stop: &CancellationToken,
        range: SeqRange,
    ) -> Result<(), PlanError> {
        let context = self.sample_context(prepared, stop);
        let inflight = inflight(&prepared.run);
        self.run_samples(&prepared.run.object.id, &context, inflight, range, None)
            .await
    }

    /// Drives every unfinished sample in `range`, at most `inflight` at a time. With
    /// `committed`, the run is still being planned: when the samples run out, it waits for
    /// the next committed batch, and ends once the planner has dropped its sender and the
    /// last batch is read.
    async fn run_samples(
        &self,
        run_id: &str,
        context: &Arc<SampleContext>,
        inflight: usize,
        range: SeqRange,
        mut committed: Option<watch::Receiver<u64>>,
    ) -> Result<(), PlanError> {
        let slots = Arc::new(Semaphore::new(inflight));
        let mut tasks: JoinSet<Result<(), StoreError>> = JoinSet::new();
        let mut after = range.after;
        'pages: loop {
            // Waits out a storage outage here rather than abandoning the samples in flight.
            let page = self
                .store
                .retrying(StorageResource::Database, "reading samples", || {
                    self.store.sample_batch(run_id, after, PAGE, true)
                })
                .await?;
            if page.is_empty() {
                let Some(planning) = committed.as_mut() else {
                    break;
                };
                tokio::select! {
                    more = planning.changed() => {
                        if more.is_err() {
                            // Planning ended: read once more for its last batch.
                            committed = None;
                        }
                    }
                    _ = context.stop.cancelled() => break 'pages,
                }
                continue;
            }
            for sample in page {
                if sample.seq > range.through {
                    break 'pages;
                }
                after = sample.seq;
                let slot = tokio::select! {
                    slot = slots.clone().acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => break 'pages,
                    },
                    _ = context.stop.cancelled() => break 'pages,
                };
                let context = context.clone();
                tasks.spawn(async move {
                    let result = run_sample(&context, sample).await;
                    drop(slot);
                    result
                });
                while let Some(done) = tasks.try_join_next() {
                    flatten(done)?;
                }
            }
        }
        while let Some(done) = tasks.join_next().await {
            flatten(done)?;
        }
        Ok(())
    }
}

/// Positions (`seq`) of a run's samples: those after `after`, up to and including `through`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqRange {
    pub after: i64,
    pub through: i64,
}

impl SeqRange {
    /// Every sample of a run.
    pub const ALL: SeqRange = SeqRange {
        after: 0,
        through: i64::MAX,
    };
}

/// Samples of a run in flight at most: one per model call and one per grader call its
/// concurrency settings allow.
fn inflight(run: &RunRecord) -> usize {
    let settings = &run.settings;
    (settings.generation_concurrency.max(1) + settings.grader_concurrency.max(1)) as usize
}

fn flatten(done: Result<Result<(), StoreError>, tokio::task::JoinError>) -> Result<(), PlanError> {
    match done {
        Ok(result) => Ok(result?),
        Err(e) => Err(PlanError::Store(StoreError::Write(format!(
            "a sample task failed: {e}"
        )))),
    }
}

/// What every sample of one run shares.
pub struct SampleContext {
    pub writer: SampleWriter,
    pub gateway: Gateway,
    /// Reads transcription tasks' clips.
    pub audio: AudioReader,
    pub store: Store,
    pub sandbox: Sandbox,
    /// Who the run belongs to (grader files are read as them).
    pub owner: Principal,
    /// Python graders, by task id.
    pub python: crate::python::RunGraders,
    pub tasks: HashMap<String, Task>,
    /// Model-graded tasks' settings, by task id.
    pub gradings: HashMap<String, Result<Grading, String>>,
    /// The run's judge model (`judge_model`, else `auto`) resolved, or why it does not resolve.
    pub judge_model: Result<(String, ResolvedModel), String>,
    /// The run's embedding model (`embedding_model`, else `auto`), likewise.
    pub embedding_model: Result<(String, ResolvedModel), String>,
    pub generation: GenerationConfig,
    pub generation_permits: Arc<Semaphore>,
    pub grader_permits: Arc<Semaphore>,
    /// Fires when the run is cancelled or this process stops working on it.
    pub stop: CancellationToken,
}

/// The model's answer for a sample: a generation from its prompt, or for a transcription
/// task the transcript of the clip in its row's `audio_column` (a clip that cannot be read is
/// the outer error).
async fn call_model(
    ctx: &SampleContext,
    task: &Task,
    sample: &assay_domain::api::SampleObject,
) -> Result<Result<assay_models::Generation, assay_models::CallError>, crate::audio::AudioError> {
    if task.task_type != TaskType::Transcription {
        return Ok(ctx
            .gateway
            .generate(&sample.model, &sample.prompt, &ctx.generation, &ctx.stop)
            .await);
    }
    let column = task.dataset.audio_column.as_deref().unwrap_or("audio");
    let no_row = serde_json::Map::new();
    let row = sample.dataset_row.as_ref().unwrap_or(&no_row);
    let clip = ctx.audio.clip_from_row(row, column).await?;
    let target = match ctx
        .gateway
        .resolve(&sample.model, assay_models::Role::Transcription)
    {
        Ok(t) => t,
        Err(e) => {
            return Ok(Err(assay_models::CallError::new(
                ErrorKind::BadRequest,
                e.to_string(),
                0,
            )))
        }
    };
    Ok(ctx
        .gateway
        .transcribe_resolved(
            &target,
            &clip,
            task.language.as_deref(),
            &ctx.generation,
            &ctx.stop,
        )
        .await)
}

/// Takes one sample from its current state to `completed` or `failed`.
pub async fn run_sample(ctx: &SampleContext, sample: StoredSample) -> Result<(), StoreError> {
    let sample = sample.object;
    let Some(task) = ctx.tasks.get(&sample.task_id) else {
        return ctx
            .writer
            .send(SampleUpdate::Failed {
                id: sample.id,
                error: json!({"type": "unknown_task", "message": format!("task {} is not in the suite version", sample.task_id)}),
                attempts: None,
            })
            .await;
    };
    if task.task_type == TaskType::Embedding {
        // Scored a whole task at a time by the embedding stage.
        return Ok(());
    }
    let python = ctx.python.get(&sample.task_id);
    // Graded all together by the batch stage once every sample is generated.
    let aggregate =
        python.is_some_and(|g| g.config.effective_execution() == GraderExecution::Aggregate);
    let output = match sample.status {
        SampleStatus::Queued | SampleStatus::Generating | SampleStatus::Running => {
            // Held until the call's result is committed, so a crash repeats at most
            // `generation_concurrency` calls.
            let Ok(_permit) = ctx.generation_permits.acquire().await else {
                return Ok(());
            };
            if ctx.stop.is_cancelled() {
                return Ok(());
            }
            // Shown while the call runs; nothing waits for it to be committed.
            ctx.writer
                .post(SampleUpdate::Generating {
                    id: sample.id.clone(),
                })
                .await?;
            let started = SystemTime::now();
            let result = match call_model(ctx, task, &sample).await {
                Ok(result) => result,
                Err(audio) => {
                    return ctx
                        .writer
                        .send(SampleUpdate::Failed {
                            id: sample.id,
                            error: audio.to_json(),
                            attempts: Some(0),
                        })
                        .await;
                }
            };
            let finished = SystemTime::now();
            match result {
                Ok(generated) => {
                    let timings = json!({"generation": {
                        "started_at": humantime::format_rfc3339_millis(started).to_string(),
                        "finished_at": humantime::format_rfc3339_millis(finished).to_string(),
                    }});
                    let usage = &generated.usage;
                    ctx.writer
                        .send(SampleUpdate::Generated {
                            id: sample.id.clone(),
                            output_text: generated.output_text.clone(),
                            reasoning: generated.reasoning,
                            response_id: generated.response_id,
                            usage: SampleUsage {
                                input_tokens: Some(usage.input_tokens as i64),
                                output_tokens: Some(usage.output_tokens as i64),
                                cached_tokens: usage.cached_tokens.map(|n| n as i64),
                                reasoning_tokens: usage.reasoning_tokens.map(|n| n as i64),
                                estimated: usage.estimated,
                            },
                            attempts: i64::from(generated.attempts),
                            phase_timings: timings,
                        })
                        .await?;
                    generated.output_text
                }
                // Left in `generating`: it is generated again when the run resumes.
                Err(e) if e.kind == ErrorKind::Cancelled || ctx.stop.is_cancelled() => {
                    return Ok(())
                }
                Err(e) => {
                    return ctx
                        .writer
                        .send(SampleUpdate::Failed {
                            id: sample.id,
                            error: e.to_json(),
                            attempts: Some(i64::from(e.attempts)),
                        })
                        .await;
                }
            }
        }
        SampleStatus::ReadyToScore | SampleStatus::Scoring => {
            sample.output_text.clone().unwrap_or_default()
        }
        SampleStatus::Completed | SampleStatus::Failed => return Ok(()),
    };
    if aggregate {
        return Ok(());
    }
    let Ok(_permit) = ctx.grader_permits.acquire().await else {
        return Ok(());
    };
    // Grading that calls out (a Python grader, a judge, an embedding model) is marked while it
    // runs; built-in metrics score in place, straight from ready_to_score to completed.
    if python.is_some() || ctx.gradings.contains_key(&sample.task_id) {
        ctx.writer
            .send(SampleUpdate::Scoring {
                id: sample.id.clone(),
            })
            .await?;
    }
    let (extracted_output, mut scores) = score(task, &output, sample.target.as_deref());
    let mut judge = None;
    let beyond = grade_beyond_builtin(
        ctx,
        task,
        python.map(Arc::as_ref),
        &sample,
        &output,
        extracted_output.as_deref(),
        &scores,
    )
    .await;
    match beyond {
        None => {}
        Some(Ok((extra, record))) => {
            scores.extend(extra);
            judge = record;
        }
        // Left in `scoring`: it is graded again when the run resumes.
        Some(Err(GradeError::Stopped)) => return Ok(()),
        Some(Err(GradeError::Failed(error))) => {
            return ctx
                .writer
                .send(SampleUpdate::Failed {
                    id: sample.id,
                    error,
                    attempts: None,
                })
                .await;
        }
    }
    ctx.writer
        .send(SampleUpdate::Completed {
            id: sample.id,
            extracted_output,
            scores,
            judge,
        })
        .await
}

/// The scores a sample gets beyond the built-in metrics, with its `judge` record: from the
/// task's Python grader, else from its model grading (similarity, LLM judge); `None` when the
/// task has neither.
async fn grade_beyond_builtin(
    ctx: &SampleContext,
    task: &Task,
    python: Option<&TaskGrader>,
    sample: &assay_domain::api::SampleObject,
    output: &str,
    extracted: Option<&str>,
    builtin: &Map<String, Value>,
) -> Option<Result<(Map<String, Value>, Option<Value>), GradeError>> {
    if let Some(grader) = python {
        return Some(tokio::select! {
            outcome = grade_with_python(ctx, task, grader, sample, output, extracted, builtin) => {
                // A grader whose model call was cut short by the stop fails for that reason
                // only: the sample is left to be graded again, not failed.
                outcome.map_err(|error| if ctx.stop.is_cancelled() {
                    GradeError::Stopped
                } else {
                    GradeError::Failed(error)
                })
            }
            _ = ctx.stop.cancelled() => Err(GradeError::Stopped),
        });
    }
    let grading = ctx.gradings.get(&sample.task_id)?;
    Some(match grading {
        Ok(grading) => {
            let grader = Grader {
                gateway: &ctx.gateway,
                model: match grading.role() {
                    Role::Judge => ctx.judge_model.as_ref().map_err(String::as_str),
                    _ => ctx.embedding_model.as_ref().map_err(String::as_str),
                },
                generation: &ctx.generation,
                stop: &ctx.stop,
            };
            grader
                .grade(grading, sample, extracted.unwrap_or_default())
                .await
                .map(|g| (g.scores, Some(g.judge)))
        }
        Err(why) => Err(GradeError::Failed(
            json!({"type": "manifest_error", "message": why, "stage": "grading"}),
        )),
    })
}

/// Runs a task's per-sample Python grader on one sample: its scores and the `judge` record of
/// its model calls, or the sample's error.
async fn grade_with_python(
    ctx: &SampleContext,
    task: &Task,
    grader: &TaskGrader,
    sample: &assay_domain::api::SampleObject,
    output: &str,
    extracted: Option<&str>,
    builtin: &Map<String, Value>,
) -> Result<(Map<String, Value>, Option<Value>), Value> {
    let args = vec![
        sample_dict(sample, output, extracted, builtin),
        item_dict(sample),
    ];
    let (result, record) = call_grader(ctx, task, &sample.model, grader, args).await?;
    let scores = scores_from(&result, &grader.config.metric_id)
        .map_err(|message| json!({"type": "grader_invalid_result", "message": message}))?;
    Ok((scores, record))
}

/// Calls a task's grader function (`grade` or `grade_batch`) with `args` on one of its
/// interpreters, for `model`'s samples: what it returned and the `judge` record of its model
/// calls, or the error object of the samples it was grading.
async fn call_grader(
    ctx: &SampleContext,
    task: &Task,
    model: &str,
    grader: &TaskGrader,
    args: Vec<Value>,
) -> Result<(Value, Option<Value>), Value> {
    let pool = grader.pool(&ctx.sandbox, &ctx.store, &ctx.owner).await?;
    let mut interpreter = pool.acquire().await.map_err(|f| f.to_json("grader"))?;
    let mut bridge = model_bridge(ctx, &grader.config);
    let value = interpreter
        .call(
            grader.entry.name(),
            args,
            Some(grader_ctx(task, model, &grader.config)),
            grader.timeout(),
            &mut bridge,
        )
        .await
        .map_err(|f| f.to_json("grader"))?;
    Ok((value, bridge.record()))
}

fn model_bridge<'a>(
    ctx: &'a SampleContext,
    grader: &assay_domain::manifest::PythonGrader,
) -> ModelBridge<'a> {
    ModelBridge {
        gateway: &ctx.gateway,
        access: grader.effective_model_access(),
        judge_model: ctx.judge_model.as_ref().map_err(String::as_str),
        embedding_model: ctx.embedding_model.as_ref().map_err(String::as_str),
        generation: &ctx.generation,
        stop: &ctx.stop,
        max_calls: grader.max_model_calls.clamp(0, 500) as usize,
        calls: Vec::new(),
    }
}

impl Stages {
    /// Runs the `aggregate` Python graders: once per (task, model) over every generated sample,
    /// after the sample stage. Per-sample results complete the samples; task-level metrics are
    /// stored for finalization. A grader failure fails that batch's unfinished samples.
    pub async fn grade_batches(
        &self,
        prepared: &PreparedRun,
        context: &SampleContext,
    ) -> Result<(), PlanError> {
        let run = &prepared.run;
        let run_id = run.object.id.as_str();
        for task in selected_tasks(&prepared.manifest, run.object.task_ids.as_deref()) {
            let Some(grader) = context.python.get(&task.id) else {
                continue;
            };
            if grader.config.effective_execution() != GraderExecution::Aggregate {
                continue;
            }
            for model in &run.object.models {
                if context.stop.is_cancelled() {
                    return Ok(());
                }
                let samples = self.store.task_samples(run_id, &task.id, model).await?;
                let generated: Vec<_> = samples
                    .into_iter()
                    .map(|s| s.object)
                    .filter(|s| s.status != SampleStatus::Failed && s.output_text.is_some())
                    .collect();
                if generated
                    .iter()
                    .all(|s| s.status == SampleStatus::Completed)
                {
                    continue;
                }
                self.grade_batch(context, run_id, task, model, grader, generated)
                    .await?;
            }
        }
        Ok(())
    }

    async fn grade_batch(
        &self,
        ctx: &SampleContext,
        run_id: &str,
        task: &Task,
        model: &str,
        grader: &TaskGrader,
        samples: Vec<assay_domain::api::SampleObject>,
    ) -> Result<(), PlanError> {
        let _permit = ctx.grader_permits.acquire().await;
        let mut builtin = Vec::with_capacity(samples.len());
        let mut dicts = Vec::with_capacity(samples.len());
        for s in &samples {
            let output = s.output_text.clone().unwrap_or_default();
            let (extracted, scores) = score(task, &output, s.target.as_deref());
            let mut dict = sample_dict(s, &output, extracted.as_deref(), &scores);
            dict["item"] = item_dict(s);
            dicts.push(dict);
            builtin.push((extracted, scores));
        }
        for s in samples
            .iter()
            .filter(|s| s.status != SampleStatus::Completed)
        {
            self.writer
                .send(SampleUpdate::Scoring { id: s.id.clone() })
                .await?;
        }
        let outcome = tokio::select! {
            called = call_grader(ctx, task, model, grader, vec![Value::Array(dicts)]) => {
                called.and_then(|(value, record)| {
                    batch_result(&value, samples.len(), &grader.config.metric_id)
                        .map(|result| Some((result, record)))
                        .map_err(|message| json!({"type": "grader_invalid_result", "message": message}))
                })
            }
            _ = ctx.stop.cancelled() => Ok(None),
        };
        let (result, judge) = match outcome {
            Ok(Some(done)) => done,
            // Stopped: the samples stay in `scoring` and are graded again on resume.
            Ok(None) => return Ok(()),
            Err(error) => {
                for s in samples
                    .iter()
                    .filter(|s| s.status != SampleStatus::Completed)
                {
                    self.writer
                        .send(SampleUpdate::Failed {
                            id: s.id.clone(),
                            error: error.clone(),
                            attempts: None,
                        })
                        .await?;
                }
                return Ok(());
            }
        };
        if !result.metrics.is_empty() {
            self.store
                .put_task_metrics(run_id, &task.id, model, &Value::Object(result.metrics))
                .await?;
        }
        for (i, (s, (extracted, mut scores))) in samples.iter().zip(builtin).enumerate() {
            if s.status == SampleStatus::Completed {
                continue;
            }
            let update = match result.samples.get(i) {
                Some(Err(message)) => SampleUpdate::Failed {
                    id: s.id.clone(),
                    error: json!({"type": "grader_invalid_result", "message": message}),
                    attempts: None,
                },
                extra => {
                    if let Some(Ok(extra)) = extra {
                        scores.extend(extra.clone());
                    }
                    SampleUpdate::Completed {
                        id: s.id.clone(),
                        extracted_output: extracted,
                        scores,
                        judge: judge.clone(),
                    }
                }
            };
            self.writer.send(update).await?;
        }
        Ok(())
    }
}

/// Extracts the answer and computes the task's built-in metrics.
pub fn score(
    task: &Task,
    output: &str,
    target: Option<&str>,
) -> (Option<String>, Map<String, Value>) {
    let extracted = assay_scoring::extract::extract(task.output_extraction.as_ref(), output);
    let choices = task.choices.as_deref().unwrap_or(&[]);
    let input = MetricInput::new(
        extracted.as_deref(),
        target.unwrap_or(""),
        choices,
        task.task_type,
    );
    let mut scores = Map::new();
    for id in metric_ids(task) {
        if let Some(value) = assay_scoring::metrics::compute(&id, &input) {
            scores.insert(id, json!(value));
        }
    }
    (extracted, scores)
}

/// The metrics a task reports: its declared ones, else its type's defaults (the built-in
/// ones, or what its model grading or embedding evaluation scores; a Python grader's own
/// metrics are added by finalization).
pub fn metric_ids(task: &Task) -> Vec<String> {
    let defaults: Vec<String> = match task.task_type {
        // With a Python grader these tasks report what the grader returns instead.
        TaskType::SemanticSimilarity | TaskType::LlmJudge if task.grader.is_some() => Vec::new(),
        TaskType::SemanticSimilarity => SIMILARITY_METRICS.iter().map(|s| s.to_string()).collect(),
        TaskType::LlmJudge => JUDGE_METRICS.iter().map(|s| s.to_string()).collect(),
        TaskType::Embedding => match &task.embedding {
            Some(config) => embedding_metric_ids(config)
                .into_iter()
                .map(|(id, _)| id)
                .collect(),
            None => Vec::new(),
        },
        _ => assay_scoring::metrics::default_metric_ids(task.task_type)
            .iter()
            .map(|s| s.to_string())
            .collect(),
    };
    match &task.metrics {
        metrics if !metrics.is_empty() => metrics.iter().map(|m| m.id.clone()).collect(),
        _ => defaults,
    }
}
