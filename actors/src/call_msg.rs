//! The messages a call actor takes ([`CallMsg`]), apart from the actor itself.

use crate::call_control::Control;
use crate::error::ActorError;
use crate::store::Saving;
use engine::call::{Call, Party};
use engine::{AgentId, QueueId};
use ractor::RpcReplyPort;
use std::sync::Arc;

/// What the network says of an external number being dialed (the call actor's `External` message).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExternalNews {
    /// It rings.
    Ringing,
    /// It answered.
    Answered,
    /// It was not reached.
    Over(engine::call::Unreached),
}

/// What a call step's client is answered on: the call as saved, or why not.
pub(crate) type CallReply = RpcReplyPort<Result<Arc<Call>, ActorError>>;

/// Messages to a call actor. Reply ports come last.
pub enum CallMsg {
    /// The queue reserved these agents for the call: ring them. Cast by the agent herself when
    /// a single agent took her reservation, by the queue for a ring-all's.
    Offer {
        /// The agents, reserved (their reservations maybe not committed yet: `reservations`).
        agents: Vec<AgentId>,
        /// The queue that chose them.
        queue: QueueId,
        /// The agents' reservations not known to be durable when this was sent: the offer's
        /// write commits after them, and an agent whose reservation failed is withdrawn from
        /// the offer.
        reservations: Vec<(AgentId, Saving)>,
        /// Which of the queue's reservations ([`engine::queue::Assignment::attempt`]).
        attempt: u64,
    },
    /// The queue heard nothing of a single agent's reservation by its deadline: her yes would
    /// have come here. Unless the call rings her for it, it refuses for her (the queue puts
    /// the call back in line) and takes an offer of that reservation coming later as stale.
    ReservationExpired {
        /// The queue.
        queue: QueueId,
        /// The agent reserved.
        agent: AgentId,
        /// Which reservation.
        attempt: u64,
    },
    /// An agent answers (the call's offer, or a consult it is ringing for).
    Accept {
        /// Which.
        agent: AgentId,
        /// Answer.
        reply: CallReply,
    },
    /// An agent that rang for this call chose another status: its offer ends at once.
    WithdrawOffer {
        /// Which agent stepped away.
        agent: AgentId,
    },
    /// An agent declines.
    Decline {
        /// Which.
        agent: AgentId,
        /// Answer.
        reply: CallReply,
    },
    /// Someone hangs up.
    Hangup {
        /// Who.
        by: Party,
        /// Answer.
        reply: CallReply,
    },
    /// An agent takes the waiting call from the unassigned list.
    Take {
        /// Which.
        agent: AgentId,
        /// Answer.
        reply: CallReply,
    },
    /// A colleague is chosen to take the waiting call: it is offered to them.
    Assign {
        /// Which.
        agent: AgentId,
        /// Answer.
        reply: CallReply,
    },
    /// The owner acts on the call: hold, mute, DTMF, recording, transfer, consult…
    Control {
        /// The agent acting.
        agent: AgentId,
        /// What it does.
        action: Control,
        /// Answer.
        reply: CallReply,
    },
    /// The customer answered an outbound call or callback (telephony ingress).
    RemoteAnswered {
        /// Answer.
        reply: CallReply,
    },
    /// The customer's phone rings (a SIP trunk's provisional response).
    RemoteRinging {
        /// Answer.
        reply: CallReply,
    },
    /// The customer was not reached (busy, not answered, refused by the network).
    RemoteOver {
        /// Why.
        why: engine::call::Unreached,
        /// Answer.
        reply: CallReply,
    },
    /// News of the external number a consult or a blind transfer dials through a trunk.
    External {
        /// What the network said.
        news: ExternalNews,
        /// Answer.
        reply: CallReply,
    },
    /// The call waited too long in its queue and moves to another.
    Overflow {
        /// The target queue.
        to: QueueId,
    },
    /// An agent actor restarted and asks whether it is still ringing for or on this call;
    /// the call corrects it if not.
    Resync {
        /// Which.
        agent: AgentId,
    },
    /// A trunk party's SDP offer: a plain RTP leg in the call's media actor (started at the
    /// first leg), whose address comes back for the answer.
    PlainMedia {
        /// Whose.
        who: engine::call::Participant,
        /// The offer; none when we make it (an outbound call).
        sdp: Option<String>,
        /// The address the leg binds.
        bind: crate::media::leg::RtpBind,
        /// The leg's address.
        reply: RpcReplyPort<Result<std::net::SocketAddr, ActorError>>,
    },
    /// A party's WebRTC offer: handed to the call's media actor (started at the first one),
    /// which answers.
    Media {
        /// Whose.
        who: engine::call::Participant,
        /// The offer (boxed: session descriptions are large).
        offer: Box<webrtc::peer_connection::RTCSessionDescription>,
        /// The answer.
        reply: RpcReplyPort<Result<webrtc::peer_connection::RTCSessionDescription, ActorError>>,
    },
    /// Widen the call's skill requirements while it waits (B3).
    WidenSkills {
        /// What it requires now.
        skills: engine::routing::Skills,
        /// Answer.
        reply: CallReply,
    },
    /// Read the call.
    Get {
        /// Answer.
        reply: RpcReplyPort<Arc<Call>>,
    },
    /// The customer's side is gone without a hang-up: its media leg has sent nothing for
    /// `media.customer_silence_secs` (`no_audio`), or its trunk's session timer ran out
    /// unrefreshed (`session_expired`).
    CustomerMediaLost {
        /// Why, for the journey.
        reason: &'static str,
    },
    /// The timer.
    Timeout(u64),
    /// The call's creation, which its creator handed to the store without waiting, committed
    /// or failed (see `call_creation`).
    Saved,
    /// Fault injection for the supervision tests: the handler panics.
    #[cfg(test)]
    Panic,
}
