//! Web UI sessions: a sign-in with an API key opens one, and its random token (the cookie)
//! stands for that key until the session expires, is closed, or the key is revoked. The
//! database keeps only the token's SHA-256; each session also carries the CSRF token its
//! state-changing forms must echo.

use rand::distr::{Alphanumeric, SampleString};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::keys::ApiKeyRecord;
use crate::{Store, StoreError};

/// Characters of a session or CSRF token (alphanumeric: about 238 bits).
const TOKEN_CHARS: usize = 40;

/// A session just opened: the secrets to hand to the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedSession {
    /// The cookie's value; only its hash is stored.
    pub token: String,
    /// The CSRF token of the session's forms.
    pub csrf_token: String,
    /// Unix seconds the session ends.
    pub expires_at: i64,
}

/// A live session: the key it stands for and its CSRF token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiSession {
    pub key: ApiKeyRecord,
    pub csrf_token: String,
    pub expires_at: i64,
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Store {
    /// Opens a session for `key` lasting `ttl_seconds` from `now`, and forgets sessions that
    /// ended before `now`.
    pub async fn open_ui_session(
        &self,
        key: &ApiKeyRecord,
        now: i64,
        ttl_seconds: i64,
    ) -> Result<OpenedSession, StoreError> {
        let opened = OpenedSession {
            token: Alphanumeric.sample_string(&mut rand::rng(), TOKEN_CHARS),
            csrf_token: Alphanumeric.sample_string(&mut rand::rng(), TOKEN_CHARS),
            expires_at: now.saturating_add(ttl_seconds),
        };
        sqlx::query("DELETE FROM ui_sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO ui_sessions (token_hash, key_id, csrf_token, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash(&opened.token))
        .bind(&key.id)
        .bind(&opened.csrf_token)
        .bind(now)
        .bind(opened.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(opened)
    }

    /// The live session `token` opens at `now`: unexpired, and its key not revoked.
    pub async fn ui_session(&self, token: &str, now: i64) -> Result<Option<UiSession>, StoreError> {
        let row = sqlx::query(
            "SELECT k.id, k.org_id, k.team_id, k.is_admin, k.label, k.created_at, s.csrf_token, \
             s.expires_at FROM ui_sessions s JOIN api_keys k ON k.id = s.key_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND k.revoked_at IS NULL",
        )
        .bind(token_hash(token))
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(UiSession {
                key: ApiKeyRecord {
                    id: row.try_get("id")?,
                    org_id: row.try_get("org_id")?,
                    team_id: row.try_get("team_id")?,
                    is_admin: row.try_get::<i64, _>("is_admin")? != 0,
                    label: row.try_get("label")?,
                    created_at: row.try_get("created_at")?,
                },
                csrf_token: row.try_get("csrf_token")?,
                expires_at: row.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    /// Ends the session `token` opens (signing out); a token that opens none is ignored.
    pub async fn close_ui_session(&self, token: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM ui_sessions WHERE token_hash = $1")
            .bind(token_hash(token))
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
