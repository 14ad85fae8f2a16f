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
    /// `pending`, `delivered`, `dead`, `superseded` (a later version replaced it before it
    /// was ever sent), or `pruned` (delivered or superseded longer ago than the retention:
    /// its payload is gone, its line's version numbering kept).
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

    /// Outbox rows in a state (all states when `None`), oldest first: the whole table, for
    /// tests and tools (the worker and the API read pages: [`Store::outbox_heads`],
    /// [`Store::outbox_page`]).
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
                rows.iter().map(row_of).collect::<Result<_, _>>()?
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

    /// One page of rows in a state (all states when `None`), newest first, and how many rows
    /// there are in that state.
    pub async fn outbox_page(
        &self,
        state: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<OutboxRow>, u64), StoreError> {
        let pool = match &self.inner {
            Backend::Sql(pool, ..) => pool,
            Backend::Memory(_) => {
                let mut rows = self.outbox(state).await?;
                let total = rows.len() as u64;
                rows.reverse();
                rows.truncate(limit);
                return Ok((rows, total));
            }
        };
        let filter = if state.is_some() {
            "WHERE state = $1"
        } else {
            "WHERE $1 = $1"
        };
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM crm_outbox {filter}
             ORDER BY created_at DESC, key DESC LIMIT {limit}"
        ))
        .bind(state.unwrap_or("").to_owned())
        .fetch_all(pool)
        .await?;
        let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM crm_outbox {filter}"))
            .bind(state.unwrap_or("").to_owned())
            .fetch_one(pool)
            .await?;
        let rows = rows.iter().map(row_of).collect::<Result<_, _>>()?;
        Ok((rows, u64::try_from(total).unwrap_or(0)))
    }

    /// One row, by its key.
    pub async fn outbox_row(&self, key: &str) -> Result<Option<OutboxRow>, StoreError> {
        let pool = match &self.inner {
            Backend::Sql(pool, ..) => pool,
            Backend::Memory(m) => {
                return Ok(lock(m).outbox.get(key).cloned());
            }
        };
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM crm_outbox WHERE key = $1"))
            .bind(key.to_owned())
            .fetch_optional(pool)
            .await?;
        Ok(row.as_ref().map(row_of).transpose()?)
    }

    /// A call's rows (every connector and hook), lowest version first.
    pub async fn outbox_of_call(&self, call: &str) -> Result<Vec<OutboxRow>, StoreError> {
        let pool = match &self.inner {
            Backend::Sql(pool, ..) => pool,
            Backend::Memory(m) => {
                let mut rows: Vec<OutboxRow> = lock(m)
                    .outbox
                    .values()
                    .filter(|r| r.call_id == call)
                    .cloned()
                    .collect();
                rows.sort_by(|a, b| (a.version, &a.key).cmp(&(b.version, &b.key)));
                return Ok(rows);
            }
        };
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM crm_outbox WHERE call_id = $1 ORDER BY version, key"
        ))
        .bind(call.to_owned())
        .fetch_all(pool)
        .await?;
        Ok(rows.iter().map(row_of).collect::<Result<_, _>>()?)
    }

    /// The head of each line (a call and a connector): its lowest pending version, soonest
    /// due first, at most `limit` of them. Later versions wait behind their head.
    pub async fn outbox_heads(&self, limit: usize) -> Result<Vec<OutboxRow>, StoreError> {
        let pool = match &self.inner {
            Backend::Sql(pool, ..) => pool,
            Backend::Memory(_) => {
                let mut heads: std::collections::HashMap<(String, String), OutboxRow> =
                    Default::default();
                for row in self.outbox(Some("pending")).await? {
                    let k = (row.call_id.clone(), row.connector.clone());
                    if heads.get(&k).is_none_or(|h| row.version < h.version) {
                        heads.insert(k, row);
                    }
                }
                let mut heads: Vec<OutboxRow> = heads.into_values().collect();
                heads.sort_by(|a, b| {
                    (a.next_at, a.created_at, &a.key).cmp(&(b.next_at, b.created_at, &b.key))
                });
                heads.truncate(limit);
                return Ok(heads);
            }
        };
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM crm_outbox o WHERE state = 'pending' AND NOT EXISTS (
                SELECT 1 FROM crm_outbox p WHERE p.call_id = o.call_id
                    AND p.connector = o.connector AND p.state = 'pending'
                    AND p.version < o.version)
             ORDER BY next_at, created_at, key LIMIT {limit}"
        ))
        .fetch_all(pool)
        .await?;
        Ok(rows.iter().map(row_of).collect::<Result<_, _>>()?)
    }

    /// How many rows are in each state.
    pub async fn outbox_counts(
        &self,
    ) -> Result<std::collections::BTreeMap<String, u64>, StoreError> {
        let pool = match &self.inner {
            Backend::Sql(pool, ..) => pool,
            Backend::Memory(m) => {
                let mut counts = std::collections::BTreeMap::new();
                for r in lock(m).outbox.values() {
                    *counts.entry(r.state.clone()).or_default() += 1;
                }
                return Ok(counts);
            }
        };
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM crm_outbox GROUP BY state")
            .fetch_all(pool)
            .await?;
        rows.iter()
            .map(|r| {
                let n: i64 = r.try_get("n")?;
                Ok((r.try_get("state")?, u64::try_from(n).unwrap_or(0)))
            })
            .collect()
    }

    /// The highest version each connector whose name starts with `prefix` has a row for.
    pub async fn outbox_latest(
        &self,
        prefix: &str,
    ) -> Result<std::collections::HashMap<String, i64>, StoreError> {
        let pool = match &self.inner {
            Backend::Sql(pool, ..) => pool,
            Backend::Memory(m) => {
                let mut latest = std::collections::HashMap::<String, i64>::new();
                for r in lock(m).outbox.values() {
                    if r.connector.starts_with(prefix) {
                        let v = latest.entry(r.connector.clone()).or_default();
                        *v = (*v).max(r.version);
                    }
                }
                return Ok(latest);
            }
        };
        let rows = sqlx::query(
            "SELECT connector, MAX(version) AS v FROM crm_outbox
             WHERE substr(connector, 1, length($1)) = $1 GROUP BY connector",
        )
        .bind(prefix.to_owned())
        .fetch_all(pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("connector")?, r.try_get("v")?)))
            .collect()
    }

    /// Prunes what was done with before `before` (ms since the epoch): a delivered or
    /// superseded row with a later version in its line is deleted; the last row of a line
    /// loses its payload (state `pruned`) but stays, so that the line's next version is
    /// numbered after it. Pending and dead rows are never pruned.
    pub async fn outbox_prune(&self, before: i64) -> Result<(), StoreError> {
        match &self.inner {
            Backend::Memory(m) => {
                let mut m = lock(m);
                let rows: Vec<OutboxRow> = m.outbox.values().cloned().collect();
                for r in rows {
                    if !matches!(r.state.as_str(), "delivered" | "superseded")
                        || r.updated_at >= before
                    {
                        continue;
                    }
                    let later = m.outbox.values().any(|o| {
                        o.call_id == r.call_id
                            && o.connector == r.connector
                            && o.version > r.version
                    });
                    if later {
                        m.outbox.remove(&r.key);
                    } else if let Some(o) = m.outbox.get_mut(&r.key) {
                        (o.state, o.payload) = ("pruned".into(), String::new());
                    }
                }
                Ok(())
            }
            Backend::Sql(_, writer, _) => submit(writer, Write::OutboxPrune { before }).await,
        }
    }
}

/// The columns of an outbox row, in [`row_of`]'s order.
const COLUMNS: &str = "key, call_id, version, connector, payload, state, attempts, next_at,
    last_error, created_at, updated_at";

fn row_of(r: &sqlx::any::AnyRow) -> Result<OutboxRow, sqlx::Error> {
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
}
