//! [`OidcVerifier`]: checks an OIDC provider's JWT (signature against its JWKS, `iss`, `aud`,
//! `exp`) and maps its claims to a [`Caller`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use mirage_actors::Role;
use mirage_core::TenantId;
use mirage_core::config::OidcConfig;
use serde_json::Value;
use tonic::Status;

use super::jwks::{JwksCache, JwksError, JwksSource};
use super::unauthenticated;
use crate::gateway::Caller;

/// The signature algorithms accepted: public-key ones only (a shared-secret HMAC token
/// could be forged by anyone who knows the "public" key).
const ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Verifies tokens of one provider.
#[derive(Debug)]
pub struct OidcVerifier {
    config: OidcConfig,
    jwks: JwksCache,
}

impl OidcVerifier {
    /// A verifier for the (validated) provider `config`.
    pub fn new(config: &OidcConfig) -> Self {
        let source = match (&config.jwks_url, &config.jwks_file) {
            (Some(url), _) => JwksSource::Url(url.clone()),
            (None, Some(file)) => JwksSource::File(file.clone()),
            (None, None) => JwksSource::Url(String::new()),
        };
        let jwks = JwksCache::new(
            source,
            Duration::from_secs(config.refresh_s),
            Duration::from_secs(config.min_refetch_interval_s),
        );
        Self {
            config: config.clone(),
            jwks,
        }
    }

    /// The provider's key cache.
    pub fn jwks(&self) -> &JwksCache {
        &self.jwks
    }

    /// The caller a bearer `token` stands for, or why it is refused; `now` drives the key
    /// cache (token expiry is checked against the system clock).
    pub async fn verify(&self, token: &str, now: Instant) -> Result<Caller, Status> {
        let issuer = &self.config.issuer;
        let header = jsonwebtoken::decode_header(token).map_err(|error| {
            unauthenticated(format!(
                "the bearer token is not a valid JWT ({error}): send a token from {issuer} or an API key"
            ))
        })?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(unauthenticated(format!(
                "the bearer token is signed with {:?}, which is not accepted: use a token signed by {issuer} with RS256 or ES256",
                header.alg
            )));
        }
        let Some(kid) = header.kid.as_deref() else {
            return Err(unauthenticated(format!(
                "the bearer token names no signing key (kid): send a token issued by {issuer}"
            )));
        };
        let key = self.jwks.key(kid, now).await.map_err(|error| match error {
            JwksError::UnknownKid { .. } => unauthenticated(format!(
                "the bearer token is signed with unknown key {kid:?}: {error}; get a new token from {issuer}"
            )),
            JwksError::Unavailable { .. } => crate::gateway::status::error(
                mirage_proto::v1::ErrorCode::Unavailable,
                format!("cannot check the bearer token, retry shortly: {error}"),
            ),
        })?;
        if key.algorithm.is_some_and(|pinned| pinned != header.alg) {
            return Err(unauthenticated(format!(
                "the bearer token's algorithm {:?} does not match key {kid:?}: send a token issued by {issuer}",
                header.alg
            )));
        }
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.config.leeway_s;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let data = jsonwebtoken::decode::<HashMap<String, Value>>(token, &key.key, &validation)
            .map_err(|error| self.refusal(error.kind(), kid))?;
        self.caller(&data.claims)
    }

    fn refusal(&self, kind: &ErrorKind, kid: &str) -> Status {
        let issuer = &self.config.issuer;
        let audience = &self.config.audience;
        unauthenticated(match kind {
            ErrorKind::ExpiredSignature => {
                format!("the bearer token has expired: get a new token from {issuer}")
            }
            ErrorKind::ImmatureSignature => {
                "the bearer token is not valid yet (nbf is in the future): check the clocks".into()
            }
            ErrorKind::InvalidIssuer => format!(
                "the bearer token was not issued by {issuer}: use a token from that provider"
            ),
            ErrorKind::InvalidAudience => format!(
                "the bearer token is not meant for audience {audience:?}: request a token for it"
            ),
            ErrorKind::InvalidSignature => format!(
                "the bearer token's signature does not verify with key {kid:?} of {issuer}: the token was altered or forged"
            ),
            ErrorKind::MissingRequiredClaim(claim) => {
                format!("the bearer token has no {claim} claim: send a token issued by {issuer}")
            }
            other => format!(
                "the bearer token is not valid ({other:?}): send a token issued by {issuer}"
            ),
        })
    }

    fn caller(&self, claims: &HashMap<String, Value>) -> Result<Caller, Status> {
        let tenant_claim = &self.config.tenant_claim;
        let role_claim = &self.config.role_claim;
        let tenant = match claims.get(tenant_claim) {
            Some(Value::String(text)) => text.parse::<TenantId>().map_err(|_| {
                unauthenticated(format!(
                    "the bearer token's {tenant_claim} claim {text:?} is not a tenant id (tnt_… or a UUID): fix the mapping at the identity provider"
                ))
            })?,
            Some(_) | None => {
                return Err(unauthenticated(format!(
                    "the bearer token has no {tenant_claim} claim naming a tenant: ask the identity provider's admin to add it"
                )));
            }
        };
        let role = match claims.get(role_claim) {
            Some(Value::String(text)) => text.parse::<Role>().map_err(|_| {
                unauthenticated(format!(
                    "the bearer token's {role_claim} claim {text:?} is not a role (admin, operator or analyst): fix the mapping at the identity provider"
                ))
            })?,
            Some(_) | None => {
                return Err(unauthenticated(format!(
                    "the bearer token has no {role_claim} claim (admin, operator or analyst): ask the identity provider's admin to add it"
                )));
            }
        };
        let subject = match claims.get("sub") {
            Some(Value::String(sub)) => format!("token {sub} from {}", self.config.issuer),
            _ => format!("token from {}", self.config.issuer),
        };
        Ok(Caller::new(tenant, role, subject))
    }
}
