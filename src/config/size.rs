//! Humane byte sizes: `10MiB`, `512KiB`, `1GB`, `1048576`.
//!
//! A bare number is bytes. Binary units (KiB, MiB, GiB) are powers of 1024, decimal ones (kB/KB, MB, GB)
//! powers of 1000, as IEC 80000-13 has it; the unit's letter case is not significant (`10mib` is 10 MiB)
//! because nobody means millibits in a body limit.

const UNITS: [(&str, u64); 8] = [
    ("b", 1),
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("", 1),
];

/// Parse a size in bytes. The error is a sentence that names the input.
pub(super) fn parse_size(input: &str) -> Result<u64, String> {
    let text = input.trim();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(format!(
            "{text:?} is not a size; write bytes or a number with a unit, e.g. 10MiB, 512KiB or 1048576"
        ));
    }
    let (number, unit) = text.split_at(digits);
    let unit = unit.trim_start().to_ascii_lowercase();
    let Some((_, factor)) = UNITS.iter().find(|(name, _)| *name == unit) else {
        return Err(format!(
            "{text:?} has an unknown unit; use B, kB, MB, GB, KiB, MiB or GiB"
        ));
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(*factor))
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// Write a size for messages: the largest binary unit that divides it, else bytes.
pub(super) fn format_size(bytes: u64) -> String {
    for (name, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{}{name}", bytes / size);
        }
    }
    format!("{bytes}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_bare_bytes() {
        let cases = [
            ("10MiB", 10 << 20),
            ("10mib", 10 << 20),
            ("512KiB", 512 << 10),
            ("1GB", 1_000_000_000),
            ("2 kB", 2_000),
            ("1048576", 1 << 20),
            ("100B", 100),
        ];
        for (text, bytes) in cases {
            assert_eq!(parse_size(text), Ok(bytes), "{text}");
        }
    }

    #[test]
    fn bad_sizes_are_refused() {
        for (text, expected) in [
            ("MiB", "is not a size"),
            ("-1", "is not a size"),
            ("10 parsecs", "unknown unit"),
            ("1.5MiB", "unknown unit"),
            ("99999999999GiB", "too large"),
        ] {
            let err = parse_size(text).expect_err(text);
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn sizes_format_in_binary_units() {
        assert_eq!(format_size(10 << 20), "10MiB");
        assert_eq!(format_size(1 << 30), "1GiB");
        assert_eq!(format_size(1500), "1500B");
    }
}
