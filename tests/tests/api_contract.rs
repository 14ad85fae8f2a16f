//! The contract, checked by a foreign fuzzer: schemathesis reads `/api/v1/openapi.json`
//! (request bodies and query parameters included) and sends generated requests, valid and not,
//! to every operation as an admin; no answer may be a 5xx, and every answer must match the
//! document (status, content type, body schema). `./test.sh` installs schemathesis (PyPI,
//! pinned) and names it in `SWITCHYARD_SCHEMATHESIS`; without it the test skips, except in CI.

use std::process::Command;
use tests::{start_server, Database};

fn schemathesis() -> Option<String> {
    let exe = std::env::var("SWITCHYARD_SCHEMATHESIS")
        .ok()
        .filter(|p| std::path::Path::new(p).exists());
    if exe.is_none() {
        assert!(
            std::env::var("CI").is_err(),
            "CI must provide schemathesis (SWITCHYARD_SCHEMATHESIS): a skipped contract test is a failure"
        );
        eprintln!("SKIPPED: the contract test needs schemathesis; ./test.sh installs it");
    }
    exe
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_contract_violation() -> anyhow::Result<()> {
    let Some(exe) = schemathesis() else {
        return Ok(());
    };
    let db = Database::sqlite();
    // Generated traffic must not be throttled into never reaching the handlers.
    let config = format!(
        "{}\n[security]\nlogins_per_minute_per_address = 100000\nweb_calls_per_minute_per_address = 100000\n",
        actors::config::DEMO_TOML
    );
    let server = start_server!(&db, Some(&config))?;
    let root = server.login("root", "demo").await?;
    let report = tempfile::tempdir()?;
    let base = server.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(exe)
            .args(["run", &format!("{base}/api/v1/openapi.json")])
            .args(["--url", &base])
            .args(["-H", &format!("Authorization: Bearer {root}")])
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            ])
            // Logging itself (or root, by name) out would leave the rest of the run
            // unauthenticated; the event stream is a WebSocket.
            .args([
                "--exclude-path-regex",
                "^/api/v1/(sessions|users/.*|events)$",
            ])
            // One worker: hypothesis parses Python source with `ast`, which is not safe from
            // two threads at once on CPython 3.11 (a "recursion depth mismatch" error in the
            // tool itself). The stateful phase runs until the time budget is spent.
            .args(["--max-examples", "12", "--seed", "7", "--workers", "1"])
            .args(["--phases", "coverage,fuzzing,stateful", "--max-time", "90"])
            .args(["--generation-database", "none", "--no-color"])
            .args(["--report", "junit", "--report-dir"])
            .arg(report.path())
            .current_dir(report.path())
            .output()
    })
    .await??;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: String = stdout
        .lines()
        .rev()
        .take(60)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    eprintln!("{tail}");
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{stdout}\n{stderr}"
    );
    Ok(())
}
