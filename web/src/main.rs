//! `switchyard`: wires the command line to the library. Everything else lives in `web`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    web::cli::start().await
}
