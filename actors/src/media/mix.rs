//! The conference mix (H2, D4): each party hears the sum of the others, never itself
//! ("mix-minus"), with saturation instead of wrap-around.

/// Mixes one frame per party; returns, for each party, what it hears. Frames shorter than
/// the longest count as silence for the rest.
pub fn mix_minus(frames: &[&[i16]]) -> Vec<Vec<i16>> {
    let len = frames.iter().map(|f| f.len()).max().unwrap_or(0);
    let total: Vec<i32> = (0..len)
        .map(|i| {
            frames
                .iter()
                .map(|f| i32::from(f.get(i).copied().unwrap_or(0)))
                .sum()
        })
        .collect();
    frames
        .iter()
        .map(|own| {
            total
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let others = t - i32::from(own.get(i).copied().unwrap_or(0));
                    others.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::tone::{goertzel, Sine};

    #[test]
    fn each_of_three_parties_hears_the_other_two_and_not_itself() {
        let freqs = [400.0, 700.0, 1_100.0];
        let frames: Vec<Vec<i16>> = freqs
            .iter()
            .map(|&f| Sine::new(f, 8_000, 8_000).take(1_600))
            .collect();
        let refs: Vec<&[i16]> = frames.iter().map(|f| f.as_slice()).collect();
        let heard = mix_minus(&refs);
        for (me, out) in heard.iter().enumerate() {
            for (other, &f) in freqs.iter().enumerate() {
                let p = goertzel(out, f, 8_000);
                if other == me {
                    assert!(p < 1e-6, "party {me} hears itself ({p})");
                } else {
                    assert!(p > 0.01, "party {me} does not hear party {other} ({p})");
                }
            }
        }
    }

    #[test]
    fn loud_parties_saturate_instead_of_wrapping() {
        let loud = [30_000i16; 4];
        let heard = mix_minus(&[&loud, &loud, &loud]);
        assert_eq!(heard[0], vec![i16::MAX; 4]);
        assert_eq!(mix_minus(&[&[1, 2], &[3]]), vec![vec![3, 0], vec![1, 2]]);
    }
}
