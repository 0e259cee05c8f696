//! The state families, built at scrape time from the latest state (node_exporter's and
//! kube-state-metrics' way): each scrape emits what exists now, for what the configuration names now,
//! so a removed domain, selector, IP or zone has no series at the next scrape and no code removes
//! series by hand. docs/metrics.md says which series each family has and why.

use std::sync::{Arc, PoisonError, RwLock};

use prometheus::core::{Collector, Desc};
use prometheus::proto::{Gauge, LabelPair, Metric, MetricFamily, MetricType};

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
const LAST_CHECK: Spec = Spec {
    name: "senderscope_last_check_timestamp_seconds",
    help: "When a check last ran for a domain, in Unix seconds.",
    labels: &["check", "domain"],
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
}

impl Collector for StateFamilies {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let state = self
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match state {
            Some(state) => families(&state.read()),
            None => Vec::new(),
        }
    }
}

/// A family being filled.
struct Family(MetricFamily, &'static Spec);

impl Family {
    fn new(spec: &'static Spec) -> Family {
        let mut mf = MetricFamily::default();
        mf.set_name(spec.name.to_owned());
        mf.set_help(spec.help.to_owned());
        mf.set_field_type(MetricType::GAUGE);
        Family(mf, spec)
    }

    /// One series; `values` in the order of the spec's (sorted) label names.
    fn push(&mut self, values: &[&str], value: f64) {
        let labels = self
            .1
            .labels
            .iter()
            .zip(values)
            .map(|(name, value)| {
                let mut l = LabelPair::default();
                l.set_name((*name).to_owned());
                l.set_value((*value).to_owned());
                l
            })
            .collect();
        let mut gauge = Gauge::default();
        gauge.set_value(value);
        let mut m = Metric::default();
        m.set_label(labels);
        m.set_gauge(gauge);
        self.0.mut_metric().push(m);
    }
}

/// Every state family of `s`.
fn families(s: &Snapshot) -> Vec<MetricFamily> {
    let mut status = Family::new(&CHECK_STATUS);
    let mut findings = Family::new(&FINDINGS);
    let mut last = Family::new(&LAST_CHECK);
    let mut spf = Family::new(&SPF_LOOKUPS);
    let mut dkim = Family::new(&DKIM_KEY_SIZE);
    let mut dmarc = Family::new(&DMARC_POLICY);
    let mut listed = Family::new(&BLOCKLIST_LISTED);
    let mut healthy = Family::new(&ZONE_HEALTHY);

    let mut check = |domain: &str, check: CheckId, worst: Severity, of: &[Severity], at: i64| {
        let c = check.as_str();
        status.push(&[c, domain], worst.gauge_value() as f64);
        for severity in Severity::ALL {
            let n = of.iter().filter(|s| **s == severity).count();
            if n > 0 {
                findings.push(&[c, domain, severity.as_str()], n as f64);
            }
        }
        last.push(&[c, domain], at as f64);
    };

    for d in &s.scope().domains {
        let name = d.name.as_str();
        let target = Target::Domain(d.name.clone());
        for r in s.results(&target).filter(|r| r.check.is_posture()) {
            let severities: Vec<Severity> = r.findings.iter().map(|f| f.severity).collect();
            check(name, r.check, r.status, &severities, r.checked_at);
        }
        // The `ptr` roll-up of the single sending IPs (an IP is never a label): worst status,
        // findings summed, the oldest run's time.
        let ptr: Vec<_> = d
            .single_ips
            .iter()
            .filter_map(|ip| s.result(&Target::Ip(*ip), CheckId::Ptr))
            .collect();
        if let Some(at) = ptr.iter().map(|r| r.checked_at).min() {
            let worst = ptr.iter().map(|r| r.status).max().unwrap_or_default();
            let severities: Vec<Severity> = ptr
                .iter()
                .flat_map(|r| r.findings.iter().map(|f| f.severity))
                .collect();
            check(name, CheckId::Ptr, worst, &severities, at);
        }

        if let Some(n) = s
            .result(&target, CheckId::Spf)
            .and_then(|r| r.facts.spf_dns_lookups())
        {
            spf.push(&[name], f64::from(n));
        }
        if let Some(r) = s.result(&target, CheckId::Dkim) {
            for key in r.facts.dkim_keys() {
                if d.selectors.contains(&key.selector) {
                    dkim.push(&[name, &key.selector], f64::from(key.bits));
                }
            }
        }
        if let Some(policy) = s
            .result(&target, CheckId::Dmarc)
            .and_then(|r| r.facts.dmarc_policy())
        {
            for p in DmarcPolicy::ALL {
                dmarc.push(&[name, p.as_str()], f64::from(u8::from(p == policy)));
            }
        }
    }

    // Listings: 1 listed, 0 not listed. A refused or failed answer says nothing: an open listing stays
    // 1 (nothing says it ended), a clean reading is withdrawn (unknown is not clean).
    let zones = &s.scope().zones;
    for t in &s.scope().listing_targets {
        let text = t.to_string();
        let answers = s
            .result(t, CheckId::Blocklists)
            .and_then(|r| r.facts.listings());
        for zone in zones {
            let open = s.is_open(&text, zone);
            let answer = answers.and_then(|a| a.zones.get(zone));
            let value = match (open, answer) {
                (true, _) | (false, Some(Answer::Listed)) => Some(1.0),
                (false, Some(Answer::NotListed)) => Some(0.0),
                _ => None,
            };
            if let Some(v) = value {
                listed.push(&[&text, zone], v);
            }
        }
    }
    if let Some(round) = s
        .result(&Target::Blocklists, CheckId::BlocklistRound)
        .and_then(|r| r.facts.zones())
    {
        for (zone, ok) in round.healthy.iter().filter(|(z, _)| zones.contains(*z)) {
            healthy.push(&[zone], f64::from(u8::from(*ok)));
        }
    }

    [status, findings, last, spf, dkim, dmarc, listed, healthy]
        .into_iter()
        .map(|f| f.0)
        .collect()
}
