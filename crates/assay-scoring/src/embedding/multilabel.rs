//! Multilabel classification of embeddings with a k-nearest-neighbours probe: subset
//! accuracy, macro F1, label ranking average precision and the Jaccard-based hamming
//! score.

use std::collections::HashMap;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::classification::f1_from_counts;
use super::classification::share_of_experiments;

/// The number of neighbours the multilabel probe votes with (fewer when the training set
/// is smaller).
pub const KNN_NEIGHBORS: usize = 5;

/// Multilabel undersampling: shuffles the indices `0..labels.len()` with `rng`, then
/// applies [`undersample_multilabel_in_order`].
pub fn undersample_multilabel(
    labels: &[Vec<usize>],
    samples_per_label: usize,
    rng: &mut impl rand::Rng,
) -> Vec<usize> {
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.shuffle(rng);
    undersample_multilabel_in_order(labels, &order, samples_per_label)
}

/// Walks `order` and keeps a row when any of its labels has been kept fewer than
/// `samples_per_label` times so far, then counts each of the kept row's labels (so a
/// label can end up with more than `samples_per_label` rows). Rows without labels are
/// never kept; indices out of range of `labels` are skipped.
pub fn undersample_multilabel_in_order(
    labels: &[Vec<usize>],
    order: &[usize],
    samples_per_label: usize,
) -> Vec<usize> {
    let mut counts: HashMap<usize, usize> = HashMap::new();
    let mut kept = Vec::new();
    for &i in order {
        let Some(row) = labels.get(i) else {
            continue;
        };
        if row
            .iter()
            .any(|l| counts.get(l).copied().unwrap_or(0) < samples_per_label)
        {
            kept.push(i);
            for &l in row {
                *counts.entry(l).or_insert(0) += 1;
            }
        }
    }
    kept
}

/// k-nearest-neighbours multilabel prediction: for each test row, its
/// `min(`[`KNN_NEIGHBORS`]`, train rows)` nearest training rows by Euclidean distance
/// (ties to the lower training index) vote per label, and the row is predicted to have
/// label `columns[j]` when a strict majority of them have it. Returns one row of
/// `columns.len()` flags per test row (all false with no training rows).
///
/// Distances are computed in `f64`; rows of different lengths are zero-padded and
/// non-finite components count as 0.
pub fn knn_predict(
    train_x: &[&[f32]],
    train_y: &[Vec<usize>],
    test_x: &[&[f32]],
    columns: &[usize],
) -> Vec<Vec<bool>> {
    let n_train = train_x.len().min(train_y.len());
    let k = KNN_NEIGHBORS.min(n_train);
    // Each training row's labels as column flags.
    let train_flags: Vec<Vec<bool>> = train_y[..n_train]
        .iter()
        .map(|row| columns.iter().map(|c| row.contains(c)).collect())
        .collect();
    test_x
        .iter()
        .map(|x| {
            let mut by_distance: Vec<(f64, usize)> = train_x[..n_train]
                .iter()
                .enumerate()
                .map(|(i, t)| (squared_distance(x, t), i))
                .collect();
            by_distance.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let mut votes = vec![0usize; columns.len()];
            for &(_, i) in &by_distance[..k] {
                for (v, &flag) in votes.iter_mut().zip(&train_flags[i]) {
                    *v += usize::from(flag);
                }
            }
            votes.into_iter().map(|v| k > 0 && 2 * v > k).collect()
        })
        .collect()
}

fn squared_distance(a: &[f32], b: &[f32]) -> f64 {
    let value = |v: &[f32], j: usize| {
        v.get(j)
            .map_or(0.0, |&x| if x.is_finite() { f64::from(x) } else { 0.0 })
    };
    (0..a.len().max(b.len()))
        .map(|j| {
            let d = value(a, j) - value(b, j);
            d * d
        })
        .sum()
}

/// Scores of one set of multilabel predictions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MultilabelScores {
    /// Subset accuracy: the fraction of rows whose predicted label set equals the true one.
    pub accuracy: f64,
    /// Macro F1 over the label columns, as scikit-learn's `f1_score(average="macro")`
    /// computes it for label-indicator matrices (a column with no true and no predicted
    /// label scores 0).
    pub f1: f64,
    /// Label ranking average precision, as scikit-learn's
    /// `label_ranking_average_precision_score` computes it from the per-label scores.
    pub lrap: f64,
    /// Mean over rows of |true ∩ predicted| / |true ∪ predicted| (1 for a row where both
    /// are empty).
    pub hamming: f64,
}

/// Scores multilabel predictions given as label-indicator rows (`y_true[i][j]`: row i has
/// label column j) together with per-label ranking scores `y_score` (higher ranks first;
/// the multilabel protocol passes the 0/1 predictions). Every value is 0 with no rows.
///
/// Rows beyond the shortest of the three inputs are ignored; the number of label columns
/// is the widest row of `y_true`/`y_pred`, missing cells are false (score 0).
///
/// Label ranking average precision of a row with relevant labels R:
/// mean over j ∈ R of |{k ∈ R : sₖ ≥ sⱼ}| / |{k : sₖ ≥ sⱼ}|, and 1 for a row whose
/// labels are all relevant or all irrelevant.
pub fn multilabel_scores(
    y_true: &[Vec<bool>],
    y_pred: &[Vec<bool>],
    y_score: &[Vec<f64>],
) -> MultilabelScores {
    let n = y_true.len().min(y_pred.len()).min(y_score.len());
    if n == 0 {
        return MultilabelScores {
            accuracy: 0.0,
            f1: 0.0,
            lrap: 0.0,
            hamming: 0.0,
        };
    }
    let width = y_true[..n]
        .iter()
        .chain(&y_pred[..n])
        .map(Vec::len)
        .max()
        .unwrap_or(0);
    let cell = |row: &Vec<bool>, j: usize| row.get(j).copied().unwrap_or(false);
    let mut exact = 0usize;
    let mut jaccard_sum = 0.0;
    let mut lrap_sum = 0.0;
    let mut counts = vec![(0usize, 0usize, 0usize); width];
    for i in 0..n {
        let (t, p) = (&y_true[i], &y_pred[i]);
        let (mut inter, mut union, mut same) = (0usize, 0usize, true);
        for (j, c) in counts.iter_mut().enumerate() {
            let (a, b) = (cell(t, j), cell(p, j));
            inter += usize::from(a && b);
            union += usize::from(a || b);
            same &= a == b;
            match (a, b) {
                (true, true) => c.0 += 1,
                (false, true) => c.1 += 1,
                (true, false) => c.2 += 1,
                (false, false) => {}
            }
        }
        exact += usize::from(same);
        jaccard_sum += if union == 0 {
            1.0
        } else {
            inter as f64 / union as f64
        };
        let scores: Vec<f64> = (0..width)
            .map(|j| y_score[i].get(j).copied().unwrap_or(0.0))
            .collect();
        let relevant: Vec<bool> = (0..width).map(|j| cell(t, j)).collect();
        lrap_sum += row_lrap(&relevant, &scores);
    }
    let f1 = if width == 0 {
        0.0
    } else {
        counts
            .iter()
            .map(|&(tp, fp, fn_)| f1_from_counts(tp, fp, fn_))
            .sum::<f64>()
            / width as f64
    };
    MultilabelScores {
        accuracy: exact as f64 / n as f64,
        f1,
        lrap: lrap_sum / n as f64,
        hamming: jaccard_sum / n as f64,
    }
}

/// One row's label ranking average precision (NaN scores rank below every number).
fn row_lrap(relevant: &[bool], scores: &[f64]) -> f64 {
    let n_relevant = relevant.iter().filter(|&&r| r).count();
    if n_relevant == 0 || n_relevant == relevant.len() {
        return 1.0;
    }
    let at_least =
        |a: f64, b: f64| a >= b || (b.is_nan() && !a.is_nan()) || (a.is_nan() && b.is_nan());
    let mut sum = 0.0;
    for (j, &s) in scores.iter().enumerate() {
        if !relevant[j] {
            continue;
        }
        let rank = scores.iter().filter(|&&o| at_least(o, s)).count();
        let relevant_rank = scores
            .iter()
            .zip(relevant)
            .filter(|&(&o, &r)| r && at_least(o, s))
            .count();
        sum += relevant_rank as f64 / rank as f64;
    }
    sum / n_relevant as f64
}

/// The outcome of [`multilabel_classification`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MultilabelResult {
    /// Each score averaged over the experiments (all 0 with no experiments).
    pub mean: MultilabelScores,
    /// The scores of each experiment.
    pub experiments: Vec<MultilabelScores>,
    /// For each test row, the fraction of experiments whose predicted label set was exactly
    /// right; its mean is the mean accuracy.
    pub per_sample_accuracy: Vec<f64>,
}

/// The label columns of a multilabel evaluation: the distinct labels below `n_labels`
/// that occur in `test_y`, ascending.
pub fn label_columns(test_y: &[Vec<usize>], n_labels: usize) -> Vec<usize> {
    let mut columns: Vec<usize> = test_y
        .iter()
        .flatten()
        .copied()
        .filter(|&l| l < n_labels)
        .collect();
    columns.sort_unstable();
    columns.dedup();
    columns
}

/// Multilabel classification with a k-nearest-neighbours probe.
///
/// The label columns are [`label_columns`]: the labels below `n_labels` that occur in
/// `test_y`; other labels take no part in the scores. `n_experiments` times: undersample the
/// training rows ([`undersample_multilabel`], with one ChaCha8 generator seeded from
/// `seed` and advanced across the experiments), predict each test row's labels by
/// [`knn_predict`] and score them with [`multilabel_scores`], ranking labels by the 0/1
/// predictions.
///
/// Rows beyond the shorter of `train_x`/`train_y` (and of `test_x`/`test_y`) are ignored.
#[allow(clippy::too_many_arguments)]
pub fn multilabel_classification(
    train_x: &[&[f32]],
    train_y: &[Vec<usize>],
    test_x: &[&[f32]],
    test_y: &[Vec<usize>],
    n_labels: usize,
    samples_per_label: usize,
    n_experiments: usize,
    seed: u64,
) -> MultilabelResult {
    let n_train = train_x.len().min(train_y.len());
    let n_test = test_x.len().min(test_y.len());
    let (train_x, train_y) = (&train_x[..n_train], &train_y[..n_train]);
    let (test_x, test_y) = (&test_x[..n_test], &test_y[..n_test]);
    let columns = label_columns(test_y, n_labels);
    let y_true: Vec<Vec<bool>> = test_y
        .iter()
        .map(|row| columns.iter().map(|c| row.contains(c)).collect())
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut experiments = Vec::with_capacity(n_experiments);
    let mut correct = vec![0usize; n_test];
    for _ in 0..n_experiments {
        let kept = undersample_multilabel(train_y, samples_per_label, &mut rng);
        let xs: Vec<&[f32]> = kept.iter().map(|&i| train_x[i]).collect();
        let ys: Vec<Vec<usize>> = kept.iter().map(|&i| train_y[i].clone()).collect();
        let y_pred = knn_predict(&xs, &ys, test_x, &columns);
        for ((c, p), t) in correct.iter_mut().zip(&y_pred).zip(&y_true) {
            *c += usize::from(p == t);
        }
        let y_score: Vec<Vec<f64>> = y_pred
            .iter()
            .map(|row| row.iter().map(|&b| f64::from(u8::from(b))).collect())
            .collect();
        experiments.push(multilabel_scores(&y_true, &y_pred, &y_score));
    }
    let count = experiments.len().max(1) as f64;
    let mean_of = |f: fn(&MultilabelScores) -> f64| experiments.iter().map(f).sum::<f64>() / count;
    let mean = MultilabelScores {
        accuracy: mean_of(|s| s.accuracy),
        f1: mean_of(|s| s.f1),
        lrap: mean_of(|s| s.lrap),
        hamming: mean_of(|s| s.hamming),
    };
    let per_sample_accuracy = share_of_experiments(correct, n_experiments);
    MultilabelResult {
        mean,
        experiments,
        per_sample_accuracy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn multilabel_undersampling() {
        let labels = vec![vec![0, 1], vec![0], vec![1], vec![], vec![2, 0], vec![2]];
        // Row 0 counts labels 0 and 1; row 1 (label 0 full) and row 2 (label 1 full) are
        // skipped; row 3 has no labels; row 4 is kept for label 2 and pushes label 0 to 2.
        assert_eq!(
            undersample_multilabel_in_order(&labels, &[0, 1, 2, 3, 4, 5], 1),
            vec![0, 4]
        );
        assert_eq!(
            undersample_multilabel_in_order(&labels, &[5, 3, 2, 1, 0, 42], 1),
            vec![5, 2, 1]
        );
        assert!(undersample_multilabel_in_order(&labels, &[0, 1], 0).is_empty());
        let a = undersample_multilabel(&labels, 1, &mut ChaCha8Rng::seed_from_u64(3));
        let b = undersample_multilabel(&labels, 1, &mut ChaCha8Rng::seed_from_u64(3));
        assert_eq!(a, b);
    }

    #[test]
    fn knn_majority_vote() {
        let train: Vec<Vec<f32>> = (0..7).map(|i| vec![i as f32]).collect();
        let rows: Vec<&[f32]> = train.iter().map(|r| r.as_slice()).collect();
        let labels = vec![
            vec![0],
            vec![0, 1],
            vec![0, 1],
            vec![1],
            vec![],
            vec![2],
            vec![2],
        ];
        // Nearest 5 to 1.0: rows 1, 0, 2 (tie at distance 1 → lower index first), 3, 4.
        let pred = knn_predict(&rows, &labels, &[&[1.0]], &[0, 1, 2]);
        assert_eq!(pred, vec![vec![true, true, false]]);
        // Fewer training rows than neighbours: k = 2, a 1–1 split is no majority.
        let pred = knn_predict(&rows[..2], &labels[..2], &[&[0.0]], &[0, 1]);
        assert_eq!(pred, vec![vec![true, false]]);
        assert_eq!(
            knn_predict(&[], &[], &[&[0.0]], &[0, 1]),
            vec![vec![false, false]]
        );
    }

    #[test]
    fn scores_by_hand() {
        let t = vec![
            vec![true, false, true],
            vec![false, true, false],
            vec![false, false, false],
        ];
        let p = vec![
            vec![true, false, false],
            vec![false, true, false],
            vec![false, false, false],
        ];
        let s: Vec<Vec<f64>> = vec![
            vec![0.9, 0.5, 0.5],
            vec![0.1, 0.2, 0.2],
            vec![0.0, 0.0, 0.0],
        ];
        let r = multilabel_scores(&t, &p, &s);
        assert!(close(r.accuracy, 2.0 / 3.0));
        // Column F1: [1, 1, 0].
        assert!(close(r.f1, 2.0 / 3.0));
        // Row 0: label 0 → 1/1, label 2 (tied with label 1) → 2/3; row 1: tied with label
        // 2 → 1/2; row 2: no relevant labels → 1.
        assert!(close(r.lrap, ((1.0 + 2.0 / 3.0) / 2.0 + 0.5 + 1.0) / 3.0));
        assert!(close(r.hamming, (0.5 + 1.0 + 1.0) / 3.0));
        let empty = multilabel_scores(&[], &[], &[]);
        assert_eq!(empty.accuracy, 0.0);
        assert_eq!(empty.lrap, 0.0);
    }

    #[test]
    fn classification_protocol() {
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..24usize {
            let labels: Vec<usize> = (0..3).filter(|l| (i >> l) & 1 == 1).collect();
            x.push(
                (0..3)
                    .map(|l| if labels.contains(&l) { 1.0 } else { 0.0 })
                    .collect::<Vec<f32>>(),
            );
            y.push(labels);
        }
        let rows: Vec<&[f32]> = x.iter().map(|r| r.as_slice()).collect();
        let r = multilabel_classification(&rows, &y, &rows, &y, 3, 8, 3, 11);
        assert_eq!(r.experiments.len(), 3);
        assert_eq!(r.per_sample_accuracy.len(), 24);
        let mean: f64 = r.per_sample_accuracy.iter().sum::<f64>() / 24.0;
        assert!(close(mean, r.mean.accuracy));
        assert!(r.mean.accuracy > 0.5);
        assert_eq!(
            r,
            multilabel_classification(&rows, &y, &rows, &y, 3, 8, 3, 11)
        );
        let none = multilabel_classification(&[], &[], &rows, &y, 3, 8, 2, 11);
        assert!(none.mean.f1 == 0.0 && none.per_sample_accuracy.iter().all(|&v| v <= 1.0));
        let zero = multilabel_classification(&rows, &y, &rows, &y, 3, 8, 0, 11);
        assert_eq!(zero.mean.accuracy, 0.0);
    }
}
