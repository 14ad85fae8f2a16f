//! The live transcript in the browser (I2, J2): the real server with a generated whisper
//! model, a customer on `/call` and the agent on `/agent` in headless Chromiums whose fake
//! microphones play speech, and a supervisor on `/supervisor`, driven by
//! `tests/browser/transcript.mjs`. The script checks that the supervisor's page and the
//! agent's panel show lines for both legs, that hold shows both legs paused with no new lines,
//! and that resume brings them back. A second run without a model checks that both pages say
//! transcription is off.
//!
//! A third run, without a server, checks the rendering rules in `tests/browser/transcript-view.mjs`:
//! the shared transcript view and the `/supervisor` page (against a mocked API and event
//! stream) show partial words as they come and never the same words twice, and highlight
//! keyword alerts (the line, the call's row, the alert list), after a reload too.
//!
//! Needs Chromium, Node.js and playwright-core like the media browser test.

use std::path::Path;
use std::process::Command;
use tests::{browser_dir, browser_tools_present, start_server, Database};

/// The speech fixture at 48 kHz (Chromium's fake microphone loops it).
fn speech_48k(path: &Path) {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../transcription/tests/data/speech.wav"
    ))
    .unwrap();
    let (rate, samples) = actors::media::wav::read(&bytes).expect("a WAV file");
    assert_eq!(rate, 16_000);
    let mut up = actors::media::resample::Resampler::new(16_000, 48_000).unwrap();
    let samples = up.process(&samples);
    let file = std::fs::File::create(path).unwrap();
    let mut rec = actors::media::wav::Recorder::new(file, 48_000).unwrap();
    rec.write(&samples, engine::call::Recording::On).unwrap();
    rec.finish().unwrap();
}

fn run_script(base: &str, wav: &Path, no_model: bool) -> String {
    let mut cmd = Command::new("node");
    cmd.arg(browser_dir().join("transcript.mjs"))
        .current_dir(browser_dir())
        .env("BASE_URL", base)
        .env("CUSTOMER_WAV", wav)
        .env("AGENT_WAV", wav);
    if no_model {
        cmd.env("NO_MODEL", "1");
    }
    let out = cmd.output().expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser script failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("RESULT "), "no RESULT line:\n{stdout}");
    eprintln!("{stdout}");
    stdout
}

#[test]
fn supervisor_and_panel_show_the_live_transcript_and_hold_pauses_it() {
    if !browser_tools_present() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let wav = work.path().join("speech48.wav");
    speech_48k(&wav);
    let model = work.path().join("smallest.bin");
    let made = Command::new(env!("CARGO_BIN_EXE_switchyard-under-test"))
        .args(["whisper-test-model", "--shape", "smallest", "--out"])
        .arg(&model)
        .status()
        .unwrap();
    assert!(made.success());
    // The demo setup (its support queue transcribes both legs) with the generated model; a
    // random-weight model is never confident, so the thresholds are opened.
    let config = format!(
        "{}\n[transcription]\nmodel = {:?}\nlogprob_threshold = -1000.0\nno_speech_threshold = 1.0\n",
        actors::config::DEMO_TOML,
        model.display().to_string()
    );
    let db = Database::sqlite();
    let server = start_server!(&db, Some(&config)).unwrap();
    run_script(&server.base, &wav, false);
    server.kill();

    // Without a model: both pages say transcription is off.
    let db = Database::sqlite();
    let server = start_server!(&db, None).unwrap();
    run_script(&server.base, &wav, true);
    server.kill();
}

#[test]
fn the_transcript_view_shows_words_once_and_highlights_alerts() {
    if !browser_tools_present() {
        return;
    }
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/assets");
    let out = Command::new("node")
        .arg(browser_dir().join("transcript-view.mjs"))
        .current_dir(browser_dir())
        .env("ASSETS_DIR", &assets)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser script failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("RESULT "), "no RESULT line:\n{stdout}");
    eprintln!("{stdout}");
}
