//! Outbound calls and callbacks.

use super::*;

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

fn dialing(id: &str) -> Call {
    Call::new_outbound(
        id.into(),
        t(0),
        "+3225550000".into(),
        "sales".into(),
        "alice".into(),
    )
}

#[test]
fn the_network_says_the_customer_rings_once_in_the_journey() {
    let mut c = dialing("o1");
    c.remote_ringing(t(1)).unwrap();
    c.remote_ringing(t(2)).unwrap();
    assert_eq!(events(&c), ["dialed", "customer_ringing"]);
    assert_eq!(c.state(), CallState::Dialing);
    c.remote_answered(t(5)).unwrap();
    assert!(matches!(c.remote_ringing(t(6)), Err(Error::CallState(..))));
    assert_eq!(events(&c).len(), 3, "nothing logged after the answer");
}

#[test]
fn an_unreached_customer_ends_the_call_with_the_networks_result_and_the_agent_wraps_up() {
    for (why, result, ended_by) in [
        (Unreached::Busy, CallResult::Busy, Party::Customer),
        (
            Unreached::NotAnswered,
            CallResult::NotAnswered,
            Party::Customer,
        ),
        (Unreached::Failed, CallResult::Failed, Party::System),
    ] {
        let mut c = dialing("o1");
        c.remote_ringing(t(1)).unwrap();
        let fx = c.remote_over(t(30), why).unwrap();
        assert_eq!(fx.wrap_up, ids(&["alice"]), "{why:?}");
        assert_eq!(
            (c.state(), c.result(), c.ended_by()),
            (CallState::Ended, Some(result), Some(&ended_by)),
            "{why:?}"
        );
        assert_eq!(c.answered_at(), None);
        assert_eq!(c.talk_duration(), None);
        // Over is over: neither an answer nor a second result can follow.
        assert!(c.remote_answered(t(31)).is_err());
        assert!(c.remote_over(t(31), Unreached::Failed).is_err());
        assert_eq!(c.result(), Some(result));
    }
    // A connected call is not the network's to end this way (a BYE is a hang-up).
    let mut c = dialing("o2");
    c.remote_answered(t(3)).unwrap();
    assert!(c.remote_over(t(4), Unreached::Busy).is_err());
    assert_eq!(c.state(), CallState::Connected);
}

#[test]
fn a_callback_whose_customer_is_busy_ends_busy_after_the_agent_answered() {
    let mut c = Call::new_callback("cb1".into(), t(0), "+15550009".into(), "support".into());
    c.offer(t(1), ids(&["alice"]), OFFER).unwrap();
    c.accept(t(2), &"alice".into()).unwrap();
    let fx = c.remote_over(t(9), Unreached::Busy).unwrap();
    assert_eq!(fx.wrap_up, ids(&["alice"]));
    assert_eq!(c.result(), Some(CallResult::Busy));
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
