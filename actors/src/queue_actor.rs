//! The queue actor: one per queue, owning its [`engine::queue::Queue`].
//!
//! It hears calls arrive and leave and its members' availability, and after every message
//! matches waiting calls with free agents. A match is confirmed with the agent (`Reserve`, asked
//! from a task of its own whose answer comes back as a message, so the queue never waits on an
//! agent and many reservations share one commit). An agent answers once its reservation is
//! handed to the store, not once it committed: the offer goes to the call actor, which owns it
//! from then on, and the call's write commits after the reservation's, so the call checks the
//! reservations once it committed and withdraws an agent whose reservation failed
//! (`CallActor::check_reservations`).
//!
//! The queue keeps nothing persistent: on restart it is rebuilt from the open calls in the
//! store and from its members re-publishing their availability.

use crate::agent_actor::AgentMsg;
use crate::call_actor::CallMsg;
use crate::context::{ask, ChildKey, Context};
use crate::store::Saving;
use crate::timer::Timer;
use engine::agent::Availability;
use engine::call::CallState;
use engine::queue::{Counters, OfferEnd, Queue, ReservationAnswered, WaitingCall};
use engine::routing::StrategyName;
use engine::{AgentId, CallId, QueueId};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
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
    /// A notice answered once it is handled: a call step's answer waits on it until the
    /// queues it concerns have taken the step in.
    Acked {
        /// The notice.
        msg: Box<QueueMsg>,
        /// Answered once it is handled.
        done: RpcReplyPort<()>,
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
    /// Matched agents answered their reservation for a call (sent by the queue's own
    /// dispatch).
    Reserved {
        /// The call.
        call: CallId,
        /// Each agent asked, and the write of its reservation if it took it.
        outcomes: Vec<(AgentId, Option<Saving>)>,
    },
    /// Fault injection for the supervision tests: the handler panics.
    #[cfg(test)]
    Panic,
}

pub(crate) struct QueueActor {
    pub ctx: Arc<Context>,
}

pub(crate) struct QueueState {
    queue: Queue,
    timer: Timer,
}

impl QueueActor {
    /// Matches waiting calls with free agents, and asks each matched agent to confirm its
    /// reservation without waiting for the answer: the answer comes back as
    /// [`QueueMsg::Reserved`]. The engine holds the call and its agents meanwhile, so the
    /// queue goes on routing while the agents save their reservations, and one commit of the
    /// store serves many of them (a queue that waited for each answer routed one call per
    /// commit).
    fn dispatch(&self, myself: &ActorRef<QueueMsg>, st: &mut QueueState) {
        let now = self.ctx.clock.now();
        let assignments = st.queue.dispatch(now);
        for panic in st.queue.take_strategy_failures() {
            tracing::error!(queue = %st.queue.id(), %panic, "the queue's routing strategy panicked: its fallback decided");
        }
        for a in assignments {
            let (ctx, myself, queue) = (self.ctx.clone(), myself.clone(), st.queue.id().clone());
            tokio::spawn(async move {
                let asks = a.agents.into_iter().map(|agent| {
                    let (ctx, call, queue) = (&ctx, a.call.clone(), queue.clone());
                    async move {
                        let saving = match ctx.agent(&agent) {
                            Some(r) => ask(&r, "agent", |reply| AgentMsg::Reserve {
                                call,
                                queue,
                                reply,
                            })
                            .await
                            .unwrap_or(None),
                            None => None,
                        };
                        (agent, saving)
                    }
                });
                let outcomes = futures::future::join_all(asks).await;
                let reserved: Vec<AgentId> = outcomes
                    .iter()
                    .filter(|(_, saving)| saving.is_some())
                    .map(|(a, _)| a.clone())
                    .collect();
                let call = a.call;
                if myself
                    .cast(QueueMsg::Reserved {
                        call: call.clone(),
                        outcomes,
                    })
                    .is_err()
                {
                    // The queue stopped (it restarts without this offer): release the agents.
                    for agent in reserved {
                        let call = call.clone();
                        ctx.tell_agent(&agent, AgentMsg::OfferWithdrawn { call });
                    }
                }
            });
        }
    }

    /// The agents' answers to a reservation (see [`Queue::reservation_answered`]): the
    /// call rings the agents the queue still awaits, the others are released; a call that
    /// ended meanwhile releases them all.
    fn reserved(
        &self,
        st: &mut QueueState,
        call: CallId,
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
            st.queue.reservation_answered(&call, answers);
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
        .with_fallback(conf.fallback_strategy);
        crate::context::write(&self.ctx.children).insert(myself.get_id(), ChildKey::Queue(id));
        Ok(QueueState {
            queue,
            timer: Timer::default(),
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
        // An acked notice is the notice, then its answer (notices are wrapped once).
        let (msg, done) = match msg {
            QueueMsg::Acked { msg, done } => (*msg, Some(done)),
            msg => (msg, None),
        };
        self.step(myself, msg, st).await?;
        if let Some(done) = done {
            let _ = done.send(());
        }
        Ok(())
    }
}

impl QueueActor {
    /// Handles one message (an acked notice arrives unwrapped: see `handle`).
    async fn step(
        &self,
        myself: ActorRef<QueueMsg>,
        msg: QueueMsg,
        st: &mut QueueState,
    ) -> Result<(), ActorProcessingErr> {
        let now = self.ctx.clock.now();
        match msg {
            QueueMsg::Enqueue { call } => st.queue.enqueue(call),
            QueueMsg::MemberUpdate {
                agent,
                availability,
            } => st.queue.update_member(&agent, availability),
            QueueMsg::OfferEnded { call, end } => st.queue.offer_ended(now, call, end),
            QueueMsg::Remove { call } => {
                st.queue.remove(&call);
            }
            QueueMsg::Reserved { call, outcomes } => self.reserved(st, call, outcomes),
            QueueMsg::Requirements { call, skills } => {
                st.queue.set_skills(&call, skills);
            }
            QueueMsg::Candidates { skills, reply } => {
                let _ = reply.send(st.queue.candidates(now, &skills));
                return Ok(());
            }
            // Unwrapped by `handle`.
            QueueMsg::Acked { .. } => return Ok(()),
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
            QueueMsg::Timeout(generation) => {
                if st.timer.fire(generation) {
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
        self.dispatch(&myself, st);
        st.timer.arm(
            &myself,
            &self.ctx.wakeups,
            st.queue.poll_timeout(now),
            QueueMsg::Timeout,
        );
        Ok(())
    }
}
