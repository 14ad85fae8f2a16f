//! An event hook (`cargo run -p actors --example slack_like_hook`): `[[hooks]]` posts events,
//! signed, through the durable outbox to a local receiver that makes chat lines of them.
use actors::{config::Config, store::Store, Switchyard};
use cti_adapter::connector::verify;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Takes one POST: its signature checked, its event as a chat line.
async fn receive(listener: &tokio::net::TcpListener) -> anyhow::Result<String> {
    let (mut socket, _) = listener.accept().await?;
    let (mut text, mut buf) = (String::new(), [0u8; 8192]);
    let body = loop {
        let n = socket.read(&mut buf).await?;
        anyhow::ensure!(n > 0, "closed before a whole request");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            continue;
        };
        let header = |h: &str| head.lines().find_map(|l| l.strip_prefix(h)).unwrap_or("0");
        if body.len() >= header("content-length: ").parse()? {
            let sig = header("x-switchyard-signature: ");
            let ts = header("x-switchyard-timestamp: ").parse()?;
            assert!(verify("s3cret", ts, body.as_bytes(), sig), "signed");
            break body.to_owned();
        }
    };
    let ok = b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
    socket.write_all(ok).await?;
    let e: serde_json::Value = serde_json::from_str(&body)?;
    Ok(format!(":phone: {} {}", e["from"], e["type"]))
}

const CONFIG: &str = r#"queues = [{ id = "support" }]
hooks = [{ name = "chat", secret = "s3cret", url = "http://ADDR/hook", events = ["call.created", "call.ended"] }]"#;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let config = CONFIG.replace("ADDR", &listener.local_addr()?.to_string());
    let yard = Switchyard::start(Config::from_toml(&config)?, Store::memory()).await?;
    let call = yard.create_call("+3225550001".into(), "support", 0, Default::default());
    let id = call.await?.id().to_string();
    yard.hangup(&id, engine::call::Party::Customer).await?;
    let (mut lines, wait) = (Vec::new(), std::time::Duration::from_secs(10));
    while lines.len() < 2 {
        // (A connection the client gave up on is no message: the next one is taken.)
        if let Ok(line) = tokio::time::timeout(wait, receive(&listener)).await? {
            lines.push(line);
        }
    }
    println!("{}", lines.join("\n"));
    assert!(lines[0].ends_with("\"call.created\"") && lines[1].ends_with("\"call.ended\""));
    Ok(())
}

#[test]
fn slack_like_hook_hears_the_call_begin_and_end() {
    main().expect("the example runs")
}
