//! The transcription benchmark on the real tiny.en (imported into `models/` by `./serve.sh` or
//! `./test.sh`), or without it on a random-weight model of the exact tiny.en shape (its
//! compute cost per encoder pass and per token is the real tiny.en's):
//!
//! 1. **Decode vs native**: the pipeline's decode of a fixed 30 s window against whisper.cpp's
//!    C API called directly with the same parameters, threads, model and audio. The crate's
//!    bundled whisper.cpp source carries no `examples/` (no whisper-cli), so the set-up builds
//!    that source's library with cmake (Release, static, no OpenMP: as whisper-rs-sys builds
//!    it) and links `benches/whisper_native.c` to it, under `target/bench-whisper/`.
//! 2. **Concurrent legs**: N legs, each fed the speech fixture in real time through the
//!    voice detector, the commit policy and the worker pool (workers and threads as
//!    configured by default); the largest lag of each leg. The figure is the most legs whose
//!    lag stays under 2 s.
//!
//! A random model always writes up to the token cap: a worst case for the decoder.
//! Run with `cargo bench -p transcription --bench whisper` on an otherwise idle machine.
//! `TRANSCRIPT_BENCH_LEGS` (default 1,2,3,4,6,8), `TRANSCRIPT_BENCH_SECONDS` (default 30),
//! `TRANSCRIPT_BENCH_RUNS` (default 3), `TRANSCRIPT_BENCH_THREADS` (default 1,2),
//! `WHISPER_CPP_DIR` (the bundled source, found in
//! cargo's registry by default).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use transcription::ggml::{write_model_file, TINY_EN};
use transcription::service::{Transcriber, TranscriptionConfig};
use transcription::whisper::{DecodeOptions, Model};
use transcription::Leg;

fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(name)
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| default.to_vec())
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn work_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("bench-whisper");
    std::fs::create_dir_all(&dir).expect("bench folder");
    dir
}

/// The speech fixture's 16 kHz samples.
fn speech() -> Vec<i16> {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/speech.wav"
    ))
    .expect("the fixture");
    let data = bytes.windows(4).position(|w| w == b"data").expect("data");
    bytes[data + 8..]
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

fn write_wav(path: &Path, samples: &[i16]) {
    let data = (samples.len() * 2) as u32;
    let mut b = Vec::with_capacity(44 + data as usize);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    for v in [1u16, 1] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    for v in [16_000u32, 32_000] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    for v in [2u16, 16] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data.to_le_bytes());
    for s in samples {
        b.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, b).expect("wav written");
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The bundled whisper.cpp source: `WHISPER_CPP_DIR`, else whisper-rs-sys's in the registry.
fn whisper_cpp_source() -> PathBuf {
    if let Some(d) = std::env::var_os("WHISPER_CPP_DIR") {
        return d.into();
    }
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cargo"));
    let src = home.join("registry/src");
    for index in std::fs::read_dir(&src).expect("cargo's registry").flatten() {
        let candidate = index.path().join("whisper-rs-sys-0.15.0/whisper.cpp");
        if candidate.join("CMakeLists.txt").exists() {
            return candidate;
        }
    }
    panic!("whisper-rs-sys 0.15.0's whisper.cpp not found under {src:?}: set WHISPER_CPP_DIR");
}

fn run(cmd: &mut Command) {
    let status = cmd.status().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(status.success(), "{cmd:?} failed");
}

/// Builds the native driver once (kept under `target/bench-whisper/`).
fn native_driver(dir: &Path) -> PathBuf {
    let exe = dir.join("whisper_native");
    let driver = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/whisper_native.c");
    let src = whisper_cpp_source();
    let build = dir.join("native-build");
    if !build.join("src/libwhisper.a").exists() {
        run(Command::new("cmake")
            .arg("-S")
            .arg(&src)
            .arg("-B")
            .arg(&build)
            .args([
                "-DCMAKE_BUILD_TYPE=Release",
                "-DBUILD_SHARED_LIBS=OFF",
                "-DWHISPER_BUILD_TESTS=OFF",
                "-DWHISPER_BUILD_EXAMPLES=OFF",
                "-DGGML_OPENMP=OFF",
                "-DGGML_METAL=OFF",
            ]));
        run(Command::new("cmake")
            .arg("--build")
            .arg(&build)
            .args(["--target", "whisper", "-j", "2"]));
    }
    let lib = |p: &str| build.join(p);
    run(Command::new("c++")
        .args(["-O2", "-x", "c"])
        .arg(&driver)
        .arg("-x")
        .arg("none")
        .arg(format!("-I{}", src.join("include").display()))
        .arg(format!("-I{}", src.join("ggml/include").display()))
        .arg(lib("src/libwhisper.a"))
        .arg(lib("ggml/src/libggml.a"))
        .arg(lib("ggml/src/libggml-cpu.a"))
        .arg(lib("ggml/src/libggml-base.a"))
        .args(["-lpthread", "-lm", "-o"])
        .arg(&exe));
    exe
}

fn decode_vs_native(dir: &Path, model_path: &Path, audio: &[i16], runs: usize) {
    let window: Vec<i16> = audio.iter().copied().cycle().take(16_000 * 30).collect();
    let wav = dir.join("window-30s.wav");
    write_wav(&wav, &window);
    let pcm: Vec<f32> = window.iter().map(|&s| f32::from(s) / 32_768.0).collect();
    let exe = native_driver(dir);
    let model = Model::load(model_path).expect("model");
    println!("\n1. decode of a 30 s window, tiny.en shape, median of {runs} (ms)");
    println!("threads  pipeline  native   ratio");
    let mut rows = Vec::new();
    for threads in env_list("TRANSCRIPT_BENCH_THREADS", &[1, 2]) {
        let threads = threads as u16;
        let opts = DecodeOptions {
            threads,
            logprob_threshold: -1_000.0,
            no_speech_threshold: 1.0,
            ..DecodeOptions::default()
        };
        let mut decoder = model.decoder().expect("decoder");
        decoder.decode(&pcm, &opts).expect("warm-up");
        let ours: Vec<f64> = (0..runs)
            .map(|_| {
                let t = Instant::now();
                decoder.decode(&pcm, &opts).expect("decode");
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        // The pipeline asks whisper.cpp for max_tokens - 1 (it stops one token later).
        let out = Command::new(&exe)
            .arg(model_path)
            .arg(&wav)
            .arg(threads.to_string())
            .arg((opts.max_tokens - 1).to_string())
            .arg((runs + 1).to_string())
            .output()
            .expect("native driver runs");
        assert!(out.status.success(), "{out:?}");
        let native: Vec<f64> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("ms ")?.parse().ok())
            .skip(1)
            .collect();
        let (o, n) = (median(ours), median(native));
        println!("{threads:>7} {o:>9.0} {n:>7.0} {:>7.3}", o / n);
        rows.push(serde_json::json!({"threads": threads, "pipeline_ms": o, "native_ms": n, "ratio": o / n}));
    }
    println!("JSON {}", serde_json::json!({"decode_30s": rows}));
}

fn concurrent_legs(
    model_path: &Path,
    real: bool,
    audio: &[i16],
    legs_list: &[usize],
    seconds: u64,
) {
    // The real model with the default guards; a random one is never confident.
    let config = if real {
        TranscriptionConfig {
            model: Some(model_path.to_owned()),
            ..TranscriptionConfig::default()
        }
    } else {
        TranscriptionConfig {
            model: Some(model_path.to_owned()),
            logprob_threshold: -1_000.0,
            no_speech_threshold: 1.0,
            ..TranscriptionConfig::default()
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "\n2. concurrent legs in real time, {seconds} s each, {} workers × {} thread",
        config.workers, config.threads
    );
    println!("legs  max lag ms  p50 lag ms  finals  partials  skipped");
    let mut rows = Vec::new();
    let mut best = 0;
    for &n in legs_list {
        let t = Transcriber::start(&config).expect("model").expect("on");
        let frames = (seconds * 50) as usize;
        let (max_lags, all_lags) = rt.block_on(async {
            let runs: Vec<_> = (0..n)
                .map(|i| {
                    let mut live = t.leg(if i % 2 == 0 {
                        Leg::Customer
                    } else {
                        Leg::Agent
                    });
                    // Legs start 100 ms apart, each at its own place in the fixture.
                    let offset = (i * 16_000 * 7 / 10) % audio.len();
                    let audio: Vec<i16> = audio[offset..]
                        .iter()
                        .chain(audio.iter().cycle())
                        .take(frames * 320)
                        .copied()
                        .collect();
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(100 * i as u64)).await;
                        let mut tick = tokio::time::interval(Duration::from_millis(20));
                        let mut lags = Vec::new();
                        for chunk in audio.chunks(320) {
                            loop {
                                tokio::select! {
                                    said = live.next() => if !said.is_empty() {
                                        lags.push(live.metrics().lag_ms);
                                    },
                                    _ = tick.tick() => break,
                                }
                            }
                            let _finished = live.push(chunk);
                        }
                        let max = live.metrics().max_lag_ms;
                        live.finish().await;
                        (max, lags)
                    })
                })
                .collect();
            let mut max_lags = Vec::new();
            let mut all = Vec::new();
            for r in runs {
                let (m, lags) = r.await.expect("leg task");
                max_lags.push(m);
                all.extend(lags);
            }
            (max_lags, all)
        });
        let stats = t.stats();
        let max = max_lags.iter().copied().max().unwrap_or(0);
        let p50 = if all_lags.is_empty() {
            0.0
        } else {
            median(all_lags.iter().map(|&l| l as f64).collect())
        };
        println!(
            "{n:>4} {max:>11} {p50:>11.0} {:>7} {:>9} {:>8}",
            stats.finals, stats.partials, stats.skipped_partials
        );
        if max < 2_000 {
            best = best.max(n);
        }
        rows.push(serde_json::json!({"legs": n, "max_lag_ms": max, "p50_lag_ms": p50,
            "finals": stats.finals, "partials": stats.partials, "skipped_partials": stats.skipped_partials}));
    }
    println!("legs with lag under 2 s: {best}");
    println!(
        "JSON {}",
        serde_json::json!({"concurrent_legs": rows, "legs_under_2s": best})
    );
}

fn main() {
    // `cargo bench` passes `--bench`; this harness takes its settings from the environment.
    let dir = work_dir();
    // The real tiny.en (SWITCHYARD_TEST_WHISPER_MODEL, or the one ./serve.sh imports), else a
    // random-weight model of its shape.
    let real_model = std::env::var_os("SWITCHYARD_TEST_WHISPER_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/ggml-tiny.en.bin")
        });
    let real = real_model.is_file();
    let model = if real {
        real_model
    } else {
        dir.join("tiny-en-random.bin")
    };
    println!(
        "model: {} ({})",
        model.display(),
        if real {
            "real tiny.en"
        } else {
            "random weights, tiny.en shape"
        }
    );
    if !real
        && std::fs::metadata(&model).map(|m| m.len()).ok()
            != Some(transcription::ggml::expected_size(&TINY_EN))
    {
        write_model_file(&model, &TINY_EN, 7).expect("model written");
    }
    let audio = speech();
    let runs = env_num("TRANSCRIPT_BENCH_RUNS", 3) as usize;
    decode_vs_native(&dir, &model, &audio, runs.max(1));
    let legs = env_list("TRANSCRIPT_BENCH_LEGS", &[1, 2, 3, 4, 6, 8]);
    concurrent_legs(
        &model,
        real,
        &audio,
        &legs,
        env_num("TRANSCRIPT_BENCH_SECONDS", 30),
    );
}
