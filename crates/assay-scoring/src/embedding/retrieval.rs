//! Ranking documents by cosine similarity and the per-query retrieval metrics.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};

use super::correlation::cosine;

/// Ranks `docs` (id, embedding) by [`cosine`] similarity to `query`: highest score first,
/// equal scores by document id in descending byte order — the order in which
/// [`query_metrics`] (like trec_eval) reads a run.
pub fn rank(query: &[f32], docs: &[(&str, &[f32])]) -> Vec<(String, f64)> {
    let mut ranking: Vec<(String, f64)> = docs
        .iter()
        .map(|(id, embedding)| ((*id).to_string(), cosine(query, embedding)))
        .collect();
    ranking.sort_by(ranking_order);
    ranking
}

/// Score descending (NaN last), then document id descending.
fn ranking_order(a: &(String, f64), b: &(String, f64)) -> Ordering {
    let by_score = match (a.1.is_nan(), b.1.is_nan()) {
        (false, false) => b.1.partial_cmp(&a.1).unwrap_or(Ordering::Equal),
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (true, true) => Ordering::Equal,
    };
    by_score.then_with(|| b.0.as_bytes().cmp(a.0.as_bytes()))
}

/// Retrieval metrics of one query at each cutoff k in `k_values`, as pytrec_eval
/// (trec_eval) computes `ndcg_cut`, `map_cut`, `recall` and `P`, plus MRR@k.
///
/// `ranking` holds the retrieved (document id, score) pairs in any order: they are ranked
/// by score descending, equal scores by document id descending (byte order), and a
/// repeated id counts only at its best rank. `relevance` maps judged document ids to
/// graded relevance; a document is relevant when its relevance is > 0, and unjudged
/// documents are not relevant. With R the relevant documents and rel(i) the relevance of
/// the document at rank i (0 when not relevant):
///
/// - `ndcg_at_{k}`: Σ_{i≤k} rel(i)/log₂(i+1) divided by the same sum over the ideal
///   ordering of all judged relevance grades (linear gains), 0 when R is empty;
/// - `map_at_{k}`: Σ over relevant documents at ranks i ≤ k of (relevant in the top i)/i,
///   divided by |R| (0 when R is empty);
/// - `recall_at_{k}`: relevant in the top k / |R| (0 when R is empty);
/// - `precision_at_{k}`: relevant in the top k / k (a ranking shorter than k counts as
///   padded with non-relevant documents; 0 for k = 0);
/// - `mrr_at_{k}`: 1/rank of the first relevant document within the top k, 0 if none.
pub fn query_metrics(
    ranking: &[(String, f64)],
    relevance: &HashMap<String, i64>,
    k_values: &[usize],
) -> BTreeMap<String, f64> {
    let mut ordered: Vec<(String, f64)> = ranking.to_vec();
    ordered.sort_by(ranking_order);
    let mut seen = HashSet::new();
    // The relevance grade at each rank (negative or missing grades count as 0).
    let grades: Vec<i64> = ordered
        .iter()
        .filter(|(id, _)| seen.insert(id.as_str()))
        .map(|(id, _)| relevance.get(id).copied().unwrap_or(0).max(0))
        .collect();
    let mut ideal: Vec<i64> = relevance.values().copied().filter(|&g| g > 0).collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let n_relevant = ideal.len();
    let discount = |i: usize| ((i + 2) as f64).log2();

    let mut out = BTreeMap::new();
    for &k in k_values {
        let top = &grades[..k.min(grades.len())];
        let mut dcg = 0.0;
        let mut hits = 0usize;
        let mut precision_sum = 0.0;
        let mut first_hit = None;
        for (i, &g) in top.iter().enumerate() {
            if g > 0 {
                dcg += g as f64 / discount(i);
                hits += 1;
                precision_sum += hits as f64 / (i + 1) as f64;
                first_hit.get_or_insert(i + 1);
            }
        }
        let idcg: f64 = ideal
            .iter()
            .take(k)
            .enumerate()
            .map(|(i, &g)| g as f64 / discount(i))
            .sum();
        let per_relevant = |v: f64| {
            if n_relevant == 0 {
                0.0
            } else {
                v / n_relevant as f64
            }
        };
        let ndcg = if idcg > 0.0 { dcg / idcg } else { 0.0 };
        out.insert(format!("ndcg_at_{k}"), ndcg);
        out.insert(format!("map_at_{k}"), per_relevant(precision_sum));
        out.insert(format!("recall_at_{k}"), per_relevant(hits as f64));
        let precision = if k == 0 { 0.0 } else { hits as f64 / k as f64 };
        out.insert(format!("precision_at_{k}"), precision);
        out.insert(
            format!("mrr_at_{k}"),
            first_hit.map_or(0.0, |r| 1.0 / r as f64),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    fn qrels(pairs: &[(&str, i64)]) -> HashMap<String, i64> {
        pairs.iter().map(|(d, r)| (d.to_string(), *r)).collect()
    }

    fn run(pairs: &[(&str, f64)]) -> Vec<(String, f64)> {
        pairs.iter().map(|(d, s)| (d.to_string(), *s)).collect()
    }

    #[test]
    fn rank_orders_by_score_then_id_descending() {
        let a = [1.0f32, 0.0];
        let b = [0.0f32, 1.0];
        let docs: Vec<(&str, &[f32])> = vec![("d1", &a), ("d10", &b), ("d9", &a), ("d2", &b)];
        let ranked = rank(&[1.0, 0.0], &docs);
        let ids: Vec<&str> = ranked.iter().map(|(d, _)| d.as_str()).collect();
        assert_eq!(ids, vec!["d9", "d1", "d2", "d10"]);
        assert!(close(ranked[0].1, 1.0) && close(ranked[3].1, 0.0));
        assert!(rank(&[1.0], &[]).is_empty());
    }

    #[test]
    fn metrics_with_ties_and_grades() {
        // Ties at 0.5 are read d3, d2, d1.
        let r = run(&[("d1", 0.5), ("d2", 0.5), ("d3", 0.5), ("d4", 0.1)]);
        let m = query_metrics(&r, &qrels(&[("d1", 2), ("d3", 1)]), &[1, 3, 5]);
        assert!(close(m["precision_at_1"], 1.0));
        assert!(close(m["precision_at_3"], 2.0 / 3.0));
        assert!(close(m["precision_at_5"], 0.4));
        assert!(close(m["recall_at_1"], 0.5));
        assert!(close(m["map_at_3"], (1.0 + 2.0 / 3.0) / 2.0));
        assert!(close(m["ndcg_at_1"], 0.5));
        let dcg3 = 1.0 + 2.0 / 4f64.log2();
        let idcg3 = 2.0 + 1.0 / 3f64.log2();
        assert!(close(m["ndcg_at_3"], dcg3 / idcg3));
        assert!(close(m["mrr_at_1"], 1.0));
        assert_eq!(m.len(), 15);
        // The input order does not matter.
        let mut reversed = r.clone();
        reversed.reverse();
        assert_eq!(
            m,
            query_metrics(&reversed, &qrels(&[("d1", 2), ("d3", 1)]), &[1, 3, 5])
        );
    }

    #[test]
    fn metrics_degenerate_cases() {
        let r = run(&[("a", 0.9), ("b", 0.8)]);
        let none = query_metrics(&r, &qrels(&[("a", 0), ("b", -1)]), &[1, 10]);
        assert!(none.values().all(|&v| v == 0.0));
        let empty = query_metrics(&[], &qrels(&[("a", 1)]), &[0, 1]);
        assert!(empty.values().all(|&v| v == 0.0));
        assert!(query_metrics(&r, &HashMap::new(), &[]).is_empty());
        // Relevant only below the cutoff; duplicate ids count once.
        let dup = run(&[("x", 0.9), ("x", 0.1), ("a", 0.5)]);
        let m = query_metrics(&dup, &qrels(&[("a", 1)]), &[1, 2, 3]);
        assert!(close(m["mrr_at_1"], 0.0));
        assert!(close(m["mrr_at_2"], 0.5));
        assert!(close(m["precision_at_3"], 1.0 / 3.0));
        // NaN scores rank last.
        let nan = run(&[("a", f64::NAN), ("b", 0.0)]);
        let m = query_metrics(&nan, &qrels(&[("a", 1)]), &[1, 2]);
        assert!(close(m["recall_at_1"], 0.0) && close(m["recall_at_2"], 1.0));
    }
}
