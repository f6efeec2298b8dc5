//! Jinja templates of a manifest (`prompt_template`, `target_template`, few-shot
//! `example_template`, …), checked and rendered with [`minijinja`].
//!
//! Every template is rendered the same way:
//! - **strict undefined**: using a variable (or attribute) the context does not have is an
//!   error, so a typo in a column name fails the sample instead of rendering as an empty string;
//!   `{% if x is defined %}` still works;
//! - the template's **trailing newline is kept** (lm-eval-harness behaviour), so a prompt
//!   ending in `\n` keeps it;
//! - **no auto-escaping**: prompts are plain text;
//! - values render with minijinja's defaults: strings as-is, numbers and booleans in their
//!   JSON spelling (`true`, `1.5`), `none` for JSON `null`, and a list or an object in its
//!   debug form (`["a", "b"]`, `{"k": 1}`). Use filters (`{{ choices | join(", ") }}`) for
//!   anything else.

use minijinja::{Environment, UndefinedBehavior};

/// The environment every manifest template is parsed and rendered in.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    env
}

/// Checks that `src` is a syntactically valid template. The error says what is wrong and
/// where (line number), e.g. `syntax error: unexpected end of input, expected end of
/// variable block (in <string>:1)`.
pub fn check_syntax(src: &str) -> Result<(), String> {
    environment()
        .template_from_str(src)
        .map(|_| ())
        .map_err(|err| err.to_string())
}

/// Renders `src` with the fields of `context` (normally a JSON object, e.g. a dataset row)
/// as variables. Syntax errors and undefined variables are errors; see the module docs for
/// how values render.
pub fn render(src: &str, context: &serde_json::Value) -> Result<String, String> {
    environment()
        .render_str(src, context)
        .map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn valid_templates_pass_the_syntax_check() {
        assert!(check_syntax("Question: {{question}}\nAnswer:").is_ok());
        assert!(
            check_syntax("{% for c in choices %}{{ loop.index }}. {{ c }}\n{% endfor %}").is_ok()
        );
        assert!(check_syntax("plain text").is_ok());
        assert!(check_syntax("").is_ok());
    }

    #[test]
    fn broken_templates_fail_the_syntax_check() {
        for src in ["{{ question", "{% if x %}open", "{{ }}", "{% endfor %}"] {
            let err = check_syntax(src).unwrap_err();
            assert!(err.contains("syntax error"), "{src}: {err}");
        }
    }

    #[test]
    fn render_substitutes_row_fields() {
        let row = json!({"question": "2+2?", "answer": 4, "choices": ["A", "B"]});
        assert_eq!(
            render("Q: {{question}} A: {{ answer }}", &row).unwrap(),
            "Q: 2+2? A: 4"
        );
        assert_eq!(render("{{ choices | join(', ') }}", &row).unwrap(), "A, B");
    }

    #[test]
    fn render_keeps_the_trailing_newline() {
        assert_eq!(render("{{ x }}\n", &json!({"x": 1})).unwrap(), "1\n");
    }

    #[test]
    fn undefined_variables_are_errors() {
        let err = render("{{ missing }}", &json!({"x": 1})).unwrap_err();
        assert!(err.contains("undefined"), "{err}");
        let err = render("{{ row.missing }}", &json!({"row": {}})).unwrap_err();
        assert!(err.contains("undefined"), "{err}");
        assert_eq!(
            render(
                "{% if missing is defined %}y{% else %}n{% endif %}",
                &json!({})
            )
            .unwrap(),
            "n"
        );
    }

    #[test]
    fn render_reports_syntax_errors() {
        assert!(render("{{ x", &json!({"x": 1})).is_err());
    }
}
