//! The validation error shared by every request check.

/// A request broke a rule. `path` names the offending field the way a client wrote it,
/// e.g. `manifest.tasks[2].output_extraction.pattern`; `message` says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ValidationError {
    pub path: String,
    pub message: String,
}

impl ValidationError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Joins a parent path and a field name (`manifest` + `tasks` → `manifest.tasks`).
pub fn field(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    }
}

/// Joins a parent path and an array index (`manifest.tasks` + 2 → `manifest.tasks[2]`).
pub fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}
