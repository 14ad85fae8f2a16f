//! The whisper wrapper used by the streaming pipeline: a shared [`Model`] per model file, one
//! [`Decoder`] (whisper state) per stream, and [`Decoder::decode`] for one window of audio.
//!
//! whisper.cpp aborts the whole process on failed assertions and C++ exceptions, so everything
//! it would choke on is checked here first: [`Model::load`] walks the whole model file (header,
//! mel filters, vocabulary, every tensor's name, shape, type and extent) before whisper.cpp sees
//! it, and [`Decoder::decode`] checks the window length, the samples and the options.
//!
//! Decoding is greedy, one pass (no temperature fallback), without timestamps and without
//! context from previous windows. whisper.cpp's own no-speech suppression is turned off so
//! every window reports its data; the guards are applied here, from the token data:
//! special tokens are dropped, a repetition loop is cut, and low-confidence or no-speech windows
//! are emptied with a [`Rejection`].
//!
//! whisper.cpp's and ggml's log lines go through whisper-rs's logging hooks, installed on the
//! first [`Model::load`]: without the `tracing_backend` feature of whisper-rs they are dropped,
//! with it they become `tracing` events. Nothing is written to stderr.

use std::cell::RefCell;
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use whisper_rs::{
    FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState,
};

use crate::ggml::{self, Header, TensorType};

/// Sample rate of the audio [`Decoder::decode`] takes.
pub const SAMPLE_RATE: usize = 16_000;

/// The shortest window whisper.cpp decodes: it skips anything under 11 mel frames
/// (`1 + (n + 200 - 400) / 160 ≥ 11`), i.e. 1800 samples, 112.5 ms.
pub const MIN_SAMPLES: usize = 1_800;

/// The longest window: whisper's 30 s.
pub const MAX_SAMPLES: usize = 30 * SAMPLE_RATE;

/// Encoder positions of every whisper model (two mel frames, 20 ms, each).
const FULL_AUDIO_CTX: usize = 1500;

/// A model file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file could not be opened or read.
    #[error("whisper model {}: {source}", path.display())]
    Io {
        /// The model file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// The file does not start with the ggml magic.
    #[error("whisper model {}: not a whisper.cpp ggml model ({found})", path.display())]
    NotGgml {
        /// The model file.
        path: PathBuf,
        /// What the file starts with instead.
        found: String,
    },
    /// The file ends before the structure it announces.
    #[error("whisper model {}: truncated file, it ends inside {what}", path.display())]
    Truncated {
        /// The model file.
        path: PathBuf,
        /// The part of the file that is cut short.
        what: String,
    },
    /// The file is a ggml model but not one whisper.cpp can run safely.
    #[error("whisper model {}: {problem}", path.display())]
    Invalid {
        /// The model file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The file passed our checks but whisper.cpp refused it.
    #[error("whisper model {}: whisper.cpp failed to {what} ({source})", path.display())]
    Whisper {
        /// The model file.
        path: PathBuf,
        /// What whisper.cpp was doing.
        what: &'static str,
        /// whisper-rs's error.
        #[source]
        source: whisper_rs::WhisperError,
    },
}

/// A window could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The window is shorter than [`MIN_SAMPLES`] or longer than [`MAX_SAMPLES`].
    #[error(
        "audio window of {samples} samples ({:.3} s) is outside {MIN_SAMPLES}..={MAX_SAMPLES} samples (0.1125–30 s at 16 kHz)",
        *samples as f64 / SAMPLE_RATE as f64
    )]
    BadLength {
        /// Samples in the window.
        samples: usize,
    },
    /// A sample is NaN or infinite.
    #[error("audio sample {index} is not finite ({value})")]
    BadSample {
        /// Index of the first bad sample.
        index: usize,
        /// Its value.
        value: f32,
    },
    /// An option is out of range.
    #[error("bad decode options: {0}")]
    BadOptions(String),
    /// The language is not one whisper knows, or the model is English-only.
    #[error("language {language:?}: {problem}")]
    Language {
        /// The requested language.
        language: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// whisper.cpp failed.
    #[error("whisper.cpp failed to decode: {0}")]
    Whisper(#[from] whisper_rs::WhisperError),
}

/// A loaded model: cheap to clone, shared by every stream that uses the file.
#[derive(Clone)]
pub struct Model {
    ctx: Arc<WhisperContext>,
    path: Arc<Path>,
    header: Header,
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("path", &self.path)
            .field("n_audio_state", &self.header.n_audio_state)
            .field("n_audio_layer", &self.header.n_audio_layer)
            .field("n_text_layer", &self.header.n_text_layer)
            .field("n_vocab", &self.header.n_vocab)
            .finish()
    }
}

impl Model {
    /// Checks the file completely, then loads it into whisper.cpp (CPU, no flash attention).
    /// A bad file is an error naming the file and the problem, never a process abort.
    pub fn load(path: &Path) -> Result<Model, ModelError> {
        let header = inspect(path)?;
        whisper_rs::install_logging_hooks();
        let mut params = WhisperContextParameters::default();
        params.use_gpu(false).flash_attn(false);
        let ctx = WhisperContext::new_with_params(path, params).map_err(|source| {
            ModelError::Whisper {
                path: path.to_path_buf(),
                what: "load the model",
                source,
            }
        })?;
        tracing::debug!(path = %path.display(), ?header, "whisper model loaded");
        Ok(Model {
            ctx: Arc::new(ctx),
            path: path.into(),
            header,
        })
    }

    /// The model file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A decoder for one stream (its own whisper state: KV caches and work buffers, ~30 MB
    /// for a short window of tiny.en, more for long windows).
    pub fn decoder(&self) -> Result<Decoder, ModelError> {
        let state = self
            .ctx
            .create_state()
            .map_err(|source| ModelError::Whisper {
                path: self.path.to_path_buf(),
                what: "create a decoding state",
                source,
            })?;
        Ok(Decoder {
            model: self.clone(),
            state,
        })
    }

    fn multilingual(&self) -> bool {
        self.header.n_vocab > ggml::N_VOCAB_EN
    }
}

/// How to decode a window.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodeOptions {
    /// Threads for the encoder and decoder (≥ 1).
    pub threads: u16,
    /// Most text tokens kept from one window (≥ 1). whisper.cpp also stops at
    /// `n_text_ctx / 2 - 4` tokens (220 for real models, 28 for [`ggml::SMALLEST`]).
    pub max_tokens: u16,
    /// A window whose no-speech probability exceeds this is [`Rejection::NoSpeech`], however
    /// confident its text (whisper's own rule also asks for low confidence; with the real
    /// tiny.en that lets "you" through on silence).
    pub no_speech_threshold: f32,
    /// A window whose average token log-probability is below this is rejected
    /// ([`Rejection::LowConfidence`] or [`Rejection::NoSpeech`]).
    pub logprob_threshold: f32,
    /// Language code (`"en"`, `"de"`, …). `None` or `"auto"` detects it (an extra decoder pass)
    /// on multilingual models and means English on English-only ones.
    pub language: Option<String>,
    /// How much of whisper's padded 30 s the encoder runs over after the window: `Some(ms)`
    /// encodes the window and `ms` of the silence after it (cheaper: the encoder's cost grows
    /// with its input), `None` the full 30 s whisper was trained on.
    pub encoder_pad_ms: Option<u32>,
    /// Beam search width: 1 decodes greedily (fastest); more keeps that many hypotheses
    /// (whisper's own default is 5: fewer wrong words, about 1.5 times the decode time).
    pub beam_size: u8,
}

impl Default for DecodeOptions {
    /// 1 thread, 64 tokens, no-speech 0.6, log-probability -1.5 (whisper uses -1.0; the real
    /// tiny.en on telephone-band speech scores below it on sentences it gets mostly right),
    /// the encoder over the window and 2 s after it, greedy, English.
    fn default() -> Self {
        DecodeOptions {
            threads: 1,
            max_tokens: 64,
            no_speech_threshold: 0.6,
            logprob_threshold: -1.5,
            language: Some("en".to_string()),
            encoder_pad_ms: Some(2_000),
            beam_size: 1,
        }
    }
}

/// Why a window's text was emptied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// The model thinks there is no speech (no-speech probability above the threshold and
    /// low confidence).
    NoSpeech,
    /// Average log-probability below the threshold.
    LowConfidence,
    /// The window was nothing but a repetition loop.
    Repetition,
    /// The text has no letter or digit ("♪", ".", a broken character).
    NoWords,
    /// whisper.cpp produced no segment at all.
    NoOutput,
}

/// The result of decoding one window.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    /// The text, trimmed, without special tokens, cut before a repetition loop; empty when
    /// `rejected`.
    pub text: String,
    /// Text tokens whisper decoded (at most `max_tokens`), before the loop cut and rejection.
    pub tokens: usize,
    /// Mean log-probability of every sampled token, end-of-text included (0 without tokens).
    pub avg_logprob: f32,
    /// Probability of the no-speech token after start-of-transcript, as openai's whisper
    /// computes it (recomputed here: whisper.cpp 1.8.3's own value is stale, see
    /// `Decoder::no_speech_prob`); 0 without output.
    pub no_speech_prob: f32,
    /// Why the text was emptied, if it was.
    pub rejected: Option<Rejection>,
    /// A repeated token or n-gram (n ≤ 4, three times or more in a row) was cut.
    pub looped: bool,
}

/// One stream's decoder. Not shared: each stream (or worker) owns one.
pub struct Decoder {
    model: Model,
    state: WhisperState,
}

impl fmt::Debug for Decoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoder")
            .field("model", &self.model.path)
            .finish_non_exhaustive()
    }
}

impl Decoder {
    /// The model this decoder runs.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Decodes one window: `pcm` is 16 kHz mono f32 in [-1, 1], [`MIN_SAMPLES`] to
    /// [`MAX_SAMPLES`] long. The encoder runs over the window only (audio context ≈ 50 per
    /// second + 16), not over a padded 30 s.
    pub fn decode(&mut self, pcm: &[f32], opts: &DecodeOptions) -> Result<Decoded, DecodeError> {
        if !(MIN_SAMPLES..=MAX_SAMPLES).contains(&pcm.len()) {
            return Err(DecodeError::BadLength { samples: pcm.len() });
        }
        if let Some(index) = pcm.iter().position(|s| !s.is_finite()) {
            return Err(DecodeError::BadSample {
                index,
                value: pcm[index],
            });
        }
        if opts.beam_size == 0 || opts.beam_size > 16 {
            return Err(DecodeError::BadOptions("beam_size: give 1 to 16".into()));
        }
        if opts.threads == 0 {
            return Err(DecodeError::BadOptions("threads must be at least 1".into()));
        }
        if opts.max_tokens == 0 {
            return Err(DecodeError::BadOptions(
                "max_tokens must be at least 1".into(),
            ));
        }
        if opts.no_speech_threshold.is_nan() || opts.logprob_threshold.is_nan() {
            return Err(DecodeError::BadOptions("thresholds must not be NaN".into()));
        }
        let language = self.language(opts.language.as_deref())?;
        // Speech is at most about six tokens a second: more from one window is a loop.
        let opts = &DecodeOptions {
            max_tokens: opts.max_tokens.min(tokens_for(pcm.len())),
            ..opts.clone()
        };

        let mut params = params_for(language, opts.beam_size);
        params.set_n_threads(i32::from(opts.threads));
        // whisper.cpp stops once the token index reaches max_tokens, i.e. after max_tokens + 1
        // tokens; `assemble` caps the count exactly, this saves the extra decoder step.
        params.set_max_tokens(i32::from(opts.max_tokens.saturating_sub(1).max(1)));
        params.set_audio_ctx(audio_ctx(pcm.len(), opts.encoder_pad_ms) as i32);
        self.state.full(params, pcm)?;

        let eot = self.model.ctx.token_eot();
        let mut sampled = Vec::new();
        let mut segments = 0;
        for segment in self.state.as_iter() {
            segments += 1;
            for i in 0..segment.n_tokens() {
                let Some(token) = segment.get_token(i) else {
                    continue;
                };
                let id = token.token_id();
                let bytes = if id < eot {
                    token.to_bytes().map(<[u8]>::to_vec).unwrap_or_default()
                } else {
                    Vec::new()
                };
                sampled.push(Sampled {
                    id,
                    plog: token.token_data().plog,
                    bytes,
                });
            }
        }
        let no_speech_prob = if segments == 0 {
            None
        } else {
            Some(self.no_speech_prob(opts.threads)?)
        };
        Ok(assemble(&sampled, eot, no_speech_prob, opts))
    }

    /// The probability of the no-speech token right after start-of-transcript, for the window
    /// the last `full()` encoded.
    ///
    /// whisper.cpp 1.8.3 computes it from the first row of the prompt's logits, but only fetches
    /// the last row: with a prompt of more than one token (always with `no_timestamps`, which
    /// adds `<|notimestamps|>`, and on multilingual models) it reads a stale row — 1/n_vocab on
    /// a fresh state, the previous window's last step afterwards. Re-running the decoder on the
    /// start-of-transcript token alone (one step, the encoder output is still in the state)
    /// gives the real value, as openai's whisper computes it.
    fn no_speech_prob(&mut self, threads: u16) -> Result<f32, DecodeError> {
        let ctx = &self.model.ctx;
        let (sot, nosp) = (ctx.token_sot(), ctx.token_nosp());
        self.state.decode(&[sot], 0, usize::from(threads))?;
        let logits = self.state.get_logits()?;
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let sum: f64 = logits.iter().map(|&l| f64::from(l - max).exp()).sum();
        let p = usize::try_from(nosp)
            .ok()
            .and_then(|i| logits.get(i))
            .map_or(0.0, |&l| f64::from(l - max).exp() / sum);
        Ok(if p.is_finite() { p as f32 } else { 0.0 })
    }

    fn language(&self, requested: Option<&str>) -> Result<Option<&'static str>, DecodeError> {
        let multilingual = self.model.multilingual();
        let requested = requested.filter(|l| *l != "auto");
        let Some(lang) = requested else {
            return Ok(if multilingual { None } else { Some("en") });
        };
        let bad = |problem| DecodeError::Language {
            language: lang.to_string(),
            problem,
        };
        if lang.is_empty() || lang.len() > 32 || !lang.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(bad("not a language code"));
        }
        let code = whisper_rs::get_lang_id(&lang.to_ascii_lowercase())
            .and_then(whisper_rs::get_lang_str)
            .ok_or_else(|| bad("unknown to whisper"))?;
        if !multilingual && code != "en" {
            return Err(bad("the model is English-only"));
        }
        Ok(Some(code))
    }
}

/// The most text tokens a window of `samples` can hold: 8 plus 7 a second (fast speech is
/// about 6 a second).
fn tokens_for(samples: usize) -> u16 {
    u16::try_from(8 + samples * 7 / SAMPLE_RATE).unwrap_or(u16::MAX)
}

/// Encoder positions for a window of `samples`: 50 per second plus a margin of 16, at most
/// the model's 1500.
fn audio_ctx(samples: usize, pad_ms: Option<u32>) -> usize {
    let Some(pad_ms) = pad_ms else {
        return FULL_AUDIO_CTX;
    };
    (samples * 50)
        .div_ceil(SAMPLE_RATE)
        .saturating_add(pad_ms as usize / 20)
        .min(FULL_AUDIO_CTX)
}

thread_local! {
    /// Prepared parameters per language. whisper-rs's `set_language` leaks a C string on
    /// every call, so each thread builds one template per language and clones it.
    #[allow(clippy::type_complexity)]
    static TEMPLATES: RefCell<Vec<((Option<&'static str>, u8), FullParams<'static, 'static>)>> =
        const { RefCell::new(Vec::new()) };
}

fn params_for(language: Option<&'static str>, beam_size: u8) -> FullParams<'static, 'static> {
    TEMPLATES.with(|templates| {
        let mut templates = templates.borrow_mut();
        if let Some((_, p)) = templates
            .iter()
            .find(|(key, _)| *key == (language, beam_size))
        {
            return p.clone();
        }
        let mut p = FullParams::new(if beam_size > 1 {
            SamplingStrategy::BeamSearch {
                beam_size: i32::from(beam_size),
                patience: -1.0,
            }
        } else {
            SamplingStrategy::Greedy { best_of: 1 }
        });
        p.set_language(language);
        p.set_translate(false);
        p.set_no_context(true);
        p.set_single_segment(true);
        p.set_no_timestamps(true);
        p.set_token_timestamps(false);
        p.set_temperature(0.0);
        p.set_temperature_inc(0.0);
        p.set_suppress_blank(true);
        p.set_suppress_nst(true);
        p.set_print_special(false);
        p.set_print_progress(false);
        p.set_print_realtime(false);
        p.set_print_timestamps(false);
        // whisper.cpp drops a window's segment when no_speech_prob > no_speech_thold and the
        // average log-probability < logprob_thold; the probability never exceeds 1, so this
        // keeps every segment and the same rule is applied in `assemble` with the caller's
        // thresholds, with the numbers still reported.
        p.set_no_speech_thold(1.0);
        p.set_logprob_thold(f32::NEG_INFINITY);
        templates.push(((language, beam_size), p.clone()));
        p
    })
}

mod guard;
mod inspect;
use guard::{assemble, Sampled};
pub(crate) use inspect::check_header;
use inspect::inspect;

/// Checks a model file completely, the way whisper.cpp's loader reads it, without loading it.
pub fn check_file(path: &Path) -> Result<ModelShape, ModelError> {
    inspect(path).map(|h| ModelShape::from(&h))
}

/// A model's architecture, as its file header states it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ModelShape {
    /// Vocabulary size: 51864 for English-only models, 51865 (51866 for large-v3) otherwise.
    pub n_vocab: i32,
    /// Encoder positions (1500).
    pub n_audio_ctx: i32,
    /// Model width.
    pub n_state: i32,
    /// Encoder attention heads.
    pub n_audio_head: i32,
    /// Encoder blocks.
    pub n_audio_layer: i32,
    /// Decoder positions.
    pub n_text_ctx: i32,
    /// Decoder attention heads.
    pub n_text_head: i32,
    /// Decoder blocks.
    pub n_text_layer: i32,
    /// Mel bands (80; 128 for large-v3).
    pub n_mels: i32,
}

impl From<&Header> for ModelShape {
    fn from(h: &Header) -> ModelShape {
        ModelShape {
            n_vocab: h.n_vocab,
            n_audio_ctx: h.n_audio_ctx,
            n_state: h.n_audio_state,
            n_audio_head: h.n_audio_head,
            n_audio_layer: h.n_audio_layer,
            n_text_ctx: h.n_text_ctx,
            n_text_head: h.n_text_head,
            n_text_layer: h.n_text_layer,
            n_mels: h.n_mels,
        }
    }
}

impl ModelShape {
    /// Whether the model knows only English.
    pub fn english_only(&self) -> bool {
        self.n_vocab == ggml::N_VOCAB_EN
    }

    /// whisper's name for this shape (`tiny.en`, `base`, `large-v3`, …), or `custom`.
    pub fn name(&self) -> String {
        let size = match (self.n_audio_layer, self.n_state) {
            (4, 384) => "tiny",
            (6, 512) => "base",
            (12, 768) => "small",
            (24, 1024) => "medium",
            (32, 1280) if self.n_mels == 128 => "large-v3",
            (32, 1280) => "large",
            _ => return "custom".to_string(),
        };
        if self.english_only() {
            format!("{size}.en")
        } else {
            size.to_string()
        }
    }
}

impl Model {
    /// The model's architecture.
    pub fn shape(&self) -> ModelShape {
        ModelShape::from(&self.header)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn audio_context_follows_the_window() {
        let pad = Some(320);
        assert_eq!(audio_ctx(4 * SAMPLE_RATE, pad), 216);
        assert_eq!(audio_ctx(4 * SAMPLE_RATE, Some(2_000)), 300);
        assert_eq!(audio_ctx(4 * SAMPLE_RATE, None), 1500);
        assert_eq!(audio_ctx(MIN_SAMPLES, pad), 6 + 16);
        assert_eq!(audio_ctx(MAX_SAMPLES, pad), 1500);
        assert_eq!(audio_ctx(29 * SAMPLE_RATE + 8000, pad), 1491);
        assert_eq!(audio_ctx(29 * SAMPLE_RATE + 12000, pad), 1500);
    }

    #[test]
    fn token_cap_follows_the_window() {
        assert_eq!(tokens_for(MIN_SAMPLES), 8);
        assert_eq!(tokens_for(3 * SAMPLE_RATE), 29);
        assert_eq!(tokens_for(MAX_SAMPLES), 218);
    }

    #[test]
    fn decoder_is_send_and_model_is_shared() {
        fn send<T: Send>() {}
        fn shared<T: Send + Sync + Clone>() {}
        send::<Decoder>();
        shared::<Model>();
    }
}
