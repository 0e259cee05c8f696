//! The validated, runtime configuration: what the rest of the daemon sees. Built from the raw serde
//! structs by `validate.rs`; every field here is already checked and typed.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

use super::secret::Secret;
use crate::dns::DnsSettings;

/// The whole configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The HTTP server.
    pub server: ServerSettings,
    /// Where state lives.
    pub state: StateSettings,
    /// How DNS is reached.
    pub dns: DnsSettings,
    /// How often things run.
    pub schedule: ScheduleSettings,
    /// The sending domains (and their IPs) to watch.
    pub domains: Vec<DomainSettings>,
    /// Which blocklists to query.
    pub blocklists: BlocklistSettings,
    /// Bounces, complaints and deliveries (docs/bounces.md).
    pub events: crate::events::settings::EventSettings,
    /// Alert rules and notifiers (docs/alerts.md).
    pub alerts: crate::alerts::AlertSettings,
    /// How reports are taken in.
    pub ingest: IngestSettings,
}

/// `ingest:` (docs/ingest.md).
#[derive(Debug, Clone, PartialEq)]
pub struct IngestSettings {
    /// Bounds on every input.
    pub limits: crate::ingest::Limits,
    /// A watched directory, if any.
    pub directory: Option<IngestDirectory>,
    /// An IMAP mailbox, if any.
    pub imap: Option<crate::ingest::sources::imap::settings::ImapSettings>,
    /// Known senders: the shipped config/senders.yaml plus `ingest.senders_file`.
    pub senders: crate::analysis::senders::SenderMap,
}

/// `ingest.directory`: files dropped here are ingested, then moved to `processed/` or `failed/`
/// beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestDirectory {
    /// The directory watched.
    pub path: PathBuf,
    /// A file is read once its size has not changed for this long (or at once after a rename in).
    pub settle: Duration,
}

/// `server:`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSettings {
    /// Address to listen on (default 127.0.0.1:9797).
    pub listen: SocketAddr,
    /// Bearer token for write endpoints, read from `api_token_file` (or `SENDERSCOPE_API_TOKEN`).
    /// `None` turns write endpoints off.
    pub api_token: Option<Secret>,
    /// Largest request body accepted (bytes).
    pub max_body_bytes: usize,
    /// Requests taking longer are answered 408.
    pub request_timeout: Duration,
    /// Connections open at once; more are closed as soon as they are accepted.
    pub max_connections: usize,
    /// A connection that has not sent a whole request head within this is closed (slow clients,
    /// and keep-alive connections waiting for their next request).
    pub header_read_timeout: Duration,
    /// A connection on which nothing is read or written for this long is closed.
    pub idle_timeout: Duration,
}

/// `state:`.
#[derive(Debug, Clone, PartialEq)]
pub struct StateSettings {
    /// SQLite database file.
    pub path: PathBuf,
    /// How long history is kept.
    pub retention: Duration,
}

/// `schedule:`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleSettings {
    /// Interval between DNS posture check rounds.
    pub checks: Duration,
    /// Interval between blocklist rounds.
    pub blocklists: Duration,
    /// Fraction of the interval (0.0..=0.5) by which each run is randomly shifted.
    pub jitter: f64,
    /// At most this many jobs run at once.
    pub concurrency: NonZeroUsize,
    /// A job running longer is cancelled and counted as timed out.
    pub job_timeout: Duration,
}

/// One entry of `domains:`.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainSettings {
    /// The sending domain.
    pub name: DomainName,
    /// DKIM selectors to check (selectors cannot be discovered through DNS).
    pub dkim_selectors: Vec<String>,
    /// Sending IPs and ranges (PTR/FCrDNS, SPF authorization, blocklists).
    pub sending_ips: Vec<IpNet>,
}

/// `blocklists:`.
#[derive(Debug, Clone, PartialEq)]
pub struct BlocklistSettings {
    /// Query the built-in default set.
    pub defaults: bool,
    /// Opt-in catalogue zones to add (e.g. `b.barracudacentral.org`, which needs a registered resolver).
    pub enable: Vec<String>,
    /// Default zones to leave out.
    pub disable: Vec<String>,
    /// Zones not in the catalogue.
    pub extra: Vec<ExtraZone>,
    /// Spamhaus Data Query Service key (from `spamhaus_dqs_key_file` or `SENDERSCOPE_SPAMHAUS_DQS_KEY`).
    pub spamhaus_dqs_key: Option<Secret>,
    /// A configured range is expanded to at most this many addresses (the rest raise a finding).
    pub max_range_addresses: usize,
}

/// What a blocklist zone lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneKind {
    /// IPv4 addresses only.
    Ipv4,
    /// IPv4 and IPv6 addresses.
    Ip,
    /// Domain names (RHSBL / URI lists).
    Domain,
}

/// An inclusive range of answer codes, e.g. 127.0.0.2–127.0.0.11.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeRange {
    /// First code.
    pub first: Ipv4Addr,
    /// Last code (equal to `first` for a single code).
    pub last: Ipv4Addr,
}

impl CodeRange {
    /// Whether `code` falls in the range.
    pub fn contains(&self, code: Ipv4Addr) -> bool {
        self.first <= code && code <= self.last
    }
}

/// One entry of `blocklists.extra`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtraZone {
    /// The DNS zone queried (`bl.example.net`).
    pub zone: String,
    /// A human name for messages (defaults to the zone).
    pub name: String,
    /// What it lists.
    pub kind: ZoneKind,
    /// Answers that mean "listed" (empty: any 127.0.0.0/8 answer that is not a refusal).
    pub listed: Vec<CodeRange>,
    /// Answers that mean "the list refused the query" (default 127.0.0.1 and 127.255.255.0/24).
    pub refused: Vec<CodeRange>,
    /// Where to ask for removal.
    pub delist_url: Option<String>,
}

/// A validated domain name: a hostname as RFC 1123 §2.1 and RFC 952 describe it (lower-case ASCII,
/// IDNs in their A-label form, no trailing dot, labels of 1–63 letters, digits and hyphens that
/// neither start nor end with a hyphen, at most 253 bytes), and not an IP address (a name whose last
/// label is all digits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainName(String);

impl DomainName {
    /// Parse and normalize a domain name.
    pub fn parse(input: &str) -> Result<Self, String> {
        let name = input.trim_end_matches('.').to_ascii_lowercase();
        if name.is_empty() {
            return Err("a domain name cannot be empty".into());
        }
        if name.parse::<std::net::IpAddr>().is_ok()
            || name
                .rsplit('.')
                .next()
                .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(format!(
                "{input:?} is an IP address, not a domain name (its last label is all digits)"
            ));
        }
        if name.len() > 253 {
            return Err(format!("{input:?} is longer than 253 bytes"));
        }
        for label in name.split('.') {
            if label.is_empty() || label.len() > 63 {
                return Err(format!(
                    "{input:?} has an empty label or one longer than 63 bytes"
                ));
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                return Err(format!(
                    "{input:?} has characters other than letters, digits and '-' (write IDNs as xn--)"
                ));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(format!(
                    "{input:?} has a label that starts or ends with '-' (`{label}`), which a hostname cannot"
                ));
            }
        }
        Ok(DomainName(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl DomainSettings {
    /// The single addresses among `sending_ips` (ranges of one address included).
    pub fn single_ips(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.sending_ips
            .iter()
            .filter(|net| net.prefix_len() == net.max_prefix_len())
            .map(|net| net.addr())
    }
}
