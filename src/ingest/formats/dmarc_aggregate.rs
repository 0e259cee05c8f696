//! DMARC aggregate reports (RFC 7489 appendix C, RFC 9990 §3), read with a streaming pull parser:
//! each `<record>` is typed as soon as it closes and handed to the sink in batches, so memory stays
//! flat whatever the report's size.
//!
//! Tolerant where real reporters are sloppy (see docs/ingest.md): elements are matched by local name
//! (any namespace or prefix), end tags need not match (an unescaped `<` in an `<email>`), an unclosed
//! element before `<feedback>` is skipped, result words are read in any case, empty elements count as
//! absent, fractional timestamps are cut to seconds, and a record without a usable `source_ip` is
//! dropped with a warning while the report is kept. Strict where safety needs it: a `<!DOCTYPE>` is
//! refused (so no entity is ever expanded), and nesting, element text and record count are bounded.

use std::io::BufRead;
use std::net::IpAddr;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::aggregate_model::{
    AggregateMeta, AggregateRecord, Disposition, DkimAuth, DkimResult, OverrideReason,
    PolicyResult, SpfAuth, SpfResult,
};
use crate::ingest::error::IngestError;
use crate::ingest::limits::Limits;
use crate::ingest::warnings::Warnings;

/// Records handed to the sink at once.
pub const BATCH: usize = 2048;

/// Where parsed records go.
pub trait RecordSink {
    /// Called once, before the first batch (or at the end for a report without records), with the
    /// report's identity complete and checked.
    fn begin(&mut self, meta: &AggregateMeta) -> Result<(), IngestError>;
    /// A batch of records, in document order.
    fn records(&mut self, batch: &[AggregateRecord]) -> Result<(), IngestError>;
}

/// What the parser read, besides the records it handed over.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateSummary {
    /// The report's metadata and published policy.
    pub meta: AggregateMeta,
    /// Records handed to the sink.
    pub records: u64,
    /// Sum of their `count`s.
    pub messages: u64,
    /// What was tolerated or dropped.
    pub warnings: Warnings,
}

/// Parse one aggregate report from `reader` (valid UTF-8: see `text::Utf8Repair`).
pub fn parse<R: BufRead>(
    reader: R,
    limits: &Limits,
    sink: &mut dyn RecordSink,
) -> Result<AggregateSummary, IngestError> {
    let mut xml = Reader::from_reader(reader);
    let config = xml.config_mut();
    config.check_end_names = false;
    config.allow_unmatched_ends = true;
    config.allow_dangling_amp = true;
    config.expand_empty_elements = false;
    let mut state = State::new(limits);
    let mut buf = Vec::with_capacity(4096);
    loop {
        let event = xml.read_event_into(&mut buf).map_err(|e| {
            // A refusal from a reader below (bomb, size, corrupt gzip) keeps its own reason.
            if let quick_xml::Error::Io(io) = &e
                && let Some(refusal) = IngestError::refusal_in(io)
            {
                return refusal;
            }
            IngestError::Malformed(format!("XML error near byte {}: {e}", xml.error_position()))
        })?;
        match event {
            Event::Start(e) => state.start(&e)?,
            Event::Empty(e) => state.empty(&e),
            Event::End(e) => {
                let name = e.name();
                state.end(Tag::of(local(name.as_ref())), sink)?;
                if state.feedback_closed {
                    break;
                }
            }
            Event::Text(t) => state.text(&t)?,
            Event::CData(t) => state.text(&t.into_inner())?,
            Event::GeneralRef(r) => {
                let text = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    _ => match &*r.into_inner() {
                        "lt" => "<".into(),
                        "gt" => ">".into(),
                        "amp" => "&".into(),
                        "apos" => "'".into(),
                        "quot" => "\"".into(),
                        other => {
                            // No DTD is accepted, so the entity is undefined: keep it as written.
                            state
                                .warnings
                                .push(format!("undefined entity &{other}; kept as text"));
                            format!("&{other};")
                        }
                    },
                };
                state.text(&text)?;
            }
            Event::DocType(_) => return Err(IngestError::Doctype),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
        buf.clear();
    }
    state.finish(sink)
}

/// The local part of an element name: what follows the first `:` (the prefix is ignored, as by
/// quick-xml's `local_name`), found with a byte loop: names are short.
fn local(name: &str) -> &str {
    match name.bytes().position(|b| b == b':') {
        // ':' is ASCII, so the byte after it starts a character.
        Some(at) => name.get(at + 1..).unwrap_or_default(),
        None => name,
    }
}

/// The elements the parser knows, by local name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Feedback,
    Version,
    ReportMetadata,
    OrgName,
    Email,
    ExtraContactInfo,
    ReportId,
    DateRange,
    Begin,
    End,
    Generator,
    Error,
    PolicyPublished,
    Domain,
    Adkim,
    Aspf,
    P,
    Sp,
    Np,
    Pct,
    Testing,
    DiscoveryMethod,
    Fo,
    Record,
    Row,
    SourceIp,
    Count,
    PolicyEvaluated,
    Disposition,
    Dkim,
    Spf,
    Reason,
    Type,
    Comment,
    Identifiers,
    HeaderFrom,
    EnvelopeFrom,
    EnvelopeTo,
    AuthResults,
    Selector,
    Result,
    HumanResult,
    Scope,
    Other,
}

impl Tag {
    fn of(local: &str) -> Tag {
        match local {
            "feedback" => Tag::Feedback,
            "version" => Tag::Version,
            "report_metadata" => Tag::ReportMetadata,
            "org_name" => Tag::OrgName,
            "email" => Tag::Email,
            "extra_contact_info" => Tag::ExtraContactInfo,
            "report_id" => Tag::ReportId,
            "date_range" => Tag::DateRange,
            "begin" => Tag::Begin,
            "end" => Tag::End,
            "generator" => Tag::Generator,
            "error" => Tag::Error,
            "policy_published" => Tag::PolicyPublished,
            "domain" => Tag::Domain,
            "adkim" => Tag::Adkim,
            "aspf" => Tag::Aspf,
            "p" => Tag::P,
            "sp" => Tag::Sp,
            "np" => Tag::Np,
            "pct" => Tag::Pct,
            "testing" => Tag::Testing,
            "discovery_method" => Tag::DiscoveryMethod,
            "fo" => Tag::Fo,
            "record" => Tag::Record,
            "row" => Tag::Row,
            "source_ip" => Tag::SourceIp,
            "count" => Tag::Count,
            "policy_evaluated" => Tag::PolicyEvaluated,
            "disposition" => Tag::Disposition,
            "dkim" => Tag::Dkim,
            "spf" => Tag::Spf,
            "reason" => Tag::Reason,
            "type" => Tag::Type,
            "comment" => Tag::Comment,
            "identifiers" => Tag::Identifiers,
            "header_from" => Tag::HeaderFrom,
            "envelope_from" => Tag::EnvelopeFrom,
            "envelope_to" => Tag::EnvelopeTo,
            "auth_results" => Tag::AuthResults,
            "selector" => Tag::Selector,
            "result" => Tag::Result,
            "human_result" => Tag::HumanResult,
            "scope" => Tag::Scope,
            // Element names are lower case in every schema; a reporter shouting them is still read.
            other if other.bytes().any(|b| b.is_ascii_uppercase()) => {
                Tag::of(&other.to_ascii_lowercase())
            }
            _ => Tag::Other,
        }
    }
}

/// A `<record>` as read so far: raw strings, typed when it closes.
#[derive(Default)]
struct Draft {
    source_ip: Option<Raw>,
    count: Option<Raw>,
    disposition: Option<Raw>,
    dkim_aligned: Option<Raw>,
    spf_aligned: Option<Raw>,
    reasons: Vec<(Option<String>, Option<String>)>,
    header_from: Option<String>,
    envelope_from: Option<String>,
    envelope_to: Option<String>,
    dkim: Vec<AuthDraft>,
    spf: Vec<AuthDraft>,
}

#[derive(Default)]
struct AuthDraft {
    domain: Option<String>,
    selector_or_scope: Option<String>,
    result: Option<Raw>,
    human_result: Option<String>,
}

struct State<'l> {
    limits: &'l Limits,
    stack: Vec<Tag>,
    text: String,
    meta: AggregateMeta,
    begin: Option<i64>,
    end: Option<i64>,
    policy_seen: bool,
    in_policy: bool,
    saw_feedback: bool,
    feedback_closed: bool,
    first_element: Option<String>,
    begun: bool,
    draft: Option<Draft>,
    batch: Vec<AggregateRecord>,
    records: u64,
    messages: u64,
    seen_records: u64,
    warnings: Warnings,
}

/// Room for a result word, a count or an IP address (45 characters at most) without allocating.
const INLINE: usize = 46;

/// A short value as sent, trimmed: inline when it fits, on the heap otherwise.
enum Raw {
    Inline(u8, [u8; INLINE]),
    Heap(String),
}

impl Raw {
    /// Text as sent, trimmed; empty means absent.
    fn present(text: &str) -> Option<Raw> {
        let t = text.trim();
        if t.is_empty() {
            return None;
        }
        Some(match u8::try_from(t.len()) {
            Ok(len) if t.len() <= INLINE => {
                let mut bytes = [0; INLINE];
                bytes[..t.len()].copy_from_slice(t.as_bytes());
                Raw::Inline(len, bytes)
            }
            _ => Raw::Heap(t.to_owned()),
        })
    }

    fn as_str(&self) -> &str {
        match self {
            // Copied whole from a `str`, so always UTF-8.
            Raw::Inline(len, bytes) => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            Raw::Heap(s) => s,
        }
    }
}

/// Text as sent, trimmed; empty means absent.
fn present(text: &str) -> Option<String> {
    let t = text.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

impl<'l> State<'l> {
    fn new(limits: &'l Limits) -> Self {
        State {
            limits,
            stack: Vec::with_capacity(16),
            text: String::new(),
            meta: AggregateMeta::default(),
            begin: None,
            end: None,
            policy_seen: false,
            in_policy: false,
            saw_feedback: false,
            feedback_closed: false,
            first_element: None,
            begun: false,
            draft: None,
            batch: Vec::with_capacity(BATCH),
            records: 0,
            messages: 0,
            seen_records: 0,
            warnings: Warnings::default(),
        }
    }

    fn parent(&self) -> Option<Tag> {
        self.stack.last().copied()
    }

    fn start(&mut self, e: &BytesStart<'_>) -> Result<(), IngestError> {
        self.text.clear();
        let qname = e.name();
        let name = local(qname.as_ref());
        let tag = Tag::of(name);
        if self.first_element.is_none() {
            self.first_element = Some(name.chars().take(64).collect());
        }
        if self.stack.len() >= self.limits.max_depth {
            return Err(IngestError::TooLarge {
                what: "XML element nesting",
                limit: self.limits.max_depth as u64,
            });
        }
        let parent = self.parent();
        match (parent, tag) {
            (_, Tag::Feedback) if !self.saw_feedback => {
                self.saw_feedback = true;
                self.meta.namespace = namespace_of(e);
            }
            (_, Tag::PolicyPublished) => self.in_policy = !self.policy_seen,
            (_, Tag::Record) if self.saw_feedback => {
                self.seen_records += 1;
                if self.seen_records > self.limits.max_records {
                    return Err(IngestError::TooLarge {
                        what: "record count",
                        limit: self.limits.max_records,
                    });
                }
                self.draft = Some(Draft::default());
            }
            (Some(Tag::AuthResults), Tag::Dkim) => {
                if let Some(d) = self.draft.as_mut() {
                    d.dkim.push(AuthDraft::default());
                }
            }
            (Some(Tag::AuthResults), Tag::Spf) => {
                if let Some(d) = self.draft.as_mut() {
                    d.spf.push(AuthDraft::default());
                }
            }
            (Some(Tag::PolicyEvaluated), Tag::Reason) => {
                if let Some(d) = self.draft.as_mut() {
                    d.reasons.push((None, None));
                }
            }
            _ => {}
        }
        self.stack.push(tag);
        Ok(())
    }

    fn empty(&mut self, e: &BytesStart<'_>) {
        self.text.clear();
        if self.first_element.is_none() {
            self.first_element = Some(e.local_name().as_ref().chars().take(64).collect());
        }
    }

    fn text(&mut self, text: &str) -> Result<(), IngestError> {
        if self.stack.is_empty() {
            return Ok(());
        }
        if self.text.len() + text.len() > self.limits.max_text_bytes {
            return Err(IngestError::TooLarge {
                what: "text of one XML element",
                limit: self.limits.max_text_bytes as u64,
            });
        }
        self.text.push_str(text);
        Ok(())
    }

    fn end(&mut self, tag: Tag, sink: &mut dyn RecordSink) -> Result<(), IngestError> {
        // Close up to the matching open element; an end tag that matches nothing open is ignored.
        let Some(at) = self.stack.iter().rposition(|t| *t == tag) else {
            self.text.clear();
            return Ok(());
        };
        self.stack.truncate(at);
        let parent = self.parent();
        // Taken for the borrow and put back below, so its capacity serves the next element.
        let text = std::mem::take(&mut self.text);
        let result = self.close(parent, tag, &text, sink);
        self.text = text;
        self.text.clear();
        result
    }

    fn close(
        &mut self,
        parent: Option<Tag>,
        tag: Tag,
        text: &str,
        sink: &mut dyn RecordSink,
    ) -> Result<(), IngestError> {
        match tag {
            Tag::Feedback => self.feedback_closed = true,
            Tag::PolicyPublished => {
                if self.in_policy {
                    self.policy_seen = true;
                    self.in_policy = false;
                }
            }
            Tag::Record => self.close_record(sink)?,
            _ => self.leaf(parent, tag, text)?,
        }
        Ok(())
    }

    fn leaf(&mut self, parent: Option<Tag>, tag: Tag, text: &str) -> Result<(), IngestError> {
        let Some(parent) = parent else {
            return Ok(());
        };
        if parent == Tag::PolicyPublished && !self.in_policy {
            return Ok(());
        }
        if !matches!(
            parent,
            Tag::Feedback | Tag::ReportMetadata | Tag::DateRange | Tag::PolicyPublished
        ) {
            self.record_leaf(parent, tag, text);
            return Ok(());
        }
        let value = present(text);
        let meta = &mut self.meta;
        let policy = &mut meta.policy;
        match (parent, tag) {
            (Tag::Feedback, Tag::Version) => meta.version = value,
            (Tag::ReportMetadata, Tag::OrgName) => meta.org_name = value.unwrap_or_default(),
            (Tag::ReportMetadata, Tag::Email) => meta.email = value,
            (Tag::ReportMetadata, Tag::ExtraContactInfo) => meta.extra_contact_info = value,
            (Tag::ReportMetadata, Tag::ReportId) => meta.report_id = value.unwrap_or_default(),
            (Tag::ReportMetadata, Tag::Generator) => meta.generator = value,
            (Tag::ReportMetadata, Tag::Error) => {
                if let Some(v) = value
                    && meta.errors.len() < 16
                {
                    meta.errors.push(v);
                }
            }
            (Tag::DateRange, Tag::Begin) => self.begin = Some(timestamp("begin", text)?),
            (Tag::DateRange, Tag::End) => self.end = Some(timestamp("end", text)?),
            (Tag::PolicyPublished, Tag::Domain) => {
                policy.domain = value
                    .map(|d| d.trim_end_matches('.').to_ascii_lowercase())
                    .unwrap_or_default();
            }
            (Tag::PolicyPublished, Tag::Adkim) => policy.adkim = lower(value),
            (Tag::PolicyPublished, Tag::Aspf) => policy.aspf = lower(value),
            (Tag::PolicyPublished, Tag::P) => policy.p = lower(value),
            (Tag::PolicyPublished, Tag::Sp) => policy.sp = lower(value),
            (Tag::PolicyPublished, Tag::Np) => policy.np = lower(value),
            (Tag::PolicyPublished, Tag::Testing) => policy.testing = lower(value),
            (Tag::PolicyPublished, Tag::DiscoveryMethod) => policy.discovery_method = lower(value),
            (Tag::PolicyPublished, Tag::Fo) => policy.fo = value,
            (Tag::PolicyPublished, Tag::Pct) => {
                policy.pct = match value.as_deref().map(str::parse::<u8>) {
                    None => None,
                    Some(Ok(p)) if p <= 100 => Some(p),
                    Some(_) => {
                        self.warnings.push(format!(
                            "policy_published/pct {text:?} is not 0-100; ignored"
                        ));
                        None
                    }
                };
            }
            _ => {}
        }
        Ok(())
    }

    fn record_leaf(&mut self, parent: Tag, tag: Tag, text: &str) {
        let Some(d) = self.draft.as_mut() else {
            return;
        };
        // Words, numbers and addresses are kept inline (no allocation); free text as a String.
        let word_slot = match (parent, tag) {
            (Tag::Row, Tag::SourceIp) => Some(&mut d.source_ip),
            (Tag::Row, Tag::Count) => Some(&mut d.count),
            (Tag::PolicyEvaluated, Tag::Disposition) => Some(&mut d.disposition),
            (Tag::PolicyEvaluated, Tag::Dkim) => Some(&mut d.dkim_aligned),
            (Tag::PolicyEvaluated, Tag::Spf) => Some(&mut d.spf_aligned),
            (Tag::Dkim | Tag::Spf, Tag::Result) => {
                let list = if parent == Tag::Dkim {
                    &mut d.dkim
                } else {
                    &mut d.spf
                };
                list.last_mut().map(|auth| &mut auth.result)
            }
            _ => None,
        };
        if let Some(slot) = word_slot {
            *slot = Raw::present(text);
            return;
        }
        if matches!((parent, tag), (Tag::Dkim | Tag::Spf, Tag::Result)) {
            return;
        }
        let value = present(text);
        let slot = match (parent, tag) {
            (Tag::Reason, Tag::Type) => match d.reasons.last_mut() {
                Some(r) => &mut r.0,
                None => return,
            },
            (Tag::Reason, Tag::Comment) => match d.reasons.last_mut() {
                Some(r) => &mut r.1,
                None => return,
            },
            (Tag::Identifiers, Tag::HeaderFrom) => &mut d.header_from,
            (Tag::Identifiers, Tag::EnvelopeFrom) => &mut d.envelope_from,
            (Tag::Identifiers, Tag::EnvelopeTo) => &mut d.envelope_to,
            (Tag::Dkim | Tag::Spf, _) => {
                let list = if parent == Tag::Dkim {
                    &mut d.dkim
                } else {
                    &mut d.spf
                };
                let Some(auth) = list.last_mut() else {
                    return;
                };
                match tag {
                    Tag::Domain => &mut auth.domain,
                    Tag::Selector | Tag::Scope => &mut auth.selector_or_scope,
                    Tag::HumanResult => &mut auth.human_result,
                    _ => return,
                }
            }
            _ => return,
        };
        *slot = value;
    }

    /// Check the report's identity and hand it to the sink, once.
    fn ensure_begun(&mut self, sink: &mut dyn RecordSink) -> Result<(), IngestError> {
        if self.begun {
            return Ok(());
        }
        let missing = |what: &str| {
            IngestError::Malformed(format!("the report has no {what} before its first record"))
        };
        let meta = &mut self.meta;
        meta.report_id = meta
            .report_id
            .trim_matches(|c: char| c == '<' || c == '>' || c.is_whitespace())
            .to_owned();
        if meta.report_id.is_empty() {
            return Err(missing("report_metadata/report_id"));
        }
        if meta.reporter().is_empty() {
            return Err(missing("report_metadata/org_name (nor an email domain)"));
        }
        if meta.policy.domain.is_empty() {
            return Err(missing("policy_published/domain"));
        }
        meta.begin = self.begin.ok_or_else(|| missing("date_range/begin"))?;
        meta.end = self.end.ok_or_else(|| missing("date_range/end"))?;
        sink.begin(&self.meta)?;
        self.begun = true;
        Ok(())
    }

    fn close_record(&mut self, sink: &mut dyn RecordSink) -> Result<(), IngestError> {
        let Some(draft) = self.draft.take() else {
            return Ok(());
        };
        self.ensure_begun(sink)?;
        let n = self.seen_records;
        let Some(record) = self.type_record(n, draft) else {
            return Ok(());
        };
        self.records += 1;
        self.messages = self.messages.saturating_add(record.count);
        self.batch.push(record);
        if self.batch.len() >= BATCH {
            sink.records(&self.batch)?;
            self.batch.clear();
        }
        Ok(())
    }

    fn type_record(&mut self, n: u64, d: Draft) -> Option<AggregateRecord> {
        let w = &mut self.warnings;
        let Some(ip_raw) = d.source_ip else {
            w.push(format!("record {n} has no source_ip; dropped"));
            return None;
        };
        let ip_text = ip_raw.as_str();
        let Ok(ip) = ip_text.parse::<IpAddr>() else {
            w.push(format!(
                "record {n}: source_ip {ip_text:?} is not an IP address; dropped"
            ));
            return None;
        };
        let count_text = d.count.as_ref().map(Raw::as_str);
        let count = match count_text.map(str::parse::<u64>) {
            Some(Ok(c)) => c,
            _ => {
                let shown = count_text.unwrap_or("nothing");
                w.push(format!(
                    "record {n}: count {shown:?} is not a number; dropped"
                ));
                return None;
            }
        };
        let disposition = word(w, n, "disposition", d.disposition, Disposition::parse)
            .unwrap_or(Disposition::Other);
        let dkim_aligned = word(
            w,
            n,
            "policy_evaluated/dkim",
            d.dkim_aligned,
            PolicyResult::parse,
        )
        .unwrap_or(PolicyResult::Other);
        let spf_aligned = word(
            w,
            n,
            "policy_evaluated/spf",
            d.spf_aligned,
            PolicyResult::parse,
        )
        .unwrap_or(PolicyResult::Other);
        let reasons = d
            .reasons
            .into_iter()
            .filter_map(|(kind, comment)| {
                Some(OverrideReason {
                    kind: lowered(kind?),
                    comment,
                })
            })
            .collect();
        let dkim = d
            .dkim
            .into_iter()
            .filter(|a| a.domain.is_some() || a.result.is_some())
            .map(|a| DkimAuth {
                domain: a.domain.map(lowered),
                selector: a.selector_or_scope,
                result: word(
                    w,
                    n,
                    "auth_results/dkim/result",
                    a.result,
                    DkimResult::parse,
                )
                .unwrap_or(DkimResult::Other),
                human_result: a.human_result,
            })
            .collect();
        let spf = d
            .spf
            .into_iter()
            .filter(|a| a.domain.is_some() || a.result.is_some())
            .map(|a| SpfAuth {
                domain: a.domain.map(lowered),
                scope: a.selector_or_scope.map(lowered),
                result: word(w, n, "auth_results/spf/result", a.result, SpfResult::parse)
                    .unwrap_or(SpfResult::Other),
                human_result: a.human_result,
            })
            .collect();
        Some(AggregateRecord {
            source_ip: ip.to_canonical(),
            count,
            disposition,
            dkim_aligned,
            spf_aligned,
            reasons,
            header_from: d.header_from.map(lowered),
            envelope_from: d.envelope_from.map(lowered),
            envelope_to: d.envelope_to.map(lowered),
            dkim,
            spf,
        })
    }

    fn finish(mut self, sink: &mut dyn RecordSink) -> Result<AggregateSummary, IngestError> {
        if !self.saw_feedback {
            let root = self.first_element.as_deref().unwrap_or("nothing");
            return Err(IngestError::NotAReport(format!(
                "XML without a <feedback> element (the first element is <{root}>): not a DMARC aggregate report"
            )));
        }
        if !self.feedback_closed {
            return Err(IngestError::Malformed(
                "the report ends before </feedback> (truncated?)".into(),
            ));
        }
        self.ensure_begun(sink)?;
        if !self.batch.is_empty() {
            sink.records(&self.batch)?;
        }
        Ok(AggregateSummary {
            meta: self.meta,
            records: self.records,
            messages: self.messages,
            warnings: self.warnings,
        })
    }
}

/// A result word: absent is `None` with a warning; outside the enumeration is `None` with a warning.
fn word<T>(
    warnings: &mut Warnings,
    n: u64,
    field: &str,
    value: Option<Raw>,
    parse: fn(&str) -> Option<T>,
) -> Option<T> {
    let Some(raw) = value else {
        warnings.push(format!("record {n}: {field} is missing"));
        return None;
    };
    let value = raw.as_str();
    let parsed = parse(value);
    if parsed.is_none() {
        warnings.push(format!(
            "record {n}: {field} {value:?} is not a known value"
        ));
    }
    parsed
}

fn lower(value: Option<String>) -> Option<String> {
    value.map(lowered)
}

/// Lower-cased in place: the String is reused, not copied.
fn lowered(mut s: String) -> String {
    s.make_ascii_lowercase();
    s
}

/// A Unix time; reporters also send `1738195200.0`.
fn timestamp(field: &str, text: &str) -> Result<i64, IngestError> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<i64>() {
        return Ok(secs);
    }
    match t.parse::<f64>() {
        // The range check makes the cast exact in its integer part.
        Ok(f) if f.is_finite() && f.abs() < 1e15 => Ok(f.trunc() as i64),
        _ => Err(IngestError::Malformed(format!(
            "report_metadata/date_range/{field}: {t:?} is not a Unix time"
        ))),
    }
}

/// The namespace `<feedback>` declares for itself (default or through its own prefix).
fn namespace_of(e: &BytesStart<'_>) -> Option<String> {
    let name = e.name();
    let prefix = name.prefix().map(|p| p.into_inner().to_owned());
    let wanted = match &prefix {
        Some(p) => format!("xmlns:{p}"),
        None => "xmlns".to_owned(),
    };
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == wanted)
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(|v| v.trim().to_owned())
        })
}

#[cfg(test)]
mod tests;
