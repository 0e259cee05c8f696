//! Record history: a zone change raises `record.changed`; a restart keeps the history.

use super::*;

#[tokio::test]
async fn a_changed_zone_shows_record_changed_with_old_and_new_values() {
    let mut w = world().await;
    let d = w.daemon();
    let first = wait_for_round(&d, SPF_BEFORE);
    let first_seen = check(&first, "spf")["checked_at"].as_i64().unwrap();
    w.change_zone().await;
    let detail = wait_for_round(&d, SPF_AFTER);

    let spf = record_changes(check(&detail, "spf"));
    assert_eq!(spf.len(), 1, "{detail:#}");
    assert_eq!(spf[0]["severity"], "info");
    assert_eq!(spf[0]["detail"]["name"], WATCHED);
    assert_eq!(spf[0]["detail"]["old"], SPF_BEFORE);
    assert_eq!(spf[0]["detail"]["new"], SPF_AFTER);
    let changed_at = spf[0]["detail"]["changed_at"].as_i64().unwrap();
    let old_last_seen = spf[0]["detail"]["old_last_seen"].as_i64().unwrap();
    assert!(spf[0]["detail"]["old_first_seen"].as_i64().unwrap() <= first_seen);
    assert!(first_seen <= old_last_seen && old_last_seen <= changed_at);
    let message = spf[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("The SPF record at {WATCHED} changed between "))
            && message.contains(SPF_BEFORE)
            && message.contains(SPF_AFTER),
        "{message}"
    );

    let dmarc = record_changes(check(&detail, "dmarc"));
    assert_eq!(dmarc.len(), 1);
    assert_eq!(dmarc[0]["detail"]["name"], "_dmarc.watched.daemon.test");
    assert_eq!(
        (&dmarc[0]["detail"]["old"], &dmarc[0]["detail"]["new"]),
        (&DMARC_BEFORE.into(), &DMARC_AFTER.into())
    );

    // DKIM: one history per selector; s1 is unchanged, the removed s2 is a change to "absent".
    let dkim = check(&detail, "dkim");
    let changes = record_changes(dkim);
    assert_eq!(changes.len(), 1, "{dkim:#}");
    assert_eq!(
        changes[0]["detail"]["name"],
        "s2._domainkey.watched.daemon.test"
    );
    assert!(
        changes[0]["detail"]["old"]
            .as_str()
            .unwrap()
            .starts_with("v=DKIM1; k=rsa; p=MIGfMA0")
    );
    assert_eq!(changes[0]["detail"]["new"], "");
    assert!(
        changes[0]["message"]
            .as_str()
            .unwrap()
            .ends_with("and is now absent."),
        "{}",
        changes[0]["message"]
    );
    assert!(codes(dkim).contains(&"dkim.selector_missing"));

    // Unchanged records and the IP's PTR raise nothing.
    for name in ["mx", "tls_rpt", "mta_sts", "bimi", "bulk_sender"] {
        assert!(record_changes(check(&detail, name)).is_empty(), "{name}");
    }
    assert_eq!(all_record_changes(&detail).len(), 3);

    // The change stays on the report in later rounds (same words, so one stored span).
    let later = d.wait_for(WATCHED_PATH, ROUND, |r| {
        check(&r.json(), "spf")["checked_at"].as_i64().unwrap() > changed_at + 1
    });
    let later = later.json();
    assert_eq!(record_changes(check(&later, "spf")), spf);
    assert_eq!(
        check(&later, "spf")["since"],
        check(&detail, "spf")["since"]
    );
}

#[tokio::test]
async fn record_history_survives_a_daemon_restart() {
    let mut w = world().await;
    let d = w.daemon();
    let first = wait_for_round(&d, SPF_BEFORE);
    let since = check(&first, "spf")["since"].clone();
    let first_seen = since.as_i64().unwrap();
    drop(d);

    // Same records after the restart: no record.changed, and the stored spans simply go on.
    let restarted_at = senderscope::checks::unix_now();
    let d = w.daemon();
    let after = d.wait_for(WATCHED_PATH, ROUND, |r| {
        let j = r.json();
        j["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["checked_at"].as_i64().unwrap() >= restarted_at)
            && j["ips"][0]["checks"][0]["checked_at"].as_i64().unwrap() >= restarted_at
    });
    let after = after.json();
    assert!(all_record_changes(&after).is_empty(), "{after:#}");
    assert_eq!(
        check(&after, "spf")["since"],
        since,
        "one span across the restart"
    );
    drop(d);

    // Records changed while the daemon was down: the first round after the start compares with the
    // history stored before it.
    w.change_zone().await;
    let d = w.daemon();
    let detail = wait_for_round(&d, SPF_AFTER);
    let spf = record_changes(check(&detail, "spf"));
    assert_eq!(spf.len(), 1, "{detail:#}");
    assert_eq!(spf[0]["detail"]["old"], SPF_BEFORE);
    assert_eq!(spf[0]["detail"]["old_first_seen"], first_seen);
    assert!(spf[0]["detail"]["old_last_seen"].as_i64().unwrap() >= restarted_at);
    assert_eq!(
        all_record_changes(&detail).len(),
        3,
        "spf, dmarc and dkim s2"
    );
}
