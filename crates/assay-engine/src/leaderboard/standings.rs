//! The rows of a coding-agent board, as pure functions over the figures of its runs.
//!
//! - One row per (agent, model, effort); `agent_version` is reported, not part of the key.
//! - **Newest** means latest `created_at` (an import may date a run in the past), ties broken
//!   by the runs table's `seq`. The newest run gives the row its `agent_version` and
//!   `last_run_at`.
//! - Counts and sums add up over the row's runs; a nullable figure stays `null` only when no
//!   run reported it. `accuracy` is the metric's sum over its scored trials, `null` (never 0)
//!   without any, with a [`wald_interval`] around it.
//! - `run_ids` lists the runs with the most trials first, ties newest first.
//! - Rows are ordered by accuracy descending with `null` last, then agent, model and effort
//!   (ascending; no effort before any effort).

use std::cmp::{Ordering, Reverse};
use std::collections::BTreeMap;

use assay_domain::api::LeaderboardRow;
use assay_store::AgentRunFigures;

use super::wald::wald_interval;

/// A row's identity: agent, model, effort.
type RowKey = (String, String, Option<String>);

/// Groups `runs` into rows, orders them, and keeps the first `limit`.
pub fn standings(runs: Vec<AgentRunFigures>, limit: usize) -> Vec<LeaderboardRow> {
    let mut groups: BTreeMap<RowKey, Vec<AgentRunFigures>> = BTreeMap::new();
    for run in runs {
        let key = (
            run.agent_name.clone(),
            run.model.clone(),
            run.agent_effort.clone(),
        );
        groups.entry(key).or_default().push(run);
    }
    let mut rows: Vec<LeaderboardRow> = groups
        .into_iter()
        .map(|((agent_name, model, agent_effort), runs)| row(agent_name, model, agent_effort, runs))
        .collect();
    // The groups came out in (agent, model, effort) order; a stable sort on accuracy keeps it
    // among equal accuracies.
    rows.sort_by(|a, b| by_accuracy(a.accuracy, b.accuracy));
    rows.truncate(limit);
    rows
}

/// Higher accuracy first, `None` after every number.
fn by_accuracy(a: Option<f64>, b: Option<f64>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => b.total_cmp(&a),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// Orders runs newest first: latest `created_at`, then latest `seq`.
fn newest_first(run: &AgentRunFigures) -> Reverse<(i64, i64)> {
    Reverse((run.created_at, run.seq))
}

/// One row from its (non-empty) runs.
fn row(
    agent_name: String,
    model: String,
    agent_effort: Option<String>,
    mut runs: Vec<AgentRunFigures>,
) -> LeaderboardRow {
    runs.sort_by_key(newest_first);
    let newest = runs.first();
    let agent_version = newest.and_then(|r| r.agent_version.clone());
    let last_run_at = newest.map_or(0, |r| r.created_at);

    let scored = sum(&runs, |r| r.scored);
    let score_sum: f64 = runs.iter().map(|r| r.score_sum).sum();
    let accuracy = (scored > 0).then(|| score_sum / scored as f64);
    let accuracy_ci = accuracy.and_then(|p| wald_interval(p, scored));

    // Most trials first; the sort is stable, so equal counts stay newest first.
    let mut by_size: Vec<&AgentRunFigures> = runs.iter().collect();
    by_size.sort_by_key(|r| Reverse(r.trials));

    LeaderboardRow {
        agent_name,
        agent_version,
        agent_effort,
        model,
        accuracy,
        accuracy_ci,
        trials: sum(&runs, |r| r.trials),
        scored_trials: scored,
        failed_trials: sum(&runs, |r| r.failed),
        cost_usd: sum_reported(&runs, |r| r.cost_usd),
        solved_trials: sum(&runs, |r| r.solved),
        input_tokens: sum_reported_int(&runs, |r| r.input_tokens),
        output_tokens: sum_reported_int(&runs, |r| r.output_tokens),
        cached_tokens: sum_reported_int(&runs, |r| r.cached_tokens),
        steps: sum_reported_int(&runs, |r| r.steps),
        agent_seconds: sum_reported(&runs, |r| r.agent_seconds),
        timed_trials: sum(&runs, |r| r.timed_trials),
        run_count: runs.len() as i64,
        run_ids: by_size.iter().map(|r| r.id.clone()).collect(),
        last_run_at,
    }
}

/// A count summed over runs (saturating: a board never panics on absurd figures).
fn sum(runs: &[AgentRunFigures], figure: impl Fn(&AgentRunFigures) -> i64) -> i64 {
    runs.iter()
        .map(figure)
        .fold(0, |total, n| total.saturating_add(n))
}

/// An optional count summed over the runs that reported it; `None` when none did.
fn sum_reported_int(
    runs: &[AgentRunFigures],
    figure: impl Fn(&AgentRunFigures) -> Option<i64>,
) -> Option<i64> {
    runs.iter()
        .filter_map(figure)
        .reduce(|total, n| total.saturating_add(n))
}

/// An optional quantity summed over the runs that reported it; `None` when none did.
fn sum_reported(
    runs: &[AgentRunFigures],
    figure: impl Fn(&AgentRunFigures) -> Option<f64>,
) -> Option<f64> {
    runs.iter().filter_map(figure).reduce(|total, x| total + x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run of `agent`/`model`/`effort` created at `at` (seq = at unless set after).
    fn run(id: &str, agent: &str, model: &str, effort: Option<&str>, at: i64) -> AgentRunFigures {
        AgentRunFigures {
            seq: at,
            id: id.into(),
            agent_name: agent.into(),
            model: model.into(),
            agent_effort: effort.map(Into::into),
            created_at: at,
            ..Default::default()
        }
    }

    /// Sets the trial counts and the metric's summary.
    fn scored(
        mut r: AgentRunFigures,
        trials: i64,
        failed: i64,
        scored: i64,
        sum: f64,
        solved: i64,
    ) -> AgentRunFigures {
        r.trials = trials;
        r.failed = failed;
        r.scored = scored;
        r.score_sum = sum;
        r.solved = solved;
        r
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn a_row_adds_up_its_runs() {
        let mut a = scored(run("r1", "omp", "m", Some("high"), 100), 6, 1, 5, 4.0, 4);
        a.agent_version = Some("1.0".into());
        a.cost_usd = Some(1.5);
        a.input_tokens = Some(1000);
        a.output_tokens = Some(200);
        a.cached_tokens = None;
        a.steps = Some(30);
        a.agent_seconds = Some(12.5);
        a.timed_trials = 5;
        let mut b = scored(run("r2", "omp", "m", Some("high"), 200), 5, 0, 5, 3.0, 3);
        b.agent_version = Some("1.1".into());
        b.cost_usd = Some(0.25);
        b.input_tokens = Some(500);
        b.output_tokens = None;
        b.timed_trials = 0;
        let rows = standings(vec![a, b], 10);
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(row.agent_name, "omp");
        assert_eq!(row.model, "m");
        assert_eq!(row.agent_effort.as_deref(), Some("high"));
        // The newest run (r2, created at 200) names the version and the last run time.
        assert_eq!(row.agent_version.as_deref(), Some("1.1"));
        assert_eq!(row.last_run_at, 200);
        // 7 of 10 scored trials: p = 0.7, margin 1.96·√(0.021) = 0.284030984…
        assert_eq!(
            (row.trials, row.scored_trials, row.failed_trials),
            (11, 10, 1)
        );
        assert_eq!(row.solved_trials, 7);
        assert!(close(row.accuracy.unwrap(), 0.7));
        let ci = row.accuracy_ci.unwrap();
        assert!(close(ci.margin, 0.284_030_984_225_313));
        assert!(close(ci.low, 0.415_969_015_774_687));
        assert!(close(ci.high, 0.984_030_984_225_313));
        assert!(close(row.cost_usd.unwrap(), 1.75));
        assert_eq!(row.input_tokens, Some(1500));
        assert_eq!(row.output_tokens, Some(200));
        assert_eq!(row.cached_tokens, None);
        assert_eq!(row.steps, Some(30));
        assert_eq!(row.agent_seconds, Some(12.5));
        assert_eq!(row.timed_trials, 5);
        assert_eq!(row.run_count, 2);
        // r1 has more trials (6 > 5), so it leads although older.
        assert_eq!(row.run_ids, ["r1", "r2"]);
    }

    #[test]
    fn run_ids_put_the_largest_first_and_ties_newest_first() {
        let runs = vec![
            scored(run("old-big", "a", "m", None, 10), 9, 0, 0, 0.0, 0),
            scored(run("new-small", "a", "m", None, 40), 3, 0, 0, 0.0, 0),
            scored(run("mid-big", "a", "m", None, 20), 9, 0, 0, 0.0, 0),
            // Same creation second as mid-big but inserted later: newer.
            {
                let mut r = scored(run("mid-big-later", "a", "m", None, 20), 9, 0, 0, 0.0, 0);
                r.seq = 21;
                r
            },
        ];
        let rows = standings(runs, 10);
        assert_eq!(
            rows[0].run_ids,
            ["mid-big-later", "mid-big", "old-big", "new-small"]
        );
        assert_eq!(rows[0].last_run_at, 40);
    }

    #[test]
    fn rows_without_scores_have_null_accuracy_and_figures() {
        let rows = standings(
            vec![scored(run("r", "a", "m", None, 1), 3, 3, 0, 0.0, 0)],
            10,
        );
        let row = &rows[0];
        assert_eq!(row.accuracy, None);
        assert_eq!(row.accuracy_ci, None);
        assert_eq!(
            (row.trials, row.failed_trials, row.scored_trials),
            (3, 3, 0)
        );
        assert_eq!(row.cost_usd, None);
        assert_eq!(row.input_tokens, None);
        assert_eq!(row.steps, None);
        assert_eq!(row.agent_seconds, None);
        assert_eq!(row.agent_version, None);
    }

    #[test]
    fn a_zero_score_is_an_accuracy_of_zero() {
        let rows = standings(
            vec![scored(run("r", "a", "m", None, 1), 2, 0, 2, 0.0, 0)],
            10,
        );
        assert_eq!(rows[0].accuracy, Some(0.0));
        assert_eq!(rows[0].accuracy_ci.unwrap().margin, 0.0);
    }

    #[test]
    fn rows_order_by_accuracy_then_key_with_nulls_last() {
        let runs = vec![
            scored(run("1", "zeta", "m", None, 1), 1, 0, 1, 1.0, 1),
            scored(run("2", "alpha", "m", Some("high"), 1), 2, 0, 2, 1.0, 1),
            scored(run("3", "alpha", "m", None, 1), 2, 0, 2, 1.0, 1),
            scored(
                run("4", "alpha", "a-model", Some("low"), 1),
                2,
                0,
                2,
                1.0,
                1,
            ),
            scored(run("5", "alpha", "m", Some("low"), 1), 1, 1, 0, 0.0, 0),
            scored(run("6", "beta", "m", None, 1), 4, 0, 4, 0.0, 0),
        ];
        let order: Vec<(String, String, Option<String>)> = standings(runs, 10)
            .into_iter()
            .map(|r| (r.agent_name, r.model, r.agent_effort))
            .collect();
        let key =
            |a: &str, m: &str, e: Option<&str>| (a.to_string(), m.to_string(), e.map(String::from));
        assert_eq!(
            order,
            [
                key("zeta", "m", None),               // 1.0
                key("alpha", "a-model", Some("low")), // 0.5, model "a-model" < "m"
                key("alpha", "m", None),              // 0.5, no effort first
                key("alpha", "m", Some("high")),      // 0.5
                key("beta", "m", None),               // 0.0
                key("alpha", "m", Some("low")),       // null accuracy: last
            ]
        );
    }

    #[test]
    fn efforts_and_models_are_separate_rows_and_limit_keeps_the_top() {
        let runs = vec![
            scored(run("1", "a", "m1", Some("low"), 1), 1, 0, 1, 0.0, 0),
            scored(run("2", "a", "m1", Some("high"), 1), 1, 0, 1, 1.0, 1),
            scored(run("3", "a", "m2", Some("high"), 1), 1, 0, 1, 0.5, 0),
        ];
        assert_eq!(standings(runs.clone(), 10).len(), 3);
        let top: Vec<String> = standings(runs, 2)
            .into_iter()
            .map(|r| r.run_ids[0].clone())
            .collect();
        assert_eq!(top, ["2", "3"]);
    }

    #[test]
    fn no_runs_no_rows() {
        assert!(standings(Vec::new(), 10).is_empty());
    }
}
