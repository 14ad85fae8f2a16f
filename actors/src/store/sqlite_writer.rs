//! The writer of a SQLite file: a thread of its own owning one connection (rusqlite, on the
//! same libsqlite3 that sqlx links), applying the same plan as the sqlx writer
//! ([`super::plan`]).
//!
//! Why not sqlx here: sqlx runs every SQLite statement on a worker thread of its own and
//! hands each one over and back through channels, so a transaction of a few hundred
//! statements paid a few hundred thread hand-offs (~80 µs a write in the routing benchmark,
//! the writer being the one thing every call step waits for). Here the statements of a
//! group commit run back to back on the thread that owns the connection, prepared once and
//! cached; the only hand-offs left are one per write to the thread and one back.
//!
//! Readers stay on sqlx's pool (WAL mode: they run beside the writer). The thread is
//! supervised like the async writer: a panic fails the writes of the batch it held, and a
//! new thread (with a new connection) takes the same queue.

use super::health::Durability;
use super::plan::{plan, Arg};
use super::writer::{
    injected_text, Commit, Faults, Job, Write, FAILED_BEFORE_COMMIT, OUTCOME_LOST,
};
use rusqlite::{Connection, TransactionBehavior};
use sqlx::AnyPool;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::{mpsc, Mutex};

/// Runs the writer thread, restarting it if it panics, until every store handle is gone.
pub(super) async fn supervised(
    path: PathBuf,
    durability: Durability,
    pool: AnyPool,
    faults: Arc<Faults>,
    rx: mpsc::Receiver<Job>,
) {
    let rx = Arc::new(Mutex::new(rx));
    loop {
        let (path, pool, faults, rx) = (path.clone(), pool.clone(), faults.clone(), rx.clone());
        let (ended, panicked) = tokio::sync::oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || {
                let run = || run(&path, durability, &pool, &faults, &rx);
                let _ = ended.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)));
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "the store's SQLite writer thread cannot start");
            return;
        }
        match panicked.await {
            Ok(Err(_)) => tracing::error!("the store's SQLite writer thread panicked: restarted"),
            // Every store handle is gone: nothing more to write.
            Ok(Ok(())) | Err(_) => return,
        }
    }
}

fn run(
    path: &std::path::Path,
    durability: Durability,
    pool: &AnyPool,
    faults: &Faults,
    rx: &Mutex<mpsc::Receiver<Job>>,
) {
    let mut rx = rx.blocking_lock();
    let mut conn: Option<Connection> = None;
    let mut batch: Vec<Job> = Vec::with_capacity(SQLITE_MAX_BATCH);
    // Statements committed since the log was last copied back.
    let mut since_checkpoint = 0;
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < SQLITE_MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut apply = |writes: &[&Write]| {
            if pool.is_closed() {
                // `Store::close`: nothing more is written, and the file is let go.
                conn = None;
                return Err("the store is closed".to_owned());
            }
            faults.before_transaction()?;
            let c = match &mut conn {
                Some(c) => c,
                None => conn.insert(open(path, durability).map_err(|e| e.to_string())?),
            };
            let outcome = transaction(c, writes, faults);
            if outcome.is_err() {
                // Whatever broke, the next transaction starts on a fresh connection.
                conn = None;
            }
            outcome
        };
        let writes: Vec<&Write> = batch.iter().flat_map(|(w, _)| w.parts()).collect();
        if let Ok(statements) = apply(&writes) {
            for (_, done) in batch.drain(..) {
                let _ = done.send(Ok(()));
            }
            since_checkpoint += statements;
        } else {
            // One by one, so that one bad write fails alone (every write is idempotent).
            for (w, done) in batch.drain(..) {
                let outcome = apply(&w.parts());
                since_checkpoint += outcome.as_ref().map_or(0, |n| *n);
                let _ = done.send(outcome.map(|_| ()));
            }
        }
        // Once the writes are answered: only those that come meanwhile wait for it. While
        // more writes wait already, not until `BUSY_CHECKPOINT_STATEMENTS`.
        let due = since_checkpoint >= CHECKPOINT_STATEMENTS
            && (rx.is_empty() || since_checkpoint >= BUSY_CHECKPOINT_STATEMENTS);
        if due {
            since_checkpoint = 0;
            if let Some(c) = &conn {
                match c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    Ok(()) => faults.checkpointed(),
                    Err(e) => tracing::warn!(error = %e, "the SQLite log could not be copied back"),
                }
            }
        }
    }
}

/// How many writes one SQLite transaction may carry (the PostgreSQL writer's bound,
/// [`super::writer::MAX_BATCH`], was not measured against it). In the routing benchmark's
/// SQLite rounds the writer is the bottleneck and its group commits were all full at 512 writes
/// (~950 statements, ~17 ms each); much of a commit is per page (the log's frames, each
/// rewritten hot page once per commit, the sync), so larger commits share it among more writes.
/// Three runs each in turn on a machine where 512 routed 4,155-5,125 calls/s: 4,914-5,898 with
/// 2,048 (CPU a call 207-261 against 235-277 µs), p99 at 2,000 calls/s within the same spread
/// (14-32 ms against 19-32 ms); 8,192 was no faster (5,265-5,325 against 5,440-5,542 in two
/// pairs).
pub(super) const SQLITE_MAX_BATCH: usize = 2_048;

/// The statements committed between two checkpoints, which the writer runs itself once it has
/// answered the writes of the transaction that reached the count and no write waits (else at
/// `BUSY_CHECKPOINT_STATEMENTS`).
///
/// Each checkpoint stalls the writer: it copies every page written since (a page written many
/// times, an agent's or an index's, once) and syncs the file, the sync being most of it (1.6 ms
/// at the median, 7 ms at worst, against 0.17 ms for the log's own sync at each commit, traced
/// at 4,096 pages). SQLite's own checkpoint (`wal_autocheckpoint`) runs inside the commit that
/// fills the log, so every write of that group commit waited for it as well; this one runs
/// after they are answered, and only the writes that come meanwhile wait. In the routing
/// benchmark at 2,000 calls/s, SQLite `FULL`, six runs each in turn: p99 2.8-3.7 ms with
/// 2,000 statements against 4.2-10.2 ms with SQLite's checkpoint every 2,048 pages, at
/// 11,200-13,500 routed/s against 12,400-13,700 (some 5 % less at the median); three runs of
/// 1,000 statements, p99 2.5-2.8 ms but 10 % less routed; of 4,000, p99 6.0-8.2 ms. (Counted
/// in pages, SQLite's way: 4,096 pages stalled 5 ms every ~0.12 s, 16,384 9-15 ms every
/// ~0.5 s.) A checkpoint on a thread beside the writer was measured too and not kept: the log
/// starts over only once wholly copied, which under steady writes the writer alone achieves,
/// and the other thread's syncs slowed the writer's.
const CHECKPOINT_STATEMENTS: usize = 2_000;

/// The statements committed between two checkpoints while writes keep waiting: a checkpoint
/// then would stall them all, and the pages written again by the next commits (the agents', the
/// indexes' last pages) would be copied again by the next one. With group commits of up to
/// `SQLITE_MAX_BATCH` writes (~2,400 statements in the routing rounds), `CHECKPOINT_STATEMENTS`
/// alone ran a checkpoint after nearly every commit. In the routing benchmark on SQLite
/// `FULL`, three runs each in turn on a machine where the writer was not the bottleneck: the
/// checkpoints' time per process halved (1.05-1.09 s against 1.89-2.15 s of a writer busy
/// ~23 s), routed calls/s and the p99 at 2,000 calls/s within the same spread (13,141-15,039
/// against 12,186-13,170; 3.55-4.36 ms against 3.55-4.56 ms). Checkpointing every 8,000 or
/// 16,000 statements whether or not writes waited put the p99 at 11.5-22.8 ms. 16,000
/// statements are some 5,700 pages of log at the ~850 pages a commit of ~2,370 statements wrote
/// in those rounds, below SQLite's own bound (`CHECKPOINT_PAGES`).
const BUSY_CHECKPOINT_STATEMENTS: usize = 16_000;

/// SQLite's own checkpoint, in pages (4 KiB each), kept as a bound should the writer's not
/// copy the log back (a reader holding an old snapshot keeps a checkpoint from finishing):
/// four times the 2,048 pages at which it ran before the writer's own.
const CHECKPOINT_PAGES: i64 = 8_192;

/// What the log file is cut back to when it starts over: above the size the writer's own
/// checkpoints let it reach, so that in steady work it is never cut back, and each start
/// over writes the log again in place (only a log a long-held reader made grow past it is
/// cut back).
///
/// At 8 MiB, below the 27-33 MiB the log reached between two checkpoints at 2,000 calls/s,
/// each start over cut the file back and the next ~20 MiB of log were appended to a file
/// growing again: each commit's sync then also wrote the file system's record of the blocks
/// given to the file (`journal_size_limit` is applied at the first commit after a start
/// over). In the routing benchmark on SQLite `FULL`, three processes each in turn on one
/// binary: at 2,000 calls/s the writer's transactions took 0.36-0.56 ms at the median against
/// 0.87-1.01 ms, the enqueue-to-offer p50 0.85-1.36 ms against 2.07-2.47 ms and the p99
/// 6.9-14.2 ms against 27.5-33.4 ms; transactions over 3 ms 3-25 against 34-90.
const LOG_LIMIT_BYTES: i64 = 64 << 20;

fn open(path: &std::path::Path, durability: Durability) -> rusqlite::Result<Connection> {
    let c = Connection::open(path)?;
    // A larger page cache than SQLite's 2 MB default: the calls, agents and events being
    // written stay in it instead of being read back from the file at each upsert. Not larger
    // than 16 MB: a commit's end drops the cached pages past the file's size, which can walk
    // the cache's whole hash table, as large as the cache (profiled in `pcache1TruncateUnsafe`
    // under `pager_end_transaction`: 2.7 % of the process's time at 64 MB, 1.1 % at 16 MB, no more
    // reads from the file; six runs each of the routing benchmark on SQLite in turn: medians
    // 8,220 against 7,830 routed/s, 182 against 191 µs of CPU a call, p99 at 2,000 calls/s
    // 4.95 against 5.33 ms, the ranges overlapping). The log is copied back into the file
    // (checkpointed) by the writer (`CHECKPOINT_STATEMENTS`).
    c.execute_batch(&format!(
        "PRAGMA journal_mode=WAL; {}; PRAGMA busy_timeout=10000; PRAGMA cache_size=-16384;
         PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}; PRAGMA journal_size_limit={};",
        durability.sqlite_pragma(),
        LOG_LIMIT_BYTES
    ))?;
    // Every statement of the plan stays prepared.
    c.set_prepared_statement_cache_capacity(64);
    Ok(c)
}

/// One transaction: the statements, then the commit (or what the injected faults say); how
/// many statements it ran.
fn transaction(c: &mut Connection, writes: &[&Write], faults: &Faults) -> Result<usize, String> {
    let stmts = plan(writes);
    let err = |e: rusqlite::Error| e.to_string();
    // Immediate: the write lock is taken at the start, not upgraded halfway through.
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    for s in &stmts {
        let mut st = tx.prepare_cached(s.sql).map_err(err)?;
        for i in 1..=st.parameter_count() {
            // `$n` is `args[n - 1]`, wherever and however often it appears.
            let arg = st
                .parameter_name(i)
                .and_then(|name| name.strip_prefix('$'))
                .and_then(|n| n.parse::<usize>().ok())
                .and_then(|n| s.args.get(n.checked_sub(1)?))
                .ok_or_else(|| format!("statement parameter {i} has no value: {}", s.sql))?;
            match arg {
                Arg::Int(v) => st.raw_bind_parameter(i, v),
                Arg::Text(t) => st.raw_bind_parameter(i, t.as_ref()),
                Arg::NullText | Arg::NullInt => st.raw_bind_parameter(i, rusqlite::types::Null),
            }
            .map_err(err)?;
        }
        st.raw_execute().map_err(err)?;
    }
    futures::executor::block_on(faults.commit_released(writes));
    match faults.at_commit(writes) {
        Commit::Fail => {
            tx.rollback().map_err(err)?;
            Err(injected_text(FAILED_BEFORE_COMMIT))
        }
        Commit::Lose => {
            tx.commit().map_err(err)?;
            Err(injected_text(OUTCOME_LOST))
        }
        Commit::Go => tx.commit().map_err(err).map(|()| stmts.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log that grew past 8 MiB keeps its size when it starts over after a checkpoint:
    /// the next commits overwrite it in place instead of growing the file again.
    #[test]
    fn the_log_keeps_the_size_it_grew_to_when_it_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.db");
        let c = open(&path, Durability::PowerLoss).unwrap();
        c.execute_batch("CREATE TABLE t (v BLOB)").unwrap();
        let wal = || {
            std::fs::metadata(dir.path().join("log.db-wal"))
                .unwrap()
                .len()
        };
        // ~12 MiB of rows in one transaction: ~3,000 pages of log.
        let tx = c.unchecked_transaction().unwrap();
        for _ in 0..3_000 {
            tx.execute("INSERT INTO t VALUES (zeroblob(4000))", [])
                .unwrap();
        }
        tx.commit().unwrap();
        let grown = wal();
        assert!(grown > 10 << 20, "the log grew to {grown} bytes only");
        // Copied back whole (no reader holds it), so the next commit starts the log over.
        let (busy, log, copied): (i64, i64, i64) = c
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!((busy, log), (0, copied));
        c.execute("INSERT INTO t VALUES (1)", []).unwrap();
        assert_eq!(
            wal(),
            grown,
            "the log file was cut back when it started over"
        );
        assert_eq!(
            c.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))
                .unwrap(),
            3_001
        );
    }
}
