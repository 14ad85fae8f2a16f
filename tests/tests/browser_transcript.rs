//! The live transcript in the browser (I2, J2): the real server with the real whisper tiny.en
//! model, a customer on `/call` and the agent on `/agent` in headless Chromiums whose fake
//! microphones play espeak-ng's speech, and a supervisor on `/supervisor`, driven by
//! `tests/browser/transcript.mjs`. The script checks that the supervisor's page shows the
//! customer's sentence in the right words on the customer's lines, no line with a phrase
//! written twice, the queue's keyword alert that sentence says raised from the real model's
//! words and highlighted on the call's row, its line and the alert list, that the supervisor's
//! page and the agent's panel show lines for both legs, that hold shows both legs paused with
//! no new lines,
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
use tests::speech::{self, Voice};
use tests::{browser_dir, browser_tools_present, start_server, Database};

/// The customer's and the agent's words.
const CUSTOMER_SAYS: &str = "I would like to cancel my account at the end of the month.";
/// The demo support queue's keyword alert that sentence says (J4, severity warning).
const ALERT_PHRASE: &str = "cancel my account";
const AGENT_SAYS: &str = "Thank you for calling customer support, how can I help you today?";

/// `text` spoken by espeak-ng at 48 kHz with a second of silence around it, as a WAV that
/// Chromium's fake microphone loops.
fn speech_48k(path: &Path, text: &str, voice: Voice) {
    let mut samples = vec![0i16; 48_000];
    samples.extend(speech::speak(text, voice, 48_000));
    samples.extend(vec![0i16; 48_000]);
    let file = std::fs::File::create(path).unwrap();
    let mut rec = actors::media::wav::Recorder::new(file, 48_000).unwrap();
    rec.write(&samples, engine::call::Recording::On).unwrap();
    rec.finish().unwrap();
}

fn run_script(base: &str, wavs: (&Path, &Path), no_model: bool) -> String {
    let mut cmd = Command::new("node");
    cmd.arg(browser_dir().join("transcript.mjs"))
        .current_dir(browser_dir())
        .env("BASE_URL", base)
        .env("CUSTOMER_WAV", wavs.0)
        .env("AGENT_WAV", wavs.1)
        .env("CUSTOMER_SAYS", CUSTOMER_SAYS)
        .env("ALERT_PHRASE", ALERT_PHRASE);
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
    // The real whisper model (tiny.en, imported by ./test.sh) on espeak-ng's speech.
    let Some(model) = speech::real_model() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let (customer, agent) = (
        work.path().join("customer.wav"),
        work.path().join("agent.wav"),
    );
    speech_48k(&customer, CUSTOMER_SAYS, Voice::Female);
    speech_48k(&agent, AGENT_SAYS, Voice::Male);
    // The demo setup (its support queue transcribes both legs) with the real model and the
    // default thresholds.
    let config = format!(
        "{}\n[transcription]\nmodel = {:?}\n",
        actors::config::DEMO_TOML,
        model.display().to_string()
    );
    let db = Database::sqlite();
    let server = start_server!(&db, Some(&config)).unwrap();
    run_script(&server.base, (&customer, &agent), false);
    server.kill();

    // Without a model: both pages say transcription is off.
    let db = Database::sqlite();
    let server = start_server!(&db, None).unwrap();
    run_script(&server.base, (&customer, &agent), true);
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
