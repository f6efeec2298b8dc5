//! lm-eval's samples file, `samples_<task>_<timestamp>.jsonl` (written with `--log_samples`).
//!
//! One JSON object per line and per (document, filter): a task with two filters logs every
//! document twice. The keys, as lm-eval 0.4 writes them:
//!
//! | key | what |
//! |---|---|
//! | `doc_id` | the document's index in the evaluated split |
//! | `doc` | the dataset row |
//! | `target` | the rendered target (`str()` of it) |
//! | `arguments` | the requests: `{"gen_args_0": {"arg_0": context, "arg_1": gen_kwargs}, …}` (older versions: a list of lists) |
//! | `resps` | the raw responses, per request a list (one per repeat) |
//! | `filtered_resps` | the responses after this line's filter, one per request |
//! | `filter` | the filter's name (`none` without a filter list) |
//! | `metrics` | the names of the metrics this line carries |
//! | *metric name* | the per-sample value of each metric named in `metrics` |
//! | `doc_hash`, `prompt_hash`, `target_hash` | sha256 of the document, the first request's context, the target |
//!
//! Files without `metrics` (before lm-eval logged it) have their metric values read from the
//! keys that are not among the above. Unknown keys are kept in [`SampleLine::extra`].

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::Error;
use crate::pyjson::quote_non_finite;
use crate::results::NO_FILTER;

/// Keys of a sample line that are not metric values.
const KNOWN_KEYS: [&str; 11] = [
    "doc_id",
    "doc",
    "target",
    "arguments",
    "resps",
    "filtered_resps",
    "filter",
    "metrics",
    "doc_hash",
    "prompt_hash",
    "target_hash",
];

/// One line of a samples file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampleLine {
    /// 1-based line number in its file.
    pub line: usize,
    /// The document's index in the evaluated split.
    pub doc_id: u64,
    /// The dataset row.
    pub doc: Value,
    /// The rendered target.
    pub target: Value,
    /// The requests' arguments: per request, its positional arguments (`arg_0` is the
    /// context / prompt, `arg_1` the generation settings or the continuation).
    pub arguments: Vec<Vec<Value>>,
    /// The raw responses: per request, one per repeat.
    pub resps: Value,
    /// The responses after [`SampleLine::filter`], one per request.
    pub filtered_resps: Value,
    /// The filter this line is about ([`NO_FILTER`] when the line does not say).
    pub filter: String,
    /// The metric names, in the file's order.
    pub metrics: Vec<String>,
    /// Each metric's per-sample value, by name (a number or boolean for mean-aggregated
    /// metrics; for corpus metrics such as `bleu` the item lm-eval aggregates, e.g. the
    /// `[reference, prediction]` pair).
    pub values: Map<String, Value>,
    /// sha256 of the document.
    pub doc_hash: Option<String>,
    /// sha256 of the first request's context.
    pub prompt_hash: Option<String>,
    /// sha256 of the target.
    pub target_hash: Option<String>,
    /// Keys this crate does not know, as found.
    pub extra: Map<String, Value>,
}

/// A chat message of a prompt sent with a chat template (`--apply_chat_template`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant`.
    pub role: String,
    /// The message text.
    pub content: String,
}

/// A JSON value as text: a string as itself, anything else as its JSON.
pub(crate) fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl SampleLine {
    /// The prompt: the first request's context (`arg_0` of `gen_args_0`). With a chat
    /// template that is the JSON text of the messages (see [`chat_messages`]). `None` when
    /// the line has no arguments.
    pub fn prompt(&self) -> Option<String> {
        let context = self.arguments.first()?.first()?;
        Some(match context {
            // lm-eval's `JsonChatStr` is a one-field named tuple: serialized as `[text]`.
            Value::Array(items) if items.len() == 1 && items[0].is_string() => text_of(&items[0]),
            other => text_of(other),
        })
    }

    /// The first raw response of the first request, as text (JSON text when it is not a
    /// string, e.g. a `[loglikelihood, is_greedy]` pair).
    pub fn response(&self) -> Option<String> {
        let first = self.resps.as_array()?.first()?;
        let first = match first {
            Value::Array(repeats) => repeats.first()?,
            other => other,
        };
        Some(text_of(first))
    }

    /// The filtered response as text: the one response of a single request (generation),
    /// else the JSON text of all of them (e.g. one loglikelihood per choice).
    pub fn filtered_response(&self) -> Option<String> {
        match &self.filtered_resps {
            Value::Null => None,
            Value::Array(items) if items.len() == 1 => Some(text_of(&items[0])),
            other => Some(text_of(other)),
        }
    }

    /// The target as text (`None` when null).
    pub fn target_text(&self) -> Option<String> {
        match &self.target {
            Value::Null => None,
            other => Some(text_of(other)),
        }
    }
}

/// The messages of a prompt that is the JSON text of a chat (`[{"role", "content"}, …]`),
/// as lm-eval logs prompts sent with a chat template; `None` for a plain-text prompt.
pub fn chat_messages(prompt: &str) -> Option<Vec<ChatMessage>> {
    if !prompt.trim_start().starts_with('[') {
        return None;
    }
    let items: Vec<Value> = serde_json::from_str(prompt).ok()?;
    items
        .iter()
        .map(|m| {
            Some(ChatMessage {
                role: m.get("role")?.as_str()?.to_string(),
                content: m.get("content")?.as_str()?.to_string(),
            })
        })
        .collect()
}

/// The requests of an `arguments` value, normalized to per-request argument lists.
fn normalize_arguments(v: Value) -> Vec<Vec<Value>> {
    fn indexed(map: Map<String, Value>, prefix: &str) -> Option<Vec<Value>> {
        let mut items: Vec<(u64, Value)> = Vec::with_capacity(map.len());
        for (k, v) in map {
            items.push((k.strip_prefix(prefix)?.parse().ok()?, v));
        }
        items.sort_by_key(|(i, _)| *i);
        Some(items.into_iter().map(|(_, v)| v).collect())
    }
    fn args(v: Value) -> Vec<Value> {
        match v {
            Value::Object(m) => {
                let fallback = Value::Object(m.clone());
                indexed(m, "arg_").unwrap_or_else(|| vec![fallback])
            }
            Value::Array(a) => a,
            other => vec![other],
        }
    }
    match v {
        Value::Null => Vec::new(),
        Value::Object(m) => {
            let fallback = Value::Object(m.clone());
            match indexed(m, "gen_args_") {
                Some(requests) => requests.into_iter().map(args).collect(),
                None => vec![vec![fallback]],
            }
        }
        Value::Array(requests) => requests.into_iter().map(args).collect(),
        other => vec![vec![other]],
    }
}

fn field_error(file: &str, line: usize, field: &str, message: impl Into<String>) -> Error {
    Error::new(file, message).at_line(line).in_field(field)
}

fn opt_string(
    file: &str,
    line: usize,
    field: &str,
    v: Option<Value>,
) -> Result<Option<String>, Error> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(field_error(
            file,
            line,
            field,
            format!("expected a string, found {other}"),
        )),
    }
}

/// Parses one line (its 1-based number `line`) of a samples file.
pub fn parse_sample_line(file: &str, line: usize, text: &str) -> Result<SampleLine, Error> {
    let text = quote_non_finite(text);
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| Error::from_json(file, &e, line.saturating_sub(1)))?;
    let Value::Object(mut obj) = value else {
        return Err(Error::new(file, "expected a JSON object").at_line(line));
    };
    let doc_id = match obj.shift_remove("doc_id") {
        Some(v) => v.as_u64().ok_or_else(|| {
            field_error(
                file,
                line,
                "doc_id",
                format!("expected a non-negative integer, found {v}"),
            )
        })?,
        None => return Err(field_error(file, line, "doc_id", "missing")),
    };
    let filter = opt_string(file, line, "filter", obj.shift_remove("filter"))?
        .unwrap_or_else(|| NO_FILTER.to_string());
    let metrics = match obj.shift_remove("metrics") {
        None | Some(Value::Null) => None,
        Some(Value::Array(names)) => {
            let mut out = Vec::with_capacity(names.len());
            for (i, n) in names.into_iter().enumerate() {
                match n {
                    Value::String(s) => out.push(s),
                    other => {
                        return Err(field_error(
                            file,
                            line,
                            &format!("metrics[{i}]"),
                            format!("expected a metric name, found {other}"),
                        ))
                    }
                }
            }
            Some(out)
        }
        Some(other) => {
            return Err(field_error(
                file,
                line,
                "metrics",
                format!("expected a list of metric names, found {other}"),
            ))
        }
    };
    let doc = obj.shift_remove("doc").unwrap_or(Value::Null);
    let target = obj.shift_remove("target").unwrap_or(Value::Null);
    let arguments = normalize_arguments(obj.shift_remove("arguments").unwrap_or(Value::Null));
    let resps = obj.shift_remove("resps").unwrap_or(Value::Null);
    let filtered_resps = obj.shift_remove("filtered_resps").unwrap_or(Value::Null);
    let doc_hash = opt_string(file, line, "doc_hash", obj.shift_remove("doc_hash"))?;
    let prompt_hash = opt_string(file, line, "prompt_hash", obj.shift_remove("prompt_hash"))?;
    let target_hash = opt_string(file, line, "target_hash", obj.shift_remove("target_hash"))?;

    let mut values = Map::new();
    let metrics = match metrics {
        Some(names) => {
            for name in &names {
                match obj.shift_remove(name) {
                    Some(v) => {
                        values.insert(name.clone(), v);
                    }
                    None => {
                        return Err(field_error(
                            file,
                            line,
                            name,
                            "named in `metrics` but has no value",
                        ))
                    }
                }
            }
            names
        }
        // Before `metrics` was logged: every remaining key is a metric.
        None => {
            let names: Vec<String> = obj
                .keys()
                .filter(|k| !KNOWN_KEYS.contains(&k.as_str()))
                .cloned()
                .collect();
            for name in &names {
                if let Some(v) = obj.shift_remove(name) {
                    values.insert(name.clone(), v);
                }
            }
            names
        }
    };
    Ok(SampleLine {
        line,
        doc_id,
        doc,
        target,
        arguments,
        resps,
        filtered_resps,
        filter,
        metrics,
        values,
        doc_hash,
        prompt_hash,
        target_hash,
        extra: obj,
    })
}

/// Parses a samples file's bytes; `file` names it in errors. Blank lines are skipped; a
/// document logged twice under the same filter is an error (lm-eval logs each once).
pub fn parse_samples(file: &str, bytes: &[u8]) -> Result<Vec<SampleLine>, Error> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = i + 1;
        let text = std::str::from_utf8(raw).map_err(|e| {
            Error::new(
                file,
                format!("not UTF-8 (invalid byte at column {})", e.valid_up_to() + 1),
            )
            .at_line(line)
        })?;
        let text = text.strip_suffix('\r').unwrap_or(text);
        if text.trim().is_empty() {
            continue;
        }
        let sample = parse_sample_line(file, line, text)?;
        if !seen.insert((sample.doc_id, sample.filter.clone())) {
            return Err(field_error(
                file,
                line,
                "doc_id",
                format!(
                    "document {} is logged twice for filter `{}`",
                    sample.doc_id, sample.filter
                ),
            ));
        }
        out.push(sample);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LINE: &str = r#"{"doc_id": 3, "doc": {"q": "2+2?"}, "target": "4", "arguments": {"gen_args_0": {"arg_0": "Q: 2+2?\nA:", "arg_1": {"until": ["\n"]}}}, "resps": [["4 #### 4"]], "filtered_resps": ["4"], "filter": "strict-match", "metrics": ["exact_match"], "doc_hash": "d", "prompt_hash": "p", "target_hash": "t", "exact_match": 1.0, "new_key": 7}"#;

    #[test]
    fn reads_every_field() {
        let s = parse_sample_line("s.jsonl", 4, LINE).expect("parses");
        assert_eq!(s.line, 4);
        assert_eq!(s.doc_id, 3);
        assert_eq!(s.doc, json!({"q": "2+2?"}));
        assert_eq!(s.target_text().as_deref(), Some("4"));
        assert_eq!(s.prompt().as_deref(), Some("Q: 2+2?\nA:"));
        assert_eq!(s.arguments[0][1], json!({"until": ["\n"]}));
        assert_eq!(s.response().as_deref(), Some("4 #### 4"));
        assert_eq!(s.filtered_response().as_deref(), Some("4"));
        assert_eq!(s.filter, "strict-match");
        assert_eq!(s.metrics, vec!["exact_match"]);
        assert_eq!(s.values["exact_match"], json!(1.0));
        assert_eq!(s.doc_hash.as_deref(), Some("d"));
        assert_eq!(s.extra["new_key"], json!(7));
        assert!(!s.values.contains_key("new_key"));
    }

    #[test]
    fn reads_old_layouts() {
        // A list of lists for arguments, no `filter`, no `metrics`.
        let s = parse_sample_line(
            "s.jsonl",
            1,
            r#"{"doc_id": 0, "doc": {}, "target": 1, "arguments": [["ctx", " cont"]], "resps": [[[-1.5, true]]], "filtered_resps": [[-1.5, true]], "acc": 1.0, "acc_norm": 0.0}"#,
        )
        .expect("parses");
        assert_eq!(s.filter, NO_FILTER);
        assert_eq!(s.metrics, vec!["acc", "acc_norm"]);
        assert_eq!(s.prompt().as_deref(), Some("ctx"));
        assert_eq!(s.arguments[0][1], json!(" cont"));
        assert_eq!(s.response().as_deref(), Some("[-1.5,true]"));
        assert_eq!(s.target_text().as_deref(), Some("1"));
    }

    #[test]
    fn unwraps_chat_prompts() {
        let chat = r#"[{"role": "user", "content": "Hi [[answer:x]]"}]"#;
        let line = json!({"doc_id": 0, "arguments": {"gen_args_0": {"arg_0": [chat], "arg_1": {}}},
                          "filter": "none", "metrics": []});
        let s = parse_sample_line("s.jsonl", 1, &line.to_string()).expect("parses");
        let prompt = s.prompt().expect("prompt");
        assert_eq!(prompt, chat);
        assert_eq!(
            chat_messages(&prompt),
            Some(vec![ChatMessage {
                role: "user".into(),
                content: "Hi [[answer:x]]".into()
            }])
        );
        assert_eq!(chat_messages("Question: [1, 2]"), None);
        assert_eq!(chat_messages("[1, 2]"), None);
    }

    #[test]
    fn reads_python_nan_values() {
        let s = parse_sample_line(
            "s.jsonl",
            1,
            r#"{"doc_id": 0, "filter": "none", "metrics": ["f"], "f": NaN}"#,
        )
        .expect("parses");
        assert_eq!(s.values["f"], json!("NaN"));
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let bytes = format!("{LINE}\n\n{{\"doc_id\": -1}}\n");
        let e = parse_samples("m/samples_t_x.jsonl", bytes.as_bytes()).expect_err("bad doc_id");
        assert_eq!(e.line, Some(3));
        assert_eq!(e.field.as_deref(), Some("doc_id"));
        assert_eq!(
            e.to_string(),
            "m/samples_t_x.jsonl:3: doc_id: expected a non-negative integer, found -1"
        );

        let e = parse_samples("s.jsonl", format!("{LINE}\n{{\"doc_id\": 1,").as_bytes())
            .expect_err("truncated");
        assert_eq!(e.line, Some(2));
        assert!(e.column.is_some());

        let e = parse_samples("s.jsonl", format!("{LINE}\n{LINE}\n").as_bytes())
            .expect_err("duplicate");
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("logged twice"), "{e}");

        let e = parse_sample_line(
            "s.jsonl",
            1,
            r#"{"doc_id": 0, "metrics": ["acc"], "filter": "none"}"#,
        )
        .expect_err("missing value");
        assert_eq!(e.field.as_deref(), Some("acc"));

        let e = parse_sample_line("s.jsonl", 9, r#"{"doc_id": 0, "metrics": "acc"}"#)
            .expect_err("metrics not a list");
        assert_eq!(e.field.as_deref(), Some("metrics"));

        let e = parse_sample_line("s.jsonl", 9, "[1]").expect_err("not an object");
        assert_eq!(e.line, Some(9));

        let e = parse_samples("s.jsonl", b"\xff\n").expect_err("not utf-8");
        assert_eq!(e.line, Some(1));
    }

    #[test]
    fn skips_blank_lines_and_crlf() {
        let bytes = format!("\r\n{LINE}\r\n\n");
        let lines = parse_samples("s.jsonl", bytes.as_bytes()).expect("parses");
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].line, 2);
    }
}
