//! Calls we place through the trunk: an agent's dial (E1), a callback once its agent answered
//! (E3, E4) and a scheduled call (E5) reach the customer, and a consult, a conference or a
//! blind transfer to a number (D1, D2, D4) reaches that external party, each with an INVITE to
//! the outbound trunk: one task per party from the INVITE to the end of its dialog.
//!
//! The call actor owns the call; this task only reports what the network says (ringing,
//! answered, the result of an unanswered attempt as [`engine::sip::progress_of`] reads it,
//! the party's BYE) and follows the call on our side (CANCEL while it rings, BYE once
//! answered, when the call no longer wants the party).

use crate::sdp;
use crate::session_timer;
use crate::Local;
use actors::config::{OutboundTrunk, SipConfig, SipTransport};
use actors::{ExternalNews, Switchyard};
use engine::call::{Call, CallState, Participant, Party, Unreached};
use engine::sip::{
    normalize_number, outbound_trunk, placed_session_timer, progress_of, Progress, Refresher,
    SessionTimer,
};
use engine::CallId;
use rsipstack::dialog::authenticate::Credential;
use rsipstack::dialog::dialog::{DialogState, DialogStateReceiver};
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::dialog::invitation::InviteOption;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::dialog::DialogId;
use rsipstack::sip::{Header, StatusCode};
use rsipstack::transport::tcp::TcpConnection;
use rsipstack::transport::{SipAddr, SipConnection};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// The events that mean "dial the customer now": an agent dialed, or a callback's (or
/// scheduled call's) agent answered its own phone.
const DIAL_NOW: [&str; 2] = ["call.dialed", "call.callback_announced"];

/// The events after which a consult or a blind transfer may dial a number.
const DIAL_EXTERNAL: [&str; 2] = ["call.consult_started", "call.transfer_started"];

/// Whom an INVITE reaches.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Role {
    /// The customer of a call we dial.
    Customer,
    /// The number a consult or blind transfer dials.
    External(String),
}

impl Role {
    fn participant(&self) -> Participant {
        match self {
            Role::Customer => Participant::Customer,
            Role::External(_) => Participant::External,
        }
    }

    fn party(&self) -> Party {
        match self {
            Role::Customer => Party::Customer,
            Role::External(number) => Party::External {
                number: number.clone(),
            },
        }
    }

    /// Whether the call still wants this party (else its dialog ends).
    fn wanted(&self, call: &Call) -> bool {
        !call.state().is_final()
            && match self {
                Role::Customer => true,
                Role::External(n) => {
                    call.external_dialing() == Some(n) || call.external_party() == Some(n)
                }
            }
    }
}

type Placements = HashMap<(CallId, Role), mpsc::UnboundedSender<()>>;

/// Places and follows outbound calls.
#[derive(Clone)]
pub(crate) struct Dialer {
    yard: Switchyard,
    layer: Arc<DialogLayer>,
    /// The trunks calls may go through (their ids, where our INVITEs go, their credentials),
    /// in configuration order.
    trunks: Arc<Vec<(String, OutboundTrunk)>>,
    /// Our side: the From's host, the Contact, the RTP legs.
    local: Local,
    /// The parties being dialed or talking, each with a way to wake its task.
    calls: Arc<Mutex<Placements>>,
    /// The shortest session timer we accept (`Min-SE`).
    min_session: Duration,
    /// Our connections to the trunks reached over TCP, by trunk id.
    tcp: Arc<tokio::sync::Mutex<HashMap<String, SipConnection>>>,
    /// Stops them with the endpoint.
    token: tokio_util::sync::CancellationToken,
}

impl Dialer {
    pub(crate) fn new(
        yard: Switchyard,
        layer: Arc<DialogLayer>,
        trunks: Vec<(String, OutboundTrunk)>,
        local: Local,
        conf: &SipConfig,
        token: tokio_util::sync::CancellationToken,
    ) -> Dialer {
        Dialer {
            yard,
            layer,
            trunks: Arc::new(trunks),
            local,
            calls: Arc::default(),
            min_session: conf.min_session(),
            tcp: Arc::default(),
            token,
        }
    }

    /// Where a request to `trunk` goes: its address over UDP, or over our TCP connection to
    /// it, opened (with Nagle off) when there is none or the carrier closed the last.
    async fn destination(&self, trunk: &OutboundTrunk) -> Result<SipAddr, String> {
        if trunk.transport == SipTransport::Udp {
            return Ok(SipAddr::from(trunk.to));
        }
        let target = SipAddr {
            r#type: Some(rsipstack::sip::Transport::Tcp),
            addr: trunk.to.into(),
        };
        let transports = &self.layer.endpoint.transport_layer;
        let mut open = self.tcp.lock().await;
        if let Some(c) = open.get(&trunk.id) {
            if transports.get_addrs().contains(c.get_addr()) {
                return Ok(target);
            }
        }
        let connect = tokio::net::TcpStream::connect(trunk.to);
        let stream = tokio::time::timeout(Duration::from_secs(5), connect)
            .await
            .map_err(|_| format!("connecting to {} over TCP timed out", trunk.to))?
            .map_err(|e| format!("connecting to {} over TCP: {e}", trunk.to))?;
        let _ = stream.set_nodelay(true);
        let local = SipAddr {
            r#type: Some(rsipstack::sip::Transport::Tcp),
            addr: stream.local_addr().map_err(|e| e.to_string())?.into(),
        };
        let token = self.token.child_token();
        let c =
            TcpConnection::from_stream(stream, local, Some(token)).map_err(|e| e.to_string())?;
        let c = SipConnection::Tcp(c);
        transports.add_connection(c.clone());
        open.insert(trunk.id.clone(), c);
        Ok(target)
    }

    fn calls(&self) -> std::sync::MutexGuard<'_, Placements> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A call event: its parties being dialed take another look at the call; a call that
    /// must now dial its customer starts, and one whose consult or transfer may dial a
    /// number looks whether it does.
    pub(crate) fn on_event(&self, name: &str, call: &CallId) {
        let mut calls = self.calls();
        for ((c, _), poke) in calls.iter() {
            if c == call {
                let _ = poke.send(());
            }
        }
        if DIAL_NOW.contains(&name) {
            self.start(&mut calls, call, Role::Customer);
        } else if DIAL_EXTERNAL.contains(&name) {
            let (this, id) = (self.clone(), call.clone());
            tokio::spawn(async move {
                let Ok(c) = this.yard.call(id.as_str()).await else {
                    return;
                };
                if let Some(n) = c.external_dialing() {
                    let role = Role::External(n.to_owned());
                    this.start(&mut this.calls(), &id, role);
                }
            });
        }
    }

    /// Starts dialing `role` on `call`, unless it is being dialed already.
    fn start(&self, calls: &mut Placements, call: &CallId, role: Role) {
        let key = (call.clone(), role);
        if calls.contains_key(&key) {
            return;
        }
        let (poke, pokes) = mpsc::unbounded_channel();
        calls.insert(key.clone(), poke);
        tokio::spawn(self.clone().place(key, pokes));
    }

    /// Every call being placed takes another look (events were missed).
    pub(crate) fn wake_all(&self) {
        for poke in self.calls().values() {
            let _ = poke.send(());
        }
    }

    async fn place(self, key: (CallId, Role), pokes: mpsc::UnboundedReceiver<()>) {
        if let Err(e) = self.run(&key.0, &key.1, pokes).await {
            tracing::warn!(call = %key.0, role = ?key.1, error = %e, "trunk call");
        }
        self.calls().remove(&key);
    }

    async fn run(
        &self,
        id: &CallId,
        role: &Role,
        mut pokes: mpsc::UnboundedReceiver<()>,
    ) -> Result<(), String> {
        let call = self
            .yard
            .call(id.as_str())
            .await
            .map_err(|e| e.to_string())?;
        let dialled = match role {
            Role::Customer if call.state() == CallState::Dialing => call.from(),
            Role::External(n) if call.external_dialing() == Some(n) => n,
            _ => return Ok(()),
        };
        let Some(number) = normalize_number(dialled) else {
            // Compliance let it through, but no carrier can route it.
            return self.over(id, role, Unreached::Failed).await;
        };
        let queue = self.yard.config().queue(call.queue().as_str());
        let chosen = queue.and_then(|q| q.trunk.as_deref());
        let Some(trunk) = outbound_trunk(chosen, &self.trunks).cloned() else {
            return self.over(id, role, Unreached::Failed).await;
        };
        let destination = match self.destination(&trunk).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(call = %id, trunk = %trunk.id, error = %e, "the trunk is unreachable");
                return self.over(id, role, Unreached::Failed).await;
            }
        };
        let caller = queue
            .and_then(|q| q.caller_id.as_deref())
            .and_then(normalize_number)
            .unwrap_or_else(|| "anonymous".into());
        let ring = Duration::from_secs(queue.map_or(30, |q| q.dial_timeout_secs));
        let rtp = match self
            .yard
            .plain_media(id.as_str(), role.participant(), None, self.local.rtp)
            .await
        {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(call = %id, error = %e, "no RTP leg for the outbound call");
                return self.over(id, role, Unreached::Failed).await;
            }
        };
        let ours = sdp::Ours::offer(self.local.advertised(rtp), sdp::session_id(id.as_str()));
        let offer = ours.bytes();
        let timer = session_timer::offer_headers(
            engine::sip::offered_session(self.min_session),
            self.min_session,
        );
        let opt = InviteOption {
            caller: uri(&caller, self.local.sip),
            callee: uri(&number, trunk.to),
            destination: Some(destination),
            content_type: Some("application/sdp".into()),
            offer: Some(offer),
            contact: self.local.contact.clone(),
            credential: credential(&trunk),
            headers: Some(timer),
            ..Default::default()
        };
        let (state_tx, states) = self.layer.new_dialog_state_channel();
        let (dialog, invite) = match self.layer.do_invite_async(opt, state_tx) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(call = %id, error = %e, "the INVITE could not be sent");
                return self.over(id, role, Unreached::Failed).await;
            }
        };
        tracing::info!(call = %id, trunk = %trunk.id, %number, ?role, "outbound trunk call");
        let placed = Placed {
            id,
            role,
            dialog,
            ours,
            answered: None,
            early_media: false,
            timer: None,
            refreshed: None,
        };
        self.follow(placed, invite, states, &mut pokes, ring).await
    }

    /// From the INVITE to the end: provisional responses, the final one, the ring time, the
    /// call's end on our side, the customer's BYE.
    async fn follow(
        &self,
        mut p: Placed<'_>,
        mut invite: tokio::task::JoinHandle<rsipstack::dialog::invitation::InviteAsyncResult>,
        mut states: DialogStateReceiver,
        pokes: &mut mpsc::UnboundedReceiver<()>,
        ring: Duration,
    ) -> Result<(), String> {
        let ring_until = tokio::time::Instant::now() + ring;
        let id = p.id.as_str();
        loop {
            tokio::select! {
                // The final response first: a BYE can only follow it.
                biased;
                done = &mut invite, if p.answered.is_none() => {
                    let (dialog_id, response) = match done {
                        Ok(Ok((dialog_id, Some(r)))) => (dialog_id, r),
                        Ok(Ok((_, None))) | Ok(Err(_)) | Err(_) => {
                            // No response at all (the carrier is unreachable), or the stack
                            // gave up on the transaction.
                            return self.over(p.id, p.role, Unreached::Failed).await;
                        }
                    };
                    match progress_of(response.status_code.code()) {
                        Progress::Answered => {
                            p.answered = Some(dialog_id);
                            let answered = session_timer::requested(&response.headers).unwrap_or_else(|e| {
                                tracing::info!(call = %id, error = %e, "the answer's session timer is unreadable: none run");
                                None
                            });
                            p.timer = placed_session_timer(answered, self.min_session);
                            p.refreshed = p.timer.map(|t| {
                                let (d, party) = (p.dialog.clone(), p.role.party());
                                session_timer::keep(self.yard.clone(), p.id.clone(), d, t, Refresher::Uac, party)
                            });
                            let sdp = String::from_utf8_lossy(&response.body).into_owned();
                            if let Err(e) = self.yard.plain_answer(id, p.role.participant(), sdp).await {
                                tracing::warn!(call = %id, error = %e, "the answer has no usable SDP");
                            }
                            if let Err(e) = self.tell(id, p.role, ExternalNews::Answered).await {
                                // The call moved on as the party answered.
                                tracing::info!(call = %id, error = %e, "answered too late: BYE");
                                return p.end(&self.layer).await;
                            }
                        }
                        Progress::Over(why) => return self.over(p.id, p.role, why).await,
                        Progress::Trying | Progress::Ringing => {
                            return self.over(p.id, p.role, Unreached::Failed).await;
                        }
                    }
                }
                Some(state) = states.recv() => match state {
                    DialogState::Early(_, response) => {
                        let _ = self.tell(id, p.role, ExternalNews::Ringing).await;
                        if !p.early_media && !response.body.is_empty() {
                            // Early media: the agent hears the carrier's ringback.
                            let sdp = String::from_utf8_lossy(&response.body).into_owned();
                            p.early_media = self
                                .yard
                                .plain_answer(id, p.role.participant(), sdp)
                                .await
                                .is_ok();
                        }
                    }
                    DialogState::Terminated(dialog_id, reason) if p.answered.is_some() => {
                        tracing::info!(call = %id, ?reason, role = ?p.role, "the far end's dialog ended");
                        self.layer.remove_dialog(&dialog_id);
                        let _ = self.yard.hangup(id, p.role.party()).await;
                        return Ok(());
                    }
                    DialogState::Updated(_, req, handle) => {
                        // A re-INVITE or an UPDATE (hold, resume, a session refresh):
                        // answered in its direction (an UPDATE without an offer gets no SDP).
                        if let Some(r) = &p.refreshed {
                            let _ = r.send(());
                        }
                        let offer = !req.body().is_empty() || req.method == rsipstack::sip::Method::Invite;
                        let answer = offer.then(|| p.ours.reanswer(req.body()));
                        if !req.body().is_empty() {
                            let held = sdp::direction(req.body()).holds();
                            self.yard.plain_held(id, p.role.participant(), held);
                        }
                        let mut headers = p.timer.as_ref().map(session_timer::headers).unwrap_or_default();
                        if answer.is_some() {
                            headers.push(Header::ContentType("application/sdp".into()));
                        }
                        let _ = handle.respond(StatusCode::OK, Some(headers), answer).await;
                    }
                    _ => {}
                },
                Some(()) = pokes.recv() => {
                    let wanted = self
                        .yard
                        .call(id)
                        .await
                        .is_ok_and(|c| p.role.wanted(&c));
                    if !wanted {
                        // The call is over, or no longer has this party (a consult cancelled,
                        // a transfer taken back): CANCEL while it rings, BYE once answered.
                        return p.end(&self.layer).await;
                    }
                }
                _ = tokio::time::sleep_until(ring_until), if p.answered.is_none() => {
                    // The INVITE's 487 (or a 200 crossing the CANCEL, which the stack ends
                    // with a BYE) is the stack's to take.
                    let _ = p.dialog.cancel().await;
                    return self.over(p.id, p.role, Unreached::NotAnswered).await;
                }
            }
        }
    }

    /// Tells the call what the network said of the party.
    async fn tell(
        &self,
        id: &str,
        role: &Role,
        news: ExternalNews,
    ) -> Result<std::sync::Arc<Call>, actors::ActorError> {
        match (role, news) {
            (Role::External(_), news) => self.yard.external(id, news).await,
            (Role::Customer, ExternalNews::Ringing) => self.yard.remote_ringing(id).await,
            (Role::Customer, ExternalNews::Answered) => self.yard.remote_answered(id).await,
            (Role::Customer, ExternalNews::Over(why)) => self.yard.remote_over(id, why).await,
        }
    }

    async fn over(&self, id: &CallId, role: &Role, why: Unreached) -> Result<(), String> {
        match self.tell(id.as_str(), role, ExternalNews::Over(why)).await {
            Ok(_) => Ok(()),
            // The call moved on meanwhile (ended, the consult cancelled): nothing to report.
            Err(e)
                if !self
                    .yard
                    .call(id.as_str())
                    .await
                    .is_ok_and(|c| role.wanted(&c)) =>
            {
                tracing::debug!(call = %id, error = %e, "the call moved on already");
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }
    }
}

/// An INVITE we sent and what came of it so far.
struct Placed<'a> {
    id: &'a CallId,
    role: &'a Role,
    dialog: InviteDialog,
    /// Our SDP: the offer, then the answers to re-INVITEs.
    ours: sdp::Ours,
    /// The confirmed dialog, once the party answered.
    answered: Option<DialogId>,
    early_media: bool,
    /// The session timer the answer agreed (RFC 4028), if any.
    timer: Option<SessionTimer>,
    /// Tells the timer's keeper of each refresh.
    refreshed: Option<mpsc::UnboundedSender<()>>,
}

impl Placed<'_> {
    /// Ends our side: CANCEL while it rings, BYE once answered.
    async fn end(&self, layer: &DialogLayer) -> Result<(), String> {
        let ended = self.dialog.hangup().await.map_err(|e| e.to_string());
        if let Some(d) = &self.answered {
            layer.remove_dialog(d);
        }
        ended
    }
}

/// The digest credentials a challenge (401, 407) is answered with, if the trunk has them.
pub(crate) fn credential(trunk: &OutboundTrunk) -> Option<Credential> {
    let (username, password) = trunk.credentials.clone()?;
    Some(Credential {
        username,
        password,
        realm: None,
        auth_username: None,
    })
}

pub(crate) fn uri(user: &str, at: SocketAddr) -> rsipstack::sip::Uri {
    rsipstack::sip::Uri {
        scheme: Some(rsipstack::sip::Scheme::Sip),
        auth: Some(rsipstack::sip::uri::Auth {
            user: user.to_owned(),
            password: None,
        }),
        host_with_port: at.into(),
        params: vec![],
        headers: vec![],
    }
}
