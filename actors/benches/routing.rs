//! Routing benchmark (`cargo bench -p actors`): 2,000 agents in 20 queues, 10,000 calls.
//!
//! 1. Memory: 10,000 calls wait (every agent offline); resident memory per waiting call.
//! 2. Throughput: every agent becomes Ready and answers each offer at once, hangs up, and is
//!    Ready again (wrap-up limit 0) until all 10,000 calls were routed: calls routed per second
//!    (the median of five such rounds), and the CPU time the process used per routed call.
//!    With a backlog of 100,000 (5,000 waiting per queue) too: the work per message should not
//!    grow with it. Rounds of 10,000 and 100,000 calls alternate in a process (three
//!    processes, two deep rounds each), each deep round set against the 10,000-call rounds
//!    either side of it in the same process, calls a second and CPU a routed call: one process
//!    can run a third slower than the next throughout, which compared across processes had
//!    moved the figure from -18 to +50 % with one build. The memory store keeps every ended
//!    call, so a process's later rounds also carry the earlier rounds' (its second deep round
//!    120,000).
//! 3. Latency: calls arrive at a steady 100/s, then 2,000/s (5,000 calls), every agent Ready:
//!    enqueue-to-offer latency p50/p99 (from `create_call` to the offer event).
//!
//! Each phase runs on the memory store (the actors and engine alone) and on a SQLite file
//! (what `switchyard serve` does by default), each in a fresh process; on PostgreSQL too when
//! `SWITCHYARD_BENCH_POSTGRES` names a database. The memory store's throughput is compared
//! with the bare ractor baseline ([`bare`]: the same shape with no engine and no store), the
//! two in turn: baseline, memory store, baseline, … three times over, each memory-store run
//! against the mean of the baseline runs either side of it, and the median of those three
//! ratios printed. (Measured once each, a minute apart, the ratio of one build moved from
//! 0.25x to 0.36x: the machine's speed drifts between runs, and one process can run slow
//! throughout.) Figures are printed; targets are in the README.

use actors::config::Config;

#[path = "routing/bare.rs"]
mod bare;

/// The allocator `switchyard` runs with (see its `main.rs`): glibc's malloc slowed down as the
/// heap grew with the backlog (a third of the time in malloc and free at 5,000 waiting calls
/// per queue).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use actors::events::EventKind;
use actors::store::{Durability, Store};
use actors::{StartOptions, Switchyard};
use engine::agent::Status;
use engine::call::{JourneyEvent, Party};
use engine::routing::Skills;
/// The benchmark's own maps (both programs): hashed with foldhash, as the engine's are, so that
/// its bookkeeping is not what is measured.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

const QUEUES: usize = 20;
const AGENTS: usize = 2_000;
/// Calls in each round of the memory and throughput phases: five rounds of 10,000 (500
/// waiting per queue), or what `SWITCHYARD_BENCH_CALLS` says: one figure (five rounds of it,
/// or `SWITCHYARD_BENCH_ROUNDS`), or each round's, comma-separated (the backlog's process:
/// 10,000 and 100,000 in turn, 5,000 waiting per queue in the latter).
fn schedule() -> Vec<usize> {
    let given = std::env::var("SWITCHYARD_BENCH_CALLS").unwrap_or_else(|_| "10000".into());
    let calls: Vec<usize> = given
        .split(',')
        .map(|c| {
            c.trim()
                .parse()
                .expect("SWITCHYARD_BENCH_CALLS: calls a round")
        })
        .collect();
    if calls.len() > 1 {
        return calls;
    }
    let rounds = std::env::var("SWITCHYARD_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    vec![calls[0]; rounds]
}
/// The backlog's rounds: 500 and 5,000 waiting per queue in turn, each 5,000 round set
/// against the 500 rounds either side of it in the same process.
const BACKLOG_SCHEDULE: &str = "10000,100000,10000,100000,10000";
const LATENCY_CALLS: usize = 5_000;
/// Events the bus holds for a subscriber that is behind, in both programs. The answering
/// machine must see every offer (it fails the run if it fell further behind than this), and the
/// most it was behind is printed. The bus keeps its last this many events alive: with 2^20 it
/// held a whole run's events (hundreds of megabytes on the real path, where an event is shared
/// rather than inline), and every new event was fresh memory for the kernel to fault in; a
/// service runs with 8,192 (`StartOptions::event_buffer`).
const EVENT_BUFFER: usize = 1 << 16;
const LOADED_RATE: u64 = 2_000;

fn config() -> Config {
    let mut toml = String::new();
    for q in 0..QUEUES {
        toml.push_str(&format!(
            "[[queues]]\nid = \"q{q}\"\nwrap_up_limit_secs = 0\n"
        ));
    }
    for a in 0..AGENTS {
        toml.push_str(&format!(
            "[[agents]]\nid = \"a{a}\"\nqueues = [\"q{}\"]\n",
            a % QUEUES
        ));
    }
    Config::from_toml(&toml).expect("bench configuration is valid")
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// CPU time the process has used so far (user and system, all threads), from
/// `/proc/self/stat` (in clock ticks of 1/100 s, as Linux reports them).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command's name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let field = |n: usize| -> f64 {
        rest.split_whitespace()
            .nth(n)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (field(11) + field(12)) / 100.0
}

type Waiters = Arc<Mutex<HashMap<String, oneshot::Sender<Instant>>>>;

/// What the answering machine has seen so far.
#[derive(Clone, Copy, Default)]
struct Seen {
    offers: usize,
    hangups: usize,
    /// Agents whose latest status is Ready.
    ready: usize,
    /// The most events the answering machine was behind the bus (sampled).
    behind: usize,
    /// What the benchmark waits for, if anything: only reaching it wakes the benchmark (a
    /// wake-up at every event kept a third thread busy on two cores).
    goal: Option<(Until, usize)>,
}

type Until = fn(&Seen, usize) -> bool;

type Counts = tokio::sync::watch::Sender<Seen>;

/// Counts something; wakes the benchmark if its goal is reached.
fn count(counts: &Counts, add: impl FnOnce(&mut Seen)) {
    counts.send_if_modified(|c| {
        add(c);
        c.goal.is_some_and(|(until, n)| until(c, n))
    });
}

/// Answers every offer at once and hangs up, so the agent is Ready again; counts offers,
/// hang-ups and Ready agents.
fn spawn_answering_machine(yard: &Switchyard, waiters: Waiters, counts: Arc<Counts>) {
    let mut rx = yard.subscribe();
    let yard = yard.clone();
    tokio::spawn(async move {
        let mut ready = HashSet::default();
        let mut seen = 0u64;
        while let Ok(ev) = rx.recv().await {
            seen += 1;
            if seen.is_multiple_of(256) {
                let behind = rx.len();
                count(&counts, |c| c.behind = c.behind.max(behind));
            }
            let (call_id, from, agent) = match &*ev.kind {
                EventKind::AgentStatus { change, .. } => {
                    if change.to == Status::Ready {
                        ready.insert(change.agent.clone());
                    } else {
                        ready.remove(&change.agent);
                    }
                    count(&counts, |c| c.ready = ready.len());
                    continue;
                }
                EventKind::Call {
                    call_id,
                    from,
                    entry,
                    ..
                } => match &entry.event {
                    JourneyEvent::OfferedTo { agent } => (call_id, from, agent),
                    _ => continue,
                },
                _ => continue,
            };
            let now = Instant::now();
            count(&counts, |c| c.offers += 1);
            if let Some(w) = waiters.lock().unwrap().remove(&**from) {
                let _ = w.send(now);
            }
            let (yard, call, agent) = (yard.clone(), call_id.clone(), agent.clone());
            let counts = counts.clone();
            tokio::spawn(async move {
                if yard.accept(call.as_str(), agent.as_str()).await.is_ok() {
                    let _ = yard.hangup(call.as_str(), Party::Agent { agent }).await;
                }
                count(&counts, |c| c.hangups += 1);
            });
        }
        panic!("event stream lagged or closed: the answering machine missed offers");
    });
}

/// Tells `perf record` to sample only while calls are routed, if `SWITCHYARD_BENCH_PERF_CTL`
/// names its control fifo: `perf record -D -1 --control fifo:/tmp/ctl -- routing-…` with
/// `SWITCHYARD_BENCH_PERF_CTL=/tmp/ctl` (the creation of the calls, as costly, is left out).
fn profiler(command: &str) {
    if let Some(fifo) = std::env::var_os("SWITCHYARD_BENCH_PERF_CTL") {
        std::fs::write(fifo, format!("{command}\n")).expect("perf's control fifo");
    }
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

/// Offers `calls` calls at `rate` per second (open loop: a call is not held back because an
/// earlier one is slow), every agent Ready and freed again at once by the answering machine.
/// Sorted enqueue-to-offer latencies.
async fn latency(yard: &Switchyard, waiters: &Waiters, rate: u64, calls: usize) -> Vec<Duration> {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let mut ticker = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(calls);
    for i in 0..calls {
        ticker.tick().await;
        let (yard, waiters) = (yard.clone(), waiters.clone());
        tasks.push(tokio::spawn(async move {
            let from = format!(
                "+1666{:08}",
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            );
            let (tx, rx) = oneshot::channel();
            waiters.lock().unwrap().insert(from.clone(), tx);
            let start = Instant::now();
            yard.create_call(from, &format!("q{}", i % QUEUES), 0, Skills::new())
                .await
                .expect("created");
            let offered = tokio::time::timeout(Duration::from_secs(30), rx)
                .await
                .expect("offered within 30 s")
                .expect("answering machine alive");
            offered.saturating_duration_since(start)
        }));
    }
    let mut lat = Vec::with_capacity(calls);
    for t in tasks {
        lat.push(t.await.expect("caller task"));
    }
    lat.sort();
    lat
}

/// Every agent asks for `status` at once, as 2,000 people at their desks would (one after
/// another, each waiting for the last one's commit, the benchmark measured its own loop).
/// Each reply is let go of as it comes: collected, the 2,000 agents' views grew a vector
/// inside the timed window (~3 % of the routing rounds' samples, faulting in fresh pages),
/// work the bare baseline, which casts, does not do.
async fn set_all(yard: &Switchyard, status: Status) {
    use futures::StreamExt;
    let mut asks: futures::stream::FuturesUnordered<_> = (0..AGENTS)
        .map(|a| {
            let status = status.clone();
            async move {
                yard.set_status(&format!("a{a}"), Some(status), None)
                    .await
                    .expect("the agent's status changes");
            }
        })
        .collect();
    while asks.next().await.is_some() {}
}

/// What a run hands back: each round's routed calls a second and the process's CPU time a
/// routed call in it (µs), in order.
#[derive(Default)]
struct Rounds {
    rates: Vec<f64>,
    cpu: Vec<f64>,
}

/// One store's run; its rounds' figures, in order.
async fn run(label: &str, store: Store, again: bool) -> Rounds {
    let schedule = schedule();
    let options = StartOptions {
        event_buffer: EVENT_BUFFER,
        ..Default::default()
    };
    let yard = Switchyard::start_with(config(), store, options)
        .await
        .expect("engine starts");
    let waiters: Waiters = Arc::default();
    let counts = Arc::new(Counts::new(Seen::default()));
    spawn_answering_machine(&yard, waiters.clone(), counts.clone());
    let reach = |until: Until, n: usize| {
        let mut rx = counts.subscribe();
        counts.send_modify(|c| c.goal = Some((until, n)));
        async move {
            tokio::time::timeout(Duration::from_secs(60), rx.wait_for(|c| until(c, n)))
                .await
                .expect("reached within a minute")
                .expect("the answering machine runs");
        }
    };

    // 10,000 calls route in a fraction of a second, so that backlog is routed in five rounds
    // and the median kept. Memory is measured in the first.
    let (rounds, calls) = (schedule.len(), schedule[0]);
    let (mut created, mut per_call, mut rates) = (Duration::ZERO, 0.0, Vec::new());
    let mut cpus = Vec::new();
    let (mut busy, mut wall, mut routed_before) = (0.0, 0.0, 0);
    for (round, &calls) in schedule.iter().enumerate() {
        if round > 0 {
            // Every call of the last round hung up and every agent is Ready again; the
            // agents step away while calls queue.
            reach(|c, n| c.hangups >= n, routed_before).await;
            reach(|c, n| c.ready >= n, AGENTS).await;
            set_all(&yard, Status::Busy).await;
        }
        // 1. Memory per waiting call.
        let before = rss_bytes();
        let t = Instant::now();
        for i in 0..calls {
            yard.create_call(
                format!("+1555{round}{i:07}"),
                &format!("q{}", i % QUEUES),
                0,
                Skills::new(),
            )
            .await
            .expect("call created");
        }
        if round == 0 {
            created = t.elapsed();
            per_call = (rss_bytes().saturating_sub(before)) as f64 / calls as f64;
        }

        // 2. Throughput: agents become Ready; wait until every call was routed.
        profiler("enable");
        let (t, cpu) = (Instant::now(), cpu_seconds());
        set_all(&yard, Status::Ready).await;
        routed_before += calls;
        reach(|c, n| c.offers >= n, routed_before).await;
        let elapsed = t.elapsed().as_secs_f64();
        profiler("disable");
        rates.push(calls as f64 / elapsed);
        let used = cpu_seconds() - cpu;
        cpus.push(used * 1e6 / calls as f64);
        busy += used;
        wall += elapsed;
    }
    let mut sorted = rates.clone();
    sorted.sort_by(f64::total_cmp);
    let routed = sorted[sorted.len() / 2];
    let rates_text = listed(&rates, 0, "");
    if again {
        if schedule.iter().any(|&c| c != calls) {
            println!(
                "## {label}, rounds of {} calls: {rates_text} routed/s",
                listed(
                    &schedule.iter().map(|&c| c as f64).collect::<Vec<_>>(),
                    0,
                    ""
                )
            );
        } else {
            println!(
                "## {label} again: {routed:.0} calls routed/s (median of {rounds}: {rates_text})"
            );
        }
        yard.shutdown().await;
        return Rounds { rates, cpu: cpus };
    }

    // 3. Latency at a low and at a sustained call rate, once the last round's calls have hung
    // up and every agent is Ready again (their writes would otherwise delay the first calls).
    reach(|c, n| c.hangups >= n, routed_before).await;
    reach(|c, n| c.ready >= n, AGENTS).await;
    // And once the event log holds the rounds' events (tens of thousands behind on a SQL
    // store: the quiet phase's first calls waited for them).
    let mut log = yard.resume_events(None).await;
    log.stored(log.upto).await;
    let quiet = latency(&yard, &waiters, 100, 500).await;
    let loaded = latency(&yard, &waiters, LOADED_RATE, LATENCY_CALLS).await;

    println!("## {label}");
    println!(
        "calls created (persisted, actor spawned): {calls} in {:.2} s = {:.0}/s",
        created.as_secs_f64(),
        calls as f64 / created.as_secs_f64()
    );
    println!(
        "resident memory per waiting call: {:.1} KiB",
        per_call / 1024.0
    );
    println!(
        "routing throughput ({AGENTS} agents answering, {QUEUES} queues, {calls} waiting): {routed:.0} calls routed/s (median of {rounds}: {rates_text})"
    );
    println!(
        "CPU while routing: {:.0} µs a routed call, {:.2} of the machine's cores busy",
        busy * 1e6 / routed_before as f64,
        busy / wall
    );
    println!(
        "the answering machine was at most {} events behind the bus (it holds {EVENT_BUFFER})",
        counts.borrow().behind
    );
    for (rate, lat) in [(100, quiet), (LOADED_RATE, loaded)] {
        println!(
            "enqueue-to-offer latency at {rate} new calls/s ({} calls): p50 {:.2} ms, p99 {:.2} ms",
            lat.len(),
            percentile(&lat, 0.50).as_secs_f64() * 1e3,
            percentile(&lat, 0.99).as_secs_f64() * 1e3
        );
    }
    yard.shutdown().await;
    Rounds { rates, cpu: cpus }
}

/// Memory-store runs, each between two baseline runs.
const PAIRS: usize = 3;

/// Processes that route [`BACKLOG_SCHEDULE`].
const BACKLOG_PROCESSES: usize = 3;

/// Runs this benchmark for one store in a process of its own, so that one run's freed memory
/// does not hide the next run's growth; its rounds' figures (`calls` is what
/// `SWITCHYARD_BENCH_CALLS` says). A run `again` prints its throughput only.
fn child(store: &str, calls: &str, again: bool) -> Rounds {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let result = std::env::temp_dir().join(format!("switchyard-bench-{}-{n}", std::process::id()));
    let mut command = std::process::Command::new(std::env::current_exe().expect("own path"));
    command
        .env("SWITCHYARD_BENCH_STORE", store)
        .env("SWITCHYARD_BENCH_CALLS", calls)
        .env("SWITCHYARD_BENCH_RESULT", &result);
    if again {
        command.env("SWITCHYARD_BENCH_AGAIN", "1");
    }
    let status = command.status().expect("bench child runs");
    assert!(status.success(), "the {store} run failed");
    let text = std::fs::read_to_string(&result).expect("the run wrote its figures");
    let _ = std::fs::remove_file(result);
    let figures = |line: Option<&str>| -> Vec<f64> {
        let line = line.unwrap_or_default();
        line.split(',')
            .filter(|f| !f.is_empty())
            .map(|f| f.parse().expect("a figure"))
            .collect()
    };
    let mut lines = text.lines();
    Rounds {
        rates: figures(lines.next()),
        cpu: figures(lines.next()),
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Figures in a list, each with `decimals` decimals and `suffix` after it.
fn listed(xs: &[f64], decimals: usize, suffix: &str) -> String {
    xs.iter()
        .map(|r| format!("{r:.decimals$}{suffix}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn main() {
    let Ok(which) = std::env::var("SWITCHYARD_BENCH_STORE") else {
        // The baseline and the memory store in turn (see the module's doc).
        let mut bare = vec![median(child("bare", "10000", false).rates)];
        let mut against = Vec::new();
        let mut memory = Vec::new();
        for pair in 0..PAIRS {
            memory.push(median(child("memory", "10000", pair > 0).rates));
            bare.push(median(child("bare", "10000", true).rates));
            against.push(memory[pair] / ((bare[pair] + bare[pair + 1]) / 2.0));
        }
        println!("## memory store against the bare ractor baseline");
        println!(
            "{:.2}x (median of {PAIRS} runs, each against the baseline runs either side of it: {}; memory store {} routed/s, baseline {} routed/s)",
            median(against.clone()),
            listed(&against, 2, "x"),
            listed(&memory, 0, ""),
            listed(&bare, 0, ""),
        );
        // 5,000 waiting per queue: the work per message should not grow with the backlog.
        let (mut deep, mut rate_ratios, mut cpu_ratios) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..BACKLOG_PROCESSES {
            let run = child("memory", BACKLOG_SCHEDULE, true);
            for r in (1..run.rates.len()).step_by(2) {
                let either_side = |xs: &[f64]| (xs[r - 1] + xs[r + 1]) / 2.0;
                deep.push(run.rates[r]);
                rate_ratios.push(run.rates[r] / either_side(&run.rates));
                cpu_ratios.push(run.cpu[r] / either_side(&run.cpu));
            }
        }
        let percent = |ratios: &[f64]| -> (f64, String) {
            let each: Vec<f64> = ratios.iter().map(|r| (r - 1.0) * 100.0).collect();
            (
                (median(ratios.to_vec()) - 1.0) * 100.0,
                listed(&each, 0, ""),
            )
        };
        let ((rate, rates), (cpu, cpus)) = (percent(&rate_ratios), percent(&cpu_ratios));
        println!(
            "at 5,000 waiting per queue: {rate:+.0} % routed/s against 500, CPU a routed call {cpu:+.0} % (medians of {} rounds of 100,000 calls in {BACKLOG_PROCESSES} processes, each against the 10,000-call rounds either side of it in its process: {rates} %; CPU {cpus} %); {:.2}x the baseline (the medians); {} routed/s",
            deep.len(),
            median(deep.clone()) / median(bare.clone()),
            listed(&deep, 0, ""),
        );
        for store in ["sqlite", "sqlite-normal", "postgres"] {
            if store == "postgres" && std::env::var("SWITCHYARD_BENCH_POSTGRES").is_err() {
                println!(
                    "## PostgreSQL: not run (set SWITCHYARD_BENCH_POSTGRES to a database URL)"
                );
                continue;
            }
            child(store, "10000", false);
        }
        return;
    };
    // Where this process hands its figures to the one that started it.
    let result = std::env::var("SWITCHYARD_BENCH_RESULT").ok();
    let again = std::env::var_os("SWITCHYARD_BENCH_AGAIN").is_some();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let rounds = rt.block_on(async {
        match which.as_str() {
            "bare" => {
                // It routes 10,000 calls in under a tenth of a second: the median of five
                // runs (the first one's memory figure: later runs reuse its freed pages).
                let mut runs = Vec::new();
                for _ in 0..5 {
                    runs.push(bare::run(QUEUES, AGENTS, schedule()[0], rss_bytes, cpu_seconds).await);
                }
                let per_call = runs[0].per_call_bytes;
                let mut routed: Vec<f64> = runs.iter().map(|f| f.routed_per_sec).collect();
                routed.sort_by(f64::total_cmp);
                let median = routed[routed.len() / 2];
                if again {
                    println!(
                        "## bare ractor baseline again: {median:.0} calls routed/s (median of five runs: {:.0} to {:.0})",
                        routed[0],
                        routed[routed.len() - 1]
                    );
                } else {
                    println!(
                        "## bare ractor baseline (no engine, no store; same actors and messages)"
                    );
                    println!("resident memory per waiting call: {:.1} KiB", per_call / 1024.0);
                    println!(
                        "routing throughput: {median:.0} calls routed/s (median of five runs: {:.0} to {:.0})",
                        routed[0],
                        routed[routed.len() - 1]
                    );
                    let cpu: f64 = runs.iter().map(|f| f.routing_cpu).sum();
                    println!(
                        "CPU while routing: {:.0} µs a routed call",
                        cpu * 1e6 / (runs.len() * schedule()[0]) as f64
                    );
                }
                // Its CPU time is printed by its process; the parent compares calls a second.
                Rounds {
                    rates: routed,
                    ..Rounds::default()
                }
            }
            "memory" => run("memory store", Store::memory(), again).await,
            "postgres" => {
                // A database of its own, so that no earlier run's agents or calls come back.
                use sqlx::Connection;
                let url = std::env::var("SWITCHYARD_BENCH_POSTGRES").expect("a database URL");
                let name = format!("switchyard_bench_{}", std::process::id());
                let mut admin = sqlx::PgConnection::connect(&url).await.expect("postgres");
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .await
                    .expect("bench database created");
                let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
                let store = Store::connect(&format!("{base}/{name}"))
                    .await
                    .expect("postgres");
                let routed = run("PostgreSQL", store.clone(), again).await;
                store.close().await;
                sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await
                    .expect("bench database dropped");
                routed
            }
            sqlite => {
                // The default commits with synchronous=FULL (a power cut loses nothing
                // acknowledged); NORMAL survives only a crash of the process.
                let (durability, label) = match sqlite {
                    "sqlite-normal" => {
                        (Durability::ProcessCrash, "SQLite file, synchronous=NORMAL")
                    }
                    _ => (
                        Durability::PowerLoss,
                        "SQLite file, synchronous=FULL (the default)",
                    ),
                };
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("bench.db").display()
                );
                let store = Store::connect_with(&url, durability).await.expect("sqlite");
                run(label, store, again).await
            }
        }
    });
    if let Some(path) = result {
        let line = |xs: &[f64]| xs.iter().map(f64::to_string).collect::<Vec<_>>().join(",");
        let text = format!("{}\n{}\n", line(&rounds.rates), line(&rounds.cpu));
        std::fs::write(path, text).expect("figures handed over");
    }
}
