//! Authentication of the public API, and the tower layer every public call passes.
//!
//! - `api_key.rs`: API keys (`mk_…`): generation, their lookup in the replica ([`KeyLookup`]).
//! - `jwks.rs`: [`JwksCache`], an OIDC provider's keys, cached and re-read on rotation.
//! - `oidc.rs`: [`OidcVerifier`], JWT checks and the claims → tenant and role mapping.
//! - `authenticator.rs`: [`Authenticator`], headers → [`Caller`](super::Caller).
//! - `metrics.rs`: [`RpcMetrics`], per-method latency and status counts for Prometheus.
//! - `observed.rs`: the response body that records a call when its answer ends.
//! - `layer.rs`: [`AuthLayer`]: request id, authentication, rate limit, metrics, for
//!   every public method of a tonic server.
//! - `client_credentials.rs`: what the CLI presents (`MIRAGE_API_KEY`, the secret).
//! - `tls.rs`: the `[tls]` settings as tonic server and client configs.

pub mod api_key;
pub mod authenticator;
pub mod client_credentials;
pub mod jwks;
pub mod layer;
pub mod metrics;
mod observed;
pub mod oidc;
#[cfg(test)]
mod tests;
pub mod tls;

#[allow(unused_imports)] // `fixed_keys` serves tests
pub use api_key::{KeyLookup, fixed_keys, generate_api_key, looks_like_api_key};
pub use authenticator::{API_KEY_HEADER, Authenticator, CLUSTER_SECRET_HEADER, default_tenant};
pub use client_credentials::attach_env_credentials;
#[allow(unused_imports)] // for clients and tests
pub use layer::{AuthLayer, REQUEST_ID_HEADER, is_public_method};
pub use metrics::RpcMetrics;
#[allow(unused_imports)] // for tests
pub use oidc::OidcVerifier;

use tonic::Status;

/// `UNAUTHENTICATED` with the stable error code.
fn unauthenticated(message: impl Into<String>) -> Status {
    super::status::error(mirage_proto::v1::ErrorCode::Unauthenticated, message)
}
