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

impl CallActor {
    /// A new call's first steps: published at once if its creation is durable already, else
    /// by the first message (at the latest the one saying it committed).
    pub(crate) fn publish_new(
        &self,
        myself: &ActorRef<CallMsg>,
        st: &mut CallActorState,
        saving: Option<Saving>,
    ) {
        match saving.as_ref().map(Saving::outcome_now) {
            None | Some(Some(Ok(()))) => self.ctx.bus.publish_journey(&st.call, 0),
            Some(_) => {
                let (watched, me) = (saving.clone(), myself.clone());
                tokio::spawn(async move {
                    if let Some(saving) = watched {
                        let _ = saving.outcome().await;
                    }
                    let _ = me.cast(CallMsg::Saved);
                });
                st.saving = saving;
            }
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
        let Some(saving) = st.saving.take() else {
            return !st.unsaved;
        };
        match saving.outcome().await {
            Ok(()) => {
                self.ctx.bus.publish_journey(&st.call, 0);
                true
            }
            Err(e) => {
                tracing::warn!(call = %st.call.id(), error = %e, "the call's creation was not saved: dropped");
                st.unsaved = true;
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
