//! A configured range (`192.0.2.0/24` in `sending_ips`) in the status API: one entry, not one per
//! address. Blocklist rounds store a result per address, so a /24 would otherwise list 254 `blocklists`
//! checks that do not even say which address they are about. Grouped, the range shows each check once
//! (the worst status over its addresses, with the findings of the addresses shown), a summary ("3 of 254
//! addresses listed: 192.0.2.7 on zen.spamhaus.org (SBL), …"), and the addresses with findings, worst
//! first, at most [`ADDRESSES_SHOWN`] of them with a count of the rest.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::ops::Deref;

use serde::Serialize;

use super::{Status, counted_codes, summarize};
use crate::findings::{FindingCode, Severity};
use crate::results::{CheckFacts, Target};
use crate::store::StoredCheck;

/// At most this many addresses of a range are shown (with their findings); the rest are counted. Ten
/// fit on a screen and name every address of a typical listing incident; a whole listed /24 is
/// one SBL entry, not 254 things to read.
pub const ADDRESSES_SHOWN: usize = 10;
/// At most this many listed addresses are named in a range's summary.
const SUMMARY_ADDRESSES: usize = 3;

/// The addresses of a range, in `ips[].addresses`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RangeAddresses {
    /// Addresses with a stored result.
    pub checked: usize,
    /// Addresses listed on some blocklist (`blocklist.listed`).
    pub listed: usize,
    /// Addresses with any finding.
    pub with_findings: usize,
    /// The addresses with findings, worst first (then by address), at most [`ADDRESSES_SHOWN`].
    pub shown: Vec<AddressStatus>,
    /// Addresses with findings beyond those shown.
    pub not_shown: usize,
}

/// One address of a range with findings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddressStatus {
    /// The address.
    pub ip: String,
    /// The worst of its results.
    pub status: Severity,
}

/// One check over the addresses of a range: the worst status, the newest `checked_at` and `since`,
/// the findings of the addresses shown. Reads as a [`StoredCheck`] (of the range's first address).
#[derive(Debug)]
pub struct RangeCheck {
    /// The range, as configured.
    pub target: String,
    /// The grouped result.
    pub result: StoredCheck,
}

impl Deref for RangeCheck {
    type Target = StoredCheck;
    fn deref(&self) -> &StoredCheck {
        &self.result
    }
}

/// A range's results grouped.
#[derive(Debug)]
pub(super) struct Grouped {
    /// One result per check, worst first.
    pub checks: Vec<RangeCheck>,
    /// The counts and the addresses shown.
    pub addresses: RangeAddresses,
    /// The summary line.
    pub summary: String,
}

impl Grouped {
    /// Whether `target` is one of the addresses shown.
    #[cfg(test)]
    pub(super) fn shows(&self, target: &str) -> bool {
        self.addresses.shown.iter().any(|a| a.ip == target)
    }
}

/// Group the results of the addresses of range `label` (`mine`: every stored result inside it).
pub(super) fn group(label: &str, status: Status, mine: &[&StoredCheck]) -> Grouped {
    // Per address (ordered by address), its results.
    let mut by_address: BTreeMap<IpAddr, Vec<&StoredCheck>> = BTreeMap::new();
    for c in mine {
        if let Target::Ip(ip) = c.target {
            by_address.entry(ip).or_default().push(c);
        }
    }
    let is_listed = |cs: &[&StoredCheck]| {
        cs.iter()
            .flat_map(|c| &c.findings)
            .any(|f| f.code == FindingCode::BlocklistListed.as_str())
    };
    let mut flagged: Vec<(IpAddr, Severity, &[&StoredCheck])> = by_address
        .iter()
        .filter(|(_, cs)| cs.iter().any(|c| !c.findings.is_empty()))
        .map(|(ip, cs)| {
            let worst = cs.iter().map(|c| c.status).max().unwrap_or_default();
            (*ip, worst, cs.as_slice())
        })
        .collect();
    // Worst first, then by address (the sort is stable over the address order).
    flagged.sort_by_key(|(_, s, _)| std::cmp::Reverse(*s));
    let listed: Vec<&(IpAddr, Severity, &[&StoredCheck])> =
        flagged.iter().filter(|(_, _, cs)| is_listed(cs)).collect();
    let shown = &flagged[..flagged.len().min(ADDRESSES_SHOWN)];

    let mut names: Vec<_> = mine.iter().map(|c| c.check).collect();
    names.sort_unstable();
    names.dedup();
    let first = by_address.keys().next().copied();
    let mut checks: Vec<RangeCheck> = names
        .into_iter()
        .filter_map(|name| {
            let of_check = || mine.iter().filter(|c| c.check == name);
            let result = StoredCheck {
                target: Target::Ip(first?),
                check: name,
                status: of_check().map(|c| c.status).max().unwrap_or_default(),
                record: None,
                findings: shown
                    .iter()
                    .flat_map(|(_, _, cs)| cs.iter().filter(|c| c.check == name))
                    .flat_map(|c| c.findings.iter().cloned())
                    .collect(),
                checked_at: of_check().map(|c| c.checked_at).max().unwrap_or_default(),
                since: of_check().map(|c| c.since).max().unwrap_or_default(),
                duration_ms: of_check().map(|c| c.duration_ms).max().unwrap_or_default(),
                facts: CheckFacts::None,
            };
            Some(RangeCheck {
                target: label.to_owned(),
                result,
            })
        })
        .collect();
    checks.sort_by(|a, b| {
        b.status
            .cmp(&a.status)
            .then_with(|| a.check.as_str().cmp(b.check.as_str()))
    });

    let addresses = RangeAddresses {
        checked: by_address.len(),
        listed: listed.len(),
        with_findings: flagged.len(),
        shown: shown
            .iter()
            .map(|(ip, status, _)| AddressStatus {
                ip: ip.to_string(),
                status: *status,
            })
            .collect(),
        not_shown: flagged.len() - shown.len(),
    };
    let summary = if listed.is_empty() {
        summarize(status, mine)
    } else {
        let mut line = format!(
            "{} of {} addresses listed: {}",
            listed.len(),
            by_address.len(),
            listed
                .iter()
                .take(SUMMARY_ADDRESSES)
                .map(|(ip, _, cs)| format!("{ip} on {}", zones(cs)))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if listed.len() > SUMMARY_ADDRESSES {
            line.push_str(&format!(" and {} more", listed.len() - SUMMARY_ADDRESSES));
        }
        line.push('.');
        let others = other_codes(mine);
        if !others.is_empty() {
            line.push_str(&format!(" Also: {others}."));
        }
        line
    };
    Grouped {
        checks,
        addresses,
        summary,
    }
}

/// `zen.spamhaus.org (SBL, XBL) and bl.example`: the zones listing an address, with the labels of
/// their answer codes, from the `blocklist.listed` findings' detail.
fn zones(checks: &[&StoredCheck]) -> String {
    let named: Vec<String> = checks
        .iter()
        .flat_map(|c| &c.findings)
        .filter(|f| f.code == FindingCode::BlocklistListed.as_str())
        .map(|f| {
            let zone = f.detail["zone"].as_str().unwrap_or("a blocklist");
            let mut labels: Vec<&str> = Vec::new();
            for m in f.detail["meanings"].as_array().into_iter().flatten() {
                if let Some(l) = m["label"].as_str().filter(|l| !labels.contains(l)) {
                    labels.push(l);
                }
            }
            if labels.is_empty() {
                zone.to_owned()
            } else {
                format!("{zone} ({})", labels.join(", "))
            }
        })
        .collect();
    match named.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => named.join(""),
    }
}

/// The codes of the findings that are not listings, with counts: `blocklist.lookup_failed ×3, …`.
fn other_codes(checks: &[&StoredCheck]) -> String {
    counted_codes(
        checks
            .iter()
            .flat_map(|c| &c.findings)
            .filter(|f| f.code != FindingCode::BlocklistListed.as_str()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoredFinding;
    use serde_json::json;

    fn result(ip: &str, findings: Vec<StoredFinding>, at: i64) -> StoredCheck {
        StoredCheck {
            target: ip.parse().unwrap(),
            check: crate::results::CheckId::Blocklists,
            status: findings
                .iter()
                .map(|f| f.severity)
                .max()
                .unwrap_or_default(),
            record: None,
            findings,
            checked_at: at,
            since: at - 100,
            duration_ms: 40,
            facts: CheckFacts::None,
        }
    }

    fn listed(ip: &str, zone: &str, labels: &[&str]) -> StoredFinding {
        StoredFinding {
            code: "blocklist.listed".into(),
            severity: Severity::Critical,
            message: format!("{ip} is listed on {zone}."),
            detail: json!({
                "target": ip,
                "zone": zone,
                "meanings": labels.iter().map(|l| json!({"label": l, "text": ""})).collect::<Vec<_>>(),
            }),
        }
    }

    fn failed(ip: &str) -> StoredFinding {
        StoredFinding {
            code: "blocklist.lookup_failed".into(),
            severity: Severity::Unknown,
            message: format!("Could not check {ip} on zen.example: timed out."),
            detail: json!({"target": ip, "zone": "zen.example"}),
        }
    }

    #[test]
    fn a_range_is_summed_up_with_its_listed_addresses_named() {
        let mut stored: Vec<StoredCheck> = (1..=254)
            .map(|i| result(&format!("192.0.2.{i}"), vec![], 1_000))
            .collect();
        stored[6] = result(
            "192.0.2.7",
            vec![
                listed("192.0.2.7", "zen.example", &["SBL", "CSS", "SBL"]),
                listed("192.0.2.7", "bl.example", &[]),
            ],
            1_000,
        );
        stored[29] = result(
            "192.0.2.30",
            vec![listed("192.0.2.30", "zen.example", &["XBL"])],
            1_200,
        );
        stored[99] = result("192.0.2.100", vec![failed("192.0.2.100")], 1_000);
        let mine: Vec<&StoredCheck> = stored.iter().collect();
        let g = group("192.0.2.0/24", Status::Checked(Severity::Critical), &mine);
        assert_eq!(
            g.summary,
            "2 of 254 addresses listed: 192.0.2.7 on zen.example (SBL, CSS) and bl.example, \
             192.0.2.30 on zen.example (XBL). Also: blocklist.lookup_failed."
        );
        assert_eq!(
            (
                g.addresses.checked,
                g.addresses.listed,
                g.addresses.with_findings
            ),
            (254, 2, 3)
        );
        let shown: Vec<(&str, Severity)> = g
            .addresses
            .shown
            .iter()
            .map(|a| (a.ip.as_str(), a.status))
            .collect();
        assert_eq!(
            shown,
            [
                ("192.0.2.7", Severity::Critical),
                ("192.0.2.30", Severity::Critical),
                ("192.0.2.100", Severity::Unknown)
            ]
        );
        assert_eq!(g.addresses.not_shown, 0);
        assert_eq!(g.checks.len(), 1, "one blocklists check for the range");
        let c = &g.checks[0];
        assert_eq!(
            (c.check.as_str(), c.status),
            ("blocklists", Severity::Critical)
        );
        assert_eq!((c.checked_at, c.since), (1_200, 1_100));
        assert_eq!(c.findings.len(), 4, "the shown addresses' findings");
        assert_eq!(c.target, "192.0.2.0/24");
        assert!(g.shows("192.0.2.30") && !g.shows("192.0.2.31"));
    }

    #[test]
    fn many_listed_addresses_are_capped_and_counted() {
        let stored: Vec<StoredCheck> = (1..=40)
            .map(|i| {
                let ip = format!("198.51.100.{i}");
                let findings = vec![listed(&ip, "zen.example", &["SBL"])];
                result(&ip, findings, 1_000)
            })
            .collect();
        let mine: Vec<&StoredCheck> = stored.iter().collect();
        let g = group(
            "198.51.100.0/26",
            Status::Checked(Severity::Critical),
            &mine,
        );
        assert_eq!(
            g.summary,
            "40 of 40 addresses listed: 198.51.100.1 on zen.example (SBL), 198.51.100.2 on \
             zen.example (SBL), 198.51.100.3 on zen.example (SBL) and 37 more."
        );
        assert_eq!(g.addresses.shown.len(), ADDRESSES_SHOWN);
        assert_eq!(g.addresses.not_shown, 40 - ADDRESSES_SHOWN);
        assert_eq!(g.addresses.shown[9].ip, "198.51.100.10", "in address order");
        assert_eq!(g.checks[0].findings.len(), ADDRESSES_SHOWN);
    }

    #[test]
    fn a_clean_or_unknown_range_reads_like_any_entry() {
        let stored: Vec<StoredCheck> = (1..=6)
            .map(|i| result(&format!("192.0.2.{i}"), vec![], 1_000))
            .collect();
        let mine: Vec<&StoredCheck> = stored.iter().collect();
        let g = group("192.0.2.0/29", Status::Checked(Severity::Ok), &mine);
        assert_eq!(g.summary, "No problems found.");
        assert!(g.addresses.shown.is_empty());
        assert_eq!(g.checks[0].findings, vec![]);

        let stored = [
            result("192.0.2.1", vec![failed("192.0.2.1")], 1_000),
            result("192.0.2.2", vec![failed("192.0.2.2")], 1_000),
            result("192.0.2.3", vec![failed("192.0.2.3")], 1_000),
        ];
        let mine: Vec<&StoredCheck> = stored.iter().collect();
        let g = group("192.0.2.0/29", Status::Checked(Severity::Unknown), &mine);
        assert_eq!(
            g.summary,
            "Could not check 192.0.2.1 on zen.example: timed out. Could not check 192.0.2.2 on \
             zen.example: timed out. Also unknown: blocklist.lookup_failed."
        );
        let g = group("192.0.2.0/29", Status::Pending, &[]);
        assert_eq!(g.summary, "Not checked yet.");
        assert!(g.checks.is_empty());
    }
}
