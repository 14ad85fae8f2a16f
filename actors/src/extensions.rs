//! Custom actors: an embedding program's own [ractor] actors, started beside the built-in ones
//! under a supervisor of their own, given the events they asked for as messages, acting
//! through the [`Switchyard`] handle they start with (the API the web layer calls). One that
//! fails (a panic, or an error from a handler) is started again from its factory, at most
//! [`RESTARTS`] times a minute, and is handed first, in order, the events that came while it
//! restarted (at most [`HELD`]); past that many restarts it stays down and says so, and
//! routing, calls and every other actor carry on. Its message type is [`Event`], or its own
//! type made from one (`From<Event>`) that carries its other messages too (a timer's tick: see
//! the `sla_watcher` example).
//!
//! ```no_run
//! use actors::events::Event;
//! use actors::Switchyard;
//! use ractor::{Actor, ActorProcessingErr, ActorRef};
//!
//! /// Counts ended calls.
//! struct Counter;
//!
//! impl Actor for Counter {
//!     type Msg = Event;
//!     type State = u64;
//!     type Arguments = Switchyard;
//!
//!     async fn pre_start(&self, _: ActorRef<Event>, _: Switchyard) -> Result<u64, ActorProcessingErr> {
//!         Ok(0)
//!     }
//!
//!     async fn handle(&self, _: ActorRef<Event>, _: Event, ended: &mut u64) -> Result<(), ActorProcessingErr> {
//!         *ended += 1;
//!         Ok(())
//!     }
//! }
//!
//! # async fn run(config: actors::config::Config) -> Result<(), actors::ActorError> {
//! let yard = Switchyard::builder(config)
//!     .actor("counter", &["call.ended"], || Counter)
//!     .start()
//!     .await?;
//! # Ok(())
//! # }
//! ```

use crate::events::Event;
use crate::{ActorError, Switchyard};
use futures::future::BoxFuture;
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, SupervisionEvent};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Restarts a custom actor may have within a minute before it is left down.
pub const RESTARTS: usize = 5;

/// Events held for a custom actor while it is started again, at most; past that the newest are
/// dropped (and said to be).
pub const HELD: usize = 1024;

/// Hands an event to a running custom actor (converted to its message type); gives it back if
/// the actor is no longer there to take it.
type Deliver = Arc<dyn Fn(Event) -> Result<(), Event> + Send + Sync>;

type Spawn = Arc<
    dyn Fn(Switchyard, ActorCell) -> BoxFuture<'static, Result<(ActorCell, Deliver), String>>
        + Send
        + Sync,
>;

/// A registered custom actor: its name, the event types it hears, how to start it.
#[derive(Clone)]
pub struct Extension {
    name: String,
    events: Vec<String>,
    spawn: Spawn,
}

impl Extension {
    /// An actor made by `make`, hearing events of these types (`call.*` for every call event).
    /// Its message type is [`Event`] itself, or its own type made from one (`From<Event>`),
    /// which may carry the actor's other messages too (a timer's tick, say).
    pub fn new<A, F>(name: &str, events: &[&str], make: F) -> Extension
    where
        A: Actor<Arguments = Switchyard>,
        A::Msg: From<Event>,
        F: Fn() -> A + Send + Sync + 'static,
    {
        let make = Arc::new(make);
        let spawn: Spawn = Arc::new(move |yard, sup| {
            let make = make.clone();
            Box::pin(async move {
                let (r, _) = Actor::spawn_linked(None, make(), yard, sup)
                    .await
                    .map_err(|e| e.to_string())?;
                let cell = r.get_cell();
                let deliver: Deliver =
                    Arc::new(move |e: Event| r.cast(A::Msg::from(e.clone())).map_err(|_| e));
                Ok((cell, deliver))
            })
        });
        Extension {
            name: name.to_owned(),
            events: events.iter().map(|e| e.to_string()).collect(),
            spawn,
        }
    }

    fn hears(&self, event_type: &str) -> bool {
        crate::config::event_matches(&self.events, event_type)
    }
}

impl std::fmt::Debug for Extension {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extension")
            .field("name", &self.name)
            .field("events", &self.events)
            .finish()
    }
}

/// The custom actors, by name: running, or being started again with the events they are to
/// hear once up (none is lost to the restart but those in the failed actor's own mailbox).
/// One left down, or stopped, has no entry.
type Running = Arc<Mutex<HashMap<String, Slot>>>;

enum Slot {
    Up(Deliver),
    Restarting(Vec<Event>),
}

/// Hands `e` to the custom actor `name`: to the running one, or held for it while it is
/// started again.
fn deliver(running: &Running, name: &str, e: Event) {
    let deliver = match lock(running).get_mut(name) {
        Some(Slot::Up(deliver)) => deliver.clone(),
        Some(slot) => return hold(slot, name, e),
        None => return,
    };
    // Outside the lock: an actor's mailbox takes it at once.
    let Err(e) = deliver(e) else { return };
    // It failed and its supervisor has not heard yet: held for the new one, unless that one is
    // already up (then it takes it).
    match lock(running).get_mut(name) {
        Some(Slot::Up(now)) if !Arc::ptr_eq(now, &deliver) => {
            let _ = now(e);
        }
        Some(slot) => hold(slot, name, e),
        None => {}
    }
}

/// Holds `e` for the custom actor `name` while it is being started again.
fn hold(slot: &mut Slot, name: &str, e: Event) {
    match slot {
        Slot::Restarting(held) if held.len() < HELD => held.push(e),
        Slot::Restarting(_) => {
            tracing::warn!(actor = %name, "a custom actor being restarted missed an event: too many held");
        }
        Slot::Up(_) => *slot = Slot::Restarting(vec![e]),
    }
}

struct Supervisor {
    yard: Switchyard,
    extensions: Vec<Extension>,
    running: Running,
}

struct SupState {
    /// Which extension each child is.
    children: HashMap<ractor::ActorId, usize>,
    /// Each extension's recent restarts.
    restarts: Vec<Vec<Instant>>,
}

impl Supervisor {
    async fn start_one(
        &self,
        myself: &ActorRef<()>,
        i: usize,
        st: &mut SupState,
    ) -> Result<(), ActorProcessingErr> {
        let ext = &self.extensions[i];
        let (cell, deliver) = (ext.spawn)(self.yard.clone(), myself.get_cell()).await?;
        st.children.insert(cell.get_id(), i);
        // The events held while it started are handed over first, under the lock that the
        // delivering task takes too: they come before any later one, in order.
        let mut running = lock(&self.running);
        if let Some(Slot::Restarting(held)) = running.remove(&ext.name) {
            for e in held {
                let _ = deliver(e);
            }
        }
        running.insert(ext.name.clone(), Slot::Up(deliver));
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Actor for Supervisor {
    type Msg = ();
    type State = SupState;
    type Arguments = ();

    async fn pre_start(&self, myself: ActorRef<()>, _: ()) -> Result<SupState, ActorProcessingErr> {
        let mut st = SupState {
            children: HashMap::new(),
            restarts: vec![Vec::new(); self.extensions.len()],
        };
        for i in 0..self.extensions.len() {
            self.start_one(&myself, i, &mut st).await?;
        }
        Ok(st)
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<()>,
        event: SupervisionEvent,
        st: &mut SupState,
    ) -> Result<(), ActorProcessingErr> {
        let (who, why) = match event {
            SupervisionEvent::ActorFailed(who, e) => (who, e.to_string()),
            SupervisionEvent::ActorTerminated(who, _, reason) => {
                // Stopped on purpose (the engine shutting down): forgotten.
                if let Some(i) = st.children.remove(&who.get_id()) {
                    lock(&self.running).remove(&self.extensions[i].name);
                }
                let _ = reason;
                return Ok(());
            }
            _ => return Ok(()),
        };
        let Some(i) = st.children.remove(&who.get_id()) else {
            return Ok(());
        };
        let name = &self.extensions[i].name;
        let recent = &mut st.restarts[i];
        recent.retain(|t| t.elapsed() < Duration::from_secs(60));
        if recent.len() >= RESTARTS {
            lock(&self.running).remove(name);
            tracing::error!(actor = %name, error = %why, "a custom actor failed too often: left down");
            return Ok(());
        }
        recent.push(Instant::now());
        tracing::warn!(actor = %name, error = %why, "a custom actor failed: restarted");
        // Events from now on are held for the new one (with any its failed one gave back).
        if let Some(slot @ Slot::Up(_)) = lock(&self.running).get_mut(name) {
            *slot = Slot::Restarting(Vec::new());
        }
        if let Err(e) = self.start_one(&myself, i, st).await {
            // Its start failed too: left down (the supervisor and the others carry on).
            lock(&self.running).remove(name);
            tracing::error!(actor = %name, error = %e, "a custom actor could not be restarted: left down");
        }
        Ok(())
    }

    async fn handle(
        &self,
        _: ActorRef<()>,
        _: (),
        _: &mut SupState,
    ) -> Result<(), ActorProcessingErr> {
        Ok(())
    }
}

/// Starts the custom actors and the task that hands each the events it hears; returns their
/// supervisor (stopped with the engine).
pub(crate) async fn start(
    yard: Switchyard,
    extensions: Vec<Extension>,
) -> Result<Option<ActorRef<()>>, ActorError> {
    if extensions.is_empty() {
        return Ok(None);
    }
    let running: Running = Arc::default();
    // Subscribed before any actor starts: none misses an event of the engine's start.
    let mut events = yard.subscribe();
    let sup = Supervisor {
        yard: yard.clone(),
        extensions: extensions.clone(),
        running: running.clone(),
    };
    let (sup, _) = Actor::spawn(None, sup, ())
        .await
        .map_err(|e| ActorError::NoAnswer("custom actors".into(), e.to_string()))?;
    tokio::spawn(async move {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            match events.recv().await {
                Ok(e) => {
                    for ext in extensions.iter().filter(|x| x.hears(e.type_name())) {
                        deliver(&running, &ext.name, e.clone());
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "custom actors fell behind the events");
                }
                Err(RecvError::Closed) => return,
            }
        }
    });
    Ok(Some(sup))
}
