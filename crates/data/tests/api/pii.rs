//! Each detector, positive and negative, and fake values that pass the detectors.

use mirage_core::{PiiKind, PiiPolicy};
use mirage_data::pii::checks::{iban_remainder, luhn_valid};
use mirage_data::pii::{FLAG_THRESHOLD, detect_values};
use mirage_data::{ProfileOptions, ReadOptions, fake_values, profile_table, read_table};

use crate::{file, scratch};

/// The kind flagged for a column named `name` holding `values`, if any.
fn flagged(name: &str, values: &[&str]) -> Option<PiiKind> {
    detect_values(name, values)
        .into_iter()
        .find(|f| f.confidence >= FLAG_THRESHOLD)
        .map(|f| f.kind)
}

fn strings(values: &[String]) -> Vec<&str> {
    values.iter().map(String::as_str).collect()
}

#[test]
fn emails() {
    assert_eq!(
        flagged(
            "contact",
            &["ann@example.com", "bob.smith@mail.example.org"]
        ),
        Some(PiiKind::Email)
    );
    assert_eq!(
        flagged("contact", &["ann at example", "@handle", "x@y"]),
        None
    );
}

#[test]
fn phone_numbers() {
    let international = ["+1 415 555 2671", "+44 20 7946 0958", "+33 6 12 34 56 78"];
    assert_eq!(flagged("contact", &international), Some(PiiKind::Phone));
    let national = ["(415) 555-2671", "020 7946 0958", "555-123-4567"];
    assert_eq!(flagged("contact", &national), Some(PiiKind::Phone));
    // Bare digit runs need the column's name to say what they are.
    let bare = ["4155552671", "2079460958", "5551234567"];
    assert_eq!(flagged("reference", &bare), None);
    assert_eq!(flagged("mobile", &bare), Some(PiiKind::Phone));
    assert_eq!(
        flagged("contact", &["2020-01-15", "12", "3.14159265"]),
        None
    );
}

#[test]
fn credit_cards_must_pass_luhn() {
    let valid = [
        "4111 1111 1111 1111",
        "5500-0000-0000-0004",
        "378282246310005",
    ];
    assert_eq!(flagged("payment", &valid), Some(PiiKind::CreditCard));
    let invalid = [
        "4111 1111 1111 1112",
        "5500-0000-0000-0005",
        "378282246310006",
    ];
    assert_eq!(flagged("payment", &invalid), None);
}

#[test]
fn ibans_must_pass_mod_97() {
    let valid = [
        "DE89 3704 0044 0532 0130 00",
        "GB82 WEST 1234 5698 7654 32",
        "NL91ABNA0417164300",
    ];
    assert_eq!(flagged("account", &valid), Some(PiiKind::Iban));
    let bad_checksum = [
        "DE88 3704 0044 0532 0130 00",
        "GB83 WEST 1234 5698 7654 32",
        "NL92ABNA0417164300",
    ];
    assert_eq!(flagged("account", &bad_checksum), None);
}

#[test]
fn ip_addresses() {
    assert_eq!(
        flagged("client", &["192.168.0.1", "8.8.8.8", "10.1.2.3"]),
        Some(PiiKind::Ipv4)
    );
    assert_eq!(flagged("client", &["300.1.1.1", "1.2.3", "a.b.c.d"]), None);
    assert_eq!(
        flagged(
            "client",
            &["2001:db8::1", "fe80::1ff:fe23:4567:890a", "::1"]
        ),
        Some(PiiKind::Ipv6)
    );
    assert_eq!(flagged("client", &["12:30", "2001:db8:::1", "g::1"]), None);
}

#[test]
fn social_security_numbers() {
    assert_eq!(
        flagged("id_number", &["123-45-6789", "078-05-1120", "219-09-9999"]),
        Some(PiiKind::Ssn)
    );
    assert_eq!(
        flagged("id_number", &["000-12-3456", "666-12-3456", "912-34-5678"]),
        None
    );
}

#[test]
fn dates_of_birth_need_a_birth_name() {
    let dates = ["1980-05-01", "1975-12-31", "2001-07-04"];
    assert_eq!(flagged("birth_date", &dates), Some(PiiKind::DateOfBirth));
    assert_eq!(flagged("DOB", &dates), Some(PiiKind::DateOfBirth));
    assert_eq!(flagged("order_date", &dates), None);
    assert_eq!(flagged("dob", &["1850-01-01", "2300-01-01"]), None);
}

#[test]
fn person_names_need_a_name_hint() {
    let names = ["Ada Lovelace", "Alan Turing", "Grace Brewster Hopper"];
    assert_eq!(flagged("full_name", &names), Some(PiiKind::PersonName));
    assert_eq!(
        flagged("lastName", &["Lovelace", "Turing", "Hopper"]),
        Some(PiiKind::PersonName)
    );
    assert_eq!(flagged("race", &["White", "Black", "Other"]), None);
    assert_eq!(flagged("product_name", &names), None);
    assert_eq!(
        flagged("name", &["ada lovelace", "x1", "42 things to do today"]),
        None
    );
}

#[test]
fn street_addresses() {
    let addresses = [
        "123 Main St",
        "742 Evergreen Terrace",
        "1600 Pennsylvania Avenue NW",
    ];
    assert_eq!(flagged("address", &addresses), Some(PiiKind::StreetAddress));
    assert_eq!(
        flagged("location", &addresses),
        Some(PiiKind::StreetAddress)
    );
    assert_eq!(
        flagged("address", &["Main Street", "near the station", "42"]),
        None
    );
}

#[test]
fn findings_are_sorted_and_bounded() {
    let findings = detect_values(
        "contact",
        &["ann@example.com", "+1 415 555 2671", "nothing"],
    );
    assert!(findings.len() >= 2);
    for pair in findings.windows(2) {
        assert!(pair[0].confidence >= pair[1].confidence);
    }
    for finding in &findings {
        assert!((0.0..=1.0).contains(&finding.confidence));
        assert!((0.0..=1.0).contains(&finding.match_share));
    }
}

#[test]
fn fake_values_pass_their_own_detectors() {
    for kind in mirage_core::PiiKind::ALL {
        let values = fake_values(kind, 300, 42);
        assert_eq!(values.len(), 300);
        let column = match kind {
            PiiKind::DateOfBirth => "date_of_birth",
            PiiKind::PersonName => "name",
            PiiKind::StreetAddress => "address",
            _ => "value",
        };
        let findings = detect_values(column, &strings(&values));
        let top = findings
            .first()
            .unwrap_or_else(|| panic!("{kind:?}: nothing found"));
        assert_eq!(top.kind, kind, "{kind:?}: {findings:?}");
        assert_eq!(top.match_share, 1.0, "{kind:?}");
        let distinct: std::collections::HashSet<&String> = values.iter().collect();
        assert!(
            distinct.len() > 50,
            "{kind:?} has only {} distinct values",
            distinct.len()
        );
    }
}

#[test]
fn fake_cards_and_ibans_carry_valid_checksums() {
    for card in fake_values(PiiKind::CreditCard, 500, 3) {
        let digits: Vec<u8> = card
            .bytes()
            .filter(u8::is_ascii_digit)
            .map(|b| b - b'0')
            .collect();
        assert!(luhn_valid(&digits), "{card}");
    }
    for iban in fake_values(PiiKind::Iban, 500, 3) {
        assert_eq!(iban_remainder(&iban), Some(1), "{iban}");
    }
}

#[test]
fn fake_values_are_deterministic_per_seed() {
    for kind in PiiKind::ALL {
        assert_eq!(
            fake_values(kind, 20, 9),
            fake_values(kind, 20, 9),
            "{kind:?}"
        );
        assert_ne!(
            fake_values(kind, 20, 9),
            fake_values(kind, 20, 10),
            "{kind:?}"
        );
    }
}

#[test]
fn read_table_flags_pii_columns_and_profiles_list_findings() {
    let dir = scratch();
    let mut content = String::from("customer_id,email,card,visits\n");
    let emails = fake_values(PiiKind::Email, 40, 1);
    let cards = fake_values(PiiKind::CreditCard, 40, 2);
    for i in 0..40 {
        content.push_str(&format!("{i},{},{},{}\n", emails[i], cards[i], i % 5));
    }
    let path = file(&dir, "customers.csv", content);
    let table = read_table(&path, &ReadOptions::default()).expect("reads");
    let column = |name: &str| table.schema().require(name).expect("column").clone();
    assert_eq!(column("email").pii.map(|f| f.kind), Some(PiiKind::Email));
    assert_eq!(
        column("card").pii.map(|f| f.kind),
        Some(PiiKind::CreditCard)
    );
    assert_eq!(column("card").pii_policy, PiiPolicy::Exclude);
    assert_eq!(column("visits").pii, None);
    assert_eq!(column("customer_id").pii, None);
    let profile = profile_table(&table, &ProfileOptions::default()).expect("profiles");
    let findings = &profile.column("email").expect("email").pii;
    assert_eq!(findings[0].kind, PiiKind::Email);
    assert!(profile.column("visits").expect("visits").pii.is_empty());
    let quiet = ReadOptions {
        detect_pii: false,
        ..ReadOptions::default()
    };
    let table = read_table(&path, &quiet).expect("reads");
    assert!(table.schema().columns.iter().all(|c| c.pii.is_none()));
}
