//! Retry delays: exponential growth, the cap, jitter bounds and determinism, Retry-After.

use std::time::Duration;

use assay_webhooks::Backoff;

const BACKOFF: Backoff = Backoff {
    base: Duration::from_secs(10),
    cap: Duration::from_secs(3600),
};

fn ids() -> Vec<String> {
    (0..200).map(|i| format!("msg_{i:032x}")).collect()
}

/// `delay / nominal` for every id, where nominal is the un-jittered delay.
fn ratios(backoff: &Backoff, attempt: u32, nominal: Duration) -> Vec<f64> {
    ids()
        .iter()
        .map(|id| backoff.delay(id, attempt, None).as_secs_f64() / nominal.as_secs_f64())
        .collect()
}

#[test]
fn delays_double_within_twenty_percent_jitter() {
    for attempt in 1..=8 {
        let nominal = Duration::from_secs(10 * 2u64.pow(attempt - 1));
        let ratios = ratios(&BACKOFF, attempt, nominal);
        for r in &ratios {
            assert!((0.8..=1.2).contains(r), "attempt {attempt}: ratio {r}");
        }
        // The jitter spreads messages over most of the ±20% band, on both sides.
        let min = ratios.iter().cloned().fold(f64::INFINITY, f64::min);
        let max = ratios.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        assert!(min < 0.85 && max > 1.15, "attempt {attempt}: {min}..{max}");
    }
}

#[test]
fn delays_grow_from_attempt_to_attempt_on_average() {
    let mean = |attempt| {
        let ids = ids();
        let total: Duration = ids.iter().map(|id| BACKOFF.delay(id, attempt, None)).sum();
        total.as_secs_f64() / ids.len() as f64
    };
    for attempt in 1..8 {
        let (this, next) = (mean(attempt), mean(attempt + 1));
        assert!(
            (1.8..2.2).contains(&(next / this)),
            "{attempt}: {this} → {next}"
        );
    }
}

#[test]
fn delays_never_pass_the_cap() {
    // 10 s * 2^9 = 5120 s: from attempt 10 on the nominal delay is past the cap, and jitter
    // only moves it down.
    for attempt in [10, 11, 20, 31, 32, 33, 64, 1000, u32::MAX] {
        for id in ids() {
            let delay = BACKOFF.delay(&id, attempt, None);
            assert!(delay <= BACKOFF.cap, "attempt {attempt}: {delay:?}");
            assert!(
                delay >= BACKOFF.cap.mul_f64(0.8),
                "attempt {attempt}: {delay:?}"
            );
        }
    }
    // A cap too large for jitter arithmetic, and a base that overflows when doubled.
    let huge = Backoff {
        base: Duration::MAX / 2,
        cap: Duration::MAX,
    };
    for attempt in 1..=4 {
        assert!(huge.delay("msg_1", attempt, None) <= Duration::MAX);
    }
}

#[test]
fn the_same_message_and_attempt_always_get_the_same_delay() {
    for id in ids().iter().take(20) {
        for attempt in 1..=6 {
            let copy = Backoff { ..BACKOFF };
            assert_eq!(
                BACKOFF.delay(id, attempt, None),
                copy.delay(id, attempt, None)
            );
        }
    }
    // Pinned values: the schedule does not change between builds or machines.
    let schedule: Vec<Duration> = (1..=4)
        .map(|n| BACKOFF.delay("msg_fixed", n, None))
        .collect();
    assert_eq!(schedule, PINNED_SCHEDULE);
    // Different messages get different delays.
    let distinct: std::collections::BTreeSet<Duration> =
        ids().iter().map(|id| BACKOFF.delay(id, 3, None)).collect();
    assert!(distinct.len() > 150, "{} distinct delays", distinct.len());
}

/// Computed independently in Python: `10 * 2**(n-1) * (1 + 0.2 * (2*f - 1))` with `f` the top
/// 53 bits of `sha256(b"msg_fixed\0" + n.to_bytes(4, "big"))` over 2**53.
const PINNED_SCHEDULE: [Duration; 4] = [
    Duration::new(10, 634_542_204),
    Duration::new(17, 570_461_509),
    Duration::new(35, 172_470_596),
    Duration::new(83, 888_678_483),
];

#[test]
fn attempt_zero_counts_as_the_first_retry() {
    assert_eq!(
        BACKOFF.delay("msg_a", 0, None),
        BACKOFF.delay("msg_a", 1, None)
    );
}

#[test]
fn retry_after_is_honoured_when_longer_and_still_capped() {
    let id = "msg_retry_after";
    let own = BACKOFF.delay(id, 1, None);
    assert!(own < Duration::from_secs(13));
    // Shorter than our own delay: ours wins.
    assert_eq!(BACKOFF.delay(id, 1, Some(Duration::from_secs(1))), own);
    assert_eq!(BACKOFF.delay(id, 1, Some(Duration::ZERO)), own);
    // Longer: the receiver's, exactly (no jitter on it).
    assert_eq!(
        BACKOFF.delay(id, 1, Some(Duration::from_secs(120))),
        Duration::from_secs(120)
    );
    // Longer than the cap: the cap.
    assert_eq!(
        BACKOFF.delay(id, 1, Some(Duration::from_secs(86_400))),
        BACKOFF.cap
    );
    assert_eq!(BACKOFF.delay(id, 1, Some(Duration::MAX)), BACKOFF.cap);
}

#[test]
fn a_zero_base_retries_at_once_unless_asked_to_wait() {
    let immediate = Backoff {
        base: Duration::ZERO,
        cap: Duration::from_secs(60),
    };
    assert_eq!(immediate.delay("msg_z", 5, None), Duration::ZERO);
    assert_eq!(
        immediate.delay("msg_z", 5, Some(Duration::from_secs(7))),
        Duration::from_secs(7)
    );
}
