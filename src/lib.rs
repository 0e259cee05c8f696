//! senderscope: deliverability diagnostics for teams sending email at volume. How the parts fit:
//! docs/architecture.md.
//!
//! - [`findings`]: severities, stable finding codes, check reports.
//! - [`dns`]: the one DNS layer (nameservers, timeouts, cache per round, error taxonomy).
//! - [`blocklists`]: DNSBL monitoring of sending IPs and domains (catalogue, decoding, zone health).
//! - [`posture`]: every check of a domain and its sending IPs together, the bulk-sender summary.
//! - [`checks`]: the DNS posture checks (SPF, DKIM, DMARC, MX, PTR, MTA-STS, TLS-RPT, BIMI).
//! - [`config`]: YAML config read, validated with positions, reloaded through one task.
//! - [`cli`]: the subcommands (`serve`, `check`, `config validate`); [`daemon`] wires the long-running tasks.
//! - [`ingest`]: DMARC aggregate, TLS-RPT and failure reports: sniff, decode, parse, store.
//! - [`analysis`]: what the reports say: source enrichment, pass rates, enforcement readiness,
//!   DKIM selectors seen.
//! - [`results`]: what happens to a result: record history, the store commit, the latest state.
//! - [`store`]: the state store (`Store` trait, SQLite implementation, migrations).
//! - [`views`]: the status roll-ups people read, built from the latest state (no HTTP here).
//! - [`metrics`]: every metric family (state families built at scrape time); [`http`]: the router
//!   (API, `/metrics`, auth, errors).
//! - [`events`]: bounces, complaints and deliveries: parsing, classification, rates, webhooks.
//! - [`alerts`]: alert rules, their lifecycle in the store, Alertmanager and webhook notifiers.
//! - [`scheduler`]: jobs on intervals with jitter, bounded concurrency and timeouts; [`logging`]: tracing setup.

pub mod alerts;
pub mod analysis;
pub mod blocklists;
pub mod checks;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod dns;
pub mod events;
pub mod findings;
pub mod http;
pub mod ingest;
pub mod logging;
pub mod mail;
pub mod metrics;
pub mod posture;
pub mod results;
pub mod scheduler;
pub mod store;
pub mod views;
