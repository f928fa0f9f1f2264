//! Sizes written by people: `500MB`, `1.5GiB`, `20 kB`, `1048576`; and sizes written for people
//! ([`size`]: decimal units, like `docker`), which `report/` and advice titles use.
//!
//! The grammar is go-humanize's `ParseBytes`, which dive uses for `.dive-ci`'s `highestWastedBytes`, so a
//! value means the same here and there: a decimal number (commas allowed as digit groups), optional
//! spaces, then a unit, case-insensitive. `B` or no unit is bytes; `k`/`kB`, `M`/`MB`, … are powers of
//! 1000 (SI); `Ki`/`KiB`, `Mi`/`MiB`, … powers of 1024. A fraction of a byte is dropped (`1.5B` = 1).
//! Unlike go-humanize, the arithmetic is exact decimal, not `float64` (`4.35MB` is 4 350 000 here; Go
//! gets 4 349 999 from rounding), and a value that overflows u64 is an error.

use humansize::{DECIMAL, format_size};
use thiserror::Error;

/// Formats a byte count for people (decimal units, like `docker`: `1.50 MB`).
pub fn size(bytes: u64) -> String {
    format_size(bytes, DECIMAL)
}

/// Why a size could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UnitError {
    /// No number at the start.
    #[error("'{0}' is not a size: expected a number and a unit, like 500MB or 1.5GiB")]
    NoNumber(String),
    /// The unit is not one of B, kB…EB, KiB…EiB.
    #[error("'{value}': unknown unit '{unit}' (use B, kB, MB, GB, TB, or KiB, MiB, GiB, TiB)")]
    UnknownUnit {
        /// The whole value.
        value: String,
        /// The part after the number.
        unit: String,
    },
    /// More than 2^64 - 1 bytes.
    #[error("'{0}' is too large")]
    TooLarge(String),
}

/// A unit: its lower-case spellings and its multiplier.
struct Unit {
    names: &'static [&'static str],
    bytes: u64,
}

/// Every unit go-humanize knows up to exabytes (zetta and yotta do not fit in u64).
const UNITS: &[Unit] = &[
    Unit {
        names: &["", "b"],
        bytes: 1,
    },
    Unit {
        names: &["k", "kb"],
        bytes: 1_000,
    },
    Unit {
        names: &["ki", "kib"],
        bytes: 1 << 10,
    },
    Unit {
        names: &["m", "mb"],
        bytes: 1_000_000,
    },
    Unit {
        names: &["mi", "mib"],
        bytes: 1 << 20,
    },
    Unit {
        names: &["g", "gb"],
        bytes: 1_000_000_000,
    },
    Unit {
        names: &["gi", "gib"],
        bytes: 1 << 30,
    },
    Unit {
        names: &["t", "tb"],
        bytes: 1_000_000_000_000,
    },
    Unit {
        names: &["ti", "tib"],
        bytes: 1 << 40,
    },
    Unit {
        names: &["p", "pb"],
        bytes: 1_000_000_000_000_000,
    },
    Unit {
        names: &["pi", "pib"],
        bytes: 1 << 50,
    },
    Unit {
        names: &["e", "eb"],
        bytes: 1_000_000_000_000_000_000,
    },
    Unit {
        names: &["ei", "eib"],
        bytes: 1 << 60,
    },
];

/// Parses a size (see the module notes) into bytes.
pub fn parse_size(value: &str) -> Result<u64, UnitError> {
    let number_end = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
        .unwrap_or(value.len());
    let number: String = value[..number_end].chars().filter(|&c| c != ',').collect();
    let (whole, frac) = number.split_once('.').unwrap_or((&number, ""));
    if (whole.is_empty() && frac.is_empty()) || frac.contains('.') {
        return Err(UnitError::NoNumber(value.to_string()));
    }
    let unit_text = value[number_end..].trim().to_ascii_lowercase();
    let unit = UNITS
        .iter()
        .find(|u| u.names.contains(&unit_text.as_str()))
        .ok_or_else(|| UnitError::UnknownUnit {
            value: value.to_string(),
            unit: value[number_end..].trim().to_string(),
        })?;
    let too_large = || UnitError::TooLarge(value.to_string());
    // Exact: (whole.frac × 10^len(frac)) × unit / 10^len(frac), in u128, fraction digits past what
    // u128 can hold being irrelevant to the byte count (at most 19 matter for a u64 multiplier).
    let frac = &frac[..frac.len().min(20)];
    let digits = format!("{whole}{frac}");
    let digits = digits.trim_start_matches('0');
    if digits.len() > 38 {
        return Err(too_large());
    }
    let mantissa: u128 = if digits.is_empty() {
        0
    } else {
        digits.parse().map_err(|_| too_large())?
    };
    let scaled = mantissa
        .checked_mul(u128::from(unit.bytes))
        .ok_or_else(too_large)?
        / 10u128.pow(frac.len() as u32);
    u64::try_from(scaled).map_err(|_| too_large())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_si_and_iec_case_insensitive() {
        // Expected values are the unit definitions: SI powers of 1000, IEC powers of 1024.
        let cases: &[(&str, u64)] = &[
            ("0", 0),
            ("1048576", 1_048_576),
            ("12B", 12),
            ("12 b", 12),
            ("500MB", 500_000_000),
            ("500mb", 500_000_000),
            ("500M", 500_000_000),
            ("20 kB", 20_000),
            ("20KB", 20_000),
            ("20k", 20_000),
            ("1KiB", 1_024),
            ("1kib", 1_024),
            ("1Ki", 1_024),
            ("1.5GiB", 1_610_612_736),
            ("1.5GB", 1_500_000_000),
            ("4.35MB", 4_350_000),
            ("0.5KiB", 512),
            ("1.5B", 1),
            (".5kB", 500),
            ("5.kB", 5_000),
            ("1,000,000", 1_000_000),
            ("2TiB", 2 << 40),
            ("1EiB", 1 << 60),
            ("15EB", 15_000_000_000_000_000_000),
            ("18446744073709551615", u64::MAX),
            ("000012kB", 12_000),
        ];
        for &(text, want) in cases {
            assert_eq!(parse_size(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn bad_sizes_say_why() {
        assert!(matches!(parse_size(""), Err(UnitError::NoNumber(_))));
        assert!(matches!(parse_size("MB"), Err(UnitError::NoNumber(_))));
        assert!(matches!(parse_size("-5MB"), Err(UnitError::NoNumber(_))));
        assert!(matches!(parse_size("1.2.3MB"), Err(UnitError::NoNumber(_))));
        assert!(matches!(parse_size("."), Err(UnitError::NoNumber(_))));
        assert_eq!(
            parse_size("5 XB"),
            Err(UnitError::UnknownUnit {
                value: "5 XB".into(),
                unit: "XB".into()
            })
        );
        assert!(matches!(
            parse_size("5MBs"),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_size("1ZB"),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert!(matches!(parse_size("16EiB"), Err(UnitError::TooLarge(_))));
        assert!(matches!(
            parse_size("18446744073709551616"),
            Err(UnitError::TooLarge(_))
        ));
        assert!(matches!(
            parse_size("999999999999999999999999999999999999999999"),
            Err(UnitError::TooLarge(_))
        ));
    }

    #[test]
    fn sizes_for_people_are_decimal() {
        // humansize's DECIMAL style: powers of 1000, two decimals above bytes.
        assert_eq!(size(0), "0 B");
        assert_eq!(size(999), "999 B");
        assert_eq!(size(1_500_000), "1.50 MB");
        assert_eq!(size(2_000_000_000), "2 GB");
    }

    #[test]
    fn unit_table_has_unique_lower_case_names() {
        let mut seen = std::collections::HashSet::new();
        for u in UNITS {
            assert!(u.bytes >= 1);
            for n in u.names {
                assert_eq!(*n, n.to_ascii_lowercase());
                assert!(seen.insert(*n), "{n} twice");
            }
        }
    }
}
