//! The call actor: one per call, owning its [`engine::call::Call`] and its timer (the offer's
//! or a consult's ringing deadline).
//!
//! Every step is persisted (snapshot with journey) before the caller is answered, then its
//! journey entries are published and its [`Effects`] carried out (agents told, queues told).
//! A new call is enqueued while its creation commits; its actor takes the queue's first offer
//! at once, anything else once the creation is durable, and drops the call if it failed
//! (`call_creation`).
//! Synchronous calls go only from the call to agents (`Reserve`, `Answered`, `Take`, a step's
//! acked notices) and to a queue (`Candidates`), never back, so no call cycle
//! can deadlock. When the call is over the actor stops; its supervisor forgets it. In-call
//! control lives in `call_control`, the telling of agents and queues in `call_effects`, the
//! messages in `call_msg`.

use crate::agent_actor::AgentMsg;
use crate::call_creation::Creation;
use crate::call_effects::{Answer, Notices};
use crate::context::{ask, ChildKey, Context};
use crate::error::ActorError;
use crate::media::actor::MediaMsg;
use crate::queue_actor::QueueMsg;
use crate::shared::Shared;
use crate::store::Saving;
use crate::timer::Timer;
use engine::call::{Call, CallState, Effects};
use engine::{AgentId, Timestamp};
use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use std::sync::Arc;

pub(crate) use crate::call_msg::CallReply;
pub use crate::call_msg::{CallMsg, ExternalNews};

pub(crate) struct CallActor {
    pub ctx: Arc<Context>,
}

pub(crate) struct CallActorState {
    pub(crate) call: Shared<Call>,
    /// The journey's entries stored and published so far: a step's new entries are stored
    /// (appended after these), then published.
    pub(crate) published: usize,
    pub(crate) timer: Timer,
    /// The call's media actor (a child of this actor), once a party offered media.
    pub(crate) media: Option<ActorRef<MediaMsg>>,
    /// The call is over and saved: once the step that ended it has been answered, the actor
    /// lets its media actor finish and stops ([`CallActor::close`]).
    closing: bool,
    /// Whether the call's creation is durable (see `call_creation`).
    pub(crate) creation: Creation,
    /// The call as created, while an offer is taken before its creation is known to be
    /// durable: the next commit writes the call whole and publishes these entries first.
    pub(crate) unpublished: Option<Arc<Call>>,
    /// When the message being handled came in: its steps' time, and its saves'.
    pub(crate) now: Timestamp,
    /// The queues' reservations the call rang or refused ([`CallActor::offer`]).
    pub(crate) reservations: engine::queue::CallReservations,
}

/// Start-up arguments.
pub(crate) struct CallArgs {
    /// The call, new (persisted by its creator, who may share it with the store; see
    /// `saving`) or reloaded.
    pub call: Arc<Call>,
    /// Whether the call was reloaded after a failure of its actor or of the process.
    pub recovered: Option<Recovery>,
    /// A new call's creation, handed to the store by its creator and maybe not committed yet.
    pub saving: Option<Saving>,
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
    pub(crate) async fn commit(
        &self,
        myself: &ActorRef<CallMsg>,
        st: &mut CallActorState,
    ) -> Result<(), ActorError> {
        // The call's end and its CRM logs are written in one transaction.
        let logs = match &self.ctx.outbox {
            Some(outbox) if st.call.state().is_final() => outbox.rows_for(&st.call).await?,
            _ => Vec::new(),
        };
        self.ctx
            .store
            .save_call_with_outbox(
                &st.call.share(),
                // A creation not yet known to be durable is written again, whole.
                if st.unpublished.is_some() {
                    0
                } else {
                    st.published
                },
                st.now.0,
                &logs,
            )
            .await?;
        if let (Some(outbox), false) = (&self.ctx.outbox, logs.is_empty()) {
            outbox.queued(st.call.id(), &logs).await;
        }
        if let Some(created) = st.unpublished.take() {
            // As it was created (its agents none yet), then the step.
            self.ctx.bus.publish_journey(&created, 0);
        }
        self.ctx.bus.publish_journey(&st.call, st.published);
        self.tell_media(st);
        st.published = st.call.journey().len();
        if st.call.state().is_final() {
            st.timer.cancel();
            tracing::info!(
                call = %st.call.id(),
                queue = %st.call.queue(),
                result = ?st.call.result(),
                agent = ?st.call.agent().map(|a| a.as_str()),
                "call over"
            );

            // Stopped once the step is answered: the answer never waits for the media.
            st.closing = true;
        } else {
            st.timer.arm(
                myself,
                &self.ctx.wakeups,
                st.call.poll_timeout(),
                CallMsg::Timeout,
            );
        }
        Ok(())
    }

    /// After the step that ended the call was answered: lets the media actor take its last
    /// plan, complete the recording and close the legs (at most 5 s), then stops this actor
    /// (the media actor's supervisor).
    async fn close(&self, myself: &ActorRef<CallMsg>, st: &mut CallActorState) {
        if let Some(media) = st.media.take() {
            let _ = media
                .get_cell()
                .drain_and_wait(Some(std::time::Duration::from_secs(5)))
                .await;
        }
        myself.stop(None);
    }

    /// Commits, then carries out the step's effects (so that no agent or queue acts on a step
    /// that was not saved) and answers with the call once the agents told have taken it in
    /// ([`Answer`]; the queues told are read after it all the same). A store failure is answered and restarts the actor from the
    /// last saved state.
    async fn answer(
        &self,
        myself: &ActorRef<CallMsg>,
        st: &mut CallActorState,
        reply: CallReply,
        outcome: Result<Effects, ActorError>,
    ) -> Result<(), ActorProcessingErr> {
        let fx = match outcome {
            Ok(fx) => fx,
            Err(e) => {
                let _ = reply.send(Err(e));
                return Ok(());
            }
        };
        match self.commit(myself, st).await {
            Ok(()) => {
                // The agents this step concerns have taken it in before the caller hears back:
                // each notice holds a share of the answer, which goes once the last is handled
                // (or dropped). A client that reads an agent right after a hang-up sees her in
                // wrap-up, not a moment earlier. (A queue's notices are cast: see [`Answer`].)
                // This actor does not wait for them.
                let answer = Answer::new(reply, st.call.share());
                let settled = self
                    .settle(myself, st, fx, &mut Notices::acked(&answer))
                    .await;
                // A group transfer's next ring was committed too: the answer says so.
                answer.update(st.call.share());
                settled?;
                Ok(())
            }
            Err(e) => {
                let msg = e.to_string();
                let _ = reply.send(Err(e));
                Err(msg.into())
            }
        }
    }

    /// Carries out effects; a group transfer that needs its next members rings them (a step
    /// of its own, committed too).
    pub(crate) async fn settle(
        &self,
        myself: &ActorRef<CallMsg>,
        st: &mut CallActorState,
        fx: Effects,
        notices: &mut Notices,
    ) -> Result<(), ActorError> {
        let redial = fx.redial_group;
        self.carry_out(&st.call, fx, notices);
        if redial {
            // Boxed, as the rare large steps are (see `CallMsg::Media` below).
            let ring = Box::pin(self.redial_group(&st.call)).await;
            let timeout = self.ctx.setting(st.call.queue(), |s| s.offer_timeout);
            let fx = st.call.transfer_ring(self.ctx.clock.now(), ring, timeout);
            self.commit(myself, st).await?;
            self.carry_out(&st.call, fx, notices);
        }
        Ok(())
    }

    async fn accept(
        &self,
        st: &mut CallActorState,
        agent: &AgentId,
    ) -> Result<Effects, ActorError> {
        let rings = st.call.offered().contains(agent)
            || st.call.consult().is_some_and(|c| c.is_ringing(agent));
        if !rings {
            return Err(engine::Error::NotOffered(st.call.id().clone(), agent.clone()).into());
        }
        self.tell_answered(&st.call, agent).await?;
        let now = self.ctx.clock.now();
        let fx = st.call.accept(now, agent)?;
        if self.ctx.setting(st.call.queue(), |s| s.record) {
            st.call.start_recording_on_connect(now);
        }
        Ok(fx)
    }

    async fn remote_answered(&self, st: &mut CallActorState) -> Result<Effects, ActorError> {
        let agent = match (st.call.state(), st.call.agent()) {
            (CallState::Dialing, Some(a)) => a.clone(),
            (state, _) => {
                let state = state.as_str().into();
                return Err(engine::Error::CallState(
                    st.call.id().clone(),
                    state,
                    "be answered by the customer",
                )
                .into());
            }
        };
        // A callback's agent answered its own phone already; an outbound caller was Dialing.
        if st.call.kind() == engine::call::CallKind::Outbound {
            self.tell_answered(&st.call, &agent).await?;
        }
        let now = self.ctx.clock.now();
        st.call.remote_answered(now)?;
        if self.ctx.setting(st.call.queue(), |s| s.record) {
            st.call.start_recording_on_connect(now);
        }
        Ok(Effects::default())
    }

    async fn take(&self, st: &mut CallActorState, agent: &AgentId) -> Result<Effects, ActorError> {
        if st.call.state() != CallState::Waiting {
            let state = st.call.state().as_str().into();
            return Err(engine::Error::CallState(st.call.id().clone(), state, "be taken").into());
        }
        let r = self
            .ctx
            .agent(agent)
            .ok_or_else(|| ActorError::UnknownAgent(agent.to_string()))?;
        let (call, queue) = (st.call.id().clone(), st.call.queue().clone());
        ask(&r, "agent", |reply| AgentMsg::Take { call, queue, reply }).await??;
        let now = self.ctx.clock.now();
        st.call.take(now, agent)?;
        if self.ctx.setting(st.call.queue(), |s| s.record) {
            st.call.start_recording_on_connect(now);
        }
        Ok(Effects {
            leave_queue: Some(st.call.queue().clone()),
            ..Effects::default()
        })
    }

    async fn assign(
        &self,
        st: &mut CallActorState,
        agent: &AgentId,
    ) -> Result<Effects, ActorError> {
        if st.call.state() != CallState::Waiting {
            let state = st.call.state().as_str().into();
            return Err(
                engine::Error::CallState(st.call.id().clone(), state, "be assigned").into(),
            );
        }
        self.ctx
            .agent(agent)
            .ok_or_else(|| ActorError::UnknownAgent(agent.to_string()))?;
        if !self.reserve(&st.call, agent).await {
            return Err(engine::Error::Unavailable(agent.clone()).into());
        }
        let timeout = self.ctx.setting(st.call.queue(), |s| s.offer_timeout);
        st.call
            .offer(self.ctx.clock.now(), vec![agent.clone()], timeout)?;
        Ok(Effects {
            leave_queue: Some(st.call.queue().clone()),
            ..Effects::default()
        })
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
        let mut call = Shared::new(args.call);
        let published = call.journey().len();
        let now = self.ctx.clock.now();
        let mut fx = match args.recovered {
            Some(r) => call.recover(now, r == Recovery::ProcessRestart),
            None => Effects::default(),
        };
        // A call whose queue is gone from the configuration cannot be routed.
        if !call.state().is_final() && self.ctx.queue(call.queue()).is_none() {
            let why = format!("queue {} is not configured", call.queue());
            let failed = call.fail(now, why);
            fx.withdrawn.extend(failed.withdrawn);
            fx.wrap_up.extend(failed.wrap_up);
            fx.enqueue = None;
        }
        // A media actor of this call's previous incarnation went down with it (ractor stops a
        // failed supervisor's children); the parties' next offers start a new one.
        if let Some(stale) = self.ctx.media.get(call.id()) {
            stale.kill();
            self.ctx.media.forget(call.id(), stale.get_id());
        }
        let mut st = CallActorState {
            call,
            published,
            timer: Timer::default(),
            media: None,
            closing: false,
            creation: Creation::Durable,
            unpublished: None,
            now,
            reservations: Default::default(),
        };
        // Registered, and enqueued before the spawn returns: whoever created the call finds it
        // in its queue, and the queue finds the actor when it offers.
        let register = |st: &CallActorState| {
            self.ctx
                .children
                .insert(myself.get_id(), ChildKey::Call(st.call.id().clone()));
            if !st.call.state().is_final() {
                self.ctx.calls.insert(st.call.id().clone(), myself.clone());
            }
        };
        if args.recovered.is_none() {
            // A new call: its creator persists it before acknowledging; publish its first
            // steps once they are durable and the actor registered (whoever reacts to one on
            // another thread, a trunk's dialer to `call.dialed`, finds the actor).
            register(&st);
            self.publish_new(&myself, &mut st, args.saving);
            st.published = st.call.journey().len();
        }
        if st.published != st.call.journey().len() {
            if let Err(e) = self.commit(&myself, &mut st).await {
                // The spawn fails: nothing may find an actor that never started.
                self.ctx.children.remove(&myself.get_id());
                return Err(e.into());
            }
            if st.closing {
                // Over at its recovery (nothing to answer): stops at once.
                self.close(&myself, &mut st).await;
            }
        } else {
            st.timer.arm(
                &myself,
                &self.ctx.wakeups,
                st.call.poll_timeout(),
                CallMsg::Timeout,
            );
        }
        if args.recovered.is_some() {
            // A recovered call only once its recovery is saved and published: a queue that
            // found it sooner could offer it to an agent before the recovery's withdrawals
            // reach the agents, and the agent would take the stale withdrawal for the new
            // offer (a call ringing an agent who rings for another).
            register(&st);
        }
        if st.call.state() == CallState::Waiting && st.call.transfer().is_none() {
            fx.enqueue = Some(st.call.queue().clone());
        }
        self.carry_out(&st.call, fx, &mut Notices::cast());
        Ok(st)
    }

    /// The media actor is this actor's only child. If it fails, the call goes on without
    /// media (the parties' next offers start a new one); it never takes the call down.
    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<CallMsg>,
        event: SupervisionEvent,
        st: &mut CallActorState,
    ) -> Result<(), ActorProcessingErr> {
        let gone = match &event {
            SupervisionEvent::ActorFailed(who, err) => {
                tracing::error!(call = %st.call.id(), error = %err, "the call's media actor failed");
                Some(who.get_id())
            }
            SupervisionEvent::ActorTerminated(who, _, _) => Some(who.get_id()),
            _ => None,
        };
        if gone.is_some() && st.media.as_ref().map(|m| m.get_id()) == gone {
            if let Some(m) = st.media.take() {
                // A failed actor skipped its post_stop: take it out of the registry here.
                self.ctx.media.forget(st.call.id(), m.get_id());
            }
        }
        Ok(())
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
        // Boxed: a task's future is as large as its largest state, and every waiting call's
        // actor would otherwise hold room for the deepest handler while it sleeps.
        let outcome = match st.creation {
            Creation::Durable => Box::pin(self.handle_msg(myself.clone(), msg, st)).await,
            // A new call whose creation is being written (`call_creation`).
            _ => Box::pin(self.handle_new(&myself, msg, st)).await,
        };
        if st.closing {
            Box::pin(self.close(&myself, st)).await;
        }
        outcome
    }
}

impl CallActor {
    pub(crate) async fn handle_msg(
        &self,
        myself: ActorRef<CallMsg>,
        msg: CallMsg,
        st: &mut CallActorState,
    ) -> Result<(), ActorProcessingErr> {
        st.now = self.ctx.clock.now();
        let now = st.now;
        match msg {
            CallMsg::Offer {
                agents,
                queue,
                reservations,
                attempt,
            } => {
                self.offer(&myself, st, (agents, queue, attempt), reservations)
                    .await?
            }
            CallMsg::ReservationExpired {
                queue,
                agent,
                attempt,
            } => self.reservation_expired(st, queue, agent, attempt),
            CallMsg::Accept { agent, reply } => {
                let outcome = self.accept(st, &agent).await;
                self.answer(&myself, st, reply, outcome).await?;
            }
            CallMsg::Decline { agent, reply } => {
                let exclude_for = self.ctx.setting(st.call.queue(), |s| s.no_answer_delay);
                let outcome = st
                    .call
                    .decline(now, &agent, exclude_for)
                    .map_err(ActorError::from);
                self.answer(&myself, st, reply, outcome).await?;
            }
            CallMsg::WithdrawOffer { agent } => {
                let outcome = st
                    .call
                    .withdraw_offer(now, &agent)
                    .map_err(ActorError::from);
                let (tx, _) = tokio::sync::oneshot::channel();
                self.answer(&myself, st, tx.into(), outcome).await?;
            }
            CallMsg::Hangup { by, reply } => {
                let outcome = st.call.hangup(now, by).map_err(ActorError::from);
                self.answer(&myself, st, reply, outcome).await?;
            }
            CallMsg::CustomerMediaLost { reason } => {
                let outcome = st
                    .call
                    .customer_media_lost(now, reason)
                    .map_err(ActorError::from);
                if outcome.is_ok() {
                    tracing::info!(call = %st.call.id(), reason, "the customer is gone: hung up");
                }
                let (tx, _) = tokio::sync::oneshot::channel();
                self.answer(&myself, st, tx.into(), outcome).await?;
            }
            CallMsg::Take { agent, reply } => {
                let outcome = self.take(st, &agent).await;
                self.answer(&myself, st, reply, outcome).await?;
            }
            CallMsg::Assign { agent, reply } => {
                let outcome = self.assign(st, &agent).await;
                self.answer(&myself, st, reply, outcome).await?;
            }
            CallMsg::Control {
                agent,
                action,
                reply,
            } => {
                // Boxed: transfers, consults and conferences are a few a call at most, and
                // their future is the largest of the common steps (1.3 KiB).
                let outcome = Box::pin(self.control(st, &agent, action)).await;
                self.answer(&myself, st, reply, outcome).await?;
            }
            CallMsg::RemoteAnswered { reply } => {
                let outcome = self.remote_answered(st).await;
                self.answer(&myself, st, reply, outcome).await?;
            }
            CallMsg::RemoteRinging { reply } => {
                let outcome = st.call.remote_ringing(now).map(|()| Effects::default());
                self.answer(&myself, st, reply, outcome.map_err(Into::into))
                    .await?;
            }
            CallMsg::External { news, reply } => {
                let outcome = match news {
                    ExternalNews::Ringing => {
                        st.call.external_ringing(now).map(|()| Effects::default())
                    }
                    ExternalNews::Answered => st.call.external_answered(now),
                    ExternalNews::Over(why) => st.call.external_over(now, why),
                };
                self.answer(&myself, st, reply, outcome.map_err(Into::into))
                    .await?;
            }
            CallMsg::RemoteOver { why, reply } => {
                let outcome = st.call.remote_over(now, why).map_err(Into::into);
                self.answer(&myself, st, reply, outcome).await?;
            }
            CallMsg::WidenSkills { skills, reply } => {
                let outcome = st.call.widen_skills(now, skills);
                if outcome == Ok(true) {
                    self.ctx.tell_queue(
                        st.call.queue(),
                        QueueMsg::Requirements {
                            call: st.call.id().clone(),
                            skills: st.call.skills().clone(),
                        },
                    );
                }
                let outcome = outcome.map(|_| Effects::default()).map_err(Into::into);
                self.answer(&myself, st, reply, outcome).await?;
            }
            CallMsg::Overflow { to } => {
                if self.ctx.queue(&to).is_none() {
                    let fx = st
                        .call
                        .fail(now, format!("overflow queue {to} is not running"));
                    self.commit(&myself, st).await?;
                    self.carry_out(&st.call, fx, &mut Notices::cast());
                } else if st.call.overflow(now, to.clone()).is_ok() {
                    self.commit(&myself, st).await?;
                    self.ctx.tell_queue(
                        &to,
                        QueueMsg::Enqueue {
                            call: st.call.waiting_call(),
                        },
                    );
                }
            }
            CallMsg::Resync { agent } => {
                if !st.call.agents_involved().contains(&agent) {
                    self.ctx.tell_agent(
                        &agent,
                        AgentMsg::CallGone {
                            call: st.call.id().clone(),
                        },
                    );
                }
            }
            // Media is set up once or twice a call and its futures are the largest here
            // (2.9 KiB): boxed, so that every other message's step is not that large (a
            // step's future is moved whole when it is passed on; see `store::writer::hand_over`).
            CallMsg::Media { who, offer, reply } => {
                Box::pin(self.media(&myself, st, who, offer, reply)).await;
            }
            CallMsg::PlainMedia {
                who,
                sdp,
                bind,
                reply,
            } => {
                Box::pin(self.plain_media(&myself, st, who, sdp, bind, reply)).await;
            }
            CallMsg::Get { reply } => {
                let _ = reply.send(st.call.share());
            }
            CallMsg::Timeout(generation) => {
                if st.timer.fire(generation) {
                    let fx = st.call.handle_timeout(now);
                    self.commit(&myself, st).await?;
                    self.settle(&myself, st, fx, &mut Notices::cast()).await?;
                }
            }
            // Taken in by `handle` before this.
            CallMsg::Saved => {}
            #[cfg(test)]
            CallMsg::Panic => panic!("injected fault in call {}", st.call.id()),
        }
        Ok(())
    }
}
