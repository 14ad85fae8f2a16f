//! The bus's event log (K8): kept in the store, numbered above anything an earlier process
//! handed out, trimmed to the newest events; written by a task for a SQL store, kept as events
//! are numbered for the memory store.

use super::{Event, MAX_REPLAY};
use crate::store::{lock_log, EventRow, MemoryLog, Store, StoreError, Trimmed};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, watch};

/// The memory store's log, kept as events are numbered.
pub(super) struct AtOnce {
    log: Arc<Mutex<MemoryLog>>,
    upkeep: Upkeep,
}

impl AtOnce {
    /// Keeps an event just numbered (under the bus's number lock, so the log stays in number
    /// order); what a trim took out is handed back, to be let go of after the locks.
    pub(super) fn keep(&mut self, event: &Event) -> Trimmed {
        let (reserve, trim) = self.upkeep.after(event.seq);
        lock_log(&self.log).keep_published(event.clone(), reserve, trim)
    }
}

/// A durable bus's log.
#[derive(Clone)]
pub(super) struct EventLog {
    /// A SQL store's log: written by the log's task, a batch at a time, off the publishers'
    /// path; `None` for the memory store's, kept as events are numbered.
    task: Option<LogTask>,
    store: Store,
}

/// A SQL store's log's task: what it is handed, and how far it has stored.
#[derive(Clone)]
struct LogTask {
    tx: mpsc::UnboundedSender<Event>,
    /// The last number stored.
    stored: watch::Receiver<u64>,
}

/// How many numbers are reserved ahead in the store: a process killed at any moment has
/// handed out none above its reservation, so the next one starts above it.
pub(super) const SEQ_BLOCK: u64 = 10_000;

impl EventLog {
    /// Opens the log of a durable bus on `store`, keeping its newest `kept` events: the last
    /// number an earlier process may have handed out (this one numbers above it), the log,
    /// and, on the memory store, the part the bus keeps events in as it numbers them.
    pub(super) async fn open(
        store: Store,
        kept: u64,
    ) -> Result<(u64, EventLog, Option<AtOnce>), StoreError> {
        let state = store.event_seq_state().await?;
        let start = state.last.max(state.reserved).max(0) as u64;
        let reserved = start + SEQ_BLOCK;
        store.reserve_event_seq(reserved as i64).await?;
        let upkeep = Upkeep {
            reserved,
            trimmed: 0,
            kept: Kept {
                kept: kept.max(1),
                start,
                earlier: state.last.max(0) as u64,
            },
        };
        let (task, at_once) = if let Some(log) = store.memory_log() {
            (None, Some(AtOnce { log, upkeep }))
        } else {
            let (tx, rx) = mpsc::unbounded_channel();
            let (stored_tx, stored) = watch::channel(start);
            tokio::spawn(keep_log(store.clone(), rx, stored_tx, upkeep));
            (Some(LogTask { tx, stored }), None)
        };
        Ok((start, EventLog { task, store }, at_once))
    }

    /// Hands an event to a SQL store's log's task, which writes it as JSON off the
    /// publishers' path (nothing for the memory store's: see [`AtOnce::keep`]).
    pub(super) fn hand(&self, event: &Event) {
        if let Some(task) = &self.task {
            let _ = task.tx.send(event.clone());
        }
    }

    /// The last number stored, for a log written by its task (`None`: every number handed
    /// out is in the log already).
    pub(super) fn stored(&self) -> Option<watch::Receiver<u64>> {
        self.task.as_ref().map(|t| t.stored.clone())
    }

    /// The stored events after `after` up to `upto`, once the log holds them all; `None`
    /// when some were trimmed or there are more than [`MAX_REPLAY`].
    pub(super) async fn between(&self, after: u64, upto: u64) -> Option<Vec<EventRow>> {
        if let Some(task) = &self.task {
            let mut stored = task.stored.clone();
            let written = tokio::time::timeout(
                std::time::Duration::from_secs(5),
                stored.wait_for(|s| *s >= upto),
            )
            .await
            .is_ok_and(|r| r.is_ok());
            if !written {
                return None;
            }
        }
        let state = self.store.event_seq_state().await.ok()?;
        if (after as i64) < state.trimmed {
            return None;
        }
        let rows = self
            .store
            .events_between(after as i64, upto as i64, MAX_REPLAY + 1)
            .await
            .ok()?;
        (rows.len() <= MAX_REPLAY).then_some(rows)
    }
}

/// What the event log keeps: the newest `kept` events, found from their numbers, not by
/// counting rows down the log. This process numbers its events one after another above
/// `start`; the events an earlier process stored end at `earlier`.
#[derive(Clone, Copy, Debug)]
struct Kept {
    kept: u64,
    start: u64,
    earlier: u64,
}

impl Kept {
    /// The number up to which events go once the newest is `last`: `kept` below it, or,
    /// until this process has numbered that many, as far below the earlier process's last
    /// as this process's own events leave room for (fewer are kept if the earlier numbers
    /// had gaps of their own, after a restart of theirs).
    fn trim_through(&self, last: u64) -> u64 {
        let own = last.saturating_sub(self.start);
        match own.checked_sub(self.kept) {
            Some(_) => last - self.kept,
            None => self.earlier.saturating_sub(self.kept - own),
        }
    }
}

/// An event as the log stores it.
pub(crate) fn row(event: &Event) -> EventRow {
    EventRow {
        seq: event.seq as i64,
        at: event.at.0,
        agents: event.agents().iter().map(|a| a.to_string()).collect(),
        body: event.to_json_text(),
    }
}

/// When the log's numbers are reserved ahead and its oldest events trimmed.
struct Upkeep {
    /// Numbers up to this one are reserved in the store.
    reserved: u64,
    /// The log was last trimmed up to this number.
    trimmed: u64,
    kept: Kept,
}

impl Upkeep {
    /// Once the newest event in the log is `last`: the reservation to move up to, if it is
    /// time, and the number to trim through, if it is time.
    fn after(&mut self, last: u64) -> (Option<i64>, Option<i64>) {
        let reserve = (last + SEQ_BLOCK / 2 > self.reserved).then(|| {
            self.reserved = last + SEQ_BLOCK;
            self.reserved as i64
        });
        // Trimmed a little at a time, once a hundredth of what is kept can go. (A tenth at
        // once, found by counting `kept` rows down the log, held the writer ~10 ms each time.)
        let through = self.kept.trim_through(last);
        let trim = (through >= self.trimmed + (self.kept.kept / 100).max(1)).then(|| {
            self.trimmed = through;
            through as i64
        });
        (reserve, trim)
    }
}

/// Appends events to a SQL store's log as they come, a batch at a time, written as JSON here,
/// off the publishers' path; moves the reservation up ahead of the numbers, and trims the log
/// to the newest `kept` events.
async fn keep_log(
    store: Store,
    mut rx: mpsc::UnboundedReceiver<Event>,
    stored: watch::Sender<u64>,
    mut upkeep: Upkeep,
) {
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, 512).await > 0 {
        let last = batch.last().map_or(0, |e| e.seq);
        let (reserve, trim) = upkeep.after(last);
        if let Err(e) = store
            .append_published(std::mem::take(&mut batch), reserve, trim)
            .await
        {
            // The events are lost to replay only: a client that asks for them reloads.
            tracing::warn!("event log: {e}");
        }
        let _ = stored.send(last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_keeps_the_newest_events_across_a_restarts_gap_in_the_numbers() {
        let kept = |start, earlier| Kept {
            kept: 20,
            start,
            earlier,
        };
        // An earlier process stored events up to 100; this one numbers from 10,101.
        let after = kept(10_100, 100);
        // 5 of its own: the earlier process's newest 15 stay (86 to 100).
        assert_eq!(after.trim_through(10_105), 85);
        assert_eq!(after.trim_through(10_119), 99);
        // 20 of its own and more: only those.
        assert_eq!(after.trim_through(10_120), 10_100);
        assert_eq!(after.trim_through(10_150), 10_130);
        // A first process, and an earlier one with fewer events than the gap leaves room for.
        let first = kept(0, 0);
        assert_eq!(first.trim_through(5), 0);
        assert_eq!(first.trim_through(50), 30);
        let few = kept(10_100, 3);
        assert_eq!(few.trim_through(10_101), 0);
    }
}
