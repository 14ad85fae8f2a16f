//! Media follows the call: the customer's and the agent's WebRTC offers are answered for a
//! live call, the bridge starts, and holding the call through the engine puts the customer
//! on hold music; hanging up ends the media session.

use actors::config::Config;
use actors::media::leg::{Leg, FRAME_SAMPLES};
use actors::media::session::Party;
use actors::media::tone::{goertzel, Sine};
use actors::store::Store;
use actors::{Control, Switchyard};
use engine::agent::Status;
use engine::call::Party as CallParty;
use engine::routing::Skills;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

async fn join(yard: &Switchyard, call: &str, party: Party) -> (Arc<Leg>, mpsc::Receiver<Vec<i16>>) {
    let (client, rx) = Leg::new().await.unwrap();
    let offer = client.offer().await.unwrap();
    let answer = yard.media_answer(call, party, offer).await.unwrap();
    client.accept(answer).await.unwrap();
    client.connected(Duration::from_secs(10)).await.unwrap();
    (Arc::new(client), rx)
}

/// One second of each side's tone; what each heard.
async fn second(
    customer: &Leg,
    c_rx: &mut mpsc::Receiver<Vec<i16>>,
    agent: &Leg,
    a_rx: &mut mpsc::Receiver<Vec<i16>>,
) -> (Vec<i16>, Vec<i16>) {
    let (mut c_tone, mut a_tone) = (
        Sine::new(440.0, 8_000, 10_000),
        Sine::new(880.0, 8_000, 10_000),
    );
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let (mut to_c, mut to_a) = (Vec::new(), Vec::new());
    for _ in 0..50 {
        tick.tick().await;
        customer.send(&c_tone.take(FRAME_SAMPLES)).await.unwrap();
        agent.send(&a_tone.take(FRAME_SAMPLES)).await.unwrap();
        while let Ok(f) = c_rx.try_recv() {
            to_c.extend(f);
        }
        while let Ok(f) = a_rx.try_recv() {
            to_a.extend(f);
        }
    }
    (to_c, to_a)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holding_the_call_puts_the_customer_on_hold_music_and_hanging_up_ends_the_media() {
    let config =
        Config::from_toml("[[queues]]\nid = \"q\"\n[[agents]]\nid = \"alice\"\nqueues = [\"q\"]\n")
            .unwrap();
    let recordings = tempfile::tempdir().unwrap();
    let options = actors::StartOptions {
        recordings_dir: Some(recordings.path().to_owned()),
        ..Default::default()
    };
    let yard = Switchyard::start_with(config, Store::memory(), options)
        .await
        .unwrap();
    let mut events = yard.subscribe();
    yard.set_status("alice", Some(Status::Ready), None)
        .await
        .unwrap();
    let call = yard
        .create_call("+15550001".into(), "q", 0, Skills::new())
        .await
        .unwrap();
    let id = call.id().as_str().to_owned();
    loop {
        let e = tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .unwrap()
            .unwrap();
        if e.type_name() == "call.offered" {
            break;
        }
    }
    yard.accept(&id, "alice").await.unwrap();

    let (customer, mut c_rx) = join(&yard, &id, Party::Customer).await;
    assert!(
        !yard.media().is_bridged(&call.id().clone()),
        "one leg is not a bridge yet"
    );
    let (agent, mut a_rx) = join(&yard, &id, Party::Agent).await;
    assert!(yard.media().is_bridged(call.id()));

    let (to_c, to_a) = second(&customer, &mut c_rx, &agent, &mut a_rx).await;
    let (to_c2, to_a2) = second(&customer, &mut c_rx, &agent, &mut a_rx).await;
    let (to_c, to_a) = ([to_c, to_c2].concat(), [to_a, to_a2].concat());
    assert!(
        goertzel(&to_a, 440.0, 8_000) > 0.01,
        "the agent hears the customer"
    );
    assert!(
        goertzel(&to_c, 880.0, 8_000) > 0.01,
        "the customer hears the agent"
    );

    // Recorded, then masked for sensitive data, then recorded again.
    use engine::call::RecordingAction::{Mask, Start, Unmask};
    yard.control(&id, "alice", Control::Recording(Start))
        .await
        .unwrap();
    let _ = second(&customer, &mut c_rx, &agent, &mut a_rx).await;
    yard.control(&id, "alice", Control::Recording(Mask))
        .await
        .unwrap();
    let _ = second(&customer, &mut c_rx, &agent, &mut a_rx).await;
    yard.control(&id, "alice", Control::Recording(Unmask))
        .await
        .unwrap();
    let _ = second(&customer, &mut c_rx, &agent, &mut a_rx).await;

    yard.control(&id, "alice", Control::Hold).await.unwrap();
    let _ = second(&customer, &mut c_rx, &agent, &mut a_rx).await;
    let (to_c, to_a) = second(&customer, &mut c_rx, &agent, &mut a_rx).await;
    assert!(to_a.is_empty(), "held: the agent hears nothing");
    assert!(goertzel(&to_c, 880.0, 8_000) < 0.001, "held: not the agent");
    let music: f64 = [261.63, 329.63, 392.00, 523.25]
        .iter()
        .map(|&f| goertzel(&to_c, f, 8_000))
        .sum();
    assert!(music > 0.001, "held: hold music ({music})");

    yard.control(&id, "alice", Control::Resume).await.unwrap();
    yard.hangup(&id, CallParty::Customer).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), yard.media().ended(call.id()))
        .await
        .expect("the media session ends with the call");
    assert!(!yard.media().is_bridged(call.id()));

    // The recording holds both parties, with a silent stretch where it was masked.
    let path = yard.media().recording_path(call.id()).unwrap();
    let (rate, samples) = actors::media::wav::read(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(rate, 8_000);
    assert!(samples.len() > 3 * 8_000, "{} samples", samples.len());
    let first_second = &samples[800..7_200];
    assert!(
        goertzel(first_second, 440.0, 8_000) > 0.005,
        "the customer is in the recording"
    );
    assert!(
        goertzel(first_second, 880.0, 8_000) > 0.005,
        "the agent is in the recording"
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
