//! A playout (jitter) buffer for what a carrier sends (H3): a trunk's RTP arrives with the
//! sender's and the network's jitter (sipp's stream, for one, sends a packet 20 ms early now
//! and then), and forwarding it as it arrives would pass that jitter on to the agent's leg,
//! whose receiver then plays it late. Frames are put back in sequence order and played out one
//! per 20 ms tick of the call's own clock, a little behind arrival: a frame that comes early
//! waits, one that comes a little late is still in time, a missing one is concealed, and the
//! listener hears an even stream.
//!
//! Pure: the pump pushes frames as they arrive and pops one per tick; time is the tick.

use std::collections::VecDeque;

/// Frames buffered before playout starts (and after it ran dry): 40 ms behind the sender.
pub const TARGET: usize = 2;

/// More than this many frames waiting (the sender's clock runs faster than ours, or a burst
/// came after a stall) and the oldest are dropped down to [`TARGET`]: 120 ms at most behind.
pub const MAX: usize = 6;

/// Ticks in a row with nothing to play before playout stops (the sender paused: held, muted,
/// silence suppression): until then a missing frame is concealed.
pub const CONCEAL: u32 = 3;

/// A jump of the sequence number this far (forward or back) is a new stream (the sender
/// restarted, or another took over), not a gap: the buffer starts afresh.
const JUMP: i32 = 100;

/// What a [`Jitter`] did, for counters and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct JitterStats {
    /// Frames that came after their turn was played (dropped).
    pub too_late: u64,
    /// Ticks filled by concealment (a frame missing or not there yet).
    pub concealed: u64,
    /// Frames dropped because too many were waiting.
    pub trimmed: u64,
}

/// The playout buffer of one source; frames are 20 ms each, numbered by RTP sequence number.
#[derive(Debug, Default)]
pub struct Jitter {
    /// Sequence number of `slots[0]` (none before the first frame).
    next: Option<u16>,
    /// Frames from `next` on; `None` is a frame not (yet) received.
    slots: VecDeque<Option<Vec<i16>>>,
    /// Playout is on (primed and not run dry).
    playing: bool,
    /// The last frame played, for concealment.
    last: Vec<i16>,
    /// Ticks in a row concealed.
    missing: u32,
    /// What happened so far.
    pub stats: JitterStats,
}

impl Jitter {
    /// Takes a frame that arrived with sequence number `seq`.
    pub fn push(&mut self, seq: u16, frame: Vec<i16>) {
        let Some(next) = self.next else {
            self.restart(seq, frame);
            return;
        };
        let d = i32::from(seq.wrapping_sub(next) as i16);
        if !(-JUMP..JUMP).contains(&d) {
            self.restart(seq, frame);
        } else if d < 0 {
            if self.playing {
                self.stats.too_late += 1;
            } else {
                // Not played yet: an earlier frame than the first one received still has its
                // turn.
                for _ in d..-1 {
                    self.slots.push_front(None);
                }
                self.slots.push_front(Some(frame));
                self.next = Some(seq);
            }
        } else {
            let d = d as usize;
            if self.slots.len() <= d {
                self.slots.resize(d + 1, None);
            }
            // A duplicate keeps the first copy.
            self.slots[d].get_or_insert(frame);
        }
        if self.slots.len() > MAX {
            let extra = self.slots.len() - TARGET;
            self.stats.trimmed += self.slots.drain(..extra).filter(Option::is_some).count() as u64;
            self.advance(extra);
        }
    }

    /// The frame to play on this tick: `None` when nothing is to be played (not primed yet,
    /// or the sender paused).
    pub fn pop(&mut self) -> Option<Vec<i16>> {
        if !self.playing {
            // Frames missed while not playing (the sender's pause) are not waited for.
            while self.slots.front().is_some_and(Option::is_none) {
                self.slots.pop_front();
                self.advance(1);
            }
            if self.slots.len() < TARGET {
                return None;
            }
            self.playing = true;
            self.missing = 0;
        }
        match self.slots.front() {
            // Nothing there yet: conceal without moving on, so the frame still plays when it
            // comes (the buffer grows by a frame).
            None => self.conceal(),
            // The last slot always holds a frame (a hole is only ever made before one).
            Some(_) => {
                let frame = self.slots.pop_front().flatten();
                self.advance(1);
                match frame {
                    Some(f) => {
                        self.missing = 0;
                        self.last.clone_from(&f);
                        Some(f)
                    }
                    // Lost: later frames are here, so this one is given up on.
                    None => self.conceal(),
                }
            }
        }
    }

    /// Fills a tick with what was last heard, fading (half each time), and stops playout once
    /// [`CONCEAL`] ticks in a row had nothing.
    fn conceal(&mut self) -> Option<Vec<i16>> {
        self.missing += 1;
        if self.missing > CONCEAL {
            self.playing = false;
            return None;
        }
        self.stats.concealed += 1;
        for s in &mut self.last {
            *s /= 2;
        }
        Some(self.last.clone())
    }

    fn restart(&mut self, seq: u16, frame: Vec<i16>) {
        self.next = Some(seq);
        self.slots.clear();
        self.slots.push_back(Some(frame));
        self.playing = false;
    }

    fn advance(&mut self, n: usize) {
        if let Some(next) = self.next.as_mut() {
            *next = next.wrapping_add(n as u16);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: u16) -> Vec<i16> {
        vec![n as i16; 4]
    }

    /// Nothing played on a tick.
    const NONE: i32 = -1;
    /// A concealed tick.
    const HID: i32 = -2;

    /// What a tick played: the frame's sequence number, [`HID`] or [`NONE`].
    fn tag(out: Option<Vec<i16>>, concealed_before: u64, j: &Jitter) -> i32 {
        match out {
            None => NONE,
            Some(_) if j.stats.concealed > concealed_before => HID,
            Some(f) => i32::from(f[0] as u16),
        }
    }

    /// Runs ticks: before tick `i`, the frames `arrivals[i]` arrive.
    fn run(j: &mut Jitter, arrivals: &[&[u16]]) -> Vec<i32> {
        arrivals
            .iter()
            .map(|now| {
                for &seq in *now {
                    j.push(seq, frame(seq));
                }
                let before = j.stats.concealed;
                let out = j.pop();
                tag(out, before, j)
            })
            .collect()
    }

    #[test]
    fn an_even_stream_plays_in_order_one_frame_behind() {
        let mut j = Jitter::default();
        let played = run(&mut j, &[&[1], &[2], &[3], &[4], &[5]]);
        assert_eq!(played, [NONE, 1, 2, 3, 4]);
        assert_eq!(j.stats, JitterStats::default());
    }

    #[test]
    fn an_early_frame_waits_its_turn_and_a_late_one_is_still_in_time() {
        let mut j = Jitter::default();
        // 4 comes a tick early (with 3), 6 a tick late (with 7): the output is even.
        let played = run(
            &mut j,
            &[&[1], &[2], &[3, 4], &[], &[5], &[], &[6, 7], &[8]],
        );
        assert_eq!(played, [NONE, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(j.stats, JitterStats::default());
    }

    #[test]
    fn a_frame_later_than_the_buffer_is_concealed_and_still_played() {
        let mut j = Jitter::default();
        // 4 comes two ticks late: one tick is concealed, and 4 plays after it (the buffer is
        // a frame deeper from then on), nothing lost.
        let played = run(&mut j, &[&[1], &[2], &[3], &[], &[], &[4, 5, 6], &[7]]);
        assert_eq!(played, [NONE, 1, 2, 3, HID, 4, 5]);
        assert_eq!((j.stats.concealed, j.stats.too_late), (1, 0));
    }

    #[test]
    fn reordered_frames_play_in_sequence_order() {
        let mut j = Jitter::default();
        let played = run(&mut j, &[&[2, 1], &[4, 3], &[5], &[6], &[7]]);
        assert_eq!(played, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn a_lost_frame_is_concealed_and_one_after_its_turn_dropped() {
        let mut j = Jitter::default();
        let played = run(&mut j, &[&[1], &[2], &[4], &[5], &[3, 6]]);
        assert_eq!(played, [NONE, 1, 2, HID, 4]);
        assert_eq!((j.stats.concealed, j.stats.too_late), (1, 1));
    }

    #[test]
    fn a_paused_sender_stops_playout_which_starts_again_when_it_speaks() {
        let mut j = Jitter::default();
        let played = run(
            &mut j,
            &[&[1], &[2], &[], &[], &[], &[], &[], &[40], &[41], &[42]],
        );
        // 1 and 2 play, three ticks are concealed, then nothing until 40 and 41 are buffered.
        assert_eq!(played, [NONE, 1, 2, HID, HID, HID, NONE, NONE, 40, 41]);
    }

    #[test]
    fn a_new_stream_starts_afresh_and_sequence_numbers_wrap() {
        let mut j = Jitter::default();
        let played = run(
            &mut j,
            &[&[65534], &[65535], &[0], &[1], &[30000], &[30001]],
        );
        assert_eq!(played, [NONE, 65534, 65535, 0, NONE, 30000]);
        assert_eq!(j.stats.too_late, 0);
    }

    #[test]
    fn a_burst_after_a_stall_is_trimmed_to_the_target() {
        let mut j = Jitter::default();
        run(&mut j, &[&[1], &[2]]);
        // Seven frames at once: what is beyond MAX is dropped, the oldest first.
        let played = run(&mut j, &[&[3, 4, 5, 6, 7, 8, 9], &[10]]);
        assert_eq!(played, [7, 8]);
        assert_eq!(j.stats.trimmed, 5);
    }
}
