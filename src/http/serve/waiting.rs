//! Connections that have not sent a request head yet, oldest first, each parked here with its slot.
//!
//! When every slot is taken, a new connection takes the slot of the connection that has waited
//! longest for its first request head, and that one is closed. A flood of idle or slow-header
//! connections (slowloris) then only ever displaces itself: a client that sends its request as soon
//! as it connects (a health probe, Prometheus, the CLI) is served however many idle connections are
//! open, unless so many new ones arrive that its slot is taken before its head does (`max_connections`
//! arrivals between its connect and its request). A connection that has sent a request keeps its
//! slot until it closes; only when every slot is held by such connections are new ones refused.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;

/// The parked connections.
#[derive(Default)]
pub(super) struct Waiting {
    inner: Mutex<Parked>,
}

#[derive(Default)]
struct Parked {
    next: u64,
    /// By arrival order: the first entry has waited longest.
    by_age: BTreeMap<u64, (OwnedSemaphorePermit, CancellationToken)>,
}

impl Waiting {
    /// Park a new connection with its slot until its first request head arrives.
    pub(super) fn park(self: &Arc<Self>, slot: OwnedSemaphorePermit) -> Ticket {
        let evicted = CancellationToken::new();
        let mut parked = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let id = parked.next;
        parked.next += 1;
        parked.by_age.insert(id, (slot, evicted.clone()));
        Ticket {
            id,
            waiting: self.clone(),
            evicted,
            claimed: AtomicBool::new(false),
            slot: Mutex::new(None),
        }
    }

    /// Close the connection that has waited longest and hand over its slot (`None`: nobody waits).
    pub(super) fn evict_oldest(&self) -> Option<OwnedSemaphorePermit> {
        let mut parked = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let (_, (slot, evicted)) = parked.by_age.pop_first()?;
        evicted.cancel();
        Some(slot)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_age
            .len()
    }
}

/// A connection's place among the parked ones; dropped with the connection.
pub(super) struct Ticket {
    id: u64,
    waiting: Arc<Waiting>,
    evicted: CancellationToken,
    claimed: AtomicBool,
    /// The slot, once claimed back from the parked set.
    slot: Mutex<Option<OwnedSemaphorePermit>>,
}

impl Ticket {
    /// A request head arrived: take the slot back for good. False when the connection was evicted
    /// first (it is closing; the request gets no service).
    pub(super) fn claim(&self) -> bool {
        if self.claimed.swap(true, Ordering::AcqRel) {
            return self
                .slot
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_some();
        }
        let taken = self
            .waiting
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_age
            .remove(&self.id);
        let kept = taken.map(|(slot, _)| slot);
        let ok = kept.is_some();
        *self.slot.lock().unwrap_or_else(PoisonError::into_inner) = kept;
        ok
    }

    /// Cancelled when another connection took this one's slot.
    pub(super) fn evicted(&self) -> &CancellationToken {
        &self.evicted
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.claimed.load(Ordering::Acquire) {
            // Closed while parked (a timeout, the client gone): its slot is free again.
            self.waiting
                .inner
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .by_age
                .remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::Semaphore;

    #[test]
    fn the_longest_waiting_connection_gives_up_its_slot_and_a_served_one_never_does() {
        let slots = Arc::new(Semaphore::new(3));
        let waiting = Arc::new(Waiting::default());
        let take = || slots.clone().try_acquire_owned().expect("a free slot");
        let first = waiting.park(take());
        let second = waiting.park(take());
        let served = waiting.park(take());
        assert!(served.claim(), "a request head keeps the slot");
        assert!(served.claim(), "claiming twice is harmless");
        assert!(
            slots.clone().try_acquire_owned().is_err(),
            "every slot taken"
        );

        let handed_over = waiting.evict_oldest().expect("someone waits");
        assert!(
            first.evicted().is_cancelled(),
            "the oldest is the one closed"
        );
        assert!(!second.evicted().is_cancelled());
        assert!(
            !first.claim(),
            "an evicted connection cannot take its slot back"
        );
        let newcomer = waiting.park(handed_over);

        drop(second);
        assert_eq!(
            waiting.len(),
            1,
            "a closed connection leaves the parked set"
        );
        assert_eq!(slots.available_permits(), 1, "and frees its slot");
        assert!(waiting.evict_oldest().is_some(), "the newcomer is next");
        assert!(newcomer.evicted().is_cancelled());
        assert!(
            waiting.evict_oldest().is_none(),
            "the served connection is never evicted"
        );
        drop(served);
        assert_eq!(slots.available_permits(), 3);
    }
}
