//! Trunk call setup (`cargo bench -p tests --bench sip_setup`): sipp calls the real program's
//! trunk port at a steady rate, and for each call the time from its INVITE to our `200 OK` is
//! read from sipp's message log (microsecond timestamps; sipp's own response-time counters
//! tick in whole milliseconds). The route answers on arrival: the call is created, stored,
//! queued, its RTP leg bound, then answered. Each call stays a second and hangs up, so about `rate` calls are up
//! at once. Prints p50, p99 and the slowest per rate, with the calls that failed.
//!
//! `SIP_BENCH_RATES` (default 10,50,100) lists the rates in calls per second;
//! `SIP_BENCH_SECONDS` (default 10) how long each rate runs. sipp, the server and this
//! program share the machine.

use tests::sipp::{caller, free_port};
use tests::{start_server, Database};

fn percentile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn config(port: u16) -> String {
    format!(
        r#"
[[queues]]
id = "support"

[[users]]
username = "root"
password = "pw-r"
role = "admin"

[sip]
listen = "127.0.0.1:{port}"

[[sip.trunks]]
id = "carrier"
addresses = ["127.0.0.1/32"]

[[sip.routes]]
number = "+3225550100"
queue = "support"
answer = "arrival"
"#
    )
}

/// Each call's INVITE → 200 OK time (ms) in sipp's message log: blocks that start with a
/// dashed line and the time of day, then whether the message was sent or received, then the
/// message. The first INVITE sent and the first 200 to it received count.
fn setup_times(log: &str) -> Vec<f64> {
    use std::collections::HashMap;
    let mut sent: HashMap<&str, f64> = HashMap::new();
    let mut times = Vec::new();
    for block in log
        .split("----------------------------------------------- ")
        .skip(1)
    {
        let mut lines = block.lines();
        let stamp = lines.next().unwrap_or_default();
        let Some(at) = stamp.split_whitespace().nth(1).and_then(seconds_of_day) else {
            continue;
        };
        let outgoing = lines.next().unwrap_or_default().contains("sent");
        let mut lines = lines.skip_while(|l| l.trim().is_empty());
        let first = lines.next().unwrap_or_default().trim();
        let header = |name: &str| {
            block
                .lines()
                .find_map(|l| l.trim().strip_prefix(name).map(str::trim))
                .unwrap_or_default()
        };
        let (call, cseq) = (header("Call-ID:"), header("CSeq:"));
        if outgoing && first.starts_with("INVITE ") {
            sent.entry(call).or_insert(at);
        } else if !outgoing && first.starts_with("SIP/2.0 200") && cseq.ends_with("INVITE") {
            if let Some(start) = sent.remove(call) {
                times.push((at - start) * 1000.0);
            }
        }
    }
    times
}

/// `HH:MM:SS.micros` in seconds.
fn seconds_of_day(t: &str) -> Option<f64> {
    let mut it = t.split(':');
    let (h, m, s) = (it.next()?, it.next()?, it.next()?);
    Some(h.parse::<f64>().ok()? * 3600.0 + m.parse::<f64>().ok()? * 60.0 + s.parse::<f64>().ok()?)
}

/// One rate: each call's INVITE → 200 OK time (ms), and how many calls failed.
async fn run(port: u16, rate: u32, seconds: u32) -> anyhow::Result<(Vec<f64>, u64)> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("setup.xml");
    std::fs::write(&file, caller::answered_on_arrival("+15550001234", 1_000))?;
    let calls = rate * seconds;
    let out = tokio::process::Command::new("sipp")
        .arg("-sf")
        .arg(&file)
        .args([
            "-i",
            "127.0.0.1",
            "-p",
            "0",
            "-s",
            "+3225550100",
            "-t",
            "u1",
        ])
        .args(["-r", &rate.to_string(), "-m", &calls.to_string()])
        .args(["-trace_msg", "-trace_stat", "-nostdin"])
        .args(["-timeout", &format!("{}s", seconds + 30)])
        .arg(format!("127.0.0.1:{port}"))
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
        .await?;
    let mut times = Vec::new();
    let mut failed = 0;
    for entry in std::fs::read_dir(dir.path())?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        if name.ends_with("_messages.log") {
            times.extend(setup_times(&text));
        } else if name.ends_with("_.csv") {
            // The statistics file: the last line's FailedCall(C) column.
            let mut lines = text.lines();
            let header: Vec<&str> = lines.next().unwrap_or_default().split(';').collect();
            let last: Vec<&str> = lines.last().unwrap_or_default().split(';').collect();
            if let Some(i) = header.iter().position(|h| *h == "FailedCall(C)") {
                failed = last.get(i).and_then(|v| v.parse().ok()).unwrap_or(0);
            }
        }
    }
    if !out.status.success() && failed == 0 {
        eprintln!("sipp: {}", String::from_utf8_lossy(&out.stderr));
        failed = u64::from(calls) - times.len() as u64;
    }
    times.sort_by(f64::total_cmp);
    Ok((times, failed))
}

fn main() -> anyhow::Result<()> {
    if !tests::sipp::present() {
        return Ok(());
    }
    let list = |name: &str, default: &str| -> Vec<u32> {
        std::env::var(name)
            .unwrap_or_else(|_| default.into())
            .split(',')
            .filter_map(|v| v.trim().parse().ok())
            .collect()
    };
    let rates = list("SIP_BENCH_RATES", "10,50,100");
    let seconds = list("SIP_BENCH_SECONDS", "10")
        .first()
        .copied()
        .unwrap_or(10);
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        println!("INVITE -> 200 OK, {seconds} s per rate, each call up 1 s (ms)");
        println!("| calls/s | calls | p50 | p99 | slowest | failed |");
        println!("| --- | --- | --- | --- | --- | --- |");
        for rate in rates {
            // A fresh program per rate: the last rate's calls do not weigh on the next.
            let port = free_port();
            let db = Database::sqlite();
            let server = start_server!(&db, Some(&config(port)))?;
            let (times, failed) = run(port, rate, seconds).await?;
            println!(
                "| {rate} | {} | {:.2} | {:.2} | {:.2} | {failed} |",
                times.len(),
                percentile(&times, 0.5),
                percentile(&times, 0.99),
                times.last().copied().unwrap_or(f64::NAN),
            );
            server.kill();
        }
        anyhow::Ok(())
    })
}
