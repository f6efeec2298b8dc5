//! Reading task datasets from the Hugging Face Hub, for runs whose dataset has
//! `source: "huggingface"`.
//!
//! The pieces, in the order a run uses them:
//!
//! 1. [`HubClient::resolve_revision`] pins the dataset's `revision` (default `main`) to a
//!    commit, so every file of a run comes from one snapshot (and the run can record it);
//! 2. [`HubClient::select_data_files`] picks the files of the requested config (`name`) and
//!    `split` the way the `datasets` library does — explicit `data_files`, the dataset
//!    card's `configs:`, the default split patterns, or the Hub's automatic Parquet
//!    conversion (see [`select`] for the rules);
//! 3. [`HubClient::open_rows`] (or [`open_rows`] over any [`ByteSource`], e.g. a cached
//!    [`LocalFile`]) streams a file's rows as JSON objects, reading no more than `max_rows`
//!    needs: Parquet through its footer and the first row groups by range requests, JSON
//!    Lines and CSV as a streamed body that is dropped early.
//!
//! Every failure is a [`HubError`] that names the dataset and says what to check.
//!
//! ```no_run
//! # async fn demo() -> Result<(), assay_hub::HubError> {
//! use futures::TryStreamExt;
//! use assay_hub::{HubClient, HubConfig};
//! let hub = HubClient::new(&HubConfig::default())?;
//! let commit = hub.resolve_revision("org/dataset", None, None).await?;
//! let files = hub.select_data_files("org/dataset", &commit, None, "test", None).await?;
//! let rows: Vec<_> = hub.open_split_rows(&files, Some(100)).try_collect().await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod card;
mod client;
mod config;
mod error;
mod glob;
mod http;
pub mod rows;
pub mod select;
mod source;

pub use assay_domain::manifest::{DataFiles, DataFilesEntry};
pub use client::{is_commit, HubClient, PARQUET_REVISION};
pub use config::{HubConfig, DEFAULT_ENDPOINT};
pub use error::{HubError, Missing};
pub use http::{ClientOptions, RetryPolicy};
pub use rows::{open_rows, Row, RowStream};
pub use source::{ByteSource, ByteStream, HttpSource, LocalFile};

use serde::{Deserialize, Serialize};

/// A file of a repository at one commit, as the tree listing gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoFile {
    /// Path from the repository root, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
}

/// How a data file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataFormat {
    /// Apache Parquet.
    Parquet,
    /// One JSON object per line (`.jsonl`, `.ndjson`).
    JsonLines,
    /// A `.json` file: an array of objects, or JSON Lines.
    Json,
    /// Comma-separated values with a header row.
    Csv,
    /// Tab-separated values with a header row.
    Tsv,
}

/// One data file chosen for a config and split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataFile {
    /// The dataset (repository id).
    pub repo: String,
    /// The commit the file is read at (40 hex digits): the dataset's resolved revision, or
    /// for the Parquet conversion the commit of `refs/convert/parquet` when it was listed.
    /// With [`DataFile::path`] it identifies the content, e.g. as a cache key.
    pub revision: String,
    /// Path of the file in the repository at [`DataFile::revision`].
    pub path: String,
    /// How it is read.
    pub format: DataFormat,
    /// Size in bytes, when the listing said.
    pub size: Option<u64>,
    /// Where it is downloaded from (on the configured Hub; it may redirect to the Hub's CDN).
    pub url: String,
}
