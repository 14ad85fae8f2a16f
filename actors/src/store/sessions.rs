//! User sessions: the hashes of bearer tokens, whose they are, when they were made and last
//! used.

use super::writer::{submit, Write};
use super::{lock, Backend, Store, StoreError};
use sqlx::Row;

/// A user session. The bearer token itself is never stored: `token` is its SHA-256 (hex).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRow {
    /// The SHA-256 of the bearer token, hex.
    pub token: String,
    /// Whose.
    pub username: String,
    /// When it was created, ms since the epoch.
    pub created_at: i64,
    /// When it was last used (recorded at most about once a minute), ms since the epoch.
    pub last_seen_at: i64,
}

impl Store {
    /// Records a session token.
    pub async fn create_session(&self, session: &SessionRow) -> Result<(), StoreError> {
        match &self.inner {
            Backend::Memory(m) => {
                lock(m)
                    .sessions
                    .insert(session.token.clone(), session.clone());
                Ok(())
            }
            Backend::Sql(_, writer, _) => submit(writer, Write::Session(session.clone())).await,
        }
    }

    /// Looks a session up by its token's hash.
    pub async fn find_session(&self, token: &str) -> Result<Option<SessionRow>, StoreError> {
        match &self.inner {
            Backend::Memory(m) => Ok(lock(m).sessions.get(token).cloned()),
            Backend::Sql(pool, ..) => {
                let row = sqlx::query(
                    "SELECT token, username, created_at, last_seen_at FROM sessions WHERE token = $1",
                )
                .bind(token.to_owned())
                .fetch_optional(pool)
                .await?;
                row.map(|r| {
                    Ok(SessionRow {
                        token: r.try_get("token")?,
                        username: r.try_get("username")?,
                        created_at: r.try_get("created_at")?,
                        last_seen_at: r.try_get("last_seen_at")?,
                    })
                })
                .transpose()
            }
        }
    }

    /// Records that a session (by its token's hash) was used at `at`.
    pub async fn session_seen(&self, token: &str, at: i64) -> Result<(), StoreError> {
        match &self.inner {
            Backend::Memory(m) => {
                if let Some(s) = lock(m).sessions.get_mut(token) {
                    s.last_seen_at = s.last_seen_at.max(at);
                }
                Ok(())
            }
            Backend::Sql(_, writer, _) => {
                let token = token.to_owned();
                submit(writer, Write::SessionSeen { token, at }).await
            }
        }
    }

    /// Ends one session (by its token's hash) or every session of `username`.
    pub async fn end_sessions(
        &self,
        token: Option<&str>,
        username: Option<&str>,
    ) -> Result<(), StoreError> {
        match &self.inner {
            Backend::Memory(m) => {
                lock(m).sessions.retain(|t, s| {
                    Some(t.as_str()) != token && Some(s.username.as_str()) != username
                });
                Ok(())
            }
            Backend::Sql(_, writer, _) => {
                let write = Write::SessionEnd {
                    token: token.map(str::to_owned),
                    username: username.map(str::to_owned),
                };
                submit(writer, write).await
            }
        }
    }

    /// Removes sessions created before `created_before` or last used before `seen_before`.
    pub async fn purge_sessions(
        &self,
        created_before: i64,
        seen_before: i64,
    ) -> Result<(), StoreError> {
        match &self.inner {
            Backend::Memory(m) => {
                lock(m)
                    .sessions
                    .retain(|_, s| s.created_at >= created_before && s.last_seen_at >= seen_before);
                Ok(())
            }
            Backend::Sql(_, writer, _) => {
                let write = Write::SessionPurge {
                    created_before,
                    seen_before,
                };
                submit(writer, write).await
            }
        }
    }
}
