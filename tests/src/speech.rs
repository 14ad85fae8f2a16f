//! Real speech for the transcription tests and benchmarks: contact-center sentences spoken by
//! espeak-ng (a male and a female voice), carried the way a leg carries them (8 kHz PCMU from a
//! telephone, 48 kHz Opus from a browser: encoded, decoded and forked to 16 kHz by the
//! server's own codec and resampler), and transcribed by the server's own stream policy and
//! whisper engine in simulated real time; then scored (word error rate, loops, dropped
//! sentences, latency).

use actors::media::codec::{Codec, Decoder, Encoder};
use actors::media::resample::To16k;
use std::path::{Path, PathBuf};
use std::process::Command;
use transcription::pool::Decode;
use transcription::stream::{JobKind, LegStream, Outcome, Output, StreamConfig};
use transcription::{Leg, Segment, Stability};

/// What agents and customers say. Numbers are spelled as spoken.
pub const SENTENCES: &[&str] = &[
    "Thank you for calling customer support, my name is Alice, how can I help you today?",
    "Hi, I was charged twice for my last order and I would like a refund.",
    "I am sorry to hear that, can I have your account number please?",
    "Sure, it is four seven one one two nine.",
    "Thank you, I can see the duplicate payment on your account.",
    "I have issued a refund for the second charge.",
    "How long will it take for the money to come back?",
    "It usually takes three to five business days.",
    "Can you also update my email address?",
    "Of course, what is the new email address?",
    "Please send all invoices to my work address from now on.",
    "I would like to cancel my subscription at the end of the month.",
    "Let me transfer you to our billing department.",
    "Please hold for a moment while I check that for you.",
    "Your delivery is scheduled for Tuesday morning.",
    "The package was damaged when it arrived.",
    "Could you send me a replacement instead?",
    "I will send you a confirmation by email.",
    "Is there anything else I can help you with?",
    "No, that is all, thank you very much for your help.",
    "You are welcome, have a great day.",
    "My internet connection keeps dropping every evening.",
    "Have you tried restarting the router?",
    "I would like to speak to a supervisor please.",
];

/// An espeak-ng voice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Voice {
    /// `en-us+m1`.
    Male,
    /// `en-us+f3`.
    Female,
    /// Any espeak-ng voice.
    Named(&'static str),
}

impl Voice {
    fn espeak(self) -> &'static str {
        match self {
            Voice::Male => "en-us+m1",
            Voice::Female => "en-us+f3",
            Voice::Named(name) => name,
        }
    }
}

/// Whether espeak-ng and sox are installed.
pub fn tools_present() -> bool {
    ["espeak-ng", "sox"].iter().all(|t| {
        Command::new(t)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// The whisper model the real-model tests use: `SWITCHYARD_TEST_WHISPER_MODEL`, or the one
/// `./serve.sh` and `./test.sh` import into `models/`. `None` (the caller skips) on a user's
/// machine without it; in CI (`CI` set) a missing model or tool is a failure.
pub fn real_model() -> Option<PathBuf> {
    let path = std::env::var_os("SWITCHYARD_TEST_WHISPER_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/ggml-tiny.en.bin")
        });
    let ok = path.is_file() && tools_present();
    if !ok {
        let why = format!(
            "the real whisper model ({}) or espeak-ng/sox is missing: run ./test.sh, which fetches and imports it",
            path.display()
        );
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("skipped: {why}");
        return None;
    }
    Some(path)
}

/// `text` spoken by `voice`, at `rate` Hz mono (sox's high-quality resampler from espeak's
/// 22.05 kHz).
pub fn speak(text: &str, voice: Voice, rate: u32) -> Vec<i16> {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let wav = dir.path().join("s.wav");
    let raw = dir.path().join("s.raw");
    let ok = Command::new("espeak-ng")
        .args(["-v", voice.espeak(), "-s", "155", "-w"])
        .arg(&wav)
        .arg(text)
        .status()
        .expect("espeak-ng runs")
        .success();
    assert!(ok, "espeak-ng failed on {text:?}");
    convert(&wav, &raw, rate);
    read_raw(&raw)
}

/// A WAV (or any file sox reads) as `rate` Hz mono 16-bit raw, the same bytes every run.
fn convert(from: &Path, to: &Path, rate: u32) {
    // `-R`: sox dithers with a generator seeded from the clock unless told to repeat itself,
    // which made the same sentence decode differently from run to run.
    let ok = Command::new("sox")
        .arg("-R")
        .arg(from)
        .args([
            "-r",
            &rate.to_string(),
            "-c",
            "1",
            "-b",
            "16",
            "-e",
            "signed",
        ])
        .arg(to)
        .status()
        .expect("sox runs")
        .success();
    assert!(ok, "sox failed on {}", from.display());
}

fn read_raw(path: &Path) -> Vec<i16> {
    std::fs::read(path)
        .expect("sox's output")
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// Audio made by sox's synthesiser (`synth` arguments, e.g. `["3", "pinknoise"]`) at 16 kHz.
pub fn synth(args: &[&str], gain_db: f64) -> Vec<i16> {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let raw = dir.path().join("n.raw");
    let ok = Command::new("sox")
        .args([
            "-R", "-n", "-r", "16000", "-c", "1", "-b", "16", "-e", "signed",
        ])
        .arg(&raw)
        .arg("synth")
        .args(args)
        .args(["gain", &gain_db.to_string()])
        .status()
        .expect("sox runs")
        .success();
    assert!(ok, "sox synth {args:?} failed");
    read_raw(&raw)
}

/// `pcm` at the codec's rate through a leg: encoded in 20 ms frames, decoded, and forked to
/// 16 kHz the way the server's leg does it.
pub fn through_leg(codec: Codec, pcm: &[i16]) -> Vec<i16> {
    let rate = codec.sample_rate();
    let frame = rate as usize / 50;
    let mut enc = Encoder::new(codec).expect("an encoder");
    let mut dec = Decoder::default();
    let mut to16k = To16k::new(rate).expect("a supported rate");
    let mut out = Vec::with_capacity(pcm.len() * 16_000 / rate as usize);
    for chunk in pcm.chunks(frame) {
        let mut f = chunk.to_vec();
        f.resize(frame, 0);
        let payload = enc.encode_native(&f).expect("encodes");
        let native = dec.decode_native(codec, &payload).expect("decodes");
        out.extend(to16k.process(&native));
    }
    out
}

/// A conversation side: the sentences one after another, each followed by `gap_ms` of
/// silence, at the codec's rate, through a leg; and where each sentence lies (ms at 16 kHz).
pub fn conversation(
    sentences: &[&str],
    voice: Voice,
    codec: Codec,
    gap_ms: u64,
) -> (Vec<i16>, Vec<(u64, u64)>) {
    let rate = codec.sample_rate();
    let gap = vec![0i16; (rate as u64 * gap_ms / 1000) as usize];
    let mut pcm = gap.clone();
    let mut spans = Vec::new();
    for s in sentences {
        let start = pcm.len() as u64 * 1000 / u64::from(rate);
        pcm.extend(speak(s, voice, rate));
        spans.push((start, pcm.len() as u64 * 1000 / u64::from(rate)));
        pcm.extend(&gap);
    }
    (through_leg(codec, &pcm), spans)
}

/// What a stream gave for a stretch of audio.
#[derive(Debug, Default)]
pub struct Heard {
    /// Finals with the audio time (ms) at which each came out.
    pub finals: Vec<(u64, Segment)>,
    /// Partials with the audio time at which each came out.
    pub partials: Vec<(u64, Segment)>,
    /// Decodes: kind, window length (ms), wall time (ms).
    pub decodes: Vec<(JobKind, u64, f64)>,
}

impl Heard {
    /// Every final's text, in order, joined by spaces.
    pub fn text(&self) -> String {
        let words: Vec<&str> = self.finals.iter().map(|(_, s)| s.text.as_str()).collect();
        words.join(" ")
    }
}

/// Runs `pcm` (16 kHz) through a leg's stream and `engine` in simulated real time: audio
/// arrives at its own pace, and a decode's result arrives `slowdown` × its measured wall time
/// after it was started (1.0: this machine with the decode to itself; 0.0: instantly).
pub fn transcribe<E: Decode>(
    engine: &E,
    pcm: &[i16],
    config: StreamConfig,
    slowdown: f64,
) -> Heard {
    let mut stream = LegStream::new(Leg::Customer, config);
    let mut state = engine.new_state().expect("a decoder state");
    let mut heard = Heard::default();
    // (job id, outcome, audio ms at which its result arrives)
    let mut pending: Option<(u64, Outcome, u64)> = None;
    let mut now = 0u64;
    let take = |outputs: Vec<Output>, now: u64, heard: &mut Heard| {
        for o in outputs {
            if let Output::Segment(s) = o {
                match s.stability {
                    Stability::Final => heard.finals.push((now, s)),
                    Stability::Partial => heard.partials.push((now, s)),
                }
            }
        }
    };
    let mut step = |stream: &mut LegStream,
                    pending: &mut Option<(u64, Outcome, u64)>,
                    now: u64,
                    heard: &mut Heard| {
        if let Some((id, _, at)) = pending {
            if *at <= now {
                let (id, outcome) = (*id, pending.take().expect("checked").1);
                let out = stream.on_result(id, outcome, now);
                take(out, now, heard);
            }
        }
        if pending.is_none() {
            if let Some(job) = stream.next_job() {
                let started = std::time::Instant::now();
                let outcome = match engine.decode(&mut state, &job.pcm, job.kind, true) {
                    Ok(text) => Outcome::Text(text),
                    Err(e) => Outcome::Failed(e),
                };
                let wall = started.elapsed().as_secs_f64() * 1000.0;
                heard
                    .decodes
                    .push((job.kind, job.pcm.len() as u64 / 16, wall));
                *pending = Some((job.id, outcome, now + (wall * slowdown) as u64));
            }
        }
    };
    for frame in pcm.chunks(320) {
        now += frame.len() as u64 / 16;
        let out = stream.push(frame, now);
        take(out, now, &mut heard);
        step(&mut stream, &mut pending, now, &mut heard);
    }
    let out = stream.end();
    take(out, now, &mut heard);
    loop {
        step(&mut stream, &mut pending, now, &mut heard);
        if pending.is_none() {
            break;
        }
        now = now.max(pending.as_ref().map_or(now, |p| p.2));
    }
    heard
}

/// Words for scoring: lower case, punctuation dropped, common contractions expanded, digits
/// spelled (a run of three or more digits digit by digit, as a number read out).
pub fn normalise(text: &str) -> Vec<String> {
    let text = text.to_lowercase().replace(['-', '—', '/'], " ");
    let mut out = Vec::new();
    for raw in text.split_whitespace() {
        let w: String = raw
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == '\'')
            .collect();
        let w = w.trim_matches('\'');
        let expanded: &[&str] = match w {
            "i'm" => &["i", "am"],
            "it's" => &["it", "is"],
            "that's" => &["that", "is"],
            "i'll" => &["i", "will"],
            "i've" => &["i", "have"],
            "you're" => &["you", "are"],
            "i'd" => &["i", "would"],
            "what's" => &["what", "is"],
            "can't" => &["cannot"],
            "ok" | "okay" => &["okay"],
            "" => &[],
            _ => {
                if w.chars().all(|c| c.is_ascii_digit()) {
                    out.extend(spell_number(w));
                } else {
                    out.push(w.replace('\'', ""));
                }
                continue;
            }
        };
        out.extend(expanded.iter().map(|s| s.to_string()));
    }
    out
}

fn spell_number(digits: &str) -> Vec<String> {
    const ONES: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 10] = [
        "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    let n: usize = digits.parse().unwrap_or(0);
    if digits.len() >= 3 {
        return digits
            .bytes()
            .map(|d| ONES[usize::from(d - b'0')].to_string())
            .collect();
    }
    if n < 20 {
        return vec![ONES[n].to_string()];
    }
    match (n / 10, n % 10) {
        (tens, 0) => vec![TENS[tens].to_string()],
        (tens, ones) => vec![TENS[tens].to_string(), ONES[ones].to_string()],
    }
}

/// Word error rate of `hypothesis` against `reference` (both normalised): edits over
/// reference words.
pub fn wer(reference: &str, hypothesis: &str) -> f64 {
    let (r, h) = (normalise(reference), normalise(hypothesis));
    edits(&r, &h) as f64 / r.len().max(1) as f64
}

fn edits(r: &[String], h: &[String]) -> usize {
    let mut prev: Vec<usize> = (0..=h.len()).collect();
    for (i, rw) in r.iter().enumerate() {
        let mut cur = vec![i + 1; h.len() + 1];
        for (j, hw) in h.iter().enumerate() {
            let sub = prev[j] + usize::from(rw != hw);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[h.len()]
}

/// A phrase repeated inside one segment: a run of three or more words that occurs twice (a
/// decoder loop), or one word four times in a row.
pub fn repeated_phrase(text: &str) -> Option<String> {
    let w = normalise(text);
    for i in 0..w.len() {
        if w.len() >= i + 4 && w[i..i + 4].iter().all(|x| *x == w[i]) {
            return Some(w[i].clone());
        }
        if i + 3 <= w.len() {
            let gram = &w[i..i + 3];
            if w[i + 3..].windows(3).any(|g| g == gram) {
                return Some(gram.join(" "));
            }
        }
    }
    None
}

/// Whether segment `s` belongs to sentence `i` of `spans`: its middle is nearer to this
/// sentence than to its neighbours (the boundary is the middle of the pause between two
/// sentences; 500 ms before the first and 1.5 s after the last). A segment's times are
/// estimates, and the voice gate's 200 ms of pre-roll puts the first word of a sentence a
/// little before its start: a boundary at the next sentence's start gave that word to the
/// sentence before.
pub fn belongs(spans: &[(u64, u64)], i: usize, s: &Segment) -> bool {
    let (start, end) = spans[i];
    let from = match i.checked_sub(1).map(|p| spans[p].1) {
        Some(prev_end) => (prev_end + start) / 2,
        None => start.saturating_sub(500),
    };
    let until = spans
        .get(i + 1)
        .map_or(end + 1_500, |next| (end + next.0) / 2);
    let mid = (s.start_ms + s.end_ms) / 2;
    mid >= from && mid < until
}

/// The finals that belong to each sentence (see [`belongs`]), joined.
pub fn per_sentence(heard: &Heard, spans: &[(u64, u64)]) -> Vec<String> {
    (0..spans.len())
        .map(|i| {
            let texts: Vec<&str> = heard
                .finals
                .iter()
                .filter(|(_, s)| belongs(spans, i, s))
                .map(|(_, s)| s.text.as_str())
                .collect();
            texts.join(" ")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoring_normalises_and_counts_edits() {
        assert_eq!(
            normalise("It's 471129, OK? Three-to-five days."),
            [
                "it", "is", "four", "seven", "one", "one", "two", "nine", "okay", "three", "to",
                "five", "days"
            ]
        );
        assert_eq!(normalise("in 24 hours"), ["in", "twenty", "four", "hours"]);
        assert_eq!(wer("the cat sat", "the cat sat"), 0.0);
        assert!((wer("the cat sat on", "a cat sat") - 0.5).abs() < 1e-9);
        assert_eq!(
            repeated_phrase("I can see the payment. I can see the payment"),
            Some("i can see".into())
        );
        assert_eq!(repeated_phrase("you you you you"), Some("you".into()));
        assert_eq!(repeated_phrase("Thank you for calling, thank you"), None);
    }
}
