//! The guards on what whisper sampled: special tokens dropped, the token cap, repetition
//! loops cut, no-speech and log-probability thresholds.

use super::*;

/// One token whisper sampled.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Sampled {
    pub(super) id: i32,
    pub(super) plog: f32,
    /// The token's text; empty for special tokens.
    pub(super) bytes: Vec<u8>,
}

/// Applies the guards to what whisper sampled: special tokens dropped, text tokens capped at
/// `max_tokens`, repetition loop cut, thresholds.
pub(super) fn assemble(
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
    let ends_sentence: Vec<bool> = text_tokens
        .iter()
        .map(|t| {
            let b = t.bytes.trim_ascii_end();
            matches!(b.last(), Some(b'.' | b'?' | b'!'))
        })
        .collect();
    let keep = match (loop_cut(&ids), phrase_loop_cut(&ids, &ends_sentence)) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let looped = keep.is_some();
    let kept = &text_tokens[..keep.unwrap_or(text_tokens.len())];
    let bytes: Vec<u8> = kept.iter().flat_map(|t| t.bytes.iter().copied()).collect();
    let mut text = String::from_utf8_lossy(&bytes).trim().to_string();

    // Measured with the real tiny.en on voice-gated windows: speech scores a no-speech
    // probability of 0.07–0.35, silence, noise, hold music, ringback and DTMF 0.87–0.99, and
    // on those whisper writes "you", "Be", "♪" or "." with confidence (average log-probability
    // up to -0.1). So the no-speech probability alone rejects a window (whisper's own rule
    // also asks for low confidence, which lets these through); and text without a letter or
    // digit is no text.
    let low_confidence = avg_logprob < opts.logprob_threshold;
    let no_words = !text.chars().any(char::is_alphanumeric);
    let rejected = if no_speech_prob > opts.no_speech_threshold {
        Some(Rejection::NoSpeech)
    } else if low_confidence {
        Some(Rejection::LowConfidence)
    } else if looped && text.is_empty() {
        Some(Rejection::Repetition)
    } else if no_words {
        Some(Rejection::NoWords)
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

/// Tokens in a run that, seen again in the same window, make a phrase loop: whisper, with
/// the encoder cut short, starts a sentence it has just written over again ("I can see the
/// payment on your account. I can see the payment on…"), sometimes with a word changed.
const PHRASE: usize = 5;

/// Where to cut a phrase loop: the first run of [`PHRASE`] tokens that already occurred
/// earlier in the window marks the repeat; the window is cut at the last sentence end between
/// the earlier occurrence and the repeat (so the repeat's first words go too), or at the
/// repeat itself. `None` when no run of that length occurs twice.
fn phrase_loop_cut(ids: &[i32], ends_sentence: &[bool]) -> Option<usize> {
    if ids.len() < 2 * PHRASE {
        return None;
    }
    let mut seen = std::collections::HashMap::new();
    for start in 0..=ids.len() - PHRASE {
        let run = &ids[start..start + PHRASE];
        match seen.get(run) {
            Some(&first) if start >= first + PHRASE => {
                let boundary = (first..start)
                    .rev()
                    .find(|&i| ends_sentence.get(i).copied().unwrap_or(false));
                return Some(boundary.map_or(start, |i| i + 1));
            }
            Some(_) => {}
            None => {
                seen.insert(run, start);
            }
        }
    }
    None
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
    fn phrase_loops_are_cut_at_the_sentence_end_before_the_repeat() {
        let no_ends = [false; 40];
        assert_eq!(
            phrase_loop_cut(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], &no_ends),
            None
        );
        // "a b c d e ." then "x a b c d e ." : cut after the first sentence's end.
        let ids = [1, 2, 3, 4, 5, 6, 9, 1, 2, 3, 4, 5, 6];
        let mut ends = [false; 13];
        ends[5] = true;
        ends[12] = true;
        assert_eq!(phrase_loop_cut(&ids, &ends), Some(6));
        // No sentence end: cut where the repeat starts.
        assert_eq!(phrase_loop_cut(&ids, &no_ends), Some(7));
        // A repeat overlapping its first occurrence is left to loop_cut.
        assert_eq!(
            phrase_loop_cut(&[1, 1, 1, 1, 1, 1, 2, 3, 4, 5], &no_ends),
            None
        );
        // Four tokens repeated are not a phrase loop ("thank you so much, thank you").
        assert_eq!(
            phrase_loop_cut(&[1, 2, 3, 4, 9, 9, 1, 2, 3, 4, 8], &no_ends),
            None
        );
    }

    #[test]
    fn a_sentence_written_twice_keeps_its_first_copy() {
        let words = [
            " I", " can", " see", " the", " payment", ".", " I", " can", " see", " the",
            " payment", ".", " I", " can",
        ];
        let ids = [1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6, 1, 2];
        let sampled: Vec<Sampled> = ids
            .iter()
            .zip(words)
            .map(|(&id, w)| tok(id, -0.1, w))
            .collect();
        let d = assemble(&sampled, EOT, Some(0.0), &relaxed());
        assert_eq!(
            (d.text.as_str(), d.looped),
            ("I can see the payment.", true)
        );
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
        // Unlike whisper, confident text does not survive a high no-speech probability: the
        // real model writes "you" with confidence on silence.
        let confident = [tok(10, -0.1, " you"), tok(EOT, -0.1, "")];
        let d = assemble(&confident, EOT, Some(0.9), &opts);
        assert_eq!(
            (d.text.as_str(), d.rejected),
            ("", Some(Rejection::NoSpeech))
        );
        let d = assemble(&confident, EOT, Some(0.3), &opts);
        assert_eq!((d.text.as_str(), d.rejected), ("you", None));
        // No letter or digit: no text.
        let notes = [tok(10, -0.1, " ♪"), tok(11, -0.1, " ."), tok(EOT, -0.1, "")];
        let d = assemble(&notes, EOT, Some(0.3), &opts);
        assert_eq!(
            (d.text.as_str(), d.rejected),
            ("", Some(Rejection::NoWords))
        );
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
}
