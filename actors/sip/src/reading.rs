//! What the trunk side reads of a carrier's message before anything is made of it: whether it
//! arrived whole, and for a new INVITE, its route, the codec of our answer, its session timer
//! and its caller, or the response that refuses it. Pure (no dialog, no call, no socket), so
//! the fuzz targets (`actors/sip/fuzz`) drive exactly this code with arbitrary bytes through
//! [`read_message`].

use crate::{sdp, session_timer};
use engine::sip::{
    answer_codec, route_for, session_timer, DidRoute, SessionTimer, TimerRefusal, TrunkCodec,
    TRUNK_CODECS,
};
use rsipstack::sip::prelude::*;
use rsipstack::sip::{Header, Request, StatusCode};
use std::time::Duration;

/// A new INVITE we take.
#[derive(Debug)]
pub(crate) struct Invite {
    /// The route of its dialled number.
    pub(crate) route: DidRoute,
    /// What we answer in: G.722 when offered, else its first G.711.
    pub(crate) codec: TrunkCodec,
    /// The session timer it asked for and we agree to.
    pub(crate) timer: Option<SessionTimer>,
    /// Its From user (`anonymous` when it has none we can show).
    pub(crate) caller: String,
}

/// Why an INVITE is refused, and the response that says so.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) status: StatusCode,
    pub(crate) headers: Vec<Header>,
    pub(crate) why: &'static str,
}

fn refused(status: StatusCode, why: &'static str) -> Refusal {
    Refusal {
        status,
        headers: Vec::new(),
        why,
    }
}

/// Reads a new INVITE: `404` for a number no route has, `488` for an offer with no codec we
/// speak, `422` (with our `Min-SE`) for too short a session timer, `400` for an unreadable
/// one.
pub(crate) fn invite(
    req: &Request,
    routes: &[DidRoute],
    min_session: Duration,
) -> Result<Invite, Refusal> {
    let dialled = req.uri.auth.as_ref().map(|a| a.user.as_str());
    let route = dialled
        .and_then(|n| route_for(n, routes))
        .cloned()
        .ok_or_else(|| refused(StatusCode::NotFound, "a number no route has"))?;
    let offered = sdp::audio_payload_types(req.body());
    let codec = answer_codec(&offered, &TRUNK_CODECS)
        .ok_or_else(|| refused(StatusCode::NotAcceptableHere, "no codec we speak"))?;
    let asked = session_timer::requested(&req.headers)
        .map_err(|_| refused(StatusCode::BadRequest, "an unreadable Session-Expires"))?;
    let timer =
        session_timer(asked, min_session).map_err(|TimerRefusal::TooSmall { min }| Refusal {
            headers: vec![Header::MinSE(min.as_secs().to_string().into())],
            ..refused(StatusCode::SessionIntervalTooSmall, "too short a session")
        })?;
    let caller = req
        .from_header()
        .ok()
        .and_then(|f| f.uri().ok())
        .and_then(|u| u.auth.map(|a| a.user))
        .filter(|u| !u.is_empty() && u.len() <= 64)
        .unwrap_or_else(|| "anonymous".into());
    Ok(Invite {
        route,
        codec,
        timer,
        caller,
    })
}

/// Whether the request's Content-Length announces more body than arrived (or is not a
/// number): a truncated message.
pub(crate) fn truncated(req: &Request) -> bool {
    req.headers.iter().any(|h| match h {
        Header::ContentLength(l) => l
            .value()
            .trim()
            .parse::<usize>()
            .map_or(true, |n| n > req.body().len()),
        _ => false,
    })
}

/// Everything the trunk side reads of `bytes` as a carrier's message, as it reads it: the
/// message itself (the stack's parser), then for a request whether it is whole, what an
/// INVITE would get (and our SDP answer, and the answer to a re-offer), its digest answer
/// checked against a trunk's credentials; for a response, its session timer and what its
/// status means for a call we placed. Returns whether an INVITE would have been taken. For
/// the fuzz targets; it panics only where the code it drives would.
#[doc(hidden)]
pub fn read_message(bytes: &[u8]) -> bool {
    let Ok(msg) = rsipstack::sip::SipMessage::try_from(bytes) else {
        return false;
    };
    let req = match msg {
        rsipstack::sip::SipMessage::Request(r) => r,
        rsipstack::sip::SipMessage::Response(r) => {
            let _ = session_timer::requested(&r.headers);
            let _ = engine::sip::progress_of(r.status_code.code());
            read_sdp(&r.body);
            return false;
        }
    };
    let _ = truncated(&req);
    let _ = req.via_header().ok().and_then(|v| v.typed().ok());
    let routes = [DidRoute {
        number: "+3225550*".into(),
        queue: "support".into(),
        answer: engine::sip::AnswerWhen::Agent,
    }];
    for value in req.headers.iter().filter_map(|h| match h {
        Header::Authorization(v) => Some(v.value()),
        _ => None,
    }) {
        if let Some(a) = engine::sip::digest::DigestAnswer::parse(value) {
            let expected = engine::sip::digest::Expected {
                realm: crate::auth::REALM,
                username: "carrier",
                password: "pw",
                secret: b"fuzz",
            };
            let dialled = req.uri.auth.as_ref().map(|a| a.user.as_str());
            let now = engine::Timestamp::from_millis(0);
            let _ = engine::sip::digest::verify(&a, "INVITE", dialled, &expected, now);
        }
    }
    read_sdp(req.body());
    match invite(&req, &routes, Duration::from_secs(90)) {
        Ok(i) => {
            let rtp = std::net::SocketAddr::from(([127, 0, 0, 1], 40_000));
            let mut ours = sdp::Ours::answer(rtp, i.codec, 1, req.body());
            let _ = ours.bytes();
            let _ = ours.reanswer(req.body());
            true
        }
        Err(_) => false,
    }
}

/// What the RTP side reads of an SDP body: the payload types, the codec a leg sends, the
/// address it sends to, the direction, the telephone events.
fn read_sdp(body: &[u8]) {
    let _ = sdp::audio_payload_types(body);
    let _ = sdp::direction(body);
    let _ = sdp::telephone_events(body);
    if let Ok(text) = std::str::from_utf8(body) {
        let _ = actors::media::codec::trunk_codec(text);
        let _ = actors::media::leg::remote_of(text);
    }
}
