//! How durable the store is and whether it answers: the setting a SQLite database commits
//! with ([`Durability`]), and a bounded probe of the database and its writer task for
//! `/health` ([`Store::health`]).

use super::{Backend, Faults, Store};
use serde::Serialize;
use std::time::Duration;

/// What an acknowledged write survives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// Every commit is on the disk before it is acknowledged: it survives a kill of the
    /// process, an OS crash and a power cut (SQLite `synchronous=FULL`; PostgreSQL
    /// `synchronous_commit` on). The default.
    #[default]
    PowerLoss,
    /// A commit survives a kill or crash of the process; an OS crash or a power cut may lose
    /// the last ones (SQLite `synchronous=NORMAL` in WAL mode; PostgreSQL
    /// `synchronous_commit = off`). Cheaper per commit.
    ProcessCrash,
    /// Nothing survives the process (the memory store).
    None,
}

impl Durability {
    /// The `PRAGMA synchronous` a SQLite connection is opened with.
    pub(super) fn sqlite_pragma(self) -> &'static str {
        match self {
            Durability::PowerLoss | Durability::None => "PRAGMA synchronous=FULL",
            Durability::ProcessCrash => "PRAGMA synchronous=NORMAL",
        }
    }
}

/// What [`Store::health`] found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoreHealth {
    /// `sqlite`, `postgres` or `memory`.
    pub backend: &'static str,
    /// The database answered a read and committed a write (through the writer task) within
    /// the probe's time.
    pub ok: bool,
    /// What an acknowledged write survives, as the database itself reports it (`None` when
    /// it did not answer).
    pub durability: Option<Durability>,
    /// Why it is not ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// How long the probe waits for the database.
const PROBE: Duration = Duration::from_secs(2);

impl Store {
    /// The faults a test may inject at this store's boundary (`None` for the memory store).
    pub fn faults(&self) -> Option<&Faults> {
        match &self.inner {
            Backend::Sql(_, _, faults) => Some(faults),
            Backend::Memory(_) => None,
        }
    }

    /// Closes the database's connections (waiting for those in use): every later read or
    /// write fails, and [`Store::health`] says so. For an orderly stop, after the engine's
    /// shutdown.
    pub async fn close(&self) {
        if let Backend::Sql(pool, ..) = &self.inner {
            pool.close().await;
        }
    }

    /// Probes the database (one read and one empty transaction through the writer task, at
    /// most 2 s): for `/health`, so that a load balancer stops sending work to an instance
    /// whose store is gone, and sends it again once it is back.
    pub async fn health(&self) -> StoreHealth {
        let (pool, writer) = match &self.inner {
            Backend::Memory(_) => {
                return StoreHealth {
                    backend: "memory",
                    ok: true,
                    durability: Some(Durability::None),
                    error: None,
                }
            }
            Backend::Sql(pool, tx, _) => (pool, tx),
        };
        let postgres = pool
            .connect_options()
            .database_url
            .scheme()
            .starts_with("postgres");
        let backend = if postgres { "postgres" } else { "sqlite" };
        let probe = async {
            let durability = if postgres {
                let v: String = sqlx::query_scalar("SHOW synchronous_commit")
                    .fetch_one(pool)
                    .await?;
                if v == "off" {
                    Durability::ProcessCrash
                } else {
                    Durability::PowerLoss
                }
            } else {
                // Per connection; every connection of the pool is opened with the same one.
                let v: i64 = sqlx::query_scalar("PRAGMA synchronous")
                    .fetch_one(pool)
                    .await?;
                if v >= 2 {
                    Durability::PowerLoss
                } else {
                    Durability::ProcessCrash
                }
            };
            Ok::<_, sqlx::Error>(durability)
        };
        // And the write path: the writer task commits a transaction with nothing in it.
        let write = async {
            super::writer::submit(writer, super::writer::Write::Ping)
                .await
                .map_err(|e| e.to_string())
        };
        let (durability, error) = match tokio::time::timeout(PROBE, async {
            let durability = probe.await.map_err(|e| format!("database: {e}"))?;
            write.await.map_err(|e| format!("writing: {e}"))?;
            Ok::<_, String>(durability)
        })
        .await
        {
            Ok(Ok(d)) => (Some(d), None),
            Ok(Err(e)) => (None, Some(e)),
            Err(_) => (None, Some(format!("no answer in {PROBE:?}"))),
        };
        StoreHealth {
            backend,
            ok: error.is_none(),
            durability,
            error,
        }
    }
}
