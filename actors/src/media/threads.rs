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
//! A panic while a leg's connection handles its input fails that leg alone; a thread that
//! stops (its poll failed) fails its legs, and new legs go to the other threads (or to new
//! ones, should none be left).
//!
//! Compared with the async layer (a task, a driver loop and channels per connection, a socket
//! polled through tokio), a leg here costs about half the CPU: see the media benchmark in the
//! README.

use crate::media::leg::{LegError, Receiving, Shared};
use crate::media::sansio::{drain_some, read};
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
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// The most sockets (configured addresses) one leg binds.
pub const MAX_SOCKETS: usize = 8;
const SOCKET_BITS: u32 = 3;
const WAKE: mio::Token = mio::Token(usize::MAX);
/// Timers run at most this often.
const TIMER_STEP: Duration = Duration::from_millis(1);
/// Datagrams read from one socket before the thread's other work gets a turn.
const READS_PER_TURN: usize = 64;

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
    /// The thread runs (it stops only on an error of its poll).
    alive: Arc<AtomicBool>,
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

/// The running threads' queues; started on the first leg, started again should they all
/// have stopped.
static THREADS: Mutex<Vec<Shard>> = Mutex::new(Vec::new());
static NEXT: AtomicUsize = AtomicUsize::new(0);
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

fn start() -> Result<Vec<Shard>, String> {
    let mut shards = Vec::new();
    for i in 0..count() {
        let fail = |e: std::io::Error| format!("starting a media thread: {e}");
        let poll = mio::Poll::new().map_err(fail)?;
        let waker = Arc::new(mio::Waker::new(poll.registry(), WAKE).map_err(fail)?);
        let (tx, rx) = mpsc::channel();
        let pending = Arc::new(AtomicBool::new(false));
        let alive = Arc::new(AtomicBool::new(true));
        let thread = Thread::new(poll, rx, pending.clone(), alive.clone());
        std::thread::Builder::new()
            .name(format!("media-{i}"))
            .spawn(move || {
                if let Err(e) = thread.run() {
                    tracing::error!(error = %e, "a media thread stopped; its legs failed");
                }
            })
            .map_err(fail)?;
        shards.push(Shard {
            tx,
            waker,
            pending,
            alive,
        });
    }
    Ok(shards)
}

/// Hands a new leg to a media thread (in turn), starting the threads on first use: the leg's
/// id and its thread's queue.
pub(crate) fn place(leg: NewLeg) -> Result<(usize, Shard), LegError> {
    let shard = {
        let mut shards = crate::context::lock(&THREADS);
        shards.retain(|s| s.alive.load(Ordering::Acquire));
        if shards.is_empty() {
            *shards = start().map_err(LegError::WebRtc)?;
        }
        shards[NEXT.fetch_add(1, Ordering::Relaxed) % shards.len()].clone()
    };
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
    /// Sends the datagrams the connection has, each from the socket it names.
    fn flush(&mut self) {
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
    }

    /// After an input: sends what the connection has to send, notes its state, delivers what
    /// it received, and reads its next timer.
    fn after(&mut self) {
        // A connection's events can leave datagrams queued deep inside it: on the selected
        // candidate pair, the DTLS client's first flight waits for the DTLS layer's next read,
        // write or timer. Running the timers at once sends it (early is harmless: every layer
        // checks its own deadlines), instead of a retransmit or a check later.
        for _ in 0..3 {
            self.flush();
            let mut evented = false;
            while let Some(event) = self.pc.poll_event() {
                evented = true;
                if let RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) = event {
                    self.shared.set_state(state);
                    self.done |= matches!(
                        state,
                        RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed
                    );
                }
            }
            if !evented {
                break;
            }
            let _ = self.pc.handle_timeout(Instant::now());
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

/// When the timers run next, given a leg's `next` timer: the sooner, but not before `floor`.
fn sooner(due: Option<Instant>, next: Option<Instant>, floor: Instant) -> Option<Instant> {
    match (due, next.map(|t| t.max(floor))) {
        (Some(d), Some(t)) => Some(d.min(t)),
        (d, t) => d.or(t),
    }
}

/// Runs `work` on a leg: a panic in it (the stack meeting input it did not expect) fails
/// that leg alone, not the thread's others.
fn guarded(leg: &mut LegIo, work: impl FnOnce(&mut LegIo)) {
    if catch_unwind(AssertUnwindSafe(|| work(&mut *leg))).is_err() {
        tracing::error!("a media leg failed on a panic; its thread goes on");
        leg.shared.set_state(RTCPeerConnectionState::Failed);
        leg.done = true;
    }
}

struct Thread {
    poll: mio::Poll,
    commands: mpsc::Receiver<Cmd>,
    pending: Arc<AtomicBool>,
    alive: Arc<AtomicBool>,
    legs: HashMap<usize, LegIo>,
    /// Sockets left readable after their turn (tokens).
    more: Vec<usize>,
    /// When the timers next run.
    due: Option<Instant>,
    /// Not before this (a millisecond after they last ran).
    floor: Instant,
}

impl Drop for Thread {
    fn drop(&mut self) {
        // However the thread ends, its legs' handles hear that they failed, and no new leg
        // is placed here.
        self.alive.store(false, Ordering::Release);
        for (_, leg) in self.legs.drain() {
            let shared = leg.shared.clone();
            drop(leg);
            shared.set_state(RTCPeerConnectionState::Failed);
            shared.release();
        }
    }
}

impl Thread {
    fn new(
        poll: mio::Poll,
        commands: mpsc::Receiver<Cmd>,
        pending: Arc<AtomicBool>,
        alive: Arc<AtomicBool>,
    ) -> Thread {
        Thread {
            poll,
            commands,
            pending,
            alive,
            legs: HashMap::new(),
            more: Vec::new(),
            due: None,
            floor: Instant::now(),
        }
    }

    fn run(mut self) -> std::io::Result<()> {
        let mut events = mio::Events::with_capacity(1024);
        let mut buf = vec![0u8; 2048];
        loop {
            let wait = if self.more.is_empty() {
                self.due
                    .map(|d| d.saturating_duration_since(Instant::now()))
            } else {
                Some(Duration::ZERO)
            };
            if let Err(e) = self.poll.poll(&mut events, wait) {
                if e.kind() != ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            for token in std::mem::take(&mut self.more) {
                self.readable(token, &mut buf);
            }
            for event in events.iter() {
                if event.token() == WAKE {
                    // Cleared before the queue is read: a command queued after the read
                    // wakes the thread again.
                    self.pending.swap(false, Ordering::AcqRel);
                    while let Ok(cmd) = self.commands.try_recv() {
                        self.command(cmd);
                    }
                } else {
                    self.readable(event.token().0, &mut buf);
                }
            }
            let now = Instant::now();
            if self.due.is_some_and(|d| d <= now) {
                self.timers(now);
            }
        }
    }

    /// Reads a socket's datagrams into its leg (a turn's worth: a flooded socket does not
    /// starve the others).
    fn readable(&mut self, token: usize, buf: &mut [u8]) {
        let (id, i) = (token >> SOCKET_BITS, token & (MAX_SOCKETS - 1));
        let Some(leg) = self.legs.get_mut(&id) else {
            return;
        };
        let mut more = false;
        guarded(leg, |leg| {
            if let Some((socket, local)) = leg.sockets.get(i) {
                let (pc, local) = (&mut leg.pc, *local);
                more = drain_some(socket, buf, READS_PER_TURN, |from, d| {
                    read(pc, local, from, d)
                });
            }
            leg.after();
        });
        if more {
            self.more.push(token);
        }
        self.schedule(id);
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
        self.due = sooner(self.due, leg.next_timeout, self.floor);
    }

    /// Runs the timers that are due, then notes when the next one is.
    fn timers(&mut self, now: Instant) {
        self.floor = now + TIMER_STEP;
        self.due = None;
        let mut done = Vec::new();
        for (id, leg) in self.legs.iter_mut() {
            if leg.next_timeout.is_some_and(|t| t <= now) {
                guarded(leg, |leg| {
                    let _ = leg.pc.handle_timeout(now);
                    leg.after();
                });
            }
            if leg.done {
                done.push(*id);
            } else {
                self.due = sooner(self.due, leg.next_timeout, self.floor);
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
                    guarded(leg, |leg| {
                        f(&mut leg.pc);
                        leg.after();
                    });
                    self.schedule(id);
                }
            }
            Cmd::Send(id, packet) => {
                if let Some(leg) = self.legs.get_mut(&id) {
                    guarded(leg, |leg| {
                        if let Some(mut sender) = leg.pc.rtp_sender(leg.sender) {
                            if sender.write_rtp(Instant::now(), packet).is_ok() {
                                leg.shared.sent();
                            }
                        }
                        leg.after();
                    });
                    self.schedule(id);
                }
            }
            Cmd::Close(id) => {
                if let Some(leg) = self.legs.get_mut(&id) {
                    guarded(leg, |leg| {
                        let _ = leg.pc.close();
                        leg.after();
                    });
                    leg.shared.set_state(RTCPeerConnectionState::Closed);
                    self.forget(id);
                }
            }
        }
    }

    /// Drops a leg, its connection and its sockets; then its handle hears it is released.
    fn forget(&mut self, id: usize) {
        if let Some(mut leg) = self.legs.remove(&id) {
            for (socket, _) in leg.sockets.iter_mut() {
                let _ = self.poll.registry().deregister(socket);
            }
            let shared = leg.shared.clone();
            drop(leg);
            shared.release();
        }
    }
}
