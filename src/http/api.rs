//! `/api/v1/*`: what the daemon knows, read from the store and the running configuration.
//!
//! Every configured domain and sending IP is listed, checked or not (`"status": "pending"` until its
//! first result is stored), worst first, each with a one-line `summary` of what is wrong (the messages
//! of its worst findings). A configured range is one entry with its addresses' results grouped
//! ([`range`]). docs/api.md documents the shapes.

mod range;

use std::cmp::Reverse;
use std::net::IpAddr;

use axum::Json;
use axum::extract::{Path, State};
use ipnet::IpNet;
use serde::Serialize;

use super::AppState;
use super::error::ApiError;
use crate::blocklists;
use crate::config::{Config, DomainName};
use crate::findings::Severity;
use crate::store::{ListingPeriod, PtrFacts, StoredCheck, StoredFinding};

pub use range::{ADDRESSES_SHOWN, AddressStatus, RangeAddresses};

/// The stored check name of an IP's PTR/FCrDNS result (written by the posture job).
const PTR_CHECK: &str = "ptr";
/// At most this many messages in a `summary`; the rest are named by code. Two keep the line readable
/// (messages are a sentence or two each) while showing more than one problem.
const SUMMARY_MESSAGES: usize = 2;

/// A domain's or IP's overall state: the worst of its checks, or `pending` before the first one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Nothing stored yet.
    Pending,
    /// The worst stored result.
    Checked(Severity),
}

impl Status {
    fn of<'a>(checks: impl IntoIterator<Item = &'a StoredCheck>) -> Status {
        checks
            .into_iter()
            .map(|c| c.status)
            .max()
            .map_or(Status::Pending, Status::Checked)
    }

    /// Sort key, worst highest; `pending` sorts last (nothing is known to be wrong yet).
    fn rank(self) -> i8 {
        match self {
            Status::Pending => -1,
            Status::Checked(s) => s as i8,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Checked(s) => s.as_str(),
        }
    }
}

impl Serialize for Status {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// `GET /api/v1/status`.
#[derive(Debug, Serialize)]
pub struct StatusResponse {
    /// The worst status over every domain and IP.
    pub status: Status,
    /// The configuration's reload state.
    pub config: ConfigState,
    /// Every configured domain, worst first.
    pub domains: Vec<DomainSummary>,
    /// Every configured sending IP or range, worst first.
    pub ips: Vec<IpEntry<CheckSummary>>,
    /// The blocklist zones and the resolver (per-target listings are under `domains` and `ips`).
    pub blocklists: BlocklistsSummary,
}

/// `blocklists` in `/api/v1/status`: the latest round's zone-level findings (unhealthy zones, refusals,
/// failed lookups, truncated ranges) and the public-resolver verdict (at start and every round).
#[derive(Debug, Serialize)]
pub struct BlocklistsSummary {
    /// Worst of the checks below, or pending before the first result.
    pub status: Status,
    /// `round` and `resolver`, worst first.
    pub checks: Vec<CheckSummary>,
}

/// Reload state in `/api/v1/status`.
#[derive(Debug, Serialize)]
pub struct ConfigState {
    /// Whether the last (re)load succeeded.
    pub last_reload_successful: bool,
    /// The refused config's errors, when the last reload failed.
    pub last_error: Option<String>,
    /// When the running config was loaded (Unix seconds).
    pub last_success_at: Option<i64>,
}

/// One domain in `/api/v1/status`.
#[derive(Debug, Serialize)]
pub struct DomainSummary {
    /// The domain.
    pub domain: String,
    /// Worst check, or pending.
    pub status: Status,
    /// One line: the messages of the worst findings.
    pub summary: String,
    /// Latest result of each check, worst first.
    pub checks: Vec<CheckSummary>,
}

/// One check's latest result, without record and detail (see `/api/v1/domains/{domain}`).
#[derive(Debug, Serialize)]
pub struct CheckSummary {
    /// Check name.
    pub check: String,
    /// Its status.
    pub status: Severity,
    /// When it last ran (Unix seconds).
    pub checked_at: i64,
    /// Since when the result has been the same.
    pub since: i64,
    /// Code, severity and message of each finding.
    pub findings: Vec<FindingSummary>,
}

/// A finding without its detail.
#[derive(Debug, Serialize)]
pub struct FindingSummary {
    /// Dotted code.
    pub code: String,
    /// Severity.
    pub severity: Severity,
    /// Sentence for humans.
    pub message: String,
}

/// One configured sending IP (or range): in `/api/v1/status` with [`CheckSummary`] checks, in
/// `/api/v1/domains/{domain}` with [`CheckDetail`] checks.
#[derive(Debug, Serialize)]
pub struct IpEntry<C> {
    /// The address or range as configured.
    pub ip: String,
    /// The domains that list it.
    pub domains: Vec<String>,
    /// Worst check of the address (or of the addresses in the range), or pending.
    pub status: Status,
    /// One line: the messages of the worst findings.
    pub summary: String,
    /// The PTR name (the forward-confirmed one when there is one); null for a range or before the
    /// first PTR check.
    pub ptr: Option<String>,
    /// Whether a PTR name resolves back to the address (FCrDNS); null when not known.
    pub fcrdns: Option<bool>,
    /// Latest result of each IP-scoped check (PTR, blocklists), worst first. For a range, one per
    /// check over its addresses: the worst status, the newest run, the findings of the addresses shown.
    pub checks: Vec<C>,
    /// A range's addresses: how many were checked, listed or have findings, and those with findings
    /// (worst first, capped). Absent for a single address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addresses: Option<RangeAddresses>,
    /// Open blocklist listings of the address (for a range: of the addresses shown).
    pub listings: Vec<ListingPeriod>,
}

/// `GET /api/v1/domains/{domain}`.
#[derive(Debug, Serialize)]
pub struct DomainDetail {
    /// The domain.
    pub domain: String,
    /// Worst check, or pending.
    pub status: Status,
    /// One line: the messages of the worst findings.
    pub summary: String,
    /// Configured DKIM selectors.
    pub dkim_selectors: Vec<String>,
    /// Each check's latest result in full, worst first.
    pub checks: Vec<CheckDetail>,
    /// The domain's sending IPs, with their PTR/FCrDNS results in full.
    pub ips: Vec<IpEntry<CheckDetail>>,
}

/// One check's latest result in full.
#[derive(Debug, Serialize)]
pub struct CheckDetail {
    /// Check name.
    pub check: String,
    /// Its status.
    pub status: Severity,
    /// The record(s) read, as published.
    pub record: Option<String>,
    /// Every finding, with detail.
    pub findings: Vec<StoredFinding>,
    /// When it last ran (Unix seconds).
    pub checked_at: i64,
    /// Since when the result has been the same.
    pub since: i64,
    /// How long the latest run took.
    pub duration_seconds: f64,
    /// The typed facts behind the result (SPF lookup count, DKIM keys, DMARC policy, PTR name…).
    pub facts: serde_json::Value,
}

fn summary(c: &StoredCheck) -> CheckSummary {
    CheckSummary {
        check: c.check.clone(),
        status: c.status,
        checked_at: c.checked_at,
        since: c.since,
        findings: c
            .findings
            .iter()
            .map(|f| FindingSummary {
                code: f.code.clone(),
                severity: f.severity,
                message: f.message.clone(),
            })
            .collect(),
    }
}

fn detail(c: &StoredCheck) -> CheckDetail {
    CheckDetail {
        check: c.check.clone(),
        status: c.status,
        record: c.record.clone(),
        findings: c.findings.clone(),
        checked_at: c.checked_at,
        since: c.since,
        duration_seconds: c.duration_ms as f64 / 1000.0,
        facts: c.facts.clone(),
    }
}

/// One line saying what is wrong: the messages of the findings at the worst severity (of checks given
/// worst first), at most [`SUMMARY_MESSAGES`] of them, then the codes of the rest so the reader knows
/// where else to look.
fn summarize(status: Status, checks: &[&StoredCheck]) -> String {
    let findings = || checks.iter().flat_map(|c| &c.findings);
    let Some(worst) = findings().map(|f| f.severity).max() else {
        return match status {
            Status::Pending => "Not checked yet.".into(),
            Status::Checked(_) => "No problems found.".into(),
        };
    };
    let worst_ones: Vec<&StoredFinding> = findings().filter(|f| f.severity == worst).collect();
    let (shown, rest) = worst_ones.split_at(worst_ones.len().min(SUMMARY_MESSAGES));
    // Messages are single sentences, but whatever they hold, the summary stays on one line.
    let mut line: Vec<String> = shown
        .iter()
        .map(|f| f.message.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    if !rest.is_empty() {
        let mut codes: Vec<(&str, usize)> = Vec::new();
        for f in rest {
            match codes.iter_mut().find(|(c, _)| *c == f.code) {
                Some((_, n)) => *n += 1,
                None => codes.push((&f.code, 1)),
            }
        }
        let codes: Vec<String> = codes
            .into_iter()
            .map(|(c, n)| {
                if n > 1 {
                    format!("{c} ×{n}")
                } else {
                    c.to_owned()
                }
            })
            .collect();
        line.push(format!("Also {worst}: {}.", codes.join(", ")));
    }
    line.join(" ")
}

fn worst_first(checks: &mut [&StoredCheck]) {
    checks.sort_by(|a, b| b.status.cmp(&a.status).then_with(|| a.check.cmp(&b.check)));
}

/// Whether a stored target (an IP as text) falls within a configured entry.
fn covers(net: &IpNet, target: &str) -> bool {
    target.parse::<IpAddr>().is_ok_and(|ip| net.contains(&ip))
}

fn net_label(net: &IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

/// The IP entries of the given domains (deduplicated; an IP shared by two domains lists both), with
/// each check as `view` shows it.
fn ip_entries<'a, C>(
    config: &Config,
    only: Option<&DomainName>,
    checks: &'a [StoredCheck],
    listings: &[ListingPeriod],
    view: fn(&StoredCheck) -> C,
) -> Vec<IpEntry<C>> {
    let mut nets: Vec<(IpNet, Vec<String>)> = Vec::new();
    for d in &config.domains {
        if only.is_some_and(|o| *o != d.name) {
            continue;
        }
        for net in &d.sending_ips {
            match nets.iter_mut().find(|(n, _)| n == net) {
                Some((_, domains)) => domains.push(d.name.to_string()),
                None => nets.push((*net, vec![d.name.to_string()])),
            }
        }
    }
    let mut out: Vec<IpEntry<C>> = nets
        .into_iter()
        .map(|(net, domains)| {
            let mut mine: Vec<&'a StoredCheck> =
                checks.iter().filter(|c| covers(&net, &c.target)).collect();
            worst_first(&mut mine);
            let status = Status::of(mine.iter().copied());
            let label = net_label(&net);
            if net.prefix_len() < net.max_prefix_len() {
                let grouped = range::group(&label, status, &mine);
                return IpEntry {
                    ip: label,
                    domains,
                    status,
                    summary: grouped.summary.clone(),
                    // PTR and FCrDNS belong to one address: see the addresses shown.
                    ptr: None,
                    fcrdns: None,
                    checks: grouped.checks.iter().map(view).collect(),
                    listings: listings
                        .iter()
                        .filter(|l| covers(&net, &l.target) && grouped.shows(&l.target))
                        .cloned()
                        .collect(),
                    addresses: Some(grouped.addresses),
                };
            }
            let ptr: Option<PtrFacts> = mine
                .iter()
                .find(|c| c.check == PTR_CHECK)
                .and_then(|c| serde_json::from_value(c.facts.clone()).ok());
            IpEntry {
                ip: label,
                domains,
                status,
                summary: summarize(status, &mine),
                fcrdns: ptr.as_ref().and_then(|p| p.fcrdns),
                ptr: ptr.and_then(|p| p.ptr),
                checks: mine.into_iter().map(view).collect(),
                addresses: None,
                listings: listings
                    .iter()
                    .filter(|l| covers(&net, &l.target))
                    .cloned()
                    .collect(),
            }
        })
        .collect();
    out.sort_by_key(|i| (Reverse(i.status.rank()), i.ip.clone()));
    out
}

/// `GET /api/v1/status`.
pub async fn status(State(state): State<AppState>) -> Result<Json<StatusResponse>, ApiError> {
    let config = state.config.borrow().clone();
    let checks = state
        .store
        .latest_checks(None)
        .await
        .map_err(ApiError::store)?;
    let listings = state.store.listings(None).await.map_err(ApiError::store)?;

    let mut domains: Vec<DomainSummary> = config
        .domains
        .iter()
        .map(|d| {
            let mut mine: Vec<&StoredCheck> = checks
                .iter()
                .filter(|c| c.target == d.name.as_str())
                .collect();
            worst_first(&mut mine);
            let status = Status::of(mine.iter().copied());
            DomainSummary {
                domain: d.name.to_string(),
                status,
                summary: summarize(status, &mine),
                checks: mine.into_iter().map(summary).collect(),
            }
        })
        .collect();
    domains.sort_by_key(|d| (Reverse(d.status.rank()), d.domain.clone()));
    let ips = ip_entries(&config, None, &checks, &listings, summary);
    let status = domains
        .iter()
        .map(|d| d.status)
        .chain(ips.iter().map(|i| i.status))
        .max_by_key(|s| s.rank())
        .unwrap_or(Status::Pending);
    let mut round: Vec<&StoredCheck> = checks
        .iter()
        .filter(|c| c.target == blocklists::ROUND_TARGET)
        .collect();
    worst_first(&mut round);
    let blocklists = BlocklistsSummary {
        status: Status::of(round.iter().copied()),
        checks: round.into_iter().map(summary).collect(),
    };
    Ok(Json(StatusResponse {
        status,
        config: ConfigState {
            last_reload_successful: state.reload_status.last_error().is_none(),
            last_error: state.reload_status.last_error(),
            last_success_at: state.reload_status.last_success_unix(),
        },
        domains,
        ips,
        blocklists,
    }))
}

/// `GET /api/v1/domains/{domain}`: 404 for a domain that is not configured.
pub async fn domain(
    State(state): State<AppState>,
    Path(domain): Path<String>,
) -> Result<Json<DomainDetail>, ApiError> {
    let unknown = || {
        ApiError::not_found(
            "unknown_domain",
            "the domain is not in the running configuration",
        )
    };
    let name = DomainName::parse(&domain).map_err(|_| unknown())?;
    let config = state.config.borrow().clone();
    let settings = config
        .domains
        .iter()
        .find(|d| d.name == name)
        .ok_or_else(unknown)?;
    let checks = state
        .store
        .latest_checks(None)
        .await
        .map_err(ApiError::store)?;
    let listings = state.store.listings(None).await.map_err(ApiError::store)?;
    let mut mine: Vec<&StoredCheck> = checks
        .iter()
        .filter(|c| c.target == name.as_str())
        .collect();
    worst_first(&mut mine);
    let status = Status::of(mine.iter().copied());
    Ok(Json(DomainDetail {
        domain: name.to_string(),
        status,
        summary: summarize(status, &mine),
        dkim_selectors: settings.dkim_selectors.clone(),
        checks: mine.into_iter().map(detail).collect(),
        ips: ip_entries(&config, Some(&name), &checks, &listings, detail),
    }))
}
