//! `exact_match`, `f1`, `contains`, `regex_match`.

use crate::normalize::{answer_tokens, normalize_answer};
use crate::number::{normalize_math, numbers_close, parse_number};
use assay_domain::manifest::TaskType;
use std::collections::HashMap;

/// Most backtracking steps a `regex_match` target pattern may take per sample.
const REGEX_BACKTRACK_LIMIT: usize = 1_000_000;
/// Largest compiled size of a `regex_match` target pattern.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

fn score(hit: bool) -> f64 {
    if hit {
        1.0
    } else {
        0.0
    }
}

/// 1 when `prediction` and `target` are equal after SQuAD normalization.
///
/// For `numeric` and `math` tasks: when both parse as numbers ([`parse_number`]), 1 exactly
/// when the numbers are equal within tolerance ([`numbers_close`]) — so `-7` ≠ `7` although
/// SQuAD normalization deletes the sign; otherwise 1 when they are equal after SQuAD
/// normalization or are the same LaTeX answer after [`normalize_math`].
pub(crate) fn exact_match(prediction: &str, target: &str, task_type: TaskType) -> f64 {
    if !matches!(task_type, TaskType::Numeric | TaskType::Math) {
        return score(normalize_answer(prediction) == normalize_answer(target));
    }
    if let (Some(p), Some(t)) = (parse_number(prediction), parse_number(target)) {
        return score(numbers_close(p, t));
    }
    if normalize_answer(prediction) == normalize_answer(target) {
        return 1.0;
    }
    let (p, t) = (normalize_math(prediction), normalize_math(target));
    score(!t.is_empty() && p == t)
}

/// SQuAD token F1: with `P` the prediction's and `G` the target's normalized tokens and
/// `c` the size of their multiset intersection, precision = c/|P|, recall = c/|G|,
/// F1 = 2·precision·recall / (precision + recall); 0 when c = 0; when either side has no
/// tokens, 1 if both have none, else 0.
pub(crate) fn f1(prediction: &str, target: &str) -> f64 {
    let p = answer_tokens(prediction);
    let g = answer_tokens(target);
    if p.is_empty() || g.is_empty() {
        return score(p.is_empty() && g.is_empty());
    }
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for t in &g {
        *counts.entry(t).or_default() += 1;
    }
    let mut common = 0usize;
    for t in &p {
        if let Some(c) = counts.get_mut(t.as_str()) {
            if *c > 0 {
                *c -= 1;
                common += 1;
            }
        }
    }
    if common == 0 {
        return 0.0;
    }
    let precision = common as f64 / p.len() as f64;
    let recall = common as f64 / g.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

/// 1 when the normalized target occurs in the normalized prediction as a run of whole words
/// (`"4"` is not contained in `"14"`). A target that normalizes to nothing is contained only
/// in a prediction that does too.
pub(crate) fn contains(prediction: &str, target: &str) -> f64 {
    let t = normalize_answer(target);
    let p = normalize_answer(prediction);
    if t.is_empty() {
        return score(p.is_empty());
    }
    score(format!(" {p} ").contains(&format!(" {t} ")))
}

/// 1 when `target`, compiled as a regular expression (fancy-regex: look-around and
/// back-references allowed; flags inline, e.g. `(?i)`), matches anywhere in `prediction`
/// (anchor with `^…$` for a full match). A target that is not a valid regex is looked for
/// literally as a substring. Hitting the backtracking limit counts as no match.
pub(crate) fn regex_match(prediction: &str, target: &str) -> f64 {
    let compiled = fancy_regex::RegexBuilder::new(target)
        .backtrack_limit(REGEX_BACKTRACK_LIMIT)
        .delegate_size_limit(REGEX_SIZE_LIMIT)
        .build();
    match compiled {
        Ok(re) => score(re.is_match(prediction).unwrap_or(false)),
        Err(_) => score(prediction.contains(target)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QA: TaskType = TaskType::Qa;

    #[test]
    fn exact_match_squad() {
        assert_eq!(exact_match("The Eiffel Tower.", "eiffel tower", QA), 1.0);
        assert_eq!(exact_match("  PARIS ", "Paris", QA), 1.0);
        assert_eq!(exact_match("Paris, France", "Paris", QA), 0.0);
        assert_eq!(exact_match("", "", QA), 1.0);
        assert_eq!(exact_match("the", "", QA), 1.0); // both normalize to ""
                                                     // qa does not compare numbers
        assert_eq!(exact_match("2.50", "2.5", QA), 0.0);
        assert_eq!(exact_match("1,000", "1000", QA), 1.0); // punctuation removal does it
    }

    #[test]
    fn exact_match_numeric() {
        let n = TaskType::Numeric;
        for (p, t) in [
            ("2.50", "2.5"),
            ("$1,234", "1234"),
            ("1234.0000001", "1234"),
            ("3/4", "0.75"),
            ("\\boxed{\\frac{3}{4}}", "0.75"),
            ("$\\dfrac{1}{2}$", "1/2"),
            ("50%", "50"),
            ("-7", "−7"),
            ("18 dollars", "18"),
            ("x = 5", "5"),
            ("1e3", "1000"),
        ] {
            assert_eq!(exact_match(p, t, n), 1.0, "{p:?} vs {t:?}");
        }
        for (p, t) in [
            ("2.51", "2.5"),
            ("1234.01", "1234"),
            ("-7", "7"),
            ("50%", "0.5"),
            ("2x", "2"),
            ("seven", "7"),
        ] {
            assert_eq!(exact_match(p, t, n), 0.0, "{p:?} vs {t:?}");
        }
    }

    #[test]
    fn exact_match_math_strings() {
        let m = TaskType::Math;
        assert_eq!(
            exact_match("$\\dfrac{\\sqrt3}{2}$", "\\frac{\\sqrt{3}}{2}", m),
            1.0
        );
        assert_eq!(exact_match("\\boxed{x^2+1}", "x^2 + 1", m), 1.0);
        assert_eq!(exact_match("\\left(1, 2\\right)", "(1,2)", m), 1.0);
        assert_eq!(exact_match("x^2", "x^3", m), 0.0);
        // Case matters in math strings, but SQuAD normalization (lowercasing) is tried first.
        assert_eq!(exact_match("X", "x", m), 1.0);
    }

    #[test]
    fn f1_squad_examples() {
        // P = {cat, sat}, G = {cat, sat, on, mat} (articles dropped): c = 2,
        // precision = 2/2, recall = 2/4 → F1 = 2·1·0.5/1.5 = 2/3.
        assert!((f1("The cat sat", "the cat sat on the mat") - 2.0 / 3.0).abs() < 1e-12);
        // P = {a1: "barack", "obama"}, G = {"obama"}: c = 1, P = 1/2, R = 1 → 2/3.
        assert!((f1("Barack Obama", "Obama") - 2.0 / 3.0).abs() < 1e-12);
        // Repeated tokens count by multiplicity: P = {x, x, y}, G = {x, y, y}:
        // c = min(2,1) + min(1,2) = 2, P = R = 2/3 → F1 = 2/3.
        assert!((f1("x x y", "x y y") - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(f1("Paris", "paris."), 1.0);
        assert_eq!(f1("London", "Paris"), 0.0);
        assert_eq!(f1("", ""), 1.0);
        assert_eq!(f1("the", "a"), 1.0); // both empty after normalization
        assert_eq!(f1("", "Paris"), 0.0);
        assert_eq!(f1("Paris", ""), 0.0);
    }

    #[test]
    fn contains_whole_words() {
        assert_eq!(contains("The answer is Paris, France.", "paris"), 1.0);
        assert_eq!(contains("I'd say New York City", "new york"), 1.0);
        assert_eq!(contains("the answer is 14", "4"), 0.0);
        assert_eq!(contains("Parisian", "Paris"), 0.0);
        assert_eq!(contains("anything", "the"), 0.0);
        assert_eq!(contains("", "the"), 1.0);
    }

    #[test]
    fn regex_match_search_and_literal() {
        assert_eq!(regex_match("The answer is 42.", r"\b42\b"), 1.0);
        assert_eq!(regex_match("The answer is 421.", r"\b42\b"), 0.0);
        assert_eq!(regex_match("Yes", r"^(?i)yes$"), 1.0);
        assert_eq!(regex_match("yes indeed", r"^yes$"), 0.0);
        assert_eq!(regex_match("cost $5", r"(?<=\$)5"), 1.0);
        // Invalid regexes compare literally.
        assert_eq!(regex_match("f(x", "f(x"), 1.0);
        assert_eq!(regex_match("f x", "f(x"), 0.0);
        assert_eq!(regex_match("a[b", "[b"), 1.0);
        // Backtracking limit → no match.
        let long = format!("{}!", "a".repeat(40));
        assert_eq!(regex_match(&long, r"^(a+)+\1$"), 0.0);
    }
}
