//! `GET /`: every configured domain and sending IP worst first (as `/api/v1/status`) with its
//! DMARC pass rate over 7 days and enforcement verdict, the
//! blocklist zones, the active alerts and the bounce and complaint rates.

use std::collections::HashMap;

use maud::{Markup, html};

use super::layout::{self, page};
use super::{Extras, dmarc};
use crate::analysis::PassRate;
use crate::events::rates::DomainRates;
use crate::http::alerts::AlertView;
use crate::views::{CheckSummary, IpEntry, StatusResponse};

/// The overview page; `pass_rates` holds the 7-day DMARC pass rate of each listed domain that could
/// be read (the verdicts are in the view's `enforcement`).
pub(crate) fn render(
    v: &StatusResponse,
    pass_rates: &HashMap<String, PassRate>,
    extras: &Extras,
) -> Markup {
    let body = html! {
        p { "Overall: " (layout::status(v.status)) }
        @if !v.config.last_reload_successful {
            p {
                "The last configuration reload was refused; the previous configuration keeps running. "
                @if let Some(e) = &v.config.last_error { "Why: " (e) }
            }
        }
        h2 { "Domains" }
        (domains(v, pass_rates))
        h2 { "Sending IPs" }
        (ips(&v.ips))
        h2 { "Blocklist zones" }
        (checks_table("Blocklist rounds and the resolver", &v.blocklists.checks))
        h2 { "Active alerts" }
        (alerts(&extras.alerts, None))
        h2 { "Bounce and complaint rates" }
        (rates(&extras.rates, None))
    };
    page("Deliverability status", body)
}

fn domains(v: &StatusResponse, pass_rates: &HashMap<String, PassRate>) -> Markup {
    html! {
        @if v.domains.is_empty() {
            p { "No domain is configured." }
        } @else {
            table {
                caption {
                    "Configured domains, worst first (" (v.domains.len()) " of " (v.page.domains_total) ")"
                }
                (layout::column_heads(&["Domain", "Status", "Summary", "DMARC pass rate (7 days)", "Enforcement (30 days)"]))
                tbody {
                    @for d in &v.domains {
                        tr {
                            th scope="row" { a href={ "/domains/" (d.domain) } { (d.domain) } }
                            td { (layout::status(d.status)) }
                            td { (d.summary) }
                            td {
                                @match pass_rates.get(&d.domain) {
                                    Some(p) => (dmarc::pass_rate(p)),
                                    None => "Not available",
                                }
                            }
                            td {
                                @match &d.enforcement {
                                    Some(e) => (layout::verdict(e.verdict)),
                                    None => "Not available",
                                }
                            }
                        }
                    }
                }
            }
            @if v.page.domains_left_out > 0 {
                p {
                    (v.page.domains_left_out) " more not shown; "
                    a href={ "/?offset=" (v.page.offset + v.page.limit) "&limit=" (v.page.limit) } { "next page" }
                    "."
                }
            }
        }
    }
}

/// The IP entries (single addresses or ranges) with their listings.
pub(crate) fn ips<C>(entries: &[IpEntry<C>]) -> Markup {
    html! {
        @if entries.is_empty() {
            p { "No sending IP is configured." }
        } @else {
            table {
                caption { "Sending IPs and ranges, worst first" }
                (layout::column_heads(&["IP or range", "Status", "PTR name", "Forward-confirmed", "Listed on", "Summary"]))
                tbody {
                    @for e in entries {
                        tr {
                            th scope="row" { (e.ip) }
                            td { (layout::status(e.status)) }
                            td { (e.ptr.as_deref().unwrap_or("–")) }
                            td { (match e.fcrdns { Some(true) => "Yes", Some(false) => "No", None => "Not known" }) }
                            td {
                                @if e.listings.is_empty() { "None" }
                                @for (i, l) in e.listings.iter().enumerate() {
                                    @if i > 0 { ", " }
                                    (l.zone)
                                }
                            }
                            td { (e.summary) }
                        }
                    }
                }
            }
        }
    }
}

/// One table of checks and their findings (summaries).
fn checks_table(caption: &str, checks: &[CheckSummary]) -> Markup {
    html! {
        @if checks.is_empty() {
            p { "No blocklist round has run yet." }
        } @else {
            table {
                caption { (caption) }
                (layout::column_heads(&["Check", "Status", "Findings"]))
                tbody {
                    @for c in checks {
                        tr {
                            th scope="row" { (c.check.as_str()) }
                            td { (layout::severity(c.status)) }
                            td {
                                @if c.findings.is_empty() { "None" }
                                @for f in &c.findings {
                                    p { (layout::severity(f.severity)) " " code { (f.code) } ": " (f.message) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The active alerts, all or those labelled with `domain`.
pub(crate) fn alerts(list: &Result<Vec<AlertView>, &'static str>, domain: Option<&str>) -> Markup {
    let list = match list {
        Ok(l) => l,
        Err(why) => return html! { p { (why) } },
    };
    let shown: Vec<&AlertView> = list
        .iter()
        .filter(|a| domain.is_none_or(|d| a.labels.get("domain").is_some_and(|l| l == d)))
        .collect();
    html! {
        @if shown.is_empty() {
            p { "No alert is pending or firing." }
        } @else {
            table {
                caption { "Pending and firing alerts, firing first" }
                (layout::column_heads(&["Alert", "State", "Severity", "Summary", "Active since"]))
                tbody {
                    @for a in shown {
                        tr {
                            th scope="row" { (a.labels.get("alertname").map_or("", String::as_str)) }
                            td { (if a.state == "firing" { "Firing" } else { "Pending" }) }
                            td { (a.labels.get("severity").map_or("–", String::as_str)) }
                            td { (a.annotations.get("summary").map_or("", String::as_str)) }
                            td { (a.active_at) }
                        }
                    }
                }
            }
        }
    }
}

/// The rates, all domains or one.
pub(crate) fn rates(list: &Result<Vec<DomainRates>, &'static str>, domain: Option<&str>) -> Markup {
    let list = match list {
        Ok(l) => l,
        Err(why) => return html! { p { (why) } },
    };
    let shown: Vec<&DomainRates> = list
        .iter()
        .filter(|r| domain.is_none_or(|d| r.domain == d))
        .collect();
    html! {
        @if shown.is_empty() {
            p { "No rate window is configured." }
        } @else {
            table {
                caption { "Bounce and complaint rates per rolling window" }
                (layout::column_heads(&["Domain", "Window", "Delivered", "Bounced", "Complaints", "Bounce rate", "Bounce judgement", "Complaint rate", "Complaint judgement"]))
                tbody {
                    @for r in shown {
                        tr {
                            th scope="row" { (r.domain) }
                            td { (r.window) }
                            td { (r.counts.deliveries) }
                            td { (r.counts.bounces) }
                            td { (r.counts.complaints) }
                            td { (layout::percent(r.bounce_rate)) }
                            td { (layout::judgement(r.bounce_status)) }
                            td { (layout::percent(r.complaint_rate)) }
                            td { (layout::judgement(r.complaint_status)) }
                        }
                    }
                }
            }
        }
    }
}
