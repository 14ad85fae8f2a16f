//! `--log-format json`: every log line on stderr is one JSON object; a call's end is logged
//! with its id (issue 14, K7).

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_are_json_lines_carrying_the_call_id() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("s.db").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard-under-test"))
        .args([
            "--log-format",
            "json",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &db,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("listening on"))
        .expect("the server listens");
    std::thread::spawn(move || for _ in lines {});
    // stderr, line by line, as the server writes it.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let addr = first
        .split("http://")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let base = format!("http://{addr}/api/v1");
    let http = reqwest::Client::new();
    let token = |v: Value| v["token"].as_str().unwrap().to_owned();
    let root: Value = http
        .post(format!("{base}/sessions"))
        .json(&json!({"username": "root", "password": "demo"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let root = token(root);
    let call: Value = http
        .post(format!("{base}/calls"))
        .bearer_auth(&root)
        .json(&json!({"from": "+15550199", "queue": "support"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = call["id"].as_str().unwrap().to_owned();
    let ended = http
        .post(format!("{base}/calls/{id}/hangup"))
        .bearer_auth(&root)
        .json(&json!({"party": "customer"}))
        .send()
        .await
        .unwrap();
    assert!(ended.status().is_success());
    // Every line until the call's end is logged (within 10 s).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut lines: Vec<String> = Vec::new();
    while !lines.iter().any(|l| l.contains("call over")) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => lines.push(line),
            Err(_) => panic!("no call-over line within 10 s: {lines:#?}"),
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let stderr = lines.join("\n");
    let logs: Vec<Value> = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(logs
        .iter()
        .all(|l| l["level"].is_string() && l["timestamp"].is_string()));
    assert!(
        logs.iter().any(|l| l["fields"]["message"] == "serving"),
        "{stderr}"
    );
    let over = logs
        .iter()
        .find(|l| l["fields"]["message"] == "call over")
        .unwrap_or_else(|| panic!("no call-over line in {stderr}"));
    assert_eq!(over["fields"]["call"], id.as_str(), "{over}");
}
