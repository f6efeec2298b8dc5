//! The public API: parsing, matching, next fire times in UTC and across DST transitions,
//! intervals and time zone names. Expected instants are RFC 3339 UTC strings worked out by
//! hand from the zones' 2026 rules:
//! - US/Pacific springs forward on 2026-03-08 at 10:00Z (02:00 PST -> 03:00 PDT) and falls
//!   back on 2026-11-01 at 09:00Z (02:00 PDT -> 01:00 PST);
//! - Europe/Berlin springs forward on 2026-03-29 at 01:00Z (02:00 CET -> 03:00 CEST) and
//!   falls back on 2026-10-25 at 01:00Z (03:00 CEST -> 02:00 CET).

use std::time::{Duration, Instant};

use assay_cadence::{parse_timezone, Cadence, CadenceError, Cron, CronField, FieldProblem};
use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat};

fn ts(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().timestamp()
}

fn rfc(t: i64) -> String {
    DateTime::from_timestamp(t, 0)
        .unwrap()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn cron(expr: &str, tz: &str) -> Cadence {
    Cadence::Cron {
        cron: Cron::parse(expr).unwrap(),
        tz: parse_timezone(tz).unwrap(),
    }
}

/// The next `n` fire instants after `after`, each found from the previous one.
fn fires(cadence: &Cadence, after: &str, n: usize) -> Vec<String> {
    let mut t = ts(after);
    let mut out = Vec::new();
    for _ in 0..n {
        t = cadence.next_after(t).unwrap();
        out.push(rfc(t));
    }
    out
}

fn next(cadence: &Cadence, after: &str) -> Option<String> {
    cadence.next_after(ts(after)).map(rfc)
}

fn err(expr: &str) -> String {
    Cron::parse(expr).unwrap_err().to_string()
}

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, mo, d)
        .unwrap()
        .and_hms_opt(h, mi, 0)
        .unwrap()
}

// ---------------------------------------------------------------- parsing

#[test]
fn parses_every_syntax_form() {
    for expr in [
        "* * * * *",
        "5 * * * *",
        "1-5 * * * *",
        "*/15 * * * *",
        "10-50/20 * * * *",
        "7/10 * * * *",
        "1,2-4,*/30,50/5 * * * *",
        "0 0 ? * MON",
        "0 0 1 * ?",
        "0 0 1 jan-Mar,DEC *",
        "0 0 * * mon-fri",
        "0 0 * * SUN,sat",
        "0 0 * * 0-7/2",
        "0 0 * * FRI-SUN",
        "  0\t0 \n *   * *  ",
    ] {
        assert!(Cron::parse(expr).is_ok(), "{expr}");
    }
}

#[test]
fn equivalent_spellings_are_equal() {
    let p = |s: &str| Cron::parse(s).unwrap();
    assert_eq!(p("0 0 * * 7"), p("0 0 * * 0"));
    assert_eq!(p("0 0 * * SUN"), p("0 0 * * sun"));
    assert_eq!(p("@weekly"), p("0 0 * * 0"));
    assert_eq!(p("@daily"), p("0 0 * * *"));
    assert_eq!(p("@MIDNIGHT"), p("0 0 * * *"));
    assert_eq!(p("@hourly"), p("0 * * * *"));
    assert_eq!(p("@monthly"), p("0 0 1 * *"));
    assert_eq!(p("@yearly"), p("0 0 1 1 *"));
    assert_eq!(p("@Annually"), p("0 0 1 1 *"));
    assert_eq!(p("  @daily  "), p("@daily"));
    assert_eq!(p("0 0 ? * *"), p("0 0 * * *"));
    assert_eq!(p("*/20 * * * *"), p("0,20,40 * * * *"));
    assert_eq!(p("0/20 * * * *"), p("0-59/20 * * * *"));
    assert_eq!(p("45/5 * * * *"), p("45,50,55 * * * *"));
    assert_eq!(p("0 0 * JAN-MAR *"), p("0 0 * 1-3 *"));
    assert_eq!(p("0 0 * * MON-FRI"), p("0 0 * * 1-5"));
    assert_eq!(p("0 0 * * FRI-SUN"), p("0 0 * * 5,6,0"));
    assert_eq!("0 0 * * *".parse::<Cron>().unwrap(), p("@daily"));
    // A day field that is not a bare `*` stays restricted, even when it selects every day.
    assert_ne!(p("0 0 */1 * *"), p("0 0 * * *"));
}

#[test]
fn error_messages_name_the_field() {
    let cases = [
        ("61 * * * *", "minute field: 61 is out of range 0-59"),
        ("* 24 * * *", "hour field: 24 is out of range 0-23"),
        ("* * 0 * *", "day-of-month field: 0 is out of range 1-31"),
        ("* * 32 * *", "day-of-month field: 32 is out of range 1-31"),
        ("* * * 13 *", "month field: 13 is out of range 1-12"),
        ("* * * 0 *", "month field: 0 is out of range 1-12"),
        ("* * * * 8", "day-of-week field: 8 is out of range 0-7"),
        (
            "99999999999 * * * *",
            "minute field: 99999999999 is out of range 0-59",
        ),
        ("* * * * FRY", "day-of-week field: unknown name FRY"),
        ("* * * * MONDAY", "day-of-week field: unknown name MONDAY"),
        ("* * * JANUARY *", "month field: unknown name JANUARY"),
        ("* * * * mon-fry", "day-of-week field: unknown name fry"),
        ("* * * * 1x", "day-of-week field: unknown name 1x"),
        ("MON * * * *", "minute field: MON is not a number"),
        ("* * JAN * *", "day-of-month field: JAN is not a number"),
        ("x * * * *", "minute field: x is not a number"),
        ("-1 * * * *", "minute field: malformed item -1"),
        ("1- * * * *", "minute field: malformed item 1-"),
        ("1-2-3 * * * *", "minute field: malformed item 1-2-3"),
        ("*/ * * * *", "minute field: malformed item */"),
        ("*/x * * * *", "minute field: malformed item */x"),
        ("1/2/3 * * * *", "minute field: malformed item 1/2/3"),
        ("*/0 * * * *", "minute field: step 0 is not allowed"),
        ("1-5/0 * * * *", "minute field: step 0 is not allowed"),
        (
            "*/90 * * * *",
            "minute field: step 90 is larger than the field's range 0-59 allows",
        ),
        (
            "* * * * */7",
            "day-of-week field: step 7 is larger than the field's range 0-6 allows",
        ),
        ("5-1 * * * *", "minute field: range 5-1 is reversed"),
        ("* * * DEC-JAN *", "month field: range DEC-JAN is reversed"),
        ("* * * * 1-0", "day-of-week field: range 1-0 is reversed"),
        ("1,,2 * * * *", "minute field: empty list item"),
        ("1, * * * *", "minute field: empty list item"),
        (",1 * * * *", "minute field: empty list item"),
        (
            "? * * * *",
            "minute field: ? is only allowed in the day-of-month and day-of-week fields",
        ),
        (
            "* * * ? *",
            "month field: ? is only allowed in the day-of-month and day-of-week fields",
        ),
        ("", "expected 5 fields, found 0"),
        ("   ", "expected 5 fields, found 0"),
        ("* * * *", "expected 5 fields, found 4"),
        ("* * * * * *", "expected 5 fields, found 6"),
        ("@reboot", "unknown macro @reboot"),
        ("@", "unknown macro @"),
        ("@daily 5", "macro @daily takes no other fields"),
        (
            "0 0 30 2 *",
            "expression can never fire: none of the selected months has any of the selected days of the month",
        ),
        (
            "0 0 31 4 *",
            "expression can never fire: none of the selected months has any of the selected days of the month",
        ),
        (
            "0 0 31 2,4,6,9,11 ?",
            "expression can never fire: none of the selected months has any of the selected days of the month",
        ),
    ];
    for (expr, message) in cases {
        assert_eq!(err(expr), message, "{expr:?}");
        assert!(!message.ends_with('.'));
    }
}

#[test]
fn errors_are_structured() {
    assert_eq!(
        Cron::parse("61 * * * *").unwrap_err(),
        CadenceError::Field {
            field: CronField::Minute,
            problem: FieldProblem::OutOfRange {
                value: "61".into(),
                min: 0,
                max: 59
            },
        }
    );
    assert_eq!(
        Cron::parse("* * * * * *").unwrap_err(),
        CadenceError::FieldCount { found: 6 }
    );
}

#[test]
fn rare_but_possible_days_are_accepted() {
    // Fires on leap days only.
    assert!(Cron::parse("0 0 29 2 *").is_ok());
    // One of the selected months has a 31st.
    assert!(Cron::parse("0 0 31 2,3 *").is_ok());
    // With a restricted day of the week, either day field can select the day.
    assert!(Cron::parse("0 0 30 2 MON").is_ok());
    assert!(Cron::parse("0 0 31 4 */1").is_ok());
}

// ---------------------------------------------------------------- matching

#[test]
fn matches_minutes_hours_and_months() {
    let c = Cron::parse("*/15 9-17 * JAN,JUL *").unwrap();
    assert!(c.matches(&at(2026, 1, 14, 9, 0)));
    assert!(c.matches(&at(2026, 7, 1, 17, 45)));
    assert!(!c.matches(&at(2026, 7, 1, 17, 46)));
    assert!(!c.matches(&at(2026, 7, 1, 18, 0)));
    assert!(!c.matches(&at(2026, 2, 1, 9, 0)));
    // Seconds are ignored.
    let with_seconds = at(2026, 1, 14, 9, 15) + chrono::TimeDelta::seconds(42);
    assert!(c.matches(&with_seconds));
}

#[test]
fn day_of_month_or_day_of_week_when_both_are_restricted() {
    // The 13th, or any Friday. 2026-02-13 is a Friday, 2026-02-20 a Friday, 2026-03-13 a
    // Friday, 2026-04-13 a Monday.
    let c = Cron::parse("0 0 13 * FRI").unwrap();
    assert!(c.matches(&at(2026, 2, 13, 0, 0)));
    assert!(c.matches(&at(2026, 2, 20, 0, 0)));
    assert!(c.matches(&at(2026, 4, 13, 0, 0)));
    assert!(!c.matches(&at(2026, 4, 14, 0, 0)));

    // Only the day of the week applies when the day of the month is `*` or `?`.
    for dom in ["*", "?"] {
        let c = Cron::parse(&format!("0 0 {dom} * FRI")).unwrap();
        assert!(c.matches(&at(2026, 2, 20, 0, 0)));
        assert!(!c.matches(&at(2026, 4, 13, 0, 0)));
    }
    // Only the day of the month applies when the day of the week is `*` or `?`.
    for dow in ["*", "?"] {
        let c = Cron::parse(&format!("0 0 13 * {dow}")).unwrap();
        assert!(c.matches(&at(2026, 4, 13, 0, 0)));
        assert!(!c.matches(&at(2026, 2, 20, 0, 0)));
    }
    // `*/2` is a restriction: odd days of the month, or Mondays.
    let c = Cron::parse("0 0 */2 * MON").unwrap();
    assert!(c.matches(&at(2026, 4, 1, 0, 0))); // Wednesday the 1st
    assert!(c.matches(&at(2026, 4, 6, 0, 0))); // Monday the 6th
    assert!(!c.matches(&at(2026, 4, 2, 0, 0))); // Thursday the 2nd
                                                // `*` restricted by a step on the weekday side: all days of the week, so every day.
    let c = Cron::parse("0 0 1 * */1").unwrap();
    assert!(c.matches(&at(2026, 4, 2, 0, 0)));
}

#[test]
fn sunday_is_zero_and_seven() {
    let sunday = at(2026, 3, 1, 0, 0);
    for expr in [
        "0 0 * * 0",
        "0 0 * * 7",
        "0 0 * * SUN",
        "0 0 * * 6-7",
        "0 0 * * SAT-SUN",
    ] {
        assert!(Cron::parse(expr).unwrap().matches(&sunday), "{expr}");
    }
    assert!(!Cron::parse("0 0 * * MON-SAT").unwrap().matches(&sunday));
}

// ---------------------------------------------------------------- next_after in UTC

#[test]
fn utc_every_minute_and_hourly() {
    let every = cron("* * * * *", "UTC");
    assert_eq!(
        fires(&every, "2026-01-01T00:00:00Z", 3),
        [
            "2026-01-01T00:01:00Z",
            "2026-01-01T00:02:00Z",
            "2026-01-01T00:03:00Z"
        ]
    );
    assert_eq!(
        next(&every, "2026-01-01T00:00:59Z").unwrap(),
        "2026-01-01T00:01:00Z"
    );
    assert_eq!(
        next(&every, "2026-12-31T23:59:30Z").unwrap(),
        "2027-01-01T00:00:00Z"
    );
    let hourly = cron("@hourly", "UTC");
    assert_eq!(
        fires(&hourly, "2026-01-01T22:30:00Z", 3),
        [
            "2026-01-01T23:00:00Z",
            "2026-01-02T00:00:00Z",
            "2026-01-02T01:00:00Z"
        ]
    );
}

#[test]
fn utc_weekdays_skip_the_weekend() {
    // 2026-01-02 is a Friday.
    let c = cron("0 9 * * MON-FRI", "UTC");
    assert_eq!(
        fires(&c, "2026-01-02T08:59:59Z", 3),
        [
            "2026-01-02T09:00:00Z",
            "2026-01-05T09:00:00Z",
            "2026-01-06T09:00:00Z"
        ]
    );
    assert_eq!(
        next(&c, "2026-01-03T12:00:00Z").unwrap(),
        "2026-01-05T09:00:00Z"
    );
}

#[test]
fn utc_month_ends_and_leap_days() {
    let c = cron("0 0 31 * *", "UTC");
    assert_eq!(
        fires(&c, "2026-01-01T00:00:00Z", 4),
        [
            "2026-01-31T00:00:00Z",
            "2026-03-31T00:00:00Z",
            "2026-05-31T00:00:00Z",
            "2026-07-31T00:00:00Z"
        ]
    );
    let c = cron("30 12 30 * *", "UTC");
    assert_eq!(
        fires(&c, "2026-01-30T12:30:00Z", 2),
        ["2026-03-30T12:30:00Z", "2026-04-30T12:30:00Z"]
    );
    let leap = cron("0 0 29 2 *", "UTC");
    assert_eq!(
        fires(&leap, "2026-01-01T00:00:00Z", 2),
        ["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"]
    );
    assert_eq!(
        next(&leap, "2024-02-28T23:59:59Z").unwrap(),
        "2024-02-29T00:00:00Z"
    );
    // 2100 is not a leap year: the next leap day after 2096 is 8 years away, beyond the
    // ~5-year search horizon.
    assert_eq!(next(&leap, "2096-03-01T00:00:00Z"), None);
}

#[test]
fn utc_step_lists_and_year_rollover() {
    let c = cron("0,30 */6 * * *", "UTC");
    assert_eq!(
        fires(&c, "2026-12-31T17:00:00Z", 5),
        [
            "2026-12-31T18:00:00Z",
            "2026-12-31T18:30:00Z",
            "2027-01-01T00:00:00Z",
            "2027-01-01T00:30:00Z",
            "2027-01-01T06:00:00Z"
        ]
    );
    let c = cron("5-10/5,58 23 * * *", "UTC");
    assert_eq!(
        fires(&c, "2026-06-01T00:00:00Z", 4),
        [
            "2026-06-01T23:05:00Z",
            "2026-06-01T23:10:00Z",
            "2026-06-01T23:58:00Z",
            "2026-06-02T23:05:00Z"
        ]
    );
    let yearly = cron("@yearly", "UTC");
    assert_eq!(
        next(&yearly, "2026-01-01T00:00:00Z").unwrap(),
        "2027-01-01T00:00:00Z"
    );
    let last = cron("59 23 31 12 *", "UTC");
    assert_eq!(
        fires(&last, "2026-12-31T23:58:59Z", 2),
        ["2026-12-31T23:59:00Z", "2027-12-31T23:59:00Z"]
    );
}

#[test]
fn utc_either_day_field_fires() {
    // The 1st of the month, or any Monday: 2026-06-01 is a Monday, then Mondays 8, 15, 22,
    // 29, then Wednesday 2026-07-01.
    let c = cron("0 0 1 * MON", "UTC");
    assert_eq!(
        fires(&c, "2026-05-31T00:00:00Z", 6),
        [
            "2026-06-01T00:00:00Z",
            "2026-06-08T00:00:00Z",
            "2026-06-15T00:00:00Z",
            "2026-06-22T00:00:00Z",
            "2026-06-29T00:00:00Z",
            "2026-07-01T00:00:00Z"
        ]
    );
}

#[test]
fn next_after_is_strictly_after() {
    let c = cron("0 12 * * *", "UTC");
    assert_eq!(
        next(&c, "2026-05-01T12:00:00Z").unwrap(),
        "2026-05-02T12:00:00Z"
    );
    assert_eq!(
        next(&c, "2026-05-01T11:59:59Z").unwrap(),
        "2026-05-01T12:00:00Z"
    );
}

#[test]
fn fixed_offset_zone() {
    // Etc/GMT+5 is UTC-5 all year (the sign is POSIX's).
    let c = cron("0 9 * * *", "Etc/GMT+5");
    assert_eq!(
        next(&c, "2026-06-01T00:00:00Z").unwrap(),
        "2026-06-01T14:00:00Z"
    );
}

#[test]
fn out_of_range_instants_give_none() {
    let c = cron("* * * * *", "UTC");
    assert_eq!(c.next_after(i64::MAX), None);
    assert_eq!(c.next_after(i64::MIN), None);
    assert_eq!(cron("* * * * *", "US/Pacific").next_after(i64::MAX), None);
}

#[test]
fn yearly_cron_is_fast() {
    let cadences = [
        cron("@yearly", "US/Pacific"),
        cron("0 0 29 2 *", "Europe/Berlin"),
        cron("59 23 31 12 *", "UTC"),
        cron("0 0 13 * FRI", "US/Pacific"),
    ];
    let start = Instant::now();
    let mut t = ts("2026-01-01T00:00:00Z");
    for _ in 0..250 {
        for c in &cadences {
            t = c.next_after(t).unwrap().min(t + 86_400);
        }
    }
    // 1,000 calls; scanning every minute would take seconds even in release builds.
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
}

// ---------------------------------------------------------------- DST: US/Pacific

#[test]
fn pacific_gap_fires_once_shifted_forward() {
    let c = cron("30 2 * * *", "US/Pacific");
    assert_eq!(
        fires(&c, "2026-03-07T00:00:00Z", 3),
        [
            "2026-03-07T10:30:00Z", // 02:30 PST
            "2026-03-08T10:30:00Z", // 02:30 does not exist: 03:30 PDT
            "2026-03-09T09:30:00Z", // 02:30 PDT
        ]
    );
    // Asked from just after the transition (03:05 PDT), the shifted 02:30 still comes.
    assert_eq!(
        next(&c, "2026-03-08T10:05:00Z").unwrap(),
        "2026-03-08T10:30:00Z"
    );
    // And 03:30 PDT, the same instant, does not fire again.
    let c = cron("30 2,3 * * *", "US/Pacific");
    assert_eq!(
        fires(&c, "2026-03-08T09:00:00Z", 3),
        [
            "2026-03-08T10:30:00Z", // 02:30 (shifted) and 03:30 PDT
            "2026-03-09T09:30:00Z", // 02:30 PDT
            "2026-03-09T10:30:00Z", // 03:30 PDT
        ]
    );
}

#[test]
fn pacific_repeated_hour_fires_at_first_occurrence_only() {
    let c = cron("30 1 * * *", "US/Pacific");
    assert_eq!(
        fires(&c, "2026-10-31T00:00:00Z", 3),
        [
            "2026-10-31T08:30:00Z", // 01:30 PDT
            "2026-11-01T08:30:00Z", // 01:30 PDT, the first of two
            "2026-11-02T09:30:00Z", // 01:30 PST
        ]
    );
    // Not again at 01:30 PST on Nov 1 (09:30Z), whether asked before or during it.
    assert_eq!(
        next(&c, "2026-11-01T08:30:00Z").unwrap(),
        "2026-11-02T09:30:00Z"
    );
    assert_eq!(
        next(&c, "2026-11-01T09:15:00Z").unwrap(),
        "2026-11-02T09:30:00Z"
    );
}

#[test]
fn pacific_hourly_across_both_transitions() {
    let c = cron("0 * * * *", "US/Pacific");
    assert_eq!(
        fires(&c, "2026-03-08T08:30:00Z", 4),
        [
            "2026-03-08T09:00:00Z", // 01:00 PST
            "2026-03-08T10:00:00Z", // 02:00 (skipped) = 03:00 PDT
            "2026-03-08T11:00:00Z", // 04:00 PDT
            "2026-03-08T12:00:00Z", // 05:00 PDT
        ]
    );
    assert_eq!(
        fires(&c, "2026-11-01T06:30:00Z", 4),
        [
            "2026-11-01T07:00:00Z", // 00:00 PDT
            "2026-11-01T08:00:00Z", // 01:00 PDT; 01:00 PST (09:00Z) does not fire
            "2026-11-01T10:00:00Z", // 02:00 PST
            "2026-11-01T11:00:00Z", // 03:00 PST
        ]
    );
}

#[test]
fn pacific_quarter_hours_across_both_transitions() {
    let c = cron("*/15 * * * *", "US/Pacific");
    assert_eq!(
        fires(&c, "2026-03-08T09:30:00Z", 7),
        [
            "2026-03-08T09:45:00Z", // 01:45 PST
            "2026-03-08T10:00:00Z", // 02:00 -> 03:00 PDT
            "2026-03-08T10:15:00Z", // 02:15 -> 03:15 PDT
            "2026-03-08T10:30:00Z", // 02:30 -> 03:30 PDT
            "2026-03-08T10:45:00Z", // 02:45 -> 03:45 PDT
            "2026-03-08T11:00:00Z", // 04:00 PDT
            "2026-03-08T11:15:00Z", // 04:15 PDT
        ]
    );
    assert_eq!(
        fires(&c, "2026-11-01T08:15:00Z", 5),
        [
            "2026-11-01T08:30:00Z", // 01:30 PDT
            "2026-11-01T08:45:00Z", // 01:45 PDT; the PST pass 01:00-01:45 is skipped
            "2026-11-01T10:00:00Z", // 02:00 PST
            "2026-11-01T10:15:00Z", // 02:15 PST
            "2026-11-01T10:30:00Z", // 02:30 PST
        ]
    );
    // Asked during the second pass (01:20 PST), it resumes at 02:00 PST.
    assert_eq!(
        next(&c, "2026-11-01T09:20:00Z").unwrap(),
        "2026-11-01T10:00:00Z"
    );
}

#[test]
fn pacific_nine_am_stays_nine_am() {
    let c = cron("0 9 * * *", "US/Pacific");
    assert_eq!(
        fires(&c, "2026-03-07T00:00:00Z", 3),
        [
            "2026-03-07T17:00:00Z", // 09:00 PST
            "2026-03-08T16:00:00Z", // 09:00 PDT
            "2026-03-09T16:00:00Z",
        ]
    );
    assert_eq!(
        fires(&c, "2026-10-31T00:00:00Z", 3),
        [
            "2026-10-31T16:00:00Z", // 09:00 PDT
            "2026-11-01T17:00:00Z", // 09:00 PST
            "2026-11-02T17:00:00Z",
        ]
    );
}

#[test]
fn zone_links_agree() {
    let a = cron("30 2 * * *", "US/Pacific");
    let b = cron("30 2 * * *", "America/Los_Angeles");
    assert_eq!(
        fires(&a, "2026-03-01T00:00:00Z", 40),
        fires(&b, "2026-03-01T00:00:00Z", 40)
    );
}

// ---------------------------------------------------------------- DST: Europe/Berlin

#[test]
fn berlin_spring_forward() {
    let c = cron("30 2 * * *", "Europe/Berlin");
    assert_eq!(
        fires(&c, "2026-03-28T00:00:00Z", 3),
        [
            "2026-03-28T01:30:00Z", // 02:30 CET
            "2026-03-29T01:30:00Z", // 02:30 does not exist: 03:30 CEST
            "2026-03-30T00:30:00Z", // 02:30 CEST
        ]
    );
}

#[test]
fn berlin_fall_back() {
    let c = cron("30 2 * * *", "Europe/Berlin");
    assert_eq!(
        fires(&c, "2026-10-24T00:00:00Z", 3),
        [
            "2026-10-24T00:30:00Z", // 02:30 CEST
            "2026-10-25T00:30:00Z", // 02:30 CEST, the first of two (not 01:30Z CET)
            "2026-10-26T01:30:00Z", // 02:30 CET
        ]
    );
}

// ---------------------------------------------------------------- half-hour gap

#[test]
fn half_hour_gap_fires_in_instant_order() {
    // Australia/Lord_Howe springs forward by 30 minutes: on 2026-10-04 at 02:00 +10:30
    // (15:30Z the day before) the clock jumps to 02:30 +11. 02:20 does not exist and fires
    // at 02:50 +11 (15:50Z), after 02:40 +11 (15:40Z).
    let c = cron("20,40 2 * * *", "Australia/Lord_Howe");
    assert_eq!(
        fires(&c, "2026-10-03T15:35:00Z", 3),
        [
            "2026-10-03T15:40:00Z", // 02:40 +11
            "2026-10-03T15:50:00Z", // 02:20 shifted by the gap
            "2026-10-04T15:20:00Z", // 02:20 +11
        ]
    );
}

// ---------------------------------------------------------------- intervals

#[test]
fn interval_aligns_to_phase() {
    let c = Cadence::Interval {
        seconds: 3600,
        phase: 900,
    };
    assert_eq!(
        fires(&c, "2026-01-01T00:00:00Z", 3),
        [
            "2026-01-01T00:15:00Z",
            "2026-01-01T01:15:00Z",
            "2026-01-01T02:15:00Z"
        ]
    );
    // Exactly on a slot: the next one.
    assert_eq!(
        next(&c, "2026-01-01T00:15:00Z").unwrap(),
        "2026-01-01T01:15:00Z"
    );
    assert_eq!(
        next(&c, "2026-01-01T00:14:59Z").unwrap(),
        "2026-01-01T00:15:00Z"
    );
    // A phase outside 0..seconds counts modulo seconds.
    for phase in [900 + 3600 * 7, 900 - 3600 * 3, -2700] {
        let d = Cadence::Interval {
            seconds: 3600,
            phase,
        };
        assert_eq!(
            d.next_after(ts("2026-01-01T00:00:00Z")),
            c.next_after(ts("2026-01-01T00:00:00Z"))
        );
    }
}

#[test]
fn interval_negative_and_large_values() {
    let c = Cadence::Interval {
        seconds: 10,
        phase: 3,
    };
    assert_eq!(c.next_after(0), Some(3));
    assert_eq!(c.next_after(-1), Some(3));
    assert_eq!(c.next_after(-7), Some(3));
    assert_eq!(c.next_after(-8), Some(-7));
    assert_eq!(c.next_after(-100), Some(-97));
    assert_eq!(c.next_after(i64::MIN), Some(i64::MIN + 1));
    // i64::MAX = 9223372036854775807 ≡ 7 (mod 10): the next slot would overflow.
    assert_eq!(c.next_after(i64::MAX - 5), Some(i64::MAX - 4));
    assert_eq!(c.next_after(i64::MAX - 4), None);
    assert_eq!(c.next_after(i64::MAX - 10), Some(i64::MAX - 4));
    let huge = Cadence::Interval {
        seconds: i64::MAX,
        phase: i64::MIN,
    };
    assert_eq!(huge.next_after(0), Some(i64::MAX - 1));
    let week = Cadence::Interval {
        seconds: 7 * 86_400,
        phase: 0,
    };
    // Unix time 0 was a Thursday, so phase 0 weeks start on Thursdays.
    assert_eq!(
        next(&week, "2026-01-01T00:00:00Z").unwrap(),
        "2026-01-08T00:00:00Z"
    );
}

#[test]
fn interval_every_second() {
    let c = Cadence::Interval {
        seconds: 1,
        phase: 123,
    };
    assert_eq!(c.next_after(0), Some(1));
    assert_eq!(c.next_after(-5), Some(-4));
    assert_eq!(c.next_after(1_800_000_000), Some(1_800_000_001));
    assert_eq!(c.next_after(i64::MAX), None);
}

#[test]
fn interval_without_a_positive_period_never_fires() {
    for seconds in [0, -60, i64::MIN] {
        let c = Cadence::Interval { seconds, phase: 0 };
        assert_eq!(c.next_after(0), None);
    }
}

// ---------------------------------------------------------------- time zones

#[test]
fn parses_timezones() {
    for name in [
        "UTC",
        "US/Pacific",
        "America/Los_Angeles",
        "Etc/GMT+5",
        "Europe/Berlin",
        "PST8PDT",
    ] {
        assert_eq!(parse_timezone(name).unwrap().name(), name);
    }
}

#[test]
fn rejects_bad_timezones() {
    let cases = [
        ("", "timezone name is empty"),
        (
            "PST8PDT ",
            "timezone name \"PST8PDT \" has leading or trailing whitespace",
        ),
        (
            " UTC",
            "timezone name \" UTC\" has leading or trailing whitespace",
        ),
        ("Mars/Olympus", "unknown timezone Mars/Olympus"),
        ("us/pacific", "unknown timezone us/pacific"),
        ("+05:00", "unknown timezone +05:00"),
    ];
    for (name, message) in cases {
        assert_eq!(parse_timezone(name).unwrap_err().to_string(), message);
    }
}
