//! L2-regularized logistic regression, fitted to the exact optimum with L-BFGS.

/// Inverse regularization strength: the objective is `C·Σ loss + ½‖W‖²`.
const C: f64 = 1.0;
/// L-BFGS memory (number of correction pairs kept).
const MEMORY: usize = 20;
/// Iteration cap; the problem is strongly convex in the weights, so far fewer are needed.
const MAX_ITERATIONS: usize = 10_000;
/// Convergence: stop when every gradient component is below this times max(1, n).
const GRADIENT_TOLERANCE: f64 = 1e-11;

/// Logistic regression with an L2 penalty (C = 1.0) on the weights and a fitted,
/// unpenalized intercept, as scikit-learn's `LogisticRegression(C=1.0)` defines it.
///
/// With two classes present in the training labels it is the binary model (one weight
/// vector for the higher class against the lower); with more it is the multinomial
/// (softmax) model with one weight vector and intercept per class. The objective
/// `C·Σᵢ loss(xᵢ, yᵢ) + ½‖W‖²` is minimized with L-BFGS in `f64` to a gradient below
/// 10⁻¹¹·max(1, n), so the fitted model is the optimum to well within 10⁻⁶ in its
/// probabilities.
///
/// Degenerate training sets are handled rather than rejected: rows whose label is not
/// below `n_classes` are ignored; with no usable rows every class gets probability
/// `1/n_classes`; with one class present that class gets probability 1. Classes absent
/// from the training labels always get probability 0. Feature values that are not finite
/// count as 0, and rows shorter than the longest are padded with zeros.
#[derive(Debug, Clone)]
pub struct LogisticRegression {
    n_classes: usize,
    dim: usize,
    model: Model,
}

#[derive(Debug, Clone)]
enum Model {
    /// No usable training row: uniform probabilities.
    Uniform,
    /// One class present.
    Constant(usize),
    /// Two classes present: P(positive) = σ(w·x + b).
    Binary {
        negative: usize,
        positive: usize,
        weights: Vec<f64>,
        intercept: f64,
    },
    /// Three or more classes present: softmax over `classes` of `wₖ·x + bₖ`.
    Multinomial {
        classes: Vec<usize>,
        /// `classes.len()` rows of `dim` weights.
        weights: Vec<f64>,
        intercepts: Vec<f64>,
    },
}

impl LogisticRegression {
    /// Fits the model to the rows `x` with labels `y` (class indices below `n_classes`).
    /// Rows beyond the shorter of `x` and `y` are ignored.
    pub fn fit(x: &[&[f32]], y: &[usize], n_classes: usize) -> Self {
        let rows: Vec<(&[f32], usize)> = x
            .iter()
            .zip(y)
            .filter(|(_, &label)| label < n_classes)
            .map(|(row, &label)| (*row, label))
            .collect();
        let dim = rows.iter().map(|(row, _)| row.len()).max().unwrap_or(0);
        let mut classes: Vec<usize> = rows.iter().map(|&(_, label)| label).collect();
        classes.sort_unstable();
        classes.dedup();
        let model = match classes.len() {
            0 => Model::Uniform,
            1 => Model::Constant(classes[0]),
            _ => {
                let features = dense(rows.iter().map(|(row, _)| *row), dim);
                // With fewer rows than dimensions the optimal weights lie in the span of
                // the rows: solve in an orthonormal basis of that span (same optimum,
                // same conditioning, a smaller problem), then map the weights back.
                let basis = (rows.len() < dim).then(|| RowSpace::new(&features, rows.len(), dim));
                let (features, reduced_dim) = match &basis {
                    Some(b) => (b.coordinates(&features), b.rank()),
                    None => (features, dim),
                };
                let problem = Problem {
                    features,
                    dim: reduced_dim,
                    // Index of each row's label among the present classes.
                    targets: rows
                        .iter()
                        .map(|(_, label)| classes.partition_point(|c| c < label))
                        .collect(),
                    n_outputs: if classes.len() == 2 { 1 } else { classes.len() },
                };
                let theta = lbfgs(&problem);
                let (weights, intercepts) = problem.split(&theta);
                let weights = match &basis {
                    Some(b) => b.expand(&weights, problem.n_outputs),
                    None => weights,
                };
                if classes.len() == 2 {
                    Model::Binary {
                        negative: classes[0],
                        positive: classes[1],
                        weights,
                        intercept: intercepts[0],
                    }
                } else {
                    Model::Multinomial {
                        classes,
                        weights,
                        intercepts,
                    }
                }
            }
        };
        LogisticRegression {
            n_classes,
            dim,
            model,
        }
    }

    /// The number of classes the model was fitted for (the length of
    /// [`predict_proba`](Self::predict_proba)'s result).
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// Probability of each of the `n_classes` classes for the row `x` (summing to 1 when
    /// `n_classes > 0`). Components of `x` beyond the training dimension are ignored;
    /// missing ones count as 0.
    pub fn predict_proba(&self, x: &[f32]) -> Vec<f64> {
        let mut proba = vec![0.0; self.n_classes];
        if self.n_classes == 0 {
            return proba;
        }
        let row: Vec<f64> = (0..self.dim)
            .map(|j| x.get(j).map_or(0.0, |&v| finite_or_zero(v)))
            .collect();
        match &self.model {
            Model::Uniform => proba.fill(1.0 / self.n_classes as f64),
            Model::Constant(class) => proba[*class] = 1.0,
            Model::Binary {
                negative,
                positive,
                weights,
                intercept,
            } => {
                let p = sigmoid(dot(weights, &row) + intercept);
                proba[*positive] = p;
                proba[*negative] = 1.0 - p;
            }
            Model::Multinomial {
                classes,
                weights,
                intercepts,
            } => {
                let z: Vec<f64> = (0..classes.len())
                    .map(|k| dot(&weights[k * self.dim..(k + 1) * self.dim], &row) + intercepts[k])
                    .collect();
                let p = softmax(&z);
                for (&class, p) in classes.iter().zip(p) {
                    proba[class] = p;
                }
            }
        }
        if !proba.iter().all(|p| p.is_finite()) {
            // Only reachable with features so extreme that the scores overflow.
            proba.fill(1.0 / self.n_classes as f64);
        }
        proba
    }

    /// The most probable class for the row `x`; ties go to the lowest class index (0 when
    /// `n_classes` is 0).
    pub fn predict(&self, x: &[f32]) -> usize {
        argmax(&self.predict_proba(x))
    }
}

/// Index of the largest value, the first on ties; 0 for an empty slice.
pub(crate) fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

fn finite_or_zero(v: f32) -> f64 {
    if v.is_finite() {
        f64::from(v)
    } else {
        0.0
    }
}

/// Row-major `n × dim` matrix of the rows, zero-padded, non-finite values as 0.
fn dense<'a>(rows: impl Iterator<Item = &'a [f32]>, dim: usize) -> Vec<f64> {
    let mut out = Vec::new();
    for row in rows {
        out.extend((0..dim).map(|j| row.get(j).map_or(0.0, |&v| finite_or_zero(v))));
    }
    out
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// ln(1 + eᶻ) without overflow.
fn softplus(z: f64) -> f64 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

fn softmax(z: &[f64]) -> Vec<f64> {
    let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = z.iter().map(|&v| (v - max).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.into_iter().map(|v| v / sum).collect()
}

/// An orthonormal basis (modified Gram–Schmidt, orthogonalized twice) of the span of
/// the rows of an `n × dim` matrix.
struct RowSpace {
    dim: usize,
    /// `rank` rows of `dim` components.
    basis: Vec<f64>,
}

impl RowSpace {
    fn new(features: &[f64], n: usize, dim: usize) -> Self {
        let mut basis: Vec<f64> = Vec::new();
        for i in 0..n {
            let row = &features[i * dim..(i + 1) * dim];
            let row_norm = dot(row, row).sqrt();
            let mut v = row.to_vec();
            for _ in 0..2 {
                for q in basis.chunks_exact(dim) {
                    let c = dot(q, &v);
                    for (vj, qj) in v.iter_mut().zip(q) {
                        *vj -= c * qj;
                    }
                }
            }
            let norm = dot(&v, &v).sqrt();
            // A row (numerically) in the span found so far adds no direction.
            if norm > 1e-12 * row_norm && norm > 0.0 {
                basis.extend(v.iter().map(|x| x / norm));
            }
        }
        RowSpace { dim, basis }
    }

    fn rank(&self) -> usize {
        self.basis.len() / self.dim.max(1)
    }

    /// Each row's coordinates in the basis: `n × rank`.
    fn coordinates(&self, features: &[f64]) -> Vec<f64> {
        let mut out = Vec::with_capacity(features.len() / self.dim.max(1) * self.rank());
        for row in features.chunks_exact(self.dim) {
            out.extend(self.basis.chunks_exact(self.dim).map(|q| dot(q, row)));
        }
        out
    }

    /// `k` weight rows in basis coordinates (`k × rank`) back in the original space
    /// (`k × dim`).
    fn expand(&self, weights: &[f64], k: usize) -> Vec<f64> {
        let rank = self.rank();
        let mut out = vec![0.0; k * self.dim];
        for (o, full) in out.chunks_exact_mut(self.dim).enumerate() {
            let w = &weights[o * rank..(o + 1) * rank];
            for (c, q) in w.iter().zip(self.basis.chunks_exact(self.dim)) {
                for (fj, qj) in full.iter_mut().zip(q) {
                    *fj += c * qj;
                }
            }
        }
        out
    }
}

/// The optimization problem. Parameters are `n_outputs` rows of `dim` weights followed by
/// `n_outputs` intercepts; `n_outputs` is 1 for the binary model.
struct Problem {
    features: Vec<f64>,
    dim: usize,
    targets: Vec<usize>,
    n_outputs: usize,
}

impl Problem {
    fn n_params(&self) -> usize {
        self.n_outputs * (self.dim + 1)
    }

    fn split(&self, theta: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let (w, b) = theta.split_at(self.n_outputs * self.dim);
        (w.to_vec(), b.to_vec())
    }

    /// Objective value; writes its gradient into `grad`.
    fn evaluate(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        let (d, k) = (self.dim, self.n_outputs);
        let (weights, intercepts) = theta.split_at(k * d);
        grad.fill(0.0);
        let mut loss = 0.0;
        let mut z = vec![0.0; k];
        let mut residual = vec![0.0; k];
        for (i, &target) in self.targets.iter().enumerate() {
            let row = &self.features[i * d..(i + 1) * d];
            for (o, zo) in z.iter_mut().enumerate() {
                *zo = dot(&weights[o * d..(o + 1) * d], row) + intercepts[o];
            }
            if k == 1 {
                // Binary: target 1 is the positive class.
                let t = if target == 1 { 1.0 } else { 0.0 };
                loss += softplus(z[0]) - t * z[0];
                residual[0] = sigmoid(z[0]) - t;
            } else {
                let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let sum: f64 = z.iter().map(|&v| (v - max).exp()).sum();
                let lse = max + sum.ln();
                loss += lse - z[target];
                for (o, r) in residual.iter_mut().enumerate() {
                    *r = (z[o] - lse).exp() - if o == target { 1.0 } else { 0.0 };
                }
            }
            for (o, &r) in residual.iter().enumerate() {
                let g = &mut grad[o * d..(o + 1) * d];
                for (gj, xj) in g.iter_mut().zip(row) {
                    *gj += C * r * xj;
                }
                grad[k * d + o] += C * r;
            }
        }
        let penalty: f64 = weights.iter().map(|w| w * w).sum::<f64>() / 2.0;
        for (g, w) in grad.iter_mut().zip(weights) {
            *g += w;
        }
        C * loss + penalty
    }
}

fn norm_inf(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// Minimizes the problem's objective from zero with L-BFGS. The line search backtracks
/// from the unit step until the Armijo condition holds or, once the objective is flat to
/// rounding, the approximate Wolfe conditions on the directional derivative hold (so the
/// iteration keeps converging in the gradient below the objective's rounding level).
fn lbfgs(problem: &Problem) -> Vec<f64> {
    let n = problem.n_params();
    let tolerance = GRADIENT_TOLERANCE * (problem.targets.len().max(1) as f64);
    let mut theta = vec![0.0; n];
    let mut grad = vec![0.0; n];
    let mut f = problem.evaluate(&theta, &mut grad);
    let mut pairs: std::collections::VecDeque<(Vec<f64>, Vec<f64>, f64)> =
        std::collections::VecDeque::new();
    let mut trial = vec![0.0; n];
    let mut trial_grad = vec![0.0; n];
    for _ in 0..MAX_ITERATIONS {
        if !f.is_finite() || norm_inf(&grad) <= tolerance {
            break;
        }
        let mut direction = two_loop(&grad, &pairs);
        let mut slope = dot(&grad, &direction);
        if slope.is_nan() || slope >= 0.0 {
            pairs.clear();
            direction = grad.iter().map(|g| -g).collect();
            slope = dot(&grad, &direction);
        }
        // First step without curvature information: move at most a unit distance.
        let mut step = if pairs.is_empty() {
            (1.0 / norm_inf(&grad)).min(1.0)
        } else {
            1.0
        };
        let mut accepted = None;
        for _ in 0..60 {
            for ((t, x), d) in trial.iter_mut().zip(&theta).zip(&direction) {
                *t = x + step * d;
            }
            let f_trial = problem.evaluate(&trial, &mut trial_grad);
            let armijo = f_trial <= f + 1e-4 * step * slope;
            let slope_trial = dot(&trial_grad, &direction);
            let approx_wolfe = f_trial <= f + 1e-12 * f.abs()
                && 0.9 * slope <= slope_trial
                && slope_trial <= -0.8 * slope;
            if f_trial.is_finite() && (armijo || approx_wolfe) {
                accepted = Some(f_trial);
                break;
            }
            step /= 2.0;
        }
        let Some(f_trial) = accepted else {
            break;
        };
        let s: Vec<f64> = trial.iter().zip(&theta).map(|(a, b)| a - b).collect();
        let yv: Vec<f64> = trial_grad.iter().zip(&grad).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &yv);
        if sy > 1e-300 {
            if pairs.len() == MEMORY {
                pairs.pop_front();
            }
            pairs.push_back((s, yv, 1.0 / sy));
        }
        std::mem::swap(&mut theta, &mut trial);
        std::mem::swap(&mut grad, &mut trial_grad);
        f = f_trial;
    }
    theta
}

/// The L-BFGS search direction −H·g from the stored correction pairs `(s, y, 1/(s·y))`.
fn two_loop(
    grad: &[f64],
    pairs: &std::collections::VecDeque<(Vec<f64>, Vec<f64>, f64)>,
) -> Vec<f64> {
    let mut q = grad.to_vec();
    let mut alphas = Vec::with_capacity(pairs.len());
    for (s, y, rho) in pairs.iter().rev() {
        let alpha = rho * dot(s, &q);
        for (qi, yi) in q.iter_mut().zip(y) {
            *qi -= alpha * yi;
        }
        alphas.push(alpha);
    }
    if let Some((s, y, _)) = pairs.back() {
        let gamma = dot(s, y) / dot(y, y);
        if gamma.is_finite() && gamma > 0.0 {
            q.iter_mut().for_each(|v| *v *= gamma);
        }
    }
    for ((s, y, rho), alpha) in pairs.iter().zip(alphas.iter().rev()) {
        let beta = rho * dot(y, &q);
        for (qi, si) in q.iter_mut().zip(s) {
            *qi += (alpha - beta) * si;
        }
    }
    q.iter_mut().for_each(|v| *v = -*v);
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(data: &[Vec<f32>]) -> Vec<&[f32]> {
        data.iter().map(|r| r.as_slice()).collect()
    }

    #[test]
    fn binary_fit_reaches_a_stationary_point() {
        let data = vec![
            vec![0.0f32, 1.0],
            vec![1.0, 0.5],
            vec![2.0, -0.5],
            vec![3.0, 0.0],
            vec![1.5, 1.0],
            vec![0.5, -1.0],
        ];
        let y = [0, 0, 1, 1, 1, 0];
        let model = LogisticRegression::fit(&rows(&data), &y, 2);
        let Model::Binary {
            weights, intercept, ..
        } = &model.model
        else {
            panic!("expected the binary model");
        };
        // Stationarity: Σ(p − t)·x + w = 0 and Σ(p − t) = 0.
        let mut gw = weights.clone();
        let mut gb = 0.0;
        for (row, &t) in data.iter().zip(&y) {
            let p = model.predict_proba(row)[1];
            let r = p - t as f64;
            gb += r;
            for (g, &x) in gw.iter_mut().zip(row) {
                *g += r * f64::from(x);
            }
        }
        assert!(gb.abs() < 1e-9, "{gb}");
        assert!(gw.iter().all(|g| g.abs() < 1e-9), "{gw:?}");
        assert!(*intercept != 0.0);
        let p = model.predict_proba(&[3.0, 0.0]);
        assert!((p[0] + p[1] - 1.0).abs() < 1e-12);
        assert_eq!(model.predict(&[3.0, 0.0]), 1);
        assert_eq!(model.predict(&[0.0, 1.0]), 0);
    }

    #[test]
    fn wide_multinomial_fit_is_stationary_in_the_full_space() {
        // 6 rows in 10 dimensions, one row a combination of two others: the fit runs in the
        // 5-dimensional row space and must be the optimum over all 10 dimensions.
        let mut data: Vec<Vec<f32>> = (0..5)
            .map(|i| {
                (0..10)
                    .map(|j| ((i * 7 + j * 3) % 11) as f32 / 5.0 - 1.0)
                    .collect()
            })
            .collect();
        data.push(data[0].iter().zip(&data[1]).map(|(a, b)| a - b).collect());
        let y = [0, 1, 2, 0, 1, 2];
        let model = LogisticRegression::fit(&rows(&data), &y, 3);
        let Model::Multinomial {
            weights,
            intercepts,
            ..
        } = &model.model
        else {
            panic!("expected the multinomial model");
        };
        assert_eq!(weights.len(), 30);
        let mut gw = weights.clone();
        let mut gb = vec![0.0; 3];
        for (row, &t) in data.iter().zip(&y) {
            let p = model.predict_proba(row);
            for k in 0..3 {
                let r = p[k] - if k == t { 1.0 } else { 0.0 };
                gb[k] += r;
                for (j, &x) in row.iter().enumerate() {
                    gw[k * 10 + j] += r * f64::from(x);
                }
            }
        }
        assert!(gb.iter().all(|g| g.abs() < 1e-9), "{gb:?}");
        assert!(gw.iter().all(|g| g.abs() < 1e-9), "{gw:?}");
        assert!(intercepts.iter().all(|b| b.is_finite()));
        // All-zero rows: a zero-rank row space.
        let zeros = vec![vec![0.0f32; 4], vec![0.0; 4]];
        let flat = LogisticRegression::fit(&rows(&zeros), &[0, 1], 2);
        let p = flat.predict_proba(&[1.0, 2.0, 3.0, 4.0]);
        assert!((p[0] - 0.5).abs() < 1e-9);
    }

    #[test]
    fn multinomial_probabilities_sum_to_one() {
        let data = vec![
            vec![1.0f32, 0.0],
            vec![0.9, 0.1],
            vec![0.0, 1.0],
            vec![0.1, 0.9],
            vec![-1.0, -1.0],
            vec![-0.9, -1.1],
        ];
        let y = [0, 0, 1, 1, 3, 3];
        let model = LogisticRegression::fit(&rows(&data), &y, 4);
        let p = model.predict_proba(&[1.0, 0.0]);
        assert_eq!(p.len(), 4);
        assert_eq!(p[2], 0.0, "absent class");
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(model.predict(&[1.0, 0.0]), 0);
        assert_eq!(model.predict(&[0.0, 1.0]), 1);
        assert_eq!(model.predict(&[-1.0, -1.0]), 3);
    }

    #[test]
    fn degenerate_training_sets() {
        let data = vec![vec![1.0f32, 2.0], vec![3.0, 4.0]];
        let empty = LogisticRegression::fit(&[], &[], 3);
        assert_eq!(empty.predict_proba(&[1.0]), vec![1.0 / 3.0; 3]);
        assert_eq!(empty.predict(&[1.0]), 0);
        let single = LogisticRegression::fit(&rows(&data), &[2, 2], 3);
        assert_eq!(single.predict_proba(&[0.0, 0.0]), vec![0.0, 0.0, 1.0]);
        assert_eq!(single.predict(&[9.0, 9.0]), 2);
        let none = LogisticRegression::fit(&rows(&data), &[0, 1], 0);
        assert!(none.predict_proba(&[1.0, 2.0]).is_empty());
        assert_eq!(none.predict(&[1.0, 2.0]), 0);
        // Out-of-range labels are ignored, leaving one class.
        let ignored = LogisticRegression::fit(&rows(&data), &[1, 7], 2);
        assert_eq!(ignored.predict(&[3.0, 4.0]), 1);
        // Identical rows with different labels: probability 1/2 each.
        let same = vec![vec![1.0f32, 1.0], vec![1.0, 1.0]];
        let tie = LogisticRegression::fit(&rows(&same), &[0, 1], 2);
        let p = tie.predict_proba(&[1.0, 1.0]);
        assert!((p[0] - 0.5).abs() < 1e-9 && (p[1] - 0.5).abs() < 1e-9);
    }

    #[test]
    fn non_finite_features_count_as_zero() {
        let data = vec![vec![f32::NAN, 1.0], vec![2.0, f32::INFINITY], vec![0.0]];
        let model = LogisticRegression::fit(&rows(&data), &[0, 1, 0], 2);
        let p = model.predict_proba(&[f32::NAN, f32::NAN, 5.0]);
        assert!(p.iter().all(|v| v.is_finite()));
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn argmax_prefers_the_lowest_index() {
        assert_eq!(argmax(&[0.2, 0.4, 0.4]), 1);
        assert_eq!(argmax(&[]), 0);
    }
}
