//! JSON as Python's `json.dumps` writes it, and numbers as lm-eval means them.
//!
//! Python writes a NaN or infinite float as the bare words `NaN`, `Infinity` and `-Infinity`,
//! which are not JSON; lm-eval does so for a metric whose value is NaN (a `nanmean` over
//! nothing, a perplexity that overflowed). Those words, outside strings, are read here as the
//! strings `"NaN"`, `"Infinity"` and `"-Infinity"`, which [`number`] turns back into floats.

use std::borrow::Cow;

use serde_json::Value;

/// The non-finite words Python writes, longest first (so `-Infinity` is not read as `-`).
const WORDS: [&str; 3] = ["-Infinity", "Infinity", "NaN"];

/// `text` with Python's non-finite float words (outside strings) quoted, so that it parses as
/// JSON; borrowed unchanged when there are none. Lines and the text inside strings are kept.
pub fn quote_non_finite(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        if b == b'"' {
            in_string = true;
            i += 1;
            continue;
        }
        if b == b'-' || b == b'I' || b == b'N' {
            if let Some(word) = WORDS.iter().find(|w| text[i..].starts_with(**w)) {
                let o = out.get_or_insert_with(|| String::with_capacity(text.len() + 16));
                o.push_str(&text[copied..i]);
                o.push('"');
                o.push_str(word);
                o.push('"');
                i += word.len();
                copied = i;
                continue;
            }
        }
        i += 1;
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut o) => {
            o.push_str(&text[copied..]);
            Cow::Owned(o)
        }
    }
}

/// A value as a number the way Python's arithmetic sees it: a JSON number, a boolean (`True`
/// is 1), or one of Python's non-finite words (see the module docs). Anything else is `None`.
pub fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::String(s) => non_finite(s),
        _ => None,
    }
}

/// The float a non-finite word stands for.
pub fn non_finite(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_non_finite_words_outside_strings_only() {
        let text =
            r#"{"a": NaN, "b": [Infinity, -Infinity, -1.5], "c": "NaN \" Infinity", "d": null}"#;
        let fixed = quote_non_finite(text);
        let v: Value = serde_json::from_str(&fixed).expect("valid after quoting");
        assert_eq!(v["a"], "NaN");
        assert_eq!(v["b"][0], "Infinity");
        assert_eq!(v["b"][1], "-Infinity");
        assert_eq!(v["b"][2], -1.5);
        assert_eq!(v["c"], "NaN \" Infinity");
        assert!(number(&v["a"]).is_some_and(f64::is_nan));
        assert_eq!(number(&v["b"][1]), Some(f64::NEG_INFINITY));
        assert_eq!(number(&v["c"]), None);
    }

    #[test]
    fn borrows_text_without_non_finite_words() {
        assert!(matches!(
            quote_non_finite(r#"{"x": "NaN", "y": -2}"#),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn numbers_follow_python() {
        assert_eq!(number(&Value::Bool(true)), Some(1.0));
        assert_eq!(number(&serde_json::json!(3)), Some(3.0));
        assert_eq!(number(&serde_json::json!("3")), None);
        assert_eq!(number(&Value::Null), None);
    }
}
