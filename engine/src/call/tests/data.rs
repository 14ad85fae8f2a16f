//! The call's CRM data (G1): who may edit it and when, validation, journey entries.

use super::*;
use crate::call::data::{CallData, Catalog, MAX_NOTES_BYTES};

fn catalog() -> Catalog {
    Catalog {
        dispositions: vec!["resolved".into(), "callback".into()],
        tags: vec!["billing".into(), "vip".into()],
    }
}

fn data() -> CallData {
    CallData {
        disposition: Some("resolved".into()),
        tags: ["vip".to_string()].into(),
        notes: "asked about invoice 42\n".into(),
        who: Some("003000000000001".into()),
        what: Some("500000000000042".into()),
    }
}

fn connected() -> Call {
    let mut c = call();
    c.offer(t(1), ids(&["alice"]), OFFER).unwrap();
    c.accept(t(2), &"alice".into()).unwrap();
    c
}

#[test]
fn the_owner_edits_while_connected_and_each_change_is_logged() {
    let mut c = connected();
    let alice: AgentId = "alice".into();
    let fields = c.set_data(t(3), &alice, false, data(), &catalog()).unwrap();
    assert_eq!(fields, ["disposition", "tags", "notes", "who", "what"]);
    // Trailing white space is not kept.
    assert_eq!(c.data().notes, "asked about invoice 42");
    assert!(matches!(
        &c.journey().last().unwrap().event,
        JourneyEvent::DataChanged { by, fields } if by == &alice && fields.len() == 5
    ));
    // The same data again changes nothing and logs nothing.
    let before = c.journey().len();
    assert!(c
        .set_data(t(4), &alice, false, data(), &catalog())
        .unwrap()
        .is_empty());
    assert_eq!(c.journey().len(), before);
    // Held, the owner still edits.
    c.hold(t(5), &alice).unwrap();
    let more = CallData {
        tags: ["vip".to_string(), "billing".to_string()].into(),
        ..data()
    };
    assert_eq!(
        c.set_data(t(6), &alice, false, more, &catalog()).unwrap(),
        ["tags"]
    );
    // Another agent may not; nor anyone on a call still waiting.
    assert_eq!(
        c.set_data(t(7), &"bob".into(), false, data(), &catalog()),
        Err(Error::NotOwner("c1".into(), "bob".into()))
    );
    let mut waiting = call();
    assert!(matches!(
        waiting.set_data(t(7), &alice, false, data(), &catalog()),
        Err(Error::CallState(..))
    ));
}

#[test]
fn after_the_call_only_its_agent_in_wrap_up_edits() {
    let mut c = connected();
    let alice: AgentId = "alice".into();
    c.hangup(t(10), Party::Customer).unwrap();
    assert_eq!(
        c.set_data(t(11), &alice, false, data(), &catalog()),
        Err(Error::NotInWrapUp(alice.clone()))
    );
    assert_eq!(
        c.set_data(t(11), &"bob".into(), true, data(), &catalog()),
        Err(Error::NotOwner("c1".into(), "bob".into()))
    );
    assert_eq!(
        c.set_data(t(12), &alice, true, data(), &catalog())
            .unwrap()
            .len(),
        5
    );
    assert_eq!(c.data().disposition.as_deref(), Some("resolved"));
}

#[test]
fn refused_data_names_the_field_and_changes_nothing() {
    let mut c = connected();
    let alice: AgentId = "alice".into();
    c.set_data(t(3), &alice, false, data(), &catalog()).unwrap();
    let before = (c.data(), c.journey().len());
    let cases = [
        (
            CallData {
                disposition: Some("lost".into()),
                ..data()
            },
            "disposition \"lost\"",
        ),
        (
            CallData {
                tags: ["angry".to_string()].into(),
                ..data()
            },
            "tag \"angry\"",
        ),
        (
            CallData {
                notes: "x".repeat(MAX_NOTES_BYTES + 1),
                ..data()
            },
            "notes are",
        ),
        (
            CallData {
                who: Some(" ".into()),
                ..data()
            },
            "who:",
        ),
        (
            CallData {
                what: Some("w".repeat(300)),
                ..data()
            },
            "what:",
        ),
    ];
    for (bad, names) in cases {
        let err = c
            .set_data(t(4), &alice, false, bad, &catalog())
            .unwrap_err();
        assert_eq!(err.code(), "invalid_call_data");
        assert!(err.is_invalid_input());
        assert!(err.to_string().contains(names), "{err}");
        assert_eq!((c.data(), c.journey().len()), before.clone());
    }
}

#[test]
fn values_set_before_a_list_changed_stay_while_other_fields_change() {
    let mut c = connected();
    let alice: AgentId = "alice".into();
    c.set_data(t(3), &alice, false, data(), &catalog()).unwrap();
    // The admin removed "resolved" and "vip" from the lists meanwhile.
    let narrower = Catalog {
        dispositions: vec!["callback".into()],
        tags: vec!["billing".into()],
    };
    let notes = CallData {
        notes: "more notes".into(),
        ..data()
    };
    assert_eq!(
        c.set_data(t(4), &alice, false, notes, &narrower).unwrap(),
        ["notes"]
    );
    // A new value must still be in the list.
    let bad = CallData {
        tags: ["vip".to_string(), "angry".to_string()].into(),
        ..c.data()
    };
    assert!(c.set_data(t(5), &alice, false, bad, &narrower).is_err());
}

#[test]
fn the_data_travels_with_a_transfer() {
    let mut c = connected();
    let alice: AgentId = "alice".into();
    c.set_data(t(3), &alice, false, data(), &catalog()).unwrap();
    c.blind_transfer(
        t(4),
        &alice,
        Target::Agent { id: "bob".into() },
        ids(&["bob"]),
        OFFER,
        false,
    )
    .unwrap();
    c.accept(t(5), &"bob".into()).unwrap();
    assert_eq!(c.data().disposition.as_deref(), Some("resolved"));
    // The new owner edits it from there.
    let cleared = CallData {
        disposition: None,
        ..c.data()
    };
    assert_eq!(
        c.set_data(t(6), &"bob".into(), false, cleared, &catalog())
            .unwrap(),
        ["disposition"]
    );
}

#[test]
fn the_sender_of_an_attended_transfer_files_the_data_in_its_wrap_up() {
    let mut c = connected();
    let alice: AgentId = "alice".into();
    c.start_consult(t(3), &alice, agent("bob"), Some("bob".into()), OFFER, false)
        .unwrap();
    c.accept(t(4), &"bob".into()).unwrap();
    c.complete_consult(t(5), &alice).unwrap();
    assert_eq!(c.agent(), Some(&"bob".into()));
    // Alice is in wrap-up of the call that bob now has: she files what she did.
    c.set_data(t(6), &alice, true, data(), &catalog()).unwrap();
    assert_eq!(c.data().disposition.as_deref(), Some("resolved"));
    // Out of her wrap-up she no longer may; someone who never took part never may.
    assert_eq!(
        c.set_data(t(7), &alice, false, data(), &catalog()),
        Err(Error::NotOwner("c1".into(), alice.clone()))
    );
    assert_eq!(
        c.set_data(t(7), &"carol".into(), true, data(), &catalog()),
        Err(Error::NotOwner("c1".into(), "carol".into()))
    );
}
