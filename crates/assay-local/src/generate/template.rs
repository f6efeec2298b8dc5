//! Rendering a model's chat template (`tokenizer.chat_template`, Jinja) the way Hugging Face's
//! `apply_chat_template` does: `trim_blocks`, `lstrip_blocks`, Python string methods,
//! `raise_exception`, and the special tokens as variables.

use minijinja::{Environment, Error, ErrorKind, Value};
use serde_json::{json, Map};

/// A chat template ready to render.
#[derive(Debug)]
pub struct ChatTemplate {
    source: String,
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
}

fn raise_exception(message: String) -> Result<Value, Error> {
    Err(Error::new(ErrorKind::InvalidOperation, message))
}

fn strftime_now(format: String) -> String {
    // Templates use it to print today's date; a fixed date keeps prompts reproducible.
    let _ = format;
    "01 Jan 2025".to_string()
}

impl ChatTemplate {
    /// Compiles `source`, checking it renders a one-message conversation.
    pub fn new(source: &str, bos_token: &str, eos_token: &str) -> Result<Self, String> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", raise_exception);
        env.add_function("strftime_now", strftime_now);
        let template = Self {
            source: source.to_string(),
            env,
            bos_token: bos_token.to_string(),
            eos_token: eos_token.to_string(),
        };
        template.render(None, "test", None)?;
        Ok(template)
    }

    /// The conversation `[system?, user]` rendered with `add_generation_prompt=true`, plus any
    /// template arguments (e.g. `enable_thinking`).
    pub fn render(
        &self,
        system: Option<&str>,
        user: &str,
        kwargs: Option<&Map<String, serde_json::Value>>,
    ) -> Result<String, String> {
        let mut messages = Vec::new();
        if let Some(s) = system {
            messages.push(json!({"role": "system", "content": s}));
        }
        messages.push(json!({"role": "user", "content": user}));
        let mut ctx = Map::new();
        if let Some(kwargs) = kwargs {
            ctx.extend(kwargs.clone());
        }
        ctx.insert("messages".into(), json!(messages));
        ctx.insert("add_generation_prompt".into(), json!(true));
        ctx.insert("bos_token".into(), json!(self.bos_token));
        ctx.insert("eos_token".into(), json!(self.eos_token));
        self.env
            .render_str(&self.source, Value::from_serialize(&ctx))
            .map_err(|e| format!("chat template: {e:#}"))
    }
}

/// The prompt of a model without a chat template: instructions, a blank line, the prompt.
pub fn plain_prompt(system: Option<&str>, user: &str) -> String {
    match system {
        Some(s) => format!("{s}\n\n{user}"),
        None => user.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_chatml_with_python_methods() {
        let src = "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'].strip() + '<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
        let t = ChatTemplate::new(src, "<s>", "</s>").unwrap();
        let out = t.render(Some("Be brief."), " Hi ", None).unwrap();
        assert_eq!(
            out,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn raise_exception_fails_the_render() {
        let src = "{% if messages[0]['role'] == 'system' %}{{ raise_exception('no system') }}{% endif %}ok";
        let t = ChatTemplate::new(src, "", "").unwrap();
        assert!(t
            .render(Some("x"), "y", None)
            .unwrap_err()
            .contains("no system"));
    }
}
