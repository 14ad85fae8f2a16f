//! An agent's status history on every store: changes saved one or several at a time come back
//! in order, whole or the last few, across a reopened file and what the formats before the log
//! hold (rows, then blocks and the agent's row's list).

mod common;

use actors::store::{HistoryTail, Store, HISTORY_BLOCK};
use common::postgres_url;
use engine::agent::ChangeReason as Reason;
use engine::agent::{Agent, ChangeReason, Status, StatusChange};
use engine::Timestamp;

/// Changes of one agent as its actor makes them: Ready, Busy and a status of the
/// configuration's in turn, a second apart.
fn changes(agent: &str, from_seq: i64, n: usize) -> Vec<StatusChange> {
    (0..n as i64)
        .map(|k| {
            let seq = from_seq + k;
            let lunch = Status::Custom("Lunch".into());
            let (from, to) = match seq % 3 {
                1 => (lunch, Status::Ready),
                2 => (Status::Ready, Status::Busy),
                _ => (Status::Busy, lunch),
            };
            StatusChange {
                agent: agent.into(),
                from,
                to,
                at: Timestamp::from_millis(seq * 1_000),
                reason: ChangeReason::Agent,
            }
        })
        .collect()
}

/// Saves `batches` (numbers of changes saved together) as the agent's actor does, checking
/// after each save what a reader and a restarted actor see. Returns every change saved.
async fn save_in_turn(
    store: &Store,
    agent: &str,
    batches: &[usize],
    mut saved: Vec<StatusChange>,
) -> Vec<StatusChange> {
    let snapshot = Agent::new(agent.into(), Timestamp::from_millis(0));
    let mut tail = store.history_tail(&agent.into()).await.unwrap();
    assert_eq!(tail.last_seq(), saved.len() as i64, "numbering goes on");
    for &n in batches {
        let new = changes(agent, tail.last_seq() + 1, n);
        tail.extend(new.clone());
        saved.extend(new);
        store.save_agent(&snapshot, &tail, 0).await.unwrap();
        tail.saved();
        assert!(tail.changes().is_empty());
        // A restarted actor goes on from the same tail.
        let reloaded = store.history_tail(&agent.into()).await.unwrap();
        assert_eq!(
            reloaded, tail,
            "{agent}: the tail a restarted actor reloads"
        );
        let all = store.status_history(&agent.into(), 10_000).await.unwrap();
        assert_eq!(
            all,
            saved,
            "{agent}: the whole history after {} changes",
            saved.len()
        );
    }
    for limit in 1..=saved.len() + 1 {
        let last = store
            .status_history(&agent.into(), limit as i64)
            .await
            .unwrap();
        let from = saved.len().saturating_sub(limit);
        assert_eq!(last, saved[from..], "{agent}: the last {limit}");
    }
    saved
}

async fn history_saved_in_turn(store: &Store) {
    // One at a time; several at once.
    save_in_turn(store, "alice", &[1; 26], Vec::new()).await;
    let mixed = [3, 10, 1, 7, 2, 5];
    save_in_turn(store, "bob", &mixed, Vec::new()).await;
    assert!(store
        .status_history(&"nobody".into(), 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.history_tail(&"nobody".into()).await.unwrap(),
        HistoryTail::after(0)
    );
}

#[tokio::test]
async fn history_comes_back_whole_and_in_order_on_every_store() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("h.db").display());
    let mut stores = vec![Store::memory(), Store::connect(&url).await.unwrap()];
    if let Some(url) = postgres_url() {
        stores.push(Store::connect(&url).await.unwrap());
    }
    for store in &stores {
        history_saved_in_turn(store).await;
    }
    // A reopened file goes on where it was.
    drop(stores);
    let store = Store::connect(&url).await.unwrap();
    let before = store.status_history(&"alice".into(), 10_000).await.unwrap();
    assert_eq!(before.len(), 26);
    save_in_turn(&store, "alice", &[1; 4], before).await;
}

/// Writes an agent's first `n` changes in the formats from before the log: `rows` in
/// `agent_status_history` (before migration 12), then blocks of [`HISTORY_BLOCK`], then the
/// rest in her row's list (before migration 14; an empty list numbered after the blocks
/// when none is left).
async fn write_before_the_log(
    pool: &sqlx::AnyPool,
    agent: &str,
    rows: usize,
    n: usize,
) -> Vec<StatusChange> {
    let old = changes(agent, 1, n);
    let packed = |c: &[StatusChange]| {
        let list: Vec<_> = c
            .iter()
            .map(|c| (&c.from, &c.to, &c.reason, c.at.0))
            .collect();
        serde_json::to_string(&list).unwrap()
    };
    for (seq, c) in (1..).zip(&old[..rows]) {
        assert_eq!(c.reason, Reason::Agent);
        sqlx::query(
            "INSERT INTO agent_status_history (agent, seq, previous, status, reason, at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(agent.to_owned())
        .bind(seq)
        .bind(c.from.as_str().to_owned())
        .bind(c.to.as_str().to_owned())
        .bind("agent")
        .bind(c.at.0)
        .execute(pool)
        .await
        .unwrap();
    }
    let mut first = rows;
    while n - first >= HISTORY_BLOCK {
        let block = &old[first..first + HISTORY_BLOCK];
        sqlx::query(
            "INSERT INTO agent_status_blocks (agent, first_seq, last_seq, changes)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(agent.to_owned())
        .bind(first as i64 + 1)
        .bind((first + HISTORY_BLOCK) as i64)
        .bind(packed(block))
        .execute(pool)
        .await
        .unwrap();
        first += HISTORY_BLOCK;
    }
    let list = format!(
        r#"{{"first":{},"changes":{}}}"#,
        first + 1,
        packed(&old[first..])
    );
    insert_agent(pool, agent, if rows == n { String::new() } else { list }).await;
    old
}

async fn insert_agent(pool: &sqlx::AnyPool, agent: &str, recent: String) {
    let snapshot = Agent::new(agent.into(), Timestamp::from_millis(0));
    sqlx::query("INSERT INTO agents (id, snapshot, recent, updated_at) VALUES ($1, $2, $3, 0)")
        .bind(agent.to_owned())
        .bind(serde_json::to_string(&snapshot).unwrap())
        .bind(recent)
        .execute(pool)
        .await
        .unwrap();
}

/// A database from before migration 14, whose agents' histories end in each of the older
/// formats, and one agent's list this version cannot read. The migration moves the lists into
/// the log; the unreadable one is left as it was; each history is read whole, with the new
/// changes numbered after it.
async fn history_from_before_the_log_is_kept(url: &str) {
    drop(Store::connect(url).await.unwrap());
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    sqlx::raw_sql(
        "DROP TABLE agent_status_log; ALTER TABLE agents DROP COLUMN last_at;
         ALTER TABLE agents DROP COLUMN last_seq; DELETE FROM schema_version WHERE version = 14",
    )
    .execute(&pool)
    .await
    .unwrap();
    let mut olds = Vec::new();
    for (agent, rows, n) in [
        ("carol", 11, 30),
        ("dave", 0, 16),
        ("erin", 5, 5),
        ("fred", 0, 3),
    ] {
        olds.push((agent, write_before_the_log(&pool, agent, rows, n).await));
    }
    insert_agent(&pool, "gina", "not a list".into()).await;
    pool.close().await;
    let store = Store::connect(url).await.unwrap();
    for (agent, old) in olds {
        assert_eq!(
            store.status_history(&agent.into(), 100).await.unwrap(),
            old,
            "{agent}"
        );
        save_in_turn(&store, agent, &[1, 3, 1], old).await;
    }
    assert!(store
        .status_history(&"gina".into(), 10)
        .await
        .unwrap()
        .is_empty());
    drop(store);
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let kept: String = sqlx::query_scalar("SELECT recent FROM agents WHERE id = 'gina'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(kept, "not a list");
    let moved: String = sqlx::query_scalar("SELECT recent FROM agents WHERE id = 'fred'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(moved, "", "a list moved is not kept twice");
    pool.close().await;
}

#[tokio::test]
async fn history_from_before_the_log_is_moved_and_read_with_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
    history_from_before_the_log_is_kept(&url).await;
    if let Some(url) = postgres_url() {
        history_from_before_the_log_is_kept(&url).await;
    }
}
