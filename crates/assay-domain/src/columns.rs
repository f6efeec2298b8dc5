//! Telling a user which dataset column they meant: the wording every "the row has no column
//! X" message shares, at suite creation and at run time alike.

use serde_json::{Map, Value};

/// Most column names listed in a message; the rest are counted.
const LISTED_COLUMNS: usize = 20;

/// The candidate closest to `name` in spelling, when one is close enough to be a likely
/// typo (`questoin` → `question`, `Answer` → `answer`); `None` otherwise.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_lowercase();
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (strsim::damerau_levenshtein(&lower, &c.to_lowercase()), c))
        // A third of the name may be wrong (at least one edit), so short names need near matches.
        .filter(|(d, _)| *d <= (name.chars().count() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// The row's columns in words: `its columns are a, b, c` (or `it has no columns`).
pub fn listing(row: &Map<String, Value>) -> String {
    if row.is_empty() {
        return "it has no columns".to_string();
    }
    let mut listed: Vec<&str> = row.keys().map(String::as_str).collect();
    listed.sort_unstable();
    let more = listed.len().saturating_sub(LISTED_COLUMNS);
    listed.truncate(LISTED_COLUMNS);
    let mut text = format!("its columns are {}", listed.join(", "));
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
}

/// What a row offers instead of the missing `name`: its [`listing`], and the closest column
/// when one is likely meant (`its columns are answer, question; did you mean question?`).
pub fn offered_instead(name: &str, row: &Map<String, Value>) -> String {
    let mut text = listing(row);
    if let Some(c) = closest(name, row.keys().map(String::as_str)) {
        text.push_str(&format!("; did you mean {c}?"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn typos_find_their_column() {
        let cols = ["question", "answer", "choices"];
        assert_eq!(closest("questoin", cols), Some("question"));
        assert_eq!(closest("Answer", cols), Some("answer"));
        assert_eq!(closest("choice", cols), Some("choices"));
        assert_eq!(closest("label", cols), None);
        assert_eq!(closest("q", cols), None);
    }

    #[test]
    fn offered_instead_lists_columns_and_the_closest() {
        let r = row(json!({"question": "?", "answer": "a"}));
        assert_eq!(
            offered_instead("questoin", &r),
            "its columns are answer, question; did you mean question?"
        );
        assert_eq!(
            offered_instead("label", &r),
            "its columns are answer, question"
        );
        assert_eq!(offered_instead("x", &Map::new()), "it has no columns");
    }
}
