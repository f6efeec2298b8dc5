//! Small helpers for writing SQL that both backends accept.

use assay_domain::Principal;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::{Backend, StoreError};

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
        let p = self.reserve();
        self.text.push_str(&p);
        p
    }

    /// Numbers the next placeholder without appending it, for an expression built around it
    /// (bound in numbering order like any other).
    pub fn reserve(&mut self) -> String {
        self.count += 1;
        format!("${}", self.count)
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

/// SQL reading the value at key `key` (a placeholder bound to the key's name) of the JSON
/// object in text column `column`, as text; NULL when the key is absent. Numbers come out in
/// each database's own spelling; use it for string fields.
pub(crate) fn json_text(backend: Backend, column: &str, key: &str) -> String {
    match backend {
        Backend::Sqlite => format!("json_extract({column}, '$.' || json_quote({key}))"),
        Backend::Postgres => format!("({column}::jsonb ->> {key})"),
    }
}

/// SQL reading the value at key `key` (a placeholder) of the JSON object in text column
/// `column` as a double: a JSON number as itself, `true` as 1 and `false` as 0 (as scores are
/// averaged), NULL otherwise (absent, text, null).
pub(crate) fn json_number(backend: Backend, column: &str, key: &str) -> String {
    match backend {
        Backend::Sqlite => {
            let path = format!("'$.' || json_quote({key})");
            format!(
                "(CASE json_type({column}, {path}) WHEN 'integer' THEN CAST(json_extract({column}, {path}) AS REAL) \
                 WHEN 'real' THEN json_extract({column}, {path}) WHEN 'true' THEN 1.0 WHEN 'false' THEN 0.0 END)"
            )
        }
        Backend::Postgres => format!(
            "(CASE jsonb_typeof({column}::jsonb -> {key}) WHEN 'number' THEN ({column}::jsonb ->> {key})::double precision \
             WHEN 'boolean' THEN CASE WHEN ({column}::jsonb ->> {key}) = 'true' THEN 1.0 ELSE 0.0 END END)"
        ),
    }
}

/// SQL true when the JSON array of strings in text column `column` holds the string bound
/// to placeholder `value`.
pub(crate) fn json_array_has(backend: Backend, column: &str, value: &str) -> String {
    match backend {
        Backend::Sqlite => {
            format!("EXISTS (SELECT 1 FROM json_each({column}) WHERE json_each.value = {value})")
        }
        Backend::Postgres => format!("({column}::jsonb ? {value})"),
    }
}

/// A `LIKE` pattern matching text that contains `needle` anywhere, with `\` as the escape.
pub(crate) fn contains_pattern(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}
