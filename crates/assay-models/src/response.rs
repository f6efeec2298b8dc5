//! Reading the answer, reasoning and usage out of each API's response.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{AttemptError, ErrorKind};

/// Token usage of one call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens (including `cached_tokens`).
    pub input_tokens: u64,
    /// Generated tokens (including `reasoning_tokens`).
    pub output_tokens: u64,
    /// Share of `input_tokens` served from the provider's prompt cache, when reported.
    pub cached_tokens: Option<u64>,
    /// Share of `output_tokens` spent on reasoning, when reported (or estimated from captured
    /// reasoning text).
    pub reasoning_tokens: Option<u64>,
    /// True when the provider reported no usage and the gateway counted tokens itself with
    /// tiktoken `o200k_base`.
    pub estimated: bool,
}

/// What one successful attempt produced, before the gateway post-processes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawGeneration {
    /// The answer text as returned (may still hold a `<think>` block).
    pub text: String,
    /// Reasoning returned on a separate channel.
    pub reasoning: Option<String>,
    /// The provider's response id.
    pub response_id: Option<String>,
    /// Usage as reported, if it was.
    pub usage: Option<Usage>,
}

/// What one successful embeddings attempt produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawEmbeddings {
    /// One vector per input, in input order.
    pub vectors: Vec<Vec<f32>>,
    /// Usage as reported, if it was.
    pub usage: Option<Usage>,
}

fn invalid(message: impl Into<String>) -> AttemptError {
    AttemptError::new(ErrorKind::InvalidResponse, message)
}

fn u64_at(v: &Value, path: &[&str]) -> Option<u64> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_u64()
}

fn string_at(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

/// Text of a content value: a string, or parts carrying `text` (or `refusal`).
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| match p {
                Value::String(s) => Some(s.as_str()),
                _ => p
                    .get("text")
                    .or_else(|| p.get("refusal"))
                    .and_then(Value::as_str),
            })
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

fn join_nonempty(parts: Vec<String>) -> Option<String> {
    let parts: Vec<String> = parts.into_iter().filter(|p| !p.trim().is_empty()).collect();
    (!parts.is_empty()).then(|| parts.join("\n\n"))
}

/// Maps a provider error code (from a `failed` response) to a kind.
fn kind_of_code(code: &str) -> ErrorKind {
    match code {
        "rate_limit_exceeded" => ErrorKind::RateLimited,
        "context_length_exceeded" => ErrorKind::ContextLength,
        "content_filter" | "content_policy_violation" => ErrorKind::ContentFilter,
        "invalid_prompt" | "invalid_request_error" => ErrorKind::BadRequest,
        _ => ErrorKind::ServerError,
    }
}

/// Parses a Responses API body.
pub fn parse_responses(v: &Value) -> Result<RawGeneration, AttemptError> {
    let status = v.get("status").and_then(Value::as_str).unwrap_or("");
    if status == "failed" {
        let err = v.get("error").cloned().unwrap_or(Value::Null);
        let code = err.get("code").and_then(Value::as_str).unwrap_or("");
        let message = string_at(&err, "message").unwrap_or_else(|| "response failed".into());
        return Err(AttemptError::new(kind_of_code(code), message));
    }
    let reason = v
        .get("incomplete_details")
        .and_then(|d| d.get("reason"))
        .and_then(Value::as_str);
    if status == "incomplete" && reason == Some("content_filter") {
        return Err(AttemptError::new(
            ErrorKind::ContentFilter,
            "the provider's content filter withheld the answer",
        ));
    }
    let mut texts = Vec::new();
    let mut reasoning = Vec::new();
    match v.get("output") {
        Some(Value::Array(items)) => {
            for item in items {
                match item.get("type").and_then(Value::as_str) {
                    Some("message") | None => {
                        if let Some(c) = item.get("content") {
                            texts.push(content_text(c));
                        }
                    }
                    Some("reasoning") => {
                        let content = item.get("content").map(content_text).unwrap_or_default();
                        if !content.trim().is_empty() {
                            reasoning.push(content);
                        } else if let Some(summary) = item.get("summary") {
                            reasoning.push(
                                summary
                                    .as_array()
                                    .map(|parts| {
                                        parts
                                            .iter()
                                            .filter_map(|p| p.get("text").and_then(Value::as_str))
                                            .collect::<Vec<_>>()
                                            .join("\n\n")
                                    })
                                    .unwrap_or_default(),
                            );
                        }
                    }
                    Some(_) => {}
                }
            }
        }
        _ => match v.get("output_text").and_then(Value::as_str) {
            Some(t) => texts.push(t.to_string()),
            None => return Err(invalid("Responses body has no `output` array")),
        },
    }
    let usage = v.get("usage").filter(|u| u.is_object()).and_then(|u| {
        Some(Usage {
            input_tokens: u64_at(u, &["input_tokens"])?,
            output_tokens: u64_at(u, &["output_tokens"])?,
            cached_tokens: u64_at(u, &["input_tokens_details", "cached_tokens"]),
            reasoning_tokens: u64_at(u, &["output_tokens_details", "reasoning_tokens"]),
            estimated: false,
        })
    });
    Ok(RawGeneration {
        text: texts.join(""),
        reasoning: join_nonempty(reasoning),
        response_id: string_at(v, "id"),
        usage,
    })
}

fn chat_style_usage(v: &Value) -> Option<Usage> {
    let u = v.get("usage").filter(|u| u.is_object())?;
    Some(Usage {
        input_tokens: u64_at(u, &["prompt_tokens"])?,
        output_tokens: u64_at(u, &["completion_tokens"])?,
        cached_tokens: u64_at(u, &["prompt_tokens_details", "cached_tokens"]),
        reasoning_tokens: u64_at(u, &["completion_tokens_details", "reasoning_tokens"]),
        estimated: false,
    })
}

fn first_choice(v: &Value) -> Result<&Value, AttemptError> {
    let choice = v
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .ok_or_else(|| invalid("response has no `choices`"))?;
    if choice.get("finish_reason").and_then(Value::as_str) == Some("content_filter") {
        return Err(AttemptError::new(
            ErrorKind::ContentFilter,
            "the provider's content filter withheld the answer",
        ));
    }
    Ok(choice)
}

/// Parses a Chat Completions body; reasoning comes from `message.reasoning_content` or
/// `message.reasoning`.
pub fn parse_chat(v: &Value) -> Result<RawGeneration, AttemptError> {
    let choice = first_choice(v)?;
    let message = choice
        .get("message")
        .ok_or_else(|| invalid("choice has no `message`"))?;
    let text = message.get("content").map(content_text).unwrap_or_default();
    let reasoning = ["reasoning_content", "reasoning"]
        .iter()
        .find_map(|k| message.get(*k).and_then(Value::as_str))
        .map(str::to_string)
        .filter(|r| !r.trim().is_empty());
    Ok(RawGeneration {
        text,
        reasoning,
        response_id: string_at(v, "id"),
        usage: chat_style_usage(v),
    })
}

/// Parses a Completions body.
pub fn parse_completions(v: &Value) -> Result<RawGeneration, AttemptError> {
    let choice = first_choice(v)?;
    let text = choice
        .get("text")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("choice has no `text`"))?
        .to_string();
    Ok(RawGeneration {
        text,
        reasoning: None,
        response_id: string_at(v, "id"),
        usage: chat_style_usage(v),
    })
}

/// Parses an Embeddings body expecting `n` vectors (ordered by `index`).
pub fn parse_embeddings(v: &Value, n: usize) -> Result<RawEmbeddings, AttemptError> {
    let data = v
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("embeddings body has no `data` array"))?;
    if data.len() != n {
        return Err(invalid(format!(
            "asked for {n} embeddings, got {}",
            data.len()
        )));
    }
    let mut vectors: Vec<Option<Vec<f32>>> = vec![None; n];
    for (pos, item) in data.iter().enumerate() {
        let index = item
            .get("index")
            .and_then(Value::as_u64)
            .map(|i| i as usize)
            .unwrap_or(pos);
        let vector = item
            .get("embedding")
            .and_then(Value::as_array)
            .and_then(|a| {
                a.iter()
                    .map(|x| x.as_f64().map(|x| x as f32))
                    .collect::<Option<Vec<f32>>>()
            })
            .ok_or_else(|| invalid("embedding is not an array of numbers"))?;
        match vectors.get_mut(index) {
            Some(slot @ None) => *slot = Some(vector),
            _ => return Err(invalid(format!("bad or repeated embedding index {index}"))),
        }
    }
    let usage = v.get("usage").filter(|u| u.is_object()).and_then(|u| {
        Some(Usage {
            input_tokens: u64_at(u, &["prompt_tokens"])?,
            output_tokens: 0,
            cached_tokens: None,
            reasoning_tokens: None,
            estimated: false,
        })
    });
    Ok(RawEmbeddings {
        vectors: vectors.into_iter().map(Option::unwrap_or_default).collect(),
        usage,
    })
}

/// Splits a leading `<think>…</think>` block off the answer. A text with `</think>` but no
/// opening tag (the opening was in the prompt, e.g. by `prefill_think` or a chat template) has
/// everything before `</think>` as reasoning. An unclosed `<think>` makes the whole text
/// reasoning (the model ran out of tokens while thinking). The answer is left-trimmed after a
/// removed block.
pub fn split_think(text: &str) -> (String, Option<String>) {
    const OPEN: &str = "<think>";
    const CLOSE: &str = "</think>";
    let trimmed = text.trim_start();
    if let Some(rest) = trimmed.strip_prefix(OPEN) {
        return match rest.find(CLOSE) {
            Some(i) => (
                rest[i + CLOSE.len()..].trim_start().to_string(),
                Some(rest[..i].trim().to_string()),
            ),
            None => (String::new(), Some(rest.trim().to_string())),
        };
    }
    if let Some(i) = text.find(CLOSE) {
        if !text[..i].contains(OPEN) {
            return (
                text[i + CLOSE.len()..].trim_start().to_string(),
                Some(text[..i].trim().to_string()),
            );
        }
    }
    (text.to_string(), None)
}

/// Cuts `text` at the earliest of `stop`.
pub fn apply_stop(text: &str, stop: &[String]) -> String {
    stop.iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| text.find(s.as_str()))
        .min()
        .map(|i| text[..i].to_string())
        .unwrap_or_else(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn responses_items() {
        let v = json!({
            "id": "resp_1", "status": "completed",
            "output": [
                {"type": "reasoning", "summary": [{"type": "summary_text", "text": "s1"}, {"type": "summary_text", "text": "s2"}]},
                {"type": "reasoning", "content": [{"type": "reasoning_text", "text": "full"}], "summary": [{"text": "short"}]},
                {"type": "function_call", "name": "f"},
                {"type": "message", "content": [{"type": "output_text", "text": "Hel"}, {"type": "output_text", "text": "lo"}]}
            ],
            "usage": {"input_tokens": 5, "output_tokens": 7, "input_tokens_details": {"cached_tokens": 2}, "output_tokens_details": {"reasoning_tokens": 4}}
        });
        let g = parse_responses(&v).unwrap();
        assert_eq!(g.text, "Hello");
        assert_eq!(g.reasoning.as_deref(), Some("s1\n\ns2\n\nfull"));
        assert_eq!(g.response_id.as_deref(), Some("resp_1"));
        assert_eq!(
            g.usage,
            Some(Usage {
                input_tokens: 5,
                output_tokens: 7,
                cached_tokens: Some(2),
                reasoning_tokens: Some(4),
                estimated: false
            })
        );
        let e = parse_responses(
            &json!({"status": "incomplete", "incomplete_details": {"reason": "content_filter"}}),
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::ContentFilter);
        let e = parse_responses(
            &json!({"status": "failed", "error": {"code": "server_error", "message": "boom"}}),
        )
        .unwrap_err();
        assert!(e.kind == ErrorKind::ServerError && e.retryable);
        assert_eq!(
            parse_responses(&json!({})).unwrap_err().kind,
            ErrorKind::InvalidResponse
        );
        let g = parse_responses(&json!({"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}, "output": []})).unwrap();
        assert_eq!(g.text, "");
    }

    #[test]
    fn chat_reasoning_fields() {
        let v = json!({"id": "c", "choices": [{"message": {"content": "A", "reasoning": "r"}}], "usage": {"prompt_tokens": 1, "completion_tokens": 2}});
        let g = parse_chat(&v).unwrap();
        assert_eq!((g.text.as_str(), g.reasoning.as_deref()), ("A", Some("r")));
        assert_eq!(g.usage.unwrap().cached_tokens, None);
        let v = json!({"choices": [{"message": {"content": null, "reasoning_content": "rc"}, "finish_reason": "length"}]});
        let g = parse_chat(&v).unwrap();
        assert_eq!(
            (g.text.as_str(), g.reasoning.as_deref(), g.usage),
            ("", Some("rc"), None)
        );
        let v =
            json!({"choices": [{"message": {"content": null}, "finish_reason": "content_filter"}]});
        assert_eq!(parse_chat(&v).unwrap_err().kind, ErrorKind::ContentFilter);
        assert_eq!(
            parse_chat(&json!({"choices": []})).unwrap_err().kind,
            ErrorKind::InvalidResponse
        );
        let v = json!({"choices": [{"text": "x"}], "usage": {"prompt_tokens": 3}});
        assert_eq!(parse_completions(&v).unwrap().usage, None);
    }

    #[test]
    fn embeddings_in_index_order() {
        let v = json!({"data": [{"index": 1, "embedding": [0.0, 1.0]}, {"index": 0, "embedding": [1.0, 0.0]}], "usage": {"prompt_tokens": 4, "total_tokens": 4}});
        let e = parse_embeddings(&v, 2).unwrap();
        assert_eq!(e.vectors, vec![vec![1.0, 0.0], vec![0.0, 1.0]]);
        assert_eq!(e.usage.unwrap().input_tokens, 4);
        assert!(parse_embeddings(&v, 3).is_err());
        let dup =
            json!({"data": [{"index": 0, "embedding": [1.0]}, {"index": 0, "embedding": [1.0]}]});
        assert!(parse_embeddings(&dup, 2).is_err());
    }

    #[test]
    fn think_blocks() {
        assert_eq!(
            split_think("<think>hmm</think>\n\nB"),
            ("B".into(), Some("hmm".into()))
        );
        assert_eq!(
            split_think("  <think>\nhmm\n</think>B"),
            ("B".into(), Some("hmm".into()))
        );
        assert_eq!(
            split_think("hmm</think>\nB"),
            ("B".into(), Some("hmm".into()))
        );
        assert_eq!(
            split_think("<think>never closed"),
            ("".into(), Some("never closed".into()))
        );
        assert_eq!(
            split_think("B <think>x</think>"),
            ("B <think>x</think>".into(), None)
        );
        assert_eq!(split_think("plain"), ("plain".into(), None));
        assert_eq!(
            apply_stop("a\n\nb END", &["END".into(), "\n\n".into()]),
            "a"
        );
    }
}
