//! The HTTP side of an import: the run with its trials (in one request, or opened and filled
//! in batches), then each trial's trajectory.
//!
//! Every call is safe to repeat, so transient failures (no connection, 429, 5xx) are retried
//! with backoff: the import by its idempotency key, appended trials and trajectories as
//! upserts.

use std::time::Duration;

use anyhow::{bail, Context};
use assay_domain::api::agents::{AppendTrialsRequest, ImportAgentRunRequest};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::Value;

use super::plan::{Plan, PlannedTrial};
use super::trajectory::Upload;

/// Where the evals API lives under the server URL.
const EVALS: &str = "/api/v1/llm/evals";
/// Attempts of one call before giving up on a transient failure.
const ATTEMPTS: u32 = 5;

/// A client of the evals API.
pub struct Api {
    http: reqwest::Client,
    server: String,
    key: String,
}

impl Api {
    pub fn new(server: &str, key: &str) -> Api {
        Api {
            http: reqwest::Client::new(),
            server: server.trim_end_matches('/').to_string(),
            key: key.to_string(),
        }
    }

    /// The run's URL.
    pub fn run_url(&self, run_id: &str) -> String {
        format!("{}{EVALS}/runs/{run_id}", self.server)
    }

    /// Sends the JSON `body` and returns the answer; a refusal is an error carrying the
    /// server's message.
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: String,
    ) -> anyhow::Result<Value> {
        let url = format!("{}{EVALS}{path}", self.server);
        let mut delay = Duration::from_millis(500);
        for attempt in 1..=ATTEMPTS {
            let sent = self
                .http
                .request(method.clone(), &url)
                .query(query)
                .bearer_auth(&self.key)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
                .send()
                .await;
            let last = attempt == ATTEMPTS;
            let response = match sent {
                Ok(response) => response,
                Err(e) if !last => {
                    tracing::debug!("{method} {url}: {e}; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    continue;
                }
                Err(e) => return Err(e).with_context(|| format!("{method} {url}")),
            };
            let status = response.status();
            let transient = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
            if transient && !last {
                tokio::time::sleep(delay).await;
                delay *= 2;
                continue;
            }
            let text = response
                .text()
                .await
                .with_context(|| format!("reading the answer to {method} {url}"))?;
            let answer: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
            if !status.is_success() {
                bail!(
                    "{method} {url}: the server answered {status}: {}",
                    refusal(&answer)
                );
            }
            return Ok(answer);
        }
        unreachable!("the last attempt returns")
    }

    async fn import(&self, request: &ImportAgentRunRequest) -> anyhow::Result<Value> {
        let body = request_body(request)?;
        self.call(Method::POST, "/imports/agent-run", &[], body)
            .await
    }

    async fn append(&self, run_id: &str, request: &AppendTrialsRequest) -> anyhow::Result<Value> {
        let path = format!("/runs/{run_id}/trials");
        self.call(Method::POST, &path, &[], request_body(request)?)
            .await
    }

    /// Uploads (or replaces) one trial's trajectory.
    pub async fn put_trajectory(
        &self,
        run_id: &str,
        trial: &PlannedTrial,
        model: &str,
        upload: &Upload,
    ) -> anyhow::Result<Value> {
        let path = format!("/runs/{run_id}/samples/{}/trajectory", trial.sample_index());
        let query = [("task_id", trial.input.task_id.as_str()), ("model", model)];
        // Serialized directly: the steps' JSON text goes out as the file has it.
        let body = serde_json::to_string(upload)?;
        self.call(Method::PUT, &path, &query, body).await
    }
}

/// Imports the plan's run and trials: in one request when they fit in `batch_size`, else by
/// opening the run with the first batch and appending the others, the last one finalizing.
/// A run the idempotency key finds already completed gets no appends. Returns the run.
pub async fn import_run(api: &Api, plan: &Plan, batch_size: usize) -> anyhow::Result<Value> {
    let trials: Vec<_> = plan.trials.iter().map(|t| t.input.clone()).collect();
    let mut batches = trials.chunks(batch_size.max(1));
    let first = batches.next().unwrap_or_default().to_vec();
    let streamed = trials.len() > first.len();
    let mut request = plan.request.clone();
    request.trials = Some(first);
    if streamed {
        request.finalize = Some(false);
        request.expected_trials = i64::try_from(trials.len()).ok();
    }
    let mut run = api.import(&request).await?;
    let run_id = run_id(&run)?;
    if !streamed || run["status"] == "completed" {
        return Ok(run);
    }
    let mut rest = batches.peekable();
    while let Some(batch) = rest.next() {
        let request = AppendTrialsRequest {
            trials: Some(batch.to_vec()),
            finalize: Some(rest.peek().is_none()),
        };
        run = api.append(&run_id, &request).await?;
    }
    Ok(run)
}

/// The id of a run object.
pub fn run_id(run: &Value) -> anyhow::Result<String> {
    match run["id"].as_str() {
        Some(id) => Ok(id.to_string()),
        None => bail!("the server answered without a run id: {run}"),
    }
}

/// The server's error message (and the field it names), from the error envelope.
fn refusal(answer: &Value) -> String {
    let error = &answer["error"];
    match (
        error["message"].as_str(),
        error["details"]["param"].as_str(),
    ) {
        (Some(message), Some(param)) if !message.contains(param) => {
            format!("{message} ({param})")
        }
        (Some(message), _) => message.to_string(),
        _ => match answer.as_str() {
            Some(text) => text.to_string(),
            None => answer.to_string(),
        },
    }
}

/// A request's JSON with its null members left out (unknown stays unknown; the SDK, too,
/// omits what is unset).
fn request_body(request: &impl Serialize) -> anyhow::Result<String> {
    Ok(without_nulls(serde_json::to_value(request)?).to_string())
}

/// The body with null members of the top-level object and of each of its `trials` left out.
fn without_nulls(mut body: Value) -> Value {
    fn strip(object: &mut Value) {
        if let Some(map) = object.as_object_mut() {
            map.retain(|_, v| !v.is_null());
        }
    }
    strip(&mut body);
    if let Some(trials) = body.get_mut("trials").and_then(Value::as_array_mut) {
        trials.iter_mut().for_each(strip);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nulls_are_left_out_but_nested_maps_kept_whole() {
        let body = json!({
            "a": null, "b": 1,
            "trials": [{"cost_usd": null, "error": {"x": null}, "task_id": "t"}]
        });
        assert_eq!(
            without_nulls(body),
            json!({"b": 1, "trials": [{"error": {"x": null}, "task_id": "t"}]})
        );
    }

    #[test]
    fn refusals_carry_the_message_and_field() {
        let answer = json!({"error": {"message": "unknown task `x`", "details": {"param": "trials[0].task_id"}}});
        assert_eq!(refusal(&answer), "unknown task `x` (trials[0].task_id)");
        let named = json!({"error": {"message": "trials[0].task_id: unknown", "details": {"param": "trials[0].task_id"}}});
        assert_eq!(refusal(&named), "trials[0].task_id: unknown");
        assert_eq!(refusal(&json!("Bad Gateway")), "Bad Gateway");
    }
}
