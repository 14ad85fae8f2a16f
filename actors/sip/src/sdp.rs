//! The little of SDP the trunk side reads and writes: the audio payload types an offer
//! lists, an answer with one codec, and our offer of all three (G.722, PCMU, PCMA).

use engine::sip::{answer_codec, Direction, TrunkCodec, TRUNK_CODECS};
use std::net::SocketAddr;

/// The payload types of the offer's first `m=audio` line, in the caller's order; empty when
/// there is none or the body is not SDP text. Bounded: a line or body past the limits of
/// any real offer is not read.
pub(crate) fn audio_payload_types(body: &[u8]) -> Vec<u8> {
    const MAX_BODY: usize = 16 * 1024;
    if body.len() > MAX_BODY {
        return Vec::new();
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return Vec::new();
    };
    actors::media::codec::audio_payload_types(text)
}

/// The direction an SDP asks for (RFC 3264 §5.1): its audio stream's attribute, else the
/// session's, else `sendrecv`.
pub(crate) fn direction(body: &[u8]) -> Direction {
    let Ok(text) = std::str::from_utf8(body) else {
        return Direction::SendRecv;
    };
    let (mut session, mut audio, mut in_audio) = (None, None, false);
    for line in text.lines().map(str::trim_end).take(256) {
        if let Some(m) = line.strip_prefix("m=") {
            if audio.is_some() || in_audio {
                break;
            }
            in_audio = m.starts_with("audio ");
            continue;
        }
        let dir = match line {
            "a=sendrecv" => Direction::SendRecv,
            "a=sendonly" => Direction::SendOnly,
            "a=recvonly" => Direction::RecvOnly,
            "a=inactive" => Direction::Inactive,
            _ => continue,
        };
        if in_audio {
            audio = Some(dir);
        } else {
            session = Some(dir);
        }
    }
    audio.or(session).unwrap_or_default()
}

/// The payload type an SDP gives RFC 4733 telephone events at 8 kHz in its audio stream.
pub(crate) fn telephone_events(body: &[u8]) -> Option<u8> {
    let text = std::str::from_utf8(body).ok()?;
    let mut in_audio = false;
    for line in text.lines().map(str::trim_end).take(256) {
        if let Some(m) = line.strip_prefix("m=") {
            if in_audio {
                return None;
            }
            in_audio = m.starts_with("audio ");
        } else if let Some(map) = line.strip_prefix("a=rtpmap:").filter(|_| in_audio) {
            let (pt, name) = map.split_once(' ')?;
            if name.eq_ignore_ascii_case("telephone-event/8000") {
                return pt.parse().ok();
            }
        }
    }
    None
}

/// The payload type our offers give telephone events.
const EVENTS_PT: u8 = 101;

/// Our side of a trunk leg's SDP: its address, codecs, telephone events, session id and
/// version, direction.
#[derive(Clone, Debug)]
pub(crate) struct Ours {
    rtp: SocketAddr,
    codecs: Vec<TrunkCodec>,
    /// RFC 4733 events (DTMF both ways), at this payload type, when the party takes them.
    events: Option<u8>,
    session: u64,
    version: u32,
    direction: Direction,
}

impl Ours {
    /// An answer to `offer` with `codec`, the leg's RTP at `rtp`, 20 ms packets both ways,
    /// and telephone events at the offer's payload type when it has them.
    pub(crate) fn answer(rtp: SocketAddr, codec: TrunkCodec, session: u64, offer: &[u8]) -> Ours {
        Ours {
            rtp,
            codecs: vec![codec],
            events: telephone_events(offer),
            session,
            version: 1,
            direction: Direction::SendRecv,
        }
    }

    /// Our offer for a call we place: the leg's RTP at `rtp`, G.722 then PCMU then PCMA, and
    /// telephone events.
    pub(crate) fn offer(rtp: SocketAddr, session: u64) -> Ours {
        Ours {
            codecs: TRUNK_CODECS.to_vec(),
            events: Some(EVENTS_PT),
            ..Ours::answer(rtp, TrunkCodec::Pcmu, session, b"")
        }
    }

    /// The answer to the party's new offer (a re-INVITE: hold, resume, a refresh): its
    /// direction mirrored, its first codec of ours; the version goes up when anything
    /// changed (RFC 3264 §8). An INVITE without SDP gets the description as it stands.
    pub(crate) fn reanswer(&mut self, offer: &[u8]) -> Vec<u8> {
        if offer.is_empty() {
            return self.bytes();
        }
        let direction = direction(offer).answer();
        let codecs = answer_codec(&audio_payload_types(offer), &self.codecs)
            .map_or_else(|| self.codecs.clone(), |c| vec![c]);
        let events = telephone_events(offer);
        if direction != self.direction || codecs != self.codecs || events != self.events {
            self.direction = direction;
            self.codecs = codecs;
            self.events = events;
            self.version += 1;
        }
        self.bytes()
    }

    /// The SDP text.
    pub(crate) fn bytes(&self) -> Vec<u8> {
        let (session, version) = (self.session, self.version);
        let ip = self.rtp.ip();
        let family = if ip.is_ipv4() { "IP4" } else { "IP6" };
        let pts: Vec<String> = self
            .codecs
            .iter()
            .map(|c| c.payload_type())
            .chain(self.events)
            .map(|pt| pt.to_string())
            .collect();
        let mut sdp = format!(
            "v=0\r\no=switchyard {session} {version} IN {family} {ip}\r\ns=Switchyard\r\nc=IN {family} {ip}\r\nt=0 0\r\nm=audio {} RTP/AVP {}\r\n",
            self.rtp.port(),
            pts.join(" ")
        );
        for c in &self.codecs {
            sdp.push_str(&format!(
                "a=rtpmap:{} {}/8000\r\n",
                c.payload_type(),
                c.name()
            ));
        }
        if let Some(pt) = self.events {
            sdp.push_str(&format!(
                "a=rtpmap:{pt} telephone-event/8000\r\na=fmtp:{pt} 0-16\r\n"
            ));
        }
        sdp.push_str(&format!("a=ptime:20\r\na={}\r\n", self.direction.as_str()));
        sdp.into_bytes()
    }
}

/// An SDP session id (`o=`): any number, here one derived from `key` (a Call-ID, a call's id).
pub(crate) fn session_id(key: &str) -> u64 {
    u64::from(
        key.bytes()
            .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offers_audio_payload_types_are_read_in_order_and_garbage_gives_none() {
        let offer = b"v=0\r\nc=IN IP4 127.0.0.1\r\nm=video 5000 RTP/AVP 96\r\nm=audio 6000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";
        assert_eq!(audio_payload_types(offer), [8, 0, 101]);
        assert!(audio_payload_types(b"m=audio 6000 RTP/AVP").is_empty());
        assert!(audio_payload_types(&[0xff, 0xfe, 0x00]).is_empty());
        assert!(audio_payload_types(&vec![b'a'; 20_000]).is_empty());
        assert_eq!(audio_payload_types(b"m=audio 1 RTP/AVP 0 x 300 8"), [0, 8]);
    }

    #[test]
    fn the_answer_names_one_codec_and_the_legs_address() {
        let sdp =
            Ours::answer("127.0.0.1:40000".parse().unwrap(), TrunkCodec::Pcmu, 7, b"").bytes();
        let sdp = String::from_utf8(sdp).unwrap();
        assert!(sdp.contains("m=audio 40000 RTP/AVP 0\r\n"), "{sdp}");
        assert!(
            sdp.contains("a=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n"),
            "{sdp}"
        );
        assert!(sdp.contains("c=IN IP4 127.0.0.1\r\n"), "{sdp}");
        let ours = Ours::offer("127.0.0.1:40002".parse().unwrap(), 7).bytes();
        let ours = String::from_utf8(ours).unwrap();
        assert!(
            ours.contains("m=audio 40002 RTP/AVP 9 0 8 101\r\n"),
            "{ours}"
        );
        assert!(
            ours.contains("a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"),
            "{ours}"
        );
        assert!(
            ours.contains(
                "a=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
            ),
            "{ours}"
        );
        assert_eq!(audio_payload_types(ours.as_bytes()), [9, 0, 8, 101]);
        // An answer takes events at the offer's own payload type, or none.
        let offer = b"m=audio 6000 RTP/AVP 0 96\r\na=rtpmap:96 telephone-event/8000\r\n";
        assert_eq!(telephone_events(offer), Some(96));
        let answer =
            Ours::answer("127.0.0.1:4".parse().unwrap(), TrunkCodec::Pcmu, 7, offer).bytes();
        let answer = String::from_utf8(answer).unwrap();
        assert!(
            answer.contains("RTP/AVP 0 96\r\n")
                && answer.contains("a=rtpmap:96 telephone-event/8000"),
            "{answer}"
        );
        assert_eq!(
            telephone_events(
                b"m=audio 6000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/48000\r\n"
            ),
            None
        );
    }

    #[test]
    fn a_hold_reinvite_is_answered_with_the_mirror_and_a_new_version() {
        let hold = b"v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 8 0\r\na=sendonly\r\n";
        assert_eq!(direction(hold), Direction::SendOnly);
        assert_eq!(
            direction(b"a=inactive\r\nm=audio 4000 RTP/AVP 0\r\n"),
            Direction::Inactive,
            "a session-level attribute"
        );
        assert_eq!(
            direction(b"a=inactive\r\nm=audio 4000 RTP/AVP 0\r\na=sendrecv\r\n"),
            Direction::SendRecv,
            "the stream's own wins"
        );
        assert_eq!(direction(&[0xff, 0x00]), Direction::SendRecv);
        let mut ours = Ours::answer("127.0.0.1:40000".parse().unwrap(), TrunkCodec::Pcma, 7, b"");
        let held = String::from_utf8(ours.reanswer(hold)).unwrap();
        assert!(held.contains("o=switchyard 7 2 IN IP4"), "{held}");
        assert!(held.contains("a=recvonly\r\n"), "{held}");
        assert!(held.contains("m=audio 40000 RTP/AVP 8\r\n"), "{held}");
        let refreshed = String::from_utf8(ours.reanswer(hold)).unwrap();
        assert!(
            refreshed.contains(" 7 2 IN"),
            "nothing changed: {refreshed}"
        );
        let resumed = String::from_utf8(ours.reanswer(b"m=audio 4000 RTP/AVP 8\r\n")).unwrap();
        assert!(
            resumed.contains(" 7 3 IN") && resumed.contains("a=sendrecv"),
            "{resumed}"
        );
        assert_eq!(
            ours.reanswer(b""),
            resumed.into_bytes(),
            "no offer: as it stands"
        );
    }
}
