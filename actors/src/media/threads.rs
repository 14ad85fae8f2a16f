//! The media threads: where the server's legs run by default (see [`leg`](crate::media::leg)).
//! A thread per core (at most four; `SWITCHYARD_MEDIA_THREADS` overrides), started on the first
//! leg and living as long as the process, each driving its share of the legs: a leg is a
//! state machine of webrtc-rs's sans-IO core (`rtc` 0.21) with a UDP socket of its own,
//! registered with the thread's mio poll.
//!
//! A thread wakes for three things: a datagram (handed to its leg's connection, whose audio
//! is then decoded and delivered to the leg's sink on this thread), a command from a leg's
//! handle (signalling run on the connection, a packet to send, a close), and the connections'
//! timers (ICE consent, DTLS retransmits, RTCP reports), run at most once a millisecond. A
//! handle only wakes its thread when the command queue was empty: a busy thread takes every
//! queued command at its next turn without a system call per packet.
//!
//! Compared with the async layer (a task, a driver loop and channels per connection, a socket
//! polled through tokio), a leg here costs about half the CPU: see the media benchmark in the
//! README.

use crate::media::leg::{LegError, Receiving, Shared};
use crate::media::sansio::{drain, read};
use rtc::peer_connection::event::RTCPeerConnectionEvent;
use rtc::peer_connection::message::RTCMessage;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::RTCPeerConnection;
use rtc::rtp;
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::sansio::Protocol;
use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::time::{Duration, Instant};

/// The most sockets (configured addresses) one leg binds.
pub const MAX_SOCKETS: usize = 8;
const SOCKET_BITS: u32 = 3;
const WAKE: mio::Token = mio::Token(usize::MAX);
/// Timers run at most this often.
const TIMER_STEP: Duration = Duration::from_millis(1);

/// A new leg for a thread: its connection, the sender of its audio track, its sockets with
/// their local addresses, and what it shares with its handle.
pub(crate) struct NewLeg {
    pub pc: RTCPeerConnection,
    pub sender: RTCRtpSenderId,
    pub sockets: Vec<(std::net::UdpSocket, SocketAddr)>,
    pub shared: Arc<Shared>,
}

/// What a leg's handle asks of its thread.
pub(crate) enum Cmd {
    /// Take a new leg.
    Add(usize, Box<NewLeg>),
    /// Run this on the leg's connection (signalling).
    Run(usize, Box<dyn FnOnce(&mut RTCPeerConnection) + Send>),
    /// Send a packet on the leg's audio track.
    Send(usize, rtp::Packet),
    /// Close the leg and forget it.
    Close(usize),
}

/// A thread's command queue.
#[derive(Clone)]
pub(crate) struct Shard {
    tx: mpsc::Sender<Cmd>,
    waker: Arc<mio::Waker>,
    /// Commands are queued that the thread has not taken yet (it has been woken for them).
    pending: Arc<AtomicBool>,
}

impl Shard {
    /// Queues a command, waking the thread if it had nothing queued.
    pub(crate) fn push(&self, cmd: Cmd) {
        if self.tx.send(cmd).is_ok() && !self.pending.swap(true, Ordering::AcqRel) {
            if let Err(e) = self.waker.wake() {
                tracing::error!(error = %e, "waking a media thread failed");
            }
        }
    }
}

struct Threads {
    shards: Vec<Shard>,
    next: AtomicUsize,
}

static THREADS: OnceLock<Result<Threads, String>> = OnceLock::new();
static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

/// How many media threads run: `SWITCHYARD_MEDIA_THREADS`, else one per core, at most four.
fn count() -> usize {
    std::env::var("SWITCHYARD_MEDIA_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(4)
        })
}

fn start() -> Result<Threads, String> {
    let mut shards = Vec::new();
    for i in 0..count() {
        let fail = |e: std::io::Error| format!("starting a media thread: {e}");
        let poll = mio::Poll::new().map_err(fail)?;
        let waker = Arc::new(mio::Waker::new(poll.registry(), WAKE).map_err(fail)?);
        let (tx, rx) = mpsc::channel();
        let pending = Arc::new(AtomicBool::new(false));
        let flag = pending.clone();
        std::thread::Builder::new()
            .name(format!("media-{i}"))
            .spawn(move || {
                if let Err(e) = Thread::new(poll, rx, flag).run() {
                    tracing::error!(error = %e, "a media thread stopped; its legs are gone");
                }
            })
            .map_err(fail)?;
        shards.push(Shard { tx, waker, pending });
    }
    Ok(Threads {
        shards,
        next: AtomicUsize::new(0),
    })
}

/// Hands a new leg to a media thread (in turn), starting the threads on first use: the leg's
/// id and its thread's queue.
pub(crate) fn place(leg: NewLeg) -> Result<(usize, Shard), LegError> {
    let threads = THREADS
        .get_or_init(start)
        .as_ref()
        .map_err(|e| LegError::WebRtc(e.clone()))?;
    let n = threads.next.fetch_add(1, Ordering::Relaxed) % threads.shards.len();
    let shard = threads.shards[n].clone();
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    shard.push(Cmd::Add(id, Box::new(leg)));
    Ok((id, shard))
}

/// A leg on its thread.
struct LegIo {
    pc: RTCPeerConnection,
    sender: RTCRtpSenderId,
    sockets: Vec<(mio::net::UdpSocket, SocketAddr)>,
    shared: Arc<Shared>,
    receiving: Receiving,
    next_timeout: Option<Instant>,
    /// Its connection failed or closed: the thread forgets it.
    done: bool,
}

impl LegIo {
    /// After an input: sends what the connection has to send, notes its state, delivers what
    /// it received, and reads its next timer.
    fn after(&mut self) {
        while let Some(out) = self.pc.poll_write() {
            let local = out.transport.local_addr;
            let socket = self
                .sockets
                .iter()
                .find(|(_, l)| *l == local)
                .or(self.sockets.first());
            if let Some((socket, _)) = socket {
                let _ = socket.send_to(&out.message, out.transport.peer_addr);
            }
        }
        while let Some(event) = self.pc.poll_event() {
            if let RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) = event {
                self.shared.set_state(state);
                self.done |= matches!(
                    state,
                    RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed
                );
            }
        }
        while let Some(message) = self.pc.poll_read() {
            if let RTCMessage::RtpPacket(_, packet) = message.message {
                self.receiving
                    .packet(&self.shared, &packet.header, &packet.payload);
            }
        }
        self.next_timeout = self.pc.poll_timeout();
    }
}

struct Thread {
    poll: mio::Poll,
    commands: mpsc::Receiver<Cmd>,
    pending: Arc<AtomicBool>,
    legs: HashMap<usize, LegIo>,
    /// When the timers next run.
    due: Option<Instant>,
    /// Not before this (a millisecond after they last ran).
    floor: Instant,
}

impl Thread {
    fn new(poll: mio::Poll, commands: mpsc::Receiver<Cmd>, pending: Arc<AtomicBool>) -> Thread {
        Thread {
            poll,
            commands,
            pending,
            legs: HashMap::new(),
            due: None,
            floor: Instant::now(),
        }
    }

    fn run(mut self) -> std::io::Result<()> {
        let mut events = mio::Events::with_capacity(1024);
        let mut buf = vec![0u8; 2048];
        loop {
            let wait = self
                .due
                .map(|d| d.saturating_duration_since(Instant::now()));
            if let Err(e) = self.poll.poll(&mut events, wait) {
                if e.kind() != ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            for event in events.iter() {
                if event.token() == WAKE {
                    // Cleared before the queue is read: a command queued after the read
                    // wakes the thread again.
                    self.pending.store(false, Ordering::Release);
                    while let Ok(cmd) = self.commands.try_recv() {
                        self.command(cmd);
                    }
                    continue;
                }
                let token = event.token().0;
                let (id, i) = (token >> SOCKET_BITS, token & (MAX_SOCKETS - 1));
                let Some(leg) = self.legs.get_mut(&id) else {
                    continue;
                };
                if let Some((socket, local)) = leg.sockets.get(i) {
                    let (pc, local) = (&mut leg.pc, *local);
                    drain(socket, &mut buf, |from, d| read(pc, local, from, d));
                }
                leg.after();
                self.schedule(id);
            }
            let now = Instant::now();
            if self.due.is_some_and(|d| d <= now) {
                self.timers(now);
            }
        }
    }

    /// Notes leg `id`'s next timer, or forgets the leg if it is done.
    fn schedule(&mut self, id: usize) {
        let Some(leg) = self.legs.get(&id) else {
            return;
        };
        if leg.done {
            self.forget(id);
            return;
        }
        if let Some(t) = leg.next_timeout {
            let t = t.max(self.floor);
            self.due = Some(self.due.map_or(t, |d| d.min(t)));
        }
    }

    /// Runs the timers that are due, then notes when the next one is.
    fn timers(&mut self, now: Instant) {
        self.floor = now + TIMER_STEP;
        self.due = None;
        let mut done = Vec::new();
        for (id, leg) in self.legs.iter_mut() {
            if leg.next_timeout.is_some_and(|t| t <= now) {
                let _ = leg.pc.handle_timeout(now);
                leg.after();
            }
            if leg.done {
                done.push(*id);
            } else if let Some(t) = leg.next_timeout {
                let t = t.max(self.floor);
                self.due = Some(self.due.map_or(t, |d| d.min(t)));
            }
        }
        for id in done {
            self.forget(id);
        }
    }

    fn command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Add(id, leg) => {
                let NewLeg {
                    pc,
                    sender,
                    sockets,
                    shared,
                } = *leg;
                let mut registered = Vec::new();
                for (i, (socket, local)) in sockets.into_iter().enumerate() {
                    let mut socket = mio::net::UdpSocket::from_std(socket);
                    let token = mio::Token((id << SOCKET_BITS) | i);
                    let registry = self.poll.registry();
                    if let Err(e) = registry.register(&mut socket, token, mio::Interest::READABLE) {
                        // This leg fails (its handle hears it is closed); the others go on.
                        tracing::error!(error = %e, "a media socket could not be polled");
                        for (s, _) in registered.iter_mut() {
                            let _ = registry.deregister(s);
                        }
                        shared.set_state(RTCPeerConnectionState::Failed);
                        return;
                    }
                    registered.push((socket, local));
                }
                let leg = LegIo {
                    pc,
                    sender,
                    sockets: registered,
                    shared,
                    receiving: Receiving::default(),
                    next_timeout: None,
                    done: false,
                };
                self.legs.insert(id, leg);
            }
            Cmd::Run(id, f) => {
                // A closed leg's closure is dropped: its caller hears the leg is closed.
                if let Some(leg) = self.legs.get_mut(&id) {
                    f(&mut leg.pc);
                    leg.after();
                    self.schedule(id);
                }
            }
            Cmd::Send(id, packet) => {
                if let Some(leg) = self.legs.get_mut(&id) {
                    if let Some(mut sender) = leg.pc.rtp_sender(leg.sender) {
                        if sender.write_rtp(Instant::now(), packet).is_ok() {
                            leg.shared.sent();
                        }
                    }
                    leg.after();
                    self.schedule(id);
                }
            }
            Cmd::Close(id) => {
                if let Some(leg) = self.legs.get_mut(&id) {
                    let _ = leg.pc.close();
                    leg.after();
                    leg.shared.set_state(RTCPeerConnectionState::Closed);
                    self.forget(id);
                }
            }
        }
    }

    fn forget(&mut self, id: usize) {
        if let Some(mut leg) = self.legs.remove(&id) {
            for (socket, _) in leg.sockets.iter_mut() {
                let _ = self.poll.registry().deregister(socket);
            }
        }
    }
}
