//! Comparing two runs — or two models of one run — on the same samples: each side's
//! per-sample scores as [`ScoreColumns`], paired on (task, sample index), give per-task
//! deltas with a paired bootstrap interval and, for 0/1 metrics, McNemar's test, and the list
//! of samples whose score changed, regressions first.
//!
//! A completed run's columns are written once by finalization ([`ColumnsBuilder`]) and read
//! back as two small rows per task, so a comparison costs the same for a 100,000-sample run
//! as for a small one; any other run (still running, cancelled, failed, imported) is read
//! from its samples.

use std::collections::{BTreeMap, HashMap};

use assay_domain::api::{RunStatus, SampleObject, SampleStatus};
use assay_domain::manifest::{Manifest, Task};
use assay_scoring::paired::{
    is_binary, mcnemar_from_scores, paired_bootstrap, McNemar, PairedInterval, DEFAULT_RESAMPLES,
    DEFAULT_SEED,
};
use assay_store::{score_number, RunRecord, ScoreColumns, Store, StoreError};
use serde::Serialize;

use crate::finalize::mean_metrics;
use crate::plan::selected_tasks;

/// Most metrics kept per task × model: a grader that returns a new key on every sample cannot
/// make the columns grow without bound.
pub const MAX_METRICS: usize = 64;

/// Collects a run's per-sample scores into columns, one [`ScoreColumns`] per model × task,
/// keeping each task's declared mean metrics (every numeric key, up to [`MAX_METRICS`], for a
/// Python grader that declares none).
pub struct ColumnsBuilder {
    model: Option<String>,
    /// Per task, the metrics kept; a task missing here keeps any, up to the cap.
    kept: HashMap<String, Vec<String>>,
    columns: BTreeMap<(String, String), ScoreColumns>,
}

impl ColumnsBuilder {
    /// Columns of `tasks`, of every model or only of `model`.
    pub fn new<'a>(tasks: impl IntoIterator<Item = &'a Task>, model: Option<&str>) -> Self {
        let kept = tasks
            .into_iter()
            .filter_map(|t| {
                mean_metrics(t).map(|m| (t.id.clone(), m.into_iter().map(|(id, _)| id).collect()))
            })
            .collect();
        ColumnsBuilder {
            model: model.map(str::to_string),
            kept,
            columns: BTreeMap::new(),
        }
    }

    /// Adds one sample: a completed sample's kept numeric (or boolean) scores; no value for
    /// any other sample.
    pub fn add(&mut self, s: &SampleObject) {
        self.add_scores(&s.task_id, &s.model, s.sample_index, s.status, &s.scores);
    }

    /// [`ColumnsBuilder::add`] from a sample's parts.
    pub fn add_scores(
        &mut self,
        task_id: &str,
        model: &str,
        sample_index: i64,
        status: SampleStatus,
        scores: &serde_json::Map<String, serde_json::Value>,
    ) {
        if self.model.as_deref().is_some_and(|m| m != model) {
            return;
        }
        let kept = self.kept.get(task_id);
        let column = self
            .columns
            .entry((model.to_string(), task_id.to_string()))
            .or_insert_with(|| ScoreColumns::new(task_id, model));
        if status != SampleStatus::Completed {
            column.push(sample_index, []);
            return;
        }
        let room = MAX_METRICS.saturating_sub(column.metrics.len());
        let known = &column.metrics;
        let mut new = 0;
        let values: Vec<(&str, f64)> = scores
            .iter()
            .filter(|(metric, _)| kept.is_none_or(|k| k.contains(metric)))
            .filter(|(metric, _)| {
                // A metric not seen before takes one of the remaining places, if any.
                known.contains_key(*metric) || {
                    new += 1;
                    new <= room
                }
            })
            .filter_map(|(metric, v)| score_number(v).map(|x| (metric.as_str(), x)))
            .collect();
        column.push(sample_index, values);
    }

    /// The columns, each ordered by sample index.
    pub fn finish(self) -> Vec<ScoreColumns> {
        self.columns
            .into_values()
            .map(ScoreColumns::sorted)
            .collect()
    }
}

/// One side of a comparison: a run and one of its models.
#[derive(Debug, Clone)]
pub struct Side {
    pub run: RunRecord,
    pub model: String,
}

/// The tasks of a run's suite version that it ran; empty when the manifest no longer parses.
async fn run_tasks(store: &Store, run: &RunRecord) -> Result<Vec<Task>, StoreError> {
    let manifest = store
        .suite_version_manifest(&run.object.suite_version_id)
        .await?;
    let Ok(manifest) = Manifest::from_json(&manifest, "manifest") else {
        return Ok(Vec::new());
    };
    Ok(selected_tasks(&manifest, run.object.task_ids.as_deref())
        .into_iter()
        .cloned()
        .collect())
}

/// What a comparison reads of one side: its score columns by task, and whether higher is
/// better for each (task, metric) its manifest declares.
pub struct SideScores {
    pub columns: Vec<ScoreColumns>,
    pub directions: HashMap<(String, String), bool>,
}

/// The score columns of a side, by task: a completed run's stored columns, otherwise read from
/// its samples' scores (imported runs, runs not completed, runs finished before columns were
/// stored).
pub async fn side_scores(store: &Store, side: &Side) -> Result<SideScores, StoreError> {
    let run_id = &side.run.object.id;
    let tasks = run_tasks(store, &side.run).await?;
    let directions = tasks
        .iter()
        .flat_map(|t| {
            mean_metrics(t)
                .unwrap_or_default()
                .into_iter()
                .map(|(m, higher)| ((t.id.clone(), m), higher))
        })
        .collect();
    if side.run.object.status == RunStatus::Completed {
        let stored = store.score_columns(run_id, &side.model).await?;
        if !stored.is_empty() {
            return Ok(SideScores {
                columns: stored,
                directions,
            });
        }
    }
    // Imported runs report what their harness scored: any metric, up to the cap.
    let kept: Vec<&Task> = if side.run.imported {
        Vec::new()
    } else {
        tasks.iter().collect()
    };
    let mut builder = ColumnsBuilder::new(kept, Some(&side.model));
    let mut after = 0;
    loop {
        let page = store
            .sample_scores(run_id, &side.model, after, SCORES_PAGE)
            .await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for s in &page {
            builder.add_scores(&s.task_id, &side.model, s.sample_index, s.status, &s.scores);
        }
    }
    Ok(SideScores {
        columns: builder.finish(),
        directions,
    })
}

/// Samples' scores read per page when a side is read from its samples.
const SCORES_PAGE: i64 = 2_000;

/// One metric of one task compared across the two sides, over the samples both scored.
#[derive(Debug, Clone, Serialize)]
pub struct MetricComparison {
    pub task_id: String,
    pub metric: String,
    pub higher_is_better: bool,
    /// Means of each side over the paired samples (both sides have a value).
    pub mean_a: Option<f64>,
    pub mean_b: Option<f64>,
    /// The mean difference b − a with its paired standard error and bootstrap interval.
    pub paired: PairedInterval,
    /// McNemar's test when both sides' paired values are all 0 or 1.
    pub mcnemar: Option<McNemar>,
    /// Paired samples where b did better / worse than a (in the metric's direction).
    pub improved: u64,
    pub regressed: u64,
    /// Samples with a value on one side only (failed or unscored on the other).
    pub only_a: u64,
    pub only_b: u64,
}

impl MetricComparison {
    /// Whether the 95% interval of the difference lies wholly on b's better (`Some(true)`) or
    /// worse (`Some(false)`) side of zero; `None` when it includes zero or is unknown.
    pub fn verdict(&self) -> Option<bool> {
        let (lo, hi) = self.paired.ci95?;
        let sign = if self.higher_is_better { 1.0 } else { -1.0 };
        let (lo, hi) = if sign > 0.0 { (lo, hi) } else { (-hi, -lo) };
        if lo > 0.0 {
            Some(true)
        } else if hi < 0.0 {
            Some(false)
        } else {
            None
        }
    }
}

/// The values of `metric` of both sides at the sample indexes both have, in index order, and
/// the sample indexes themselves.
fn paired_values(a: &ScoreColumns, b: &ScoreColumns, metric: &str) -> Vec<(i64, f64, f64)> {
    let nan = |c: &ScoreColumns| vec![f64::NAN; c.indexes.len()];
    let (va, vb) = match (a.values(metric), b.values(metric)) {
        (None, None) => return Vec::new(),
        (va, vb) => (
            va.map(<[f64]>::to_vec).unwrap_or_else(|| nan(a)),
            vb.map(<[f64]>::to_vec).unwrap_or_else(|| nan(b)),
        ),
    };
    let (mut i, mut j) = (0, 0);
    let mut pairs = Vec::with_capacity(a.indexes.len().min(b.indexes.len()));
    while i < a.indexes.len() && j < b.indexes.len() {
        match a.indexes[i].cmp(&b.indexes[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                pairs.push((a.indexes[i], va[i], vb[j]));
                i += 1;
                j += 1;
            }
        }
    }
    pairs
}

/// Compares `metric` of one task: `a` and `b` are the two sides' columns of that task.
pub fn compare_metric(
    a: &ScoreColumns,
    b: &ScoreColumns,
    metric: &str,
    higher_is_better: bool,
) -> MetricComparison {
    let pairs = paired_values(a, b, metric);
    let (mut xa, mut xb) = (Vec::with_capacity(pairs.len()), Vec::new());
    let (mut only_a, mut only_b, mut improved, mut regressed) = (0, 0, 0, 0);
    let (mut sum_a, mut sum_b) = (0.0, 0.0);
    for &(_, x, y) in &pairs {
        match (x.is_finite(), y.is_finite()) {
            (true, true) => {
                xa.push(x);
                xb.push(y);
                sum_a += x;
                sum_b += y;
                let better = if higher_is_better { y > x } else { y < x };
                if better {
                    improved += 1;
                } else if x != y {
                    regressed += 1;
                }
            }
            (true, false) => only_a += 1,
            (false, true) => only_b += 1,
            (false, false) => {}
        }
    }
    let n = xa.len();
    let mean = |s: f64| (n > 0).then(|| s / n as f64);
    // Both lists have the same length, so pairing cannot fail.
    let paired =
        paired_bootstrap(&xa, &xb, DEFAULT_RESAMPLES, DEFAULT_SEED).unwrap_or(PairedInterval {
            n: 0,
            excluded: 0,
            mean_diff: None,
            stderr: None,
            ci95: None,
            resamples: 0,
        });
    let mcnemar = (n > 0 && is_binary(&xa) && is_binary(&xb))
        .then(|| mcnemar_from_scores(&xa, &xb).ok())
        .flatten();
    MetricComparison {
        task_id: a.task_id.clone(),
        metric: metric.to_string(),
        higher_is_better,
        mean_a: mean(sum_a),
        mean_b: mean(sum_b),
        paired,
        mcnemar,
        improved,
        regressed,
        only_a,
        only_b,
    }
}

/// Two sides compared: every task × metric both have, and the tasks only one side has. Built
/// by [`Comparison::of`] (CPU-bound: run it off the async threads); keeps both sides' columns
/// to list changed samples page after page without comparing again.
pub struct Comparison {
    pub metrics: Vec<MetricComparison>,
    /// Tasks with scores on one side only.
    pub only_a: Vec<String>,
    pub only_b: Vec<String>,
    a: Vec<ScoreColumns>,
    b: Vec<ScoreColumns>,
}

impl Comparison {
    /// Compares every metric both sides' columns carry for a task both have, in side a's task
    /// and metric order; whether higher is better comes from a's manifest, else b's, else
    /// higher.
    pub fn of(a: SideScores, b: SideScores) -> Self {
        let mut metrics = Vec::new();
        for ca in &a.columns {
            let Some(cb) = b.columns.iter().find(|c| c.task_id == ca.task_id) else {
                continue;
            };
            for metric in ca.metrics.keys().filter(|m| cb.metrics.contains_key(*m)) {
                let key = (ca.task_id.clone(), metric.clone());
                let higher = a
                    .directions
                    .get(&key)
                    .or_else(|| b.directions.get(&key))
                    .copied()
                    .unwrap_or(true);
                metrics.push(compare_metric(ca, cb, metric, higher));
            }
        }
        let only = |cols: &[ScoreColumns], other: &[ScoreColumns]| -> Vec<String> {
            cols.iter()
                .filter(|c| !other.iter().any(|o| o.task_id == c.task_id))
                .map(|c| c.task_id.clone())
                .collect()
        };
        Comparison {
            only_a: only(&a.columns, &b.columns),
            only_b: only(&b.columns, &a.columns),
            metrics,
            a: a.columns,
            b: b.columns,
        }
    }

    /// The changed samples of `metrics[index]` ([`changed_samples`]); empty for an index out of
    /// range.
    pub fn changed(&self, index: usize) -> Vec<ChangedSample> {
        let Some(m) = self.metrics.get(index) else {
            return Vec::new();
        };
        let ca = self.a.iter().find(|c| c.task_id == m.task_id);
        let cb = self.b.iter().find(|c| c.task_id == m.task_id);
        match (ca, cb) {
            (Some(ca), Some(cb)) => changed_samples(ca, cb, &m.metric, m.higher_is_better),
            _ => Vec::new(),
        }
    }
}

/// How one sample's score changed from a to b.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// b scored worse.
    Regressed,
    /// a scored, b did not (it failed or was not scored).
    Lost,
    /// b scored better.
    Improved,
    /// b scored, a did not.
    Gained,
}

/// A sample whose score differs between the sides.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ChangedSample {
    pub sample_index: i64,
    pub a: Option<f64>,
    pub b: Option<f64>,
    pub change: Change,
}

/// The samples whose `metric` differs between the sides, regressions first (largest first),
/// then samples b lost, improvements (largest first) and samples b gained; ties by index.
pub fn changed_samples(
    a: &ScoreColumns,
    b: &ScoreColumns,
    metric: &str,
    higher_is_better: bool,
) -> Vec<ChangedSample> {
    let mut changed: Vec<(ChangedSample, f64)> = paired_values(a, b, metric)
        .into_iter()
        .filter_map(|(index, x, y)| {
            let (fa, fb) = (x.is_finite(), y.is_finite());
            let gain = if higher_is_better { y - x } else { x - y };
            let change = match (fa, fb) {
                (true, true) if gain < 0.0 => Change::Regressed,
                (true, true) if gain > 0.0 => Change::Improved,
                (true, false) => Change::Lost,
                (false, true) => Change::Gained,
                _ => return None,
            };
            let sample = ChangedSample {
                sample_index: index,
                a: fa.then_some(x),
                b: fb.then_some(y),
                change,
            };
            Some((sample, if fa && fb { gain.abs() } else { 0.0 }))
        })
        .collect();
    changed.sort_by(|(s, g), (t, h)| {
        s.change
            .cmp(&t.change)
            .then(h.total_cmp(g))
            .then(s.sample_index.cmp(&t.sample_index))
    });
    changed.into_iter().map(|(s, _)| s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_come_from_the_manifests_and_only_shared_tasks_compare() {
        let wer = |values: &[f64], task: &str| {
            let mut c = ScoreColumns::new(task, "m");
            for (i, v) in values.iter().enumerate() {
                c.push(i as i64, [("wer", *v)]);
            }
            c
        };
        let side = |columns, directions: &[(&str, bool)]| SideScores {
            columns,
            directions: directions
                .iter()
                .map(|(t, h)| ((t.to_string(), "wer".to_string()), *h))
                .collect(),
        };
        // a declares nothing for the task (a grader without declared metrics); b says lower is better.
        let a = side(vec![wer(&[0.1, 0.2], "t"), wer(&[0.0], "only_a")], &[]);
        let b = side(vec![wer(&[0.3, 0.2], "t")], &[("t", false)]);
        let c = Comparison::of(a, b);
        assert_eq!(c.metrics.len(), 1);
        assert!(!c.metrics[0].higher_is_better);
        assert_eq!((c.metrics[0].regressed, c.metrics[0].improved), (1, 0));
        assert_eq!(
            (c.only_a.as_slice(), c.only_b.len()),
            (&["only_a".to_string()][..], 0)
        );
        let changed = c.changed(0);
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].change, Change::Regressed);
        assert!(c.changed(7).is_empty());
    }

    #[test]
    fn columns_keep_at_most_the_cap_of_metrics() {
        let mut b = ColumnsBuilder::new(std::iter::empty(), None);
        for i in 0..200 {
            let scores: serde_json::Map<String, serde_json::Value> = [
                (format!("m{i}"), serde_json::json!(1)),
                ("acc".to_string(), serde_json::json!(true)),
            ]
            .into_iter()
            .collect();
            b.add_scores("t", "m", i, SampleStatus::Completed, &scores);
        }
        let columns = b.finish();
        assert_eq!(columns[0].metrics.len(), MAX_METRICS);
        assert_eq!(columns[0].values("acc").map(|v| v.len()), Some(200));
        assert!(columns[0]
            .values("acc")
            .unwrap_or_default()
            .iter()
            .all(|v| *v == 1.0));
    }

    fn columns(values: &[(i64, Option<f64>)]) -> ScoreColumns {
        let mut c = ScoreColumns::new("t", "m");
        for (i, v) in values {
            match v {
                Some(x) => c.push(*i, [("acc", *x)]),
                None => c.push(*i, []),
            }
        }
        c.sorted()
    }

    #[test]
    fn metrics_pair_on_sample_index_and_count_one_sided_values() {
        // Index 4 exists only in a, index 5 only in b: neither is paired.
        let a = columns(&[
            (0, Some(1.0)),
            (1, Some(0.0)),
            (2, Some(1.0)),
            (3, Some(1.0)),
            (4, Some(1.0)),
        ]);
        let b = columns(&[
            (3, None),
            (2, Some(0.0)),
            (1, Some(1.0)),
            (0, Some(1.0)),
            (5, Some(1.0)),
        ]);
        let c = compare_metric(&a, &b, "acc", true);
        assert_eq!(c.paired.n, 3);
        assert_eq!((c.mean_a, c.mean_b), (Some(2.0 / 3.0), Some(2.0 / 3.0)));
        assert_eq!((c.improved, c.regressed, c.only_a, c.only_b), (1, 1, 1, 0));
        let m = c.mcnemar.unwrap_or_else(|| panic!("binary"));
        assert_eq!((m.b_only, m.a_only), (1, 1));
        assert_eq!(c.paired.mean_diff, Some(0.0));
        assert_eq!(c.verdict(), None);

        let changed = changed_samples(&a, &b, "acc", true);
        let order: Vec<(i64, Change)> =
            changed.iter().map(|s| (s.sample_index, s.change)).collect();
        assert_eq!(
            order,
            vec![
                (2, Change::Regressed),
                (3, Change::Lost),
                (1, Change::Improved)
            ]
        );
        // Lower is better: the same moves swap meaning.
        let changed = changed_samples(&a, &b, "acc", false);
        assert_eq!(changed[0].sample_index, 1);
        assert_eq!(changed[0].change, Change::Regressed);
    }

    #[test]
    fn regressions_come_largest_first_and_verdicts_follow_direction() {
        let a = columns(&[(0, Some(0.9)), (1, Some(0.9)), (2, Some(0.5))]);
        let b = columns(&[(0, Some(0.8)), (1, Some(0.1)), (2, Some(0.5))]);
        let changed = changed_samples(&a, &b, "acc", true);
        let order: Vec<i64> = changed.iter().map(|s| s.sample_index).collect();
        assert_eq!(order, vec![1, 0]);
        // Twenty samples, every one worse in b: the interval lies below zero.
        let pairs: Vec<(i64, Option<f64>)> = (0..20).map(|i| (i, Some(0.9))).collect();
        let a = columns(&pairs);
        let b = columns(
            &(0..20)
                .map(|i| (i, Some(if i % 2 == 0 { 0.8 } else { 0.1 })))
                .collect::<Vec<_>>(),
        );
        let c = compare_metric(&a, &b, "acc", true);
        assert!(c.mcnemar.is_none());
        assert_eq!(c.regressed, 20);
        assert_eq!(c.verdict(), Some(false));
        let c = compare_metric(&a, &b, "acc", false);
        assert_eq!(c.verdict(), Some(true));
        // A metric neither side has compares nothing.
        let none = compare_metric(&a, &b, "f1", true);
        assert_eq!((none.paired.n, none.mean_a), (0, None));
    }
}
