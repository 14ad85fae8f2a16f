//! The transcription service a server runs: its configuration (`[transcription]`), the shared
//! whisper model and the worker pool, and a [`LiveLeg`] per transcribed leg.

use crate::live::LiveLeg;
use crate::pool::{Decode, Pool, PoolConfig, PoolStats};
use crate::stream::{JobKind, StreamConfig};
use crate::whisper::{DecodeOptions, Decoder, Model, ModelError};
use crate::Leg;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;

/// `[transcription]`: the model and how hard it works. Without `model`, transcription is off.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TranscriptionConfig {
    /// A whisper.cpp ggml model file (`ggml-tiny.en.bin`, `ggml-base.en.bin`…). Nothing is
    /// ever downloaded.
    pub model: Option<PathBuf>,
    /// Worker threads decoding (each decode uses `threads` of them).
    pub workers: usize,
    /// Waiting jobs beyond which partial decodes are refused.
    pub queue: usize,
    /// A partial decode waiting longer than this is skipped.
    pub partial_deadline_ms: u64,
    /// Threads per decode.
    pub threads: u16,
    /// Token cap per window.
    pub max_tokens: u16,
    /// A window whose average token log-probability is below this is dropped.
    pub logprob_threshold: f32,
    /// A window whose no-speech probability is above this is dropped.
    pub no_speech_threshold: f32,
    /// Spoken language (ISO code).
    pub language: String,
    /// The silence the encoder sees after each window (ms); absent: whisper's full 30 s.
    pub encoder_pad_ms: Option<u32>,
    /// Beam search width for finals (1: greedy), used when no other decode waits (under
    /// load finals are greedy too, so that the legs keep up). Partials are always greedy:
    /// they are replaced within a step, and speed is what they are for.
    pub final_beam_size: u8,
    /// New audio between two partial decodes (ms).
    pub step_ms: u64,
    /// The longest window (ms).
    pub max_window_ms: u64,
    /// Non-voice that ends an utterance (ms).
    pub hangover_ms: u64,
    /// Non-voice after which the utterance so far is decoded early as its likely final (see
    /// [`StreamConfig::settle_ms`]); at or above `hangover_ms`, no early decodes.
    pub settle_ms: u64,
    /// Voice shorter than this is not an utterance (ms).
    pub min_speech_ms: u64,
    /// Voice detector threshold (0–1).
    pub vad_threshold: f32,
    /// An idle leg gives its decoder state back after this long (ms).
    pub release_state_ms: u64,
}

impl Default for TranscriptionConfig {
    fn default() -> Self {
        let d = DecodeOptions::default();
        let s = StreamConfig::default();
        let p = PoolConfig::default();
        TranscriptionConfig {
            model: None,
            workers: p.workers,
            queue: p.queue,
            partial_deadline_ms: p.partial_deadline_ms,
            threads: d.threads,
            max_tokens: d.max_tokens,
            logprob_threshold: d.logprob_threshold,
            no_speech_threshold: d.no_speech_threshold,
            language: d.language.clone().unwrap_or_else(|| "en".into()),
            encoder_pad_ms: d.encoder_pad_ms,
            final_beam_size: 5,
            step_ms: s.step_ms,
            max_window_ms: s.max_window_ms,
            hangover_ms: s.hangover_ms,
            settle_ms: s.settle_ms,
            min_speech_ms: s.min_speech_ms,
            vad_threshold: s.vad_threshold,
            release_state_ms: s.release_state_ms,
        }
    }
}

impl TranscriptionConfig {
    /// Checks the numbers (the model file is checked when it is loaded).
    pub fn validate(&self) -> Result<(), String> {
        let bad = |what: &str| Err(format!("transcription.{what}"));
        if self.workers == 0 || self.workers > 64 {
            return bad("workers: give 1 to 64");
        }
        if self.queue == 0 {
            return bad("queue: give at least 1");
        }
        if self.threads == 0 || self.threads > 64 {
            return bad("threads: give 1 to 64");
        }
        if self.max_tokens == 0 {
            return bad("max_tokens: give at least 1");
        }
        if !(1..=16).contains(&self.final_beam_size) {
            return bad("final_beam_size: give 1 (greedy) to 16");
        }
        if self.step_ms < 100 {
            return bad("step_ms: give at least 100");
        }
        if self.settle_ms < 100 {
            return bad(
                "settle_ms: give at least 100 (at or above hangover_ms turns early decodes off)",
            );
        }
        if !(1_000..=30_000).contains(&self.max_window_ms) {
            return bad("max_window_ms: give 1000 to 30000 (whisper's window is 30 s)");
        }
        if !(0.0..=1.0).contains(&self.vad_threshold) {
            return bad("vad_threshold: give 0 to 1");
        }
        if !(0.0..=1.0).contains(&self.no_speech_threshold) {
            return bad("no_speech_threshold: give 0 to 1");
        }
        if self.language.is_empty() || self.language.len() > 8 {
            return bad("language: give an ISO code such as \"en\"");
        }
        Ok(())
    }

    /// The stream policy these settings give.
    pub fn stream(&self) -> StreamConfig {
        StreamConfig {
            step_ms: self.step_ms,
            max_window_ms: self.max_window_ms,
            hangover_ms: self.hangover_ms,
            settle_ms: self.settle_ms,
            min_speech_ms: self.min_speech_ms,
            vad_threshold: self.vad_threshold,
            release_state_ms: self.release_state_ms,
            ..StreamConfig::default()
        }
    }

    fn decode(&self) -> DecodeOptions {
        DecodeOptions {
            threads: self.threads,
            max_tokens: self.max_tokens,
            no_speech_threshold: self.no_speech_threshold,
            logprob_threshold: self.logprob_threshold,
            language: Some(self.language.clone()),
            encoder_pad_ms: self.encoder_pad_ms,
            beam_size: 1,
        }
    }

    fn pool(&self) -> PoolConfig {
        PoolConfig {
            workers: self.workers,
            queue: self.queue,
            partial_deadline_ms: self.partial_deadline_ms,
        }
    }
}

/// Why the service did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The model file is missing or not a whisper model.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The worker threads could not be started.
    #[error("cannot start the transcription workers: {0}")]
    Workers(std::io::Error),
}

/// The whisper model with the options every decode uses.
pub struct Whisper {
    model: Model,
    /// For partials: greedy.
    options: DecodeOptions,
    /// For finals: with the configured beam.
    final_options: DecodeOptions,
}

impl Whisper {
    /// The engine a [`Transcriber`] built from `config` runs: `model` with the configuration's
    /// decode options (for tests and benchmarks that drive a stream themselves).
    pub fn new(model: Model, config: &TranscriptionConfig) -> Whisper {
        Whisper {
            model,
            options: config.decode(),
            final_options: DecodeOptions {
                beam_size: config.final_beam_size,
                ..config.decode()
            },
        }
    }
}

impl Decode for Whisper {
    type State = Decoder;

    fn new_state(&self) -> Result<Decoder, String> {
        self.model.decoder().map_err(|e| e.to_string())
    }

    fn decode(
        &self,
        state: &mut Decoder,
        pcm: &[f32],
        kind: JobKind,
        spare: bool,
    ) -> Result<String, String> {
        // A final gets the beam when nothing else waits; under load it is decoded greedily
        // like a partial, so that the legs keep up.
        let options = match kind {
            JobKind::Final if spare => &self.final_options,
            _ => &self.options,
        };
        state
            .decode(pcm, options)
            .map(|d| d.text)
            .map_err(|e| e.to_string())
    }
}

/// The running service: one model, one pool, any number of legs.
pub struct Transcriber<E: Decode = Whisper> {
    pool: Arc<Pool<E>>,
    stream: StreamConfig,
}

impl<E: Decode> Clone for Transcriber<E> {
    fn clone(&self) -> Self {
        Transcriber {
            pool: self.pool.clone(),
            stream: self.stream.clone(),
        }
    }
}

impl Transcriber<Whisper> {
    /// Loads the configured model and starts the pool; `Ok(None)` when no model is
    /// configured (transcription off).
    pub fn start(config: &TranscriptionConfig) -> Result<Option<Self>, StartError> {
        let Some(path) = &config.model else {
            return Ok(None);
        };
        let model = Model::load(path)?;
        let engine = Whisper {
            model,
            options: config.decode(),
            final_options: DecodeOptions {
                beam_size: config.final_beam_size,
                ..config.decode()
            },
        };
        Ok(Some(Transcriber::with_engine(
            engine,
            config.pool(),
            config.stream(),
        )?))
    }

    /// The model file.
    pub fn model_path(&self) -> &std::path::Path {
        self.pool.engine().model.path()
    }
}

impl<E: Decode> Transcriber<E> {
    /// A service over any decoder.
    pub fn with_engine(
        engine: E,
        pool: PoolConfig,
        stream: StreamConfig,
    ) -> Result<Self, StartError> {
        let pool = Pool::new(engine, pool).map_err(StartError::Workers)?;
        Ok(Transcriber {
            pool: Arc::new(pool),
            stream,
        })
    }

    /// A new live leg.
    pub fn leg(&self, leg: Leg) -> LiveLeg<E> {
        LiveLeg::new(self.pool.clone(), leg, self.stream.clone())
    }

    /// The pool's counters.
    pub fn stats(&self) -> PoolStats {
        self.pool.stats()
    }
}
