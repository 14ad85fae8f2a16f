use super::ct2::tests::file;
use super::*;

const N: u32 = 16;
const TEXT_CTX: u32 = 64;
const VOCAB: u32 = 51864;

/// A value for element `i` of variable `name`: distinct per variable and position.
fn value(name: &str, i: usize) -> f32 {
    let h = name
        .bytes()
        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    (((h as usize).wrapping_add(i * 2654435761) % 2001) as f32 - 1000.0) / 4000.0
}

/// Raw data of a float variable in `dtype` (4 = f16, 0 = f32), or int8 (1) with its scale.
fn data(name: &str, elements: usize, dtype: u8) -> Vec<u8> {
    (0..elements)
        .flat_map(|i| {
            let v = value(name, i);
            match dtype {
                0 => v.to_le_bytes().to_vec(),
                4 => f32_to_f16(v).to_le_bytes().to_vec(),
                1 => vec![((v * 100.0).round() as i8) as u8],
                _ => unreachable!(),
            }
        })
        .collect()
}

/// The variables of a CTranslate2 Whisper model of width 16, one head, one layer per side;
/// matrices stored as `dtype` (f16, f32 or int8 with a scale of 100 per row).
fn variables(dtype: u8) -> Vec<(String, Vec<u32>, u8, Vec<u8>)> {
    let mut vars = Vec::new();
    let mut add = |name: String, dims: Vec<u32>, matrix: bool| {
        let elements = dims.iter().product::<u32>() as usize;
        let ty = if matrix { dtype } else { 0 };
        if matrix && dtype == 1 {
            let base = name.strip_suffix("/weight").unwrap().to_owned();
            let rows = dims[0] as usize;
            let scale = (0..rows).flat_map(|_| 100f32.to_le_bytes()).collect();
            vars.push((format!("{base}/weight_scale"), vec![rows as u32], 0, scale));
        }
        vars.push((name.clone(), dims, ty, data(&name, elements, ty)));
    };
    add("encoder/conv1/weight".into(), vec![N, 80, 3], true);
    add("encoder/conv1/bias".into(), vec![N], false);
    add("encoder/conv2/weight".into(), vec![N, N, 3], true);
    add("encoder/conv2/bias".into(), vec![N], false);
    add(
        "encoder/position_encodings/encodings".into(),
        vec![1500, N],
        false,
    );
    add(
        "decoder/position_encodings/encodings".into(),
        vec![TEXT_CTX, N],
        false,
    );
    add("decoder/embeddings/weight".into(), vec![VOCAB, N], true);
    for (side, p) in [
        ("encoder", "encoder/layer_0"),
        ("decoder", "decoder/layer_0"),
    ] {
        let mut subs = vec![("self_attention", vec![3 * N, N], vec![N, N])];
        if side == "decoder" {
            subs.push(("attention", vec![N, N], vec![2 * N, N]));
        }
        for (m, l0, l1) in subs {
            add(format!("{p}/{m}/layer_norm/gamma"), vec![N], false);
            add(format!("{p}/{m}/layer_norm/beta"), vec![N], false);
            add(format!("{p}/{m}/linear_0/weight"), l0.clone(), true);
            add(format!("{p}/{m}/linear_0/bias"), vec![l0[0]], false);
            add(format!("{p}/{m}/linear_1/weight"), l1.clone(), true);
            add(format!("{p}/{m}/linear_1/bias"), vec![l1[0]], false);
            if m == "attention" {
                add(format!("{p}/{m}/linear_2/weight"), vec![N, N], true);
                add(format!("{p}/{m}/linear_2/bias"), vec![N], false);
            }
        }
        add(format!("{p}/ffn/layer_norm/gamma"), vec![N], false);
        add(format!("{p}/ffn/layer_norm/beta"), vec![N], false);
        add(format!("{p}/ffn/linear_0/weight"), vec![4 * N, N], true);
        add(format!("{p}/ffn/linear_0/bias"), vec![4 * N], false);
        add(format!("{p}/ffn/linear_1/weight"), vec![N, 4 * N], true);
        add(format!("{p}/ffn/linear_1/bias"), vec![N], false);
        add(format!("{side}/layer_norm/gamma"), vec![N], false);
        add(format!("{side}/layer_norm/beta"), vec![N], false);
    }
    vars.push((
        "encoder/num_heads".into(),
        vec![],
        2,
        1i16.to_le_bytes().to_vec(),
    ));
    vars.push((
        "decoder/num_heads".into(),
        vec![],
        2,
        1i16.to_le_bytes().to_vec(),
    ));
    vars
}

/// GPT-2 byte-level text of a byte string.
fn byte_level(encoder: &BTreeMap<u8, char>, bytes: &[u8]) -> String {
    bytes.iter().map(|b| encoder[b]).collect()
}

/// A vocabulary.txt: single bytes, then made-up tokens, `<|endoftext|>` at 50256, specials.
fn vocabulary() -> String {
    let encoder: BTreeMap<u8, char> = byte_decoder().iter().map(|(&c, &b)| (b, c)).collect();
    let mut lines = Vec::with_capacity(VOCAB as usize);
    for id in 0..VOCAB as usize {
        lines.push(match id {
            0..=255 => byte_level(&encoder, &[id as u8]),
            50256 => "<|endoftext|>".into(),
            id if id > 50256 => format!("<|special{id}|>"),
            id => byte_level(&encoder, format!(" w{id}").as_bytes()),
        });
    }
    lines.join("\n") + "\n"
}

fn model_dir(dtype: u8) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let vars = variables(dtype);
    let refs: Vec<(&str, &[u32], u8, Vec<u8>)> = vars
        .iter()
        .map(|(n, d, t, b)| (n.as_str(), d.as_slice(), *t, b.clone()))
        .collect();
    let bin = file(
        &refs,
        &[("decoder/projection/weight", "decoder/embeddings/weight")],
    );
    fs::write(dir.path().join("model.bin"), bin).unwrap();
    fs::write(dir.path().join("vocabulary.txt"), vocabulary()).unwrap();
    dir
}

/// The ggml file's tensors by name: (dims, type id, data).
fn tensors(path: &Path) -> BTreeMap<String, (Vec<i32>, i32, Vec<u8>)> {
    let b = fs::read(path).unwrap();
    let i32_at = |p: usize| i32::from_le_bytes(b[p..p + 4].try_into().unwrap());
    let mut p = 4 + 44;
    let (n_mel, n_fft) = (i32_at(p), i32_at(p + 4));
    p += 8 + (n_mel * n_fft) as usize * 4;
    let n_tokens = i32_at(p);
    p += 4;
    for _ in 0..n_tokens {
        p += 4 + i32_at(p) as usize;
    }
    let mut out = BTreeMap::new();
    while p < b.len() {
        let (n_dims, name_len, ty) = (i32_at(p), i32_at(p + 4) as usize, i32_at(p + 8));
        p += 12;
        let dims: Vec<i32> = (0..n_dims as usize).map(|i| i32_at(p + 4 * i)).collect();
        p += 4 * n_dims as usize;
        let name = String::from_utf8(b[p..p + name_len].to_vec()).unwrap();
        p += name_len;
        let size = dims.iter().product::<i32>() as usize * if ty == 0 { 4 } else { 2 };
        out.insert(name, (dims, ty, b[p..p + size].to_vec()));
        p += size;
    }
    out
}

fn f16s(b: &[u8]) -> Vec<f32> {
    b.chunks(2)
        .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
        .collect()
}

fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

#[test]
fn f16_model_maps_every_tensor_and_copies_weights_exactly() {
    let dir = model_dir(4);
    let out = dir.path().join("out.bin");
    let imported = import(dir.path(), &out).unwrap();
    assert_eq!(imported.source_type, "f16");
    assert_eq!(imported.shape.name(), "custom");
    assert_eq!(
        (imported.shape.n_state, imported.shape.n_text_ctx),
        (16, 64)
    );
    assert_eq!(crate::whisper::check_file(&out).unwrap(), imported.shape);

    let t = tensors(&out);
    let n = N as usize;
    let vars: BTreeMap<String, Vec<u8>> = variables(4)
        .into_iter()
        .map(|(name, _, _, d)| (name, d))
        .collect();
    let rows = |var: &str, from: usize, to: usize, width: usize| {
        vars[var][from * width * 2..to * width * 2].to_vec()
    };
    let sa = "encoder/layer_0/self_attention/linear_0/weight";
    assert_eq!(t["encoder.blocks.0.attn.query.weight"].2, rows(sa, 0, n, n));
    assert_eq!(
        t["encoder.blocks.0.attn.key.weight"].2,
        rows(sa, n, 2 * n, n)
    );
    assert_eq!(
        t["encoder.blocks.0.attn.value.weight"].2,
        rows(sa, 2 * n, 3 * n, n)
    );
    assert!(!t.contains_key("encoder.blocks.0.attn.key.bias"));
    // Biases are f32: the value third of the stacked bias.
    let bias = f32s(&vars["encoder/layer_0/self_attention/linear_0/bias"]);
    assert_eq!(
        f32s(&t["encoder.blocks.0.attn.value.bias"].2),
        bias[2 * n..3 * n]
    );
    let ca = "decoder/layer_0/attention/linear_1/weight";
    assert_eq!(
        t["decoder.blocks.0.cross_attn.key.weight"].2,
        rows(ca, 0, n, n)
    );
    assert_eq!(
        t["decoder.blocks.0.cross_attn.value.weight"].2,
        rows(ca, n, 2 * n, n)
    );
    assert_eq!(
        t["decoder.blocks.0.cross_attn.out.weight"].2,
        vars["decoder/layer_0/attention/linear_2/weight"]
    );
    assert_eq!(
        t["decoder.blocks.0.mlp.2.weight"].0,
        vec![4 * N as i32, N as i32]
    );
    assert_eq!(t["encoder.conv1.weight"].0, vec![3, 80, N as i32]);
    assert_eq!(t["encoder.conv1.weight"].1, 1);
    assert_eq!(t["encoder.conv1.bias"].0, vec![1, N as i32]);
    assert_eq!(
        f32s(&t["encoder.ln_post.weight"].2),
        f32s(&vars["encoder/layer_norm/gamma"])
    );
    assert_eq!(t.len(), 7 + 15 + 4 + 24);
}

#[test]
fn int8_and_f32_models_are_converted_to_f16() {
    for (dtype, name) in [(1u8, "int8"), (0, "f32")] {
        let dir = model_dir(dtype);
        let out = dir.path().join("out.bin");
        assert_eq!(import(dir.path(), &out).unwrap().source_type, name);
        let t = tensors(&out);
        let (dims, ty, data) = &t["decoder.blocks.0.mlp.0.weight"];
        assert_eq!(
            (dims.as_slice(), *ty),
            ([N as i32, 4 * N as i32].as_slice(), 1)
        );
        let want: Vec<f32> = (0..(4 * N * N) as usize)
            .map(|i| {
                let v = value("decoder/layer_0/ffn/linear_0/weight", i);
                if dtype == 1 {
                    (v * 100.0).round() / 100.0
                } else {
                    v
                }
            })
            .collect();
        for (got, want) in f16s(data).iter().zip(&want) {
            assert!(
                (got - want).abs() <= want.abs() / 1000.0 + 1e-6,
                "{name}: {got} vs {want}"
            );
        }
    }
}

#[test]
fn the_vocabulary_is_bytes_up_to_end_of_text() {
    let dir = model_dir(4);
    let out = dir.path().join("out.bin");
    import(dir.path(), &out).unwrap();
    let b = fs::read(&out).unwrap();
    let p = 48 + 8 + 80 * 201 * 4;
    assert_eq!(i32::from_le_bytes(b[p..p + 4].try_into().unwrap()), 50257);
    // Token 32 is a space ("Ġ" in the file); token 256 is " w256".
    let mut q = p + 4;
    let mut tokens = Vec::new();
    for _ in 0..257 {
        let n = u32::from_le_bytes(b[q..q + 4].try_into().unwrap()) as usize;
        tokens.push(b[q + 4..q + 4 + n].to_vec());
        q += 4 + n;
    }
    assert_eq!(tokens[32], b" ");
    assert_eq!(tokens[0xA0], [0xA0]);
    assert_eq!(tokens[256], b" w256");
}

#[test]
fn damaged_or_foreign_input_is_refused_and_nothing_is_left() {
    let check = |dir: &Path, expect: &str| {
        let out = dir.join("out.bin");
        let err = import(dir, &out).unwrap_err().to_string();
        assert!(err.contains(expect), "{err} should say {expect}");
        let left: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with("out.bin"))
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    };
    let dir = model_dir(4);
    let bin = dir.path().join("model.bin");
    let good = fs::read(&bin).unwrap();

    fs::write(&bin, &good[..good.len() / 2]).unwrap();
    check(dir.path(), "truncated");

    // A whisper.cpp file (or anything else) where model.bin should be.
    let mut ggml_file = ggml::MAGIC.to_le_bytes().to_vec();
    ggml_file.extend_from_slice(&[0; 64]);
    fs::write(&bin, &ggml_file).unwrap();
    check(dir.path(), "version");

    // A translation model of CTranslate2's.
    let other = file(&[("w", &[1], 0, vec![0; 4])], &[]);
    let mut renamed = other[..6].to_vec();
    renamed.extend_from_slice(b"TransformerSpec\0");
    renamed.extend_from_slice(&other[18..]);
    renamed[4..6].copy_from_slice(&16u16.to_le_bytes());
    fs::write(&bin, &renamed).unwrap();
    check(dir.path(), "TransformerSpec");

    // A weight missing.
    fs::write(&bin, &good).unwrap();
    let vars: Vec<_> = variables(4)
        .into_iter()
        .filter(|v| v.0 != "decoder/layer_0/ffn/linear_1/weight")
        .collect();
    let refs: Vec<(&str, &[u32], u8, Vec<u8>)> = vars
        .iter()
        .map(|(n, d, t, b)| (n.as_str(), d.as_slice(), *t, b.clone()))
        .collect();
    fs::write(&bin, file(&refs, &[])).unwrap();
    check(
        dir.path(),
        "no variable decoder/layer_0/ffn/linear_1/weight",
    );

    // A vocabulary that is not whisper's.
    fs::write(&bin, &good).unwrap();
    let vocab = dir.path().join("vocabulary.txt");
    fs::write(&vocab, vocabulary().replace("<|endoftext|>", "<eos>")).unwrap();
    check(dir.path(), "not <|endoftext|>");
    fs::write(&vocab, "a\nb\n").unwrap();
    check(dir.path(), "2 tokens");
    fs::remove_file(&vocab).unwrap();
    check(dir.path(), "no vocabulary");

    // Not a folder at all.
    let err = import(&bin, &dir.path().join("out.bin")).unwrap_err();
    assert!(err.to_string().contains("not a directory"), "{err}");
}

#[test]
fn gpt2_byte_decoder_covers_every_byte_once() {
    let d = byte_decoder();
    assert_eq!(d.len(), 256);
    assert_eq!(d[&'Ġ'], b' ');
    assert_eq!(d[&'Ċ'], b'\n');
    assert_eq!(d[&'!'], b'!');
    let bytes: BTreeSet<u8> = d.values().copied().collect();
    assert_eq!(bytes.len(), 256);
}
