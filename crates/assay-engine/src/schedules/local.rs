//! Firing schedules with the local executor: every server looks for due slots once a second
//! and claims each fire in a database transaction (see `assay_store::Store::fire_schedule`),
//! so two servers on one database never fire a slot twice, and a server that was down fires
//! a missed slot once when it starts.

use std::sync::Arc;
use std::time::Duration;

use assay_store::{FireKind, Fired, ScheduleRecord, Store, StoreError};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{slot_after, Clock, DriverError, Firing, ScheduleDriver};
use crate::admission::AdmissionError;

/// Schedules looked at per query.
const BATCH: i64 = 100;
/// How often the loop looks for due slots.
const EVERY: Duration = Duration::from_secs(1);

/// What one pass fired.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickReport {
    /// Runs created, in order.
    pub started: Vec<String>,
    /// Fires dropped by `skip` (or by `buffer_one` with a fire already waiting).
    pub skipped: usize,
    /// Fires `buffer_one` kept waiting.
    pub buffered: usize,
    /// Fires whose run request was refused (logged).
    pub refused: usize,
}

/// The local executor's schedule driver.
pub struct LocalScheduler {
    firing: Firing,
    clock: Arc<dyn Clock>,
    wake: Notify,
}

impl LocalScheduler {
    pub fn new(firing: Firing, clock: Arc<dyn Clock>) -> Arc<Self> {
        Arc::new(Self {
            firing,
            clock,
            wake: Notify::new(),
        })
    }

    fn store(&self) -> &Store {
        &self.firing.store
    }

    /// Fires every slot due at the clock's time and every waiting `buffer_one` fire whose
    /// schedule has no unfinished run left.
    pub async fn tick(&self) -> Result<TickReport, StoreError> {
        let now = self.clock.now();
        let mut report = TickReport::default();
        for (id, due) in self.store().due_schedules(now, BATCH).await? {
            let schedule = self.store().schedule_record(&id).await?;
            let next = slot_after(&schedule.settings, due, now);
            let key = format!("{id}@{due}");
            self.fire(&schedule, FireKind::Slot { due, next }, &key, &mut report)
                .await?;
        }
        for id in self.store().released_buffers(BATCH).await? {
            let schedule = self.store().schedule_record(&id).await?;
            let key = format!("{id}@buffered@{}", assay_domain::ids::new_id(""));
            self.fire(&schedule, FireKind::Buffered, &key, &mut report)
                .await?;
        }
        Ok(report)
    }

    async fn fire(
        &self,
        schedule: &ScheduleRecord,
        kind: FireKind,
        key: &str,
        report: &mut TickReport,
    ) -> Result<Option<AdmissionError>, StoreError> {
        let admitted = match self.firing.admit(schedule).await {
            Err(AdmissionError::Store(e)) => return Err(e),
            other => other,
        };
        let fired = self
            .store()
            .fire_schedule(&schedule.id, kind, admitted.as_ref().ok(), key)
            .await?;
        match fired {
            Fired::Started(run) => {
                self.firing.engine.run_created(&run.object.id);
                report.started.push(run.object.id);
            }
            Fired::Buffered => report.buffered += 1,
            Fired::Skipped => report.skipped += 1,
            Fired::Refused => {
                if let Err(e) = &admitted {
                    tracing::warn!(schedule_id = %schedule.id, error = %e, "a scheduled run cannot start; the fire is dropped");
                }
                report.refused += 1;
            }
            Fired::NotClaimed => {}
        }
        Ok(admitted.err())
    }

    /// Runs [`Self::tick`] every second (and when a schedule changes) until `stop` fires.
    pub fn spawn(self: &Arc<Self>, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = this.tick().await {
                    tracing::warn!(error = %e, "firing due schedules failed; trying again");
                }
                tokio::select! {
                    _ = tokio::time::sleep(EVERY) => {}
                    _ = this.wake.notified() => {}
                    _ = stop.cancelled() => return,
                }
            }
        })
    }
}

#[async_trait::async_trait]
impl ScheduleDriver for LocalScheduler {
    async fn sync(&self, _schedule: &ScheduleRecord) -> Result<(), DriverError> {
        // The row holds the next slot; look at it now rather than within the second.
        self.wake.notify_one();
        Ok(())
    }

    async fn remove(&self, _schedule_id: &str) -> Result<(), DriverError> {
        Ok(())
    }

    async fn trigger(&self, schedule: &ScheduleRecord) -> Result<(), DriverError> {
        let key = format!("{}@manual@{}", schedule.id, assay_domain::ids::new_id(""));
        let mut report = TickReport::default();
        match self
            .fire(schedule, FireKind::Manual, &key, &mut report)
            .await?
        {
            Some(refusal) => Err(DriverError::Refused(refusal)),
            None => Ok(()),
        }
    }

    async fn next_run_at(&self, schedule: &ScheduleRecord) -> Option<i64> {
        schedule.next_fire_at
    }
}
