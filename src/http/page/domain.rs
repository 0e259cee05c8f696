//! `GET /domains/{domain}`: one domain as `/api/v1/domains/{domain}` shows it: status, every check
//! with its findings (each message says what is wrong and how to fix it), what the DMARC aggregate
//! reports say (pass rates, enforcement verdict, failing sources), open blocklist listings
//! of the domain and its IPs, its rates per mailbox provider, its bounces by reason beside the
//! findings that explain them, and its active alerts.

use std::sync::Arc;

use maud::{Markup, html};

use super::layout::{self, page};
use super::{Extras, dmarc, overview};
use crate::analysis::readiness::Enforcement;
use crate::events::rates::DomainRates;
use crate::results::CheckId;
use crate::store::ListingPeriod;
use crate::views::bounces::DomainBounces;
use crate::views::reports::DomainReports;
use crate::views::{CheckDetail, DomainDetail};

/// The page of one configured domain; `reports` is `None` when the report figures could not be read.
pub(crate) fn render(
    d: &DomainDetail,
    reports: Option<&(DomainReports, Arc<Enforcement>)>,
    extras: &Extras,
) -> Markup {
    let listings: Vec<&ListingPeriod> = d
        .listings
        .iter()
        .chain(d.ips.iter().flat_map(|i| &i.listings))
        .collect();
    let body = html! {
        p { "Status: " (layout::status(d.status)) }
        p { (d.summary) }
        @if !d.dkim_selectors.is_empty() {
            p { "DKIM selectors checked: " (d.dkim_selectors.join(", ")) }
        }
        h2 { "Checks" }
        @if d.checks.is_empty() {
            p { "Not checked yet." }
        }
        @for c in &d.checks {
            (check(None, c))
        }
        h2 { "DMARC aggregate reports" }
        (dmarc::section(reports))
        h2 { "Blocklist listings" }
        (listings_table(&listings))
        h2 { "Sending IPs" }
        (overview::ips(&d.ips))
        @for ip in &d.ips {
            @for c in &ip.checks {
                (check(Some(&ip.ip), c))
            }
        }
        h2 { "Bounce and complaint rates" }
        (overview::rates(&extras.rates, Some(&d.domain)))
        (providers(&extras.rates, &d.domain))
        @if let Some(b) = &d.bounces {
            (bounce_reasons(&d.domain, b))
        }
        h2 { "Active alerts" }
        (overview::alerts(&extras.alerts, Some(&d.domain)))
    };
    page(&d.domain, body)
}

/// The 404 page for a name that is not a configured domain.
pub(crate) fn unknown(name: &str) -> Markup {
    page(
        "Unknown domain",
        html! {
            p { "“" (name) "” is not a domain in the running configuration." }
            p { a href="/" { "All configured domains" } }
        },
    )
}

/// A check's heading text: its name, after the sending IP (or range) of an IP-scoped check.
fn check_name(ip: Option<&str>, check: CheckId) -> String {
    match ip {
        Some(ip) => format!("{ip} {}", check.as_str()),
        None => check.as_str().to_owned(),
    }
}

/// The id of a check's section, the target of links to it.
fn check_anchor(name: &str) -> String {
    // Ids stay valid tokens whatever the IP text holds (`:` and `/` of IPv6 ranges).
    format!("check-{name}")
        .chars()
        .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '-' })
        .collect()
}

/// One check in full; `ip` names the sending IP (or range) of an IP-scoped check.
fn check(ip: Option<&str>, c: &CheckDetail) -> Markup {
    let name = check_name(ip, c.check);
    let id = check_anchor(&name);
    html! {
        section aria-labelledby=(id) {
            h3 id=(id) { (name) ": " (layout::severity(c.status)) }
            p class="note" {
                "Checked " (layout::time(c.checked_at)) "; the same result since " (layout::time(c.since)) "."
            }
            @if let Some(record) = &c.record {
                p { "Record: " code { (record) } }
            }
            @if c.findings.is_empty() {
                p { "No findings." }
            } @else {
                table {
                    caption { "Findings of the " (name) " check" }
                    (layout::column_heads(&["Code", "Severity", "What is wrong and how to fix it"]))
                    tbody {
                        @for f in &c.findings {
                            tr {
                                th scope="row" { code { (f.code) } }
                                td { (layout::severity(f.severity)) }
                                td { (f.message) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn listings_table(listings: &[&ListingPeriod]) -> Markup {
    html! {
        @if listings.is_empty() {
            p { "Not listed on any checked zone." }
        } @else {
            table {
                caption { "Open listings of the domain and its sending IPs" }
                (layout::column_heads(&["Listed", "Zone", "Answer", "Reason given", "Listed since"]))
                tbody {
                    @for l in listings {
                        tr {
                            th scope="row" { (l.target) }
                            td { (l.zone) }
                            td { (l.codes.join(", ")) }
                            td { (l.reason.as_deref().unwrap_or("–")) }
                            td { (layout::time(l.listed_since)) }
                        }
                    }
                }
            }
        }
    }
}

/// The domain's bounces by reason, each beside the findings that explain it, linked to their check.
fn bounce_reasons(domain: &str, b: &DomainBounces) -> Markup {
    html! {
        @if !b.reasons.is_empty() {
            table {
                caption { "Bounces by reason (" (b.window) "), and what the checks found that explains them" }
                (layout::column_heads(&["Reason", "Bounces", "Explained by"]))
                tbody {
                    @for r in &b.reasons {
                        tr {
                            th scope="row" { code { (r.reason) } }
                            td { (r.bounces) }
                            td {
                                @if r.findings.is_empty() {
                                    "–"
                                } @else {
                                    ul {
                                        @for f in &r.findings {
                                            @let ip = (f.target != domain).then_some(f.target.as_str());
                                            @let name = check_name(ip, f.check);
                                            li {
                                                a href={ "#" (check_anchor(&name)) } { (name) }
                                                ": " code { (f.code) } " (" (layout::severity(f.severity)) ") " (f.message)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The domain's rates per mailbox provider, per window.
fn providers(list: &Result<Vec<DomainRates>, &'static str>, domain: &str) -> Markup {
    let Ok(list) = list else { return html! {} };
    let rows: Vec<(&str, &crate::events::rates::ProviderRates)> = list
        .iter()
        .filter(|r| r.domain == domain)
        .flat_map(|r| r.providers.iter().map(move |p| (r.window.as_str(), p)))
        .collect();
    html! {
        @if !rows.is_empty() {
            table {
                caption { "Per mailbox provider" }
                (layout::column_heads(&["Provider", "Window", "Delivered", "Bounced", "Complaints", "Bounce rate", "Complaint rate"]))
                tbody {
                    @for (window, p) in rows {
                        tr {
                            th scope="row" { (p.provider) }
                            td { (window) }
                            td { (p.counts.deliveries) }
                            td { (p.counts.bounces) }
                            td { (p.counts.complaints) }
                            td { (layout::percent(p.bounce_rate)) }
                            td { (layout::percent(p.complaint_rate)) }
                        }
                    }
                }
            }
        }
    }
}
