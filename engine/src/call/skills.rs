//! Widening a waiting call's skill requirements (B3) from outside the queue's own escalation
//! steps: an extension (an SLA watcher) or a supervisor lowers what a call asks for while it
//! waits. The call keeps its place in line; only requirements already there may be lowered
//! or dropped, never added or raised, so a widening can only let more agents take the call.

use super::{Call, CallState, JourneyEvent};
use crate::routing::Skills;
use crate::{Error, Timestamp};

impl Call {
    /// The skills the call requires, each with its minimum level (before the queue's
    /// escalation steps, which depend on the wait).
    pub fn skills(&self) -> &Skills {
        &self.skills
    }

    /// Widens the call's requirements to `to` while it waits in its queue or rings there.
    /// Returns whether anything changed (the same requirements again change nothing and log
    /// nothing); the shell then tells the queue, which keeps the call where it is in line.
    pub fn widen_skills(&mut self, now: Timestamp, to: Skills) -> Result<bool, Error> {
        if !matches!(self.state, CallState::Waiting | CallState::Offering) {
            return Err(Error::CallState(
                self.id.clone(),
                self.state.as_str().to_owned(),
                "widen its skill requirements (only a call waiting in a queue can)",
            ));
        }
        if let Some((skill, level)) = to
            .iter()
            .find(|(s, l)| self.skills.get(*s).is_none_or(|had| *l > had))
        {
            return Err(Error::NotWider(self.id.clone(), format!("{skill} {level}")));
        }
        if to == self.skills {
            return Ok(false);
        }
        let from = std::mem::replace(&mut self.skills, to.clone());
        self.log(now, JourneyEvent::SkillsWidened { from, to });
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AgentId, CallId, QueueId};

    fn skills(list: &[(&str, u8)]) -> Skills {
        list.iter().map(|(s, l)| (s.to_string(), *l)).collect()
    }

    fn waiting() -> Call {
        let required = skills(&[("billing", 5), ("french", 3)]);
        Call::new(
            CallId::from("c1"),
            Timestamp(1_000),
            "+3225550001".into(),
            QueueId::from("support"),
            0,
            required,
        )
    }

    #[test]
    fn a_waiting_call_lowers_and_drops_requirements_and_logs_it() {
        let mut call = waiting();
        assert_eq!(
            call.widen_skills(Timestamp(5_000), skills(&[("billing", 2)])),
            Ok(true)
        );
        assert_eq!(call.skills(), &skills(&[("billing", 2)]));
        assert_eq!(call.waiting_call().skills, skills(&[("billing", 2)]));
        assert_eq!(
            call.waiting_call().enqueued_at,
            Timestamp(1_000),
            "its place in line"
        );
        let last = call.journey().last().unwrap();
        assert_eq!(last.at, Timestamp(5_000));
        assert_eq!(
            last.event,
            JourneyEvent::SkillsWidened {
                from: skills(&[("billing", 5), ("french", 3)]),
                to: skills(&[("billing", 2)]),
            }
        );
        // The same again: nothing changes, nothing is logged.
        let logged = call.journey().len();
        assert_eq!(
            call.widen_skills(Timestamp(6_000), skills(&[("billing", 2)])),
            Ok(false)
        );
        assert_eq!(call.journey().len(), logged);
        // Down to nothing: any member may take it.
        assert_eq!(call.widen_skills(Timestamp(7_000), Skills::new()), Ok(true));
        assert!(call.skills().is_empty());
    }

    #[test]
    fn adding_or_raising_a_requirement_is_refused_and_changes_nothing() {
        let mut call = waiting();
        let before = call.clone();
        for to in [
            skills(&[("billing", 6)]),
            skills(&[("billing", 5), ("spanish", 1)]),
        ] {
            let e = call.widen_skills(Timestamp(5_000), to).unwrap_err();
            assert_eq!(e.code(), "skills_not_wider");
            assert!(e.is_invalid_input());
        }
        assert_eq!(call, before);
    }

    #[test]
    fn only_a_call_in_a_queue_is_widened() {
        let mut call = waiting();
        let alice = AgentId::from("alice");
        call.offer(
            Timestamp(2_000),
            vec![alice.clone()],
            std::time::Duration::from_secs(18),
        )
        .unwrap();
        assert_eq!(
            call.widen_skills(Timestamp(2_500), skills(&[("billing", 1)])),
            Ok(true),
            "ringing: still in its queue"
        );
        call.accept(Timestamp(3_000), &alice).unwrap();
        let e = call
            .widen_skills(Timestamp(4_000), Skills::new())
            .unwrap_err();
        assert_eq!(e.code(), "call_state");
        assert_eq!(call.skills(), &skills(&[("billing", 1)]));
    }
}
