//! The publisher of a leg's transcript on paused time: events, stored finals, keyword alerts,
//! the order of both legs' words, and the CRM log held until the call's last final is in.

use super::*;
use crate::clock::Clock;
use crate::config::Config;
use crate::events::Event;
use crate::outbox::{Outbox, TRANSCRIPT_WAIT_MS};
use engine::call::{Call, Party};
use serde_json::Value;
use std::time::Duration;
use tokio::sync::broadcast;
use transcription::Segment;

const CONFIG: &str = r#"
[[queues]]
id = "kept"
transcript = "both"
store_transcript = true
[[queues.alerts]]
phrase = "cancel my account"
severity = "critical"
[[queues.alerts]]
phrase = "refund"
severity = "info"

[[queues]]
id = "live"
transcript = "both"
[[queues.alerts]]
phrase = "refund"
"#;

struct Setup {
    sink: TranscriptSink,
    store: Store,
    clock: Clock,
    events: broadcast::Receiver<Event>,
    flushing: Flushing,
}

fn setup(outbox: impl FnOnce(&Store, Clock, &Flushing) -> Option<Outbox>) -> Setup {
    let config = Config::from_toml(CONFIG).unwrap();
    let (store, clock, bus) = (Store::memory(), Clock::new(), EventBus::new(256));
    let flushing = Flushing::default();
    let outbox = outbox(&store, clock, &flushing);
    let events = bus.subscribe();
    let sink = TranscriptSink::new(
        bus,
        store.clone(),
        clock,
        &config.queues,
        flushing.clone(),
        outbox,
    );
    Setup {
        sink,
        store,
        clock,
        events,
        flushing,
    }
}

fn no_outbox(_: &Store, _: Clock, _: &Flushing) -> Option<Outbox> {
    None
}

fn words(leg: Leg, start_ms: u64, end_ms: u64, text: &str, stability: Stability) -> Output {
    Output::Segment(Segment::new(leg, start_ms, end_ms, text, stability).unwrap())
}

fn fin(start_ms: u64, end_ms: u64, text: &str) -> Output {
    words(Leg::Customer, start_ms, end_ms, text, Stability::Final)
}

/// The events published so far, as clients see them.
fn seen(events: &mut broadcast::Receiver<Event>) -> Vec<Value> {
    std::iter::from_fn(|| events.try_recv().ok())
        .map(|e| e.to_json())
        .collect()
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

fn customer(s: &Setup, call: &str, queue: &str) -> Publisher {
    s.sink.publisher(
        call.into(),
        queue.into(),
        &Participant::Customer,
        vec!["alice".into()],
    )
}

#[tokio::test(start_paused = true)]
async fn a_final_with_a_phrase_is_stored_then_published_with_its_alert() {
    let mut s = setup(no_outbox);
    let mut out = customer(&s, "c1", "kept");
    // A partial never raises an alert: it may still change.
    out.publish(
        vec![words(
            Leg::Customer,
            0,
            900,
            "I want to cancel my account",
            Stability::Partial,
        )],
        100,
    )
    .await;
    assert_eq!(types(&seen(&mut s.events)), ["transcript.partial"]);
    out.publish(
        vec![
            fin(0, 1_800, "I want to CANCEL my account."),
            words(Leg::Customer, 1_800, 2_400, "And a", Stability::Partial),
        ],
        200,
    )
    .await;
    let e = seen(&mut s.events);
    assert_eq!(
        types(&e),
        ["transcript.final", "transcript.alert", "transcript.partial"]
    );
    let alert = &e[1];
    for (field, want) in [
        ("call_id", "c1"),
        ("queue", "kept"),
        ("leg", "customer"),
        ("phrase", "cancel my account"),
        ("severity", "critical"),
        ("text", "I want to CANCEL my account."),
    ] {
        assert_eq!(alert[field], want, "{field}: {alert}");
    }
    assert_eq!(alert["agents"], serde_json::json!(["alice"]));
    assert_eq!(alert["spoken_at"], e[0]["spoken_at"]);
    assert_eq!(
        (alert["start_ms"].as_u64(), alert["end_ms"].as_u64()),
        (Some(0), Some(1_800))
    );
    // Stored before published: the call's record lists the final and its alert.
    let rows = s.store.transcript("c1").await.unwrap();
    assert_eq!(rows.len(), 1);
    let alerts = s.store.alerts("c1").await.unwrap();
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert_eq!(
        (
            a.phrase.as_str(),
            a.severity.as_str(),
            a.text.as_deref(),
            a.spoken_at
        ),
        (
            "cancel my account",
            "critical",
            Some("I want to CANCEL my account."),
            rows[0].spoken_at
        )
    );
    // Another final, another phrase.
    out.publish(vec![fin(2_400, 3_000, "and a refund.")], 100)
        .await;
    let e = seen(&mut s.events);
    assert_eq!(types(&e), ["transcript.final", "transcript.alert"]);
    assert_eq!(
        (e[1]["phrase"].as_str(), e[1]["severity"].as_str()),
        (Some("refund"), Some("info"))
    );
}

#[tokio::test(start_paused = true)]
async fn alerts_are_kept_without_their_words_where_transcripts_are_not() {
    let mut s = setup(no_outbox);
    let mut out = customer(&s, "c2", "live");
    out.publish(vec![fin(0, 900, "A refund, please.")], 100)
        .await;
    let e = seen(&mut s.events);
    assert_eq!(types(&e), ["transcript.final", "transcript.alert"]);
    // The live event carries the words (the same audience saw the final).
    assert_eq!(e[1]["text"], "A refund, please.");
    assert_eq!(e[1]["severity"], "warning");
    assert!(s.store.transcript("c2").await.unwrap().is_empty());
    let alerts = s.store.alerts("c2").await.unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (alerts[0].phrase.as_str(), alerts[0].text.as_deref()),
        ("refund", None)
    );
    // Nothing of this queue is stored: the call never waits for its transcript.
    assert!(!s.flushing.busy(&"c2".into()));
}

#[tokio::test(start_paused = true)]
async fn a_phrase_across_two_finals_alerts_once_unless_a_pause_came_between() {
    let mut s = setup(no_outbox);
    let mut out = customer(&s, "c3", "kept");
    out.publish(vec![fin(0, 900, "I want to cancel")], 100)
        .await;
    out.publish(vec![fin(900, 1_500, "my account")], 100).await;
    let e = seen(&mut s.events);
    assert_eq!(
        types(&e),
        ["transcript.final", "transcript.final", "transcript.alert"]
    );
    assert_eq!(e[2]["text"], "my account");
    out.publish(vec![fin(1_500, 2_000, "cancel my")], 100).await;
    out.publish(vec![Output::Paused(PauseReason::Hold)], 0)
        .await;
    out.publish(vec![Output::Resumed], 0).await;
    out.publish(vec![fin(9_000, 9_500, "account")], 100).await;
    let e = seen(&mut s.events);
    assert!(!types(&e).contains(&"transcript.alert"), "{e:?}");
    assert_eq!(s.store.alerts("c3").await.unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn both_legs_words_are_ordered_by_when_they_were_spoken() {
    let mut s = setup(no_outbox);
    let t0 = s.clock.now().0;
    // The customer's leg begins when the customer calls; the agent's when the call is
    // answered, 20 s later: their own times are 20 s apart.
    let mut cust = customer(&s, "c4", "kept");
    tokio::time::advance(Duration::from_secs(20)).await;
    let mut agent = s.sink.publisher(
        "c4".into(),
        "kept".into(),
        &Participant::Agent {
            agent: "alice".into(),
        },
        vec!["alice".into()],
    );
    // The agent greets (its time 0.5–1.5 s, heard at once)...
    tokio::time::advance(Duration::from_millis(1_800)).await;
    agent
        .publish(
            vec![words(
                Leg::Agent,
                500,
                1_500,
                "Hello, this is Alice.",
                Stability::Final,
            )],
            300,
        )
        .await;
    // ...then the customer answers (its time 22–23.5 s), transcribed 0.7 s later.
    tokio::time::advance(Duration::from_millis(2_200)).await;
    cust.publish(
        vec![
            fin(22_000, 23_000, "Hi, I need"),
            words(Leg::Customer, 23_000, 23_500, "a", Stability::Partial),
        ],
        500,
    )
    .await;
    let rows = s.store.transcript("c4").await.unwrap();
    let texts: Vec<&str> = rows.iter().map(|r| r.text.as_str()).collect();
    assert_eq!(texts, ["Hello, this is Alice.", "Hi, I need"]);
    assert_eq!(rows[0].spoken_at, t0 + 20_500);
    assert_eq!(rows[1].spoken_at, t0 + 22_000);
    let e = seen(&mut s.events);
    assert_eq!(e[0]["spoken_at"], t0 + 20_500);
    assert_eq!(e[0]["agent"], "alice");
    // A step of finals alone (its window ends after them) never moves the leg's time later...
    tokio::time::advance(Duration::from_millis(500)).await;
    cust.publish(vec![fin(23_000, 23_400, "a refund.")], 600)
        .await;
    let last = s.store.transcript("c4").await.unwrap().pop().unwrap();
    assert_eq!(last.spoken_at, t0 + 23_000);
    // ...and a leg's words never go back before its last final, whatever the estimate.
    cust.publish(
        vec![
            fin(23_400, 23_800, "Today."),
            words(Leg::Customer, 23_800, 26_000, "If", Stability::Partial),
        ],
        1_500,
    )
    .await;
    let last = s.store.transcript("c4").await.unwrap().pop().unwrap();
    assert_eq!(
        (last.text.as_str(), last.spoken_at),
        ("Today.", t0 + 23_000)
    );
}

fn answered_call(id: &str) -> Call {
    let t = |ms: i64| engine::Timestamp(ms);
    let mut c = Call::new(
        id.into(),
        t(1_000),
        "+15550123".into(),
        "kept".into(),
        0,
        Default::default(),
    );
    c.offer(t(2_000), vec!["alice".into()], Duration::from_secs(18))
        .unwrap();
    c.accept(t(3_000), &"alice".into()).unwrap();
    c.hangup(t(60_000), Party::Customer).unwrap();
    c
}

fn with_outbox(store: &Store, clock: Clock, flushing: &Flushing) -> Option<Outbox> {
    let hook: cti_adapter::connector::ConnectorConfig = toml::from_str(
        "kind = \"webhook\"\nname = \"hook\"\nurl = \"http://127.0.0.1:9/hook\"\nsecret = \"0123456789abcdef\"\n",
    )
    .unwrap();
    Some(
        Outbox::new(store.clone(), clock, vec![hook], Default::default())
            .with_transcripts(flushing.clone()),
    )
}

fn lines(row: &crate::store::OutboxRow) -> Vec<String> {
    let log: cti_adapter::log::CallLog = serde_json::from_str(&row.payload).unwrap();
    log.transcript.into_iter().map(|l| l.text).collect()
}

/// Steps the runtime until the spawned release made the row due (no time passes).
async fn released(s: &Setup, key: &str) -> crate::store::OutboxRow {
    for _ in 0..100 {
        let rows = s.store.outbox(Some("pending")).await.unwrap();
        let now = s.clock.now().0;
        if let Some(r) = rows.into_iter().find(|r| r.key == key && r.next_at <= now) {
            return r;
        }
        tokio::task::yield_now().await;
    }
    panic!("the held row {key} was not released");
}

#[tokio::test(start_paused = true)]
async fn a_call_log_waits_for_the_last_final_of_its_legs() {
    let s = setup(with_outbox);
    let outbox = with_outbox(&s.store, s.clock, &s.flushing).unwrap();
    let call = answered_call("c5");
    let mut out = customer(&s, "c5", "kept");
    assert!(s.flushing.busy(call.id()));
    out.publish(vec![fin(0, 900, "I want to cancel my account.")], 100)
        .await;

    // The call ends while its leg still decodes its last utterance: the log is held.
    let now = s.clock.now().0;
    let rows = outbox.rows_for(&call).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].next_at, now + TRANSCRIPT_WAIT_MS);
    assert_eq!(lines(&rows[0]), ["I want to cancel my account."]);
    s.store
        .save_call_with_outbox(&call, 0, now, &rows)
        .await
        .unwrap();
    outbox.queued(call.id(), &rows).await;
    assert_eq!(s.store.outbox(Some("pending")).await.unwrap(), rows);

    // The last final comes after the end; the leg's task ends: the log gets it, due now.
    tokio::time::advance(Duration::from_millis(700)).await;
    out.publish(vec![fin(900, 2_000, "Thank you.")], 300).await;
    drop(out);
    assert!(!s.flushing.busy(call.id()));
    let released = released(&s, &rows[0].key).await;
    assert_eq!(
        lines(&released),
        ["I want to cancel my account.", "Thank you."]
    );
    assert_eq!((released.attempts, released.version), (0, 1));
}

#[tokio::test(start_paused = true)]
async fn a_log_held_while_its_last_leg_finished_is_released_when_written() {
    let s = setup(with_outbox);
    let outbox = with_outbox(&s.store, s.clock, &s.flushing).unwrap();
    let call = answered_call("c6");
    let mut out = customer(&s, "c6", "kept");
    let rows = outbox.rows_for(&call).await.unwrap();
    assert!(rows[0].next_at > rows[0].created_at, "held");
    // The leg finishes between the rows' making and their writing: nothing to release yet.
    out.publish(vec![fin(0, 900, "Goodbye.")], 100).await;
    drop(out);
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    s.store
        .save_call_with_outbox(&call, 0, s.clock.now().0, &rows)
        .await
        .unwrap();
    outbox.queued(call.id(), &rows).await;
    let released = released(&s, &rows[0].key).await;
    assert_eq!(lines(&released), ["Goodbye."]);
    // A call with no leg left to flush is never held.
    let other = answered_call("c7");
    let rows = outbox.rows_for(&other).await.unwrap();
    assert_eq!(rows[0].next_at, rows[0].created_at);
}
