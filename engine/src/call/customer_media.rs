//! The customer's own audio leg (a web call's WebRTC): once the customer speaks over a leg of
//! ours, losing it (no audio for a while, or the process restarted) is the customer hanging
//! up, with the result a hang-up has at that moment.

use super::{Call, Effects, JourneyEvent, Party};
use crate::{Error, Timestamp};

impl Call {
    /// The customer's audio now comes over one of our media legs (a web call): from now on,
    /// losing it is the customer leaving ([`Call::customer_media_lost`]). Whether this is
    /// news (to be saved).
    pub fn customer_media_attached(&mut self) -> bool {
        !std::mem::replace(&mut self.customer_media, true)
    }

    /// Whether the customer's audio comes over one of our media legs.
    pub fn has_customer_media(&self) -> bool {
        self.customer_media
    }

    /// The customer's audio stopped or never came (`no_audio`), or its leg is gone with the
    /// process (`restart`): the customer has hung up, with the result a hang-up has then
    /// (abandoned while waiting, cancelled while ringing, answered once connected).
    pub fn customer_media_lost(&mut self, now: Timestamp, reason: &str) -> Result<Effects, Error> {
        if !self.customer_media || self.state.is_final() {
            return Err(Error::CallState(
                self.id.clone(),
                self.state.as_str().into(),
                "lose the customer's media",
            ));
        }
        self.log(
            now,
            JourneyEvent::CustomerMediaLost {
                reason: reason.to_owned(),
            },
        );
        self.hangup(now, Party::Customer)
    }
}
