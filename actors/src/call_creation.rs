//! A new call's actor while the call's creation commits (see `Switchyard::create_call`): it
//! publishes the call and takes its first message only once the creation is durable; a
//! creation that fails is undone (the call leaves its queue, an agent reserved for it is let
//! go) and nothing of the call is published or stored.

use crate::agent_actor::AgentMsg;
use crate::call_actor::{CallActor, CallActorState, CallMsg};
use crate::queue_actor::QueueMsg;
use crate::store::Saving;
use engine::CallId;
use ractor::ActorRef;

/// Where a call's creation stands, for its actor.
pub(crate) enum Creation {
    /// Saved: the actor takes its messages.
    Durable,
    /// Being written: its first steps are published, and the actor takes its first message,
    /// once it is durable.
    Pending(Saving),
    /// Its write failed: the call never was, for anyone outside; the actor drains and stops.
    Failed,
}

impl CallActor {
    /// A new call's first steps: published at once if its creation is durable already, else
    /// by the first message (at the latest the one saying it committed).
    pub(crate) fn publish_new(
        &self,
        myself: &ActorRef<CallMsg>,
        st: &mut CallActorState,
        saving: Option<Saving>,
    ) {
        match saving {
            Some(saving) if !matches!(saving.outcome_now(), Some(Ok(()))) => {
                let (watched, me) = (saving.clone(), myself.clone());
                tokio::spawn(async move {
                    let _ = watched.outcome().await;
                    let _ = me.cast(CallMsg::Saved);
                });
                st.creation = Creation::Pending(saving);
            }
            _ => self.ctx.bus.publish_journey(&st.call, 0),
        }
    }

    /// Waits until the call's creation, handed to the store by its creator, is durable and
    /// publishes its first steps. False if it failed: the call never was for anyone outside
    /// (its creator answers with the store's error), so the actor takes it out of its queue,
    /// lets go of what its mailbox holds ([`CallActor::unsaved`]) and stops, writing nothing.
    pub(crate) async fn created(
        &self,
        myself: &ActorRef<CallMsg>,
        st: &mut CallActorState,
    ) -> bool {
        let saving = match std::mem::replace(&mut st.creation, Creation::Durable) {
            Creation::Durable => return true,
            Creation::Failed => {
                st.creation = Creation::Failed;
                return false;
            }
            Creation::Pending(saving) => saving,
        };
        match saving.outcome().await {
            Ok(()) => {
                self.ctx.bus.publish_journey(&st.call, 0);
                true
            }
            Err(e) => {
                tracing::warn!(call = %st.call.id(), error = %e, "the call's creation was not saved: dropped");
                st.creation = Creation::Failed;
                st.timer.cancel();
                self.ctx.tell_queue(
                    st.call.queue(),
                    QueueMsg::Remove {
                        call: st.call.id().clone(),
                    },
                );
                // What was sent before is handled (below), what is sent after is refused.
                let _ = myself.drain();
                false
            }
        }
    }

    /// A message to a call whose creation was not saved: the agents a queue reserved for it
    /// are released; an ask gets no answer (the call is unknown to its asker).
    pub(crate) fn unsaved(&self, msg: CallMsg, call: &CallId) {
        if let CallMsg::Offer { agents, .. } = msg {
            for a in agents {
                let call = call.clone();
                self.ctx.tell_agent(&a, AgentMsg::OfferWithdrawn { call });
            }
        }
    }
}
