//! File records. Contents live in the blob store under `files/<id>`.

use assay_domain::api::{FileObject, FilePurpose, Order, PageRequest};
use assay_domain::Principal;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::sql::{bind_visible, cursor_seq, fetch_visible, into_page, push_visible, Reach, Sql};
use crate::{Store, StoreError};

/// A file about to be recorded (its content is already in the blob store).
#[derive(Debug, Clone)]
pub struct NewFile {
    pub id: String,
    pub filename: String,
    pub purpose: FilePurpose,
    pub bytes: i64,
    pub sha256: String,
    pub content_type: String,
    pub blob_key: String,
}

/// A stored file: its API object plus where its content lives.
#[derive(Debug, Clone)]
pub struct StoredFile {
    pub object: FileObject,
    pub content_type: String,
    pub blob_key: String,
}

impl StoredFile {
    /// The `Content-Disposition` of a download: `attachment` with an ASCII fallback name and
    /// the exact UTF-8 name (RFC 6266 / 5987).
    pub fn content_disposition(&self) -> String {
        attachment(&self.object.filename)
    }
}

fn attachment(filename: &str) -> String {
    {
        let fallback: String = filename
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let mut encoded = String::new();
        for b in filename.bytes() {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                encoded.push(b as char);
            } else {
                encoded.push_str(&format!("%{b:02X}"));
            }
        }
        format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
    }
}

/// Filters of `GET /files`.
#[derive(Debug, Clone, Default)]
pub struct FileFilter {
    pub purpose: Option<FilePurpose>,
    pub sha256: Option<String>,
    pub order: Order,
}

const COLUMNS: &str =
    "files.id, files.filename, files.purpose, files.bytes, files.sha256, files.content_type, files.blob_key, files.created_at";

fn read(row: &AnyRow) -> Result<StoredFile, StoreError> {
    let purpose: String = row.try_get("purpose")?;
    let purpose = FilePurpose::parse(&purpose)
        .ok_or_else(|| StoreError::Corrupt(format!("file purpose {purpose:?}")))?;
    Ok(StoredFile {
        object: FileObject {
            id: row.try_get("id")?,
            object: "file".into(),
            bytes: row.try_get("bytes")?,
            created_at: row.try_get("created_at")?,
            filename: row.try_get("filename")?,
            purpose,
            expires_at: None,
            status: "processed".into(),
            sha256: Some(row.try_get("sha256")?),
        },
        content_type: row.try_get("content_type")?,
        blob_key: row.try_get("blob_key")?,
    })
}

impl Store {
    /// Records an uploaded file owned by the caller.
    pub async fn insert_file(
        &self,
        owner: &Principal,
        file: &NewFile,
    ) -> Result<StoredFile, StoreError> {
        let created_at = assay_domain::now_unix();
        sqlx::query(
            "INSERT INTO files (id, org_id, team_id, user_id, filename, purpose, bytes, sha256, \
             content_type, blob_key, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&file.id)
        .bind(&owner.org_id)
        .bind(&owner.team_id)
        .bind(&owner.user_id)
        .bind(&file.filename)
        .bind(file.purpose.as_str())
        .bind(file.bytes)
        .bind(&file.sha256)
        .bind(&file.content_type)
        .bind(&file.blob_key)
        .bind(created_at)
        .execute(&self.pool)
        .await?;
        self.get_file(owner, &file.id).await
    }

    /// A file the caller may see.
    pub async fn get_file(&self, caller: &Principal, id: &str) -> Result<StoredFile, StoreError> {
        read(&fetch_visible(&self.pool, "files", COLUMNS, caller, id).await?)
    }

    /// A page of the caller's files.
    pub async fn list_files(
        &self,
        caller: &Principal,
        filter: &FileFilter,
        page: &PageRequest,
    ) -> Result<(Vec<FileObject>, bool), StoreError> {
        let cursor = cursor_seq(
            &self.pool,
            "files",
            caller,
            page.after.as_ref(),
            Reach::Owned,
        )
        .await?;
        let mut sql = Sql::new(&format!(
            "SELECT {COLUMNS} FROM files WHERE files.deleted_at IS NULL AND "
        ));
        push_visible(&mut sql, "files");
        if filter.purpose.is_some() {
            sql.push(" AND files.purpose = ");
            sql.param();
        }
        if filter.sha256.is_some() {
            sql.push(" AND files.sha256 = ");
            sql.param();
        }
        let (cmp, dir) = match filter.order {
            Order::Asc => (">", "ASC"),
            Order::Desc => ("<", "DESC"),
        };
        if cursor.is_some() {
            sql.push(&format!(" AND files.seq {cmp} "));
            sql.param();
        }
        sql.push(&format!(" ORDER BY files.seq {dir} LIMIT "));
        sql.param();
        let mut query = bind_visible(sqlx::query(&sql.text), caller);
        if let Some(purpose) = filter.purpose {
            query = query.bind(purpose.as_str());
        }
        if let Some(sha) = &filter.sha256 {
            query = query.bind(sha.to_ascii_lowercase());
        }
        if let Some(seq) = cursor {
            query = query.bind(seq);
        }
        let rows = query.bind(page.limit + 1).fetch_all(&self.pool).await?;
        into_page(rows, page.limit, |r| read(r).map(|f| f.object))
    }

    /// Deletes a file the caller may see: the record first, then its content.
    pub async fn delete_file(&self, caller: &Principal, id: &str) -> Result<(), StoreError> {
        let file = self.get_file(caller, id).await?;
        sqlx::query("UPDATE files SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL")
            .bind(assay_domain::now_unix())
            .bind(id)
            .execute(&self.pool)
            .await?;
        if let Err(e) = self.blobs.delete(&file.blob_key).await {
            // The record is gone, so the content is unreachable; leave it for an operator.
            tracing::warn!(file_id = id, error = %e, "could not remove deleted file content");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn disposition_is_ascii() {
        let d = super::attachment("résumé \"v1\".csv");
        assert!(d.is_ascii());
        assert!(d.contains("filename=\"r_sum_ _v1_.csv\""), "{d}");
        assert!(
            d.contains("filename*=UTF-8''r%C3%A9sum%C3%A9%20%22v1%22.csv"),
            "{d}"
        );
    }
}
