//! Blind transfers with take-back, consults, and three-way conferences.

use super::*;

#[test]
fn blind_transfer_to_a_queue_enqueues_it_and_the_sender_wraps_up() {
    let mut c = connected();
    let crm = crate::call::CallData {
        who: Some("003-Contact".into()),
        what: Some("500-Case".into()),
        ..Default::default()
    };
    c.set_data(t(9), &"alice".into(), false, crm, &Default::default())
        .unwrap();
    let fx = c
        .blind_transfer(
            t(10),
            &"alice".into(),
            Target::Queue { id: "sales".into() },
            vec![],
            OFFER,
            false,
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
    c.blind_transfer(
        t(10),
        &"alice".into(),
        agent("bob"),
        ids(&["bob"]),
        OFFER,
        false,
    )
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
    c.blind_transfer(
        t(10),
        &"alice".into(),
        agent("bob"),
        ids(&["bob"]),
        OFFER,
        false,
    )
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
    c.blind_transfer(t(10), &"alice".into(), group, ids(&["bob"]), OFFER, false)
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
        c.blind_transfer(t(5), &"alice".into(), bad, vec![], OFFER, false),
        Err(Error::InvalidNumber("12ab".into()))
    );
    let out = Target::Number {
        number: "+3225551234".into(),
    };
    let fx = c
        .blind_transfer(t(5), &"alice".into(), out, vec![], OFFER, false)
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
        c.blind_transfer(t(5), &a, agent("alice"), ids(&["alice"]), OFFER, false),
        Err(Error::TransferToSelf("c1".into()))
    );
    assert_eq!(
        c.blind_transfer(t(5), &a, agent("bob"), vec![], OFFER, false),
        Err(Error::TargetUnavailable("c1".into()))
    );
    assert_eq!(
        c.state(),
        CallState::Connected,
        "a refused transfer changes nothing"
    );
}

// Consults and conferences (D2–D4).

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
        c.blind_transfer(t(15), &a, q, vec![], OFFER, false),
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
    c.start_consult(t(5), &"alice".into(), n, None, OFFER, false)
        .unwrap();
    assert!(c.consult().unwrap().answered);
    let fx = c.complete_consult(t(9), &"alice".into()).unwrap();
    assert_eq!(fx.wrap_up, ids(&["alice"]));
    assert_eq!(c.state(), CallState::Ended);
}

#[test]
fn an_agent_reads_a_call_it_had_not_one_it_was_only_offered() {
    let (alice, bob, carol, dave): (AgentId, AgentId, AgentId, AgentId) =
        ("alice".into(), "bob".into(), "carol".into(), "dave".into());
    let mut c = call();
    c.offer(t(1), ids(&["alice"]), OFFER).unwrap();
    assert!(c.readable_by(&alice), "ringing: the offer is shown");
    c.decline(t(2), &alice, OFFER).unwrap();
    assert!(!c.readable_by(&alice), "declined: nothing more");
    c.offer(t(3), ids(&["bob"]), OFFER).unwrap();
    c.accept(t(4), &bob).unwrap();
    assert!(c.readable_by(&bob) && !c.readable_by(&alice));
    // bob consults carol: she reads it while it rings for her, and after.
    c.start_consult(
        t(5),
        &bob,
        Target::Agent { id: carol.clone() },
        Some(carol.clone()),
        OFFER,
        false,
    )
    .unwrap();
    assert!(c.readable_by(&carol));
    c.cancel_consult(t(6), &bob).unwrap();
    assert!(c.readable_by(&carol), "consulted once");
    // A blind transfer to dave: sent to him.
    c.blind_transfer(
        t(7),
        &bob,
        Target::Agent { id: dave.clone() },
        vec![dave.clone()],
        OFFER,
        false,
    )
    .unwrap();
    assert!(c.readable_by(&dave));
    c.hangup(t(8), Party::Customer).unwrap();
    for (who, reads) in [(&alice, false), (&bob, true), (&carol, true), (&dave, true)] {
        assert_eq!(c.readable_by(who), reads, "{who:?}");
    }
    assert!(!c.readable_by(&"erin".into()));
}

#[test]
fn a_transfer_through_a_queue_makes_the_call_that_queues_and_the_sender_keeps_its_own_limit() {
    let queue = || Target::Queue { id: "sales".into() };
    // Attended: bob, from sales, answers alice's consult and takes the call over.
    let mut c = connected();
    c.start_consult(
        t(3),
        &"alice".into(),
        queue(),
        Some("bob".into()),
        OFFER,
        false,
    )
    .unwrap();
    c.accept(t(4), &"bob".into()).unwrap();
    let fx = c.complete_consult(t(5), &"alice".into()).unwrap();
    assert_eq!(
        (fx.wrap_up, fx.wrap_up_in),
        (ids(&["alice"]), Some("support".into()))
    );
    assert_eq!(c.queue(), &QueueId::from("sales"));
    let fx = c.hangup(t(9), by("bob")).unwrap();
    assert_eq!((fx.wrap_up, fx.wrap_up_in), (ids(&["bob"]), None));
    // Blind: the call waits in sales; alice's wrap-up is still support's.
    let mut c = connected();
    let fx = c
        .blind_transfer(t(3), &"alice".into(), queue(), vec![], OFFER, false)
        .unwrap();
    assert_eq!(fx.wrap_up_in, Some("support".into()));
    assert_eq!(fx.enqueue, Some("sales".into()));
}
