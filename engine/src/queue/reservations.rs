//! A queue's reservations: the agents matched with a call confirm them before the call rings
//! them, and the queue waits for their answers a bounded time.

use super::{Assignment, Queue, ReservationAnswered, WaitingCall};
use crate::{AgentId, CallId, QueueId, Timestamp};
use std::time::Duration;

/// How long a queue waits for its agents' answers to a reservation: past it, an agent who has
/// not answered counts as having refused (she is busy elsewhere: her database is slow, say), so
/// that the call goes on to someone else; her answer, when it comes, is stale
/// ([`Queue::reservation_answered`]).
pub const RESERVATION_TIMEOUT: Duration = Duration::from_secs(5);

/// A call reserved for agents, or ringing them.
#[derive(Debug)]
pub(super) struct Offering {
    pub(super) call: WaitingCall,
    /// The agents reserved (then ringing), less those who refused.
    pub(super) agents: Vec<AgentId>,
    /// Which of the call's reservations this is ([`Assignment::attempt`]).
    pub(super) attempt: u64,
    /// Until when the agents' answers are awaited; `None` once they are in.
    pub(super) deadline: Option<Timestamp>,
}

impl Queue {
    /// Whether this queue still waits for `agent` to confirm its reservation for `call`: the
    /// shell confirms reservations while the queue goes on routing, so an answer may come
    /// after the call left (hung up, taken) or was offered again to someone else; such an
    /// answer is stale, and an agent that took that reservation must be released.
    pub fn awaits(&self, call: &CallId, agent: &AgentId) -> bool {
        self.offering
            .get(call)
            .is_some_and(|o| o.agents.contains(agent))
    }

    /// The reservation of `call` whose answers this queue awaits, if any: its attempt.
    pub fn reservation(&self, call: &CallId) -> Option<u64> {
        self.offering
            .get(call)
            .filter(|o| o.deadline.is_some())
            .map(|o| o.attempt)
    }

    /// The agents' answers to the reservation `attempt` for `call` that [`Queue::dispatch`]
    /// asked for, all of them at once: a refusal is [`Queue::offer_refused`]; of the agents who
    /// took it, those this queue still awaits are to be offered the call, and the others (a
    /// stale answer: the call left, went to someone else, or was reserved again meanwhile)
    /// released. An answer to an attempt that is not the call's current one is stale whatever
    /// it says.
    pub fn reservation_answered(
        &mut self,
        call: &CallId,
        attempt: u64,
        answers: Vec<(AgentId, bool)>,
    ) -> ReservationAnswered {
        let mut out = ReservationAnswered::default();
        let current = match self.offering.get_mut(call) {
            Some(o) if o.attempt == attempt => {
                if let Some(deadline) = o.deadline.take() {
                    self.deadlines.update(deadline, false);
                }
                true
            }
            _ => false,
        };
        for (agent, took) in answers {
            if !took {
                if current {
                    self.offer_refused(call, &agent);
                }
            } else if current && self.awaits(call, &agent) {
                out.offer.push(agent);
            } else {
                out.release.push(agent);
            }
        }
        out
    }

    /// The reservations whose answers were not all in by their deadline
    /// ([`RESERVATION_TIMEOUT`] after [`Queue::dispatch`]), no longer awaited: the shell reports
    /// each with the answers it has, a missing one as a refusal
    /// ([`Queue::reservation_answered`]). Oldest first.
    pub fn expired_reservations(&mut self, now: Timestamp) -> Vec<Assignment> {
        if self.deadlines.first().is_none_or(|d| d > now) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for o in self.offering.values_mut() {
            if let Some(deadline) = o.deadline.filter(|d| *d <= now) {
                o.deadline = None;
                self.deadlines.update(deadline, false);
                out.push(Assignment {
                    call: o.call.call.clone(),
                    agents: o.agents.clone(),
                    attempt: o.attempt,
                });
            }
        }
        out.sort_by_key(|a| a.attempt);
        out
    }

    /// An agent refused the reservation (it was no longer available). It is marked unavailable
    /// until it reports again; a call left with nobody ringing returns to its place in line.
    /// A stale refusal (see [`Queue::awaits`]) changes nothing.
    pub fn offer_refused(&mut self, call: &CallId, agent: &AgentId) {
        if !self.awaits(call, agent) {
            return;
        }
        if let Some(&i) = self.member_index.get(agent) {
            self.change_member(i, |m| {
                m.reserved = false;
                if let Some(a) = &mut m.availability {
                    a.available = false;
                }
            });
        }
        if let Some(o) = self.offering.get_mut(call) {
            o.agents.retain(|a| a != agent);
            if o.agents.is_empty() {
                let c = self.take_offering(call).expect("present: checked above");
                self.enqueue(c);
            }
        }
    }

    /// Takes a call's offering away: its deadline is dropped and its agents are no longer
    /// reserved.
    pub(super) fn take_offering(&mut self, call: &CallId) -> Option<WaitingCall> {
        let o = self.offering.remove(call)?;
        if let Some(deadline) = o.deadline {
            self.deadlines.update(deadline, false);
        }
        for a in &o.agents {
            if let Some(&i) = self.member_index.get(a) {
                self.change_member(i, |m| m.reserved = false);
            }
        }
        Some(o.call)
    }
}

/// The queues' reservations a call heard of, kept by its actor to tell a late offer from a
/// current one. A single agent who takes her reservation offers the call herself; when her
/// queue hears nothing of it by its deadline it asks the call ([`CallReservations::lapsed`]),
/// which refuses it for her unless it rings her for it, and an offer of a refused reservation,
/// coming later, is stale ([`CallReservations::refused`]). Reservations are named by their
/// queue and number ([`Assignment::attempt`]).
#[derive(Debug, Default)]
pub struct CallReservations {
    /// The last reservation the call rang for.
    rung: Option<(QueueId, u64)>,
    /// Those it refused for their agent (one each time an agent was silent past a deadline:
    /// few).
    refused: Vec<(QueueId, u64)>,
}

impl CallReservations {
    /// Whether the call refused this reservation for its agent: an offer of it is stale.
    pub fn refused(&self, queue: &QueueId, attempt: u64) -> bool {
        self.refused
            .iter()
            .any(|(q, a)| q == queue && *a == attempt)
    }

    /// The call rings for this reservation.
    pub fn rung(&mut self, queue: QueueId, attempt: u64) {
        self.rung = Some((queue, attempt));
    }

    /// The queue's deadline for a single agent's reservation passed with no word of her yes:
    /// whether the call refuses it for her (it does not ring for it). A refused one stays
    /// refused ([`CallReservations::refused`]).
    pub fn lapsed(&mut self, queue: &QueueId, attempt: u64) -> bool {
        if self
            .rung
            .as_ref()
            .is_some_and(|(q, a)| q == queue && *a == attempt)
        {
            return false;
        }
        self.refused.push((queue.clone(), attempt));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::CallReservations;

    /// A lapse of the reservation the call rings for changes nothing; a lapse of another is
    /// refused, and stays so, while the reservation rung is not.
    #[test]
    fn a_call_refuses_a_lapsed_reservation_unless_it_rings_for_it() {
        let mut r = CallReservations::default();
        let q = || "q".into();
        assert!(!r.refused(&q(), 1));
        r.rung(q(), 1);
        assert!(!r.lapsed(&q(), 1), "rung for it: not refused");
        assert!(!r.refused(&q(), 1));
        assert!(r.lapsed(&q(), 2), "not rung for it: refused");
        assert!(r.refused(&q(), 2));
        assert!(!r.refused(&"other".into(), 2), "another queue's number 2");
        r.rung(q(), 3);
        assert!(r.refused(&q(), 2), "still refused");
    }
}
