//! RFC 7208 §7 macros: the macro-string grammar (parsed once, with byte offsets for messages) and its
//! expansion against the values of one evaluation.
//!
//! ```text
//! macro-string  = *( macro-expand / macro-literal )
//! macro-expand  = ( "%{" macro-letter transformers *delimiter "}" ) / "%%" / "%_" / "%-"
//! macro-literal = %x21-24 / %x26-7E            ; visible characters except "%"
//! macro-letter  = "s" / "l" / "o" / "d" / "i" / "p" / "h" / "c" / "r" / "t" / "v"
//! transformers  = *DIGIT [ "r" ]
//! delimiter     = "." / "-" / "+" / "," / "/" / "_" / "="
//! explain-string = *( macro-string / SP )
//! ```

use std::fmt;
use std::net::IpAddr;

/// Where a macro-string appears: it decides which letters are allowed and whether spaces are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacroContext {
    /// A mechanism or `redirect`/`exp` target. RFC 7208 §7.2: `c`, `r` and `t` are allowed only in
    /// explanation text.
    DomainSpec,
    /// The value of an unknown modifier: any letter of the grammar, never expanded.
    UnknownModifier,
    /// The TXT text an `exp=` points to (`explain-string`): every letter, and spaces.
    Explanation,
}

/// One macro letter (RFC 7208 §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacroLetter {
    /// `s`: the sender (`local@domain`).
    Sender,
    /// `l`: the sender's local part.
    Local,
    /// `o`: the sender's domain.
    SenderDomain,
    /// `d`: the domain whose record is being evaluated.
    Domain,
    /// `i`: the client IP (dotted quad, or 32 dotted nibbles for IPv6).
    Ip,
    /// `p`: the validated domain name of the client IP (RFC 7208 says not to use it).
    ValidatedName,
    /// `v`: `in-addr` or `ip6`.
    IpVersion,
    /// `h`: the HELO/EHLO domain.
    Helo,
    /// `c`: the client IP in its usual text form (explanations only).
    ClientText,
    /// `r`: the name of the host performing the check (explanations only).
    Receiver,
    /// `t`: the current time in seconds since the epoch (explanations only).
    Timestamp,
}

impl MacroLetter {
    fn from_byte(b: u8) -> Option<Self> {
        Some(match b.to_ascii_lowercase() {
            b's' => MacroLetter::Sender,
            b'l' => MacroLetter::Local,
            b'o' => MacroLetter::SenderDomain,
            b'd' => MacroLetter::Domain,
            b'i' => MacroLetter::Ip,
            b'p' => MacroLetter::ValidatedName,
            b'v' => MacroLetter::IpVersion,
            b'h' => MacroLetter::Helo,
            b'c' => MacroLetter::ClientText,
            b'r' => MacroLetter::Receiver,
            b't' => MacroLetter::Timestamp,
            _ => return None,
        })
    }

    fn explanation_only(self) -> bool {
        matches!(
            self,
            MacroLetter::ClientText | MacroLetter::Receiver | MacroLetter::Timestamp
        )
    }
}

/// One `%{…}` expansion with its transformers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Macro {
    /// Which value.
    pub letter: MacroLetter,
    /// Upper-case letter: URL-escape the result (RFC 7208 §7.3).
    pub url_escape: bool,
    /// Keep only this many right-hand parts (never zero).
    pub keep: Option<usize>,
    /// Reverse the parts first.
    pub reverse: bool,
    /// Split on these characters (`.` when none is given).
    pub delimiters: Vec<u8>,
}

/// One piece of a macro-string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Literal text (`%%`, `%_` and `%-` already turned into `%`, space and `%20`).
    Literal(String),
    /// A macro to expand.
    Expand(Macro),
}

/// A parsed macro-string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroString {
    /// The pieces, in order.
    pub parts: Vec<Part>,
    /// The text as written.
    pub raw: String,
    /// Whether the string ends with a `macro-expand` (which may end a domain-spec, RFC 7208 §7.1).
    pub ends_with_expand: bool,
}

/// A macro-string that does not follow the grammar: where (byte offset within the string) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroError {
    /// Byte offset within the macro-string.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

impl MacroString {
    /// Parse `text` as a macro-string in `context`.
    pub fn parse(text: &[u8], context: MacroContext) -> Result<Self, MacroError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut ends_with_expand = false;
        let mut i = 0;
        while i < text.len() {
            let b = text[i];
            if b != b'%' {
                let allowed = (0x21..=0x7e).contains(&b)
                    || (b == b' ' && context == MacroContext::Explanation);
                if !allowed {
                    return Err(MacroError {
                        offset: i,
                        message: format!("{} is not allowed here", describe_byte(b)),
                    });
                }
                literal.push(char::from(b));
                ends_with_expand = false;
                i += 1;
                continue;
            }
            ends_with_expand = true;
            match text.get(i + 1) {
                Some(b'%') => literal.push('%'),
                Some(b'_') => literal.push(' '),
                Some(b'-') => literal.push_str("%20"),
                Some(b'{') => {
                    let (mac, len) = parse_expand(&text[i..], context).map_err(|mut e| {
                        e.offset += i;
                        e
                    })?;
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Expand(mac));
                    i += len;
                    continue;
                }
                // RFC 7208 §7.1: "A '%' character not followed by a '{', '%', '-', or '_' character is a
                // syntax error."
                _ => {
                    return Err(MacroError {
                        offset: i,
                        message: "`%` must be followed by `{`, `%`, `_` or `-` (write `%%` for a percent sign)"
                            .into(),
                    });
                }
            }
            i += 2;
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(MacroString {
            parts,
            raw: String::from_utf8_lossy(text).into_owned(),
            ends_with_expand,
        })
    }

    /// Whether any `%{…}` expansion is present.
    pub fn has_macros(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Expand(_)))
    }

    /// Whether the letter is used (the evaluator looks up `%{p}` only when it is).
    pub fn uses(&self, letter: MacroLetter) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Expand(m) if m.letter == letter))
    }

    /// Whether every expansion uses only `%{d}`: such a string is known without a sender or client IP.
    pub fn only_domain_macros(&self) -> bool {
        self.parts
            .iter()
            .all(|p| !matches!(p, Part::Expand(m) if m.letter != MacroLetter::Domain))
    }

    /// Expand with the values of one evaluation (RFC 7208 §7.3).
    pub fn expand(&self, vars: &MacroVars<'_>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Expand(mac) => out.push_str(&expand_one(mac, vars)),
            }
        }
        out
    }
}

impl fmt::Display for MacroString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// `%{` letter digits [r] delimiters `}` at the start of `text`; returns the macro and its length.
fn parse_expand(text: &[u8], context: MacroContext) -> Result<(Macro, usize), MacroError> {
    let fail = |offset: usize, message: String| MacroError { offset, message };
    let Some(&letter_byte) = text.get(2) else {
        return Err(fail(0, "`%{` is not closed".into()));
    };
    let letter = MacroLetter::from_byte(letter_byte).ok_or_else(|| {
        fail(
            2,
            format!(
                "{} is not a macro letter (s, l, o, d, i, p, v, h; c, r, t in explanations)",
                describe_byte(letter_byte)
            ),
        )
    })?;
    // RFC 7208 §7.2: "The following macro letters are allowed only in "exp" text: c, r, t".
    if letter.explanation_only() && context == MacroContext::DomainSpec {
        return Err(fail(
            2,
            format!(
                "the macro letter `{}` is allowed only in explanation text",
                char::from(letter_byte)
            ),
        ));
    }
    let mut i = 3;
    let digits_start = i;
    while text.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let keep = if i > digits_start {
        let digits = std::str::from_utf8(&text[digits_start..i]).unwrap_or("0");
        // Saturate: a transformer of 999999999999 keeps every part, as any value above the count does.
        let n = digits.parse::<usize>().unwrap_or(usize::MAX);
        // RFC 7208 §7.3: "If a DIGIT is specified, the value MUST be nonzero."
        if n == 0 {
            return Err(fail(digits_start, "the part count must not be zero".into()));
        }
        Some(n)
    } else {
        None
    };
    let reverse = matches!(text.get(i), Some(b'r' | b'R'));
    if reverse {
        i += 1;
    }
    let mut delimiters = Vec::new();
    loop {
        match text.get(i) {
            Some(b'}') => break,
            Some(&d @ (b'.' | b'-' | b'+' | b',' | b'/' | b'_' | b'=')) => {
                delimiters.push(d);
                i += 1;
            }
            Some(&other) => {
                return Err(fail(
                    i,
                    format!(
                        "{} is not a transformer or delimiter (digits, `r`, then any of . - + , / _ =)",
                        describe_byte(other)
                    ),
                ));
            }
            None => return Err(fail(0, "`%{` is not closed".into())),
        }
    }
    if delimiters.is_empty() {
        delimiters.push(b'.');
    }
    Ok((
        Macro {
            letter,
            url_escape: letter_byte.is_ascii_uppercase(),
            keep,
            reverse,
            delimiters,
        },
        i + 1,
    ))
}

/// A byte for messages: the character when visible, else its hex value.
pub fn describe_byte(b: u8) -> String {
    match b {
        b' ' => "a space".into(),
        0x21..=0x7e => format!("`{}`", char::from(b)),
        _ => format!("the byte 0x{b:02x}"),
    }
}

/// The values macros expand to during one evaluation.
#[derive(Debug, Clone)]
pub struct MacroVars<'a> {
    /// `<sender>`, `local@domain`.
    pub sender: &'a str,
    /// Local part of the sender.
    pub local: &'a str,
    /// Domain of the sender.
    pub sender_domain: &'a str,
    /// The domain whose record is evaluated (changes with include and redirect).
    pub domain: &'a str,
    /// The client IP (IPv4-mapped IPv6 already turned into IPv4).
    pub ip: IpAddr,
    /// HELO/EHLO domain.
    pub helo: &'a str,
    /// The validated name for `%{p}`, looked up beforehand when the string uses it.
    pub validated: Option<&'a str>,
    /// The checking host for `%{r}`.
    pub receiver: &'a str,
    /// Seconds since the epoch for `%{t}`.
    pub timestamp: u64,
}

fn letter_value(letter: MacroLetter, vars: &MacroVars<'_>) -> String {
    match letter {
        MacroLetter::Sender => vars.sender.to_owned(),
        MacroLetter::Local => vars.local.to_owned(),
        MacroLetter::SenderDomain => vars.sender_domain.to_owned(),
        MacroLetter::Domain => vars.domain.to_owned(),
        // RFC 7208 §7.3: for IPv6 "the "i" macro expands to a dot-format address".
        MacroLetter::Ip => match vars.ip {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => {
                let reversed = crate::dns::ipv6_nibbles(v6);
                reversed.rsplit('.').collect::<Vec<_>>().join(".")
            }
        },
        // RFC 7208 §7.3: "If the validation fails, the string "unknown" is used".
        MacroLetter::ValidatedName => vars.validated.unwrap_or("unknown").to_owned(),
        MacroLetter::IpVersion => match vars.ip {
            IpAddr::V4(_) => "in-addr".into(),
            IpAddr::V6(_) => "ip6".into(),
        },
        MacroLetter::Helo => vars.helo.to_owned(),
        MacroLetter::ClientText => vars.ip.to_string(),
        MacroLetter::Receiver => vars.receiver.to_owned(),
        MacroLetter::Timestamp => vars.timestamp.to_string(),
    }
}

fn expand_one(mac: &Macro, vars: &MacroVars<'_>) -> String {
    let value = letter_value(mac.letter, vars);
    // RFC 7208 §7.3: split on the delimiters, optionally reverse, keep the right-most N parts, and join
    // them with ".".
    let mut parts: Vec<&str> = value
        .split(|c: char| mac.delimiters.contains(&(c as u8)))
        .collect();
    if mac.reverse {
        parts.reverse();
    }
    if let Some(keep) = mac.keep {
        let skip = parts.len().saturating_sub(keep);
        parts.drain(..skip);
    }
    let joined = parts.join(".");
    if mac.url_escape {
        url_escape(&joined)
    } else {
        joined
    }
}

/// RFC 7208 §7.3: "URL escaping MUST be performed for characters not in the "unreserved" set"
/// (RFC 3986: ALPHA / DIGIT / "-" / "." / "_" / "~").
fn url_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(ip: &str) -> MacroVars<'static> {
        MacroVars {
            sender: "strong-bad@email.example.com",
            local: "strong-bad",
            sender_domain: "email.example.com",
            domain: "email.example.com",
            ip: ip.parse().unwrap(),
            helo: "mx.example.org",
            validated: None,
            receiver: "unknown",
            timestamp: 0,
        }
    }

    fn expand(text: &str, ip: &str) -> String {
        MacroString::parse(text.as_bytes(), MacroContext::Explanation)
            .unwrap()
            .expand(&vars(ip))
    }

    /// The examples of RFC 7208 §7.4.
    #[test]
    fn rfc_7208_section_7_4_examples_expand_as_published() {
        let v4 = "192.0.2.3";
        assert_eq!(expand("%{s}", v4), "strong-bad@email.example.com");
        assert_eq!(expand("%{o}", v4), "email.example.com");
        assert_eq!(expand("%{d4}", v4), "email.example.com");
        assert_eq!(expand("%{d3}", v4), "email.example.com");
        assert_eq!(expand("%{d2}", v4), "example.com");
        assert_eq!(expand("%{d1}", v4), "com");
        assert_eq!(expand("%{dr}", v4), "com.example.email");
        assert_eq!(expand("%{d2r}", v4), "example.email");
        assert_eq!(expand("%{l}", v4), "strong-bad");
        assert_eq!(expand("%{l-}", v4), "strong.bad");
        assert_eq!(expand("%{lr}", v4), "strong-bad");
        assert_eq!(expand("%{lr-}", v4), "bad.strong");
        assert_eq!(expand("%{l1r-}", v4), "strong");
        assert_eq!(
            expand("%{ir}.%{v}._spf.%{d2}", v4),
            "3.2.0.192.in-addr._spf.example.com"
        );
        assert_eq!(
            expand("%{lr-}.lp._spf.%{d2}", v4),
            "bad.strong.lp._spf.example.com"
        );
        assert_eq!(
            expand("%{ir}.%{v}._spf.%{d2}", "2001:db8::cb01"),
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"
        );
    }

    #[test]
    fn escapes_and_url_encoding_follow_section_7_3() {
        assert_eq!(expand("a%%b%_c%-d", "192.0.2.3"), "a%b c%20d");
        assert_eq!(
            expand("%{S}", "192.0.2.3"),
            "strong-bad%40email.example.com"
        );
    }

    #[test]
    fn malformed_macros_are_rejected_with_their_offset() {
        let err = |t: &str| MacroString::parse(t.as_bytes(), MacroContext::DomainSpec).unwrap_err();
        assert_eq!(err("foo%(ir).x").offset, 3);
        assert_eq!(err("a.%{d0}").offset, 5);
        assert!(err("%{r}.example.com").message.contains("explanation"));
        assert!(err("%{x}").message.contains("not a macro letter"));
        assert!(err("%{d").message.contains("not closed"));
        assert!(err("a b").message.contains("space"));
        assert_eq!(err("foo%").offset, 3);
    }

    #[test]
    fn only_domain_macros_is_known_statically() {
        let p = |t: &str| MacroString::parse(t.as_bytes(), MacroContext::DomainSpec).unwrap();
        assert!(p("_spf.%{d}").only_domain_macros());
        assert!(!p("%{i}._spf.%{d}").only_domain_macros());
        assert!(p("%{i}._spf.%{d}").has_macros());
        assert!(!p("_spf.example.com").has_macros());
    }
}
