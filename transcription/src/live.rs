//! A leg being transcribed live: its [`LegStream`] driven by audio as it comes and by the
//! [`Pool`]'s results, for one async task per leg (legs never wait on each other).

use crate::pool::{Decode, Done, Pool, Task};
use crate::stream::{LegMetrics, LegStream, Output, PauseReason, StreamConfig};
use crate::Leg;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

/// One leg's live transcript.
pub struct LiveLeg<E: Decode> {
    stream: LegStream,
    pool: Arc<Pool<E>>,
    state: Option<E::State>,
    busy: bool,
    /// When the last decode came back (the state is released after `release` of idleness).
    idle_since: Instant,
    release: std::time::Duration,
    done_tx: mpsc::UnboundedSender<Done<E::State>>,
    done_rx: mpsc::UnboundedReceiver<Done<E::State>>,
    epoch: Instant,
}

impl<E: Decode> LiveLeg<E> {
    /// A leg decoded by `pool`.
    pub fn new(pool: Arc<Pool<E>>, leg: Leg, config: StreamConfig) -> Self {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let release = std::time::Duration::from_millis(config.release_state_ms);
        LiveLeg {
            stream: LegStream::new(leg, config),
            pool,
            state: None,
            busy: false,
            idle_since: Instant::now(),
            release,
            done_tx,
            done_rx,
            epoch: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// The leg's counters.
    pub fn metrics(&self) -> &LegMetrics {
        self.stream.metrics()
    }

    /// Whether it is paused.
    pub fn paused(&self) -> Option<PauseReason> {
        self.stream.paused()
    }

    /// The leg's next 16 kHz samples, arriving now, and what they finished (see
    /// [`LiveLeg::push_at`]).
    pub fn push(&mut self, samples: &[i16]) -> Vec<Output> {
        self.push_at(samples, Instant::now())
    }

    /// The leg's next 16 kHz samples, which arrived at `arrived` (the lag counts from there:
    /// time spent queued before the transcriber is part of it). Returns what they finished:
    /// an utterance whose early decode stands for its final is final as its pause ends.
    pub fn push_at(&mut self, samples: &[i16], arrived: Instant) -> Vec<Output> {
        let at = arrived.saturating_duration_since(self.epoch).as_millis() as u64;
        let mut out = self.stream.push(samples, at);
        self.submit();
        out.extend(self.stream.poll_outputs());
        // Idleness on the audio's own clock: the time its samples arrive.
        let idle = arrived.saturating_duration_since(self.idle_since);
        if !self.busy && self.state.is_some() && idle >= self.release {
            // Silence, hold or a mask for a while: the decoder state goes back.
            self.state = None;
        }
        out
    }

    /// Whether the leg holds a decoder state now.
    pub fn holds_state(&self) -> bool {
        self.state.is_some()
    }

    /// Stops transcribing (hold, mask); the announcement may wait for pending finals.
    pub fn pause(&mut self, why: PauseReason) -> Vec<Output> {
        let out = self.stream.pause(why);
        self.submit();
        out
    }

    /// Transcribes again.
    pub fn resume(&mut self) -> Vec<Output> {
        self.stream.resume()
    }

    fn submit(&mut self) {
        if self.busy {
            return;
        }
        if let Some(job) = self.stream.next_job() {
            self.busy = true;
            let tx = self.done_tx.clone();
            self.pool.submit(Task {
                job,
                state: self.state.take(),
                reply: Box::new(move |d| {
                    let _ = tx.send(d);
                }),
            });
        }
    }

    /// Waits for the leg's next decode result and returns what it yields (possibly
    /// nothing). Pending forever while no job is out: use it in a `select!`.
    pub async fn next(&mut self) -> Vec<Output> {
        if !self.busy {
            return std::future::pending().await;
        }
        let Some(done) = self.done_rx.recv().await else {
            return std::future::pending().await;
        };
        self.take(done)
    }

    fn take(&mut self, done: Done<E::State>) -> Vec<Output> {
        self.busy = false;
        self.idle_since = Instant::now();
        if done.state.is_some() {
            self.state = done.state;
        }
        let now = self.now_ms();
        let mut out = self.stream.on_result(done.job, done.outcome, now);
        self.submit();
        out.extend(self.stream.poll_outputs());
        out
    }

    /// The leg ended: finishes what was said and returns the remaining outputs.
    pub async fn finish(mut self) -> Finished {
        let mut outputs = self.stream.end();
        self.submit();
        while self.busy {
            let Some(done) = self.done_rx.recv().await else {
                break;
            };
            outputs.extend(self.take(done));
        }
        Finished {
            outputs,
            lag_ms: self.metrics().lag_ms,
        }
    }
}

/// What a leg said last.
#[derive(Debug)]
pub struct Finished {
    /// The outputs of its last decodes.
    pub outputs: Vec<Output>,
    /// The lag of the last one (ms).
    pub lag_ms: u64,
}
