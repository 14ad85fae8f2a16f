//! Scheduled calls (E5): a call to a customer at a chosen date and time. Pending schedules
//! are persisted; when one is due (or overdue, after the server was down) it fires once,
//! becoming a callback in its queue: an agent's phone rings first, then the customer's.

use crate::{AgentId, CallId, QueueId, Timestamp};
use serde::{Deserialize, Serialize};

/// Where a schedule stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ScheduleState {
    /// Waiting for its time.
    Pending,
    /// Fired: this call carries it.
    Fired {
        /// The call.
        call: CallId,
        /// When it fired (later than planned when the server was down then).
        at: Timestamp,
    },
    /// Not called: a compliance rule refused the number when it fell due.
    Refused {
        /// The rule's code.
        reason: String,
    },
}

/// A scheduled call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// Its id.
    pub id: String,
    /// The customer's number.
    pub number: String,
    /// The queue the call goes out on.
    pub queue: QueueId,
    /// When to call.
    pub at: Timestamp,
    /// The agent who scheduled it, if any.
    pub by: Option<AgentId>,
    /// Where it stands.
    #[serde(flatten)]
    pub state: ScheduleState,
}

/// The pending schedules due at `now` (overdue ones included), earliest first.
pub fn due(schedules: &[Schedule], now: Timestamp) -> Vec<&Schedule> {
    let mut out: Vec<&Schedule> = schedules
        .iter()
        .filter(|s| s.state == ScheduleState::Pending && s.at <= now)
        .collect();
    out.sort_by_key(|s| (s.at, s.id.clone()));
    out
}

/// When the next pending schedule falls due.
pub fn next_due(schedules: &[Schedule]) -> Option<Timestamp> {
    schedules
        .iter()
        .filter(|s| s.state == ScheduleState::Pending)
        .map(|s| s.at)
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(id: &str, at: i64) -> Schedule {
        Schedule {
            id: id.into(),
            number: "+15550001".into(),
            queue: "support".into(),
            at: Timestamp(at),
            by: None,
            state: ScheduleState::Pending,
        }
    }

    #[test]
    fn overdue_schedules_fire_at_start_in_order_and_fired_ones_never_again() {
        let mut all = vec![
            pending("late", 3_000),
            pending("early", 1_000),
            pending("future", 9_000),
        ];
        // The server was down from 500 to 5_000: both missed schedules are due at start.
        let ids: Vec<_> = due(&all, Timestamp(5_000))
            .iter()
            .map(|s| s.id.clone())
            .collect();
        assert_eq!(ids, ["early", "late"]);
        assert_eq!(next_due(&all), Some(Timestamp(1_000)));
        all[1].state = ScheduleState::Fired {
            call: "c1".into(),
            at: Timestamp(5_000),
        };
        all[0].state = ScheduleState::Fired {
            call: "c2".into(),
            at: Timestamp(5_000),
        };
        assert!(due(&all, Timestamp(5_000)).is_empty());
        assert_eq!(next_due(&all), Some(Timestamp(9_000)));
    }
}
