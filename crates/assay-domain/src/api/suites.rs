//! Suites and their versions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::list::HasId;
use crate::error::{field, ValidationError};

/// String-to-string metadata on suites, versions and runs.
pub type Metadata = BTreeMap<String, String>;

/// Most metadata pairs one object may carry.
pub const METADATA_MAX_PAIRS: usize = 64;
/// Longest metadata key, in characters.
pub const METADATA_MAX_KEY_CHARS: usize = 128;
/// Longest metadata value, in characters.
pub const METADATA_MAX_VALUE_CHARS: usize = 4096;
/// Longest suite name, in characters.
pub const NAME_MAX_CHARS: usize = 255;
/// Longest suite description, in characters.
pub const DESCRIPTION_MAX_CHARS: usize = 10_000;

/// Checks metadata bounds; `path` names the metadata field in the request.
pub fn validate_metadata(metadata: &Metadata, path: &str) -> Result<(), ValidationError> {
    if metadata.len() > METADATA_MAX_PAIRS {
        return Err(ValidationError::new(
            path,
            format!("at most {METADATA_MAX_PAIRS} pairs are allowed"),
        ));
    }
    for (key, value) in metadata {
        let key_path = field(path, key);
        if key.is_empty() || key.chars().count() > METADATA_MAX_KEY_CHARS {
            return Err(ValidationError::new(
                key_path,
                format!("keys must have 1 to {METADATA_MAX_KEY_CHARS} characters"),
            ));
        }
        if value.chars().count() > METADATA_MAX_VALUE_CHARS {
            return Err(ValidationError::new(
                key_path,
                format!("values must have at most {METADATA_MAX_VALUE_CHARS} characters"),
            ));
        }
    }
    Ok(())
}

/// Checks a display name: non-blank, at most [`NAME_MAX_CHARS`].
pub fn validate_name(name: &str, path: &str) -> Result<(), ValidationError> {
    if name.trim().is_empty() {
        return Err(ValidationError::new(path, "must not be empty"));
    }
    if name.chars().count() > NAME_MAX_CHARS {
        return Err(ValidationError::new(
            path,
            format!("must have at most {NAME_MAX_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Checks a description: at most [`DESCRIPTION_MAX_CHARS`].
pub fn validate_description(description: &str, path: &str) -> Result<(), ValidationError> {
    if description.chars().count() > DESCRIPTION_MAX_CHARS {
        return Err(ValidationError::new(
            path,
            format!("must have at most {DESCRIPTION_MAX_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Body of `POST /evals/suites`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CreateSuiteRequest {
    #[schema(min_length = 1, max_length = 255)]
    pub name: String,
    /// The suite's first version (`EvalSuiteManifest`); stored as sent, unknown keys kept.
    #[schema(value_type = crate::manifest::Manifest)]
    pub manifest: serde_json::Value,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub metadata: Option<Metadata>,
}

/// Body of `POST /evals/suites/{suite_id}/versions`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CreateSuiteVersionRequest {
    #[schema(value_type = crate::manifest::Manifest)]
    pub manifest: serde_json::Value,
    #[serde(default)]
    pub metadata: Option<Metadata>,
    /// Whether the new version becomes the suite's active version (default `true`).
    #[serde(default)]
    pub make_active: Option<bool>,
}

/// How the caller sees a suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SuiteAccess {
    /// The caller's org and team own it.
    Owner,
    /// Visible through a read-only share to the caller's org.
    Shared,
}

/// A suite (`object: "eval.suite"`). The manifest lives on its versions.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SuiteObject {
    pub id: String,
    pub object: String,
    pub name: String,
    pub description: Option<String>,
    pub org_id: String,
    pub team_id: String,
    pub access: SuiteAccess,
    /// The version runs use when they name none.
    pub active_version: i64,
    /// The highest version number.
    pub latest_version: i64,
    pub metadata: Metadata,
    pub created_at: i64,
    pub updated_at: i64,
}

impl HasId for SuiteObject {
    fn id(&self) -> &str {
        &self.id
    }
}

/// An immutable suite version (`object: "eval.suite.version"`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SuiteVersionObject {
    pub id: String,
    pub object: String,
    pub suite_id: String,
    pub version: i64,
    /// The manifest exactly as it was sent, unknown keys included.
    #[schema(value_type = Object)]
    pub manifest: serde_json::Value,
    /// Every file the manifest references (datasets, graders, preprocessors).
    pub dataset_file_ids: Vec<String>,
    pub metadata: Metadata,
    pub created_at: i64,
}

impl HasId for SuiteVersionObject {
    fn id(&self) -> &str {
        &self.id
    }
}

/// Result of deleting a suite (`object: "eval.suite.deleted"`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SuiteDeletedObject {
    pub id: String,
    pub object: String,
    pub deleted: bool,
    /// How many runs were deleted with the suite.
    pub deleted_runs: i64,
}

/// Most orgs one suite may be shared with.
pub const MAX_SHARES_PER_SUITE: i64 = 100;

/// Body of `POST /evals/suites/{suite_id}/shares`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CreateShareRequest {
    /// The org that gets read-only access (not the owning org).
    #[schema(min_length = 1, max_length = 255)]
    pub org_id: String,
}

impl CreateShareRequest {
    /// Checks the field's shape (the org itself is checked against the store).
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.org_id.trim().is_empty() || self.org_id.chars().count() > NAME_MAX_CHARS {
            return Err(ValidationError::new(
                "org_id",
                format!("must have 1 to {NAME_MAX_CHARS} characters"),
            ));
        }
        Ok(())
    }
}

/// A read-only grant of a suite to another org (`object: "eval.suite.share"`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ShareObject {
    pub id: String,
    pub object: String,
    pub suite_id: String,
    /// The org that received read-only access.
    pub org_id: String,
    /// Who granted it (the API key that acted).
    pub granted_by: String,
    pub created_at: i64,
}

/// Every share of a suite (`object: "list"`, unpaged: at most [`MAX_SHARES_PER_SUITE`]).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ShareList {
    pub object: String,
    pub data: Vec<ShareObject>,
}

/// Result of revoking a share (`object: "eval.suite.share.deleted"`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ShareDeletedObject {
    /// The revoked share's id.
    pub id: String,
    pub object: String,
    pub deleted: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_bounds() {
        let mut m = Metadata::new();
        m.insert("k".into(), "v".into());
        assert!(validate_metadata(&m, "metadata").is_ok());
        m.insert(String::new(), "v".into());
        let err = validate_metadata(&m, "metadata").unwrap_err();
        assert_eq!(err.path, "metadata.");
        let mut m = Metadata::new();
        m.insert("long".into(), "x".repeat(METADATA_MAX_VALUE_CHARS + 1));
        assert_eq!(
            validate_metadata(&m, "metadata").unwrap_err().path,
            "metadata.long"
        );
        let m: Metadata = (0..=METADATA_MAX_PAIRS)
            .map(|i| (format!("k{i}"), String::new()))
            .collect();
        assert_eq!(
            validate_metadata(&m, "metadata").unwrap_err().path,
            "metadata"
        );
    }

    #[test]
    fn names() {
        assert!(validate_name("ok", "name").is_ok());
        assert!(validate_name("  ", "name").is_err());
        assert!(validate_name(&"n".repeat(NAME_MAX_CHARS + 1), "name").is_err());
    }
}
