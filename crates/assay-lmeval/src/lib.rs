//! lm-evaluation-harness output read as Assay runs (the historical import, E29).
//!
//! lm-eval writes, per evaluation, a results file `results_<ts>.json` and, with
//! `--log_samples`, one `samples_<task>_<ts>.jsonl` per task beside it. This crate reads them
//! and turns each results file into one completed Assay run with its samples:
//!
//! - [`layout`]: which files are results files and which samples files belong to one
//!   ([`layout::find_samples`]);
//! - [`ResultsFile::parse`] and [`parse_samples`]: the two formats, read leniently (unknown
//!   keys and older layouts accepted), with errors that name the file, line and field;
//! - [`recompute`]: the aggregates recomputed from the per-sample values the way lm-eval
//!   computes them — means bit for bit, and their standard errors (`sample_stddev /
//!   sqrt(n)`); bootstrapped standard errors and corpus scores are reported as not
//!   recomputable — and [`verify`], which compares them with the results file's numbers and
//!   returns the differences;
//! - [`import_run`]: the run, its tasks, samples and aggregates in Assay's terms, and the
//!   identity that tells an already imported results file ([`ImportIdentity`]).
//!
//! Score keys: the bare metric for lm-eval's default filter `none`, `metric,filter` for any
//! other ([`assay_metric_key`]).
//!
//! Pure code: callers hand in bytes and paths; nothing here does IO.
//!
//! ```
//! use assay_lmeval::{import_run, SourceFile};
//!
//! let results = br#"{"results": {"t": {"acc,none": 0.5, "acc_stderr,none": 0.5}},
//!                    "n-samples": {"t": {"original": 2, "effective": 2}},
//!                    "model_name": "m"}"#;
//! let samples = br#"{"doc_id": 0, "doc": {}, "target": "a", "resps": [["a"]], "filtered_resps": ["a"], "filter": "none", "metrics": ["acc"], "acc": 1.0}
//! {"doc_id": 1, "doc": {}, "target": "b", "resps": [["a"]], "filtered_resps": ["a"], "filter": "none", "metrics": ["acc"], "acc": 0.0}
//! "#;
//! let ts = "2024-05-01T12-30-45.123456";
//! let run = import_run(
//!     SourceFile { path: &format!("m/results_{ts}.json"), bytes: results },
//!     &[SourceFile { path: &format!("m/samples_t_{ts}.jsonl"), bytes: samples }],
//! )?;
//! assert_eq!(run.model, "m");
//! assert_eq!(run.samples.len(), 2);
//! assert!(run.is_consistent());
//! # Ok::<(), assay_lmeval::Error>(())
//! ```

#![warn(missing_docs)]

mod error;
mod import;
pub mod layout;
mod pyjson;
pub mod recompute;
mod results;
mod samples;

pub use error::Error;
pub use import::{
    assay_metric_key, assay_task_id, import_run, split_assay_metric_key, AssayAggregation,
    FilteredOutput, ImportIdentity, ImportedAggregate, ImportedDataset, ImportedMetric,
    ImportedRun, ImportedSample, ImportedTask, NumberSource, SourceFile, TaskType, MAX_TASK_ID_LEN,
};
pub use pyjson::{non_finite, number, quote_non_finite};
pub use recompute::{verify, Verification};
pub use results::{
    FilterSpec, MetricResult, MetricSpec, NSamples, Reported, ResultsFile, RunConfig, TaskConfig,
    TaskResults, TaskResultsList, NO_FILTER,
};
pub use samples::{chat_messages, parse_sample_line, parse_samples, ChatMessage, SampleLine};
