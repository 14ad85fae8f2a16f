//! Tests of the call state machine, in virtual time: the call's life here, transfers,
//! consults and conferences in `transfers`, outbound calls and callbacks in `work`, the audio
//! plan in `audio`. The helpers below build calls at each stage.

use super::*;

fn t(s: i64) -> Timestamp {
    Timestamp::from_millis(s * 1000)
}
const OFFER: Duration = Duration::from_secs(18);
fn call() -> Call {
    Call::new(
        "c1".into(),
        t(0),
        "+15551230001".into(),
        "support".into(),
        0,
        Skills::new(),
    )
}
fn events(c: &Call) -> Vec<String> {
    c.journey()
        .iter()
        .map(|e| {
            serde_json::to_value(&e.event).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}
fn ids(v: &[&str]) -> Vec<AgentId> {
    v.iter().map(|a| AgentId::from(*a)).collect()
}
fn by(a: &str) -> Party {
    Party::Agent { agent: a.into() }
}
/// A call alice answered at t=2.
fn connected() -> Call {
    let mut c = call();
    c.offer(t(1), ids(&["alice"]), OFFER).unwrap();
    c.accept(t(2), &"alice".into()).unwrap();
    c
}
fn agent(id: &str) -> Target {
    Target::Agent { id: id.into() }
}

#[test]
fn answered_call_has_a_full_journey_and_talk_duration() {
    let mut c = call();
    c.offer(t(2), ids(&["alice"]), OFFER).unwrap();
    assert_eq!(c.poll_timeout(), Some(t(20)));
    let fx = c.accept(t(5), &"alice".into()).unwrap();
    assert_eq!(fx.queue_answered, Some("support".into()));
    let fx = c.hangup(t(65), by("alice")).unwrap();
    assert_eq!(fx.wrap_up, ids(&["alice"]));
    assert_eq!(
        (c.state(), c.result()),
        (CallState::Ended, Some(CallResult::Answered))
    );
    assert_eq!(c.talk_duration(), Some(Duration::from_secs(60)));
    assert_eq!(
        events(&c),
        [
            "initiated",
            "routed_to_queue",
            "offered_to",
            "answered_by",
            "ended"
        ]
    );
    assert_eq!(c.journey()[3].at, t(5));
}

#[test]
fn offer_timeout_returns_the_call_to_its_line_and_names_the_missed_agent() {
    let mut c = call();
    c.offer(t(0), ids(&["alice"]), OFFER).unwrap();
    assert_eq!(c.handle_timeout(t(17)), Effects::default());
    let fx = c.handle_timeout(t(18));
    assert_eq!(
        (fx.missed, fx.enqueue),
        (ids(&["alice"]), Some("support".into()))
    );
    assert_eq!((c.state(), c.poll_timeout()), (CallState::Waiting, None));
    assert_eq!(
        c.hangup(t(30), Party::Customer).unwrap().leave_queue,
        Some("support".into())
    );
    assert_eq!(c.result(), Some(CallResult::NotAnswered));
}

#[test]
fn abandoned_cancelled_and_busy_results() {
    let mut waiting = call();
    waiting.hangup(t(3), Party::Customer).unwrap();
    assert_eq!(waiting.result(), Some(CallResult::Abandoned));

    let mut ringing = call();
    ringing.offer(t(1), ids(&["alice", "bob"]), OFFER).unwrap();
    let fx = ringing.hangup(t(3), Party::Customer).unwrap();
    assert_eq!(fx.withdrawn, ids(&["alice", "bob"]));
    assert_eq!(ringing.result(), Some(CallResult::Cancelled));

    let mut busy = call();
    busy.agent_busy(t(1), "alice".into());
    busy.hangup(t(3), Party::Customer).unwrap();
    assert_eq!(busy.result(), Some(CallResult::Busy));
    assert_eq!(
        busy.hangup(t(4), Party::Customer),
        Err(Error::CallState("c1".into(), "ended".into(), "hang up"))
    );
}

#[test]
fn ring_all_first_answer_wins_and_others_are_withdrawn() {
    let mut c = call();
    c.offer(t(1), ids(&["a", "b", "c"]), OFFER).unwrap();
    let fx = c
        .decline(t(2), &"c".into(), Duration::from_secs(7))
        .unwrap();
    assert_eq!(
        (fx.withdrawn, fx.enqueue),
        (ids(&["c"]), None),
        "no delay for a decline; others still ring"
    );
    assert_eq!(c.waiting_call().excluded, vec![(AgentId::from("c"), t(9))]);
    assert_eq!(c.accept(t(3), &"b".into()).unwrap().withdrawn, ids(&["a"]));
    assert_eq!(
        c.accept(t(3), &"a".into()),
        Err(Error::NotOffered("c1".into(), "a".into()))
    );
    assert_eq!(c.agent(), Some(&AgentId::from("b")));
}

#[test]
fn only_the_connected_agent_can_hang_up() {
    let mut c = call();
    c.offer(t(1), ids(&["alice"]), OFFER).unwrap();
    assert_eq!(
        c.hangup(t(2), by("bob")),
        Err(Error::NotOwner("c1".into(), "bob".into()))
    );
    c.accept(t(2), &"alice".into()).unwrap();
    assert_eq!(
        c.hangup(t(3), by("bob")),
        Err(Error::NotOwner("c1".into(), "bob".into()))
    );
    c.hangup(t(4), Party::Customer).unwrap();
    assert_eq!(c.ended_by(), Some(&Party::Customer));
}

#[test]
fn overflow_and_recovery_are_journey_steps() {
    let mut c = call();
    c.overflow(t(120), "sales".into()).unwrap();
    assert_eq!((c.queue().as_str(), c.enqueued_at()), ("sales", t(120)));
    c.offer(t(121), ids(&["carol"]), OFFER).unwrap();
    let fx = c.recover(t(125), true);
    assert_eq!(
        (fx.withdrawn, fx.enqueue),
        (ids(&["carol"]), Some("sales".into()))
    );
    assert_eq!(c.state(), CallState::Waiting);
    assert_eq!(
        events(&c)[2..],
        ["overflowed", "offered_to", "recovered", "offer_withdrawn"]
    );
    let json = serde_json::to_string(&c).unwrap();
    let back = serde_json::from_str::<Call>(&json).unwrap();
    assert_eq!(back.with_journey(c.journey().to_vec()), c);
}

/// A snapshot of a call (a clone) shares its journey's entries and caller's number with the
/// call rather than copying them; the call's next steps are its own.
#[test]
fn a_snapshot_shares_the_journey_it_was_taken_with() {
    let mut c = connected();
    let snapshot = c.clone();
    assert!(std::sync::Arc::ptr_eq(
        &c.journey()[0],
        &snapshot.journey()[0]
    ));
    assert!(std::sync::Arc::ptr_eq(
        c.from_shared(),
        snapshot.from_shared()
    ));
    c.hangup(t(200), Party::Customer).unwrap();
    assert_eq!(c.journey().len(), snapshot.journey().len() + 1);
    assert_eq!(
        c.journey()[..snapshot.journey().len()],
        snapshot.journey()[..]
    );
}

/// The serialized form leaves the journey out (a store appends its entries apart); one
/// written before, with the journey in it, still reads with it.
#[test]
fn the_serialized_form_leaves_the_journey_out_and_old_forms_keep_theirs() {
    let c = connected();
    let json = serde_json::to_value(&c).unwrap();
    assert!(json.get("journey").is_none(), "{json}");
    let back: Call = serde_json::from_value(json.clone()).unwrap();
    assert!(back.journey().is_empty());
    assert_eq!(back.clone().with_journey(c.journey().to_vec()), c);

    let mut old = json;
    old["journey"] = serde_json::to_value(c.journey()).unwrap();
    let old: Call = serde_json::from_value(old).unwrap();
    assert_eq!(old, c);
}

/// The stored form leaves out every field that holds its default (a store rewrites a call's
/// row at each step): a connected call's is under half the form with every field, which a
/// row written before still holds and which reads the same.
#[test]
fn the_serialized_form_leaves_defaults_out_and_the_full_form_still_reads() {
    let c = connected();
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(
        crate::stored_form::keys(&json),
        [
            "agent",
            "answered_at",
            "created_at",
            "enqueued_at",
            "from",
            "id",
            "offered_by_queue",
            "queue",
            "state"
        ]
    );
    let full = crate::stored_form::with_defaults(
        &json,
        serde_json::json!({
            "priority": 0, "skills": {}, "result": null, "offered": [], "offer_until": null,
            "ended_at": null, "ended_by": null, "missed_offers": 0, "busy_agents": 0,
            "held": false, "muted": false, "recording": Recording::default(), "transfer": null,
            "consult": null, "conference": null, "bridged_to": null, "kind": CallKind::default(),
            "related": [], "declined": [], "who": null, "what": null, "disposition": null,
            "tags": [], "notes": "", "customer_media": false, "attributes": {}
        }),
    );
    let (short, long) = (json.to_string().len(), full.to_string().len());
    assert!(short * 2 < long, "{short} bytes against {long}");
    let back: Call = serde_json::from_value(full).unwrap();
    assert_eq!(back.with_journey(c.journey().to_vec()), c);
}

#[test]
fn failing_withdraws_ringing_agents() {
    let mut c = call();
    c.offer(t(1), ids(&["alice"]), OFFER).unwrap();
    let fx = c.fail(t(2), "queue removed".into());
    assert_eq!(fx.withdrawn, ids(&["alice"]));
    assert_eq!(
        (c.state(), c.result()),
        (CallState::Failed, Some(CallResult::Failed))
    );
    assert_eq!(c.fail(t(3), "again".into()), Effects::default());
}

// In-call control (C1–C3).

#[test]
fn hold_resume_mute_and_dtmf_are_journey_steps_of_the_owner_only() {
    let mut c = connected();
    let alice: AgentId = "alice".into();
    assert_eq!(
        c.hold(t(3), &"bob".into()),
        Err(Error::NotOwner("c1".into(), "bob".into()))
    );
    c.hold(t(3), &alice).unwrap();
    assert_eq!(c.hold(t(3), &alice), Err(Error::AlreadyHeld("c1".into())));
    assert_eq!(
        c.dtmf(t(4), &alice, "12"),
        Err(Error::HeldNoDtmf("c1".into()))
    );
    assert_eq!(
        c.hangup(t(4), by("alice")),
        Err(Error::HeldNoHangup("c1".into())),
        "C3"
    );
    c.resume(t(5), &alice).unwrap();
    assert_eq!(c.resume(t(5), &alice), Err(Error::NotHeld("c1".into())));
    c.set_muted(t(6), &alice, true).unwrap();
    assert_eq!(
        c.set_muted(t(6), &alice, true),
        Err(Error::AlreadyMuted("c1".into()))
    );
    c.set_muted(t(7), &alice, false).unwrap();
    assert!(matches!(
        c.dtmf(t(8), &alice, "12x"),
        Err(Error::InvalidDigits(_))
    ));
    assert!(matches!(
        c.dtmf(t(8), &alice, ""),
        Err(Error::InvalidDigits(_))
    ));
    c.dtmf(t(8), &alice, "4711#").unwrap();
    assert_eq!(
        events(&c)[4..],
        ["held", "resumed", "muted", "unmuted", "dtmf"]
    );
    assert!(!c.held() && !c.muted());
}

#[test]
fn recording_starts_stops_masks_and_unmasks_in_order() {
    let mut c = connected();
    let a: AgentId = "alice".into();
    use RecordingAction::*;
    assert_eq!(
        c.record(t(3), &a, Stop),
        Err(Error::RecordingOff("c1".into()))
    );
    assert_eq!(
        c.record(t(3), &a, Mask),
        Err(Error::RecordingOff("c1".into()))
    );
    c.start_recording_on_connect(t(3));
    assert_eq!(
        c.record(t(3), &a, Start),
        Err(Error::RecordingAlreadyOn("c1".into()))
    );
    c.record(t(4), &a, Mask).unwrap();
    assert_eq!(
        c.record(t(4), &a, Mask),
        Err(Error::AlreadyMasked("c1".into()))
    );
    c.record(t(5), &a, Unmask).unwrap();
    assert_eq!(
        c.record(t(5), &a, Unmask),
        Err(Error::NotMasked("c1".into()))
    );
    c.record(t(6), &a, Stop).unwrap();
    c.record(t(7), &a, Start).unwrap();
    assert_eq!(c.recording(), Recording::On);
    let states: Vec<_> = c
        .journey()
        .iter()
        .filter_map(|e| match &e.event {
            JourneyEvent::Recording { state } => Some(*state),
            _ => None,
        })
        .collect();
    use Recording as R;
    assert_eq!(states, [R::On, R::Masked, R::On, R::Off, R::On]);
}

// Blind transfers (D1).

fn consulting() -> Call {
    let mut c = connected();
    c.start_consult(
        t(10),
        &"alice".into(),
        agent("bob"),
        Some("bob".into()),
        OFFER,
        false,
    )
    .unwrap();
    c
}

fn conference() -> Call {
    let mut c = consulting();
    c.accept(t(12), &"bob".into()).unwrap();
    c.start_conference(t(14), &"alice".into()).unwrap();
    c
}

#[test]
fn old_snapshots_without_the_new_fields_still_load() {
    let mut json = serde_json::to_value(connected()).unwrap();
    for f in [
        "held",
        "muted",
        "recording",
        "transfer",
        "consult",
        "conference",
        "who",
        "what",
        "offered_by_queue",
    ] {
        json.as_object_mut().unwrap().remove(f);
    }
    let c: Call = serde_json::from_value(json).unwrap();
    assert_eq!(
        (c.state(), c.recording()),
        (CallState::Connected, Recording::Off)
    );
}

// Outbound calls and callbacks (E1, E3, E4).

mod audio;
mod data;
mod external;
mod step_away;
mod transfers;
mod work;

#[test]
fn a_web_customer_whose_audio_is_lost_has_hung_up_with_the_result_of_the_moment() {
    // Waiting: abandoned.
    let mut c = call();
    assert!(
        c.customer_media_lost(t(1), "no_audio").is_err(),
        "no leg of ours: nothing to lose"
    );
    assert!(c.customer_media_attached());
    assert!(!c.customer_media_attached(), "news once");
    let fx = c.customer_media_lost(t(20), "no_audio").unwrap();
    assert_eq!(
        (c.state(), c.result()),
        (CallState::Ended, Some(CallResult::Abandoned))
    );
    assert_eq!(fx.leave_queue, Some(QueueId::from("support")));
    assert_eq!(
        events(&c)[events(&c).len() - 2..],
        ["customer_media_lost".to_owned(), "ended".to_owned()]
    );
    assert!(c.customer_media_lost(t(21), "no_audio").is_err(), "once");

    // Ringing: cancelled, the agent withdrawn.
    let mut c = call();
    c.customer_media_attached();
    c.offer(t(1), ids(&["alice"]), OFFER).unwrap();
    let fx = c.customer_media_lost(t(3), "no_audio").unwrap();
    assert_eq!(c.result(), Some(CallResult::Cancelled));
    assert_eq!(fx.withdrawn, ids(&["alice"]));

    // Connected: answered, the agent to wrap-up.
    let mut c = connected();
    c.customer_media_attached();
    let fx = c.customer_media_lost(t(30), "no_audio").unwrap();
    assert_eq!(c.result(), Some(CallResult::Answered));
    assert_eq!(fx.wrap_up, ids(&["alice"]));
}

#[test]
fn after_a_restart_a_web_call_ends_and_other_calls_carry_on() {
    let mut web = connected();
    web.customer_media_attached();
    let fx = web.recover(t(40), true);
    assert_eq!(web.state(), CallState::Ended);
    assert_eq!(fx.wrap_up, ids(&["alice"]));
    let mut phone = connected();
    phone.recover(t(40), true);
    assert_eq!(phone.state(), CallState::Connected);
    // An actor restart (not the process) keeps the web call: its media may come back.
    let mut web = connected();
    web.customer_media_attached();
    web.recover(t(40), false);
    assert_eq!(web.state(), CallState::Connected);
}
