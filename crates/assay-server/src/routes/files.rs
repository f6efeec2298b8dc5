//! The Files API: upload, list, get, download, delete.

use assay_domain::api::{
    content_type_for, FileDeletionStatus, FileObject, FilePurpose, ListObject, Order,
};
use assay_domain::ids;
use assay_store::{FileFilter, NewFile, PutError};
use axum::body::Body;
use axum::extract::{Multipart, Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::{StreamExt, TryStreamExt};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{page, QueryParams};
use crate::AppState;

/// Longest accepted file name, in bytes.
const MAX_FILENAME_BYTES: usize = 1024;
/// Longest accepted value of a small multipart text field such as `purpose`.
const MAX_FIELD_BYTES: usize = 1024;

/// The multipart form of an upload.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadFileForm {
    /// The file; its part must carry a non-blank filename (`blob` counts as missing).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// `assistants`, `batch`, `fine-tune`, `vision`, `user_data` or `evals`.
    purpose: FilePurpose,
}

/// A file's raw content, whatever its type.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct FileBytes(#[allow(dead_code)] Vec<u8>);

/// The content of a JSON file: any JSON value.
#[derive(ToSchema)]
#[schema(value_type = Object)]
pub struct AnyJson(#[allow(dead_code)] serde_json::Value);

/// Upload a file (multipart: `file` and `purpose`). The content is streamed to blob storage.
#[utoipa::path(post, path = "/api/v1/llm/files", tag = "files",
    request_body(content = UploadFileForm, content_type = "multipart/form-data"),
    responses((status = 200, body = FileObject), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 503, description = "the database or object store is unreachable", body = ErrorBody), (status = 507, description = "insufficient_storage: the data directory is full", body = ErrorBody)),
    security(("bearer_auth" = [])))]
pub async fn upload_file(
    State(state): State<AppState>,
    Caller(caller): Caller,
    mut multipart: Multipart,
) -> Result<Json<FileObject>, ApiError> {
    let id = ids::new_id(ids::FILE);
    let blob_key = format!("files/{id}");
    let mut stored: Option<(String, assay_store::PutOutcome)> = None;
    let mut purpose_raw: Option<String> = None;
    let result: Result<(), ApiError> = async {
        while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
            match field.name() {
                Some("file") => {
                    if stored.is_some() {
                        return Err(ApiError::invalid("file", "send exactly one file part"));
                    }
                    let filename = field.file_name().map(str::trim).unwrap_or("").to_string();
                    if filename.is_empty() || filename == "blob" {
                        return Err(ApiError::invalid("file", "the file part needs a filename"));
                    }
                    if filename.len() > MAX_FILENAME_BYTES {
                        return Err(ApiError::invalid(
                            "file",
                            format!("the filename must be at most {MAX_FILENAME_BYTES} bytes"),
                        ));
                    }
                    let outcome = state
                        .store
                        .blobs()
                        .put_stream(&blob_key, field, state.config.max_upload_bytes)
                        .await
                        .map_err(|e| match e {
                            PutError::TooLarge { limit } => ApiError::TooLarge(format!(
                                "the file exceeds the upload limit of {limit} bytes"
                            )),
                            PutError::Source(e) => multipart_error(e),
                            e @ PutError::Blob(_) => match e.storage_fault() {
                                Some(fault) => ApiError::from(fault),
                                None => ApiError::Internal(format!("storing upload: {e}")),
                            },
                        })?;
                    stored = Some((filename, outcome));
                }
                Some("purpose") => {
                    let mut field = field;
                    let mut raw = Vec::new();
                    while let Some(chunk) = field.try_next().await.map_err(multipart_error)? {
                        raw.extend_from_slice(&chunk);
                        if raw.len() > MAX_FIELD_BYTES {
                            return Err(ApiError::invalid("purpose", "is too long"));
                        }
                    }
                    purpose_raw = Some(String::from_utf8_lossy(&raw).trim().to_string());
                }
                _ => {
                    // Unknown parts are read and ignored.
                    let mut field = field;
                    while field
                        .next()
                        .await
                        .transpose()
                        .map_err(multipart_error)?
                        .is_some()
                    {}
                }
            }
        }
        Ok(())
    }
    .await;
    let outcome = (|| {
        result?;
        let purpose_raw = purpose_raw.ok_or_else(|| ApiError::invalid("purpose", "is required"))?;
        let purpose = FilePurpose::parse(&purpose_raw).ok_or_else(|| {
            ApiError::invalid(
                "purpose",
                "must be one of assistants, batch, fine-tune, vision, user_data, evals",
            )
        })?;
        let (filename, put) = stored
            .clone()
            .ok_or_else(|| ApiError::invalid("file", "is required"))?;
        Ok((purpose, filename, put))
    })();
    let (purpose, filename, put) = match outcome {
        Ok(v) => v,
        Err(e) => {
            if stored.is_some() {
                discard(&state, &blob_key).await;
            }
            return Err(e);
        }
    };
    let file = NewFile {
        id: id.clone(),
        content_type: content_type_for(&filename).to_string(),
        filename,
        purpose,
        bytes: put.bytes as i64,
        sha256: put.sha256,
        blob_key: blob_key.clone(),
    };
    match state.store.insert_file(&caller, &file).await {
        Ok(stored) => Ok(Json(stored.object)),
        Err(e) => {
            discard(&state, &blob_key).await;
            Err(e.into())
        }
    }
}

async fn discard(state: &AppState, blob_key: &str) {
    if let Err(e) = state.store.blobs().delete(blob_key).await {
        tracing::warn!(blob_key, error = %e, "could not discard a rejected upload");
    }
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::TooLarge("the upload exceeds the size limit".into())
    } else {
        ApiError::invalid(
            "body",
            format!("malformed multipart body: {}", e.body_text()),
        )
    }
}

/// Query of `GET /files`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListFilesQuery {
    /// A file id: list the files after it.
    after: Option<String>,
    /// Page size, 1 to 10000 (default 10000).
    #[param(minimum = 1, maximum = 10000)]
    limit: Option<i64>,
    /// `asc` or `desc` by creation time (default `desc`).
    order: Option<Order>,
    /// Only files with this purpose.
    purpose: Option<FilePurpose>,
    /// Only files whose content has this SHA-256 (64 hex digits).
    #[param(pattern = "^[0-9a-fA-F]{64}$")]
    sha256: Option<String>,
}

/// List the caller's files.
#[utoipa::path(get, path = "/api/v1/llm/files", tag = "files", params(ListFilesQuery),
    responses((status = 200, body = ListObject<FileObject>), (status = 400, body = ErrorBody)),
    security(("bearer_auth" = [])))]
pub async fn list_files(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(q): QueryParams<ListFilesQuery>,
) -> Result<Json<ListObject<FileObject>>, ApiError> {
    let page = page(q.after, q.limit, 10_000, 10_000)?;
    if let Some(sha) = &q.sha256 {
        if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ApiError::invalid("sha256", "must be 64 hex digits"));
        }
    }
    let filter = FileFilter {
        purpose: q.purpose,
        sha256: q.sha256,
        order: q.order.unwrap_or_default(),
    };
    let (data, has_more) = state.store.list_files(&caller, &filter, &page).await?;
    Ok(Json(ListObject::new(data, has_more)))
}

/// Get a file's metadata.
#[utoipa::path(get, path = "/api/v1/llm/files/{file_id}", tag = "files",
    params(("file_id" = String, Path)),
    responses((status = 200, body = FileObject), (status = 404, body = ErrorBody)),
    security(("bearer_auth" = [])))]
pub async fn get_file(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(file_id): Path<String>,
) -> Result<Json<FileObject>, ApiError> {
    let file = state
        .store
        .get_file(&caller, &file_id)
        .await
        .map_err(not_found(&file_id))?;
    Ok(Json(file.object))
}

/// Delete a file.
#[utoipa::path(delete, path = "/api/v1/llm/files/{file_id}", tag = "files",
    params(("file_id" = String, Path)),
    responses((status = 200, body = FileDeletionStatus), (status = 404, body = ErrorBody), (status = 503, description = "the database or object store is unreachable", body = ErrorBody), (status = 507, description = "insufficient_storage: the data directory is full", body = ErrorBody)),
    security(("bearer_auth" = [])))]
pub async fn delete_file(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(file_id): Path<String>,
) -> Result<Json<FileDeletionStatus>, ApiError> {
    state
        .store
        .delete_file(&caller, &file_id)
        .await
        .map_err(not_found(&file_id))?;
    Ok(Json(FileDeletionStatus {
        id: file_id,
        object: "file".into(),
        deleted: true,
    }))
}

/// Download a file's content, served with the content type of its kind.
#[utoipa::path(get, path = "/api/v1/llm/files/{file_id}/content", tag = "files",
    params(("file_id" = String, Path)),
    responses((status = 200, description = "The raw bytes, served with the content type of the file's kind (e.g. application/jsonl, text/csv, text/x-python)",
            content((FileBytes = "application/jsonl"), (FileBytes = "text/csv"), (FileBytes = "text/x-python"), (AnyJson = "application/json"), (FileBytes = "text/plain"), (FileBytes = "*/*"))),
        (status = 404, body = ErrorBody)),
    security(("bearer_auth" = [])))]
pub async fn get_file_content(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(file_id): Path<String>,
) -> Result<Response, ApiError> {
    let file = state
        .store
        .get_file(&caller, &file_id)
        .await
        .map_err(not_found(&file_id))?;
    let stream = state.store.blobs().get_stream(&file.blob_key).await?;
    let disposition = file.content_disposition();
    Ok((
        [
            (header::CONTENT_TYPE, file.content_type),
            (header::CONTENT_LENGTH, file.object.bytes.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

fn not_found(id: &str) -> impl FnOnce(assay_store::StoreError) -> ApiError + '_ {
    move |e| match e {
        assay_store::StoreError::NotFound => ApiError::NotFound(format!("no file with id {id}")),
        other => other.into(),
    }
}
