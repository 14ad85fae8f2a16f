//! The write path: every write goes to one writer task that groups whatever is waiting into
//! one transaction (group commit) and answers each writer once it committed.
//!
//! Every write is idempotent (an upsert, or an insert that does nothing when its key is
//! there): when a batch fails, its writes are applied again one by one, and a commit whose
//! outcome was unknown (the connection lost while committing) may have stored them already.

use super::{enum_name, SessionRow, StoreError};
use engine::agent::StatusChange;
use sqlx::{AnyPool, Connection, Row};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// One write, as the writer task applies it.
pub(super) enum Write {
    Call {
        id: String,
        queue: String,
        state: String,
        result: Option<String>,
        agent: Option<String>,
        from: String,
        created_at: i64,
        updated_at: i64,
        snapshot: String,
    },
    Agent {
        id: String,
        snapshot: String,
        changes: Vec<StatusChange>,
        first_seq: i64,
        updated_at: i64,
    },
    Session(SessionRow),
    /// A session was used at `at`.
    SessionSeen {
        token: String,
        at: i64,
    },
    /// Sessions ended: one token, or every session of a user.
    SessionEnd {
        token: Option<String>,
        username: Option<String>,
    },
    /// Sessions past their expiry are removed.
    SessionPurge {
        created_before: i64,
        seen_before: i64,
    },
    Txn {
        id: String,
        kind: String,
        customer: String,
        created_at: i64,
        snapshot: String,
    },
    Link {
        a: String,
        b: String,
        at: i64,
    },
    Schedule {
        id: String,
        at: i64,
        pending: bool,
        snapshot: String,
    },
    ComplianceAdd {
        list: String,
        owner: String,
        value: String,
        at: i64,
    },
    ComplianceRemove {
        list: String,
        owner: String,
        value: String,
    },
    Config {
        body: String,
        loaded_at: i64,
    },
    Transcript(super::TranscriptRow),
    Alert(super::AlertRow),
    Outbox(super::OutboxRow),
    /// A new payload and due time for an outbox row never attempted yet (a no-op otherwise).
    OutboxRefresh {
        key: String,
        payload: String,
        next_at: i64,
        updated_at: i64,
    },
    /// An answer to a command with an `Idempotency-Key`; older ones are forgotten.
    Idempotent {
        row: super::IdempotentRow,
        forget_before: i64,
    },
    /// Events appended to the event log.
    Events(Vec<super::EventRow>),
    /// The event numbering's reservation moves up; the log keeps its newest `keep` events.
    EventSeq {
        reserved: Option<i64>,
        keep: Option<i64>,
    },
    /// Writes that commit together (a call's last snapshot with its CRM logs).
    Batch(Vec<Write>),
    /// Nothing: a probe that the write path commits (`/health`).
    Ping,
    /// Outbox rows done with before `before` are pruned (see `Store::outbox_prune`).
    OutboxPrune {
        before: i64,
    },
}

impl Write {
    /// The writes this one stands for: a batch's parts, else itself.
    fn parts(&self) -> Vec<&Write> {
        match self {
            Write::Batch(ws) => ws.iter().flat_map(|w| w.parts()).collect(),
            w => vec![w],
        }
    }
}

pub(super) type Job = (Write, oneshot::Sender<Result<(), String>>);

/// Faults injected at the store boundary, for tests of what the engine does when its database
/// fails ([`super::Store::faults`]). The program itself never sets any.
#[derive(Debug, Default)]
pub struct Faults {
    state: std::sync::Mutex<FaultState>,
    /// Transactions attempted so far (each replay counts), for tests to wait on.
    attempted: tokio::sync::watch::Sender<u64>,
}

#[derive(Debug, Default)]
struct FaultState {
    down: bool,
    fail_before_commit: u32,
    lose_commit_outcome: u32,
    slow_commit: Option<std::time::Duration>,
    panic_next: bool,
}

impl Faults {
    fn with<T>(&self, f: impl FnOnce(&mut FaultState) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The database is gone (or back): every transaction fails before it starts.
    pub fn set_down(&self, down: bool) {
        self.with(|s| s.down = down);
    }

    /// The next `n` transactions run their statements, then fail instead of committing
    /// (rolled back: nothing of them is stored).
    pub fn fail_before_commit(&self, n: u32) {
        self.with(|s| s.fail_before_commit = n);
    }

    /// The next `n` transactions commit, then report a failure, as when the connection is lost
    /// while the database commits: the writer cannot know they were stored.
    pub fn lose_commit_outcome(&self, n: u32) {
        self.with(|s| s.lose_commit_outcome = n);
    }

    /// Every commit takes this much longer (`None`: as fast as the database).
    pub fn slow_commits(&self, by: Option<std::time::Duration>) {
        self.with(|s| s.slow_commit = by);
    }

    /// The writer task panics at its next transaction (it is restarted).
    pub fn panic_next(&self) {
        self.with(|s| s.panic_next = true);
    }

    /// Transactions the writer attempted so far (each replay counts).
    pub fn transactions(&self) -> u64 {
        *self.attempted.borrow()
    }

    /// Waits until the writer has attempted `n` transactions in all (each replay and each
    /// refused one counts); `false` if that did not happen within `deadline`.
    pub async fn transactions_reach(&self, n: u64, deadline: std::time::Duration) -> bool {
        let mut rx = self.attempted.subscribe();
        let reached = tokio::time::timeout(deadline, rx.wait_for(|t| *t >= n)).await;
        reached.is_ok_and(|r| r.is_ok())
    }
}

fn injected(what: &str) -> sqlx::Error {
    sqlx::Error::Protocol(format!("injected fault: {what}"))
}

/// How many writes one transaction may carry.
pub(super) const MAX_BATCH: usize = 512;

/// Hands a write to the writer task and waits until its transaction committed.
pub(super) async fn submit(writer: &mpsc::Sender<Job>, write: Write) -> Result<(), StoreError> {
    let (tx, rx) = oneshot::channel();
    writer
        .send((write, tx))
        .await
        .map_err(|_| StoreError::Write("the writer task stopped".into()))?;
    rx.await
        .map_err(|_| StoreError::Write("the writer task stopped".into()))?
        .map_err(StoreError::Write)
}

/// The writer task: group commit. It takes every write waiting (up to [`MAX_BATCH`]) into one
/// transaction, and answers each writer once that transaction committed, so an acknowledged
/// write is durable while thousands of actors share the cost of a commit. If a batch fails,
/// its writes are retried one by one so that one bad write fails alone.
///
/// The task is supervised: if it panics, the writes of the batch it held fail (their writers
/// are told, nothing of them is acknowledged) and a new task takes the same queue of writes.
pub(super) async fn supervised_writer(pool: AnyPool, faults: Arc<Faults>, rx: mpsc::Receiver<Job>) {
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    loop {
        let task = tokio::spawn(writer(pool.clone(), faults.clone(), rx.clone()));
        match task.await {
            // Every store handle is gone: nothing more to write.
            Ok(()) => return,
            Err(e) if e.is_panic() => {
                tracing::error!("the store's writer task panicked: restarted");
            }
            Err(_) => return,
        }
    }
}

async fn writer(
    pool: AnyPool,
    faults: Arc<Faults>,
    rx: Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>,
) {
    let mut rx = rx.lock().await;
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let writes: Vec<&Write> = batch.iter().flat_map(|(w, _)| w.parts()).collect();
        match apply(&pool, &faults, &writes).await {
            Ok(()) => {
                for (_, done) in batch.drain(..) {
                    let _ = done.send(Ok(()));
                }
            }
            Err(_) => {
                for (w, done) in batch.drain(..) {
                    let outcome = apply(&pool, &faults, &w.parts()).await;
                    let _ = done.send(outcome.map_err(|e| e.to_string()));
                }
            }
        }
    }
}

/// Applies writes in one transaction. Per call and per agent only the batch's last snapshot
/// is written (earlier ones would be overwritten in the same transaction anyway); every
/// history row is kept. Each statement has one fixed shape, so it is prepared once per
/// connection and reused.
async fn apply(pool: &AnyPool, faults: &Faults, writes: &[&Write]) -> Result<(), sqlx::Error> {
    faults.attempted.send_modify(|t| *t += 1);
    let (down, slow, panic) =
        faults.with(|s| (s.down, s.slow_commit, std::mem::take(&mut s.panic_next)));
    // An injected bug: the supervision of the writer task is what is tested.
    assert!(!panic, "injected fault: the writer task panics");
    if down {
        return Err(injected("the database is down"));
    }
    let last_snapshot = |i: usize| {
        let later_same = |w: &&Write| match (writes[i], *w) {
            (Write::Call { id: a, .. }, Write::Call { id: b, .. }) => a == b,
            (Write::Agent { id: a, .. }, Write::Agent { id: b, .. }) => a == b,
            _ => false,
        };
        !writes[i + 1..].iter().any(later_same)
    };
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    for (i, w) in writes.iter().enumerate() {
        match w {
            Write::Call {
                id,
                queue,
                state,
                result,
                agent,
                from,
                created_at,
                updated_at,
                snapshot,
            } => {
                if !last_snapshot(i) {
                    continue;
                }
                sqlx::query(
                    "INSERT INTO calls (id, queue, state, result, agent, from_number, created_at, updated_at, snapshot)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                     ON CONFLICT (id) DO UPDATE SET queue = excluded.queue, state = excluded.state,
                       result = excluded.result, agent = excluded.agent, updated_at = excluded.updated_at,
                       snapshot = excluded.snapshot",
                )
                .bind(id.as_str())
                .bind(queue.as_str())
                .bind(state.as_str())
                .bind(result.clone())
                .bind(agent.clone())
                .bind(from.as_str())
                .bind(*created_at)
                .bind(*updated_at)
                .bind(snapshot.as_str())
                .execute(&mut *tx)
                .await?;
            }
            Write::Agent {
                id,
                snapshot,
                changes,
                first_seq,
                updated_at,
            } => {
                for (k, c) in changes.iter().enumerate() {
                    sqlx::query(
                        "INSERT INTO agent_status_history (agent, seq, previous, status, reason, at)
                         VALUES ($1, $2, $3, $4, $5, $6)
                         ON CONFLICT (agent, seq) DO NOTHING",
                    )
                    .bind(id.as_str())
                    .bind(first_seq + k as i64)
                    .bind(c.from.as_str())
                    .bind(c.to.as_str())
                    .bind(enum_name(&c.reason))
                    .bind(c.at.as_millis())
                    .execute(&mut *tx)
                    .await?;
                }
                if !last_snapshot(i) {
                    continue;
                }
                sqlx::query(
                    "INSERT INTO agents (id, snapshot, updated_at) VALUES ($1, $2, $3)
                     ON CONFLICT (id) DO UPDATE SET snapshot = excluded.snapshot, updated_at = excluded.updated_at",
                )
                .bind(id.as_str())
                .bind(snapshot.as_str())
                .bind(*updated_at)
                .execute(&mut *tx)
                .await?;
            }
            Write::Txn {
                id,
                kind,
                customer,
                created_at,
                snapshot,
            } => {
                sqlx::query(
                    "INSERT INTO transactions (id, kind, customer, created_at, snapshot) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (id) DO NOTHING",
                )
                .bind(id.as_str())
                .bind(kind.as_str())
                .bind(customer.as_str())
                .bind(*created_at)
                .bind(snapshot.as_str())
                .execute(&mut *tx)
                .await?;
            }
            Write::Link { a, b, at } => {
                for (x, y) in [(a, b), (b, a)] {
                    sqlx::query("INSERT INTO txn_links (a, b, created_at) VALUES ($1, $2, $3) ON CONFLICT (a, b) DO NOTHING")
                        .bind(x.as_str())
                        .bind(y.as_str())
                        .bind(*at)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            Write::Schedule {
                id,
                at,
                pending,
                snapshot,
            } => {
                sqlx::query(
                    "INSERT INTO schedules (id, at, pending, snapshot) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (id) DO UPDATE SET at = excluded.at, pending = excluded.pending,
                       snapshot = excluded.snapshot",
                )
                .bind(id.as_str())
                .bind(*at)
                .bind(i64::from(*pending))
                .bind(snapshot.as_str())
                .execute(&mut *tx)
                .await?;
            }
            Write::ComplianceAdd {
                list,
                owner,
                value,
                at,
            } => {
                sqlx::query(
                    "INSERT INTO compliance (list, owner, value, created_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (list, owner, value) DO NOTHING",
                )
                .bind(list.as_str())
                .bind(owner.as_str())
                .bind(value.as_str())
                .bind(*at)
                .execute(&mut *tx)
                .await?;
            }
            Write::ComplianceRemove { list, owner, value } => {
                sqlx::query("DELETE FROM compliance WHERE list = $1 AND owner = $2 AND value = $3")
                    .bind(list.as_str())
                    .bind(owner.as_str())
                    .bind(value.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            Write::Session(s) => {
                sqlx::query(
                    "INSERT INTO sessions (token, username, created_at, last_seen_at)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (token) DO NOTHING",
                )
                .bind(s.token.as_str())
                .bind(s.username.as_str())
                .bind(s.created_at)
                .bind(s.last_seen_at)
                .execute(&mut *tx)
                .await?;
            }
            Write::SessionSeen { token, at } => {
                sqlx::query(
                    "UPDATE sessions SET last_seen_at = $2 WHERE token = $1 AND last_seen_at < $2",
                )
                .bind(token.as_str())
                .bind(*at)
                .execute(&mut *tx)
                .await?;
            }
            Write::SessionEnd { token, username } => {
                sqlx::query("DELETE FROM sessions WHERE token = $1 OR username = $2")
                    .bind(token.as_deref())
                    .bind(username.as_deref())
                    .execute(&mut *tx)
                    .await?;
            }
            Write::SessionPurge {
                created_before,
                seen_before,
            } => {
                sqlx::query("DELETE FROM sessions WHERE created_at < $1 OR last_seen_at < $2")
                    .bind(*created_before)
                    .bind(*seen_before)
                    .execute(&mut *tx)
                    .await?;
            }
            Write::Outbox(r) => {
                sqlx::query(
                    "INSERT INTO crm_outbox (key, call_id, version, connector, payload, state,
                        attempts, next_at, last_error, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                     ON CONFLICT (key) DO UPDATE SET payload = excluded.payload,
                        state = excluded.state,
                        attempts = excluded.attempts, next_at = excluded.next_at,
                        last_error = excluded.last_error, updated_at = excluded.updated_at",
                )
                .bind(r.key.as_str())
                .bind(r.call_id.as_str())
                .bind(r.version)
                .bind(r.connector.as_str())
                .bind(r.payload.as_str())
                .bind(r.state.as_str())
                .bind(r.attempts)
                .bind(r.next_at)
                .bind(r.last_error.as_deref())
                .bind(r.created_at)
                .bind(r.updated_at)
                .execute(&mut *tx)
                .await?;
            }
            // The writer applies a batch's parts in its place.
            Write::Batch(_) | Write::Ping => {}
            Write::OutboxPrune { before } => {
                sqlx::query(
                    "DELETE FROM crm_outbox WHERE state IN ('delivered', 'superseded')
                        AND updated_at < $1 AND EXISTS (SELECT 1 FROM crm_outbox n
                            WHERE n.call_id = crm_outbox.call_id
                            AND n.connector = crm_outbox.connector
                            AND n.version > crm_outbox.version)",
                )
                .bind(*before)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE crm_outbox SET state = 'pruned', payload = ''
                     WHERE state IN ('delivered', 'superseded') AND updated_at < $1",
                )
                .bind(*before)
                .execute(&mut *tx)
                .await?;
            }
            Write::Transcript(r) => {
                sqlx::query(
                    "INSERT INTO transcripts (call_id, leg, agent, start_ms, end_ms, text, at, spoken_at,
                        row_key)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                     ON CONFLICT (row_key) DO NOTHING",
                )
                .bind(r.call_id.as_str())
                .bind(r.leg.as_str())
                .bind(r.agent.as_deref())
                .bind(r.start_ms)
                .bind(r.end_ms)
                .bind(r.text.as_str())
                .bind(r.at)
                .bind(r.spoken_at)
                .bind(format!(
                    "{}|{}|{}|{}|{}|{}",
                    r.call_id,
                    r.leg,
                    r.agent.as_deref().unwrap_or(""),
                    r.start_ms,
                    r.end_ms,
                    r.at
                ))
                .execute(&mut *tx)
                .await?;
            }
            Write::Alert(r) => {
                sqlx::query(
                    "INSERT INTO transcript_alerts (call_id, queue, leg, agent, phrase, severity,
                        text, start_ms, end_ms, spoken_at, at, row_key)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                     ON CONFLICT (row_key) DO NOTHING",
                )
                .bind(r.call_id.as_str())
                .bind(r.queue.as_str())
                .bind(r.leg.as_str())
                .bind(r.agent.as_deref())
                .bind(r.phrase.as_str())
                .bind(r.severity.as_str())
                .bind(r.text.as_deref())
                .bind(r.start_ms)
                .bind(r.end_ms)
                .bind(r.spoken_at)
                .bind(r.at)
                .bind(format!(
                    "{}|{}|{}|{}|{}|{}",
                    r.call_id, r.leg, r.phrase, r.start_ms, r.end_ms, r.at
                ))
                .execute(&mut *tx)
                .await?;
            }
            Write::OutboxRefresh {
                key,
                payload,
                next_at,
                updated_at,
            } => {
                // Only a row no attempt has read yet: what was sent stays what is stored.
                sqlx::query(
                    "UPDATE crm_outbox SET payload = $1, next_at = $2, updated_at = $3
                     WHERE key = $4 AND state = 'pending' AND attempts = 0",
                )
                .bind(payload.as_str())
                .bind(*next_at)
                .bind(*updated_at)
                .bind(key.as_str())
                .execute(&mut *tx)
                .await?;
            }
            Write::Idempotent { row, forget_before } => {
                sqlx::query("DELETE FROM idempotency WHERE created_at < $1 OR key = $2")
                    .bind(*forget_before)
                    .bind(row.key.as_str())
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO idempotency (key, fingerprint, status, body, created_at)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(row.key.as_str())
                .bind(row.fingerprint.as_str())
                .bind(row.status)
                .bind(row.body.as_str())
                .bind(row.created_at)
                .execute(&mut *tx)
                .await?;
            }
            Write::Events(rows) => {
                for r in rows {
                    sqlx::query(
                        "INSERT INTO events (seq, at, agents, body) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (seq) DO NOTHING",
                    )
                    .bind(r.seq)
                    .bind(r.at)
                    .bind(serde_json::to_string(&r.agents).expect("strings serialize"))
                    .bind(r.body.as_str())
                    .execute(&mut *tx)
                    .await?;
                }
            }
            Write::EventSeq { reserved, keep } => {
                if let Some(r) = reserved {
                    sqlx::query(
                        "UPDATE event_seq SET reserved = $1 WHERE id = 1 AND reserved < $1",
                    )
                    .bind(*r)
                    .execute(&mut *tx)
                    .await?;
                }
                let below: Option<i64> = match keep {
                    Some(k) => {
                        sqlx::query("SELECT seq FROM events ORDER BY seq DESC LIMIT 1 OFFSET $1")
                            .bind(*k)
                            .fetch_optional(&mut *tx)
                            .await?
                            .map(|r| r.try_get("seq"))
                            .transpose()?
                    }
                    None => None,
                };
                if let Some(t) = below {
                    sqlx::query("DELETE FROM events WHERE seq <= $1")
                        .bind(t)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("UPDATE event_seq SET trimmed = $1 WHERE id = 1 AND trimmed < $1")
                        .bind(t)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            Write::Config { body, loaded_at } => {
                sqlx::query(
                    "INSERT INTO config (id, body, loaded_at) VALUES ('current', $1, $2)
                     ON CONFLICT (id) DO UPDATE SET body = excluded.body, loaded_at = excluded.loaded_at",
                )
                .bind(body.as_str())
                .bind(*loaded_at)
                .execute(&mut *tx)
                .await?;
            }
        }
    }
    if let Some(slow) = slow {
        tokio::time::sleep(slow).await;
    }
    let (fail, lose) = faults.with(|s| {
        let fail = s.fail_before_commit > 0;
        let lose = !fail && s.lose_commit_outcome > 0;
        s.fail_before_commit = s.fail_before_commit.saturating_sub(u32::from(fail));
        s.lose_commit_outcome = s.lose_commit_outcome.saturating_sub(u32::from(lose));
        (fail, lose)
    });
    if fail {
        tx.rollback().await?;
        return Err(injected("the transaction failed before its commit"));
    }
    tx.commit().await?;
    if lose {
        return Err(injected("the commit's outcome was lost"));
    }
    Ok(())
}
