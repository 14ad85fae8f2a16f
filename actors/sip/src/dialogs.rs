//! Inbound dialogs and their calls: requests from the carrier, the dialogs' states, and the
//! calls' events, each in its own task, meeting in one table of legs.

use crate::auth::Challenger;
use crate::outbound::Dialer;
use crate::reading;
use crate::sdp;
use crate::session_timer;
use crate::Local;
use actors::config::SipConfig;
use actors::Switchyard;
use engine::call::{CallResult, CallState, Participant, Party};
use engine::net::Cidr;
use engine::routing::Skills;
use engine::sip::{trunk_for, AnswerWhen, DidRoute, Refresher, SessionTimer};
use engine::CallId;
use rsipstack::dialog::dialog::{DialogState, DialogStateReceiver, DialogStateSender};
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::dialog::DialogId;
use rsipstack::sip::prelude::*;
use rsipstack::sip::{Header, Method, StatusCode};
use rsipstack::transaction::{Transaction, TransactionReceiver};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A caller's dialog and what it needs to answer.
#[derive(Clone)]
struct Leg {
    dialog: InviteDialog,
    id: DialogId,
    /// Our SDP, sent with the 183 and the 200 OK, answering each re-INVITE.
    sdp: sdp::Ours,
    answered: bool,
    /// Its route answers on arrival (`200 OK` at once, no early media).
    at_once: bool,
    /// The session timer the caller asked for (RFC 4028), if any.
    timer: Option<SessionTimer>,
    /// Tells the timer's keeper of each refresh, once the call is answered.
    refreshed: Option<mpsc::UnboundedSender<()>>,
}

#[derive(Default)]
struct Legs {
    by_call: HashMap<CallId, Leg>,
    by_dialog: HashMap<DialogId, CallId>,
}

impl Legs {
    fn forget(&mut self, call: &CallId) -> Option<Leg> {
        let leg = self.by_call.remove(call)?;
        self.by_dialog.remove(&leg.id);
        Some(leg)
    }
}

#[derive(Clone)]
pub(crate) struct Inbound {
    yard: Switchyard,
    trunks: Arc<Vec<(String, Vec<Cidr>)>>,
    routes: Arc<Vec<DidRoute>>,
    layer: Arc<DialogLayer>,
    state_tx: DialogStateSender,
    local: Local,
    /// The shortest session timer a caller may ask for (`Min-SE`).
    min_session: Duration,
    legs: Arc<Mutex<Legs>>,
    /// Outbound calls, when a trunk takes them.
    dialer: Option<Dialer>,
    /// The digest challenges of trunks that demand one.
    challenger: Challenger,
}

impl Inbound {
    pub(crate) fn new(
        yard: Switchyard,
        conf: &SipConfig,
        layer: Arc<DialogLayer>,
        state_tx: DialogStateSender,
        local: Local,
        token: tokio_util::sync::CancellationToken,
    ) -> Inbound {
        let trunks = conf.outbound_trunks();
        let dialer = (!trunks.is_empty()).then(|| {
            Dialer::new(
                yard.clone(),
                layer.clone(),
                trunks,
                local.clone(),
                conf,
                token,
            )
        });
        Inbound {
            yard,
            trunks: Arc::new(conf.trunk_ranges()),
            routes: Arc::new(conf.did_routes()),
            layer,
            state_tx,
            local,
            min_session: conf.min_session(),
            legs: Arc::default(),
            dialer,
            challenger: Challenger::new(conf.inbound_credentials()),
        }
    }

    /// The three tasks: requests, dialog states, call events.
    pub(crate) fn spawn(
        self,
        incoming: TransactionReceiver,
        states: DialogStateReceiver,
    ) -> Vec<JoinHandle<()>> {
        let events = self.yard.subscribe();
        vec![
            tokio::spawn(self.clone().requests(incoming)),
            tokio::spawn(self.clone().dialog_states(states)),
            tokio::spawn(self.call_events(events)),
        ]
    }

    fn legs(&self) -> std::sync::MutexGuard<'_, Legs> {
        self.legs.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn requests(self, mut incoming: TransactionReceiver) {
        while let Some(mut tx) = incoming.recv().await {
            let in_dialog = tx
                .original
                .to_header()
                .ok()
                .and_then(|to| to.tag().ok().flatten())
                .is_some();
            if in_dialog || tx.original.method == Method::Cancel {
                // BYE, ACK, re-INVITE, CANCEL: the dialog's own work.
                match self.layer.match_dialog(&tx) {
                    Some(mut d) => {
                        tokio::spawn(async move {
                            let _ = d.handle(&mut tx).await;
                        });
                    }
                    None if tx.original.method == Method::Ack => {}
                    None => {
                        let _ = tx.reply(StatusCode::CallTransactionDoesNotExist).await;
                    }
                }
                continue;
            }
            let trunk = source(&tx).and_then(|ip| trunk_for(ip, &self.trunks).cloned());
            match (tx.original.method, trunk) {
                (Method::Ack, _) => {}
                (_, Some(_)) if reading::truncated(&tx.original) => {
                    // RFC 3261 §18.3: a datagram that ends before the body its
                    // Content-Length announces is an error; nothing is created from it.
                    let _ = tx.reply(StatusCode::BadRequest).await;
                }
                (_, None) => {
                    tracing::info!(method = %tx.original.method, source = ?source(&tx), "SIP request from no configured trunk: 403");
                    let _ = tx.reply(StatusCode::Forbidden).await;
                }
                (Method::Invite, Some(trunk)) => {
                    if self.challenger.admit(&mut tx, &trunk).await {
                        self.invite(tx, trunk).await;
                    }
                }
                (Method::Options, Some(_)) => {
                    let _ = tx.reply(StatusCode::OK).await;
                }
                (_, Some(_)) => {
                    let _ = tx.reply(StatusCode::MethodNotAllowed).await;
                }
            }
        }
    }

    /// A new INVITE from a trunk: a call in its route's queue, ringing.
    async fn invite(&self, mut tx: Transaction, trunk: String) {
        let reading::Invite {
            route,
            codec,
            timer,
            caller,
        } = match reading::invite(&tx.original, &self.routes, self.min_session) {
            Ok(i) => i,
            Err(refusal) => {
                tracing::info!(%trunk, status = %refusal.status, why = refusal.why, "SIP INVITE refused");
                let _ = tx.reply_with(refusal.status, refusal.headers, None).await;
                return;
            }
        };
        let queue = route.queue;
        let mut dialog = match self.layer.get_or_create_server_invite(
            &tx,
            self.state_tx.clone(),
            None,
            Some(self.local.contact.clone()),
        ) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "SIP INVITE refused by the dialog layer");
                let _ = tx.reply(StatusCode::ServerInternalError).await;
                return;
            }
        };
        let call = match self
            .yard
            .create_call(caller, queue.as_str(), 0, Skills::new())
            .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, %queue, "a trunk call could not be created");
                let _ = dialog.reject(Some(StatusCode::ServiceUnavailable), None);
                let _ = dialog.handle(&mut tx).await;
                return;
            }
        };
        // The caller's RTP leg, in the call's audio from now on (hold music while it waits).
        let offer_body = tx.original.body().to_vec();
        let offer = String::from_utf8_lossy(&offer_body).into_owned();
        let rtp = match self
            .yard
            .plain_media(
                call.id().as_str(),
                Participant::Customer,
                Some(offer),
                self.local.rtp,
            )
            .await
        {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(call = %call.id(), error = %e, "no RTP leg for the trunk call");
                let _ = self.yard.hangup(call.id().as_str(), Party::Customer).await;
                let _ = dialog.reject(Some(StatusCode::NotAcceptableHere), None);
                let _ = dialog.handle(&mut tx).await;
                return;
            }
        };
        let id = dialog.id();
        let session = sdp::session_id(&id.to_string());
        let leg = Leg {
            dialog: dialog.clone(),
            id: id.clone(),
            sdp: sdp::Ours::answer(self.local.advertised(rtp), codec, session, &offer_body),
            answered: false,
            at_once: route.answer == AnswerWhen::Arrival,
            timer,
            refreshed: None,
        };
        // Rung before the leg is known: whatever answers the call (an agent's accept may
        // already be on its way) finds the leg only after its 183 is queued, so the 200 OK
        // always follows it.
        ringing(&leg);
        {
            let mut legs = self.legs();
            legs.by_dialog.insert(id, call.id().clone());
            legs.by_call.insert(call.id().clone(), leg);
        }
        tracing::info!(call = %call.id(), %trunk, %queue, "trunk call");
        tokio::spawn(async move {
            let _ = dialog.handle(&mut tx).await;
        });
        // The call may have been answered (or ended) before the leg was known.
        self.reconcile(call.id()).await;
    }

    /// Brings the dialog in line with its call: answered once the call is connected (or at
    /// once, for a route that answers on arrival), ended once it is over.
    async fn reconcile(&self, id: &CallId) {
        let Some(leg) = self.legs().by_call.get(id).cloned() else {
            return;
        };
        let Ok(call) = self.yard.call(id.as_str()).await else {
            return;
        };
        if call.state().is_final() {
            let Some(leg) = self.legs().forget(id) else {
                return;
            };
            if leg.answered {
                let _ = leg.dialog.bye().await;
            } else {
                let code = match call.result() {
                    Some(CallResult::Busy) => StatusCode::BusyHere,
                    _ => StatusCode::TemporarilyUnavailable,
                };
                let _ = leg.dialog.reject(Some(code), None);
            }
        } else if (call.state() == CallState::Connected || leg.at_once) && !leg.answered {
            let refreshed = leg.timer.map(|t| {
                let d = leg.dialog.clone();
                let (us, customer) = (Refresher::Uas, Party::Customer);
                session_timer::keep(self.yard.clone(), id.clone(), d, t, us, customer)
            });
            if let Some(l) = self.legs().by_call.get_mut(id) {
                l.answered = true;
                l.refreshed = refreshed;
            }
            let mut headers = vec![Header::ContentType("application/sdp".into())];
            headers.extend(
                leg.timer
                    .as_ref()
                    .map(session_timer::headers)
                    .unwrap_or_default(),
            );
            if let Err(e) = leg.dialog.accept(Some(headers), Some(leg.sdp.bytes())) {
                tracing::warn!(call = %id, error = %e, "could not answer the trunk call");
            }
        }
    }

    async fn dialog_states(self, mut states: DialogStateReceiver) {
        while let Some(state) = states.recv().await {
            match state {
                DialogState::Terminated(id, reason) => {
                    // Ended by the caller (CANCEL, BYE) or by the network; a dialog we ended
                    // ourselves is forgotten already.
                    let call = {
                        let mut legs = self.legs();
                        let call = legs.by_dialog.get(&id).cloned();
                        call.inspect(|c| {
                            legs.forget(c);
                        })
                    };
                    if let Some(call) = call {
                        tracing::info!(%call, ?reason, "the trunk caller's dialog ended");
                        let _ = self.yard.hangup(call.as_str(), Party::Customer).await;
                    }
                }
                DialogState::Updated(id, req, handle) => {
                    // A re-INVITE or an UPDATE (hold, resume, session refresh): answered in
                    // its direction (an UPDATE without an offer gets no SDP); while the
                    // caller holds us its leg hears nothing and may fall silent.
                    let offer = !req.body().is_empty() || req.method == Method::Invite;
                    let answer = {
                        let mut legs = self.legs();
                        let call = legs.by_dialog.get(&id).cloned();
                        call.and_then(|c| {
                            let leg = legs.by_call.get_mut(&c)?;
                            if let Some(r) = &leg.refreshed {
                                let _ = r.send(());
                            }
                            let sdp = offer.then(|| leg.sdp.reanswer(req.body()));
                            Some((c, sdp, leg.timer))
                        })
                    };
                    if let Some((call, _, _)) = &answer {
                        if !req.body().is_empty() {
                            let held = sdp::direction(req.body()).holds();
                            self.yard
                                .plain_held(call.as_str(), Participant::Customer, held);
                        }
                    }
                    let _ = match answer {
                        Some((_, sdp, timer)) => {
                            let mut headers = timer
                                .as_ref()
                                .map(session_timer::headers)
                                .unwrap_or_default();
                            if sdp.is_some() {
                                headers.push(Header::ContentType("application/sdp".into()));
                            }
                            handle.respond(StatusCode::OK, Some(headers), sdp).await
                        }
                        None => handle.reply(StatusCode::CallTransactionDoesNotExist).await,
                    };
                }
                _ => {}
            }
        }
    }

    async fn call_events(
        self,
        mut events: tokio::sync::broadcast::Receiver<actors::events::Event>,
    ) {
        loop {
            match events.recv().await {
                Ok(e) => {
                    let json = e.to_json();
                    let Some(id) = json["call_id"].as_str() else {
                        continue;
                    };
                    let id = CallId::from(id);
                    if let Some(d) = &self.dialer {
                        d.on_event(e.type_name(), &id);
                    }
                    if self.legs().by_call.contains_key(&id) {
                        self.reconcile(&id).await;
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    if let Some(d) = &self.dialer {
                        d.wake_all();
                    }
                    let calls: Vec<CallId> = self.legs().by_call.keys().cloned().collect();
                    for id in calls {
                        self.reconcile(&id).await;
                    }
                }
                Err(RecvError::Closed) => return,
            }
        }
    }
}

/// Where a request came from: the top Via's `received` (the stack writes the packet's
/// source there whenever it differs from what the Via claims), else the Via's own host.
fn source(tx: &Transaction) -> Option<IpAddr> {
    let via = tx.original.via_header().ok()?.typed().ok()?;
    if let Some(Ok(ip)) = via.received() {
        return Some(ip);
    }
    match &via.sent_by().host {
        rsipstack::sip::Host::IpAddr(ip) => Some(*ip),
        rsipstack::sip::Host::Domain(_) => None,
    }
}

/// `183 Session Progress` with the answer: early media, so the caller hears the queue's hold
/// music while it waits (the call is answered, and charged, only when an agent is; a route that
/// answers on arrival sends its `200 OK` instead).
fn ringing(leg: &Leg) {
    if !leg.at_once {
        let sdp = Header::ContentType("application/sdp".into());
        let _ = leg.dialog.ringing(Some(vec![sdp]), Some(leg.sdp.bytes()));
    }
}
