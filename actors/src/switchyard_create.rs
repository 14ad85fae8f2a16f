//! A call enters the system: its creation is handed to the store and the call enqueued while
//! it commits (the writer commits in the order it is handed writes, so an agent's reservation
//! of the call, and the call's first offer, commit with it or after it). The call's actor
//! publishes it once it is durable (`call_creation`), and the creator acknowledges it then.

use super::{new_call_id, Switchyard};
use crate::call_actor::CallMsg;
use crate::error::ActorError;
use engine::call::Call;
use engine::routing::Skills;
use engine::QueueId;
use std::sync::Arc;

impl Switchyard {
    /// A call enters the system (telephony ingress). It is persisted before this returns.
    pub async fn create_call(
        &self,
        from: String,
        queue: &str,
        priority: i32,
        skills: Skills,
    ) -> Result<Arc<Call>, ActorError> {
        let attributes = engine::routing::Attributes::new();
        self.create_call_with(from, queue, priority, skills, attributes)
            .await
    }

    /// [`Switchyard::create_call`] with custom attributes, which routing strategies and
    /// extensions read (`call.attributes()`).
    pub async fn create_call_with(
        &self,
        from: String,
        queue: &str,
        priority: i32,
        skills: Skills,
        attributes: engine::routing::Attributes,
    ) -> Result<Arc<Call>, ActorError> {
        let queue = QueueId::from(queue);
        if self.ctx.queue(&queue).is_none() {
            return Err(ActorError::UnknownQueue(queue.to_string()));
        }
        let call = Arc::new(
            Call::new(new_call_id(), self.now(), from, queue, priority, skills)
                .with_attributes(attributes),
        );
        // The store (memory) and the call's actor hold the same snapshot. The call is enqueued
        // while its creation commits (an agent's reservation and its offer commit with it or
        // after it); its actor publishes it once durable, and it is acknowledged then.
        let saving = self.ctx.store.submit_call(&call, self.now().0).await?;
        match saving.outcome_now() {
            Some(saved) => {
                saved?;
                self.spawn_call(Arc::clone(&call), None, None).await?;
            }
            None => {
                self.spawn_call(Arc::clone(&call), None, Some(saving.clone()))
                    .await?;
                let saved = saving.outcome().await;
                // Answered once its actor took the outcome in: its first steps published, or,
                // if the creation failed, the call out of its queue. The actor answers only if
                // the call is durable: by its creation's write, or, if that failed alone, by
                // its first offer's, which carries the call whole (no time limit: the offer's
                // commit may take as long as the database does, and the actor answers or
                // drops the question once it is known).
                let durable = match self.ctx.call(call.id()) {
                    Some(r) => matches!(
                        r.call(|reply| CallMsg::Get { reply }, None).await,
                        Ok(ractor::rpc::CallResult::Success(_))
                    ),
                    None => false,
                };
                if !durable {
                    saved?;
                }
            }
        }
        Ok(call)
    }
}
