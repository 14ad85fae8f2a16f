//! In-process event hooks: the typed event stream (the events the WebSocket carries), with a
//! filter, for code embedding Switchyard.
//!
//! ```no_run
//! # async fn run(yard: actors::Switchyard) {
//! let mut ended = yard.subscribe_to(&["call.ended", "call.failed"]);
//! while let Some(next) = ended.recv().await {
//!     match next {
//!         Ok(event) => println!("{}", event.to_json()),
//!         // Fell behind by `n` events: re-read what matters (`yard.calls(…)`).
//!         Err(missed) => eprintln!("missed {} events", missed.0),
//!     }
//! }
//! # }
//! ```

use crate::events::Event;
use crate::Switchyard;
use tokio::sync::broadcast::{self, error::RecvError};

/// Events that were dropped for a subscriber too far behind (their number).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0} events were missed: the subscriber fell behind (reload what it keeps)")]
pub struct Missed(pub u64);

/// A filtered subscription to the engine's events.
pub struct Subscription {
    rx: broadcast::Receiver<Event>,
    keep: Box<dyn Fn(&Event) -> bool + Send + Sync>,
}

impl Subscription {
    /// The next event the filter keeps; `Err` when the subscriber fell more than the event
    /// buffer behind and some (kept or not) were dropped; `None` once the engine stopped.
    pub async fn recv(&mut self) -> Option<Result<Event, Missed>> {
        loop {
            match self.rx.recv().await {
                Ok(e) if (self.keep)(&e) => return Some(Ok(e)),
                Ok(_) => {}
                Err(RecvError::Lagged(n)) => return Some(Err(Missed(n))),
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

impl Switchyard {
    /// Every event from now on that `keep` accepts.
    pub fn subscribe_where(
        &self,
        keep: impl Fn(&Event) -> bool + Send + Sync + 'static,
    ) -> Subscription {
        Subscription {
            rx: self.subscribe(),
            keep: Box::new(keep),
        }
    }

    /// Every event from now on of these types (`call.offered`, `agent.status`,
    /// `transcript.final`, …: [`Event::type_name`]).
    pub fn subscribe_to(&self, types: &[&str]) -> Subscription {
        let types: Vec<String> = types.iter().map(|t| t.to_string()).collect();
        self.subscribe_where(move |e| types.iter().any(|t| t == e.type_name()))
    }
}
