//! The senderscope binary: parse the command line, run it, print errors with their context (`{:#}`)
//! and choose the exit code — here, in one place.

use std::process::ExitCode;

use clap::Parser;
use senderscope::cli::{self, Cli, Command};

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = cli::usage_exit_code(&e, &args);
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    // The daemon serves HTTP beside its checks: a worker per core. The one-shot commands only wait on
    // DNS and files, and one thread drives them with less scheduling work: `check` of 1,000 domains
    // took 43 % less CPU and 25 % less wall time so (benches/posture/RESULTS.md).
    let mut builder = match cli.command {
        Command::Serve(_) => tokio::runtime::Builder::new_multi_thread(),
        Command::Check(_)
        | Command::Ingest(_)
        | Command::Config(_)
        | Command::Report(_)
        | Command::Alerts(_)
        | Command::Suppressions(_) => tokio::runtime::Builder::new_current_thread(),
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("senderscope: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("senderscope: {e:#}");
            ExitCode::FAILURE
        }
    }
}
