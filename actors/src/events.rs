//! The event bus: every journey step of a call and every agent status change, numbered in
//! the order they happened, for WebSocket clients and event hooks.
//!
//! Events are derived from the engine's own records (a call's new journey entries, an agent's
//! status changes), so what a client sees is exactly what was persisted.

use engine::agent::StatusChange;
use engine::call::{Call, JourneyEntry, JourneyEvent};
use engine::{AgentId, CallId, QueueId, Timestamp};
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::broadcast;

/// One event. Serialized as `{"seq", "type", "at", …fields}`.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    /// Position in this process's stream, from 1.
    pub seq: u64,
    /// When it happened (ms since the epoch).
    pub at: Timestamp,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type")]
pub enum EventKind {
    /// A step of a call's journey (`call.created`, `call.offered`, `call.answered`,
    /// `call.ended`, …).
    #[serde(rename = "call")]
    Call {
        /// The journey step's name, e.g. `call.offered`.
        #[serde(skip)]
        name: &'static str,
        /// The call.
        call_id: CallId,
        /// Its queue.
        queue: QueueId,
        /// The caller's number.
        from: String,
        /// Agents concerned: those ringing or connected, and the one the step names.
        agents: Vec<AgentId>,
        /// The journey step itself.
        #[serde(flatten)]
        entry: JourneyEntry,
    },
    /// A call's live transcript (I2, J2): `transcript.partial`, `transcript.final`,
    /// `transcript.paused`, `transcript.resumed`; and `transcript.alert`, a keyword alert
    /// (J4) raised by a final.
    #[serde(rename = "transcript")]
    Transcript {
        /// The event's name.
        #[serde(skip)]
        name: &'static str,
        /// The call.
        call_id: CallId,
        /// Its queue.
        queue: QueueId,
        /// The agents on the call (they see their own call's transcript).
        agents: Vec<AgentId>,
        /// Which leg: `agent` or `customer`.
        leg: transcription::Leg,
        /// The agent speaking, on an agent leg.
        #[serde(skip_serializing_if = "Option::is_none")]
        agent: Option<AgentId>,
        /// What happened on the leg.
        #[serde(flatten)]
        what: TranscriptEvent,
    },
    /// An agent's status changed.
    #[serde(rename = "agent.status")]
    AgentStatus {
        /// The change.
        #[serde(flatten)]
        change: StatusChange,
        /// The status a supervisor locked the agent in, if any.
        locked: Option<String>,
    },
}

/// What a transcript event says.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum TranscriptEvent {
    /// Words: a partial (replaces the leg's previous partial) or a final.
    Segment {
        /// Start, ms from the start of the leg.
        start_ms: u64,
        /// End, ms from the start of the leg.
        end_ms: u64,
        /// The words.
        text: String,
        /// `partial` or `final`.
        stability: transcription::Stability,
        /// From the window's last audio entering the fork to this segment (ms).
        lag_ms: u64,
        /// When the window's last audio entered the fork (ms since the epoch): a client's
        /// receive time minus this is the audio-to-screen latency.
        heard_at: i64,
        /// When the segment's first word was spoken (ms since the epoch, estimated from when
        /// the leg's audio was heard): both legs' segments in one order.
        spoken_at: i64,
    },
    /// A phrase of the queue's keyword alerts (J4) was said: sent right after the
    /// `transcript.final` that completed it.
    Alert {
        /// The phrase, as configured.
        phrase: String,
        /// `info`, `warning` or `critical`.
        severity: engine::alerts::Severity,
        /// The final segment's words.
        text: String,
        /// The segment's start, ms from the start of the leg.
        start_ms: u64,
        /// The segment's end, ms from the start of the leg.
        end_ms: u64,
        /// When the segment's first word was spoken (ms since the epoch, estimated).
        spoken_at: i64,
    },
    /// The leg stopped being transcribed.
    Paused {
        /// Why: `hold`, `mask` or `not_connected`.
        reason: transcription::stream::PauseReason,
    },
    /// The leg is transcribed again.
    Resumed {},
}

impl Event {
    /// The event's type as clients see it.
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            EventKind::Call { name, .. } | EventKind::Transcript { name, .. } => name,
            EventKind::AgentStatus { .. } => "agent.status",
        }
    }

    /// Whether the event concerns this agent.
    pub fn concerns_agent(&self, agent: &AgentId) -> bool {
        match &self.kind {
            EventKind::Call { agents, .. } | EventKind::Transcript { agents, .. } => {
                agents.contains(agent)
            }
            EventKind::AgentStatus { change, .. } => &change.agent == agent,
        }
    }

    /// The JSON a client receives, with `type` set to the specific name.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).expect("events always serialize");
        v["type"] = serde_json::Value::String(self.type_name().to_owned());
        v
    }
}

/// The client-facing name of a journey step.
pub fn call_event_name(e: &JourneyEvent) -> &'static str {
    match e {
        JourneyEvent::Initiated { .. } => "call.created",
        JourneyEvent::RoutedToQueue { .. } => "call.queued",
        JourneyEvent::OfferedTo { .. } => "call.offered",
        JourneyEvent::AgentBusy { .. } => "call.agent_busy",
        JourneyEvent::Declined { .. } => "call.declined",
        JourneyEvent::TimedOut { .. } => "call.offer_timed_out",
        JourneyEvent::OfferWithdrawn { .. } => "call.offer_withdrawn",
        JourneyEvent::AnsweredBy { .. } => "call.answered",
        JourneyEvent::TakenBy { .. } => "call.taken",
        JourneyEvent::Overflowed { .. } => "call.overflowed",
        JourneyEvent::Recovered => "call.recovered",
        JourneyEvent::Ended { .. } => "call.ended",
        JourneyEvent::Failed { .. } => "call.failed",
        JourneyEvent::Dialed { .. } => "call.dialed",
        JourneyEvent::CustomerAnswered => "call.customer_answered",
        JourneyEvent::CallbackAnnounced { .. } => "call.callback_announced",
        JourneyEvent::MissedCallFlow { .. } => "call.missed_call_flow",
        JourneyEvent::Held => "call.held",
        JourneyEvent::Resumed => "call.resumed",
        JourneyEvent::Muted => "call.muted",
        JourneyEvent::Unmuted => "call.unmuted",
        JourneyEvent::Dtmf { .. } => "call.dtmf",
        JourneyEvent::Recording { .. } => "call.recording",
        JourneyEvent::TransferStarted { .. } => "call.transfer_started",
        JourneyEvent::TransferFailed { .. } => "call.transfer_failed",
        JourneyEvent::TakenBack { .. } => "call.taken_back",
        JourneyEvent::TransferredOut { .. } => "call.transferred_out",
        JourneyEvent::ConsultStarted { .. } => "call.consult_started",
        JourneyEvent::ConsultOffered { .. } => "call.consult_offered",
        JourneyEvent::ConsultAnswered { .. } => "call.consult_answered",
        JourneyEvent::ConsultEnded { .. } => "call.consult_ended",
        JourneyEvent::ConsultCompleted { .. } => "call.consult_completed",
        JourneyEvent::ConferenceStarted => "call.conference_started",
        JourneyEvent::PartyLeft { .. } => "call.party_left",
        JourneyEvent::DataChanged { .. } => "call.data_changed",
    }
}

fn named_agent(e: &JourneyEvent) -> Option<&AgentId> {
    match e {
        JourneyEvent::OfferedTo { agent }
        | JourneyEvent::AgentBusy { agent }
        | JourneyEvent::Declined { agent }
        | JourneyEvent::TimedOut { agent }
        | JourneyEvent::OfferWithdrawn { agent }
        | JourneyEvent::AnsweredBy { agent }
        | JourneyEvent::TakenBy { agent }
        | JourneyEvent::ConsultOffered { agent }
        | JourneyEvent::TakenBack { by: agent }
        | JourneyEvent::Dialed { by: agent, .. }
        | JourneyEvent::TransferStarted { by: agent, .. }
        | JourneyEvent::ConsultStarted { by: agent, .. }
        | JourneyEvent::ConsultCompleted { to: agent, .. }
        | JourneyEvent::DataChanged { by: agent, .. } => Some(agent),
        JourneyEvent::ConsultAnswered { agent } | JourneyEvent::ConsultEnded { agent, .. } => {
            agent.as_ref()
        }
        JourneyEvent::PartyLeft {
            party: engine::call::Party::Agent { agent },
        } => Some(agent),
        _ => None,
    }
}

/// The bus: numbers events and fans them out. Slow subscribers miss events (they see a
/// `Lagged` error and can reload state over REST) rather than slowing the engine.
#[derive(Clone)]
pub struct EventBus {
    seq: Arc<AtomicU64>,
    tx: broadcast::Sender<Event>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new(8192)
    }
}

impl EventBus {
    /// A bus keeping up to `capacity` events for slow subscribers.
    pub fn new(capacity: usize) -> Self {
        EventBus {
            seq: Arc::new(AtomicU64::new(0)),
            tx: broadcast::channel(capacity).0,
        }
    }

    /// A new subscriber, receiving events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    fn publish(&self, at: Timestamp, kind: EventKind) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        // No subscriber is not an error: events are a view, the store is the record.
        let _ = self.tx.send(Event { seq, at, kind });
    }

    /// Publishes a call's journey entries from index `from` on.
    pub fn publish_journey(&self, call: &Call, from: usize) {
        for entry in call.journey().iter().skip(from) {
            let mut agents: Vec<AgentId> = call.agents_involved();
            if let Some(a) = named_agent(&entry.event) {
                if !agents.contains(a) {
                    agents.push(a.clone());
                }
            }
            self.publish(
                entry.at,
                EventKind::Call {
                    name: call_event_name(&entry.event),
                    call_id: call.id().clone(),
                    queue: call.queue().clone(),
                    from: call.from().to_owned(),
                    agents,
                    entry: entry.clone(),
                },
            );
        }
    }

    /// Publishes a piece of a call's live transcript.
    pub fn publish_transcript(
        &self,
        at: Timestamp,
        call: &CallId,
        queue: &QueueId,
        agents: Vec<AgentId>,
        (leg, agent): (transcription::Leg, Option<AgentId>),
        what: TranscriptEvent,
    ) {
        let name = match &what {
            TranscriptEvent::Segment { stability, .. } => match stability {
                transcription::Stability::Partial => "transcript.partial",
                transcription::Stability::Final => "transcript.final",
            },
            TranscriptEvent::Paused { .. } => "transcript.paused",
            TranscriptEvent::Resumed {} => "transcript.resumed",
            TranscriptEvent::Alert { .. } => "transcript.alert",
        };
        let kind = EventKind::Transcript {
            name,
            call_id: call.clone(),
            queue: queue.clone(),
            agents,
            leg,
            agent,
            what,
        };
        self.publish(at, kind);
    }

    /// Publishes an agent's status change.
    pub fn publish_status(&self, change: StatusChange, locked: Option<String>) {
        self.publish(change.at, EventKind::AgentStatus { change, locked });
    }
}
