//! The decisions a SIP trunk needs (H4), as pure functions: which configured trunk a message
//! comes from (by its source address, never by what it claims), which queue a dialled number
//! (DID) reaches, what an outbound INVITE's responses mean for the call, and which session
//! timer a trunk call runs (RFC 4028), with when a session nobody refreshed is over, and
//! whether a trunk's request proves its digest credentials ([`digest`]). The SIP stack and
//! the RTP legs that use them live in the actor shells; nothing here reads a message off the
//! network or reads a clock.

pub mod digest;

use crate::call::Unreached;
use crate::QueueId;
use std::net::IpAddr;
use std::time::Duration;

pub use crate::net::Cidr;

/// The trunk a message from `source` belongs to: the first, in configuration order, one of
/// whose ranges holds the address; `None` (refuse with 403, touch nothing) otherwise.
/// `source` is where the packet came from (the transport's peer address, or the Via's
/// `received`), never a header the sender wrote.
pub fn trunk_for<T>(source: IpAddr, trunks: &[(T, Vec<Cidr>)]) -> Option<&T> {
    trunks
        .iter()
        .find(|(_, ranges)| ranges.iter().any(|r| r.contains(source)))
        .map(|(t, _)| t)
}

/// A dialled-number rule: an exact number (`+3225550100`) or a prefix (`+32255501*`), the
/// queue it reaches, and when its calls are answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DidRoute {
    /// The number or prefix, digits with an optional leading `+`, a prefix ending in `*`.
    pub number: String,
    /// Where the calls go.
    pub queue: QueueId,
    /// When the caller gets its `200 OK`.
    pub answer: AnswerWhen,
}

/// When a trunk call is answered at the SIP level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerWhen {
    /// When an agent answers: the caller hears the queue's music as early media (`183`)
    /// until then, and the carrier charges only talked calls. Some carriers end early media
    /// after a few minutes.
    #[default]
    Agent,
    /// At once (`200 OK` on arrival): the wait is a connected call, as in a PBX that
    /// answers before queueing; no carrier limit on early media applies.
    Arrival,
}

/// The number a request-URI or To user part names, as routes compare it: `+` and digits only
/// (visual separators `-`, `.`, ` `, `(`, `)` dropped); `None` when it has anything else.
pub fn normalize_number(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    for (i, c) in raw.trim().chars().enumerate() {
        match c {
            '+' if i == 0 => out.push('+'),
            '0'..='9' => out.push(c),
            '-' | '.' | ' ' | '(' | ')' => {}
            _ => return None,
        }
    }
    (out.len() > usize::from(out.starts_with('+'))).then_some(out)
}

/// The rule a dialled number falls under (its queue, when it is answered): an exact rule
/// wins, then the longest matching prefix; `None` (answer 404, touch nothing) when no rule
/// matches.
pub fn route_for<'a>(dialled: &str, routes: &'a [DidRoute]) -> Option<&'a DidRoute> {
    let number = normalize_number(dialled)?;
    if let Some(r) = routes.iter().find(|r| r.number == number) {
        return Some(r);
    }
    routes
        .iter()
        .filter_map(|r| {
            let prefix = r.number.strip_suffix('*')?;
            number.starts_with(prefix).then_some((prefix.len(), r))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, r)| r)
}

/// The trunk a call we place goes through: the one its queue names (`chosen`) when that is
/// among the outbound trunks, else the first of them (configuration order); `None` without
/// any (the call is connected by the ingress instead).
pub fn outbound_trunk<'a, T>(chosen: Option<&str>, trunks: &'a [(String, T)]) -> Option<&'a T> {
    chosen
        .and_then(|c| trunks.iter().find(|(id, _)| id == c))
        .or(trunks.first())
        .map(|(_, t)| t)
}

/// What a response to our outbound INVITE means for the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// 100: the carrier is working on it; nothing to show.
    Trying,
    /// 180 or 183 (any other 1xx too): the far end rings.
    Ringing,
    /// 2xx: answered; the call connects.
    Answered,
    /// The attempt is over without an answer, for this reason.
    Over(Unreached),
}

/// Reads a SIP status code of a response to our INVITE. 486 Busy Here, 600 Busy Everywhere
/// and 603 Decline are `busy`; 408, 480 and 487 (our CANCEL after the ring time) are `not
/// answered`; every other final (3xx redirects are not followed, 4xx–6xx) is `failed`.
pub fn progress_of(status: u16) -> Progress {
    match status {
        100 => Progress::Trying,
        101..=199 => Progress::Ringing,
        200..=299 => Progress::Answered,
        486 | 600 | 603 => Progress::Over(Unreached::Busy),
        408 | 480 | 487 => Progress::Over(Unreached::NotAnswered),
        _ => Progress::Over(Unreached::Failed),
    }
}

/// Which side of a dialog refreshes its session (RFC 4028 `refresher`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refresher {
    /// The caller (the side that sent the INVITE).
    Uac,
    /// The called side.
    Uas,
}

/// A session timer agreed for a trunk call (RFC 4028): the dialog must be refreshed (a
/// re-INVITE or an UPDATE) within `interval` of its last refresh, by `refresher`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionTimer {
    /// The session interval (`Session-Expires`).
    pub interval: Duration,
    /// Who refreshes.
    pub refresher: Refresher,
}

/// Why an INVITE's session timer request is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerRefusal {
    /// Shorter than our minimum: `422 Session Interval Too Small`, with our `Min-SE`.
    TooSmall {
        /// Our minimum, for the `Min-SE` header.
        min: Duration,
    },
}

/// The session timer a called trunk leg agrees to, from the caller's `Session-Expires`
/// (`requested`: its interval and refresher, if it named one) and our minimum (`min`, the
/// `Min-SE`): none when the caller asked for none; its interval, refused when below the
/// minimum; its refresher, or the caller when it left the choice to us (it asked for the
/// timer, it keeps it alive).
pub fn session_timer(
    requested: Option<(Duration, Option<Refresher>)>,
    min: Duration,
) -> Result<Option<SessionTimer>, TimerRefusal> {
    let Some((interval, refresher)) = requested else {
        return Ok(None);
    };
    if interval < min {
        return Err(TimerRefusal::TooSmall { min });
    }
    Ok(Some(SessionTimer {
        interval,
        refresher: refresher.unwrap_or(Refresher::Uac),
    }))
}

/// The `Session-Expires` we ask for on the calls we place (RFC 4028 recommends 1800 s), never
/// below our own minimum.
pub fn offered_session(min: Duration) -> Duration {
    min.max(Duration::from_secs(1800))
}

/// The session timer of a call we placed, from the `Session-Expires` of the called side's
/// `2xx` (`answered`): none when it names none (it does not do timers: no refreshes are
/// owed, RFC 4028 §7.2); its interval, raised to our `min` if it went below what we allowed;
/// its refresher, or us (the caller) when it named none.
pub fn placed_session_timer(
    answered: Option<(Duration, Option<Refresher>)>,
    min: Duration,
) -> Option<SessionTimer> {
    let (interval, refresher) = answered?;
    Some(SessionTimer {
        interval: interval.max(min),
        refresher: refresher.unwrap_or(Refresher::Uac),
    })
}

impl SessionTimer {
    /// When, after the last refresh, the side that does not refresh ends a session that got
    /// none: slightly before it expires, by a third of the interval or 32 s, whichever is
    /// less (RFC 4028 §10).
    pub fn bye_after(&self) -> Duration {
        self.interval - (self.interval / 3).min(Duration::from_secs(32))
    }

    /// When, after the last refresh, the refresher sends the next: at half the interval
    /// (RFC 4028 §10).
    pub fn refresh_after(&self) -> Duration {
        self.interval / 2
    }

    /// The `Session-Expires` header value that states it.
    pub fn header_value(&self) -> String {
        let who = match self.refresher {
            Refresher::Uac => "uac",
            Refresher::Uas => "uas",
        };
        format!("{};refresher={who}", self.interval.as_secs())
    }
}

/// The codecs a trunk leg speaks (RFC 3551 static payload types).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrunkCodec {
    /// G.711 µ-law, payload type 0.
    Pcmu,
    /// G.711 A-law, payload type 8.
    Pcma,
    /// G.722, payload type 9: 16 kHz wideband at G.711's 64 kbit/s (its RTP clock is 8 kHz,
    /// RFC 3551 §4.5.2).
    G722,
}

/// Every codec a trunk leg speaks, in the order our offers list them.
pub const TRUNK_CODECS: [TrunkCodec; 3] = [TrunkCodec::G722, TrunkCodec::Pcmu, TrunkCodec::Pcma];

impl TrunkCodec {
    /// Its RTP payload type.
    pub fn payload_type(self) -> u8 {
        match self {
            TrunkCodec::Pcmu => 0,
            TrunkCodec::Pcma => 8,
            TrunkCodec::G722 => 9,
        }
    }

    /// Its name in an SDP `rtpmap`.
    pub fn name(self) -> &'static str {
        match self {
            TrunkCodec::Pcmu => "PCMU",
            TrunkCodec::Pcma => "PCMA",
            TrunkCodec::G722 => "G722",
        }
    }
}

/// The codec an offer is answered with, among the codecs we `speak`: G.722 wherever the
/// caller lists it (the same 64 kbit/s as G.711 for twice the audio band: the transcriber
/// gets wideband speech, though the bridge itself mixes in 8 kHz), else the caller's first G.711
/// (its order is its preference); `None` (answer 488) when it offers none of them.
pub fn answer_codec(offered: &[u8], speak: &[TrunkCodec]) -> Option<TrunkCodec> {
    let ours = |pt: &u8| speak.iter().copied().find(|c| c.payload_type() == *pt);
    let wideband = offered
        .iter()
        .filter_map(ours)
        .find(|c| *c == TrunkCodec::G722);
    wideband.or_else(|| offered.iter().find_map(ours))
}

/// A media stream's direction in SDP (RFC 3264 §5.1), from the side that wrote it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Direction {
    /// Both ways (the default when the SDP says nothing).
    #[default]
    SendRecv,
    /// It sends, and does not want to receive (it holds the other side).
    SendOnly,
    /// It receives only.
    RecvOnly,
    /// Neither way (it holds the other side and sends nothing either).
    Inactive,
}

impl Direction {
    /// Its SDP attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction an answer to an offer with this one takes (the mirror image).
    pub fn answer(self) -> Direction {
        match self {
            Direction::SendRecv => Direction::SendRecv,
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            Direction::Inactive => Direction::Inactive,
        }
    }

    /// Whether the party who offered it holds us: it wants nothing from us, and may send
    /// nothing either, so its silence is no sign of a dead call.
    pub fn holds(self) -> bool {
        matches!(self, Direction::SendOnly | Direction::Inactive)
    }
}

/// The ports a new RTP leg tries, in order, within the configured range `first..=last`:
/// the even ones (RTP's convention, the odd one above is RTCP's), starting at the one `seed`
/// picks (so that legs spread over the range instead of all probing from its start) and
/// wrapping around; each once. An empty range (or one without an even port) gives none.
pub fn rtp_ports(first: u16, last: u16, seed: u32) -> impl Iterator<Item = u16> {
    let lo = first + first % 2;
    let count = if last >= lo {
        u32::from((last - lo) / 2) + 1
    } else {
        0
    };
    let start = if count == 0 { 0 } else { seed % count };
    (0..count).map(move |i| {
        let slot = (start + i) % count;
        // slot < count <= 32768, so this stays within u16.
        lo + (slot * 2) as u16
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_message_belongs_to_the_first_trunk_whose_range_holds_its_source() {
        let trunks = vec![
            ("carrier-a", vec![Cidr::parse("203.0.113.0/24").unwrap()]),
            (
                "carrier-b",
                vec![
                    Cidr::parse("203.0.113.50").unwrap(),
                    Cidr::parse("198.51.100.0/28").unwrap(),
                ],
            ),
        ];
        assert_eq!(trunk_for(ip("203.0.113.50"), &trunks), Some(&"carrier-a"));
        assert_eq!(trunk_for(ip("198.51.100.3"), &trunks), Some(&"carrier-b"));
        assert_eq!(trunk_for(ip("198.51.100.16"), &trunks), None);
        assert_eq!(trunk_for(ip("127.0.0.1"), &trunks), None);
    }

    #[test]
    fn a_dialled_number_reaches_its_exact_route_else_the_longest_prefix() {
        let route = |number: &str, queue: &str| DidRoute {
            number: number.into(),
            queue: queue.into(),
            answer: AnswerWhen::Agent,
        };
        let routes = vec![
            route("+322555*", "sales"),
            route("+3225550100", "support"),
            route("+32255501*", "billing"),
        ];
        let q = |n: &str| route_for(n, &routes).map(|r| r.queue.as_str().to_owned());
        assert_eq!(q("+3225550100").as_deref(), Some("support"));
        assert_eq!(
            q("+32 2 555 01 00").as_deref(),
            Some("support"),
            "separators"
        );
        assert_eq!(q("+3225550199").as_deref(), Some("billing"));
        assert_eq!(q("+3225559999").as_deref(), Some("sales"));
        assert_eq!(q("+4420"), None);
        assert_eq!(q("3225550100"), None, "no + is another number");
        assert_eq!(q("+32;drop"), None);
        assert_eq!(normalize_number("+"), None);
        assert_eq!(
            normalize_number(" (02) 555-01.00 ").as_deref(),
            Some("025550100")
        );
        assert_eq!(normalize_number("1+2"), None);
    }

    #[test]
    fn responses_to_an_outbound_invite_give_the_seeds_results() {
        assert_eq!(progress_of(100), Progress::Trying);
        assert_eq!(progress_of(180), Progress::Ringing);
        assert_eq!(progress_of(183), Progress::Ringing);
        assert_eq!(progress_of(200), Progress::Answered);
        for busy in [486, 600, 603] {
            assert_eq!(progress_of(busy), Progress::Over(Unreached::Busy), "{busy}");
        }
        for unanswered in [408, 480, 487] {
            assert_eq!(
                progress_of(unanswered),
                Progress::Over(Unreached::NotAnswered),
                "{unanswered}"
            );
        }
        for failed in [302, 403, 404, 488, 500, 503, 604] {
            assert_eq!(
                progress_of(failed),
                Progress::Over(Unreached::Failed),
                "{failed}"
            );
        }
    }

    #[test]
    fn a_placed_call_goes_through_its_queues_trunk_or_the_first() {
        let trunks = vec![("a".to_owned(), 1), ("b".to_owned(), 2)];
        assert_eq!(outbound_trunk(Some("b"), &trunks), Some(&2));
        assert_eq!(outbound_trunk(None, &trunks), Some(&1));
        assert_eq!(outbound_trunk(Some("gone"), &trunks), Some(&1));
        assert_eq!(outbound_trunk::<u8>(Some("a"), &[]), None);
    }

    #[test]
    fn a_placed_call_runs_the_timer_the_called_side_answers_with() {
        let secs = Duration::from_secs;
        let min = secs(90);
        assert_eq!(offered_session(min), secs(1800));
        assert_eq!(offered_session(secs(3600)), secs(3600));
        assert_eq!(
            placed_session_timer(None, min),
            None,
            "no timer answered, none run"
        );
        let ours = placed_session_timer(Some((secs(600), None)), min).unwrap();
        assert_eq!((ours.interval, ours.refresher), (secs(600), Refresher::Uac));
        let theirs = placed_session_timer(Some((secs(900), Some(Refresher::Uas))), min).unwrap();
        assert_eq!(theirs.refresher, Refresher::Uas);
        let low = placed_session_timer(Some((secs(30), Some(Refresher::Uas))), min).unwrap();
        assert_eq!(low.interval, min, "never below what we allowed");
    }

    #[test]
    fn a_session_timer_is_agreed_refused_when_too_short_and_ends_a_silent_session() {
        let secs = Duration::from_secs;
        let min = secs(90);
        assert_eq!(session_timer(None, min), Ok(None), "none asked, none run");
        assert_eq!(
            session_timer(Some((secs(60), Some(Refresher::Uac))), min),
            Err(TimerRefusal::TooSmall { min })
        );
        let asked = session_timer(Some((secs(1800), None)), min)
            .unwrap()
            .unwrap();
        assert_eq!(
            (asked.interval, asked.refresher),
            (secs(1800), Refresher::Uac),
            "the caller that asked refreshes when it leaves the choice to us"
        );
        assert_eq!(asked.header_value(), "1800;refresher=uac");
        // Ended 32 s before a long session expires, a third of a short one before.
        assert_eq!(asked.bye_after(), secs(1768));
        assert_eq!(asked.refresh_after(), secs(900));
        let short = session_timer(Some((secs(90), Some(Refresher::Uas))), min)
            .unwrap()
            .unwrap();
        assert_eq!(
            (short.bye_after(), short.refresh_after()),
            (secs(60), secs(45))
        );
        assert_eq!(short.header_value(), "90;refresher=uas");
    }

    #[test]
    fn an_offer_is_answered_with_g722_if_listed_else_the_callers_first_g711_codec() {
        let g711 = [TrunkCodec::Pcmu, TrunkCodec::Pcma];
        assert_eq!(answer_codec(&[9, 8, 0, 101], &g711), Some(TrunkCodec::Pcma));
        assert_eq!(answer_codec(&[0, 8], &g711), Some(TrunkCodec::Pcmu));
        assert_eq!(
            answer_codec(&[9, 8, 0, 101], &[TrunkCodec::Pcmu]),
            Some(TrunkCodec::Pcmu)
        );
        assert_eq!(answer_codec(&[8], &[TrunkCodec::Pcmu]), None);
        assert_eq!(
            answer_codec(&[18, 101], &TRUNK_CODECS),
            None,
            "G.729 and events only: 488"
        );
        assert_eq!(answer_codec(&[], &TRUNK_CODECS), None);
        // Wideband wherever the caller lists it, when we speak it.
        assert_eq!(
            answer_codec(&[0, 8, 9, 101], &TRUNK_CODECS),
            Some(TrunkCodec::G722)
        );
        assert_eq!(
            answer_codec(&[9, 101], &TRUNK_CODECS),
            Some(TrunkCodec::G722)
        );
        assert_eq!(answer_codec(&[8, 0], &TRUNK_CODECS), Some(TrunkCodec::Pcma));
        assert_eq!(
            (TrunkCodec::G722.payload_type(), TrunkCodec::G722.name()),
            (9, "G722")
        );
    }

    #[test]
    fn rtp_ports_are_the_even_ones_of_the_range_from_a_seeded_start_each_once() {
        let all: Vec<u16> = rtp_ports(40_000, 40_009, 0).collect();
        assert_eq!(all, [40_000, 40_002, 40_004, 40_006, 40_008]);
        let from_third: Vec<u16> = rtp_ports(40_000, 40_009, 7).collect();
        assert_eq!(from_third, [40_004, 40_006, 40_008, 40_000, 40_002]);
        assert_eq!(
            rtp_ports(40_001, 40_004, 0).collect::<Vec<_>>(),
            [40_002, 40_004],
            "an odd start moves up"
        );
        assert_eq!(rtp_ports(40_001, 40_001, 3).count(), 0, "no even port");
        assert_eq!(rtp_ports(40_010, 40_000, 3).count(), 0, "empty");
        assert_eq!(rtp_ports(65_534, 65_535, 9).collect::<Vec<_>>(), [65_534]);
        assert_eq!(rtp_ports(0, 65_535, 1).count(), 32_768);
    }

    #[test]
    fn a_hold_offer_is_answered_with_its_mirror_and_means_the_party_holds_us() {
        use Direction::*;
        for (offer, answer, holds) in [
            (SendRecv, SendRecv, false),
            (SendOnly, RecvOnly, true),
            (Inactive, Inactive, true),
            (RecvOnly, SendOnly, false),
        ] {
            assert_eq!(
                (offer.answer(), offer.holds()),
                (answer, holds),
                "{offer:?}"
            );
        }
        assert_eq!(Direction::default().as_str(), "sendrecv");
    }
}
