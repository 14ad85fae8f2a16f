//! `switchyard model import`: a CTranslate2 Whisper model directory (faster-whisper's format:
//! `model.bin`, `vocabulary.txt` or `vocabulary.json`) converted to a whisper.cpp ggml file.
//!
//! Any size, English-only or multilingual, with f16, f32, bf16 or int8/int16 storage (int
//! weights are dequantised with their per-row `weight_scale`); the file written is always
//! whisper.cpp's f16 layout (ftype 1: whisper.cpp 1.8 aborts on all-f32 files). f16 weights
//! are copied bit for bit.
//!
//! The mapping, from the format (no code is shared with either project):
//! - self-attention `linear_0` is query, key and value stacked by rows; its bias has the same
//!   layout, and its key third is dropped (whisper has no key bias, and whisper.cpp refuses a
//!   `key.bias` tensor); `linear_1` is the output projection;
//! - cross-attention `linear_0` is the query, `linear_1` key and value stacked, `linear_2`
//!   the output projection;
//! - layer norms' `gamma`/`beta` are `weight`/`bias`; linear weights keep PyTorch's
//!   `[out, in]` layout (ggml's dimensions are the reverse), nothing is scaled or transposed;
//! - `decoder/projection/weight` is an alias of the token embedding, which whisper.cpp ties;
//! - the vocabulary is GPT-2's byte-level text mapped back to bytes, written up to and
//!   including `<|endoftext|>` (whisper.cpp adds the other special and timestamp tokens);
//! - the mel filterbank, which CTranslate2 does not store, is computed (librosa's Slaney
//!   filters, 80 or 128 bands).
//!
//! Nothing half-written is ever left at the destination: the file is written beside it under a
//! temporary name, synced, checked the way whisper.cpp's loader reads it, and only then renamed
//! into place; on any refusal the temporary file is removed.

mod ct2;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::ggml::{self, f16_to_f32, f32_to_f16, Header, TensorSpec, TensorType};
use crate::whisper::ModelShape;
use ct2::{Ct2Model, Dtype, Variable};

/// Why a model directory was not converted. Nothing is left at the destination either way.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// The input is not a CTranslate2 Whisper model this importer can convert.
    #[error("{}: {problem}", path.display())]
    Refused {
        /// The file or directory at fault.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
}

/// What [`import`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Imported {
    /// The model's shape.
    pub shape: ModelShape,
    /// Storage type of the source weights (`f16`, `f32`, `bf16`, `int8`, `int16`).
    pub source_type: &'static str,
    /// Size of the file written.
    pub bytes: u64,
}

/// Converts the CTranslate2 Whisper model in `dir` to a whisper.cpp ggml file at `out`.
pub fn import(dir: &Path, out: &Path) -> Result<Imported, ImportError> {
    let bin = dir.join("model.bin");
    let refused = |path: &Path, problem: String| ImportError::Refused {
        path: path.to_path_buf(),
        problem,
    };
    if !dir.is_dir() {
        return Err(refused(
            dir,
            "not a directory (give the CTranslate2 model folder, with model.bin)".into(),
        ));
    }
    if !bin.is_file() {
        return Err(refused(
            dir,
            "no model.bin here: not a CTranslate2 model folder".into(),
        ));
    }
    let bytes = fs::read(&bin).map_err(|source| ImportError::Io {
        path: bin.clone(),
        source,
    })?;
    let model = ct2::parse(&bytes).map_err(|p| refused(&bin, p))?;
    drop(bytes);
    if model.spec != "WhisperSpec" {
        return Err(refused(
            &bin,
            format!(
                "a CTranslate2 {:?} model, not a Whisper one (WhisperSpec)",
                model.spec
            ),
        ));
    }
    let vocab = read_vocabulary(dir)?;
    let plan = Plan::new(&model, &vocab).map_err(|p| refused(&bin, p))?;
    write_checked(out, |w| plan.write(w)).map_err(|e| match e {
        WriteError::Io(path, source) => ImportError::Io { path, source },
        WriteError::Refused(problem) => refused(&bin, problem),
    })?;
    let written = fs::metadata(out)
        .map_err(|source| ImportError::Io {
            path: out.to_path_buf(),
            source,
        })?
        .len();
    Ok(Imported {
        shape: ModelShape::from(&plan.header),
        source_type: plan.source_type,
        bytes: written,
    })
}

/// The vocabulary as bytes per token: `vocabulary.json` (a JSON array of strings) or
/// `vocabulary.txt` (one token a line, split on `\n` only).
fn read_vocabulary(dir: &Path) -> Result<Vec<Vec<u8>>, ImportError> {
    let (json, txt) = (dir.join("vocabulary.json"), dir.join("vocabulary.txt"));
    let read = |path: &Path| {
        fs::read(path).map_err(|source| ImportError::Io {
            path: path.to_path_buf(),
            source,
        })
    };
    let (path, tokens): (PathBuf, Vec<String>) = if json.is_file() {
        let tokens = serde_json::from_slice(&read(&json)?).map_err(|e| ImportError::Refused {
            path: json.clone(),
            problem: format!("not a JSON array of strings ({e})"),
        })?;
        (json, tokens)
    } else if txt.is_file() {
        let text = String::from_utf8(read(&txt)?).map_err(|_| ImportError::Refused {
            path: txt.clone(),
            problem: "not UTF-8".into(),
        })?;
        let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
        if lines.last().is_some_and(String::is_empty) {
            lines.pop();
        }
        (txt, lines)
    } else {
        return Err(ImportError::Refused {
            path: dir.to_path_buf(),
            problem: "no vocabulary.txt or vocabulary.json beside model.bin".into(),
        });
    };
    let inverse = byte_decoder();
    tokens
        .iter()
        .enumerate()
        .map(|(id, token)| {
            token
                .chars()
                .map(|c| inverse.get(&c).copied())
                .collect::<Option<Vec<u8>>>()
                .ok_or_else(|| ImportError::Refused {
                    path: path.clone(),
                    problem: format!(
                        "token {id} ({token:?}) is not GPT-2 byte-level text: not a Whisper vocabulary"
                    ),
                })
        })
        .collect()
}

/// The inverse of GPT-2's `bytes_to_unicode`: printable Latin-1 characters stand for
/// themselves, the other 68 bytes for U+0100 onwards, in byte order.
fn byte_decoder() -> BTreeMap<char, u8> {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let mut map = BTreeMap::new();
    let mut next = 0u32;
    for b in 0..=255u8 {
        let c = if printable(b) {
            char::from(b)
        } else {
            next += 1;
            char::from_u32(255 + next).expect("U+0100..U+0144 are characters")
        };
        map.insert(c, b);
    }
    map
}

/// Where one ggml tensor's data comes from: a CTranslate2 variable, whole or one of `of`
/// equal row blocks.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Source {
    var: String,
    part: usize,
    of: usize,
}

/// The CTranslate2 variable behind a whisper.cpp tensor name.
fn source(name: &str) -> Option<Source> {
    let whole = |var: String| Source {
        var,
        part: 0,
        of: 1,
    };
    let fixed = match name {
        "encoder.positional_embedding" => Some("encoder/position_encodings/encodings"),
        "encoder.conv1.weight" => Some("encoder/conv1/weight"),
        "encoder.conv1.bias" => Some("encoder/conv1/bias"),
        "encoder.conv2.weight" => Some("encoder/conv2/weight"),
        "encoder.conv2.bias" => Some("encoder/conv2/bias"),
        "encoder.ln_post.weight" => Some("encoder/layer_norm/gamma"),
        "encoder.ln_post.bias" => Some("encoder/layer_norm/beta"),
        "decoder.positional_embedding" => Some("decoder/position_encodings/encodings"),
        "decoder.token_embedding.weight" => Some("decoder/embeddings/weight"),
        "decoder.ln.weight" => Some("decoder/layer_norm/gamma"),
        "decoder.ln.bias" => Some("decoder/layer_norm/beta"),
        _ => None,
    };
    if let Some(var) = fixed {
        return Some(whole(var.to_owned()));
    }
    // "<side>.blocks.<i>.<module>.<param>"
    let (side, rest) = name.split_once(".blocks.")?;
    let (layer, rest) = rest.split_once('.')?;
    let (module, param) = rest.rsplit_once('.')?;
    let prefix = format!("{side}/layer_{layer}");
    let ln = |m: &str| {
        let p = match param {
            "weight" => "gamma",
            "bias" => "beta",
            _ => return None,
        };
        Some(whole(format!("{prefix}/{m}/layer_norm/{p}")))
    };
    let linear = |m: &str, idx: usize, part: usize, of: usize| {
        Some(Source {
            var: format!("{prefix}/{m}/linear_{idx}/{param}"),
            part,
            of,
        })
    };
    match module {
        "attn_ln" => ln("self_attention"),
        "cross_attn_ln" => ln("attention"),
        "mlp_ln" => ln("ffn"),
        "attn.query" => linear("self_attention", 0, 0, 3),
        "attn.key" => linear("self_attention", 0, 1, 3),
        "attn.value" => linear("self_attention", 0, 2, 3),
        "attn.out" => linear("self_attention", 1, 0, 1),
        "cross_attn.query" => linear("attention", 0, 0, 1),
        "cross_attn.key" => linear("attention", 1, 0, 2),
        "cross_attn.value" => linear("attention", 1, 1, 2),
        "cross_attn.out" => linear("attention", 2, 0, 1),
        "mlp.0" => linear("ffn", 0, 0, 1),
        "mlp.2" => linear("ffn", 1, 0, 1),
        _ => None,
    }
}

/// Everything checked before a byte is written: the header, each tensor's source, the
/// vocabulary to write.
struct Plan<'m> {
    header: Header,
    tensors: Vec<(TensorSpec, &'m Variable, Source, Option<&'m Variable>)>,
    vocab: Vec<Vec<u8>>,
    source_type: &'static str,
}

impl<'m> Plan<'m> {
    fn new(model: &'m Ct2Model, vocab: &[Vec<u8>]) -> Result<Plan<'m>, String> {
        let var = |name: &str| {
            model.variables.get(name).ok_or_else(|| {
                format!("no variable {name}: not a Whisper model in CTranslate2's layout")
            })
        };
        let enc_pos = var("encoder/position_encodings/encodings")?;
        let dec_pos = var("decoder/position_encodings/encodings")?;
        let embedding = var("decoder/embeddings/weight")?;
        let conv1 = var("encoder/conv1/weight")?;
        if conv1.dims.len() != 3 {
            return Err(format!(
                "encoder/conv1/weight has dimensions {:?}",
                conv1.dims
            ));
        }
        let layers = |side: &str| {
            let prefix = format!("{side}/layer_");
            model
                .variables
                .keys()
                .filter_map(|k| {
                    let rest = k.strip_prefix(&prefix)?;
                    let digits = rest.split_once('/')?.0;
                    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
                        .then(|| digits.to_owned())
                })
                .collect::<BTreeSet<_>>()
                .len()
        };
        let heads =
            |side: &str, width: usize| match model.variables.get(&format!("{side}/num_heads")) {
                Some(v) => v
                    .scalar_int()
                    .ok_or_else(|| format!("{side}/num_heads is not an integer scalar")),
                // Every whisper size has 64-wide heads.
                None => Ok((width / 64) as i64),
            };
        let int = |what: &str, v: i64| {
            i32::try_from(v).map_err(|_| format!("{what} {v} is out of range"))
        };
        let (a, t) = (enc_pos.row_len(), dec_pos.row_len());
        let header = Header {
            n_vocab: int("n_vocab", embedding.rows() as i64)?,
            n_audio_ctx: int("n_audio_ctx", enc_pos.rows() as i64)?,
            n_audio_state: int("n_audio_state", a as i64)?,
            n_audio_head: int("n_audio_head", heads("encoder", a)?)?,
            n_audio_layer: int("n_audio_layer", layers("encoder") as i64)?,
            n_text_ctx: int("n_text_ctx", dec_pos.rows() as i64)?,
            n_text_state: int("n_text_state", t as i64)?,
            n_text_head: int("n_text_head", heads("decoder", t)?)?,
            n_text_layer: int("n_text_layer", layers("decoder") as i64)?,
            n_mels: int("n_mels", conv1.dims[1] as i64)?,
            ftype: 1,
        };
        crate::whisper::check_header(&header)?;

        // The vocabulary: every text token, then <|endoftext|>.
        let eot = if header.n_vocab == ggml::N_VOCAB_EN {
            50256
        } else {
            50257
        };
        if vocab.len() != header.n_vocab as usize {
            return Err(format!(
                "the vocabulary has {} tokens, the model's embedding {} rows",
                vocab.len(),
                header.n_vocab
            ));
        }
        if vocab[eot] != b"<|endoftext|>" {
            return Err(format!(
                "token {eot} is {:?}, not <|endoftext|>: not a Whisper vocabulary",
                String::from_utf8_lossy(&vocab[eot])
            ));
        }
        if !vocab[..eot].iter().any(|t| t == b" ") {
            return Err("the vocabulary has no \" \" token (whisper.cpp needs it)".into());
        }
        if let Some(target) = model.aliases.get("decoder/projection/weight") {
            if target != "decoder/embeddings/weight" {
                return Err(format!("the output projection is an alias of {target}, not of the token embedding; whisper.cpp ties them"));
            }
        }
        if let Some(v) = model.variables.get("decoder/projection/weight") {
            if v.data != embedding.data {
                return Err(
                    "the output projection differs from the token embedding; whisper.cpp ties them"
                        .into(),
                );
            }
        }

        let mut used = BTreeSet::new();
        let mut tensors = Vec::new();
        let mut types = BTreeSet::new();
        for spec in ggml::tensor_specs(&header) {
            let src = source(&spec.name)
                .ok_or_else(|| format!("no source known for tensor {}", spec.name))?;
            let v = var(&src.var)?;
            // PyTorch's shape of the slice, from ggml's reversed dimensions (a conv bias is
            // [1, n] in ggml, [n] in CTranslate2).
            let mut want: Vec<usize> = spec.dims.iter().rev().map(|&d| d as usize).collect();
            if spec.name.ends_with("conv1.bias") || spec.name.ends_with("conv2.bias") {
                want.pop();
            }
            let mut got = v.dims.clone();
            if got.is_empty() || got[0] % src.of != 0 {
                return Err(format!("{} has dimensions {:?}", src.var, v.dims));
            }
            got[0] /= src.of;
            if got != want {
                return Err(format!(
                    "{} gives {:?} for {}, which needs {:?}",
                    src.var, got, spec.name, want
                ));
            }
            let scale = match v.dtype {
                Dtype::F16 | Dtype::F32 | Dtype::Bf16 => None,
                Dtype::I8 | Dtype::I16 => {
                    let base = src.var.strip_suffix("/weight").ok_or_else(|| {
                        format!("{} is stored as integers but is not a weight", src.var)
                    })?;
                    let name = format!("{base}/weight_scale");
                    let s = var(&name)?;
                    let per_row = s.dims.iter().product::<usize>();
                    if per_row != v.rows()
                        || !matches!(s.dtype, Dtype::F32 | Dtype::F16 | Dtype::Bf16)
                    {
                        return Err(format!(
                            "{name} does not hold one float per row of {}",
                            src.var
                        ));
                    }
                    used.insert(name);
                    Some(s)
                }
                Dtype::I32 => {
                    return Err(format!(
                        "{} is stored as int32, which no Whisper weight is",
                        src.var
                    ))
                }
            };
            types.insert(v.dtype);
            used.insert(src.var.clone());
            tensors.push((spec, v, src, scale));
        }
        if let Some(extra) = model.variables.iter().find(|(name, v)| {
            !v.dims.is_empty() && !used.contains(*name) && *name != "decoder/projection/weight"
        }) {
            return Err(format!(
                "variable {} has no place in a whisper.cpp model: not a Whisper layout this importer knows",
                extra.0
            ));
        }
        let source_type = [
            (Dtype::I8, "int8"),
            (Dtype::I16, "int16"),
            (Dtype::Bf16, "bf16"),
            (Dtype::F16, "f16"),
        ]
        .into_iter()
        .find(|(d, _)| types.contains(d))
        .map_or("f32", |(_, name)| name);
        Ok(Plan {
            header,
            tensors,
            vocab: vocab[..=eot].to_vec(),
            source_type,
        })
    }

    fn write(&self, w: &mut dyn Write) -> Result<(), WriteError> {
        let h = &self.header;
        let io = |e| WriteError::Io(PathBuf::new(), e);
        let mut put = |b: &[u8]| w.write_all(b).map_err(io);
        put(&ggml::MAGIC.to_le_bytes())?;
        for v in h.to_array() {
            put(&v.to_le_bytes())?;
        }
        put(&h.n_mels.to_le_bytes())?;
        put(&ggml::N_FFT_BINS.to_le_bytes())?;
        let filters: Vec<u8> = ggml::mel_filters(h.n_mels as usize)
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        put(&filters)?;
        put(&(self.vocab.len() as i32).to_le_bytes())?;
        for token in &self.vocab {
            put(&(token.len() as u32).to_le_bytes())?;
            put(token)?;
        }
        for (spec, var, src, scale) in &self.tensors {
            put(&(spec.dims.len() as i32).to_le_bytes())?;
            put(&(spec.name.len() as i32).to_le_bytes())?;
            put(&(spec.ty as i32).to_le_bytes())?;
            for d in &spec.dims {
                put(&d.to_le_bytes())?;
            }
            put(spec.name.as_bytes())?;
            put(&tensor_data(spec.ty, var, src, *scale))?;
        }
        Ok(())
    }
}

/// The bytes of one tensor in ggml's type: the rows of `src`'s part, f16 copied as is,
/// everything else through f32 (integers divided by their row's scale).
fn tensor_data(ty: TensorType, var: &Variable, src: &Source, scale: Option<&Variable>) -> Vec<u8> {
    let rows = var.rows() / src.of;
    let row_len = var.row_len();
    let first_row = src.part * rows;
    let size = var.dtype.size();
    let bytes = &var.data[first_row * row_len * size..(first_row + rows) * row_len * size];
    if ty == TensorType::F16 && var.dtype == Dtype::F16 {
        return bytes.to_vec();
    }
    let scale_of = |row: usize| scale.map_or(1.0, |s| float_at(s, row));
    let mut out = Vec::with_capacity(rows * row_len * ty.size() as usize);
    for i in 0..rows * row_len {
        let x = match var.dtype {
            Dtype::I8 => f32::from(bytes[i] as i8) / scale_of(first_row + i / row_len),
            Dtype::I16 => {
                let q = i16::from_le_bytes([bytes[2 * i], bytes[2 * i + 1]]);
                f32::from(q) / scale_of(first_row + i / row_len)
            }
            _ => float_at_bytes(var.dtype, bytes, i),
        };
        match ty {
            TensorType::F16 => out.extend_from_slice(&f32_to_f16(x).to_le_bytes()),
            TensorType::F32 => out.extend_from_slice(&x.to_le_bytes()),
        }
    }
    out
}

fn float_at(v: &Variable, i: usize) -> f32 {
    float_at_bytes(v.dtype, &v.data, i)
}

fn float_at_bytes(dtype: Dtype, b: &[u8], i: usize) -> f32 {
    match dtype {
        Dtype::F32 => f32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]),
        Dtype::F16 => f16_to_f32(u16::from_le_bytes([b[2 * i], b[2 * i + 1]])),
        Dtype::Bf16 => {
            f32::from_bits(u32::from(u16::from_le_bytes([b[2 * i], b[2 * i + 1]])) << 16)
        }
        // Integers are only read through their scale (see tensor_data).
        Dtype::I8 | Dtype::I16 | Dtype::I32 => 0.0,
    }
}

enum WriteError {
    Io(PathBuf, io::Error),
    Refused(String),
}

/// Writes `out` through a temporary file beside it: written, synced, checked as whisper.cpp's
/// loader reads it, then renamed into place. On any failure the temporary file is removed and
/// `out` is untouched.
fn write_checked(
    out: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<(), WriteError>,
) -> Result<(), WriteError> {
    let Some(file_name) = out.file_name() else {
        return Err(WriteError::Refused(format!(
            "--out {} has no file name",
            out.display()
        )));
    };
    let mut tmp_name = file_name.to_os_string();
    tmp_name.push(format!(".importing-{}", std::process::id()));
    let tmp = out.with_file_name(tmp_name);
    let at = |path: &Path| {
        let path = path.to_path_buf();
        move |e| WriteError::Io(path, e)
    };
    let result = (|| {
        let file = File::create(&tmp).map_err(at(&tmp))?;
        let mut buf = BufWriter::with_capacity(1 << 20, file);
        write(&mut buf).map_err(|e| match e {
            WriteError::Io(_, e) => WriteError::Io(tmp.clone(), e),
            other => other,
        })?;
        let file = buf
            .into_inner()
            .map_err(|e| WriteError::Io(tmp.clone(), e.into_error()))?;
        file.sync_all().map_err(at(&tmp))?;
        crate::whisper::check_file(&tmp)
            .map_err(|e| WriteError::Refused(format!("the converted file fails its check: {e}")))?;
        fs::rename(&tmp, out).map_err(at(out))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests;
