//! The two transports under a leg: the media threads (webrtc-rs's sans-IO core, the default)
//! and the async layer (for STUN/TURN servers and wildcard addresses). Both carry audio to
//! each other, and a leg closed or dropped on the media threads lets go of its socket.

use actors::config::MediaConfig;
use actors::media::leg::{Leg, FRAME_SAMPLES};
use actors::media::tone::{goertzel, Sine};
use std::time::Duration;
use tokio::sync::mpsc;

/// `offerer` offers, `answerer` answers, and both wait for the connection.
async fn connect(offerer: &Leg, answerer: &Leg) {
    let offer = offerer.offer().await.unwrap();
    let answer = answerer.answer(offer).await.unwrap();
    offerer.accept(answer).await.unwrap();
    offerer.connected(Duration::from_secs(10)).await.unwrap();
    answerer.connected(Duration::from_secs(10)).await.unwrap();
}

/// The port of a description's first UDP candidate.
fn candidate_port(sdp: &str) -> u16 {
    actors::media::sansio::candidates(sdp)[0].port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leg_on_the_async_layer_and_one_on_the_media_threads_hear_each_other() {
    // A wildcard address is expanded into the machine's interfaces by the async layer.
    let wildcard = MediaConfig {
        udp_addrs: vec!["0.0.0.0:0".into()],
        ..Default::default()
    };
    let (core, mut core_rx) = Leg::with_config(&MediaConfig::default()).await.unwrap();
    let (stack, mut stack_rx) = Leg::with_config(&wildcard).await.unwrap();
    assert!(core.on_media_threads());
    assert!(!stack.on_media_threads());
    connect(&core, &stack).await;

    let (mut low, mut high) = (
        Sine::new(440.0, 8_000, 8_000),
        Sine::new(1_000.0, 8_000, 8_000),
    );
    let (mut core_heard, mut stack_heard) = (Vec::new(), Vec::new());
    let take = |rx: &mut mpsc::Receiver<Vec<i16>>, into: &mut Vec<i16>| {
        while let Ok(f) = rx.try_recv() {
            into.extend(f);
        }
    };
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    // The async layer drops a packet its driver cannot take within 40 ms (a loaded machine):
    // what was sent is counted, not assumed.
    let mut stack_sent = 0;
    for _ in 0..75 {
        tick.tick().await;
        core.send(&low.take(FRAME_SAMPLES)).await.unwrap();
        stack_sent += u64::from(stack.send(&high.take(FRAME_SAMPLES)).await.is_ok());
        take(&mut core_rx, &mut core_heard);
        take(&mut stack_rx, &mut stack_heard);
    }
    // Each hears the other's tone, not its own.
    assert!(goertzel(&stack_heard, 440.0, 8_000) > 0.005);
    assert!(goertzel(&stack_heard, 1_000.0, 8_000) < 0.001);
    assert!(goertzel(&core_heard, 1_000.0, 8_000) > 0.005);
    assert!(goertzel(&core_heard, 440.0, 8_000) < 0.001);
    assert!(core.is_connected() && stack.is_connected());
    // A media-thread leg counts a packet when its thread has sent it, just after `send`:
    // once the leg is released, every packet handed to it is counted.
    close_and_wait(&core).await;
    close_and_wait(&stack).await;
    let (c, s) = (core.stats(), stack.stats());
    assert_eq!((c.packets_sent, s.packets_sent), (75, stack_sent));
    assert!(
        c.packets_received > 40 && s.packets_received > 40,
        "{c:?} {s:?}"
    );
}

/// Closes a leg and waits (5 s at most) until its transport has let go of it.
async fn close_and_wait(leg: &Leg) {
    let released = leg.released();
    leg.close().await;
    tokio::time::timeout(Duration::from_secs(5), released)
        .await
        .expect("the leg is released");
}

fn free(port: u16) -> bool {
    std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leg_closed_or_dropped_lets_go_of_its_socket() {
    let (closed, _rx) = Leg::new().await.unwrap();
    let offer = closed.offer().await.unwrap();
    let port = candidate_port(&offer.sdp);
    assert!(std::net::UdpSocket::bind(("127.0.0.1", port)).is_err());
    let (other, _other_rx) = Leg::new().await.unwrap();
    let answer = other.answer(offer).await.unwrap();
    close_and_wait(&closed).await;
    assert!(free(port), "port {port} still held");
    // Signalling a closed leg is refused.
    let refused = closed.accept(answer).await.unwrap_err();
    assert!(refused.to_string().contains("closed"), "{refused}");
    assert!(!closed.is_connected());

    let (dropped, _rx) = Leg::new().await.unwrap();
    let port = candidate_port(&dropped.offer().await.unwrap().sdp);
    assert!(!free(port));
    let released = dropped.released();
    drop(dropped);
    tokio::time::timeout(Duration::from_secs(5), released)
        .await
        .expect("a dropped leg is released");
    assert!(free(port), "port {port} still held");
}
