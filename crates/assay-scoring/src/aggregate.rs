//! Rolling per-sample metric values up to a task or run: mean, standard error, confidence
//! intervals.
//!
//! Formulas, over the `n` finite values x₁…xₙ (NaN and ±∞ are excluded and counted in
//! `excluded`):
//!
//! - mean  x̄ = (1/n) Σ xᵢ  (none when n = 0)
//! - std   s = √( Σ (xᵢ − x̄)² / (n − 1) )  — the sample standard deviation (none when n < 2)
//! - stderr = s / √n  (none when n < 2) — the standard error of the mean, as lm-evaluation-
//!   harness reports it
//! - Wald 95% interval: x̄ ± 1.959964 · stderr (not clamped to the metric's range)
//! - percentile bootstrap interval: the mean of n values drawn with replacement, `resamples`
//!   times; the interval is the (1−c)/2 and (1+c)/2 quantiles of those means (linear
//!   interpolation between order statistics), deterministic for a given seed.
//!
//! Values are accumulated with Welford's algorithm, so a run of millions of samples can be
//! summarised in one pass without holding its values ([`Accumulator`]).
//!
//! **Corpus error rates.** Besides the mean of the per-sample `wer` / `cer` values, an error
//! rate has a corpus-level value: the total edits over the total reference length of the
//! samples ([`EditTally`], from each sample's [`EditCounts`]), reported as `wer_corpus` /
//! `cer_corpus` ([`BuiltinMetric::corpus_id`](crate::metrics::BuiltinMetric::corpus_id)).
//! It weighs each sample by its reference length, so it differs from the mean of the rates:
//! samples of 1/1 and 0/9 words give a mean of 0.5 and a corpus rate of 0.1.

use assay_domain::manifest::Aggregation;
use serde::{Deserialize, Serialize};

use crate::metrics::EditCounts;

/// The standard normal quantile for a two-sided 95% interval.
pub const Z_95: f64 = 1.959_963_984_540_054;

/// Summary statistics of one metric's per-sample values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of finite values summarised.
    pub n: u64,
    /// Number of values left out because they were NaN or infinite.
    pub excluded: u64,
    /// Arithmetic mean; `None` when `n` = 0.
    pub mean: Option<f64>,
    /// Sample standard deviation (n − 1 denominator); `None` when `n` < 2.
    pub std: Option<f64>,
    /// Standard error of the mean, `std / √n`; `None` when `n` < 2.
    pub stderr: Option<f64>,
    /// Smallest value; `None` when `n` = 0.
    pub min: Option<f64>,
    /// Largest value; `None` when `n` = 0.
    pub max: Option<f64>,
}

impl Summary {
    /// The Wald interval `mean ± z · stderr`; `None` when `n` < 2.
    pub fn wald_interval(&self, z: f64) -> Option<(f64, f64)> {
        let (mean, se) = (self.mean?, self.stderr?);
        Some((mean - z * se, mean + z * se))
    }

    /// The Wald 95% interval `mean ± 1.959964 · stderr`; `None` when `n` < 2.
    pub fn ci95(&self) -> Option<(f64, f64)> {
        self.wald_interval(Z_95)
    }
}

/// One-pass accumulator of metric values (Welford's algorithm).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Accumulator {
    n: u64,
    excluded: u64,
    mean: f64,
    /// Σ (xᵢ − mean)².
    m2: f64,
    /// Σ xᵢ, for a mean that is exact wherever the sum is (0/1 scores, small counts).
    sum: f64,
    min: f64,
    max: f64,
}

impl Accumulator {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one value; NaN and ±∞ are only counted as excluded.
    pub fn push(&mut self, x: f64) {
        if !x.is_finite() {
            self.excluded += 1;
            return;
        }
        if self.n == 0 {
            self.min = x;
            self.max = x;
        } else {
            self.min = self.min.min(x);
            self.max = self.max.max(x);
        }
        self.n += 1;
        self.sum += x;
        let delta = x - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (x - self.mean);
    }

    /// Combines another accumulator's values into this one (Chan et al.'s parallel
    /// formula), as if all values had been pushed here.
    pub fn merge(&mut self, other: &Accumulator) {
        self.excluded += other.excluded;
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            let excluded = self.excluded;
            *self = *other;
            self.excluded = excluded;
            return;
        }
        let (na, nb) = (self.n as f64, other.n as f64);
        let n = na + nb;
        let delta = other.mean - self.mean;
        self.mean += delta * nb / n;
        self.m2 += other.m2 + delta * delta * na * nb / n;
        self.n += other.n;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// The summary of the values pushed so far.
    pub fn summary(&self) -> Summary {
        let n = self.n;
        let std = (n >= 2).then(|| (self.m2.max(0.0) / (n - 1) as f64).sqrt());
        Summary {
            n,
            excluded: self.excluded,
            mean: (n > 0).then(|| self.sum / n as f64),
            std,
            stderr: std.map(|s| s / (n as f64).sqrt()),
            min: (n > 0).then_some(self.min),
            max: (n > 0).then_some(self.max),
        }
    }
}

impl Extend<f64> for Accumulator {
    fn extend<I: IntoIterator<Item = f64>>(&mut self, iter: I) {
        for x in iter {
            self.push(x);
        }
    }
}

impl FromIterator<f64> for Accumulator {
    fn from_iter<I: IntoIterator<Item = f64>>(iter: I) -> Self {
        let mut acc = Self::new();
        acc.extend(iter);
        acc
    }
}

/// One-pass tally of an error rate's per-sample [`EditCounts`], for its corpus-level value:
/// Σ edits / Σ reference length (see the module docs). Like [`Accumulator`], it is pushed
/// one sample at a time and merges with another tally.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditTally {
    /// Number of samples counted.
    pub n: u64,
    /// The samples' counts, summed.
    pub totals: EditCounts,
}

impl EditTally {
    /// An empty tally.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one sample.
    pub fn push(&mut self, counts: EditCounts) {
        self.n += 1;
        self.totals += counts;
    }

    /// Adds another tally's samples to this one.
    pub fn merge(&mut self, other: &EditTally) {
        self.n += other.n;
        self.totals += other.totals;
    }

    /// The corpus-level rate, Σ edits / max(1, Σ reference length) (see
    /// [`EditCounts::rate`]); `None` when no sample was counted.
    pub fn rate(&self) -> Option<f64> {
        (self.n > 0).then(|| self.totals.rate())
    }
}

impl Extend<EditCounts> for EditTally {
    fn extend<I: IntoIterator<Item = EditCounts>>(&mut self, iter: I) {
        for counts in iter {
            self.push(counts);
        }
    }
}

impl FromIterator<EditCounts> for EditTally {
    fn from_iter<I: IntoIterator<Item = EditCounts>>(iter: I) -> Self {
        let mut tally = Self::new();
        tally.extend(iter);
        tally
    }
}

/// Summarises `values` (see the module docs for the formulas).
pub fn aggregate(values: &[f64]) -> Summary {
    values.iter().copied().collect::<Accumulator>().summary()
}

/// Summarises `values` as a metric declared with `aggregation` asks: `mean` → the
/// [`Summary`]; `none` → `None` (the metric is reported per sample only).
pub fn aggregate_with(aggregation: Aggregation, values: &[f64]) -> Option<Summary> {
    match aggregation {
        Aggregation::Mean => Some(aggregate(values)),
        Aggregation::None => None,
    }
}

/// SplitMix64: a small, fast, seedable generator, good enough for resampling (also used by
/// [`crate::paired`]).
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (multiply-shift; the bias is below 2⁻³² for any realistic `n`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

/// So `rand_distr`'s samplers (the binomial draws of [`crate::paired`]) can run on the same
/// seeded generator.
impl rand::RngCore for SplitMix64 {
    fn next_u32(&mut self) -> u32 {
        (SplitMix64::next_u64(self) >> 32) as u32
    }

    fn next_u64(&mut self) -> u64 {
        SplitMix64::next_u64(self)
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(8) {
            let bytes = SplitMix64::next_u64(self).to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// Quantile `q` ∈ [0, 1] of sorted `xs` with linear interpolation between order statistics
/// (numpy's default): position q·(len − 1).
pub(crate) fn quantile_sorted(xs: &[f64], q: f64) -> f64 {
    let pos = q * (xs.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(xs.len() - 1);
    xs[lo] + (xs[hi] - xs[lo]) * (pos - lo as f64)
}

/// Percentile-bootstrap confidence interval of the mean of `values` (non-finite values
/// excluded): `resamples` means of n values drawn with replacement, then their
/// (1 − confidence)/2 and (1 + confidence)/2 quantiles. Deterministic for a given `seed`.
/// Costs O(n · resamples) time. `None` when fewer than 2 finite values, `resamples` = 0, or
/// `confidence` is not strictly between 0 and 1.
pub fn bootstrap_ci(
    values: &[f64],
    resamples: usize,
    confidence: f64,
    seed: u64,
) -> Option<(f64, f64)> {
    let xs: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if xs.len() < 2 || resamples == 0 || !(confidence > 0.0 && confidence < 1.0) {
        return None;
    }
    let mut rng = SplitMix64(seed);
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| {
            let mut acc = Accumulator::new();
            for _ in 0..xs.len() {
                acc.push(xs[rng.below(xs.len())]);
            }
            acc.mean
        })
        .collect();
    means.sort_by(f64::total_cmp);
    let alpha = (1.0 - confidence) / 2.0;
    Some((
        quantile_sorted(&means, alpha),
        quantile_sorted(&means, 1.0 - alpha),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn means_of_binary_scores_are_exact() {
        let acc: Accumulator = [1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0]
            .into_iter()
            .collect();
        assert_eq!(acc.summary().mean, Some(0.8));
        let acc: Accumulator = std::iter::repeat_n(0.9, 10).collect();
        assert!((acc.summary().mean.unwrap() - 0.9).abs() < 1e-15);
    }

    #[test]
    fn by_hand() {
        // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, Σ(x−5)² = 9+1+1+1+0+0+4+16 = 32,
        // s = √(32/7), stderr = s/√8 = √(32/56) = √(4/7).
        let s = aggregate(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(s.n, 8);
        assert_eq!(s.excluded, 0);
        assert!(close(s.mean.unwrap(), 5.0));
        assert!(close(s.std.unwrap(), (32.0f64 / 7.0).sqrt()));
        assert!(close(s.stderr.unwrap(), (4.0f64 / 7.0).sqrt()));
        assert_eq!((s.min, s.max), (Some(2.0), Some(9.0)));
        let (lo, hi) = s.ci95().unwrap();
        assert!(close(lo, 5.0 - Z_95 * (4.0f64 / 7.0).sqrt()));
        assert!(close(hi, 5.0 + Z_95 * (4.0f64 / 7.0).sqrt()));
    }

    #[test]
    fn binary_accuracy() {
        // 3 of 4 correct: mean 0.75, s² = (3·0.0625 + 0.5625)/3 = 0.25 → s = 0.5,
        // stderr = 0.5/2 = 0.25.
        let s = aggregate(&[1.0, 1.0, 0.0, 1.0]);
        assert!(close(s.mean.unwrap(), 0.75));
        assert!(close(s.std.unwrap(), 0.5));
        assert!(close(s.stderr.unwrap(), 0.25));
    }

    #[test]
    fn small_and_empty() {
        let s = aggregate(&[]);
        assert_eq!(s.n, 0);
        assert_eq!(
            (s.mean, s.std, s.stderr, s.min, s.max),
            (None, None, None, None, None)
        );
        assert_eq!(s.ci95(), None);
        let s = aggregate(&[0.4]);
        assert_eq!(s.mean, Some(0.4));
        assert_eq!((s.std, s.stderr), (None, None));
        assert_eq!(s.ci95(), None);
        let s = aggregate(&[1.0, 1.0]);
        assert_eq!((s.std, s.stderr), (Some(0.0), Some(0.0)));
    }

    #[test]
    fn non_finite_values_are_excluded_and_counted() {
        let s = aggregate(&[1.0, f64::NAN, 0.0, f64::INFINITY, f64::NEG_INFINITY]);
        assert_eq!(s.n, 2);
        assert_eq!(s.excluded, 3);
        assert_eq!(s.mean, Some(0.5));
        let s = aggregate(&[f64::NAN]);
        assert_eq!((s.n, s.excluded, s.mean), (0, 1, None));
    }

    #[test]
    fn merge_equals_one_pass() {
        let all = [0.1, 0.5, 0.9, 0.3, 0.3, 0.8, f64::NAN, 0.2];
        let whole = aggregate(&all);
        let mut a: Accumulator = all[..3].iter().copied().collect();
        let b: Accumulator = all[3..].iter().copied().collect();
        a.merge(&b);
        a.merge(&Accumulator::new());
        let merged = a.summary();
        assert_eq!((merged.n, merged.excluded), (whole.n, whole.excluded));
        assert!(close(merged.mean.unwrap(), whole.mean.unwrap()));
        assert!(close(merged.std.unwrap(), whole.std.unwrap()));
        assert_eq!((merged.min, merged.max), (whole.min, whole.max));
        let mut empty = Accumulator::new();
        empty.push(f64::NAN);
        empty.merge(&b);
        assert_eq!(empty.summary().excluded, 2);
        assert_eq!(empty.summary().n, b.summary().n);
    }

    #[test]
    fn numerically_stable() {
        // Large offset: a naive Σx² − n·x̄² formula loses every digit here.
        let vals: Vec<f64> = [4.0, 7.0, 13.0, 16.0].iter().map(|x| x + 1e9).collect();
        let s = aggregate(&vals);
        // Σ(x−10)² = 36+9+9+36 = 90 → s² = 30.
        assert!((s.std.unwrap() - 30.0f64.sqrt()).abs() < 1e-6);
    }

    #[test]
    fn aggregation_none() {
        assert_eq!(aggregate_with(Aggregation::None, &[1.0]), None);
        assert_eq!(
            aggregate_with(Aggregation::Mean, &[1.0]).unwrap().mean,
            Some(1.0)
        );
    }

    #[test]
    fn serializes_missing_values_as_null() {
        let v = serde_json::to_value(aggregate(&[1.0])).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"n": 1, "excluded": 0, "mean": 1.0, "std": null,
                "stderr": null, "min": 1.0, "max": 1.0})
        );
    }

    #[test]
    fn bootstrap() {
        let vals: Vec<f64> = (0..200)
            .map(|i| if i % 4 == 0 { 0.0 } else { 1.0 })
            .collect();
        let (lo, hi) = bootstrap_ci(&vals, 2000, 0.95, 7).unwrap();
        // Mean 0.75, stderr ≈ √(0.75·0.25/199)·… ≈ 0.0307 → roughly 0.69 .. 0.81.
        assert!(lo < 0.75 && hi > 0.75, "{lo} {hi}");
        assert!(
            (lo - 0.69).abs() < 0.02 && (hi - 0.81).abs() < 0.02,
            "{lo} {hi}"
        );
        // Deterministic per seed.
        assert_eq!(
            bootstrap_ci(&vals, 200, 0.9, 1),
            bootstrap_ci(&vals, 200, 0.9, 1)
        );
        // Constant values: a degenerate interval.
        assert_eq!(
            bootstrap_ci(&[0.5, 0.5, 0.5], 50, 0.95, 0),
            Some((0.5, 0.5))
        );
        assert_eq!(bootstrap_ci(&[1.0], 50, 0.95, 0), None);
        assert_eq!(bootstrap_ci(&[1.0, 0.0], 0, 0.95, 0), None);
        assert_eq!(bootstrap_ci(&[1.0, 0.0], 10, 1.0, 0), None);
    }

    #[test]
    fn corpus_error_rate() {
        let c = |edits, reference_len| EditCounts {
            edits,
            reference_len,
        };
        // 1/1 and 0/9: mean of the rates 0.5, corpus rate 1/10.
        let tally: EditTally = [c(1, 1), c(0, 9)].into_iter().collect();
        assert_eq!(tally.n, 2);
        assert_eq!(tally.totals, c(1, 10));
        assert_eq!(tally.rate(), Some(0.1));
        assert_eq!(aggregate(&[1.0, 0.0]).mean, Some(0.5));
        assert_eq!(EditTally::new().rate(), None);
        // Merging equals pushing everything into one tally.
        let mut a: EditTally = [c(2, 4)].into_iter().collect();
        a.merge(&tally);
        a.merge(&EditTally::new());
        assert_eq!(a, [c(2, 4), c(1, 1), c(0, 9)].into_iter().collect());
        assert_eq!(a.rate(), Some(3.0 / 14.0));
        // Only empty references: the inserted words, as for one sample.
        let silent: EditTally = [c(0, 0), c(3, 0)].into_iter().collect();
        assert_eq!(silent.rate(), Some(3.0));
        let v = serde_json::to_value(a).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"n": 3, "totals": {"edits": 3, "reference_len": 14}})
        );
    }

    #[test]
    fn quantiles_interpolate() {
        let xs = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile_sorted(&xs, 0.0), 1.0);
        assert_eq!(quantile_sorted(&xs, 1.0), 5.0);
        assert_eq!(quantile_sorted(&xs, 0.5), 3.0);
        assert!(close(quantile_sorted(&xs, 0.1), 1.4));
    }
}
