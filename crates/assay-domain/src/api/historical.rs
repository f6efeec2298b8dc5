//! `POST /evals/imports/huggingface-results`: lm-evaluation-harness results read from a
//! Hugging Face dataset repository and written as completed runs.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{validate_description, validate_metadata, validate_name, Metadata};
use crate::error::index;
use crate::manifest::is_hub_repo_id;
use crate::ValidationError;

/// The repository imported when the request names none.
pub const DEFAULT_RESULTS_REPO: &str = "meetkai/lm-eval-harness-result";
/// The revision imported when the request names none.
pub const DEFAULT_RESULTS_REVISION: &str = "main";
/// The suite name used when the request names none.
pub const DEFAULT_IMPORT_SUITE_NAME: &str = "Historical lm-eval harness results";
/// Results files imported per call from a repository listing unless `limit_files` says
/// otherwise.
pub const DEFAULT_LISTING_FILES: i64 = 50;
/// The largest `limit_files`.
pub const MAX_LIMIT_FILES: i64 = 100;
/// The most explicit `source.files` one request may name.
pub const MAX_SOURCE_FILES: usize = 1_000;
/// The longest repository path accepted in `path_prefix` and `files`.
pub const MAX_REPO_PATH_CHARS: usize = 1_024;
/// The name of the header carrying the caller's Hugging Face token.
pub const HF_TOKEN_HEADER: &str = "X-HuggingFace-Token";
/// The longest Hugging Face token accepted.
pub const MAX_HF_TOKEN_CHARS: usize = 1_024;

/// Where the results files are: a Hugging Face dataset repository at a revision.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct HistoricalImportSource {
    /// Only `huggingface`.
    #[serde(default, rename = "type")]
    #[schema(value_type = Option<String>, example = "huggingface")]
    pub source_type: Option<String>,
    /// The dataset repository (`owner/name`); default `meetkai/lm-eval-harness-result`.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200)]
    pub repo: Option<String>,
    /// A branch, tag or commit; default `main`.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 255)]
    pub revision: Option<String>,
    /// Only results files whose repository path starts with this string.
    #[serde(default)]
    #[schema(max_length = 1024)]
    pub path_prefix: Option<String>,
    /// Explicit results files (`…/results_<timestamp>.json`) instead of a listing; their
    /// samples files are found beside them.
    #[serde(default)]
    #[schema(max_items = 1000)]
    pub files: Option<Vec<String>>,
}

/// Body of `POST /evals/imports/huggingface-results`; `{}` is valid.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ImportHistoricalResultsRequest {
    #[serde(default)]
    pub source: Option<HistoricalImportSource>,
    /// A suite of the caller's team to import into; tasks it lacks are appended as a new
    /// version (unless `create_missing_tasks` is false).
    #[serde(default)]
    pub suite_id: Option<String>,
    /// Without `suite_id`: the suite imported into — the team's newest suite of this name,
    /// created when there is none. Default `Historical lm-eval harness results`.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 255)]
    pub suite_name: Option<String>,
    /// Description of a suite this import creates.
    #[serde(default)]
    #[schema(max_length = 10000)]
    pub suite_description: Option<String>,
    /// Append the tasks the suite lacks as a new version (default `true`); when false, only
    /// the suite's tasks are imported from each results file.
    #[serde(default)]
    pub create_missing_tasks: Option<bool>,
    /// Read and count, write nothing (default `false`).
    #[serde(default)]
    pub dry_run: Option<bool>,
    /// The most results files imported by this call, 1 to 100; default 50 for a listing,
    /// unlimited for explicit `source.files`. Files already imported do not count.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100)]
    pub limit_files: Option<i64>,
    /// Added to every imported run's metadata.
    #[serde(default)]
    pub metadata: Option<Metadata>,
}

/// A validated [`ImportHistoricalResultsRequest`] with its defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoricalImportPlan {
    pub repo: String,
    pub revision: String,
    pub path_prefix: Option<String>,
    pub files: Option<Vec<String>>,
    pub suite_id: Option<String>,
    pub suite_name: String,
    pub suite_description: Option<String>,
    pub create_missing_tasks: bool,
    pub dry_run: bool,
    /// `None`: no cap (explicit files without `limit_files`).
    pub limit_files: Option<usize>,
    pub metadata: Metadata,
}

/// Whether `path` is a plausible relative repository path: no leading `/`, no `.` or `..`
/// segment, no backslash or control character.
fn is_repo_path(path: &str) -> bool {
    !path.starts_with('/')
        && !path.contains('\\')
        && !path.chars().any(char::is_control)
        && path.split('/').all(|s| s != "." && s != "..")
}

/// Checks the caller's Hugging Face token (the header's value): present, not blank, visible
/// ASCII, at most [`MAX_HF_TOKEN_CHARS`].
pub fn validate_hf_token(token: Option<&str>) -> Result<String, ValidationError> {
    let Some(token) = token.map(str::trim).filter(|t| !t.is_empty()) else {
        return Err(ValidationError::new(
            HF_TOKEN_HEADER,
            "required: a Hugging Face token with read access to the source repository (the server never uses its own token for imports)",
        ));
    };
    if token.len() > MAX_HF_TOKEN_CHARS || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ValidationError::new(
            HF_TOKEN_HEADER,
            format!("must be at most {MAX_HF_TOKEN_CHARS} visible ASCII characters"),
        ));
    }
    Ok(token.to_string())
}

impl ImportHistoricalResultsRequest {
    /// Checks every field and applies the defaults.
    pub fn plan(self) -> Result<HistoricalImportPlan, ValidationError> {
        let source = self.source.unwrap_or_default();
        if let Some(t) = source.source_type.as_deref() {
            if t != "huggingface" {
                return Err(ValidationError::new(
                    "source.type",
                    format!("must be huggingface, not {t}"),
                ));
            }
        }
        let repo = source
            .repo
            .unwrap_or_else(|| DEFAULT_RESULTS_REPO.to_string());
        if !is_hub_repo_id(&repo) {
            return Err(ValidationError::new(
                "source.repo",
                format!("`{repo}` is not a Hugging Face dataset id (`owner/name`)"),
            ));
        }
        let revision = source
            .revision
            .unwrap_or_else(|| DEFAULT_RESULTS_REVISION.to_string());
        if revision.trim().is_empty()
            || revision.len() > 255
            || revision.chars().any(char::is_control)
            || revision.split('/').any(|s| s == "." || s == "..")
        {
            return Err(ValidationError::new(
                "source.revision",
                "must be a branch, tag or commit of 1 to 255 characters",
            ));
        }
        if let Some(prefix) = &source.path_prefix {
            if prefix.chars().count() > MAX_REPO_PATH_CHARS || !is_repo_path(prefix) {
                return Err(ValidationError::new(
                    "source.path_prefix",
                    format!(
                        "must be a relative repository path of at most {MAX_REPO_PATH_CHARS} characters (no leading /, no . or .. segments)"
                    ),
                ));
            }
        }
        if let Some(files) = &source.files {
            if files.is_empty() {
                return Err(ValidationError::new(
                    "source.files",
                    "must name at least one results file (omit it to list the repository)",
                ));
            }
            if files.len() > MAX_SOURCE_FILES {
                return Err(ValidationError::new(
                    "source.files",
                    format!("at most {MAX_SOURCE_FILES} files per request"),
                ));
            }
            for (i, f) in files.iter().enumerate() {
                let path = index("source.files", i);
                if f.is_empty() || f.chars().count() > MAX_REPO_PATH_CHARS || !is_repo_path(f) {
                    return Err(ValidationError::new(
                        path,
                        format!(
                            "must be a relative repository path of 1 to {MAX_REPO_PATH_CHARS} characters"
                        ),
                    ));
                }
                if files[..i].contains(f) {
                    return Err(ValidationError::new(path, format!("{f} is listed twice")));
                }
            }
        }
        if let Some(id) = &self.suite_id {
            if id.trim().is_empty() {
                return Err(ValidationError::new("suite_id", "must not be empty"));
            }
        }
        let suite_name = self
            .suite_name
            .unwrap_or_else(|| DEFAULT_IMPORT_SUITE_NAME.to_string());
        validate_name(&suite_name, "suite_name")?;
        if let Some(d) = &self.suite_description {
            validate_description(d, "suite_description")?;
        }
        if let Some(n) = self.limit_files {
            if !(1..=MAX_LIMIT_FILES).contains(&n) {
                return Err(ValidationError::new(
                    "limit_files",
                    format!("must be between 1 and {MAX_LIMIT_FILES}"),
                ));
            }
        }
        let metadata = self.metadata.unwrap_or_default();
        validate_metadata(&metadata, "metadata")?;
        let limit_files = match (self.limit_files, &source.files) {
            (Some(n), _) => Some(n as usize),
            (None, Some(_)) => None,
            (None, None) => Some(DEFAULT_LISTING_FILES as usize),
        };
        Ok(HistoricalImportPlan {
            repo,
            revision,
            path_prefix: source.path_prefix.filter(|p| !p.is_empty()),
            files: source.files,
            suite_id: self.suite_id,
            suite_name,
            suite_description: self.suite_description,
            create_missing_tasks: self.create_missing_tasks.unwrap_or(true),
            dry_run: self.dry_run.unwrap_or(false),
            limit_files,
            metadata,
        })
    }
}

/// The repository an import read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HistoricalImportSourceObject {
    /// `huggingface`.
    #[serde(rename = "type")]
    pub source_type: String,
    pub repo: String,
    /// The revision as requested.
    pub revision: String,
    /// The commit the revision pointed at when the import read it.
    pub commit: String,
}

/// What happened to one results file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HistoricalFileStatus {
    /// Written as a run.
    Imported,
    /// Would be written (a dry run).
    WouldImport,
    /// Not written; `reason` says why.
    Skipped,
}

/// One results file of an import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HistoricalImportFile {
    /// The results file's repository path.
    pub path: String,
    pub status: HistoricalFileStatus,
    /// The run written, or (skipped as already imported) the run an earlier import wrote.
    pub run_id: Option<String>,
    /// The model the results are of.
    pub model: Option<String>,
    /// Samples written (or, in a dry run, that would be).
    pub samples: i64,
    /// Why the file was skipped, or what else is worth knowing (tasks without samples,
    /// numbers of the results file that the samples do not reproduce).
    pub notes: Vec<String>,
}

/// `eval.import`: what an import did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = EvalHistoricalImportObject)]
pub struct HistoricalImportObject {
    /// Always `eval.import`.
    pub object: String,
    pub source: HistoricalImportSourceObject,
    /// The suite imported into; empty in a dry run that would create it.
    pub suite_id: String,
    /// The suite version the runs belong to (0 in a dry run that would create the suite).
    pub suite_version: i64,
    pub created_suite: bool,
    pub created_suite_version: bool,
    pub dry_run: bool,
    /// Results files found (under `path_prefix`, or named in `files`), before `limit_files`.
    pub discovered_files: i64,
    pub imported_runs: i64,
    /// Results files not imported: already imported, unreadable, without samples, or without
    /// a task the suite has.
    pub skipped_runs: i64,
    pub imported_samples: i64,
    /// Every results file looked at, in order.
    pub files: Vec<HistoricalImportFile>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan(body: serde_json::Value) -> Result<HistoricalImportPlan, ValidationError> {
        serde_json::from_value::<ImportHistoricalResultsRequest>(body)
            .expect("parses")
            .plan()
    }

    fn refused(body: serde_json::Value) -> String {
        plan(body).expect_err("refused").path
    }

    #[test]
    fn empty_body_takes_the_defaults() {
        let p = plan(json!({})).unwrap();
        assert_eq!(p.repo, DEFAULT_RESULTS_REPO);
        assert_eq!(p.revision, "main");
        assert_eq!(p.suite_name, DEFAULT_IMPORT_SUITE_NAME);
        assert!(p.create_missing_tasks);
        assert!(!p.dry_run);
        assert_eq!(p.limit_files, Some(50));
        let explicit = plan(json!({"source": {"files": ["m/results_2024-01-01T00-00-00.json"]}}));
        assert_eq!(explicit.unwrap().limit_files, None);
        let capped = plan(json!({"source": {"files": ["a"]}, "limit_files": 3}));
        assert_eq!(capped.unwrap().limit_files, Some(3));
    }

    #[test]
    fn every_bound_is_enforced_at_its_path() {
        assert_eq!(refused(json!({"source": {"type": "s3"}})), "source.type");
        assert_eq!(refused(json!({"source": {"repo": "a/b/c"}})), "source.repo");
        assert_eq!(
            refused(json!({"source": {"repo": "a/../b"}})),
            "source.repo"
        );
        assert_eq!(
            refused(json!({"source": {"revision": ""}})),
            "source.revision"
        );
        assert_eq!(
            refused(json!({"source": {"path_prefix": "../x"}})),
            "source.path_prefix"
        );
        assert_eq!(refused(json!({"source": {"files": []}})), "source.files");
        assert_eq!(
            refused(json!({"source": {"files": ["a", "/b"]}})),
            "source.files[1]"
        );
        assert_eq!(
            refused(json!({"source": {"files": ["a", "a"]}})),
            "source.files[1]"
        );
        assert_eq!(refused(json!({"suite_name": " "})), "suite_name");
        assert_eq!(
            refused(json!({"suite_name": "x".repeat(256)})),
            "suite_name"
        );
        assert_eq!(
            refused(json!({"suite_description": "x".repeat(10_001)})),
            "suite_description"
        );
        assert_eq!(refused(json!({"limit_files": 0})), "limit_files");
        assert_eq!(refused(json!({"limit_files": 101})), "limit_files");
        assert_eq!(refused(json!({"suite_id": ""})), "suite_id");
    }

    #[test]
    fn the_token_is_required_and_plain() {
        assert_eq!(validate_hf_token(None).unwrap_err().path, HF_TOKEN_HEADER);
        assert_eq!(
            validate_hf_token(Some("  ")).unwrap_err().path,
            HF_TOKEN_HEADER
        );
        assert!(validate_hf_token(Some("hf_a b")).is_err());
        assert_eq!(validate_hf_token(Some(" hf_abc ")).unwrap(), "hf_abc");
    }
}
