//! Credentials the CLI sends: `MIRAGE_API_KEY`, else `MIRAGE_CLUSTER_SECRET`.

use tonic::metadata::{AsciiMetadataValue, MetadataMap};

use super::{API_KEY_HEADER, CLUSTER_SECRET_HEADER};

/// The environment variable holding the API key the CLI presents.
pub const API_KEY_VARIABLE: &str = "MIRAGE_API_KEY";

/// Adds the credentials found in the environment to an outgoing request.
pub fn attach_env_credentials(metadata: &mut MetadataMap) {
    attach_credentials(
        metadata,
        std::env::var(API_KEY_VARIABLE).ok(),
        std::env::var(crate::node_cmd::SECRET_VARIABLE).ok(),
    );
}

/// Adds `api_key` (preferred) or the cluster `secret` to `metadata`; values that cannot
/// travel in a header are left out (the server then says what is missing).
pub fn attach_credentials(
    metadata: &mut MetadataMap,
    api_key: Option<String>,
    secret: Option<String>,
) {
    let (header, value) = match (api_key, secret) {
        (Some(key), _) => (API_KEY_HEADER, key),
        (None, Some(secret)) => (CLUSTER_SECRET_HEADER, secret),
        (None, None) => return,
    };
    if let Ok(mut value) = AsciiMetadataValue::try_from(value.trim()) {
        value.set_sensitive(true);
        metadata.insert(header, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_api_key_wins_over_the_secret() {
        let mut metadata = MetadataMap::new();
        attach_credentials(&mut metadata, Some("mk_1".into()), Some("s".into()));
        assert_eq!(
            metadata.get(API_KEY_HEADER).and_then(|v| v.to_str().ok()),
            Some("mk_1")
        );
        assert!(metadata.get(CLUSTER_SECRET_HEADER).is_none());
        let mut metadata = MetadataMap::new();
        attach_credentials(&mut metadata, None, Some("s3cret".into()));
        assert!(metadata.get(CLUSTER_SECRET_HEADER).is_some());
        let mut metadata = MetadataMap::new();
        attach_credentials(&mut metadata, None, None);
        assert!(metadata.is_empty());
    }
}
