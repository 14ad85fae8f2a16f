//! The store against real databases: SQLite in a temporary file always, PostgreSQL when
//! `SWITCHYARD_TEST_POSTGRES_URL` names a server (CI sets it; without it on a user's machine the
//! PostgreSQL test says so and skips, and in CI a missing URL is a failure).

mod common;

use actors::store::{
    AlertRow, EventRow, EventSeqState, HistoryTail, OutboxRow, SessionRow, Store, TranscriptRow,
};
use common::postgres_url;
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
    let mut tail = store.history_tail(&"alice".into()).await.unwrap();
    assert_eq!(tail, HistoryTail::after(0));
    tail.extend(changes[..1].to_vec());
    store.save_agent(&agent, &tail, 10).await.unwrap();
    tail.saved();
    assert_eq!(
        store
            .history_tail(&"alice".into())
            .await
            .unwrap()
            .last_seq(),
        1
    );
    tail.extend(changes[1..].to_vec());
    store.save_agent(&agent, &tail, 20).await.unwrap();
    tail.saved();
    assert_eq!(store.history_tail(&"alice".into()).await.unwrap(), tail);
    assert_eq!(tail.last_seq(), 2);
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
        .save_call_with_outbox(&call, 0, 9_000, std::slice::from_ref(&row))
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

/// The outbox is read a page at a time: the worker takes the head of each line (a call and a
/// connector) soonest due first, the API a page of the newest rows with the total, metrics
/// the counts per state; and rows done with longer ago than the retention are pruned (a
/// later version's predecessor deleted, a line's last row emptied but kept for numbering),
/// pending and dead rows never.
async fn outbox_reads_pages_and_prunes(store: &Store) {
    let row = |call: &str, v: i64, connector: &str, state: &str, at: i64| OutboxRow {
        key: format!("{call}:v{v}:{connector}"),
        call_id: call.into(),
        version: v,
        connector: connector.into(),
        payload: format!("{{\"v\":{v}}}"),
        state: state.into(),
        attempts: 0,
        next_at: at,
        last_error: None,
        created_at: at,
        updated_at: at,
    };
    let rows = [
        row("o1", 1, "crm", "delivered", 10),
        row("o1", 2, "crm", "pending", 200),
        row("o2", 1, "crm", "pending", 100),
        row("o2", 2, "crm", "pending", 50), // waits behind v1, though due sooner
        row("o3", 1, "crm", "dead", 30),
        row("o4", 1, "crm", "delivered", 20),
        row("o5", 1, "crm", "delivered", 500),
        row("agent:alice", 7, "hook:slack", "delivered", 40),
        row("agent:alice", 9, "hook:slack", "pending", 300),
    ];
    for r in &rows {
        store.outbox_put(r).await.unwrap();
    }
    let keys = |rows: Vec<OutboxRow>| rows.into_iter().map(|r| r.key).collect::<Vec<_>>();
    assert_eq!(
        keys(store.outbox_heads(10).await.unwrap()),
        ["o2:v1:crm", "o1:v2:crm", "agent:alice:v9:hook:slack"]
    );
    assert_eq!(keys(store.outbox_heads(1).await.unwrap()), ["o2:v1:crm"]);
    let (page, total) = store.outbox_page(None, 2).await.unwrap();
    assert_eq!(
        (keys(page), total),
        (
            vec![
                "o5:v1:crm".to_owned(),
                "agent:alice:v9:hook:slack".to_owned()
            ],
            9
        )
    );
    assert_eq!(store.outbox_page(Some("pending"), 1).await.unwrap().1, 4);
    let counts = store.outbox_counts().await.unwrap();
    assert_eq!(
        (counts["pending"], counts["delivered"], counts["dead"]),
        (4, 4, 1)
    );
    assert_eq!(store.outbox_latest("hook:").await.unwrap()["hook:slack"], 9);
    assert_eq!(
        keys(store.outbox_of_call("o1").await.unwrap()),
        ["o1:v1:crm", "o1:v2:crm"]
    );

    for _ in 0..2 {
        // Twice: pruning is idempotent (the writer may replay it).
        store.outbox_prune(150).await.unwrap();
        assert_eq!(
            store.outbox_row("o1:v1:crm").await.unwrap(),
            None,
            "a later version follows"
        );
        let last = store.outbox_row("o4:v1:crm").await.unwrap().unwrap();
        assert_eq!((last.state.as_str(), last.payload.as_str()), ("pruned", ""));
        assert_eq!(
            store.outbox_row("o5:v1:crm").await.unwrap().as_ref(),
            Some(&rows[6]),
            "recent"
        );
        assert_eq!(
            store.outbox_row("o3:v1:crm").await.unwrap().as_ref(),
            Some(&rows[4]),
            "dead"
        );
        assert_eq!(
            store.outbox_row("o2:v2:crm").await.unwrap().as_ref(),
            Some(&rows[3])
        );
        assert_eq!(
            store.outbox_row("agent:alice:v7:hook:slack").await.unwrap(),
            None
        );
    }
    assert_eq!(store.outbox_latest("hook:").await.unwrap()["hook:slack"], 9);
}

/// A memory store, a SQLite file in `dir`, and a PostgreSQL database when there is one.
async fn every_store(dir: &tempfile::TempDir) -> Vec<Store> {
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    let mut stores = vec![Store::memory(), Store::connect(&url).await.unwrap()];
    if let Some(url) = postgres_url() {
        stores.push(Store::connect(&url).await.unwrap());
    }
    stores
}

#[tokio::test]
async fn the_outbox_reads_pages_and_prunes_on_every_store() {
    let dir = tempfile::tempdir().unwrap();
    for store in every_store(&dir).await {
        outbox_reads_pages_and_prunes(&store).await;
    }
}

async fn event_log_trims_through_a_number(store: &Store) {
    let row = |seq: i64| EventRow {
        seq,
        at: seq * 10,
        agents: vec!["alice".into()],
        body: format!("{{\"seq\":{seq}}}"),
    };
    let seqs = |rows: Vec<EventRow>| rows.iter().map(|e| e.seq).collect::<Vec<_>>();
    store
        .append_events((1..=10).map(row).collect(), Some(100), None)
        .await
        .unwrap();
    store
        .append_events((11..=15).map(row).collect(), None, Some(12))
        .await
        .unwrap();
    let state = store.event_seq_state().await.unwrap();
    let expected = EventSeqState {
        last: 15,
        reserved: 100,
        trimmed: 12,
    };
    assert_eq!(state, expected);
    let left = store.events_between(0, 100, 50).await.unwrap();
    assert_eq!(seqs(left), vec![13, 14, 15]);
    // The mark never moves down, and nothing above it goes.
    store.append_events(vec![], None, Some(3)).await.unwrap();
    assert_eq!(store.event_seq_state().await.unwrap(), expected);
    let left = store.events_between(0, 100, 50).await.unwrap();
    assert_eq!(seqs(left), vec![13, 14, 15]);
}

#[tokio::test]
async fn the_event_log_trims_through_a_number_on_every_store() {
    let dir = tempfile::tempdir().unwrap();
    for store in every_store(&dir).await {
        event_log_trims_through_a_number(&store).await;
    }
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

/// A store on a new SQLite file `name` in `dir`, and the file's path.
async fn sqlite_file(dir: &tempfile::TempDir, name: &str) -> (Store, std::path::PathBuf) {
    let db = dir.path().join(name);
    let url = format!("sqlite://{}?mode=rwc", db.display());
    (Store::connect(&url).await.unwrap(), db)
}

/// Saves `count` new calls (`c-00000`, …) at `step`, from as many writers at once (group
/// commits of hundreds).
async fn save_calls(store: &Store, count: usize, step: i64) {
    let saved = futures::future::join_all((0..count).map(|i| {
        let call = Call::new(
            format!("c-{i:05}").into(),
            Timestamp::from_millis(1_000),
            format!("+1555{i:07}"),
            "support".into(),
            0,
            Skills::new(),
        );
        async move { store.save_call(&call, step).await }
    }))
    .await;
    assert!(saved.iter().all(Result::is_ok));
}

#[tokio::test]
async fn a_sqlite_files_log_is_copied_back_and_kept_in_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let (store, db) = sqlite_file(&dir, "w.db").await;
    // Each call saved a few times: ~43 MiB of log were nothing copied back, more than the
    // bound below.
    for step in 0..4 {
        save_calls(&store, 12_000, step).await;
    }
    let size = |suffix: &str| {
        std::fs::metadata(format!("{}{suffix}", db.display())).map_or(0, |m| m.len())
    };
    // Checkpoints (the writer's; SQLite's own at 32 MiB as a backstop) let the log start over
    // long before it reaches the 64 MiB it would be cut back to (`LOG_LIMIT_BYTES`).
    let log = size("-wal");
    assert!(log <= 36 << 20, "the log grew to {log} bytes");
    // What was copied back is in the database file itself, not only in the log.
    let file = size("");
    assert!(file >= 4 << 20, "the database file holds {file} bytes");
    assert_eq!(store.list_calls(None, 5).await.unwrap().len(), 5);
}

#[tokio::test]
async fn a_sqlite_files_log_is_copied_back_long_before_sqlites_own_bound() {
    let dir = tempfile::tempdir().unwrap();
    let (store, db) = sqlite_file(&dir, "c.db").await;
    let size = || std::fs::metadata(&db).map_or(0, |m| m.len());
    let empty = size();
    // 1,500 new calls, each its row and its journey entries: 3,000 statements or more, MiBs
    // of log, far below the 32 MiB at which SQLite would copy it back of its own accord.
    save_calls(&store, 1_500, 0).await;
    // The writer copies the log back once 2,000 statements have committed and no write waits,
    // after it has answered the writes (a SQLite group commit holds up to 2,048 of them, so the
    // last of those calls can be answered just before): waited for, at most 10 s. Then the
    // file itself holds those calls (it stays as created while they are only in the log).
    let faults = store.faults().expect("a SQL store");
    let checkpointed = faults
        .checkpoints_reach(1, std::time::Duration::from_secs(10))
        .await;
    let file = size();
    assert!(
        file >= empty + (512 << 10),
        "the database file holds {file} bytes ({empty} empty; the writer checkpointed: \
         {checkpointed})"
    );
}

#[tokio::test]
async fn memory_store_has_the_same_contract() {
    let store = Store::memory();
    exercise(&store).await;
}

#[tokio::test]
async fn postgres_runs_the_same_code() {
    let Some(url) = postgres_url() else { return };
    let store = Store::connect(&url).await.unwrap();
    exercise(&store).await;
}

#[tokio::test]
async fn health_reports_what_a_commit_survives_and_a_store_that_is_gone() {
    use actors::store::Durability;
    let dir = tempfile::tempdir().unwrap();
    let url = |name: &str| format!("sqlite://{}?mode=rwc", dir.path().join(name).display());
    let durable = Store::connect(&url("full.db")).await.unwrap();
    let health = durable.health().await;
    assert!(health.ok, "{health:?}");
    assert_eq!(
        (health.backend, health.durability),
        ("sqlite", Some(Durability::PowerLoss))
    );
    let cheaper = Store::connect_with(&url("normal.db"), Durability::ProcessCrash)
        .await
        .unwrap();
    assert_eq!(
        cheaper.health().await.durability,
        Some(Durability::ProcessCrash)
    );
    assert_eq!(
        Store::memory().health().await.durability,
        Some(Durability::None)
    );

    // Gone: every write fails with an error (no panic, no hang), and health says so.
    durable.close().await;
    let health = durable.health().await;
    assert!(!health.ok && health.durability.is_none(), "{health:?}");
    assert!(health.error.unwrap().starts_with("database:"));
    assert!(durable.save_config("x", 1).await.is_err());

    if let Some(url) = postgres_url() {
        let pg = Store::connect(&url).await.unwrap();
        let health = pg.health().await;
        assert_eq!(
            (health.backend, health.ok),
            ("postgres", true),
            "{health:?}"
        );
        assert_eq!(
            health.durability,
            Some(Durability::PowerLoss),
            "synchronous_commit on"
        );
    }
}

/// One write of every kind that adds rows (the kinds a replay could store twice), each
/// submitted at once so that the writer groups them; every one must be acknowledged.
async fn write_one_of_each(store: &Store, n: usize) {
    let t = Timestamp::from_millis;
    let mut agent = Agent::new(format!("agent-{n}").into(), t(0));
    agent
        .set_status(t(10), Some(Status::Ready), None, &[])
        .unwrap();
    let mut tail = HistoryTail::after(0);
    tail.extend(std::iter::from_fn(|| agent.poll_change()));
    let call = format!("call-{n}");
    let transcript = TranscriptRow {
        call_id: call.clone(),
        leg: "customer".into(),
        agent: None,
        start_ms: 0,
        end_ms: 900,
        text: "I was charged twice".into(),
        at: 1_000,
        spoken_at: 1_000,
    };
    let alert = AlertRow {
        call_id: call.clone(),
        queue: "support".into(),
        leg: "customer".into(),
        agent: None,
        phrase: "charged twice".into(),
        severity: "warning".into(),
        text: Some("I was charged twice".into()),
        start_ms: 0,
        end_ms: 900,
        spoken_at: 1_000,
        at: 1_000,
    };
    let session = SessionRow {
        token: format!("hash-{n}"),
        username: "alice".into(),
        created_at: 1,
        last_seen_at: 1,
    };
    let txn = actors::store::Txn {
        id: format!("txn-{n}"),
        kind: "chat".into(),
        customer: format!("+1555000{n:04}"),
        created_at: 1,
        status: "waiting".into(),
        subject: None,
        created_by: None,
    };
    let (a, b, c, d, e) = tokio::join!(
        store.save_agent(&agent, &tail, 10),
        store.save_transcript(&transcript),
        store.save_alert(&alert),
        store.create_session(&session),
        store.save_txn(&txn),
    );
    for outcome in [a, b, c, d, e] {
        outcome.expect("acknowledged");
    }
}

/// What a replay must leave: every row once.
async fn each_stored_once(store: &Store, n: usize) {
    let agent = format!("agent-{n}");
    let history = store.status_history(&agent.into(), 10).await.unwrap();
    assert_eq!(history.len(), 1, "history of agent-{n}");
    let call = format!("call-{n}");
    assert_eq!(store.transcript(&call).await.unwrap().len(), 1, "{call}");
    assert_eq!(store.alerts(&call).await.unwrap().len(), 1, "{call}");
    assert!(store
        .find_session(&format!("hash-{n}"))
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        store
            .txns_of(&format!("+1555000{n:04}"))
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Faults at the store boundary: a batch that fails halfway (rolled back) and a commit whose
/// outcome is lost (stored, but the writer is told it failed) are both replayed write by
/// write, and every write is stored exactly once and acknowledged; a database that is down
/// fails each write with an error (nothing acknowledged) and works again once it is back.
async fn faults_change_nothing(store: &Store) {
    let faults = store.faults().expect("a SQL store");
    for (n, inject) in [(1, "fail_before_commit"), (2, "lose_commit_outcome")] {
        let before = faults.transactions();
        match inject {
            "fail_before_commit" => faults.fail_before_commit(1),
            _ => faults.lose_commit_outcome(1),
        }
        write_one_of_each(store, n).await;
        let attempted = faults.transactions() - before;
        assert!(
            attempted >= 2,
            "{inject}: the failed batch was replayed ({attempted})"
        );
        each_stored_once(store, n).await;
        // Replayed once more by hand (as a writer that retried a lost outcome again would):
        // still once.
        write_one_of_each(store, n).await;
        each_stored_once(store, n).await;
    }

    faults.set_down(true);
    let e = store.save_config("while down", 5).await.unwrap_err();
    assert!(e.to_string().contains("injected fault"), "{e}");
    assert!(!store.health().await.ok);
    faults.set_down(false);
    assert!(store.health().await.ok);
    write_one_of_each(store, 3).await;
    each_stored_once(store, 3).await;
    assert_eq!(
        store.load_config().await.unwrap(),
        None,
        "the write refused while down"
    );

    // The writer task itself fails (a bug): the write it held fails, the task is restarted,
    // and the next write goes through.
    faults.panic_next();
    let e = store
        .save_config("lost with the task", 6)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("writer task stopped"), "{e}");
    store.save_config("after", 7).await.unwrap();
    assert_eq!(store.load_config().await.unwrap().as_deref(), Some("after"));
    assert!(store.health().await.ok);
}

#[tokio::test]
async fn sqlite_replays_store_each_write_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("faults.db").display()
    );
    faults_change_nothing(&Store::connect(&url).await.unwrap()).await;
}

#[tokio::test]
async fn postgres_replays_store_each_write_once() {
    let Some(url) = postgres_url() else { return };
    faults_change_nothing(&Store::connect(&url).await.unwrap()).await;
}
