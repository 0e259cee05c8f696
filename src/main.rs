//! TEMPORARY entry point for the h-posture branch (the runtime engineer's main.rs replaces it at merge):
//! parse the command line, run it, print errors with `{:#}`, and choose the exit code in one place.

use std::process::ExitCode;

use clap::Parser as _;
use senderscope::cli::{self, Cli};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(err) => {
            let code = cli::usage_exit_code(&err, &args);
            let _ = err.print();
            return ExitCode::from(code);
        }
    };
    match cli::run(cli).await {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("senderscope: {err:#}");
            ExitCode::from(1)
        }
    }
}
