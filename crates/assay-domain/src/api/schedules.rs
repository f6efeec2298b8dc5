//! Schedules: a suite run again on a cron or interval cadence, with webhook notifications.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::patch::Patch;
use super::runs::{CreateRunRequest, RunStatus};
use super::suites::{validate_description, validate_metadata, validate_name, Metadata};
use crate::error::{field, ValidationError};
use crate::generation::GenerationConfig;
use crate::MAX_SAFE_INT;

/// Shortest `interval_seconds` (a minute, as for cron).
pub const MIN_INTERVAL_SECONDS: i64 = 60;
/// Longest `interval_seconds` (366 days).
pub const MAX_INTERVAL_SECONDS: i64 = 366 * 24 * 3600;
/// Longest `webhook_url`.
pub const MAX_WEBHOOK_URL_CHARS: usize = 2048;
/// Longest `webhook_secret`.
pub const MAX_WEBHOOK_SECRET_CHARS: usize = 1024;
/// Longest `cron` expression.
pub const MAX_CRON_CHARS: usize = 256;
/// Longest `timezone` name.
pub const MAX_TIMEZONE_CHARS: usize = 64;

/// What a fire does while the schedule's previous run is unfinished.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OverlapPolicy {
    /// Drop the fire.
    #[default]
    Skip,
    /// Keep at most one fire waiting; it starts when the unfinished run ends.
    BufferOne,
    /// Start a run on every fire; runs overlap.
    AllowAll,
}

impl OverlapPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            OverlapPolicy::Skip => "skip",
            OverlapPolicy::BufferOne => "buffer_one",
            OverlapPolicy::AllowAll => "allow_all",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "skip" => Some(OverlapPolicy::Skip),
            "buffer_one" => Some(OverlapPolicy::BufferOne),
            "allow_all" => Some(OverlapPolicy::AllowAll),
            _ => None,
        }
    }
}

/// The run a schedule starts on every fire: a run creation without `suite_id`,
/// `suite_version` and `metadata` (the schedule holds those). Stored as sent, unknown keys
/// included (they are kept but do not steer execution).
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ScheduleRunConfig {
    /// Candidate model ids, 1 to 20.
    pub models: Vec<String>,
    #[serde(default)]
    pub task_ids: Option<Vec<String>>,
    #[serde(default)]
    pub judge_model: Option<String>,
    #[serde(default)]
    pub embedding_model: Option<String>,
    #[serde(default)]
    pub generation: Option<GenerationConfig>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 256)]
    pub generation_concurrency: Option<i64>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 256)]
    pub concurrency: Option<i64>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 256)]
    pub grader_concurrency: Option<i64>,
    #[serde(default)]
    #[schema(minimum = 1)]
    pub max_samples_per_task: Option<i64>,
    #[serde(default)]
    #[schema(minimum = 100, maximum = 50000)]
    pub max_workflow_sample_activities: Option<i64>,
}

impl ScheduleRunConfig {
    /// Reads a stored or sent `run` block (`base` prefixes error paths).
    pub fn from_json(run: &Value, base: &str) -> Result<Self, ValidationError> {
        if !run.is_object() {
            return Err(ValidationError::new(base, "must be an object"));
        }
        crate::json::from_value(run, base)
    }

    /// The run creation one fire makes, for `suite_id` at `suite_version` (None: the suite's
    /// active version at fire time), tagged with the schedule in `metadata`.
    pub fn run_request(
        &self,
        suite_id: &str,
        suite_version: Option<i64>,
        metadata: Metadata,
    ) -> CreateRunRequest {
        CreateRunRequest {
            suite_id: suite_id.to_string(),
            models: self.models.clone(),
            suite_version,
            task_ids: self.task_ids.clone(),
            judge_model: self.judge_model.clone(),
            embedding_model: self.embedding_model.clone(),
            generation: self.generation.clone(),
            generation_concurrency: self.generation_concurrency,
            concurrency: self.concurrency,
            grader_concurrency: self.grader_concurrency,
            max_samples_per_task: self.max_samples_per_task,
            max_workflow_sample_activities: self.max_workflow_sample_activities,
            metadata: Some(metadata),
        }
    }
}

/// A run-request validation error moved under `run.` (suite fields stay at the top level).
pub fn under_run(e: ValidationError) -> ValidationError {
    if e.path == "suite_id" || e.path == "suite_version" || e.path.starts_with("run") {
        return e;
    }
    ValidationError::new(field("run", &e.path), e.message)
}

/// Checks a cadence: exactly one of `cron` / `interval_seconds`, each well formed.
pub fn validate_cadence(
    cron: Option<&str>,
    interval_seconds: Option<i64>,
    timezone: &str,
) -> Result<(), ValidationError> {
    match (cron, interval_seconds) {
        (Some(_), Some(_)) => {
            return Err(ValidationError::new(
                "interval_seconds",
                "give either cron or interval_seconds, not both",
            ))
        }
        (None, None) => {
            return Err(ValidationError::new(
                "cron",
                "one of cron or interval_seconds is required",
            ))
        }
        (Some(cron), None) => {
            if cron.chars().count() > MAX_CRON_CHARS {
                return Err(ValidationError::new(
                    "cron",
                    format!("must have at most {MAX_CRON_CHARS} characters"),
                ));
            }
            assay_cadence::Cron::parse(cron)
                .map_err(|e| ValidationError::new("cron", e.to_string()))?;
        }
        (None, Some(seconds)) => {
            if !(MIN_INTERVAL_SECONDS..=MAX_INTERVAL_SECONDS).contains(&seconds) {
                return Err(ValidationError::new(
                    "interval_seconds",
                    format!("must be between {MIN_INTERVAL_SECONDS} and {MAX_INTERVAL_SECONDS}"),
                ));
            }
        }
    }
    validate_timezone(timezone)
}

/// Checks an IANA time zone name.
pub fn validate_timezone(timezone: &str) -> Result<(), ValidationError> {
    if timezone.chars().count() > MAX_TIMEZONE_CHARS {
        return Err(ValidationError::new(
            "timezone",
            format!("must have at most {MAX_TIMEZONE_CHARS} characters"),
        ));
    }
    assay_cadence::parse_timezone(timezone)
        .map(|_| ())
        .map_err(|e| ValidationError::new("timezone", e.to_string()))
}

/// Checks a webhook URL's form (the network rules are the server's).
pub fn validate_webhook_url(url: &str) -> Result<(), ValidationError> {
    if url.chars().count() > MAX_WEBHOOK_URL_CHARS {
        return Err(ValidationError::new(
            "webhook_url",
            format!("must have at most {MAX_WEBHOOK_URL_CHARS} characters"),
        ));
    }
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return Err(ValidationError::new(
            "webhook_url",
            "must be an http:// or https:// URL",
        ));
    }
    Ok(())
}

/// Checks a webhook secret's length.
pub fn validate_webhook_secret(secret: &str) -> Result<(), ValidationError> {
    let n = secret.chars().count();
    if n == 0 || n > MAX_WEBHOOK_SECRET_CHARS {
        return Err(ValidationError::new(
            "webhook_secret",
            format!("must have 1 to {MAX_WEBHOOK_SECRET_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Body of `POST /evals/schedules`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CreateScheduleRequest {
    pub name: String,
    pub suite_id: String,
    /// The run each fire starts (validated as a run creation would be).
    #[schema(value_type = ScheduleRunConfig)]
    pub run: Value,
    #[serde(default)]
    pub description: Option<String>,
    /// Pin a version; omitted, each fire runs the suite's active version at that time.
    #[serde(default)]
    #[schema(minimum = 1)]
    pub suite_version: Option<i64>,
    /// A 5-field cron expression (minute hour day-of-month month day-of-week; ranges, steps,
    /// lists and names), evaluated in `timezone`. Exactly one of `cron` / `interval_seconds`.
    #[serde(default)]
    pub cron: Option<String>,
    /// Fire every this many seconds (60 to 31,622,400).
    #[serde(default)]
    #[schema(minimum = 60, maximum = 31622400)]
    pub interval_seconds: Option<i64>,
    /// IANA time zone of `cron` (default `UTC`).
    #[serde(default)]
    pub timezone: Option<String>,
    /// Default `skip`.
    #[serde(default)]
    pub overlap_policy: Option<OverlapPolicy>,
    /// `false` creates the schedule paused (default `true`).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Notified (POST, signed) of every status change of the schedule's runs.
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// Signing secret (write-only): `whsec_<base64>` or any string, whose UTF-8 bytes are the
    /// HMAC key.
    #[serde(default)]
    pub webhook_secret: Option<String>,
    #[serde(default)]
    pub metadata: Option<Metadata>,
}

impl CreateScheduleRequest {
    /// Checks the request's own fields (the suite, its tasks and the models are the engine's).
    pub fn validate(&self) -> Result<ScheduleRunConfig, ValidationError> {
        validate_name(&self.name, "name")?;
        if let Some(d) = &self.description {
            validate_description(d, "description")?;
        }
        if self.suite_id.trim().is_empty() {
            return Err(ValidationError::new("suite_id", "must not be empty"));
        }
        if let Some(v) = self.suite_version {
            if !(1..=MAX_SAFE_INT).contains(&v) {
                return Err(ValidationError::new(
                    "suite_version",
                    format!("must be between 1 and {MAX_SAFE_INT}"),
                ));
            }
        }
        validate_cadence(
            self.cron.as_deref(),
            self.interval_seconds,
            self.timezone.as_deref().unwrap_or("UTC"),
        )?;
        if let Some(url) = &self.webhook_url {
            validate_webhook_url(url)?;
        }
        if let Some(secret) = &self.webhook_secret {
            validate_webhook_secret(secret)?;
        }
        if let Some(m) = &self.metadata {
            validate_metadata(m, "metadata")?;
        }
        let run = ScheduleRunConfig::from_json(&self.run, "run")?;
        run.run_request(&self.suite_id, self.suite_version, Metadata::new())
            .validate()
            .map_err(under_run)?;
        Ok(run)
    }
}

/// Body of `PATCH /evals/schedules/{schedule_id}` (merge-patch: an absent key is unchanged,
/// `null` clears a nullable field).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct UpdateScheduleRequest {
    #[serde(default)]
    #[schema(value_type = String, required = false)]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, nullable)]
    pub description: Patch<String>,
    /// `null` unpins: each fire runs the active version.
    #[serde(default)]
    #[schema(value_type = Option<i64>, nullable, minimum = 1)]
    pub suite_version: Patch<i64>,
    /// Switching cadence: set one and null the other.
    #[serde(default)]
    #[schema(value_type = Option<String>, nullable)]
    pub cron: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<i64>, nullable, minimum = 60, maximum = 31622400)]
    pub interval_seconds: Patch<i64>,
    #[serde(default)]
    #[schema(value_type = String, required = false)]
    pub timezone: Patch<String>,
    #[serde(default)]
    #[schema(value_type = OverlapPolicy, required = false)]
    pub overlap_policy: Patch<OverlapPolicy>,
    /// `false` pauses, `true` resumes (the paused period is not replayed).
    #[serde(default)]
    #[schema(value_type = bool, required = false)]
    pub enabled: Patch<bool>,
    /// `null` removes the webhook.
    #[serde(default)]
    #[schema(value_type = Option<String>, nullable)]
    pub webhook_url: Patch<String>,
    /// `null` removes the secret.
    #[serde(default)]
    #[schema(value_type = Option<String>, nullable)]
    pub webhook_secret: Patch<String>,
    /// Replaces the whole run block.
    #[serde(default)]
    #[schema(value_type = ScheduleRunConfig, required = false)]
    pub run: Patch<Value>,
    #[serde(default)]
    #[schema(value_type = Metadata, required = false)]
    pub metadata: Patch<Metadata>,
}

/// A schedule as stored, before a patch or as a patch leaves it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleSettings {
    pub name: String,
    pub description: Option<String>,
    pub suite_version: Option<i64>,
    pub cron: Option<String>,
    pub interval_seconds: Option<i64>,
    pub timezone: String,
    pub overlap_policy: OverlapPolicy,
    pub enabled: bool,
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<String>,
    pub run: Value,
    pub metadata: Metadata,
}

impl UpdateScheduleRequest {
    /// Applies the patch to `current` and checks the result (the exactly-one cadence rule
    /// holds after the patch). Returns the new settings and the parsed run block.
    pub fn apply(
        self,
        suite_id: &str,
        current: ScheduleSettings,
    ) -> Result<(ScheduleSettings, ScheduleRunConfig), ValidationError> {
        let name = self.name.non_null("name")?;
        if let Some(n) = &name {
            validate_name(n, "name")?;
        }
        if let Some(d) = self.description.as_set() {
            validate_description(d, "description")?;
        }
        if let Some(v) = self.suite_version.as_set() {
            if !(1..=MAX_SAFE_INT).contains(v) {
                return Err(ValidationError::new(
                    "suite_version",
                    format!("must be between 1 and {MAX_SAFE_INT}"),
                ));
            }
        }
        if let Some(url) = self.webhook_url.as_set() {
            validate_webhook_url(url)?;
        }
        if let Some(secret) = self.webhook_secret.as_set() {
            validate_webhook_secret(secret)?;
        }
        let timezone = self.timezone.non_null("timezone")?;
        let overlap_policy = self.overlap_policy.non_null("overlap_policy")?;
        let enabled = self.enabled.non_null("enabled")?;
        let run = self.run.non_null("run")?;
        let metadata = self.metadata.non_null("metadata")?;
        if let Some(m) = &metadata {
            validate_metadata(m, "metadata")?;
        }
        let next = ScheduleSettings {
            name: name.unwrap_or(current.name),
            description: self.description.apply(current.description),
            suite_version: self.suite_version.apply(current.suite_version),
            cron: self.cron.apply(current.cron),
            interval_seconds: self.interval_seconds.apply(current.interval_seconds),
            timezone: timezone.unwrap_or(current.timezone),
            overlap_policy: overlap_policy.unwrap_or(current.overlap_policy),
            enabled: enabled.unwrap_or(current.enabled),
            webhook_url: self.webhook_url.apply(current.webhook_url),
            webhook_secret: self.webhook_secret.apply(current.webhook_secret),
            run: run.unwrap_or(current.run),
            metadata: metadata.unwrap_or(current.metadata),
        };
        validate_cadence(next.cron.as_deref(), next.interval_seconds, &next.timezone)?;
        let config = ScheduleRunConfig::from_json(&next.run, "run")?;
        config
            .run_request(suite_id, next.suite_version, Metadata::new())
            .validate()
            .map_err(under_run)?;
        Ok((next, config))
    }
}

/// A schedule (`object: "eval.schedule"`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScheduleObject {
    pub id: String,
    pub object: String,
    pub name: String,
    #[schema(required = true)]
    pub description: Option<String>,
    pub suite_id: String,
    /// Pinned version, or null: each fire runs the active version.
    #[schema(required = true)]
    pub suite_version: Option<i64>,
    #[schema(required = true)]
    pub cron: Option<String>,
    #[schema(required = true)]
    pub interval_seconds: Option<i64>,
    pub timezone: String,
    pub overlap_policy: OverlapPolicy,
    pub enabled: bool,
    #[schema(required = true)]
    pub webhook_url: Option<String>,
    /// Whether a signing secret is stored (the secret itself is never returned).
    pub webhook_configured: bool,
    /// The run block as stored (unknown keys kept).
    #[schema(value_type = ScheduleRunConfig)]
    pub run: Value,
    pub metadata: Metadata,
    /// The schedule's latest run, its creation time and its current status.
    #[schema(required = true)]
    pub last_run_id: Option<String>,
    #[schema(required = true)]
    pub last_run_at: Option<i64>,
    #[schema(required = true)]
    pub last_run_status: Option<String>,
    /// When the schedule fires next (null while paused or when unknown).
    #[schema(required = true)]
    pub next_run_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl super::list::HasId for ScheduleObject {
    fn id(&self) -> &str {
        &self.id
    }
}

/// Result of deleting a schedule (`object: "eval.schedule.deleted"`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScheduleDeletedObject {
    pub id: String,
    pub object: String,
    pub deleted: bool,
}

/// Query of `GET /evals/schedules`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListSchedulesQuery {
    /// A schedule id: list the schedules after it.
    pub after: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    pub suite_id: Option<String>,
    /// `true` or `false`.
    #[param(pattern = "^(true|false)$")]
    pub enabled: Option<String>,
}

/// Query of `GET /evals/schedules/{schedule_id}/runs`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListScheduleRunsQuery {
    /// A run id: list the runs after it.
    pub after: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Must be the schedule's suite when given.
    pub suite_id: Option<String>,
    #[param(minimum = 1)]
    pub suite_version: Option<i64>,
    pub status: Option<RunStatus>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn create(body: Value) -> Result<ScheduleRunConfig, ValidationError> {
        let req: CreateScheduleRequest = serde_json::from_value(body).unwrap();
        req.validate()
    }

    #[test]
    fn create_checks_cadence_and_run_paths() {
        let base =
            json!({"name": "n", "suite_id": "s", "cron": "0 3 * * *", "run": {"models": ["m"]}});
        assert!(create(base.clone()).is_ok());
        let mut both = base.clone();
        both["interval_seconds"] = json!(3600);
        assert_eq!(create(both).unwrap_err().path, "interval_seconds");
        let mut none = base.clone();
        none.as_object_mut().unwrap().remove("cron");
        assert_eq!(create(none).unwrap_err().path, "cron");
        let mut bad_cron = base.clone();
        bad_cron["cron"] = json!("61 * * * *");
        assert_eq!(create(bad_cron).unwrap_err().path, "cron");
        let mut bad_tz = base.clone();
        bad_tz["timezone"] = json!("Mars/Olympus");
        assert_eq!(create(bad_tz).unwrap_err().path, "timezone");
        let mut no_models = base.clone();
        no_models["run"] = json!({"models": []});
        assert_eq!(create(no_models).unwrap_err().path, "run.models");
        let mut bad_conc = base.clone();
        bad_conc["run"] = json!({"models": ["m"], "generation_concurrency": 0});
        assert_eq!(
            create(bad_conc).unwrap_err().path,
            "run.generation_concurrency"
        );
        let mut ftp = base.clone();
        ftp["webhook_url"] = json!("ftp://example.com/");
        assert_eq!(create(ftp).unwrap_err().path, "webhook_url");
        let mut short = base;
        short["interval_seconds"] = json!(5);
        short.as_object_mut().unwrap().remove("cron");
        assert_eq!(create(short).unwrap_err().path, "interval_seconds");
    }

    fn settings() -> ScheduleSettings {
        ScheduleSettings {
            name: "n".into(),
            description: Some("d".into()),
            suite_version: Some(2),
            cron: Some("0 3 * * *".into()),
            interval_seconds: None,
            timezone: "UTC".into(),
            overlap_policy: OverlapPolicy::Skip,
            enabled: true,
            webhook_url: None,
            webhook_secret: Some("s".into()),
            run: json!({"models": ["m"], "extra": 1}),
            metadata: Metadata::new(),
        }
    }

    fn patch(body: Value) -> Result<ScheduleSettings, ValidationError> {
        let req: UpdateScheduleRequest = serde_json::from_value(body).unwrap();
        req.apply("s", settings()).map(|(s, _)| s)
    }

    #[test]
    fn patch_keeps_absent_clears_null_and_rechecks_cadence() {
        let same = patch(json!({})).unwrap();
        assert_eq!(same, settings());
        let switched = patch(json!({"cron": null, "interval_seconds": 600})).unwrap();
        assert_eq!(switched.cron, None);
        assert_eq!(switched.interval_seconds, Some(600));
        assert_eq!(
            patch(json!({"interval_seconds": 600})).unwrap_err().path,
            "interval_seconds"
        );
        assert_eq!(patch(json!({"cron": null})).unwrap_err().path, "cron");
        let cleared =
            patch(json!({"description": null, "suite_version": null, "webhook_secret": null}))
                .unwrap();
        assert_eq!(cleared.description, None);
        assert_eq!(cleared.suite_version, None);
        assert_eq!(cleared.webhook_secret, None);
        assert_eq!(patch(json!({"name": null})).unwrap_err().path, "name");
        assert_eq!(
            patch(json!({"run": {"models": ["a", "a"]}}))
                .unwrap_err()
                .path,
            "run.models[1]"
        );
    }
}
