//! WebRTC from a foreign stack: aiortc (Python, pinned, installed from PyPI by `./test.sh`)
//! calls the demo's support queue from the web with the offer it makes when it speaks Opus
//! alone (no PCMU: refused with 422 before), is answered, connects, and hears the queue's hold
//! music through its own Opus decoder. `tests/foreign/aiortc_call.py` is the peer.

use tests::{start_server, Database};

fn aiortc_python() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("SWITCHYARD_AIORTC_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../target/tools/aiortc/bin/python")
        });
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "aiortc is missing in CI: ./test.sh installs it"
    );
    eprintln!("SKIPPED: the foreign WebRTC test needs aiortc; ./test.sh installs it");
    None
}

#[tokio::test]
async fn an_aiortc_peer_offering_opus_alone_is_answered_connects_and_hears_hold_music(
) -> anyhow::Result<()> {
    let Some(python) = aiortc_python() else {
        return Ok(());
    };
    let db = Database::sqlite();
    let server = start_server!(&db, None)?;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("foreign/aiortc_call.py");
    let out = tokio::process::Command::new(python)
        .arg(script)
        .args([server.base.as_str(), "support"])
        .kill_on_drop(true)
        .output()
        .await?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| {
            panic!(
                "no report from aiortc: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    eprintln!("aiortc: {report}");
    assert_eq!(report["offer_has_pcmu"], false, "{report}");
    assert_eq!(report["status"], 201, "{report}");
    assert!(
        report["answer_m_line"]
            .as_str()
            .is_some_and(|m| !m.ends_with(" 0")),
        "answered with Opus: {report}"
    );
    assert_eq!(report["connection"], "connected", "{report}");
    assert!(
        report["loud_frames"].as_u64().unwrap_or(0) >= 25,
        "hold music heard in at least 25 of its frames: {report}"
    );
    assert!(out.status.success(), "{report}");
    Ok(())
}
