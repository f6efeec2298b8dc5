//! Text normalization shared by the metrics.
//!
//! [`normalize_answer`] is the SQuAD answer normalization that `exact_match`, `f1`,
//! `contains` and `accuracy` compare with; [`rouge_tokens`] is the ROUGE tokenizer;
//! [`normalize_transcript`] is what `wer` and `cer` compare.

use std::sync::LazyLock;

use regex::Regex;
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

/// Every character of Unicode general category P (punctuation: `Pc Pd Ps Pe Pi Pf Po`).
static UNICODE_PUNCTUATION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\p{P}+").unwrap());

/// Whether `c` separates words in [`normalize_transcript`]: Unicode `White_Space`, and the
/// ASCII information separators U+001C–U+001F, which Python's `str.isspace` (and so the `\s`
/// of its `re` module) also counts.
pub fn is_transcript_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// The normalization `wer` and `cer` apply to both the hypothesis and the reference before
/// comparing them, in this order:
///
/// 1. Unicode NFKC (precomposed and decomposed accents compare equal; full-width forms,
///    ligatures and compatibility characters become their plain forms: `ＡＢＣ１` → `ABC1`,
///    `ﬁ` → `fi`, no-break and other Unicode spaces → a space);
/// 2. lowercase (Unicode full case mapping, final sigma included);
/// 3. delete every punctuation character — Unicode general category P, so `- ' . , ! ? « » 、 。`
///    and the like, but not symbols (category S: `$ + € ° ©`, emoji stay) — without putting a
///    space in its place: `don't` → `dont`, `well-known` → `wellknown`, `U.S.` → `us`;
/// 4. every run of whitespace ([`is_transcript_space`]) becomes one space;
/// 5. leading and trailing spaces are removed.
///
/// The words are then the space-separated pieces ([`transcript_words`]) and the characters
/// are the Unicode scalar values of the result, single spaces between words included
/// ([`transcript_chars`]).
///
/// This is, exactly, Python `jiwer`'s pipeline `Compose([NFKC, ToLowerCase(),
/// RemovePunctuation(), SubstituteRegexes({r"\s+": " "}), Strip(),
/// ReduceToListOfListOfWords()])` (or `ReduceToListOfListOfChars()` for `cer`), with `NFKC`
/// a transform applying `unicodedata.normalize("NFKC", s)`; the reference fixture checks it.
/// Only characters whose Unicode properties changed between the Unicode versions of the two
/// implementations could be treated differently.
///
/// `"  Hello,   WORLD! It's  ｆｉｎｅ. "` → `"hello world its fine"`.
pub fn normalize_transcript(text: &str) -> String {
    let lowered = text.nfkc().collect::<String>().to_lowercase();
    let no_punct = UNICODE_PUNCTUATION.replace_all(&lowered, "");
    no_punct
        .split(is_transcript_space)
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The words `wer` compares: [`normalize_transcript`]`(text)` split on its spaces; none for
/// a text that normalizes to nothing.
pub fn transcript_words(text: &str) -> Vec<String> {
    normalize_transcript(text)
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The characters `cer` compares: the Unicode scalar values of
/// [`normalize_transcript`]`(text)`, the single spaces between words included (a
/// multi-code-point emoji or a letter with a combining mark that NFKC cannot compose
/// counts as several characters).
pub fn transcript_chars(text: &str) -> Vec<char> {
    normalize_transcript(text).chars().collect()
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

    #[test]
    fn transcript_normalization() {
        assert_eq!(
            normalize_transcript("  Hello,   WORLD! It's  ｆｉｎｅ. "),
            "hello world its fine"
        );
        assert_eq!(
            normalize_transcript("well-known U.S. rock'n'roll"),
            "wellknown us rocknroll"
        );
        // Symbols stay, punctuation goes, without leaving a space behind.
        assert_eq!(normalize_transcript("$5 + 3€ = 😀!"), "$5 + 3€ = 😀");
        assert_eq!(normalize_transcript("«Ça va?» 「はい」。"), "ça va はい");
        // NFKC: decomposed accents, ligatures, full-width forms, compatibility spaces.
        assert_eq!(
            normalize_transcript("Cafe\u{301}"),
            normalize_transcript("Café")
        );
        assert_eq!(normalize_transcript("ﬁne ＡＢＣ１"), "fine abc1");
        assert_eq!(
            normalize_transcript("a\u{a0}b\u{3000}c\td\u{2028}e\u{1f}f"),
            "a b c d e f"
        );
        // Final sigma, as Python's str.lower.
        assert_eq!(normalize_transcript("ΟΔΟΣ ΣΟΦΟΣ"), "οδος σοφος");
        assert_eq!(normalize_transcript(""), "");
        assert_eq!(normalize_transcript(" ... !? "), "");
        assert_eq!(
            transcript_words(" the  CAT, sat "),
            vec!["the", "cat", "sat"]
        );
        assert!(transcript_words("—").is_empty());
        assert_eq!(transcript_chars("A b!"), vec!['a', ' ', 'b']);
        assert!(transcript_chars("  ").is_empty());
    }
}
