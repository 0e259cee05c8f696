//! TEMPORARY command line for the h-posture branch: only `check`, so the binary can be tested end to end.
//! The runtime engineer's real `cli` (serve, ingest, config validate) replaces this file at merge; it
//! keeps `pub mod check;` and dispatches `Command::Check(args)` to [`check::run`].

pub mod check;

/// senderscope: deliverability diagnostics.
#[derive(Debug, clap::Parser)]
#[command(name = "senderscope", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// One-shot DNS posture checks of domains and sending IPs (no daemon, no store).
    Check(check::CheckArgs),
}

/// Run a parsed command line and return the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Check(args) => check::run(args).await,
    }
}

/// The exit code for a command line clap refused: 0 for `--help`/`--version`, [`check::USAGE_ERROR`]
/// (3, UNKNOWN) when the subcommand is `check`, clap's own code otherwise.
pub fn usage_exit_code(err: &clap::Error, args: &[std::ffi::OsString]) -> u8 {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        return 0;
    }
    // This temporary CLI has no global options, so the first argument is the subcommand.
    if args.get(1).is_some_and(|a| a == "check") {
        return check::USAGE_ERROR;
    }
    u8::try_from(err.exit_code()).unwrap_or(2)
}
