//! The store against real databases: SQLite in a temporary file always, PostgreSQL when
//! `SWITCHYARD_TEST_POSTGRES_URL` names a server (CI sets it; without it on a user's machine the
//! PostgreSQL test says so and skips, and in CI a missing URL is a failure).

use actors::store::{AlertRow, OutboxRow, SessionRow, Store, TranscriptRow};
use engine::agent::{Agent, Status};
use engine::call::{Call, CallState, Party};
use engine::routing::Skills;
use engine::Timestamp;

async fn exercise(store: &Store) {
    let t = Timestamp::from_millis;
    let mut call = Call::new(
        "c-1".into(),
        t(1_000),
        "+15551230001".into(),
        "support".into(),
        2,
        Skills::new(),
    );
    store.save_call(&call, 1_000).await.unwrap();
    call.offer(
        t(2_000),
        vec!["alice".into()],
        std::time::Duration::from_secs(18),
    )
    .unwrap();
    call.accept(t(3_000), &"alice".into()).unwrap();
    store.save_call(&call, 3_000).await.unwrap();
    let other = Call::new(
        "c-2".into(),
        t(4_000),
        "+15551230002".into(),
        "sales".into(),
        0,
        Skills::new(),
    );
    store.save_call(&other, 4_000).await.unwrap();

    assert_eq!(
        store.load_call(&"c-1".into()).await.unwrap(),
        Some(call.clone())
    );
    let connected = store
        .list_calls(Some(CallState::Connected), 10)
        .await
        .unwrap();
    assert_eq!(connected, vec![call.clone()]);
    let all: Vec<_> = store
        .list_calls(None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id().clone())
        .collect();
    assert_eq!(all, vec!["c-2".into(), "c-1".into()], "newest first");
    assert_eq!(store.open_calls().await.unwrap().len(), 2);
    call.hangup(t(9_000), Party::Customer).unwrap();
    store.save_call(&call, 9_000).await.unwrap();
    assert_eq!(store.open_calls().await.unwrap().len(), 1);

    let mut agent = Agent::new("alice".into(), t(0));
    agent
        .set_status(t(10), Some(Status::Ready), None, &[])
        .unwrap();
    agent
        .set_status(t(20), Some(Status::Dnd), None, &[])
        .unwrap();
    let changes: Vec<_> = std::iter::from_fn(|| agent.poll_change()).collect();
    assert_eq!(store.last_history_seq(&"alice".into()).await.unwrap(), 0);
    store
        .save_agent(&agent, &changes[..1], 1, 10)
        .await
        .unwrap();
    assert_eq!(store.last_history_seq(&"alice".into()).await.unwrap(), 1);
    store
        .save_agent(&agent, &changes[1..], 2, 20)
        .await
        .unwrap();
    assert_eq!(store.last_history_seq(&"alice".into()).await.unwrap(), 2);
    assert_eq!(
        store.load_agent(&"alice".into()).await.unwrap(),
        Some(agent)
    );
    let history = store.status_history(&"alice".into(), 10).await.unwrap();
    assert_eq!(history, changes);
    assert_eq!(
        store.status_history(&"alice".into(), 1).await.unwrap(),
        changes[1..].to_vec()
    );

    let s = SessionRow {
        token: "tok".into(),
        username: "alice".into(),
        created_at: 5,
        last_seen_at: 5,
    };
    store.create_session(&s).await.unwrap();
    assert_eq!(store.find_session("tok").await.unwrap(), Some(s.clone()));
    assert_eq!(store.find_session("nope").await.unwrap(), None);
    // Use is recorded (never backwards); sessions end one by one, by user, or by expiry.
    store.session_seen("tok", 50).await.unwrap();
    store.session_seen("tok", 40).await.unwrap();
    assert_eq!(
        store
            .find_session("tok")
            .await
            .unwrap()
            .map(|r| r.last_seen_at),
        Some(50)
    );
    for (token, user, at) in [("t2", "alice", 60), ("t3", "bob", 60), ("t4", "bob", 100)] {
        let row = SessionRow {
            token: token.into(),
            username: user.into(),
            created_at: at,
            last_seen_at: at,
        };
        store.create_session(&row).await.unwrap();
    }
    store.end_sessions(Some("tok"), None).await.unwrap();
    assert_eq!(store.find_session("tok").await.unwrap(), None);
    assert!(store.find_session("t2").await.unwrap().is_some());
    store.end_sessions(None, Some("alice")).await.unwrap();
    assert_eq!(store.find_session("t2").await.unwrap(), None);
    store.purge_sessions(0, 80).await.unwrap();
    assert_eq!(store.find_session("t3").await.unwrap(), None);
    assert!(store.find_session("t4").await.unwrap().is_some());
    store.save_config("{\"a\":1}", 1).await.unwrap();
    store.save_config("{\"a\":2}", 2).await.unwrap();
    assert_eq!(
        store.load_config().await.unwrap().as_deref(),
        Some("{\"a\":2}")
    );

    // A call's end and its CRM outbox rows are written together; rows change state in place.
    let row = OutboxRow {
        key: "c-1:v1:hook".into(),
        call_id: "c-1".into(),
        version: 1,
        connector: "hook".into(),
        payload: "{}".into(),
        state: "pending".into(),
        attempts: 0,
        next_at: 9_000,
        last_error: None,
        created_at: 9_000,
        updated_at: 9_000,
    };
    store
        .save_call_with_outbox(&call, 9_000, std::slice::from_ref(&row))
        .await
        .unwrap();
    assert_eq!(
        store
            .load_call(&"c-1".into())
            .await
            .unwrap()
            .unwrap()
            .state(),
        CallState::Ended
    );
    assert_eq!(
        store.outbox(Some("pending")).await.unwrap(),
        std::slice::from_ref(&row)
    );
    assert_eq!(store.outbox_version("c-1").await.unwrap(), 1);
    assert_eq!(store.outbox_version("c-2").await.unwrap(), 0);
    let dead = OutboxRow {
        state: "dead".into(),
        attempts: 3,
        last_error: Some("HTTP 400".into()),
        updated_at: 9_500,
        ..row.clone()
    };
    store.outbox_put(&dead).await.unwrap();
    assert!(store.outbox(Some("pending")).await.unwrap().is_empty());
    assert_eq!(
        store.outbox(None).await.unwrap(),
        std::slice::from_ref(&dead)
    );

    // A refresh rewrites only a row no attempt has read yet.
    store
        .outbox_refresh(&dead.key, "{\"new\":1}", 1, 9_600)
        .await
        .unwrap();
    assert_eq!(
        store.outbox(None).await.unwrap(),
        std::slice::from_ref(&dead)
    );
    let held = OutboxRow {
        key: "c-1:v2:hook".into(),
        version: 2,
        next_at: 40_000,
        ..row.clone()
    };
    store.outbox_put(&held).await.unwrap();
    store
        .outbox_refresh(&held.key, "{\"new\":2}", 12_000, 9_700)
        .await
        .unwrap();
    let refreshed = OutboxRow {
        payload: "{\"new\":2}".into(),
        next_at: 12_000,
        updated_at: 9_700,
        ..held.clone()
    };
    assert_eq!(
        store.outbox(Some("pending")).await.unwrap(),
        std::slice::from_ref(&refreshed)
    );
    let tried = OutboxRow {
        attempts: 1,
        ..refreshed
    };
    store.outbox_put(&tried).await.unwrap();
    store
        .outbox_refresh(&tried.key, "{}", 1, 9_800)
        .await
        .unwrap();
    assert_eq!(store.outbox(Some("pending")).await.unwrap(), [tried]);

    // Transcripts come back in the order spoken, whichever leg began first; alerts likewise.
    let seg = |leg: &str, start_ms: i64, spoken_at: i64, text: &str| TranscriptRow {
        call_id: "c-1".into(),
        leg: leg.into(),
        agent: (leg == "agent").then(|| "alice".to_owned()),
        start_ms,
        end_ms: start_ms + 900,
        text: text.into(),
        at: spoken_at + 1_500,
        spoken_at,
    };
    // The customer's leg began 20 s before the agent's: its times are 20 s ahead.
    let said = [
        seg("agent", 1_000, 21_000, "Hello, Alice speaking."),
        seg("customer", 22_000, 22_000, "I want to cancel my account."),
        seg("agent", 3_500, 23_500, "I can help."),
    ];
    for s in [&said[2], &said[1], &said[0]] {
        store.save_transcript(s).await.unwrap();
    }
    assert_eq!(store.transcript("c-1").await.unwrap(), said);
    assert!(store.transcript("c-2").await.unwrap().is_empty());
    let alert = |phrase: &str, spoken_at: i64, text: Option<&str>| AlertRow {
        call_id: "c-1".into(),
        queue: "support".into(),
        leg: "customer".into(),
        agent: None,
        phrase: phrase.into(),
        severity: "critical".into(),
        text: text.map(Into::into),
        start_ms: 22_000,
        end_ms: 22_900,
        spoken_at,
        at: spoken_at + 1_500,
    };
    let alerts = [
        alert(
            "cancel my account",
            22_000,
            Some("I want to cancel my account."),
        ),
        alert("refund", 30_000, None),
    ];
    store.save_alert(&alerts[1]).await.unwrap();
    store.save_alert(&alerts[0]).await.unwrap();
    assert_eq!(store.alerts("c-1").await.unwrap(), alerts);
    assert!(store.alerts("c-2").await.unwrap().is_empty());
}

#[tokio::test]
async fn sqlite_file_keeps_everything_across_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    let store = Store::connect(&url).await.unwrap();
    exercise(&store).await;
    drop(store);
    let reopened = Store::connect(&url).await.unwrap();
    assert_eq!(
        reopened.list_calls(None, 10).await.unwrap().len(),
        2,
        "migrations are idempotent, data stays"
    );
}

#[tokio::test]
async fn memory_store_has_the_same_contract() {
    exercise(&Store::memory()).await;
}

#[tokio::test]
async fn postgres_runs_the_same_code() {
    let Some(url) = postgres_url() else { return };
    let store = Store::connect(&url).await.unwrap();
    exercise(&store).await;
}

/// A fresh database on the server named by `SWITCHYARD_TEST_POSTGRES_URL`.
fn postgres_url() -> Option<String> {
    let Ok(base) = std::env::var("SWITCHYARD_TEST_POSTGRES_URL") else {
        assert!(std::env::var("CI").is_err(), "CI must set SWITCHYARD_TEST_POSTGRES_URL: a skipped PostgreSQL test is a failure there");
        eprintln!(
            "SKIPPED: set SWITCHYARD_TEST_POSTGRES_URL=postgres://… to run the PostgreSQL test"
        );
        return None;
    };
    let name = format!("sy_test_{}_{}", std::process::id(), rand_suffix());
    let status = std::process::Command::new("psql")
        .args([base.as_str(), "-qc", &format!("CREATE DATABASE {name}")])
        .status()
        .expect("psql runs");
    assert!(status.success(), "could not create database {name}");
    let (prefix, _) = base.rsplit_once('/').expect("URL ends with /database");
    Some(format!("{prefix}/{name}"))
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
}
