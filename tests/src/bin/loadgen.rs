//! The load generator, test equipment kept out of the product: `loadgen calls` runs N web
//! calls (a customer's and an agent's WebRTC peer each) against a running server and prints
//! what the peers received as JSON; `loadgen media-echo` is the benchmark's baseline peer (raw
//! WebRTC legs that send back what they receive; `--core` on webrtc-rs's sans-IO core).

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use tests::loadgen::{core_echo_app, echo_app, run, CoreEcho, LoadOptions};

#[derive(Parser)]
#[command(name = "loadgen", about = "Switchyard's load generator")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Media load: N web calls against a running server, each a customer WebRTC peer and the
    /// agent's peer sending a WAV in a loop; prints packets, loss, late packets and CPU (JSON).
    Calls(LoadOptions),
    /// The media benchmark's baseline: raw WebRTC legs that send back what they receive.
    MediaEcho {
        /// Address to listen on (`POST /echo` with an offer).
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: SocketAddr,
        /// Legs on webrtc-rs's sans-IO core, all driven by one thread, instead of the async
        /// layer's peer connections: the core's own limit.
        #[arg(long)]
        core: bool,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Calls(options) => {
            let report = run(&options).await?;
            println!("{}", serde_json::to_string(&report)?);
        }
        Command::MediaEcho { listen, core } => {
            let app = if core {
                core_echo_app(CoreEcho::start()?)
            } else {
                echo_app()
            };
            let listener = tokio::net::TcpListener::bind(listen).await?;
            println!("media-echo listening on http://{}", listener.local_addr()?);
            axum::serve(listener, app).await?;
        }
    }
    Ok(())
}
