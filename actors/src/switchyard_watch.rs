//! The part of [`Switchyard`] an extension watching the queues acts through: alerting the
//! supervisors, and widening what a waiting call asks for (B3) so more agents may take it.

use super::Switchyard;
use crate::call_actor::CallMsg;
use crate::error::ActorError;
use crate::events::EventKind;
use engine::alerts::Severity;
use engine::call::Call;
use engine::routing::Skills;
use engine::QueueId;
use std::sync::Arc;

impl Switchyard {
    /// Raises a `queue.alert` event about `queue` to the supervisors (the supervisor view
    /// shows it; agents do not receive it). `by` names who raised it (an extension's name).
    /// The text is trimmed and must have 1 to 500 characters, none of them control
    /// characters.
    ///
    /// ```no_run
    /// # async fn run(yard: actors::Switchyard) -> Result<(), actors::ActorError> {
    /// use engine::alerts::Severity;
    /// yard.alert_supervisors("support", Severity::Critical, "longest wait 95 s", "sla").await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn alert_supervisors(
        &self,
        queue: &str,
        severity: Severity,
        text: &str,
        by: &str,
    ) -> Result<(), ActorError> {
        if self.ctx.config.queue(queue).is_none() {
            return Err(ActorError::UnknownQueue(queue.to_owned()));
        }
        let text = engine::alerts::supervisor_alert_text(text)?.to_owned();
        let by = by.chars().take(64).collect();
        let kind = EventKind::QueueAlert {
            queue: QueueId::from(queue),
            severity,
            text,
            by,
        };
        self.ctx.bus.publish(self.now(), kind);
        Ok(())
    }

    /// Widens a waiting call's skill requirements to `skills` (each present requirement
    /// lowered or dropped, none added or raised): the call keeps its place in line (or its
    /// offer, if agents ring for it), and the queue's next decision sees the new
    /// requirements. Logged in the call's journey (`call.skills_widened`).
    ///
    /// ```no_run
    /// # async fn run(yard: actors::Switchyard, id: &str) -> Result<(), actors::ActorError> {
    /// let call = yard.call(id).await?;
    /// // Every required level lowered by one (a level of one dropped).
    /// let lower = call.skills().iter().filter(|(_, l)| **l > 1).map(|(s, l)| (s.clone(), l - 1));
    /// yard.widen_skills(id, lower.collect()).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn widen_skills(&self, call: &str, skills: Skills) -> Result<Arc<Call>, ActorError> {
        self.to_call(call, |reply| CallMsg::WidenSkills { skills, reply })
            .await
    }
}
