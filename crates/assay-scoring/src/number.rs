//! Numbers in model output: finding the last one in free text ([`last_number`]), parsing a
//! whole answer as a number ([`parse_number`]), comparing numbers ([`numbers_close`]) and
//! normalizing LaTeX math answers for string comparison ([`normalize_math`]).
//!
//! Only ASCII digits count as digits.

use regex::Regex;
use std::sync::LazyLock;

/// Relative tolerance of [`numbers_close`].
pub const REL_TOLERANCE: f64 = 1e-6;
/// Absolute tolerance of [`numbers_close`] (so that values near zero can compare equal).
pub const ABS_TOLERANCE: f64 = 1e-12;

/// Largest exponent magnitude kept (larger ones saturate), so that `1e999999999999` cannot
/// allocate a huge string.
const MAX_EXPONENT: i64 = 100_000;
/// Canonical decimals whose decimal point would move further than this are written in
/// scientific notation instead (`1e300` stays `1e300`).
const MAX_PLAIN_SHIFT: i64 = 40;

/// A number as written in text, without its surroundings.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Written {
    negative: bool,
    /// Integer-part digits, thousands separators removed; may be empty (`.5`).
    int: String,
    /// Fraction digits after the decimal point; may be empty.
    frac: String,
    /// Exponent of `e`/`E` notation.
    exp: i64,
    /// Denominator digits of an integer fraction `a/b`.
    den: Option<String>,
}

impl Written {
    /// Canonical spelling: no thousands separators, no leading zeros in the integer part, no
    /// trailing zeros after the decimal point (and no point when nothing follows it),
    /// exponents applied (`1.5e3` → `1500`, `1e-3` → `0.001`; beyond 40 places the result
    /// stays scientific, `1e300`), fractions kept as `a/b` without leading zeros, a `-` sign
    /// only when the value is not zero.
    fn canonical(&self) -> String {
        let body = match &self.den {
            Some(den) => format!(
                "{}/{}",
                strip_leading_zeros(&self.int),
                strip_leading_zeros(den)
            ),
            None => decimal_string(&self.int, &self.frac, self.exp),
        };
        let zero = match &self.den {
            Some(_) => strip_leading_zeros(&self.int) == "0",
            None => body == "0",
        };
        if self.negative && !zero {
            format!("-{body}")
        } else {
            body
        }
    }

    fn value(&self) -> f64 {
        let int = if self.int.is_empty() { "0" } else { &self.int };
        let frac = if self.frac.is_empty() {
            "0"
        } else {
            &self.frac
        };
        let mut v: f64 = format!("{int}.{frac}e{}", self.exp)
            .parse()
            .unwrap_or(f64::NAN);
        if let Some(den) = &self.den {
            v /= den.parse::<f64>().unwrap_or(f64::NAN);
        }
        if self.negative {
            -v
        } else {
            v
        }
    }
}

fn strip_leading_zeros(digits: &str) -> &str {
    let s = digits.trim_start_matches('0');
    if s.is_empty() {
        "0"
    } else {
        s
    }
}

/// `int.frac × 10^exp` as a plain decimal string without superfluous zeros.
fn decimal_string(int: &str, frac: &str, exp: i64) -> String {
    let all = format!("{int}{frac}");
    let lead = all.bytes().take_while(|b| *b == b'0').count();
    let digits = all[lead..].trim_end_matches('0');
    if digits.is_empty() {
        return "0".to_string();
    }
    // Position of the decimal point counted from the start of `digits`.
    let point = int.len() as i64 - lead as i64 + exp;
    let len = digits.len() as i64;
    if !(-MAX_PLAIN_SHIFT..=MAX_PLAIN_SHIFT + len).contains(&point) {
        let (first, rest) = digits.split_at(1);
        let mantissa = if rest.is_empty() {
            first.to_string()
        } else {
            format!("{first}.{rest}")
        };
        return format!("{mantissa}e{}", point - 1);
    }
    if point <= 0 {
        format!("0.{}{digits}", "0".repeat((-point) as usize))
    } else if point >= len {
        format!("{digits}{}", "0".repeat((point - len) as usize))
    } else {
        let (a, b) = digits.split_at(point as usize);
        format!("{a}.{b}")
    }
}

fn digit_at(cs: &[char], i: usize) -> bool {
    cs.get(i).is_some_and(char::is_ascii_digit)
}

/// Reads an unsigned number starting at `cs[i]` (a digit, or `.` followed by a digit).
/// Returns it and the index just past it.
///
/// - integer part: digits; `1,234,567` is one number when every group after a comma has
///   exactly three digits and the first has one to three (`1,2,3` is three numbers);
/// - decimal part: `.` followed by digits;
/// - exponent: `e`/`E`, optional sign, digits, not followed by a letter;
/// - fraction: an integer (no decimal part, no exponent) followed by `/` and a non-zero
///   integer that is not itself followed by a decimal part.
fn scan_unsigned(cs: &[char], i: usize) -> Option<(Written, usize)> {
    let mut j = i;
    let mut int = String::new();
    while digit_at(cs, j) {
        int.push(cs[j]);
        j += 1;
    }
    if (1..=3).contains(&int.len()) {
        while cs.get(j) == Some(&',')
            && (1..=3).all(|k| digit_at(cs, j + k))
            && !digit_at(cs, j + 4)
        {
            int.extend(&cs[j + 1..j + 4]);
            j += 4;
        }
    }
    let mut frac = String::new();
    if cs.get(j) == Some(&'.') && digit_at(cs, j + 1) {
        j += 1;
        while digit_at(cs, j) {
            frac.push(cs[j]);
            j += 1;
        }
    }
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut exp = 0i64;
    let mut has_exp = false;
    if matches!(cs.get(j), Some('e' | 'E')) {
        let mut k = j + 1;
        let negative = cs.get(k) == Some(&'-');
        if matches!(cs.get(k), Some('+' | '-')) {
            k += 1;
        }
        if digit_at(cs, k) {
            let mut e = 0i64;
            while digit_at(cs, k) {
                e = (e * 10 + i64::from(cs[k] as u8 - b'0')).min(MAX_EXPONENT);
                k += 1;
            }
            if !cs.get(k).is_some_and(|c| c.is_alphabetic()) {
                exp = if negative { -e } else { e };
                has_exp = true;
                j = k;
            }
        }
    }
    let mut den = None;
    if !has_exp && frac.is_empty() && !int.is_empty() && cs.get(j) == Some(&'/') {
        let mut k = j + 1;
        let mut d = String::new();
        while digit_at(cs, k) {
            d.push(cs[k]);
            k += 1;
        }
        let decimal_follows = cs.get(k) == Some(&'.') && digit_at(cs, k + 1);
        if d.bytes().any(|b| b != b'0') && !decimal_follows {
            den = Some(d);
            j = k;
        }
    }
    Some((
        Written {
            negative: false,
            int,
            frac,
            exp,
            den,
        },
        j,
    ))
}

fn is_minus(c: char) -> bool {
    matches!(c, '-' | '\u{2212}')
}

fn is_currency(c: char) -> bool {
    matches!(
        c,
        '$' | '€' | '£' | '¥' | '₹' | '₩' | '₽' | '₺' | '₦' | '₱' | '¢'
    )
}

/// Whether the number starting at `cs[i]` is negative: a `-` (or `−`) right before it, or
/// before a currency symbol right before it (`-$5`), which itself does not follow a letter,
/// digit or closing bracket (so `COVID-19` and `3-4` are not negative).
fn negative_sign_before(cs: &[char], i: usize) -> bool {
    let mut k = i;
    if k > 0 && is_currency(cs[k - 1]) {
        k -= 1;
    }
    if k == 0 || !is_minus(cs[k - 1]) {
        return false;
    }
    match k.checked_sub(2).map(|p| cs[p]) {
        None => true,
        Some(c) => !(c.is_alphanumeric() || matches!(c, ')' | ']' | '}' | '_')),
    }
}

/// `\frac{a}{b}`, `\dfrac{a}{b}`, `\tfrac{a}{b}` with integer arguments (`a` may be
/// negative).
static LATEX_FRAC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\\[dt]?frac\s*\{\s*(-?[0-9]+)\s*\}\s*\{\s*([0-9]+)\s*\}").unwrap()
});

/// The last number in `text`, in canonical form, or `None` when there is none.
///
/// Recognised: integers, decimals (`3.14`, `.5`), negatives (`-2`, `−2`, `-$5`), thousands
/// separators (`1,234,567`, and LaTeX's `1{,}234`), scientific notation (`1e-3`, `2.5E+4`),
/// integer fractions (`3/4`, `\frac{3}{4}`); a currency symbol before and a `%` after are
/// ignored. When the text contains `\boxed{…}` (or `\fbox{…}`) holding a number, the last
/// number inside the last such box is taken instead.
///
/// Canonical form: no thousands separators, no leading zeros, no trailing decimal zeros,
/// exponent applied (`1.50` → `1.5`, `1e-3` → `0.001`, `2.0` → `2`, `-0` → `0`,
/// `1,234` → `1234`, `50%` → `50`); fractions stay fractions (`03/4` → `3/4`).
pub fn last_number(text: &str) -> Option<String> {
    if let Some(boxed) = last_boxed(text) {
        if let Some(n) = last_number_plain(&boxed) {
            return Some(n);
        }
    }
    last_number_plain(text)
}

fn last_number_plain(text: &str) -> Option<String> {
    let prepared = LATEX_FRAC
        .replace_all(&text.replace("{,}", ","), "${1}/${2}")
        .into_owned();
    let cs: Vec<char> = prepared.chars().collect();
    let mut last = None;
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        let starts = c.is_ascii_digit()
            || (c == '.' && digit_at(&cs, i + 1) && !(i > 0 && cs[i - 1].is_ascii_digit()));
        if starts {
            if let Some((mut n, j)) = scan_unsigned(&cs, i) {
                n.negative = negative_sign_before(&cs, i);
                last = Some(n);
                i = j;
                continue;
            }
        }
        i += 1;
    }
    last.map(|n| n.canonical())
}

/// Content of the last `\boxed{…}` / `\fbox{…}` (braces balanced), or of `\boxed x` (up to
/// the next whitespace or `$`).
pub(crate) fn last_boxed(text: &str) -> Option<String> {
    let (start, name_len) = ["\\boxed", "\\fbox"]
        .iter()
        .filter_map(|name| text.rfind(name).map(|i| (i, name.len())))
        .max()?;
    let rest = &text[start + name_len..];
    let trimmed = rest.trim_start();
    if let Some(inner) = trimmed.strip_prefix('{') {
        let mut depth = 1usize;
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(inner[..i].to_string());
                    }
                }
                _ => {}
            }
        }
        None // unbalanced
    } else if rest.starts_with(char::is_whitespace) {
        let token: String = trimmed
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '$')
            .collect();
        (!token.is_empty()).then_some(token)
    } else {
        None
    }
}

static LATEX_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\\(?:text|textbf|textit|textrm|mathrm|mathbf|mbox)\s*\{([^{}]*)\}").unwrap()
});
static LATEX_LEFT_RIGHT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\\(?:left|right)\b").unwrap());
static LATEX_DEGREES: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\^\s*\{?\s*\\circ\s*\}?").unwrap());
static VAR_ASSIGNMENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*[A-Za-z][A-Za-z0-9_']?\s*=([^=]*)$").unwrap());

/// Strips the LaTeX and markup wrapped around a final answer:
/// - the content of the last `\boxed{…}`/`\fbox{…}` replaces the text when there is one;
/// - `$`, `\(`, `\)`, `\[`, `\]`, `\left`, `\right`, `\!`, `\,`, `\;`, `\:`, `\ ` and degree
///   marks (`^\circ`, `°`) are removed; `\%` becomes `%`, `\dfrac`/`\tfrac` become `\frac`,
///   `{,}` becomes `,`;
/// - `\text{…}`, `\textbf{…}`, `\mathrm{…}`, `\mbox{…}` (and similar) are replaced by their
///   content;
/// - a short variable assignment is dropped (`x = 5` → `5`);
/// - surrounding whitespace, `*` and `` ` `` (markdown) and one trailing `.` are trimmed.
pub fn clean_latex(text: &str) -> String {
    let mut s = last_boxed(text).unwrap_or_else(|| text.to_string());
    for (from, to) in [
        ("\\dfrac", "\\frac"),
        ("\\tfrac", "\\frac"),
        ("\\(", ""),
        ("\\)", ""),
        ("\\[", ""),
        ("\\]", ""),
        ("\\!", ""),
        ("\\,", ""),
        ("\\;", ""),
        ("\\:", ""),
        ("\\ ", " "),
        ("\\%", "%"),
        ("\\$", ""),
        ("$", ""),
        ("{,}", ","),
        ("°", ""),
    ] {
        if s.contains(from) {
            s = s.replace(from, to);
        }
    }
    s = LATEX_DEGREES.replace_all(&s, "").into_owned();
    s = LATEX_LEFT_RIGHT.replace_all(&s, "").into_owned();
    // Nested \text{...} unwrap from the inside out; bounded in case of pathological input.
    for _ in 0..8 {
        let next = LATEX_TEXT.replace_all(&s, "${1}").into_owned();
        if next == s {
            break;
        }
        s = next;
    }
    if let Some(caps) = VAR_ASSIGNMENT.captures(&s) {
        s = caps[1].to_string();
    }
    let s = s.trim_matches(|c: char| c.is_whitespace() || c == '*' || c == '`');
    let s = s.strip_suffix('.').unwrap_or(s).trim_end();
    s.to_string()
}

/// Unit words that may directly follow a number (`5km`); other letters glued to a number
/// (`2x`, `3pi`) make the answer non-numeric.
const GLUED_UNITS: &[&str] = &[
    "km", "cm", "mm", "kg", "mg", "lb", "lbs", "oz", "ft", "mph", "kmh", "ml", "hr", "hrs", "min",
    "mins", "sec", "secs",
];

/// Words after a number that mean it is not a plain quantity (`2 pi`, `3 sqrt`).
const MATH_WORDS: &[&str] = &["pi", "sqrt", "times", "cdot", "frac", "and", "or", "to"];

/// Parses a whole answer as a number, or `None` when it is not one.
///
/// After [`clean_latex`]-style cleanup (`\boxed{}`, `$…$`, `\text{}`, `x = …`), the answer
/// must be: optional sign and currency symbol (`-$1,234.50`), one number as in
/// [`last_number`] (or `\frac{a}{b}` with numeric `a`, `b`, or `a/b` with decimal `a`, `b`),
/// then optionally `%` or currency symbols and unit words (`5 apples`, `12 cm`, `5km`) that
/// contain no digit. A percent sign is only stripped: `50%` parses as 50, not 0.5.
pub fn parse_number(text: &str) -> Option<f64> {
    let s = clean_latex(text);
    let cs: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut negative = false;
    let mut signed = false;
    while let Some(&c) = cs.get(i) {
        if (is_minus(c) || c == '+') && !signed {
            negative = is_minus(c);
            signed = true;
        } else if !(is_currency(c) || c.is_whitespace()) {
            break;
        }
        i += 1;
    }
    let (value, end) = if cs[i..].starts_with(&['\\', 'f', 'r', 'a', 'c']) {
        parse_latex_frac(&cs, i + 5)?
    } else {
        let start_ok = digit_at(&cs, i) || (cs.get(i) == Some(&'.') && digit_at(&cs, i + 1));
        if !start_ok {
            return None;
        }
        let (n, mut j) = scan_unsigned(&cs, i)?;
        let mut v = n.value();
        if n.den.is_none()
            && cs.get(j) == Some(&'/')
            && (digit_at(&cs, j + 1) || cs.get(j + 1) == Some(&'.'))
        {
            let (d, k) = scan_unsigned(&cs, j + 1)?;
            if d.den.is_some() {
                return None;
            }
            v /= d.value();
            j = k;
        }
        (v, j)
    };
    if !unit_suffix(&cs[end..]) {
        return None;
    }
    let v = if negative { -value } else { value };
    v.is_finite().then_some(v)
}

/// `{a}{b}` (or `ab` with single digits) after `\frac`; returns a/b and the index past it.
fn parse_latex_frac(cs: &[char], mut i: usize) -> Option<(f64, usize)> {
    let mut args = Vec::with_capacity(2);
    for _ in 0..2 {
        while cs.get(i).is_some_and(|c| c.is_whitespace()) {
            i += 1;
        }
        match cs.get(i)? {
            '{' => {
                let close = cs[i + 1..].iter().position(|c| *c == '}')? + i + 1;
                let inner: String = cs[i + 1..close].iter().collect();
                if inner.contains('{') {
                    return None;
                }
                args.push(parse_number(&inner)?);
                i = close + 1;
            }
            c if c.is_ascii_digit() => {
                args.push(f64::from(*c as u8 - b'0'));
                i += 1;
            }
            _ => return None,
        }
    }
    Some((args[0] / args[1], i))
}

/// Whether what follows a number may be ignored: nothing, `%`, currency symbols, or unit
/// words without digits (see [`GLUED_UNITS`], [`MATH_WORDS`]).
fn unit_suffix(rest: &[char]) -> bool {
    let rest: String = rest.iter().collect();
    let rest = rest.trim_end();
    let rest = rest
        .trim_start_matches(|c: char| c == '%' || is_currency(c))
        .trim_end_matches(|c: char| c == '%' || is_currency(c));
    if rest.is_empty() {
        return true;
    }
    if rest
        .chars()
        .any(|c| c.is_ascii_digit() || c == '\\' || c == '^' || c == '=')
    {
        return false;
    }
    if !rest.starts_with(char::is_whitespace) {
        // Glued letters: only a known unit.
        let word = rest.trim_end_matches('.').to_ascii_lowercase();
        return GLUED_UNITS.contains(&word.as_str());
    }
    rest.split_whitespace().all(|w| {
        let w = w.trim_end_matches(['.', ',', '/']);
        let lower = w.to_lowercase();
        w.chars().count() >= 2
            && w.chars()
                .all(|c| c.is_alphabetic() || matches!(c, '/' | '\'' | '-'))
            && !MATH_WORDS.contains(&lower.as_str())
    })
}

/// Whether two numbers are equal within [`REL_TOLERANCE`] (relative to the larger
/// magnitude) or [`ABS_TOLERANCE`]: `|a − b| ≤ max(1e-6 · max(|a|, |b|), 1e-12)`.
pub fn numbers_close(a: f64, b: f64) -> bool {
    if !(a.is_finite() && b.is_finite()) {
        return false;
    }
    (a - b).abs() <= (REL_TOLERANCE * a.abs().max(b.abs())).max(ABS_TOLERANCE)
}

static FRAC_SHORT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\\frac([0-9A-Za-z])([0-9A-Za-z])").unwrap());
static FRAC_SHORT_SECOND: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\\frac\{([^{}]*)\}([0-9A-Za-z])").unwrap());
static SQRT_SHORT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\\sqrt([0-9A-Za-z])").unwrap());
static SIMPLE_FRACTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(-?[0-9]+)/([0-9]+)$").unwrap());
static LEADING_POINT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(^|[^0-9])\.([0-9])").unwrap());

/// Normalizes a LaTeX math answer for string comparison: [`clean_latex`], then `%` removed,
/// all whitespace removed, `\frac12` → `\frac{1}{2}`, `\sqrt3` → `\sqrt{3}`, a whole
/// `a/b` of integers → `\frac{a}{b}`, `.5` → `0.5`. Case is kept.
///
/// `"$\dfrac{\sqrt3}{2}$"` and `"\boxed{\frac{\sqrt{3}}{2}}"` both become
/// `"\frac{\sqrt{3}}{2}"`.
pub fn normalize_math(text: &str) -> String {
    let s = clean_latex(text);
    let s: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '%')
        .collect();
    let s = FRAC_SHORT.replace_all(&s, "\\frac{${1}}{${2}}");
    let s = FRAC_SHORT_SECOND.replace_all(&s, "\\frac{${1}}{${2}}");
    let s = SQRT_SHORT.replace_all(&s, "\\sqrt{${1}}");
    let s = SIMPLE_FRACTION.replace(&s, "\\frac{${1}}{${2}}");
    let s = LEADING_POINT.replace_all(&s, "${1}0.${2}");
    s.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_number_forms() {
        let cases = [
            ("The answer is 42.", Some("42")),
            ("1, 2 and then 3", Some("3")),
            ("costs $1,234,567.890 total", Some("1234567.89")),
            ("list 1,2,3", Some("3")),
            ("bad group 1,2345", Some("2345")),
            ("x = -17", Some("-17")),
            ("x = −3.5", Some("-3.5")),
            ("COVID-19", Some("19")),
            ("pages 3-4", Some("4")),
            ("loss of -$5", Some("-5")),
            ("tiny: 1e-3", Some("0.001")),
            ("big: 2.5E+4", Some("25000")),
            ("huge 1e300", Some("1e300")),
            ("small 1.5e-60", Some("1.5e-60")),
            ("3 eggs", Some("3")),
            ("ratio 3/4", Some("3/4")),
            ("ratio 06/08", Some("6/8")),
            ("divide by zero 3/0", Some("0")),
            ("50% of them", Some("50")),
            ("007", Some("7")),
            ("2.50", Some("2.5")),
            ("2.0", Some("2")),
            ("-0.0", Some("0")),
            ("0.000", Some("0")),
            (".5 cups", Some("0.5")),
            ("version 1.2.3", Some("3")),
            ("so \\frac{3}{4}", Some("3/4")),
            ("1{,}234", Some("1234")),
            ("First 12, but \\boxed{7} and later 9", Some("7")),
            ("\\boxed{\\dfrac{1}{2}} then 5", Some("1/2")),
            ("\\boxed{x} then 5", Some("5")),
            ("no digits here", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(last_number(text).as_deref(), want, "{text:?}");
        }
    }

    #[test]
    fn boxed_content() {
        assert_eq!(
            last_boxed("a \\boxed{1} b \\boxed{\\frac{1}{2}}").unwrap(),
            "\\frac{1}{2}"
        );
        assert_eq!(last_boxed("\\boxed 5$").unwrap(), "5");
        assert_eq!(last_boxed("\\fbox{x}").unwrap(), "x");
        assert_eq!(last_boxed("\\boxed{unbalanced"), None);
        assert_eq!(last_boxed("\\boxedx"), None);
        assert_eq!(last_boxed("nothing"), None);
    }

    #[test]
    fn parse_whole_numbers() {
        let cases: &[(&str, Option<f64>)] = &[
            ("42", Some(42.0)),
            (" -42 ", Some(-42.0)),
            ("+7", Some(7.0)),
            ("1,234", Some(1234.0)),
            ("$1,234.50", Some(1234.5)),
            ("-$5", Some(-5.0)),
            ("€ 12", Some(12.0)),
            ("50%", Some(50.0)),
            ("50\\%", Some(50.0)),
            ("3/4", Some(0.75)),
            ("1.5/3", Some(0.5)),
            ("\\frac{3}{4}", Some(0.75)),
            ("\\dfrac{-3}{4}", Some(-0.75)),
            ("-\\frac12", Some(-0.5)),
            ("$\\boxed{\\frac{1}{8}}$", Some(0.125)),
            ("\\boxed{1{,}000}", Some(1000.0)),
            ("1e-3", Some(0.001)),
            ("5 apples", Some(5.0)),
            ("12 cm.", Some(12.0)),
            ("5km", Some(5.0)),
            ("90^\\circ", Some(90.0)),
            ("90°", Some(90.0)),
            ("x = 5", Some(5.0)),
            ("\\text{18 dollars}", Some(18.0)),
            ("18 \\text{ dollars}", Some(18.0)),
            ("**42**", Some(42.0)),
            ("42.", Some(42.0)),
            ("2x", None),
            ("2 pi", None),
            ("2\\pi", None),
            ("3 + 4", None),
            ("5 apples and 3 pears", None),
            ("\\frac{\\sqrt{3}}{2}", None),
            ("1 1/2", None),
            ("abc", None),
            ("", None),
            ("x = y = 5", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_number(text), *want, "{text:?}");
        }
    }

    #[test]
    fn closeness() {
        assert!(numbers_close(1.0, 1.0 + 1e-7));
        assert!(!numbers_close(1.0, 1.0 + 1e-5));
        assert!(numbers_close(1e9, 1e9 + 100.0));
        assert!(numbers_close(0.0, 1e-13));
        assert!(!numbers_close(0.0, 1e-9));
        assert!(numbers_close(1.0 / 3.0, 0.333_333_3));
        assert!(!numbers_close(f64::NAN, f64::NAN));
    }

    #[test]
    fn math_normalization() {
        assert_eq!(
            normalize_math("$\\dfrac{\\sqrt3}{2}$"),
            "\\frac{\\sqrt{3}}{2}"
        );
        assert_eq!(
            normalize_math("\\boxed{\\frac{\\sqrt{3}}{2}}"),
            "\\frac{\\sqrt{3}}{2}"
        );
        assert_eq!(normalize_math("\\frac12"), "\\frac{1}{2}");
        assert_eq!(normalize_math("\\frac{a}2"), "\\frac{a}{2}");
        assert_eq!(normalize_math("3/4"), "\\frac{3}{4}");
        assert_eq!(normalize_math("\\left( 1, 2 \\right)"), "(1,2)");
        assert_eq!(normalize_math("x = .5"), "0.5");
        assert_eq!(normalize_math("\\text{(A)}"), "(A)");
        assert_eq!(normalize_math("10\\%"), "10");
    }
}
