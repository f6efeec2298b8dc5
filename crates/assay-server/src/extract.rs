//! Request extractors that report failures in the error envelope with field paths.

use std::time::Duration;

use assay_domain::api::PageRequest;
use assay_domain::{json, MAX_SAFE_INT};
use axum::body::{BodyDataStream, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use bytes::BytesMut;
use futures::StreamExt;
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

/// Most bytes of a refused body read and thrown away after the 413 is sent.
const DRAIN_MAX_BYTES: usize = 64 * 1024 * 1024;
/// Longest time spent reading a refused body after the 413 is sent.
const DRAIN_MAX_TIME: Duration = Duration::from_secs(10);

/// Reads a request body of at most `limit` bytes into memory, for a route with a limit of its
/// own. A `Content-Length` over the limit is refused before any of the body is read; a body
/// without one (chunked) is refused as soon as more than `limit` bytes have arrived; so no
/// more than `limit` bytes are ever held. Both refusals are 413s.
///
/// Many clients send their whole body before they read the answer, and a connection closed
/// under unread data is reset, which loses the 413 on its way (the client sees a broken
/// pipe). So the rest of a refused body is read and thrown away in the background while the
/// 413 goes out, for at most [`DRAIN_MAX_BYTES`] and [`DRAIN_MAX_TIME`]; past either bound
/// the connection is closed.
pub async fn capped_body(request: Request, limit: usize) -> Result<Bytes, ApiError> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || {
        ApiError::TooLarge(format!(
            "the request body is larger than this route accepts ({limit} bytes)"
        ))
    };
    let body = request.into_body();
    if declared.is_some_and(|n| n > limit as u64) {
        drain(body.into_data_stream());
        return Err(too_large());
    }
    let mut stream = body.into_data_stream();
    let mut buffer = BytesMut::with_capacity(declared.map_or(0, |n| n as usize));
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::invalid("body", format!("reading the body: {e}")))?;
        if buffer.len() + chunk.len() > limit {
            drain(stream);
            return Err(too_large());
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(buffer.freeze())
}

/// Reads and discards what is left of a refused body in the background, within bounds.
fn drain(mut stream: BodyDataStream) {
    tokio::spawn(async move {
        let mut read = 0usize;
        let _ = tokio::time::timeout(DRAIN_MAX_TIME, async {
            while let Some(Ok(chunk)) = stream.next().await {
                read += chunk.len();
                if read > DRAIN_MAX_BYTES {
                    break;
                }
            }
        })
        .await;
    });
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
