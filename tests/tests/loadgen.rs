//! The media load generator against the real server (a small run: what the benchmark does at
//! scale), and against the echo baseline.

use std::process::{Command, Stdio};
use tests::loadgen::{load_config, load_config_with_trunk, run, LoadOptions};
use tests::{start_server, Database};

fn options(server: &str, calls: usize, echo: bool) -> LoadOptions {
    LoadOptions::for_load_config(server.to_owned(), calls, 2, echo)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_generator_bridges_calls_through_the_server() {
    let db = Database::sqlite();
    let rec = tempfile::tempdir().unwrap();
    let config = load_config(3, "load").unwrap();
    let server = start_server!(
        &db,
        Some(&config),
        &["--recordings-dir", rec.path().to_str().unwrap()]
    )
    .unwrap();
    let report = run(&options(&server.base, 3, false)).await.unwrap();
    assert_eq!(
        (report.peers_connected, report.calls_connected),
        (6, 3),
        "{report:?}"
    );
    // Two seconds of 50 packets/s from each of six peers, received by the other side.
    assert!(
        report.packets_received > 6 * 80,
        "{} packets received",
        report.packets_received
    );
    assert!(report.lost_pct < 5.0, "{report:?}");
    // The calls were hung up by the customers.
    let root = server.login("root", "load").await.unwrap();
    let calls = server
        .get("/api/v1/calls?state=ended", &root)
        .await
        .unwrap();
    assert_eq!(calls["calls"].as_array().unwrap().len(), 3, "{calls}");
    server.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trunk_customers_from_sipp_reach_the_agents_peers_through_the_bridge() {
    if !tests::sipp::present() {
        return;
    }
    let db = Database::sqlite();
    // A port free a moment ago may be taken by the next one to ask (the other tests here
    // bind many): a server that could not bind it is started again on another.
    let (server, port) = (0..5)
        .find_map(|_| {
            let port = tests::sipp::free_port();
            let config = load_config_with_trunk(2, "load", port).unwrap();
            start_server!(&db, Some(&config)).ok().map(|s| (s, port))
        })
        .expect("the server starts on a free SIP port");
    let report = run(&LoadOptions {
        trunk: Some(format!("127.0.0.1:{port}")),
        ..options(&server.base, 2, false)
    })
    .await
    .unwrap();
    assert_eq!(
        (report.peers_connected, report.calls_connected),
        (2, 2),
        "{report:?}"
    );
    // Two seconds of sipp's 50 packets/s per call, through the bridge to the agents' peers.
    assert!(report.packets_received > 2 * 80, "{report:?}");
    assert!(report.lost_pct < 5.0, "{report:?}");
    // sipp sends a packet 20 ms early now and then; forwarded as it came, that made about half
    // of what the agents' peers received late (47 %). The carrier's jitter buffer plays it
    // out on the call's clock: late now is only what a busy machine adds.
    assert!(report.late_pct < 10.0, "{report:?}");
    // The agents hung up: every trunk call is over.
    let root = server.login("root", "load").await.unwrap();
    let calls = server
        .get("/api/v1/calls?state=ended", &root)
        .await
        .unwrap();
    assert_eq!(calls["calls"].as_array().unwrap().len(), 2, "{calls}");
    server.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_echo_baseline_sends_back_what_it_receives() {
    echo_sends_back(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_core_echo_sends_back_what_it_receives() {
    echo_sends_back(&["--core"]).await;
}

async fn echo_sends_back(args: &[&str]) {
    let mut echo = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["media-echo", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufRead::lines(std::io::BufReader::new(echo.stdout.take().unwrap()));
    let first = out.next().unwrap().unwrap();
    let base = first
        .split("listening on ")
        .nth(1)
        .unwrap()
        .trim()
        .to_owned();
    let report = run(&options(&base, 2, true)).await.unwrap();
    // The same with Opus: the peers send the audio encoded once, the echo decodes and
    // re-encodes it.
    let opus = run(&LoadOptions {
        codec: actors::media::codec::Codec::Opus,
        ..options(&base, 1, true)
    })
    .await
    .unwrap();
    let _ = echo.kill();
    let _ = echo.wait();
    assert_eq!(report.peers_connected, 4, "{report:?}");
    assert!(report.packets_received > 4 * 80, "{report:?}");
    assert!(report.packets_sent > 4 * 80, "{report:?}");
    assert_eq!(opus.peers_connected, 2, "{opus:?}");
    assert!(opus.packets_received > 2 * 80, "{opus:?}");
}
