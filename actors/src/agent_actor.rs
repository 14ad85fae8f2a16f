//! The agent actor: one per agent, owning its [`engine::agent::Agent`].
//!
//! Each message becomes an engine input stamped with now; the agent's status changes are then
//! persisted (snapshot and history, in one transaction) before anyone is answered, published
//! on the bus, and the new availability is sent to each of the agent's queues. One answer
//! comes sooner: a queue's `Reserve` is answered once the reservation is handed to the store's
//! writer, with its outcome to wait on (the call's offer, written after it, commits with it or
//! after it); the agent still publishes it, and takes her next message, once it committed.

use crate::call_actor::CallMsg;
use crate::context::{ChildKey, Context};
use crate::error::ActorError;
use crate::queue_actor::{QueueMsg, ReservationAnswer};
use crate::store::{HistoryTail, Saving};
use crate::timer::Timer;
use engine::agent::{Agent, Availability, Status};
use engine::{AgentId, CallId, QueueId, Timestamp};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// What the API shows of an agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AgentView {
    /// Id.
    pub id: AgentId,
    /// Display name.
    pub name: String,
    /// Current status.
    pub status: Status,
    /// When it began (ms since the epoch).
    pub since: Timestamp,
    /// The status a supervisor locked it in.
    pub locked: Option<Status>,
    /// The status it will take after its current call's wrap-up.
    pub post_call_status: Option<Status>,
    /// The call it is ringing for or on.
    pub call_id: Option<CallId>,
    /// Calls it put on hold to start another one.
    pub held_calls: Vec<CallId>,
    /// The call it is wrapping up (its data is still editable).
    pub wrap_up_call: Option<CallId>,
    /// Its queues.
    pub queues: Vec<QueueId>,
    /// Its skills.
    pub skills: engine::routing::Skills,
    /// Calls answered.
    pub calls_handled: u64,
}

/// Where an agent's answer to a reservation goes.
pub enum ReserveReply {
    /// To an ask (a call reserving a consult's agent).
    Ask(RpcReplyPort<Option<Saving>>),
    /// Cast back to the queue that dispatched it.
    Queue(ReservationAnswer),
}

impl ReserveReply {
    /// Whether nobody waits for the answer any more (an ask that gave up).
    fn is_closed(&self) -> bool {
        match self {
            ReserveReply::Ask(reply) => reply.is_closed(),
            ReserveReply::Queue(_) => false,
        }
    }

    /// Refuses: she is not available; a queue's refusal carries her `availability` (the queue
    /// counted her as offered since it reserved her).
    fn refuse(self, availability: Availability) {
        match self {
            ReserveReply::Ask(reply) => {
                let _ = reply.send(None);
            }
            ReserveReply::Queue(answer) => {
                answer.send(None, Some(availability));
            }
        }
    }

    /// Takes the reservation, its write handed to the store; a queue's answer carries her
    /// `availability` then, in place of the member update that would follow (a single agent's
    /// goes to the call as its offer: the queue counts her as offered already). `false` if
    /// nobody took the answer (an ask that gave up, a queue or a call that stopped).
    fn take(self, saving: Saving, availability: Availability) -> bool {
        match self {
            ReserveReply::Ask(reply) => reply.send(Some(saving)).is_ok(),
            ReserveReply::Queue(answer) => answer.send(Some(saving), Some(availability)),
        }
    }
}

/// Messages to an agent actor. Reply ports come last.
pub enum AgentMsg {
    /// The agent chooses a status and/or post-call status.
    SetStatus {
        /// New status.
        status: Option<Status>,
        /// Status for after the current call.
        post_call_status: Option<Status>,
        /// The ringing call the agent declines in the same step (then `status` is the one it
        /// goes to).
        declining: Option<CallId>,
        /// Answer.
        reply: RpcReplyPort<Result<AgentView, ActorError>>,
    },
    /// A supervisor locks the agent in a status.
    Lock {
        /// The status.
        status: Status,
        /// Answer.
        reply: RpcReplyPort<Result<AgentView, ActorError>>,
    },
    /// A supervisor lifts the lock.
    Unlock {
        /// Answer.
        reply: RpcReplyPort<Result<AgentView, ActorError>>,
    },
    /// The agent ends its wrap-up.
    EndWrapUp {
        /// Answer.
        reply: RpcReplyPort<Result<AgentView, ActorError>>,
    },
    /// A notice that holds its call step's answer back until it is handled: the step's client
    /// hears back once the agents it concerns have taken the step in.
    Acked {
        /// The notice.
        msg: Box<AgentMsg>,
        /// The step's answer, held back until the notice is handled.
        done: std::sync::Arc<crate::call_effects::Answer>,
    },
    /// The API reads the agent.
    Get {
        /// Answer.
        reply: RpcReplyPort<AgentView>,
    },
    /// A queue (or a call, for a consult) reserves the agent for an offer: `None` if it is not
    /// available, else the reservation's write, answered once handed to the store (not once
    /// committed: a write handed after it commits with it or after it).
    Reserve {
        /// The call.
        call: CallId,
        /// The queue offering it.
        queue: QueueId,
        /// Answer.
        reply: ReserveReply,
    },
    /// The agent takes a waiting call directly (unassigned work).
    Take {
        /// The call.
        call: CallId,
        /// Its queue.
        queue: QueueId,
        /// Answer.
        reply: RpcReplyPort<Result<(), ActorError>>,
    },
    /// The agent dials out.
    Dial {
        /// The new call.
        call: CallId,
        /// Its queue.
        queue: QueueId,
        /// Whether the agent's current call is on hold (checked by the caller with the call).
        current_held: bool,
        /// Answer.
        reply: RpcReplyPort<Result<(), ActorError>>,
    },
    /// The call actor reports the agent answered.
    Answered {
        /// The call.
        call: CallId,
        /// Answer.
        reply: RpcReplyPort<Result<(), ActorError>>,
    },
    /// The offer ended without this agent: back to Ready.
    OfferWithdrawn {
        /// The call.
        call: CallId,
    },
    /// The agent declined or let the offer ring out.
    OfferMissed {
        /// The call.
        call: CallId,
        /// The queue's no-answer delay.
        no_answer_delay: Duration,
    },
    /// The agent's call ended: wrap-up.
    CallEnded {
        /// The call.
        call: CallId,
        /// The queue's wrap-up limit.
        wrap_up_limit: Option<Duration>,
    },
    /// The agent leaves a call it was consulted on, without wrap-up.
    Released {
        /// The call.
        call: CallId,
    },
    /// The call the agent believed it was on is not (or no longer) its: release it.
    CallGone {
        /// The call.
        call: CallId,
    },
    /// Check with the call the agent holds that it still involves the agent (after a restart,
    /// or when a ringing lasted too long); released if not.
    CheckCall {
        /// Whether a ringing offer is checked too. Not at process start: the process's own
        /// recovery withdrew every offer from before the stop, so an offer ringing then was
        /// made since, and its call may not have taken it in yet (asked now, the call would
        /// answer "not involved" and the agent would drop an offer the call is about to show:
        /// a phantom). The ringing watchdog checks it later, once nothing can be in flight.
        ringing: bool,
    },
    /// The ringing watchdog.
    Watchdog(u64),
    /// Re-send availability to every queue (after a queue restarted).
    Republish,
    /// One of the agent's panels opened its event stream.
    PanelOpened,
    /// One of the agent's panels closed its event stream.
    PanelClosed,
    /// The presence grace period after the last panel closed ran out.
    PanelCheck(u64),
    /// The engine's wake-up.
    Timeout(u64),
    /// Fault injection for the supervision tests: the handler panics.
    #[cfg(test)]
    Panic,
    /// Fault injection: the handler is busy this long (a slow database, say), its mailbox
    /// unread.
    #[cfg(test)]
    Stall(Duration),
}

/// What a commit handed to the store: the changes to publish once it is durable.
struct Handed {
    changes: Vec<engine::agent::StatusChange>,
    /// None when nothing was written.
    saving: Option<Saving>,
    /// The queue told her availability with her answer to its reservation: not told it again.
    told: Option<QueueId>,
}

/// The agent actor.
pub(crate) struct AgentActor {
    pub ctx: Arc<Context>,
}

pub(crate) struct AgentState {
    agent: Agent,
    timer: Timer,
    /// Set when this actor replaces one that failed: its call must be checked.
    resync: bool,
    /// Where the status history stands: its changes not yet saved, saved with every change.
    history: HistoryTail,
    /// Fires a [`AgentMsg::CheckCall`] when a ringing outlasts any offer.
    watchdog: Timer,
    /// Fires a [`AgentMsg::PanelCheck`] a grace period after the last panel went.
    presence: Timer,
    /// The queues she is a member of (her configuration's), told her availability.
    queues: Vec<QueueId>,
    /// The availability last told to them: a change they would not see is not told
    /// ([`engine::queue::seen_by_queues`]).
    told: Option<Availability>,
    /// When the message being handled came in: its steps' time, and its saves'.
    now: Timestamp,
}

/// How much longer than its offer timeout a ringing may last before the agent checks.
const WATCHDOG_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Start-up: the agent's persisted state, if any.
pub(crate) struct AgentArgs {
    pub id: AgentId,
    pub saved: Option<Agent>,
    pub process_restarted: bool,
}

impl AgentActor {
    /// Tells a call that this agent no longer rings for it: it stepped away, or it declined.
    /// The offer ends at once. A call that has gone meanwhile needs nothing.
    fn withdraw_from(&self, agent: &AgentId, call: &CallId, declined: bool) {
        let Some(r) = self.ctx.call(call) else {
            return;
        };
        let agent = agent.clone();
        let _ = if declined {
            let (tx, _) = tokio::sync::oneshot::channel();
            r.cast(CallMsg::Decline {
                agent,
                reply: tx.into(),
            })
        } else {
            r.cast(CallMsg::WithdrawOffer { agent })
        };
    }

    fn view(&self, a: &Agent) -> AgentView {
        let conf = self.ctx.config.agent(a.id().as_str());
        AgentView {
            id: a.id().clone(),
            name: conf
                .and_then(|c| c.name.clone())
                .unwrap_or_else(|| a.id().to_string()),
            status: a.status().clone(),
            since: a.since(),
            locked: a.lock().cloned(),
            post_call_status: a.post_call_status().cloned(),
            call_id: a.call().map(|c| c.call.clone()),
            wrap_up_call: a.wrap_up_call().cloned(),
            held_calls: a.parked().iter().map(|c| c.call.clone()).collect(),
            queues: conf
                .map(|c| c.queues.iter().map(|q| QueueId::from(q.as_str())).collect())
                .unwrap_or_default(),
            skills: conf.map(|c| c.skills.clone()).unwrap_or_default(),
            calls_handled: a.calls_handled(),
        }
    }

    /// Persists, publishes and propagates whatever changed; re-arms the timer.
    async fn commit(
        &self,
        myself: &ActorRef<AgentMsg>,
        st: &mut AgentState,
        force: bool,
    ) -> Result<(), ActorError> {
        let handed = self.hand_over(st, force).await?;
        self.committed(myself, st, handed).await
    }

    /// The first half of [`AgentActor::commit`]: what changed is handed to the store, which
    /// commits writes in the order it is handed them.
    async fn hand_over(&self, st: &mut AgentState, force: bool) -> Result<Handed, ActorError> {
        let changes: Vec<_> = std::iter::from_fn(|| st.agent.poll_change()).collect();
        let saving = if force || !changes.is_empty() {
            st.history.extend(changes.iter().cloned());
            Some(
                self.ctx
                    .store
                    .submit_agent(&st.agent, &st.history, st.now.0)
                    .await?,
            )
        } else {
            None
        };
        Ok(Handed {
            changes,
            saving,
            told: None,
        })
    }

    /// The second half of [`AgentActor::commit`]: once the changes are durable, publishes and
    /// propagates them; re-arms the timers.
    async fn committed(
        &self,
        myself: &ActorRef<AgentMsg>,
        st: &mut AgentState,
        Handed {
            changes,
            saving,
            told,
        }: Handed,
    ) -> Result<(), ActorError> {
        if let Some(saving) = saving {
            saving.outcome().await?;
            st.history.saved();
        }
        if !changes.is_empty() {
            let locked = st.agent.lock().map(|s| s.to_string());
            for c in changes {
                self.ctx.bus.publish_status(c, locked.clone());
            }
            self.publish_availability(st, false, told.as_ref());
        }
        st.timer.arm(
            myself,
            &self.ctx.wakeups,
            st.agent.poll_timeout().map(|(t, _)| t),
            AgentMsg::Timeout,
        );
        self.watch(myself, st);
        Ok(())
    }

    /// When a ringing agent checks with its call: if the ringing lasts longer than any offer
    /// could, the message that would have ended it may have been lost (the call actor stopped
    /// or restarted in between, an ask timed out). None if she does not ring.
    fn ringing_check_at(&self, st: &AgentState) -> Option<Timestamp> {
        let ringing = st.agent.call().filter(|c| c.answered_at.is_none())?;
        let offer_timeout = self.ctx.setting(&ringing.queue, |s| s.offer_timeout);
        Some(st.agent.since() + offer_timeout + WATCHDOG_GRACE)
    }

    /// Makes sure the ringing watchdog wakes her by her check. A wake-up pending sooner is kept
    /// ([`Timer::arm_by`]), also once she stops ringing: she rings once a call, and arming a
    /// wake-up at each ring and dropping it at each answer were two changes of the engine's
    /// map of wake-ups a routed call. Woken before her check, she arms it again.
    fn watch(&self, myself: &ActorRef<AgentMsg>, st: &mut AgentState) {
        let at = self.ringing_check_at(st);
        st.watchdog
            .arm_by(myself, &self.ctx.wakeups, at, AgentMsg::Watchdog);
    }

    /// Arms the presence check a grace period from now.
    fn panel_grace(&self, myself: &ActorRef<AgentMsg>, st: &mut AgentState) {
        let at = self.ctx.clock.now() + self.ctx.config.presence.grace();
        st.presence
            .arm(myself, &self.ctx.wakeups, Some(at), AgentMsg::PanelCheck);
    }

    /// Tells her queues her availability, if they would see the change (`always`: a queue
    /// that restarted asks for it), but the queue already `told` it.
    fn publish_availability(&self, st: &mut AgentState, always: bool, told: Option<&QueueId>) {
        let now = st.agent.availability();
        if !always
            && (st.told.as_ref()).is_some_and(|told| !engine::queue::seen_by_queues(told, &now))
        {
            return;
        }
        for q in st.queues.iter().filter(|q| Some(*q) != told) {
            let update = QueueMsg::MemberUpdate {
                agent: st.agent.id().clone(),
                availability: now.clone(),
            };
            self.ctx.tell_queue(q, update);
        }
        st.told = Some(now);
    }

    /// Applies a fallible input, persists, and answers. A store failure is answered, then
    /// kills the actor so that it restarts from the last saved state.
    async fn apply<T>(
        &self,
        myself: &ActorRef<AgentMsg>,
        st: &mut AgentState,
        reply: RpcReplyPort<Result<T, ActorError>>,
        f: impl FnOnce(&mut Agent, Timestamp, &[String]) -> Result<(), engine::Error>,
        view: impl FnOnce(&Self, &Agent) -> T,
    ) -> Result<(), ActorProcessingErr> {
        if let Err(e) = f(&mut st.agent, st.now, &self.ctx.config.custom_statuses) {
            let _ = reply.send(Err(e.into()));
            return Ok(());
        }
        match self.commit(myself, st, true).await {
            Ok(()) => {
                let _ = reply.send(Ok(view(self, &st.agent)));
                Ok(())
            }
            Err(e) => {
                let msg = e.to_string();
                let _ = reply.send(Err(e));
                Err(msg.into())
            }
        }
    }
}

impl Actor for AgentActor {
    type Msg = AgentMsg;
    type State = AgentState;
    type Arguments = AgentArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<AgentMsg>,
        args: AgentArgs,
    ) -> Result<AgentState, ActorProcessingErr> {
        let now = self.ctx.clock.now();
        let resync = args.saved.is_some() && !args.process_restarted;
        let mut agent = args
            .saved
            .unwrap_or_else(|| Agent::new(args.id.clone(), now));
        if args.process_restarted {
            agent.recover(now);
        }
        let mut st = AgentState {
            agent,
            timer: Timer::default(),
            resync,
            watchdog: Timer::default(),
            presence: Timer::default(),
            history: self.ctx.store.history_tail(&args.id).await?,
            queues: (self.ctx.config.agent(args.id.as_str()).into_iter())
                .flat_map(|conf| conf.queues.iter().map(|q| QueueId::from(q.as_str())))
                .collect(),
            told: None,
            now,
        };
        self.commit(&myself, &mut st, true).await?;
        if st.agent.uses_panel() && self.ctx.panels_open(&args.id) == 0 {
            // Panels reconnect after a restart (of the process or of this actor); one that
            // does not within the grace period has gone.
            self.panel_grace(&myself, &mut st);
        }
        self.ctx
            .children
            .insert(myself.get_id(), ChildKey::Agent(args.id));
        Ok(st)
    }

    async fn post_start(
        &self,
        myself: ActorRef<AgentMsg>,
        st: &mut AgentState,
    ) -> Result<(), ActorProcessingErr> {
        self.publish_availability(st, true, None);
        // This actor replaces one that failed: the call may have moved on meanwhile. Ask it,
        // or release it if it is gone.
        if st.resync {
            let _ = myself.cast(AgentMsg::CheckCall { ringing: true });
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<AgentMsg>,
        st: &mut AgentState,
    ) -> Result<(), ActorProcessingErr> {
        st.timer.cancel();
        st.watchdog.cancel();
        st.presence.cancel();
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<AgentMsg>,
        msg: AgentMsg,
        st: &mut AgentState,
    ) -> Result<(), ActorProcessingErr> {
        // An acked notice is the notice; its share of the step's answer is let go once it is
        // handled (notices are wrapped once).
        let (msg, done) = match msg {
            AgentMsg::Acked { msg, done } => (*msg, Some(done)),
            msg => (msg, None),
        };
        self.step(myself, msg, st).await?;
        drop(done);
        Ok(())
    }
}

impl AgentActor {
    /// Handles one message (an acked notice arrives unwrapped: see `handle`).
    async fn step(
        &self,
        myself: ActorRef<AgentMsg>,
        msg: AgentMsg,
        st: &mut AgentState,
    ) -> Result<(), ActorProcessingErr> {
        st.now = self.ctx.clock.now();
        let now = st.now;
        match msg {
            AgentMsg::SetStatus {
                status,
                post_call_status,
                declining,
                reply,
            } => {
                let mut left = None;
                let mut declined = false;
                self.apply(
                    &myself,
                    st,
                    reply,
                    |a, now, custom| {
                        match (&declining, status) {
                            (Some(call), Some(status)) => {
                                a.decline_into(now, call, status, custom)?;
                                declined = true;
                            }
                            (_, status) => {
                                left = a.set_status(now, status, post_call_status, custom)?;
                            }
                        }
                        Ok(())
                    },
                    Self::view,
                )
                .await?;
                // Saved in its new status: the call it rang for moves on at once.
                let agent = st.agent.id();
                match (left, declining) {
                    (Some(call), _) => self.withdraw_from(agent, &call, false),
                    (None, Some(call)) if declined => self.withdraw_from(agent, &call, true),
                    _ => {}
                }
            }
            AgentMsg::Lock { status, reply } => {
                self.apply(
                    &myself,
                    st,
                    reply,
                    |a, now, custom| a.lock_in(now, status, custom),
                    Self::view,
                )
                .await?
            }
            AgentMsg::Unlock { reply } => {
                self.apply(
                    &myself,
                    st,
                    reply,
                    |a, _, _| {
                        a.unlock();
                        Ok(())
                    },
                    Self::view,
                )
                .await?
            }
            AgentMsg::EndWrapUp { reply } => {
                self.apply(
                    &myself,
                    st,
                    reply,
                    |a, now, _| a.end_wrap_up(now),
                    Self::view,
                )
                .await?
            }
            // Unwrapped by `handle`.
            AgentMsg::Acked { .. } => {}
            AgentMsg::Get { reply } => {
                let _ = reply.send(self.view(&st.agent));
            }
            AgentMsg::Reserve { call, queue, reply } => {
                if reply.is_closed() {
                    // The queue stopped waiting and counted this agent as refused.
                    return Ok(());
                }
                let by_queue = matches!(reply, ReserveReply::Queue(_)).then(|| queue.clone());
                if st.agent.offer(now, call.clone(), queue).is_err() {
                    reply.refuse(st.agent.availability());
                    return Ok(());
                }
                // Answered as soon as the reservation is handed to the store: the call's
                // offer, written after it, commits with it or after it, and the call withdraws
                // the offer from her if her reservation failed (her actor restarts then).
                let mut handed = self.hand_over(st, false).await?;
                let saving = handed.saving.clone().unwrap_or_default();
                let taken = reply.take(saving, st.agent.availability());
                handed.told = by_queue.filter(|_| taken);
                self.committed(&myself, st, handed).await?;
                // Nobody takes the answer (an ask gave up, the queue or the call stopped): the
                // call is never offered here, so the reservation is withdrawn rather than left
                // ringing. (A queue, or a call, that gave up on her takes the answer as stale
                // and releases her.)
                if !taken && st.agent.offer_withdrawn(now, &call).is_ok() {
                    self.commit(&myself, st, false).await?;
                }
            }
            AgentMsg::Take { call, queue, reply } => {
                self.apply(
                    &myself,
                    st,
                    reply,
                    |a, now, _| a.take(now, call, queue),
                    |_, _| (),
                )
                .await?
            }
            AgentMsg::Dial {
                call,
                queue,
                current_held,
                reply,
            } => {
                self.apply(
                    &myself,
                    st,
                    reply,
                    |a, now, _| a.dial(now, call, queue, current_held),
                    |_, _| (),
                )
                .await?
            }
            AgentMsg::Answered { call, reply } => {
                self.apply(
                    &myself,
                    st,
                    reply,
                    |a, now, _| a.answered(now, &call),
                    |_, _| (),
                )
                .await?
            }
            AgentMsg::OfferWithdrawn { call } => {
                if st.agent.offer_withdrawn(now, &call).is_ok() {
                    self.commit(&myself, st, false).await?;
                }
            }
            AgentMsg::OfferMissed {
                call,
                no_answer_delay,
            } => {
                if st.agent.offer_missed(now, &call, no_answer_delay).is_ok() {
                    self.commit(&myself, st, false).await?;
                }
            }
            AgentMsg::CallEnded {
                call,
                wrap_up_limit,
            } => {
                if st.agent.call_ended(now, &call, wrap_up_limit).is_ok() {
                    self.commit(&myself, st, false).await?;
                }
            }
            AgentMsg::Released { call } => {
                if st.agent.released(now, &call).is_ok() {
                    self.commit(&myself, st, false).await?;
                }
            }
            AgentMsg::CheckCall { ringing } => {
                let skip = !ringing && st.agent.status() == &Status::Offered;
                if let Some(c) = st.agent.call().filter(|_| !skip) {
                    let call = c.call.clone();
                    match self.ctx.call(&call) {
                        Some(r) => {
                            let _ = r.cast(CallMsg::Resync {
                                agent: st.agent.id().clone(),
                            });
                        }
                        None => {
                            let _ = myself.cast(AgentMsg::CallGone { call });
                        }
                    }
                }
            }
            AgentMsg::Watchdog(generation) => {
                if st.watchdog.fire(generation) {
                    match self.ringing_check_at(st) {
                        Some(at) if at <= now => {
                            let _ = myself.cast(AgentMsg::CheckCall { ringing: true });
                        }
                        // Woken early (kept from an earlier ring), or not ringing: not yet.
                        _ => self.watch(&myself, st),
                    }
                }
            }
            AgentMsg::CallGone { call } => {
                let limit = st
                    .agent
                    .call()
                    .and_then(|c| self.ctx.setting(&c.queue, |s| s.wrap_up_limit));
                if st.agent.call_ended(now, &call, limit).is_ok() {
                    self.commit(&myself, st, false).await?;
                }
            }
            AgentMsg::Republish => self.publish_availability(st, true, None),
            AgentMsg::PanelOpened => {
                st.presence.cancel();
                if !st.agent.uses_panel() || st.agent.is_panel_gone() {
                    st.agent.panel_back(now);
                    self.commit(&myself, st, true).await?;
                }
            }
            AgentMsg::PanelClosed => {
                if self.ctx.panels_open(st.agent.id()) == 0 {
                    self.panel_grace(&myself, st);
                }
            }
            AgentMsg::PanelCheck(generation) => {
                if st.presence.fire(generation)
                    && self.ctx.panels_open(st.agent.id()) == 0
                    && !st.agent.is_panel_gone()
                {
                    let ringing = st.agent.panel_gone(now);
                    self.commit(&myself, st, true).await?;
                    if let Some(call) = ringing {
                        // The offer moves on at once: declined on the agent's behalf (the
                        // agent comes back through OfferWithdrawn, into Disconnected).
                        self.withdraw_from(st.agent.id(), &call, true);
                    }
                }
            }
            #[cfg(test)]
            AgentMsg::Panic => panic!("injected fault in agent {}", st.agent.id()),
            #[cfg(test)]
            AgentMsg::Stall(busy) => tokio::time::sleep(busy).await,
            AgentMsg::Timeout(generation) => {
                if st.timer.fire(generation) {
                    st.agent.handle_timeout(now);
                    self.commit(&myself, st, false).await?;
                }
            }
        }
        Ok(())
    }
}
