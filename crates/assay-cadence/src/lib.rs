//! When does a schedule fire next.
//!
//! Assay runs evaluations on a schedule; this crate answers the one question a scheduler
//! asks: given a [`Cadence`] and an instant, what is the next instant it fires? Pure code —
//! no IO, no clock, no async: callers pass "now" in as Unix seconds.
//!
//! A cadence is either
//! - a [`Cron`] expression (5 fields, Vixie-style, see [`Cron::parse`]) read on the wall clock
//!   of an IANA time zone ([`parse_timezone`]), or
//! - a fixed interval with a phase, aligned the way Temporal aligns interval specs, so a
//!   schedule computed here and one run by Temporal fire at the same instants.
//!
//! # Daylight saving time
//!
//! Cron expressions name wall-clock minutes; each is mapped to an instant as follows:
//! - a wall time that happens once fires then;
//! - a wall time that happens twice (the repeated hour when clocks fall back) fires only at
//!   its **first** occurrence: a daily job at 01:30 fires once on the fall-back day, and
//!   `*/15 * * * *` pauses during the second pass of the repeated hour;
//! - a wall time that never happens (the skipped hour when clocks spring forward) fires
//!   shifted forward by the length of the gap, i.e. read with the offset in effect before
//!   the change: in `US/Pacific`, 02:30 on 2026-03-08 fires at 03:30 PDT. When several wall
//!   times map to the same instant, the schedule fires there once.
//!
//! ```
//! use assay_cadence::{parse_timezone, Cadence, Cron};
//!
//! let cadence = Cadence::Cron {
//!     cron: Cron::parse("30 2 * * *").unwrap(),
//!     tz: parse_timezone("US/Pacific").unwrap(),
//! };
//! // 2026-03-08T00:00:00Z: that night 02:30 does not exist in US/Pacific.
//! let next = cadence.next_after(1_772_928_000).unwrap();
//! assert_eq!(next, 1_772_965_800); // 2026-03-08T10:30:00Z = 03:30 PDT
//! ```

#![warn(missing_docs)]

mod cron;
mod error;

use std::str::FromStr;

use chrono::{DateTime, LocalResult, NaiveDateTime, Offset, TimeDelta, TimeZone, Timelike};
use chrono_tz::Tz;

pub use crate::cron::Cron;
pub use crate::error::{CadenceError, CronField, FieldProblem};

/// How far ahead [`Cadence::next_after`] looks for a cron fire time before giving up:
/// 5 years (of 366 days) of wall-clock time.
pub const SEARCH_HORIZON_DAYS: i64 = 5 * 366;

/// Parses an IANA timezone name ("UTC", "US/Pacific", "Europe/Berlin", links included).
///
/// Names are matched exactly (case-sensitive, as in the database); surrounding whitespace is
/// an error rather than trimmed, so a stored name round-trips unchanged.
pub fn parse_timezone(name: &str) -> Result<Tz, CadenceError> {
    if name.is_empty() {
        return Err(CadenceError::EmptyTimezone);
    }
    if name.trim() != name {
        return Err(CadenceError::TimezoneWhitespace(name.to_owned()));
    }
    Tz::from_str(name).map_err(|_| CadenceError::UnknownTimezone(name.to_owned()))
}

/// How often a schedule fires.
#[derive(Debug, Clone, PartialEq)]
pub enum Cadence {
    /// At the wall-clock minutes a cron expression selects, in a time zone (see the crate
    /// documentation for daylight saving time).
    Cron {
        /// Which local minutes fire.
        cron: Cron,
        /// Whose wall clock they are read on.
        tz: Tz,
    },
    /// Every `seconds`, at the instants t with t ≡ phase (mod seconds) (Unix seconds). This is
    /// how Temporal aligns interval specs (`every` + `offset`), so both executors agree.
    ///
    /// `seconds` must be positive (there is no next fire time otherwise); `phase` may be any
    /// value, only its remainder modulo `seconds` counts.
    Interval {
        /// The period, in seconds.
        seconds: i64,
        /// The alignment, in Unix seconds modulo `seconds`.
        phase: i64,
    },
}

impl Cadence {
    /// The first fire instant strictly after `after` (Unix seconds), or None if none within ~5 years.
    ///
    /// For a cron cadence "within ~5 years" is [`SEARCH_HORIZON_DAYS`] of wall-clock time
    /// (so `0 0 29 2 *` finds nothing from 2096-03-01, as 2100 is not a leap year). For an
    /// interval the next slot is always found, unless `seconds` is not positive or the slot
    /// lies beyond `i64`.
    pub fn next_after(&self, after: i64) -> Option<i64> {
        match self {
            Cadence::Cron { cron, tz } => next_cron_after(cron, *tz, after),
            Cadence::Interval { seconds, phase } => next_interval_after(*seconds, *phase, after),
        }
    }
}

fn next_interval_after(seconds: i64, phase: i64, after: i64) -> Option<i64> {
    if seconds <= 0 {
        return None;
    }
    let (seconds, phase, after) = (i128::from(seconds), i128::from(phase), i128::from(after));
    let mut wait = (phase - after).rem_euclid(seconds);
    if wait == 0 {
        wait = seconds;
    }
    i64::try_from(after + wait).ok()
}

/// The UTC offset (in seconds) in effect at a UTC instant.
fn offset_at(tz: Tz, utc: &NaiveDateTime) -> i64 {
    i64::from(tz.offset_from_utc_datetime(utc).fix().local_minus_utc())
}

/// Where a wall-clock minute fires: the instant (Unix seconds), and for a wall time that
/// does not exist, the length of the gap it falls in (in seconds; 0 otherwise).
fn fire_instant(tz: Tz, wall: &NaiveDateTime) -> Option<(i64, i64)> {
    match tz.from_local_datetime(wall) {
        LocalResult::Single(t) => Some((t.timestamp(), 0)),
        LocalResult::Ambiguous(a, b) => Some((a.timestamp().min(b.timestamp()), 0)),
        LocalResult::None => {
            // In a gap, reading the wall time with one of the two offsets around the
            // transition lands on the other side of it; two reads yield both offsets.
            let wall_secs = wall.and_utc().timestamp();
            let guess = offset_at(tz, wall);
            let first = offset_at(
                tz,
                &DateTime::from_timestamp(wall_secs - guess, 0)?.naive_utc(),
            );
            let second = offset_at(
                tz,
                &DateTime::from_timestamp(wall_secs - first, 0)?.naive_utc(),
            );
            let (before, after) = (first.min(second), first.max(second));
            Some((wall_secs - before, after - before))
        }
    }
}

fn next_cron_after(cron: &Cron, tz: Tz, after: i64) -> Option<i64> {
    let after_utc = DateTime::from_timestamp(after, 0)?.naive_utc();
    // Start where the wall clock read at `after`, or earlier by the length of a gap that
    // `after` lies just past: a skipped wall time fires shifted forward by the gap, so it
    // may come after `after` though its wall time is before local(after). A day back covers
    // any gap there has been.
    let start_offset = [0, 3600, 3 * 3600, 26 * 3600]
        .iter()
        .filter_map(|back| DateTime::from_timestamp(after.checked_sub(*back)?, 0))
        .map(|t| offset_at(tz, &t.naive_utc()))
        .min()?;
    let start = after_utc.checked_add_signed(TimeDelta::seconds(start_offset))?;
    let start = start.with_second(0)?;
    let local_after =
        after_utc.checked_add_signed(TimeDelta::seconds(offset_at(tz, &after_utc)))?;
    let limit = local_after.checked_add_signed(TimeDelta::days(SEARCH_HORIZON_DAYS))?;

    let mut wall = start;
    // The earliest instant found so far, and the wall time up to which later wall times
    // could still fire earlier than it.
    let mut best: Option<(i64, NaiveDateTime)> = None;
    loop {
        let Some(found) = cron.next_wall(wall, limit) else {
            return best.map(|(instant, _)| instant);
        };
        if let Some((instant, until)) = best {
            if found >= until {
                return Some(instant);
            }
        }
        let (instant, gap) = fire_instant(tz, &found)?;
        if instant > after {
            match best {
                // A wall time that exists fires no later than any later wall time.
                None if gap == 0 => return Some(instant),
                // A skipped one fires late, by `gap`: wall times up to `gap` past it (just
                // after the transition) may fire earlier.
                None => {
                    let until = found.checked_add_signed(TimeDelta::seconds(gap))?;
                    best = Some((instant, until));
                }
                Some((earliest, until)) if instant < earliest => best = Some((instant, until)),
                Some(_) => {}
            }
        }
        wall = found.checked_add_signed(TimeDelta::minutes(1))?;
    }
}
