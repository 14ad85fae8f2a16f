//! `switchyard`: wires the command line to the library. Everything else lives in `web`.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    web::cli::run(web::cli::Cli::parse()).await
}
