//! Schedules: their rows, and the fires that create their runs.
//!
//! A fire is claimed and its run inserted in one transaction that starts by updating the
//! schedule's row (a compare-and-set on the slot it fires, or a touch for a manual or
//! buffered fire). That update takes the row's write lock, so of two servers firing the same
//! slot one changes the row and the other finds the slot gone; and the overlap policy reads
//! the schedule's unfinished runs after the lock, so it sees the other's run.

use assay_domain::api::{Metadata, OverlapPolicy, PageRequest, ScheduleObject, ScheduleSettings};
use assay_domain::{ids, now_unix, Principal};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::runs::{insert_run, FiredBy, NewRun, RunRecord};
use crate::sql::{
    bind_visible, cursor_seq, fetch_visible, into_page, json_col, push_visible, to_json, AnyQuery,
    Reach, Sql,
};
use crate::{Store, StoreError};

/// A schedule as stored, with its latest run.
#[derive(Debug, Clone)]
pub struct ScheduleRecord {
    pub id: String,
    /// Who the schedule's runs belong to.
    pub owner: Principal,
    pub suite_id: String,
    pub settings: ScheduleSettings,
    /// The local executor's next slot (Unix seconds); None while paused.
    pub next_fire_at: Option<i64>,
    /// A `buffer_one` fire is waiting for the unfinished run to end.
    pub buffered: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted: bool,
    /// The latest live run the schedule fired: id, creation time, current status.
    pub last_run: Option<(String, i64, String)>,
}

impl ScheduleRecord {
    /// The API object, with `next_run_at` as the executor reports it.
    pub fn object(&self, next_run_at: Option<i64>) -> ScheduleObject {
        let s = &self.settings;
        let (last_run_id, last_run_at, last_run_status) = match &self.last_run {
            Some((id, at, status)) => (Some(id.clone()), Some(*at), Some(status.clone())),
            None => (None, None, None),
        };
        ScheduleObject {
            id: self.id.clone(),
            object: "eval.schedule".into(),
            name: s.name.clone(),
            description: s.description.clone(),
            suite_id: self.suite_id.clone(),
            suite_version: s.suite_version,
            cron: s.cron.clone(),
            interval_seconds: s.interval_seconds,
            timezone: s.timezone.clone(),
            overlap_policy: s.overlap_policy,
            enabled: s.enabled,
            webhook_url: s.webhook_url.clone(),
            webhook_configured: s.webhook_secret.is_some(),
            run: s.run.clone(),
            metadata: s.metadata.clone(),
            last_run_id,
            last_run_at,
            last_run_status,
            next_run_at: if s.enabled { next_run_at } else { None },
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// Filters of `GET /schedules`.
#[derive(Debug, Clone, Default)]
pub struct ScheduleFilter {
    pub suite_id: Option<String>,
    pub enabled: Option<bool>,
}

/// Which fire is being made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FireKind {
    /// The slot `due` of the cadence, claimed by moving the schedule's next slot to `next`.
    Slot { due: i64, next: Option<i64> },
    /// The fire `buffer_one` kept waiting, now that no run of the schedule is unfinished.
    Buffered,
    /// A fire asked for now (trigger), besides the cadence.
    Manual,
}

/// What a fire did.
#[derive(Debug, Clone)]
pub enum Fired {
    /// A run was created (queued).
    Started(Box<RunRecord>),
    /// `buffer_one`: the fire waits for the unfinished run to end.
    Buffered,
    /// `skip` (or `buffer_one` with a fire already waiting): dropped.
    Skipped,
    /// The slot advanced without a run: the run request cannot run now (e.g. its suite was
    /// deleted); the reason is logged by the caller.
    Refused,
    /// Another server claimed the slot first, or the schedule was paused, deleted or has no
    /// waiting fire any more.
    NotClaimed,
}

/// How a fire's transaction ended: with its outcome, or with a run inserted (read back after
/// the commit).
enum FireStep {
    Done(Fired),
    Inserted(String),
}

const UNFINISHED: &str = "('queued', 'in_progress', 'finalizing', 'cancelling')";

const SCHEDULE_COLUMNS: &str = "schedules.id, schedules.org_id, schedules.team_id, schedules.user_id, \
     schedules.name, schedules.description, schedules.suite_id, schedules.suite_version, schedules.cron, \
     schedules.interval_seconds, schedules.timezone, schedules.overlap_policy, schedules.enabled, \
     schedules.webhook_url, schedules.webhook_secret, schedules.run_config, schedules.metadata, \
     schedules.next_fire_at, schedules.buffered, schedules.created_at, schedules.updated_at, \
     schedules.deleted_at, lr.id AS last_run_id, lr.created_at AS last_run_at, lr.status AS last_run_status";

/// The latest live run of each schedule, joined beside it.
const LAST_RUN_JOIN: &str = " LEFT JOIN runs lr ON lr.seq = (SELECT MAX(r.seq) FROM runs r \
     WHERE r.schedule_id = schedules.id AND r.deleted_at IS NULL)";

fn read_schedule(row: &AnyRow) -> Result<ScheduleRecord, StoreError> {
    let policy: String = row.try_get("overlap_policy")?;
    let overlap_policy = OverlapPolicy::parse(&policy)
        .ok_or_else(|| StoreError::Corrupt(format!("overlap policy {policy:?}")))?;
    let run_config: String = row.try_get("run_config")?;
    let run = serde_json::from_str(&run_config)
        .map_err(|e| StoreError::Corrupt(format!("run_config: {e}")))?;
    let last_run_id: Option<String> = row.try_get("last_run_id")?;
    let last_run = match last_run_id {
        Some(id) => Some((
            id,
            row.try_get::<i64, _>("last_run_at")?,
            row.try_get::<String, _>("last_run_status")?,
        )),
        None => None,
    };
    Ok(ScheduleRecord {
        id: row.try_get("id")?,
        owner: Principal {
            key_id: String::new(),
            org_id: row.try_get("org_id")?,
            team_id: row.try_get("team_id")?,
            user_id: row.try_get("user_id")?,
            is_admin: false,
        },
        suite_id: row.try_get("suite_id")?,
        settings: ScheduleSettings {
            name: row.try_get("name")?,
            description: row.try_get("description")?,
            suite_version: row.try_get("suite_version")?,
            cron: row.try_get("cron")?,
            interval_seconds: row.try_get("interval_seconds")?,
            timezone: row.try_get("timezone")?,
            overlap_policy,
            enabled: row.try_get::<i64, _>("enabled")? != 0,
            webhook_url: row.try_get("webhook_url")?,
            webhook_secret: row.try_get("webhook_secret")?,
            run,
            metadata: json_col::<Metadata>(row, "metadata")?,
        },
        next_fire_at: row.try_get("next_fire_at")?,
        buffered: row.try_get::<i64, _>("buffered")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        deleted: row.try_get::<Option<i64>, _>("deleted_at")?.is_some(),
        last_run,
    })
}

impl Store {
    /// Creates a schedule owned by the caller; `next_fire_at` is its first slot (None when
    /// created paused).
    pub async fn create_schedule(
        &self,
        owner: &Principal,
        suite_id: &str,
        settings: &ScheduleSettings,
        next_fire_at: Option<i64>,
    ) -> Result<ScheduleRecord, StoreError> {
        let id = ids::new_id(ids::SCHEDULE);
        let now = now_unix();
        let query = sqlx::query(
            "INSERT INTO schedules (name, description, suite_version, cron, interval_seconds, timezone, \
             overlap_policy, enabled, webhook_url, webhook_secret, run_config, metadata, \
             id, org_id, team_id, user_id, suite_id, next_fire_at, buffered, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, 0, $19, $19)",
        );
        bind_settings(query, settings)
            .bind(&id)
            .bind(&owner.org_id)
            .bind(&owner.team_id)
            .bind(&owner.user_id)
            .bind(suite_id)
            .bind(next_fire_at)
            .bind(now)
            .execute(&self.pool)
            .await?;
        self.schedule_record(&id).await
    }

    /// A live schedule the caller owns (schedules are never shared).
    pub async fn get_schedule(
        &self,
        caller: &Principal,
        id: &str,
    ) -> Result<ScheduleRecord, StoreError> {
        let mut sql = Sql::new(&format!(
            "SELECT {SCHEDULE_COLUMNS} FROM schedules{LAST_RUN_JOIN} WHERE schedules.id = "
        ));
        sql.param();
        sql.push(" AND schedules.deleted_at IS NULL AND ");
        push_visible(&mut sql, "schedules");
        let row = bind_visible(sqlx::query(&sql.text).bind(id), caller)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        read_schedule(&row)
    }

    /// A schedule by id, deleted or not (for firing; no tenancy check).
    pub async fn schedule_record(&self, id: &str) -> Result<ScheduleRecord, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {SCHEDULE_COLUMNS} FROM schedules{LAST_RUN_JOIN} WHERE schedules.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        read_schedule(&row)
    }

    /// A page of the caller's live schedules, newest first.
    pub async fn list_schedules(
        &self,
        caller: &Principal,
        filter: &ScheduleFilter,
        page: &PageRequest,
    ) -> Result<(Vec<ScheduleRecord>, bool), StoreError> {
        let cursor = cursor_seq(
            &self.pool,
            "schedules",
            caller,
            page.after.as_ref(),
            Reach::Owned,
        )
        .await?;
        let mut sql = Sql::new(&format!(
            "SELECT {SCHEDULE_COLUMNS} FROM schedules{LAST_RUN_JOIN} WHERE schedules.deleted_at IS NULL AND "
        ));
        push_visible(&mut sql, "schedules");
        if filter.suite_id.is_some() {
            sql.push(" AND schedules.suite_id = ");
            sql.param();
        }
        if filter.enabled.is_some() {
            sql.push(" AND schedules.enabled = ");
            sql.param();
        }
        if cursor.is_some() {
            sql.push(" AND schedules.seq < ");
            sql.param();
        }
        sql.push(" ORDER BY schedules.seq DESC LIMIT ");
        sql.param();
        let mut query = bind_visible(sqlx::query(&sql.text), caller);
        if let Some(s) = &filter.suite_id {
            query = query.bind(s);
        }
        if let Some(e) = filter.enabled {
            query = query.bind(i64::from(e));
        }
        if let Some(seq) = cursor {
            query = query.bind(seq);
        }
        let rows = query.bind(page.limit + 1).fetch_all(&self.pool).await?;
        into_page(rows, page.limit, read_schedule)
    }

    /// Replaces a live schedule's settings (the caller's own). `next_fire_at` is the slot the
    /// new settings give; a waiting `buffer_one` fire is dropped when the schedule is paused.
    pub async fn update_schedule(
        &self,
        caller: &Principal,
        id: &str,
        settings: &ScheduleSettings,
        next_fire_at: Option<i64>,
    ) -> Result<ScheduleRecord, StoreError> {
        fetch_visible(&self.pool, "schedules", "schedules.id", caller, id).await?;
        let query = sqlx::query(
            "UPDATE schedules SET name = $1, description = $2, suite_version = $3, cron = $4, \
             interval_seconds = $5, timezone = $6, overlap_policy = $7, enabled = $8, webhook_url = $9, \
             webhook_secret = $10, run_config = $11, metadata = $12, next_fire_at = $13, \
             buffered = CASE WHEN $8 = 1 THEN buffered ELSE 0 END, updated_at = $14 \
             WHERE id = $15 AND deleted_at IS NULL",
        );
        let done = bind_settings(query, settings)
            .bind(next_fire_at)
            .bind(now_unix())
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.schedule_record(id).await
    }

    /// Soft-deletes a schedule the caller owns; its runs are kept.
    pub async fn delete_schedule(&self, caller: &Principal, id: &str) -> Result<(), StoreError> {
        fetch_visible(&self.pool, "schedules", "schedules.id", caller, id).await?;
        let now = now_unix();
        let done = sqlx::query(
            "UPDATE schedules SET deleted_at = $1, updated_at = $1, next_fire_at = NULL, buffered = 0 \
             WHERE id = $2 AND deleted_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Enabled live schedules whose slot is due at `now`: (id, slot), oldest slot first.
    pub async fn due_schedules(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, next_fire_at FROM schedules WHERE next_fire_at IS NOT NULL AND next_fire_at <= $1 \
             AND enabled = 1 AND deleted_at IS NULL ORDER BY next_fire_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("next_fire_at")?)))
            .collect()
    }

    /// Enabled live schedules with a waiting `buffer_one` fire and no unfinished run.
    pub async fn released_buffers(&self, limit: i64) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT id FROM schedules WHERE buffered = 1 AND enabled = 1 AND deleted_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.schedule_id = schedules.id \
             AND runs.status IN {UNFINISHED} AND runs.deleted_at IS NULL) ORDER BY seq LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
    }

    /// Makes one fire of a schedule (see the module docs): claims it, applies the overlap
    /// policy and inserts the run, all in one transaction. `run` is the admitted run request,
    /// or None when it could not be admitted (the fire is then claimed and dropped).
    /// `fire_key` names the fire (one run per key).
    pub async fn fire_schedule(
        &self,
        schedule_id: &str,
        kind: FireKind,
        run: Option<&NewRun>,
        fire_key: &str,
    ) -> Result<Fired, StoreError> {
        let outcome = self
            .in_transaction(async |conn| {
                let claimed = match kind {
                    FireKind::Slot { due, next } => sqlx::query(
                        "UPDATE schedules SET next_fire_at = $1 WHERE id = $2 AND next_fire_at = $3 \
                         AND enabled = 1 AND deleted_at IS NULL",
                    )
                    .bind(next)
                    .bind(schedule_id)
                    .bind(due),
                    FireKind::Buffered => sqlx::query(
                        "UPDATE schedules SET buffered = 0 WHERE id = $1 AND buffered = 1 \
                         AND enabled = 1 AND deleted_at IS NULL",
                    )
                    .bind(schedule_id),
                    FireKind::Manual => sqlx::query(
                        "UPDATE schedules SET buffered = buffered WHERE id = $1 AND deleted_at IS NULL",
                    )
                    .bind(schedule_id),
                }
                .execute(&mut *conn)
                .await?
                .rows_affected()
                    == 1;
                if !claimed {
                    return Ok(FireStep::Done(Fired::NotClaimed));
                }
                let row = sqlx::query(&format!(
                    "SELECT schedules.overlap_policy, schedules.org_id, schedules.team_id, schedules.user_id, \
                     EXISTS (SELECT 1 FROM runs WHERE runs.schedule_id = schedules.id \
                     AND runs.status IN {UNFINISHED} AND runs.deleted_at IS NULL) AS busy \
                     FROM schedules WHERE schedules.id = $1"
                ))
                .bind(schedule_id)
                .fetch_one(&mut *conn)
                .await?;
                let policy: String = row.try_get("overlap_policy")?;
                let policy = OverlapPolicy::parse(&policy)
                    .ok_or_else(|| StoreError::Corrupt(format!("overlap policy {policy:?}")))?;
                let busy = read_flag(&row, "busy")?;
                let Some(run) = run else {
                    return Ok(FireStep::Done(Fired::Refused));
                };
                if busy {
                    match policy {
                        OverlapPolicy::AllowAll => {}
                        OverlapPolicy::Skip => return Ok(FireStep::Done(Fired::Skipped)),
                        OverlapPolicy::BufferOne if kind == FireKind::Buffered => {
                            // Released too early: keep waiting (the claim is rolled back).
                            return Err(StoreError::Conflict("still busy".into()));
                        }
                        OverlapPolicy::BufferOne => {
                            let kept = sqlx::query(
                                "UPDATE schedules SET buffered = 1 WHERE id = $1 AND buffered = 0",
                            )
                            .bind(schedule_id)
                            .execute(&mut *conn)
                            .await?
                            .rows_affected();
                            return Ok(FireStep::Done(if kept == 1 {
                                Fired::Buffered
                            } else {
                                Fired::Skipped
                            }));
                        }
                    }
                }
                let owner = Principal {
                    key_id: String::new(),
                    org_id: row.try_get("org_id")?,
                    team_id: row.try_get("team_id")?,
                    user_id: row.try_get("user_id")?,
                    is_admin: false,
                };
                let id = insert_run(
                    &mut *conn,
                    &owner,
                    run,
                    Some(FiredBy {
                        schedule_id,
                        fire_key,
                    }),
                )
                .await?;
                Ok(FireStep::Inserted(id))
            })
            .await;
        match outcome {
            Ok(FireStep::Done(fired)) => Ok(fired),
            Ok(FireStep::Inserted(id)) => Ok(Fired::Started(Box::new(self.run_record(&id).await?))),
            Err(StoreError::Conflict(_)) if kind == FireKind::Buffered => Ok(Fired::NotClaimed),
            Err(e) => Err(e),
        }
    }

    /// The run of one Temporal schedule action, created on its first call and returned again
    /// on a repeat with the same `fire_key` (an activity retried). The overlap policy is
    /// Temporal's; `run` is the admitted request.
    pub async fn fired_run(
        &self,
        schedule: &ScheduleRecord,
        run: &NewRun,
        fire_key: &str,
    ) -> Result<RunRecord, StoreError> {
        if let Some(existing) = self.run_by_fire_key(fire_key).await? {
            return Ok(existing);
        }
        let inserted = insert_run(
            &self.pool,
            &schedule.owner,
            run,
            Some(FiredBy {
                schedule_id: &schedule.id,
                fire_key,
            }),
        )
        .await;
        match inserted {
            Ok(id) => self.run_record(&id).await,
            // A concurrent call with the same key won the unique index.
            Err(e) => match self.run_by_fire_key(fire_key).await? {
                Some(existing) => Ok(existing),
                None => Err(e),
            },
        }
    }

    async fn run_by_fire_key(&self, fire_key: &str) -> Result<Option<RunRecord>, StoreError> {
        let row = sqlx::query("SELECT id FROM runs WHERE fire_key = $1")
            .bind(fire_key)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => Ok(Some(
                self.run_record(&row.try_get::<String, _>("id")?).await?,
            )),
            None => Ok(None),
        }
    }

    /// Live schedules (for an executor bringing its own view of them in line).
    pub async fn live_schedules(
        &self,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<(i64, ScheduleRecord)>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT schedules.seq AS schedule_seq, {SCHEDULE_COLUMNS} FROM schedules{LAST_RUN_JOIN} \
             WHERE schedules.deleted_at IS NULL AND schedules.seq > $1 ORDER BY schedules.seq LIMIT $2"
        ))
        .bind(after_seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("schedule_seq")?, read_schedule(r)?)))
            .collect()
    }
}

/// Binds a schedule's settings as `$1` … `$12`, in the column order of the statements above.
fn bind_settings<'q>(query: AnyQuery<'q>, s: &'q ScheduleSettings) -> AnyQuery<'q> {
    query
        .bind(&s.name)
        .bind(&s.description)
        .bind(s.suite_version)
        .bind(&s.cron)
        .bind(s.interval_seconds)
        .bind(&s.timezone)
        .bind(s.overlap_policy.as_str())
        .bind(i64::from(s.enabled))
        .bind(&s.webhook_url)
        .bind(&s.webhook_secret)
        .bind(to_json(&s.run))
        .bind(to_json(&s.metadata))
}

/// Reads a boolean expression's column: SQLite gives an integer, Postgres a boolean.
fn read_flag(row: &AnyRow, column: &str) -> Result<bool, StoreError> {
    if let Ok(b) = row.try_get::<bool, _>(column) {
        return Ok(b);
    }
    Ok(row.try_get::<i64, _>(column)? != 0)
}
