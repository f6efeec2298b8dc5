//! Retry timing: exponential backoff with full jitter, or the wait the provider asked for.

use std::time::Duration;

use rand::Rng;

/// Retry timing shared by every call of a gateway. How many retries a call gets comes from its
/// generation config (`max_retries`, default 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Backoff before the first retry is drawn from `[0, base_delay]`, doubling per retry.
    pub base_delay: Duration,
    /// Upper bound of the backoff window.
    pub max_delay: Duration,
    /// Upper bound on a provider's `Retry-After`.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The backoff window before retry number `retry` (0 for the first retry):
    /// `min(max_delay, base_delay · 2^retry)`.
    pub fn window(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.min(31));
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// The wait before retry number `retry`: the provider's `retry_after` when it gave one
    /// (capped at `max_retry_after`), else a uniformly random duration in the backoff window
    /// ("full jitter").
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        match retry_after {
            Some(d) => d.min(self.max_retry_after),
            None => {
                let window = self.window(retry).as_secs_f64();
                if window <= 0.0 {
                    return Duration::ZERO;
                }
                Duration::from_secs_f64(rand::rng().random_range(0.0..=window))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_double_up_to_the_cap() {
        let p = RetryPolicy::default();
        assert_eq!(p.window(0), Duration::from_millis(500));
        assert_eq!(p.window(1), Duration::from_secs(1));
        assert_eq!(p.window(3), Duration::from_secs(4));
        assert_eq!(p.window(10), Duration::from_secs(30));
        assert_eq!(p.window(u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn jitter_stays_in_window_and_retry_after_wins() {
        let p = RetryPolicy::default();
        for retry in 0..8 {
            for _ in 0..50 {
                assert!(p.delay(retry, None) <= p.window(retry));
            }
        }
        assert_eq!(
            p.delay(5, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(600))),
            Duration::from_secs(120)
        );
        let zero = RetryPolicy {
            base_delay: Duration::ZERO,
            ..p
        };
        assert_eq!(zero.delay(3, None), Duration::ZERO);
    }
}
