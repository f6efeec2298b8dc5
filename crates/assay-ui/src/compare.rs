//! The compare page: two runs (or two models of one run) on the same samples — per task and
//! metric the two means, the paired difference with its bootstrap interval and McNemar's test
//! for 0/1 metrics, and the samples whose score changed, regressions first, side by side.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use assay_engine::compare::{side_scores, Change, Comparison, Side};
use assay_store::{RunRecord, SampleSummary};
use axum::extract::{RawQuery, State};
use axum::response::Response;
use minijinja::context;
use serde::Serialize;

use crate::render::{number, UiError};
use crate::runs::{given, query_string, visible_run};
use crate::session::{SignedIn, Viewer};
use crate::UiState;

/// Comparisons of completed runs kept in memory, so paging through changed samples does not
/// compare again.
const CACHED_COMPARISONS: usize = 8;

/// Recent comparisons of completed runs, newest first, by what identifies their inputs.
#[derive(Default)]
pub(crate) struct ComparisonCache(Mutex<Vec<(String, Arc<Comparison>)>>);

/// What identifies a completed side's scores: a rerun of failed samples moves its round.
fn side_key(side: &Side) -> Option<String> {
    let run = &side.run;
    (run.object.status == assay_domain::api::RunStatus::Completed).then(|| {
        format!(
            "{}\u{1f}{}\u{1f}{}\u{1f}{}",
            run.object.id,
            side.model,
            run.artifact_round,
            run.object.completed_at.unwrap_or_default()
        )
    })
}

impl UiState {
    /// The comparison of two sides: from the cache when both are completed runs compared
    /// before, else read and computed (off the async threads) and, for completed runs, kept.
    async fn comparison(&self, a: Side, b: Side) -> Result<Arc<Comparison>, UiError> {
        let key = side_key(&a)
            .zip(side_key(&b))
            .map(|(x, y)| format!("{x}\u{1e}{y}"));
        if let Some(key) = &key {
            let cache = self.comparisons.0.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, hit)) = cache.iter().find(|(k, _)| k == key) {
                return Ok(hit.clone());
            }
        }
        let (sa, sb) =
            tokio::try_join!(side_scores(&self.store, &a), side_scores(&self.store, &b))?;
        let comparison = tokio::task::spawn_blocking(move || Comparison::of(sa, sb))
            .await
            .map(Arc::new)
            .map_err(|e| UiError::Render(format!("comparing: {e}")))?;
        if let Some(key) = key {
            let mut cache = self.comparisons.0.lock().unwrap_or_else(|e| e.into_inner());
            cache.retain(|(k, _)| *k != key);
            cache.insert(0, (key, comparison.clone()));
            cache.truncate(CACHED_COMPARISONS);
        }
        Ok(comparison)
    }
}

/// Changed samples per page.
const CHANGED_PER_PAGE: usize = 25;

/// The compare page's query.
#[derive(Default)]
pub(crate) struct CompareQuery {
    a: Option<String>,
    b: Option<String>,
    model_a: Option<String>,
    model_b: Option<String>,
    task: Option<String>,
    metric: Option<String>,
    from: Option<String>,
}

impl CompareQuery {
    /// The two sides' query string (without the selected metric and page).
    fn sides_query(&self, a: &Side, b: &Side) -> String {
        query_string(&[
            ("a", &Some(a.run.object.id.clone())),
            ("model_a", &Some(a.model.clone())),
            ("b", &Some(b.run.object.id.clone())),
            ("model_b", &Some(b.model.clone())),
        ])
    }
}

/// The model of `run` a side compares: `asked`, or the run's `default`-th model.
fn side_model(
    field: &str,
    run: &RunRecord,
    asked: Option<String>,
    default: usize,
) -> Result<String, UiError> {
    let models = &run.object.models;
    match asked {
        Some(m) if models.contains(&m) => Ok(m),
        Some(m) => Err(UiError::BadRequest(format!(
            "{field}: run {} has no model {m:?} (it has {})",
            run.object.id,
            models.join(", ")
        ))),
        None => models
            .get(default)
            .or_else(|| models.first())
            .cloned()
            .ok_or_else(|| {
                UiError::BadRequest(format!("{field}: run {} has no models", run.object.id))
            }),
    }
}

/// A p-value as text: four decimals, or scientific below 0.0001.
fn p_text(p: f64) -> String {
    if p >= 1e-4 {
        format!("{p:.4}")
    } else {
        format!("{p:.1e}")
    }
}

/// One row of the deltas table.
#[derive(Serialize)]
struct DeltaRow {
    task: String,
    metric: String,
    higher_is_better: bool,
    n: u64,
    mean_a: String,
    mean_b: String,
    delta: String,
    interval: String,
    stderr: String,
    /// McNemar's exact p-value, and the discordant counts as `b_only vs a_only`.
    mcnemar: Option<(String, String)>,
    improved: u64,
    regressed: u64,
    one_sided: u64,
    /// `better`, `worse` or `unclear`.
    verdict: &'static str,
    selected: bool,
    /// The difference and its interval on the row's chart (0–100, 50 is no difference).
    chart: Option<(f64, f64, f64)>,
}

/// One changed sample, both sides.
#[derive(Serialize)]
struct ChangedRow {
    index: i64,
    change: &'static str,
    score_a: String,
    score_b: String,
    a: Option<SampleCell>,
    b: Option<SampleCell>,
}

#[derive(Serialize)]
struct SampleCell {
    id: String,
    status: &'static str,
    prompt: String,
    target: Option<String>,
    output: Option<String>,
    error_type: Option<String>,
}

impl From<SampleSummary> for SampleCell {
    fn from(s: SampleSummary) -> Self {
        SampleCell {
            status: s.status.as_str(),
            id: s.id,
            prompt: s.prompt,
            target: s.target,
            output: s.output.or(s.extracted_output),
            error_type: s.error_type,
        }
    }
}

impl CompareQuery {
    /// The query from a raw query string: the named fields, or — from the runs list's
    /// checkboxes — `run` given once (two models of that run) or twice (runs A and B).
    fn parse(raw: Option<&str>) -> Result<Self, UiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
            .map_err(|e| UiError::BadRequest(format!("query: {e}")))?;
        let mut q = CompareQuery::default();
        let mut runs = Vec::new();
        for (k, v) in pairs {
            let slot = match k.as_str() {
                "a" => &mut q.a,
                "b" => &mut q.b,
                "model_a" => &mut q.model_a,
                "model_b" => &mut q.model_b,
                "task" => &mut q.task,
                "metric" => &mut q.metric,
                "from" => &mut q.from,
                "run" => {
                    runs.push(v);
                    continue;
                }
                _ => continue,
            };
            *slot = Some(v);
        }
        if !runs.is_empty() {
            if runs.len() > 2 || q.a.is_some() {
                return Err(UiError::BadRequest(format!(
                    "run: choose one run (to compare its models) or two runs, not {}",
                    runs.len() + usize::from(q.a.is_some())
                )));
            }
            let mut runs = runs.into_iter();
            q.a = runs.next();
            q.b = runs.next().or(q.b);
        }
        Ok(q)
    }
}

pub(crate) async fn compare_page(
    State(state): State<UiState>,
    SignedIn(viewer): SignedIn,
    RawQuery(raw): RawQuery,
) -> Response {
    let html = match CompareQuery::parse(raw.as_deref()) {
        Ok(q) => compare_html(&state, &viewer, q).await,
        Err(e) => Err(e),
    };
    state.respond(&viewer, html)
}

async fn compare_html(
    state: &UiState,
    viewer: &Viewer,
    q: CompareQuery,
) -> Result<String, UiError> {
    let Some(a_id) = given(&q.a) else {
        // No runs chosen yet: the form alone.
        return state.render(
            "compare.html",
            context! { viewer => viewer.view(), q => context! {} },
        );
    };
    let b_id = given(&q.b).unwrap_or_else(|| a_id.clone());
    let run_a = visible_run(state, viewer, &a_id).await?;
    let run_b = if b_id == a_id {
        run_a.clone()
    } else {
        visible_run(state, viewer, &b_id).await?
    };
    let same_run = b_id == a_id;
    let model_a = side_model("model_a", &run_a, given(&q.model_a), 0)?;
    let model_b = side_model("model_b", &run_b, given(&q.model_b), usize::from(same_run))?;
    if same_run && model_a == model_b {
        return Err(UiError::BadRequest(format!(
            "model_b: comparing run {a_id} with itself needs two different models (it has {})",
            run_a.object.models.join(", ")
        )));
    }
    let from = match given(&q.from) {
        None => 0,
        Some(f) => f
            .parse::<usize>()
            .map_err(|_| UiError::BadRequest(format!("from: {f:?} is not a sample position")))?,
    };
    let a = Side {
        run: run_a,
        model: model_a,
    };
    let b = Side {
        run: run_b,
        model: model_b,
    };
    let comparison = state.comparison(a.clone(), b.clone()).await?;
    let compared = &comparison.metrics;
    let (only_a, only_b) = (&comparison.only_a, &comparison.only_b);

    // The row whose changed samples are listed: the one asked for, else the first.
    let (task, metric) = (given(&q.task), given(&q.metric));
    let selected = match (&task, &metric) {
        (Some(t), Some(m)) => Some(
            compared
                .iter()
                .position(|c| &c.task_id == t && &c.metric == m)
                .ok_or_else(|| {
                    UiError::BadRequest(format!(
                        "metric: task {t:?} has no metric {m:?} both sides report"
                    ))
                })?,
        ),
        (None, None) => (!compared.is_empty()).then_some(0),
        _ => {
            return Err(UiError::BadRequest(
                "task: give both task and metric to pick the changed samples shown".into(),
            ))
        }
    };

    // Each metric's charts share one scale: the largest interval end in absolute value.
    let mut scale: BTreeMap<&str, f64> = BTreeMap::new();
    for c in compared {
        if let (Some(d), Some((lo, hi))) = (c.paired.mean_diff, c.paired.ci95) {
            let top = d.abs().max(lo.abs()).max(hi.abs());
            let entry = scale.entry(c.metric.as_str()).or_insert(0.0);
            *entry = entry.max(top);
        }
    }
    let rows: Vec<DeltaRow> = compared
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let chart = match (
                c.paired.mean_diff,
                c.paired.ci95,
                scale.get(c.metric.as_str()),
            ) {
                (Some(d), Some((lo, hi)), Some(&s)) if s > 0.0 => {
                    let at = |x: f64| (50.0 + 50.0 * x / s).clamp(0.0, 100.0);
                    Some((at(lo), at(d), at(hi)))
                }
                _ => None,
            };
            DeltaRow {
                task: c.task_id.clone(),
                metric: c.metric.clone(),
                higher_is_better: c.higher_is_better,
                n: c.paired.n,
                mean_a: number(c.mean_a),
                mean_b: number(c.mean_b),
                delta: c
                    .paired
                    .mean_diff
                    .map(|d| format!("{d:+.4}"))
                    .unwrap_or_else(|| "—".into()),
                interval: c
                    .paired
                    .ci95
                    .map(|(lo, hi)| format!("[{lo:+.4}, {hi:+.4}]"))
                    .unwrap_or_else(|| "—".into()),
                stderr: number(c.paired.stderr),
                mcnemar: c
                    .mcnemar
                    .map(|m| (p_text(m.exact_p), format!("{} vs {}", m.b_only, m.a_only))),
                improved: c.improved,
                regressed: c.regressed,
                one_sided: c.only_a + c.only_b,
                verdict: match c.verdict() {
                    Some(true) => "better",
                    Some(false) => "worse",
                    None => "unclear",
                },
                selected: selected == Some(i),
                chart,
            }
        })
        .collect();

    // The selected row's changed samples, one page of them, with both sides' texts.
    let mut changed_view = None;
    if let Some((i, c)) = selected.and_then(|i| compared.get(i).map(|c| (i, c))) {
        let changed = comparison.changed(i);
        // A position past the end shows the last page (and cannot overflow below).
        let from = from.min(changed.len().saturating_sub(1) / CHANGED_PER_PAGE * CHANGED_PER_PAGE);
        let count = |k: Change| changed.iter().filter(|s| s.change == k).count();
        let page: Vec<_> = changed.iter().skip(from).take(CHANGED_PER_PAGE).collect();
        let indexes: Vec<i64> = page.iter().map(|s| s.sample_index).collect();
        let (texts_a, texts_b) = tokio::try_join!(
            state
                .store
                .samples_at(&a.run.object.id, &c.task_id, &a.model, &indexes),
            state
                .store
                .samples_at(&b.run.object.id, &c.task_id, &b.model, &indexes),
        )?;
        let mut texts_a: HashMap<i64, SampleSummary> =
            texts_a.into_iter().map(|s| (s.sample_index, s)).collect();
        let mut texts_b: HashMap<i64, SampleSummary> =
            texts_b.into_iter().map(|s| (s.sample_index, s)).collect();
        let score = |v: Option<f64>| v.map(|x| number(Some(x))).unwrap_or_else(|| "—".into());
        let samples: Vec<ChangedRow> = page
            .iter()
            .map(|s| ChangedRow {
                index: s.sample_index,
                change: match s.change {
                    Change::Regressed => "regressed",
                    Change::Lost => "lost",
                    Change::Improved => "improved",
                    Change::Gained => "gained",
                },
                score_a: score(s.a),
                score_b: score(s.b),
                a: texts_a.remove(&s.sample_index).map(SampleCell::from),
                b: texts_b.remove(&s.sample_index).map(SampleCell::from),
            })
            .collect();
        let next = (from + CHANGED_PER_PAGE < changed.len()).then_some(from + CHANGED_PER_PAGE);
        let previous = (from > 0).then(|| from.saturating_sub(CHANGED_PER_PAGE));
        changed_view = Some(context! {
            task => &c.task_id,
            metric => &c.metric,
            total => changed.len(),
            regressed => count(Change::Regressed),
            lost => count(Change::Lost),
            improved => count(Change::Improved),
            gained => count(Change::Gained),
            first => from + 1,
            last => from + samples.len(),
            samples => samples,
            next => next,
            previous => previous,
            selection => query_string(&[("task", &Some(c.task_id.clone())), ("metric", &Some(c.metric.clone()))]),
        });
    }

    let side_view = |s: &Side| {
        context! {
            id => &s.run.object.id,
            model => &s.model,
            models => &s.run.object.models,
            status => s.run.object.status.as_str(),
            suite_id => &s.run.object.suite_id,
            suite_version => s.run.object.suite_version,
        }
    };
    state.render(
        "compare.html",
        context! {
            viewer => viewer.view(),
            q => context! { a => &a.run.object.id, b => &b.run.object.id, model_a => &a.model, model_b => &b.model },
            a => side_view(&a),
            b => side_view(&b),
            sides => q.sides_query(&a, &b),
            rows => rows,
            only_a => only_a,
            only_b => only_b,
            changed => changed_view,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_come_from_fields_or_checkboxes() {
        let q = CompareQuery::parse(Some("run=r1&run=r2&task=t")).unwrap_or_default();
        assert_eq!(
            (q.a.as_deref(), q.b.as_deref(), q.task.as_deref()),
            (Some("r1"), Some("r2"), Some("t"))
        );
        let q = CompareQuery::parse(Some("run=r1")).unwrap_or_default();
        assert_eq!((q.a.as_deref(), q.b), (Some("r1"), None));
        let q = CompareQuery::parse(Some("a=x&model_a=m&b=y")).unwrap_or_default();
        assert_eq!(
            (q.a.as_deref(), q.model_a.as_deref(), q.b.as_deref()),
            (Some("x"), Some("m"), Some("y"))
        );
        assert!(CompareQuery::parse(Some("run=1&run=2&run=3")).is_err());
        assert!(CompareQuery::parse(None).is_ok());
    }

    #[test]
    fn p_values_read_at_any_size() {
        assert_eq!(p_text(1.0), "1.0000");
        assert_eq!(p_text(0.0312), "0.0312");
        assert_eq!(p_text(3.2e-7), "3.2e-7");
    }
}
