//! [`Switchyard`]: the running engine and its public API — start it from a configuration and
//! a store, then create calls, change statuses, answer, hang up; read calls, agents, queues;
//! subscribe to events. The web layer only translates HTTP into these calls.

use crate::agent_actor::{AgentActor, AgentArgs, AgentMsg, AgentView};
use crate::call_actor::{CallActor, CallArgs, CallMsg, Recovery};
use crate::clock::Clock;
use crate::config::Config;
use crate::context::{ask, read, write, Context};
use crate::error::ActorError;
use crate::events::{Event, EventBus};
use crate::queue_actor::{QueueActor, QueueMsg};
use crate::store::Store;
use crate::supervisor::Supervisor;
use engine::agent::{Status, StatusChange};
use engine::call::{Call, CallState, Party};
use engine::queue::{Counters, WaitingCall};
use engine::{AgentId, CallId, QueueId, Timestamp};
use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use serde::Serialize;
use std::sync::Arc;
use tokio::sync::broadcast;

#[path = "switchyard_create.rs"]
mod create;
#[path = "switchyard_watch.rs"]
mod watch;
#[path = "switchyard_work.rs"]
mod work;
pub use work::{MediaTotals, QueueTranscript, StoredTranscript, TranscriptionStatus};

/// How many call supervisors share the call actors.
const CALL_SHARDS: usize = 16;

/// A queue with its live counters.
#[derive(Clone, Debug, Serialize)]
pub struct QueueView {
    /// Id.
    pub id: QueueId,
    /// Display name.
    pub name: String,
    /// Colour.
    pub colour: String,
    /// Strategy.
    pub strategy: engine::routing::StrategyName,
    /// How long an offer rings before it moves on (the panel's countdown).
    pub offer_timeout_secs: u64,
    /// Customers may call it from the web call page.
    pub web_calls: bool,
    /// The service-level threshold: answered within this many seconds counts as in time.
    pub service_level_secs: u64,
    /// The share of answered calls answered in time (`null` before the first answer).
    pub service_level: Option<f64>,
    /// Live counters.
    #[serde(flatten)]
    pub counters: Counters,
}

/// A call nobody is ringing for (B5).
#[derive(Clone, Debug, Serialize)]
pub struct UnassignedCall {
    /// The call.
    pub call_id: CallId,
    /// Its queue.
    pub queue: QueueId,
    /// Its priority.
    pub priority: i32,
    /// When it entered the queue.
    pub enqueued_at: Timestamp,
}

/// Sort order of the unassigned list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    /// Newest first.
    Newest,
    /// Oldest first.
    Oldest,
}

/// Tuning for [`Switchyard::start_with`].
#[derive(Clone, Debug)]
pub struct StartOptions {
    /// Events kept for slow subscribers before they miss some (default 8192).
    pub event_buffer: usize,
    /// Events the store's event log keeps for clients that resume a stream (default
    /// 100,000; older ones are trimmed, and a client resuming from before them reloads).
    pub events_kept: u64,
    /// Where call recordings are written (`<call id>.wav`); none: no recording files.
    pub recordings_dir: Option<std::path::PathBuf>,
    /// The clock to run on (default: a new one anchored at the wall clock). Tests that stop
    /// and restart an engine on paused time pass the first engine's clock to the second.
    pub clock: Option<Clock>,
    /// A transcription service to run instead of the configuration's model (tests: a
    /// stand-in decoder); none: the configured whisper model, if any.
    pub transcription: Option<crate::media::transcript::Transcription>,
    /// Routing strategies the configuration may name besides the built-in ones.
    pub strategies: crate::strategies::Strategies,
    /// Custom actors to start beside the built-in ones ([`crate::extensions`]).
    pub extensions: Vec<crate::extensions::Extension>,
}

impl Default for StartOptions {
    fn default() -> Self {
        StartOptions {
            event_buffer: 8192,
            events_kept: 100_000,
            recordings_dir: None,
            clock: None,
            transcription: None,
            strategies: Default::default(),
            extensions: Vec::new(),
        }
    }
}

/// The running engine.
#[derive(Clone)]
pub struct Switchyard {
    ctx: Arc<Context>,
    root: ActorRef<RootMsg>,
    callbacks: Arc<tokio::sync::Mutex<()>>,
    /// Serialises edits of ended calls' data (read, change, save and queue the next log
    /// version: two at once would lose one and collide on the version).
    data_edits: Arc<tokio::sync::Mutex<()>>,
    scheduler: Arc<std::sync::OnceLock<ActorRef<crate::scheduler::SchedulerMsg>>>,
    /// The custom actors' supervisor, if any.
    extensions: Arc<std::sync::OnceLock<ActorRef<()>>>,
}

impl Switchyard {
    /// Starts every actor: agents and queues from the configuration, then every call that had
    /// not ended when the process last stopped (ringing offers are lost with the process: those
    /// calls go back to waiting).
    pub async fn start(config: Config, store: Store) -> Result<Switchyard, ActorError> {
        Self::start_with(config, store, StartOptions::default()).await
    }

    /// [`Switchyard::start`] with tuning options.
    pub async fn start_with(
        config: Config,
        store: Store,
        options: StartOptions,
    ) -> Result<Switchyard, ActorError> {
        for q in &config.queues {
            if let engine::routing::StrategyName::Custom(name) = &q.strategy {
                if options.strategies.get(name).is_none() {
                    return Err(ActorError::Config(format!(
                        "queue {}: strategy {name:?} is neither built in ({}) nor registered",
                        q.id,
                        engine::routing::Strategy::ALL.map(|s| s.name()).join(", ")
                    )));
                }
            }
        }
        let clock = options.clock.unwrap_or_default();
        store
            .save_config(
                &serde_json::to_string(&config.without_secrets()).expect("config serializes"),
                clock.now().0,
            )
            .await?;
        let bus =
            EventBus::durable(options.event_buffer, store.clone(), options.events_kept).await?;
        let transcriber = match options.transcription {
            Some(t) => Some(t),
            None => transcription::service::Transcriber::start(&config.transcription)
                .map_err(|e| ActorError::Media(format!("transcription: {e}")))?
                .map(|t| {
                    let model = t
                        .model_path()
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    crate::media::transcript::Transcription::new(t, model)
                }),
        };
        // Calls whose legs may still store finals: their CRM logs wait for them.
        let flushing = crate::media::transcript::Flushing::default();
        let outbox = (!config.cti.connectors.is_empty() || !config.hooks.is_empty()).then(|| {
            crate::outbox::Outbox::new(
                store.clone(),
                clock,
                config.cti.connectors.clone(),
                config.cti.retry.clone(),
            )
            .with_transcripts(flushing.clone())
            .with_hooks(config.hooks.clone())
            .with_retention(config.cti.outbox_retention_days)
        });
        let hub = transcriber.map(|t| {
            let sink = crate::media::transcript::TranscriptSink::new(
                bus.clone(),
                store.clone(),
                clock,
                &config.queues,
                flushing,
                outbox.clone(),
            );
            crate::media::transcript::TranscriptHub::new(t, sink)
        });
        let media = crate::media::actor::MediaRegistry::new(
            config.media.clone(),
            options.recordings_dir.clone(),
        )
        .with_music(&config.queues)?
        .with_transcripts(hub);
        if let Some(o) = &outbox {
            // Rows left pending by the previous process go out first.
            o.clone().spawn();
            if !config.hooks.is_empty() {
                let hooks = config.hooks.clone();
                crate::hooks::start(hooks, bus.clone(), store.clone(), o.clone()).await?;
            }
        }
        let ctx = Arc::new(Context {
            media,
            outbox,
            strategies: options.strategies,
            ..Context::new(config, clock, store, bus)
        });
        let (root, _) = Actor::spawn(None, Root, ())
            .await
            .map_err(|e| ActorError::NoAnswer("root supervisor".into(), e.to_string()))?;
        let spawn_sup = || async {
            Actor::spawn_linked(None, Supervisor { ctx: ctx.clone() }, (), root.get_cell())
                .await
                .map(|(r, _)| r)
                .map_err(|e| ActorError::NoAnswer("supervisor".into(), e.to_string()))
        };
        let agent_sup = spawn_sup().await?;
        let queue_sup = spawn_sup().await?;
        let mut call_sups = Vec::with_capacity(CALL_SHARDS);
        for _ in 0..CALL_SHARDS {
            call_sups.push(spawn_sup().await?);
        }
        for q in &ctx.config.queues {
            let id = QueueId::from(q.id.as_str());
            let (r, _) = Actor::spawn_linked(
                None,
                QueueActor { ctx: ctx.clone() },
                id.clone(),
                queue_sup.get_cell(),
            )
            .await
            .map_err(|e| ActorError::NoAnswer(format!("queue {id}"), e.to_string()))?;
            ctx.queues.insert(id, r);
        }
        // Each queue has rebuilt its line from the store (its `post_start`, which runs before
        // its first message) before anything can be routed: a call created while a queue still
        // rebuilt was put in line twice, once by the rebuild, which walks the stored calls. Only
        // a wait: a queue that failed meanwhile is restarted by its supervisor, as before.
        let queues: Vec<_> = ctx.queues.iter().map(|r| r.value().clone()).collect();
        for q in queues {
            let _ = ask(&q, "queue", |reply| QueueMsg::Counters { reply }).await;
        }
        for a in &ctx.config.agents {
            let id = AgentId::from(a.id.as_str());
            let saved = ctx.store.load_agent(&id).await?;
            let args = AgentArgs {
                id: id.clone(),
                saved,
                process_restarted: true,
            };
            let (r, _) = Actor::spawn_linked(
                None,
                AgentActor { ctx: ctx.clone() },
                args,
                agent_sup.get_cell(),
            )
            .await
            .map_err(|e| ActorError::NoAnswer(format!("agent {id}"), e.to_string()))?;
            ctx.agents.insert(id, r);
        }
        let yard = Switchyard {
            ctx,
            root,
            callbacks: Arc::default(),
            data_edits: Arc::default(),
            scheduler: Arc::default(),
            extensions: Arc::default(),
        };
        write(&yard.ctx.call_sups).extend(call_sups);
        for call in yard.ctx.store.open_calls().await? {
            yard.spawn_call(Arc::new(call), Some(Recovery::ProcessRestart), None)
                .await?;
        }
        let sched = crate::scheduler::SchedulerActor { yard: yard.clone() };
        let (scheduler, _) = Actor::spawn_linked(None, sched, (), yard.root.get_cell())
            .await
            .map_err(|e| ActorError::NoAnswer("scheduler".into(), e.to_string()))?;
        let _ = yard.scheduler.set(scheduler);
        // An agent saved on a call that ended (or that it never took) before the process
        // stopped is released: every agent checks its call now that the calls are back.
        let agents: Vec<_> = yard.ctx.agents.iter().map(|r| r.value().clone()).collect();
        for agent in agents {
            let _ = agent.cast(AgentMsg::CheckCall { ringing: false });
        }
        if let Some(sup) = crate::extensions::start(yard.clone(), options.extensions).await? {
            let _ = yard.extensions.set(sup);
        }
        Ok(yard)
    }

    async fn spawn_call(
        &self,
        call: Arc<Call>,
        recovered: Option<Recovery>,
        saving: Option<crate::store::Saving>,
    ) -> Result<(), ActorError> {
        let id = call.id().clone();
        let shard = {
            let sups = read(&self.ctx.call_sups);
            let h = id.as_str().bytes().fold(0usize, |h, b| {
                h.wrapping_mul(31).wrapping_add(usize::from(b))
            });
            sups[h % sups.len()].get_cell()
        };
        // The actor registers itself in its pre_start.
        Actor::spawn_linked(
            None,
            CallActor {
                ctx: self.ctx.clone(),
            },
            CallArgs {
                call,
                recovered,
                saving,
            },
            shard,
        )
        .await
        .map_err(|e| ActorError::NoAnswer(format!("call {id}"), e.to_string()))?;
        Ok(())
    }

    /// The configuration the engine runs with.
    pub fn config(&self) -> &Config {
        &self.ctx.config
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.ctx.store
    }

    /// Now, on the engine's clock.
    pub fn now(&self) -> Timestamp {
        self.ctx.clock.now()
    }

    /// Subscribes to every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.ctx.bus.subscribe()
    }

    /// Subscribes, with the stored events after `since` to replay first (K8).
    pub async fn resume_events(&self, since: Option<u64>) -> crate::events::Resume {
        self.ctx.bus.resume(since).await
    }

    /// A call, live or ended.
    pub async fn call(&self, id: &str) -> Result<Arc<Call>, ActorError> {
        let id = CallId::from(id);
        if let Some(r) = self.ctx.call(&id) {
            if let Ok(c) = ask(&r, "call", |reply| CallMsg::Get { reply }).await {
                return Ok(c);
            }
        }
        self.ctx
            .store
            .load_call(&id)
            .await?
            .map(Arc::new)
            .ok_or_else(|| ActorError::UnknownCall(id.to_string()))
    }

    /// Calls, newest first, optionally in one state.
    pub async fn calls(
        &self,
        state: Option<CallState>,
        limit: i64,
    ) -> Result<Vec<Call>, ActorError> {
        Ok(self.ctx.store.list_calls(state, limit).await?)
    }

    /// Asks a call's actor. A call whose actor has gone is over (or unknown); one whose actor
    /// stopped without answering because the call ended meanwhile (a hang-up won the race with
    /// this request, which waited in its mailbox) is over too: a lost race is a 409, not an
    /// outage. An actor that does not answer in time may still apply the step:
    /// [`ActorError::Pending`], never an error that a retry would turn into a second step.
    pub(crate) async fn to_call<T: Send + 'static>(
        &self,
        id: &str,
        msg: impl FnOnce(ractor::RpcReplyPort<Result<T, ActorError>>) -> CallMsg,
    ) -> Result<T, ActorError> {
        let over = || ActorError::CallOver(id.to_owned());
        match self.ctx.call(id) {
            Some(r) => match ask(&r, "call", msg).await {
                Ok(answer) => answer,
                // No answer in time: the step may be applied still (or was, before the actor
                // stopped). Not an error to retry into a second application: pending.
                Err(ActorError::NoAnswer(..)) => {
                    match self.ctx.store.load_call(&id.into()).await? {
                        Some(c) if c.state().is_final() => Err(over()),
                        _ => Err(ActorError::Pending(id.to_owned())),
                    }
                }
                Err(e) => Err(e),
            },
            None => match self.ctx.store.load_call(&id.into()).await? {
                Some(_) => Err(over()),
                None => Err(ActorError::UnknownCall(id.to_owned())),
            },
        }
    }

    /// The agent answers a call offered to it.
    pub async fn accept(&self, call: &str, agent: &str) -> Result<Arc<Call>, ActorError> {
        self.to_call(call, |reply| CallMsg::Accept {
            agent: agent.into(),
            reply,
        })
        .await
    }

    /// The agent declines a call offered to it, and with `then` goes to that status in the
    /// same step (nothing else can be offered to it in between; see
    /// [`engine::agent::Agent::decline_into`]).
    pub async fn decline(
        &self,
        call: &str,
        agent: &str,
        then: Option<Status>,
    ) -> Result<Arc<Call>, ActorError> {
        match then {
            None | Some(Status::Ready) => {
                self.to_call(call, |reply| CallMsg::Decline {
                    agent: agent.into(),
                    reply,
                })
                .await
            }
            Some(status) => {
                let agent_ref = self.agent_ref(agent)?;
                ask(&agent_ref, "agent", |reply| AgentMsg::SetStatus {
                    status: Some(status),
                    post_call_status: None,
                    declining: Some(CallId::from(call)),
                    reply,
                })
                .await??;
                // The agent replies before it tells the call; once it has answered a second
                // question it has told it, and the call's mailbox holds the decline before
                // this read (one mailbox, in order).
                ask(&agent_ref, "agent", |reply| AgentMsg::Get { reply }).await?;
                self.call(call).await
            }
        }
    }

    /// Someone hangs up.
    pub async fn hangup(&self, call: &str, by: Party) -> Result<Arc<Call>, ActorError> {
        self.to_call(call, |reply| CallMsg::Hangup { by, reply })
            .await
    }

    /// An agent takes a waiting call from the unassigned list: connected at once.
    pub async fn take(&self, call: &str, agent: &str) -> Result<Arc<Call>, ActorError> {
        self.agent_ref(agent)?;
        self.to_call(call, |reply| CallMsg::Take {
            agent: agent.into(),
            reply,
        })
        .await
    }

    /// A waiting call is offered to a chosen agent.
    pub async fn assign(&self, call: &str, agent: &str) -> Result<Arc<Call>, ActorError> {
        self.agent_ref(agent)?;
        self.to_call(call, |reply| CallMsg::Assign {
            agent: agent.into(),
            reply,
        })
        .await
    }

    /// The owner (or, for take-back, the sender) acts on a call: hold, mute, DTMF,
    /// recording, transfers, consults, conference, CRM fields.
    pub async fn control(
        &self,
        call: &str,
        agent: &str,
        action: crate::Control,
    ) -> Result<Arc<Call>, ActorError> {
        let agent_ref = self.agent_ref(agent)?;
        // C3: an agent acts on its current call; a call it parked to start another waits
        // until that one ends (resuming it now would make two live calls).
        if !matches!(
            action,
            crate::Control::TakeBack | crate::Control::Crm { .. }
        ) {
            let view = ask(&agent_ref, "agent", |reply| AgentMsg::Get { reply }).await?;
            if view.held_calls.iter().any(|c| c.as_str() == call) {
                let current = view.call_id.unwrap_or_else(|| CallId::from(""));
                return Err(engine::Error::HoldFirst(current).into());
            }
        }
        self.to_call(call, |reply| CallMsg::Control {
            agent: agent.into(),
            action,
            reply,
        })
        .await
    }

    /// Every call of one customer (by the number they called from), oldest first (F2).
    pub async fn customer_calls(&self, number: &str) -> Result<Vec<Call>, ActorError> {
        Ok(self.ctx.store.calls_from(number).await?)
    }

    pub(crate) fn agent_ref(&self, id: &str) -> Result<ActorRef<AgentMsg>, ActorError> {
        self.ctx
            .agent(id)
            .ok_or_else(|| ActorError::UnknownAgent(id.to_owned()))
    }

    /// One agent.
    pub async fn agent(&self, id: &str) -> Result<AgentView, ActorError> {
        ask(&self.agent_ref(id)?, "agent", |reply| AgentMsg::Get {
            reply,
        })
        .await
    }

    /// An event stream for the agent opened (its panel is there); see
    /// [`crate::config::PresenceConfig`].
    pub fn panel_opened(&self, id: &str) {
        let id = AgentId::from(id);
        self.ctx.count_panel(&id, true);
        self.ctx.tell_agent(&id, AgentMsg::PanelOpened);
    }

    /// An event stream for the agent closed: when it was the last, the grace period begins.
    pub fn panel_closed(&self, id: &str) {
        let id = AgentId::from(id);
        if self.ctx.count_panel(&id, false) == 0 {
            self.ctx.tell_agent(&id, AgentMsg::PanelClosed);
        }
    }

    /// Every agent, in configuration order.
    pub async fn agents(&self) -> Result<Vec<AgentView>, ActorError> {
        let mut out = Vec::with_capacity(self.ctx.config.agents.len());
        for a in &self.ctx.config.agents {
            out.push(self.agent(&a.id).await?);
        }
        Ok(out)
    }

    /// The agent chooses a status and/or its post-call status.
    pub async fn set_status(
        &self,
        id: &str,
        status: Option<Status>,
        post_call_status: Option<Status>,
    ) -> Result<AgentView, ActorError> {
        ask(&self.agent_ref(id)?, "agent", |reply| AgentMsg::SetStatus {
            status,
            post_call_status,
            declining: None,
            reply,
        })
        .await?
    }

    /// A supervisor locks the agent in a status.
    pub async fn lock(&self, id: &str, status: Status) -> Result<AgentView, ActorError> {
        ask(&self.agent_ref(id)?, "agent", |reply| AgentMsg::Lock {
            status,
            reply,
        })
        .await?
    }

    /// A supervisor lifts the lock.
    pub async fn unlock(&self, id: &str) -> Result<AgentView, ActorError> {
        ask(&self.agent_ref(id)?, "agent", |reply| AgentMsg::Unlock {
            reply,
        })
        .await?
    }

    /// The agent ends its wrap-up.
    pub async fn end_wrap_up(&self, id: &str) -> Result<AgentView, ActorError> {
        ask(&self.agent_ref(id)?, "agent", |reply| AgentMsg::EndWrapUp {
            reply,
        })
        .await?
    }

    /// An agent's status history, oldest first.
    pub async fn status_history(
        &self,
        id: &str,
        limit: i64,
    ) -> Result<Vec<StatusChange>, ActorError> {
        self.agent_ref(id)?;
        Ok(self
            .ctx
            .store
            .status_history(&AgentId::from(id), limit)
            .await?)
    }

    /// Every queue with its live counters.
    pub async fn queues(&self) -> Result<Vec<QueueView>, ActorError> {
        let mut out = Vec::new();
        for q in &self.ctx.config.queues {
            let id = QueueId::from(q.id.as_str());
            let r = self
                .ctx
                .queue(&id)
                .ok_or_else(|| ActorError::UnknownQueue(q.id.clone()))?;
            let counters = ask(&r, "queue", |reply| QueueMsg::Counters { reply }).await?;
            out.push(QueueView {
                id,
                name: q.name.clone().unwrap_or_else(|| q.id.clone()),
                colour: q.colour.clone(),
                strategy: q.strategy.clone(),
                offer_timeout_secs: q.offer_timeout_secs,
                web_calls: q.web_calls,
                service_level_secs: q.service_level_secs,
                service_level: counters.service_level(),
                counters,
            });
        }
        Ok(out)
    }

    /// Calls waiting with nobody ringing, in the given queues (all when `None`).
    pub async fn unassigned(
        &self,
        queues: Option<&[QueueId]>,
        sort: Sort,
    ) -> Result<Vec<UnassignedCall>, ActorError> {
        let mut out = Vec::new();
        for q in &self.ctx.config.queues {
            let id = QueueId::from(q.id.as_str());
            if queues.is_some_and(|qs| !qs.contains(&id)) {
                continue;
            }
            let Some(r) = self.ctx.queue(&id) else {
                continue;
            };
            let waiting: Vec<WaitingCall> =
                ask(&r, "queue", |reply| QueueMsg::Waiting { reply }).await?;
            out.extend(waiting.into_iter().map(|w| UnassignedCall {
                call_id: w.call,
                queue: id.clone(),
                priority: w.priority,
                enqueued_at: w.enqueued_at,
            }));
        }
        out.sort_by_key(|u| (u.enqueued_at, u.call_id.clone()));
        if sort == Sort::Newest {
            out.reverse();
        }
        Ok(out)
    }

    /// Stops every actor.
    pub async fn shutdown(&self) {
        let wait = Some(std::time::Duration::from_secs(5));
        if let Some(sup) = self.extensions.get() {
            sup.stop_children_and_wait(None, wait).await;
            sup.stop(None);
        }
        // The supervisors' children first, each waited for: a supervisor that stops only
        // signals its children, and one still busy would write to the store after a new
        // engine on it has started.
        for sup in self.root.get_children() {
            sup.stop_children_and_wait(None, wait).await;
        }
        self.root.stop_children_and_wait(None, wait).await;
        self.root.stop(None);
    }

    /// Fault injection for tests of supervision: makes one call actor panic.
    #[cfg(test)]
    pub(crate) fn inject_panic(&self, call: &str) -> bool {
        self.ctx
            .call(&CallId::from(call))
            .is_some_and(|r| r.cast(CallMsg::Panic).is_ok())
    }

    /// Fault injection: makes one agent actor panic.
    #[cfg(test)]
    pub(crate) fn inject_agent_panic(&self, agent: &str) -> Option<ractor::ActorId> {
        let r = self.ctx.agent(agent)?;
        r.cast(AgentMsg::Panic).ok()?;
        Some(r.get_id())
    }

    /// Fault injection: makes one queue actor panic.
    #[cfg(test)]
    pub(crate) fn inject_queue_panic(&self, queue: &str) -> Option<ractor::ActorId> {
        let r = self.ctx.queue(&QueueId::from(queue))?;
        r.cast(QueueMsg::Panic).ok()?;
        Some(r.get_id())
    }

    /// Fault injection: keeps one queue actor busy for `busy`, its mailbox unread.
    #[cfg(test)]
    pub(crate) fn stall_queue(&self, queue: &str, busy: std::time::Duration) {
        let r = self
            .ctx
            .queue(&QueueId::from(queue))
            .expect("the queue runs");
        r.cast(QueueMsg::Stall(busy))
            .expect("the queue takes messages");
    }

    /// The live actor of an agent or queue (tests compare it across a restart).
    #[cfg(test)]
    pub(crate) fn actor_ids(
        &self,
        agent: &str,
        queue: &str,
    ) -> (Option<ractor::ActorId>, Option<ractor::ActorId>) {
        (
            self.ctx.agent(agent).map(|r| r.get_id()),
            self.ctx.queue(&QueueId::from(queue)).map(|r| r.get_id()),
        )
    }

    /// The live actor of a call, if any (tests compare it across a restart).
    #[cfg(test)]
    pub(crate) fn call_actor_id(&self, call: &str) -> Option<ractor::ActorId> {
        self.ctx.call(&CallId::from(call)).map(|r| r.get_id())
    }
}

pub(crate) fn new_call_id() -> CallId {
    use rand::Rng;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let r: u64 = rand::thread_rng().gen();
    CallId::from(call_id_text(now, r))
}

/// `c`, the milliseconds in hex, then 16 hex digits of chance: what `format!("c{now:x}{r:016x}")`
/// writes, without the formatting machinery (every call's creation wrote one so).
pub(crate) fn call_id_text(now: u64, r: u64) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(1 + 16 + 16);
    text.push('c');
    let digits = (64 - now.leading_zeros()).div_ceil(4).max(1);
    let hex = |v: u64, i: u32| HEX[(v >> (4 * i) & 0xf) as usize] as char;
    text.extend((0..digits).rev().map(|i| hex(now, i)));
    text.extend((0..16).rev().map(|i| hex(r, i)));
    text
}

/// The root supervisor: parent of the agent, queue and call supervisors. Those have no work
/// that can fail; should one die anyway, its children keep running and the event is logged.
struct Root;

enum RootMsg {}

impl Actor for Root {
    type Msg = RootMsg;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<RootMsg>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _: ActorRef<RootMsg>,
        event: SupervisionEvent,
        _: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ActorFailed(who, err) = event {
            tracing::error!(supervisor = %who.get_id(), error = %err, "a supervisor failed");
        }
        Ok(())
    }
}
