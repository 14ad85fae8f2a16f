//! CTranslate2's `model.bin` (binary version 6, little-endian), read whole and checked.
//!
//! Layout: `u32` version, a string (the spec name), `u32` spec revision, `u32` variable count;
//! each variable is a name, a `u8` rank, `u32` × rank dimensions, a `u8` dtype, a `u32` byte
//! count and the raw row-major data; then a `u32` alias count and (alias, target) name pairs.
//! A string is a `u16` length that counts a trailing NUL, the bytes, the NUL.
//!
//! Everything read is bounded by the file: counts, ranks, lengths and byte counts are checked
//! against what is left before anything is allocated, and each variable's byte count must be
//! its dimensions times its element size.

use std::collections::BTreeMap;

/// Binary versions this reader knows.
pub(super) const VERSION: u32 = 6;

/// Element types of CTranslate2 variables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Dtype {
    F32,
    I8,
    I16,
    I32,
    F16,
    Bf16,
}

impl Dtype {
    fn from_id(id: u8) -> Option<Dtype> {
        Some(match id {
            0 => Dtype::F32,
            1 => Dtype::I8,
            2 => Dtype::I16,
            3 => Dtype::I32,
            4 => Dtype::F16,
            5 => Dtype::Bf16,
            _ => return None,
        })
    }

    pub(super) fn size(self) -> usize {
        match self {
            Dtype::I8 => 1,
            Dtype::I16 | Dtype::F16 | Dtype::Bf16 => 2,
            Dtype::F32 | Dtype::I32 => 4,
        }
    }
}

/// One variable: its shape, type and raw little-endian data.
#[derive(Debug)]
pub(super) struct Variable {
    pub dims: Vec<usize>,
    pub dtype: Dtype,
    pub data: Vec<u8>,
}

impl Variable {
    /// Elements per row (the product of every dimension but the first; 1 for rank ≤ 1).
    pub(super) fn row_len(&self) -> usize {
        self.dims.iter().skip(1).product()
    }

    /// Rows (the first dimension; 1 for a scalar).
    pub(super) fn rows(&self) -> usize {
        self.dims.first().copied().unwrap_or(1)
    }

    /// A scalar integer (configuration such as `num_heads`).
    pub(super) fn scalar_int(&self) -> Option<i64> {
        if !self.dims.is_empty() {
            return None;
        }
        let d = &self.data;
        Some(match self.dtype {
            Dtype::I8 => i64::from(*d.first()? as i8),
            Dtype::I16 => i64::from(i16::from_le_bytes(d.get(..2)?.try_into().ok()?)),
            Dtype::I32 => i64::from(i32::from_le_bytes(d.get(..4)?.try_into().ok()?)),
            _ => return None,
        })
    }
}

/// A parsed `model.bin`.
#[derive(Debug)]
pub(super) struct Ct2Model {
    pub spec: String,
    pub variables: BTreeMap<String, Variable>,
    pub aliases: BTreeMap<String, String>,
}

/// Parses a whole `model.bin`; the error says what is wrong and where.
pub(super) fn parse(bytes: &[u8]) -> Result<Ct2Model, String> {
    let mut r = Cursor { bytes, pos: 0 };
    let version = r.u32("the binary version")?;
    if version != VERSION {
        return Err(format!(
            "CTranslate2 binary version {version}; this importer reads version {VERSION} (CTranslate2 3.x and 4.x)"
        ));
    }
    let spec = r.string("the spec name")?;
    let _revision = r.u32("the spec revision")?;
    let count = r.u32("the variable count")? as usize;
    // The smallest variable record is 9 bytes (a 1-byte name, rank 0, dtype, byte count).
    if count > r.left() / 9 {
        return Err(format!(
            "{count} variables announced, more than the file can hold"
        ));
    }
    let mut variables = BTreeMap::new();
    for index in 0..count {
        let name = r.string("a variable name")?;
        let what = |part: &str| format!("{part} of variable {index} ({name})");
        let rank = r.u8(&what("the rank"))? as usize;
        if rank > 4 {
            return Err(format!("variable {name} has rank {rank} (at most 4)"));
        }
        let mut dims = Vec::with_capacity(rank);
        for _ in 0..rank {
            dims.push(r.u32(&what("the dimensions"))? as usize);
        }
        let id = r.u8(&what("the type"))?;
        let dtype =
            Dtype::from_id(id).ok_or_else(|| format!("variable {name} has unknown type {id}"))?;
        let n_bytes = r.u32(&what("the byte count"))? as usize;
        let elements = dims
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| format!("variable {name}: dimensions {dims:?} overflow"))?;
        if elements.checked_mul(dtype.size()) != Some(n_bytes) {
            return Err(format!(
                "variable {name}: {n_bytes} bytes for dimensions {dims:?} of {dtype:?}"
            ));
        }
        let data = r.take(n_bytes, &what("the data"))?.to_vec();
        if variables
            .insert(name.clone(), Variable { dims, dtype, data })
            .is_some()
        {
            return Err(format!("variable {name} appears twice"));
        }
    }
    let mut aliases = BTreeMap::new();
    if r.left() > 0 {
        let n = r.u32("the alias count")? as usize;
        if n > r.left() / 6 {
            return Err(format!(
                "{n} aliases announced, more than the file can hold"
            ));
        }
        for _ in 0..n {
            let alias = r.string("an alias")?;
            let target = r.string("an alias target")?;
            aliases.insert(alias, target);
        }
    }
    if r.left() > 0 {
        return Err(format!(
            "{} bytes after the last alias: not a model.bin this importer understands",
            r.left()
        ));
    }
    Ok(Ct2Model {
        spec,
        variables,
        aliases,
    })
}

struct Cursor<'b> {
    bytes: &'b [u8],
    pos: usize,
}

impl<'b> Cursor<'b> {
    fn left(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'b [u8], String> {
        if self.left() < n {
            return Err(format!(
                "truncated: the file ends inside {what} (byte {})",
                self.bytes.len()
            ));
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn u8(&mut self, what: &str) -> Result<u8, String> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16, String> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &str) -> Result<u32, String> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn string(&mut self, what: &str) -> Result<String, String> {
        let n = self.u16(what)? as usize;
        let b = self.take(n, what)?;
        let Some((&0, text)) = b.split_last() else {
            return Err(format!("{what} at byte {} is not NUL-terminated", self.pos));
        };
        String::from_utf8(text.to_vec())
            .map_err(|_| format!("{what} at byte {} is not UTF-8", self.pos))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A tiny `model.bin` with the given variables (name, dims, dtype id, data) and aliases.
    pub(in crate::import) fn file(
        vars: &[(&str, &[u32], u8, Vec<u8>)],
        aliases: &[(&str, &str)],
    ) -> Vec<u8> {
        fn string(out: &mut Vec<u8>, s: &str) {
            out.extend_from_slice(&(s.len() as u16 + 1).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
            out.push(0);
        }
        let mut out = Vec::new();
        out.extend_from_slice(&VERSION.to_le_bytes());
        string(&mut out, "WhisperSpec");
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&(vars.len() as u32).to_le_bytes());
        for (name, dims, dtype, data) in vars {
            string(&mut out, name);
            out.push(dims.len() as u8);
            for d in *dims {
                out.extend_from_slice(&d.to_le_bytes());
            }
            out.push(*dtype);
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(data);
        }
        out.extend_from_slice(&(aliases.len() as u32).to_le_bytes());
        for (a, t) in aliases {
            string(&mut out, a);
            string(&mut out, t);
        }
        out
    }

    #[test]
    fn reads_variables_scalars_and_aliases() {
        let bytes = file(
            &[
                ("encoder/num_heads", &[], 2, 6i16.to_le_bytes().to_vec()),
                ("w", &[2, 3], 0, vec![0; 24]),
            ],
            &[("decoder/projection/weight", "w")],
        );
        let m = parse(&bytes).unwrap();
        assert_eq!(m.spec, "WhisperSpec");
        assert_eq!(m.variables["encoder/num_heads"].scalar_int(), Some(6));
        let w = &m.variables["w"];
        assert_eq!((w.rows(), w.row_len(), w.dtype), (2, 3, Dtype::F32));
        assert_eq!(m.aliases["decoder/projection/weight"], "w");
    }

    #[test]
    fn refuses_what_does_not_add_up() {
        let good = file(&[("w", &[2, 3], 0, vec![0; 24])], &[]);
        for cut in [3, 10, 40, good.len() - 1] {
            let err = parse(&good[..cut]).unwrap_err();
            assert!(err.contains("truncated"), "cut at {cut}: {err}");
        }
        let wrong_size = file(&[("w", &[2, 3], 0, vec![0; 20])], &[]);
        assert!(parse(&wrong_size).unwrap_err().contains("20 bytes"));
        let bad_type = file(&[("w", &[2], 9, vec![0; 2])], &[]);
        assert!(parse(&bad_type).unwrap_err().contains("unknown type 9"));
        let mut old = good.clone();
        old[0] = 5;
        assert!(parse(&old).unwrap_err().contains("version 5"));
        let mut trailing = good.clone();
        trailing.extend_from_slice(b"junk");
        assert!(parse(&trailing)
            .unwrap_err()
            .contains("after the last alias"));
        let mut many = good;
        many[22..26].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse(&many).unwrap_err().contains("more than the file"));
    }
}
