//! `Cadence::next_after` against a slow oracle that applies the DST rules literally, over
//! windows around real transitions (one-hour, half-hour and whole-day gaps and overlaps).
//!
//! The oracle walks every UTC minute of a window and notes the first instant each wall-clock
//! minute is shown (the earlier occurrence of a repeated time). A wall minute never shown in
//! the window fell in a gap: it fires at itself read with the offset in effect just before
//! the first instant whose wall clock passed it.

use std::collections::BTreeMap;

use assay_cadence::{parse_timezone, Cadence, Cron};
use chrono::{DateTime, NaiveDateTime, Offset, TimeDelta, TimeZone};
use chrono_tz::Tz;

fn ts(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().timestamp()
}

fn local(tz: Tz, t: i64) -> NaiveDateTime {
    DateTime::from_timestamp(t, 0)
        .unwrap()
        .with_timezone(&tz)
        .naive_local()
}

fn offset(tz: Tz, t: i64) -> i64 {
    let utc = DateTime::from_timestamp(t, 0).unwrap().naive_utc();
    i64::from(tz.offset_from_utc_datetime(&utc).fix().local_minus_utc())
}

/// All fire instants of `cron` whose wall time lies in the window, sorted.
fn oracle_fires(cron: &Cron, tz: Tz, from: i64, to: i64) -> Vec<i64> {
    let mut first_shown: BTreeMap<NaiveDateTime, i64> = BTreeMap::new();
    let mut t = from;
    while t <= to {
        first_shown.entry(local(tz, t)).or_insert(t);
        t += 60;
    }
    let (lo, hi) = (local(tz, from), local(tz, to));
    let mut fires = Vec::new();
    let mut wall = lo;
    while wall <= hi {
        if cron.matches(&wall) {
            if let Some(&t) = first_shown.get(&wall) {
                fires.push(t);
            } else {
                // In a gap: find where the clock jumped over it.
                let (&after_gap, &t) = first_shown.range(wall..).next().unwrap();
                assert!(after_gap > wall);
                let before = offset(tz, t - 60);
                fires.push(wall.and_utc().timestamp() - before);
            }
        }
        wall += TimeDelta::minutes(1);
    }
    fires.sort_unstable();
    fires.dedup();
    fires
}

fn check(expr: &str, zone: &str, center: &str) {
    let cron = Cron::parse(expr).unwrap();
    let tz = parse_timezone(zone).unwrap();
    let cadence = Cadence::Cron {
        cron: cron.clone(),
        tz,
    };
    let center = ts(center);
    let (from, to) = (center - 2 * 86_400, center + 2 * 86_400);
    let fires = oracle_fires(&cron, tz, from, to);
    // Ask from inside the middle two days, every 7 minutes and on each fire instant.
    let mut asks: Vec<i64> = (center - 86_400..center + 86_400).step_by(420).collect();
    asks.extend(
        fires
            .iter()
            .copied()
            .filter(|t| (center - 86_400..center + 86_400).contains(t)),
    );
    let mut checked = 0;
    for after in asks {
        let Some(&expected) = fires.iter().find(|&&t| t > after) else {
            continue;
        };
        if expected > to - 86_400 {
            continue; // the oracle's window may have cut off an earlier fire
        }
        assert_eq!(
            cadence.next_after(after),
            Some(expected),
            "{expr} in {zone} after {}",
            DateTime::from_timestamp(after, 0).unwrap()
        );
        checked += 1;
    }
    assert!(checked > 0, "{expr} in {zone}: nothing checked");
}

const EXPRESSIONS: &[&str] = &[
    "* * * * *",
    "*/15 * * * *",
    "0 * * * *",
    "30 * * * *",
    "20,40 * * * *",
    "30 1 * * *",
    "30 2 * * *",
    "0,30 2,3 * * *",
    "45 1-3 * * *",
    "0 9 * * *",
    "59 23 * * *",
    "0 0 * * *",
    "10 * * * SUN",
];

#[test]
fn pacific_2026() {
    for expr in EXPRESSIONS {
        check(expr, "US/Pacific", "2026-03-08T10:00:00Z");
        check(expr, "US/Pacific", "2026-11-01T09:00:00Z");
    }
}

#[test]
fn berlin_2026() {
    for expr in EXPRESSIONS {
        check(expr, "Europe/Berlin", "2026-03-29T01:00:00Z");
        check(expr, "Europe/Berlin", "2026-10-25T01:00:00Z");
    }
}

#[test]
fn lord_howe_half_hour_shifts() {
    // +10:30 <-> +11 at 02:00 local: spring 2026-10-04, fall 2026-04-05.
    for expr in EXPRESSIONS {
        check(expr, "Australia/Lord_Howe", "2026-10-03T15:30:00Z");
        check(expr, "Australia/Lord_Howe", "2026-04-04T15:00:00Z");
    }
}

#[test]
fn samoa_skips_a_whole_day() {
    // Pacific/Apia jumped from -10 to +14 at the end of 2011-12-29 local: no 2011-12-30.
    // 2011-12-30 was a Friday; its wall times fire a day late, on Saturday the 31st.
    for expr in EXPRESSIONS.iter().filter(|e| !e.ends_with("SUN")).chain(&[
        "10 * * * FRI",
        "0 12 30 12 *",
        "0 12 29,31 12 *",
    ]) {
        check(expr, "Pacific/Apia", "2011-12-30T10:00:00Z");
    }
}
