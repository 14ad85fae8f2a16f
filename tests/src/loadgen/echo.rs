//! The core echo (`loadgen media-echo --core`): the limit of webrtc-rs's sans-IO core itself,
//! beside the async layer's (`media-echo`). Each leg answers an offer on a UDP socket of its
//! own on loopback, as the server's legs do by default, and sends back every audio frame it
//! receives, decoded and encoded again, as the async echo does; but every leg is a plain state
//! machine driven by one thread (mio over all the sockets, a 1 ms tick for the connections'
//! timers) instead of a task, a driver loop and channels per connection, as the server's
//! media threads drive its legs (`actors::media::threads`). The thread lives as long as the
//! process (the command's); a leg whose connection closes or fails is dropped.

use actors::media::codec::{Codec, Decoder, Encoder};
use actors::media::sansio::{add_host, codec_of, connection, drain, flush, read};
use anyhow::{anyhow, Result};
use rtc::peer_connection::message::RTCMessage;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::RTCPeerConnection;
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::sansio::Protocol;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

const WAKE: mio::Token = mio::Token(usize::MAX);
const TICK: Duration = Duration::from_millis(1);

/// One echoing leg.
struct EchoLeg {
    pc: RTCPeerConnection,
    sender: RTCRtpSenderId,
    ssrc: u32,
    socket: mio::net::UdpSocket,
    local: SocketAddr,
    up: bool,
    /// It was up once: going down after that ends it.
    was_up: bool,
    decoder: Decoder,
    encoder: Option<(Codec, Encoder)>,
    next_timeout: Option<Instant>,
}

/// The echo's thread, fed new legs.
#[derive(Clone)]
pub struct CoreEcho {
    legs: mpsc::Sender<Box<EchoLeg>>,
    waker: Arc<mio::Waker>,
}

impl CoreEcho {
    /// Starts the thread.
    pub fn start() -> Result<CoreEcho> {
        let poll = mio::Poll::new()?;
        let waker = Arc::new(mio::Waker::new(poll.registry(), WAKE)?);
        let (legs, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("core-echo".into())
            .spawn(move || {
                if let Err(e) = run(poll, rx) {
                    tracing::error!(error = %e, "the core echo stopped");
                }
            })?;
        Ok(CoreEcho { legs, waker })
    }

    /// Answers `offer` with a new leg on its own socket on 127.0.0.1.
    pub fn answer(&self, offer: RTCSessionDescription) -> Result<RTCSessionDescription> {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
        socket.set_nonblocking(true)?;
        let local = socket.local_addr()?;
        let (mut pc, sender, ssrc) = connection(&[Codec::Pcmu, Codec::Opus], false, "core-echo")?;
        pc.set_remote_description(Instant::now(), offer)?;
        add_host(&mut pc, local)?;
        let answer = pc.create_answer(None)?;
        pc.set_local_description(Instant::now(), answer)?;
        let answer = pc
            .local_description()
            .ok_or_else(|| anyhow!("no local description"))?;
        self.legs
            .send(Box::new(EchoLeg {
                pc,
                sender,
                ssrc,
                socket: mio::net::UdpSocket::from_std(socket),
                local,
                up: false,
                was_up: false,
                decoder: Decoder::default(),
                encoder: None,
                next_timeout: Some(Instant::now()),
            }))
            .map_err(|_| anyhow!("the core echo stopped"))?;
        self.waker.wake()?;
        Ok(answer)
    }
}

/// `POST /echo` with an offer answers with a core leg.
pub fn app(echo: CoreEcho) -> axum::Router {
    use axum::routing::post;
    axum::Router::new().route(
        "/echo",
        post(
            move |axum::Json(offer): axum::Json<RTCSessionDescription>| async move {
                echo.answer(offer)
                    .map(axum::Json)
                    .map_err(|e| (axum::http::StatusCode::BAD_GATEWAY, e.to_string()))
            },
        ),
    )
}

fn run(mut poll: mio::Poll, new_legs: mpsc::Receiver<Box<EchoLeg>>) -> std::io::Result<()> {
    let mut events = mio::Events::with_capacity(1024);
    // A leg's token is its index; a dropped leg leaves its slot empty.
    let mut legs: Vec<Option<EchoLeg>> = Vec::new();
    let mut buf = vec![0u8; 2048];
    let mut next_tick = Instant::now();
    loop {
        let wait = next_tick.saturating_duration_since(Instant::now());
        if let Err(e) = poll.poll(&mut events, Some(wait)) {
            if e.kind() != ErrorKind::Interrupted {
                return Err(e);
            }
        }
        for event in events.iter() {
            if event.token() == WAKE {
                while let Ok(mut leg) = new_legs.try_recv() {
                    let token = mio::Token(legs.len());
                    poll.registry()
                        .register(&mut leg.socket, token, mio::Interest::READABLE)?;
                    after(&mut leg);
                    legs.push(Some(*leg));
                }
                continue;
            }
            let Some(Some(leg)) = legs.get_mut(event.token().0) else {
                continue;
            };
            let socket = &leg.socket;
            let (pc, local) = (&mut leg.pc, leg.local);
            let mut got = false;
            drain(socket, &mut buf, |from, d| {
                read(pc, local, from, d);
                got = true;
            });
            if got {
                after(leg);
            }
        }
        let now = Instant::now();
        if now >= next_tick {
            next_tick = if now - next_tick > 20 * TICK {
                now + TICK
            } else {
                next_tick + TICK
            };
            for slot in legs.iter_mut() {
                let Some(leg) = slot else { continue };
                if leg.next_timeout.is_some_and(|t| t <= now) {
                    let _ = leg.pc.handle_timeout(now);
                    after(leg);
                }
                if leg.was_up && !leg.up {
                    if let Some(mut gone) = slot.take() {
                        let _ = poll.registry().deregister(&mut gone.socket);
                    }
                }
            }
        }
    }
}

/// After an input: send what the leg has to send, and echo what it received.
fn after(leg: &mut EchoLeg) {
    flush(&mut leg.pc, &leg.socket, &mut leg.up);
    leg.was_up |= leg.up;
    let mut echoed = false;
    while let Some(message) = leg.pc.poll_read() {
        let RTCMessage::RtpPacket(_, mut packet) = message.message else {
            continue;
        };
        let Some(codec) = codec_of(packet.header.payload_type) else {
            continue;
        };
        let Some(pcm) = leg.decoder.decode(codec, &packet.payload) else {
            continue;
        };
        if leg.encoder.as_ref().map(|(c, _)| *c) != Some(codec) {
            let Ok(e) = Encoder::new(codec) else { continue };
            leg.encoder = Some((codec, e));
        }
        let Some(Ok(payload)) = leg.encoder.as_mut().map(|(_, e)| e.encode(&pcm)) else {
            continue;
        };
        packet.header.ssrc = leg.ssrc;
        packet.payload = payload.into();
        if let Some(mut sender) = leg.pc.rtp_sender(leg.sender) {
            echoed |= sender.write_rtp(Instant::now(), packet).is_ok();
        }
    }
    if echoed {
        flush(&mut leg.pc, &leg.socket, &mut leg.up);
    }
    leg.next_timeout = leg.pc.poll_timeout();
}
