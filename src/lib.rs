//! senderscope: deliverability diagnostics for teams sending email at volume.
//!
//! - [`findings`]: severities, stable finding codes, check reports.
//! - [`dns`]: the one DNS layer (nameservers, timeouts, cache per round, error taxonomy).
//! - [`blocklists`]: DNSBL monitoring of sending IPs and domains (catalogue, decoding, zone health).
//! - [`posture`]: every check of a domain and its sending IPs together, the bulk-sender summary.
//! - [`cli`]: the subcommands (`check`).

pub mod blocklists;
pub mod checks;
pub mod cli;
pub mod config;
pub mod dns;
pub mod findings;
pub mod posture;
