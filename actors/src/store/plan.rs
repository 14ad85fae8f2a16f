//! What each write does to the database, as statements: one plan, applied by either writer
//! (sqlx's for PostgreSQL, the SQLite thread's for a SQLite file), so both store the same rows.

use super::writer::Write;
use std::borrow::Cow;
use std::collections::HashSet;

/// One value bound to a statement.
#[derive(Debug, Hash)]
pub(super) enum Arg<'a> {
    Int(i64),
    Text(Cow<'a, str>),
    /// A text column left empty.
    NullText,
    /// An integer column left empty.
    NullInt,
}

use Arg::Int;

fn text(s: &str) -> Arg<'_> {
    Arg::Text(Cow::Borrowed(s))
}

fn opt(s: Option<&str>) -> Arg<'_> {
    s.map_or(Arg::NullText, text)
}

/// One statement: its SQL (parameters `$1`, `$2`… which PostgreSQL and SQLite both read) and
/// its values, `$n` being `args[n - 1]`.
#[derive(Debug)]
pub(super) struct Stmt<'a> {
    pub sql: &'static str,
    pub args: Vec<Arg<'a>>,
}

/// The statements that apply `writes`, in order, in one transaction. Per call and per agent
/// only the last snapshot is written (earlier ones would be overwritten in the same
/// transaction anyway); every history row is kept. Each statement has one fixed shape, so it
/// is prepared once per connection and reused.
pub(super) fn plan<'a>(writes: &[&'a Write]) -> Vec<Stmt<'a>> {
    let last = last_snapshots(writes);
    let mut out = Vec::with_capacity(writes.len());
    for (i, w) in writes.iter().enumerate() {
        match w {
            Write::Call {
                id,
                queue,
                state,
                result,
                agent,
                from,
                created_at,
                updated_at,
                snapshot,
                journey,
            } => {
                // Every write's entries, whichever snapshot is written.
                for (seq, entry) in journey {
                    out.push(Stmt {
                        sql: "INSERT INTO call_journey (call, seq, entry) VALUES ($1, $2, $3)
                         ON CONFLICT (call, seq) DO NOTHING",
                        args: vec![text(id.as_str()), Int(*seq), text(entry.as_str())],
                    });
                }
                if !last[i] {
                    continue;
                }
                out.push(Stmt { sql: "INSERT INTO calls (id, queue, state, result, agent, from_number, created_at, updated_at, snapshot)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                     ON CONFLICT (id) DO UPDATE SET queue = excluded.queue, state = excluded.state,
                       result = excluded.result, agent = excluded.agent, updated_at = excluded.updated_at,
                       snapshot = excluded.snapshot", args: vec![text(id.as_str()), text(queue.as_str()), text(state.as_str()), opt(result.as_deref()), opt(agent.as_deref()), text(from.as_str()), Int(*created_at), Int(*updated_at), text(snapshot.as_str())] });
            }
            Write::Agent {
                id,
                snapshot,
                changes,
                last: last_change,
                updated_at,
            } => {
                // Every write's changes, whichever snapshot is written.
                for (at, seq, prev_at, entry) in changes {
                    out.push(Stmt {
                        sql: "INSERT INTO agent_status_log (at, agent, seq, prev_at, entry)
                         VALUES ($1, $2, $3, $4, $5)
                         ON CONFLICT (at, agent, seq) DO NOTHING",
                        args: vec![
                            Int(*at),
                            text(id.as_str()),
                            Int(*seq),
                            prev_at.map_or(Arg::NullInt, Int),
                            text(entry.as_str()),
                        ],
                    });
                }
                if !last[i] {
                    continue;
                }
                let (at, seq) = match last_change {
                    Some((at, seq)) => (Int(*at), Int(*seq)),
                    None => (Arg::NullInt, Arg::NullInt),
                };
                out.push(Stmt { sql: "INSERT INTO agents (id, snapshot, last_at, last_seq, updated_at) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (id) DO UPDATE SET snapshot = excluded.snapshot,
                       last_at = COALESCE(excluded.last_at, agents.last_at),
                       last_seq = COALESCE(excluded.last_seq, agents.last_seq),
                       updated_at = excluded.updated_at", args: vec![text(id.as_str()), text(snapshot.as_str()), at, seq, Int(*updated_at)] });
            }
            Write::Txn {
                id,
                kind,
                customer,
                created_at,
                snapshot,
            } => {
                out.push(Stmt { sql: "INSERT INTO transactions (id, kind, customer, created_at, snapshot) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (id) DO NOTHING", args: vec![text(id.as_str()), text(kind.as_str()), text(customer.as_str()), Int(*created_at), text(snapshot.as_str())] });
            }
            Write::Link { a, b, at } => {
                for (x, y) in [(a, b), (b, a)] {
                    out.push(Stmt { sql: "INSERT INTO txn_links (a, b, created_at) VALUES ($1, $2, $3) ON CONFLICT (a, b) DO NOTHING", args: vec![text(x.as_str()), text(y.as_str()), Int(*at)] });
                }
            }
            Write::Schedule {
                id,
                at,
                pending,
                snapshot,
            } => {
                out.push(Stmt {
                    sql: "INSERT INTO schedules (id, at, pending, snapshot) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (id) DO UPDATE SET at = excluded.at, pending = excluded.pending,
                       snapshot = excluded.snapshot",
                    args: vec![
                        text(id.as_str()),
                        Int(*at),
                        Int(i64::from(*pending)),
                        text(snapshot.as_str()),
                    ],
                });
            }
            Write::ComplianceAdd {
                list,
                owner,
                value,
                at,
            } => {
                out.push(Stmt { sql: "INSERT INTO compliance (list, owner, value, created_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (list, owner, value) DO NOTHING", args: vec![text(list.as_str()), text(owner.as_str()), text(value.as_str()), Int(*at)] });
            }
            Write::ComplianceRemove { list, owner, value } => {
                out.push(Stmt {
                    sql: "DELETE FROM compliance WHERE list = $1 AND owner = $2 AND value = $3",
                    args: vec![
                        text(list.as_str()),
                        text(owner.as_str()),
                        text(value.as_str()),
                    ],
                });
            }
            Write::Session(s) => {
                out.push(Stmt {
                    sql: "INSERT INTO sessions (token, username, created_at, last_seen_at)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (token) DO NOTHING",
                    args: vec![
                        text(s.token.as_str()),
                        text(s.username.as_str()),
                        Int(s.created_at),
                        Int(s.last_seen_at),
                    ],
                });
            }
            Write::SessionSeen { token, at } => {
                out.push(Stmt { sql: "UPDATE sessions SET last_seen_at = $2 WHERE token = $1 AND last_seen_at < $2", args: vec![text(token.as_str()), Int(*at)] });
            }
            Write::SessionEnd { token, username } => {
                out.push(Stmt {
                    sql: "DELETE FROM sessions WHERE token = $1 OR username = $2",
                    args: vec![opt(token.as_deref()), opt(username.as_deref())],
                });
            }
            Write::SessionPurge {
                created_before,
                seen_before,
            } => {
                out.push(Stmt {
                    sql: "DELETE FROM sessions WHERE created_at < $1 OR last_seen_at < $2",
                    args: vec![Int(*created_before), Int(*seen_before)],
                });
            }
            Write::Outbox(r) => {
                out.push(Stmt {
                    sql: "INSERT INTO crm_outbox (key, call_id, version, connector, payload, state,
                        attempts, next_at, last_error, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                     ON CONFLICT (key) DO UPDATE SET payload = excluded.payload,
                        state = excluded.state,
                        attempts = excluded.attempts, next_at = excluded.next_at,
                        last_error = excluded.last_error, updated_at = excluded.updated_at",
                    args: vec![
                        text(r.key.as_str()),
                        text(r.call_id.as_str()),
                        Int(r.version),
                        text(r.connector.as_str()),
                        text(r.payload.as_str()),
                        text(r.state.as_str()),
                        Int(r.attempts),
                        Int(r.next_at),
                        opt(r.last_error.as_deref()),
                        Int(r.created_at),
                        Int(r.updated_at),
                    ],
                });
            }
            // The writer applies a batch's parts in its place.
            Write::Batch(_) | Write::Ping => {}
            Write::OutboxPrune { before } => {
                out.push(Stmt {
                    sql: "DELETE FROM crm_outbox WHERE state IN ('delivered', 'superseded')
                        AND updated_at < $1 AND EXISTS (SELECT 1 FROM crm_outbox n
                            WHERE n.call_id = crm_outbox.call_id
                            AND n.connector = crm_outbox.connector
                            AND n.version > crm_outbox.version)",
                    args: vec![Int(*before)],
                });
                out.push(Stmt {
                    sql: "UPDATE crm_outbox SET state = 'pruned', payload = ''
                     WHERE state IN ('delivered', 'superseded') AND updated_at < $1",
                    args: vec![Int(*before)],
                });
            }
            Write::Transcript(r) => {
                out.push(Stmt { sql: "INSERT INTO transcripts (call_id, leg, agent, start_ms, end_ms, text, at, spoken_at,
                        row_key)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                     ON CONFLICT (row_key) DO NOTHING", args: vec![text(r.call_id.as_str()), text(r.leg.as_str()), opt(r.agent.as_deref()), Int(r.start_ms), Int(r.end_ms), text(r.text.as_str()), Int(r.at), Int(r.spoken_at), Arg::Text(Cow::Owned(format!(
                    "{}|{}|{}|{}|{}|{}",
                    r.call_id,
                    r.leg,
                    r.agent.as_deref().unwrap_or(""),
                    r.start_ms,
                    r.end_ms,
                    r.at
                )))] });
            }
            Write::Alert(r) => {
                out.push(Stmt { sql: "INSERT INTO transcript_alerts (call_id, queue, leg, agent, phrase, severity,
                        text, start_ms, end_ms, spoken_at, at, row_key)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                     ON CONFLICT (row_key) DO NOTHING", args: vec![text(r.call_id.as_str()), text(r.queue.as_str()), text(r.leg.as_str()), opt(r.agent.as_deref()), text(r.phrase.as_str()), text(r.severity.as_str()), opt(r.text.as_deref()), Int(r.start_ms), Int(r.end_ms), Int(r.spoken_at), Int(r.at), Arg::Text(Cow::Owned(format!(
                    "{}|{}|{}|{}|{}|{}",
                    r.call_id, r.leg, r.phrase, r.start_ms, r.end_ms, r.at
                )))] });
            }
            Write::OutboxRefresh {
                key,
                payload,
                next_at,
                updated_at,
            } => {
                // Only a row no attempt has read yet: what was sent stays what is stored.
                out.push(Stmt {
                    sql: "UPDATE crm_outbox SET payload = $1, next_at = $2, updated_at = $3
                     WHERE key = $4 AND state = 'pending' AND attempts = 0",
                    args: vec![
                        text(payload.as_str()),
                        Int(*next_at),
                        Int(*updated_at),
                        text(key.as_str()),
                    ],
                });
            }
            Write::Idempotent { row, forget_before } => {
                out.push(Stmt {
                    sql: "DELETE FROM idempotency WHERE created_at < $1 OR key = $2",
                    args: vec![Int(*forget_before), text(row.key.as_str())],
                });
                out.push(Stmt {
                    sql: "INSERT INTO idempotency (key, fingerprint, status, body, created_at)
                     VALUES ($1, $2, $3, $4, $5)",
                    args: vec![
                        text(row.key.as_str()),
                        text(row.fingerprint.as_str()),
                        Int(row.status),
                        text(row.body.as_str()),
                        Int(row.created_at),
                    ],
                });
            }
            Write::Events(rows) => {
                for r in rows {
                    out.push(Stmt {
                        sql: "INSERT INTO events (seq, at, agents, body) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (seq) DO NOTHING",
                        args: vec![
                            Int(r.seq),
                            Int(r.at),
                            Arg::Text(Cow::Owned(
                                serde_json::to_string(&r.agents).expect("strings serialize"),
                            )),
                            text(r.body.as_str()),
                        ],
                    });
                }
            }
            Write::EventSeq {
                reserved,
                trim_through,
            } => {
                if let Some(r) = reserved {
                    out.push(Stmt {
                        sql: "UPDATE event_seq SET reserved = $1 WHERE id = 1 AND reserved < $1",
                        args: vec![Int(*r)],
                    });
                }
                if let Some(t) = trim_through {
                    // The mark only moves up; the events up to it go.
                    out.push(Stmt {
                        sql: "UPDATE event_seq SET trimmed = $1 WHERE id = 1 AND trimmed < $1",
                        args: vec![Int(*t)],
                    });
                    out.push(Stmt {
                        sql: "DELETE FROM events WHERE seq <= $1",
                        args: vec![Int(*t)],
                    });
                }
            }
            Write::Config { body, loaded_at } => {
                out.push(Stmt { sql: "INSERT INTO config (id, body, loaded_at) VALUES ('current', $1, $2)
                     ON CONFLICT (id) DO UPDATE SET body = excluded.body, loaded_at = excluded.loaded_at", args: vec![text(body.as_str()), Int(*loaded_at)] });
            }
        }
    }
    out
}

/// A statement ready to run: one of the plan's, or several of its inserts made one.
#[derive(Debug)]
pub(super) struct Merged<'a> {
    pub sql: Cow<'static, str>,
    pub args: Vec<Arg<'a>>,
}

/// For each write, whether no later write of the batch saves the same call or agent: one pass
/// from the end, keyed by kind and id (an agent may be named like a call) and hashed as
/// [`engine::IdMap`] hashes ids. A group commit holds up to [`super::writer::MAX_BATCH`]
/// writes, on SQLite up to [`super::sqlite_writer::SQLITE_MAX_BATCH`]; comparing each with all
/// those after it was 3.5 % of the process's time in the routing benchmark's SQLite rounds,
/// with commits full at 512 writes (throughput moved within its spread: medians 4,200 against
/// 4,100 routed/s in seven and eight runs).
fn last_snapshots(writes: &[&Write]) -> Vec<bool> {
    let mut seen: HashSet<(bool, &str), foldhash::fast::RandomState> =
        HashSet::with_capacity_and_hasher(writes.len(), Default::default());
    let mut last: Vec<bool> = writes
        .iter()
        .rev()
        .map(|w| match w {
            Write::Call { id, .. } => seen.insert((true, id.as_str())),
            Write::Agent { id, .. } => seen.insert((false, id.as_str())),
            _ => true,
        })
        .collect();
    last.reverse();
    last
}

/// The parts of an `INSERT INTO t (cols) VALUES ($1, …, $n) …` that several rows can share.
struct InsertShape {
    /// Up to and including `VALUES `.
    head: &'static str,
    /// After the tuple (`ON CONFLICT …`).
    tail: &'static str,
    /// Placeholders in the tuple.
    width: usize,
    /// Which arguments an `ON CONFLICT … DO UPDATE` is keyed on (rows with the same key cannot
    /// share one statement on PostgreSQL); empty when the insert updates nothing.
    update_key: Vec<usize>,
}

fn insert_shape(sql: &'static str) -> Option<InsertShape> {
    let start = sql.find("VALUES (")? + "VALUES ".len();
    let end = start + sql[start..].find(')')? + 1;
    let tuple = &sql[start + 1..end - 1];
    let width = tuple.split(',').count();
    // Only placeholders $1…$n in order, and no placeholder outside the tuple.
    let in_order = tuple
        .split(',')
        .enumerate()
        .all(|(i, p)| p.trim() == format!("${}", i + 1));
    if !sql.starts_with("INSERT INTO ") || !in_order || sql[end..].contains('$') {
        return None;
    }
    let columns: Vec<&str> = sql[sql.find('(')? + 1..sql.find(')')?]
        .split(',')
        .map(str::trim)
        .collect();
    let tail = &sql[end..];
    let update_key = match tail.find("ON CONFLICT (") {
        Some(at) if tail.contains("DO UPDATE") => {
            let keys = &tail[at + "ON CONFLICT (".len()..];
            let keys = &keys[..keys.find(')')?];
            keys.split(',')
                .map(|k| columns.iter().position(|c| *c == k.trim()))
                .collect::<Option<Vec<usize>>>()?
        }
        _ => Vec::new(),
    };
    Some(InsertShape {
        head: &sql[..start],
        tail,
        width,
        update_key,
    })
}

/// Hashes an upsert's key (see [`flush`]).
static KEY_HASHER: foldhash::fast::FixedState = foldhash::fast::FixedState::with_seed(0);

/// Writes the pending inserts out, each shape's rows in as few statements as they fit.
fn flush<'a>(
    pending: &mut Vec<(&'static str, Vec<Vec<Arg<'a>>>)>,
    out: &mut Vec<Merged<'a>>,
    max_args: usize,
) {
    for (sql, rows) in pending.drain(..) {
        let shape = insert_shape(sql).expect("only shaped inserts are pending");
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            // The hashes of the upsert keys in this statement so far: a statement holds up to
            // thousands of rows, each row's key looked up among them. Two keys hashing alike
            // only end the statement early (the next one takes the row): never two rows of one
            // key in one statement.
            let mut keys: HashSet<u64, foldhash::fast::RandomState> = HashSet::default();
            let mut args = Vec::new();
            let mut n = 0;
            while let Some(row) = rows.peek() {
                let key = (!shape.update_key.is_empty()).then(|| {
                    use std::hash::{BuildHasher, Hash, Hasher};
                    let mut h = KEY_HASHER.build_hasher();
                    shape.update_key.iter().for_each(|&i| row[i].hash(&mut h));
                    h.finish()
                });
                let full = (n + 1) * shape.width > max_args.max(shape.width);
                if full || key.as_ref().is_some_and(|k| keys.contains(k)) {
                    break;
                }
                keys.extend(key);
                args.extend(rows.next().expect("peeked"));
                n += 1;
            }
            let sql = if n == 1 {
                Cow::Borrowed(sql)
            } else {
                let tuples: Vec<String> = (0..n)
                    .map(|r| {
                        let ps: Vec<String> = (1..=shape.width)
                            .map(|c| format!("${}", r * shape.width + c))
                            .collect();
                        format!("({})", ps.join(", "))
                    })
                    .collect();
                Cow::Owned(format!("{}{}{}", shape.head, tuples.join(", "), shape.tail))
            };
            out.push(Merged { sql, args });
        }
    }
}

/// PostgreSQL pays a round trip per statement, and a group commit holds hundreds: the
/// plan's inserts of one shape become one multi-row insert. Only inserts move, and only
/// past other inserts (into other tables, or rows of the same shape kept in their order):
/// every `UPDATE` and `DELETE` stays where it was relative to everything, so what a batch
/// stores is what its statements one after another would store. Rows an upsert keys alike
/// are not put in one statement (PostgreSQL refuses to update a row twice in one); a
/// statement carries at most `max_args` values.
pub(super) fn merged(stmts: Vec<Stmt<'_>>, max_args: usize) -> Vec<Merged<'_>> {
    let mut out = Vec::new();
    // The inserts since the last statement that is not one, by shape, in first-seen order.
    let mut pending: Vec<(&'static str, Vec<Vec<Arg<'_>>>)> = Vec::new();
    for s in stmts {
        if insert_shape(s.sql).is_some() {
            match pending.iter_mut().find(|(sql, _)| *sql == s.sql) {
                Some((_, rows)) => rows.push(s.args),
                None => pending.push((s.sql, vec![s.args])),
            }
        } else {
            flush(&mut pending, &mut out, max_args);
            out.push(Merged {
                sql: Cow::Borrowed(s.sql),
                args: s.args,
            });
        }
    }
    flush(&mut pending, &mut out, max_args);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CALL: &str = "INSERT INTO calls (id, state) VALUES ($1, $2)
         ON CONFLICT (id) DO UPDATE SET state = excluded.state";
    const EVENT: &str =
        "INSERT INTO events (seq, body) VALUES ($1, $2) ON CONFLICT (seq) DO NOTHING";
    const TRIM: &str = "DELETE FROM events WHERE seq <= $1";

    fn stmt(sql: &'static str, a: i64, b: &'static str) -> Stmt<'static> {
        Stmt {
            sql,
            args: vec![Int(a), text(b)],
        }
    }

    fn shown(m: &[Merged<'_>]) -> Vec<(String, String)> {
        m.iter()
            .map(|m| {
                let sql = m.sql.split_whitespace().collect::<Vec<_>>().join(" ");
                (sql, format!("{:?}", m.args))
            })
            .collect()
    }

    #[test]
    fn inserts_of_one_shape_become_one_statement_and_updates_deletes_stay_in_place() {
        let m = merged(
            vec![
                stmt(CALL, 1, "queued"),
                stmt(EVENT, 10, "a"),
                stmt(CALL, 2, "queued"),
                stmt(EVENT, 11, "b"),
                stmt(TRIM, 10, "unused"),
                stmt(EVENT, 12, "c"),
            ],
            1_000,
        );
        let m = shown(&m);
        assert_eq!(m.len(), 4, "{m:#?}");
        assert_eq!(
            m[0].0,
            "INSERT INTO calls (id, state) VALUES ($1, $2), ($3, $4) ON CONFLICT (id) DO UPDATE SET state = excluded.state"
        );
        assert_eq!(
            m[0].1,
            r#"[Int(1), Text("queued"), Int(2), Text("queued")]"#
        );
        assert_eq!(
            m[1].0,
            "INSERT INTO events (seq, body) VALUES ($1, $2), ($3, $4) ON CONFLICT (seq) DO NOTHING"
        );
        assert_eq!(m[1].1, r#"[Int(10), Text("a"), Int(11), Text("b")]"#);
        assert_eq!(m[2].0, TRIM, "the delete is not crossed");
        assert_eq!(
            m[3].1, r#"[Int(12), Text("c")]"#,
            "inserted after the delete"
        );
    }

    #[test]
    fn rows_an_upsert_keys_alike_go_in_separate_statements_in_order() {
        let m = merged(
            vec![
                stmt(CALL, 1, "queued"),
                stmt(CALL, 1, "ringing"),
                stmt(CALL, 2, "queued"),
            ],
            1_000,
        );
        let m = shown(&m);
        assert_eq!(m.len(), 2, "{m:#?}");
        assert_eq!(m[0].1, r#"[Int(1), Text("queued")]"#);
        assert_eq!(
            m[1].1, r#"[Int(1), Text("ringing"), Int(2), Text("queued")]"#,
            "the later row of the same call in a later statement"
        );
        // Inserts that update nothing take repeated keys in one statement.
        let m = merged(vec![stmt(EVENT, 1, "a"), stmt(EVENT, 1, "a")], 1_000);
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn a_statement_carries_at_most_the_values_allowed_and_odd_shapes_are_left_alone() {
        let rows = (0..5).map(|i| stmt(EVENT, i, "x")).collect();
        let m = merged(rows, 4);
        assert_eq!(
            m.iter().map(|m| m.args.len()).collect::<Vec<_>>(),
            [4, 4, 2]
        );
        let config = "INSERT INTO config (id, body) VALUES ('current', $1) ON CONFLICT (id) DO UPDATE SET body = excluded.body";
        let one = |b| Stmt {
            sql: config,
            args: vec![text(b)],
        };
        let m = merged(vec![one("a"), one("b")], 1_000);
        assert_eq!(m.len(), 2, "a tuple with a literal is not merged");
        assert!(insert_shape(TRIM).is_none());
    }

    /// A waiting call's write: its id, snapshot and journey entries.
    fn call_write(id: &str, snapshot: &str, journey: &[(i64, &str)]) -> Write {
        Write::Call {
            id: id.into(),
            queue: "q".into(),
            state: "waiting".into(),
            result: None,
            agent: None,
            from: "+1".into(),
            created_at: 0,
            updated_at: 0,
            snapshot: snapshot.into(),
            journey: journey.iter().map(|(i, e)| (*i, (*e).to_owned())).collect(),
        }
    }

    /// Two steps of one call in one transaction: one snapshot (the last), both steps' entries.
    #[test]
    fn a_calls_steps_in_one_batch_write_its_last_snapshot_and_every_entry() {
        let write = |snapshot: &str, journey: &[(i64, &str)]| call_write("c1", snapshot, journey);
        let (a, b) = (
            write("s1", &[(2, "e2")]),
            write("s2", &[(3, "e3"), (4, "e4")]),
        );
        let stmts = plan(&[&a, &b]);
        let shown: Vec<String> = stmts
            .iter()
            .map(|s| {
                let table = s.sql.split_whitespace().nth(2).unwrap_or("");
                let args: Vec<String> = s
                    .args
                    .iter()
                    .filter_map(|a| match a {
                        Arg::Text(t) if t.starts_with(['e', 's']) => Some(t.to_string()),
                        Arg::Int(i) if table == "call_journey" => Some(i.to_string()),
                        _ => None,
                    })
                    .collect();
                format!("{table} {}", args.join(" "))
            })
            .collect();
        assert_eq!(
            shown,
            [
                "call_journey 2 e2",
                "call_journey 3 e3",
                "call_journey 4 e4",
                "calls s2"
            ]
        );
    }

    /// Calls and agents interleaved in one batch: each call's and each agent's last snapshot
    /// is written, where it comes, and an agent named like a call is not taken for it.
    #[test]
    fn a_batch_writes_each_calls_and_each_agents_last_snapshot() {
        let call = |id: &str, snapshot: &str| call_write(id, snapshot, &[]);
        let agent = |id: &str, snapshot: &str| Write::Agent {
            id: id.into(),
            snapshot: snapshot.into(),
            changes: Vec::new(),
            last: None,
            updated_at: 0,
        };
        let writes = [
            call("c1", "c1-first"),
            agent("c1", "agent-first"),
            call("c2", "c2-first"),
            call("c1", "c1-last"),
            agent("a2", "a2-only"),
            call("c2", "c2-last"),
            agent("c1", "agent-last"),
        ];
        let stmts = plan(&writes.iter().collect::<Vec<_>>());
        let snapshots: Vec<String> = stmts
            .iter()
            .filter_map(|s| {
                let snapshot = match s.sql.split_whitespace().nth(2) {
                    Some("calls") => &s.args[8],
                    Some("agents") => &s.args[1],
                    _ => return None,
                };
                match snapshot {
                    Arg::Text(t) => Some(t.to_string()),
                    _ => None,
                }
            })
            .collect();
        assert_eq!(snapshots, ["c1-last", "a2-only", "c2-last", "agent-last"]);
    }

    /// Every write's status changes are logged, an earlier write's too though only the last
    /// snapshot is written, and the agent's row is left pointing at the last change.
    #[test]
    fn a_batch_logs_every_writes_changes_and_points_at_the_last() {
        let logged = |seq: i64, prev_at| (seq * 10, seq, prev_at, format!("e{seq}"));
        let agent = |changes, last| Write::Agent {
            id: "a1".into(),
            snapshot: "s".into(),
            changes,
            last,
            updated_at: 7,
        };
        let writes = [
            agent(vec![logged(1, None), logged(2, Some(10))], Some((20, 2))),
            agent(vec![logged(3, Some(20))], Some((30, 3))),
        ];
        let shown: Vec<String> = plan(&writes.iter().collect::<Vec<_>>())
            .iter()
            .map(|s| {
                let table = s.sql.split_whitespace().nth(2).unwrap_or_default();
                let args = s.args.iter().filter_map(|a| match a {
                    Arg::Int(v) => Some(v.to_string()),
                    Arg::NullInt => Some("-".into()),
                    _ => None,
                });
                std::iter::once(table.to_owned())
                    .chain(args)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        assert_eq!(
            shown,
            [
                "agent_status_log 10 1 -",
                "agent_status_log 20 2 10",
                "agent_status_log 30 3 20",
                "agents 30 3 7"
            ]
        );
    }

    /// Every insert of the plan has a shape that merges (a new write whose insert does not
    /// would still be correct, only one round trip per row on PostgreSQL).
    #[test]
    fn the_plans_inserts_all_merge_but_the_configurations() {
        let src = include_str!("plan.rs");
        let inserts = src.matches("sql: \"INSERT INTO ").count();
        assert!(inserts >= 14, "{inserts}");
        let mut shaped = 0;
        for (i, _) in src.match_indices("sql: \"INSERT INTO ") {
            let start = i + "sql: \"".len();
            let end = start + src[start..].find('"').expect("closed");
            let sql: &'static str = Box::leak(src[start..end].to_owned().into_boxed_str());
            if insert_shape(sql).is_some() {
                shaped += 1;
            } else {
                assert!(sql.starts_with("INSERT INTO config"), "{sql}");
            }
        }
        assert_eq!(shaped, inserts - 1);
    }
}
