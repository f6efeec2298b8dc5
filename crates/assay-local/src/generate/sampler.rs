//! Choosing the next token from logits: penalties, then greedy or seeded sampling with
//! temperature, top-k, top-p and min-p (applied in that order, as Hugging Face does).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// How to pick tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingParams {
    /// 0 means greedy.
    pub temperature: f64,
    /// Keep the k most likely tokens (0: all).
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probability reaches this mass (1: all).
    pub top_p: f64,
    /// Drop tokens less likely than this fraction of the most likely one (0: none).
    pub min_p: f64,
    /// Multiplicative penalty on tokens already in the sequence (1: none), as in Hugging Face
    /// (positive logits divided, negative ones multiplied).
    pub repetition_penalty: f64,
    /// Subtracted once from the logit of every token already generated (OpenAI semantics).
    pub presence_penalty: f64,
    /// Subtracted per occurrence from the logit of tokens already generated.
    pub frequency_penalty: f64,
    /// Random seed; sampling with the same seed repeats.
    pub seed: u64,
}

impl SamplingParams {
    /// Greedy decoding without penalties.
    pub fn greedy() -> Self {
        Self {
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            repetition_penalty: 1.0,
            presence_penalty: 0.0,
            frequency_penalty: 0.0,
            seed: 0,
        }
    }

    /// Whether the most likely token is always taken.
    pub fn is_greedy(&self) -> bool {
        self.temperature <= 0.0 || self.top_k == 1
    }
}

/// The state of token choice over one sequence.
pub struct Sampler {
    params: SamplingParams,
    rng: StdRng,
    /// Tokens seen in the sequence (prompt and output), for the repetition penalty.
    seen: Vec<bool>,
    /// How often each token was generated, for presence and frequency penalties.
    generated: Vec<u32>,
    order: Vec<usize>,
}

impl Sampler {
    /// A sampler over a `vocab`-sized vocabulary that has already seen `prompt`.
    pub fn new(params: SamplingParams, vocab: usize, prompt: &[u32]) -> Self {
        let mut seen = vec![false; vocab];
        for &t in prompt {
            if let Some(s) = seen.get_mut(t as usize) {
                *s = true;
            }
        }
        Self {
            rng: StdRng::seed_from_u64(params.seed),
            params,
            seen,
            generated: vec![0; vocab],
            order: Vec::new(),
        }
    }

    /// Records a generated token.
    pub fn accept(&mut self, token: u32) {
        let i = token as usize;
        if i < self.seen.len() {
            self.seen[i] = true;
            self.generated[i] += 1;
        }
    }

    /// Picks the next token from `logits` (modified in place).
    pub fn sample(&mut self, logits: &mut [f32]) -> u32 {
        let p = &self.params;
        let n = logits.len().min(self.seen.len());
        if p.repetition_penalty != 1.0 {
            let rp = p.repetition_penalty as f32;
            for (l, _) in logits[..n].iter_mut().zip(&self.seen).filter(|(_, s)| **s) {
                *l = if *l > 0.0 { *l / rp } else { *l * rp };
            }
        }
        if p.presence_penalty != 0.0 || p.frequency_penalty != 0.0 {
            for (l, &c) in logits[..n].iter_mut().zip(&self.generated) {
                if c > 0 {
                    *l -= p.presence_penalty as f32 + p.frequency_penalty as f32 * c as f32;
                }
            }
        }
        if p.is_greedy() {
            return argmax(logits);
        }
        let inv_t = (1.0 / p.temperature) as f32;
        let order = &mut self.order;
        order.clear();
        order.extend(0..logits.len());
        let by_logit = |a: &usize, b: &usize| logits[*b].total_cmp(&logits[*a]).then(a.cmp(b));
        if p.top_k > 0 && p.top_k < order.len() {
            order.select_nth_unstable_by(p.top_k - 1, by_logit);
            order.truncate(p.top_k);
        }
        order.sort_unstable_by(by_logit);
        let max = logits[order[0]] * inv_t;
        let mut probs: Vec<f32> = order
            .iter()
            .map(|&i| (logits[i] * inv_t - max).exp())
            .collect();
        let total: f32 = probs.iter().sum();
        probs.iter_mut().for_each(|x| *x /= total);
        let mut keep = probs.len();
        if p.top_p < 1.0 {
            let mut mass = 0.0f64;
            for (i, &q) in probs.iter().enumerate() {
                mass += q as f64;
                if mass >= p.top_p {
                    keep = i + 1;
                    break;
                }
            }
        }
        if p.min_p > 0.0 {
            let floor = probs[0] * p.min_p as f32;
            keep = keep.min(probs.iter().take_while(|&&q| q >= floor).count().max(1));
        }
        let probs = &probs[..keep];
        let total: f32 = probs.iter().sum();
        let mut r = self.rng.random::<f32>() * total;
        for (i, &q) in probs.iter().enumerate() {
            if r < q {
                return order[i] as u32;
            }
            r -= q;
        }
        order[keep - 1] as u32
    }
}

fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &l) in logits.iter().enumerate() {
        if l > logits[best] {
            best = i;
        }
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(temperature: f64, seed: u64) -> SamplingParams {
        SamplingParams {
            temperature,
            seed,
            ..SamplingParams::greedy()
        }
    }

    #[test]
    fn greedy_takes_the_maximum() {
        let mut s = Sampler::new(SamplingParams::greedy(), 4, &[]);
        assert_eq!(s.sample(&mut [0.1, 3.0, 2.0, -1.0]), 1);
    }

    #[test]
    fn repetition_penalty_demotes_seen_tokens() {
        let p = SamplingParams {
            repetition_penalty: 2.0,
            ..SamplingParams::greedy()
        };
        let mut s = Sampler::new(p, 3, &[1]);
        assert_eq!(s.sample(&mut [0.0, 3.0, 2.0]), 2);
    }

    #[test]
    fn seeds_repeat_and_filters_apply() {
        let logits = [1.0f32, 1.1, 0.9, 1.05, -5.0];
        let draw = |seed| {
            let mut s = Sampler::new(params(1.0, seed), 5, &[]);
            (0..32)
                .map(|_| s.sample(&mut logits.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        let mut topk = Sampler::new(
            SamplingParams {
                top_k: 2,
                ..params(1.0, 1)
            },
            5,
            &[],
        );
        for _ in 0..50 {
            let t = topk.sample(&mut logits.clone());
            assert!(t == 1 || t == 3, "{t}");
        }
        let mut minp = Sampler::new(
            SamplingParams {
                min_p: 0.5,
                ..params(1.0, 1)
            },
            5,
            &[],
        );
        for _ in 0..50 {
            assert_ne!(minp.sample(&mut logits.clone()), 4);
        }
    }
}
