//! A registration at the outbound trunk (`register = true`): REGISTER with the trunk's
//! credentials, refreshed at half the lifetime the carrier granted; a refused or unanswered
//! attempt is tried again after [`RETRY`], never faster.

use crate::outbound::{credential, uri};
use actors::config::OutboundTrunk;
use rsipstack::dialog::registration::Registration;
use rsipstack::transaction::endpoint::EndpointInnerRef;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long after a failed attempt the next one comes.
const RETRY: Duration = Duration::from_secs(30);

/// Keeps the registration until `token` is cancelled; the last one is removed then
/// (`Expires: 0`), as a carrier expects of a contact going away.
pub(crate) async fn keep(
    endpoint: EndpointInnerRef,
    trunk: OutboundTrunk,
    expires: u32,
    token: CancellationToken,
) {
    let mut reg = Registration::new(endpoint, credential(&trunk));
    let user = trunk.credentials.as_ref().map_or("", |(u, _)| u.as_str());
    let server = uri(user, trunk.to);
    let mut registered = false;
    loop {
        let wait = match reg.register(server.clone(), Some(expires)).await {
            Ok(r) if r.status_code.kind() == rsipstack::sip::StatusCodeKind::Successful => {
                registered = true;
                let granted = reg.expires().max(2);
                tracing::info!(trunk = %trunk.id, expires = granted, "registered at the trunk");
                Duration::from_secs(u64::from(granted / 2))
            }
            Ok(r) => {
                tracing::warn!(trunk = %trunk.id, status = %r.status_code, "the trunk refused our registration");
                RETRY
            }
            Err(e) => {
                tracing::warn!(trunk = %trunk.id, error = %e, "registering at the trunk failed");
                RETRY
            }
        };
        tokio::select! {
            _ = token.cancelled() => break,
            _ = tokio::time::sleep(wait) => {}
        }
    }
    if registered {
        let _ = tokio::time::timeout(Duration::from_secs(2), reg.register(server, Some(0))).await;
    }
}
