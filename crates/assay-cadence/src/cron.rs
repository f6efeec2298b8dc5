//! Parsing and matching of 5-field cron expressions on the local wall clock.

use std::str::FromStr;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

use crate::error::{CadenceError, CronField, FieldProblem};

/// A parsed 5-field cron expression: `minute hour day-of-month month day-of-week`.
///
/// It describes local wall-clock minutes; [`crate::Cadence::Cron`] pairs it with a time zone
/// to turn them into instants. Two expressions that select the same minutes compare equal
/// (`0 0 * * 7` == `0 0 * * SUN` == `@weekly`), except that whether a day field was a bare
/// `*`/`?` is part of the value, because it changes how the two day fields combine.
///
/// ```
/// use assay_cadence::Cron;
/// use chrono::NaiveDate;
///
/// let cron = Cron::parse("0 9 * * MON-FRI").unwrap();
/// let monday_9am = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap().and_hms_opt(9, 0, 0).unwrap();
/// assert!(cron.matches(&monday_9am));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cron {
    /// Bit m set: minute m (0-59) matches.
    minutes: u64,
    /// Bit h set: hour h (0-23) matches.
    hours: u64,
    /// Bit d set: day of the month d (1-31) matches.
    days_of_month: u64,
    /// Bit m set: month m (1-12) matches.
    months: u64,
    /// Bit d set: weekday d (0 = Sunday … 6 = Saturday) matches.
    days_of_week: u64,
    /// The day-of-month field was a bare `*` or `?`.
    dom_unrestricted: bool,
    /// The day-of-week field was a bare `*` or `?`.
    dow_unrestricted: bool,
}

/// Static facts about one field.
struct Spec {
    field: CronField,
    min: u32,
    max: u32,
    /// Upper end of `*` and of `N/S` (6 for the day of the week, where 7 is only an alias).
    star_max: u32,
    names: &'static [&'static str],
    /// Index of `names[0]`'s value (1 for months, 0 for weekdays).
    names_base: u32,
    question_mark: bool,
}

const MONTH_NAMES: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAY_NAMES: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

const MINUTE: Spec = Spec {
    field: CronField::Minute,
    min: 0,
    max: 59,
    star_max: 59,
    names: &[],
    names_base: 0,
    question_mark: false,
};
const HOUR: Spec = Spec {
    field: CronField::Hour,
    min: 0,
    max: 23,
    star_max: 23,
    names: &[],
    names_base: 0,
    question_mark: false,
};
const DAY_OF_MONTH: Spec = Spec {
    field: CronField::DayOfMonth,
    min: 1,
    max: 31,
    star_max: 31,
    names: &[],
    names_base: 0,
    question_mark: true,
};
const MONTH: Spec = Spec {
    field: CronField::Month,
    min: 1,
    max: 12,
    star_max: 12,
    names: MONTH_NAMES,
    names_base: 1,
    question_mark: false,
};
const DAY_OF_WEEK: Spec = Spec {
    field: CronField::DayOfWeek,
    min: 0,
    max: 7,
    star_max: 6,
    names: WEEKDAY_NAMES,
    names_base: 0,
    question_mark: true,
};

/// The most days each month can have (February 29 exists in leap years).
const MAX_DAYS_IN_MONTH: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

impl Spec {
    fn err(&self, problem: FieldProblem) -> CadenceError {
        CadenceError::Field {
            field: self.field,
            problem,
        }
    }

    /// Parses a whole field into a bit set. Returns the set and whether the field was a bare
    /// `*` or `?`.
    fn parse_field(&self, text: &str) -> Result<(u64, bool), CadenceError> {
        if text == "*" || (self.question_mark && text == "?") {
            return Ok((bits(self.min, self.star_max, 1), true));
        }
        let mut set = 0u64;
        for item in text.split(',') {
            set |= self.parse_item(item)?;
        }
        Ok((set, false))
    }

    /// Parses one comma-list item: `*`, `N`, `N-M`, each optionally followed by `/S`.
    fn parse_item(&self, item: &str) -> Result<u64, CadenceError> {
        if item.is_empty() {
            return Err(self.err(FieldProblem::EmptyItem));
        }
        let malformed = || self.err(FieldProblem::Malformed(item.to_owned()));
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => (base, Some(step)),
            None => (item, None),
        };
        let step = match step {
            None => None,
            Some(step) => Some(self.parse_step(step).map_err(|e| match e {
                Some(e) => e,
                None => malformed(),
            })?),
        };
        let (start, end) = if base == "*" || base == "?" {
            if base == "?" && !self.question_mark {
                return Err(self.err(FieldProblem::QuestionMark));
            }
            (self.min, self.star_max)
        } else if let Some((start_text, end_text)) = base.split_once('-') {
            if start_text.is_empty() || end_text.is_empty() || end_text.contains('-') {
                return Err(malformed());
            }
            let start = self.parse_value(start_text)?;
            let mut end = self.parse_value(end_text)?;
            // `FRI-SUN`: a range that ends on Sunday, written as a name, runs to day 7.
            if self.field == CronField::DayOfWeek
                && end == 0
                && start > 0
                && end_text.eq_ignore_ascii_case("SUN")
            {
                end = 7;
            }
            if start > end {
                return Err(self.err(FieldProblem::Reversed {
                    start: start_text.to_owned(),
                    end: end_text.to_owned(),
                }));
            }
            (start, end)
        } else {
            let value = self.parse_value(base)?;
            match step {
                // `N/S` runs from N to the end of the field.
                Some(_) => (value, self.star_max.max(value)),
                None => (value, value),
            }
        };
        let set = bits(start, end, step.unwrap_or(1));
        Ok(if self.field == CronField::DayOfWeek {
            // Day 7 is Sunday, stored as day 0.
            (set & !(1 << 7)) | ((set >> 7) & 1)
        } else {
            set
        })
    }

    /// Parses the `S` of `/S`. `Err(None)` means "not a number" (reported as a malformed item).
    fn parse_step(&self, text: &str) -> Result<u32, Option<CadenceError>> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(None);
        }
        let too_large = || {
            Some(self.err(FieldProblem::StepTooLarge {
                step: text.to_owned(),
                min: self.min,
                max: self.star_max,
            }))
        };
        let step: u32 = text.parse().map_err(|_| too_large())?;
        if step == 0 {
            return Err(Some(self.err(FieldProblem::ZeroStep)));
        }
        if step > self.star_max - self.min {
            return Err(too_large());
        }
        Ok(step)
    }

    /// Parses a single number or (case-insensitive) name and checks its range.
    fn parse_value(&self, text: &str) -> Result<u32, CadenceError> {
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            let out_of_range = || {
                self.err(FieldProblem::OutOfRange {
                    value: text.to_owned(),
                    min: self.min,
                    max: self.max,
                })
            };
            let value: u32 = text.parse().map_err(|_| out_of_range())?;
            if value < self.min || value > self.max {
                return Err(out_of_range());
            }
            return Ok(value);
        }
        if !self.names.is_empty()
            && !text.is_empty()
            && text.bytes().all(|b| b.is_ascii_alphabetic())
        {
            return self
                .names
                .iter()
                .position(|name| name.eq_ignore_ascii_case(text))
                .map(|i| i as u32 + self.names_base)
                .ok_or_else(|| self.err(FieldProblem::UnknownName(text.to_owned())));
        }
        if self.names.is_empty() {
            Err(self.err(FieldProblem::NotANumber(text.to_owned())))
        } else {
            Err(self.err(FieldProblem::UnknownName(text.to_owned())))
        }
    }
}

/// The bit set of `start, start + step, …` up to `end` inclusive (all below 64).
fn bits(start: u32, end: u32, step: u32) -> u64 {
    let mut set = 0u64;
    let mut v = start;
    while v <= end {
        set |= 1 << v;
        v += step;
    }
    set
}

/// The smallest member of `set` that is `>= from`, if any (`from` may be up to 64).
fn next_bit(set: u64, from: u32) -> Option<u32> {
    let rest = set.checked_shr(from).unwrap_or(0);
    (rest != 0).then(|| from + rest.trailing_zeros())
}

fn has(set: u64, bit: u32) -> bool {
    set & (1 << bit) != 0
}

impl Cron {
    /// Parses a 5-field cron expression.
    ///
    /// Accepts `minute hour day-of-month month day-of-week` separated by any run of
    /// whitespace, where each field is `*`, `N`, `N-M`, `*/S`, `N-M/S`, `N/S` (N to the end of
    /// the field) or a comma list of these; months and weekdays may be names (`JAN`, `mon`,
    /// also in ranges, and a range ending in `SUN` such as `FRI-SUN` runs through Sunday);
    /// `?` means `*` in the two day fields. The macros `@yearly`, `@annually`, `@monthly`,
    /// `@weekly`, `@daily`, `@midnight` and `@hourly` are accepted too (case-insensitive).
    ///
    /// Rejects malformed fields, out-of-range values, step 0, steps too large to ever select
    /// more than one value (`*/90` in minutes), reversed ranges, and expressions that can
    /// never fire (`0 0 30 2 *`).
    pub fn parse(expr: &str) -> Result<Cron, CadenceError> {
        let expr = expr.trim();
        if let Some(name) = expr.strip_prefix('@') {
            let mut words = expr.split_whitespace();
            let word = words.next().unwrap_or(expr);
            if words.next().is_some() {
                return Err(CadenceError::MacroWithFields(word.to_owned()));
            }
            let fields = match name.to_ascii_lowercase().as_str() {
                "yearly" | "annually" => "0 0 1 1 *",
                "monthly" => "0 0 1 * *",
                "weekly" => "0 0 * * 0",
                "daily" | "midnight" => "0 0 * * *",
                "hourly" => "0 * * * *",
                _ => return Err(CadenceError::UnknownMacro(expr.to_owned())),
            };
            return Cron::parse(fields);
        }
        let fields: Vec<&str> = expr.split_whitespace().collect();
        let [minute, hour, dom, month, dow] = fields[..] else {
            return Err(CadenceError::FieldCount {
                found: fields.len(),
            });
        };
        let (minutes, _) = MINUTE.parse_field(minute)?;
        let (hours, _) = HOUR.parse_field(hour)?;
        let (days_of_month, dom_unrestricted) = DAY_OF_MONTH.parse_field(dom)?;
        let (months, _) = MONTH.parse_field(month)?;
        let (days_of_week, dow_unrestricted) = DAY_OF_WEEK.parse_field(dow)?;
        let cron = Cron {
            minutes,
            hours,
            days_of_month,
            months,
            days_of_week,
            dom_unrestricted,
            dow_unrestricted,
        };
        if !cron.can_fire() {
            return Err(CadenceError::NeverFires);
        }
        Ok(cron)
    }

    /// Whether some day of some selected month can ever match. With a restricted day of the
    /// week every month has matching days; otherwise some selected month must be long enough
    /// for some selected day of the month.
    fn can_fire(&self) -> bool {
        if !self.dow_unrestricted {
            return true;
        }
        (1..=12u32).any(|month| {
            has(self.months, month)
                && next_bit(self.days_of_month, 1)
                    .is_some_and(|day| day <= MAX_DAYS_IN_MONTH[month as usize - 1])
        })
    }

    /// Whether a local wall-clock minute matches (its seconds are ignored).
    ///
    /// When both day fields are restricted (neither is a bare `*` or `?`), a day matches when
    /// either of them does; otherwise only the restricted one (if any) applies.
    pub fn matches(&self, t: &NaiveDateTime) -> bool {
        has(self.minutes, t.minute())
            && has(self.hours, t.hour())
            && has(self.months, t.month())
            && self.day_matches(t.date())
    }

    fn day_matches(&self, date: NaiveDate) -> bool {
        let dom = has(self.days_of_month, date.day());
        let dow = has(self.days_of_week, date.weekday().num_days_from_sunday());
        if self.dom_unrestricted || self.dow_unrestricted {
            // The unrestricted field's set is full, so this is "the other one".
            dom && dow
        } else {
            dom || dow
        }
    }

    /// The first matching wall-clock minute at or after `from` (rounded up to a whole
    /// minute) and not after `limit`.
    ///
    /// Skips whole months, days and hours that cannot match, so even a yearly expression
    /// takes a few dozen steps per year searched.
    pub(crate) fn next_wall(
        &self,
        from: NaiveDateTime,
        limit: NaiveDateTime,
    ) -> Option<NaiveDateTime> {
        let mut date = from.date();
        let mut hour = from.hour();
        let mut minute = from.minute();
        if from.second() != 0 || from.nanosecond() != 0 {
            minute += 1; // 60 is fine: no minute matches it, so the hour moves on.
        }
        loop {
            if date > limit.date() {
                return None;
            }
            if !has(self.months, date.month()) {
                date = self.next_month_start(date)?;
                (hour, minute) = (0, 0);
                continue;
            }
            if !self.day_matches(date) {
                date = date.succ_opt()?;
                (hour, minute) = (0, 0);
                continue;
            }
            match next_bit(self.hours, hour) {
                None => {
                    date = date.succ_opt()?;
                    (hour, minute) = (0, 0);
                    continue;
                }
                Some(h) if h != hour => (hour, minute) = (h, 0),
                Some(_) => {}
            }
            match next_bit(self.minutes, minute) {
                None => (hour, minute) = (hour + 1, 0),
                Some(m) => {
                    let found = date.and_hms_opt(hour, m, 0)?;
                    return (found <= limit).then_some(found);
                }
            }
        }
    }

    /// The first day of the next selected month after `date`'s month.
    fn next_month_start(&self, date: NaiveDate) -> Option<NaiveDate> {
        match next_bit(self.months, date.month() + 1) {
            Some(month) => NaiveDate::from_ymd_opt(date.year(), month, 1),
            None => NaiveDate::from_ymd_opt(date.year() + 1, next_bit(self.months, 1)?, 1),
        }
    }
}

impl FromStr for Cron {
    type Err = CadenceError;

    /// Same as [`Cron::parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cron::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, 0)
            .unwrap()
    }

    fn set(values: &[u32]) -> u64 {
        values.iter().fold(0, |s, v| s | 1 << v)
    }

    #[test]
    fn bit_helpers() {
        assert_eq!(bits(0, 10, 5), set(&[0, 5, 10]));
        assert_eq!(bits(3, 3, 1), set(&[3]));
        assert_eq!(next_bit(set(&[2, 40]), 3), Some(40));
        assert_eq!(next_bit(set(&[2, 40]), 41), None);
        assert_eq!(next_bit(u64::MAX, 64), None);
    }

    #[test]
    fn fields_parse_into_sets() {
        let c = Cron::parse("*/20 1-3,22 ? jan-mar/2 MON-FRI").unwrap();
        assert_eq!(c.minutes, set(&[0, 20, 40]));
        assert_eq!(c.hours, set(&[1, 2, 3, 22]));
        assert_eq!(c.days_of_month, bits(1, 31, 1));
        assert!(c.dom_unrestricted);
        assert_eq!(c.months, set(&[1, 3]));
        assert_eq!(c.days_of_week, set(&[1, 2, 3, 4, 5]));
        assert!(!c.dow_unrestricted);
    }

    #[test]
    fn day_of_week_seven_and_sun_range_end_are_sunday() {
        let c = Cron::parse("0 0 * * 5-7").unwrap();
        assert_eq!(c.days_of_week, set(&[0, 5, 6]));
        let c = Cron::parse("0 0 * * FRI-SUN").unwrap();
        assert_eq!(c.days_of_week, set(&[0, 5, 6]));
        let c = Cron::parse("0 0 * * SUN-SUN").unwrap();
        assert_eq!(c.days_of_week, set(&[0]));
        let c = Cron::parse("0 0 * * 1/2").unwrap();
        assert_eq!(c.days_of_week, set(&[1, 3, 5]));
        let c = Cron::parse("0 0 * * 7/2").unwrap();
        assert_eq!(c.days_of_week, set(&[0]));
    }

    #[test]
    fn next_wall_skips_to_the_match() {
        let yearly = Cron::parse("@yearly").unwrap();
        let limit = at(2040, 1, 1, 0, 0);
        assert_eq!(
            yearly.next_wall(at(2026, 1, 1, 0, 1), limit),
            Some(at(2027, 1, 1, 0, 0))
        );
        assert_eq!(
            yearly.next_wall(at(2026, 1, 1, 0, 0), limit),
            Some(at(2026, 1, 1, 0, 0))
        );
        let seconds = at(2026, 1, 1, 0, 0).with_second(1).unwrap();
        assert_eq!(yearly.next_wall(seconds, limit), Some(at(2027, 1, 1, 0, 0)));
        assert_eq!(yearly.next_wall(at(2040, 1, 1, 0, 1), limit), None);
        let late = Cron::parse("59 23 31 12 *").unwrap();
        assert_eq!(
            late.next_wall(at(2026, 12, 31, 23, 59), limit),
            Some(at(2026, 12, 31, 23, 59))
        );
    }
}
