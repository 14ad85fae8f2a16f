use super::*;

fn line(leg: &str, agent: Option<&str>, spoken_at: i64, text: &str) -> TranscriptLine {
    TranscriptLine {
        leg: leg.into(),
        agent: agent.map(Into::into),
        spoken_at,
        text: text.into(),
    }
}

fn log(notes: &str, tags: &[&str]) -> CallLog {
    CallLog {
        call_id: "c1".into(),
        version: 1,
        direction: "inbound".into(),
        number: "+15550123".into(),
        queue: "support".into(),
        agent: Some("alice".into()),
        started_at: 0,
        ended_at: Some(60_000),
        duration_seconds: 50,
        result: Some("answered".into()),
        data: CallData {
            notes: notes.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..CallData::default()
        },
        transcript: Vec::new(),
        transcript_truncated: false,
    }
}

#[test]
fn the_transcript_follows_the_notes_speaker_by_speaker_in_spoken_order() {
    // The legs' segments come interleaved by when they were spoken, whatever order they
    // were handed in.
    let l = log("refund for invoice 42", &["vip"]).with_transcript(vec![
        line("agent", Some("alice"), 2_000, "How can I help?"),
        line("customer", None, 1_000, "Hello."),
        line("customer", None, 3_000, "I want to cancel my account."),
        line("agent", None, 4_000, "Sure."),
    ]);
    assert!(!l.transcript_truncated);
    assert_eq!(
        l.description_within(32_000),
        "refund for invoice 42\n\nTags: vip\n\nTranscript:\nCustomer: Hello.\n\
         Agent (alice): How can I help?\nCustomer: I want to cancel my account.\nAgent: Sure."
    );
    // No notes: the transcript alone; no transcript: the notes alone, as before.
    let bare = log("", &[]).with_transcript(vec![line("customer", None, 1, "Hi.")]);
    assert_eq!(bare.description_within(100), "Transcript:\nCustomer: Hi.");
    assert_eq!(
        log("n", &["a", "b"]).description_within(100),
        "n\n\nTags: a, b"
    );
}

#[test]
fn a_description_over_the_cap_keeps_the_notes_and_cuts_the_transcript_at_a_line() {
    let lines: Vec<TranscriptLine> = (0..1_000)
        .map(|i| {
            line(
                "customer",
                None,
                i,
                &format!("sentence number {i} of a long call"),
            )
        })
        .collect();
    let l = log("the notes", &[]).with_transcript(lines);
    let d = l.description_within(32_000);
    assert!(d.chars().count() <= 32_000, "{}", d.chars().count());
    assert!(d.starts_with("the notes\n\nTranscript:\nCustomer: sentence number 0 of"));
    let last = d.lines().last().unwrap();
    let kept = d.lines().filter(|l| l.starts_with("Customer: ")).count();
    assert_eq!(
        last,
        format!("[transcript truncated: {} more lines]", 1_000 - kept)
    );
    assert!(kept > 500, "{kept}");
    // Every kept line is whole.
    assert!(d
        .lines()
        .filter(|l| l.starts_with("Customer: "))
        .all(|l| l.ends_with(" of a long call")));
    // A small cap: the marker still fits.
    let d = l.description_within(62);
    assert_eq!(d.chars().count(), 62, "{d}");
    assert_eq!(
        d,
        "the notes\n\nTranscript:\n[transcript truncated: 1000 more lines]"
    );
    assert_eq!(l.description_within(61), "the notes");
    // One line left out says so in the singular.
    let two = log("", &[]).with_transcript(vec![
        line("customer", None, 1, "short"),
        line("customer", None, 2, &"long ".repeat(20)),
    ]);
    let d = two.description_within(70);
    assert_eq!(
        d,
        "Transcript:\nCustomer: short\n[transcript truncated: 1 more line]"
    );
}

#[test]
fn notes_that_fill_the_field_leave_the_transcript_out_and_are_cut_with_a_marker() {
    let notes = "n".repeat(40_000);
    let l = log(&notes, &[]).with_transcript(vec![line("customer", None, 1, "Hello.")]);
    let d = l.description_within(32_000);
    assert_eq!(d.chars().count(), 32_000);
    assert!(
        d.ends_with("nnn\n[notes truncated]"),
        "{}",
        &d[d.len() - 40..]
    );
    assert!(!d.contains("Transcript:"));
    // Notes that fit but leave no room for the transcript's marker: notes alone.
    let d = log(&"n".repeat(31_990), &[])
        .with_transcript(vec![line("customer", None, 1, "Hello.")])
        .description_within(32_000);
    assert_eq!(d, "n".repeat(31_990));
    // Characters, not bytes.
    let d = log(&"é".repeat(100), &[]).description_within(50);
    assert_eq!(d.chars().count(), 50);
}

#[test]
fn a_log_carries_a_bounded_transcript_and_says_when_it_left_lines_out() {
    let line_of = |i: i64| line("agent", Some("bob"), i, &"x".repeat(1_000));
    let l = log("", &[]).with_transcript((0..150).map(line_of).collect());
    assert!(l.transcript_truncated);
    assert_eq!(l.transcript.len(), MAX_TRANSCRIPT_CHARS / 1_000);
    assert!(l
        .description_within(usize::MAX)
        .ends_with("\n[transcript truncated]"));
    // The webhook's JSON carries the lines; a log stored before transcripts reads back empty.
    let v =
        serde_json::to_value(log("", &[]).with_transcript(vec![line("customer", None, 5, "Hi.")]))
            .unwrap();
    assert_eq!(
        v["transcript"],
        serde_json::json!([{"leg": "customer", "agent": null, "spoken_at": 5, "text": "Hi."}])
    );
    assert_eq!(v["transcript_truncated"], false);
    let mut old = v.clone();
    old.as_object_mut().unwrap().remove("transcript");
    old.as_object_mut().unwrap().remove("transcript_truncated");
    let back: CallLog = serde_json::from_value(old).unwrap();
    assert!(back.transcript.is_empty() && !back.transcript_truncated);
}
