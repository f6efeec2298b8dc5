//! Hugging Face datasets as a run's rows: the revision resolved to a commit once per run and
//! recorded on it (a re-planned run reads the same commit), the config and split's files
//! chosen as the `datasets` library chooses them (`assay-hub`), and their rows streamed.
//!
//! Files read whole are kept in the blob store by (repo, commit, path), so a second run over
//! the same revision reads them from there. A dataset with `max_rows` is read straight from
//! the Hub instead, fetching only what the rows need (for Parquet, the footer and the first
//! row groups), and that partial read is not kept.

use assay_domain::manifest::Dataset;
use assay_hub::{ByteSource, ByteStream, DataFile, HubClient, HubError};
use assay_store::{HubFile, PutError, Store};
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use serde_json::json;

use crate::dataset::{DatasetRef, Row};
use crate::PlanError;

/// Largest Hub file kept whole in the blob store.
const MAX_CACHED_FILE: u64 = 20 << 30;

/// Reads Hugging Face datasets for runs.
#[derive(Clone)]
pub struct HubDatasets {
    client: HubClient,
}

impl HubDatasets {
    pub fn new(client: HubClient) -> Self {
        Self { client }
    }

    /// The rows of `dataset` (a `huggingface` one) for run `run_id`, at most `max_rows`.
    pub async fn open(
        &self,
        store: &Store,
        run_id: &str,
        dataset: &Dataset,
        at: DatasetRef<'_>,
    ) -> Result<BoxStream<'static, Result<Row, PlanError>>, PlanError> {
        let repo = dataset.path.clone().unwrap_or_default();
        let split = dataset.split.clone().unwrap_or_else(|| "train".to_string());
        let key = format!("{}/{}", at.task_id, at.field);
        let recorded = store.dataset_revisions(run_id).await?;
        let commit = match recorded.get(&key).and_then(|r| r["commit"].as_str()) {
            Some(commit) => commit.to_string(),
            None => self
                .client
                .resolve_revision(&repo, dataset.revision.as_deref(), None)
                .await
                .map_err(|e| hub_problem(at, e))?,
        };
        let files = self
            .client
            .select_data_files(
                &repo,
                &commit,
                dataset.name.as_deref(),
                &split,
                dataset.data_files.as_ref(),
            )
            .await
            .map_err(|e| hub_problem(at, e))?;
        let record = json!({
            "repo": repo,
            "revision": dataset.revision.as_deref().unwrap_or("main"),
            "commit": commit,
            "config": dataset.name,
            "split": split,
            "files": files.iter().map(|f| json!({"path": f.path, "revision": f.revision})).collect::<Vec<_>>(),
        });
        let in_force = store.record_dataset_revision(run_id, &key, record).await?;
        if in_force["commit"].as_str() != Some(commit.as_str()) {
            return Err(PlanError::Dataset(format!(
                "{}: the run's recorded commit of {repo} changed while planning",
                at.describe()
            )));
        }
        let max_rows = dataset.max_rows.map(|n| n.max(0) as usize);
        let owned = (at.task_id.to_string(), at.field.to_string());
        let describe = move |e: HubError| {
            hub_problem(
                DatasetRef {
                    task_id: &owned.0,
                    field: &owned.1,
                },
                e,
            )
        };
        if max_rows.is_some() {
            return Ok(self
                .client
                .open_split_rows(&files, max_rows)
                .map_err(describe)
                .boxed());
        }
        let mut sources = Vec::with_capacity(files.len());
        for file in &files {
            let cached = self.cached(store, file).await.map_err(|e| match e {
                Cached::Hub(e) => hub_problem(at, e),
                Cached::Store(e) => PlanError::Store(e),
            })?;
            sources.push((file.format, cached));
        }
        let rows = futures::stream::iter(sources)
            .flat_map(|(format, source)| assay_hub::open_rows(source, format, None))
            .map_err(describe);
        Ok(rows.boxed())
    }

    /// The blob-store copy of `file`, downloaded first when there is none.
    async fn cached(&self, store: &Store, file: &DataFile) -> Result<BlobSource, Cached> {
        if let Some(hit) = store
            .hub_file(&file.repo, &file.revision, &file.path)
            .await?
        {
            return Ok(BlobSource::new(store, file, hit));
        }
        let source = self.client.source(file).map_err(Cached::Hub)?;
        let stream = source.stream().await.map_err(Cached::Hub)?;
        let key = format!("hub/{}", assay_domain::ids::new_id(""));
        let put = store
            .blobs()
            .put_stream(&key, stream, MAX_CACHED_FILE)
            .await
            .map_err(|e| match e {
                PutError::Source(e) => Cached::Hub(e),
                PutError::TooLarge { limit } => Cached::Hub(HubError::Unreadable {
                    repo: file.repo.clone(),
                    path: file.path.clone(),
                    reason: format!("larger than {limit} bytes"),
                }),
                PutError::Blob(e) => Cached::Store(e.into()),
            })?;
        let kept = store
            .record_hub_file(
                &file.repo,
                &file.revision,
                &file.path,
                &key,
                put.bytes as i64,
            )
            .await?;
        if kept.blob_key != key {
            // Another run kept its copy first.
            let _ = store.blobs().delete(&key).await;
        }
        Ok(BlobSource::new(store, file, kept))
    }
}

enum Cached {
    Hub(HubError),
    Store(assay_store::StoreError),
}

impl From<assay_store::StoreError> for Cached {
    fn from(e: assay_store::StoreError) -> Self {
        Cached::Store(e)
    }
}

/// A Hub problem as a run error naming the dataset's field; `HubError`'s message says what
/// to check. The client has already retried a passing outage (5xx, 429, network errors);
/// one that outlasts its retries fails the run too.
fn hub_problem(at: DatasetRef<'_>, e: HubError) -> PlanError {
    if e.is_transient() {
        return PlanError::Dataset(format!("{}: {e}", at.describe()));
    }
    PlanError::Unusable {
        field: at.field.to_string(),
        template: false,
        message: format!("{}: {e}", at.describe()),
    }
}

/// A cached Hub file read from the blob store.
struct BlobSource {
    store: Store,
    key: String,
    len: u64,
    repo: String,
    path: String,
}

impl BlobSource {
    fn new(store: &Store, file: &DataFile, cached: HubFile) -> Self {
        Self {
            store: store.clone(),
            key: cached.blob_key,
            len: cached.bytes.max(0) as u64,
            repo: file.repo.clone(),
            path: file.path.clone(),
        }
    }

    fn unavailable(&self, e: impl std::fmt::Display) -> HubError {
        HubError::Unavailable {
            repo: self.repo.clone(),
            reason: format!("reading the cached copy of {}: {e}", self.path),
        }
    }
}

#[async_trait::async_trait]
impl ByteSource for BlobSource {
    fn describe(&self) -> (&str, &str) {
        (&self.repo, &self.path)
    }

    async fn len(&self) -> Result<u64, HubError> {
        Ok(self.len)
    }

    async fn read_range(&self, start: u64, end: u64) -> Result<Bytes, HubError> {
        self.store
            .blobs()
            .get_range(&self.key, start, end)
            .await
            .map_err(|e| self.unavailable(e))
    }

    async fn stream(&self) -> Result<ByteStream, HubError> {
        let repo = self.repo.clone();
        let path = self.path.clone();
        let stream = self
            .store
            .blobs()
            .get_stream(&self.key)
            .await
            .map_err(|e| self.unavailable(e))?;
        Ok(stream
            .map_err(move |e| HubError::Unavailable {
                repo: repo.clone(),
                reason: format!("reading the cached copy of {path}: {e}"),
            })
            .boxed())
    }
}
