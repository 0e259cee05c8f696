//! Blocklist (DNSBL) monitoring of sending IPs and domains, with the return-code semantics right: a
//! list that refuses our resolver, a resolver that rewrites NXDOMAIN or a zone that lists everything is
//! never reported as a listing, and a lookup that failed is never reported as clean.
//!
//! - [`zones`]: the curated catalogue, as data, one source link per entry; dead lists.
//! - [`Zone`] (`zone.rs`): a zone ready to query — from the catalogue, from `blocklists.extra`, or ad hoc
//!   ([`generic_zone`]).
//! - [`select`] (`select.rs`): the configured set (defaults, enable, disable, extra; DQS when a key is set).
//! - [`ZoneArg`] (`adhoc.rs`): zones named on the command line (`check --blocklist`).
//! - `decode.rs`: every A answer of one query → one [`Listing`].
//! - [`query`] (`query.rs`): query names (IPv4 reversed, IPv6 nibbles, domains) and one lookup with its
//!   TXT reason.
//! - [`ZoneHealth`] (`health.rs`): the RFC 5782 §5 test points, queried every round.
//! - [`Targets`] (`targets.rs`): sending IPs (ranges expanded up to a cap) and sending domains.
//! - [`run_round`] (`round.rs`): every target against every zone of its family → [`Round`] with findings.
//! - [`RoundReport`] (`monitor.rs`): a round read for people and the store — per-target findings with
//!   the status sentence, listing observations, the daemon's stored reports.
//! - [`resolver`] (`resolver.rs`): is our resolver one Spamhaus refuses as public (127.255.255.254)?
//! - `report.rs`: finding messages, the status sentence, the JSON of `check --format json`.

mod adhoc;
mod decode;
mod health;
mod monitor;
mod query;
mod report;
pub mod resolver;
mod round;
mod select;
mod targets;
mod zone;
pub mod zones;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use serde::Serialize;

use crate::config::DomainName;
use crate::findings::Severity;

pub use adhoc::{ZoneArg, adhoc_zones};
pub use health::{FamilyHealth, HealthState, Probe, ZoneHealth};
pub use monitor::{
    CHECK, ENDED_SHOWN, History, RESOLVER_CHECK, ROUND_CHECK, ROUND_TARGET, RoundReport,
    TargetReport, configured, observations,
};
pub use query::query;
pub use report::{ListingJson, status_sentence};
pub use round::{Round, TargetListings, ZoneListing, run_round};
pub use select::{SelectError, catalogue_problem, close_names, select};
pub use targets::{Targets, Truncation};
pub use zone::{Zone, generic_zone};

/// Whether a listing says the address misbehaved or only what kind of address it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// The address or domain sent spam, was exploited, hosts malware… (critical).
    Reputation,
    /// The address is of a kind that should not send mail directly (Spamhaus PBL, SpamRATS
    /// dyna/noptr): not a verdict on behaviour, but receivers that use the list still refuse it.
    Policy,
}

/// One decoded answer of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Meaning {
    /// The answer it was decoded from.
    pub code: Ipv4Addr,
    /// The sub-list's short name (`SBL`, `PBL`, `PH`) or, for lists without a table, the code.
    pub label: String,
    /// What it means, in words (may be empty for lists without a table).
    pub text: String,
    /// Reputation or policy.
    pub class: Class,
}

/// A listing: the answers, what the documented ones mean, and the list's own TXT explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Every A answer, in the order served.
    pub codes: Vec<Ipv4Addr>,
    /// The documented meanings among them (never empty); undocumented extra answers only show in `codes`.
    pub meanings: Vec<Meaning>,
    /// The TXT record at the same name, when the list publishes one (sanitized, bounded).
    pub reason: Option<String>,
}

impl Listed {
    /// True when every decoded meaning is a policy listing (reported at lower severity).
    pub fn is_policy_only(&self) -> bool {
        self.meanings.iter().all(|m| m.class == Class::Policy)
    }
}

/// What one query of one target on one zone says. Exactly one state per answer; only
/// [`Listing::Listed`] is a listing, and only [`Listing::NotListed`] is clean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listing {
    /// NXDOMAIN, or the name exists without an A record.
    NotListed,
    /// The list's documented codes say it is listed.
    Listed(Listed),
    /// The list answered with one of its documented "we refuse you" codes (e.g. Spamhaus
    /// 127.255.255.254 for public resolvers): not a listing, and not clean either.
    Refused {
        /// The refusal answer.
        code: Ipv4Addr,
        /// What the list says it means.
        meaning: String,
    },
    /// We could not learn the state.
    LookupFailed(Failure),
}

/// Why a lookup gave no usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The DNS query failed: SERVFAIL, REFUSED rcode, timeout, unreachable resolver, bad name.
    Dns {
        /// `servfail`, `refused`, `timeout`, `unreachable`, `invalid_name` or `other`.
        kind: &'static str,
        /// The error in words (any DQS key redacted).
        detail: String,
    },
    /// An answer outside 127.0.0.0/8: a resolver rewriting NXDOMAIN to an ad or search page.
    OutsideLoopback(Vec<Ipv4Addr>),
    /// Only answers the list does not document: guessing would risk a false listing.
    Undocumented(Vec<Ipv4Addr>),
    /// The zone failed its health test this round, so its answer was not trusted.
    Untrusted(String),
}

impl Failure {
    /// A short stable name for JSON (`timeout`, `outside_loopback`, `undocumented_answer`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Dns { kind, .. } => kind,
            Failure::OutsideLoopback(_) => "outside_loopback",
            Failure::Undocumented(_) => "undocumented_answer",
            Failure::Untrusted(_) => "zone_unhealthy",
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Dns { detail, .. } => f.write_str(detail),
            Failure::OutsideLoopback(codes) => write!(
                f,
                "the answer {} is outside 127.0.0.0/8, so a resolver on the way rewrote the reply (NXDOMAIN redirection?)",
                join(codes)
            ),
            Failure::Undocumented(codes) => write!(
                f,
                "the list answered {}, which it does not document",
                join(codes)
            ),
            Failure::Untrusted(why) => write!(f, "the zone is not trusted this round: {why}"),
        }
    }
}

fn join(codes: &[Ipv4Addr]) -> String {
    codes
        .iter()
        .map(Ipv4Addr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Listing {
    /// `not_listed`, `listed`, `refused` or `lookup_failed`.
    pub fn state(&self) -> &'static str {
        match self {
            Listing::NotListed => "not_listed",
            Listing::Listed(_) => "listed",
            Listing::Refused { .. } => "refused",
            Listing::LookupFailed(_) => "lookup_failed",
        }
    }

    /// Whether this is a listing.
    pub fn is_listed(&self) -> bool {
        matches!(self, Listing::Listed(_))
    }

    /// How this state counts toward a target's status: reputation listing critical, policy listing
    /// warning, not listed ok; refused and lookup failed are unknown ("could not check", the
    /// monitoring-plugin UNKNOWN), never ok.
    pub fn severity(&self) -> Severity {
        match self {
            Listing::NotListed => Severity::Ok,
            Listing::Listed(l) if l.is_policy_only() => Severity::Warning,
            Listing::Listed(_) => Severity::Critical,
            Listing::Refused { .. } | Listing::LookupFailed(_) => Severity::Unknown,
        }
    }
}

/// What address family (or name) a target or test point is, so it goes to zones that list its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// An IPv4 address.
    V4,
    /// An IPv6 address.
    V6,
    /// A domain name.
    Domain,
}

/// Something checked against blocklists: a sending IP or a sending domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// A sending IP (IPv4 or IPv6).
    Ip(IpAddr),
    /// A sending domain (queried on domain lists).
    Domain(DomainName),
}

impl Target {
    /// The target's family.
    pub fn family(&self) -> Family {
        match self {
            Target::Ip(IpAddr::V4(_)) => Family::V4,
            Target::Ip(IpAddr::V6(_)) => Family::V6,
            Target::Domain(_) => Family::Domain,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Ip(ip) => write!(f, "{ip}"),
            Target::Domain(d) => write!(f, "{d}"),
        }
    }
}

impl Serialize for Target {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
