//! Tones: sine generators for hold music's default tone sequence and test signals, and a
//! Goertzel detector that measures how much of one frequency a signal holds.

use std::f64::consts::TAU;

/// A continuous sine, frame after frame.
#[derive(Clone, Debug)]
pub struct Sine {
    phase: f64,
    step: f64,
    amplitude: f64,
}

impl Sine {
    /// A sine of `freq` Hz at `rate` samples per second, peak `amplitude` (0..=32767).
    pub fn new(freq: f64, rate: u32, amplitude: i16) -> Self {
        Sine {
            phase: 0.0,
            step: TAU * freq / f64::from(rate),
            amplitude: f64::from(amplitude),
        }
    }

    /// The next `n` samples.
    pub fn take(&mut self, n: usize) -> Vec<i16> {
        (0..n)
            .map(|_| {
                let v = self.amplitude * self.phase.sin();
                self.phase = (self.phase + self.step) % TAU;
                v.round() as i16
            })
            .collect()
    }
}

/// The default hold music: a gentle sequence of notes (a C-major arpeggio), each `note_ms`
/// long with a short gap, looping. A queue's own file replaces it when configured.
#[derive(Clone, Debug)]
pub struct HoldMusic {
    rate: u32,
    note_samples: usize,
    gap_samples: usize,
    position: usize,
    notes: Vec<Sine>,
}

impl HoldMusic {
    /// Hold music at `rate` samples per second.
    pub fn new(rate: u32) -> Self {
        let notes = [261.63, 329.63, 392.00, 523.25]
            .iter()
            .map(|&f| Sine::new(f, rate, 6_000))
            .collect();
        HoldMusic {
            rate,
            note_samples: rate as usize * 400 / 1000,
            gap_samples: rate as usize * 100 / 1000,
            position: 0,
            notes,
        }
    }

    /// The sample rate.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// The next `n` samples.
    pub fn take(&mut self, n: usize) -> Vec<i16> {
        let period = self.note_samples + self.gap_samples;
        (0..n)
            .map(|_| {
                let slot = self.position % (period * self.notes.len());
                self.position += 1;
                let (note, within) = (slot / period, slot % period);
                let s = self.notes[note].take(1)[0];
                if within < self.note_samples {
                    s
                } else {
                    0
                }
            })
            .collect()
    }
}

/// What a held or waiting customer hears: the queue's music file (looped) or the default
/// tone sequence.
#[derive(Clone, Debug)]
pub enum Music {
    /// The default tones.
    Tones(HoldMusic),
    /// A file's 8 kHz samples, and where the loop is.
    File(std::sync::Arc<Vec<i16>>, usize),
}

impl Music {
    /// The queue's file if it has one, else the tones (8 kHz).
    pub fn new(file: Option<std::sync::Arc<Vec<i16>>>) -> Music {
        match file {
            Some(f) if !f.is_empty() => Music::File(f, 0),
            _ => Music::Tones(HoldMusic::new(8_000)),
        }
    }

    /// The next `n` samples.
    pub fn take(&mut self, n: usize) -> Vec<i16> {
        match self {
            Music::Tones(t) => t.take(n),
            Music::File(f, at) => (0..n)
                .map(|_| {
                    let s = f[*at];
                    *at = (*at + 1) % f.len();
                    s
                })
                .collect(),
        }
    }
}

/// The power of `freq` in `samples` (Goertzel), normalised so that a full-scale sine of that
/// frequency gives about 0.25 and silence 0.
pub fn goertzel(samples: &[i16], freq: f64, rate: u32) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let w = TAU * freq / f64::from(rate);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) / 32_768.0 + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    power / (samples.len() as f64 * samples.len() as f64)
}

/// Root-mean-square level, 0 (silence) to about 23 170 (full-scale sine).
pub fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    (samples
        .iter()
        .map(|&s| f64::from(s) * f64::from(s))
        .sum::<f64>()
        / samples.len() as f64)
        .sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goertzel_finds_the_frequency_that_is_there() {
        let a = Sine::new(440.0, 8000, 16_000).take(8000);
        let on = goertzel(&a, 440.0, 8000);
        let off = goertzel(&a, 1000.0, 8000);
        assert!(on > 0.05, "{on}");
        assert!(off < on / 1000.0, "{off} vs {on}");
        assert_eq!(goertzel(&[0; 800], 440.0, 8000), 0.0);
    }

    #[test]
    fn hold_music_plays_notes_and_gaps() {
        let mut m = HoldMusic::new(8000);
        let first = m.take(3200);
        assert!(goertzel(&first, 261.63, 8000) > 0.005);
        let gap = m.take(800);
        assert_eq!(rms(&gap), 0.0);
        let second = m.take(3200);
        assert!(goertzel(&second, 329.63, 8000) > goertzel(&second, 261.63, 8000) * 100.0);
    }
}
