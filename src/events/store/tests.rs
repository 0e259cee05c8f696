use super::*;
use crate::events::model::{Bounce, Complaint, Delivery, Reason};
use crate::events::provider::Provider;
use crate::events::rates::{Judgement, Thresholds, Window, rates};
use crate::events::suppress::SuppressionPolicy;

/// 2025-12-03T10:00:00Z, a minute boundary.
const T0: i64 = 1_764_756_000;

fn store() -> (tempfile::TempDir, EventStore) {
    let dir = tempfile::tempdir().unwrap();
    let s = EventStore::open(&dir.path().join("state.db")).unwrap();
    (dir, s)
}

fn delivery(at: i64, to: &str) -> Recorded {
    Recorded {
        key: None,
        at,
        event: Event::Delivery(Delivery {
            recipient: to.into(),
            sender_domain: Some("mail.shop.example".into()),
            provider: Provider::Gmail,
        }),
    }
}

fn bounce(at: i64, key: Option<&str>, to: &str, reason: Reason) -> Recorded {
    Recorded {
        key: key.map(str::to_owned),
        at,
        event: Event::Bounce(Bounce {
            recipient: to.into(),
            sender_domain: Some("shop.example".into()),
            status: Some("5.1.1".into()),
            kind: reason.default_type(),
            reason,
            provider: Provider::Gmail,
            remote_mta: None,
            diagnostic: Some("550 5.1.1 no such user".into()),
        }),
    }
}

fn complaint(at: i64, to: &str) -> Recorded {
    Recorded {
        key: Some(format!("fbl:{to}:{at}")),
        at,
        event: Event::Complaint(Complaint {
            recipient: Some(to.into()),
            sender_domain: Some("shop.example".into()),
            feedback_type: "abuse".into(),
            provider: Provider::Yahoo,
        }),
    }
}

fn window(label: &str, minutes: u64) -> Window {
    Window {
        label: label.into(),
        length: Duration::from_secs(minutes * 60),
    }
}

fn configured() -> Vec<String> {
    vec!["shop.example".into()]
}

#[test]
fn the_same_key_counts_once_even_across_batches() {
    let (_d, s) = store();
    let p = SuppressionPolicy::default();
    let b = bounce(
        T0,
        Some("mail:<m1@x>:bob@gmail.com"),
        "bob@gmail.com",
        Reason::UserUnknown,
    );
    let first = s.record(&[b.clone(), b.clone()], &p).unwrap();
    assert_eq!((first.counted, first.duplicates), (1, 1));
    let again = s.record(&[b], &p).unwrap();
    assert_eq!((again.counted, again.duplicates), (0, 1));
    let sums = s.sums(minute_of(T0), minute_of(T0)).unwrap();
    assert_eq!(sums.len(), 1);
    assert_eq!(sums[0].count, 1);
    assert_eq!(
        (
            sums[0].event.as_str(),
            sums[0].bounce_type.as_str(),
            sums[0].reason.as_str()
        ),
        ("bounce", "hard", "user_unknown")
    );
}

#[test]
fn rates_count_the_minutes_inside_each_window_and_not_outside() {
    let (_d, s) = store();
    let p = SuppressionPolicy::default();
    let mut batch = Vec::new();
    // 98 deliveries now, 2 bounces 59 minutes ago (inside 1h), 10 bounces 60 minutes ago (outside 1h).
    for i in 0..98 {
        batch.push(delivery(T0 + 30, &format!("r{i}@gmail.com")));
    }
    batch.push(bounce(
        T0 - 59 * 60,
        None,
        "a@gmail.com",
        Reason::MailboxFull,
    ));
    batch.push(bounce(
        T0 - 59 * 60 + 59,
        None,
        "b@gmail.com",
        Reason::MailboxFull,
    ));
    for i in 0..10 {
        batch.push(bounce(
            T0 - 60 * 60,
            None,
            &format!("c{i}@gmail.com"),
            Reason::BlockedReputation,
        ));
    }
    s.record(&batch, &p).unwrap();
    let windows = [window("1h", 60), window("24h", 1440)];
    let got = rates(&s, T0 + 59, &windows, &Thresholds::default(), &configured()).unwrap();
    let hour = got.iter().find(|r| r.window == "1h").unwrap();
    assert_eq!(hour.domain, "shop.example");
    assert_eq!((hour.counts.deliveries, hour.counts.bounces), (98, 2));
    assert_eq!(hour.bounce_rate, Some(0.02));
    assert_eq!(hour.bounce_status, Judgement::Warning);
    // Every event here went to Gmail: the provider breakdown carries the same counts.
    assert_eq!(hour.providers.len(), 1);
    assert_eq!(hour.providers[0].provider, "gmail");
    assert_eq!(hour.providers[0].counts, hour.counts);
    let day = got.iter().find(|r| r.window == "24h").unwrap();
    assert_eq!((day.counts.deliveries, day.counts.bounces), (98, 12));
    assert_eq!(day.bounce_status, Judgement::Critical);
    // One minute later the bounces of minute T0-59m leave the hour.
    let later = rates(&s, T0 + 60, &windows, &Thresholds::default(), &configured()).unwrap();
    let hour = later.iter().find(|r| r.window == "1h").unwrap();
    assert_eq!(hour.counts.bounces, 0);
    assert_eq!(hour.bounce_status, Judgement::TooFewMessages);
}

#[test]
fn a_reopened_store_keeps_the_counts_of_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let p = SuppressionPolicy::default();
    {
        let s = EventStore::open(&path).unwrap();
        s.record(
            &[
                delivery(T0, "a@gmail.com"),
                complaint(T0 + 5, "q@yahoo.com"),
            ],
            &p,
        )
        .unwrap();
    }
    let s = EventStore::open(&path).unwrap();
    s.record(&[delivery(T0 + 120, "b@gmail.com")], &p).unwrap();
    let got = rates(
        &s,
        T0 + 180,
        &[window("1h", 60)],
        &Thresholds::default(),
        &configured(),
    )
    .unwrap();
    assert_eq!(got[0].counts.deliveries, 2);
    assert_eq!(got[0].counts.complaints, 1);
    assert_eq!(got[0].complaint_rate, Some(0.5));
    // A redelivered complaint after the restart still counts once.
    let again = s.record(&[complaint(T0 + 5, "q@yahoo.com")], &p).unwrap();
    assert_eq!(again.duplicates, 1);
}

#[test]
fn hard_bounces_and_complaints_suppress_at_once() {
    let (_d, s) = store();
    let p = SuppressionPolicy::default();
    s.record(
        &[
            bounce(T0, None, "gone@gmail.com", Reason::UserUnknown),
            bounce(T0, None, "blocked@gmail.com", Reason::BlockedReputation),
            complaint(T0 + 1, "angry@yahoo.com"),
        ],
        &p,
    )
    .unwrap();
    let list = s.suppressions().unwrap();
    let got: Vec<(&str, &str)> = list
        .iter()
        .map(|x| (x.address.as_str(), x.cause.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("gone@gmail.com", "hard_bounce"),
            ("angry@yahoo.com", "complaint")
        ]
    );
    assert!(s.remove_suppression("Gone@Gmail.com").unwrap());
    assert!(!s.remove_suppression("gone@gmail.com").unwrap());
    assert!(s.suppression("gone@gmail.com").unwrap().is_none());
}

#[test]
fn repeated_soft_bounces_suppress_unless_a_delivery_came_between() {
    let (_d, s) = store();
    let p = SuppressionPolicy {
        soft_bounces: 2,
        soft_within: Duration::from_secs(86_400),
    };
    let full = |at| bounce(at, None, "full@gmail.com", Reason::MailboxFull);
    s.record(
        &[full(T0), delivery(T0 + 10, "full@gmail.com"), full(T0 + 20)],
        &p,
    )
    .unwrap();
    assert!(
        s.suppression("full@gmail.com").unwrap().is_none(),
        "a delivery resets the count"
    );
    // One more, when the previous one has left the span.
    s.record(&[full(T0 + 20 + 86_401)], &p).unwrap();
    assert!(s.suppression("full@gmail.com").unwrap().is_none());
    s.record(&[full(T0 + 20 + 86_500)], &p).unwrap();
    let got = s.suppression("full@gmail.com").unwrap().unwrap();
    assert_eq!(
        (got.cause.as_str(), got.reason.as_str()),
        ("soft_bounces", "mailbox_full")
    );
    // Blocks are the sender's problem: never suppress the address.
    for i in 0..5 {
        s.record(
            &[bounce(
                T0 + i,
                None,
                "fine@gmail.com",
                Reason::BlockedBlocklist,
            )],
            &p,
        )
        .unwrap();
    }
    assert!(s.suppression("fine@gmail.com").unwrap().is_none());
}

#[test]
fn pruning_keeps_what_the_windows_need() {
    let (_d, s) = store();
    let p = SuppressionPolicy::default();
    s.record(
        &[
            delivery(T0, "a@gmail.com"),
            delivery(T0 - 8 * 86_400, "b@gmail.com"),
        ],
        &p,
    )
    .unwrap();
    s.prune(
        T0,
        Duration::from_secs(7 * 86_400),
        Duration::from_secs(30 * 86_400),
    )
    .unwrap();
    let sums = s.sums(0, minute_of(T0)).unwrap();
    assert_eq!(sums.iter().map(|x| x.count).sum::<u64>(), 1);
}

#[test]
fn an_old_events_key_outlives_pruning() {
    // A provider retrying a month-old event must still find its key: keys age from when they were seen.
    let (_d, s) = store();
    let p = SuppressionPolicy::default();
    let old = bounce(
        T0 - 60 * 86_400,
        Some("sendgrid:e-old"),
        "x@gmail.com",
        Reason::UserUnknown,
    );
    s.record(std::slice::from_ref(&old), &p).unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    s.prune(
        now,
        Duration::from_secs(86_400),
        Duration::from_secs(30 * 86_400),
    )
    .unwrap();
    assert!(s.seen("sendgrid:e-old").unwrap());
    assert_eq!(s.record(&[old], &p).unwrap().duplicates, 1);
}

// Group commit (store/group.rs).

fn transactions(s: &EventStore) -> usize {
    s.group
        .transactions
        .load(std::sync::atomic::Ordering::SeqCst)
}

/// Wait (at most 10 s) until `ready` holds.
fn wait_until(what: &str, ready: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !ready() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Record `first`, then each of `queued` from its own thread while `first`'s transaction is held
/// back (the test holds the connection): they queue in the given order behind it, and go in once
/// it is let through. The outcomes of `first` and then of each of `queued`.
fn contended(
    s: &EventStore,
    first: Vec<Recorded>,
    queued: Vec<Vec<Recorded>>,
) -> Vec<Result<RecordOutcome, StoreError>> {
    let p = SuppressionPolicy::default();
    let before = transactions(s);
    std::thread::scope(|scope| {
        let conn = s.conn.lock().unwrap();
        let mut callers = vec![scope.spawn(|| s.record(&first, &p))];
        // The first caller leads a group of its own batch and waits for the connection.
        wait_until("the first caller leads", || transactions(s) == before + 1);
        for (i, batch) in queued.iter().enumerate() {
            callers.push(scope.spawn(|| s.record(batch, &p)));
            wait_until("a caller queues", || s.group.queued() == i + 1);
        }
        drop(conn);
        callers.into_iter().map(|c| c.join().unwrap()).collect()
    })
}

fn keyed_delivery(at: i64, key: &str, to: &str) -> Recorded {
    Recorded {
        key: Some(key.into()),
        ..delivery(at, to)
    }
}

fn total(s: &EventStore) -> u64 {
    s.sums(minute_of(T0) - 1, minute_of(T0) + 1)
        .unwrap()
        .iter()
        .map(|x| x.count)
        .sum()
}

#[test]
fn many_concurrent_callers_each_get_their_own_outcome_and_the_sums_count_distinct_events() {
    let (_d, s) = store();
    let p = SuppressionPolicy::default();
    const THREADS: usize = 16;
    const CALLS: usize = 25;
    // Keys drawn from a pool of 150 shared by every thread (redeliveries across callers), plus one
    // event without a key per call (always counted).
    let outcomes: Vec<Vec<(usize, RecordOutcome)>> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let s = &s;
                let p = &p;
                scope.spawn(move || {
                    (0..CALLS)
                        .map(|i| {
                            let mut batch: Vec<Recorded> = (0..=(i % 3))
                                .map(|j| {
                                    let k = (t * 31 + i * 7 + j) % 150;
                                    keyed_delivery(T0, &format!("k{k}"), &format!("r{k}@gmail.com"))
                                })
                                .collect();
                            batch.push(delivery(T0, "nokey@gmail.com"));
                            let outcome = s.record(&batch, p).expect("a committed batch");
                            (batch.len(), outcome)
                        })
                        .collect()
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let mut counted = 0;
    let mut events = 0;
    for (len, o) in outcomes.iter().flatten() {
        assert_eq!(
            o.fresh.len(),
            *len,
            "one flag per event of the caller's batch"
        );
        assert_eq!(o.counted + o.duplicates, *len);
        assert_eq!(o.fresh.iter().filter(|f| **f).count(), o.counted);
        assert!(o.fresh[*len - 1], "an event without a key always counts");
        counted += o.counted;
        events += len;
    }
    let keys: std::collections::HashSet<usize> = (0..THREADS)
        .flat_map(|t| {
            (0..CALLS).flat_map(move |i| (0..=(i % 3)).map(move |j| (t * 31 + i * 7 + j) % 150))
        })
        .collect();
    let distinct = keys.len() + THREADS * CALLS;
    assert_eq!(counted, distinct, "each key counted once, by one caller");
    assert!(events > distinct, "the test sends redeliveries");
    assert_eq!(total(&s), distinct as u64);
    for k in &keys {
        assert!(s.seen(&format!("k{k}")).unwrap());
    }
    assert!(transactions(&s) <= THREADS * CALLS);
}

#[test]
fn callers_that_queue_behind_a_transaction_commit_together_in_one() {
    let (_d, s) = store();
    let queued: Vec<Vec<Recorded>> = (0..8)
        .map(|i| {
            vec![
                keyed_delivery(T0, &format!("a{i}"), "a@gmail.com"),
                keyed_delivery(T0, &format!("b{i}"), "b@gmail.com"),
            ]
        })
        .collect();
    let got = contended(&s, vec![keyed_delivery(T0, "first", "f@gmail.com")], queued);
    assert_eq!(got.len(), 9);
    for o in &got {
        let o = o.as_ref().expect("every caller committed");
        assert_eq!(o.duplicates, 0);
        assert_eq!(o.fresh.iter().filter(|f| **f).count(), o.counted);
    }
    assert_eq!(got[0].as_ref().unwrap().counted, 1);
    assert!(got[1..].iter().all(|o| o.as_ref().unwrap().counted == 2));
    // The first caller's transaction, then one for the eight that queued behind it.
    assert_eq!(transactions(&s), 2);
    assert_eq!(total(&s), 17);
}

#[test]
fn a_group_never_exceeds_its_event_cap() {
    let (_d, s) = store();
    let per_caller = group::MAX_GROUP_EVENTS * 2 / 5; // two callers fit a group, three do not
    let queued: Vec<Vec<Recorded>> = (0..5)
        .map(|c| {
            (0..per_caller)
                .map(|i| keyed_delivery(T0, &format!("c{c}-{i}"), "x@gmail.com"))
                .collect()
        })
        .collect();
    let got = contended(&s, vec![delivery(T0, "f@gmail.com")], queued);
    assert!(got.iter().all(Result::is_ok));
    // [first], [1, 2], [3, 4], [5].
    assert_eq!(transactions(&s), 4);
    assert_eq!(total(&s), 1 + 5 * per_caller as u64);
}

#[test]
fn the_same_key_from_two_callers_in_one_group_counts_once_for_the_first_to_arrive() {
    let (_d, s) = store();
    let key = "sendgrid:same-event";
    let got = contended(
        &s,
        vec![delivery(T0, "f@gmail.com")],
        vec![
            vec![keyed_delivery(T0, key, "x@gmail.com")],
            vec![
                keyed_delivery(T0, key, "x@gmail.com"),
                keyed_delivery(T0, "other", "y@gmail.com"),
            ],
        ],
    );
    assert_eq!(transactions(&s), 2, "both went in one transaction");
    let first = got[1].as_ref().unwrap();
    let second = got[2].as_ref().unwrap();
    assert_eq!((first.counted, first.duplicates), (1, 0));
    assert_eq!((second.counted, second.duplicates), (1, 1));
    assert_eq!(second.fresh, [false, true]);
    assert_eq!(total(&s), 3);
}

#[test]
fn a_caller_whose_batch_fails_gets_its_error_and_the_rest_of_its_group_commits() {
    let (_d, s) = store();
    // A failure of one batch's statement half-way through it: its earlier event must be undone.
    s.with(|c| {
        c.execute_batch(
            "CREATE TRIGGER poison BEFORE INSERT ON events_seen \
             WHEN NEW.event_key LIKE 'poison:%' BEGIN SELECT RAISE(ABORT, 'poisoned key'); END;",
        )
        .map_err(db("test trigger"))
    })
    .unwrap();
    let got = contended(
        &s,
        vec![delivery(T0, "f@gmail.com")],
        vec![
            vec![keyed_delivery(T0, "good:1", "a@gmail.com")],
            vec![
                keyed_delivery(T0, "bad:undone", "b@gmail.com"),
                keyed_delivery(T0, "poison:1", "b@gmail.com"),
            ],
            vec![
                keyed_delivery(T0, "good:2", "c@gmail.com"),
                // The failed batch's first key was rolled back with it: free to count here.
                keyed_delivery(T0, "bad:undone", "c@gmail.com"),
            ],
        ],
    );
    assert_eq!(
        transactions(&s),
        2,
        "the three batches shared a transaction"
    );
    assert_eq!(got[1].as_ref().unwrap().counted, 1);
    let e = got[2]
        .as_ref()
        .expect_err("the poisoned batch fails")
        .to_string();
    assert!(
        e.contains("recording an event key") && e.contains("poisoned key"),
        "{e}"
    );
    assert_eq!(got[3].as_ref().unwrap().counted, 2);
    assert!(s.seen("good:1").unwrap() && s.seen("good:2").unwrap());
    assert!(s.seen("bad:undone").unwrap(), "counted by the third caller");
    assert!(!s.seen("poison:1").unwrap());
    assert_eq!(total(&s), 4);
    // A batch alone that fails leaves nothing behind either.
    let alone = s.record(
        &[
            keyed_delivery(T0, "bad:alone", "d@gmail.com"),
            keyed_delivery(T0, "poison:2", "d@gmail.com"),
        ],
        &SuppressionPolicy::default(),
    );
    assert!(alone.is_err());
    assert!(!s.seen("bad:alone").unwrap());
    assert_eq!(total(&s), 4);
}
