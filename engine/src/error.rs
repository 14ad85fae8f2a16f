//! The one error type of the engine: a rule that refused an input.

use crate::{AgentId, CallId};

/// Why the engine refused an input. Each variant names the rule, so that the web edge can map
/// it to a 4xx status and a message a user understands. A refused input changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A supervisor locked the agent's status; only the supervisor can change it.
    #[error("agent {0} is locked in status {1} by a supervisor")]
    Locked(AgentId, String),
    /// The status cannot be chosen by hand (it is set by calls: offered, in_service, …).
    #[error("status {0} is set by the system and cannot be chosen")]
    NotSelectable(String),
    /// The status is neither a system status nor one of the configured custom statuses.
    #[error("unknown status {0}")]
    UnknownStatus(String),
    /// The agent is on a call (offered, in service) and cannot change status until it ends.
    #[error("agent {0} is on call {1}; its status changes when the call ends")]
    OnCall(AgentId, CallId),
    /// The agent just missed an offer and is kept busy for the queue's no-answer delay.
    #[error("agent {0} is in its no-answer delay and becomes ready by itself")]
    NoAnswerDelay(AgentId),
    /// The agent is not in wrap-up, so there is no wrap-up to end.
    #[error("agent {0} is not in wrap-up")]
    NotInWrapUp(AgentId),
    /// The call is not offered to this agent (never was, or the offer is over).
    #[error("call {0} is not offered to agent {1}")]
    NotOffered(CallId, AgentId),
    /// The agent is not the one connected to this call.
    #[error("agent {1} is not connected to call {0}")]
    NotOwner(CallId, AgentId),
    /// The call is not in a state that allows this action.
    #[error("call {0} is {1} and cannot {2}")]
    CallState(CallId, String, &'static str),
    /// The agent cannot take an offer right now (not ready, or already ringing or on a call).
    #[error("agent {0} is not available for an offer")]
    Unavailable(AgentId),
}
