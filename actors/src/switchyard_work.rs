//! The part of [`Switchyard`] that works around calls rather than routing them: outbound
//! dialing with compliance, callbacks, scheduled calls, transactions and media signalling.

use super::{new_call_id, Switchyard};
use crate::agent_actor::AgentMsg;
use crate::call_actor::CallMsg;
use crate::context::ask;
use crate::error::ActorError;
use crate::media::actor::MediaMsg;
use crate::store::Txn;
use engine::call::Call;
use engine::schedule::{Schedule, ScheduleState};
use engine::{AgentId, CallId, QueueId, Timestamp};
use std::sync::Arc;

impl Switchyard {
    /// An agent dials out (E1) after the compliance checks (E2). `queue` may be left out when
    /// the agent has exactly one outbound queue.
    pub async fn dial(
        &self,
        agent: &str,
        number: &str,
        queue: Option<&str>,
        pin: Option<&str>,
    ) -> Result<Arc<Call>, ActorError> {
        let agent_ref = self.agent_ref(agent)?;
        let outbound = self.ctx.config.outbound_queues(agent);
        let queue = match queue {
            Some(q) if outbound.iter().any(|o| o.id == q) => QueueId::from(q),
            Some(q) if self.ctx.config.queue(q).is_none() => {
                return Err(ActorError::UnknownQueue(q.to_owned()))
            }
            Some(q) => return Err(ActorError::NotOutbound(q.to_owned())),
            None => match outbound.as_slice() {
                [only] => QueueId::from(only.id.as_str()),
                [] => {
                    return Err(ActorError::NotOutbound(format!(
                        "any queue of agent {agent}"
                    )))
                }
                many => {
                    let names: Vec<&str> = many.iter().map(|q| q.id.as_str()).collect();
                    return Err(ActorError::QueueRequired(names.join(", ")));
                }
            },
        };
        let rules = self.compliance_rules(agent).await?;
        engine::compliance::check(&rules, number, pin)?;
        let call = Call::new_outbound(
            new_call_id(),
            self.now(),
            number.to_owned(),
            queue.clone(),
            agent.into(),
        );
        // C3: a second call only once the first is held.
        let current = ask(&agent_ref, "agent", |reply| AgentMsg::Get { reply })
            .await?
            .call_id;
        // Only the agent's own call, held by itself, may wait while it dials (a consulted
        // colleague's "current call" is someone else's held customer).
        let current_held = match current {
            Some(c) => self
                .call(c.as_str())
                .await
                .map(|c| c.held() && c.agent().is_some_and(|a| a.as_str() == agent))
                .unwrap_or(false),
            None => false,
        };
        let (id, q) = (call.id().clone(), queue);
        ask(&agent_ref, "agent", |reply| AgentMsg::Dial {
            call: id,
            queue: q,
            current_held,
            reply,
        })
        .await??;
        let call = Arc::new(call);
        if let Err(e) = self.ctx.store.save_call(&call, self.now().0).await {
            self.ctx.tell_agent(
                &AgentId::from(agent),
                AgentMsg::CallGone {
                    call: call.id().clone(),
                },
            );
            return Err(e.into());
        }
        self.spawn_call(Arc::clone(&call), None, None).await?;
        Ok(call)
    }

    /// The customer answered an outbound call or a callback (telephony ingress).
    pub async fn remote_answered(&self, call: &str) -> Result<Arc<Call>, ActorError> {
        self.to_call(call, |reply| CallMsg::RemoteAnswered { reply })
            .await
    }

    /// The customer's phone rings (telephony ingress: a trunk's provisional response).
    pub async fn remote_ringing(&self, call: &str) -> Result<Arc<Call>, ActorError> {
        self.to_call(call, |reply| CallMsg::RemoteRinging { reply })
            .await
    }

    /// The customer was not reached: busy, not answered or refused (telephony ingress).
    pub async fn remote_over(
        &self,
        call: &str,
        why: engine::call::Unreached,
    ) -> Result<Arc<Call>, ActorError> {
        self.to_call(call, |reply| CallMsg::RemoteOver { why, reply })
            .await
    }

    /// News of the external number the call's consult or blind transfer dials (telephony
    /// ingress: a trunk's responses).
    pub async fn external(
        &self,
        call: &str,
        news: crate::call_actor::ExternalNews,
    ) -> Result<Arc<Call>, ActorError> {
        self.to_call(call, |reply| CallMsg::External { news, reply })
            .await
    }

    /// A customer asks to be called back on `queue` (E4). Returns what became of the request
    /// and the call that stands for it (the queued one, the earlier one kept, or the missed
    /// call recorded for the missed-call flow).
    pub async fn request_callback(
        &self,
        number: &str,
        queue: &str,
        txn: Option<String>,
    ) -> Result<(engine::call::Admission, Arc<Call>), ActorError> {
        use engine::call::Admission;
        if !engine::call::is_e164(number) {
            return Err(engine::Error::InvalidNumber(number.to_owned()).into());
        }
        let conf = self
            .ctx
            .config
            .queue(queue)
            .ok_or_else(|| ActorError::UnknownQueue(queue.to_owned()))?;
        // One request at a time: the limit and the duplicate rule read the open callbacks.
        let _serial = self.callbacks.lock().await;
        let open: Vec<Call> = self
            .ctx
            .store
            .open_calls()
            .await?
            .into_iter()
            .filter(|c| c.queue().as_str() == queue)
            .collect();
        let admission = engine::call::admit(&open, number, conf.callback_max_concurrent);
        let now = self.now();
        let call = match &admission {
            Admission::Duplicate(id) => {
                return self.call(id.as_str()).await.map(|c| (admission.clone(), c))
            }
            Admission::MissedCallFlow => {
                let reason = format!(
                    "{} callbacks already open on queue {queue}",
                    conf.callback_max_concurrent
                );
                let mut call = Call::missed_callback(
                    new_call_id(),
                    now,
                    number.to_owned(),
                    queue.into(),
                    reason,
                );
                call.link(txn);
                let call = Arc::new(call);
                self.ctx.store.save_call(&call, now.0).await?;
                self.ctx.bus.publish_journey(&call, 0);
                call
            }
            Admission::Queue => {
                let mut call =
                    Call::new_callback(new_call_id(), now, number.to_owned(), queue.into());
                call.link(txn);
                let call = Arc::new(call);
                self.ctx.store.save_call(&call, now.0).await?;
                self.spawn_call(Arc::clone(&call), None, None).await?;
                call
            }
        };
        Ok((admission, call))
    }

    async fn compliance_rules(&self, agent: &str) -> Result<engine::compliance::Rules, ActorError> {
        let store = &self.ctx.store;
        Ok(engine::compliance::Rules {
            dnc: store.compliance_list("dnc", "").await?,
            block: store.compliance_list("block", "").await?,
            allow: store.compliance_list("allow", "").await?,
            countries: store.compliance_list("countries", "").await?,
            personal: store.compliance_list("personal", agent).await?,
            restricted: self.ctx.config.compliance.restricted.clone(),
            pin: self.ctx.config.compliance.pin.clone(),
        })
    }

    /// A compliance list's entries (`owner`: the agent, for `personal`).
    pub async fn compliance_list(
        &self,
        list: engine::compliance::List,
        owner: &str,
    ) -> Result<Vec<String>, ActorError> {
        Ok(self.ctx.store.compliance_list(list.as_str(), owner).await?)
    }

    /// Adds an entry, checked for its form.
    pub async fn compliance_add(
        &self,
        list: engine::compliance::List,
        owner: &str,
        value: &str,
    ) -> Result<(), ActorError> {
        list.validate(value)?;
        Ok(self
            .ctx
            .store
            .compliance_add(list.as_str(), owner, value, self.now().0)
            .await?)
    }

    /// Removes an entry; unknown entries are reported.
    pub async fn compliance_remove(
        &self,
        list: engine::compliance::List,
        owner: &str,
        value: &str,
    ) -> Result<(), ActorError> {
        if !self
            .ctx
            .store
            .compliance_list(list.as_str(), owner)
            .await?
            .iter()
            .any(|v| v == value)
        {
            return Err(ActorError::NotListed(value.to_owned()));
        }
        Ok(self
            .ctx
            .store
            .compliance_remove(list.as_str(), owner, value)
            .await?)
    }

    /// Schedules a call to `number` on `queue` at `at` (E5), after the compliance checks
    /// (with the scheduling agent's personal list, if an agent schedules it).
    pub async fn schedule(
        &self,
        number: &str,
        queue: &str,
        at: Timestamp,
        by: Option<&str>,
    ) -> Result<Schedule, ActorError> {
        if self.ctx.queue(&QueueId::from(queue)).is_none() {
            return Err(ActorError::UnknownQueue(queue.to_owned()));
        }
        let rules = self.compliance_rules(by.unwrap_or("")).await?;
        engine::compliance::check(&rules, number, None)?;
        let schedule = Schedule {
            id: format!("s{}", &new_call_id().as_str()[1..]),
            number: number.to_owned(),
            queue: queue.into(),
            at,
            by: by.map(AgentId::from),
            state: ScheduleState::Pending,
        };
        self.ctx.store.save_schedule(&schedule).await?;
        if let Some(s) = self.scheduler.get() {
            let _ = s.cast(crate::scheduler::SchedulerMsg::Add(schedule.clone()));
        }
        Ok(schedule)
    }

    /// Every schedule, earliest first.
    pub async fn schedules(&self) -> Result<Vec<Schedule>, ActorError> {
        Ok(self.ctx.store.schedules(false).await?)
    }

    /// Fires a due schedule: a callback in its queue, linked to the schedule.
    pub(crate) async fn fire_schedule(&self, s: &Schedule) -> Result<(), ActorError> {
        let now = self.now();
        // The lists may have changed since the call was scheduled: check again.
        let rules = self
            .compliance_rules(s.by.as_ref().map_or("", |a| a.as_str()))
            .await?;
        if let Err(refusal) = engine::compliance::check(&rules, &s.number, None) {
            let mut refused = s.clone();
            refused.state = ScheduleState::Refused {
                reason: refusal.code().to_owned(),
            };
            return Ok(self.ctx.store.save_schedule(&refused).await?);
        }
        // The call's id comes from the schedule's: if the process stopped between saving the
        // call and marking the schedule, firing again finds the call instead of making a
        // second one.
        let id = CallId::from(format!("c-{}", s.id));
        let existing = self.ctx.store.load_call(&id).await?;
        let call = match existing {
            Some(call) => Arc::new(call),
            None => {
                let mut call = Call::new_callback(id, now, s.number.clone(), s.queue.clone());
                call.link(Some(format!("schedule:{}", s.id)));
                let call = Arc::new(call);
                self.ctx.store.save_call(&call, now.0).await?;
                self.spawn_call(Arc::clone(&call), None, None).await?;
                call
            }
        };
        let mut fired = s.clone();
        fired.state = ScheduleState::Fired {
            call: call.id().clone(),
            at: now,
        };
        Ok(self.ctx.store.save_schedule(&fired).await?)
    }

    /// The engine's clock.
    #[cfg(test)]
    pub(crate) fn clock(&self) -> &crate::clock::Clock {
        &self.ctx.clock
    }

    /// The engine's actors' wake-ups (on its clock).
    pub(crate) fn wakeups(&self) -> &crate::timer::Wakeups {
        &self.ctx.wakeups
    }

    /// Records a chat transaction (F1) for a customer, so that calls can be linked to it.
    pub async fn create_chat(
        &self,
        customer: &str,
        subject: Option<String>,
        created_by: &str,
    ) -> Result<Txn, ActorError> {
        let txn = Txn {
            id: format!("t{}", &new_call_id().as_str()[1..]),
            kind: "chat".into(),
            customer: customer.to_owned(),
            created_at: self.now().0,
            status: "waiting".into(),
            subject,
            created_by: Some(created_by.to_owned()),
        };
        self.ctx.store.save_txn(&txn).await?;
        Ok(txn)
    }

    /// Whether a transaction (a call or a chat) exists.
    async fn txn_exists(&self, id: &str) -> Result<bool, ActorError> {
        Ok(self.ctx.store.txn(id).await?.is_some()
            || self.ctx.store.load_call(&CallId::from(id)).await?.is_some())
    }

    /// Links two transactions, calls or chats (F1).
    pub async fn link(&self, a: &str, b: &str) -> Result<(), ActorError> {
        for id in [a, b] {
            if !self.txn_exists(id).await? {
                return Err(ActorError::UnknownTxn(id.to_owned()));
            }
        }
        if a == b {
            return Err(ActorError::UnknownTxn(format!(
                "{a} (a transaction is not linked to itself)"
            )));
        }
        Ok(self.ctx.store.link(a, b, self.now().0).await?)
    }

    /// A transaction's related transactions: its links, and for a call the transaction it was
    /// made from.
    pub async fn related(&self, id: &str) -> Result<Vec<String>, ActorError> {
        if !self.txn_exists(id).await? {
            return Err(ActorError::UnknownTxn(id.to_owned()));
        }
        let mut out = self.ctx.store.links(id).await?;
        if let Some(call) = self.ctx.store.load_call(&CallId::from(id)).await? {
            out.extend(
                call.related()
                    .iter()
                    .filter(|r| !out.contains(r))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
        }
        Ok(out)
    }

    /// A chat transaction.
    pub async fn chat(&self, id: &str) -> Result<Option<Txn>, ActorError> {
        Ok(self.ctx.store.txn(id).await?)
    }

    /// A customer's chat transactions, oldest first.
    pub async fn customer_chats(&self, customer: &str) -> Result<Vec<Txn>, ActorError> {
        Ok(self.ctx.store.txns_of(customer).await?)
    }

    /// Answers a party's WebRTC offer for a live call (H1): the customer's leg, or the leg of
    /// an agent on the call (its owner, a consulted colleague, a conference's third party).
    /// The call actor starts the call's media actor at the first offer; audio then follows
    /// the call's steps.
    pub async fn media_answer(
        &self,
        call: &str,
        who: engine::call::Participant,
        offer: webrtc::peer_connection::RTCSessionDescription,
    ) -> Result<webrtc::peer_connection::RTCSessionDescription, ActorError> {
        self.to_call(call, |reply| CallMsg::Media {
            who,
            offer: Box::new(offer),
            reply,
        })
        .await
    }

    /// A trunk party's plain RTP leg for its SDP offer, bound on `bind`: the leg's address,
    /// for the SDP answer. The leg joins the call's audio like a WebRTC leg (hold music while
    /// it waits, the agent once answered, recording, transcripts). Without an offer (we call
    /// the party) the address is for our offer, and [`Switchyard::plain_answer`] completes it.
    pub async fn plain_media(
        &self,
        call: &str,
        who: engine::call::Participant,
        sdp: Option<String>,
        bind: crate::media::leg::RtpBind,
    ) -> Result<std::net::SocketAddr, ActorError> {
        self.to_call(call, |reply| CallMsg::PlainMedia {
            who,
            sdp,
            bind,
            reply,
        })
        .await
    }

    /// The party's SDP answer to our offer, for the plain leg [`Switchyard::plain_media`]
    /// made without one.
    pub async fn plain_answer(
        &self,
        call: &str,
        who: engine::call::Participant,
        sdp: String,
    ) -> Result<(), ActorError> {
        let m = self
            .ctx
            .media
            .get(&engine::CallId::from(call))
            .ok_or_else(|| ActorError::Media(format!("call {call} has no media")))?;
        ask(&m, "media", |reply| MediaMsg::PlainAnswer {
            who,
            sdp,
            reply,
        })
        .await?
    }

    /// The customer's side is gone without a hang-up (telephony ingress: its trunk's session
    /// timer ran out unrefreshed, `session_expired`): the call ends as the customer's hang-up,
    /// its journey saying why.
    pub fn customer_lost(&self, call: &str, reason: &'static str) {
        if let Some(r) = self.ctx.call(&CallId::from(call)) {
            let _ = r.cast(CallMsg::CustomerMediaLost { reason });
        }
    }

    /// A trunk party holds us, or resumes (its re-INVITE's direction): nothing goes to it
    /// while it holds, and its silence is no sign of a dead call.
    pub fn plain_held(&self, call: &str, who: engine::call::Participant, held: bool) {
        if let Some(m) = self.ctx.media.get(&engine::CallId::from(call)) {
            let _ = m.cast(MediaMsg::PlainHeld { who, held });
        }
    }

    /// Each leg's counters for a call with media (empty without).
    pub async fn media_stats(
        &self,
        call: &str,
    ) -> Result<Vec<(engine::call::Participant, crate::media::leg::LegStats)>, ActorError> {
        let Some(m) = self.ctx.media.get(&engine::CallId::from(call)) else {
            return Ok(Vec::new());
        };
        Ok(ask(&m, "media", |reply| MediaMsg::Stats { reply })
            .await
            .unwrap_or_default())
    }

    /// Every live media leg's counters, summed (for metrics): legs, legs connected, and the
    /// packets received, lost and late from the parties.
    pub async fn media_totals(&self) -> MediaTotals {
        let mut t = MediaTotals::default();
        for m in self.ctx.media.all() {
            let legs = ask(&m, "media", |reply| MediaMsg::Stats { reply })
                .await
                .unwrap_or_default();
            for (_, s) in legs {
                t.legs += 1;
                t.connected += u64::from(s.connected);
                t.packets_received += s.packets_received;
                t.packets_lost += s.packets_lost;
                t.packets_late += s.packets_late;
            }
        }
        t
    }

    /// A leg's 16 kHz fork (for the transcriber; taken once per leg).
    pub async fn media_fork(
        &self,
        call: &str,
        who: engine::call::Participant,
    ) -> Option<crate::media::fork::ForkReceiver> {
        let m = self.ctx.media.get(&engine::CallId::from(call))?;
        ask(&m, "media", |reply| MediaMsg::TakeFork { who, reply })
            .await
            .ok()
            .flatten()
    }

    /// Replaces a call's CRM data (G1): by its owner while the call lasts, by the agent who
    /// had it while that agent wraps it up. A change is a `call.data_changed` journey step;
    /// refused data changes nothing.
    pub async fn set_call_data(
        &self,
        call: &str,
        agent: &str,
        data: engine::call::CallData,
    ) -> Result<Arc<engine::call::Call>, ActorError> {
        let agent_ref = self.agent_ref(agent)?;
        let view = ask(&agent_ref, "agent", |reply| AgentMsg::Get { reply }).await?;
        let wrapping_up = view
            .wrap_up_call
            .as_ref()
            .is_some_and(|c| c.as_str() == call);
        let id = engine::CallId::from(call);
        let action = crate::Control::Data {
            data: data.clone(),
            wrapping_up,
        };
        match self
            .to_call(call, |reply| CallMsg::Control {
                agent: agent.into(),
                action,
                reply,
            })
            .await
        {
            // The call ended and its actor stopped (or is stopping, or stopped meanwhile):
            // edit the stored call.
            Err(ActorError::CallOver(_)) => {}
            Err(ActorError::NoAnswer(..)) if self.ctx.call(&id).is_none() => {}
            other => return other,
        }
        let _one_at_a_time = self.data_edits.lock().await;
        let mut c = self
            .ctx
            .store
            .load_call(&id)
            .await?
            .ok_or_else(|| ActorError::UnknownCall(call.to_owned()))?;
        let before = c.journey().len();
        let now = self.ctx.clock.now();
        let catalog = self.ctx.config.catalog(c.queue().as_str());
        c.set_data(
            now,
            &engine::AgentId::from(agent),
            wrapping_up,
            data,
            &catalog,
        )?;
        if c.journey().len() > before {
            // A change after the call's log was queued: the CRMs get the next version,
            // written with the change.
            let logs = match &self.ctx.outbox {
                Some(outbox) => outbox.rows_for(&c).await?,
                None => Vec::new(),
            };
            self.ctx
                .store
                .save_call_with_outbox(&c, before, now.0, &logs)
                .await?;
            self.ctx.bus.publish_journey(&c, before);
            if let (Some(outbox), false) = (&self.ctx.outbox, logs.is_empty()) {
                outbox.queued(c.id(), &logs).await;
            }
        }
        Ok(Arc::new(c))
    }

    /// The CRM outbox's rows in a state (`pending`, `delivered`, `dead`; all when `None`).
    pub async fn outbox(
        &self,
        state: Option<&str>,
    ) -> Result<Vec<crate::store::OutboxRow>, ActorError> {
        Ok(self.ctx.store.outbox(state).await?)
    }

    /// One page of the outbox, newest first (all states when `state` is `None`), and how
    /// many rows are in that state.
    pub async fn outbox_page(
        &self,
        state: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<crate::store::OutboxRow>, u64), ActorError> {
        Ok(self.ctx.store.outbox_page(state, limit).await?)
    }

    /// How many outbox rows are in each state.
    pub async fn outbox_counts(
        &self,
    ) -> Result<std::collections::BTreeMap<String, u64>, ActorError> {
        Ok(self.ctx.store.outbox_counts().await?)
    }

    /// Puts an outbox row back in line (a dead letter, once the CRM is fixed).
    pub async fn outbox_retry(
        &self,
        key: &str,
    ) -> Result<Option<crate::store::OutboxRow>, ActorError> {
        match &self.ctx.outbox {
            Some(o) => o.retry_row(key).await,
            None => Ok(None),
        }
    }

    /// The lists a call's data is checked against (its queue's dispositions, the tags).
    pub fn catalog(&self, queue: &str) -> engine::call::Catalog {
        self.ctx.config.catalog(queue)
    }

    /// Whether live transcription runs, on which model, with which queue settings, and the
    /// worker pool's counters.
    pub fn transcription(&self) -> TranscriptionStatus {
        let hub = self.ctx.media.transcripts();
        TranscriptionStatus {
            enabled: hub.is_some(),
            model: hub.map(|h| h.service().model().to_owned()),
            queues: self
                .ctx
                .config
                .queues
                .iter()
                .map(|q| QueueTranscript {
                    queue: q.id.clone(),
                    mode: if hub.is_some() {
                        q.transcript
                    } else {
                        transcription::Mode::Off
                    },
                    stored: q.store_transcript,
                })
                .collect(),
            pool: hub.map(|h| h.service().stats()),
        }
    }

    /// A call's stored transcript: its final segments, if its queue keeps transcripts; and
    /// its keyword alerts (always kept).
    pub async fn transcript(
        &self,
        call: &engine::call::Call,
    ) -> Result<StoredTranscript, ActorError> {
        let stored = self
            .ctx
            .config
            .queues
            .iter()
            .any(|q| q.id == call.queue().as_str() && q.store_transcript);
        let segments = if stored {
            self.ctx.store.transcript(call.id().as_str()).await?
        } else {
            Vec::new()
        };
        let alerts = self.ctx.store.alerts(call.id().as_str()).await?;
        Ok(StoredTranscript {
            stored,
            segments,
            alerts,
        })
    }

    /// The media actors (recording paths, waiting for a call's media to end).
    pub fn media(&self) -> &crate::media::actor::MediaRegistry {
        &self.ctx.media
    }
}

/// What `GET /api/v1/transcription` says.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TranscriptionStatus {
    /// A model is loaded: live transcripts run where queues ask for them.
    pub enabled: bool,
    /// The model file's name.
    pub model: Option<String>,
    /// Each queue's setting (`off` everywhere when transcription is off).
    pub queues: Vec<QueueTranscript>,
    /// The worker pool's counters.
    pub pool: Option<transcription::pool::PoolStats>,
}

/// A queue's transcript setting.
#[derive(Clone, Debug, serde::Serialize)]
pub struct QueueTranscript {
    /// The queue.
    pub queue: String,
    /// Which legs.
    pub mode: transcription::Mode,
    /// Whether finals are kept with the call.
    pub stored: bool,
}

/// A call's stored transcript.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StoredTranscript {
    /// Whether the call's queue keeps transcripts (if not, `segments` is empty: the live
    /// transcript was shown and not saved).
    pub stored: bool,
    /// The final segments in spoken order.
    pub segments: Vec<crate::store::TranscriptRow>,
    /// The keyword alerts its finals raised, in spoken order (kept for every call; their
    /// words only when the queue keeps transcripts).
    pub alerts: Vec<crate::store::AlertRow>,
}

/// Live media legs' counters, summed ([`Switchyard::media_totals`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MediaTotals {
    /// Legs up or coming up.
    pub legs: u64,
    /// Of those, connected.
    pub connected: u64,
    /// RTP packets received from the parties.
    pub packets_received: u64,
    /// Audio packets missing from what the parties sent.
    pub packets_lost: u64,
    /// Audio packets from the parties that arrived late.
    pub packets_late: u64,
}
