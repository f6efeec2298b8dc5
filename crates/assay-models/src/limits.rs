//! Per-endpoint limits shared by every caller of a gateway: a concurrency cap and a
//! requests-per-minute limiter.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// A token bucket refilled at `per_minute / 60` tokens per second, holding at most one
/// second's worth (at least one token). Callers over the rate queue in arrival order, each
/// reserving its slot, so the long-run rate never exceeds `per_minute`.
#[derive(Debug)]
pub struct RateLimiter {
    rate_per_sec: f64,
    capacity: f64,
    state: Mutex<(f64, Instant)>,
}

impl RateLimiter {
    /// A limiter for `per_minute` calls per minute (at least 1).
    pub fn per_minute(per_minute: u32) -> Self {
        let rate_per_sec = f64::from(per_minute.max(1)) / 60.0;
        let capacity = rate_per_sec.max(1.0);
        Self {
            rate_per_sec,
            capacity,
            state: Mutex::new((capacity, Instant::now())),
        }
    }

    /// Reserves one call slot and returns how long to wait before using it.
    pub fn reserve(&self) -> Duration {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let (tokens, last) = *state;
        let refilled = (tokens + now.duration_since(last).as_secs_f64() * self.rate_per_sec)
            .min(self.capacity);
        let left = refilled - 1.0;
        *state = (left, now);
        if left >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-left / self.rate_per_sec)
        }
    }

    /// Waits for a call slot.
    pub async fn acquire(&self) {
        let wait = self.reserve();
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// The limits of one endpoint.
#[derive(Debug, Default)]
pub(crate) struct EndpointLimits {
    concurrency: Option<Arc<Semaphore>>,
    rate: Option<RateLimiter>,
}

impl EndpointLimits {
    pub(crate) fn new(max_concurrency: Option<u32>, requests_per_minute: Option<u32>) -> Self {
        Self {
            concurrency: max_concurrency.map(|n| Arc::new(Semaphore::new(n.max(1) as usize))),
            rate: requests_per_minute.map(RateLimiter::per_minute),
        }
    }

    /// Waits for a concurrency slot (held until the permit drops), then for the rate limiter.
    pub(crate) async fn acquire(&self) -> Option<OwnedSemaphorePermit> {
        let permit = match &self.concurrency {
            Some(s) => s.clone().acquire_owned().await.ok(),
            None => None,
        };
        if let Some(rate) = &self.rate {
            rate.acquire().await;
        }
        permit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn rate_limiter_spaces_calls() {
        let limiter = RateLimiter::per_minute(60);
        let start = Instant::now();
        for _ in 0..4 {
            limiter.acquire().await;
        }
        // One token up front, then one per second.
        assert_eq!(start.elapsed(), Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limiter_bursts_one_seconds_worth() {
        let limiter = RateLimiter::per_minute(600);
        let start = Instant::now();
        for _ in 0..10 {
            limiter.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        limiter.acquire().await;
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(99) && waited <= Duration::from_millis(101),
            "{waited:?}"
        );
        // Idle time refills, but only up to capacity.
        tokio::time::sleep(Duration::from_secs(60)).await;
        let t = Instant::now();
        for _ in 0..10 {
            limiter.acquire().await;
        }
        assert_eq!(t.elapsed(), Duration::ZERO);
        limiter.acquire().await;
        assert!(t.elapsed() >= Duration::from_millis(99));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_reserve_distinct_slots() {
        let limiter = Arc::new(RateLimiter::per_minute(120));
        let start = Instant::now();
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let l = limiter.clone();
                tokio::spawn(async move {
                    l.acquire().await;
                    start.elapsed()
                })
            })
            .collect();
        let mut times = Vec::new();
        for t in tasks {
            times.push(t.await.unwrap());
        }
        times.sort();
        // Capacity 2, then one every 500 ms.
        let ms: Vec<u128> = times.iter().map(|d| d.as_millis()).collect();
        assert_eq!(ms, vec![0, 0, 500, 1000, 1500, 2000]);
    }
}
