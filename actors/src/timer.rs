//! One re-armable timer per actor, on tokio time (so paused-time tests drive it).
//!
//! The engine says when it next needs waking (`poll_timeout`); the shell keeps exactly one
//! pending wake-up for that moment. A generation number makes a wake-up that raced a re-arm
//! harmless.

use crate::clock::Clock;
use engine::Timestamp;
use ractor::{ActorRef, Message};

/// The actor's pending wake-up.
#[derive(Default)]
pub(crate) struct Timer {
    at: Option<Timestamp>,
    handle: Option<tokio::task::AbortHandle>,
    generation: u64,
}

impl Timer {
    /// Makes the pending wake-up be at `at` (or none), sending `make(generation)` then.
    pub(crate) fn arm<M: Message>(
        &mut self,
        myself: &ActorRef<M>,
        clock: &Clock,
        at: Option<Timestamp>,
        make: fn(u64) -> M,
    ) {
        if self.at == at && self.handle.is_some() == at.is_some() {
            return;
        }
        self.cancel();
        self.at = at;
        if let Some(at) = at {
            let delay = clock
                .instant_at(at)
                .saturating_duration_since(tokio::time::Instant::now());
            let generation = self.generation;
            self.handle = Some(
                myself
                    .send_after(delay, move || make(generation))
                    .abort_handle(),
            );
        }
    }

    /// Whether a wake-up of this generation is the current one; consumes it.
    pub(crate) fn fire(&mut self, generation: u64) -> bool {
        if generation != self.generation || self.at.is_none() {
            return false;
        }
        self.at = None;
        self.handle = None;
        self.generation += 1;
        true
    }

    /// Drops the pending wake-up.
    pub(crate) fn cancel(&mut self) {
        if let Some(h) = self.handle.take() {
            h.abort();
        }
        self.at = None;
        self.generation += 1;
    }
}
