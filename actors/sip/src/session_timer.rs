//! RFC 4028 session timers on trunk calls: a caller that asks for one (`Session-Expires`)
//! gets it in our `200 OK`; the calls we place ask for one and run what the called side's
//! `2xx` answers; either way a call whose refreshes stop ends instead of keeping an agent "on
//! a call" forever. The rules (which timer, when to end, when to refresh) are `engine::sip`'s;
//! this module reads the header and keeps the timer of each answered call.

use actors::Switchyard;
use engine::call::Party;
use engine::sip::{Refresher, SessionTimer};
use engine::CallId;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::{Header, Headers, StatusCodeKind};
use std::time::Duration;
use tokio::sync::mpsc;

/// A message's `Session-Expires` (interval and refresher, if it named one); `Err` for a
/// header that is not `delta-seconds[;refresher=uac|uas][;params]` (an INVITE's is answered
/// 400).
pub(crate) fn requested(
    headers: &Headers,
) -> Result<Option<(Duration, Option<Refresher>)>, String> {
    let Some(value) = headers.iter().find_map(|h| match h {
        Header::SessionExpires(v) => Some(v.value().to_owned()),
        _ => None,
    }) else {
        return Ok(None);
    };
    let mut parts = value.split(';').map(str::trim);
    let secs = parts
        .next()
        .and_then(|s| s.parse::<u32>().ok())
        .ok_or_else(|| format!("Session-Expires {value:?} is not a number of seconds"))?;
    let mut refresher = None;
    for p in parts {
        if let Some((name, v)) = p.split_once('=') {
            if name.trim().eq_ignore_ascii_case("refresher") {
                refresher = match v.trim().to_ascii_lowercase().as_str() {
                    "uac" => Some(Refresher::Uac),
                    "uas" => Some(Refresher::Uas),
                    _ => {
                        return Err(format!(
                            "Session-Expires {value:?}: refresher is uac or uas"
                        ))
                    }
                };
            }
        }
    }
    Ok(Some((Duration::from_secs(secs.into()), refresher)))
}

/// The headers that state the timer in a `2xx` (the answer, and each refresh's response).
pub(crate) fn headers(timer: &SessionTimer) -> Vec<Header> {
    vec![
        Header::SessionExpires(timer.header_value().into()),
        Header::Require("timer".into()),
    ]
}

/// The headers that ask for a timer on an INVITE we send: `offered` seconds (the called side
/// picks the refresher), nothing below `min`.
pub(crate) fn offer_headers(offered: Duration, min: Duration) -> Vec<Header> {
    vec![
        Header::Supported("timer".into()),
        Header::SessionExpires(offered.as_secs().to_string().into()),
        Header::MinSE(min.as_secs().to_string().into()),
    ]
}

/// Keeps an answered call's timer, on our side of the dialog (`us`: `Uas` for a caller's
/// call, `Uac` for one we placed): told of each refresh through the returned sender; ends
/// the call for `party` (`session_expired` in its journey) when the other side's refreshes
/// stop, or refreshes it with an UPDATE when we are the refresher (a refresh refused or
/// unanswered ends it too). It stops once the sender is dropped (the call's leg is
/// forgotten).
pub(crate) fn keep(
    yard: Switchyard,
    call: CallId,
    dialog: InviteDialog,
    timer: SessionTimer,
    us: Refresher,
    party: Party,
) -> mpsc::UnboundedSender<()> {
    let (tx, mut refreshed) = mpsc::unbounded_channel();
    let we_refresh = timer.refresher == us;
    tokio::spawn(async move {
        loop {
            let wait = if we_refresh {
                timer.refresh_after()
            } else {
                timer.bye_after()
            };
            match tokio::time::timeout(wait, refreshed.recv()).await {
                Ok(Some(())) => continue,
                Ok(None) => return,
                Err(_) if we_refresh => {
                    let answer = dialog.update(Some(headers(&timer)), None).await;
                    let ok = matches!(&answer, Ok(Some(r)) if r.status_code.kind() == StatusCodeKind::Successful);
                    if !ok {
                        tracing::info!(%call, ?answer, "the trunk party did not take our session refresh: ended");
                        return lost(&yard, &call, party).await;
                    }
                }
                Err(_) => {
                    tracing::info!(%call, interval = ?timer.interval, "the trunk party's session was not refreshed: ended");
                    return lost(&yard, &call, party).await;
                }
            }
        }
    });
    tx
}

/// The trunk party of a call whose session expired is gone.
async fn lost(yard: &Switchyard, call: &CallId, party: Party) {
    match party {
        Party::Customer => yard.customer_lost(call.as_str(), "session_expired"),
        other => {
            let _ = yard.hangup(call.as_str(), other).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite(extra: &str) -> Headers {
        let text = format!(
            "INVITE sip:+3225550100@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:+3225550100@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        match rsipstack::sip::SipMessage::try_from(text.as_str()).unwrap() {
            rsipstack::sip::SipMessage::Request(r) => r.headers,
            _ => unreachable!("a request"),
        }
    }

    #[test]
    fn the_callers_session_expires_is_read_and_a_bad_one_refused() {
        let secs = Duration::from_secs;
        assert_eq!(requested(&invite("")), Ok(None));
        assert_eq!(
            requested(&invite("Session-Expires: 1800;refresher=uac\r\n")),
            Ok(Some((secs(1800), Some(Refresher::Uac))))
        );
        assert_eq!(
            requested(&invite("x: 90 ; Refresher=UAS;foo=1\r\n")),
            Ok(Some((secs(90), Some(Refresher::Uas))))
        );
        assert_eq!(
            requested(&invite("Session-Expires: 600\r\n")),
            Ok(Some((secs(600), None)))
        );
        for bad in ["soon", "-5", "99999999999", "90;refresher=both"] {
            assert!(
                requested(&invite(&format!("Session-Expires: {bad}\r\n"))).is_err(),
                "{bad}"
            );
        }
    }
}
