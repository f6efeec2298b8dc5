//! Schedules: a suite run again on a cron or interval cadence.
//!
//! [`Schedules`] is the service the API calls (create, read, patch, delete, trigger, list a
//! schedule's runs); it validates a schedule's run block with run admission, as a run creation
//! would be, and keeps the schedule's row. Firing belongs to the executor, behind
//! [`ScheduleDriver`]: the local executor's [`local::LocalScheduler`] fires due slots claimed in
//! database transactions; the Temporal executor keeps a Temporal Schedule per schedule. Either
//! way a fire goes through [`Firing`]: the run request admitted at fire time (the suite's
//! active version when the schedule is unpinned), then an ordinary run recorded against the
//! schedule.
//!
//! Cadence: the first slot of a cron schedule is the cron's next time after now in the
//! schedule's time zone; an interval schedule's slots are `interval_seconds` apart starting one
//! interval after it was created, resumed or given a new cadence. A slot that came due while
//! no server was running fires once when one starts, and the next slot is the first one after
//! that moment: missed slots are not replayed one by one.

pub mod clock;
pub mod local;

use std::sync::Arc;

use assay_cadence::Cadence;
use assay_domain::api::{
    under_run, CreateScheduleRequest, ListScheduleRunsQuery, Metadata, PageRequest, RunObject,
    ScheduleObject, ScheduleRunConfig, ScheduleSettings, UpdateScheduleRequest,
};
use assay_domain::{Principal, ValidationError};
use assay_store::{NewRun, Reach, RunFilter, ScheduleFilter, ScheduleRecord, Store, StoreError};

use crate::admission::{self, AdmissionError};
use crate::Engine;

pub use clock::{Clock, ManualClock, SystemClock};

/// Why a schedule request failed.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// A field of the request; the path names it.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("{0}")]
    NotFound(String),
    /// The executor that fires schedules could not be reached (e.g. Temporal is down).
    #[error("{0}")]
    Unavailable(String),
    /// Stored data that cannot be read back (a server fault).
    #[error("{0}")]
    Corrupt(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ScheduleError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ScheduleError::NotFound("no such schedule".into()),
            other => ScheduleError::Store(other),
        }
    }
}

impl From<AdmissionError> for ScheduleError {
    fn from(e: AdmissionError) -> Self {
        match e {
            AdmissionError::Invalid(v) => ScheduleError::Invalid(under_run(v)),
            AdmissionError::Corrupt(m) => ScheduleError::Corrupt(m),
            AdmissionError::Store(e) => ScheduleError::Store(e),
        }
    }
}

/// Why an executor could not carry out a schedule change.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The fire cannot run now (the run request is refused by admission).
    #[error(transparent)]
    Refused(#[from] AdmissionError),
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<DriverError> for ScheduleError {
    fn from(e: DriverError) -> Self {
        match e {
            DriverError::Refused(a) => a.into(),
            DriverError::Unavailable(m) => ScheduleError::Unavailable(m),
            DriverError::Store(s) => s.into(),
        }
    }
}

/// How an executor fires schedules. The schedule's row is already written when a method is
/// called.
#[async_trait::async_trait]
pub trait ScheduleDriver: Send + Sync {
    /// The schedule was created or its settings changed (cadence, policy, pause, resume).
    async fn sync(&self, schedule: &ScheduleRecord) -> Result<(), DriverError>;
    /// The schedule was deleted.
    async fn remove(&self, schedule_id: &str) -> Result<(), DriverError>;
    /// Fire now, besides the cadence, under the overlap policy.
    async fn trigger(&self, schedule: &ScheduleRecord) -> Result<(), DriverError>;
    /// When the schedule fires next, if known.
    async fn next_run_at(&self, schedule: &ScheduleRecord) -> Option<i64>;
}

/// The first slot of `settings`' cadence after `now` (None when paused or it never fires).
pub fn first_slot(settings: &ScheduleSettings, now: i64) -> Option<i64> {
    if !settings.enabled {
        return None;
    }
    match settings.interval_seconds {
        Some(seconds) => Some(now + seconds),
        None => cadence(settings, now)?.next_after(now),
    }
}

/// The slot after the slot `due` fired at `now` (the first slot after `now`: missed slots
/// are not replayed).
pub fn slot_after(settings: &ScheduleSettings, due: i64, now: i64) -> Option<i64> {
    cadence(settings, due)?.next_after(now.max(due))
}

/// The cadence of `settings`; an interval's slots are aligned on `slot`.
fn cadence(settings: &ScheduleSettings, slot: i64) -> Option<Cadence> {
    match (&settings.cron, settings.interval_seconds) {
        (_, Some(seconds)) if seconds > 0 => Some(Cadence::Interval {
            seconds,
            phase: slot.rem_euclid(seconds),
        }),
        (Some(cron), None) => Some(Cadence::Cron {
            cron: assay_cadence::Cron::parse(cron).ok()?,
            tz: assay_cadence::parse_timezone(&settings.timezone).ok()?,
        }),
        _ => None,
    }
}

/// A fire's run: admitted, then recorded against its schedule.
#[derive(Clone)]
pub struct Firing {
    pub store: Store,
    pub engine: Engine,
}

impl Firing {
    /// The run one fire of `schedule` starts, admitted now (the suite's active version when
    /// the schedule is unpinned).
    pub async fn admit(&self, schedule: &ScheduleRecord) -> Result<NewRun, AdmissionError> {
        let config = ScheduleRunConfig::from_json(&schedule.settings.run, "run")?;
        let mut metadata = Metadata::new();
        metadata.insert("schedule_id".into(), schedule.id.clone());
        let req = config.run_request(
            &schedule.suite_id,
            schedule.settings.suite_version,
            metadata,
        );
        admission::admit(&self.engine, &self.store, &schedule.owner, req).await
    }

    /// The run of a Temporal schedule action named `fire_key` (created once, returned again on
    /// a repeat) — or None when the schedule is gone or its run request is refused now.
    pub async fn fired_run(
        &self,
        schedule_id: &str,
        fire_key: &str,
    ) -> Result<Option<String>, StoreError> {
        let schedule = match self.store.schedule_record(schedule_id).await {
            Ok(s) if !s.deleted => s,
            Ok(_) | Err(StoreError::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        let run = match self.admit(&schedule).await {
            Ok(run) => run,
            Err(AdmissionError::Store(e)) => return Err(e),
            Err(e) => {
                tracing::warn!(schedule_id, error = %e, "a scheduled run cannot start");
                return Ok(None);
            }
        };
        let run = self.store.fired_run(&schedule, &run, fire_key).await?;
        Ok(Some(run.object.id))
    }
}

/// The schedule service behind the API.
#[derive(Clone)]
pub struct Schedules {
    firing: Firing,
    driver: Arc<dyn ScheduleDriver>,
    clock: Arc<dyn Clock>,
    targets: assay_webhooks::TargetPolicy,
}

impl Schedules {
    /// `targets` says which webhook URLs are accepted.
    pub fn new(
        firing: Firing,
        driver: Arc<dyn ScheduleDriver>,
        clock: Arc<dyn Clock>,
        targets: assay_webhooks::TargetPolicy,
    ) -> Self {
        Self {
            firing,
            driver,
            clock,
            targets,
        }
    }

    fn store(&self) -> &Store {
        &self.firing.store
    }

    /// Checks a webhook URL against the network rules and a secret's form.
    fn check_webhook(&self, settings: &ScheduleSettings) -> Result<(), ValidationError> {
        if let Some(url) = &settings.webhook_url {
            self.targets
                .check_url(url)
                .map_err(|e| ValidationError::new("webhook_url", e))?;
        }
        if let Some(secret) = &settings.webhook_secret {
            assay_webhooks::WebhookSecret::parse(secret)
                .map_err(|e| ValidationError::new("webhook_secret", e))?;
        }
        Ok(())
    }

    /// Admits the run block as a run creation would be (nothing is stored); returns the
    /// suite's id.
    async fn check_run(
        &self,
        caller: &Principal,
        suite_id: &str,
        suite_version: Option<i64>,
        config: &ScheduleRunConfig,
    ) -> Result<String, ScheduleError> {
        let req = config.run_request(suite_id, suite_version, Metadata::new());
        let run = admission::admit(&self.firing.engine, self.store(), caller, req).await?;
        Ok(run.suite_id)
    }

    async fn object(&self, record: &ScheduleRecord) -> ScheduleObject {
        let next = if record.settings.enabled {
            self.driver.next_run_at(record).await
        } else {
            None
        };
        record.object(next)
    }

    /// Creates a schedule (E30).
    pub async fn create(
        &self,
        caller: &Principal,
        req: CreateScheduleRequest,
    ) -> Result<ScheduleObject, ScheduleError> {
        let config = req.validate()?;
        let settings = ScheduleSettings {
            name: req.name,
            description: req.description,
            suite_version: req.suite_version,
            cron: req.cron,
            interval_seconds: req.interval_seconds,
            timezone: req.timezone.unwrap_or_else(|| "UTC".into()),
            overlap_policy: req.overlap_policy.unwrap_or_default(),
            enabled: req.enabled.unwrap_or(true),
            webhook_url: req.webhook_url,
            webhook_secret: req.webhook_secret,
            run: req.run,
            metadata: req.metadata.unwrap_or_default(),
        };
        self.check_webhook(&settings)?;
        let suite_id = self
            .check_run(caller, &req.suite_id, settings.suite_version, &config)
            .await?;
        let next = first_slot(&settings, self.clock.now());
        let record = self
            .store()
            .create_schedule(caller, &suite_id, &settings, next)
            .await?;
        if let Err(e) = self.driver.sync(&record).await {
            // Without its executor side the schedule would never fire: take it back.
            let _ = self.store().delete_schedule(caller, &record.id).await;
            return Err(e.into());
        }
        Ok(self.object(&record).await)
    }

    /// A schedule the caller owns (E32).
    pub async fn get(&self, caller: &Principal, id: &str) -> Result<ScheduleObject, ScheduleError> {
        let record = self.find(caller, id).await?;
        Ok(self.object(&record).await)
    }

    async fn find(&self, caller: &Principal, id: &str) -> Result<ScheduleRecord, ScheduleError> {
        self.store()
            .get_schedule(caller, id)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => {
                    ScheduleError::NotFound(format!("no schedule with id {id}"))
                }
                other => other.into(),
            })
    }

    /// A page of the caller's schedules, newest first (E31).
    pub async fn list(
        &self,
        caller: &Principal,
        filter: &ScheduleFilter,
        page: &PageRequest,
    ) -> Result<(Vec<ScheduleObject>, bool), ScheduleError> {
        let (records, has_more) = self.store().list_schedules(caller, filter, page).await?;
        // On Temporal each next time is a describe call: ask for the page's at once.
        let objects = futures::future::join_all(records.iter().map(|r| self.object(r))).await;
        Ok((objects, has_more))
    }

    /// Applies a merge patch (E33). A new cadence, a resume or a schedule that had no next
    /// slot starts counting from now; pausing drops a waiting `buffer_one` fire.
    pub async fn update(
        &self,
        caller: &Principal,
        id: &str,
        patch: UpdateScheduleRequest,
    ) -> Result<ScheduleObject, ScheduleError> {
        let current = self.find(caller, id).await?;
        let (settings, config) = patch.apply(&current.suite_id, current.settings.clone())?;
        self.check_webhook(&settings)?;
        self.check_run(caller, &current.suite_id, settings.suite_version, &config)
            .await?;
        let old = &current.settings;
        let recount = !old.enabled
            || current.next_fire_at.is_none()
            || old.cron != settings.cron
            || old.interval_seconds != settings.interval_seconds
            || old.timezone != settings.timezone;
        let next = if !settings.enabled {
            None
        } else if recount {
            first_slot(&settings, self.clock.now())
        } else {
            current.next_fire_at
        };
        let record = self
            .store()
            .update_schedule(caller, id, &settings, next)
            .await?;
        self.driver.sync(&record).await?;
        Ok(self.object(&record).await)
    }

    /// Soft-deletes a schedule (E34); the runs it created stay.
    pub async fn delete(&self, caller: &Principal, id: &str) -> Result<(), ScheduleError> {
        self.store()
            .delete_schedule(caller, id)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => {
                    ScheduleError::NotFound(format!("no schedule with id {id}"))
                }
                other => other.into(),
            })?;
        if let Err(e) = self.driver.remove(id).await {
            // The row is gone, so a fire that still comes finds no schedule and starts nothing.
            tracing::warn!(schedule_id = id, error = %e, "could not remove the executor's side of a deleted schedule");
        }
        Ok(())
    }

    /// Fires now under the overlap policy and returns the schedule (E35).
    pub async fn trigger(
        &self,
        caller: &Principal,
        id: &str,
    ) -> Result<ScheduleObject, ScheduleError> {
        let record = self.find(caller, id).await?;
        self.driver.trigger(&record).await?;
        let record = self.find(caller, id).await?;
        Ok(self.object(&record).await)
    }

    /// The runs a schedule fired, newest first (E36).
    pub async fn runs(
        &self,
        caller: &Principal,
        id: &str,
        query: &ListScheduleRunsQuery,
        page: &PageRequest,
    ) -> Result<(Vec<RunObject>, bool), ScheduleError> {
        let record = self.find(caller, id).await?;
        if let Some(suite_id) = &query.suite_id {
            if suite_id != &record.suite_id {
                return Err(ValidationError::new(
                    "suite_id",
                    format!(
                        "schedule {id} runs suite {}, not {suite_id}",
                        record.suite_id
                    ),
                )
                .into());
            }
        }
        let filter = RunFilter {
            suite_id: None,
            suite_version: query.suite_version,
            status: query.status,
            schedule_id: Some(record.id),
            ..RunFilter::default()
        };
        Ok(self
            .store()
            .list_runs(caller, Reach::Owned, &filter, page)
            .await?)
    }
}
