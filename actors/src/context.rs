//! What every actor shares: configuration, clock, store, event bus and the registry of live
//! actors (which supervisors keep current across restarts).

use crate::agent_actor::AgentMsg;
use crate::call_actor::CallMsg;
use crate::clock::Clock;
use crate::config::{Config, QueueConfig};
use crate::error::ActorError;
use crate::events::EventBus;
use crate::queue_actor::QueueMsg;
use crate::store::Store;
use engine::queue::QueueSettings;
use engine::{AgentId, CallId, IdMap, QueueId};
use ractor::{ActorId, ActorRef, RpcReplyPort};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How long an actor waits for another before giving up (`call_t!` discipline).
pub(crate) const ASK_TIMEOUT: Duration = Duration::from_secs(5);

/// What a supervised child is, so its supervisor can rebuild it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ChildKey {
    Agent(AgentId),
    Queue(QueueId),
    Call(CallId),
}

/// A registry of actors that every call's start and end writes (the calls') and its steps read
/// (the agents', queues' and calls'), from both worker threads: sharded (the maintained
/// `dashmap`), so that an access locks one shard rather than the whole map, and the threads
/// seldom contend for one lock's cache line. Hashed with foldhash, as [`IdMap`] is. A guard it
/// hands out is let go at once: never held across another access.
pub(crate) type Registry<K, V> = dashmap::DashMap<K, V, foldhash::fast::RandomState>;

/// Shared by every actor of one engine.
pub(crate) struct Context {
    pub config: Arc<Config>,
    pub clock: Clock,
    /// The actors' wake-ups, on `clock`.
    pub wakeups: crate::timer::Wakeups,
    pub store: Store,
    pub bus: EventBus,
    pub settings: IdMap<QueueId, QueueSettings>,
    pub agents: Registry<AgentId, ActorRef<AgentMsg>>,
    pub queues: Registry<QueueId, ActorRef<QueueMsg>>,
    pub calls: Registry<CallId, ActorRef<CallMsg>>,
    pub children: Registry<ActorId, ChildKey>,
    pub call_sups: RwLock<Vec<ActorRef<crate::supervisor::SupervisorMsg>>>,
    pub media: crate::media::actor::MediaRegistry,
    /// The CRM outbox, when connectors are configured.
    pub outbox: Option<crate::outbox::Outbox>,
    /// Open event streams (panels) per agent: kept here, not in the agent actor, so that an
    /// agent actor restarted by its supervisor still knows them.
    pub panels: std::sync::Mutex<IdMap<AgentId, usize>>,
    /// Routing strategies registered by the embedding program.
    pub strategies: crate::strategies::Strategies,
}

impl Context {
    pub(crate) fn new(config: Config, clock: Clock, store: Store, bus: EventBus) -> Self {
        let settings = config
            .queues
            .iter()
            .map(|q: &QueueConfig| (QueueId::from(q.id.as_str()), Config::queue_settings(q)))
            .collect();
        Context {
            config: Arc::new(config),
            clock,
            wakeups: crate::timer::Wakeups::start(clock),
            store,
            bus,
            settings,
            agents: Registry::default(),
            queues: Registry::default(),
            calls: Registry::default(),
            children: Registry::default(),
            call_sups: RwLock::default(),
            media: crate::media::actor::MediaRegistry::default(),
            outbox: None,
            panels: std::sync::Mutex::default(),
            strategies: Default::default(),
        }
    }

    /// The agent's panels with an open event stream.
    pub(crate) fn panels_open(&self, id: &AgentId) -> usize {
        lock(&self.panels).get(id).copied().unwrap_or(0)
    }

    /// Counts a panel opening (`+1`) or closing (`-1`); returns how many are open now.
    pub(crate) fn count_panel(&self, id: &AgentId, opened: bool) -> usize {
        let mut panels = lock(&self.panels);
        let n = panels.entry(id.clone()).or_default();
        *n = if opened { *n + 1 } else { n.saturating_sub(1) };
        let now = *n;
        if now == 0 {
            panels.remove(id);
        }
        now
    }

    /// An agent's actor, by her id or its text (looked up as it is, with no id made of it).
    pub(crate) fn agent<Q>(&self, id: &Q) -> Option<ActorRef<AgentMsg>>
    where
        AgentId: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        self.agents.get(id).map(|r| r.value().clone())
    }

    pub(crate) fn queue(&self, id: &QueueId) -> Option<ActorRef<QueueMsg>> {
        self.queues.get(id).map(|r| r.value().clone())
    }

    /// A call's actor, by its id or its id's text (an API request names a call by its text:
    /// looked up as it is, with no id made of it).
    pub(crate) fn call<Q>(&self, id: &Q) -> Option<ActorRef<CallMsg>>
    where
        CallId: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        self.calls.get(id).map(|r| r.value().clone())
    }

    /// What `read` takes from a queue's settings (its defaults for a queue without any),
    /// read in place: a call step needs one or two numbers, not a copy of them all.
    pub(crate) fn setting<T>(&self, queue: &QueueId, read: impl FnOnce(&QueueSettings) -> T) -> T {
        match self.settings.get(queue) {
            Some(s) => read(s),
            None => read(&QueueSettings::default()),
        }
    }

    /// Tells an agent actor something, if it lives; a missing agent has nothing to update.
    pub(crate) fn tell_agent(&self, id: &AgentId, msg: AgentMsg) {
        if let Some(a) = self.agent(id) {
            let _ = a.cast(msg);
        }
    }

    pub(crate) fn tell_queue(&self, id: &QueueId, msg: QueueMsg) {
        if let Some(q) = self.queue(id) {
            let _ = q.cast(msg);
        }
    }
}

/// Locks plain data: a poisoned lock still holds a usable value (every user of this keeps its
/// data consistent between statements).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    // The registries are plain maps updated in single statements: a poisoned lock still holds
    // a consistent map.
    lock.read().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

/// Asks an actor and waits, at most [`ASK_TIMEOUT`].
pub(crate) async fn ask<M, T>(
    who: &ActorRef<M>,
    what: &str,
    msg: impl FnOnce(RpcReplyPort<T>) -> M,
) -> Result<T, ActorError>
where
    M: ractor::Message,
    T: Send + 'static,
{
    match who.call(msg, Some(ASK_TIMEOUT)).await {
        Ok(ractor::rpc::CallResult::Success(v)) => Ok(v),
        Ok(ractor::rpc::CallResult::Timeout) => {
            Err(ActorError::NoAnswer(what.to_owned(), "timed out".into()))
        }
        Ok(_) => Err(ActorError::NoAnswer(what.to_owned(), "it stopped".into())),
        Err(e) => Err(ActorError::NoAnswer(what.to_owned(), e.to_string())),
    }
}
