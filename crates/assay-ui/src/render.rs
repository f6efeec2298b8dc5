//! Turning templates into responses: the template set, the headers every UI response carries,
//! the error page, and the small formatting helpers pages share.

use assay_store::StoreError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{context, Environment};

use crate::session::Viewer;
use crate::UiState;

/// Every template, by name, compiled into the binary.
const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("templates/layout.html")),
    ("macros.html", include_str!("templates/macros.html")),
    ("sign_in.html", include_str!("templates/sign_in.html")),
    ("runs.html", include_str!("templates/runs.html")),
    ("error.html", include_str!("templates/error.html")),
    ("run.html", include_str!("templates/run.html")),
    ("samples.html", include_str!("templates/samples.html")),
    ("sample.html", include_str!("templates/sample.html")),
    ("compare.html", include_str!("templates/compare.html")),
    ("suites.html", include_str!("templates/suites.html")),
    ("suite.html", include_str!("templates/suite.html")),
    ("suite_diff.html", include_str!("templates/suite_diff.html")),
    (
        "leaderboards.html",
        include_str!("templates/leaderboards.html"),
    ),
    ("schedules.html", include_str!("templates/schedules.html")),
];

/// The template environment (HTML auto-escaping for `.html` names, minijinja's default).
pub(crate) fn templates() -> Environment<'static> {
    let mut env = Environment::new();
    for (name, source) in TEMPLATES {
        // The templates are part of the binary; a syntax error in one is caught by the tests.
        if let Err(e) = env.add_template(name, source) {
            tracing::error!(template = name, error = %e, "a UI template does not parse");
        }
    }
    env
}

/// A page that could not be shown.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UiError {
    /// Not signed in (or the session ended): go to the sign-in page.
    #[error("sign in")]
    SignIn,
    /// A query parameter or form field is not acceptable; the message names it.
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    TooLarge(String),
    /// Something the page needs is unreachable (e.g. the schedule executor).
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Render(String),
}

impl From<assay_engine::trajectories::TrajectoryError> for UiError {
    fn from(e: assay_engine::trajectories::TrajectoryError) -> Self {
        use assay_engine::trajectories::TrajectoryError as T;
        match e {
            T::Invalid(v) => UiError::BadRequest(v.to_string()),
            T::TooLarge(m) => UiError::TooLarge(m),
            T::NotFound(m) => UiError::NotFound(m),
            T::Store(s) => UiError::Store(s),
        }
    }
}

impl From<assay_engine::schedules::ScheduleError> for UiError {
    fn from(e: assay_engine::schedules::ScheduleError) -> Self {
        use assay_engine::schedules::ScheduleError as S;
        match e {
            S::Invalid(v) => UiError::BadRequest(v.to_string()),
            S::NotFound(m) => UiError::NotFound(m),
            S::Unavailable(m) => UiError::Unavailable(m),
            S::Corrupt(m) => UiError::Render(m),
            S::Store(s) => UiError::Store(s),
        }
    }
}

impl From<assay_engine::leaderboard::LeaderboardError> for UiError {
    fn from(e: assay_engine::leaderboard::LeaderboardError) -> Self {
        use assay_engine::leaderboard::LeaderboardError as L;
        match e {
            L::NoSuite(m) => UiError::NotFound(m),
            L::InvalidCursor(m) => UiError::BadRequest(format!("cursor: {m}")),
            L::Store(s) => UiError::Store(s),
        }
    }
}

/// Headers every UI response carries: no framing, no script or style from elsewhere, no
/// sniffing, no referrer, no caching of pages.
pub(crate) fn secured(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' data:; media-src 'self' data:; \
             script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
             base-uri 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// An HTML page with `status`.
pub(crate) fn page(status: StatusCode, html: String) -> Response {
    secured(
        (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response(),
    )
}

/// A redirect after a form post (303: the browser follows with a GET).
pub(crate) fn see_other(to: &str) -> Response {
    secured(Redirect::to(to).into_response())
}

impl UiState {
    /// Renders template `name` with `ctx`.
    pub(crate) fn render(&self, name: &str, ctx: minijinja::Value) -> Result<String, UiError> {
        self.templates
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(|e| UiError::Render(format!("{name}: {e}")))
    }

    /// The page `html` produced, or the error page for what went wrong.
    pub(crate) fn respond(&self, viewer: &Viewer, html: Result<String, UiError>) -> Response {
        match html {
            Ok(html) => page(StatusCode::OK, html),
            Err(e) => self.error_page(e, Some(viewer)),
        }
    }

    /// The page saying why a request failed, with its status.
    pub(crate) fn error_page(&self, e: UiError, viewer: Option<&Viewer>) -> Response {
        let (status, message) = match &e {
            UiError::SignIn => return secured(Redirect::to("/ui/sign-in").into_response()),
            UiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m.clone()),
            UiError::Forbidden(m) => (StatusCode::FORBIDDEN, m.clone()),
            UiError::NotFound(_) | UiError::Store(StoreError::NotFound) => {
                (StatusCode::NOT_FOUND, "Not found.".to_string())
            }
            UiError::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, m.clone()),
            UiError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, m.clone()),
            UiError::Store(StoreError::Conflict(m)) => (StatusCode::CONFLICT, m.clone()),
            UiError::Store(s) if s.is_unavailable() => (
                StatusCode::SERVICE_UNAVAILABLE,
                "The database or object store is unreachable; try again shortly.".to_string(),
            ),
            UiError::Store(StoreError::InvalidCursor(_)) => (
                StatusCode::BAD_REQUEST,
                "That page link is no longer valid; start from the first page.".to_string(),
            ),
            UiError::Store(_) | UiError::Render(_) => {
                tracing::error!(error = %e, "a UI page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The page could not be shown; the server's log says why.".to_string(),
                )
            }
        };
        let ctx = context! {
            status => status.as_u16(),
            message => message,
            viewer => viewer.map(Viewer::view),
        };
        let html = self
            .render("error.html", ctx)
            .unwrap_or_else(|_| format!("{status}"));
        page(status, html)
    }
}

/// A static asset, cached by browsers for an hour.
pub(crate) fn asset(content_type: &'static str, body: &'static str) -> Response {
    secured(
        (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            body,
        )
            .into_response(),
    )
}

/// Unix seconds as `YYYY-MM-DD HH:MM UTC`.
pub(crate) fn format_time(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| unix.to_string())
}

/// A number with four decimals, or a dash when there is none.
pub(crate) fn number(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.4}"),
        _ => "—".into(),
    }
}

/// Characters of one string value a page shows before clipping it.
pub(crate) const CLIP_CHARS: usize = 2_000;

/// `value` with every string longer than `max` characters clipped, saying how much was left
/// out, so one enormous value cannot make a page enormous.
pub(crate) fn clip_json(value: &serde_json::Value, max: usize) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => Value::String(clip(s, max)),
        Value::Array(items) => Value::Array(items.iter().map(|v| clip_json(v, max)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (clip(k, max), clip_json(v, max)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `text` cut to `max` characters with a note of how many more there were.
pub(crate) fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((cut, _)) => {
            let rest = text[cut..].chars().count();
            format!("{}… ({rest} more characters)", &text[..cut])
        }
    }
}

/// JSON as indented text for a `<pre>`.
pub(crate) fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        let env = templates();
        for (name, _) in TEMPLATES {
            assert!(env.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn times_are_civil_utc() {
        assert_eq!(format_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_time(1_796_529_836), "2026-12-06 04:03 UTC");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00 UTC");
    }

    #[test]
    fn long_strings_are_clipped_everywhere_in_json() {
        assert_eq!(clip("héllo", 10), "héllo");
        assert_eq!(clip("héllo", 2), "hé… (3 more characters)");
        let v = serde_json::json!({"a": ["xxxxxx", 1], "yyyyyy": {"b": "zzzzzz"}});
        let clipped = clip_json(&v, 3);
        assert_eq!(
            clipped,
            serde_json::json!({"a": ["xxx… (3 more characters)", 1],
                               "yyy… (3 more characters)": {"b": "zzz… (3 more characters)"}})
        );
    }
}
