//! `assay import harbor`: imports a job directory written by Harbor, the agent-evaluation
//! harness, as a coding-agent run (`POST /imports/agent-run`, then one trajectory upload per
//! trial that has one).
//!
//! - [`job`]: Harbor's files, read leniently;
//! - [`plan`]: the mapping from a job to the import (run identity, sample indices, statuses,
//!   the idempotency key);
//! - [`trajectory`]: a trial's trajectory upload (ATIF steps and log tails);
//! - [`upload`]: the HTTP calls, batching, retries.

mod job;
mod plan;
mod time;
mod trajectory;
mod upload;

use std::path::PathBuf;

use anyhow::bail;
use assay_domain::api::agents::{TrialStatus, MAX_TRIALS_PER_REQUEST};

pub use plan::Selection;

/// Most trials one request carries (the API's limit).
pub const MAX_BATCH: usize = MAX_TRIALS_PER_REQUEST;

/// What to import, into which suite, on which server.
pub struct ImportArgs {
    pub job_dir: PathBuf,
    pub suite_id: String,
    pub server: String,
    pub key: String,
    pub selection: Selection,
    /// Trials per request (at most [`MAX_BATCH`]).
    pub batch_size: usize,
}

/// Reads the job, imports it and uploads its trajectories; prints the run's URL on stdout and
/// a summary on stderr.
pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let job = job::Job::read(&args.job_dir)?;
    for dir in &job.unfinished {
        eprintln!(
            "skipping {}: no result.json (the trial did not finish)",
            dir.display()
        );
    }
    let plan = plan::plan(&job, &args.suite_id, &args.selection)?;
    let api = upload::Api::new(&args.server, &args.key);
    let run = upload::import_run(&api, &plan, args.batch_size.clamp(1, MAX_BATCH)).await?;
    let run_id = upload::run_id(&run)?;

    let mut uploaded = 0;
    let mut failures = Vec::new();
    for trial in &plan.trials {
        let Some(path) = &trial.trajectory else {
            continue;
        };
        let sent = async {
            let upload = trajectory::upload(&trial.dir, path)?;
            api.put_trajectory(&run_id, trial, &plan.lineup.model, &upload)
                .await
        };
        match sent.await {
            Ok(_) => uploaded += 1,
            Err(e) => failures.push(format!("trajectory of {}: {e:#}", trial.dir.display())),
        }
    }

    println!("{}", api.run_url(&run_id));
    let failed = plan
        .trials
        .iter()
        .filter(|t| t.input.status == Some(TrialStatus::Failed))
        .count();
    eprintln!(
        "Imported Harbor job {} ({} on {}{}): {} trials, {failed} failed, {uploaded} trajectories, as run {run_id} ({}).",
        plan.job_name,
        plan.lineup.agent,
        plan.lineup.model,
        plan.lineup
            .effort
            .as_ref()
            .map(|e| format!(", effort {e}"))
            .unwrap_or_default(),
        plan.trials.len(),
        run["status"].as_str().unwrap_or("unknown status"),
    );
    if !failures.is_empty() {
        for failure in &failures {
            eprintln!("{failure}");
        }
        bail!("{} trajectories could not be uploaded", failures.len());
    }
    Ok(())
}
