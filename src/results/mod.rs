//! What happens to a result once a check has produced it: record history and its changes, the store
//! commit, then the in-memory latest state that `/metrics` and the views read (docs/architecture.md).
//!
//! Every write follows one order — commit to the store, then update the state — so what the metrics
//! and the API show is always what is stored. The state is seeded at start from the store with one
//! "latest per target and check" query ([`Results::open`]); nothing is replayed.
//!
//! - `id`: [`CheckId`] and [`Target`], the typed identities of a result.
//! - `facts`: [`CheckFacts`], the typed facts behind a result, one variant per check.
//! - `state`: [`LatestState`], the latest result per (target, check) and the open listings.
//! - `posture`: a domain round ([`DomainRound`]); `blocklists`: a blocklist round; `history`: record
//!   history and the `record.changed` finding.

mod blocklists;
mod facts;
mod history;
mod id;
mod posture;
mod state;

use std::sync::Arc;

use crate::config::Config;
use crate::store::{CheckResult, Store, StoreError};

pub use blocklists::BlocklistRound;
pub use facts::{
    Answer, CheckFacts, DkimFacts, DkimKey, DmarcFacts, DmarcPolicy, ListingFacts, PtrFacts,
    SpfFacts, ZoneFacts,
};
pub use history::{CHANGE_REPORTED_FOR, format_time};
pub use id::{BLOCKLISTS_TARGET, BadTarget, CheckId, Target, UnknownCheck};
pub use posture::DomainRound;
pub use state::{DomainScope, LatestState, Scope, Snapshot};

/// The results pipeline: the store and the latest state, written only through here.
pub struct Results {
    store: Arc<dyn Store>,
    state: Arc<LatestState>,
}

/// What seeding found, for the start-up log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seeded {
    /// Latest results read.
    pub results: usize,
    /// Open listing periods read.
    pub listings: usize,
}

impl Results {
    /// A pipeline over `store` with an empty state scoped to `config` (nothing read yet).
    pub fn new(store: Arc<dyn Store>, config: &Config) -> Results {
        let state = Arc::new(LatestState::new());
        state.set_scope(Scope::of(config));
        Results { store, state }
    }

    /// A pipeline over `store`, its state seeded from what the store holds.
    pub async fn open(
        store: Arc<dyn Store>,
        config: &Config,
    ) -> Result<(Results, Seeded), StoreError> {
        let results = Results::new(store, config);
        let seeded = results.seed().await?;
        Ok((results, seeded))
    }

    /// Read the state again from the store: the latest result of every (target, check) in one query,
    /// and the open listing periods.
    pub async fn seed(&self) -> Result<Seeded, StoreError> {
        let latest = self.store.latest_checks(None).await?;
        let open = self.store.listings(None).await?;
        let seeded = Seeded {
            results: latest.len(),
            listings: open.len(),
        };
        self.state.seed(latest, open);
        Ok(seeded)
    }

    /// The store (for reads of history and for retention).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The latest state, for readers.
    pub fn state(&self) -> &Arc<LatestState> {
        &self.state
    }

    /// Follow a new configuration: readers see only what it names from now on.
    pub fn configure(&self, config: &Config) {
        self.state.set_scope(Scope::of(config));
    }

    /// Store results, then make them the latest state.
    pub async fn record(&self, results: Vec<CheckResult>) -> Result<(), StoreError> {
        let stored = self.store.save_results(results).await?;
        self.state.apply_results(stored);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
