//! The event bus: every journey step of a call and every agent status change, numbered in
//! the order they happened, for WebSocket clients and event hooks.
//!
//! Events are derived from the engine's own records (a call's new journey entries, an agent's
//! status changes), so what a client sees is exactly what was persisted.

use crate::context::lock;
use crate::store::{EventRow, Store, StoreError};
use engine::agent::StatusChange;
use engine::call::{Call, JourneyEntry, JourneyEvent};
use engine::{AgentId, CallId, QueueId, Timestamp};
use serde::Serialize;
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, watch};

mod log;
pub(crate) use log::row;
use log::{AtOnce, EventLog};

/// One event. Serialized as `{"seq", "type", "at", …fields}`, `type` being its specific
/// name ([`Event::type_name`]).
#[derive(Clone, Debug)]
pub struct Event {
    /// Its number: increasing, across restarts too (with gaps after one).
    pub seq: u64,
    /// When it happened (ms since the epoch).
    pub at: Timestamp,
    /// What happened: shared by every subscriber's copy of the event (each receiver of the
    /// bus gets a clone).
    pub kind: Arc<EventKind>,
}

impl Serialize for Event {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            seq: u64,
            #[serde(rename = "type")]
            name: &'a str,
            /// Journey steps and status changes carry their own (the same) time.
            #[serde(skip_serializing_if = "Option::is_none")]
            at: Option<Timestamp>,
            #[serde(flatten)]
            kind: &'a EventKind,
        }
        let own_time = matches!(
            *self.kind,
            EventKind::Call { .. } | EventKind::AgentStatus { .. }
        );
        Wire {
            seq: self.seq,
            name: self.type_name(),
            at: (!own_time).then_some(self.at),
            kind: &self.kind,
        }
        .serialize(s)
    }
}

/// What happened: the fields of each kind (its name is the event's `type`).
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum EventKind {
    /// A step of a call's journey (`call.created`, `call.offered`, `call.answered`,
    /// `call.ended`, …).
    Call {
        /// The journey step's name, e.g. `call.offered`.
        #[serde(skip)]
        name: &'static str,
        /// The call.
        call_id: CallId,
        /// Its queue.
        queue: QueueId,
        /// The caller's number.
        from: Arc<str>,
        /// Agents concerned: those ringing or connected, and the one the step names.
        agents: Vec<AgentId>,
        /// The journey step itself (shared with the call's snapshots).
        #[serde(flatten)]
        entry: Arc<JourneyEntry>,
    },
    /// A call's live transcript (I2, J2): `transcript.partial`, `transcript.final`,
    /// `transcript.paused`, `transcript.resumed`; and `transcript.alert`, a keyword alert
    /// (J4) raised by a final.
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
        /// What happened on the leg (boxed: every event's kind is as large as its largest
        /// kind, and the memory store's log keeps 100,000 of them).
        #[serde(flatten)]
        what: Box<TranscriptEvent>,
    },
    /// An alert to the supervisors about a queue (`queue.alert`), raised through
    /// [`crate::Switchyard::alert_supervisors`], e.g. by an SLA watcher.
    QueueAlert {
        /// The queue.
        queue: QueueId,
        /// `info`, `warning` or `critical`.
        severity: engine::alerts::Severity,
        /// What is wrong, in words.
        text: String,
        /// Who raised it (an extension's name).
        by: String,
    },
    /// An agent's status changed.
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
        match &*self.kind {
            EventKind::Call { name, .. } | EventKind::Transcript { name, .. } => name,
            EventKind::AgentStatus { .. } => "agent.status",
            EventKind::QueueAlert { .. } => "queue.alert",
        }
    }

    /// Whether the event concerns this agent.
    pub fn concerns_agent(&self, agent: &AgentId) -> bool {
        self.agents().contains(agent)
    }

    /// The agents the event concerns: besides supervisors, only they see it.
    pub fn agents(&self) -> &[AgentId] {
        match &*self.kind {
            EventKind::Call { agents, .. } | EventKind::Transcript { agents, .. } => agents,
            EventKind::AgentStatus { change, .. } => std::slice::from_ref(&change.agent),
            // For supervisors only.
            EventKind::QueueAlert { .. } => &[],
        }
    }

    /// The JSON a client receives.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("events always serialize")
    }

    /// The same JSON as text, written straight from the event.
    pub fn to_json_text(&self) -> String {
        serde_json::to_string(self).expect("events always serialize")
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
        JourneyEvent::SteppedAway { .. } => "call.stepped_away",
        JourneyEvent::AnsweredBy { .. } => "call.answered",
        JourneyEvent::TakenBy { .. } => "call.taken",
        JourneyEvent::Overflowed { .. } => "call.overflowed",
        JourneyEvent::Recovered => "call.recovered",
        JourneyEvent::CustomerMediaLost { .. } => "call.customer_media_lost",
        JourneyEvent::Ended { .. } => "call.ended",
        JourneyEvent::Failed { .. } => "call.failed",
        JourneyEvent::Dialed { .. } => "call.dialed",
        JourneyEvent::CustomerRinging => "call.customer_ringing",
        JourneyEvent::ExternalRinging { .. } => "call.external_ringing",
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
        JourneyEvent::SkillsWidened { .. } => "call.skills_widened",
    }
}

fn named_agent(e: &JourneyEvent) -> Option<&AgentId> {
    match e {
        JourneyEvent::OfferedTo { agent }
        | JourneyEvent::AgentBusy { agent }
        | JourneyEvent::Declined { agent }
        | JourneyEvent::TimedOut { agent }
        | JourneyEvent::OfferWithdrawn { agent }
        | JourneyEvent::SteppedAway { agent }
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
///
/// A durable bus ([`EventBus::durable`]) also appends every event to the store's event log,
/// numbered above anything an earlier process handed out, so that a client that reconnects
/// can replay what it missed ([`EventBus::resume`]).
#[derive(Clone)]
pub struct EventBus {
    /// Held while an event is numbered, logged and sent, so that subscribers and the log see
    /// events in number order.
    seq: Arc<Mutex<Numbering>>,
    tx: broadcast::Sender<Event>,
    log: Option<EventLog>,
}

struct Numbering {
    /// The last number handed out.
    last: u64,
    /// The memory store's log, kept as events are numbered (no task, no channel: appending
    /// to it is as cheap as handing it an event would be).
    at_once: Option<AtOnce>,
}

/// Most events one resume replays; further back, the client reloads.
pub const MAX_REPLAY: usize = 10_000;

/// How a stream resumes after `since`.
pub struct Resume {
    /// Events from now on; those numbered up to `upto` are to be skipped.
    pub rx: broadcast::Receiver<Event>,
    /// The last number handed out when the stream resumed.
    pub upto: u64,
    /// The events after `since` up to `upto`, oldest first (every client's: filter them); or
    /// `None` when they cannot all be replayed (too old, trimmed, or from another database):
    /// the client must reload its state.
    pub missed: Option<Vec<EventRow>>,
    /// The last number stored, on a durable bus: a client is sent an event only once it is
    /// stored ([`Resume::stored`]), so that whatever it saw can be resumed from, even after
    /// a crash.
    stored: Option<watch::Receiver<u64>>,
}

impl Resume {
    /// Waits until event `seq` is in the store's log (at once on a bus without one or whose
    /// log is kept as events are numbered, and at most 5 s: a store that stalls does not stop
    /// the stream).
    pub async fn stored(&mut self, seq: u64) {
        if let Some(stored) = &mut self.stored {
            let _ = tokio::time::timeout(
                std::time::Duration::from_secs(5),
                stored.wait_for(|s| *s >= seq),
            )
            .await;
        }
    }
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new(8192)
    }
}

impl EventBus {
    /// A bus keeping up to `capacity` events for slow subscribers, in memory only.
    pub fn new(capacity: usize) -> Self {
        EventBus {
            seq: Arc::new(Mutex::new(Numbering {
                last: 0,
                at_once: None,
            })),
            tx: broadcast::channel(capacity).0,
            log: None,
        }
    }

    /// A bus that stores every event in `store`'s event log, keeping the newest `kept`, and
    /// numbers them above whatever an earlier process may have handed out.
    pub async fn durable(capacity: usize, store: Store, kept: u64) -> Result<Self, StoreError> {
        let (start, log, at_once) = EventLog::open(store, kept).await?;
        Ok(EventBus {
            seq: Arc::new(Mutex::new(Numbering {
                last: start,
                at_once,
            })),
            tx: broadcast::channel(capacity).0,
            log: Some(log),
        })
    }

    /// A new subscriber, receiving events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// A subscriber that also gets what it missed after event `since`: the stored events up
    /// to now (once the log holds them), then the live ones.
    pub async fn resume(&self, since: Option<u64>) -> Resume {
        let (rx, upto) = {
            let seq = lock(&self.seq);
            (self.tx.subscribe(), seq.last)
        };
        let missed = match since {
            None => Some(Vec::new()),
            Some(n) if n == upto => Some(Vec::new()),
            Some(n) if n > upto => None,
            Some(n) => match &self.log {
                None => None,
                Some(log) => log.between(n, upto).await,
            },
        };
        Resume {
            rx,
            upto,
            missed,
            stored: self.log.as_ref().and_then(EventLog::stored),
        }
    }

    /// Publishes an event of any kind (a supervisor alert; the journey, transcript and
    /// status kinds have their own publishers below).
    pub(crate) fn publish(&self, at: Timestamp, kind: EventKind) {
        // Allocated before the number is taken: both threads publish, and the lock is held
        // only to number and send.
        let kind = Arc::new(kind);
        let mut seq = lock(&self.seq);
        seq.last += 1;
        let event = Event {
            seq: seq.last,
            at,
            kind,
        };
        let trimmed = match (&mut seq.at_once, &self.log) {
            (Some(at_once), _) => Some(at_once.keep(&event)),
            (None, Some(log)) => {
                log.hand(&event);
                None
            }
            (None, None) => None,
        };
        // No subscriber is not an error: events are a view, the store is the record.
        let _ = self.tx.send(event);
        drop(seq);
        // What a trim of the memory store's log took out is let go after the lock.
        drop(trimmed);
    }
    /// Publishes a call's journey entries from index `from` on.
    pub fn publish_journey(&self, call: &Call, from: usize) {
        let entries = call.journey().get(from..).unwrap_or_default();
        let Some((last, earlier)) = entries.split_last() else {
            return;
        };
        // The agents involved are the call's, whichever entry: listed once a step, and the
        // list itself goes to the step's last entry (most steps log one).
        let involved = call.agents_involved();
        for entry in earlier {
            self.publish_entry(call, entry, involved.clone());
        }
        self.publish_entry(call, last, involved);
    }

    /// Publishes one journey entry of `call`, concerning `agents` and the agent it names.
    fn publish_entry(&self, call: &Call, entry: &Arc<JourneyEntry>, mut agents: Vec<AgentId>) {
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
                from: call.from_shared().clone(),
                agents,
                entry: entry.clone(),
            },
        );
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
            what: Box::new(what),
        };
        self.publish(at, kind);
    }

    /// Publishes an agent's status change.
    pub fn publish_status(&self, change: StatusChange, locked: Option<String>) {
        self.publish(change.at, EventKind::AgentStatus { change, locked });
    }
}

#[cfg(test)]
mod tests {
    use super::log::SEQ_BLOCK;
    use super::*;
    use engine::agent::{ChangeReason, Status};

    fn status(bus: &EventBus, agent: &str, i: i64) {
        bus.publish_status(
            StatusChange {
                agent: AgentId::from(agent),
                from: Status::Ready,
                to: Status::Dnd,
                at: Timestamp(i),
                reason: ChangeReason::Agent,
            },
            None,
        );
    }

    /// Call `c1`, created at 5 in `support` and offered at 6 to `agents`.
    fn offered(agents: &[&str]) -> Call {
        let mut c = Call::new(
            CallId::from("c1"),
            Timestamp(5),
            "+15550001".into(),
            QueueId::from("support"),
            0,
            engine::routing::Skills::new(),
        );
        let agents = agents.iter().map(|&a| AgentId::from(a)).collect();
        c.offer(Timestamp(6), agents, std::time::Duration::from_secs(20))
            .expect("offered");
        c
    }

    /// The text clients and the log get: `type` is the specific name, every key appears
    /// once (journey steps and status changes carry their own `at`), and the text says what
    /// the JSON value says.
    #[test]
    fn each_kind_is_written_with_its_name_and_each_key_once() {
        let bus = EventBus::new(16);
        let mut rx = bus.subscribe();
        status(&bus, "alice", 7);
        let call = offered(&["alice"]);
        bus.publish_journey(&call, 0);
        bus.publish(
            Timestamp(9),
            EventKind::QueueAlert {
                queue: QueueId::from("support"),
                severity: engine::alerts::Severity::Warning,
                text: "long waits".into(),
                by: "sla".into(),
            },
        );
        let mut names = Vec::new();
        while let Ok(ev) = rx.try_recv() {
            let text = ev.to_json_text();
            for key in ["\"type\":", "\"at\":", "\"seq\":"] {
                assert_eq!(text.matches(key).count(), 1, "{key} once in {text}");
            }
            let parsed: serde_json::Value = serde_json::from_str(&text).expect("JSON");
            assert_eq!(parsed, ev.to_json());
            assert_eq!(parsed["type"], ev.type_name());
            assert_eq!(parsed["at"], ev.at.0);
            names.push(ev.type_name());
        }
        assert_eq!(
            names,
            [
                "agent.status",
                "call.created",
                "call.queued",
                "call.offered",
                "queue.alert"
            ]
        );
    }

    /// Every entry a step logs names the call's agents (the last entry is handed the list
    /// itself, the others a copy), and an agent the entry names who no longer takes part.
    #[test]
    fn each_entry_of_a_step_carries_the_calls_agents_and_the_one_it_names() {
        let bus = EventBus::new(16);
        let mut rx = bus.subscribe();
        let mut call = offered(&["alice", "bob"]);
        bus.publish_journey(&call, 0);
        let published = call.journey().len();
        call.decline(
            Timestamp(7),
            &AgentId::from("alice"),
            std::time::Duration::ZERO,
        )
        .expect("declined");
        bus.publish_journey(&call, published);
        let mut seen = Vec::new();
        while let Ok(ev) = rx.try_recv() {
            let names: Vec<&str> = ev.agents().iter().map(|a| a.as_str()).collect();
            seen.push(format!("{} {}", ev.type_name(), names.join(",")));
        }
        assert_eq!(
            seen,
            [
                "call.created alice,bob",
                "call.queued alice,bob",
                "call.offered alice,bob",
                "call.offered alice,bob",
                "call.declined bob,alice",
            ]
        );
    }

    #[test]
    fn an_event_stays_small() {
        // The memory store's log keeps its last 100,000 events, and the bus its last
        // thousands: every kind is as large as the largest, so a large one is boxed.
        let size = std::mem::size_of::<EventKind>();
        assert!(size <= 112, "{size}");
    }

    #[tokio::test]
    async fn the_log_replays_what_was_missed_and_keeps_numbering_above_an_earlier_process() {
        let store = Store::memory();
        let bus = EventBus::durable(64, store.clone(), 20).await.unwrap();
        // The memory store's log holds an event as soon as it is numbered: before any
        // subscriber has it, and with nothing to wait for.
        let mut rx = bus.subscribe();
        status(&bus, "alice", 0);
        let seen = rx.try_recv().expect("published");
        assert_eq!(store.event_seq_state().await.unwrap().last, seen.seq as i64);
        for i in 1..100 {
            status(&bus, if i % 2 == 0 { "alice" } else { "bob" }, i);
        }
        let mut resume = bus.resume(Some(95)).await;
        assert_eq!(resume.upto, 100);
        let missed = resume.missed.take().expect("the last ones are kept");
        assert_eq!(
            missed.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![96, 97, 98, 99, 100]
        );
        assert_eq!(missed[0].agents, vec!["bob".to_owned()]);
        assert!(missed[0].body.contains("\"type\":\"agent.status\""));
        // The text a client would have been sent live (the memory store writes it only now).
        let live = Event {
            seq: 96,
            at: Timestamp(95),
            kind: Arc::new(EventKind::AgentStatus {
                change: StatusChange {
                    agent: AgentId::from("bob"),
                    from: Status::Ready,
                    to: Status::Dnd,
                    at: Timestamp(95),
                    reason: ChangeReason::Agent,
                },
                locked: None,
            }),
        };
        assert_eq!(missed[0].body, live.to_json_text());
        // Trimmed to the newest 20 numbers: from before them, the client must reload.
        let kept = bus
            .resume(Some(80))
            .await
            .missed
            .expect("81 to 100 are kept");
        assert_eq!(kept.len(), 20);
        assert!(bus.resume(Some(79)).await.missed.is_none());
        assert!(bus.resume(Some(5)).await.missed.is_none());
        // From the future (another database): reload too.
        assert!(bus.resume(Some(500)).await.missed.is_none());
        assert_eq!(bus.resume(Some(100)).await.missed, Some(vec![]));

        // A new process on the same store numbers above anything the first may have handed
        // out, even events it never stored.
        let next = EventBus::durable(64, store.clone(), 20).await.unwrap();
        let mut rx = next.subscribe();
        status(&next, "alice", 200);
        let first = rx.recv().await.unwrap();
        assert!(first.seq > SEQ_BLOCK, "{}", first.seq);
        // And what the first process stored is still replayed across the restart.
        let mut resume = next.resume(Some(99)).await;
        let seqs: Vec<u64> = resume
            .missed
            .take()
            .unwrap()
            .iter()
            .map(|e| e.seq as u64)
            .collect();
        assert_eq!(seqs, vec![100, first.seq]);
    }
}
