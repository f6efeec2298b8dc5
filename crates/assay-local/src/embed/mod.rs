//! Sentence-transformer embeddings on the CPU (candle): a BERT-family encoder from
//! `model.safetensors` + `config.json`, its `tokenizer.json`, and the pooling and
//! normalization its sentence-transformers files ask for (`modules.json`,
//! `1_Pooling/config.json`, `sentence_bert_config.json`).
//!
//! Texts longer than the model's `max_seq_length` are truncated to it, as
//! sentence-transformers does: that is the model's contract, not an error.
//!
//! Inference runs on blocking threads, at most one batch per CPU core at a time (across all
//! callers). A request's texts are ordered by length and split into batches, so little
//! compute is spent on padding; the vectors come back in input order.

mod config;
mod encoder;

use std::path::Path;
use std::sync::Arc;

use assay_models::{
    AttemptError, ErrorKind, ModelBackend, RawEmbeddings, ResolvedModel, Role, Usage,
};
use futures::future::BoxFuture;
use tokio::sync::Semaphore;

use crate::not_retryable;

pub use config::{PoolingMode, SentenceConfig};
use encoder::Encoder;

/// Most texts in one forward pass.
const MAX_BATCH_TEXTS: usize = 32;
/// Most padded tokens (texts × longest text) in one forward pass, to bound the memory of the
/// attention scores for long texts.
const MAX_BATCH_TOKENS: usize = 8192;

/// An in-process sentence-transformer serving the gateway's `embed` calls.
///
/// Cheap to share: clone the `Arc` it is usually held in. Calls are cancel-safe: dropping an
/// `embed` future starts no further batch (a batch already running finishes on its blocking
/// thread and its result is discarded).
pub struct EmbeddingBackend {
    encoder: Arc<Encoder>,
    workers: Arc<Semaphore>,
}

impl std::fmt::Debug for EmbeddingBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddingBackend")
            .field("sentence", &self.encoder.sentence)
            .field("dimension", &self.encoder.dimension())
            .finish_non_exhaustive()
    }
}

impl EmbeddingBackend {
    /// Loads the sentence-transformers model in `dir` (`model.safetensors`, `config.json`,
    /// `tokenizer.json`, and optionally `modules.json`, `1_Pooling/config.json`,
    /// `sentence_bert_config.json`; without them: mean pooling, no normalization, the model's
    /// `max_position_embeddings` tokens). At most one batch per available core runs at once.
    pub fn load(dir: &Path) -> Result<Self, crate::LoadError> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::load_with_workers(dir, cores)
    }

    /// As [`load`](Self::load), running at most `workers` (≥ 1) batches at once.
    pub fn load_with_workers(dir: &Path, workers: usize) -> Result<Self, crate::LoadError> {
        let encoder = Encoder::load(dir)?;
        Ok(Self {
            encoder: Arc::new(encoder),
            workers: Arc::new(Semaphore::new(workers.max(1))),
        })
    }

    /// Length of the vectors this model returns.
    pub fn dimension(&self) -> usize {
        self.encoder.dimension()
    }

    /// The pooling, normalization and input length read from the model's files.
    pub fn sentence_config(&self) -> &SentenceConfig {
        &self.encoder.sentence
    }

    /// Embeds `texts` (one vector per text, in order) with token usage: `input_tokens` counts
    /// the tokens the model read, special tokens included, after truncation.
    pub async fn embed_texts(&self, texts: &[String]) -> Result<RawEmbeddings, AttemptError> {
        if texts.is_empty() {
            return Ok(RawEmbeddings {
                vectors: Vec::new(),
                usage: Some(Usage::default()),
            });
        }
        let owned = texts.to_vec();
        let tokens = Arc::new(self.run(move |enc| enc.tokenize(&owned)).await?);
        let input_tokens = tokens.iter().map(|t| t.len() as u64).sum();

        let batches = plan_batches(&tokens, MAX_BATCH_TEXTS, MAX_BATCH_TOKENS);
        let jobs = batches.into_iter().map(|rows| {
            let tokens = Arc::clone(&tokens);
            self.run(move |enc| {
                let batch: Vec<&[u32]> = rows.iter().map(|&i| tokens[i].as_slice()).collect();
                enc.encode(&batch).map(|vectors| (rows, vectors))
            })
        });
        let done = futures::future::try_join_all(jobs).await?;

        let mut vectors = vec![Vec::new(); texts.len()];
        for (rows, batch_vectors) in done {
            for (i, v) in rows.into_iter().zip(batch_vectors) {
                vectors[i] = v;
            }
        }
        Ok(RawEmbeddings {
            vectors,
            usage: Some(Usage {
                input_tokens,
                ..Usage::default()
            }),
        })
    }

    /// Runs `job` on a blocking thread once a worker slot is free. The slot is held by the
    /// blocking thread, so a dropped caller cannot oversubscribe the CPU.
    async fn run<T, F>(&self, job: F) -> Result<T, AttemptError>
    where
        T: Send + 'static,
        F: FnOnce(&Encoder) -> Result<T, String> + Send + 'static,
    {
        let permit = Arc::clone(&self.workers)
            .acquire_owned()
            .await
            .map_err(|_| AttemptError::new(ErrorKind::ServerError, "embedding workers closed"))?;
        let encoder = Arc::clone(&self.encoder);
        let result = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            job(&encoder)
        })
        .await;
        match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(message)) => Err(not_retryable(ErrorKind::ServerError, message)),
            Err(e) => Err(not_retryable(
                ErrorKind::ServerError,
                format!("embedding worker failed: {e}"),
            )),
        }
    }
}

/// Groups text indices into batches of similar length: indices ordered by token count, cut
/// when a batch reaches `max_texts` texts or its padded size would exceed `max_tokens`.
fn plan_batches(tokens: &[Vec<u32>], max_texts: usize, max_tokens: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..tokens.len()).collect();
    order.sort_by_key(|&i| tokens[i].len());
    let mut batches: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    for i in order {
        // Sorted ascending, so text `i` is the longest of the batch it joins.
        let padded = (current.len() + 1) * tokens[i].len();
        if !current.is_empty() && (current.len() >= max_texts || padded > max_tokens) {
            batches.push(std::mem::take(&mut current));
        }
        current.push(i);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

/// Generation is refused (the trait's default): admission never sends it here, since the
/// backend serves only embeddings.
impl ModelBackend for EmbeddingBackend {
    fn embed<'a>(
        &'a self,
        _target: &'a ResolvedModel,
        texts: &'a [String],
    ) -> BoxFuture<'a, Result<RawEmbeddings, AttemptError>> {
        Box::pin(self.embed_texts(texts))
    }

    fn serves(&self, role: Role) -> bool {
        role == Role::Embedding
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_by_length_within_limits() {
        let tokens: Vec<Vec<u32>> = [5, 1, 3, 3, 9, 2].iter().map(|&n| vec![0; n]).collect();
        let batches = plan_batches(&tokens, 2, 100);
        assert_eq!(batches, vec![vec![1, 5], vec![2, 3], vec![0, 4]]);
        // Padded-token budget: [1,2] → 2·2=4 ok, adding 3 → 3·3=9 > 8.
        let batches = plan_batches(&tokens, 10, 8);
        assert_eq!(batches, vec![vec![1, 5], vec![2, 3], vec![0], vec![4]]);
        // A text longer than the budget still gets its own batch.
        assert_eq!(plan_batches(&[vec![0; 20]], 4, 8), vec![vec![0]]);
        assert!(plan_batches(&[], 4, 8).is_empty());
    }
}
