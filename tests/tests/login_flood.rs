//! A flood of wrong passwords against the real program (issue 14, finding 1): the password
//! checks are bounded, so memory and `/health` hold; throttles answer 429 with `Retry-After`
//! and a JSON body; a legitimate user still gets in.

use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tests::{start_server, Database, Server};

/// Resident memory of a process (bytes), from /proc.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

async fn attempt(
    http: &reqwest::Client,
    server: &Server,
    user: &str,
    password: &str,
) -> (u16, Option<String>, Value) {
    let res = http
        .post(format!("{}/api/v1/sessions", server.base))
        .json(&json!({"username": user, "password": password}))
        .send()
        .await
        .expect("the server answers");
    let status = res.status().as_u16();
    let retry = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = res.json().await.unwrap_or(Value::Null);
    (status, retry, body)
}

/// 1,000 wrong passwords, 64 at a time, from invented names (so no name's back-off stops
/// them) and with the per-address limit lifted: the worst case, many addresses at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_wrong_passwords_keeps_memory_and_health_in_bounds() {
    let config = format!(
        "{}\n[security]\nlogins_per_minute_per_address = 1000000\n",
        actors::config::DEMO_TOML
    );
    let db = Database::sqlite();
    let server = start_server!(&db, Some(&config)).unwrap();
    let pid = server.pid();
    let before = rss(pid);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // /health every 20 ms during the flood, and the server's memory. The probe runs on a
    // thread and runtime of its own: on the flood's runtime its answers waited behind the
    // flood's 64 clients, and that wait, not the server's, was what it measured.
    let probe = {
        let (base, done) = (server.base.clone(), done.clone());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        std::thread::spawn(move || {
            rt.block_on(async move {
                let http = reqwest::Client::new();
                let (mut lat, mut peak) = (Vec::new(), 0u64);
                // A probe every 20 ms while the flood lasts.
                let mut every = tokio::time::interval(Duration::from_millis(20));
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    every.tick().await;
                    let t = Instant::now();
                    let ok = http
                        .get(format!("{base}/api/v1/health"))
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success());
                    assert!(ok, "/health failed during the flood");
                    lat.push(t.elapsed());
                    peak = peak.max(rss(pid));
                }
                (lat, peak)
            })
        })
    };
    let started = Instant::now();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    let mut next = 0usize;
    let mut running = tokio::task::JoinSet::new();
    while next < 1_000 || !running.is_empty() {
        while next < 1_000 && running.len() < 64 {
            let (http, user) = (http.clone(), format!("intruder-{next}"));
            let base = server.base.clone();
            running.spawn(async move {
                let res = http
                    .post(format!("{base}/api/v1/sessions"))
                    .json(&json!({"username": user, "password": "guess"}))
                    .send()
                    .await
                    .expect("the server answers");
                let status = res.status().as_u16();
                let body: Value = res.json().await.expect("a JSON body");
                assert!(body["error"]["code"].is_string(), "{status} {body}");
                status
            });
            next += 1;
        }
        let status = running.join_next().await.unwrap().unwrap();
        *statuses.entry(status).or_default() += 1;
    }
    let took = started.elapsed();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut lat, peak) = probe.join().expect("the probe's thread");
    lat.sort();
    let at = |q: usize| lat[(lat.len() - 1) * q / 100];
    let (p90, p99, max) = (at(90), at(99), at(100));
    println!(
        "1000 wrong passwords in {took:?}: {statuses:?}; /health p90 {p90:?}, p99 {p99:?}, \
         max {max:?} over {} probes; memory {} MB before, {} MB at most",
        lat.len(),
        before / 1_000_000,
        peak / 1_000_000
    );
    // Only refusals: wrong password (401) or every check busy (429).
    assert!(
        statuses.keys().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    assert!(statuses.get(&401).copied().unwrap_or(0) > 0, "{statuses:?}");
    assert!(peak < 200_000_000, "the server grew to {peak} bytes");
    // Bounded by the 90th percentile of some 80 probes, not the 99th (their second slowest):
    // /health waiting behind the password checks would hold up most probes while the flood
    // lasts, where one slow probe is the scheduler of a shared 2-core machine (a p99 of 51.8 ms
    // once in CI on a machine half as fast as the one before; 19-42 ms in eighteen runs on it
    // since, the p90 14-26 ms).
    assert!(p90 < Duration::from_millis(50), "/health p90 {p90:?}");
    // The flood is over: a legitimate user gets in.
    server.login("alice", "demo").await.unwrap();
    server.kill();
}

/// The throttles with the default settings: one name's failures make it wait (known or not,
/// alike), one address's attempts are limited per minute; each refusal is 429 with
/// `Retry-After` and a JSON body naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_lock_a_name_and_one_address_is_limited() {
    let db = Database::sqlite();
    let server = start_server!(&db, None).unwrap();
    let http = reqwest::Client::new();
    for name in ["alice", "nobody"] {
        for _ in 0..6 {
            let (status, _, body) = attempt(&http, &server, name, "wrong").await;
            assert_eq!(status, 401, "{body}");
        }
        // The right password does not get through the lock either.
        let (status, retry, body) = attempt(&http, &server, name, "demo").await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (429, Some("login_locked")),
            "{body}"
        );
        assert_eq!(retry.as_deref(), Some("1"));
    }
    // The lock ends (1 s after her sixth failure): alice's right password works.
    tests::eventually("alice's lock to end", Duration::from_secs(5), || async {
        (attempt(&http, &server, "alice", "demo").await.0 == 201).then_some(())
    })
    .await;
    // 60 attempts a minute from one address: the rest are refused until it refills.
    let mut limited = None;
    for i in 0..70 {
        let (status, retry, body) = attempt(&http, &server, &format!("n{i}"), "x").await;
        if status == 429 {
            limited = Some((retry, body));
            break;
        }
    }
    let (retry, body) = limited.expect("the address was limited");
    assert_eq!(body["error"]["code"], "too_many_logins", "{body}");
    let secs: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&secs), "{secs}");
    server.kill();
}
