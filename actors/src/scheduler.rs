//! The scheduler actor (E5): keeps the pending scheduled calls and fires each when due. At
//! start it loads them from the store, so schedules survive a restart and those that fell
//! due while the server was down fire at once.

use crate::timer::Timer;
use crate::Switchyard;
use engine::schedule::{due, next_due, Schedule};
use ractor::{Actor, ActorProcessingErr, ActorRef};

/// Messages to the scheduler.
pub(crate) enum SchedulerMsg {
    /// A new schedule (already persisted).
    Add(Schedule),
    /// The timer.
    Timeout(u64),
}

/// How long a schedule that failed to fire waits before the next try.
const RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

pub(crate) struct SchedulerActor {
    pub yard: Switchyard,
}

pub(crate) struct SchedulerState {
    pending: Vec<Schedule>,
    timer: Timer,
}

impl SchedulerActor {
    /// Fires what is due, then waits for the next one.
    async fn run(
        &self,
        myself: &ActorRef<SchedulerMsg>,
        st: &mut SchedulerState,
    ) -> Result<(), ActorProcessingErr> {
        let now = self.yard.now();
        let fire: Vec<Schedule> = due(&st.pending, now).into_iter().cloned().collect();
        let mut failed = false;
        for s in fire {
            // A failure leaves the schedule pending: it is tried again a little later or at
            // the next start, never lost.
            match self.yard.fire_schedule(&s).await {
                Ok(()) => st.pending.retain(|p| p.id != s.id),
                Err(e) => {
                    failed = true;
                    tracing::error!(schedule = %s.id, error = %e, "scheduled call could not fire");
                }
            }
        }
        let earliest = now
            + if failed {
                RETRY_AFTER
            } else {
                std::time::Duration::from_millis(1)
            };
        let next = next_due(&st.pending).map(|t| t.max(earliest));
        st.timer
            .arm(myself, self.yard.wakeups(), next, SchedulerMsg::Timeout);
        Ok(())
    }
}

impl Actor for SchedulerActor {
    type Msg = SchedulerMsg;
    type State = SchedulerState;
    type Arguments = ();

    async fn pre_start(
        &self,
        _myself: ActorRef<SchedulerMsg>,
        _: (),
    ) -> Result<SchedulerState, ActorProcessingErr> {
        let pending = self.yard.store().schedules(true).await?;
        Ok(SchedulerState {
            pending,
            timer: Timer::default(),
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<SchedulerMsg>,
        st: &mut SchedulerState,
    ) -> Result<(), ActorProcessingErr> {
        self.run(&myself, st).await
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<SchedulerMsg>,
        st: &mut SchedulerState,
    ) -> Result<(), ActorProcessingErr> {
        st.timer.cancel();
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<SchedulerMsg>,
        msg: SchedulerMsg,
        st: &mut SchedulerState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SchedulerMsg::Add(s) => st.pending.push(s),
            SchedulerMsg::Timeout(generation) => {
                if !st.timer.fire(generation) {
                    return Ok(());
                }
            }
        }
        self.run(&myself, st).await
    }
}
