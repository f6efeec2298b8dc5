//! The embedding metrics against reference values computed by scipy, scikit-learn and
//! pytrec_eval (`tests/reference/make_embedding_reference.py` writes the fixture; its
//! pytest checks the fixture is what those libraries compute).

use std::collections::{BTreeMap, HashMap};

use assay_scoring::embedding::{
    classification, classification_scores, cosine, knn_predict, multilabel_classification,
    multilabel_scores, pearson, query_metrics, rank, spearman, undersample_in_order,
    undersample_multilabel_in_order, LogisticRegression, MultilabelScores, DEFAULT_K_VALUES,
};
use serde::Deserialize;

const TOLERANCE: f64 = 1e-6;

#[derive(Deserialize)]
struct Fixture {
    correlation: Vec<CorrelationCase>,
    cosine: Vec<CosineCase>,
    classification: Vec<ClassificationCase>,
    classification_scores: Vec<ClassificationScoresCase>,
    multilabel: MultilabelCase,
    multilabel_scores: Vec<MultilabelScoresCase>,
    retrieval: RetrievalCase,
}

#[derive(Deserialize)]
struct CorrelationCase {
    name: String,
    x: Vec<f64>,
    y: Vec<f64>,
    pearson: Option<f64>,
    spearman: Option<f64>,
}

#[derive(Deserialize)]
struct CosineCase {
    a: Vec<f32>,
    b: Vec<f32>,
    cosine: f64,
}

#[derive(Deserialize)]
struct ClassificationCase {
    name: String,
    n_classes: usize,
    pool_x: Vec<Vec<f32>>,
    pool_y: Vec<usize>,
    test_x: Vec<Vec<f32>>,
    test_y: Vec<usize>,
    order: Vec<usize>,
    samples_per_label: usize,
    selected: Vec<usize>,
    expected: ClassificationExpected,
    expected_full_pool: ClassificationExpected,
}

#[derive(Deserialize)]
struct ClassificationExpected {
    proba: Vec<Vec<f64>>,
    pred: Vec<usize>,
    accuracy: f64,
    f1: f64,
    average_precision: Option<f64>,
}

#[derive(Deserialize)]
struct ClassificationScoresCase {
    name: String,
    y_true: Vec<usize>,
    y_pred: Vec<usize>,
    positive_proba: Option<Vec<f64>>,
    accuracy: f64,
    f1: f64,
    average_precision: Option<f64>,
}

#[derive(Deserialize)]
struct MultilabelCase {
    n_labels: usize,
    pool_x: Vec<Vec<f32>>,
    pool_y: Vec<Vec<usize>>,
    test_x: Vec<Vec<f32>>,
    test_y: Vec<Vec<usize>>,
    order: Vec<usize>,
    samples_per_label: usize,
    selected: Vec<usize>,
    expected: MultilabelExpected,
    expected_all_labelled: MultilabelExpected,
}

#[derive(Deserialize)]
struct MultilabelExpected {
    columns: Vec<usize>,
    predictions: Vec<Vec<u8>>,
    accuracy: f64,
    f1: f64,
    lrap: f64,
    hamming: f64,
}

#[derive(Deserialize)]
struct MultilabelScoresCase {
    name: String,
    y_true: Vec<Vec<u8>>,
    y_pred: Vec<Vec<u8>>,
    y_score: Vec<Vec<f64>>,
    accuracy: f64,
    f1: f64,
    lrap: f64,
    hamming: f64,
}

#[derive(Deserialize)]
struct RetrievalCase {
    k_values: Vec<usize>,
    doc_ids: Vec<String>,
    docs: Vec<Vec<f32>>,
    queries: BTreeMap<String, Vec<f32>>,
    qrels: BTreeMap<String, HashMap<String, i64>>,
    rankings: BTreeMap<String, Vec<(String, f64)>>,
    runs: BTreeMap<String, Run>,
}

#[derive(Deserialize)]
struct Run {
    scores: BTreeMap<String, BTreeMap<String, f64>>,
    metrics: BTreeMap<String, BTreeMap<String, f64>>,
}

fn fixture() -> Fixture {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/embedding_reference.json"
    );
    let text = std::fs::read_to_string(path).expect("read the fixture");
    serde_json::from_str(&text).expect("parse the fixture")
}

fn assert_close(actual: f64, expected: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= TOLERANCE,
        "{what}: got {actual}, expected {expected}"
    );
}

fn assert_close_opt(actual: Option<f64>, expected: Option<f64>, what: &str) {
    match (actual, expected) {
        (Some(a), Some(e)) => assert_close(a, e, what),
        (None, None) => {}
        _ => panic!("{what}: got {actual:?}, expected {expected:?}"),
    }
}

fn rows(data: &[Vec<f32>]) -> Vec<&[f32]> {
    data.iter().map(Vec::as_slice).collect()
}

fn flags(matrix: &[Vec<u8>]) -> Vec<Vec<bool>> {
    matrix
        .iter()
        .map(|row| row.iter().map(|&v| v != 0).collect())
        .collect()
}

fn assert_multilabel(actual: &MultilabelScores, expected: &MultilabelExpected, what: &str) {
    assert_close(
        actual.accuracy,
        expected.accuracy,
        &format!("{what} accuracy"),
    );
    assert_close(actual.f1, expected.f1, &format!("{what} f1"));
    assert_close(actual.lrap, expected.lrap, &format!("{what} lrap"));
    assert_close(actual.hamming, expected.hamming, &format!("{what} hamming"));
}

#[test]
fn correlation_matches_scipy() {
    let f = fixture();
    assert!(f.correlation.len() >= 4);
    for case in &f.correlation {
        let what = &case.name;
        assert_close_opt(
            pearson(&case.x, &case.y),
            case.pearson,
            &format!("{what} pearson"),
        );
        assert_close_opt(
            spearman(&case.x, &case.y),
            case.spearman,
            &format!("{what} spearman"),
        );
    }
}

#[test]
fn cosine_matches_numpy() {
    for (i, case) in fixture().cosine.iter().enumerate() {
        assert_close(
            cosine(&case.a, &case.b),
            case.cosine,
            &format!("cosine {i}"),
        );
    }
}

fn check_logistic(
    case: &ClassificationCase,
    train: &[usize],
    expected: &ClassificationExpected,
    what: &str,
) {
    let xs: Vec<&[f32]> = train.iter().map(|&i| case.pool_x[i].as_slice()).collect();
    let ys: Vec<usize> = train.iter().map(|&i| case.pool_y[i]).collect();
    let model = LogisticRegression::fit(&xs, &ys, case.n_classes);
    let mut predictions = Vec::new();
    let mut positive = Vec::new();
    for (i, x) in case.test_x.iter().enumerate() {
        let proba = model.predict_proba(x);
        assert_eq!(proba.len(), case.n_classes);
        for (c, (&p, &e)) in proba.iter().zip(&expected.proba[i]).enumerate() {
            assert_close(p, e, &format!("{what} proba[{i}][{c}]"));
        }
        predictions.push(model.predict(x));
        positive.push(proba.get(1).copied().unwrap_or(0.0));
    }
    assert_eq!(predictions, expected.pred, "{what} predictions");
    let binary = case.n_classes == 2;
    let scores = classification_scores(
        &case.test_y,
        &predictions,
        binary.then_some(positive.as_slice()),
    );
    assert_close(
        scores.accuracy,
        expected.accuracy,
        &format!("{what} accuracy"),
    );
    assert_close(scores.f1, expected.f1, &format!("{what} f1"));
    assert_close_opt(
        scores.average_precision,
        expected.average_precision,
        &format!("{what} average precision"),
    );
}

#[test]
fn logistic_regression_matches_scikit_learn() {
    let f = fixture();
    assert_eq!(f.classification.len(), 3);
    for case in &f.classification {
        let name = &case.name;
        let selected = undersample_in_order(&case.pool_y, &case.order, case.samples_per_label);
        assert_eq!(selected, case.selected, "{name} undersampling");
        check_logistic(case, &selected, &case.expected, &format!("{name} selected"));
        let all: Vec<usize> = (0..case.pool_y.len()).collect();
        check_logistic(
            case,
            &all,
            &case.expected_full_pool,
            &format!("{name} full pool"),
        );

        // One experiment whose undersampling keeps every row fits the whole pool.
        let result = classification(
            &rows(&case.pool_x),
            &case.pool_y,
            &rows(&case.test_x),
            &case.test_y,
            case.n_classes,
            usize::MAX,
            1,
            7,
        );
        let expected = &case.expected_full_pool;
        assert_close(
            result.mean.accuracy,
            expected.accuracy,
            &format!("{name} protocol"),
        );
        assert_close(result.mean.f1, expected.f1, &format!("{name} protocol f1"));
        assert_close_opt(
            result.mean.average_precision,
            expected.average_precision,
            &format!("{name} protocol average precision"),
        );
        let per_sample: Vec<f64> = expected
            .pred
            .iter()
            .zip(&case.test_y)
            .map(|(p, t)| if p == t { 1.0 } else { 0.0 })
            .collect();
        assert_eq!(result.per_sample_accuracy, per_sample, "{name} per sample");
    }
}

#[test]
fn classification_scores_match_scikit_learn() {
    for case in &fixture().classification_scores {
        let s = classification_scores(&case.y_true, &case.y_pred, case.positive_proba.as_deref());
        let what = &case.name;
        assert_close(s.accuracy, case.accuracy, &format!("{what} accuracy"));
        assert_close(s.f1, case.f1, &format!("{what} f1"));
        assert_close_opt(
            s.average_precision,
            case.average_precision,
            &format!("{what} average precision"),
        );
    }
}

#[test]
fn multilabel_knn_matches_scikit_learn() {
    let m = fixture().multilabel;
    let selected = undersample_multilabel_in_order(&m.pool_y, &m.order, m.samples_per_label);
    assert_eq!(selected, m.selected, "multilabel undersampling");
    let columns = assay_scoring::embedding::label_columns(&m.test_y, m.n_labels);
    assert_eq!(columns, m.expected.columns);
    let y_true: Vec<Vec<bool>> = m
        .test_y
        .iter()
        .map(|row| columns.iter().map(|c| row.contains(c)).collect())
        .collect();
    let labelled: Vec<usize> = (0..m.pool_y.len())
        .filter(|&i| !m.pool_y[i].is_empty())
        .collect();
    for (train, expected, what) in [
        (&selected, &m.expected, "selected"),
        (&labelled, &m.expected_all_labelled, "all labelled"),
    ] {
        let xs: Vec<&[f32]> = train.iter().map(|&i| m.pool_x[i].as_slice()).collect();
        let ys: Vec<Vec<usize>> = train.iter().map(|&i| m.pool_y[i].clone()).collect();
        let y_pred = knn_predict(&xs, &ys, &rows(&m.test_x), &columns);
        assert_eq!(y_pred, flags(&expected.predictions), "{what} predictions");
        let y_score: Vec<Vec<f64>> = expected
            .predictions
            .iter()
            .map(|row| row.iter().map(|&v| f64::from(v)).collect())
            .collect();
        let scores = multilabel_scores(&y_true, &y_pred, &y_score);
        assert_multilabel(&scores, expected, what);
    }

    // One experiment whose undersampling keeps every labelled row.
    let result = multilabel_classification(
        &rows(&m.pool_x),
        &m.pool_y,
        &rows(&m.test_x),
        &m.test_y,
        m.n_labels,
        usize::MAX,
        1,
        3,
    );
    assert_multilabel(&result.mean, &m.expected_all_labelled, "protocol");
}

#[test]
fn multilabel_scores_match_scikit_learn() {
    for case in &fixture().multilabel_scores {
        let s = multilabel_scores(&flags(&case.y_true), &flags(&case.y_pred), &case.y_score);
        let what = &case.name;
        assert_close(s.accuracy, case.accuracy, &format!("{what} accuracy"));
        assert_close(s.f1, case.f1, &format!("{what} f1"));
        assert_close(s.lrap, case.lrap, &format!("{what} lrap"));
        assert_close(s.hamming, case.hamming, &format!("{what} hamming"));
    }
}

#[test]
fn ranking_matches_numpy_and_trec_eval_order() {
    let r = fixture().retrieval;
    let docs: Vec<(&str, &[f32])> = r
        .doc_ids
        .iter()
        .map(String::as_str)
        .zip(r.docs.iter().map(Vec::as_slice))
        .collect();
    assert_eq!(r.queries.len(), 6);
    for (qid, query) in &r.queries {
        let ranked = rank(query, &docs);
        let expected = &r.rankings[qid];
        let ids: Vec<&str> = ranked.iter().map(|(d, _)| d.as_str()).collect();
        let expected_ids: Vec<&str> = expected.iter().map(|(d, _)| d.as_str()).collect();
        assert_eq!(ids, expected_ids, "{qid} order");
        for ((d, s), (_, e)) in ranked.iter().zip(expected) {
            assert_close(*s, *e, &format!("{qid} {d} score"));
        }
        // Ranked by Rust's own cosine scores, the metrics equal pytrec_eval's.
        let metrics = query_metrics(&ranked, &r.qrels[qid], &r.k_values);
        for (key, value) in &r.runs["cosine"].metrics[qid] {
            assert_close(metrics[key], *value, &format!("{qid} rank {key}"));
        }
    }
}

#[test]
fn query_metrics_match_pytrec_eval() {
    let r = fixture().retrieval;
    assert_eq!(r.k_values, DEFAULT_K_VALUES.to_vec());
    for (name, run) in &r.runs {
        for (qid, scores) in &run.scores {
            // Given in id order, not rank order: query_metrics ranks them itself.
            let ranking: Vec<(String, f64)> = scores.iter().map(|(d, s)| (d.clone(), *s)).collect();
            let metrics = query_metrics(&ranking, &r.qrels[qid], &r.k_values);
            let expected = &run.metrics[qid];
            assert_eq!(metrics.len(), expected.len(), "{name} {qid} keys");
            for (key, value) in expected {
                let actual = metrics
                    .get(key)
                    .unwrap_or_else(|| panic!("{name} {qid}: no {key}"));
                assert_close(*actual, *value, &format!("{name} {qid} {key}"));
            }
        }
    }
}
