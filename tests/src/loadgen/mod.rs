//! The media load generator (`loadgen calls`) and its baseline peer (`switchyard
//! media-echo`).
//!
//! `loadgen` runs N web calls against a running server: for each, a customer WebRTC peer calls
//! the queue through `POST /api/v1/web-calls`, the agent the server offers it to accepts over
//! the API and connects its own peer, and both peers send a WAV file (8 kHz mono 16-bit; a
//! 1 kHz-ish tone without one) in a loop, 20 ms frames. After a warm-up it measures, over the
//! given time, what every peer received: packets, lost (sequence gaps), late (more than 10 ms
//! after their timestamp, against the fastest packet), and the machine's CPU use.
//!
//! `media-echo` is the stack's own limit for the same work: raw webrtc-rs legs that send back
//! each frame they receive, nothing else; `loadgen --echo` drives 2N peers against it, the
//! same number of server-side legs as N bridged calls. `media-echo --core` is the same echo on
//! webrtc-rs's sans-IO core driven by one thread ([`CoreEcho`]).

use actors::media::codec::Codec;
use actors::media::leg::Leg;
use anyhow::{anyhow, bail, Context as _, Result};
use futures::StreamExt;
use peers::Peers;
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod echo;
mod peers;

pub use echo::{app as core_echo_app, CoreEcho};

/// What to run (also the `loadgen calls` arguments).
#[derive(Clone, Debug, clap::Args)]
pub struct LoadOptions {
    /// The server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// Concurrent calls.
    #[arg(long, default_value_t = 10)]
    pub calls: usize,
    /// Seconds measured (after the calls connect and a 2 s warm-up).
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// 8 kHz mono 16-bit WAV each peer sends in a loop (default: a tone).
    #[arg(long)]
    pub wav: Option<std::path::PathBuf>,
    /// Queue to call (open to web calls).
    #[arg(long, default_value = "support")]
    pub queue: String,
    /// Agent users are `<prefix>1` … `<prefix>N`.
    #[arg(long, default_value = "agent")]
    pub agent_prefix: String,
    /// The agents' password.
    #[arg(long, default_value = "load")]
    pub password: String,
    /// A supervisor or admin login for the event stream, user:password.
    #[arg(long, default_value = "root:demo")]
    pub watcher: String,
    /// Drive 2N peers against `loadgen media-echo` instead (the baseline).
    #[arg(long)]
    pub echo: bool,
    /// The codec the peers offer (and so get): pcmu or opus.
    #[arg(long, default_value = "pcmu", value_parser = parse_codec)]
    pub codec: Codec,
    /// The server's process id, when on this machine: its own CPU use is reported too.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Customers call in over the server's SIP trunk instead (`[sip] listen`, address:port,
    /// with this machine as a trunk): sipp (Debian's sip-tester) places the calls, each
    /// streaming the audio as PCMU, and the agents' peers measure what reaches them.
    #[arg(long)]
    pub trunk: Option<String>,
    /// The number sipp dials (a `[[sip.routes]]` number to the queue).
    #[arg(long, default_value = TRUNK_DID)]
    pub did: String,
}

/// The number [`load_config_with_trunk`] routes to the load queue.
pub const TRUNK_DID: &str = "+3225550100";

fn parse_codec(s: &str) -> Result<Codec, String> {
    match s.to_ascii_lowercase().as_str() {
        "pcmu" => Ok(Codec::Pcmu),
        "opus" => Ok(Codec::Opus),
        other => Err(format!("{other}: give pcmu or opus")),
    }
}

/// What a run measured.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LoadReport {
    /// Calls asked for.
    pub calls: usize,
    /// Peers whose connection came up (2 per bridged call).
    pub peers_connected: usize,
    /// Calls with both peers up (echo runs: peers / 2).
    pub calls_connected: usize,
    /// Packets the peers sent in the measured window.
    pub packets_sent: u64,
    /// Packets the peers received in the measured window.
    pub packets_received: u64,
    /// Lost, in percent of expected (received + lost).
    pub lost_pct: f64,
    /// Late by more than 10 ms, in percent of received.
    pub late_pct: f64,
    /// The machine's CPU use in the window, percent of all cores.
    pub cpu_pct: f64,
    /// The server process's share of that, percent of all cores (with `server_pid`).
    pub server_cpu_pct: Option<f64>,
    /// The generator's own 1 ms ticks that ran more than 5 ms behind, in percent: above a
    /// fraction of a percent the machine is holding up the measuring instrument itself.
    pub generator_late_ticks_pct: f64,
    /// Cores.
    pub cores: usize,
    /// Seconds measured.
    pub seconds: f64,
}

/// Reads the audio to send as 8 kHz frames.
fn audio(wav: Option<&std::path::Path>) -> Result<Arc<Vec<i16>>> {
    let Some(path) = wav else {
        let mut tone = actors::media::tone::Sine::new(1_020.0, 8_000, 8_000);
        return Ok(Arc::new(tone.take(8_000)));
    };
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let (rate, samples) = actors::media::wav::read(&bytes)
        .ok_or_else(|| anyhow!("{}: not a 16-bit mono PCM WAV", path.display()))?;
    if rate % 8_000 != 0 || samples.len() < (rate / 50) as usize {
        bail!(
            "{}: give an 8 kHz (or 16/48 kHz) WAV of at least 20 ms",
            path.display()
        );
    }
    // Average each block down to 8 kHz: a crude low-pass, enough for load.
    let step = (rate / 8_000) as usize;
    Ok(Arc::new(
        samples
            .chunks_exact(step)
            .map(|c| (c.iter().map(|s| i32::from(*s)).sum::<i32>() / step as i32) as i16)
            .collect(),
    ))
}

/// The HTTP side: JSON requests with an optional bearer token.
#[derive(Clone)]
struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Result<Value> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await?;
        let status = res.status();
        let v: Value = res.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("{path}: {status} {v}");
        }
        Ok(v)
    }

    /// Logs in, waiting as told (`Retry-After`) while the server's password checks are busy
    /// or this address is throttled, up to a minute.
    async fn login(&self, user: &str, password: &str) -> Result<String> {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let v = loop {
            let res = self
                .http
                .post(format!("{}/api/v1/sessions", self.base))
                .json(&json!({"username": user, "password": password}))
                .send()
                .await?;
            let status = res.status();
            let retry = res
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
            let v: Value = res.json().await.unwrap_or(Value::Null);
            match (status.as_u16(), retry) {
                (429, Some(secs)) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_secs(secs.min(10))).await;
                }
                _ if status.is_success() => break v,
                _ => bail!("/api/v1/sessions: {status} {v}"),
            }
        };
        Ok(v["token"]
            .as_str()
            .ok_or_else(|| anyhow!("no token"))?
            .to_owned())
    }
}

/// Connects a new peer: posts its offer to `path` in the body `body` makes of it, and takes
/// the answer (the response itself, or its `sdp`); returns the response.
async fn connect(
    peers: &Peers,
    api: &Api,
    path: &str,
    token: Option<&str>,
    body: impl FnOnce(Value) -> Value,
) -> Result<Value> {
    peers
        .connect(|offer| async move {
            let v = api
                .send(
                    reqwest::Method::POST,
                    path,
                    token,
                    Some(body(serde_json::to_value(offer)?)),
                )
                .await?;
            let answer = if v.get("sdp").is_some_and(Value::is_object) {
                v["sdp"].clone()
            } else {
                v.clone()
            };
            Ok((serde_json::from_value(answer)?, v))
        })
        .await
}

fn cpu_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = stat.lines().next().unwrap_or_default();
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (v.iter().sum(), idle)
}

/// A process's CPU time so far, in clock ticks (user + system).
fn process_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at state: utime and
    // stime are the 12th and 13th of them.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// Runs the load and reports.
pub async fn run(opts: &LoadOptions) -> Result<LoadReport> {
    let audio = audio(opts.wav.as_deref())?;
    let codec = opts.codec;
    let api = Api {
        base: opts.server.trim_end_matches('/').to_owned(),
        http: reqwest::Client::new(),
    };
    let url = reqwest::Url::parse(&api.base).with_context(|| format!("--server {}", api.base))?;
    let host = format!(
        "{}:{}",
        url.host_str().unwrap_or("127.0.0.1"),
        url.port_or_known_default().unwrap_or(80)
    );
    // Trunk customers are sipp's, not peers of ours: only the agents' peers are here.
    let peer_count = opts.calls * if opts.trunk.is_some() { 1 } else { 2 };
    let peers = Arc::new(Peers::start(&host, peer_count, codec, &audio)?);
    let mut peers_connected = 0;
    let mut customer_tokens: Vec<(String, String)> = Vec::new();
    // Trunk calls: each agent's (call, token), to hang up at the end; and sipp itself.
    let mut agent_calls: Vec<(String, String)> = Vec::new();
    let mut sipp = None;
    let sipp_dir = tempfile::tempdir()?;
    if opts.echo {
        let results = futures::stream::iter(0..opts.calls * 2)
            .map(|_| {
                let (api, peers) = (api.clone(), peers.clone());
                async move { connect(&peers, &api, "/echo", None, |offer| offer).await }
            })
            .buffer_unordered(16)
            .collect::<Vec<_>>()
            .await;
        for r in results {
            match r {
                Ok(_) => peers_connected += 1,
                Err(e) => tracing::warn!(error = %e, "an echo peer did not connect"),
            }
        }
    } else {
        let (user, pass) = opts
            .watcher
            .split_once(':')
            .ok_or_else(|| anyhow!("--watcher user:password"))?;
        let watcher = api.login(user, pass).await?;
        let ws_url = format!(
            "{}/api/v1/events?token={watcher}",
            api.base.replacen("http", "ws", 1)
        );
        let (ws, _) = tokio_tungstenite::connect_async(ws_url).await?;
        // Agents log in and get ready.
        let names: Vec<String> = (1..=opts.calls)
            .map(|i| format!("{}{i}", opts.agent_prefix))
            .collect();
        let tokens: Vec<Result<(String, String)>> = futures::stream::iter(names)
            .map(|name| {
                let api = api.clone();
                let pass = opts.password.clone();
                async move {
                    let t = api.login(&name, &pass).await?;
                    api.send(
                        reqwest::Method::PUT,
                        &format!("/api/v1/agents/{name}/status"),
                        Some(&t),
                        Some(json!({"status": "ready"})),
                    )
                    .await?;
                    Ok((name, t))
                }
            })
            .buffer_unordered(8)
            .collect()
            .await;
        let agents: std::collections::HashMap<String, String> =
            tokens.into_iter().collect::<Result<_>>()?;
        // Offers are accepted by whichever agent they reach, as they come.
        let (agent_peers_tx, mut agent_peers_rx) = tokio::sync::mpsc::unbounded_channel();
        let accept = {
            let (api, peers) = (api.clone(), peers.clone());
            let agents = agents.clone();
            tokio::spawn(async move {
                let mut ws = ws;
                while let Some(Ok(msg)) = ws.next().await {
                    let Ok(text) = msg.into_text() else { continue };
                    let Ok(v) = serde_json::from_str::<Value>(&text) else {
                        continue;
                    };
                    if v["type"] != "call.offered" {
                        continue;
                    }
                    let call = v["call_id"].as_str().unwrap_or_default().to_owned();
                    let agent = v["agent"]
                        .as_str()
                        .or_else(|| v["agents"][0].as_str())
                        .unwrap_or_default()
                        .to_owned();
                    let Some(token) = agents.get(&agent).cloned() else {
                        continue;
                    };
                    let (api, tx, peers) = (api.clone(), agent_peers_tx.clone(), peers.clone());
                    tokio::spawn(async move {
                        let answered = (call.clone(), token.clone());
                        let r = async {
                            api.send(
                                reqwest::Method::POST,
                                &format!("/api/v1/calls/{call}/accept"),
                                Some(&token),
                                None,
                            )
                            .await?;
                            connect(
                                &peers,
                                &api,
                                &format!("/api/v1/calls/{call}/media"),
                                Some(&token),
                                |sdp| json!({"party": "agent", "sdp": sdp}),
                            )
                            .await
                        }
                        .await;
                        let _ = tx.send(r.map(|_| answered));
                    });
                }
            })
        };
        let results = if let Some(target) = &opts.trunk {
            sipp = Some(trunk_customers(
                sipp_dir.path(),
                target,
                &opts.did,
                opts.calls,
                &audio,
            )?);
            Vec::new()
        } else {
            futures::stream::iter(0..opts.calls)
                .map(|_| {
                    let (api, peers) = (api.clone(), peers.clone());
                    let queue = opts.queue.clone();
                    async move {
                        connect(
                            &peers,
                            &api,
                            "/api/v1/web-calls",
                            None,
                            |sdp| json!({"queue": queue, "name": "loadgen", "sdp": sdp}),
                        )
                        .await
                    }
                })
                .buffer_unordered(8)
                .collect::<Vec<_>>()
                .await
        };
        for r in results {
            match r {
                Ok(v) => {
                    customer_tokens.push((
                        v["call_id"].as_str().unwrap_or_default().to_owned(),
                        v["token"].as_str().unwrap_or_default().to_owned(),
                    ));
                    peers_connected += 1;
                }
                Err(e) => tracing::warn!(error = %e, "a customer did not connect"),
            }
        }
        // Trunk calls come at sipp's pace (25 a second): more time for them.
        let (expected, wait) = match opts.trunk {
            Some(_) => (opts.calls, 30 + opts.calls as u64 / 25),
            None => (customer_tokens.len(), 30),
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
        let mut agent_legs = 0;
        while agent_legs < expected {
            match tokio::time::timeout_at(deadline, agent_peers_rx.recv()).await {
                Ok(Some(Ok(answered))) => {
                    peers_connected += 1;
                    agent_legs += 1;
                    agent_calls.push(answered);
                }
                Ok(Some(Err(e))) => tracing::warn!(error = %e, "an agent did not connect"),
                _ => break,
            }
        }
        accept.abort();
    }
    // Peers still connecting (an accept that came too late) are left out of what is measured.
    peers.seal();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let server0 = opts.server_pid.and_then(process_ticks);
    let (before, (t0, i0), started) = (peers.counts(), cpu_ticks(), Instant::now());
    tokio::time::sleep(Duration::from_secs(opts.seconds)).await;
    let (after, (t1, i1), seconds) = (peers.counts(), cpu_ticks(), started.elapsed().as_secs_f64());
    let received = after.received - before.received;
    let lost = after.lost - before.lost;
    let late = after.late - before.late;
    let busy = (t1 - t0).saturating_sub(i1 - i0);
    let server1 = opts.server_pid.and_then(process_ticks);
    let report = LoadReport {
        calls: opts.calls,
        peers_connected,
        calls_connected: if opts.echo {
            peers_connected / 2
        } else if opts.trunk.is_some() {
            peers_connected
        } else {
            peers_connected
                .saturating_sub(customer_tokens.len())
                .min(customer_tokens.len())
        },
        packets_sent: after.sent - before.sent,
        packets_received: received,
        lost_pct: 100.0 * lost as f64 / ((received + lost) as f64).max(1.0),
        late_pct: 100.0 * late as f64 / (received as f64).max(1.0),
        cpu_pct: 100.0 * busy as f64 / ((t1 - t0) as f64).max(1.0),
        // /proc/stat's total counts every core; a process's ticks are per core used.
        server_cpu_pct: server0
            .zip(server1)
            .map(|(a, b)| 100.0 * (b - a) as f64 / ((t1 - t0) as f64).max(1.0)),
        generator_late_ticks_pct: 100.0 * (after.late_ticks - before.late_ticks) as f64
            / ((after.ticks - before.ticks) as f64).max(1.0),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        seconds,
    };
    for (call, token) in &customer_tokens {
        let _ = api
            .send(
                reqwest::Method::POST,
                &format!("/api/v1/web-calls/{call}/hangup"),
                Some(token),
                None,
            )
            .await;
    }
    if let Some(mut sipp) = sipp {
        // Each agent hangs up: sipp's customers get our BYE and sipp ends.
        futures::stream::iter(agent_calls)
            .for_each_concurrent(16, |(call, token)| {
                let api = api.clone();
                async move {
                    let path = format!("/api/v1/calls/{call}/hangup");
                    let _ = api
                        .send(reqwest::Method::POST, &path, Some(&token), None)
                        .await;
                }
            })
            .await;
        if tokio::time::timeout(Duration::from_secs(20), sipp.wait())
            .await
            .is_err()
        {
            let _ = sipp.kill().await;
        }
    }
    let _ = tokio::task::spawn_blocking(move || peers.stop()).await;
    Ok(report)
}

/// The baseline peer: `POST /echo` with an offer answers with a raw leg that sends back every
/// frame it receives.
pub fn echo_app() -> axum::Router {
    use axum::routing::post;
    axum::Router::new().route(
        "/echo",
        post(
            |axum::Json(offer): axum::Json<actors::media::RTCSessionDescription>| async move {
                let r: Result<_> = async {
                    let (leg, mut rx) = Leg::new().await?;
                    let answer = leg.answer(offer).await?;
                    let leg = Arc::new(leg);
                    tokio::spawn(async move {
                        while let Some(frame) = rx.recv().await {
                            if leg.send(&frame).await.is_err() {
                                break;
                            }
                        }
                        leg.close().await;
                    });
                    Ok(answer)
                }
                .await;
                match r {
                    Ok(a) => Ok(axum::Json(a)),
                    Err(e) => Err((axum::http::StatusCode::BAD_GATEWAY, e.to_string())),
                }
            },
        ),
    )
}

impl LoadOptions {
    /// A run against a server started with [`load_config`]: its queue, agents and admin.
    pub fn for_load_config(server: String, calls: usize, seconds: u64, echo: bool) -> Self {
        LoadOptions {
            server,
            calls,
            seconds,
            wav: None,
            queue: "load".into(),
            agent_prefix: "agent".into(),
            password: "load".into(),
            watcher: "root:load".into(),
            echo,
            codec: Codec::Pcmu,
            server_pid: None,
            trunk: None,
            did: TRUNK_DID.into(),
        }
    }
}

/// [`load_config`] with a SIP trunk on `127.0.0.1:sip_port` taking calls from this machine
/// for [`TRUNK_DID`] into the load queue.
pub fn load_config_with_trunk(calls: usize, password: &str, sip_port: u16) -> Result<String> {
    Ok(load_config(calls, password)?
        + &format!(
            "\n[sip]\nlisten = \"127.0.0.1:{sip_port}\"\n\n[[sip.trunks]]\nid = \"loadgen\"\naddresses = [\"127.0.0.1/32\"]\n\n[[sip.routes]]\nnumber = \"{TRUNK_DID}\"\nqueue = \"load\"\n"
        ))
}

/// sipp placing `calls` trunk calls to `target` for `did`, 25 a second, with `audio` as what
/// each customer says (in `dir`, which must outlive it).
fn trunk_customers(
    dir: &std::path::Path,
    target: &str,
    did: &str,
    calls: usize,
    audio: &[i16],
) -> Result<tokio::process::Child> {
    let scenario = dir.join("trunk.xml");
    let xml = crate::sipp::caller::talks_until_our_bye("+1555[call_number]", "voice.ulaw");
    std::fs::write(&scenario, xml)?;
    std::fs::write(
        dir.join("voice.ulaw"),
        actors::media::g711::encode_frame(audio),
    )?;
    let n = calls.to_string();
    tokio::process::Command::new("sipp")
        .arg("-sf")
        .arg(&scenario)
        .args(["-i", "127.0.0.1", "-mi", "127.0.0.1", "-p", "0", "-t", "u1"])
        .args(["-s", did, "-r", "25", "-m", &n, "-l", &n, "-nostdin"])
        .arg(target)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting sipp (Debian's sip-tester) for the trunk customers")
}

/// A configuration for a load run: queue `load` open to web calls, agents `agent1`…`agentN`
/// with their users, and an admin `root`, every password `password` (hashed once here, so a
/// big setup starts fast). Not a demo: it may listen beyond loopback.
pub fn load_config(calls: usize, password: &str) -> Result<String> {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    let hash = argon2::Argon2::default()
        .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
        .map_err(|e| anyhow!("hashing: {e}"))?
        .to_string();
    let mut c = String::from(
        "[[queues]]\nid = \"load\"\nname = \"Load\"\nweb_calls = true\nweb_calls_max_waiting = 100000\nstrategy = \"longest-idle\"\n\n",
    );
    for i in 1..=calls {
        c.push_str(&format!(
            "[[agents]]\nid = \"agent{i}\"\nqueues = [\"load\"]\n\n[[users]]\nusername = \"agent{i}\"\npassword_hash = \"{hash}\"\nrole = \"agent\"\nagent = \"agent{i}\"\n\n"
        ));
    }
    c.push_str(&format!(
        "[[users]]\nusername = \"root\"\npassword_hash = \"{hash}\"\nrole = \"admin\"\n"
    ));
    // Every agent logs in, and every customer calls, from the load generator's one address.
    c.push_str(
        "\n[security]\nlogins_per_minute_per_address = 1000000\nlogin_queue = 10000\n\
         web_calls_per_minute_per_address = 1000000\n",
    );
    Ok(c)
}
