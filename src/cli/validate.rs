//! `senderscope config validate`: load and validate a configuration file without starting anything.

use std::path::PathBuf;

use crate::config::{self, ConfigSource};

/// Arguments of `config validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Configuration file (default: the same search as `serve`).
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Exit 0 when valid (a one-line summary on stdout), 1 when not (every problem on stderr, one per
/// line, exactly as the loader words them).
pub fn run(args: ValidateArgs) -> u8 {
    let source = super::source(args.config);
    let origin = match &source {
        ConfigSource::File(p) => p.display().to_string(),
        ConfigSource::Embedded => "the built-in default configuration".to_owned(),
    };
    match config::load(&source) {
        Ok(c) => {
            println!("{origin}: valid ({} domains)", c.domains.len());
            0
        }
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}
