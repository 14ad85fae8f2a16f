use super::*;

/// Voice is any frame louder than a threshold: the policy is tested apart from the detector.
struct Loud;

impl VoiceDetector for Loud {
    fn score(&mut self, frame: &[i16]) -> f32 {
        let peak = frame.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        if peak > 1_000 {
            1.0
        } else {
            0.0
        }
    }
    fn reset(&mut self) {}
}

fn stream() -> LegStream<Loud> {
    LegStream::with_detector(Leg::Customer, StreamConfig::default(), Loud)
}

/// `ms` of voice (a 300 Hz tone) or silence.
fn audio(ms: u64, voice: bool) -> Vec<i16> {
    (0..ms * 16)
        .map(|i| {
            if voice {
                ((i as f32 * 300.0 * std::f32::consts::TAU / 16_000.0).sin() * 8_000.0) as i16
            } else {
                0
            }
        })
        .collect()
}

/// Pushes `ms` of audio in 20 ms frames, answering every job with the next scripted text.
/// Returns the outputs and the jobs' kinds.
fn feed(
    s: &mut LegStream<Loud>,
    ms: u64,
    voice: bool,
    script: &mut impl FnMut(JobKind, usize) -> Outcome,
    clock: &mut u64,
) -> (Vec<Output>, Vec<JobKind>) {
    let (mut out, mut kinds) = (Vec::new(), Vec::new());
    for chunk in audio(ms, voice).chunks(320) {
        *clock += 20;
        out.extend(s.push(chunk, *clock));
        while let Some(job) = s.next_job() {
            kinds.push(job.kind);
            let outcome = script(job.kind, job.pcm.len());
            out.extend(s.on_result(job.id, outcome, *clock + 100));
        }
    }
    (out, kinds)
}

fn segments(out: &[Output]) -> Vec<&Segment> {
    out.iter()
        .filter_map(|o| match o {
            Output::Segment(s) => Some(s),
            _ => None,
        })
        .collect()
}

fn text(s: &str) -> Outcome {
    Outcome::Text(s.to_owned())
}

#[test]
fn silence_is_never_decoded() {
    let mut s = stream();
    let mut clock = 0;
    let mut never = |_: JobKind, _: usize| -> Outcome { panic!("silence was decoded") };
    let (out, kinds) = feed(&mut s, 20_000, false, &mut never, &mut clock);
    assert!(out.is_empty() && kinds.is_empty());
    // A click shorter than the minimum speech is not an utterance either.
    let (out, kinds) = feed(&mut s, 100, true, &mut never, &mut clock);
    let (out2, kinds2) = feed(&mut s, 2_000, false, &mut never, &mut clock);
    assert!(out.is_empty() && kinds.is_empty() && out2.is_empty() && kinds2.is_empty());
    // The leg's clock counts whole detector frames.
    assert!((22_080..=22_100).contains(&s.clock_ms()));
}

#[test]
fn agreement_commits_words_and_the_end_finishes_the_utterance() {
    let mut s = stream();
    let mut clock = 0;
    // Successive decodes of the growing window; the final decode sees it all.
    let partials = [
        "my account",
        "my account number is",
        "my account number is four two",
    ];
    let mut n = 0;
    let mut script = |kind: JobKind, _: usize| match kind {
        JobKind::Partial => {
            n += 1;
            text(partials[(n - 1).min(partials.len() - 1)])
        }
        JobKind::Final => text("My account number is four two seven."),
    };
    let (mut out, mut kinds) = feed(&mut s, 3_300, true, &mut script, &mut clock);
    let (o, k) = feed(&mut s, 1_000, false, &mut script, &mut clock);
    out.extend(o);
    kinds.extend(k);
    assert_eq!(
        kinds,
        [
            JobKind::Partial,
            JobKind::Partial,
            JobKind::Partial,
            JobKind::Final
        ]
    );
    let segs = segments(&out);
    let shown: Vec<(Stability, &str)> = segs.iter().map(|s| (s.stability, &*s.text)).collect();
    assert_eq!(
        shown,
        [
            (Stability::Partial, "my account"),
            // The second decode agrees with the first on "my account": final.
            (Stability::Final, "my account"),
            (Stability::Partial, "number is"),
            (Stability::Final, "number is"),
            (Stability::Partial, "four two"),
            // The speaker pauses: the early decode agrees on "four two" and shows the rest...
            (Stability::Final, "four two"),
            (Stability::Partial, "seven."),
            // ...and when the pause ends the utterance, what it adds is final.
            (Stability::Final, "seven."),
        ]
    );
    // Finals tile the utterance in order; every segment lies within the audio taken.
    let finals: Vec<&&Segment> = segs
        .iter()
        .filter(|s| s.stability == Stability::Final)
        .collect();
    for w in finals.windows(2) {
        assert!(w[0].end_ms <= w[1].start_ms, "{w:?}");
    }
    for seg in &segs {
        assert!(seg.start_ms <= seg.end_ms && seg.end_ms <= s.clock_ms());
        assert_eq!(seg.leg, Leg::Customer);
    }
    assert_eq!(s.metrics().partials, 3);
    assert_eq!(s.metrics().finals, 1);
    assert_eq!(s.metrics().lag_ms, 100);
}

#[test]
fn a_long_utterance_is_cut_at_the_longest_window() {
    let mut s = stream();
    let mut clock = 0;
    let mut lens = Vec::new();
    let mut script = |kind: JobKind, len: usize| {
        if kind == JobKind::Final {
            lens.push(len);
        }
        text("words keep coming")
    };
    feed(&mut s, 25_000, true, &mut script, &mut clock);
    feed(&mut s, 1_000, false, &mut script, &mut clock);
    // 25 s of speech: two full 10 s windows, then the rest.
    assert_eq!(lens.len(), 3, "{lens:?}");
    assert!(lens[..2].iter().all(|&l| l == 160_000));
    assert!(lens[2] > 4 * 16_000 && lens[2] < 6 * 16_000);
}

#[test]
fn pause_finishes_what_was_said_then_takes_nothing_until_resumed() {
    let mut s = stream();
    let mut clock = 0;
    let mut script = |kind: JobKind, _: usize| match kind {
        JobKind::Partial => text("before the hold"),
        JobKind::Final => text("before the hold ends"),
    };
    let (out, _) = feed(&mut s, 1_500, true, &mut script, &mut clock);
    assert!(!segments(&out).is_empty());
    // Pausing mid-utterance: the final of what was said is due before the announcement.
    assert!(s.pause(PauseReason::Hold).is_empty());
    let job = s
        .next_job()
        .expect("the final of the words before the hold");
    assert_eq!(job.kind, JobKind::Final);
    let out = s.on_result(job.id, text("before the hold ends"), clock);
    assert_eq!(
        out.last(),
        Some(&Output::Paused(PauseReason::Hold)),
        "{out:?}"
    );
    assert!(matches!(&out[0], Output::Segment(seg) if seg.stability == Stability::Final));
    // Speech while held is never decoded, but the leg's time goes on.
    let mut never = |_: JobKind, _: usize| -> Outcome { panic!("held audio was decoded") };
    let (out, kinds) = feed(&mut s, 5_000, true, &mut never, &mut clock);
    assert!(out.is_empty() && kinds.is_empty());
    assert_eq!(s.resume(), [Output::Resumed]);
    let (out, _) = feed(&mut s, 2_000, true, &mut script, &mut clock);
    let segs = segments(&out);
    assert!(!segs.is_empty());
    assert!(segs.iter().all(|seg| seg.start_ms >= 6_500), "{segs:?}");
}

#[test]
fn a_pause_in_silence_is_announced_at_once_and_a_quick_resume_says_both() {
    let mut s = stream();
    assert_eq!(
        s.pause(PauseReason::Mask),
        [Output::Paused(PauseReason::Mask)]
    );
    assert!(s.pause(PauseReason::Hold).is_empty());
    assert_eq!(s.resume(), [Output::Resumed]);
    assert!(s.resume().is_empty());
    // Paused mid-utterance and resumed before its final came back: both are said, in order.
    let mut clock = 0;
    let mut script = |_: JobKind, _: usize| text("hello");
    feed(&mut s, 1_500, true, &mut script, &mut clock);
    assert!(s.pause(PauseReason::Hold).is_empty());
    assert_eq!(
        s.resume(),
        [Output::Paused(PauseReason::Hold), Output::Resumed]
    );
    assert_eq!(s.next_job().map(|j| j.kind), Some(JobKind::Final));
}

#[test]
fn skipped_and_failed_decodes_are_counted_and_show_nothing() {
    let mut s = stream();
    let mut clock = 0;
    let mut n = 0;
    let mut script = |kind: JobKind, _: usize| {
        n += 1;
        match (kind, n) {
            (JobKind::Partial, 1) => Outcome::Skipped,
            (JobKind::Partial, _) => Outcome::Failed("decoder broke".into()),
            (JobKind::Final, _) => text("only the final"),
        }
    };
    let (mut out, _) = feed(&mut s, 2_300, true, &mut script, &mut clock);
    out.extend(feed(&mut s, 1_000, false, &mut script, &mut clock).0);
    let shown: Vec<(Stability, &str)> = segments(&out)
        .iter()
        .map(|s| (s.stability, &*s.text))
        .collect();
    // The early decode as the speaker pauses, then the same words final as the pause ends it.
    assert_eq!(
        shown,
        [
            (Stability::Partial, "only the final"),
            (Stability::Final, "only the final")
        ]
    );
    assert_eq!(s.metrics().skipped_partials, 1);
    assert_eq!(s.metrics().failures, 1);
    // A result for a job that is not in flight is ignored.
    assert!(s.on_result(999, text("stray"), clock).is_empty());
}

#[test]
fn the_final_continues_after_the_committed_words_even_when_the_decode_differs_there() {
    let w = |s: &str| -> Vec<String> { s.split_whitespace().map(str::to_owned).collect() };
    // Same words: plain slice.
    assert_eq!(super::seam(&w("I can see"), &w("I can see the payment")), 3);
    // A word added at the seam ("duplicate duplicate" came from slicing by count).
    assert_eq!(
        super::seam(
            &w("Thank you, I can see the duplicate"),
            &w("Thank you. I can see the the duplicate payment")
        ),
        8
    );
    // A word dropped.
    assert_eq!(
        super::seam(
            &w("Thank you, I can see"),
            &w("Thank you, can see the payment")
        ),
        4
    );
    // Punctuation and case do not matter.
    assert_eq!(
        super::seam(&w("Hello there"), &w("hello, There. friend")),
        2
    );
    // Nothing committed: everything is new.
    assert_eq!(super::seam(&[], &w("a b")), 0);
    // The decode shorter than what was committed: nothing new.
    assert_eq!(super::seam(&w("a b c d e"), &w("a b")), 2);
}

/// Pushes `ms` of audio in 20 ms frames without answering jobs; returns the outputs of the
/// pushes themselves.
fn push(s: &mut LegStream<Loud>, ms: u64, voice: bool, clock: &mut u64) -> Vec<Output> {
    let mut out = Vec::new();
    for chunk in audio(ms, voice).chunks(320) {
        *clock += 20;
        out.extend(s.push(chunk, *clock));
    }
    out
}

#[test]
fn the_early_decode_is_the_final_when_the_pause_ends_the_utterance() {
    let mut s = stream();
    let mut clock = 0;
    let mut script = |kind: JobKind, _: usize| match kind {
        JobKind::Partial => text("thanks for"),
        JobKind::Final => text("Thanks for calling."),
    };
    let (_, kinds) = feed(&mut s, 1_200, true, &mut script, &mut clock);
    assert_eq!(kinds, [JobKind::Partial]);
    // The speaker pauses: after settle_ms (240) the window is decoded at a final's priority.
    assert!(push(&mut s, 200, false, &mut clock).is_empty());
    assert!(s.next_job().is_none(), "nothing is due before settle_ms");
    assert!(push(&mut s, 60, false, &mut clock).is_empty());
    let job = s.next_job().expect("the early decode");
    assert_eq!(job.kind, JobKind::Final);
    // About 1.2 s of voice and 240 ms of pause: the window ends at the settle point.
    assert!(
        (1_420..=1_500).contains(&(job.pcm.len() / 16)),
        "{}",
        job.pcm.len()
    );
    // Back while the pause goes on: it agrees with the partial on "Thanks for", and the rest
    // is shown as a partial, not final yet.
    let out = s.on_result(job.id, text("Thanks for calling."), clock);
    let shown: Vec<(Stability, &str)> = segments(&out)
        .iter()
        .map(|s| (s.stability, &*s.text))
        .collect();
    assert_eq!(
        shown,
        [
            (Stability::Final, "Thanks for"),
            (Stability::Partial, "calling.")
        ]
    );
    // The hangover (600 ms of non-voice) ends the utterance: final at once, with no decode.
    let out = push(&mut s, 400, false, &mut clock);
    let segs = segments(&out);
    assert_eq!(segs.len(), 1, "{out:?}");
    assert_eq!(
        (segs[0].stability, &*segs[0].text),
        (Stability::Final, "calling.")
    );
    assert!(s.next_job().is_none());
    assert_eq!(s.metrics().finals, 1);
}

#[test]
fn an_early_decode_back_after_the_utterance_ended_is_final_at_once() {
    let mut s = stream();
    let mut clock = 0;
    push(&mut s, 800, true, &mut clock);
    push(&mut s, 260, false, &mut clock);
    let job = s.next_job().expect("the early decode");
    assert_eq!(job.kind, JobKind::Final);
    // A slow decode: the hangover ends the utterance while it runs.
    assert!(push(&mut s, 600, false, &mut clock).is_empty());
    assert!(
        s.next_job().is_none(),
        "the early decode is still in flight"
    );
    let out = s.on_result(job.id, text("Hello there."), clock);
    let segs = segments(&out);
    assert_eq!(segs.len(), 1, "{out:?}");
    assert_eq!(
        (segs[0].stability, &*segs[0].text),
        (Stability::Final, "Hello there.")
    );
    assert!(s.next_job().is_none(), "no second decode of the same audio");
}

#[test]
fn an_early_decode_serves_as_a_partial_when_the_speaker_goes_on() {
    let mut s = stream();
    let mut clock = 0;
    let mut lens = Vec::new();
    let mut script = |kind: JobKind, len: usize| {
        lens.push((kind, len / 16));
        match len / 16 {
            0..=1_400 => text("I would like"),
            _ => text("I would like to pay my bill."),
        }
    };
    let mut out = feed(&mut s, 800, true, &mut script, &mut clock).0;
    // A comma's pause: early decode, then the speaker goes on.
    out.extend(feed(&mut s, 300, false, &mut script, &mut clock).0);
    out.extend(feed(&mut s, 900, true, &mut script, &mut clock).0);
    out.extend(feed(&mut s, 1_000, false, &mut script, &mut clock).0);
    let kinds: Vec<JobKind> = lens.iter().map(|l| l.0).collect();
    assert_eq!(kinds, [JobKind::Final, JobKind::Final], "{lens:?}");
    // The second early decode covers the whole utterance, and it is the final.
    assert!(lens[1].1 > 2_000, "{lens:?}");
    let finals: Vec<&str> = segments(&out)
        .iter()
        .filter(|s| s.stability == Stability::Final)
        .map(|s| &*s.text)
        .collect();
    assert_eq!(finals.join(" "), "I would like to pay my bill.", "{out:?}");
}
