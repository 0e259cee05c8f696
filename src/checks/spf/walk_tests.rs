//! The lookup counter on tricky trees, and `check()` end to end, against the in-process FakeDns.

use std::net::IpAddr;

use crate::checks::test_support::{context, lookups, sorted_code_names as codes, zone};
use crate::checks::{DomainContext, Outcome};
use crate::dns::testing::FakeDns;
use crate::findings::{FindingCode, Severity};

use super::walk::{Issue, NodeStatus, Walk, walk};

async fn walk_of(dns: &FakeDns, domain: &str) -> Walk {
    walk(&lookups(dns), domain).await
}

async fn check_of(dns: &FakeDns, domain: &str, ips: &[&str]) -> Outcome {
    let cx = DomainContext {
        sending_ips: ips.iter().map(|ip| ip.parse::<IpAddr>().unwrap()).collect(),
        ..context(dns, domain)
    };
    super::check(&cx).await
}

#[tokio::test]
async fn mx_with_more_than_ten_hosts_is_an_error_but_host_lookups_do_not_count() {
    let mut text = String::from("d.test TXT \"v=spf1 mx -all\"\n");
    for i in 0..11 {
        text.push_str(&format!(
            "d.test MX {i} mx{i}.d.test\nmx{i}.d.test A 192.0.2.{i}\n"
        ));
    }
    let dns = zone(&text).await;
    let w = walk_of(&dns, "d.test").await;
    // RFC 7208 §4.6.4: the mx term is one lookup; its 11 address lookups are not counted…
    assert_eq!(w.root.lookups, 1);
    assert_eq!(w.root.void_lookups, 0);
    // …but more than 10 MX records is a permerror of its own.
    assert!(
        w.issues
            .iter()
            .any(|i| matches!(i, Issue::TooManyMx { hosts: 11, .. }))
    );
    let outcome = check_of(&dns, "d.test", &[]).await;
    assert_eq!(codes(&outcome), ["spf.too_many_lookups"]);
    assert!(outcome.findings[0].message.contains("11 MX records"));
}

#[tokio::test]
async fn mx_hosts_without_addresses_are_void_lookups() {
    let dns = zone(
        "d.test TXT \"v=spf1 mx -all\"\n\
         d.test MX 10 a.d.test\nd.test MX 20 b.d.test\nd.test MX 30 c.d.test\n\
         a.d.test A 192.0.2.1\nb.d.test TXT x\nc.d.test AAAA 2001:db8::1",
    )
    .await;
    let w = walk_of(&dns, "d.test").await;
    assert_eq!((w.root.lookups, w.root.void_lookups), (1, 1));
    let note = w.root.terms[0].note.as_deref().unwrap();
    assert!(note.contains("without addresses: b.d.test"), "{note}");
}

#[tokio::test]
async fn redirect_with_include_counts_every_nested_lookup() {
    let dns = zone(
        "d.test TXT \"v=spf1 a redirect=r.test\"\n\
         d.test A 192.0.2.1\n\
         r.test TXT \"v=spf1 include:i.test mx -all\"\n\
         r.test MX 10 mail.r.test\nmail.r.test A 192.0.2.2\n\
         i.test TXT \"v=spf1 a a:mail.r.test -all\"\n\
         i.test A 192.0.2.3",
    )
    .await;
    let w = walk_of(&dns, "d.test").await;
    // a (1) + redirect (1) + [include (1) + [a, a (2)] + mx (1)]
    assert_eq!(w.root.lookups, 6);
    let redirect = w
        .root
        .terms
        .iter()
        .find(|t| t.term.starts_with("redirect"))
        .unwrap();
    assert_eq!(redirect.lookups, 5);
    assert!(w.issues.is_empty(), "{:?}", w.issues);
    // RFC 7208 §4.7/§6.1: the redirect target's -all ends the record.
    let outcome = check_of(&dns, "d.test", &[]).await;
    assert_eq!(codes(&outcome), Vec::<&str>::new());
    assert_eq!(outcome.facts.spf_dns_lookups, Some(6));
}

#[tokio::test]
async fn redirect_is_not_counted_when_the_record_has_all() {
    let dns = zone("d.test TXT \"v=spf1 redirect=r.test -all\"").await;
    let w = walk_of(&dns, "d.test").await;
    assert_eq!(w.root.lookups, 0);
    assert!(w.issues.is_empty(), "{:?}", w.issues);
}

#[tokio::test]
async fn include_loops_are_cut_and_reported() {
    let dns = zone(
        "a.test TXT \"v=spf1 include:b.test -all\"\n\
         b.test TXT \"v=spf1 include:c.test\"\n\
         c.test TXT \"v=spf1 include:a.test\"\n\
         self.test TXT \"v=spf1 ip4:192.0.2.1 redirect=self.test\"",
    )
    .await;
    let w = walk_of(&dns, "a.test").await;
    assert_eq!(w.root.lookups, 3);
    let loops: Vec<_> = w
        .issues
        .iter()
        .filter_map(|i| match i {
            Issue::Loop { path, target, .. } => Some((path.clone(), target.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        loops,
        [(
            vec!["a.test".into(), "b.test".into(), "c.test".into()],
            "a.test".into()
        )]
    );
    let outcome = check_of(&dns, "a.test", &[]).await;
    assert!(codes(&outcome).contains(&"spf.include_loop"));
    assert!(
        outcome.findings[0]
            .message
            .contains("a.test → b.test → c.test → a.test")
    );

    let w = walk_of(&dns, "self.test").await;
    assert!(matches!(&w.issues[..], [Issue::Loop { target, .. }] if target == "self.test"));
}

#[tokio::test]
async fn a_sending_ip_verdict_names_each_hop_of_a_loop_once() {
    let dns = zone(
        "a.test TXT \"v=spf1 include:b.test -all\"\n\
         b.test TXT \"v=spf1 include:a.test -all\"",
    )
    .await;
    let outcome = check_of(&dns, "a.test", &["192.0.2.1"]).await;
    let verdict = outcome
        .findings
        .iter()
        .find(|f| f.code == FindingCode::SpfSendingIpNotAuthorized)
        .unwrap();
    assert_eq!(verdict.severity, Severity::Critical);
    // Receivers go round the loop until the 10-lookup limit; the message says so once per hop.
    assert_eq!(
        verdict
            .message
            .matches("`include:b.test` in a.test:")
            .count(),
        1,
        "{}",
        verdict.message
    );
    assert_eq!(
        verdict
            .message
            .matches("`include:a.test` in b.test:")
            .count(),
        1,
        "{}",
        verdict.message
    );
    assert!(
        verdict.message.contains("more than 10 DNS-querying terms"),
        "{}",
        verdict.message
    );
}

#[tokio::test]
async fn a_target_included_twice_is_counted_twice_and_is_no_loop() {
    let dns = zone(
        "d.test TXT \"v=spf1 include:s.test include:t.test -all\"\n\
         t.test TXT \"v=spf1 include:s.test -all\"\n\
         s.test TXT \"v=spf1 a mx -all\"\ns.test A 192.0.2.1\ns.test MX 10 s.test",
    )
    .await;
    let w = walk_of(&dns, "d.test").await;
    // include s (1+2) + include t (1 + include s (1+2))
    assert_eq!(w.root.lookups, 7);
    assert!(w.issues.is_empty(), "{:?}", w.issues);
}

#[tokio::test]
async fn macros_needing_a_sender_are_counted_not_followed() {
    let dns = zone(
        "d.test TXT \"v=spf1 exists:%{i}._spf.%{d} include:_spf.%{d} -all\"\n\
         _spf.d.test TXT \"v=spf1 a:mail.d.test -all\"\n\
         mail.d.test A 192.0.2.1",
    )
    .await;
    let w = walk_of(&dns, "d.test").await;
    // exists (1, not followed) + include:_spf.%{d} (%{d} is known: followed, 1 + 1)
    assert_eq!(w.root.lookups, 3);
    let exists = &w.root.terms[0];
    assert_eq!(exists.lookups, 1);
    assert!(exists.target.is_none());
    assert!(exists.note.as_deref().unwrap().contains("need a sender"));
    assert_eq!(w.root.terms[1].target.as_deref(), Some("_spf.d.test"));
    assert!(w.issues.is_empty(), "{:?}", w.issues);
}

#[tokio::test]
async fn void_lookups_through_a_mx_and_include_are_counted() {
    let dns = zone(
        "d.test TXT \"v=spf1 a:gone.test mx:nomx.test include:nx.test -all\"\n\
         nomx.test A 192.0.2.1",
    )
    .await;
    let w = walk_of(&dns, "d.test").await;
    assert_eq!((w.root.lookups, w.root.void_lookups), (3, 3));
    let outcome = check_of(&dns, "d.test", &[]).await;
    assert_eq!(
        codes(&outcome),
        ["spf.include_without_spf", "spf.too_many_void_lookups"]
    );
    let void = outcome
        .findings
        .iter()
        .find(|f| f.code == FindingCode::SpfTooManyVoidLookups)
        .unwrap();
    assert!(void.message.contains("meets 3 lookups"), "{}", void.message);
    assert!(void.message.contains("`a:gone.test`"), "{}", void.message);
    assert_eq!(void.detail["tree"]["void_lookups"], 3);
}

#[tokio::test]
async fn include_target_without_spf_says_why() {
    let dns = zone(
        "d.test TXT \"v=spf1 include:txt.test include:nx.test -all\"\n\
         txt.test TXT \"v=spf10 -all\"",
    )
    .await;
    let w = walk_of(&dns, "d.test").await;
    // nx.test is void (NXDOMAIN); txt.test has TXT, just no SPF record: not void.
    assert_eq!(w.root.void_lookups, 1);
    let whys: Vec<_> = w
        .issues
        .iter()
        .filter_map(|i| match i {
            Issue::WithoutSpf { target, why, .. } => Some((target.as_str(), why.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(whys.len(), 2);
    assert!(whys[0].1.contains("`v=spf10`"), "{whys:?}");
    assert!(whys[1].1.contains("NXDOMAIN"), "{whys:?}");
}

#[tokio::test]
async fn multiple_records_at_the_root_and_in_an_include() {
    let dns = zone(
        "two.test TXT \"v=spf1 -all\"\ntwo.test TXT \"v=spf1 ~all\"\n\
         d.test TXT \"v=spf1 include:two.test -all\"",
    )
    .await;
    let w = walk_of(&dns, "two.test").await;
    assert!(
        matches!(&w.root.status, NodeStatus::MultipleRecords { records } if records.len() == 2)
    );
    let outcome = check_of(&dns, "two.test", &[]).await;
    assert_eq!(codes(&outcome), ["spf.multiple_records"]);
    assert_eq!(outcome.facts.spf_present, Some(false));

    let outcome = check_of(&dns, "d.test", &[]).await;
    assert_eq!(codes(&outcome), ["spf.multiple_records"]);
    assert!(
        outcome.findings[0]
            .message
            .contains("two.test, included in d.test")
    );
}

#[tokio::test]
async fn too_many_lookups_names_the_heaviest_branches() {
    let dns = zone(
        "d.test TXT \"v=spf1 include:_spf.a.test include:b.test mx -all\"\n\
         d.test MX 10 d.test\nd.test A 192.0.2.1\n\
         _spf.a.test TXT \"v=spf1 a a a -all\"\n_spf.a.test A 192.0.2.2\n\
         b.test TXT \"v=spf1 a a a a include:c.test -all\"\nb.test A 192.0.2.3\n\
         c.test TXT \"v=spf1 a -all\"\nc.test A 192.0.2.4",
    )
    .await;
    let outcome = check_of(&dns, "d.test", &[]).await;
    assert_eq!(codes(&outcome), ["spf.too_many_lookups"]);
    let f = &outcome.findings[0];
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(
        f.message,
        "SPF needs 12 DNS lookups; receivers stop at 10 and return permerror. Flatten or remove the heaviest branches: b.test (7), _spf.a.test (4), mx (1)."
    );
    assert_eq!(f.detail["lookups"], 12);
    assert_eq!(
        f.detail["tree"]["terms"][1]["node"]["terms"][4]["lookups"],
        2
    );
    assert_eq!(outcome.facts.spf_dns_lookups, Some(12));
}

#[tokio::test]
async fn sending_ips_get_one_finding_each_with_result_and_reason() {
    let dns = zone(
        "d.test TXT \"v=spf1 ip4:192.0.2.0/28 include:esp.test ~all\"\n\
         esp.test TXT \"v=spf1 ip6:2001:db8::/32 -all\"",
    )
    .await;
    let outcome = check_of(
        &dns,
        "d.test",
        &[
            "192.0.2.5",
            "2001:db8::25",
            "198.51.100.7",
            "2001:db8:ffff::1",
        ],
    )
    .await;
    let msgs: Vec<_> = outcome
        .findings
        .iter()
        .filter(|f| f.code == FindingCode::SpfSendingIpNotAuthorized)
        .map(|f| f.message.as_str())
        .collect();
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(
        msgs[0].starts_with(
            "Sending IP 198.51.100.7 gets SPF softfail for d.test: matched `~all` in d.test."
        ),
        "{}",
        msgs[0]
    );
    assert_eq!(codes(&outcome), ["spf.sending_ip_not_authorized"]);
}

#[tokio::test]
async fn a_dns_failure_is_lookup_failed_never_missing() {
    let dns = zone("slow.test TIMEOUT\nbroken.test SERVFAIL").await;
    for domain in ["slow.test", "broken.test"] {
        let outcome = check_of(&dns, domain, &["192.0.2.1"]).await;
        assert_eq!(codes(&outcome), ["spf.lookup_failed"], "{domain}");
        assert_eq!(outcome.findings[0].severity, Severity::Unknown);
        assert_eq!(outcome.facts.spf_present, None);
    }
    let nx = check_of(&dns, "nx.test", &[]).await;
    assert_eq!(codes(&nx), ["spf.missing"]);
    assert!(nx.findings[0].message.contains("NXDOMAIN"));
}

#[tokio::test]
async fn permissive_and_neutral_endings_follow_redirects_and_includes() {
    let dns = zone(
        "plus.test TXT \"v=spf1 a all\"\n\
         q.test TXT \"v=spf1 redirect=qq.test\"\nqq.test TXT \"v=spf1 ?all\"\n\
         none.test TXT \"v=spf1 ip4:192.0.2.1\"\n\
         inc.test TXT \"v=spf1 include:open.test -all\"\nopen.test TXT \"v=spf1 +all\"",
    )
    .await;
    let plus = check_of(&dns, "plus.test", &[]).await;
    assert!(codes(&plus).contains(&"spf.permissive_all"));
    assert!(
        plus.findings
            .iter()
            .any(|f| f.message.contains("`all` without a qualifier means `+all`"))
    );
    let q = check_of(&dns, "q.test", &[]).await;
    assert_eq!(codes(&q), ["spf.neutral_all"]);
    assert!(
        q.findings[0]
            .message
            .contains("qq.test (the redirect target) ends in `?all`")
    );
    assert_eq!(
        codes(&check_of(&dns, "none.test", &[]).await),
        ["spf.neutral_all"]
    );
    let inc = check_of(&dns, "inc.test", &[]).await;
    assert_eq!(codes(&inc), ["spf.permissive_all"]);
    assert!(inc.findings[0].message.contains("`include:open.test`"));
}

#[test]
fn strings_over_255_bytes_are_a_string_too_long_warning() {
    use super::walk::{Node, overlong_strings};
    use crate::dns::Txt;
    let txt = Txt {
        strings: vec![vec![b'a'; 300], vec![b'b'; 255]],
    };
    assert_eq!(overlong_strings(&txt), [300]);
    let tree = Walk {
        root: Node {
            domain: "d.test".into(),
            record: Some("v=spf1 -all".into()),
            status: NodeStatus::Ok,
            lookups: 0,
            void_lookups: 0,
            terms: Vec::new(),
            terms_not_followed: 0,
            parsed: super::parse::parse(b"v=spf1 -all").into_result().ok(),
        },
        issues: vec![Issue::LongString {
            domain: "d.test".into(),
            len: 300,
        }],
    };
    let outcome = super::report::outcome("d.test", &tree, &[]);
    assert_eq!(codes(&outcome), ["spf.string_too_long"]);
    assert_eq!(outcome.findings[0].severity, Severity::Warning);
    assert!(outcome.findings[0].message.contains("300-byte string"));
}

/// A wildcard that includes three children of every name: an unbounded tree. The walk must stay
/// bounded (record budget and depth) and still report the lookup count it saw.
#[tokio::test]
async fn a_hostile_fan_out_tree_is_walked_within_a_fixed_budget() {
    let record = "\"v=spf1 include:a.%{d} include:b.%{d} include:c.%{d} -all\"";
    let dns = zone(&format!("fan.test TXT {record}\n*.fan.test TXT {record}")).await;
    let lookups = lookups(&dns);
    let started = std::time::Instant::now();
    let w = walk(&lookups, "fan.test").await;
    let elapsed = started.elapsed();
    // One TXT query per walked record, at most RECORD_BUDGET (64) of them.
    assert!(lookups.count() <= 64, "{} queries", lookups.count());
    assert!(w.root.lookups > 10);
    assert!(elapsed < std::time::Duration::from_secs(5), "{elapsed:?}");
    let outcome = check_of(&dns, "fan.test", &["192.0.2.1"]).await;
    let too_many = outcome
        .findings
        .iter()
        .find(|f| f.code == FindingCode::SpfTooManyLookups)
        .unwrap();
    // Which records the budget reaches depends on the order answers arrive in; the count is more
    // than 10 and at most the three includes of each of the 64 records walked.
    let seen: u32 = too_many
        .message
        .strip_prefix("SPF needs at least ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{}", too_many.message));
    assert!((11..=192).contains(&seen), "{}", too_many.message);
    // The evaluator stops at the 11th DNS-querying term.
    let ip_finding = outcome
        .findings
        .iter()
        .find(|f| f.code == FindingCode::SpfSendingIpNotAuthorized)
        .unwrap();
    assert_eq!(ip_finding.detail["result"], "permerror");
    assert_eq!(ip_finding.detail["dns_lookups"], 10);
}

#[tokio::test]
async fn terms_past_the_per_record_bound_are_counted_not_looked_up() {
    use super::walk::TERMS_FOLLOWED;
    // One character-string per term: a DNS string holds at most 255 bytes.
    let terms: String = (0..100).map(|i| format!(" \" a:h{i}.d.test\"")).collect();
    let dns = zone(&format!(
        "d.test TXT \"v=spf1\"{terms} \" -all\"\nh0.d.test A 192.0.2.1"
    ))
    .await;
    let handle = lookups(&dns);
    let w = walk(&handle, "d.test").await;
    // Receivers count every term; the diagnosis looks up the first 32 (A and AAAA each) and the TXT.
    assert_eq!(w.root.lookups, 100);
    assert_eq!(w.root.terms.len(), TERMS_FOLLOWED);
    assert_eq!(w.root.terms_not_followed, 100 - TERMS_FOLLOWED as u32);
    assert_eq!(handle.count(), 1 + 2 * TERMS_FOLLOWED as u64);
    let cut = w
        .issues
        .iter()
        .find_map(|i| match i {
            Issue::Cut { path, why } => Some((path.clone(), why.clone())),
            _ => None,
        })
        .expect("the cut is reported");
    assert_eq!(cut.0, ["d.test"]);
    assert!(
        cut.1.contains("only the first 32 were looked up"),
        "{}",
        cut.1
    );
    let outcome = check_of(&dns, "d.test", &[]).await;
    let too_many = outcome
        .findings
        .iter()
        .find(|f| f.code == FindingCode::SpfTooManyLookups)
        .expect("too many lookups");
    assert!(
        too_many
            .message
            .starts_with("SPF needs at least 100 DNS lookups"),
        "{}",
        too_many.message
    );
    assert!(
        too_many
            .message
            .contains("The diagnosis stopped walking the tree at d.test"),
        "{}",
        too_many.message
    );
}

#[tokio::test]
async fn the_query_budget_stops_a_fan_out_and_says_where() {
    use super::walk::QUERY_BUDGET;
    // 30 includes of 32 `mx:` terms, each target with 10 MX hosts: 30 × 32 × 21 queries unbounded.
    let mut text = String::new();
    let includes: String = (0..30)
        .map(|i| format!(" \" include:i{i}.d.test\""))
        .collect();
    text += &format!("d.test TXT \"v=spf1\"{includes} \" -all\"\n");
    for i in 0..30 {
        let terms: String = (0..32)
            .map(|j| format!(" \" mx:t{j}.i{i}.d.test\""))
            .collect();
        text += &format!("i{i}.d.test TXT \"v=spf1\"{terms} \" -all\"\n");
        for j in 0..32 {
            for h in 0..10 {
                text += &format!("t{j}.i{i}.d.test MX {h} h{h}.d.test\n");
            }
        }
    }
    let dns = zone(&text).await;
    let handle = lookups(&dns);
    let w = walk(&handle, "d.test").await;
    assert!(
        handle.count() <= QUERY_BUDGET as u64,
        "{} lookups asked",
        handle.count()
    );
    // Terms not looked up are still counted; records past the budget are not fetched, so their terms
    // are unknown: the count is a lower bound (the finding says "at least"), well past the limit.
    assert!(
        (40..=30 + 30 * 32).contains(&w.root.lookups),
        "{}",
        w.root.lookups
    );
    let cuts: Vec<&String> = w
        .issues
        .iter()
        .filter_map(|i| match i {
            Issue::Cut { why, .. } => Some(why),
            _ => None,
        })
        .collect();
    assert_eq!(cuts.len(), 1, "the budget's cut is reported once: {cuts:?}");
    assert!(
        cuts[0].contains("budget of 1000 DNS queries"),
        "{}",
        cuts[0]
    );
    // The stored detail stays bounded whatever the tree.
    let outcome = check_of(&dns, "d.test", &[]).await;
    let bytes = serde_json::to_vec(&outcome.findings).unwrap().len();
    assert!(bytes < 64 * 1024, "{bytes} bytes of findings");
}

#[test]
fn the_stored_tree_is_cut_to_its_byte_bound_by_depth() {
    use super::tree::{Node, TermCost, bounded_json};
    // A chain of 10 records, each with a long record text: the whole tree is over 4 KiB.
    let mut node: Option<Node> = None;
    for level in (0..10).rev() {
        let mut n = Node {
            domain: format!("l{level}.test"),
            record: Some(format!("v=spf1 {} -all", "ip4:192.0.2.1 ".repeat(40))),
            status: NodeStatus::Ok,
            lookups: 10 - level,
            void_lookups: 0,
            terms: Vec::new(),
            terms_not_followed: 0,
            parsed: None,
        };
        if let Some(child) = node.take() {
            n.terms.push(TermCost {
                term: format!("include:{}", child.domain),
                lookups: child.lookups + 1,
                void_lookups: 0,
                target: Some(child.domain.clone()),
                note: None,
                node: Some(Box::new(child)),
                branch: None,
            });
        }
        node = Some(n);
    }
    let root = node.unwrap();
    let (full, none) = bounded_json(&root, 1 << 20);
    assert!(none.is_none());
    assert!(serde_json::to_vec(&full).unwrap().len() > 4096);
    let (cut, why) = bounded_json(&root, 4096);
    assert!(serde_json::to_vec(&cut).unwrap().len() <= 4096);
    let why = why.expect("the cut is said");
    assert!(why.contains("below l0.test are left out"), "{why}");
    // The counts at the top survive the cut.
    assert_eq!(cut["lookups"], 10);
    let (summary, why) = bounded_json(&root, 10);
    assert_eq!(summary["domain"], "l0.test");
    assert!(why.unwrap().contains("only the totals"));
}
