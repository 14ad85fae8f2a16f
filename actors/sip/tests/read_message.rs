//! The fuzz target's seeds (`actors/sip/fuzz/seeds`), and a few thousand deterministic
//! mutations of them (bytes flipped, cut, repeated, spliced), through what the trunk side
//! reads of a carrier's message (`sip::read_message`), on the stable toolchain: none may
//! panic, and the untouched INVITEs are taken. The coverage-guided search is
//! `cargo +nightly fuzz run sip_message` (see the fuzz crate's Cargo.toml).

use std::path::Path;

fn seeds() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    let mut seeds: Vec<_> = std::fs::read_dir(&dir)
        .expect("the fuzz seeds")
        .map(|e| {
            let path = e.expect("a seed").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).expect("a seed's bytes"))
        })
        .collect();
    seeds.sort();
    seeds
}

#[test]
fn the_seed_invites_are_taken() {
    let seeds = seeds();
    assert!(seeds.len() >= 4, "{} seeds", seeds.len());
    for (name, bytes) in &seeds {
        let taken = sip::read_message(bytes);
        assert_eq!(taken, name.contains("invite"), "{name}");
    }
}

/// A small deterministic generator (xorshift64*), so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn mutated_messages_never_panic() {
    let seeds = seeds();
    let mut rng = Rng(0x5eed_5eed_5eed_5eed);
    const INTERESTING: [&[u8]; 8] = [
        b"\r\n",
        b"\r\n\r\n",
        b"m=audio ",
        b"Content-Length: 99999\r\n",
        b"Session-Expires: ",
        b"Authorization: Digest ",
        b"\"",
        b"\xff\xfe",
    ];
    for round in 0..20_000 {
        let (_, seed) = &seeds[rng.below(seeds.len())];
        let mut m = seed.clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(m.len() + 1);
            match rng.below(5) {
                0 if !m.is_empty() => {
                    let i = at.min(m.len() - 1);
                    m[i] = rng.next() as u8;
                }
                1 => m.truncate(at),
                2 => {
                    let piece = INTERESTING[rng.below(INTERESTING.len())];
                    m.splice(at..at, piece.iter().copied());
                }
                3 => {
                    let end = (at + rng.below(64)).min(m.len());
                    let copy = m[at..end].to_vec();
                    for _ in 0..rng.below(50) {
                        m.splice(at..at, copy.iter().copied());
                    }
                }
                _ => {
                    let (_, other) = &seeds[rng.below(seeds.len())];
                    let from = rng.below(other.len());
                    m.truncate(at);
                    m.extend_from_slice(&other[from..]);
                }
            }
        }
        let outcome = std::panic::catch_unwind(|| sip::read_message(&m));
        assert!(
            outcome.is_ok(),
            "round {round} panicked on {:?}",
            String::from_utf8_lossy(&m)
        );
    }
}
