//! A call's offers: the queue (or a transfer) rings agents, one answers, takes it, declines it,
//! or the offer rings out; a missed offer returns the call to its place in line; a call that
//! waited too long overflows to another queue.

use super::{Call, CallKind, CallState, Effects, JourneyEvent, Target, CALLBACK_ANNOUNCEMENT};
use crate::{AgentId, Error, QueueId, Timestamp};
use std::time::Duration;

impl Call {
    /// The queue decided to ring `agents` for `offer_timeout`.
    pub fn offer(
        &mut self,
        now: Timestamp,
        agents: Vec<AgentId>,
        offer_timeout: Duration,
    ) -> Result<(), Error> {
        self.ring(now, agents, offer_timeout)?;
        self.offered_by_queue = true;
        Ok(())
    }

    /// Rings `agents` for the call (a queue's offer, or a transfer's).
    pub(super) fn ring(
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
        self.offered_by_queue = false;
        self.offer_until = Some(now + offer_timeout);
        self.state = CallState::Offering;
        Ok(())
    }

    /// An agent the queue wanted turned out busy.
    pub fn agent_busy(&mut self, now: Timestamp, agent: AgentId) {
        self.busy_agents += 1;
        self.log(now, JourneyEvent::AgentBusy { agent });
    }

    /// An agent answers: the call's offer, or a consult it is ringing for.
    pub fn accept(&mut self, now: Timestamp, agent: &AgentId) -> Result<Effects, Error> {
        if self.consult.as_ref().is_some_and(|c| c.is_ringing(agent)) {
            return self.consult_answered(now, agent);
        }
        if self.state != CallState::Offering || !self.offered.contains(agent) {
            return Err(Error::NotOffered(self.id.clone(), agent.clone()));
        }
        let others: Vec<AgentId> = self.offered.drain(..).filter(|a| a != agent).collect();
        for a in &others {
            self.log(now, JourneyEvent::OfferWithdrawn { agent: a.clone() });
        }
        let fx = Effects {
            withdrawn: others,
            queue_answered: self.offered_by_queue.then(|| self.queue.clone()),
            ..Effects::default()
        };
        self.transfer = None;
        if self.kind == CallKind::Callback && self.answered_at.is_none() {
            // The agent's phone rang first; now the customer is dialed (E3, E4).
            self.offered.clear();
            self.offer_until = None;
            self.agent = Some(agent.clone());
            self.state = CallState::Dialing;
            self.log(
                now,
                JourneyEvent::AnsweredBy {
                    agent: agent.clone(),
                },
            );
            let message = CALLBACK_ANNOUNCEMENT.to_owned();
            self.log(now, JourneyEvent::CallbackAnnounced { message });
            return Ok(fx);
        }
        self.connect(
            now,
            agent.clone(),
            JourneyEvent::AnsweredBy {
                agent: agent.clone(),
            },
        );
        Ok(fx)
    }

    /// An agent takes the waiting call from the unassigned list (B5): connected at once.
    pub fn take(&mut self, now: Timestamp, agent: &AgentId) -> Result<(), Error> {
        self.expect(CallState::Waiting, "be taken")?;
        self.transfer = None;
        self.connect(
            now,
            agent.clone(),
            JourneyEvent::TakenBy {
                agent: agent.clone(),
            },
        );
        Ok(())
    }

    /// An agent declines the call's offer, or a consult it is ringing for. Unlike an offer
    /// that rings out, a decline costs the agent no delay (A3): it goes back to Ready, and is
    /// only kept from being offered this same call again for `exclude_for`.
    pub fn decline(
        &mut self,
        now: Timestamp,
        agent: &AgentId,
        exclude_for: Duration,
    ) -> Result<Effects, Error> {
        if self.consult.as_ref().is_some_and(|c| c.is_ringing(agent)) {
            return Ok(self.end_consult(now, "declined", false));
        }
        if self.state != CallState::Offering || !self.offered.contains(agent) {
            return Err(Error::NotOffered(self.id.clone(), agent.clone()));
        }
        self.missed_offers += 1;
        self.declined
            .retain(|(a, until)| a != agent && *until > now);
        self.declined.push((agent.clone(), now + exclude_for));
        let event = JourneyEvent::Declined {
            agent: agent.clone(),
        };
        Ok(self.stop_ringing(now, agent, event))
    }

    /// Time passes: the call's offer or a consult's ringing may run out.
    pub fn handle_timeout(&mut self, now: Timestamp) -> Effects {
        let mut fx = Effects::default();
        if self
            .consult
            .as_ref()
            .is_some_and(|c| c.ring_until.is_some_and(|t| t <= now))
        {
            fx = self.end_consult(now, "not_answered", true);
        }
        if self.state == CallState::Offering && self.offer_until.is_some_and(|t| t <= now) {
            let missed = std::mem::take(&mut self.offered);
            for a in &missed {
                self.missed_offers += 1;
                self.log(now, JourneyEvent::TimedOut { agent: a.clone() });
            }
            fx.missed.extend(missed);
            self.after_missed_offer(now, &mut fx);
        }
        fx
    }

    /// When the call next needs waking: its offer's or a consult's ringing deadline.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let offer = (self.state == CallState::Offering)
            .then_some(self.offer_until)
            .flatten();
        let consult = self.consult.as_ref().and_then(|c| c.ring_until);
        [offer, consult].into_iter().flatten().min()
    }

    /// Nobody rings any more after a missed offer: back to the queue's line, or on to the
    /// next members of a group transfer, or, when a transfer found nobody, to the queue.
    pub(super) fn after_missed_offer(&mut self, now: Timestamp, fx: &mut Effects) {
        self.offer_until = None;
        self.state = CallState::Waiting;
        match self.transfer.as_ref().map(|t| &t.target) {
            Some(Target::Group { .. }) => fx.redial_group = true,
            Some(Target::Agent { .. }) => self.transfer_failed(now, "nobody answered", fx),
            // Waiting in a queue, transferred there or not: back to its place in line.
            Some(Target::Queue { .. } | Target::Number { .. }) | None => {
                fx.enqueue = Some(self.queue.clone())
            }
        }
    }

    /// The call moves to another queue after waiting too long there.
    pub fn overflow(&mut self, now: Timestamp, to: QueueId) -> Result<(), Error> {
        self.expect(CallState::Waiting, "overflow")?;
        let from = std::mem::replace(&mut self.queue, to.clone());
        self.enqueued_at = now;
        self.log(now, JourneyEvent::Overflowed { from, to });
        Ok(())
    }
}
