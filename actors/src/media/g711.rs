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

/// Encodes one 16-bit linear sample as an A-law byte (PCMA, the European G.711).
pub fn encode_alaw(sample: i16) -> u8 {
    let s = i32::from(sample) >> 3; // 13-bit
    let (sign, mag) = if s >= 0 { (0x80, s) } else { (0x00, -s - 1) };
    let mag = mag.min(0x0FFF);
    let byte = if mag < 32 {
        (mag >> 1) as u8
    } else {
        let exponent = (31 - (mag as u32).leading_zeros() - 4) as i32; // 1..=7
        let mantissa = (mag >> exponent) & 0x0F;
        ((exponent << 4) | mantissa) as u8
    };
    (byte | sign) ^ 0x55
}

/// Decodes an A-law byte into a 16-bit linear sample.
pub fn decode_alaw(byte: u8) -> i16 {
    let b = byte ^ 0x55;
    let exponent = i32::from((b >> 4) & 0x07);
    let mantissa = i32::from(b & 0x0F);
    let mag = if exponent == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (exponent - 1)
    };
    (if b & 0x80 != 0 { mag } else { -mag }) as i16
}

/// Encodes a frame as A-law.
pub fn encode_alaw_frame(samples: &[i16]) -> Vec<u8> {
    samples.iter().map(|&s| encode_alaw(s)).collect()
}

/// Decodes an A-law frame.
pub fn decode_alaw_frame(bytes: &[u8]) -> Vec<i16> {
    bytes.iter().map(|&b| decode_alaw(b)).collect()
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

    #[test]
    fn a_law_round_trips_within_its_step_and_keeps_the_sign() {
        for s in [
            -32_768i16, -20_000, -1_000, -33, -1, 0, 1, 33, 1_000, 20_000, 32_767,
        ] {
            let back = decode_alaw(encode_alaw(s));
            let err = (i32::from(back) - i32::from(s)).abs();
            assert!(err <= (i32::from(s).abs() / 16).max(16), "{s} -> {back}");
            assert_eq!(
                back.signum() * s.signum(),
                s.signum().abs(),
                "{s} -> {back}"
            );
        }
        // The G.711 table's fixed points: 0x55 (+8 after the even-bit inversion is undone)
        // is the smallest positive step, 0xD5 the smallest negative.
        assert_eq!((decode_alaw(0xD5), decode_alaw(0x55)), (8, -8));
        for b in 0..=255u8 {
            assert_eq!(encode_alaw(decode_alaw(b)), b, "code {b:#04x}");
        }
    }
}
