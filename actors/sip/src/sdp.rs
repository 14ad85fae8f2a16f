//! The little of SDP the trunk side reads and writes: the audio payload types an offer
//! lists, an answer with one G.711 codec, and our offer of both.

use engine::sip::G711;
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
    text.lines()
        .map(str::trim_end)
        .find_map(|l| l.strip_prefix("m=audio "))
        .map(|m| {
            m.split_whitespace()
                .skip(2)
                .take(64)
                .filter_map(|pt| pt.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// An answer with `codec`, the leg's RTP at `rtp`, 20 ms packets both ways.
pub(crate) fn answer(rtp: SocketAddr, codec: G711, session: u64) -> Vec<u8> {
    describe(rtp, &[codec], session)
}

/// Our offer for an outbound call: the leg's RTP at `rtp`, PCMU then PCMA.
pub(crate) fn offer(rtp: SocketAddr, session: u64) -> Vec<u8> {
    describe(rtp, &[G711::Pcmu, G711::Pcma], session)
}

/// An SDP session id (`o=`): any number, here one derived from `key` (a Call-ID, a call's id).
pub(crate) fn session_id(key: &str) -> u64 {
    u64::from(
        key.bytes()
            .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b))),
    )
}

fn describe(rtp: SocketAddr, codecs: &[G711], session: u64) -> Vec<u8> {
    let ip = rtp.ip();
    let family = if ip.is_ipv4() { "IP4" } else { "IP6" };
    let pts: Vec<String> = codecs
        .iter()
        .map(|c| c.payload_type().to_string())
        .collect();
    let mut sdp = format!(
        "v=0\r\no=switchyard {session} 1 IN {family} {ip}\r\ns=Switchyard\r\nc=IN {family} {ip}\r\nt=0 0\r\nm=audio {} RTP/AVP {}\r\n",
        rtp.port(),
        pts.join(" ")
    );
    for c in codecs {
        sdp.push_str(&format!(
            "a=rtpmap:{} {}/8000\r\n",
            c.payload_type(),
            c.name()
        ));
    }
    sdp.push_str("a=ptime:20\r\na=sendrecv\r\n");
    sdp.into_bytes()
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
        let sdp = answer("127.0.0.1:40000".parse().unwrap(), G711::Pcmu, 7);
        let sdp = String::from_utf8(sdp).unwrap();
        assert!(sdp.contains("m=audio 40000 RTP/AVP 0\r\n"), "{sdp}");
        assert!(
            sdp.contains("a=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n"),
            "{sdp}"
        );
        assert!(sdp.contains("c=IN IP4 127.0.0.1\r\n"), "{sdp}");
        let ours = String::from_utf8(offer("127.0.0.1:40002".parse().unwrap(), 7)).unwrap();
        assert!(ours.contains("m=audio 40002 RTP/AVP 0 8\r\n"), "{ours}");
        assert!(
            ours.contains("a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"),
            "{ours}"
        );
        assert_eq!(audio_payload_types(ours.as_bytes()), [0, 8]);
    }
}
