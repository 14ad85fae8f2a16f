//! Audio building blocks for the media actor (feature H of the spec): everything a call's
//! media path does to samples, kept free of I/O so that each piece is tested on its own.
//!
//! - [`g711`]: PCMU (µ-law) encode and decode;
//! - [`resample`]: between 8, 16 and 48 kHz (Opus legs, the transcriber's 16 kHz), with
//!   anti-aliasing;
//! - [`codec`]: PCMU and Opus, and what a negotiation settled;
//! - [`arrivals`]: a stream's lost and late packets;
//! - [`jitter`]: the playout buffer that re-times a carrier's RTP onto the call's 20 ms clock;
//! - [`tone`]: sine generators (hold music's default tone sequence) and a Goertzel detector;
//! - [`wav`]: the call recording, honouring stop and mask (a masked stretch is silence);
//! - [`dtmf`]: RFC 4733 telephone-event payloads;
//! - [`fork`]: a bounded per-leg channel of 16 kHz frames that drops the oldest frame rather
//!   than slow the bridge.
//!
//! On top of them: [`leg`] (a WebRTC audio leg, on the [`threads`] by default, built with
//! the [`sansio`] plumbing), [`pump`] (one call's audio routing, the
//! conference mix in which each party hears the others and not itself,
//! hold music, forks and recording) and [`actor`] (the media actor per call, supervised by
//! its call actor).

pub mod actor;
pub mod arrivals;
pub mod codec;
pub mod dtmf;
pub mod fork;
pub mod g711;
pub mod jitter;
pub mod leg;
pub mod pump;
pub mod resample;
pub mod sansio;
pub mod threads;
pub mod tone;
pub mod transcript;
pub mod wav;

/// A WebRTC session description (offer or answer), as signalling carries it.
pub use webrtc::peer_connection::{RTCSdpType, RTCSessionDescription};

/// Checks that a description is an offer whose SDP parses and carries an audio section with
/// a codec our legs speak, PCMU (payload type 0) or Opus (by its `rtpmap`, at any dynamic
/// payload type): what signalling refuses with a 4xx before anything is created. Browsers
/// offer both; some stacks offer Opus alone.
pub fn check_offer(offer: &RTCSessionDescription) -> Result<(), String> {
    if offer.sdp_type != RTCSdpType::Offer {
        return Err("send the offer; the answer comes back".into());
    }
    let parsed = offer
        .unmarshal()
        .map_err(|e| format!("the SDP does not parse: {e}"))?;
    let audio = parsed
        .media_descriptions
        .iter()
        .find(|m| m.media_name.media == "audio")
        .ok_or("the offer has no audio section")?;
    let pcmu = audio.media_name.formats.iter().any(|f| f == "0");
    let opus = audio.attributes.iter().any(|a| {
        a.key == "rtpmap"
            && a.value.as_deref().is_some_and(|v| {
                let mut parts = v.split_whitespace();
                let pt = parts.next().unwrap_or_default();
                let name = parts.next().unwrap_or_default();
                audio.media_name.formats.iter().any(|f| f == pt)
                    && name
                        .split('/')
                        .next()
                        .is_some_and(|n| n.eq_ignore_ascii_case("opus"))
            })
    });
    if !pcmu && !opus {
        return Err("the offer's audio has neither PCMU (payload type 0) nor Opus".into());
    }
    Ok(())
}
