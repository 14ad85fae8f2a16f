//! An external number dialed through a trunk: consults, conferences and blind transfers whose
//! third party the network reaches (or not).

use super::*;

const NUMBER: &str = "+3225557777";

fn number() -> Target {
    Target::Number {
        number: NUMBER.into(),
    }
}

fn ext() -> Party {
    Party::External {
        number: NUMBER.into(),
    }
}

/// alice consults a number dialed through the trunk (not answered yet).
fn consulting_a_number() -> Call {
    let mut c = connected();
    c.start_consult(t(10), &"alice".into(), number(), None, OFFER, true)
        .unwrap();
    c
}

fn alice() -> Participant {
    Participant::agent(&"alice".into())
}

#[test]
fn a_dialed_consult_rings_until_the_network_answers_then_completes_into_a_bridge() {
    let mut c = consulting_a_number();
    assert_eq!(c.external_dialing(), Some(NUMBER));
    assert!(
        !c.consult().unwrap().answered,
        "not up before the network says so"
    );
    assert!(!events(&c).contains(&"consult_answered".to_owned()));
    let plan = c.audio_plan();
    assert!(plan.present.contains(&Participant::External));
    assert!(plan.hears(&alice(), &Participant::External), "the ringback");
    assert!(!plan.hears(&Participant::External, &alice()));
    assert_eq!(
        plan.music_to,
        [Participant::Customer],
        "the customer is held"
    );
    c.external_ringing(t(11)).unwrap();
    c.external_ringing(t(12)).unwrap();
    assert_eq!(
        events(&c)
            .iter()
            .filter(|e| *e == "external_ringing")
            .count(),
        1
    );
    assert!(matches!(
        c.complete_consult(t(13), &"alice".into()),
        Err(Error::ConsultNotAnswered(_))
    ));
    c.external_answered(t(14)).unwrap();
    assert_eq!(
        (c.external_dialing(), c.external_party()),
        (None, Some(NUMBER))
    );
    let plan = c.audio_plan();
    assert!(plan.hears(&alice(), &Participant::External));
    assert!(plan.hears(&Participant::External, &alice()));
    assert!(!plan.hears(&Participant::External, &Participant::Customer));

    // Completed: alice wraps up, the customer talks to the number, nobody records.
    let fx = c.complete_consult(t(20), &"alice".into()).unwrap();
    assert_eq!(fx.wrap_up, ids(&["alice"]));
    assert_eq!(
        (c.state(), c.agent(), c.bridged_to(), c.held()),
        (CallState::Connected, None, Some(NUMBER), false)
    );
    let plan = c.audio_plan();
    assert!(plan.hears(&Participant::Customer, &Participant::External));
    assert!(plan.hears(&Participant::External, &Participant::Customer));
    assert!(plan.recorded.is_empty() && plan.transcribed(true, true) == [Participant::Customer]);
    assert!(matches!(
        c.hangup(t(21), by("alice")),
        Err(Error::NotOwner(..))
    ));
    // The number hangs up: the call is over, answered, ended by it.
    let fx = c.hangup(t(60), ext()).unwrap();
    assert!(fx.wrap_up.is_empty(), "alice wrapped up already");
    assert_eq!(
        (c.state(), c.result(), c.ended_by()),
        (CallState::Ended, Some(CallResult::Answered), Some(&ext()))
    );
    assert!(events(&c).contains(&"transferred_out".to_owned()));
}

#[test]
fn a_dialed_consult_not_reached_ends_with_the_reason_and_the_customer_stays_held() {
    for (why, reason) in [
        (Unreached::Busy, "busy"),
        (Unreached::NotAnswered, "not_answered"),
        (Unreached::Failed, "failed"),
    ] {
        let mut c = consulting_a_number();
        let fx = c.external_over(t(15), why).unwrap();
        assert_eq!(fx, Effects::default());
        assert!(c.consult().is_none());
        assert_eq!((c.agent(), c.held()), (Some(&"alice".into()), true));
        let last = serde_json::to_value(&c.journey().last().unwrap().event).unwrap();
        assert_eq!(
            (last["event"].as_str(), last["reason"].as_str()),
            (Some("consult_ended"), Some(reason))
        );
        assert!(
            c.external_answered(t(16)).is_err(),
            "nothing rings any more"
        );
    }
}

#[test]
fn in_a_conference_the_numbers_hang_up_leaves_the_customer_and_the_owner_talking() {
    let mut c = consulting_a_number();
    c.external_answered(t(12)).unwrap();
    c.start_conference(t(13), &"alice".into()).unwrap();
    let plan = c.audio_plan();
    for (a, b) in [
        (Participant::Customer, Participant::External),
        (alice(), Participant::External),
        (Participant::Customer, alice()),
    ] {
        assert!(plan.hears(&a, &b) && plan.hears(&b, &a), "{a:?} and {b:?}");
    }
    let fx = c.hangup(t(30), ext()).unwrap();
    assert_eq!(fx, Effects::default());
    assert_eq!(
        (c.state(), c.conference(), c.agent()),
        (CallState::Connected, None, Some(&"alice".into()))
    );
    let plan = c.audio_plan();
    assert!(plan.hears(&Participant::Customer, &alice()));
    assert!(!plan.present.contains(&Participant::External));
    let last = serde_json::to_value(&c.journey().last().unwrap().event).unwrap();
    assert_eq!(last["event"], "party_left");
    assert_eq!(last["party"]["party"], "external");
    c.hangup(t(40), by("alice")).unwrap();
    assert_eq!(c.result(), Some(CallResult::Answered));
}

#[test]
fn the_owner_leaving_a_conference_with_a_dialed_number_bridges_the_customer_to_it() {
    let mut c = consulting_a_number();
    c.external_answered(t(12)).unwrap();
    c.start_conference(t(13), &"alice".into()).unwrap();
    let fx = c.hangup(t(20), by("alice")).unwrap();
    assert_eq!(fx.wrap_up, ids(&["alice"]));
    assert_eq!(
        (c.state(), c.bridged_to()),
        (CallState::Connected, Some(NUMBER))
    );
    c.hangup(t(50), Party::Customer).unwrap();
    assert_eq!(
        (c.result(), c.ended_by()),
        (Some(CallResult::Answered), Some(&Party::Customer))
    );
}

#[test]
fn a_blind_transfer_to_a_dialed_number_waits_with_music_then_bridges_or_goes_back_to_the_line() {
    let mut c = connected();
    let fx = c
        .blind_transfer(t(10), &"alice".into(), number(), vec![], OFFER, true)
        .unwrap();
    assert_eq!(
        fx.wrap_up,
        ids(&["alice"]),
        "blind: the sender leaves at once"
    );
    assert_eq!(
        (c.state(), c.external_dialing()),
        (CallState::Waiting, Some(NUMBER))
    );
    let plan = c.audio_plan();
    assert_eq!(plan.music_to, [Participant::Customer]);
    assert!(plan.present.contains(&Participant::External));
    c.external_ringing(t(11)).unwrap();
    c.external_answered(t(15)).unwrap();
    assert_eq!(
        (c.state(), c.bridged_to(), c.transfer()),
        (CallState::Connected, Some(NUMBER), None)
    );
    c.hangup(t(70), Party::Customer).unwrap();
    assert_eq!(c.result(), Some(CallResult::Answered));

    // Not reached: the transfer failed, the call is back in its queue's line.
    let mut c = connected();
    c.blind_transfer(t(10), &"alice".into(), number(), vec![], OFFER, true)
        .unwrap();
    let fx = c.external_over(t(40), Unreached::NotAnswered).unwrap();
    assert_eq!(fx.enqueue, Some("support".into()));
    assert_eq!(
        (c.state(), c.transfer(), c.external_dialing()),
        (CallState::Waiting, None, None)
    );
    assert!(events(&c).contains(&"transfer_failed".to_owned()));

    // Taken back while it rings: nothing is dialed any more.
    let mut c = connected();
    c.blind_transfer(t(10), &"alice".into(), number(), vec![], OFFER, true)
        .unwrap();
    c.take_back(t(12), &"alice".into()).unwrap();
    assert_eq!(c.external_dialing(), None);
    assert!(c.external_answered(t(13)).is_err());
}

#[test]
fn without_a_trunk_a_number_is_connected_at_once_as_before() {
    let mut c = connected();
    c.start_consult(t(10), &"alice".into(), number(), None, OFFER, false)
        .unwrap();
    assert!(c.consult().unwrap().answered);
    assert_eq!(c.external_dialing(), None);
    let mut c = connected();
    c.blind_transfer(t(10), &"alice".into(), number(), vec![], OFFER, false)
        .unwrap();
    assert_eq!(c.state(), CallState::Ended);
}

#[test]
fn after_a_restart_a_dialed_consult_and_a_ringing_number_transfer_are_over() {
    let mut c = consulting_a_number();
    c.external_answered(t(12)).unwrap();
    c.recover(t(20), true);
    assert!(
        c.consult().is_none(),
        "the number's dialog went with the process"
    );
    let mut c = connected();
    c.blind_transfer(t(10), &"alice".into(), number(), vec![], OFFER, true)
        .unwrap();
    let fx = c.recover(t(20), true);
    assert_eq!((fx.enqueue, c.transfer()), (Some("support".into()), None));
}
