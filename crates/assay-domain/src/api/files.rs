//! The Files API objects.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::list::HasId;

/// What a file is for. Eval datasets, graders and preprocessors use `evals`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum FilePurpose {
    #[serde(rename = "assistants")]
    Assistants,
    #[serde(rename = "batch")]
    Batch,
    #[serde(rename = "fine-tune")]
    FineTune,
    #[serde(rename = "vision")]
    Vision,
    #[serde(rename = "user_data")]
    UserData,
    #[serde(rename = "evals")]
    Evals,
}

impl FilePurpose {
    pub const ALL: [FilePurpose; 6] = [
        FilePurpose::Assistants,
        FilePurpose::Batch,
        FilePurpose::FineTune,
        FilePurpose::Vision,
        FilePurpose::UserData,
        FilePurpose::Evals,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FilePurpose::Assistants => "assistants",
            FilePurpose::Batch => "batch",
            FilePurpose::FineTune => "fine-tune",
            FilePurpose::Vision => "vision",
            FilePurpose::UserData => "user_data",
            FilePurpose::Evals => "evals",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// An uploaded file (`object: "file"`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FileObject {
    /// `file-` followed by 32 hex digits.
    pub id: String,
    /// Always `file`.
    pub object: String,
    /// Size in bytes.
    pub bytes: i64,
    /// Unix seconds.
    pub created_at: i64,
    pub filename: String,
    pub purpose: FilePurpose,
    /// Files never expire here: always `null`.
    pub expires_at: Option<i64>,
    /// Deprecated upload status; always `processed` once stored.
    pub status: String,
    /// Lowercase hex SHA-256 of the content.
    pub sha256: Option<String>,
}

impl HasId for FileObject {
    fn id(&self) -> &str {
        &self.id
    }
}

/// Result of deleting a file. `object` is `file`, as the contract has it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FileDeletionStatus {
    pub id: String,
    pub object: String,
    pub deleted: bool,
}

/// The content type a stored file is served with, from its name.
///
/// The SDK refuses any content type outside a fixed list (notably
/// `application/octet-stream`), so unknown kinds are served as `text/plain`.
pub fn content_type_for(filename: &str) -> &'static str {
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "jsonl" | "ndjson" => "application/jsonl",
        "json" => "application/json",
        "csv" => "text/csv",
        "py" => "text/x-python",
        "md" | "markdown" => "text/markdown",
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "js" | "mjs" => "text/javascript",
        "xml" => "application/xml",
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "tif" | "tiff" => "image/tiff",
        "svg" => "image/svg+xml",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "rtf" => "application/rtf",
        _ => "text/plain",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataset_and_code_types() {
        assert_eq!(content_type_for("data.JSONL"), "application/jsonl");
        assert_eq!(content_type_for("d.csv"), "text/csv");
        assert_eq!(content_type_for("grader.py"), "text/x-python");
        assert_eq!(content_type_for("m.json"), "application/json");
        assert_eq!(content_type_for("noext"), "text/plain");
    }

    #[test]
    fn purposes_round_trip() {
        for p in FilePurpose::ALL {
            assert_eq!(FilePurpose::parse(p.as_str()), Some(p));
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{}\"", p.as_str()));
        }
        assert_eq!(FilePurpose::parse("evil"), None);
    }
}
