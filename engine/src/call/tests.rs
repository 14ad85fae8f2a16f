//! Tests of the call state machine, in virtual time.

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
    assert_eq!(serde_json::from_str::<Call>(&json).unwrap(), c);
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

#[test]
fn blind_transfer_to_a_queue_enqueues_it_and_the_sender_wraps_up() {
    let mut c = connected();
    c.set_crm(Some("003-Contact".into()), Some("500-Case".into()));
    let fx = c
        .blind_transfer(
            t(10),
            &"alice".into(),
            Target::Queue { id: "sales".into() },
            vec![],
            OFFER,
        )
        .unwrap();
    assert_eq!(
        (fx.wrap_up, fx.enqueue),
        (ids(&["alice"]), Some("sales".into()))
    );
    assert_eq!(
        (c.state(), c.queue().as_str(), c.enqueued_at()),
        (CallState::Waiting, "sales", t(10))
    );
    assert_eq!(c.journey_status(), "transferring");
    c.offer(t(11), ids(&["carol"]), OFFER).unwrap();
    c.accept(t(12), &"carol".into()).unwrap();
    assert_eq!(
        (c.agent().map(|a| a.as_str()), c.transfer()),
        (Some("carol"), None)
    );
    assert_eq!(
        (c.who(), c.what()),
        (Some("003-Contact"), Some("500-Case")),
        "D5: CRM fields travel"
    );
    assert_eq!(
        c.answered_at(),
        Some(t(2)),
        "answered once, at the first answer"
    );
}

#[test]
fn the_sender_takes_a_ringing_blind_transfer_back() {
    let mut c = connected();
    c.blind_transfer(t(10), &"alice".into(), agent("bob"), ids(&["bob"]), OFFER)
        .unwrap();
    assert_eq!(c.offered(), ids(&["bob"]));
    assert_eq!(
        c.take_back(t(12), &"carol".into()),
        Err(Error::NoTransfer("c1".into()))
    );
    let fx = c.take_back(t(12), &"alice".into()).unwrap();
    assert_eq!(fx.withdrawn, ids(&["bob"]));
    assert_eq!(
        (c.state(), c.agent().map(|a| a.as_str())),
        (CallState::Connected, Some("alice"))
    );
    assert_eq!(
        events(&c)[4..],
        [
            "transfer_started",
            "offered_to",
            "offer_withdrawn",
            "taken_back"
        ]
    );
    assert_eq!(
        c.take_back(t(13), &"alice".into()),
        Err(Error::NoTransfer("c1".into())),
        "nothing left to take back"
    );
}

#[test]
fn an_unanswered_blind_transfer_does_not_return_to_the_sender() {
    let mut c = connected();
    c.blind_transfer(t(10), &"alice".into(), agent("bob"), ids(&["bob"]), OFFER)
        .unwrap();
    let fx = c.handle_timeout(t(28));
    assert_eq!(
        (fx.missed, fx.enqueue),
        (ids(&["bob"]), Some("support".into()))
    );
    assert_eq!(
        (c.state(), c.agent(), c.transfer()),
        (CallState::Waiting, None, None)
    );
    assert!(events(&c).contains(&"transfer_failed".to_string()));
    assert_eq!(
        c.take_back(t(29), &"alice".into()),
        Err(Error::NoTransfer("c1".into()))
    );
}

#[test]
fn a_group_transfer_redials_until_its_members_are_exhausted() {
    let mut c = connected();
    let group = Target::Group {
        id: "billing".into(),
    };
    c.blind_transfer(t(10), &"alice".into(), group, ids(&["bob"]), OFFER)
        .unwrap();
    let fx = c
        .decline(t(11), &"bob".into(), Duration::from_secs(7))
        .unwrap();
    assert!(fx.redial_group);
    assert_eq!(c.transfer().unwrap().tried, ids(&["bob"]));
    c.transfer_ring(t(11), ids(&["carol"]), OFFER);
    assert_eq!(c.offered(), ids(&["carol"]));
    let fx = c.handle_timeout(t(29));
    assert!(fx.redial_group);
    let fx = c.transfer_ring(t(29), vec![], OFFER);
    assert_eq!(
        fx.enqueue,
        Some("support".into()),
        "nobody left: back to the queue"
    );
}

#[test]
fn blind_transfer_to_a_number_hands_the_call_out() {
    let mut c = connected();
    let bad = Target::Number {
        number: "12ab".into(),
    };
    assert_eq!(
        c.blind_transfer(t(5), &"alice".into(), bad, vec![], OFFER),
        Err(Error::InvalidNumber("12ab".into()))
    );
    let out = Target::Number {
        number: "+3225551234".into(),
    };
    let fx = c
        .blind_transfer(t(5), &"alice".into(), out, vec![], OFFER)
        .unwrap();
    assert_eq!(fx.wrap_up, ids(&["alice"]));
    assert_eq!(
        (c.state(), c.result()),
        (CallState::Ended, Some(CallResult::Answered))
    );
    assert!(events(&c).contains(&"transferred_out".to_string()));
}

#[test]
fn transfers_are_refused_to_oneself_and_to_nobody() {
    let mut c = connected();
    let a: AgentId = "alice".into();
    assert_eq!(
        c.blind_transfer(t(5), &a, agent("alice"), ids(&["alice"]), OFFER),
        Err(Error::TransferToSelf("c1".into()))
    );
    assert_eq!(
        c.blind_transfer(t(5), &a, agent("bob"), vec![], OFFER),
        Err(Error::TargetUnavailable("c1".into()))
    );
    assert_eq!(
        c.state(),
        CallState::Connected,
        "a refused transfer changes nothing"
    );
}

// Consults and conferences (D2–D4).

fn consulting() -> Call {
    let mut c = connected();
    c.start_consult(
        t(10),
        &"alice".into(),
        agent("bob"),
        Some("bob".into()),
        OFFER,
    )
    .unwrap();
    c
}

#[test]
fn a_consult_holds_the_customer_and_completes_to_the_colleague() {
    let mut c = consulting();
    assert!(c.held());
    assert_eq!(c.poll_timeout(), Some(t(28)));
    assert_eq!(
        c.complete_consult(t(11), &"alice".into()),
        Err(Error::ConsultNotAnswered("c1".into()))
    );
    assert_eq!(
        c.hold(t(11), &"bob".into()),
        Err(Error::NotOwner("c1".into(), "bob".into())),
        "D3: read-only"
    );
    c.accept(t(12), &"bob".into()).unwrap();
    assert_eq!(
        c.hold(t(13), &"bob".into()),
        Err(Error::NotOwner("c1".into(), "bob".into())),
        "still read-only"
    );
    let fx = c.complete_consult(t(20), &"alice".into()).unwrap();
    assert_eq!(fx.wrap_up, ids(&["alice"]));
    assert_eq!(
        (c.agent().map(|a| a.as_str()), c.held(), c.consult()),
        (Some("bob"), false, None)
    );
    c.hold(t(21), &"bob".into()).unwrap();
}

#[test]
fn cancelling_a_consult_sends_the_colleague_back_to_ready() {
    let mut c = consulting();
    c.accept(t(12), &"bob".into()).unwrap();
    let fx = c.cancel_consult(t(15), &"alice".into()).unwrap();
    assert_eq!((fx.released, fx.wrap_up), (ids(&["bob"]), vec![]));
    assert!(c.held(), "the customer waits for the owner to resume");
    c.resume(t(16), &"alice".into()).unwrap();
    assert_eq!(
        c.cancel_consult(t(17), &"alice".into()),
        Err(Error::NoConsult("c1".into()))
    );
}

#[test]
fn the_consulted_agent_hanging_up_before_answering_ends_the_consult() {
    let mut c = consulting();
    let fx = c.hangup(t(12), by("bob")).unwrap();
    assert_eq!(
        (fx.withdrawn, fx.missed),
        (ids(&["bob"]), vec![]),
        "like a decline: no delay"
    );
    assert_eq!(
        (c.state(), c.agent().map(|a| a.as_str()), c.consult()),
        (CallState::Connected, Some("alice"), None)
    );
    let mut rang_out = consulting();
    let fx = rang_out.handle_timeout(t(28));
    assert_eq!(fx.missed, ids(&["bob"]));
    assert_eq!(rang_out.state(), CallState::Connected);
}

#[test]
fn the_customer_hanging_up_during_a_consult_ends_both_legs() {
    let mut ringing = consulting();
    let fx = ringing.hangup(t(12), Party::Customer).unwrap();
    assert_eq!((fx.withdrawn, fx.wrap_up), (ids(&["bob"]), ids(&["alice"])));
    assert_eq!(ringing.result(), Some(CallResult::Answered));

    let mut talking = consulting();
    talking.accept(t(12), &"bob".into()).unwrap();
    let fx = talking.hangup(t(13), Party::Customer).unwrap();
    assert_eq!((fx.released, fx.wrap_up), (ids(&["bob"]), ids(&["alice"])));
}

fn conference() -> Call {
    let mut c = consulting();
    c.accept(t(12), &"bob".into()).unwrap();
    c.start_conference(t(14), &"alice".into()).unwrap();
    c
}

#[test]
fn a_conference_refuses_hold_mask_dtmf_and_transfer() {
    let mut c = conference();
    let a: AgentId = "alice".into();
    assert!(!c.held());
    assert_eq!(c.hold(t(15), &a), Err(Error::ConferenceNoHold("c1".into())));
    c.record(t(15), &a, RecordingAction::Start).unwrap();
    assert_eq!(
        c.record(t(15), &a, RecordingAction::Mask),
        Err(Error::ConferenceNoMask("c1".into()))
    );
    assert_eq!(
        c.dtmf(t(15), &a, "1"),
        Err(Error::ConferenceNoDtmf("c1".into()))
    );
    let q = Target::Queue { id: "sales".into() };
    assert_eq!(
        c.blind_transfer(t(15), &a, q, vec![], OFFER),
        Err(Error::ConferenceNoTransfer("c1".into()))
    );
}

#[test]
fn conference_customer_leaves_first_then_the_agents() {
    let mut c = conference();
    let fx = c.hangup(t(20), Party::Customer).unwrap();
    assert_eq!(fx, Effects::default());
    assert_eq!(
        c.state(),
        CallState::Connected,
        "the two agents stay connected"
    );
    let fx = c.hangup(t(21), by("bob")).unwrap();
    assert_eq!(fx.wrap_up, ids(&["alice", "bob"]));
    assert_eq!(c.state(), CallState::Ended);
}

#[test]
fn conference_owner_leaves_first_and_the_colleague_owns_the_call() {
    let mut c = conference();
    assert_eq!(
        c.hangup(t(20), by("carol")),
        Err(Error::NotOwner("c1".into(), "carol".into()))
    );
    let fx = c.hangup(t(20), by("alice")).unwrap();
    assert_eq!(fx.wrap_up, ids(&["alice"]));
    assert_eq!(
        (c.state(), c.agent().map(|a| a.as_str()), c.conference()),
        (CallState::Connected, Some("bob"), None)
    );
    c.hangup(t(30), Party::Customer).unwrap();
    assert_eq!(c.result(), Some(CallResult::Answered));
}

#[test]
fn conference_third_party_leaves_first_and_the_call_goes_on() {
    let mut c = conference();
    let fx = c.hangup(t(20), by("bob")).unwrap();
    assert_eq!(fx.wrap_up, ids(&["bob"]));
    assert_eq!(
        (c.agent().map(|a| a.as_str()), c.conference()),
        (Some("alice"), None)
    );
    c.hold(t(21), &"alice".into()).unwrap();
    c.resume(t(22), &"alice".into()).unwrap();
    c.hangup(t(23), by("alice")).unwrap();
    assert_eq!(c.state(), CallState::Ended);
}

#[test]
fn a_consult_to_a_number_is_up_at_once_and_completes_out() {
    let mut c = connected();
    let n = Target::Number {
        number: "+3225550000".into(),
    };
    c.start_consult(t(5), &"alice".into(), n, None, OFFER)
        .unwrap();
    assert!(c.consult().unwrap().answered);
    let fx = c.complete_consult(t(9), &"alice".into()).unwrap();
    assert_eq!(fx.wrap_up, ids(&["alice"]));
    assert_eq!(c.state(), CallState::Ended);
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

#[test]
fn an_outbound_call_dials_then_connects_or_is_not_answered() {
    let mut c = Call::new_outbound(
        "o1".into(),
        t(0),
        "+3225550000".into(),
        "sales".into(),
        "alice".into(),
    );
    assert_eq!(
        (c.state(), c.kind(), c.agent().map(|a| a.as_str())),
        (CallState::Dialing, CallKind::Outbound, Some("alice"))
    );
    assert_eq!(c.journey_status(), "assigning");
    c.remote_answered(t(4)).unwrap();
    assert_eq!(
        (c.state(), c.answered_at()),
        (CallState::Connected, Some(t(4)))
    );
    c.hangup(t(64), by("alice")).unwrap();
    assert_eq!(
        (c.result(), c.talk_duration()),
        (Some(CallResult::Answered), Some(Duration::from_secs(60)))
    );

    let mut unanswered = Call::new_outbound(
        "o2".into(),
        t(0),
        "+3225550000".into(),
        "sales".into(),
        "alice".into(),
    );
    let fx = unanswered.hangup(t(30), Party::Customer).unwrap();
    assert_eq!(
        (fx.wrap_up, unanswered.result()),
        (ids(&["alice"]), Some(CallResult::NotAnswered))
    );
    let mut given_up = Call::new_outbound(
        "o3".into(),
        t(0),
        "+3225550000".into(),
        "sales".into(),
        "alice".into(),
    );
    given_up.hangup(t(9), by("alice")).unwrap();
    assert_eq!(given_up.result(), Some(CallResult::Cancelled));
}

#[test]
fn a_callback_rings_the_agent_first_then_dials_the_customer() {
    let mut c = Call::new_callback("cb1".into(), t(0), "+15550009".into(), "support".into());
    c.offer(t(1), ids(&["alice"]), OFFER).unwrap();
    c.accept(t(2), &"alice".into()).unwrap();
    assert_eq!((c.state(), c.answered_at()), (CallState::Dialing, None));
    assert!(c.journey().iter().any(|e| e.event
        == JourneyEvent::CallbackAnnounced {
            message: CALLBACK_ANNOUNCEMENT.into()
        }));
    c.remote_answered(t(6)).unwrap();
    assert_eq!(
        (c.state(), c.answered_at()),
        (CallState::Connected, Some(t(6)))
    );
}

#[test]
fn callback_requests_keep_the_first_and_a_third_goes_to_the_missed_call_flow() {
    let first = Call::new_callback("cb1".into(), t(0), "+15550001".into(), "support".into());
    let open = vec![first.clone()];
    assert_eq!(
        admit(&open, "+15550001", 2),
        Admission::Duplicate("cb1".into()),
        "a repeat keeps the first"
    );
    assert_eq!(admit(&open, "+15550002", 2), Admission::Queue);
    let second = Call::new_callback("cb2".into(), t(1), "+15550002".into(), "support".into());
    let inbound = call();
    let mut open = vec![first, second, inbound];
    assert_eq!(
        admit(&open, "+15550003", 2),
        Admission::MissedCallFlow,
        "two in progress already"
    );
    let missed = Call::missed_callback(
        "cb3".into(),
        t(2),
        "+15550003".into(),
        "support".into(),
        "limit".into(),
    );
    assert_eq!(
        (missed.state(), missed.result()),
        (CallState::Ended, Some(CallResult::NotAnswered))
    );
    open[1].hangup(t(3), Party::Customer).unwrap();
    assert_eq!(
        admit(&open, "+15550003", 2),
        Admission::Queue,
        "a finished callback frees its slot"
    );
}

fn p(a: &str) -> Participant {
    Participant::agent(&a.into())
}

#[test]
fn the_audio_plan_follows_waiting_talking_hold_and_mute() {
    let mut c = call();
    assert_eq!(c.audio_plan().music_to, [Participant::Customer]);
    assert!(c.audio_plan().links.is_empty());
    c.offer(t(1), ids(&["alice"]), OFFER).unwrap();
    assert_eq!(c.audio_plan().music_to, [Participant::Customer]);
    c.accept(t(2), &"alice".into()).unwrap();
    let plan = c.audio_plan();
    assert!(plan.music_to.is_empty());
    assert!(plan.hears(&Participant::Customer, &p("alice")));
    assert!(plan.hears(&p("alice"), &Participant::Customer));
    assert_eq!(plan.links.len(), 2);
    assert_eq!(plan.recorded, [Participant::Customer, p("alice")]);
    assert_eq!(plan.present, [Participant::Customer, p("alice")]);
    let alice: AgentId = "alice".into();
    c.set_muted(t(3), &alice, true).unwrap();
    let plan = c.audio_plan();
    assert!(!plan.hears(&Participant::Customer, &p("alice")));
    assert!(plan.hears(&p("alice"), &Participant::Customer));
    assert_eq!(plan.recorded, [Participant::Customer]);
    c.set_muted(t(4), &alice, false).unwrap();
    c.hold(t(5), &alice).unwrap();
    let plan = c.audio_plan();
    assert_eq!(plan.music_to, [Participant::Customer]);
    assert!(plan.links.is_empty(), "nobody hears the held customer");
    assert!(plan.recorded.is_empty());
    assert_eq!(plan.present, [Participant::Customer, p("alice")]);
    c.hangup(t(6), by("alice")).unwrap_err();
    c.resume(t(7), &alice).unwrap();
    c.hangup(t(8), by("alice")).unwrap();
    assert_eq!(c.audio_plan(), AudioPlan::default());
}

#[test]
fn the_audio_plan_of_a_consult_and_a_conference() {
    let mut c = consulting();
    // Ringing: the customer is on hold, the colleague not yet in.
    let plan = c.audio_plan();
    assert_eq!(plan.music_to, [Participant::Customer]);
    assert!(plan.links.is_empty());
    assert_eq!(plan.present, [Participant::Customer, p("alice")]);
    c.accept(t(12), &"bob".into()).unwrap();
    let plan = c.audio_plan();
    assert!(plan.hears(&p("alice"), &p("bob")) && plan.hears(&p("bob"), &p("alice")));
    assert!(!plan.hears(&Participant::Customer, &p("bob")));
    assert_eq!(plan.music_to, [Participant::Customer]);
    c.start_conference(t(14), &"alice".into()).unwrap();
    let plan = c.audio_plan();
    assert!(plan.music_to.is_empty());
    assert_eq!(plan.links.len(), 6, "each of three hears the other two");
    let everyone = [Participant::Customer, p("alice"), p("bob")];
    for to in &everyone {
        let heard: Vec<_> = plan.sources_of(to).collect();
        assert_eq!(heard.len(), 2);
        assert!(!heard.contains(&to));
    }
    // The customer leaves: the two agents stay connected to each other.
    c.hangup(t(20), Party::Customer).unwrap();
    let plan = c.audio_plan();
    assert_eq!(plan.links.len(), 2);
    assert!(plan.hears(&p("alice"), &p("bob")));
    assert!(plan.recorded.is_empty());
    assert_eq!(plan.present, [p("alice"), p("bob")]);
}
