//! The rules over what flows in rather than what is published: DMARC aggregate reports
//! (`dmarc_failure_rate`, `unknown_source`, `no_reports`), bounce and complaint events
//! (`bounce_rate`, `complaint_rate`) and the ingest pipeline's refusals (`ingest_failures`).
//!
//! Each reads the figures the snapshot adapter (`alerts::inputs`) put in the [`Snapshot`]; a figure
//! that was not read is `None` and the rule says nothing. Labels stay bounded: `domain` is
//! configuration, `provider` a mailbox-provider label from code; source IPs, which come from
//! reports, go in the description only.

use std::fmt::Write as _;
use std::time::Duration;

use super::{AlertSeverity, Candidate, RuleKind, candidate, rfc3339};
use crate::alerts::settings::RuleSettings;
use crate::alerts::snapshot::{DomainState, RateFigure, RateFigures, Snapshot};

/// Sources named in an `unknown_source` description; the rest are counted.
const SOURCES_NAMED: usize = 5;
/// Providers named in a rate description.
const PROVIDERS_NAMED: usize = 3;
/// The longest refusal message quoted in an `ingest_failures` description (it may quote input).
const ERROR_QUOTED: usize = 200;

/// The per-domain rules of this file.
pub(super) fn domain_rule(
    rule: RuleKind,
    d: &DomainState,
    s: &RuleSettings,
    now: i64,
    out: &mut Vec<Candidate>,
) {
    match rule {
        RuleKind::DmarcFailureRate => dmarc_failure_rate(d, s, out),
        RuleKind::UnknownSource => unknown_source(d, s, out),
        RuleKind::NoReports => no_reports(d, s, now, out),
        RuleKind::BounceRate => {
            if let Some(f) = &d.bounces {
                rate(rule, &d.domain, f, s, out);
            }
        }
        RuleKind::ComplaintRate => {
            if let Some(f) = &d.complaints {
                rate(rule, &d.domain, f, s, out);
            }
        }
        _ => {}
    }
}

fn dmarc_failure_rate(d: &DomainState, s: &RuleSettings, out: &mut Vec<Candidate>) {
    let Some(f) = &d.dmarc else { return };
    let limit = s.threshold.unwrap_or(0.05);
    let min = s.min_volume.unwrap_or(100).max(1);
    // The volume gate: a handful of reported messages says little about a domain.
    if f.messages < min {
        return;
    }
    let share = f.failing as f64 / f.messages as f64;
    if share <= limit {
        return;
    }
    let domain = d.domain.as_str();
    out.push(candidate(
        RuleKind::DmarcFailureRate,
        AlertSeverity::Warning,
        domain,
        s,
        format!("{} of the mail reported for {domain} fails DMARC", pct(share)),
        format!(
            "In the DMARC aggregate reports for {domain} covering the last {} ({} report{}), {} of {} messages ({}) passed neither aligned DKIM nor aligned SPF (alert above {} from {min} messages).",
            f.window,
            f.reports,
            if f.reports == 1 { "" } else { "s" },
            f.failing,
            f.messages,
            pct(share),
            pct(limit)
        ),
    ));
}

fn unknown_source(d: &DomainState, s: &RuleSettings, out: &mut Vec<Candidate>) {
    let limit = s.threshold.unwrap_or(100.0);
    let over: Vec<_> = d
        .failing_sources
        .iter()
        .filter(|src| src.failing as f64 > limit)
        .collect();
    let Some(top) = over.first() else { return };
    let domain = d.domain.as_str();
    let window = s.window.map_or_else(String::new, human);
    let summary = if over.len() == 1 {
        format!("{} sends mail as {domain} that fails DMARC", top.source_ip)
    } else {
        format!(
            "{} unknown sources send mail as {domain} that fails DMARC",
            over.len()
        )
    };
    let named: Vec<String> = over
        .iter()
        .take(SOURCES_NAMED)
        .map(|src| format!("{} ({} messages)", src.source_ip, src.failing))
        .collect();
    let mut description = format!(
        "DMARC aggregate reports for {domain} covering the last {window} show {} source{} outside the configured sending IPs with more than {limit} messages each that passed neither aligned DKIM nor aligned SPF: {}",
        over.len(),
        if over.len() == 1 { "" } else { "s" },
        named.join(", ")
    );
    if over.len() > SOURCES_NAMED {
        let _ = write!(description, ", and {} more", over.len() - SOURCES_NAMED);
    }
    description.push_str(
        ". Either a service you use sends without your SPF or DKIM (authorize it), or someone spoofs the domain (DMARC enforcement stops them).",
    );
    out.push(candidate(
        RuleKind::UnknownSource,
        AlertSeverity::Warning,
        domain,
        s,
        summary,
        description,
    ));
}

fn no_reports(d: &DomainState, s: &RuleSettings, now: i64, out: &mut Vec<Candidate>) {
    let Some(h) = d.report_history else { return };
    // min_volume 1 (the default): only domains that had a report before; 0: every domain.
    if h.reports < s.min_volume.unwrap_or(1) {
        return;
    }
    let window = s.window.unwrap_or(Duration::from_secs(48 * 3600));
    let since = now.saturating_sub(i64::try_from(window.as_secs()).unwrap_or(i64::MAX));
    if h.last_end.is_some_and(|end| end > since) {
        return;
    }
    let domain = d.domain.as_str();
    let description = match h.last_end {
        Some(end) => format!(
            "The latest DMARC aggregate report stored for {domain} covers up to {}, more than {} ago: the rua address, the mailbox it delivers to or the ingest source may be broken.",
            rfc3339(end.saturating_mul(1000)),
            human(window)
        ),
        None => format!(
            "No DMARC aggregate report has ever been stored for {domain}: check that its DMARC record has an rua address that reaches a source senderscope reads."
        ),
    };
    out.push(candidate(
        RuleKind::NoReports,
        AlertSeverity::Warning,
        domain,
        s,
        format!("No DMARC reports for {domain} in {}", human(window)),
        description,
    ));
}

/// How bad a rate is, if it is judged at all (below the volume gate it is not).
fn judge(f: &RateFigure, s: &RuleSettings) -> Option<AlertSeverity> {
    let min = s.min_volume.unwrap_or(100).max(1);
    let rate = f.rate().filter(|_| f.volume >= min)?;
    let warning = s.threshold.unwrap_or(f64::INFINITY);
    let critical = s.critical.unwrap_or(f64::INFINITY);
    // At or above a level, as the events module judges rates for the status page.
    if rate >= critical {
        Some(AlertSeverity::Critical)
    } else if rate >= warning {
        Some(AlertSeverity::Warning)
    } else {
        None
    }
}

/// One alert for the domain when its rate is over a level, and one per mailbox provider whose own
/// rate is worse than the domain's (a provider as bad as the whole adds nothing).
fn rate(rule: RuleKind, domain: &str, f: &RateFigures, s: &RuleSettings, out: &mut Vec<Candidate>) {
    let (noun, what) = match rule {
        RuleKind::BounceRate => ("bounces", "deliveries + bounces"),
        _ => ("complaints", "deliveries"),
    };
    let levels = format!(
        "warning at {}, critical at {}, judged from {} messages",
        pct(s.threshold.unwrap_or(f64::INFINITY)),
        pct(s.critical.unwrap_or(f64::INFINITY)),
        s.min_volume.unwrap_or(100).max(1)
    );
    let whole = judge(&f.total, s);
    if let (Some(severity), Some(r)) = (whole, f.total.rate()) {
        let mut description = format!(
            "The {} {} rate of {domain} is {}: {} {noun} of {} messages ({what}) ({levels}).",
            f.window,
            singular(noun),
            pct(r),
            f.total.events,
            f.total.volume
        );
        let mut worst: Vec<&(String, RateFigure)> =
            f.providers.iter().filter(|(_, p)| p.events > 0).collect();
        worst.sort_by(|a, b| {
            b.1.rate()
                .partial_cmp(&a.1.rate())
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(b.1.volume.cmp(&a.1.volume))
        });
        if !worst.is_empty() {
            let named: Vec<String> = worst
                .iter()
                .take(PROVIDERS_NAMED)
                .map(|(name, p)| {
                    format!(
                        "{name} {} ({}/{})",
                        pct(p.rate().unwrap_or(0.0)),
                        p.events,
                        p.volume
                    )
                })
                .collect();
            let _ = write!(description, " Worst providers: {}.", named.join(", "));
        }
        out.push(candidate(
            rule,
            severity,
            domain,
            s,
            summary(rule, domain, r, None),
            description,
        ));
    }
    for (provider, p) in &f.providers {
        let (Some(severity), Some(r)) = (judge(p, s), p.rate()) else {
            continue;
        };
        if whole.is_some_and(|w| w >= severity) {
            continue;
        }
        let mut c = candidate(
            rule,
            severity,
            domain,
            s,
            summary(rule, domain, r, Some(provider)),
            format!(
                "The {} {} rate of {domain} at {provider} is {}: {} {noun} of {} messages ({what}) ({levels}). The domain as a whole is at {}.",
                f.window,
                singular(noun),
                pct(r),
                p.events,
                p.volume,
                f.total.rate().map_or_else(|| "no rate".to_owned(), pct)
            ),
        );
        c.labels.insert("provider".into(), provider.clone());
        out.push(c);
    }
}

fn singular(noun: &str) -> &str {
    noun.strip_suffix('s').unwrap_or(noun)
}

fn summary(rule: RuleKind, domain: &str, r: f64, provider: Option<&str>) -> String {
    let to = provider.map_or_else(String::new, |p| format!(" to {p}"));
    match rule {
        RuleKind::BounceRate => format!("{domain} bounces {} of its mail{to}", pct(r)),
        _ => format!("{domain} draws complaints on {} of its mail{to}", pct(r)),
    }
}

/// `ingest_failures`: one alert for the daemon (no `domain`: a refused input often names none).
pub(super) fn ingest_failures(snapshot: &Snapshot, s: &RuleSettings, out: &mut Vec<Candidate>) {
    let Some(f) = &snapshot.ingest_failures else {
        return;
    };
    let limit = s.threshold.unwrap_or(0.0);
    if f.count as f64 <= limit {
        return;
    }
    let reasons: Vec<String> = f
        .by_reason
        .iter()
        .map(|(reason, n)| format!("{reason} {n}"))
        .collect();
    let mut description = format!(
        "The ingest pipeline refused {} input{} in the last {} (alert above {limit}): {}. Refused files are kept in failed/ with the reason beside them; refused uploads were answered 422.",
        f.count,
        if f.count == 1 { "" } else { "s" },
        f.window,
        reasons.join(", ")
    );
    if let Some(last) = &f.last_error {
        let quoted: String = last.chars().take(ERROR_QUOTED).collect();
        let more = if quoted.len() < last.len() { "…" } else { "" };
        let _ = write!(description, " Latest: {quoted}{more}");
    }
    out.push(Candidate {
        rule: RuleKind::IngestFailures,
        severity: AlertSeverity::Warning,
        labels: Default::default(),
        summary: format!(
            "{} input{} failed to ingest in the last {}",
            f.count,
            if f.count == 1 { "" } else { "s" },
            f.window
        ),
        description,
        for_: s.for_,
    });
}

/// A share as a percentage with at most two decimals (`5%`, `0.25%`).
pub(crate) fn pct(share: f64) -> String {
    if !share.is_finite() {
        return "—".to_owned();
    }
    let text = format!("{:.2}", share * 100.0);
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
}

/// A window as the config writes durations (`48h`, `30m`, `7d`).
pub(crate) fn human(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0 => "0s".to_owned(),
        s if s % (7 * 86_400) == 0 || (s % 86_400 == 0 && s > 7 * 86_400) => {
            format!("{}d", s / 86_400)
        }
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests;
