//! Who speaks on each transcript segment, with real WebRTC peers through the engine: every
//! party sends speech with a pilot tone of its own, and a stand-in decoder (in place of
//! whisper) writes down whose tone it heard. A segment is labelled right when the tone it
//! heard is its label's party's: after a blind transfer, after a consult completed, in a
//! conference (each agent's leg as that agent), across a leg replaced by a new offer, and
//! under the queue a transfer moved the call to.

use actors::config::Config;
use actors::media::codec::Codec;
use actors::media::leg::{Leg, FRAME_SAMPLES};
use actors::media::tone::Sine;
use actors::media::transcript::Transcription;
use actors::store::Store;
use actors::{Control, Switchyard};
use engine::agent::Status;
use engine::call::{Participant, Party, Target};
use engine::routing::Skills;
use std::f64::consts::TAU;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::broadcast;
use transcription::pool::{Decode, PoolConfig};
use transcription::service::Transcriber;
use transcription::stream::{JobKind, StreamConfig};

/// Each voice's pilot tone (Hz): far from each other's harmonics, inside the telephone band.
const VOICES: [(&str, f64); 5] = [
    ("customer", 523.0),
    ("alice", 787.0),
    ("bob", 1_091.0),
    ("bob-again", 1_439.0),
    ("carol", 1_913.0),
];

/// The stand-in decoder: the name of the voice whose tone is strongest in the window.
struct WhoseTone;

fn power(pcm: &[f32], freq: f64) -> f64 {
    // Goertzel at 16 kHz.
    let coeff = 2.0 * (TAU * freq / 16_000.0).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in pcm {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let n = pcm.len().max(1) as f64;
    (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (n * n)
}

impl Decode for WhoseTone {
    type State = ();

    fn new_state(&self) -> Result<(), String> {
        Ok(())
    }

    fn decode(&self, _: &mut (), pcm: &[f32], _: JobKind, _: bool) -> Result<String, String> {
        let (name, p) = VOICES
            .iter()
            .map(|&(name, f)| (name, power(pcm, f)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .expect("voices");
        // A tone of amplitude 0.06 has a power near 1e-3; speech alone stays far below.
        Ok(if p > 1e-5 {
            format!("voice of {name}")
        } else {
            String::new()
        })
    }
}

/// The label a segment that heard `voice` must carry: `(leg, agent)`.
fn label_of(voice: &str) -> (&'static str, Option<&'static str>) {
    match voice {
        "customer" => ("customer", None),
        "alice" => ("agent", Some("alice")),
        "bob" | "bob-again" => ("agent", Some("bob")),
        "carol" => ("agent", Some("carol")),
        other => panic!("the decoder heard no known voice: {other:?}"),
    }
}

const CONFIG: &str = r#"
[[queues]]
id = "q"
transcript = "both"
store_transcript = true

[[queues]]
id = "customers-only"
transcript = "customer"

[[agents]]
id = "alice"
queues = ["q"]
[[agents]]
id = "bob"
queues = ["q"]
[[agents]]
id = "carol"
queues = ["customers-only"]
"#;

async fn start() -> (Switchyard, Store) {
    let stream = StreamConfig {
        step_ms: 400,
        max_window_ms: 2_500,
        hangover_ms: 400,
        ..StreamConfig::default()
    };
    let pool = PoolConfig {
        workers: 1,
        ..PoolConfig::default()
    };
    let service = Transcriber::with_engine(WhoseTone, pool, stream).unwrap();
    let options = actors::StartOptions {
        transcription: Some(Transcription::new(service, "whose-tone")),
        ..Default::default()
    };
    let store = Store::memory();
    let yard = Switchyard::start_with(Config::from_toml(CONFIG).unwrap(), store.clone(), options)
        .await
        .unwrap();
    (yard, store)
}

/// The speech fixture at 8 kHz, scaled to leave room for the tone.
fn speech() -> Arc<Vec<i16>> {
    static SPEECH: OnceLock<Arc<Vec<i16>>> = OnceLock::new();
    SPEECH
        .get_or_init(|| {
            let path = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../transcription/tests/data/speech.wav"
            );
            let (rate, samples) = actors::media::wav::read(&std::fs::read(path).unwrap()).unwrap();
            let mut to8k = actors::media::resample::Resampler::new(rate, 8_000).unwrap();
            Arc::new(to8k.process(&samples).iter().map(|&s| s / 2).collect())
        })
        .clone()
}

/// A party on the call: its leg and the task sending its voice every 20 ms.
struct Voice {
    _leg: Arc<Leg>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Voice {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `who` offers a leg (PCMU) and speaks on it with the tone of `voice`, looping the speech.
async fn speak(yard: &Switchyard, call: &str, who: Participant, voice: &str) -> Voice {
    let freq = VOICES.iter().find(|v| v.0 == voice).unwrap().1;
    let (leg, mut heard) = Leg::with_codecs(&Default::default(), &[Codec::Pcmu])
        .await
        .unwrap();
    let offer = leg.offer().await.unwrap();
    let answer = yard.media_answer(call, who, offer).await.unwrap();
    leg.accept(answer).await.unwrap();
    leg.connected(Duration::from_secs(10)).await.unwrap();
    let leg = Arc::new(leg);
    let sender = leg.clone();
    let task = tokio::spawn(async move {
        let speech = speech();
        let mut tone = Sine::new(freq, 8_000, 2_000);
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        for chunk in speech.chunks_exact(FRAME_SAMPLES).cycle() {
            tick.tick().await;
            let frame: Vec<i16> = chunk
                .iter()
                .zip(tone.take(FRAME_SAMPLES))
                .map(|(s, t)| s.saturating_add(t))
                .collect();
            let _ = sender.send(&frame).await;
            while heard.try_recv().is_ok() {}
        }
    });
    Voice { _leg: leg, task }
}

/// A transcript segment as published.
#[derive(Clone, Debug)]
struct Said {
    stability: String,
    agent: Option<String>,
    queue: String,
    voice: String,
}

/// A call's transcript events as they come, each segment checked against the voice it heard.
struct Transcript {
    call: String,
    events: broadcast::Receiver<actors::events::Event>,
    said: Vec<Said>,
    /// The `(leg, agent)` of each `transcript.paused`.
    paused: Vec<(String, Option<String>)>,
}

impl Transcript {
    fn new(yard: &Switchyard) -> Self {
        Transcript {
            call: String::new(),
            events: yard.subscribe(),
            said: Vec::new(),
            paused: Vec::new(),
        }
    }

    /// Takes the call's events until `done` holds, for at most 30 s.
    async fn until(&mut self, what: &str, done: impl Fn(&Self) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !done(self) {
            let e = match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Ok(e)) => e.to_json(),
                Ok(Err(broadcast::error::RecvError::Lagged(n))) => panic!("{n} events missed"),
                Ok(Err(e)) => panic!("the event bus closed: {e}"),
                Err(_) => panic!("no {what} within 30 s; said: {:#?}", self.said),
            };
            if e["call_id"] != self.call.as_str() {
                continue;
            }
            let agent = e["agent"].as_str().map(str::to_owned);
            let leg = e["leg"].as_str().unwrap_or_default().to_owned();
            match e["type"].as_str() {
                Some("transcript.partial" | "transcript.final") => {}
                Some("transcript.paused") => {
                    self.paused.push((leg, agent));
                    continue;
                }
                _ => continue,
            }
            let text = e["text"].as_str().unwrap();
            let voice = text.strip_prefix("voice of ").unwrap_or(text).to_owned();
            let (want_leg, want_agent) = label_of(&voice);
            assert_eq!(
                (leg.as_str(), agent.as_deref()),
                (want_leg, want_agent),
                "the words of {voice} are labelled with the wrong speaker: {e}"
            );
            self.said.push(Said {
                stability: e["stability"].as_str().unwrap().to_owned(),
                agent,
                queue: e["queue"].as_str().unwrap().to_owned(),
                voice,
            });
        }
    }

    /// Waits for a final of each of `voices` after the first `from` segments.
    async fn finals_from(&mut self, from: usize, voices: &[&str]) {
        let what = format!("finals of {voices:?}");
        self.until(&what, |t| {
            voices.iter().all(|v| {
                t.said[from..]
                    .iter()
                    .any(|s| s.stability == "final" && s.voice == *v)
            })
        })
        .await;
    }

    /// Waits for `voice`'s first final after the first `from` segments; returns where the
    /// list stands just after it. A leg that left may still publish its last final before
    /// that (its last utterance, decoded after it went), never after.
    async fn settled_on(&mut self, from: usize, voice: &str) -> usize {
        self.finals_from(from, &[voice]).await;
        from + self.said[from..]
            .iter()
            .position(|s| s.stability == "final" && s.voice == voice)
            .expect("waited for it")
            + 1
    }

    /// What `agent`'s leg said after the first `from` segments.
    fn by_agent_since(&self, from: usize, agent: &str) -> Vec<&Said> {
        self.said[from..]
            .iter()
            .filter(|s| s.agent.as_deref() == Some(agent))
            .collect()
    }
}

fn agent(id: &str) -> Participant {
    Participant::agent(&id.into())
}

async fn offered(events: &mut broadcast::Receiver<actors::events::Event>, to: &str) {
    loop {
        let e = tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .unwrap()
            .unwrap()
            .to_json();
        if e["type"] == "call.offered" && e["agent"] == to {
            return;
        }
    }
}

/// A call in queue `q` answered by alice; the customer and alice speak until both were heard.
async fn answered(yard: &Switchyard, t: &mut Transcript) -> (String, Voice, Voice) {
    let mut events = yard.subscribe();
    yard.set_status("alice", Some(Status::Ready), None)
        .await
        .unwrap();
    let call = yard
        .create_call("+15550001".into(), "q", 0, Skills::new())
        .await
        .unwrap();
    let id = call.id().as_str().to_owned();
    t.call = id.clone();
    offered(&mut events, "alice").await;
    yard.accept(&id, "alice").await.unwrap();
    let customer = speak(yard, &id, Participant::Customer, "customer").await;
    let alice = speak(yard, &id, agent("alice"), "alice").await;
    t.finals_from(0, &["customer", "alice"]).await;
    (id, customer, alice)
}

/// Alice consults bob, who answers and speaks (the customer is held meanwhile).
async fn consulted(yard: &Switchyard, id: &str, t: &mut Transcript) -> Voice {
    yard.set_status("bob", Some(Status::Ready), None)
        .await
        .unwrap();
    yard.control(
        id,
        "alice",
        Control::Consult(Target::Agent { id: "bob".into() }),
    )
    .await
    .unwrap();
    yard.accept(id, "bob").await.unwrap();
    let bob = speak(yard, id, agent("bob"), "bob").await;
    // The consult holds the customer, so the call's transcript pauses: bob's leg says so,
    // as bob's.
    t.until("bob's leg pausing", |t| {
        t.paused
            .iter()
            .any(|(leg, a)| leg == "agent" && a.as_deref() == Some("bob"))
    })
    .await;
    bob
}

/// Every stored final carries the label of the voice it heard; the agents heard.
async fn stored_labels(store: &Store, call: &str) -> Vec<String> {
    let rows = store.transcript(call).await.unwrap();
    for r in &rows {
        let voice = r.text.strip_prefix("voice of ").unwrap_or(&r.text);
        let (leg, agent) = label_of(voice);
        assert_eq!(
            (r.leg.as_str(), r.agent.as_deref()),
            (leg, agent),
            "stored: {r:?}"
        );
    }
    rows.into_iter().filter_map(|r| r.agent).collect()
}

async fn legs(yard: &Switchyard, id: &str) -> Vec<Participant> {
    let stats = yard.media_stats(id).await.unwrap();
    stats.into_iter().map(|(p, _)| p).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_blind_transfer_the_new_agent_speaks_as_himself_and_the_old_leg_stops() {
    let (yard, store) = start().await;
    assert_eq!(yard.transcription().model.as_deref(), Some("whose-tone"));
    let mut t = Transcript::new(&yard);
    let (id, _customer, _alice) = answered(&yard, &mut t).await;

    yard.set_status("bob", Some(Status::Ready), None)
        .await
        .unwrap();
    yard.control(
        &id,
        "alice",
        Control::Transfer(Target::Agent { id: "bob".into() }),
    )
    .await
    .unwrap();
    yard.accept(&id, "bob").await.unwrap();
    // Alice's phone goes on sending: her leg left the call, so none of it is transcribed.
    let _bob = speak(&yard, &id, agent("bob"), "bob").await;
    let after = t.settled_on(t.said.len(), "bob").await;
    t.finals_from(after, &["bob", "customer"]).await;
    assert_eq!(t.by_agent_since(after, "alice").len(), 0, "{:?}", t.said);
    assert!(!legs(&yard, &id).await.contains(&agent("alice")));
    let agents = stored_labels(&store, &id).await;
    assert!(agents.contains(&"alice".into()) && agents.contains(&"bob".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_consult_is_completed_the_consulted_agent_speaks_as_himself() {
    let (yard, store) = start().await;
    let mut t = Transcript::new(&yard);
    let (id, _customer, _alice) = answered(&yard, &mut t).await;
    let _bob = consulted(&yard, &id, &mut t).await;

    yard.control(&id, "alice", Control::ConsultComplete)
        .await
        .unwrap();
    let after = t.settled_on(t.said.len(), "bob").await;
    t.finals_from(after, &["bob", "customer"]).await;
    assert_eq!(t.by_agent_since(after, "alice").len(), 0, "{:?}", t.said);
    assert!(!legs(&yard, &id).await.contains(&agent("alice")));
    let agents = stored_labels(&store, &id).await;
    assert!(agents.contains(&"bob".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_conference_each_agent_speaks_on_a_leg_of_their_own() {
    let (yard, store) = start().await;
    let mut t = Transcript::new(&yard);
    let (id, _customer, _alice) = answered(&yard, &mut t).await;
    let bob = consulted(&yard, &id, &mut t).await;

    // Three parties, three transcripts, each under its own name.
    yard.control(&id, "alice", Control::ConsultConference)
        .await
        .unwrap();
    let from = t.said.len();
    t.finals_from(from, &["customer", "alice", "bob"]).await;

    // Bob's panel reconnects: his new leg replaces the old one and keeps his name.
    drop(bob);
    let _bob = speak(&yard, &id, agent("bob"), "bob-again").await;
    let after = t.settled_on(t.said.len(), "bob-again").await;
    t.finals_from(after, &["customer", "alice", "bob-again"])
        .await;
    assert!(
        !t.said[after..].iter().any(|s| s.voice == "bob"),
        "bob's old leg is gone"
    );

    // Alice leaves: bob carries the call on, as himself; alice's leg stops.
    yard.hangup(
        &id,
        Party::Agent {
            agent: "alice".into(),
        },
    )
    .await
    .unwrap();
    let after = t.settled_on(t.said.len(), "bob-again").await;
    t.finals_from(after, &["bob-again", "customer"]).await;
    assert_eq!(t.by_agent_since(after, "alice").len(), 0, "{:?}", t.said);
    let agents = stored_labels(&store, &id).await;
    assert!(agents.contains(&"alice".into()) && agents.contains(&"bob".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_transferred_to_another_queue_is_transcribed_as_that_queue_says() {
    let (yard, _store) = start().await;
    let mut t = Transcript::new(&yard);
    let (id, _customer, _alice) = answered(&yard, &mut t).await;
    assert!(t.said.iter().all(|s| s.queue == "q"));

    // To a queue that transcribes its customers only: carol answers there.
    let mut events = yard.subscribe();
    yard.set_status("carol", Some(Status::Ready), None)
        .await
        .unwrap();
    yard.control(
        &id,
        "alice",
        Control::Transfer(Target::Queue {
            id: "customers-only".into(),
        }),
    )
    .await
    .unwrap();
    offered(&mut events, "carol").await;
    yard.accept(&id, "carol").await.unwrap();
    let _carol = speak(&yard, &id, agent("carol"), "carol").await;
    let from = t.said.len();
    t.until("two finals of the customer in the new queue", |t| {
        t.said[from..]
            .iter()
            .filter(|s| {
                s.stability == "final" && s.voice == "customer" && s.queue == "customers-only"
            })
            .count()
            >= 2
    })
    .await;
    let carol: Vec<&Said> = t.by_agent_since(from, "carol");
    assert!(
        carol.is_empty(),
        "carol's leg is not transcribed: {carol:?}"
    );
    assert!(legs(&yard, &id).await.contains(&agent("carol")));
}
