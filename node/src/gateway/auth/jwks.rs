//! [`JwksCache`]: an OIDC provider's public keys (JWKS), read from a file or URL, cached,
//! re-read periodically and when a token names a key id (`kid`) not seen yet — providers
//! rotate keys by publishing the new one before signing with it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey};

/// How long one JWKS download may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the keys are published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// A local file.
    File(PathBuf),
    /// An `http(s)://` URL.
    Url(String),
}

impl std::fmt::Display for JwksSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JwksSource::File(path) => write!(f, "{}", path.display()),
            JwksSource::Url(url) => f.write_str(url),
        }
    }
}

/// One published key.
#[derive(Clone)]
pub struct VerifyingKey {
    /// The key.
    pub key: Arc<DecodingKey>,
    /// The algorithm the JWKS pins it to, if any.
    pub algorithm: Option<Algorithm>,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// Why no key was found for a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    /// The keys were read (or recently tried) and none has this id.
    #[error("no key with id {kid:?} is published at {origin}")]
    UnknownKid {
        /// The token's key id.
        kid: String,
        /// Where the keys come from.
        origin: String,
    },
    /// The keys have never been read successfully.
    #[error("the keys at {origin} cannot be read: {reason}")]
    Unavailable {
        /// Where the keys come from.
        origin: String,
        /// Why.
        reason: String,
    },
}

#[derive(Default)]
struct Keys {
    by_kid: HashMap<String, VerifyingKey>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
    last_error: Option<String>,
}

/// The cached keys of one provider.
pub struct JwksCache {
    source: JwksSource,
    refresh: Duration,
    min_refetch: Duration,
    keys: tokio::sync::Mutex<Keys>,
    fetches: AtomicU64,
    http: reqwest::Client,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache")
            .field("source", &self.source)
            .field("refresh", &self.refresh)
            .field("min_refetch", &self.min_refetch)
            .finish_non_exhaustive()
    }
}

impl JwksCache {
    /// A cache of `source`, re-read every `refresh` and on an unknown key id at most once
    /// per `min_refetch`. Nothing is read until the first token arrives.
    pub fn new(source: JwksSource, refresh: Duration, min_refetch: Duration) -> Self {
        Self {
            source,
            refresh,
            min_refetch,
            keys: tokio::sync::Mutex::new(Keys::default()),
            fetches: AtomicU64::new(0),
            http: reqwest::Client::new(),
        }
    }

    /// How many times the keys were read (successfully or not).
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Where the keys come from.
    pub fn source(&self) -> &JwksSource {
        &self.source
    }

    /// The key `kid` at `now`, reading the keys first when they are stale or do not hold it
    /// (each at most once per `min_refetch`).
    pub async fn key(&self, kid: &str, now: Instant) -> Result<VerifyingKey, JwksError> {
        // One lock for lookup and reload: concurrent requests with a new kid wait for one
        // download instead of each starting their own.
        let mut keys = self.keys.lock().await;
        let stale = keys
            .fetched_at
            .is_none_or(|at| now.saturating_duration_since(at) >= self.refresh);
        if stale && self.may_fetch(&keys, now) {
            self.reload(&mut keys, now).await;
        }
        if let Some(key) = keys.by_kid.get(kid) {
            return Ok(key.clone());
        }
        if self.may_fetch(&keys, now) {
            tracing::info!(kid, source = %self.source, "unknown key id: re-reading the provider's keys");
            self.reload(&mut keys, now).await;
            if let Some(key) = keys.by_kid.get(kid) {
                return Ok(key.clone());
            }
        }
        match (&keys.fetched_at, &keys.last_error) {
            (None, Some(reason)) => Err(JwksError::Unavailable {
                origin: self.source.to_string(),
                reason: reason.clone(),
            }),
            _ => Err(JwksError::UnknownKid {
                kid: kid.to_owned(),
                origin: self.source.to_string(),
            }),
        }
    }

    fn may_fetch(&self, keys: &Keys, now: Instant) -> bool {
        keys.last_attempt
            .is_none_or(|at| now.saturating_duration_since(at) >= self.min_refetch)
    }

    async fn reload(&self, keys: &mut Keys, now: Instant) {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        keys.last_attempt = Some(now);
        match self.fetch().await.and_then(|text| parse(&text)) {
            Ok(by_kid) => {
                tracing::debug!(source = %self.source, keys = by_kid.len(), "read the provider's keys");
                keys.by_kid = by_kid;
                keys.fetched_at = Some(now);
                keys.last_error = None;
            }
            Err(reason) => {
                // Keep the keys we had: a provider's hiccup must not lock everyone out.
                tracing::warn!(source = %self.source, %reason, "cannot read the provider's keys");
                keys.last_error = Some(reason);
            }
        }
    }

    async fn fetch(&self) -> Result<String, String> {
        match &self.source {
            JwksSource::File(path) => tokio::fs::read_to_string(path)
                .await
                .map_err(|error| format!("cannot read the file: {error}")),
            JwksSource::Url(url) => {
                let response = self
                    .http
                    .get(url)
                    .timeout(FETCH_TIMEOUT)
                    .send()
                    .await
                    .and_then(reqwest::Response::error_for_status)
                    .map_err(|error| format!("cannot download it: {error}"))?;
                response
                    .text()
                    .await
                    .map_err(|error| format!("cannot download it: {error}"))
            }
        }
    }
}

/// The keys of a JWKS document that carry an id and an algorithm this build supports.
fn parse(text: &str) -> Result<HashMap<String, VerifyingKey>, String> {
    let set: JwkSet = serde_json::from_str(text)
        .map_err(|error| format!("it is not a JWKS document: {error}"))?;
    let mut by_kid = HashMap::new();
    for jwk in &set.keys {
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        match DecodingKey::from_jwk(jwk) {
            Ok(key) => {
                let algorithm = jwk
                    .common
                    .key_algorithm
                    .and_then(|alg| Algorithm::from_str(&alg.to_string()).ok());
                by_kid.insert(
                    kid,
                    VerifyingKey {
                        key: Arc::new(key),
                        algorithm,
                    },
                );
            }
            Err(error) => tracing::debug!(kid, %error, "skipping an unusable key"),
        }
    }
    if by_kid.is_empty() {
        return Err("it holds no usable key with a key id (kid)".into());
    }
    Ok(by_kid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_without_usable_keys_are_refused() {
        assert!(parse("nonsense").expect_err("not json").contains("JWKS"));
        assert!(parse(r#"{"keys": []}"#).expect_err("empty").contains("kid"));
        let fixture = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/auth/jwks.json"
        ))
        .expect("fixture");
        let keys = parse(&fixture).expect("parses");
        assert_eq!(keys.len(), 2);
        assert_eq!(keys["rsa-a"].algorithm, Some(Algorithm::RS256));
        assert_eq!(keys["ec-a"].algorithm, Some(Algorithm::ES256));
    }

    #[tokio::test]
    async fn an_unreadable_source_is_reported_and_retried_only_after_the_interval() {
        let cache = JwksCache::new(
            JwksSource::File("/nonexistent/jwks.json".into()),
            Duration::from_secs(3600),
            Duration::from_secs(30),
        );
        let now = Instant::now();
        let error = cache.key("a", now).await.err().expect("unavailable");
        assert!(matches!(error, JwksError::Unavailable { .. }), "{error}");
        assert_eq!(cache.fetches(), 1);
        let _ = cache.key("a", now + Duration::from_secs(1)).await;
        assert_eq!(cache.fetches(), 1, "no second read within the interval");
        let _ = cache.key("a", now + Duration::from_secs(31)).await;
        assert_eq!(cache.fetches(), 2);
    }
}
