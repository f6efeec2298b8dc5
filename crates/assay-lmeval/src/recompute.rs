//! Aggregates recomputed from the samples, and checked against the results file.
//!
//! For each (task, metric, filter) the per-sample values are taken in samples-file order (the
//! order lm-eval collected them in) and aggregated as lm-eval 0.4 does:
//!
//! | aggregation | value | standard error |
//! |---|---|---|
//! | `mean` | `sum(xs) / len(xs)`, summed left to right | `sample_stddev(xs) / sqrt(len(xs))`, `sample_stddev` with Bessel's correction, summed left to right |
//! | `median` | `sorted(xs)[len(xs) // 2]` | bootstrapped: not recomputed |
//! | `nanmean` | numpy's `nanmean` (pairwise summation) | bootstrapped: not recomputed |
//! | `perplexity` | `exp(-mean(xs))` | bootstrapped: not recomputed |
//! | `weighted_perplexity` | `exp(-sum(a) / sum(b))` over `[a, b]` items | none (`"N/A"`) |
//! | `bits_per_byte` | `-(sum(a) / sum(b)) / ln 2` over `[a, b]` items | none (`"N/A"`) |
//! | `bleu`, `chrf`, `chrf++`, `ter`, `f1`, `matthews_corrcoef` | corpus scores (sacrebleu, scikit-learn): not recomputed | bootstrapped: not recomputed |
//! | `brier_score`, `bypass` | not recomputed | none (`"N/A"`) |
//!
//! A standard error is `"N/A"` over fewer than two values and whenever the results file says
//! bootstrapping was off (`bootstrap_iters: 0`). lm-eval bootstraps with its own random
//! resampling (100 000 draws by default, 100 for the sacrebleu metrics), which is not
//! reproduced: such a standard error is reported as [`Recomputed::NotRecomputable`], never
//! guessed.
//!
//! Which aggregation a metric has: the task's `metric_list` entry when it names one, else
//! lm-eval's registered default for the metric (`acc`, `exact_match`, … → `mean`; `bleu` →
//! `bleu`; `word_perplexity` → `weighted_perplexity`; …), else `mean` — lm-eval's own fallback
//! for a metric without an aggregation.
//!
//! Summation note: Python's `sum` adds left to right over lm-eval's values (numpy floats), which
//! is what is done here, so the numbers come out bit for bit the same. Python 3.12 and later
//! sum plain Python floats with compensated summation, which can move the last bits of a mean
//! of non-binary values; [`verify`] therefore compares with a tolerance.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::pyjson::number;
use crate::results::{Reported, ResultsFile, TaskConfig};
use crate::samples::SampleLine;

/// How lm-eval aggregates a metric's per-sample values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub enum Aggregation {
    /// `mean`.
    Mean,
    /// `median`.
    Median,
    /// `nanmean`.
    NanMean,
    /// `perplexity`.
    Perplexity,
    /// `weighted_perplexity`.
    WeightedPerplexity,
    /// `bits_per_byte`.
    BitsPerByte,
    /// Any other (`bleu`, `f1`, a task's own function, …), by name.
    Other(String),
}

impl From<Aggregation> for String {
    fn from(a: Aggregation) -> String {
        a.name().to_string()
    }
}

impl fmt::Display for Aggregation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Aggregations whose standard error lm-eval bootstraps (`stderr_for_metric`).
const BOOTSTRAPPED: [&str; 9] = [
    "median",
    "matthews_corrcoef",
    "f1",
    "perplexity",
    "bleu",
    "chrf",
    "chrf++",
    "ter",
    "nanmean",
];

/// Aggregations for which lm-eval computes no standard error at all.
const WITHOUT_STDERR: [&str; 4] = [
    "weighted_perplexity",
    "bits_per_byte",
    "brier_score",
    "bypass",
];

impl Aggregation {
    /// The aggregation of a name, as written in `metric_list` (a custom function's text,
    /// `<function NAME at 0x…>`, is read as `NAME`).
    pub fn from_name(name: &str) -> Self {
        let name = name
            .strip_prefix("<function ")
            .and_then(|rest| rest.split(' ').next())
            .unwrap_or(name);
        match name {
            "mean" => Aggregation::Mean,
            "median" => Aggregation::Median,
            "nanmean" => Aggregation::NanMean,
            "perplexity" => Aggregation::Perplexity,
            "weighted_perplexity" => Aggregation::WeightedPerplexity,
            "bits_per_byte" => Aggregation::BitsPerByte,
            other => Aggregation::Other(other.to_string()),
        }
    }

    /// The aggregation's name.
    pub fn name(&self) -> &str {
        match self {
            Aggregation::Mean => "mean",
            Aggregation::Median => "median",
            Aggregation::NanMean => "nanmean",
            Aggregation::Perplexity => "perplexity",
            Aggregation::WeightedPerplexity => "weighted_perplexity",
            Aggregation::BitsPerByte => "bits_per_byte",
            Aggregation::Other(name) => name,
        }
    }

    /// lm-eval's registered aggregation of a built-in metric.
    pub fn registered_for(metric: &str) -> Option<Self> {
        Some(match metric {
            "acc" | "acc_norm" | "acc_mutual_info" | "acc_bytes" | "exact_match" | "likelihood"
            | "acc_all" => Aggregation::Mean,
            "perplexity" => Aggregation::Perplexity,
            "word_perplexity" | "byte_perplexity" => Aggregation::WeightedPerplexity,
            "bits_per_byte" => Aggregation::BitsPerByte,
            "mcc" => Aggregation::Other("matthews_corrcoef".into()),
            "f1" | "bleu" | "chrf" | "chrf++" | "ter" | "brier_score" | "bypass" => {
                Aggregation::Other(metric.into())
            }
            _ => return None,
        })
    }
}

/// Where a metric's aggregation was learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AggregationSource {
    /// The task's `metric_list`.
    Config,
    /// lm-eval's registry of built-in metrics.
    Registry,
    /// Neither: lm-eval's fallback, `mean`.
    Default,
}

/// A recomputed number.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum Recomputed {
    /// The number lm-eval would have written.
    Value(f64),
    /// lm-eval writes `"N/A"` here.
    NotAvailable,
    /// Not recomputable from the samples; why.
    NotRecomputable(String),
}

impl Recomputed {
    /// The number, if recomputed.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Recomputed::Value(x) => Some(*x),
            _ => None,
        }
    }
}

/// One (task, metric, filter) aggregated from the samples.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricAggregate {
    /// The task.
    pub task: String,
    /// The metric.
    pub metric: String,
    /// The filter.
    pub filter: String,
    /// How it aggregates.
    pub aggregation: Aggregation,
    /// Where [`MetricAggregate::aggregation`] was learned.
    pub aggregation_source: AggregationSource,
    /// How many per-sample values there were.
    pub n: usize,
    /// The aggregate.
    pub value: Recomputed,
    /// Its standard error.
    pub stderr: Recomputed,
}

/// The aggregation of `metric` in a task, and where it was learned.
pub fn aggregation_of(
    config: Option<&TaskConfig>,
    metric: &str,
) -> (Aggregation, AggregationSource) {
    if let Some(agg) = config
        .and_then(|c| c.metric(metric))
        .and_then(|m| m.aggregation.as_ref())
        .and_then(Value::as_str)
    {
        return (Aggregation::from_name(agg), AggregationSource::Config);
    }
    match Aggregation::registered_for(metric) {
        Some(agg) => (agg, AggregationSource::Registry),
        None => (Aggregation::Mean, AggregationSource::Default),
    }
}

/// Aggregates a task's sample lines per (metric, filter), in order of first appearance.
/// `bootstrap_iters` is the results file's ([`ResultsFile::bootstrap_iters`]).
pub fn aggregate_task(
    task: &str,
    config: Option<&TaskConfig>,
    lines: &[SampleLine],
    bootstrap_iters: u64,
) -> Vec<MetricAggregate> {
    let mut keys: Vec<(&str, &str)> = Vec::new();
    let mut items: BTreeMap<(&str, &str), Vec<(&Value, usize)>> = BTreeMap::new();
    for line in lines {
        for (metric, value) in &line.values {
            let key = (metric.as_str(), line.filter.as_str());
            let list = items.entry(key).or_insert_with(|| {
                keys.push(key);
                Vec::new()
            });
            list.push((value, line.line));
        }
    }
    keys.into_iter()
        .map(|key| {
            let (metric, filter) = key;
            let values = items.get(&key).map(Vec::as_slice).unwrap_or_default();
            let (aggregation, aggregation_source) = aggregation_of(config, metric);
            let value = aggregate(&aggregation, metric, values);
            let stderr = standard_error(&aggregation, metric, values, bootstrap_iters);
            MetricAggregate {
                task: task.to_string(),
                metric: metric.to_string(),
                filter: filter.to_string(),
                aggregation,
                aggregation_source,
                n: values.len(),
                value,
                stderr,
            }
        })
        .collect()
}

/// The values as numbers, or why not (the first line whose value is not one).
fn numbers(metric: &str, items: &[(&Value, usize)]) -> Result<Vec<f64>, String> {
    items
        .iter()
        .map(|(v, line)| {
            number(v).ok_or_else(|| format!("`{metric}` on line {line} is not a number: {v}"))
        })
        .collect()
}

/// `[a, b]` pairs as numbers (the items of lm-eval's weighted means).
fn pairs(metric: &str, items: &[(&Value, usize)]) -> Result<Vec<(f64, f64)>, String> {
    items
        .iter()
        .map(|(v, line)| {
            let pair = v.as_array().filter(|a| a.len() == 2);
            pair.and_then(|a| Some((number(&a[0])?, number(&a[1])?)))
                .ok_or_else(|| format!("`{metric}` on line {line} is not a pair of numbers: {v}"))
        })
        .collect()
}

/// Python's `sum(xs)` over floats: left to right, from 0.
pub fn python_sum(xs: &[f64]) -> f64 {
    xs.iter().fold(0.0, |acc, x| acc + x)
}

/// lm-eval's `mean`: `sum(xs) / len(xs)`.
pub fn mean(xs: &[f64]) -> f64 {
    python_sum(xs) / xs.len() as f64
}

/// lm-eval's `sample_stddev`: the standard deviation with Bessel's correction, summed left to
/// right.
pub fn sample_stddev(xs: &[f64]) -> f64 {
    let mu = mean(xs);
    let squares: Vec<f64> = xs.iter().map(|x| (x - mu) * (x - mu)).collect();
    (python_sum(&squares) / (xs.len() as f64 - 1.0)).sqrt()
}

/// lm-eval's `mean_stderr`: `sample_stddev(xs) / sqrt(len(xs))`.
pub fn mean_stderr(xs: &[f64]) -> f64 {
    sample_stddev(xs) / (xs.len() as f64).sqrt()
}

/// numpy's pairwise summation of a float64 array (`np.sum`): blocks of up to 128 summed with
/// eight accumulators, larger arrays split in halves (at multiples of eight).
pub fn numpy_sum(xs: &[f64]) -> f64 {
    let n = xs.len();
    if n < 8 {
        python_sum(xs)
    } else if n <= 128 {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&xs[..8]);
        let whole = n - n % 8;
        let mut i = 8;
        while i < whole {
            for (j, acc) in r.iter_mut().enumerate() {
                *acc += xs[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for x in &xs[whole..] {
            res += x;
        }
        res
    } else {
        let mut half = n / 2;
        half -= half % 8;
        numpy_sum(&xs[..half]) + numpy_sum(&xs[half..])
    }
}

/// numpy's `nanmean`: NaNs replaced by 0 and summed pairwise, divided by the count of the
/// others; NaN when every value is NaN (or there are none).
pub fn nanmean(xs: &[f64]) -> f64 {
    let count = xs.iter().filter(|x| !x.is_nan()).count();
    if count == 0 {
        return f64::NAN;
    }
    let zeroed: Vec<f64> = xs
        .iter()
        .map(|x| if x.is_nan() { 0.0 } else { *x })
        .collect();
    numpy_sum(&zeroed) / count as f64
}

fn weighted_mean(ps: &[(f64, f64)]) -> f64 {
    let a: Vec<f64> = ps.iter().map(|p| p.0).collect();
    let b: Vec<f64> = ps.iter().map(|p| p.1).collect();
    python_sum(&a) / python_sum(&b)
}

fn aggregate(aggregation: &Aggregation, metric: &str, items: &[(&Value, usize)]) -> Recomputed {
    if items.is_empty() {
        return Recomputed::NotRecomputable(format!("no values of `{metric}`"));
    }
    let result = match aggregation {
        Aggregation::Mean => numbers(metric, items).map(|xs| mean(&xs)),
        Aggregation::NanMean => numbers(metric, items).map(|xs| nanmean(&xs)),
        Aggregation::Perplexity => numbers(metric, items).map(|xs| (-mean(&xs)).exp()),
        Aggregation::Median => numbers(metric, items).and_then(|mut xs| {
            if xs.iter().any(|x| x.is_nan()) {
                return Err(format!(
                    "`{metric}` has NaN values, which Python sorts unpredictably"
                ));
            }
            xs.sort_by(f64::total_cmp);
            Ok(xs[xs.len() / 2])
        }),
        Aggregation::WeightedPerplexity => {
            pairs(metric, items).map(|ps| (-weighted_mean(&ps)).exp())
        }
        Aggregation::BitsPerByte => {
            pairs(metric, items).map(|ps| -weighted_mean(&ps) / std::f64::consts::LN_2)
        }
        Aggregation::Other(name) => Err(format!(
            "lm-eval aggregates `{metric}` with `{name}`, which is not recomputed here"
        )),
    };
    result.map_or_else(Recomputed::NotRecomputable, Recomputed::Value)
}

fn standard_error(
    aggregation: &Aggregation,
    metric: &str,
    items: &[(&Value, usize)],
    bootstrap_iters: u64,
) -> Recomputed {
    let name = aggregation.name();
    if bootstrap_iters == 0 || WITHOUT_STDERR.contains(&name) {
        return Recomputed::NotAvailable;
    }
    if *aggregation == Aggregation::Mean {
        if items.len() < 2 {
            return Recomputed::NotAvailable;
        }
        return numbers(metric, items).map_or_else(Recomputed::NotRecomputable, |xs| {
            Recomputed::Value(mean_stderr(&xs))
        });
    }
    if BOOTSTRAPPED.contains(&name) {
        if items.len() < 2 {
            return Recomputed::NotAvailable;
        }
        return Recomputed::NotRecomputable(format!(
            "lm-eval bootstraps the standard error of `{name}` by random resampling"
        ));
    }
    Recomputed::NotRecomputable(format!(
        "the standard error of `{name}` (a custom aggregation) is unknown"
    ))
}

/// What a [`Check`] compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Quantity {
    /// The aggregate (`"METRIC,FILTER"`).
    Value,
    /// Its standard error (`"METRIC_stderr,FILTER"`).
    Stderr,
    /// The task's evaluated documents (`n-samples.<task>.effective`) against the documents in
    /// its samples file.
    Documents,
}

/// How a [`Check`] came out.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum Outcome {
    /// The numbers agree (within the tolerance), or both are `"N/A"`.
    Equal,
    /// They differ (`recomputed - reported`, NaN when one side is not a number).
    Differs(f64),
    /// The samples cannot give this number; why.
    NotRecomputable(String),
    /// The results file has it; the samples have no values of it.
    MissingFromSamples,
    /// The samples have it; the results file does not.
    MissingFromResults,
}

/// One number of the results file compared with the samples.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// The task.
    pub task: String,
    /// The metric (empty for [`Quantity::Documents`]).
    pub metric: String,
    /// The filter (empty for [`Quantity::Documents`]).
    pub filter: String,
    /// What is compared.
    pub quantity: Quantity,
    /// The results file's number.
    pub reported: Option<Reported>,
    /// The samples' number.
    pub recomputed: Option<Recomputed>,
    /// The verdict.
    pub outcome: Outcome,
}

impl Check {
    /// Whether this check found the results file and the samples disagreeing (a difference,
    /// or a number only one side has); not-recomputable checks are not disagreements.
    pub fn is_difference(&self) -> bool {
        matches!(
            self.outcome,
            Outcome::Differs(_) | Outcome::MissingFromSamples | Outcome::MissingFromResults
        )
    }
}

/// Every number of a results file compared with its samples.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Verification {
    /// The checks, per task in results-file order, per metric in file order.
    pub checks: Vec<Check>,
}

impl Verification {
    /// The checks where the results file and the samples disagree.
    pub fn differences(&self) -> Vec<&Check> {
        self.checks.iter().filter(|c| c.is_difference()).collect()
    }

    /// The checks the samples cannot decide.
    pub fn not_recomputable(&self) -> Vec<&Check> {
        self.checks
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::NotRecomputable(_)))
            .collect()
    }

    /// How many checks agreed.
    pub fn equal(&self) -> usize {
        self.checks
            .iter()
            .filter(|c| c.outcome == Outcome::Equal)
            .count()
    }

    /// Whether nothing disagrees.
    pub fn is_consistent(&self) -> bool {
        self.differences().is_empty()
    }
}

/// Whether two numbers agree: identical, both NaN, or within `tolerance` × max(1, |reported|).
pub fn agrees(reported: f64, recomputed: f64, tolerance: f64) -> bool {
    reported == recomputed
        || (reported.is_nan() && recomputed.is_nan())
        || (recomputed - reported).abs() <= tolerance * reported.abs().max(1.0)
}

fn compare(reported: Option<&Reported>, recomputed: &Recomputed, tolerance: f64) -> Outcome {
    match (reported, recomputed) {
        (_, Recomputed::NotRecomputable(why)) => Outcome::NotRecomputable(why.clone()),
        (None, _) => Outcome::MissingFromResults,
        (Some(Reported::NotAvailable), Recomputed::NotAvailable) => Outcome::Equal,
        (Some(Reported::Number(r)), Recomputed::Value(c)) if agrees(*r, *c, tolerance) => {
            Outcome::Equal
        }
        (Some(Reported::Number(r)), Recomputed::Value(c)) => Outcome::Differs(c - r),
        (Some(_), _) => Outcome::Differs(f64::NAN),
    }
}

/// The default tolerance of [`verify`]: relative to the reported number (absolute below 1).
pub const TOLERANCE: f64 = 1e-12;

/// Compares a results file with aggregates recomputed from its samples ([`aggregate_task`]),
/// for the tasks in `samples` (task → its sample lines); tasks of the results file without
/// samples are not checked. Standard errors and values are compared with [`agrees`].
pub fn verify(
    results: &ResultsFile,
    samples: &BTreeMap<String, Vec<SampleLine>>,
    tolerance: f64,
) -> Verification {
    let mut checks = Vec::new();
    let bootstrap_iters = results.bootstrap_iters();
    for task in results.tasks() {
        let Some(lines) = samples.get(&task.task) else {
            continue;
        };
        let aggregates = aggregate_task(
            &task.task,
            results.configs.get(&task.task),
            lines,
            bootstrap_iters,
        );
        let mut seen = Vec::new();
        for reported in &task.metrics {
            let found = aggregates
                .iter()
                .find(|a| a.metric == reported.metric && a.filter == reported.filter);
            seen.push((reported.metric.as_str(), reported.filter.as_str()));
            for (quantity, value) in [
                (Quantity::Value, reported.value.as_ref()),
                (Quantity::Stderr, reported.stderr.as_ref()),
            ] {
                if value.is_none() {
                    continue;
                }
                let recomputed = found.map(|a| match quantity {
                    Quantity::Stderr => a.stderr.clone(),
                    _ => a.value.clone(),
                });
                let outcome = match &recomputed {
                    None => Outcome::MissingFromSamples,
                    Some(r) => compare(value, r, tolerance),
                };
                checks.push(Check {
                    task: task.task.clone(),
                    metric: reported.metric.clone(),
                    filter: reported.filter.clone(),
                    quantity,
                    reported: value.cloned(),
                    recomputed,
                    outcome,
                });
            }
        }
        for a in &aggregates {
            if !seen.contains(&(a.metric.as_str(), a.filter.as_str())) {
                checks.push(Check {
                    task: task.task.clone(),
                    metric: a.metric.clone(),
                    filter: a.filter.clone(),
                    quantity: Quantity::Value,
                    reported: None,
                    recomputed: Some(a.value.clone()),
                    outcome: Outcome::MissingFromResults,
                });
            }
        }
        if let Some(effective) = results.n_samples.get(&task.task).and_then(|n| n.effective) {
            let mut docs: Vec<u64> = lines.iter().map(|l| l.doc_id).collect();
            docs.sort_unstable();
            docs.dedup();
            let count = docs.len() as f64;
            let reported = Reported::Number(effective as f64);
            let recomputed = Recomputed::Value(count);
            let outcome = compare(Some(&reported), &recomputed, 0.0);
            checks.push(Check {
                task: task.task.clone(),
                metric: String::new(),
                filter: String::new(),
                quantity: Quantity::Documents,
                reported: Some(reported),
                recomputed: Some(recomputed),
                outcome,
            });
        }
    }
    Verification { checks }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samples::parse_sample_line;
    use serde_json::json;

    // Expected bits computed with lm-eval 0.4.13's own functions (numpy 2.4) on the same inputs.
    const XS: [f64; 8] = [0.1, 0.7, 1.0 / 3.0, 1.0, 0.25, 0.6180339887, 0.0, 0.9];

    #[test]
    fn mean_and_stderr_match_lm_eval_bit_for_bit() {
        assert_eq!(mean(&XS).to_bits(), 0x3fdf3600120e87b7);
        assert_eq!(mean_stderr(&XS).to_bits(), 0x3fc0c905d4a31a56);
    }

    fn nan_series(n: usize) -> Vec<f64> {
        const SCALE: [f64; 5] = [1.0, 10.0, 100.0, 1000.0, 10000.0];
        (0..n)
            .map(|i| {
                if i % 7 == 0 {
                    f64::NAN
                } else {
                    (i as f64).sin() * SCALE[i % 5]
                }
            })
            .collect()
    }

    #[test]
    fn numpy_sums_match_numpy_bit_for_bit() {
        let v = nan_series(300);
        let zeroed: Vec<f64> = v
            .iter()
            .map(|x| if x.is_nan() { 0.0 } else { *x })
            .collect();
        assert_eq!(numpy_sum(&zeroed).to_bits(), 0xc0be6e14650a7d6c);
        assert_eq!(nanmean(&v).to_bits(), 0xc03e4fc4a06a1359);
        assert_eq!(nanmean(&v[..13]).to_bits(), 0xc069f730bbb4acec);
        assert!(nanmean(&[f64::NAN]).is_nan());
        assert!(nanmean(&[]).is_nan());
    }

    fn lines(values: &[Value]) -> Vec<SampleLine> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let line = json!({"doc_id": i, "filter": "none", "metrics": ["m"], "m": v});
                parse_sample_line("s.jsonl", i + 1, &line.to_string()).expect("valid line")
            })
            .collect()
    }

    fn one(aggregation: &str, values: &[Value], bootstrap_iters: u64) -> MetricAggregate {
        let config: TaskConfig = serde_json::from_value(json!({
            "metric_list": [{"metric": "m", "aggregation": aggregation}]
        }))
        .expect("config");
        let mut out = aggregate_task("t", Some(&config), &lines(values), bootstrap_iters);
        assert_eq!(out.len(), 1);
        out.remove(0)
    }

    #[test]
    fn other_aggregations_match_lm_eval() {
        let ll = [json!(-1.25), json!(-0.5), json!(-3.125)];
        let ppl = one("perplexity", &ll, 100_000);
        assert_eq!(
            ppl.value.as_f64().map(f64::to_bits),
            Some(0x4014504d148049fe)
        );
        assert!(matches!(ppl.stderr, Recomputed::NotRecomputable(_)));

        let pairs = [json!([-10.5, 3]), json!([-7.25, 2]), json!([-1.0, 1])];
        let w = one("weighted_perplexity", &pairs, 100_000);
        assert_eq!(w.value.as_f64().map(f64::to_bits), Some(0x4036c2887c1f1692));
        assert_eq!(w.stderr, Recomputed::NotAvailable);
        let b = one("bits_per_byte", &pairs, 100_000);
        assert_eq!(b.value.as_f64().map(f64::to_bits), Some(0x4012089fc709fe57));

        let m = one(
            "median",
            &[json!(3), json!(1.5), json!(2), json!(8)],
            100_000,
        );
        assert_eq!(m.value, Recomputed::Value(3.0));

        let nm = one("nanmean", &[json!(1.0), json!("NaN"), json!(0.0)], 100_000);
        assert_eq!(nm.value, Recomputed::Value(0.5));
    }

    #[test]
    fn standard_errors_follow_lm_eval_rules() {
        let bools = [json!(true), json!(false), json!(true), json!(true)];
        let m = one("mean", &bools, 100_000);
        assert_eq!(m.value, Recomputed::Value(0.75));
        assert_eq!(m.stderr, Recomputed::Value(0.25));
        // Bootstrapping off: every standard error is "N/A".
        assert_eq!(one("mean", &bools, 0).stderr, Recomputed::NotAvailable);
        // A single value has no standard error.
        assert_eq!(
            one("mean", &bools[..1], 100_000).stderr,
            Recomputed::NotAvailable
        );
        // A corpus score is neither recomputed nor its bootstrap.
        let bleu = one("bleu", &[json!(["a", "a"]), json!(["b", "c"])], 100_000);
        assert!(matches!(bleu.value, Recomputed::NotRecomputable(_)));
        assert!(matches!(bleu.stderr, Recomputed::NotRecomputable(_)));
        // Values that are not numbers cannot be averaged; the message names the line.
        let bad = one("mean", &[json!(1.0), json!("x")], 100_000);
        match bad.value {
            Recomputed::NotRecomputable(why) => assert!(why.contains("line 2"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn aggregation_comes_from_config_then_registry_then_mean() {
        let config: TaskConfig = serde_json::from_value(json!({
            "metric_list": [{"metric": "acc", "aggregation": "<function median at 0x7f>"}, {"metric": "bleu"}]
        }))
        .expect("config");
        assert_eq!(
            aggregation_of(Some(&config), "acc"),
            (Aggregation::Median, AggregationSource::Config)
        );
        assert_eq!(
            aggregation_of(Some(&config), "bleu"),
            (
                Aggregation::Other("bleu".into()),
                AggregationSource::Registry
            )
        );
        assert_eq!(
            aggregation_of(None, "my_score"),
            (Aggregation::Mean, AggregationSource::Default)
        );
        assert_eq!(
            aggregation_of(None, "word_perplexity").0,
            Aggregation::WeightedPerplexity
        );
    }

    #[test]
    fn verify_reports_differences_and_missing_numbers() {
        let results = ResultsFile::parse(
            "r.json",
            json!({"results": {"t": {
                "m,none": 0.5, "m_stderr,none": "N/A",
                "gone,none": 1.0
            }}, "n-samples": {"t": {"effective": 3}}})
            .to_string()
            .as_bytes(),
        )
        .expect("parses");
        let mut samples = BTreeMap::new();
        samples.insert("t".to_string(), lines(&[json!(1.0), json!(0.0)]));
        let v = verify(&results, &samples, TOLERANCE);
        let diffs = v.differences();
        // m's stderr is a number over two values, not "N/A"; `gone` has no samples; lm-eval
        // says 3 documents, the samples have 2.
        let kinds: Vec<(&str, Quantity, &Outcome)> = diffs
            .iter()
            .map(|c| (c.metric.as_str(), c.quantity, &c.outcome))
            .collect();
        assert_eq!(kinds.len(), 3, "{kinds:#?}");
        assert_eq!(kinds[0].0, "m");
        assert_eq!(kinds[0].1, Quantity::Stderr);
        assert!(matches!(kinds[0].2, Outcome::Differs(d) if d.is_nan()));
        assert_eq!(
            (kinds[1].0, kinds[1].2),
            ("gone", &Outcome::MissingFromSamples)
        );
        assert_eq!(kinds[2].1, Quantity::Documents);
        assert_eq!(kinds[2].2, &Outcome::Differs(-1.0));
        assert_eq!(v.equal(), 1);
    }

    #[test]
    fn agreement_is_relative_above_one() {
        assert!(agrees(57.0, 57.0 + 1e-11, 1e-12));
        assert!(!agrees(57.0, 57.0 + 1e-9, 1e-12));
        assert!(agrees(0.5, 0.5 + 1e-13, 1e-12));
        assert!(agrees(f64::NAN, f64::NAN, 0.0));
        assert!(!agrees(0.5, f64::NAN, 1e-12));
    }
}
