//! A WebRTC audio leg (H1): one peer connection carrying one PCMU audio track each way, on
//! the configured host addresses (loopback by default) and STUN/TURN servers. Received audio
//! comes out decoded (8 kHz PCM frames) through a bounded channel; audio to send goes in as
//! PCM and is encoded and packetized here, on the same RTP stream as RFC 4733 DTMF events
//! (`audio/telephone-event`), so that sequence numbers and timestamps stay one timeline.
//!
//! The event handler only hands packets on (the driver awaits it inline; it must not block).

use crate::config::MediaConfig;
use crate::media::arrivals::Arrivals;
use crate::media::{dtmf, g711};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_PCMU, MIME_TYPE_TELEPHONE_EVENT,
};
use rtc::peer_connection::configuration::{RTCConfigurationBuilder, RTCIceServer};
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, Mutex};
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
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
    events: mpsc::Sender<[u8; 4]>,
    counters: Arc<Counters>,
}

/// A leg's packet counters, read by `GET /api/v1/calls/{id}/media`.
#[derive(Debug, Default)]
pub struct Counters {
    received: AtomicU64,
    sent: AtomicU64,
    lost: AtomicU64,
    late: AtomicU64,
}

/// What a leg has carried so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct LegStats {
    /// The peer connection is up.
    pub connected: bool,
    /// RTP packets received from the party.
    pub packets_received: u64,
    /// RTP packets sent to the party.
    pub packets_sent: u64,
    /// Audio packets missing from what the party sent (sequence gaps).
    pub packets_lost: u64,
    /// Audio packets from the party that arrived more than 10 ms later than their timestamp
    /// says (against the fastest packet).
    pub packets_late: u64,
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
        let events = self.events.clone();
        let counters = self.counters.clone();
        tokio::spawn(async move {
            let mut arrivals = Arrivals::default();
            while let Some(event) = track.poll().await {
                if let TrackRemoteEvent::OnRtpPacket(packet) = event {
                    counters.received.fetch_add(1, Ordering::Relaxed);
                    if packet.header.payload_type == 0 {
                        let h = &packet.header;
                        let (lost, late) = (arrivals.lost, arrivals.late);
                        arrivals.packet(
                            std::time::Instant::now(),
                            h.sequence_number,
                            h.timestamp,
                            8_000,
                        );
                        counters
                            .lost
                            .fetch_add(arrivals.lost - lost, Ordering::Relaxed);
                        counters
                            .late
                            .fetch_add(arrivals.late - late, Ordering::Relaxed);
                    }
                    // A full consumer loses this frame rather than stall the driver. PCMU has
                    // the static payload type 0; anything else on the stream is a telephone
                    // event (the only other codec offered).
                    if packet.header.payload_type == 0 {
                        let _ = incoming.try_send(g711::decode_frame(&packet.payload));
                    } else if let Ok(p) = <[u8; 4]>::try_from(&packet.payload[..]) {
                        let _ = events.try_send(p);
                    }
                }
            }
        });
    }
}

/// The sending side's RTP timeline.
struct Outgoing {
    sequence: u16,
    timestamp: u32,
    last_sent: Option<std::time::Instant>,
    payload_types: Option<(u8, Option<u8>)>,
    started: bool,
}

impl Outgoing {
    fn packet(&mut self, ssrc: u32, pt: u8, marker: bool, payload: Vec<u8>) -> rtp::Packet {
        let packet = rtp::Packet {
            header: rtp::header::Header {
                version: 2,
                marker,
                payload_type: pt,
                sequence_number: self.sequence,
                timestamp: self.timestamp,
                ssrc,
                ..Default::default()
            },
            payload: payload.into(),
        };
        self.sequence = self.sequence.wrapping_add(1);
        packet
    }
}

/// One audio leg.
pub struct Leg {
    pc: Arc<dyn PeerConnection>,
    track: Arc<TrackLocalStaticRTP>,
    sender: Arc<dyn RtpSender>,
    ssrc: u32,
    out: Mutex<Outgoing>,
    events: Mutex<Option<mpsc::Receiver<[u8; 4]>>>,
    gathered: watch::Receiver<bool>,
    state: watch::Receiver<RTCPeerConnectionState>,
    counters: Arc<Counters>,
}

impl Leg {
    /// A new leg bound to loopback, with its channel of received 8 kHz frames.
    pub async fn new() -> Result<(Leg, mpsc::Receiver<Vec<i16>>), LegError> {
        Leg::with_config(&MediaConfig::default()).await
    }

    /// A new leg bound to the configured addresses, using the configured STUN/TURN servers.
    pub async fn with_config(
        config: &MediaConfig,
    ) -> Result<(Leg, mpsc::Receiver<Vec<i16>>), LegError> {
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
                    rtp_codec: pcmu,
                    payload_type: 0,
                },
                RtpCodecKind::Audio,
            )
            .map_err(rtc_err)?;
        media
            .register_codec(
                RTCRtpCodecParameters {
                    rtp_codec: RTCRtpCodec {
                        mime_type: MIME_TYPE_TELEPHONE_EVENT.to_owned(),
                        clock_rate: 8_000,
                        channels: 0,
                        sdp_fmtp_line: "0-16".to_owned(),
                        rtcp_feedback: vec![],
                    },
                    payload_type: 101,
                },
                RtpCodecKind::Audio,
            )
            .map_err(rtc_err)?;
        let (gathered_tx, gathered) = watch::channel(false);
        let (state_tx, state) = watch::channel(RTCPeerConnectionState::New);
        let (incoming_tx, incoming) = mpsc::channel(256);
        let counters = Arc::new(Counters::default());
        let (events_tx, events_rx) = mpsc::channel(64);
        let handler = Handler {
            gathered: gathered_tx,
            connected: state_tx,
            incoming: incoming_tx,
            events: events_tx,
            counters: counters.clone(),
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
            .with_media_engine(media)
            .with_handler(Arc::new(handler))
            .with_udp_addrs(config.udp_addrs.clone())
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
            // No codec pinned on the track: the transceiver then offers every registered codec
            // (PCMU and telephone-event); packets carry their own payload type.
            ..Default::default()
        };
        let media_track = MediaStreamTrack::new(
            "switchyard".to_owned(),
            format!("audio-{ssrc}"),
            "audio".to_owned(),
            RtpCodecKind::Audio,
            vec![encoding],
        );
        let track = Arc::new(TrackLocalStaticRTP::new(media_track));
        let sender = pc
            .add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
            .await
            .map_err(rtc_err)?;
        let leg = Leg {
            pc,
            track,
            sender,
            ssrc,
            out: Mutex::new(Outgoing {
                sequence: rand::random(),
                timestamp: rand::random(),
                last_sent: None,
                payload_types: None,
                started: false,
            }),
            events: Mutex::new(Some(events_rx)),
            gathered,
            state,
            counters,
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

    /// The negotiated payload types: PCMU's and the telephone event's (if the remote takes
    /// DTMF events).
    async fn payload_types(&self, out: &mut Outgoing) -> Result<(u8, Option<u8>), LegError> {
        if let Some(known) = out.payload_types {
            return Ok(known);
        }
        let params = self.sender.get_parameters().await.map_err(rtc_err)?;
        let codecs = &params.rtp_parameters.codecs;
        let find = |mime: &str| {
            codecs
                .iter()
                .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(mime))
                .map(|c| c.payload_type)
        };
        let known = (
            find(MIME_TYPE_PCMU).unwrap_or(0),
            find(MIME_TYPE_TELEPHONE_EVENT),
        );
        out.payload_types = Some(known);
        Ok(known)
    }

    async fn write(&self, packet: rtp::Packet) -> Result<(), LegError> {
        self.track.write_rtp(packet).await.map_err(rtc_err)?;
        self.counters.sent.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Sends a 20 ms frame of 8 kHz PCM.
    pub async fn send(&self, pcm: &[i16]) -> Result<(), LegError> {
        let packet = {
            let mut out = self.out.lock().await;
            let (pt, _) = self.payload_types(&mut out).await?;
            // After a pause (nothing to send while held, say) the timestamp jumps by the time
            // that passed and the marker bit starts a new talkspurt (RFC 3551 §4.1), so the
            // receiver's timing stays true.
            let now = std::time::Instant::now();
            let paused = out.last_sent.map(|t| now.duration_since(t));
            let mut marker = !out.started;
            if let Some(gap) = paused.filter(|g| *g > Duration::from_millis(60)) {
                let frames = (gap.as_millis() / 20) as u32;
                out.timestamp = out
                    .timestamp
                    .wrapping_add(frames.saturating_sub(1) * FRAME_SAMPLES as u32);
                marker = true;
            }
            let packet = out.packet(self.ssrc, pt, marker, g711::encode_frame(pcm));
            out.started = true;
            out.last_sent = Some(now);
            out.timestamp = out.timestamp.wrapping_add(pcm.len() as u32);
            packet
        };
        self.write(packet).await
    }

    /// Sends DTMF digits as RFC 4733 telephone events: each digit 100 ms (a packet every
    /// 20 ms, the end packet three times), 60 ms apart. Audio sent meanwhile stays on the
    /// same timeline. An unknown digit or a remote that did not negotiate telephone events is
    /// an error, before anything is sent.
    pub async fn send_dtmf(&self, digits: &str) -> Result<(), LegError> {
        let mut all = Vec::new();
        for d in digits.chars() {
            all.push(
                dtmf::digit_packets(d, 100, 8_000, 20)
                    .ok_or_else(|| LegError::WebRtc(format!("{d:?} is not a DTMF digit")))?,
            );
        }
        let pt = {
            let mut out = self.out.lock().await;
            self.payload_types(&mut out).await?.1
        }
        .ok_or_else(|| LegError::WebRtc("the remote takes no telephone events".into()))?;
        for payloads in all {
            let start = self.out.lock().await.timestamp;
            for (i, p) in payloads.iter().enumerate() {
                let packet = {
                    let mut out = self.out.lock().await;
                    let mut packet = out.packet(self.ssrc, pt, i == 0, p.to_vec());
                    packet.header.timestamp = start;
                    packet
                };
                self.write(packet).await?;
                if i + 3 < payloads.len() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
        Ok(())
    }

    /// Takes the stream of RFC 4733 payloads received from the remote (once).
    pub async fn take_dtmf_events(&self) -> Option<mpsc::Receiver<[u8; 4]>> {
        self.events.lock().await.take()
    }

    /// Whether the connection is up (audio sent before it is would be dropped by SRTP).
    pub fn is_connected(&self) -> bool {
        *self.state.borrow() == RTCPeerConnectionState::Connected
    }

    /// What the leg has carried so far.
    pub fn stats(&self) -> LegStats {
        LegStats {
            connected: *self.state.borrow() == RTCPeerConnectionState::Connected,
            packets_received: self.counters.received.load(Ordering::Relaxed),
            packets_sent: self.counters.sent.load(Ordering::Relaxed),
            packets_lost: self.counters.lost.load(Ordering::Relaxed),
            packets_late: self.counters.late.load(Ordering::Relaxed),
        }
    }

    /// Closes the connection.
    pub async fn close(&self) {
        let _ = self.pc.close().await;
    }
}
