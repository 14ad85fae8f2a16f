//! The `switchyard` command line. `serve` runs the whole contact center: the engine's actors,
//! the store, and the HTTP API.

use crate::{auth::Users, AppState};
use actors::config::Config;
use actors::store::Store;
use actors::Switchyard;
use anyhow::{bail, Context as _};
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Switchyard: a self-hostable contact-center engine.
#[derive(Parser, Debug)]
#[command(name = "switchyard", version)]
pub struct Cli {
    /// Logs on stderr: `text` for people, `json` (one object a line, with the event's fields
    /// such as `call`) for log collectors.
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How logs are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line.
    Json,
}

/// What an acknowledged write must survive (`--durability`): how a SQLite database commits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DurabilityArg {
    /// A power cut or an OS crash too: every commit is on the disk before it is acknowledged
    /// (SQLite `synchronous=FULL`).
    PowerLoss,
    /// A kill or crash of the process; a power cut may lose the last commits (SQLite
    /// `synchronous=NORMAL`): cheaper commits.
    ProcessCrash,
}

/// What `serve` is given.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Database: `sqlite://path` (created if missing) or `postgres://…`.
    #[arg(
        long,
        default_value = "sqlite://switchyard.db",
        env = "SWITCHYARD_DATABASE_URL"
    )]
    pub database_url: String,
    /// What an acknowledged write survives, for a SQLite database (PostgreSQL follows its
    /// server's `synchronous_commit`).
    #[arg(
        long,
        value_enum,
        default_value = "power-loss",
        env = "SWITCHYARD_DURABILITY"
    )]
    pub durability: DurabilityArg,
    /// Configuration file (TOML); without it, the embedded demo setup (loopback only).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Folder for call recordings (`<call id>.wav`).
    #[arg(long, default_value = "recordings")]
    pub recordings_dir: PathBuf,
    /// A whisper.cpp ggml model file for live transcripts (overrides the configuration's
    /// `[transcription] model`); `none` turns transcription off. `./serve.sh` passes the
    /// tiny.en model it imports (`models/ggml-tiny.en.bin`).
    #[arg(long, env = "SWITCHYARD_WHISPER_MODEL")]
    pub whisper_model: Option<PathBuf>,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the contact center.
    Serve(ServeArgs),
    /// Whisper model files: import a CTranslate2 (faster-whisper) model, check a ggml file.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Writes a whisper ggml model with random weights, for tests and benchmarks: `tiny.en`
    /// has the real tiny.en's shape (and compute cost), `smallest` is the smallest that decodes.
    WhisperTestModel {
        /// `tiny.en` or `smallest`.
        #[arg(long, default_value = "smallest")]
        shape: String,
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
        /// Seed of the weights.
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
}

/// `switchyard model …`.
#[derive(Subcommand, Debug)]
pub enum ModelCommand {
    /// Converts a CTranslate2 Whisper model folder (`model.bin`, `vocabulary.txt`; any size,
    /// English-only or multilingual, f16/f32/int8 storage) to a whisper.cpp ggml file. Nothing
    /// is written at `--out` unless the whole conversion succeeds.
    Import {
        /// The CTranslate2 model folder.
        dir: PathBuf,
        /// The ggml file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Checks a ggml model file the way whisper.cpp reads it, loads it, and prints its shape.
    Check {
        /// The ggml model file.
        file: PathBuf,
    },
}

/// Runs `switchyard model …`; prints one JSON line.
fn model_command(command: ModelCommand) -> anyhow::Result<()> {
    match command {
        ModelCommand::Import { dir, out } => {
            let imported = transcription::import::import(&dir, &out)?;
            println!(
                "{}",
                serde_json::json!({
                    "out": out,
                    "model": imported.shape.name(),
                    "shape": imported.shape,
                    "source_type": imported.source_type,
                    "bytes": imported.bytes,
                })
            );
        }
        ModelCommand::Check { file } => {
            let bytes = std::fs::metadata(&file)
                .with_context(|| format!("{}", file.display()))?
                .len();
            let model = transcription::whisper::Model::load(&file)?;
            let shape = model.shape();
            println!(
                "{}",
                serde_json::json!({
                    "file": file,
                    "model": shape.name(),
                    "english_only": shape.english_only(),
                    "shape": shape,
                    "bytes": bytes,
                })
            );
        }
    }
    Ok(())
}

/// The whole program: logging, arguments, then [`run`].
pub async fn start() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Logs go to stderr: stdout carries only what a user reads (where to connect and log in).
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                // The WebRTC stack narrates every connection at info, and the SIP stack every
                // message it sends or receives: keep their warnings.
                "info,sqlx=warn,rtc=error,rtc_ice=error,rtc_dtls=error,rtc_sctp=error,webrtc=warn,rsipstack=warn"
                    .into()
            }),
        );
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    run(cli).await
}

/// Runs a parsed command until ctrl-c or SIGTERM.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let ServeArgs {
        listen,
        database_url,
        durability,
        config,
        recordings_dir,
        whisper_model,
    } = match cli.command {
        Command::Serve(args) => args,
        Command::WhisperTestModel { shape, out, seed } => {
            let Some(s) = transcription::ggml::Shape::by_name(&shape) else {
                bail!("--shape {shape}: give tiny.en or smallest");
            };
            transcription::ggml::write_model_file(&out, &s, seed)
                .with_context(|| format!("writing {}", out.display()))?;
            println!("{}", out.display());
            return Ok(());
        }
        Command::Model(command) => return model_command(command),
    };
    let mut config = match &config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Config::from_toml(&text).with_context(|| format!("in {}", path.display()))?
        }
        None => Config::demo(),
    };
    let demo = config.is_demo();
    match whisper_model {
        Some(model) if model.as_os_str() == "none" => config.transcription.model = None,
        Some(model) => config.transcription.model = Some(model),
        None => {}
    }
    if demo && !listen.ip().is_loopback() {
        bail!("the demo setup (every password is `demo`) serves only on loopback; give --config with your own users to listen on {listen}");
    }
    let users = Users::from_config(&config).map_err(anyhow::Error::msg)?;
    let durability = match durability {
        DurabilityArg::PowerLoss => actors::store::Durability::PowerLoss,
        DurabilityArg::ProcessCrash => actors::store::Durability::ProcessCrash,
    };
    let store = Store::connect_with(&sqlite_create_mode(&database_url), durability)
        .await
        .with_context(|| format!("opening {database_url}"))?;
    let options = actors::StartOptions {
        recordings_dir: Some(recordings_dir),
        ..Default::default()
    };
    let sip_config = config.sip.clone();
    let yard = Switchyard::builder(config)
        .store(store)
        .options(options)
        .start()
        .await
        .context("starting the engine")?;
    let trunks = sip::Trunks::start(yard.clone(), &sip_config)
        .await
        .map_err(anyhow::Error::msg)?;
    if let Some(t) = &trunks {
        println!("SIP trunks on udp/tcp {}", t.local_addr());
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let addr = listener.local_addr()?;
    tracing::info!(address = %addr, demo, "serving");
    println!("Switchyard listening on http://{addr} (API: http://{addr}/api/v1/openapi.json)");
    if demo {
        println!("Demo setup: log in with POST http://{addr}/api/v1/sessions {{\"username\":\"alice\",\"password\":\"demo\"}}");
        println!(
            "  agents alice, bob, carol; supervisor sam; admin root — every password is `demo`"
        );
    }
    let state = AppState {
        yard: yard.clone(),
        users,
        web_calls: Default::default(),
        metrics: Default::default(),
        idempotency: Default::default(),
    };
    state.metrics.follow(&yard);
    crate::serve(listener, state, shutdown_signal()).await?;
    if let Some(t) = trunks {
        t.stop().await;
    }
    yard.shutdown().await;
    Ok(())
}

/// `sqlite://file` URLs get `mode=rwc` so the file is created on first run.
fn sqlite_create_mode(url: &str) -> String {
    if url.starts_with("sqlite:") && !url.contains("mode=") && !url.contains(":memory:") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}mode=rwc")
    } else {
        url.to_owned()
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sqlite_urls_create_their_file() {
        assert_eq!(
            super::sqlite_create_mode("sqlite://x.db"),
            "sqlite://x.db?mode=rwc"
        );
        assert_eq!(
            super::sqlite_create_mode("sqlite://x.db?mode=ro"),
            "sqlite://x.db?mode=ro"
        );
        assert_eq!(
            super::sqlite_create_mode("postgres://h/db"),
            "postgres://h/db"
        );
    }
}
