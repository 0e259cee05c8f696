//! What the DMARC aggregate reports say, on the page: the domain's pass rates over 24 hours and 7
//! days, its enforcement verdict with the reasons, and the sources with the most failing mail with
//! the fix for each problem; on the overview, one pass rate and verdict per domain. The figures are
//! those of `/api/v1/domains/{domain}` (`reports`, docs/api.md), read by [`crate::http::analysis`].

use maud::{Markup, html};

use super::layout;
use crate::analysis::PassRate;
use crate::analysis::readiness::Enforcement;
use crate::analysis::sources::{Problem, ProblemKind, Source};
use crate::views::reports::DomainReports;

/// Said where the figures could not be read (the store refused; the log says why).
pub(crate) const UNREADABLE: &str =
    "The DMARC report figures could not be read; see the daemon's log.";

/// The domain page's section body: pass rates, verdict, failing sources.
pub(crate) fn section(figures: Option<&(DomainReports, std::sync::Arc<Enforcement>)>) -> Markup {
    let Some((r, e)) = figures else {
        return html! { p { (UNREADABLE) } };
    };
    html! {
        table {
            caption { "DMARC pass rate (reports whose interval ended in the window)" }
            (layout::column_heads(&["Window", "Messages", "Passed DMARC", "Failed DMARC", "Pass rate"]))
            tbody {
                (rate_row("Last 24 hours", &r.pass_rate_24h))
                (rate_row("Last 7 days", &r.pass_rate_7d))
            }
        }
        h3 { "Enforcement readiness (last " (e.window_days) " days)" }
        p { "Verdict: " (layout::verdict(e.verdict)) }
        @if !e.reasons.is_empty() {
            ul {
                @for reason in &e.reasons {
                    li { (reason) }
                }
            }
        }
        h3 { "Top failing sources (last 7 days)" }
        (failing_sources(&r.top_failing_sources))
    }
}

fn rate_row(window: &str, p: &PassRate) -> Markup {
    html! {
        tr {
            th scope="row" { (window) }
            td { (p.messages) }
            td { (p.passed) }
            td { (p.messages.saturating_sub(p.passed)) }
            td { (pass_rate(p)) }
        }
    }
}

/// A pass rate in words: "97.50 % (780 of 800 messages)", or that no mail was reported.
pub(crate) fn pass_rate(p: &PassRate) -> String {
    match p.rate {
        Some(rate) if p.messages > 0 => format!(
            "{} ({} of {} messages)",
            layout::percent(Some(rate)),
            p.passed,
            p.messages
        ),
        _ => "No reported mail".to_owned(),
    }
}

fn failing_sources(sources: &[Source]) -> Markup {
    html! {
        @if sources.is_empty() {
            p { "No source failed DMARC in the last 7 days." }
        } @else {
            table {
                caption { "Sources with the most mail failing DMARC, last 7 days" }
                (layout::column_heads(&["IP", "PTR name", "Sender", "Messages", "Failed DMARC", "What failed and how to fix it"]))
                tbody {
                    @for s in sources {
                        tr {
                            th scope="row" { (s.ip) }
                            td { (s.identity.ptr.as_deref().unwrap_or("None")) }
                            td { (s.identity.sender) }
                            td { (s.messages) }
                            td { (s.failed) }
                            td {
                                @if s.problems.is_empty() { "Not known" }
                                @for p in &s.problems {
                                    p { (problem(p)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// "**What went wrong** (domain, selector, result as reported), N messages. The fix."
fn problem(p: &Problem) -> Markup {
    let has_detail = p.domain.is_some() || p.selector.is_some() || p.result.is_some();
    html! {
        strong { (kind_words(p.kind)) }
        @if has_detail {
            " ("
            @if let Some(d) = &p.domain { code { (d) } }
            @if let Some(s) = &p.selector {
                @if p.domain.is_some() { ", " }
                "selector " code { (s) }
            }
            @if let Some(r) = &p.result {
                @if p.domain.is_some() || p.selector.is_some() { ", " }
                "result " (r)
            }
            ")"
        }
        ", " (p.messages) " messages. " (p.fix)
    }
}

/// What went wrong, as a person says it.
fn kind_words(k: ProblemKind) -> &'static str {
    match k {
        ProblemKind::SpfNotAligned => "SPF checked a domain not aligned with From",
        ProblemKind::SpfNotAuthorized => "SPF failed: the IP is not authorized",
        ProblemKind::SpfError => "SPF could not be evaluated",
        ProblemKind::SpfMissing => "No SPF result reported",
        ProblemKind::DkimNotAligned => "DKIM signed by a domain not aligned with From",
        ProblemKind::DkimFailed => "The aligned DKIM signature did not verify",
        ProblemKind::DkimUnsigned => "No DKIM signature",
    }
}
