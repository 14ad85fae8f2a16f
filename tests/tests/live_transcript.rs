//! Live transcripts end to end (I1–I3, J2): a customer and an agent, real WebRTC peers of the
//! load generator, speak on a call; a supervisor's event stream receives transcript events for
//! both legs, labelled by leg; while the call is held, none arrive; the finals are stored with
//! the call when its queue says so.

use serde_json::Value;
use std::process::Command;
use std::time::Duration;
use tests::loadgen::{load_config, run, LoadOptions};
use tests::{start_server, Database};

fn is_words(e: &Value) -> bool {
    e["type"] == "transcript.partial" || e["type"] == "transcript.final"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_legs_reach_the_supervisor_and_hold_pauses_them() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("smallest.bin");
    let made = Command::new(env!("CARGO_BIN_EXE_switchyard-under-test"))
        .args(["whisper-test-model", "--shape", "smallest", "--out"])
        .arg(&model)
        .status()
        .unwrap();
    assert!(made.success());
    // A random-weight model is never confident: the thresholds are opened so its words pass.
    let config = load_config(1, "load").unwrap().replacen(
        "web_calls = true\n",
        "web_calls = true\ntranscript = \"both\"\nstore_transcript = true\n",
        1,
    ) + &format!(
        "\n[transcription]\nmodel = {:?}\nlogprob_threshold = -1000.0\nno_speech_threshold = 1.0\n",
        model.display().to_string()
    );
    let db = Database::sqlite();
    let server = start_server!(&db, Some(&config)).unwrap();
    let root = server.login("root", "load").await.unwrap();
    let status = server.get("/api/v1/transcription", &root).await.unwrap();
    assert_eq!(status["enabled"], true, "{status}");
    assert_eq!(status["queues"][0]["mode"], "both", "{status}");
    let mut events = server.events(&root).await.unwrap();

    // One call; both peers send the speech fixture in a loop for 20 s.
    let mut options = LoadOptions::for_load_config(server.base.clone(), 1, 20, false);
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
    // Words from both legs, labelled.
    let mut legs = std::collections::HashSet::new();
    while legs.len() < 2 {
        let e = events
            .next_matching(Duration::from_secs(30), is_words)
            .await
            .unwrap();
        assert_eq!(e["call_id"], call.as_str());
        assert!(e["text"].as_str().is_some_and(|t| !t.is_empty()), "{e}");
        assert!(e["end_ms"].as_u64() >= e["start_ms"].as_u64(), "{e}");
        if e["leg"] == "agent" {
            assert_eq!(e["agent"], "agent1", "{e}");
        }
        legs.insert(e["leg"].as_str().unwrap().to_owned());
    }
    assert!(legs.contains("agent") && legs.contains("customer"));

    // Hold: each leg finishes what was said, says it paused, then nothing until the resume.
    let agent = server.login("agent1", "load").await.unwrap();
    let mut agent_events = server.events(&agent).await.unwrap();
    server
        .post(&format!("/api/v1/calls/{call}/hold"), &agent, Value::Null)
        .await
        .unwrap();
    let mut paused = std::collections::HashSet::new();
    while paused.len() < 2 {
        let e = events
            .next_matching(Duration::from_secs(15), |e| {
                e["type"] == "transcript.paused"
            })
            .await
            .unwrap();
        assert_eq!(e["reason"], "hold", "{e}");
        paused.insert(e["leg"].as_str().unwrap().to_owned());
    }
    let held = tokio::time::timeout(
        Duration::from_secs(4),
        events.next_matching(Duration::from_secs(5), is_words),
    )
    .await;
    assert!(
        held.is_err() || held.as_ref().is_ok_and(|r| r.is_err()),
        "words while held: {held:?}"
    );
    server
        .post(&format!("/api/v1/calls/{call}/resume"), &agent, Value::Null)
        .await
        .unwrap();
    let (before, _) = events
        .until(Duration::from_secs(30), |e| {
            is_words(e) && e["leg"] == "customer"
        })
        .await
        .unwrap();
    assert!(
        before.iter().any(|e| e["type"] == "transcript.resumed"),
        "{before:?}"
    );

    // The call's own agent sees its transcript too (its panel shows it).
    let mine = agent_events
        .next_matching(Duration::from_secs(30), is_words)
        .await
        .unwrap();
    assert_eq!(mine["call_id"], call.as_str());

    // The call ends with the run; the queue keeps finals, so the call's record has them.
    let report = load.await.unwrap().unwrap();
    assert_eq!(report.calls_connected, 1, "{report:?}");
    // The last utterances' finals are decoded after the hang-up.
    // A final is stored before it is published: look again at each one that arrives.
    let stored = loop {
        let v = server
            .get(&format!("/api/v1/calls/{call}/transcript"), &root)
            .await
            .unwrap();
        let segs = v["segments"].as_array().cloned().unwrap_or_default();
        if ["agent", "customer"]
            .iter()
            .all(|leg| segs.iter().any(|s| s["leg"] == *leg))
        {
            break v;
        }
        events
            .next_matching(Duration::from_secs(10), |e| e["type"] == "transcript.final")
            .await
            .expect("stored finals of both legs");
    };
    assert_eq!(stored["stored"], true, "{stored}");
    let segs = stored["segments"].as_array().unwrap();
    assert!(
        ["agent", "customer"]
            .iter()
            .all(|leg| segs.iter().any(|s| s["leg"] == *leg && s["text"] != "")),
        "{stored}"
    );
    // The agent on the call may read it too; another agent's token may not (none here).
    let own = server
        .get(&format!("/api/v1/calls/{call}/transcript"), &agent)
        .await
        .unwrap();
    assert_eq!(own["segments"], stored["segments"]);
    server.kill();
}
