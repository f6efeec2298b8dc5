//! Model-graded scoring of generated samples: `semantic_similarity` tasks (cosine between
//! the answer and the target through the embedding model) and `llm_judge` tasks (a judge
//! model grades the answer). Both run in the grading step of a sample, under the run's
//! `grader_concurrency`, and call their model through the gateway with its retries, limits and
//! error taxonomy.

use assay_domain::api::SampleObject;
use assay_domain::generation::GenerationConfig;
use assay_domain::manifest::{similarity_threshold, JudgeConfig, JudgeMode, Task, TaskType};
use assay_models::{CallError, ErrorKind, Gateway, ResolvedModel, Role};
use assay_scoring::embedding::cosine;
use assay_scoring::judge::{judge_prompt, parse_verdict, JudgeInput};
use serde_json::{json, Map, Value};
use tokio_util::sync::CancellationToken;

/// Characters of an answer or target embedded for `semantic_similarity` (the embedding
/// gateway's ceiling; longer texts are cut).
pub const MAX_EMBED_CHARS: usize = 60_000;

/// `s` cut to at most `max` characters.
pub fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((end, _)) => s[..end].to_string(),
        None => s.to_string(),
    }
}

/// Metrics a `semantic_similarity` task reports by default.
pub const SIMILARITY_METRICS: [&str; 2] = ["cosine", "pass_rate"];
/// Metrics an `llm_judge` task reports by default.
pub const JUDGE_METRICS: [&str; 2] = ["score", "pass_rate"];

/// How a task's samples are graded beyond the built-in metrics.
#[derive(Debug, Clone)]
pub enum Grading {
    /// Cosine similarity of answer and target; passes at `threshold`.
    Similarity { threshold: f64 },
    /// An LLM judge.
    Judge(Box<JudgeConfig>),
}

impl Grading {
    /// The grading a task needs, if it is model-graded. Its settings were checked when the
    /// suite was created; an error here means the stored manifest is unreadable.
    pub fn for_task(task: &Task) -> Option<Result<Grading, String>> {
        let metadata = task.metadata.as_ref();
        match task.task_type {
            TaskType::SemanticSimilarity => Some(
                similarity_threshold(metadata, "metadata")
                    .map(|threshold| Grading::Similarity { threshold })
                    .map_err(|e| e.to_string()),
            ),
            TaskType::LlmJudge => Some(
                JudgeConfig::from_metadata(metadata, "metadata")
                    .map(|c| Grading::Judge(Box::new(c)))
                    .map_err(|e| e.to_string()),
            ),
            _ => None,
        }
    }

    /// The model role this grading calls.
    pub fn role(&self) -> Role {
        match self {
            Grading::Similarity { .. } => Role::Embedding,
            Grading::Judge(_) => Role::Judge,
        }
    }
}

/// A graded sample's extra scores and the `judge` object stored with it.
pub struct Graded {
    pub scores: Map<String, Value>,
    pub judge: Value,
}

/// Why grading did not finish.
pub enum GradeError {
    /// The run was cancelled or is stopping: leave the sample to be graded again.
    Stopped,
    /// The sample fails with this `error` object.
    Failed(Value),
}

impl From<CallError> for GradeError {
    fn from(e: CallError) -> Self {
        if e.kind == ErrorKind::Cancelled {
            return GradeError::Stopped;
        }
        let mut error = e.to_json();
        if let Value::Object(o) = &mut error {
            o.insert("stage".into(), json!("grading"));
        }
        GradeError::Failed(error)
    }
}

fn failed(kind: &str, message: impl Into<String>) -> GradeError {
    GradeError::Failed(json!({"type": kind, "message": message.into(), "stage": "grading"}))
}

/// The model a grading calls, resolved once per run: `model` (the run's `judge_model` or
/// `embedding_model`) or `auto`.
pub fn resolve_grader(
    gateway: &Gateway,
    model: Option<&str>,
    role: Role,
) -> Result<(String, ResolvedModel), String> {
    let id = model.unwrap_or("auto");
    gateway
        .resolve(id, role)
        .map(|r| (id.to_string(), r))
        .map_err(|e| e.to_string())
}

/// What grading calls with.
pub struct Grader<'a> {
    pub gateway: &'a Gateway,
    /// The run's model id for the role (as given) and its resolution, or why it has none.
    pub model: Result<&'a (String, ResolvedModel), &'a str>,
    /// The run's generation settings (cache, timeouts and retries carry over to the judge).
    pub generation: &'a GenerationConfig,
    pub stop: &'a CancellationToken,
}

impl Grader<'_> {
    fn model(&self) -> Result<&(String, ResolvedModel), GradeError> {
        self.model
            .map_err(|why| failed("bad_request", format!("no grading model: {why}")))
    }

    /// Grades one sample whose (extracted) answer is `answer`.
    pub async fn grade(
        &self,
        grading: &Grading,
        sample: &SampleObject,
        answer: &str,
    ) -> Result<Graded, GradeError> {
        match grading {
            Grading::Similarity { threshold } => self.similarity(*threshold, sample, answer).await,
            Grading::Judge(config) => self.judge(config, sample, answer).await,
        }
    }

    async fn similarity(
        &self,
        threshold: f64,
        sample: &SampleObject,
        answer: &str,
    ) -> Result<Graded, GradeError> {
        let Some(target) = sample.target.as_deref().filter(|t| !t.trim().is_empty()) else {
            return Err(failed(
                "missing_target",
                "semantic_similarity needs a target to compare the answer with",
            ));
        };
        let (id, resolved) = self.model()?;
        // An empty answer says nothing: it scores 0 without a call (providers reject empty
        // inputs).
        let (similarity, usage) = if answer.trim().is_empty() {
            (0.0, None)
        } else {
            let texts = [
                truncate_chars(answer, MAX_EMBED_CHARS),
                truncate_chars(target, MAX_EMBED_CHARS),
            ];
            let embedded = self
                .gateway
                .embed_resolved(resolved, &texts, self.stop)
                .await?;
            let [a, b] = embedded.vectors.as_slice() else {
                return Err(failed(
                    "bad_response",
                    format!(
                        "the embedding model returned {} vectors for 2 texts",
                        embedded.vectors.len()
                    ),
                ));
            };
            (cosine(a, b), Some(embedded.usage))
        };
        let passed = similarity >= threshold;
        let mut scores = Map::new();
        scores.insert("cosine".into(), json!(similarity));
        scores.insert("pass_rate".into(), json!(f64::from(u8::from(passed))));
        let judge = json!({
            "type": "embedding_similarity",
            "model": id,
            "endpoint": resolved.endpoint,
            "upstream_model": resolved.upstream_model,
            "cosine": similarity,
            "pass_threshold": threshold,
            "passed": passed,
            "usage": usage.map(|u| json!({"input_tokens": u.input_tokens, "estimated": u.estimated})),
        });
        Ok(Graded { scores, judge })
    }

    async fn judge(
        &self,
        config: &JudgeConfig,
        sample: &SampleObject,
        answer: &str,
    ) -> Result<Graded, GradeError> {
        let (id, resolved) = self.model()?;
        let input = JudgeInput {
            prompt: &sample.prompt,
            output: answer,
            target: sample.target.as_deref(),
            sample_index: sample.sample_index,
            row: sample.dataset_row.as_ref(),
        };
        let prompt = judge_prompt(config, &input).map_err(|e| failed("judge_prompt_error", e))?;
        // The judge decodes greedily within its own budget; the run's cache, timeout and
        // retry settings apply to its calls too.
        let settings = GenerationConfig {
            temperature: Some(0.0),
            do_sample: Some(false),
            max_output_tokens: Some(config.max_output_tokens),
            use_cache: self.generation.use_cache,
            timeout_seconds: self.generation.timeout_seconds,
            max_retries: self.generation.max_retries,
            max_empty_retries: self.generation.max_empty_retries,
            ..GenerationConfig::default()
        };
        let mut attempts = 0u32;
        let (mut input_tokens, mut output_tokens) = (0u64, 0u64);
        let mut replies = Vec::new();
        for attempt in 0..=config.parse_retries {
            // A cached reply would repeat an unreadable verdict: ask the judge itself again.
            let settings = GenerationConfig {
                use_cache: if attempt == 0 {
                    settings.use_cache
                } else {
                    None
                },
                ..settings.clone()
            };
            let reply = self
                .gateway
                .generate_resolved(resolved, &prompt.text, &settings, self.stop)
                .await?;
            attempts += reply.attempts;
            input_tokens += reply.usage.input_tokens;
            output_tokens += reply.usage.output_tokens;
            match parse_verdict(config, &reply.output_text, prompt.candidate_position) {
                Ok(verdict) => {
                    let passed = verdict.passed(config);
                    let mut scores = Map::new();
                    scores.insert("score".into(), json!(verdict.score));
                    scores.insert("pass_rate".into(), json!(f64::from(u8::from(passed))));
                    let judge = json!({
                        "type": "llm_judge",
                        "model": id,
                        "endpoint": resolved.endpoint,
                        "upstream_model": resolved.upstream_model,
                        "mode": config.mode.as_str(),
                        "prompt": prompt.text,
                        "output": reply.output_text,
                        "score": verdict.score,
                        "reasoning": verdict.reasoning,
                        "winner": verdict.winner,
                        "candidate_position": prompt.candidate_position,
                        "scale": match config.mode {
                            JudgeMode::Single => json!([config.scale.0, config.scale.1]),
                            JudgeMode::Pairwise => json!([0.0, 1.0]),
                        },
                        "pass_threshold": config.pass_threshold,
                        "passed": passed,
                        "parse_attempts": replies.len() + 1,
                        "attempts": attempts,
                        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
                    });
                    return Ok(Graded { scores, judge });
                }
                Err(why) => replies.push((reply.output_text, why)),
            }
        }
        let (last_reply, why) = replies.pop().unwrap_or_default();
        Err(GradeError::Failed(json!({
            "type": "judge_parse_error",
            "message": format!(
                "the judge's verdict could not be read after {} attempts: {why}",
                config.parse_retries + 1
            ),
            "stage": "grading",
            "judge_model": id,
            "judge_output": last_reply,
            "attempts": attempts,
        })))
    }
}
