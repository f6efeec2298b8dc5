//! `data_files` patterns matched against repository paths the way `datasets` resolves them
//! (fsspec's `glob` on the Hub file system):
//!
//! - `*` matches within one path component, `?` one character of it, `[…]` / `[!…]` a
//!   character class; a component that is exactly `*` matches a whole non-empty component;
//! - a component that is exactly `**` matches any number of directories (zero included), and
//!   as the last component any path below; `**` inside a longer component is invalid;
//! - a pattern without any of `*?[` names one path exactly;
//! - a match inside a hidden directory or on a hidden file (a component starting with `.`) is
//!   dropped unless the pattern spells as many hidden components, and likewise a match inside
//!   a directory starting with `__` unless the pattern's directories name as many.

use regex::Regex;

/// A compiled `data_files` pattern.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    source: String,
    matcher: Matcher,
    hidden_parts: usize,
    special_dirs: usize,
}

#[derive(Debug, Clone)]
enum Matcher {
    Exact(String),
    Regex(Regex),
    Nothing,
}

/// Whether a pattern contains wildcards (Python's `glob.has_magic`).
pub(crate) fn has_magic(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

impl Pattern {
    /// Compiles `pattern` (relative to the repository root or the config's `data_dir`).
    /// Errors name what is wrong with it.
    pub(crate) fn new(pattern: &str) -> Result<Self, String> {
        let normalized = normalize(pattern);
        let matcher = if has_magic(&normalized) {
            match translate(&normalized)? {
                Some(re) => Matcher::Regex(
                    Regex::new(&re).map_err(|e| format!("invalid pattern `{pattern}`: {e}"))?,
                ),
                None => Matcher::Nothing,
            }
        } else {
            Matcher::Exact(normalized.clone())
        };
        Ok(Pattern {
            hidden_parts: hidden_parts(&normalized),
            special_dirs: special_dirs(&normalized),
            source: normalized,
            matcher,
        })
    }

    /// The pattern as normalized (no leading `./` or `/`).
    pub(crate) fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `path` (a file path relative to the same base) is selected by the pattern,
    /// hidden and `__special__` rules included.
    pub(crate) fn selects(&self, path: &str) -> bool {
        let matched = match &self.matcher {
            Matcher::Exact(p) => p == path,
            Matcher::Regex(re) => re.is_match(path),
            Matcher::Nothing => false,
        };
        matched
            && hidden_parts(path) == self.hidden_parts
            && special_dirs(path) == self.special_dirs
    }
}

fn normalize(pattern: &str) -> String {
    let mut p = pattern;
    loop {
        if let Some(rest) = p.strip_prefix("./") {
            p = rest;
        } else if let Some(rest) = p.strip_prefix('/') {
            p = rest;
        } else {
            break;
        }
    }
    p.to_string()
}

/// Components that are hidden: start with `.` and are not all dots.
fn hidden_parts(path: &str) -> usize {
    path.split('/')
        .filter(|part| part.starts_with('.') && !part.chars().all(|c| c == '.'))
        .count()
}

/// Directory components (all but the last) that start with `__`.
fn special_dirs(path: &str) -> usize {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let dirs = parts.len().saturating_sub(1);
    parts[..dirs].iter().filter(|p| p.starts_with("__")).count()
}

const NOT_SEP: &str = "[^/]";

/// The regex for a magic pattern; `None` when it can never match.
fn translate(pattern: &str) -> Result<Option<String>, String> {
    let parts: Vec<&str> = pattern.split('/').collect();
    let last = parts.len() - 1;
    let mut out = String::from("^(?s:");
    for (idx, part) in parts.iter().enumerate() {
        if *part == "*" {
            out.push_str(if idx < last { "[^/]+/" } else { "[^/]+" });
            continue;
        }
        if *part == "**" {
            out.push_str(if idx < last { "(?:.+/)?" } else { ".*" });
            continue;
        }
        if part.contains("**") {
            return Err(format!(
                "invalid pattern `{pattern}`: `**` can only be an entire path component"
            ));
        }
        match translate_part(part) {
            Some(re) => out.push_str(&re),
            None => return Ok(None),
        }
        if idx < last {
            out.push('/');
        }
    }
    out.push_str(")\\z");
    Ok(Some(out))
}

/// One path component, fnmatch-style; `None` when it contains a class matching nothing.
fn translate_part(part: &str) -> Option<String> {
    let chars: Vec<char> = part.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => {
                while i < chars.len() && chars[i] == '*' {
                    i += 1;
                }
                out.push_str(NOT_SEP);
                out.push('*');
            }
            '?' => out.push_str(NOT_SEP),
            '[' => {
                let mut j = i;
                if j < chars.len() && chars[j] == '!' {
                    j += 1;
                }
                if j < chars.len() && chars[j] == ']' {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    out.push_str(&regex::escape("["));
                    continue;
                }
                let class = &chars[i..j];
                i = j + 1;
                out.push_str(&translate_class(class)?);
            }
            other => out.push_str(&regex::escape(&other.to_string())),
        }
    }
    Some(out)
}

/// A `[…]` body (without the brackets): `!` negates, `a-b` is a range (dropped when
/// reversed), other characters are literal.
fn translate_class(class: &[char]) -> Option<String> {
    let (negated, body) = match class.first() {
        Some('!') => (true, &class[1..]),
        _ => (false, class),
    };
    let mut items = String::new();
    let mut k = 0;
    while k < body.len() {
        let a = body[k];
        if k + 2 < body.len() && body[k + 1] == '-' {
            let b = body[k + 2];
            if a <= b {
                items.push_str(&format!("\\x{{{:X}}}-\\x{{{:X}}}", a as u32, b as u32));
            }
            k += 3;
        } else {
            items.push_str(&format!("\\x{{{:X}}}", a as u32));
            k += 1;
        }
    }
    match (negated, items.is_empty()) {
        (false, true) => None,
        (true, true) => Some(NOT_SEP.to_string()),
        (true, false) => Some(format!("[^/{items}]")),
        (false, false) => Some(format!("[{items}]")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(pattern: &str, path: &str) -> bool {
        Pattern::new(pattern).unwrap().selects(path)
    }

    #[test]
    fn stars_stay_within_a_component() {
        assert!(sel("*.csv", "a.csv"));
        assert!(!sel("*.csv", "d/a.csv"));
        assert!(sel("data/*.csv", "data/a.csv"));
        assert!(sel("*/a.csv", "d/a.csv"));
        assert!(!sel("*/a.csv", "a.csv"));
        assert!(sel("data/train-*", "data/train-0000.parquet"));
    }

    #[test]
    fn double_star_spans_directories() {
        assert!(sel("**", "a/b/c.csv"));
        assert!(sel("**/train[-._ 0-9]*", "train.csv"));
        assert!(sel("**/train[-._ 0-9]*", "x/y/train-1.csv"));
        assert!(!sel("**/train[-._ 0-9]*", "x/mytrain.csv"));
        assert!(sel("**/*[-._ 0-9]train[-._ 0-9]*", "x/my_train.csv"));
        assert!(sel("**/train/**", "data/train/shard_0.csv"));
        assert!(sel("**/train/**", "train/a/b.csv"));
        assert!(sel("data/**", "data/x/y.json"));
        assert!(Pattern::new("**.csv").is_err());
    }

    #[test]
    fn classes_and_literals() {
        assert!(sel("data/test-[0-9][0-9]*.*", "data/test-01.parquet"));
        assert!(!sel("data/test-[0-9][0-9]*.*", "data/test-a1.parquet"));
        assert!(sel("[!x]*.csv", "a.csv"));
        assert!(!sel("[!x]*.csv", "x.csv"));
        assert!(sel("a(1)+.csv", "a(1)+.csv"));
        assert!(sel("file[.csv", "file[.csv"));
        assert!(sel("./data/a.csv", "data/a.csv"));
    }

    #[test]
    fn hidden_and_special_need_to_be_asked_for() {
        assert!(!sel("**", ".hidden/a.csv"));
        assert!(!sel("**", "d/.a.csv"));
        assert!(sel(".hidden/*", ".hidden/a.csv"));
        assert!(sel(".*/*", ".hidden/a.csv"));
        assert!(!sel(".*/*", ".hidden/.a.csv"));
        assert!(!sel("**", "__pycache__/b.csv"));
        assert!(!sel("*/b.csv", "__pycache__/b.csv"));
        assert!(sel("__pycache__/*", "__pycache__/b.csv"));
        assert!(sel("__*/*", "__pycache__/b.csv"));
        assert!(sel("**", "__init__.csv"));
    }
}
