//! Sample-rate conversion to the transcriber's 16 kHz mono (H3): 8 kHz PCMU legs are
//! upsampled by 2, 48 kHz Opus legs downsampled by 3, both through a windowed-sinc low-pass
//! filter so that no image or alias reaches the transcriber. Stateful: frames join without
//! clicks.

use std::f64::consts::PI;

/// Taps of the low-pass filters (odd: linear phase, integer delay).
const TAPS: usize = 63;

/// A windowed-sinc (Blackman) low-pass with cut-off `cutoff` (a fraction of the rate, 0..0.5)
/// and DC gain `gain`.
fn lowpass(cutoff: f64, gain: f64) -> Vec<f64> {
    let m = (TAPS - 1) as f64;
    let mut h: Vec<f64> = (0..TAPS)
        .map(|i| {
            let x = i as f64 - m / 2.0;
            let sinc = if x == 0.0 {
                2.0 * cutoff
            } else {
                (2.0 * PI * cutoff * x).sin() / (PI * x)
            };
            let w = 0.42 - 0.5 * (2.0 * PI * i as f64 / m).cos()
                + 0.08 * (4.0 * PI * i as f64 / m).cos();
            sinc * w
        })
        .collect();
    let sum: f64 = h.iter().sum();
    h.iter_mut().for_each(|v| *v *= gain / sum);
    h
}

/// Converts one leg's audio to 16 kHz.
#[derive(Clone, Debug)]
pub struct To16k {
    up: usize,
    down: usize,
    filter: Vec<f64>,
    /// The last input samples, upsampled (zero-stuffed), for the filter's memory.
    history: Vec<f64>,
    phase: usize,
}

/// A rate this converter does not handle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot convert {0} Hz to 16 kHz (8000, 16000 and 48000 are supported)")]
pub struct UnsupportedRate(pub u32);

impl To16k {
    /// A converter from `rate` Hz.
    pub fn new(rate: u32) -> Result<Self, UnsupportedRate> {
        let (up, down) = match rate {
            8_000 => (2, 1),
            16_000 => (1, 1),
            48_000 => (1, 3),
            other => return Err(UnsupportedRate(other)),
        };
        // Filter at the working rate (input × up), cutting just below the lower of the two
        // Nyquist frequencies: 3.6 kHz for 8 kHz legs (removes the upsampling images),
        // 7.2 kHz for 48 kHz legs (removes what would alias at 16 kHz).
        let work_rate = f64::from(rate) * up as f64;
        let cutoff = 0.45 * f64::from(rate.min(16_000));
        let filter = if up == 1 && down == 1 {
            vec![1.0]
        } else {
            lowpass(cutoff / work_rate, up as f64)
        };
        let len = filter.len();
        Ok(To16k {
            up,
            down,
            filter,
            history: vec![0.0; len],
            phase: 0,
        })
    }

    /// Converts a frame; the output continues the previous frame's.
    pub fn process(&mut self, input: &[i16]) -> Vec<i16> {
        let mut out = Vec::with_capacity(input.len() * self.up / self.down + 1);
        for &x in input {
            for k in 0..self.up {
                let v = if k == 0 { f64::from(x) } else { 0.0 };
                self.history.rotate_left(1);
                *self
                    .history
                    .last_mut()
                    .expect("the history has the filter's length") = v;
                if self.phase == 0 {
                    let y: f64 = self
                        .history
                        .iter()
                        .rev()
                        .zip(&self.filter)
                        .map(|(a, b)| a * b)
                        .sum();
                    out.push(y.round().clamp(-32_768.0, 32_767.0) as i16);
                }
                self.phase = (self.phase + 1) % self.down;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::tone::{goertzel, rms, Sine};

    #[test]
    fn eight_khz_doubles_and_keeps_its_tone() {
        let mut r = To16k::new(8_000).unwrap();
        let input = Sine::new(1_000.0, 8_000, 10_000).take(1_600);
        let out: Vec<i16> = input.chunks(160).flat_map(|f| r.process(f)).collect();
        assert_eq!(out.len(), 3_200);
        let steady = &out[200..];
        assert!(goertzel(steady, 1_000.0, 16_000) > 0.02);
        // The image at 7 kHz (8k - 1k) is filtered out.
        assert!(goertzel(steady, 7_000.0, 16_000) < goertzel(steady, 1_000.0, 16_000) / 100.0);
        let level = rms(steady) / rms(&input);
        assert!((0.9..1.1).contains(&level), "level ratio {level}");
    }

    #[test]
    fn forty_eight_khz_thirds_and_drops_what_would_alias() {
        let mut r = To16k::new(48_000).unwrap();
        let voice = Sine::new(440.0, 48_000, 8_000).take(4_800);
        let out = r.process(&voice);
        assert_eq!(out.len(), 1_600);
        assert!(goertzel(&out[100..], 440.0, 16_000) > 0.005);
        // 12 kHz would fold to 4 kHz at 16 kHz; the filter removes it first.
        let mut r = To16k::new(48_000).unwrap();
        let high = Sine::new(12_000.0, 48_000, 8_000).take(4_800);
        let folded = r.process(&high);
        assert!(
            rms(&folded[100..]) < rms(&high) / 100.0,
            "{}",
            rms(&folded[100..])
        );
    }

    #[test]
    fn sixteen_khz_passes_through_and_other_rates_are_refused() {
        let mut r = To16k::new(16_000).unwrap();
        assert_eq!(r.process(&[1, 2, 3]), vec![1, 2, 3]);
        assert_eq!(To16k::new(44_100).unwrap_err(), UnsupportedRate(44_100));
    }
}
