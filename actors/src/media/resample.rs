//! Sample-rate conversion (H1, H3): to the transcriber's 16 kHz mono (8 kHz PCMU legs are
//! upsampled by 2, 48 kHz Opus legs downsampled by 3) and between an Opus leg's 48 kHz and
//! the bridge's 8 kHz, all through a windowed-sinc low-pass filter so that no image or alias
//! gets through. Stateful: frames join without clicks.

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

/// Converts between two rates whose ratio is a small fraction (8, 16 and 48 kHz): upsample by
/// `up`, filter, keep every `down`-th sample. Polyphase: the zero samples the upsampling would
/// insert are never multiplied, so the cost is `taps / up` per output sample.
#[derive(Clone, Debug)]
pub struct Resampler {
    up: usize,
    down: usize,
    filter: Vec<f64>,
    /// The last input samples (a ring; `head` is the newest).
    inputs: Vec<f64>,
    head: usize,
    phase: usize,
}

/// A rate this converter does not handle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot convert {0} Hz to {1} Hz (8000, 16000 and 48000 are supported)")]
pub struct UnsupportedRate(pub u32, pub u32);

impl Resampler {
    /// A converter from `from` Hz to `to` Hz.
    pub fn new(from: u32, to: u32) -> Result<Self, UnsupportedRate> {
        let supported = [8_000, 16_000, 48_000];
        if !supported.contains(&from) || !supported.contains(&to) {
            return Err(UnsupportedRate(from, to));
        }
        let g = gcd(from, to);
        let (up, down) = ((to / g) as usize, (from / g) as usize);
        // Filter at the working rate (from × up), cutting just below the lower of the two
        // Nyquist frequencies: it removes the upsampling images and what would alias.
        let work_rate = f64::from(from) * up as f64;
        let cutoff = 0.45 * f64::from(from.min(to));
        let filter = if up == 1 && down == 1 {
            vec![1.0]
        } else {
            lowpass(cutoff / work_rate, up as f64)
        };
        let len = filter.len().div_ceil(up);
        Ok(Resampler {
            up,
            down,
            filter,
            inputs: vec![0.0; len],
            head: 0,
            phase: 0,
        })
    }

    /// Converts a frame; the output continues the previous frame's.
    pub fn process(&mut self, input: &[i16]) -> Vec<i16> {
        let mut out = Vec::with_capacity(input.len() * self.up / self.down + 1);
        let n = self.inputs.len();
        for &x in input {
            self.head = (self.head + 1) % n;
            self.inputs[self.head] = f64::from(x);
            // Step k of the upsampled stream: the newest real sample is k steps back, so it
            // meets filter tap k, the one before it tap k + up, and so on.
            for k in 0..self.up {
                if self.phase == 0 {
                    let mut y = 0.0;
                    let mut tap = k;
                    let mut at = self.head;
                    while tap < self.filter.len() {
                        y += self.filter[tap] * self.inputs[at];
                        tap += self.up;
                        at = (at + n - 1) % n;
                    }
                    out.push(y.round().clamp(-32_768.0, 32_767.0) as i16);
                }
                self.phase = (self.phase + 1) % self.down;
            }
        }
        out
    }
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Converts one leg's audio to the transcriber's 16 kHz.
#[derive(Clone, Debug)]
pub struct To16k(Resampler);

impl To16k {
    /// A converter from `rate` Hz.
    pub fn new(rate: u32) -> Result<Self, UnsupportedRate> {
        Resampler::new(rate, 16_000).map(To16k)
    }

    /// Converts a frame; the output continues the previous frame's.
    pub fn process(&mut self, input: &[i16]) -> Vec<i16> {
        self.0.process(input)
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
        assert_eq!(
            To16k::new(44_100).unwrap_err(),
            UnsupportedRate(44_100, 16_000)
        );
    }

    #[test]
    fn eight_and_forty_eight_khz_convert_both_ways_keeping_the_tone() {
        let mut up = Resampler::new(8_000, 48_000).unwrap();
        let mut down = Resampler::new(48_000, 8_000).unwrap();
        let input = Sine::new(1_000.0, 8_000, 10_000).take(1_600);
        let wide: Vec<i16> = input.chunks(160).flat_map(|f| up.process(f)).collect();
        assert_eq!(wide.len(), 9_600);
        assert!(goertzel(&wide[600..], 1_000.0, 48_000) > 0.02);
        assert!(goertzel(&wide[600..], 7_000.0, 48_000) < 0.0002, "no image");
        let back: Vec<i16> = wide.chunks(960).flat_map(|f| down.process(f)).collect();
        assert_eq!(back.len(), 1_600);
        let level = rms(&back[200..]) / rms(&input);
        assert!((0.9..1.1).contains(&level), "level ratio {level}");
    }
}
