//! A WebRTC audio leg (H1): one peer connection carrying one audio track each way, on the
//! configured host addresses (loopback by default) and STUN/TURN servers. The leg speaks Opus
//! and PCMU and sends the remote's first choice (see [`codec`](crate::media::codec)).
//! Received audio comes out decoded as 8 kHz PCM frames through a bounded channel; audio to
//! send goes in as 8 kHz PCM and is encoded and packetized here, on the same RTP stream as
//! RFC 4733 DTMF events (`audio/telephone-event`), so that sequence numbers and timestamps
//! stay one timeline.
//!
//! The event handler only hands packets on (the driver awaits it inline; it must not block).

use crate::config::MediaConfig;
use crate::media::arrivals::Arrivals;
use crate::media::codec::{Codec, Decoder, Encoder, Negotiated, Payload};
use crate::media::dtmf;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_OPUS, MIME_TYPE_PCMU, MIME_TYPE_TELEPHONE_EVENT,
};
use rtc::peer_connection::configuration::{RTCConfigurationBuilder, RTCIceServer};
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, watch, Mutex};
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCIceGatheringState, RTCPeerConnectionState, RTCSessionDescription,
};

/// A codec as legs declare it in SDP, with the payload type they give it (Opus 111, PCMU its
/// static 0).
pub fn rtp_codec(codec: Codec) -> (RTCRtpCodec, u8) {
    let (mime, clock_rate, channels, fmtp, payload_type) = match codec {
        Codec::Opus => (MIME_TYPE_OPUS, 48_000, 2, "minptime=10;useinbandfec=1", 111),
        Codec::Pcmu => (MIME_TYPE_PCMU, 8_000, 0, "", 0),
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

/// The bridge's frame: 20 ms at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;

/// What a negotiation settled, shared by the sending side and the receiving task.
type Shared = Arc<RwLock<Option<Negotiated>>>;

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
    incoming: Arc<std::sync::Mutex<Sink>>,
    events: mpsc::Sender<[u8; 4]>,
    counters: Arc<Counters>,
    negotiated: Shared,
}

/// Where received frames go: the leg's own channel, or wherever [`Leg::redirect`] said.
enum Sink {
    Channel(mpsc::Sender<Vec<i16>>),
    Call(Box<dyn Fn(Vec<i16>) + Send + Sync>),
}

impl Sink {
    fn deliver(sink: &std::sync::Mutex<Sink>, frame: Vec<i16>) {
        // A full consumer loses this frame rather than stall the driver.
        match &*sink.lock().unwrap_or_else(|e| e.into_inner()) {
            Sink::Channel(tx) => {
                let _ = tx.try_send(frame);
            }
            Sink::Call(f) => f(frame),
        }
    }
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
    /// The codec sent, once negotiated.
    pub codec: Option<Codec>,
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
        let negotiated = self.negotiated.clone();
        tokio::spawn(async move {
            let mut arrivals = Arrivals::default();
            let mut decoder = Decoder::default();
            let mut payloads = None;
            while let Some(event) = track.poll().await {
                let TrackRemoteEvent::OnRtpPacket(packet) = event else {
                    continue;
                };
                counters.received.fetch_add(1, Ordering::Relaxed);
                // The remote description is set before any packet can arrive.
                let map = payloads.get_or_insert_with(|| {
                    read(&negotiated)
                        .as_ref()
                        .map(|n| n.receive.clone())
                        .unwrap_or_default()
                });
                let h = &packet.header;
                match map.get(&h.payload_type).copied() {
                    Some(Payload::Audio(codec)) => {
                        let (lost, late) = (arrivals.lost, arrivals.late);
                        let now = std::time::Instant::now();
                        let rate = codec.clock_rate();
                        arrivals.packet(now, h.sequence_number, h.timestamp, rate, h.marker);
                        counters
                            .lost
                            .fetch_add(arrivals.lost - lost, Ordering::Relaxed);
                        counters
                            .late
                            .fetch_add(arrivals.late - late, Ordering::Relaxed);
                        if let Some(frame) = decoder.decode(codec, &packet.payload) {
                            Sink::deliver(&incoming, frame);
                        }
                    }
                    Some(Payload::Events(_)) => {
                        if let Ok(p) = <[u8; 4]>::try_from(&packet.payload[..]) {
                            let _ = events.try_send(p);
                        }
                    }
                    None => {}
                }
            }
        });
    }
}

fn read(n: &Shared) -> std::sync::RwLockReadGuard<'_, Option<Negotiated>> {
    // Plain data: a poisoned lock still holds a usable value.
    n.read().unwrap_or_else(|e| e.into_inner())
}

/// The sending side's RTP timeline.
struct Outgoing {
    sequence: u16,
    timestamp: u32,
    last_sent: Option<std::time::Instant>,
    encoder: Option<(Codec, Encoder)>,
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
    ssrc: u32,
    codecs: Vec<Codec>,
    negotiated: Shared,
    sink: Arc<std::sync::Mutex<Sink>>,
    out: Mutex<Outgoing>,
    events: Mutex<Option<mpsc::Receiver<[u8; 4]>>>,
    gathered: watch::Receiver<bool>,
    state: watch::Receiver<RTCPeerConnectionState>,
    counters: Arc<Counters>,
}

impl Leg {
    /// A new leg bound to loopback, speaking Opus and PCMU (Opus preferred in its offers),
    /// with its channel of received 8 kHz frames.
    pub async fn new() -> Result<(Leg, mpsc::Receiver<Vec<i16>>), LegError> {
        Leg::with_config(&MediaConfig::default()).await
    }

    /// A new leg bound to the configured addresses, using the configured STUN/TURN servers,
    /// speaking Opus and PCMU.
    pub async fn with_config(
        config: &MediaConfig,
    ) -> Result<(Leg, mpsc::Receiver<Vec<i16>>), LegError> {
        Leg::with_codecs(config, &[Codec::Opus, Codec::Pcmu]).await
    }

    /// A new leg speaking only `codecs`, in this order of preference for its own offers.
    pub async fn with_codecs(
        config: &MediaConfig,
        codecs: &[Codec],
    ) -> Result<(Leg, mpsc::Receiver<Vec<i16>>), LegError> {
        let mut media = MediaEngine::default();
        let codec = |mime: &str, clock_rate, channels, fmtp: &str| RTCRtpCodec {
            mime_type: mime.to_owned(),
            clock_rate,
            channels,
            sdp_fmtp_line: fmtp.to_owned(),
            rtcp_feedback: vec![],
        };
        let mut register = |rtp_codec, payload_type| {
            media
                .register_codec(
                    RTCRtpCodecParameters {
                        rtp_codec,
                        payload_type,
                    },
                    RtpCodecKind::Audio,
                )
                .map_err(rtc_err)
        };
        for c in codecs {
            let (rtp_codec, payload_type) = rtp_codec(*c);
            register(rtp_codec, payload_type)?;
        }
        register(codec(MIME_TYPE_TELEPHONE_EVENT, 48_000, 0, "0-16"), 110)?;
        register(codec(MIME_TYPE_TELEPHONE_EVENT, 8_000, 0, "0-16"), 101)?;
        let negotiated: Shared = Arc::default();
        let (gathered_tx, gathered) = watch::channel(false);
        let (state_tx, state) = watch::channel(RTCPeerConnectionState::New);
        let (incoming_tx, incoming) = mpsc::channel(256);
        let sink = Arc::new(std::sync::Mutex::new(Sink::Channel(incoming_tx)));
        let counters = Arc::new(Counters::default());
        let (events_tx, events_rx) = mpsc::channel(64);
        let handler = Handler {
            gathered: gathered_tx,
            connected: state_tx,
            incoming: sink.clone(),
            events: events_tx,
            counters: counters.clone(),
            negotiated: negotiated.clone(),
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
        pc.add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
            .await
            .map_err(rtc_err)?;
        let leg = Leg {
            pc,
            track,
            ssrc,
            codecs: codecs.to_vec(),
            negotiated,
            sink,
            out: Mutex::new(Outgoing {
                sequence: rand::random(),
                timestamp: rand::random(),
                last_sent: None,
                encoder: None,
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
        self.negotiate(&offer.sdp)?;
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
        self.negotiate(&answer.sdp)?;
        self.pc
            .set_remote_description(answer)
            .await
            .map_err(rtc_err)
    }

    /// Settles the codecs from the remote description.
    fn negotiate(&self, remote_sdp: &str) -> Result<(), LegError> {
        let n = Negotiated::from_remote_sdp(remote_sdp, &self.codecs).map_err(LegError::WebRtc)?;
        *self.negotiated.write().unwrap_or_else(|e| e.into_inner()) = Some(n);
        Ok(())
    }

    /// The codec to send with its payload type, and the telephone-event payload type.
    fn sending(&self) -> Result<((Codec, u8), Option<u8>), LegError> {
        read(&self.negotiated)
            .as_ref()
            .map(|n| (n.send, n.events))
            .ok_or_else(|| LegError::WebRtc("no codec negotiated yet".into()))
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

    async fn write(&self, packet: rtp::Packet) -> Result<(), LegError> {
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
        self.counters.sent.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Sends a 20 ms frame of 8 kHz PCM.
    pub async fn send(&self, pcm: &[i16]) -> Result<(), LegError> {
        let packet = {
            let ((codec, pt), _) = self.sending()?;
            let mut out = self.out.lock().await;
            if out.encoder.as_ref().map(|(c, _)| *c) != Some(codec) {
                out.encoder = Some((codec, Encoder::new(codec).map_err(LegError::WebRtc)?));
            }
            // RTP timestamps count the codec's clock: 8 kHz for PCMU, 48 kHz for Opus.
            let per_sample = codec.clock_rate() / 8_000;
            // After a pause (nothing to send while held, say) the timestamp jumps by the time
            // that passed and the marker bit starts a new talkspurt (RFC 3551 §4.1), so the
            // receiver's timing stays true.
            let now = std::time::Instant::now();
            let paused = out.last_sent.map(|t| now.duration_since(t));
            let mut marker = !out.started;
            if let Some(gap) = paused.filter(|g| *g > Duration::from_millis(60)) {
                let frames = ((gap.as_micros() + 10_000) / 20_000) as u32;
                out.timestamp = out
                    .timestamp
                    .wrapping_add(frames.saturating_sub(1) * FRAME_SAMPLES as u32 * per_sample);
                marker = true;
            }
            let payload = match out.encoder.as_mut() {
                Some((_, e)) => e.encode(pcm).map_err(LegError::WebRtc)?,
                None => unreachable!("set above"),
            };
            let packet = out.packet(self.ssrc, pt, marker, payload);
            out.started = true;
            out.last_sent = Some(now);
            out.timestamp = out.timestamp.wrapping_add(pcm.len() as u32 * per_sample);
            packet
        };
        self.write(packet).await
    }

    /// Sends DTMF digits as RFC 4733 telephone events: each digit 100 ms (a packet every
    /// 20 ms, the end packet three times), 60 ms apart. Audio sent meanwhile stays on the
    /// same timeline. An unknown digit or a remote that did not negotiate telephone events is
    /// an error, before anything is sent.
    pub async fn send_dtmf(&self, digits: &str) -> Result<(), LegError> {
        let ((codec, _), events) = self.sending()?;
        let pt = events.ok_or_else(|| {
            LegError::WebRtc("the remote takes no telephone events at this rate".into())
        })?;
        let mut all = Vec::new();
        for d in digits.chars() {
            all.push(
                dtmf::digit_packets(d, 100, codec.clock_rate(), 20)
                    .ok_or_else(|| LegError::WebRtc(format!("{d:?} is not a DTMF digit")))?,
            );
        }
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

    /// Hands every frame received from now on to `deliver` (called on the receiving task: it
    /// must not block) instead of the leg's channel, which then closes.
    pub fn redirect(&self, deliver: impl Fn(Vec<i16>) + Send + Sync + 'static) {
        *self.sink.lock().unwrap_or_else(|e| e.into_inner()) = Sink::Call(Box::new(deliver));
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
            codec: read(&self.negotiated).as_ref().map(|n| n.send.0),
        }
    }

    /// Closes the connection.
    pub async fn close(&self) {
        let _ = self.pc.close().await;
    }
}
