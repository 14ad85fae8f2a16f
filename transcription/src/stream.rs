//! One leg's streaming transcript as a pure state machine (I2–I4): audio in, decode jobs out,
//! decode results in, partial and final segments out. No threads, no clock of its own: the
//! caller says what time it is, so the policy is tested without whisper.
//!
//! - **Voice activity** gates everything: audio is cut into *utterances*, stretches of voice
//!   (with a short pre-roll) ended by [`StreamConfig::hangover_ms`] of non-voice. Silence never
//!   reaches the decoder.
//! - **Partials**: while an utterance grows, its audio so far (the window) is decoded again
//!   every [`StreamConfig::step_ms`] of new audio.
//! - **Commit policy** (LocalAgreement-2): the words on which two successive decodes of the
//!   window agree, from its start, are final; the rest is the partial.
//! - **Early finals**: once the speaker has paused for [`StreamConfig::settle_ms`], the
//!   utterance so far is decoded at once, at a final's priority, without waiting for the
//!   hangover to end it. If the utterance then ends with no voice after that window, the
//!   decode is its final (shown the moment the hangover ends it, or the moment the decode
//!   returns if that is later); if the speaker goes on, it served as a partial. No partial
//!   starts while the speaker pauses: the early decode is the one that matters there.
//! - **Finals**: when the utterance ends (or reaches [`StreamConfig::max_window_ms`], or the
//!   leg pauses) without a valid early decode, its whole audio is decoded once more and
//!   whatever was not committed yet becomes final.
//! - **Pause**: on hold or a masked stretch the leg stops taking audio; what was said before is
//!   still finished, then the stream says it paused. Nothing said while paused is decoded.
//! - One job at a time per leg: results come back in order and times only move forward.
//!
//! Times are milliseconds of the leg's audio since the stream began, paused stretches
//! included, so they line up with the call. Word times inside a window are spread evenly over
//! it (the decoder runs without timestamps); a segment's times are therefore approximate
//! within its window, and never run backwards.

use crate::{Leg, Segment, Stability};
use std::collections::VecDeque;

/// Samples per millisecond at 16 kHz.
const PER_MS: u64 = 16;
/// The detector's frame: 16 ms at 16 kHz.
pub const VAD_FRAME: usize = 256;

/// Tuning of a leg's stream.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamConfig {
    /// New audio between two partial decodes of a growing utterance.
    pub step_ms: u64,
    /// The longest window: a longer utterance is finished there and a new one begins.
    pub max_window_ms: u64,
    /// Voice shorter than this (a click, a cough) is not an utterance.
    pub min_speech_ms: u64,
    /// Non-voice that ends an utterance.
    pub hangover_ms: u64,
    /// Non-voice after which the utterance so far is decoded early, as its likely final; at or
    /// above `hangover_ms`, no early decodes (the utterance ends first).
    pub settle_ms: u64,
    /// Audio kept before the first voiced frame, so a word's onset is not cut.
    pub pre_roll_ms: u64,
    /// Detector score from which a frame is voice (0–1).
    pub vad_threshold: f32,
    /// A leg with nothing to decode for this long gives its decoder state back (tens of MB
    /// with a real model; re-created in a few ms at the next utterance).
    pub release_state_ms: u64,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            step_ms: 1_000,
            max_window_ms: 10_000,
            min_speech_ms: 250,
            hangover_ms: 600,
            settle_ms: 240,
            pre_roll_ms: 200,
            vad_threshold: 0.5,
            release_state_ms: 10_000,
        }
    }
}

/// Why a leg is not transcribed for a while.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PauseReason {
    /// The call is on hold.
    Hold,
    /// The recording is masked (sensitive data is being given).
    Mask,
    /// The leg is not in conversation (waiting in a queue, ringing).
    NotConnected,
}

/// A voice detector over 16 ms frames of 16 kHz audio.
pub trait VoiceDetector: Send {
    /// The voice score of one frame of [`VAD_FRAME`] samples, 0–1.
    fn score(&mut self, frame: &[i16]) -> f32;
    /// Forgets the audio seen so far.
    fn reset(&mut self);
}

/// The `earshot` neural detector (pure Rust).
pub struct Earshot(Box<earshot::Detector>);

impl Default for Earshot {
    fn default() -> Self {
        Earshot(earshot::Detector::default_boxed())
    }
}

impl VoiceDetector for Earshot {
    fn score(&mut self, frame: &[i16]) -> f32 {
        self.0.predict_i16(frame)
    }
    fn reset(&mut self) {
        self.0.reset();
    }
}

/// Partial or final decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobKind {
    /// The growing window, for the partial and the agreement.
    Partial,
    /// A finished utterance, decoded once more for good.
    Final,
}

/// A window to decode.
#[derive(Clone, Debug)]
pub struct Job {
    /// This stream's job number.
    pub id: u64,
    /// Partial or final.
    pub kind: JobKind,
    /// 16 kHz mono samples in [-1, 1].
    pub pcm: Vec<f32>,
    /// When (the caller's clock, ms) the window's last sample arrived: the lag's start.
    pub arrived_ms: u64,
}

/// What became of a job.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The decoder's text (guards applied; may be empty).
    Text(String),
    /// Not decoded: the pool was overloaded and dropped this partial.
    Skipped,
    /// The decoder failed.
    Failed(String),
}

/// What a stream tells its listeners.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// A segment; a partial replaces the leg's previous partial.
    Segment(Segment),
    /// The leg stopped being transcribed.
    Paused(PauseReason),
    /// The leg is transcribed again.
    Resumed,
}

/// One leg's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct LegMetrics {
    /// Partial decodes whose result came back.
    pub partials: u64,
    /// Final decodes whose result came back.
    pub finals: u64,
    /// Partial decodes the pool skipped under load.
    pub skipped_partials: u64,
    /// Decodes that failed.
    pub failures: u64,
    /// From a window's last sample arriving to its result, for the latest result (ms).
    pub lag_ms: u64,
    /// The largest such lag seen.
    pub max_lag_ms: u64,
}

struct Utterance {
    /// Leg time (samples) of `pcm[0]`.
    start: u64,
    pcm: Vec<f32>,
    voiced: u64,
    silent_run: u64,
    /// Window length at the end of the last voiced frame.
    voiced_len: usize,
    /// The early decode: its window length and, once back, its words.
    early: Option<(usize, Option<Vec<String>>)>,
    /// Window length at the last partial job.
    decoded_len: usize,
    /// Words already final, and where the last of them ends (samples).
    committed: usize,
    /// Those words.
    committed_words: Vec<String>,
    committed_end: u64,
    /// The previous partial decode's words.
    previous: Option<Vec<String>>,
    /// When its newest sample arrived (caller's clock).
    arrived_ms: u64,
    id: u64,
}

impl Utterance {
    fn end(&self) -> u64 {
        self.start + self.pcm.len() as u64
    }

    /// The early decode's words, when it is back and no voice came after its window.
    fn early_final(&self) -> Option<&[String]> {
        match &self.early {
            Some((window, Some(words))) if self.voiced_len <= *window => Some(words),
            _ => None,
        }
    }
}

struct InFlight {
    job: u64,
    kind: JobKind,
    /// An early decode of the open utterance (see the module docs).
    early: bool,
    utterance: u64,
    arrived_ms: u64,
}

/// A leg's stream. See the module docs.
pub struct LegStream<D: VoiceDetector = Earshot> {
    leg: Leg,
    config: StreamConfig,
    vad: D,
    /// Leg time (samples) consumed so far.
    clock: u64,
    frame: Vec<i16>,
    pre_roll: VecDeque<f32>,
    open: Option<Utterance>,
    /// Finished utterances awaiting their final decode.
    closed: VecDeque<Utterance>,
    in_flight: Option<InFlight>,
    paused: Option<PauseReason>,
    /// A pause not yet announced: it waits for the finals of what was said before.
    announce: Option<PauseReason>,
    /// Where the last final ended (ms): finals never start before it.
    final_end_ms: u64,
    /// Outputs made while taking audio (an utterance ended with its early final ready).
    ready: Vec<Output>,
    next_id: u64,
    metrics: LegMetrics,
}

impl LegStream<Earshot> {
    /// A stream for `leg` with the default detector.
    pub fn new(leg: Leg, config: StreamConfig) -> Self {
        LegStream::with_detector(leg, config, Earshot::default())
    }
}

impl<D: VoiceDetector> LegStream<D> {
    /// A stream with its own detector.
    pub fn with_detector(leg: Leg, config: StreamConfig, vad: D) -> Self {
        LegStream {
            leg,
            config,
            vad,
            clock: 0,
            frame: Vec::with_capacity(VAD_FRAME),
            pre_roll: VecDeque::new(),
            open: None,
            closed: VecDeque::new(),
            in_flight: None,
            paused: None,
            announce: None,
            final_end_ms: 0,
            ready: Vec::new(),
            next_id: 0,
            metrics: LegMetrics::default(),
        }
    }

    /// Which leg.
    pub fn leg(&self) -> Leg {
        self.leg
    }

    /// The counters.
    pub fn metrics(&self) -> &LegMetrics {
        &self.metrics
    }

    /// Whether the stream is paused.
    pub fn paused(&self) -> Option<PauseReason> {
        self.paused
    }

    /// The leg's time so far (ms of audio taken, paused stretches included).
    pub fn clock_ms(&self) -> u64 {
        self.clock / PER_MS
    }

    fn ms(&self, samples: u64) -> usize {
        (samples * PER_MS) as usize
    }

    /// Takes the leg's next 16 kHz samples, which arrived at `now_ms` (caller's clock), and
    /// returns what they finished (an utterance whose early decode is its final).
    pub fn push(&mut self, samples: &[i16], now_ms: u64) -> Vec<Output> {
        if self.paused.is_some() {
            self.clock += samples.len() as u64;
            return Vec::new();
        }
        for &s in samples {
            self.frame.push(s);
            if self.frame.len() == VAD_FRAME {
                let frame = std::mem::take(&mut self.frame);
                self.take_frame(&frame, now_ms);
                self.frame = frame;
                self.frame.clear();
            }
        }
        std::mem::take(&mut self.ready)
    }

    fn take_frame(&mut self, frame: &[i16], now_ms: u64) {
        let voice = self.vad.score(frame) >= self.config.vad_threshold;
        let n = frame.len() as u64;
        let samples = frame.iter().map(|&s| f32::from(s) / 32_768.0);
        self.clock += n;
        match &mut self.open {
            Some(u) => {
                u.pcm.extend(samples);
                u.arrived_ms = now_ms;
                if voice {
                    u.voiced += n;
                    u.silent_run = 0;
                    u.voiced_len = u.pcm.len();
                } else {
                    u.silent_run += n;
                }
                let ended = u.silent_run >= self.config.hangover_ms * PER_MS;
                let full = u.pcm.len() >= self.ms(self.config.max_window_ms);
                if ended || full {
                    self.close_open();
                    if full && !ended && voice {
                        // Speech goes on: the next window starts right here.
                        self.start_utterance(now_ms);
                    }
                }
            }
            None => {
                self.pre_roll.extend(samples);
                let keep = self.ms(self.config.pre_roll_ms).max(frame.len());
                while self.pre_roll.len() > keep {
                    self.pre_roll.pop_front();
                }
                if voice {
                    self.start_utterance(now_ms);
                    if let Some(u) = &mut self.open {
                        u.voiced = n;
                        u.voiced_len = u.pcm.len();
                    }
                }
            }
        }
    }

    fn start_utterance(&mut self, now_ms: u64) {
        let pcm: Vec<f32> = self.pre_roll.drain(..).collect();
        let start = self.clock - pcm.len() as u64;
        self.next_id += 1;
        self.open = Some(Utterance {
            start,
            pcm,
            voiced: 0,
            silent_run: 0,
            voiced_len: 0,
            early: None,
            decoded_len: 0,
            committed: 0,
            committed_words: Vec::new(),
            committed_end: start,
            previous: None,
            arrived_ms: now_ms,
            id: self.next_id,
        });
    }

    /// Ends the open utterance: enough voice makes it final (at once when its early decode
    /// stands for it, else after its final decode); too little is dropped (with its partial,
    /// if one was shown, left to be replaced by the next).
    fn close_open(&mut self) {
        let Some(u) = self.open.take() else { return };
        if u.voiced < self.config.min_speech_ms * PER_MS {
            return;
        }
        if self.closed.is_empty() {
            if let Some(words) = u.early_final() {
                let mut out = Vec::new();
                self.finish(&u, words, &mut out);
                self.ready.extend(out);
                return;
            }
        }
        self.closed.push_back(u);
    }

    /// The leg ended: the utterance in progress is final (at once, when its early decode stands
    /// for it) or awaits its final decode.
    pub fn end(&mut self) -> Vec<Output> {
        self.close_open();
        std::mem::take(&mut self.ready)
    }

    /// Stops taking audio: what was said so far is still finished; the pause is announced
    /// once it is (see [`LegStream::poll_outputs`]).
    pub fn pause(&mut self, why: PauseReason) -> Vec<Output> {
        if self.paused.is_some() {
            return Vec::new();
        }
        self.close_open();
        self.pre_roll.clear();
        // The unfinished frame is not transcribed, but it was heard: the clock counts it.
        self.clock += self.frame.len() as u64;
        self.frame.clear();
        self.paused = Some(why);
        self.announce = Some(why);
        self.poll_outputs()
    }

    /// Takes audio again.
    pub fn resume(&mut self) -> Vec<Output> {
        let Some(_) = self.paused.take() else {
            return Vec::new();
        };
        self.vad.reset();
        let mut out = Vec::new();
        if let Some(why) = self.announce.take() {
            out.push(Output::Paused(why));
        }
        out.push(Output::Resumed);
        out
    }

    /// The pause announcement, once nothing said before it is still being decoded.
    pub fn poll_outputs(&mut self) -> Vec<Output> {
        let mut out = std::mem::take(&mut self.ready);
        if self.announce.is_some() && self.in_flight.is_none() && self.closed.is_empty() {
            out.push(Output::Paused(self.announce.take().expect("checked")));
        }
        out
    }

    /// The next job to decode, if one is due and none is in flight: finals first, then the
    /// open utterance's window once it has grown by a step.
    pub fn next_job(&mut self) -> Option<Job> {
        if self.in_flight.is_some() {
            return None;
        }
        // An utterance that ended behind another with its early final ready needs no decode.
        while let Some(u) = self.closed.front_mut() {
            if u.early_final().is_none() {
                u.early = None;
                break;
            }
            let u = self.closed.pop_front().expect("the front");
            let words = u.early_final().expect("checked").to_vec();
            let mut out = Vec::new();
            self.finish(&u, &words, &mut out);
            self.ready.extend(out);
        }
        self.next_id += 1;
        let id = self.next_id;
        if let Some(u) = self.closed.front() {
            self.in_flight = Some(InFlight {
                job: id,
                kind: JobKind::Final,
                early: false,
                utterance: u.id,
                arrived_ms: u.arrived_ms,
            });
            return Some(Job {
                id,
                kind: JobKind::Final,
                pcm: u.pcm.clone(),
                arrived_ms: u.arrived_ms,
            });
        }
        let step = self.ms(self.config.step_ms);
        let min = self.ms(self.config.min_speech_ms) as u64;
        let settle = self.config.settle_ms * PER_MS;
        let u = self.open.as_mut()?;
        if u.voiced < min {
            return None;
        }
        let kind = if u.silent_run >= settle && u.decoded_len < u.voiced_len {
            // The speaker paused with words not decoded yet: decode them now, as the likely
            // final.
            u.early = Some((u.pcm.len(), None));
            JobKind::Final
        } else if u.silent_run == 0 && u.pcm.len() >= u.decoded_len + step {
            JobKind::Partial
        } else {
            return None;
        };
        u.decoded_len = u.pcm.len();
        self.in_flight = Some(InFlight {
            job: id,
            kind,
            early: kind == JobKind::Final,
            utterance: u.id,
            arrived_ms: u.arrived_ms,
        });
        Some(Job {
            id,
            kind,
            pcm: u.pcm.clone(),
            arrived_ms: u.arrived_ms,
        })
    }

    /// A job's result, at `now_ms`: the segments (and a pause announcement) it yields.
    pub fn on_result(&mut self, job: u64, outcome: Outcome, now_ms: u64) -> Vec<Output> {
        let Some(flight) = self.in_flight.take_if(|f| f.job == job) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let lag = now_ms.saturating_sub(flight.arrived_ms);
        match (&outcome, flight.kind) {
            (Outcome::Skipped, _) => self.metrics.skipped_partials += 1,
            (Outcome::Failed(_), _) => self.metrics.failures += 1,
            (Outcome::Text(_), JobKind::Partial) => self.metrics.partials += 1,
            (Outcome::Text(_), JobKind::Final) => self.metrics.finals += 1,
        }
        if !matches!(outcome, Outcome::Skipped) {
            self.metrics.lag_ms = lag;
            self.metrics.max_lag_ms = self.metrics.max_lag_ms.max(lag);
        }
        let words = match &outcome {
            Outcome::Text(t) => words(t),
            _ => Vec::new(),
        };
        let text = matches!(outcome, Outcome::Text(_));
        match flight.kind {
            JobKind::Final if flight.early => {
                self.early_result(flight.utterance, text, words, &mut out)
            }
            JobKind::Final => {
                // A failed final still ends its utterance: its audio is not retried forever.
                if let Some(u) = self.closed.pop_front() {
                    if text {
                        self.finish(&u, &words, &mut out);
                    }
                }
            }
            JobKind::Partial => {
                if let Outcome::Text(_) = outcome {
                    self.agree(flight.utterance, words, &mut out);
                }
            }
        }
        out.extend(self.poll_outputs());
        out
    }

    /// An early decode of utterance `id` came back: the final of an utterance that ended with
    /// no voice after its window, else a partial (and nothing when it failed: a closed
    /// utterance then gets its final decode as usual).
    fn early_result(&mut self, id: u64, text: bool, words: Vec<String>, out: &mut Vec<Output>) {
        let in_open = self.open.as_ref().is_some_and(|u| u.id == id);
        let u = if in_open {
            self.open.as_mut()
        } else {
            self.closed.front_mut()
        };
        let Some(u) = u else { return };
        let window = u.early.as_ref().map_or(0, |e| e.0);
        u.early = None;
        if !text {
            return;
        }
        if !in_open && u.voiced_len <= window {
            let u = self.closed.pop_front().expect("the front was found");
            self.finish(&u, &words, out);
            return;
        }
        if u.voiced_len <= window {
            // Still open, nothing said since: it stands for the final if the pause ends it.
            u.early = Some((window, Some(words.clone())));
        }
        self.agree(id, words, out);
    }

    /// The final decode of a finished utterance: what was not committed yet becomes final.
    ///
    /// The final decode need not start with the committed words word for word (whisper may
    /// add, drop or change a word there): the rest starts after the prefix of the final decode
    /// that best matches them, so no word is written twice or lost at the seam.
    fn finish(&mut self, u: &Utterance, words: &[String], out: &mut Vec<Output>) {
        let rest = seam(&u.committed_words, words);
        if words.len() > rest {
            let from = u.committed_end;
            let seg = self.segment(&words[rest..], from, u.end(), Stability::Final);
            out.extend(seg);
        }
    }

    /// LocalAgreement-2 on a partial decode of utterance `id`.
    fn agree(&mut self, id: u64, words: Vec<String>, out: &mut Vec<Output>) {
        let is_open = self.open.as_ref().is_some_and(|u| u.id == id);
        let u = if is_open {
            self.open.as_mut()
        } else {
            self.closed.iter_mut().find(|u| u.id == id)
        };
        let Some(u) = u else { return };
        let agreed = u
            .previous
            .as_ref()
            .map_or(0, |prev| common_prefix(prev, &words));
        let (start, len, from_word) = (u.start, u.decoded_len as u64, u.committed);
        let word_end = |i: usize| start + len * (i as u64 + 1) / words.len().max(1) as u64;
        let mut commit = None;
        if agreed > from_word {
            let end = word_end(agreed - 1).max(u.committed_end);
            commit = Some((words[from_word..agreed].to_vec(), u.committed_end, end));
            u.committed_words
                .extend_from_slice(&words[from_word..agreed]);
            u.committed = agreed;
            u.committed_end = end;
        }
        let (committed, committed_end) = (u.committed, u.committed_end);
        u.previous = Some(words.clone());
        if let Some((w, from, to)) = commit {
            out.extend(self.segment(&w, from, to, Stability::Final));
        }
        // A closed utterance's partial would only flicker before its final.
        if is_open && words.len() > committed {
            let end = start + len;
            out.extend(self.segment(&words[committed..], committed_end, end, Stability::Partial));
        }
    }

    fn segment(
        &mut self,
        words: &[String],
        from: u64,
        to: u64,
        stability: Stability,
    ) -> Option<Output> {
        let start = (from / PER_MS).max(self.final_end_ms);
        let end = (to / PER_MS).max(start);
        let seg = Segment::new(self.leg, start, end, &words.join(" "), stability).ok()?;
        if stability == Stability::Final {
            self.final_end_ms = end;
        }
        Some(Output::Segment(seg))
    }
}

/// Where the new words of `decoded` start, given the words already `committed` from the same
/// audio: after the prefix of `decoded` closest to `committed` (word edit distance, ignoring
/// case and punctuation; within three words of its length, the longest prefix on a tie).
fn seam(committed: &[String], decoded: &[String]) -> usize {
    if committed.is_empty() {
        return 0;
    }
    let norm = |w: &String| -> String {
        w.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let (c, d): (Vec<String>, Vec<String>) = (
        committed.iter().map(norm).collect(),
        decoded.iter().map(norm).collect(),
    );
    // Edit distances between all of `c` and every prefix of `d`: the last row of the table.
    let mut row: Vec<usize> = (0..=d.len()).collect();
    for (i, cw) in c.iter().enumerate() {
        let mut next = vec![i + 1; d.len() + 1];
        for (j, dw) in d.iter().enumerate() {
            next[j + 1] = (row[j] + usize::from(cw != dw))
                .min(row[j + 1] + 1)
                .min(next[j] + 1);
        }
        row = next;
    }
    let lo = c.len().saturating_sub(3);
    let hi = (c.len() + 3).min(d.len());
    if lo > hi {
        return d.len();
    }
    (lo..=hi)
        .min_by_key(|&k| (row[k], std::cmp::Reverse(k)))
        .unwrap_or(d.len())
}

fn words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

/// How many leading words two hypotheses share, ignoring case and punctuation.
fn common_prefix(a: &[String], b: &[String]) -> usize {
    let norm = |w: &str| -> String {
        w.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    a.iter()
        .zip(b)
        .take_while(|(x, y)| norm(x) == norm(y))
        .count()
}

#[cfg(test)]
mod tests;
