//! The journey (C4): every step of a call with its timestamp, and who did it.

use super::{CallResult, Recording, Target};
use crate::routing::Skills;
use crate::{AgentId, QueueId, Timestamp};
use serde::{Deserialize, Serialize};

/// Who did something to a call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "party", rename_all = "snake_case")]
pub enum Party {
    /// The caller.
    Customer,
    /// An agent.
    Agent {
        /// Which.
        agent: AgentId,
    },
    /// Switchyard itself.
    System,
    /// An external party reached through a trunk (a consult's, a conference's or a transfer's
    /// number).
    External {
        /// Its number.
        number: String,
    },
}

/// One step of a call's journey (C4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum JourneyEvent {
    /// The call entered the system.
    Initiated {
        /// The caller's number.
        from: String,
    },
    /// The call entered a queue.
    RoutedToQueue {
        /// Which.
        queue: QueueId,
    },
    /// An agent's device started ringing.
    OfferedTo {
        /// Which.
        agent: AgentId,
    },
    /// The agent was tried but found busy.
    AgentBusy {
        /// Which.
        agent: AgentId,
    },
    /// The agent declined.
    Declined {
        /// Which.
        agent: AgentId,
    },
    /// The offer rang out.
    TimedOut {
        /// Which.
        agent: AgentId,
    },
    /// The agent stopped ringing because someone else answered or the caller left.
    OfferWithdrawn {
        /// Which.
        agent: AgentId,
    },
    /// The agent chose another status while the call rang for it: its offer ended at once,
    /// without a no-answer penalty.
    SteppedAway {
        /// Which.
        agent: AgentId,
    },
    /// An agent answered.
    AnsweredBy {
        /// Which.
        agent: AgentId,
    },
    /// An agent took the call from the unassigned list.
    TakenBy {
        /// Which.
        agent: AgentId,
    },
    /// The call waited too long and moved on.
    Overflowed {
        /// From.
        from: QueueId,
        /// To.
        to: QueueId,
    },
    /// The call actor restarted from persisted state after a failure.
    Recovered,
    /// The customer's audio, which came over one of our media legs (a web call), stopped or
    /// never came, or its leg was lost with a restart: the customer is taken to have hung up
    /// (an `ended` step follows).
    CustomerMediaLost {
        /// `no_audio` (nothing heard for the configured time) or `restart`.
        reason: String,
    },
    /// An agent dialed the customer (outbound).
    Dialed {
        /// Who dialed.
        by: AgentId,
        /// The number.
        number: String,
    },
    /// The customer's phone rings (the network said so) on an outbound call or callback.
    CustomerRinging,
    /// The customer answered an outbound call or callback.
    CustomerAnswered,
    /// The external number a consult or a blind transfer dials through a trunk rings.
    ExternalRinging {
        /// The number.
        number: String,
    },
    /// The agent was told the call is a callback before the customer was dialed (E4).
    CallbackAnnounced {
        /// What the agent heard.
        message: String,
    },
    /// A callback request that could not be queued went to the missed-call flow (E4).
    MissedCallFlow {
        /// Why.
        reason: String,
    },
    /// The agent put the customer on hold.
    Held,
    /// The customer came off hold.
    Resumed,
    /// The agent muted its microphone.
    Muted,
    /// The agent unmuted its microphone.
    Unmuted,
    /// Digits were sent.
    Dtmf {
        /// Which.
        digits: String,
    },
    /// The recording changed.
    Recording {
        /// Its new state.
        state: Recording,
    },
    /// A blind transfer began.
    TransferStarted {
        /// The sender.
        by: AgentId,
        /// Where to.
        target: Target,
    },
    /// A blind transfer found nobody; the call went back to its queue.
    TransferFailed {
        /// Why.
        reason: String,
    },
    /// The sender took a ringing transfer back.
    TakenBack {
        /// The sender.
        by: AgentId,
    },
    /// The call was handed to an external number and left Switchyard.
    TransferredOut {
        /// The number.
        number: String,
    },
    /// An attended transfer (consult) began: the customer is held, the target rings.
    ConsultStarted {
        /// The agent consulting.
        by: AgentId,
        /// Whom.
        target: Target,
    },
    /// A consulted agent's phone rings.
    ConsultOffered {
        /// Which.
        agent: AgentId,
    },
    /// The consulted party answered.
    ConsultAnswered {
        /// The consulted agent, if an agent.
        agent: Option<AgentId>,
    },
    /// The consult ended without a transfer.
    ConsultEnded {
        /// The consulted agent, if an agent.
        agent: Option<AgentId>,
        /// `cancelled`, `declined`, `not_answered` or `hung_up`.
        reason: String,
    },
    /// The attended transfer completed: ownership moved.
    ConsultCompleted {
        /// The previous owner.
        from: AgentId,
        /// The new owner.
        to: AgentId,
    },
    /// The consult became a three-way conference.
    ConferenceStarted,
    /// A party left a conference; the others stay connected.
    PartyLeft {
        /// Who left.
        party: Party,
    },
    /// The call's CRM data changed (G1).
    DataChanged {
        /// Who changed it.
        by: AgentId,
        /// Which fields: `disposition`, `tags`, `notes`, `who`, `what`.
        fields: Vec<String>,
    },
    /// The call's skill requirements were widened while it waited (B3, an extension or a
    /// supervisor).
    SkillsWidened {
        /// What it required before.
        from: Skills,
        /// What it requires now.
        to: Skills,
    },
    /// The call ended.
    Ended {
        /// By whom.
        by: Party,
        /// With what result.
        result: CallResult,
    },
    /// The system could not carry the call.
    Failed {
        /// Why.
        reason: String,
    },
}

/// A journey entry: an event and when it happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JourneyEntry {
    /// When.
    pub at: Timestamp,
    /// What.
    #[serde(flatten)]
    pub event: JourneyEvent,
}

/// A call's journey as its snapshots hold it, oldest first, each entry shared once written. A
/// clone leaves room for a few more entries: a call actor changes a copy of its snapshot while
/// the store still holds the old one (copy on write), and the step then logs one to three
/// entries, which with no room moved the whole list again (four times a routed call).
#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub(crate) struct Journey(Vec<std::sync::Arc<JourneyEntry>>);

/// The entries a clone has room for without growing.
const ROOM: usize = 4;

impl Clone for Journey {
    fn clone(&self) -> Self {
        let mut entries = Vec::with_capacity(self.0.len() + ROOM);
        entries.extend(self.0.iter().cloned());
        Journey(entries)
    }
}

impl std::ops::Deref for Journey {
    type Target = Vec<std::sync::Arc<JourneyEntry>>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Journey {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl<E: Into<std::sync::Arc<JourneyEntry>>> FromIterator<E> for Journey {
    fn from_iter<I: IntoIterator<Item = E>>(entries: I) -> Self {
        Journey(entries.into_iter().map(Into::into).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clone_has_room_to_log_a_step_and_shares_the_entries() {
        let entry = |at| JourneyEntry {
            at: Timestamp(at),
            event: JourneyEvent::CustomerRinging,
        };
        let journey: Journey = (0..5).map(entry).collect();
        let copy = journey.clone();
        assert_eq!(copy, journey);
        assert!(
            copy.capacity() >= journey.len() + ROOM,
            "{} entries, room for {}",
            copy.len(),
            copy.capacity()
        );
        assert!(std::sync::Arc::ptr_eq(&copy[0], &journey[0]));
    }
}
