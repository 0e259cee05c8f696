//! `senderscope serve`: run the daemon until SIGTERM/SIGINT.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::logging::{self, LogFormat};

/// Arguments of `serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Configuration file (default: $SENDERSCOPE_CONFIG, ./config/senderscope.yaml,
    /// /etc/senderscope/senderscope.yaml, else the built-in default).
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log line format.
    #[arg(long, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
}

/// Run the daemon; exit code 0 after a graceful stop.
pub async fn run(args: ServeArgs) -> anyhow::Result<u8> {
    logging::init(args.log_format)?;
    crate::daemon::run(super::source(args.config))
        .await
        .context("senderscope serve")?;
    Ok(0)
}
