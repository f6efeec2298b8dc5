//! The synchronous part: tokenizing and one forward pass over a padded batch, then pooling.
//! Everything here is CPU-bound and runs on blocking threads.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config as BertConfig};
use tokenizers::{Tokenizer, TruncationParams};

use super::config::{invalid, read, PoolingMode, SentenceConfig};
use crate::LoadError;

/// A loaded sentence-transformer: BERT encoder, tokenizer, pooling.
pub(crate) struct Encoder {
    model: BertModel,
    tokenizer: Tokenizer,
    pub(crate) sentence: SentenceConfig,
    /// The encoder's hidden size (one token vector).
    pub(crate) hidden_size: usize,
    pad_id: u32,
    device: Device,
}

impl Encoder {
    pub(crate) fn load(dir: &Path) -> Result<Self, LoadError> {
        let config_path = dir.join("config.json");
        let config: BertConfig = serde_json::from_slice(&read(&config_path)?)
            .map_err(|e| invalid(&config_path, format!("not a BERT config: {e}")))?;
        if config.position_embedding_type != Default::default() {
            return Err(invalid(
                &config_path,
                "only absolute position embeddings are supported",
            ));
        }
        let sentence = SentenceConfig::load(dir, config.max_position_embeddings)?;

        let tokenizer_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_bytes(read(&tokenizer_path)?)
            .map_err(|e| invalid(&tokenizer_path, format!("cannot read the tokenizer: {e}")))?;
        // Padding is done per batch here; truncation is the model's contract (its
        // `max_seq_length`, special tokens included), whatever the file says.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: sentence.max_seq_length,
                ..Default::default()
            }))
            .map_err(|e| invalid(&tokenizer_path, format!("cannot set truncation: {e}")))?;

        let weights_path = dir.join("model.safetensors");
        let device = Device::Cpu;
        let vb = VarBuilder::from_buffered_safetensors(read(&weights_path)?, DType::F32, &device)
            .map_err(|e| invalid(&weights_path, format!("cannot read the weights: {e}")))?;
        let model = BertModel::load(vb, &config)
            .map_err(|e| invalid(&weights_path, format!("not a BERT model: {e}")))?;
        Ok(Self {
            model,
            tokenizer,
            sentence,
            hidden_size: config.hidden_size,
            pad_id: config.pad_token_id as u32,
            device,
        })
    }

    /// Length of the sentence vectors.
    pub(crate) fn dimension(&self) -> usize {
        self.hidden_size * self.sentence.pooling.len()
    }

    /// Token ids of each text, special tokens included, truncated to `max_seq_length`.
    pub(crate) fn tokenize(&self, texts: &[String]) -> Result<Vec<Vec<u32>>, String> {
        texts
            .iter()
            .map(|t| {
                self.tokenizer
                    .encode(t.as_str(), true)
                    .map(|e| e.get_ids().to_vec())
                    .map_err(|e| format!("tokenizing failed: {e}"))
            })
            .collect()
    }

    /// Sentence vectors of `batch` (token ids as from [`tokenize`](Self::tokenize)), in order.
    pub(crate) fn encode(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>, String> {
        self.encode_inner(batch)
            .map_err(|e| format!("embedding inference failed: {e}"))
    }

    fn encode_inner(&self, batch: &[&[u32]]) -> candle_core::Result<Vec<Vec<f32>>> {
        let rows = batch.len();
        let len = batch.iter().map(|t| t.len()).max().unwrap_or(0);
        if rows == 0 || len == 0 {
            return Ok(vec![vec![0.0; self.dimension()]; rows]);
        }
        let mut ids = Vec::with_capacity(rows * len);
        let mut mask = Vec::with_capacity(rows * len);
        for tokens in batch {
            ids.extend_from_slice(tokens);
            ids.extend(std::iter::repeat_n(self.pad_id, len - tokens.len()));
            mask.extend(std::iter::repeat_n(1u32, tokens.len()));
            mask.extend(std::iter::repeat_n(0u32, len - tokens.len()));
        }
        let ids = Tensor::from_vec(ids, (rows, len), &self.device)?;
        let type_ids = ids.zeros_like()?;
        let mask_t = Tensor::from_vec(mask, (rows, len), &self.device)?;
        let hidden = self.model.forward(&ids, &type_ids, Some(&mask_t))?;
        let hidden = hidden.flatten_all()?.to_vec1::<f32>()?;
        Ok(batch
            .iter()
            .enumerate()
            .map(|(row, tokens)| {
                let start = row * len * self.hidden_size;
                let tokens_hidden = &hidden[start..start + tokens.len() * self.hidden_size];
                let mut v = pool(tokens_hidden, self.hidden_size, &self.sentence.pooling);
                if self.sentence.normalize {
                    l2_normalize(&mut v);
                }
                v
            })
            .collect())
    }
}

/// Pools the token vectors of one text (`tokens.len() / hidden` rows of `hidden`, padding
/// already cut off) into one vector: each mode's result, concatenated.
pub(crate) fn pool(tokens: &[f32], hidden: usize, modes: &[PoolingMode]) -> Vec<f32> {
    let n = tokens.len() / hidden;
    let mut out = Vec::with_capacity(hidden * modes.len());
    for mode in modes {
        match mode {
            PoolingMode::Cls => out.extend_from_slice(&tokens[..hidden.min(tokens.len())]),
            PoolingMode::Max => {
                let mut max = vec![f32::NEG_INFINITY; hidden];
                for row in tokens.chunks_exact(hidden) {
                    for (m, x) in max.iter_mut().zip(row) {
                        *m = m.max(*x);
                    }
                }
                out.extend(max);
            }
            PoolingMode::Mean | PoolingMode::MeanSqrtLen => {
                let mut sum = vec![0.0f32; hidden];
                for row in tokens.chunks_exact(hidden) {
                    for (s, x) in sum.iter_mut().zip(row) {
                        *s += *x;
                    }
                }
                let div = match mode {
                    PoolingMode::Mean => n.max(1) as f32,
                    _ => (n.max(1) as f32).sqrt(),
                };
                out.extend(sum.into_iter().map(|s| s / div));
            }
        }
    }
    out
}

/// Scales `v` to unit length (as `torch.nn.functional.normalize`: the norm is at least 1e-12).
pub(crate) fn l2_normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    for x in v {
        *x /= norm;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooling_modes() {
        // Two tokens of hidden size 2.
        let t = [1.0, -2.0, 3.0, 4.0];
        assert_eq!(pool(&t, 2, &[PoolingMode::Cls]), vec![1.0, -2.0]);
        assert_eq!(pool(&t, 2, &[PoolingMode::Max]), vec![3.0, 4.0]);
        assert_eq!(pool(&t, 2, &[PoolingMode::Mean]), vec![2.0, 1.0]);
        let s = 2f32.sqrt();
        assert_eq!(
            pool(&t, 2, &[PoolingMode::MeanSqrtLen]),
            vec![4.0 / s, 2.0 / s]
        );
        assert_eq!(
            pool(&t, 2, &[PoolingMode::Cls, PoolingMode::Mean]),
            vec![1.0, -2.0, 2.0, 1.0]
        );
    }

    #[test]
    fn normalizing() {
        let mut v = [3.0, 4.0];
        l2_normalize(&mut v);
        assert_eq!(v, [0.6, 0.8]);
        let mut zero = [0.0, 0.0];
        l2_normalize(&mut zero);
        assert_eq!(zero, [0.0, 0.0]);
    }
}
