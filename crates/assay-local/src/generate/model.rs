//! The transformer behind a GGUF file: candle's quantized implementations, chosen by
//! `general.architecture`, and the weight preparation that makes them fast on the CPU.

use std::io::Cursor;

use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use candle_transformers::models::{
    quantized_gemma3, quantized_llama, quantized_phi3, quantized_qwen2, quantized_qwen3,
};

/// The architectures this crate can run, by their `general.architecture` name.
pub const SUPPORTED_ARCHITECTURES: &[&str] =
    &["llama", "mistral", "qwen2", "qwen3", "gemma3", "phi3"];

/// One instance of a model with its own KV cache. Instances made by [`Model::fork`] share the
/// weights (read-only tensors are reference counted).
pub(crate) enum Model {
    Llama(quantized_llama::ModelWeights),
    Qwen2(Box<quantized_qwen2::ModelWeights>),
    Qwen3(quantized_qwen3::ModelWeights),
    /// Without a cache reset in candle: a pristine copy to restart from.
    Gemma3 {
        pristine: Box<quantized_gemma3::ModelWeights>,
        live: Box<quantized_gemma3::ModelWeights>,
    },
    /// Without a cache reset in candle: a pristine copy to restart from.
    Phi3 {
        pristine: Box<quantized_phi3::ModelWeights>,
        live: Box<quantized_phi3::ModelWeights>,
    },
}

/// Quantization formats candle's CPU kernels run without SIMD; their tensors are converted to
/// `Q8_0` (which has AVX2/NEON dot products) when loading. `Q8_0` holds every value of these
/// formats to within 1/254 of its block's largest magnitude.
const SLOW_DTYPES: &[GgmlDType] = &[GgmlDType::Q4_1, GgmlDType::Q5_0, GgmlDType::Q5_1];

/// The GGUF content and tensor bytes, with slow-to-multiply matrices converted to `Q8_0`.
pub(crate) struct PreparedGguf {
    pub content: gguf_file::Content,
    pub data: Vec<u8>,
}

impl PreparedGguf {
    /// Takes `bytes` (a whole GGUF file) and, when `convert`, converts the matrices in
    /// [`SLOW_DTYPES`].
    pub fn new(
        content: gguf_file::Content,
        bytes: Vec<u8>,
        convert: bool,
    ) -> candle_core::Result<Self> {
        let needs_conversion = convert
            && content.tensor_infos.iter().any(|(name, info)| {
                SLOW_DTYPES.contains(&info.ggml_dtype) && convertible(name, info.shape.dims())
            });
        if !needs_conversion {
            return Ok(Self {
                content,
                data: bytes,
            });
        }
        let device = Device::Cpu;
        let mut reader = Cursor::new(&bytes);
        let mut names: Vec<&String> = content.tensor_infos.keys().collect();
        names.sort();
        let mut tensors: Vec<(String, QTensor)> = Vec::with_capacity(names.len());
        for name in names {
            let info = &content.tensor_infos[name];
            let qt = content.tensor(&mut reader, name, &device)?;
            let qt =
                if SLOW_DTYPES.contains(&info.ggml_dtype) && convertible(name, info.shape.dims()) {
                    let dense = qt.dequantize(&device)?;
                    QTensor::quantize(&dense, GgmlDType::Q8_0)?
                } else {
                    qt
                };
            tensors.push((name.clone(), qt));
        }
        drop(bytes);
        let refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
        let mut out = Cursor::new(Vec::new());
        gguf_file::write(&mut out, &[], &refs)?;
        let data = out.into_inner();
        let written = gguf_file::Content::read(&mut Cursor::new(&data))?;
        Ok(Self {
            content: gguf_file::Content {
                magic: content.magic,
                metadata: content.metadata,
                tensor_infos: written.tensor_infos,
                tensor_data_offset: written.tensor_data_offset,
            },
            data,
        })
    }

    /// A fresh copy of the content (the tensor table is re-read from `data`).
    fn content_copy(&self) -> candle_core::Result<gguf_file::Content> {
        let table = gguf_file::Content::read(&mut Cursor::new(&self.data))?;
        Ok(gguf_file::Content {
            magic: self.content.magic,
            metadata: self.content.metadata.clone(),
            tensor_infos: table.tensor_infos,
            tensor_data_offset: table.tensor_data_offset,
        })
    }
}

/// Matrices multiplied by `QMatMul` (2-D, rows a multiple of the 32-wide block).
fn convertible(name: &str, dims: &[usize]) -> bool {
    dims.len() == 2 && dims[1].is_multiple_of(32) && name.ends_with(".weight")
}

impl Model {
    /// Builds the model for `arch` from prepared weights.
    pub fn load(arch: &str, gguf: &PreparedGguf) -> candle_core::Result<Self> {
        let device = Device::Cpu;
        let ct = gguf.content_copy()?;
        let mut r = Cursor::new(gguf.data.as_slice());
        Ok(match arch {
            "llama" | "mistral" => Model::Llama(quantized_llama::ModelWeights::from_gguf(
                ct, &mut r, &device,
            )?),
            "qwen2" => Model::Qwen2(Box::new(quantized_qwen2::ModelWeights::from_gguf(
                ct, &mut r, &device,
            )?)),
            "qwen3" => Model::Qwen3(quantized_qwen3::ModelWeights::from_gguf(
                ct, &mut r, &device,
            )?),
            "gemma3" => {
                let m = quantized_gemma3::ModelWeights::from_gguf(ct, &mut r, &device)?;
                Model::Gemma3 {
                    pristine: Box::new(m.clone()),
                    live: Box::new(m),
                }
            }
            "phi3" => {
                let m = quantized_phi3::ModelWeights::from_gguf(false, ct, &mut r, &device)?;
                Model::Phi3 {
                    pristine: Box::new(m.clone()),
                    live: Box::new(m),
                }
            }
            other => candle_core::bail!(
                "unsupported architecture {other:?} (supported: {})",
                SUPPORTED_ARCHITECTURES.join(", ")
            ),
        })
    }

    /// Another instance sharing the weights, with its own (empty) KV cache; `None` when the
    /// implementation cannot be cloned (load another one instead).
    pub fn fork(&self) -> Option<Model> {
        match self {
            Model::Llama(m) => {
                let mut m = m.clone();
                m.clear_kv_cache();
                Some(Model::Llama(m))
            }
            Model::Qwen2(_) => None,
            Model::Qwen3(m) => {
                let mut m = m.clone();
                m.clear_kv_cache();
                Some(Model::Qwen3(m))
            }
            Model::Gemma3 { pristine, .. } => Some(Model::Gemma3 {
                pristine: pristine.clone(),
                live: pristine.clone(),
            }),
            Model::Phi3 { pristine, .. } => Some(Model::Phi3 {
                pristine: pristine.clone(),
                live: pristine.clone(),
            }),
        }
    }

    /// Forgets every cached position, ready for a new sequence.
    pub fn reset(&mut self) {
        match self {
            Model::Llama(m) => m.clear_kv_cache(),
            Model::Qwen2(m) => m.clear_kv_cache(),
            Model::Qwen3(m) => m.clear_kv_cache(),
            Model::Gemma3 { pristine, live } => *live = pristine.clone(),
            Model::Phi3 { pristine, live } => *live = pristine.clone(),
        }
    }

    /// Feeds `tokens` at positions `pos..` and returns the logits of the last one.
    pub fn forward(&mut self, tokens: &[u32], pos: usize) -> candle_core::Result<Vec<f32>> {
        let input = Tensor::new(tokens, &Device::Cpu)?.unsqueeze(0)?;
        let logits = match self {
            Model::Llama(m) => m.forward(&input, pos)?,
            Model::Qwen2(m) => m.forward(&input, pos)?,
            Model::Qwen3(m) => m.forward(&input, pos)?,
            Model::Gemma3 { live, .. } => live.forward(&input, pos)?,
            Model::Phi3 { live, .. } => live.forward(&input, pos)?,
        };
        let logits = logits.to_dtype(candle_core::DType::F32)?;
        let vocab = *logits.dims().last().unwrap_or(&0);
        let all = logits.flatten_all()?.to_vec1::<f32>()?;
        // Some implementations return every position; keep the last.
        Ok(all[all.len() - vocab..].to_vec())
    }
}

/// The context window the implementation supports for `arch`, from the metadata when given.
pub(crate) fn context_length(
    arch: &str,
    metadata: &std::collections::HashMap<String, gguf_file::Value>,
) -> usize {
    let declared = metadata
        .get(&format!("{arch}.context_length"))
        .and_then(|v| v.to_u64().ok().or_else(|| v.to_u32().ok().map(u64::from)))
        .map(|v| v as usize);
    let implementation_cap = match arch {
        "llama" | "mistral" => quantized_llama::MAX_SEQ_LEN,
        "gemma3" => quantized_gemma3::MAX_SEQ_LEN,
        _ => usize::MAX,
    };
    declared.unwrap_or(4096).min(implementation_cap)
}
