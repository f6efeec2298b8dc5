//! The one error type: what is wrong, in which file, on which line, in which field.

use std::fmt;

/// A file that cannot be read as lm-eval output.
///
/// Displayed as `FILE:LINE:COLUMN: FIELD: MESSAGE`, each location part left out when unknown:
/// samples files report the line of the offending sample (and the column within it for JSON
/// syntax), results files the JSON path of the field and, when the JSON parser knows it, the
/// line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The file, as the caller named it (a path in a repository or on disk).
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column within the line, when known.
    pub column: Option<usize>,
    /// The field, as a JSON path (`configs.gsm8k.metric_list[0].metric`, `doc_id`), when the
    /// problem is one field's.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl Error {
    /// An error about `file` as a whole.
    pub fn new(file: impl Into<String>, message: impl Into<String>) -> Self {
        Error {
            file: file.into(),
            line: None,
            column: None,
            field: None,
            message: message.into(),
        }
    }

    /// The same error at a line (1-based).
    pub fn at_line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self
    }

    /// The same error about a field.
    pub fn in_field(mut self, field: impl Into<String>) -> Self {
        let field = field.into();
        if !field.is_empty() && field != "." {
            self.field = Some(field);
        }
        self
    }

    /// An error from serde_json's parser, with its position moved into `line` / `column`.
    /// `line_offset` is added to the parser's line (for a parser that saw one line of a file).
    pub(crate) fn from_json(file: &str, e: &serde_json::Error, line_offset: usize) -> Self {
        let mut message = e.to_string();
        // serde_json appends " at line L column C"; the position goes into the fields instead.
        if let Some(at) = message.rfind(" at line ") {
            message.truncate(at);
        }
        let mut err = Error::new(file, message);
        if e.line() > 0 {
            err.line = Some(e.line() + line_offset);
            err.column = Some(e.column());
        }
        err
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_every_known_part() {
        let e = Error::new("m/samples_x_t.jsonl", "expected an integer")
            .at_line(7)
            .in_field("doc_id");
        assert_eq!(
            e.to_string(),
            "m/samples_x_t.jsonl:7: doc_id: expected an integer"
        );
        assert_eq!(Error::new("r.json", "bad").to_string(), "r.json: bad");
    }

    #[test]
    fn moves_the_parser_position_into_fields() {
        let Err(je) = serde_json::from_str::<serde_json::Value>("{\n  \"a\": tru }") else {
            panic!("must fail");
        };
        let e = Error::from_json("r.json", &je, 0);
        assert_eq!(e.line, Some(2));
        assert!(e.column.is_some());
        assert!(!e.message.contains(" at line "), "{}", e.message);
        assert_eq!(Error::from_json("s.jsonl", &je, 10).line, Some(12));
    }
}
