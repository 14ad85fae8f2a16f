//! Black-box scenario tests: each file in `tests/` starts the real `switchyard` program as a
//! process on 127.0.0.1, drives it over HTTP and WebSocket like a client would, and may kill
//! and restart it. This library holds the harness they share.

#![deny(missing_docs)]

pub mod loadgen;
pub mod sipp;
pub mod speech;

use anyhow::{anyhow, bail, Context, Result};
use futures::StreamExt;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// Starts the `switchyard` program built by this crate: `start_server!(&db, config)`.
#[macro_export]
macro_rules! start_server {
    ($db:expr, $config:expr) => {
        $crate::Server::start(env!("CARGO_BIN_EXE_switchyard-under-test"), $db, $config)
    };
    ($db:expr, $config:expr, $args:expr) => {
        $crate::Server::start_with_args(
            env!("CARGO_BIN_EXE_switchyard-under-test"),
            $db,
            $config,
            $args,
        )
    };
}

/// A running server process.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:port`.
    pub base: String,
    http: reqwest::Client,
}

/// Where a test's database lives: a SQLite file in a temporary folder, or a fresh PostgreSQL
/// database.
pub struct Database {
    /// The URL to give `--database-url`.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl Database {
    /// A new SQLite file.
    pub fn sqlite() -> Database {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("switchyard.db").display());
        Database {
            url,
            _dir: Some(dir),
        }
    }

    /// A new database on the PostgreSQL server named by `SWITCHYARD_TEST_POSTGRES_URL`; `None`
    /// (with a note) when unset on a user's machine. In CI (`CI` set) an unset URL fails.
    pub fn postgres() -> Option<Database> {
        let Ok(base) = std::env::var("SWITCHYARD_TEST_POSTGRES_URL") else {
            assert!(
                std::env::var("CI").is_err(),
                "CI must set SWITCHYARD_TEST_POSTGRES_URL: a skipped PostgreSQL test is a failure"
            );
            eprintln!(
                "SKIPPED: set SWITCHYARD_TEST_POSTGRES_URL=postgres://… to run against PostgreSQL"
            );
            return None;
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("sy_scn_{}_{nanos}", std::process::id());
        let ok = Command::new("psql")
            .args([base.as_str(), "-qc", &format!("CREATE DATABASE {name}")])
            .status()
            .expect("psql runs");
        assert!(ok.success(), "could not create database {name}");
        let (prefix, _) = base.rsplit_once('/').expect("URL ends with /database");
        Some(Database {
            url: format!("{prefix}/{name}"),
            _dir: None,
        })
    }
}

impl Server {
    /// Starts `switchyard serve` on a free loopback port with this database and, if given, a
    /// configuration file's text; returns once it listens.
    /// `exe` is the program's path: use [`start_server!`], which passes it.
    pub fn start(exe: &str, db: &Database, config: Option<&str>) -> Result<Server> {
        Server::start_with_args(exe, db, config, &[])
    }

    /// [`Server::start`] with more `serve` arguments (`--recordings-dir …`).
    pub fn start_with_args(
        exe: &str,
        db: &Database,
        config: Option<&str>,
        args: &[&str],
    ) -> Result<Server> {
        let mut cmd = Command::new(exe);
        cmd.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &db.url,
        ]);
        cmd.args(args);
        let config_file;
        if let Some(text) = config {
            config_file = tempfile::NamedTempFile::new()?;
            std::fs::write(config_file.path(), text)?;
            cmd.arg("--config").arg(config_file.path());
            // The file is read at startup, before the first line is printed.
            std::mem::forget(config_file);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting switchyard")?;
        let stdout = child.stdout.take().expect("piped");
        let mut lines = BufReader::new(stdout).lines();
        let first = lines
            .by_ref()
            .map_while(|l| l.ok())
            .find(|l| l.contains("listening on"))
            .ok_or_else(|| anyhow!("switchyard exited before listening"))?;
        let addr = first
            .split("http://")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .ok_or_else(|| anyhow!("unexpected first line: {first}"))?
            .to_owned();
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Ok(Server {
            child,
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
        })
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process at once (SIGKILL): no graceful shutdown.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends a request; returns status and JSON body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Result<(u16, Value)> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await?;
        let status = res.status().as_u16();
        let text = res.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// GET, expecting 200.
    pub async fn get(&self, path: &str, token: &str) -> Result<Value> {
        ok(self
            .send(reqwest::Method::GET, path, Some(token), None)
            .await?)
    }

    /// POST, expecting 2xx.
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Result<Value> {
        ok(self
            .send(reqwest::Method::POST, path, Some(token), Some(body))
            .await?)
    }

    /// PUT, expecting 2xx.
    pub async fn put(&self, path: &str, token: &str, body: Value) -> Result<Value> {
        ok(self
            .send(reqwest::Method::PUT, path, Some(token), Some(body))
            .await?)
    }

    /// Every call the token's user may see (`GET /calls`).
    pub async fn calls(&self, token: &str) -> Result<Vec<Value>> {
        let all = self.get("/api/v1/calls", token).await?;
        Ok(all["calls"].as_array().cloned().unwrap_or_default())
    }

    /// The call `id` once it has ended (waiting at most 15 s).
    pub async fn ended_call(&self, token: &str, id: &str) -> Value {
        let path = format!("/api/v1/calls/{id}");
        eventually("the call to end", Duration::from_secs(15), || async {
            let c = self.get(&path, token).await.ok()?;
            (c["state"] == "ended").then_some(c)
        })
        .await
    }

    /// Logs in; returns the token.
    pub async fn login(&self, user: &str, password: &str) -> Result<String> {
        let v = ok(self
            .send(
                reqwest::Method::POST,
                "/api/v1/sessions",
                None,
                Some(json!({"username": user, "password": password})),
            )
            .await?)?;
        Ok(v["token"]
            .as_str()
            .ok_or_else(|| anyhow!("no token in {v}"))?
            .to_owned())
    }

    /// Opens the event stream as this token's user.
    pub async fn events(&self, token: &str) -> Result<Events> {
        Ok(self.events_since(token, None).await?.0)
    }

    /// Opens the event stream as this token's user, resuming after event `since` when given;
    /// returns it with its `stream.hello`.
    pub async fn events_since(&self, token: &str, since: Option<u64>) -> Result<(Events, Value)> {
        let since = since.map(|n| format!("&since={n}")).unwrap_or_default();
        let url = format!(
            "{}/api/v1/events?token={token}{since}",
            self.base.replace("http://", "ws://")
        );
        let (ws, _) = tokio_tungstenite::connect_async(url).await?;
        let mut events = Events { ws };
        let hello = events
            .next_matching(Duration::from_secs(5), |e| e["type"] == "stream.hello")
            .await?;
        Ok((events, hello))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ok((status, body): (u16, Value)) -> Result<Value> {
    if (200..300).contains(&status) {
        Ok(body)
    } else {
        bail!("HTTP {status}: {body}")
    }
}

/// A WebSocket event stream.
pub struct Events {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl Events {
    /// The next event for which `pred` holds, skipping others; fails after `within`.
    pub async fn next_matching(
        &mut self,
        within: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        Ok(self.until(within, pred).await?.1)
    }

    /// The events skipped before the first one for which `pred` holds, and that one.
    pub async fn until(
        &mut self,
        within: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Result<(Vec<Value>, Value)> {
        let deadline = tokio::time::Instant::now() + within;
        let mut skipped = Vec::new();
        loop {
            let msg = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .map_err(|_| anyhow!("no matching event within {within:?}"))?
                .ok_or_else(|| anyhow!("event stream closed"))??;
            if let Message::Text(t) = msg {
                let v: Value = serde_json::from_str(&t)?;
                if pred(&v) {
                    return Ok((skipped, v));
                }
                skipped.push(v);
            }
        }
    }
}

/// The browser scripts' folder (`tests/browser`, with its `node_modules`).
pub fn browser_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("browser")
}

/// Whether Chromium, Node.js and playwright-core are here for a browser test. Absent on a
/// user's machine: says so and returns false (the test skips); in CI (`CI` set): a failure.
pub fn browser_tools_present() -> bool {
    let missing: Vec<&str> = [
        (
            std::path::Path::new("/usr/bin/chromium").exists(),
            "chromium",
        ),
        (
            Command::new("node").arg("--version").output().is_ok(),
            "node",
        ),
        (
            browser_dir().join("node_modules/playwright-core").exists(),
            "playwright-core (npm ci in tests/browser)",
        ),
    ]
    .into_iter()
    .filter(|(ok, _)| !ok)
    .map(|(_, name)| name)
    .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var("CI").is_err(),
        "CI must provide {missing:?}: a skipped browser test is a failure"
    );
    eprintln!("SKIPPED: the browser test needs {missing:?}; ./test.sh installs them");
    false
}

/// Waits, for at most `within`, until `check` yields a value, looking again each time
/// `changed` is notified (whoever changes what `check` reads notifies it); fails naming
/// `what`. For state the test itself holds, such as what a test receiver got.
pub async fn when_notified<T>(
    what: &str,
    within: Duration,
    changed: &tokio::sync::Notify,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let reached = async {
        loop {
            // Registered before looking: a change in between is not missed.
            let next = changed.notified();
            tokio::pin!(next);
            next.as_mut().enable();
            if let Some(v) = check() {
                return v;
            }
            next.await;
        }
    };
    match tokio::time::timeout(within, reached).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {within:?} waiting for {what}"),
    }
}

/// Polls `probe` until it yields a value, for at most `within`; fails naming `what`. For
/// states the server exposes only over REST (no event says when they change).
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
