//! A run's samples: the filtered, sorted, paged list, and one sample's whole story (prompt,
//! output, reasoning, scores, judge, errors, timings, dataset row, trajectory, audio).

use assay_domain::api::SampleStatus;
use assay_engine::sample_audio::audio_of;
use assay_engine::trajectories::trajectory_of;
use assay_store::{SampleKey, SampleOrder, SampleQuery};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use minijinja::context;
use serde::{Deserialize, Serialize};

use crate::render::{clip, clip_json, pretty, secured, UiError, CLIP_CHARS};
use crate::runs::{given, query_string, visible_run};
use crate::session::{SignedIn, Viewer};
use crate::UiState;

/// Samples per page of the samples list.
const SAMPLES_PER_PAGE: i64 = 50;
/// Characters of one text (prompt, output, …) the sample page shows before clipping.
const TEXT_CHARS: usize = 100_000;

/// The samples list's query: filters, order and cursor, all as typed in the form.
#[derive(Deserialize, Default)]
pub(crate) struct SamplesQuery {
    task: Option<String>,
    model: Option<String>,
    status: Option<String>,
    error_type: Option<String>,
    metric: Option<String>,
    min: Option<String>,
    max: Option<String>,
    q: Option<String>,
    sort: Option<String>,
    after: Option<String>,
}

/// A bound of the score range, named by its field.
fn bound(field: &str, v: &Option<String>) -> Result<Option<f64>, UiError> {
    given(v)
        .map(|s| match s.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(x),
            _ => Err(UiError::BadRequest(format!(
                "{field}: {s:?} is not a finite number"
            ))),
        })
        .transpose()
}

impl SamplesQuery {
    fn query(&self) -> Result<SampleQuery, UiError> {
        let status = given(&self.status)
            .map(|s| {
                SampleStatus::parse(&s).ok_or_else(|| {
                    UiError::BadRequest(format!("status: {s:?} is not a sample status"))
                })
            })
            .transpose()?;
        let metric = given(&self.metric);
        let (min, max) = (bound("min", &self.min)?, bound("max", &self.max)?);
        let score = match (&metric, min, max) {
            (_, None, None) => None,
            (None, _, _) => {
                return Err(UiError::BadRequest(
                    "metric: name the score that min and max bound".into(),
                ))
            }
            (Some(m), min, max) => Some((m.clone(), min, max)),
        };
        let order = match given(&self.sort).as_deref() {
            None | Some("index") => SampleOrder::Planned,
            Some(s @ ("score_asc" | "score_desc")) => SampleOrder::Score {
                metric: metric.clone().ok_or_else(|| {
                    UiError::BadRequest("metric: name the score to sort by".into())
                })?,
                descending: s == "score_desc",
            },
            Some(other) => {
                return Err(UiError::BadRequest(format!(
                    "sort: {other:?} is not one of index, score_asc, score_desc"
                )))
            }
        };
        Ok(SampleQuery {
            task_id: given(&self.task),
            model: given(&self.model),
            status,
            error_type: given(&self.error_type),
            score,
            text: given(&self.q),
            order,
        })
    }

    /// The query string of the filters and order (without the cursor).
    fn filters_query(&self) -> String {
        query_string(&[
            ("task", &self.task),
            ("model", &self.model),
            ("status", &self.status),
            ("error_type", &self.error_type),
            ("metric", &self.metric),
            ("min", &self.min),
            ("max", &self.max),
            ("q", &self.q),
            ("sort", &self.sort),
        ])
    }
}

/// One row of the samples list.
#[derive(Serialize)]
struct SampleRow {
    id: String,
    index: i64,
    task: String,
    model: String,
    status: &'static str,
    prompt: String,
    target: Option<String>,
    output: Option<String>,
    extracted: Option<String>,
    scores: String,
    error_type: Option<String>,
}

/// Scores as `name value` pairs for a table cell.
fn scores_text(scores: &serde_json::Map<String, serde_json::Value>) -> String {
    scores
        .iter()
        .map(|(k, v)| match v.as_f64() {
            Some(x) => format!("{k} {}", trim_number(x)),
            None => format!("{k} {v}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A score without trailing zeros (`1`, `0.5`, `0.3333`).
fn trim_number(x: f64) -> String {
    let text = format!("{x:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.to_string()
    }
}

pub(crate) async fn samples_page(
    State(state): State<UiState>,
    SignedIn(viewer): SignedIn,
    Path(run_id): Path<String>,
    Query(q): Query<SamplesQuery>,
) -> Response {
    let html = samples_html(&state, &viewer, &run_id, q).await;
    state.respond(&viewer, html)
}

async fn samples_html(
    state: &UiState,
    viewer: &Viewer,
    run_id: &str,
    q: SamplesQuery,
) -> Result<String, UiError> {
    let run = visible_run(state, viewer, run_id).await?.object;
    let query = q.query()?;
    let page = state
        .store
        .browse_samples(
            &viewer.principal,
            run_id,
            &query,
            given(&q.after).as_deref(),
            SAMPLES_PER_PAGE,
        )
        .await?;
    let rows: Vec<SampleRow> = page
        .samples
        .into_iter()
        .map(|s| SampleRow {
            status: s.status.as_str(),
            scores: scores_text(&s.scores),
            id: s.id,
            index: s.sample_index,
            task: s.task_id,
            model: s.model,
            prompt: s.prompt,
            target: s.target,
            output: s.output,
            extracted: s.extracted_output,
            error_type: s.error_type,
        })
        .collect();
    // The tasks and metrics the run's results name, for the filter form.
    let mut tasks: Vec<String> = run.task_ids.clone().unwrap_or_default();
    let mut metrics: Vec<String> = Vec::new();
    for (task, entry) in run
        .metrics
        .as_ref()
        .and_then(|m| m.get("by_model"))
        .and_then(|m| m.as_object())
        .into_iter()
        .flat_map(|models| models.values())
        .filter_map(|tasks| tasks.as_object())
        .flatten()
    {
        if !tasks.contains(task) {
            tasks.push(task.clone());
        }
        for metric in entry
            .get("metrics")
            .and_then(|m| m.as_object())
            .into_iter()
            .flat_map(|m| m.keys())
        {
            if !metrics.contains(metric) {
                metrics.push(metric.clone());
            }
        }
    }
    state.render(
        "samples.html",
        context! {
            run => context! { id => &run.id, status => run.status.as_str(), models => &run.models },
            samples => rows,
            matching => page.matching,
            next => page.next,
            filters => q.filters_query(),
            q => context! {
                task => given(&q.task), model => given(&q.model), status => given(&q.status),
                error_type => given(&q.error_type), metric => given(&q.metric),
                min => given(&q.min), max => given(&q.max), q => given(&q.q),
                sort => given(&q.sort).unwrap_or_else(|| "index".into()),
            },
            tasks => tasks,
            metrics => metrics,
            statuses => SampleStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            viewer => viewer.view(),
        },
    )
}

pub(crate) async fn sample_page(
    State(state): State<UiState>,
    SignedIn(viewer): SignedIn,
    Path((run_id, sample_id)): Path<(String, String)>,
) -> Response {
    let html = sample_html(&state, &viewer, &run_id, &sample_id).await;
    state.respond(&viewer, html)
}

/// One step of an agent trial's trajectory, as the sample page shows it.
#[derive(Serialize)]
struct Step {
    number: usize,
    source: Option<String>,
    message: Option<String>,
    reasoning: Option<String>,
    tool_calls: Option<String>,
    observation: Option<String>,
    /// Whatever else the step holds.
    rest: Option<String>,
}

/// The text of a step field: a string as itself, anything else as JSON.
fn field_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => clip(s, CLIP_CHARS * 5),
        other => pretty(&clip_json(other, CLIP_CHARS)),
    }
}

/// The steps of a trajectory: `source`/`role`, `message`/`content`, `reasoning_content`,
/// `tool_calls` and `observation` named, the rest shown as JSON.
fn steps(raw: &serde_json::value::RawValue) -> Vec<Step> {
    let Ok(serde_json::Value::Array(items)) = serde_json::from_str(raw.get()) else {
        return Vec::new();
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let mut map = match item {
                serde_json::Value::Object(map) => map,
                other => {
                    let mut m = serde_json::Map::new();
                    m.insert("value".into(), other);
                    m
                }
            };
            let mut take = |keys: &[&str]| {
                keys.iter()
                    .find_map(|k| map.remove(*k))
                    .filter(|v| !v.is_null())
                    .map(|v| field_text(&v))
            };
            let source = take(&["source", "role"]);
            let message = take(&["message", "content"]);
            let reasoning = take(&["reasoning_content", "reasoning"]);
            let tool_calls = take(&["tool_calls"]);
            let observation = take(&["observation"]);
            map.remove("step_id");
            Step {
                number: i + 1,
                source,
                message,
                reasoning,
                tool_calls,
                observation,
                rest: (!map.is_empty())
                    .then(|| pretty(&clip_json(&serde_json::Value::Object(map), CLIP_CHARS))),
            }
        })
        .collect()
}

async fn sample_html(
    state: &UiState,
    viewer: &Viewer,
    run_id: &str,
    sample_id: &str,
) -> Result<String, UiError> {
    let record = visible_run(state, viewer, run_id).await?;
    let sample = state.store.sample_by_id(run_id, sample_id).await?.object;
    // The run and the sample are read once; the trajectory and the clip start from them.
    let key = SampleKey {
        id: sample.id.clone(),
        run_id: sample.run_id.clone(),
        task_id: sample.task_id.clone(),
        model: sample.model.clone(),
        sample_index: sample.sample_index,
    };
    let trajectory = match trajectory_of(&state.store, key).await {
        Ok(Some(t)) => Some(context! {
            schema_version => t.schema_version,
            steps => steps(&t.steps),
            logs => t.logs.map(|l| {
                serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(l.get())
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(path, tail)| (path, field_text(&tail)))
                    .collect::<Vec<_>>()
            }),
        }),
        Ok(None) => None,
        Err(e) => return Err(e.into()),
    };
    let audio = match audio_of(&state.store, &record, &sample).await {
        Ok(a) if a.audio.starts_with("data:") => Some(context! { inline => true }),
        Ok(a) => Some(context! { inline => false, url => a.audio }),
        Err(
            assay_engine::trajectories::TrajectoryError::NotFound(_)
            | assay_engine::trajectories::TrajectoryError::TooLarge(_),
        ) => None,
        Err(e) => return Err(e.into()),
    };
    let mut row = sample.dataset_row.clone().unwrap_or_default();
    assay_store::redact_data_uris(&mut row);
    let text = |t: &Option<String>| t.as_deref().map(|t| clip(t, TEXT_CHARS));
    let tokens = context! {
        input => sample.input_tokens, output => sample.output_tokens,
        cached => sample.cached_tokens, reasoning => sample.reasoning_tokens,
        estimated => sample.tokens_estimated,
    };
    let error = sample.error.as_ref().map(|e| {
        context! {
            error_type => e.get("type").and_then(|t| t.as_str()),
            message => e.get("message").and_then(|t| t.as_str()).map(|m| clip(m, TEXT_CHARS)),
            traceback => e.get("traceback").and_then(|t| t.as_str()).map(|m| clip(m, TEXT_CHARS)),
            json => pretty(&clip_json(e, CLIP_CHARS)),
        }
    });
    let judge = sample.judge.as_ref().map(|j| {
        context! {
            prompt => j.get("prompt").map(field_text),
            verdict => j.get("verdict").or_else(|| j.get("output")).map(field_text),
            json => pretty(&clip_json(j, CLIP_CHARS)),
        }
    });
    let view = context! {
        id => &sample.id,
        index => sample.sample_index,
        task => &sample.task_id,
        model => &sample.model,
        status => sample.status.as_str(),
        prompt => clip(&sample.prompt, TEXT_CHARS),
        target => text(&sample.target),
        output => text(&sample.output_text),
        reasoning => text(&sample.reasoning),
        extracted => text(&sample.extracted_output),
        scores => sample.scores.iter().map(|(k, v)| (k.clone(), field_text(v))).collect::<Vec<_>>(),
        judge => judge,
        error => error,
        tokens => tokens,
        cost => sample.cost_usd.map(|c| format!("{c:.6}")),
        timings => sample.phase_timings.as_ref().map(|t| pretty(&clip_json(t, CLIP_CHARS))),
        started => sample.started_at.map(crate::render::format_time),
        seconds => match (sample.started_at, sample.completed_at) {
            (Some(s), Some(c)) if c >= s => Some(crate::runs::seconds_text(c - s)),
            _ => None,
        },
        row => (!row.is_empty()).then(|| pretty(&clip_json(&serde_json::Value::Object(row), CLIP_CHARS))),
        audio => audio,
        trajectory => trajectory,
    };
    state.render(
        "sample.html",
        context! {
            run => context! { id => &record.object.id },
            sample => view,
            viewer => viewer.view(),
        },
    )
}

/// The clip of a transcription sample whose row holds it inline, as audio bytes for the
/// page's player (a clip the row names by URL is linked, not proxied).
pub(crate) async fn sample_audio(
    State(state): State<UiState>,
    SignedIn(viewer): SignedIn,
    Path((run_id, sample_id)): Path<(String, String)>,
) -> Response {
    let clip = async {
        let run = visible_run(&state, &viewer, &run_id).await?;
        let sample = state.store.sample_by_id(&run_id, &sample_id).await?.object;
        let audio = audio_of(&state.store, &run, &sample).await?;
        assay_engine::audio::parse_data_uri(&audio.audio).map_err(|_| {
            UiError::NotFound("the clip is not stored inline; its page links to it".into())
        })
    }
    .await;
    match clip {
        Ok(clip) => secured(
            (
                [
                    (header::CONTENT_TYPE, clip.mime.clone()),
                    (header::CACHE_CONTROL, "private, max-age=3600".to_string()),
                ],
                clip.bytes,
            )
                .into_response(),
        ),
        Err(e) => state.error_page(e, Some(&viewer)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> SamplesQuery {
        let text = serde_urlencoded::to_string(pairs).unwrap_or_default();
        serde_urlencoded::from_str(&text).unwrap_or_default()
    }

    fn bad_field(query: SamplesQuery) -> String {
        match query.query() {
            Err(UiError::BadRequest(m)) => m,
            other => panic!("expected a bad request, got {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn sample_queries_name_the_field_they_reject() {
        assert!(bad_field(q(&[("min", "abc"), ("metric", "acc")])).starts_with("min:"));
        assert!(bad_field(q(&[("max", "inf"), ("metric", "acc")])).starts_with("max:"));
        assert!(bad_field(q(&[("min", "0.5")])).starts_with("metric:"));
        assert!(bad_field(q(&[("sort", "score_desc")])).starts_with("metric:"));
        assert!(bad_field(q(&[("sort", "random")])).starts_with("sort:"));
        assert!(bad_field(q(&[("status", "done")])).starts_with("status:"));
        let ok = q(&[
            ("metric", "acc"),
            ("max", "0"),
            ("sort", "score_asc"),
            ("q", " cat "),
            ("task", ""),
        ])
        .query();
        let Ok(ok) = ok else { panic!("a good query") };
        assert_eq!(ok.score, Some(("acc".into(), None, Some(0.0))));
        assert_eq!(ok.text.as_deref(), Some("cat"));
        assert_eq!(ok.task_id, None);
        assert_eq!(
            ok.order,
            SampleOrder::Score {
                metric: "acc".into(),
                descending: false
            }
        );
    }

    #[test]
    fn scores_read_compactly() {
        let scores = serde_json::json!({"acc": 1.0, "f1": 0.333333, "ok": true});
        let Some(map) = scores.as_object() else {
            panic!()
        };
        assert_eq!(scores_text(map), "acc 1, f1 0.3333, ok true");
    }

    #[test]
    fn trajectory_steps_name_their_parts() {
        let raw = serde_json::value::RawValue::from_string(
            r#"[{"step_id": 1, "source": "user", "message": "fix it"},
                {"step_id": 2, "source": "agent", "message": "ok", "tool_calls": [{"name": "bash"}],
                 "observation": {"results": [{"content": "done"}]}, "metrics": {"tokens": 3}}, 7]"#
                .to_string(),
        );
        let Ok(raw) = raw else { panic!("valid JSON") };
        let s = steps(&raw);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].source.as_deref(), Some("user"));
        assert_eq!(s[0].message.as_deref(), Some("fix it"));
        assert!(s[0].rest.is_none());
        assert!(s[1]
            .tool_calls
            .as_deref()
            .is_some_and(|t| t.contains("bash")));
        assert!(s[1]
            .observation
            .as_deref()
            .is_some_and(|t| t.contains("done")));
        assert!(s[1].rest.as_deref().is_some_and(|t| t.contains("tokens")));
        assert!(s[2].rest.as_deref().is_some_and(|t| t.contains('7')));
    }
}
