//! Output extraction (spec §2.5, §6.4): turns a model's `output_text` into the
//! `extracted_output` that metrics score.
//!
//! The result is an `Option<String>`: `Some(text)` is the extracted answer (possibly empty),
//! `None` means the extraction found nothing (no regex match, no label, no number). A sample
//! whose extraction found nothing is still scored — every built-in metric gives it 0 — and
//! its `extracted_output` is `null`.
//!
//! | `type` | result |
//! |---|---|
//! | absent or `none` | the output exactly as generated (not trimmed; metrics normalize) |
//! | `take_first` | leading blank lines skipped, then the first `lines` lines joined with `\n`, surrounding whitespace trimmed; `Some("")` for a blank output |
//! | `regex` | the first match of the pattern (with `flags`); `group` picks a group by number (0 = whole match, the default) or name; trimmed. `None` without a match or when the group did not take part in the first match |
//! | `regex_last` | the same on the last match |
//! | `label_set` | the label (as declared) that the output names: first the label equal to the whole trimmed output; else the label that occurs earliest as a whole word (an occurrence is not preceded or followed by a letter, digit or `_` where the label itself starts or ends with one), the longest label winning a tie, so `"not sure"` beats `"sure"`. Case-insensitive unless `case_sensitive` |
//! | `number` | the last number in the output, in canonical form (see [`crate::number::last_number`]): `"It costs $1,234.50."` → `"1234.5"` |
//!
//! Regex errors at run time (fancy-regex's backtracking limit on look-around or
//! back-reference patterns) count as no match; nothing here panics.

use crate::normalize::is_word_char;
use crate::number::last_number;
use assay_domain::manifest::{ExtractionGroup, OutputExtraction, RegexExtraction};

/// Why an extraction cannot be prepared. Suite validation rejects all of these, so at run
/// time they only occur for manifests stored before a rule existed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// The pattern or its flags do not compile.
    #[error("{0}")]
    Regex(String),
    /// `group` names no group of the pattern.
    #[error("the pattern has no capture group {0}")]
    Group(String),
    /// `take_first.lines` is below 1.
    #[error("take_first.lines must be at least 1, got {0}")]
    Lines(i64),
}

/// A prepared output extraction: regexes compiled once, reused for every sample.
#[derive(Debug, Clone)]
pub struct Extractor {
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Raw,
    TakeFirst(usize),
    Regex {
        regex: fancy_regex::Regex,
        group: Group,
        last: bool,
    },
    LabelSet {
        /// (label as declared, key compared: trimmed, lowercased unless case-sensitive)
        labels: Vec<(String, String)>,
        case_sensitive: bool,
    },
    Number,
}

#[derive(Debug, Clone)]
enum Group {
    Index(usize),
    Name(String),
}

impl Extractor {
    /// Prepares `extraction` (`None` means use the raw output, like `type: "none"`).
    pub fn new(extraction: Option<&OutputExtraction>) -> Result<Self, ExtractError> {
        let kind = match extraction {
            None | Some(OutputExtraction::None) => Kind::Raw,
            Some(OutputExtraction::Number) => Kind::Number,
            Some(OutputExtraction::TakeFirst(t)) => {
                if t.lines < 1 {
                    return Err(ExtractError::Lines(t.lines));
                }
                Kind::TakeFirst(usize::try_from(t.lines).unwrap_or(usize::MAX))
            }
            Some(OutputExtraction::Regex(r)) => regex_kind(r, false)?,
            Some(OutputExtraction::RegexLast(r)) => regex_kind(r, true)?,
            Some(OutputExtraction::LabelSet(l)) => Kind::LabelSet {
                labels: l
                    .labels
                    .iter()
                    .map(|label| {
                        let key = label.trim();
                        let key = if l.case_sensitive {
                            key.to_string()
                        } else {
                            key.to_lowercase()
                        };
                        (label.clone(), key)
                    })
                    .filter(|(_, key)| !key.is_empty())
                    .collect(),
                case_sensitive: l.case_sensitive,
            },
        };
        Ok(Self { kind })
    }

    /// Extracts the answer from `output`; `None` when nothing matched.
    pub fn extract(&self, output: &str) -> Option<String> {
        match &self.kind {
            Kind::Raw => Some(output.to_string()),
            Kind::TakeFirst(n) => Some(take_first(output, *n)),
            Kind::Regex { regex, group, last } => regex_extract(regex, group, *last, output),
            Kind::LabelSet {
                labels,
                case_sensitive,
            } => label_extract(labels, *case_sensitive, output),
            Kind::Number => last_number(output),
        }
    }
}

/// Extracts the answer from `output` with `extraction` (see the module docs). An extraction
/// that cannot be prepared (see [`ExtractError`]) finds nothing. To extract many outputs,
/// prepare an [`Extractor`] once instead.
pub fn extract(extraction: Option<&OutputExtraction>, output: &str) -> Option<String> {
    Extractor::new(extraction).ok()?.extract(output)
}

fn regex_kind(r: &RegexExtraction, last: bool) -> Result<Kind, ExtractError> {
    let regex = r.compile().map_err(ExtractError::Regex)?;
    let group = match &r.group {
        None => Group::Index(0),
        Some(ExtractionGroup::Index(i)) => {
            let i = usize::try_from(*i)
                .ok()
                .filter(|i| *i < regex.captures_len())
                .ok_or_else(|| ExtractError::Group(i.to_string()))?;
            Group::Index(i)
        }
        Some(ExtractionGroup::Name(name)) => {
            if !regex.capture_names().any(|n| n == Some(name.as_str())) {
                return Err(ExtractError::Group(format!("`{name}`")));
            }
            Group::Name(name.clone())
        }
    };
    Ok(Kind::Regex { regex, group, last })
}

fn take_first(output: &str, n: usize) -> String {
    output
        .lines()
        .skip_while(|l| l.trim().is_empty())
        .take(n)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

fn regex_extract(
    regex: &fancy_regex::Regex,
    group: &Group,
    last: bool,
    output: &str,
) -> Option<String> {
    let caps = if last {
        let mut found = None;
        for caps in regex.captures_iter(output) {
            // A run-time error (backtrack limit) anywhere means the last match is unknown.
            found = Some(caps.ok()?);
        }
        found?
    } else {
        regex.captures(output).ok()??
    };
    let m = match group {
        Group::Index(i) => caps.get(*i),
        Group::Name(name) => caps.name(name),
    }?;
    Some(m.as_str().trim().to_string())
}

fn label_extract(
    labels: &[(String, String)],
    case_sensitive: bool,
    output: &str,
) -> Option<String> {
    let hay = if case_sensitive {
        output.to_string()
    } else {
        output.to_lowercase()
    };
    let trimmed = hay.trim();
    if let Some((label, _)) = labels.iter().find(|(_, key)| key == trimmed) {
        return Some(label.clone());
    }
    // (position, length in chars, label)
    let mut best: Option<(usize, usize, &String)> = None;
    for (label, key) in labels {
        let Some(pos) = whole_word_find(&hay, key) else {
            continue;
        };
        let len = key.chars().count();
        let better = match best {
            None => true,
            Some((p, l, _)) => pos < p || (pos == p && len > l),
        };
        if better {
            best = Some((pos, len, label));
        }
    }
    best.map(|(_, _, label)| label.clone())
}

/// Byte position of the first occurrence of `needle` in `hay` that stands as a whole word.
fn whole_word_find(hay: &str, needle: &str) -> Option<usize> {
    let starts_word = needle.chars().next().is_some_and(is_word_char);
    let ends_word = needle.chars().next_back().is_some_and(is_word_char);
    hay.match_indices(needle).map(|(i, _)| i).find(|&i| {
        let before = hay[..i].chars().next_back();
        let after = hay[i + needle.len()..].chars().next();
        let joined_before = starts_word && before.is_some_and(is_word_char);
        let joined_after = ends_word && after.is_some_and(is_word_char);
        !joined_before && !joined_after
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use assay_domain::manifest::{LabelSetExtraction, TakeFirstExtraction};

    fn regex(
        pattern: &str,
        group: Option<ExtractionGroup>,
        flags: Option<&str>,
    ) -> RegexExtraction {
        RegexExtraction {
            pattern: pattern.into(),
            group,
            flags: flags.map(Into::into),
        }
    }

    fn first(pattern: &str, group: Option<ExtractionGroup>, output: &str) -> Option<String> {
        extract(
            Some(&OutputExtraction::Regex(regex(pattern, group, None))),
            output,
        )
    }

    fn last(pattern: &str, group: Option<ExtractionGroup>, output: &str) -> Option<String> {
        extract(
            Some(&OutputExtraction::RegexLast(regex(pattern, group, None))),
            output,
        )
    }

    fn labels(list: &[&str], case_sensitive: bool, output: &str) -> Option<String> {
        extract(
            Some(&OutputExtraction::LabelSet(LabelSetExtraction {
                labels: list.iter().map(|s| s.to_string()).collect(),
                case_sensitive,
            })),
            output,
        )
    }

    fn take(lines: i64, output: &str) -> Option<String> {
        extract(
            Some(&OutputExtraction::TakeFirst(TakeFirstExtraction { lines })),
            output,
        )
    }

    #[test]
    fn none_keeps_the_raw_output() {
        let out = "  Answer: B \n";
        assert_eq!(extract(None, out).as_deref(), Some(out));
        assert_eq!(
            extract(Some(&OutputExtraction::None), out).as_deref(),
            Some(out)
        );
        assert_eq!(extract(None, "").as_deref(), Some(""));
    }

    #[test]
    fn take_first_lines() {
        assert_eq!(take(1, "Paris\nbecause...").as_deref(), Some("Paris"));
        assert_eq!(take(1, "\n\n  \n  Paris  \nmore").as_deref(), Some("Paris"));
        assert_eq!(take(2, "a\r\nb\r\nc").as_deref(), Some("a\nb"));
        assert_eq!(take(2, "a\n\nc").as_deref(), Some("a")); // inner blank line counts
        assert_eq!(take(5, "only").as_deref(), Some("only"));
        assert_eq!(take(1, "").as_deref(), Some(""));
        assert_eq!(take(1, "\n \n").as_deref(), Some(""));
        assert_eq!(take(0, "x"), None); // invalid: rejected at validation
        assert_eq!(
            Extractor::new(Some(&OutputExtraction::TakeFirst(TakeFirstExtraction {
                lines: 0
            })))
            .unwrap_err(),
            ExtractError::Lines(0)
        );
    }

    #[test]
    fn regex_first_and_last() {
        let out = "Answer: A ... on reflection, Answer: C";
        assert_eq!(
            first(r"Answer:\s*([A-D])", None, out).as_deref(),
            Some("Answer: A")
        );
        let g1 = Some(ExtractionGroup::Index(1));
        assert_eq!(
            first(r"Answer:\s*([A-D])", g1.clone(), out).as_deref(),
            Some("A")
        );
        assert_eq!(
            last(r"Answer:\s*([A-D])", g1.clone(), out).as_deref(),
            Some("C")
        );
        assert_eq!(
            last(r"Answer:\s*([A-D])", Some(ExtractionGroup::Index(0)), out).as_deref(),
            Some("Answer: C")
        );
        assert_eq!(first(r"Answer:\s*([A-D])", g1.clone(), "no answer"), None);
        assert_eq!(last(r"Answer:\s*([A-D])", g1, "no answer"), None);
        // named groups
        let named = Some(ExtractionGroup::Name("ans".into()));
        assert_eq!(
            last(r"(?P<ans>\d+) apples", named.clone(), "3 apples, 5 apples").as_deref(),
            Some("5")
        );
        // whole match is trimmed
        assert_eq!(first(r"\s+x\s+", None, "a  x  b").as_deref(), Some("x"));
    }

    #[test]
    fn regex_flags_apply() {
        let r = OutputExtraction::Regex(regex(
            r"answer: (\w+)",
            Some(ExtractionGroup::Index(1)),
            Some("i"),
        ));
        assert_eq!(extract(Some(&r), "ANSWER: Yes").as_deref(), Some("Yes"));
        let r = OutputExtraction::Regex(regex(r"^b$", None, Some("m")));
        assert_eq!(extract(Some(&r), "a\nb\nc").as_deref(), Some("b"));
    }

    #[test]
    fn regex_group_not_participating_is_no_match() {
        let g2 = Some(ExtractionGroup::Index(2));
        assert_eq!(first(r"(a)|(b)", g2.clone(), "a then b"), None);
        assert_eq!(
            first(r"(a)|(b)", g2.clone(), "b then a").as_deref(),
            Some("b")
        );
        assert_eq!(last(r"(a)|(b)", g2, "b then a"), None);
    }

    #[test]
    fn regex_fancy_features_and_empty_matches() {
        // look-behind and back-reference (fancy-regex)
        assert_eq!(
            first(r"(?<=\$)\d+", None, "cost $12").as_deref(),
            Some("12")
        );
        assert_eq!(first(r"(\w)\1", None, "abba").as_deref(), Some("bb"));
        // an empty match is a match (of the empty string)
        assert_eq!(first(r"\d*", None, "abc").as_deref(), Some(""));
        assert_eq!(last(r"x*", None, "xx y").as_deref(), Some(""));
    }

    #[test]
    fn regex_backtrack_limit_is_no_match() {
        // Catastrophic backtracking through a back-reference hits fancy-regex's limit.
        let out = format!("{}!", "a".repeat(40));
        assert_eq!(first(r"^(a+)+\1$", None, &out), None);
        assert_eq!(last(r"^(a+)+\1$", None, &out), None);
    }

    #[test]
    fn regex_runtime_error_after_a_match() {
        // `b` matches first; the later run of `a`s exhausts a small backtracking budget.
        let re = fancy_regex::RegexBuilder::new(r"(?:(a+)+\1!)|b")
            .backtrack_limit(1_000)
            .build()
            .unwrap();
        let text = format!("b {}?", "a".repeat(30));
        assert!(re.captures_from_pos(&text, 2).is_err()); // the error path is real
        let whole = Group::Index(0);
        assert_eq!(
            regex_extract(&re, &whole, false, &text).as_deref(),
            Some("b")
        );
        assert_eq!(regex_extract(&re, &whole, true, &text), None);
    }

    #[test]
    fn regex_invalid_or_bad_group_finds_nothing() {
        assert_eq!(first(r"(unclosed", None, "unclosed"), None);
        assert_eq!(first(r"(a)", Some(ExtractionGroup::Index(3)), "a"), None);
        assert_eq!(first(r"(a)", Some(ExtractionGroup::Index(-1)), "a"), None);
        assert_eq!(
            first(r"(a)", Some(ExtractionGroup::Name("x".into())), "a"),
            None
        );
        let err = Extractor::new(Some(&OutputExtraction::Regex(regex(
            "(a)",
            Some(ExtractionGroup::Name("x".into())),
            None,
        ))))
        .unwrap_err();
        assert!(matches!(err, ExtractError::Group(_)));
    }

    #[test]
    fn label_set_exact_then_whole_word() {
        let l = ["positive", "negative", "neutral"];
        assert_eq!(
            labels(&l, false, "  Positive \n").as_deref(),
            Some("positive")
        );
        assert_eq!(
            labels(&l, false, "The sentiment is **Negative**.").as_deref(),
            Some("negative")
        );
        // earliest occurrence wins
        assert_eq!(
            labels(&l, false, "neutral, not positive").as_deref(),
            Some("neutral")
        );
        // whole words only: "positively" is not "positive"
        assert_eq!(labels(&l, false, "positively unclear"), None);
        assert_eq!(labels(&l, false, "I cannot tell"), None);
        assert_eq!(labels(&l, false, ""), None);
    }

    #[test]
    fn label_set_longest_wins_ties() {
        let l = ["sure", "not sure"];
        assert_eq!(
            labels(&l, false, "I am not sure.").as_deref(),
            Some("not sure")
        );
        assert_eq!(labels(&l, false, "Not sure").as_deref(), Some("not sure"));
        assert_eq!(labels(&l, false, "sure thing").as_deref(), Some("sure"));
        let l = ["positive", "positive review"];
        assert_eq!(
            labels(&l, false, "a positive review overall").as_deref(),
            Some("positive review")
        );
    }

    #[test]
    fn label_set_case_and_declared_spelling() {
        let l = ["Yes", "No"];
        assert_eq!(labels(&l, false, "yes").as_deref(), Some("Yes"));
        assert_eq!(labels(&l, true, "yes"), None);
        assert_eq!(labels(&l, true, "Yes!").as_deref(), Some("Yes"));
        // Labels that start or end with punctuation need no word boundary there.
        let l = ["(A)", "(B)"];
        assert_eq!(labels(&l, false, "I pick(B)").as_deref(), Some("(B)"));
        // Unicode labels and case folding
        let l = ["Так", "Ні"];
        assert_eq!(labels(&l, false, "Відповідь: ТАК").as_deref(), Some("Так"));
    }

    #[test]
    fn number_extraction() {
        let n = |s: &str| extract(Some(&OutputExtraction::Number), s);
        assert_eq!(n("It costs $1,234.50.").as_deref(), Some("1234.5"));
        assert_eq!(
            n("Step 1: 3 + 4 = 7. So the answer is -7").as_deref(),
            Some("-7")
        );
        assert_eq!(n("about 1e-3").as_deref(), Some("0.001"));
        assert_eq!(n("3/4 of them").as_deref(), Some("3/4"));
        assert_eq!(n("75%").as_deref(), Some("75"));
        assert_eq!(
            n("\\boxed{12} (checked with 3 methods)").as_deref(),
            Some("12")
        );
        assert_eq!(n("none"), None);
    }

    #[test]
    fn extractor_is_reusable() {
        let e = Extractor::new(Some(&OutputExtraction::RegexLast(regex(
            r"[ABCD]", None, None,
        ))))
        .unwrap();
        assert_eq!(e.extract("A or B").as_deref(), Some("B"));
        assert_eq!(e.extract("C").as_deref(), Some("C"));
        assert_eq!(e.extract("none"), None);
    }
}
