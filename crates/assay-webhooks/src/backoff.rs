//! How long to wait before the next attempt.

use std::time::Duration;

use sha2::{Digest, Sha256};

/// The share of a delay that jitter moves it by, either way.
const JITTER: f64 = 0.2;

/// Delays between delivery attempts: exponential from `base`, doubling, capped at `cap`,
/// with jitter so that messages failing together do not retry together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The delay before the first retry, before jitter.
    pub base: Duration,
    /// No delay is longer than this, jitter and `Retry-After` included.
    pub cap: Duration,
}

impl Backoff {
    /// Delay before attempt `attempt` (1 is the first retry; 0 counts as 1):
    /// `base * 2^(attempt - 1)`, capped at `cap`, then moved by up to ±20% and capped again.
    ///
    /// The jitter is derived from a SHA-256 of the message id and the attempt number, so one
    /// message's schedule is reproducible (across runs, machines and versions) while
    /// different messages spread out. `retry_after` from the receiver is honoured when it is
    /// longer, but still capped.
    pub fn delay(&self, msg_id: &str, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let attempt = attempt.max(1);
        let exponential = 2u32
            .checked_pow(attempt - 1)
            .and_then(|factor| self.base.checked_mul(factor))
            .map_or(self.cap, |delay| delay.min(self.cap));
        let factor = 1.0 + JITTER * (2.0 * unit_fraction(msg_id, attempt) - 1.0);
        let jittered = Duration::try_from_secs_f64(exponential.as_secs_f64() * factor)
            .map_or(self.cap, |delay| delay.min(self.cap));
        match retry_after {
            Some(asked) if asked > jittered => asked.min(self.cap),
            _ => jittered,
        }
    }
}

/// A number in `[0, 1)` fixed by the message id and attempt.
fn unit_fraction(msg_id: &str, attempt: u32) -> f64 {
    let digest = Sha256::new()
        .chain_update(msg_id.as_bytes())
        .chain_update(b"\0")
        .chain_update(attempt.to_be_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    // The top 53 bits: every value exactly representable, and below 1.
    (u64::from_be_bytes(first) >> 11) as f64 / (1u64 << 53) as f64
}
