//! Personal data found in a column, and what to do about it.

use serde::{Deserialize, Serialize};

/// A kind of personal data Mirage recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    /// E-mail addresses.
    Email,
    /// Telephone numbers.
    Phone,
    /// Payment card numbers (Luhn-valid).
    CreditCard,
    /// International bank account numbers (checksum-valid).
    Iban,
    /// IPv4 addresses.
    Ipv4,
    /// IPv6 addresses.
    Ipv6,
    /// US social security numbers and look-alike national ids.
    Ssn,
    /// Dates of birth.
    DateOfBirth,
    /// People's names.
    PersonName,
    /// Street addresses.
    StreetAddress,
}

impl PiiKind {
    /// Every kind, in a stable order.
    pub const ALL: [PiiKind; 10] = [
        PiiKind::Email,
        PiiKind::Phone,
        PiiKind::CreditCard,
        PiiKind::Iban,
        PiiKind::Ipv4,
        PiiKind::Ipv6,
        PiiKind::Ssn,
        PiiKind::DateOfBirth,
        PiiKind::PersonName,
        PiiKind::StreetAddress,
    ];

    /// Human-readable name.
    pub fn label(self) -> &'static str {
        match self {
            PiiKind::Email => "e-mail",
            PiiKind::Phone => "phone number",
            PiiKind::CreditCard => "credit card",
            PiiKind::Iban => "IBAN",
            PiiKind::Ipv4 => "IPv4 address",
            PiiKind::Ipv6 => "IPv6 address",
            PiiKind::Ssn => "SSN",
            PiiKind::DateOfBirth => "date of birth",
            PiiKind::PersonName => "person name",
            PiiKind::StreetAddress => "street address",
        }
    }
}

impl std::fmt::Display for PiiKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// One detector's verdict on one column.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PiiFinding {
    /// What was found.
    pub kind: PiiKind,
    /// How sure the detector is, in [0, 1].
    pub confidence: f64,
    /// Share of the examined non-null values that match the kind's pattern, in [0, 1].
    pub match_share: f64,
}

/// What happens to a column flagged as personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiPolicy {
    /// Left out of modelling and of the output (the default).
    #[default]
    Exclude,
    /// Modelled like any other column (the user accepts the risk).
    Keep,
    /// Left out of modelling; the output gets realistic fake values of the same kind.
    Fake,
}
