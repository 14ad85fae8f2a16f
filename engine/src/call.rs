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

use crate::queue::WaitingCall;
use crate::routing::Skills;
use crate::{AgentId, CallId, Error, QueueId, Timestamp};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A call's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    /// In a queue; nobody is ringing.
    Waiting,
    /// One or more agents are ringing.
    Offering,
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

/// What a hang-up asks the shell to do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HangupEffects {
    /// Agents that were ringing and must stop.
    pub withdrawn: Vec<AgentId>,
    /// The connected agent, now entering wrap-up.
    pub wrap_up: Option<AgentId>,
    /// Whether the call was in its queue's line (waiting or ringing) and must leave it.
    pub leave_queue: bool,
}

/// A call. Serializable: the shell persists it after every step and a restarted actor
/// continues from it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    id: CallId,
    from: String,
    queue: QueueId,
    priority: i32,
    skills: Skills,
    state: CallState,
    result: Option<CallResult>,
    created_at: Timestamp,
    enqueued_at: Timestamp,
    offered: Vec<AgentId>,
    offer_until: Option<Timestamp>,
    agent: Option<AgentId>,
    answered_at: Option<Timestamp>,
    ended_at: Option<Timestamp>,
    ended_by: Option<Party>,
    missed_offers: u32,
    busy_agents: u32,
    journey: Vec<JourneyEntry>,
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
            from: from.clone(),
            queue: queue.clone(),
            priority,
            skills,
            state: CallState::Waiting,
            result: None,
            created_at: now,
            enqueued_at: now,
            offered: Vec::new(),
            offer_until: None,
            agent: None,
            answered_at: None,
            ended_at: None,
            ended_by: None,
            missed_offers: 0,
            busy_agents: 0,
            journey: Vec::new(),
        };
        call.log(now, JourneyEvent::Initiated { from });
        call.log(now, JourneyEvent::RoutedToQueue { queue });
        call
    }

    /// The call's id.
    pub fn id(&self) -> &CallId {
        &self.id
    }
    /// The caller's number.
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
    /// The agents ringing now.
    pub fn offered(&self) -> &[AgentId] {
        &self.offered
    }
    /// The agent who answered.
    pub fn agent(&self) -> Option<&AgentId> {
        self.agent.as_ref()
    }
    /// When an agent answered.
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
    /// The journey, oldest first.
    pub fn journey(&self) -> &[JourneyEntry] {
        &self.journey
    }

    /// The call as its queue's line holds it.
    pub fn waiting_call(&self) -> WaitingCall {
        WaitingCall {
            call: self.id.clone(),
            priority: self.priority,
            skills: self.skills.clone(),
            enqueued_at: self.enqueued_at,
        }
    }

    /// The queue decided to ring `agents` for `offer_timeout`.
    pub fn offer(
        &mut self,
        now: Timestamp,
        agents: Vec<AgentId>,
        offer_timeout: Duration,
    ) -> Result<(), Error> {
        self.expect(CallState::Waiting, "be offered")?;
        for a in &agents {
            self.log(now, JourneyEvent::OfferedTo { agent: a.clone() });
        }
        self.offered = agents;
        self.offer_until = Some(now + offer_timeout);
        self.state = CallState::Offering;
        Ok(())
    }

    /// An agent the queue wanted turned out busy.
    pub fn agent_busy(&mut self, now: Timestamp, agent: AgentId) {
        self.busy_agents += 1;
        self.log(now, JourneyEvent::AgentBusy { agent });
    }

    /// An agent answered. Returns the other agents that were ringing (ring-all), to withdraw.
    pub fn accept(&mut self, now: Timestamp, agent: &AgentId) -> Result<Vec<AgentId>, Error> {
        if self.state != CallState::Offering || !self.offered.contains(agent) {
            return Err(Error::NotOffered(self.id.clone(), agent.clone()));
        }
        let others: Vec<AgentId> = self.offered.drain(..).filter(|a| a != agent).collect();
        for a in &others {
            self.log(now, JourneyEvent::OfferWithdrawn { agent: a.clone() });
        }
        self.connect(
            now,
            agent.clone(),
            JourneyEvent::AnsweredBy {
                agent: agent.clone(),
            },
        );
        Ok(others)
    }

    /// An agent takes the waiting call from the unassigned list (B5): connected at once.
    pub fn take(&mut self, now: Timestamp, agent: &AgentId) -> Result<(), Error> {
        self.expect(CallState::Waiting, "be taken")?;
        self.connect(
            now,
            agent.clone(),
            JourneyEvent::TakenBy {
                agent: agent.clone(),
            },
        );
        Ok(())
    }

    /// An agent declined. Returns whether the call went back to Waiting (nobody else rings).
    pub fn decline(&mut self, now: Timestamp, agent: &AgentId) -> Result<bool, Error> {
        if self.state != CallState::Offering || !self.offered.contains(agent) {
            return Err(Error::NotOffered(self.id.clone(), agent.clone()));
        }
        self.offered.retain(|a| a != agent);
        self.missed_offers += 1;
        self.log(
            now,
            JourneyEvent::Declined {
                agent: agent.clone(),
            },
        );
        Ok(self.back_to_waiting_if_nobody_rings())
    }

    /// The offer timeout came: every ringing agent missed it. Returns them.
    pub fn offer_timed_out(&mut self, now: Timestamp) -> Vec<AgentId> {
        if self.state != CallState::Offering || self.offer_until.is_none_or(|t| t > now) {
            return Vec::new();
        }
        let missed = std::mem::take(&mut self.offered);
        for a in &missed {
            self.missed_offers += 1;
            self.log(now, JourneyEvent::TimedOut { agent: a.clone() });
        }
        self.back_to_waiting_if_nobody_rings();
        missed
    }

    /// When the current offer rings out.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        (self.state == CallState::Offering)
            .then_some(self.offer_until)
            .flatten()
    }

    /// The call moves to another queue after waiting too long there.
    pub fn overflow(&mut self, now: Timestamp, to: QueueId) -> Result<(), Error> {
        self.expect(CallState::Waiting, "overflow")?;
        let from = std::mem::replace(&mut self.queue, to.clone());
        self.enqueued_at = now;
        self.log(now, JourneyEvent::Overflowed { from, to });
        Ok(())
    }

    /// Someone hangs up. The caller may hang up at any time; an agent only on its own
    /// connected call.
    pub fn hangup(&mut self, now: Timestamp, by: Party) -> Result<HangupEffects, Error> {
        let mut effects = HangupEffects::default();
        let result = match (&by, self.state) {
            (_, s) if s.is_final() => {
                return Err(Error::CallState(
                    self.id.clone(),
                    s.as_str().into(),
                    "hang up",
                ))
            }
            (Party::Agent { agent }, CallState::Connected)
                if self.agent.as_ref() == Some(agent) =>
            {
                effects.wrap_up = Some(agent.clone());
                CallResult::Answered
            }
            (Party::Agent { agent }, _) => {
                return Err(Error::NotOwner(self.id.clone(), agent.clone()))
            }
            (_, CallState::Connected) => {
                effects.wrap_up = self.agent.clone();
                CallResult::Answered
            }
            (_, CallState::Offering) => {
                effects.withdrawn = std::mem::take(&mut self.offered);
                effects.leave_queue = true;
                CallResult::Cancelled
            }
            (_, _) => {
                effects.leave_queue = true;
                if self.missed_offers > 0 {
                    CallResult::NotAnswered
                } else if self.busy_agents > 0 {
                    CallResult::Busy
                } else {
                    CallResult::Abandoned
                }
            }
        };
        for a in &effects.withdrawn {
            self.log(now, JourneyEvent::OfferWithdrawn { agent: a.clone() });
        }
        self.finish(now, CallState::Ended, result);
        self.ended_by = Some(by.clone());
        self.log(now, JourneyEvent::Ended { by, result });
        Ok(effects)
    }

    /// The system cannot carry the call (its queue vanished, its overflow target does not
    /// exist…). Ringing agents must be withdrawn; a connected agent enters wrap-up.
    pub fn fail(&mut self, now: Timestamp, reason: String) -> HangupEffects {
        if self.state.is_final() {
            return HangupEffects::default();
        }
        let effects = HangupEffects {
            withdrawn: std::mem::take(&mut self.offered),
            wrap_up: self
                .agent
                .clone()
                .filter(|_| self.state == CallState::Connected),
            leave_queue: matches!(self.state, CallState::Waiting | CallState::Offering),
        };
        self.finish(now, CallState::Failed, CallResult::Failed);
        self.ended_by = Some(Party::System);
        self.log(now, JourneyEvent::Failed { reason });
        effects
    }

    /// After a restart: notes it in the journey. A ringing offer is lost with the process, so
    /// the call goes back to waiting; a connected call stays connected.
    pub fn recover(&mut self, now: Timestamp, process_restarted: bool) {
        self.log(now, JourneyEvent::Recovered);
        if process_restarted && self.state == CallState::Offering {
            for a in std::mem::take(&mut self.offered) {
                self.log(now, JourneyEvent::OfferWithdrawn { agent: a });
            }
            self.back_to_waiting_if_nobody_rings();
        }
    }

    fn connect(&mut self, now: Timestamp, agent: AgentId, event: JourneyEvent) {
        self.offered.clear();
        self.offer_until = None;
        self.agent = Some(agent);
        self.answered_at = Some(now);
        self.state = CallState::Connected;
        self.log(now, event);
    }

    fn back_to_waiting_if_nobody_rings(&mut self) -> bool {
        if self.offered.is_empty() {
            self.offer_until = None;
            self.state = CallState::Waiting;
            true
        } else {
            false
        }
    }

    fn finish(&mut self, now: Timestamp, state: CallState, result: CallResult) {
        self.offer_until = None;
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
        self.journey.push(JourneyEntry { at, event });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_millis(s * 1000)
    }
    const OFFER: Duration = Duration::from_secs(18);
    fn call() -> Call {
        Call::new(
            "c1".into(),
            t(0),
            "+15551230001".into(),
            "support".into(),
            0,
            Skills::new(),
        )
    }
    fn events(c: &Call) -> Vec<String> {
        c.journey()
            .iter()
            .map(|e| {
                serde_json::to_value(&e.event).unwrap()["event"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }
    fn customer() -> Party {
        Party::Customer
    }

    #[test]
    fn answered_call_has_a_full_journey_and_talk_duration() {
        let mut c = call();
        c.offer(t(2), vec!["alice".into()], OFFER).unwrap();
        assert_eq!(c.poll_timeout(), Some(t(20)));
        assert!(c.accept(t(5), &"alice".into()).unwrap().is_empty());
        let fx = c
            .hangup(
                t(65),
                Party::Agent {
                    agent: "alice".into(),
                },
            )
            .unwrap();
        assert_eq!(fx.wrap_up, Some("alice".into()));
        assert_eq!(
            (c.state(), c.result()),
            (CallState::Ended, Some(CallResult::Answered))
        );
        assert_eq!(c.talk_duration(), Some(Duration::from_secs(60)));
        assert_eq!(
            events(&c),
            [
                "initiated",
                "routed_to_queue",
                "offered_to",
                "answered_by",
                "ended"
            ]
        );
        assert_eq!(c.journey()[3].at, t(5));
    }

    #[test]
    fn offer_timeout_returns_the_call_to_waiting_and_names_the_missed_agent() {
        let mut c = call();
        c.offer(t(0), vec!["alice".into()], OFFER).unwrap();
        assert!(c.offer_timed_out(t(17)).is_empty());
        assert_eq!(c.offer_timed_out(t(18)), vec![AgentId::from("alice")]);
        assert_eq!(c.state(), CallState::Waiting);
        assert_eq!(c.poll_timeout(), None);
        assert!(c.hangup(t(30), customer()).unwrap().leave_queue);
        assert_eq!(c.result(), Some(CallResult::NotAnswered));
    }

    #[test]
    fn abandoned_cancelled_and_busy_results() {
        let mut waiting = call();
        waiting.hangup(t(3), customer()).unwrap();
        assert_eq!(waiting.result(), Some(CallResult::Abandoned));

        let mut ringing = call();
        ringing
            .offer(t(1), vec!["alice".into(), "bob".into()], OFFER)
            .unwrap();
        let fx = ringing.hangup(t(3), customer()).unwrap();
        assert_eq!(
            fx.withdrawn,
            vec![AgentId::from("alice"), AgentId::from("bob")]
        );
        assert_eq!(ringing.result(), Some(CallResult::Cancelled));

        let mut busy = call();
        busy.agent_busy(t(1), "alice".into());
        busy.hangup(t(3), customer()).unwrap();
        assert_eq!(busy.result(), Some(CallResult::Busy));
        assert_eq!(
            busy.hangup(t(4), customer()),
            Err(Error::CallState("c1".into(), "ended".into(), "hang up"))
        );
    }

    #[test]
    fn ring_all_first_answer_wins_and_others_are_withdrawn() {
        let mut c = call();
        c.offer(t(1), vec!["a".into(), "b".into(), "c".into()], OFFER)
            .unwrap();
        assert_eq!(c.decline(t(2), &"c".into()), Ok(false));
        assert_eq!(
            c.accept(t(3), &"b".into()).unwrap(),
            vec![AgentId::from("a")]
        );
        assert_eq!(
            c.accept(t(3), &"a".into()),
            Err(Error::NotOffered("c1".into(), "a".into()))
        );
        assert_eq!(c.agent(), Some(&AgentId::from("b")));
    }

    #[test]
    fn only_the_connected_agent_can_hang_up() {
        let mut c = call();
        c.offer(t(1), vec!["alice".into()], OFFER).unwrap();
        let bob = Party::Agent {
            agent: "bob".into(),
        };
        assert_eq!(
            c.hangup(t(2), bob.clone()),
            Err(Error::NotOwner("c1".into(), "bob".into()))
        );
        c.accept(t(2), &"alice".into()).unwrap();
        assert_eq!(
            c.hangup(t(3), bob),
            Err(Error::NotOwner("c1".into(), "bob".into()))
        );
        c.hangup(t(4), customer()).unwrap();
        assert_eq!(c.ended_by(), Some(&Party::Customer));
    }

    #[test]
    fn overflow_and_recovery_are_journey_steps() {
        let mut c = call();
        c.overflow(t(120), "sales".into()).unwrap();
        assert_eq!((c.queue().as_str(), c.enqueued_at()), ("sales", t(120)));
        c.offer(t(121), vec!["carol".into()], OFFER).unwrap();
        c.recover(t(125), true);
        assert_eq!(c.state(), CallState::Waiting);
        assert_eq!(
            events(&c)[2..],
            ["overflowed", "offered_to", "recovered", "offer_withdrawn"]
        );
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Call>(&json).unwrap(), c);
    }

    #[test]
    fn failing_withdraws_ringing_agents() {
        let mut c = call();
        c.offer(t(1), vec!["alice".into()], OFFER).unwrap();
        let fx = c.fail(t(2), "queue removed".into());
        assert_eq!(fx.withdrawn, vec![AgentId::from("alice")]);
        assert_eq!(
            (c.state(), c.result()),
            (CallState::Failed, Some(CallResult::Failed))
        );
        assert_eq!(c.fail(t(3), "again".into()), HangupEffects::default());
    }
}
