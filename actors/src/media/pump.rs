//! The audio pump of one call (H2, H3, D3, D4): it moves audio between the call's legs as the
//! call's [`AudioPlan`] says. A listener with one source gets that source's frames as they
//! arrive (no added delay); a listener with several (a conference party) gets their mix every
//! 20 ms, itself left out; a held or waiting customer gets hold music. What a plain RTP leg
//! (a carrier) sends goes through a [`Jitter`] buffer and plays on the 20 ms tick instead, so
//! the carrier's jitter is not passed on to the other parties. Every leg's audio is
//! also offered to its 16 kHz fork, which never slows the pump, and the recorded parties are
//! mixed into the recording under the call's recording state.

use crate::media::fork::{ForkSender, Frame};
use crate::media::jitter::Jitter;
use crate::media::leg::{Leg, FRAME_SAMPLES};
use crate::media::tone::Music;
use crate::media::wav::Recorder;
use engine::call::{AudioPlan, Participant, Recording};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// A call recording file.
pub type RecordingFile = Recorder<std::io::BufWriter<std::fs::File>>;

/// Opens the recording when the call first starts recording (no file for calls never
/// recorded).
pub type OpenRecording = Box<dyn FnOnce() -> Option<RecordingFile> + Send>;

/// What the media actor tells its pump.
pub enum PumpCmd {
    /// A party's leg is up: carry its audio.
    Add {
        /// Whose.
        who: Participant,
        /// The leg; the pump takes over what it receives.
        leg: Arc<Leg>,
    },
    /// Someone subscribes to a leg's audio at 16 kHz (the transcriber): from now on it is
    /// resampled and offered to `fork` (no resampling for a leg nobody listens to).
    Fork {
        /// Whose.
        who: Participant,
        /// Where its audio goes.
        fork: ForkSender,
    },
    /// Nobody listens to a leg's 16 kHz audio any more: its fork closes (its transcript
    /// ends) and its resampling stops.
    Unfork(Participant),
    /// A party left: stop carrying its leg.
    Remove(Participant),
    /// The call moved to another queue (a transfer, an overflow): its hold music from now on.
    Music(Music),
}

/// Frames of backlog kept per source for mixing and recording: enough to ride out jitter,
/// little enough to keep the mix in step (100 ms).
const BACKLOG: usize = 5;

/// A leg's fork: the leg's own 16 kHz tap (resampled from its codec's rate, so an Opus leg
/// keeps its wide band) offered to the transcriber.
struct Forking {
    fork: ForkSender,
    /// Audio offered so far, in samples at 16 kHz.
    samples: u64,
}

impl Forking {
    fn offer(&mut self, samples: Vec<i16>) {
        let n = samples.len() as u64;
        self.fork.send(Frame {
            at_ms: self.samples / 16,
            samples,
            entered: std::time::Instant::now(),
        });
        self.samples += n;
    }
}

struct LegIo {
    leg: Arc<Leg>,
    fork: Option<Forking>,
    pending: VecDeque<Vec<i16>>,
    /// A carrier's leg plays out of its jitter buffer on the tick (`pending` unused).
    jitter: Option<Jitter>,
    slot: u32,
}

impl LegIo {
    /// This tick's frame from the leg, if any.
    fn pop(&mut self) -> Option<Vec<i16>> {
        match self.jitter.as_mut() {
            Some(j) => j.pop(),
            None => self.pending.pop_front(),
        }
    }
}

/// The plan, with what the pump looks up per frame computed once.
struct Routes {
    plan: AudioPlan,
    /// For each source, the listeners that hear only it (forwarded on arrival).
    direct: HashMap<Participant, Vec<Participant>>,
    /// Listeners that hear several sources (mixed on the tick), with their sources.
    mixed: Vec<(Participant, Vec<Participant>)>,
}

impl Routes {
    /// Whether anything runs on the 20 ms tick: music, a mix, or a recording to start.
    fn ticks(&self) -> bool {
        !self.plan.music_to.is_empty()
            || !self.mixed.is_empty()
            || self.plan.recording != Recording::Off
    }

    fn new(plan: AudioPlan) -> Routes {
        let mut listeners: HashMap<&Participant, Vec<Participant>> = HashMap::new();
        for (from, to) in &plan.links {
            listeners.entry(to).or_default().push(from.clone());
        }
        let mut direct: HashMap<Participant, Vec<Participant>> = HashMap::new();
        let mut mixed = Vec::new();
        for (to, sources) in listeners {
            if plan.music_to.contains(to) {
                continue;
            }
            if let [only] = sources.as_slice() {
                direct.entry(only.clone()).or_default().push(to.clone());
            } else {
                mixed.push((to.clone(), sources));
            }
        }
        Routes {
            plan,
            direct,
            mixed,
        }
    }
}

/// Runs the pump until `plan`'s sender is dropped or `cmds` closes; the recording (opened by
/// `open_recording` once the call records) is completed before it returns.
pub fn spawn(
    mut plan: watch::Receiver<AudioPlan>,
    mut cmds: mpsc::UnboundedReceiver<PumpCmd>,
    open_recording: OpenRecording,
    mut music: Music,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut open_recording = Some(open_recording);
        let mut recorder: Option<RecordingFile> = None;
        // Received frames come straight from the legs' receiving tasks, tagged by slot.
        let (frames_tx, mut frames) = mpsc::channel::<(u32, u16, Vec<i16>)>(1024);
        // The forked legs' 16 kHz audio, from their taps.
        let (wide_tx, mut wide) = mpsc::channel::<(u32, Vec<i16>)>(1024);
        let mut slots: HashMap<u32, Participant> = HashMap::new();
        let mut recorded_ticks = 0u64;
        let mut next_slot = 0u32;
        let mut legs: HashMap<Participant, LegIo> = HashMap::new();
        let mut routes = Routes::new(plan.borrow().clone());
        // A late tick is made up at once (Burst): skipping it would leave a frame of every
        // source behind and, the backlog full, drop audio from the mix.
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(20));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        loop {
            tokio::select! {
                // Commands first: a leg removed is never sent to again.
                biased;
                cmd = cmds.recv() => match cmd {
                    None => break,
                    Some(PumpCmd::Fork { who, fork }) => {
                        if let Some(io) = legs.get_mut(&who) {
                            let (tx, slot) = (wide_tx.clone(), io.slot);
                            io.leg.tap_16k(move |f| {
                                let _ = tx.try_send((slot, f));
                            });
                            io.fork = Some(Forking { fork, samples: 0 });
                        }
                    }
                    Some(PumpCmd::Add { who, leg }) => {
                        let (tx, slot) = (frames_tx.clone(), next_slot);
                        next_slot = next_slot.wrapping_add(1);
                        leg.redirect(move |seq, f| {
                            let _ = tx.try_send((slot, seq, f));
                        });
                        slots.insert(slot, who.clone());
                        let was_ticking = ticking(&routes, &recorder, &legs);
                        let io = LegIo {
                            jitter: leg.is_plain().then(Jitter::default),
                            leg,
                            fork: None,
                            pending: VecDeque::new(),
                            slot,
                        };
                        if let Some(old) = legs.insert(who, io) {
                            slots.remove(&old.slot);
                            retire(old);
                        }
                        if !was_ticking && ticking(&routes, &recorder, &legs) {
                            tick.reset();
                        }
                    }
                    Some(PumpCmd::Unfork(who)) => {
                        if let Some(io) = legs.get_mut(&who) {
                            io.leg.untap();
                            io.fork = None;
                        }
                    }
                    Some(PumpCmd::Remove(who)) => {
                        if let Some(old) = legs.remove(&who) {
                            slots.remove(&old.slot);
                            retire(old);
                        }
                    }
                    Some(PumpCmd::Music(m)) => music = m,
                },
                Some((slot, samples)) = wide.recv() => {
                    let io = slots.get(&slot).and_then(|who| legs.get_mut(who));
                    if let Some(f) = io.and_then(|io| io.fork.as_mut()) {
                        f.offer(samples);
                    }
                }
                Some((slot, seq, frame)) = frames.recv() => {
                    let Some(who) = slots.get(&slot) else { continue };
                    let Some(io) = legs.get_mut(who) else { continue };
                    if let Some(j) = io.jitter.as_mut() {
                        // Played out on the tick.
                        j.push(seq, frame);
                        continue;
                    }
                    // Kept for the tick only when something runs on it.
                    if routes.ticks() || recorder.is_some() {
                        io.pending.push_back(frame.clone());
                        if io.pending.len() > BACKLOG {
                            io.pending.pop_front();
                        }
                    }
                    for to in routes.direct.get(who).into_iter().flatten() {
                        if let Some(l) = legs.get(to).filter(|l| l.leg.is_connected()) {
                            let _ = l.leg.send(&frame).await;
                        }
                    }
                }
                // The tick is for music, mixes, the recording and carriers' legs: a two-party
                // WebRTC call without them runs on its packets alone.
                _ = tick.tick(), if ticking(&routes, &recorder, &legs) => {
                    let popped: HashMap<Participant, Vec<i16>> = legs
                        .iter_mut()
                        .filter_map(|(w, io)| io.pop().map(|f| (w.clone(), f)))
                        .collect();
                    // A carrier's frame of this tick goes to those who hear only it.
                    for (from, io) in &legs {
                        let Some(frame) = io.jitter.as_ref().and(popped.get(from)) else {
                            continue;
                        };
                        for to in routes.direct.get(from).into_iter().flatten() {
                            if let Some(l) = legs.get(to).filter(|l| l.leg.is_connected()) {
                                let _ = l.leg.send(frame).await;
                            }
                        }
                    }
                    if !routes.plan.music_to.is_empty() {
                        let tune = music.take(FRAME_SAMPLES);
                        for to in &routes.plan.music_to {
                            if let Some(l) = legs.get(to).filter(|l| l.leg.is_connected()) {
                                let _ = l.leg.send(&tune).await;
                            }
                        }
                    }
                    for (to, sources) in &routes.mixed {
                        if let Some(l) = legs.get(to).filter(|l| l.leg.is_connected()) {
                            let mix = sum(sources.iter().filter_map(|s| popped.get(s)));
                            let _ = l.leg.send(&mix).await;
                        }
                    }
                    if routes.plan.recording != Recording::Off && recorder.is_none() {
                        recorder = open_recording.take().and_then(|open| open());
                    }
                    if let Some(r) = recorder.as_mut() {
                        let mix = sum(routes.plan.recorded.iter().filter_map(|s| popped.get(s)));
                        // Every second the header catches up: a crash loses at most that.
                        recorded_ticks += 1;
                        let written = r.write(&mix, routes.plan.recording).and_then(|()| {
                            if recorded_ticks.is_multiple_of(50) { r.checkpoint() } else { Ok(()) }
                        });
                        if let Err(e) = written {
                            tracing::error!(error = %e, "recording write failed; the recording stops");
                            recorder = None;
                        }
                    }
                }
                changed = plan.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let was_ticking = ticking(&routes, &recorder, &legs);
                    routes = Routes::new(plan.borrow().clone());
                    if !was_ticking && ticking(&routes, &recorder, &legs) {
                        // Start the clock afresh: the idle stretch is not to be made up.
                        tick.reset();
                    }
                }
            }
        }
        if let Some(r) = recorder {
            if let Err(e) = r.finish() {
                tracing::error!(error = %e, "the recording could not be completed");
            }
        }
    })
}

/// Whether anything runs on the 20 ms tick: music, a mix, a recording (to start or going on)
/// or a carrier's leg to play out.
fn ticking(
    routes: &Routes,
    recorder: &Option<RecordingFile>,
    legs: &HashMap<Participant, LegIo>,
) -> bool {
    routes.ticks() || recorder.is_some() || legs.values().any(|l| l.jitter.is_some())
}

/// Closes a leg the pump no longer carries (its frames, tagged with a slot no longer known,
/// are ignored until it is gone).
fn retire(io: LegIo) {
    io.leg.untap();
    tokio::spawn(async move { io.leg.close().await });
}

/// The saturating sum of frames (silence when none), one 20 ms frame long.
fn sum<'a>(frames: impl Iterator<Item = &'a Vec<i16>>) -> Vec<i16> {
    let mut out = vec![0i32; FRAME_SAMPLES];
    for f in frames {
        for (o, s) in out.iter_mut().zip(f) {
            *o += i32::from(*s);
        }
    }
    out.into_iter()
        .map(|v| v.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16)
        .collect()
}
