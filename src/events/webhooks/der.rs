//! Just enough DER (ITU-T X.690) to take the `subjectPublicKeyInfo` out of an X.509 certificate
//! (RFC 5280 §4.1): `Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL,
//! serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, … }, … }`.

/// One TLV: its tag, its content, and the whole encoding.
struct Tlv<'a> {
    tag: u8,
    content: &'a [u8],
    whole: &'a [u8],
}

/// Read the TLV at the start of `input`; returns it and the rest. Definite lengths only (DER).
fn tlv(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let tag = *input.first()?;
    let first = *input.get(1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*input.get(2 + i)?);
        }
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    if end > input.len() {
        return None;
    }
    Some((
        Tlv {
            tag,
            content: &input[header..end],
            whole: &input[..end],
        },
        &input[end..],
    ))
}

const SEQUENCE: u8 = 0x30;
const VERSION: u8 = 0xa0;

/// The DER `SubjectPublicKeyInfo` of a certificate, or `None` when it is not one.
pub fn subject_public_key_info(cert: &[u8]) -> Option<&[u8]> {
    let (certificate, _) = tlv(cert)?;
    if certificate.tag != SEQUENCE {
        return None;
    }
    let (tbs, _) = tlv(certificate.content)?;
    if tbs.tag != SEQUENCE {
        return None;
    }
    let mut rest = tbs.content;
    let (first, after) = tlv(rest)?;
    if first.tag == VERSION {
        rest = after;
    }
    // serialNumber, signature, issuer, validity, subject.
    for _ in 0..5 {
        rest = tlv(rest)?.1;
    }
    let (spki, _) = tlv(rest)?;
    (spki.tag == SEQUENCE).then_some(spki.whole)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_and_truncation_are_refused_without_panicking() {
        assert!(subject_public_key_info(&[]).is_none());
        assert!(subject_public_key_info(&[0x30, 0x82, 0xff]).is_none());
        assert!(subject_public_key_info(&[0x30, 0x03, 0x30, 0x01, 0x00]).is_none());
        let mut noise = vec![0x30u8, 0x84, 0xff, 0xff, 0xff, 0xff];
        noise.extend([0u8; 16]);
        assert!(subject_public_key_info(&noise).is_none());
    }
}
