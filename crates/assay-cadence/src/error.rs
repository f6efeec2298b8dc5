//! The one error type of this crate.

use std::fmt;

/// Why a cron expression or a timezone name was rejected.
///
/// Its `Display` is a message for a person, naming the field at fault where there is one,
/// e.g. `minute field: 61 is out of range 0-59`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CadenceError {
    /// The expression does not have exactly five fields (and is not a macro).
    #[error("expected 5 fields, found {found}")]
    FieldCount {
        /// How many whitespace-separated fields the expression had.
        found: usize,
    },
    /// One field of the expression is malformed.
    #[error("{field} field: {problem}")]
    Field {
        /// The field at fault.
        field: CronField,
        /// What is wrong with it.
        problem: FieldProblem,
    },
    /// An `@name` macro that is not one of `@yearly`, `@annually`, `@monthly`, `@weekly`,
    /// `@daily`, `@midnight` or `@hourly`.
    #[error("unknown macro {0}")]
    UnknownMacro(String),
    /// A macro followed by more text, e.g. `@daily 5`.
    #[error("macro {0} takes no other fields")]
    MacroWithFields(String),
    /// Every field is valid, but no selected month has any selected day of the month
    /// (`0 0 30 2 *`, `0 0 31 4 *`), so the schedule would never fire.
    #[error("expression can never fire: none of the selected months has any of the selected days of the month")]
    NeverFires,
    /// An empty timezone name.
    #[error("timezone name is empty")]
    EmptyTimezone,
    /// A timezone name with whitespace before or after it (shown quoted).
    #[error("timezone name {0:?} has leading or trailing whitespace")]
    TimezoneWhitespace(String),
    /// A name that is not in the IANA timezone database.
    #[error("unknown timezone {0}")]
    UnknownTimezone(String),
}

/// One of the five fields of a cron expression, in the order they are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CronField {
    /// Minute of the hour, 0-59.
    Minute,
    /// Hour of the day, 0-23.
    Hour,
    /// Day of the month, 1-31.
    DayOfMonth,
    /// Month, 1-12 or `JAN`-`DEC`.
    Month,
    /// Day of the week, 0-7 (0 and 7 are Sunday) or `SUN`-`SAT`.
    DayOfWeek,
}

impl fmt::Display for CronField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CronField::Minute => "minute",
            CronField::Hour => "hour",
            CronField::DayOfMonth => "day-of-month",
            CronField::Month => "month",
            CronField::DayOfWeek => "day-of-week",
        })
    }
}

/// What is wrong with one field of a cron expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldProblem {
    /// A number outside the field's range (kept as written, so huge numbers show too).
    #[error("{value} is out of range {min}-{max}")]
    OutOfRange {
        /// The number as written.
        value: String,
        /// The field's smallest value.
        min: u32,
        /// The field's largest value.
        max: u32,
    },
    /// A word that is not a month or weekday name (shown as written).
    #[error("unknown name {0}")]
    UnknownName(String),
    /// Something that is neither a number nor (in the month and day-of-week fields) a name.
    #[error("{0} is not a number")]
    NotANumber(String),
    /// An empty item in a comma list (`1,,2`, `1,`).
    #[error("empty list item")]
    EmptyItem,
    /// A step of 0 (`*/0`).
    #[error("step 0 is not allowed")]
    ZeroStep,
    /// A step so large that it can only ever select its starting value (`*/90` in the
    /// minute field does not mean "every 90 minutes").
    #[error("step {step} is larger than the field's range {min}-{max} allows")]
    StepTooLarge {
        /// The step as written.
        step: String,
        /// The field's smallest value.
        min: u32,
        /// The field's largest value (6 for the day of the week).
        max: u32,
    },
    /// A range whose start is after its end (`5-1`).
    #[error("range {start}-{end} is reversed")]
    Reversed {
        /// The range start as written.
        start: String,
        /// The range end as written.
        end: String,
    },
    /// An item that does not have the shape of `*`, `N`, `N-M`, optionally followed by `/S`
    /// (e.g. `1-2-3`, `-5`, `1/`).
    #[error("malformed item {0}")]
    Malformed(String),
    /// `?` outside the two day fields.
    #[error("? is only allowed in the day-of-month and day-of-week fields")]
    QuestionMark,
}
