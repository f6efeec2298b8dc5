//! LLM-judge prompts and verdicts for `llm_judge` tasks (no IO: the engine makes the call).
//!
//! **Single mode** asks the judge to grade the answer on the task's scale (default 1–10),
//! against the reference answer when the sample has one, and to reply with a JSON object
//! `{"reasoning": …, "score": N}`. **Pairwise mode** shows the answer and the reference answer
//! as "Answer A" and "Answer B" and asks which is better (`{"reasoning": …, "winner": "A" | "B"
//! | "tie"}`); the answer is A on even sample indices and B on odd ones, so a judge that prefers
//! one position cannot favour the model across a task. The candidate scores 1 for a win, 0.5
//! for a tie and 0 for a loss.
//!
//! Verdicts are read leniently — a JSON object anywhere in the reply (code fences allowed), else
//! the last `Score: N` / `Rating: N` / `N/MAX` (single) or `Winner: A` / `[[A]]` (pairwise) —
//! but strictly checked: a score outside the scale or no verdict at all is an error, never 0.

use assay_domain::manifest::{JudgeConfig, JudgeMode};
use assay_domain::template;
use regex::Regex;
use serde_json::{json, Value};
use std::sync::LazyLock;

/// The rubric when a task gives none and its samples have a reference answer.
pub const DEFAULT_RUBRIC_WITH_REFERENCE: &str = "Grade whether the answer is correct and \
complete when compared with the reference answer. Differences in wording, formatting or \
length do not matter; missing, wrong or contradicting facts do.";
/// The rubric when a task gives none and the sample has no reference answer.
pub const DEFAULT_RUBRIC: &str = "Grade how correct, relevant and helpful the answer is for \
the task.";

/// Longest reasoning kept from a verdict, in bytes.
const MAX_REASONING_BYTES: usize = 8 * 1024;

/// The sample being judged.
#[derive(Debug, Clone, Copy)]
pub struct JudgeInput<'a> {
    /// The prompt the candidate model answered.
    pub prompt: &'a str,
    /// The candidate's answer (after output extraction).
    pub output: &'a str,
    /// The reference answer, when the sample has one.
    pub target: Option<&'a str>,
    /// The sample's index within its task (chooses the pairwise position).
    pub sample_index: i64,
    /// The sample's dataset row (visible to a custom `prompt_template` as `row`).
    pub row: Option<&'a serde_json::Map<String, Value>>,
}

/// A rendered judge prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct JudgePrompt {
    pub text: String,
    /// Pairwise mode: where the candidate's answer was shown, `"A"` or `"B"`.
    pub candidate_position: Option<&'static str>,
}

/// What the judge decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The candidate's score: on the scale (single), or 1 / 0.5 / 0 (pairwise).
    pub score: f64,
    /// The judge's stated reasons, when it gave any.
    pub reasoning: Option<String>,
    /// Pairwise mode: the winner as the judge named it (`"A"`, `"B"` or `"tie"`).
    pub winner: Option<String>,
}

impl Verdict {
    /// Whether the score reaches the task's pass threshold.
    pub fn passed(&self, config: &JudgeConfig) -> bool {
        self.score >= config.pass_threshold
    }
}

fn number_text(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// Renders the judge prompt for one sample. Errors: pairwise mode without a reference answer,
/// or a custom `prompt_template` that fails to render.
pub fn judge_prompt(config: &JudgeConfig, input: &JudgeInput<'_>) -> Result<JudgePrompt, String> {
    let target = input.target.filter(|t| !t.trim().is_empty());
    let rubric = config.rubric.clone().unwrap_or_else(|| {
        match target {
            Some(_) => DEFAULT_RUBRIC_WITH_REFERENCE,
            None => DEFAULT_RUBRIC,
        }
        .to_string()
    });
    let (min, max) = config.scale;
    let (answer_a, answer_b, position) = match config.mode {
        JudgeMode::Single => (None, None, None),
        JudgeMode::Pairwise => {
            let Some(reference) = target else {
                return Err(
                    "pairwise judging needs a reference answer (the sample's target is empty)"
                        .into(),
                );
            };
            if input.sample_index.rem_euclid(2) == 0 {
                (Some(input.output), Some(reference), Some("A"))
            } else {
                (Some(reference), Some(input.output), Some("B"))
            }
        }
    };
    if let Some(src) = &config.prompt_template {
        let context = json!({
            "prompt": input.prompt,
            "output": input.output,
            "target": target,
            "rubric": rubric,
            "min": min,
            "max": max,
            "answer_a": answer_a,
            "answer_b": answer_b,
            "row": input.row,
        });
        let text =
            template::render(src, &context).map_err(|e| format!("judge prompt_template: {e}"))?;
        return Ok(JudgePrompt {
            text,
            candidate_position: position,
        });
    }
    let mut text = String::new();
    match config.mode {
        JudgeMode::Single => {
            text.push_str("You are an impartial grader. ");
            text.push_str(&rubric);
            text.push_str("\n\n[Task]\n");
            text.push_str(input.prompt.trim_end());
            if let Some(reference) = target {
                text.push_str("\n\n[Reference answer]\n");
                text.push_str(reference.trim_end());
            }
            text.push_str("\n\n[Answer to grade]\n");
            text.push_str(input.output.trim_end());
            text.push_str(&format!(
                "\n\nGive the answer a score from {lo} (worst) to {hi} (best). Reply with only a \
                 JSON object: {{\"reasoning\": \"<one or two sentences>\", \"score\": <number \
                 from {lo} to {hi}>}}",
                lo = number_text(min),
                hi = number_text(max),
            ));
        }
        JudgeMode::Pairwise => {
            text.push_str("You are an impartial grader comparing two answers to the same task. ");
            text.push_str(&rubric);
            text.push_str("\n\n[Task]\n");
            text.push_str(input.prompt.trim_end());
            text.push_str("\n\n[Answer A]\n");
            text.push_str(answer_a.unwrap_or_default().trim_end());
            text.push_str("\n\n[Answer B]\n");
            text.push_str(answer_b.unwrap_or_default().trim_end());
            text.push_str(
                "\n\nWhich answer is better? The order of the answers says nothing about their \
                 quality. Reply with only a JSON object: {\"reasoning\": \"<one or two \
                 sentences>\", \"winner\": \"A\" or \"B\" or \"tie\"}",
            );
        }
    }
    Ok(JudgePrompt {
        text,
        candidate_position: position,
    })
}

/// Reads the judge's reply. `candidate_position` is the prompt's (pairwise mode).
pub fn parse_verdict(
    config: &JudgeConfig,
    reply: &str,
    candidate_position: Option<&str>,
) -> Result<Verdict, String> {
    let objects = json_objects(reply);
    let reasoning_of = |o: &serde_json::Map<String, Value>| {
        ["reasoning", "explanation", "rationale", "reason"]
            .iter()
            .find_map(|k| o.get(*k).and_then(Value::as_str))
            .map(clip)
    };
    match config.mode {
        JudgeMode::Single => {
            let (lo, hi) = config.scale;
            let from_json = objects.iter().rev().find_map(|o| {
                let v = ["score", "rating", "grade"]
                    .iter()
                    .find_map(|k| o.get(*k))?;
                let score = match v {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.trim().parse::<f64>().ok(),
                    _ => None,
                }?;
                Some((score, reasoning_of(o)))
            });
            let (score, reasoning) = match from_json {
                Some(found) => found,
                None => {
                    let score = labelled_score(reply, hi).ok_or_else(|| {
                        format!("no score found in the judge's reply: {}", preview(reply))
                    })?;
                    (score, prose_reasoning(reply))
                }
            };
            if !score.is_finite() || score < lo || score > hi {
                return Err(format!(
                    "the judge's score {score} is outside the scale {}..{}",
                    number_text(lo),
                    number_text(hi)
                ));
            }
            Ok(Verdict {
                score,
                reasoning,
                winner: None,
            })
        }
        JudgeMode::Pairwise => {
            let position = candidate_position.unwrap_or("A");
            let from_json = objects.iter().rev().find_map(|o| {
                let w = ["winner", "verdict", "better"]
                    .iter()
                    .find_map(|k| o.get(*k).and_then(Value::as_str))?;
                Some((winner_label(w)?, reasoning_of(o)))
            });
            let (winner, reasoning) = match from_json {
                Some(found) => found,
                None => {
                    let w = labelled_winner(reply).ok_or_else(|| {
                        format!("no winner found in the judge's reply: {}", preview(reply))
                    })?;
                    (w, prose_reasoning(reply))
                }
            };
            let score = match winner {
                "tie" => 0.5,
                w if w == position => 1.0,
                _ => 0.0,
            };
            Ok(Verdict {
                score,
                reasoning,
                winner: Some(winner.to_string()),
            })
        }
    }
}

fn winner_label(s: &str) -> Option<&'static str> {
    let t = s
        .trim()
        .trim_matches(|c: char| c == '[' || c == ']' || c == '"' || c == '.');
    let lower = t.to_ascii_lowercase();
    let t = match lower.strip_prefix("a ") {
        Some(rest) if matches!(rest.trim(), "tie" | "draw") => rest.trim(),
        _ => t,
    };
    let t = t
        .strip_prefix("Answer ")
        .or_else(|| t.strip_prefix("answer "))
        .unwrap_or(t);
    match t.to_ascii_lowercase().as_str() {
        "a" => Some("A"),
        "b" => Some("B"),
        "tie" | "c" | "draw" | "equal" | "both" => Some("tie"),
        _ => None,
    }
}

static SCORE_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(?:score|rating|grade)\b"?\s*\**\s*[:=]?\s*\**\s*"?(-?\d+(?:\.\d+)?)"#)
        .expect("static regex")
});
static SCORE_FRACTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(-?\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)").expect("static regex"));
static WINNER_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(?:winner|verdict|better answer)\b"?\s*\**\s*[:=]?\s*\**\s*"?\[?\s*(?:answer\s+)?((?:a\s+)?(?:tie|draw)\b|[AB]\b)"#)
        .expect("static regex")
});
static WINNER_BRACKETS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\[\[\s*(A|B|C|tie)\s*\]\]").expect("static regex"));

/// The last `Score: N`-style label, else the last `N/MAX` with the scale's maximum.
fn labelled_score(reply: &str, max: f64) -> Option<f64> {
    if let Some(c) = SCORE_LABEL.captures_iter(reply).last() {
        return c.get(1)?.as_str().parse().ok();
    }
    SCORE_FRACTION
        .captures_iter(reply)
        .filter(|c| {
            c.get(2)
                .and_then(|d| d.as_str().parse::<f64>().ok())
                .is_some_and(|d| d == max)
        })
        .last()
        .and_then(|c| c.get(1)?.as_str().parse().ok())
}

fn labelled_winner(reply: &str) -> Option<&'static str> {
    let labelled = WINNER_LABEL
        .captures_iter(reply)
        .last()
        .and_then(|c| winner_label(c.get(1)?.as_str()));
    labelled.or_else(|| {
        WINNER_BRACKETS
            .captures_iter(reply)
            .last()
            .and_then(|c| winner_label(c.get(1)?.as_str()))
    })
}

/// Every JSON object in `text` (balanced braces outside strings), outermost ones only.
fn json_objects(text: &str) -> Vec<serde_json::Map<String, Value>> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut start = 0;
    while let Some(offset) = text[start..].find('{') {
        let open = start + offset;
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escaped = false;
        let mut end = None;
        for (i, &b) in bytes.iter().enumerate().skip(open) {
            if in_string {
                match b {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(end) = end else {
            // An unclosed brace (e.g. quoted in prose): look for objects after it.
            start = open + 1;
            continue;
        };
        match serde_json::from_str::<Value>(&text[open..=end]) {
            Ok(Value::Object(o)) => {
                found.push(o);
                start = end + 1;
            }
            _ => start = open + 1,
        }
    }
    found
}

/// The reply without its verdict line, as the judge's reasons (prose replies).
fn prose_reasoning(reply: &str) -> Option<String> {
    let kept: Vec<&str> = reply
        .lines()
        .filter(|l| {
            !SCORE_LABEL.is_match(l) && !WINNER_LABEL.is_match(l) && !WINNER_BRACKETS.is_match(l)
        })
        .collect();
    let text = kept.join("\n");
    let text = text.trim();
    (!text.is_empty()).then(|| clip(text))
}

fn clip(s: &str) -> String {
    if s.len() <= MAX_REASONING_BYTES {
        return s.to_string();
    }
    let mut end = MAX_REASONING_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn preview(s: &str) -> String {
    let t = s.trim();
    if t.is_empty() {
        return "(empty)".into();
    }
    let mut end = t.len().min(200);
    while !t.is_char_boundary(end) {
        end -= 1;
    }
    if end < t.len() {
        format!("{:?}…", &t[..end])
    } else {
        format!("{t:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(metadata: Value) -> JudgeConfig {
        JudgeConfig::from_metadata(metadata.as_object(), "m").unwrap()
    }

    fn input(index: i64) -> JudgeInput<'static> {
        JudgeInput {
            prompt: "What is the capital of France?",
            output: "Paris",
            target: Some("Paris"),
            sample_index: index,
            row: None,
        }
    }

    #[test]
    fn single_prompt_shows_task_reference_answer_and_scale() {
        let p = judge_prompt(&config(json!({})), &input(0)).unwrap();
        assert!(p.text.contains("[Task]\nWhat is the capital of France?"));
        assert!(p.text.contains("[Reference answer]\nParis"));
        assert!(p.text.contains("[Answer to grade]\nParis"));
        assert!(p.text.contains("from 1 (worst) to 10 (best)"));
        assert!(p.text.contains(DEFAULT_RUBRIC_WITH_REFERENCE));
        assert_eq!(p.candidate_position, None);
        let no_ref = JudgeInput {
            target: None,
            ..input(0)
        };
        let p = judge_prompt(&config(json!({})), &no_ref).unwrap();
        assert!(!p.text.contains("[Reference answer]"));
        assert!(p.text.contains(DEFAULT_RUBRIC));
        let custom = config(json!({"judge": {"rubric": "Only spelling counts.", "scale": [0, 5]}}));
        let p = judge_prompt(&custom, &input(0)).unwrap();
        assert!(p.text.contains("Only spelling counts."));
        assert!(p.text.contains("from 0 (worst) to 5 (best)"));
    }

    #[test]
    fn pairwise_alternates_the_candidate_position() {
        let c = config(json!({"judge": {"mode": "pairwise"}}));
        let even = judge_prompt(&c, &input(4)).unwrap();
        assert_eq!(even.candidate_position, Some("A"));
        let odd = judge_prompt(&c, &input(7)).unwrap();
        assert_eq!(odd.candidate_position, Some("B"));
        let no_ref = JudgeInput {
            target: Some("  "),
            ..input(0)
        };
        assert!(judge_prompt(&c, &no_ref).unwrap_err().contains("reference"));
    }

    #[test]
    fn custom_template_sees_the_sample() {
        let c = config(
            json!({"judge": {"prompt_template": "Q={{prompt}} A={{output}} R={{target}} {{min}}-{{max}}"}}),
        );
        let p = judge_prompt(&c, &input(0)).unwrap();
        assert_eq!(
            p.text,
            "Q=What is the capital of France? A=Paris R=Paris 1.0-10.0"
        );
        let bad = config(json!({"judge": {"prompt_template": "{{ missing }}"}}));
        assert!(judge_prompt(&bad, &input(0)).is_err());
    }

    #[test]
    fn single_verdicts_are_read_from_json_or_labels() {
        let c = config(json!({}));
        let v = parse_verdict(&c, r#"{"reasoning": "Correct.", "score": 9}"#, None).unwrap();
        assert_eq!((v.score, v.reasoning.as_deref()), (9.0, Some("Correct.")));
        let fenced =
            "Here you go:\n```json\n{\"score\": \"8.5\", \"explanation\": \"ok {fine}\"}\n```";
        let v = parse_verdict(&c, fenced, None).unwrap();
        assert_eq!((v.score, v.reasoning.as_deref()), (8.5, Some("ok {fine}")));
        let v = parse_verdict(&c, "The answer is right.\nScore: 10", None).unwrap();
        assert_eq!(
            (v.score, v.reasoning.as_deref()),
            (10.0, Some("The answer is right."))
        );
        let v = parse_verdict(&c, "**Rating:** 3", None).unwrap();
        assert_eq!(v.score, 3.0);
        let v = parse_verdict(&c, "Mostly wrong, I give it 2/10.", None).unwrap();
        assert_eq!(v.score, 2.0);
        // A stray brace before the verdict does not hide it.
        let v = parse_verdict(&c, "It leaves `{` open.\n{\"score\": 7}", None).unwrap();
        assert_eq!(v.score, 7.0);
        let v = parse_verdict(&c, "broken {\"score\": 6", None).unwrap();
        assert_eq!(v.score, 6.0);
        // The last labelled score wins (a judge revising itself).
        let v = parse_verdict(&c, "Score: 4\nOn reflection, Score: 6", None).unwrap();
        assert_eq!(v.score, 6.0);
    }

    #[test]
    fn unreadable_or_out_of_scale_verdicts_are_errors() {
        let c = config(json!({}));
        for reply in [
            "",
            "I think it is good.",
            "{\"score\": null}",
            "Score: 11",
            "{\"score\": 0}",
        ] {
            assert!(parse_verdict(&c, reply, None).is_err(), "{reply:?}");
        }
    }

    #[test]
    fn pairwise_verdicts_score_the_candidate() {
        let c = config(json!({"judge": {"mode": "pairwise"}}));
        let win = parse_verdict(
            &c,
            r#"{"winner": "A", "reasoning": "A is right"}"#,
            Some("A"),
        )
        .unwrap();
        assert_eq!((win.score, win.winner.as_deref()), (1.0, Some("A")));
        let loss = parse_verdict(&c, r#"{"winner": "A"}"#, Some("B")).unwrap();
        assert_eq!(loss.score, 0.0);
        let tie = parse_verdict(&c, "Both are fine.\nWinner: tie", Some("B")).unwrap();
        assert_eq!(tie.score, 0.5);
        let brackets = parse_verdict(&c, "My verdict: [[B]]", Some("B")).unwrap();
        assert_eq!(brackets.score, 1.0);
        for reply in [
            "Winner: a tie",
            "Verdict: a tie.",
            "Final verdict: a draw",
            "{\"winner\": \"a tie\"}",
        ] {
            let v = parse_verdict(&c, reply, Some("B")).unwrap();
            assert_eq!(v.score, 0.5, "{reply}");
        }
        let v = parse_verdict(&c, "Winner: Answer B", Some("B")).unwrap();
        assert_eq!(v.score, 1.0);
        assert!(parse_verdict(&c, "{\"winner\": \"neither\"}", Some("A")).is_err());
        assert!(parse_verdict(&c, "no idea", Some("A")).is_err());
    }

    #[test]
    fn passing_uses_the_threshold() {
        let c = config(json!({"pass_threshold": 8}));
        let v = parse_verdict(&c, "Score: 8", None).unwrap();
        assert!(v.passed(&c));
        let v = parse_verdict(&c, "Score: 7.5", None).unwrap();
        assert!(!v.passed(&c));
    }
}
