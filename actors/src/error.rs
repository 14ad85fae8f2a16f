//! The actors crate's error: what a caller of [`crate::Switchyard`] can be told.

use crate::store::StoreError;

/// Why a request to the running engine failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ActorError {
    /// A domain rule refused it; nothing changed.
    #[error(transparent)]
    Rule(#[from] engine::Error),
    /// No such queue.
    #[error("unknown queue {0}")]
    UnknownQueue(String),
    /// No such agent.
    #[error("unknown agent {0}")]
    UnknownAgent(String),
    /// No such group.
    #[error("unknown group {0}")]
    UnknownGroup(String),
    /// The queue is not one the agent may dial out on.
    #[error("{0} is not an outbound queue of this agent")]
    NotOutbound(String),
    /// The agent has several outbound queues: name one.
    #[error("choose the queue to dial out on: {0}")]
    QueueRequired(String),
    /// The entry is not on the list.
    #[error("{0} is not on the list")]
    NotListed(String),
    /// No such transaction.
    #[error("unknown transaction {0}")]
    UnknownTxn(String),
    /// The media layer failed (signalling, WebRTC).
    #[error("media: {0}")]
    Media(String),
    /// No such call.
    #[error("unknown call {0}")]
    UnknownCall(String),
    /// The call exists but has ended.
    #[error("call {0} has ended")]
    CallOver(String),
    /// A CRM log older than one already delivered: sending it again would overwrite it.
    #[error("outbox row {0}: a later version of this call's log was delivered")]
    Superseded(String),
    /// An outbox row past its retention: its payload is gone, it cannot be sent again.
    #[error("outbox row {0} was pruned (delivered longer ago than the retention)")]
    Pruned(String),
    /// Persisting failed; the change was not acknowledged and the actor restarts from what was
    /// last saved.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The configuration asks for something this program does not have (a strategy no one
    /// registered).
    #[error("configuration: {0}")]
    Config(String),
    /// The call's actor took the step but did not answer in time (its database slow, say):
    /// the step may be applied, or may be yet. Read the call before trying again.
    #[error("call {0}: the step was taken but not answered in time: it may be applied; read the call before trying again")]
    Pending(String),
    /// The actor did not answer in time or stopped while answering.
    #[error("{0} did not answer: {1}")]
    NoAnswer(String, String),
}
