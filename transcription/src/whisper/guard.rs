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
}
