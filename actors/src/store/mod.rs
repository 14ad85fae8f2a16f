//! Persistence: calls with their journeys, agents with their status history, sessions and the
//! loaded configuration.
//!
//! One code path for SQLite (the embedded default) and PostgreSQL (production), through
//! sqlx's `Any` driver and SQL both accept. Writes go through one group-commit writer that
//! applies a plan of statements (`plan.rs`): sqlx's for PostgreSQL, and for a SQLite file a
//! thread owning its own connection (`sqlite_writer.rs`: sqlx handed every SQLite statement
//! to a worker thread and back). Every write an actor makes is awaited before the
//! actor answers its caller, so whatever was acknowledged to a client survives a kill of the
//! process. SQLite runs in WAL mode with `synchronous=FULL` by default, so it also survives an
//! OS crash or a power cut ([`Durability`]; `synchronous=NORMAL` on request).
//!
//! A memory backend serves tests in paused tokio time and benchmarks that measure routing
//! alone; it keeps the same contract within one process.

mod calls;
mod events;
mod health;
mod history;
mod idempotency;
mod outbox;
mod plan;
mod schema;
mod sessions;
mod sqlite_writer;
mod transcripts;
mod writer;

pub(crate) use events::{lock_log, MemoryLog, Trimmed};
pub use events::{EventRow, EventSeqState};
pub use health::{Durability, StoreHealth};
pub use history::{HistoryTail, BLOCK as HISTORY_BLOCK};
pub use idempotency::IdempotentRow;
pub use outbox::OutboxRow;
pub use sessions::SessionRow;
pub use transcripts::{AlertRow, TranscriptRow};

use engine::agent::{Agent, StatusChange};
use engine::call::{Call, CallState};
use engine::schedule::{Schedule, ScheduleState};
use engine::{AgentId, CallId, IdMap};
use schema::migrate;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Row};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use writer::{committed, hand_over, submit, supervised_writer, Job, Write, MAX_BATCH};
pub use writer::{Faults, Saving};

/// A storage failure: the database refused or could not be reached, or a stored row is not
/// what this version writes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored snapshot could not be read back.
    #[error("stored {0} is unreadable: {1}")]
    Corrupt(&'static str, serde_json::Error),
    /// A write failed in the writer task (the message is the database's).
    #[error("write failed: {0}")]
    Write(String),
}

/// Hands a call's write to the writer (counted for the tests' faults); the receiver hears its
/// outcome.
async fn hand_call(
    writer: &mpsc::Sender<Job>,
    faults: &Faults,
    write: Write,
) -> Result<tokio::sync::oneshot::Receiver<Result<(), String>>, StoreError> {
    let handed = hand_over(writer, write).await?;
    faults.call_write_handed();
    Ok(handed)
}

/// One row of an agent's status history.
pub type HistoryRow = StatusChange;

/// Where Switchyard keeps what must survive.
#[derive(Clone)]
pub struct Store {
    inner: Backend,
}

#[derive(Clone)]
enum Backend {
    Sql(AnyPool, mpsc::Sender<Job>, Arc<Faults>),
    Memory(Arc<Mutex<Memory>>),
}

#[derive(Default)]
struct Memory {
    /// Shared with the call actors (a waiting call's snapshot is held once).
    calls: IdMap<CallId, Arc<Call>>,
    /// Each agent's last saved state and status history: one entry, so that a commit looks
    /// her up once.
    agents: IdMap<AgentId, SavedAgent>,
    sessions: HashMap<String, SessionRow>,
    config: Option<String>,
    compliance: std::collections::BTreeSet<(String, String, String)>,
    schedules: HashMap<String, Schedule>,
    txns: HashMap<String, Txn>,
    links: std::collections::BTreeSet<(String, String)>,
    transcripts: Vec<TranscriptRow>,
    alerts: Vec<AlertRow>,
    outbox: std::collections::BTreeMap<String, OutboxRow>,
    /// The event log, behind a lock of its own: the bus appends each event to it as it
    /// numbers it, and a trim lets go of a hundredth of it at once; neither holds up the
    /// actors' commits.
    log: Arc<Mutex<events::MemoryLog>>,
    idempotent: HashMap<String, IdempotentRow>,
}

/// An agent as the memory store keeps her.
struct SavedAgent {
    agent: Agent,
    history: Vec<StatusChange>,
}

/// A call to save: borrowed, which the memory store copies, or shared ([`Arc`]), which it
/// keeps as it is (a call actor's snapshot, held once by both).
pub trait Snapshot {
    /// The call.
    fn call(&self) -> &Call;
    /// The call as the memory store keeps it.
    fn shared(&self) -> Arc<Call>;
}

impl Snapshot for Call {
    fn call(&self) -> &Call {
        self
    }

    fn shared(&self) -> Arc<Call> {
        Arc::new(self.clone())
    }
}

impl Snapshot for Arc<Call> {
    fn call(&self) -> &Call {
        self
    }

    fn shared(&self) -> Arc<Call> {
        Arc::clone(self)
    }
}

/// A transaction that is not a call (F1): a chat, recorded so that calls can be linked to it
/// and the customer journey lists it. (Calls are transactions too, by their own id.)
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Txn {
    /// Its id.
    pub id: String,
    /// `chat`.
    pub kind: String,
    /// The customer (a number or a handle).
    pub customer: String,
    /// When it began (ms since the epoch).
    pub created_at: i64,
    /// Its status on the customer journey (waiting, assigned, ended…).
    pub status: String,
    /// A subject line.
    pub subject: Option<String>,
    /// The user who opened it: an agent reads only its own chats (K3). Chats stored before
    /// this field existed have none, and only supervisors read them.
    #[serde(default)]
    pub created_by: Option<String>,
}

impl Store {
    /// Opens (creating if needed) the database at `url` — `sqlite://path?mode=rwc`,
    /// `sqlite::memory:` or `postgres://…` — and brings its schema up to date. A SQLite
    /// database commits with [`Durability::PowerLoss`].
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        Self::connect_with(url, Durability::PowerLoss).await
    }

    /// [`Store::connect`], with a SQLite database committing as `durability` says
    /// (PostgreSQL keeps its server's `synchronous_commit`).
    pub async fn connect_with(url: &str, durability: Durability) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        // Every write goes through one writer (group commit), so SQLite never sees two
        // write transactions at once; readers run beside it in WAL mode. An in-memory SQLite
        // database exists once per connection, so it gets exactly one.
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        let pool = AnyPoolOptions::new()
            .max_connections(if memory { 1 } else { 4 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if conn.backend_name().eq_ignore_ascii_case("sqlite") {
                        use sqlx::Executor;
                        conn.execute("PRAGMA journal_mode=WAL").await?;
                        conn.execute(durability.sqlite_pragma()).await?;
                        conn.execute("PRAGMA busy_timeout=10000").await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        migrate(&pool).await?;
        let faults = Arc::new(Faults::default());
        // A SQLite file is written by a thread owning its own connection (see
        // `sqlite_writer`); PostgreSQL and an in-memory SQLite database through sqlx.
        let file = match url.starts_with("sqlite:") && !memory {
            true => Some(
                <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(url)?
                    .get_filename()
                    .to_owned(),
            ),
            false => None,
        };
        // Room for the writes of the next few transactions while one commits.
        let batch = match file {
            Some(_) => sqlite_writer::SQLITE_MAX_BATCH,
            None => MAX_BATCH,
        };
        let (tx, rx) = mpsc::channel(4 * batch);
        match file {
            Some(path) => tokio::spawn(sqlite_writer::supervised(
                path,
                durability,
                pool.clone(),
                faults.clone(),
                rx,
            )),
            None => tokio::spawn(supervised_writer(pool.clone(), faults.clone(), rx)),
        };
        Ok(Store {
            inner: Backend::Sql(pool, tx, faults),
        })
    }

    /// A store that lives in this process only.
    pub fn memory() -> Store {
        Store {
            inner: Backend::Memory(Arc::default()),
        }
    }

    /// Saves a call: its snapshot and whatever of its journey is not stored yet, in one write.
    pub async fn save_call(&self, call: &impl Snapshot, now_ms: i64) -> Result<(), StoreError> {
        self.save_call_with_outbox(call, 0, now_ms, &[]).await
    }

    /// Hands a new call's snapshot to the store without waiting for its commit: the returned
    /// [`Saving`] tells when it is durable. Writes are committed in the order they are handed
    /// over, so a write handed over later (an agent's reservation of this call) commits with it
    /// or after it. The memory store saves at once.
    pub async fn submit_call(
        &self,
        call: &impl Snapshot,
        now_ms: i64,
    ) -> Result<Saving, StoreError> {
        match &self.inner {
            Backend::Memory(m) => {
                let shared = call.shared();
                lock(m).calls.insert(shared.id().clone(), shared);
                Ok(Saving::default())
            }
            Backend::Sql(_, writer, faults) => {
                let write = calls::call_write(call.call(), 0, now_ms);
                Ok(Saving::of(hand_call(writer, faults, write).await?))
            }
        }
    }

    /// Persists a call's snapshot, the journey entries after its first `saved` (those stored
    /// already: 0 when unsure, an entry stored again is left as it was) and, in the same
    /// transaction, its CRM outbox rows: a call's end and its logs are durable together.
    pub async fn save_call_with_outbox(
        &self,
        call: &impl Snapshot,
        saved: usize,
        now_ms: i64,
        rows: &[OutboxRow],
    ) -> Result<(), StoreError> {
        match &self.inner {
            Backend::Memory(m) => {
                let mut m = lock(m);
                let shared = call.shared();
                m.calls.insert(shared.id().clone(), shared);
                for r in rows {
                    m.outbox.insert(r.key.clone(), r.clone());
                }
                Ok(())
            }
            Backend::Sql(_, writer, faults) => {
                let mut write = calls::call_write(call.call(), saved, now_ms);
                if !rows.is_empty() {
                    let mut writes = vec![write];
                    writes.extend(rows.iter().cloned().map(Write::Outbox));
                    write = Write::Batch(writes);
                }
                committed(hand_call(writer, faults, write).await?).await
            }
        }
    }

    /// One call, if it exists.
    pub async fn load_call(&self, id: &CallId) -> Result<Option<Call>, StoreError> {
        match &self.inner {
            Backend::Memory(m) => Ok(lock(m).calls.get(id).map(|c| Call::clone(c))),
            Backend::Sql(pool, ..) => {
                let rows = sqlx::query(calls::with_journeys!(
                    "SELECT id, snapshot FROM calls WHERE id = $1",
                    "c.id"
                ))
                .bind(id.as_str().to_owned())
                .fetch_all(pool)
                .await?;
                Ok(calls::calls_from_rows(&rows)?.pop())
            }
        }
    }

    /// Calls, newest first, optionally only those in `state`, at most `limit`.
    pub async fn list_calls(
        &self,
        state: Option<CallState>,
        limit: i64,
    ) -> Result<Vec<Call>, StoreError> {
        match &self.inner {
            Backend::Memory(m) => {
                let mut calls: Vec<Arc<Call>> = lock(m)
                    .calls
                    .values()
                    .filter(|c| state.is_none_or(|s| c.state() == s))
                    .cloned()
                    .collect();
                calls.sort_by_key(|c| std::cmp::Reverse((c.created_at(), c.id().clone())));
                calls.truncate(usize::try_from(limit).unwrap_or(0));
                Ok(calls.iter().map(|c| Call::clone(c)).collect())
            }
            Backend::Sql(pool, ..) => {
                let rows = match state {
                    Some(s) => {
                        sqlx::query(calls::with_journeys!("SELECT id, snapshot, created_at FROM calls WHERE state = $1 ORDER BY created_at DESC, id DESC LIMIT $2", "c.created_at DESC, c.id DESC"))
                            .bind(s.as_str().to_owned())
                            .bind(limit)
                            .fetch_all(pool)
                            .await?
                    }
                    None => {
                        sqlx::query(calls::with_journeys!("SELECT id, snapshot, created_at FROM calls ORDER BY created_at DESC, id DESC LIMIT $1", "c.created_at DESC, c.id DESC"))
                            .bind(limit)
                            .fetch_all(pool)
                            .await?
                    }
                };
                calls::calls_from_rows(&rows)
            }
        }
    }

    /// Every call from one number, oldest first.
    pub async fn calls_from(&self, number: &str) -> Result<Vec<Call>, StoreError> {
        match &self.inner {
            Backend::Memory(m) => {
                let mut calls: Vec<Call> = lock(m)
                    .calls
                    .values()
                    .filter(|c| c.from() == number)
                    .map(|c| Call::clone(c))
                    .collect();
                calls.sort_by_key(|c| (c.created_at(), c.id().clone()));
                Ok(calls)
            }
            Backend::Sql(pool, ..) => {
                let rows = sqlx::query(calls::with_journeys!(
                    "SELECT id, snapshot, created_at FROM calls WHERE from_number = $1",
                    "c.created_at, c.id"
                ))
                .bind(number.to_owned())
                .fetch_all(pool)
                .await?;
                calls::calls_from_rows(&rows)
            }
        }
    }

    /// Every call that has not ended, oldest first: what a restarted process resumes.
    pub async fn open_calls(&self) -> Result<Vec<Call>, StoreError> {
        let mut open = Vec::new();
        for s in [
            CallState::Waiting,
            CallState::Offering,
            CallState::Dialing,
            CallState::Connected,
        ] {
            open.extend(self.list_calls(Some(s), i64::MAX).await?);
        }
        open.sort_by_key(|c| (c.created_at(), c.id().clone()));
        Ok(open)
    }

    /// Saves an agent's snapshot with the changes of her history not yet saved (see
    /// [`HistoryTail`]), atomically. The changes are numbered by the tail, which the agent's
    /// actor keeps, so that a write needs no read.
    pub async fn save_agent(
        &self,
        agent: &Agent,
        tail: &HistoryTail,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.submit_agent(agent, tail, now_ms)
            .await?
            .outcome()
            .await
    }

    /// [`Store::save_agent`] without waiting for the commit: the write is handed to the writer,
    /// which commits writes in the order it is handed them (so a write handed after this one
    /// commits with it or after it), and the `Saving` tells when it committed.
    pub async fn submit_agent(
        &self,
        agent: &Agent,
        tail: &HistoryTail,
        now_ms: i64,
    ) -> Result<Saving, StoreError> {
        match &self.inner {
            Backend::Memory(m) => {
                let mut m = lock(m);
                let id = agent.id();
                // An agent saved before (every commit but her first) is updated in place: her
                // id is not copied again as a new key.
                let saved = match m.agents.get_mut(id) {
                    Some(saved) => {
                        saved.agent.clone_from(agent);
                        saved
                    }
                    None => m.agents.entry(id.clone()).or_insert(SavedAgent {
                        agent: agent.clone(),
                        history: Vec::new(),
                    }),
                };
                // A save that failed on a SQL store is written again with the next: changes
                // numbered up to what the history holds are not added twice.
                let have = saved.history.len() as i64;
                let skip = usize::try_from(have + 1 - tail.first_seq()).unwrap_or(0);
                (saved.history).extend(tail.changes().iter().skip(skip).cloned());
                Ok(Saving::default())
            }
            Backend::Sql(_, writer, faults) => {
                let snapshot = serde_json::to_string(agent).expect("an Agent always serializes");
                let write = history::agent_write(agent.id(), snapshot, tail, now_ms);
                let handed = hand_over(writer, write).await?;
                faults.agent_write_handed();
                Ok(Saving::of(handed))
            }
        }
    }

    /// The history's tail an agent's actor starts from: after every change saved.
    pub async fn history_tail(&self, id: &AgentId) -> Result<HistoryTail, StoreError> {
        match &self.inner {
            Backend::Memory(m) => {
                let m = lock(m);
                let all = m.agents.get(id).map_or(&[][..], |s| &s.history[..]);
                Ok(all.last().map_or(HistoryTail::after(0), |last| {
                    HistoryTail::logged(all.len() as i64, last.at.0)
                }))
            }
            Backend::Sql(pool, ..) => history::tail(pool, id).await,
        }
    }

    /// One agent's last saved state.
    pub async fn load_agent(&self, id: &AgentId) -> Result<Option<Agent>, StoreError> {
        match &self.inner {
            Backend::Memory(m) => Ok(lock(m).agents.get(id).map(|s| s.agent.clone())),
            Backend::Sql(pool, ..) => {
                let row = sqlx::query("SELECT snapshot FROM agents WHERE id = $1")
                    .bind(id.as_str().to_owned())
                    .fetch_optional(pool)
                    .await?;
                row.map(|r| {
                    let s: String = r.try_get("snapshot")?;
                    serde_json::from_str(&s).map_err(|e| StoreError::Corrupt("agent", e))
                })
                .transpose()
            }
        }
    }

    /// An agent's status history, oldest first, at most the last `limit` changes.
    pub async fn status_history(
        &self,
        id: &AgentId,
        limit: i64,
    ) -> Result<Vec<StatusChange>, StoreError> {
        match &self.inner {
            Backend::Memory(m) => {
                let m = lock(m);
                let all = m.agents.get(id).map_or(&[][..], |s| &s.history[..]);
                let skip = all
                    .len()
                    .saturating_sub(usize::try_from(limit).unwrap_or(0));
                Ok(all[skip..].to_vec())
            }
            Backend::Sql(pool, ..) => history::last(pool, id, limit).await,
        }
    }

    /// The entries of a compliance list; `owner` is the agent for personal lists, empty for
    /// company lists. Sorted.
    pub async fn compliance_list(
        &self,
        list: &str,
        owner: &str,
    ) -> Result<Vec<String>, StoreError> {
        match &self.inner {
            Backend::Memory(m) => Ok(lock(m)
                .compliance
                .iter()
                .filter(|(l, o, _)| l == list && o == owner)
                .map(|(_, _, v)| v.clone())
                .collect()),
            Backend::Sql(pool, ..) => {
                let rows = sqlx::query(
                    "SELECT value FROM compliance WHERE list = $1 AND owner = $2 ORDER BY value",
                )
                .bind(list.to_owned())
                .bind(owner.to_owned())
                .fetch_all(pool)
                .await?;
                Ok(rows
                    .iter()
                    .map(|r| r.try_get("value"))
                    .collect::<Result<_, _>>()?)
            }
        }
    }

    /// Adds an entry to a compliance list (an entry already there stays once).
    pub async fn compliance_add(
        &self,
        list: &str,
        owner: &str,
        value: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        match &self.inner {
            Backend::Memory(m) => {
                lock(m)
                    .compliance
                    .insert((list.to_owned(), owner.to_owned(), value.to_owned()));
                Ok(())
            }
            Backend::Sql(_, writer, _) => {
                let w = Write::ComplianceAdd {
                    list: list.into(),
                    owner: owner.into(),
                    value: value.into(),
                    at: now_ms,
                };
                submit(writer, w).await
            }
        }
    }

    /// Removes an entry from a compliance list.
    pub async fn compliance_remove(
        &self,
        list: &str,
        owner: &str,
        value: &str,
    ) -> Result<(), StoreError> {
        match &self.inner {
            Backend::Memory(m) => {
                lock(m)
                    .compliance
                    .remove(&(list.to_owned(), owner.to_owned(), value.to_owned()));
                Ok(())
            }
            Backend::Sql(_, writer, _) => {
                let w = Write::ComplianceRemove {
                    list: list.into(),
                    owner: owner.into(),
                    value: value.into(),
                };
                submit(writer, w).await
            }
        }
    }

    /// Saves a schedule (new or fired).
    pub async fn save_schedule(&self, schedule: &Schedule) -> Result<(), StoreError> {
        match &self.inner {
            Backend::Memory(m) => {
                lock(m)
                    .schedules
                    .insert(schedule.id.clone(), schedule.clone());
                Ok(())
            }
            Backend::Sql(_, writer, _) => {
                let w = Write::Schedule {
                    id: schedule.id.clone(),
                    at: schedule.at.as_millis(),
                    pending: schedule.state == ScheduleState::Pending,
                    snapshot: serde_json::to_string(schedule)
                        .expect("a Schedule always serializes"),
                };
                submit(writer, w).await
            }
        }
    }

    /// Schedules, earliest first; only the pending ones if `pending_only`.
    pub async fn schedules(&self, pending_only: bool) -> Result<Vec<Schedule>, StoreError> {
        let mut out: Vec<Schedule> = match &self.inner {
            Backend::Memory(m) => lock(m).schedules.values().cloned().collect(),
            Backend::Sql(pool, ..) => {
                let rows = sqlx::query(
                    "SELECT snapshot FROM schedules WHERE pending >= $1 ORDER BY at, id",
                )
                .bind(i64::from(pending_only))
                .fetch_all(pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        let s: String = r.try_get("snapshot")?;
                        serde_json::from_str(&s).map_err(|e| StoreError::Corrupt("schedule", e))
                    })
                    .collect::<Result<_, StoreError>>()?
            }
        };
        out.retain(|s| !pending_only || s.state == ScheduleState::Pending);
        out.sort_by_key(|s| (s.at, s.id.clone()));
        Ok(out)
    }

    /// Records a non-call transaction.
    pub async fn save_txn(&self, txn: &Txn) -> Result<(), StoreError> {
        match &self.inner {
            Backend::Memory(m) => {
                lock(m).txns.insert(txn.id.clone(), txn.clone());
                Ok(())
            }
            Backend::Sql(_, writer, _) => {
                let w = Write::Txn {
                    id: txn.id.clone(),
                    kind: txn.kind.clone(),
                    customer: txn.customer.clone(),
                    created_at: txn.created_at,
                    snapshot: serde_json::to_string(txn).expect("a Txn always serializes"),
                };
                submit(writer, w).await
            }
        }
    }

    /// A non-call transaction.
    pub async fn txn(&self, id: &str) -> Result<Option<Txn>, StoreError> {
        match &self.inner {
            Backend::Memory(m) => Ok(lock(m).txns.get(id).cloned()),
            Backend::Sql(pool, ..) => {
                let row = sqlx::query("SELECT snapshot FROM transactions WHERE id = $1")
                    .bind(id.to_owned())
                    .fetch_optional(pool)
                    .await?;
                row.map(|r| {
                    let s: String = r.try_get("snapshot")?;
                    serde_json::from_str(&s).map_err(|e| StoreError::Corrupt("transaction", e))
                })
                .transpose()
            }
        }
    }

    /// A customer's non-call transactions, oldest first.
    pub async fn txns_of(&self, customer: &str) -> Result<Vec<Txn>, StoreError> {
        let mut out: Vec<Txn> = match &self.inner {
            Backend::Memory(m) => lock(m)
                .txns
                .values()
                .filter(|t| t.customer == customer)
                .cloned()
                .collect(),
            Backend::Sql(pool, ..) => {
                let rows = sqlx::query("SELECT snapshot FROM transactions WHERE customer = $1")
                    .bind(customer.to_owned())
                    .fetch_all(pool)
                    .await?;
                rows.iter()
                    .map(|r| {
                        let s: String = r.try_get("snapshot")?;
                        serde_json::from_str(&s).map_err(|e| StoreError::Corrupt("transaction", e))
                    })
                    .collect::<Result<_, StoreError>>()?
            }
        };
        out.sort_by_key(|t| (t.created_at, t.id.clone()));
        Ok(out)
    }

    /// Links two transactions (either may be a call), both ways.
    pub async fn link(&self, a: &str, b: &str, now_ms: i64) -> Result<(), StoreError> {
        match &self.inner {
            Backend::Memory(m) => {
                let mut m = lock(m);
                m.links.insert((a.to_owned(), b.to_owned()));
                m.links.insert((b.to_owned(), a.to_owned()));
                Ok(())
            }
            Backend::Sql(_, writer, _) => {
                submit(
                    writer,
                    Write::Link {
                        a: a.into(),
                        b: b.into(),
                        at: now_ms,
                    },
                )
                .await
            }
        }
    }

    /// The transactions linked to one.
    pub async fn links(&self, id: &str) -> Result<Vec<String>, StoreError> {
        match &self.inner {
            Backend::Memory(m) => Ok(lock(m)
                .links
                .iter()
                .filter(|(a, _)| a == id)
                .map(|(_, b)| b.clone())
                .collect()),
            Backend::Sql(pool, ..) => {
                let rows = sqlx::query("SELECT b FROM txn_links WHERE a = $1 ORDER BY b")
                    .bind(id.to_owned())
                    .fetch_all(pool)
                    .await?;
                Ok(rows
                    .iter()
                    .map(|r| r.try_get("b"))
                    .collect::<Result<_, _>>()?)
            }
        }
    }

    /// Keeps the configuration the process runs with (JSON), replacing the previous one.
    pub async fn save_config(&self, body: &str, now_ms: i64) -> Result<(), StoreError> {
        match &self.inner {
            Backend::Memory(m) => {
                lock(m).config = Some(body.to_owned());
                Ok(())
            }
            Backend::Sql(_, writer, _) => {
                submit(
                    writer,
                    Write::Config {
                        body: body.to_owned(),
                        loaded_at: now_ms,
                    },
                )
                .await
            }
        }
    }

    /// The configuration last saved.
    pub async fn load_config(&self) -> Result<Option<String>, StoreError> {
        match &self.inner {
            Backend::Memory(m) => Ok(lock(m).config.clone()),
            Backend::Sql(pool, ..) => {
                let row = sqlx::query("SELECT body FROM config WHERE id = 'current'")
                    .fetch_optional(pool)
                    .await?;
                Ok(row.map(|r| r.try_get("body")).transpose()?)
            }
        }
    }
}

fn enum_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn lock(m: &Mutex<Memory>) -> std::sync::MutexGuard<'_, Memory> {
    // A panic while holding this lock can only come from a bug in this module; the data is
    // plain maps that stay consistent, so keep serving.
    m.lock().unwrap_or_else(|e| e.into_inner())
}
