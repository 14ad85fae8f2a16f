//! The stored transcript in the CRM call log (I3, G3): a queue that keeps transcripts, a
//! webhook connector at a local receiver, and one call between two real WebRTC peers of the
//! load generator speaking the fixture (on a generated whisper model). The call's last
//! utterances are decoded after it ends; the log waits for them: the one log the receiver gets
//! carries exactly the call's stored transcript, every final (those stored after the end
//! too), in the order spoken, with both legs labelled.

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tests::loadgen::{load_config, run, LoadOptions};
use tests::{start_server, when_notified, Database};

const SECRET: &str = "a-long-shared-secret";

/// The logs a webhook receiver accepted, and a notification per delivery.
#[derive(Clone, Default)]
struct Receiver {
    logs: Arc<Mutex<Vec<Value>>>,
    changed: Arc<tokio::sync::Notify>,
}

impl Receiver {
    async fn serve(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let me = self.clone();
        let app = Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let me = me.clone();
                async move {
                    let ts: i64 = headers["x-switchyard-timestamp"]
                        .to_str()
                        .unwrap()
                        .parse()
                        .unwrap();
                    let sig = headers["x-switchyard-signature"].to_str().unwrap();
                    if !cti_adapter::connector::verify(SECRET, ts, &body, sig) {
                        return StatusCode::UNAUTHORIZED;
                    }
                    me.logs
                        .lock()
                        .unwrap()
                        .push(serde_json::from_slice(&body).unwrap());
                    me.changed.notify_waiters();
                    StatusCode::OK
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_call_log_carries_every_stored_final_in_spoken_order() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("smallest.bin");
    let made = Command::new(env!("CARGO_BIN_EXE_switchyard-under-test"))
        .args(["whisper-test-model", "--shape", "smallest", "--out"])
        .arg(&model)
        .status()
        .unwrap();
    assert!(made.success());
    let receiver = Receiver::default();
    let url = receiver.serve().await;
    // A random-weight model is never confident: the thresholds are opened so its words pass.
    // Utterances end only with 5 s of silence (the fixture pauses less) and are decoded only
    // when they end (no partials): each leg speaks one utterance, whose final is decoded
    // after the call ends.
    let config = load_config(1, "load").unwrap().replacen(
        "web_calls = true\n",
        "web_calls = true\ntranscript = \"both\"\nstore_transcript = true\n",
        1,
    ) + &format!(
        "\n[transcription]\nmodel = {:?}\nlogprob_threshold = -1000.0\nno_speech_threshold = 1.0\n\
         hangover_ms = 5000\nsettle_ms = 5000\nmax_window_ms = 30000\nstep_ms = 60000\n\
         \n[cti]\nretry = {{ max_attempts = 50, base_ms = 50, max_ms = 300 }}\n\
         connectors = [{{ kind = \"webhook\", name = \"hook\", url = \"{url}\", secret = \"{SECRET}\" }}]\n",
        model.display().to_string()
    );
    let db = Database::sqlite();
    let server = start_server!(&db, Some(&config)).unwrap();
    let root = server.login("root", "load").await.unwrap();
    let mut events = server.events(&root).await.unwrap();

    // One call; both peers speak the fixture in a loop until the call ends.
    let mut options = LoadOptions::for_load_config(server.base.clone(), 1, 12, false);
    options.wav = Some(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../transcription/tests/data/speech.wav"
        )
        .into(),
    );
    let load = tokio::spawn(async move { run(&options).await });
    let answered = events
        .next_matching(Duration::from_secs(30), |e| e["type"] == "call.answered")
        .await
        .unwrap();
    let call = answered["call_id"].as_str().unwrap().to_owned();
    let report = load.await.unwrap().unwrap();
    assert_eq!(report.calls_connected, 1, "{report:?}");
    let ended = events
        .next_matching(Duration::from_secs(30), |e| {
            e["type"] == "call.ended" && e["call_id"] == call.as_str()
        })
        .await
        .unwrap();

    // The log arrives once the legs have flushed.
    let log = when_notified(
        "the call's log at the webhook",
        Duration::from_secs(60),
        &receiver.changed,
        || receiver.logs.lock().unwrap().first().cloned(),
    )
    .await;
    assert_eq!(log["log"]["call_id"], call.as_str(), "{log}");
    assert_eq!(log["log"]["version"], 1);
    let stored = server
        .get(&format!("/api/v1/calls/{call}/transcript"), &root)
        .await
        .unwrap();
    let segments = stored["segments"].as_array().unwrap();
    let lines = log["log"]["transcript"].as_array().unwrap();
    let said = |v: &Value| {
        (
            v["leg"].as_str().unwrap().to_owned(),
            v["agent"].clone(),
            v["spoken_at"].as_i64().unwrap(),
            v["text"].as_str().unwrap().to_owned(),
        )
    };
    assert!(
        ["agent", "customer"]
            .iter()
            .all(|leg| segments.iter().any(|s| s["leg"] == *leg)),
        "both legs were transcribed: {stored}"
    );
    // Every stored final, in the order spoken, labelled; nothing left out or added.
    assert_eq!(
        lines.iter().map(said).collect::<Vec<_>>(),
        segments.iter().map(said).collect::<Vec<_>>()
    );
    assert!(lines
        .windows(2)
        .all(|w| w[0]["spoken_at"].as_i64() <= w[1]["spoken_at"].as_i64()));
    assert!(lines
        .iter()
        .filter(|l| l["leg"] == "agent")
        .all(|l| l["agent"] == "agent1"));
    assert_eq!(log["log"]["transcript_truncated"], false);
    let ended_at = ended["at"].as_i64().unwrap();
    let after_end = segments
        .iter()
        .filter(|s| s["at"].as_i64() > Some(ended_at))
        .count();
    eprintln!(
        "{} stored finals, {after_end} of them stored after the call ended",
        segments.len()
    );
    assert_eq!(after_end, segments.len(), "finals before the end: {stored}");
    // One log: the held version went out whole, not a first one and a correction.
    let outbox = server.get("/api/v1/cti/outbox", &root).await.unwrap();
    assert_eq!(outbox["total"], 1, "{outbox}");
    assert_eq!(receiver.logs.lock().unwrap().len(), 1);
    server.kill();
}
