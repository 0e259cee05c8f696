//! Every sample of the corpus (tests/fixtures/ingest, from parsedmarc's samples) through the whole
//! pipeline, with the kind, status and record count each must give.

use super::*;
use crate::ingest::{DryRun, Status};

fn run(name: &str) -> InputOutcome {
    let path = format!(
        "{}/tests/fixtures/ingest/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap();
    ingest(&mut bytes.as_slice(), &Limits::default(), &mut DryRun)
}

/// (file, kind, reports, records).
const CORPUS: &[(&str, ReportKind, usize, u64)] = &[
    (
        "aggregate/!example.com!1538204542!1538463818.xml",
        ReportKind::DmarcAggregate,
        1,
        1,
    ),
    (
        "aggregate/!large-example.com!1711897200!1711983600.xml",
        ReportKind::DmarcAggregate,
        1,
        2286,
    ),
    (
        "aggregate/Report domain- borschow.com Submitter- google.com Report-ID- 949348866075514174.eml",
        ReportKind::DmarcAggregate,
        1,
        1,
    ),
    (
        "aggregate/addisonfoods.com!example.com!1536105600!1536191999.xml",
        ReportKind::DmarcAggregate,
        1,
        1,
    ),
    (
        "aggregate/empty_reason.xml",
        ReportKind::DmarcAggregate,
        1,
        1,
    ),
    (
        "aggregate/estadocuenta1.infonacot.gob.mx!example.com!1536853302!1536939702!2940.xml.zip",
        ReportKind::DmarcAggregate,
        1,
        1,
    ),
    (
        "aggregate/example.net!example.com!1529366400!1529452799.xml",
        ReportKind::DmarcAggregate,
        1,
        1,
    ),
    (
        "aggregate/fastmail.com!example.com!1516060800!1516147199!102675056.xml.gz",
        ReportKind::DmarcAggregate,
        1,
        1,
    ),
    (
        "aggregate/ikea.com!example.de!1538690400!1538776800.xml",
        ReportKind::DmarcAggregate,
        1,
        1,
    ),
    (
        "aggregate/invalid_utf_8.xml",
        ReportKind::DmarcAggregate,
        1,
        1,
    ),
    (
        "aggregate/invalid_xml.xml",
        ReportKind::DmarcAggregate,
        1,
        1,
    ),
    (
        "aggregate/mimecast-weird-gzip.eml",
        ReportKind::DmarcAggregate,
        1,
        1,
    ),
    (
        "aggregate/old_draft_from_wiki.xml",
        ReportKind::DmarcAggregate,
        1,
        1,
    ),
    (
        "aggregate/protection.outlook.com!example.com!1711756800!1711843200.xml",
        ReportKind::DmarcAggregate,
        1,
        1,
    ),
    (
        "aggregate/rfc9990-example.net!example.com!1700000000!1700086399.xml",
        ReportKind::DmarcAggregate,
        1,
        2,
    ),
    (
        "aggregate/rfc9990-sample.xml",
        ReportKind::DmarcAggregate,
        1,
        1,
    ),
    ("aggregate/twilight.eml", ReportKind::DmarcAggregate, 1, 1),
    (
        "aggregate/usssa.com!example.com!1538784000!1538870399.xml",
        ReportKind::DmarcAggregate,
        1,
        2,
    ),
    (
        "aggregate/veeam.com!example.com!1530133200!1530219600.xml",
        ReportKind::DmarcAggregate,
        1,
        1,
    ),
    (
        "aggregate_invalid/report_with_upper_cased_pass.xml",
        ReportKind::DmarcAggregate,
        1,
        1,
    ),
    (
        "extract_report/changed-input.xml",
        ReportKind::DmarcAggregate,
        1,
        20,
    ),
    (
        "extract_report/nice-input.xml",
        ReportKind::DmarcAggregate,
        1,
        20,
    ),
    (
        "extract_report/nice-input.xml.gz",
        ReportKind::DmarcAggregate,
        1,
        20,
    ),
    (
        "extract_report/nice-input.xml.zip",
        ReportKind::DmarcAggregate,
        1,
        20,
    ),
    (
        "failure/DMARC Failure Report for domain.de (mail-from=sharepoint@domain.de, ip=10.10.10.10).eml",
        ReportKind::DmarcFailure,
        1,
        1,
    ),
    (
        "failure/[Netease DMARC Failure Report] Rent Reminder.eml",
        ReportKind::DmarcFailure,
        1,
        1,
    ),
    (
        "failure/dmarc_ruf_report_linkedin.crlf.eml",
        ReportKind::DmarcFailure,
        1,
        1,
    ),
    (
        "failure/dmarc_ruf_report_linkedin.eml",
        ReportKind::DmarcFailure,
        1,
        1,
    ),
    (
        "failure/exim_plain_text_only_no_arf_part.eml",
        ReportKind::DmarcFailure,
        1,
        1,
    ),
    (
        "smtp_tls/google.com_smtp_tls_report.eml",
        ReportKind::TlsReport,
        1,
        1,
    ),
    ("smtp_tls/mail.ru.json", ReportKind::TlsReport, 1, 1),
    ("smtp_tls/rfc8460.json", ReportKind::TlsReport, 1, 1),
    ("smtp_tls/smtp_tls.json", ReportKind::TlsReport, 1, 1),
];

#[test]
fn every_corpus_sample_parses_with_its_record_count() {
    let mut problems = Vec::new();
    for &(name, kind, reports, records) in CORPUS {
        let o = run(name);
        let got = (o.status(), o.kind(), o.reports.len(), o.records());
        if got != (Status::Ok, kind, reports, records) {
            problems.push(format!("{name}: got {got:?}, errors {:?}", o.error()));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_corpus_list_covers_every_fixture() {
    let root = format!("{}/tests/fixtures/ingest", env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in [
        "aggregate",
        "aggregate_invalid",
        "extract_report",
        "failure",
        "smtp_tls",
    ] {
        for e in std::fs::read_dir(format!("{root}/{dir}")).unwrap() {
            files.push(format!(
                "{dir}/{}",
                e.unwrap().file_name().to_string_lossy()
            ));
        }
    }
    files.sort();
    let mut listed: Vec<String> = CORPUS.iter().map(|c| c.0.to_owned()).collect();
    listed.sort();
    assert_eq!(files, listed);
}

#[test]
fn quirks_are_read_as_the_notes_say() {
    // Empty org_name: the reporter is the email domain.
    let o = run("aggregate/!large-example.com!1711897200!1711983600.xml");
    assert!(!o.reports[0].reporter.is_empty());
    // A stray windows byte is repaired and counted.
    let o = run("aggregate/invalid_utf_8.xml");
    assert!(o.warnings.count > 0, "{:?}", o.warnings);
    // The Exim plain-text failure report names its domain and source.
    let o = run("failure/exim_plain_text_only_no_arf_part.eml");
    assert_eq!(o.reports[0].domain.as_deref(), Some("example.com"));
}

#[test]
fn an_empty_file_fails_with_a_reason() {
    let o = run("empty.xml");
    assert_eq!(o.status(), Status::Failed);
    assert_eq!(o.kind(), ReportKind::Unknown);
    assert!(o.error().unwrap().contains("empty"));
}

fn bytes_of(input: &[u8]) -> InputOutcome {
    ingest(&mut &input[..], &Limits::default(), &mut DryRun)
}

#[test]
fn bad_inputs_fail_with_their_reason() {
    let nice = std::fs::read(format!(
        "{}/tests/fixtures/ingest/extract_report/nice-input.xml.gz",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let truncated = bytes_of(&nice[..nice.len() / 2]);
    assert_eq!(truncated.status(), Status::Failed);
    assert_eq!(
        truncated.result_code(),
        "corrupt",
        "{:?}",
        truncated.error()
    );

    let not_xml = bytes_of(b"unused");
    assert_eq!(not_xml.result_code(), "not_a_report");
    assert!(not_xml.error().unwrap().contains("\"unused\""));

    let not_report = bytes_of(b"<?xml version=\"1.0\"?><rss></rss>");
    assert_eq!(not_report.result_code(), "not_a_report");

    let no_report = bytes_of(b"From: a@b.example\r\nSubject: hi\r\n\r\nhello\r\n");
    assert_eq!(no_report.result_code(), "not_a_report");
    assert!(no_report.error().unwrap().contains("no DMARC"));

    let bounce = bytes_of(
        b"From: MAILER-DAEMON@b.example\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--x\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; b.example\r\n--x--\r\n",
    );
    // A delivery status report that names no failed recipient counts nothing and is refused.
    assert_eq!(bounce.result_code(), "not_a_report", "{:?}", bounce.error());
    assert!(bounce.bounces().is_empty());
}

fn bounce_fixture(name: &str) -> InputOutcome {
    let path = format!(
        "{}/tests/fixtures/bounces/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap();
    ingest(&mut bytes.as_slice(), &Limits::default(), &mut DryRun)
}

#[test]
fn bounces_and_complaints_are_routed_to_the_events_parser() {
    let o = bounce_fixture("postfix_user_unknown.eml");
    assert_eq!((o.status(), o.kind()), (Status::Ok, ReportKind::Bounce));
    let line = o.json_line("b.eml");
    assert_eq!(line["kind"], "bounce");
    assert_eq!(line["bounces"][0]["recipient"], "bob@example.net");
    assert_eq!(line["bounces"][0]["type"], "hard");
    assert_eq!(line["bounces"][0]["reason"], "user_unknown");
    assert_eq!(line["bounces"][0]["sender_domain"], "shop.example");
    assert_eq!(o.events[0].counted.len(), 1);

    // Two failed recipients in one plain-text (non-DSN) bounce: one item each, in order.
    let o = bounce_fixture("exim_plain_two_failed.eml");
    assert_eq!(o.kind(), ReportKind::Bounce, "{:?}", o.error());
    assert_eq!(o.bounces().len(), 2);

    let o = bounce_fixture("arf_yahoo_abuse.eml");
    assert_eq!((o.status(), o.kind()), (Status::Ok, ReportKind::Complaint));
    let line = o.json_line("c.eml");
    assert_eq!(line["complaints"][0]["recipient"], "quinn@yahoo.com");
    assert_eq!(line["complaints"][0]["feedback_type"], "abuse");
    assert_eq!(line["complaints"][0]["provider"], "yahoo");

    // An ARF auth-failure report stays a DMARC failure report.
    let o = bounce_fixture("dmarc_ruf_report_linkedin.eml");
    assert_eq!(o.kind(), ReportKind::DmarcFailure);

    // Look-alikes count nothing and say why.
    for (name, why) in [
        ("auto_reply.eml", "auto-reply"),
        ("postfix_delayed.eml", "delay"),
        ("newsletter.eml", "no DMARC"),
    ] {
        let o = bounce_fixture(name);
        assert_eq!(
            (o.status(), o.kind()),
            (Status::Failed, ReportKind::Unknown),
            "{name}"
        );
        assert!(o.error().unwrap().contains(why), "{name}: {:?}", o.error());
        assert_eq!(o.result_code(), "not_a_report");
    }
}

#[test]
fn a_zip_bomb_is_refused() {
    use std::io::Write;
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("bomb.xml", options).unwrap();
        let zeros = vec![b' '; 1 << 20];
        for _ in 0..64 {
            zip.write_all(&zeros).unwrap();
        }
        zip.finish().unwrap();
    }
    let o = bytes_of(buf.get_ref());
    assert_eq!(o.status(), Status::Failed);
    assert_eq!(o.result_code(), "bomb", "{:?}", o.error());
}

#[test]
fn double_gzip_and_every_zip_member_are_read() {
    use std::io::Write;
    let nice = std::fs::read(format!(
        "{}/tests/fixtures/ingest/extract_report/nice-input.xml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let gz = |data: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    };
    let o = bytes_of(&gz(&gz(&nice)));
    assert_eq!((o.status(), o.records()), (Status::Ok, 20));

    let changed = std::fs::read(format!(
        "{}/tests/fixtures/ingest/aggregate/rfc9990-sample.xml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let options = zip::write::SimpleFileOptions::default();
        zip.start_file("a.xml", options).unwrap();
        zip.write_all(&nice).unwrap();
        zip.start_file("b.xml", options).unwrap();
        zip.write_all(&changed).unwrap();
        zip.finish().unwrap();
    }
    let o = bytes_of(buf.get_ref());
    assert_eq!(
        (o.status(), o.reports.len(), o.records()),
        (Status::Ok, 2, 21)
    );
}

#[test]
fn no_panic_on_mangled_inputs() {
    // A cheap stand-in for the fuzz target on stable: every prefix and some bit flips of each sample.
    for &(name, ..) in CORPUS {
        let path = format!(
            "{}/tests/fixtures/ingest/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let bytes = std::fs::read(&path).unwrap();
        if bytes.len() > 64 << 10 {
            continue;
        }
        let step = (bytes.len() / 16).max(1);
        for cut in (0..bytes.len()).step_by(step) {
            let _ = bytes_of(&bytes[..cut]);
            let mut flipped = bytes.clone();
            flipped[cut] ^= 0x5a;
            let _ = bytes_of(&flipped);
        }
    }
}

fn fuzz_dir(which: &str) -> Vec<Vec<u8>> {
    let dir = format!(
        "{}/fuzz/{which}/sniff_and_parse",
        env!("CARGO_MANIFEST_DIR")
    );
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    entries
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect()
}

#[test]
fn the_fuzz_corpus_and_every_crash_input_replay_without_panic() {
    let inputs: Vec<Vec<u8>> = fuzz_dir("corpus")
        .into_iter()
        .chain(fuzz_dir("artifacts"))
        .collect();
    assert!(inputs.len() >= 20, "the seed corpus is missing");
    for input in inputs {
        let _ = ingest(
            &mut input.as_slice(),
            &crate::ingest::fuzz_limits(),
            &mut DryRun,
        );
    }
}

/// A mutation loop through the fuzz target's entry point on stable (a stand-in where libFuzzer
/// cannot run): `FUZZ_SECONDS=1800 cargo test --lib fuzz_mutations -- --ignored`. A panic prints
/// the input's path under fuzz/artifacts/.
#[test]
#[ignore = "runs for FUZZ_SECONDS; started by hand"]
fn fuzz_mutations() {
    use std::io::Write;
    let seconds: u64 = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let seeds = fuzz_dir("corpus");
    let started = std::time::Instant::now();
    let mut rng = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut runs = 0_u64;
    while started.elapsed().as_secs() < seconds {
        let mut input = seeds[(next() as usize) % seeds.len()].clone();
        for _ in 0..=(next() % 8) {
            let len = input.len().max(1);
            let at = (next() as usize) % len;
            match next() % 7 {
                0 if !input.is_empty() => input[at] ^= 1 << (next() % 8),
                1 if !input.is_empty() => input[at] = next() as u8,
                2 => input.insert(at.min(input.len()), next() as u8),
                3 if !input.is_empty() => {
                    input.remove(at);
                }
                4 => input.truncate(at),
                5 => {
                    let other = &seeds[(next() as usize) % seeds.len()];
                    let from = (next() as usize) % other.len().max(1);
                    let piece: Vec<u8> = other.iter().skip(from).take(64).copied().collect();
                    input.splice(at.min(input.len())..at.min(input.len()), piece);
                }
                _ => {
                    let mut e =
                        flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                    e.write_all(&input).unwrap();
                    input = e.finish().unwrap();
                }
            }
        }
        let keep = input.clone();
        let result = std::panic::catch_unwind(move || {
            let _ = ingest(
                &mut input.as_slice(),
                &crate::ingest::fuzz_limits(),
                &mut DryRun,
            );
        });
        if result.is_err() {
            let path = format!(
                "{}/fuzz/artifacts/sniff_and_parse/crash-{runs}",
                env!("CARGO_MANIFEST_DIR")
            );
            std::fs::write(&path, &keep).unwrap();
            panic!("a mutated input panicked; saved as {path}");
        }
        runs += 1;
    }
    eprintln!("fuzz_mutations: {runs} inputs in {seconds} s, no panic");
}
