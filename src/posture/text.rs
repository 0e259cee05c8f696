//! The terminal view of a [`PostureReport`]: worst first (domains, then checks, then findings), one
//! line per finding with its code and message, each check's record beside it, and a closing status line.

use std::fmt::Write as _;

use super::{DomainReport, IpReport, PostureReport};
use crate::findings::{CheckReport, Finding, Severity};

/// Longest record line shown as is; longer ones (DKIM keys) are cut, the JSON output has them whole.
const RECORD_WIDTH: usize = 160;

/// Render the report for a terminal.
pub fn render(report: &PostureReport) -> String {
    let mut out = String::new();
    let mut domains: Vec<&DomainReport> = report.domains.iter().collect();
    domains.sort_by_key(|d| std::cmp::Reverse(d.status));
    for d in domains {
        domain(&mut out, d);
        out.push('\n');
    }
    let mut ips: Vec<&IpReport> = report.ips.iter().collect();
    ips.sort_by_key(|i| std::cmp::Reverse(i.status));
    for i in &ips {
        ip(&mut out, i);
    }
    if !ips.is_empty() {
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "{}: {} domain{}, {} IP{}",
        label(report.status),
        report.domains.len(),
        plural(report.domains.len()),
        report.ips.len(),
        plural(report.ips.len()),
    );
    out
}

fn domain(out: &mut String, d: &DomainReport) {
    let _ = writeln!(out, "{:<9} {}", label(d.status), d.domain);
    let mut checks: Vec<&CheckReport> = d.checks.iter().collect();
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

fn ip(out: &mut String, i: &IpReport) {
    let ptr = match (&i.ptr, i.fcrdns) {
        (Some(name), true) => format!("PTR {name} (forward-confirmed)"),
        (Some(name), false) => format!("PTR {name} (not forward-confirmed)"),
        (None, _) => "no PTR".to_owned(),
    };
    let _ = writeln!(out, "{:<9} IP {}  {ptr}", label(i.status), i.ip);
    findings(out, &i.findings);
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
