//! The sans-IO plumbing the load generator's peers and the core echo share: a connection on
//! webrtc-rs's core (`rtc` 0.21) with one audio track, its host candidate, moving datagrams
//! between a mio socket and the connection, and what a session description or a STUN check
//! says about where a remote is.

use actors::media::codec::Codec;
pub(super) use actors::media::leg::rtp_codec;
use anyhow::Result;
use bytes::BytesMut;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::MediaEngine;
use rtc::peer_connection::event::RTCPeerConnectionEvent;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::{CandidateConfig, CandidateHostConfig, RTCIceCandidate};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Instant;

/// A sans-IO connection speaking `codecs`, with one audio track to send on: its sender and
/// SSRC.
pub(super) fn connection(codecs: &[Codec]) -> Result<(RTCPeerConnection, RTCRtpSenderId, u32)> {
    let mut media = MediaEngine::default();
    for c in codecs {
        let (rtp_codec, payload_type) = rtp_codec(*c);
        media.register_codec(
            RTCRtpCodecParameters {
                rtp_codec,
                payload_type,
            },
            RtpCodecKind::Audio,
        )?;
    }
    let mut pc = RTCPeerConnectionBuilder::new()
        .with_media_engine(media)
        .build(Instant::now())?;
    let ssrc = rand::random::<u32>();
    let track = MediaStreamTrack::new(
        "loadgen".to_owned(),
        format!("audio-{ssrc}"),
        "audio".to_owned(),
        RtpCodecKind::Audio,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            // No codec pinned: the track offers (or answers) every registered codec.
            ..Default::default()
        }],
    );
    let sender = pc.add_track(track)?;
    Ok((pc, sender, ssrc))
}

/// Adds the UDP host candidate of `addr`.
pub(super) fn add_host(pc: &mut RTCPeerConnection, addr: SocketAddr) -> Result<()> {
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
    .new_candidate_host()?;
    pc.add_local_candidate(RTCIceCandidate::from(&host).to_json()?)?;
    Ok(())
}

/// Sends the datagrams the connection has for `socket`, and notes its state in `up`; whether
/// the state changed.
pub(super) fn flush(
    pc: &mut RTCPeerConnection,
    socket: &mio::net::UdpSocket,
    up: &mut bool,
) -> bool {
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
pub(super) fn drain(
    socket: &mio::net::UdpSocket,
    buf: &mut [u8],
    mut each: impl FnMut(SocketAddr, &[u8]),
) {
    loop {
        match socket.recv_from(buf) {
            Ok((n, from)) => each(from, &buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            // An ICMP error about one remote (its leg closed) is not the others' business.
            Err(e) => tracing::trace!(error = %e, "media socket"),
        }
    }
}

/// The payload types the peers use, back to their codec.
pub(super) fn codec_of(payload_type: u8) -> Option<Codec> {
    [Codec::Pcmu, Codec::Opus]
        .into_iter()
        .find(|c| rtp_codec(*c).1 == payload_type)
}

/// Hands a datagram `from` a remote to the connection, on `local`.
pub(super) fn read(pc: &mut RTCPeerConnection, local: SocketAddr, from: SocketAddr, d: &[u8]) {
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
pub(super) fn candidates(sdp: &str) -> Vec<SocketAddr> {
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
pub(super) fn ice_ufrag(sdp: &str) -> Option<String> {
    sdp.lines()
        .find_map(|l| l.trim().strip_prefix("a=ice-ufrag:"))
        .map(|u| u.trim().to_owned())
}

/// The receiver's ICE user fragment named by a STUN message's USERNAME (`<receiver>:<sender>`),
/// if the datagram is one.
pub(super) fn checked_ufrag(datagram: &[u8]) -> Option<String> {
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
