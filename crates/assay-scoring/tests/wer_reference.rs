//! The built-in `wer` and `cer` against Python jiwer (`tests/reference/make_wer_reference.py`
//! writes the fixture with the same normalization expressed as a jiwer pipeline; its pytest
//! checks the fixture is what jiwer computes): every per-pair rate and edit count, and the
//! corpus-level rates over all pairs.

use assay_domain::manifest::TaskType;
use assay_scoring::aggregate::EditTally;
use assay_scoring::metrics::{self, cer_counts, wer_counts, EditCounts, MetricInput};
use serde::Deserialize;

const TOLERANCE: f64 = 1e-9;

#[derive(Deserialize)]
struct Fixture {
    jiwer: String,
    corpus: Values,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    reference: String,
    hypothesis: String,
    #[serde(flatten)]
    values: Values,
}

#[derive(Deserialize)]
struct Values {
    wer: f64,
    cer: f64,
    wer_counts: Counts,
    cer_counts: Counts,
}

#[derive(Deserialize)]
struct Counts {
    edits: u64,
    reference_len: u64,
}

impl From<&Counts> for EditCounts {
    fn from(c: &Counts) -> Self {
        EditCounts {
            edits: c.edits,
            reference_len: c.reference_len,
        }
    }
}

fn fixture() -> Fixture {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/jiwer_reference.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn assert_close(expected: f64, actual: f64, what: &str) {
    assert!(
        (expected - actual).abs() <= TOLERANCE,
        "{what}: jiwer {expected}, assay {actual}"
    );
}

#[test]
fn every_pair_matches_jiwer() {
    let fixture = fixture();
    assert!(fixture.jiwer.starts_with("4."), "jiwer {}", fixture.jiwer);
    assert!(fixture.cases.len() >= 40);
    for case in &fixture.cases {
        let what = format!("{:?} vs {:?}", case.hypothesis, case.reference);
        let v = &case.values;
        let words = wer_counts(&case.hypothesis, &case.reference);
        let chars = cer_counts(&case.hypothesis, &case.reference);
        assert_eq!(
            words,
            EditCounts::from(&v.wer_counts),
            "wer counts of {what}"
        );
        assert_eq!(
            chars,
            EditCounts::from(&v.cer_counts),
            "cer counts of {what}"
        );
        assert_close(v.wer, words.rate(), &format!("wer of {what}"));
        assert_close(v.cer, chars.rate(), &format!("cer of {what}"));

        // The same through the registry, as the engine scores a sample.
        let input = input(case);
        assert_close(v.wer, metrics::compute("wer", &input).unwrap(), &what);
        assert_close(v.cer, metrics::compute("cer", &input).unwrap(), &what);
    }
}

fn input(case: &Case) -> MetricInput<'_> {
    MetricInput::new(
        Some(&case.hypothesis),
        &case.reference,
        &[],
        TaskType::Transcription,
    )
}

#[test]
fn corpus_rates_match_jiwer() {
    let fixture = fixture();
    for (id, expected, counts) in [
        ("wer", fixture.corpus.wer, &fixture.corpus.wer_counts),
        ("cer", fixture.corpus.cer, &fixture.corpus.cer_counts),
    ] {
        let tally: EditTally = fixture
            .cases
            .iter()
            .map(|case| metrics::edit_counts(id, &input(case)).unwrap())
            .collect();
        assert_eq!(tally.n, fixture.cases.len() as u64);
        assert_eq!(tally.totals, EditCounts::from(counts), "{id}");
        assert_close(expected, tally.rate().unwrap(), &format!("{id}_corpus"));
        assert_eq!(
            metrics::builtin(id).unwrap().corpus_id,
            Some(format!("{id}_corpus").as_str())
        );

        // The corpus rate is not the mean of the per-sample rates.
        let mean = fixture
            .cases
            .iter()
            .map(|case| metrics::compute(id, &input(case)).unwrap())
            .sum::<f64>()
            / fixture.cases.len() as f64;
        assert!((mean - expected).abs() > 0.01, "{id}: {mean} vs {expected}");
    }
}
