//! Live transcripts of a call's legs (I1–I4, J2): the media actor hands each transcribed leg's
//! 16 kHz fork to a task of its own, which feeds the leg's [`LiveLeg`], pauses and resumes it
//! as the call's [`AudioPlan`] says (hold, mask, not in conversation), and publishes what comes
//! out as `transcript.*` events; finals are stored when the queue keeps transcripts.
//!
//! One task per leg: a leg never waits on another. The task ends when the leg's fork closes
//! (the leg left the call, or the call ended), after the last utterance's final.

use crate::config::QueueConfig;
use crate::events::{EventBus, TranscriptEvent};
use crate::media::fork::ForkReceiver;
use crate::store::{Store, TranscriptRow};
use engine::call::{AudioPlan, Participant, TranscriptPause};
use engine::{AgentId, CallId, QueueId};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::watch;
use transcription::live::LiveLeg;
use transcription::service::{Transcriber, Whisper};
use transcription::stream::{Output, PauseReason};
use transcription::{Leg, Mode, Stability};

/// What the media actors need to transcribe: the service (absent: transcription off), where
/// events and stored finals go, and each queue's setting.
#[derive(Clone)]
pub struct TranscriptHub {
    transcriber: Transcriber<Whisper>,
    bus: EventBus,
    store: Store,
    clock: crate::clock::Clock,
    queues: Arc<HashMap<QueueId, (Mode, bool)>>,
}

impl TranscriptHub {
    pub(crate) fn new(
        transcriber: Transcriber<Whisper>,
        bus: EventBus,
        store: Store,
        clock: crate::clock::Clock,
        queues: &[QueueConfig],
    ) -> Self {
        let queues = queues
            .iter()
            .map(|q| {
                (
                    QueueId::from(q.id.as_str()),
                    (q.transcript, q.store_transcript),
                )
            })
            .collect();
        TranscriptHub {
            transcriber,
            bus,
            store,
            clock,
            queues: Arc::new(queues),
        }
    }

    /// The service.
    pub fn transcriber(&self) -> &Transcriber<Whisper> {
        &self.transcriber
    }

    /// Whether `queue`'s calls transcribe `who`'s leg.
    pub(crate) fn covers(&self, queue: &QueueId, who: &Participant) -> bool {
        self.queues
            .get(queue)
            .is_some_and(|(mode, _)| mode.covers(leg_of(who)))
    }

    /// Transcribes one leg until its fork closes.
    pub(crate) fn spawn_leg(
        &self,
        call: CallId,
        queue: QueueId,
        who: Participant,
        fork: ForkReceiver,
        plan: watch::Receiver<AudioPlan>,
    ) {
        let store = self.queues.get(&queue).is_some_and(|(_, s)| *s);
        let out = Publisher {
            hub: self.clone(),
            call,
            queue,
            speaker: (leg_of(&who), agent_of(&who)),
            agents: agents_on(&plan.borrow()),
            store,
        };
        let live = self.transcriber.leg(leg_of(&who));
        tokio::spawn(run_leg(live, fork, plan, out));
    }
}

fn leg_of(who: &Participant) -> Leg {
    match who {
        Participant::Customer => Leg::Customer,
        Participant::Agent { .. } => Leg::Agent,
    }
}

fn agent_of(who: &Participant) -> Option<AgentId> {
    match who {
        Participant::Customer => None,
        Participant::Agent { agent } => Some(agent.clone()),
    }
}

fn agents_on(plan: &AudioPlan) -> Vec<AgentId> {
    plan.present.iter().filter_map(agent_of).collect()
}

fn reason(p: TranscriptPause) -> PauseReason {
    match p {
        TranscriptPause::Hold => PauseReason::Hold,
        TranscriptPause::Mask => PauseReason::Mask,
        TranscriptPause::NotConnected => PauseReason::NotConnected,
    }
}

struct Publisher {
    hub: TranscriptHub,
    call: CallId,
    queue: QueueId,
    speaker: (Leg, Option<AgentId>),
    agents: Vec<AgentId>,
    store: bool,
}

impl Publisher {
    async fn publish(&self, outputs: Vec<Output>, lag_ms: u64) {
        for o in outputs {
            self.emit(o, lag_ms).await;
        }
    }

    async fn emit(&self, o: Output, lag_ms: u64) {
        let what = match o {
            Output::Segment(s) => {
                if self.store && s.stability == Stability::Final {
                    self.keep(&s).await;
                }
                TranscriptEvent::Segment {
                    start_ms: s.start_ms,
                    end_ms: s.end_ms,
                    text: s.text,
                    stability: s.stability,
                    lag_ms,
                    heard_at: self.hub.clock.now().0 - lag_ms as i64,
                }
            }
            Output::Paused(reason) => TranscriptEvent::Paused { reason },
            Output::Resumed => TranscriptEvent::Resumed {},
        };
        self.hub.bus.publish_transcript(
            self.hub.clock.now(),
            &self.call,
            &self.queue,
            self.agents.clone(),
            self.speaker.clone(),
            what,
        );
    }

    async fn keep(&self, s: &transcription::Segment) {
        let row = TranscriptRow {
            call_id: self.call.to_string(),
            leg: match s.leg {
                Leg::Agent => "agent".into(),
                Leg::Customer => "customer".into(),
            },
            agent: self.speaker.1.as_ref().map(ToString::to_string),
            start_ms: s.start_ms as i64,
            end_ms: s.end_ms as i64,
            text: s.text.clone(),
            at: self.hub.clock.now().0,
        };
        if let Err(e) = self.hub.store.save_transcript(&row).await {
            tracing::error!(call = %self.call, error = %e, "transcript segment not stored");
        }
    }
}

async fn run_leg(
    mut live: LiveLeg<Whisper>,
    fork: ForkReceiver,
    mut plan: watch::Receiver<AudioPlan>,
    mut out: Publisher,
) {
    let gate = |live: &mut LiveLeg<Whisper>, plan: &AudioPlan| match plan.transcript_pause {
        Some(p) => live.pause(reason(p)),
        None => live.resume(),
    };
    let first = gate(&mut live, &plan.borrow_and_update());
    out.publish(first, 0).await;
    let mut plan_open = true;
    loop {
        tokio::select! {
            frame = fork.recv() => match frame {
                Some(f) => live.push_at(&f.samples, f.entered),
                None => break,
            },
            changed = plan.changed(), if plan_open => {
                if changed.is_err() {
                    // The media actor is gone; the fork closes with it.
                    plan_open = false;
                    continue;
                }
                let now = plan.borrow_and_update().clone();
                out.agents = agents_on(&now);
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
