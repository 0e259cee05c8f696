//! Logs through `tracing`: human-readable lines by default, one JSON object per line for log shippers
//! (`--log-format json`). The level comes from `RUST_LOG` (default `info`). Logs go to stderr, which
//! systemd's journal captures.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Readable lines (colours only on a terminal).
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// The hickory crates whose log lines are never written (see [`init`]).
const HICKORY_TARGETS: [&str; 3] = ["hickory_net", "hickory_proto", "hickory_resolver"];

/// Install the global subscriber. Returns an error if one is already installed (tests).
pub fn init(format: LogFormat) -> anyhow::Result<()> {
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // hickory logs query names (debug: every query; error: rejected answers), and a Spamhaus DQS
    // query name carries the key, which must never reach a log. Our DNS layer reports every
    // failure with its meaning, so hickory's own lines are off whatever RUST_LOG says.
    for target in HICKORY_TARGETS {
        filter = filter.add_directive(format!("{target}=off").parse()?);
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Human => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
    installed.map_err(|e| anyhow::anyhow!("installing the log subscriber: {e}"))?;
    // Panics (a job's is caught and counted by the scheduler) go through the log too, so a JSON log
    // stays JSON and the message reaches the journal with its fields.
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        tracing::error!(thread = thread.name().unwrap_or("unnamed"), panic = %info, "panic");
    }));
    Ok(())
}
