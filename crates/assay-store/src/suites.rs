//! Suites and their immutable versions.

use assay_domain::api::{Metadata, PageRequest, SuiteAccess, SuiteObject, SuiteVersionObject};
use assay_domain::{ids, now_unix, Principal};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::sql::{
    bind_visible, cursor_seq, fetch_reachable, into_page, json_col, push_reach, push_visible,
    to_json, Reach, Sql,
};
use crate::{Store, StoreError};

/// The suite-level fields of a new suite.
#[derive(Debug, Clone)]
pub struct NewSuite {
    pub name: String,
    pub description: Option<String>,
    pub metadata: Metadata,
}

/// A validated manifest about to become a version.
#[derive(Debug, Clone)]
pub struct NewVersion {
    /// The manifest exactly as the client sent it.
    pub manifest: serde_json::Value,
    /// Every file id the manifest references, in order of first appearance.
    pub dataset_file_ids: Vec<String>,
    pub metadata: Metadata,
}

const SUITE_COLUMNS: &str = "suites.id, suites.org_id, suites.team_id, suites.user_id, suites.name, suites.description, \
     suites.metadata, suites.active_version, suites.latest_version, suites.created_at, suites.updated_at";

const VERSION_COLUMNS: &str = "suite_versions.id, suite_versions.suite_id, suite_versions.version, \
     suite_versions.manifest, suite_versions.dataset_file_ids, suite_versions.metadata, suite_versions.created_at";

fn read_suite(caller: &Principal, row: &AnyRow) -> Result<SuiteObject, StoreError> {
    let org: String = row.try_get("org_id")?;
    let team: String = row.try_get("team_id")?;
    let user: Option<String> = row.try_get("user_id")?;
    let access = if caller.owns(&org, &team, user.as_deref()) {
        SuiteAccess::Owner
    } else {
        SuiteAccess::Shared
    };
    Ok(SuiteObject {
        id: row.try_get("id")?,
        object: "eval.suite".into(),
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        org_id: org,
        team_id: team,
        access,
        active_version: row.try_get("active_version")?,
        latest_version: row.try_get("latest_version")?,
        metadata: json_col(row, "metadata")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn read_version(row: &AnyRow) -> Result<SuiteVersionObject, StoreError> {
    Ok(SuiteVersionObject {
        id: row.try_get("id")?,
        object: "eval.suite.version".into(),
        suite_id: row.try_get("suite_id")?,
        version: row.try_get("version")?,
        manifest: json_col(row, "manifest")?,
        dataset_file_ids: json_col(row, "dataset_file_ids")?,
        metadata: json_col(row, "metadata")?,
        created_at: row.try_get("created_at")?,
    })
}

async fn insert_version(
    conn: &mut AnyConnection,
    suite_id: &str,
    number: i64,
    version: &NewVersion,
    created_at: i64,
) -> Result<SuiteVersionObject, StoreError> {
    let object = SuiteVersionObject {
        id: ids::new_id(ids::SUITE_VERSION),
        object: "eval.suite.version".into(),
        suite_id: suite_id.to_string(),
        version: number,
        manifest: version.manifest.clone(),
        dataset_file_ids: version.dataset_file_ids.clone(),
        metadata: version.metadata.clone(),
        created_at,
    };
    sqlx::query(
        "INSERT INTO suite_versions (id, suite_id, version, manifest, dataset_file_ids, metadata, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&object.id)
    .bind(suite_id)
    .bind(number)
    .bind(to_json(&object.manifest))
    .bind(to_json(&object.dataset_file_ids))
    .bind(to_json(&object.metadata))
    .bind(created_at)
    .execute(&mut *conn)
    .await?;
    Ok(object)
}

impl Store {
    /// Creates a suite owned by the caller, with `version` as its active version 1.
    pub async fn create_suite(
        &self,
        owner: &Principal,
        suite: &NewSuite,
        version: &NewVersion,
    ) -> Result<SuiteObject, StoreError> {
        let id = ids::new_id(ids::SUITE);
        let now = now_unix();
        self.in_transaction(async |conn| {
            sqlx::query(
                "INSERT INTO suites (id, org_id, team_id, user_id, name, description, metadata, \
             active_version, latest_version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 1, 1, $8, $8)",
            )
            .bind(&id)
            .bind(&owner.org_id)
            .bind(&owner.team_id)
            .bind(&owner.user_id)
            .bind(&suite.name)
            .bind(&suite.description)
            .bind(to_json(&suite.metadata))
            .bind(now)
            .execute(&mut *conn)
            .await?;
            insert_version(conn, &id, 1, version, now).await?;
            Ok(())
        })
        .await?;
        self.get_suite(owner, &id).await
    }

    /// A live suite the caller owns (what every write through a suite starts from: a suite
    /// reached only through a share is missing here).
    pub async fn get_suite(&self, caller: &Principal, id: &str) -> Result<SuiteObject, StoreError> {
        self.find_suite(caller, id, Reach::Owned).await
    }

    /// A live suite within the caller's reach.
    pub async fn find_suite(
        &self,
        caller: &Principal,
        id: &str,
        reach: Reach,
    ) -> Result<SuiteObject, StoreError> {
        let row = fetch_reachable(&self.pool, "suites", SUITE_COLUMNS, caller, id, reach).await?;
        read_suite(caller, &row)
    }

    /// The caller's newest live suite named exactly `name`, if any.
    pub async fn newest_owned_suite_named(
        &self,
        caller: &Principal,
        name: &str,
    ) -> Result<Option<SuiteObject>, StoreError> {
        let mut sql = Sql::new(&format!(
            "SELECT {SUITE_COLUMNS} FROM suites WHERE suites.deleted_at IS NULL AND suites.name = "
        ));
        sql.param();
        sql.push(" AND ");
        push_reach(&mut sql, "suites", Reach::Owned);
        sql.push(" ORDER BY suites.seq DESC LIMIT 1");
        let row = bind_visible(sqlx::query(&sql.text).bind(name), caller)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(|r| read_suite(caller, r)).transpose()
    }

    /// A page of the suites within the caller's reach, newest first.
    pub async fn list_suites(
        &self,
        caller: &Principal,
        reach: Reach,
        page: &PageRequest,
    ) -> Result<(Vec<SuiteObject>, bool), StoreError> {
        let cursor = cursor_seq(&self.pool, "suites", caller, page.after.as_ref(), reach).await?;
        let mut sql = Sql::new(&format!(
            "SELECT {SUITE_COLUMNS} FROM suites WHERE suites.deleted_at IS NULL AND "
        ));
        push_reach(&mut sql, "suites", reach);
        if cursor.is_some() {
            sql.push(" AND suites.seq < ");
            sql.param();
        }
        sql.push(" ORDER BY suites.seq DESC LIMIT ");
        sql.param();
        let mut query = bind_visible(sqlx::query(&sql.text), caller);
        if let Some(seq) = cursor {
            query = query.bind(seq);
        }
        let rows = query.bind(page.limit + 1).fetch_all(&self.pool).await?;
        into_page(rows, page.limit, |row| read_suite(caller, row))
    }

    /// Soft-deletes a suite the caller owns, with its runs; returns how many runs went with it.
    pub async fn delete_suite(&self, caller: &Principal, id: &str) -> Result<i64, StoreError> {
        let mut sql = Sql::new("UPDATE suites SET deleted_at = ");
        sql.param();
        sql.push(" WHERE suites.id = ");
        sql.param();
        sql.push(" AND suites.deleted_at IS NULL AND ");
        push_visible(&mut sql, "suites");
        self.in_transaction(async |conn| {
            let done = bind_visible(sqlx::query(&sql.text).bind(now_unix()).bind(id), caller)
                .execute(&mut *conn)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            let runs = sqlx::query(
                "UPDATE runs SET deleted_at = $1 WHERE suite_id = $2 AND deleted_at IS NULL",
            )
            .bind(now_unix())
            .bind(id)
            .execute(&mut *conn)
            .await?;
            Ok(runs.rows_affected() as i64)
        })
        .await
    }

    /// Adds the next version to a suite the caller owns, optionally making it active.
    pub async fn create_suite_version(
        &self,
        caller: &Principal,
        suite_id: &str,
        version: &NewVersion,
        make_active: bool,
    ) -> Result<SuiteVersionObject, StoreError> {
        let now = now_unix();
        self.in_transaction(async |conn| {
            // Bump the counter first: the write takes the row (Postgres) or database (SQLite)
            // lock, so concurrent creators get consecutive numbers.
            let mut sql =
                Sql::new("UPDATE suites SET latest_version = latest_version + 1, updated_at = ");
            sql.param();
            sql.push(", active_version = CASE WHEN ");
            sql.param();
            sql.push(" THEN latest_version + 1 ELSE active_version END WHERE suites.id = ");
            sql.param();
            sql.push(" AND suites.deleted_at IS NULL AND ");
            push_visible(&mut sql, "suites");
            sql.push(" RETURNING latest_version");
            let row = bind_visible(
                sqlx::query(&sql.text)
                    .bind(now)
                    .bind(make_active)
                    .bind(suite_id),
                caller,
            )
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(StoreError::NotFound)?;
            let number: i64 = row.try_get("latest_version")?;
            insert_version(conn, suite_id, number, version, now).await
        })
        .await
    }

    /// A page of the versions of a suite within the caller's reach (owned or shared), in
    /// version order.
    pub async fn list_suite_versions(
        &self,
        caller: &Principal,
        suite_id: &str,
        page: &PageRequest,
    ) -> Result<(Vec<SuiteVersionObject>, bool), StoreError> {
        self.find_suite(caller, suite_id, Reach::Shared).await?;
        let cursor = match &page.after {
            Some(after) => {
                let row = sqlx::query(
                    "SELECT version FROM suite_versions WHERE id = $1 AND suite_id = $2",
                )
                .bind(after)
                .bind(suite_id)
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| StoreError::InvalidCursor(after.clone()))?;
                Some(row.try_get::<i64, _>("version")?)
            }
            None => None,
        };
        let mut sql = Sql::new(&format!(
            "SELECT {VERSION_COLUMNS} FROM suite_versions WHERE suite_versions.suite_id = "
        ));
        sql.param();
        if cursor.is_some() {
            sql.push(" AND suite_versions.version > ");
            sql.param();
        }
        sql.push(" ORDER BY suite_versions.version ASC LIMIT ");
        sql.param();
        let mut query = sqlx::query(&sql.text).bind(suite_id);
        if let Some(v) = cursor {
            query = query.bind(v);
        }
        let rows = query.bind(page.limit + 1).fetch_all(&self.pool).await?;
        into_page(rows, page.limit, read_version)
    }

    /// One version of a suite within the caller's reach (owned or shared).
    pub async fn get_suite_version(
        &self,
        caller: &Principal,
        suite_id: &str,
        version: i64,
    ) -> Result<SuiteVersionObject, StoreError> {
        self.find_suite(caller, suite_id, Reach::Shared).await?;
        let row = sqlx::query(&format!(
            "SELECT {VERSION_COLUMNS} FROM suite_versions WHERE suite_id = $1 AND version = $2"
        ))
        .bind(suite_id)
        .bind(version)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        read_version(&row)
    }

    /// The manifest of a version by its id, for executors (no tenancy check).
    pub async fn suite_version_manifest(
        &self,
        version_id: &str,
    ) -> Result<serde_json::Value, StoreError> {
        let row = sqlx::query("SELECT manifest FROM suite_versions WHERE id = $1")
            .bind(version_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        json_col(&row, "manifest")
    }
}
