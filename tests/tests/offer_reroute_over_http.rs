//! A3 end to end, on a configuration with short timers: an unanswered offer rings out and is
//! rerouted, the missed agent is Busy for the no-answer delay, a decline sends the call back
//! to the first agent after that delay; results and the event stream's scoping per role.

use serde_json::json;
use std::time::Duration;
use tests::{start_server, Database};

const CONFIG: &str = r#"
custom_statuses = ["break"]

[[queues]]
id = "support"
strategy = "sequential"
offer_timeout_secs = 1
no_answer_delay_secs = 2

[[agents]]
id = "alice"
queues = ["support"]

[[agents]]
id = "bob"
queues = ["support"]

[[agents]]
id = "dave"
queues = []

[[users]]
username = "alice"
password = "pw-a"
role = "agent"
agent = "alice"

[[users]]
username = "bob"
password = "pw-b"
role = "agent"
agent = "bob"

[[users]]
username = "dave"
password = "pw-d"
role = "agent"
agent = "dave"

[[users]]
username = "ingress"
password = "pw-i"
role = "admin"

[[users]]
username = "sup"
password = "pw-s"
role = "supervisor"
"#;

#[tokio::test]
async fn offers_ring_out_reroute_and_return_after_the_no_answer_delay() -> anyhow::Result<()> {
    let db = Database::sqlite();
    let server = start_server!(&db, Some(CONFIG))?;
    let ingress = server.login("ingress", "pw-i").await?;
    let alice = server.login("alice", "pw-a").await?;
    let bob = server.login("bob", "pw-b").await?;
    let dave = server.login("dave", "pw-d").await?;
    let sup = server.login("sup", "pw-s").await?;
    let mut all = server.events(&sup).await?;
    let mut daves = server.events(&dave).await?;
    for (who, token) in [("alice", &alice), ("bob", &bob)] {
        server
            .put(
                &format!("/api/v1/agents/{who}/status"),
                token,
                json!({"status": "ready"}),
            )
            .await?;
    }

    let call = server
        .post(
            "/api/v1/calls",
            &ingress,
            json!({"from": "+15550100", "queue": "support"}),
        )
        .await?;
    let id = call["id"].as_str().unwrap().to_owned();
    let is = |ty: &'static str, agent: &'static str| {
        let id = id.clone();
        move |e: &serde_json::Value| {
            e["type"] == ty && e["call_id"] == id.as_str() && e["agent"] == agent
        }
    };
    let t = Duration::from_secs(10);
    let first = all.next_matching(t, is("call.offered", "alice")).await?;
    let missed = all
        .next_matching(t, is("call.offer_timed_out", "alice"))
        .await?;
    let waited = missed["at"].as_i64().unwrap() - first["at"].as_i64().unwrap();
    assert!(
        (1000..1500).contains(&waited),
        "offer rang {waited} ms, expected about 1 s"
    );
    all.next_matching(t, is("call.offered", "bob")).await?;
    let a = server.get("/api/v1/agents/alice", &alice).await?;
    assert_eq!(a["status"], "busy", "{a}");

    server
        .post(&format!("/api/v1/calls/{id}/decline"), &bob, json!({}))
        .await?;
    let again = all.next_matching(t, is("call.offered", "alice")).await?;
    let delay = again["at"].as_i64().unwrap() - missed["at"].as_i64().unwrap();
    // Never before the delay (the rule). bob's exclusion (he declined just after alice missed)
    // ends within milliseconds of alice's delay: when it ends first, the call rings bob again
    // and alice only after his 1 s offer times out (about half the runs: 3.05 s, else 2.01 s).
    assert!(
        (2000..3500).contains(&delay),
        "re-offered after {delay} ms, expected the 2 s no-answer delay"
    );

    // The caller hangs up while alice's phone rings: cancelled.
    let ended = server
        .post(
            &format!("/api/v1/calls/{id}/hangup"),
            &ingress,
            json!({"party": "customer"}),
        )
        .await?;
    assert_eq!(ended["result"], "cancelled");
    all.next_matching(t, |e| {
        e["type"] == "agent.status" && e["agent"] == "alice" && e["to"] == "ready"
    })
    .await?;

    // A call nobody was offered, abandoned.
    server
        .put(
            "/api/v1/agents/alice/status",
            &alice,
            json!({"status": "break"}),
        )
        .await?;
    server
        .put(
            "/api/v1/agents/bob/status",
            &bob,
            json!({"status": "offline"}),
        )
        .await?;
    let lone = server
        .post(
            "/api/v1/calls",
            &ingress,
            json!({"from": "+15550101", "queue": "support"}),
        )
        .await?;
    let lone_id = lone["id"].as_str().unwrap();
    let gone = server
        .post(
            &format!("/api/v1/calls/{lone_id}/hangup"),
            &ingress,
            json!({"party": "customer"}),
        )
        .await?;
    assert_eq!(gone["result"], "abandoned");

    // dave's stream carries his own status change, and nothing of the calls before it.
    server
        .put(
            "/api/v1/agents/dave/status",
            &dave,
            json!({"status": "ready"}),
        )
        .await?;
    let (before, mine) = daves
        .until(t, |e| e["type"] == "agent.status" && e["agent"] == "dave")
        .await?;
    assert_eq!(mine["to"], "ready");
    assert!(
        before.is_empty(),
        "dave saw events that are not his: {before:?}"
    );
    // The supervisor saw everything, including alice's and bob's status changes.
    let (seen, _) = all
        .until(t, |e| e["type"] == "agent.status" && e["agent"] == "dave")
        .await?;
    assert!(seen
        .iter()
        .any(|e| e["type"] == "call.ended" && e["result"] == "abandoned"));
    Ok(())
}
