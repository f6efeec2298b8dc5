//! Delivering the webhook outbox: every status transition of a scheduled run, POSTed to its
//! schedule's `webhook_url` and signed the Standard Webhooks way (`assay-webhooks`).
//!
//! The outbox rows are written by the database in the transaction that changes the run's
//! status (see `assay_store`'s `webhook_outbox`), so delivery never blocks or fails a run.
//! The dispatcher claims due rows with a lease, sends each on its own task, and records the
//! outcome: delivered, tried again after an exponential backoff (timeouts, connection errors,
//! 5xx, 408, 429), or given up (another 4xx, a redirect, a refused target, a removed webhook,
//! or `retry_for` after the transition). Every attempt carries the same `webhook-id`, so a
//! receiver deduplicates; a server that dies mid-delivery leaves the lease to expire and the
//! row to be sent again. At most `per_target` deliveries to one host are in flight, so a slow
//! receiver holds up only its own deliveries.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use assay_store::{Delivery, Store, StoreError};
use assay_webhooks::{Backoff, Message, Outcome, Sender, WebhookSecret};
use serde_json::{json, Map, Value};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::schedules::Clock;

/// How deliveries are made.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Bound of one attempt (connect, send, response status).
    pub timeout: Duration,
    /// The first retry's delay; it doubles per attempt up to `backoff_cap`.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Retries stop this long after the transition; the delivery is then given up.
    pub retry_for: Duration,
    /// Deliveries to one host in flight at once.
    pub per_target: usize,
    /// Deliveries in flight at once in this process.
    pub max_in_flight: usize,
    /// How often the outbox is looked at.
    pub poll: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            backoff_base: Duration::from_secs(5),
            backoff_cap: Duration::from_secs(3600),
            retry_for: Duration::from_secs(24 * 3600),
            per_target: 4,
            max_in_flight: 64,
            poll: Duration::from_secs(1),
        }
    }
}

/// The body of a delivery (documented in the README): a Standard Webhooks style envelope
/// with the transition in `data`.
pub fn payload(d: &Delivery) -> Value {
    let metrics = if d.status == "completed" {
        d.metrics.as_ref().map(headline_metrics)
    } else {
        None
    };
    json!({
        "type": format!("eval.run.{}", d.status),
        "timestamp": rfc3339(d.occurred_at),
        "data": {
            "schedule_id": d.schedule_id,
            "run_id": d.run_id,
            "suite_id": d.suite_id,
            "suite_version": d.suite_version,
            "previous_status": d.previous_status,
            "status": d.status,
            "occurred_at": d.occurred_at,
            "request_counts": {"total": d.total, "completed": d.completed, "failed": d.failed},
            "metrics": metrics,
        }
    })
}

/// `{MODEL: {TASK: {METRIC: mean}}}` from a run's `metrics`.
fn headline_metrics(metrics: &Value) -> Value {
    let mut out = Map::new();
    if let Some(by_model) = metrics.get("by_model").and_then(Value::as_object) {
        for (model, tasks) in by_model {
            let mut per_task = Map::new();
            for (task, entry) in tasks.as_object().into_iter().flatten() {
                let mut means = Map::new();
                for (metric, stats) in entry
                    .get("metrics")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    means.insert(
                        metric.clone(),
                        stats.get("mean").cloned().unwrap_or(Value::Null),
                    );
                }
                per_task.insert(task.clone(), Value::Object(means));
            }
            out.insert(model.clone(), Value::Object(per_task));
        }
    }
    Value::Object(out)
}

fn rfc3339(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// Drains the outbox.
pub struct WebhookDispatcher {
    store: Store,
    sender: Sender,
    backoff: Backoff,
    settings: WebhookSettings,
    clock: Arc<dyn Clock>,
    /// Deliveries in flight per target host.
    in_flight: Mutex<HashMap<String, usize>>,
    /// Told when a delivery ends, so the run's next transition goes out without waiting for
    /// the next poll.
    settled: Notify,
}

/// Where a URL's deliveries are counted for `per_target`.
fn target_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!(
            "{}:{}",
            u.host_str().unwrap_or_default(),
            u.port_or_known_default().unwrap_or(0)
        ),
        Err(_) => url.to_string(),
    }
}

impl WebhookDispatcher {
    pub fn new(
        store: Store,
        sender: Sender,
        settings: WebhookSettings,
        clock: Arc<dyn Clock>,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            sender,
            backoff: Backoff {
                base: settings.backoff_base,
                cap: settings.backoff_cap,
            },
            settings,
            clock,
            in_flight: Mutex::new(HashMap::new()),
            settled: Notify::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Claims the due deliveries there is room for and starts sending each on its own task;
    /// returns those tasks.
    pub async fn pump(self: &Arc<Self>) -> Result<Vec<JoinHandle<()>>, StoreError> {
        let now = self.clock.now();
        let room = self
            .settings
            .max_in_flight
            .saturating_sub(self.lock().values().sum::<usize>());
        if room == 0 {
            return Ok(Vec::new());
        }
        let due = self.store.due_deliveries(now, (room * 4) as i64).await?;
        let mut started = Vec::new();
        for d in due {
            if started.len() >= room {
                break;
            }
            let target = d.webhook_url.as_deref().map(target_of).unwrap_or_default();
            {
                let mut in_flight = self.lock();
                let n = in_flight.entry(target.clone()).or_insert(0);
                if *n >= self.settings.per_target {
                    continue;
                }
                *n += 1;
            }
            let lease = self.settings.timeout.as_secs() as i64 + 5;
            let claimed = match self.store.claim_delivery(&d.id, now, now + lease).await {
                Ok(c) => c,
                Err(e) => {
                    self.release(&target);
                    return Err(e);
                }
            };
            let Some(delivery) = claimed else {
                self.release(&target);
                continue;
            };
            let this = self.clone();
            started.push(tokio::spawn(async move {
                if let Err(e) = this.deliver(&delivery).await {
                    // The lease runs out and the delivery is tried again.
                    tracing::warn!(webhook_id = %delivery.id, error = %e, "recording a webhook delivery failed");
                }
                this.release(&target);
                this.settled.notify_one();
            }));
        }
        Ok(started)
    }

    fn release(&self, target: &str) {
        let mut in_flight = self.lock();
        if let Some(n) = in_flight.get_mut(target) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                in_flight.remove(target);
            }
        }
    }

    /// One attempt of a claimed delivery, and its outcome recorded.
    async fn deliver(&self, d: &Delivery) -> Result<(), StoreError> {
        let Some(url) = d.webhook_url.as_deref() else {
            let now = self.clock.now();
            return self
                .store
                .delivery_failed(&d.id, now, "the schedule's webhook was removed", None)
                .await;
        };
        let secret = match d.webhook_secret.as_deref().map(WebhookSecret::parse) {
            Some(Ok(s)) => Some(s),
            Some(Err(e)) => {
                let now = self.clock.now();
                return self
                    .store
                    .delivery_failed(&d.id, now, &format!("unusable webhook secret: {e}"), None)
                    .await;
            }
            None => None,
        };
        let body = serde_json::to_vec(&payload(d)).unwrap_or_default();
        let outcome = self
            .sender
            .send(&Message {
                url,
                id: &d.id,
                timestamp: self.clock.now(),
                body: &body,
                secret: secret.as_ref(),
            })
            .await;
        let now = self.clock.now();
        match outcome {
            Outcome::Delivered { .. } => self.store.delivery_succeeded(&d.id, now).await,
            Outcome::Rejected { reason } => {
                tracing::warn!(webhook_id = %d.id, %url, %reason, "webhook delivery refused; not retried");
                self.store.delivery_failed(&d.id, now, &reason, None).await
            }
            Outcome::Retry {
                reason,
                retry_after,
            } => {
                let attempt = u32::try_from(d.attempts).unwrap_or(u32::MAX);
                let delay = self.backoff.delay(&d.id, attempt, retry_after);
                let at = now + delay.as_secs().max(1) as i64;
                let deadline = d.created_at + self.settings.retry_for.as_secs() as i64;
                let retry_at = (at <= deadline).then_some(at);
                if retry_at.is_none() {
                    tracing::warn!(webhook_id = %d.id, %url, %reason, "webhook delivery given up after retrying");
                }
                self.store
                    .delivery_failed(&d.id, now, &reason, retry_at)
                    .await
            }
        }
    }

    /// Pumps the outbox every `poll` until `stop` fires.
    pub fn spawn(self: &Arc<Self>, stop: CancellationToken) -> JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = this.pump().await {
                    tracing::warn!(error = %e, "reading the webhook outbox failed; trying again");
                }
                tokio::select! {
                    _ = tokio::time::sleep(this.settings.poll) => {}
                    _ = this.settled.notified() => {}
                    _ = stop.cancelled() => return,
                }
            }
        })
    }
}
