//! Bounce and complaint rates per sending domain (and, within it, per mailbox provider) over
//! rolling windows, judged against thresholds (docs/bounces.md, "Rates and thresholds").
//!
//! - bounce rate = bounces / (deliveries + bounces): of the messages whose fate is known, the share
//!   that failed;
//! - complaint rate = complaints / deliveries (only delivered mail can be reported).
//!
//! A window of length L at time `now` sums the per-minute buckets of the last L minutes, the
//! current (partial) minute included. Below `min_volume` messages a rate is shown but not judged.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::store::{BucketSum, EventStore, minute_of};
use crate::store::StoreError;

/// A rolling window: its label (`1h`, as configured) and length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// The label, as written in the config (`senderscope_bounce_rate{window}`).
    pub label: String,
    /// Its length (whole minutes).
    pub length: Duration,
}

/// When a rate is a warning or critical.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Bounce rate at which to warn (0.02: SES asks senders to stay below 2%).
    pub bounce_warning: f64,
    /// Bounce rate that is critical (0.05: SES reviews an account at 5%).
    pub bounce_critical: f64,
    /// Complaint rate at which to warn (0.001: Gmail and Yahoo ask for under 0.1%).
    pub complaint_warning: f64,
    /// Complaint rate that is critical (0.003: Gmail's "never 0.3%").
    pub complaint_critical: f64,
    /// The fewest messages (deliveries + bounces) in a window before its rates are judged.
    pub min_volume: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            bounce_warning: 0.02,
            bounce_critical: 0.05,
            complaint_warning: 0.001,
            complaint_critical: 0.003,
            min_volume: 100,
        }
    }
}

/// The judgement of one rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Judgement {
    /// Below the warning threshold.
    Ok,
    /// At or above the warning threshold.
    Warning,
    /// At or above the critical threshold.
    Critical,
    /// Too few messages in the window to judge.
    TooFewMessages,
}

/// Counts in one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Messages accepted by receivers.
    pub deliveries: u64,
    /// Failed recipients.
    pub bounces: u64,
    /// Hard bounces among them.
    pub hard_bounces: u64,
    /// Complaints.
    pub complaints: u64,
}

impl Counts {
    /// bounces / (deliveries + bounces), `None` with no messages.
    pub fn bounce_rate(&self) -> Option<f64> {
        let total = self.deliveries + self.bounces;
        (total > 0).then(|| self.bounces as f64 / total as f64)
    }

    /// complaints / deliveries, `None` with no deliveries.
    pub fn complaint_rate(&self) -> Option<f64> {
        (self.deliveries > 0).then(|| self.complaints as f64 / self.deliveries as f64)
    }

    fn add(&mut self, s: &BucketSum) {
        match s.event.as_str() {
            "delivery" => self.deliveries += s.count,
            "bounce" => {
                self.bounces += s.count;
                if s.bounce_type == "hard" {
                    self.hard_bounces += s.count;
                }
            }
            "complaint" => self.complaints += s.count,
            _ => {}
        }
    }
}

/// One domain's rates in one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DomainRates {
    /// The configured sending domain (`other` for mail from none of them).
    pub domain: String,
    /// The window label.
    pub window: String,
    /// The counts.
    pub counts: Counts,
    /// bounces / (deliveries + bounces).
    pub bounce_rate: Option<f64>,
    /// complaints / deliveries.
    pub complaint_rate: Option<f64>,
    /// The bounce rate judged.
    pub bounce_status: Judgement,
    /// The complaint rate judged.
    pub complaint_status: Judgement,
    /// The same per recipient mailbox provider (providers with mail in the window only).
    pub providers: Vec<ProviderRates>,
    /// Bounces per reason (docs/bounces.md), most first.
    pub reasons: Vec<ReasonCount>,
}

/// Bounces of one reason in a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReasonCount {
    /// The reason label (`user_unknown`, `blocked_blocklist`, …).
    pub reason: String,
    /// Bounces for it.
    pub bounces: u64,
}

/// One mailbox provider's share of a domain's window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderRates {
    /// The provider label.
    pub provider: String,
    /// The counts.
    pub counts: Counts,
    /// bounces / (deliveries + bounces).
    pub bounce_rate: Option<f64>,
    /// complaints / deliveries.
    pub complaint_rate: Option<f64>,
}

fn judge(
    rate: Option<f64>,
    volume: u64,
    warning: f64,
    critical: f64,
    min_volume: u64,
) -> Judgement {
    match rate {
        _ if volume < min_volume.max(1) => Judgement::TooFewMessages,
        None => Judgement::TooFewMessages,
        Some(r) if r >= critical => Judgement::Critical,
        Some(r) if r >= warning => Judgement::Warning,
        Some(_) => Judgement::Ok,
    }
}

/// The configured domain a sending domain belongs to: itself or its closest configured parent
/// (`bounces.mail.shop.example` → `shop.example`); `other` when none. With no configured domains,
/// the sending domain itself (`senderscope ingest --dry-run`).
pub fn attribute<'a>(sender_domain: &'a str, configured: &'a [String]) -> &'a str {
    if configured.is_empty() {
        return if sender_domain.is_empty() {
            "other"
        } else {
            sender_domain
        };
    }
    configured
        .iter()
        .filter(|d| {
            sender_domain == d.as_str()
                || (sender_domain.len() > d.len()
                    && sender_domain.ends_with(d.as_str())
                    && sender_domain.as_bytes()[sender_domain.len() - d.len() - 1] == b'.')
        })
        .max_by_key(|d| d.len())
        .map_or("other", String::as_str)
}

/// Every configured domain's rates in every window at `now` (Unix seconds), plus `other` when mail
/// from unconfigured domains was counted.
pub fn rates(
    store: &EventStore,
    now: i64,
    windows: &[Window],
    thresholds: &Thresholds,
    configured: &[String],
) -> Result<Vec<DomainRates>, StoreError> {
    let mut out = Vec::new();
    let to = minute_of(now);
    for w in windows {
        let minutes = (w.length.as_secs() / 60).max(1) as i64;
        let sums = store.sums(to - minutes + 1, to)?;
        type PerLabel<'a, T> = BTreeMap<&'a str, T>;
        type Tally<'a> = (Counts, PerLabel<'a, Counts>, PerLabel<'a, u64>);
        let mut per_domain: BTreeMap<&str, Tally<'_>> = configured
            .iter()
            .map(|d| (d.as_str(), Default::default()))
            .collect();
        for s in &sums {
            let (total, providers, reasons) = per_domain
                .entry(attribute(&s.sender_domain, configured))
                .or_default();
            total.add(s);
            providers.entry(s.provider.as_str()).or_default().add(s);
            if s.event == "bounce" {
                let reason = if s.reason.is_empty() {
                    "other"
                } else {
                    s.reason.as_str()
                };
                *reasons.entry(reason).or_default() += s.count;
            }
        }
        for (domain, (counts, providers, reasons)) in per_domain {
            let mut reasons: Vec<ReasonCount> = reasons
                .into_iter()
                .map(|(reason, bounces)| ReasonCount {
                    reason: reason.to_owned(),
                    bounces,
                })
                .collect();
            reasons.sort_by(|a, b| {
                b.bounces
                    .cmp(&a.bounces)
                    .then_with(|| a.reason.cmp(&b.reason))
            });
            let volume = counts.deliveries + counts.bounces;
            out.push(DomainRates {
                domain: domain.to_owned(),
                window: w.label.clone(),
                counts,
                bounce_rate: counts.bounce_rate(),
                complaint_rate: counts.complaint_rate(),
                bounce_status: judge(
                    counts.bounce_rate(),
                    volume,
                    thresholds.bounce_warning,
                    thresholds.bounce_critical,
                    thresholds.min_volume,
                ),
                complaint_status: judge(
                    counts.complaint_rate(),
                    counts.deliveries,
                    thresholds.complaint_warning,
                    thresholds.complaint_critical,
                    thresholds.min_volume,
                ),
                providers: providers
                    .into_iter()
                    .filter(|(_, c)| *c != Counts::default())
                    .map(|(provider, c)| ProviderRates {
                        provider: provider.to_owned(),
                        counts: c,
                        bounce_rate: c.bounce_rate(),
                        complaint_rate: c.complaint_rate(),
                    })
                    .collect(),
                reasons,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_divide_by_what_the_providers_divide_by() {
        let c = Counts {
            deliveries: 950,
            bounces: 50,
            hard_bounces: 10,
            complaints: 2,
        };
        assert_eq!(c.bounce_rate(), Some(0.05));
        assert!((c.complaint_rate().unwrap() - 2.0 / 950.0).abs() < 1e-12);
        assert_eq!(Counts::default().bounce_rate(), None);
    }

    #[test]
    fn judgement_needs_volume_and_uses_both_thresholds() {
        let t = Thresholds::default();
        let j = |rate, volume| {
            judge(
                Some(rate),
                volume,
                t.bounce_warning,
                t.bounce_critical,
                t.min_volume,
            )
        };
        assert_eq!(j(0.5, 99), Judgement::TooFewMessages);
        assert_eq!(j(0.019, 1000), Judgement::Ok);
        assert_eq!(j(0.02, 1000), Judgement::Warning);
        assert_eq!(j(0.05, 1000), Judgement::Critical);
    }

    #[test]
    fn sending_domains_are_attributed_to_their_configured_parent() {
        let configured = vec!["shop.example".to_owned(), "mail.shop.example".to_owned()];
        assert_eq!(attribute("shop.example", &configured), "shop.example");
        assert_eq!(
            attribute("bounces.mail.shop.example", &configured),
            "mail.shop.example"
        );
        assert_eq!(attribute("x.shop.example", &configured), "shop.example");
        assert_eq!(attribute("evilshop.example", &configured), "other");
        assert_eq!(attribute("", &configured), "other");
        assert_eq!(attribute("a.example", &[]), "a.example");
    }
}
