//! The `switchyard` program, built inside this crate so that its scenario tests can start and
//! kill it as a process (`CARGO_BIN_EXE_*` exists only for a crate's own binaries). It is the
//! same entry point as `web`'s binary.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    web::cli::start().await
}
