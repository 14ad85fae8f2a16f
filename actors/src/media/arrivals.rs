//! Reception quality of one RTP audio stream: packets lost (sequence gaps) and packets late
//! (arriving more than a threshold after the time their RTP timestamp says, measured from the
//! fastest packet of the last two seconds, so the network's fixed delay does not count and a
//! sender whose clock drifted is judged on its recent packets, as an adaptive playout buffer
//! would). A packet with the marker bit starts a new talkspurt (the sender paused): timing is
//! measured afresh from it; a packet from a new source (SSRC: a sender that restarted, or a
//! stream that replaced another) starts a new stream, its sequence and timing its own.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How late a packet may be before it counts as late.
pub const LATE_AFTER: Duration = Duration::from_millis(10);

/// How far back the fastest packet is looked for.
const WINDOW_US: i64 = 2_000_000;

/// The arrivals of one stream.
#[derive(Debug, Default)]
pub struct Arrivals {
    start: Option<Instant>,
    /// (arrival, offset) of recent packets, offsets increasing: the front is the fastest of
    /// the window.
    recent: VecDeque<(i64, i64)>,
    last_seq: Option<u16>,
    extended_ts: i64,
    last_ts: u32,
    ssrc: Option<u32>,
    /// Packets missing from the sequence so far.
    pub lost: u64,
    /// Packets that arrived late so far.
    pub late: u64,
}

impl Arrivals {
    /// Notes the source (SSRC) of the packets that follow: a new one starts afresh (no gap
    /// and no lateness counted against the stream it replaced).
    pub fn source(&mut self, ssrc: u32) {
        if self.ssrc.replace(ssrc).is_some_and(|old| old != ssrc) {
            self.last_seq = None;
            self.start = None;
        }
    }

    /// Counts a packet with sequence number `seq`, timestamp `ts` (at `rate` Hz) and the
    /// `marker` bit arriving `now`.
    pub fn packet(&mut self, now: Instant, seq: u16, ts: u32, rate: u32, marker: bool) {
        if let Some(last) = self.last_seq {
            let step = seq.wrapping_sub(last);
            if step == 0 || step > u16::MAX / 2 {
                return; // a duplicate or a reordered straggler: already accounted for
            }
            self.lost += u64::from(step - 1);
        }
        self.last_seq = Some(seq);
        if marker {
            self.start = None;
        }
        let Some(t0) = self.start else {
            self.extended_ts = 0;
            self.recent.clear();
            self.recent.push_back((0, 0));
            self.start = Some(now);
            self.last_ts = ts;
            return;
        };
        // Timestamps wrap at 2^32: extend them.
        // A remote may send any timestamps: the arithmetic saturates rather than overflow.
        self.extended_ts = self
            .extended_ts
            .saturating_add(i64::from(ts.wrapping_sub(self.last_ts) as i32));
        self.last_ts = ts;
        let media_us = i128::from(self.extended_ts) * 1_000_000 / i128::from(rate.max(1));
        let media_us = media_us.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
        let arrival_us = now.duration_since(t0).as_micros() as i64;
        let offset = arrival_us.saturating_sub(media_us);
        while self.recent.back().is_some_and(|(_, o)| *o >= offset) {
            self.recent.pop_back();
        }
        self.recent.push_back((arrival_us, offset));
        while self
            .recent
            .front()
            .is_some_and(|(at, _)| *at < arrival_us - WINDOW_US)
        {
            self.recent.pop_front();
        }
        let best = self.recent.front().map_or(offset, |(_, o)| *o);
        if offset.saturating_sub(best) > LATE_AFTER.as_micros() as i64 {
            self.late += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_are_lost_and_delayed_packets_late() {
        let t0 = Instant::now();
        let mut a = Arrivals::default();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        // Every 20 ms, 160 samples apart: on time.
        for i in 0..10u16 {
            a.packet(at(u64::from(i) * 20), i, u32::from(i) * 160, 8_000, false);
        }
        assert_eq!((a.lost, a.late), (0, 0));
        // Two packets missing, then one 15 ms late, then one 5 ms late (not late).
        a.packet(at(12 * 20), 12, 12 * 160, 8_000, false);
        assert_eq!(a.lost, 2);
        a.packet(at(13 * 20 + 15), 13, 13 * 160, 8_000, false);
        a.packet(at(14 * 20 + 5), 14, 14 * 160, 8_000, false);
        assert_eq!(a.late, 1);
        // A duplicate changes nothing; sequence and timestamp wrap-around are continuous.
        a.packet(at(14 * 20 + 6), 14, 14 * 160, 8_000, false);
        assert_eq!((a.lost, a.late), (2, 1));
        let mut w = Arrivals::default();
        for i in 0..4u16 {
            let seq = (u16::MAX - 1).wrapping_add(i);
            let ts = (u32::MAX - 159).wrapping_add(u32::from(i) * 160);
            w.packet(at(u64::from(i) * 20), seq, ts, 8_000, false);
        }
        assert_eq!((w.lost, w.late), (0, 0));
        // A new talkspurt after a pause the timestamps undercount: measured afresh, not late.
        let mut m = Arrivals::default();
        for i in 0..5u16 {
            m.packet(at(u64::from(i) * 20), i, u32::from(i) * 160, 8_000, false);
        }
        for i in 5..10u16 {
            let (arrive, ts) = (u64::from(i) * 20 + 200, u32::from(i) * 160 + 160);
            m.packet(at(arrive), i, ts, 8_000, i == 5);
        }
        assert_eq!(m.late, 0);
        // A sender that fell 30 ms behind for good: late for two seconds, then judged afresh.
        let mut d = Arrivals::default();
        for i in 0..300u16 {
            let behind = if i >= 100 { 30 } else { 0 };
            d.packet(
                at(u64::from(i) * 20 + behind),
                i,
                u32::from(i) * 160,
                8_000,
                false,
            );
        }
        assert!((95..=101).contains(&d.late), "{} late", d.late);
    }

    #[test]
    fn a_new_source_is_a_new_stream() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut a = Arrivals::default();
        for i in 0..100u16 {
            a.source(7);
            a.packet(at(u64::from(i) * 20), i, u32::from(i) * 160, 8_000, false);
        }
        // Another source, its sequence and timestamps from elsewhere, no marker bit.
        for i in 0..100u16 {
            a.source(9);
            let (seq, ts) = (40_000 + i, 3_000_000_000 + u32::from(i) * 160);
            a.packet(at(2_000 + u64::from(i) * 20), seq, ts, 8_000, false);
        }
        assert_eq!((a.lost, a.late), (0, 0));
        // The same jump within one source is counted: a gap, and packets late.
        let mut b = Arrivals::default();
        for i in 0..100u16 {
            b.packet(at(u64::from(i) * 20), i, u32::from(i) * 160, 8_000, false);
        }
        for i in 0..100u16 {
            let (seq, ts) = (200 + i, 160 * 50 + u32::from(i) * 160);
            b.packet(at(2_000 + u64::from(i) * 20), seq, ts, 8_000, false);
        }
        assert!(b.lost > 0 && b.late > 0, "{} lost, {} late", b.lost, b.late);
    }

    #[test]
    fn timestamps_a_remote_makes_up_do_not_overflow() {
        let t0 = Instant::now();
        let mut a = Arrivals::default();
        // Every timestamp half the 32-bit range ahead of the last: the extended timestamp
        // would pass i64 range (in microseconds) after about 4,300 packets.
        for i in 0..10_000u32 {
            let at = t0 + Duration::from_millis(u64::from(i) * 20);
            a.packet(at, i as u16, i.wrapping_mul(0x7fff_ffff), 8_000, false);
        }
        assert_eq!(a.lost, 0);
    }
}
