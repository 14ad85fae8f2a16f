//! The live-transcript latency benchmark: from a leg's audio entering the media fork to its
//! partial segment leaving on the WebSocket.
//!
//! `switchyard serve` runs in its own process with a random-weight model of the exact tiny.en
//! shape (the real tiny.en's compute cost), a queue transcribing both legs, and N web calls
//! from the load generator (real WebRTC peers, each customer and agent sending the speech
//! fixture in a loop). A supervisor's event stream receives the `transcript.partial` events;
//! each carries `heard_at`, when the window's last audio entered the fork, so the receive time
//! minus `heard_at` is the audio-to-screen latency (one clock: same machine).
//!
//! Run with `cargo bench -p tests --bench transcript`. `TRANSCRIPT_BENCH_CALLS` (default 1),
//! `TRANSCRIPT_BENCH_SECONDS` (default 30). Prints p50/p95 and one JSON line.

use futures::StreamExt;

mod common;
use common::serve;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tests::loadgen::{load_config, run, LoadOptions};

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let calls = env_num("TRANSCRIPT_BENCH_CALLS", 1) as usize;
    let seconds = env_num("TRANSCRIPT_BENCH_SECONDS", 30);
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("bench-whisper");
    std::fs::create_dir_all(&dir).expect("bench folder");
    let model = dir.join("tiny-en-random.bin");
    let shape = transcription::ggml::TINY_EN;
    if std::fs::metadata(&model).map(|m| m.len()).ok()
        != Some(transcription::ggml::expected_size(&shape))
    {
        transcription::ggml::write_model_file(&model, &shape, 7).expect("model written");
    }
    let work = tempfile::tempdir().expect("temp dir");
    let config = load_config(calls, "load").expect("config").replacen(
        "web_calls = true\n",
        "web_calls = true\ntranscript = \"both\"\n",
        1,
    ) + &format!(
        "\n[transcription]\nmodel = {:?}\nlogprob_threshold = -1000.0\nno_speech_threshold = 1.0\n",
        model.display().to_string()
    );
    let config_path = work.path().join("config.toml");
    std::fs::write(&config_path, config).expect("config written");
    let (mut server, base) = serve(work.path(), &config_path);

    // The supervisor's stream.
    let http = reqwest::Client::new();
    let login: serde_json::Value = http
        .post(format!("{base}/api/v1/sessions"))
        .json(&serde_json::json!({"username": "root", "password": "load"}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("token");
    let token = login["token"].as_str().expect("token").to_owned();
    let (mut ws, _) = tokio_tungstenite::connect_async(format!(
        "{}/api/v1/events?token={token}",
        base.replace("http://", "ws://")
    ))
    .await
    .expect("event stream");
    let collect = tokio::spawn(async move {
        let (mut partial, mut finals) = (Vec::new(), 0usize);
        while let Some(Ok(msg)) = ws.next().await {
            let Ok(text) = msg.into_text() else { continue };
            let received = now_ms();
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            match v["type"].as_str() {
                Some("transcript.partial") => {
                    if let Some(heard) = v["heard_at"].as_i64() {
                        partial.push(received - heard);
                    }
                }
                Some("transcript.final") => finals += 1,
                _ => {}
            }
        }
        (partial, finals)
    });

    let mut options = LoadOptions::for_load_config(base.clone(), calls, seconds, false);
    options.wav = Some(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../transcription/tests/data/speech.wav"
        )
        .into(),
    );
    let report = run(&options).await.expect("load run");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _ = server.kill();
    let _ = server.wait();
    let (mut partial, finals) = tokio::time::timeout(Duration::from_secs(10), collect)
        .await
        .map(|r| r.expect("collector"))
        .unwrap_or_default();
    partial.sort_unstable();
    let (p50, p95) = (percentile(&partial, 0.5), percentile(&partial, 0.95));
    println!(
        "calls {calls} (connected {}), {seconds} s: {} partials, {finals} finals; audio-to-WebSocket latency of partials p50 {p50} ms, p95 {p95} ms",
        report.calls_connected,
        partial.len()
    );
    println!(
        "JSON {}",
        serde_json::json!({"calls": calls, "connected": report.calls_connected, "partials": partial.len(),
            "finals": finals, "p50_ms": p50, "p95_ms": p95})
    );
}
