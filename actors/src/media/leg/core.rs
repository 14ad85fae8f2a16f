//! A leg on the media threads: its connection is a state machine of webrtc-rs's sans-IO core
//! owned by one media thread, with a UDP socket per configured address; this handle reaches it
//! through the thread's command queue.

use super::{rtc_err, LegError, Shared};
use crate::config::MediaConfig;
use crate::media::codec::Codec;
use crate::media::sansio::{add_host, connection};
use crate::media::threads::{self, Cmd, NewLeg, Shard, MAX_SOCKETS};
use rtc::peer_connection::RTCPeerConnection;
use rtc::rtp;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use webrtc::peer_connection::RTCSessionDescription;

/// The addresses a leg on the media threads binds, when the configuration allows one: no
/// STUN/TURN server to gather from, and every address concrete (not a wildcard, not a name).
pub(super) fn addrs(config: &MediaConfig) -> Option<Vec<SocketAddr>> {
    if !config.ice_servers.is_empty()
        || config.udp_addrs.is_empty()
        || config.udp_addrs.len() > MAX_SOCKETS
    {
        return None;
    }
    config
        .udp_addrs
        .iter()
        .map(|a| {
            a.parse::<SocketAddr>()
                .ok()
                .filter(|a| !a.ip().is_unspecified())
        })
        .collect()
}

/// The handle of a leg on a media thread. Dropping it closes the leg.
pub(super) struct CoreIo {
    id: usize,
    shard: Shard,
    locals: Vec<SocketAddr>,
}

impl CoreIo {
    /// Binds the leg's sockets and hands its connection to a media thread; with the SSRC it
    /// sends under.
    pub(super) fn new(
        addrs: &[SocketAddr],
        codecs: &[Codec],
        shared: Arc<Shared>,
    ) -> Result<(CoreIo, u32), LegError> {
        let io_err = |e: std::io::Error| LegError::WebRtc(format!("binding a UDP socket: {e}"));
        let mut sockets = Vec::new();
        for addr in addrs {
            let socket = std::net::UdpSocket::bind(addr).map_err(io_err)?;
            socket.set_nonblocking(true).map_err(io_err)?;
            let local = socket.local_addr().map_err(io_err)?;
            sockets.push((socket, local));
        }
        let (pc, sender, ssrc) = connection(codecs, true, "switchyard")?;
        let locals = sockets.iter().map(|(_, l)| *l).collect();
        let (id, shard) = threads::place(NewLeg {
            pc,
            sender,
            sockets,
            shared,
        })?;
        Ok((CoreIo { id, shard, locals }, ssrc))
    }

    /// Runs `f` on the leg's connection, on its thread.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut RTCPeerConnection) -> Result<T, LegError> + Send + 'static,
    ) -> Result<T, LegError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.shard.push(Cmd::Run(
            self.id,
            Box::new(move |pc| {
                let _ = tx.send(f(pc));
            }),
        ));
        rx.await
            .map_err(|_| LegError::WebRtc("the leg is closed".into()))?
    }

    pub(super) async fn offer(&self) -> Result<RTCSessionDescription, LegError> {
        let locals = self.locals.clone();
        self.run(move |pc| {
            let offer = pc.create_offer(None).map_err(rtc_err)?;
            pc.set_local_description(Instant::now(), offer)
                .map_err(rtc_err)?;
            for local in locals {
                add_host(pc, local)?;
            }
            pc.local_description()
                .ok_or(LegError::Timeout("local description"))
        })
        .await
    }

    pub(super) async fn answer(
        &self,
        offer: RTCSessionDescription,
    ) -> Result<RTCSessionDescription, LegError> {
        let locals = self.locals.clone();
        self.run(move |pc| {
            pc.set_remote_description(Instant::now(), offer)
                .map_err(rtc_err)?;
            for local in locals {
                add_host(pc, local)?;
            }
            let answer = pc.create_answer(None).map_err(rtc_err)?;
            pc.set_local_description(Instant::now(), answer)
                .map_err(rtc_err)?;
            pc.local_description()
                .ok_or(LegError::Timeout("local description"))
        })
        .await
    }

    pub(super) async fn accept(&self, answer: RTCSessionDescription) -> Result<(), LegError> {
        self.run(move |pc| {
            pc.set_remote_description(Instant::now(), answer)
                .map_err(rtc_err)
        })
        .await
    }

    /// Queues a packet for the thread to send (it never waits: the bridge is not slowed by
    /// one leg).
    pub(super) fn write(&self, packet: rtp::Packet) -> Result<(), LegError> {
        self.shard.push(Cmd::Send(self.id, packet));
        Ok(())
    }

    pub(super) fn close(&self) {
        self.shard.push(Cmd::Close(self.id));
    }
}

impl Drop for CoreIo {
    fn drop(&mut self) {
        // Closing twice is harmless: the thread forgets a leg at its first close.
        self.close();
    }
}
