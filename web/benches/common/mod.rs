//! What the benchmarks share: starting `switchyard` in a process of its own.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const EXE: &str = env!("CARGO_BIN_EXE_switchyard");

/// Starts `switchyard <args>` and returns it with the base URL it prints.
pub fn spawn(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(EXE)
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
    spawn(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        &db,
        "--config",
        config.to_str().expect("utf-8 path"),
        "--recordings-dir",
        rec.to_str().expect("utf-8 path"),
    ])
}
