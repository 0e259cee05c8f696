//! What people read: the status roll-ups of `/api/v1/*` (worst first, one-line summaries, ranges as
//! one entry), built from the latest state and the running configuration. Nothing here knows HTTP;
//! docs/api.md documents the shapes.
//!
//! Every configured domain and sending IP is listed, checked or not (`"status": "pending"` until its
//! first result is stored), worst first, each with a one-line `summary` of what is wrong (the messages
//! of its worst findings). A configured range is one entry with its addresses' results grouped
//! (`range`). The status page is bounded ([`Page`]): it builds entries only for the page it shows and
//! says how many it left out. [`reports`] adds what the DMARC aggregate reports say.

pub mod alerts;
pub mod bounces;
mod range;
pub mod reports;

use std::cmp::Reverse;

use ipnet::IpNet;
use serde::Serialize;

use crate::config::{Config, DomainName};
use crate::findings::Severity;
use crate::results::{CheckFacts, CheckId, Snapshot, Target};
use crate::store::{ListingPeriod, StoredCheck, StoredFinding};

pub use range::{ADDRESSES_SHOWN, AddressStatus, RangeAddresses, RangeCheck};

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

/// Which part of the status lists to show: `offset` entries skipped, at most `limit` shown, in each
/// of `domains` and `ips`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Page {
    /// Entries skipped (worst first).
    pub offset: usize,
    /// Entries shown at most.
    pub limit: usize,
}

impl Page {
    /// Shown when the request names no limit: enough for a screen and for most fleets in one page,
    /// small enough that 10,000 domains cost one page's work per request.
    pub const DEFAULT_LIMIT: usize = 100;
    /// The largest limit a request may ask for.
    pub const MAX_LIMIT: usize = 1000;

    /// A page from optional request values; the limit is clamped to `1..=MAX_LIMIT`.
    pub fn new(offset: Option<usize>, limit: Option<usize>) -> Page {
        Page {
            offset: offset.unwrap_or(0),
            limit: limit
                .unwrap_or(Page::DEFAULT_LIMIT)
                .clamp(1, Page::MAX_LIMIT),
        }
    }

    fn window<T>(&self, all: Vec<T>) -> (Vec<T>, usize) {
        let total = all.len();
        let shown: Vec<T> = all.into_iter().skip(self.offset).take(self.limit).collect();
        let left_out = total - shown.len();
        (shown, left_out)
    }
}

/// `GET /api/v1/status`.
#[derive(Debug, Serialize)]
pub struct StatusResponse {
    /// The worst status over every domain and IP (not only those on this page).
    pub status: Status,
    /// The configuration's reload state.
    pub config: ConfigState,
    /// The configured domains on this page, worst first.
    pub domains: Vec<DomainSummary>,
    /// The configured sending IPs or ranges on this page, worst first.
    pub ips: Vec<IpEntry<CheckSummary>>,
    /// The blocklist zones and the resolver (per-target listings are under `domains` and `ips`).
    pub blocklists: BlocklistsSummary,
    /// Which entries this page shows and how many it left out.
    pub page: PageInfo,
    /// The alert engine's active alerts ([`alerts`]); absent when the store could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerts: Option<alerts::ActiveAlerts>,
}

/// `page` in `/api/v1/status`.
#[derive(Debug, Serialize)]
pub struct PageInfo {
    /// Entries skipped in each list.
    pub offset: usize,
    /// Entries shown at most in each list.
    pub limit: usize,
    /// Configured domains in all.
    pub domains_total: usize,
    /// Configured IP entries in all.
    pub ips_total: usize,
    /// Domains not on this page.
    pub domains_left_out: usize,
    /// IP entries not on this page.
    pub ips_left_out: usize,
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
    /// Enforcement readiness from the DMARC aggregate reports (compact); absent when the store
    /// could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enforcement: Option<crate::analysis::readiness::EnforcementSummary>,
    /// Its active alerts (labelled with it) by state; absent when the store could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerts: Option<alerts::AlertCounts>,
}

/// One check's latest result, without record and detail (see `/api/v1/domains/{domain}`).
#[derive(Debug, Serialize)]
pub struct CheckSummary {
    /// Which check.
    pub check: CheckId,
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
    /// Open blocklist listings of the domain name itself (domain zones); its IPs' are under `ips`.
    pub listings: Vec<ListingPeriod>,
    /// What the DMARC aggregate reports say ([`reports`]); absent when the store could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reports: Option<reports::DomainReports>,
    /// Its active alerts (labelled with it), firing first; absent when the store could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerts: Option<Vec<alerts::AlertView>>,
    /// Its bounces by reason, with the findings that explain them ([`bounces`]); absent when the
    /// events could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bounces: Option<bounces::DomainBounces>,
}

/// One check's latest result in full.
#[derive(Debug, Serialize)]
pub struct CheckDetail {
    /// Which check.
    pub check: CheckId,
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
    pub facts: CheckFacts,
}

/// A check as the status list shows it.
pub fn summary(c: &StoredCheck) -> CheckSummary {
    CheckSummary {
        check: c.check,
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

/// A check as the domain detail shows it.
pub fn detail(c: &StoredCheck) -> CheckDetail {
    CheckDetail {
        check: c.check,
        status: c.status,
        record: c.record.clone(),
        findings: c.findings.clone(),
        checked_at: c.checked_at,
        since: c.since,
        duration_seconds: c.duration_ms as f64 / 1000.0,
        facts: c.facts.clone(),
    }
}

/// `code ×n, other`: the codes of `findings` in order of first appearance, with counts above one.
pub fn counted_codes<'a>(findings: impl IntoIterator<Item = &'a StoredFinding>) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for f in findings {
        match counts.iter_mut().find(|(c, _)| *c == f.code) {
            Some((_, n)) => *n += 1,
            None => counts.push((&f.code, 1)),
        }
    }
    counts
        .into_iter()
        .map(|(c, n)| {
            if n > 1 {
                format!("{c} ×{n}")
            } else {
                c.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One line saying what is wrong: the messages of the findings at the worst severity (of checks given
/// worst first), at most [`SUMMARY_MESSAGES`] of them, then the codes of the rest so the reader knows
/// where else to look.
pub fn summarize(status: Status, checks: &[&StoredCheck]) -> String {
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
        line.push(format!(
            "Also {worst}: {}.",
            counted_codes(rest.iter().copied())
        ));
    }
    line.join(" ")
}

fn worst_first(checks: &mut [&StoredCheck]) {
    checks.sort_by(|a, b| {
        b.status
            .cmp(&a.status)
            .then_with(|| a.check.as_str().cmp(b.check.as_str()))
    });
}

fn net_label(net: &IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

/// The configured IP entries of the given domains (deduplicated; an IP shared by two domains lists
/// both), in configuration order.
fn configured_nets(config: &Config, only: Option<&DomainName>) -> Vec<(IpNet, Vec<String>)> {
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
    nets
}

/// The latest results of the addresses in `net`: a single address's own, or every stored address
/// inside a range.
fn net_results<'a>(s: &'a Snapshot, net: &IpNet) -> Vec<&'a StoredCheck> {
    if net.prefix_len() == net.max_prefix_len() {
        return s.results(&Target::Ip(net.addr())).collect();
    }
    s.targets()
        .filter(|t| matches!(t, Target::Ip(ip) if net.contains(ip)))
        .flat_map(|t| s.results(t))
        .collect()
}

/// A net's status without building its entry (for sorting every entry before paging).
fn net_status(s: &Snapshot, net: &IpNet) -> Status {
    Status::of(net_results(s, net))
}

/// One IP entry, with each check as `view` shows it.
fn ip_entry<C>(
    s: &Snapshot,
    net: IpNet,
    domains: Vec<String>,
    view: fn(&StoredCheck) -> C,
) -> IpEntry<C> {
    let mut mine = net_results(s, &net);
    worst_first(&mut mine);
    let status = Status::of(mine.iter().copied());
    let label = net_label(&net);
    if net.prefix_len() < net.max_prefix_len() {
        let grouped = range::group(&label, status, &mine);
        let listings = grouped
            .addresses
            .shown
            .iter()
            .flat_map(|a| s.open_listings(&a.ip))
            .cloned()
            .collect();
        return IpEntry {
            ip: label,
            domains,
            status,
            summary: grouped.summary.clone(),
            // PTR and FCrDNS belong to one address: see the addresses shown.
            ptr: None,
            fcrdns: None,
            checks: grouped.checks.iter().map(|c| view(c)).collect(),
            listings,
            addresses: Some(grouped.addresses),
        };
    }
    let ptr = mine
        .iter()
        .find(|c| c.check == CheckId::Ptr)
        .and_then(|c| c.facts.ptr());
    IpEntry {
        summary: summarize(status, &mine),
        fcrdns: ptr.and_then(|p| p.fcrdns),
        ptr: ptr.and_then(|p| p.ptr.clone()),
        listings: s.open_listings(&label).cloned().collect(),
        ip: label,
        domains,
        status,
        checks: mine.into_iter().map(view).collect(),
        addresses: None,
    }
}

/// A domain's latest results, worst first.
fn domain_results<'a>(s: &'a Snapshot, name: &DomainName) -> Vec<&'a StoredCheck> {
    let mut mine: Vec<&StoredCheck> = s.results(&Target::Domain(name.clone())).collect();
    worst_first(&mut mine);
    mine
}

/// `GET /api/v1/status`: one page of the roll-up of every configured domain and IP.
pub fn status(config: &Config, s: &Snapshot, reload: ConfigState, page: Page) -> StatusResponse {
    // Rank every entry (a status each, no copies), then build only the page's entries.
    let mut domains: Vec<(Status, &DomainName)> = config
        .domains
        .iter()
        .map(|d| {
            (
                Status::of(s.results(&Target::Domain(d.name.clone()))),
                &d.name,
            )
        })
        .collect();
    domains.sort_by(|a, b| {
        Reverse(a.0.rank())
            .cmp(&Reverse(b.0.rank()))
            .then(a.1.cmp(b.1))
    });
    let mut nets: Vec<(Status, String, IpNet, Vec<String>)> = configured_nets(config, None)
        .into_iter()
        .map(|(net, ds)| (net_status(s, &net), net_label(&net), net, ds))
        .collect();
    nets.sort_by(|a, b| {
        Reverse(a.0.rank())
            .cmp(&Reverse(b.0.rank()))
            .then(a.1.cmp(&b.1))
    });

    let overall = domains
        .iter()
        .map(|d| d.0)
        .chain(nets.iter().map(|n| n.0))
        .max_by_key(|s| s.rank())
        .unwrap_or(Status::Pending);
    let (domains_total, ips_total) = (domains.len(), nets.len());
    let (domains, domains_left_out) = page.window(domains);
    let (nets, ips_left_out) = page.window(nets);

    let domains = domains
        .into_iter()
        .map(|(status, name)| {
            let mine = domain_results(s, name);
            DomainSummary {
                domain: name.to_string(),
                status,
                summary: summarize(status, &mine),
                checks: mine.into_iter().map(summary).collect(),
                enforcement: None,
                alerts: None,
            }
        })
        .collect();
    let ips = nets
        .into_iter()
        .map(|(_, _, net, ds)| ip_entry(s, net, ds, summary))
        .collect();
    let mut round: Vec<&StoredCheck> = s.results(&Target::Blocklists).collect();
    worst_first(&mut round);
    StatusResponse {
        status: overall,
        config: reload,
        domains,
        ips,
        blocklists: BlocklistsSummary {
            status: Status::of(round.iter().copied()),
            checks: round.into_iter().map(summary).collect(),
        },
        page: PageInfo {
            offset: page.offset,
            limit: page.limit,
            domains_total,
            ips_total,
            domains_left_out,
            ips_left_out,
        },
        alerts: None,
    }
}

/// `GET /api/v1/domains/{domain}`: one domain in full, or `None` when it is not configured.
pub fn domain(config: &Config, s: &Snapshot, name: &DomainName) -> Option<DomainDetail> {
    let settings = config.domains.iter().find(|d| d.name == *name)?;
    let mine = domain_results(s, name);
    let status = Status::of(mine.iter().copied());
    let mut ips: Vec<IpEntry<CheckDetail>> = configured_nets(config, Some(name))
        .into_iter()
        .map(|(net, ds)| ip_entry(s, net, ds, detail))
        .collect();
    ips.sort_by_key(|i| (Reverse(i.status.rank()), i.ip.clone()));
    Some(DomainDetail {
        domain: name.to_string(),
        status,
        summary: summarize(status, &mine),
        dkim_selectors: settings.dkim_selectors.clone(),
        checks: mine.into_iter().map(detail).collect(),
        ips,
        listings: s.open_listings(name.as_str()).cloned().collect(),
        reports: None,
        alerts: None,
        bounces: None,
    })
}
