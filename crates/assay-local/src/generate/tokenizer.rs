//! The tokenizer a GGUF file describes in its metadata (`tokenizer.ggml.*`), rebuilt as a
//! [`tokenizers::Tokenizer`]:
//!
//! - `gpt2` (byte-level BPE: llama 3, qwen, SmolLM, …): vocabulary and merges as stored, the
//!   pre-tokenizer that `tokenizer.ggml.pre` names, byte-level decoding;
//! - `llama` (SentencePiece BPE: gemma, phi3, llama 2, …): merges derived from the piece scores,
//!   `▁` for spaces, byte fallback.
//!
//! Control and user-defined tokens are matched as whole tokens in the input, so a rendered chat
//! template tokenizes to its role markers.

use std::collections::HashMap;

use candle_core::quantized::gguf_file::Value;
use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::decoders::strip::Strip;
use tokenizers::models::bpe::BPE;
use tokenizers::normalizers::{Prepend, Replace};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{
    AddedToken, DecoderWrapper, NormalizerWrapper, PreTokenizerWrapper, SplitDelimiterBehavior,
    Tokenizer,
};

/// GGUF token types (`tokenizer.ggml.token_type`).
const TYPE_CONTROL: i32 = 3;
const TYPE_USER_DEFINED: i32 = 4;

/// Texts of tokens that end a turn in common chat formats, treated as end of generation.
const END_OF_TURN_TEXTS: &[&str] = &[
    "<|im_end|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|end_of_text|>",
];

/// The GPT-2 split (tiktoken `r50k` style) used by `gpt2`-family vocabularies.
const GPT2_SPLIT: &str =
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
/// Llama 3's split (digits in groups of up to three).
const LLAMA3_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Qwen 2's split (single digits).
const QWEN2_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// A GGUF model's tokenizer with its special ids.
#[derive(Clone)]
pub struct GgufTokenizer {
    inner: Tokenizer,
    bos: Option<u32>,
    add_bos: bool,
    end_of_generation: Vec<u32>,
    tokens: Vec<String>,
}

impl std::fmt::Debug for GgufTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufTokenizer")
            .field("vocab_size", &self.tokens.len())
            .field("bos", &self.bos)
            .field("add_bos", &self.add_bos)
            .field("end_of_generation", &self.end_of_generation)
            .finish()
    }
}

fn strings(md: &HashMap<String, Value>, key: &str) -> Result<Vec<String>, String> {
    let v = md
        .get(key)
        .ok_or_else(|| format!("metadata has no {key}"))?
        .to_vec()
        .map_err(|e| format!("{key}: {e}"))?;
    v.iter()
        .map(|s| s.to_string().cloned().map_err(|e| format!("{key}: {e}")))
        .collect()
}

fn id(md: &HashMap<String, Value>, key: &str) -> Option<u32> {
    let v = md.get(key)?;
    v.to_u32()
        .ok()
        .or_else(|| v.to_i32().ok().and_then(|i| u32::try_from(i).ok()))
}

fn flag(md: &HashMap<String, Value>, key: &str) -> Option<bool> {
    md.get(key).and_then(|v| v.to_bool().ok())
}

fn token_types(md: &HashMap<String, Value>, n: usize) -> Vec<i32> {
    md.get("tokenizer.ggml.token_type")
        .and_then(|v| v.to_vec().ok())
        .map(|v| v.iter().map(|t| t.to_i32().unwrap_or(1)).collect())
        .unwrap_or_else(|| vec![1; n])
}

fn split(pattern: &str) -> Result<PreTokenizerWrapper, String> {
    Split::new(
        SplitPattern::Regex(pattern.to_string()),
        SplitDelimiterBehavior::Isolated,
        false,
    )
    .map(PreTokenizerWrapper::from)
    .map_err(|e| format!("pre-tokenizer regex: {e}"))
}

impl GgufTokenizer {
    /// Builds the tokenizer from a GGUF file's metadata.
    pub fn from_metadata(md: &HashMap<String, Value>) -> Result<Self, String> {
        let model = md
            .get("tokenizer.ggml.model")
            .and_then(|v| v.to_string().ok())
            .cloned()
            .ok_or("metadata has no tokenizer.ggml.model")?;
        let tokens = strings(md, "tokenizer.ggml.tokens")?;
        let types = token_types(md, tokens.len());
        let mut inner = match model.as_str() {
            "gpt2" => Self::byte_level(md, &tokens)?,
            "llama" => Self::sentencepiece(md, &tokens, &types)?,
            other => return Err(format!("unsupported tokenizer model {other:?}")),
        };
        let specials: Vec<AddedToken> = tokens
            .iter()
            .zip(&types)
            .filter(|(_, t)| **t == TYPE_CONTROL || **t == TYPE_USER_DEFINED)
            .map(|(s, t)| AddedToken::from(s.clone(), *t == TYPE_CONTROL).normalized(false))
            .collect();
        inner.add_special_tokens(&specials);

        let bos = id(md, "tokenizer.ggml.bos_token_id");
        let add_bos = flag(md, "tokenizer.ggml.add_bos_token").unwrap_or(model == "llama");
        let mut end_of_generation: Vec<u32> = [
            "tokenizer.ggml.eos_token_id",
            "tokenizer.ggml.eot_token_id",
            "tokenizer.ggml.eom_token_id",
        ]
        .iter()
        .filter_map(|k| id(md, k))
        .collect();
        for (i, (s, t)) in tokens.iter().zip(&types).enumerate() {
            if *t == TYPE_CONTROL && END_OF_TURN_TEXTS.contains(&s.as_str()) {
                end_of_generation.push(i as u32);
            }
        }
        end_of_generation.sort_unstable();
        end_of_generation.dedup();
        Ok(Self {
            inner,
            bos,
            add_bos,
            end_of_generation,
            tokens,
        })
    }

    fn byte_level(md: &HashMap<String, Value>, tokens: &[String]) -> Result<Tokenizer, String> {
        let merges = strings(md, "tokenizer.ggml.merges")?;
        let merges: Vec<(String, String)> = merges
            .iter()
            .map(|m| {
                m.split_once(' ')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .ok_or_else(|| format!("malformed merge {m:?}"))
            })
            .collect::<Result<_, _>>()?;
        let vocab: tokenizers::models::bpe::Vocab = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .build()
            .map_err(|e| format!("building BPE: {e}"))?;
        let pre = md
            .get("tokenizer.ggml.pre")
            .and_then(|v| v.to_string().ok())
            .map(String::as_str)
            .unwrap_or("default");
        let byte_level = PreTokenizerWrapper::from(ByteLevel::new(false, false, false));
        let pre_tokenizer = match pre {
            "llama3" | "llama-bpe" | "llama-v3" | "smaug-bpe" | "falcon3" => {
                Sequence::new(vec![split(LLAMA3_SPLIT)?, byte_level])
            }
            "qwen2" | "deepseek-r1-qwen" | "qwen35" => {
                Sequence::new(vec![split(QWEN2_SPLIT)?, byte_level])
            }
            // SmolLM: every digit apart, then the GPT-2 split.
            "smollm" | "starcoder" | "refact" => Sequence::new(vec![
                PreTokenizerWrapper::from(Digits::new(true)),
                split(GPT2_SPLIT)?,
                byte_level,
            ]),
            _ => Sequence::new(vec![split(GPT2_SPLIT)?, byte_level]),
        };
        let mut tk = Tokenizer::new(bpe);
        tk.with_pre_tokenizer(Some(pre_tokenizer));
        tk.with_decoder(Some(ByteLevelDecoder::new(false, false, false)));
        Ok(tk)
    }

    fn sentencepiece(
        md: &HashMap<String, Value>,
        tokens: &[String],
        types: &[i32],
    ) -> Result<Tokenizer, String> {
        let scores: Vec<f32> = md
            .get("tokenizer.ggml.scores")
            .and_then(|v| v.to_vec().ok())
            .map(|v| v.iter().map(|s| s.to_f32().unwrap_or(0.0)).collect())
            .unwrap_or_else(|| vec![0.0; tokens.len()]);
        let vocab: tokenizers::models::bpe::Vocab = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        // A piece's score ranks the merge that forms it (higher first), as SentencePiece does.
        let mut ranked: Vec<(f32, u32, String, String)> = Vec::new();
        for (i, piece) in tokens.iter().enumerate() {
            if types.get(i).copied().unwrap_or(1) != 1 {
                continue;
            }
            for (cut, _) in piece.char_indices().skip(1) {
                let (l, r) = piece.split_at(cut);
                if vocab.contains_key(l) && vocab.contains_key(r) {
                    ranked.push((scores[i], i as u32, l.to_string(), r.to_string()));
                }
            }
        }
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let merges = ranked.into_iter().map(|(_, _, l, r)| (l, r)).collect();
        let unk = id(md, "tokenizer.ggml.unknown_token_id")
            .and_then(|i| tokens.get(i as usize).cloned())
            .unwrap_or_else(|| "<unk>".into());
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .unk_token(unk)
            .byte_fallback(true)
            .fuse_unk(true)
            .build()
            .map_err(|e| format!("building BPE: {e}"))?;
        let add_space_prefix = flag(md, "tokenizer.ggml.add_space_prefix").unwrap_or(true);
        let mut tk = Tokenizer::new(bpe);
        let replace = Replace::new(" ", "▁").map_err(|e| e.to_string())?;
        let normalizer: NormalizerWrapper = if add_space_prefix {
            tokenizers::normalizers::Sequence::new(vec![
                Prepend::new("▁".into()).into(),
                replace.into(),
            ])
            .into()
        } else {
            replace.into()
        };
        tk.with_normalizer(Some(normalizer));
        let mut decoders: Vec<DecoderWrapper> = vec![
            Replace::new("▁", " ").map_err(|e| e.to_string())?.into(),
            ByteFallback::new().into(),
            Fuse::new().into(),
        ];
        if add_space_prefix {
            decoders.push(Strip::new(' ', 1, 0).into());
        }
        tk.with_decoder(Some(DecoderSequence::new(decoders)));
        Ok(tk)
    }

    /// Token ids of `text`, special tokens written in it included, with the BOS token first
    /// when the model asks for one (and `text` does not already start with it).
    pub fn encode(&self, text: &str, add_bos: bool) -> Result<Vec<u32>, String> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| format!("tokenizing: {e}"))?;
        let mut ids = Vec::with_capacity(enc.len() + 1);
        if let (true, true, Some(bos)) = (add_bos, self.add_bos, self.bos) {
            if enc.get_ids().first() != Some(&bos) {
                ids.push(bos);
            }
        }
        ids.extend_from_slice(enc.get_ids());
        Ok(ids)
    }

    /// The text of `ids`, control tokens left out.
    pub fn decode(&self, ids: &[u32]) -> Result<String, String> {
        self.inner
            .decode(ids, true)
            .map_err(|e| format!("detokenizing: {e}"))
    }

    /// Whether generating `id` ends the answer (EOS, end of turn).
    pub fn is_end_of_generation(&self, id: u32) -> bool {
        self.end_of_generation.binary_search(&id).is_ok()
    }

    /// The text of token `id` as stored in the vocabulary.
    pub fn token_text(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    /// The BOS token's text, if the model has one.
    pub fn bos_text(&self) -> Option<&str> {
        self.bos.and_then(|b| self.token_text(b))
    }

    /// Number of tokens in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }
}
