//! `EvalFewshotConfig`: few-shot examples prefixed to each prompt.

use super::Dataset;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Most few-shot examples per sample (`count` / `num_fewshot`).
pub const MAX_FEWSHOT: i64 = 100;

/// Few-shot settings of a task.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = EvalFewshotConfig)]
pub struct FewshotConfig {
    /// Few-shot examples per sample, 0 to 100. When absent, the task's `num_fewshot`, else
    /// 0; see [`super::Task::fewshot_count`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(default = 0, minimum = 0, maximum = 100)]
    pub count: Option<i64>,
    /// Source of the examples; the task's dataset when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<Dataset>,
    /// Jinja template of an example's prompt; the task's `prompt_template` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_template: Option<String>,
    /// Jinja template of an example's answer; the task's `target_template` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_template: Option<String>,
    /// Jinja template of one rendered example, over `prompt` and `target`.
    #[serde(default = "default_example_template")]
    #[schema(default = "{{prompt}}\n{{target}}")]
    pub example_template: String,
    /// Text between examples and before the evaluated prompt.
    #[serde(default = "default_separator")]
    #[schema(default = "\n\n")]
    pub separator: String,
    /// How examples are chosen.
    #[serde(default)]
    pub strategy: FewshotStrategy,
    /// Seed of the `random` strategy.
    #[serde(default)]
    #[schema(default = 0)]
    pub seed: i64,
}

/// Default `example_template`.
pub const DEFAULT_EXAMPLE_TEMPLATE: &str = "{{prompt}}\n{{target}}";
/// Default `separator`.
pub const DEFAULT_SEPARATOR: &str = "\n\n";

fn default_example_template() -> String {
    DEFAULT_EXAMPLE_TEMPLATE.to_string()
}

fn default_separator() -> String {
    DEFAULT_SEPARATOR.to_string()
}

/// How few-shot examples are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FewshotStrategy {
    /// The first rows of the example dataset.
    #[default]
    First,
    /// Rows drawn at random with `seed`.
    Random,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults() {
        let f: FewshotConfig = serde_json::from_value(json!({})).unwrap();
        assert_eq!(f.count, None);
        assert!(f.dataset.is_none());
        assert_eq!(f.example_template, "{{prompt}}\n{{target}}");
        assert_eq!(f.separator, "\n\n");
        assert_eq!(f.strategy, FewshotStrategy::First);
        assert_eq!(f.seed, 0);
    }
}
