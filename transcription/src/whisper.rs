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
    /// A window whose no-speech probability exceeds this *and* whose average log-probability is
    /// below `logprob_threshold` is [`Rejection::NoSpeech`].
    pub no_speech_threshold: f32,
    /// A window whose average token log-probability is below this is rejected
    /// ([`Rejection::LowConfidence`] or [`Rejection::NoSpeech`]).
    pub logprob_threshold: f32,
    /// Language code (`"en"`, `"de"`, …). `None` or `"auto"` detects it (an extra decoder pass)
    /// on multilingual models and means English on English-only ones.
    pub language: Option<String>,
}

impl Default for DecodeOptions {
    /// whisper's usual values: 1 thread, 64 tokens, no-speech 0.6, log-probability -1.0,
    /// English.
    fn default() -> Self {
        DecodeOptions {
            threads: 1,
            max_tokens: 64,
            no_speech_threshold: 0.6,
            logprob_threshold: -1.0,
            language: Some("en".to_string()),
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

        let mut params = params_for(language);
        params.set_n_threads(i32::from(opts.threads));
        // whisper.cpp stops once the token index reaches max_tokens, i.e. after max_tokens + 1
        // tokens; `assemble` caps the count exactly, this saves the extra decoder step.
        params.set_max_tokens(i32::from(opts.max_tokens.saturating_sub(1).max(1)));
        params.set_audio_ctx(audio_ctx(pcm.len()) as i32);
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

/// Encoder positions for a window of `samples`: 50 per second plus a margin of 16, at most
/// the model's 1500.
fn audio_ctx(samples: usize) -> usize {
    (samples * 50)
        .div_ceil(SAMPLE_RATE)
        .saturating_add(16)
        .min(FULL_AUDIO_CTX)
}

thread_local! {
    /// Prepared parameters per language. whisper-rs's `set_language` leaks a C string on
    /// every call, so each thread builds one template per language and clones it.
    static TEMPLATES: RefCell<Vec<(Option<&'static str>, FullParams<'static, 'static>)>> =
        const { RefCell::new(Vec::new()) };
}

fn params_for(language: Option<&'static str>) -> FullParams<'static, 'static> {
    TEMPLATES.with(|templates| {
        let mut templates = templates.borrow_mut();
        if let Some((_, p)) = templates.iter().find(|(l, _)| *l == language) {
            return p.clone();
        }
        let mut p = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
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
        templates.push((language, p.clone()));
        p
    })
}

/// One token whisper sampled.
#[derive(Clone, Debug, PartialEq)]
struct Sampled {
    id: i32,
    plog: f32,
    /// The token's text; empty for special tokens.
    bytes: Vec<u8>,
}

/// Applies the guards to what whisper sampled: special tokens dropped, text tokens capped at
/// `max_tokens`, repetition loop cut, thresholds.
fn assemble(
    sampled: &[Sampled],
    eot: i32,
    no_speech_prob: Option<f32>,
    opts: &DecodeOptions,
) -> Decoded {
    let Some(no_speech_prob) = no_speech_prob else {
        return Decoded {
            text: String::new(),
            tokens: 0,
            avg_logprob: 0.0,
            no_speech_prob: 0.0,
            rejected: Some(Rejection::NoOutput),
            looped: false,
        };
    };
    let avg_logprob = if sampled.is_empty() {
        0.0
    } else {
        sampled.iter().map(|t| f64::from(t.plog)).sum::<f64>() as f32 / sampled.len() as f32
    };
    let text_tokens: Vec<&Sampled> = sampled
        .iter()
        .filter(|t| t.id < eot)
        .take(usize::from(opts.max_tokens))
        .collect();
    let ids: Vec<i32> = text_tokens.iter().map(|t| t.id).collect();
    let keep = loop_cut(&ids);
    let looped = keep.is_some();
    let kept = &text_tokens[..keep.unwrap_or(text_tokens.len())];
    let bytes: Vec<u8> = kept.iter().flat_map(|t| t.bytes.iter().copied()).collect();
    let mut text = String::from_utf8_lossy(&bytes).trim().to_string();

    let low_confidence = avg_logprob < opts.logprob_threshold;
    let rejected = if low_confidence && no_speech_prob > opts.no_speech_threshold {
        Some(Rejection::NoSpeech)
    } else if low_confidence {
        Some(Rejection::LowConfidence)
    } else if looped && text.is_empty() {
        Some(Rejection::Repetition)
    } else {
        None
    };
    if rejected.is_some() {
        text.clear();
    }
    Decoded {
        text,
        tokens: text_tokens.len(),
        avg_logprob,
        no_speech_prob,
        rejected,
        looped,
    }
}

/// Where to cut a repetition loop: the earliest position where a token or an n-gram (n ≤ 4)
/// occurs three or more times in a row; the first occurrence is kept and the repeats cut.
/// `None` when there is no loop.
fn loop_cut(ids: &[i32]) -> Option<usize> {
    const MAX_N: usize = 4;
    const REPEATS: usize = 3;
    (0..ids.len()).find_map(|start| {
        (1..=MAX_N).find_map(|n| {
            let end = start + n * REPEATS;
            let first = ids.get(start..start + n)?;
            let repeated = end <= ids.len()
                && (1..REPEATS).all(|r| &ids[start + r * n..start + (r + 1) * n] == first);
            repeated.then_some(start + n)
        })
    })
}

/// Walks the whole model file the way whisper.cpp's loader reads it and checks everything the
/// loader trusts: magic, hyper-parameters, mel filters, vocabulary (with the `" "` token the
/// decoder needs), and every tensor's name, shape, type and extent, all present once.
fn inspect(path: &Path) -> Result<Header, ModelError> {
    let io_err = |source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    };
    let invalid = |problem: String| ModelError::Invalid {
        path: path.to_path_buf(),
        problem,
    };
    let file = File::open(path).map_err(io_err)?;
    let meta = file.metadata().map_err(io_err)?;
    if !meta.is_file() {
        return Err(invalid("not a regular file".into()));
    }
    let len = meta.len();
    let mut r = Reader {
        inner: BufReader::with_capacity(1 << 16, file),
        pos: 0,
        len,
        path,
    };

    let mut magic = [0u8; 4];
    r.exact(&mut magic, "the magic number")?;
    if u32::from_le_bytes(magic) != ggml::MAGIC {
        let found = if &magic == b"GGUF" {
            "a GGUF file; whisper.cpp needs the legacy ggml format".to_string()
        } else {
            format!("it starts with {magic:02x?}")
        };
        return Err(ModelError::NotGgml {
            path: path.to_path_buf(),
            found,
        });
    }

    let mut fields = [0i32; 11];
    for f in &mut fields {
        *f = r.i32("the header")?;
    }
    let h = Header::from_array(fields);
    check_header(&h).map_err(invalid)?;

    let (n_mel, n_fft) = (r.i32("the mel filters")?, r.i32("the mel filters")?);
    if n_mel != h.n_mels || n_fft != ggml::N_FFT_BINS {
        return Err(invalid(format!(
            "mel filterbank is {n_mel}×{n_fft}, expected {}×{}",
            h.n_mels,
            ggml::N_FFT_BINS
        )));
    }
    r.skip(n_mel as u64 * n_fft as u64 * 4, "the mel filters")?;

    let n_tokens = r.i32("the vocabulary")?;
    if n_tokens <= 0 || n_tokens > h.n_vocab {
        return Err(invalid(format!(
            "vocabulary of {n_tokens} tokens, expected 1..={}",
            h.n_vocab
        )));
    }
    let mut has_space = false;
    for id in 0..n_tokens {
        let n = r.u32("the vocabulary")?;
        if n > 1024 {
            return Err(invalid(format!("vocabulary token {id} is {n} bytes long")));
        }
        if n == 1 {
            let mut b = [0u8; 1];
            r.exact(&mut b, "the vocabulary")?;
            has_space |= b[0] == b' ';
        } else {
            r.skip(u64::from(n), "the vocabulary")?;
        }
    }
    if !has_space {
        return Err(invalid(
            "vocabulary has no \" \" token (whisper.cpp would abort)".into(),
        ));
    }

    let specs = ggml::tensor_specs(&h);
    let mut seen = vec![false; specs.len()];
    while r.pos < r.len {
        let what = "a tensor header";
        let (n_dims, name_len, ty) = (r.i32(what)?, r.i32(what)?, r.i32(what)?);
        if !(1..=4).contains(&n_dims) || !(1..=256).contains(&name_len) {
            return Err(invalid(format!(
                "corrupt tensor header at byte {}: {n_dims} dimensions, name of {name_len} bytes",
                r.pos - 12
            )));
        }
        let mut dims = [1i32; 4];
        for d in dims.iter_mut().take(n_dims as usize) {
            *d = r.i32(what)?;
        }
        let mut name = vec![0u8; name_len as usize];
        r.exact(&mut name, what)?;
        let name = String::from_utf8_lossy(&name).into_owned();
        let Some(index) = specs.iter().position(|s| s.name == name) else {
            return Err(invalid(format!("unexpected tensor {name:?}")));
        };
        let spec = &specs[index];
        if std::mem::replace(&mut seen[index], true) {
            return Err(invalid(format!("tensor {name:?} appears twice")));
        }
        let mut want = [1i32; 4];
        want[..spec.dims.len()].copy_from_slice(&spec.dims);
        if dims != want {
            return Err(invalid(format!(
                "tensor {name:?} has shape {:?}, expected {:?}",
                &dims[..n_dims as usize],
                spec.dims
            )));
        }
        let Some(ty) = TensorType::from_id(ty).filter(|t| *t == spec.ty) else {
            return Err(invalid(format!(
                "tensor {name:?} has type {ty}, expected {} ({:?})",
                spec.ty as i32, spec.ty
            )));
        };
        r.skip(spec.elements() * ty.size(), &format!("tensor {name:?}"))?;
    }
    let missing: Vec<&str> = specs
        .iter()
        .zip(&seen)
        .filter(|(_, seen)| !**seen)
        .map(|(s, _)| s.name.as_str())
        .collect();
    if let Some(first) = missing.first() {
        return Err(invalid(format!(
            "{} of {} tensors missing, first {first:?}",
            missing.len(),
            specs.len()
        )));
    }
    Ok(h)
}

/// The hyper-parameters whisper.cpp 1.8.3 runs without tripping an assertion.
fn check_header(h: &Header) -> Result<(), String> {
    if !(ggml::N_VOCAB_EN..=ggml::N_VOCAB_EN + 2).contains(&h.n_vocab) {
        return Err(format!(
            "n_vocab {} is not whisper's (51864 English, 51865–51866 multilingual)",
            h.n_vocab
        ));
    }
    if h.n_mels != ggml::N_MELS {
        return Err(format!("n_mels {} is not 80", h.n_mels));
    }
    match h.ftype {
        1 => {}
        0 => {
            return Err(
                "ftype 0 (all f32) makes whisper.cpp 1.8.3 abort in the encoder; use an f16 model"
                    .into(),
            )
        }
        other => {
            return Err(format!(
                "ftype {other} is not supported (only f16 models, ftype 1)"
            ))
        }
    }
    let dims = [
        ("n_audio_state", h.n_audio_state, 4096),
        ("n_audio_head", h.n_audio_head, 64),
        ("n_audio_layer", h.n_audio_layer, 64),
        ("n_text_ctx", h.n_text_ctx, 4096),
        ("n_text_state", h.n_text_state, 4096),
        ("n_text_head", h.n_text_head, 64),
        ("n_text_layer", h.n_text_layer, 64),
    ];
    for (name, v, max) in dims {
        if !(1..=max).contains(&v) {
            return Err(format!("{name} {v} is outside 1..={max}"));
        }
    }
    if h.n_audio_ctx != FULL_AUDIO_CTX as i32 {
        return Err(format!("n_audio_ctx {} is not 1500", h.n_audio_ctx));
    }
    if h.n_audio_state != h.n_text_state {
        return Err(format!(
            "n_audio_state {} differs from n_text_state {}",
            h.n_audio_state, h.n_text_state
        ));
    }
    if h.n_audio_state % h.n_audio_head != 0 || h.n_text_state % h.n_text_head != 0 {
        return Err("attention heads do not divide the model width".into());
    }
    if h.n_text_ctx < 16 {
        return Err(format!(
            "n_text_ctx {} leaves no room to decode (at least 16)",
            h.n_text_ctx
        ));
    }
    Ok(())
}

/// Sequential reads with truncation reported as such.
struct Reader<'p> {
    inner: BufReader<File>,
    pos: u64,
    len: u64,
    path: &'p Path,
}

impl Reader<'_> {
    fn truncated(&self, what: &str) -> ModelError {
        ModelError::Truncated {
            path: self.path.to_path_buf(),
            what: what.to_string(),
        }
    }

    fn exact(&mut self, buf: &mut [u8], what: &str) -> Result<(), ModelError> {
        if self.len - self.pos < buf.len() as u64 {
            return Err(self.truncated(what));
        }
        self.inner.read_exact(buf).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => self.truncated(what),
            _ => ModelError::Io {
                path: self.path.to_path_buf(),
                source: e,
            },
        })?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn i32(&mut self, what: &str) -> Result<i32, ModelError> {
        let mut b = [0u8; 4];
        self.exact(&mut b, what)?;
        Ok(i32::from_le_bytes(b))
    }

    fn u32(&mut self, what: &str) -> Result<u32, ModelError> {
        let mut b = [0u8; 4];
        self.exact(&mut b, what)?;
        Ok(u32::from_le_bytes(b))
    }

    fn skip(&mut self, n: u64, what: &str) -> Result<(), ModelError> {
        if self.len - self.pos < n {
            return Err(self.truncated(what));
        }
        let step = i64::try_from(n).map_err(|_| self.truncated(what))?;
        self.inner
            .seek_relative(step)
            .map_err(|source| ModelError::Io {
                path: self.path.to_path_buf(),
                source,
            })?;
        self.pos += n;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(id: i32, plog: f32, text: &str) -> Sampled {
        Sampled {
            id,
            plog,
            bytes: text.as_bytes().to_vec(),
        }
    }

    const EOT: i32 = 50256;

    fn relaxed() -> DecodeOptions {
        DecodeOptions {
            logprob_threshold: -1000.0,
            no_speech_threshold: 1.0,
            ..DecodeOptions::default()
        }
    }

    #[test]
    fn loops_are_cut_after_the_first_occurrence() {
        assert_eq!(loop_cut(&[]), None);
        assert_eq!(loop_cut(&[1, 2, 3, 4, 5]), None);
        assert_eq!(loop_cut(&[1, 1]), None);
        assert_eq!(loop_cut(&[1, 1, 1]), Some(1));
        assert_eq!(loop_cut(&[5, 6, 1, 1, 1, 1, 2]), Some(3));
        assert_eq!(loop_cut(&[5, 1, 2, 1, 2, 1, 2]), Some(3));
        assert_eq!(loop_cut(&[1, 2, 1, 2, 3]), None);
        assert_eq!(loop_cut(&[9, 1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4]), Some(5));
        // Five-grams are not loops by this rule.
        assert_eq!(
            loop_cut(&[1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5]),
            None
        );
        // The earliest start wins.
        assert_eq!(loop_cut(&[1, 2, 1, 2, 1, 2, 2, 2]), Some(2));
    }

    #[test]
    fn assemble_drops_special_tokens_and_trims() {
        let sampled = [
            tok(10, -0.5, " hello"),
            tok(11, -0.5, " there"),
            tok(EOT, -0.1, ""),
        ];
        let d = assemble(&sampled, EOT, Some(0.1), &DecodeOptions::default());
        assert_eq!(d.text, "hello there");
        assert_eq!(d.tokens, 2);
        assert!((d.avg_logprob - (-1.1 / 3.0)).abs() < 1e-6);
        assert_eq!(d.rejected, None);
        assert!(!d.looped);
    }

    #[test]
    fn assemble_caps_tokens_and_cuts_loops() {
        let sampled: Vec<Sampled> = [" a", " b", " c", " c", " c", " c", " d"]
            .iter()
            .enumerate()
            .map(|(i, t)| tok(if (2..=5).contains(&i) { 3 } else { i as i32 }, -0.2, t))
            .collect();
        let d = assemble(&sampled, EOT, Some(0.0), &relaxed());
        assert_eq!(d.text, "a b c");
        assert!(d.looped);
        assert_eq!(d.tokens, 7);

        let capped = DecodeOptions {
            max_tokens: 2,
            ..relaxed()
        };
        let d = assemble(&sampled, EOT, Some(0.0), &capped);
        assert_eq!((d.text.as_str(), d.tokens, d.looped), ("a b", 2, false));

        let all_loop = [tok(7, -0.1, " x"), tok(7, -0.1, " x"), tok(7, -0.1, " x")];
        let d = assemble(&all_loop, EOT, Some(0.0), &relaxed());
        assert_eq!(d.text, "x");
        let all_space = [
            tok(220, -0.1, " "),
            tok(220, -0.1, " "),
            tok(220, -0.1, " "),
        ];
        let d = assemble(&all_space, EOT, Some(0.0), &relaxed());
        assert_eq!(
            (d.text.as_str(), d.rejected),
            ("", Some(Rejection::Repetition))
        );
    }

    #[test]
    fn assemble_rejects_like_whisper() {
        let sampled = [tok(10, -2.0, " maybe"), tok(EOT, -2.0, "")];
        let opts = DecodeOptions::default();
        let d = assemble(&sampled, EOT, Some(0.9), &opts);
        assert_eq!(
            (d.text.as_str(), d.rejected),
            ("", Some(Rejection::NoSpeech))
        );
        let d = assemble(&sampled, EOT, Some(0.1), &opts);
        assert_eq!(d.rejected, Some(Rejection::LowConfidence));
        assert_eq!(d.tokens, 1);
        // Confident text survives a high no-speech probability, as in whisper.
        let confident = [tok(10, -0.1, " yes"), tok(EOT, -0.1, "")];
        let d = assemble(&confident, EOT, Some(0.9), &opts);
        assert_eq!((d.text.as_str(), d.rejected), ("yes", None));
        let d = assemble(&[], EOT, None, &opts);
        assert_eq!(d.rejected, Some(Rejection::NoOutput));
    }

    #[test]
    fn multibyte_text_split_across_tokens() {
        let e_acute = "é".as_bytes();
        let sampled = [
            Sampled {
                id: 1,
                plog: -0.1,
                bytes: vec![b' ', e_acute[0]],
            },
            Sampled {
                id: 2,
                plog: -0.1,
                bytes: vec![e_acute[1], b't', b'e'],
            },
        ];
        let d = assemble(&sampled, EOT, Some(0.0), &DecodeOptions::default());
        assert_eq!(d.text, "éte");
    }

    #[test]
    fn audio_context_follows_the_window() {
        assert_eq!(audio_ctx(4 * SAMPLE_RATE), 216);
        assert_eq!(audio_ctx(MIN_SAMPLES), 6 + 16);
        assert_eq!(audio_ctx(MAX_SAMPLES), 1500);
        assert_eq!(audio_ctx(29 * SAMPLE_RATE + 8000), 1491);
        assert_eq!(audio_ctx(29 * SAMPLE_RATE + 12000), 1500);
    }

    #[test]
    fn headers_are_checked() {
        let good = ggml::SMALLEST.header();
        assert_eq!(check_header(&good), Ok(()));
        assert_eq!(check_header(&ggml::TINY_EN.header()), Ok(()));
        let bad = |f: fn(&mut Header)| {
            let mut h = good;
            f(&mut h);
            check_header(&h).unwrap_err()
        };
        assert!(bad(|h| h.n_vocab = 50000).contains("n_vocab"));
        assert!(bad(|h| h.n_mels = 128).contains("n_mels"));
        assert!(bad(|h| h.ftype = 0).contains("ftype 0"));
        assert!(bad(|h| h.ftype = 2).contains("ftype 2"));
        assert!(bad(|h| h.n_text_layer = 0).contains("n_text_layer"));
        assert!(bad(|h| h.n_audio_head = 3).contains("heads"));
        assert!(bad(|h| h.n_text_state = 32).contains("differs"));
        assert!(bad(|h| h.n_audio_ctx = 750).contains("n_audio_ctx"));
        assert!(bad(|h| h.n_text_ctx = 8).contains("n_text_ctx"));
    }

    #[test]
    fn decoder_is_send_and_model_is_shared() {
        fn send<T: Send>() {}
        fn shared<T: Send + Sync + Clone>() {}
        send::<Decoder>();
        shared::<Model>();
    }
}
