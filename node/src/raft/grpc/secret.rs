//! [`ClusterSecret`]: the shared secret that admits a caller to a node's Raft service.

use std::fmt;

use tonic::metadata::{AsciiMetadataValue, MetadataMap};

use super::{CLUSTER_SECRET_HEADER, RaftGrpcError};

/// The secret shared by the members of one cluster. Its `Debug` output never shows it.
#[derive(Clone)]
pub struct ClusterSecret {
    header: AsciiMetadataValue,
}

impl fmt::Debug for ClusterSecret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("ClusterSecret(<redacted>)")
    }
}

impl ClusterSecret {
    /// Checks that `secret` can travel in a gRPC header (non-empty, visible ASCII).
    pub fn new(secret: &str) -> Result<Self, RaftGrpcError> {
        if secret.is_empty() {
            return Err(RaftGrpcError::InvalidSecret {
                reason: "it is empty",
            });
        }
        if !secret.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err(RaftGrpcError::InvalidSecret {
                reason: "it holds spaces, control or non-ASCII characters",
            });
        }
        let mut header =
            AsciiMetadataValue::try_from(secret).map_err(|_| RaftGrpcError::InvalidSecret {
                reason: "it is not a valid header value",
            })?;
        // Keeps the value out of HTTP/2 header compression tables.
        header.set_sensitive(true);
        Ok(Self { header })
    }

    /// Adds the secret to an outgoing request's metadata.
    pub(super) fn attach(&self, metadata: &mut MetadataMap) {
        metadata.insert(CLUSTER_SECRET_HEADER, self.header.clone());
    }

    /// Whether an incoming request's metadata carries this secret.
    pub(super) fn admits(&self, metadata: &MetadataMap) -> bool {
        metadata
            .get(CLUSTER_SECRET_HEADER)
            .is_some_and(|presented| self.matches(presented.as_bytes()))
    }

    /// Whether `presented` (a header's value) is this secret, compared in constant time:
    /// the public API's authentication accepts the secret too.
    pub(crate) fn matches(&self, presented: &[u8]) -> bool {
        constant_time_eq(self.header.as_bytes(), presented)
    }
}

/// Compares `expected` with `presented` in a time that depends only on `expected`'s length,
/// so a caller cannot find the secret byte by byte by timing refusals.
fn constant_time_eq(expected: &[u8], presented: &[u8]) -> bool {
    let mut difference = u8::from(expected.len() != presented.len());
    for (index, &byte) in expected.iter().enumerate() {
        let other = presented.get(index).copied().unwrap_or(!byte);
        difference |= std::hint::black_box(byte ^ other);
    }
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_strings_match_and_any_difference_does_not() {
        assert!(constant_time_eq(b"s3cret", b"s3cret"));
        assert!(!constant_time_eq(b"s3cret", b"s3creT"));
        assert!(!constant_time_eq(b"s3cret", b"s3cre"));
        assert!(!constant_time_eq(b"s3cret", b"s3crett"));
        assert!(!constant_time_eq(b"s3cret", b""));
        assert!(!constant_time_eq(b"a", b"b"));
    }

    #[test]
    fn a_request_is_admitted_only_with_the_same_secret() {
        let secret = ClusterSecret::new("correct-horse").expect("valid secret");
        let mut metadata = MetadataMap::new();
        assert!(!secret.admits(&metadata));
        ClusterSecret::new("wrong-horse")
            .expect("valid secret")
            .attach(&mut metadata);
        assert!(!secret.admits(&metadata));
        secret.attach(&mut metadata);
        assert!(secret.admits(&metadata));
    }

    #[test]
    fn secrets_that_cannot_travel_in_a_header_are_refused() {
        for bad in ["", "two words", "tab\there", "naïve"] {
            assert!(
                matches!(
                    ClusterSecret::new(bad),
                    Err(RaftGrpcError::InvalidSecret { .. })
                ),
                "{bad:?} should be refused"
            );
        }
        assert_eq!(
            format!("{:?}", ClusterSecret::new("hidden").expect("valid secret")),
            "ClusterSecret(<redacted>)"
        );
    }
}
