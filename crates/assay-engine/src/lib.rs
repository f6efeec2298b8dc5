//! Assay's run engine. A run goes through three stages, plain async functions over the store
//! and the model gateway:
//!
//! - **plan** ([`plan::plan`]): read the suite version's datasets, render prompts and targets
//!   (few-shot included) and persist one sample per (model, task, row) before any model call;
//! - **sample** ([`sample::run_sample`]): generate → extract → score, each transition persisted
//!   through the store's batched writer; a sample is the unit of retry, resume and concurrency;
//! - **finalize** ([`finalize::finalize`]): aggregate metrics with standard errors, write the
//!   results and samples artifacts, and complete the run.
//!
//! The [`local::LocalExecutor`] drives them in-process, leasing runs from the database so that
//! a restarted server resumes where it stopped.
//!
//! Read models over stored rows live here too, computed per request: [`leaderboard`] (the
//! leaderboard-runs feed), [`overview`] (a run's overview) and [`compare`] (two runs or
//! models on the same samples). [`trajectories`] stores and
//! reads trial trajectories by sample address.

pub mod admission;
pub mod aggregate;
pub mod audio;
pub mod cache;
pub mod compare;
pub mod dataset;
pub mod dataset_check;
pub mod embedding_task;
pub mod finalize;
pub mod graded;
pub mod historical;
pub mod hub_datasets;
pub mod imports;
pub mod leaderboard;
pub mod local;
pub mod outage;
pub mod overview;
pub mod plan;
pub mod python;
pub mod sample;
pub mod sample_audio;
pub mod schedules;
pub mod suite_preview;
pub mod token_backfill;
pub mod trajectories;
pub mod webhooks;

use assay_store::StoreError;
use serde_json::{json, Value};

/// Why a run could not be prepared or finished (a run-level failure, not a sample's).
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{0}")]
    Dataset(String),
    #[error("{0}")]
    Template(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Manifest(String),
    /// A task's Python preprocessor failed.
    #[error("{0}")]
    Preprocess(String),
    /// A dataset (a file that does not parse, or a row) that cannot give what a task's manifest
    /// field asks of it. `field` is that field's path within the task (`prompt_template`,
    /// `dataset.file_id`, `embedding.text_column`, …), so suite creation can name it.
    #[error("{message}")]
    Unusable {
        field: String,
        template: bool,
        message: String,
    },
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

impl PlanError {
    /// The run's `error` object.
    pub fn to_json(&self) -> Value {
        let kind = match self {
            PlanError::Dataset(_) => "dataset_error",
            PlanError::Template(_) => "template_error",
            PlanError::Unsupported(_) => "unsupported",
            PlanError::Manifest(_) => "manifest_error",
            PlanError::Preprocess(_) => "preprocessor_error",
            PlanError::Unusable { template: true, .. } => "template_error",
            PlanError::Unusable { .. } => "dataset_error",
            PlanError::Store(_) => "storage_error",
        };
        json!({"type": kind, "message": self.to_string()})
    }

    /// Whether the failure may pass if the stage is tried again (storage outages).
    pub fn is_transient(&self) -> bool {
        matches!(self, PlanError::Store(e) if e.is_unavailable())
    }
}

use std::sync::Arc;

use assay_models::Gateway;
pub use assay_models::Role;
use assay_store::Store;

pub use local::{ExecutorConfig, LocalExecutor};
pub use sample::Stages;

/// Where runs execute: in this process ([`LocalExecutor`]) or elsewhere (e.g. Temporal
/// workers). The server tells it about new runs and cancel requests.
pub trait Dispatcher: Send + Sync {
    /// `run_id` was created (it is stored as `queued`).
    fn run_created(&self, run_id: &str);
    /// `run_id` ended and was re-queued in place (retry, rerun-failed); an executor that ran it
    /// before may still be letting go of it.
    fn run_requeued(&self, run_id: &str) {
        self.run_created(run_id);
    }
    /// A cancel was requested for `run_id` (it is stored as `cancelling`).
    fn cancel(&self, run_id: &str);
    /// The process is stopping.
    fn shutdown(&self);
}

impl Dispatcher for LocalExecutor {
    fn run_created(&self, _run_id: &str) {
        self.notify();
    }

    fn cancel(&self, run_id: &str) {
        LocalExecutor::cancel(self, run_id);
    }

    fn shutdown(&self) {
        LocalExecutor::shutdown(self);
    }
}

/// The engine as the server sees it: start runs, cancel them, check model names.
#[derive(Clone)]
pub struct Engine {
    gateway: Gateway,
    sandbox: assay_sandbox::Sandbox,
    dispatcher: Arc<dyn Dispatcher>,
}

impl Engine {
    /// Starts the local executor over `store`, calling models through `gateway`.
    pub fn start(
        store: Store,
        gateway: Gateway,
        sandbox: assay_sandbox::Sandbox,
        config: ExecutorConfig,
    ) -> Self {
        let mut stages = Stages::new(store.clone(), gateway.clone(), sandbox.clone())
            .with_storage_wait(config.storage_wait)
            .with_audio_targets(config.audio_targets.clone());
        if let Some(hub) = &config.hub {
            stages = stages.with_hub(hub.clone());
        }
        let stages = Arc::new(stages);
        let executor = LocalExecutor::start(store, stages, config);
        Self::with_dispatcher(gateway, sandbox, Arc::new(executor))
    }

    /// An engine whose runs execute through `dispatcher` (model names are still checked
    /// against `gateway`, Python code against `sandbox`).
    pub fn with_dispatcher(
        gateway: Gateway,
        sandbox: assay_sandbox::Sandbox,
        dispatcher: Arc<dyn Dispatcher>,
    ) -> Self {
        Self {
            gateway,
            sandbox,
            dispatcher,
        }
    }

    /// Where user Python runs (for validating it when a suite is created).
    pub fn sandbox(&self) -> &assay_sandbox::Sandbox {
        &self.sandbox
    }

    /// `run_id` was created or re-queued.
    pub fn run_created(&self, run_id: &str) {
        self.dispatcher.run_created(run_id);
    }

    /// Admits a run request ([`admission::admit`]), stores the run as `queued` and hands it
    /// to the executor.
    pub async fn submit_run(
        &self,
        store: &Store,
        caller: &assay_domain::Principal,
        req: assay_domain::api::CreateRunRequest,
    ) -> Result<assay_store::RunRecord, admission::AdmissionError> {
        let run = admission::admit(self, store, caller, req).await?;
        let created = store.create_run(caller, &run).await?;
        self.run_created(&created.object.id);
        Ok(created)
    }

    /// Retries a failed or cancelled run the caller owns, in place (see
    /// [`Store::requeue_for_retry`]).
    pub async fn retry_run(
        &self,
        store: &Store,
        caller: &assay_domain::Principal,
        run_id: &str,
    ) -> Result<assay_store::RunRecord, StoreError> {
        let run = store.requeue_for_retry(caller, run_id).await?;
        self.dispatcher.run_requeued(run_id);
        Ok(run)
    }

    /// Reruns the failed samples of a completed run the caller owns, in place (see
    /// [`Store::requeue_failed_samples`]).
    pub async fn rerun_failed(
        &self,
        store: &Store,
        caller: &assay_domain::Principal,
        run_id: &str,
    ) -> Result<assay_store::RunRecord, StoreError> {
        let run = store.requeue_failed_samples(caller, run_id).await?;
        self.dispatcher.run_requeued(run_id);
        Ok(run)
    }

    /// Cancels a queued or running run the caller owns (see [`Store::request_cancel`]) and
    /// tells the executor, so no model call starts after this returns. Returns the new status.
    pub async fn cancel_run(
        &self,
        store: &Store,
        caller: &assay_domain::Principal,
        run_id: &str,
    ) -> Result<assay_domain::api::RunStatus, StoreError> {
        let status = store.request_cancel(caller, run_id).await?;
        self.dispatcher.cancel(run_id);
        Ok(status)
    }

    /// A cancel was requested for `run_id`.
    pub fn cancel(&self, run_id: &str) {
        self.dispatcher.cancel(run_id);
    }

    /// Whether `model` names a model this server can call for `role` (no IO).
    pub fn check_model_for(&self, model: &str, role: Role) -> Result<(), String> {
        self.gateway
            .resolve(model, role)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Stops executing; unfinished runs resume on the next start.
    pub fn shutdown(&self) {
        self.dispatcher.shutdown();
    }
}
