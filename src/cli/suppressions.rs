//! `senderscope suppressions export [-c FILE] [--format json|csv]`: print the suppression list
//! (docs/bounces.md, "Suppressions") from the state database named by the configuration, so a
//! sending application can load it without the HTTP API.

use std::path::PathBuf;

use anyhow::Context;

use crate::config;
use crate::events::store::EventStore;
use crate::events::suppress::to_csv;

/// Arguments of `suppressions export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Configuration file (default: the same search as `serve`).
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    pub format: Format,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// RFC 4180 CSV with a header line.
    Csv,
    /// `{"suppressions": [...]}`.
    Json,
}

/// Print the list; exit 0.
pub fn run(args: ExportArgs) -> anyhow::Result<u8> {
    let config = config::load(&super::source(args.config))?;
    let path = &config.state.path;
    anyhow::ensure!(
        path.exists(),
        "no state database at {} (state.path): nothing has been suppressed yet",
        path.display()
    );
    let store = EventStore::open(path)
        .with_context(|| format!("opening the state database {}", path.display()))?;
    let list = store
        .suppressions()
        .context("reading the suppression list")?;
    match args.format {
        Format::Csv => print!("{}", to_csv(&list)),
        Format::Json => println!("{}", serde_json::json!({ "suppressions": list })),
    }
    Ok(0)
}
