//! Per-value tests for each kind of personal data, with the checksums that tell real
//! identifiers from random digits (Luhn for cards, ISO 7064 mod 97 for IBANs).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use regex::Regex;

/// How strongly one value looks like the kind: 0 (not at all), 1 (unmistakably), or in
/// between for shapes that other data shares (a bare run of digits may be a phone number).
pub type Score = f64;

/// The score of a bare digit run that fits a phone number or SSN without any of their
/// punctuation.
pub const WEAK: Score = 0.4;

static EMAIL: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}$").ok()
});

static STREET: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\d{1,6}[a-z]?,?\s+(?:[\p{L}0-9.'\-]+\s+){0,5}(?:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|place|pl|way|terrace|ter|circle|cir|highway|hwy|parkway|pkwy|square|sq|trail|trl|crescent|close|row|alley|plaza|gardens|grove|hill|mews)\.?(?:[,\s].*)?$",
    )
    .ok()
});

/// An e-mail address.
pub fn email(text: &str) -> Score {
    let matched = EMAIL.as_ref().is_some_and(|re| re.is_match(text));
    if matched { 1.0 } else { 0.0 }
}

/// A phone number: `+` and a country code with 8 to 15 digits, or a national number of 9
/// to 12 digits in groups (`(555) 123-4567`, `020 7946 0958`, `06 12 34 56 78`), or a
/// local `555-1234`. Bare digit runs only score [`WEAK`]. Dates, SSNs, IP addresses and
/// decimals are not phone numbers.
pub fn phone(text: &str) -> Score {
    let (international, rest) = match text.strip_prefix('+') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, text),
    };
    if rest.is_empty() || text.parse::<Ipv4Addr>().is_ok() {
        return 0.0;
    }
    let mut groups: Vec<usize> = Vec::new();
    let mut current = 0;
    let mut separators = [false; 4]; // space, '-', '.', parentheses
    let mut open = 0i32;
    for c in rest.chars() {
        match c {
            '0'..='9' => {
                current += 1;
                continue;
            }
            ' ' => separators[0] = true,
            '-' => separators[1] = true,
            '.' => separators[2] = true,
            '(' => {
                separators[3] = true;
                open += 1;
            }
            ')' => {
                separators[3] = true;
                open -= 1;
            }
            _ => return 0.0,
        }
        if !(0..=1).contains(&open) {
            return 0.0;
        }
        if current > 0 {
            groups.push(current);
        }
        current = 0;
    }
    if current > 0 {
        groups.push(current);
    }
    if open != 0 || groups.is_empty() {
        return 0.0;
    }
    let digits: usize = groups.iter().sum();
    if international {
        return if (8..=15).contains(&digits) { 1.0 } else { 0.0 };
    }
    if groups.len() == 1 {
        return if (9..=12).contains(&digits) {
            WEAK
        } else {
            0.0
        };
    }
    if separators[1] && groups == [3, 4] {
        return 1.0;
    }
    let date_like =
        groups.len() == 3 && (groups == [4, 2, 2] || groups == [2, 2, 4] || groups == [1, 2, 4]);
    let ssn_like = groups == [3, 2, 4] && separators[1];
    let decimal = separators[2] && !separators[0] && !separators[1] && groups.len() < 3;
    let short_group = groups.iter().skip(1).any(|&g| g < 2);
    if date_like || ssn_like || decimal || short_group || !(9..=12).contains(&digits) {
        return 0.0;
    }
    1.0
}

/// Whether the digits pass the Luhn check.
pub fn luhn_valid(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, &d) in digits.iter().rev().enumerate() {
        let mut value = u32::from(d);
        if i % 2 == 1 {
            value *= 2;
            if value > 9 {
                value -= 9;
            }
        }
        sum += value;
    }
    sum.is_multiple_of(10)
}

/// A payment card number: 13 to 19 digits, optionally grouped with spaces or dashes,
/// passing the Luhn check, and not one digit repeated.
pub fn credit_card(text: &str) -> Score {
    let mut digits = Vec::with_capacity(19);
    for c in text.chars() {
        match c {
            '0'..='9' => digits.push(c as u8 - b'0'),
            ' ' | '-' => {}
            _ => return 0.0,
        }
        if digits.len() > 19 {
            return 0.0;
        }
    }
    let varied = digits.windows(2).any(|w| w[0] != w[1]);
    if (13..=19).contains(&digits.len()) && varied && luhn_valid(&digits) {
        1.0
    } else {
        0.0
    }
}

/// IBAN lengths of common countries; others only need 15 to 34 characters.
const IBAN_LENGTHS: [(&str, usize); 20] = [
    ("AT", 20),
    ("BE", 16),
    ("CH", 21),
    ("CZ", 24),
    ("DE", 22),
    ("DK", 18),
    ("ES", 24),
    ("FI", 18),
    ("FR", 27),
    ("GB", 22),
    ("IE", 22),
    ("IT", 27),
    ("LU", 20),
    ("NL", 18),
    ("NO", 15),
    ("PL", 28),
    ("PT", 25),
    ("SE", 24),
    ("GR", 27),
    ("HU", 28),
];

/// The ISO 7064 mod-97 remainder of an IBAN (country and check digits moved to the end,
/// letters as two-digit numbers); `None` when a character is not a letter or digit.
pub fn iban_remainder(compact: &str) -> Option<u32> {
    let bytes = compact.as_bytes();
    if bytes.len() < 4 {
        return None;
    }
    let mut remainder = 0u32;
    for &b in bytes[4..].iter().chain(&bytes[..4]) {
        let value = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            _ => return None,
        };
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    Some(remainder)
}

/// An IBAN: country code, two check digits, an account part, the right length for the
/// country, and a mod-97 remainder of 1. Spaces are allowed.
pub fn iban(text: &str) -> Score {
    if text.len() > 50 {
        return 0.0;
    }
    let compact: String = text
        .chars()
        .filter(|c| *c != ' ')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let bytes = compact.as_bytes();
    if !(15..=34).contains(&bytes.len())
        || !bytes[..2].iter().all(u8::is_ascii_uppercase)
        || !bytes[2..4].iter().all(u8::is_ascii_digit)
    {
        return 0.0;
    }
    let expected = IBAN_LENGTHS
        .iter()
        .find(|(country, _)| country.as_bytes() == &bytes[..2]);
    if expected.is_some_and(|(_, length)| *length != bytes.len()) {
        return 0.0;
    }
    if iban_remainder(&compact) == Some(1) {
        1.0
    } else {
        0.0
    }
}

/// A dotted-quad IPv4 address.
pub fn ipv4(text: &str) -> Score {
    if text.parse::<Ipv4Addr>().is_ok() {
        1.0
    } else {
        0.0
    }
}

/// An IPv6 address.
pub fn ipv6(text: &str) -> Score {
    if text.contains(':') && text.parse::<Ipv6Addr>().is_ok() {
        1.0
    } else {
        0.0
    }
}

fn ssn_parts_valid(area: u32, group: u32, serial: u32) -> bool {
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

/// A US social security number `ddd-dd-dddd` with a valid area (not 000, 666 or 9xx),
/// group and serial; nine bare digits that would be valid score [`WEAK`].
pub fn ssn(text: &str) -> Score {
    let bytes = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = bytes.get(range)?;
        part.iter().all(u8::is_ascii_digit).then(|| {
            part.iter()
                .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
        })
    };
    let (parts, score) = match bytes.len() {
        11 if bytes[3] == b'-' && bytes[6] == b'-' => {
            ((number(0..3), number(4..6), number(7..11)), 1.0)
        }
        9 => ((number(0..3), number(3..5), number(5..9)), WEAK),
        _ => return 0.0,
    };
    match parts {
        (Some(area), Some(group), Some(serial)) if ssn_parts_valid(area, group, serial) => score,
        _ => 0.0,
    }
}

/// A person's name: one to three capitalised words of letters (inner `'` and `-` allowed).
pub fn person_name(text: &str) -> Score {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() || words.len() > 3 {
        return 0.0;
    }
    // Each part of a hyphenated name is capitalised too: `Mary-Jane`, not `Self-emp`.
    let capitalised = |part: &str| {
        let mut chars = part.chars();
        chars.next().is_some_and(char::is_uppercase)
            && chars.clone().next().is_some()
            && chars.clone().all(|c| c.is_alphabetic() || c == '\'')
            && chars.last().is_some_and(char::is_alphabetic)
    };
    if words.iter().all(|w| w.split('-').all(capitalised)) {
        1.0
    } else {
        0.0
    }
}

/// A street address: a house number, up to a few words, and a street suffix (`123 Main St`,
/// `742 Evergreen Terrace, Springfield`).
pub fn street_address(text: &str) -> Score {
    let matched = STREET.as_ref().is_some_and(|re| re.is_match(text));
    if matched { 1.0 } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_tells_card_numbers_from_random_digits() {
        assert_eq!(credit_card("4111 1111 1111 1111"), 1.0);
        assert_eq!(credit_card("4111-1111-1111-1112"), 0.0);
        assert_eq!(credit_card("378282246310005"), 1.0);
        assert_eq!(credit_card("0000000000000000"), 0.0);
        assert_eq!(credit_card("12345"), 0.0);
    }

    #[test]
    fn iban_needs_its_checksum_and_length() {
        assert_eq!(iban("DE89 3704 0044 0532 0130 00"), 1.0);
        assert_eq!(iban("GB82WEST12345698765432"), 1.0);
        assert_eq!(iban("DE88 3704 0044 0532 0130 00"), 0.0);
        assert_eq!(iban("DE89 3704 0044 0532 0130"), 0.0);
        assert_eq!(iban("hello world, how are you"), 0.0);
    }

    #[test]
    fn phones_in_several_shapes() {
        for good in [
            "+1 415 555 2671",
            "+44 20 7946 0958",
            "(555) 123-4567",
            "555-123-4567",
            "06 12 34 56 78",
            "555-1234",
            "+33612345678",
        ] {
            assert_eq!(phone(good), 1.0, "{good}");
        }
        assert_eq!(phone("5551234567"), WEAK);
        for bad in [
            "2020-01-15",
            "123-45-6789",
            "192.168.100.100",
            "3.14159265",
            "12345",
            "abc",
            "77516",
        ] {
            assert_eq!(phone(bad), 0.0, "{bad}");
        }
    }

    #[test]
    fn ssn_areas_are_checked() {
        assert_eq!(ssn("123-45-6789"), 1.0);
        assert_eq!(ssn("666-45-6789"), 0.0);
        assert_eq!(ssn("912-45-6789"), 0.0);
        assert_eq!(ssn("000-45-6789"), 0.0);
        assert_eq!(ssn("123-00-6789"), 0.0);
        assert_eq!(ssn("123456789"), WEAK);
    }

    #[test]
    fn addresses_ips_names_and_emails() {
        assert_eq!(street_address("123 Main St"), 1.0);
        assert_eq!(street_address("742 Evergreen Terrace, Springfield"), 1.0);
        assert_eq!(street_address("Main St"), 0.0);
        assert_eq!(ipv4("10.0.0.1"), 1.0);
        assert_eq!(ipv4("256.0.0.1"), 0.0);
        assert_eq!(ipv6("2001:db8::1"), 1.0);
        assert_eq!(ipv6("12:30"), 0.0);
        assert_eq!(person_name("Ada Lovelace"), 1.0);
        assert_eq!(person_name("Mary-Jane O'Neil"), 1.0);
        assert_eq!(person_name("ada lovelace"), 0.0);
        assert_eq!(person_name("Self-emp-not-inc"), 0.0);
        assert_eq!(email("ada@example.com"), 1.0);
        assert_eq!(email("ada@example"), 0.0);
        assert_eq!(email("not an email"), 0.0);
    }
}
