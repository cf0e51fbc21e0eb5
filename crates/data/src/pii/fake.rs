//! Realistic fake values of each personal-data kind, deterministic per seed. Every value
//! passes the same check the detector applies (Luhn for cards, mod 97 for IBANs, the area
//! rules for SSNs), and reserved ranges are used where they exist (example domains, the
//! 2001:db8::/32 documentation prefix, 555 phone numbers).

use std::net::Ipv6Addr;

use mirage_core::PiiKind;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::pii::checks::iban_remainder;

const FIRST_NAMES: [&str; 40] = [
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "William",
    "Elizabeth",
    "David",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Daniel",
    "Nancy",
    "Matthew",
    "Lisa",
    "Anthony",
    "Betty",
    "Mark",
    "Margaret",
    "Paul",
    "Sandra",
    "Steven",
    "Ashley",
    "Andrew",
    "Emily",
    "Kenneth",
    "Donna",
    "Joshua",
    "Michelle",
    "Kevin",
    "Carol",
];

const LAST_NAMES: [&str; 40] = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
];

const STREETS: [&str; 20] = [
    "Main",
    "Oak",
    "Pine",
    "Maple",
    "Cedar",
    "Elm",
    "Washington",
    "Lake",
    "Hill",
    "Park",
    "Walnut",
    "Sunset",
    "Lincoln",
    "Jackson",
    "Church",
    "River",
    "Highland",
    "Mill",
    "Spring",
    "Forest",
];

const STREET_SUFFIXES: [&str; 8] = [
    "St", "Street", "Ave", "Avenue", "Rd", "Lane", "Drive", "Blvd",
];

const EMAIL_DOMAINS: [&str; 4] = [
    "example.com",
    "example.org",
    "example.net",
    "mail.example.com",
];

/// `rows` fake values of `kind`, the same for the same `seed`.
pub fn fake_values(kind: PiiKind, rows: usize, seed: u64) -> Vec<String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..rows).map(|_| fake_value(kind, &mut rng)).collect()
}

fn pick<'a>(rng: &mut ChaCha8Rng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

fn digits(rng: &mut ChaCha8Rng, count: usize) -> String {
    (0..count)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

fn fake_value(kind: PiiKind, rng: &mut ChaCha8Rng) -> String {
    match kind {
        PiiKind::Email => {
            let first = pick(rng, &FIRST_NAMES).to_ascii_lowercase();
            let last = pick(rng, &LAST_NAMES).to_ascii_lowercase();
            let number = rng.random_range(1..1000);
            let domain = pick(rng, &EMAIL_DOMAINS);
            match rng.random_range(0..3) {
                0 => format!("{first}.{last}@{domain}"),
                1 => format!("{first}{number}@{domain}"),
                _ => format!("{}.{last}{number}@{domain}", &first[..1]),
            }
        }
        PiiKind::Phone => {
            let line = rng.random_range(100..200);
            match rng.random_range(0..3) {
                0 => format!("+1 {} 555-0{line}", rng.random_range(201..990)),
                1 => format!("({}) 555-0{line}", rng.random_range(201..990)),
                _ => format!("+44 20 7946 0{}", digits(rng, 3)),
            }
        }
        PiiKind::CreditCard => fake_card(rng),
        PiiKind::Iban => fake_iban(rng),
        PiiKind::Ipv4 => {
            // Public-looking unicast addresses, avoiding 0/8, 10/8, 127/8 and multicast.
            let mut first = rng.random_range(1..224u8);
            if matches!(first, 10 | 127) {
                first += 1;
            }
            format!(
                "{first}.{}.{}.{}",
                rng.random_range(0..=255u8),
                rng.random_range(0..=255u8),
                rng.random_range(1..=254u8)
            )
        }
        PiiKind::Ipv6 => {
            let mut segments = [0u16; 8];
            segments[0] = 0x2001;
            segments[1] = 0x0db8;
            for segment in &mut segments[2..] {
                *segment = rng.random();
            }
            Ipv6Addr::from(segments).to_string()
        }
        PiiKind::Ssn => {
            let mut area = rng.random_range(1..900u32);
            if area == 666 {
                area = 667;
            }
            format!(
                "{area:03}-{:02}-{:04}",
                rng.random_range(1..100u32),
                rng.random_range(1..10_000u32)
            )
        }
        PiiKind::DateOfBirth => format!(
            "{}-{:02}-{:02}",
            rng.random_range(1940..2006),
            rng.random_range(1..=12),
            rng.random_range(1..=28)
        ),
        PiiKind::PersonName => format!("{} {}", pick(rng, &FIRST_NAMES), pick(rng, &LAST_NAMES)),
        PiiKind::StreetAddress => format!(
            "{} {} {}",
            rng.random_range(1..10_000),
            pick(rng, &STREETS),
            pick(rng, &STREET_SUFFIXES)
        ),
    }
}

/// A Luhn-valid Visa (16 digits), Mastercard (16) or American Express (15) number, grouped
/// as printed on the card.
fn fake_card(rng: &mut ChaCha8Rng) -> String {
    let (prefix, length) = match rng.random_range(0..3) {
        0 => (String::from("4"), 16),
        1 => (format!("5{}", rng.random_range(1..=5)), 16),
        _ => (
            String::from(if rng.random_bool(0.5) { "34" } else { "37" }),
            15,
        ),
    };
    let mut number: Vec<u8> = prefix.bytes().map(|b| b - b'0').collect();
    while number.len() < length - 1 {
        number.push(rng.random_range(0..10));
    }
    number.push(luhn_check_digit(&number));
    let text: String = number.iter().map(|d| char::from(b'0' + d)).collect();
    let groups: &[usize] = if length == 15 {
        &[4, 6, 5]
    } else {
        &[4, 4, 4, 4]
    };
    let mut parts = Vec::new();
    let mut start = 0;
    for &size in groups {
        parts.push(&text[start..start + size]);
        start += size;
    }
    parts.join(" ")
}

/// The digit that makes `payload` followed by it pass the Luhn check.
fn luhn_check_digit(payload: &[u8]) -> u8 {
    let mut sum = 0u32;
    for (i, &d) in payload.iter().rev().enumerate() {
        let mut value = u32::from(d);
        if i % 2 == 0 {
            value *= 2;
            if value > 9 {
                value -= 9;
            }
        }
        sum += value;
    }
    ((10 - sum % 10) % 10) as u8
}

/// A checksum-valid IBAN of Germany, the Netherlands, the United Kingdom or France.
fn fake_iban(rng: &mut ChaCha8Rng) -> String {
    let bban = match rng.random_range(0..4) {
        0 => ("DE", digits(rng, 18)),
        1 => (
            "NL",
            format!(
                "{}{}",
                pick(rng, &["ABNA", "INGB", "RABO"]),
                digits(rng, 10)
            ),
        ),
        2 => (
            "GB",
            format!(
                "{}{}",
                pick(rng, &["NWBK", "BARC", "LOYD"]),
                digits(rng, 14)
            ),
        ),
        _ => ("FR", digits(rng, 23)),
    };
    let (country, account) = bban;
    let remainder = iban_remainder(&format!("{country}00{account}")).unwrap_or(0);
    format!("{country}{:02}{account}", 98 - remainder)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pii::checks;

    #[test]
    fn check_digits_make_valid_numbers() {
        assert_eq!(
            luhn_check_digit(&[4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]),
            1
        );
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..200 {
            assert_eq!(checks::credit_card(&fake_card(&mut rng)), 1.0);
            assert_eq!(checks::iban(&fake_iban(&mut rng)), 1.0);
        }
    }
}
