//! `accuracy`: does the prediction name the target choice?

use crate::normalize::normalize_answer;
use regex::Regex;
use std::sync::LazyLock;

/// The whole answer is one letter, optionally bracketed and followed by `.`, `:` or `)`:
/// `B`, `b`, `(B)`, `[B]`, `B.`, `B)`, `B:`.
static BARE_LETTER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[(\[]?\s*([A-Za-z])\s*[)\]]?\s*[.:)]?$").unwrap());

/// The answer starts with an upper-case option marker and then the option's text:
/// `B. Paris`, `(B) Paris`, `B) Paris`, `B: Paris`.
static LEADING_LETTER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[(\[]?([A-Z])(?:[)\]]|[.:])\s").unwrap());

/// An answer phrase naming an upper-case letter: `Answer: B`, `the answer is (C)`,
/// `correct option is D.`, `Choice: [A]`.
static ANSWER_PHRASE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i:\b(?:answer|option|choice))\s*(?:(?i:is|would\s+be|should\s+be)\s*)?[:=\-]?\s*(?:(?i:option|choice)\s*)?[(\[]?([A-Z])(?:[)\]]|[^\p{L}\p{N}_]|$)",
    )
    .unwrap()
});

/// Markdown emphasis, code ticks and quotes around an answer.
fn strip_markup(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, '*' | '`' | '"' | '“' | '”'))
        .collect::<String>()
        .trim()
        .to_string()
}

fn letter_index(letter: &str) -> usize {
    let c = letter.chars().next().unwrap_or('A').to_ascii_uppercase();
    (c as u8 - b'A') as usize
}

/// The option letter an answer names (`0` for A), found in this order: the whole answer is
/// a letter (any case: `b`, `(B)`, `B.`; returned even when it is not below `n`, so that
/// `E` among four choices names none); it starts with an upper-case marker followed by
/// text (`B. Paris`); the last answer phrase naming an upper-case letter below `n`
/// (`Answer: B`, `the answer is (B)`; in `Answer: I believe the answer is B` the `I` is
/// skipped).
fn predicted_letter(text: &str, n: usize) -> Option<usize> {
    if let Some(c) = BARE_LETTER.captures(text) {
        return Some(letter_index(&c[1]));
    }
    if let Some(c) = LEADING_LETTER.captures(text) {
        let i = letter_index(&c[1]);
        if i < n {
            return Some(i);
        }
    }
    ANSWER_PHRASE
        .captures_iter(text)
        .map(|c| letter_index(&c[1]))
        .filter(|i| *i < n)
        .last()
}

/// Index of the choice a text names by its content: equal to a choice (trimmed, then after
/// SQuAD normalization).
fn choice_by_text(text: &str, choices: &[String]) -> Option<usize> {
    if let Some(i) = choices.iter().position(|c| c.trim() == text) {
        return Some(i);
    }
    let norm = normalize_answer(text);
    if norm.is_empty() {
        return None;
    }
    choices.iter().position(|c| normalize_answer(c) == norm)
}

/// Index of the choice a *target* names: its text, else a letter (`B`, `(B)`), else a
/// 0-based index (`"1"` → the second choice).
fn target_choice(target: &str, choices: &[String]) -> Option<usize> {
    let t = strip_markup(target);
    choice_by_text(&t, choices)
        .or_else(|| {
            BARE_LETTER
                .captures(&t)
                .map(|c| letter_index(&c[1]))
                .filter(|i| *i < choices.len())
        })
        .or_else(|| t.parse::<usize>().ok().filter(|i| *i < choices.len()))
}

/// Index of the choice a *prediction* names, or `None` when it names none or several.
///
/// Tried in order: the prediction equals a choice's text (trimmed, then normalized); it is
/// (or starts with, or states in an answer phrase) an option letter within range — see the
/// crate docs; it is a 0-based index (`"2"`); exactly one choice's normalized text occurs in
/// it as whole words (a choice contained in another matching choice, like `sure` in
/// `not sure`, does not count).
pub fn resolve_choice(prediction: &str, choices: &[String]) -> Option<usize> {
    if choices.is_empty() {
        return None;
    }
    let p = strip_markup(prediction);
    if let Some(i) = choice_by_text(&p, choices) {
        return Some(i);
    }
    if let Some(i) = predicted_letter(&p, choices.len()) {
        return (i < choices.len()).then_some(i);
    }
    if let Ok(i) = p.parse::<usize>() {
        return (i < choices.len()).then_some(i);
    }
    let hay = format!(" {} ", normalize_answer(&p));
    let normalized: Vec<String> = choices.iter().map(|c| normalize_answer(c)).collect();
    let found: Vec<usize> = (0..choices.len())
        .filter(|&i| !normalized[i].is_empty() && hay.contains(&format!(" {} ", normalized[i])))
        .collect();
    let maximal: Vec<usize> = found
        .iter()
        .copied()
        .filter(|&i| {
            !found.iter().any(|&j| {
                j != i
                    && normalized[j] != normalized[i]
                    && format!(" {} ", normalized[j]).contains(&format!(" {} ", normalized[i]))
            })
        })
        .collect();
    match maximal.as_slice() {
        [i] => Some(*i),
        // Duplicate choice texts: the first one.
        [i, rest @ ..] if rest.iter().all(|j| normalized[*j] == normalized[*i]) => Some(*i),
        _ => None,
    }
}

/// 1 when the prediction names the same choice as the target (see [`resolve_choice`] and
/// `target_choice`). When the target names no choice (or the task has none), the
/// prediction must equal the target after SQuAD normalization, or both must name the same
/// option letter.
pub(crate) fn accuracy(prediction: &str, target: &str, choices: &[String]) -> f64 {
    let hit = match target_choice(target, choices) {
        Some(t) => resolve_choice(prediction, choices) == Some(t),
        None => {
            let (p, t) = (strip_markup(prediction), strip_markup(target));
            normalize_answer(&p) == normalize_answer(&t)
                || BARE_LETTER
                    .captures(&t)
                    .is_some_and(|c| predicted_letter(&p, 26) == Some(letter_index(&c[1])))
        }
    };
    if hit {
        1.0
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choices(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn letters_in_many_spellings() {
        let c = choices(&["Paris", "London", "Rome", "Berlin"]);
        for pred in [
            "B",
            "b",
            "(B)",
            "[B]",
            "B.",
            "B)",
            "B:",
            "**B**",
            "B. London",
            "(B) London",
            "Answer: B",
            "The answer is (B).",
            "I think the correct option is B, London.",
            "answer: A ... wait, final answer: B",
            "Answer: I believe the answer is B",
            "Answer: (B)\n\nExplanation: option E is not offered",
            "London",
            "london.",
            "The capital is London.",
            "1",
        ] {
            assert_eq!(accuracy(pred, "B", &c), 1.0, "{pred:?}");
            assert_eq!(accuracy(pred, "London", &c), 1.0, "{pred:?}");
            assert_eq!(accuracy(pred, "1", &c), 1.0, "{pred:?}"); // 0-based index
            assert_eq!(accuracy(pred, "(B)", &c), 1.0, "{pred:?}");
        }
        for pred in [
            "A",
            "C",
            "E",             // out of range
            "Answer: a cat", // lower-case `a` in prose is not a letter
            "London or Paris",
            "",
            "I don't know",
            "7",
        ] {
            assert_eq!(accuracy(pred, "B", &c), 0.0, "{pred:?}");
        }
    }

    #[test]
    fn longest_choice_wins_containment() {
        let c = choices(&["sure", "not sure"]);
        assert_eq!(resolve_choice("I'm not sure about it", &c), Some(1));
        assert_eq!(resolve_choice("I'm sure about it", &c), Some(0));
        assert_eq!(resolve_choice("sure, or maybe not sure", &c), Some(1));
    }

    #[test]
    fn text_first_when_choices_look_like_letters_or_numbers() {
        let c = choices(&["2", "4", "8"]);
        // "4" is the text of choice 1, not index 4.
        assert_eq!(accuracy("4", "4", &c), 1.0);
        assert_eq!(accuracy("4", "1", &c), 1.0); // target by index
        assert_eq!(accuracy("8", "1", &c), 0.0);
        let c = choices(&["B", "A"]);
        assert_eq!(resolve_choice("A", &c), Some(1)); // text match beats letter
    }

    #[test]
    fn without_choices() {
        assert_eq!(accuracy("Positive.", "positive", &[]), 1.0);
        assert_eq!(accuracy("negative", "positive", &[]), 0.0);
        assert_eq!(accuracy("Answer: C", "C", &[]), 1.0);
        assert_eq!(accuracy("(c)", "C", &[]), 1.0);
        assert_eq!(accuracy("D", "C", &[]), 0.0);
    }

    #[test]
    fn target_outside_the_choices() {
        let c = choices(&["yes", "no"]);
        // Target "maybe" names no choice: plain normalized comparison.
        assert_eq!(accuracy("Maybe", "maybe", &c), 1.0);
        assert_eq!(accuracy("yes", "maybe", &c), 0.0);
        // Index beyond the choices is not an index.
        assert_eq!(accuracy("yes", "5", &c), 0.0);
    }
}
