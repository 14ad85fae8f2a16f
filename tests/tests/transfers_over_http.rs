//! D1–D5 through the HTTP API on the real program (demo setup): a blind transfer to a queue,
//! an attended transfer completed, and an attended transfer turned into a conference where
//! the parties hang up in turn. Refused actions name their rule and change nothing.

use serde_json::{json, Value};
use std::time::Duration;
use tests::{start_server, Database, Events, Server};

const T: Duration = Duration::from_secs(10);

struct Desk {
    server: Server,
    _db: Database,
    root: String,
    tokens: std::collections::HashMap<&'static str, String>,
    events: Events,
}

impl Desk {
    async fn open() -> anyhow::Result<Desk> {
        let db = Database::sqlite();
        let server = start_server!(&db, None)?;
        let root = server.login("root", "demo").await?;
        let sam = server.login("sam", "demo").await?;
        let events = server.events(&sam).await?;
        let mut tokens = std::collections::HashMap::new();
        for a in ["alice", "bob", "carol"] {
            tokens.insert(a, server.login(a, "demo").await?);
        }
        Ok(Desk {
            server,
            _db: db,
            root,
            tokens,
            events,
        })
    }

    fn token(&self, agent: &str) -> &str {
        &self.tokens[agent]
    }

    async fn status(&self, agent: &str, status: &str) -> anyhow::Result<Value> {
        let path = format!("/api/v1/agents/{agent}/status");
        self.server
            .put(&path, self.token(agent), json!({"status": status}))
            .await
    }

    async fn agent_status(&self, agent: &str) -> anyhow::Result<String> {
        let v = self
            .server
            .get(&format!("/api/v1/agents/{agent}"), self.token(agent))
            .await?;
        Ok(v["status"].as_str().unwrap_or_default().to_owned())
    }

    /// A support call answered by alice (the only Ready agent when it arrives).
    async fn call_answered_by_alice(&mut self) -> anyhow::Result<String> {
        self.status("alice", "ready").await?;
        let call = self
            .server
            .post(
                "/api/v1/calls",
                &self.root,
                json!({"from": "+15550123", "queue": "support"}),
            )
            .await?;
        let id = call["id"].as_str().unwrap().to_owned();
        self.wait(&id, "call.offered").await?;
        self.act("alice", &id, "accept", json!({})).await?;
        Ok(id)
    }

    async fn act(&self, agent: &str, id: &str, action: &str, body: Value) -> anyhow::Result<Value> {
        self.server
            .post(
                &format!("/api/v1/calls/{id}/{action}"),
                self.token(agent),
                body,
            )
            .await
    }

    /// The status and error code of an action that must be refused.
    async fn refused(
        &self,
        agent: &str,
        id: &str,
        action: &str,
        body: Value,
    ) -> anyhow::Result<(u16, String)> {
        let path = format!("/api/v1/calls/{id}/{action}");
        let (s, v) = self
            .server
            .send(
                reqwest::Method::POST,
                &path,
                Some(self.token(agent)),
                Some(body),
            )
            .await?;
        Ok((
            s,
            v["error"]["code"].as_str().unwrap_or_default().to_owned(),
        ))
    }

    async fn wait(&mut self, id: &str, ty: &str) -> anyhow::Result<Value> {
        let (id, ty) = (id.to_owned(), ty.to_owned());
        self.events
            .next_matching(T, move |e| {
                e["type"] == ty.as_str() && e["call_id"] == id.as_str()
            })
            .await
    }

    async fn call(&self, id: &str) -> anyhow::Result<Value> {
        self.server
            .get(&format!("/api/v1/calls/{id}"), &self.root)
            .await
    }
}

#[tokio::test]
async fn blind_transfer_to_a_queue_keeps_the_crm_fields() -> anyhow::Result<()> {
    let mut desk = Desk::open().await?;
    let id = desk.call_answered_by_alice().await?;
    let crm = json!({"who": "003-CONTACT", "what": "500-CASE"});
    desk.server
        .put(&format!("/api/v1/calls/{id}/crm"), desk.token("alice"), crm)
        .await?;

    let unknown = json!({"target": {"type": "queue", "id": "billing"}});
    assert_eq!(
        desk.refused("alice", &id, "transfer", unknown).await?,
        (422, "unknown_queue".into())
    );
    let to_sales = json!({"target": {"type": "queue", "id": "sales"}});
    assert_eq!(
        desk.refused("bob", &id, "transfer", to_sales.clone())
            .await?,
        (403, "not_owner".into())
    );
    let moved = desk.act("alice", &id, "transfer", to_sales).await?;
    assert_eq!(
        (
            moved["state"].as_str(),
            moved["queue"].as_str(),
            moved["status"].as_str()
        ),
        (Some("waiting"), Some("sales"), Some("transferring"))
    );
    assert_eq!(desk.agent_status("alice").await?, "after_service");

    desk.status("carol", "ready").await?;
    let offer = desk.wait(&id, "call.offered").await?;
    assert_eq!(offer["agent"], "carol");
    let answered = desk.act("carol", &id, "accept", json!({})).await?;
    assert_eq!(
        (
            answered["agent"].as_str(),
            answered["who"].as_str(),
            answered["what"].as_str()
        ),
        (Some("carol"), Some("003-CONTACT"), Some("500-CASE"))
    );
    let steps: Vec<String> = answered["journey"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect();
    let tail: Vec<&str> = steps
        .iter()
        .rev()
        .take(4)
        .rev()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        [
            "transfer_started",
            "routed_to_queue",
            "offered_to",
            "answered_by"
        ]
    );
    Ok(())
}

#[tokio::test]
async fn attended_transfer_completes_to_the_consulted_colleague() -> anyhow::Result<()> {
    let mut desk = Desk::open().await?;
    let id = desk.call_answered_by_alice().await?;
    desk.status("bob", "ready").await?;
    let consulting = desk
        .act(
            "alice",
            &id,
            "consult",
            json!({"target": {"type": "agent", "id": "bob"}}),
        )
        .await?;
    assert_eq!(
        (
            consulting["held"].as_bool(),
            consulting["consult"]["agent"].as_str()
        ),
        (Some(true), Some("bob"))
    );
    assert_eq!(
        desk.wait(&id, "call.consult_offered").await?["agent"],
        "bob"
    );
    assert_eq!(
        desk.refused("alice", &id, "consult/complete", json!({}))
            .await?,
        (409, "consult_not_answered".into())
    );
    desk.act("bob", &id, "accept", json!({})).await?;

    // D3: bob sees the call but cannot act on the customer until it is his.
    let seen = desk
        .server
        .get(&format!("/api/v1/calls/{id}"), desk.token("bob"))
        .await?;
    assert_eq!(seen["consult"]["answered"], true);
    assert_eq!(
        desk.refused("bob", &id, "resume", json!({})).await?,
        (403, "not_owner".into())
    );
    assert_eq!(
        desk.refused("alice", &id, "resume", json!({})).await?,
        (409, "consult_in_progress".into())
    );

    let done = desk
        .act("alice", &id, "consult/complete", json!({}))
        .await?;
    assert_eq!(
        (
            done["agent"].as_str(),
            done["held"].as_bool(),
            done["consult"].is_null()
        ),
        (Some("bob"), Some(false), true)
    );
    assert_eq!(desk.agent_status("alice").await?, "after_service");
    assert_eq!(desk.agent_status("bob").await?, "in_service");
    desk.act("bob", &id, "hold", json!({})).await?;
    Ok(())
}

#[tokio::test]
async fn attended_transfer_turned_conference_goes_on_when_the_owner_leaves() -> anyhow::Result<()> {
    let mut desk = Desk::open().await?;
    let id = desk.call_answered_by_alice().await?;
    desk.status("bob", "ready").await?;
    desk.act(
        "alice",
        &id,
        "consult",
        json!({"target": {"type": "agent", "id": "bob"}}),
    )
    .await?;
    desk.wait(&id, "call.consult_offered").await?;
    desk.act("bob", &id, "accept", json!({})).await?;
    let conf = desk
        .act("alice", &id, "consult/conference", json!({}))
        .await?;
    assert_eq!(
        (
            conf["conference"]["third"]["id"].as_str(),
            conf["held"].as_bool()
        ),
        (Some("bob"), Some(false))
    );

    // D4: no hold, mask or DTMF in a conference; each refusal names its rule, nothing changes.
    assert_eq!(
        desk.refused("alice", &id, "hold", json!({})).await?,
        (409, "conference_no_hold".into())
    );
    assert_eq!(
        desk.refused("alice", &id, "dtmf", json!({"digits": "1"}))
            .await?,
        (409, "conference_no_dtmf".into())
    );
    desk.act("alice", &id, "recording", json!({"action": "start"}))
        .await?;
    assert_eq!(
        desk.refused("alice", &id, "recording", json!({"action": "mask"}))
            .await?,
        (409, "conference_no_mask".into())
    );
    let unchanged = desk.call(&id).await?;
    assert_eq!(
        (unchanged["held"].as_bool(), unchanged["recording"].as_str()),
        (Some(false), Some("on"))
    );

    // The owner leaves: the customer and bob stay connected, bob owns the call.
    let after = desk.act("alice", &id, "hangup", json!({})).await?;
    assert_eq!(
        (after["state"].as_str(), after["agent"].as_str()),
        (Some("connected"), Some("bob"))
    );
    assert_eq!(desk.agent_status("alice").await?, "after_service");
    // Then the customer leaves: over.
    let end = desk
        .server
        .post(
            &format!("/api/v1/calls/{id}/hangup"),
            &desk.root,
            json!({"party": "customer"}),
        )
        .await?;
    assert_eq!(
        (end["state"].as_str(), end["result"].as_str()),
        (Some("ended"), Some("answered"))
    );
    assert_eq!(desk.agent_status("bob").await?, "after_service");
    Ok(())
}
