//! A call's state, kind and result (C5).

use serde::{Deserialize, Serialize};

/// A call's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    /// In a queue; nobody is ringing.
    Waiting,
    /// One or more agents are ringing.
    Offering,
    /// An outbound call (or callback) is ringing the customer; the agent waits.
    Dialing,
    /// An agent is talking to the caller.
    Connected,
    /// Over, with a result.
    Ended,
    /// The system could not carry it.
    Failed,
}

impl CallState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Waiting => "waiting",
            CallState::Offering => "offering",
            CallState::Dialing => "dialing",
            CallState::Connected => "connected",
            CallState::Ended => "ended",
            CallState::Failed => "failed",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<CallState> {
        [
            CallState::Waiting,
            CallState::Offering,
            CallState::Dialing,
            CallState::Connected,
            CallState::Ended,
            CallState::Failed,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }

    /// Ended or failed: nothing more happens to the call.
    pub fn is_final(self) -> bool {
        matches!(self, CallState::Ended | CallState::Failed)
    }
}

/// Where a call comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallKind {
    /// The customer called in.
    #[default]
    Inbound,
    /// An agent dialed out (E1).
    Outbound,
    /// The customer asked to be called back (E4) or a callback was scheduled (E5).
    Callback,
}

/// How a call ended (C5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallResult {
    /// An agent answered.
    Answered,
    /// The caller hung up before any agent was tried.
    Abandoned,
    /// The caller hung up while an agent was being rung.
    Cancelled,
    /// The caller hung up after an offer was missed.
    NotAnswered,
    /// The caller hung up after the agents tried were busy.
    Busy,
    /// The system could not carry the call.
    Failed,
}
