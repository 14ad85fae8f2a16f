//! The load generator's peers: real WebRTC peers (ICE, DTLS-SRTP, RTP), built on the sans-IO
//! core of webrtc-rs (`rtc` 0.21) and driven by a thread per 400 peers (up to one per core,
//! at most 4), each with one UDP socket for its share of the peers. Datagrams are matched to
//! peers by the server's candidate addresses, or, from an address no candidate named (a server
//! behind NAT), by the peer's ICE user fragment in the server's connectivity checks.
//!
//! Test equipment must cost little beside the server it measures, which on a benchmark
//! machine shares its cores. A peer of the async `webrtc` layer is a task with a socket, a
//! driver loop and channels of its own; here every peer is a plain state machine, a socket's
//! datagrams are handed to the peer their source address belongs to (each server leg has its
//! own address, taken from the answer's candidates), and a 1 ms tick sends for the twentieth
//! of the peers whose 20 ms phase falls on it and runs the peers' timers (ICE consent, DTLS
//! retransmits: millisecond-grained). The audio is encoded once, before the
//! run; what peers receive is counted (packets, sequence gaps, lateness), not decoded.

use actors::media::arrivals::Arrivals;
use actors::media::codec::{Codec, Encoder};
use actors::media::leg::FRAME_SAMPLES;
use actors::media::sansio::{
    add_host, candidates, checked_ufrag, connection, drain, flush, ice_ufrag, read, rtp_codec,
};
use anyhow::{anyhow, Context as _, Result};
use bytes::Bytes;
use rtc::peer_connection::message::RTCMessage;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::RTCPeerConnection;
use rtc::rtp;
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::sansio::Protocol;
use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// The tick: sending phases and timers advance once a millisecond.
const TICK: Duration = Duration::from_millis(1);

/// The peers one thread drives: one thread does more with less CPU (a wake-up serves more
/// peers) until it nears a core of its own, at about 500 peers.
const PEERS_PER_THREAD: usize = 400;

/// A tick this much behind its time means the generator itself was held up (the machine
/// did not run it): its packets leave late, whatever the server does.
const LATE_TICK: Duration = Duration::from_millis(5);

/// The socket's buffers: a few hundred milliseconds of every peer's packets, so a thread the
/// machine descheduled for a while loses nothing.
const SOCKET_BUFFER: usize = 4 << 20;

/// What every peer has carried so far, summed.
#[derive(Debug, Default)]
pub struct Totals {
    pub sent: AtomicU64,
    pub received: AtomicU64,
    pub lost: AtomicU64,
    pub late: AtomicU64,
    /// Ticks run, and those more than [`LATE_TICK`] behind.
    pub ticks: AtomicU64,
    pub late_ticks: AtomicU64,
    /// Notified on every tick: whoever waits for the counts to reach something looks again.
    pub progress: tokio::sync::Notify,
}

/// A snapshot of [`Totals`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    pub sent: u64,
    pub received: u64,
    pub lost: u64,
    pub late: u64,
    pub ticks: u64,
    pub late_ticks: u64,
}

impl Totals {
    pub fn snapshot(&self) -> Counts {
        Counts {
            sent: self.sent.load(Ordering::Relaxed),
            received: self.received.load(Ordering::Relaxed),
            lost: self.lost.load(Ordering::Relaxed),
            late: self.late.load(Ordering::Relaxed),
            ticks: self.ticks.load(Ordering::Relaxed),
            late_ticks: self.late_ticks.load(Ordering::Relaxed),
        }
    }
}

/// A connection handed to the peers' thread once its remote description is set.
struct Joining {
    pc: RTCPeerConnection,
    sender: RTCRtpSenderId,
    ssrc: u32,
    remotes: Vec<SocketAddr>,
    /// The peer's own ICE user fragment: a server's connectivity check names it.
    ufrag: String,
    connected: tokio::sync::oneshot::Sender<()>,
}

enum Command {
    Add(Box<Joining>),
    /// The measurement starts: peers not up by now are closed and left out, and later ones
    /// refused.
    Seal,
    Stop,
}

/// The peers of one run.
pub struct Peers {
    shards: Vec<Shard>,
    next: AtomicU64,
    totals: Arc<Totals>,
    codec: Codec,
}

/// One thread with its socket and its share of the peers.
struct Shard {
    commands: mpsc::Sender<Command>,
    local: SocketAddr,
    thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Peers {
    /// Starts a thread for every [`PEERS_PER_THREAD`] of the `expected` peers (at most one per
    /// core, and 4), each with its socket bound on the address this machine reaches `server`
    /// from (`host:port`); every peer sends `audio` (8 kHz PCM) in a loop with `codec`. Peers
    /// are dealt to the threads in turn.
    pub fn start(server: &str, expected: usize, codec: Codec, audio: &[i16]) -> Result<Peers> {
        // IPv4 first: `localhost` may resolve to ::1 first while the server listens on IPv4.
        let mut addrs: Vec<SocketAddr> = server
            .to_socket_addrs()
            .with_context(|| format!("resolving {server}"))?
            .collect();
        addrs.sort_by_key(|a| !a.is_ipv4());
        let target = *addrs
            .first()
            .ok_or_else(|| anyhow!("{server}: no address"))?;
        let probe = UdpSocket::bind((unspecified(target), 0))?;
        probe.connect(target)?;
        let ip = probe.local_addr()?.ip();
        let media = Arc::new(Media::encode(codec, audio)?);
        let totals = Arc::new(Totals::default());
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        let threads = expected.div_ceil(PEERS_PER_THREAD).clamp(1, cores);
        let shards = (0..threads)
            .map(|k| Shard::start(k, SocketAddr::new(ip, 0), media.clone(), totals.clone()))
            .collect::<Result<Vec<_>>>()?;
        Ok(Peers {
            shards,
            next: AtomicU64::new(0),
            totals,
            codec,
        })
    }

    /// What the peers have carried so far.
    pub fn counts(&self) -> Counts {
        self.totals.snapshot()
    }

    /// Makes a peer's offer (its one host candidate included), hands it to `signal` (which
    /// returns the remote's answer), and waits until the connection is up.
    pub async fn connect<F, Fut, T>(&self, signal: F) -> Result<T>
    where
        F: FnOnce(RTCSessionDescription) -> Fut,
        Fut: std::future::Future<Output = Result<(RTCSessionDescription, T)>>,
    {
        let k = self.next.fetch_add(1, Ordering::Relaxed) as usize % self.shards.len();
        let shard = &self.shards[k];
        let (pc, sender, ssrc, offer) = shard.offer(self.codec)?;
        let offer_sdp = offer.sdp.clone();
        let (answer, out) = signal(offer).await?;
        // Without a reachable candidate (a server behind NAT), the server's own checks show
        // where it is.
        let remotes = candidates(&answer.sdp);
        let ufrag = ice_ufrag(&offer_sdp).ok_or_else(|| anyhow!("the offer has no ICE ufrag"))?;
        let connected = shard.join(pc, sender, ssrc, answer, remotes, ufrag)?;
        tokio::time::timeout(Duration::from_secs(20), connected)
            .await
            .map_err(|_| anyhow!("the connection did not come up in 20 s"))?
            .map_err(|_| {
                anyhow!("the peer was refused (the measurement had started) or its thread stopped")
            })?;
        Ok(out)
    }

    /// The measurement starts: peers not connected yet are closed and left out of the counts,
    /// and later ones refused.
    pub fn seal(&self) {
        for s in &self.shards {
            let _ = s.commands.send(Command::Seal);
        }
    }

    /// Closes every connection and waits for the threads to end (blocking: call it off the
    /// async runtime's workers).
    pub fn stop(&self) {
        for s in &self.shards {
            s.stop();
        }
    }
}

impl Shard {
    fn start(k: usize, bind: SocketAddr, media: Arc<Media>, totals: Arc<Totals>) -> Result<Shard> {
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(bind),
            socket2::Type::DGRAM,
            Some(socket2::Protocol::UDP),
        )?;
        // Best effort: the kernel caps both at its own maximum.
        let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
        let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
        socket.bind(&bind.into())?;
        socket.set_nonblocking(true)?;
        let socket = mio::net::UdpSocket::from_std(socket.into());
        let local = socket.local_addr()?;
        let (commands, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(format!("loadgen-peers{k}"))
            .spawn(move || {
                if let Err(e) = Driver::new(socket, local, media, totals).run(rx) {
                    tracing::error!(error = %e, "the load generator's peers stopped");
                }
            })?;
        Ok(Shard {
            commands,
            local,
            thread: std::sync::Mutex::new(Some(thread)),
        })
    }

    fn offer(
        &self,
        codec: Codec,
    ) -> Result<(
        RTCPeerConnection,
        RTCRtpSenderId,
        u32,
        RTCSessionDescription,
    )> {
        let (mut pc, sender, ssrc) = connection(&[codec], false, "loadgen")?;
        let offer = pc.create_offer(None)?;
        pc.set_local_description(Instant::now(), offer)?;
        add_host(&mut pc, self.local)?;
        let offer = pc
            .local_description()
            .ok_or_else(|| anyhow!("no local description"))?;
        Ok((pc, sender, ssrc, offer))
    }

    fn join(
        &self,
        mut pc: RTCPeerConnection,
        sender: RTCRtpSenderId,
        ssrc: u32,
        answer: RTCSessionDescription,
        remotes: Vec<SocketAddr>,
        ufrag: String,
    ) -> Result<tokio::sync::oneshot::Receiver<()>> {
        pc.set_remote_description(Instant::now(), answer)?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.commands
            .send(Command::Add(Box::new(Joining {
                pc,
                sender,
                ssrc,
                remotes,
                ufrag,
                connected: tx,
            })))
            .map_err(|_| anyhow!("the peers' thread stopped"))?;
        Ok(rx)
    }

    fn stop(&self) {
        let _ = self.commands.send(Command::Stop);
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

impl Drop for Peers {
    /// The threads close their peers and end on their own.
    fn drop(&mut self) {
        for s in &self.shards {
            let _ = s.commands.send(Command::Stop);
        }
    }
}

fn unspecified(target: SocketAddr) -> std::net::IpAddr {
    if target.is_ipv4() {
        std::net::Ipv4Addr::UNSPECIFIED.into()
    } else {
        std::net::Ipv6Addr::UNSPECIFIED.into()
    }
}

/// The audio every peer sends: encoded once, with its RTP numbers.
struct Media {
    frames: Vec<Bytes>,
    payload_type: u8,
    /// RTP clock ticks per frame.
    step: u32,
    clock_rate: u32,
}

impl Media {
    fn encode(codec: Codec, audio: &[i16]) -> Result<Media> {
        let mut encoder = Encoder::new(codec).map_err(|e| anyhow!(e))?;
        let frames = audio
            .chunks_exact(FRAME_SAMPLES)
            .map(|pcm| encoder.encode(pcm).map(Bytes::from))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow!(e))?;
        if frames.is_empty() {
            return Err(anyhow!("the audio is shorter than a frame"));
        }
        Ok(Media {
            frames,
            payload_type: rtp_codec(codec).1,
            step: FRAME_SAMPLES as u32 * codec.clock_rate() / 8_000,
            clock_rate: codec.clock_rate(),
        })
    }
}

/// One peer on the thread.
struct Peer {
    pc: RTCPeerConnection,
    sender: RTCRtpSenderId,
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
    frame: usize,
    started: bool,
    /// Until the connection is up: who waits for it.
    waiting: Option<tokio::sync::oneshot::Sender<()>>,
    up: bool,
    /// Closed before it counted: what it does no longer counts.
    gone: bool,
    arrivals: Arrivals,
    next_timeout: Option<Instant>,
}

struct Driver {
    /// Shared with the reading loop, which hands datagrams to the driver as it drains.
    socket: Arc<mio::net::UdpSocket>,
    local: SocketAddr,
    media: Arc<Media>,
    totals: Arc<Totals>,
    peers: Vec<Peer>,
    by_remote: HashMap<SocketAddr, usize>,
    /// Peers by their ICE user fragment, for a remote not known by its address.
    by_ufrag: HashMap<String, usize>,
    /// Per 1 ms phase of the 20 ms frame, its peers.
    phases: Vec<Vec<usize>>,
}

impl Driver {
    fn new(
        socket: mio::net::UdpSocket,
        local: SocketAddr,
        media: Arc<Media>,
        totals: Arc<Totals>,
    ) -> Driver {
        Driver {
            socket: Arc::new(socket),
            local,
            media,
            totals,
            peers: Vec::new(),
            by_remote: HashMap::new(),
            by_ufrag: HashMap::new(),
            phases: vec![Vec::new(); 20],
        }
    }

    /// The loop: wait for datagrams until the next tick (epoll's timeout: a socket timeout
    /// would round up to the kernel's jiffies, several milliseconds), read them all, and on
    /// each tick take new peers, run due timers and send the phase's frames.
    fn run(mut self, commands: mpsc::Receiver<Command>) -> std::io::Result<()> {
        let mut poll = mio::Poll::new()?;
        let mut events = mio::Events::with_capacity(8);
        poll.registry().register(
            &mut mio::unix::SourceFd(&std::os::fd::AsRawFd::as_raw_fd(&*self.socket)),
            mio::Token(0),
            mio::Interest::READABLE,
        )?;
        let mut buf = vec![0u8; 2048];
        let mut next_tick = Instant::now();
        let mut ms = 0usize;
        let mut sealed = false;
        loop {
            let wait = next_tick.saturating_duration_since(Instant::now());
            if !wait.is_zero() {
                if let Err(e) = poll.poll(&mut events, Some(wait)) {
                    if e.kind() != ErrorKind::Interrupted {
                        return Err(e);
                    }
                }
            }
            let socket = self.socket.clone();
            drain(&socket, &mut buf, |from, d| {
                let known = self.by_remote.get(&from).copied();
                if let Some(i) = known.or_else(|| self.learn(from, d)) {
                    self.read(i, from, d);
                }
            });
            let now = Instant::now();
            if now < next_tick {
                continue;
            }
            let behind = now - next_tick;
            let t = &self.totals;
            // A thread held up for long starts its schedule afresh rather than catch up; the
            // ticks it skipped count as late.
            next_tick = if behind > 20 * TICK {
                let skipped = behind.as_millis() as u64;
                t.ticks.fetch_add(skipped + 1, Ordering::Relaxed);
                t.late_ticks.fetch_add(skipped + 1, Ordering::Relaxed);
                now + TICK
            } else {
                t.ticks.fetch_add(1, Ordering::Relaxed);
                if behind > LATE_TICK {
                    t.late_ticks.fetch_add(1, Ordering::Relaxed);
                }
                next_tick + TICK
            };
            t.progress.notify_waiters();
            loop {
                match commands.try_recv() {
                    Ok(Command::Add(j)) if sealed => drop(j),
                    Ok(Command::Add(j)) => self.add(*j, ms),
                    Ok(Command::Seal) => {
                        sealed = true;
                        self.seal();
                    }
                    Ok(Command::Stop) | Err(mpsc::TryRecvError::Disconnected) => {
                        self.close();
                        return Ok(());
                    }
                    Err(mpsc::TryRecvError::Empty) => break,
                }
            }
            for i in 0..self.peers.len() {
                if self.peers[i].next_timeout.is_some_and(|t| t <= now) {
                    let _ = self.peers[i].pc.handle_timeout(now);
                    self.after(i);
                }
            }
            for k in 0..self.phases[ms % 20].len() {
                let i = self.phases[ms % 20][k];
                if self.peers[i].up && !self.peers[i].gone {
                    self.send(i, now);
                    self.after(i);
                }
            }
            ms = ms.wrapping_add(1);
        }
    }

    fn add(&mut self, j: Joining, ms: usize) {
        let i = self.peers.len();
        for r in &j.remotes {
            self.by_remote.insert(*r, i);
        }
        self.by_ufrag.insert(j.ufrag.clone(), i);
        // A random phase: real callers do not speak in step.
        self.phases[(ms + rand::random::<usize>()) % 20].push(i);
        self.peers.push(Peer {
            pc: j.pc,
            sender: j.sender,
            ssrc: j.ssrc,
            sequence: rand::random(),
            timestamp: rand::random(),
            frame: 0,
            started: false,
            waiting: Some(j.connected),
            up: false,
            gone: false,
            arrivals: Arrivals::default(),
            next_timeout: Some(Instant::now()),
        });
        self.after(i);
    }

    /// A datagram from an unknown address: a server's connectivity check names the peer it is
    /// for (USERNAME is `<our ufrag>:<theirs>`), and the address is that peer's from now on.
    fn learn(&mut self, from: SocketAddr, datagram: &[u8]) -> Option<usize> {
        let ours = checked_ufrag(datagram)?;
        let i = *self.by_ufrag.get(&ours)?;
        self.by_remote.insert(from, i);
        Some(i)
    }

    fn read(&mut self, i: usize, from: SocketAddr, datagram: &[u8]) {
        read(&mut self.peers[i].pc, self.local, from, datagram);
        self.after(i);
    }

    fn send(&mut self, i: usize, now: Instant) {
        let media = &self.media;
        let p = &mut self.peers[i];
        let packet = rtp::Packet {
            header: rtp::header::Header {
                version: 2,
                marker: !p.started,
                payload_type: media.payload_type,
                sequence_number: p.sequence,
                timestamp: p.timestamp,
                ssrc: p.ssrc,
                ..Default::default()
            },
            payload: media.frames[p.frame].clone(),
        };
        p.sequence = p.sequence.wrapping_add(1);
        p.timestamp = p.timestamp.wrapping_add(media.step);
        p.frame = (p.frame + 1) % media.frames.len();
        p.started = true;
        if let Some(mut sender) = p.pc.rtp_sender(p.sender) {
            if sender.write_rtp(now, packet).is_ok() {
                self.totals.sent.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Everything a peer has to do after an input: send its datagrams, note its state, count
    /// what it received, and remember its next timer.
    fn after(&mut self, i: usize) {
        let p = &mut self.peers[i];
        if flush(&mut p.pc, &self.socket, &mut p.up) && p.up {
            if let Some(w) = p.waiting.take() {
                let _ = w.send(());
            }
        }
        while let Some(message) = p.pc.poll_read() {
            if p.gone {
                continue;
            }
            if let RTCMessage::RtpPacket(_, packet) = message.message {
                let h = &packet.header;
                let (lost, late) = (p.arrivals.lost, p.arrivals.late);
                p.arrivals.source(h.ssrc);
                p.arrivals.packet(
                    Instant::now(),
                    h.sequence_number,
                    h.timestamp,
                    self.media.clock_rate,
                    h.marker,
                );
                let t = &self.totals;
                t.received.fetch_add(1, Ordering::Relaxed);
                t.lost.fetch_add(p.arrivals.lost - lost, Ordering::Relaxed);
                t.late.fetch_add(p.arrivals.late - late, Ordering::Relaxed);
            }
        }
        p.next_timeout = p.pc.poll_timeout();
    }

    /// Closes the peers that are not up (their connect gave up, or will be too late).
    fn seal(&mut self) {
        for i in 0..self.peers.len() {
            if self.peers[i].waiting.is_some() {
                self.peers[i].gone = true;
                self.peers[i].waiting = None;
                let _ = self.peers[i].pc.close();
                self.after(i);
            }
        }
    }

    fn close(mut self) {
        for i in 0..self.peers.len() {
            let _ = self.peers[i].pc.close();
            self.after(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Waits (5 s at most) until the peers have sent and received `n` more packets than
    /// `before`, and returns the counts then.
    async fn carried(peers: &Peers, before: Counts, n: u64) -> Counts {
        let reached = async {
            loop {
                // Registered before the counts are read: a tick in between is not missed.
                let progress = peers.totals.progress.notified();
                tokio::pin!(progress);
                progress.as_mut().enable();
                let now = peers.counts();
                if now.sent - before.sent >= n && now.received - before.received >= n {
                    return now;
                }
                progress.await;
            }
        };
        match tokio::time::timeout(Duration::from_secs(5), reached).await {
            Ok(now) => now,
            Err(_) => panic!("{before:?} then {:?}", peers.counts()),
        }
    }

    async fn stop(peers: Arc<Peers>) {
        tokio::task::spawn_blocking(move || peers.stop())
            .await
            .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn peers_connected_before_the_seal_count_and_later_ones_are_refused() {
        let echo = super::super::CoreEcho::start().unwrap();
        let tone: Vec<i16> = (0..1600).map(|i| ((i % 16) * 1000) as i16).collect();
        let peers = Arc::new(Peers::start("127.0.0.1:9", 2, Codec::Pcmu, &tone).unwrap());
        let answer = |offer| {
            let echo = echo.clone();
            async move { Ok((echo.answer(offer)?, ())) }
        };
        peers.connect(answer).await.unwrap();
        peers.seal();
        let late = peers.connect(answer).await;
        assert!(late.is_err(), "a peer after the seal is refused");
        // One peer, 50 packets/s each way, echoed.
        let after = carried(&peers, peers.counts(), 15).await;
        assert_eq!(after.lost, 0, "{after:?}");
        stop(peers).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_server_behind_nat_is_found_by_its_connectivity_checks() {
        // The answer's candidates are dropped, as if the server's addresses were not
        // reachable: the peer learns the server's address from the server's own checks.
        let echo = super::super::CoreEcho::start().unwrap();
        let tone = vec![500i16; 1600];
        let peers = Arc::new(Peers::start("127.0.0.1:9", 1, Codec::Pcmu, &tone).unwrap());
        let echo2 = echo.clone();
        peers
            .connect(|offer| async move {
                let mut answer = echo2.answer(offer)?;
                answer.sdp = answer
                    .sdp
                    .lines()
                    .filter(|l| !l.starts_with("a=candidate:"))
                    .map(|l| format!("{l}\r\n"))
                    .collect();
                assert!(candidates(&answer.sdp).is_empty());
                Ok((answer, ()))
            })
            .await
            .unwrap();
        peers.seal();
        carried(&peers, peers.counts(), 15).await;
        stop(peers).await;
    }

    #[test]
    fn the_audio_is_encoded_once_into_frames() {
        let audio = vec![1000i16; FRAME_SAMPLES * 3 + 10];
        let m = Media::encode(Codec::Pcmu, &audio).unwrap();
        assert_eq!(m.frames.len(), 3);
        assert_eq!(m.frames[0].len(), FRAME_SAMPLES);
        assert_eq!((m.payload_type, m.step, m.clock_rate), (0, 160, 8_000));
        let o = Media::encode(Codec::Opus, &audio).unwrap();
        assert_eq!((o.payload_type, o.step, o.clock_rate), (111, 960, 48_000));
        assert!(Media::encode(Codec::Pcmu, &audio[..100]).is_err());
    }
}
