//! Policy discovery and the DNS Tree Walk, against the in-process FakeDns, on the examples of
//! RFC 9989 §4.10 and Appendix A.4 ("Organizational and Policy Domain Tree Walk Examples").

use super::*;
use crate::checks::test_support::{lookups, txt_records as fake};

fn queried(d: &Discovery) -> Vec<String> {
    d.trace()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn walk_targets_jump_to_seven_labels_rfc_9989_section_4_10() {
    // §4.10: "for a message with the arbitrary Author Domain of a.b.c.d.e.f.g.h.i.j.mail.example.com, a
    // full DNS Tree Walk would require the following eight queries" (the first is the author itself).
    assert_eq!(
        walk_targets("a.b.c.d.e.f.g.h.i.j.mail.example.com"),
        [
            "g.h.i.j.mail.example.com",
            "h.i.j.mail.example.com",
            "i.j.mail.example.com",
            "j.mail.example.com",
            "mail.example.com",
            "example.com",
            "com",
        ]
    );
    // Eight labels or fewer: one label at a time from the immediate parent.
    assert_eq!(
        walk_targets("a.b.c.d.e.f.example.com"),
        [
            "b.c.d.e.f.example.com",
            "c.d.e.f.example.com",
            "d.e.f.example.com",
            "e.f.example.com",
            "f.example.com",
            "example.com",
            "com"
        ]
    );
    // Nine labels: straight to the last seven, so still eight queries in all.
    let nine = walk_targets("x.a.b.c.d.e.f.example.com");
    assert_eq!(nine.len(), 7);
    assert_eq!(nine[0], "b.c.d.e.f.example.com");
    assert_eq!(walk_targets("example"), Vec::<String>::new());
}

#[tokio::test]
async fn deep_author_domain_costs_at_most_eight_queries() {
    // Appendix A.4 "Deep Tree Walk Example": the policy domain is example.com.
    let dns = fake(&[("_dmarc.example.com", "v=DMARC1; p=reject")]).await;
    let l = lookups(&dns);
    let d = discover(&l, "a.b.c.d.e.f.g.h.i.j.k.example.com")
        .await
        .unwrap();
    assert_eq!(
        queried(&d),
        [
            "_dmarc.a.b.c.d.e.f.g.h.i.j.k.example.com",
            "_dmarc.g.h.i.j.k.example.com",
            "_dmarc.h.i.j.k.example.com",
            "_dmarc.i.j.k.example.com",
            "_dmarc.j.k.example.com",
            "_dmarc.k.example.com",
            "_dmarc.example.com",
            "_dmarc.com",
        ]
    );
    assert_eq!(l.count(), 8);
    let applies = d.applies.unwrap();
    assert_eq!(applies.found_at, "example.com");
    assert!(applies.inherited);
}

#[tokio::test]
async fn own_record_stops_discovery_at_one_query() {
    let dns = fake(&[
        ("_dmarc.mail.example.com", "v=DMARC1; p=quarantine"),
        ("_dmarc.example.com", "v=DMARC1; p=reject"),
    ])
    .await;
    let l = lookups(&dns);
    let d = discover(&l, "mail.example.com").await.unwrap();
    assert_eq!(l.count(), 1);
    let applies = d.applies.unwrap();
    assert_eq!(applies.found_at, "mail.example.com");
    assert!(!applies.inherited);
}

#[tokio::test]
async fn without_psd_tags_the_record_with_fewest_labels_wins() {
    // §4.10.2 rule 3, and its example: records at _dmarc.mail.example.com and _dmarc.example.com, none
    // at a.mail.example.com or com: the organizational domain is example.com.
    let dns = fake(&[
        ("_dmarc.mail.example.com", "v=DMARC1; p=none"),
        ("_dmarc.example.com", "v=DMARC1; p=reject"),
    ])
    .await;
    let d = discover(&lookups(&dns), "a.mail.example.com")
        .await
        .unwrap();
    assert_eq!(d.walk.len(), 3, "walks on to _dmarc.com");
    let applies = d.applies.unwrap();
    assert_eq!(applies.found_at, "example.com");
    assert_eq!(applies.org_domain, "example.com");
}

#[tokio::test]
async fn psd_n_stops_the_walk_and_is_the_organizational_domain() {
    // §4.10.2 example: "a search ... yields a DMARC Policy Record at _dmarc.mail.example.com with the
    // psd tag set to n, then the Organizational Domain for this domain would be mail.example.com".
    let dns = fake(&[
        ("_dmarc.mail.example.com", "v=DMARC1; p=quarantine; psd=n"),
        ("_dmarc.example.com", "v=DMARC1; p=reject"),
    ])
    .await;
    let l = lookups(&dns);
    let d = discover(&l, "a.mail.example.com").await.unwrap();
    assert_eq!(
        queried(&d),
        ["_dmarc.a.mail.example.com", "_dmarc.mail.example.com"]
    );
    let applies = d.applies.unwrap();
    assert_eq!(applies.found_at, "mail.example.com");
    assert_eq!(applies.org_domain, "mail.example.com");
}

#[tokio::test]
async fn psd_y_record_example_of_appendix_a_4() {
    // "Example with a PSD DMARC Policy Record": _dmarc.bank.example has psd=y, _dmarc.example none,
    // _dmarc.giant.bank.example a record without psd.
    let dns = fake(&[
        (
            "_dmarc.bank.example",
            "v=DMARC1; p=reject; sp=quarantine; psd=y",
        ),
        ("_dmarc.giant.bank.example", "v=DMARC1; p=none"),
    ])
    .await;
    let l = lookups(&dns);
    // mail.giant.bank.example: the organizational domain giant.bank.example has a record: it applies.
    let d = discover(&l, "mail.giant.bank.example").await.unwrap();
    assert_eq!(
        queried(&d),
        [
            "_dmarc.mail.giant.bank.example",
            "_dmarc.giant.bank.example",
            "_dmarc.bank.example"
        ]
    );
    let applies = d.applies.unwrap();
    assert_eq!(applies.org_domain, "giant.bank.example");
    assert_eq!(applies.found_at, "giant.bank.example");
    assert!(!applies.from_psd);
    // mail.mega.bank.example: the organizational domain mega.bank.example has none: the PSD's applies.
    let d = discover(&l, "mail.mega.bank.example").await.unwrap();
    let applies = d.applies.unwrap();
    assert_eq!(applies.org_domain, "mega.bank.example");
    assert_eq!(applies.found_at, "bank.example");
    assert!(applies.from_psd);
}

#[tokio::test]
async fn several_records_at_a_name_are_discarded_and_the_walk_goes_on() {
    // §4.10 step 2: "If multiple DMARC Policy Records are returned for a single target, they are all
    // discarded."
    let dns = fake(&[
        ("_dmarc.mail.example.com", "v=DMARC1; p=reject"),
        ("_dmarc.mail.example.com", "v=DMARC1; p=none"),
        ("_dmarc.example.com", "v=DMARC1; p=quarantine"),
    ])
    .await;
    let d = discover(&lookups(&dns), "mail.example.com").await.unwrap();
    assert_eq!(d.author.records.len(), 2);
    assert_eq!(d.applies.unwrap().found_at, "example.com");
}

#[tokio::test]
async fn unrelated_and_broken_txt_do_not_count_as_records() {
    let dns = fake(&[
        ("_dmarc.example.com", "v=spf1 -all"),
        ("_dmarc.example.com", "v=dmarc1; p=reject"),
    ])
    .await;
    let d = discover(&lookups(&dns), "example.com").await.unwrap();
    assert_eq!(d.author.unrelated, ["v=spf1 -all"]);
    assert_eq!(d.author.broken.len(), 1);
    assert!(d.applies.is_none());
    assert_eq!(queried(&d), ["_dmarc.example.com", "_dmarc.com"]);
}

#[tokio::test]
async fn a_failed_query_anywhere_in_the_walk_fails_discovery() {
    let dns = fake(&[("_dmarc.example.com", "v=DMARC1; p=reject")]).await;
    dns.load("_dmarc.com SERVFAIL").unwrap();
    let failure = discover(&lookups(&dns), "mail.example.com")
        .await
        .unwrap_err();
    // A record was found, but one higher up could still change the organizational domain.
    assert_eq!(failure.name, "_dmarc.com");
    assert_eq!(failure.error, LookupError::ServFail);
}

#[test]
fn one_label_below_follows_the_author_domain() {
    assert_eq!(
        one_label_below("a.mail.mega.bank.example", "bank.example"),
        "mega.bank.example"
    );
    assert_eq!(one_label_below("x.com", "com"), "x.com");
}
