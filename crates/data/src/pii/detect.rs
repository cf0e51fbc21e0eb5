//! The detectors: for each kind of personal data, a per-value test and the column names
//! that hint at it, combined into a confidence per column.

use chrono::{Datelike, Utc};
use mirage_core::{PiiFinding, PiiKind};

use crate::datetime::{DatetimeFormat, could_be_datetime};
use crate::infer::name_words;
use crate::pii::checks::{self, Score};

/// Confidence at which a column is flagged as personal data.
pub const FLAG_THRESHOLD: f64 = 0.5;

/// Below this share of matching values a name hint adds nothing.
const HINT_MIN_SHARE: f64 = 0.1;

/// Words in a column name that make a "name" hint about something other than people.
const NOT_PERSON: [&str; 30] = [
    "file",
    "product",
    "company",
    "host",
    "domain",
    "user",
    "username",
    "brand",
    "item",
    "city",
    "country",
    "street",
    "table",
    "column",
    "model",
    "category",
    "project",
    "org",
    "organization",
    "business",
    "app",
    "device",
    "event",
    "path",
    "dataset",
    "team",
    "group",
    "state",
    "region",
    "job",
];

/// One detector: its kind, its per-value test, the name words that hint at it, and how far
/// values alone may push the confidence without a hint.
struct Detector {
    kind: PiiKind,
    test: fn(&str) -> Score,
    hints: &'static [&'static str],
    weight_without_hint: f64,
}

const DETECTORS: [Detector; 10] = [
    Detector {
        kind: PiiKind::Email,
        test: checks::email,
        hints: &["email", "mail", "emailaddress"],
        weight_without_hint: 1.0,
    },
    Detector {
        kind: PiiKind::Phone,
        test: checks::phone,
        hints: &[
            "phone",
            "telephone",
            "tel",
            "mobile",
            "cell",
            "cellphone",
            "fax",
            "msisdn",
            "phonenumber",
        ],
        weight_without_hint: 0.9,
    },
    Detector {
        kind: PiiKind::CreditCard,
        test: checks::credit_card,
        hints: &["card", "cc", "ccn", "pan", "creditcard", "cardnumber"],
        weight_without_hint: 1.0,
    },
    Detector {
        kind: PiiKind::Iban,
        test: checks::iban,
        hints: &["iban", "bban", "bankaccount"],
        weight_without_hint: 1.0,
    },
    Detector {
        kind: PiiKind::Ipv4,
        test: checks::ipv4,
        hints: &["ip", "ipv4", "ipaddress", "ipaddr"],
        weight_without_hint: 0.95,
    },
    Detector {
        kind: PiiKind::Ipv6,
        test: checks::ipv6,
        hints: &["ip", "ipv6", "ipaddress", "ipaddr"],
        weight_without_hint: 1.0,
    },
    Detector {
        kind: PiiKind::Ssn,
        test: checks::ssn,
        hints: &[
            "ssn",
            "social",
            "socialsecurity",
            "sin",
            "nin",
            "nationalid",
        ],
        weight_without_hint: 0.9,
    },
    Detector {
        kind: PiiKind::DateOfBirth,
        test: date_of_birth,
        hints: &[
            "dob",
            "birth",
            "birthday",
            "birthdate",
            "born",
            "dateofbirth",
        ],
        weight_without_hint: 0.0,
    },
    Detector {
        kind: PiiKind::PersonName,
        test: checks::person_name,
        hints: &[
            "name",
            "surname",
            "firstname",
            "lastname",
            "fullname",
            "forename",
            "givenname",
            "familyname",
        ],
        weight_without_hint: 0.4,
    },
    Detector {
        kind: PiiKind::StreetAddress,
        test: checks::street_address,
        hints: &[
            "address",
            "street",
            "addr",
            "addressline",
            "line1",
            "line2",
            "streetaddress",
        ],
        weight_without_hint: 0.7,
    },
];

/// Whether the column name hints at `detector`'s kind: a word of the name, or two adjacent
/// words run together (`first_name` → `firstname`), is one of its hint words.
fn name_hints(detector: &Detector, words: &[String]) -> bool {
    let hinted = words.iter().any(|w| detector.hints.contains(&w.as_str()))
        || words.windows(2).any(|pair| {
            detector
                .hints
                .contains(&format!("{}{}", pair[0], pair[1]).as_str())
        });
    if !hinted {
        return false;
    }
    match detector.kind {
        PiiKind::PersonName => !words.iter().any(|w| NOT_PERSON.contains(&w.as_str())),
        PiiKind::StreetAddress => !words
            .iter()
            .any(|w| matches!(w.as_str(), "ip" | "email" | "mail" | "mac" | "web")),
        _ => true,
    }
}

/// A date between 1900 and today, in one of the inferred datetime formats.
fn date_of_birth(text: &str) -> Score {
    thread_local! {
        static FORMATS: Vec<DatetimeFormat> = crate::datetime::inferred_formats();
    }
    if !could_be_datetime(text) {
        return 0.0;
    }
    let now = Utc::now();
    let plausible = FORMATS.with(|formats| {
        formats.iter().any(|format| {
            format.parse(text).is_some_and(|millis| {
                chrono::DateTime::from_timestamp_millis(millis)
                    .is_some_and(|t| t.year() >= 1900 && t <= now)
            })
        })
    });
    if plausible { 1.0 } else { 0.0 }
}

/// Findings for a column named `name` holding `values` (non-null, as text), strongest
/// first; kinds with no matching value are left out.
pub fn detect_values(name: &str, values: &[&str]) -> Vec<PiiFinding> {
    if values.is_empty() {
        return Vec::new();
    }
    let words = name_words(name);
    let total = values.len() as f64;
    let mut findings = Vec::new();
    for detector in &DETECTORS {
        let mut matched = 0usize;
        let mut score_sum = 0.0;
        for value in values {
            let score = (detector.test)(value.trim());
            if score > 0.0 {
                matched += 1;
                score_sum += score;
            }
        }
        if matched == 0 {
            continue;
        }
        let match_share = matched as f64 / total;
        let from_values = detector.weight_without_hint * score_sum / total;
        let from_hint = if name_hints(detector, &words) && match_share >= HINT_MIN_SHARE {
            0.3 + 0.7 * match_share
        } else {
            0.0
        };
        let confidence = from_values.max(from_hint).clamp(0.0, 1.0);
        if confidence > 0.0 {
            findings.push(PiiFinding {
                kind: detector.kind,
                confidence,
                match_share,
            });
        }
    }
    findings.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then(a.kind.cmp(&b.kind))
    });
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strongest(name: &str, values: &[&str]) -> Option<PiiFinding> {
        detect_values(name, values)
            .into_iter()
            .find(|f| f.confidence >= FLAG_THRESHOLD)
    }

    #[test]
    fn hints_follow_name_words() {
        let words = name_words("customer_first_name");
        let person = &DETECTORS[8];
        assert!(name_hints(person, &words));
        assert!(!name_hints(person, &name_words("product_name")));
        assert!(name_hints(&DETECTORS[9], &name_words("home_address")));
        assert!(!name_hints(&DETECTORS[9], &name_words("ip_address")));
    }

    #[test]
    fn labels_that_look_like_names_need_a_name_hint() {
        let races = ["White", "Black", "Asian-Pac-Islander", "White", "Other"];
        assert_eq!(strongest("race", &races), None);
        let people = ["Ada Lovelace", "Alan Turing", "Grace Hopper"];
        assert_eq!(
            strongest("full_name", &people).map(|f| f.kind),
            Some(PiiKind::PersonName)
        );
    }

    #[test]
    fn dates_are_births_only_under_a_birth_name() {
        let dates = ["1980-05-01", "1975-12-31", "2001-07-04"];
        assert_eq!(strongest("signup", &dates), None);
        assert_eq!(
            strongest("date_of_birth", &dates).map(|f| f.kind),
            Some(PiiKind::DateOfBirth)
        );
        assert_eq!(strongest("dob", &["2150-01-01", "2160-01-01"]), None);
    }

    #[test]
    fn confidence_grows_with_the_share_of_matches() {
        let mixed = ["a@example.com", "b@example.com", "nope", "nope"];
        let finding = detect_values("contact", &mixed)[0];
        assert_eq!(finding.kind, PiiKind::Email);
        assert!((finding.match_share - 0.5).abs() < 1e-12);
        assert!((finding.confidence - 0.5).abs() < 1e-12);
        let hinted = detect_values("email", &mixed)[0];
        assert!(hinted.confidence > finding.confidence);
    }
}
