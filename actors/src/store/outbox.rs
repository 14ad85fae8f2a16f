//! The CRM outbox's rows (G3): call logs waiting for, or done with, delivery.

use super::{lock, submit, Backend, Store, StoreError, Write};
use sqlx::Row;

/// A call log waiting for, or done with, delivery to one CRM connector (G3): the durable
/// outbox.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OutboxRow {
    /// `<call>:v<version>:<connector>`: unique, and the CRM's idempotency key is
    /// `<call>:v<version>`.
    pub key: String,
    /// The call.
    pub call_id: String,
    /// The log's version (1 at the call's end, +1 per later change).
    pub version: i64,
    /// The connector's name.
    pub connector: String,
    /// The log (JSON).
    pub payload: String,
    /// `pending`, `delivered`, `dead`, or `superseded` (a later version replaced it before it
    /// was ever sent).
    pub state: String,
    /// Failed attempts so far.
    pub attempts: i64,
    /// When it is due next (ms since the epoch).
    pub next_at: i64,
    /// The last failure.
    pub last_error: Option<String>,
    /// When it was queued (ms since the epoch).
    pub created_at: i64,
    /// When it last changed (ms since the epoch).
    pub updated_at: i64,
}

impl Store {
    /// Writes an outbox row (new, or its new state), replacing the row with its key.
    pub async fn outbox_put(&self, row: &OutboxRow) -> Result<(), StoreError> {
        match &self.inner {
            Backend::Memory(m) => {
                lock(m).outbox.insert(row.key.clone(), row.clone());
                Ok(())
            }
            Backend::Sql(_, writer, _) => submit(writer, Write::Outbox(row.clone())).await,
        }
    }

    /// Gives a row that no delivery attempt has read yet (pending, no attempt) a new payload
    /// and due time; leaves any other row as it is.
    pub async fn outbox_refresh(
        &self,
        key: &str,
        payload: &str,
        next_at: i64,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        match &self.inner {
            Backend::Memory(m) => {
                if let Some(r) = lock(m).outbox.get_mut(key) {
                    if r.state == "pending" && r.attempts == 0 {
                        (r.payload, r.next_at, r.updated_at) =
                            (payload.to_owned(), next_at, now_ms);
                    }
                }
                Ok(())
            }
            Backend::Sql(_, writer, _) => {
                let write = Write::OutboxRefresh {
                    key: key.to_owned(),
                    payload: payload.to_owned(),
                    next_at,
                    updated_at: now_ms,
                };
                submit(writer, write).await
            }
        }
    }

    /// Outbox rows in a state (all states when `None`), oldest first.
    pub async fn outbox(&self, state: Option<&str>) -> Result<Vec<OutboxRow>, StoreError> {
        let mut rows: Vec<OutboxRow> = match &self.inner {
            Backend::Memory(m) => lock(m)
                .outbox
                .values()
                .filter(|r| state.is_none_or(|s| r.state == s))
                .cloned()
                .collect(),
            Backend::Sql(pool, ..) => {
                let sql =
                    "SELECT key, call_id, version, connector, payload, state, attempts, next_at,
                        last_error, created_at, updated_at FROM crm_outbox";
                let rows = match state {
                    Some(s) => {
                        sqlx::query(&format!("{sql} WHERE state = $1"))
                            .bind(s.to_owned())
                            .fetch_all(pool)
                            .await?
                    }
                    None => sqlx::query(sql).fetch_all(pool).await?,
                };
                rows.iter()
                    .map(|r| -> Result<OutboxRow, sqlx::Error> {
                        Ok(OutboxRow {
                            key: r.try_get("key")?,
                            call_id: r.try_get("call_id")?,
                            version: r.try_get("version")?,
                            connector: r.try_get("connector")?,
                            payload: r.try_get("payload")?,
                            state: r.try_get("state")?,
                            attempts: r.try_get("attempts")?,
                            next_at: r.try_get("next_at")?,
                            last_error: r.try_get("last_error")?,
                            created_at: r.try_get("created_at")?,
                            updated_at: r.try_get("updated_at")?,
                        })
                    })
                    .collect::<Result<_, _>>()?
            }
        };
        rows.sort_by(|a, b| (a.created_at, &a.key).cmp(&(b.created_at, &b.key)));
        Ok(rows)
    }

    /// The latest log version queued for a call (0 when none).
    pub async fn outbox_version(&self, call: &str) -> Result<i64, StoreError> {
        match &self.inner {
            Backend::Memory(m) => Ok(lock(m)
                .outbox
                .values()
                .filter(|r| r.call_id == call && !crate::hooks::is_hook(&r.connector))
                .map(|r| r.version)
                .max()
                .unwrap_or(0)),
            Backend::Sql(pool, ..) => {
                let row = sqlx::query(
                    "SELECT COALESCE(MAX(version), 0) AS v FROM crm_outbox WHERE call_id = $1 AND connector NOT LIKE 'hook:%'",
                )
                .bind(call.to_owned())
                .fetch_one(pool)
                .await?;
                Ok(row.try_get("v")?)
            }
        }
    }
}
