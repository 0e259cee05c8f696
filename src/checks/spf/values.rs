//! The argument grammars of SPF terms (RFC 7208 §5, §6, §7.1): domain-specs and their top-level label,
//! CIDR lengths, IPv4 and IPv6 networks. Errors carry their byte offset within the term.

use std::net::Ipv4Addr;

use super::macros::{MacroContext, MacroString};
use super::parse::TermError;
use super::record::{DomainSpec, DualCidr};

pub(super) fn required_value(name: &str, value: &[u8], at: usize) -> Result<DomainSpec, TermError> {
    if value.is_empty() {
        return Err((at, format!("`{name}=` needs a domain name")));
    }
    domain_spec(value, at)
}

/// `include:`/`exists:` with their mandatory domain-spec (and no CIDR length).
pub(super) fn required_domain(name: &str, rest: &[u8], at: usize) -> Result<DomainSpec, TermError> {
    match rest.first() {
        Some(b':') if rest.len() > 1 => domain_spec(&rest[1..], at + 1),
        Some(b':') => Err((at + 1, format!("`{name}:` needs a domain name"))),
        Some(_) => Err((at, format!("`{name}` takes no CIDR length"))),
        None => Err((at, format!("`{name}` needs `:<domain>`"))),
    }
}

/// `a`/`mx`: `[ ":" domain-spec ] [ dual-cidr-length ]`. A domain-spec may itself contain `/` and `:`
/// (any visible character), so the CIDR lengths are taken from the end: `//N` then `/N`.
pub(super) fn domain_and_cidr(
    name: &str,
    rest: &[u8],
    at: usize,
) -> Result<(Option<DomainSpec>, DualCidr), TermError> {
    let mut end = rest.len();
    let mut cidr = DualCidr::default();
    let digits_from = |end: usize| {
        let mut i = end;
        while i > 0 && rest[i - 1].is_ascii_digit() {
            i -= 1;
        }
        (i < end).then_some(i)
    };
    if let Some(d) = digits_from(end).filter(|&d| d >= 2 && &rest[d - 2..d] == b"//") {
        cidr.v6 = cidr_length(&rest[d..end], 128, at + d)?;
        end = d - 2;
    }
    if let Some(d) = digits_from(end).filter(|&d| d >= 1 && rest[d - 1] == b'/') {
        // `/N` preceded by another `/` would have been the IPv6 length.
        cidr.v4 = cidr_length(&rest[d..end], 32, at + d)?;
        end = d - 1;
    }
    let head = &rest[..end];
    match head.first() {
        None => Ok((None, cidr)),
        Some(b':') => Ok((Some(domain_spec(&head[1..], at + 1)?), cidr)),
        Some(_) => Err((
            at,
            format!(
                "`{}` is not a valid CIDR length for `{name}` (use `/N` for IPv4, `//N` for IPv6, or both as `/N//M`)",
                String::from_utf8_lossy(rest)
            ),
        )),
    }
}

/// `ip4-cidr-length = "/" ("0" / %x31-39 0*1DIGIT)` (0–32), `ip6-cidr-length` likewise (0–128).
fn cidr_length(digits: &[u8], max: u8, at: usize) -> Result<u8, TermError> {
    let text = String::from_utf8_lossy(digits);
    if digits.len() > 1 && digits[0] == b'0' {
        return Err((at, format!("the CIDR length `{text}` has a leading zero")));
    }
    match text.parse::<u16>() {
        Ok(n) if n <= u16::from(max) => Ok(n as u8),
        _ => Err((at, format!("the CIDR length `{text}` is above {max}"))),
    }
}

/// `ip4:`/`ip6:` network with an optional single `/N`.
pub(super) fn ip_network<A>(
    rest: &[u8],
    at: usize,
    name: &str,
    max: u8,
    parse_addr: impl Fn(&str) -> Option<A>,
) -> Result<(A, u8), TermError> {
    let Some(value) = rest.strip_prefix(b":") else {
        return Err((at, format!("`{name}` needs `:<address>`")));
    };
    if value.is_empty() {
        return Err((at + 1, format!("`{name}:` needs an address")));
    }
    let (addr_bytes, prefix) = match value.iter().position(|&b| b == b'/') {
        Some(slash) => {
            let digits = &value[slash + 1..];
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return Err((
                    at + 2 + slash,
                    format!(
                        "`{}` is not a CIDR length (`{name}` takes one `/N`)",
                        String::from_utf8_lossy(&value[slash..])
                    ),
                ));
            }
            (&value[..slash], cidr_length(digits, max, at + 2 + slash)?)
        }
        None => (value, max),
    };
    let text = String::from_utf8_lossy(addr_bytes);
    match parse_addr(&text) {
        Some(addr) => Ok((addr, prefix)),
        None => {
            let family = if name == "ip4" { "IPv4" } else { "IPv6" };
            let mut message = format!("`{text}` is not an {family} address");
            if let Some(glued) = glued_all(&text) {
                message.push_str(&format!(" (a space is missing before `{glued}`)"));
            }
            Err((at + 1, message))
        }
    }
}

/// `1.2.3.4~all`: the most common way to break a record; name the missing space.
fn glued_all(text: &str) -> Option<&str> {
    let lower = text.to_ascii_lowercase();
    let pos = lower.rfind("all")?;
    if pos + 3 != lower.len() {
        return None;
    }
    let start = if pos > 0 && matches!(lower.as_bytes()[pos - 1], b'+' | b'-' | b'~' | b'?') {
        pos - 1
    } else {
        pos
    };
    Some(&text[start..])
}

/// `ip4-network = qnum "." qnum "." qnum "." qnum`, where a qnum is 0–255 without leading zeros.
pub(super) fn parse_ipv4(text: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = text.split('.');
    for octet in &mut octets {
        let part = parts.next()?;
        if part.is_empty()
            || part.len() > 3
            || !part.bytes().all(|b| b.is_ascii_digit())
            || (part.len() > 1 && part.starts_with('0'))
        {
            return None;
        }
        *octet = part.parse().ok()?;
    }
    parts.next().is_none().then(|| Ipv4Addr::from(octets))
}

/// `domain-spec = macro-string domain-end`, `domain-end = ( "." toplabel [ "." ] ) / macro-expand`.
pub(super) fn domain_spec(text: &[u8], at: usize) -> Result<DomainSpec, TermError> {
    if text.is_empty() {
        return Err((at, "a domain name is missing".into()));
    }
    let macros = MacroString::parse(text, MacroContext::DomainSpec)
        .map_err(|e| (at + e.offset, e.message))?;
    if macros.ends_with_expand {
        return Ok(DomainSpec(macros));
    }
    let raw = &macros.raw;
    let trimmed = raw.strip_suffix('.').unwrap_or(raw);
    let Some((_, top)) = trimmed.rsplit_once('.') else {
        return Err((
            at,
            format!("`{raw}` is not a domain name: it needs at least two labels"),
        ));
    };
    if let Err(why) = check_toplabel(top) {
        let mut message = format!("`{raw}` does not end in a valid top-level label: {why}");
        if parse_ipv4(trimmed).is_some() {
            message.push_str(" (an IP address belongs in `ip4:`, not a domain name)");
        }
        return Err((at, message));
    }
    Ok(DomainSpec(macros))
}

/// `toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )`.
fn check_toplabel(label: &str) -> Result<(), &'static str> {
    let bytes = label.as_bytes();
    if bytes.is_empty() {
        return Err("the last label is empty");
    }
    if !bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
    {
        return Err("it may hold only letters, digits and hyphens");
    }
    let (first, last) = (bytes[0], bytes[bytes.len() - 1]);
    if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
        return Err("it may not start or end with a hyphen");
    }
    if !bytes.contains(&b'-') && !bytes.iter().any(u8::is_ascii_alphabetic) {
        return Err("it may not be all digits");
    }
    Ok(())
}
