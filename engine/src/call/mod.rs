//! A call: its state, its result and its journey (features C4, C5, A3 from the call's side).
//!
//! States: Waiting (in a queue, nobody ringing) → Offering (agents ringing, until the offer
//! timeout) → Connected (an agent answered) → Ended; or Failed. A missed offer (declined, timed
//! out) returns the call to Waiting. The result is decided when the call ends:
//! - answered: an agent answered;
//! - cancelled: the caller hung up while an agent was being rung;
//! - not answered: the caller hung up after at least one offer was missed;
//! - busy: the caller hung up after the only agents tried were busy;
//! - abandoned: the caller hung up before any agent was tried;
//! - failed: the system could not carry the call (see [`Call::fail`]).
//!
//! Every step is appended to the journey with its timestamp; entries are never rewritten.
//!
//! Offers (ringing agents, an answer, a take, a decline, an offer ringing out, an overflow)
//! live in `offering`; in-call control (hold, mute, DTMF, recording) in `control`; blind
//! transfers, consults and conferences in `transfer`. Every method either changes the call and says what
//! the shell must do ([`Effects`]), or refuses with an [`Error`] and changes nothing.

mod audio;
mod callback;
mod control;
mod customer_media;
pub mod data;
mod dialing;
mod external;
mod journey;
mod offering;
mod skills;
mod state;
mod step_away;
mod transfer;

pub use audio::{AudioPlan, Participant, TranscriptPause};
pub use callback::{admit, Admission};
pub use control::{Recording, RecordingAction, MAX_DTMF_DIGITS};
pub use data::{CallData, Catalog};
pub use dialing::Unreached;
pub use journey::{JourneyEntry, JourneyEvent, Party};
pub use state::{CallKind, CallResult, CallState};

/// What the agent hears before a callback's customer is dialed (E4).
pub const CALLBACK_ANNOUNCEMENT: &str =
    "This is the callback call. Please wait while we are connecting to the caller.";
pub use transfer::{is_e164, Conference, Consult, Target, Third, Transfer};

use crate::queue::WaitingCall;
use crate::routing::Skills;
use crate::{AgentId, CallId, Error, QueueId, Timestamp};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// What the shell must carry out after a step of the call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Effects {
    /// Agents whose phone must stop ringing, without penalty.
    pub withdrawn: Vec<AgentId>,
    /// Agents who declined or let an offer ring out: their no-answer delay begins.
    pub missed: Vec<AgentId>,
    /// Agents whose part in the call is over: wrap-up begins.
    pub wrap_up: Vec<AgentId>,
    /// The queue whose wrap-up limit `wrap_up` gets, when it is not the call's queue: a sender
    /// whose call moved on to another queue in this step keeps its own queue's limit.
    pub wrap_up_in: Option<QueueId>,
    /// Agents who leave the call without wrap-up (a consult that ended): back to Ready.
    pub released: Vec<AgentId>,
    /// The call must leave this queue's line.
    pub leave_queue: Option<QueueId>,
    /// The call must take its place in this queue's line again (a missed queue offer, a
    /// failed transfer, a transfer to a queue).
    pub enqueue: Option<QueueId>,
    /// A queue's offer was answered: its service-level counters count it.
    pub queue_answered: Option<QueueId>,
    /// A blind transfer to a group found no answer yet: ring its next members.
    pub redial_group: bool,
}

/// A call. Serializable: the shell persists it after every step and a restarted actor
/// continues from it. Serialized without its journey, which only grows: a store appends each
/// step's entries and joins them back ([`Call::with_journey`]; a form with one still reads).
/// And without the fields that hold their default, which read back as it: a plain inbound
/// call sets few of them, and its row is rewritten at every step (a connected call's form is
/// 161 bytes against 556 with every field, which rows written before hold and which still
/// reads).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    id: CallId,
    /// Shared with every snapshot and event of the call.
    from: Arc<str>,
    queue: QueueId,
    #[serde(default, skip_serializing_if = "crate::is_default")]
    priority: i32,
    #[serde(default, skip_serializing_if = "crate::is_default")]
    skills: Skills,
    state: CallState,
    #[serde(default, skip_serializing_if = "crate::is_default")]
    result: Option<CallResult>,
    created_at: Timestamp,
    enqueued_at: Timestamp,
    #[serde(default, skip_serializing_if = "crate::is_default")]
    offered: Vec<AgentId>,
    /// Whether the agents ringing were chosen by the queue (not by a transfer).
    #[serde(default, skip_serializing_if = "crate::is_default")]
    offered_by_queue: bool,
    #[serde(default, skip_serializing_if = "crate::is_default")]
    offer_until: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "crate::is_default")]
    agent: Option<AgentId>,
    #[serde(default, skip_serializing_if = "crate::is_default")]
    answered_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "crate::is_default")]
    ended_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "crate::is_default")]
    ended_by: Option<Party>,
    #[serde(default, skip_serializing_if = "crate::is_default")]
    missed_offers: u32,
    #[serde(default, skip_serializing_if = "crate::is_default")]
    busy_agents: u32,
    #[serde(default, skip_serializing_if = "crate::is_default")]
    held: bool,
    #[serde(default, skip_serializing_if = "crate::is_default")]
    muted: bool,
    #[serde(default, skip_serializing_if = "crate::is_default")]
    recording: Recording,
    /// The transfer, consult and conference under way: rare, so boxed (every step's
    /// copy-on-write of the shared call copies what is inline; 656 bytes a call unboxed, 488).
    #[serde(default, skip_serializing_if = "crate::is_default")]
    transfer: Option<Box<Transfer>>,
    #[serde(default, skip_serializing_if = "crate::is_default")]
    consult: Option<Box<Consult>>,
    #[serde(default, skip_serializing_if = "crate::is_default")]
    conference: Option<Box<Conference>>,
    /// The number the customer talks to after the call was transferred out through a trunk
    /// (the agent left; the call lasts until one of the two hangs up).
    #[serde(default, skip_serializing_if = "crate::is_default")]
    bridged_to: Option<String>,
    /// CRM Name (who) and Related To (what): they stay with the call through every transfer.
    #[serde(default, skip_serializing_if = "crate::is_default")]
    kind: CallKind,
    #[serde(default, skip_serializing_if = "crate::is_default")]
    related: Vec<String>,
    /// Agents who declined, each excluded from this call until its moment.
    #[serde(default, skip_serializing_if = "crate::is_default")]
    declined: Vec<(AgentId, Timestamp)>,
    #[serde(default, skip_serializing_if = "crate::is_default")]
    who: Option<String>,
    #[serde(default, skip_serializing_if = "crate::is_default")]
    what: Option<String>,
    /// The rest of the call's CRM data (G1, see [`data`]).
    #[serde(default, skip_serializing_if = "crate::is_default")]
    disposition: Option<String>,
    #[serde(default, skip_serializing_if = "crate::is_default")]
    tags: std::collections::BTreeSet<String>,
    #[serde(default, skip_serializing_if = "crate::is_default")]
    notes: String,
    /// The customer's audio comes over one of our media legs (a web call's WebRTC): losing
    /// it is the customer leaving.
    #[serde(default, skip_serializing_if = "crate::is_default")]
    customer_media: bool,
    /// Custom attributes given when it was created (`POST /calls`), for strategies and
    /// extensions.
    #[serde(default, skip_serializing_if = "crate::is_default")]
    attributes: crate::routing::Attributes,
    /// Each entry shared, once written, by the call's snapshots and events: a snapshot's
    /// clone copies no entry and has room for the next step's (`Journey`).
    #[serde(default, skip_serializing)]
    journey: journey::Journey,
}

impl Call {
    /// A call enters the system and its queue.
    pub fn new(
        id: CallId,
        now: Timestamp,
        from: String,
        queue: QueueId,
        priority: i32,
        skills: Skills,
    ) -> Self {
        let mut call = Call {
            id,
            from: from.as_str().into(),
            queue: queue.clone(),
            priority,
            skills,
            state: CallState::Waiting,
            result: None,
            created_at: now,
            enqueued_at: now,
            offered: Vec::new(),
            offered_by_queue: false,
            offer_until: None,
            agent: None,
            answered_at: None,
            ended_at: None,
            ended_by: None,
            missed_offers: 0,
            busy_agents: 0,
            held: false,
            muted: false,
            recording: Recording::Off,
            transfer: None,
            consult: None,
            conference: None,
            bridged_to: None,
            declined: Vec::new(),
            kind: CallKind::Inbound,
            related: Vec::new(),
            who: None,
            what: None,
            disposition: None,
            tags: Default::default(),
            notes: String::new(),
            customer_media: false,
            attributes: Default::default(),
            journey: Default::default(),
        };
        call.log(now, JourneyEvent::Initiated { from });
        call.log(now, JourneyEvent::RoutedToQueue { queue });
        call
    }

    /// An outbound call (E1): `agent` dials `number` on `queue` (its caller id and hold
    /// music). The agent owns it from the start; it is Dialing until the customer answers.
    pub fn new_outbound(
        id: CallId,
        now: Timestamp,
        number: String,
        queue: QueueId,
        agent: AgentId,
    ) -> Self {
        let mut call = Call::new(id, now, number.clone(), queue, 0, Skills::new());
        call.journey.clear();
        call.kind = CallKind::Outbound;
        call.state = CallState::Dialing;
        call.agent = Some(agent.clone());
        call.log(now, JourneyEvent::Dialed { by: agent, number });
        call
    }

    /// A callback (E4): queued like an inbound call, by request time; the agent who answers
    /// is told it is a callback before the customer is dialed.
    pub fn new_callback(id: CallId, now: Timestamp, number: String, queue: QueueId) -> Self {
        let mut call = Call::new(id, now, number, queue, 0, Skills::new());
        call.kind = CallKind::Callback;
        call
    }

    /// A callback request that cannot be queued (E4): recorded at once as a missed call for
    /// the missed-call flow, with the reason.
    pub fn missed_callback(
        id: CallId,
        now: Timestamp,
        number: String,
        queue: QueueId,
        reason: String,
    ) -> Self {
        let mut call = Call::new_callback(id, now, number, queue);
        call.log(now, JourneyEvent::MissedCallFlow { reason });
        call.finish(now, CallState::Ended, CallResult::NotAnswered);
        call.ended_by = Some(Party::System);
        call
    }

    /// The customer answered the outbound call.
    pub fn remote_answered(&mut self, now: Timestamp) -> Result<(), Error> {
        self.expect(CallState::Dialing, "be answered by the customer")?;
        self.state = CallState::Connected;
        self.answered_at = Some(now);
        self.log(now, JourneyEvent::CustomerAnswered);
        Ok(())
    }

    /// The call's id.
    pub fn id(&self) -> &CallId {
        &self.id
    }
    /// Inbound, outbound or callback.
    pub fn kind(&self) -> CallKind {
        self.kind
    }
    /// The customer's number (the caller's, or the one dialed).
    pub fn from(&self) -> &str {
        &self.from
    }
    /// The queue the call is in (or was answered from).
    pub fn queue(&self) -> &QueueId {
        &self.queue
    }
    /// Its priority.
    pub fn priority(&self) -> i32 {
        self.priority
    }
    /// The state.
    pub fn state(&self) -> CallState {
        self.state
    }
    /// The result, once ended.
    pub fn result(&self) -> Option<CallResult> {
        self.result
    }
    /// When it entered the system.
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }
    /// When it entered its current queue.
    pub fn enqueued_at(&self) -> Timestamp {
        self.enqueued_at
    }
    /// The agents ringing now for the call itself (not a consult).
    pub fn offered(&self) -> &[AgentId] {
        &self.offered
    }
    /// The agent who owns the call (answered it, or received it by transfer).
    pub fn agent(&self) -> Option<&AgentId> {
        self.agent.as_ref()
    }
    /// When an agent first answered.
    pub fn answered_at(&self) -> Option<Timestamp> {
        self.answered_at
    }
    /// When it ended.
    pub fn ended_at(&self) -> Option<Timestamp> {
        self.ended_at
    }
    /// Who ended it.
    pub fn ended_by(&self) -> Option<&Party> {
        self.ended_by.as_ref()
    }
    /// Talking duration: end − answered (C4).
    pub fn talk_duration(&self) -> Option<Duration> {
        Some(self.ended_at?.since(self.answered_at?))
    }
    /// Whether the customer is on hold.
    pub fn held(&self) -> bool {
        self.held
    }
    /// Whether the owner's microphone is muted.
    pub fn muted(&self) -> bool {
        self.muted
    }
    /// The recording's state.
    pub fn recording(&self) -> Recording {
        self.recording
    }
    /// The blind transfer under way, if any.
    pub fn transfer(&self) -> Option<&Transfer> {
        self.transfer.as_deref()
    }
    /// The consult under way, if any.
    pub fn consult(&self) -> Option<&Consult> {
        self.consult.as_deref()
    }
    /// The conference, if the call is one.
    pub fn conference(&self) -> Option<&Conference> {
        self.conference.as_deref()
    }
    /// CRM Name (who).
    pub fn who(&self) -> Option<&str> {
        self.who.as_deref()
    }
    /// CRM Related To (what).
    pub fn what(&self) -> Option<&str> {
        self.what.as_deref()
    }
    /// Transactions this call is linked to (F1): the one it was made from, related ones.
    pub fn related(&self) -> &[String] {
        &self.related
    }
    /// Links the call to a transaction.
    pub fn link(&mut self, txn: Option<String>) {
        if let Some(t) = txn.filter(|t| !self.related.contains(t)) {
            self.related.push(t);
        }
    }
    /// The journey, oldest first.
    pub fn journey(&self) -> &[Arc<JourneyEntry>] {
        &self.journey
    }
    /// The caller's number, shared.
    pub fn from_shared(&self) -> &Arc<str> {
        &self.from
    }
    /// The call with `journey` (oldest first) as its journey: a serialized form read back.
    pub fn with_journey<E: Into<Arc<JourneyEntry>>>(
        mut self,
        journey: impl IntoIterator<Item = E>,
    ) -> Call {
        self.journey = journey.into_iter().collect();
        self
    }

    /// Whether `agent` may read this call (K3): it rings for the agent now, or the agent
    /// owns or owned it (answered it, took it, dialed it), was consulted on it, was sent it by
    /// a transfer, or changed its data. An offer the agent declined, missed or lost to a
    /// colleague gives nothing: what the owner writes later is not the agent's to read.
    pub fn readable_by(&self, agent: &AgentId) -> bool {
        use journey::JourneyEvent as E;
        if self.agent.as_ref() == Some(agent)
            || self.offered.contains(agent)
            || self.agents_involved().contains(agent)
        {
            return true;
        }
        let to_me = |t: &Target| matches!(t, Target::Agent { id } if id == agent);
        self.journey.iter().any(|e| match &e.event {
            E::AnsweredBy { agent: a }
            | E::TakenBy { agent: a }
            | E::ConsultOffered { agent: a } => a == agent,
            E::Dialed { by, .. } | E::TakenBack { by } | E::DataChanged { by, .. } => by == agent,
            E::TransferStarted { by, target } | E::ConsultStarted { by, target } => {
                by == agent || to_me(target)
            }
            E::ConsultAnswered { agent: Some(a) } | E::ConsultEnded { agent: Some(a), .. } => {
                a == agent
            }
            E::ConsultCompleted { from, to } => from == agent || to == agent,
            _ => false,
        })
    }

    /// Every agent taking part now: ringing, owning, consulted or in conference.
    pub fn agents_involved(&self) -> Vec<AgentId> {
        let others = [
            self.agent.as_ref(),
            self.consult.as_ref().and_then(|c| c.agent.as_ref()),
            self.conference.as_ref().and_then(|c| c.third_agent()),
        ];
        // Sized once: every step's events carry the list (the owner joining the ringing
        // agents had grown it, a second allocation twice a routed call).
        let mut out = Vec::with_capacity(self.offered.len() + others.iter().flatten().count());
        out.extend(self.offered.iter().cloned());
        out.extend(others.into_iter().flatten().cloned());
        out.dedup();
        out
    }

    /// The customer journey status of this call (F2).
    pub fn journey_status(&self) -> &'static str {
        match self.state {
            CallState::Ended => "ended",
            CallState::Failed => "failed",
            _ if self.transfer.is_some() || self.consult.is_some() => "transferring",
            CallState::Waiting => "waiting",
            CallState::Offering | CallState::Dialing => "assigning",
            CallState::Connected => "assigned",
        }
    }

    /// The call as its queue's line holds it.
    pub fn waiting_call(&self) -> WaitingCall {
        WaitingCall {
            call: self.id.clone(),
            priority: self.priority,
            skills: self.skills.clone(),
            enqueued_at: self.enqueued_at,
            excluded: self.declined.clone(),
            caller: self.from.clone(),
            attributes: self.attributes.clone(),
        }
    }

    /// Someone hangs up. The customer may hang up at any time. An agent may hang up its own
    /// call (not while it is held, C3), its consult leg, or leave a conference.
    pub fn hangup(&mut self, now: Timestamp, by: Party) -> Result<Effects, Error> {
        if self.state.is_final() {
            return Err(Error::CallState(
                self.id.clone(),
                self.state.as_str().into(),
                "hang up",
            ));
        }
        if matches!(by, Party::External { .. }) {
            return self.external_left(now, by);
        }
        if self.conference.is_some() {
            return self.leave_conference(now, by);
        }
        if let Party::Agent { agent } = &by {
            if self
                .consult
                .as_ref()
                .is_some_and(|c| c.agent.as_ref() == Some(agent))
            {
                let answered = self.consult.as_ref().is_some_and(|c| c.answered);
                let reason = if answered { "hung_up" } else { "declined" };
                return Ok(self.end_consult(now, reason, false));
            }
            let live = matches!(self.state, CallState::Connected | CallState::Dialing);
            if !live || self.agent.as_ref() != Some(agent) {
                return Err(Error::NotOwner(self.id.clone(), agent.clone()));
            }
            if self.held {
                return Err(Error::HeldNoHangup(self.id.clone()));
            }
        }
        let mut fx = self.end_consult_with_call(now);
        let result = match self.state {
            CallState::Connected => {
                fx.wrap_up.extend(self.agent.clone());
                CallResult::Answered
            }
            CallState::Offering => {
                fx.withdrawn.append(&mut self.offered);
                fx.leave_queue = Some(self.queue.clone());
                CallResult::Cancelled
            }
            CallState::Dialing => {
                // The agent gave up, or the customer did not take the call.
                fx.wrap_up.extend(self.agent.clone());
                if matches!(by, Party::Agent { .. }) {
                    CallResult::Cancelled
                } else {
                    CallResult::NotAnswered
                }
            }
            _ => {
                fx.leave_queue = Some(self.queue.clone());
                if self.answered_at.is_some() {
                    CallResult::Answered
                } else if self.missed_offers > 0 {
                    CallResult::NotAnswered
                } else if self.busy_agents > 0 {
                    CallResult::Busy
                } else {
                    CallResult::Abandoned
                }
            }
        };
        for a in &fx.withdrawn {
            self.log(now, JourneyEvent::OfferWithdrawn { agent: a.clone() });
        }
        self.end(now, by, result);
        Ok(fx)
    }

    /// The system cannot carry the call (its queue vanished, its overflow target does not
    /// exist…). Ringing agents are withdrawn; connected ones enter wrap-up.
    pub fn fail(&mut self, now: Timestamp, reason: String) -> Effects {
        if self.state.is_final() {
            return Effects::default();
        }
        let mut fx = self.end_consult_with_call(now);
        fx.withdrawn.append(&mut self.offered);
        if self.state == CallState::Connected {
            fx.wrap_up.extend(self.agent.clone());
            fx.wrap_up.extend(
                self.conference
                    .take()
                    .and_then(|c| c.third_agent().cloned()),
            );
        } else {
            fx.leave_queue = Some(self.queue.clone());
        }
        self.finish(now, CallState::Failed, CallResult::Failed);
        self.ended_by = Some(Party::System);
        self.log(now, JourneyEvent::Failed { reason });
        fx
    }

    /// After a restart: notes it in the journey. Ringing offers are lost with the process, so
    /// the call goes back to waiting (a ringing consult ends); a connected call stays. A call
    /// whose customer spoke over one of our media legs lost that leg with the process, and the
    /// customer cannot reach it again: it ends as the customer's hang-up.
    pub fn recover(&mut self, now: Timestamp, process_restarted: bool) -> Effects {
        self.log(now, JourneyEvent::Recovered);
        if process_restarted {
            if let Ok(fx) = self.customer_media_lost(now, "restart") {
                return fx;
            }
        }
        let mut fx = Effects::default();
        // A number a blind transfer dialed went with the process's SIP dialog.
        let unrung_transfer = self.state == CallState::Waiting
            && matches!(
                self.transfer.as_ref().map(|t| &t.target),
                Some(Target::Agent { .. } | Target::Group { .. } | Target::Number { .. })
            );
        if unrung_transfer {
            // A transfer that was between two rings when the actor failed: nobody will ring
            // now, so it goes to its queue like a transfer nobody answered.
            self.transfer_failed(now, "interrupted by a restart", &mut fx);
            return fx;
        }
        if process_restarted {
            if self
                .consult
                .as_ref()
                .is_some_and(|c| !c.answered || c.dialed)
            {
                fx = self.end_consult(now, "not_answered", false);
                fx.withdrawn.append(&mut fx.released);
            }
            if self.state == CallState::Offering {
                for a in std::mem::take(&mut self.offered) {
                    self.log(now, JourneyEvent::OfferWithdrawn { agent: a.clone() });
                    fx.withdrawn.push(a);
                }
                self.offer_until = None;
                self.state = CallState::Waiting;
                if self.transfer.is_none() {
                    fx.enqueue = Some(self.queue.clone());
                } else {
                    self.transfer_failed(now, "the process restarted while it rang", &mut fx);
                }
            } else if self.state == CallState::Waiting {
                fx.enqueue = Some(self.queue.clone());
            }
        }
        fx
    }

    /// Ends the call for good: result, who, journey.
    fn end(&mut self, now: Timestamp, by: Party, result: CallResult) {
        self.finish(now, CallState::Ended, result);
        self.ended_by = Some(by.clone());
        self.log(now, JourneyEvent::Ended { by, result });
    }

    fn connect(&mut self, now: Timestamp, agent: AgentId, event: JourneyEvent) {
        self.offered.clear();
        self.offer_until = None;
        self.agent = Some(agent);
        self.answered_at.get_or_insert(now);
        self.state = CallState::Connected;
        self.log(now, event);
    }

    fn finish(&mut self, now: Timestamp, state: CallState, result: CallResult) {
        self.offer_until = None;
        self.transfer = None;
        self.held = false;
        self.state = state;
        self.result = Some(result);
        self.ended_at = Some(now);
    }

    fn expect(&self, state: CallState, action: &'static str) -> Result<(), Error> {
        if self.state == state {
            Ok(())
        } else {
            Err(Error::CallState(
                self.id.clone(),
                self.state.as_str().into(),
                action,
            ))
        }
    }

    fn log(&mut self, at: Timestamp, event: JourneyEvent) {
        self.journey.push(Arc::new(JourneyEntry { at, event }));
    }
}

#[cfg(test)]
mod tests;
