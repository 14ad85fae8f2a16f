//! `[sip]`: the SIP trunks customers call in through (H4), and which queue each dialled
//! number reaches. Without `listen`, Switchyard speaks no SIP.
//!
//! ```toml
//! [sip]
//! listen = "0.0.0.0:5060"              # UDP and TCP
//!
//! rtp_ports = [40000, 40999]          # the RTP legs' UDP ports (any free one without)
//! public_address = "203.0.113.7"       # in SDP and Contact, when behind NAT
//! min_session_secs = 90                # the shortest RFC 4028 session timer accepted
//!
//! [[sip.trunks]]
//! id = "carrier"
//! addresses = ["192.0.2.0/28"]         # where the carrier's INVITEs come from
//! inbound_username = "carrier"         # and the digest they must answer our 401 with
//! inbound_password = "their-secret"    #   (optional: the addresses alone otherwise)
//! outbound = "192.0.2.1:5060"          # where ours go (agents' dials, callbacks, schedules)
//! outbound_transport = "tcp"           # "udp" (default) or "tcp"
//! username = "switchyard"              # digest credentials for our requests, if it asks
//! password = "secret"
//! register = true                      # keep a registration there (needs the credentials)
//!
//! [[sip.routes]]
//! number = "+3225550100"               # a DID, or a prefix ending in `*`
//! queue = "support"
//! answer = "agent"                      # 200 OK when an agent answers (or "arrival")
//! ```

use engine::net::Cidr;
use engine::sip::{normalize_number, DidRoute};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::net::SocketAddr;

/// The SIP side: where it listens, the trunks it takes calls from, the numbers it answers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipConfig {
    /// Address and port for SIP over UDP and TCP; none: no SIP at all.
    pub listen: Option<String>,
    /// The carriers' trunks. An INVITE from an address in none of them gets 403.
    pub trunks: Vec<TrunkConfig>,
    /// Dialled numbers (DIDs) to queues. An INVITE for a number no route has gets 404.
    pub routes: Vec<RouteConfig>,
    /// The first and last UDP port trunk RTP legs may take (`[40000, 40999]`: open these to
    /// the carrier); any free port without it.
    pub rtp_ports: Option<[u16; 2]>,
    /// The address the carrier reaches us at, when it is not `listen`'s (behind NAT): it goes
    /// in the SDP (`c=`, `o=`) and in the Contact.
    pub public_address: Option<std::net::IpAddr>,
    /// The shortest session timer (RFC 4028 `Min-SE`, seconds) a caller may ask for: a
    /// shorter `Session-Expires` gets `422`. Default and RFC minimum 90; lower values are for
    /// tests.
    pub min_session_secs: Option<u32>,
}

/// A carrier's trunk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkConfig {
    /// Its name, in logs and journeys.
    pub id: String,
    /// The addresses or ranges (`192.0.2.10`, `192.0.2.0/28`) its requests come from: the
    /// packets' source, never what a header claims. `0.0.0.0/0` (any address) needs
    /// `inbound_username` and `inbound_password`.
    pub addresses: Vec<String>,
    /// With `inbound_password`: the digest user its INVITEs must prove, on top of coming from
    /// `addresses` (an INVITE without it gets `401` with a challenge in realm `switchyard`,
    /// one with the wrong credentials `403`).
    #[serde(default)]
    pub inbound_username: Option<String>,
    /// Its password.
    #[serde(default)]
    pub inbound_password: Option<String>,
    /// Where our INVITEs go (`address:port`): the carrier's proxy for outbound calls. A
    /// queue's calls go through the trunk its `trunk` names, else the first trunk that has
    /// one; without any, an outbound call is connected by the ingress
    /// (`POST /calls/{id}/connect`).
    #[serde(default)]
    pub outbound: Option<String>,
    /// How our requests reach `outbound`: `udp` (default) or `tcp` (one connection, opened
    /// when the first call needs it and again after the carrier closes it).
    #[serde(default)]
    pub outbound_transport: SipTransport,
    /// The digest user our INVITEs (and REGISTERs) answer the carrier's challenge with, and
    /// the user part of the registration.
    #[serde(default)]
    pub username: Option<String>,
    /// Its password.
    #[serde(default)]
    pub password: Option<String>,
    /// Keep a registration at the `outbound` address (refreshed before it expires), for
    /// carriers that route calls to a registered contact.
    #[serde(default)]
    pub register: bool,
    /// The registration's requested lifetime in seconds (default 300; the carrier may grant
    /// another).
    #[serde(default = "default_register_secs")]
    pub register_secs: u32,
}

fn default_register_secs() -> u32 {
    300
}

/// The transport of our requests to a trunk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SipTransport {
    /// Datagrams (the default).
    #[default]
    Udp,
    /// A TCP connection.
    Tcp,
}

impl TrunkConfig {
    fn validate_credentials(&self) -> Result<(), String> {
        let id = &self.id;
        if self.username.is_some() != self.password.is_some() {
            return Err(format!(
                "sip.trunks.{id}: give both username and password, or neither"
            ));
        }
        let user_chars = |u: &str| {
            u.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.+!~*'()&=$,;?/%".contains(c))
        };
        if self
            .username
            .as_deref()
            .is_some_and(|u| u.is_empty() || !user_chars(u))
        {
            return Err(format!("sip.trunks.{id}.username: give a SIP user name"));
        }
        if self.register && (self.outbound.is_none() || self.username.is_none()) {
            return Err(format!(
                "sip.trunks.{id}.register needs outbound, username and password"
            ));
        }
        if self.register && self.outbound_transport == SipTransport::Tcp {
            return Err(format!(
                "sip.trunks.{id}.register: registrations go over UDP only (outbound_transport = \"tcp\" is for calls)"
            ));
        }
        if !(60..=86_400).contains(&self.register_secs) {
            return Err(format!("sip.trunks.{id}.register_secs: give 60 to 86400"));
        }
        match (&self.inbound_username, &self.inbound_password) {
            (None, None) => {
                if self.addresses.iter().any(|a| a.ends_with("/0")) {
                    return Err(format!(
                        "sip.trunks.{id}.addresses: open to every address, it needs inbound_username and inbound_password"
                    ));
                }
            }
            (Some(u), Some(p)) if user_chars(u) && !u.is_empty() && !p.is_empty() => {}
            _ => {
                return Err(format!(
                    "sip.trunks.{id}: give inbound_username (a SIP user name) and a non-empty inbound_password together"
                ))
            }
        }
        Ok(())
    }
}

/// What a trunk's outbound side needs: where to send, and the credentials if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboundTrunk {
    /// The trunk's id.
    pub id: String,
    /// Where our requests go.
    pub to: SocketAddr,
    /// Over UDP or TCP.
    pub transport: SipTransport,
    /// Digest user and password, when configured.
    pub credentials: Option<(String, String)>,
    /// The registration lifetime asked for, when it registers.
    pub register_secs: Option<u32>,
}

/// A dialled number (or prefix) and the queue its calls go to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// `+3225550100`, or a prefix `+32255501*`; separators (`-`, `.`, spaces, brackets) are
    /// ignored.
    pub number: String,
    /// The queue.
    pub queue: String,
    /// When the caller gets its `200 OK`: `agent` (default: when an agent answers; the
    /// queue's music is early media until then) or `arrival` (at once).
    #[serde(default)]
    pub answer: engine::sip::AnswerWhen,
}

impl SipConfig {
    /// Checks the addresses, numbers and trunk names; `queues` are the configured queues.
    pub fn validate(&self, queues: &HashSet<&str>) -> Result<(), String> {
        if let Some(l) = &self.listen {
            l.parse::<SocketAddr>()
                .map_err(|e| format!("sip.listen {l:?}: {e} (give address:port)"))?;
        }
        let mut ids = HashSet::new();
        for t in &self.trunks {
            if t.id.is_empty() || !ids.insert(t.id.as_str()) {
                return Err(format!("sip.trunks: the id {:?} is empty or taken", t.id));
            }
            if t.addresses.is_empty() {
                return Err(format!("sip.trunks.{}: give its addresses", t.id));
            }
            for a in &t.addresses {
                Cidr::parse(a).map_err(|e| format!("sip.trunks.{}: {e}", t.id))?;
            }
            if let Some(o) = &t.outbound {
                o.parse::<SocketAddr>().map_err(|e| {
                    format!(
                        "sip.trunks.{}.outbound {o:?}: {e} (give address:port)",
                        t.id
                    )
                })?;
            }
            t.validate_credentials()?;
        }
        let mut numbers = HashSet::new();
        for r in &self.routes {
            let (digits, prefix) = match r.number.strip_suffix('*') {
                Some(p) => (p, true),
                None => (r.number.as_str(), false),
            };
            let Some(n) = normalize_number(digits) else {
                return Err(format!(
                    "sip.routes: {:?} is not a number (digits, an optional leading +, a trailing * for a prefix)",
                    r.number
                ));
            };
            if !numbers.insert((n, prefix)) {
                return Err(format!("sip.routes: {:?} appears twice", r.number));
            }
            if !queues.contains(r.queue.as_str()) {
                return Err(format!(
                    "sip.routes: {:?} goes to {}, which is not a configured queue",
                    r.number, r.queue
                ));
            }
        }
        if let Some([first, last]) = self.rtp_ports {
            if first < 1024 || last < first.saturating_add(1) {
                return Err(format!(
                    "sip.rtp_ports [{first}, {last}]: give [first, last], from 1024 up, at least two ports"
                ));
            }
        }
        if self
            .min_session_secs
            .is_some_and(|s| !(1..=86_400).contains(&s))
        {
            return Err("sip.min_session_secs: give 1 to 86400 (RFC 4028: 90 and up)".into());
        }
        if self
            .public_address
            .is_some_and(|a| a.is_unspecified() || a.is_multicast())
        {
            return Err("sip.public_address: give the address the carrier reaches".into());
        }
        if self.listen.is_some() && (self.trunks.is_empty() || self.routes.is_empty()) {
            return Err("sip.listen needs at least one of sip.trunks and of sip.routes".into());
        }
        Ok(())
    }

    /// The shortest session timer a caller may ask for (`Min-SE`).
    pub fn min_session(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.min_session_secs.unwrap_or(90).into())
    }

    /// The trunks as the engine's rule reads them (their ids, and their ranges); the
    /// configuration is validated.
    pub fn trunk_ranges(&self) -> Vec<(String, Vec<Cidr>)> {
        self.trunks
            .iter()
            .map(|t| {
                let ranges = t.addresses.iter().filter_map(|a| Cidr::parse(a).ok());
                (t.id.clone(), ranges.collect())
            })
            .collect()
    }

    /// The trunks our calls may go through (those with an `outbound` address), by id, in
    /// configuration order; the configuration is validated.
    pub fn outbound_trunks(&self) -> Vec<(String, OutboundTrunk)> {
        self.trunks
            .iter()
            .filter_map(|t| {
                let to = t.outbound.as_deref()?.parse().ok()?;
                let credentials = t.username.clone().zip(t.password.clone());
                let trunk = OutboundTrunk {
                    id: t.id.clone(),
                    to,
                    transport: t.outbound_transport,
                    credentials,
                    register_secs: t.register.then_some(t.register_secs),
                };
                Some((t.id.clone(), trunk))
            })
            .collect()
    }

    /// The trunk calls go through when their queue names none: the first with an
    /// `outbound` address.
    pub fn outbound_trunk(&self) -> Option<OutboundTrunk> {
        self.outbound_trunks().into_iter().next().map(|(_, t)| t)
    }

    /// The digest credentials each trunk that has them demands of its INVITEs, by trunk id.
    pub fn inbound_credentials(&self) -> std::collections::HashMap<String, (String, String)> {
        self.trunks
            .iter()
            .filter_map(|t| {
                let creds = t.inbound_username.clone().zip(t.inbound_password.clone())?;
                Some((t.id.clone(), creds))
            })
            .collect()
    }

    /// The routes as the engine's rule reads them, numbers normalized.
    pub fn did_routes(&self) -> Vec<DidRoute> {
        self.routes
            .iter()
            .filter_map(|r| {
                let (digits, star) = match r.number.strip_suffix('*') {
                    Some(p) => (p, "*"),
                    None => (r.number.as_str(), ""),
                };
                Some(DidRoute {
                    number: format!("{}{star}", normalize_number(digits)?),
                    queue: r.queue.as_str().into(),
                    answer: r.answer,
                })
            })
            .collect()
    }
}
