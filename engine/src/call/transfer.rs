//! Transfers, consults and conferences (D1–D4).
//!
//! - A blind transfer hands the call to an agent, a group, a queue or an external number; the
//!   sender leaves at once (wrap-up) but may take the call back while the target still rings
//!   or waits. An unanswered transfer does not return to the sender: the call goes back to its
//!   queue's line.
//! - A consult holds the customer and rings a colleague (or dials a number); it is completed
//!   (ownership moves, the customer comes off hold, the sender wraps up), cancelled (the
//!   colleague goes back to Ready) or turned into a three-way conference.
//! - In a conference any one party may leave and the other two stay connected.
//!
//! The shell reserves the agents to ring before it asks for a step that rings them, so a
//! refused step never leaves a phone ringing.

use super::{Call, CallResult, CallState, Effects, JourneyEvent, Party};
use crate::{AgentId, Error, QueueId, Timestamp};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Where a transfer or consult goes. On the wire: `{"type": "agent", "id": "bob"}`,
/// `{"type": "number", "number": "+3212345678"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Target {
    /// A colleague.
    Agent {
        /// Which.
        id: AgentId,
    },
    /// A queue (its routing picks the agent).
    Queue {
        /// Which.
        id: QueueId,
    },
    /// A group of agents with its dial strategy.
    Group {
        /// Which.
        id: String,
    },
    /// An external number.
    Number {
        /// E.164.
        number: String,
    },
}

/// A blind transfer under way: the call waits or rings for its target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    /// The sender, who may take the call back until someone answers.
    pub from: AgentId,
    /// The target.
    pub target: Target,
    /// Group members already rung.
    pub tried: Vec<AgentId>,
}

/// A consult leg: the customer is held while the owner talks to the target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consult {
    /// The owner consulting.
    pub by: AgentId,
    /// Whom.
    pub target: Target,
    /// The consulted agent (none for an external number).
    pub agent: Option<AgentId>,
    /// Whether the consulted party answered.
    pub answered: bool,
    /// When the consulted agent's ringing runs out.
    pub ring_until: Option<Timestamp>,
    /// The number is dialed through a trunk: it answers when the network says so, and a
    /// completed consult bridges the customer to it.
    #[serde(default)]
    pub dialed: bool,
}

impl Consult {
    /// Whether `agent` is the consulted agent and its phone still rings.
    pub fn is_ringing(&self, agent: &AgentId) -> bool {
        !self.answered && self.agent.as_ref() == Some(agent)
    }
}

/// The third party of a conference, beside the customer and the owner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Third {
    /// A colleague.
    Agent {
        /// Which.
        id: AgentId,
    },
    /// An external number.
    Number {
        /// Which.
        number: String,
    },
}

/// A three-way conference.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conference {
    /// The third party.
    pub third: Third,
    /// Whether the customer is still in it.
    pub customer_present: bool,
    /// The third party is a number dialed through a trunk: when the owner leaves, the
    /// customer stays bridged to it.
    #[serde(default)]
    pub dialed: bool,
}

impl Conference {
    /// The third party, if an agent.
    pub fn third_agent(&self) -> Option<&AgentId> {
        match &self.third {
            Third::Agent { id } => Some(id),
            Third::Number { .. } => None,
        }
    }
}

impl Call {
    /// The owner transfers the call blind. `ring` are the agents the shell reserved for an
    /// agent or group target (empty for a queue or a number). With `dials` (a trunk carries
    /// calls out) a number is dialed: the customer waits until it answers (see
    /// [`Call::external_answered`]); without, the call leaves at once.
    pub fn blind_transfer(
        &mut self,
        now: Timestamp,
        by: &AgentId,
        target: Target,
        ring: Vec<AgentId>,
        offer_timeout: Duration,
        dials: bool,
    ) -> Result<Effects, Error> {
        self.check_can_transfer(by, &target)?;
        if matches!(target, Target::Agent { .. } | Target::Group { .. }) && ring.is_empty() {
            return Err(Error::TargetUnavailable(self.id.clone()));
        }
        let mut fx = Effects {
            wrap_up: vec![by.clone()],
            ..Effects::default()
        };
        self.log(
            now,
            JourneyEvent::TransferStarted {
                by: by.clone(),
                target: target.clone(),
            },
        );
        self.agent = None;
        self.held = false;
        self.muted = false;
        match &target {
            Target::Number { .. } if dials => self.state = CallState::Waiting,
            Target::Number { number } => {
                self.log(
                    now,
                    JourneyEvent::TransferredOut {
                        number: number.clone(),
                    },
                );
                self.end(
                    now,
                    Party::Agent { agent: by.clone() },
                    CallResult::Answered,
                );
                return Ok(fx);
            }
            Target::Queue { id } => {
                fx.wrap_up_in = Some(std::mem::replace(&mut self.queue, id.clone()));
                self.enqueued_at = now;
                self.state = CallState::Waiting;
                self.log(now, JourneyEvent::RoutedToQueue { queue: id.clone() });
                fx.enqueue = Some(id.clone());
            }
            Target::Agent { .. } | Target::Group { .. } => self.state = CallState::Waiting,
        }
        self.transfer = Some(Box::new(Transfer {
            from: by.clone(),
            target,
            tried: ring.clone(),
        }));
        if !ring.is_empty() {
            self.ring(now, ring, offer_timeout)
                .expect("the call was just set to Waiting");
        }
        Ok(fx)
    }

    /// A group transfer rings its next members (reserved by the shell); with none left the
    /// transfer failed and the call goes back to its queue.
    pub fn transfer_ring(
        &mut self,
        now: Timestamp,
        ring: Vec<AgentId>,
        offer_timeout: Duration,
    ) -> Effects {
        let mut fx = Effects::default();
        if self.state != CallState::Waiting || self.transfer.is_none() {
            fx.withdrawn = ring;
            return fx;
        }
        if ring.is_empty() {
            self.transfer_failed(now, "nobody in the group answered", &mut fx);
            return fx;
        }
        if let Some(t) = &mut self.transfer {
            t.tried.extend(ring.iter().cloned());
        }
        self.ring(now, ring, offer_timeout)
            .expect("checked Waiting above");
        fx
    }

    pub(super) fn transfer_failed(&mut self, now: Timestamp, reason: &str, fx: &mut Effects) {
        self.transfer = None;
        self.state = CallState::Waiting;
        self.offer_until = None;
        self.log(
            now,
            JourneyEvent::TransferFailed {
                reason: reason.to_owned(),
            },
        );
        fx.enqueue = Some(self.queue.clone());
    }

    /// The sender takes back a blind transfer nobody answered yet (D1).
    pub fn take_back(&mut self, now: Timestamp, by: &AgentId) -> Result<Effects, Error> {
        let pending = self.transfer.as_ref().is_some_and(|t| &t.from == by)
            && matches!(self.state, CallState::Waiting | CallState::Offering);
        if !pending {
            return Err(Error::NoTransfer(self.id.clone()));
        }
        let mut fx = Effects {
            leave_queue: Some(self.queue.clone()),
            ..Effects::default()
        };
        for a in std::mem::take(&mut self.offered) {
            self.log(now, JourneyEvent::OfferWithdrawn { agent: a.clone() });
            fx.withdrawn.push(a);
        }
        self.transfer = None;
        self.connect(now, by.clone(), JourneyEvent::TakenBack { by: by.clone() });
        Ok(fx)
    }

    /// Whether `by` may transfer or consult to `target` now (the checks of
    /// [`Call::blind_transfer`] and [`Call::start_consult`], without changing anything).
    pub fn check_can_transfer(&self, by: &AgentId, target: &Target) -> Result<(), Error> {
        self.check_owner(by)?;
        if self.conference.is_some() {
            return Err(Error::ConferenceNoTransfer(self.id.clone()));
        }
        if self.consult.is_some() {
            return Err(Error::ConsultInProgress(self.id.clone()));
        }
        if matches!(target, Target::Agent { id } if id == by) {
            return Err(Error::TransferToSelf(self.id.clone()));
        }
        if let Target::Number { number } = target {
            if !is_e164(number) {
                return Err(Error::InvalidNumber(number.clone()));
            }
        }
        Ok(())
    }

    /// The owner consults: the customer is held and the target rings (`agent`, reserved by
    /// the shell). An external number `dials` through a trunk: it rings until the network
    /// answers ([`Call::external_answered`]); without a trunk the consult leg is up at once.
    pub fn start_consult(
        &mut self,
        now: Timestamp,
        by: &AgentId,
        target: Target,
        agent: Option<AgentId>,
        ring_timeout: Duration,
        dials: bool,
    ) -> Result<(), Error> {
        self.check_can_transfer(by, &target)?;
        if agent.is_none() && !matches!(target, Target::Number { .. }) {
            return Err(Error::TargetUnavailable(self.id.clone()));
        }
        if !self.held {
            self.held = true;
            self.log(now, JourneyEvent::Held);
        }
        self.log(
            now,
            JourneyEvent::ConsultStarted {
                by: by.clone(),
                target: target.clone(),
            },
        );
        let dialed = agent.is_none() && dials;
        let answered = agent.is_none() && !dialed;
        match &agent {
            Some(a) => self.log(now, JourneyEvent::ConsultOffered { agent: a.clone() }),
            None if dialed => {}
            None => self.log(now, JourneyEvent::ConsultAnswered { agent: None }),
        }
        let ring_until = agent.as_ref().map(|_| now + ring_timeout);
        self.consult = Some(Box::new(Consult {
            by: by.clone(),
            target,
            agent,
            answered,
            ring_until,
            dialed,
        }));
        Ok(())
    }

    pub(super) fn consult_answered(
        &mut self,
        now: Timestamp,
        agent: &AgentId,
    ) -> Result<Effects, Error> {
        let c = self
            .consult
            .as_mut()
            .expect("caller checked the consult rings for this agent");
        c.answered = true;
        c.ring_until = None;
        self.log(
            now,
            JourneyEvent::ConsultAnswered {
                agent: Some(agent.clone()),
            },
        );
        Ok(Effects::default())
    }

    /// Ends the consult leg; the customer stays held for the owner to resume. A consulted
    /// agent who never answered is `missed` (declined, rang out) or withdrawn; one who
    /// answered goes back to Ready.
    pub(super) fn end_consult(&mut self, now: Timestamp, reason: &str, missed: bool) -> Effects {
        let mut fx = Effects::default();
        let Some(c) = self.consult.take() else {
            return fx;
        };
        if let Some(a) = &c.agent {
            match (c.answered, missed) {
                (true, _) => fx.released.push(a.clone()),
                (false, true) => fx.missed.push(a.clone()),
                (false, false) => fx.withdrawn.push(a.clone()),
            }
        }
        self.log(
            now,
            JourneyEvent::ConsultEnded {
                agent: c.agent,
                reason: reason.to_owned(),
            },
        );
        fx
    }

    /// The call is ending: its consult leg ends with it.
    pub(super) fn end_consult_with_call(&mut self, now: Timestamp) -> Effects {
        self.end_consult(now, "call_ended", false)
    }

    /// The owner hangs up the consult leg (cancel): the colleague goes back to Ready.
    pub fn cancel_consult(&mut self, now: Timestamp, by: &AgentId) -> Result<Effects, Error> {
        self.check_owner(by)?;
        if self.consult.is_none() {
            return Err(Error::NoConsult(self.id.clone()));
        }
        Ok(self.end_consult(now, "cancelled", false))
    }

    fn answered_consult(&self, by: &AgentId) -> Result<&Consult, Error> {
        self.check_owner(by)?;
        match &self.consult {
            None => Err(Error::NoConsult(self.id.clone())),
            Some(c) if !c.answered => Err(Error::ConsultNotAnswered(self.id.clone())),
            Some(c) => Ok(c),
        }
    }

    /// The owner completes the attended transfer: ownership moves to the consulted agent,
    /// the customer comes off hold, the sender wraps up. To a number, the call leaves.
    pub fn complete_consult(&mut self, now: Timestamp, by: &AgentId) -> Result<Effects, Error> {
        let c = self.answered_consult(by)?.clone();
        self.consult = None;
        let mut fx = Effects {
            wrap_up: vec![by.clone()],
            ..Effects::default()
        };
        match (c.agent, c.target) {
            (Some(to), target) => {
                if let Target::Queue { id } = target {
                    // The receiver came through that queue: the call is its call now (its
                    // wrap-up limit, its reports); the sender keeps its own queue's limit.
                    fx.wrap_up_in = Some(std::mem::replace(&mut self.queue, id));
                }
                self.agent = Some(to.clone());
                self.held = false;
                self.muted = false;
                self.log(
                    now,
                    JourneyEvent::ConsultCompleted {
                        from: by.clone(),
                        to,
                    },
                );
                self.log(now, JourneyEvent::Resumed);
            }
            (None, Target::Number { number }) if c.dialed => self.bridge(now, number),
            (None, Target::Number { number }) => {
                self.log(now, JourneyEvent::TransferredOut { number });
                self.end(
                    now,
                    Party::Agent { agent: by.clone() },
                    CallResult::Answered,
                );
            }
            (None, _) => unreachable!("a consult without an agent is to a number"),
        }
        Ok(fx)
    }

    /// The owner joins the customer and the consulted party: a three-way conference.
    pub fn start_conference(&mut self, now: Timestamp, by: &AgentId) -> Result<(), Error> {
        let c = self.answered_consult(by)?.clone();
        self.consult = None;
        let third = match (c.agent, c.target) {
            (Some(id), _) => Third::Agent { id },
            (None, Target::Number { number }) => Third::Number { number },
            (None, _) => unreachable!("a consult without an agent is to a number"),
        };
        self.conference = Some(Box::new(Conference {
            third,
            customer_present: true,
            dialed: c.dialed,
        }));
        self.held = false;
        self.log(now, JourneyEvent::ConferenceStarted);
        Ok(())
    }

    /// A party leaves the conference; the other two stay connected (D4). When only one
    /// party would remain, the call ends.
    pub(super) fn leave_conference(&mut self, now: Timestamp, by: Party) -> Result<Effects, Error> {
        let conf = self
            .conference
            .clone()
            .expect("caller checked the conference");
        let owner = self.agent.clone().expect("a conference has an owner");
        let third = conf.third_agent().cloned();
        let mut fx = Effects::default();
        if let Party::External { .. } = &by {
            // The external third hangs up: the customer and the owner talk on (or, the
            // customer gone already, the owner is alone and the call is over).
            self.log(now, JourneyEvent::PartyLeft { party: by.clone() });
            self.conference = None;
            if conf.customer_present {
                return Ok(Effects::default());
            }
            self.end(now, by, CallResult::Answered);
            return Ok(Effects {
                wrap_up: vec![owner],
                ..Effects::default()
            });
        }
        let leaving_agent = match &by {
            Party::Agent { agent } if agent == &owner || Some(agent) == third.as_ref() => {
                Some(agent.clone())
            }
            Party::Agent { agent } => return Err(Error::NotOwner(self.id.clone(), agent.clone())),
            _ => None,
        };
        if leaving_agent.is_none() && !conf.customer_present {
            return Err(Error::CallState(
                self.id.clone(),
                "conference without the customer".into(),
                "lose the customer again",
            ));
        }
        let remaining = 2 - usize::from(!conf.customer_present);
        self.log(now, JourneyEvent::PartyLeft { party: by.clone() });
        if remaining < 2 {
            // Two agents were left; one hangs up: the call is over for both.
            fx.wrap_up.push(owner);
            fx.wrap_up.extend(third);
            self.conference = None;
            self.end(now, by, CallResult::Answered);
            return Ok(fx);
        }
        match leaving_agent {
            None => {
                if let Some(c) = &mut self.conference {
                    c.customer_present = false;
                }
            }
            Some(a) if a == owner => {
                fx.wrap_up.push(a.clone());
                self.conference = None;
                match conf.third {
                    Third::Agent { id } => self.agent = Some(id),
                    Third::Number { number } if conf.dialed => self.bridge(now, number),
                    Third::Number { number } => {
                        self.log(now, JourneyEvent::TransferredOut { number });
                        self.end(now, by, CallResult::Answered);
                    }
                }
            }
            Some(a) => {
                fx.wrap_up.push(a);
                self.conference = None;
            }
        }
        Ok(fx)
    }
}

/// Whether `n` looks like an E.164 number: `+`, then 2 to 15 digits.
pub fn is_e164(n: &str) -> bool {
    let digits = n.strip_prefix('+').unwrap_or("");
    (2..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}
