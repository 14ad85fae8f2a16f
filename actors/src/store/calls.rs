//! Calls in a SQL store: a row per call holding its snapshot without the journey, and the
//! journey's entries in `call_journey`, one row each, keyed by the call and the entry's place.
//!
//! A journey only grows (an entry is never rewritten), so each step appends the entries it
//! added: the call's actor knows how many are stored already (those it loaded or saved before).
//! A write that cannot know says 0; an entry stored already is then left as it is (the insert
//! does nothing), which also makes a replayed write harmless. Reads join the two.
//!
//! Calls stored before the journey had its own table held it in their snapshot: migration 13
//! moves those entries out ([`move_journeys`]), in the migration's transaction.

use super::schema::Pages;
use super::writer::Write;
use super::{enum_name, StoreError};
use engine::call::{Call, JourneyEntry};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// The write that stores `call` whose first `saved` journey entries are stored already.
pub(super) fn call_write(call: &Call, saved: usize, now_ms: i64) -> Write {
    let journey = call
        .journey()
        .iter()
        .enumerate()
        .skip(saved)
        .map(|(i, e)| (i as i64, entry_text(e)))
        .collect();
    Write::Call {
        id: call.id().as_str().to_owned(),
        queue: call.queue().as_str().to_owned(),
        state: call.state().as_str().to_owned(),
        result: call.result().map(|r| enum_name(&r)),
        agent: call.agent().map(|a| a.as_str().to_owned()),
        from: call.from().to_owned(),
        created_at: call.created_at().as_millis(),
        updated_at: now_ms,
        // The serialized form leaves the journey out.
        snapshot: serde_json::to_string(call).expect("a Call always serializes"),
        journey,
    }
}

fn entry_text(e: &JourneyEntry) -> String {
    serde_json::to_string(e).expect("a journey entry always serializes")
}

/// The calls `sql` selects, each with its journey. `sql` selects `id`, `snapshot` and `entry`
/// (a journey entry, NULL for a call with none stored apart), a call's rows one after another
/// in the journey's order.
pub(super) fn calls_from_rows(rows: &[AnyRow]) -> Result<Vec<Call>, StoreError> {
    let mut calls: Vec<(String, Call, Vec<JourneyEntry>)> = Vec::new();
    for row in rows {
        let id: String = row.try_get("id")?;
        if calls.last().is_none_or(|(last, ..)| *last != id) {
            let snapshot: String = row.try_get("snapshot")?;
            let call: Call =
                serde_json::from_str(&snapshot).map_err(|e| StoreError::Corrupt("call", e))?;
            calls.push((id, call, Vec::new()));
        }
        if let Some(entry) = row.try_get::<Option<String>, _>("entry")? {
            let entry: JourneyEntry = serde_json::from_str(&entry)
                .map_err(|e| StoreError::Corrupt("journey entry", e))?;
            if let Some((.., journey)) = calls.last_mut() {
                journey.push(entry);
            }
        }
    }
    Ok(calls
        .into_iter()
        .map(|(_, call, journey)| {
            if journey.is_empty() {
                // Nothing stored apart: whatever the snapshot held.
                call
            } else {
                call.with_journey(journey)
            }
        })
        .collect())
}

/// The journey's entries joined to the calls a subquery `c` selects (with `id`, `snapshot`
/// and the columns `order` names), in that order, each call's entries in the journey's.
macro_rules! with_journeys {
    ($calls:literal, $order:literal) => {
        concat!(
            "SELECT c.id, c.snapshot, j.entry FROM (",
            $calls,
            ") c LEFT JOIN call_journey j ON j.call = c.id ORDER BY ",
            $order,
            ", j.seq"
        )
    };
}
pub(super) use with_journeys;

/// Migration 13's data step: every call whose snapshot holds its journey gets the journey's
/// entries in `call_journey` and its snapshot without them. A page of calls at a time, by id;
/// a snapshot this version cannot read is left as it was (reading it fails as it did before).
pub(super) async fn move_journeys(conn: &mut AnyConnection) -> Result<(), StoreError> {
    let mut pages = Pages::new(
        "SELECT id, snapshot FROM calls WHERE id > $1 AND snapshot LIKE '%\"journey\":%'
         ORDER BY id LIMIT $2",
    );
    while let Some(rows) = pages.next(conn).await? {
        for row in &rows {
            let id: String = row.try_get("id")?;
            let snapshot: String = row.try_get("snapshot")?;
            let Ok(call) = serde_json::from_str::<Call>(&snapshot) else {
                continue;
            };
            for (i, e) in call.journey().iter().enumerate() {
                sqlx::query(
                    "INSERT INTO call_journey (call, seq, entry) VALUES ($1, $2, $3)
                     ON CONFLICT (call, seq) DO NOTHING",
                )
                .bind(id.clone())
                .bind(i as i64)
                .bind(entry_text(e))
                .execute(&mut *conn)
                .await?;
            }
            sqlx::query("UPDATE calls SET snapshot = $1 WHERE id = $2")
                .bind(serde_json::to_string(&call).expect("a Call always serializes"))
                .bind(id)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}
