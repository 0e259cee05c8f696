//! The command line (clap): raw arguments parsed into typed ones, each subcommand in its own file
//! with one entry point returning the process exit code. `main` chooses how errors print.
//!
//! - `serve [-c FILE] [--log-format human|json]`: run the daemon ([`serve`]).
//! - `ingest FILE|DIR… [-c FILE] [--dry-run] [--format text|json]`: read reports into the store
//!   ([`ingest`]).
//! - `report enforcement DOMAIN [-c FILE] [--window 30d] [--format text|json] [--no-resolve]`:
//!   enforcement readiness from the stored DMARC aggregate reports ([`report`]).
//! - `config validate [-c FILE]`: exit 0 when the file is valid, 1 with every problem on stderr
//!   ([`validate`]).
//! - `suppressions export [-c FILE] [--format csv|json]`: print the suppression list
//!   ([`suppressions`]).
//! - `alerts test [-c FILE]`: one test alert through every notifier ([`alerts`]).
//! - `check DOMAIN… [--ip IP]… [--dkim-selector SEL]… [--nameserver HOST:PORT]… [--blocklist ZONE]…
//!   [--format text|json]`: one-shot posture (and blocklist) checks, no daemon, no store; exit 0 OK,
//!   1 WARNING, 2 CRITICAL, 3 UNKNOWN ([`check`]).

pub mod alerts;
pub mod check;
pub mod ingest;
pub mod report;
pub mod serve;
pub mod suppressions;
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
    /// One-shot DNS posture checks of domains and sending IPs, and blocklists with --blocklist (no
    /// daemon, no store).
    Check(check::CheckArgs),
    /// Read DMARC aggregate, TLS and failure reports from files into the store.
    Ingest(ingest::IngestArgs),
    /// What the stored DMARC aggregate reports say about a domain.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Work with the configuration file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The suppression list (addresses to stop mailing).
    #[command(subcommand)]
    Suppressions(SuppressionsCommand),
    /// Work with the alert notifiers.
    #[command(subcommand)]
    Alerts(AlertsCommand),
}

/// `senderscope report …`.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Whether a domain is ready for p=quarantine or p=reject, and what to fix first.
    Enforcement(report::EnforcementArgs),
}

/// `senderscope suppressions …`.
#[derive(Debug, Subcommand)]
pub enum SuppressionsCommand {
    /// Print the suppression list as CSV (default) or JSON.
    Export(suppressions::ExportArgs),
}

/// `senderscope alerts …`.
#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Send one test alert through every configured notifier and print what each answered.
    Test(alerts::TestArgs),
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
        // A check that could not run is UNKNOWN (3), as the monitoring-plugin convention asks.
        Command::Check(args) => check::run(args).await.or_else(|e| {
            eprintln!("senderscope: {e:#}");
            Ok(check::USAGE_ERROR)
        }),
        Command::Ingest(args) => ingest::run(args).await,
        Command::Report(ReportCommand::Enforcement(args)) => report::enforcement(args).await,
        Command::Config(ConfigCommand::Validate(args)) => Ok(validate::run(args)),
        Command::Suppressions(SuppressionsCommand::Export(args)) => suppressions::run(args),
        Command::Alerts(AlertsCommand::Test(args)) => alerts::test(args).await,
    }
}

/// `-c FILE` if given, else the default search ($SENDERSCOPE_CONFIG, ./config/senderscope.yaml,
/// /etc/senderscope/senderscope.yaml, the embedded default).
fn source(config: Option<PathBuf>) -> ConfigSource {
    config.map_or_else(default_source, ConfigSource::File)
}

/// The exit code for a command line clap refused: 0 for `--help`/`--version`, [`check::USAGE_ERROR`]
/// (3, UNKNOWN) when the subcommand is `check` (monitoring plugins must not exit 2 = CRITICAL for a
/// typo), clap's own code (2) otherwise.
pub fn usage_exit_code(err: &clap::Error, args: &[std::ffi::OsString]) -> u8 {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        return 0;
    }
    // There are no global options, so the first argument is the subcommand.
    if args.get(1).is_some_and(|a| a == "check") {
        return check::USAGE_ERROR;
    }
    u8::try_from(err.exit_code()).unwrap_or(2)
}
