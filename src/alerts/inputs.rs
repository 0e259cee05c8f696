//! The snapshot adapter's second half: figures from the report, event and ingest tables of the
//! state database, added to a [`Snapshot`] before the rules run. Blocking (run it on a blocking
//! thread). Only what an enabled rule needs is read, with one statement per rule and distinct
//! window (usually one), each on an index (src/ingest/store/alert_inputs.rs, the events' minute
//! buckets). A statement that fails marks its rule unavailable for the round: its alerts stay as
//! they are rather than resolve on a read error.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

use super::rules::RuleKind;
use super::rules::human;
use super::settings::{AlertSettings, RuleSettings};
use super::snapshot::{
    DmarcFigures, IngestFailures, RateFigure, RateFigures, ReportHistory, Snapshot, SourceFigure,
};
use crate::config::Config;
use crate::events::rates::{DomainRates, Thresholds, Window, rates};
use crate::events::store::EventStore;
use crate::ingest::store::alert_inputs as ingest;

/// Sources kept per domain for `unknown_source` (the description names five and counts the rest).
const SOURCES_PER_DOMAIN: u32 = 100;
/// How long a reader waits for a writer's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections to the state database, opened on first use and again after the path changes.
#[derive(Default)]
pub struct Inputs {
    path: Option<PathBuf>,
    conn: Option<Connection>,
    events: Option<EventStore>,
}

impl Inputs {
    /// Add the figures the enabled rules need to `snap` (taken at `snap.now`).
    pub fn read(&mut self, snap: &mut Snapshot, config: &Config) {
        let settings = &config.alerts;
        if self.path.as_deref() != Some(config.state.path.as_path()) {
            *self = Inputs {
                path: Some(config.state.path.clone()),
                ..Inputs::default()
            };
        }
        let now = snap.now;
        for rule in [
            RuleKind::DmarcFailureRate,
            RuleKind::UnknownSource,
            RuleKind::NoReports,
            RuleKind::IngestFailures,
        ] {
            let result = match self.conn() {
                Ok(conn) => match rule {
                    RuleKind::DmarcFailureRate => dmarc(conn, snap, settings, now),
                    RuleKind::UnknownSource => sources(conn, snap, settings, config, now),
                    RuleKind::NoReports => history(conn, snap, settings),
                    _ => failures(conn, snap, settings, now),
                },
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                unavailable(snap, rule, &e);
            }
        }
        for rule in [RuleKind::BounceRate, RuleKind::ComplaintRate] {
            let result = match self.events() {
                Ok(store) => event_rates(store, snap, settings, rule, now),
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                unavailable(snap, rule, &e);
            }
        }
    }

    fn conn(&mut self) -> Result<&Connection, String> {
        if self.conn.is_none() {
            let path = self.path.clone().unwrap_or_default();
            self.conn = Some(open(&path).map_err(|e| format!("opening {}: {e}", path.display()))?);
        }
        self.conn.as_ref().ok_or_else(String::new)
    }

    fn events(&mut self) -> Result<&EventStore, String> {
        if self.events.is_none() {
            let path = self.path.clone().unwrap_or_default();
            self.events = Some(EventStore::open(&path).map_err(|e| e.to_string())?);
        }
        self.events.as_ref().ok_or_else(String::new)
    }
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

fn unavailable(snap: &mut Snapshot, rule: RuleKind, error: &str) {
    tracing::warn!(
        rule = rule.as_str(),
        error,
        "cannot read what an alert rule needs; its alerts stay as they are this round"
    );
    snap.unavailable.push(rule);
}

/// The domains `rule` is enabled for, grouped by their window (per-domain overrides may differ).
fn by_window(
    snap: &Snapshot,
    settings: &AlertSettings,
    rule: RuleKind,
) -> BTreeMap<Duration, Vec<(usize, RuleSettings)>> {
    let mut out: BTreeMap<Duration, Vec<(usize, RuleSettings)>> = BTreeMap::new();
    for (i, d) in snap.domains.iter().enumerate() {
        let s = settings.rule(rule, Some(&d.domain));
        if s.enabled {
            let window = s.window.unwrap_or_default();
            out.entry(window).or_default().push((i, s));
        }
    }
    out
}

fn since(now: i64, window: Duration) -> i64 {
    now.saturating_sub(i64::try_from(window.as_secs()).unwrap_or(i64::MAX))
}

fn names<'a>(snap: &'a Snapshot, group: &[(usize, RuleSettings)]) -> Vec<&'a str> {
    group
        .iter()
        .map(|(i, _)| snap.domains[*i].domain.as_str())
        .collect()
}

fn dmarc(
    conn: &Connection,
    snap: &mut Snapshot,
    settings: &AlertSettings,
    now: i64,
) -> Result<(), String> {
    for (window, group) in by_window(snap, settings, RuleKind::DmarcFailureRate) {
        let found = ingest::dmarc_volumes(conn, &names(snap, &group), since(now, window))
            .map_err(|e| e.to_string())?;
        let found: BTreeMap<String, ingest::DmarcVolume> = found.into_iter().collect();
        for (i, _) in group {
            let d = &mut snap.domains[i];
            let v = found.get(&d.domain).copied().unwrap_or_default();
            d.dmarc = Some(DmarcFigures {
                window: human(window),
                messages: v.messages,
                failing: v.failing,
                reports: v.reports,
            });
        }
    }
    Ok(())
}

fn sources(
    conn: &Connection,
    snap: &mut Snapshot,
    settings: &AlertSettings,
    config: &Config,
    now: i64,
) -> Result<(), String> {
    for (window, group) in by_window(snap, settings, RuleKind::UnknownSource) {
        // The lowest threshold of the group; each domain's own is applied by the rule.
        let above = group
            .iter()
            .map(|(_, s)| s.threshold.unwrap_or(0.0).floor() as u64)
            .min()
            .unwrap_or(0);
        let rows = ingest::failing_sources(
            conn,
            &names(snap, &group),
            since(now, window),
            above,
            SOURCES_PER_DOMAIN,
        )
        .map_err(|e| e.to_string())?;
        for (i, _) in group {
            let d = &mut snap.domains[i];
            let known = config
                .domains
                .iter()
                .find(|c| c.name.as_str() == d.domain)
                .map(|c| c.sending_ips.as_slice())
                .unwrap_or_default();
            d.failing_sources = rows
                .iter()
                .filter(|(domain, ip, _)| {
                    *domain == d.domain
                        // A configured sending IP is not unknown: its failures are the
                        // dmarc_failure_rate rule's (and its SPF check's) business.
                        && !ip
                            .parse::<IpAddr>()
                            .is_ok_and(|ip| known.iter().any(|net| net.contains(&ip)))
                })
                .map(|(_, ip, n)| SourceFigure {
                    source_ip: ip.clone(),
                    failing: *n,
                })
                .collect();
        }
    }
    Ok(())
}

fn history(conn: &Connection, snap: &mut Snapshot, settings: &AlertSettings) -> Result<(), String> {
    let group: Vec<(usize, RuleSettings)> = by_window(snap, settings, RuleKind::NoReports)
        .into_values()
        .flatten()
        .collect();
    if group.is_empty() {
        return Ok(());
    }
    let count_to = group
        .iter()
        .map(|(_, s)| s.min_volume.unwrap_or(1))
        .max()
        .unwrap_or(1);
    let rows =
        ingest::report_history(conn, &names(snap, &group), count_to).map_err(|e| e.to_string())?;
    for (i, _) in group {
        let d = &mut snap.domains[i];
        let (last_end, reports) = rows
            .iter()
            .find(|(domain, _, _)| *domain == d.domain)
            .map_or((None, 0), |(_, end, n)| (*end, *n));
        d.report_history = Some(ReportHistory { last_end, reports });
    }
    Ok(())
}

fn failures(
    conn: &Connection,
    snap: &mut Snapshot,
    settings: &AlertSettings,
    now: i64,
) -> Result<(), String> {
    let s = settings.rule(RuleKind::IngestFailures, None);
    if !s.enabled {
        return Ok(());
    }
    let window = s.window.unwrap_or(Duration::from_secs(3600));
    let f = ingest::ingest_failures(conn, since(now, window)).map_err(|e| e.to_string())?;
    snap.ingest_failures = Some(IngestFailures {
        window: human(window),
        count: f.by_reason.iter().map(|(_, n)| n).sum(),
        by_reason: f.by_reason,
        last_error: f.last_error,
    });
    Ok(())
}

fn event_rates(
    store: &EventStore,
    snap: &mut Snapshot,
    settings: &AlertSettings,
    rule: RuleKind,
    now: i64,
) -> Result<(), String> {
    let configured: Vec<String> = snap.domains.iter().map(|d| d.domain.clone()).collect();
    for (window, group) in by_window(snap, settings, rule) {
        let w = Window {
            label: human(window),
            length: window,
        };
        let found = rates(
            store,
            now,
            std::slice::from_ref(&w),
            &Thresholds::default(),
            &configured,
        )
        .map_err(|e| e.to_string())?;
        for (i, _) in group {
            let d = &mut snap.domains[i];
            let figures = found
                .iter()
                .find(|r| r.domain == d.domain)
                .map(|r| figures(r, rule));
            let figures = figures.unwrap_or_else(|| RateFigures {
                window: w.label.clone(),
                ..RateFigures::default()
            });
            match rule {
                RuleKind::BounceRate => d.bounces = Some(figures),
                _ => d.complaints = Some(figures),
            }
        }
    }
    Ok(())
}

fn figures(r: &DomainRates, rule: RuleKind) -> RateFigures {
    let figure = |deliveries: u64, bounces: u64, complaints: u64| match rule {
        RuleKind::BounceRate => RateFigure {
            events: bounces,
            volume: deliveries + bounces,
        },
        _ => RateFigure {
            events: complaints,
            volume: deliveries,
        },
    };
    RateFigures {
        window: r.window.clone(),
        total: figure(r.counts.deliveries, r.counts.bounces, r.counts.complaints),
        providers: r
            .providers
            .iter()
            .map(|p| {
                (
                    p.provider.clone(),
                    figure(p.counts.deliveries, p.counts.bounces, p.counts.complaints),
                )
            })
            .collect(),
    }
}
