//! Blob storage for file contents: a local directory by default, any S3-compatible
//! service by configuration. Uploads are streamed in parts, never held whole in memory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, WriteMultipart};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::{PutError, StoreError};

/// The `[storage]` section of the configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// `local` (default) or `s3`.
    #[serde(default)]
    pub kind: StorageKind,
    /// Directory for `local` storage. Empty means `DATA_DIR/blobs`.
    #[serde(default)]
    pub path: String,
    /// Bucket for `s3` storage.
    #[serde(default)]
    pub bucket: String,
    /// Endpoint of an S3-compatible service (e.g. `http://127.0.0.1:9000`); empty for AWS.
    #[serde(default)]
    pub endpoint: String,
    /// Region for `s3` storage.
    #[serde(default)]
    pub region: String,
    /// Key prefix inside the bucket.
    #[serde(default)]
    pub prefix: String,
    /// Allow plain-HTTP endpoints (for local S3-compatible services).
    #[serde(default)]
    pub allow_http: bool,
}

/// Where blobs live.
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    #[default]
    Local,
    S3,
}

impl StorageConfig {
    /// Fills in the embedded default (`DATA_DIR/blobs`) when no local path is configured.
    pub fn with_default_under(mut self, data_dir: &Path) -> Self {
        if self.kind == StorageKind::Local && self.path.trim().is_empty() {
            self.path = data_dir.join("blobs").display().to_string();
        }
        self
    }
}

/// What a streamed upload stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutOutcome {
    pub bytes: u64,
    /// Lowercase hex SHA-256 of the content.
    pub sha256: String,
}

/// The blob store.
#[derive(Clone)]
pub struct BlobStore {
    inner: Arc<dyn ObjectStore>,
    prefix: String,
}

impl BlobStore {
    /// Opens the store the configuration describes.
    pub fn open(config: &StorageConfig) -> Result<Self, StoreError> {
        match config.kind {
            StorageKind::Local => {
                if config.path.trim().is_empty() {
                    return Err(StoreError::Config("storage.path is empty".into()));
                }
                let dir = PathBuf::from(&config.path);
                std::fs::create_dir_all(&dir).map_err(|e| {
                    StoreError::Config(format!("cannot create {}: {e}", dir.display()))
                })?;
                let fs = LocalFileSystem::new_with_prefix(&dir)?;
                Ok(Self {
                    inner: Arc::new(fs),
                    prefix: String::new(),
                })
            }
            StorageKind::S3 => {
                if config.bucket.trim().is_empty() {
                    return Err(StoreError::Config(
                        "storage.bucket is required for s3".into(),
                    ));
                }
                // Give up on a request within seconds: a longer outage is ridden out by the
                // callers (runs wait and retry; API writes answer 503) rather than by holding
                // one request for minutes.
                let retry = object_store::RetryConfig {
                    max_retries: 3,
                    retry_timeout: std::time::Duration::from_secs(10),
                    ..Default::default()
                };
                let client = object_store::ClientOptions::new()
                    .with_connect_timeout(std::time::Duration::from_secs(5));
                let mut builder = AmazonS3Builder::from_env()
                    .with_client_options(client)
                    .with_bucket_name(&config.bucket)
                    .with_allow_http(config.allow_http)
                    .with_retry(retry);
                if !config.region.is_empty() {
                    builder = builder.with_region(&config.region);
                }
                if !config.endpoint.is_empty() {
                    builder = builder
                        .with_endpoint(&config.endpoint)
                        .with_virtual_hosted_style_request(false);
                }
                Ok(Self {
                    inner: Arc::new(builder.build()?),
                    prefix: config.prefix.trim_matches('/').to_string(),
                })
            }
        }
    }

    fn path(&self, key: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(key)
        } else {
            ObjectPath::from(format!("{}/{key}", self.prefix))
        }
    }

    /// Streams `source` into the blob `key`, hashing and counting as it goes. Fails with
    /// [`PutError::TooLarge`] as soon as more than `limit` bytes arrive; on any failure the
    /// partial upload is aborted and nothing is kept.
    pub async fn put_stream<S, E>(
        &self,
        key: &str,
        source: S,
        limit: u64,
    ) -> Result<PutOutcome, PutError<E>>
    where
        S: Stream<Item = Result<Bytes, E>>,
    {
        let upload = self.inner.put_multipart(&self.path(key)).await?;
        let mut writer = WriteMultipart::new(upload);
        let mut hasher = Sha256::new();
        let mut total: u64 = 0;
        futures::pin_mut!(source);
        while let Some(chunk) = source.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(PutError::Source(e));
                }
            };
            total += chunk.len() as u64;
            if total > limit {
                let _ = writer.abort().await;
                return Err(PutError::TooLarge { limit });
            }
            hasher.update(&chunk);
            if let Err(e) = writer.wait_for_capacity(4).await {
                let _ = writer.abort().await;
                return Err(e.into());
            }
            writer.write(&chunk);
        }
        writer.finish().await?;
        Ok(PutOutcome {
            bytes: total,
            sha256: hex::encode(hasher.finalize()),
        })
    }

    /// Stores a small blob that is already in memory.
    pub async fn put_bytes(&self, key: &str, bytes: Bytes) -> Result<PutOutcome, StoreError> {
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let len = bytes.len() as u64;
        self.inner.put(&self.path(key), bytes.into()).await?;
        Ok(PutOutcome { bytes: len, sha256 })
    }

    /// Streams the blob `key`.
    pub async fn get_stream(
        &self,
        key: &str,
    ) -> Result<BoxStream<'static, Result<Bytes, StoreError>>, StoreError> {
        let result = self.inner.get(&self.path(key)).await?;
        Ok(result.into_stream().map_err(StoreError::from).boxed())
    }

    /// Reads bytes `start..end` of the blob `key`.
    pub async fn get_range(&self, key: &str, start: u64, end: u64) -> Result<Bytes, StoreError> {
        Ok(self.inner.get_range(&self.path(key), start..end).await?)
    }

    /// Reads a whole blob into memory (for small blobs only).
    pub async fn get_bytes(&self, key: &str) -> Result<Bytes, StoreError> {
        Ok(self.inner.get(&self.path(key)).await?.bytes().await?)
    }

    /// Removes the blob `key`; a missing blob is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self.inner.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A local blob store, and an S3 one when `ASSAY_TEST_S3_ENDPOINT` names a local
    /// S3-compatible server with the bucket `ASSAY_TEST_S3_BUCKET` (CI starts one; with
    /// `ASSAY_TEST_REQUIRE_S3=1` a missing endpoint fails instead of skipping).
    fn stores(dir: &Path) -> Vec<(&'static str, BlobStore)> {
        let mut stores = vec![(
            "local",
            BlobStore::open(&StorageConfig {
                path: dir.display().to_string(),
                ..Default::default()
            })
            .unwrap(),
        )];
        match std::env::var("ASSAY_TEST_S3_ENDPOINT") {
            Ok(endpoint) if !endpoint.is_empty() => {
                let config = StorageConfig {
                    kind: StorageKind::S3,
                    bucket: std::env::var("ASSAY_TEST_S3_BUCKET")
                        .unwrap_or_else(|_| "assay-test".into()),
                    endpoint,
                    region: "us-east-1".into(),
                    prefix: format!("t{}", uuid_like()),
                    allow_http: true,
                    ..Default::default()
                };
                stores.push(("s3", BlobStore::open(&config).unwrap()));
            }
            _ => {
                assert!(
                    std::env::var("ASSAY_TEST_REQUIRE_S3").as_deref() != Ok("1"),
                    "ASSAY_TEST_REQUIRE_S3=1 but ASSAY_TEST_S3_ENDPOINT is unset"
                );
                eprintln!("ASSAY_TEST_S3_ENDPOINT unset: S3 half skipped");
            }
        }
        stores
    }

    fn uuid_like() -> String {
        format!("{:x}", rand::random::<u64>())
    }

    #[tokio::test]
    async fn streams_in_and_out_with_hash() {
        let dir = tempfile::tempdir().unwrap();
        for (name, store) in stores(dir.path()) {
            let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
                Ok(Bytes::from_static(b"hello ")),
                Ok(Bytes::from_static(b"world")),
            ];
            let out = store
                .put_stream("a/b", futures::stream::iter(chunks), 100)
                .await
                .unwrap();
            assert_eq!(out.bytes, 11, "{name}");
            assert_eq!(
                out.sha256,
                "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
            );
            assert_eq!(
                store.get_bytes("a/b").await.unwrap(),
                Bytes::from_static(b"hello world"),
                "{name}"
            );
            let streamed: Vec<Bytes> = store
                .get_stream("a/b")
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            assert_eq!(streamed.concat(), b"hello world", "{name}");
            store.delete("a/b").await.unwrap();
            store.delete("a/b").await.unwrap();
            assert!(store.get_bytes("a/b").await.is_err(), "{name}");
        }
    }

    #[tokio::test]
    async fn large_uploads_stream_in_parts() {
        let dir = tempfile::tempdir().unwrap();
        for (name, store) in stores(dir.path()) {
            // 12 MiB in 64 KiB chunks: more than two multipart parts.
            let chunk = Bytes::from(vec![7u8; 64 * 1024]);
            let chunks = (0..192).map(|_| Ok::<_, std::io::Error>(chunk.clone()));
            let out = store
                .put_stream("big", futures::stream::iter(chunks), 64 * 1024 * 1024)
                .await
                .unwrap();
            assert_eq!(out.bytes, 12 * 1024 * 1024, "{name}");
            assert_eq!(
                store.get_bytes("big").await.unwrap().len(),
                12 * 1024 * 1024
            );
            store.delete("big").await.unwrap();
        }
    }

    #[tokio::test]
    async fn oversized_upload_keeps_nothing() {
        let dir = tempfile::tempdir().unwrap();
        for (name, store) in stores(dir.path()) {
            let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
                Ok(Bytes::from(vec![1u8; 60])),
                Ok(Bytes::from(vec![2u8; 60])),
            ];
            let err = store
                .put_stream("big", futures::stream::iter(chunks), 100)
                .await
                .unwrap_err();
            assert!(matches!(err, PutError::TooLarge { limit: 100 }), "{name}");
            assert!(store.get_bytes("big").await.is_err(), "{name}");
        }
    }

    #[tokio::test]
    async fn failed_source_keeps_nothing() {
        let dir = tempfile::tempdir().unwrap();
        for (name, store) in stores(dir.path()) {
            let chunks: Vec<Result<Bytes, &str>> = vec![Ok(Bytes::from_static(b"x")), Err("gone")];
            let err = store
                .put_stream("broken", futures::stream::iter(chunks), 100)
                .await
                .unwrap_err();
            assert!(matches!(err, PutError::Source("gone")), "{name}");
            assert!(store.get_bytes("broken").await.is_err(), "{name}");
        }
    }

    #[test]
    fn s3_needs_a_bucket() {
        let err = BlobStore::open(&StorageConfig {
            kind: StorageKind::S3,
            ..Default::default()
        });
        assert!(matches!(err, Err(StoreError::Config(_))));
    }
}
