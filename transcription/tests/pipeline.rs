//! The streaming pipeline end to end on a generated model: WAV speech in, partial and final
//! segments out, through the voice detector, the commit policy and the worker pool.

use std::path::PathBuf;
use std::time::Duration;
use transcription::ggml::{write_model_file, SMALLEST};
use transcription::live::LiveLeg;
use transcription::service::{Transcriber, TranscriptionConfig, Whisper};
use transcription::stream::{Output, PauseReason};
use transcription::{Leg, Segment, Stability};

/// The smallest decoding model, written once per test binary.
fn model() -> PathBuf {
    static PATH: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let path =
            std::env::temp_dir().join(format!("switchyard-smallest-{}.bin", std::process::id()));
        write_model_file(&path, &SMALLEST, 7).unwrap();
        path
    })
    .clone()
}

/// A random-weight model is never confident: the thresholds are opened so its words pass.
fn config(workers: usize) -> TranscriptionConfig {
    TranscriptionConfig {
        model: Some(model()),
        workers,
        logprob_threshold: -1_000.0,
        no_speech_threshold: 1.0,
        ..TranscriptionConfig::default()
    }
}

fn service(workers: usize) -> Transcriber<Whisper> {
    Transcriber::start(&config(workers))
        .unwrap()
        .expect("a model is configured")
}

/// The fixture's 16 kHz samples.
fn speech() -> Vec<i16> {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/speech.wav"
    ))
    .unwrap();
    let data = bytes
        .windows(4)
        .position(|w| w == b"data")
        .expect("a data chunk");
    bytes[data + 8..]
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// Feeds `samples` in 20 ms frames, `speedup` times faster than real time, collecting what
/// the leg says meanwhile and after it ends.
async fn run(mut live: LiveLeg<Whisper>, samples: &[i16], speedup: u32) -> Vec<Output> {
    let mut out = Vec::new();
    let frame = Duration::from_millis(20) / speedup;
    let mut tick = tokio::time::interval(frame);
    for chunk in samples.chunks(320) {
        loop {
            tokio::select! {
                said = live.next() => out.extend(said),
                _ = tick.tick() => break,
            }
        }
        out.extend(live.push(chunk));
    }
    out.extend(live.finish().await.outputs);
    out
}

fn segments(out: &[Output]) -> Vec<&Segment> {
    out.iter()
        .filter_map(|o| match o {
            Output::Segment(s) => Some(s),
            _ => None,
        })
        .collect()
}

fn check_monotonic(segs: &[&Segment], until_ms: u64) {
    let mut final_end = 0;
    for s in segs {
        assert!(s.start_ms <= s.end_ms && s.end_ms <= until_ms + 20, "{s:?}");
        if s.stability == Stability::Final {
            assert!(s.start_ms >= final_end, "finals overlap: {segs:?}");
            final_end = s.end_ms;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speech_becomes_partial_and_final_segments_in_order() {
    let t = service(1);
    let audio = speech();
    let out = run(t.leg(Leg::Customer), &audio, 4).await;
    let segs = segments(&out);
    let partials = segs
        .iter()
        .filter(|s| s.stability == Stability::Partial)
        .count();
    let finals: Vec<&&Segment> = segs
        .iter()
        .filter(|s| s.stability == Stability::Final)
        .collect();
    assert!(partials >= 2, "{segs:#?}");
    // Two sentences with a pause between: at least one final each, the second after the pause.
    assert!(finals.len() >= 2, "{segs:#?}");
    assert!(finals[0].start_ms < 4_500, "{finals:?}");
    assert!(finals.last().unwrap().end_ms > 6_000, "{finals:?}");
    check_monotonic(&segs, audio.len() as u64 / 16);
    assert!(segs
        .iter()
        .all(|s| s.leg == Leg::Customer && !s.text.is_empty()));
    let stats = t.stats();
    assert!(stats.finals >= 2 && stats.partials >= 2, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_produces_nothing_and_no_decode() {
    let t = service(1);
    let silence = vec![0i16; 16_000 * 5];
    let out = run(t.leg(Leg::Agent), &silence, 10).await;
    assert!(out.is_empty(), "{out:?}");
    // Low noise is not speech either.
    let hiss: Vec<i16> = (0..16_000 * 3)
        .map(|i| ((i * 7919 % 61) as i16) - 30)
        .collect();
    let out = run(t.leg(Leg::Agent), &hiss, 10).await;
    assert!(out.is_empty(), "{out:?}");
    let stats = t.stats();
    assert_eq!((stats.partials, stats.finals), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_stops_the_transcript_and_resume_brings_it_back() {
    let t = service(1);
    let audio = speech();
    let mut live = t.leg(Leg::Customer);
    let mut out = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    // The first sentence is heard; the hold comes in the middle of the second sentence's
    // place, which is then played again while held and once more after resuming.
    let (first, rest) = audio.split_at(16_000 * 2);
    let mut held_at = None;
    let mut resumed_at = None;
    for (i, chunk) in first
        .chunks(320)
        .chain(rest.chunks(320))
        .chain(rest.chunks(320))
        .enumerate()
    {
        loop {
            tokio::select! {
                said = live.next() => out.extend(said.into_iter().map(|o| (i, o))),
                _ = tick.tick() => break,
            }
        }
        if i == first.len() / 320 {
            out.extend(live.pause(PauseReason::Hold).into_iter().map(|o| (i, o)));
            held_at = Some(i);
        }
        if i == (first.len() + rest.len()) / 320 {
            out.extend(live.resume().into_iter().map(|o| (i, o)));
            resumed_at = Some(i);
        }
        out.extend(live.push(chunk).into_iter().map(|o| (i, o)));
    }
    out.extend(
        live.finish()
            .await
            .outputs
            .into_iter()
            .map(|o| (usize::MAX, o)),
    );
    let (held_at, resumed_at) = (held_at.unwrap(), resumed_at.unwrap());
    let paused = out
        .iter()
        .position(|(_, o)| *o == Output::Paused(PauseReason::Hold))
        .expect("the pause is announced");
    let resumed = out
        .iter()
        .position(|(_, o)| *o == Output::Resumed)
        .expect("the resume is announced");
    assert!(paused < resumed);
    // Nothing between the announcement of the pause and the resume.
    assert_eq!(resumed, paused + 1, "{out:#?}");
    // Before the hold: words; after the resume: words again, timed after the held stretch.
    assert!(out[..paused]
        .iter()
        .any(|(_, o)| matches!(o, Output::Segment(_))));
    let after: Vec<&Segment> = out[resumed..]
        .iter()
        .filter_map(|(_, o)| match o {
            Output::Segment(s) => Some(s),
            _ => None,
        })
        .collect();
    assert!(!after.is_empty(), "{out:#?}");
    let resume_ms = (resumed_at * 20) as u64;
    assert!(
        after.iter().all(|s| s.start_ms >= resume_ms - 20),
        "{after:?}"
    );
    assert!(held_at < resumed_at);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_skips_partials_keeps_finals_and_reports_lag() {
    // One worker with a short queue, twenty-four legs speaking at once in real time: more
    // than it decodes.
    let t = Transcriber::start(&TranscriptionConfig {
        queue: 2,
        partial_deadline_ms: 300,
        ..config(1)
    })
    .unwrap()
    .unwrap();
    let audio = speech();
    let legs = 24;
    let runs: Vec<_> = (0..legs)
        .map(|i| {
            let leg = t.leg(if i % 2 == 0 {
                Leg::Customer
            } else {
                Leg::Agent
            });
            let audio = audio.clone();
            tokio::spawn(async move {
                let out = run_with_metrics(leg, &audio).await;
                (i, out)
            })
        })
        .collect();
    let mut total_finals = 0;
    let mut max_lag = 0;
    for r in runs {
        let (_, (out, lag)) = r.await.unwrap();
        let segs = segments(&out);
        let finals = segs
            .iter()
            .filter(|s| s.stability == Stability::Final)
            .count();
        assert!(finals >= 1, "every leg keeps its finals: {segs:?}");
        check_monotonic(&segs, audio.len() as u64 / 16);
        total_finals += finals;
        max_lag = max_lag.max(lag);
    }
    let stats = t.stats();
    assert!(stats.skipped_partials > 0, "{stats:?}");
    // Every utterance of every leg (two sentences each) had its final decode.
    assert!(stats.finals as usize >= 2 * legs, "{stats:?}");
    assert!(total_finals >= 2 * legs);
    assert!(max_lag > 0);
}

/// [`run`] in real time, returning the outputs and the leg's largest lag.
async fn run_with_metrics(mut live: LiveLeg<Whisper>, samples: &[i16]) -> (Vec<Output>, u64) {
    let mut out = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for chunk in samples.chunks(320) {
        loop {
            tokio::select! {
                said = live.next() => out.extend(said),
                _ = tick.tick() => break,
            }
        }
        out.extend(live.push(chunk));
    }
    let max_lag = live.metrics().max_lag_ms;
    out.extend(live.finish().await.outputs);
    (out, max_lag)
}

#[test]
fn no_model_means_transcription_is_off_and_a_bad_model_is_refused() {
    assert!(Transcriber::start(&TranscriptionConfig::default())
        .unwrap()
        .is_none());
    let bad = std::env::temp_dir().join(format!("switchyard-bad-model-{}.bin", std::process::id()));
    std::fs::write(&bad, b"not a model at all").unwrap();
    let err = Transcriber::start(&TranscriptionConfig {
        model: Some(bad.clone()),
        ..TranscriptionConfig::default()
    })
    .err()
    .expect("refused");
    assert!(
        err.to_string().contains(&bad.display().to_string()),
        "{err}"
    );
    let _ = std::fs::remove_file(bad);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_leg_gives_its_decoder_state_back() {
    let t = Transcriber::start(&TranscriptionConfig {
        release_state_ms: 1_500,
        ..config(1)
    })
    .unwrap()
    .unwrap();
    let audio = speech();
    let mut live = t.leg(Leg::Customer);
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    // The first sentence, then enough silence to end it: its final is decoded.
    let silence = vec![0i16; 16_000];
    for chunk in audio[..16_000 * 4].chunks(320).chain(silence.chunks(320)) {
        loop {
            tokio::select! {
                _ = live.next() => {}
                _ = tick.tick() => break,
            }
        }
        live.push(chunk);
    }
    // The last decode comes back with the leg's state.
    while tokio::time::timeout(Duration::from_millis(500), live.next())
        .await
        .is_ok()
    {}
    assert!(
        live.holds_state(),
        "the decodes left the leg without a state"
    );
    // Audio with nothing to decode arrives after the release time: the state goes back.
    live.push_at(
        &[0; 320],
        std::time::Instant::now() + Duration::from_millis(1_600),
    );
    assert!(!live.holds_state(), "the idle leg still holds its state");
}
