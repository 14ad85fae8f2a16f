//! An agent's status history, stored so that a status change writes no page but those the
//! other changes of its commit write too, and leaves the agent's row the size it was.
//!
//! Each change is one row of `agent_status_log`, keyed `(at, agent, seq)`: keyed by time
//! first, the rows of one commit land side by side at the end of the table, whoever made them.
//! Each row holds the time of the agent's change before it (`prev_at`), and the agent's row the
//! time and number of her last (`last_at`, `last_seq`): her history is read from the newest
//! back, one key looked up after another (a recursive query, as long as the reader asks).
//!
//! Before migration 14 the changes since an agent's last block rode in her row (`recent`),
//! rewritten with every change, and each [`BLOCK`] of them were written out as one row of
//! `agent_status_blocks`, keyed `(agent, first_seq)`; before migration 12 each change was one
//! row of `agent_status_history`, keyed `(agent, seq)`. Keyed by agent, those writes landed
//! on pages scattered through the file, and the rows growing and shrinking with `recent` left
//! the agents' pages less than half full: in the routing benchmark at 2,000 calls/s on SQLite
//! `FULL`, most of the pages each checkpoint copied back. Migration 14 moves the rows' lists
//! into the log ([`move_recent`]); the blocks and the rows stay where they are and are read
//! after it: every change keeps its number, one after another across the three places.

use super::schema::Pages;
use super::{StoreError, Write};
use engine::agent::{ChangeReason, Status, StatusChange};
use engine::{AgentId, Timestamp};
use serde::Deserialize;
use sqlx::{AnyConnection, AnyPool, Row};

/// How many changes one block holds, in the blocks written before migration 14 (at least: a
/// save that brought several may have passed it).
pub const BLOCK: usize = 8;

/// Where an agent's history stands: the number (and, when it is in the log, the time) of her
/// last change saved, and the changes made since, not yet saved. The agent's actor holds it,
/// adds each change and saves it with the agent's snapshot; [`HistoryTail::saved`] moves it on
/// once they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryTail {
    saved_seq: i64,
    saved_at: Option<i64>,
    changes: Vec<StatusChange>,
}

impl HistoryTail {
    /// A tail whose first change will be number `last_seq + 1`, the last saved not in the log.
    pub fn after(last_seq: i64) -> Self {
        Self {
            saved_seq: last_seq,
            saved_at: None,
            changes: Vec::new(),
        }
    }

    /// A tail after the log's change number `last_seq`, made at `last_at`.
    pub(super) fn logged(last_seq: i64, last_at: i64) -> Self {
        Self {
            saved_at: Some(last_at),
            ..Self::after(last_seq)
        }
    }

    /// Adds changes, in the order they happened.
    pub fn extend(&mut self, changes: impl IntoIterator<Item = StatusChange>) {
        self.changes.extend(changes);
    }

    /// The number of the last change, saved or not (0 before any).
    pub fn last_seq(&self) -> i64 {
        self.saved_seq + self.changes.len() as i64
    }

    /// The number of the first change not yet saved.
    pub fn first_seq(&self) -> i64 {
        self.saved_seq + 1
    }

    /// The changes not yet saved, oldest first.
    pub fn changes(&self) -> &[StatusChange] {
        &self.changes
    }

    /// After a successful save: its changes are saved, the last in the log.
    pub fn saved(&mut self) {
        if let Some(last) = self.changes.last() {
            *self = Self::logged(self.last_seq(), last.at.0);
        }
    }
}

/// One change as a log row stores it: the agent, its number and time are the row's keys.
#[derive(Deserialize)]
struct Entry(Status, Status, ChangeReason);

/// A change's [`Entry`] as a log row stores it, written from its parts without copying them.
fn entry_text(from: &Status, to: &Status, reason: &ChangeReason) -> String {
    serde_json::to_string(&(from, to, reason)).expect("a change always serializes")
}

/// A change of the log, ready to write: `(at, seq, prev_at, entry)`.
pub(super) type Logged = (i64, i64, Option<i64>, String);

/// A change as a list of the formats before migration 14 stored it: the agent is the row's,
/// the number its place in the list.
#[derive(Deserialize)]
struct Packed(Status, Status, ChangeReason, i64);

/// The changes an agent's row held before migration 14, not yet in a block
/// ([`move_recent`]).
#[derive(Deserialize)]
struct Recent {
    first: i64,
    changes: Vec<Packed>,
}

fn unpack(
    agent: &AgentId,
    packed: Vec<Packed>,
) -> impl DoubleEndedIterator<Item = StatusChange> + '_ {
    packed
        .into_iter()
        .map(move |Packed(from, to, reason, at)| StatusChange {
            agent: agent.clone(),
            from,
            to,
            at: Timestamp(at),
            reason,
        })
}

/// The write that saves an agent's snapshot with the changes of her history not yet saved,
/// each chained to the one before.
pub(super) fn agent_write(
    id: &AgentId,
    snapshot: String,
    tail: &HistoryTail,
    updated_at: i64,
) -> Write {
    let mut prev_at = tail.saved_at;
    let changes = (tail.first_seq()..)
        .zip(&tail.changes)
        .map(|(seq, c)| {
            let logged = (c.at.0, seq, prev_at, entry_text(&c.from, &c.to, &c.reason));
            prev_at = Some(c.at.0);
            logged
        })
        .collect();
    Write::Agent {
        id: id.as_str().to_owned(),
        snapshot,
        changes,
        last: prev_at.map(|at| (at, tail.last_seq())),
        updated_at,
    }
}

fn corrupt(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt("status history", e)
}

/// The time and number of an agent's last change in the log, if any.
async fn last_logged(pool: &AnyPool, id: &AgentId) -> Result<Option<(i64, i64)>, StoreError> {
    let row = sqlx::query("SELECT last_at, last_seq FROM agents WHERE id = $1")
        .bind(id.as_str().to_owned())
        .fetch_optional(pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let at: Option<i64> = row.try_get("last_at")?;
    let seq: Option<i64> = row.try_get("last_seq")?;
    Ok(at.zip(seq))
}

/// The tail an agent's actor starts from.
pub(super) async fn tail(pool: &AnyPool, id: &AgentId) -> Result<HistoryTail, StoreError> {
    if let Some((at, seq)) = last_logged(pool, id).await? {
        return Ok(HistoryTail::logged(seq, at));
    }
    let row = sqlx::query(
        "SELECT COALESCE((SELECT MAX(last_seq) FROM agent_status_blocks WHERE agent = $1), 0) AS b,
                COALESCE((SELECT MAX(seq) FROM agent_status_history WHERE agent = $1), 0) AS h",
    )
    .bind(id.as_str().to_owned())
    .fetch_one(pool)
    .await?;
    let (b, h): (i64, i64) = (row.try_get("b")?, row.try_get("h")?);
    Ok(HistoryTail::after(b.max(h)))
}

/// Migration 14: the changes each agent's row held (`recent`) become rows of the log, chained
/// as the writer chains them, and her row points at the last. A list this version cannot read
/// is left where it is. An empty list (a block had just been written) needs nothing: the
/// blocks number what comes next.
pub(super) async fn move_recent(conn: &mut AnyConnection) -> Result<(), StoreError> {
    let mut pages = Pages::new(
        "SELECT id, recent FROM agents WHERE id > $1 AND recent <> '' ORDER BY id LIMIT $2",
    );
    while let Some(rows) = pages.next(conn).await? {
        for row in &rows {
            let id: String = row.try_get("id")?;
            let text: String = row.try_get("recent")?;
            let Ok(recent) = serde_json::from_str::<Recent>(&text) else {
                continue;
            };
            let mut prev_at: Option<i64> = None;
            let mut seq = recent.first - 1;
            for Packed(from, to, reason, at) in recent.changes {
                seq += 1;
                sqlx::query(
                    "INSERT INTO agent_status_log (at, agent, seq, prev_at, entry)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (at, agent, seq) DO NOTHING",
                )
                .bind(at)
                .bind(id.clone())
                .bind(seq)
                .bind(prev_at)
                .bind(entry_text(&from, &to, &reason))
                .execute(&mut *conn)
                .await?;
                prev_at = Some(at);
            }
            sqlx::query("UPDATE agents SET recent = '', last_at = $1, last_seq = $2 WHERE id = $3")
                .bind(prev_at)
                .bind(prev_at.map(|_| seq))
                .bind(id)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

/// An agent's last `limit` changes, oldest first: the log's from her last back, then blocks
/// from the newest back, then rows from before the blocks, as far as needed.
pub(super) async fn last(
    pool: &AnyPool,
    id: &AgentId,
    limit: i64,
) -> Result<Vec<StatusChange>, StoreError> {
    let want = usize::try_from(limit).unwrap_or(0);
    // Newest first.
    let mut found: Vec<StatusChange> = Vec::new();
    let mut before = i64::MAX;
    let last = last_logged(pool, id).await?;
    if let (Some((at, seq)), true) = (last, want > 0) {
        // One key after another, newest first, no further than asked.
        let rows = sqlx::query(
            "WITH RECURSIVE chain (at, seq, prev_at, entry, n) AS (
                 SELECT at, seq, prev_at, entry, 1 FROM agent_status_log
                 WHERE at = $2 AND agent = $1 AND seq = $3
                 UNION ALL
                 SELECT l.at, l.seq, l.prev_at, l.entry, c.n + 1 FROM chain c
                 JOIN agent_status_log l ON l.at = c.prev_at AND l.agent = $1 AND l.seq = c.seq - 1
                 WHERE c.n < $4
             )
             SELECT at, seq, entry FROM chain ORDER BY seq DESC",
        )
        .bind(id.as_str().to_owned())
        .bind(at)
        .bind(seq)
        .bind(limit)
        .fetch_all(pool)
        .await?;
        for r in rows {
            let Entry(from, to, reason) =
                serde_json::from_str(&r.try_get::<String, _>("entry")?).map_err(corrupt)?;
            found.push(StatusChange {
                agent: id.clone(),
                from,
                to,
                at: Timestamp(r.try_get("at")?),
                reason,
            });
            before = r.try_get("seq")?;
        }
    }
    if found.len() < want {
        // Each block holds at least BLOCK changes.
        let blocks = (want - found.len()).div_ceil(BLOCK) as i64;
        let rows = sqlx::query(
            "SELECT first_seq, changes FROM agent_status_blocks WHERE agent = $1 AND first_seq < $2
             ORDER BY first_seq DESC LIMIT $3",
        )
        .bind(id.as_str().to_owned())
        .bind(before)
        .bind(blocks)
        .fetch_all(pool)
        .await?;
        for r in rows {
            let first: i64 = r.try_get("first_seq")?;
            let text: String = r.try_get("changes")?;
            let packed: Vec<Packed> = serde_json::from_str(&text).map_err(corrupt)?;
            found.extend(unpack(id, packed).rev());
            before = first;
        }
    }
    if found.len() < want {
        let rows = sqlx::query(
            "SELECT previous, status, reason, at FROM agent_status_history
             WHERE agent = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3",
        )
        .bind(id.as_str().to_owned())
        .bind(before)
        .bind((want - found.len()) as i64)
        .fetch_all(pool)
        .await?;
        for r in rows {
            let reason: String = r.try_get("reason")?;
            found.push(StatusChange {
                agent: id.clone(),
                from: Status::parse(&r.try_get::<String, _>("previous")?),
                to: Status::parse(&r.try_get::<String, _>("status")?),
                at: Timestamp(r.try_get("at")?),
                reason: serde_json::from_value(serde_json::Value::String(reason))
                    .map_err(corrupt)?,
            });
        }
    }
    found.truncate(want);
    found.reverse();
    Ok(found)
}
