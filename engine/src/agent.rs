//! An agent's presence: its status with the time it began, the offer it is ringing for, its
//! call, wrap-up, the post-call status it chose and a supervisor's lock (features A2–A5).
//!
//! Invariants:
//! - `status` is `Offered` exactly when `call` holds a ringing call, `InService` when it holds a
//!   connected one; `AfterService` while a wrap-up runs.
//! - A lock only stops the agent's own changes; calls still move the agent through Offered,
//!   InService and AfterService, and every idle moment lands in the locked status.
//! - Every change of status is reported once through [`Agent::poll_change`].

use crate::{AgentId, CallId, Error, QueueId, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

/// An agent's status (A2). System statuses are set by the engine; `Custom` ones (Break,
/// Training, PTO…) are defined in the configuration and chosen by the agent.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// Logged out of voice: receives nothing.
    Offline,
    /// Available: the queues may offer calls.
    Ready,
    /// A call is ringing on the agent's device.
    Offered,
    /// Placing an outbound call.
    Dialing,
    /// On a call.
    InService,
    /// Wrap-up after a call.
    AfterService,
    /// Not available: chosen, or the no-answer delay after a missed offer.
    Busy,
    /// Do not disturb.
    Dnd,
    /// The agent's panel has gone (its event stream closed and did not come back within the
    /// grace period): receives nothing until the panel is back, then returns to the status it
    /// had (or would have had meanwhile).
    Disconnected,
    /// An admin-defined status, by its configured name.
    Custom(String),
}

impl Status {
    /// The wire name: `ready`, `in_service`, or a custom status's own name.
    pub fn as_str(&self) -> &str {
        match self {
            Status::Offline => "offline",
            Status::Ready => "ready",
            Status::Offered => "offered",
            Status::Dialing => "dialing",
            Status::InService => "in_service",
            Status::AfterService => "after_service",
            Status::Busy => "busy",
            Status::Dnd => "dnd",
            Status::Disconnected => "disconnected",
            Status::Custom(name) => name,
        }
    }

    /// Parses a wire name; anything that is not a system status is a custom one (to be checked
    /// against the configured list by [`Agent::set_status`]).
    pub fn parse(s: &str) -> Status {
        match s {
            "offline" => Status::Offline,
            "ready" => Status::Ready,
            "offered" => Status::Offered,
            "dialing" => Status::Dialing,
            "in_service" => Status::InService,
            "after_service" => Status::AfterService,
            "busy" => Status::Busy,
            "dnd" => Status::Dnd,
            "disconnected" => Status::Disconnected,
            other => Status::Custom(other.to_owned()),
        }
    }

    /// Statuses only the system sets: an agent or supervisor cannot choose them.
    pub fn is_system_only(&self) -> bool {
        matches!(
            self,
            Status::Offered
                | Status::Dialing
                | Status::InService
                | Status::AfterService
                | Status::Disconnected
        )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Status {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Status::parse(&s))
    }
}

/// Why a status changed: carried into the status history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeReason {
    /// The agent chose it.
    Agent,
    /// A supervisor's lock.
    Lock,
    /// A call was offered.
    Offer,
    /// The agent answered.
    Answered,
    /// The offer ended without the agent answering (someone else did, or the caller left).
    OfferWithdrawn,
    /// The agent declined or let the offer time out: the no-answer delay begins.
    OfferMissed,
    /// The no-answer delay ran out.
    NoAnswerDelayOver,
    /// The call ended: wrap-up begins.
    CallEnded,
    /// The agent ended the wrap-up.
    WrapUpEnded,
    /// The queue's wrap-up limit ended the wrap-up.
    WrapUpLimit,
    /// The agent left a call it only helped on (a consult that ended): no wrap-up.
    Released,
    /// The agent dialed out.
    Dialing,
    /// The agent's call ended and it is back on the call it had held.
    BackToHeldCall,
    /// The agent's panel has gone.
    PanelGone,
    /// The agent's panel is back.
    PanelBack,
}

/// One change of status, as the shell persists and publishes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    /// The agent.
    pub agent: AgentId,
    /// Status before.
    pub from: Status,
    /// Status after.
    pub to: Status,
    /// When the new status began.
    pub at: Timestamp,
    /// Why.
    pub reason: ChangeReason,
}

/// The call an agent is ringing for or talking on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentCall {
    /// The call.
    pub call: CallId,
    /// The queue it came from; its wrap-up limit and no-answer delay apply.
    pub queue: QueueId,
    /// When the agent answered; `None` while it rings.
    pub answered_at: Option<Timestamp>,
}

/// An agent's whole presence state. Serializable so that the shell can persist it and a
/// restarted actor continues where it was; serialized without the fields that hold their
/// default (a store rewrites the agent's row at each change: 91 bytes for a Ready agent
/// against 262 with every field, the form rows written before hold, which still reads).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    id: AgentId,
    status: Status,
    since: Timestamp,
    #[serde(default, skip_serializing_if = "crate::is_default")]
    lock: Option<Status>,
    #[serde(default, skip_serializing_if = "crate::is_default")]
    post_call_status: Option<Status>,
    #[serde(default, skip_serializing_if = "crate::is_default")]
    call: Option<AgentCall>,
    /// Calls put on hold to start another one (C3).
    #[serde(default, skip_serializing_if = "crate::is_default")]
    parked: Vec<AgentCall>,
    /// End of the no-answer delay, while the agent is Busy because of it.
    #[serde(default, skip_serializing_if = "crate::is_default")]
    busy_until: Option<Timestamp>,
    /// End of the wrap-up imposed by the queue's limit, while in AfterService.
    #[serde(default, skip_serializing_if = "crate::is_default")]
    wrap_up_until: Option<Timestamp>,
    /// The call being wrapped up, while in AfterService (its data is still editable, G1).
    #[serde(default, skip_serializing_if = "crate::is_default")]
    wrap_up_call: Option<CallId>,
    /// Since when the agent has been without a call (longest-idle routing).
    idle_since: Timestamp,
    calls_handled: u64,
    talk_time_ms: u64,
    /// Whether the agent works from a panel (an event stream): only then can its going away
    /// be noticed, after a restart too.
    #[serde(default, skip_serializing_if = "crate::is_default")]
    uses_panel: bool,
    /// The panel has gone: idle statuses become `Disconnected` until it is back.
    #[serde(default, skip_serializing_if = "crate::is_default")]
    panel_gone: bool,
    /// The status to return to when the panel is back.
    #[serde(default, skip_serializing_if = "crate::is_default")]
    resume: Option<Status>,
    #[serde(skip)]
    changes: VecDeque<StatusChange>,
}

/// What routing needs to know of an agent: published to the agent's queues on every change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Availability {
    /// The agent's status now.
    pub status: Status,
    /// Whether a queue may offer it a call now.
    pub available: bool,
    /// Since when it has been without a call.
    pub idle_since: Timestamp,
    /// Calls answered since it was created.
    pub calls_handled: u64,
    /// Total talking time, in milliseconds.
    pub talk_time_ms: u64,
}

/// Timers the shell must arm for an agent (see [`Agent::poll_timeout`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentTimer {
    /// The no-answer delay ends.
    NoAnswerDelay,
    /// The queue's wrap-up limit is reached.
    WrapUpLimit,
}

impl Agent {
    /// A new agent, Offline since `now`.
    pub fn new(id: AgentId, now: Timestamp) -> Self {
        Agent {
            id,
            status: Status::Offline,
            since: now,
            lock: None,
            post_call_status: None,
            call: None,
            parked: Vec::new(),
            busy_until: None,
            wrap_up_until: None,
            wrap_up_call: None,
            idle_since: now,
            calls_handled: 0,
            talk_time_ms: 0,
            uses_panel: false,
            panel_gone: false,
            resume: None,
            changes: VecDeque::new(),
        }
    }

    /// The agent's id.
    pub fn id(&self) -> &AgentId {
        &self.id
    }

    /// The current status.
    pub fn status(&self) -> &Status {
        &self.status
    }

    /// When the current status began (the panel's timer).
    pub fn since(&self) -> Timestamp {
        self.since
    }

    /// The status a supervisor locked the agent in, if any.
    pub fn lock(&self) -> Option<&Status> {
        self.lock.as_ref()
    }

    /// The status chosen for after the current call's wrap-up.
    pub fn post_call_status(&self) -> Option<&Status> {
        self.post_call_status.as_ref()
    }

    /// The call the agent is ringing for or talking on.
    pub fn call(&self) -> Option<&AgentCall> {
        self.call.as_ref()
    }

    /// The call this agent is wrapping up, while in AfterService.
    pub fn wrap_up_call(&self) -> Option<&CallId> {
        self.wrap_up_call
            .as_ref()
            .filter(|_| self.status == Status::AfterService)
    }

    /// Calls answered so far.
    pub fn calls_handled(&self) -> u64 {
        self.calls_handled
    }

    /// What routing needs to know.
    pub fn availability(&self) -> Availability {
        Availability {
            status: self.status.clone(),
            available: self.is_available(),
            idle_since: self.idle_since,
            calls_handled: self.calls_handled,
            talk_time_ms: self.talk_time_ms,
        }
    }

    /// Whether a queue may offer this agent a call now.
    pub fn is_available(&self) -> bool {
        self.status == Status::Ready && self.call.is_none() && self.parked.is_empty()
    }

    /// Calls the agent put on hold to start another (C3), oldest first.
    pub fn parked(&self) -> &[AgentCall] {
        &self.parked
    }

    /// The agent (or the API on its behalf) chooses a status, and optionally the post-call
    /// status for the current call. During a call only the post-call status may change; during
    /// wrap-up choosing a status ends the wrap-up into it.
    ///
    /// While a call rings for it, the agent may step away: any status but Ready ends its offer
    /// (the ringing call is returned, and the shell must tell the call, see
    /// [`crate::call::Call::withdraw_offer`]) and the agent is in that status at once, with no
    /// no-answer delay. Ready while ringing changes nothing. A supervisor's lock still holds.
    pub fn set_status(
        &mut self,
        now: Timestamp,
        status: Option<Status>,
        post_call_status: Option<Status>,
        custom: &[String],
    ) -> Result<Option<CallId>, Error> {
        for s in status.iter().chain(post_call_status.iter()) {
            check_selectable(s, custom)?;
        }
        if let Some(locked) = &self.lock {
            if status.as_ref().is_some_and(|s| s != &self.status) {
                return Err(Error::Locked(self.id.clone(), locked.to_string()));
            }
        }
        if let Some(status) = &status {
            match (&self.status, &self.call) {
                (Status::AfterService | Status::Offered, _) => {}
                (_, Some(call)) if status != &self.status => {
                    return Err(Error::OnCall(self.id.clone(), call.call.clone()));
                }
                (Status::Busy, _) if self.busy_until.is_some() && *status == Status::Ready => {
                    return Err(Error::NoAnswerDelay(self.id.clone()));
                }
                _ => {}
            }
        }
        if let Some(p) = post_call_status {
            self.post_call_status = Some(p);
        }
        let mut left = None;
        match status {
            Some(Status::Ready) if self.status == Status::Offered => {}
            Some(status) => {
                if self.status == Status::AfterService {
                    self.wrap_up_until = None;
                    self.post_call_status = None;
                }
                if self.status == Status::Offered {
                    left = self.call.take().map(|c| c.call);
                }
                self.busy_until = None;
                self.change(now, status, ChangeReason::Agent);
            }
            None => {}
        }
        Ok(left)
    }

    /// The agent declines the call ringing for it and, in the same step, chooses the status it
    /// goes to (as a rejecting agent does in Amazon Connect): any status but Ready steps away
    /// from the offer at once (see [`Agent::set_status`]); with Ready the agent keeps ringing
    /// until the call takes in the decline, as with a plain decline. The shell then declines
    /// the call on the agent's behalf.
    pub fn decline_into(
        &mut self,
        now: Timestamp,
        call: &CallId,
        status: Status,
        custom: &[String],
    ) -> Result<(), Error> {
        if self.status != Status::Offered {
            return Err(Error::NotOffered(call.clone(), self.id.clone()));
        }
        self.ringing(call)?;
        self.set_status(now, Some(status), None, custom)?;
        Ok(())
    }

    /// A supervisor locks the agent in `status`. Idle agents move to it at once; an agent on a
    /// call moves to it when its wrap-up ends.
    pub fn lock_in(
        &mut self,
        now: Timestamp,
        status: Status,
        custom: &[String],
    ) -> Result<(), Error> {
        check_selectable(&status, custom)?;
        self.lock = Some(status.clone());
        if self.call.is_none() && self.status != Status::AfterService {
            self.busy_until = None;
            self.change(now, status, ChangeReason::Lock);
        }
        Ok(())
    }

    /// A supervisor lifts the lock; the status stays as it is.
    pub fn unlock(&mut self) {
        self.lock = None;
    }

    /// A queue offers a call. Refused unless the agent is available.
    pub fn offer(&mut self, now: Timestamp, call: CallId, queue: QueueId) -> Result<(), Error> {
        if !self.is_available() {
            return Err(Error::Unavailable(self.id.clone()));
        }
        self.call = Some(AgentCall {
            call,
            queue,
            answered_at: None,
        });
        self.change(now, Status::Offered, ChangeReason::Offer);
        Ok(())
    }

    /// The agent takes a waiting call by hand (unassigned work, B5): connected at once, whatever
    /// its status, as long as it is not on another call.
    pub fn take(&mut self, now: Timestamp, call: CallId, queue: QueueId) -> Result<(), Error> {
        if self.call.is_some() || self.status == Status::Offline {
            return Err(Error::Unavailable(self.id.clone()));
        }
        // A supervisor's lock in a status other than Ready is not left by taking work.
        if let Some(locked) = self.lock.as_ref().filter(|s| **s != Status::Ready) {
            return Err(Error::Locked(self.id.clone(), locked.to_string()));
        }
        self.busy_until = None;
        self.wrap_up_until = None;
        self.call = Some(AgentCall {
            call,
            queue,
            answered_at: Some(now),
        });
        self.calls_handled += 1;
        self.change(now, Status::InService, ChangeReason::Answered);
        Ok(())
    }

    /// The agent dials out (E1): allowed in any status but Offline, as long as it has no
    /// other call; Dialing until the customer answers ([`Agent::answered`]).
    ///
    /// With `current_held` the agent may dial while on a call whose customer it has put on
    /// hold (C3, the shell checks the hold): that call waits, parked, and the agent comes back
    /// to it when the new one ends.
    pub fn dial(
        &mut self,
        now: Timestamp,
        call: CallId,
        queue: QueueId,
        current_held: bool,
    ) -> Result<(), Error> {
        if self.status == Status::Offline {
            return Err(Error::Unavailable(self.id.clone()));
        }
        if let Some(c) = &self.call {
            if !current_held || c.answered_at.is_none() {
                return Err(Error::HoldFirst(c.call.clone()));
            }
            let c = self.call.take().expect("matched Some above");
            self.parked.push(c);
        }
        self.busy_until = None;
        self.wrap_up_until = None;
        self.call = Some(AgentCall {
            call,
            queue,
            answered_at: None,
        });
        self.change(now, Status::Dialing, ChangeReason::Dialing);
        Ok(())
    }

    /// The agent answered the offered call.
    pub fn answered(&mut self, now: Timestamp, call: &CallId) -> Result<(), Error> {
        let ringing = self.ringing(call)?;
        ringing.answered_at = Some(now);
        self.calls_handled += 1;
        self.change(now, Status::InService, ChangeReason::Answered);
        Ok(())
    }

    /// The offer ended without this agent answering (another agent answered a ring-all offer,
    /// or the caller hung up): back to Ready, no penalty.
    pub fn offer_withdrawn(&mut self, now: Timestamp, call: &CallId) -> Result<(), Error> {
        self.ringing(call)?;
        self.call = None;
        let next = self.lock.clone().unwrap_or(Status::Ready);
        self.change(now, next, ChangeReason::OfferWithdrawn);
        Ok(())
    }

    /// The agent leaves a call it was consulted on, without wrap-up: back to Ready (or its
    /// locked status). Whether it was still ringing or had answered.
    pub fn released(&mut self, now: Timestamp, call: &CallId) -> Result<(), Error> {
        if let Some(i) = self.parked.iter().position(|c| &c.call == call) {
            self.parked.remove(i);
            return Ok(());
        }
        if self.call.as_ref().is_none_or(|c| &c.call != call) {
            return Err(Error::NotOwner(call.clone(), self.id.clone()));
        }
        let c = self.call.take().expect("checked above");
        if let Some(answered) = c.answered_at {
            self.talk_time_ms += now.since(answered).as_millis() as u64;
        }
        let next = self.lock.clone().unwrap_or(Status::Ready);
        self.change(now, next, ChangeReason::Released);
        Ok(())
    }

    /// The agent declined the offer or let it time out: Busy for the queue's no-answer delay
    /// (A3), so that the call is rerouted to someone else first.
    pub fn offer_missed(
        &mut self,
        now: Timestamp,
        call: &CallId,
        no_answer_delay: Duration,
    ) -> Result<(), Error> {
        self.ringing(call)?;
        self.call = None;
        if no_answer_delay.is_zero() {
            let next = self.lock.clone().unwrap_or(Status::Ready);
            self.change(now, next, ChangeReason::OfferMissed);
        } else {
            self.busy_until = Some(now + no_answer_delay);
            self.change(now, Status::Busy, ChangeReason::OfferMissed);
        }
        Ok(())
    }

    /// The call ended: wrap-up begins, limited by the queue's `wrap_up_limit` when it has one.
    /// A call that ended while still ringing is a withdrawn offer instead.
    pub fn call_ended(
        &mut self,
        now: Timestamp,
        call: &CallId,
        wrap_up_limit: Option<Duration>,
    ) -> Result<(), Error> {
        if let Some(i) = self.parked.iter().position(|c| &c.call == call) {
            // A held call ended (the customer left): the agent stays on its current call.
            let c = self.parked.remove(i);
            if let Some(answered) = c.answered_at {
                self.talk_time_ms += now.since(answered).as_millis() as u64;
            }
            return Ok(());
        }
        match &self.call {
            // Still ringing (an offer, not a call the agent dialed): no wrap-up.
            Some(c) if &c.call == call && self.status == Status::Offered => {
                return self.offer_withdrawn(now, call)
            }
            Some(c) if &c.call == call => {}
            _ => return Err(Error::NotOwner(call.clone(), self.id.clone())),
        }
        let c = self.call.take().expect("matched Some above");
        if let Some(answered) = c.answered_at {
            self.talk_time_ms += now.since(answered).as_millis() as u64;
        }
        if let Some(held) = self.parked.pop() {
            // Back to the call held before this one (C3): no wrap-up between the two.
            self.call = Some(held);
            self.change(now, Status::InService, ChangeReason::BackToHeldCall);
            return Ok(());
        }
        self.idle_since = now;
        self.wrap_up_until = wrap_up_limit.map(|d| now + d);
        self.wrap_up_call = Some(call.clone());
        self.change(now, Status::AfterService, ChangeReason::CallEnded);
        if wrap_up_limit.is_some_and(|d| d.is_zero()) {
            self.finish_wrap_up(now, ChangeReason::WrapUpLimit);
        }
        Ok(())
    }

    /// The agent ends its wrap-up by hand: it moves to its post-call status, else Ready.
    pub fn end_wrap_up(&mut self, now: Timestamp) -> Result<(), Error> {
        if self.status != Status::AfterService {
            return Err(Error::NotInWrapUp(self.id.clone()));
        }
        self.finish_wrap_up(now, ChangeReason::WrapUpEnded);
        Ok(())
    }

    /// The next moment the shell must call [`Agent::handle_timeout`], and why.
    pub fn poll_timeout(&self) -> Option<(Timestamp, AgentTimer)> {
        match self.status {
            Status::Busy => self.busy_until.map(|t| (t, AgentTimer::NoAnswerDelay)),
            Status::AfterService => self.wrap_up_until.map(|t| (t, AgentTimer::WrapUpLimit)),
            _ => None,
        }
    }

    /// Time passes: ends the no-answer delay or the wrap-up when their moment has come.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        match self.poll_timeout() {
            Some((at, AgentTimer::NoAnswerDelay)) if at <= now => {
                self.busy_until = None;
                let next = self.lock.clone().unwrap_or(Status::Ready);
                self.change(now, next, ChangeReason::NoAnswerDelayOver);
            }
            Some((at, AgentTimer::WrapUpLimit)) if at <= now => {
                self.finish_wrap_up(now, ChangeReason::WrapUpLimit);
            }
            _ => {}
        }
    }

    /// The agent's panel opened (an event stream for it): from now on its going away is
    /// noticed; if it had gone, the agent returns to the status it had, or chose or was
    /// given meanwhile.
    pub fn panel_back(&mut self, now: Timestamp) {
        self.uses_panel = true;
        self.panel_gone = false;
        if self.status == Status::Disconnected {
            let next = self
                .resume
                .take()
                .or_else(|| self.lock.clone())
                .unwrap_or(Status::Ready);
            self.change(now, next, ChangeReason::PanelBack);
        }
        self.resume = None;
    }

    /// The agent's panel has gone for longer than the grace period. An idle agent becomes
    /// `Disconnected` (no offers); one on a call or in wrap-up becomes so when that ends. A
    /// ringing offer is returned: the shell makes it move on at once (the agent then comes
    /// back here through [`Agent::offer_withdrawn`]).
    pub fn panel_gone(&mut self, now: Timestamp) -> Option<CallId> {
        if self.panel_gone || !self.uses_panel {
            return None;
        }
        self.panel_gone = true;
        match (&self.status, &self.call) {
            (Status::Offered, Some(c)) => return Some(c.call.clone()),
            (status, None) if redirected(status) => {
                let status = status.clone();
                self.change(now, status, ChangeReason::PanelGone);
            }
            _ => {}
        }
        None
    }

    /// Whether the agent's panel is known to have gone.
    pub fn is_panel_gone(&self) -> bool {
        self.panel_gone
    }

    /// Whether the agent works from a panel whose going away would be noticed.
    pub fn uses_panel(&self) -> bool {
        self.uses_panel
    }

    /// The next status change to persist and publish, oldest first.
    pub fn poll_change(&mut self) -> Option<StatusChange> {
        self.changes.pop_front()
    }

    /// Restart recovery after the process stopped: an offer that was ringing is gone (the call
    /// is requeued by its own recovery), so the agent goes back to where it would be idle.
    pub fn recover(&mut self, now: Timestamp) {
        if self.status == Status::Offered {
            self.call = None;
            let next = self.lock.clone().unwrap_or(Status::Ready);
            self.change(now, next, ChangeReason::OfferWithdrawn);
        }
    }

    fn ringing(&mut self, call: &CallId) -> Result<&mut AgentCall, Error> {
        match &mut self.call {
            Some(c) if &c.call == call && c.answered_at.is_none() => Ok(c),
            _ => Err(Error::NotOffered(call.clone(), self.id.clone())),
        }
    }

    fn finish_wrap_up(&mut self, now: Timestamp, reason: ChangeReason) {
        self.wrap_up_until = None;
        self.wrap_up_call = None;
        let chosen = self.post_call_status.take();
        let next = self.lock.clone().or(chosen).unwrap_or(Status::Ready);
        self.change(now, next, reason);
    }

    fn change(&mut self, now: Timestamp, mut to: Status, reason: ChangeReason) {
        if self.panel_gone && self.call.is_none() && redirected(&to) {
            // Without a panel, an idle status is remembered for its return, and the agent is
            // Disconnected meanwhile.
            self.resume = Some(to);
            if self.status == Status::Disconnected {
                return;
            }
            to = Status::Disconnected;
        }
        let from = std::mem::replace(&mut self.status, to.clone());
        self.since = now;
        if to == Status::Ready
            && from != Status::Ready
            && self.call.is_none()
            && from != Status::Offered
        {
            // Returning from a break counts as idle from now, so longest-idle does not favour
            // an agent who was away.
            self.idle_since = now;
        }
        self.changes.push_back(StatusChange {
            agent: self.id.clone(),
            from,
            to,
            at: now,
            reason,
        });
    }
}

/// The idle statuses that become `Disconnected` while the agent's panel is gone: those from
/// which it could be offered a call (Ready, and the ones it returns to Ready from). Offline
/// stays Offline.
fn redirected(status: &Status) -> bool {
    matches!(
        status,
        Status::Ready | Status::Busy | Status::Dnd | Status::Custom(_)
    )
}

fn check_selectable(status: &Status, custom: &[String]) -> Result<(), Error> {
    if status.is_system_only() {
        return Err(Error::NotSelectable(status.to_string()));
    }
    if let Status::Custom(name) = status {
        if !custom.iter().any(|c| c == name) {
            return Err(Error::UnknownStatus(name.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "agent_tests.rs"]
mod tests;
