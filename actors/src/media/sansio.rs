//! The sans-IO plumbing of WebRTC on webrtc-rs's core (`rtc` 0.21), shared by the server's
//! legs on the media threads ([`threads`](crate::media::threads)), the load generator's peers
//! and the core echo: a connection with one audio track, its host candidates, moving datagrams
//! between a mio socket and the connection, and what a session description or a STUN check
//! says about where a remote is.

use crate::media::codec::Codec;
use crate::media::leg::LegError;
use bytes::BytesMut;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::{
    MediaEngine, MIME_TYPE_G722, MIME_TYPE_OPUS, MIME_TYPE_PCMA, MIME_TYPE_PCMU,
    MIME_TYPE_TELEPHONE_EVENT,
};
use rtc::peer_connection::event::RTCPeerConnectionEvent;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::{CandidateConfig, CandidateHostConfig, RTCIceCandidate};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Instant;

fn rtc_err(e: impl std::fmt::Display) -> LegError {
    LegError::WebRtc(e.to_string())
}

/// A codec as legs declare it in SDP, with the payload type they give it (Opus 111, PCMU its
/// static 0).
pub fn rtp_codec(codec: Codec) -> (RTCRtpCodec, u8) {
    let (mime, clock_rate, channels, fmtp, payload_type) = match codec {
        Codec::Opus => (MIME_TYPE_OPUS, 48_000, 2, "minptime=10;useinbandfec=1", 111),
        Codec::Pcmu => (MIME_TYPE_PCMU, 8_000, 0, "", 0),
        Codec::Pcma => (MIME_TYPE_PCMA, 8_000, 0, "", 8),
        // Its RTP clock (RFC 3551): 8 kHz for 16 kHz audio.
        Codec::G722 => (MIME_TYPE_G722, 8_000, 0, "", 9),
    };
    let rtp = RTCRtpCodec {
        mime_type: mime.to_owned(),
        clock_rate,
        channels,
        sdp_fmtp_line: fmtp.to_owned(),
        rtcp_feedback: vec![],
    };
    (rtp, payload_type)
}

/// The codecs a leg declares: `codecs` in their order of preference, then, when `events`,
/// RFC 4733 telephone events at Opus's and PCMU's clock rates (payload types 110 and 101).
pub fn media_engine(codecs: &[Codec], events: bool) -> Result<MediaEngine, LegError> {
    let mut media = MediaEngine::default();
    let mut declared: Vec<(RTCRtpCodec, u8)> = codecs.iter().map(|c| rtp_codec(*c)).collect();
    if events {
        for (clock_rate, payload_type) in [(48_000, 110), (8_000, 101)] {
            let event = RTCRtpCodec {
                mime_type: MIME_TYPE_TELEPHONE_EVENT.to_owned(),
                clock_rate,
                channels: 0,
                sdp_fmtp_line: "0-16".to_owned(),
                rtcp_feedback: vec![],
            };
            declared.push((event, payload_type));
        }
    }
    for (rtp_codec, payload_type) in declared {
        media
            .register_codec(
                RTCRtpCodecParameters {
                    rtp_codec,
                    payload_type,
                },
                RtpCodecKind::Audio,
            )
            .map_err(rtc_err)?;
    }
    Ok(media)
}

/// The audio track a leg sends on, under `label`, with its SSRC. No codec is pinned: the
/// track offers (or answers) every declared codec; packets carry their own payload type.
pub fn audio_track(label: &str, ssrc: u32) -> MediaStreamTrack {
    MediaStreamTrack::new(
        label.to_owned(),
        format!("audio-{ssrc}"),
        "audio".to_owned(),
        RtpCodecKind::Audio,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            ..Default::default()
        }],
    )
}

/// A sans-IO connection speaking `codecs` (and telephone events when `events`), with one audio
/// track to send on: its sender and SSRC.
pub fn connection(
    codecs: &[Codec],
    events: bool,
    label: &str,
) -> Result<(RTCPeerConnection, RTCRtpSenderId, u32), LegError> {
    let mut pc = RTCPeerConnectionBuilder::new()
        .with_media_engine(media_engine(codecs, events)?)
        .build(Instant::now())
        .map_err(rtc_err)?;
    let ssrc = rand::random::<u32>();
    let sender = pc.add_track(audio_track(label, ssrc)).map_err(rtc_err)?;
    Ok((pc, sender, ssrc))
}

/// Adds the UDP host candidate of `addr`.
pub fn add_host(pc: &mut RTCPeerConnection, addr: SocketAddr) -> Result<(), LegError> {
    let host = CandidateHostConfig {
        base_config: CandidateConfig {
            network: "udp".to_owned(),
            address: addr.ip().to_string(),
            port: addr.port(),
            component: 1,
            ..Default::default()
        },
        ..Default::default()
    }
    .new_candidate_host()
    .map_err(rtc_err)?;
    let init = RTCIceCandidate::from(&host).to_json().map_err(rtc_err)?;
    pc.add_local_candidate(init).map_err(rtc_err)
}

/// Sends the datagrams the connection has for `socket`, and notes its state in `up`; whether
/// the state changed.
pub fn flush(pc: &mut RTCPeerConnection, socket: &mio::net::UdpSocket, up: &mut bool) -> bool {
    while let Some(out) = pc.poll_write() {
        let _ = socket.send_to(&out.message, out.transport.peer_addr);
    }
    let mut changed = false;
    while let Some(event) = pc.poll_event() {
        if let RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) = event {
            *up = state == RTCPeerConnectionState::Connected;
            changed = true;
        }
    }
    changed
}

/// Reads every datagram waiting on `socket` (mio's readiness is edge-triggered: all of them),
/// handing each to `each`.
pub fn drain(socket: &mio::net::UdpSocket, buf: &mut [u8], each: impl FnMut(SocketAddr, &[u8])) {
    drain_some(socket, buf, usize::MAX, each);
}

/// Reads at most `max` datagrams waiting on `socket`, handing each to `each`; whether more may
/// be waiting (the socket is then still readable, and mio will not say so again: read it
/// again soon).
pub fn drain_some(
    socket: &mio::net::UdpSocket,
    buf: &mut [u8],
    max: usize,
    mut each: impl FnMut(SocketAddr, &[u8]),
) -> bool {
    for _ in 0..max {
        match socket.recv_from(buf) {
            Ok((n, from)) => each(from, &buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
            // An ICMP error about one remote (its leg closed) is not the others' business.
            Err(e) => tracing::trace!(error = %e, "media socket"),
        }
    }
    true
}

/// The payload types the peers use, back to their codec.
pub fn codec_of(payload_type: u8) -> Option<Codec> {
    [Codec::Pcmu, Codec::Opus]
        .into_iter()
        .find(|c| rtp_codec(*c).1 == payload_type)
}

/// Hands a datagram `from` a remote to the connection, on `local`.
pub fn read(pc: &mut RTCPeerConnection, local: SocketAddr, from: SocketAddr, d: &[u8]) {
    let _ = pc.handle_read(TaggedBytesMut {
        now: Instant::now(),
        transport: TransportContext {
            local_addr: local,
            peer_addr: from,
            ecn: None,
            transport_protocol: TransportProtocol::UDP,
        },
        message: BytesMut::from(d),
    });
}

/// The UDP candidates (of any type) of a session description (`a=candidate:<foundation> <component>
/// udp <priority> <address> <port> typ …`).
pub fn candidates(sdp: &str) -> Vec<SocketAddr> {
    sdp.lines()
        .filter_map(|l| l.trim().strip_prefix("a=candidate:"))
        .filter_map(|c| {
            let f: Vec<&str> = c.split_whitespace().collect();
            if !f.get(2)?.eq_ignore_ascii_case("udp") {
                return None;
            }
            let ip: std::net::IpAddr = f.get(4)?.parse().ok()?;
            Some(SocketAddr::new(ip, f.get(5)?.parse().ok()?))
        })
        .collect()
}

/// A session description's ICE user fragment.
pub fn ice_ufrag(sdp: &str) -> Option<String> {
    sdp.lines()
        .find_map(|l| l.trim().strip_prefix("a=ice-ufrag:"))
        .map(|u| u.trim().to_owned())
}

/// The receiver's ICE user fragment named by a STUN message's USERNAME (`<receiver>:<sender>`),
/// if the datagram is one.
pub fn checked_ufrag(datagram: &[u8]) -> Option<String> {
    // STUN: the two top bits clear and the magic cookie (RFC 8489 §5).
    if datagram.len() < 20 || datagram[0] & 0xc0 != 0 || datagram[4..8] != [0x21, 0x12, 0xa4, 0x42]
    {
        return None;
    }
    let mut m = rtc::stun::message::Message::new();
    m.unmarshal_binary(datagram).ok()?;
    let user = m.get(rtc::stun::attributes::ATTR_USERNAME).ok()?;
    let user = String::from_utf8(user).ok()?;
    Some(user.split(':').next()?.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_candidates_are_read_from_the_answer() {
        let sdp = "v=0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 40001 typ host\r\n\
                   a=candidate:2 1 tcp 1 127.0.0.1 9 typ host tcptype active\r\n\
                   a=candidate:3 1 UDP 1694498815 ::1 40002 typ host\r\n";
        assert_eq!(
            candidates(sdp),
            vec![
                "127.0.0.1:40001".parse::<SocketAddr>().unwrap(),
                "[::1]:40002".parse::<SocketAddr>().unwrap()
            ]
        );
    }

    #[test]
    fn a_connectivity_check_names_the_peer_it_is_for() {
        let user = b"peerA:srvB";
        let mut m = vec![0x00, 0x01, 0x00, 0x10, 0x21, 0x12, 0xa4, 0x42];
        m.extend_from_slice(&[7; 12]); // transaction id
        m.extend_from_slice(&[0x00, 0x06, 0x00, user.len() as u8]);
        m.extend_from_slice(user);
        m.extend_from_slice(&[0, 0]); // padding to 4 bytes
        assert_eq!(checked_ufrag(&m).as_deref(), Some("peerA"));
        // RTP (version 2: top bits 10) and short datagrams are not checks.
        assert_eq!(checked_ufrag(&[0x80; 40]), None);
        assert_eq!(checked_ufrag(&m[..10]), None);
        let sdp = "v=0\r\na=ice-ufrag:AbCd\r\na=ice-pwd:x\r\n";
        assert_eq!(ice_ufrag(sdp).as_deref(), Some("AbCd"));
    }
}
