//! The whisper wrapper against a generated random-weight model (no real model needed).

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use transcription::ggml::{self, Shape};
use transcription::whisper::{
    DecodeError, DecodeOptions, Decoded, Model, ModelError, MAX_SAMPLES, MIN_SAMPLES, SAMPLE_RATE,
};

/// A unique path in the temporary directory.
fn temp_path(tag: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "switchyard-whisper-test-{}-{n}-{tag}",
        std::process::id()
    ))
}

/// The smallest random model, generated and loaded once per test binary; the file is removed
/// once loaded.
fn smallest() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| {
        let path = temp_path("smallest.bin");
        ggml::write_model_file(&path, &Shape::SMALLEST, 42).unwrap();
        let model = Model::load(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        model
    })
}

/// Thresholds a random model can pass: it is never confident.
fn relaxed() -> DecodeOptions {
    DecodeOptions {
        logprob_threshold: -1000.0,
        no_speech_threshold: 1.0,
        ..DecodeOptions::default()
    }
}

/// A deterministic speech-like signal: a gliding voice (fundamental 100–220 Hz) with
/// formant-weighted harmonics, syllables at about 4 Hz, and a little noise.
fn speech_like(seconds: f32, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    };
    let n = (seconds * SAMPLE_RATE as f32) as usize;
    let base = 100.0 + (seed % 7) as f32 * 15.0;
    let syllable_rate = 3.0 + (seed % 5) as f32 * 0.5;
    let formants = [
        500.0 + (seed % 3) as f32 * 200.0,
        1500.0 + (seed % 4) as f32 * 150.0,
    ];
    let mut phase = 0f32;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let t = i as f32 / SAMPLE_RATE as f32;
        let f0 = base * (1.0 + 0.2 * (2.0 * std::f32::consts::PI * 0.7 * t).sin());
        phase += 2.0 * std::f32::consts::PI * f0 / SAMPLE_RATE as f32;
        let mut v = 0.0;
        for h in 1..=20 {
            let f = f0 * h as f32;
            let weight: f32 = formants
                .iter()
                .map(|&fm| (-((f - fm) / 300.0).powi(2)).exp())
                .sum::<f32>()
                + 0.05 / h as f32;
            v += weight * (phase * h as f32).sin();
        }
        let envelope = (std::f32::consts::PI * syllable_rate * t)
            .sin()
            .abs()
            .powf(1.5);
        out.push((0.15 * envelope * v + 0.01 * noise()).clamp(-1.0, 1.0));
    }
    out
}

fn decode(pcm: &[f32], opts: &DecodeOptions) -> Decoded {
    smallest().decoder().unwrap().decode(pcm, opts).unwrap()
}

#[test]
fn speech_like_audio_gives_text_within_the_token_cap() {
    let d = decode(&speech_like(4.0, 1), &relaxed());
    println!("speech-like 4 s: {d:?}");
    assert!(!d.text.is_empty(), "{d:?}");
    assert!(d.tokens >= 1 && d.tokens <= 64, "{d:?}");
    assert_eq!(d.rejected, None);
    assert!(d.avg_logprob < 0.0 && d.avg_logprob.is_finite());
    assert!((0.0..=1.0).contains(&d.no_speech_prob));

    for cap in [1u16, 3, 5] {
        let opts = DecodeOptions {
            max_tokens: cap,
            ..relaxed()
        };
        let d = decode(&speech_like(4.0, 1), &opts);
        println!("max_tokens {cap}: {d:?}");
        assert!(d.tokens <= usize::from(cap), "{d:?}");
        assert!(!d.text.is_empty());
    }
}

#[test]
fn output_depends_on_the_audio_and_is_deterministic() {
    let mut decoder = smallest().decoder().unwrap();
    let a = decoder.decode(&speech_like(3.0, 1), &relaxed()).unwrap();
    let b = decoder.decode(&speech_like(3.0, 2), &relaxed()).unwrap();
    let a2 = decoder.decode(&speech_like(3.0, 1), &relaxed()).unwrap();
    println!("a: {a:?}\nb: {b:?}");
    assert_ne!(a.text, b.text);
    assert_eq!(a, a2, "same audio, same decoder state reused");
}

#[test]
fn default_thresholds_reject_a_random_model() {
    let d = decode(&speech_like(2.0, 3), &DecodeOptions::default());
    println!("default thresholds: {d:?}");
    assert!(d.rejected.is_some(), "{d:?}");
    assert!(d.text.is_empty());
    assert!(d.tokens > 0);
}

#[test]
fn silence_and_the_shortest_window_decode() {
    let silence = decode(&vec![0.0; 2 * SAMPLE_RATE], &relaxed());
    println!("silence 2 s: {silence:?}");
    let shortest = decode(&speech_like(1.0, 4)[..MIN_SAMPLES], &relaxed());
    println!("shortest window: {shortest:?}");
    let longest = decode(&speech_like(30.0, 5), &relaxed());
    println!("30 s: {longest:?}");
    assert_eq!(longest.rejected, None);
}

#[test]
fn bad_windows_and_options_are_errors() {
    let mut decoder = smallest().decoder().unwrap();
    let opts = relaxed();
    for len in [0, 1, MIN_SAMPLES - 1, MAX_SAMPLES + 1, 31 * SAMPLE_RATE] {
        let err = decoder.decode(&vec![0.0; len], &opts).unwrap_err();
        assert!(
            matches!(err, DecodeError::BadLength { samples } if samples == len),
            "{len}: {err}"
        );
        println!("{err}");
    }
    let mut pcm = vec![0.0; SAMPLE_RATE];
    pcm[100] = f32::NAN;
    let err = decoder.decode(&pcm, &opts).unwrap_err();
    assert!(
        matches!(err, DecodeError::BadSample { index: 100, .. }),
        "{err}"
    );

    let pcm = vec![0.0; SAMPLE_RATE];
    let bad = |o: DecodeOptions| decoder_err(&pcm, o);
    assert!(matches!(
        bad(DecodeOptions {
            threads: 0,
            ..relaxed()
        }),
        DecodeError::BadOptions(_)
    ));
    assert!(matches!(
        bad(DecodeOptions {
            max_tokens: 0,
            ..relaxed()
        }),
        DecodeError::BadOptions(_)
    ));
    for beam_size in [0, 17] {
        assert!(matches!(
            bad(DecodeOptions {
                beam_size,
                ..relaxed()
            }),
            DecodeError::BadOptions(_)
        ));
    }
    let lang = |l: &str| {
        bad(DecodeOptions {
            language: Some(l.into()),
            ..relaxed()
        })
    };
    for l in ["xx", "", "e\0n", "german!"] {
        let err = lang(l);
        assert!(matches!(err, DecodeError::Language { .. }), "{l:?}: {err}");
        println!("{err}");
    }
    let err = lang("de");
    assert!(err.to_string().contains("English-only"), "{err}");

    // After errors the decoder still works; "auto" and "english" mean English here.
    for l in [None, Some("auto"), Some("english"), Some("EN")] {
        let opts = DecodeOptions {
            language: l.map(String::from),
            ..relaxed()
        };
        let d = decoder.decode(&speech_like(2.0, 1), &opts).unwrap();
        assert!(!d.text.is_empty(), "{l:?}");
    }
}

fn decoder_err(pcm: &[f32], opts: DecodeOptions) -> DecodeError {
    smallest()
        .decoder()
        .unwrap()
        .decode(pcm, &opts)
        .unwrap_err()
}

#[test]
fn bad_model_files_are_clear_errors() {
    let load_err = |bytes: &[u8], tag: &str| {
        let path = temp_path(tag);
        std::fs::write(&path, bytes).unwrap();
        let err = Model::load(&path).unwrap_err();
        std::fs::remove_file(&path).unwrap();
        let msg = err.to_string();
        assert!(msg.contains(&*path.to_string_lossy()), "{msg}");
        println!("{tag}: {msg}");
        err
    };

    let missing = temp_path("missing.bin");
    let err = Model::load(&missing).unwrap_err();
    assert!(matches!(err, ModelError::Io { .. }), "{err}");
    assert!(err.to_string().contains("missing.bin"));

    let err = Model::load(&std::env::temp_dir()).unwrap_err();
    assert!(
        matches!(err, ModelError::Io { .. } | ModelError::Invalid { .. }),
        "{err}"
    );

    assert!(matches!(
        load_err(b"", "empty.bin"),
        ModelError::Truncated { .. }
    ));
    let garbage: Vec<u8> = (0..10_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    assert!(matches!(
        load_err(&garbage, "garbage.bin"),
        ModelError::NotGgml { .. }
    ));
    assert!(load_err(b"GGUF\x03\0\0\0", "gguf.bin")
        .to_string()
        .contains("GGUF"));

    let mut good = Vec::new();
    ggml::write_model(&mut good, &Shape::SMALLEST, 1).unwrap();
    for cut in [10, 100, 70_000, 300_000, good.len() / 2, good.len() - 1] {
        let err = load_err(&good[..cut], &format!("cut-{cut}.bin"));
        assert!(matches!(err, ModelError::Truncated { .. }), "{cut}: {err}");
    }

    // A header field changed: n_mels (field 10) to 100 (whisper has 80, or 128 for large-v3).
    let mut bad = good.clone();
    bad[4 + 9 * 4..4 + 10 * 4].copy_from_slice(&100i32.to_le_bytes());
    assert!(load_err(&bad, "mels.bin").to_string().contains("n_mels"));
    // Trailing bytes after the last tensor.
    let mut bad = good.clone();
    bad.extend_from_slice(&[0; 40]);
    assert!(matches!(
        load_err(&bad, "trailing.bin"),
        ModelError::Invalid { .. } | ModelError::Truncated { .. }
    ));
    // No tensors at all (whisper.cpp's test models): would run on uninitialised memory.
    let err = load_err(&good[..header_and_vocab_len()], "no-tensors.bin");
    assert!(err.to_string().contains("missing"), "{err}");

    // The good file loads.
    let path = temp_path("good.bin");
    std::fs::write(&path, &good).unwrap();
    let model = Model::load(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(model.path(), path);
}

/// Bytes before the first tensor of a generated model.
fn header_and_vocab_len() -> usize {
    let vocab: usize = (0..50256).map(|id| 4 + token_len(id)).sum();
    4 + 44 + 8 + 80 * 201 * 4 + 4 + vocab
}

fn token_len(id: usize) -> usize {
    VOCAB_LENS.get_or_init(read_vocab_lens)[id]
}

static VOCAB_LENS: OnceLock<Vec<usize>> = OnceLock::new();

fn read_vocab_lens() -> Vec<usize> {
    let mut good = Vec::new();
    ggml::write_model(&mut good, &Shape::SMALLEST, 1).unwrap();
    let mut pos = 4 + 44 + 8 + 80 * 201 * 4;
    let count = i32::from_le_bytes(good[pos..pos + 4].try_into().unwrap()) as usize;
    pos += 4;
    let mut lens = Vec::with_capacity(count);
    for _ in 0..count {
        let n = u32::from_le_bytes(good[pos..pos + 4].try_into().unwrap()) as usize;
        lens.push(n);
        pos += 4 + n;
    }
    lens
}
