//! Token backfill: counting tokens from stored text for samples that carry none.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ValidationError;

/// Runs one token-measurement call processes when the body names no `limit`.
pub const MEASURE_TOKENS_DEFAULT_LIMIT: i64 = 5;
/// Most runs one token-measurement call may process.
pub const MEASURE_TOKENS_MAX_LIMIT: i64 = 100;

/// Body of `POST /evals/suites/{suite_id}/tokens/measure`; required, `{}` takes the defaults.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct MeasureSuiteTokensRequest {
    /// Runs to measure in this call, 1 to 100 (default 5). Call again until
    /// `remaining_runs` is 0.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

impl MeasureSuiteTokensRequest {
    /// The number of runs to process: `limit`, or the default when it is absent.
    pub fn limit(&self) -> Result<i64, ValidationError> {
        let limit = self.limit.unwrap_or(MEASURE_TOKENS_DEFAULT_LIMIT);
        if !(1..=MEASURE_TOKENS_MAX_LIMIT).contains(&limit) {
            return Err(ValidationError::new(
                "limit",
                format!("must be between 1 and {MEASURE_TOKENS_MAX_LIMIT}"),
            ));
        }
        Ok(limit)
    }
}

/// What one token-measurement call did (`object: "eval.suite.token_measurement"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SuiteTokenMeasurement {
    pub suite_id: String,
    pub object: String,
    /// Runs whose samples gained token figures in this call.
    pub measured_runs: i64,
    /// Samples that gained token figures in this call.
    pub measured_samples: i64,
    /// Runs of the suite still holding samples with text but no token figure after this call.
    pub remaining_runs: i64,
}

impl SuiteTokenMeasurement {
    /// The measurement object of `suite_id` with the given counts.
    pub fn new(
        suite_id: impl Into<String>,
        measured_runs: i64,
        measured_samples: i64,
        remaining_runs: i64,
    ) -> Self {
        Self {
            suite_id: suite_id.into(),
            object: "eval.suite.token_measurement".into(),
            measured_runs,
            measured_samples,
            remaining_runs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit_of(body: &str) -> Result<i64, ValidationError> {
        crate::json::from_slice::<MeasureSuiteTokensRequest>(body.as_bytes())?.limit()
    }

    #[test]
    fn limit_defaults_and_bounds() {
        assert_eq!(limit_of("{}"), Ok(5));
        assert_eq!(limit_of(r#"{"limit": null}"#), Ok(5));
        assert_eq!(limit_of(r#"{"limit": 1}"#), Ok(1));
        assert_eq!(limit_of(r#"{"limit": 100}"#), Ok(100));
        for bad in [r#"{"limit": 0}"#, r#"{"limit": 101}"#, r#"{"limit": -3}"#] {
            assert_eq!(limit_of(bad).unwrap_err().path, "limit", "{bad}");
        }
        for wrong_type in [
            r#"{"limit": "x"}"#,
            r#"{"limit": 2.5}"#,
            r#"{"limit": true}"#,
        ] {
            assert_eq!(
                limit_of(wrong_type).unwrap_err().path,
                "limit",
                "{wrong_type}"
            );
        }
    }
}
