//! The sentence-transformers side of a model directory: which pooling the model was trained
//! with, whether its vectors are L2-normalized, and how many tokens it reads.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::LoadError;

/// One way of turning per-token vectors into one sentence vector
/// (sentence-transformers' `Pooling` module). When a model asks for several, their results
/// are concatenated in the order of this enum's variants, as sentence-transformers does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolingMode {
    /// The first token's (`[CLS]`) vector.
    Cls,
    /// The element-wise maximum over the real (unpadded) tokens.
    Max,
    /// The mean over the real tokens.
    Mean,
    /// The sum over the real tokens divided by the square root of their number.
    MeanSqrtLen,
}

/// How a model's token vectors become sentence vectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentenceConfig {
    /// Pooling modes, in concatenation order (never empty).
    pub pooling: Vec<PoolingMode>,
    /// Whether the pooled vector is L2-normalized (a `Normalize` module in `modules.json`).
    pub normalize: bool,
    /// The most tokens (special tokens included) the model reads of one text; longer texts
    /// are truncated. At most the model's `max_position_embeddings`.
    pub max_seq_length: usize,
}

#[derive(Deserialize)]
struct PoolingFile {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
    /// Newer sentence-transformers also write the mode by name.
    #[serde(default)]
    pooling_mode: Option<String>,
}

#[derive(Deserialize)]
struct ModuleEntry {
    #[serde(default)]
    path: String,
    #[serde(rename = "type", default)]
    kind: String,
}

pub(crate) fn invalid(path: &Path, message: impl Into<String>) -> LoadError {
    LoadError::invalid(path, message)
}

pub(crate) fn read(path: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Reads an optional JSON file: `Ok(None)` when it does not exist.
fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, LoadError> {
    if !path.exists() {
        return Ok(None);
    }
    let bytes = read(path)?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| invalid(path, format!("not valid JSON for this file: {e}")))
}

impl SentenceConfig {
    /// Reads `modules.json`, the pooling module's `config.json` and
    /// `sentence_bert_config.json` from `dir`. Missing files mean the sentence-transformers
    /// defaults: mean pooling, no normalization, `max_position_embeddings` tokens.
    pub fn load(dir: &Path, max_position_embeddings: usize) -> Result<Self, LoadError> {
        let modules: Vec<ModuleEntry> = read_json(&dir.join("modules.json"))?.unwrap_or_default();
        let normalize = modules
            .iter()
            .any(|m| m.kind.rsplit('.').next() == Some("Normalize"));
        let pooling_dir = modules
            .iter()
            .find(|m| m.kind.rsplit('.').next() == Some("Pooling"))
            .map(|m| m.path.clone())
            .unwrap_or_else(|| "1_Pooling".to_string());
        let pooling_path = dir.join(&pooling_dir).join("config.json");
        let pooling = match read_json::<PoolingFile>(&pooling_path)? {
            None => vec![PoolingMode::Mean],
            Some(p) => pooling_modes(&p).map_err(|m| invalid(&pooling_path, m))?,
        };

        let st_path = dir.join("sentence_bert_config.json");
        let st: Option<Value> = read_json(&st_path)?;
        let max_seq_length = match st.as_ref().and_then(|v| v.get("max_seq_length")) {
            None | Some(Value::Null) => max_position_embeddings,
            Some(v) => v
                .as_u64()
                .filter(|&n| n >= 2)
                .ok_or_else(|| invalid(&st_path, "max_seq_length must be an integer ≥ 2"))?
                as usize,
        }
        .min(max_position_embeddings);
        Ok(Self {
            pooling,
            normalize,
            max_seq_length,
        })
    }
}

fn pooling_modes(p: &PoolingFile) -> Result<Vec<PoolingMode>, String> {
    let mut modes = Vec::new();
    if p.pooling_mode_cls_token {
        modes.push(PoolingMode::Cls);
    }
    if p.pooling_mode_max_tokens {
        modes.push(PoolingMode::Max);
    }
    if p.pooling_mode_mean_tokens {
        modes.push(PoolingMode::Mean);
    }
    if p.pooling_mode_mean_sqrt_len_tokens {
        modes.push(PoolingMode::MeanSqrtLen);
    }
    if modes.is_empty() {
        let named = match p.pooling_mode.as_deref() {
            Some("cls") => PoolingMode::Cls,
            Some("max") => PoolingMode::Max,
            Some("mean") | None => PoolingMode::Mean,
            Some("mean_sqrt_len_tokens") => PoolingMode::MeanSqrtLen,
            Some(other) => return Err(format!("unsupported pooling mode {other:?}")),
        };
        modes.push(named);
    }
    Ok(modes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, body: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }

    #[test]
    fn defaults_without_sentence_transformers_files() {
        let dir = tempfile::tempdir().unwrap();
        let c = SentenceConfig::load(dir.path(), 512).unwrap();
        assert_eq!(c.pooling, vec![PoolingMode::Mean]);
        assert!(!c.normalize);
        assert_eq!(c.max_seq_length, 512);
    }

    #[test]
    fn reads_pooling_normalize_and_length() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "modules.json",
            r#"[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
                {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},
                {"idx":2,"name":"2","path":"2_Normalize","type":"sentence_transformers.models.Normalize"}]"#,
        );
        write(
            dir.path(),
            "1_Pooling/config.json",
            r#"{"word_embedding_dimension":384,"pooling_mode_cls_token":true,"pooling_mode_mean_tokens":false}"#,
        );
        write(
            dir.path(),
            "sentence_bert_config.json",
            r#"{"max_seq_length":1024,"do_lower_case":false}"#,
        );
        let c = SentenceConfig::load(dir.path(), 512).unwrap();
        assert_eq!(c.pooling, vec![PoolingMode::Cls]);
        assert!(c.normalize);
        assert_eq!(c.max_seq_length, 512, "capped by the position embeddings");
    }

    #[test]
    fn several_modes_concatenate_in_sentence_transformers_order() {
        let p = PoolingFile {
            pooling_mode_cls_token: true,
            pooling_mode_mean_tokens: true,
            pooling_mode_max_tokens: true,
            pooling_mode_mean_sqrt_len_tokens: false,
            pooling_mode: None,
        };
        assert_eq!(
            pooling_modes(&p).unwrap(),
            vec![PoolingMode::Cls, PoolingMode::Max, PoolingMode::Mean]
        );
    }

    #[test]
    fn rejects_unknown_named_mode() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "1_Pooling/config.json",
            r#"{"pooling_mode":"weightedmean"}"#,
        );
        let err = SentenceConfig::load(dir.path(), 512).unwrap_err();
        assert!(err.to_string().contains("weightedmean"), "{err}");
    }
}
