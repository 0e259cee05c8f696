use super::*;

fn row(envelope: Option<&str>, dkim: &str, spf: &str) -> FailingRow {
    FailingRow {
        ip: "192.0.2.9".into(),
        count: 7,
        header_from: Some("news.example.com".into()),
        envelope_from: envelope.map(str::to_owned),
        dkim: dkim.into(),
        spf: spf.into(),
        reasons: "[]".into(),
    }
}

fn kinds(p: &[Problem]) -> Vec<ProblemKind> {
    p.iter().map(|p| p.kind).collect()
}

#[test]
fn relaxed_alignment_uses_the_organizational_domain() {
    // RFC 7489 §3.1.1: mail.example.com is aligned with news.example.com in relaxed mode, so a
    // failing aligned signature is a DKIM failure, not a misalignment.
    let p = problems_of(
        &row(
            Some("bounce.example.com"),
            r#"[{"domain":"mail.example.com","selector":"s1","result":"fail"}]"#,
            r#"[{"domain":"bounce.example.com","scope":"mfrom","result":"softfail"}]"#,
        ),
        "example.com",
        None,
    );
    assert_eq!(
        kinds(&p),
        [ProblemKind::SpfNotAuthorized, ProblemKind::DkimFailed]
    );
    assert!(
        p[1].fix.contains("s1._domainkey.mail.example.com"),
        "{}",
        p[1].fix
    );
    assert!(p[0].fix.contains("ip4:/ip6:"), "{}", p[0].fix);
}

#[test]
fn a_third_party_pass_is_named_as_not_aligned_with_the_sender_include_in_the_fix() {
    let p = problems_of(
        &row(
            Some("amazonses.com"),
            r#"[{"domain":"amazonses.com","selector":"abc","result":"pass"}]"#,
            r#"[{"domain":"amazonses.com","scope":"mfrom","result":"pass"}]"#,
        ),
        "example.com",
        Some("amazonses.com"),
    );
    assert_eq!(
        kinds(&p),
        [ProblemKind::SpfNotAligned, ProblemKind::DkimNotAligned]
    );
    assert_eq!(p[1].domain.as_deref(), Some("amazonses.com"));
    assert_eq!(p[0].messages, 7);
}

#[test]
fn unsigned_mail_without_spf_results_says_both() {
    let p = problems_of(&row(None, "[]", "[]"), "example.com", None);
    assert_eq!(
        kinds(&p),
        [ProblemKind::SpfMissing, ProblemKind::DkimUnsigned]
    );
    let p = problems_of(
        &row(
            Some("example.com"),
            "[]",
            r#"[{"domain":"example.com","scope":"mfrom","result":"permerror"}]"#,
        ),
        "example.com",
        Some("_spf.google.com"),
    );
    assert_eq!(p[0].kind, ProblemKind::SpfError);
}

#[test]
fn build_counts_forwarding_reasons_and_merges_problems_per_source() {
    let mut a = row(
        Some("example.com"),
        "[]",
        r#"[{"domain":"example.com","scope":"mfrom","result":"fail"}]"#,
    );
    a.reasons = r#"[{"kind":"forwarded","comment":null}]"#.into();
    let b = a.clone();
    let totals = vec![SourceTotals {
        ip: "192.0.2.9".into(),
        messages: 20,
        passed: 6,
        dkim_aligned: 6,
        spf_aligned: 0,
    }];
    let s = build(
        "example.com",
        totals,
        &[a, b],
        &HashMap::new(),
        &SenderMap::embedded(),
    );
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].failed, 14);
    assert_eq!(s[0].forwarded, 14);
    assert!(s[0].forwarding());
    assert!(s[0].legitimate());
    assert_eq!(s[0].problems.len(), 2, "{:?}", s[0].problems);
    assert_eq!(s[0].problems[0].messages, 14);
    assert_eq!(s[0].identity.sender, "other");
}
