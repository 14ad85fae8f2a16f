//! The CTI adapter in the browser (G2, G4, G3): the phone panel inside the demo CRM page
//! `/crm-demo`, talking to it only through the Open CTI shim. `tests/browser/cti.mjs` checks
//! the screen pop on an offer, the call data entered in the panel arriving in the host page
//! through `saveLog`, and click-to-dial from the host page; this test checks that the same log
//! reached a webhook receiver through the server's outbox. `tests/browser/shim.mjs` calls
//! every shim method with valid and invalid arguments (callback shape, error codes, origins).
//!
//! Needs Chromium, Node.js and playwright-core like the media browser test.

use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tests::{browser_dir, browser_tools_present, start_server, when_notified, Database};

const SECRET: &str = "a-long-shared-secret";

fn tone_wav(path: &std::path::Path) {
    let samples: Vec<i16> = (0..48_000 * 5)
        .map(|i| ((f64::from(i) * std::f64::consts::TAU * 700.0 / 48_000.0).sin() * 8_000.0) as i16)
        .collect();
    let file = std::fs::File::create(path).unwrap();
    let mut rec = actors::media::wav::Recorder::new(file, 48_000).unwrap();
    rec.write(&samples, engine::call::Recording::On).unwrap();
    rec.finish().unwrap();
}

fn run_script(name: &str, base: &str, wav: &std::path::Path) -> Value {
    let out = Command::new("node")
        .arg(browser_dir().join(name))
        .current_dir(browser_dir())
        .env("BASE_URL", base)
        .env("AGENT_WAV", wav)
        .env("CUSTOMER_WAV", wav)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{name} failed:\n{stdout}\n{stderr}");
    eprintln!("{stdout}");
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .map(|j| serde_json::from_str(j).unwrap())
        .unwrap_or_else(|| panic!("no RESULT line:\n{stdout}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_panel_in_a_crm_page_pops_saves_its_log_and_dials() {
    if !browser_tools_present() {
        return;
    }
    // The webhook receiver: the logs it accepted.
    let logs: Arc<Mutex<Vec<Value>>> = Arc::default();
    let logged = Arc::new(tokio::sync::Notify::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = Router::new().route(
        "/hook",
        post({
            let (logs, logged) = (logs.clone(), logged.clone());
            move |body: axum::body::Bytes| async move {
                logs.lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap());
                logged.notify_waiters();
                StatusCode::OK
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let config = actors::config::DEMO_TOML.replacen(
        "[cti]\n",
        &format!(
            "[cti]\nconnectors = [{{ kind = \"webhook\", name = \"hook\", url = \"{url}\", secret = \"{SECRET}\" }}]\n"
        ),
        1,
    );
    let work = tempfile::tempdir().unwrap();
    let wav = work.path().join("tone.wav");
    tone_wav(&wav);
    let db = Database::sqlite();
    let server = start_server!(&db, Some(&config)).unwrap();
    let (base, wav2) = (server.base.clone(), wav.clone());
    let result = tokio::task::spawn_blocking(move || run_script("cti.mjs", &base, &wav2))
        .await
        .unwrap();
    let call = result["call_id"]
        .as_str()
        .expect("the call's id")
        .to_owned();
    // The log the host page got through saveLog also reached the CRM through the outbox:
    // its latest version carries the data entered in the panel.
    let latest = || {
        logs.lock()
            .unwrap()
            .iter()
            .filter(|l| l["log"]["call_id"] == call.as_str())
            .max_by_key(|l| l["log"]["version"].as_u64())
            .cloned()
            .unwrap_or(Value::Null)
    };
    let what = format!("the webhook's log of {call} with {}", result["data"]);
    let last = when_notified(&what, Duration::from_secs(10), &logged, || {
        let last = latest();
        (last["log"]["data"] == result["data"]).then_some(last)
    })
    .await;
    assert_eq!(last["log"]["data"], result["data"], "{last}");
    server.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shim_method_answers_with_open_cti_shapes_and_codes() {
    if !browser_tools_present() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let wav = work.path().join("tone.wav");
    tone_wav(&wav);
    let db = Database::sqlite();
    let server = start_server!(&db, None).unwrap();
    let base = server.base.clone();
    let result = tokio::task::spawn_blocking(move || run_script("shim.mjs", &base, &wav))
        .await
        .unwrap();
    assert!(result["checks"].as_u64().unwrap_or(0) > 100, "{result}");
    assert_eq!(result["methods"], 21, "{result}");
    server.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inside_salesforce_the_real_library_loads_and_the_shim_steps_aside() {
    if !browser_tools_present() {
        return;
    }
    // A stand-in for the Salesforce org: its Open CTI library defines sforce.opencti.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sf = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new().route(
        "/support/api/60.0/lightning/opencti_min.js",
        axum::routing::get(|| async {
            (
                [("content-type", "text/javascript")],
                "window.sforce = { opencti: { standIn: true } };",
            )
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let config = actors::config::DEMO_TOML.replacen(
        "[cti]\n",
        &format!("[cti]\nallowed_origins = [\"{sf}\"]\n"),
        1,
    );
    let db = Database::sqlite();
    let server = start_server!(&db, Some(&config)).unwrap();
    let base = server.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(browser_dir().join("salesforce.mjs"))
            .current_dir(browser_dir())
            .env("BASE_URL", &base)
            .env("SF_ORIGIN", &sf)
            .output()
            .expect("node runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("RESULT "),
        "salesforce.mjs failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.kill();
}
