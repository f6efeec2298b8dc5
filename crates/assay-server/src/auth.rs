//! Bearer-key authentication and the `X-On-Behalf-Of` delegation header.

use assay_domain::Principal;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::AppState;

/// Longest accepted `X-On-Behalf-Of` value.
const MAX_ON_BEHALF_OF_CHARS: usize = 256;

/// The authenticated caller of a request.
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::Unauthenticated("missing Authorization: Bearer <key> header".into())
            })?;
        let secret = header
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, rest) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                ApiError::Unauthenticated("the Authorization header must be `Bearer <key>`".into())
            })?;
        let key = state
            .store
            .authenticate(secret)
            .await?
            .ok_or_else(|| ApiError::Unauthenticated("invalid API key".into()))?;
        let user_id = match parts.headers.get("x-on-behalf-of") {
            None => None,
            Some(value) => {
                let value = value
                    .to_str()
                    .map_err(|_| ApiError::invalid("X-On-Behalf-Of", "must be visible ASCII"))?
                    .trim();
                if value.is_empty() || value.chars().count() > MAX_ON_BEHALF_OF_CHARS {
                    return Err(ApiError::invalid(
                        "X-On-Behalf-Of",
                        format!("must have 1 to {MAX_ON_BEHALF_OF_CHARS} characters"),
                    ));
                }
                Some(value.to_string())
            }
        };
        Ok(Caller(Principal {
            key_id: key.id,
            org_id: key.org_id,
            team_id: key.team_id,
            user_id,
            is_admin: key.is_admin,
        }))
    }
}
