//! `switchyard`: wires the command line to the library. Everything else lives in `web`.

/// mimalloc instead of glibc's malloc: in the routing benchmark glibc's allocator took a third
/// of the time and slowed down as the heap grew with the backlog (8,000 calls routed/s at
/// 5,000 waiting per queue against 11,000 at 500); with mimalloc 14,800 against 17,400–18,000.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    web::cli::start().await
}
