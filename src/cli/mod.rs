//! The command line (clap): raw arguments parsed into typed ones, each subcommand in its own file
//! with one entry point returning the process exit code. `main` chooses how errors print.
//!
//! - `serve [-c FILE] [--log-format human|json]`: run the daemon ([`serve`]).
//! - `config validate [-c FILE]`: exit 0 when the file is valid, 1 with every problem on stderr
//!   ([`validate`]).
//! - `check` arrives with `src/cli/check.rs` (`Check(check::CheckArgs)` below, `check::run` in [`run`]).

pub mod serve;
pub mod validate;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{ConfigSource, default_source};

/// senderscope: deliverability diagnostics for teams sending email at volume.
#[derive(Debug, Parser)]
#[command(name = "senderscope", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: scheduled checks, HTTP API and /metrics.
    Serve(serve::ServeArgs),
    /// Work with the configuration file.
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// `senderscope config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check a configuration file; print every problem as file:line:column: key: message.
    Validate(validate::ValidateArgs),
}

/// Run a parsed command line; returns the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Config(ConfigCommand::Validate(args)) => Ok(validate::run(args)),
    }
}

/// `-c FILE` if given, else the default search ($SENDERSCOPE_CONFIG, ./config/senderscope.yaml,
/// /etc/senderscope/senderscope.yaml, the embedded default).
fn source(config: Option<PathBuf>) -> ConfigSource {
    config.map_or_else(default_source, ConfigSource::File)
}
