//! Digest authentication of a trunk's requests (RFC 3261 §22.4, the RFC 2617 digest with
//! MD5 and `qop=auth`): the challenge we send, and whether an `Authorization` answers it.
//!
//! Nonces are stateless, as RFC 2617 §3.2.1 suggests: `{issued:x}.{mac}`, the time it was
//! issued and a SHA-256 of that time under a secret the shell picks at start, so nothing is
//! kept for a caller that was challenged and never came back. A nonce is good for
//! [`NONCE_LIFETIME`]; an older one with the right password is answered with a new challenge
//! marked `stale` (the caller retries without asking its user), one with the wrong password is
//! refused. Replays within a nonce's lifetime are not detected (no nonce-count is kept): the
//! digest covers the method and the request URI, and the shell checks that the URI is the
//! number actually dialled.

use crate::Timestamp;
use md5::{Digest as _, Md5};
use sha2::Sha256;
use std::time::Duration;

/// How long a nonce we issued is accepted.
pub const NONCE_LIFETIME: Duration = Duration::from_secs(300);

/// A nonce for a challenge issued at `now`, under the shell's `secret`.
pub fn nonce(secret: &[u8], now: Timestamp) -> String {
    let issued = format!("{:x}", now.as_millis().max(0) / 1000);
    format!("{issued}.{}", mac(secret, &issued))
}

fn mac(secret: &[u8], issued: &str) -> String {
    let mut h = Sha256::new();
    h.update(secret);
    h.update(b":");
    h.update(issued.as_bytes());
    hex(&h.finalize()[..16])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn md5_hex(s: &str) -> String {
    hex(&Md5::digest(s.as_bytes()))
}

/// The `WWW-Authenticate` value of a challenge in `realm` with `nonce`; `stale` when the
/// caller's answer was right but its nonce too old.
pub fn challenge(realm: &str, nonce: &str, stale: bool) -> String {
    let stale = if stale { ", stale=true" } else { "" };
    format!("Digest realm=\"{realm}\", nonce=\"{nonce}\", algorithm=MD5, qop=\"auth\"{stale}")
}

/// A digest `Authorization` (or `Proxy-Authorization`) as the caller wrote it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DigestAnswer {
    /// The user it proves.
    pub username: String,
    /// The realm of the challenge it answers.
    pub realm: String,
    /// The nonce of the challenge it answers.
    pub nonce: String,
    /// The request URI it hashed, as written.
    pub uri: String,
    /// The hash it proves the password with.
    pub response: String,
    /// `MD5` (the default), or another it claims.
    pub algorithm: Option<String>,
    /// `auth`, when it used a quality of protection.
    pub qop: Option<String>,
    /// Its nonce count, with `qop`.
    pub nc: Option<String>,
    /// Its own nonce, with `qop`.
    pub cnonce: Option<String>,
}

impl DigestAnswer {
    /// Reads a header value `Digest name="value", name=token, …`; `None` when it is not a
    /// digest answer with a username, realm, nonce, uri and response (at most 4 KiB of it is
    /// read).
    pub fn parse(value: &str) -> Option<DigestAnswer> {
        if value.len() > 4096 {
            return None;
        }
        let value = value.trim_start();
        let (scheme, mut rest) = value.split_at(value.find(char::is_whitespace)?);
        if !scheme.eq_ignore_ascii_case("digest") {
            return None;
        }
        let mut a = DigestAnswer::default();
        loop {
            rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
            if rest.is_empty() {
                break;
            }
            let eq = rest.find('=')?;
            let name = rest[..eq].trim().to_ascii_lowercase();
            rest = rest[eq + 1..].trim_start();
            let v;
            if let Some(quoted) = rest.strip_prefix('"') {
                let end = quoted.find('"')?;
                v = quoted[..end].to_owned();
                rest = &quoted[end + 1..];
            } else {
                let end = rest.find(',').unwrap_or(rest.len());
                v = rest[..end].trim().to_owned();
                rest = &rest[end..];
            }
            let slot = match name.as_str() {
                "username" => &mut a.username,
                "realm" => &mut a.realm,
                "nonce" => &mut a.nonce,
                "uri" => &mut a.uri,
                "response" => &mut a.response,
                "algorithm" => a.algorithm.insert(String::new()),
                "qop" => a.qop.insert(String::new()),
                "nc" => a.nc.insert(String::new()),
                "cnonce" => a.cnonce.insert(String::new()),
                _ => continue,
            };
            *slot = v;
        }
        let given = [&a.username, &a.realm, &a.nonce, &a.uri, &a.response];
        given.iter().all(|s| !s.is_empty()).then_some(a)
    }

    /// The user part of the URI it hashed (`+3225550100` of `sip:+3225550100@host`).
    pub fn uri_user(&self) -> Option<&str> {
        let rest = self.uri.split_once(':')?.1;
        Some(rest.split_once('@')?.0)
    }
}

/// The credentials a trunk's requests must prove, and the secret our nonces are made with.
#[derive(Clone, Copy, Debug)]
pub struct Expected<'a> {
    /// The realm our challenges name.
    pub realm: &'a str,
    /// The trunk's user.
    pub username: &'a str,
    /// Its password.
    pub password: &'a str,
    /// What our nonces are made with.
    pub secret: &'a [u8],
}

/// What an answer to our challenge is worth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The right credentials for a fresh nonce of ours: go on.
    Accepted,
    /// Challenge again (`401`): the nonce is not ours (another run's, made up), or it is too
    /// old and the password right (`stale`, so the caller retries on its own).
    Challenge {
        /// The nonce was ours but old (`stale=true`).
        stale: bool,
    },
    /// The wrong user, realm, password or URI, or a digest we do not offer: `403`.
    Refused,
}

/// Whether `answer` proves `expected` for a `method` request to a URI whose user part is
/// `dialled`, at `now`.
pub fn verify(
    answer: &DigestAnswer,
    method: &str,
    dialled: Option<&str>,
    expected: &Expected,
    now: Timestamp,
) -> Verdict {
    let Some(issued) = issued_at(&answer.nonce, expected.secret) else {
        return Verdict::Challenge { stale: false };
    };
    let md5 = answer
        .algorithm
        .as_deref()
        .is_none_or(|a| a.eq_ignore_ascii_case("md5"));
    if !md5
        || answer.username != expected.username
        || answer.realm != expected.realm
        || answer.uri_user() != dialled
    {
        return Verdict::Refused;
    }
    let ha1 = md5_hex(&format!(
        "{}:{}:{}",
        answer.username, answer.realm, expected.password
    ));
    let ha2 = md5_hex(&format!("{method}:{}", answer.uri));
    let response = match (answer.qop.as_deref(), &answer.nc, &answer.cnonce) {
        (None, _, _) => md5_hex(&format!("{ha1}:{}:{ha2}", answer.nonce)),
        (Some(q), Some(nc), Some(cnonce)) if q.eq_ignore_ascii_case("auth") => {
            md5_hex(&format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", answer.nonce))
        }
        _ => return Verdict::Refused,
    };
    if !same(
        response.as_bytes(),
        answer.response.to_ascii_lowercase().as_bytes(),
    ) {
        return Verdict::Refused;
    }
    let age = now.since(issued);
    if age > NONCE_LIFETIME || issued > now + Duration::from_secs(5) {
        return Verdict::Challenge { stale: true };
    }
    Verdict::Accepted
}

/// When a nonce of ours was issued; `None` for one we did not make.
fn issued_at(nonce: &str, secret: &[u8]) -> Option<Timestamp> {
    let (issued, their_mac) = nonce.split_once('.')?;
    if issued.is_empty() || issued.len() > 12 || !issued.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    if !same(mac(secret, issued).as_bytes(), their_mac.as_bytes()) {
        return None;
    }
    let secs = i64::from_str_radix(issued, 16).ok()?;
    Some(Timestamp::from_millis(secs.checked_mul(1000)?))
}

/// Compares in time that depends on the lengths only.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a secret of this run";
    const EXPECTED: Expected = Expected {
        realm: "switchyard",
        username: "carrier",
        password: "pw",
        secret: SECRET,
    };

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_millis(secs * 1000)
    }

    /// What a caller computes (RFC 2617 §3.2.2 with qop=auth), written out independently.
    fn answered(nonce: &str, password: &str, uri: &str) -> DigestAnswer {
        let ha1 = md5_hex(&format!("carrier:switchyard:{password}"));
        let ha2 = md5_hex(&format!("INVITE:{uri}"));
        let response = md5_hex(&format!("{ha1}:{nonce}:00000001:0a4f113b:auth:{ha2}"));
        let header = format!(
            "Digest username=\"carrier\", realm=\"switchyard\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"0a4f113b\""
        );
        DigestAnswer::parse(&header).expect("a digest answer")
    }

    #[test]
    fn md5_is_the_rfc_one() {
        // RFC 1321's test suite.
        assert_eq!(md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
        // RFC 2617 §3.5's example (qop=auth): the response it gives.
        let ha1 = md5_hex("Mufasa:testrealm@host.com:Circle Of Life");
        let ha2 = md5_hex("GET:/dir/index.html");
        let r = md5_hex(&format!(
            "{ha1}:dcd98b7102dd2f0e8b11d0f600bfb0c093:00000001:0a4f113b:auth:{ha2}"
        ));
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn the_right_answer_to_a_fresh_nonce_is_accepted() {
        let n = nonce(SECRET, at(1_000));
        let uri = "sip:+3225550100@127.0.0.1:5070";
        let a = answered(&n, "pw", uri);
        assert_eq!(a.uri_user(), Some("+3225550100"));
        assert_eq!(
            verify(&a, "INVITE", Some("+3225550100"), &EXPECTED, at(1_010)),
            Verdict::Accepted
        );
        // Without qop (RFC 2069 style) too.
        let ha1 = md5_hex("carrier:switchyard:pw");
        let ha2 = md5_hex(&format!("INVITE:{uri}"));
        let plain = DigestAnswer {
            qop: None,
            nc: None,
            cnonce: None,
            algorithm: None,
            response: md5_hex(&format!("{ha1}:{n}:{ha2}")),
            ..a
        };
        assert_eq!(
            verify(&plain, "INVITE", Some("+3225550100"), &EXPECTED, at(1_010)),
            Verdict::Accepted
        );
    }

    #[test]
    fn a_wrong_password_user_realm_method_or_number_is_refused() {
        let n = nonce(SECRET, at(1_000));
        let uri = "sip:+3225550100@127.0.0.1";
        let now = at(1_001);
        let dialled = Some("+3225550100");
        let wrong = answered(&n, "guess", uri);
        assert_eq!(
            verify(&wrong, "INVITE", dialled, &EXPECTED, now),
            Verdict::Refused
        );
        let right = answered(&n, "pw", uri);
        // Signed for an INVITE, used for another method.
        assert_eq!(
            verify(&right, "BYE", dialled, &EXPECTED, now),
            Verdict::Refused
        );
        // Signed for one number, used to dial another.
        let other = Some("+3225550199");
        assert_eq!(
            verify(&right, "INVITE", other, &EXPECTED, now),
            Verdict::Refused
        );
        for changed in [
            DigestAnswer {
                username: "mallory".into(),
                ..right.clone()
            },
            DigestAnswer {
                realm: "elsewhere".into(),
                ..right.clone()
            },
            DigestAnswer {
                algorithm: Some("SHA-256".into()),
                ..right.clone()
            },
            DigestAnswer {
                qop: Some("auth-int".into()),
                ..right.clone()
            },
            DigestAnswer {
                cnonce: None,
                ..right.clone()
            },
        ] {
            assert_eq!(
                verify(&changed, "INVITE", dialled, &EXPECTED, now),
                Verdict::Refused
            );
        }
    }

    #[test]
    fn an_old_nonce_is_stale_and_one_not_ours_is_challenged_again() {
        let uri = "sip:+3225550100@127.0.0.1";
        let dialled = Some("+3225550100");
        let n = nonce(SECRET, at(1_000));
        let right = answered(&n, "pw", uri);
        let late = at(1_000) + NONCE_LIFETIME + Duration::from_secs(1);
        let stale = Verdict::Challenge { stale: true };
        assert_eq!(verify(&right, "INVITE", dialled, &EXPECTED, late), stale);
        // A stale nonce does not make a wrong password worth a retry.
        let wrong = answered(&n, "guess", uri);
        assert_eq!(
            verify(&wrong, "INVITE", dialled, &EXPECTED, late),
            Verdict::Refused
        );
        // Another run's nonce, a forged one, one from the future.
        let fresh = Verdict::Challenge { stale: false };
        let other_run = nonce(b"another secret", at(1_000));
        let forged = format!("{:x}.{}", 5_000, n.split_once('.').unwrap().1);
        for n in [other_run, forged, "3e8".into(), "zz.00".into(), ".".into()] {
            let a = answered(&n, "pw", uri);
            assert_eq!(
                verify(&a, "INVITE", dialled, &EXPECTED, at(1_001)),
                fresh,
                "{n}"
            );
        }
        let ahead = answered(&nonce(SECRET, at(2_000)), "pw", uri);
        assert_eq!(
            verify(&ahead, "INVITE", dialled, &EXPECTED, at(1_000)),
            stale
        );
    }

    #[test]
    fn answers_are_read_as_written_and_bad_ones_refused() {
        let a = DigestAnswer::parse(
            "digest  username=\"a,b\",realm=\"r\" , nonce=\"n\", uri=\"sip:1@h\",response=\"R\", nc=00000002, opaque=\"x\"",
        )
        .expect("parsed");
        assert_eq!(a.username, "a,b");
        assert_eq!(a.nc.as_deref(), Some("00000002"));
        assert_eq!(a.response, "R");
        assert_eq!(a.uri_user(), Some("1"));
        for bad in [
            "",
            "Basic dXNlcjpwdw==",
            "Digest username=\"a\"",
            "Digest username=\"a, realm=\"r\"",
            "Digest username",
            &format!("Digest username=\"{}\"", "a".repeat(5000)),
        ] {
            assert_eq!(DigestAnswer::parse(bad), None, "{bad}");
        }
        assert_eq!(
            challenge("switchyard", "abc.def", true),
            "Digest realm=\"switchyard\", nonce=\"abc.def\", algorithm=MD5, qop=\"auth\", stale=true"
        );
    }
}
