//! The write path: every write goes to one writer task that groups whatever is waiting into
//! one transaction (group commit) and answers each writer once it committed.
//!
//! Every write is idempotent (an upsert, or an insert that does nothing when its key is
//! there): when a batch fails, its writes are applied again one by one, and a commit whose
//! outcome was unknown (the connection lost while committing) may have stored them already.

use super::plan::{merged, plan, Arg};
use super::{SessionRow, StoreError};
use sqlx::{AnyPool, Connection};
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
        /// Without the journey: its entries not stored yet come apart, numbered.
        snapshot: String,
        journey: Vec<(i64, String)>,
    },
    /// An agent's snapshot and the changes of her history not yet saved, each a row of the
    /// log chained to the one before (see [`super::HistoryTail`]).
    Agent {
        id: String,
        snapshot: String,
        /// Her changes not yet saved ([`super::history::Logged`]).
        changes: Vec<super::history::Logged>,
        /// Her last change's time and number, once one is in the log.
        last: Option<(i64, i64)>,
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
    /// The event numbering's reservation moves up; the events numbered up to `trim_through`
    /// are trimmed.
    EventSeq {
        reserved: Option<i64>,
        trim_through: Option<i64>,
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
    pub(super) fn parts(&self) -> Vec<&Write> {
        match self {
            Write::Batch(ws) => ws.iter().flat_map(|w| w.parts()).collect(),
            w => vec![w],
        }
    }
}

/// A write handed to the store and not yet known to be committed ([`super::Store::submit_call`]).
/// Every clone learns the same outcome; the default is a write saved already.
#[derive(Clone, Default)]
pub struct Saving(
    /// None when saved already (the memory store): nothing to wait on, nothing allocated.
    Option<futures::future::Shared<futures::future::BoxFuture<'static, Result<(), String>>>>,
);

impl Saving {
    /// A write handed to the writer, whose outcome `handed` will hear.
    pub(super) fn of(handed: tokio::sync::oneshot::Receiver<Result<(), String>>) -> Saving {
        let outcome = async move {
            handed
                .await
                .unwrap_or_else(|_| Err("the writer task stopped".to_owned()))
        };
        Saving(Some(futures::FutureExt::shared(Box::pin(outcome))))
    }

    /// The outcome, if it is known without waiting.
    pub fn outcome_now(&self) -> Option<Result<(), StoreError>> {
        match &self.0 {
            None => Some(Ok(())),
            Some(f) => {
                futures::FutureExt::now_or_never(f.clone()).map(|r| r.map_err(StoreError::Write))
            }
        }
    }

    /// Waits until the write committed or failed.
    pub async fn outcome(self) -> Result<(), StoreError> {
        match self.0 {
            None => Ok(()),
            Some(f) => f.await.map_err(StoreError::Write),
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
    /// Whether commits wait ([`Faults::hold_commits`]).
    held: tokio::sync::watch::Sender<bool>,
    /// Whether commits that carry an agent's write wait ([`Faults::hold_agent_commits`]).
    agents_held: tokio::sync::watch::Sender<bool>,
    /// Agents' writes handed to the writer so far ([`Faults::agent_writes_reach`]).
    agents_handed: tokio::sync::watch::Sender<u64>,
    /// Calls' writes handed to the writer so far ([`Faults::call_writes_reach`]).
    calls_handed: tokio::sync::watch::Sender<u64>,
    /// The SQLite writer's checkpoints so far ([`Faults::checkpoints_reach`]).
    checkpoints: tokio::sync::watch::Sender<u64>,
}

#[derive(Debug, Default)]
struct FaultState {
    down: bool,
    fail_before_commit: u32,
    fail_call_writes: u32,
    /// Calls' writes in a state that fail, and how many more ([`Faults::fail_call_writes_in`]).
    fail_calls_in: Option<(&'static str, u32)>,
    fail_agent_writes: u32,
    lose_commit_outcome: u32,
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

    /// The next `n` transactions that carry a call's write fail instead of committing, as
    /// [`Faults::fail_before_commit`] says, and the others go through.
    pub fn fail_call_writes(&self, n: u32) {
        self.with(|s| s.fail_call_writes = n);
    }

    /// The next `n` transactions that carry the write of a call in `state` (an offer's:
    /// `Offering`) fail instead of committing, and the others go through.
    pub fn fail_call_writes_in(&self, state: engine::call::CallState, n: u32) {
        self.with(|s| s.fail_calls_in = Some((state.as_str(), n)));
    }

    /// The next `n` transactions that carry an agent's write (alone or with others; one that
    /// also carries a call's is counted by [`Faults::fail_call_writes`] first, if that is set)
    /// fail instead of committing, and the others go through.
    pub fn fail_agent_writes(&self, n: u32) {
        self.with(|s| s.fail_agent_writes = n);
    }

    /// The next `n` transactions commit, then report a failure, as when the connection is lost
    /// while the database commits: the writer cannot know they were stored.
    pub fn lose_commit_outcome(&self, n: u32) {
        self.with(|s| s.lose_commit_outcome = n);
    }

    /// While held, every transaction runs its statements and then waits to commit until the
    /// commits are let go: a database slower than any caller waits, for as long as a test
    /// needs it to be.
    pub fn hold_commits(&self, held: bool) {
        self.held.send_replace(held);
    }

    /// While held, the transactions that carry an agent's write (a status, a reservation)
    /// wait to commit, and the others go through: an agent actor stays in the middle of a
    /// step for as long as a test needs it to.
    pub fn hold_agent_commits(&self, held: bool) {
        self.agents_held.send_replace(held);
    }

    /// Waits while the commits of `writes` are held.
    pub(super) async fn commit_released(&self, writes: &[&Write]) {
        // The senders are this struct's own: a wait ends only when the commits are let go.
        let _ = self.held.subscribe().wait_for(|h| !*h).await;
        if writes.iter().any(|w| matches!(w, Write::Agent { .. })) {
            let _ = self.agents_held.subscribe().wait_for(|h| !*h).await;
        }
    }

    /// The writer task panics at its next transaction (it is restarted).
    pub fn panic_next(&self) {
        self.with(|s| s.panic_next = true);
    }

    /// Counts an agent's write handed to the writer.
    pub(super) fn agent_write_handed(&self) {
        self.agents_handed.send_modify(|n| *n += 1);
    }

    /// Agents' writes (statuses, reservations) handed to the writer so far, committed or not.
    pub fn agent_writes(&self) -> u64 {
        *self.agents_handed.borrow()
    }

    /// Waits until `n` agents' writes in all were handed to the writer (an agent actor is in
    /// the middle of a step, its write maybe held); `false` if not within `deadline`.
    pub async fn agent_writes_reach(&self, n: u64, deadline: std::time::Duration) -> bool {
        reach(&self.agents_handed, n, deadline).await
    }

    /// Counts a call's write handed to the writer.
    pub(super) fn call_write_handed(&self) {
        self.calls_handed.send_modify(|n| *n += 1);
    }

    /// Calls' writes (creations, steps) handed to the writer so far, committed or not.
    pub fn call_writes(&self) -> u64 {
        *self.calls_handed.borrow()
    }

    /// Waits until `n` calls' writes in all were handed to the writer; `false` if not within
    /// `deadline`.
    pub async fn call_writes_reach(&self, n: u64, deadline: std::time::Duration) -> bool {
        reach(&self.calls_handed, n, deadline).await
    }

    /// Transactions the writer attempted so far (each replay counts).
    pub fn transactions(&self) -> u64 {
        *self.attempted.borrow()
    }

    /// Waits until the writer has attempted `n` transactions in all (each replay and each
    /// refused one counts); `false` if that did not happen within `deadline`.
    pub async fn transactions_reach(&self, n: u64, deadline: std::time::Duration) -> bool {
        reach(&self.attempted, n, deadline).await
    }

    /// Counts a checkpoint the SQLite writer ran (its log copied back into the file).
    pub(super) fn checkpointed(&self) {
        self.checkpoints.send_modify(|n| *n += 1);
    }

    /// Waits until the SQLite writer has copied its log back into the file `n` times in all;
    /// `false` if not within `deadline` (never, on PostgreSQL).
    pub async fn checkpoints_reach(&self, n: u64, deadline: std::time::Duration) -> bool {
        reach(&self.checkpoints, n, deadline).await
    }
}

/// What an injected fault reports (either writer).
pub(super) fn injected_text(what: &str) -> String {
    format!("injected fault: {what}")
}

fn injected(what: &str) -> sqlx::Error {
    sqlx::Error::Protocol(injected_text(what))
}

pub(super) const FAILED_BEFORE_COMMIT: &str = "the transaction failed before its commit";
pub(super) const OUTCOME_LOST: &str = "the commit's outcome was lost";

/// What a transaction does at its commit, as the injected faults say.
pub(super) enum Commit {
    Go,
    /// Roll back and report a failure.
    Fail,
    /// Commit and report a failure.
    Lose,
}

impl Faults {
    /// Counts a transaction and checks the faults that stop it before it starts: an error
    /// if the database is down.
    pub(super) fn before_transaction(&self) -> Result<(), String> {
        self.attempted.send_modify(|t| *t += 1);
        let (down, panic) = self.with(|s| (s.down, std::mem::take(&mut s.panic_next)));
        // An injected bug: the supervision of the writer is what is tested.
        assert!(!panic, "injected fault: the writer task panics");
        if down {
            return Err(injected_text("the database is down"));
        }
        Ok(())
    }

    /// What the transaction about to commit does.
    pub(super) fn at_commit(&self, writes: &[&Write]) -> Commit {
        let call = writes.iter().any(|w| matches!(w, Write::Call { .. }));
        let in_state = |s: &str| {
            writes
                .iter()
                .any(|w| matches!(w, Write::Call { state, .. } if state == s))
        };
        let agent = writes.iter().any(|w| matches!(w, Write::Agent { .. }));
        self.with(|s| {
            if s.fail_before_commit > 0 {
                s.fail_before_commit -= 1;
                Commit::Fail
            } else if call && s.fail_call_writes > 0 {
                s.fail_call_writes -= 1;
                Commit::Fail
            } else if s
                .fail_calls_in
                .is_some_and(|(state, n)| n > 0 && in_state(state))
            {
                if let Some((_, n)) = &mut s.fail_calls_in {
                    *n -= 1;
                }
                Commit::Fail
            } else if agent && s.fail_agent_writes > 0 {
                s.fail_agent_writes -= 1;
                Commit::Fail
            } else if s.lose_commit_outcome > 0 {
                s.lose_commit_outcome -= 1;
                Commit::Lose
            } else {
                Commit::Go
            }
        })
    }
}

/// Waits until the count `handed` reaches `n`; `false` if not within `deadline`.
async fn reach(
    handed: &tokio::sync::watch::Sender<u64>,
    n: u64,
    deadline: std::time::Duration,
) -> bool {
    let mut rx = handed.subscribe();
    let reached = tokio::time::timeout(deadline, rx.wait_for(|t| *t >= n)).await;
    reached.is_ok_and(|r| r.is_ok())
}

/// How many writes one transaction may carry.
pub(super) const MAX_BATCH: usize = 512;

/// Values one merged statement may carry (PostgreSQL takes 65,535, SQLite 32,766).
const MAX_ARGS: usize = 30_000;

/// Hands a write to the writer task and waits until its transaction committed.
pub(super) async fn submit(writer: &mpsc::Sender<Job>, write: Write) -> Result<(), StoreError> {
    committed(hand_over(writer, write).await?).await
}

/// Hands a write to the writer task (which commits writes in the order they are handed over);
/// the receiver hears once its transaction committed or failed.
///
/// The sending future is boxed: it holds the write and the channel's permit request (816
/// bytes), and every store method awaiting it, on either backend, would otherwise be that
/// large, and so would each actor's step awaiting one. A step's future is moved whole when it
/// is passed on (into ractor's handler, its `select!`, a box), so the memory store, which
/// never sends, copied that kilobyte at every store call (`memcpy` is about a tenth of the
/// routing benchmark's instructions).
pub(super) fn hand_over(
    writer: &mpsc::Sender<Job>,
    write: Write,
) -> futures::future::BoxFuture<'_, Result<oneshot::Receiver<Result<(), String>>, StoreError>> {
    Box::pin(async move {
        let (tx, rx) = oneshot::channel();
        writer
            .send((write, tx))
            .await
            .map_err(|_| StoreError::Write("the writer task stopped".into()))?;
        Ok(rx)
    })
}

/// The outcome of a write handed over.
pub(super) async fn committed(rx: oneshot::Receiver<Result<(), String>>) -> Result<(), StoreError> {
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
                    let _ = done.send(outcome);
                }
            }
        }
    }
}

/// Applies writes in one transaction through sqlx (PostgreSQL, and an in-memory SQLite
/// database, which exists only on the pool's connection).
async fn apply(pool: &AnyPool, faults: &Faults, writes: &[&Write]) -> Result<(), String> {
    faults.before_transaction()?;
    // Each statement is a round trip to PostgreSQL: inserts of one shape go as one.
    let stmts = merged(plan(writes), MAX_ARGS);
    let run = async {
        let mut conn = pool.acquire().await?;
        let mut tx = conn.begin().await?;
        for s in &stmts {
            let mut q = sqlx::query(&s.sql);
            for a in &s.args {
                q = match a {
                    Arg::Int(i) => q.bind(*i),
                    Arg::Text(t) => q.bind(t.as_ref()),
                    Arg::NullText => q.bind(None::<&str>),
                    Arg::NullInt => q.bind(None::<i64>),
                };
            }
            q.execute(&mut *tx).await?;
        }
        faults.commit_released(writes).await;
        match faults.at_commit(writes) {
            Commit::Fail => {
                tx.rollback().await?;
                Err(injected(FAILED_BEFORE_COMMIT))
            }
            Commit::Lose => {
                tx.commit().await?;
                Err(injected(OUTCOME_LOST))
            }
            Commit::Go => tx.commit().await,
        }
    };
    run.await.map_err(|e: sqlx::Error| e.to_string())
}
