//! The bus's event log (K8): kept in the store, numbered above anything an earlier process
//! handed out, trimmed to the newest events; written by a task for a SQL store, kept as events
//! are numbered for the memory store.

use super::{Event, MAX_REPLAY};
use crate::store::{EventRow, MemoryLog, Store};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, watch};

/// The memory store's log, kept as events are numbered.
pub(super) struct AtOnce {
    pub(super) log: Arc<Mutex<MemoryLog>>,
    pub(super) upkeep: Upkeep,
}

/// A durable bus's log.
#[derive(Clone)]
pub(super) struct EventLog {
    /// A SQL store's log: written by the log's task, a batch at a time, off the publishers'
    /// path; `None` for the memory store's, kept as events are numbered.
    pub(super) task: Option<LogTask>,
    pub(super) store: Store,
}

/// A SQL store's log's task: what it is handed, and how far it has stored.
#[derive(Clone)]
pub(super) struct LogTask {
    pub(super) tx: mpsc::UnboundedSender<Event>,
    /// The last number stored.
    pub(super) stored: watch::Receiver<u64>,
}

/// How many numbers are reserved ahead in the store: a process killed at any moment has
/// handed out none above its reservation, so the next one starts above it.
pub(super) const SEQ_BLOCK: u64 = 10_000;

impl EventLog {
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
pub(super) struct Kept {
    pub(super) kept: u64,
    pub(super) start: u64,
    pub(super) earlier: u64,
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
pub(super) struct Upkeep {
    /// Numbers up to this one are reserved in the store.
    pub(super) reserved: u64,
    /// The log was last trimmed up to this number.
    pub(super) trimmed: u64,
    pub(super) kept: Kept,
}

impl Upkeep {
    /// Once the newest event in the log is `last`: the reservation to move up to, if it is
    /// time, and the number to trim through, if it is time.
    pub(super) fn after(&mut self, last: u64) -> (Option<i64>, Option<i64>) {
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
pub(super) async fn keep_log(
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
