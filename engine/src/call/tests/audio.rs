//! Who hears whom: the audio plan the media layer obeys.

use super::*;

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
    assert_eq!(
        c.audio_plan(),
        AudioPlan {
            transcript_pause: Some(TranscriptPause::NotConnected),
            ..AudioPlan::default()
        }
    );
}

#[test]
fn dialing_out_the_agent_hears_the_customers_line_one_way_until_the_answer() {
    let mut c = Call::new_outbound(
        "o1".into(),
        t(0),
        "+3225550000".into(),
        "sales".into(),
        "alice".into(),
    );
    let plan = c.audio_plan();
    assert_eq!(plan.present, [Participant::Customer, p("alice")]);
    assert_eq!(plan.links, [(Participant::Customer, p("alice"))]);
    assert!(plan.music_to.is_empty() && plan.recorded.is_empty());
    assert_eq!(plan.transcript_pause, Some(TranscriptPause::NotConnected));
    c.remote_answered(t(3)).unwrap();
    assert!(c.audio_plan().hears(&Participant::Customer, &p("alice")));
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

#[test]
fn the_transcript_runs_only_in_conversation_and_pauses_on_hold_and_mask() {
    let mut c = call();
    let alice: AgentId = "alice".into();
    let pause = |c: &Call| c.audio_plan().transcript_pause;
    assert_eq!(pause(&c), Some(TranscriptPause::NotConnected));
    c.offer(t(1), ids(&["alice"]), OFFER).unwrap();
    assert_eq!(pause(&c), Some(TranscriptPause::NotConnected));
    c.accept(t(2), &alice).unwrap();
    assert_eq!(pause(&c), None);
    c.hold(t(3), &alice).unwrap();
    assert_eq!(pause(&c), Some(TranscriptPause::Hold));
    c.resume(t(4), &alice).unwrap();
    assert_eq!(pause(&c), None);
    c.record(t(5), &alice, RecordingAction::Start).unwrap();
    assert_eq!(pause(&c), None);
    c.record(t(6), &alice, RecordingAction::Mask).unwrap();
    assert_eq!(pause(&c), Some(TranscriptPause::Mask));
    // Held while masked: the hold is what the parties see.
    c.hold(t(7), &alice).unwrap();
    assert_eq!(pause(&c), Some(TranscriptPause::Hold));
    c.resume(t(8), &alice).unwrap();
    c.record(t(9), &alice, RecordingAction::Unmask).unwrap();
    assert_eq!(pause(&c), None);
    // Muting the agent does not pause the transcript: the agent's words still count.
    c.set_muted(t(10), &alice, true).unwrap();
    assert_eq!(pause(&c), None);
}

#[test]
fn each_agent_speaks_on_a_leg_of_their_own_through_transfers_and_conferences() {
    let customer = Participant::Customer;
    let both = |c: &Call| c.audio_plan().transcribed(true, true);
    let agents = |c: &Call| c.audio_plan().transcribed(false, true);
    assert_eq!(customer.speaker(), None);
    assert_eq!(p("bob").speaker(), Some(&"bob".into()));

    // A blind transfer: alice's leg goes with her; bob answers on a leg of his own.
    let mut c = connected();
    assert_eq!(both(&c), [customer.clone(), p("alice")]);
    c.blind_transfer(
        t(10),
        &"alice".into(),
        agent("bob"),
        ids(&["bob"]),
        OFFER,
        false,
    )
    .unwrap();
    assert_eq!(
        both(&c),
        [Participant::Customer],
        "nobody speaks for the call"
    );
    assert_eq!(
        c.audio_plan().transcript_audience(&p("alice")),
        ids(&["alice"]),
        "alice's last words still concern her"
    );
    c.accept(t(12), &"bob".into()).unwrap();
    assert_eq!(both(&c), [customer.clone(), p("bob")]);
    assert_eq!(
        c.audio_plan().transcribed(true, false),
        [Participant::Customer]
    );
    assert_eq!(c.audio_plan().transcript_audience(&customer), ids(&["bob"]));

    // A consult: the colleague is transcribed once answered, as himself; completed, he is
    // the call's agent and alice's leg is gone.
    let mut c = consulting();
    assert_eq!(agents(&c), [p("alice")], "bob still rings");
    c.accept(t(12), &"bob".into()).unwrap();
    assert_eq!(both(&c), [customer.clone(), p("alice"), p("bob")]);
    assert_eq!(
        c.audio_plan().transcript_audience(&p("bob")),
        ids(&["alice", "bob"])
    );
    c.complete_consult(t(14), &"alice".into()).unwrap();
    assert_eq!(both(&c), [customer.clone(), p("bob")]);

    // A conference: every agent's leg, and the customer's once; the owner leaves, the third
    // goes on as himself.
    let mut c = conference();
    assert_eq!(both(&c), [customer.clone(), p("alice"), p("bob")]);
    assert_eq!(agents(&c), [p("alice"), p("bob")]);
    c.hangup(t(20), by("alice")).unwrap();
    assert_eq!(c.agent(), Some(&"bob".into()));
    assert_eq!(both(&c), [customer.clone(), p("bob")]);
    assert_eq!(
        c.audio_plan().transcript_audience(&p("alice")),
        ids(&["bob", "alice"])
    );
}
