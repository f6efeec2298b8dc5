//! API keys: stored as SHA-256 hashes, never in the clear.

use rand::distr::{Alphanumeric, SampleString};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::{Store, StoreError};

/// Prefix of every API key secret Assay mints.
pub const KEY_PREFIX: &str = "assay_sk_";

/// What a new key is for.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub org_id: String,
    pub team_id: String,
    pub is_admin: bool,
    pub label: Option<String>,
}

/// A stored key, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: String,
    pub org_id: String,
    pub team_id: String,
    pub is_admin: bool,
    pub label: Option<String>,
    pub created_at: i64,
}

fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

impl Store {
    /// Mints a key and returns its record and its secret (shown to the user once).
    pub async fn create_api_key(
        &self,
        key: &NewApiKey,
    ) -> Result<(ApiKeyRecord, String), StoreError> {
        let secret = format!(
            "{KEY_PREFIX}{}",
            Alphanumeric.sample_string(&mut rand::rng(), 40)
        );
        let record = self.insert_api_key(key, &secret).await?;
        Ok((record, secret))
    }

    /// Stores a key whose secret the operator chose (e.g. `ASSAY_BOOTSTRAP_KEY`).
    pub async fn insert_api_key(
        &self,
        key: &NewApiKey,
        secret: &str,
    ) -> Result<ApiKeyRecord, StoreError> {
        let record = ApiKeyRecord {
            id: assay_domain::ids::new_id(assay_domain::ids::API_KEY),
            org_id: key.org_id.clone(),
            team_id: key.team_id.clone(),
            is_admin: key.is_admin,
            label: key.label.clone(),
            created_at: assay_domain::now_unix(),
        };
        let result = sqlx::query(
            "INSERT INTO api_keys (id, key_hash, org_id, team_id, is_admin, label, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&record.id)
        .bind(hash_secret(secret))
        .bind(&record.org_id)
        .bind(&record.team_id)
        .bind(i64::from(record.is_admin))
        .bind(&record.label)
        .bind(record.created_at)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(record),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::Conflict("this key already exists".into()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// How many keys exist (revoked ones included); zero means a fresh installation.
    pub async fn count_api_keys(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM api_keys")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// The live key with this secret, if any.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, org_id, team_id, is_admin, label, created_at FROM api_keys \
             WHERE key_hash = $1 AND revoked_at IS NULL",
        )
        .bind(hash_secret(secret))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(ApiKeyRecord {
                id: row.try_get("id")?,
                org_id: row.try_get("org_id")?,
                team_id: row.try_get("team_id")?,
                is_admin: row.try_get::<i64, _>("is_admin")? != 0,
                label: row.try_get("label")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .transpose()
    }
}
