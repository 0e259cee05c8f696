//! The rules: one enum, [`RuleKind`], lists them, and [`evaluate`] matches it exhaustively, so adding
//! a rule is a variant, its defaults and one arm (docs/alerts.md lists each with its defaults).
//!
//! A rule reads a [`Snapshot`] and returns a [`Candidate`] per thing that is wrong now; the engine
//! turns candidates into alerts with a lifecycle (`lifecycle`). Label values come from the
//! configuration (domain, target, zone, selector) or from code (check, severity), never from DNS
//! answers, so each label has a bounded set of values.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use super::settings::{AlertSettings, RuleSettings};
use super::snapshot::{CheckState, DomainState, Snapshot};
use crate::findings::Severity;

/// Every rule the engine runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleKind {
    /// A configured IP or domain is listed on a blocklist.
    BlocklistListed,
    /// SPF needs more DNS-querying terms than `threshold` (RFC 7208 §4.6.4: 10).
    SpfTooManyLookups,
    /// A configured sending IP does not get an SPF pass.
    SpfIpNotAuthorized,
    /// A DKIM selector has no key, a revoked key or a key shorter than `threshold` bits.
    DkimKeyProblem,
    /// No DMARC record applies to the domain.
    DmarcMissing,
    /// The DMARC policy is `none`.
    DmarcPolicyNone,
    /// The DMARC record changed to a weaker policy (`reject` → `quarantine` or `none`, …).
    DmarcPolicyWeakened,
    /// A published record changed (for a day after the change, as the `record.changed` finding).
    RecordChanged,
    /// No MX, or an MX host that does not resolve.
    MxBroken,
    /// The MTA-STS policy cannot be fetched or does not cover an MX host.
    MtaStsBroken,
    /// Checks of the domain could not run because DNS did not answer.
    DnsUnreachable,
    /// The share of reported messages failing DMARC is over `threshold` (volume-gated).
    DmarcFailureRate,
    /// A source outside the configured sending IPs sent more than `threshold` DMARC-failing
    /// messages as the domain.
    UnknownSource,
    /// No DMARC aggregate report covered the domain for `window`.
    NoReports,
    /// The bounce rate is over the warning or critical level (volume-gated).
    BounceRate,
    /// The complaint rate is over the warning or critical level (volume-gated).
    ComplaintRate,
    /// The ingest pipeline refused more than `threshold` inputs in `window`.
    IngestFailures,
}

impl RuleKind {
    /// Every rule, in the order docs/alerts.md lists them.
    pub const ALL: [RuleKind; 17] = [
        RuleKind::BlocklistListed,
        RuleKind::SpfTooManyLookups,
        RuleKind::SpfIpNotAuthorized,
        RuleKind::DkimKeyProblem,
        RuleKind::DmarcMissing,
        RuleKind::DmarcPolicyNone,
        RuleKind::DmarcPolicyWeakened,
        RuleKind::RecordChanged,
        RuleKind::MxBroken,
        RuleKind::MtaStsBroken,
        RuleKind::DnsUnreachable,
        RuleKind::DmarcFailureRate,
        RuleKind::UnknownSource,
        RuleKind::NoReports,
        RuleKind::BounceRate,
        RuleKind::ComplaintRate,
        RuleKind::IngestFailures,
    ];

    /// The key under `alerts.rules` in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::BlocklistListed => "blocklist_listed",
            RuleKind::SpfTooManyLookups => "spf_too_many_lookups",
            RuleKind::SpfIpNotAuthorized => "spf_ip_not_authorized",
            RuleKind::DkimKeyProblem => "dkim_key_problem",
            RuleKind::DmarcMissing => "dmarc_missing",
            RuleKind::DmarcPolicyNone => "dmarc_policy_none",
            RuleKind::DmarcPolicyWeakened => "dmarc_policy_weakened",
            RuleKind::RecordChanged => "record_changed",
            RuleKind::MxBroken => "mx_broken",
            RuleKind::MtaStsBroken => "mta_sts_broken",
            RuleKind::DnsUnreachable => "dns_unreachable",
            RuleKind::DmarcFailureRate => "dmarc_failure_rate",
            RuleKind::UnknownSource => "unknown_source",
            RuleKind::NoReports => "no_reports",
            RuleKind::BounceRate => "bounce_rate",
            RuleKind::ComplaintRate => "complaint_rate",
            RuleKind::IngestFailures => "ingest_failures",
        }
    }

    /// The rule named `name` in the config.
    pub fn parse(name: &str) -> Option<RuleKind> {
        RuleKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The `alertname` label (also the anchor of its section in docs/runbooks.md, lower-cased).
    pub fn alertname(self) -> &'static str {
        match self {
            RuleKind::BlocklistListed => "SenderscopeBlocklistListed",
            RuleKind::SpfTooManyLookups => "SenderscopeSpfTooManyLookups",
            RuleKind::SpfIpNotAuthorized => "SenderscopeSpfIpNotAuthorized",
            RuleKind::DkimKeyProblem => "SenderscopeDkimKeyProblem",
            RuleKind::DmarcMissing => "SenderscopeDmarcMissing",
            RuleKind::DmarcPolicyNone => "SenderscopeDmarcPolicyNone",
            RuleKind::DmarcPolicyWeakened => "SenderscopeDmarcPolicyWeakened",
            RuleKind::RecordChanged => "SenderscopeRecordChanged",
            RuleKind::MxBroken => "SenderscopeMxBroken",
            RuleKind::MtaStsBroken => "SenderscopeMtaStsBroken",
            RuleKind::DnsUnreachable => "SenderscopeDnsUnreachable",
            // The same names as the Prometheus rules over the same signals (one runbook section).
            RuleKind::DmarcFailureRate => "SenderscopeDmarcFailureRate",
            RuleKind::UnknownSource => "SenderscopeUnknownSource",
            RuleKind::NoReports => "SenderscopeNoDmarcReports",
            RuleKind::BounceRate => "SenderscopeBounceRateHigh",
            RuleKind::ComplaintRate => "SenderscopeComplaintRateHigh",
            RuleKind::IngestFailures => "SenderscopeIngestFailing",
        }
    }

    /// The built-in settings. Checks and blocklist rounds run every 15 and 30 minutes, so one bad
    /// result already stands for a quarter of an hour: most rules fire at once. DNS trouble is often
    /// brief, so `dns_unreachable` waits half an hour.
    ///
    /// Report rules look back 48 hours by report interval: reporters send a day's report hours after
    /// the day ends, so a 24-hour window is nearly empty every night and would resolve and re-fire.
    /// Rates: the levels of docs/bounces.md (SES reviews at 5% bounces and asks for under 2%; Gmail
    /// and Yahoo ask for under 0.1% complaints, Gmail never 0.3%), judged from 100 messages (the
    /// `events.thresholds` defaults, which config validation copies in), held for 15 minutes so a
    /// burst of late bounces does not page on its own.
    pub fn defaults(self) -> RuleSettings {
        const MIN: u64 = 60;
        const HOUR: u64 = 3600;
        let mut s = RuleSettings::plain(Duration::ZERO);
        let window = |secs: u64| Some(Duration::from_secs(secs));
        match self {
            RuleKind::SpfTooManyLookups => s.threshold = Some(10.0),
            RuleKind::DkimKeyProblem => s.threshold = Some(2048.0),
            RuleKind::DnsUnreachable => s.for_ = Duration::from_secs(30 * MIN),
            RuleKind::DmarcFailureRate => {
                s.threshold = Some(0.05);
                s.min_volume = Some(100);
                s.window = window(48 * HOUR);
            }
            RuleKind::UnknownSource => {
                s.threshold = Some(100.0);
                s.window = window(48 * HOUR);
            }
            RuleKind::NoReports => {
                s.min_volume = Some(1);
                s.window = window(48 * HOUR);
            }
            RuleKind::BounceRate | RuleKind::ComplaintRate => {
                let t = crate::events::rates::Thresholds::default();
                let (warning, critical) = if self == RuleKind::BounceRate {
                    (t.bounce_warning, t.bounce_critical)
                } else {
                    (t.complaint_warning, t.complaint_critical)
                };
                s.for_ = Duration::from_secs(15 * MIN);
                s.threshold = Some(warning);
                s.critical = Some(critical);
                s.min_volume = Some(t.min_volume);
                s.window = window(24 * HOUR);
            }
            RuleKind::IngestFailures => {
                s.threshold = Some(0.0);
                s.window = window(HOUR);
            }
            _ => {}
        }
        s
    }

    /// Whether `threshold` means something for this rule (validation refuses it elsewhere).
    pub fn has_threshold(self) -> bool {
        self.defaults().threshold.is_some()
    }

    /// Whether the rule has a critical level besides `threshold`.
    pub fn has_critical(self) -> bool {
        self.defaults().critical.is_some()
    }

    /// Whether the rule has a volume gate.
    pub fn has_min_volume(self) -> bool {
        self.defaults().min_volume.is_some()
    }

    /// Whether the rule looks back over a window.
    pub fn has_window(self) -> bool {
        self.defaults().window.is_some()
    }

    /// Whether `threshold` (and `critical`) are shares of messages, so at most 1.
    pub fn is_ratio(self) -> bool {
        matches!(
            self,
            RuleKind::DmarcFailureRate | RuleKind::BounceRate | RuleKind::ComplaintRate
        )
    }

    /// Whether the rule is about the whole daemon, not a domain (no `domain` label, no per-domain
    /// overrides).
    pub fn is_global(self) -> bool {
        self == RuleKind::IngestFailures
    }
}

impl std::fmt::Display for RuleKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The alert severities (the `severity` label), mildest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlertSeverity {
    /// Worth knowing (a record changed).
    Info,
    /// Should be fixed soon.
    Warning,
    /// Mail is affected now: page.
    Critical,
}

impl AlertSeverity {
    /// The severity whose label value is `label`.
    pub fn parse(label: &str) -> Option<AlertSeverity> {
        [
            AlertSeverity::Info,
            AlertSeverity::Warning,
            AlertSeverity::Critical,
        ]
        .into_iter()
        .find(|s| s.as_str() == label)
    }

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertSeverity::Info => "info",
            AlertSeverity::Warning => "warning",
            AlertSeverity::Critical => "critical",
        }
    }
}

/// Something a rule found wrong now: what becomes an alert once it has held for `for_`.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The rule.
    pub rule: RuleKind,
    /// How bad.
    pub severity: AlertSeverity,
    /// The labels besides `alertname` and `severity` (`domain`, and `target`, `zone`, `check`,
    /// `selector` where the rule has them).
    pub labels: BTreeMap<String, String>,
    /// One line.
    pub summary: String,
    /// What was measured, in sentences.
    pub description: String,
    /// How long it must hold before firing (the domain's setting).
    pub for_: Duration,
}

/// Run every enabled rule over `snapshot`.
pub fn evaluate(snapshot: &Snapshot, settings: &AlertSettings) -> Vec<Candidate> {
    let mut out = Vec::new();
    for rule in RuleKind::ALL {
        match rule {
            RuleKind::BlocklistListed => blocklist_listed(snapshot, settings, &mut out),
            RuleKind::DnsUnreachable => {
                for d in &snapshot.domains {
                    if let Some(s) = enabled(settings, rule, &d.domain) {
                        dns_unreachable(d, &s, &mut out);
                    }
                }
            }
            RuleKind::DmarcFailureRate
            | RuleKind::UnknownSource
            | RuleKind::NoReports
            | RuleKind::BounceRate
            | RuleKind::ComplaintRate => {
                for d in &snapshot.domains {
                    if let Some(s) = enabled(settings, rule, &d.domain) {
                        flows::domain_rule(rule, d, &s, snapshot.now, &mut out);
                    }
                }
            }
            RuleKind::IngestFailures => {
                let s = settings.rule(rule, None);
                if s.enabled {
                    flows::ingest_failures(snapshot, &s, &mut out);
                }
            }
            _ => {
                for d in &snapshot.domains {
                    if let Some(s) = enabled(settings, rule, &d.domain) {
                        domain_rule(rule, d, &s, &mut out);
                    }
                }
            }
        }
    }
    out
}

fn enabled(settings: &AlertSettings, rule: RuleKind, domain: &str) -> Option<RuleSettings> {
    Some(settings.rule(rule, Some(domain))).filter(|s| s.enabled)
}

fn candidate(
    rule: RuleKind,
    severity: AlertSeverity,
    domain: &str,
    s: &RuleSettings,
    summary: String,
    description: String,
) -> Candidate {
    Candidate {
        rule,
        severity,
        labels: BTreeMap::from([("domain".to_owned(), domain.to_owned())]),
        summary,
        description,
        for_: s.for_,
    }
}

fn blocklist_listed(snapshot: &Snapshot, settings: &AlertSettings, out: &mut Vec<Candidate>) {
    let rule = RuleKind::BlocklistListed;
    for l in &snapshot.listings {
        // A target shared by several domains is one listing: one alert, under its first domain
        // (whose overrides apply), with every owner named in the description.
        let domain = l.domains.first().map_or(l.target.as_str(), String::as_str);
        let Some(s) = enabled(settings, rule, domain) else {
            continue;
        };
        let mut description = format!(
            "{} is listed on {} (answer {}) since {}",
            l.target,
            l.zone,
            l.codes.join(", "),
            rfc3339(l.since * 1000)
        );
        if let Some(reason) = &l.reason {
            let _ = write!(description, "; the list says: {reason}");
        }
        let _ = write!(
            description,
            ". Sending domains affected: {}.",
            l.domains.join(", ")
        );
        let mut c = candidate(
            rule,
            AlertSeverity::Critical,
            domain,
            &s,
            format!("{} is listed on {}", l.target, l.zone),
            description,
        );
        c.labels.insert("target".into(), l.target.clone());
        c.labels.insert("zone".into(), l.zone.clone());
        out.push(c);
    }
}

/// The rules over one domain's check findings.
fn domain_rule(rule: RuleKind, d: &DomainState, s: &RuleSettings, out: &mut Vec<Candidate>) {
    let domain = d.domain.as_str();
    match rule {
        RuleKind::SpfTooManyLookups => {
            let Some(spf) = d.check("spf") else { return };
            let limit = s.threshold.unwrap_or(10.0);
            let lookups = d.spf_lookups.map(f64::from);
            let over = match lookups {
                Some(n) => n > limit,
                // No count learned (an invalid record): the check's own finding decides.
                None => has(spf, &["spf.too_many_lookups"]),
            };
            if over {
                let n = lookups.map_or_else(|| "more than 10".to_owned(), |n| n.to_string());
                out.push(candidate(
                    rule,
                    AlertSeverity::Critical,
                    domain,
                    s,
                    format!("The SPF record of {domain} needs {n} DNS lookups"),
                    format!(
                        "Evaluating the SPF record of {domain} needs {n} DNS-querying terms (alert above {limit}; RFC 7208 §4.6.4 stops at 10 and receivers return permerror). {}",
                        messages(spf, &["spf.too_many_lookups"])
                    ),
                ));
            }
        }
        RuleKind::SpfIpNotAuthorized => finding_rule(
            rule,
            d,
            "spf",
            &["spf.sending_ip_not_authorized"],
            s,
            AlertSeverity::Critical,
            format!("A sending IP of {domain} is not authorized by SPF"),
            out,
        ),
        RuleKind::DkimKeyProblem => dkim(d, s, out),
        RuleKind::DmarcMissing => finding_rule(
            rule,
            d,
            "dmarc",
            &["dmarc.missing"],
            s,
            AlertSeverity::Critical,
            format!("{domain} publishes no DMARC record"),
            out,
        ),
        RuleKind::DmarcPolicyNone => finding_rule(
            rule,
            d,
            "dmarc",
            &["dmarc.policy_none"],
            s,
            AlertSeverity::Warning,
            format!("The DMARC policy of {domain} is none"),
            out,
        ),
        RuleKind::DmarcPolicyWeakened => {
            let Some(c) = d.check("dmarc") else { return };
            for f in c.findings.iter().filter(|f| f.code == "record.changed") {
                let (Some(old), Some(new)) = (
                    f.detail["old"].as_str().and_then(dmarc_policy),
                    f.detail["new"].as_str().and_then(dmarc_policy),
                ) else {
                    continue;
                };
                if new >= old {
                    continue;
                }
                let severity = if new == 0 {
                    AlertSeverity::Critical
                } else {
                    AlertSeverity::Warning
                };
                out.push(candidate(
                    rule,
                    severity,
                    domain,
                    s,
                    format!(
                        "The DMARC policy of {domain} was weakened from {} to {}",
                        POLICIES[old], POLICIES[new]
                    ),
                    f.message.clone(),
                ));
            }
        }
        RuleKind::RecordChanged => {
            for c in &d.checks {
                if has(c, &["record.changed"]) {
                    let mut a = candidate(
                        rule,
                        AlertSeverity::Info,
                        domain,
                        s,
                        format!("A {} record of {domain} changed", c.check),
                        messages(c, &["record.changed"]),
                    );
                    a.labels.insert("check".into(), c.check.clone());
                    out.push(a);
                }
            }
        }
        RuleKind::MxBroken => finding_rule(
            rule,
            d,
            "mx",
            &["mx.missing", "mx.target_unresolvable"],
            s,
            AlertSeverity::Critical,
            format!("Mail to {domain} has no working MX"),
            out,
        ),
        RuleKind::MtaStsBroken => finding_rule(
            rule,
            d,
            "mta_sts",
            &["mta_sts.policy_unreachable", "mta_sts.mx_not_covered"],
            s,
            AlertSeverity::Warning,
            format!("The MTA-STS policy of {domain} is broken"),
            out,
        ),
        RuleKind::BlocklistListed
        | RuleKind::DnsUnreachable
        | RuleKind::DmarcFailureRate
        | RuleKind::UnknownSource
        | RuleKind::NoReports
        | RuleKind::BounceRate
        | RuleKind::ComplaintRate
        | RuleKind::IngestFailures => {}
    }
}

/// A rule that fires when `check` has any of `codes`; the description is their messages.
#[allow(clippy::too_many_arguments)]
fn finding_rule(
    rule: RuleKind,
    d: &DomainState,
    check: &str,
    codes: &[&str],
    s: &RuleSettings,
    severity: AlertSeverity,
    summary: String,
    out: &mut Vec<Candidate>,
) {
    let Some(c) = d.check(check) else { return };
    if has(c, codes) {
        out.push(candidate(
            rule,
            severity,
            &d.domain,
            s,
            summary,
            messages(c, codes),
        ));
    }
}

/// One alert per configured selector with a missing, revoked or short key.
fn dkim(d: &DomainState, s: &RuleSettings, out: &mut Vec<Candidate>) {
    let Some(c) = d.check("dkim") else { return };
    let min_bits = s.threshold.unwrap_or(2048.0);
    let mut by_selector: BTreeMap<&str, (AlertSeverity, Vec<&str>)> = BTreeMap::new();
    for f in &c.findings {
        let severity = match f.code.as_str() {
            "dkim.selector_missing" | "dkim.key_revoked" => AlertSeverity::Critical,
            // RFC 8301 §3.2: verifiers must not accept keys under 1024 bits.
            "dkim.weak_key" => match f.detail["bits"].as_f64() {
                Some(bits) if bits < 1024.0 => AlertSeverity::Critical,
                Some(bits) if bits < min_bits => AlertSeverity::Warning,
                Some(_) => continue,
                None if f.severity == Severity::Critical => AlertSeverity::Critical,
                None => AlertSeverity::Warning,
            },
            _ => continue,
        };
        // The selector label only for a configured selector: label values stay configuration.
        let Some(selector) = f.detail["selector"]
            .as_str()
            .filter(|sel| d.selectors.iter().any(|c| c == sel))
        else {
            continue;
        };
        let entry = by_selector
            .entry(selector)
            .or_insert((severity, Vec::new()));
        entry.0 = entry.0.max(severity);
        entry.1.push(&f.message);
    }
    // A key that the check thinks fine but the threshold does not (e.g. 2048 with threshold 4096).
    for (sel, bits) in &d.dkim_key_bits {
        if f64::from(*bits) < min_bits
            && !by_selector.contains_key(sel.as_str())
            && d.selectors.iter().any(|c| c == sel)
        {
            by_selector.insert(sel, (AlertSeverity::Warning, Vec::new()));
        }
    }
    for (selector, (severity, msgs)) in by_selector {
        let description = if msgs.is_empty() {
            format!(
                "The DKIM key at {selector}._domainkey.{} is shorter than {min_bits} bits (the configured threshold).",
                d.domain
            )
        } else {
            msgs.join(" ")
        };
        let mut a = candidate(
            RuleKind::DkimKeyProblem,
            severity,
            &d.domain,
            s,
            format!(
                "The DKIM key of {} at selector {selector} is missing, revoked or weak",
                d.domain
            ),
            description,
        );
        a.labels.insert("selector".into(), selector.to_owned());
        out.push(a);
    }
}

/// One alert per domain whose checks could not run because lookups failed.
fn dns_unreachable(d: &DomainState, s: &RuleSettings, out: &mut Vec<Candidate>) {
    let failed: Vec<&CheckState> = d
        .checks
        .iter()
        .filter(|c| {
            c.status == Severity::Unknown
                && c.findings
                    .iter()
                    .any(|f| f.code.ends_with(".lookup_failed"))
        })
        .collect();
    if failed.is_empty() {
        return;
    }
    let names: Vec<&str> = failed.iter().map(|c| c.check.as_str()).collect();
    let first = failed
        .iter()
        .flat_map(|c| &c.findings)
        .find(|f| f.code.ends_with(".lookup_failed"))
        .map_or("", |f| f.message.as_str());
    out.push(candidate(
        RuleKind::DnsUnreachable,
        AlertSeverity::Warning,
        &d.domain,
        s,
        format!("Checks of {} cannot reach DNS", d.domain),
        format!(
            "{} of {} checks of {} could not run: {}. First error: {first}",
            failed.len(),
            d.checks.len(),
            d.domain,
            names.join(", ")
        ),
    ));
}

/// DMARC policies, weakest first (RFC 9989 §4.7 `p`).
const POLICIES: [&str; 3] = ["none", "quarantine", "reject"];

/// The strength of a DMARC record's `p=` tag (an index into [`POLICIES`]), if it has a known one.
fn dmarc_policy(record: &str) -> Option<usize> {
    if !record
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("v=dmarc1")
    {
        return None;
    }
    record.split(';').find_map(|tag| {
        let (name, value) = tag.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("p") {
            return None;
        }
        let value = value.trim().to_ascii_lowercase();
        POLICIES.iter().position(|p| *p == value)
    })
}

fn has(c: &CheckState, codes: &[&str]) -> bool {
    c.findings.iter().any(|f| codes.contains(&f.code.as_str()))
}

fn messages(c: &CheckState, codes: &[&str]) -> String {
    c.findings
        .iter()
        .filter(|f| codes.contains(&f.code.as_str()))
        .map(|f| f.message.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Unix milliseconds as RFC 3339 UTC (what Alertmanager's API and the webhooks carry).
pub fn rfc3339(unix_ms: i64) -> String {
    let nanos = i128::from(unix_ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
}

mod flows;

pub(crate) use flows::human;

#[cfg(test)]
mod tests;
