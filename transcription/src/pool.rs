//! Bounded transcription work (I4): a fixed set of worker threads, apart from the async
//! runtime, decoding the legs' windows.
//!
//! - Each leg has at most one job queued or running (see [`crate::stream`]), so a leg never
//!   waits behind its own backlog and never blocks on another leg: submitting never blocks.
//! - Finals are taken before partials. When the queue is full, a new partial is refused at
//!   once, and a partial that waited longer than [`PoolConfig::partial_deadline_ms`] is
//!   skipped unrun: under overload partials go first, finals are kept.
//! - A leg's decoder state travels with its job and comes back with the result: one state
//!   per stream, created on a worker on first use.

use crate::stream::{Job, JobKind, Outcome};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// What decodes a window. [`crate::whisper::Model`] in production; tests may use another.
pub trait Decode: Send + Sync + 'static {
    /// Per-stream decoder state.
    type State: Send + 'static;
    /// A fresh state for a stream.
    fn new_state(&self) -> Result<Self::State, String>;
    /// The text of 16 kHz mono `pcm` (guards applied; empty when nothing was said). `spare`:
    /// no other job was waiting when this one was taken, so it may take its time (a slower,
    /// better decode).
    fn decode(
        &self,
        state: &mut Self::State,
        pcm: &[f32],
        kind: JobKind,
        spare: bool,
    ) -> Result<String, String>;
}

/// Pool sizing.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolConfig {
    /// Worker threads.
    pub workers: usize,
    /// Jobs waiting beyond which new partials are refused.
    pub queue: usize,
    /// A partial waiting longer than this is skipped (its window is stale by then).
    pub partial_deadline_ms: u64,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            workers: 2,
            queue: 8,
            partial_deadline_ms: 1_000,
        }
    }
}

/// A job with its stream's decoder state and where its result goes.
pub struct Task<S> {
    /// The window.
    pub job: Job,
    /// The stream's state, if it has one yet.
    pub state: Option<S>,
    /// Called once, on a worker thread (or at once when refused), with the result.
    pub reply: Box<dyn FnOnce(Done<S>) + Send>,
}

/// A job's result, with the stream's state handed back.
pub struct Done<S> {
    /// Which job.
    pub job: u64,
    /// Its outcome.
    pub outcome: Outcome,
    /// The stream's decoder state.
    pub state: Option<S>,
}

/// The pool's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PoolStats {
    /// Worker threads.
    pub workers: usize,
    /// Jobs waiting now.
    pub queued: usize,
    /// Partials decoded.
    pub partials: u64,
    /// Finals decoded.
    pub finals: u64,
    /// Partials skipped (refused or stale).
    pub skipped_partials: u64,
}

struct Queued<S> {
    task: Task<S>,
    at: Instant,
}

struct Queues<S> {
    finals: VecDeque<Queued<S>>,
    partials: VecDeque<Queued<S>>,
    stop: bool,
}

struct Shared<E: Decode> {
    engine: E,
    config: PoolConfig,
    queues: Mutex<Queues<E::State>>,
    ready: Condvar,
    partials: AtomicU64,
    finals: AtomicU64,
    skipped: AtomicU64,
}

impl<E: Decode> Shared<E> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queues<E::State>> {
        // Queues of owned tasks: a poisoned lock (a panicking reply) leaves them usable.
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The worker pool. Dropping it lets the workers finish the queued finals and stop; queued
/// partials are answered as skipped.
pub struct Pool<E: Decode> {
    shared: Arc<Shared<E>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl<E: Decode> Pool<E> {
    /// Starts `config.workers` threads (at least one).
    pub fn new(engine: E, config: PoolConfig) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            engine,
            config: config.clone(),
            queues: Mutex::new(Queues {
                finals: VecDeque::new(),
                partials: VecDeque::new(),
                stop: false,
            }),
            ready: Condvar::new(),
            partials: AtomicU64::new(0),
            finals: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
        });
        let threads = (0..config.workers.max(1))
            .map(|i| {
                let shared = shared.clone();
                std::thread::Builder::new()
                    .name(format!("transcriber-{i}"))
                    .spawn(move || work(&shared))
            })
            .collect::<Result<_, _>>()?;
        Ok(Pool { shared, threads })
    }

    /// The decoder.
    pub fn engine(&self) -> &E {
        &self.shared.engine
    }

    /// Queues a job; never blocks. A partial is refused (answered as skipped at once) when
    /// the queue is full.
    pub fn submit(&self, task: Task<E::State>) {
        let mut q = self.shared.lock();
        let full = q.finals.len() + q.partials.len() >= self.shared.config.queue;
        let queued = Queued {
            task,
            at: Instant::now(),
        };
        match queued.task.job.kind {
            JobKind::Final => q.finals.push_back(queued),
            JobKind::Partial if !full && !q.stop => q.partials.push_back(queued),
            JobKind::Partial => {
                drop(q);
                self.shared.skipped.fetch_add(1, Ordering::Relaxed);
                return skip(queued.task);
            }
        }
        drop(q);
        self.shared.ready.notify_one();
    }

    /// The counters.
    pub fn stats(&self) -> PoolStats {
        let q = self.shared.lock();
        PoolStats {
            workers: self.threads.len(),
            queued: q.finals.len() + q.partials.len(),
            partials: self.shared.partials.load(Ordering::Relaxed),
            finals: self.shared.finals.load(Ordering::Relaxed),
            skipped_partials: self.shared.skipped.load(Ordering::Relaxed),
        }
    }
}

fn skip<S>(task: Task<S>) {
    (task.reply)(Done {
        job: task.job.id,
        outcome: Outcome::Skipped,
        state: task.state,
    });
}

fn work<E: Decode>(shared: &Shared<E>) {
    let deadline = Duration::from_millis(shared.config.partial_deadline_ms);
    loop {
        let next = {
            let mut q = shared.lock();
            loop {
                if let Some(t) = q.finals.pop_front() {
                    let spare = q.finals.is_empty() && q.partials.is_empty();
                    break Some((t, spare));
                }
                if let Some(t) = q.partials.pop_front() {
                    let spare = q.partials.is_empty();
                    break Some((t, spare));
                }
                if q.stop {
                    break None;
                }
                q = shared.ready.wait(q).unwrap_or_else(|e| e.into_inner());
            }
        };
        let Some((Queued { task, at }, spare)) = next else {
            return;
        };
        let kind = task.job.kind;
        let stopping = shared.lock().stop;
        if kind == JobKind::Partial && (stopping || at.elapsed() > deadline) {
            shared.skipped.fetch_add(1, Ordering::Relaxed);
            skip(task);
            continue;
        }
        let Task { job, state, reply } = task;
        let mut state = match state.map_or_else(|| shared.engine.new_state(), Ok) {
            Ok(s) => s,
            Err(e) => {
                reply(Done {
                    job: job.id,
                    outcome: Outcome::Failed(e),
                    state: None,
                });
                continue;
            }
        };
        let outcome = match shared.engine.decode(&mut state, &job.pcm, kind, spare) {
            Ok(text) => Outcome::Text(text),
            Err(e) => Outcome::Failed(e),
        };
        let counter = match kind {
            JobKind::Partial => &shared.partials,
            JobKind::Final => &shared.finals,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        reply(Done {
            job: job.id,
            outcome,
            state: Some(state),
        });
    }
}

impl<E: Decode> Drop for Pool<E> {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.ready.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// Decodes by sleeping `ms` and answering the window's length.
    struct Slow(u64);

    impl Decode for Slow {
        type State = u32;
        fn new_state(&self) -> Result<u32, String> {
            Ok(0)
        }
        fn decode(
            &self,
            uses: &mut u32,
            pcm: &[f32],
            _: JobKind,
            _: bool,
        ) -> Result<String, String> {
            *uses += 1;
            std::thread::sleep(Duration::from_millis(self.0));
            Ok(format!("{} samples", pcm.len()))
        }
    }

    fn job(id: u64, kind: JobKind) -> Job {
        Job {
            id,
            kind,
            pcm: vec![0.0; id as usize],
            arrived_ms: 0,
        }
    }

    fn task(id: u64, kind: JobKind, tx: &mpsc::Sender<Done<u32>>) -> Task<u32> {
        let tx = tx.clone();
        Task {
            job: job(id, kind),
            state: None,
            reply: Box::new(move |d| {
                let _ = tx.send(d);
            }),
        }
    }

    #[test]
    fn overload_skips_partials_and_keeps_every_final() {
        let pool = Pool::new(
            Slow(30),
            PoolConfig {
                workers: 1,
                queue: 4,
                partial_deadline_ms: 10_000,
            },
        )
        .unwrap();
        let (tx, rx) = mpsc::channel();
        // 40 legs each submit a partial and a final at once: far more than one worker does.
        for leg in 0..40u64 {
            pool.submit(task(leg * 2 + 1, JobKind::Partial, &tx));
            pool.submit(task(leg * 2 + 2, JobKind::Final, &tx));
        }
        let done: Vec<Done<u32>> = (0..80)
            .map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap())
            .collect();
        let finals: Vec<&Done<u32>> = done.iter().filter(|d| d.job % 2 == 0).collect();
        assert_eq!(finals.len(), 40);
        assert!(finals
            .iter()
            .all(|d| d.outcome == Outcome::Text(format!("{} samples", d.job))));
        let skipped = done
            .iter()
            .filter(|d| d.outcome == Outcome::Skipped)
            .count();
        assert!(skipped >= 36, "only {skipped} partials skipped");
        let stats = pool.stats();
        assert_eq!((stats.finals, stats.skipped_partials), (40, skipped as u64));
        assert_eq!(stats.partials + stats.skipped_partials, 40);
    }

    #[test]
    fn a_stale_partial_is_skipped_and_the_state_comes_back() {
        let pool = Pool::new(
            Slow(100),
            PoolConfig {
                workers: 1,
                queue: 8,
                partial_deadline_ms: 50,
            },
        )
        .unwrap();
        let (tx, rx) = mpsc::channel();
        pool.submit(task(10, JobKind::Final, &tx));
        let mut stale = task(11, JobKind::Partial, &tx);
        stale.state = Some(7);
        pool.submit(stale);
        let first = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!((first.job, first.state), (10, Some(1)));
        let second = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(
            (second.job, second.outcome, second.state),
            (11, Outcome::Skipped, Some(7))
        );
    }

    #[test]
    fn dropping_the_pool_answers_what_is_queued() {
        let pool = Pool::new(Slow(50), PoolConfig::default()).unwrap();
        let (tx, rx) = mpsc::channel();
        for i in 1..=6 {
            pool.submit(task(i, JobKind::Partial, &tx));
        }
        drop(pool);
        let answered = rx.try_iter().count();
        assert_eq!(answered, 6);
    }
}
