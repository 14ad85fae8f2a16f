//! Switchyard's actor shells: every agent, queue and call is a supervised `ractor` actor on
//! tokio, stepping its state machine from the `engine` crate.
//!
//! - [`Switchyard`] starts everything from a [`config::Config`] and a [`store::Store`] and is
//!   the public API the web layer (and developers) call.
//! - Each actor turns a message into an engine input stamped with now, persists what changed
//!   before answering, publishes events on the [`events::EventBus`], and arms one timer for
//!   the engine's next wake-up (offer timeout, no-answer delay, wrap-up limit, overflow).
//! - Supervisors restart a failed actor from its persisted state; a panic in one call actor
//!   touches no other call.
//!
//! Message discipline: synchronous calls go queue → agent and call → agent only, never back,
//! so no call cycle can deadlock; everything else is a cast.

#![deny(missing_docs)]

mod agent_actor;
mod builder;
mod call_actor;
mod call_control;
mod call_creation;
mod call_effects;
mod call_media;
mod call_msg;
mod clock;
pub mod config;
mod context;
mod error;
pub mod events;
pub mod extensions;
mod hooks;
pub mod media;
pub mod outbox;
mod queue_actor;
mod scheduler;
mod shared;
pub mod store;
pub mod strategies;
pub mod subscription;
mod supervisor;
mod switchyard;
mod timer;

pub use agent_actor::AgentView;
pub use builder::SwitchyardBuilder;
pub use call_actor::ExternalNews;
pub use call_control::Control;
pub use clock::Clock;
pub use engine::call::Admission;
pub use error::ActorError;
pub use switchyard::{MediaTotals, QueueTranscript, StoredTranscript, TranscriptionStatus};
pub use switchyard::{QueueView, Sort, StartOptions, Switchyard, UnassignedCall};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_random;
#[cfg(test)]
mod tests_routing;
