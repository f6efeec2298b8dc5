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

use std::sync::OnceLock;

use minijinja::{Environment, UndefinedBehavior};

/// The environment every manifest template is parsed and rendered in (made once).
fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(true);
        env
    })
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
pub fn render<C: serde::Serialize>(src: &str, context: &C) -> Result<String, String> {
    environment()
        .render_str(src, context)
        .map_err(|err| err.to_string())
}

/// The top-level variables `src` reads that neither `context` nor the template environment
/// (`range`, `namespace`, …) defines, sorted: what an "undefined value" error is about. Empty
/// when the template does not parse or reads nothing missing (variables assigned inside the
/// template do not count).
pub fn missing_variables(
    src: &str,
    context: &serde_json::Map<String, serde_json::Value>,
) -> Vec<String> {
    let env = environment();
    let Ok(template) = env.template_from_str(src) else {
        return Vec::new();
    };
    let mut missing: Vec<String> = template
        .undeclared_variables(false)
        .into_iter()
        .filter(|name| !context.contains_key(name))
        .filter(|name| env.globals().all(|(global, _)| global != name))
        .collect();
    missing.sort_unstable();
    missing
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
    fn missing_variables_name_what_the_context_lacks() {
        let ctx = json!({"question": "?", "choices": ["a"]});
        let ctx = ctx.as_object().unwrap();
        assert_eq!(
            missing_variables(
                "Q: {{questoin}} {{ question }} {{ zeta.x }} {{ alpha }}",
                ctx
            ),
            ["alpha", "questoin", "zeta"]
        );
        // Loop variables, assignments and the environment's globals are not missing.
        let src = "{% for c in choices %}{{ loop.index }}{{ c }}{% endfor %}\
                   {% set n = 1 %}{{ n }}{% for i in range(2) %}{{ i }}{% endfor %}";
        assert!(missing_variables(src, ctx).is_empty());
        assert!(missing_variables("{{ broken", ctx).is_empty());
    }

    #[test]
    fn render_reports_syntax_errors() {
        assert!(render("{{ x", &json!({"x": 1})).is_err());
    }
}
