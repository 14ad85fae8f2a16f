//! The durable CRM outbox (G3) against real local HTTP receivers: one that fails its first
//! deliveries, one that is down across a server restart, one that refuses (dead letter, then
//! retried by an admin). Every log arrives exactly once by its idempotency key, in order per
//! call. The restart runs on SQLite, and on PostgreSQL when configured.

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tests::{eventually, start_server, when_notified, Database, Server};

const SECRET: &str = "a-long-shared-secret";

/// What a receiver saw: every attempt, and the logs it accepted (idempotency key, body).
#[derive(Clone, Default)]
struct Receiver {
    attempts: Arc<Mutex<u32>>,
    accepted: Arc<Mutex<Vec<(String, Value)>>>,
    /// Attempts answered with this status before accepting; `Some(400)` refuses for good.
    fail_first: Arc<Mutex<u32>>,
    refuse: Arc<Mutex<bool>>,
    /// Notified after every attempt.
    changed: Arc<tokio::sync::Notify>,
}

impl Receiver {
    fn accepted(&self) -> Vec<(String, Value)> {
        self.accepted.lock().unwrap().clone()
    }

    /// Serves on `listener` until the test ends.
    fn serve(&self, listener: tokio::net::TcpListener) {
        let me = self.clone();
        let app = Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let me = me.clone();
                async move {
                    let status = me.attempt(&headers, &body);
                    me.changed.notify_waiters();
                    status
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    }

    /// Answers one delivery attempt.
    fn attempt(&self, headers: &HeaderMap, body: &[u8]) -> StatusCode {
        *self.attempts.lock().unwrap() += 1;
        let ts: i64 = headers["x-switchyard-timestamp"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let sig = headers["x-switchyard-signature"].to_str().unwrap();
        if !cti_adapter::connector::verify(SECRET, ts, body, sig) {
            return StatusCode::UNAUTHORIZED;
        }
        if *self.refuse.lock().unwrap() {
            return StatusCode::BAD_REQUEST;
        }
        {
            let mut left = self.fail_first.lock().unwrap();
            if *left > 0 {
                *left -= 1;
                return StatusCode::SERVICE_UNAVAILABLE;
            }
        }
        let key = headers["idempotency-key"].to_str().unwrap().to_owned();
        let v: Value = serde_json::from_slice(body).unwrap();
        self.accepted.lock().unwrap().push((key, v));
        StatusCode::OK
    }
}

/// The demo setup with a webhook connector at `url` and quick retries.
fn config(url: &str) -> String {
    actors::config::DEMO_TOML.replacen(
        "[cti]\n",
        &format!(
            "[cti]\nretry = {{ max_attempts = 50, base_ms = 50, max_ms = 300 }}\n\
             connectors = [{{ kind = \"webhook\", name = \"hook\", url = \"{url}\", secret = \"{SECRET}\" }}]\n"
        ),
        1,
    )
}

/// alice answers a call from `from` on `support`; returns its id and alice's token.
async fn connected_call(server: &Server, from: &str) -> (String, String) {
    let root = server.login("root", "demo").await.unwrap();
    let alice = server.login("alice", "demo").await.unwrap();
    let mut events = server.events(&alice).await.unwrap();
    server
        .put(
            "/api/v1/agents/alice/status",
            &alice,
            json!({"status": "ready"}),
        )
        .await
        .unwrap();
    let call = server
        .post(
            "/api/v1/calls",
            &root,
            json!({"from": from, "queue": "support"}),
        )
        .await
        .unwrap();
    let id = call["id"].as_str().unwrap().to_owned();
    events
        .next_matching(Duration::from_secs(10), |e| {
            e["type"] == "call.offered" && e["call_id"] == id.as_str()
        })
        .await
        .unwrap();
    server
        .post(&format!("/api/v1/calls/{id}/accept"), &alice, json!({}))
        .await
        .unwrap();
    (id, alice)
}

/// [`connected_call`] whose data is set during the call, then it ends. With `wrap_up_edit`,
/// the disposition changes during wrap-up (a second version of the log).
async fn answered_call(server: &Server, from: &str, wrap_up_edit: bool) -> String {
    let (id, alice) = connected_call(server, from).await;
    let cti = format!("/api/v1/calls/{id}/cti");
    server
        .put(
            &cti,
            &alice,
            json!({"disposition": "callback", "tags": ["vip"], "notes": "first"}),
        )
        .await
        .unwrap();
    server
        .post(&format!("/api/v1/calls/{id}/hangup"), &alice, json!({}))
        .await
        .unwrap();
    if wrap_up_edit {
        server
            .put(
                &cti,
                &alice,
                json!({"disposition": "resolved", "tags": ["vip"], "notes": "done"}),
            )
            .await
            .unwrap();
    }
    server
        .post("/api/v1/agents/alice/wrap-up/end", &alice, json!({}))
        .await
        .unwrap();
    id
}

/// Waits until the receiver's state says `check`.
async fn until(receiver: &Receiver, what: &str, check: impl Fn() -> bool) {
    let changed = &receiver.changed;
    when_notified(what, Duration::from_secs(10), changed, || {
        check().then_some(())
    })
    .await
}

/// The outbox rows at `query` once `check` holds of them.
async fn outbox_when(
    server: &Server,
    token: &str,
    query: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    eventually(query, Duration::from_secs(10), || async {
        let v = server
            .get(&format!("/api/v1/cti/outbox{query}"), token)
            .await
            .unwrap();
        check(&v["rows"]).then_some(v)
    })
    .await
}

/// Waits until nothing is pending: every log is delivered, dead or superseded, and the
/// worker sends nothing more (what the receiver holds then is final).
async fn settled(server: &Server, token: &str) {
    outbox_when(server, token, "?state=pending", |rows| {
        rows.as_array().is_some_and(Vec::is_empty)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_crm_gets_every_log_exactly_once_in_order() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let receiver = Receiver::default();
    *receiver.fail_first.lock().unwrap() = 3;
    receiver.serve(listener);
    let db = Database::sqlite();
    let server = start_server!(&db, Some(&config(&url))).unwrap();
    let first = answered_call(&server, "+15550001", true).await;
    let second = answered_call(&server, "+15550002", false).await;
    until(&receiver, "three logs", || receiver.accepted().len() >= 3).await;
    // Nothing more arrives: no duplicates from the retries.
    let root = server.login("root", "demo").await.unwrap();
    settled(&server, &root).await;
    let accepted = receiver.accepted();
    let keys: Vec<&str> = accepted.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    let mut unique = keys.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 3, "a log arrived twice: {keys:?}");
    let v1 = format!("{first}:v1");
    let v2 = format!("{first}:v2");
    let pos = |k: &str| keys.iter().position(|x| *x == k).unwrap();
    assert!(pos(&v1) < pos(&v2), "versions out of order: {keys:?}");
    assert!(keys.contains(&format!("{second}:v1").as_str()));
    // The logs carry the data as it was: the first version at the end, the second after
    // the wrap-up change.
    let body = |k: &str| &accepted[pos(k)].1;
    assert_eq!(body(&v1)["log"]["data"]["disposition"], "callback");
    assert_eq!(body(&v2)["log"]["data"]["disposition"], "resolved");
    assert!(*receiver.attempts.lock().unwrap() >= 6);
    let rows = server
        .get("/api/v1/cti/outbox?state=delivered", &root)
        .await
        .unwrap();
    assert_eq!(rows["rows"].as_array().unwrap().len(), 3, "{rows}");
    server.kill();
}

/// A local address kept for a receiver that is not up yet: its socket is bound, so no other
/// program takes the port in the meantime (a listener bound and dropped left it free, and a
/// server started later once took it), but not listening, so connections to it are refused
/// until `listen`.
fn reserved_address() -> (tokio::net::TcpSocket, std::net::SocketAddr) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    (socket, addr)
}

async fn down_across_a_restart(db: Database) {
    // The receiver's address is reserved, but nobody listens until after the restart.
    let (socket, addr) = reserved_address();
    let url = format!("http://{addr}/hook");
    let server = start_server!(&db, Some(&config(&url))).unwrap();
    let id = answered_call(&server, "+15550003", false).await;
    let root = server.login("root", "demo").await.unwrap();
    // Tried and failed at least once, still pending.
    let pending = outbox_when(&server, &root, "?state=pending", |rows| {
        rows[0]["attempts"].as_i64() >= Some(1)
    })
    .await;
    assert_eq!(
        pending["rows"][0]["key"],
        format!("{id}:v1:hook"),
        "{pending}"
    );
    assert!(
        pending["rows"][0]["last_error"].as_str().is_some(),
        "{pending}"
    );
    server.kill();

    let server = start_server!(&db, Some(&config(&url))).unwrap();
    let receiver = Receiver::default();
    receiver.serve(socket.listen(1024).unwrap());
    until(&receiver, "the log after the restart", || {
        !receiver.accepted().is_empty()
    })
    .await;
    let root = server.login("root", "demo").await.unwrap();
    settled(&server, &root).await;
    let keys: Vec<String> = receiver.accepted().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, [format!("{id}:v1")]);
    let rows = server.get("/api/v1/cti/outbox", &root).await.unwrap();
    assert_eq!(rows["rows"][0]["state"], "delivered", "{rows}");
    server.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crm_down_across_a_restart_gets_the_log_once_sqlite() {
    down_across_a_restart(Database::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crm_down_across_a_restart_gets_the_log_once_postgres() {
    if let Some(db) = Database::postgres() {
        down_across_a_restart(db).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_log_is_dead_lettered_and_an_admin_retries_it() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let receiver = Receiver::default();
    *receiver.refuse.lock().unwrap() = true;
    receiver.serve(listener);
    let db = Database::sqlite();
    let server = start_server!(&db, Some(&config(&url))).unwrap();
    let id = answered_call(&server, "+15550004", false).await;
    let root = server.login("root", "demo").await.unwrap();
    let sam = server.login("sam", "demo").await.unwrap();
    let dead = outbox_when(&server, &sam, "?state=dead", |rows| {
        rows.as_array().is_some_and(|r| !r.is_empty())
    })
    .await;
    let row = &dead["rows"][0];
    assert_eq!(
        (row["key"].as_str(), row["attempts"].as_i64()),
        (Some(format!("{id}:v1:hook").as_str()), Some(1)),
        "{dead}"
    );
    assert!(
        row["last_error"].as_str().unwrap().contains("400"),
        "{dead}"
    );
    // A supervisor may look but not retry; a bad state filter is refused.
    let key = row["key"].as_str().unwrap().to_owned();
    let (status, _) = server
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/cti/outbox/{key}/retry"),
            Some(&sam),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 403);
    let (status, body) = server
        .send(
            reqwest::Method::GET,
            "/api/v1/cti/outbox?state=lost",
            Some(&sam),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_state"))
    );
    let (status, body) = server
        .send(
            reqwest::Method::GET,
            "/api/v1/cti/outbox?limit=0",
            Some(&sam),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_limit"))
    );
    // The CRM is fixed; the admin puts the log back in line.
    *receiver.refuse.lock().unwrap() = false;
    server
        .post(&format!("/api/v1/cti/outbox/{key}/retry"), &root, json!({}))
        .await
        .unwrap();
    until(&receiver, "the retried log", || {
        receiver.accepted().len() == 1
    })
    .await;
    assert_eq!(receiver.accepted()[0].0, format!("{id}:v1"));
    server.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_version_is_not_sent_again_over_a_newer_one() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let receiver = Receiver::default();
    *receiver.refuse.lock().unwrap() = true;
    receiver.serve(listener);
    let db = Database::sqlite();
    let server = start_server!(&db, Some(&config(&url))).unwrap();
    // v1 (at the call's end) is refused and dead; the CRM is fixed; v2 (a wrap-up change)
    // goes through.
    let root = server.login("root", "demo").await.unwrap();
    let (id, alice) = connected_call(&server, "+15550005").await;
    server
        .post(&format!("/api/v1/calls/{id}/hangup"), &alice, json!({}))
        .await
        .unwrap();
    let v1 = format!("{id}:v1:hook");
    outbox_when(&server, &root, "?state=dead", |rows| {
        rows[0]["key"] == v1.as_str()
    })
    .await;
    *receiver.refuse.lock().unwrap() = false;
    server
        .put(
            &format!("/api/v1/calls/{id}/cti"),
            &alice,
            json!({"disposition": "resolved", "notes": "final word"}),
        )
        .await
        .unwrap();
    until(&receiver, "v2", || receiver.accepted().len() == 1).await;
    assert_eq!(receiver.accepted()[0].0, format!("{id}:v2"));
    let (status, body) = server
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/cti/outbox/{v1}/retry"),
            Some(&root),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("superseded")),
        "{body}"
    );
    settled(&server, &root).await;
    assert_eq!(receiver.accepted().len(), 1);
    server.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_wrap_up_edits_goes_out_as_one_log() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let receiver = Receiver::default();
    receiver.serve(listener);
    let db = Database::sqlite();
    let server = start_server!(&db, Some(&config(&url))).unwrap();
    let root = server.login("root", "demo").await.unwrap();
    let (id, alice) = connected_call(&server, "+15550006").await;
    server
        .post(&format!("/api/v1/calls/{id}/hangup"), &alice, json!({}))
        .await
        .unwrap();
    // The agent types its notes during wrap-up: the panel saves as it goes.
    for notes in ["r", "re", "ref", "refund sent"] {
        server
            .put(
                &format!("/api/v1/calls/{id}/cti"),
                &alice,
                json!({"notes": notes}),
            )
            .await
            .unwrap();
    }
    until(&receiver, "the first and the last version", || {
        receiver.accepted().len() == 2
    })
    .await;
    settled(&server, &root).await;
    let accepted = receiver.accepted();
    let keys: Vec<&str> = accepted.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, [format!("{id}:v1"), format!("{id}:v5")], "{keys:?}");
    assert_eq!(accepted[1].1["log"]["data"]["notes"], "refund sent");
    let superseded = server
        .get("/api/v1/cti/outbox?state=superseded", &root)
        .await
        .unwrap();
    assert_eq!(
        superseded["rows"].as_array().unwrap().len(),
        3,
        "{superseded}"
    );
    server.kill();
}

/// The demo setup with an event hook at `url` (no CRM connector) and quick retries.
fn hooks_config(url: &str) -> String {
    let base = actors::config::DEMO_TOML.replacen(
        "[cti]\n",
        "[cti]\nretry = { max_attempts = 1000, base_ms = 50, max_ms = 300 }\n",
        1,
    );
    format!(
        "{base}\n[[hooks]]\nname = \"ops\"\nurl = \"{url}\"\nsecret = \"{SECRET}\"\n\
         events = [\"call.created\", \"call.answered\", \"call.ended\"]\n"
    )
}

/// `[[hooks]]` go through the same outbox: a receiver down across a restart still gets every
/// chosen event of both calls (one made before the restart, one after), signed, each once,
/// in order per call, and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_hook_down_across_a_restart_gets_each_chosen_event_once_in_order() {
    let (socket, addr) = reserved_address();
    let url = format!("http://{addr}/hook");
    let db = Database::sqlite();
    let server = start_server!(&db, Some(&hooks_config(&url))).unwrap();
    let first = answered_call(&server, "+15550011", false).await;
    let root = server.login("root", "demo").await.unwrap();
    outbox_when(&server, &root, "?state=pending", |rows| {
        let rows = rows.as_array().cloned().unwrap_or_default();
        // The call's line: its first event tried (and failed), the others waiting behind it.
        rows.len() == 3 && rows.iter().any(|r| r["attempts"].as_i64() >= Some(1))
    })
    .await;
    server.kill();

    let server = start_server!(&db, Some(&hooks_config(&url))).unwrap();
    let second = answered_call(&server, "+15550012", false).await;
    let receiver = Receiver::default();
    receiver.serve(socket.listen(1024).unwrap());
    until(&receiver, "six events", || receiver.accepted().len() >= 6).await;
    let root = server.login("root", "demo").await.unwrap();
    settled(&server, &root).await;
    let accepted = receiver.accepted();
    let mut keys: Vec<&str> = accepted.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(
        keys.len(),
        6,
        "an event twice, or another kind: {accepted:?}"
    );
    for id in [&first, &second] {
        let of_call: Vec<&Value> = accepted
            .iter()
            .map(|(_, v)| v)
            .filter(|v| v["call_id"] == id.as_str())
            .collect();
        let types: Vec<&str> = of_call.iter().filter_map(|v| v["type"].as_str()).collect();
        assert_eq!(
            types,
            ["call.created", "call.answered", "call.ended"],
            "{id}"
        );
        let seqs: Vec<u64> = of_call.iter().filter_map(|v| v["seq"].as_u64()).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order: {seqs:?}");
    }
    server.kill();
}
