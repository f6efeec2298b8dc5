//! A finished run's per-sample scores stored column by column (one row per task × model), so
//! that comparing two runs on the same samples reads two small rows per task instead of every
//! sample of both runs. Written at finalization; a run without them (still running, imported,
//! or finished before they existed) is compared from its samples instead.

use std::collections::BTreeMap;

use assay_domain::api::SampleStatus;
use serde_json::{Map, Value};
use sqlx::Row;

use crate::sample_browse::{read_summary, summary_columns};
use crate::sql::{opt_json_col, to_json};
use crate::{SampleSummary, Store, StoreError};

/// The per-sample scores of one task × model of a run: the sample indexes (ascending once
/// [`ScoreColumns::sorted`]) and, per metric, the values in the same order, NaN where a sample
/// has no value for the metric (it failed, or its grader did not return that metric).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreColumns {
    pub task_id: String,
    pub model: String,
    pub indexes: Vec<i64>,
    pub metrics: BTreeMap<String, Vec<f64>>,
}

impl ScoreColumns {
    /// No samples yet.
    pub fn new(task_id: &str, model: &str) -> Self {
        ScoreColumns {
            task_id: task_id.to_string(),
            model: model.to_string(),
            indexes: Vec::new(),
            metrics: BTreeMap::new(),
        }
    }

    /// Appends sample `index` with its metric values (a metric missing here is NaN for it).
    pub fn push<'a>(&mut self, index: i64, values: impl IntoIterator<Item = (&'a str, f64)>) {
        let before = self.indexes.len();
        self.indexes.push(index);
        for (metric, value) in values {
            let column = self
                .metrics
                .entry(metric.to_string())
                .or_insert_with(|| vec![f64::NAN; before]);
            // A metric given twice for one sample keeps its first value.
            if column.len() == before {
                column.push(value);
            }
        }
        for column in self.metrics.values_mut() {
            if column.len() == before {
                column.push(f64::NAN);
            }
        }
    }

    /// The same columns ordered by sample index.
    pub fn sorted(mut self) -> Self {
        if self.indexes.is_sorted() {
            return self;
        }
        let mut order: Vec<usize> = (0..self.indexes.len()).collect();
        order.sort_by_key(|&i| self.indexes[i]);
        self.indexes = order.iter().map(|&i| self.indexes[i]).collect();
        for column in self.metrics.values_mut() {
            *column = order.iter().map(|&i| column[i]).collect();
        }
        self
    }

    /// The values of `metric`, aligned with [`ScoreColumns::indexes`].
    pub fn values(&self, metric: &str) -> Option<&[f64]> {
        self.metrics.get(metric).map(Vec::as_slice)
    }

    fn encode(&self) -> (String, Vec<u8>, Vec<u8>) {
        let names: Vec<&String> = self.metrics.keys().collect();
        let indexes = self.indexes.iter().flat_map(|i| i.to_le_bytes()).collect();
        let scores = self
            .metrics
            .values()
            .flatten()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        (to_json(&names), indexes, scores)
    }

    fn decode(
        task_id: String,
        model: String,
        names: &str,
        indexes: &[u8],
        scores: &[u8],
    ) -> Result<Self, StoreError> {
        let corrupt = || StoreError::Corrupt(format!("score columns of {task_id} × {model}"));
        let names: Vec<String> = serde_json::from_str(names).map_err(|_| corrupt())?;
        if !indexes.len().is_multiple_of(8) {
            return Err(corrupt());
        }
        let n = indexes.len() / 8;
        if scores.len() != n * 8 * names.len() {
            return Err(corrupt());
        }
        let word = |chunk: &[u8]| {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            b
        };
        let indexes: Vec<i64> = indexes
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(word(c)))
            .collect();
        let metrics = if n == 0 {
            names.into_iter().map(|m| (m, Vec::new())).collect()
        } else {
            names
                .into_iter()
                .zip(scores.chunks_exact(n * 8))
                .map(|(m, bytes)| {
                    let values = bytes
                        .chunks_exact(8)
                        .map(|c| f64::from_le_bytes(word(c)))
                        .collect();
                    (m, values)
                })
                .collect()
        };
        Ok(ScoreColumns {
            task_id,
            model,
            indexes,
            metrics,
        })
    }
}

/// One sample's scores, as a comparison reads a run that has no stored columns.
#[derive(Debug, Clone)]
pub struct SampleScores {
    pub seq: i64,
    pub task_id: String,
    pub sample_index: i64,
    pub status: SampleStatus,
    pub scores: Map<String, Value>,
}

impl Store {
    /// Up to `limit` samples of `model` in a run after position `after_seq`, in order, with
    /// only what their scores need (no prompts or outputs).
    pub async fn sample_scores(
        &self,
        run_id: &str,
        model: &str,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<SampleScores>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, task_id, sample_index, status, scores FROM samples \
             WHERE run_id = $1 AND seq > $2 AND model = $3 ORDER BY seq LIMIT $4",
        )
        .bind(run_id)
        .bind(after_seq)
        .bind(model)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let status: String = r.try_get("status")?;
                Ok(SampleScores {
                    seq: r.try_get("seq")?,
                    task_id: r.try_get("task_id")?,
                    sample_index: r.try_get("sample_index")?,
                    status: SampleStatus::parse(&status)
                        .ok_or_else(|| StoreError::Corrupt(format!("sample status {status:?}")))?,
                    scores: opt_json_col(r, "scores")?.unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Replaces a run's stored score columns with `columns`.
    pub async fn put_score_columns(
        &self,
        run_id: &str,
        columns: &[ScoreColumns],
    ) -> Result<(), StoreError> {
        let now = assay_domain::now_unix();
        self.in_transaction(async |conn| {
            sqlx::query("DELETE FROM run_score_columns WHERE run_id = $1")
                .bind(run_id)
                .execute(&mut *conn)
                .await?;
            for c in columns {
                let (names, indexes, scores) = c.encode();
                sqlx::query(
                    "INSERT INTO run_score_columns (run_id, task_id, model, metrics, sample_indexes, \
                     scores, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(run_id)
                .bind(&c.task_id)
                .bind(&c.model)
                .bind(names)
                .bind(indexes)
                .bind(scores)
                .bind(now)
                .execute(&mut *conn)
                .await?;
            }
            Ok(())
        })
        .await
    }

    /// The stored score columns of `model` in a run, by task; empty when none were stored.
    pub async fn score_columns(
        &self,
        run_id: &str,
        model: &str,
    ) -> Result<Vec<ScoreColumns>, StoreError> {
        let rows = sqlx::query(
            "SELECT task_id, metrics, sample_indexes, scores FROM run_score_columns \
             WHERE run_id = $1 AND model = $2 ORDER BY task_id",
        )
        .bind(run_id)
        .bind(model)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let names: String = r.try_get("metrics")?;
                let indexes: Vec<u8> = r.try_get("sample_indexes")?;
                let scores: Vec<u8> = r.try_get("scores")?;
                ScoreColumns::decode(
                    r.try_get("task_id")?,
                    model.to_string(),
                    &names,
                    &indexes,
                    &scores,
                )
            })
            .collect()
    }

    /// Summaries of the samples of `task_id` × `model` in a run at `indexes` (in index order;
    /// indexes without a sample are skipped).
    pub async fn samples_at(
        &self,
        run_id: &str,
        task_id: &str,
        model: &str,
        indexes: &[i64],
    ) -> Result<Vec<SampleSummary>, StoreError> {
        if indexes.is_empty() {
            return Ok(Vec::new());
        }
        let list = indexes
            .iter()
            .enumerate()
            .map(|(i, _)| format!("${}", i + 4))
            .collect::<Vec<_>>()
            .join(", ");
        let text = format!(
            "SELECT {} FROM samples WHERE samples.run_id = $1 AND samples.task_id = $2 \
             AND samples.model = $3 AND samples.sample_index IN ({list}) ORDER BY samples.sample_index",
            summary_columns()
        );
        let mut query = sqlx::query(&text).bind(run_id).bind(task_id).bind(model);
        for i in indexes {
            query = query.bind(*i);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(read_summary).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_missing_values_and_sort_by_index() {
        let mut c = ScoreColumns::new("t", "m");
        c.push(2, [("acc", 1.0)]);
        c.push(0, []);
        c.push(1, [("acc", 0.0), ("f1", 0.5)]);
        let c = c.sorted();
        assert_eq!(c.indexes, vec![0, 1, 2]);
        let acc = c.values("acc").unwrap_or_default();
        assert!(acc[0].is_nan());
        assert_eq!(&acc[1..], &[0.0, 1.0]);
        let f1 = c.values("f1").unwrap_or_default();
        assert!(f1[0].is_nan() && f1[2].is_nan());
        assert_eq!(f1[1], 0.5);
    }

    #[test]
    fn columns_round_trip_their_encoding() {
        let mut c = ScoreColumns::new("t", "m");
        for i in 0..5 {
            c.push(i, [("acc", i as f64 / 4.0), ("x", -1e300)]);
        }
        c.push(9, []);
        let (names, indexes, scores) = c.encode();
        let back = ScoreColumns::decode("t".into(), "m".into(), &names, &indexes, &scores)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.indexes, c.indexes);
        let bits = |c: &ScoreColumns| -> Vec<u64> {
            c.metrics.values().flatten().map(|v| v.to_bits()).collect()
        };
        assert_eq!(bits(&back), bits(&c));
        assert!(back.values("acc").unwrap_or_default()[5].is_nan());
        let empty = ScoreColumns::new("t", "m");
        let (names, indexes, scores) = empty.encode();
        assert!(ScoreColumns::decode("t".into(), "m".into(), &names, &indexes, &scores).is_ok());
        assert!(ScoreColumns::decode("t".into(), "m".into(), "[\"a\"]", &indexes, &[1]).is_err());
    }
}
