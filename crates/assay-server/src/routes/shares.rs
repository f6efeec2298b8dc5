//! Suite shares: grant another org read-only access to a suite, list and revoke grants.
//!
//! Managing grants belongs to the owning team acting directly: a delegated caller
//! (`X-On-Behalf-Of`) is refused with 403 on all three routes, granting and revoking also need
//! an org admin key, and a recipient org gets 404 as for any suite it does not own.

use assay_domain::api::{CreateShareRequest, ShareDeletedObject, ShareList, ShareObject};
use assay_domain::{Principal, ValidationError};
use assay_store::{ShareError, StoreError};
use axum::extract::{Path, State};
use axum::Json;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::JsonBody;
use crate::routes::suites::suite_not_found;
use crate::AppState;

/// Refuses a delegated caller, and (when `admin`) a key without org admin rights.
fn check_manager(caller: &Principal, admin: bool) -> Result<(), ApiError> {
    if caller.is_delegated() {
        return Err(ApiError::Forbidden(
            "suite shares cannot be managed on behalf of an end user (X-On-Behalf-Of)".into(),
        ));
    }
    if admin && !caller.is_admin {
        return Err(ApiError::Forbidden(
            "only an org admin key may share or unshare a suite".into(),
        ));
    }
    Ok(())
}

/// List the orgs a suite is shared with (complete, unpaged).
#[utoipa::path(get, path = "/api/v1/llm/evals/suites/{suite_id}/shares", tag = "suites",
    params(("suite_id" = String, Path)),
    responses((status = 200, body = ShareList), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer_auth" = [])))]
pub async fn list_suite_shares(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(suite_id): Path<String>,
) -> Result<Json<ShareList>, ApiError> {
    check_manager(&caller, false)?;
    let data = state
        .store
        .list_shares(&caller, &suite_id)
        .await
        .map_err(suite_not_found(&suite_id))?;
    Ok(Json(ShareList {
        object: "list".into(),
        data,
    }))
}

/// Share a suite, its versions and its runs read-only with another org (org admins only;
/// sharing again with the same org returns the existing grant).
#[utoipa::path(post, path = "/api/v1/llm/evals/suites/{suite_id}/shares", tag = "suites",
    params(("suite_id" = String, Path)),
    request_body = CreateShareRequest,
    responses((status = 200, body = ShareObject), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "the suite already has the most shares allowed (100)", body = ErrorBody), (status = 503, description = "the database or object store is unreachable", body = ErrorBody), (status = 507, description = "insufficient_storage: the data directory is full", body = ErrorBody)),
    security(("bearer_auth" = [])))]
pub async fn create_suite_share(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(suite_id): Path<String>,
    JsonBody(req): JsonBody<CreateShareRequest>,
) -> Result<Json<ShareObject>, ApiError> {
    check_manager(&caller, true)?;
    req.validate()?;
    let share = state
        .store
        .create_share(&caller, &suite_id, &req.org_id)
        .await
        .map_err(|e| match e {
            ShareError::NoSuite => suite_not_found(&suite_id)(StoreError::NotFound),
            ShareError::OwningOrg => ApiError::invalid("org_id", e.to_string()),
            ShareError::UnknownOrg(_) => {
                ApiError::NotFoundAt(ValidationError::new("org_id", e.to_string()))
            }
            ShareError::Full => ApiError::Conflict(e.to_string()),
            ShareError::Store(e) => e.into(),
        })?;
    Ok(Json(share))
}

/// Revoke an org's read access to a suite (org admins only); effective at once.
#[utoipa::path(delete, path = "/api/v1/llm/evals/suites/{suite_id}/shares/{org_id}", tag = "suites",
    params(("suite_id" = String, Path), ("org_id" = String, Path, description = "the recipient org (not the share id)")),
    responses((status = 200, body = ShareDeletedObject), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, description = "the database or object store is unreachable", body = ErrorBody), (status = 507, description = "insufficient_storage: the data directory is full", body = ErrorBody)),
    security(("bearer_auth" = [])))]
pub async fn delete_suite_share(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((suite_id, org_id)): Path<(String, String)>,
) -> Result<Json<ShareDeletedObject>, ApiError> {
    check_manager(&caller, true)?;
    let id = match state.store.delete_share(&caller, &suite_id, &org_id).await {
        Ok(id) => id,
        Err(StoreError::NotFound) => {
            // Either the suite is not the caller's, or it holds no share for that org.
            state
                .store
                .get_suite(&caller, &suite_id)
                .await
                .map_err(suite_not_found(&suite_id))?;
            return Err(ApiError::NotFound(format!(
                "suite {suite_id} is not shared with org {org_id}"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Json(ShareDeletedObject {
        id,
        object: "eval.suite.share.deleted".into(),
        deleted: true,
    }))
}
