//! Signing in and out, the session cookie, and the CSRF tokens of forms.
//!
//! Signing in exchanges an API key for a session ([`assay_store::Store::open_ui_session`]):
//! the browser gets only an `HttpOnly`, `SameSite=Strict` cookie holding a random token; the
//! key never lands in a URL, a page or browser storage. Every state-changing form carries the
//! session's CSRF token (the sign-in form a pre-session one, double-submitted through a cookie
//! of its own).

use assay_domain::Principal;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Form;
use minijinja::context;
use rand::distr::{Alphanumeric, SampleString};
use serde::{Deserialize, Serialize};

use crate::render::{page, see_other, UiError};
use crate::UiState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "assay_session";
/// The sign-in form's CSRF cookie.
const SIGN_IN_COOKIE: &str = "assay_sign_in";

/// Who is looking at a page: the signed-in key's principal and the session's CSRF token.
#[derive(Debug, Clone)]
pub(crate) struct Viewer {
    pub principal: Principal,
    pub csrf: String,
}

/// What templates see of the viewer.
#[derive(Serialize)]
pub(crate) struct ViewerView<'a> {
    org: &'a str,
    team: &'a str,
    csrf: &'a str,
}

impl Viewer {
    pub fn view(&self) -> ViewerView<'_> {
        ViewerView {
            org: &self.principal.org_id,
            team: &self.principal.team_id,
            csrf: &self.csrf,
        }
    }

    /// Whether a submitted form carries this session's CSRF token.
    pub fn check_form(&self, form_csrf: &str) -> Result<(), UiError> {
        if same_secret(&self.csrf, form_csrf) {
            Ok(())
        } else {
            Err(UiError::Forbidden(
                "The form expired; reload the page and try again.".into(),
            ))
        }
    }
}

/// The signed-in viewer of a page; without a live session the request is answered with the
/// sign-in redirect.
pub(crate) struct SignedIn(pub Viewer);

impl axum::extract::FromRequestParts<UiState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &UiState,
    ) -> Result<Self, Response> {
        match state.viewer(&parts.headers).await {
            Ok(Some(viewer)) => Ok(SignedIn(viewer)),
            Ok(None) => Err(state.error_page(UiError::SignIn, None)),
            Err(e) => Err(state.error_page(e, None)),
        }
    }
}

/// A form whose only field is the CSRF token (buttons that change state).
#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

impl UiState {
    /// The viewer whose session cookie came with the request, if it is live.
    async fn viewer(&self, headers: &HeaderMap) -> Result<Option<Viewer>, UiError> {
        let Some(token) = cookie(headers, SESSION_COOKIE) else {
            return Ok(None);
        };
        let Some(session) = self.store.ui_session(&token, crate::now()).await? else {
            return Ok(None);
        };
        Ok(Some(Viewer {
            principal: Principal {
                key_id: session.key.id,
                org_id: session.key.org_id,
                team_id: session.key.team_id,
                user_id: None,
                is_admin: session.key.is_admin,
            },
            csrf: session.csrf_token,
        }))
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Strict`, scoped to `path`; `max_age` 0 clears.
fn set_cookie(name: &str, value: &str, path: &str, max_age: i64) -> HeaderValue {
    let text = format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict");
    // Names, paths and tokens are ASCII alphanumerics and `/`.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn random_token() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 40)
}

/// Whether two secrets are equal, in time independent of where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The sign-in form, with a fresh pre-session CSRF token in the form and in its own cookie.
fn sign_in_form(state: &UiState, status: StatusCode, error: Option<&str>) -> Response {
    let csrf = random_token();
    let html = match state.render("sign_in.html", context! { csrf => &csrf, error => error }) {
        Ok(html) => html,
        Err(e) => return state.error_page(e, None),
    };
    let mut response = page(status, html);
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SIGN_IN_COOKIE, &csrf, "/ui/sign-in", 3600),
    );
    response
}

pub(crate) async fn sign_in_page(State(state): State<UiState>) -> Response {
    sign_in_form(&state, StatusCode::OK, None)
}

#[derive(Deserialize)]
pub(crate) struct SignInForm {
    #[serde(default)]
    key: String,
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn sign_in(
    State(state): State<UiState>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let expected = cookie(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same_secret(&expected, &form.csrf) {
        return sign_in_form(
            &state,
            StatusCode::FORBIDDEN,
            Some("The sign-in form expired; sign in again."),
        );
    }
    let key = match state.store.authenticate(form.key.trim()).await {
        Ok(Some(key)) => key,
        Ok(None) => {
            return sign_in_form(
                &state,
                StatusCode::UNAUTHORIZED,
                Some("That API key is not valid."),
            )
        }
        Err(e) => return state.error_page(e.into(), None),
    };
    let session = match state
        .store
        .open_ui_session(&key, crate::now(), state.session_seconds)
        .await
    {
        Ok(s) => s,
        Err(e) => return state.error_page(e.into(), None),
    };
    let mut response = see_other("/ui/runs");
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, &session.token, "/ui", state.session_seconds),
    );
    headers.append(
        header::SET_COOKIE,
        set_cookie(SIGN_IN_COOKIE, "", "/ui/sign-in", 0),
    );
    response
}

pub(crate) async fn sign_out(
    State(state): State<UiState>,
    SignedIn(viewer): SignedIn,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(e) = viewer.check_form(&form.csrf) {
        return state.error_page(e, Some(&viewer));
    }
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        if let Err(e) = state.store.close_ui_session(&token).await {
            return state.error_page(e.into(), Some(&viewer));
        }
    }
    let mut response = see_other("/ui/sign-in");
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", "/ui", 0));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_from_any_header_and_pair() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; assay_session=tok"),
        );
        headers.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&headers, SESSION_COOKIE).as_deref(), Some("tok"));
        assert_eq!(cookie(&headers, "b").as_deref(), Some("2"));
        assert_eq!(cookie(&headers, "c"), None);
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
    }
}
