//! The 95% Wald interval a coding-agent board puts around each row's accuracy.
//!
//! `p ± z·√(p(1−p)/n)` with `z = 1.96`, the bounds clamped to `[0, 1]`. It is the textbook
//! normal approximation for a proportion: meaningful for 0/1 metrics, and it collapses to a
//! zero-width interval at `p = 0` and `p = 1`. For a metric outside `[0, 1]` (partial credit
//! over 1, negative rewards) `p(1−p)` can be negative; the variance is then taken as 0 rather
//! than producing a NaN.

use assay_domain::api::AccuracyInterval;

/// The normal quantile of a two-sided 95% interval.
pub const Z_95: f64 = 1.96;

/// The interval around accuracy `p` measured over `n` scored trials; `None` without any
/// scored trial or when `p` is not a finite number.
pub fn wald_interval(p: f64, n: i64) -> Option<AccuracyInterval> {
    if n <= 0 || !p.is_finite() {
        return None;
    }
    let variance = (p * (1.0 - p)).max(0.0) / n as f64;
    let margin = Z_95 * variance.sqrt();
    Some(AccuracyInterval {
        low: (p - margin).clamp(0.0, 1.0),
        high: (p + margin).clamp(0.0, 1.0),
        margin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn seven_of_ten() {
        // √(0.7·0.3/10) = √0.021 = 0.144913767…; × 1.96 = 0.284030984…
        let ci = wald_interval(0.7, 10).unwrap();
        assert!(close(ci.margin, 0.284_030_984_225_313), "{ci:?}");
        assert!(close(ci.low, 0.7 - 0.284_030_984_225_313));
        assert!(close(ci.high, 0.7 + 0.284_030_984_225_313));
    }

    #[test]
    fn bounds_clamp_to_the_unit_interval_but_the_margin_does_not() {
        // 1 of 4: margin 1.96·√(0.1875/4) = 1.96·0.216506… = 0.424352…; 0.25 − it < 0.
        let ci = wald_interval(0.25, 4).unwrap();
        assert!(close(ci.margin, 1.96 * (0.1875f64 / 4.0).sqrt()));
        assert!(close(ci.margin, 0.424_352_447_854_374_9));
        assert_eq!(ci.low, 0.0);
        assert!(close(ci.high, 0.674_352_447_854_375));
        // 9 of 10: 0.9 + 1.96·√(0.009) = 0.9 + 0.185941… > 1.
        let ci = wald_interval(0.9, 10).unwrap();
        assert!(close(ci.margin, 0.185_941_926_417_900_7));
        assert_eq!(ci.high, 1.0);
        assert!(close(ci.low, 0.9 - 0.185_941_926_417_900_7));
    }

    #[test]
    fn one_trial_and_unanimous_rows() {
        // A single 0/1 trial: p(1−p) = 0, a point interval.
        assert_eq!(
            wald_interval(1.0, 1),
            Some(AccuracyInterval {
                low: 1.0,
                high: 1.0,
                margin: 0.0
            })
        );
        assert_eq!(
            wald_interval(0.0, 5),
            Some(AccuracyInterval {
                low: 0.0,
                high: 0.0,
                margin: 0.0
            })
        );
        // A single half-credit trial: 1.96·√0.25 = 0.98, clamped both ways.
        let ci = wald_interval(0.5, 1).unwrap();
        assert!(close(ci.margin, 0.98));
        assert_eq!((ci.low, ci.high), (0.0, 1.0));
    }

    #[test]
    fn no_interval_without_scored_trials() {
        assert_eq!(wald_interval(0.0, 0), None);
        assert_eq!(wald_interval(f64::NAN, 3), None);
        assert_eq!(wald_interval(f64::INFINITY, 3), None);
    }

    #[test]
    fn metrics_outside_the_unit_interval_give_no_nan() {
        let ci = wald_interval(2.5, 4).unwrap();
        assert_eq!(ci.margin, 0.0);
        assert_eq!((ci.low, ci.high), (1.0, 1.0));
        let ci = wald_interval(-1.0, 4).unwrap();
        assert_eq!((ci.low, ci.high, ci.margin), (0.0, 0.0, 0.0));
    }
}
