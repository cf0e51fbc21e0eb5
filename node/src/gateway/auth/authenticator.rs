//! [`Authenticator`]: turns a request's headers into a [`Caller`], or the
//! `UNAUTHENTICATED` status saying what is wrong.
//!
//! Accepted, in this order: the cluster secret (`x-mirage-cluster-secret`, as admin of the
//! default tenant, so operators' tools keep working), an API key (`x-api-key: mk_…` or
//! `authorization: Bearer mk_…`), an OIDC token (`authorization: Bearer <jwt>`).

use std::sync::Arc;
use std::time::Instant;

use http::HeaderMap;
use mirage_core::TenantId;
use mirage_core::config::AuthConfig;
use tonic::Status;

use super::api_key::{KeyLookup, key_subject, looks_like_api_key};
use super::oidc::OidcVerifier;
use super::unauthenticated;
use crate::gateway::Caller;
use crate::raft::ClusterSecret;

/// The header carrying an API key.
pub const API_KEY_HEADER: &str = "x-api-key";
/// The header carrying the cluster secret (the same one `RaftInternal` checks).
pub const CLUSTER_SECRET_HEADER: &str = "x-mirage-cluster-secret";

/// The tenant the cluster secret and the bootstrap key act for: the nil UUID.
pub fn default_tenant() -> TenantId {
    TenantId::from_uuid(uuid::Uuid::nil())
}

/// Checks credentials.
pub struct Authenticator {
    keys: Arc<dyn KeyLookup>,
    secret: Option<ClusterSecret>,
    oidc: Option<OidcVerifier>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("secret", &self.secret.is_some())
            .field("oidc", &self.oidc)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// Accepts the API keys `keys` finds, the cluster `secret` (when given) and, with
    /// `[auth.oidc]` set, that provider's tokens.
    pub fn new(
        keys: Arc<dyn KeyLookup>,
        secret: Option<ClusterSecret>,
        config: &AuthConfig,
    ) -> Self {
        Self {
            keys,
            secret,
            oidc: config.oidc.as_ref().map(OidcVerifier::new),
        }
    }

    /// The OIDC verifier, when tokens are accepted.
    pub fn oidc(&self) -> Option<&OidcVerifier> {
        self.oidc.as_ref()
    }

    /// The caller `headers` prove to be.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, Status> {
        if let Some(presented) = headers.get(CLUSTER_SECRET_HEADER) {
            return match &self.secret {
                Some(secret) if secret.matches(presented.as_bytes()) => Ok(Caller::cluster()),
                _ => Err(unauthenticated(format!(
                    "the {CLUSTER_SECRET_HEADER} header does not hold this cluster's secret: \
                     use the MIRAGE_CLUSTER_SECRET the nodes share, or an API key"
                ))),
            };
        }
        if let Some(value) = headers.get(API_KEY_HEADER) {
            let key = value.to_str().map_err(|_| {
                unauthenticated(format!(
                    "the {API_KEY_HEADER} header is not text: send the mk_… key as printed"
                ))
            })?;
            return self.api_key(key.trim());
        }
        let Some(value) = headers.get(http::header::AUTHORIZATION) else {
            return Err(unauthenticated(
                "this request carries no credentials: send an API key in `x-api-key` or a \
                 bearer token in `authorization`",
            ));
        };
        let text = value.to_str().unwrap_or_default().trim();
        let credential = text
            .strip_prefix("Bearer ")
            .or_else(|| text.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                unauthenticated("the authorization header must be `Bearer <API key or token>`")
            })?;
        if looks_like_api_key(credential) {
            return self.api_key(credential);
        }
        if credential.bytes().filter(|b| *b == b'.').count() == 2 {
            return match &self.oidc {
                Some(oidc) => oidc.verify(credential, Instant::now()).await,
                None => Err(unauthenticated(
                    "this cluster accepts no bearer tokens (no [auth.oidc] configured): use an \
                     API key (mk_…)",
                )),
            };
        }
        Err(unauthenticated(
            "the bearer credential is neither an API key (mk_…) nor a JWT: send one of them",
        ))
    }

    fn api_key(&self, key: &str) -> Result<Caller, Status> {
        if !looks_like_api_key(key) {
            return Err(unauthenticated(
                "the API key is malformed: keys look like mk_ followed by 64 hex digits",
            ));
        }
        match self.keys.lookup(key)? {
            Some(record) => Ok(Caller::new(
                record.tenant,
                record.role,
                key_subject(&record),
            )),
            None => Err(unauthenticated(
                "the API key is unknown or was revoked: ask an admin for a new one \
                 (mirage admin create-key)",
            )),
        }
    }
}
