//! The database's schema: numbered migrations, each applied once, in its own transaction,
//! recorded in `schema_version`. SQL both SQLite and PostgreSQL accept.

use super::{calls, history, StoreError};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Connection, Row};

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
    (
        11,
        // Transcript lines and alerts get a key made of what identifies them, so that a write
        // replayed after a commit whose outcome was unknown does not store them twice. Rows
        // stored before have none (NULLs never conflict). And the outbox is pruned by age.
        "ALTER TABLE transcripts ADD COLUMN row_key TEXT;
        CREATE UNIQUE INDEX transcripts_by_key ON transcripts (row_key);
        ALTER TABLE transcript_alerts ADD COLUMN row_key TEXT;
        CREATE UNIQUE INDEX transcript_alerts_by_key ON transcript_alerts (row_key);
        CREATE INDEX crm_outbox_by_age ON crm_outbox (state, updated_at);",
    ),
    (
        12,
        // An agent's status history in blocks, the changes since its last block in its row
        // (see `history.rs`). `agent_status_history` keeps the rows written before, read with
        // the rest; nothing is written to it any more. `recent` is empty until the agent's
        // next save.
        "ALTER TABLE agents ADD COLUMN recent TEXT NOT NULL DEFAULT '';
        CREATE TABLE agent_status_blocks (
            agent TEXT NOT NULL,
            first_seq BIGINT NOT NULL,
            last_seq BIGINT NOT NULL,
            changes TEXT NOT NULL,
            PRIMARY KEY (agent, first_seq)
        );",
    ),
    (
        13,
        // A call's journey entries, one row each, appended as the call goes (see
        // `calls.rs`); the calls' snapshots leave the journey out. The entries of calls
        // stored before are moved here from their snapshots ([`calls::move_journeys`]).
        "CREATE TABLE call_journey (
            call TEXT NOT NULL,
            seq BIGINT NOT NULL,
            entry TEXT NOT NULL,
            PRIMARY KEY (call, seq)
        );",
    ),
    (
        14,
        // An agent's status history, one row a change keyed by time first, chained from the
        // agent's row (see `history.rs`). The changes her row held (`recent`) are moved here
        // ([`history::move_recent`]); what `agent_status_blocks` and `agent_status_history`
        // hold is read after it; nothing is written to them any more.
        "ALTER TABLE agents ADD COLUMN last_at BIGINT;
        ALTER TABLE agents ADD COLUMN last_seq BIGINT;
        CREATE TABLE agent_status_log (
            at BIGINT NOT NULL,
            agent TEXT NOT NULL,
            seq BIGINT NOT NULL,
            prev_at BIGINT,
            entry TEXT NOT NULL,
            PRIMARY KEY (at, agent, seq)
        );",
    ),
];

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
        match version {
            13 => calls::move_journeys(&mut tx).await?,
            14 => history::move_recent(&mut tx).await?,
            _ => {}
        }
        sqlx::query("INSERT INTO schema_version (version) VALUES ($1)")
            .bind(*version)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(())
}

/// The rows a migration's data step moves, a page at a time by id: `sql` selects them with an
/// `id` column, after the id `$1` (in their order), at most `$2` of them.
pub(super) struct Pages {
    sql: &'static str,
    after: String,
}

impl Pages {
    /// How many rows one page holds.
    const PAGE: i64 = 500;

    pub(super) fn new(sql: &'static str) -> Self {
        Self {
            sql,
            after: String::new(),
        }
    }

    /// The next page, `None` once every row was read.
    pub(super) async fn next(
        &mut self,
        conn: &mut AnyConnection,
    ) -> Result<Option<Vec<AnyRow>>, StoreError> {
        let rows = sqlx::query(self.sql)
            .bind(self.after.clone())
            .bind(Self::PAGE)
            .fetch_all(conn)
            .await?;
        let Some(last) = rows.last() else {
            return Ok(None);
        };
        self.after = last.try_get("id")?;
        Ok(Some(rows))
    }
}
