//! A real SIP peer (sipp, Debian's sip-tester) as the carrier, against the real program: an
//! INVITE from no trunk gets 403 and one for an unrouted number 404, both touching nothing;
//! a trunk call waits in its route's queue and rings (180) until the caller's CANCEL
//! (abandoned); an agent's answer is the 200 OK, and either side's hang-up is the other's BYE;
//! a session timer is agreed, refreshed, and ends a call whose refreshes stop.

use serde_json::{json, Value};
use std::time::Duration;
use tests::sipp::{caller, free_port, present as sipp_present};
use tests::{eventually, start_server, Database, Server};

const T: Duration = Duration::from_secs(15);
const DID: &str = "+3225550100";
const CALLER: &str = "+15550001234";

fn config(port: u16) -> String {
    format!(
        r#"
[[queues]]
id = "support"

[[agents]]
id = "alice"
queues = ["support"]

[[users]]
username = "alice"
password = "pw-a"
role = "agent"
agent = "alice"

[[users]]
username = "root"
password = "pw-r"
role = "admin"

[sip]
listen = "127.0.0.1:{port}"

[[sip.trunks]]
id = "carrier"
addresses = ["127.0.0.1/32"]

[[sip.routes]]
number = "{DID}"
queue = "support"
"#
    )
}

/// Runs one sipp call from `from_ip` to the trunk port with `xml`; its exit status says
/// whether every expected message came.
async fn sipp(port: u16, from_ip: &str, number: &str, xml: String) -> anyhow::Result<bool> {
    sipp_over(port, from_ip, number, xml, "u1").await
}

/// [`sipp`] over a transport: `u1` (UDP) or `t1` (TCP); the caller says 3 s of 440 Hz.
async fn sipp_over(
    port: u16,
    from_ip: &str,
    number: &str,
    xml: String,
    transport: &str,
) -> anyhow::Result<bool> {
    let ulaw = tests::sipp::tone_ulaw(440.0, 3);
    run_sipp(
        port,
        from_ip,
        number,
        xml,
        transport,
        vec![("tone.ulaw", ulaw)],
    )
    .await
}

/// Runs sipp as the caller with `files` (name, content: `tone.ulaw`, raw PCMU, or a capture)
/// beside its scenario to play.
async fn run_sipp(
    port: u16,
    from_ip: &str,
    number: &str,
    xml: String,
    transport: &str,
    files: Vec<(&'static str, Vec<u8>)>,
) -> anyhow::Result<bool> {
    let args: Vec<String> = [
        "-i", from_ip, "-mi", from_ip, "-p", "0", "-s", number, "-t", transport,
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("127.0.0.1:{port}")])
    .collect();
    let files: Vec<(&str, &[u8])> = files.iter().map(|(n, c)| (*n, c.as_slice())).collect();
    tests::sipp::run_with(&xml, &files, &args).await
}

/// alice, ready with her event stream open, answers the call sipp places with `xml`: her
/// token, the call's id, and sipp's run.
async fn answered_by_alice(
    server: &Server,
    port: u16,
    xml: String,
) -> anyhow::Result<(
    String,
    String,
    tokio::task::JoinHandle<anyhow::Result<bool>>,
)> {
    let alice = server.login("alice", "pw-a").await?;
    let mut events = server.events(&alice).await?;
    server
        .put(
            "/api/v1/agents/alice/status",
            &alice,
            json!({"status": "ready"}),
        )
        .await?;
    let caller = tokio::spawn(sipp(port, "127.0.0.1", DID, xml));
    let offer = events
        .next_matching(T, |e| e["type"] == "call.offered" && e["agent"] == "alice")
        .await?;
    let id = offer["call_id"].as_str().unwrap_or_default().to_owned();
    server
        .post(&format!("/api/v1/calls/{id}/accept"), &alice, json!({}))
        .await?;
    Ok((alice, id, caller))
}

#[tokio::test]
async fn the_trunk_refuses_strangers_and_unrouted_numbers_and_a_cancel_abandons_the_call(
) -> anyhow::Result<()> {
    if !sipp_present() {
        return Ok(());
    }
    let port = free_port();
    let db = Database::sqlite();
    let server = start_server!(&db, Some(&config(port)))?;
    let root = server.login("root", "pw-r").await?;

    // Not a trunk's address: 403, and no call.
    assert!(
        sipp(port, "127.0.0.2", DID, caller::refused(CALLER, 403)).await?,
        "403 expected"
    );
    // A trunk, but a number no route has: 404, and no call.
    assert!(
        sipp(
            port,
            "127.0.0.1",
            "+3225559999",
            caller::refused(CALLER, 404)
        )
        .await?,
        "404 expected"
    );
    assert!(server.calls(&root).await?.is_empty());
    // Over TCP too; a stranger's TCP connection is closed before a byte is read.
    let tcp = sipp_over(
        port,
        "127.0.0.1",
        "+3225559999",
        caller::refused(CALLER, 404),
        "t1",
    )
    .await?;
    assert!(tcp, "404 over TCP expected");
    let stranger = sipp_over(port, "127.0.0.2", DID, caller::refused(CALLER, 403), "t1").await?;
    assert!(!stranger, "a stranger's TCP connection was served");
    assert!(server.calls(&root).await?.is_empty());

    // Routed: a call waits in support, from the caller's number; the CANCEL abandons it.
    let caller = tokio::spawn(sipp(port, "127.0.0.1", DID, caller::cancelled(CALLER)));
    let waiting = eventually("the trunk call in support", T, || async {
        let c = server.calls(&root).await.ok()?;
        c.into_iter().find(|c| c["state"] == "waiting")
    })
    .await;
    assert_eq!(
        (waiting["from"].as_str(), waiting["queue"].as_str()),
        (Some(CALLER), Some("support"))
    );
    assert!(caller.await??, "the CANCEL flow (200, 487) failed");
    let ended = server
        .ended_call(&root, waiting["id"].as_str().unwrap())
        .await;
    assert_eq!(ended["result"], "abandoned", "{ended}");
    Ok(())
}

#[tokio::test]
async fn the_agents_answer_is_the_200_and_each_sides_hang_up_is_the_others_bye(
) -> anyhow::Result<()> {
    if !sipp_present() {
        return Ok(());
    }
    let port = free_port();
    let db = Database::sqlite();
    let server = start_server!(&db, Some(&config(port)))?;
    let root = server.login("root", "pw-r").await?;
    let alice = server.login("alice", "pw-a").await?;
    let mut events = server.events(&alice).await?;
    let ready = json!({"status": "ready"});
    server
        .put("/api/v1/agents/alice/status", &alice, ready.clone())
        .await?;

    for caller_bye in [true, false] {
        let caller = tokio::spawn(sipp(
            port,
            "127.0.0.1",
            DID,
            caller::answered(CALLER, caller_bye, 500),
        ));
        let offer = events
            .next_matching(T, |e| e["type"] == "call.offered" && e["agent"] == "alice")
            .await?;
        let id = offer["call_id"].as_str().unwrap().to_owned();
        server
            .post(&format!("/api/v1/calls/{id}/accept"), &alice, json!({}))
            .await?;
        if !caller_bye {
            // The agent hangs up: the caller gets a BYE.
            server
                .post(&format!("/api/v1/calls/{id}/hangup"), &alice, json!({}))
                .await?;
        }
        assert!(
            caller.await??,
            "the caller's side failed (caller_bye: {caller_bye})"
        );
        let ended = server.ended_call(&root, &id).await;
        let by = if caller_bye { "customer" } else { "agent" };
        assert_eq!(
            (
                ended["result"].as_str(),
                ended["ended_by"]["party"].as_str()
            ),
            (Some("answered"), Some(by)),
            "{ended}"
        );
        // Back to work for the next round.
        server
            .put("/api/v1/agents/alice/status", &alice, ready.clone())
            .await?;
    }
    Ok(())
}

#[tokio::test]
async fn a_caller_who_holds_us_is_answered_in_kind_and_its_silence_does_not_end_the_call(
) -> anyhow::Result<()> {
    if !sipp_present() {
        return Ok(());
    }
    let port = free_port();
    // A silent customer is gone after 2 s; the caller holds us for 4.
    let config = config(port) + "\n[media]\ncustomer_silence_secs = 2\n";
    let db = Database::sqlite();
    let server = start_server!(&db, Some(&config))?;
    let root = server.login("root", "pw-r").await?;
    let xml = caller::holds_then_resumes(CALLER, 4_000);
    let (_, id, caller) = answered_by_alice(&server, port, xml).await?;
    assert!(
        caller.await??,
        "the caller's hold, resume and hang-up (answers recvonly, then sendrecv)"
    );
    let ended = server.ended_call(&root, &id).await;
    let steps: Vec<&str> = ended["journey"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["event"].as_str())
        .collect();
    assert!(!steps.contains(&"customer_media_lost"), "{steps:?}");
    assert_eq!(
        (
            ended["result"].as_str(),
            ended["ended_by"]["party"].as_str()
        ),
        (Some("answered"), Some("customer")),
        "{ended}"
    );
    Ok(())
}

#[tokio::test]
async fn a_route_that_answers_on_arrival_sends_200_at_once_with_the_music_as_media(
) -> anyhow::Result<()> {
    if !sipp_present() {
        return Ok(());
    }
    let port = free_port();
    let config = config(port).replacen(
        "[[sip.routes]]\nnumber = \"+3225550100\"\nqueue = \"support\"\n",
        "[[sip.routes]]\nnumber = \"+3225550100\"\nqueue = \"support\"\nanswer = \"arrival\"\n",
        1,
    );
    assert!(config.contains("answer = \"arrival\""), "{config}");
    let db = Database::sqlite();
    let server = start_server!(&db, Some(&config))?;
    let root = server.login("root", "pw-r").await?;
    // Nobody is ready: the caller is answered anyway, waits with the music, and hangs up.
    let xml = caller::answered_on_arrival(CALLER, 2_000);
    let caller = tokio::spawn(sipp(port, "127.0.0.1", DID, xml));
    let id = eventually("the trunk call", T, || async {
        let c = server.calls(&root).await.ok()?;
        c.first()?["id"].as_str().map(str::to_owned)
    })
    .await;
    let media = format!("/api/v1/calls/{id}/media");
    eventually("hold music to the answered caller", T, || async {
        let m = server.get(&media, &root).await.ok()?;
        (m["legs"]["customer"]["packets_sent"].as_u64()? >= 25).then_some(())
    })
    .await;
    assert!(
        caller.await??,
        "the caller's side failed (a 183, or no 200)"
    );
    let ended = server.ended_call(&root, &id).await;
    assert_eq!(ended["result"], "abandoned", "{ended}");
    Ok(())
}

#[tokio::test]
async fn a_callers_rfc4733_digit_reaches_its_leg_and_our_answer_takes_events() -> anyhow::Result<()>
{
    let pcap = "/usr/share/sip-tester/dtmf_2833_1.pcap";
    if !sipp_present() {
        return Ok(());
    }
    assert!(
        std::path::Path::new(pcap).exists(),
        "sip-tester's {pcap} is missing"
    );
    let port = free_port();
    let db = Database::sqlite();
    let server = start_server!(&db, Some(&config(port)))?;
    let root = server.login("root", "pw-r").await?;
    let xml = caller::presses_a_digit(CALLER, pcap);
    let (alice, id, caller) = answered_by_alice(&server, port, xml).await?;
    let media = format!("/api/v1/calls/{id}/media");
    let m = eventually("the caller's digit on its leg", T, || async {
        let m = server.get(&media, &root).await.ok()?;
        (m["legs"]["customer"]["dtmf_received"].as_u64()? >= 1).then_some(m)
    })
    .await;
    assert_eq!(m["legs"]["customer"]["dtmf_received"], 1, "{m}");
    server
        .post(&format!("/api/v1/calls/{id}/hangup"), &alice, json!({}))
        .await?;
    assert!(
        caller.await??,
        "the caller's side failed (our answer without telephone-event, or no BYE)"
    );
    Ok(())
}

/// A valid INVITE from `from`, with `sdp` as its body.
fn raw_invite(port: u16, from: std::net::SocketAddr, n: usize, sdp: &[u8]) -> Vec<u8> {
    let mut m = format!(
        "INVITE sip:{DID}@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch=z9hG4bK-junk-{n}\r\nFrom: <sip:+1555000{n:04}@{from}>;tag=junk{n}\r\nTo: <sip:{DID}@127.0.0.1:{port}>\r\nCall-ID: junk-{n}@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:junk@{from}>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n",
        sdp.len()
    )
    .into_bytes();
    m.extend_from_slice(sdp);
    m
}

#[tokio::test]
async fn garbage_from_a_trunk_never_takes_the_server_down_nor_leaves_a_call() -> anyhow::Result<()>
{
    if !sipp_present() {
        return Ok(());
    }
    let port = free_port();
    let db = Database::sqlite();
    let server = start_server!(&db, Some(&config(port)))?;
    let root = server.login("root", "pw-r").await?;
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
    let from = sock.local_addr()?;
    let target = format!("127.0.0.1:{port}");
    // A seeded generator (xorshift): the same garbage every run.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let good_sdp = b"v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    let mut sent = 0;
    // Random bytes, and random bytes after a plausible start line.
    for i in 0..300 {
        let len = (next() % 1400) as usize + 1;
        let mut d: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if i % 2 == 1 {
            d.splice(0..0, b"INVITE sip:x@127.0.0.1 SIP/2.0\r\n".iter().copied());
        }
        sock.send_to(&d, &target).await?;
        sent += 1;
    }
    // Every prefix of a valid INVITE (a truncated datagram).
    let whole = raw_invite(port, from, 0, good_sdp);
    for cut in (1..whole.len()).step_by(7) {
        sock.send_to(&whole[..cut], &target).await?;
        sent += 1;
    }
    // Oversized: a 60 KB header, a Content-Length that lies, a huge SDP.
    let mut big = raw_invite(port, from, 1, good_sdp);
    big.splice(
        20..20,
        format!("X-Junk: {}\r\n", "a".repeat(60_000)).into_bytes(),
    );
    let lying = String::from_utf8(raw_invite(port, from, 2, good_sdp))?.replace(
        &format!("Content-Length: {}", good_sdp.len()),
        "Content-Length: 99999",
    );
    assert!(lying.contains("99999"));
    let huge_sdp: Vec<u8> =
        format!("m=audio 4000 RTP/AVP {}\r\n", "96 ".repeat(20_000)).into_bytes();
    for d in [
        big,
        lying.into_bytes(),
        raw_invite(port, from, 3, &huge_sdp[..60_000]),
    ] {
        sock.send_to(&d, &target).await?;
        sent += 1;
    }
    // Well-formed SIP whose SDP is garbage (G.729 only, not text, no audio): 488, no call.
    for (n, sdp) in [
        b"m=audio 4000 RTP/AVP 18 101\r\n".to_vec(),
        vec![0xff, 0xfe, 0x00, 0x80],
        b"v=0\r\nm=video 4000 RTP/AVP 0\r\n".to_vec(),
        b"m=audio x RTP/AVP\r\n".to_vec(),
    ]
    .into_iter()
    .enumerate()
    {
        sock.send_to(&raw_invite(port, from, 10 + n, &sdp), &target)
            .await?;
        sent += 1;
    }
    // The same over TCP, then the connection dropped half-way through a message.
    let mut tcp = tokio::net::TcpStream::connect(&target).await?;
    use tokio::io::AsyncWriteExt;
    let junk: Vec<u8> = (0..5_000).map(|_| next() as u8).collect();
    tcp.write_all(&junk).await?;
    tcp.write_all(&whole[..whole.len() / 2]).await?;
    drop(tcp);

    // Still up: the API answers, a real peer is still served, and nothing was created.
    server.get("/api/v1/health", &root).await?;
    assert!(
        sipp(
            port,
            "127.0.0.1",
            "+3225559999",
            caller::refused(CALLER, 404)
        )
        .await?,
        "after {sent} bad datagrams a real INVITE is still answered"
    );
    assert_eq!(
        server.calls(&root).await?,
        Vec::<Value>::new(),
        "no half-made call"
    );
    Ok(())
}

#[tokio::test]
async fn a_trunk_caller_hears_hold_music_then_talks_with_the_agent_both_ways() -> anyhow::Result<()>
{
    talks_both_ways(false).await
}

#[tokio::test]
async fn a_wideband_caller_is_answered_in_g722_and_talks_with_the_agent_both_ways(
) -> anyhow::Result<()> {
    talks_both_ways(true).await
}

/// A trunk caller (G.711, or G.722 when `wideband`) waits with hold music, then alice answers
/// on a WebRTC leg and each hears the other.
async fn talks_both_ways(wideband: bool) -> anyhow::Result<()> {
    use actors::media::leg::{Leg, FRAME_SAMPLES};
    use actors::media::tone::{goertzel, Sine};
    if !sipp_present() {
        return Ok(());
    }
    let port = free_port();
    let db = Database::sqlite();
    let server = start_server!(&db, Some(&config(port)))?;
    let root = server.login("root", "pw-r").await?;
    let alice = server.login("alice", "pw-a").await?;
    let mut events = server.events(&alice).await?;
    let (xml, files, codec) = if wideband {
        let pcap = tests::sipp::tone_g722_pcap(440.0, 4);
        let xml = caller::answered_wideband(CALLER, 4_000);
        (xml, vec![("tone.pcap", pcap)], "g722")
    } else {
        let ulaw = tests::sipp::tone_ulaw(440.0, 3);
        let xml = caller::answered(CALLER, true, 4_000);
        (xml, vec![("tone.ulaw", ulaw)], "pcmu")
    };
    let caller = tokio::spawn(run_sipp(port, "127.0.0.1", DID, xml, "u1", files));
    // Waiting (nobody ready): the caller's leg carries the hold music as early media.
    let id = eventually("the trunk call", T, || async {
        let c = server.calls(&root).await.ok()?;
        c.first()?["id"].as_str().map(str::to_owned)
    })
    .await;
    let media = format!("/api/v1/calls/{id}/media");
    let customer = |m: &Value| m["legs"]["customer"].clone();
    eventually("hold music to the caller", T, || async {
        let m = server.get(&media, &root).await.ok()?;
        (customer(&m)["packets_sent"].as_u64()? >= 25).then_some(())
    })
    .await;
    // alice answers in her panel's stead: a WebRTC leg of her own.
    let ready = json!({"status": "ready"});
    server
        .put("/api/v1/agents/alice/status", &alice, ready)
        .await?;
    events
        .next_matching(T, |e| e["type"] == "call.offered" && e["agent"] == "alice")
        .await?;
    server
        .post(&format!("/api/v1/calls/{id}/accept"), &alice, json!({}))
        .await?;
    let (leg, mut heard) = Leg::new().await.unwrap();
    let offer = serde_json::to_value(leg.offer().await.unwrap())?;
    let body = json!({"party": "agent", "sdp": offer});
    let answer = server.post(&media, &alice, body).await?;
    leg.accept(serde_json::from_value(answer)?).await.unwrap();
    leg.connected(T).await.unwrap();
    // She speaks a 1 kHz tone while the caller's 440 Hz comes in over RTP.
    let before = server.get(&media, &root).await?;
    let sent_before = customer(&before)["packets_sent"].as_u64().unwrap_or(0);
    let mut voice = Sine::new(1_000.0, 8_000, 8_000);
    let mut got = Vec::new();
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(20));
    for _ in 0..100 {
        tick.tick().await;
        leg.send(&voice.take(FRAME_SAMPLES)).await.unwrap();
        while let Ok(f) = heard.try_recv() {
            got.extend(f);
        }
    }
    let m = server.get(&media, &root).await?;
    assert!(
        goertzel(&got, 440.0, 8_000) > 0.005,
        "alice hears the caller: {m}"
    );
    let c = customer(&m);
    assert!(
        c["packets_received"].as_u64().unwrap_or(0) >= 50,
        "RTP from sipp: {m}"
    );
    let sent = c["packets_sent"].as_u64().unwrap_or(0) - sent_before;
    assert!(sent >= 80, "alice's voice to sipp: {sent} packets: {m}");
    assert_eq!(c["codec"], codec, "{m}");
    leg.close().await;
    assert!(caller.await??, "the caller's side failed");
    let ended = server.ended_call(&root, &id).await;
    assert_eq!(ended["result"], "answered", "{ended}");
    Ok(())
}

#[tokio::test]
async fn a_trunk_callers_words_reach_the_supervisor_through_the_real_model() -> anyhow::Result<()> {
    words_reach_the_supervisor(false).await
}

#[tokio::test]
async fn a_wideband_trunk_callers_words_reach_the_supervisor_through_the_real_model(
) -> anyhow::Result<()> {
    words_reach_the_supervisor(true).await
}

/// A trunk caller (G.711, or G.722 when `wideband`: its 16 kHz goes to the transcriber as it
/// is) says a sentence that the supervisor reads, through the real tiny.en.
async fn words_reach_the_supervisor(wideband: bool) -> anyhow::Result<()> {
    if !sipp_present() {
        return Ok(());
    }
    let Some(model) = tests::speech::real_model() else {
        return Ok(());
    };
    let said = "I would like to cancel my account please.";
    let rate: u32 = if wideband { 16_000 } else { 8_000 };
    let mut speech = tests::speech::speak(said, tests::speech::Voice::Male, rate);
    let talk_ms = (speech.len() as u64 * 1_000 / u64::from(rate)) as u32 + 3_000;
    // Three seconds of silence after it, then whole 20 ms frames.
    let (second, frame) = (rate as usize, rate as usize / 50);
    speech.extend(std::iter::repeat_n(0, second * 3));
    speech.truncate(speech.len() / frame * frame);
    let (xml, files) = if wideband {
        let pcap = tests::sipp::g722_pcap(&speech);
        (
            caller::answered_wideband(CALLER, talk_ms),
            vec![("tone.pcap", pcap)],
        )
    } else {
        let ulaw = actors::media::g711::encode_frame(&speech);
        (
            caller::answered(CALLER, true, talk_ms),
            vec![("tone.ulaw", ulaw)],
        )
    };
    let port = free_port();
    let config = config(port).replacen(
        "id = \"support\"\n",
        "id = \"support\"\ntranscript = \"customer\"\n",
        1,
    ) + &format!(
        "\n[transcription]\nmodel = {:?}\n",
        model.display().to_string()
    );
    let db = Database::sqlite();
    let server = start_server!(&db, Some(&config))?;
    let root = server.login("root", "pw-r").await?;
    let alice = server.login("alice", "pw-a").await?;
    let mut events = server.events(&root).await?;
    let ready = json!({"status": "ready"});
    server
        .put("/api/v1/agents/alice/status", &alice, ready)
        .await?;
    let caller = tokio::spawn(run_sipp(port, "127.0.0.1", DID, xml, "u1", files));
    let offer = events
        .next_matching(T, |e| e["type"] == "call.offered" && e["agent"] == "alice")
        .await?;
    let id = offer["call_id"].as_str().unwrap().to_owned();
    server
        .post(&format!("/api/v1/calls/{id}/accept"), &alice, json!({}))
        .await?;
    // The supervisor's stream: the customer's finals, from the trunk leg.
    let mut text = String::new();
    while !(text.contains("cancel") && text.contains("account")) {
        let e = events
            .next_matching(Duration::from_secs(30), |e| {
                e["type"] == "transcript.final" && e["call_id"] == id.as_str()
            })
            .await
            .map_err(|e| anyhow::anyhow!("{e}; heard so far: {text:?}"))?;
        assert_eq!(e["leg"], "customer", "{e}");
        text.push_str(&e["text"].as_str().unwrap_or_default().to_lowercase());
        text.push(' ');
    }
    eprintln!("the supervisor read: {text:?} (said: {said:?})");
    assert_eq!(
        text.matches("cancel").count(),
        1,
        "said once, read once: {text:?}"
    );
    assert!(caller.await??, "the caller's side failed");
    Ok(())
}

/// From a call's answer to the customer found gone, in its journey.
fn lived_ms(call: &Value) -> i64 {
    let at = |event: &str| {
        call["journey"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["event"].as_str().is_some_and(|n| n.starts_with(event)))
            .and_then(|e| e["at"].as_i64())
            .unwrap_or_else(|| panic!("no {event} step: {call}"))
    };
    at("customer_media_lost") - at("answered")
}

#[tokio::test]
async fn a_session_timer_is_agreed_refreshed_and_ends_the_call_once_its_refreshes_stop(
) -> anyhow::Result<()> {
    if !sipp_present() {
        return Ok(());
    }
    let port = free_port();
    // Timers from 2 s (90 in a real deployment), so the test waits seconds, not minutes.
    let config = config(port).replace("[sip]\n", "[sip]\nmin_session_secs = 2\n");
    let db = Database::sqlite();
    let server = start_server!(&db, Some(&config))?;
    let root = server.login("root", "pw-r").await?;

    // Shorter than our minimum: 422 naming it, and no call.
    let xml = caller::asks_too_short_a_session(CALLER, 1, 2);
    assert!(
        sipp(port, "127.0.0.1", DID, xml).await?,
        "the 422 with Min-SE: 2"
    );
    assert!(server.calls(&root).await?.is_empty());

    // 3 s, refreshed once 1.5 s after the answer, then never: we end the call a third of the
    // interval before it would expire, counted from that refresh (2 s after it), not from
    // the answer.
    let xml = caller::refreshes_a_session_once(CALLER, 3, 1_500);
    let (_, id, caller) = answered_by_alice(&server, port, xml).await?;
    assert!(
        caller.await??,
        "the caller's side: our 200s state the timer, our BYE ends the session"
    );
    let call = server.ended_call(&root, &id).await;
    assert_eq!(
        (call["result"].as_str(), call["ended_by"]["party"].as_str()),
        (Some("answered"), Some("customer")),
        "{call}"
    );
    let journey = call["journey"].as_array().unwrap();
    let lost = journey
        .iter()
        .find(|e| e["event"] == "customer_media_lost")
        .unwrap_or_else(|| panic!("no customer_media_lost: {call}"));
    assert_eq!(lost["reason"], "session_expired", "{call}");
    let lived = lived_ms(&call);
    assert!(
        (3_400..6_000).contains(&lived),
        "the refresh kept the call 1.5 + 2 s after its answer: {lived} ms"
    );

    // 2 s with us as the refresher: our UPDATE a second after the answer is taken, the next
    // (a second later) refused, and that refusal ends the call.
    let xml = caller::makes_us_refresh(CALLER, 2);
    let (_, id, caller) = answered_by_alice(&server, port, xml).await?;
    assert!(
        caller.await??,
        "the caller's side: two UPDATEs stating the timer, then our BYE"
    );
    let call = server.ended_call(&root, &id).await;
    let lived = lived_ms(&call);
    assert!(
        (1_800..4_000).contains(&lived),
        "ended at the second refresh, 2 s after the answer: {lived} ms; {call}"
    );
    Ok(())
}
