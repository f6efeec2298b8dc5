//! Mapping a run's [`GenerationConfig`] onto the request body of each OpenAI-compatible API.
//!
//! | field | Responses | Chat Completions | Completions |
//! |---|---|---|---|
//! | prompt | `input` (string) | last `user` message | `prompt` |
//! | `instructions` | `instructions` | leading `system` message | prepended to `prompt` + blank line |
//! | `temperature` | `temperature` | `temperature` | `temperature` |
//! | `top_p`, `top_k`, `min_p` | top-level | top-level | top-level |
//! | `max_output_tokens` | `max_output_tokens` | `max_tokens` | `max_tokens` |
//! | `stop` | not sent (unsupported by the API); applied to the answer by the gateway | `stop` | `stop` |
//! | `presence_penalty`, `frequency_penalty`, `repetition_penalty` | top-level | top-level | top-level |
//! | `reasoning` | `reasoning` | `reasoning_effort` = `reasoning.effort` | — |
//! | `tools`, `tool_choice`, `parallel_tool_calls` | as given | as given | — |
//! | `max_tool_calls` | `max_tool_calls` | — | — |
//! | `service_tier` | `service_tier` | `service_tier` | — |
//! | `truncation`, `text` | as given | — | — |
//! | `chat_template_kwargs` | top-level | top-level | — (no chat template) |
//! | `prefill_think` | — (hosted reasoning models think natively; use `reasoning`) | final `assistant` message holding the prefix + `continue_final_message: true`, `add_generation_prompt: false` | prefix appended to `prompt` |
//! | `extra_body` | merged top-level, last (overrides) | same | same |
//!
//! Greedy decoding (`do_sample: false` or `temperature: 0`) sends `temperature: 0` and drops
//! `top_p`, `top_k` and `min_p`. `prefill_think: true` means the prefix `"<think>\n"`; a string
//! is the prefix itself. Keys of the config that Assay does not know (`extra`) and the execution
//! controls (`use_cache`, `timeout_seconds`, `max_retries`, `max_empty_retries`) are not sent.

use assay_domain::generation::{GenerationConfig, PrefillThink};
use serde_json::{json, Map, Value};

use crate::config::EndpointKind;

/// The thinking prefix `prefill_think: true` stands for.
pub const DEFAULT_THINK_PREFIX: &str = "<think>\n";

/// The prefix `prefill_think` asks for, if any.
pub fn prefill_prefix(config: &GenerationConfig) -> Option<&str> {
    match &config.prefill_think {
        Some(PrefillThink::Enabled(true)) => Some(DEFAULT_THINK_PREFIX),
        Some(PrefillThink::Text(t)) if !t.is_empty() => Some(t.as_str()),
        _ => None,
    }
}

fn put<T: serde::Serialize>(body: &mut Map<String, Value>, key: &str, value: &Option<T>) {
    if let Some(v) = value {
        if let Ok(v) = serde_json::to_value(v) {
            body.insert(key.to_string(), v);
        }
    }
}

/// The JSON body of one generation request to an endpoint of `kind` (an HTTP kind; for
/// `embeddings` and `local` the body is the Responses form).
pub fn generation_body(
    kind: EndpointKind,
    upstream_model: &str,
    prompt: &str,
    config: &GenerationConfig,
) -> Value {
    let mut b = Map::new();
    b.insert("model".into(), json!(upstream_model));
    let prefix = prefill_prefix(config);
    match kind {
        EndpointKind::ChatCompletions => {
            let mut messages = Vec::new();
            if let Some(i) = &config.instructions {
                messages.push(json!({"role": "system", "content": i}));
            }
            messages.push(json!({"role": "user", "content": prompt}));
            if let Some(p) = prefix {
                messages.push(json!({"role": "assistant", "content": p}));
            }
            b.insert("messages".into(), Value::Array(messages));
            if prefix.is_some() {
                b.insert("continue_final_message".into(), json!(true));
                b.insert("add_generation_prompt".into(), json!(false));
            }
        }
        EndpointKind::Completions => {
            let mut p = match &config.instructions {
                Some(i) => format!("{i}\n\n{prompt}"),
                None => prompt.to_string(),
            };
            if let Some(prefix) = prefix {
                p.push_str(prefix);
            }
            b.insert("prompt".into(), json!(p));
        }
        _ => {
            b.insert("input".into(), json!(prompt));
            put(&mut b, "instructions", &config.instructions);
        }
    }
    let responses = !matches!(
        kind,
        EndpointKind::ChatCompletions | EndpointKind::Completions
    );
    let chat = kind == EndpointKind::ChatCompletions;

    if config.is_greedy() {
        b.insert("temperature".into(), json!(0.0));
    } else {
        put(&mut b, "temperature", &config.temperature);
        put(&mut b, "top_p", &config.top_p);
        put(&mut b, "top_k", &config.top_k);
        put(&mut b, "min_p", &config.min_p);
    }
    let max_key = if responses {
        "max_output_tokens"
    } else {
        "max_tokens"
    };
    put(&mut b, max_key, &config.max_output_tokens);
    let stop = config.stop_sequences();
    if !responses && !stop.is_empty() {
        b.insert("stop".into(), json!(stop));
    }
    put(&mut b, "presence_penalty", &config.presence_penalty);
    put(&mut b, "frequency_penalty", &config.frequency_penalty);
    put(&mut b, "repetition_penalty", &config.repetition_penalty);
    if responses {
        put(&mut b, "reasoning", &config.reasoning);
    } else if chat {
        let effort = config
            .reasoning
            .as_ref()
            .and_then(|r| r.get("effort"))
            .filter(|e| e.is_string())
            .cloned();
        put(&mut b, "reasoning_effort", &effort);
    }
    if responses || chat {
        put(&mut b, "tools", &config.tools);
        put(&mut b, "tool_choice", &config.tool_choice);
        put(&mut b, "parallel_tool_calls", &config.parallel_tool_calls);
        put(&mut b, "service_tier", &config.service_tier);
        put(&mut b, "chat_template_kwargs", &config.chat_template_kwargs);
    }
    if responses {
        put(&mut b, "max_tool_calls", &config.max_tool_calls);
        put(&mut b, "truncation", &config.truncation);
        put(&mut b, "text", &config.text);
    }
    if let Some(extra) = &config.extra_body {
        for (k, v) in extra {
            b.insert(k.clone(), v.clone());
        }
    }
    Value::Object(b)
}

/// The JSON body of one embeddings request.
pub fn embeddings_body(upstream_model: &str, texts: &[String]) -> Value {
    json!({"model": upstream_model, "input": texts, "encoding_format": "float"})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(v: Value) -> GenerationConfig {
        serde_json::from_value::<GenerationConfig>(v)
            .unwrap()
            .normalize()
    }

    #[test]
    fn responses_mapping() {
        let g = config(json!({
            "instructions": "Be brief.", "temperature": 0.7, "top_p": 0.9, "top_k": 20, "min_p": 0.05,
            "max_gen_toks": 64, "until": ["\n\n"], "presence_penalty": 0.1, "frequency_penalty": 0.2,
            "repetition_penalty": 1.1, "reasoning": {"effort": "low"}, "text": {"format": {"type": "text"}},
            "tools": [{"type": "web_search"}], "tool_choice": "auto", "parallel_tool_calls": false,
            "max_tool_calls": 3, "truncation": "auto", "service_tier": "flex",
            "chat_template_kwargs": {"enable_thinking": false}, "prefill_think": true,
            "extra_body": {"seed": 7, "top_k": 5}, "use_cache": true, "timeout_seconds": 9, "custom": 1
        }));
        let b = generation_body(EndpointKind::Responses, "m", "Hi", &g);
        assert_eq!(
            b,
            json!({
                "model": "m", "input": "Hi", "instructions": "Be brief.", "temperature": 0.7,
                "top_p": 0.9, "top_k": 5, "min_p": 0.05, "max_output_tokens": 64,
                "presence_penalty": 0.1, "frequency_penalty": 0.2, "repetition_penalty": 1.1,
                "reasoning": {"effort": "low"}, "tools": [{"type": "web_search"}], "tool_choice": "auto",
                "parallel_tool_calls": false, "service_tier": "flex",
                "chat_template_kwargs": {"enable_thinking": false}, "max_tool_calls": 3,
                "truncation": "auto", "text": {"format": {"type": "text"}}, "seed": 7
            })
        );
    }

    #[test]
    fn chat_mapping() {
        let g = config(json!({
            "instructions": "Be brief.", "max_output_tokens": 10, "stop": "END",
            "reasoning": {"effort": "high", "summary": "auto"}, "prefill_think": true,
            "chat_template_kwargs": {"enable_thinking": true}, "max_tool_calls": 2, "truncation": "auto"
        }));
        let b = generation_body(EndpointKind::ChatCompletions, "m", "Hi", &g);
        assert_eq!(
            b,
            json!({
                "model": "m",
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "<think>\n"}
                ],
                "continue_final_message": true, "add_generation_prompt": false,
                "max_tokens": 10, "stop": ["END"], "reasoning_effort": "high",
                "chat_template_kwargs": {"enable_thinking": true}
            })
        );
    }

    #[test]
    fn completions_mapping() {
        let g = config(json!({
            "instructions": "Solve.", "max_output_tokens": 10, "stop": ["\n"], "prefill_think": "<think>Let me",
            "tools": [{}], "reasoning": {"effort": "low"}, "chat_template_kwargs": {"a": 1}
        }));
        let b = generation_body(EndpointKind::Completions, "m", "1+1=", &g);
        assert_eq!(
            b,
            json!({"model": "m", "prompt": "Solve.\n\n1+1=<think>Let me", "max_tokens": 10, "stop": ["\n"]})
        );
    }

    #[test]
    fn greedy_drops_sampling_knobs() {
        let g = config(
            json!({"do_sample": false, "temperature": 0.8, "top_p": 0.9, "top_k": 40, "min_p": 0.1}),
        );
        let b = generation_body(EndpointKind::ChatCompletions, "m", "x", &g);
        assert_eq!(b["temperature"], json!(0.0));
        for k in ["top_p", "top_k", "min_p"] {
            assert!(b.get(k).is_none(), "{k} sent");
        }
        let g = config(json!({"temperature": 0, "top_p": 0.5}));
        let b = generation_body(EndpointKind::Responses, "m", "x", &g);
        assert!(b.get("top_p").is_none());
        let g = config(json!({"prefill_think": false}));
        let b = generation_body(EndpointKind::ChatCompletions, "m", "x", &g);
        assert!(b.get("continue_final_message").is_none());
        assert_eq!(b["messages"].as_array().unwrap().len(), 1);
    }
}
