//! Supervision (K5). ractor has no restart strategy of its own and its default stops a parent
//! when a child dies, so every supervisor here overrides `handle_supervisor_evt`: a child that
//! fails is rebuilt from its persisted state and respawned under the same supervisor; a child
//! that stops normally (an ended call) is forgotten.
//!
//! Call actors are spread over several supervisor shards: one supervisor over every call
//! would hear every start and stop and become a choke point.

use crate::agent_actor::{AgentActor, AgentArgs};
use crate::call_actor::{CallActor, CallArgs, Recovery};
use crate::context::{ChildKey, Context};
use crate::queue_actor::QueueActor;
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, SupervisionEvent};
use std::sync::Arc;

/// A supervisor of agents, queues or calls.
pub(crate) struct Supervisor {
    pub ctx: Arc<Context>,
}

/// Supervisors take no messages: they only hear their children's lifecycle.
pub(crate) enum SupervisorMsg {}

impl Supervisor {
    async fn restart(
        &self,
        myself: &ActorRef<SupervisorMsg>,
        key: ChildKey,
    ) -> Result<(), ActorProcessingErr> {
        let sup: ActorCell = myself.get_cell();
        match key {
            ChildKey::Call(id) => {
                let Some(call) = self.ctx.store.load_call(&id).await? else {
                    tracing::error!(call = %id, "failed call has no saved state; it cannot be restarted");
                    self.ctx.calls.remove(&id);
                    return Ok(());
                };
                if call.state().is_final() {
                    self.ctx.calls.remove(&id);
                    return Ok(());
                }
                let args = CallArgs {
                    call: Arc::new(call),
                    recovered: Some(Recovery::ActorRestart),
                    saving: None,
                };
                let (r, _) = Actor::spawn_linked(
                    None,
                    CallActor {
                        ctx: self.ctx.clone(),
                    },
                    args,
                    sup,
                )
                .await?;
                self.ctx.calls.insert(id, r);
            }
            ChildKey::Agent(id) => {
                let saved = self.ctx.store.load_agent(&id).await?;
                let args = AgentArgs {
                    id: id.clone(),
                    saved,
                    process_restarted: false,
                };
                let (r, _) = Actor::spawn_linked(
                    None,
                    AgentActor {
                        ctx: self.ctx.clone(),
                    },
                    args,
                    sup,
                )
                .await?;
                self.ctx.agents.insert(id, r);
            }
            ChildKey::Queue(id) => {
                let (r, _) = Actor::spawn_linked(
                    None,
                    QueueActor {
                        ctx: self.ctx.clone(),
                    },
                    id.clone(),
                    sup,
                )
                .await?;
                self.ctx.queues.insert(id, r);
            }
        }
        Ok(())
    }
}

impl Supervisor {
    /// Restarts a child, retrying with backoff (0.1 s doubling up to [`MAX_BACKOFF`]) for as
    /// long as its restart fails: a database that is down (its state cannot be read or its
    /// restart cannot be written) leaves the child unavailable, its requests answered with an
    /// error, until the database is back, and then it comes back by itself from what was last
    /// saved, without a restart of the process. Meanwhile this supervisor restarts its other
    /// children after this one.
    async fn restart_with_retries(&self, myself: &ActorRef<SupervisorMsg>, key: ChildKey) {
        let mut wait = std::time::Duration::from_millis(100);
        for attempt in 1u64.. {
            match self.restart(myself, key.clone()).await {
                Ok(()) => {
                    if attempt > 1 {
                        tracing::info!(child = ?key, attempt, "restarted");
                    }
                    return;
                }
                Err(e) => {
                    // Every try at first, then one in ten: an outage of minutes stays readable.
                    if attempt <= 5 || attempt % 10 == 0 {
                        tracing::warn!(child = ?key, error = %e, attempt, "restart failed; retrying");
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

/// The longest wait between two tries to restart a child.
const MAX_BACKOFF: std::time::Duration = std::time::Duration::from_secs(2);

impl Actor for Supervisor {
    type Msg = SupervisorMsg;
    type State = ();
    type Arguments = ();

    async fn pre_start(
        &self,
        _myself: ActorRef<SupervisorMsg>,
        _: (),
    ) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<SupervisorMsg>,
        event: SupervisionEvent,
        _state: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        match event {
            SupervisionEvent::ActorTerminated(who, _, _) => {
                if let Some((_, ChildKey::Call(id))) = self.ctx.children.remove(&who.get_id()) {
                    // Unless a restart registered another actor for it meanwhile.
                    self.ctx
                        .calls
                        .remove_if(&id, |_, r| r.get_id() == who.get_id());
                }
            }
            SupervisionEvent::ActorFailed(who, err) => {
                let key = self.ctx.children.remove(&who.get_id()).map(|(_, k)| k);
                tracing::warn!(child = ?key, error = %err, "supervised actor failed; restarting from saved state");
                if let Some(key) = key {
                    // Boxed: a restart is rare and its future large (1.8 KiB), and every
                    // call's start and end is a supervision event whose future ractor moves
                    // whole several times (see `store::writer::hand_over`).
                    Box::pin(self.restart_with_retries(&myself, key)).await;
                }
            }
            _ => {}
        }
        Ok(())
    }
}
