//! Generation settings for candidate model calls (`generation` on a run): the Responses-API
//! parameters, open-model sampling knobs and per-call execution controls, with the
//! lm-evaluation-harness aliases folded into their canonical fields.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::error::{field, index, ValidationError};

/// `stop`: one sequence or several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum StopSequences {
    One(String),
    Many(Vec<String>),
}

impl StopSequences {
    fn into_vec(self) -> Vec<String> {
        match self {
            StopSequences::One(s) => vec![s],
            StopSequences::Many(v) => v,
        }
    }
}

/// `prefill_think`: `true` for the default thinking prefix, or the literal prefix text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum PrefillThink {
    Enabled(bool),
    Text(String),
}

/// `truncation` of the Responses API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Truncation {
    Auto,
    Disabled,
}

/// `service_tier` of the Responses API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ServiceTier {
    Auto,
    Default,
    Flex,
    Priority,
}

/// Generation settings as sent and as stored. Every field is optional; keys Assay does not
/// know are kept in `extra` and echoed back. After [`GenerationConfig::normalize`] the aliases
/// `max_gen_toks` and `until` are folded into `max_output_tokens` and `stop` (always a list).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GenerationConfig {
    /// System-level instructions (Responses `instructions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Sampling temperature, 0 to 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling mass, in (0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Most tokens to generate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<i64>,
    /// lm-eval alias of `max_output_tokens` (folded into it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_gen_toks: Option<i64>,
    /// Stop sequence(s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<StopSequences>,
    /// lm-eval `generate_until` stop sequences (folded into `stop`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tool_calls: Option<i64>,
    /// Responses `reasoning` object, e.g. `{"effort": "low"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub reasoning: Option<Value>,
    /// Responses `text` object (output format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub text: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub tools: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub tool_choice: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncation: Option<Truncation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<ServiceTier>,
    /// −2 to 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    /// −2 to 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// Keep the k most likely tokens (0 disables).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<i64>,
    /// Minimum probability relative to the top token, 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_p: Option<f64>,
    /// Multiplicative repetition penalty, (0, 10].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repetition_penalty: Option<f64>,
    /// `false` means greedy decoding (temperature 0, sampling knobs ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub do_sample: Option<bool>,
    /// Provider-specific body fields merged into the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_body: Option<Map<String, Value>>,
    /// Chat template arguments, e.g. `{"enable_thinking": false}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_template_kwargs: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefill_think: Option<PrefillThink>,
    /// Reuse cached responses for identical requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_cache: Option<bool>,
    /// Per-call timeout, 1 to 3600 seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i64>,
    /// Retries after a retryable failure, 0 to 20.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<i64>,
    /// Extra attempts when the model answers with empty text, 0 to 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_empty_retries: Option<i64>,
    /// Keys Assay does not know, kept as sent.
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: Map<String, Value>,
}

/// Most stop sequences one call may carry.
pub const MAX_STOP_SEQUENCES: usize = 32;

fn check_range_f(
    path: &str,
    name: &str,
    v: Option<f64>,
    lo: f64,
    hi: f64,
    lo_open: bool,
) -> Result<(), ValidationError> {
    if let Some(v) = v {
        let low_ok = if lo_open { v > lo } else { v >= lo };
        if !v.is_finite() || !low_ok || v > hi {
            let lb = if lo_open { "(" } else { "[" };
            return Err(ValidationError::new(
                field(path, name),
                format!("must be in {lb}{lo}, {hi}]"),
            ));
        }
    }
    Ok(())
}

fn check_range_i(
    path: &str,
    name: &str,
    v: Option<i64>,
    lo: i64,
    hi: i64,
) -> Result<(), ValidationError> {
    if let Some(v) = v {
        if !(lo..=hi).contains(&v) {
            return Err(ValidationError::new(
                field(path, name),
                format!("must be between {lo} and {hi}"),
            ));
        }
    }
    Ok(())
}

impl GenerationConfig {
    /// Checks every bound; `path` is the config's path in the request (e.g. `generation`).
    pub fn validate(&self, path: &str) -> Result<(), ValidationError> {
        check_range_f(path, "temperature", self.temperature, 0.0, 2.0, false)?;
        check_range_f(path, "top_p", self.top_p, 0.0, 1.0, true)?;
        check_range_f(
            path,
            "presence_penalty",
            self.presence_penalty,
            -2.0,
            2.0,
            false,
        )?;
        check_range_f(
            path,
            "frequency_penalty",
            self.frequency_penalty,
            -2.0,
            2.0,
            false,
        )?;
        check_range_f(path, "min_p", self.min_p, 0.0, 1.0, false)?;
        check_range_f(
            path,
            "repetition_penalty",
            self.repetition_penalty,
            0.0,
            10.0,
            true,
        )?;
        check_range_i(
            path,
            "max_output_tokens",
            self.max_output_tokens,
            1,
            1_000_000,
        )?;
        check_range_i(path, "max_gen_toks", self.max_gen_toks, 1, 1_000_000)?;
        check_range_i(path, "max_tool_calls", self.max_tool_calls, 1, 1_000)?;
        check_range_i(path, "top_k", self.top_k, 0, 1_000_000)?;
        check_range_i(path, "timeout_seconds", self.timeout_seconds, 1, 3_600)?;
        check_range_i(path, "max_retries", self.max_retries, 0, 20)?;
        check_range_i(path, "max_empty_retries", self.max_empty_retries, 0, 10)?;
        let mut stops: Vec<(String, &str)> = Vec::new();
        if let Some(stop) = &self.stop {
            match stop {
                StopSequences::One(s) => stops.push((field(path, "stop"), s)),
                StopSequences::Many(v) => {
                    for (i, s) in v.iter().enumerate() {
                        stops.push((index(&field(path, "stop"), i), s));
                    }
                }
            }
        }
        if let Some(until) = &self.until {
            for (i, s) in until.iter().enumerate() {
                stops.push((index(&field(path, "until"), i), s));
            }
        }
        for (p, s) in &stops {
            if s.is_empty() {
                return Err(ValidationError::new(
                    p.clone(),
                    "stop sequences must not be empty",
                ));
            }
        }
        if stops.len() > MAX_STOP_SEQUENCES {
            return Err(ValidationError::new(
                field(path, "stop"),
                format!("at most {MAX_STOP_SEQUENCES} stop sequences (stop and until together)"),
            ));
        }
        if let Some(PrefillThink::Text(t)) = &self.prefill_think {
            if t.is_empty() {
                return Err(ValidationError::new(
                    field(path, "prefill_think"),
                    "must not be an empty string",
                ));
            }
        }
        Ok(())
    }

    /// Folds the lm-eval aliases into the canonical fields: `max_gen_toks` becomes
    /// `max_output_tokens` (the canonical field wins when both are given), `until` is merged
    /// into `stop` (order kept, duplicates dropped) and `stop` becomes a list;
    /// `do_sample: false` sets `temperature` to 0.
    pub fn normalize(mut self) -> Self {
        if let Some(n) = self.max_gen_toks.take() {
            self.max_output_tokens.get_or_insert(n);
        }
        let mut stops: Vec<String> = self
            .stop
            .take()
            .map(StopSequences::into_vec)
            .unwrap_or_default();
        for s in self.until.take().unwrap_or_default() {
            if !stops.contains(&s) {
                stops.push(s);
            }
        }
        if !stops.is_empty() {
            self.stop = Some(StopSequences::Many(stops));
        }
        if self.do_sample == Some(false) {
            self.temperature = Some(0.0);
        }
        self
    }

    /// Whether decoding is greedy (explicitly, or by a zero temperature).
    pub fn is_greedy(&self) -> bool {
        self.do_sample == Some(false) || self.temperature == Some(0.0)
    }

    /// The stop sequences as a list.
    pub fn stop_sequences(&self) -> Vec<String> {
        self.stop
            .clone()
            .map(StopSequences::into_vec)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> GenerationConfig {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn aliases_fold_into_canonical_fields() {
        let g = parse(json!({"max_gen_toks": 512, "until": ["\n\n", "</s>"], "stop": "</s>", "do_sample": false, "temperature": 0.7, "custom_knob": {"a": 1}}))
            .normalize();
        let out = serde_json::to_value(&g).unwrap();
        assert_eq!(
            out,
            json!({"max_output_tokens": 512, "stop": ["</s>", "\n\n"], "do_sample": false, "temperature": 0.0, "custom_knob": {"a": 1}})
        );
        let g = parse(json!({"max_gen_toks": 512, "max_output_tokens": 64})).normalize();
        assert_eq!(g.max_output_tokens, Some(64));
        assert!(g.max_gen_toks.is_none());
        assert!(parse(json!({})).normalize() == GenerationConfig::default());
    }

    #[test]
    fn bounds_name_the_field() {
        let cases = [
            (json!({"temperature": -0.1}), "generation.temperature"),
            (json!({"temperature": 2.5}), "generation.temperature"),
            (json!({"top_p": 0}), "generation.top_p"),
            (
                json!({"max_output_tokens": 0}),
                "generation.max_output_tokens",
            ),
            (json!({"max_gen_toks": -1}), "generation.max_gen_toks"),
            (json!({"timeout_seconds": 0}), "generation.timeout_seconds"),
            (json!({"max_retries": 21}), "generation.max_retries"),
            (
                json!({"repetition_penalty": 0}),
                "generation.repetition_penalty",
            ),
            (json!({"stop": ["a", ""]}), "generation.stop[1]"),
            (json!({"until": [""]}), "generation.until[0]"),
            (json!({"prefill_think": ""}), "generation.prefill_think"),
        ];
        for (v, path) in cases {
            let err = parse(v.clone()).validate("generation").unwrap_err();
            assert_eq!(err.path, path, "{v}");
        }
        let many: Vec<String> = (0..33).map(|i| i.to_string()).collect();
        assert_eq!(
            parse(json!({"stop": many}))
                .validate("generation")
                .unwrap_err()
                .path,
            "generation.stop"
        );
        parse(json!({"temperature": 0, "top_p": 1, "stop": "x", "prefill_think": true}))
            .validate("generation")
            .unwrap();
    }
}
