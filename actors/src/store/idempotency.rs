//! Remembered answers to commands sent with an `Idempotency-Key` (K8): a retry with the same
//! key gets the first answer instead of running again, for 24 hours, across restarts.

use super::{lock, submit, Backend, Store, StoreError, Write};
use sqlx::Row;

/// The first answer to a command sent with a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotentRow {
    /// Whose key, for which operation: the caller's identity, the method and path, and the
    /// key (hashed together by the web layer).
    pub key: String,
    /// The request's body, hashed: the same key with another body is refused.
    pub fingerprint: String,
    /// The answer's HTTP status.
    pub status: i64,
    /// The answer's body.
    pub body: String,
    /// When it was answered (ms since the epoch).
    pub created_at: i64,
}

impl Store {
    /// The answer remembered for `key`, if answered after `since`.
    pub async fn idempotent(
        &self,
        key: &str,
        since: i64,
    ) -> Result<Option<IdempotentRow>, StoreError> {
        match &self.inner {
            Backend::Memory(m) => Ok(lock(m)
                .idempotent
                .get(key)
                .filter(|r| r.created_at > since)
                .cloned()),
            Backend::Sql(pool, ..) => {
                let row = sqlx::query(
                    "SELECT key, fingerprint, status, body, created_at FROM idempotency
                     WHERE key = $1 AND created_at > $2",
                )
                .bind(key)
                .bind(since)
                .fetch_optional(pool)
                .await?;
                row.map(|r| {
                    Ok(IdempotentRow {
                        key: r.try_get("key")?,
                        fingerprint: r.try_get("fingerprint")?,
                        status: r.try_get("status")?,
                        body: r.try_get("body")?,
                        created_at: r.try_get("created_at")?,
                    })
                })
                .transpose()
            }
        }
    }

    /// Remembers an answer, and forgets those answered before `forget_before`.
    pub async fn remember_idempotent(
        &self,
        row: &IdempotentRow,
        forget_before: i64,
    ) -> Result<(), StoreError> {
        match &self.inner {
            Backend::Memory(m) => {
                let mut m = lock(m);
                m.idempotent.retain(|_, r| r.created_at >= forget_before);
                m.idempotent.insert(row.key.clone(), row.clone());
                Ok(())
            }
            Backend::Sql(_, writer, _) => {
                submit(
                    writer,
                    Write::Idempotent {
                        row: row.clone(),
                        forget_before,
                    },
                )
                .await
            }
        }
    }
}
