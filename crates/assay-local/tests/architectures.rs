//! Every GGUF architecture family Assay claims to serve (llama, qwen2, qwen3, gemma, gemma2,
//! gemma3, phi3) loads and generates through [`GgufBackend`], without downloading anything.
//!
//! Each test writes a tiny random-weight model of one architecture into a temp dir (hidden
//! size 64, 2 layers, 4 query heads sharing 2 KV heads, feed-forward 128, context 256, F32
//! tensors from a seeded generator, norms at 1) with the tensor names and metadata keys
//! llama.cpp expects for that architecture (`src/llama-arch.cpp` and `src/models/<arch>.cpp`
//! in llama.cpp). Its vocabulary is the real BPE one of the reference model (every
//! `tokenizer.*` key copied from SmolLM2-135M-Instruct, 49152 tokens, chat template included),
//! so these tests skip when that file is missing, unless `ASSAY_REQUIRE_MODELS=1`, which makes
//! them fail. The answers are noise; what is checked is that the file loads, reports its
//! architecture, generates 1–8 tokens, and repeats itself (greedy, and sampled with a seed).

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::OnceLock;

use assay_domain::generation::GenerationConfig;
use assay_local::generate::{GenerateOutput, GgufBackend, GgufOptions};
use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use serde_json::{json, Value as Json};

/// Hidden size (`embedding_length`).
const EMBD: usize = 64;
/// Transformer blocks (`block_count`).
const LAYERS: usize = 2;
/// Query heads (`attention.head_count`).
const HEADS: usize = 4;
/// Key/value heads (`attention.head_count_kv`): grouped-query attention, 2 queries per KV head.
const KV_HEADS: usize = 2;
/// Size of one head (`rope.dimension_count`, and `attention.key_length`/`value_length`).
const HEAD_DIM: usize = EMBD / HEADS;
/// Feed-forward width (`feed_forward_length`).
const FF: usize = 128;
/// Training context (`context_length`), also the per-request context of the backend.
const CONTEXT: usize = 256;
/// Largest absolute value of a random weight.
const SCALE: f32 = 0.02;

/// How a block computes Q, K and V.
#[derive(Debug, Clone, Copy)]
enum Qkv {
    /// `attn_q`, `attn_k`, `attn_v` (the llama layout).
    Separate,
    /// `attn_q`, `attn_k`, `attn_v` with `.bias` vectors (qwen2).
    SeparateWithBias,
    /// One `attn_qkv` matrix, Q rows then K then V (phi3).
    Fused,
}

/// How a block's feed-forward network is laid out.
#[derive(Debug, Clone, Copy)]
enum Ffn {
    /// `ffn_gate`, `ffn_up` (each FF rows) and `ffn_down`.
    Gated,
    /// `ffn_up` holding gate and up together (2×FF rows), and `ffn_down` (phi3).
    FusedGateUp,
}

/// The logits head.
#[derive(Debug, Clone, Copy)]
enum Head {
    /// Its own `output` matrix.
    Separate,
    /// None in the file: llama.cpp reuses `token_embd` (required for gemma and gemma2, which
    /// refuse an extra `output` tensor; optional elsewhere).
    Tied,
}

/// One architecture family, as far as the file's layout goes.
#[derive(Debug, Clone, Copy)]
struct Arch {
    /// `general.architecture`, also the prefix of the hyper-parameter keys.
    name: &'static str,
    qkv: Qkv,
    ffn: Ffn,
    head: Head,
    /// Per-head RMS norms on Q and K (`attn_q_norm`, `attn_k_norm`; qwen3, gemma3).
    qk_norm: bool,
    /// RMS norms after attention and after the feed-forward network (`post_attention_norm`,
    /// `post_ffw_norm`; gemma2, gemma3).
    post_norms: bool,
    /// Architecture-specific metadata, keys without the `<name>.` prefix.
    extra: &'static [(&'static str, Extra)],
}

/// A metadata value in an [`Arch::extra`] table.
#[derive(Debug, Clone, Copy)]
enum Extra {
    U32(u32),
    F32(f32),
}

/// Head size written explicitly, as the gemma converters do.
const HEAD_SIZES: [(&str, Extra); 2] = [
    ("attention.key_length", Extra::U32(HEAD_DIM as u32)),
    ("attention.value_length", Extra::U32(HEAD_DIM as u32)),
];

const LLAMA: Arch = Arch {
    name: "llama",
    qkv: Qkv::Separate,
    ffn: Ffn::Gated,
    head: Head::Separate,
    qk_norm: false,
    post_norms: false,
    extra: &[],
};

const QWEN2: Arch = Arch {
    name: "qwen2",
    qkv: Qkv::SeparateWithBias,
    ffn: Ffn::Gated,
    head: Head::Tied,
    qk_norm: false,
    post_norms: false,
    extra: &[],
};

const QWEN3: Arch = Arch {
    name: "qwen3",
    qkv: Qkv::Separate,
    ffn: Ffn::Gated,
    head: Head::Separate,
    qk_norm: true,
    post_norms: false,
    extra: &[],
};

const GEMMA: Arch = Arch {
    name: "gemma",
    qkv: Qkv::Separate,
    ffn: Ffn::Gated,
    head: Head::Tied,
    qk_norm: false,
    post_norms: false,
    extra: &HEAD_SIZES,
};

const GEMMA2: Arch = Arch {
    name: "gemma2",
    qkv: Qkv::Separate,
    ffn: Ffn::Gated,
    head: Head::Tied,
    qk_norm: false,
    post_norms: true,
    extra: &[
        HEAD_SIZES[0],
        HEAD_SIZES[1],
        // Shorter than the test's prompt, so the sliding-window layers really slide.
        ("attention.sliding_window", Extra::U32(16)),
        ("attn_logit_softcapping", Extra::F32(50.0)),
        ("final_logit_softcapping", Extra::F32(30.0)),
    ],
};

const GEMMA3: Arch = Arch {
    name: "gemma3",
    qkv: Qkv::Separate,
    ffn: Ffn::Gated,
    head: Head::Tied,
    qk_norm: true,
    post_norms: true,
    extra: &[
        HEAD_SIZES[0],
        HEAD_SIZES[1],
        // With a window, gemma3 interleaves sliding-window and global layers (1 in 2 here);
        // shorter than the test's prompt, so the sliding-window layer really slides.
        ("attention.sliding_window", Extra::U32(16)),
        ("attention.sliding_window_pattern", Extra::U32(2)),
        ("rope.freq_base_swa", Extra::F32(10_000.0)),
    ],
};

const PHI3: Arch = Arch {
    name: "phi3",
    qkv: Qkv::Fused,
    ffn: Ffn::FusedGateUp,
    head: Head::Separate,
    qk_norm: false,
    post_norms: false,
    extra: &[],
};

/// Deterministic weights: splitmix64, seeded per architecture and tensor.
struct Weights(u64);

impl Weights {
    fn new(arch: &str, tensor: &str) -> Self {
        // FNV-1a of the names, so every tensor of every model gets its own stream.
        let seed = format!("{arch}/{tensor}")
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[-SCALE, SCALE]`.
    fn next_f32(&mut self) -> f32 {
        let unit = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        (unit * 2.0 - 1.0) * SCALE
    }
}

/// The tensors of one model file, in the order written.
struct Tensors {
    arch: &'static str,
    list: Vec<(String, QTensor)>,
}

impl Tensors {
    /// A random tensor. `shape` is candle's (row-major, outermost first): a weight matrix is
    /// `[out, in]`, which GGUF stores reversed, i.e. as llama.cpp's `{in, out}`.
    fn random(&mut self, name: String, shape: &[usize]) {
        let mut rng = Weights::new(self.arch, &name);
        let n = shape.iter().product();
        let data = (0..n).map(|_| rng.next_f32()).collect();
        self.push(name, data, shape);
    }

    /// A norm weight (or bias) filled with `value`.
    fn filled(&mut self, name: String, len: usize, value: f32) {
        self.push(name, vec![value; len], &[len]);
    }

    fn push(&mut self, name: String, data: Vec<f32>, shape: &[usize]) {
        let t = Tensor::from_vec(data, shape, &Device::Cpu).expect("tensor");
        let q = QTensor::quantize(&t, GgmlDType::F32).expect("F32 tensor");
        self.list.push((name, q));
    }
}

/// Writes a random-weight `arch` model with the reference model's vocabulary to `path`.
fn write_model(path: &Path, arch: &Arch, vocab: &Vocabulary) {
    let vocab_size = vocab.size;
    let kv_dim = KV_HEADS * HEAD_DIM;
    let q_dim = HEADS * HEAD_DIM;
    let mut t = Tensors {
        arch: arch.name,
        list: Vec::new(),
    };
    t.random("token_embd.weight".into(), &[vocab_size, EMBD]);
    t.filled("output_norm.weight".into(), EMBD, 1.0);
    if let Head::Separate = arch.head {
        t.random("output.weight".into(), &[vocab_size, EMBD]);
    }
    for i in 0..LAYERS {
        let blk = |part: &str| format!("blk.{i}.{part}");
        t.filled(blk("attn_norm.weight"), EMBD, 1.0);
        match arch.qkv {
            Qkv::Separate | Qkv::SeparateWithBias => {
                t.random(blk("attn_q.weight"), &[q_dim, EMBD]);
                t.random(blk("attn_k.weight"), &[kv_dim, EMBD]);
                t.random(blk("attn_v.weight"), &[kv_dim, EMBD]);
                if let Qkv::SeparateWithBias = arch.qkv {
                    t.random(blk("attn_q.bias"), &[q_dim]);
                    t.random(blk("attn_k.bias"), &[kv_dim]);
                    t.random(blk("attn_v.bias"), &[kv_dim]);
                }
            }
            Qkv::Fused => t.random(blk("attn_qkv.weight"), &[q_dim + 2 * kv_dim, EMBD]),
        }
        if arch.qk_norm {
            t.filled(blk("attn_q_norm.weight"), HEAD_DIM, 1.0);
            t.filled(blk("attn_k_norm.weight"), HEAD_DIM, 1.0);
        }
        t.random(blk("attn_output.weight"), &[EMBD, q_dim]);
        if arch.post_norms {
            t.filled(blk("post_attention_norm.weight"), EMBD, 1.0);
        }
        t.filled(blk("ffn_norm.weight"), EMBD, 1.0);
        match arch.ffn {
            Ffn::Gated => {
                t.random(blk("ffn_gate.weight"), &[FF, EMBD]);
                t.random(blk("ffn_up.weight"), &[FF, EMBD]);
            }
            Ffn::FusedGateUp => t.random(blk("ffn_up.weight"), &[2 * FF, EMBD]),
        }
        t.random(blk("ffn_down.weight"), &[EMBD, FF]);
        if arch.post_norms {
            t.filled(blk("post_ffw_norm.weight"), EMBD, 1.0);
        }
    }

    let a = arch.name;
    let mut meta: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::String(a.into())),
        // Not named after the architecture: llama.cpp keys a vocabulary fix-up on a
        // `general.name` containing "phi3" that needs SentencePiece tokens (`<s>`, `</s>`,
        // `<unk>`) which this GPT-2-style vocabulary lacks, and would refuse the file.
        (
            "general.name".into(),
            Value::String("Assay tiny random model".into()),
        ),
        (format!("{a}.context_length"), Value::U32(CONTEXT as u32)),
        (format!("{a}.embedding_length"), Value::U32(EMBD as u32)),
        (format!("{a}.block_count"), Value::U32(LAYERS as u32)),
        (format!("{a}.feed_forward_length"), Value::U32(FF as u32)),
        (
            format!("{a}.attention.head_count"),
            Value::U32(HEADS as u32),
        ),
        (
            format!("{a}.attention.head_count_kv"),
            Value::U32(KV_HEADS as u32),
        ),
        (
            format!("{a}.attention.layer_norm_rms_epsilon"),
            Value::F32(1e-6),
        ),
        (
            format!("{a}.rope.dimension_count"),
            Value::U32(HEAD_DIM as u32),
        ),
        (format!("{a}.rope.freq_base"), Value::F32(10_000.0)),
    ];
    for (key, value) in arch.extra {
        let value = match *value {
            Extra::U32(v) => Value::U32(v),
            Extra::F32(v) => Value::F32(v),
        };
        meta.push((format!("{a}.{key}"), value));
    }
    meta.extend(vocab.keys.iter().cloned());

    let metadata: Vec<(&str, &Value)> = meta.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensors: Vec<(&str, &QTensor)> = t.list.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut out = BufWriter::new(File::create(path).expect("create the model file"));
    gguf_file::write(&mut out, &metadata, &tensors).expect("write the model file");
    std::io::Write::flush(&mut out).expect("flush the model file");
}

/// The reference model's vocabulary, as metadata to copy into every tiny model.
struct Vocabulary {
    /// Every `tokenizer.*` key of the reference model, sorted by key.
    keys: Vec<(String, Value)>,
    /// Tokens in `tokenizer.ggml.tokens`: the rows of `token_embd` and `output`.
    size: usize,
}

/// The reference model's [`Vocabulary`], or `None` (test skipped) when the model is not
/// installed.
fn vocabulary() -> Option<&'static Vocabulary> {
    static VOCAB: OnceLock<Option<Vocabulary>> = OnceLock::new();
    VOCAB
        .get_or_init(|| {
            let path = assay_testkit::models::installed(assay_testkit::models::GENERATOR_FILE)?;
            let mut file = File::open(&path).expect("open the reference model");
            let content = gguf_file::Content::read(&mut file).expect("read the reference GGUF");
            let mut keys: Vec<(String, Value)> = content
                .metadata
                .into_iter()
                .filter(|(k, _)| k.starts_with("tokenizer."))
                .collect();
            keys.sort_by(|a, b| a.0.cmp(&b.0));
            let size = keys
                .iter()
                .find(|(k, _)| k == "tokenizer.ggml.tokens")
                .and_then(|(_, v)| v.to_vec().ok())
                .map(Vec::len)
                .expect("the reference model lists its tokens");
            assert_eq!(size, 49152, "SmolLM2's vocabulary");
            Some(Vocabulary { keys, size })
        })
        .as_ref()
}

fn config(v: Json) -> GenerationConfig {
    serde_json::from_value::<GenerationConfig>(v)
        .expect("generation config")
        .normalize()
}

async fn generate(b: &GgufBackend, cfg: &GenerationConfig) -> GenerateOutput {
    let (req, _) = b
        .request("Write a short poem about the sea.", cfg)
        .expect("request");
    b.run(req).await.expect("generation")
}

/// Builds `arch`'s tiny model, loads it, and checks greedy and seeded generation.
async fn check(arch: &Arch) {
    let Some(vocab) = vocabulary() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(format!("tiny-{}.gguf", arch.name));
    write_model(&path, arch, vocab);
    let backend = GgufBackend::load_with(
        &path,
        GgufOptions {
            slots: 1,
            context_length: Some(CONTEXT),
            threads: 2,
        },
    )
    .unwrap_or_else(|e| panic!("llama.cpp loads the tiny {} model: {e}", arch.name));
    assert_eq!(backend.architecture(), arch.name);
    assert_eq!(backend.context_length(), CONTEXT);

    let greedy = config(json!({"temperature": 0, "max_output_tokens": 8}));
    let first = generate(&backend, &greedy).await;
    println!(
        "{}: greedy {:?} ({} prompt tokens, {} generated, {:?})",
        arch.name, first.text, first.input_tokens, first.output_tokens, first.finish
    );
    assert!(first.input_tokens > 0, "{first:?}");
    assert!((1..=8).contains(&first.output_tokens), "{first:?}");
    let again = generate(&backend, &greedy).await;
    assert_eq!(first.text, again.text, "greedy decoding repeats");
    assert_eq!(first.output_tokens, again.output_tokens);

    let seeded = config(json!({"temperature": 1.0, "max_output_tokens": 8,
                               "extra_body": {"seed": 1234}}));
    let first = generate(&backend, &seeded).await;
    println!(
        "{}: seeded {:?} ({} generated, {:?})",
        arch.name, first.text, first.output_tokens, first.finish
    );
    assert!((1..=8).contains(&first.output_tokens), "{first:?}");
    let again = generate(&backend, &seeded).await;
    assert_eq!(first.text, again.text, "seeded sampling repeats");
    assert_eq!(first.output_tokens, again.output_tokens);
}

#[tokio::test]
async fn llama_loads_and_generates() {
    check(&LLAMA).await;
}

#[tokio::test]
async fn qwen2_loads_and_generates() {
    check(&QWEN2).await;
}

#[tokio::test]
async fn qwen3_loads_and_generates() {
    check(&QWEN3).await;
}

#[tokio::test]
async fn gemma_loads_and_generates() {
    check(&GEMMA).await;
}

#[tokio::test]
async fn gemma2_loads_and_generates() {
    check(&GEMMA2).await;
}

#[tokio::test]
async fn gemma3_loads_and_generates() {
    check(&GEMMA3).await;
}

#[tokio::test]
async fn phi3_loads_and_generates() {
    check(&PHI3).await;
}
