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
    /// The customer is already on hold.
    #[error("call {0} is already on hold")]
    AlreadyHeld(CallId),
    /// The customer is not on hold.
    #[error("call {0} is not on hold")]
    NotHeld(CallId),
    /// A held call cannot be dropped from the agent's session (C3): resume it first.
    #[error("call {0} is on hold: resume it before hanging up")]
    HeldNoHangup(CallId),
    /// DTMF goes to a customer who can hear it: not while held.
    #[error("call {0} is on hold: no DTMF")]
    HeldNoDtmf(CallId),
    /// A conference cannot be held (D4).
    #[error("call {0} is a conference: the customer cannot be held")]
    ConferenceNoHold(CallId),
    /// A conference cannot be masked (D4).
    #[error("call {0} is a conference: the recording cannot be masked")]
    ConferenceNoMask(CallId),
    /// No DTMF in a conference (D4).
    #[error("call {0} is a conference: no DTMF")]
    ConferenceNoDtmf(CallId),
    /// A conference is not transferred or consulted: a party leaves instead.
    #[error("call {0} is a conference: no transfer or consult")]
    ConferenceNoTransfer(CallId),
    /// The microphone is already muted.
    #[error("call {0} is already muted")]
    AlreadyMuted(CallId),
    /// The microphone is not muted.
    #[error("call {0} is not muted")]
    NotMuted(CallId),
    /// DTMF digits are 0-9, *, #, A-D, 1 to 32 of them.
    #[error("invalid DTMF digits {0:?}: use 1 to 32 of 0-9 * # A-D")]
    InvalidDigits(String),
    /// The recording is already running.
    #[error("call {0} is already recording")]
    RecordingAlreadyOn(CallId),
    /// The recording is off.
    #[error("call {0} is not recording")]
    RecordingOff(CallId),
    /// The recording is already masked.
    #[error("call {0} is already masked")]
    AlreadyMasked(CallId),
    /// The recording is not masked.
    #[error("call {0} is not masked")]
    NotMasked(CallId),
    /// A consult is under way: complete, cancel or conference it first.
    #[error("call {0} has a consult under way")]
    ConsultInProgress(CallId),
    /// There is no consult to act on.
    #[error("call {0} has no consult")]
    NoConsult(CallId),
    /// The consulted party has not answered yet.
    #[error("the consulted party of call {0} has not answered")]
    ConsultNotAnswered(CallId),
    /// A call cannot be transferred to the agent who has it.
    #[error("call {0} cannot be transferred to its own agent")]
    TransferToSelf(CallId),
    /// There is no unanswered blind transfer of this agent's to take back.
    #[error("call {0} has no transfer of yours still ringing")]
    NoTransfer(CallId),
    /// Nobody at the target can take the call now.
    #[error("nobody at the target of call {0} is available")]
    TargetUnavailable(CallId),
    /// The agent is on a call: hold it before starting another (C3).
    #[error("call {0} is not on hold: hold it before starting another call")]
    HoldFirst(CallId),
    /// An outbound call refused by a compliance rule (E2).
    #[error("calling {number} is refused by {code}", number = .1, code = .0.code())]
    Compliance(crate::compliance::Rule, String),
    /// Call data that breaks a rule (unknown disposition or tag, too long…); names the field.
    #[error("call data refused: {0}")]
    InvalidCallData(String),
    /// New skill requirements that ask for more than the call's present ones (a skill added,
    /// or a level raised): widening may only lower or drop requirements.
    #[error("call {0}: requiring {1} is not a widening (a requirement may be lowered or dropped, not added or raised)")]
    NotWider(CallId, String),
    /// A supervisor alert without words, or too long, or with control characters.
    #[error("alert refused: {0}")]
    InvalidAlert(String),
    /// Not an E.164 number.
    #[error("{0:?} is not an E.164 number (+ and 2 to 15 digits)")]
    InvalidNumber(String),
}

impl Error {
    /// A stable, machine-readable name of the rule, for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Locked(..) => "locked",
            Error::NotSelectable(_) => "status_not_selectable",
            Error::UnknownStatus(_) => "unknown_status",
            Error::OnCall(..) => "on_call",
            Error::NoAnswerDelay(_) => "no_answer_delay",
            Error::NotInWrapUp(_) => "not_in_wrap_up",
            Error::NotOffered(..) => "not_offered",
            Error::NotOwner(..) => "not_owner",
            Error::CallState(..) => "call_state",
            Error::Unavailable(_) => "agent_unavailable",
            Error::AlreadyHeld(_) => "already_held",
            Error::NotHeld(_) => "not_held",
            Error::HeldNoHangup(_) => "held_no_hangup",
            Error::HeldNoDtmf(_) => "held_no_dtmf",
            Error::ConferenceNoHold(_) => "conference_no_hold",
            Error::ConferenceNoMask(_) => "conference_no_mask",
            Error::ConferenceNoDtmf(_) => "conference_no_dtmf",
            Error::ConferenceNoTransfer(_) => "conference_no_transfer",
            Error::AlreadyMuted(_) => "already_muted",
            Error::NotMuted(_) => "not_muted",
            Error::InvalidDigits(_) => "invalid_digits",
            Error::RecordingAlreadyOn(_) => "recording_on",
            Error::RecordingOff(_) => "recording_off",
            Error::AlreadyMasked(_) => "already_masked",
            Error::NotMasked(_) => "not_masked",
            Error::ConsultInProgress(_) => "consult_in_progress",
            Error::NoConsult(_) => "no_consult",
            Error::ConsultNotAnswered(_) => "consult_not_answered",
            Error::TransferToSelf(_) => "transfer_to_self",
            Error::NoTransfer(_) => "no_transfer",
            Error::TargetUnavailable(_) => "target_unavailable",
            Error::InvalidNumber(_) => "invalid_number",
            Error::InvalidCallData(_) => "invalid_call_data",
            Error::NotWider(..) => "skills_not_wider",
            Error::InvalidAlert(_) => "invalid_alert",
            Error::Compliance(rule, _) => rule.code(),
            Error::HoldFirst(_) => "hold_first",
        }
    }

    /// Whether the input itself is malformed (rather than refused by the call's state).
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            Error::NotSelectable(_)
                | Error::UnknownStatus(_)
                | Error::InvalidDigits(_)
                | Error::InvalidNumber(_)
                | Error::InvalidCallData(_)
                | Error::NotWider(..)
                | Error::InvalidAlert(_)
        )
    }
}
