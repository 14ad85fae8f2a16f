//! The event log (K8): every published event, numbered, kept for replay to clients that
//! reconnect (`GET /events?since=N`), trimmed to the newest ones; and the numbering's
//! high-water mark, so that numbers keep increasing across restarts.

use super::{lock, submit, Backend, Store, StoreError, Write};
use sqlx::Row;
use std::sync::{Arc, Mutex};

/// One stored event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRow {
    /// Its number.
    pub seq: i64,
    /// When it happened (ms since the epoch).
    pub at: i64,
    /// The agents it concerns (who besides supervisors may see it).
    pub agents: Vec<String>,
    /// The event as clients receive it (JSON).
    pub body: String,
}

/// The memory store's event log.
#[derive(Default)]
pub(crate) struct MemoryLog {
    /// Oldest first: trimmed from the front.
    events: std::collections::VecDeque<Logged>,
    seq: EventSeqState,
}

impl MemoryLog {
    /// Appends events, moves the reservation up and trims the log: the events numbered up to
    /// `trim_through` go, handed back to be let go of after the lock.
    #[must_use = "what the trim took out is to be dropped after the lock"]
    fn keep(
        &mut self,
        logged: impl IntoIterator<Item = Logged>,
        reserved: Option<i64>,
        trim_through: Option<i64>,
    ) -> Trimmed {
        self.events.extend(logged);
        if let Some(r) = reserved {
            self.seq.reserved = self.seq.reserved.max(r);
        }
        let Some(t) = trim_through else {
            return Trimmed(Vec::new());
        };
        // Numbered in order: the trimmed ones are at the front.
        let gone = self.events.partition_point(|e| e.seq() <= t);
        self.seq.trimmed = self.seq.trimmed.max(t);
        Trimmed(self.events.drain(..gone).collect())
    }

    /// Keeps an event the bus just numbered (it calls this under its number lock, so the
    /// log stays in number order).
    pub(crate) fn keep_published(
        &mut self,
        event: crate::events::Event,
        reserved: Option<i64>,
        trim_through: Option<i64>,
    ) -> Trimmed {
        self.keep([Logged::Event(event)], reserved, trim_through)
    }
}

/// Events a trim of the memory store's log took out, freed when this is dropped (after the
/// locks it was taken under).
pub(crate) struct Trimmed(#[expect(dead_code, reason = "held only to be dropped")] Vec<Logged>);

/// An entry of the memory store's event log: a row, or an event as it was published, written
/// as JSON only if a client asks for it again (most never are). A row is boxed: the log keeps
/// 100,000 entries, nearly all events, each as large as the largest kind.
pub(super) enum Logged {
    Row(Box<EventRow>),
    Event(crate::events::Event),
}

impl Logged {
    fn seq(&self) -> i64 {
        match self {
            Logged::Row(r) => r.seq,
            Logged::Event(e) => e.seq as i64,
        }
    }

    fn row(&self) -> EventRow {
        match self {
            Logged::Row(r) => EventRow::clone(r),
            Logged::Event(e) => crate::events::row(e),
        }
    }
}

/// The numbering's durable state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventSeqState {
    /// The largest number stored.
    pub last: i64,
    /// Numbers up to this one may have been handed out: the next process starts above it.
    pub reserved: i64,
    /// Events up to this number were trimmed: a replay from before it is incomplete.
    pub trimmed: i64,
}

impl Store {
    /// The numbering's durable state.
    pub async fn event_seq_state(&self) -> Result<EventSeqState, StoreError> {
        match &self.inner {
            Backend::Memory(m) => {
                let log = lock(m).log.clone();
                let log = lock_log(&log);
                Ok(EventSeqState {
                    last: log.events.back().map_or(0, Logged::seq),
                    ..log.seq
                })
            }
            Backend::Sql(pool, ..) => {
                let last: Option<i64> = sqlx::query("SELECT MAX(seq) AS last FROM events")
                    .fetch_one(pool)
                    .await?
                    .try_get("last")?;
                let row = sqlx::query("SELECT reserved, trimmed FROM event_seq WHERE id = 1")
                    .fetch_optional(pool)
                    .await?;
                let (reserved, trimmed) = match row {
                    Some(r) => (r.try_get("reserved")?, r.try_get("trimmed")?),
                    None => (0, 0),
                };
                Ok(EventSeqState {
                    last: last.unwrap_or(0),
                    reserved,
                    trimmed,
                })
            }
        }
    }

    /// Records that numbers up to `reserved` may be handed out.
    pub async fn reserve_event_seq(&self, reserved: i64) -> Result<(), StoreError> {
        self.append_events(Vec::new(), Some(reserved), None).await
    }

    /// Appends events; optionally moves the reservation up, and trims the log: the events
    /// numbered up to `trim_through` go, and a replay from before that number is incomplete
    /// (all in one transaction).
    pub async fn append_events(
        &self,
        rows: Vec<EventRow>,
        reserved: Option<i64>,
        trim_through: Option<i64>,
    ) -> Result<(), StoreError> {
        let rows = rows.into_iter().map(|r| Logged::Row(Box::new(r))).collect();
        self.append_log(rows, reserved, trim_through).await
    }

    /// [`Store::append_events`] for the events the bus published, in order: a SQL store
    /// writes them as rows, the memory store keeps them as they are.
    pub(crate) async fn append_published(
        &self,
        events: Vec<crate::events::Event>,
        reserved: Option<i64>,
        trim_through: Option<i64>,
    ) -> Result<(), StoreError> {
        let logged = events.into_iter().map(Logged::Event).collect();
        self.append_log(logged, reserved, trim_through).await
    }

    /// The memory store's event log, which the bus keeps events in as it numbers them
    /// ([`MemoryLog::keep`]); `None` for a SQL store, whose log the bus's task writes
    /// ([`Store::append_published`]).
    pub(crate) fn memory_log(&self) -> Option<Arc<Mutex<MemoryLog>>> {
        match &self.inner {
            Backend::Memory(m) => Some(lock(m).log.clone()),
            Backend::Sql(..) => None,
        }
    }

    async fn append_log(
        &self,
        logged: Vec<Logged>,
        reserved: Option<i64>,
        trim_through: Option<i64>,
    ) -> Result<(), StoreError> {
        match &self.inner {
            Backend::Memory(m) => {
                let log = lock(m).log.clone();
                let trimmed = lock_log(&log).keep(logged, reserved, trim_through);
                drop(trimmed);
                Ok(())
            }
            Backend::Sql(_, writer, _) => {
                let mut writes: Vec<Write> = Vec::new();
                if !logged.is_empty() {
                    writes.push(Write::Events(logged.iter().map(Logged::row).collect()));
                }
                if reserved.is_some() || trim_through.is_some() {
                    writes.push(Write::EventSeq {
                        reserved,
                        trim_through,
                    });
                }
                submit(writer, Write::Batch(writes)).await
            }
        }
    }

    /// Events numbered above `after` and up to `upto`, oldest first, at most `limit`.
    pub async fn events_between(
        &self,
        after: i64,
        upto: i64,
        limit: usize,
    ) -> Result<Vec<EventRow>, StoreError> {
        match &self.inner {
            Backend::Memory(m) => {
                let log = lock(m).log.clone();
                let rows = lock_log(&log)
                    .events
                    .iter()
                    .filter(|e| e.seq() > after && e.seq() <= upto)
                    .take(limit)
                    .map(Logged::row)
                    .collect();
                Ok(rows)
            }
            Backend::Sql(pool, ..) => {
                let rows = sqlx::query(
                    "SELECT seq, at, agents, body FROM events WHERE seq > $1 AND seq <= $2
                     ORDER BY seq LIMIT $3",
                )
                .bind(after)
                .bind(upto)
                .bind(limit as i64)
                .fetch_all(pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        let agents: String = r.try_get("agents")?;
                        Ok(EventRow {
                            seq: r.try_get("seq")?,
                            at: r.try_get("at")?,
                            agents: serde_json::from_str(&agents)
                                .map_err(|e| StoreError::Corrupt("event", e))?,
                            body: r.try_get("body")?,
                        })
                    })
                    .collect()
            }
        }
    }
}

/// The memory store's event log, locked.
pub(crate) fn lock_log(log: &Mutex<MemoryLog>) -> std::sync::MutexGuard<'_, MemoryLog> {
    // Appends and trims leave it whole whatever panicked.
    log.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_log_entry_stays_small() {
        // The log keeps its last 100,000 entries, nearly all events (a row is boxed).
        let size = std::mem::size_of::<super::Logged>();
        assert!(size <= 32, "{size}");
    }
}
