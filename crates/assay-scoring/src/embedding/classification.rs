//! Linear-probe classification of embeddings: seeded undersampling, logistic regression,
//! accuracy, macro F1 and average precision.

use std::collections::HashMap;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::logistic::LogisticRegression;

/// Undersampling: shuffles the indices `0..labels.len()` with `rng`, then keeps, in the
/// shuffled order, the first `samples_per_label` indices of each label (see
/// [`undersample_in_order`]).
pub fn undersample(
    labels: &[usize],
    samples_per_label: usize,
    rng: &mut impl rand::Rng,
) -> Vec<usize> {
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.shuffle(rng);
    undersample_in_order(labels, &order, samples_per_label)
}

/// The indices of `order`, in that order, that are among the first `samples_per_label`
/// of their label (`labels[i]`). Indices out of range of `labels` are skipped.
pub fn undersample_in_order(
    labels: &[usize],
    order: &[usize],
    samples_per_label: usize,
) -> Vec<usize> {
    let mut counts: HashMap<usize, usize> = HashMap::new();
    let mut kept = Vec::new();
    for &i in order {
        let Some(&label) = labels.get(i) else {
            continue;
        };
        let count = counts.entry(label).or_insert(0);
        if *count < samples_per_label {
            *count += 1;
            kept.push(i);
        }
    }
    kept
}

/// Scores of one set of single-label predictions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassificationScores {
    /// Fraction of rows predicted right (0 with no rows).
    pub accuracy: f64,
    /// Macro F1 as scikit-learn's `f1_score(average="macro")` computes it: the unweighted
    /// mean over the classes present in the true or the predicted labels of
    /// F1 = 2·TP / (2·TP + FP + FN) (0 with no rows).
    pub f1: f64,
    /// Average precision of the positive class (label 1) ranked by its probability, as
    /// scikit-learn's `average_precision_score` computes it: Σₙ (Rₙ − Rₙ₋₁)·Pₙ over the
    /// distinct probability thresholds, highest first. Only for binary tasks: `None`
    /// without probabilities, or when the true labels are not a mix of 1 and other labels.
    pub average_precision: Option<f64>,
}

/// Scores `y_pred` against `y_true` (rows beyond the shorter are ignored).
/// `positive_proba`, when given, is each row's probability of the positive class, label
/// 1, and yields [`ClassificationScores::average_precision`]; it is ignored (`None`) when
/// shorter than the rows or not all finite.
pub fn classification_scores(
    y_true: &[usize],
    y_pred: &[usize],
    positive_proba: Option<&[f64]>,
) -> ClassificationScores {
    let n = y_true.len().min(y_pred.len());
    let (y_true, y_pred) = (&y_true[..n], &y_pred[..n]);
    let correct = y_true.iter().zip(y_pred).filter(|(t, p)| t == p).count();
    let accuracy = if n == 0 {
        0.0
    } else {
        correct as f64 / n as f64
    };
    let average_precision = positive_proba.filter(|p| p.len() >= n).and_then(|p| {
        let positive: Vec<bool> = y_true.iter().map(|&t| t == 1).collect();
        average_precision(&positive, &p[..n])
    });
    ClassificationScores {
        accuracy,
        f1: macro_f1(y_true, y_pred),
        average_precision,
    }
}

fn macro_f1(y_true: &[usize], y_pred: &[usize]) -> f64 {
    // Per class: (true positives, false positives, false negatives).
    let mut counts: HashMap<usize, (usize, usize, usize)> = HashMap::new();
    for (&t, &p) in y_true.iter().zip(y_pred) {
        if t == p {
            counts.entry(t).or_default().0 += 1;
        } else {
            counts.entry(p).or_default().1 += 1;
            counts.entry(t).or_default().2 += 1;
        }
    }
    if counts.is_empty() {
        return 0.0;
    }
    let mut classes: Vec<_> = counts.into_iter().collect();
    // A fixed order keeps the floating-point sum reproducible.
    classes.sort_unstable_by_key(|(class, _)| *class);
    let total: f64 = classes
        .iter()
        .map(|(_, (tp, fp, fn_))| f1_from_counts(*tp, *fp, *fn_))
        .sum();
    total / classes.len() as f64
}

/// F1 = 2·TP / (2·TP + FP + FN); 0 when the denominator is 0.
pub(crate) fn f1_from_counts(tp: usize, fp: usize, fn_: usize) -> f64 {
    let denom = 2 * tp + fp + fn_;
    if denom == 0 {
        0.0
    } else {
        (2 * tp) as f64 / denom as f64
    }
}

/// Average precision of `scores` ranking the `positive` rows; `None` unless both
/// positive and negative rows are present and every score is finite.
fn average_precision(positive: &[bool], scores: &[f64]) -> Option<f64> {
    let n_pos = positive.iter().filter(|&&p| p).count();
    if n_pos == 0 || n_pos == positive.len() || !scores.iter().all(|s| s.is_finite()) {
        return None;
    }
    let mut order: Vec<usize> = (0..positive.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut fp) = (0usize, 0usize);
    let (mut ap, mut prev_recall) = (0.0, 0.0);
    for (pos, &i) in order.iter().enumerate() {
        if positive[i] {
            tp += 1;
        } else {
            fp += 1;
        }
        // A threshold ends where the next score differs (equal scores form one threshold).
        let last_of_threshold = order
            .get(pos + 1)
            .is_none_or(|&next| scores[next] != scores[i]);
        if last_of_threshold {
            let recall = tp as f64 / n_pos as f64;
            let precision = tp as f64 / (tp + fp) as f64;
            ap += (recall - prev_recall) * precision;
            prev_recall = recall;
        }
    }
    Some(ap)
}

/// The outcome of [`classification`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassificationResult {
    /// Each score averaged over the experiments (`average_precision` over those that have
    /// one; all 0 / `None` with no experiments).
    pub mean: ClassificationScores,
    /// The scores of each experiment.
    pub experiments: Vec<ClassificationScores>,
    /// For each test row, the fraction of experiments that predicted it right; its mean is
    /// the mean accuracy.
    pub per_sample_accuracy: Vec<f64>,
}

/// Linear-probe classification: `n_experiments` times, undersample the training rows to
/// `samples_per_label` per label ([`undersample`], with one ChaCha8 generator seeded
/// from `seed` and advanced across the experiments), fit a [`LogisticRegression`] on them
/// and score its predictions for the test rows ([`classification_scores`], with the
/// probability of class 1 as the positive-class score when `n_classes` is 2).
///
/// Rows beyond the shorter of `train_x`/`train_y` (and of `test_x`/`test_y`) are ignored.
#[allow(clippy::too_many_arguments)]
pub fn classification(
    train_x: &[&[f32]],
    train_y: &[usize],
    test_x: &[&[f32]],
    test_y: &[usize],
    n_classes: usize,
    samples_per_label: usize,
    n_experiments: usize,
    seed: u64,
) -> ClassificationResult {
    let n_train = train_x.len().min(train_y.len());
    let n_test = test_x.len().min(test_y.len());
    let (test_x, test_y) = (&test_x[..n_test], &test_y[..n_test]);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut experiments = Vec::with_capacity(n_experiments);
    let mut correct = vec![0usize; n_test];
    for _ in 0..n_experiments {
        let kept = undersample(&train_y[..n_train], samples_per_label, &mut rng);
        let xs: Vec<&[f32]> = kept.iter().map(|&i| train_x[i]).collect();
        let ys: Vec<usize> = kept.iter().map(|&i| train_y[i]).collect();
        let model = LogisticRegression::fit(&xs, &ys, n_classes);
        let probas: Vec<Vec<f64>> = test_x.iter().map(|x| model.predict_proba(x)).collect();
        let predictions: Vec<usize> = probas.iter().map(|p| super::logistic::argmax(p)).collect();
        for ((c, p), t) in correct.iter_mut().zip(&predictions).zip(test_y) {
            if p == t {
                *c += 1;
            }
        }
        let positive: Option<Vec<f64>> =
            (n_classes == 2).then(|| probas.iter().map(|p| p[1]).collect());
        experiments.push(classification_scores(
            test_y,
            &predictions,
            positive.as_deref(),
        ));
    }
    let count = experiments.len().max(1) as f64;
    let aps: Vec<f64> = experiments
        .iter()
        .filter_map(|s| s.average_precision)
        .collect();
    let mean = ClassificationScores {
        accuracy: experiments.iter().map(|s| s.accuracy).sum::<f64>() / count,
        f1: experiments.iter().map(|s| s.f1).sum::<f64>() / count,
        average_precision: (!aps.is_empty()).then(|| aps.iter().sum::<f64>() / aps.len() as f64),
    };
    let per_sample_accuracy = share_of_experiments(correct, n_experiments);
    ClassificationResult {
        mean,
        experiments,
        per_sample_accuracy,
    }
}

/// Per test row: the share of `n_experiments` experiments that got it right (0 without any).
pub(crate) fn share_of_experiments(correct: Vec<usize>, n_experiments: usize) -> Vec<f64> {
    correct
        .into_iter()
        .map(|c| {
            if n_experiments == 0 {
                0.0
            } else {
                c as f64 / n_experiments as f64
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn undersample_keeps_the_first_of_each_label_in_order() {
        let labels = [0, 1, 0, 0, 1, 2];
        assert_eq!(
            undersample_in_order(&labels, &[5, 4, 3, 2, 1, 0], 1),
            vec![5, 4, 3]
        );
        assert_eq!(
            undersample_in_order(&labels, &[0, 2, 3, 9, 1], 2),
            vec![0, 2, 1]
        );
        assert!(undersample_in_order(&labels, &[0, 1], 0).is_empty());
        assert!(undersample_in_order(&[], &[], 3).is_empty());
    }

    #[test]
    fn undersample_is_seeded() {
        let labels: Vec<usize> = (0..40).map(|i| i % 4).collect();
        let a = undersample(&labels, 3, &mut ChaCha8Rng::seed_from_u64(7));
        let b = undersample(&labels, 3, &mut ChaCha8Rng::seed_from_u64(7));
        assert_eq!(a, b);
        assert_eq!(a.len(), 12);
        for label in 0..4 {
            assert_eq!(a.iter().filter(|&&i| labels[i] == label).count(), 3);
        }
    }

    #[test]
    fn scores_accuracy_f1_and_ap() {
        // Classes {0, 1, 2}; class 2 is only predicted (F1 0).
        let s = classification_scores(&[0, 0, 1, 1], &[0, 1, 1, 2], None);
        assert!(close(s.accuracy, 0.5));
        // F1: class 0 = 2/3, class 1 = 2·1/(2+1+1) = 1/2, class 2 = 0.
        assert!(close(s.f1, (2.0 / 3.0 + 0.5) / 3.0));
        assert_eq!(s.average_precision, None);
        // AP with tied scores: thresholds 0.8 {1, 0} and 0.4 {1}.
        let s = classification_scores(&[1, 0, 1], &[1, 1, 0], Some(&[0.8, 0.8, 0.4]));
        assert!(close(
            s.average_precision.unwrap_or(0.0),
            0.5 * 0.5 + 0.5 * (2.0 / 3.0)
        ));
        // Perfect ranking.
        let s = classification_scores(&[0, 1, 0, 1], &[0, 1, 0, 1], Some(&[0.1, 0.9, 0.2, 0.7]));
        assert_eq!(s.average_precision, Some(1.0));
        assert!(close(s.f1, 1.0));
    }

    #[test]
    fn scores_degenerate_inputs() {
        let s = classification_scores(&[], &[], Some(&[]));
        assert_eq!(
            s,
            ClassificationScores {
                accuracy: 0.0,
                f1: 0.0,
                average_precision: None
            }
        );
        // Single class in the truth: no AP.
        let s = classification_scores(&[1, 1], &[1, 0], Some(&[0.9, 0.1]));
        assert_eq!(s.average_precision, None);
        // Too few probabilities, or a NaN: no AP.
        assert_eq!(
            classification_scores(&[0, 1], &[0, 1], Some(&[0.1])).average_precision,
            None
        );
        assert_eq!(
            classification_scores(&[0, 1], &[0, 1], Some(&[0.1, f64::NAN])).average_precision,
            None
        );
        // Length mismatch: extra rows ignored.
        assert!(close(
            classification_scores(&[1, 2, 3], &[1], None).accuracy,
            1.0
        ));
    }

    fn blobs() -> (Vec<Vec<f32>>, Vec<usize>) {
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..30 {
            let label = i % 3;
            let jitter = (i as f32 * 0.37).sin() * 0.3;
            let mut row = vec![jitter, -jitter, 0.1 * jitter];
            row[label] += 2.0;
            x.push(row);
            y.push(label);
        }
        (x, y)
    }

    #[test]
    fn classification_experiments() {
        let (x, y) = blobs();
        let rows: Vec<&[f32]> = x.iter().map(|r| r.as_slice()).collect();
        let r = classification(&rows, &y, &rows, &y, 3, 4, 5, 42);
        assert_eq!(r.experiments.len(), 5);
        assert!(close(r.mean.accuracy, 1.0));
        assert!(close(r.mean.f1, 1.0));
        assert_eq!(r.mean.average_precision, None);
        assert_eq!(r.per_sample_accuracy.len(), 30);
        let mean: f64 = r.per_sample_accuracy.iter().sum::<f64>() / 30.0;
        assert!(close(mean, r.mean.accuracy));
        // Same seed, same result.
        assert_eq!(r, classification(&rows, &y, &rows, &y, 3, 4, 5, 42));
    }

    #[test]
    fn classification_binary_has_ap_and_degenerate_cases_are_total() {
        let (x, y) = blobs();
        let keep: Vec<usize> = (0..30).filter(|&i| y[i] < 2).collect();
        let rows: Vec<&[f32]> = keep.iter().map(|&i| x[i].as_slice()).collect();
        let ys: Vec<usize> = keep.iter().map(|&i| y[i]).collect();
        let r = classification(&rows, &ys, &rows, &ys, 2, 3, 2, 1);
        assert_eq!(r.mean.average_precision, Some(1.0));

        let none = classification(&rows, &ys, &rows, &ys, 2, 3, 0, 1);
        assert!(none.experiments.is_empty());
        assert_eq!(none.mean.accuracy, 0.0);
        assert_eq!(none.per_sample_accuracy, vec![0.0; rows.len()]);

        let empty = classification(&[], &[], &[], &[], 2, 8, 3, 1);
        assert_eq!(empty.mean.accuracy, 0.0);
        assert!(empty.per_sample_accuracy.is_empty());

        // One training class: always predicted.
        let single = classification(&rows[..1], &ys[..1], &rows, &ys, 2, 8, 1, 1);
        assert!(single.mean.accuracy > 0.0 && single.mean.accuracy < 1.0);
    }
}
