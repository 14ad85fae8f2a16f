//! The media actor with real WebRTC peers on loopback, driven through the engine: each test
//! connects Rust peers as the customer and the agents, sends a distinct tone from each, and
//! checks what every peer hears (Goertzel power at each tone's frequency) as the call takes
//! its steps. Media follows the call; it never decides it.

use actors::config::Config;
use actors::media::codec::Codec;
use actors::media::leg::{Leg, FRAME_SAMPLES};
use actors::media::tone::{goertzel, Sine};
use actors::store::Store;
use actors::{Control, Switchyard};
use engine::agent::Status;
use engine::call::{Participant, Party as CallParty, Target};
use engine::routing::Skills;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

const HOLD_NOTES: [f64; 4] = [261.63, 329.63, 392.00, 523.25];

/// A peer on the call: its leg, what it receives, and the tone it sends.
struct Peer {
    leg: Arc<Leg>,
    rx: mpsc::Receiver<Vec<i16>>,
    tone: Sine,
    freq: f64,
    heard: Vec<i16>,
}

async fn join(yard: &Switchyard, call: &str, who: Participant, freq: f64) -> Peer {
    join_with(yard, call, who, freq, &[Codec::Opus, Codec::Pcmu]).await
}

/// A peer offering only `codecs`.
async fn join_with(
    yard: &Switchyard,
    call: &str,
    who: Participant,
    freq: f64,
    codecs: &[Codec],
) -> Peer {
    let (client, rx) = Leg::with_codecs(&Default::default(), codecs).await.unwrap();
    let offer = client.offer().await.unwrap();
    let answer = yard.media_answer(call, who, offer).await.unwrap();
    client.accept(answer).await.unwrap();
    client.connected(Duration::from_secs(10)).await.unwrap();
    Peer {
        leg: Arc::new(client),
        rx,
        tone: Sine::new(freq, 8_000, 8_000),
        freq,
        heard: Vec::new(),
    }
}

/// `ms` of every peer sending its tone; each peer's `heard` is what it received meanwhile.
async fn talk(peers: &mut [&mut Peer], ms: u64) {
    for p in peers.iter_mut() {
        p.heard.clear();
    }
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for _ in 0..ms / 20 {
        tick.tick().await;
        for p in peers.iter_mut() {
            p.leg.send(&p.tone.take(FRAME_SAMPLES)).await.unwrap();
            while let Ok(f) = p.rx.try_recv() {
                p.heard.extend(f);
            }
        }
    }
}

/// Talks for a settling second (frames under way arrive), then for `ms` measured.
async fn settle_then_talk(peers: &mut [&mut Peer], ms: u64) {
    talk(peers, 1_000).await;
    talk(peers, ms).await;
}

fn hears(p: &Peer, freq: f64) -> bool {
    goertzel(&p.heard, freq, 8_000) > 0.005
}

fn music(p: &Peer) -> f64 {
    HOLD_NOTES
        .iter()
        .map(|&f| goertzel(&p.heard, f, 8_000))
        .sum()
}

const CONFIG: &str = "[[queues]]\nid = \"q\"\n[[agents]]\nid = \"alice\"\nqueues = [\"q\"]\n[[agents]]\nid = \"bob\"\nqueues = [\"q\"]\n";

async fn start(recordings: Option<&std::path::Path>) -> Switchyard {
    let options = actors::StartOptions {
        recordings_dir: recordings.map(|p| p.to_owned()),
        ..Default::default()
    };
    Switchyard::start_with(Config::from_toml(CONFIG).unwrap(), Store::memory(), options)
        .await
        .unwrap()
}

/// A call from the customer, offered to and accepted by alice (bob stays not ready).
async fn answered_call(yard: &Switchyard) -> String {
    let mut events = yard.subscribe();
    yard.set_status("alice", Some(Status::Ready), None)
        .await
        .unwrap();
    let call = yard
        .create_call("+15550001".into(), "q", 0, Skills::new())
        .await
        .unwrap();
    let id = call.id().as_str().to_owned();
    wait_for(&mut events, "call.offered").await;
    id
}

async fn wait_for(
    events: &mut tokio::sync::broadcast::Receiver<actors::events::Event>,
    what: &str,
) {
    loop {
        let e = tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .unwrap()
            .unwrap();
        if e.type_name() == what {
            return;
        }
    }
}

fn alice() -> Participant {
    Participant::agent(&"alice".into())
}

fn bob() -> Participant {
    Participant::agent(&"bob".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_follows_the_call_waiting_music_talk_record_mask_hold_and_end() {
    let recordings = tempfile::tempdir().unwrap();
    let yard = start(Some(recordings.path())).await;
    let id = answered_call(&yard).await;

    // Waiting in the queue (still ringing alice), the customer hears music.
    let mut customer = join(&yard, &id, Participant::Customer, 440.0).await;
    settle_then_talk(&mut [&mut customer], 1_000).await;
    assert!(
        music(&customer) > 0.001,
        "queue music ({})",
        music(&customer)
    );
    let refused = Leg::new().await.unwrap().0.offer().await.unwrap();
    let err = yard.media_answer(&id, bob(), refused).await.unwrap_err();
    assert!(err.to_string().contains("not on call"), "{err}");

    yard.accept(&id, "alice").await.unwrap();
    // The customer's browser offers Opus first, the agent's phone only PCMU: each leg sends
    // what its offer chose, and the bridge carries audio between them.
    let mut agent = join_with(&yard, &id, alice(), 880.0, &[Codec::Pcmu]).await;
    settle_then_talk(&mut [&mut customer, &mut agent], 1_000).await;
    assert!(hears(&agent, 440.0), "the agent hears the customer");
    assert!(!hears(&agent, 880.0), "and not itself");
    assert!(hears(&customer, 880.0), "the customer hears the agent");
    let stats = yard.media_stats(&id).await.unwrap();
    assert_eq!(stats.len(), 2);
    let codec_of = |who: &Participant| stats.iter().find(|(p, _)| p == who).unwrap().1.codec;
    assert_eq!(codec_of(&Participant::Customer), Some(Codec::Opus));
    assert_eq!(codec_of(&alice()), Some(Codec::Pcmu));
    assert_eq!(customer.leg.stats().codec, Some(Codec::Opus));
    for (who, s) in &stats {
        assert!(
            s.connected && s.packets_received > 50 && s.packets_sent > 50,
            "{who:?}: {s:?}"
        );
    }

    // Recorded, then masked for sensitive data, then recorded again.
    use engine::call::RecordingAction::{Mask, Start, Stop, Unmask};
    for action in [Start, Mask, Unmask] {
        yard.control(&id, "alice", Control::Recording(action))
            .await
            .unwrap();
        talk(&mut [&mut customer, &mut agent], 1_000).await;
    }
    yard.control(&id, "alice", Control::Recording(Stop))
        .await
        .unwrap();

    // Muted: the customer no longer hears the agent; the agent still hears the customer.
    yard.control(&id, "alice", Control::Mute).await.unwrap();
    settle_then_talk(&mut [&mut customer, &mut agent], 1_000).await;
    assert!(
        !hears(&customer, 880.0),
        "muted: the customer does not hear the agent"
    );
    assert!(hears(&agent, 440.0));
    yard.control(&id, "alice", Control::Unmute).await.unwrap();

    // Held: music for the customer, nothing for the agent.
    yard.control(&id, "alice", Control::Hold).await.unwrap();
    settle_then_talk(&mut [&mut customer, &mut agent], 1_000).await;
    assert!(agent.heard.is_empty(), "held: the agent hears nothing");
    assert!(!hears(&customer, 880.0), "held: not the agent");
    assert!(
        music(&customer) > 0.001,
        "held: hold music ({})",
        music(&customer)
    );
    yard.control(&id, "alice", Control::Resume).await.unwrap();
    settle_then_talk(&mut [&mut customer, &mut agent], 1_000).await;
    assert!(hears(&agent, 440.0) && hears(&customer, 880.0), "resumed");

    yard.hangup(&id, CallParty::Customer).await.unwrap();
    let call_id = engine::CallId::from(id.as_str());
    tokio::time::timeout(Duration::from_secs(10), yard.media().ended(&call_id))
        .await
        .expect("the media actor ends with the call");
    assert!(yard.media_stats(&id).await.unwrap().is_empty());

    // The recording holds both parties, with a silent stretch where it was masked.
    let path = yard.media().recording_path(&call_id).unwrap();
    let (rate, samples) = actors::media::wav::read(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(rate, 8_000);
    assert!(samples.len() > 2 * 8_000, "{} samples", samples.len());
    let first_second = &samples[800..7_200];
    let (c, a) = (
        goertzel(first_second, 440.0, 8_000),
        goertzel(first_second, 880.0, 8_000),
    );
    assert!(
        c > 0.005 && a > 0.005,
        "both parties are recorded: customer {c}, agent {a}"
    );
    let longest_silence = samples
        .split(|s| *s != 0)
        .map(|run| run.len())
        .max()
        .unwrap_or(0);
    assert!(
        longest_silence >= 6_400,
        "the masked second is silent ({longest_silence} samples)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consult_then_a_conference_where_each_party_hears_the_other_two() {
    let yard = start(None).await;
    let id = answered_call(&yard).await;
    yard.accept(&id, "alice").await.unwrap();
    let mut customer = join(&yard, &id, Participant::Customer, 440.0).await;
    let mut a = join(&yard, &id, alice(), 880.0).await;
    yard.set_status("bob", Some(Status::Ready), None)
        .await
        .unwrap();
    yard.control(
        &id,
        "alice",
        Control::Consult(Target::Agent { id: "bob".into() }),
    )
    .await
    .unwrap();
    yard.accept(&id, "bob").await.unwrap();
    let mut b = join(&yard, &id, bob(), 1_320.0).await;

    // The consult: alice and bob talk, the customer is on hold music.
    settle_then_talk(&mut [&mut customer, &mut a, &mut b], 1_000).await;
    assert!(
        hears(&a, 1_320.0) && hears(&b, 880.0),
        "alice and bob hear each other"
    );
    assert!(
        !hears(&a, 440.0) && !hears(&b, 440.0),
        "nobody hears the held customer"
    );
    assert!(!hears(&customer, 880.0) && !hears(&customer, 1_320.0));
    assert!(music(&customer) > 0.001);

    // The conference: each party hears the other two and not itself.
    yard.control(&id, "alice", Control::ConsultConference)
        .await
        .unwrap();
    settle_then_talk(&mut [&mut customer, &mut a, &mut b], 1_500).await;
    for p in [&customer, &a, &b] {
        for f in [440.0, 880.0, 1_320.0] {
            assert_eq!(
                hears(p, f),
                f != p.freq,
                "the {} Hz party hearing {f} Hz: {}",
                p.freq,
                goertzel(&p.heard, f, 8_000)
            );
        }
        assert!(music(p) < 0.001, "no music in the conference");
    }

    // The customer leaves: the agents stay connected, the customer's leg is closed.
    yard.hangup(&id, CallParty::Customer).await.unwrap();
    settle_then_talk(&mut [&mut a, &mut b], 1_000).await;
    assert!(hears(&a, 1_320.0) && hears(&b, 880.0));
    assert!(!hears(&a, 440.0));
    let legs: Vec<Participant> = yard
        .media_stats(&id)
        .await
        .unwrap()
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert!(!legs.contains(&Participant::Customer), "{legs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dtmf_reaches_the_customer_as_rfc_4733_events() {
    let yard = start(None).await;
    let id = answered_call(&yard).await;
    yard.accept(&id, "alice").await.unwrap();
    let customer = join(&yard, &id, Participant::Customer, 440.0).await;
    let _agent = join(&yard, &id, alice(), 880.0).await;
    let mut events = customer.leg.take_dtmf_events().await.unwrap();
    yard.control(&id, "alice", Control::Dtmf("15#".into()))
        .await
        .unwrap();
    // Each digit: events with growing duration, then the end bit (three times).
    let mut ended = Vec::new();
    while ended.len() < 3 {
        let p = tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .expect("telephone events arrive")
            .unwrap();
        let (event, end) = (p[0], p[1] & 0x80 != 0);
        if end && ended.last() != Some(&event) {
            ended.push(event);
        }
    }
    assert_eq!(ended, [1, 5, 11], "1, 5 and # (11), in order");
}

/// A deterministic pseudo-random signal: a few sines at random frequencies between 300 and
/// 1,500 Hz, changing every 100 ms.
fn speechlike(seed: u64, samples: usize) -> Vec<i16> {
    let mut x = seed;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % 10_000) as f64 / 10_000.0
    };
    let mut out = Vec::with_capacity(samples);
    while out.len() < samples {
        let parts: Vec<Sine> = (0..3)
            .map(|_| Sine::new(300.0 + next() * 1_200.0, 8_000, 3_000))
            .collect();
        let chunk: Vec<i16> = parts
            .into_iter()
            .map(|mut s| s.take(800))
            .fold(vec![0i16; 800], |acc, s| {
                acc.iter().zip(&s).map(|(a, b)| a + b).collect()
            });
        out.extend(chunk);
    }
    out.truncate(samples);
    out
}

/// The best normalised correlation of `b` against `a` over lags `0..max_lag`.
fn best_correlation(a: &[i16], b: &[i16], max_lag: usize) -> f64 {
    let n = a.len().min(b.len().saturating_sub(max_lag));
    (0..max_lag)
        .map(|lag| {
            let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
            for i in 0..n {
                let (x, y) = (f64::from(a[i]), f64::from(b[i + lag]));
                ab += x * y;
                aa += x * x;
                bb += y * y;
            }
            ab / (aa.sqrt() * bb.sqrt()).max(1.0)
        })
        .fold(0.0, f64::max)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_legs_fork_carries_its_audio_at_16_khz() {
    let yard = start(None).await;
    let id = answered_call(&yard).await;
    yard.accept(&id, "alice").await.unwrap();
    let customer = join(&yard, &id, Participant::Customer, 440.0).await;
    let _agent = join(&yard, &id, alice(), 880.0).await;
    let fork = yard
        .media_fork(&id, Participant::Customer)
        .await
        .expect("the customer's fork");
    assert!(
        yard.media_fork(&id, Participant::Customer).await.is_none(),
        "a fork is taken once"
    );
    let sent = speechlike(7, 8_000 * 3);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for frame in sent.chunks(FRAME_SAMPLES) {
        tick.tick().await;
        customer.leg.send(frame).await.unwrap();
    }
    let mut forked = Vec::new();
    while forked.len() < 16_000 * 3 - 3_200 {
        let f = tokio::time::timeout(Duration::from_secs(5), fork.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(f.samples.len(), 320, "20 ms at 16 kHz");
        forked.extend(f.samples);
    }
    // Back to 8 kHz (every other sample of a band-limited signal, either phase) to compare
    // with what was sent; a different signal of the same kind gives the chance level.
    let phase = |p: usize| -> Vec<i16> { forked.iter().skip(p).step_by(2).copied().collect() };
    let (even, odd) = (phase(0), phase(1));
    let best = |reference: &[i16]| {
        best_correlation(reference, &even, 2_000).max(best_correlation(reference, &odd, 2_000))
    };
    let matched = best(&sent[..16_000]);
    let chance = best(&speechlike(99, 16_000));
    assert!(
        matched > 0.8 && chance < 0.3,
        "correlation with the sent audio {matched:.3}, with other audio {chance:.3}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_media_actor_leaves_the_call_up_and_a_new_offer_starts_another() {
    let yard = start(None).await;
    let id = answered_call(&yard).await;
    yard.accept(&id, "alice").await.unwrap();
    let _customer = join(&yard, &id, Participant::Customer, 440.0).await;
    let call_id = engine::CallId::from(id.as_str());
    let media = yard.media().get(&call_id).expect("a media actor");
    media.kill();
    tokio::time::timeout(Duration::from_secs(5), yard.media().ended(&call_id))
        .await
        .expect("the registry forgets it");
    // The call is still up and the agent can act on it.
    yard.control(&id, "alice", Control::Hold).await.unwrap();
    yard.control(&id, "alice", Control::Resume).await.unwrap();
    let mut customer = join(&yard, &id, Participant::Customer, 440.0).await;
    let mut agent = join(&yard, &id, alice(), 880.0).await;
    settle_then_talk(&mut [&mut customer, &mut agent], 1_000).await;
    assert!(hears(&agent, 440.0) && hears(&customer, 880.0));
    assert_ne!(
        yard.media().get(&call_id).unwrap().get_id(),
        media.get_id(),
        "a new media actor"
    );
}

/// One second of `hz` at 16 kHz written to `path` as a WAV; the path.
fn tone_wav(path: &std::path::Path, hz: f64) -> std::path::PathBuf {
    let mut rec = actors::media::wav::Recorder::new(
        std::io::BufWriter::new(std::fs::File::create(path).unwrap()),
        16_000,
    )
    .unwrap();
    rec.write(
        &Sine::new(hz, 16_000, 8_000).take(16_000),
        engine::call::Recording::On,
    )
    .unwrap();
    rec.finish().unwrap();
    path.to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queues_hold_music_plays_to_its_waiting_customer_follows_a_transfer_and_a_bad_file_is_refused(
) {
    let dir = tempfile::tempdir().unwrap();
    // One second of 700 Hz at 16 kHz: resampled to the bridge's 8 kHz at start.
    let file = tone_wav(&dir.path().join("music.wav"), 700.0);
    let with_music = |path: &std::path::Path| {
        let line = format!(
            "id = \"q\"\nhold_music = {:?}\n",
            path.display().to_string()
        );
        CONFIG.replacen("id = \"q\"\n", &line, 1)
    };
    let config = Config::from_toml(&with_music(&file)).unwrap();
    let yard = Switchyard::start(config, Store::memory()).await.unwrap();
    let call = yard
        .create_call("+15550001".into(), "q", 0, Skills::new())
        .await
        .unwrap();
    let mut customer = join(&yard, call.id().as_str(), Participant::Customer, 440.0).await;
    settle_then_talk(&mut [&mut customer], 1_000).await;
    assert!(hears(&customer, 700.0), "the queue's music file");
    assert!(music(&customer) < 0.001, "not the default tones");

    // Sent on to another queue, the customer hears that queue's music.
    let file2 = tone_wav(&dir.path().join("music2.wav"), 1_100.0);
    let two = format!(
        "{}[[queues]]\nid = \"q2\"\nhold_music = {:?}\n",
        with_music(&file),
        file2.display().to_string()
    );
    let yard = Switchyard::start(Config::from_toml(&two).unwrap(), Store::memory())
        .await
        .unwrap();
    let id = answered_call(&yard).await;
    yard.accept(&id, "alice").await.unwrap();
    let mut customer = join(&yard, &id, Participant::Customer, 440.0).await;
    let to_q2 = engine::call::Target::Queue { id: "q2".into() };
    yard.control(&id, "alice", Control::Transfer(to_q2))
        .await
        .unwrap();
    talk(&mut [&mut customer], 1_000).await;
    customer.heard.clear();
    talk(&mut [&mut customer], 1_000).await;
    assert!(hears(&customer, 1_100.0), "the new queue's music");
    assert!(!hears(&customer, 700.0), "not the first queue's any more");

    let missing = Config::from_toml(&with_music(&dir.path().join("nope.wav"))).unwrap();
    let err = Switchyard::start(missing, Store::memory())
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("nope.wav"), "{err}");
}
