//! Samples: persisted before any model call, advanced through their states in batched
//! transactions (one writer, many samples per commit), and read back in pages.

use std::collections::HashMap;

use assay_domain::api::{PageRequest, SampleObject, SampleStatus};
use assay_domain::{ids, now_unix, Principal};
use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use tokio::sync::{mpsc, oneshot};

use crate::sql::{into_page, opt_json_col, to_json, Sql};
use crate::{StorageResource, Store, StoreError};

/// Samples per INSERT statement while planning (7 parameters each, well within both
/// backends' limits).
const INSERT_ROWS: usize = 128;

/// A sample about to be persisted by planning.
#[derive(Debug, Clone)]
pub struct NewSample {
    pub task_id: String,
    pub model: String,
    pub sample_index: i64,
    pub dataset_row: Map<String, Value>,
    pub prompt: String,
    pub target: Option<String>,
}

/// Token figures of one generation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SampleUsage {
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cached_tokens: Option<i64>,
    pub reasoning_tokens: Option<i64>,
    /// Counted from text rather than reported by the provider.
    pub estimated: bool,
}

/// One state change of a sample.
#[derive(Debug, Clone)]
pub enum SampleUpdate {
    /// A model call is about to start.
    Generating { id: String },
    /// The model answered.
    Generated {
        id: String,
        output_text: String,
        reasoning: Option<String>,
        response_id: Option<String>,
        usage: SampleUsage,
        attempts: i64,
        phase_timings: Value,
    },
    /// Scoring is about to start.
    Scoring { id: String },
    /// Scored.
    Completed {
        id: String,
        extracted_output: Option<String>,
        scores: Map<String, Value>,
        judge: Option<Value>,
    },
    /// Ended without a score (the error says why).
    Failed {
        id: String,
        error: Value,
        attempts: Option<i64>,
    },
}

/// Filters of `GET /runs/{id}/samples`.
#[derive(Debug, Clone, Default)]
pub struct SampleFilter {
    pub task_id: Option<String>,
    pub model: Option<String>,
    pub status: Option<SampleStatus>,
    pub sample_index: Option<i64>,
    /// `(metric, min, max)`: keep samples whose numeric score lies within the bounds.
    pub score: Option<(String, Option<f64>, Option<f64>)>,
    pub include_dataset_row: bool,
    pub include_reasoning: bool,
}

pub(crate) const SAMPLE_COLUMNS: &str = "samples.seq, samples.id, samples.run_id, samples.task_id, samples.model, \
     samples.sample_index, samples.status, samples.dataset_row, samples.prompt, samples.target, \
     samples.response_id, samples.output_text, samples.reasoning, samples.extracted_output, samples.scores, \
     samples.judge, samples.error, samples.cost_usd, samples.input_tokens, samples.output_tokens, \
     samples.cached_tokens, samples.reasoning_tokens, samples.tokens_estimated, samples.phase_timings, \
     samples.created_at, samples.started_at, samples.completed_at";

/// A stored sample with its position in the run.
#[derive(Debug, Clone)]
pub struct StoredSample {
    pub seq: i64,
    pub object: SampleObject,
}

pub(crate) fn read_sample(row: &AnyRow) -> Result<StoredSample, StoreError> {
    let status: String = row.try_get("status")?;
    let status = SampleStatus::parse(&status)
        .ok_or_else(|| StoreError::Corrupt(format!("sample status {status:?}")))?;
    Ok(StoredSample {
        seq: row.try_get("seq")?,
        object: SampleObject {
            id: row.try_get("id")?,
            object: "eval.sample".into(),
            run_id: row.try_get("run_id")?,
            task_id: row.try_get("task_id")?,
            model: row.try_get("model")?,
            sample_index: row.try_get("sample_index")?,
            status,
            dataset_row: opt_json_col(row, "dataset_row")?,
            prompt: row.try_get("prompt")?,
            target: row.try_get("target")?,
            response_id: row.try_get("response_id")?,
            output_text: row.try_get("output_text")?,
            reasoning: row.try_get("reasoning")?,
            extracted_output: row.try_get("extracted_output")?,
            scores: opt_json_col(row, "scores")?.unwrap_or_default(),
            judge: opt_json_col(row, "judge")?,
            error: opt_json_col(row, "error")?,
            cost_usd: row.try_get("cost_usd")?,
            input_tokens: row.try_get("input_tokens")?,
            output_tokens: row.try_get("output_tokens")?,
            cached_tokens: row.try_get("cached_tokens")?,
            reasoning_tokens: row.try_get("reasoning_tokens")?,
            tokens_estimated: row.try_get::<i64, _>("tokens_estimated")? != 0,
            phase_timings: opt_json_col(row, "phase_timings")?,
            created_at: row.try_get("created_at")?,
            started_at: row.try_get("started_at")?,
            completed_at: row.try_get("completed_at")?,
        },
    })
}

impl Store {
    /// Persists planned samples; samples that already exist (same run, task, model and index)
    /// are left as they are, so planning can be repeated after a crash. While the run is being
    /// planned and its size is not yet counted ([`Store::set_expected_total`]), its `total`
    /// grows by the samples inserted, in the same transaction, so `request_counts.total`
    /// follows planning exactly. Returns how many were inserted.
    pub async fn insert_samples(
        &self,
        run_id: &str,
        samples: &[NewSample],
    ) -> Result<u64, StoreError> {
        if samples.is_empty() {
            return Ok(0);
        }
        let now = now_unix();
        self.in_transaction(async |conn| {
            let mut inserted = 0;
            for chunk in samples.chunks(INSERT_ROWS) {
                let mut sql = Sql::new(
                    "INSERT INTO samples (id, run_id, task_id, model, sample_index, status, dataset_row, prompt, \
                     target, scores, created_at, updated_at) VALUES ",
                );
                let run = sql.reserve();
                let at = sql.reserve();
                for (i, _) in chunk.iter().enumerate() {
                    if i > 0 {
                        sql.push(", ");
                    }
                    let [id, task, model, index, row, prompt, target] =
                        std::array::from_fn::<String, 7, _>(|_| sql.reserve());
                    sql.push(&format!(
                        "({id}, {run}, {task}, {model}, {index}, 'queued', {row}, {prompt}, {target}, \
                         '{{}}', {at}, {at})"
                    ));
                }
                sql.push(" ON CONFLICT (run_id, task_id, model, sample_index) DO NOTHING");
                let mut query = sqlx::query(&sql.text).bind(run_id).bind(now);
                for s in chunk {
                    query = query
                        .bind(ids::new_id(ids::SAMPLE))
                        .bind(&s.task_id)
                        .bind(&s.model)
                        .bind(s.sample_index)
                        .bind(to_json(&s.dataset_row))
                        .bind(&s.prompt)
                        .bind(&s.target);
                }
                inserted += query.execute(&mut *conn).await?.rows_affected();
            }
            if inserted > 0 {
                sqlx::query("UPDATE runs SET total = total + $1 WHERE id = $2 AND planned = $3")
                    .bind(inserted as i64)
                    .bind(run_id)
                    .bind(crate::runs::PLANNING)
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(inserted)
        })
        .await
    }

    /// How many rows of each task of a run are planned: one past the highest sample index.
    /// Planning commits whole rows (every model's sample of a row together) in index order,
    /// so every row below this is planned.
    pub async fn planned_rows(&self, run_id: &str) -> Result<HashMap<String, i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT task_id, MAX(sample_index) AS last FROM samples WHERE run_id = $1 GROUP BY task_id",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("task_id")?, r.try_get::<i64, _>("last")? + 1)))
            .collect()
    }

    /// How many samples a run has.
    pub async fn count_samples(&self, run_id: &str) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM samples WHERE run_id = $1")
            .bind(run_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// The next `limit` unfinished samples of a run after position `after_seq`, as the
    /// position of the last of them and how many there are (fewer at the end of the run);
    /// `None` when none are left. What a batch of samples spans, without reading them.
    pub async fn unfinished_span(
        &self,
        run_id: &str,
        after_seq: i64,
        limit: i64,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        let row = sqlx::query(
            "SELECT MAX(seq) AS last, COUNT(*) AS n FROM (SELECT seq FROM samples WHERE run_id = $1 \
             AND seq > $2 AND status NOT IN ('completed', 'failed') ORDER BY seq LIMIT $3) AS span",
        )
        .bind(run_id)
        .bind(after_seq)
        .bind(limit)
        .fetch_one(&self.pool)
        .await?;
        let n: i64 = row.try_get("n")?;
        if n == 0 {
            return Ok(None);
        }
        Ok(Some((row.try_get("last")?, n)))
    }

    /// Up to `limit` samples of a run after position `after_seq`, in order; with `unfinished`
    /// only those not yet completed or failed.
    pub async fn sample_batch(
        &self,
        run_id: &str,
        after_seq: i64,
        limit: i64,
        unfinished: bool,
    ) -> Result<Vec<StoredSample>, StoreError> {
        let filter = if unfinished {
            " AND samples.status NOT IN ('completed', 'failed')"
        } else {
            ""
        };
        let rows = sqlx::query(&format!(
            "SELECT {SAMPLE_COLUMNS} FROM samples WHERE samples.run_id = $1 AND samples.seq > $2{filter} \
             ORDER BY samples.seq LIMIT $3"
        ))
        .bind(run_id)
        .bind(after_seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(read_sample).collect()
    }

    /// The first and last position (`seq`) of a run's samples; `None` when it has none.
    pub async fn sample_positions(&self, run_id: &str) -> Result<Option<(i64, i64)>, StoreError> {
        let row = sqlx::query(
            "SELECT MIN(seq) AS first, MAX(seq) AS last FROM samples WHERE run_id = $1",
        )
        .bind(run_id)
        .fetch_one(&self.pool)
        .await?;
        let first: Option<i64> = row.try_get("first")?;
        let last: Option<i64> = row.try_get("last")?;
        Ok(first.zip(last))
    }

    /// The samples of a run at positions after `after` up to and including `through`, in
    /// order, as JSON lines of their API objects (reasoning included), built by the database
    /// in one row: a run's whole samples artifact is read span by span without decoding each
    /// sample's columns. Empty when the span holds none.
    pub async fn sample_lines_between(
        &self,
        run_id: &str,
        after: i64,
        through: i64,
    ) -> Result<String, StoreError> {
        /// How one backend spells the statement's parts.
        struct Dialect {
            object: &'static str,
            as_text: &'static str,
            json: fn(&str) -> String,
            flag: &'static str,
            lines: &'static str,
            newline: &'static str,
        }
        let d = match self.backend() {
            crate::Backend::Sqlite => Dialect {
                object: "json_object",
                as_text: "",
                json: |c| format!("json({c})"),
                flag: "json(CASE WHEN tokens_estimated != 0 THEN 'true' ELSE 'false' END)",
                lines: "group_concat",
                newline: "char(10)",
            },
            crate::Backend::Postgres => Dialect {
                object: "json_build_object",
                as_text: "::text",
                json: |c| format!("{c}::json"),
                flag: "(tokens_estimated != 0)",
                lines: "string_agg",
                newline: "chr(10)",
            },
        };
        let json = d.json;
        let flag = d.flag;
        let fields = [
            ("id", "id".to_string()),
            ("object", "'eval.sample'".to_string()),
            ("run_id", "run_id".to_string()),
            ("task_id", "task_id".to_string()),
            ("model", "model".to_string()),
            ("sample_index", "sample_index".to_string()),
            ("status", "status".to_string()),
            ("dataset_row", json("dataset_row")),
            ("prompt", "prompt".to_string()),
            ("target", "target".to_string()),
            ("response_id", "response_id".to_string()),
            ("output_text", "output_text".to_string()),
            ("reasoning", "reasoning".to_string()),
            ("extracted_output", "extracted_output".to_string()),
            ("scores", json("scores")),
            ("judge", json("judge")),
            ("error", json("error")),
            ("cost_usd", "cost_usd".to_string()),
            ("input_tokens", "input_tokens".to_string()),
            ("output_tokens", "output_tokens".to_string()),
            ("cached_tokens", "cached_tokens".to_string()),
            ("reasoning_tokens", "reasoning_tokens".to_string()),
            ("tokens_estimated", flag.to_string()),
            ("phase_timings", json("phase_timings")),
            ("created_at", "created_at".to_string()),
            ("started_at", "started_at".to_string()),
            ("completed_at", "completed_at".to_string()),
        ];
        let pairs: Vec<String> = fields
            .iter()
            .map(|(name, value)| format!("'{name}', {value}"))
            .collect();
        let row = sqlx::query(&format!(
            "SELECT {}({}({}){}, {} ORDER BY seq) AS lines FROM samples \
             WHERE run_id = $1 AND seq > $2 AND seq <= $3",
            d.lines,
            d.object,
            pairs.join(", "),
            d.as_text,
            d.newline
        ))
        .bind(run_id)
        .bind(after)
        .bind(through)
        .fetch_one(&self.pool)
        .await?;
        Ok(row
            .try_get::<Option<String>, _>("lines")?
            .unwrap_or_default())
    }

    /// Every sample of one task and model of a run, by sample index.
    pub async fn task_samples(
        &self,
        run_id: &str,
        task_id: &str,
        model: &str,
    ) -> Result<Vec<StoredSample>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {SAMPLE_COLUMNS} FROM samples WHERE samples.run_id = $1 \
             AND samples.task_id = $2 AND samples.model = $3 ORDER BY samples.sample_index"
        ))
        .bind(run_id)
        .bind(task_id)
        .bind(model)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(read_sample).collect()
    }

    /// One sample of a run by id.
    pub async fn sample_by_id(
        &self,
        run_id: &str,
        sample_id: &str,
    ) -> Result<StoredSample, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {SAMPLE_COLUMNS} FROM samples WHERE samples.run_id = $1 AND samples.id = $2"
        ))
        .bind(run_id)
        .bind(sample_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        read_sample(&row)
    }

    /// A page of the samples of a run within the caller's reach (owned or shared), filtered.
    pub async fn list_samples(
        &self,
        caller: &Principal,
        run_id: &str,
        filter: &SampleFilter,
        page: &PageRequest,
    ) -> Result<(Vec<SampleObject>, bool), StoreError> {
        self.find_run(caller, run_id, crate::Reach::Shared).await?;
        let cursor = match &page.after {
            Some(after) => {
                let row = sqlx::query("SELECT seq FROM samples WHERE id = $1 AND run_id = $2")
                    .bind(after)
                    .bind(run_id)
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or_else(|| StoreError::InvalidCursor(after.clone()))?;
                Some(row.try_get::<i64, _>("seq")?)
            }
            None => None,
        };
        // Score bounds are applied in Rust (scores are JSON), so read in chunks until the page fills.
        let mut out = Vec::new();
        let mut after_seq = cursor.unwrap_or(0);
        let want = page.limit + 1;
        loop {
            let mut sql = Sql::new(&format!(
                "SELECT {SAMPLE_COLUMNS} FROM samples WHERE samples.run_id = "
            ));
            sql.param();
            sql.push(" AND samples.seq > ");
            sql.param();
            if filter.task_id.is_some() {
                sql.push(" AND samples.task_id = ");
                sql.param();
            }
            if filter.model.is_some() {
                sql.push(" AND samples.model = ");
                sql.param();
            }
            if filter.status.is_some() {
                sql.push(" AND samples.status = ");
                sql.param();
            }
            if filter.sample_index.is_some() {
                sql.push(" AND samples.sample_index = ");
                sql.param();
            }
            sql.push(" ORDER BY samples.seq LIMIT ");
            sql.param();
            let mut query = sqlx::query(&sql.text).bind(run_id).bind(after_seq);
            if let Some(t) = &filter.task_id {
                query = query.bind(t);
            }
            if let Some(m) = &filter.model {
                query = query.bind(m);
            }
            if let Some(s) = filter.status {
                query = query.bind(s.as_str());
            }
            if let Some(i) = filter.sample_index {
                query = query.bind(i);
            }
            let chunk = 500;
            let rows = query.bind(chunk).fetch_all(&self.pool).await?;
            let fetched = rows.len() as i64;
            for row in &rows {
                let sample = read_sample(row)?;
                after_seq = sample.seq;
                if score_in_bounds(&sample.object, filter) {
                    out.push(row.clone());
                    if out.len() as i64 >= want {
                        break;
                    }
                }
            }
            if out.len() as i64 >= want || fetched < chunk {
                break;
            }
        }
        let (mut samples, more) = into_page(out, page.limit, |r| read_sample(r).map(|s| s.object))?;
        for s in &mut samples {
            if !filter.include_dataset_row {
                s.dataset_row = None;
            } else if let Some(row) = &mut s.dataset_row {
                redact_data_uris(row);
            }
            if !filter.include_reasoning {
                s.reasoning = None;
            }
        }
        Ok((samples, more))
    }

    /// Starts the group-commit writer for sample updates (see [`SampleWriter`]).
    pub fn sample_writer(&self) -> SampleWriter {
        let (tx, rx) = mpsc::channel::<(SampleUpdate, oneshot::Sender<Result<(), String>>)>(4096);
        let store = self.clone();
        tokio::spawn(async move { store.write_loop(rx).await });
        SampleWriter { tx }
    }

    async fn write_loop(
        &self,
        mut rx: mpsc::Receiver<(SampleUpdate, oneshot::Sender<Result<(), String>>)>,
    ) {
        const MAX_BATCH: usize = 512;
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            // A storage outage holds the batch (and, through the bounded channel, the
            // samples behind it) until storage is back; nothing computed is dropped, and a
            // repeated batch cannot double-count (terminal samples are never updated again).
            let result = self
                .retrying(StorageResource::Database, "sample write", || {
                    self.apply_updates(batch.iter().map(|(u, _)| u))
                })
                .await;
            let outcome = result.map_err(|e| e.to_string());
            if let Err(e) = &outcome {
                tracing::error!(error = %e, updates = batch.len(), "sample write failed");
            }
            for (_, ack) in batch {
                let _ = ack.send(outcome.clone());
            }
        }
    }

    /// Applies updates in one transaction and adjusts each run's counters by the samples
    /// that reached a terminal state in it.
    async fn apply_updates<'a>(
        &self,
        updates: impl Iterator<Item = &'a SampleUpdate>,
    ) -> Result<(), StoreError> {
        let now = now_unix();
        self.in_transaction(async |conn| {
            // run id → (completed, failed) deltas.
            let mut deltas: HashMap<String, (i64, i64)> = HashMap::new();
            for update in updates {
                apply_one(conn, update, now, &mut deltas).await?;
            }
            for (run_id, (completed, failed)) in deltas {
                sqlx::query(
                    "UPDATE runs SET completed = completed + $1, failed = failed + $2, updated_at = $3 WHERE id = $4",
                )
                .bind(completed)
                .bind(failed)
                .bind(now)
                .bind(&run_id)
                .execute(&mut *conn)
                .await?;
            }
            Ok(())
        })
        .await
    }
}

async fn apply_one(
    conn: &mut AnyConnection,
    update: &SampleUpdate,
    now: i64,
    deltas: &mut HashMap<String, (i64, i64)>,
) -> Result<(), StoreError> {
    match update {
        SampleUpdate::Generating { id } => {
            sqlx::query(
                "UPDATE samples SET status = 'generating', started_at = COALESCE(started_at, $1), updated_at = $1 \
                 WHERE id = $2 AND status NOT IN ('completed', 'failed')",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *conn)
            .await?;
        }
        SampleUpdate::Generated {
            id,
            output_text,
            reasoning,
            response_id,
            usage,
            attempts,
            phase_timings,
        } => {
            sqlx::query(
                "UPDATE samples SET status = 'ready_to_score', output_text = $1, reasoning = $2, response_id = $3, \
                 input_tokens = $4, output_tokens = $5, cached_tokens = $6, reasoning_tokens = $7, \
                 tokens_estimated = $8, attempts = $9, phase_timings = $10, error = NULL, updated_at = $11 \
                 WHERE id = $12 AND status NOT IN ('completed', 'failed')",
            )
            .bind(output_text)
            .bind(reasoning)
            .bind(response_id)
            .bind(usage.input_tokens)
            .bind(usage.output_tokens)
            .bind(usage.cached_tokens)
            .bind(usage.reasoning_tokens)
            .bind(i64::from(usage.estimated))
            .bind(attempts)
            .bind(to_json(phase_timings))
            .bind(now)
            .bind(id)
            .execute(&mut *conn)
            .await?;
        }
        SampleUpdate::Scoring { id } => {
            sqlx::query(
                "UPDATE samples SET status = 'scoring', updated_at = $1 WHERE id = $2 \
                 AND status NOT IN ('completed', 'failed')",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *conn)
            .await?;
        }
        SampleUpdate::Completed {
            id,
            extracted_output,
            scores,
            judge,
        } => {
            // The run comes back with the change, so counting it costs no second statement.
            let done = sqlx::query(
                "UPDATE samples SET status = 'completed', extracted_output = $1, scores = $2, judge = $3, \
                 error = NULL, completed_at = $4, updated_at = $4 WHERE id = $5 AND status NOT IN ('completed', 'failed') \
                 RETURNING run_id",
            )
            .bind(extracted_output)
            .bind(to_json(scores))
            .bind(judge.as_ref().map(to_json))
            .bind(now)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
            if let Some(row) = done {
                deltas.entry(row.try_get("run_id")?).or_default().0 += 1;
            }
        }
        SampleUpdate::Failed {
            id,
            error,
            attempts,
        } => {
            let done = sqlx::query(
                "UPDATE samples SET status = 'failed', error = $1, attempts = COALESCE($2, attempts), \
                 completed_at = $3, updated_at = $3 WHERE id = $4 AND status NOT IN ('completed', 'failed') \
                 RETURNING run_id",
            )
            .bind(to_json(error))
            .bind(*attempts)
            .bind(now)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
            if let Some(row) = done {
                deltas.entry(row.try_get("run_id")?).or_default().1 += 1;
            }
        }
    }
    Ok(())
}

fn score_in_bounds(sample: &SampleObject, filter: &SampleFilter) -> bool {
    let Some((metric, min, max)) = &filter.score else {
        return true;
    };
    let Some(value) = sample.scores.get(metric).and_then(score_number) else {
        return false;
    };
    min.is_none_or(|m| value >= m) && max.is_none_or(|m| value <= m)
}

/// A score as a number: a finite number, or a boolean as 1 or 0; `None` for anything else
/// (text, objects), which no metric aggregates or filters on.
pub fn score_number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
    .filter(|x| x.is_finite())
}

/// Replaces inline `data:` URIs (audio clips, images) in a row with a short marker.
pub fn redact_data_uris(row: &mut Map<String, Value>) {
    fn walk(v: &mut Value) {
        match v {
            Value::String(s) if s.starts_with("data:") && s.len() > 64 => {
                let kind = s.split([';', ',']).next().unwrap_or("data:").to_string();
                *s = format!("{kind};[redacted {} bytes]", s.len());
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            // A Hugging Face Audio value: its base64 bytes are an inline clip too.
            Value::Object(map) if map.contains_key("path") => {
                if let Some(Value::String(bytes)) = map.get_mut("bytes") {
                    if bytes.len() > 64 {
                        *bytes = format!("[redacted {} bytes]", bytes.len());
                    }
                }
                map.values_mut().for_each(walk);
            }
            Value::Object(map) => map.values_mut().for_each(walk),
            _ => {}
        }
    }
    row.values_mut().for_each(walk);
}

/// Sends sample updates to the store's single writer, which commits many per transaction.
/// `send` returns once the update is durable.
#[derive(Clone)]
pub struct SampleWriter {
    tx: mpsc::Sender<(SampleUpdate, oneshot::Sender<Result<(), String>>)>,
}

impl SampleWriter {
    /// Writes `update` and waits until it is committed.
    pub async fn send(&self, update: SampleUpdate) -> Result<(), StoreError> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send((update, ack))
            .await
            .map_err(|_| StoreError::Write("the writer has stopped".into()))?;
        match done.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Write(e)),
            Err(_) => Err(StoreError::Write("the writer has stopped".into())),
        }
    }

    /// Queues `update` without waiting for its commit, for a transition nothing waits on:
    /// updates are committed in the order they are queued, so the sample's next update
    /// (sent with [`SampleWriter::send`]) is committed after this one and reports a failure.
    pub async fn post(&self, update: SampleUpdate) -> Result<(), StoreError> {
        let (ack, _) = oneshot::channel();
        self.tx
            .send((update, ack))
            .await
            .map_err(|_| StoreError::Write("the writer has stopped".into()))
    }
}
