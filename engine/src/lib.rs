//! Switchyard's pure domain core.
//!
//! Everything a contact center decides lives here as plain state machines: an [`agent::Agent`]
//! with its statuses, offers and wrap-up; a [`queue::Queue`] with its waiting line, routing
//! strategy, escalation and overflow; a [`call::Call`] with its states, result and journey.
//! The [`alerts`] a queue watches for in its calls' transcripts are pure rules too, and so are
//! the [`login`] back-off per account name and what a SIP trunk decides ([`sip`]: which trunk,
//! which queue, which result, when a call is dead).
//!
//! The crate never reads the clock and never does I/O. Time comes in as a [`Timestamp`]
//! argument; effects come out as data (return values and `poll_*` methods) for the actor
//! shells in the `actors` crate to carry out. This makes every rule testable in virtual time:
//! an 18-second offer timeout is a test of a few microseconds.
//!
//! User input never panics: every fallible transition returns a [`Error`] naming the rule.

#![deny(missing_docs)]

pub mod agent;
pub mod alerts;
pub mod call;
pub mod compliance;
mod error;
mod ids;
pub mod login;
pub mod net;
pub mod queue;
pub mod routing;
pub mod schedule;
pub mod sip;
mod time;

pub use error::Error;
pub use ids::{AgentId, CallId, IdMap, QueueId};
pub use time::Timestamp;

/// Whether a field holds its default: a snapshot's stored form leaves such fields out (they
/// read back as their default), so that a row a store rewrites at every step is as short as
/// what it says.
pub(crate) fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// The tests of the snapshots' stored forms.
#[cfg(test)]
pub(crate) mod stored_form {
    use serde_json::Value;

    /// The keys a stored form holds, in order.
    pub fn keys(form: &Value) -> Vec<&str> {
        let fields = form.as_object().expect("a snapshot is an object");
        fields.keys().map(|k| k.as_str()).collect()
    }

    /// The form with every field, as rows written before hold it: `form` with each of
    /// `defaults` (an object) added.
    pub fn with_defaults(form: &Value, defaults: Value) -> Value {
        let mut full = form.clone();
        for (k, v) in defaults.as_object().expect("defaults are an object") {
            full[k] = v.clone();
        }
        full
    }
}
