//! An agent's status history on every store: changes saved one or several at a time come back
//! in order, whole or the last few, across blocks, a reopened file, and the rows written before
//! the history was kept in blocks.

mod common;

use actors::store::{HistoryTail, Store, HISTORY_BLOCK};
use common::postgres_url;
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
        assert!(tail.changes().len() < HISTORY_BLOCK);
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
    for limit in [
        1,
        3,
        HISTORY_BLOCK,
        HISTORY_BLOCK + 1,
        2 * HISTORY_BLOCK + 5,
    ] {
        let last = store
            .status_history(&agent.into(), limit as i64)
            .await
            .unwrap();
        let from = saved.len().saturating_sub(limit);
        assert_eq!(last, saved[from..], "{agent}: the last {limit}");
    }
    saved
}

async fn history_in_blocks(store: &Store) {
    // One at a time through three blocks; several at once across a block's end.
    let ones = vec![1; 3 * HISTORY_BLOCK + 2];
    save_in_turn(store, "alice", &ones, Vec::new()).await;
    let mixed = [3, HISTORY_BLOCK + 2, 1, HISTORY_BLOCK - 1, 2, 5];
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
        history_in_blocks(store).await;
    }
    // A reopened file goes on where it was, in the middle of a block.
    drop(stores);
    let store = Store::connect(&url).await.unwrap();
    let before = store.status_history(&"alice".into(), 10_000).await.unwrap();
    assert_eq!(before.len(), 3 * HISTORY_BLOCK + 2);
    save_in_turn(&store, "alice", &[1; HISTORY_BLOCK], before).await;
}

/// A database from before the blocks: rows in `agent_status_history`, agents' rows with no
/// list. Its history is read with the new changes, numbered after it.
async fn rows_from_before_blocks_are_kept(url: &str) {
    let store = Store::connect(url).await.unwrap();
    let snapshot = Agent::new("carol".into(), Timestamp::from_millis(0));
    store
        .save_agent(&snapshot, &HistoryTail::after(0), 0)
        .await
        .unwrap();
    drop(store);
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let old = changes("carol", 1, 11);
    for (seq, c) in (1..).zip(&old) {
        sqlx::query(
            "INSERT INTO agent_status_history (agent, seq, previous, status, reason, at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind("carol")
        .bind(seq)
        .bind(c.from.as_str().to_owned())
        .bind(c.to.as_str().to_owned())
        .bind("agent")
        .bind(c.at.0)
        .execute(&pool)
        .await
        .unwrap();
    }
    sqlx::query("UPDATE agents SET recent = '' WHERE id = 'carol'")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let store = Store::connect(url).await.unwrap();
    assert_eq!(
        store.status_history(&"carol".into(), 100).await.unwrap(),
        old
    );
    save_in_turn(&store, "carol", &[1; 2 * HISTORY_BLOCK + 3], old).await;
}

#[tokio::test]
async fn rows_from_before_blocks_are_read_with_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
    rows_from_before_blocks_are_kept(&url).await;
    if let Some(url) = postgres_url() {
        rows_from_before_blocks_are_kept(&url).await;
    }
}
