//! Suite shares: read-only grants of a suite, its versions and its runs to another org.
//!
//! Granting and revoking act on a suite the caller owns; a suite reached only through a share
//! is missing here, so a recipient can neither see nor change who else holds a grant.

use assay_domain::api::{ShareObject, MAX_SHARES_PER_SUITE};
use assay_domain::{ids, now_unix, Principal};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::{Store, StoreError};

/// Why a share could not be granted.
#[derive(Debug, thiserror::Error)]
pub enum ShareError {
    /// The suite does not exist or the caller does not own it.
    #[error("no such suite")]
    NoSuite,
    /// The recipient is the org that owns the suite.
    #[error("a suite cannot be shared with the org that owns it")]
    OwningOrg,
    /// No API key belongs to the recipient org: it does not exist on this server.
    #[error("no org with id {0} exists on this server")]
    UnknownOrg(String),
    /// The suite already has the most grants allowed.
    #[error("the suite is already shared with {MAX_SHARES_PER_SUITE} orgs, the most allowed")]
    Full,
    #[error(transparent)]
    Store(#[from] StoreError),
}

const SHARE_COLUMNS: &str = "id, suite_id, org_id, granted_by, created_at";

fn read_share(row: &AnyRow) -> Result<ShareObject, StoreError> {
    Ok(ShareObject {
        id: row.try_get("id")?,
        object: "eval.suite.share".into(),
        suite_id: row.try_get("suite_id")?,
        org_id: row.try_get("org_id")?,
        granted_by: row.try_get("granted_by")?,
        created_at: row.try_get("created_at")?,
    })
}

async fn share_of(
    conn: &mut AnyConnection,
    suite_id: &str,
    org_id: &str,
) -> Result<Option<ShareObject>, StoreError> {
    sqlx::query(&format!(
        "SELECT {SHARE_COLUMNS} FROM suite_shares WHERE suite_id = $1 AND org_id = $2"
    ))
    .bind(suite_id)
    .bind(org_id)
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(read_share)
    .transpose()
}

impl Store {
    /// Every share of a suite the caller owns, oldest first.
    pub async fn list_shares(
        &self,
        caller: &Principal,
        suite_id: &str,
    ) -> Result<Vec<ShareObject>, StoreError> {
        self.get_suite(caller, suite_id).await?;
        let rows = sqlx::query(&format!(
            "SELECT {SHARE_COLUMNS} FROM suite_shares WHERE suite_id = $1 ORDER BY seq"
        ))
        .bind(suite_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(read_share).collect()
    }

    /// Shares a suite the caller owns with `org_id`; sharing again returns the existing grant.
    pub async fn create_share(
        &self,
        caller: &Principal,
        suite_id: &str,
        org_id: &str,
    ) -> Result<ShareObject, ShareError> {
        let suite = match self.get_suite(caller, suite_id).await {
            Ok(s) => s,
            Err(StoreError::NotFound) => return Err(ShareError::NoSuite),
            Err(e) => return Err(e.into()),
        };
        if suite.org_id == org_id {
            return Err(ShareError::OwningOrg);
        }
        let known = sqlx::query(
            "SELECT 1 AS one FROM api_keys WHERE org_id = $1 AND revoked_at IS NULL LIMIT 1",
        )
        .bind(org_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::from)?;
        if known.is_none() {
            return Err(ShareError::UnknownOrg(org_id.to_string()));
        }
        let share = ShareObject {
            id: ids::new_id(ids::SHARE),
            object: "eval.suite.share".into(),
            suite_id: suite_id.to_string(),
            org_id: org_id.to_string(),
            granted_by: caller.key_id.clone(),
            created_at: now_unix(),
        };
        let outcome = self
            .in_transaction(async |conn| {
                // Taking the suite row's write lock first serializes grants of one suite, so
                // the count below cannot be raced past the limit.
                sqlx::query("UPDATE suites SET name = name WHERE id = $1")
                    .bind(suite_id)
                    .execute(&mut *conn)
                    .await?;
                if let Some(existing) = share_of(conn, suite_id, org_id).await? {
                    return Ok(Ok(existing));
                }
                let count: i64 =
                    sqlx::query("SELECT COUNT(*) AS n FROM suite_shares WHERE suite_id = $1")
                        .bind(suite_id)
                        .fetch_one(&mut *conn)
                        .await?
                        .try_get("n")?;
                if count >= MAX_SHARES_PER_SUITE {
                    return Ok(Err(ShareError::Full));
                }
                sqlx::query(
                    "INSERT INTO suite_shares (id, suite_id, org_id, granted_by, created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&share.id)
                .bind(&share.suite_id)
                .bind(&share.org_id)
                .bind(&share.granted_by)
                .bind(share.created_at)
                .execute(&mut *conn)
                .await?;
                Ok(Ok(share.clone()))
            })
            .await?;
        outcome
    }

    /// Revokes `org_id`'s share of a suite the caller owns; returns the revoked share's id.
    /// `NotFound` when the suite is not the caller's or holds no share for that org.
    pub async fn delete_share(
        &self,
        caller: &Principal,
        suite_id: &str,
        org_id: &str,
    ) -> Result<String, StoreError> {
        self.get_suite(caller, suite_id).await?;
        self.in_transaction(async |conn| {
            let share = share_of(conn, suite_id, org_id)
                .await?
                .ok_or(StoreError::NotFound)?;
            sqlx::query("DELETE FROM suite_shares WHERE id = $1")
                .bind(&share.id)
                .execute(&mut *conn)
                .await?;
            Ok(share.id)
        })
        .await
    }
}
