//! The media benchmark: how many bridged calls this machine carries with fewer than 1% of
//! packets later than 10 ms, beside the raw webrtc-rs echo baseline measured in the same run.
//!
//! For each step N (`MEDIA_BENCH_STEPS`, default 50,100,…,400; `MEDIA_BENCH_SECONDS` measured
//! per step, default 10):
//! - baseline: `loadgen media-echo` in its own process, 2N peers from the load generator
//!   (the same number of server legs as N calls: each leg receives and sends 50 packets/s);
//! - core: `loadgen media-echo --core`, the same echo on webrtc-rs's sans-IO core driven by
//!   one thread (the core's own limit: the server's legs run on the same core, on its media
//!   threads);
//! - bridged: `switchyard serve` in its own process with N agents, N web calls from the load
//!   generator, each a customer peer and the agent's peer sending audio through the bridge;
//! - trunk: the same server with a SIP trunk, N calls from sipp (each streaming PCMU over
//!   plain RTP) answered by the agents' WebRTC peers: trunk ↔ WebRTC bridged calls, measured
//!   at the agents' peers (`MEDIA_BENCH_TRUNK=0` leaves it out; it needs sipp).
//!
//! Run with `cargo bench -p tests --bench media`. Prints a table and, last, one JSON line.

use tests::loadgen::{load_config, load_config_with_trunk, run, LoadOptions, LoadReport};

mod common;
use common::{serve, spawn};

fn options(server: String, pid: u32, calls: usize, seconds: u64, echo: bool) -> LoadOptions {
    LoadOptions {
        wav: std::env::var_os("MEDIA_BENCH_WAV").map(Into::into),
        server_pid: Some(pid),
        ..LoadOptions::for_load_config(server, calls, seconds, echo)
    }
}

fn ok(r: &LoadReport) -> bool {
    r.calls_connected == r.calls && r.late_pct < 1.0 && r.lost_pct < 1.0
}

fn row(kind: &str, r: &LoadReport) {
    println!(
        "{kind:<9} {:>5} {:>9} {:>10} {:>8.3} {:>8.3} {:>6.0}% {:>6.0}% {:>9.2}  {}",
        r.calls,
        r.calls_connected,
        r.packets_received,
        r.late_pct,
        r.lost_pct,
        r.cpu_pct,
        r.server_cpu_pct.unwrap_or(f64::NAN),
        r.generator_late_ticks_pct,
        // The generator itself held up: the step measures the machine, not the server.
        if ok(r) {
            "ok"
        } else if r.generator_late_ticks_pct > 1.0 {
            "over*"
        } else {
            "over"
        }
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument selects nothing here.
    let steps: Vec<usize> = std::env::var("MEDIA_BENCH_STEPS")
        .unwrap_or_else(|_| "50,100,150,200,250,300,350,400".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let seconds: u64 = std::env::var("MEDIA_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let work = tempfile::tempdir().expect("a temp dir");
    println!(
        "{} cores; {seconds} s measured per step; late = more than 10 ms after its timestamp",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "kind      calls connected   received   late %   lost %    CPU  server gen-late%  verdict"
    );
    let (mut best_echo, mut best_core, mut best_bridged) = (0usize, 0usize, 0usize);
    let mut best_trunk = 0usize;
    let with_trunk =
        std::env::var("MEDIA_BENCH_TRUNK").map_or(true, |v| v != "0") && tests::sipp::present();
    let mut all = Vec::new();
    for &n in &steps {
        let echo_step = |args: &[&str], kind: &str| {
            let (mut echo, base) = spawn(common::LOADGEN, args);
            let r = rt.block_on(run(&options(base, echo.id(), n, seconds, true)));
            let _ = echo.kill();
            let _ = echo.wait();
            let r = r.expect("the echo runs");
            row(kind, &r);
            r
        };
        let baseline = echo_step(&["media-echo", "--listen", "127.0.0.1:0"], "baseline");
        if ok(&baseline) {
            best_echo = n;
        }
        let core = echo_step(&["media-echo", "--core", "--listen", "127.0.0.1:0"], "core");
        if ok(&core) {
            best_core = n;
        }

        let dir = work.path().join(format!("step{n}"));
        std::fs::create_dir_all(&dir).expect("step dir");
        let config = dir.join("load.toml");
        std::fs::write(&config, load_config(n, "load").expect("config")).expect("write config");
        let (mut server, base) = serve(&dir, &config);
        let bridged = rt.block_on(run(&options(base, server.id(), n, seconds, false)));
        let _ = server.kill();
        let _ = server.wait();
        let bridged = bridged.expect("the bridged run runs");
        row("bridged", &bridged);
        if ok(&bridged) {
            best_bridged = n;
        }
        let trunk = with_trunk.then(|| {
            let port = tests::sipp::free_port();
            let config = dir.join("trunk.toml");
            let text = load_config_with_trunk(n, "load", port).expect("config");
            std::fs::write(&config, text).expect("write config");
            let (mut server, base) = serve(&dir, &config);
            let mut o = options(base, server.id(), n, seconds, false);
            o.trunk = Some(format!("127.0.0.1:{port}"));
            let r = rt.block_on(run(&o));
            let _ = server.kill();
            let _ = server.wait();
            let r = r.expect("the trunk run runs");
            row("trunk", &r);
            if ok(&r) {
                best_trunk = n;
            }
            r
        });
        let trunk_ok = trunk.as_ref().is_some_and(ok);
        all.push(
            serde_json::json!({"calls": n, "baseline": baseline, "core": core, "bridged": bridged, "trunk": trunk}),
        );
        if !ok(&baseline) && !ok(&core) && !ok(&bridged) && !trunk_ok {
            break;
        }
    }
    let ratio = if best_echo > 0 {
        best_bridged as f64 / best_echo as f64
    } else {
        0.0
    };
    println!("over*: the generator's own ticks ran late (gen-late > 1%): the machine held it up");
    println!(
        "largest step under 1% late and 1% lost: bridged {best_bridged} calls, trunk {best_trunk}, baseline {best_echo} (ratio {:.0}%), core echo {best_core}",
        ratio * 100.0
    );
    println!(
        "{}",
        serde_json::json!({"bridged_calls": best_bridged, "trunk_calls": best_trunk, "baseline_calls": best_echo, "core_echo_calls": best_core, "ratio": ratio, "steps": all})
    );
}
