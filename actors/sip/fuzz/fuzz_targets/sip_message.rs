//! Arbitrary bytes as a carrier's SIP message, read as the trunk side reads one (the stack's
//! parser, then ours: the INVITE's route, codec, session timer and caller, its digest answer,
//! its SDP and our answer to it). A crash here is a crash a datagram could cause.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = sip::read_message(data);
});
