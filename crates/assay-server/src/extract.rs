//! Request extractors that report failures in the error envelope with field paths.

use assay_domain::api::PageRequest;
use assay_domain::{json, MAX_SAFE_INT};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body decoded into `T`; errors name the offending field.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge("the request body is too large".into())
            } else {
                ApiError::invalid("body", rejection.body_text())
            }
        })?;
        Ok(JsonBody(json::from_slice(&bytes)?))
    }
}

/// Query parameters decoded into `T`; errors name the offending parameter.
pub struct QueryParams<T>(pub T);

impl<S, T> FromRequestParts<S> for QueryParams<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        let value = serde_path_to_error::deserialize(de).map_err(|err| {
            let path = err.path().to_string();
            let message = err.into_inner().to_string();
            if let Some(rest) = message.strip_prefix("missing field `") {
                let name = rest.split('`').next().unwrap_or("query");
                return ApiError::invalid(name, "is required");
            }
            let path = if path == "." {
                "query".to_string()
            } else {
                path
            };
            ApiError::invalid(path, message)
        })?;
        Ok(QueryParams(value))
    }
}

/// Validates `after`/`limit` against a list's default and maximum page size.
pub fn page(
    after: Option<String>,
    limit: Option<i64>,
    default: i64,
    max: i64,
) -> Result<PageRequest, ApiError> {
    let limit = limit.unwrap_or(default);
    if !(1..=max).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {max}"),
        ));
    }
    let after = after.filter(|a| !a.is_empty());
    Ok(PageRequest { after, limit })
}

/// Parses a positive integer path segment (e.g. a version number).
pub fn positive_int(raw: &str, name: &str) -> Result<i64, ApiError> {
    match raw.parse::<i64>() {
        Ok(n) if (1..=MAX_SAFE_INT).contains(&n) => Ok(n),
        _ => Err(ApiError::invalid(
            name,
            format!("must be an integer between 1 and {MAX_SAFE_INT}"),
        )),
    }
}

/// What a list with an `owned_only` flag may return.
pub fn reach(owned_only: Option<bool>) -> assay_store::Reach {
    if owned_only == Some(true) {
        assay_store::Reach::Owned
    } else {
        assay_store::Reach::Shared
    }
}
