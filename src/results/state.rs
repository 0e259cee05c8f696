//! The latest state: the newest stored result of every (target, check) and the open blocklist
//! listings, indexed by target, with the configured scope they are read in. It only ever changes
//! after the store committed ([`super::Results`]), so `/metrics`, the API and the store agree; it is
//! seeded at start from the store with one "latest per target and check" query.
//!
//! Readers take a read lock for as long as they read ([`LatestState::read`]): a scrape or a status
//! page reads in place, without copying the state.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::{PoisonError, RwLock, RwLockReadGuard};

use super::id::{CheckId, Target};
use crate::blocklists;
use crate::config::{Config, DomainName};
use crate::store::{ListingPeriod, ListingTransition, ListingUpdate, StoredCheck};

/// What the configuration names, as the state's readers need it.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Every configured domain, in configuration order.
    pub domains: Vec<DomainScope>,
    /// What a blocklist round checks: domains and every address of the ranges (up to the cap).
    pub listing_targets: Vec<Target>,
    /// The configured blocklist zones.
    pub zones: BTreeSet<String>,
}

/// A configured domain, as far as its results go.
#[derive(Debug, Clone)]
pub struct DomainScope {
    /// The domain.
    pub name: DomainName,
    /// Its DKIM selectors: only these have key-size series.
    pub selectors: Vec<String>,
    /// Its single sending IPs: their `ptr` results are the domain's `ptr` roll-up.
    pub single_ips: Vec<IpAddr>,
}

impl Scope {
    /// The scope of `config`.
    pub fn of(config: &Config) -> Scope {
        let domains = config
            .domains
            .iter()
            .map(|d| DomainScope {
                name: d.name.clone(),
                selectors: d.dkim_selectors.clone(),
                single_ips: d.single_ips().collect(),
            })
            .collect();
        // A selection the loader accepted cannot fail here; without zones nothing is listed.
        let (zones, targets) = match blocklists::configured(config) {
            Ok((zones, targets)) if !zones.is_empty() => (zones, targets),
            _ => {
                return Scope {
                    domains,
                    ..Scope::default()
                };
            }
        };
        Scope {
            domains,
            listing_targets: targets
                .targets()
                .iter()
                .map(|t| match t {
                    blocklists::Target::Ip(ip) => Target::Ip(*ip),
                    blocklists::Target::Domain(d) => Target::Domain(d.clone()),
                })
                .collect(),
            zones: zones.iter().map(|z| z.zone().to_owned()).collect(),
        }
    }
}

/// The state behind the lock.
#[derive(Debug, Default)]
pub struct Snapshot {
    results: HashMap<Target, BTreeMap<CheckId, StoredCheck>>,
    open: HashMap<String, BTreeMap<String, ListingPeriod>>,
    scope: Scope,
}

impl Snapshot {
    /// The latest results of `target`, by check.
    pub fn results(&self, target: &Target) -> impl Iterator<Item = &StoredCheck> {
        self.results
            .get(target)
            .into_iter()
            .flat_map(|m| m.values())
    }

    /// The latest result of `check` on `target`.
    pub fn result(&self, target: &Target, check: CheckId) -> Option<&StoredCheck> {
        self.results.get(target)?.get(&check)
    }

    /// Every target with a result.
    pub fn targets(&self) -> impl Iterator<Item = &Target> {
        self.results.keys()
    }

    /// The open listing periods of `target` (an IP or domain as text), by zone.
    pub fn open_listings(&self, target: &str) -> impl Iterator<Item = &ListingPeriod> {
        self.open.get(target).into_iter().flat_map(|m| m.values())
    }

    /// Whether `target` has an open listing on `zone`.
    pub fn is_open(&self, target: &str, zone: &str) -> bool {
        self.open.get(target).is_some_and(|m| m.contains_key(zone))
    }

    /// What the configuration names.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    fn insert(&mut self, c: StoredCheck) {
        self.results
            .entry(c.target.clone())
            .or_default()
            .insert(c.check, c);
    }

    fn open_period(&mut self, p: ListingPeriod) {
        self.open
            .entry(p.target.clone())
            .or_default()
            .insert(p.zone.clone(), p);
    }

    fn close_period(&mut self, target: &str, zone: &str) {
        if let Some(zones) = self.open.get_mut(target) {
            zones.remove(zone);
            if zones.is_empty() {
                self.open.remove(target);
            }
        }
    }
}

/// The latest state, shared by the results pipeline (the only writer) and its readers.
#[derive(Debug, Default)]
pub struct LatestState {
    inner: RwLock<Snapshot>,
}

impl LatestState {
    /// An empty state (nothing stored yet, nothing configured).
    pub fn new() -> Self {
        LatestState::default()
    }

    /// Read the state in place; hold the guard only while reading.
    pub fn read(&self) -> RwLockReadGuard<'_, Snapshot> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self, f: impl FnOnce(&mut Snapshot)) {
        let mut guard = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard);
    }

    /// Replace the configured scope (at start and after each reload): what is no longer configured
    /// disappears from every reader at once, nothing is removed by hand.
    pub fn set_scope(&self, scope: Scope) {
        self.write(|s| s.scope = scope);
    }

    /// Take results the store has committed.
    pub(super) fn apply_results(&self, stored: Vec<StoredCheck>) {
        self.write(|s| stored.into_iter().for_each(|c| s.insert(c)));
    }

    /// Take listing updates the store has committed.
    pub(super) fn apply_listings(&self, updates: &[ListingUpdate]) {
        self.write(|s| {
            for u in updates {
                let Some(p) = &u.period else { continue };
                match (u.transition, p.delisted_at) {
                    (ListingTransition::Ended, _) | (_, Some(_)) => {
                        s.close_period(&p.target, &p.zone)
                    }
                    _ => s.open_period(p.clone()),
                }
            }
        });
    }

    /// Start again from what the store holds.
    pub(super) fn seed(&self, latest: Vec<StoredCheck>, open: Vec<ListingPeriod>) {
        self.write(|s| {
            s.results.clear();
            s.open.clear();
            latest.into_iter().for_each(|c| s.insert(c));
            open.into_iter()
                .filter(|p| p.delisted_at.is_none())
                .for_each(|p| s.open_period(p));
        });
    }
}
