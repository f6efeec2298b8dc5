//! `EvalOutputExtraction`: how the answer is pulled out of a model's output text.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

/// Most lines `take_first` may keep.
pub const MAX_TAKE_FIRST_LINES: i64 = 10_000;

/// Regex flag letters `flags` may use: `i` case-insensitive, `m` multi-line, `s` dot matches
/// newline, `x` verbose, `u` Unicode (always on, accepted as a no-op).
pub const REGEX_FLAGS: &str = "imsxu";

/// How the answer is pulled out of the model output, by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
#[schema(as = EvalOutputExtraction)]
pub enum OutputExtraction {
    /// Use the raw output text.
    None,
    /// Keep the first `lines` lines.
    TakeFirst(TakeFirstExtraction),
    /// The first match of `pattern`.
    Regex(RegexExtraction),
    /// The last match of `pattern`.
    RegexLast(RegexExtraction),
    /// Map the output to one of a fixed set of labels.
    LabelSet(LabelSetExtraction),
    /// Pull a number out of the output.
    Number,
}

impl OutputExtraction {
    /// The variant names, i.e. the values `type` may take.
    pub const TYPES: [&'static str; 6] = [
        "none",
        "take_first",
        "regex",
        "regex_last",
        "label_set",
        "number",
    ];
}

/// Fields of the `take_first` extraction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TakeFirstExtraction {
    /// Number of leading lines to keep, 1 to 10000.
    #[serde(default = "one")]
    #[schema(default = 1, minimum = 1, maximum = 10000)]
    pub lines: i64,
}

fn one() -> i64 {
    1
}

/// Fields of the `regex` and `regex_last` extractions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RegexExtraction {
    /// The regular expression (Python/PCRE-like syntax, including look-around and
    /// back-references).
    #[schema(min_length = 1)]
    pub pattern: String,
    /// The capture group to extract: its number or its name. Without it, the whole match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<ExtractionGroup>,
    /// Regex flag letters from `imsxu`, e.g. `"i"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[imsxu]*$")]
    pub flags: Option<String>,
}

impl RegexExtraction {
    /// The pattern with `flags` applied as an inline prefix (`(?is)…`); an error names the
    /// first letter that is not a known flag.
    pub fn full_pattern(&self) -> Result<String, String> {
        let mut prefix = String::new();
        for c in self.flags.as_deref().unwrap_or("").chars() {
            if !REGEX_FLAGS.contains(c) {
                return Err(format!(
                    "unknown regex flag `{c}`; flags are letters from `{REGEX_FLAGS}`"
                ));
            }
            // `u` is always on; repeated letters are harmless but skipped.
            if c != 'u' && !prefix.contains(c) {
                prefix.push(c);
            }
        }
        Ok(if prefix.is_empty() {
            self.pattern.clone()
        } else {
            format!("(?{prefix}){}", self.pattern)
        })
    }

    /// Compiles the pattern with its flags. Error positions count from the start of
    /// `pattern` whenever the pattern is broken without its flags too.
    pub fn compile(&self) -> Result<fancy_regex::Regex, String> {
        let full = self.full_pattern()?;
        fancy_regex::Regex::new(&full).map_err(|err| {
            let err = if full.len() != self.pattern.len() {
                // The flag prefix shifts positions: prefer the bare pattern's own error.
                fancy_regex::Regex::new(&self.pattern).err().unwrap_or(err)
            } else {
                err
            };
            format!("invalid regex: {err}")
        })
    }
}

/// A capture group, by number (0 = the whole match) or by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ExtractionGroup {
    /// Group number.
    Index(i64),
    /// Group name.
    Name(String),
}

impl<'de> Deserialize<'de> for ExtractionGroup {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct GroupVisitor;

        impl Visitor<'_> for GroupVisitor {
            type Value = ExtractionGroup;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a group number or a group name")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(ExtractionGroup::Index(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                i64::try_from(v)
                    .map(ExtractionGroup::Index)
                    .map_err(|_| E::custom("group number out of range"))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ExtractionGroup::Name(v.to_string()))
            }
        }

        deserializer.deserialize_any(GroupVisitor)
    }
}

/// Fields of the `label_set` extraction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LabelSetExtraction {
    /// The labels, non-empty and distinct (case-insensitively unless `case_sensitive`).
    #[schema(min_items = 1)]
    pub labels: Vec<String>,
    /// Whether matching the output against the labels respects case.
    #[serde(default)]
    #[schema(default = false)]
    pub case_sensitive: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn decode(v: Value) -> OutputExtraction {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn variants_decode_with_defaults() {
        assert_eq!(decode(json!({"type": "none"})), OutputExtraction::None);
        assert_eq!(
            decode(json!({"type": "number", "ignored": 1})),
            OutputExtraction::Number
        );
        assert_eq!(
            decode(json!({"type": "take_first"})),
            OutputExtraction::TakeFirst(TakeFirstExtraction { lines: 1 })
        );
        assert_eq!(
            decode(json!({"type": "label_set", "labels": ["yes", "no"]})),
            OutputExtraction::LabelSet(LabelSetExtraction {
                labels: vec!["yes".into(), "no".into()],
                case_sensitive: false
            })
        );
        assert_eq!(
            decode(json!({"type": "regex_last", "pattern": "(a)", "group": 1, "flags": "i"})),
            OutputExtraction::RegexLast(RegexExtraction {
                pattern: "(a)".into(),
                group: Some(ExtractionGroup::Index(1)),
                flags: Some("i".into())
            })
        );
        assert_eq!(
            decode(json!({"type": "regex", "pattern": "(?P<x>a)", "group": "x"})),
            OutputExtraction::Regex(RegexExtraction {
                pattern: "(?P<x>a)".into(),
                group: Some(ExtractionGroup::Name("x".into())),
                flags: None
            })
        );
    }

    #[test]
    fn variants_serialize_with_their_tag() {
        let v = serde_json::to_value(OutputExtraction::TakeFirst(TakeFirstExtraction {
            lines: 3,
        }))
        .unwrap();
        assert_eq!(v, json!({"type": "take_first", "lines": 3}));
        let v = serde_json::to_value(OutputExtraction::None).unwrap();
        assert_eq!(v, json!({"type": "none"}));
    }

    #[test]
    fn flags_become_an_inline_prefix() {
        let re = RegexExtraction {
            pattern: "answer: (\\w+)".into(),
            group: None,
            flags: Some("iuu".into()),
        };
        assert_eq!(re.full_pattern().unwrap(), "(?i)answer: (\\w+)");
        let compiled = re.compile().unwrap();
        let caps = compiled.captures("ANSWER: Yes").unwrap().unwrap();
        assert_eq!(caps.get(1).unwrap().as_str(), "Yes");

        let bad = RegexExtraction {
            flags: Some("ig".into()),
            ..re
        };
        assert!(bad.full_pattern().unwrap_err().contains("`g`"));
    }

    #[test]
    fn compile_errors_point_into_the_pattern() {
        let re = RegexExtraction {
            pattern: "ab(c".into(),
            group: None,
            flags: Some("i".into()),
        };
        let err = re.compile().unwrap_err();
        assert!(err.contains("position 4"), "{err}"); // not 8: the `(?i)` prefix is not counted
    }
}
