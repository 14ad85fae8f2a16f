//! The queue actor: one per queue, owning its [`engine::queue::Queue`].
//!
//! It hears calls arrive and leave and its members' availability, and after every message
//! matches waiting calls with free agents. A match is confirmed with the agent: the queue casts
//! her `Reserve`, and her answer is cast on, sent by a [`ReservationAnswer`] even if her
//! mailbox is dropped unread, so the queue never waits on an agent and many reservations share
//! one commit. A single agent who takes hers casts the call its offer herself
//! ([`CallMsg::Offer`]): the call rings her one hop sooner, and the queue, which counts her as
//! offered from the dispatch on (the engine's rule), hears nothing more of it until the offer
//! ends. A refusal, and every answer to a ring-all reservation, comes back to the queue
//! ([`QueueMsg::Reserved`], with her availability then, for this queue in place of the member
//! update her other queues get). The answers of a ring-all offer are gathered until all are in.
//! The engine bounds the wait ([`engine::queue::RESERVATION_TIMEOUT`]): a silent agent counts as
//! having refused; for a single agent, whose yes went to the call, the queue asks the call
//! ([`CallMsg::ReservationExpired`]), which answers for her with a refusal unless it rings her.
//! An agent answers once its reservation is handed to the store, not once it committed: the
//! call actor owns the offer from then on, and the call's write commits after the
//! reservation's, so the call checks the reservations once it committed and withdraws an agent
//! whose reservation failed (`CallActor::check_reservations`).
//!
//! The queue keeps nothing persistent: on restart it is rebuilt from the open calls in the
//! store and from its members re-publishing their availability.

use crate::agent_actor::{AgentMsg, ReserveReply};
use crate::call_actor::CallMsg;
use crate::context::{ChildKey, Context};
use crate::store::Saving;
use crate::timer::Timer;
use engine::agent::Availability;
use engine::call::CallState;
use engine::queue::{Assignment, Counters, OfferEnd, Queue, ReservationAnswered, WaitingCall};
use engine::routing::StrategyName;
use engine::{AgentId, CallId, IdMap, QueueId, Timestamp};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Messages to a queue actor.
pub enum QueueMsg {
    /// A call enters the line (or returns to its place).
    Enqueue {
        /// The call as the line holds it.
        call: WaitingCall,
    },
    /// A member's availability changed.
    MemberUpdate {
        /// The agent.
        agent: AgentId,
        /// Its availability.
        availability: Availability,
    },
    /// An offer of this queue ended.
    OfferEnded {
        /// The call.
        call: WaitingCall,
        /// How.
        end: OfferEnd,
    },
    /// The call leaves the queue (hung up, taken, assigned, ended).
    Remove {
        /// The call.
        call: CallId,
    },
    /// A call's skill requirements were widened: it keeps its place (or its offer).
    Requirements {
        /// The call.
        call: CallId,
        /// What it requires now.
        skills: engine::routing::Skills,
    },
    /// Free members for a consult, in the order the strategy would choose them.
    Candidates {
        /// The call's skill requirements.
        skills: engine::routing::Skills,
        /// Answer.
        reply: RpcReplyPort<Vec<AgentId>>,
    },
    /// Live counters.
    Counters {
        /// Answer.
        reply: RpcReplyPort<Counters>,
    },
    /// Calls waiting with nobody ringing, in line order.
    Waiting {
        /// Answer.
        reply: RpcReplyPort<Vec<WaitingCall>>,
    },
    /// The engine's wake-up (overflow, escalation).
    Timeout(u64),
    /// An agent answered her reservation for a call ([`ReservationAnswer`]).
    Reserved {
        /// The call.
        call: CallId,
        /// Which reservation ([`Assignment::attempt`]).
        attempt: u64,
        /// The agent.
        agent: AgentId,
        /// The write of her reservation if she took it.
        saving: Option<Saving>,
        /// Her availability with the reservation taken, told with her answer rather than in a
        /// [`QueueMsg::MemberUpdate`] after it.
        availability: Option<Availability>,
    },
    /// Fault injection for the supervision tests: the handler panics.
    #[cfg(test)]
    Panic,
    /// Fault injection: the handler is busy this long, its mailbox unread.
    #[cfg(test)]
    Stall(std::time::Duration),
}

/// Counts the queue actors started in this process: each numbers its reservations from a base
/// of its own (2^40 numbers each), so that a queue restarted by its supervisor never hands out
/// a reservation number an earlier incarnation did, which a call may hold as refused
/// (`CallActor::reservation_expired`). A process that restarts starts its calls' actors afresh.
static INCARNATIONS: AtomicU64 = AtomicU64::new(0);

pub(crate) struct QueueActor {
    pub ctx: Arc<Context>,
}

pub(crate) struct QueueState {
    queue: Queue,
    timer: Timer,
    /// The answers in so far to the ring-all reservations awaited (a single agent's answer is
    /// taken in at once).
    gathering: IdMap<CallId, Gathering>,
}

/// The answers to one reservation of several agents, until all are in.
struct Gathering {
    attempt: u64,
    expected: usize,
    outcomes: Vec<(AgentId, Option<Saving>)>,
}

/// An agent's answer to her reservation: sent once ([`ReservationAnswer::send`]), or, if it is
/// dropped unsent (her actor stopped with the message unread, or failed handling it), as a
/// refusal to the queue, so that the queue never waits for an answer that cannot come.
pub struct ReservationAnswer {
    queue: Option<ActorRef<QueueMsg>>,
    /// The queue's id, for an offer cast to the call.
    from: QueueId,
    call: CallId,
    attempt: u64,
    agent: AgentId,
    /// A single agent's reservation: the call to cast its offer to if she takes it.
    ring: Option<ActorRef<CallMsg>>,
}

impl ReservationAnswer {
    /// Sends the answer: `Some` with the reservation's write if she took it, and her
    /// availability then. A single agent's yes goes to the call as its offer; the rest to the
    /// queue. `false` if nobody took it: the queue stopped (it restarts without this
    /// reservation), or the call did (the queue then hears a refusal).
    pub(crate) fn send(
        mut self,
        saving: Option<Saving>,
        availability: Option<Availability>,
    ) -> bool {
        let queue = self.queue.take().expect("an answer is sent once");
        // Its outcome read once: a write known to have failed is a refusal, which the queue
        // takes in; one not known durable yet is checked by the call once its offer committed.
        // (Read twice, a failure landing between the reads went to the call as durable.)
        let took = saving
            .as_ref()
            .map(|s| (s, s.outcome_now()))
            .filter(|(_, outcome)| !matches!(outcome, Some(Err(_))));
        if let (Some((saving, outcome)), Some(call)) = (took, self.ring.take()) {
            let reservations = match outcome {
                Some(_) => Vec::new(),
                None => vec![(self.agent.clone(), saving.clone())],
            };
            let offer = CallMsg::Offer {
                agents: vec![self.agent.clone()],
                queue: self.from.clone(),
                reservations,
                attempt: self.attempt,
            };
            if call.cast(offer).is_ok() {
                return true;
            }
            // The call stopped: nobody rings her.
            let _ = queue.cast(self.message(None, availability));
            return false;
        }
        queue.cast(self.message(saving, availability)).is_ok()
    }

    fn message(&self, saving: Option<Saving>, availability: Option<Availability>) -> QueueMsg {
        QueueMsg::Reserved {
            call: self.call.clone(),
            attempt: self.attempt,
            agent: self.agent.clone(),
            saving,
            availability,
        }
    }
}

impl Drop for ReservationAnswer {
    fn drop(&mut self) {
        if let Some(queue) = self.queue.take() {
            let _ = queue.cast(self.message(None, None));
        }
    }
}

impl QueueActor {
    /// Matches waiting calls with free agents, and asks each matched agent to confirm its
    /// reservation without waiting for the answer: the answer comes back as
    /// [`QueueMsg::Reserved`]. The engine holds the call and its agents meanwhile, so the
    /// queue goes on routing while the agents save their reservations, and one commit of the
    /// store serves many of them (a queue that waited for each answer routed one call per
    /// commit).
    fn dispatch(&self, myself: &ActorRef<QueueMsg>, st: &mut QueueState, now: Timestamp) {
        let assignments = st.queue.dispatch(now);
        for panic in st.queue.take_strategy_failures() {
            tracing::error!(queue = %st.queue.id(), %panic, "the queue's routing strategy panicked: its fallback decided");
        }
        for Assignment {
            call,
            agents,
            attempt,
        } in assignments
        {
            if agents.len() > 1 {
                let gathering = Gathering {
                    attempt,
                    expected: agents.len(),
                    outcomes: Vec::with_capacity(agents.len()),
                };
                if let Some(old) = st.gathering.insert(call.clone(), gathering) {
                    // Not expected (a call back in line had its answers flushed), but never
                    // lost: an earlier reservation's answers are stale.
                    self.reserved(st, call.clone(), old.attempt, old.outcomes);
                }
            }
            // A single agent who takes her reservation casts the call its offer herself; a
            // call with no actor left (it ended) hears nothing, and her answer comes here.
            let ring = match agents.as_slice() {
                [_] => self.ctx.call(&call),
                _ => None,
            };
            for agent in agents {
                let answer = ReservationAnswer {
                    queue: Some(myself.clone()),
                    from: st.queue.id().clone(),
                    call: call.clone(),
                    attempt,
                    agent: agent.clone(),
                    ring: ring.clone(),
                };
                // An agent that is gone drops the message, and with it the answer: a refusal.
                if let Some(r) = self.ctx.agent(&agent) {
                    let _ = r.cast(AgentMsg::Reserve {
                        call: call.clone(),
                        queue: st.queue.id().clone(),
                        reply: ReserveReply::Queue(answer),
                    });
                }
            }
        }
    }

    /// An agent's answer: a single agent's is taken in at once, a ring-all's once all are in
    /// (an answer to a reservation no longer gathered is taken in alone: the engine finds it
    /// stale).
    fn answered(
        &self,
        st: &mut QueueState,
        call: CallId,
        attempt: u64,
        outcome: (AgentId, Option<Saving>),
    ) {
        let outcomes = match st.gathering.get_mut(&call) {
            Some(g) if g.attempt == attempt => {
                g.outcomes.push(outcome);
                if g.outcomes.len() < g.expected {
                    return;
                }
                st.gathering
                    .remove(&call)
                    .map(|g| g.outcomes)
                    .unwrap_or_default()
            }
            _ => vec![outcome],
        };
        self.reserved(st, call, attempt, outcomes);
    }

    /// Reservations not answered by their deadline: the silent agents count as having refused.
    /// A single agent's yes went to the call, not here: the call is asked, and refuses for her
    /// unless it rings her (then the queue hears nothing until the offer ends).
    fn expired(&self, st: &mut QueueState, now: engine::Timestamp) {
        for a in st.queue.expired_reservations(now) {
            let gathered = st
                .gathering
                .get(&a.call)
                .is_some_and(|g| g.attempt == a.attempt);
            if let ([agent], false) = (a.agents.as_slice(), gathered) {
                let asked = self.ctx.call(&a.call).is_some_and(|c| {
                    c.cast(CallMsg::ReservationExpired {
                        queue: st.queue.id().clone(),
                        agent: agent.clone(),
                        attempt: a.attempt,
                    })
                    .is_ok()
                });
                if asked {
                    continue;
                }
            }
            let mut outcomes = match gathered.then(|| st.gathering.remove(&a.call)).flatten() {
                Some(g) => g.outcomes,
                None => Vec::new(),
            };
            for agent in a.agents {
                if !outcomes.iter().any(|(x, _)| *x == agent) {
                    tracing::warn!(queue = %st.queue.id(), call = %a.call, %agent, "no answer to a reservation in time: counted as refused");
                    outcomes.push((agent, None));
                }
            }
            self.reserved(st, a.call, a.attempt, outcomes);
        }
    }

    /// After a call left or came back: answers gathered for a reservation the queue no longer
    /// awaits are taken in as they are (those who took it are released).
    fn flush(&self, st: &mut QueueState, call: &CallId) {
        let stale = st
            .gathering
            .get(call)
            .is_some_and(|g| st.queue.reservation(call) != Some(g.attempt));
        if let Some(g) = stale.then(|| st.gathering.remove(call)).flatten() {
            self.reserved(st, call.clone(), g.attempt, g.outcomes);
        }
    }

    /// The agents' answers to a reservation (see [`Queue::reservation_answered`]): the
    /// call rings the agents the queue still awaits, the others are released; a call that
    /// ended meanwhile releases them all.
    fn reserved(
        &self,
        st: &mut QueueState,
        call: CallId,
        attempt: u64,
        outcomes: Vec<(AgentId, Option<Saving>)>,
    ) {
        // A reservation known to have failed already counts as refused.
        let outcomes: Vec<_> = outcomes
            .into_iter()
            .map(|(a, s)| (a, s.filter(|s| !matches!(s.outcome_now(), Some(Err(_))))))
            .collect();
        let answers = outcomes
            .iter()
            .map(|(a, s)| (a.clone(), s.is_some()))
            .collect();
        let ReservationAnswered { offer, mut release } =
            st.queue.reservation_answered(&call, attempt, answers);
        if !offer.is_empty() {
            let queue = st.queue.id().clone();
            // The reservations the call checks once its offer committed (those not known to
            // be durable yet: none on the memory store).
            let reservations = outcomes
                .into_iter()
                .filter_map(|(a, s)| Some((a, s?)))
                .filter(|(a, s)| offer.contains(a) && !matches!(s.outcome_now(), Some(Ok(()))))
                .collect();
            let ringing = self.ctx.call(&call).is_some_and(|c| {
                c.cast(CallMsg::Offer {
                    agents: offer.clone(),
                    queue,
                    reservations,
                    attempt,
                })
                .is_ok()
            });
            if !ringing {
                // The call ended meanwhile.
                st.queue.remove(&call);
                release.extend(offer);
            }
        }
        for agent in release {
            let call = call.clone();
            self.ctx
                .tell_agent(&agent, AgentMsg::OfferWithdrawn { call });
        }
    }
}

impl Actor for QueueActor {
    type Msg = QueueMsg;
    type State = QueueState;
    type Arguments = QueueId;

    async fn pre_start(
        &self,
        myself: ActorRef<QueueMsg>,
        id: QueueId,
    ) -> Result<QueueState, ActorProcessingErr> {
        let conf = self
            .ctx
            .config
            .queue(id.as_str())
            .ok_or_else(|| format!("queue {id} is not configured"))?;
        let settings = self.ctx.setting(&id, engine::queue::QueueSettings::clone);
        let members = self.ctx.config.members(id.as_str());
        let queue = match &conf.strategy {
            StrategyName::Builtin(s) => Queue::new(id.clone(), settings, *s, members),
            StrategyName::Custom(name) => {
                let make = self
                    .ctx
                    .strategies
                    .get(name)
                    .ok_or_else(|| format!("queue {id}: strategy {name} is not registered"))?;
                Queue::with_strategy(id.clone(), settings, make(&id), members)
            }
        }
        .with_fallback(conf.fallback_strategy)
        .numbered_from(INCARNATIONS.fetch_add(1, Ordering::Relaxed) << 40);
        self.ctx
            .children
            .insert(myself.get_id(), ChildKey::Queue(id));
        Ok(QueueState {
            queue,
            timer: Timer::default(),
            gathering: IdMap::default(),
        })
    }

    async fn post_start(
        &self,
        _myself: ActorRef<QueueMsg>,
        st: &mut QueueState,
    ) -> Result<(), ActorProcessingErr> {
        // After a restart of this actor, the line is rebuilt from the live waiting calls, in
        // the order they entered it. (At process start no call actor lives yet: the calls
        // enqueue themselves as they are respawned.)
        let mut waiting = self
            .ctx
            .store
            .list_calls(Some(CallState::Waiting), i64::MAX)
            .await?;
        waiting.retain(|c| c.queue() == st.queue.id() && self.ctx.call(c.id()).is_some());
        waiting.sort_by_key(|c| c.enqueued_at());
        for c in waiting {
            st.queue.enqueue(c.waiting_call());
        }
        for conf in self
            .ctx
            .config
            .agents
            .iter()
            .filter(|a| a.queues.iter().any(|q| q == st.queue.id().as_str()))
        {
            self.ctx
                .tell_agent(&AgentId::from(conf.id.as_str()), AgentMsg::Republish);
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<QueueMsg>,
        st: &mut QueueState,
    ) -> Result<(), ActorProcessingErr> {
        st.timer.cancel();
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<QueueMsg>,
        msg: QueueMsg,
        st: &mut QueueState,
    ) -> Result<(), ActorProcessingErr> {
        let now = self.ctx.clock.now();
        match msg {
            QueueMsg::Enqueue { call } => {
                let id = call.call.clone();
                st.queue.enqueue(call);
                self.flush(st, &id);
            }
            QueueMsg::MemberUpdate {
                agent,
                availability,
            } => st.queue.update_member(&agent, availability),
            QueueMsg::OfferEnded { call, end } => {
                let id = call.call.clone();
                st.queue.offer_ended(now, call, end);
                self.flush(st, &id);
            }
            QueueMsg::Remove { call } => {
                st.queue.remove(&call);
                self.flush(st, &call);
            }
            QueueMsg::Reserved {
                call,
                attempt,
                agent,
                saving,
                availability,
            } => {
                if let Some(availability) = availability {
                    st.queue.update_member(&agent, availability);
                }
                self.answered(st, call, attempt, (agent, saving));
            }
            QueueMsg::Requirements { call, skills } => {
                st.queue.set_skills(&call, skills);
            }
            QueueMsg::Candidates { skills, reply } => {
                let _ = reply.send(st.queue.candidates(now, &skills));
                return Ok(());
            }
            QueueMsg::Counters { reply } => {
                let _ = reply.send(st.queue.counters(now));
                return Ok(());
            }
            QueueMsg::Waiting { reply } => {
                let _ = reply.send(st.queue.waiting().cloned().collect());
                return Ok(());
            }
            #[cfg(test)]
            QueueMsg::Panic => panic!("injected fault in queue {}", st.queue.id()),
            #[cfg(test)]
            QueueMsg::Stall(busy) => tokio::time::sleep(busy).await,
            QueueMsg::Timeout(generation) => {
                if st.timer.fire(generation) {
                    self.expired(st, now);
                    for o in st.queue.handle_timeout(now) {
                        match self.ctx.call(&o.call.call) {
                            Some(c) => {
                                let _ = c.cast(CallMsg::Overflow { to: o.to });
                            }
                            None => continue,
                        }
                    }
                }
            }
        }
        self.dispatch(&myself, st, now);
        st.timer.arm_by(
            &myself,
            &self.ctx.wakeups,
            st.queue.poll_timeout(now),
            QueueMsg::Timeout,
        );
        Ok(())
    }
}
