//! Tests of the agent state machine, in virtual time.

use super::*;

fn t(s: i64) -> Timestamp {
    Timestamp::from_millis(s * 1000)
}
fn ready_agent() -> Agent {
    let mut a = Agent::new("alice".into(), t(0));
    a.set_status(t(0), Some(Status::Ready), None, &[]).unwrap();
    a
}
fn drain(a: &mut Agent) -> Vec<(Status, Status)> {
    std::iter::from_fn(|| a.poll_change())
        .map(|c| (c.from, c.to))
        .collect()
}
const SEVEN: Duration = Duration::from_secs(7);

#[test]
fn statuses_carry_their_start_time() {
    let mut a = ready_agent();
    assert_eq!(a.since(), t(0));
    a.set_status(t(5), Some(Status::Dnd), None, &[]).unwrap();
    assert_eq!((a.status(), a.since()), (&Status::Dnd, t(5)));
    assert_eq!(
        drain(&mut a),
        vec![
            (Status::Offline, Status::Ready),
            (Status::Ready, Status::Dnd)
        ]
    );
}

#[test]
fn custom_statuses_must_be_configured_and_system_ones_cannot_be_chosen() {
    let mut a = ready_agent();
    let custom = vec!["break".to_owned()];
    assert_eq!(
        a.set_status(t(1), Some(Status::parse("lunch")), None, &custom),
        Err(Error::UnknownStatus("lunch".into()))
    );
    assert!(matches!(
        a.set_status(t(1), Some(Status::InService), None, &custom),
        Err(Error::NotSelectable(_))
    ));
    a.set_status(t(1), Some(Status::parse("break")), None, &custom)
        .unwrap();
    assert_eq!(a.status(), &Status::Custom("break".into()));
}

#[test]
fn missed_offer_makes_the_agent_busy_for_the_no_answer_delay() {
    let mut a = ready_agent();
    a.offer(t(10), "c1".into(), "support".into()).unwrap();
    assert_eq!(a.status(), &Status::Offered);
    a.offer_missed(t(28), &"c1".into(), SEVEN).unwrap();
    assert_eq!(a.status(), &Status::Busy);
    assert!(!a.is_available());
    assert_eq!(a.poll_timeout(), Some((t(35), AgentTimer::NoAnswerDelay)));
    assert_eq!(
        a.set_status(t(30), Some(Status::Ready), None, &[]),
        Err(Error::NoAnswerDelay("alice".into()))
    );
    a.handle_timeout(t(34));
    assert_eq!(a.status(), &Status::Busy);
    a.handle_timeout(t(35));
    assert_eq!((a.status(), a.since()), (&Status::Ready, t(35)));
}

#[test]
fn wrap_up_limit_lands_in_the_chosen_post_call_status() {
    let mut a = ready_agent();
    let custom = vec!["break".to_owned()];
    a.offer(t(1), "c1".into(), "support".into()).unwrap();
    a.answered(t(2), &"c1".into()).unwrap();
    a.set_status(t(3), None, Some(Status::parse("break")), &custom)
        .unwrap();
    a.call_ended(t(62), &"c1".into(), Some(Duration::from_secs(30)))
        .unwrap();
    assert_eq!(a.status(), &Status::AfterService);
    assert_eq!(a.poll_timeout(), Some((t(92), AgentTimer::WrapUpLimit)));
    a.handle_timeout(t(92));
    assert_eq!(a.status(), &Status::Custom("break".into()));
    assert_eq!(a.availability().talk_time_ms, 60_000);
    assert_eq!(a.calls_handled(), 1);
}

#[test]
fn wrap_up_ended_by_hand_goes_to_ready_without_a_post_call_status() {
    let mut a = ready_agent();
    a.offer(t(1), "c1".into(), "q".into()).unwrap();
    a.answered(t(2), &"c1".into()).unwrap();
    assert_eq!(a.end_wrap_up(t(3)), Err(Error::NotInWrapUp("alice".into())));
    assert_eq!(a.wrap_up_call(), None);
    a.call_ended(t(5), &"c1".into(), None).unwrap();
    assert_eq!(a.poll_timeout(), None);
    // The call being wrapped up is known (its data stays editable), until the wrap-up ends.
    assert_eq!(a.wrap_up_call(), Some(&"c1".into()));
    a.end_wrap_up(t(9)).unwrap();
    assert_eq!(a.wrap_up_call(), None);
    assert_eq!(a.status(), &Status::Ready);
    assert!(a.is_available());
}

#[test]
fn a_locked_agent_cannot_change_status_but_still_takes_calls() {
    let mut a = ready_agent();
    a.lock_in(t(1), Status::Ready, &[]).unwrap();
    assert_eq!(
        a.set_status(t(2), Some(Status::Dnd), None, &[]),
        Err(Error::Locked("alice".into(), "ready".into()))
    );
    a.offer(t(3), "c1".into(), "q".into()).unwrap();
    a.answered(t(4), &"c1".into()).unwrap();
    a.set_status(t(5), None, Some(Status::Dnd), &[]).unwrap();
    a.call_ended(t(6), &"c1".into(), None).unwrap();
    a.end_wrap_up(t(7)).unwrap();
    assert_eq!(
        a.status(),
        &Status::Ready,
        "the lock wins over the post-call status"
    );
    a.unlock();
    a.set_status(t(8), Some(Status::Dnd), None, &[]).unwrap();
}

#[test]
fn a_lock_on_a_busy_agent_applies_after_its_call() {
    let mut a = ready_agent();
    let custom = vec!["training".to_owned()];
    a.offer(t(1), "c1".into(), "q".into()).unwrap();
    a.answered(t(2), &"c1".into()).unwrap();
    a.lock_in(t(3), Status::parse("training"), &custom).unwrap();
    assert_eq!(a.status(), &Status::InService);
    a.call_ended(t(4), &"c1".into(), Some(Duration::ZERO))
        .unwrap();
    assert_eq!(a.status(), &Status::Custom("training".into()));
}

#[test]
fn offers_only_reach_an_available_agent_and_status_is_frozen_during_a_call() {
    let mut a = Agent::new("bob".into(), t(0));
    assert_eq!(
        a.offer(t(1), "c1".into(), "q".into()),
        Err(Error::Unavailable("bob".into()))
    );
    a.set_status(t(1), Some(Status::Ready), None, &[]).unwrap();
    a.offer(t(2), "c1".into(), "q".into()).unwrap();
    assert_eq!(
        a.offer(t(2), "c2".into(), "q".into()),
        Err(Error::Unavailable("bob".into()))
    );
    assert_eq!(
        a.answered(t(3), &"c2".into()),
        Err(Error::NotOffered("c2".into(), "bob".into()))
    );
    a.answered(t(3), &"c1".into()).unwrap();
    assert_eq!(
        a.set_status(t(4), Some(Status::Dnd), None, &[]),
        Err(Error::OnCall("bob".into(), "c1".into()))
    );
    assert_eq!(a.status(), &Status::InService);
}

#[test]
fn choosing_a_status_while_ringing_steps_away_from_the_offer_at_once() {
    let custom = vec!["break".to_owned()];
    let mut a = ready_agent();
    a.offer(t(10), "c1".into(), "support".into()).unwrap();
    drain(&mut a);
    let brk = Status::parse("break");
    assert_eq!(
        a.set_status(t(11), Some(brk.clone()), None, &custom),
        Ok(Some("c1".into())),
        "the call it rang for is returned, to be told"
    );
    assert_eq!((a.status(), a.call()), (&brk, None));
    assert_eq!(a.poll_timeout(), None, "no no-answer delay");
    assert_eq!(drain(&mut a), vec![(Status::Offered, brk.clone())]);
    // The call's own withdrawal, arriving after, changes nothing.
    assert!(a.offer_withdrawn(t(12), &"c1".into()).is_err());
    assert!(
        a.answered(t(12), &"c1".into()).is_err(),
        "too late to answer"
    );
    assert_eq!(a.status(), &brk);
    assert!(!a.is_available());
}

#[test]
fn ready_while_ringing_keeps_the_offer_and_a_lock_still_holds() {
    let mut a = ready_agent();
    a.offer(t(10), "c1".into(), "q".into()).unwrap();
    assert_eq!(
        a.set_status(t(11), Some(Status::Ready), None, &[]),
        Ok(None)
    );
    assert_eq!(a.status(), &Status::Offered);
    a.lock_in(t(12), Status::Ready, &[]).unwrap();
    assert_eq!(
        a.set_status(t(13), Some(Status::Dnd), None, &[]),
        Err(Error::Locked("alice".into(), "ready".into()))
    );
    assert_eq!(a.status(), &Status::Offered);
    a.answered(t(14), &"c1".into()).unwrap();
}

#[test]
fn taking_a_call_needs_no_ready_status_but_no_other_call() {
    let mut a = Agent::new("alice".into(), t(0));
    assert_eq!(
        a.take(t(1), "c1".into(), "q".into()),
        Err(Error::Unavailable("alice".into())),
        "offline"
    );
    a.set_status(t(1), Some(Status::Dnd), None, &[]).unwrap();
    a.take(t(1), "c1".into(), "q".into()).unwrap();
    assert_eq!((a.status(), a.calls_handled()), (&Status::InService, 1));
    assert_eq!(
        a.take(t(2), "c2".into(), "q".into()),
        Err(Error::Unavailable("alice".into()))
    );
}

#[test]
fn a_lock_in_a_break_is_not_left_by_taking_a_call() {
    let custom = vec!["training".to_owned()];
    let mut a = ready_agent();
    a.lock_in(t(1), Status::parse("training"), &custom).unwrap();
    assert_eq!(
        a.take(t(2), "c1".into(), "q".into()),
        Err(Error::Locked("alice".into(), "training".into()))
    );
}

#[test]
fn dialing_out_needs_no_ready_status_and_ends_in_wrap_up() {
    let mut a = Agent::new("alice".into(), t(0));
    assert_eq!(
        a.dial(t(1), "o1".into(), "q".into(), false),
        Err(Error::Unavailable("alice".into()))
    );
    a.set_status(t(1), Some(Status::Dnd), None, &[]).unwrap();
    a.dial(t(2), "o1".into(), "q".into(), false).unwrap();
    assert_eq!((a.status(), a.is_available()), (&Status::Dialing, false));
    assert_eq!(
        a.dial(t(2), "o2".into(), "q".into(), true),
        Err(Error::HoldFirst("o1".into())),
        "o1 is not even answered"
    );
    a.answered(t(5), &"o1".into()).unwrap();
    a.call_ended(t(65), &"o1".into(), None).unwrap();
    let mut unanswered = Agent::new("bob".into(), t(0));
    unanswered
        .set_status(t(1), Some(Status::Dnd), None, &[])
        .unwrap();
    unanswered
        .dial(t(2), "o3".into(), "q".into(), false)
        .unwrap();
    unanswered.call_ended(t(30), &"o3".into(), None).unwrap();
    assert_eq!(
        unanswered.status(),
        &Status::AfterService,
        "an unanswered dial-out still wraps up"
    );
    assert_eq!(
        (a.status(), a.availability().talk_time_ms),
        (&Status::AfterService, 60_000)
    );
}

#[test]
fn a_second_call_parks_the_held_first_and_returns_to_it_without_wrap_up() {
    let mut a = ready_agent();
    a.offer(t(1), "in".into(), "q".into()).unwrap();
    a.answered(t(2), &"in".into()).unwrap();
    assert_eq!(
        a.dial(t(3), "out".into(), "q".into(), false),
        Err(Error::HoldFirst("in".into()))
    );
    a.dial(t(3), "out".into(), "q".into(), true).unwrap();
    assert_eq!((a.status(), a.parked().len()), (&Status::Dialing, 1));
    a.answered(t(4), &"out".into()).unwrap();
    a.call_ended(t(10), &"out".into(), Some(Duration::from_secs(30)))
        .unwrap();
    assert_eq!(
        (a.status(), a.call().map(|c| c.call.as_str())),
        (&Status::InService, Some("in"))
    );
    assert!(a.parked().is_empty() && !a.is_available());
    a.call_ended(t(20), &"in".into(), None).unwrap();
    assert_eq!(a.status(), &Status::AfterService);
}

#[test]
fn a_released_consultant_goes_back_to_ready_without_wrap_up() {
    let mut a = ready_agent();
    a.offer(t(1), "c1".into(), "q".into()).unwrap();
    a.answered(t(2), &"c1".into()).unwrap();
    assert_eq!(
        a.released(t(3), &"c2".into()),
        Err(Error::NotOwner("c2".into(), "alice".into()))
    );
    a.released(t(9), &"c1".into()).unwrap();
    assert_eq!(
        (a.status(), a.availability().talk_time_ms),
        (&Status::Ready, 7_000)
    );
}

#[test]
fn state_round_trips_through_json_for_restarts() {
    let mut a = ready_agent();
    a.offer(t(1), "c1".into(), "q".into()).unwrap();
    a.answered(t(2), &"c1".into()).unwrap();
    let json = serde_json::to_string(&a).unwrap();
    let mut back: Agent = serde_json::from_str(&json).unwrap();
    drain(&mut a);
    assert_eq!(back, a);
    back.call_ended(t(3), &"c1".into(), None).unwrap();
    assert_eq!(back.status(), &Status::AfterService);
}

fn panel_agent() -> Agent {
    let mut a = ready_agent();
    a.panel_back(t(0));
    drain(&mut a);
    a
}

#[test]
fn an_agent_without_a_panel_is_never_disconnected() {
    let mut a = ready_agent();
    assert_eq!(a.panel_gone(t(5)), None);
    assert_eq!(a.status(), &Status::Ready);
    assert!(a.is_available());
}

#[test]
fn a_ready_agent_whose_panel_went_is_disconnected_until_it_is_back() {
    let mut a = panel_agent();
    assert_eq!(a.panel_gone(t(5)), None);
    assert_eq!(a.status(), &Status::Disconnected);
    assert!(!a.is_available());
    assert!(a.offer(t(6), "c1".into(), "support".into()).is_err());
    a.panel_back(t(9));
    assert_eq!((a.status(), a.since()), (&Status::Ready, t(9)));
    assert!(a.is_available());
    let changes: Vec<_> = std::iter::from_fn(|| a.poll_change()).collect();
    assert_eq!(
        changes
            .iter()
            .map(|c| (c.to.clone(), c.reason.clone()))
            .collect::<Vec<_>>(),
        vec![
            (Status::Disconnected, ChangeReason::PanelGone),
            (Status::Ready, ChangeReason::PanelBack)
        ]
    );
}

#[test]
fn a_custom_status_is_kept_across_a_disconnection() {
    let mut a = panel_agent();
    let custom = vec!["break".to_owned()];
    a.set_status(t(1), Some(Status::parse("break")), None, &custom)
        .unwrap();
    a.panel_gone(t(2));
    assert_eq!(a.status(), &Status::Disconnected);
    a.panel_back(t(3));
    assert_eq!(a.status(), &Status::Custom("break".into()));
}

#[test]
fn a_ringing_offer_is_handed_back_and_the_agent_is_disconnected_when_it_is_withdrawn() {
    let mut a = panel_agent();
    a.offer(t(1), "c1".into(), "support".into()).unwrap();
    assert_eq!(a.panel_gone(t(2)), Some(CallId::from("c1")));
    assert_eq!(a.status(), &Status::Offered);
    // A second notice changes nothing and hands nothing back again.
    assert_eq!(a.panel_gone(t(2)), None);
    a.offer_withdrawn(t(2), &"c1".into()).unwrap();
    assert_eq!(a.status(), &Status::Disconnected);
    assert!(a.call().is_none());
    a.panel_back(t(4));
    assert_eq!(a.status(), &Status::Ready);
}

#[test]
fn an_agent_on_a_call_finishes_it_and_is_disconnected_after_wrap_up() {
    let mut a = panel_agent();
    a.offer(t(1), "c1".into(), "support".into()).unwrap();
    a.answered(t(2), &"c1".into()).unwrap();
    assert_eq!(a.panel_gone(t(3)), None);
    assert_eq!(a.status(), &Status::InService);
    a.call_ended(t(10), &"c1".into(), Some(SEVEN)).unwrap();
    assert_eq!(a.status(), &Status::AfterService);
    a.handle_timeout(t(17));
    assert_eq!(a.status(), &Status::Disconnected);
    a.panel_back(t(20));
    assert_eq!(a.status(), &Status::Ready);
}

#[test]
fn a_status_chosen_while_disconnected_is_the_one_returned_to_and_offline_is_left_alone() {
    let mut a = panel_agent();
    a.panel_gone(t(1));
    a.set_status(t(2), Some(Status::Dnd), None, &[]).unwrap();
    assert_eq!(a.status(), &Status::Disconnected);
    a.panel_back(t(3));
    assert_eq!(a.status(), &Status::Dnd);
    a.panel_gone(t(4));
    a.set_status(t(5), Some(Status::Offline), None, &[])
        .unwrap();
    assert_eq!(a.status(), &Status::Offline);
    a.panel_back(t(6));
    assert_eq!(a.status(), &Status::Offline);
}

#[test]
fn a_no_answer_delay_that_ran_out_while_disconnected_ends_on_return() {
    let mut a = panel_agent();
    a.offer(t(1), "c1".into(), "support".into()).unwrap();
    a.offer_missed(t(2), &"c1".into(), SEVEN).unwrap();
    a.panel_gone(t(3));
    assert_eq!(a.status(), &Status::Disconnected);
    assert_eq!(a.poll_timeout(), None);
    a.panel_back(t(20));
    assert_eq!(a.status(), &Status::Busy);
    a.handle_timeout(t(20));
    assert_eq!(a.status(), &Status::Ready);
}

#[test]
fn disconnected_cannot_be_chosen() {
    let mut a = ready_agent();
    assert!(matches!(
        a.set_status(t(1), Some(Status::parse("disconnected")), None, &[]),
        Err(Error::NotSelectable(_))
    ));
}

#[test]
fn declining_into_a_status_steps_away_from_that_call_only() {
    let custom = vec!["break".to_owned()];
    let mut a = ready_agent();
    let brk = Status::parse("break");
    assert_eq!(
        a.decline_into(t(1), &"c1".into(), brk.clone(), &custom),
        Err(Error::NotOffered("c1".into(), "alice".into())),
        "nothing rings"
    );
    a.offer(t(2), "c1".into(), "q".into()).unwrap();
    assert_eq!(
        a.decline_into(t(3), &"c2".into(), brk.clone(), &custom),
        Err(Error::NotOffered("c2".into(), "alice".into()))
    );
    assert_eq!(
        a.decline_into(t(3), &"c1".into(), Status::parse("lunch"), &custom),
        Err(Error::UnknownStatus("lunch".into()))
    );
    assert_eq!(
        a.status(),
        &Status::Offered,
        "a refused step changes nothing"
    );
    a.decline_into(t(3), &"c1".into(), Status::Ready, &custom)
        .unwrap();
    assert_eq!(
        a.status(),
        &Status::Offered,
        "Ready: rings until the call takes it in"
    );
    a.decline_into(t(4), &"c1".into(), brk.clone(), &custom)
        .unwrap();
    assert_eq!((a.status(), a.call()), (&brk, None));
    a.answered(t(5), &"c1".into()).unwrap_err();
}

/// The stored form leaves out every field that holds its default (a store rewrites an agent's
/// row at each change) and reads back whole, as does the form with every field, which a row
/// written before still holds.
#[test]
fn the_serialized_form_leaves_defaults_out_and_the_full_form_still_reads() {
    let mut a = ready_agent();
    drain(&mut a);
    let json = serde_json::to_value(&a).unwrap();
    assert_eq!(
        crate::stored_form::keys(&json),
        [
            "calls_handled",
            "id",
            "idle_since",
            "since",
            "status",
            "talk_time_ms"
        ]
    );
    let full = crate::stored_form::with_defaults(
        &json,
        serde_json::json!({
            "lock": null, "post_call_status": null, "call": null, "parked": [],
            "busy_until": null, "wrap_up_until": null, "wrap_up_call": null,
            "uses_panel": false, "panel_gone": false, "resume": null
        }),
    );
    let back: Agent = serde_json::from_value(full).unwrap();
    let compact: Agent = serde_json::from_value(json).unwrap();
    assert_eq!(compact, a);
    assert_eq!(back, a);
}
