//! What the benchmarks share: starting `switchyard` (or the load generator's echo) in a
//! process of its own.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The program under test.
pub const SWITCHYARD: &str = env!("CARGO_BIN_EXE_switchyard-under-test");
/// The load generator (its `media-echo` is the baseline peer; only the media bench runs it).
#[allow(dead_code)]
pub const LOADGEN: &str = env!("CARGO_BIN_EXE_loadgen");

/// Starts `exe <args>` and returns it with the base URL it prints.
pub fn spawn(exe: &str, args: &[&str]) -> (Child, String) {
    let mut child = Command::new(exe)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the switchyard binary runs");
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let first = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("listening on"))
        .expect("it listens");
    std::thread::spawn(move || for _ in lines {});
    let base = first
        .split("http://")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("an address");
    (child, format!("http://{base}"))
}

/// Starts `switchyard serve` on `config` with its SQLite database and recordings in `dir`.
pub fn serve(dir: &Path, config: &Path) -> (Child, String) {
    let db = format!("sqlite://{}", dir.join("db.sqlite").display());
    let rec = dir.join("recordings");
    spawn(
        SWITCHYARD,
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &db,
            "--config",
            config.to_str().expect("utf-8 path"),
            "--recordings-dir",
            rec.to_str().expect("utf-8 path"),
        ],
    )
}
