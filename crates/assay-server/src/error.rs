//! The one error envelope every failure is reported in:
//! `{"error": {"message", "type", "code", "details"}}`.

use assay_domain::ValidationError;
use assay_engine::admission::AdmissionError;
use assay_store::{FaultKind, StorageFault, StoreError};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// Why a request failed, mapped onto an HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A field broke a rule; the path names it.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    /// Unknown, deleted, or another tenant's resource.
    #[error("{0}")]
    NotFound(String),
    /// A body field names something that does not exist; the path names the field.
    #[error(transparent)]
    NotFoundAt(ValidationError),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Unavailable(String),
    /// Storage is full (507): the operator must free space.
    #[error("{0}")]
    InsufficientStorage(String),
    /// Any other status, e.g. a framework rejection such as 415.
    #[error("{1}")]
    Other(StatusCode, String),
    /// A fault of the server; the message is logged, the client gets a generic one.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A validation failure at `path`.
    pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Invalid(ValidationError::new(path, message))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Invalid(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) | ApiError::NotFoundAt(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::Other(status, _) => *status,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            ApiError::Invalid(_) => "invalid_request_error",
            ApiError::Unauthenticated(_) => "authentication_error",
            ApiError::Forbidden(_) => "permission_error",
            ApiError::NotFound(_) | ApiError::NotFoundAt(_) => "not_found_error",
            ApiError::Conflict(_) => "conflict_error",
            ApiError::TooLarge(_) => "request_too_large",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::Unavailable(_) => "service_unavailable",
            ApiError::InsufficientStorage(_) => "insufficient_storage",
            ApiError::Other(status, _) if status.is_server_error() => "server_error",
            ApiError::Other(..) => "invalid_request_error",
            ApiError::Internal(_) => "server_error",
        }
    }

    fn body(&self) -> ErrorBody {
        let (message, details) = match self {
            ApiError::Invalid(e) | ApiError::NotFoundAt(e) => (
                format!("{}: {}", e.path, e.message),
                Some(serde_json::json!({ "param": e.path })),
            ),
            ApiError::Internal(_) => ("the server failed to handle this request".to_string(), None),
            other => (other.to_string(), None),
        };
        ErrorBody {
            error: ErrorDetail {
                message,
                r#type: self.kind().to_string(),
                code: self.status().as_u16(),
                details,
            },
        }
    }
}

/// The error envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A sentence for humans; validation errors start with the field path.
    pub message: String,
    /// A stable category, e.g. `invalid_request_error` or `not_found_error`.
    pub r#type: String,
    /// The HTTP status code.
    pub code: u16,
    /// For validation errors and missing things a field names, `{"param": "<field path>"}`;
    /// otherwise `null`.
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(%cause, "request failed");
        }
        (self.status(), Json(self.body())).into_response()
    }
}

/// Rewrites error responses that did not come from [`ApiError`] (framework rejections such
/// as a malformed multipart boundary) into the error envelope, so every failure has one shape.
pub async fn envelope_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    // The web UI's pages (HTML) speak to people and keep their own error pages.
    let is_html = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || is_json || is_html {
        return response;
    }
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body).trim().to_string();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        text
    };
    let error = match status {
        StatusCode::BAD_REQUEST => ApiError::invalid("body", message),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(message),
        StatusCode::NOT_FOUND => ApiError::NotFound(message),
        StatusCode::INTERNAL_SERVER_ERROR => ApiError::Internal(message),
        other => ApiError::Other(other, message),
    };
    error.into_response()
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound("not found".into()),
            StoreError::InvalidCursor(id) => {
                ApiError::invalid("after", format!("{id} is not an id in this list"))
            }
            StoreError::Conflict(m) => ApiError::Conflict(m),
            other => match other.storage_fault() {
                Some(fault) => ApiError::from(fault),
                None => ApiError::Internal(other.to_string()),
            },
        }
    }
}

impl From<AdmissionError> for ApiError {
    fn from(e: AdmissionError) -> Self {
        match e {
            AdmissionError::Invalid(v) => ApiError::Invalid(v),
            AdmissionError::Corrupt(m) => ApiError::Internal(m),
            AdmissionError::Store(e) => e.into(),
        }
    }
}

impl From<StorageFault> for ApiError {
    /// 507 for a full disk, 503 for storage that is unreachable or failing; the cause is
    /// logged, the client gets a sentence it can act on.
    fn from(fault: StorageFault) -> Self {
        tracing::warn!(cause = %fault.cause, "request refused: storage is failing");
        match fault.kind {
            FaultKind::Full => ApiError::InsufficientStorage(format!(
                "{}; the request was not stored",
                fault.summary()
            )),
            FaultKind::Unavailable => ApiError::Unavailable(fault.summary()),
        }
    }
}

impl From<assay_engine::schedules::ScheduleError> for ApiError {
    fn from(e: assay_engine::schedules::ScheduleError) -> Self {
        use assay_engine::schedules::ScheduleError;
        match e {
            ScheduleError::Invalid(v) => ApiError::Invalid(v),
            ScheduleError::NotFound(m) => ApiError::NotFound(m),
            ScheduleError::Unavailable(m) => ApiError::Unavailable(m),
            ScheduleError::Corrupt(m) => ApiError::Internal(m),
            ScheduleError::Store(e) => e.into(),
        }
    }
}

impl From<assay_engine::historical::HistoricalImportError> for ApiError {
    fn from(e: assay_engine::historical::HistoricalImportError) -> Self {
        use assay_engine::historical::HistoricalImportError;
        match e {
            HistoricalImportError::Invalid(v) => ApiError::Invalid(v),
            HistoricalImportError::Unavailable(m) => ApiError::Unavailable(m),
            HistoricalImportError::Corrupt(m) => ApiError::Internal(m),
            HistoricalImportError::Store(e) => e.into(),
        }
    }
}
