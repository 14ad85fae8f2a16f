//! `--log-format json`: every log line on stderr is one JSON object; a call's end is logged
//! with its id (issue 14, K7).

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

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
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let logs: Vec<Value> = stderr
        .lines()
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
