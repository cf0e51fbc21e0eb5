//! API keys: `mk_` followed by 64 hex digits (32 random bytes), known to the cluster only by
//! their SHA-256 ([`hash_api_key`]) and looked up in this node's replica.

use mirage_actors::{ApiKey, hash_api_key};
use tonic::Status;

use crate::cluster::ClusterNode;
use crate::gateway::Gateway;

/// What every API key starts with, so a key is recognizable (and a secret scanner can find
/// a leaked one).
pub const API_KEY_PREFIX: &str = "mk_";

/// A new random API key: `mk_` + 32 random bytes in hex.
pub fn generate_api_key() -> String {
    use rand::Rng;
    let bytes: [u8; 32] = rand::rng().random();
    let mut key = String::with_capacity(API_KEY_PREFIX.len() + 64);
    key.push_str(API_KEY_PREFIX);
    for byte in bytes {
        key.push_str(&format!("{byte:02x}"));
    }
    key
}

/// Whether `text` has the shape of an API key (it may still be unknown).
pub fn looks_like_api_key(text: &str) -> bool {
    text.strip_prefix(API_KEY_PREFIX)
        .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// How a key appears in logs and audit records: its label and the start of its hash.
pub fn key_subject(key: &ApiKey) -> String {
    let prefix = key.key_hash.get(..8).unwrap_or(&key.key_hash);
    format!("key {} ({prefix})", key.label)
}

/// Where API keys are looked up: the gateway's replica in a node, a map in tests.
pub trait KeyLookup: Send + Sync {
    /// The key `key` (as the client presented it), if it exists and is not revoked.
    fn lookup(&self, key: &str) -> Result<Option<ApiKey>, Status>;
}

impl<F> KeyLookup for F
where
    F: Fn(&str) -> Option<ApiKey> + Send + Sync,
{
    fn lookup(&self, key: &str) -> Result<Option<ApiKey>, Status> {
        Ok(self(key))
    }
}

impl KeyLookup for Gateway {
    fn lookup(&self, key: &str) -> Result<Option<ApiKey>, Status> {
        self.read(|state| state.authenticate(key).cloned())
    }
}

impl KeyLookup for ClusterNode {
    fn lookup(&self, key: &str) -> Result<Option<ApiKey>, Status> {
        self.read_local(|machine| machine.state().authenticate(key).cloned())
            .map_err(|error| {
                crate::gateway::status::error(
                    mirage_proto::v1::ErrorCode::Unavailable,
                    format!("this node cannot check API keys now, retry on another node: {error}"),
                )
            })
    }
}

/// A lookup over a fixed set of `(key, record)` pairs, for tests and tools.
pub fn fixed_keys(keys: Vec<(String, ApiKey)>) -> impl KeyLookup {
    let by_hash: std::collections::HashMap<String, ApiKey> = keys
        .into_iter()
        .map(|(key, record)| (hash_api_key(&key), record))
        .collect();
    move |key: &str| by_hash.get(&hash_api_key(key)).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_recognizable_and_distinct() {
        let first = generate_api_key();
        let second = generate_api_key();
        assert_ne!(first, second);
        assert_eq!(first.len(), 3 + 64);
        assert!(looks_like_api_key(&first), "{first}");
        assert!(!looks_like_api_key("mk_"));
        assert!(!looks_like_api_key("eyJ.a.b"));
        assert!(!looks_like_api_key("mk_a b"));
    }

    #[test]
    fn a_subject_names_the_label_and_hash_prefix() {
        let key = ApiKey {
            key_hash: hash_api_key("mk_1"),
            tenant: mirage_core::TenantId::from_uuid(uuid::Uuid::nil()),
            label: "ci".into(),
            role: mirage_actors::Role::Operator,
            created_at_ms: 0,
        };
        let subject = key_subject(&key);
        assert_eq!(subject, format!("key ci ({})", &key.key_hash[..8]));
    }
}
