//! One queue for the write transactions of the daemon's own connections to the state database.
//!
//! SQLite lets one writer in at a time and makes the others poll (the busy handler sleeps and
//! retries). A writer that commits and begins again at once, as the report ingester does for report
//! after report, can then win the lock every time, and another connection's writer (the check
//! results, bounce events) runs out of its busy timeout: its batch fails and `/readyz` reports the
//! store as unable to commit. Taking a turn here before `BEGIN IMMEDIATE` serves the daemon's
//! writers first come, first served. The gate is advisory: a writer that waits longer than its
//! bound goes on to SQLite's own locking, as before, so a turn held too long can only slow the
//! others down, never stop them. Other processes (the command line's `ingest`) never queue here;
//! SQLite's busy timeout still orders those.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The process-wide queue.
static GATE: Gate = Gate::new();

/// A writer's turn: the next write transaction is its own until this is dropped.
#[derive(Debug)]
#[must_use = "the turn ends when it is dropped"]
pub struct WriteTurn {
    gate: &'static Gate,
}

impl Drop for WriteTurn {
    fn drop(&mut self) {
        self.gate.leave();
    }
}

/// Wait for a turn, at most `bound`; `None` when it did not come (go on under SQLite's locking).
pub fn enter(bound: Duration) -> Option<WriteTurn> {
    GATE.enter(bound)
}

#[derive(Debug)]
struct Gate {
    state: Mutex<State>,
    turn_changed: Condvar,
}

#[derive(Debug)]
struct State {
    held: bool,
    next_ticket: u64,
    waiting: VecDeque<u64>,
}

impl Gate {
    const fn new() -> Self {
        Gate {
            state: Mutex::new(State {
                held: false,
                next_ticket: 0,
                waiting: VecDeque::new(),
            }),
            turn_changed: Condvar::new(),
        }
    }

    fn enter(&'static self, bound: Duration) -> Option<WriteTurn> {
        let deadline = Instant::now() + bound;
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let ticket = s.next_ticket;
        s.next_ticket = s.next_ticket.wrapping_add(1);
        s.waiting.push_back(ticket);
        loop {
            if !s.held && s.waiting.front() == Some(&ticket) {
                s.waiting.pop_front();
                s.held = true;
                return Some(WriteTurn { gate: self });
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                s.waiting.retain(|t| *t != ticket);
                // The writer behind this one may be first now.
                self.turn_changed.notify_all();
                return None;
            }
            s = self
                .turn_changed
                .wait_timeout(s, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn leave(&self) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.held = false;
        drop(s);
        self.turn_changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn leaked() -> &'static Gate {
        Box::leak(Box::new(Gate::new()))
    }

    #[test]
    fn one_turn_at_a_time_and_waiters_are_served_in_arrival_order() {
        let gate = leaked();
        let first = gate.enter(Duration::from_secs(1)).expect("a free gate");
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiters = Vec::new();
        for i in 0..4 {
            let order = Arc::clone(&order);
            waiters.push(std::thread::spawn(move || {
                let turn = gate.enter(Duration::from_secs(10));
                order.lock().unwrap().push(i);
                drop(turn);
            }));
            // Each waiter queues before the next starts.
            while gate.state.lock().unwrap().waiting.len() <= i {
                std::thread::yield_now();
            }
        }
        assert!(
            order.lock().unwrap().is_empty(),
            "nobody enters while the turn is held"
        );
        drop(first);
        for w in waiters {
            w.join().unwrap();
        }
        assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3]);
    }

    #[test]
    fn a_writer_that_waited_too_long_gives_up_its_place_without_blocking_the_next() {
        let gate = leaked();
        let held = gate.enter(Duration::from_secs(1)).expect("a free gate");
        assert!(gate.enter(Duration::from_millis(20)).is_none());
        let entered = Arc::new(AtomicUsize::new(0));
        let e = Arc::clone(&entered);
        let next = std::thread::spawn(move || {
            let turn = gate.enter(Duration::from_secs(10));
            e.store(usize::from(turn.is_some()), Ordering::SeqCst);
        });
        std::thread::sleep(Duration::from_millis(20));
        drop(held);
        next.join().unwrap();
        assert_eq!(entered.load(Ordering::SeqCst), 1);
        assert!(gate.state.lock().unwrap().waiting.is_empty());
    }
}
