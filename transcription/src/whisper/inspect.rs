//! The model file checked before whisper.cpp sees it (whisper.cpp aborts the process on what
//! it does not expect): the ggml layout walked the way its loader reads it.

use super::*;

/// Walks the whole model file the way whisper.cpp's loader reads it and checks everything the
/// loader trusts: magic, hyper-parameters, mel filters, vocabulary (with the `" "` token the
/// decoder needs), and every tensor's name, shape, type and extent, all present once.
pub(super) fn inspect(path: &Path) -> Result<Header, ModelError> {
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
pub(crate) fn check_header(h: &Header) -> Result<(), String> {
    if !(ggml::N_VOCAB_EN..=ggml::N_VOCAB_EN + 2).contains(&h.n_vocab) {
        return Err(format!(
            "n_vocab {} is not whisper's (51864 English, 51865–51866 multilingual)",
            h.n_vocab
        ));
    }
    if h.n_mels != ggml::N_MELS && h.n_mels != ggml::N_MELS_V3 {
        return Err(format!("n_mels {} is not 80 (or 128, large-v3)", h.n_mels));
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
        assert!(bad(|h| h.n_mels = 100).contains("n_mels"));
        assert_eq!(
            check_header(&Header {
                n_mels: 128,
                ..good
            }),
            Ok(())
        );
        assert!(bad(|h| h.ftype = 0).contains("ftype 0"));
        assert!(bad(|h| h.ftype = 2).contains("ftype 2"));
        assert!(bad(|h| h.n_text_layer = 0).contains("n_text_layer"));
        assert!(bad(|h| h.n_audio_head = 3).contains("heads"));
        assert!(bad(|h| h.n_text_state = 32).contains("differs"));
        assert!(bad(|h| h.n_audio_ctx = 750).contains("n_audio_ctx"));
        assert!(bad(|h| h.n_text_ctx = 8).contains("n_text_ctx"));
    }
}
