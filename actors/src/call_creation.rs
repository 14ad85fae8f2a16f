//! A new call's actor while the call's creation commits (see `Switchyard::create_call`): it
//! publishes the call and takes its messages only once the call is durable, except the
//! queue's first offer, which it takes at once (its write carries the call whole and is
//! committed after the creation's, so the call is published, created to offered, at that one
//! commit). A creation that fails (with the offer's write, if one was taken) is undone: the
//! call leaves its queue, an agent reserved for it is let go, and nothing of the call is
//! published or stored.

use crate::call_actor::{CallActor, CallActorState, CallMsg};
use crate::queue_actor::QueueMsg;
use crate::store::{Saving, StoreError};
use engine::CallId;
use ractor::{ActorProcessingErr, ActorRef};

/// Where a call's creation stands, for its actor.
pub(crate) enum Creation {
    /// Saved: the actor takes its messages.
    Durable,
    /// Being written: the actor takes its messages once it is durable, except the queue's
    /// first offer ([`CallActor::offered_while_created`]); its first steps are published
    /// then.
    Pending(Saving),
    /// Its write failed: the call never was, for anyone outside; the actor drains and stops.
    Failed,
}

impl CallActor {
    /// A new call's first steps: published at once if its creation is durable already, else
    /// at the commit of an offer taken meanwhile or by the first message (at the latest the
    /// one saying the creation committed).
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

    /// A message to a new call whose creation is being written: an offer may be taken at once
    /// ([`CallActor::offered_while_created`]); any other message waits for the creation, and is
    /// let go if it failed ([`CallActor::unsaved`]).
    pub(crate) async fn handle_new(
        &self,
        myself: &ActorRef<CallMsg>,
        msg: CallMsg,
        st: &mut CallActorState,
    ) -> Result<(), ActorProcessingErr> {
        let creating = self.offered_while_created(&msg, st);
        if creating.is_none() && !self.created(myself, st).await {
            self.unsaved(msg, st.call.id());
            return Ok(());
        }
        let outcome = self.handle_msg(myself.clone(), msg, st).await;
        match creating {
            Some(creating) => self.offer_handled(myself, st, creating, outcome).await,
            None => outcome,
        }
    }

    /// Waits until the call's creation, handed to the store by its creator, is durable and
    /// publishes its first steps. False if it failed: the call never was for anyone outside
    /// (its creator answers with the store's error), so the actor takes it out of its queue,
    /// lets go of what its mailbox holds ([`CallActor::unsaved`]) and stops, writing nothing.
    async fn created(&self, myself: &ActorRef<CallMsg>, st: &mut CallActorState) -> bool {
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
                self.undo(myself, st, e);
                false
            }
        }
    }

    /// The call's creation failed: the call never was, for anyone outside (its creator answers
    /// with the store's error). It leaves its queue, and the actor lets go of what its mailbox
    /// holds ([`CallActor::unsaved`]) and stops.
    fn undo(&self, myself: &ActorRef<CallMsg>, st: &mut CallActorState, e: StoreError) {
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
    }

    /// The queue's first offer, when it comes while the call's creation is still being
    /// written, is taken at once rather than after the creation's commit: its write carries
    /// the call whole (the creation's journey entries again) and is handed to the writer after
    /// the creation's, so once it commits the call is durable whatever became of the
    /// creation's own write, and the call is published then (created, queued, offered). An
    /// arrival then waits for one commit, not two in a row. The creation's write, if so; None for
    /// any other message, which waits for the creation.
    fn offered_while_created(&self, msg: &CallMsg, st: &mut CallActorState) -> Option<Saving> {
        let (CallMsg::Offer { queue, .. }, Creation::Pending(saving)) = (msg, &st.creation) else {
            return None;
        };
        if saving.outcome_now().is_some() || queue != st.call.queue() {
            return None;
        }
        let Creation::Pending(saving) = std::mem::replace(&mut st.creation, Creation::Durable)
        else {
            unreachable!("matched above")
        };
        st.unpublished = Some(st.call.share());
        Some(saving)
    }

    /// After an offer taken while the creation was written ([`CallActor::offered_while_created`]).
    async fn offer_handled(
        &self,
        myself: &ActorRef<CallMsg>,
        st: &mut CallActorState,
        saving: Saving,
        outcome: Result<(), ActorProcessingErr>,
    ) -> Result<(), ActorProcessingErr> {
        match (outcome, st.unpublished.take()) {
            // Committed: the call is durable and published, from its creation on.
            (Ok(()), None) => Ok(()),
            // The offer was stale and nothing written: the creation decides, as for any
            // message.
            (Ok(()), Some(_)) => {
                st.creation = Creation::Pending(saving);
                Ok(())
            }
            // The offer's write failed: its agents are let go.
            (Err(e), created) => {
                self.withdraw(st.call.id(), st.call.offered().to_vec());
                match saving.outcome().await {
                    // The creation's failed too: the call never was.
                    Err(failed) => {
                        self.undo(myself, st, failed);
                        Ok(())
                    }
                    // The call is durable as created: published so, and the actor restarts
                    // from it, as after any failed write.
                    Ok(()) => {
                        if let Some(created) = created {
                            self.ctx.bus.publish_journey(&created, 0);
                        }
                        Err(e)
                    }
                }
            }
        }
    }

    /// A message to a call whose creation was not saved: the agents a queue reserved for it
    /// are released; an ask gets no answer (the call is unknown to its asker).
    fn unsaved(&self, msg: CallMsg, call: &CallId) {
        if let CallMsg::Offer { agents, .. } = msg {
            self.withdraw(call, agents);
        }
    }
}
