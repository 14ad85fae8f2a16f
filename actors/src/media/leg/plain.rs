//! Plain RTP over UDP, a SIP trunk's leg: no ICE, DTLS or SRTP. Symmetric RTP (RFC 4961):
//! media goes to where the party's packets come from, to the SDP's address until the first
//! one arrives; packets from any other host than the SDP's are dropped (no hijacking).
//!
//! A leg we offer (an outbound call) is bound before the party's SDP is known: until its
//! answer comes ([`PlainIo::set_remote`]) nothing is sent and everything received is dropped.

use super::{LegError, Receiving, Shared};
use rtc::rtp;
use rtc::shared::marshal::{Marshal, Unmarshal};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::net::UdpSocket;
use webrtc::peer_connection::RTCPeerConnectionState;

/// Where the party is: the SDP's host (the only one heard) and the address media goes to
/// (the SDP's, then wherever the party's packets come from).
#[derive(Clone, Copy, Default)]
struct Peer {
    host: Option<IpAddr>,
    to: Option<SocketAddr>,
}

impl Peer {
    fn of(remote: Option<SocketAddr>) -> Peer {
        Peer {
            host: remote.map(|r| r.ip()),
            to: remote,
        }
    }
}

/// Where a plain RTP leg binds: the address, and the configured range of ports (even ones,
/// tried from a random start: [`engine::sip::rtp_ports`]); any free port without one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpBind {
    /// The local address.
    pub ip: IpAddr,
    /// The first and last port of the range.
    pub ports: Option<(u16, u16)>,
}

impl RtpBind {
    /// Any free port on `ip`.
    pub fn any(ip: IpAddr) -> RtpBind {
        RtpBind { ip, ports: None }
    }

    async fn socket(self) -> Result<UdpSocket, LegError> {
        let ip = self.ip;
        let Some((first, last)) = self.ports else {
            return UdpSocket::bind((ip, 0))
                .await
                .map_err(|e| LegError::WebRtc(format!("RTP socket on {ip}: {e}")));
        };
        for port in engine::sip::rtp_ports(first, last, rand::random()) {
            if let Ok(s) = UdpSocket::bind((ip, port)).await {
                return Ok(s);
            }
        }
        Err(LegError::WebRtc(format!(
            "no free RTP port on {ip} in {first}-{last}"
        )))
    }
}

pub(super) struct PlainIo {
    /// The party holds us (its SDP said `sendonly` or `inactive`): nothing is sent to it,
    /// and its silence is no sign of a dead call.
    held: std::sync::atomic::AtomicBool,
    socket: Arc<UdpSocket>,
    peer: Arc<Mutex<Peer>>,
    local: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl PlainIo {
    /// Binds a socket on `bind` and starts receiving; `remote` is the SDP's address (none yet
    /// when we make the offer).
    pub(super) async fn new(
        bind: RtpBind,
        remote: Option<SocketAddr>,
        shared: Arc<Shared>,
    ) -> Result<PlainIo, LegError> {
        let socket = bind.socket().await?;
        let local = socket
            .local_addr()
            .map_err(|e| LegError::WebRtc(e.to_string()))?;
        let socket = Arc::new(socket);
        let peer = Arc::new(Mutex::new(Peer::of(remote)));
        let task = tokio::spawn(receive(socket.clone(), peer.clone(), shared.clone()));
        // Nothing to set up: the leg carries audio at once.
        shared.set_state(RTCPeerConnectionState::Connected);
        Ok(PlainIo {
            held: Default::default(),
            socket,
            peer,
            local,
            shared,
            task,
        })
    }

    pub(super) fn local(&self) -> SocketAddr {
        self.local
    }

    /// The party holds us, or no longer does.
    pub(super) fn set_held(&self, held: bool) {
        self.held.store(held, std::sync::atomic::Ordering::Relaxed);
    }

    pub(super) fn held(&self) -> bool {
        self.held.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The party's SDP answer arrived: from now on its host is heard and sent to.
    pub(super) fn set_remote(&self, remote: SocketAddr) {
        *crate::context::lock(&self.peer) = Peer::of(Some(remote));
    }

    pub(super) async fn write(&self, packet: rtp::Packet) -> Result<(), LegError> {
        let bytes = packet
            .marshal()
            .map_err(|e| LegError::WebRtc(e.to_string()))?;
        let Some(to) = crate::context::lock(&self.peer).to else {
            // Nowhere to send yet (our offer is not answered).
            return Ok(());
        };
        if self.held() {
            // It holds us: it wants nothing from us (RFC 3264 §8.4).
            return Ok(());
        }
        self.socket
            .send_to(&bytes, to)
            .await
            .map_err(|e| LegError::WebRtc(format!("RTP to {to}: {e}")))?;
        self.shared.sent();
        Ok(())
    }

    pub(super) fn close(&self) {
        self.task.abort();
        self.shared.set_state(RTCPeerConnectionState::Closed);
        self.shared.release();
    }
}

impl Drop for PlainIo {
    fn drop(&mut self) {
        self.close();
    }
}

/// Reads packets until the leg closes: RTP from the SDP's host is decoded (and latches the
/// port it comes from); anything else is dropped.
async fn receive(socket: Arc<UdpSocket>, peer: Arc<Mutex<Peer>>, shared: Arc<Shared>) {
    let mut receiving = Receiving::default();
    let mut buf = vec![0u8; 2048];
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buf).await else {
            return;
        };
        let host = crate::context::lock(&peer).host;
        if host != Some(from.ip()) || n < 12 {
            continue;
        }
        let Ok(packet) = rtp::Packet::unmarshal(&mut &buf[..n]) else {
            continue;
        };
        if packet.header.version != 2 {
            continue;
        }
        crate::context::lock(&peer).to = Some(from);
        receiving.packet(&shared, &packet.header, &packet.payload);
    }
}

/// The address an SDP's first audio stream is sent to: its `c=` (media level first) and its
/// `m=audio` port.
pub fn remote_of(sdp: &str) -> Option<SocketAddr> {
    let mut session_ip = None;
    let mut media_ip = None;
    let mut port = None;
    let mut in_audio = false;
    for line in sdp.lines().map(str::trim) {
        if let Some(m) = line.strip_prefix("m=") {
            if port.is_some() {
                break;
            }
            in_audio = m.starts_with("audio ");
            if in_audio {
                port = m.split_whitespace().nth(1)?.parse::<u16>().ok();
            }
        } else if let Some(c) = line.strip_prefix("c=") {
            let ip = c.split_whitespace().nth(2)?.split('/').next()?.parse().ok();
            if in_audio {
                media_ip = ip;
            } else if port.is_none() {
                session_ip = ip;
            }
        }
    }
    Some(SocketAddr::new(
        media_ip.or(session_ip)?,
        port.filter(|p| *p != 0)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::remote_of;

    #[test]
    fn the_remote_is_the_audio_streams_address_and_port() {
        let sdp = "v=0\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
        assert_eq!(remote_of(sdp), Some("192.0.2.1:4000".parse().unwrap()));
        let media_level =
            "c=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4 198.51.100.2\r\n";
        assert_eq!(
            remote_of(media_level),
            Some("198.51.100.2:4000".parse().unwrap())
        );
        assert_eq!(
            remote_of("c=IN IP4 192.0.2.1\r\nm=audio 0 RTP/AVP 0\r\n"),
            None
        );
        assert_eq!(remote_of("m=audio 4000 RTP/AVP 0\r\n"), None, "no address");
        assert_eq!(
            remote_of("c=IN IP4 nowhere\r\nm=audio 4000 RTP/AVP 0\r\n"),
            None
        );
    }
}
