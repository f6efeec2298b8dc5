//! Small helpers for writing SQL that both backends accept.

use sqlx::any::AnyRow;
use sqlx::Row;

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

/// Serializes a value for a JSON text column.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Serializing plain data (maps, strings, numbers) into a string cannot fail.
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_string())
}

/// The visibility rule for team-owned rows, appended to a WHERE clause.
///
/// A delegated caller (`X-On-Behalf-Of`) sees the team's undelegated rows and its own.
pub(crate) fn push_visible(sql: &mut Sql, table: &str) {
    sql.push(&format!("{table}.org_id = "));
    sql.param();
    sql.push(&format!(" AND {table}.team_id = "));
    sql.param();
    sql.push(" AND (");
    let user = sql.param();
    sql.push(&format!(
        " IS NULL OR {table}.user_id IS NULL OR {table}.user_id = {user})"
    ));
}
