//! An agent steps away while a call rings for it: choosing another status ends its offer at
//! once, and the call moves on without waiting for the offer to ring out.

use super::{Call, CallState, Effects, JourneyEvent};
use crate::{AgentId, Error, Timestamp};

impl Call {
    /// The agent chose another status while this call (or its consult) rang for it
    /// ([`crate::agent::Agent::set_status`] returned this call): its offer ends at once, with no
    /// no-answer penalty and no exclusion (the agent is not Ready, so nothing is offered to it
    /// until it comes back). When nobody else rings, the call goes back to its place in line,
    /// or its transfer moves on, as after a declined offer.
    pub fn withdraw_offer(&mut self, now: Timestamp, agent: &AgentId) -> Result<Effects, Error> {
        if self.consult.as_ref().is_some_and(|c| c.is_ringing(agent)) {
            return Ok(self.end_consult(now, "stepped_away", false));
        }
        if self.state != CallState::Offering || !self.offered.contains(agent) {
            return Err(Error::NotOffered(self.id.clone(), agent.clone()));
        }
        let event = JourneyEvent::SteppedAway {
            agent: agent.clone(),
        };
        Ok(self.stop_ringing(now, agent, event))
    }

    /// One agent stops ringing, for the reason `event` logs; when nobody else rings, the call
    /// moves on. The agent is among those offered the call.
    pub(super) fn stop_ringing(
        &mut self,
        now: Timestamp,
        agent: &AgentId,
        event: JourneyEvent,
    ) -> Effects {
        self.offered.retain(|a| a != agent);
        self.log(now, event);
        let mut fx = Effects {
            withdrawn: vec![agent.clone()],
            ..Effects::default()
        };
        if self.offered.is_empty() {
            self.after_missed_offer(now, &mut fx);
        }
        fx
    }
}

impl Call {
    /// Of the agents a queue reserved for an offer this call could not take (stale: the call
    /// moved on since the queue chose), those to release: not the ones this call rings
    /// already, whose one reservation is this call's live offer (a queue that offered the
    /// call twice would otherwise take the agent away from the offer the call shows).
    pub fn stale_offer_release(&self, reserved: Vec<AgentId>) -> Vec<AgentId> {
        reserved
            .into_iter()
            .filter(|a| !self.offered.contains(a))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::Skills;
    use std::time::Duration;

    #[test]
    fn a_stale_offer_releases_only_the_agents_the_call_does_not_ring() {
        let t = Timestamp::from_millis(1_000);
        let mut call = Call::new(
            "c1".into(),
            t,
            "+15550001".into(),
            "q".into(),
            0,
            Skills::new(),
        );
        call.offer(t, vec!["a0".into()], Duration::from_secs(18))
            .unwrap();
        // The same queue offers it again to a0 and a1: the call cannot take it.
        assert!(call
            .offer(t, vec!["a0".into(), "a1".into()], Duration::from_secs(18))
            .is_err());
        let released = call.stale_offer_release(vec!["a0".into(), "a1".into()]);
        assert_eq!(released, vec![AgentId::from("a1")]);
    }
}
