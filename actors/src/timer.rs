//! One re-armable timer per actor, on tokio time (so paused-time tests drive it).
//!
//! The engine says when it next needs waking (`poll_timeout`); the shell keeps exactly one
//! pending wake-up for that moment. A generation number makes a wake-up that raced a re-arm
//! harmless.
//!
//! The wake-ups of every actor of an engine wait in one ordered map ([`Wakeups`]) that one task
//! drives, sleeping until the earliest. (A task per wake-up, which ractor's `send_after` spawns,
//! cost a spawn, a timer entry and an abort each time a call or an agent re-armed: several
//! times a routed call.)

use crate::clock::Clock;
use engine::Timestamp;
use ractor::{ActorRef, Message};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use tokio::time::Instant;

/// Where a wake-up waits: its moment, then the order it was armed in.
type Key = (Instant, u64);

/// What a wake-up does: sends its message.
type Fire = Box<dyn FnOnce() + Send>;

/// The pending wake-ups of one engine's actors, soonest first, and the task that fires them.
#[derive(Clone)]
pub(crate) struct Wakeups {
    shared: Arc<Shared>,
    clock: Clock,
}

struct Shared {
    due: Mutex<BTreeMap<Key, Fire>>,
    next: AtomicU64,
    /// A wake-up became the soonest: the task sleeps until it instead.
    sooner: Notify,
}

impl Wakeups {
    /// The wake-ups of an engine on `clock`; their task runs on the current tokio runtime
    /// (and ends with it).
    pub(crate) fn start(clock: Clock) -> Wakeups {
        let shared = Arc::new(Shared {
            due: Mutex::default(),
            next: AtomicU64::new(0),
            sooner: Notify::new(),
        });
        tokio::spawn(drive(shared.clone()));
        Wakeups { shared, clock }
    }

    fn add(&self, at: Instant, fire: Fire) -> Key {
        let key = (at, self.shared.next.fetch_add(1, Ordering::Relaxed));
        let soonest = {
            let mut due = lock(&self.shared.due);
            due.insert(key, fire);
            due.keys().next() == Some(&key)
        };
        if soonest {
            self.shared.sooner.notify_one();
        }
        key
    }

    fn remove(&self, key: &Key) {
        // Dropped after the lock: the message it would have sent holds an actor's reference.
        let _gone = lock(&self.shared.due).remove(key);
    }
}

fn lock(m: &Mutex<BTreeMap<Key, Fire>>) -> std::sync::MutexGuard<'_, BTreeMap<Key, Fire>> {
    // Only inserts and removals happen under it (a wake-up's message is sent after): the map
    // stays whole whatever panicked.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Fires what is due, then sleeps until the soonest wake-up left or until one sooner comes.
async fn drive(shared: Arc<Shared>) {
    loop {
        // Registered before the map is read, so that a sooner wake-up added meanwhile wakes it.
        let sooner = shared.sooner.notified();
        tokio::pin!(sooner);
        sooner.as_mut().enable();
        let (fire, next) = {
            let mut due = lock(&shared.due);
            let now = Instant::now();
            let mut fire = Vec::new();
            while let Some(entry) = due.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                fire.push(entry.remove());
            }
            (fire, due.keys().next().map(|k| k.0))
        };
        if !fire.is_empty() {
            for f in fire {
                f();
            }
            continue;
        }
        match next {
            Some(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = &mut sooner => {}
                }
            }
            None => sooner.await,
        }
    }
}

/// The actor's pending wake-up.
#[derive(Default)]
pub(crate) struct Timer {
    at: Option<Timestamp>,
    pending: Option<(Wakeups, Key)>,
    generation: u64,
}

impl Timer {
    /// Makes the pending wake-up be at `at` (or none), sending `make(generation)` then.
    pub(crate) fn arm<M: Message>(
        &mut self,
        myself: &ActorRef<M>,
        wakeups: &Wakeups,
        at: Option<Timestamp>,
        make: fn(u64) -> M,
    ) {
        if self.at == at && self.pending.is_some() == at.is_some() {
            return;
        }
        self.cancel();
        self.at = at;
        if let Some(at) = at {
            let generation = self.generation;
            let actor = myself.clone();
            let key = wakeups.add(
                wakeups.clock.instant_at(at),
                Box::new(move || {
                    // An actor that stopped meanwhile is not an error.
                    let _ = actor.cast(make(generation));
                }),
            );
            self.pending = Some((wakeups.clone(), key));
        }
    }

    /// Makes sure a wake-up comes by `at`: one pending sooner is kept (woken early, the
    /// actor finds nothing due and arms again). For an actor whose next moment moves later at
    /// almost every message (a queue's reservation deadlines, one per routed call), this arms
    /// once per deadline passed rather than at every message.
    pub(crate) fn arm_by<M: Message>(
        &mut self,
        myself: &ActorRef<M>,
        wakeups: &Wakeups,
        at: Option<Timestamp>,
        make: fn(u64) -> M,
    ) {
        let sooner = match (self.at, at) {
            (Some(pending), Some(at)) => pending <= at,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if !sooner {
            self.arm(myself, wakeups, at, make);
        }
    }

    /// Whether a wake-up of this generation is the current one; consumes it.
    pub(crate) fn fire(&mut self, generation: u64) -> bool {
        if generation != self.generation || self.at.is_none() {
            return false;
        }
        self.at = None;
        self.pending = None;
        self.generation += 1;
        true
    }

    /// Drops the pending wake-up.
    pub(crate) fn cancel(&mut self) {
        if let Some((wakeups, key)) = self.pending.take() {
            wakeups.remove(&key);
        }
        self.at = None;
        self.generation += 1;
    }
}

impl Drop for Timer {
    /// An actor that stops leaves no wake-up behind.
    fn drop(&mut self) {
        self.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Wake-ups fire in order of their moments, each at its moment, one added sooner than the
    /// one the task sleeps for included; a removed one never fires.
    #[tokio::test(start_paused = true)]
    async fn wakeups_fire_soonest_first_each_at_its_moment_and_removed_ones_never() {
        let wakeups = Wakeups::start(Clock::new());
        let start = Instant::now();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let add = |ms: u64| {
            let tx = tx.clone();
            wakeups.add(
                at(ms),
                Box::new(move || {
                    let _ = tx.send((ms, Instant::now()));
                }),
            )
        };
        add(30);
        add(10);
        let gone = add(20);
        wakeups.remove(&gone);
        // The task sleeps until 10 ms now; one at 5 ms comes while it does.
        tokio::task::yield_now().await;
        add(5);
        let mut fired = Vec::new();
        for _ in 0..3 {
            let (ms, when) = rx.recv().await.expect("fires");
            fired.push((ms, when.duration_since(start)));
        }
        assert_eq!(fired, [5, 10, 30].map(|ms| (ms, Duration::from_millis(ms))));
        // (The removed one, at 20 ms, would have come before the one at 30.)
        assert!(rx.try_recv().is_err(), "nothing more fired");
    }
    /// Passes each wake-up's generation and moment on.
    struct Forward;

    impl ractor::Actor for Forward {
        type Msg = u64;
        type State = tokio::sync::mpsc::UnboundedSender<(u64, Instant)>;
        type Arguments = Self::State;

        async fn pre_start(
            &self,
            _: ActorRef<u64>,
            tx: Self::State,
        ) -> Result<Self::State, ractor::ActorProcessingErr> {
            Ok(tx)
        }

        async fn handle(
            &self,
            _: ActorRef<u64>,
            generation: u64,
            tx: &mut Self::State,
        ) -> Result<(), ractor::ActorProcessingErr> {
            let _ = tx.send((generation, Instant::now()));
            Ok(())
        }
    }

    /// `arm_by` keeps a wake-up pending sooner than asked (or when none is asked) and moves one
    /// pending later; `arm` moves it either way.
    #[tokio::test(start_paused = true)]
    async fn arm_by_keeps_a_sooner_wake_up_and_arm_moves_it() {
        let clock = Clock::new();
        let wakeups = Wakeups::start(clock);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let (actor, _) = ractor::Actor::spawn(None, Forward, tx).await.unwrap();
        let start = Instant::now();
        let t0 = clock.now();
        let at = |s: i64| Some(Timestamp(t0.0 + s * 1000));
        let mut timer = Timer::default();
        let id = |g| g;
        timer.arm_by(&actor, &wakeups, at(10), id);
        timer.arm_by(&actor, &wakeups, at(20), id);
        timer.arm_by(&actor, &wakeups, None, id);
        let (generation, when) = rx.recv().await.unwrap();
        assert_eq!(when - start, Duration::from_secs(10), "the sooner one kept");
        assert!(timer.fire(generation));
        timer.arm_by(&actor, &wakeups, at(30), id);
        timer.arm_by(&actor, &wakeups, at(15), id);
        let (generation, when) = rx.recv().await.unwrap();
        assert_eq!(when - start, Duration::from_secs(15), "moved sooner");
        assert!(timer.fire(generation));
        timer.arm(&actor, &wakeups, at(20), id);
        timer.arm(&actor, &wakeups, at(25), id);
        let (generation, when) = rx.recv().await.unwrap();
        assert_eq!(when - start, Duration::from_secs(25), "arm moves it later");
        assert!(timer.fire(generation));
        actor.stop(None);
    }
}
