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
