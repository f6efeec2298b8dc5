//! Cosine similarity and the Pearson and Spearman correlation coefficients.

use std::cmp::Ordering;

/// Cosine similarity of two vectors, computed in `f64`: `a·b / (‖a‖·‖b‖)`, clamped to
/// [-1, 1].
///
/// 0.0 when the lengths differ, when either vector is empty or has zero norm, or when a
/// component is not finite.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    let denom = na.sqrt() * nb.sqrt();
    if !(denom.is_finite() && dot.is_finite()) || denom == 0.0 {
        return 0.0;
    }
    (dot / denom).clamp(-1.0, 1.0)
}

/// Pearson's correlation coefficient r of paired samples, as `scipy.stats.pearsonr`
/// computes it (centered, normalized dot product, clamped to [-1, 1]).
///
/// `None` when the slices differ in length, have fewer than 2 points, contain a value that
/// is not finite, or when either side is constant (zero variance).
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len();
    if n != y.len() || n < 2 || !x.iter().chain(y).all(|v| v.is_finite()) {
        return None;
    }
    if is_constant(x) || is_constant(y) {
        return None;
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / n as f64;
    let (mx, my) = (mean(x), mean(y));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (&a, &b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    let denom = sxx.sqrt() * syy.sqrt();
    if !(denom.is_finite() && denom > 0.0) {
        return None;
    }
    let r = (sxy / denom).clamp(-1.0, 1.0);
    r.is_finite().then_some(r)
}

/// Spearman's rank correlation coefficient ρ, as `scipy.stats.spearmanr` computes it:
/// Pearson's r of the ranks, tied values sharing the average of their ranks.
///
/// `None` in the same cases as [`pearson`] (a constant side has constant ranks).
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || !x.iter().chain(y).all(|v| v.is_finite()) {
        return None;
    }
    pearson(&average_ranks(x), &average_ranks(y))
}

/// 1-based ranks of `values` in ascending order; tied values get the average of the ranks
/// they span. Values are compared with `==` for ties (so `-0.0` ties with `0.0`), NaN sorts
/// last and NaNs tie with one another.
pub fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| cmp_nan_last(values[a], values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && same(values[order[start]], values[order[end]]) {
            end += 1;
        }
        // Positions start..end (0-based) hold ranks start+1..=end; their mean:
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}

fn same(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// Ascending order in which equal values (including `-0.0` and `0.0`) compare equal and
/// NaN is greater than every number: a total preorder.
fn cmp_nan_last(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (true, true) => Ordering::Equal,
    }
}

fn is_constant(v: &[f64]) -> bool {
    v.iter().all(|&x| x == v[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn cosine_basics() {
        assert!(close(cosine(&[1.0, 0.0], &[0.0, 2.0]), 0.0));
        assert!(close(cosine(&[1.0, 1.0], &[2.0, 2.0]), 1.0));
        assert!(close(cosine(&[1.0, 2.0], &[-1.0, -2.0]), -1.0));
        assert!(close(
            cosine(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]),
            32.0 / (14.0f64.sqrt() * 77.0f64.sqrt())
        ));
    }

    #[test]
    fn cosine_degenerate_inputs_are_zero() {
        assert_eq!(cosine(&[], &[]), 0.0);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 2.0]), 0.0);
        assert_eq!(cosine(&[1.0, 2.0], &[1.0]), 0.0);
        assert_eq!(cosine(&[f32::NAN, 1.0], &[1.0, 1.0]), 0.0);
        assert_eq!(cosine(&[f32::INFINITY, 1.0], &[1.0, 1.0]), 0.0);
    }

    #[test]
    fn pearson_perfect_and_none() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert!(close(
            pearson(&x, &[2.0, 4.0, 6.0, 8.0]).unwrap_or(0.0),
            1.0
        ));
        assert!(close(
            pearson(&x, &[8.0, 6.0, 4.0, 2.0]).unwrap_or(0.0),
            -1.0
        ));
        // Uncorrelated by construction: y is symmetric around the middle of x.
        assert!(close(
            pearson(&x, &[1.0, -1.0, -1.0, 1.0]).unwrap_or(1.0),
            0.0
        ));
        assert_eq!(pearson(&[], &[]), None);
        assert_eq!(pearson(&[1.0], &[2.0]), None);
        assert_eq!(pearson(&[1.0, 2.0], &[1.0]), None);
        assert_eq!(pearson(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
        assert_eq!(pearson(&[1.0, 2.0, 3.0], &[5.0, 5.0, 5.0]), None);
        assert_eq!(pearson(&[1.0, f64::NAN], &[1.0, 2.0]), None);
        assert!(close(
            pearson(&[1.0, 2.0], &[3.0, 1.0]).unwrap_or(0.0),
            -1.0
        ));
    }

    #[test]
    fn average_ranks_with_ties() {
        assert_eq!(
            average_ranks(&[10.0, 20.0, 10.0, 30.0, 20.0, 10.0]),
            vec![2.0, 4.5, 2.0, 6.0, 4.5, 2.0]
        );
        assert_eq!(average_ranks(&[-0.0, 0.0]), vec![1.5, 1.5]);
        assert_eq!(average_ranks(&[]), Vec::<f64>::new());
        assert_eq!(average_ranks(&[f64::NAN, 1.0]), vec![2.0, 1.0]);
    }

    #[test]
    fn spearman_monotone_ties_and_none() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [1.0, 8.0, 27.0, 64.0, 125.0];
        assert!(close(spearman(&x, &y).unwrap_or(0.0), 1.0));
        // Ties: ranks x = [1.5, 1.5, 3], y = [1, 2, 3].
        let rho = spearman(&[1.0, 1.0, 2.0], &[1.0, 2.0, 3.0]).unwrap_or(0.0);
        assert!(close(
            rho,
            pearson(&[1.5, 1.5, 3.0], &[1.0, 2.0, 3.0]).unwrap_or(1.0)
        ));
        assert_eq!(spearman(&[1.0, 1.0], &[1.0, 2.0]), None);
        assert_eq!(spearman(&[], &[]), None);
        assert_eq!(spearman(&[1.0, f64::INFINITY], &[1.0, 2.0]), None);
    }
}
