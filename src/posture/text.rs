//! The terminal view of a [`PostureReport`]: worst first (domains, then checks, then findings), one
//! line per finding with its code and message, each check's record beside it, and a closing status line.
//!
//! With `--blocklist` ([`render_with`]): a `blocklists` row under each domain and IP summing up its
//! listings (`listed on zen.spamhaus.org; not listed on 5 zones`), one line per listing, refusal or
//! failure with its sentence, and the zone-level findings (unhealthy, refused, failed zones) last.

use std::fmt::Write as _;

use super::{DomainReport, IpReport, PostureReport};
use crate::blocklists::{self, Listing, RoundReport, Target, TargetReport, ZoneListing};
use crate::findings::{CheckReport, Finding, Severity};

/// Longest record line shown as is; longer ones (DKIM keys) are cut, the JSON output has them whole.
const RECORD_WIDTH: usize = 160;

/// Render the report for a terminal.
pub fn render(report: &PostureReport) -> String {
    render_with(report, None)
}

/// Render the report and, when blocklists were queried, what they said about the same domains and IPs.
pub fn render_with(report: &PostureReport, round: Option<&RoundReport>) -> String {
    let by_target = round.map(RoundReport::by_target).unwrap_or_default();
    let of = |target: Target| -> Option<&TargetReport> {
        by_target
            .get(&target)
            .copied()
            .filter(|t| !t.listings.is_empty())
    };
    let mut out = String::new();
    let mut domains: Vec<(&DomainReport, Option<&TargetReport>)> = report
        .domains
        .iter()
        .map(|d| (d, of(Target::Domain(d.domain.clone()))))
        .collect();
    domains.sort_by_key(|(d, t)| std::cmp::Reverse(d.status.max(status(*t))));
    for (d, t) in domains {
        domain(&mut out, d, t);
        out.push('\n');
    }
    let mut ips: Vec<(&IpReport, Option<&TargetReport>)> = report
        .ips
        .iter()
        .map(|i| (i, of(Target::Ip(i.ip))))
        .collect();
    ips.sort_by_key(|(i, t)| std::cmp::Reverse(i.status.max(status(*t))));
    for (i, t) in &ips {
        ip(&mut out, i, *t);
    }
    if !ips.is_empty() {
        out.push('\n');
    }
    let mut overall = report.status;
    let mut zones = String::new();
    if let Some(round) = round {
        overall = overall.max(round.status);
        if !round.zone_findings.is_empty() {
            let _ = writeln!(
                out,
                "{:<9} blocklist zones",
                label(crate::findings::worst(&round.zone_findings))
            );
            findings(&mut out, &round.zone_findings);
            out.push('\n');
        }
        zones = format!(
            ", {} blocklist zone{}",
            round.zones.len(),
            plural(round.zones.len())
        );
    }
    let _ = writeln!(
        out,
        "{}: {} domain{}, {} IP{}{zones}",
        label(overall),
        report.domains.len(),
        plural(report.domains.len()),
        report.ips.len(),
        plural(report.ips.len()),
    );
    out
}

fn status(t: Option<&TargetReport>) -> Severity {
    t.map_or(Severity::Ok, |t| t.status)
}

/// `listed on zen.spamhaus.org, bl.spamcop.net; not listed on 4 zones; not checked on 1 (multi.uribl.com)`.
fn listings_summary(listings: &[ZoneListing]) -> String {
    let zones = |pred: fn(&Listing) -> bool| -> Vec<&str> {
        listings
            .iter()
            .filter(|l| pred(&l.listing))
            .map(|l| l.zone.as_str())
            .collect()
    };
    let listed = zones(|l| l.is_listed());
    let clean = zones(|l| matches!(l, Listing::NotListed));
    let unknown = zones(|l| matches!(l, Listing::Refused { .. } | Listing::LookupFailed(_)));
    let mut parts = Vec::new();
    if !listed.is_empty() {
        parts.push(format!("listed on {}", listed.join(", ")));
    }
    if !clean.is_empty() {
        parts.push(format!(
            "not listed on {} zone{}",
            clean.len(),
            plural(clean.len())
        ));
    }
    if !unknown.is_empty() {
        parts.push(format!(
            "not checked on {} ({})",
            unknown.len(),
            unknown.join(", ")
        ));
    }
    parts.join("; ")
}

fn domain(out: &mut String, d: &DomainReport, bl: Option<&TargetReport>) {
    let _ = writeln!(out, "{:<9} {}", label(d.status.max(status(bl))), d.domain);
    let row = bl.map(|t| CheckReport {
        target: t.target.to_string(),
        check: blocklists::CHECK,
        status: t.status,
        record: Some(listings_summary(&t.listings)),
        findings: t.findings.clone(),
        checked_at: 0,
        duration: std::time::Duration::ZERO,
    });
    let mut checks: Vec<&CheckReport> = d.checks.iter().chain(row.as_ref()).collect();
    checks.sort_by_key(|c| std::cmp::Reverse(c.status));
    for c in checks {
        let mut lines = c.record.as_deref().unwrap_or("").lines();
        let first = lines.next().map(shorten).unwrap_or_default();
        line(
            out,
            format!("  {:<9} {:<12} {first}", label(c.status), c.check),
        );
        for more in lines {
            line(out, format!("  {:<9} {:<12} {}", "", "", shorten(more)));
        }
        findings(out, &c.findings);
    }
}

fn ip(out: &mut String, i: &IpReport, bl: Option<&TargetReport>) {
    let ptr = match (&i.ptr, i.fcrdns) {
        (Some(name), Some(true)) => format!("PTR {name} (forward-confirmed)"),
        (Some(name), Some(false)) => format!("PTR {name} (not forward-confirmed)"),
        (Some(name), None) => format!("PTR {name} (forward confirmation unknown)"),
        (None, _) => "no PTR".to_owned(),
    };
    let _ = writeln!(
        out,
        "{:<9} IP {}  {ptr}",
        label(i.status.max(status(bl))),
        i.ip
    );
    findings(out, &i.findings);
    if let Some(t) = bl {
        line(
            out,
            format!(
                "  {:<9} {:<12} {}",
                label(t.status),
                blocklists::CHECK,
                listings_summary(&t.listings)
            ),
        );
        findings(out, &t.findings);
    }
}

fn findings(out: &mut String, findings: &[Finding]) {
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by_key(|f| std::cmp::Reverse(f.severity));
    for f in sorted {
        let _ = writeln!(
            out,
            "      {:<8} {}: {}",
            f.severity.as_str(),
            f.code,
            f.message
        );
    }
}

/// One line without trailing blanks (a check without a record ends at its name).
fn line(out: &mut String, text: String) {
    out.push_str(text.trim_end());
    out.push('\n');
}

fn shorten(line: &str) -> String {
    if line.len() <= RECORD_WIDTH {
        return line.to_owned();
    }
    let mut cut = RECORD_WIDTH;
    while !line.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… ({} bytes)", &line[..cut], line.len())
}

fn label(s: Severity) -> &'static str {
    match s {
        Severity::Ok => "OK",
        Severity::Info => "INFO",
        Severity::Warning => "WARNING",
        Severity::Unknown => "UNKNOWN",
        Severity::Critical => "CRITICAL",
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
