//! Comparing two runs (or two models) that scored the **same** samples: statistics on the
//! per-sample pairs, for the UI's "compare two runs" page. Pure code, no IO.
//!
//! - [`paired_bootstrap`] / [`paired_bootstrap_diffs`]: the mean of the per-sample
//!   differences d = b − a, its standard error sd(d)/√n, and a 95% percentile bootstrap
//!   interval of that mean, resampling the *pairs* with replacement (so the correlation
//!   between the two runs is kept — usually a much narrower interval than comparing two
//!   independent means). Deterministic for a given seed. When the differences take few
//!   distinct values — 0/1 metrics give only −1, 0 and 1, a small rating scale a handful —
//!   a resample is drawn as how many times each value is picked rather than pick by pick,
//!   so its cost no longer grows with the number of pairs: a 100,000-pair comparison of a
//!   0/1 metric takes milliseconds instead of a fraction of a second.
//! - [`mcnemar`] / [`mcnemar_from_scores`]: McNemar's test for a 0/1 metric, from the
//!   discordant pairs only: the exact two-sided binomial p-value and the continuity-corrected
//!   chi-square statistic and p-value, as Python statsmodels'
//!   `statsmodels.stats.contingency_tables.mcnemar` computes them (`exact=True`, and
//!   `exact=False, correction=True`); a reference fixture checks them.
//! - [`is_binary`]: whether a metric's values are all exactly 0 or 1, i.e. whether McNemar's
//!   test applies.
//!
//! Both tests answer "do the runs differ on these samples?", not "would they differ on
//! other samples from the same population" beyond what resampling the samples captures; a
//! run's per-sample values are taken as given (no model sampling noise is modelled).

use std::collections::HashMap;

use rand_distr::{Binomial, Distribution};
use serde::{Deserialize, Serialize};

use crate::aggregate::{quantile_sorted, Accumulator, SplitMix64};

/// The resample count the UI should use by default: 2,000 resamples put the 2.5% and 97.5%
/// quantiles on 50 resampled means each, enough for a stable two-digit interval.
pub const DEFAULT_RESAMPLES: usize = 2_000;

/// A seed for the UI to use by default, so a page shows the same interval on every load.
pub const DEFAULT_SEED: u64 = 0x5EED_A55A_7000_0001;

/// The coverage of [`PairedInterval::ci95`].
pub const CONFIDENCE: f64 = 0.95;

/// Why paired statistics could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PairedError {
    /// The two runs' value lists differ in length, so they cannot be paired.
    #[error("cannot pair {a} values of run a with {b} values of run b")]
    LengthMismatch {
        /// Number of values of run a.
        a: usize,
        /// Number of values of run b.
        b: usize,
    },
    /// A value of a run given to [`mcnemar_from_scores`] is not exactly 0 or 1.
    #[error("value {index} of run {run} is not 0 or 1")]
    NotBinary {
        /// `'a'` or `'b'`.
        run: char,
        /// Position of the first offending value.
        index: usize,
    },
}

/// The mean per-sample difference b − a of two runs over the same samples, with its
/// standard error and a percentile bootstrap interval ([`paired_bootstrap`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PairedInterval {
    /// Number of pairs used (both values, and their difference, finite).
    pub n: u64,
    /// Number of pairs left out because a value or the difference was NaN or infinite.
    pub excluded: u64,
    /// Mean of the differences b − a (= mean(b) − mean(a) over the pairs used); `None` when
    /// `n` = 0.
    pub mean_diff: Option<f64>,
    /// Standard error of the mean difference, sd(d)/√n with the n − 1 sample standard
    /// deviation of the differences (the paired standard error, which accounts for the
    /// correlation between the runs); `None` when `n` < 2.
    pub stderr: Option<f64>,
    /// 95% percentile bootstrap interval of the mean difference: the 2.5% and 97.5%
    /// quantiles (linear interpolation, numpy's default) of `resamples` means of n pairs
    /// drawn with replacement. `None` when `n` < 2 (one pair says nothing about
    /// variability) or `resamples` = 0. When all differences are equal it is that value at
    /// both ends. Not clamped to a metric's range; like any percentile bootstrap it can be
    /// too narrow for small n (below ~20 pairs, read it with care).
    pub ci95: Option<(f64, f64)>,
    /// The number of bootstrap resamples drawn.
    pub resamples: usize,
}

/// The paired statistics of runs `a` and `b` over the same samples: `a[i]` and `b[i]` are the
/// two runs' values of sample i, and the difference is `b[i] − a[i]` (positive when b
/// scores higher). A pair with a non-finite value (or difference) is left out and counted
/// in `excluded`. See [`PairedInterval`] for what each figure is and when it is missing.
///
/// Deterministic for a given `seed` (a SplitMix64 generator; on the counts path below also
/// `rand_distr`'s binomial sampler, whose version Cargo.lock pins). Memory: O(n) for one copy
/// of the differences plus O(resamples) for the resampled means, nothing per resample. Each
/// resample is drawn one of two ways, which give the same distribution of resampled means:
///
/// - **As counts**, when the n finite differences take k ≤ 64 distinct values and
///   n ≥ 128·k (for a 0/1 metric, k ≤ 3: from 384 pairs on). A resample's mean only
///   depends on how many times each distinct difference is picked, and those counts are
///   multinomial — n trials, probabilities count/n — so they are drawn directly as k − 1
///   binomials, each conditional on the ones before, the last value taking what is left.
///   Time: O(n) once to count the distinct values and compute the mean, then O(k) per
///   resample whatever n is. 100,000 0/1 pairs × [`DEFAULT_RESAMPLES`] take about 2 ms in a
///   release build (about 15 ms unoptimized), most of it the O(n) pass.
/// - **Pick by pick** otherwise: n random picks per resample in one tight loop (one
///   generator step, one multiply-shift and one random read each), O(n · resamples) time.
///   100,000 pairs × [`DEFAULT_RESAMPLES`] is 2·10⁸ picks, about 0.2 s in a release build on
///   one core (about 1 s unoptimized). With many distinct differences but few pairs each
///   (n < 128·k) this is the faster way anyway: one binomial draw costs about as much as
///   80 picks.
///
/// Fails only when `a` and `b` differ in length.
pub fn paired_bootstrap(
    a: &[f64],
    b: &[f64],
    resamples: usize,
    seed: u64,
) -> Result<PairedInterval, PairedError> {
    if a.len() != b.len() {
        return Err(PairedError::LengthMismatch {
            a: a.len(),
            b: b.len(),
        });
    }
    let diffs = a.iter().zip(b).map(|(x, y)| y - x);
    Ok(bootstrap_finite(
        diffs,
        a.len(),
        resamples,
        seed,
        Draws::Auto,
    ))
}

/// [`paired_bootstrap`] from the per-sample differences `b − a` directly (non-finite ones
/// left out and counted). Same cost and determinism.
pub fn paired_bootstrap_diffs(diffs: &[f64], resamples: usize, seed: u64) -> PairedInterval {
    bootstrap_finite(
        diffs.iter().copied(),
        diffs.len(),
        resamples,
        seed,
        Draws::Auto,
    )
}

/// How [`bootstrap_finite`] draws its resampled means. Only the tests force a way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(test), allow(dead_code))]
enum Draws {
    /// [`Draws::Counts`] when there are at most [`MAX_DISTINCT`] distinct differences and
    /// at least [`PICKS_PER_BINOMIAL`] pairs per distinct difference, else
    /// [`Draws::Picks`].
    Auto,
    /// n single random picks per resample ([`resampled_mean_deviations`]).
    Picks,
    /// One multinomial vector of counts of the distinct differences per resample
    /// ([`resampled_mean_deviations_by_counts`]).
    Counts,
}

/// The most distinct differences for which [`Draws::Auto`] draws counts.
const MAX_DISTINCT: usize = 64;

/// [`Draws::Auto`] draws counts only when n is at least this many times the number k of
/// distinct differences. A binomial draw costs about as much as 80 single picks (release
/// build), so at this ratio the k − 1 binomial draws of a resample cost well under its n
/// picks.
const PICKS_PER_BINOMIAL: usize = 128;

fn bootstrap_finite(
    diffs: impl Iterator<Item = f64>,
    len: usize,
    resamples: usize,
    seed: u64,
    draws: Draws,
) -> PairedInterval {
    let mut xs = Vec::with_capacity(len);
    xs.extend(diffs.filter(|d| d.is_finite()));
    let excluded = (len - xs.len()) as u64;
    let summary = xs.iter().copied().collect::<Accumulator>().summary();
    let (mut mean, min, max) = match (summary.mean, summary.min, summary.max) {
        (Some(mean), Some(min), Some(max)) => (mean, min, max),
        _ => {
            return PairedInterval {
                n: 0,
                excluded,
                mean_diff: None,
                stderr: None,
                ci95: None,
                resamples,
            }
        }
    };
    let constant = min == max;
    if constant {
        // Σx/n of n equal values can be off by an ulp (3 × 0.1); the mean is the value.
        mean = min;
    }
    let ci95 = if xs.len() < 2 || resamples == 0 {
        None
    } else if constant {
        Some((mean, mean))
    } else {
        let n = xs.len();
        let groups = match draws {
            Draws::Auto => distinct_counts(&xs, MAX_DISTINCT)
                .filter(|groups| groups.len() * PICKS_PER_BINOMIAL <= n),
            Draws::Picks => None,
            Draws::Counts => distinct_counts(&xs, n),
        };
        // Resample the deviations from the mean and add the mean back: the sums stay
        // small, so a large common offset costs no precision.
        let mut means = match groups {
            Some(mut groups) => {
                for (value, _) in &mut groups {
                    *value -= mean;
                }
                resampled_mean_deviations_by_counts(&groups, n, resamples, seed)
            }
            None => {
                for x in &mut xs {
                    *x -= mean;
                }
                resampled_mean_deviations(&xs, resamples, seed)
            }
        };
        means.sort_unstable_by(f64::total_cmp);
        let alpha = (1.0 - CONFIDENCE) / 2.0;
        // Rounding may step a hair outside the range of the differences; a mean cannot.
        let at = |q: f64| (mean + quantile_sorted(&means, q)).clamp(min, max);
        Some((at(alpha), at(1.0 - alpha)))
    };
    PairedInterval {
        n: summary.n,
        excluded,
        mean_diff: Some(mean),
        stderr: summary.stderr,
        ci95,
        resamples,
    }
}

/// `resamples` means of `xs.len()` values of `xs` drawn with replacement. The inner loop
/// keeps two running sums so consecutive additions do not wait on each other.
fn resampled_mean_deviations(xs: &[f64], resamples: usize, seed: u64) -> Vec<f64> {
    let n = xs.len();
    let inv_n = 1.0 / n as f64;
    let mut rng = SplitMix64(seed);
    let mut means = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        let (mut s0, mut s1) = (0.0, 0.0);
        for _ in 0..n / 2 {
            s0 += xs[rng.below(n)];
            s1 += xs[rng.below(n)];
        }
        if n % 2 == 1 {
            s0 += xs[rng.below(n)];
        }
        means.push((s0 + s1) * inv_n);
    }
    means
}

/// The distinct values of `xs` in increasing order, each with how many times it occurs
/// (−0 counted with 0); `None` as soon as there are more than `limit` of them.
fn distinct_counts(xs: &[f64], limit: usize) -> Option<Vec<(f64, u64)>> {
    let mut counts: HashMap<u64, u64> = HashMap::new();
    for &x in xs {
        // Adding +0 turns −0 into +0 and leaves every other value as it is.
        *counts.entry((x + 0.0).to_bits()).or_insert(0) += 1;
        if counts.len() > limit {
            return None;
        }
    }
    let mut groups: Vec<(f64, u64)> = counts
        .into_iter()
        .map(|(bits, count)| (f64::from_bits(bits), count))
        .collect();
    groups.sort_unstable_by(|x, y| x.0.total_cmp(&y.0));
    Some(groups)
}

/// `resamples` means of n values drawn with replacement from the `(value, count)` groups
/// (counts summing to n), drawn as counts rather than one value at a time: the number of
/// times each value is drawn is multinomial with probabilities count/n, and the mean is
/// Σ value·drawn / n. The counts come from one binomial draw per value, conditional on
/// those before it — value j is drawn Binomial(n − drawn so far, count_j / (count_j +
/// count_(j+1) + …)) times — and the last value takes the remaining draws.
fn resampled_mean_deviations_by_counts(
    groups: &[(f64, u64)],
    n: usize,
    resamples: usize,
    seed: u64,
) -> Vec<f64> {
    let (&(last, _), rest) = groups.split_last().expect("at least one value");
    // The conditional probabilities, from the integer counts (so always within [0, 1]).
    let mut unseen = n as u64;
    let conditional: Vec<f64> = rest
        .iter()
        .map(|&(_, count)| {
            let p = count as f64 / unseen as f64;
            unseen -= count;
            p
        })
        .collect();
    let inv_n = 1.0 / n as f64;
    let mut rng = SplitMix64(seed);
    let mut means = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        let mut left = n as u64;
        let mut sum = 0.0;
        for (&(value, _), &p) in rest.iter().zip(&conditional) {
            if left == 0 {
                break;
            }
            let drawn = Binomial::new(left, p)
                .expect("a ratio of counts is a probability")
                .sample(&mut rng);
            sum += value * drawn as f64;
            left -= drawn;
        }
        sum += last * left as f64;
        means.push(sum * inv_n);
    }
    means
}

/// McNemar's test of two runs' 0/1 scores on the same samples ([`mcnemar`]). Only the
/// discordant pairs matter; under the null hypothesis (the runs are equally good) each one
/// is equally likely to favour either run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct McNemar {
    /// Samples run b got right and run a got wrong.
    pub b_only: u64,
    /// Samples run a got right and run b got wrong.
    pub a_only: u64,
    /// `b_only + a_only`, the discordant pairs.
    pub discordant: u64,
    /// Exact two-sided p-value: min(1, 2·P(X ≤ min(b_only, a_only))) with
    /// X ~ Binomial(discordant, ½) — statsmodels' `mcnemar(table, exact=True)`. 1 when there
    /// is no discordant pair or `b_only = a_only`. Accurate to about 10⁻¹² relative for any
    /// counts (the binomial tail is summed in log space); it underflows to 0 below ~10⁻³⁰⁸
    /// (e.g. 0 against more than ~1,020 discordant pairs).
    pub exact_p: f64,
    /// Chi-square statistic with the continuity correction, (|b_only − a_only| − 1)² /
    /// discordant, as statsmodels (`exact=False, correction=True`) and R's `mcnemar.test`
    /// compute it: the correction is not clamped, so equal counts c give 1/(2c), not 0.
    /// `None` when there is no discordant pair (statsmodels divides by zero there and
    /// reports an infinite statistic with p = 0, which is meaningless).
    pub chi2: Option<f64>,
    /// The chi-square(1) survival probability of `chi2`; `None` with it. An approximation
    /// that is poor for few discordant pairs (below ~25 prefer `exact_p`); accurate to about
    /// 10⁻¹³ relative, underflowing to 0 for statistics above ~1,400.
    pub chi2_p: Option<f64>,
}

/// McNemar's test from the discordant counts: `b_only` samples only run b got right,
/// `a_only` samples only run a got right (the concordant pairs do not enter). Symmetric in
/// the two counts. See [`McNemar`] for the formulas and their limits. Costs
/// O(min(min(b_only, a_only), 40·√discordant)) for the binomial tail, at most a few
/// tens of thousands of steps for a million discordant pairs.
pub fn mcnemar(b_only: u64, a_only: u64) -> McNemar {
    let discordant = b_only.saturating_add(a_only);
    let k = b_only.min(a_only);
    let exact_p = if discordant == 0 || b_only == a_only {
        1.0
    } else {
        (std::f64::consts::LN_2 + ln_binomial_half_cdf(k, discordant))
            .exp()
            .min(1.0)
    };
    let chi2 = (discordant > 0).then(|| {
        let gap = b_only.abs_diff(a_only) as f64 - 1.0;
        gap * gap / discordant as f64
    });
    McNemar {
        b_only,
        a_only,
        discordant,
        exact_p,
        chi2,
        chi2_p: chi2.map(chi_square_1_sf),
    }
}

/// [`mcnemar`] from two runs' per-sample 0/1 values over the same samples (`a[i]`, `b[i]`
/// for sample i): counts the discordant pairs. Fails when the lengths differ or a value is
/// not exactly 0 or 1 (see [`is_binary`]).
pub fn mcnemar_from_scores(a: &[f64], b: &[f64]) -> Result<McNemar, PairedError> {
    if a.len() != b.len() {
        return Err(PairedError::LengthMismatch {
            a: a.len(),
            b: b.len(),
        });
    }
    let (mut b_only, mut a_only) = (0u64, 0u64);
    for (index, (&x, &y)) in a.iter().zip(b).enumerate() {
        let right_a = binary(x).ok_or(PairedError::NotBinary { run: 'a', index })?;
        let right_b = binary(y).ok_or(PairedError::NotBinary { run: 'b', index })?;
        match (right_a, right_b) {
            (false, true) => b_only += 1,
            (true, false) => a_only += 1,
            _ => {}
        }
    }
    Ok(mcnemar(b_only, a_only))
}

fn binary(x: f64) -> Option<bool> {
    if x == 1.0 {
        Some(true)
    } else if x == 0.0 {
        Some(false)
    } else {
        None
    }
}

/// Whether a metric is 0/1 over `values`: true when there is at least one value and every
/// value is exactly 0.0 or 1.0 (−0.0 counts as 0; NaN, infinities and anything in between
/// do not). An empty list is not called binary, since nothing shows the metric is.
pub fn is_binary(values: &[f64]) -> bool {
    !values.is_empty() && values.iter().all(|&x| binary(x).is_some())
}

/// ½·ln(2π) = ln √(2π).
const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;
/// ln Γ(½) = ln √π.
const LN_SQRT_PI: f64 = 0.572_364_942_924_700_1;

/// ln P(X ≤ k) for X ~ Binomial(n, ½), for k ≤ n/2 (where the terms fall as i goes down
/// from k). The largest term P(X = k) comes from [`ln_binomial_half_pmf`]; the others are
/// summed relative to it through the ratio P(X = i−1)/P(X = i) = i/(n − i + 1), stopping
/// once they no longer change the sum.
fn ln_binomial_half_cdf(k: u64, n: u64) -> f64 {
    if k >= n {
        return 0.0;
    }
    let mut term = 1.0f64;
    let mut sum = 1.0f64;
    let mut i = k;
    while i > 0 {
        term *= i as f64 / (n - i + 1) as f64;
        sum += term;
        // Past the mode the ratios shrink, so the rest is below a geometric tail of this
        // term; 10⁻²⁰ leaves that tail well under an ulp of the sum.
        if term < sum * 1e-20 {
            break;
        }
        i -= 1;
    }
    ln_binomial_half_pmf(k, n) + sum.ln()
}

/// ln P(X = k) for X ~ Binomial(n, ½), without forming the large factorials: Loader's
/// saddle-point form (as in R's `dbinom`), ln C(n,k)·2⁻ⁿ = stirlerr(n) − stirlerr(k) −
/// stirlerr(n−k) − bd0(k, n/2) − bd0(n−k, n/2) − ½·ln(2π·k·(n−k)/n), whose terms are
/// each computed to near full relative precision.
fn ln_binomial_half_pmf(k: u64, n: u64) -> f64 {
    if k == 0 || k == n {
        return -(n as f64) * std::f64::consts::LN_2;
    }
    let (nf, kf, rf) = (n as f64, k as f64, (n - k) as f64);
    let half = nf / 2.0;
    stirling_error(n)
        - stirling_error(k)
        - stirling_error(n - k)
        - bd0(kf, half)
        - bd0(rf, half)
        - 0.5 * (kf * (rf / nf)).ln()
        - LN_SQRT_2PI
}

/// The error of Stirling's formula, ln n! − ((n + ½)·ln n − n + ln √(2π)), for n ≥ 1.
fn stirling_error(n: u64) -> f64 {
    let nf = n as f64;
    if n <= 15 {
        let ln_factorial: f64 = (2..=n).map(|i| (i as f64).ln()).sum();
        return ln_factorial - (nf + 0.5) * nf.ln() + nf - LN_SQRT_2PI;
    }
    // The Stirling series 1/(12n) − 1/(360n³) + 1/(1260n⁵) − 1/(1680n⁷) + 1/(1188n⁹); the
    // next term is below 10⁻¹⁶ from n = 16 on.
    let nn = nf * nf;
    (1.0 / 12.0
        - (1.0 / 360.0 - (1.0 / 1260.0 - (1.0 / 1680.0 - 1.0 / 1188.0 / nn) / nn) / nn) / nn)
        / nf
}

/// x·ln(x/m) + m − x (≥ 0), computed without cancellation when x is close to m: with
/// v = (x − m)/(x + m) it equals (x − m)·v + 2x·Σ_{j≥1} v^(2j+1)/(2j+1).
fn bd0(x: f64, m: f64) -> f64 {
    let gap = x - m;
    if gap.abs() < 0.1 * (x + m) {
        let v = gap / (x + m);
        let mut s = gap * v;
        let v2 = v * v;
        let mut power = 2.0 * x * v;
        for j in 1..1000 {
            power *= v2;
            let next = s + power / f64::from(2 * j + 1);
            if next == s {
                break;
            }
            s = next;
        }
        return s;
    }
    x * (x / m).ln() + m - x
}

/// P(χ²₁ > x), the chi-square survival function with one degree of freedom: the regularized
/// upper incomplete gamma Q(½, x/2) (= erfc(√(x/2))). Below x/2 = 1.5 it is 1 − P with P
/// from its power series (Q ≥ 0.08 there, so nothing cancels badly); above, Q from its
/// continued fraction (modified Lentz), which keeps full relative precision far into the
/// tail. The prefactor e^(−x/2)·(x/2)^½/Γ(½) is formed in log space.
fn chi_square_1_sf(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 1.0;
    }
    if x == f64::INFINITY {
        return 0.0;
    }
    const A: f64 = 0.5;
    let y = x / 2.0;
    let ln_prefactor = -y + A * y.ln() - LN_SQRT_PI;
    if y < A + 1.0 {
        // P(a, y) = e^(−y)·y^a/Γ(a) · Σ_{j≥0} y^j / (a(a+1)…(a+j)).
        let mut term = 1.0 / A;
        let mut sum = term;
        let mut denominator = A;
        for _ in 0..200 {
            denominator += 1.0;
            term *= y / denominator;
            sum += term;
            if term < sum * f64::EPSILON / 4.0 {
                break;
            }
        }
        return 1.0 - ln_prefactor.exp() * sum;
    }
    // Q(a, y) = e^(−y)·y^a/Γ(a) · 1/(y+1−a − 1·(1−a)/(y+3−a − 2·(2−a)/(y+5−a − …))).
    const TINY: f64 = 1e-300;
    let mut b = y + 1.0 - A;
    let mut c = 1.0 / TINY;
    let mut d = 1.0 / b;
    let mut h = d;
    for i in 1..500 {
        let i = f64::from(i);
        let an = -i * (i - A);
        b += 2.0;
        d = an * d + b;
        if d.abs() < TINY {
            d = TINY;
        }
        c = b + an / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < f64::EPSILON / 4.0 {
            break;
        }
    }
    (ln_prefactor + h.ln()).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Relative distance, with an absolute floor for values near 0.
    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / a.abs().max(b.abs()).max(1e-300)
    }

    /// Standard normal draws (Box–Muller) from a seeded SplitMix64.
    fn normals(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = SplitMix64(seed);
        let mut uniform = move || ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        (0..n)
            .map(|_| {
                let (u, v) = (uniform(), uniform());
                (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
            })
            .collect()
    }

    #[test]
    fn deterministic_by_seed() {
        let a = normals(500, 1);
        let b: Vec<f64> = normals(500, 2).iter().map(|x| x + 0.1).collect();
        let one = paired_bootstrap(&a, &b, 300, 42).unwrap();
        assert_eq!(one, paired_bootstrap(&a, &b, 300, 42).unwrap());
        let other = paired_bootstrap(&a, &b, 300, 43).unwrap();
        assert_ne!(one.ci95, other.ci95);
        assert_eq!(one.mean_diff, other.mean_diff);
        assert_eq!(one.stderr, other.stderr);
        // The pairs and their differences give the same figures.
        let diffs: Vec<f64> = a.iter().zip(&b).map(|(x, y)| y - x).collect();
        assert_eq!(paired_bootstrap_diffs(&diffs, 300, 42), one);
    }

    #[test]
    fn degenerate_cases() {
        let empty = paired_bootstrap(&[], &[], DEFAULT_RESAMPLES, 0).unwrap();
        assert_eq!(
            (
                empty.n,
                empty.excluded,
                empty.mean_diff,
                empty.stderr,
                empty.ci95
            ),
            (0, 0, None, None, None)
        );
        let one = paired_bootstrap(&[0.25], &[1.0], DEFAULT_RESAMPLES, 0).unwrap();
        assert_eq!((one.n, one.mean_diff), (1, Some(0.75)));
        assert_eq!((one.stderr, one.ci95), (None, None));
        // All differences equal: the interval is the point, exactly.
        let same = paired_bootstrap_diffs(&[0.1; 3], 100, 9);
        assert_eq!(same.mean_diff, Some(0.1));
        assert_eq!(same.ci95, Some((0.1, 0.1)));
        assert_eq!(same.stderr, Some(0.0));
        let equal_runs = paired_bootstrap(&[1.0, 0.0, 0.5], &[1.0, 0.0, 0.5], 100, 9).unwrap();
        assert_eq!(equal_runs.mean_diff, Some(0.0));
        assert_eq!(equal_runs.ci95, Some((0.0, 0.0)));
        // No resamples: no interval, the rest still computed.
        let none = paired_bootstrap_diffs(&[1.0, 2.0], 0, 9);
        assert_eq!((none.mean_diff, none.ci95), (Some(1.5), None));
        assert!(none.stderr.is_some());
    }

    #[test]
    fn non_finite_pairs_are_excluded_and_counted() {
        let a = [1.0, f64::NAN, 0.0, 2.0, 0.0, -f64::MAX];
        let b = [1.0, 1.0, f64::INFINITY, 4.0, 1.0, f64::MAX];
        let r = paired_bootstrap(&a, &b, 100, 1).unwrap();
        assert_eq!((r.n, r.excluded), (3, 3));
        assert_eq!(r.mean_diff, Some(1.0));
        assert_eq!(
            paired_bootstrap(&[1.0], &[1.0, 2.0], 10, 1),
            Err(PairedError::LengthMismatch { a: 1, b: 2 })
        );
    }

    #[test]
    fn interval_matches_the_normal_approximation_on_a_large_sample() {
        // 20,000 correlated pairs: b = a + 0.05 + noise.
        let n = 20_000;
        let a = normals(n, 11);
        let noise = normals(n, 12);
        let b: Vec<f64> = a
            .iter()
            .zip(&noise)
            .map(|(x, e)| x + 0.05 + 0.8 * e)
            .collect();
        let r = paired_bootstrap(&a, &b, DEFAULT_RESAMPLES, DEFAULT_SEED).unwrap();
        let (mean, se) = (r.mean_diff.unwrap(), r.stderr.unwrap());
        let (lo, hi) = r.ci95.unwrap();
        assert!(lo < mean && mean < hi, "{lo} {mean} {hi}");
        let z = crate::aggregate::Z_95;
        assert!(rel(mean - lo, z * se) < 0.1, "{} vs {}", mean - lo, z * se);
        assert!(rel(hi - mean, z * se) < 0.1, "{} vs {}", hi - mean, z * se);
        // The paired standard error: sd(b − a)/√n ≈ 0.8/√n, far below the unpaired one.
        assert!(rel(se, 0.8 / (n as f64).sqrt()) < 0.05, "{se}");
        // A large common offset changes nothing but the location.
        let shifted: Vec<f64> = b.iter().map(|y| y + 1e9).collect();
        let s = paired_bootstrap(&a, &shifted, DEFAULT_RESAMPLES, DEFAULT_SEED).unwrap();
        let (slo, shi) = s.ci95.unwrap();
        assert!(((shi - slo) - (hi - lo)).abs() < 1e-6);
    }

    #[test]
    fn binary_scores_interval() {
        // 400 samples: b right on 60 that a missed, a right on 20 that b missed.
        let mut a = vec![1.0; 400];
        let mut b = vec![1.0; 400];
        b[..20].fill(0.0);
        a[20..80].fill(0.0);
        let r = paired_bootstrap(&a, &b, DEFAULT_RESAMPLES, 3).unwrap();
        assert_eq!(r.mean_diff, Some(0.1));
        let (lo, hi) = r.ci95.unwrap();
        assert!(0.0 < lo && lo < 0.1 && 0.1 < hi && hi < 0.2, "{lo} {hi}");
        assert!(lo >= -1.0 && hi <= 1.0);
        let m = mcnemar_from_scores(&a, &b).unwrap();
        assert_eq!((m.b_only, m.a_only, m.discordant), (60, 20, 80));
        assert!(m.exact_p < 1e-4, "{}", m.exact_p);
    }

    /// [`bootstrap_finite`] over `diffs`, drawing the resamples the given way.
    fn drawn(diffs: &[f64], resamples: usize, seed: u64, draws: Draws) -> PairedInterval {
        bootstrap_finite(diffs.iter().copied(), diffs.len(), resamples, seed, draws)
    }

    /// The differences b − a of `n` pairs of correlated 0/1 scores: a is right 70% of the
    /// time, b copies a 80% of the time and is otherwise right 80% of the time.
    fn binary_diffs(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = SplitMix64(seed);
        (0..n)
            .map(|_| {
                let a = f64::from(u8::from(rng.below(10) < 7));
                let b = if rng.below(10) < 8 {
                    a
                } else {
                    f64::from(u8::from(rng.below(10) < 8))
                };
                b - a
            })
            .collect()
    }

    #[test]
    fn counts_match_the_normal_approximation_on_a_large_binary_sample() {
        let n = 20_000;
        let diffs = binary_diffs(n, 21);
        let r = paired_bootstrap_diffs(&diffs, DEFAULT_RESAMPLES, DEFAULT_SEED);
        // Three distinct differences over 20,000 pairs: drawn as counts.
        assert_eq!(
            r,
            drawn(&diffs, DEFAULT_RESAMPLES, DEFAULT_SEED, Draws::Counts)
        );
        // Everything but the interval is the same whichever way the resamples are drawn.
        let picks = drawn(&diffs, DEFAULT_RESAMPLES, DEFAULT_SEED, Draws::Picks);
        assert_eq!(
            (r.n, r.excluded, r.mean_diff, r.stderr, r.resamples),
            (
                picks.n,
                picks.excluded,
                picks.mean_diff,
                picks.stderr,
                picks.resamples
            )
        );
        assert_eq!((r.n, r.excluded), (n as u64, 0));
        let (mean, se) = (r.mean_diff.unwrap(), r.stderr.unwrap());
        let (lo, hi) = r.ci95.unwrap();
        assert!(lo < mean && mean < hi, "{lo} {mean} {hi}");
        let z = crate::aggregate::Z_95;
        assert!(rel(mean - lo, z * se) < 0.1, "{} vs {}", mean - lo, z * se);
        assert!(rel(hi - mean, z * se) < 0.1, "{} vs {}", hi - mean, z * se);
    }

    #[test]
    fn counts_and_picks_give_the_same_interval() {
        let diffs = binary_diffs(5_000, 22);
        let counts = drawn(&diffs, DEFAULT_RESAMPLES, 5, Draws::Counts);
        let picks = drawn(&diffs, DEFAULT_RESAMPLES, 5, Draws::Picks);
        assert_eq!(counts.mean_diff, picks.mean_diff);
        assert_eq!(counts.stderr, picks.stderr);
        let se = counts.stderr.unwrap();
        let ((clo, chi), (plo, phi)) = (counts.ci95.unwrap(), picks.ci95.unwrap());
        // Two independent bootstraps of 2,000 resamples: their 2.5% (97.5%) quantiles differ
        // by about 0.09·se (one standard deviation).
        assert!((clo - plo).abs() < 0.3 * se, "{clo} vs {plo}, se {se}");
        assert!((chi - phi).abs() < 0.3 * se, "{chi} vs {phi}, se {se}");
        // A Likert-like difference (−4 … 4, nine values) and a large offset agree too.
        let mut rng = SplitMix64(23);
        let likert: Vec<f64> = (0..5_000)
            .map(|_| 1e6 + rng.below(5) as f64 - rng.below(5) as f64)
            .collect();
        let counts = drawn(&likert, DEFAULT_RESAMPLES, 6, Draws::Counts);
        let picks = drawn(&likert, DEFAULT_RESAMPLES, 6, Draws::Picks);
        assert_eq!(counts.stderr, picks.stderr);
        let se = counts.stderr.unwrap();
        let ((clo, chi), (plo, phi)) = (counts.ci95.unwrap(), picks.ci95.unwrap());
        assert!((clo - plo).abs() < 0.3 * se, "{clo} vs {plo}, se {se}");
        assert!((chi - phi).abs() < 0.3 * se, "{chi} vs {phi}, se {se}");
    }

    #[test]
    fn counts_are_deterministic_by_seed_and_ignore_the_pair_order() {
        let diffs = binary_diffs(2_000, 24);
        let one = paired_bootstrap_diffs(&diffs, 500, 42);
        assert_eq!(one, drawn(&diffs, 500, 42, Draws::Counts));
        assert_eq!(one, paired_bootstrap_diffs(&diffs, 500, 42));
        let other = paired_bootstrap_diffs(&diffs, 500, 43);
        assert_ne!(one.ci95, other.ci95);
        assert_eq!((one.mean_diff, one.stderr), (other.mean_diff, other.stderr));
        // Only how often each difference occurs matters, not where: reversed pairs, and
        // −0 for some of the zeros, give the same interval.
        let reversed: Vec<f64> = diffs
            .iter()
            .rev()
            .enumerate()
            .map(|(i, &d)| if d == 0.0 && i % 2 == 0 { -0.0 } else { d })
            .collect();
        assert_eq!(paired_bootstrap_diffs(&reversed, 500, 42).ci95, one.ci95);
        // The pairs give what their differences give.
        let a: Vec<f64> = diffs
            .iter()
            .map(|&d| f64::from(u8::from(d < 0.0)))
            .collect();
        let b: Vec<f64> = a.iter().zip(&diffs).map(|(x, d)| x + d).collect();
        assert_eq!(paired_bootstrap(&a, &b, 500, 42).unwrap(), one);
    }

    #[test]
    fn few_distinct_differences_among_enough_pairs_are_drawn_as_counts() {
        // k distinct differences 0, 1, …, k − 1, each repeated to fill n pairs.
        let spread = |k: usize, n: usize| -> Vec<f64> { (0..n).map(|i| (i % k) as f64).collect() };
        let takes = |diffs: &[f64]| {
            let auto = paired_bootstrap_diffs(diffs, 200, 7);
            let (counts, picks) = (
                drawn(diffs, 200, 7, Draws::Counts),
                drawn(diffs, 200, 7, Draws::Picks),
            );
            assert_ne!(counts.ci95, picks.ci95);
            if auto == counts {
                Draws::Counts
            } else {
                assert_eq!(auto, picks);
                Draws::Picks
            }
        };
        let k = MAX_DISTINCT;
        assert_eq!(takes(&spread(k, k * PICKS_PER_BINOMIAL)), Draws::Counts);
        // One distinct difference too many, or one pair too few: one pick at a time.
        let plenty = (k + 1) * PICKS_PER_BINOMIAL * 2;
        assert_eq!(takes(&spread(k + 1, plenty)), Draws::Picks);
        assert_eq!(takes(&spread(k, k * PICKS_PER_BINOMIAL - 1)), Draws::Picks);
        // 0/1 metrics (three differences) get counts from 3 · PICKS_PER_BINOMIAL pairs on.
        assert_eq!(takes(&spread(3, 3 * PICKS_PER_BINOMIAL)), Draws::Counts);
        assert_eq!(takes(&spread(3, 3 * PICKS_PER_BINOMIAL - 1)), Draws::Picks);
    }

    #[test]
    fn distinct_differences_are_counted_exactly() {
        let xs = [1.0, -0.0, 0.5, 0.0, 1.0, 0.1 + 0.2, 0.3, 1.0];
        assert_eq!(
            distinct_counts(&xs, 8),
            Some(vec![(0.0, 2), (0.3, 1), (0.1 + 0.2, 1), (0.5, 1), (1.0, 3)])
        );
        assert_eq!(distinct_counts(&xs, 5).map(|g| g.len()), Some(5));
        assert_eq!(distinct_counts(&xs, 4), None);
    }

    #[test]
    fn mcnemar_equal_counts_and_no_discordance() {
        for c in [0, 1, 5, 1000, 1_000_000] {
            let m = mcnemar(c, c);
            assert_eq!(m.exact_p, 1.0);
        }
        let none = mcnemar(0, 0);
        assert_eq!((none.discordant, none.chi2, none.chi2_p), (0, None, None));
        // statsmodels' uncorrected-at-zero correction: (0 − 1)²/10.
        let five = mcnemar(5, 5);
        assert_eq!(five.chi2, Some(0.1));
    }

    #[test]
    fn mcnemar_is_symmetric_and_monotonic() {
        for (b, c) in [(0, 5), (3, 17), (40, 60), (10_000, 10_250), (0, 1000)] {
            let (m, swapped) = (mcnemar(b, c), mcnemar(c, b));
            assert_eq!(m.exact_p, swapped.exact_p);
            assert_eq!(m.chi2, swapped.chi2);
            assert_eq!(m.chi2_p, swapped.chi2_p);
        }
        // With the total fixed, a more lopsided split is more significant.
        let mut last = (2.0, 2.0);
        for b in (0..=50).rev() {
            let m = mcnemar(b, 100 - b);
            let (p, q) = (m.exact_p, m.chi2_p.unwrap());
            assert!(
                p <= last.0 && q <= last.1,
                "b = {b}: {p} {q} after {last:?}"
            );
            assert!(p > 0.0 && p <= 1.0);
            last = (p, q);
        }
        // With the gap fixed, more discordant pairs are less significant.
        let mut last = 0.0;
        for k in [0, 1, 10, 100, 1000] {
            let p = mcnemar(k, k + 10).exact_p;
            assert!(p > last, "{k}: {p}");
            last = p;
        }
    }

    #[test]
    fn exact_p_by_hand() {
        // 0 vs 5: 2·2⁻⁵. 1 vs 4: 2·(1 + 5)/32. 3 vs 17: 2·(1+20+190+1140)/2²⁰.
        assert!(rel(mcnemar(0, 5).exact_p, 0.0625) < 1e-15);
        assert!(rel(mcnemar(1, 4).exact_p, 0.375) < 1e-14);
        assert!(rel(mcnemar(3, 17).exact_p, 2.0 * 1351.0 / 1_048_576.0) < 1e-14);
        // 0 vs 1000: 2·2⁻¹⁰⁰⁰, far below what a naive product could keep.
        assert!(rel(mcnemar(0, 1000).exact_p, 2f64.powi(-999)) < 1e-12);
        // Counts of a million: finite, in (0, 1], no overflow.
        let big = mcnemar(1_000_000, 1_002_000);
        assert!(big.exact_p > 0.0 && big.exact_p < 1.0, "{}", big.exact_p);
        assert!(rel(big.exact_p, big.chi2_p.unwrap()) < 1e-3);
    }

    #[test]
    fn binomial_pmf_against_direct_products() {
        // C(n, k)/2ⁿ as a plain product where that is exact enough.
        for (k, n) in [
            (1u64, 2u64),
            (3, 10),
            (7, 15),
            (8, 16),
            (20, 40),
            (17, 60),
            (30, 61),
        ] {
            let mut direct = 1.0f64;
            for i in 0..k {
                direct *= (n - i) as f64 / (k - i) as f64;
            }
            direct *= 0.5f64.powi(n as i32);
            assert!(
                rel(ln_binomial_half_pmf(k, n).exp(), direct) < 1e-13,
                "{k} {n}"
            );
        }
    }

    #[test]
    fn chi_square_survival() {
        // erfc values: P(χ²₁ > z²) = 2·(1 − Φ(z)).
        assert!(rel(chi_square_1_sf(1.959_963_984_540_054f64.powi(2)), 0.05) < 1e-13);
        assert!(rel(chi_square_1_sf(1.0), 0.317_310_507_862_914_1) < 1e-13);
        assert!(rel(chi_square_1_sf(2.0 * 1.5), 0.083_264_516_663_550_23) < 1e-13);
        assert_eq!(chi_square_1_sf(0.0), 1.0);
        assert_eq!(chi_square_1_sf(f64::INFINITY), 0.0);
        assert_eq!(chi_square_1_sf(2000.0), 0.0);
        // Continuous across the series/continued-fraction switch at x = 3.
        let (below, above) = (chi_square_1_sf(3.0 - 1e-12), chi_square_1_sf(3.0 + 1e-12));
        assert!(rel(below, above) < 1e-11);
    }

    #[test]
    fn binary_detection() {
        assert!(is_binary(&[0.0, 1.0, 1.0, -0.0]));
        assert!(!is_binary(&[]));
        assert!(!is_binary(&[0.0, 0.5]));
        assert!(!is_binary(&[1.0, f64::NAN]));
        assert!(!is_binary(&[1.0 + f64::EPSILON]));
        assert_eq!(
            mcnemar_from_scores(&[1.0, 0.5], &[0.0, 1.0]),
            Err(PairedError::NotBinary { run: 'a', index: 1 })
        );
        assert_eq!(
            mcnemar_from_scores(&[1.0], &[]),
            Err(PairedError::LengthMismatch { a: 1, b: 0 })
        );
    }

    #[test]
    fn serializes_for_the_page() {
        let v = serde_json::to_value(paired_bootstrap_diffs(&[2.0], 10, 0)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"n": 1, "excluded": 0, "mean_diff": 2.0, "stderr": null,
                "ci95": null, "resamples": 10})
        );
        let v = serde_json::to_value(mcnemar(0, 0)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"b_only": 0, "a_only": 0, "discordant": 0, "exact_p": 1.0,
                "chi2": null, "chi2_p": null})
        );
    }

    /// `cargo test -p assay-scoring --release -- --ignored --nocapture timing`
    #[test]
    #[ignore = "timing, run by hand in release"]
    fn timing_100k_pairs() {
        let n = 100_000;
        let a = normals(n, 5);
        let b = normals(n, 6);
        let start = std::time::Instant::now();
        let r = paired_bootstrap(&a, &b, DEFAULT_RESAMPLES, DEFAULT_SEED).unwrap();
        let took = start.elapsed();
        eprintln!("100,000 pairs × {DEFAULT_RESAMPLES} resamples: {took:?} ({r:?})");
        let start = std::time::Instant::now();
        let m = mcnemar(1_000_000, 1_001_500);
        eprintln!("mcnemar(1e6, 1e6 + 1500): {:?} ({m:?})", start.elapsed());
    }
}
