//! SIP trunks (H4), on [rsipstack](https://crates.io/crates/rsipstack): a carrier's INVITE
//! becomes a call in the queue its dialled number routes to, through the same ingress as
//! `POST /calls` (journey, routing, offers, wrap-up, CRM logs).
//!
//! What this crate decides nothing about: which trunk a source address is, which queue a
//! number reaches and what a response means are pure rules in [`engine::sip`]; the call's
//! life is the call actor's. Here are only the SIP dialogs and their mapping to calls:
//!
//! - an INVITE from an address of no trunk gets 403, one for a number no route has 404;
//!   neither touches anything; a trunk with inbound credentials challenges each INVITE
//!   (`401`, then `403` for a wrong answer: `auth`, on `engine::sip::digest`'s rule);
//! - an INVITE from a trunk for a routed number is a call in that queue: `180 Ringing` while
//!   it waits and rings agents; the agent's answer is the `200 OK`;
//! - the caller's CANCEL before an answer, or BYE after, is the customer hanging up (the
//!   call's result is then `cancelled`, `abandoned` or `answered`, as for any call);
//! - the call ending on our side (the agent hangs up, or the call fails) ends the dialog: a
//!   BYE once answered, else a final error response (`183` with the caller's RTP leg carries
//!   the hold music while it waits);
//! - with a trunk that has an `outbound` address, a call we dial (an agent's, a callback's, a
//!   scheduled one) is an INVITE there (`outbound`; the trunk its queue names, else the
//!   first; over UDP, or over one TCP connection): provisional responses are the customer
//!   ringing, a 2xx connects, and the other finals end the call as `engine::sip::progress_of`
//!   reads them; no answer within the queue's ring time is a CANCEL and `not answered`;
//!   with credentials they answer the carrier's digest challenge, and `register = true` keeps
//!   a registration there (`register`); a consult, a conference or a blind transfer to a
//!   number dials it the same way, and a completed one bridges the customer to it;
//! - a re-INVITE is answered in its direction (a party holding us hears nothing and may fall
//!   silent); DTMF goes both ways as RFC 4733 events; a route may answer on arrival;
//! - a caller that asks for an RFC 4028 session timer (`Session-Expires`) gets it in our
//!   `200 OK` (`Require: timer`), or `422` with our `Min-SE` (`[sip] min_session_secs`,
//!   default 90) when it is shorter; a call whose refreshes (re-INVITE or UPDATE) stop ends a
//!   third of the interval (at most 32 s) before it expires, as the customer gone
//!   (`session_expired` in its journey), and when the caller makes us the refresher we send
//!   an UPDATE at half the interval (`session_timer`); the calls we place ask for a timer
//!   and keep the one the answer states, the same way;
//! - what is read of a message before anything is made of it (the INVITE's route, codec,
//!   timer and caller) is `reading`, which the fuzz target (`actors/sip/fuzz`) drives through
//!   [`read_message`].

mod auth;
mod dialogs;
mod outbound;
mod reading;
mod register;
mod sdp;
mod session_timer;

pub use reading::read_message;

use actors::config::SipConfig;
use actors::Switchyard;
use engine::net::Cidr;
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::transport::tcp::TcpConnection;
use rsipstack::transport::udp::UdpConnection;
use rsipstack::transport::{SipAddr, SipConnection, TransportLayer};
use rsipstack::EndpointBuilder;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Our side as the carrier sees it: the SIP address for Contact and From, where RTP legs
/// bind, and the address SDP names.
#[derive(Clone)]
pub(crate) struct Local {
    /// The SIP address (the public address with the listening port, behind NAT).
    pub(crate) sip: SocketAddr,
    /// Our Contact.
    pub(crate) contact: rsipstack::sip::Uri,
    /// Where RTP legs bind, and their port range.
    pub(crate) rtp: actors::media::leg::RtpBind,
    /// The address in our SDP.
    pub(crate) sdp_ip: std::net::IpAddr,
}

impl Local {
    fn new(conf: &SipConfig, listen: SocketAddr) -> Local {
        let public = conf.public_address.unwrap_or(listen.ip());
        let sip = SocketAddr::new(public, listen.port());
        Local {
            sip,
            contact: rsipstack::sip::Uri {
                scheme: Some(rsipstack::sip::Scheme::Sip),
                auth: None,
                host_with_port: sip.into(),
                params: vec![],
                headers: vec![],
            },
            rtp: actors::media::leg::RtpBind {
                ip: listen.ip(),
                ports: conf.rtp_ports.map(|[a, b]| (a, b)),
            },
            sdp_ip: public,
        }
    }

    /// A leg's address as our SDP names it.
    pub(crate) fn advertised(&self, leg: SocketAddr) -> SocketAddr {
        SocketAddr::new(self.sdp_ip, leg.port())
    }
}

/// The running SIP side: one endpoint on `[sip] listen`, over UDP and TCP.
pub struct Trunks {
    token: CancellationToken,
    addr: SocketAddr,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The registrations at outbound trunks, stopped first (they unregister while the
    /// endpoint still runs).
    registrations: (CancellationToken, Vec<tokio::task::JoinHandle<()>>),
}

impl Trunks {
    /// Starts the SIP endpoint when `[sip] listen` is set (`None` otherwise). The
    /// configuration is validated already.
    pub async fn start(yard: Switchyard, conf: &SipConfig) -> Result<Option<Trunks>, String> {
        let Some(listen) = &conf.listen else {
            return Ok(None);
        };
        let listen: SocketAddr = listen
            .parse()
            .map_err(|e| format!("sip.listen {listen}: {e}"))?;
        let token = CancellationToken::new();
        let transports = TransportLayer::new(token.clone());
        let udp = UdpConnection::create_connection(listen, None, Some(token.child_token()))
            .await
            .map_err(|e| format!("sip: binding UDP {listen}: {e}"))?;
        let addr = udp
            .get_addr()
            .get_socketaddr()
            .map_err(|e| format!("sip: {e}"))?;
        transports.add_transport(udp.into());
        // TCP on the same port as UDP (a port of 0 is resolved by the UDP bind), accepted
        // here rather than by the stack's listener: a bind error stops the start, only trunks
        // may connect, and Nagle is off (with it a request waited tens of milliseconds).
        let tcp = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("sip: binding TCP {addr}: {e}"))?;
        let option = rsipstack::transaction::endpoint::EndpointOption {
            callid_suffix: Some("switchyard".into()),
            ..Default::default()
        };
        let endpoint = EndpointBuilder::new()
            .with_cancel_token(token.clone())
            .with_transport_layer(transports)
            .with_user_agent("Switchyard")
            .with_option(option)
            .build();
        let incoming = endpoint
            .incoming_transactions()
            .map_err(|e| format!("sip: {e}"))?;
        let layer = Arc::new(DialogLayer::new(endpoint.inner.clone()));
        let (state_tx, state_rx) = layer.new_dialog_state_channel();
        let local = Local::new(conf, addr);
        let inbound =
            dialogs::Inbound::new(yard, conf, layer, state_tx, local, token.child_token());
        let mut tasks = Vec::new();
        let serve = endpoint.inner.clone();
        tasks.push(tokio::spawn(async move {
            if let Err(e) = serve.serve().await {
                tracing::error!(error = %e, "the SIP endpoint stopped");
            }
        }));
        tasks.extend(inbound.spawn(incoming, state_rx));
        // Each trunk that asks for it keeps a registration.
        let stop = CancellationToken::new();
        let registrations: Vec<_> = conf
            .outbound_trunks()
            .into_iter()
            .filter_map(|(_, trunk)| {
                let expires = trunk.register_secs?;
                let endpoint = endpoint.inner.clone();
                Some(tokio::spawn(register::keep(
                    endpoint,
                    trunk,
                    expires,
                    stop.clone(),
                )))
            })
            .collect();
        tasks.push(tokio::spawn(accept_tcp(
            tcp,
            addr,
            conf.trunk_ranges(),
            endpoint.inner.clone(),
            token.clone(),
        )));
        tracing::info!(address = %addr, "SIP trunks listening (UDP and TCP)");
        Ok(Some(Trunks {
            token,
            addr,
            tasks,
            registrations: (stop, registrations),
        }))
    }

    /// Where the endpoint listens (the port resolved when 0 was configured).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the endpoint and its tasks (a registration is removed first, for at most a few
    /// seconds).
    pub async fn stop(self) {
        let (stop, registrations) = self.registrations;
        stop.cancel();
        let unregistered = futures_join(registrations);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(3), unregistered).await;
        self.token.cancel();
        for t in self.tasks {
            t.abort();
            let _ = t.await;
        }
    }
}

/// Waits for every task.
async fn futures_join(tasks: Vec<tokio::task::JoinHandle<()>>) {
    for t in tasks {
        let _ = t.await;
    }
}

/// Accepts TCP connections from the trunks' addresses (others are closed at once, before a
/// byte is read) and hands them to the stack with Nagle off.
async fn accept_tcp(
    listener: tokio::net::TcpListener,
    local: SocketAddr,
    trunks: Vec<(String, Vec<Cidr>)>,
    endpoint: rsipstack::transaction::endpoint::EndpointInnerRef,
    token: CancellationToken,
) {
    let local = SipAddr {
        r#type: Some(rsipstack::sip::Transport::Tcp),
        addr: local.into(),
    };
    loop {
        let (stream, peer) = tokio::select! {
            _ = token.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "SIP TCP accept failed");
                    continue;
                }
            },
        };
        if engine::sip::trunk_for(peer.ip(), &trunks).is_none() {
            tracing::info!(%peer, "SIP TCP connection from no configured trunk: closed");
            continue;
        }
        let _ = stream.set_nodelay(true);
        match TcpConnection::from_stream(stream, local.clone(), Some(token.child_token())) {
            Ok(c) => endpoint
                .transport_layer
                .add_connection(SipConnection::Tcp(c)),
            Err(e) => tracing::warn!(%peer, error = %e, "SIP TCP connection dropped"),
        }
    }
}
