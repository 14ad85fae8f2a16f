//! Digest challenges to the INVITEs of trunks that have `inbound_username` and
//! `inbound_password`: an INVITE without an answer (or with another run's nonce, or a stale
//! one) gets `401` with a fresh challenge, one with the wrong credentials `403`; only a right
//! one goes on to routing. What counts as right is [`engine::sip::digest`]'s; nothing is kept
//! per caller (the nonces are stateless).

use actors::Clock;
use engine::sip::digest::{self, DigestAnswer, Expected, Verdict};
use rsipstack::sip::{Header, StatusCode};
use rsipstack::transaction::Transaction;
use std::collections::HashMap;
use std::sync::Arc;

/// The realm our challenges name.
pub(crate) const REALM: &str = "switchyard";

/// The trunks that demand a digest, and the secret of this run's nonces.
#[derive(Clone)]
pub(crate) struct Challenger {
    credentials: Arc<HashMap<String, (String, String)>>,
    secret: Arc<[u8; 32]>,
    clock: Clock,
}

impl Challenger {
    pub(crate) fn new(credentials: HashMap<String, (String, String)>) -> Challenger {
        Challenger {
            credentials: Arc::new(credentials),
            secret: Arc::new(rand::random()),
            clock: Clock::new(),
        }
    }

    /// Whether the request from `trunk` may go on; if not, it has been answered (401 or 403).
    pub(crate) async fn admit(&self, tx: &mut Transaction, trunk: &str) -> bool {
        let Some((username, password)) = self.credentials.get(trunk) else {
            return true;
        };
        let expected = Expected {
            realm: REALM,
            username,
            password,
            secret: self.secret.as_slice(),
        };
        let now = self.clock.now();
        let req = &tx.original;
        let dialled = req.uri.auth.as_ref().map(|a| a.user.as_str());
        let answer = req.headers.iter().find_map(|h| match h {
            Header::Authorization(v) => Some(DigestAnswer::parse(v.value())),
            _ => None,
        });
        let verdict = match answer {
            None => Verdict::Challenge { stale: false },
            Some(None) => Verdict::Refused,
            Some(Some(a)) => digest::verify(&a, &req.method.to_string(), dialled, &expected, now),
        };
        match verdict {
            Verdict::Accepted => true,
            Verdict::Challenge { stale } => {
                let nonce = digest::nonce(expected.secret, now);
                let challenge = digest::challenge(REALM, &nonce, stale);
                let header = Header::WwwAuthenticate(challenge.into());
                let _ = tx
                    .reply_with(StatusCode::Unauthorized, vec![header], None)
                    .await;
                false
            }
            Verdict::Refused => {
                tracing::info!(%trunk, method = %tx.original.method, "SIP request with wrong digest credentials: 403");
                let _ = tx.reply(StatusCode::Forbidden).await;
                false
            }
        }
    }
}
