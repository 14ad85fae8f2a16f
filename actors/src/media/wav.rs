//! The call recording (C2, H2): 16-bit mono PCM WAV, written as the call goes. It follows the
//! call's recording state: while off nothing is written; while masked (sensitive data) the
//! stretch is written as silence, so that the file keeps the call's timeline.

use engine::call::Recording;
use std::io::{self, Seek, SeekFrom, Write};

/// A WAV file being written.
pub struct Recorder<W: Write + Seek> {
    out: W,
    rate: u32,
    data_bytes: u32,
}

impl<W: Write + Seek> Recorder<W> {
    /// Starts a recording at `rate` Hz; the header is completed by [`Recorder::finish`].
    pub fn new(mut out: W, rate: u32) -> io::Result<Self> {
        out.write_all(&header(rate, 0))?;
        Ok(Recorder {
            out,
            rate,
            data_bytes: 0,
        })
    }

    /// Adds a frame under the call's current recording state.
    pub fn write(&mut self, frame: &[i16], state: Recording) -> io::Result<()> {
        let silence;
        let samples = match state {
            Recording::Off => return Ok(()),
            Recording::On => frame,
            Recording::Masked => {
                silence = vec![0i16; frame.len()];
                &silence
            }
        };
        let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        self.out.write_all(&bytes)?;
        self.data_bytes = self.data_bytes.saturating_add(bytes.len() as u32);
        Ok(())
    }

    /// Brings the header up to date with what is written and flushes: a file cut off after
    /// this (a crash) is a valid WAV of everything up to here.
    pub fn checkpoint(&mut self) -> io::Result<()> {
        self.out.seek(SeekFrom::Start(0))?;
        self.out.write_all(&header(self.rate, self.data_bytes))?;
        self.out.seek(SeekFrom::End(0))?;
        self.out.flush()
    }

    /// Completes the header with the sizes and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.checkpoint()?;
        Ok(self.out)
    }
}

fn header(rate: u32, data_bytes: u32) -> Vec<u8> {
    let mut h = Vec::with_capacity(44);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&(36 + data_bytes).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes()); // PCM
    h.extend_from_slice(&1u16.to_le_bytes()); // mono
    h.extend_from_slice(&rate.to_le_bytes());
    h.extend_from_slice(&(rate * 2).to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&16u16.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data_bytes.to_le_bytes());
    h
}

/// Reads a 16-bit mono PCM WAV written by [`Recorder`]: its rate and samples.
pub fn read(bytes: &[u8]) -> Option<(u32, Vec<i16>)> {
    if bytes.len() < 44
        || &bytes[0..4] != b"RIFF"
        || &bytes[8..16] != b"WAVEfmt "
        || &bytes[36..40] != b"data"
    {
        return None;
    }
    let rate = u32::from_le_bytes(bytes[24..28].try_into().ok()?);
    let len = u32::from_le_bytes(bytes[40..44].try_into().ok()?) as usize;
    let data = bytes.get(44..44 + len)?;
    Some((
        rate,
        data.chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::tone::{rms, Sine};
    use std::io::Cursor;

    #[test]
    fn a_masked_stretch_is_silence_and_a_stopped_one_is_absent() {
        let mut tone = Sine::new(500.0, 8_000, 12_000);
        let mut rec = Recorder::new(Cursor::new(Vec::new()), 8_000).unwrap();
        rec.write(&tone.take(800), Recording::On).unwrap();
        rec.write(&tone.take(800), Recording::Masked).unwrap();
        rec.write(&tone.take(800), Recording::Off).unwrap();
        rec.write(&tone.take(800), Recording::On).unwrap();
        let bytes = rec.finish().unwrap().into_inner();
        let (rate, samples) = read(&bytes).unwrap();
        assert_eq!(
            (rate, samples.len()),
            (8_000, 2_400),
            "the stopped stretch is not in the file"
        );
        assert!(rms(&samples[..800]) > 8_000.0);
        assert_eq!(rms(&samples[800..1_600]), 0.0, "masked: silence");
        assert!(rms(&samples[1_600..]) > 8_000.0);
        assert_eq!(read(&bytes[..20]), None);
    }

    #[test]
    fn a_checkpointed_recording_reads_whole_without_being_finished() {
        let mut rec = Recorder::new(Cursor::new(Vec::new()), 8_000).unwrap();
        rec.write(&Sine::new(500.0, 8_000, 12_000).take(800), Recording::On)
            .unwrap();
        rec.checkpoint().unwrap();
        rec.write(&[1; 160], Recording::On).unwrap();
        // What a crash leaves: the bytes so far, the header as of the checkpoint.
        let cut = rec.out.get_ref().clone();
        let (_, samples) = read(&cut).unwrap();
        assert_eq!(samples.len(), 800);
    }
}
