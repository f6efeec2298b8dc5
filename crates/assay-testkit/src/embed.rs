//! Deterministic embedding vectors.

use serde::{Deserialize, Serialize};

/// How the fake server turns a text into a vector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum EmbeddingsMode {
    /// Signed hashed bag of words: each lowercase alphanumeric word adds ±1 to one coordinate
    /// chosen by its hash; the vector is L2-normalized. Texts sharing words get similar vectors
    /// (cosine similarity grows with the overlap); identical texts get identical vectors.
    #[default]
    BagOfWords,
    /// The whole text hashed to a pseudo-random unit vector: identical texts are identical,
    /// any two different texts are (nearly) unrelated.
    Hash,
}

/// 64-bit FNV-1a: stable across processes, platforms and Rust versions.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// SplitMix64 step, used to expand one hash into many coordinates.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The vector for `text` in `dim` dimensions (`dim` ≥ 1). Always unit length.
pub fn embed(text: &str, mode: EmbeddingsMode, dim: usize) -> Vec<f32> {
    let dim = dim.max(1);
    let mut v = vec![0f32; dim];
    match mode {
        EmbeddingsMode::BagOfWords => {
            let lower = text.to_lowercase();
            for word in lower
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
            {
                let h = fnv1a(word.as_bytes());
                let i = (h % dim as u64) as usize;
                v[i] += if (h >> 63) == 0 { 1.0 } else { -1.0 };
            }
        }
        EmbeddingsMode::Hash => {
            let mut state = fnv1a(text.as_bytes());
            for x in v.iter_mut() {
                // Uniform in [-1, 1).
                *x = (splitmix(&mut state) >> 40) as f32 / (1u64 << 23) as f32 - 1.0;
            }
        }
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm == 0.0 {
        v[0] = 1.0;
    } else {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cos(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn similar_texts_are_closer() {
        let m = EmbeddingsMode::BagOfWords;
        let a = embed("the cat sat on the mat", m, 256);
        let b = embed("The cat sat on a mat!", m, 256);
        let c = embed("quantum chromodynamics lecture notes", m, 256);
        assert!((cos(&a, &a) - 1.0).abs() < 1e-5);
        assert!(cos(&a, &b) > cos(&a, &c));
        assert_eq!(
            embed("", m, 8),
            vec![1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        );
    }

    #[test]
    fn hash_mode_is_deterministic_unit_length() {
        let a = embed("hello", EmbeddingsMode::Hash, 32);
        assert_eq!(a, embed("hello", EmbeddingsMode::Hash, 32));
        assert!((cos(&a, &a) - 1.0).abs() < 1e-5);
        assert_ne!(a, embed("hello!", EmbeddingsMode::Hash, 32));
    }
}
