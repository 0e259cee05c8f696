//! What an input is, judged from its first bytes after a UTF-8 BOM and leading whitespace — never
//! from a file name or a MIME type, which reporters get wrong (zips labelled `application/gzip`,
//! everything labelled `application/octet-stream`).

use std::io::{self, BufRead};

use serde::Serialize;

use super::decode::GZIP_MAGIC;

/// The container or format an input starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sniffed {
    /// gzip (RFC 1952).
    Gzip,
    /// A zip archive (local file header `PK\x03\x04`).
    Zip,
    /// XML: an aggregate report, or something else in angle brackets.
    Xml,
    /// A JSON object: a TLS report.
    Json,
    /// An Internet message (RFC 5322 header fields, or an mbox `From ` line).
    Message,
    /// None of these.
    Unknown,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Classify the start of an input (BOM and leading whitespace already skipped).
pub fn sniff(head: &[u8]) -> Sniffed {
    match head {
        [0x1f, 0x8b, ..] => Sniffed::Gzip,
        [b'P', b'K', 3, 4, ..] | [b'P', b'K', 5, 6, ..] => Sniffed::Zip,
        [b'<', ..] => Sniffed::Xml,
        [b'{', ..] => Sniffed::Json,
        _ if looks_like_message(head) => Sniffed::Message,
        _ => Sniffed::Unknown,
    }
}

/// The first line is a header field (`Name: value`, RFC 5322 §2.2) or an mbox separator.
fn looks_like_message(head: &[u8]) -> bool {
    if head.starts_with(b"From ") {
        return true;
    }
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return false;
    };
    // RFC 5322 §3.6.8: a field name is printable ASCII except the colon, no spaces.
    colon > 0 && line[..colon].iter().all(|&b| b.is_ascii_graphic())
}

/// Skip a UTF-8 BOM and leading whitespace, then return the first bytes (empty at end of input).
pub fn skip_preamble(reader: &mut dyn BufRead) -> io::Result<&[u8]> {
    let mut bom_checked = false;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return reader.fill_buf();
        }
        if !bom_checked && buf.starts_with(BOM) {
            reader.consume(BOM.len());
            bom_checked = true;
            continue;
        }
        bom_checked = true;
        let ws = buf.iter().take_while(|b| b.is_ascii_whitespace()).count();
        if ws == 0 {
            break;
        }
        reader.consume(ws);
    }
    reader.fill_buf()
}

/// Whether bytes start with the gzip magic (a report gzipped twice).
pub fn is_gzip(head: &[u8]) -> bool {
    head.starts_with(&GZIP_MAGIC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_decides_not_names() {
        assert_eq!(sniff(b"\x1f\x8b\x08"), Sniffed::Gzip);
        assert_eq!(sniff(b"PK\x03\x04"), Sniffed::Zip);
        assert_eq!(sniff(b"<?xml version"), Sniffed::Xml);
        assert_eq!(sniff(b"{\"report-id\""), Sniffed::Json);
        assert_eq!(sniff(b"Return-Path: <a@b>\r\n"), Sniffed::Message);
        assert_eq!(sniff(b"From a@b Mon Jan  1"), Sniffed::Message);
        assert_eq!(sniff(b"unused"), Sniffed::Unknown);
        assert_eq!(sniff(b"hello world: no"), Sniffed::Unknown);
    }

    #[test]
    fn bom_and_whitespace_are_skipped() {
        let mut input: &[u8] = b"\xEF\xBB\xBF \r\n <feedback/>";
        assert_eq!(skip_preamble(&mut input).unwrap(), b"<feedback/>");
    }
}
