//! Just enough DER (ITU-T X.690) to read an RSA public key's modulus size from a DKIM `p=` value.
//!
//! mail-auth accepts any bytes as an RSA key and rounds the size to whole bytes; a checker must say
//! "1023 bits" when the key has 1023 bits, and "not an RSA key" when it is garbage.

/// DER tag of INTEGER.
const INTEGER: u8 = 0x02;
/// DER tag of BIT STRING.
const BIT_STRING: u8 = 0x03;
/// DER tag of OBJECT IDENTIFIER.
const OID: u8 = 0x06;
/// DER tag of a constructed SEQUENCE.
const SEQUENCE: u8 = 0x30;
/// rsaEncryption, 1.2.840.113549.1.1.1 (RFC 8017 Appendix C), as DER content bytes.
const RSA_ENCRYPTION: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// The size in bits of the RSA modulus in `der`, which is either a SubjectPublicKeyInfo (what
/// `openssl rsa -pubout` writes and nearly everyone publishes) or a bare RSAPublicKey (the literal
/// reading of RFC 6376 §3.6.1).
pub(crate) fn rsa_modulus_bits(der: &[u8]) -> Result<u32, String> {
    let (tag, body, rest) = tlv(der)?;
    if tag != SEQUENCE {
        return Err("it does not start with a DER SEQUENCE".into());
    }
    if !rest.is_empty() {
        return Err(format!("{} stray bytes follow the key", rest.len()));
    }
    let (first_tag, _, _) = tlv(body)?;
    let rsa_public_key = match first_tag {
        // SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }
        SEQUENCE => {
            let (_, algorithm, after) = tlv(body)?;
            let (oid_tag, oid, _) = tlv(algorithm)?;
            if oid_tag != OID || oid != RSA_ENCRYPTION {
                return Err("its algorithm is not rsaEncryption".into());
            }
            let (bits_tag, bits, _) = tlv(after)?;
            if bits_tag != BIT_STRING {
                return Err("the public key is not a BIT STRING".into());
            }
            match bits.split_first() {
                Some((0, key)) => {
                    let (tag, inner, _) = tlv(key)?;
                    if tag != SEQUENCE {
                        return Err("the RSAPublicKey is not a SEQUENCE".into());
                    }
                    inner
                }
                _ => return Err("the BIT STRING has unused bits".into()),
            }
        }
        // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
        INTEGER => body,
        other => return Err(format!("unexpected DER tag 0x{other:02x}")),
    };
    let (tag, modulus, after) = tlv(rsa_public_key)?;
    if tag != INTEGER {
        return Err("the modulus is not an INTEGER".into());
    }
    let (tag, exponent, _) = tlv(after)?;
    if tag != INTEGER || exponent.is_empty() {
        return Err("the public exponent is missing".into());
    }
    let significant = match modulus.iter().position(|&b| b != 0) {
        Some(first) => &modulus[first..],
        None => return Err("the modulus is zero".into()),
    };
    // Whole bytes below the top one, plus the bit length of the top byte.
    let top_bits = u8::BITS - significant[0].leading_zeros();
    u32::try_from(significant.len() - 1)
        .ok()
        .and_then(|bytes| bytes.checked_mul(8))
        .and_then(|bits| bits.checked_add(top_bits))
        .ok_or_else(|| "the modulus is absurdly long".into())
}

/// One DER tag-length-value: (tag, content, what follows).
fn tlv(input: &[u8]) -> Result<(u8, &[u8], &[u8]), String> {
    let truncated = || "the key is truncated".to_string();
    let (&tag, rest) = input.split_first().ok_or_else(truncated)?;
    let (&first, rest) = rest.split_first().ok_or_else(truncated)?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        // 0x80 is BER's indefinite length, which DER forbids; more than 4 length bytes is no real key.
        if count == 0 || count > 4 || rest.len() < count {
            return Err("bad DER length".into());
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[count..])
    };
    if rest.len() < len {
        return Err(truncated());
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn b64(s: &str) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD.decode(s).unwrap()
    }

    /// `openssl rsa -pubout -outform DER` of a 1024-bit key (the fixture in tests/fixtures/zones).
    const SPKI_1024: &str = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDGgDCzfoMhQ0KTU2whXB7gjovcidVj3oYj9XOTgzY6hACYzFhCSrFSLAwzXi9ZXa+kWe7wx8qfLFvaUf1kLjLZkgITABBrxDyhTjZ8mpsUxK08rQJnjbT2RjBd52ViFhVcs5088GLD0Lrattu6hMuZDeAu0UpeExyA4q8/R2LMQwIDAQAB";

    #[test]
    fn reads_bits_from_subject_public_key_info() {
        assert_eq!(rsa_modulus_bits(&b64(SPKI_1024)), Ok(1024));
    }

    #[test]
    fn reads_bits_from_a_bare_rsa_public_key_and_counts_odd_sizes() {
        // RSAPublicKey { n = 0x00 0x7f ff.. (1023 bits), e = 65537 }
        let mut n = vec![0x7f];
        n.extend(std::iter::repeat_n(0xff, 127));
        let mut der = vec![INTEGER, 0x81, 128];
        der.extend(&n);
        der.extend([INTEGER, 3, 1, 0, 1]);
        let mut seq = vec![SEQUENCE, 0x81, der.len() as u8];
        seq.extend(&der);
        assert_eq!(rsa_modulus_bits(&seq), Ok(1023));
    }

    #[test]
    fn rejects_garbage_truncation_and_other_algorithms() {
        assert!(rsa_modulus_bits(b"hello").is_err());
        let full = b64(SPKI_1024);
        assert!(rsa_modulus_bits(&full[..100]).is_err());
        // An Ed25519 SubjectPublicKeyInfo (OID 1.3.101.112) is not an RSA key.
        let ed = b64("MCowBQYDK2VwAyEAHBVFKCG163FLDq6d90Z5ep5T5XSlfra8AOGNrrIjNBM=");
        assert_eq!(
            rsa_modulus_bits(&ed),
            Err("its algorithm is not rsaEncryption".into())
        );
    }
}
