//! G.711 µ-law (PCMU), the codec every WebRTC and SIP endpoint speaks: 14-bit linear samples
//! companded into 8 bits (ITU-T G.711).

const BIAS: i32 = 0x84;
const CLIP: i32 = 32_635;

/// Encodes one 16-bit linear sample as a µ-law byte.
pub fn encode(sample: i16) -> u8 {
    let mut s = i32::from(sample);
    let sign = if s < 0 { 0x80 } else { 0 };
    if s < 0 {
        s = -s;
    }
    s = s.min(CLIP) + BIAS;
    let exponent = (7 - (s.leading_zeros() as i32 - 17)).clamp(0, 7);
    let mantissa = (s >> (exponent + 3)) & 0x0F;
    !(sign | (exponent << 4) as u8 | mantissa as u8)
}

/// Decodes a µ-law byte into a 16-bit linear sample.
pub fn decode(byte: u8) -> i16 {
    let b = !byte;
    let sign = b & 0x80;
    let exponent = i32::from((b >> 4) & 0x07);
    let mantissa = i32::from(b & 0x0F);
    let magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
    (if sign != 0 { -magnitude } else { magnitude }) as i16
}

/// Encodes a frame.
pub fn encode_frame(samples: &[i16]) -> Vec<u8> {
    samples.iter().map(|&s| encode(s)).collect()
}

/// Decodes a frame.
pub fn decode_frame(bytes: &[u8]) -> Vec<i16> {
    bytes.iter().map(|&b| decode(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_code_points() {
        assert_eq!(encode(0), 0xFF);
        assert_eq!(decode(0xFF), 0);
        assert_eq!(decode(0x7F), 0, "negative zero");
        assert_eq!(encode(i16::MAX), 0x80);
        assert_eq!(encode(i16::MIN), 0x00);
        assert_eq!(decode(0x80), 32_124);
        assert_eq!(decode(0x00), -32_124);
    }

    #[test]
    fn every_code_decodes_and_reencodes_to_itself() {
        for b in 0..=255u8 {
            let back = encode(decode(b));
            // 0x7F (negative zero) re-encodes as positive zero.
            assert!(
                back == b || (b == 0x7F && back == 0xFF),
                "{b:#x} -> {back:#x}"
            );
        }
    }

    #[test]
    fn the_round_trip_error_stays_within_the_companding_step() {
        for s in (-32_000i32..32_000).step_by(7) {
            let s = s as i16;
            let err = (i32::from(decode(encode(s))) - i32::from(s)).abs();
            // µ-law's step is about 1/16 of the segment's magnitude.
            let bound = (i32::from(s).abs() / 16).max(8);
            assert!(err <= bound, "{s}: error {err} > {bound}");
        }
    }
}
