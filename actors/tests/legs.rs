//! The two transports under a leg: the media threads (webrtc-rs's sans-IO core, the default)
//! and the async layer (for STUN/TURN servers and wildcard addresses). Both carry audio to
//! each other, and a leg closed or dropped on the media threads lets go of its socket.

use actors::config::MediaConfig;
use actors::media::leg::{Leg, RtpBind, FRAME_SAMPLES};
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

/// An RTP packet of PCMU by hand: version 2, payload type 0.
fn rtp_pcmu(seq: u16, ts: u32, pcm: &[i16]) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    p.extend(actors::media::g711::encode_frame(pcm));
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_rtp_leg_hears_its_party_and_answers_where_the_packets_come_from() {
    // The carrier's SDP names one port; it sends from another (a NAT): the leg latches on.
    let named = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let carrier = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let sdp = format!(
        "v=0\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {} RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n",
        named.local_addr().unwrap().port()
    );
    let (leg, mut heard) = Leg::plain(RtpBind::any("127.0.0.1".parse().unwrap()), Some(&sdp))
        .await
        .unwrap();
    assert!(leg.is_plain() && leg.is_connected());
    let at = leg.local_addr().unwrap();
    let (mut low, mut high) = (
        Sine::new(440.0, 8_000, 8_000),
        Sine::new(1_000.0, 8_000, 8_000),
    );
    let mut got = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for i in 0..50u16 {
        tick.tick().await;
        let packet = rtp_pcmu(i, u32::from(i) * 160, &low.take(FRAME_SAMPLES));
        carrier.send_to(&packet, at).await.unwrap();
        while let Ok(f) = heard.try_recv() {
            got.extend(f);
        }
    }
    // A stranger's packets are not taken.
    let stranger = tokio::net::UdpSocket::bind("127.0.0.2:0").await.unwrap();
    stranger
        .send_to(&rtp_pcmu(99, 0, &[0; 160]), at)
        .await
        .unwrap();
    assert!(
        goertzel(&got, 440.0, 8_000) > 0.005,
        "the leg heard the carrier"
    );
    // The leg's audio goes to where the carrier sends from, not to the port its SDP named.
    for _ in 0..25 {
        leg.send(&high.take(FRAME_SAMPLES)).await.unwrap();
    }
    let mut buf = [0u8; 2048];
    let mut back = Vec::new();
    while back.len() < 160 * 20 {
        let (n, _) = tokio::time::timeout(Duration::from_secs(5), carrier.recv_from(&mut buf))
            .await
            .expect("RTP back at the carrier's port")
            .unwrap();
        assert_eq!((buf[0] >> 6, buf[1] & 0x7f), (2, 0), "RTP version 2, PCMU");
        back.extend(actors::media::g711::decode_frame(&buf[12..n]));
    }
    assert!(
        goertzel(&back, 1_000.0, 8_000) > 0.005,
        "the carrier heard the leg"
    );
    let s = leg.stats();
    assert_eq!((s.packets_received, s.packets_sent), (50, 25), "{s:?}");
    leg.close().await;
    assert!(!leg.is_connected());
}

/// A carrier's socket and a plain leg for its SDP offering `pts` (e.g. "8 0"), with the
/// leg's channel of what it hears.
async fn carrier_and_leg(
    pts: &str,
) -> (
    tokio::net::UdpSocket,
    Leg,
    tokio::sync::mpsc::Receiver<Vec<i16>>,
) {
    let carrier = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let sdp = format!(
        "v=0\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {} RTP/AVP {pts}\r\n",
        carrier.local_addr().unwrap().port()
    );
    let (leg, heard) = Leg::plain(RtpBind::any("127.0.0.1".parse().unwrap()), Some(&sdp))
        .await
        .unwrap();
    (carrier, leg, heard)
}

/// The carrier sends 25 packets of payload type `pt`, 20 ms apart, each `payload()` (on an
/// 8 kHz RTP clock): what the leg heard meanwhile.
async fn carrier_says(
    carrier: &tokio::net::UdpSocket,
    leg: &Leg,
    heard: &mut tokio::sync::mpsc::Receiver<Vec<i16>>,
    pt: u8,
    mut payload: impl FnMut() -> Vec<u8>,
) -> Vec<i16> {
    let at = leg.local_addr().unwrap();
    let mut got = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for i in 0..25u16 {
        tick.tick().await;
        let mut p = rtp_pcmu(i, u32::from(i) * 160, &[]);
        p[1] = pt;
        p.extend(payload());
        carrier.send_to(&p, at).await.unwrap();
        while let Ok(f) = heard.try_recv() {
            got.extend(f);
        }
    }
    got
}

/// The leg says a frame of 1 kHz: the payload type and size of what reaches the carrier.
async fn leg_says(carrier: &tokio::net::UdpSocket, leg: &Leg) -> (u8, usize) {
    leg.send(&Sine::new(1_000.0, 8_000, 8_000).take(FRAME_SAMPLES))
        .await
        .unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), carrier.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    (buf[1] & 0x7f, n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_rtp_leg_speaks_pcma_when_the_party_prefers_it() {
    let (carrier, leg, mut heard) = carrier_and_leg("8 0").await;
    let mut tone = Sine::new(440.0, 8_000, 8_000);
    let got = carrier_says(&carrier, &leg, &mut heard, 8, || {
        actors::media::g711::encode_alaw_frame(&tone.take(FRAME_SAMPLES))
    })
    .await;
    assert!(goertzel(&got, 440.0, 8_000) > 0.005, "A-law decoded");
    assert_eq!(
        leg_says(&carrier, &leg).await,
        (8, 12 + 160),
        "sent as PCMA"
    );
    assert_eq!(leg.stats().codec, Some(actors::media::codec::Codec::Pcma));
    leg.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_rtp_leg_takes_g722_wherever_offered_and_forks_its_wide_band() {
    use actors::media::codec::{Codec, Encoder};
    // G.722 listed last: still the one spoken (twice the band at the same bit rate).
    let (carrier, leg, mut heard) = carrier_and_leg("0 8 9").await;
    let (wide_tx, wide_rx) = std::sync::mpsc::channel();
    leg.tap_16k(move |f| {
        let _ = wide_tx.send(f);
    });
    // 440 Hz, which the bridge carries, and 6 kHz, which only a wideband codec does.
    let (mut low, mut high) = (
        Sine::new(440.0, 16_000, 8_000),
        Sine::new(6_000.0, 16_000, 8_000),
    );
    let mut enc = Encoder::new(Codec::G722).unwrap();
    let got = carrier_says(&carrier, &leg, &mut heard, 9, || {
        let both: Vec<i16> = low
            .take(320)
            .iter()
            .zip(high.take(320))
            .map(|(a, b)| a / 2 + b / 2)
            .collect();
        enc.encode_native(&both).unwrap()
    })
    .await;
    assert!(goertzel(&got, 440.0, 8_000) > 0.001, "G.722 decoded");
    let wide: Vec<i16> = wide_rx.try_iter().flatten().collect();
    assert!(wide.len() >= 20 * 320, "the fork's 16 kHz: {}", wide.len());
    assert!(
        goertzel(&wide[1_600..], 6_000.0, 16_000) > 0.001,
        "the fork hears 6 kHz, beyond the telephone band"
    );
    assert_eq!(
        leg_says(&carrier, &leg).await,
        (9, 12 + 160),
        "sent as G.722"
    );
    assert_eq!(leg.stats().codec, Some(Codec::G722));
    leg.close().await;
}

#[tokio::test]
async fn plain_legs_take_even_ports_of_the_configured_range_until_it_is_full() {
    // A stretch of four ports free right now (others' sockets come and go in parallel).
    let base = (0..50)
        .find_map(|_| {
            let probe = std::net::UdpSocket::bind("127.0.0.1:0").ok()?;
            let base = probe.local_addr().ok()?.port() & !1;
            drop(probe);
            let free =
                (base..base + 4).all(|p| std::net::UdpSocket::bind(("127.0.0.1", p)).is_ok());
            free.then_some(base)
        })
        .expect("four free ports");
    let bind = RtpBind {
        ip: "127.0.0.1".parse().unwrap(),
        ports: Some((base, base + 3)),
    };
    let sdp = "v=0\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    let (a, _) = Leg::plain(bind, Some(sdp)).await.unwrap();
    let (b, _) = Leg::plain(bind, None).await.unwrap();
    let mut ports = [
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    ];
    ports.sort();
    assert_eq!(ports, [base, base + 2], "the range's two even ports");
    let full = Leg::plain(bind, Some(sdp))
        .await
        .err()
        .expect("the range is full");
    assert!(full.to_string().contains("no free RTP port"), "{full}");
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_rtp_leg_takes_and_sends_dtmf_as_rfc4733_events() {
    let carrier = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let sdp = format!(
        "v=0\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {} RTP/AVP 0 96\r\na=rtpmap:96 telephone-event/8000\r\n",
        carrier.local_addr().unwrap().port()
    );
    let (leg, _heard) = Leg::plain(RtpBind::any("127.0.0.1".parse().unwrap()), Some(&sdp))
        .await
        .unwrap();
    let at = leg.local_addr().unwrap();
    let mut events = leg.take_dtmf_events().await.expect("the leg's events");
    // The carrier presses 7 then 3: each a start, a continuation and its end three times.
    let mut seq = 0u16;
    for (digit, ts) in [(7u8, 8_000u32), (3, 16_000)] {
        for (end, duration) in [
            (0u8, 160u16),
            (0, 320),
            (0x80, 480),
            (0x80, 480),
            (0x80, 480),
        ] {
            let mut p = vec![0x80, 96, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78];
            p[2..4].copy_from_slice(&seq.to_be_bytes());
            p[4..8].copy_from_slice(&ts.to_be_bytes());
            p.extend([digit, end | 10]);
            p.extend(duration.to_be_bytes());
            carrier.send_to(&p, at).await.unwrap();
            seq += 1;
        }
    }
    // Each event packet is counted before it is handed on: once all ten came out, all ten
    // were counted.
    for _ in 0..10 {
        tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .expect("every event packet handed on")
            .expect("the events channel open");
    }
    assert_eq!(leg.stats().dtmf_received, 2, "{:?}", leg.stats());
    // Our digits go out as events at the party's payload type.
    leg.send_dtmf("19").await.unwrap();
    let mut buf = [0u8; 2048];
    let mut ended = Vec::new();
    while ended.len() < 2 {
        let (n, _) = tokio::time::timeout(Duration::from_secs(5), carrier.recv_from(&mut buf))
            .await
            .expect("events at the carrier")
            .unwrap();
        if buf[1] & 0x7f == 96 && n >= 16 && buf[13] & 0x80 != 0 && ended.last() != Some(&buf[12]) {
            ended.push(buf[12]);
        }
    }
    assert_eq!(ended, [1, 9]);
    leg.close().await;
}
