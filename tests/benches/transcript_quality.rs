//! Live transcripts on real speech with the real tiny.en (`cargo bench -p tests --bench
//! transcript_quality`, on an otherwise idle machine; the model is the one `./test.sh` or
//! `./serve.sh` imports into `models/`):
//!
//! 1. **The encoder window**: the contact-center sentences through a leg (male voice over
//!    PCMU and over G.722, female voice over Opus) with the encoder over the window and 320 ms after it (the
//!    old setting), the window and 2 s after it (the default), and whisper's full 30 s: word
//!    error rate, phrase loops, and the decode cost per second of audio.
//! 2. **Latency**: the same, in real time on this machine (each decode takes what it took), with
//!    the default settings: when each word first shows (a partial or a final) after it was
//!    spoken, and when a sentence's last final comes after the sentence ends; p50 and p95.
//!    Word times inside a sentence are estimated evenly over its span.
//!
//! `TRANSCRIPT_STEPS` (default 1000) lists the re-decode cadences (ms) to measure in 2.,
//! `TRANSCRIPT_SETTLES` (default 240,600) the pauses after which the utterance is decoded
//! early as its likely final (600, the hangover: no early decode), and `TRANSCRIPT_HANGOVERS`
//! (default 600) the pauses that end an utterance; `TRANSCRIPT_SENTENCES` (default all 24)
//! takes the first N sentences; `TRANSCRIPT_SECTIONS` (default 1,2) which parts to run.

use actors::media::codec::Codec;
use tests::speech::{self, Voice};
use transcription::service::{TranscriptionConfig, Whisper};
use transcription::whisper::Model;

fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let Some(path) = speech::real_model() else {
        return;
    };
    let model = Model::load(&path).expect("the model loads");
    let n = std::env::var("TRANSCRIPT_SENTENCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(speech::SENTENCES.len())
        .min(speech::SENTENCES.len());
    let sentences = &speech::SENTENCES[..n];
    // The male voice over both trunk codecs: what G.722's wide band buys over PCMU.
    let legs = [
        (Voice::Male, Codec::Pcmu),
        (Voice::Male, Codec::G722),
        (Voice::Female, Codec::Opus),
    ];
    let audio: Vec<_> = legs
        .iter()
        .map(|&(v, c)| (v, c, speech::conversation(sentences, v, c, 1_200)))
        .collect();
    let all = sentences.join(" ");

    let sections = std::env::var("TRANSCRIPT_SECTIONS").unwrap_or_else(|_| "1,2".into());
    if sections.contains('1') {
        windows(&model, &audio, &all);
    }
    if sections.contains('2') {
        latency(&model, &audio, sentences, &all);
    }
}

type Audio = (Voice, Codec, (Vec<i16>, Vec<(u64, u64)>));

fn windows(model: &Model, audio: &[Audio], all: &str) {
    println!("1. encoder window (decodes return at once; cost measured)");
    println!("encoder          leg               WER %  loops  decode ms per s of audio");
    for (name, pad) in [
        ("window + 320 ms", Some(320)),
        ("window + 2 s", Some(2_000)),
        ("full 30 s", None),
    ] {
        let config = TranscriptionConfig {
            encoder_pad_ms: pad,
            ..TranscriptionConfig::default()
        };
        let engine = Whisper::new(model.clone(), &config);
        for (voice, codec, (pcm, _)) in audio {
            let heard = speech::transcribe(&engine, pcm, config.stream(), 0.0);
            let loops = heard
                .finals
                .iter()
                .filter(|(_, s)| speech::repeated_phrase(&s.text).is_some())
                .count();
            let cost: f64 = heard.decodes.iter().map(|d| d.2).sum::<f64>()
                / (heard.decodes.iter().map(|d| d.1).sum::<u64>() as f64 / 1000.0);
            println!(
                "{name:<16} {:<17} {:>5.1} {loops:>6} {cost:>10.0}",
                format!("{voice:?} {codec:?}"),
                speech::wer(all, &heard.text()) * 100.0
            );
        }
    }
}

fn latency(model: &Model, audio: &[Audio], sentences: &[&str], all: &str) {
    let list = |name: &str, default: &[u64]| -> Vec<u64> {
        std::env::var(name)
            .ok()
            .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
            .unwrap_or_else(|| default.to_vec())
    };
    let mut settings = Vec::new();
    for step in list("TRANSCRIPT_STEPS", &[1_000]) {
        for hangover in list("TRANSCRIPT_HANGOVERS", &[600]) {
            for settle in list("TRANSCRIPT_SETTLES", &[240, 600]) {
                settings.push((step, hangover, settle.min(hangover)));
            }
        }
    }
    println!("\n2. latency in real time, one leg at a time (ms)");
    println!(
        "step  hangover  settle  leg               WER %  word p50  word p95  final p50  final p95  decode s"
    );
    for (step, hangover, settle) in settings {
        let config = TranscriptionConfig {
            step_ms: step,
            hangover_ms: hangover,
            settle_ms: settle,
            ..TranscriptionConfig::default()
        };
        let engine = Whisper::new(model.clone(), &config);
        for (voice, codec, (pcm, spans)) in audio {
            let heard = speech::transcribe(&engine, pcm, config.stream(), 1.0);
            let (mut words, mut finals) = (Vec::new(), Vec::new());
            for (i, &(start, end)) in spans.iter().enumerate() {
                let n = speech::normalise(sentences[i]).len().max(1);
                let mine = |s: &transcription::Segment| speech::belongs(spans, i, s);
                // Words shown so far for this sentence, at each output in time order.
                let mut outputs: Vec<(u64, usize, bool)> = Vec::new();
                let mut committed = 0;
                let mut events: Vec<(u64, &transcription::Segment, bool)> = heard
                    .finals
                    .iter()
                    .map(|(t, s)| (*t, s, true))
                    .chain(heard.partials.iter().map(|(t, s)| (*t, s, false)))
                    .filter(|(_, s, _)| mine(s))
                    .collect();
                events.sort_by_key(|e| (e.0, !e.2));
                for (t, s, is_final) in events {
                    let k = speech::normalise(&s.text).len();
                    if is_final {
                        committed += k;
                        outputs.push((t, committed, true));
                    } else {
                        outputs.push((t, committed + k, false));
                    }
                }
                for w in 0..n {
                    let spoken = start + (end - start) * (w as u64 + 1) / n as u64;
                    if let Some((t, _, _)) = outputs.iter().find(|o| o.1 > w) {
                        words.push(t.saturating_sub(spoken) as f64);
                    }
                }
                if let Some((t, _, _)) = outputs.iter().rev().find(|o| o.2) {
                    finals.push(t.saturating_sub(end) as f64);
                    if std::env::var_os("TRANSCRIPT_VERBOSE").is_some() {
                        println!("  sentence {i}: spoken {start}-{end}, last final at {t}");
                    }
                }
            }
            let busy: f64 = heard.decodes.iter().map(|d| d.2).sum::<f64>() / 1000.0;
            println!(
                "{step:>4}  {hangover:>8}  {settle:>6}  {:<17} {:>5.1} {:>9.0} {:>9.0} {:>10.0} {:>10.0} {busy:>9.1}",
                format!("{voice:?} {codec:?}"),
                speech::wer(all, &heard.text()) * 100.0,
                percentile(&mut words.clone(), 0.5),
                percentile(&mut words, 0.95),
                percentile(&mut finals.clone(), 0.5),
                percentile(&mut finals, 0.95),
            );
        }
    }
}
