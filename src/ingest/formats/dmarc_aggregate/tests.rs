use super::*;
use crate::ingest::formats::aggregate_model::*;

/// Collects what the parser hands over.
#[derive(Default)]
struct Collect {
    begun: Vec<AggregateMeta>,
    records: Vec<AggregateRecord>,
    batches: usize,
}

impl RecordSink for Collect {
    fn begin(&mut self, meta: &AggregateMeta) -> Result<(), IngestError> {
        self.begun.push(meta.clone());
        Ok(())
    }
    fn records(&mut self, batch: &[AggregateRecord]) -> Result<(), IngestError> {
        self.batches += 1;
        self.records.extend_from_slice(batch);
        Ok(())
    }
}

fn read(xml: &str) -> Result<(AggregateSummary, Collect), IngestError> {
    let mut sink = Collect::default();
    let summary = parse(xml.as_bytes(), &Limits::default(), &mut sink)?;
    Ok((summary, sink))
}

const HEAD: &str = "<feedback><report_metadata><org_name>Rep</org_name><email>a@rep.example</email>\
<report_id>id-1</report_id><date_range><begin>1700000000</begin><end>1700086399</end></date_range>\
</report_metadata><policy_published><domain>Example.COM</domain><p>none</p><pct>100</pct></policy_published>";

fn record(ip: &str, extra: &str) -> String {
    format!(
        "<record><row><source_ip>{ip}</source_ip><count>3</count><policy_evaluated><disposition>none</disposition>\
<dkim>pass</dkim><spf>fail</spf></policy_evaluated></row><identifiers><header_from>example.com</header_from>\
</identifiers><auth_results>{extra}</auth_results></record>"
    )
}

#[test]
fn rfc_7489_report_is_typed() {
    let xml = format!(
        "{HEAD}{}</feedback>",
        record(
            "192.0.2.1",
            "<dkim><domain>example.com</domain><selector>s1</selector><result>pass</result></dkim>\
             <dkim><domain>esp.example</domain><result>fail</result></dkim>\
             <spf><domain>example.com</domain><result>softfail</result></spf>"
        )
    );
    let (summary, sink) = read(&xml).unwrap();
    assert_eq!(summary.meta.report_id, "id-1");
    assert_eq!(summary.meta.policy.domain, "example.com");
    assert_eq!(summary.meta.policy.pct, Some(100));
    assert_eq!((summary.records, summary.messages), (1, 3));
    let r = &sink.records[0];
    assert_eq!(
        r.dkim.len(),
        2,
        "every signature is kept, not only the first"
    );
    assert_eq!(r.dkim[0].selector.as_deref(), Some("s1"));
    assert_eq!(r.spf[0].result, SpfResult::SoftFail);
    assert!(r.dmarc_pass());
    assert!(summary.warnings.is_empty(), "{:?}", summary.warnings);
}

#[test]
fn rfc_9990_namespace_and_prefixed_names_are_read_by_local_name() {
    let xml = "<d:feedback xmlns:d=\"urn:ietf:params:xml:ns:dmarc-2.0\"><d:report_metadata>\
<d:org_name>R</d:org_name><d:report_id>x</d:report_id><d:date_range><d:begin>1</d:begin><d:end>2</d:end>\
</d:date_range><d:generator>gen 1.0</d:generator></d:report_metadata><d:policy_published><d:domain>e.example</d:domain>\
<d:np>reject</d:np><d:testing>n</d:testing><d:discovery_method>treewalk</d:discovery_method></d:policy_published>\
<d:record><d:row><d:source_ip>2001:DB8::1</d:source_ip><d:count>1</d:count><d:policy_evaluated>\
<d:disposition>pass</d:disposition><d:dkim>pass</d:dkim><d:spf>pass</d:spf></d:policy_evaluated></d:row>\
<d:identifiers><d:header_from>e.example</d:header_from></d:identifiers></d:record></d:feedback>";
    let (summary, sink) = read(xml).unwrap();
    assert_eq!(
        summary.meta.namespace.as_deref(),
        Some("urn:ietf:params:xml:ns:dmarc-2.0")
    );
    assert_eq!(summary.meta.generator.as_deref(), Some("gen 1.0"));
    assert_eq!(summary.meta.policy.np.as_deref(), Some("reject"));
    assert_eq!(summary.meta.policy.pct, None);
    assert_eq!(sink.records[0].source_ip.to_string(), "2001:db8::1");
    assert_eq!(sink.records[0].disposition, Disposition::Pass);
}

#[test]
fn upper_case_results_and_hardfail_are_read() {
    let xml = format!(
        "{HEAD}{}</feedback>",
        record(
            "192.0.2.1",
            "<spf><domain>example.com</domain><result>HardFail</result></spf><dkim><domain>example.com</domain><result>Pass</result></dkim>"
        )
        .replace("<dkim>pass</dkim>", "<dkim>Pass</dkim>")
    );
    let (_, sink) = read(&xml).unwrap();
    let r = &sink.records[0];
    assert_eq!(r.spf[0].result, SpfResult::Fail);
    assert_eq!(r.dkim[0].result, DkimResult::Pass);
    assert_eq!(r.dkim_aligned, PolicyResult::Pass);
}

#[test]
fn off_enum_values_are_other_with_a_warning() {
    let xml = format!(
        "{HEAD}{}</feedback>",
        record(
            "192.0.2.1",
            "<spf><domain>example.com</domain><result>unknown</result></spf>"
        )
    );
    let (summary, sink) = read(&xml).unwrap();
    assert_eq!(sink.records[0].spf[0].result, SpfResult::Other);
    assert_eq!(summary.warnings.count, 1);
    assert!(summary.warnings.first[0].contains("\"unknown\""));
}

#[test]
fn fractional_timestamps_are_cut_to_seconds() {
    let xml = HEAD.replace("1700000000", "1738195200.0") + "</feedback>";
    let (summary, _) = read(&xml).unwrap();
    assert_eq!(summary.meta.begin, 1_738_195_200);
}

#[test]
fn zero_records_is_a_report() {
    let (summary, sink) = read(&format!("{HEAD}</feedback>")).unwrap();
    assert_eq!(summary.records, 0);
    assert_eq!(sink.begun.len(), 1, "the sink hears of it once");
}

#[test]
fn a_record_without_source_ip_is_dropped_with_a_warning() {
    let xml = format!(
        "{HEAD}{}{}</feedback>",
        record("", ""),
        record("192.0.2.9", "")
    );
    let (summary, sink) = read(&xml).unwrap();
    assert_eq!(sink.records.len(), 1);
    assert_eq!(summary.warnings.count, 1);
    assert!(summary.warnings.first[0].contains("no source_ip"));
}

#[test]
fn empty_elements_are_absent() {
    let xml = format!(
        "{HEAD}{}</feedback>",
        record("192.0.2.1", "<dkim><domain/><selector/></dkim><spf/>").replace(
            "</policy_evaluated>",
            "<reason><type/></reason></policy_evaluated>"
        )
    );
    let (_, sink) = read(&xml).unwrap();
    let r = &sink.records[0];
    assert!(r.dkim.is_empty() && r.spf.is_empty() && r.reasons.is_empty());
}

#[test]
fn records_arrive_in_batches() {
    let body: String = (0..BATCH + 5)
        .map(|i| record(&format!("10.0.{}.{}", i / 256, i % 256), ""))
        .collect();
    let (summary, sink) = read(&format!("{HEAD}{body}</feedback>")).unwrap();
    assert_eq!(summary.records as usize, BATCH + 5);
    assert_eq!(sink.batches, 2);
}

#[test]
fn doctype_is_refused() {
    let xml = format!("<!DOCTYPE feedback [<!ENTITY x \"y\">]>{HEAD}</feedback>");
    assert!(matches!(read(&xml), Err(IngestError::Doctype)));
}

#[test]
fn xml_that_is_not_a_report_is_named() {
    let err = read("<html><body>hi</body></html>").err().unwrap();
    assert_eq!(err.reason(), "not_a_report");
    assert!(err.to_string().contains("<html>"), "{err}");
}

#[test]
fn a_truncated_report_is_malformed() {
    let err = read(&format!("{HEAD}{}", record("192.0.2.1", "")))
        .err()
        .unwrap();
    assert!(err.to_string().contains("truncated"), "{err}");
}

#[test]
fn missing_identity_is_named() {
    let xml = HEAD.replace("<report_id>id-1</report_id>", "") + "</feedback>";
    let err = read(&xml).err().unwrap();
    assert!(err.to_string().contains("report_id"), "{err}");
}

#[test]
fn the_record_count_is_bounded() {
    let limits = Limits {
        max_records: 2,
        ..Limits::default()
    };
    let body: String = (0..3).map(|i| record(&format!("10.0.0.{i}"), "")).collect();
    let xml = format!("{HEAD}{body}</feedback>");
    let err = parse(xml.as_bytes(), &limits, &mut Collect::default()).unwrap_err();
    assert_eq!(err.reason(), "too_large");
}

#[test]
fn entities_and_character_references_are_resolved() {
    let xml = HEAD.replace(
        "<org_name>Rep</org_name>",
        "<org_name>A&amp;B &#x41;</org_name>",
    ) + "</feedback>";
    let (summary, _) = read(&xml).unwrap();
    assert_eq!(summary.meta.org_name, "A&B A");
}

/// Differential test against mail-auth's whole-document parser (the oracle): on every raw XML sample
/// it reads, the identity, the record count and each record's source, count, From domain and DKIM/SPF
/// domains and selectors agree. Where mail-auth errs (windows-1252, bad UTF-8, prefixes, schema
/// wrappers) or reads a known quirk wrongly (fractional `begin` → 0), it is no oracle.
#[test]
fn agrees_with_mail_auth_where_it_reads_the_report() {
    use crate::ingest::text::{SourceEncoding, Utf8Repair};
    let root = format!("{}/tests/fixtures/ingest", env!("CARGO_MANIFEST_DIR"));
    let mut compared = 0;
    for dir in ["aggregate", "aggregate_invalid", "extract_report"] {
        for entry in std::fs::read_dir(format!("{root}/{dir}")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "xml") {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let Ok(oracle) = mail_auth::report::Report::parse_xml(&bytes) else {
                continue;
            };
            let name = path.display();
            let text = Utf8Repair::new(
                bytes.trim_ascii_start(),
                SourceEncoding::declared_in(&bytes),
            );
            let mut ours = Collect::default();
            let summary = parse(text, &Limits::default(), &mut ours)
                .unwrap_or_else(|e| panic!("{name}: mail-auth reads it, we fail: {e}"));
            let meta = &summary.meta;
            assert_eq!(meta.report_id, oracle.report_id().trim(), "{name}");
            assert_eq!(meta.org_name, oracle.org_name().trim(), "{name}");
            assert_eq!(
                meta.policy.domain,
                oracle.domain().to_ascii_lowercase(),
                "{name}"
            );
            if oracle.date_range_begin() != 0 {
                assert_eq!(meta.begin as u64, oracle.date_range_begin(), "{name}");
                assert_eq!(meta.end as u64, oracle.date_range_end(), "{name}");
            }
            let theirs: Vec<_> = oracle
                .records()
                .iter()
                .filter(|r| r.source_ip().is_some())
                .collect();
            assert_eq!(ours.records.len(), theirs.len(), "{name}: record count");
            for (mine, theirs) in ours.records.iter().zip(theirs) {
                assert_eq!(Some(mine.source_ip), theirs.source_ip(), "{name}");
                assert_eq!(mine.count, u64::from(theirs.count()), "{name}");
                assert_eq!(
                    mine.header_from.as_deref().unwrap_or(""),
                    theirs.header_from().to_ascii_lowercase(),
                    "{name}"
                );
                let their_dkim: Vec<(String, String)> = theirs
                    .dkim_auth_result()
                    .iter()
                    .filter(|d| !d.domain().is_empty())
                    .map(|d| (d.domain().to_ascii_lowercase(), d.selector().to_owned()))
                    .collect();
                let my_dkim: Vec<(String, String)> = mine
                    .dkim
                    .iter()
                    .filter_map(|d| {
                        Some((d.domain.clone()?, d.selector.clone().unwrap_or_default()))
                    })
                    .collect();
                assert_eq!(my_dkim, their_dkim, "{name}: DKIM domains and selectors");
                let their_spf: Vec<String> = theirs
                    .spf_auth_result()
                    .iter()
                    .filter(|s| !s.domain().is_empty())
                    .map(|s| s.domain().to_ascii_lowercase())
                    .collect();
                let my_spf: Vec<String> =
                    mine.spf.iter().filter_map(|s| s.domain.clone()).collect();
                assert_eq!(my_spf, their_spf, "{name}: SPF domains");
            }
            compared += 1;
        }
    }
    // mail-auth reads most of the samples; if it read none, this test would prove nothing.
    assert!(compared >= 10, "only {compared} samples compared");
}
