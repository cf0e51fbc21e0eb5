//! [`AuthLayer`]: the tower layer in front of every public gRPC method of a tonic server.
//!
//! For each public call it takes (or makes) a request id, opens a `rpc` tracing span,
//! authenticates the caller, applies the caller tenant's rate limit, hands the [`Caller`]
//! to the service in the request's extensions, and records the call's latency and status
//! code when its answer ends (for a stream, the code in its trailers). A refusal is an
//! ordinary gRPC response (HTTP 200 with `grpc-status`). Internal (`RaftInternal`) calls,
//! Arrow Flight's `Handshake` and anything outside the public packages pass untouched:
//! they check their own credentials, or have none to check.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{HeaderValue, Request, Response};
use tonic::{Code, Status};
use tower_layer::Layer;
use tower_service::Service;
use tracing::Instrument as _;

use super::observed::{ObservedBody, trailer_code};
use super::{Authenticator, RpcMetrics};
use crate::gateway::Caller;
use crate::gateway::limits::RateLimiter;

/// The header carrying a request's id, both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Whether `path` is a public method that needs a caller: `mirage.v1` services but the
/// internal Raft one, and Arrow Flight but its handshake.
pub fn is_public_method(path: &str) -> bool {
    if let Some(rest) = path.strip_prefix("/mirage.v1.") {
        return !rest.starts_with("RaftInternal/");
    }
    if let Some(method) = path.strip_prefix("/arrow.flight.protocol.FlightService/") {
        return method != "Handshake";
    }
    false
}

/// Builds [`AuthService`]s. Clones share the authenticator, limiter and metrics.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    authenticator: Authenticator,
    limiter: RateLimiter,
    metrics: Arc<RpcMetrics>,
}

impl AuthLayer {
    /// A layer that authenticates with `authenticator`, limits with `limiter` and records
    /// into `metrics` (which the node's `/metrics` endpoint renders).
    pub fn new(
        authenticator: Authenticator,
        limiter: RateLimiter,
        metrics: Arc<RpcMetrics>,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                authenticator,
                limiter,
                metrics,
            }),
        }
    }

    /// The layer of a node: API keys from its replica (`keys`), the cluster `secret`, the
    /// `[auth]` and `[rate_limits]` of its `config`.
    pub fn for_node(
        config: &mirage_core::config::NodeConfig,
        keys: Arc<dyn super::KeyLookup>,
        secret: crate::raft::ClusterSecret,
        metrics: Arc<RpcMetrics>,
    ) -> Self {
        Self::new(
            Authenticator::new(keys, Some(secret), &config.auth),
            RateLimiter::new(&config.rate_limits),
            metrics,
        )
    }

    /// The metrics this layer records into.
    pub fn metrics(&self) -> &Arc<RpcMetrics> {
        &self.shared.metrics
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The service [`AuthLayer`] wraps around a server's routes.
#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    shared: Arc<Shared>,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'static>>;

impl<S, B> Service<Request<B>> for AuthService<S>
where
    S: Service<Request<B>, Response = Response<tonic::body::Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        // The clone that was polled ready serves this call; the fresh clone stays behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let path = request.uri().path().to_owned();
        if !is_public_method(&path) {
            return Box::pin(inner.call(request));
        }
        let shared = Arc::clone(&self.shared);
        let request_id = request_id(&mut request);
        let span = tracing::info_span!(
            "rpc",
            method = %path,
            request_id = %request_id.to_str().unwrap_or_default(),
            tenant = tracing::field::Empty,
        );
        Box::pin(
            async move {
                let start = Instant::now();
                // The id rides along into the calls this one causes on other nodes.
                let task_id = request_id.to_str().unwrap_or_default().to_owned();
                let admitted = admit(&shared, &path, request.headers()).await;
                let mut response = match admitted {
                    Ok(caller) => {
                        tracing::Span::current().record("tenant", tracing::field::display(caller.tenant));
                        request.extensions_mut().insert(caller);
                        crate::request_id::REQUEST_ID
                            .scope(task_id, inner.call(request))
                            .await?
                    }
                    Err(status) => {
                        tracing::info!(code = ?status.code(), message = status.message(), "refused");
                        status.into_http()
                    }
                };
                response.headers_mut().insert(REQUEST_ID_HEADER, request_id);
                if let Some(code) = trailers_only_code(&response) {
                    shared.metrics.observe(&path, code, start.elapsed());
                    return Ok(response);
                }
                // The answer's code comes in its trailers: count the call when it ends.
                let metrics = Arc::clone(&shared.metrics);
                Ok(response.map(|body| {
                    tonic::body::Body::new(ObservedBody::new(body, metrics, path, start))
                }))
            }
            .instrument(span),
        )
    }
}

/// Authenticates and rate-limits one call.
async fn admit(shared: &Shared, path: &str, headers: &http::HeaderMap) -> Result<Caller, Status> {
    let caller = shared.authenticator.authenticate(headers).await?;
    shared
        .limiter
        .check(caller.tenant, path, Instant::now())
        .map_err(|limited| limited.to_status())?;
    Ok(caller)
}

/// The request's id: the client's `x-request-id` when it is a sane token, else a new one,
/// written back into the request so the service sees the same id.
fn request_id<B>(request: &mut Request<B>) -> HeaderValue {
    let given = request.headers().get(REQUEST_ID_HEADER).filter(|value| {
        let bytes = value.as_bytes();
        !bytes.is_empty() && bytes.len() <= 128 && bytes.iter().all(u8::is_ascii_graphic)
    });
    if let Some(value) = given {
        return value.clone();
    }
    let fresh = uuid::Uuid::new_v4().simple().to_string();
    let value =
        HeaderValue::from_str(&fresh).unwrap_or_else(|_| HeaderValue::from_static("unknown"));
    request
        .headers_mut()
        .insert(REQUEST_ID_HEADER, value.clone());
    value
}

/// The status code of a call that failed at once (a trailers-only response carries
/// `grpc-status` in its headers); `None` when the code will come in the body's trailers.
fn trailers_only_code<B>(response: &Response<B>) -> Option<Code> {
    response
        .headers()
        .contains_key("grpc-status")
        .then(|| trailer_code(response.headers()))
}
