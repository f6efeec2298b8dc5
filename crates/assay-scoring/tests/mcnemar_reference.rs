//! `paired::mcnemar` against Python statsmodels' `mcnemar` (`tests/reference/
//! make_mcnemar_reference.py` writes the fixture; its pytest checks the fixture is what
//! statsmodels computes): the exact binomial p-value and the continuity-corrected chi-square
//! statistic and p-value for (b, c) from none to two million discordant pairs.
//!
//! Tolerance: 1e-9 relative to statsmodels' value, for every p-value however small — the
//! p-values here run down to ~1e-301, where an absolute tolerance would check nothing, and
//! both sides compute them in log space, so relative agreement is what matters. A value
//! statsmodels underflows to exactly 0 must be 0 here too (or below 1e-300). The statistics
//! are exact arithmetic on integers and must agree to 1e-15 relative.

use assay_scoring::paired::mcnemar;
use serde::Deserialize;

const TOLERANCE: f64 = 1e-9;

#[derive(Deserialize)]
struct Fixture {
    statsmodels: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    b: u64,
    c: u64,
    exact_statistic: f64,
    exact_pvalue: f64,
    /// `None` where statsmodels' statistic is infinite (no discordant pair).
    chi2_statistic: Option<f64>,
    chi2_pvalue: f64,
}

fn fixture() -> Fixture {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/mcnemar_reference.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The relative error of `actual` against `expected`; 0 when both are 0.
fn relative_error(expected: f64, actual: f64) -> f64 {
    if expected == actual {
        return 0.0;
    }
    if expected == 0.0 {
        // statsmodels underflowed: accept anything that underflows, or nearly.
        return if actual < 1e-300 { 0.0 } else { f64::INFINITY };
    }
    (expected - actual).abs() / expected.abs()
}

#[test]
fn matches_statsmodels() {
    let fixture = fixture();
    assert!(
        fixture.statsmodels.starts_with("0."),
        "{}",
        fixture.statsmodels
    );
    assert!(fixture.cases.len() >= 25);
    let mut worst = (0.0f64, 0.0f64);
    for case in &fixture.cases {
        let what = format!("mcnemar({}, {})", case.b, case.c);
        let m = mcnemar(case.b, case.c);
        assert_eq!(
            (m.b_only, m.a_only, m.discordant),
            (case.b, case.c, case.b + case.c)
        );
        assert_eq!(case.exact_statistic, case.b.min(case.c) as f64, "{what}");

        let exact = relative_error(case.exact_pvalue, m.exact_p);
        assert!(
            exact <= TOLERANCE,
            "{what} exact: statsmodels {:e}, assay {:e} (relative error {exact:e})",
            case.exact_pvalue,
            m.exact_p
        );
        worst.0 = worst.0.max(exact);

        match case.chi2_statistic {
            None => {
                // No discordant pair: statsmodels divides by zero (inf, p = 0); Assay
                // reports no chi-square test at all.
                assert_eq!(case.b + case.c, 0, "{what}");
                assert_eq!((m.chi2, m.chi2_p), (None, None), "{what}");
            }
            Some(statistic) => {
                let ours = m.chi2.unwrap();
                assert!(
                    relative_error(statistic, ours) <= 1e-15,
                    "{what} chi2: statsmodels {statistic}, assay {ours}"
                );
                let p = m.chi2_p.unwrap();
                let error = relative_error(case.chi2_pvalue, p);
                assert!(
                    error <= TOLERANCE,
                    "{what} chi2 p: statsmodels {:e}, assay {p:e} (relative error {error:e})",
                    case.chi2_pvalue
                );
                worst.1 = worst.1.max(error);
            }
        }
    }
    eprintln!(
        "largest relative error against statsmodels: exact p {:e}, chi-square p {:e}",
        worst.0, worst.1
    );
}
