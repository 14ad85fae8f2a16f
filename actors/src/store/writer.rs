//! The write path: every write goes to one writer task that groups whatever is waiting into
//! one transaction (group commit) and answers each writer once it committed; and the schema
//! migrations, applied in version order at connect.

use super::{enum_name, SessionRow, StoreError};
use engine::agent::StatusChange;
use sqlx::{AnyPool, Connection, Row};
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

/// How many writes one transaction may carry.
pub(super) const MAX_BATCH: usize = 512;

const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        "CREATE TABLE calls (
        id TEXT PRIMARY KEY,
        queue TEXT NOT NULL,
        state TEXT NOT NULL,
        result TEXT,
        agent TEXT,
        from_number TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        snapshot TEXT NOT NULL
    );
    CREATE INDEX calls_by_state ON calls (state, created_at);
    CREATE TABLE agents (
        id TEXT PRIMARY KEY,
        snapshot TEXT NOT NULL,
        updated_at BIGINT NOT NULL
    );
    CREATE TABLE agent_status_history (
        agent TEXT NOT NULL,
        seq BIGINT NOT NULL,
        previous TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT NOT NULL,
        at BIGINT NOT NULL,
        PRIMARY KEY (agent, seq)
    );
    CREATE TABLE sessions (
        token TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        created_at BIGINT NOT NULL
    );
    CREATE TABLE config (
        id TEXT PRIMARY KEY,
        body TEXT NOT NULL,
        loaded_at BIGINT NOT NULL
    );",
    ),
    (
        2,
        "CREATE INDEX calls_by_number ON calls (from_number, created_at)",
    ),
    (
        3,
        "CREATE TABLE compliance (
            list TEXT NOT NULL,
            owner TEXT NOT NULL,
            value TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            PRIMARY KEY (list, owner, value)
        )",
    ),
    (
        4,
        "CREATE TABLE schedules (
            id TEXT PRIMARY KEY,
            at BIGINT NOT NULL,
            pending BIGINT NOT NULL,
            snapshot TEXT NOT NULL
        )",
    ),
    (
        5,
        "CREATE TABLE transactions (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            customer TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            snapshot TEXT NOT NULL
        );
        CREATE INDEX transactions_by_customer ON transactions (customer, created_at);
        CREATE TABLE txn_links (
            a TEXT NOT NULL,
            b TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            PRIMARY KEY (a, b)
        );",
    ),
    (
        6,
        "CREATE TABLE transcripts (
            call_id TEXT NOT NULL,
            leg TEXT NOT NULL,
            agent TEXT,
            start_ms BIGINT NOT NULL,
            end_ms BIGINT NOT NULL,
            text TEXT NOT NULL,
            at BIGINT NOT NULL
        );
        CREATE INDEX transcripts_by_call ON transcripts (call_id, start_ms);",
    ),
    (
        7,
        "CREATE TABLE crm_outbox (
            key TEXT PRIMARY KEY,
            call_id TEXT NOT NULL,
            version BIGINT NOT NULL,
            connector TEXT NOT NULL,
            payload TEXT NOT NULL,
            state TEXT NOT NULL,
            attempts BIGINT NOT NULL,
            next_at BIGINT NOT NULL,
            last_error TEXT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        );
        CREATE INDEX crm_outbox_by_state ON crm_outbox (state, next_at);
        CREATE INDEX crm_outbox_by_call ON crm_outbox (call_id, version);",
    ),
    (
        8,
        // Rows stored before `spoken_at` existed take their transcription time instead.
        "ALTER TABLE transcripts ADD COLUMN spoken_at BIGINT;
        UPDATE transcripts SET spoken_at = at;
        CREATE TABLE transcript_alerts (
            call_id TEXT NOT NULL,
            queue TEXT NOT NULL,
            leg TEXT NOT NULL,
            agent TEXT,
            phrase TEXT NOT NULL,
            severity TEXT NOT NULL,
            text TEXT,
            start_ms BIGINT NOT NULL,
            end_ms BIGINT NOT NULL,
            spoken_at BIGINT NOT NULL,
            at BIGINT NOT NULL
        );
        CREATE INDEX transcript_alerts_by_call ON transcript_alerts (call_id, spoken_at);",
    ),
    (
        9,
        // Tokens were stored as given: they are dropped (everyone logs in once more), and from
        // now on `token` holds the SHA-256 of the token, never the token itself.
        "DELETE FROM sessions;
        ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT NOT NULL DEFAULT 0;
        CREATE INDEX sessions_by_user ON sessions (username);",
    ),
    (
        10,
        // The event log for replay (K8) and the numbering's high-water mark.
        "CREATE TABLE events (
            seq BIGINT PRIMARY KEY,
            at BIGINT NOT NULL,
            agents TEXT NOT NULL,
            body TEXT NOT NULL
        );
        CREATE TABLE event_seq (
            id BIGINT PRIMARY KEY,
            reserved BIGINT NOT NULL,
            trimmed BIGINT NOT NULL
        );
        INSERT INTO event_seq (id, reserved, trimmed) VALUES (1, 0, 0);
        CREATE TABLE idempotency (
            key TEXT PRIMARY KEY,
            fingerprint TEXT NOT NULL,
            status BIGINT NOT NULL,
            body TEXT NOT NULL,
            created_at BIGINT NOT NULL
        );
        CREATE INDEX idempotency_by_age ON idempotency (created_at);",
    ),
];

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
pub(super) async fn writer(pool: AnyPool, mut rx: mpsc::Receiver<Job>) {
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
        match apply(&pool, &writes).await {
            Ok(()) => {
                for (_, done) in batch.drain(..) {
                    let _ = done.send(Ok(()));
                }
            }
            Err(_) => {
                for (w, done) in batch.drain(..) {
                    let _ = done.send(apply(&pool, &w.parts()).await.map_err(|e| e.to_string()));
                }
            }
        }
    }
}

/// Applies writes in one transaction. Per call and per agent only the batch's last snapshot
/// is written (earlier ones would be overwritten in the same transaction anyway); every
/// history row is kept. Each statement has one fixed shape, so it is prepared once per
/// connection and reused.
async fn apply(pool: &AnyPool, writes: &[&Write]) -> Result<(), sqlx::Error> {
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
                         VALUES ($1, $2, $3, $4, $5, $6)",
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
                    "INSERT INTO transactions (id, kind, customer, created_at, snapshot) VALUES ($1, $2, $3, $4, $5)",
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
                     VALUES ($1, $2, $3, $4)",
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
            Write::Batch(_) => {}
            Write::Transcript(r) => {
                sqlx::query(
                    "INSERT INTO transcripts (call_id, leg, agent, start_ms, end_ms, text, at, spoken_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(r.call_id.as_str())
                .bind(r.leg.as_str())
                .bind(r.agent.as_deref())
                .bind(r.start_ms)
                .bind(r.end_ms)
                .bind(r.text.as_str())
                .bind(r.at)
                .bind(r.spoken_at)
                .execute(&mut *tx)
                .await?;
            }
            Write::Alert(r) => {
                sqlx::query(
                    "INSERT INTO transcript_alerts (call_id, queue, leg, agent, phrase, severity,
                        text, start_ms, end_ms, spoken_at, at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
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
    tx.commit().await
}

pub(super) async fn migrate(pool: &AnyPool) -> Result<(), StoreError> {
    sqlx::raw_sql("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT PRIMARY KEY)")
        .execute(pool)
        .await?;
    let done: Vec<i64> = sqlx::query("SELECT version FROM schema_version")
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| r.try_get("version"))
        .collect::<Result<_, _>>()?;
    let mut ordered: Vec<&(i64, &str)> = MIGRATIONS.iter().collect();
    ordered.sort_by_key(|(v, _)| *v);
    for (version, sql) in ordered {
        if done.contains(version) {
            continue;
        }
        let mut conn = pool.acquire().await?;
        let mut tx = conn.begin().await?;
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO schema_version (version) VALUES ($1)")
            .bind(*version)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(())
}
