//! The browser test of the media issue: the real server, a customer in headless Chromium on
//! `/call`, the agent in another headless Chromium on `/agent` (each browser's fake
//! microphone plays its own tone), driven by `tests/browser/media.mjs` through
//! playwright-core. The script checks what each page hears (getStats and the frequency of the
//! remote audio), the server's per-leg counters, hold and resume, and drives the recording;
//! this test then checks the recording file: both tones in it and a silent masked stretch.
//!
//! Needs Chromium (`/usr/bin/chromium`), Node.js and `npm ci` in `tests/browser` (`./test.sh`
//! installs them). Without them the test says so and skips on a user's machine; in CI (`CI`
//! set) that is a failure.

use actors::media::tone::goertzel;
use std::path::Path;
use std::process::Command;
use tests::{browser_dir, browser_tools_present, start_server, Database};

const CUSTOMER_HZ: f64 = 700.0;
const AGENT_HZ: f64 = 1_500.0;

/// A 48 kHz mono 16-bit WAV of a steady tone, `secs` long (Chromium loops it).
fn tone_wav(path: &Path, freq: f64, secs: u32) {
    let rate = 48_000u32;
    let n = rate * secs;
    let mut bytes = Vec::with_capacity(44 + 2 * n as usize);
    let data = 2 * n;
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + data).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes());
    bytes.extend_from_slice(&rate.to_le_bytes());
    bytes.extend_from_slice(&(rate * 2).to_le_bytes());
    bytes.extend_from_slice(&2u16.to_le_bytes());
    bytes.extend_from_slice(&16u16.to_le_bytes());
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&data.to_le_bytes());
    for i in 0..n {
        let v = (f64::from(i) * std::f64::consts::TAU * freq / f64::from(rate)).sin() * 12_000.0;
        bytes.extend_from_slice(&(v as i16).to_le_bytes());
    }
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_customer_calls_from_the_browser_and_the_agent_answers_in_the_panel() {
    if !browser_tools_present() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let recordings = work.path().join("recordings");
    let (customer_wav, agent_wav) = (
        work.path().join("customer.wav"),
        work.path().join("agent.wav"),
    );
    tone_wav(&customer_wav, CUSTOMER_HZ, 10);
    tone_wav(&agent_wav, AGENT_HZ, 10);
    let db = Database::sqlite();
    let rec = recordings.to_str().unwrap();
    let server = start_server!(&db, None, &["--recordings-dir", rec]).unwrap();

    let out = Command::new("node")
        .arg(browser_dir().join("media.mjs"))
        .current_dir(browser_dir())
        .env("BASE_URL", &server.base)
        .env("CUSTOMER_WAV", &customer_wav)
        .env("AGENT_WAV", &agent_wav)
        .env("CUSTOMER_HZ", CUSTOMER_HZ.to_string())
        .env("AGENT_HZ", AGENT_HZ.to_string())
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser script failed:\n{stdout}\n{stderr}"
    );
    let result: serde_json::Value = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .map(|j| serde_json::from_str(j).unwrap())
        .unwrap_or_else(|| panic!("no RESULT line:\n{stdout}"));
    eprintln!("{stdout}");
    let call_id = result["call_id"].as_str().unwrap();

    // The recording: both parties' tones, and a silent stretch where it was masked.
    let path = recordings.join(format!("{call_id}.wav"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (rate, samples) = actors::media::wav::read(&bytes).expect("a WAV file");
    assert_eq!(rate, 8_000);
    assert!(samples.len() > 3 * 8_000, "{} samples", samples.len());
    let first = &samples[800..8_000];
    assert!(
        goertzel(first, CUSTOMER_HZ, 8_000) > 0.002,
        "the customer is in the recording"
    );
    assert!(
        goertzel(first, AGENT_HZ, 8_000) > 0.002,
        "the agent is in the recording"
    );
    let longest_silence = samples
        .split(|s| *s != 0)
        .map(<[i16]>::len)
        .max()
        .unwrap_or(0);
    assert!(
        longest_silence >= 8_000,
        "the masked 1.5 s is silent (longest silence {longest_silence} samples)"
    );
    let tail = &samples[samples.len() - 6_000..];
    assert!(
        goertzel(tail, CUSTOMER_HZ, 8_000) > 0.002,
        "recorded again after the mask"
    );
    server.kill();
}
