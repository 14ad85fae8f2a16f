//! The call actor: one per call, owning its [`engine::call::Call`] and its offer timer.
//!
//! Every step is persisted (snapshot with journey) before the caller is answered, then its
//! journey entries are published. Synchronous calls go only from the call to its agent
//! (`Answered`, `Take`), never back, so no call cycle can deadlock. When the call is over the
//! actor stops; its supervisor forgets it.

use crate::agent_actor::AgentMsg;
use crate::context::{ask, ChildKey, Context};
use crate::error::ActorError;
use crate::queue_actor::QueueMsg;
use crate::timer::Timer;
use engine::call::{Call, HangupEffects, Party};
use engine::queue::OfferEnd;
use engine::{AgentId, QueueId};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::sync::Arc;

/// Messages to a call actor. Reply ports come last.
pub enum CallMsg {
    /// The queue reserved these agents for the call: ring them.
    Offer {
        /// The agents, already reserved.
        agents: Vec<AgentId>,
        /// The queue that chose them.
        queue: QueueId,
    },
    /// An agent the queue wanted was busy.
    AgentBusy {
        /// Which.
        agent: AgentId,
    },
    /// An agent answers.
    Accept {
        /// Which.
        agent: AgentId,
        /// Answer.
        reply: RpcReplyPort<Result<Call, ActorError>>,
    },
    /// An agent declines.
    Decline {
        /// Which.
        agent: AgentId,
        /// Answer.
        reply: RpcReplyPort<Result<Call, ActorError>>,
    },
    /// Someone hangs up.
    Hangup {
        /// Who.
        by: Party,
        /// Answer.
        reply: RpcReplyPort<Result<Call, ActorError>>,
    },
    /// An agent takes the waiting call from the unassigned list.
    Take {
        /// Which.
        agent: AgentId,
        /// Answer.
        reply: RpcReplyPort<Result<Call, ActorError>>,
    },
    /// A colleague is chosen to take the waiting call: it is offered to them.
    Assign {
        /// Which.
        agent: AgentId,
        /// Answer.
        reply: RpcReplyPort<Result<Call, ActorError>>,
    },
    /// The call waited too long in its queue and moves to another.
    Overflow {
        /// The target queue.
        to: QueueId,
    },
    /// An agent actor restarted and asks whether it is still ringing for or on this call;
    /// the call corrects it if not.
    Resync {
        /// Which.
        agent: AgentId,
    },
    /// Read the call.
    Get {
        /// Answer.
        reply: RpcReplyPort<Call>,
    },
    /// The offer timer.
    Timeout(u64),
    /// Fault injection for the supervision tests: the handler panics.
    #[cfg(test)]
    Panic,
}

pub(crate) struct CallActor {
    pub ctx: Arc<Context>,
}

pub(crate) struct CallActorState {
    call: Call,
    published: usize,
    timer: Timer,
}

/// Start-up arguments.
pub(crate) struct CallArgs {
    /// The call, new (already persisted by its creator) or reloaded.
    pub call: Call,
    /// Whether the call was reloaded after a failure of its actor or of the process.
    pub recovered: Option<Recovery>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recovery {
    /// The actor died; the rest of the process did not.
    ActorRestart,
    /// The whole process restarted.
    ProcessRestart,
}

impl CallActor {
    /// Persists, publishes, re-arms the timer; stops the actor when the call is over.
    async fn commit(
        &self,
        myself: &ActorRef<CallMsg>,
        st: &mut CallActorState,
    ) -> Result<(), ActorError> {
        self.ctx
            .store
            .save_call(&st.call, self.ctx.clock.now().0)
            .await?;
        self.ctx.bus.publish_journey(&st.call, st.published);
        st.published = st.call.journey().len();
        if st.call.state().is_final() {
            st.timer.cancel();
            myself.stop(None);
        } else {
            st.timer.arm(
                myself,
                &self.ctx.clock,
                st.call.poll_timeout(),
                CallMsg::Timeout,
            );
        }
        Ok(())
    }

    /// Commits and answers with the call; a store failure is answered and then restarts the
    /// actor from the last saved state.
    async fn answer(
        &self,
        myself: &ActorRef<CallMsg>,
        st: &mut CallActorState,
        reply: RpcReplyPort<Result<Call, ActorError>>,
        outcome: Result<(), ActorError>,
    ) -> Result<(), ActorProcessingErr> {
        if let Err(e) = outcome {
            let _ = reply.send(Err(e));
            return Ok(());
        }
        match self.commit(myself, st).await {
            Ok(()) => {
                let _ = reply.send(Ok(st.call.clone()));
                Ok(())
            }
            Err(e) => {
                let msg = e.to_string();
                let _ = reply.send(Err(e));
                Err(msg.into())
            }
        }
    }

    fn carry_out(&self, effects: HangupEffects, call: &Call) {
        let settings = self.ctx.settings(call.queue());
        for a in effects.withdrawn {
            self.ctx.tell_agent(
                &a,
                AgentMsg::OfferWithdrawn {
                    call: call.id().clone(),
                },
            );
        }
        if let Some(a) = effects.wrap_up {
            self.ctx.tell_agent(
                &a,
                AgentMsg::CallEnded {
                    call: call.id().clone(),
                    wrap_up_limit: settings.wrap_up_limit,
                },
            );
        }
        if effects.leave_queue {
            self.ctx.tell_queue(
                call.queue(),
                QueueMsg::Remove {
                    call: call.id().clone(),
                },
            );
        }
    }

    fn missed(&self, call: &Call, agents: Vec<AgentId>, back_to_line: bool) {
        let settings = self.ctx.settings(call.queue());
        for a in agents {
            self.ctx.tell_agent(
                &a,
                AgentMsg::OfferMissed {
                    call: call.id().clone(),
                    no_answer_delay: settings.no_answer_delay,
                },
            );
        }
        if back_to_line {
            self.ctx.tell_queue(
                call.queue(),
                QueueMsg::OfferEnded {
                    call: call.waiting_call(),
                    end: OfferEnd::Missed,
                },
            );
        }
    }

    async fn accept(&self, st: &mut CallActorState, agent: &AgentId) -> Result<(), ActorError> {
        let call = &st.call;
        if !call.offered().contains(agent) {
            return Err(engine::Error::NotOffered(call.id().clone(), agent.clone()).into());
        }
        let agent_ref = self
            .ctx
            .agent(agent)
            .ok_or_else(|| ActorError::UnknownAgent(agent.to_string()))?;
        ask(&agent_ref, "agent", |reply| AgentMsg::Answered {
            call: call.id().clone(),
            reply,
        })
        .await??;
        let now = self.ctx.clock.now();
        let others = st.call.accept(now, agent)?;
        for a in others {
            self.ctx.tell_agent(
                &a,
                AgentMsg::OfferWithdrawn {
                    call: st.call.id().clone(),
                },
            );
        }
        self.ctx.tell_queue(
            st.call.queue(),
            QueueMsg::OfferEnded {
                call: st.call.waiting_call(),
                end: OfferEnd::Answered,
            },
        );
        Ok(())
    }

    async fn take(&self, st: &mut CallActorState, agent: &AgentId) -> Result<(), ActorError> {
        if st.call.state() != engine::call::CallState::Waiting {
            return Err(engine::Error::CallState(
                st.call.id().clone(),
                st.call.state().as_str().into(),
                "be taken",
            )
            .into());
        }
        let agent_ref = self
            .ctx
            .agent(agent)
            .ok_or_else(|| ActorError::UnknownAgent(agent.to_string()))?;
        let (call, queue) = (st.call.id().clone(), st.call.queue().clone());
        ask(&agent_ref, "agent", |reply| AgentMsg::Take {
            call,
            queue,
            reply,
        })
        .await??;
        st.call.take(self.ctx.clock.now(), agent)?;
        self.ctx.tell_queue(
            st.call.queue(),
            QueueMsg::Remove {
                call: st.call.id().clone(),
            },
        );
        Ok(())
    }

    async fn assign(&self, st: &mut CallActorState, agent: &AgentId) -> Result<(), ActorError> {
        if st.call.state() != engine::call::CallState::Waiting {
            return Err(engine::Error::CallState(
                st.call.id().clone(),
                st.call.state().as_str().into(),
                "be assigned",
            )
            .into());
        }
        let agent_ref = self
            .ctx
            .agent(agent)
            .ok_or_else(|| ActorError::UnknownAgent(agent.to_string()))?;
        let (call, queue) = (st.call.id().clone(), st.call.queue().clone());
        if !ask(&agent_ref, "agent", |reply| AgentMsg::Reserve {
            call,
            queue,
            reply,
        })
        .await?
        {
            return Err(engine::Error::Unavailable(agent.clone()).into());
        }
        let timeout = self.ctx.settings(st.call.queue()).offer_timeout;
        st.call
            .offer(self.ctx.clock.now(), vec![agent.clone()], timeout)?;
        self.ctx.tell_queue(
            st.call.queue(),
            QueueMsg::Remove {
                call: st.call.id().clone(),
            },
        );
        Ok(())
    }
}

impl Actor for CallActor {
    type Msg = CallMsg;
    type State = CallActorState;
    type Arguments = CallArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<CallMsg>,
        args: CallArgs,
    ) -> Result<CallActorState, ActorProcessingErr> {
        let mut call = args.call;
        let published = call.journey().len();
        let mut withdrawn = Vec::new();
        if let Some(r) = args.recovered {
            let before: Vec<AgentId> = call.offered().to_vec();
            call.recover(self.ctx.clock.now(), r == Recovery::ProcessRestart);
            if call.state() == engine::call::CallState::Waiting {
                withdrawn = before;
            }
        }
        // A call whose queue is gone from the configuration cannot be routed.
        if !call.state().is_final() && self.ctx.queue(call.queue()).is_none() {
            let fx = call.fail(
                self.ctx.clock.now(),
                format!("queue {} is not configured", call.queue()),
            );
            self.carry_out(fx, &call);
        }
        let mut st = CallActorState {
            call,
            published,
            timer: Timer::default(),
        };
        for a in withdrawn {
            self.ctx.tell_agent(
                &a,
                AgentMsg::OfferWithdrawn {
                    call: st.call.id().clone(),
                },
            );
        }
        if args.recovered.is_none() {
            // A new call: its creator persisted it before acknowledging; publish its first steps.
            self.ctx.bus.publish_journey(&st.call, 0);
            st.published = st.call.journey().len();
        }
        if st.published != st.call.journey().len() {
            self.commit(&myself, &mut st).await?;
        } else {
            st.timer.arm(
                &myself,
                &self.ctx.clock,
                st.call.poll_timeout(),
                CallMsg::Timeout,
            );
        }
        crate::context::write(&self.ctx.children)
            .insert(myself.get_id(), ChildKey::Call(st.call.id().clone()));
        // Registered and enqueued before the spawn returns: whoever created the call finds it
        // in its queue, and the queue finds the actor when it offers.
        if !st.call.state().is_final() {
            crate::context::write(&self.ctx.calls).insert(st.call.id().clone(), myself.clone());
        }
        if st.call.state() == engine::call::CallState::Waiting {
            self.ctx.tell_queue(
                st.call.queue(),
                QueueMsg::Enqueue {
                    call: st.call.waiting_call(),
                },
            );
        }
        Ok(st)
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<CallMsg>,
        st: &mut CallActorState,
    ) -> Result<(), ActorProcessingErr> {
        st.timer.cancel();
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<CallMsg>,
        msg: CallMsg,
        st: &mut CallActorState,
    ) -> Result<(), ActorProcessingErr> {
        let now = self.ctx.clock.now();
        match msg {
            CallMsg::Offer { agents, queue } => {
                let timeout = self.ctx.settings(&queue).offer_timeout;
                if queue != *st.call.queue() || st.call.offer(now, agents.clone(), timeout).is_err()
                {
                    // Stale: the call moved on (taken, assigned, ended) since the queue chose.
                    for a in agents {
                        self.ctx.tell_agent(
                            &a,
                            AgentMsg::OfferWithdrawn {
                                call: st.call.id().clone(),
                            },
                        );
                    }
                    self.ctx.tell_queue(
                        &queue,
                        QueueMsg::Remove {
                            call: st.call.id().clone(),
                        },
                    );
                    return Ok(());
                }
                self.commit(&myself, st).await?;
            }
            CallMsg::AgentBusy { agent } => {
                st.call.agent_busy(now, agent);
                self.commit(&myself, st).await?;
            }
            CallMsg::Accept { agent, reply } => {
                let outcome = self.accept(st, &agent).await;
                self.answer(&myself, st, reply, outcome).await?;
            }
            CallMsg::Decline { agent, reply } => {
                let outcome = st
                    .call
                    .decline(now, &agent)
                    .map_err(ActorError::from)
                    .map(|back| {
                        self.missed(&st.call, vec![agent], back);
                    });
                self.answer(&myself, st, reply, outcome).await?;
            }
            CallMsg::Hangup { by, reply } => {
                let outcome = st
                    .call
                    .hangup(now, by)
                    .map_err(ActorError::from)
                    .map(|fx| self.carry_out(fx, &st.call));
                self.answer(&myself, st, reply, outcome).await?;
            }
            CallMsg::Take { agent, reply } => {
                let outcome = self.take(st, &agent).await;
                self.answer(&myself, st, reply, outcome).await?;
            }
            CallMsg::Assign { agent, reply } => {
                let outcome = self.assign(st, &agent).await;
                self.answer(&myself, st, reply, outcome).await?;
            }
            CallMsg::Overflow { to } => {
                if self.ctx.queue(&to).is_none() {
                    let fx = st
                        .call
                        .fail(now, format!("overflow queue {to} is not running"));
                    self.carry_out(fx, &st.call);
                } else if st.call.overflow(now, to.clone()).is_ok() {
                    self.ctx.tell_queue(
                        &to,
                        QueueMsg::Enqueue {
                            call: st.call.waiting_call(),
                        },
                    );
                }
                self.commit(&myself, st).await?;
            }
            CallMsg::Get { reply } => {
                let _ = reply.send(st.call.clone());
            }
            CallMsg::Resync { agent } => {
                let ringing = st.call.offered().contains(&agent);
                let connected = st.call.state() == engine::call::CallState::Connected
                    && st.call.agent() == Some(&agent);
                if !ringing && !connected {
                    self.ctx.tell_agent(
                        &agent,
                        AgentMsg::CallGone {
                            call: st.call.id().clone(),
                        },
                    );
                }
            }
            CallMsg::Timeout(generation) => {
                if st.timer.fire(generation) {
                    let missed = st.call.offer_timed_out(now);
                    if !missed.is_empty() {
                        self.missed(&st.call, missed, true);
                    }
                    self.commit(&myself, st).await?;
                }
            }
            #[cfg(test)]
            CallMsg::Panic => panic!("injected fault in call {}", st.call.id()),
        }
        Ok(())
    }
}
