//! An agent steps away (chooses another status) while the call rings for it.

use super::*;

#[test]
fn stepping_away_sends_the_call_back_to_its_line_at_once_without_a_missed_offer() {
    let mut c = call();
    c.offer(t(1), ids(&["alice"]), OFFER).unwrap();
    let fx = c.withdraw_offer(t(3), &"alice".into()).unwrap();
    assert_eq!(fx.withdrawn, ids(&["alice"]));
    assert!(fx.missed.is_empty(), "no no-answer delay: {fx:?}");
    assert_eq!(fx.enqueue, Some("support".into()));
    assert_eq!(c.state(), CallState::Waiting);
    assert!(c.offered().is_empty());
    assert_eq!(c.poll_timeout(), None, "nothing rings out later");
    assert_eq!(events(&c).last().map(String::as_str), Some("stepped_away"));
    // Not excluded like a decline: once back, the agent may be offered the call again.
    c.offer(t(4), ids(&["alice"]), OFFER).unwrap();
    // The customer leaving now is an abandoned call: the step-away was not a missed offer.
    c.offered.clear();
    c.state = CallState::Waiting;
    c.hangup(t(5), Party::Customer).unwrap();
    assert_eq!(c.result(), Some(CallResult::Abandoned));
}

#[test]
fn in_ring_all_the_others_ring_on() {
    let mut c = call();
    c.offer(t(1), ids(&["alice", "bob"]), OFFER).unwrap();
    let fx = c.withdraw_offer(t(2), &"alice".into()).unwrap();
    assert_eq!(fx.withdrawn, ids(&["alice"]));
    assert_eq!(fx.enqueue, None);
    assert_eq!(
        (c.state(), c.offered()),
        (CallState::Offering, &ids(&["bob"])[..])
    );
    c.accept(t(3), &"bob".into()).unwrap();
}

#[test]
fn a_consulted_agent_stepping_away_ends_the_ringing_consult() {
    let mut c = consulting();
    let fx = c.withdraw_offer(t(11), &"bob".into()).unwrap();
    assert_eq!(fx.withdrawn, ids(&["bob"]));
    assert!(fx.missed.is_empty());
    assert!(c.consult().is_none());
    assert_eq!(c.agent(), Some(&"alice".into()));
    let last = serde_json::to_value(&c.journey().last().unwrap().event).unwrap();
    assert_eq!(
        (last["event"].as_str(), last["reason"].as_str()),
        (Some("consult_ended"), Some("stepped_away"))
    );
}

#[test]
fn only_a_ringing_agent_steps_away_from_a_call() {
    let mut c = connected();
    assert!(matches!(
        c.withdraw_offer(t(3), &"alice".into()),
        Err(Error::NotOffered(..))
    ));
    let mut c = call();
    c.offer(t(1), ids(&["alice"]), OFFER).unwrap();
    assert!(matches!(
        c.withdraw_offer(t(2), &"bob".into()),
        Err(Error::NotOffered(..))
    ));
    assert_eq!(c.offered(), &ids(&["alice"])[..]);
}
