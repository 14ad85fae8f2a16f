//! A generator of whisper.cpp model files with deterministic pseudo-random weights, for tests
//! and cost measurements without a real model.
//!
//! The file uses whisper.cpp's legacy ggml layout (little-endian): the magic, eleven `i32`
//! hyper-parameters, the mel filterbank, the vocabulary, then every tensor as a small header
//! (dimension count, name length, type, dimensions in ggml order, name) followed by its raw data.
//! The tensor list, shapes and types follow whisper.cpp 1.8.3's loader (`whisper_model_load`):
//! weights of two or more dimensions are f16, one-dimensional tensors, both positional embeddings
//! and the convolution biases are f32.
//!
//! A random model transcribes nothing meaningful, but it exercises the whole path — mel
//! spectrogram, encoder, greedy decoding, token data — with the real shapes and costs, and its
//! output depends on the audio. The vocabulary is made of short readable pseudo-words (" ka",
//! " lomi", …) so that transcripts look like words separated by spaces.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// `"ggml"` read as a little-endian `u32`.
pub(crate) const MAGIC: u32 = 0x6767_6d6c;
/// Vocabulary size of English-only models (text tokens, specials and timestamps).
pub(crate) const N_VOCAB_EN: i32 = 51864;
/// Number of text tokens written into the file; whisper.cpp adds the special tokens itself.
const N_TEXT_TOKENS: i32 = 50256;
/// Mel bands of every model but large-v3.
pub(crate) const N_MELS: i32 = 80;
/// Mel bands of large-v3.
pub(crate) const N_MELS_V3: i32 = 128;
/// Frequency bins of the 400-point FFT whisper uses.
pub(crate) const N_FFT_BINS: i32 = 201;
/// The id of the `" "` token (as in GPT-2); whisper.cpp needs a `" "` token.
const SPACE_TOKEN: usize = 220;

/// The architecture of a generated model (vocabulary 51864 tokens, 80 mel bands, f16 weights).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    /// Encoder positions; whisper.cpp's convolution front end needs 1500.
    pub n_audio_ctx: i32,
    /// Encoder width; must equal `n_text_state`.
    pub n_audio_state: i32,
    /// Encoder attention heads; must divide `n_audio_state`.
    pub n_audio_head: i32,
    /// Encoder blocks.
    pub n_audio_layer: i32,
    /// Decoder positions; a window decodes at most `n_text_ctx / 2 - 4` tokens.
    pub n_text_ctx: i32,
    /// Decoder width.
    pub n_text_state: i32,
    /// Decoder attention heads; must divide `n_text_state`.
    pub n_text_head: i32,
    /// Decoder blocks.
    pub n_text_layer: i32,
}

impl Shape {
    /// The exact architecture of whisper's tiny.en (≈ 77.7 MB as f16): same encoder cost and cost
    /// per token as the real model.
    pub const TINY_EN: Shape = Shape {
        n_audio_ctx: 1500,
        n_audio_state: 384,
        n_audio_head: 6,
        n_audio_layer: 4,
        n_text_ctx: 448,
        n_text_state: 384,
        n_text_head: 6,
        n_text_layer: 4,
    };

    /// The smallest shape that still decodes (≈ 2.4 MB): width 16, one head, one encoder and
    /// one decoder block, 64 text positions (at most 28 tokens per window).
    pub const SMALLEST: Shape = Shape {
        n_audio_ctx: 1500,
        n_audio_state: 16,
        n_audio_head: 1,
        n_audio_layer: 1,
        n_text_ctx: 64,
        n_text_state: 16,
        n_text_head: 1,
        n_text_layer: 1,
    };

    /// `"tiny.en"` or `"smallest"`.
    pub fn by_name(name: &str) -> Option<Shape> {
        match name {
            "tiny.en" => Some(Shape::TINY_EN),
            "smallest" => Some(Shape::SMALLEST),
            _ => None,
        }
    }

    pub(crate) fn header(&self) -> Header {
        Header {
            n_vocab: N_VOCAB_EN,
            n_audio_ctx: self.n_audio_ctx,
            n_audio_state: self.n_audio_state,
            n_audio_head: self.n_audio_head,
            n_audio_layer: self.n_audio_layer,
            n_text_ctx: self.n_text_ctx,
            n_text_state: self.n_text_state,
            n_text_head: self.n_text_head,
            n_text_layer: self.n_text_layer,
            n_mels: N_MELS,
            ftype: 1,
        }
    }
}

/// `pub const` aliases, so callers may write `ggml::TINY_EN`.
pub const TINY_EN: Shape = Shape::TINY_EN;
/// See [`Shape::SMALLEST`].
pub const SMALLEST: Shape = Shape::SMALLEST;

/// The eleven hyper-parameters at the start of a model file, in file order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub n_vocab: i32,
    pub n_audio_ctx: i32,
    pub n_audio_state: i32,
    pub n_audio_head: i32,
    pub n_audio_layer: i32,
    pub n_text_ctx: i32,
    pub n_text_state: i32,
    pub n_text_head: i32,
    pub n_text_layer: i32,
    pub n_mels: i32,
    pub ftype: i32,
}

impl Header {
    pub(crate) fn to_array(self) -> [i32; 11] {
        [
            self.n_vocab,
            self.n_audio_ctx,
            self.n_audio_state,
            self.n_audio_head,
            self.n_audio_layer,
            self.n_text_ctx,
            self.n_text_state,
            self.n_text_head,
            self.n_text_layer,
            self.n_mels,
            self.ftype,
        ]
    }

    pub(crate) fn from_array(a: [i32; 11]) -> Header {
        Header {
            n_vocab: a[0],
            n_audio_ctx: a[1],
            n_audio_state: a[2],
            n_audio_head: a[3],
            n_audio_layer: a[4],
            n_text_ctx: a[5],
            n_text_state: a[6],
            n_text_head: a[7],
            n_text_layer: a[8],
            n_mels: a[9],
            ftype: a[10],
        }
    }
}

/// ggml element types used by whisper models.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TensorType {
    F32 = 0,
    F16 = 1,
}

impl TensorType {
    pub(crate) fn from_id(id: i32) -> Option<TensorType> {
        match id {
            0 => Some(TensorType::F32),
            1 => Some(TensorType::F16),
            _ => None,
        }
    }

    pub(crate) fn size(self) -> u64 {
        match self {
            TensorType::F32 => 4,
            TensorType::F16 => 2,
        }
    }
}

/// One tensor as whisper.cpp's loader expects it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TensorSpec {
    pub name: String,
    /// ggml order: the fastest-varying dimension first.
    pub dims: Vec<i32>,
    pub ty: TensorType,
}

impl TensorSpec {
    pub(crate) fn elements(&self) -> u64 {
        self.dims.iter().map(|&d| d as u64).product()
    }

    /// Bytes of the tensor record: header, dimensions, name and data.
    fn record_bytes(&self) -> u64 {
        12 + 4 * self.dims.len() as u64 + self.name.len() as u64 + self.elements() * self.ty.size()
    }
}

/// Every tensor of a model with these hyper-parameters, in the order the converter writes them.
/// `ftype` 1 stores matrices as f16, 0 as f32.
pub(crate) fn tensor_specs(h: &Header) -> Vec<TensorSpec> {
    let w = if h.ftype == 0 {
        TensorType::F32
    } else {
        TensorType::F16
    };
    let f32 = TensorType::F32;
    let mut out =
        Vec::with_capacity(11 + 15 * h.n_audio_layer as usize + 24 * h.n_text_layer as usize);
    let mut push = |name: String, dims: &[i32], ty: TensorType| {
        out.push(TensorSpec {
            name,
            dims: dims.to_vec(),
            ty,
        })
    };
    let (a, t) = (h.n_audio_state, h.n_text_state);

    push(
        "encoder.positional_embedding".into(),
        &[a, h.n_audio_ctx],
        f32,
    );
    push("encoder.conv1.weight".into(), &[3, h.n_mels, a], w);
    push("encoder.conv1.bias".into(), &[1, a], f32);
    push("encoder.conv2.weight".into(), &[3, a, a], w);
    push("encoder.conv2.bias".into(), &[1, a], f32);
    for i in 0..h.n_audio_layer {
        let p = format!("encoder.blocks.{i}");
        block(&mut push, &p, "attn", a, w);
        mlp(&mut push, &p, a, w);
    }
    push("encoder.ln_post.weight".into(), &[a], f32);
    push("encoder.ln_post.bias".into(), &[a], f32);

    push(
        "decoder.positional_embedding".into(),
        &[t, h.n_text_ctx],
        f32,
    );
    push("decoder.token_embedding.weight".into(), &[t, h.n_vocab], w);
    for i in 0..h.n_text_layer {
        let p = format!("decoder.blocks.{i}");
        block(&mut push, &p, "attn", t, w);
        block(&mut push, &p, "cross_attn", t, w);
        mlp(&mut push, &p, t, w);
    }
    push("decoder.ln.weight".into(), &[t], f32);
    push("decoder.ln.bias".into(), &[t], f32);
    out
}

/// An attention sub-block: its layer norm and the query, key (no bias), value and output
/// projections.
fn block(
    push: &mut impl FnMut(String, &[i32], TensorType),
    p: &str,
    attn: &str,
    n: i32,
    w: TensorType,
) {
    let f32 = TensorType::F32;
    push(format!("{p}.{attn}_ln.weight"), &[n], f32);
    push(format!("{p}.{attn}_ln.bias"), &[n], f32);
    push(format!("{p}.{attn}.query.weight"), &[n, n], w);
    push(format!("{p}.{attn}.query.bias"), &[n], f32);
    push(format!("{p}.{attn}.key.weight"), &[n, n], w);
    push(format!("{p}.{attn}.value.weight"), &[n, n], w);
    push(format!("{p}.{attn}.value.bias"), &[n], f32);
    push(format!("{p}.{attn}.out.weight"), &[n, n], w);
    push(format!("{p}.{attn}.out.bias"), &[n], f32);
}

/// The feed-forward sub-block: layer norm, n → 4n → n.
fn mlp(push: &mut impl FnMut(String, &[i32], TensorType), p: &str, n: i32, w: TensorType) {
    let f32 = TensorType::F32;
    push(format!("{p}.mlp_ln.weight"), &[n], f32);
    push(format!("{p}.mlp_ln.bias"), &[n], f32);
    push(format!("{p}.mlp.0.weight"), &[n, 4 * n], w);
    push(format!("{p}.mlp.0.bias"), &[4 * n], f32);
    push(format!("{p}.mlp.2.weight"), &[4 * n, n], w);
    push(format!("{p}.mlp.2.bias"), &[n], f32);
}

/// The exact number of bytes [`write_model`] writes for `shape`.
pub fn expected_size(shape: &Shape) -> u64 {
    let h = shape.header();
    let header = 4 + 11 * 4;
    let filters = 8 + (N_MELS * N_FFT_BINS) as u64 * 4;
    let vocab: u64 = 4
        + (0..N_TEXT_TOKENS as usize)
            .map(|id| 4 + token_text(id).len() as u64)
            .sum::<u64>();
    let tensors: u64 = tensor_specs(&h).iter().map(TensorSpec::record_bytes).sum();
    header + filters + vocab + tensors
}

/// Writes a complete model file for `shape` with weights drawn from `seed`; the same shape and
/// seed always give the same bytes.
pub fn write_model(out: &mut impl Write, shape: &Shape, seed: u64) -> io::Result<()> {
    let h = shape.header();
    let mut buf = Chunked::new(out);

    buf.u32(MAGIC)?;
    for v in h.to_array() {
        buf.i32(v)?;
    }

    buf.i32(N_MELS)?;
    buf.i32(N_FFT_BINS)?;
    for v in mel_filters(N_MELS as usize) {
        buf.f32(v)?;
    }

    buf.i32(N_TEXT_TOKENS)?;
    for id in 0..N_TEXT_TOKENS as usize {
        let text = token_text(id);
        buf.u32(text.len() as u32)?;
        buf.bytes(text.as_bytes())?;
    }

    for (index, spec) in tensor_specs(&h).iter().enumerate() {
        buf.i32(spec.dims.len() as i32)?;
        buf.i32(spec.name.len() as i32)?;
        buf.i32(spec.ty as i32)?;
        for &d in &spec.dims {
            buf.i32(d)?;
        }
        buf.bytes(spec.name.as_bytes())?;

        let mut values = Values::new(spec, seed, index as u64);
        for _ in 0..spec.elements() {
            let v = values.next_value();
            match spec.ty {
                TensorType::F32 => buf.f32(v)?,
                TensorType::F16 => buf.bytes(&f32_to_f16(v).to_le_bytes())?,
            }
        }
    }
    buf.finish()
}

/// [`write_model`] into `path`, through a temporary file in the same directory renamed into
/// place, so a reader never sees a partial model.
pub fn write_model_file(path: &Path, shape: &Shape, seed: u64) -> io::Result<()> {
    let file_name = path.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "model path has no file name")
    })?;
    let mut tmp_name = file_name.to_os_string();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);

    let result = (|| {
        let mut file = BufWriter::new(File::create(&tmp)?);
        write_model(&mut file, shape, seed)?;
        let file = file.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Buffers small writes into 64 KiB blocks.
struct Chunked<'w, W: Write> {
    out: &'w mut W,
    buf: Vec<u8>,
}

impl<'w, W: Write> Chunked<'w, W> {
    const BLOCK: usize = 64 * 1024;

    fn new(out: &'w mut W) -> Self {
        Chunked {
            out,
            buf: Vec::with_capacity(Self::BLOCK),
        }
    }

    fn bytes(&mut self, b: &[u8]) -> io::Result<()> {
        self.buf.extend_from_slice(b);
        if self.buf.len() >= Self::BLOCK {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    fn u32(&mut self, v: u32) -> io::Result<()> {
        self.bytes(&v.to_le_bytes())
    }

    fn i32(&mut self, v: i32) -> io::Result<()> {
        self.bytes(&v.to_le_bytes())
    }

    fn f32(&mut self, v: f32) -> io::Result<()> {
        self.bytes(&v.to_le_bytes())
    }

    fn finish(mut self) -> io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        self.out.flush()
    }
}

/// splitmix64: small, fast and good enough for weights.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    fn symmetric(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 23) as f32) - 1.0
    }
}

/// Scales of the random weights, tuned by decoding speech-like audio with the smallest shape.
/// The output projection is the token embedding itself, so when the embedding dominates the
/// residual stream the decoder predicts the token it was just fed, forever (gain 1, embedding
/// 1: "tuki tuki …" for every input). Strong projections, small embeddings and large decoder
/// positions make each step differ: 28 varied tokens per window, a different text per input,
/// average log-probability ≈ -7.
mod scale {
    /// Standard deviation of a projection times √fan_in.
    pub const GAIN: f32 = 3.0;
    /// Standard deviation of token embeddings (also the output projection).
    pub const TOKEN_EMBEDDING: f32 = 0.3;
    /// Standard deviation of decoder positional embeddings.
    pub const DECODER_POSITION: f32 = 2.0;
    /// Bound of the uniform biases.
    pub const BIAS: f32 = 0.05;
}

/// The values of one tensor, in file order.
struct Values<'s> {
    spec: &'s TensorSpec,
    rng: Rng,
    kind: Kind,
    index: u64,
}

enum Kind {
    Constant(f32),
    Uniform(f32),
    Sinusoid,
}

impl<'s> Values<'s> {
    fn new(spec: &'s TensorSpec, seed: u64, tensor_index: u64) -> Self {
        let mut seeder = Rng(seed ^ tensor_index.wrapping_mul(0xd6e8_feb8_6659_fd93));
        let rng = Rng(seeder.next_u64());
        let name = spec.name.as_str();
        // √3 turns a uniform bound into a standard deviation of 1.
        let sqrt3 = 3f32.sqrt();
        let kind = if name.ends_with("ln.weight") || name.ends_with("ln_post.weight") {
            Kind::Constant(1.0)
        } else if name.ends_with("ln.bias") || name.ends_with("ln_post.bias") {
            Kind::Constant(0.0)
        } else if name == "encoder.positional_embedding" {
            Kind::Sinusoid
        } else if name == "decoder.positional_embedding" {
            Kind::Uniform(sqrt3 * scale::DECODER_POSITION)
        } else if name == "decoder.token_embedding.weight" {
            Kind::Uniform(sqrt3 * scale::TOKEN_EMBEDDING)
        } else if name.ends_with(".bias") {
            Kind::Uniform(scale::BIAS)
        } else {
            // Projections [in, out] and convolutions [kernel, in, out]: fan-in is everything
            // but the last dimension.
            let fan_in: i64 = spec.dims[..spec.dims.len() - 1]
                .iter()
                .map(|&d| d as i64)
                .product();
            Kind::Uniform(sqrt3 * scale::GAIN / (fan_in.max(1) as f32).sqrt())
        };
        Values {
            spec,
            rng,
            kind,
            index: 0,
        }
    }

    fn next_value(&mut self) -> f32 {
        let i = self.index;
        self.index += 1;
        match self.kind {
            Kind::Constant(v) => v,
            Kind::Uniform(bound) => bound * self.rng.symmetric(),
            Kind::Sinusoid => {
                // whisper's sinusoids(): [sin(t·inv_k) for k] ++ [cos(t·inv_k) for k]
                let channels = self.spec.dims[0] as u64;
                let half = (channels / 2).max(1);
                let (t, c) = ((i / channels) as f64, i % channels);
                let k = (c % half) as f64;
                let increment = 10000f64.ln() / ((half as f64) - 1.0).max(1.0);
                let angle = t * (-increment * k).exp();
                (if c < half { angle.sin() } else { angle.cos() }) as f32
            }
        }
    }
}

/// A Slaney-style triangular mel filterbank, `n_mels` bands (80, or 128 for large-v3) over 201
/// FFT bins, 0–8 kHz, normalised to constant energy per band: librosa's
/// `filters.mel(sr=16000, n_fft=400, n_mels)`, which whisper uses.
pub(crate) fn mel_filters(n_mels: usize) -> Vec<f32> {
    fn hz_to_mel(f: f64) -> f64 {
        let f_sp = 200.0 / 3.0;
        if f < 1000.0 {
            f / f_sp
        } else {
            1000.0 / f_sp + (f / 1000.0).ln() / (6.4f64.ln() / 27.0)
        }
    }
    fn mel_to_hz(m: f64) -> f64 {
        let f_sp = 200.0 / 3.0;
        let m_break = 1000.0 / f_sp;
        if m < m_break {
            m * f_sp
        } else {
            1000.0 * ((m - m_break) * (6.4f64.ln() / 27.0)).exp()
        }
    }

    let n_bins = N_FFT_BINS as usize;
    let top = hz_to_mel(8000.0);
    let edges: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(top * i as f64 / (n_mels + 1) as f64))
        .collect();
    let mut out = vec![0f32; n_mels * n_bins];
    for m in 0..n_mels {
        let (lo, mid, hi) = (edges[m], edges[m + 1], edges[m + 2]);
        let norm = 2.0 / (hi - lo);
        for k in 0..n_bins {
            let f = k as f64 * 8000.0 / (n_bins - 1) as f64;
            let w = ((f - lo) / (mid - lo)).min((hi - f) / (hi - mid)).max(0.0);
            out[m * n_bins + k] = (w * norm) as f32;
        }
    }
    out
}

/// The text of vocabulary entry `id` (0 ≤ id < 50256): printable ASCII characters for ids below
/// 94 (as in GPT-2), `" "` at 220, and unique pseudo-words of one to three consonant-vowel
/// syllables elsewhere, most with a leading space.
pub(crate) fn token_text(id: usize) -> String {
    const CONSONANTS: &[u8] = b"bdfghklmnprstvz";
    const VOWELS: &[u8] = b"aeiou";
    const SYLLABLES: usize = 15 * 5;

    if id < 94 {
        return char::from(b'!' + id as u8).to_string();
    }
    if id == SPACE_TOKEN {
        return " ".to_string();
    }
    // Number the remaining ids 0, 1, 2, … and spell the number in bijective base 75 with
    // syllables: every number gets a distinct word.
    let mut n = if id < SPACE_TOKEN { id - 94 } else { id - 95 };
    let mut word = String::new();
    // Scatter word-starts and continuations over the ids: one in eight has no leading space.
    if (id.wrapping_mul(0x9e37_79b9) >> 7) & 7 != 0 {
        word.push(' ');
    }
    loop {
        let s = n % SYLLABLES;
        word.push(char::from(CONSONANTS[s / 5]));
        word.push(char::from(VOWELS[s % 5]));
        n /= SYLLABLES;
        if n == 0 {
            break;
        }
        n -= 1;
    }
    word
}

/// IEEE 754 binary32 → binary16 bits, rounding to nearest even (subnormals, overflow to
/// infinity and NaN included).
pub(crate) fn f32_to_f16(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let man = bits & 0x007f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if man != 0 { 0x0200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        let m = man | 0x0080_0000;
        let shift = (14 - e) as u32;
        let mut h = m >> shift;
        let rem = m & ((1 << shift) - 1);
        let halfway = 1 << (shift - 1);
        if rem > halfway || (rem == halfway && h & 1 == 1) {
            h += 1;
        }
        return sign | h as u16;
    }
    let mut h = ((e as u32) << 10) | (man >> 13);
    let rem = man & 0x1fff;
    if rem > 0x1000 || (rem == 0x1000 && h & 1 == 1) {
        // A carry into the exponent is still correct, up to infinity.
        h += 1;
    }
    sign | h as u16
}

pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = ((h >> 10) & 0x1f) as i32;
    let man = (h & 0x3ff) as f32;
    match exp {
        0 => sign * man * 2f32.powi(-24),
        0x1f if man == 0.0 => sign * f32::INFINITY,
        0x1f => f32::NAN,
        _ => sign * (1.0 + man / 1024.0) * 2f32.powi(exp - 15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Counts bytes and keeps the first few hundred.
    struct Counter {
        n: u64,
        head: Vec<u8>,
    }

    impl Write for Counter {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            let room = 256usize.saturating_sub(self.head.len());
            self.head.extend_from_slice(&b[..room.min(b.len())]);
            self.n += b.len() as u64;
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn written(shape: &Shape, seed: u64) -> Counter {
        let mut c = Counter {
            n: 0,
            head: Vec::new(),
        };
        write_model(&mut c, shape, seed).unwrap();
        c
    }

    fn i32_at(b: &[u8], i: usize) -> i32 {
        i32::from_le_bytes(b[4 * i..4 * i + 4].try_into().unwrap())
    }

    #[test]
    fn tensor_count_matches_the_loader() {
        let n = |s: &Shape| tensor_specs(&s.header()).len() as i32;
        assert_eq!(n(&TINY_EN), 7 + 15 * 4 + 4 + 24 * 4);
        assert_eq!(n(&TINY_EN), 167);
        assert_eq!(n(&SMALLEST), 7 + 15 + 4 + 24);
        let names: HashSet<String> = tensor_specs(&TINY_EN.header())
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(names.len(), 167, "names are unique");
        assert!(names.contains("decoder.blocks.3.cross_attn.out.bias"));
        assert!(names.contains("encoder.blocks.0.attn.query.weight"));
    }

    #[test]
    fn smallest_file_has_the_expected_header_and_size() {
        let c = written(&SMALLEST, 7);
        assert_eq!(c.n, expected_size(&SMALLEST));
        assert!((2_000_000..3_000_000).contains(&c.n), "{} bytes", c.n);
        assert_eq!(u32::from_le_bytes(c.head[..4].try_into().unwrap()), MAGIC);
        let fields: Vec<i32> = (1..=11).map(|i| i32_at(&c.head, i)).collect();
        assert_eq!(fields, SMALLEST.header().to_array().to_vec());
        assert_eq!(i32_at(&c.head, 12), 80);
        assert_eq!(i32_at(&c.head, 13), 201);
    }

    #[test]
    fn tiny_en_file_is_77_7_mb() {
        let c = written(&TINY_EN, 1);
        assert_eq!(c.n, expected_size(&TINY_EN));
        assert_eq!((c.n as f64 / 1e5).round() / 10.0, 77.7, "{} bytes", c.n);
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let bytes = |seed| {
            let mut v = Vec::new();
            write_model(&mut v, &SMALLEST, seed).unwrap();
            v
        };
        let (a, b, c) = (bytes(3), bytes(3), bytes(4));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), c.len());
    }

    #[test]
    fn vocabulary_is_printable_unique_and_has_a_space() {
        let words: Vec<String> = (0..N_TEXT_TOKENS as usize).map(token_text).collect();
        assert_eq!(words[SPACE_TOKEN], " ");
        assert_eq!(words[0], "!");
        let unique: HashSet<&String> = words.iter().collect();
        assert_eq!(unique.len(), words.len());
        for w in &words {
            assert!(!w.is_empty() && w.len() <= 7, "{w:?}");
            assert!(w.bytes().all(|b| (0x20..0x7f).contains(&b)), "{w:?}");
        }
        let spaced = words.iter().filter(|w| w.starts_with(' ')).count();
        assert!(spaced > words.len() * 7 / 10, "{spaced}");
    }

    #[test]
    fn mel_filters_are_triangles_covering_the_spectrum() {
        let f = mel_filters(80);
        assert_eq!(f.len(), 80 * 201);
        for m in 0..80 {
            let row = &f[m * 201..(m + 1) * 201];
            assert!(row.iter().all(|&v| v >= 0.0 && v.is_finite()));
            assert!(row.iter().any(|&v| v > 0.0), "band {m} is empty");
        }
        // Low bands sit on low bins, high bands on high bins.
        let peak = |m: usize| {
            (0..201)
                .max_by(|&a, &b| f[m * 201 + a].total_cmp(&f[m * 201 + b]))
                .unwrap()
        };
        assert!(peak(0) < peak(40) && peak(40) < peak(79));
    }

    #[test]
    fn f16_conversion() {
        assert_eq!(f32_to_f16(0.0), 0);
        assert_eq!(f32_to_f16(-0.0), 0x8000);
        assert_eq!(f32_to_f16(1.0), 0x3c00);
        assert_eq!(f32_to_f16(-2.0), 0xc000);
        assert_eq!(f32_to_f16(0.1), 0x2e66);
        assert_eq!(f32_to_f16(65504.0), 0x7bff);
        assert_eq!(f32_to_f16(65520.0), 0x7c00);
        assert_eq!(f32_to_f16(1e6), 0x7c00);
        assert_eq!(f32_to_f16(f32::NEG_INFINITY), 0xfc00);
        assert_eq!(f32_to_f16(f32::NAN) & 0x7e00, 0x7e00);
        assert_eq!(f32_to_f16(2f32.powi(-24)), 1);
        assert_eq!(f32_to_f16(2f32.powi(-25)), 0, "ties to even");
        assert_eq!(f32_to_f16(1.5 * 2f32.powi(-24)), 2, "ties to even");
        assert_eq!(f32_to_f16(2f32.powi(-14)), 0x0400);
        assert_eq!(f32_to_f16(1.0 + 2f32.powi(-11)), 0x3c00, "ties to even");
        let mut rng = Rng(9);
        for _ in 0..10_000 {
            let x = rng.symmetric() * 4.0;
            let back = f16_to_f32(f32_to_f16(x));
            assert!(
                (back - x).abs() <= x.abs() * 2f32.powi(-11) + 2f32.powi(-25),
                "{x} → {back}"
            );
        }
    }
}
