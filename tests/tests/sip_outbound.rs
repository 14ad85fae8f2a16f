//! Calls we place through the trunk, against a real SIP peer (sipp as the called party on
//! the trunk's `outbound` address): an agent's dial and a callback ring sipp with the queue's
//! caller id; 180 shows as the customer ringing; 486, 503 and a ring time with no answer end
//! the call `busy`, `failed` and `not answered`; a 200 connects the agent's panel to the
//! customer both ways, and either side's hang-up is the other's BYE. A trunk with credentials
//! answers the carrier's digest challenge, and keeps a registration there. A queue's calls go
//! through the trunk it names, over TCP when that trunk says so; our INVITE asks for a session
//! timer, and the one the customer answers with is kept: refreshed by us when we are its
//! refresher, the call ended when the customer's refreshes stop.

use serde_json::{json, Value};
use std::time::Duration;
use tests::sipp::{callee, free_port, present as sipp_present};
use tests::{start_server, Database, Server};

const T: Duration = Duration::from_secs(15);
const CUSTOMER: &str = "+3225551234";
const CALLER_ID: &str = "+3225550199";

fn config(port: u16, carrier: u16) -> String {
    format!(
        r#"
[[queues]]
id = "sales"
outbound = true
caller_id = "{CALLER_ID}"
dial_timeout_secs = 2

[[agents]]
id = "alice"
queues = ["sales"]

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
outbound = "127.0.0.1:{carrier}"

[[sip.routes]]
number = "+3225550100"
queue = "sales"
"#
    )
}

/// sipp as the called party on `carrier`, for one call.
fn carrier(carrier: u16, xml: String) -> tokio::task::JoinHandle<anyhow::Result<bool>> {
    carrier_over(carrier, xml, "u1")
}

/// [`carrier`] over a transport: `u1` (UDP) or `t1` (TCP).
fn carrier_over(
    carrier: u16,
    xml: String,
    transport: &str,
) -> tokio::task::JoinHandle<anyhow::Result<bool>> {
    let args: Vec<String> = ["-i", "127.0.0.1", "-mi", "127.0.0.1", "-t", transport, "-p"]
        .iter()
        .map(|s| s.to_string())
        .chain([carrier.to_string()])
        .collect();
    let ulaw = tests::sipp::tone_ulaw(440.0, 3);
    tokio::spawn(async move { tests::sipp::run(&xml, &ulaw, &args).await })
}

fn journey(call: &Value) -> Vec<String> {
    call["journey"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["event"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn an_outbound_call_that_is_busy_refused_or_unanswered_ends_with_that_result(
) -> anyhow::Result<()> {
    if !sipp_present() {
        return Ok(());
    }
    let (port, carrier_port) = (free_port(), free_port());
    // Behind NAT: the SDP and the Contact name the public address (127.0.0.2 here), and the
    // RTP leg takes a port of the configured range (ten ports from a multiple of ten).
    let rtp = tests::sipp::free_ports(10);
    let config = config(port, carrier_port).replace(
        "[sip]\n",
        &format!(
            "[sip]\npublic_address = \"127.0.0.2\"\nrtp_ports = [{rtp}, {}]\n",
            rtp + 9
        ),
    );
    let nat_checks = format!(
        r#"<ereg regexp="c=IN IP4 127\.0\.0\.2" search_in="body" check_it="true" assign_to="c_ok"/>
      <ereg regexp="m=audio {}[0-9] " search_in="body" check_it="true" assign_to="m_ok"/>
      <ereg regexp="sip:127\.0\.0\.2:{port}" search_in="hdr" header="Contact:" check_it="true" assign_to="contact_ok"/>
      <ereg regexp="." search_in="hdr" header="Contact:" assign_to="nat_seen"/>"#,
        rtp / 10
    );
    let checked = |xml: String| {
        xml.replace(
            "<Reference variables=\"",
            "<Reference variables=\"c_ok,m_ok,contact_ok,nat_seen,",
        )
        .replace("<!--NAT-->", &nat_checks)
    };
    let db = Database::sqlite();
    let server = start_server!(&db, Some(&config))?;
    let root = server.login("root", "pw-r").await?;
    let alice = server.login("alice", "pw-a").await?;
    let ready = json!({"status": "ready"});
    server
        .put("/api/v1/agents/alice/status", &alice, ready)
        .await?;
    for (xml, result, ended_by) in [
        (
            callee::refused(CUSTOMER, CALLER_ID, "486 Busy Here"),
            "busy",
            "customer",
        ),
        (
            callee::refused(CUSTOMER, CALLER_ID, "503 Service Unavailable"),
            "failed",
            "system",
        ),
        (
            callee::unanswered(CUSTOMER, CALLER_ID),
            "not_answered",
            "customer",
        ),
    ] {
        let sipp = carrier(carrier_port, checked(xml));
        let call = server
            .post(
                "/api/v1/calls/outbound",
                &alice,
                json!({"number": CUSTOMER}),
            )
            .await?;
        let id = call["id"].as_str().unwrap().to_owned();
        assert!(sipp.await??, "the carrier's side failed ({result})");
        let call = server.ended_call(&root, &id).await;
        assert_eq!(
            (call["result"].as_str(), call["ended_by"]["party"].as_str()),
            (Some(result), Some(ended_by)),
            "{call}"
        );
        let steps = journey(&call);
        assert!(
            steps.contains(&"customer_ringing".to_owned()),
            "the 180 shows: {steps:?}"
        );
        let a = server.get("/api/v1/agents/alice", &alice).await?;
        assert_eq!(a["status"], "after_service", "wrap-up: {a}");
        server
            .put(
                "/api/v1/agents/alice/status",
                &alice,
                json!({"status": "ready"}),
            )
            .await?;
    }
    Ok(())
}

#[tokio::test]
async fn an_answered_outbound_call_connects_both_ways_and_either_hang_up_is_a_bye(
) -> anyhow::Result<()> {
    use actors::media::leg::{Leg, FRAME_SAMPLES};
    use actors::media::tone::{goertzel, Sine};
    if !sipp_present() {
        return Ok(());
    }
    let (port, carrier_port) = (free_port(), free_port());
    let db = Database::sqlite();
    let server = start_server!(&db, Some(&config(port, carrier_port)))?;
    let root = server.login("root", "pw-r").await?;
    let alice = server.login("alice", "pw-a").await?;
    let mut events = server.events(&alice).await?;
    let ready = json!({"status": "ready"});
    server
        .put("/api/v1/agents/alice/status", &alice, ready)
        .await?;

    // An agent's dial; the customer answers, talks, and hangs up.
    let sipp = carrier(carrier_port, callee::answered(CUSTOMER, CALLER_ID, true));
    let call = server
        .post(
            "/api/v1/calls/outbound",
            &alice,
            json!({"number": CUSTOMER}),
        )
        .await?;
    let id = call["id"].as_str().unwrap().to_owned();
    events
        .next_matching(T, |e| {
            e["type"] == "call.customer_answered" && e["call_id"] == id.as_str()
        })
        .await?;
    // alice's panel: a WebRTC leg of her own, speaking 1 kHz.
    let media = format!("/api/v1/calls/{id}/media");
    let (leg, mut heard) = Leg::new().await.unwrap();
    let offer = serde_json::to_value(leg.offer().await.unwrap())?;
    let answer = server
        .post(&media, &alice, json!({"party": "agent", "sdp": offer}))
        .await?;
    leg.accept(serde_json::from_value(answer)?).await.unwrap();
    leg.connected(T).await.unwrap();
    let mut voice = Sine::new(1_000.0, 8_000, 8_000);
    let mut got = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for _ in 0..75 {
        tick.tick().await;
        leg.send(&voice.take(FRAME_SAMPLES)).await.unwrap();
        while let Ok(f) = heard.try_recv() {
            got.extend(f);
        }
    }
    let m = server.get(&media, &root).await?;
    assert!(
        goertzel(&got, 440.0, 8_000) > 0.005,
        "alice hears the customer: {m}"
    );
    let customer = &m["legs"]["customer"];
    assert!(
        customer["packets_received"].as_u64().unwrap_or(0) >= 40,
        "RTP from the customer: {m}"
    );
    assert!(
        customer["packets_sent"].as_u64().unwrap_or(0) >= 40,
        "alice's voice to the customer: {m}"
    );
    assert!(sipp.await??, "the carrier's side failed (customer's BYE)");
    let call = server.ended_call(&root, &id).await;
    assert_eq!(
        (call["result"].as_str(), call["ended_by"]["party"].as_str()),
        (Some("answered"), Some("customer")),
        "{call}"
    );
    leg.close().await;
    server
        .put(
            "/api/v1/agents/alice/status",
            &alice,
            json!({"status": "ready"}),
        )
        .await?;

    // A callback: alice answers her own phone first, then the customer is dialled; the
    // customer answers, and alice's hang-up is the customer's BYE.
    let sipp = carrier(carrier_port, callee::answered(CUSTOMER, CALLER_ID, false));
    let cb = server
        .post(
            "/api/v1/callbacks",
            &root,
            json!({"number": CUSTOMER, "queue": "sales"}),
        )
        .await?;
    let id = cb["call"]["id"].as_str().unwrap().to_owned();
    events
        .next_matching(T, |e| {
            e["type"] == "call.offered" && e["call_id"] == id.as_str()
        })
        .await?;
    server
        .post(&format!("/api/v1/calls/{id}/accept"), &alice, json!({}))
        .await?;
    events
        .next_matching(T, |e| {
            e["type"] == "call.customer_answered" && e["call_id"] == id.as_str()
        })
        .await?;
    server
        .post(&format!("/api/v1/calls/{id}/hangup"), &alice, json!({}))
        .await?;
    assert!(sipp.await??, "the carrier's side failed (our BYE)");
    let call = server.ended_call(&root, &id).await;
    assert_eq!(
        (call["result"].as_str(), call["ended_by"]["party"].as_str()),
        (Some("answered"), Some("agent")),
        "{call}"
    );
    Ok(())
}

#[tokio::test]
async fn a_trunk_with_credentials_answers_the_challenge_and_keeps_a_registration(
) -> anyhow::Result<()> {
    if !sipp_present() {
        return Ok(());
    }
    let (port, carrier_port) = (free_port(), free_port());
    // The carrier is listening before the program starts: the REGISTER comes at once.
    let registrar = carrier(carrier_port, callee::challenged("REGISTER"));
    let config = config(port, carrier_port).replace(
        "outbound = \"",
        "username = \"switchyard\"\npassword = \"s3cret\"\nregister = true\noutbound = \"",
    );
    let db = Database::sqlite();
    let server = start_server!(&db, Some(&config))?;
    assert!(
        registrar.await??,
        "the REGISTER answered the challenge with the trunk's credentials"
    );
    // An agent's dial: challenged too, answered, and then busy.
    let sipp = carrier(carrier_port, callee::challenged("INVITE"));
    let root = server.login("root", "pw-r").await?;
    let alice = server.login("alice", "pw-a").await?;
    server
        .put(
            "/api/v1/agents/alice/status",
            &alice,
            json!({"status": "ready"}),
        )
        .await?;
    let call = server
        .post(
            "/api/v1/calls/outbound",
            &alice,
            json!({"number": CUSTOMER}),
        )
        .await?;
    assert!(sipp.await??, "the INVITE answered the challenge");
    let call = server.ended_call(&root, call["id"].as_str().unwrap()).await;
    assert_eq!(call["result"], "busy", "{call}");
    Ok(())
}

/// alice dials the customer, who answers; the call's id.
async fn dialed_and_answered(
    server: &Server,
    alice: &str,
    events: &mut tests::Events,
) -> anyhow::Result<String> {
    server
        .put(
            "/api/v1/agents/alice/status",
            alice,
            json!({"status": "ready"}),
        )
        .await?;
    let call = server
        .post("/api/v1/calls/outbound", alice, json!({"number": CUSTOMER}))
        .await?;
    let id = call["id"].as_str().unwrap_or_default().to_owned();
    events
        .next_matching(T, |e| {
            e["type"] == "call.customer_answered" && e["call_id"] == id.as_str()
        })
        .await?;
    Ok(id)
}

#[tokio::test]
async fn a_queues_calls_go_through_the_trunk_it_names_over_tcp() -> anyhow::Result<()> {
    if !sipp_present() {
        return Ok(());
    }
    let (port, nobody, carrier_port) = (free_port(), free_port(), free_port());
    // The first trunk (nobody listens there) would carry the call by default; the queue names
    // the second, reached over TCP.
    let config = config(port, nobody)
        .replace(
            "dial_timeout_secs = 2\n",
            "dial_timeout_secs = 2\ntrunk = \"over-tcp\"\n",
        )
        .replace(
            "[[sip.routes]]",
            &format!(
                "[[sip.trunks]]\nid = \"over-tcp\"\naddresses = [\"192.0.2.1\"]\noutbound = \"127.0.0.1:{carrier_port}\"\noutbound_transport = \"tcp\"\n\n[[sip.routes]]"
            ),
        );
    let sipp = carrier_over(
        carrier_port,
        callee::answered(CUSTOMER, CALLER_ID, true),
        "t1",
    );
    let db = Database::sqlite();
    let server = start_server!(&db, Some(&config))?;
    let root = server.login("root", "pw-r").await?;
    let alice = server.login("alice", "pw-a").await?;
    let mut events = server.events(&alice).await?;
    let id = dialed_and_answered(&server, &alice, &mut events).await?;
    assert!(
        sipp.await??,
        "the TCP carrier's side failed (customer's BYE)"
    );
    let call = server.ended_call(&root, &id).await;
    assert_eq!(
        (call["result"].as_str(), call["ended_by"]["party"].as_str()),
        (Some("answered"), Some("customer")),
        "{call}"
    );
    Ok(())
}

#[tokio::test]
async fn a_placed_call_keeps_the_session_timer_its_customer_answers_with() -> anyhow::Result<()> {
    if !sipp_present() {
        return Ok(());
    }
    let (port, carrier_port) = (free_port(), free_port());
    let config = config(port, carrier_port).replace("[sip]\n", "[sip]\nmin_session_secs = 1\n");
    let db = Database::sqlite();
    let server = start_server!(&db, Some(&config))?;
    let root = server.login("root", "pw-r").await?;
    let alice = server.login("alice", "pw-a").await?;
    let mut events = server.events(&alice).await?;

    // We refresh (refresher=uac): our UPDATE comes within the 2 s interval; the customer then
    // hangs up.
    let sipp = carrier(
        carrier_port,
        callee::answered_with_a_timer(CUSTOMER, CALLER_ID, 2, "uac"),
    );
    let id = dialed_and_answered(&server, &alice, &mut events).await?;
    assert!(
        sipp.await??,
        "the carrier's side failed (no UPDATE from us)"
    );
    let call = server.ended_call(&root, &id).await;
    assert_eq!(
        (call["result"].as_str(), call["ended_by"]["party"].as_str()),
        (Some("answered"), Some("customer")),
        "{call}"
    );

    // The customer refreshes (refresher=uas) and never does: the call ends as the customer
    // gone, and our BYE reaches it.
    let sipp = carrier(
        carrier_port,
        callee::answered_with_a_timer(CUSTOMER, CALLER_ID, 3, "uas"),
    );
    let id = dialed_and_answered(&server, &alice, &mut events).await?;
    assert!(sipp.await??, "the carrier's side failed (no BYE from us)");
    let call = server.ended_call(&root, &id).await;
    let lost = call["journey"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["event"] == "customer_media_lost")
        .cloned()
        .unwrap_or_default();
    assert_eq!(lost["reason"], "session_expired", "{call}");
    Ok(())
}
