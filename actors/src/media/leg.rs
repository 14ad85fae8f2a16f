//! A WebRTC audio leg (H1): one peer connection carrying one PCMU audio track each way, on
//! loopback host candidates. Received audio comes out decoded (8 kHz PCM frames) through a
//! bounded channel; audio to send goes in as PCM and is encoded here.
//!
//! The event handler only hands packets on (the driver awaits it inline; it must not block).

use crate::media::g711;
use rtc::media::Sample;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::MIME_TYPE_PCMU;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Mutex};
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCIceGatheringState, RTCPeerConnectionState, RTCSessionDescription,
};
use webrtc::rtp_transceiver::RtpSender;

/// PCMU at 8 kHz: 160 samples per 20 ms frame.
pub const FRAME_SAMPLES: usize = 160;

/// Why a leg failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LegError {
    /// The WebRTC stack refused.
    #[error("webrtc: {0}")]
    WebRtc(String),
    /// Signalling or connection did not complete in time.
    #[error("{0} did not complete in time")]
    Timeout(&'static str),
}

fn rtc_err(e: impl std::fmt::Display) -> LegError {
    LegError::WebRtc(e.to_string())
}

struct Handler {
    gathered: watch::Sender<bool>,
    connected: watch::Sender<RTCPeerConnectionState>,
    incoming: mpsc::Sender<Vec<i16>>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.gathered.send(true);
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.connected.send(state);
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let incoming = self.incoming.clone();
        tokio::spawn(async move {
            while let Some(event) = track.poll().await {
                if let TrackRemoteEvent::OnRtpPacket(packet) = event {
                    // A full consumer loses this frame rather than stall the driver.
                    let _ = incoming.try_send(g711::decode_frame(&packet.payload));
                }
            }
        });
    }
}

/// One audio leg.
pub struct Leg {
    pc: Arc<dyn PeerConnection>,
    track: Arc<TrackLocalStaticSample>,
    sender: Arc<dyn RtpSender>,
    ssrc: u32,
    payload_type: Mutex<Option<u8>>,
    gathered: watch::Receiver<bool>,
    state: watch::Receiver<RTCPeerConnectionState>,
}

impl Leg {
    /// A new leg bound to loopback, with its channel of received 8 kHz frames.
    pub async fn new() -> Result<(Leg, mpsc::Receiver<Vec<i16>>), LegError> {
        let mut media = MediaEngine::default();
        let pcmu = RTCRtpCodec {
            mime_type: MIME_TYPE_PCMU.to_owned(),
            clock_rate: 8_000,
            channels: 0,
            sdp_fmtp_line: String::new(),
            rtcp_feedback: vec![],
        };
        media
            .register_codec(
                RTCRtpCodecParameters {
                    rtp_codec: pcmu.clone(),
                    payload_type: 0,
                },
                RtpCodecKind::Audio,
            )
            .map_err(rtc_err)?;
        let (gathered_tx, gathered) = watch::channel(false);
        let (state_tx, state) = watch::channel(RTCPeerConnectionState::New);
        let (incoming_tx, incoming) = mpsc::channel(256);
        let handler = Handler {
            gathered: gathered_tx,
            connected: state_tx,
            incoming: incoming_tx,
        };
        let pc = PeerConnectionBuilder::new()
            .with_media_engine(media)
            .with_handler(Arc::new(handler))
            .with_udp_addrs(vec!["127.0.0.1:0".to_owned()])
            .build()
            .await
            .map_err(rtc_err)?;
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);
        let ssrc = rand::random::<u32>();
        let encoding = RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec: pcmu,
            ..Default::default()
        };
        let media_track = MediaStreamTrack::new(
            "switchyard".to_owned(),
            format!("audio-{ssrc}"),
            "audio".to_owned(),
            RtpCodecKind::Audio,
            vec![encoding],
        );
        let track =
            Arc::new(TrackLocalStaticSample::new(Instant::now(), media_track).map_err(rtc_err)?);
        let sender = pc
            .add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
            .await
            .map_err(rtc_err)?;
        let leg = Leg {
            pc,
            track,
            sender,
            ssrc,
            payload_type: Mutex::new(None),
            gathered,
            state,
        };
        Ok((leg, incoming))
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

    /// Creates the offer (ICE candidates included: no trickle).
    pub async fn offer(&self) -> Result<RTCSessionDescription, LegError> {
        let offer = self.pc.create_offer(None).await.map_err(rtc_err)?;
        self.pc
            .set_local_description(offer)
            .await
            .map_err(rtc_err)?;
        self.gathered_description().await
    }

    /// Answers a remote offer.
    pub async fn answer(
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

    /// Takes the remote answer to this leg's offer.
    pub async fn accept(&self, answer: RTCSessionDescription) -> Result<(), LegError> {
        self.pc
            .set_remote_description(answer)
            .await
            .map_err(rtc_err)
    }

    /// Waits until the connection is up.
    pub async fn connected(&self, within: Duration) -> Result<(), LegError> {
        let mut s = self.state.clone();
        tokio::time::timeout(
            within,
            s.wait_for(|st| *st == RTCPeerConnectionState::Connected),
        )
        .await
        .map_err(|_| LegError::Timeout("connection"))?
        .map_err(rtc_err)?;
        Ok(())
    }

    /// Sends a 20 ms frame of 8 kHz PCM.
    pub async fn send(&self, pcm: &[i16]) -> Result<(), LegError> {
        let pt = {
            let mut cached = self.payload_type.lock().await;
            match *cached {
                Some(pt) => pt,
                None => {
                    let params = self.sender.get_parameters().await.map_err(rtc_err)?;
                    let pt = params
                        .rtp_parameters
                        .codecs
                        .first()
                        .map(|c| c.payload_type)
                        .unwrap_or(0);
                    *cached = Some(pt);
                    pt
                }
            }
        };
        let sample = Sample {
            data: g711::encode_frame(pcm).into(),
            duration: Duration::from_millis(20),
            ..Sample::new(Instant::now())
        };
        self.track
            .sample_writer(self.ssrc, pt)
            .write_sample(&sample)
            .await
            .map_err(rtc_err)
    }

    /// Closes the connection.
    pub async fn close(&self) {
        let _ = self.pc.close().await;
    }
}
