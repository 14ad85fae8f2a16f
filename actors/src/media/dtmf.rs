//! DTMF as RFC 4733 telephone events: the 4-byte payload sent in RTP while a digit lasts,
//! repeated with growing duration and ended with the E bit (sent three times).

/// The event code of a DTMF digit (RFC 4733 §3.2): `0`–`9`, `*` = 10, `#` = 11, `A`–`D` =
/// 12–15.
pub fn event_code(digit: char) -> Option<u8> {
    match digit {
        '0'..='9' => Some(digit as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        'A'..='D' => Some(digit as u8 - b'A' + 12),
        _ => None,
    }
}

/// One telephone-event payload: event, end bit, volume (0–63, in -dBm0) and duration in
/// timestamp units.
pub fn payload(event: u8, end: bool, volume: u8, duration: u16) -> [u8; 4] {
    let d = duration.to_be_bytes();
    [event, (u8::from(end) << 7) | (volume & 0x3F), d[0], d[1]]
}

/// The payloads of one digit lasting `ms` at `rate` Hz, one per `packet_ms`: the running
/// durations, then the end packet three times (for loss).
pub fn digit_packets(digit: char, ms: u32, rate: u32, packet_ms: u32) -> Option<Vec<[u8; 4]>> {
    let event = event_code(digit)?;
    let step = rate / 1000 * packet_ms;
    let total = (rate / 1000 * ms).min(u32::from(u16::MAX));
    let mut out: Vec<[u8; 4]> = (1..)
        .map(|i| i * step)
        .take_while(|d| *d < total)
        .map(|d| payload(event, false, 10, d as u16))
        .collect();
    out.extend(std::iter::repeat_n(
        payload(event, true, 10, total as u16),
        3,
    ));
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_map_to_their_rfc_4733_events() {
        let codes: Vec<u8> = "0159*#AD".chars().map(|c| event_code(c).unwrap()).collect();
        assert_eq!(codes, [0, 1, 5, 9, 10, 11, 12, 15]);
        assert_eq!(event_code('x'), None);
    }

    #[test]
    fn a_digit_is_a_run_of_growing_durations_then_three_ends() {
        let p = digit_packets('5', 100, 8_000, 20).unwrap();
        // 100 ms at 8 kHz = 800 units, packets every 160: 160, 320, 480, 640, then 3 × end.
        let durations: Vec<u16> = p.iter().map(|b| u16::from_be_bytes([b[2], b[3]])).collect();
        assert_eq!(durations, [160, 320, 480, 640, 800, 800, 800]);
        assert!(p[..4].iter().all(|b| b[0] == 5 && b[1] & 0x80 == 0));
        assert!(p[4..].iter().all(|b| b[1] & 0x80 != 0 && b[1] & 0x3F == 10));
    }
}
