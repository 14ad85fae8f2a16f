//! Audio codecs of a leg (H1, H3): PCMU and PCMA (G.711, 8 kHz), G.722 (16 kHz wideband, trunk
//! legs; the `audio-codec` crate's pure-Rust SB-ADPCM) and Opus (48 kHz, through libopus),
//! and what a negotiation settled: the codec to send — the remote's first choice among those
//! the leg offers, so "the codec is chosen from the offer" — with its payload type, the
//! telephone-event payload type at that clock rate, and how to read every payload type the
//! remote may send. The bridge works in 8 kHz frames; an Opus leg converts at its edge.

use crate::media::g711;
use crate::media::resample::Resampler;
use std::collections::HashMap;

/// A codec a leg can speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    /// G.711 µ-law, 8 kHz, static payload type 0.
    Pcmu,
    /// G.711 A-law, 8 kHz, static payload type 8 (trunk legs: Europe's telephone codec).
    Pcma,
    /// Opus, 48 kHz (declared two channels in SDP; sent mono).
    Opus,
    /// G.722, 16 kHz audio on an 8 kHz RTP clock (RFC 3551 §4.5.2), static payload type 9
    /// (trunk legs: wideband telephony).
    G722,
}

impl Codec {
    /// The RTP clock rate (8 kHz for G.722, whose audio is 16 kHz).
    pub fn clock_rate(self) -> u32 {
        match self {
            Codec::Pcmu | Codec::Pcma | Codec::G722 => 8_000,
            Codec::Opus => 48_000,
        }
    }

    /// The rate of its audio: what [`Decoder::decode_native`] gives.
    pub fn sample_rate(self) -> u32 {
        match self {
            Codec::G722 => 16_000,
            c => c.clock_rate(),
        }
    }

    /// The SDP encoding name.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
            Codec::Opus => "opus",
            Codec::G722 => "G722",
        }
    }

    fn from_name(name: &str) -> Option<Codec> {
        if name.eq_ignore_ascii_case("PCMU") {
            Some(Codec::Pcmu)
        } else if name.eq_ignore_ascii_case("PCMA") {
            Some(Codec::Pcma)
        } else if name.eq_ignore_ascii_case("opus") {
            Some(Codec::Opus)
        } else if name.eq_ignore_ascii_case("G722") {
            Some(Codec::G722)
        } else {
            None
        }
    }
}

/// What a payload type carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payload {
    /// Audio in this codec.
    Audio(Codec),
    /// RFC 4733 telephone events at this clock rate.
    Events(u32),
}

/// What a negotiation settled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// The codec sent, and its payload type.
    pub send: (Codec, u8),
    /// The telephone-event payload type at the send codec's clock rate, if agreed.
    pub events: Option<u8>,
    /// Every payload type the remote may send.
    pub receive: HashMap<u8, Payload>,
}

impl Negotiated {
    /// Reads the remote description's audio section: its payload types by name, and the first
    /// one this leg speaks (`ours`) as the codec to send.
    pub fn from_remote_sdp(sdp: &str, ours: &[Codec]) -> Result<Negotiated, String> {
        let mut order: Vec<u8> = Vec::new();
        let mut names: HashMap<u8, (String, u32)> = HashMap::new();
        let mut in_audio = false;
        for line in sdp.lines().map(str::trim) {
            if let Some(m) = line.strip_prefix("m=") {
                in_audio = m.starts_with("audio ");
                if in_audio && order.is_empty() {
                    order = m
                        .split_whitespace()
                        .skip(3)
                        .filter_map(|f| f.parse().ok())
                        .collect();
                }
            } else if in_audio {
                if let Some(map) = line.strip_prefix("a=rtpmap:") {
                    let mut it = map.splitn(2, ' ');
                    let pt = it.next().and_then(|p| p.parse::<u8>().ok());
                    let enc = it.next().unwrap_or_default();
                    let mut parts = enc.split('/');
                    let name = parts.next().unwrap_or_default().to_owned();
                    let rate = parts.next().and_then(|r| r.parse().ok()).unwrap_or(8_000);
                    if let Some(pt) = pt {
                        names.insert(pt, (name, rate));
                    }
                }
            }
        }
        // Payload type 0 is PCMU even without an rtpmap line (RFC 3551).
        names.entry(0).or_insert_with(|| ("PCMU".to_owned(), 8_000));
        names.entry(8).or_insert_with(|| ("PCMA".to_owned(), 8_000));
        names.entry(9).or_insert_with(|| ("G722".to_owned(), 8_000));
        let mut receive = HashMap::new();
        for (&pt, (name, rate)) in &names {
            if let Some(c) = Codec::from_name(name) {
                receive.insert(pt, Payload::Audio(c));
            } else if name.eq_ignore_ascii_case("telephone-event") {
                receive.insert(pt, Payload::Events(*rate));
            }
        }
        let send = order
            .iter()
            .find_map(|pt| match receive.get(pt) {
                Some(Payload::Audio(c)) if ours.contains(c) => Some((*c, *pt)),
                _ => None,
            })
            .ok_or("no audio codec in common (this leg speaks PCMU and Opus)")?;
        let events = order
            .iter()
            .copied()
            .find(|pt| receive.get(pt) == Some(&Payload::Events(send.0.clock_rate())));
        Ok(Negotiated {
            send,
            events,
            receive,
        })
    }
}

/// The payload types of an SDP's first `m=audio` line, in its order (its preference); the
/// first 64 at most, and those that are not numbers left out.
pub fn audio_payload_types(sdp: &str) -> Vec<u8> {
    sdp.lines()
        .find_map(|l| l.trim().strip_prefix("m=audio "))
        .map(|m| {
            m.split_whitespace()
                .skip(2)
                .take(64)
                .filter_map(|pt| pt.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The codec a trunk leg sends to a party whose SDP is `sdp`: the one our SDP answer names
/// ([`engine::sip::answer_codec`] on its audio payload types: G.722 wherever it is listed, else
/// the party's first G.711); `None` when it lists none of them.
pub fn trunk_codec(sdp: &str) -> Option<Codec> {
    use engine::sip::{answer_codec, TrunkCodec, TRUNK_CODECS};
    answer_codec(&audio_payload_types(sdp), &TRUNK_CODECS).map(|c| match c {
        TrunkCodec::Pcmu => Codec::Pcmu,
        TrunkCodec::Pcma => Codec::Pcma,
        TrunkCodec::G722 => Codec::G722,
    })
}

/// Turns the bridge's 8 kHz frames into payloads of the send codec.
pub struct Encoder {
    codec: Codec,
    opus: Option<(opus::Encoder, Resampler)>,
    g722: Option<(audio_codec::g722::G722Encoder, Resampler)>,
}

impl Encoder {
    /// An encoder for `codec`.
    pub fn new(codec: Codec) -> Result<Encoder, String> {
        let g722 = (codec == Codec::G722).then(|| {
            let up = Resampler::new(8_000, 16_000).expect("8 kHz to 16 kHz is supported");
            (audio_codec::g722::G722Encoder::new(), up)
        });
        let opus = match codec {
            Codec::Pcmu | Codec::Pcma | Codec::G722 => None,
            Codec::Opus => {
                let enc = opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip)
                    .map_err(|e| format!("opus encoder: {e}"))?;
                let up = Resampler::new(8_000, 48_000).map_err(|e| e.to_string())?;
                Some((enc, up))
            }
        };
        Ok(Encoder { codec, opus, g722 })
    }

    /// The payload for one 8 kHz frame.
    pub fn encode(&mut self, pcm: &[i16]) -> Result<Vec<u8>, String> {
        if let Some((enc, up)) = &mut self.g722 {
            return Ok(audio_codec::Encoder::encode(enc, &up.process(pcm)));
        }
        match (&mut self.opus, self.codec) {
            (Some((enc, up)), _) => {
                let wide = up.process(pcm);
                let mut out = vec![0u8; 1_275];
                let n = enc
                    .encode(&wide, &mut out)
                    .map_err(|e| format!("opus encode: {e}"))?;
                out.truncate(n);
                Ok(out)
            }
            (None, Codec::Pcma) => Ok(g711::encode_alaw_frame(pcm)),
            _ => Ok(g711::encode_frame(pcm)),
        }
    }
}

impl Encoder {
    /// The payload for one 20 ms frame at the codec's own rate (160 samples at 8 kHz for PCMU,
    /// 320 at 16 kHz for G.722, 960 at 48 kHz for Opus): what a telephone or a browser sends,
    /// full band.
    pub fn encode_native(&mut self, pcm: &[i16]) -> Result<Vec<u8>, String> {
        if let Some((enc, _)) = &mut self.g722 {
            return Ok(audio_codec::Encoder::encode(enc, pcm));
        }
        match &mut self.opus {
            Some((enc, _)) => {
                let mut out = vec![0u8; 1_275];
                let n = enc
                    .encode(pcm, &mut out)
                    .map_err(|e| format!("opus encode: {e}"))?;
                out.truncate(n);
                Ok(out)
            }
            None if self.codec == Codec::Pcma => Ok(g711::encode_alaw_frame(pcm)),
            None => Ok(g711::encode_frame(pcm)),
        }
    }
}

/// Turns received audio payloads into audio at the codec's own rate (for the transcriber's
/// fork, which takes a leg's full band) and into the bridge's 8 kHz frames.
#[derive(Default)]
pub struct Decoder {
    opus: Option<opus::Decoder>,
    g722: Option<audio_codec::g722::G722Decoder>,
    /// The codec's rate to the bridge's 8 kHz (Opus, G.722), and the rate it converts from.
    down: Option<(u32, Resampler)>,
}

impl Decoder {
    /// The 8 kHz frame of one payload in `codec` (`None` for an undecodable one).
    pub fn decode(&mut self, codec: Codec, payload: &[u8]) -> Option<Vec<i16>> {
        let native = self.decode_native(codec, payload)?;
        Some(self.to_bridge(codec, native))
    }

    /// One payload's audio at `codec`'s [`Codec::sample_rate`]: 8 kHz for G.711, 16 kHz for
    /// G.722, 48 kHz for Opus (`None` for an undecodable payload).
    pub fn decode_native(&mut self, codec: Codec, payload: &[u8]) -> Option<Vec<i16>> {
        match codec {
            Codec::Pcmu => Some(g711::decode_frame(payload)),
            Codec::Pcma => Some(g711::decode_alaw_frame(payload)),
            Codec::G722 => {
                let dec = self
                    .g722
                    .get_or_insert_with(audio_codec::g722::G722Decoder::new);
                Some(audio_codec::Decoder::decode(dec, payload))
            }
            Codec::Opus => {
                if self.opus.is_none() {
                    self.opus = Some(opus::Decoder::new(48_000, opus::Channels::Mono).ok()?);
                }
                let dec = self.opus.as_mut()?;
                // Up to 120 ms per packet at 48 kHz.
                let mut wide = vec![0i16; 5_760];
                let n = dec.decode(payload, &mut wide, false).ok()?;
                wide.truncate(n);
                Some(wide)
            }
        }
    }

    /// Audio from [`Decoder::decode_native`] as the bridge's 8 kHz frame.
    pub fn to_bridge(&mut self, codec: Codec, native: Vec<i16>) -> Vec<i16> {
        let rate = codec.sample_rate();
        if rate == 8_000 {
            return native;
        }
        let down = match &mut self.down {
            Some((r, down)) if *r == rate => down,
            slot => {
                let down = Resampler::new(rate, 8_000).expect("16 and 48 kHz are supported");
                &mut slot.insert((rate, down)).1
            }
        };
        down.process(&native)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::resample::To16k;
    use crate::media::tone::{goertzel, Sine};

    const CHROME_LIKE: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:63 red/48000/2\r\na=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:13 CN/8000\r\na=rtpmap:110 telephone-event/48000\r\na=rtpmap:126 telephone-event/8000\r\n";

    #[test]
    fn the_remotes_first_common_codec_is_sent_with_its_events() {
        let n = Negotiated::from_remote_sdp(CHROME_LIKE, &[Codec::Opus, Codec::Pcmu]).unwrap();
        assert_eq!((n.send, n.events), ((Codec::Opus, 111), Some(110)));
        assert_eq!(n.receive[&0], Payload::Audio(Codec::Pcmu));
        assert_eq!(n.receive[&126], Payload::Events(8_000));
        let n = Negotiated::from_remote_sdp(CHROME_LIKE, &[Codec::Pcmu]).unwrap();
        assert_eq!((n.send, n.events), ((Codec::Pcmu, 0), Some(126)));
        let none = "v=0\r\nm=audio 9 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n";
        assert!(Negotiated::from_remote_sdp(none, &[Codec::Pcmu, Codec::Opus]).is_err());
    }

    #[test]
    fn an_opus_legs_native_audio_keeps_its_wide_band_for_the_fork() {
        // A browser's Opus carries up to 20 kHz; the fork's 16 kHz keeps up to 8 kHz, the
        // bridge's 8 kHz only up to 4 kHz. 6 kHz tells them apart.
        let mut enc =
            opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
        let mut tone = Sine::new(6_000.0, 48_000, 8_000);
        let (mut dec, mut to16k) = (Decoder::default(), To16k::new(48_000).unwrap());
        let (mut wide, mut narrow) = (Vec::new(), Vec::new());
        for _ in 0..50 {
            let frame = tone.take(960);
            let mut out = vec![0u8; 1_275];
            let n = enc.encode(&frame, &mut out).unwrap();
            let native = dec.decode_native(Codec::Opus, &out[..n]).unwrap();
            assert_eq!(native.len(), 960, "20 ms at 48 kHz");
            wide.extend(to16k.process(&native));
            narrow.extend(dec.to_bridge(Codec::Opus, native));
        }
        let (wide, narrow) = (&wide[8_000..], &narrow[4_000..]);
        assert!(
            goertzel(wide, 6_000.0, 16_000) > 0.01,
            "the fork hears 6 kHz"
        );
        assert!(
            narrow.iter().all(|s| s.unsigned_abs() < 300),
            "the bridge cannot carry it"
        );
        // PCMU's native audio is its 8 kHz frame.
        let mut pcmu = Decoder::default();
        let payload = g711::encode_frame(&[1_000; 160]);
        assert_eq!(
            pcmu.decode_native(Codec::Pcmu, &payload).unwrap().len(),
            160
        );
    }

    #[test]
    fn g722_carries_a_wideband_tone_and_the_bridges_frames() {
        // Its own 16 kHz: 6 kHz, beyond any G.711, comes through for the transcriber's fork.
        let mut enc = Encoder::new(Codec::G722).unwrap();
        let mut dec = Decoder::default();
        let mut tone = Sine::new(6_000.0, 16_000, 8_000);
        let mut wide = Vec::new();
        for _ in 0..50 {
            let payload = enc.encode_native(&tone.take(320)).unwrap();
            assert_eq!(payload.len(), 160, "64 kbit/s: 160 bytes per 20 ms");
            wide.extend(dec.decode_native(Codec::G722, &payload).unwrap());
        }
        assert_eq!(wide.len(), 50 * 320);
        assert!(goertzel(&wide[3_200..], 6_000.0, 16_000) > 0.01);
        // The bridge's 8 kHz frames go through it both ways.
        let (mut enc, mut dec) = (Encoder::new(Codec::G722).unwrap(), Decoder::default());
        let mut tone = Sine::new(600.0, 8_000, 8_000);
        let mut out = Vec::new();
        for _ in 0..50 {
            let payload = enc.encode(&tone.take(160)).unwrap();
            let frame = dec.decode(Codec::G722, &payload).unwrap();
            assert_eq!(frame.len(), 160);
            out.extend(frame);
        }
        let steady = &out[2_000..];
        assert!(goertzel(steady, 600.0, 8_000) > 0.01);
        assert!(goertzel(steady, 1_500.0, 8_000) < 0.001);
        // Payload type 9 is G.722 with or without its rtpmap, on an 8 kHz clock.
        let n = Negotiated::from_remote_sdp("v=0\r\nm=audio 4000 RTP/AVP 9 0\r\n", &[Codec::G722])
            .unwrap();
        assert_eq!(n.send, (Codec::G722, 9));
        assert_eq!(
            (Codec::G722.clock_rate(), Codec::G722.sample_rate()),
            (8_000, 16_000)
        );
    }

    #[test]
    fn opus_carries_a_tone_through_encode_and_decode() {
        let mut enc = Encoder::new(Codec::Opus).unwrap();
        let mut dec = Decoder::default();
        let mut tone = Sine::new(600.0, 8_000, 8_000);
        let mut out = Vec::new();
        for _ in 0..50 {
            let payload = enc.encode(&tone.take(160)).unwrap();
            assert!(payload.len() < 200, "compressed: {} bytes", payload.len());
            let frame = dec.decode(Codec::Opus, &payload).unwrap();
            assert_eq!(frame.len(), 160);
            out.extend(frame);
        }
        let steady = &out[2_000..];
        assert!(
            goertzel(steady, 600.0, 8_000) > 0.01,
            "{}",
            goertzel(steady, 600.0, 8_000)
        );
        assert!(goertzel(steady, 1_500.0, 8_000) < 0.001);
    }
}
