//! sipp (Debian's sip-tester) as the carrier: a scenario file run once, as the caller
//! (`uac`, sending to the trunk port) or as the called party (`uas`, on a port of its own
//! that the trunk's `outbound` address names). Its exit status says whether every message
//! the scenario expects came.

pub mod callee;
pub mod caller;

use anyhow::Result;
use std::process::Stdio;

/// A port free for UDP and TCP on 127.0.0.1 (for the trunk, or for sipp as the called
/// party), that no other caller in this process gets.
///
/// Not one the kernel hands out for `bind(…:0)`: a port of the ephemeral range free a moment
/// ago may be taken by a parallel test's client socket before the server binds it (CI saw
/// "address already in use"). These come from below that range (32768 and up on Linux), from
/// a counter that starts at a place of this process's own.
pub fn free_port() -> u16 {
    free_ports(1)
}

/// The first of `n` consecutive ports free as [`free_port`]'s, starting at a multiple of ten
/// (an RTP range in a configuration).
pub fn free_ports(n: u16) -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    const LOW: u16 = 20_000;
    const SPAN: u16 = 12_000;
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let _ = NEXT.compare_exchange(
        0,
        LOW + (std::process::id() % u32::from(SPAN / 10)) as u16 * 10,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    let block = n.div_ceil(10) * 10;
    for _ in 0..SPAN / 10 {
        // Every value the counter holds is a multiple of ten; past the span it starts over.
        let wrap = |p: u16| if p + block > LOW + SPAN { LOW } else { p };
        let first = NEXT
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |p| {
                Some(wrap(p) + block)
            })
            .map(wrap)
            .expect("the closure always gives a port");
        let free = (first..first + n).all(|p| {
            std::net::UdpSocket::bind(("127.0.0.1", p)).is_ok()
                && std::net::TcpListener::bind(("127.0.0.1", p)).is_ok()
        });
        if free {
            return first;
        }
    }
    panic!(
        "no {n} free ports on 127.0.0.1 between {LOW} and {}",
        LOW + SPAN
    )
}

/// Whether sipp is here; on a user's machine without it the SIP tests say so and skip, in
/// CI its absence is a failure.
pub fn present() -> bool {
    let present = std::process::Command::new("sipp")
        .arg("-v")
        .output()
        .is_ok();
    if !present {
        assert!(
            std::env::var_os("CI").is_none(),
            "sipp is missing in CI: ./test.sh installs sip-tester"
        );
        eprintln!("SKIPPED: the SIP tests need sipp (Debian's sip-tester); ./test.sh installs it");
    }
    present
}

/// Runs one sipp call with the scenario `xml` and `ulaw` (raw PCMU) as the `tone.ulaw` its
/// scenario may stream; `args` are sipp's own (the local address, the transport, and the
/// target for a caller). True when the scenario ran to its end.
pub async fn run(xml: &str, ulaw: &[u8], args: &[String]) -> Result<bool> {
    run_with(xml, &[("tone.ulaw", ulaw)], args).await
}

/// [`run`] with `files` (name, content) beside the scenario for it to play.
pub async fn run_with(xml: &str, files: &[(&str, &[u8])], args: &[String]) -> Result<bool> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("scenario.xml");
    std::fs::write(&file, xml)?;
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content)?;
    }
    let out = tokio::process::Command::new("sipp")
        .arg("-sf")
        .arg(&file)
        .args(["-m", "1", "-timeout", "25s", "-nostdin", "-trace_msg"])
        .args(args)
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await?;
    if !out.status.success() {
        eprintln!("sipp: {}", String::from_utf8_lossy(&out.stderr));
        // The messages it exchanged, the last ones first to read.
        for entry in std::fs::read_dir(dir.path())?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with("_messages.log") {
                let log = std::fs::read_to_string(entry.path()).unwrap_or_default();
                let tail = log.len().saturating_sub(6_000);
                eprintln!(
                    "sipp's messages (the end):\n{}",
                    &log[log.floor_char_boundary(tail)..]
                );
            }
        }
    }
    Ok(out.status.success())
}

/// A capture (pcap, Ethernet, IPv4, UDP) of RTP packets of payload type `pt`, one every
/// 20 ms, each carrying one of `payloads`, their RTP timestamps `step` apart: what sipp's
/// `play_pcap_audio` sends as captured (it rewrites the addresses), for the codecs its
/// `rtp_stream` does not speak (G.722).
pub fn rtp_pcap(pt: u8, step: u32, payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    // The file's header: magic, version 2.4, time zone, accuracy, snapshot length, Ethernet.
    for word in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65_535, 1] {
        out.extend(word.to_le_bytes());
    }
    for (i, payload) in payloads.iter().enumerate() {
        let mut rtp = vec![0x80, pt & 0x7f];
        rtp.extend((i as u16).to_be_bytes());
        rtp.extend((i as u32 * step).to_be_bytes());
        rtp.extend(0x5157_4a59u32.to_be_bytes());
        rtp.extend(payload);
        let udp_len = (8 + rtp.len()) as u16;
        // Ethernet: two addresses, IPv4.
        let mut frame = vec![0u8; 12];
        frame.extend([0x08, 0x00]);
        // IPv4: header length 20, total length, no fragments, TTL 64, UDP, 127.0.0.1 both ways.
        frame.extend([0x45, 0]);
        frame.extend((20 + udp_len).to_be_bytes());
        frame.extend([0, 0, 0, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1]);
        // UDP: ports (rewritten by sipp), length, no checksum.
        for half in [6_000u16, 6_002, udp_len, 0] {
            frame.extend(half.to_be_bytes());
        }
        frame.extend(rtp);
        let at_us = i as u32 * 20_000;
        let len = frame.len() as u32;
        for word in [at_us / 1_000_000, at_us % 1_000_000, len, len] {
            out.extend(word.to_le_bytes());
        }
        out.extend(frame);
    }
    out
}

/// A capture of `secs` of a sine tone in G.722 (payload type 9, 8 kHz RTP clock), for
/// [`rtp_pcap`]'s player.
pub fn tone_g722_pcap(hz: f64, secs: usize) -> Vec<u8> {
    let mut tone = actors::media::tone::Sine::new(hz, 16_000, 8_000);
    g722_pcap(&tone.take(16_000 * secs))
}

/// A capture of 16 kHz audio (`samples`, whole 20 ms frames) in G.722, for [`rtp_pcap`]'s
/// player.
pub fn g722_pcap(samples: &[i16]) -> Vec<u8> {
    use actors::media::codec::{Codec, Encoder};
    let mut enc = Encoder::new(Codec::G722).expect("a G.722 encoder");
    let payloads: Vec<Vec<u8>> = samples
        .chunks_exact(320)
        .map(|frame| enc.encode_native(frame).expect("G.722 encodes"))
        .collect();
    rtp_pcap(9, 160, &payloads)
}

/// 8 kHz raw PCMU of a sine tone, `secs` long: what a sipp party says.
pub fn tone_ulaw(hz: f64, secs: usize) -> Vec<u8> {
    let mut tone = actors::media::tone::Sine::new(hz, 8_000, 8_000);
    actors::media::g711::encode_frame(&tone.take(8_000 * secs))
}
