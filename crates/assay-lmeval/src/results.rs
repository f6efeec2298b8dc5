//! lm-eval's results file, `results_<timestamp>.json`.
//!
//! Written by lm-eval's `EvaluationTracker.save_results_aggregated`: the evaluator's results
//! dictionary (`results`, `groups`, `group_subtasks`, `configs`, `versions`, `n-shot`,
//! `higher_is_better`, `n-samples`, `config`, `date`, …), `task_hashes`, and the general
//! tracker's fields (`model_name`, `model_name_sanitized`, `model_source`, times).
//!
//! In `results` each task maps `"METRIC,FILTER"` to the aggregate value and
//! `"METRIC_stderr,FILTER"` to its standard error (a number or `"N/A"`), beside `alias` (and,
//! in newer versions, `name` and `sample_len`). lm-eval before 0.4 wrote no filter
//! (`"acc"`, `"acc_stderr"`); such keys are read as filter `none`.
//!
//! Reading is lenient: only `results` is required, unknown keys are ignored, and fields whose
//! type differs between lm-eval versions are kept as JSON values. A field of the wrong type
//! among those typed here is an [`Error`] naming the field's JSON path.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Error;
use crate::pyjson::{non_finite, number, quote_non_finite};

/// The filter name lm-eval gives a task without a `filter_list` (take the first response).
pub const NO_FILTER: &str = "none";

/// A parsed results file.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ResultsFile {
    /// Per task (and per group in versions before `groups` existed), in file order.
    pub results: TaskResultsList,
    /// Per group: the group's aggregates over its subtasks (newer versions).
    #[serde(default)]
    pub groups: TaskResultsList,
    /// Group name → its subtasks.
    #[serde(default)]
    pub group_subtasks: BTreeMap<String, Value>,
    /// Each task's configuration as lm-eval resolved it.
    #[serde(default)]
    pub configs: BTreeMap<String, TaskConfig>,
    /// Task → version (`metadata.version`: a number, or `"N/A"`).
    #[serde(default)]
    pub versions: BTreeMap<String, Value>,
    /// Task → few-shot count.
    #[serde(default, rename = "n-shot")]
    pub n_shot: BTreeMap<String, Value>,
    /// Task → metric → whether higher is better.
    #[serde(default)]
    pub higher_is_better: BTreeMap<String, BTreeMap<String, Value>>,
    /// Task → how many documents it had and how many were evaluated.
    #[serde(default, rename = "n-samples")]
    pub n_samples: BTreeMap<String, NSamples>,
    /// The run's settings (`lm_eval --model … --model_args …`).
    #[serde(default)]
    pub config: RunConfig,
    /// Unix time the evaluation started.
    #[serde(default)]
    pub date: Option<Value>,
    /// The model name lm-eval took from `model_args` (`pretrained=`, `model=`, …).
    #[serde(default)]
    pub model_name: Option<String>,
    /// [`ResultsFile::model_name`] made safe as a directory name (`/` → `__`).
    #[serde(default)]
    pub model_name_sanitized: Option<String>,
    /// The lm-eval model type (`hf`, `vllm`, `local-chat-completions`, …).
    #[serde(default)]
    pub model_source: Option<String>,
    /// lm-eval's version.
    #[serde(default)]
    pub lm_eval_version: Option<String>,
    /// The git commit of the directory lm-eval ran in, if any.
    #[serde(default)]
    pub git_hash: Option<String>,
    /// Task → hash over its samples' `doc_hash`, `prompt_hash` and `target_hash`.
    #[serde(default)]
    pub task_hashes: BTreeMap<String, Value>,
    /// The `--system_instruction`, if any.
    #[serde(default)]
    pub system_instruction: Option<String>,
    /// The chat template applied, if any (`""` when the API applies its own).
    #[serde(default)]
    pub chat_template: Option<String>,
    /// Whether few-shot examples were sent as earlier chat turns.
    #[serde(default)]
    pub fewshot_as_multiturn: Option<bool>,
    /// Seconds the evaluation took (lm-eval writes a string).
    #[serde(default)]
    pub total_evaluation_time_seconds: Option<Value>,
}

/// lm-eval's `n-samples` entry of a task.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct NSamples {
    /// Documents in the task's evaluation split.
    #[serde(default)]
    pub original: Option<u64>,
    /// Documents evaluated (after `--limit` / `--samples`).
    #[serde(default)]
    pub effective: Option<u64>,
}

/// lm-eval's `config`: how it was invoked.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RunConfig {
    /// `--model`.
    #[serde(default)]
    pub model: Option<String>,
    /// `--model_args`: a dictionary in newer versions, the `k=v,…` string in older ones.
    #[serde(default)]
    pub model_args: Option<Value>,
    /// `--gen_kwargs`, overriding the tasks' generation settings.
    #[serde(default)]
    pub gen_kwargs: Option<Value>,
    /// `--limit`.
    #[serde(default)]
    pub limit: Option<Value>,
    /// Bootstrap resamples for standard errors; 0 turns every standard error into `"N/A"`.
    /// Absent in old files, where lm-eval's default was 100000.
    #[serde(default)]
    pub bootstrap_iters: Option<u64>,
}

/// One task's configuration (`configs.<task>`), the fields this crate uses.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TaskConfig {
    /// The task name.
    #[serde(default)]
    pub task: Option<String>,
    /// `generate_until`, `multiple_choice`, `loglikelihood`, `loglikelihood_rolling`.
    #[serde(default)]
    pub output_type: Option<String>,
    /// The metrics and how they aggregate.
    #[serde(default)]
    pub metric_list: Option<Vec<MetricSpec>>,
    /// Named filter pipelines applied to the responses before scoring.
    #[serde(default)]
    pub filter_list: Option<Vec<FilterSpec>>,
    /// Few-shot examples per prompt.
    #[serde(default)]
    pub num_fewshot: Option<Value>,
    /// Hugging Face dataset path (or a loader such as `json`).
    #[serde(default)]
    pub dataset_path: Option<String>,
    /// Dataset configuration name.
    #[serde(default)]
    pub dataset_name: Option<String>,
    /// Extra loader arguments (`data_files`, `revision`, …).
    #[serde(default)]
    pub dataset_kwargs: Option<Value>,
    /// The split evaluated when there is one.
    #[serde(default)]
    pub test_split: Option<String>,
    /// The split evaluated when there is no test split.
    #[serde(default)]
    pub validation_split: Option<String>,
    /// The prompt template (Jinja text, a column name, or a function's name).
    #[serde(default)]
    pub doc_to_text: Option<Value>,
    /// The target template.
    #[serde(default)]
    pub doc_to_target: Option<Value>,
    /// The answer choices (multiple-choice tasks).
    #[serde(default)]
    pub doc_to_choice: Option<Value>,
    /// Generation settings.
    #[serde(default)]
    pub generation_kwargs: Option<Value>,
    /// Responses generated per document.
    #[serde(default)]
    pub repeats: Option<Value>,
    /// Free-form metadata, `version` among it.
    #[serde(default)]
    pub metadata: Option<Value>,
}

/// One entry of a task's `metric_list`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MetricSpec {
    /// The metric's name.
    pub metric: String,
    /// The aggregation's name (`mean`, `bleu`, …), or the text of a custom function
    /// (`<function f at 0x…>`); absent when the metric's registered default applies.
    #[serde(default)]
    pub aggregation: Option<Value>,
    /// Whether higher is better.
    #[serde(default)]
    pub higher_is_better: Option<Value>,
}

/// One entry of a task's `filter_list`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FilterSpec {
    /// The filter's name: the part after the comma in metric keys.
    pub name: String,
    /// The steps (`{"function": "regex", …}`), as written.
    #[serde(default)]
    pub filter: Option<Vec<Value>>,
}

/// A number as lm-eval reported it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Reported {
    /// A number (NaN and the infinities included).
    Number(f64),
    /// `"N/A"`: lm-eval has no value (a standard error without a formula, over fewer than two
    /// samples, or with bootstrapping turned off).
    NotAvailable,
    /// Anything else, as found.
    Other(Value),
}

impl Reported {
    /// Reads a value from a results file.
    pub fn from_value(v: Value) -> Self {
        match &v {
            Value::Number(n) => n.as_f64().map_or(Reported::Other(v), Reported::Number),
            Value::String(s) if s == "N/A" => Reported::NotAvailable,
            Value::String(s) => non_finite(s).map_or(Reported::Other(v), Reported::Number),
            _ => Reported::Other(v),
        }
    }

    /// The number, if this is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Reported::Number(x) => Some(*x),
            _ => None,
        }
    }
}

/// One (metric, filter) of a task in `results`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricResult {
    /// The metric (`exact_match`).
    pub metric: String,
    /// The filter (`strict-match`, or [`NO_FILTER`]).
    pub filter: String,
    /// `"METRIC,FILTER"`; absent when the file has only the standard error.
    pub value: Option<Reported>,
    /// `"METRIC_stderr,FILTER"`.
    pub stderr: Option<Reported>,
}

/// One task's (or group's) entry in `results` / `groups`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TaskResults {
    /// The task name (the entry's key).
    pub task: String,
    /// The display name lm-eval prints (indented with ` - ` for subtasks of a group).
    pub alias: Option<String>,
    /// Documents the aggregates were computed over (newer versions).
    pub sample_len: Option<u64>,
    /// The metrics, in file order.
    pub metrics: Vec<MetricResult>,
    /// Other keys, as found.
    pub extra: Map<String, Value>,
}

impl TaskResults {
    /// The entry for `(metric, filter)`.
    pub fn metric(&self, metric: &str, filter: &str) -> Option<&MetricResult> {
        self.metrics
            .iter()
            .find(|m| m.metric == metric && m.filter == filter)
    }

    fn entry(&mut self, metric: &str, filter: &str) -> &mut MetricResult {
        let at = match self
            .metrics
            .iter()
            .position(|m| m.metric == metric && m.filter == filter)
        {
            Some(at) => at,
            None => {
                self.metrics.push(MetricResult {
                    metric: metric.to_string(),
                    filter: filter.to_string(),
                    value: None,
                    stderr: None,
                });
                self.metrics.len() - 1
            }
        };
        &mut self.metrics[at]
    }

    /// Builds an entry from its JSON object's members, in order.
    pub fn from_members(task: &str, members: Map<String, Value>) -> Self {
        let mut t = TaskResults {
            task: task.to_string(),
            ..Default::default()
        };
        for (key, value) in members {
            if let Some((metric, filter)) = key.split_once(',') {
                match metric.strip_suffix("_stderr") {
                    Some(base) if !base.is_empty() => {
                        t.entry(base, filter).stderr = Some(Reported::from_value(value));
                    }
                    _ => t.entry(metric, filter).value = Some(Reported::from_value(value)),
                }
                continue;
            }
            match key.as_str() {
                "alias" => t.alias = value.as_str().map(str::to_string),
                "sample_len" => t.sample_len = value.as_u64(),
                // lm-eval before 0.4: `"acc": 0.5, "acc_stderr": 0.01`, no filter.
                _ if number(&value).is_some() && !value.is_boolean() => {
                    match key.strip_suffix("_stderr") {
                        Some(base) if !base.is_empty() => {
                            t.entry(base, NO_FILTER).stderr = Some(Reported::from_value(value));
                        }
                        _ => t.entry(&key, NO_FILTER).value = Some(Reported::from_value(value)),
                    }
                }
                "name" if value.as_str() == Some(task) => {}
                _ => {
                    t.extra.insert(key, value);
                }
            }
        }
        t
    }
}

/// The entries of `results` or `groups`, in file order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TaskResultsList(pub Vec<TaskResults>);

impl TaskResultsList {
    /// The entry of `task`.
    pub fn get(&self, task: &str) -> Option<&TaskResults> {
        self.0.iter().find(|t| t.task == task)
    }

    /// The entries, in file order.
    pub fn iter(&self) -> impl Iterator<Item = &TaskResults> {
        self.0.iter()
    }
}

impl<'de> Deserialize<'de> for TaskResultsList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = TaskResultsList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of tasks, each an object of metrics")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(task) = map.next_key::<String>()? {
                    let members = map.next_value::<Map<String, Value>>()?;
                    out.push(TaskResults::from_members(&task, members));
                }
                Ok(TaskResultsList(out))
            }
        }
        d.deserialize_map(ListVisitor)
    }
}

impl ResultsFile {
    /// Parses a results file's bytes; `file` names it in errors.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<Self, Error> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            Error::new(
                file,
                format!("not UTF-8 (invalid byte at offset {})", e.valid_up_to()),
            )
        })?;
        let text = quote_non_finite(text);
        let mut de = serde_json::Deserializer::from_str(&text);
        let parsed: ResultsFile = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            Error::from_json(file, e.inner(), 0).in_field(path)
        })?;
        de.end().map_err(|e| Error::from_json(file, &e, 0))?;
        Ok(parsed)
    }

    /// The names of the groups: entries of `groups`, and keys of `group_subtasks` with
    /// subtasks (whose entries in `results` are aggregates over other tasks, with no samples
    /// of their own).
    pub fn group_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.groups.iter().map(|g| g.task.as_str()).collect();
        for (name, subtasks) in &self.group_subtasks {
            let has_subtasks = subtasks.as_array().is_some_and(|a| !a.is_empty());
            if has_subtasks && !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
        names
    }

    /// The tasks of `results` that are not groups, in file order: those whose samples lm-eval
    /// logs.
    pub fn tasks(&self) -> Vec<&TaskResults> {
        let groups = self.group_names();
        self.results
            .iter()
            .filter(|t| !groups.contains(&t.task.as_str()))
            .collect()
    }

    /// Bootstrap resamples lm-eval used for standard errors (its default, 100000, when the
    /// file does not say).
    pub fn bootstrap_iters(&self) -> u64 {
        self.config.bootstrap_iters.unwrap_or(100_000)
    }

    /// Unix seconds the evaluation started, when recorded.
    pub fn date(&self) -> Option<f64> {
        self.date.as_ref().and_then(number)
    }

    /// Whether higher is better for a task's metric, as the file records it (the top-level
    /// `higher_is_better`, else the task's `metric_list`).
    pub fn higher_is_better(&self, task: &str, metric: &str) -> Option<bool> {
        self.higher_is_better
            .get(task)
            .and_then(|m| m.get(metric))
            .and_then(Value::as_bool)
            .or_else(|| {
                self.configs
                    .get(task)?
                    .metric(metric)?
                    .higher_is_better
                    .as_ref()?
                    .as_bool()
            })
    }

    /// The model's name: `model_name`, else the name in `config.model_args` (looked up the
    /// way lm-eval does: `peft`, `delta`, `pretrained`, `model`, `path`, `engine`), else
    /// `model_name_sanitized`.
    pub fn model(&self) -> Option<String> {
        if let Some(name) = self.model_name.as_deref().filter(|n| !n.is_empty()) {
            return Some(name.to_string());
        }
        const KEYS: [&str; 6] = ["peft", "delta", "pretrained", "model", "path", "engine"];
        match &self.config.model_args {
            Some(Value::Object(args)) => {
                for key in KEYS {
                    match args.get(key) {
                        Some(Value::String(s)) if !s.is_empty() => return Some(s.clone()),
                        Some(Value::Null) | None => {}
                        Some(other) => return Some(other.to_string()),
                    }
                }
            }
            Some(Value::String(args)) => {
                for key in KEYS {
                    let needle = format!("{key}=");
                    if let Some(at) = args.find(&needle) {
                        let rest = &args[at + needle.len()..];
                        let name = rest.split(',').next().unwrap_or(rest);
                        if !name.is_empty() {
                            return Some(name.to_string());
                        }
                    }
                }
            }
            _ => {}
        }
        self.model_name_sanitized.clone().filter(|n| !n.is_empty())
    }
}

impl TaskConfig {
    /// The `metric_list` entry of `metric`.
    pub fn metric(&self, metric: &str) -> Option<&MetricSpec> {
        self.metric_list
            .as_deref()?
            .iter()
            .find(|m| m.metric == metric)
    }

    /// The filter names, in `filter_list` order (`["none"]` without a filter list).
    pub fn filter_names(&self) -> Vec<&str> {
        match self.filter_list.as_deref() {
            Some(list) if !list.is_empty() => list.iter().map(|f| f.name.as_str()).collect(),
            _ => vec![NO_FILTER],
        }
    }

    /// The split evaluated: `test_split`, else `validation_split`.
    pub fn split(&self) -> Option<&str> {
        self.test_split
            .as_deref()
            .or(self.validation_split.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: &Value) -> Result<ResultsFile, Error> {
        ResultsFile::parse("r.json", v.to_string().as_bytes())
    }

    #[test]
    fn splits_metric_keys_into_values_and_standard_errors() {
        let r = parse(&json!({"results": {"gsm8k": {
            "alias": "gsm8k",
            "exact_match,strict-match": 0.5,
            "exact_match_stderr,strict-match": 0.1,
            "exact_match,flexible-extract": 0.75,
            "exact_match_stderr,flexible-extract": "N/A",
            "sample_len": 4,
            "name": "gsm8k"
        }}}))
        .expect("parses");
        let t = r.results.get("gsm8k").expect("task");
        assert_eq!(t.alias.as_deref(), Some("gsm8k"));
        assert_eq!(t.sample_len, Some(4));
        assert!(t.extra.is_empty());
        assert_eq!(
            t.metrics,
            vec![
                MetricResult {
                    metric: "exact_match".into(),
                    filter: "strict-match".into(),
                    value: Some(Reported::Number(0.5)),
                    stderr: Some(Reported::Number(0.1)),
                },
                MetricResult {
                    metric: "exact_match".into(),
                    filter: "flexible-extract".into(),
                    value: Some(Reported::Number(0.75)),
                    stderr: Some(Reported::NotAvailable),
                },
            ]
        );
    }

    #[test]
    fn reads_legacy_keys_without_a_filter() {
        let r = parse(
            &json!({"results": {"arc_easy": {"acc": 0.6, "acc_stderr": 0.02, "acc_norm": 0.55}}}),
        )
        .expect("parses");
        let t = r.results.get("arc_easy").expect("task");
        let acc = t.metric("acc", NO_FILTER).expect("acc");
        assert_eq!(acc.value, Some(Reported::Number(0.6)));
        assert_eq!(acc.stderr, Some(Reported::Number(0.02)));
        assert!(t.metric("acc_norm", NO_FILTER).is_some());
    }

    #[test]
    fn reads_python_non_finite_numbers() {
        let text =
            r#"{"results": {"t": {"ppl,none": Infinity, "ppl_stderr,none": NaN}}, "date": 1.5}"#;
        let r = ResultsFile::parse("r.json", text.as_bytes()).expect("parses");
        let m = r
            .results
            .get("t")
            .and_then(|t| t.metric("ppl", "none"))
            .expect("metric");
        assert_eq!(m.value, Some(Reported::Number(f64::INFINITY)));
        assert!(m
            .stderr
            .as_ref()
            .and_then(Reported::as_f64)
            .is_some_and(f64::is_nan));
        assert_eq!(r.date(), Some(1.5));
    }

    #[test]
    fn tolerates_unknown_keys_and_requires_results() {
        let r = parse(&json!({"results": {}, "something_new": [1, 2], "config": {"new": true}}))
            .expect("parses");
        assert!(r.tasks().is_empty());
        let e = parse(&json!({"configs": {}})).expect_err("no results");
        assert!(e.message.contains("missing field `results`"), "{e}");
    }

    #[test]
    fn names_the_field_and_line_of_a_wrong_type() {
        let text = "{\n  \"results\": {},\n  \"configs\": {\n    \"t\": {\n      \"metric_list\": [{\"metric\": 3}]\n    }\n  }\n}";
        let e = ResultsFile::parse("m/results_x.json", text.as_bytes()).expect_err("bad metric");
        assert_eq!(e.field.as_deref(), Some("configs.t.metric_list[0].metric"));
        assert_eq!(e.line, Some(5));
        assert!(e.to_string().starts_with("m/results_x.json:5:"), "{e}");
        let e = ResultsFile::parse("r.json", b"{\"results\": {}} x").expect_err("trailing");
        assert_eq!(e.line, Some(1));
        let e = ResultsFile::parse("r.json", b"\xff").expect_err("not utf-8");
        assert!(e.message.contains("UTF-8"));
    }

    #[test]
    fn tells_groups_from_tasks() {
        let r = parse(&json!({
            "results": {"mmlu": {"acc,none": 0.5}, "mmlu_math": {"acc,none": 0.4}, "solo": {"acc,none": 1}},
            "groups": {"mmlu": {"acc,none": 0.5}},
            "group_subtasks": {"mmlu": ["mmlu_math"], "mmlu_math": [], "solo": []}
        }))
        .expect("parses");
        assert_eq!(r.group_names(), vec!["mmlu"]);
        let tasks: Vec<&str> = r.tasks().iter().map(|t| t.task.as_str()).collect();
        assert_eq!(tasks, vec!["mmlu_math", "solo"]);
    }

    #[test]
    fn finds_the_model_name_like_lm_eval() {
        let r = parse(&json!({"results": {}, "model_name": "org/m"})).expect("parses");
        assert_eq!(r.model().as_deref(), Some("org/m"));
        let r = parse(&json!({"results": {}, "config": {"model_args": "pretrained=EleutherAI/pythia-70m,dtype=float"}}))
            .expect("parses");
        assert_eq!(r.model().as_deref(), Some("EleutherAI/pythia-70m"));
        let r = parse(
            &json!({"results": {}, "config": {"model_args": {"base_url": "u", "model": "gpt"}}}),
        )
        .expect("parses");
        assert_eq!(r.model().as_deref(), Some("gpt"));
        let r = parse(&json!({"results": {}})).expect("parses");
        assert_eq!(r.model(), None);
    }

    #[test]
    fn reads_direction_from_either_place() {
        let r = parse(&json!({
            "results": {},
            "higher_is_better": {"t": {"acc": true}},
            "configs": {"t": {"metric_list": [{"metric": "ppl", "higher_is_better": false}]}}
        }))
        .expect("parses");
        assert_eq!(r.higher_is_better("t", "acc"), Some(true));
        assert_eq!(r.higher_is_better("t", "ppl"), Some(false));
        assert_eq!(r.higher_is_better("t", "other"), None);
        assert_eq!(r.bootstrap_iters(), 100_000);
    }
}
