//! senderscope: deliverability diagnostics for teams sending email at volume.
//!
//! - [`findings`]: severities, stable finding codes, check reports.
//! - [`dns`]: the one DNS layer (nameservers, timeouts, cache per round, error taxonomy).
//! - [`blocklists`]: DNSBL monitoring of sending IPs and domains (catalogue, decoding, zone health).

pub mod blocklists;
pub mod checks;
pub mod config;
pub mod dns;
pub mod findings;
