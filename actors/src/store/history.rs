//! An agent's status history, stored so that a status change costs the database no index
//! entry of its own.
//!
//! The changes an agent has made since its last block ride in its own row (`agents.recent`),
//! which every change rewrites anyway; each time [`BLOCK`] of them have gathered, they are
//! written out as one row of `agent_status_blocks`, keyed `(agent, first_seq)`, and the row's
//! list starts over. A change used to be one row of `agent_status_history`, keyed
//! `(agent, seq)`: with thousands of agents each change landed on its own agent's page of that
//! index, nearly half of the pages a busy SQLite log wrote. Those rows, written before
//! migration 12, stay where they are and are read with the rest: every change keeps its
//! number, one after another across the three places.

use super::{StoreError, Write};
use engine::agent::{ChangeReason, Status, StatusChange};
use engine::{AgentId, Timestamp};
use serde::{Deserialize, Serialize};
use sqlx::{AnyPool, Row};

/// How many changes one block holds (at least: a save that brings several may pass it).
pub const BLOCK: usize = 8;

/// The changes of an agent's history not yet written out in a block, numbered from
/// `first_seq`. The agent's actor holds it, adds each change and saves it with the agent's
/// snapshot; [`HistoryTail::saved`] starts it over once a block has been written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryTail {
    first_seq: i64,
    changes: Vec<StatusChange>,
}

impl HistoryTail {
    /// An empty tail whose first change will be number `last_seq + 1`.
    pub fn after(last_seq: i64) -> Self {
        Self {
            first_seq: last_seq + 1,
            changes: Vec::new(),
        }
    }

    /// A tail of saved changes, the first numbered `first_seq`.
    pub(super) fn holding(first_seq: i64, changes: Vec<StatusChange>) -> Self {
        Self { first_seq, changes }
    }

    /// Adds changes, in the order they happened.
    pub fn extend(&mut self, changes: impl IntoIterator<Item = StatusChange>) {
        self.changes.extend(changes);
    }

    /// The number of the last change, saved or not (0 before any).
    pub fn last_seq(&self) -> i64 {
        self.first_seq + self.changes.len() as i64 - 1
    }

    /// The number of the first change held.
    pub fn first_seq(&self) -> i64 {
        self.first_seq
    }

    /// The changes held, oldest first.
    pub fn changes(&self) -> &[StatusChange] {
        &self.changes
    }

    /// Whether saving it writes a block out.
    pub fn is_block(&self) -> bool {
        self.changes.len() >= BLOCK
    }

    /// What the tail holds once saved: its first number and its changes, none once a block
    /// was written out (the number then follows the block's last).
    pub fn kept(&self) -> (i64, &[StatusChange]) {
        if self.is_block() {
            (self.last_seq() + 1, &[])
        } else {
            (self.first_seq, &self.changes)
        }
    }

    /// After a successful save: the tail becomes what the save [kept](Self::kept).
    pub fn saved(&mut self) {
        if self.is_block() {
            *self = Self::after(self.last_seq());
        }
    }
}

/// A change as stored in a list: the agent is the row's, the number its place in the list.
#[derive(Serialize, Deserialize)]
struct Packed(Status, Status, ChangeReason, i64);

#[derive(Serialize, Deserialize)]
struct Recent {
    first: i64,
    changes: Vec<Packed>,
}

fn pack(changes: &[StatusChange]) -> Vec<Packed> {
    changes
        .iter()
        .map(|c| Packed(c.from.clone(), c.to.clone(), c.reason.clone(), c.at.0))
        .collect()
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

/// The write that saves an agent's snapshot with its history's tail, and its block if full.
pub(super) fn agent_write(
    id: &AgentId,
    snapshot: String,
    tail: &HistoryTail,
    updated_at: i64,
) -> Write {
    let (first, kept) = tail.kept();
    let recent = Recent {
        first,
        changes: pack(kept),
    };
    let block = tail.is_block().then(|| {
        let changes = serde_json::to_string(&pack(&tail.changes)).expect("always serializes");
        (tail.first_seq, tail.last_seq(), changes)
    });
    Write::Agent {
        id: id.as_str().to_owned(),
        snapshot,
        recent: serde_json::to_string(&recent).expect("a history list always serializes"),
        block,
        updated_at,
    }
}

fn corrupt(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt("status history", e)
}

/// What an agent's row holds of its history: `None` for a row saved before migration 12 (or
/// no row at all).
async fn recent(pool: &AnyPool, id: &AgentId) -> Result<Option<HistoryTail>, StoreError> {
    let row = sqlx::query("SELECT recent FROM agents WHERE id = $1")
        .bind(id.as_str().to_owned())
        .fetch_optional(pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let text: String = row.try_get("recent")?;
    if text.is_empty() {
        return Ok(None);
    }
    let r: Recent = serde_json::from_str(&text).map_err(corrupt)?;
    Ok(Some(HistoryTail::holding(
        r.first,
        unpack(id, r.changes).collect(),
    )))
}

/// The tail an agent's actor starts from.
pub(super) async fn tail(pool: &AnyPool, id: &AgentId) -> Result<HistoryTail, StoreError> {
    if let Some(t) = recent(pool, id).await? {
        return Ok(t);
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

/// An agent's last `limit` changes, oldest first: its row's list, then blocks from the newest
/// back, then rows from before the blocks, as far as needed.
pub(super) async fn last(
    pool: &AnyPool,
    id: &AgentId,
    limit: i64,
) -> Result<Vec<StatusChange>, StoreError> {
    let want = usize::try_from(limit).unwrap_or(0);
    // Newest first.
    let mut found: Vec<StatusChange> = Vec::new();
    let mut before = i64::MAX;
    if let Some(t) = recent(pool, id).await? {
        before = t.first_seq;
        found.extend(t.changes.into_iter().rev());
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
