//! A trunk that demands a digest (`inbound_username`, `inbound_password`) of its INVITEs,
//! against a real SIP peer (sipp as the carrier, computing its own digest): an INVITE with no
//! answer gets `401` with our challenge, one with the wrong password `403`, and neither makes
//! a call; the right answer is a call ringing in its route's queue.

use serde_json::Value;
use std::time::Duration;
use tests::sipp::{caller, free_port, present as sipp_present};
use tests::{eventually, start_server, Database};

const T: Duration = Duration::from_secs(15);
const DID: &str = "+3225550100";
const CALLER: &str = "+15550001234";

fn config(port: u16) -> String {
    format!(
        r#"
[[queues]]
id = "support"

[[users]]
username = "root"
password = "pw-r"
role = "admin"

[sip]
listen = "127.0.0.1:{port}"

[[sip.trunks]]
id = "carrier"
addresses = ["0.0.0.0/0"]
inbound_username = "carrier"
inbound_password = "their-s3cret"

[[sip.routes]]
number = "{DID}"
queue = "support"
"#
    )
}

/// One sipp call to the trunk port with `xml`; its exit status says whether every expected
/// message came. Its digest covers the request URI (sipp's default leaves the number out,
/// which we refuse: an answer must be for the number it dials).
async fn sipp(port: u16, xml: String) -> anyhow::Result<bool> {
    let auth_uri = format!("{DID}@127.0.0.1:{port}");
    let args: Vec<String> = ["-i", "127.0.0.1", "-mi", "127.0.0.1", "-p", "0", "-s", DID]
        .iter()
        .map(|s| s.to_string())
        .chain(["-auth_uri".into(), auth_uri, format!("127.0.0.1:{port}")])
        .collect();
    tests::sipp::run(&xml, &tests::sipp::tone_ulaw(440.0, 1), &args).await
}

#[tokio::test]
async fn a_digest_trunks_invite_is_challenged_and_only_the_right_answer_makes_a_call(
) -> anyhow::Result<()> {
    if !sipp_present() {
        return Ok(());
    }
    let port = free_port();
    let db = Database::sqlite();
    let server = start_server!(&db, Some(&config(port)))?;
    let root = server.login("root", "pw-r").await?;

    // No answer to a challenge: 401, and nothing made.
    assert!(
        sipp(port, caller::refused(CALLER, 401)).await?,
        "an INVITE without credentials gets 401"
    );
    // The wrong password: challenged, then 403.
    let wrong = caller::authenticated(CALLER, "carrier", "guess", 403);
    assert!(sipp(port, wrong).await?, "the wrong password gets 403");
    // Another user with the trunk's password: 403 too.
    let other = caller::authenticated(CALLER, "mallory", "their-s3cret", 403);
    assert!(sipp(port, other).await?, "another user gets 403");
    assert_eq!(server.calls(&root).await?, Vec::<Value>::new());

    // The right one: a call in the route's queue, ringing (183 with the queue's music) until
    // the caller cancels it.
    let right = caller::authenticated(CALLER, "carrier", "their-s3cret", 183);
    let caller = tokio::spawn(sipp(port, right));
    let call = eventually("the authenticated call", T, || async {
        server.calls(&root).await.ok()?.first().cloned()
    })
    .await;
    assert_eq!(
        (call["queue"].as_str(), call["from"].as_str()),
        (Some("support"), Some(CALLER)),
        "{call}"
    );
    assert!(
        caller.await??,
        "the caller's side failed (no 183 after the challenge)"
    );
    let id = call["id"].as_str().unwrap_or_default();
    let ended = server.ended_call(&root, id).await;
    assert_eq!(ended["result"], "abandoned", "{ended}");
    assert_eq!(server.calls(&root).await?.len(), 1, "one call in all");
    Ok(())
}
