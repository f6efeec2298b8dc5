//! Settings of the model-graded task types, read from a task's free-form `metadata`:
//!
//! - `semantic_similarity`: `metadata.pass_threshold` — the cosine similarity (−1..1) at or
//!   above which an answer passes (default [`DEFAULT_SIMILARITY_THRESHOLD`]).
//! - `llm_judge`: `metadata.pass_threshold` — the judge score at or above which an answer
//!   passes — and `metadata.judge`, an object with
//!   - `rubric` (string): what the judge looks for; replaces the default rubric;
//!   - `scale` (`[min, max]`, numbers, min < max; default `[1, 10]`);
//!   - `mode` (`"single"` grades the answer alone, `"pairwise"` compares it with the reference
//!     answer; default `"single"`);
//!   - `prompt_template` (Jinja): the whole judge prompt, replacing the default one; it sees
//!     `prompt`, `output`, `target`, `rubric`, `min`, `max`, `row` (the dataset row) and in
//!     pairwise mode `answer_a`, `answer_b`;
//!   - `max_output_tokens` (1..=8192, default 1024): the judge's answer budget;
//!   - `parse_retries` (0..=5, default 2): how many times the judge is asked again when its
//!     verdict cannot be read.
//!
//! These are checked when the suite is created, so a mistake is a 400 naming the field.

use serde_json::{Map, Value};

use crate::error::{field, ValidationError};
use crate::template;

/// Cosine similarity at or above which a `semantic_similarity` answer passes by default.
pub const DEFAULT_SIMILARITY_THRESHOLD: f64 = 0.8;
/// The judge's default score scale.
pub const DEFAULT_JUDGE_SCALE: (f64, f64) = (1.0, 10.0);
/// The judge's default answer budget in tokens.
pub const DEFAULT_JUDGE_MAX_OUTPUT_TOKENS: i64 = 1024;
/// Largest `judge.max_output_tokens`.
pub const MAX_JUDGE_OUTPUT_TOKENS: i64 = 8192;
/// How many times an unreadable verdict is asked for again by default.
pub const DEFAULT_JUDGE_PARSE_RETRIES: u32 = 2;
/// Largest `judge.parse_retries`.
pub const MAX_JUDGE_PARSE_RETRIES: u32 = 5;

/// How a judge grades an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JudgeMode {
    /// Scores the answer alone on the scale (against the reference when there is one).
    Single,
    /// Compares the answer with the reference answer: win 1, tie 0.5, loss 0.
    Pairwise,
}

impl JudgeMode {
    /// The manifest spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            JudgeMode::Single => "single",
            JudgeMode::Pairwise => "pairwise",
        }
    }
}

/// An `llm_judge` task's judge settings.
#[derive(Debug, Clone, PartialEq)]
pub struct JudgeConfig {
    /// Custom rubric text, else the default rubric applies.
    pub rubric: Option<String>,
    /// Lowest and highest score (single mode).
    pub scale: (f64, f64),
    pub mode: JudgeMode,
    /// Custom judge prompt template.
    pub prompt_template: Option<String>,
    pub max_output_tokens: i64,
    pub parse_retries: u32,
    /// Score at or above which the answer passes.
    pub pass_threshold: f64,
}

impl JudgeConfig {
    /// Reads the settings from a task's `metadata` (at JSON path `path`), checking them.
    pub fn from_metadata(
        metadata: Option<&Map<String, Value>>,
        path: &str,
    ) -> Result<Self, ValidationError> {
        let empty = Map::new();
        let metadata = metadata.unwrap_or(&empty);
        let jp = field(path, "judge");
        let judge = match metadata.get("judge") {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(o)) => o,
            Some(_) => return Err(ValidationError::new(jp, "must be an object")),
        };
        let rubric = opt_string(judge, &jp, "rubric")?;
        let prompt_template = opt_string(judge, &jp, "prompt_template")?;
        if let Some(src) = &prompt_template {
            template::check_syntax(src)
                .map_err(|e| ValidationError::new(field(&jp, "prompt_template"), e))?;
        }
        let mode = match judge.get("mode") {
            None | Some(Value::Null) => JudgeMode::Single,
            Some(Value::String(s)) if s == "single" => JudgeMode::Single,
            Some(Value::String(s)) if s == "pairwise" => JudgeMode::Pairwise,
            Some(_) => {
                return Err(ValidationError::new(
                    field(&jp, "mode"),
                    "must be \"single\" or \"pairwise\"",
                ))
            }
        };
        let sp = field(&jp, "scale");
        let scale = match judge.get("scale") {
            None | Some(Value::Null) => DEFAULT_JUDGE_SCALE,
            Some(Value::Array(items)) => match items.as_slice() {
                [a, b] => match (finite(a), finite(b)) {
                    (Some(lo), Some(hi)) if lo < hi => (lo, hi),
                    (Some(_), Some(_)) => {
                        return Err(ValidationError::new(sp, "min must be below max"))
                    }
                    _ => return Err(ValidationError::new(sp, "must hold two numbers")),
                },
                _ => return Err(ValidationError::new(sp, "must be [min, max]")),
            },
            Some(_) => return Err(ValidationError::new(sp, "must be [min, max]")),
        };
        if let (JudgeMode::Pairwise, Some(src)) = (mode, &prompt_template) {
            // The candidate's side alternates between A and B; a template must show them as such.
            if !(src.contains("answer_a") && src.contains("answer_b")) {
                return Err(ValidationError::new(
                    field(&jp, "prompt_template"),
                    "in pairwise mode must show both answer_a and answer_b (the answer and the \
                     reference, in alternating order)",
                ));
            }
        }
        if mode == JudgeMode::Pairwise && judge.get("scale").is_some_and(|v| !v.is_null()) {
            return Err(ValidationError::new(
                sp,
                "does not apply in pairwise mode (scores are 1 win, 0.5 tie, 0 loss)",
            ));
        }
        let max_output_tokens =
            opt_int(judge, &jp, "max_output_tokens", 1, MAX_JUDGE_OUTPUT_TOKENS)?
                .unwrap_or(DEFAULT_JUDGE_MAX_OUTPUT_TOKENS);
        let parse_retries = opt_int(
            judge,
            &jp,
            "parse_retries",
            0,
            i64::from(MAX_JUDGE_PARSE_RETRIES),
        )?
        .map(|n| n as u32)
        .unwrap_or(DEFAULT_JUDGE_PARSE_RETRIES);
        let (lo, hi) = match mode {
            JudgeMode::Single => scale,
            JudgeMode::Pairwise => (0.0, 1.0),
        };
        let pass_threshold = threshold(metadata, path, lo, hi)?.unwrap_or(match mode {
            // The upper part of the scale: 7 and above on 1..10, 4 and above on 1..5.
            JudgeMode::Single => lo + (hi - lo) * 2.0 / 3.0,
            // At least as good as the reference.
            JudgeMode::Pairwise => 0.5,
        });
        Ok(Self {
            rubric,
            scale,
            mode,
            prompt_template,
            max_output_tokens,
            parse_retries,
            pass_threshold,
        })
    }
}

/// A `semantic_similarity` task's pass threshold, from `metadata.pass_threshold` (at JSON path
/// `path`), else [`DEFAULT_SIMILARITY_THRESHOLD`].
pub fn similarity_threshold(
    metadata: Option<&Map<String, Value>>,
    path: &str,
) -> Result<f64, ValidationError> {
    let empty = Map::new();
    Ok(threshold(metadata.unwrap_or(&empty), path, -1.0, 1.0)?
        .unwrap_or(DEFAULT_SIMILARITY_THRESHOLD))
}

fn threshold(
    metadata: &Map<String, Value>,
    path: &str,
    lo: f64,
    hi: f64,
) -> Result<Option<f64>, ValidationError> {
    let tp = field(path, "pass_threshold");
    match metadata.get("pass_threshold") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match finite(v) {
            Some(x) if (lo..=hi).contains(&x) => Ok(Some(x)),
            _ => Err(ValidationError::new(
                tp,
                format!("must be a number from {lo} to {hi}"),
            )),
        },
    }
}

fn finite(v: &Value) -> Option<f64> {
    v.as_f64().filter(|x| x.is_finite())
}

fn opt_string(
    obj: &Map<String, Value>,
    path: &str,
    name: &str,
) -> Result<Option<String>, ValidationError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
        Some(Value::String(_)) => Err(ValidationError::new(field(path, name), "must not be empty")),
        Some(_) => Err(ValidationError::new(field(path, name), "must be a string")),
    }
}

fn opt_int(
    obj: &Map<String, Value>,
    path: &str,
    name: &str,
    min: i64,
    max: i64,
) -> Result<Option<i64>, ValidationError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(ValidationError::new(
                field(path, name),
                format!("must be an integer from {min} to {max}"),
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn judge(metadata: Value) -> Result<JudgeConfig, ValidationError> {
        JudgeConfig::from_metadata(metadata.as_object(), "t.metadata")
    }

    #[test]
    fn judge_defaults() {
        let c = judge(json!({})).unwrap();
        assert_eq!(c.scale, (1.0, 10.0));
        assert_eq!(c.mode, JudgeMode::Single);
        assert_eq!(c.pass_threshold, 7.0);
        assert_eq!(c.parse_retries, 2);
        let p = judge(json!({"judge": {"mode": "pairwise"}})).unwrap();
        assert_eq!(p.pass_threshold, 0.5);
        let none = JudgeConfig::from_metadata(None, "t").unwrap();
        assert_eq!(none, c);
    }

    #[test]
    fn judge_overrides() {
        let c = judge(json!({"pass_threshold": 3, "judge": {"rubric": "Be strict.", "scale": [0, 5], "max_output_tokens": 64, "parse_retries": 0}})).unwrap();
        assert_eq!(c.scale, (0.0, 5.0));
        assert_eq!(c.pass_threshold, 3.0);
        assert_eq!(c.rubric.as_deref(), Some("Be strict."));
        assert_eq!(c.max_output_tokens, 64);
        assert_eq!(c.parse_retries, 0);
    }

    #[test]
    fn judge_errors_name_the_field() {
        for (metadata, path) in [
            (json!({"judge": 3}), "t.metadata.judge"),
            (
                json!({"judge": {"mode": "triple"}}),
                "t.metadata.judge.mode",
            ),
            (
                json!({"judge": {"scale": [5, 1]}}),
                "t.metadata.judge.scale",
            ),
            (json!({"judge": {"scale": [1]}}), "t.metadata.judge.scale"),
            (
                json!({"judge": {"scale": ["a", 2]}}),
                "t.metadata.judge.scale",
            ),
            (
                json!({"judge": {"mode": "pairwise", "scale": [1, 5]}}),
                "t.metadata.judge.scale",
            ),
            (json!({"judge": {"rubric": ""}}), "t.metadata.judge.rubric"),
            (json!({"judge": {"rubric": 1}}), "t.metadata.judge.rubric"),
            (
                json!({"judge": {"prompt_template": "{{ x"}}),
                "t.metadata.judge.prompt_template",
            ),
            (
                json!({"judge": {"max_output_tokens": 0}}),
                "t.metadata.judge.max_output_tokens",
            ),
            (
                json!({"judge": {"parse_retries": 9}}),
                "t.metadata.judge.parse_retries",
            ),
            (
                json!({"judge": {"mode": "pairwise", "prompt_template": "{{output}} vs {{target}}"}}),
                "t.metadata.judge.prompt_template",
            ),
            (json!({"pass_threshold": 11}), "t.metadata.pass_threshold"),
            (
                json!({"pass_threshold": "high"}),
                "t.metadata.pass_threshold",
            ),
        ] {
            let err = judge(metadata.clone()).unwrap_err();
            assert_eq!(err.path, path, "{metadata}");
        }
    }

    #[test]
    fn similarity_threshold_is_checked() {
        let t = |v: Value| similarity_threshold(v.as_object(), "m");
        assert_eq!(t(json!({})).unwrap(), DEFAULT_SIMILARITY_THRESHOLD);
        assert_eq!(t(json!({"pass_threshold": 0.5})).unwrap(), 0.5);
        assert_eq!(
            t(json!({"pass_threshold": 1.5})).unwrap_err().path,
            "m.pass_threshold"
        );
    }
}
