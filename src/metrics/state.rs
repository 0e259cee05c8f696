//! The state families, built at scrape time from the latest state (node_exporter's and
//! kube-state-metrics' way): each scrape emits what exists now, for what the configuration names now,
//! so a removed domain, selector, IP or zone has no series at the next scrape and no code removes
//! series by hand. docs/metrics.md says which series each family has and why.

use std::sync::{Arc, PoisonError, RwLock};

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;

use crate::findings::Severity;
use crate::results::{Answer, CheckId, DmarcPolicy, LatestState, Snapshot, Target};

/// One state family: name, help, label names (sorted, as the exposition writes them).
struct Spec {
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
}

const CHECK_STATUS: Spec = Spec {
    name: "senderscope_check_status",
    help: "Status of the latest run of a check: 0 ok, 1 info, 2 warning, 3 critical, -1 unknown (could not check).",
    labels: &["check", "domain"],
};
const FINDINGS: Spec = Spec {
    name: "senderscope_findings",
    help: "Number of findings of the latest run of a check, by severity (severities with none have no series).",
    labels: &["check", "domain", "severity"],
};
// One series per domain, not per check (docs/metrics.md, "Series per domain"): a domain's posture
// checks run in one job, so its nine timestamps were nearly always equal. The oldest of them keeps
// "a check stopped running" visible; which check it is, /api/v1/status says.
const LAST_CHECK: Spec = Spec {
    name: "senderscope_last_check_timestamp_seconds",
    help: "When the posture check of a domain that ran longest ago last ran, in Unix seconds.",
    labels: &["domain"],
};
const SPF_LOOKUPS: Spec = Spec {
    name: "senderscope_spf_dns_lookups",
    help: "DNS-querying terms needed to evaluate the domain's SPF record (RFC 7208 limit: 10).",
    labels: &["domain"],
};
// Not `senderscope_dkim_key_bits`: promtool's lint rejects any `_bits` name ("use base unit bytes"),
// and key sizes are stated in bits everywhere (RFC 8301 §3.2 "Key Size"), so the name is the RFC's
// term and the help text gives the unit.
const DKIM_KEY_SIZE: Spec = Spec {
    name: "senderscope_dkim_key_size",
    help: "Size of the DKIM key published for a configured selector, in bits.",
    labels: &["domain", "selector"],
};
const DMARC_POLICY: Spec = Spec {
    name: "senderscope_dmarc_policy",
    help: "1 for the DMARC policy that applies to the domain, 0 for the others.",
    labels: &["domain", "policy"],
};
const BLOCKLIST_LISTED: Spec = Spec {
    name: "senderscope_blocklist_listed",
    help: "1 when a configured IP or domain is listed on a blocklist zone, 0 when it is not.",
    labels: &["target", "zone"],
};
const ZONE_HEALTHY: Spec = Spec {
    name: "senderscope_blocklist_zone_healthy",
    help: "1 when a blocklist zone answers its RFC 5782 test points correctly, 0 when it is not trusted.",
    labels: &["zone"],
};

const SPECS: [&Spec; 8] = [
    &CHECK_STATUS,
    &FINDINGS,
    &LAST_CHECK,
    &SPF_LOOKUPS,
    &DKIM_KEY_SIZE,
    &DMARC_POLICY,
    &BLOCKLIST_LISTED,
    &ZONE_HEALTHY,
];

/// The collector of the state families. Cheap to clone (the registry holds one clone).
#[derive(Clone)]
pub(super) struct StateFamilies {
    descs: Arc<Vec<Desc>>,
    state: Arc<RwLock<Option<Arc<LatestState>>>>,
}

impl StateFamilies {
    /// Families with no state to read yet (they emit nothing).
    pub(super) fn new() -> Self {
        let descs = SPECS
            .iter()
            .map(|s| {
                let labels = s.labels.iter().map(|l| (*l).to_owned()).collect();
                Desc::new(
                    s.name.to_owned(),
                    s.help.to_owned(),
                    labels,
                    Default::default(),
                )
            })
            .collect::<Result<Vec<_>, _>>()
            // The specs above are constants: a bad name is a bug caught by every test that builds
            // a `Metrics`.
            .unwrap_or_default();
        StateFamilies {
            descs: Arc::new(descs),
            state: Arc::default(),
        }
    }

    /// The family descriptions (for the registry and docs/metrics.md's test).
    pub(super) fn descs(&self) -> &[Desc] {
        &self.descs
    }

    /// Read `state` at every scrape from now on.
    pub(super) fn read_from(&self, state: Arc<LatestState>) {
        *self.state.write().unwrap_or_else(PoisonError::into_inner) = Some(state);
    }

    /// The state being read, if any.
    pub(super) fn current(&self) -> Option<Arc<LatestState>> {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Registered for its descriptions only (the family names, and the registry's check that no other
/// family takes them): the samples are written as text by [`Text::write`], straight from the latest
/// state into the exposition buffer, without building a `MetricFamily` per scrape.
impl Collector for StateFamilies {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        Vec::new()
    }
}

/// Every state family's name, sorted (the order of the exposition, which is sorted by family name).
pub(super) fn names() -> impl Iterator<Item = &'static str> {
    let mut names: Vec<&'static str> = SPECS.iter().map(|s| s.name).collect();
    names.sort_unstable();
    names.into_iter()
}

/// A check's slot in [`CheckRow`] arrays: its position in `CheckId::ALL`.
fn slot(check: CheckId) -> usize {
    CheckId::ALL
        .iter()
        .position(|c| *c == check)
        .unwrap_or_default()
}

/// The latest run of one check of one domain, as the families show it.
#[derive(Clone, Copy)]
struct CheckRow {
    status: i64,
    /// Findings by severity, in `Severity::ALL` order.
    findings: [u32; 5],
    at: i64,
}

/// One configured domain's values, gathered once per scrape.
struct DomainRow<'a> {
    name: &'a str,
    /// By [`slot`].
    checks: Vec<Option<CheckRow>>,
    spf: Option<u32>,
    /// (selector, bits), sorted by selector.
    dkim: Vec<(&'a str, u32)>,
    dmarc: Option<DmarcPolicy>,
}

/// The state families of one snapshot, ready to write in exposition order (each family's series
/// sorted by label values, as the registry sorts its own families).
pub(super) struct Text<'a> {
    s: &'a Snapshot,
    /// Sorted by name.
    domains: Vec<DomainRow<'a>>,
    /// Posture checks (with `ptr`) by label value, as (label, slot).
    checks: Vec<(&'static str, usize)>,
}

fn severity_slot(severity: Severity) -> usize {
    Severity::ALL
        .iter()
        .position(|s| *s == severity)
        .unwrap_or_default()
}

impl<'a> Text<'a> {
    /// Gather the per-domain values of `s`.
    pub(super) fn of(s: &'a Snapshot) -> Text<'a> {
        let mut checks: Vec<(&'static str, usize)> = CheckId::ALL
            .iter()
            .filter(|c| c.is_posture())
            .map(|c| (c.as_str(), slot(*c)))
            .collect();
        checks.sort_unstable();
        let mut domains: Vec<DomainRow<'a>> = s
            .scope()
            .domains
            .iter()
            .map(|d| {
                let mut row = DomainRow {
                    name: d.name.as_str(),
                    checks: vec![None; CheckId::ALL.len()],
                    spf: None,
                    dkim: Vec::new(),
                    dmarc: None,
                };
                let target = Target::Domain(d.name.clone());
                for r in s.results(&target).filter(|r| r.check.is_posture()) {
                    let mut findings = [0; 5];
                    for f in &r.findings {
                        findings[severity_slot(f.severity)] += 1;
                    }
                    row.checks[slot(r.check)] = Some(CheckRow {
                        status: r.status.gauge_value(),
                        findings,
                        at: r.checked_at,
                    });
                    match r.check {
                        CheckId::Spf => row.spf = r.facts.spf_dns_lookups(),
                        CheckId::Dkim => {
                            row.dkim = r
                                .facts
                                .dkim_keys()
                                .iter()
                                .filter(|k| d.selectors.contains(&k.selector))
                                .map(|k| (k.selector.as_str(), k.bits))
                                .collect();
                            row.dkim.sort_unstable();
                        }
                        CheckId::Dmarc => row.dmarc = r.facts.dmarc_policy(),
                        _ => {}
                    }
                }
                // The `ptr` roll-up of the single sending IPs (an IP is never a label): worst status,
                // findings summed, the oldest run's time.
                let mut ptr: Option<(Severity, CheckRow)> = None;
                for r in d
                    .single_ips
                    .iter()
                    .filter_map(|ip| s.result(&Target::Ip(*ip), CheckId::Ptr))
                {
                    let (worst, p) = ptr.get_or_insert((
                        r.status,
                        CheckRow {
                            status: 0,
                            findings: [0; 5],
                            at: r.checked_at,
                        },
                    ));
                    *worst = (*worst).max(r.status);
                    p.at = p.at.min(r.checked_at);
                    for f in &r.findings {
                        p.findings[severity_slot(f.severity)] += 1;
                    }
                }
                if let Some((worst, mut p)) = ptr {
                    p.status = worst.gauge_value();
                    row.checks[slot(CheckId::Ptr)] = Some(p);
                }
                row
            })
            .collect();
        domains.sort_unstable_by(|a, b| a.name.cmp(b.name));
        Text { s, domains, checks }
    }

    /// Write family `name` (one of [`names`]); nothing when it has no series.
    pub(super) fn write(&self, name: &str, out: &mut String) {
        let Some(spec) = SPECS.iter().find(|s| s.name == name) else {
            return;
        };
        let start = out.len();
        out.push_str("# HELP ");
        out.push_str(spec.name);
        out.push(' ');
        out.push_str(spec.help);
        out.push_str("\n# TYPE ");
        out.push_str(spec.name);
        out.push_str(" gauge\n");
        let header = out.len();
        let mut w = Writer {
            name: spec.name,
            labels: spec.labels,
            out,
            int: itoa::Buffer::new(),
        };
        match spec.name {
            n if n == CHECK_STATUS.name => self.check_status(&mut w),
            n if n == FINDINGS.name => self.findings(&mut w),
            n if n == LAST_CHECK.name => self.last_check(&mut w),
            n if n == SPF_LOOKUPS.name => self.spf(&mut w),
            n if n == DKIM_KEY_SIZE.name => self.dkim(&mut w),
            n if n == DMARC_POLICY.name => self.dmarc(&mut w),
            n if n == BLOCKLIST_LISTED.name => self.listed(&mut w),
            n if n == ZONE_HEALTHY.name => self.healthy(&mut w),
            _ => {}
        }
        // As the registry does, a family without series is left out.
        if out.len() == header {
            out.truncate(start);
        }
    }

    fn check_status(&self, w: &mut Writer<'_>) {
        for (check, slot) in &self.checks {
            for d in &self.domains {
                if let Some(r) = d.checks[*slot] {
                    w.sample(&[check, d.name], r.status);
                }
            }
        }
    }

    fn findings(&self, w: &mut Writer<'_>) {
        let mut severities: Vec<(&'static str, usize)> = Severity::ALL
            .iter()
            .map(|s| (s.as_str(), severity_slot(*s)))
            .collect();
        severities.sort_unstable();
        for (check, slot) in &self.checks {
            for d in &self.domains {
                let Some(r) = d.checks[*slot] else { continue };
                for (severity, i) in &severities {
                    if r.findings[*i] > 0 {
                        w.sample(&[check, d.name, severity], i64::from(r.findings[*i]));
                    }
                }
            }
        }
    }

    fn last_check(&self, w: &mut Writer<'_>) {
        for d in &self.domains {
            if let Some(at) = d.checks.iter().flatten().map(|r| r.at).min() {
                w.sample(&[d.name], at);
            }
        }
    }

    fn spf(&self, w: &mut Writer<'_>) {
        for d in &self.domains {
            if let Some(n) = d.spf {
                w.sample(&[d.name], i64::from(n));
            }
        }
    }

    fn dkim(&self, w: &mut Writer<'_>) {
        for d in &self.domains {
            for (selector, bits) in &d.dkim {
                w.sample(&[d.name, selector], i64::from(*bits));
            }
        }
    }

    fn dmarc(&self, w: &mut Writer<'_>) {
        let mut policies = DmarcPolicy::ALL;
        policies.sort_unstable_by_key(|p| p.as_str());
        for d in &self.domains {
            if let Some(policy) = d.dmarc {
                for p in policies {
                    w.sample(&[d.name, p.as_str()], i64::from(p == policy));
                }
            }
        }
    }

    // Listings: 1 listed, 0 not listed. A refused or failed answer says nothing: an open listing stays
    // 1 (nothing says it ended), a clean reading is withdrawn (unknown is not clean).
    fn listed(&self, w: &mut Writer<'_>) {
        let s = self.s;
        let zones = &s.scope().zones;
        let mut targets: Vec<(String, &Target)> = s
            .scope()
            .listing_targets
            .iter()
            .map(|t| (t.to_string(), t))
            .collect();
        targets.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (text, t) in &targets {
            let answers = s
                .result(t, CheckId::Blocklists)
                .and_then(|r| r.facts.listings());
            for zone in zones {
                let open = s.is_open(text, zone);
                let answer = answers.and_then(|a| a.zones.get(zone));
                let value = match (open, answer) {
                    (true, _) | (false, Some(Answer::Listed)) => Some(1),
                    (false, Some(Answer::NotListed)) => Some(0),
                    _ => None,
                };
                if let Some(v) = value {
                    w.sample(&[text, zone], v);
                }
            }
        }
    }

    fn healthy(&self, w: &mut Writer<'_>) {
        let s = self.s;
        let zones = &s.scope().zones;
        if let Some(round) = s
            .result(&Target::Blocklists, CheckId::BlocklistRound)
            .and_then(|r| r.facts.zones())
        {
            // A BTreeMap: already sorted by zone.
            for (zone, ok) in round.healthy.iter().filter(|(z, _)| zones.contains(*z)) {
                w.sample(&[zone], i64::from(*ok));
            }
        }
    }
}

/// Writes the samples of one family into the exposition buffer.
struct Writer<'o> {
    name: &'static str,
    labels: &'static [&'static str],
    out: &'o mut String,
    int: itoa::Buffer,
}

impl Writer<'_> {
    /// One sample; `values` in the order of the spec's (sorted) label names. Every value of these
    /// families is an integer, written as the text format writes a float with no fraction.
    fn sample(&mut self, values: &[&str], value: i64) {
        let out = &mut *self.out;
        out.push_str(self.name);
        let mut sep = '{';
        for (name, v) in self.labels.iter().zip(values) {
            out.push(sep);
            sep = ',';
            out.push_str(name);
            out.push_str("=\"");
            escape_into(v, out);
            out.push('"');
        }
        out.push_str("} ");
        out.push_str(self.int.format(value));
        out.push('\n');
    }
}

/// A label value as the text format quotes it: backslash, double quote and line feed escaped.
fn escape_into(v: &str, out: &mut String) {
    if !v.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n')) {
        out.push_str(v);
        return;
    }
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_as_the_text_format_says() {
        let mut out = String::new();
        escape_into("a\\b\"c\nd", &mut out);
        assert_eq!(out, r#"a\\b\"c\nd"#);
        out.clear();
        escape_into("shop.example", &mut out);
        assert_eq!(out, "shop.example");
    }

    #[test]
    fn the_names_are_sorted_and_complete() {
        let names: Vec<_> = names().collect();
        assert_eq!(names.len(), SPECS.len());
        assert!(names.windows(2).all(|w| w[0] < w[1]));
    }
}
