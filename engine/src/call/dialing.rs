//! The customer's side of a call we dial (an agent's outbound call, a callback, a scheduled
//! call), as the telephone network reports it: the customer's phone rings, the customer
//! answers, or the attempt is over without an answer (E1, E3, E5, H4).

use super::{Call, CallResult, CallState, Effects, JourneyEvent, Party};
use crate::{Error, Timestamp};

impl Call {
    /// The customer's phone rings (a provisional response to our INVITE). Noted once in the
    /// journey; later provisional responses change nothing.
    pub fn remote_ringing(&mut self, now: Timestamp) -> Result<(), Error> {
        self.expect(CallState::Dialing, "ring the customer")?;
        if !self
            .journey
            .iter()
            .any(|e| e.event == JourneyEvent::CustomerRinging)
        {
            self.log(now, JourneyEvent::CustomerRinging);
        }
        Ok(())
    }

    /// The attempt to reach the customer is over without an answer (see [`Unreached`]). The
    /// agent who dialed enters wrap-up, as after any call; the call ends, by the customer when
    /// it was busy or not answered, by the system when the network refused it.
    pub fn remote_over(&mut self, now: Timestamp, why: Unreached) -> Result<Effects, Error> {
        self.expect(CallState::Dialing, "end without an answer")?;
        let by = match why {
            Unreached::Busy | Unreached::NotAnswered => Party::Customer,
            Unreached::Failed => Party::System,
        };
        let mut fx = self.end_consult_with_call(now);
        fx.wrap_up.extend(self.agent.clone());
        self.end(now, by, why.result());
        Ok(fx)
    }
}

/// Why a dialed customer was not reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unreached {
    /// The line was busy, or the customer declined the call.
    Busy,
    /// Nobody answered within the ring time.
    NotAnswered,
    /// The network refused the call (a wrong number, a carrier error, no route).
    Failed,
}

impl Unreached {
    /// Its name: `busy`, `not_answered`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Unreached::Busy => "busy",
            Unreached::NotAnswered => "not_answered",
            Unreached::Failed => "failed",
        }
    }

    /// The call's result.
    pub fn result(self) -> CallResult {
        match self {
            Unreached::Busy => CallResult::Busy,
            Unreached::NotAnswered => CallResult::NotAnswered,
            Unreached::Failed => CallResult::Failed,
        }
    }
}
