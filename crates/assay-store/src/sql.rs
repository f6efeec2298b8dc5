//! Small helpers for writing SQL that both backends accept.

use assay_domain::Principal;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::StoreError;

/// Builds a statement with `$1, $2, …` placeholders, numbering parameters as they are added.
#[derive(Default)]
pub(crate) struct Sql {
    pub text: String,
    count: usize,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_string(),
            count: 0,
        }
    }

    /// Appends text.
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends the next placeholder and returns it (to reuse it in the same statement).
    pub fn param(&mut self) -> String {
        self.count += 1;
        let p = format!("${}", self.count);
        self.text.push_str(&p);
        p
    }
}

/// Reads a JSON text column.
pub(crate) fn json_col<T: serde::de::DeserializeOwned>(
    row: &AnyRow,
    column: &str,
) -> Result<T, StoreError> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

/// Reads a nullable JSON text column (`NULL` is `None`).
pub(crate) fn opt_json_col<T: serde::de::DeserializeOwned>(
    row: &AnyRow,
    column: &str,
) -> Result<Option<T>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
    })
    .transpose()
}

/// Serializes a value for a JSON text column.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Serializing plain data (maps, strings, numbers) into a string cannot fail.
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_string())
}

/// Which rows a request may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Rows the caller's team owns: every write, and reads with `owned_only=true`.
    Owned,
    /// Also the rows of suites shared with the caller's org (suites, their versions and runs),
    /// read-only.
    Shared,
}

/// The visibility rule for team-owned rows, appended to a WHERE clause; returns the
/// placeholder bound to the caller's org.
///
/// A delegated caller (`X-On-Behalf-Of`) sees the team's undelegated rows and its own.
pub(crate) fn push_visible(sql: &mut Sql, table: &str) -> String {
    sql.push(&format!("{table}.org_id = "));
    let org = sql.param();
    sql.push(&format!(" AND {table}.team_id = "));
    sql.param();
    sql.push(" AND (");
    let user = sql.param();
    sql.push(&format!(
        " IS NULL OR {table}.user_id IS NULL OR {table}.user_id = {user})"
    ));
    org
}

/// [`push_visible`], widened by `reach` to suites shared with the caller's org. `table` is
/// `suites` or a table with a `suite_id` column (`runs`). Binds like [`push_visible`].
pub(crate) fn push_reach(sql: &mut Sql, table: &str, reach: Reach) {
    if reach == Reach::Owned {
        push_visible(sql, table);
        return;
    }
    let suite = if table == "suites" {
        "suites.id".to_string()
    } else {
        format!("{table}.suite_id")
    };
    sql.push("((");
    let org = push_visible(sql, table);
    sql.push(&format!(
        ") OR {suite} IN (SELECT suite_shares.suite_id FROM suite_shares WHERE suite_shares.org_id = {org}))"
    ));
}

/// A statement being bound, over the `Any` driver.
pub(crate) type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Binds the caller's parameters in the order [`push_visible`] numbered them.
pub(crate) fn bind_visible<'q>(query: AnyQuery<'q>, caller: &'q Principal) -> AnyQuery<'q> {
    query
        .bind(&caller.org_id)
        .bind(&caller.team_id)
        .bind(&caller.user_id)
}

/// The live row `id` of `table` that the caller owns, with the given columns.
pub(crate) async fn fetch_visible(
    pool: &AnyPool,
    table: &str,
    columns: &str,
    caller: &Principal,
    id: &str,
) -> Result<AnyRow, StoreError> {
    fetch_reachable(pool, table, columns, caller, id, Reach::Owned).await
}

/// The live row `id` of `table` within the caller's `reach`, with the given columns.
pub(crate) async fn fetch_reachable(
    pool: &AnyPool,
    table: &str,
    columns: &str,
    caller: &Principal,
    id: &str,
    reach: Reach,
) -> Result<AnyRow, StoreError> {
    let mut sql = Sql::new(&format!(
        "SELECT {columns} FROM {table} WHERE {table}.id = "
    ));
    sql.param();
    sql.push(&format!(" AND {table}.deleted_at IS NULL AND "));
    push_reach(&mut sql, table, reach);
    bind_visible(sqlx::query(&sql.text).bind(id), caller)
        .fetch_optional(pool)
        .await?
        .ok_or(StoreError::NotFound)
}

/// The `seq` of the row an `after` cursor names; the row must be within the caller's reach.
pub(crate) async fn cursor_seq(
    pool: &AnyPool,
    table: &str,
    caller: &Principal,
    after: Option<&String>,
    reach: Reach,
) -> Result<Option<i64>, StoreError> {
    let Some(id) = after else { return Ok(None) };
    let mut sql = Sql::new(&format!(
        "SELECT {table}.seq FROM {table} WHERE {table}.id = "
    ));
    sql.param();
    sql.push(" AND ");
    push_reach(&mut sql, table, reach);
    let row = bind_visible(sqlx::query(&sql.text).bind(id), caller)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| StoreError::InvalidCursor(id.clone()))?;
    Ok(Some(row.try_get("seq")?))
}

/// Reads a page fetched with `LIMIT limit + 1`: the first `limit` rows and whether more follow.
pub(crate) fn into_page<T>(
    rows: Vec<AnyRow>,
    limit: i64,
    read: impl Fn(&AnyRow) -> Result<T, StoreError>,
) -> Result<(Vec<T>, bool), StoreError> {
    let has_more = rows.len() as i64 > limit;
    let items = rows
        .iter()
        .take(limit.max(0) as usize)
        .map(read)
        .collect::<Result<_, _>>()?;
    Ok((items, has_more))
}
