//! Personal-data kinds, findings and policies.

use super::{decode_enum, proto, unspecified};
use crate::error::CoreError;
use crate::pii::{PiiFinding, PiiKind, PiiPolicy};

impl From<PiiKind> for proto::PiiKind {
    fn from(kind: PiiKind) -> Self {
        match kind {
            PiiKind::Email => proto::PiiKind::Email,
            PiiKind::Phone => proto::PiiKind::Phone,
            PiiKind::CreditCard => proto::PiiKind::CreditCard,
            PiiKind::Iban => proto::PiiKind::Iban,
            PiiKind::Ipv4 => proto::PiiKind::Ipv4,
            PiiKind::Ipv6 => proto::PiiKind::Ipv6,
            PiiKind::Ssn => proto::PiiKind::Ssn,
            PiiKind::DateOfBirth => proto::PiiKind::DateOfBirth,
            PiiKind::PersonName => proto::PiiKind::PersonName,
            PiiKind::StreetAddress => proto::PiiKind::StreetAddress,
        }
    }
}

impl TryFrom<proto::PiiKind> for PiiKind {
    type Error = CoreError;

    fn try_from(kind: proto::PiiKind) -> Result<Self, Self::Error> {
        Ok(match kind {
            proto::PiiKind::Unspecified => {
                return Err(unspecified::<proto::PiiKind>(kind.as_str_name()));
            }
            proto::PiiKind::Email => PiiKind::Email,
            proto::PiiKind::Phone => PiiKind::Phone,
            proto::PiiKind::CreditCard => PiiKind::CreditCard,
            proto::PiiKind::Iban => PiiKind::Iban,
            proto::PiiKind::Ipv4 => PiiKind::Ipv4,
            proto::PiiKind::Ipv6 => PiiKind::Ipv6,
            proto::PiiKind::Ssn => PiiKind::Ssn,
            proto::PiiKind::DateOfBirth => PiiKind::DateOfBirth,
            proto::PiiKind::PersonName => PiiKind::PersonName,
            proto::PiiKind::StreetAddress => PiiKind::StreetAddress,
        })
    }
}

impl From<PiiPolicy> for proto::PiiPolicy {
    fn from(policy: PiiPolicy) -> Self {
        match policy {
            PiiPolicy::Exclude => proto::PiiPolicy::Exclude,
            PiiPolicy::Keep => proto::PiiPolicy::Keep,
            PiiPolicy::Fake => proto::PiiPolicy::Fake,
        }
    }
}

impl TryFrom<proto::PiiPolicy> for PiiPolicy {
    type Error = CoreError;

    /// Unspecified means the default policy, as an absent policy does in the domain types.
    fn try_from(policy: proto::PiiPolicy) -> Result<Self, Self::Error> {
        Ok(match policy {
            proto::PiiPolicy::Unspecified => PiiPolicy::default(),
            proto::PiiPolicy::Exclude => PiiPolicy::Exclude,
            proto::PiiPolicy::Keep => PiiPolicy::Keep,
            proto::PiiPolicy::Fake => PiiPolicy::Fake,
        })
    }
}

impl From<PiiFinding> for proto::PiiFinding {
    fn from(finding: PiiFinding) -> Self {
        proto::PiiFinding {
            kind: proto::PiiKind::from(finding.kind) as i32,
            confidence: finding.confidence,
            match_share: finding.match_share,
        }
    }
}

impl TryFrom<proto::PiiFinding> for PiiFinding {
    type Error = CoreError;

    fn try_from(finding: proto::PiiFinding) -> Result<Self, Self::Error> {
        Ok(PiiFinding {
            kind: decode_enum::<proto::PiiKind, _>(finding.kind, "kind")?,
            confidence: finding.confidence,
            match_share: finding.match_share,
        })
    }
}
