//! Live transcripts of a call's legs (I1–I4, J2, J4): the media actor hands each transcribed
//! leg's 16 kHz fork to a task of its own, which feeds the leg's [`LiveLeg`], pauses and
//! resumes it as the call's [`AudioPlan`] says (hold, mask, not in conversation), and
//! publishes what comes out as `transcript.*` events; finals are stored when the queue keeps
//! transcripts, and a final that completes one of the queue's alert phrases raises a
//! `transcript.alert` (stored with the call always; its words only where transcripts are
//! kept).
//!
//! One task per leg: a leg never waits on another. Every segment of a leg is labelled with
//! the party whose leg it is ([`Participant::speaker`]): a leg never changes hands, so after a
//! transfer the new agent's words come from the new agent's own leg, under their name. The
//! task ends when the leg's fork closes (the leg left the call or was replaced, the call's
//! queue stopped covering it, or the call ended), after the last utterance's final. Until
//! then its call counts as `Flushing`: the CRM outbox holds the call's log until every
//! stored final is in.

use crate::config::QueueConfig;
use crate::events::{EventBus, TranscriptEvent};
use crate::media::fork::ForkReceiver;
use crate::outbox::Outbox;
use crate::store::{AlertRow, Store, TranscriptRow};
use engine::alerts::{AlertScanner, Alerts};
use engine::call::{AudioPlan, Participant, TranscriptPause};
use engine::{AgentId, CallId, QueueId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;
use transcription::live::LiveLeg;
use transcription::pool::{Decode, PoolStats};
use transcription::service::Transcriber;
use transcription::stream::{Output, PauseReason};
use transcription::{Leg, Mode, Stability};

/// A running transcription service, whatever decodes its legs: the configured whisper model
/// in production, a stand-in decoder in tests ([`crate::StartOptions::transcription`]).
#[derive(Clone)]
pub struct Transcription {
    service: Arc<dyn Service>,
    model: String,
}

impl Transcription {
    /// Legs decoded by `transcriber`, whose model is called `model` (the name
    /// `GET /transcription` shows).
    pub fn new<E: Decode>(transcriber: Transcriber<E>, model: impl Into<String>) -> Self {
        Transcription {
            service: Arc::new(transcriber),
            model: model.into(),
        }
    }

    /// The model's name.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The worker pool's counters.
    pub fn stats(&self) -> PoolStats {
        self.service.stats()
    }
}

impl std::fmt::Debug for Transcription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transcription")
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

/// A [`Transcriber`] over any decoder, as the media actors use it.
trait Service: Send + Sync {
    /// Transcribes one leg on a task of its own until its fork closes.
    fn spawn_leg(
        &self,
        leg: Leg,
        fork: ForkReceiver,
        plan: watch::Receiver<AudioPlan>,
        out: Publisher,
    );
    /// The pool's counters.
    fn stats(&self) -> PoolStats;
}

impl<E: Decode> Service for Transcriber<E> {
    fn spawn_leg(
        &self,
        leg: Leg,
        fork: ForkReceiver,
        plan: watch::Receiver<AudioPlan>,
        out: Publisher,
    ) {
        tokio::spawn(run_leg(self.leg(leg), fork, plan, out));
    }

    fn stats(&self) -> PoolStats {
        Transcriber::stats(self)
    }
}

/// What the media actors need to transcribe: the service, and where its output goes.
#[derive(Clone)]
pub struct TranscriptHub {
    service: Transcription,
    sink: TranscriptSink,
}

impl TranscriptHub {
    pub(crate) fn new(service: Transcription, sink: TranscriptSink) -> Self {
        TranscriptHub { service, sink }
    }

    /// The service.
    pub fn service(&self) -> &Transcription {
        &self.service
    }

    /// The parties whose legs `queue`'s transcript mode covers under `plan` (see
    /// [`AudioPlan::transcribed`]).
    pub(crate) fn transcribed(&self, queue: &QueueId, plan: &AudioPlan) -> Vec<Participant> {
        let mode = self.sink.queues.get(queue).map_or(Mode::Off, |q| q.mode);
        plan.transcribed(mode.covers(Leg::Customer), mode.covers(Leg::Agent))
    }

    /// Transcribes `who`'s leg until its fork closes, its segments labelled with `who`.
    pub(crate) fn spawn_leg(
        &self,
        call: CallId,
        queue: QueueId,
        who: Participant,
        fork: ForkReceiver,
        plan: watch::Receiver<AudioPlan>,
    ) {
        let audience = plan.borrow().transcript_audience(&who);
        let out = self.sink.publisher(call, queue, &who, audience);
        self.service
            .service
            .spawn_leg(leg_of(&who), fork, plan, out);
    }
}

/// A queue's transcript settings.
struct QueueSetting {
    mode: Mode,
    store: bool,
    alerts: Arc<Alerts>,
}

/// Where legs' transcripts go: the event bus, the store (finals and alerts), and the count of
/// legs still flushing per call, which the CRM outbox waits on.
#[derive(Clone)]
pub(crate) struct TranscriptSink {
    bus: EventBus,
    store: Store,
    clock: crate::clock::Clock,
    queues: Arc<HashMap<QueueId, QueueSetting>>,
    flushing: Flushing,
    outbox: Option<Outbox>,
}

impl TranscriptSink {
    pub(crate) fn new(
        bus: EventBus,
        store: Store,
        clock: crate::clock::Clock,
        queues: &[QueueConfig],
        flushing: Flushing,
        outbox: Option<Outbox>,
    ) -> Self {
        let queues = queues
            .iter()
            .map(|q| {
                let alerts = engine::alerts::Alerts::new(&q.alerts).unwrap_or_else(|e| {
                    // Config::validate refuses this; a configuration built without it loses
                    // the queue's alerts, not its transcripts.
                    tracing::error!(queue = %q.id, error = %e, "keyword alerts ignored");
                    Alerts::default()
                });
                let setting = QueueSetting {
                    mode: q.transcript,
                    store: q.store_transcript,
                    alerts: Arc::new(alerts),
                };
                (QueueId::from(q.id.as_str()), setting)
            })
            .collect();
        TranscriptSink {
            bus,
            store,
            clock,
            queues: Arc::new(queues),
            flushing,
            outbox,
        }
    }

    /// The publisher of one leg's transcript; a leg whose finals are stored counts as
    /// flushing for its call until the publisher is dropped.
    pub(crate) fn publisher(
        &self,
        call: CallId,
        queue: QueueId,
        who: &Participant,
        agents: Vec<AgentId>,
    ) -> Publisher {
        let setting = self.queues.get(&queue);
        let store = setting.is_some_and(|q| q.store);
        let flushing = store.then(|| {
            self.flushing.begin(&call);
            FlushGuard {
                flushing: self.flushing.clone(),
                call: call.clone(),
                outbox: self.outbox.clone(),
            }
        });
        Publisher {
            sink: self.clone(),
            call,
            queue,
            who: who.clone(),
            agents,
            store,
            alerts: setting.map(|q| q.alerts.clone()).unwrap_or_default(),
            scanner: AlertScanner::default(),
            origin: None,
            last_final_spoken: i64::MIN,
            _flushing: flushing,
        }
    }
}

/// The calls that have legs whose finals are still to be stored (a leg's last utterance is
/// decoded after its audio ends): the CRM outbox holds such a call's log until none is left.
#[derive(Clone, Default)]
pub(crate) struct Flushing(Arc<Mutex<HashMap<CallId, usize>>>);

impl Flushing {
    /// Whether some leg of `call` may still store a final.
    pub(crate) fn busy(&self, call: &CallId) -> bool {
        crate::context::lock(&self.0).contains_key(call)
    }

    fn begin(&self, call: &CallId) {
        *crate::context::lock(&self.0)
            .entry(call.clone())
            .or_default() += 1;
    }

    /// One leg is done; whether it was the call's last.
    fn end(&self, call: &CallId) -> bool {
        let mut all = crate::context::lock(&self.0);
        let Some(n) = all.get_mut(call) else {
            return false;
        };
        *n -= 1;
        if *n == 0 {
            all.remove(call);
            return true;
        }
        false
    }
}

/// A leg counted in [`Flushing`]; dropped when the leg's task ends (or fails), after its last
/// final was stored. The last of a call's legs releases the call's held CRM log.
struct FlushGuard {
    flushing: Flushing,
    call: CallId,
    outbox: Option<Outbox>,
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        if !self.flushing.end(&self.call) {
            return;
        }
        let (Some(outbox), Ok(rt)) = (self.outbox.clone(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let call = self.call.clone();
        rt.spawn(async move { outbox.transcript_flushed(&call).await });
    }
}

fn leg_of(who: &Participant) -> Leg {
    match who {
        // (An external party is never transcribed: `AudioPlan::transcribed` leaves it out.)
        Participant::Customer | Participant::External => Leg::Customer,
        Participant::Agent { .. } => Leg::Agent,
    }
}

fn reason(p: TranscriptPause) -> PauseReason {
    match p {
        TranscriptPause::Hold => PauseReason::Hold,
        TranscriptPause::Mask => PauseReason::Mask,
        TranscriptPause::NotConnected => PauseReason::NotConnected,
    }
}

/// One leg's transcript going out: events, stored finals, keyword alerts.
pub(crate) struct Publisher {
    sink: TranscriptSink,
    call: CallId,
    queue: QueueId,
    /// Whose leg: the speaker of every segment.
    who: Participant,
    /// The agents the leg's events concern (see [`AudioPlan::transcript_audience`]).
    agents: Vec<AgentId>,
    store: bool,
    alerts: Arc<Alerts>,
    scanner: AlertScanner,
    /// The wall-clock time (ms since the epoch) of the leg's time 0, as last estimated.
    origin: Option<i64>,
    /// When the leg's last final was spoken: a leg's segments never go back in time.
    last_final_spoken: i64,
    _flushing: Option<FlushGuard>,
}

impl Publisher {
    /// Publishes the outputs of one step of the leg; `lag_ms` is the step's lag (from the
    /// window's last audio entering the fork).
    pub(crate) async fn publish(&mut self, outputs: Vec<Output>, lag_ms: u64) {
        let heard_at = self.sink.clock.now().0 - lag_ms as i64;
        self.place(&outputs, heard_at);
        for o in outputs {
            self.emit(o, lag_ms, heard_at).await;
        }
    }

    /// Estimates where the leg's time 0 falls on the wall clock. A step's segments end at
    /// most where its window ends, which was heard at `heard_at`; a partial ends exactly
    /// there, so a step with a partial sets the estimate (following any drift of the leg's
    /// time), and a step of finals alone may only move it earlier.
    fn place(&mut self, outputs: &[Output], heard_at: i64) {
        let segments = || {
            outputs.iter().filter_map(|o| match o {
                Output::Segment(s) => Some(s),
                _ => None,
            })
        };
        let Some(end) = segments().map(|s| s.end_ms).max() else {
            return;
        };
        let estimate = heard_at - end as i64;
        let partial = segments().any(|s| s.stability == Stability::Partial);
        self.origin = Some(match self.origin {
            Some(o) if !partial => o.min(estimate),
            _ => estimate,
        });
    }

    fn spoken_at(&mut self, s: &transcription::Segment, heard_at: i64) -> i64 {
        let origin = self.origin.unwrap_or(heard_at - s.end_ms as i64);
        let at = (origin + s.start_ms as i64).max(self.last_final_spoken);
        if s.stability == Stability::Final {
            self.last_final_spoken = at;
        }
        at
    }

    async fn emit(&mut self, o: Output, lag_ms: u64, heard_at: i64) {
        match o {
            Output::Segment(s) => {
                let spoken_at = self.spoken_at(&s, heard_at);
                let is_final = s.stability == Stability::Final;
                if self.store && is_final {
                    self.keep(&s, spoken_at).await;
                }
                self.send(TranscriptEvent::Segment {
                    start_ms: s.start_ms,
                    end_ms: s.end_ms,
                    text: s.text.clone(),
                    stability: s.stability,
                    lag_ms,
                    heard_at,
                    spoken_at,
                });
                if is_final {
                    self.alert(&s, spoken_at).await;
                }
            }
            Output::Paused(reason) => {
                self.scanner.reset();
                self.send(TranscriptEvent::Paused { reason });
            }
            Output::Resumed => self.send(TranscriptEvent::Resumed {}),
        }
    }

    fn send(&self, what: TranscriptEvent) {
        self.sink.bus.publish_transcript(
            self.sink.clock.now(),
            &self.call,
            &self.queue,
            self.agents.clone(),
            (leg_of(&self.who), self.speaker()),
            what,
        );
    }

    /// The agent speaking on this leg (none for the customer's).
    fn speaker(&self) -> Option<AgentId> {
        self.who.speaker().cloned()
    }

    fn leg_name(&self) -> String {
        match leg_of(&self.who) {
            Leg::Agent => "agent".into(),
            Leg::Customer => "customer".into(),
        }
    }

    async fn keep(&self, s: &transcription::Segment, spoken_at: i64) {
        let row = TranscriptRow {
            call_id: self.call.to_string(),
            leg: self.leg_name(),
            agent: self.speaker().map(|a| a.to_string()),
            start_ms: s.start_ms as i64,
            end_ms: s.end_ms as i64,
            text: s.text.clone(),
            at: self.sink.clock.now().0,
            spoken_at,
        };
        if let Err(e) = self.sink.store.save_transcript(&row).await {
            tracing::error!(call = %self.call, error = %e, "transcript segment not stored");
        }
    }

    /// The queue's alert phrases this final completes: each stored, then published.
    async fn alert(&mut self, s: &transcription::Segment, spoken_at: i64) {
        if self.alerts.is_empty() {
            return;
        }
        let found: Vec<engine::alerts::AlertRule> = self
            .scanner
            .scan(&self.alerts, &s.text)
            .into_iter()
            .cloned()
            .collect();
        for rule in found {
            tracing::info!(call = %self.call, phrase = %rule.phrase, "keyword alert");
            let row = AlertRow {
                call_id: self.call.to_string(),
                queue: self.queue.to_string(),
                leg: self.leg_name(),
                agent: self.speaker().map(|a| a.to_string()),
                phrase: rule.phrase.clone(),
                severity: rule.severity.as_str().to_owned(),
                // The words stay only where the queue keeps transcripts.
                text: self.store.then(|| s.text.clone()),
                start_ms: s.start_ms as i64,
                end_ms: s.end_ms as i64,
                spoken_at,
                at: self.sink.clock.now().0,
            };
            if let Err(e) = self.sink.store.save_alert(&row).await {
                tracing::error!(call = %self.call, error = %e, "keyword alert not stored");
            }
            self.send(TranscriptEvent::Alert {
                phrase: rule.phrase,
                severity: rule.severity,
                text: s.text.clone(),
                start_ms: s.start_ms,
                end_ms: s.end_ms,
                spoken_at,
            });
        }
    }
}

async fn run_leg<E: Decode>(
    mut live: LiveLeg<E>,
    fork: ForkReceiver,
    mut plan: watch::Receiver<AudioPlan>,
    mut out: Publisher,
) {
    let gate = |live: &mut LiveLeg<E>, plan: &AudioPlan| match plan.transcript_pause {
        Some(p) => live.pause(reason(p)),
        None => live.resume(),
    };
    let first = gate(&mut live, &plan.borrow_and_update());
    out.publish(first, 0).await;
    let mut plan_open = true;
    loop {
        tokio::select! {
            frame = fork.recv() => match frame {
                Some(f) => {
                    let said = live.push_at(&f.samples, f.entered);
                    if !said.is_empty() {
                        out.publish(said, live.metrics().lag_ms).await;
                    }
                }
                None => break,
            },
            changed = plan.changed(), if plan_open => {
                if changed.is_err() {
                    // The media actor is gone; the fork closes with it.
                    plan_open = false;
                    continue;
                }
                let now = plan.borrow_and_update().clone();
                out.agents = now.transcript_audience(&out.who);
                let said = gate(&mut live, &now);
                out.publish(said, live.metrics().lag_ms).await;
            }
            said = live.next() => out.publish(said, live.metrics().lag_ms).await,
        }
    }
    let dropped = fork.dropped();
    if dropped > 0 {
        tracing::warn!(call = %out.call, dropped, "transcriber fell behind the fork");
    }
    let last = live.finish().await;
    out.publish(last.outputs, last.lag_ms).await;
}

#[cfg(test)]
mod tests;
