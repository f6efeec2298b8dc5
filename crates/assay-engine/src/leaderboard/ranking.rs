//! Ranking groups of the leaderboard-runs feed and the slices a response ceiling cuts from
//! them: pure functions over a suite's completed runs.
//!
//! - A run restricted by `task_ids` ranks in one group per (model, targeted task); a run over
//!   every task (`task_ids: null`) ranks in its models' groups `(model, null)`.
//! - **Newest** means created last: the larger the runs table's monotonic `seq`, the newer.
//!   Each group keeps its `per_group` newest runs; rank 1 is the newest.
//! - Placements are listed in the contractual order: model, then task (`null` first, then
//!   ascending), then rank.
//! - Under a ceiling, whole runs are taken in priority order — best rank over the run's
//!   groups, then the run's first group in the order above (first model, first task), then run
//!   id — so that every group's newest runs come before anyone's older ones.

use std::collections::{BTreeMap, HashMap, HashSet};

use assay_store::RunEntrant;

/// A ranking group. The derived order is the contractual one: model, then task with `None`
/// (the group of runs over every task) first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupKey {
    pub model: String,
    pub task_id: Option<String>,
}

/// One run's place in one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub group: GroupKey,
    /// 1 = the group's newest run.
    pub rank: u32,
    /// Index of the run in the slice given to [`rank`].
    pub run: usize,
}

/// Places each run in its groups (only `model`'s groups when given) and keeps each group's
/// `per_group` newest runs. Returns the placements in contractual order.
pub fn rank(runs: &[RunEntrant], per_group: usize, model: Option<&str>) -> Vec<Placement> {
    let mut newest_first: Vec<usize> = (0..runs.len()).collect();
    newest_first.sort_by_key(|&i| std::cmp::Reverse(runs[i].seq));
    let mut groups: BTreeMap<GroupKey, Vec<usize>> = BTreeMap::new();
    for i in newest_first {
        let run = &runs[i];
        let tasks: Vec<Option<&String>> = match &run.task_ids {
            Some(ids) => ids.iter().map(Some).collect(),
            None => vec![None],
        };
        for m in &run.models {
            if model.is_some_and(|wanted| wanted != m) {
                continue;
            }
            for task in &tasks {
                let key = GroupKey {
                    model: m.clone(),
                    task_id: task.cloned(),
                };
                let members = groups.entry(key).or_default();
                // A model or task named twice by one run still places it once.
                if members.len() < per_group && members.last() != Some(&i) {
                    members.push(i);
                }
            }
        }
    }
    groups
        .into_iter()
        .flat_map(|(group, members)| {
            members
                .into_iter()
                .enumerate()
                .map(move |(k, run)| Placement {
                    group: group.clone(),
                    rank: k as u32 + 1,
                    run,
                })
        })
        .collect()
}

/// The part of a ranking one response carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    /// Indices of the slice's runs, newest first.
    pub runs: Vec<usize>,
    /// The placements of those runs, in contractual order, ranks unchanged.
    pub placements: Vec<Placement>,
    /// Whether runs remain after this slice in priority order.
    pub more: bool,
}

/// The placed runs in priority order: best rank, then first group, then run id.
pub fn priority_order(runs: &[RunEntrant], placements: &[Placement]) -> Vec<usize> {
    // Placements come in contractual order, so a run's first one names its first group.
    let mut keys: HashMap<usize, (u32, &GroupKey)> = HashMap::new();
    for p in placements {
        let key = keys.entry(p.run).or_insert((p.rank, &p.group));
        key.0 = key.0.min(p.rank);
    }
    let mut order: Vec<usize> = keys.keys().copied().collect();
    order.sort_by(|a, b| {
        let (ka, kb) = (keys[a], keys[b]);
        ka.cmp(&kb).then_with(|| runs[*a].id.cmp(&runs[*b].id))
    });
    order
}

/// The whole runs at positions `offset..offset + ceiling` of the [`priority_order`], with
/// their placements. `ceiling` is at least 1.
pub fn slice(
    runs: &[RunEntrant],
    placements: &[Placement],
    offset: usize,
    ceiling: usize,
) -> Slice {
    let order = priority_order(runs, placements);
    let end = offset.saturating_add(ceiling.max(1)).min(order.len());
    let start = offset.min(end);
    let mut kept: Vec<usize> = order[start..end].to_vec();
    kept.sort_by_key(|&i| std::cmp::Reverse(runs[i].seq));
    let members: HashSet<usize> = kept.iter().copied().collect();
    let placements = placements
        .iter()
        .filter(|p| members.contains(&p.run))
        .cloned()
        .collect();
    Slice {
        runs: kept,
        placements,
        more: end < order.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(seq: i64, models: &[&str], tasks: Option<&[&str]>) -> RunEntrant {
        RunEntrant {
            seq,
            id: format!("run{seq:02}"),
            models: models.iter().map(|m| m.to_string()).collect(),
            task_ids: tasks.map(|t| t.iter().map(|x| x.to_string()).collect()),
        }
    }

    /// Placements as (model, task, rank, run id).
    fn show(
        runs: &[RunEntrant],
        placements: &[Placement],
    ) -> Vec<(String, Option<String>, u32, String)> {
        placements
            .iter()
            .map(|p| {
                (
                    p.group.model.clone(),
                    p.group.task_id.clone(),
                    p.rank,
                    runs[p.run].id.clone(),
                )
            })
            .collect()
    }

    fn row(
        model: &str,
        task: Option<&str>,
        rank: u32,
        run: &str,
    ) -> (String, Option<String>, u32, String) {
        (model.into(), task.map(String::from), rank, run.into())
    }

    #[test]
    fn restricted_runs_rank_per_task_and_unrestricted_per_model() {
        // Input order is irrelevant: seq decides.
        let runs = vec![
            run(3, &["m1"], Some(&["b", "a"])),
            run(1, &["m2", "m1"], None),
            run(2, &["m1"], Some(&["a"])),
            run(4, &["m2"], Some(&["b"])),
            run(5, &["m1"], None),
        ];
        let placed = rank(&runs, 5, None);
        assert_eq!(
            show(&runs, &placed),
            vec![
                row("m1", None, 1, "run05"),
                row("m1", None, 2, "run01"),
                row("m1", Some("a"), 1, "run03"),
                row("m1", Some("a"), 2, "run02"),
                row("m1", Some("b"), 1, "run03"),
                row("m2", None, 1, "run01"),
                row("m2", Some("b"), 1, "run04"),
            ]
        );
        let m2 = rank(&runs, 5, Some("m2"));
        assert_eq!(
            show(&runs, &m2),
            vec![
                row("m2", None, 1, "run01"),
                row("m2", Some("b"), 1, "run04")
            ]
        );
        assert!(rank(&runs, 5, Some("m3")).is_empty());
    }

    #[test]
    fn each_group_keeps_its_newest_runs() {
        let runs: Vec<RunEntrant> = (1..=6).map(|s| run(s, &["m"], None)).collect();
        let placed = rank(&runs, 2, None);
        assert_eq!(
            show(&runs, &placed),
            vec![row("m", None, 1, "run06"), row("m", None, 2, "run05")]
        );
        // A run trimmed from one group still ranks in another.
        let runs = vec![
            run(1, &["m"], Some(&["a", "b"])),
            run(2, &["m"], Some(&["a"])),
        ];
        let placed = rank(&runs, 1, None);
        assert_eq!(
            show(&runs, &placed),
            vec![
                row("m", Some("a"), 1, "run02"),
                row("m", Some("b"), 1, "run01")
            ]
        );
    }

    #[test]
    fn a_model_named_twice_places_once() {
        let runs = vec![run(1, &["m", "m"], Some(&["a", "a"]))];
        assert_eq!(
            show(&runs, &rank(&runs, 5, None)),
            vec![row("m", Some("a"), 1, "run01")]
        );
    }

    #[test]
    fn priority_is_best_rank_then_first_group_then_id() {
        let runs = vec![
            run(1, &["b"], None),         // (b,null) rank 2
            run(2, &["a"], Some(&["t"])), // (a,t) rank 1
            run(3, &["b"], None),         // (b,null) rank 1
            run(4, &["a"], None),         // (a,null) rank 1
            run(5, &["c"], Some(&["t"])), // (c,t) rank 1
        ];
        let placed = rank(&runs, 5, None);
        let order: Vec<&str> = priority_order(&runs, &placed)
            .into_iter()
            .map(|i| runs[i].id.as_str())
            .collect();
        // Rank 1 first, by first group: (a,null), (a,t), (b,null), (c,t); then rank 2.
        assert_eq!(order, vec!["run04", "run02", "run03", "run05", "run01"]);
    }

    #[test]
    fn ties_on_rank_and_first_group_fall_back_to_id() {
        // All three are rank 1 somewhere, and all have (a, null) as their first group.
        let mut y = run(1, &["a", "y"], None);
        y.id = "aa".into();
        let mut x = run(2, &["a", "z"], None);
        x.id = "zz".into();
        let runs = vec![y, x, run(3, &["a"], None)];
        let placed = rank(&runs, 5, None);
        let order: Vec<&str> = priority_order(&runs, &placed)
            .into_iter()
            .map(|i| runs[i].id.as_str())
            .collect();
        assert_eq!(order, vec!["aa", "run03", "zz"]);
    }

    /// A suite with many groups: 3 models × 3 tasks plus the null groups.
    fn many() -> Vec<RunEntrant> {
        vec![
            run(1, &["A", "B", "C"], None),
            run(2, &["A"], Some(&["t1", "t2"])),
            run(3, &["B", "C"], Some(&["t3"])),
            run(4, &["A", "B"], None),
            run(5, &["C"], Some(&["t1"])),
            run(6, &["A", "B", "C"], Some(&["t2"])),
            run(7, &["B"], Some(&["t1", "t3"])),
            run(8, &["A", "C"], None),
            run(9, &["A", "B", "C"], Some(&["t1", "t2", "t3"])),
        ]
    }

    #[test]
    fn slices_union_to_the_whole_ranking() {
        let runs = many();
        for per_group in [1, 2, 5] {
            let placed = rank(&runs, per_group, None);
            let whole = slice(&runs, &placed, 0, usize::MAX);
            assert!(!whole.more);
            for ceiling in 1..=4 {
                let mut offset = 0;
                let mut seen_runs = Vec::new();
                let mut seen_placements = Vec::new();
                loop {
                    let s = slice(&runs, &placed, offset, ceiling);
                    assert!(s.runs.len() <= ceiling);
                    // Every placement listed belongs to a run of the slice, and vice versa.
                    for p in &s.placements {
                        assert!(s.runs.contains(&p.run));
                    }
                    for r in &s.runs {
                        assert!(s.placements.iter().any(|p| p.run == *r));
                        assert!(!seen_runs.contains(r), "run {r} on two pages");
                    }
                    seen_runs.extend(s.runs.iter().copied());
                    seen_placements.extend(s.placements.iter().cloned());
                    offset += s.runs.len();
                    if !s.more {
                        break;
                    }
                }
                seen_runs.sort();
                let mut all: Vec<usize> = whole.runs.clone();
                all.sort();
                assert_eq!(seen_runs, all, "per_group {per_group}, ceiling {ceiling}");
                seen_placements.sort_by(|a, b| (&a.group, a.rank).cmp(&(&b.group, b.rank)));
                assert_eq!(
                    seen_placements, placed,
                    "per_group {per_group}, ceiling {ceiling}"
                );
            }
        }
    }

    #[test]
    fn the_first_slice_holds_every_groups_newest_run() {
        let runs = many();
        let placed = rank(&runs, 5, None);
        let first = slice(&runs, &placed, 0, 3);
        assert!(first.more);
        let ids: Vec<&str> = first.runs.iter().map(|&i| runs[i].id.as_str()).collect();
        // Newest first; run09 leads every task group, run08 (A,null) and (C,null), run04 (B,null).
        assert_eq!(ids, vec!["run09", "run08", "run04"]);
        for p in placed.iter().filter(|p| p.rank == 1) {
            assert!(first.runs.contains(&p.run), "{:?}", p.group);
        }
        // Ranks keep their true values and stay in contractual order.
        let b_null: Vec<u32> = first
            .placements
            .iter()
            .filter(|p| p.group.model == "B" && p.group.task_id.is_none())
            .map(|p| p.rank)
            .collect();
        assert_eq!(b_null, vec![1]);
        let mut sorted = first.placements.clone();
        sorted.sort_by(|a, b| (&a.group, a.rank).cmp(&(&b.group, b.rank)));
        assert_eq!(sorted, first.placements);
    }

    #[test]
    fn an_offset_past_the_end_is_an_empty_last_slice() {
        let runs = many();
        let placed = rank(&runs, 5, None);
        let s = slice(&runs, &placed, 100, 3);
        assert!(s.runs.is_empty() && s.placements.is_empty() && !s.more);
    }
}
