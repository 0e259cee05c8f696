//! The senderscope binary: parse the command line, run it, print errors with their context (`{:#}`)
//! and choose the exit code — here, in one place.

use std::process::ExitCode;

use clap::Parser;
use senderscope::cli::{self, Cli};

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
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
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
