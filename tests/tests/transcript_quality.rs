//! Live transcripts checked on real speech with the real whisper tiny.en model (imported by
//! `./test.sh` into `models/`): contact-center sentences spoken by espeak-ng, carried as a leg
//! carries them (8 kHz PCMU, 16 kHz G.722, 48 kHz Opus) and transcribed by the server's own stream policy and
//! whisper engine with the default configuration. On a user's machine without the model these
//! tests say so and pass; in CI they fail.
//!
//! What they hold the pipeline to: the word error rate per leg, no phrase written twice, no
//! sentence dropped; nothing at all from silence, noise, hold music, ringback or DTMF; the
//! loop guard on the inputs that made whisper loop; the importer's check of the real file.

use actors::media::codec::Codec;
use std::process::Command;
use tests::speech::{self, Voice};
use transcription::service::{TranscriptionConfig, Whisper};
use transcription::whisper::{DecodeOptions, Model};

fn engine() -> Option<Whisper> {
    let path = speech::real_model()?;
    let model = Model::load(&path).expect("the model loads");
    Some(Whisper::new(model, &TranscriptionConfig::default()))
}

/// The sentences through a leg, transcribed; asserts the word error rate, no loop and no
/// dropped sentence.
fn speaks(voice: Voice, codec: Codec, max_wer: f64) {
    let Some(engine) = engine() else { return };
    let config = TranscriptionConfig::default();
    let (pcm, spans) = speech::conversation(speech::SENTENCES, voice, codec, 1_200);
    // Decodes return at once: the result depends on the audio, not on this machine's load.
    let heard = speech::transcribe(&engine, &pcm, config.stream(), 0.0);
    let per = speech::per_sentence(&heard, &spans);
    for (s, h) in speech::SENTENCES.iter().zip(&per) {
        eprintln!("{:.2} | {s} | {h}", speech::wer(s, h));
    }
    let all = speech::SENTENCES.join(" ");
    let wer = speech::wer(&all, &heard.text());
    eprintln!("{voice:?} over {codec:?}: WER {:.1} %", wer * 100.0);
    for (_, f) in &heard.finals {
        assert_eq!(
            speech::repeated_phrase(&f.text),
            None,
            "a loop: {:?}",
            f.text
        );
    }
    let dropped: Vec<&str> = speech::SENTENCES
        .iter()
        .zip(&per)
        .filter(|(_, h)| h.trim().is_empty())
        .map(|(s, _)| *s)
        .collect();
    assert!(
        dropped.is_empty(),
        "sentences with no transcript: {dropped:?}"
    );
    assert!(
        wer <= max_wer,
        "{voice:?} over {codec:?}: WER {:.1} % > {:.1} %",
        wer * 100.0,
        max_wer * 100.0
    );
}

// Wideband (Opus from a browser): the target is 10 %. Finals with beam search (5), partials
// greedy: male 7.0 %, female 9.6 % (all greedy: 6.6 and 10.1 %).
#[test]
fn a_male_voice_over_opus() {
    speaks(Voice::Male, Codec::Opus, 0.10);
}

#[test]
fn a_female_voice_over_opus() {
    speaks(Voice::Female, Codec::Opus, 0.10);
}

// Telephone band (PCMU): tiny.en on espeak-ng's voices loses words to the 4 kHz band itself
// (the same sentences at 16 kHz: 5 %; band-limited by sox, without µ-law: 34 % greedy).
// Finals with beam search (5): male 28.5 %, female 23.2 % (all greedy: 32.5 and 30.7 %).
// These bounds keep the pipeline from getting worse while the 10 % target is open.
#[test]
fn a_male_voice_over_pcmu() {
    speaks(Voice::Male, Codec::Pcmu, 0.32);
}

#[test]
fn a_female_voice_over_pcmu() {
    speaks(Voice::Female, Codec::Pcmu, 0.28);
}

// Wideband telephony (G.722 on a SIP trunk, 16 kHz): the band PCMU cuts reaches whisper, and
// the male voice that loses 28.5 % of its words over PCMU loses 8.3 % (the 10 % target).
#[test]
fn a_male_voice_over_g722() {
    speaks(Voice::Male, Codec::G722, 0.10);
}

/// Ten seconds of each kind of non-speech a leg carries, at 16 kHz.
fn non_speech() -> Vec<(&'static str, Vec<i16>)> {
    let n = 16_000 * 10;
    let mut music = actors::media::tone::HoldMusic::new(16_000);
    // Ringback (440 + 480 Hz, 2 s on, 4 s off) and DTMF digits (100 ms each, 100 ms apart).
    let mut ring = Vec::new();
    while ring.len() < n {
        ring.extend(speech::synth(&["2", "sin", "440", "sin", "480"], -12.0));
        ring.extend(vec![0i16; 64_000]);
    }
    ring.truncate(n);
    let digits = [
        (697, 1209),
        (770, 1336),
        (852, 1477),
        (941, 1336),
        (697, 1477),
    ];
    let mut dtmf = Vec::new();
    for (lo, hi) in digits.iter().cycle().take(50) {
        let (lo, hi) = (lo.to_string(), hi.to_string());
        dtmf.extend(speech::synth(&["0.1", "sin", &lo, "sin", &hi], -10.0));
        dtmf.extend(vec![0i16; 1_600]);
    }
    vec![
        ("silence", vec![0i16; n]),
        (
            "breathing-level noise",
            speech::synth(&["10", "pinknoise"], -45.0),
        ),
        ("louder noise", speech::synth(&["10", "brownnoise"], -25.0)),
        ("hold music", music.take(n)),
        ("ringback", ring),
        ("DTMF", dtmf),
    ]
}

#[test]
fn silence_noise_music_ringback_and_dtmf_give_no_text() {
    let Some(engine) = engine() else { return };
    let config = TranscriptionConfig::default();
    for (name, pcm) in non_speech() {
        for codec in [Codec::Pcmu, Codec::Opus] {
            let mut down =
                actors::media::resample::Resampler::new(16_000, codec.clock_rate()).unwrap();
            let pcm = speech::through_leg(codec, &down.process(&pcm));
            let heard = speech::transcribe(&engine, &pcm, config.stream(), 0.0);
            let texts: Vec<&str> = heard
                .partials
                .iter()
                .chain(&heard.finals)
                .map(|(_, s)| s.text.as_str())
                .collect();
            assert!(texts.is_empty(), "{name} over {codec:?} gave {texts:?}");
        }
    }
}

/// The sentences that looped with the encoder cut to the window (the old setting): with the
/// guard, each comes out once.
#[test]
fn a_loop_prone_input_gives_no_loop() {
    let Some(path) = speech::real_model() else {
        return;
    };
    let model = Model::load(&path).unwrap();
    let mut decoder = model.decoder().unwrap();
    let loop_prone = [
        "The package was damaged when it arrived.",
        "I have issued a refund for the second charge.",
        "How long will it take for the money to come back?",
        "Of course, what is the new email address?",
        "Let me transfer you to our billing department.",
    ];
    let mut looped = 0;
    for s in loop_prone {
        for codec in [Codec::Pcmu, Codec::Opus] {
            let mut pcm = vec![0i16; 3_200];
            pcm.extend(speech::through_leg(
                codec,
                &speech::speak(s, Voice::Female, codec.clock_rate()),
            ));
            pcm.extend(vec![0i16; 9_600]);
            let f: Vec<f32> = pcm.iter().map(|&v| f32::from(v) / 32_768.0).collect();
            let opts = DecodeOptions {
                encoder_pad_ms: Some(320),
                ..DecodeOptions::default()
            };
            let d = decoder.decode(&f, &opts).unwrap();
            looped += usize::from(d.looped);
            assert_eq!(
                speech::repeated_phrase(&d.text),
                None,
                "{s:?} gave {:?}",
                d.text
            );
            assert!(speech::wer(s, &d.text) < 0.7, "{s:?} gave {:?}", d.text);
        }
    }
    assert!(
        looped > 0,
        "none of these looped: the test no longer exercises the guard"
    );
}

/// The imported tiny.en is what whisper.cpp's own file is; a damaged CTranslate2 folder is
/// refused with a clear message and leaves nothing behind.
#[test]
fn model_check_and_a_refused_import() {
    let Some(path) = speech::real_model() else {
        return;
    };
    let bin = env!("CARGO_BIN_EXE_switchyard-under-test");
    let out = Command::new(bin)
        .args(["model", "check"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["model"], "tiny.en");
    assert_eq!(report["bytes"], 77_704_715);
    assert_eq!(report["shape"]["n_vocab"], 51_864);

    let dir = tempfile::tempdir().unwrap();
    let ct2 = dir.path().join("ct2");
    std::fs::create_dir(&ct2).unwrap();
    // The ggml file where a CTranslate2 model.bin should be: foreign.
    std::fs::copy(&path, ct2.join("model.bin")).unwrap();
    std::fs::write(ct2.join("vocabulary.txt"), "a\n").unwrap();
    let target = dir.path().join("out.bin");
    let out = Command::new(bin)
        .args(["model", "import"])
        .arg(&ct2)
        .arg("--out")
        .arg(&target)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("binary version"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from("ct2")],
        "nothing but the input is left"
    );
}
