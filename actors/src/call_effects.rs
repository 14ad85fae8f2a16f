//! What a call's steps mean for the others: the agents and queues a step's [`Effects`] name
//! are told ([`CallActor::carry_out`]), the call's synchronous asks of agents (a
//! reservation, an answer), the one direction such asks go, and a queue's offer taken in
//! ([`CallActor::offer`]), with a single agent's reservation that lapsed at its queue
//! ([`CallActor::reservation_expired`]).

use crate::agent_actor::{AgentMsg, ReserveReply};
use crate::call_actor::{CallActor, CallActorState, CallMsg, CallReply};
use crate::context::ask;
use crate::error::ActorError;
use crate::queue_actor::QueueMsg;
use crate::store::Saving;
use engine::call::{Call, CallState, Effects};
use engine::queue::OfferEnd;
use engine::{AgentId, CallId, QueueId};
use ractor::ActorRef;
use std::sync::{Arc, Mutex};

/// A step's answer to its client, sent once every agent the step told has taken it in: each
/// acked notice carries a share of it, and the last share let go sends it (the notice handled,
/// or dropped with a failed actor's mailbox: the step is saved either way, so the answer is the
/// saved call). The call actor moves on meanwhile: no timer, no wait.
///
/// A queue's notices are cast, not acked: a queue saves nothing, and everything read of it
/// (its counters, its waiting calls, a consult's candidates) is an ask that enters its mailbox
/// behind the notice, cast before the answer was sent, so a client's read after the answer
/// finds the step taken in all the same. Holding the answer for a queue's mailbox too slowed
/// the agents' whole cycle (the answering machine of `cargo bench -p actors` routed 9 % fewer
/// calls a second, five runs in turn).
pub(crate) struct Answer {
    reply: Mutex<Option<(CallReply, Arc<Call>)>>,
}

impl Answer {
    /// The answer `call` to `reply`, once every share is let go.
    pub(crate) fn new(reply: CallReply, call: Arc<Call>) -> Arc<Answer> {
        Arc::new(Answer {
            reply: Mutex::new(Some((reply, call))),
        })
    }

    /// The call to answer with, if a later commit of the same step changed it.
    pub(crate) fn update(&self, call: Arc<Call>) {
        if let Some((_, c)) = lock(&self.reply).as_mut() {
            *c = call;
        }
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        let reply = self.reply.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some((reply, call)) = reply.take() {
            let _ = reply.send(Ok(call));
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How [`CallActor::carry_out`] delivers a step's notices to agents: cast, or each carrying a
/// share of the step's [`Answer`] (a queue's are always cast).
pub(crate) struct Notices {
    answer: Option<Arc<Answer>>,
}

impl Notices {
    /// Notices cast: nobody waits for them.
    pub(crate) fn cast() -> Self {
        Self { answer: None }
    }

    /// Notices that hold `answer` back until they are handled.
    pub(crate) fn acked(answer: &Arc<Answer>) -> Self {
        Self {
            answer: Some(answer.clone()),
        }
    }

    /// Sends a notice; `wrap` makes the message that carries it with its share of the answer.
    fn send<M: ractor::Message>(
        &mut self,
        to: Option<ActorRef<M>>,
        msg: M,
        wrap: impl FnOnce(M, Arc<Answer>) -> M,
    ) {
        let Some(to) = to else { return };
        let _ = match &self.answer {
            None => to.cast(msg),
            Some(answer) => to.cast(wrap(msg, answer.clone())),
        };
    }
}

impl CallActor {
    /// A queue's offer of the call to `agents`: rung once saved (then the reservations are
    /// checked), or, if stale, the agents released.
    pub(crate) async fn offer(
        &self,
        myself: &ActorRef<CallMsg>,
        st: &mut CallActorState,
        (agents, queue, attempt): (Vec<AgentId>, QueueId, u64),
        reservations: Vec<(AgentId, Saving)>,
    ) -> Result<(), ActorError> {
        if st.reservations.refused(&queue, attempt) {
            // Her reservation lapsed, and the call refused it for her: the queue has moved on.
            self.withdraw(st.call.id(), agents);
            return Ok(());
        }
        let now = st.now;
        let timeout = self.ctx.setting(&queue, |s| s.offer_timeout);
        let current = queue == *st.call.queue();
        if !current || st.call.offer(now, agents.clone(), timeout).is_err() {
            // Stale: the call moved on (taken, assigned, transferred, ended) since the queue
            // chose; the agents it does not ring already are released.
            self.withdraw(st.call.id(), st.call.stale_offer_release(agents));
            if st.call.state() != CallState::Waiting || queue != *st.call.queue() {
                let call = st.call.id().clone();
                self.ctx.tell_queue(&queue, QueueMsg::Remove { call });
            }
            return Ok(());
        }
        st.reservations.rung(queue, attempt);
        self.commit(myself, st).await?;
        self.check_reservations(myself, reservations).await;
        Ok(())
    }

    /// A single agent's reservation lapsed at its queue ([`CallMsg::ReservationExpired`]):
    /// unless the call rang her for it (the queue then hears of the offer when it ends), the
    /// call refuses it for her, and an offer of it coming later is stale (the engine's
    /// [`engine::queue::CallReservations`]).
    pub(crate) fn reservation_expired(
        &self,
        st: &mut CallActorState,
        queue: QueueId,
        agent: AgentId,
        attempt: u64,
    ) {
        if !st.reservations.lapsed(&queue, attempt) {
            return;
        }
        tracing::warn!(call = %st.call.id(), %agent, "no offer from a reservation in time: refused for her");
        self.ctx.tell_queue(
            &queue,
            QueueMsg::Reserved {
                call: st.call.id().clone(),
                attempt,
                agent,
                saving: None,
                availability: None,
            },
        );
    }

    /// Once an offer committed: an agent whose reservation (handed to the store before the
    /// offer) failed is withdrawn from it; she restarted from her last saved state, not
    /// ringing.
    async fn check_reservations(
        &self,
        myself: &ActorRef<CallMsg>,
        reservations: Vec<(AgentId, Saving)>,
    ) {
        for (agent, saving) in reservations {
            if let Err(e) = saving.outcome().await {
                tracing::warn!(agent = %agent, error = %e, "a reservation was not saved: withdrawn from the offer");
                let _ = myself.cast(CallMsg::WithdrawOffer { agent });
            }
        }
    }

    /// Tells `agents` that the offer of `call` ended without them.
    pub(crate) fn withdraw(&self, call: &CallId, agents: impl IntoIterator<Item = AgentId>) {
        for a in agents {
            let call = call.clone();
            self.ctx.tell_agent(&a, AgentMsg::OfferWithdrawn { call });
        }
    }

    /// Tells agents and queues what a step means for them.
    pub(crate) fn carry_out(&self, call: &Call, fx: Effects, notices: &mut Notices) {
        let (no_answer_delay, default_wrap_up) = self
            .ctx
            .setting(call.queue(), |s| (s.no_answer_delay, s.wrap_up_limit));
        let id = call.id();
        let mut tell_agent = |a: &AgentId, msg| {
            let wrap = |msg, done| AgentMsg::Acked {
                msg: Box::new(msg),
                done,
            };
            notices.send(self.ctx.agent(a), msg, wrap);
        };
        for a in fx.withdrawn {
            tell_agent(&a, AgentMsg::OfferWithdrawn { call: id.clone() });
        }
        for a in fx.missed {
            let msg = AgentMsg::OfferMissed {
                call: id.clone(),
                no_answer_delay,
            };
            tell_agent(&a, msg);
        }
        let wrap_up_limit = match &fx.wrap_up_in {
            Some(q) => self.ctx.setting(q, |s| s.wrap_up_limit),
            None => default_wrap_up,
        };
        for a in fx.wrap_up {
            let msg = AgentMsg::CallEnded {
                call: id.clone(),
                wrap_up_limit,
            };
            tell_agent(&a, msg);
        }
        for a in fx.released {
            tell_agent(&a, AgentMsg::Released { call: id.clone() });
        }
        // Cast: see [`Answer`].
        let tell_queue = |q: &QueueId, msg| self.ctx.tell_queue(q, msg);
        if let Some(q) = fx.leave_queue {
            tell_queue(&q, QueueMsg::Remove { call: id.clone() });
        }
        if let Some(q) = fx.queue_answered {
            let msg = QueueMsg::OfferEnded {
                call: call.waiting_call(),
                end: OfferEnd::Answered,
            };
            tell_queue(&q, msg);
        }
        if let Some(q) = fx.enqueue {
            // Back to its place in line (or first entry, after a transfer): `enqueued_at` decides.
            let msg = QueueMsg::OfferEnded {
                call: call.waiting_call(),
                end: OfferEnd::Missed,
            };
            tell_queue(&q, msg);
        }
    }

    /// Reserves an agent for this call; `false` if it is not available (or unknown).
    pub(crate) async fn reserve(&self, call: &Call, agent: &AgentId) -> bool {
        let Some(r) = self.ctx.agent(agent) else {
            return false;
        };
        let (call, queue) = (call.id().clone(), call.queue().clone());
        let saving = ask(&r, "agent", |reply| AgentMsg::Reserve {
            call,
            queue,
            reply: ReserveReply::Ask(reply),
        })
        .await;
        // Reserved once the reservation is durable.
        match saving {
            Ok(Some(saving)) => saving.outcome().await.is_ok(),
            _ => false,
        }
    }

    pub(crate) async fn tell_answered(
        &self,
        call: &Call,
        agent: &AgentId,
    ) -> Result<(), ActorError> {
        let r = self
            .ctx
            .agent(agent)
            .ok_or_else(|| ActorError::UnknownAgent(agent.to_string()))?;
        let call = call.id().clone();
        ask(&r, "agent", |reply| AgentMsg::Answered { call, reply }).await?
    }
}
