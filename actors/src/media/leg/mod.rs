//! A WebRTC audio leg (H1): one peer connection carrying one audio track each way, on the
//! configured host addresses (loopback by default) and STUN/TURN servers. The leg speaks Opus
//! and PCMU and sends the remote's first choice (see [`codec`](crate::media::codec)).
//! Received audio comes out decoded as 8 kHz PCM frames through a bounded channel; audio to
//! send goes in as 8 kHz PCM and is encoded and packetized here, on the same RTP stream as
//! RFC 4733 DTMF events (`audio/telephone-event`), so that sequence numbers and timestamps
//! stay one timeline.
//!
//! Two transports carry a leg, behind the same API:
//! - **the media threads** ([`threads`](crate::media::threads)): the leg is a state machine of
//!   webrtc-rs's sans-IO core (`rtc`) on a UDP socket of its own, driven with the other legs
//!   of its thread (a thread per core). This is the default, for legs whose addresses are all
//!   concrete (`127.0.0.1:0`, `10.0.0.5:0`, …) and no STUN/TURN server is configured: it costs
//!   about half the CPU per leg of the async layer.
//! - **the async layer** (`webrtc`'s `PeerConnection`: a task, a driver and channels per leg),
//!   which gathers server-reflexive and relay candidates from STUN/TURN servers and expands a
//!   wildcard address (`0.0.0.0:0`) into the machine's interfaces; used when the configuration
//!   asks for either.
//!
//! Either way the receiving side only hands packets on: it never blocks.

mod core;
mod plain;
mod stack;

use crate::config::MediaConfig;
use crate::context::{lock, read, write};
use crate::media::arrivals::Arrivals;
use crate::media::codec::{Codec, Decoder, Encoder, Negotiated, Payload};
use crate::media::dtmf;
use crate::media::resample::To16k;
pub use plain::{remote_of, RtpBind};
use rtc::rtp;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
pub use webrtc::peer_connection::RTCPeerConnectionState;
use webrtc::peer_connection::RTCSessionDescription;

/// The bridge's frame: 20 ms at 8 kHz.
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

fn not_webrtc() -> LegError {
    LegError::WebRtc("a plain RTP leg has no WebRTC offer or answer".into())
}

/// What a new leg is made of, before its transport.
struct Parts {
    shared: Arc<Shared>,
    state: watch::Receiver<RTCPeerConnectionState>,
    incoming: mpsc::Receiver<Vec<i16>>,
    events: mpsc::Receiver<[u8; 4]>,
}

impl Parts {
    fn new() -> Parts {
        let (state_tx, state) = watch::channel(RTCPeerConnectionState::New);
        let (incoming_tx, incoming) = mpsc::channel(256);
        let (events_tx, events) = mpsc::channel(64);
        let shared = Arc::new(Shared {
            negotiated: RwLock::new(None),
            sink: Mutex::new(Sink::Channel(incoming_tx)),
            tap: Mutex::new(None),
            events: events_tx,
            counters: Counters::default(),
            state: state_tx,
            released: watch::channel(false).0,
        });
        Parts {
            shared,
            state,
            incoming,
            events,
        }
    }
}

/// Where received frames go: the leg's own channel, or wherever [`Leg::redirect`] said.
enum Sink {
    Channel(mpsc::Sender<Vec<i16>>),
    Call(Box<dyn Fn(u16, Vec<i16>) + Send + Sync>),
}

/// Where the leg's received audio goes at 16 kHz, resampled from the codec's own rate
/// (wideband for Opus, upsampled for PCMU): the transcriber's fork, when one listens.
type Tap = Box<dyn Fn(Vec<i16>) + Send + Sync>;

/// A leg's packet counters, read by `GET /api/v1/calls/{id}/media`.
#[derive(Debug, Default)]
struct Counters {
    received: AtomicU64,
    sent: AtomicU64,
    lost: AtomicU64,
    late: AtomicU64,
    dtmf: AtomicU64,
}

/// What a leg's handle and its transport share: the negotiation, where received audio and
/// DTMF go, the counters and the connection's state.
pub(crate) struct Shared {
    negotiated: RwLock<Option<Negotiated>>,
    sink: Mutex<Sink>,
    tap: Mutex<Option<Tap>>,
    events: mpsc::Sender<[u8; 4]>,
    counters: Counters,
    state: watch::Sender<RTCPeerConnectionState>,
    /// The transport has let go of the leg's sockets.
    released: watch::Sender<bool>,
}

impl Shared {
    fn negotiated(&self) -> std::sync::RwLockReadGuard<'_, Option<Negotiated>> {
        read(&self.negotiated)
    }

    /// Notes the connection's state.
    pub(crate) fn set_state(&self, state: RTCPeerConnectionState) {
        self.state.send_replace(state);
    }

    /// Notes that the transport has let go of the leg's sockets.
    pub(crate) fn release(&self) {
        self.released.send_replace(true);
    }

    /// Counts a packet sent.
    pub(crate) fn sent(&self) {
        self.counters.sent.fetch_add(1, Ordering::Relaxed);
    }
}

/// The receiving side of a leg: counts what arrives, decodes audio to 8 kHz frames for the
/// sink and passes telephone events on.
#[derive(Default)]
pub(crate) struct Receiving {
    arrivals: Arrivals,
    decoder: Decoder,
    payloads: Option<HashMap<u8, Payload>>,
    /// The tap's resampler and the rate it converts from.
    to16k: Option<(u32, To16k)>,
    /// The RTP timestamp of the last telephone event counted as ended (its end packet
    /// comes three times).
    last_event_end: Option<u32>,
}

impl Receiving {
    /// Takes one RTP packet received.
    pub(crate) fn packet(&mut self, shared: &Shared, h: &rtp::header::Header, payload: &[u8]) {
        let counters = &shared.counters;
        counters.received.fetch_add(1, Ordering::Relaxed);
        // The remote description is set before any packet can arrive.
        let map = self.payloads.get_or_insert_with(|| {
            shared
                .negotiated()
                .as_ref()
                .map(|n| n.receive.clone())
                .unwrap_or_default()
        });
        match map.get(&h.payload_type).copied() {
            Some(Payload::Audio(codec)) => {
                let a = &mut self.arrivals;
                let (lost, late) = (a.lost, a.late);
                let rate = codec.clock_rate();
                a.source(h.ssrc);
                a.packet(
                    Instant::now(),
                    h.sequence_number,
                    h.timestamp,
                    rate,
                    h.marker,
                );
                counters.lost.fetch_add(a.lost - lost, Ordering::Relaxed);
                counters.late.fetch_add(a.late - late, Ordering::Relaxed);
                if let Some(native) = self.decoder.decode_native(codec, payload) {
                    if let Some(tap) = &*lock(&shared.tap) {
                        // The codec's own audio: G.722's 16 kHz goes to the fork as it is.
                        let rate = codec.sample_rate();
                        let to16k = match &mut self.to16k {
                            Some((r, to16k)) if *r == rate => to16k,
                            slot => {
                                let to16k =
                                    To16k::new(rate).expect("8, 16 and 48 kHz are supported");
                                &mut slot.insert((rate, to16k)).1
                            }
                        };
                        tap(to16k.process(&native));
                    }
                    let frame = self.decoder.to_bridge(codec, native);
                    // A full consumer loses this frame rather than stall the transport.
                    match &*lock(&shared.sink) {
                        Sink::Channel(tx) => {
                            let _ = tx.try_send(frame);
                        }
                        Sink::Call(f) => f(h.sequence_number, frame),
                    }
                }
            }
            Some(Payload::Events(_)) => {
                if let Ok(p) = <[u8; 4]>::try_from(payload) {
                    // A digit is counted once, at its first end packet (RFC 4733 §2.5.1.4).
                    let ended = p[1] & 0x80 != 0;
                    if ended && self.last_event_end != Some(h.timestamp) {
                        self.last_event_end = Some(h.timestamp);
                        counters.dtmf.fetch_add(1, Ordering::Relaxed);
                    }
                    let _ = shared.events.try_send(p);
                }
            }
            None => {}
        }
    }
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
    /// DTMF digits the party sent as RFC 4733 telephone events.
    pub dtmf_received: u64,
}

/// The sending side's RTP timeline.
struct Outgoing {
    sequence: u16,
    timestamp: u32,
    last_sent: Option<Instant>,
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

/// The transport under a leg.
enum Io {
    Core(core::CoreIo),
    Stack(stack::StackIo),
    /// Plain RTP (a SIP trunk's leg).
    Plain(plain::PlainIo),
}

/// One audio leg.
pub struct Leg {
    io: Io,
    ssrc: u32,
    codecs: Vec<Codec>,
    shared: Arc<Shared>,
    out: Mutex<Outgoing>,
    events: Mutex<Option<mpsc::Receiver<[u8; 4]>>>,
    state: watch::Receiver<RTCPeerConnectionState>,
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

    /// A plain RTP leg (a SIP trunk's, H4) on a socket bound to `bind`, answering the remote
    /// SDP `remote_sdp`: PCMU or PCMA (the party's first choice), sent to the SDP's audio
    /// address (then to wherever the party's packets come from). Its own port is
    /// [`Leg::local_addr`], for the SDP answer. Without `remote_sdp` the leg is ours to offer:
    /// silent until [`Leg::set_remote`] gives the party's answer.
    pub async fn plain(
        bind: RtpBind,
        remote_sdp: Option<&str>,
    ) -> Result<(Leg, mpsc::Receiver<Vec<i16>>), LegError> {
        let remote = match remote_sdp {
            Some(sdp) => Some(
                plain::remote_of(sdp)
                    .ok_or_else(|| LegError::WebRtc("the SDP names no audio address".into()))?,
            ),
            None => None,
        };
        let codecs = [Codec::G722, Codec::Pcmu, Codec::Pcma];
        let parts = Parts::new();
        let ssrc = rand::random::<u32>();
        let io = plain::PlainIo::new(bind, remote, parts.shared.clone()).await?;
        let (leg, incoming) = Leg::assemble(Io::Plain(io), ssrc, &codecs, parts);
        if let Some(sdp) = remote_sdp {
            leg.negotiate(sdp)?;
        }
        Ok((leg, incoming))
    }

    /// A plain leg's party holds us (`held`), or no longer does: while it holds, nothing is
    /// sent to it and its silence does not count (see [`Leg::held_by_party`]).
    pub fn set_held_by_party(&self, held: bool) {
        if let Io::Plain(io) = &self.io {
            io.set_held(held);
        }
    }

    /// Whether the party holds us now (only a plain leg's can).
    pub fn held_by_party(&self) -> bool {
        matches!(&self.io, Io::Plain(io) if io.held())
    }

    /// A plain leg's party answered our offer with `sdp`: its codec is settled and its
    /// address heard and sent to from now on. Not for WebRTC legs (they answer, they never
    /// offer).
    pub fn set_remote(&self, sdp: &str) -> Result<(), LegError> {
        let Io::Plain(io) = &self.io else {
            return Err(LegError::WebRtc(
                "only a plain RTP leg takes an answer".into(),
            ));
        };
        let remote = plain::remote_of(sdp)
            .ok_or_else(|| LegError::WebRtc("the SDP names no audio address".into()))?;
        // The codec first: a packet heard once the address is set is decoded with it.
        self.negotiate(sdp)?;
        io.set_remote(remote);
        Ok(())
    }

    /// A new leg speaking only `codecs`, in this order of preference for its own offers.
    pub async fn with_codecs(
        config: &MediaConfig,
        codecs: &[Codec],
    ) -> Result<(Leg, mpsc::Receiver<Vec<i16>>), LegError> {
        let parts = Parts::new();
        let shared = parts.shared.clone();
        let (io, ssrc) = match core::addrs(config) {
            Some(addrs) => {
                let (io, ssrc) = core::CoreIo::new(&addrs, codecs, shared.clone())?;
                (Io::Core(io), ssrc)
            }
            None => {
                let ssrc = rand::random::<u32>();
                let io = stack::StackIo::new(config, codecs, ssrc, shared.clone()).await?;
                (Io::Stack(io), ssrc)
            }
        };
        Ok(Leg::assemble(io, ssrc, codecs, parts))
    }

    fn assemble(
        io: Io,
        ssrc: u32,
        codecs: &[Codec],
        parts: Parts,
    ) -> (Leg, mpsc::Receiver<Vec<i16>>) {
        let leg = Leg {
            io,
            ssrc,
            codecs: codecs.to_vec(),
            shared: parts.shared,
            out: Mutex::new(Outgoing {
                sequence: rand::random(),
                timestamp: rand::random(),
                last_sent: None,
                encoder: None,
                started: false,
            }),
            events: Mutex::new(Some(parts.events)),
            state: parts.state,
        };
        (leg, parts.incoming)
    }

    /// A plain RTP leg's own address (`None` for a WebRTC leg).
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        match &self.io {
            Io::Plain(io) => Some(io.local()),
            _ => None,
        }
    }

    /// Whether this is a plain RTP leg (a trunk's), not a WebRTC one.
    pub fn is_plain(&self) -> bool {
        matches!(self.io, Io::Plain(_))
    }

    /// Whether the leg runs on the media threads (rather than the async layer).
    pub fn on_media_threads(&self) -> bool {
        matches!(self.io, Io::Core(_))
    }

    /// Creates the offer (ICE candidates included: no trickle).
    pub async fn offer(&self) -> Result<RTCSessionDescription, LegError> {
        match &self.io {
            Io::Core(io) => io.offer().await,
            Io::Stack(io) => io.offer().await,
            Io::Plain(_) => Err(not_webrtc()),
        }
    }

    /// Answers a remote offer.
    pub async fn answer(
        &self,
        offer: RTCSessionDescription,
    ) -> Result<RTCSessionDescription, LegError> {
        self.negotiate(&offer.sdp)?;
        match &self.io {
            Io::Core(io) => io.answer(offer).await,
            Io::Stack(io) => io.answer(offer).await,
            Io::Plain(_) => Err(not_webrtc()),
        }
    }

    /// Takes the remote answer to this leg's offer.
    pub async fn accept(&self, answer: RTCSessionDescription) -> Result<(), LegError> {
        self.negotiate(&answer.sdp)?;
        match &self.io {
            Io::Core(io) => io.accept(answer).await,
            Io::Stack(io) => io.accept(answer).await,
            Io::Plain(_) => Err(not_webrtc()),
        }
    }

    /// Settles the codecs from the remote description.
    fn negotiate(&self, remote_sdp: &str) -> Result<(), LegError> {
        // A trunk leg sends the codec the SIP side's SDP names, by the same rule.
        let trunk: Vec<Codec>;
        let ours = if self.is_plain() {
            trunk = crate::media::codec::trunk_codec(remote_sdp)
                .into_iter()
                .collect();
            &trunk
        } else {
            &self.codecs
        };
        let n = Negotiated::from_remote_sdp(remote_sdp, ours).map_err(LegError::WebRtc)?;
        *write(&self.shared.negotiated) = Some(n);
        Ok(())
    }

    /// The codec to send with its payload type, and the telephone-event payload type.
    fn sending(&self) -> Result<((Codec, u8), Option<u8>), LegError> {
        self.shared
            .negotiated()
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
        match &self.io {
            Io::Core(io) => io.write(packet),
            Io::Stack(io) => io.write(packet).await,
            Io::Plain(io) => io.write(packet).await,
        }
    }

    /// Sends a 20 ms frame of 8 kHz PCM.
    pub async fn send(&self, pcm: &[i16]) -> Result<(), LegError> {
        let packet = {
            let ((codec, pt), _) = self.sending()?;
            let mut out = lock(&self.out);
            if out.encoder.as_ref().map(|(c, _)| *c) != Some(codec) {
                out.encoder = Some((codec, Encoder::new(codec).map_err(LegError::WebRtc)?));
            }
            // RTP timestamps count the codec's clock: 8 kHz for PCMU, 48 kHz for Opus.
            let per_sample = codec.clock_rate() / 8_000;
            // After a pause (nothing to send while held, say) the timestamp jumps by the time
            // that passed and the marker bit starts a new talkspurt (RFC 3551 §4.1), so the
            // receiver's timing stays true.
            let now = Instant::now();
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
            let start = lock(&self.out).timestamp;
            for (i, p) in payloads.iter().enumerate() {
                let packet = {
                    let mut out = lock(&self.out);
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
        lock(&self.events).take()
    }

    /// Hands every frame received from now on to `deliver`, with its RTP sequence number
    /// (called on the receiving side: it must not block) instead of the leg's channel, which
    /// then closes.
    pub fn redirect(&self, deliver: impl Fn(u16, Vec<i16>) + Send + Sync + 'static) {
        *lock(&self.shared.sink) = Sink::Call(Box::new(deliver));
    }

    /// Hands every frame received from now on to `deliver` as well, at 16 kHz resampled from
    /// the codec's own rate (48 kHz Opus keeps its band up to 8 kHz, G.722 is 16 kHz already;
    /// 8 kHz G.711 is upsampled):
    /// the transcriber's fork. Called on the receiving side: it must not block.
    pub fn tap_16k(&self, deliver: impl Fn(Vec<i16>) + Send + Sync + 'static) {
        *lock(&self.shared.tap) = Some(Box::new(deliver));
    }

    /// Stops [`Leg::tap_16k`].
    pub fn untap(&self) {
        *lock(&self.shared.tap) = None;
    }

    /// Whether the connection is up (audio sent before it is would be dropped by SRTP).
    pub fn is_connected(&self) -> bool {
        *self.state.borrow() == RTCPeerConnectionState::Connected
    }

    /// What the leg has carried so far.
    pub fn stats(&self) -> LegStats {
        let c = &self.shared.counters;
        LegStats {
            connected: self.is_connected(),
            packets_received: c.received.load(Ordering::Relaxed),
            packets_sent: c.sent.load(Ordering::Relaxed),
            packets_lost: c.lost.load(Ordering::Relaxed),
            packets_late: c.late.load(Ordering::Relaxed),
            codec: self.shared.negotiated().as_ref().map(|n| n.send.0),
            dtmf_received: c.dtmf.load(Ordering::Relaxed),
        }
    }

    /// Resolves once the leg's transport has let go of it (closed, failed or dropped). On the
    /// media threads every packet handed to the leg before is handled by then (its counters
    /// are final) and its sockets are closed. Taken before the leg is dropped, it tells when a
    /// dropped leg is gone.
    pub fn released(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut released = self.shared.released.subscribe();
        async move {
            // The sender gone (the leg with it) is released too.
            let _ = released.wait_for(|r| *r).await;
        }
    }

    /// Closes the connection.
    pub async fn close(&self) {
        match &self.io {
            Io::Core(io) => io.close(),
            Io::Stack(io) => io.close().await,
            Io::Plain(io) => io.close(),
        }
    }
}
