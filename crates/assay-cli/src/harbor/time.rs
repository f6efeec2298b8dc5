//! The ISO 8601 instants Harbor writes: pydantic's `datetime` serialization, `Z` or a numeric
//! offset for aware times, nothing for naive ones (the job's start, in local time).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A parsed instant, and whether the text said which time zone it was in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp {
    pub at: SystemTime,
    /// False for a naive time, which was read as UTC.
    pub zoned: bool,
}

impl Stamp {
    /// Whole unix seconds (rounded down; 0 for instants before 1970).
    pub fn unix_seconds(&self) -> i64 {
        self.at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }
}

/// Parses `2026-03-02T10:00:01.5Z`, `…+01:00`, `…-05:30` and naive `2026-03-02T11:00:00.25`.
pub fn parse(text: &str) -> Option<Stamp> {
    let text = text.trim();
    if let Some(body) = text.strip_suffix('Z').or_else(|| text.strip_suffix('z')) {
        let at = humantime::parse_rfc3339_weak(body).ok()?;
        return Some(Stamp { at, zoned: true });
    }
    // A numeric offset comes after the time part (past the date's own dashes).
    match text.rfind(['+', '-']).filter(|&i| i > 10) {
        Some(i) => {
            let (body, offset) = text.split_at(i);
            let (sign, offset) = offset.split_at(1);
            let (hours, minutes) = offset.split_once(':').unwrap_or((offset, "0"));
            let shift = hours.parse::<u64>().ok()? * 3600 + minutes.parse::<u64>().ok()? * 60;
            let local = humantime::parse_rfc3339_weak(body).ok()?;
            let shift = Duration::from_secs(shift);
            // Local time ahead of UTC (a positive offset) is UTC plus the offset.
            let at = if sign == "+" {
                local.checked_sub(shift)?
            } else {
                local.checked_add(shift)?
            };
            Some(Stamp { at, zoned: true })
        }
        None => {
            let at = humantime::parse_rfc3339_weak(text).ok()?;
            Some(Stamp { at, zoned: false })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_zoned_and_naive_times() {
        let utc = parse("2026-03-02T10:00:01.500000Z").unwrap();
        assert!(utc.zoned);
        assert_eq!(utc.unix_seconds(), 1_772_445_601);
        let offset = parse("2026-03-02T11:00:01.5+01:00").unwrap();
        assert_eq!(offset.at, utc.at);
        let behind = parse("2026-03-02T04:30:01.5-05:30").unwrap();
        assert_eq!(behind.at, utc.at);
        let naive = parse("2026-03-02T10:00:01.5").unwrap();
        assert!(!naive.zoned);
        assert_eq!(naive.at, utc.at);
        assert_eq!(parse("yesterday"), None);
        assert_eq!(parse("2026-03-02T10:00:01+xx:00"), None);
    }
}
