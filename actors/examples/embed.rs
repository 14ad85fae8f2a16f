//! Switchyard embedded in a Rust program (`cargo run -p actors --example embed`): its own
//! configuration, the engine on a SQLite file, and a call driven end to end through the same
//! API the web layer calls, without HTTP: it waits, rings alice, is answered, and hung up.
use actors::{config::Config, store::Store, Switchyard};
use engine::{agent::Status, call::CallResult, call::Party};

const CONFIG: &str = r#"
queues = [{ id = "support", offer_timeout_secs = 20 }]
agents = [{ id = "alice", queues = ["support"] }]
"#;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("calls.db").display()
    );
    let yard = Switchyard::builder(Config::from_toml(CONFIG)?)
        .store(Store::connect(&url).await?)
        .start()
        .await?;
    let mut events = yard.subscribe();
    let call = yard
        .create_call("+3225550001".into(), "support", 0, Default::default())
        .await?;
    let id = call.id().as_str();
    yard.set_status("alice", Some(Status::Ready), None).await?;
    loop {
        let next = tokio::time::timeout(std::time::Duration::from_secs(10), events.recv());
        let e = next.await??.to_json();
        println!("event: {} {}", e["type"], e["agent"]);
        if e["type"] == "call.offered" && e["call_id"] == id {
            break;
        }
    }
    yard.accept(id, "alice").await?;
    let ended = yard.hangup(id, Party::Customer).await?;
    println!("call {id}: {:?}", ended.result());
    assert_eq!(ended.result(), Some(CallResult::Answered));
    let alice = yard.agent("alice").await?;
    assert_eq!(alice.status, Status::AfterService, "alice wraps up");
    yard.shutdown().await;
    // The call was kept: a new engine on the same file reads it back.
    let again = Switchyard::builder(Config::from_toml(CONFIG)?)
        .store(Store::connect(&url).await?)
        .start()
        .await?;
    assert_eq!(again.call(id).await?.result(), Some(CallResult::Answered));
    Ok(())
}

#[test]
fn embed_drives_a_call_end_to_end() {
    main().expect("the example runs")
}
