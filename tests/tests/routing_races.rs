//! Routing under races and restarts, over HTTP against the real program: an agent steps away
//! while ringing (one request), a decline names the next status, an accept that loses to the
//! customer's hang-up is a 409, and after kill -9 right after a decline every offer a call
//! shows is one its agent rings for.

use serde_json::{json, Value};
use std::time::Duration;
use tests::{eventually, start_server, Database, Server};

const CONFIG: &str = r#"
custom_statuses = ["break"]

[[queues]]
id = "support"
strategy = "sequential"

[[agents]]
id = "alice"
queues = ["support"]

[[agents]]
id = "bob"
queues = ["support"]

[[agents]]
id = "carol"
queues = ["support"]

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
username = "carol"
password = "pw-c"
role = "agent"
agent = "carol"

[[users]]
username = "ingress"
password = "pw-i"
role = "admin"
"#;

const T: Duration = Duration::from_secs(10);

struct Team {
    ingress: String,
    tokens: Vec<(&'static str, String)>,
}

async fn team(server: &Server, ready: &[&'static str]) -> anyhow::Result<Team> {
    let mut tokens = Vec::new();
    for (who, pw) in [("alice", "pw-a"), ("bob", "pw-b"), ("carol", "pw-c")] {
        let token = server.login(who, pw).await?;
        if ready.contains(&who) {
            let path = format!("/api/v1/agents/{who}/status");
            server
                .put(&path, &token, json!({"status": "ready"}))
                .await?;
        }
        tokens.push((who, token));
    }
    let ingress = server.login("ingress", "pw-i").await?;
    Ok(Team { ingress, tokens })
}

impl Team {
    fn token(&self, who: &str) -> &str {
        &self.tokens.iter().find(|(w, _)| *w == who).unwrap().1
    }
}

async fn new_call(server: &Server, team: &Team, from: &str) -> anyhow::Result<String> {
    let body = json!({"from": from, "queue": "support"});
    let call = server.post("/api/v1/calls", &team.ingress, body).await?;
    Ok(call["id"].as_str().unwrap().to_owned())
}

fn at(e: &Value) -> i64 {
    e["at"].as_i64().unwrap()
}

#[tokio::test]
async fn an_agent_steps_away_while_ringing_and_a_decline_names_the_next_status(
) -> anyhow::Result<()> {
    let db = Database::sqlite();
    let server = start_server!(&db, Some(CONFIG))?;
    let team = team(&server, &["alice", "bob"]).await?;
    let mut events = server.events(&team.ingress).await?;
    let id = new_call(&server, &team, "+15550100").await?;
    let of = |ty: &'static str| {
        let id = id.clone();
        move |e: &Value| e["type"] == ty && e["call_id"] == id.as_str()
    };
    let first = events.next_matching(T, of("call.offered")).await?;
    let (ringing, other) = match first["agent"].as_str() {
        Some("alice") => ("alice", "bob"),
        _ => ("bob", "alice"),
    };

    // One request while ringing: the agent is on its break, and the call rings the other
    // agent at once (not after the 18 s offer timeout).
    let path = format!("/api/v1/agents/{ringing}/status");
    let (status, agent) = server
        .send(
            reqwest::Method::PUT,
            &path,
            Some(team.token(ringing)),
            Some(json!({"status": "break"})),
        )
        .await?;
    assert_eq!(
        (status, agent["status"].as_str()),
        (200, Some("break")),
        "{agent}"
    );
    let away = events.next_matching(T, of("call.stepped_away")).await?;
    assert_eq!(away["agent"], ringing);
    let next = events.next_matching(T, of("call.offered")).await?;
    assert_eq!(next["agent"], other);
    assert!(at(&next) - at(&away) < 1_000, "{away} then {next}");
    let queues = server.get("/api/v1/queues", &team.ingress).await?;
    let support = &queues["queues"][0];
    assert_eq!(
        (&support["waiting"], &support["offering"]),
        (&json!(0), &json!(1)),
        "{support}"
    );

    // A decline's body is an object of known fields, as everywhere...
    let decline = format!("/api/v1/calls/{id}/decline");
    for (body, code) in [
        (json!({"status": "break", "zzz": 1}), "invalid_body"),
        (json!([]), "not_an_object"),
        (json!({"status": "lunch"}), "unknown_status"),
    ] {
        let (s, v) = server
            .send(
                reqwest::Method::POST,
                &decline,
                Some(team.token(other)),
                Some(body),
            )
            .await?;
        assert_eq!((s, v["error"]["code"].as_str()), (422, Some(code)), "{v}");
    }
    // ...and names the status the agent goes to, in the same step.
    let (s, call) = server
        .send(
            reqwest::Method::POST,
            &decline,
            Some(team.token(other)),
            Some(json!({"status": "dnd"})),
        )
        .await?;
    assert_eq!(
        (s, call["offered"].as_array().map(Vec::len)),
        (200, Some(0)),
        "{call}"
    );
    let agent = server
        .get(&format!("/api/v1/agents/{other}"), team.token(other))
        .await?;
    assert_eq!(agent["status"], "dnd", "{agent}");
    let queues = server.get("/api/v1/queues", &team.ingress).await?;
    let support = &queues["queues"][0];
    assert_eq!(
        (&support["waiting"], &support["offering"]),
        (&json!(1), &json!(0)),
        "{support}"
    );
    Ok(())
}

#[tokio::test]
async fn an_accept_that_loses_to_the_customers_hang_up_is_a_409() -> anyhow::Result<()> {
    let db = Database::sqlite();
    let server = start_server!(&db, Some(CONFIG))?;
    let team = team(&server, &["alice"]).await?;
    let alice = team.token("alice");
    let mut events = server.events(alice).await?;
    let mut lost = 0;
    for i in 0..30 {
        let id = new_call(&server, &team, &format!("+155501{i:02}")).await?;
        let offered = {
            let id = id.clone();
            move |e: &Value| e["type"] == "call.offered" && e["call_id"] == id.as_str()
        };
        events.next_matching(T, offered).await?;
        let (hangup_path, accept_path) = (
            format!("/api/v1/calls/{id}/hangup"),
            format!("/api/v1/calls/{id}/accept"),
        );
        let hangup = server.send(
            reqwest::Method::POST,
            &hangup_path,
            Some(&team.ingress),
            Some(json!({"party": "customer"})),
        );
        let accept = server.send(reqwest::Method::POST, &accept_path, Some(alice), None);
        let (hangup, accept) = tokio::join!(hangup, accept);
        assert_eq!(hangup?.0, 200);
        let (status, body) = accept?;
        match status {
            200 => {}
            409 => lost += 1,
            _ => panic!("round {i}: the accept got {status} {body}"),
        }
        // Ready again for the next round (after a wrap-up if the accept won).
        eventually("alice ready", T, || async {
            let a = server.get("/api/v1/agents/alice", alice).await.ok()?;
            match a["status"].as_str() {
                Some("ready") => Some(()),
                Some("after_service") => {
                    let body = json!({"status": "ready"});
                    let _ = server.put("/api/v1/agents/alice/status", alice, body).await;
                    None
                }
                _ => None,
            }
        })
        .await;
    }
    eprintln!("accepts that lost the race: {lost} of 30");
    Ok(())
}

#[tokio::test]
async fn after_kill_9_right_after_a_decline_every_offer_is_rung() -> anyhow::Result<()> {
    let db = Database::sqlite();
    let mut server = start_server!(&db, Some(CONFIG))?;
    let mut team = team(&server, &["alice", "bob", "carol"]).await?;
    for i in 0..6 {
        new_call(&server, &team, &format!("+155502{i:02}")).await?;
    }
    for round in 0..5 {
        // Someone is ringing; they decline while calls wait, and the process dies at once.
        let who = eventually("someone ringing", T, || async {
            for (who, token) in &team.tokens {
                let a = server
                    .get(&format!("/api/v1/agents/{who}"), token)
                    .await
                    .ok()?;
                if a["status"] == "offered" {
                    return Some((*who, a["call_id"].as_str()?.to_owned()));
                }
            }
            None
        })
        .await;
        let path = format!("/api/v1/calls/{}/decline", who.1);
        let decline = server.send(reqwest::Method::POST, &path, Some(team.token(who.0)), None);
        let _ = tokio::time::timeout(Duration::from_millis(3 + round), decline).await;
        server.kill();
        server = start_server!(&db, Some(CONFIG))?;
        team = team_again(&server).await?;
        // Once the restart's offers have landed (six calls wait for three agents: everyone
        // rings), calls and agents agree.
        eventually("everyone ringing again", T, || async {
            for (who, token) in &team.tokens {
                let a = server
                    .get(&format!("/api/v1/agents/{who}"), token)
                    .await
                    .ok()?;
                if a["status"] != "offered" {
                    return None;
                }
            }
            Some(())
        })
        .await;
        let offering = server
            .get("/api/v1/calls?state=offering", &team.ingress)
            .await?;
        for c in offering["calls"].as_array().unwrap() {
            for a in c["offered"].as_array().unwrap() {
                let a = a.as_str().unwrap();
                let v = server
                    .get(&format!("/api/v1/agents/{a}"), team.token(a))
                    .await?;
                assert_eq!(
                    (v["status"].as_str(), v["call_id"].as_str()),
                    (Some("offered"), c["id"].as_str()),
                    "round {round}: {c} shows an offer to {a}: {v}"
                );
            }
        }
        for (who, token) in &team.tokens {
            let v = server.get(&format!("/api/v1/agents/{who}"), token).await?;
            if v["status"] == "offered" {
                let id = v["call_id"].as_str().unwrap();
                let c = server
                    .get(&format!("/api/v1/calls/{id}"), &team.ingress)
                    .await?;
                let shows = c["offered"].as_array().unwrap().iter().any(|a| a == *who);
                assert!(shows, "round {round}: {who} rings for {c}");
            }
        }
    }
    Ok(())
}

/// The same people after a restart (sessions survive it; logging in again is simpler).
async fn team_again(server: &Server) -> anyhow::Result<Team> {
    team(server, &[]).await
}
