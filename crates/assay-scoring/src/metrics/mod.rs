//! Built-in metrics: per-sample scores computed in-process from the extracted output, the
//! target and the task's choices. The list, with definitions, is in the crate docs.
//!
//! Every built-in metric but the error rates returns a value in `[0, 1]` where higher is
//! better, and returns 0 when the extraction found nothing (`prediction: None`) or there is
//! no gold answer.
//!
//! The **error rates** `wer` and `cer` are lower-is-better and unbounded above (insertions
//! can outnumber the reference): the Levenshtein distance between the
//! [normalized](crate::normalize::normalize_transcript) hypothesis and reference over the
//! reference length, in words or characters ([`EditCounts`]). A prediction of `None` counts
//! as an empty hypothesis (every reference word deleted: 1, or 0 against an empty
//! reference), and no gold answer as an empty reference. Besides the per-sample rate they
//! give their [`EditCounts`] ([`BuiltinMetric::edit_counts`]), which a task sums into the
//! corpus-level rate ([`crate::aggregate::EditTally`], reported as
//! [`BuiltinMetric::corpus_id`]).
//!
//! **Several gold answers.** A target that is a JSON array of strings (`["Paris", "City of
//! Paris"]`, as a template renders a list column) holds several acceptable answers (see
//! [`gold_answers`]): `bleu` scores against all of them at once (multi-reference BLEU);
//! the error rates take the lowest rate over them (the first such answer's counts); every
//! other metric takes the maximum over them (SQuAD's rule for `exact_match`/`f1`,
//! rouge-score's and sacreBLEU's best-reference rule for ROUGE and chrF).

mod choice;
mod error_rate;
mod overlap;
mod text;

pub use choice::resolve_choice;
pub use error_rate::{cer_counts, levenshtein, wer_counts, EditCounts};

use assay_domain::manifest::TaskType;

/// One sample as the metrics see it.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricInput<'a> {
    /// The extracted output; `None` when extraction found nothing (every metric gives 0, but
    /// the error rates, which count it as an empty hypothesis).
    pub prediction: Option<&'a str>,
    /// The gold answers (usually one; see [`gold_answers`]). Empty → every metric gives 0,
    /// but the error rates, which count it as one empty reference.
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

/// How a built-in metric scores a sample.
#[derive(Debug, Clone, Copy)]
enum Scorer {
    /// A higher-is-better score against one gold answer; the best (maximum) over them counts.
    Best(fn(&str, &str, &MetricInput<'_>) -> f64),
    /// A higher-is-better score against all gold answers at once.
    AllReferences(fn(&str, &[String]) -> f64),
    /// An error rate from the edit counts `(hypothesis, reference)` against one gold answer;
    /// the lowest rate over them counts.
    ErrorRate(fn(&str, &str) -> EditCounts),
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
    /// Largest possible value (`f64::INFINITY` for the error rates, which insertions can
    /// push past 1).
    pub max: f64,
    /// Whether larger is better (false for the error rates `wer` and `cer`).
    pub higher_is_better: bool,
    /// For an error rate, the id its corpus-level value is reported under (`wer_corpus`,
    /// `cer_corpus`): the task's total edits over its total reference length, from the
    /// samples' [`edit_counts`](Self::edit_counts) summed by
    /// [`EditTally`](crate::aggregate::EditTally). `None` for every other metric.
    pub corpus_id: Option<&'static str>,
    scorer: Scorer,
}

impl BuiltinMetric {
    /// The metric's value for one sample, in `[min, max]`.
    pub fn compute(&self, input: &MetricInput<'_>) -> f64 {
        match self.scorer {
            Scorer::Best(score) => against_gold(input, |prediction, golds| {
                golds
                    .iter()
                    .map(|gold| score(prediction, gold, input))
                    .fold(0.0, f64::max)
            }),
            Scorer::AllReferences(score) => against_gold(input, score),
            Scorer::ErrorRate(counts) => lowest_rate(counts, input).rate(),
        }
    }

    /// For an error rate (`wer`, `cer`), the edit counts behind the sample's value — those of
    /// the gold answer with the lowest rate (the first of equals) — whose
    /// [`rate`](EditCounts::rate) is [`compute`](Self::compute)'s value; `None` for every
    /// other metric. A missing prediction counts as an empty hypothesis, no gold answer as
    /// one empty reference.
    pub fn edit_counts(&self, input: &MetricInput<'_>) -> Option<EditCounts> {
        match self.scorer {
            Scorer::ErrorRate(counts) => Some(lowest_rate(counts, input)),
            Scorer::Best(_) | Scorer::AllReferences(_) => None,
        }
    }
}

/// `score(prediction, gold answers)`, or 0 without a prediction or a gold answer.
fn against_gold(input: &MetricInput<'_>, score: impl FnOnce(&str, &[String]) -> f64) -> f64 {
    match input.prediction {
        Some(prediction) if !input.targets.is_empty() => score(prediction, &input.targets),
        _ => 0.0,
    }
}

/// The counts against the gold answer with the lowest rate (the first of equals).
fn lowest_rate(counts: fn(&str, &str) -> EditCounts, input: &MetricInput<'_>) -> EditCounts {
    let hypothesis = input.prediction.unwrap_or("");
    input
        .targets
        .iter()
        .map(|gold| counts(hypothesis, gold))
        .reduce(|best, c| if c.rate() < best.rate() { c } else { best })
        .unwrap_or_else(|| counts(hypothesis, ""))
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
    "wer",
    "cer",
];

static BUILTINS: &[BuiltinMetric] = &[
    BuiltinMetric {
        id: "accuracy",
        description: "1 if the prediction names the target choice (by letter, index or text), else 0",
        min: 0.0,
        max: 1.0,
        higher_is_better: true,
        corpus_id: None,
        scorer: Scorer::Best(|p, g, i| choice::accuracy(p, g, i.choices)),
    },
    BuiltinMetric {
        id: "exact_match",
        description: "1 if prediction and target are equal after SQuAD normalization (numeric and math tasks: or equal as numbers / LaTeX answers), else 0",
        min: 0.0,
        max: 1.0,
        higher_is_better: true,
        corpus_id: None,
        scorer: Scorer::Best(|p, g, i| text::exact_match(p, g, i.task_type)),
    },
    BuiltinMetric {
        id: "f1",
        description: "SQuAD token-overlap F1 between the normalized prediction and target",
        min: 0.0,
        max: 1.0,
        higher_is_better: true,
        corpus_id: None,
        scorer: Scorer::Best(|p, g, _| text::f1(p, g)),
    },
    BuiltinMetric {
        id: "contains",
        description: "1 if the normalized target occurs as whole words in the normalized prediction, else 0",
        min: 0.0,
        max: 1.0,
        higher_is_better: true,
        corpus_id: None,
        scorer: Scorer::Best(|p, g, _| text::contains(p, g)),
    },
    BuiltinMetric {
        id: "regex_match",
        description: "1 if the target, as a regular expression, matches somewhere in the prediction (literal substring if not a valid regex), else 0",
        min: 0.0,
        max: 1.0,
        higher_is_better: true,
        corpus_id: None,
        scorer: Scorer::Best(|p, g, _| text::regex_match(p, g)),
    },
    BuiltinMetric {
        id: "rouge1",
        description: "ROUGE-1 F-measure (unigram overlap)",
        min: 0.0,
        max: 1.0,
        higher_is_better: true,
        corpus_id: None,
        scorer: Scorer::Best(|p, g, _| overlap::rouge_n(p, g, 1)),
    },
    BuiltinMetric {
        id: "rouge2",
        description: "ROUGE-2 F-measure (bigram overlap)",
        min: 0.0,
        max: 1.0,
        higher_is_better: true,
        corpus_id: None,
        scorer: Scorer::Best(|p, g, _| overlap::rouge_n(p, g, 2)),
    },
    BuiltinMetric {
        id: "rougeL",
        description: "ROUGE-L F-measure (longest common subsequence)",
        min: 0.0,
        max: 1.0,
        higher_is_better: true,
        corpus_id: None,
        scorer: Scorer::Best(|p, g, _| overlap::rouge_l(p, g)),
    },
    BuiltinMetric {
        id: "bleu",
        description: "sentence BLEU as sacreBLEU computes it (13a tokens, 4-grams, exp smoothing), divided by 100",
        min: 0.0,
        max: 1.0,
        higher_is_better: true,
        corpus_id: None,
        scorer: Scorer::AllReferences(overlap::bleu),
    },
    BuiltinMetric {
        id: "chrf",
        description: "chrF (character 6-grams, beta 2) as sacreBLEU computes it, divided by 100",
        min: 0.0,
        max: 1.0,
        higher_is_better: true,
        corpus_id: None,
        scorer: Scorer::Best(|p, g, _| overlap::chrf(p, g)),
    },
    BuiltinMetric {
        id: "wer",
        description: "word error rate: word-level Levenshtein distance (substitutions + deletions + insertions) over the reference's word count, after NFKC, lowercasing, deleting punctuation and collapsing whitespace; lower is better",
        min: 0.0,
        max: f64::INFINITY,
        higher_is_better: false,
        corpus_id: Some("wer_corpus"),
        scorer: Scorer::ErrorRate(wer_counts),
    },
    BuiltinMetric {
        id: "cer",
        description: "character error rate: character-level Levenshtein distance over the reference's character count (spaces included), after the same normalization as wer; lower is better",
        min: 0.0,
        max: f64::INFINITY,
        higher_is_better: false,
        corpus_id: Some("cer_corpus"),
        scorer: Scorer::ErrorRate(cer_counts),
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

/// The edit counts of the built-in error rate `id` (`wer`, `cer`) for one sample (see
/// [`BuiltinMetric::edit_counts`]); `None` when `id` is not a built-in error rate.
pub fn edit_counts(id: &str, input: &MetricInput<'_>) -> Option<EditCounts> {
    builtin(id).and_then(|m| m.edit_counts(input))
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
        TaskType::Transcription => &["wer", "cer"],
        TaskType::SemanticSimilarity
        | TaskType::LlmJudge
        | TaskType::Custom
        | TaskType::Embedding => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(prediction: Option<&'a str>, target: &str, task: TaskType) -> MetricInput<'a> {
        MetricInput::new(prediction, target, &[], task)
    }

    const ERROR_RATES: [&str; 2] = ["wer", "cer"];

    #[test]
    fn registry_matches_ids() {
        assert_eq!(builtins().len(), BUILTIN_IDS.len());
        for (m, id) in builtins().iter().zip(BUILTIN_IDS) {
            assert_eq!(m.id, *id);
            assert!(builtin(id).is_some());
            if ERROR_RATES.contains(id) {
                assert_eq!((m.min, m.max), (0.0, f64::INFINITY));
                assert!(!m.higher_is_better);
                assert_eq!(m.corpus_id, Some(format!("{id}_corpus").as_str()));
            } else {
                assert_eq!((m.min, m.max), (0.0, 1.0));
                assert!(m.higher_is_better);
                assert_eq!(m.corpus_id, None);
                let i = input(Some("a"), "a", TaskType::Qa);
                assert_eq!(m.edit_counts(&i), None, "{id}");
            }
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
            let missing = MetricInput {
                prediction: None,
                ..perfect.clone()
            };
            let no_gold = MetricInput {
                targets: vec![],
                ..perfect.clone()
            };
            if ERROR_RATES.contains(id) {
                // Lower is better: perfect is 0, a missing prediction deletes every
                // reference word (1), and no gold answer is an empty reference, into which
                // every predicted word is an insertion.
                assert_eq!(m.compute(&perfect), 0.0, "{id}");
                assert_eq!(m.compute(&missing), 1.0, "{id}");
                assert!(m.compute(&no_gold) > 1.0, "{id}");
                continue;
            }
            // "accuracy" needs the prediction to be one choice; the text is not one.
            if *id != "accuracy" {
                assert!((m.compute(&perfect) - 1.0).abs() < 1e-12, "{id}");
            }
            assert_eq!(m.compute(&missing), 0.0, "{id}");
            assert_eq!(m.compute(&no_gold), 0.0, "{id}");
        }
    }

    #[test]
    fn error_rates() {
        let i = input(
            Some("the cat sit on mat"),
            "The cat sat on the mat.",
            TaskType::Transcription,
        );
        // sat → sit and "the" deleted: 2 edits over 6 words; over characters a → i and
        // "the " deleted: 5 edits over 22.
        assert_eq!(compute("wer", &i), Some(2.0 / 6.0));
        assert_eq!(
            edit_counts("wer", &i),
            Some(EditCounts {
                edits: 2,
                reference_len: 6
            })
        );
        let cer = edit_counts("cer", &i).unwrap();
        assert_eq!((cer.edits, cer.reference_len), (5, 22));
        assert_eq!(compute("cer", &i), Some(5.0 / 22.0));
        assert_eq!(edit_counts("f1", &i), None);
        assert_eq!(edit_counts("nope", &i), None);
        // Against an empty reference every hypothesis word is an insertion.
        let empty = input(Some("uh hello"), "", TaskType::Transcription);
        assert_eq!(compute("wer", &empty), Some(2.0));
        let silent = input(Some(" . "), "", TaskType::Transcription);
        assert_eq!(compute("wer", &silent), Some(0.0));
        assert_eq!(compute("cer", &silent), Some(0.0));
        let nothing = input(None, "", TaskType::Transcription);
        assert_eq!(compute("wer", &nothing), Some(0.0));
    }

    #[test]
    fn error_rates_take_the_best_gold_answer() {
        let i = input(
            Some("New York City"),
            r#"["NYC", "new york city", "New York"]"#,
            TaskType::Transcription,
        );
        assert_eq!(compute("wer", &i), Some(0.0));
        assert_eq!(compute("cer", &i), Some(0.0));
        // vs "x": 3 edits / 1 word; vs "a b c d": 1 edit / 4 words — the lower rate wins.
        let i = input(
            Some("a b c x"),
            r#"["x", "a b c d"]"#,
            TaskType::Transcription,
        );
        assert_eq!(
            edit_counts("wer", &i),
            Some(EditCounts {
                edits: 1,
                reference_len: 4
            })
        );
        assert_eq!(compute("wer", &i), Some(0.25));
        // Equal rates: the first gold answer's counts.
        let i = input(Some("a"), r#"["b", "c d"]"#, TaskType::Transcription);
        assert_eq!(
            edit_counts("wer", &i),
            Some(EditCounts {
                edits: 1,
                reference_len: 1
            })
        );
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
