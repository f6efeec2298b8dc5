//! Text normalization shared by the metrics.
//!
//! [`normalize_answer`] is the SQuAD answer normalization that `exact_match`, `f1`,
//! `contains` and `accuracy` compare with; [`rouge_tokens`] is the ROUGE tokenizer.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Whether `c` counts as punctuation for [`normalize_answer`]: ASCII punctuation (Python's
/// `string.punctuation`, what SQuAD removes), and every non-ASCII character that is neither a
/// letter, a digit, whitespace nor a combining mark (Unicode punctuation and symbols such as
/// `“ ” — … ¿ « » € °`).
pub fn is_punctuation(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_punctuation()
    } else {
        !c.is_alphanumeric() && !c.is_whitespace() && !is_combining_mark(c)
    }
}

/// Whether `c` is part of a word: a letter, a digit, `_` or a combining mark (so that
/// vowel signs and viramas of Indic scripts do not split words).
pub(crate) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || is_combining_mark(c)
}

/// SQuAD answer normalization, applied in this order:
///
/// 1. Unicode NFC (so precomposed and decomposed accents compare equal; SQuAD's script does
///    not do this, and it changes nothing on NFC text);
/// 2. lowercase (Unicode);
/// 3. delete punctuation (see [`is_punctuation`]): `"don't"` → `"dont"`, `"U.S."` → `"us"`;
/// 4. drop the English articles `a`, `an`, `the` as whole words;
/// 5. collapse whitespace: words joined by single spaces, no leading or trailing space.
///
/// `"The  Eiffel-Tower!"` → `"eiffeltower"`.
pub fn normalize_answer(text: &str) -> String {
    let lowered: String = text.nfc().collect::<String>().to_lowercase();
    let no_punct: String = lowered.chars().filter(|c| !is_punctuation(*c)).collect();
    no_punct
        .split_whitespace()
        .filter(|w| !matches!(*w, "a" | "an" | "the"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The tokens of [`normalize_answer`]`(text)`, split on whitespace.
pub fn answer_tokens(text: &str) -> Vec<String> {
    normalize_answer(text)
        .split(' ')
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// The ROUGE tokenizer: lowercase, then every maximal run of letters, digits and combining
/// marks is a token; everything else (punctuation, `_`, whitespace, symbols) separates tokens.
/// No stemming and no stop-word removal.
///
/// On ASCII text this is exactly rouge-score's default tokenizer (`use_stemmer=False`),
/// which keeps only `[a-z0-9]` runs; here letters and digits of every script count, so
/// non-English text is not scored as empty.
pub fn rouge_tokens(text: &str) -> Vec<String> {
    let lowered = text.to_lowercase();
    let mut tokens = Vec::new();
    let mut current = String::new();
    for c in lowered.chars() {
        if c.is_alphanumeric() || is_combining_mark(c) {
            current.push(c);
        } else if !current.is_empty() {
            tokens.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squad_normalization() {
        assert_eq!(normalize_answer("The  Eiffel-Tower!"), "eiffeltower");
        assert_eq!(
            normalize_answer("  A cat, an owl and THE dog. "),
            "cat owl and dog"
        );
        assert_eq!(normalize_answer("don't"), "dont");
        assert_eq!(normalize_answer("U.S.A."), "usa");
        assert_eq!(normalize_answer("theory"), "theory"); // articles only as whole words
        assert_eq!(normalize_answer("“Quoted” — text…"), "quoted text");
        assert_eq!(normalize_answer(""), "");
        assert_eq!(normalize_answer("the"), "");
        // NFC: e + combining acute == precomposed é
        assert_eq!(normalize_answer("Cafe\u{301}"), normalize_answer("Café"));
        // Combining marks survive (Devanagari virama), Cyrillic is lowercased
        assert_eq!(normalize_answer("क्या"), "क्या");
        assert_eq!(normalize_answer("КИЇВ"), "київ");
    }

    #[test]
    fn answer_tokens_split_on_spaces() {
        assert_eq!(answer_tokens("The cat sat."), vec!["cat", "sat"]);
        assert!(answer_tokens(" the ").is_empty());
    }

    #[test]
    fn rouge_tokenizer() {
        assert_eq!(
            rouge_tokens("The cat's hat_2, (big)!"),
            vec!["the", "cat", "s", "hat", "2", "big"]
        );
        assert_eq!(rouge_tokens("Привет, мир"), vec!["привет", "мир"]);
        assert!(rouge_tokens("... !!").is_empty());
    }
}
