//! Group commit for [`EventStore::record`](super::EventStore::record).
//!
//! With `synchronous = FULL` every commit waits for the disk, and the events' connection commits
//! one transaction at a time: one commit per webhook request caps the rate at the disk's sync rate.
//! So concurrent callers queue their batches here, and whichever of them finds nobody leading
//! takes the queue (up to [`MAX_GROUP_EVENTS`]), runs every batch in one transaction (each in its
//! own savepoint: [`super::record_parts`]), commits once, and hands each caller its own outcome.
//! Nobody is answered before the commit that holds their events; one sync serves the whole group
//! (docs/bounces.md, "Durability").
//!
//! Bounded: at most [`MAX_QUEUED_EVENTS`] wait in the queue; a caller beyond that waits for room
//! before queueing. Callers block (they run on blocking threads, never on the async runtime), parked
//! until their outcome is in: the leader wakes exactly the callers it answered and the next leader,
//! not every waiting thread twice per group.

use std::collections::{HashMap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::Thread;

use super::{RecordOutcome, Recorded};
use crate::events::suppress::SuppressionPolicy;
use crate::store::StoreError;

/// Events committed in one transaction at most (a single larger batch still goes alone).
pub(super) const MAX_GROUP_EVENTS: usize = 1_000;

/// Events waiting for a transaction at most (a single larger batch still queues when it is alone).
pub(super) const MAX_QUEUED_EVENTS: usize = 4 * MAX_GROUP_EVENTS;

/// One caller's outcome.
pub(super) type Outcome = Result<RecordOutcome, StoreError>;

/// One caller's batch, as queued.
pub(super) struct Part {
    ticket: u64,
    /// The caller's thread, unparked when its outcome is in (or when it is to lead).
    waiter: Thread,
    /// The events, in the caller's order.
    pub batch: Vec<Recorded>,
    /// The suppression policy the caller counts them under.
    pub policy: SuppressionPolicy,
}

#[derive(Default)]
struct Queue {
    parts: VecDeque<Part>,
    /// Events in `parts`.
    events: usize,
    /// A caller is running a group's transaction.
    leading: bool,
    next_ticket: u64,
    /// Outcomes of committed (or failed) parts, until their callers pick them up.
    done: HashMap<u64, Outcome>,
}

/// The queue of batches waiting for a group transaction.
#[derive(Default)]
pub(super) struct Group {
    queue: Mutex<Queue>,
    /// Signalled when a group leaves the queue (callers waiting for room).
    room: Condvar,
    /// Group transactions run (tests prove that grouping happens).
    #[cfg(test)]
    pub(super) transactions: std::sync::atomic::AtomicUsize,
}

impl Group {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sleep until unparked (or spuriously: callers check their state again).
    fn park<'a>(&'a self, q: MutexGuard<'a, Queue>) -> MutexGuard<'a, Queue> {
        drop(q);
        std::thread::park();
        self.lock()
    }

    /// Queue `batch` and wait until a group transaction holding it has committed (or failed).
    /// `run` is what a leader runs: the group's parts in arrival order, one outcome per part.
    pub(super) fn submit(
        &self,
        batch: Vec<Recorded>,
        policy: SuppressionPolicy,
        mut run: impl FnMut(&[Part]) -> Vec<Outcome>,
    ) -> Outcome {
        let mut q = self.lock();
        while !q.parts.is_empty() && q.events + batch.len() > MAX_QUEUED_EVENTS {
            q = self.room.wait(q).unwrap_or_else(PoisonError::into_inner);
        }
        let ticket = q.next_ticket;
        q.next_ticket = q.next_ticket.wrapping_add(1);
        q.events += batch.len();
        q.parts.push_back(Part {
            ticket,
            waiter: std::thread::current(),
            batch,
            policy,
        });
        loop {
            if let Some(outcome) = q.done.remove(&ticket) {
                return outcome;
            }
            if q.leading {
                q = self.park(q);
                continue;
            }
            // Lead: take the queue's head (this caller's part, or earlier ones when the group is
            // full: then it leads again or follows the next leader).
            q.leading = true;
            let parts = take_group(&mut q);
            drop(q);
            // Room in the queue for callers waiting to join it.
            self.room.notify_all();
            #[cfg(test)]
            self.transactions
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut lead = Lead {
                group: self,
                callers: parts.iter().map(|p| (p.ticket, p.waiter.clone())).collect(),
                outcomes: Vec::new(),
            };
            lead.outcomes = run(&parts);
            // Publishes every outcome and steps down.
            drop(lead);
            q = self.lock();
        }
    }

    /// Parts waiting for a transaction (tests).
    #[cfg(test)]
    pub(super) fn queued(&self) -> usize {
        self.lock().parts.len()
    }
}

/// The head of the queue, up to [`MAX_GROUP_EVENTS`] events (at least one part).
fn take_group(q: &mut Queue) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut events = 0;
    while q
        .parts
        .front()
        .is_some_and(|p| parts.is_empty() || events + p.batch.len() <= MAX_GROUP_EVENTS)
    {
        let Some(p) = q.parts.pop_front() else { break };
        events += p.batch.len();
        parts.push(p);
    }
    q.events -= events;
    parts
}

/// A leader's group: dropping it answers every part (an error for any part `run` did not answer,
/// should it have panicked), wakes their callers and the caller at the head of the queue, which
/// leads next.
struct Lead<'a> {
    group: &'a Group,
    callers: Vec<(u64, Thread)>,
    outcomes: Vec<Outcome>,
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        let mut outcomes = std::mem::take(&mut self.outcomes).into_iter();
        let mut q = self.group.lock();
        for (ticket, _) in &self.callers {
            let outcome = outcomes.next().unwrap_or_else(|| {
                Err(StoreError::Unhealthy(
                    "the group transaction holding this batch stopped before it answered".into(),
                ))
            });
            q.done.insert(*ticket, outcome);
        }
        q.leading = false;
        let next = q.parts.front().map(|p| p.waiter.clone());
        drop(q);
        for (_, waiter) in self.callers.drain(..) {
            waiter.unpark();
        }
        if let Some(next) = next {
            next.unpark();
        }
    }
}
