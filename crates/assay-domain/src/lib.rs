//! Assay's domain: the API and manifest types, identifiers, validation rules and the
//! state machines of runs and samples. Nothing here does IO; every other crate builds on it.

pub mod api;
pub mod auth;
pub mod columns;
pub mod error;
pub mod generation;
pub mod ids;
pub mod json;
pub mod manifest;
pub mod template;

pub use auth::Principal;
pub use error::ValidationError;

/// Largest integer a JSON client can represent exactly (2^53 − 1); every integer the API
/// accepts or emits stays within ±this bound.
pub const MAX_SAFE_INT: i64 = 9_007_199_254_740_991;

/// Current time as unix seconds, the unit of every timestamp in the API.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
