//! Built-in metrics: per-sample scores computed in-process from the extracted output, the
//! target and the task's choices. The list, with definitions, is in the crate docs.
//!
//! Every built-in metric returns a value in `[0, 1]` where higher is better, and returns 0
//! when the extraction found nothing (`prediction: None`) or there is no gold answer.
//!
//! **Several gold answers.** A target that is a JSON array of strings (`["Paris", "City of
//! Paris"]`, as a template renders a list column) holds several acceptable answers (see
//! [`gold_answers`]): `bleu` scores against all of them at once (multi-reference BLEU);
//! every other metric takes the maximum over them (SQuAD's rule for `exact_match`/`f1`,
//! rouge-score's and sacreBLEU's best-reference rule for ROUGE and chrF).

mod choice;
mod overlap;
mod text;

pub use choice::resolve_choice;

use assay_domain::manifest::TaskType;

/// One sample as the metrics see it.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricInput<'a> {
    /// The extracted output; `None` when extraction found nothing (every metric gives 0).
    pub prediction: Option<&'a str>,
    /// The gold answers (usually one; see [`gold_answers`]). Empty → every metric gives 0.
    pub targets: Vec<String>,
    /// The task's answer options (`choices`), empty when it has none.
    pub choices: &'a [String],
    /// The task type, which decides e.g. whether `exact_match` compares numbers.
    pub task_type: TaskType,
}

impl<'a> MetricInput<'a> {
    /// An input whose gold answers come from the rendered `target` by [`gold_answers`].
    pub fn new(
        prediction: Option<&'a str>,
        target: &str,
        choices: &'a [String],
        task_type: TaskType,
    ) -> Self {
        Self {
            prediction,
            targets: gold_answers(target),
            choices,
            task_type,
        }
    }
}

/// The gold answers a rendered target holds: the strings of a JSON array when the target
/// (trimmed) is a non-empty JSON array of strings only (`["4", "four"]`), else the target
/// itself as the single answer. A target such as `[1, 2]` or `[]` stays one literal answer.
pub fn gold_answers(target: &str) -> Vec<String> {
    let t = target.trim();
    if t.starts_with('[') && t.ends_with(']') {
        if let Ok(serde_json::Value::Array(items)) = serde_json::from_str(t) {
            let strings: Option<Vec<String>> = items
                .into_iter()
                .map(|v| match v {
                    serde_json::Value::String(s) => Some(s),
                    _ => None,
                })
                .collect();
            if let Some(strings) = strings.filter(|s| !s.is_empty()) {
                return strings;
            }
        }
    }
    vec![target.to_string()]
}

/// A built-in metric.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinMetric {
    /// Metric id, the key under sample `scores`.
    pub id: &'static str,
    /// One-line definition.
    pub description: &'static str,
    /// Smallest possible value.
    pub min: f64,
    /// Largest possible value.
    pub max: f64,
    /// Whether larger is better (true for every built-in).
    pub higher_is_better: bool,
    score: fn(&str, &str, &MetricInput<'_>) -> f64,
    /// Whether the metric scores all gold answers at once instead of taking the max.
    multi_reference: Option<fn(&str, &[String]) -> f64>,
}

impl BuiltinMetric {
    /// The metric's value for one sample, in `[min, max]`.
    pub fn compute(&self, input: &MetricInput<'_>) -> f64 {
        let Some(prediction) = input.prediction else {
            return 0.0;
        };
        if input.targets.is_empty() {
            return 0.0;
        }
        if let Some(multi) = self.multi_reference {
            return multi(prediction, &input.targets);
        }
        input
            .targets
            .iter()
            .map(|gold| (self.score)(prediction, gold, input))
            .fold(0.0, f64::max)
    }
}

/// Ids of every built-in metric, in documentation order.
pub const BUILTIN_IDS: &[&str] = &[
    "accuracy",
    "exact_match",
    "f1",
    "contains",
    "regex_match",
    "rouge1",
    "rouge2",
    "rougeL",
    "bleu",
    "chrf",
];

static BUILTINS: &[BuiltinMetric] = &[
    BuiltinMetric {
        id: "accuracy",
        description: "1 if the prediction names the target choice (by letter, index or text), else 0",
        min: 0.0,
        max: 1.0,
        higher_is_better: true,
        score: |p, g, i| choice::accuracy(p, g, i.choices),
        multi_reference: None,
    },
    BuiltinMetric {
        id: "exact_match",
        description: "1 if prediction and target are equal after SQuAD normalization (numeric and math tasks: or equal as numbers / LaTeX answers), else 0",
        min: 0.0,
        max: 1.0,
        higher_is_better: true,
        score: |p, g, i| text::exact_match(p, g, i.task_type),
        multi_reference: None,
    },
    BuiltinMetric {
        id: "f1",
        description: "SQuAD token-overlap F1 between the normalized prediction and target",
        min: 0.0,
        max: 1.0,
        higher_is_better: true,
        score: |p, g, _| text::f1(p, g),
        multi_reference: None,
    },
    BuiltinMetric {
        id: "contains",
        description: "1 if the normalized target occurs as whole words in the normalized prediction, else 0",
        min: 0.0,
        max: 1.0,
        higher_is_better: true,
        score: |p, g, _| text::contains(p, g),
        multi_reference: None,
    },
    BuiltinMetric {
        id: "regex_match",
        description: "1 if the target, as a regular expression, matches somewhere in the prediction (literal substring if not a valid regex), else 0",
        min: 0.0,
        max: 1.0,
        higher_is_better: true,
        score: |p, g, _| text::regex_match(p, g),
        multi_reference: None,
    },
    BuiltinMetric {
        id: "rouge1",
        description: "ROUGE-1 F-measure (unigram overlap)",
        min: 0.0,
        max: 1.0,
        higher_is_better: true,
        score: |p, g, _| overlap::rouge_n(p, g, 1),
        multi_reference: None,
    },
    BuiltinMetric {
        id: "rouge2",
        description: "ROUGE-2 F-measure (bigram overlap)",
        min: 0.0,
        max: 1.0,
        higher_is_better: true,
        score: |p, g, _| overlap::rouge_n(p, g, 2),
        multi_reference: None,
    },
    BuiltinMetric {
        id: "rougeL",
        description: "ROUGE-L F-measure (longest common subsequence)",
        min: 0.0,
        max: 1.0,
        higher_is_better: true,
        score: |p, g, _| overlap::rouge_l(p, g),
        multi_reference: None,
    },
    BuiltinMetric {
        id: "bleu",
        description: "sentence BLEU as sacreBLEU computes it (13a tokens, 4-grams, exp smoothing), divided by 100",
        min: 0.0,
        max: 1.0,
        higher_is_better: true,
        score: |p, g, _| overlap::bleu(p, std::slice::from_ref(&g.to_string())),
        multi_reference: Some(overlap::bleu),
    },
    BuiltinMetric {
        id: "chrf",
        description: "chrF (character 6-grams, beta 2) as sacreBLEU computes it, divided by 100",
        min: 0.0,
        max: 1.0,
        higher_is_better: true,
        score: |p, g, _| overlap::chrf(p, g),
        multi_reference: None,
    },
];

/// The built-in metric with this id, or `None` (ids are case-sensitive: `rougeL`).
pub fn builtin(id: &str) -> Option<&'static BuiltinMetric> {
    BUILTINS.iter().find(|m| m.id == id)
}

/// Every built-in metric, in [`BUILTIN_IDS`] order.
pub fn builtins() -> &'static [BuiltinMetric] {
    BUILTINS
}

/// Computes the built-in metric `id` for one sample; `None` when `id` is not built in.
pub fn compute(id: &str, input: &MetricInput<'_>) -> Option<f64> {
    builtin(id).map(|m| m.compute(input))
}

/// The metrics a task scores when it declares none and has no grader:
///
/// | task type | metrics |
/// |---|---|
/// | `classification`, `multiple_choice` | `accuracy` |
/// | `qa` | `exact_match`, `f1` |
/// | `numeric`, `math` | `exact_match` |
/// | `summarization` | `rouge1`, `rouge2`, `rougeL` |
/// | `semantic_similarity`, `llm_judge`, `custom`, `transcription`, `embedding` | none (scored by a grader, a judge, or the embedding / transcription path) |
pub fn default_metric_ids(task_type: TaskType) -> &'static [&'static str] {
    match task_type {
        TaskType::Classification | TaskType::MultipleChoice => &["accuracy"],
        TaskType::Qa => &["exact_match", "f1"],
        TaskType::Numeric | TaskType::Math => &["exact_match"],
        TaskType::Summarization => &["rouge1", "rouge2", "rougeL"],
        TaskType::SemanticSimilarity
        | TaskType::LlmJudge
        | TaskType::Custom
        | TaskType::Transcription
        | TaskType::Embedding => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(prediction: Option<&'a str>, target: &str, task: TaskType) -> MetricInput<'a> {
        MetricInput::new(prediction, target, &[], task)
    }

    #[test]
    fn registry_matches_ids() {
        assert_eq!(builtins().len(), BUILTIN_IDS.len());
        for (m, id) in builtins().iter().zip(BUILTIN_IDS) {
            assert_eq!(m.id, *id);
            assert!(builtin(id).is_some());
            assert_eq!((m.min, m.max), (0.0, 1.0));
            assert!(m.higher_is_better);
        }
        assert!(builtin("rougel").is_none());
        assert!(builtin("score").is_none());
        assert_eq!(compute("nope", &input(Some("a"), "a", TaskType::Qa)), None);
    }

    #[test]
    fn every_default_is_builtin() {
        for t in TaskType::ALL {
            for id in default_metric_ids(t) {
                assert!(builtin(id).is_some(), "{id}");
            }
        }
        assert_eq!(default_metric_ids(TaskType::Qa), ["exact_match", "f1"]);
        assert!(default_metric_ids(TaskType::LlmJudge).is_empty());
    }

    #[test]
    fn perfect_and_missing_predictions() {
        for id in BUILTIN_IDS {
            let m = builtin(id).unwrap();
            let choices = ["Paris".to_string(), "Rome".to_string()];
            let perfect = MetricInput::new(
                Some("Paris is the capital of France"),
                "Paris is the capital of France",
                &choices,
                TaskType::Qa,
            );
            // "accuracy" needs the prediction to be one choice; the text is not one.
            if *id != "accuracy" {
                assert!((m.compute(&perfect) - 1.0).abs() < 1e-12, "{id}");
            }
            let missing = MetricInput {
                prediction: None,
                ..perfect.clone()
            };
            assert_eq!(m.compute(&missing), 0.0, "{id}");
            let no_gold = MetricInput {
                targets: vec![],
                ..perfect
            };
            assert_eq!(m.compute(&no_gold), 0.0, "{id}");
        }
    }

    #[test]
    fn gold_answer_lists() {
        assert_eq!(gold_answers("Paris"), vec!["Paris"]);
        assert_eq!(gold_answers(r#" ["a", "b"] "#), vec!["a", "b"]);
        assert_eq!(gold_answers("[1, 2]"), vec!["[1, 2]"]);
        assert_eq!(gold_answers("[]"), vec!["[]"]);
        assert_eq!(gold_answers("[a, b]"), vec!["[a, b]"]); // not JSON
        assert_eq!(gold_answers(r#"["a", 1]"#), vec![r#"["a", 1]"#]);
    }

    #[test]
    fn max_over_gold_answers() {
        let i = input(
            Some("City of Light"),
            r#"["Paris", "city of light"]"#,
            TaskType::Qa,
        );
        assert_eq!(compute("exact_match", &i), Some(1.0));
        assert_eq!(compute("f1", &i), Some(1.0));
        let i = input(Some("Paris France"), r#"["Paris", "Lyon"]"#, TaskType::Qa);
        // vs "Paris": P = 1/2, R = 1 → F1 = 2/3; vs "Lyon": 0
        assert!((compute("f1", &i).unwrap() - 2.0 / 3.0).abs() < 1e-12);
    }
}
