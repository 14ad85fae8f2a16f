//! The external party a consult or a blind transfer dials through a trunk (D1, D2, D4, H4):
//! the network says when it rings, answers or cannot be reached, and when it hangs up.
//!
//! - A consult to a number rings until the network answers; the owner hears its line (the
//!   ringback) meanwhile. Busy, unanswered or refused, the consult ends with that reason and
//!   the customer stays held for the owner.
//! - A blind transfer to a number leaves the customer waiting (with music) while it rings;
//!   answered, the customer is bridged to the number and the call lasts until one of the two
//!   hangs up; not reached, the transfer failed and the call goes back to its queue's line.
//! - A completed consult, or a conference its owner leaves, bridges the customer and the
//!   number the same way.
//! - In a conference the external party's hang-up leaves the customer and the owner talking.

use super::{Call, CallResult, CallState, Effects, JourneyEvent, Party, Target, Third, Unreached};
use crate::{Error, Timestamp};

impl Call {
    /// The number being dialed through a trunk for this call now: a dialed consult not yet
    /// answered, or a blind transfer to a number still ringing.
    pub fn external_dialing(&self) -> Option<&str> {
        if let Some(c) = self.consult.as_ref().filter(|c| c.dialed && !c.answered) {
            return number_of(&c.target);
        }
        match &self.transfer {
            Some(t) if self.state == CallState::Waiting => number_of(&t.target),
            _ => None,
        }
    }

    /// The external party on the call now: a dialed consult's answered number, a
    /// conference's number, or the number the customer is bridged to.
    pub fn external_party(&self) -> Option<&str> {
        if let Some(n) = &self.bridged_to {
            return Some(n);
        }
        if let Some(c) = self.consult.as_ref().filter(|c| c.dialed && c.answered) {
            return number_of(&c.target);
        }
        match self.conference.as_ref().map(|c| &c.third) {
            Some(Third::Number { number }) => Some(number),
            _ => None,
        }
    }

    /// The number the customer talks to after the call was transferred out through a trunk.
    pub fn bridged_to(&self) -> Option<&str> {
        self.bridged_to.as_deref()
    }

    /// The number being dialed rings: noted once per attempt.
    pub fn external_ringing(&mut self, now: Timestamp) -> Result<(), Error> {
        let number = self
            .external_dialing()
            .ok_or_else(|| self.not_dialing("ring an external number"))?
            .to_owned();
        let rang = self
            .journey
            .iter()
            .rev()
            .take_while(|e| {
                !matches!(
                    e.event,
                    JourneyEvent::ConsultStarted { .. } | JourneyEvent::TransferStarted { .. }
                )
            })
            .any(|e| matches!(e.event, JourneyEvent::ExternalRinging { .. }));
        if !rang {
            self.log(now, JourneyEvent::ExternalRinging { number });
        }
        Ok(())
    }

    /// The number being dialed answered: a consult is up (the owner talks to it, the customer
    /// still held); a blind transfer bridges the customer to it.
    pub fn external_answered(&mut self, now: Timestamp) -> Result<Effects, Error> {
        if let Some(c) = self.consult.as_mut().filter(|c| c.dialed && !c.answered) {
            c.answered = true;
            c.ring_until = None;
            self.log(now, JourneyEvent::ConsultAnswered { agent: None });
            return Ok(Effects::default());
        }
        let number = self
            .external_dialing()
            .ok_or_else(|| self.not_dialing("be answered by an external number"))?
            .to_owned();
        self.transfer = None;
        self.bridge(now, number);
        Ok(Effects::default())
    }

    /// The number being dialed was not reached: the consult ends (the customer stays held),
    /// or the blind transfer failed (the call goes back to its queue's line).
    pub fn external_over(&mut self, now: Timestamp, why: Unreached) -> Result<Effects, Error> {
        if self
            .consult
            .as_ref()
            .is_some_and(|c| c.dialed && !c.answered)
        {
            return Ok(self.end_consult(now, why.as_str(), false));
        }
        if self.external_dialing().is_none() {
            return Err(self.not_dialing("miss an external number"));
        }
        let mut fx = Effects::default();
        let reason = format!("the number was {}", why.as_str().replace('_', " "));
        self.transfer_failed(now, &reason, &mut fx);
        Ok(fx)
    }

    /// The external party hung up ([`Call::hangup`] with [`Party::External`]): a bridged
    /// call ends, a conference goes on without it, a consult ends.
    pub(super) fn external_left(&mut self, now: Timestamp, by: Party) -> Result<Effects, Error> {
        if self.bridged_to.is_some() {
            self.end(now, by, CallResult::Answered);
            return Ok(Effects::default());
        }
        if matches!(
            self.conference.as_ref().map(|c| &c.third),
            Some(Third::Number { .. })
        ) {
            return self.leave_conference(now, by);
        }
        if self
            .consult
            .as_ref()
            .is_some_and(|c| c.dialed && c.answered)
        {
            return Ok(self.end_consult(now, "hung_up", false));
        }
        Err(self.not_dialing("lose an external party"))
    }

    /// The customer goes on with `number` alone: the owner has left (wrap-up is the
    /// caller's to say), the customer is off hold, nobody records.
    pub(super) fn bridge(&mut self, now: Timestamp, number: String) {
        self.agent = None;
        self.held = false;
        self.muted = false;
        self.state = CallState::Connected;
        self.offer_until = None;
        self.answered_at.get_or_insert(now);
        self.log(
            now,
            JourneyEvent::TransferredOut {
                number: number.clone(),
            },
        );
        self.bridged_to = Some(number);
    }

    fn not_dialing(&self, action: &'static str) -> Error {
        Error::CallState(self.id.clone(), self.state.as_str().into(), action)
    }
}

fn number_of(target: &Target) -> Option<&str> {
    match target {
        Target::Number { number } => Some(number),
        _ => None,
    }
}
