//! The media actor (H1–H3): one per call with media, spawned by the call actor at the first
//! WebRTC offer and supervised by it. It owns the call's legs (customer, owner, consulted
//! colleague, conference third), answers each party's offer, and drives the call's audio
//! [`pump`] by the call's [`AudioPlan`], which the call actor sends after
//! every step: media obeys the call, it never decides anything about it.
//!
//! When the call ends, the call actor drains and stops its media actor before stopping
//! itself, so the recording is complete when the call is. If the media actor fails, the call
//! goes on without media and the parties' next offers start a fresh one; if the call actor
//! fails, ractor stops its media actor with it (the restarted call actor starts a new one at
//! the parties' next offers).

use crate::config::MediaConfig;
use crate::error::ActorError;
use crate::media::fork::{fork, ForkReceiver};
use crate::media::leg::{Leg, LegStats};
use crate::media::pump::{self, PumpCmd, RecordingFile};
use crate::media::tone::Music;
use crate::media::transcript::TranscriptHub;
use engine::call::{AudioPlan, Participant};
use engine::CallId;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, watch, Notify};
use webrtc::peer_connection::RTCSessionDescription;

/// Frames kept per fork subscriber before the oldest is dropped (10 s of 20 ms frames).
const FORK_FRAMES: usize = 500;

/// Messages to a media actor.
pub enum MediaMsg {
    /// A party's WebRTC offer; the answer comes back.
    Answer {
        /// Whose.
        who: Participant,
        /// The offer (boxed: session descriptions are large).
        offer: Box<RTCSessionDescription>,
        /// The answer, or why not.
        reply: RpcReplyPort<Result<RTCSessionDescription, ActorError>>,
    },
    /// The call took a step: who hears whom now, the queue it is in, and DTMF digits its
    /// owner just sent.
    Follow {
        /// The plan.
        plan: AudioPlan,
        /// The call's queue now (a blind transfer to a queue or an overflow moves it): its
        /// transcript mode says which legs are transcribed.
        queue: engine::QueueId,
        /// Digits to send to the customer (RFC 4733).
        dtmf: Option<String>,
    },
    /// A party's plain RTP leg (a SIP trunk's) for the remote SDP; the leg's own address
    /// comes back, for the SDP answer (or, without an SDP, for our offer).
    Plain {
        /// Whose.
        who: Participant,
        /// The party's SDP offer; none when we offer.
        sdp: Option<String>,
        /// The address the leg binds.
        bind: crate::media::leg::RtpBind,
        /// The leg's address, or why not.
        reply: RpcReplyPort<Result<std::net::SocketAddr, ActorError>>,
    },
    /// The party's answer to our offer, for its plain leg (see [`MediaMsg::Plain`]).
    PlainAnswer {
        /// Whose.
        who: Participant,
        /// The party's SDP answer.
        sdp: String,
        /// Done, or why not.
        reply: RpcReplyPort<Result<(), ActorError>>,
    },
    /// A plain leg's party holds us, or resumes (its re-INVITE's direction).
    PlainHeld {
        /// Whose.
        who: Participant,
        /// Held or not.
        held: bool,
    },
    /// Each leg's counters.
    Stats {
        /// Answer.
        reply: RpcReplyPort<Vec<(Participant, LegStats)>>,
    },
    /// Liveness: is the customer's leg still sending? (every second)
    Check,
    /// A leg's 16 kHz fork (for the transcriber; taken once per leg).
    TakeFork {
        /// Whose.
        who: Participant,
        /// Answer.
        reply: RpcReplyPort<Option<ForkReceiver>>,
    },
}

/// The call's media actors, by call: how the API and the transcriber reach them, and where
/// their settings live.
#[derive(Clone, Default)]
pub struct MediaRegistry {
    actors: Arc<Mutex<HashMap<CallId, ActorRef<MediaMsg>>>>,
    ended: Arc<Notify>,
    config: Arc<MediaConfig>,
    recordings: Option<Arc<PathBuf>>,
    /// Queues' hold music, read at start (8 kHz).
    music: Arc<HashMap<engine::QueueId, Arc<Vec<i16>>>>,
    /// Live transcription, when a model is configured.
    transcripts: Option<TranscriptHub>,
}

impl MediaRegistry {
    /// A registry whose legs use `config`, writing recordings into `recordings_dir` if given.
    pub fn new(config: MediaConfig, recordings_dir: Option<PathBuf>) -> Self {
        MediaRegistry {
            config: Arc::new(config),
            recordings: recordings_dir.map(Arc::new),
            ..Default::default()
        }
    }

    /// Reads each queue's hold-music file (16-bit mono WAV at 8, 16 or 48 kHz); a file that
    /// cannot be read is an error naming it, so a bad setup is refused at start.
    pub fn with_music(mut self, queues: &[crate::config::QueueConfig]) -> Result<Self, ActorError> {
        let mut music = HashMap::new();
        for q in queues {
            let Some(path) = &q.hold_music else { continue };
            let bad = |why: String| {
                ActorError::Media(format!(
                    "queue {}: hold music {}: {why}",
                    q.id,
                    path.display()
                ))
            };
            let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
            let (rate, samples) = crate::media::wav::read(&bytes)
                .ok_or_else(|| bad("not a 16-bit mono PCM WAV".into()))?;
            let mut to8k = crate::media::resample::Resampler::new(rate, 8_000)
                .map_err(|e| bad(e.to_string()))?;
            let samples = to8k.process(&samples);
            if samples.len() < 1_600 {
                return Err(bad("shorter than 0.2 s".into()));
            }
            music.insert(engine::QueueId::from(q.id.as_str()), Arc::new(samples));
        }
        self.music = Arc::new(music);
        Ok(self)
    }

    /// Transcribes legs with `hub` (each queue's setting says which).
    pub fn with_transcripts(mut self, hub: Option<TranscriptHub>) -> Self {
        self.transcripts = hub;
        self
    }

    /// The transcription service, if one runs.
    pub fn transcripts(&self) -> Option<&TranscriptHub> {
        self.transcripts.as_ref()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CallId, ActorRef<MediaMsg>>> {
        // A plain map: a poisoned lock still holds a usable registry.
        self.actors.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The call's media actor, if it has one.
    pub fn get(&self, call: &CallId) -> Option<ActorRef<MediaMsg>> {
        self.lock().get(call).cloned()
    }

    /// Every call's media actor now.
    pub(crate) fn all(&self) -> Vec<ActorRef<MediaMsg>> {
        self.lock().values().cloned().collect()
    }

    /// Where a call's recording is (or would be) written.
    pub fn recording_path(&self, call: &CallId) -> Option<PathBuf> {
        self.recordings
            .as_ref()
            .map(|d| d.join(format!("{call}.wav")))
    }

    /// Waits until the call has no media actor (it ended with the call).
    pub async fn ended(&self, call: &CallId) {
        loop {
            // Registered before the check, so an end between the check and the wait is seen.
            let notified = self.ended.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !self.lock().contains_key(call) {
                return;
            }
            notified.await;
        }
    }

    pub(crate) fn forget(&self, call: &CallId, actor: ractor::ActorId) {
        let mut all = self.lock();
        if all.get(call).is_some_and(|a| a.get_id() == actor) {
            all.remove(call);
        }
        drop(all);
        self.ended.notify_waiters();
    }

    fn opener(&self, call: &CallId) -> pump::OpenRecording {
        let path = self.recording_path(call);
        Box::new(move || open_recording(path?))
    }
}

fn open_recording(path: PathBuf) -> Option<RecordingFile> {
    let opened = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|_| std::fs::File::create(&path))
        .and_then(|f| crate::media::wav::Recorder::new(std::io::BufWriter::new(f), 8_000));
    match opened {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "cannot open the call recording");
            None
        }
    }
}

pub(crate) struct MediaActor {
    pub(crate) registry: MediaRegistry,
}

pub(crate) struct MediaArgs {
    pub(crate) call: CallId,
    pub(crate) queue: engine::QueueId,
    pub(crate) plan: AudioPlan,
    /// The call actor, told when the customer's leg falls silent.
    pub(crate) owner: ActorRef<crate::call_actor::CallMsg>,
}

/// How the customer's leg was last heard: its packet count, and since when it has not moved.
struct Heard {
    packets: u64,
    since: std::time::Instant,
    told: bool,
}

/// Who has a leg's fork (one subscriber per leg).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Tap {
    /// Taken through [`MediaMsg::TakeFork`].
    Taken,
    /// The live transcript, under this queue's settings.
    Transcript(engine::QueueId),
}

pub(crate) struct MediaState {
    call: CallId,
    /// The call's queue now.
    queue: engine::QueueId,
    registry: MediaRegistry,
    me: ractor::ActorId,
    legs: HashMap<Participant, Arc<Leg>>,
    /// Legs whose fork is taken, and by whom.
    taps: HashMap<Participant, Tap>,
    plan: Option<watch::Sender<AudioPlan>>,
    cmds: mpsc::UnboundedSender<PumpCmd>,
    pump: Option<tokio::task::JoinHandle<()>>,
    owner: ActorRef<crate::call_actor::CallMsg>,
    /// The customer's leg, watched for liveness (reset when the leg is replaced).
    heard: Option<Heard>,
    checks: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for MediaState {
    fn drop(&mut self) {
        // A failed or killed actor skips post_stop: its pump must not outlive it, nor its
        // entry in the registry.
        if let Some(p) = &self.pump {
            p.abort();
        }
        if let Some(c) = &self.checks {
            c.abort();
        }
        self.registry.forget(&self.call, self.me);
    }
}

impl MediaActor {
    fn check_present(st: &MediaState, who: &Participant) -> Result<(), ActorError> {
        let present = st
            .plan
            .as_ref()
            .is_some_and(|p| p.borrow().present.contains(who));
        if !present {
            return Err(ActorError::Media(format!(
                "{} is not on call {}",
                describe(who),
                st.call
            )));
        }
        Ok(())
    }

    /// A plain RTP leg for a trunk's party.
    async fn plain(
        &self,
        st: &mut MediaState,
        who: Participant,
        sdp: Option<&str>,
        bind: crate::media::leg::RtpBind,
    ) -> Result<std::net::SocketAddr, ActorError> {
        Self::check_present(st, &who)?;
        let (leg, _own_channel) = Leg::plain(bind, sdp)
            .await
            .map_err(|e| ActorError::Media(e.to_string()))?;
        let local = leg.local_addr().expect("a plain leg has its address");
        self.install(st, who, Arc::new(leg));
        Ok(local)
    }

    async fn answer(
        &self,
        st: &mut MediaState,
        who: Participant,
        offer: Box<RTCSessionDescription>,
    ) -> Result<RTCSessionDescription, ActorError> {
        Self::check_present(st, &who)?;
        let media = |e: crate::media::leg::LegError| ActorError::Media(e.to_string());
        let (leg, _own_channel) = Leg::with_config(&self.registry.config)
            .await
            .map_err(media)?;
        let answer = match leg.answer(*offer).await {
            Ok(a) => a,
            Err(e) => {
                leg.close().await;
                return Err(media(e));
            }
        };
        self.install(st, who, Arc::new(leg));
        Ok(answer)
    }

    /// Puts a party's new leg in the pump. A new offer from a party already connected
    /// replaces its leg (a reloaded panel); the pump closes the old one, and its fork, when it
    /// takes the new. The new leg is the same party's: its transcript goes on under the same
    /// name.
    fn install(&self, st: &mut MediaState, who: Participant, leg: Arc<Leg>) {
        st.legs.insert(who.clone(), leg.clone());
        st.taps.remove(&who);
        if who == Participant::Customer {
            st.heard = None;
        }
        let _ = st.cmds.send(PumpCmd::Add { who, leg });
        self.follow_transcripts(st);
    }

    /// Transcribes exactly the legs the call's queue covers now (the plan's
    /// [`AudioPlan::transcribed`], each labelled with its own party): a leg that came up or
    /// came under a covering queue gets a transcript of its own, and one whose queue changed
    /// or stopped covering it loses its fork, which ends its transcript after its last final.
    fn follow_transcripts(&self, st: &mut MediaState) {
        let (Some(hub), Some(plan)) = (&self.registry.transcripts, &st.plan) else {
            return;
        };
        let wanted = hub.transcribed(&st.queue, &plan.borrow());
        let mine = Tap::Transcript(st.queue.clone());
        for who in st.legs.keys() {
            match st.taps.get(who) {
                Some(Tap::Taken) => continue,
                Some(tap) if *tap == mine && wanted.contains(who) => continue,
                Some(_) => {
                    let _ = st.cmds.send(PumpCmd::Unfork(who.clone()));
                    st.taps.remove(who);
                }
                None => {}
            }
            if !wanted.contains(who) {
                continue;
            }
            st.taps.insert(who.clone(), mine.clone());
            let (tx, rx) = fork(FORK_FRAMES);
            let _ = st.cmds.send(PumpCmd::Fork {
                who: who.clone(),
                fork: tx,
            });
            hub.spawn_leg(
                st.call.clone(),
                st.queue.clone(),
                who.clone(),
                rx,
                plan.subscribe(),
            );
        }
    }

    /// A customer leg that has sent nothing for `media.customer_silence_secs` (never, or
    /// not since its last packet) is a customer who has gone: the call actor is told, once.
    fn check_customer(&self, st: &mut MediaState) {
        let Some(leg) = st.legs.get(&Participant::Customer) else {
            return;
        };
        let packets = leg.stats().packets_received;
        if leg.is_plain() && packets == 0 {
            // A trunk caller sends no RTP before the answer, whatever its wait; its silence
            // counts from its first packet.
            return;
        }
        let now = std::time::Instant::now();
        if leg.held_by_party() {
            // A caller who holds us may send nothing: silence counts again from its resume.
            st.heard = None;
            return;
        }
        let heard = st.heard.get_or_insert(Heard {
            packets,
            since: now,
            told: false,
        });
        if packets != heard.packets {
            heard.packets = packets;
            heard.since = now;
            return;
        }
        let silence = std::time::Duration::from_secs(self.registry.config.customer_silence_secs);
        if !heard.told && now.duration_since(heard.since) >= silence {
            heard.told = true;
            let lost = crate::call_actor::CallMsg::CustomerMediaLost { reason: "no_audio" };
            let _ = st.owner.cast(lost);
        }
    }

    /// Closes the legs of parties no longer on the call.
    fn drop_absent(&self, st: &mut MediaState, plan: &AudioPlan) {
        let gone: Vec<Participant> = st
            .legs
            .keys()
            .filter(|p| !plan.present.contains(p))
            .cloned()
            .collect();
        for who in gone {
            // The pump closes the leg once it no longer sends to it.
            let _ = st.cmds.send(PumpCmd::Remove(who.clone()));
            st.taps.remove(&who);
            st.legs.remove(&who);
        }
    }
}

fn describe(who: &Participant) -> String {
    match who {
        Participant::Customer => "the customer".to_owned(),
        Participant::Agent { agent } => format!("agent {agent}"),
        Participant::External => "the external party".to_owned(),
    }
}

impl Actor for MediaActor {
    type Msg = MediaMsg;
    type State = MediaState;
    type Arguments = MediaArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<MediaMsg>,
        args: MediaArgs,
    ) -> Result<MediaState, ActorProcessingErr> {
        let (plan_tx, plan_rx) = watch::channel(args.plan);
        let (cmds, cmds_rx) = mpsc::unbounded_channel();
        let music = Music::new(self.registry.music.get(&args.queue).cloned());
        let pump = pump::spawn(plan_rx, cmds_rx, self.registry.opener(&args.call), music);
        self.registry
            .lock()
            .insert(args.call.clone(), myself.clone());
        let checks = myself.send_interval(std::time::Duration::from_secs(1), || MediaMsg::Check);
        Ok(MediaState {
            owner: args.owner,
            heard: None,
            checks: Some(checks),
            call: args.call,
            queue: args.queue,
            registry: self.registry.clone(),
            me: myself.get_id(),
            legs: HashMap::new(),
            taps: HashMap::new(),
            plan: Some(plan_tx),
            cmds,
            pump: Some(pump),
        })
    }

    async fn post_stop(
        &self,
        myself: ActorRef<MediaMsg>,
        st: &mut MediaState,
    ) -> Result<(), ActorProcessingErr> {
        // Dropping the plan ends the pump, which completes the recording.
        st.plan = None;
        if let Some(p) = st.pump.take() {
            let _ = p.await;
        }
        for (_, leg) in st.legs.drain() {
            leg.close().await;
        }
        self.registry.forget(&st.call, myself.get_id());
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<MediaMsg>,
        msg: MediaMsg,
        st: &mut MediaState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            MediaMsg::Answer { who, offer, reply } => {
                let _ = reply.send(self.answer(st, who, offer).await);
            }
            MediaMsg::Plain {
                who,
                sdp,
                bind,
                reply,
            } => {
                let _ = reply.send(self.plain(st, who, sdp.as_deref(), bind).await);
            }
            MediaMsg::PlainHeld { who, held } => {
                if let Some(leg) = st.legs.get(&who) {
                    leg.set_held_by_party(held);
                }
            }
            MediaMsg::PlainAnswer { who, sdp, reply } => {
                let leg = st.legs.get(&who).ok_or_else(|| {
                    ActorError::Media(format!("{} has no leg on this call", describe(&who)))
                });
                let done = leg.and_then(|l| {
                    l.set_remote(&sdp)
                        .map_err(|e| ActorError::Media(e.to_string()))
                });
                let _ = reply.send(done);
            }
            MediaMsg::Follow { plan, queue, dtmf } => {
                self.drop_absent(st, &plan);
                if let Some(tx) = &st.plan {
                    let _ = tx.send(plan);
                }
                if queue != st.queue {
                    // Waiting in another queue now: that queue's hold music.
                    let music = Music::new(self.registry.music.get(&queue).cloned());
                    let _ = st.cmds.send(PumpCmd::Music(music));
                }
                st.queue = queue;
                self.follow_transcripts(st);
                if let (Some(digits), Some(leg)) = (dtmf, st.legs.get(&Participant::Customer)) {
                    let leg = leg.clone();
                    tokio::spawn(async move {
                        if let Err(e) = leg.send_dtmf(&digits).await {
                            tracing::warn!(error = %e, "DTMF not sent to the customer");
                        }
                    });
                }
            }
            MediaMsg::Check => self.check_customer(st),
            MediaMsg::Stats { reply } => {
                let stats = st
                    .legs
                    .iter()
                    .map(|(who, leg)| (who.clone(), leg.stats()))
                    .collect();
                let _ = reply.send(stats);
            }
            MediaMsg::TakeFork { who, reply } => {
                // Taken once per leg, and only for a leg that is up.
                let fresh = st.legs.contains_key(&who) && !st.taps.contains_key(&who);
                let taken = fresh.then(|| {
                    st.taps.insert(who.clone(), Tap::Taken);
                    let (tx, rx) = fork(FORK_FRAMES);
                    let _ = st.cmds.send(PumpCmd::Fork { who, fork: tx });
                    rx
                });
                let _ = reply.send(taken);
            }
        }
        Ok(())
    }
}
