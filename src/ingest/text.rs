//! Byte streams into valid UTF-8, since the XML parser reads `str`: reports declared `windows-1252` or
//! `iso-8859-1` (AOL) are transcoded, and bytes that are not UTF-8 in a UTF-8 report (a stray 0x91
//! from a Windows editor) are read as windows-1252 and counted, instead of failing the report.

use std::io::{self, BufRead, Read};

/// How bytes above 0x7F are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceEncoding {
    /// UTF-8, with invalid bytes repaired as windows-1252.
    Utf8,
    /// A single-byte Latin encoding (windows-1252 and its ISO-8859-1 subset): every byte is a character.
    Windows1252,
}

impl SourceEncoding {
    /// The encoding named by an XML declaration at the start of `head` (`<?xml … encoding="…"?>`);
    /// UTF-8 when absent or unknown.
    pub fn declared_in(head: &[u8]) -> SourceEncoding {
        let head = &head[..head.len().min(256)];
        let Some(start) = find(head, b"<?xml") else {
            return SourceEncoding::Utf8;
        };
        let decl = &head[start..];
        let decl = &decl[..find(decl, b"?>").unwrap_or(decl.len())];
        let Some(at) = find(decl, b"encoding") else {
            return SourceEncoding::Utf8;
        };
        let value: Vec<u8> = decl[at + 8..]
            .iter()
            .skip_while(|b| matches!(b, b' ' | b'=' | b'"' | b'\'' | b'\t'))
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
            .map(u8::to_ascii_lowercase)
            .collect();
        match value.as_slice() {
            b"windows-1252" | b"cp1252" | b"iso-8859-1" | b"iso-8859-15" | b"latin1"
            | b"latin-1" | b"iso8859-1" => SourceEncoding::Windows1252,
            _ => SourceEncoding::Utf8,
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// windows-1252 0x80–0x9F (the WHATWG index); the other bytes above 0x7F are U+00A0–U+00FF as in
/// ISO-8859-1. The five unassigned bytes map to the C1 control of the same value.
const CP1252_HIGH: [char; 32] = [
    '\u{20AC}', '\u{0081}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{008D}', '\u{017D}', '\u{008F}',
    '\u{0090}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}', '\u{0153}', '\u{009D}', '\u{017E}', '\u{0178}',
];

fn cp1252(byte: u8) -> char {
    match byte {
        0x80..=0x9F => CP1252_HIGH[usize::from(byte - 0x80)],
        _ => char::from(byte),
    }
}

const CHUNK: usize = 64 * 1024;

/// A `BufRead` that yields valid UTF-8 whatever the inner reader gives.
pub struct Utf8Repair<R> {
    inner: R,
    encoding: SourceEncoding,
    raw: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
    /// An incomplete UTF-8 sequence at the end of the last chunk, completed by the next one.
    carry: Vec<u8>,
    eof: bool,
    repaired: u64,
}

impl<R: Read> Utf8Repair<R> {
    /// Wrap `inner`, reading its bytes as `encoding`.
    pub fn new(inner: R, encoding: SourceEncoding) -> Self {
        Utf8Repair {
            inner,
            encoding,
            raw: vec![0; CHUNK],
            out: Vec::with_capacity(CHUNK + CHUNK / 2),
            pos: 0,
            carry: Vec::new(),
            eof: false,
            repaired: 0,
        }
    }

    /// How many bytes were not valid UTF-8 and were read as windows-1252 instead.
    pub fn repaired(&self) -> u64 {
        self.repaired
    }

    fn refill(&mut self) -> io::Result<()> {
        self.out.clear();
        self.pos = 0;
        while self.out.is_empty() && !self.eof {
            let n = self.inner.read(&mut self.raw)?;
            if n == 0 {
                self.eof = true;
            }
            let mut chunk = std::mem::take(&mut self.carry);
            chunk.extend_from_slice(&self.raw[..n]);
            match self.encoding {
                SourceEncoding::Windows1252 => self.transcode(&chunk),
                SourceEncoding::Utf8 => self.repair(&chunk),
            }
        }
        Ok(())
    }

    fn transcode(&mut self, chunk: &[u8]) {
        for &b in chunk {
            if b.is_ascii() {
                self.out.push(b);
            } else {
                let mut tmp = [0; 4];
                self.out
                    .extend_from_slice(cp1252(b).encode_utf8(&mut tmp).as_bytes());
            }
        }
    }

    fn repair(&mut self, chunk: &[u8]) {
        if std::str::from_utf8(chunk).is_ok() {
            self.out.extend_from_slice(chunk);
            return;
        }
        let mut chunks = chunk.utf8_chunks().peekable();
        while let Some(c) = chunks.next() {
            self.out.extend_from_slice(c.valid().as_bytes());
            let invalid = c.invalid();
            // A sequence cut by the chunk boundary: keep it for the next read.
            // (The last chunk's invalid bytes end the input slice.)
            if chunks.peek().is_none() && !self.eof && !invalid.is_empty() && invalid.len() < 4 {
                self.carry.extend_from_slice(invalid);
                continue;
            }
            for &b in invalid {
                self.repaired += 1;
                let mut tmp = [0; 4];
                self.out
                    .extend_from_slice(cp1252(b).encode_utf8(&mut tmp).as_bytes());
            }
        }
    }
}

impl<R: Read> Read for Utf8Repair<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Utf8Repair<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.out.len() {
            self.refill()?;
        }
        Ok(&self.out[self.pos..])
    }

    fn consume(&mut self, amount: usize) {
        self.pos = (self.pos + amount).min(self.out.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(input: &[u8], encoding: SourceEncoding) -> (String, u64) {
        let mut r = Utf8Repair::new(input, encoding);
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        (s, r.repaired())
    }

    #[test]
    fn valid_utf8_passes_through() {
        assert_eq!(
            read_all("héllo €".as_bytes(), SourceEncoding::Utf8),
            ("héllo €".into(), 0)
        );
    }

    #[test]
    fn a_stray_windows_byte_is_repaired_and_counted() {
        assert_eq!(
            read_all(b"it\x92s", SourceEncoding::Utf8),
            ("it\u{2019}s".into(), 1)
        );
    }

    #[test]
    fn windows_1252_is_transcoded() {
        assert_eq!(
            read_all(b"caf\xe9 \x80", SourceEncoding::Windows1252),
            ("café €".into(), 0)
        );
    }

    #[test]
    fn a_sequence_split_across_chunks_survives() {
        let mut input = vec![b'a'; CHUNK - 1];
        input.extend_from_slice("é".as_bytes());
        let (s, repaired) = read_all(&input, SourceEncoding::Utf8);
        assert!(s.ends_with('é'));
        assert_eq!(repaired, 0);
    }

    #[test]
    fn the_declared_encoding_is_read() {
        assert_eq!(
            SourceEncoding::declared_in(
                b"<?xml version=\"1.0\" encoding=\"Windows-1252\"?><feedback>"
            ),
            SourceEncoding::Windows1252
        );
        assert_eq!(
            SourceEncoding::declared_in(b"<?xml version='1.0' encoding='UTF-8'?>"),
            SourceEncoding::Utf8
        );
        assert_eq!(
            SourceEncoding::declared_in(b"<feedback>"),
            SourceEncoding::Utf8
        );
    }
}
