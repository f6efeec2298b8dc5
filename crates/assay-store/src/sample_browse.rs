//! Browsing a run's samples the way the web UI does: filtered by text, score range and error
//! type as well as the API's fields, sorted by index or by a score, paged by keyset so the
//! last page costs what the first does, with short previews instead of whole texts; and the
//! run's failures grouped by error type.

use assay_domain::api::SampleStatus;
use assay_domain::Principal;
use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::sql::{contains_pattern, json_number, json_text, opt_json_col, AnyQuery, Sql};
use crate::{Reach, Store, StoreError};

/// Characters of the prompt, target and output a listed sample carries.
pub const PREVIEW_CHARS: i64 = 240;

/// Which samples to list and in what order.
#[derive(Debug, Clone, Default)]
pub struct SampleQuery {
    pub task_id: Option<String>,
    pub model: Option<String>,
    pub status: Option<SampleStatus>,
    /// Only failed samples whose error has this `type`.
    pub error_type: Option<String>,
    /// `(metric, min, max)`: samples whose numeric score lies within the bounds (inclusive).
    pub score: Option<(String, Option<f64>, Option<f64>)>,
    /// Case-insensitive (ASCII) substring of the prompt or the output.
    pub text: Option<String>,
    pub order: SampleOrder,
}

/// The order of a sample listing.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum SampleOrder {
    /// As planned (task, model, index order of the run).
    #[default]
    Planned,
    /// By the value of one numeric score; samples without it count as lower than any value.
    Score { metric: String, descending: bool },
}

/// One listed sample: its identity, state, scores and previews of its texts.
#[derive(Debug, Clone)]
pub struct SampleSummary {
    pub id: String,
    pub task_id: String,
    pub model: String,
    pub sample_index: i64,
    pub status: SampleStatus,
    pub prompt: String,
    pub target: Option<String>,
    pub output: Option<String>,
    pub extracted_output: Option<String>,
    pub scores: Map<String, Value>,
    pub error_type: Option<String>,
    /// Seconds from the first model call to the end, when both are known.
    pub seconds: Option<i64>,
}

/// A page of [`SampleSummary`] with the cursor of the next one and the number of matches.
#[derive(Debug, Clone)]
pub struct SampleBrowsePage {
    pub samples: Vec<SampleSummary>,
    /// Pass as `after` for the next page.
    pub next: Option<String>,
    /// How many samples match the query in all.
    pub matching: i64,
}

/// How many of a run's failed samples share an error type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureGroup {
    /// The error's `type`, `None` when it has none.
    pub error_type: Option<String>,
    pub count: i64,
    /// One of those errors' `message`, as an example.
    pub example: Option<String>,
}

/// Where a keyset page starts: after `(key, seq)` in the page's order.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Cursor {
    key: f64,
    seq: i64,
}

/// The sort key of a sample without the score it is sorted by.
const MISSING_SCORE: f64 = -1.0e308;

impl Cursor {
    fn encode(self) -> String {
        format!("{}~{}", self.key, self.seq)
    }

    fn decode(text: &str) -> Option<Cursor> {
        let (key, seq) = text.split_once('~')?;
        let key: f64 = key.parse().ok()?;
        let seq: i64 = seq.parse().ok()?;
        (key.is_finite() && seq >= 0).then_some(Cursor { key, seq })
    }
}

/// The columns [`read_summary`] reads: a sample's identity, state, scores and previews of
/// its long texts.
pub(crate) fn summary_columns() -> String {
    format!(
        "samples.seq, samples.id, samples.task_id, samples.model, samples.sample_index, \
         samples.status, substr(samples.prompt, 1, {PREVIEW_CHARS}) AS prompt_preview, \
         substr(samples.target, 1, {PREVIEW_CHARS}) AS target_preview, \
         substr(samples.output_text, 1, {PREVIEW_CHARS}) AS output_preview, \
         substr(samples.extracted_output, 1, {PREVIEW_CHARS}) AS extracted_preview, \
         samples.scores, samples.error, samples.started_at, samples.completed_at"
    )
}

/// The statement's WHERE clause for `query` over run `$1`, binding in order.
struct Filters<'a> {
    query: &'a SampleQuery,
    pattern: Option<String>,
}

impl Store {
    /// A page of at most `limit` samples of a run within the caller's reach, matching
    /// `query`, after cursor `after` (from a previous page's `next`).
    pub async fn browse_samples(
        &self,
        caller: &Principal,
        run_id: &str,
        query: &SampleQuery,
        after: Option<&str>,
        limit: i64,
    ) -> Result<SampleBrowsePage, StoreError> {
        self.find_run(caller, run_id, Reach::Shared).await?;
        let cursor = after
            .map(|a| Cursor::decode(a).ok_or_else(|| StoreError::InvalidCursor(a.to_string())))
            .transpose()?;
        let filters = Filters {
            query,
            pattern: query
                .text
                .as_deref()
                .filter(|t| !t.is_empty())
                .map(contains_pattern),
        };

        let mut sql = Sql::new(&format!("SELECT {}", summary_columns()));
        let sort_key = match &query.order {
            SampleOrder::Planned => None,
            SampleOrder::Score { metric, descending } => {
                // The metric's placeholder is the statement's first, so it is bound first.
                let key = sql.reserve();
                let expr = format!(
                    "COALESCE({}, {MISSING_SCORE:e})",
                    json_number(self.backend(), "samples.scores", &key)
                );
                sql.push(&format!(", {expr} AS sort_key"));
                Some((expr, metric.clone(), *descending))
            }
        };
        sql.push(" FROM samples WHERE samples.run_id = ");
        sql.param();
        filters.push(self, &mut sql);
        if cursor.is_some() {
            match &sort_key {
                None => {
                    sql.push(" AND samples.seq > ");
                    sql.param();
                }
                Some((expr, _, descending)) => {
                    let op = if *descending { "<" } else { ">" };
                    sql.push(&format!(" AND ({expr} {op} "));
                    let k = sql.param();
                    sql.push(&format!(" OR ({expr} = {k} AND samples.seq > "));
                    sql.param();
                    sql.push("))");
                }
            }
        }
        match &sort_key {
            None => sql.push(" ORDER BY samples.seq"),
            Some((_, _, true)) => sql.push(" ORDER BY sort_key DESC, samples.seq"),
            Some((_, _, false)) => sql.push(" ORDER BY sort_key, samples.seq"),
        };
        sql.push(" LIMIT ");
        sql.param();

        let mut q = sqlx::query(&sql.text);
        if let Some((_, metric, _)) = &sort_key {
            q = q.bind(metric.clone());
        }
        q = q.bind(run_id);
        q = filters.bind(q);
        if let Some(c) = cursor {
            q = match sort_key {
                None => q.bind(c.seq),
                Some(_) => q.bind(c.key).bind(c.seq),
            };
        }
        let mut count = Sql::new("SELECT COUNT(*) AS n FROM samples WHERE samples.run_id = ");
        count.param();
        filters.push(self, &mut count);
        // The page and the count read at once, on two connections: a filter no index serves
        // (text search) scans the run once for each, side by side instead of one after the
        // other.
        let (rows, counted) = tokio::try_join!(
            q.bind(limit + 1).fetch_all(&self.pool),
            filters
                .bind(sqlx::query(&count.text).bind(run_id))
                .fetch_one(&self.pool),
        )?;

        let more = rows.len() as i64 > limit;
        let mut samples = Vec::with_capacity(rows.len());
        let mut last = None;
        for row in rows.iter().take(limit.max(0) as usize) {
            samples.push(read_summary(row)?);
            let seq: i64 = row.try_get("seq")?;
            let key = match sort_key {
                None => 0.0,
                Some(_) => row.try_get::<f64, _>("sort_key")?,
            };
            last = Some(Cursor { key, seq });
        }
        let next = if more { last.map(Cursor::encode) } else { None };
        Ok(SampleBrowsePage {
            samples,
            next,
            matching: counted.try_get("n")?,
        })
    }

    /// The failed samples of a run within the caller's reach, counted by error type (most
    /// frequent first).
    pub async fn failure_groups(
        &self,
        caller: &Principal,
        run_id: &str,
    ) -> Result<Vec<FailureGroup>, StoreError> {
        self.find_run(caller, run_id, Reach::Shared).await?;
        let mut sql = Sql::default();
        let error_type = json_text(self.backend(), "samples.error", &sql.reserve());
        let message = json_text(self.backend(), "samples.error", &sql.reserve());
        let run = sql.reserve();
        let text = format!(
            "SELECT {error_type} AS error_type, COUNT(*) AS n, MIN({message}) AS example \
             FROM samples WHERE samples.run_id = {run} AND samples.status = 'failed' \
             GROUP BY {error_type} ORDER BY n DESC, error_type"
        );
        let rows = sqlx::query(&text)
            .bind("type")
            .bind("message")
            .bind(run_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(FailureGroup {
                    error_type: row.try_get("error_type")?,
                    count: row.try_get("n")?,
                    example: row.try_get("example")?,
                })
            })
            .collect()
    }
}

impl Filters<'_> {
    /// Appends the query's conditions (after `samples.run_id = $n`).
    fn push(&self, store: &Store, sql: &mut Sql) {
        let q = self.query;
        if q.task_id.is_some() {
            sql.push(" AND samples.task_id = ");
            sql.param();
        }
        if q.model.is_some() {
            sql.push(" AND samples.model = ");
            sql.param();
        }
        if q.status.is_some() {
            sql.push(" AND samples.status = ");
            sql.param();
        }
        if q.error_type.is_some() {
            let key = sql.reserve();
            let error_type = json_text(store.backend(), "samples.error", &key);
            sql.push(&format!(
                " AND samples.status = 'failed' AND {error_type} = "
            ));
            sql.param();
        }
        if let Some((_, min, max)) = &q.score {
            let key = sql.reserve();
            let value = json_number(store.backend(), "samples.scores", &key);
            sql.push(&format!(" AND {value} IS NOT NULL"));
            if min.is_some() {
                sql.push(&format!(" AND {value} >= "));
                sql.param();
            }
            if max.is_some() {
                sql.push(&format!(" AND {value} <= "));
                sql.param();
            }
        }
        if self.pattern.is_some() {
            // Case-insensitive: SQLite's LIKE already ignores ASCII case (as its lower() would,
            // without copying each text); Postgres has ILIKE.
            let like = match store.backend() {
                crate::Backend::Sqlite => "LIKE",
                crate::Backend::Postgres => "ILIKE",
            };
            sql.push(&format!(" AND (samples.prompt {like} "));
            let p = sql.param();
            sql.push(&format!(
                " ESCAPE '\\' OR samples.output_text {like} {p} ESCAPE '\\')"
            ));
        }
    }

    /// Binds what [`Filters::push`] numbered, in the same order.
    fn bind<'q>(&'q self, mut query: AnyQuery<'q>) -> AnyQuery<'q> {
        let q = self.query;
        if let Some(t) = &q.task_id {
            query = query.bind(t);
        }
        if let Some(m) = &q.model {
            query = query.bind(m);
        }
        if let Some(s) = q.status {
            query = query.bind(s.as_str());
        }
        if let Some(e) = &q.error_type {
            query = query.bind("type").bind(e);
        }
        if let Some((metric, min, max)) = &q.score {
            query = query.bind(metric);
            if let Some(min) = min {
                query = query.bind(*min);
            }
            if let Some(max) = max {
                query = query.bind(*max);
            }
        }
        if let Some(p) = &self.pattern {
            query = query.bind(p);
        }
        query
    }
}

pub(crate) fn read_summary(row: &AnyRow) -> Result<SampleSummary, StoreError> {
    let status: String = row.try_get("status")?;
    let status = SampleStatus::parse(&status)
        .ok_or_else(|| StoreError::Corrupt(format!("sample status {status:?}")))?;
    let error: Option<Value> = opt_json_col(row, "error")?;
    let started: Option<i64> = row.try_get("started_at")?;
    let completed: Option<i64> = row.try_get("completed_at")?;
    Ok(SampleSummary {
        id: row.try_get("id")?,
        task_id: row.try_get("task_id")?,
        model: row.try_get("model")?,
        sample_index: row.try_get("sample_index")?,
        status,
        prompt: row.try_get("prompt_preview")?,
        target: row.try_get("target_preview")?,
        output: row.try_get("output_preview")?,
        extracted_output: row.try_get("extracted_preview")?,
        scores: opt_json_col(row, "scores")?.unwrap_or_default(),
        error_type: error
            .as_ref()
            .and_then(|e| e.get("type"))
            .and_then(|t| t.as_str())
            .map(str::to_string),
        seconds: match (started, completed) {
            (Some(s), Some(c)) if c >= s => Some(c - s),
            _ => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        for c in [
            Cursor { key: 0.0, seq: 7 },
            Cursor {
                key: 0.1 + 0.2,
                seq: 1,
            },
            Cursor {
                key: MISSING_SCORE,
                seq: 99,
            },
            Cursor {
                key: -3.5e-12,
                seq: 0,
            },
        ] {
            assert_eq!(Cursor::decode(&c.encode()), Some(c));
        }
        for bad in ["", "1", "x~1", "1~x", "NaN~1", "inf~2", "1~-1"] {
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
    }
}
