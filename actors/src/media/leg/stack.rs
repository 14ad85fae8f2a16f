//! A leg on `webrtc`'s async layer: used when STUN/TURN servers are configured (the layer
//! gathers server-reflexive and relay candidates) or an address is a wildcard (it expands it
//! into the machine's interfaces).

use super::{rtc_err, LegError, Receiving, Shared};
use crate::config::MediaConfig;
use crate::media::codec::Codec;
use crate::media::sansio::{audio_track, media_engine};
use rtc::peer_connection::configuration::{RTCConfigurationBuilder, RTCIceServer};
use rtc::rtp;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceGatheringState,
    RTCPeerConnectionState, RTCSessionDescription,
};

struct Handler {
    gathered: watch::Sender<bool>,
    shared: Arc<Shared>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.gathered.send(true);
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        self.shared.set_state(state);
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let shared = self.shared.clone();
        // The driver awaits this handler inline: the packets are taken on a task of their own.
        tokio::spawn(async move {
            let mut receiving = Receiving::default();
            while let Some(event) = track.poll().await {
                if let TrackRemoteEvent::OnRtpPacket(packet) = event {
                    receiving.packet(&shared, &packet.header, &packet.payload);
                }
            }
        });
    }
}

/// The async layer's connection and track.
pub(super) struct StackIo {
    pc: Arc<dyn PeerConnection>,
    track: Arc<TrackLocalStaticRTP>,
    gathered: watch::Receiver<bool>,
    shared: Arc<Shared>,
}

impl StackIo {
    pub(super) async fn new(
        config: &MediaConfig,
        codecs: &[Codec],
        ssrc: u32,
        shared: Arc<Shared>,
    ) -> Result<StackIo, LegError> {
        let (gathered_tx, gathered) = watch::channel(false);
        let handler = Handler {
            gathered: gathered_tx,
            shared: shared.clone(),
        };
        let ice_servers = config
            .ice_servers
            .iter()
            .map(|s| RTCIceServer {
                urls: s.urls.clone(),
                username: s.username.clone().unwrap_or_default(),
                credential: s.credential.clone().unwrap_or_default(),
            })
            .collect();
        let pc = PeerConnectionBuilder::new()
            .with_configuration(
                RTCConfigurationBuilder::new()
                    .with_ice_servers(ice_servers)
                    .build(),
            )
            .with_media_engine(media_engine(codecs, true)?)
            .with_handler(Arc::new(handler))
            .with_udp_addrs(config.udp_addrs.clone())
            .build()
            .await
            .map_err(rtc_err)?;
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);
        let track = Arc::new(TrackLocalStaticRTP::new(audio_track("switchyard", ssrc)));
        pc.add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
            .await
            .map_err(rtc_err)?;
        Ok(StackIo {
            pc,
            track,
            gathered,
            shared,
        })
    }

    async fn gathered_description(&self) -> Result<RTCSessionDescription, LegError> {
        let mut g = self.gathered.clone();
        tokio::time::timeout(Duration::from_secs(5), g.wait_for(|done| *done))
            .await
            .map_err(|_| LegError::Timeout("ICE gathering"))?
            .map_err(rtc_err)?;
        self.pc
            .local_description()
            .await
            .ok_or(LegError::Timeout("local description"))
    }

    pub(super) async fn offer(&self) -> Result<RTCSessionDescription, LegError> {
        let offer = self.pc.create_offer(None).await.map_err(rtc_err)?;
        self.pc
            .set_local_description(offer)
            .await
            .map_err(rtc_err)?;
        self.gathered_description().await
    }

    pub(super) async fn answer(
        &self,
        offer: RTCSessionDescription,
    ) -> Result<RTCSessionDescription, LegError> {
        self.pc
            .set_remote_description(offer)
            .await
            .map_err(rtc_err)?;
        let answer = self.pc.create_answer(None).await.map_err(rtc_err)?;
        self.pc
            .set_local_description(answer)
            .await
            .map_err(rtc_err)?;
        self.gathered_description().await
    }

    pub(super) async fn accept(&self, answer: RTCSessionDescription) -> Result<(), LegError> {
        self.pc
            .set_remote_description(answer)
            .await
            .map_err(rtc_err)
    }

    pub(super) async fn write(&self, packet: rtp::Packet) -> Result<(), LegError> {
        // Real-time audio never waits long on one peer: a packet the stack cannot take
        // within 40 ms (a connection closing, a stalled driver) is dropped, not queued. The
        // common case, room in the driver's queue, is taken at once, without a timeout per
        // packet (creating and dropping one takes the timer driver's lock).
        let mut write = std::pin::pin!(self.track.write_rtp(packet));
        match futures::FutureExt::now_or_never(write.as_mut()) {
            Some(r) => r.map_err(rtc_err)?,
            None => tokio::time::timeout(Duration::from_millis(40), write)
                .await
                .map_err(|_| LegError::Timeout("sending a packet"))?
                .map_err(rtc_err)?,
        }
        self.shared.sent();
        Ok(())
    }

    pub(super) async fn close(&self) {
        let _ = self.pc.close().await;
        self.shared.release();
    }
}
