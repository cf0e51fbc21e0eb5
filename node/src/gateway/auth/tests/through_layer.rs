//! The layer itself, around a stand-in service: refusals are gRPC responses, the caller
//! reaches the service, request ids travel, limits bite per tenant, metrics count.

use std::convert::Infallible;
use std::future::Ready;
use std::task::{Context, Poll};

use http::{Request, Response};
use mirage_core::config::RateLimitConfig;
use tower_layer::Layer as _;
use tower_service::Service;

use super::*;
use crate::gateway::Caller;
use crate::gateway::limits::{RETRY_AFTER_KEY, RateLimiter};

/// Answers OK with the caller's tenant in `x-tenant` (or `none`).
#[derive(Debug, Clone)]
struct Echo;

impl Service<Request<()>> for Echo {
    type Response = Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<()>) -> Self::Future {
        let tenant = request
            .extensions()
            .get::<Caller>()
            .map_or_else(|| "none".to_owned(), |caller| caller.tenant.to_string());
        let mut response = Response::new(tonic::body::Body::default());
        response
            .headers_mut()
            .insert("x-tenant", tenant.parse().expect("header"));
        std::future::ready(Ok(response))
    }
}

const LIST: &str = "/mirage.v1.ModelService/ListModels";

fn call(path: &str, pairs: &[(&'static str, &str)]) -> Request<()> {
    let mut request = Request::builder().uri(path).body(()).expect("request");
    for (name, value) in pairs {
        request
            .headers_mut()
            .insert(*name, value.parse().expect("header"));
    }
    request
}

fn grpc_status(response: &Response<tonic::body::Body>) -> Option<&str> {
    response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
}

#[test]
fn public_methods_are_told_apart() {
    assert!(is_public_method(LIST));
    assert!(is_public_method("/mirage.v1.JobService/SubmitTraining"));
    assert!(!is_public_method("/mirage.v1.RaftInternal/AppendEntries"));
    assert!(is_public_method(
        "/arrow.flight.protocol.FlightService/DoGet"
    ));
    assert!(!is_public_method(
        "/arrow.flight.protocol.FlightService/Handshake"
    ));
    assert!(!is_public_method("/grpc.health.v1.Health/Check"));
}

#[tokio::test]
async fn the_layer_authenticates_limits_and_counts() {
    let (a, b) = (generate_api_key(), generate_api_key());
    let auth = authenticator(
        vec![
            (a.clone(), key_record(&a, 1, Role::Operator, "a")),
            (b.clone(), key_record(&b, 2, Role::Operator, "b")),
        ],
        None,
    );
    let mut limits = RateLimitConfig {
        requests_per_second: 1,
        burst: 3,
        ..RateLimitConfig::default()
    };
    limits.tenants.insert(
        tenant(2).to_string(),
        mirage_core::config::TenantLimits {
            burst: Some(100),
            ..Default::default()
        },
    );
    let metrics = Arc::new(RpcMetrics::new());
    let layer = AuthLayer::new(auth, RateLimiter::new(&limits), Arc::clone(&metrics));
    let mut service = layer.layer(Echo);

    // No credentials: a gRPC UNAUTHENTICATED response, over HTTP 200, with a request id.
    let response = service.call(call(LIST, &[])).await.expect("infallible");
    assert_eq!(response.status(), http::StatusCode::OK);
    assert_eq!(grpc_status(&response), Some("16"));
    assert!(response.headers().get(REQUEST_ID_HEADER).is_some());
    assert!(
        response.headers().get("x-tenant").is_none(),
        "service not reached"
    );

    // A key: the caller reaches the service, the client's request id comes back.
    let response = service
        .call(call(
            LIST,
            &[("x-api-key", &a), (REQUEST_ID_HEADER, "req-42")],
        ))
        .await
        .expect("infallible");
    assert_eq!(grpc_status(&response), None);
    assert_eq!(
        response
            .headers()
            .get("x-tenant")
            .and_then(|v| v.to_str().ok()),
        Some(tenant(1).to_string().as_str())
    );
    assert_eq!(
        response
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok()),
        Some("req-42")
    );

    // Tenant a floods past its burst of 3 (one used above); tenant b is still admitted.
    let mut exhausted = None;
    for _ in 0..5 {
        let response = service
            .call(call(LIST, &[("x-api-key", &a)]))
            .await
            .expect("infallible");
        if grpc_status(&response) == Some("8") {
            exhausted = Some(response);
        }
        let other = service
            .call(call(LIST, &[("x-api-key", &b)]))
            .await
            .expect("infallible");
        assert_ne!(
            grpc_status(&other),
            Some("8"),
            "tenant b has its own bucket"
        );
    }
    let response = exhausted.expect("tenant a was limited");
    assert!(response.headers().get(RETRY_AFTER_KEY).is_some());

    // The cluster status, like every public method, needs valid credentials.
    let status_path = "/mirage.v1.ClusterService/GetClusterStatus";
    let response = service
        .call(call(status_path, &[]))
        .await
        .expect("infallible");
    assert_eq!(grpc_status(&response), Some("16"));
    let response = service
        .call(call(status_path, &[("x-api-key", &a)]))
        .await
        .expect("infallible");
    assert_eq!(grpc_status(&response), None);
    let response = service
        .call(call(status_path, &[("x-api-key", &generate_api_key())]))
        .await
        .expect("infallible");
    assert_eq!(grpc_status(&response), Some("16"));

    // Internal calls pass untouched: no caller, no request id, not counted.
    let response = service
        .call(call("/mirage.v1.RaftInternal/Vote", &[]))
        .await
        .expect("infallible");
    assert_eq!(
        response
            .headers()
            .get("x-tenant")
            .and_then(|v| v.to_str().ok()),
        Some("none")
    );
    assert!(response.headers().get(REQUEST_ID_HEADER).is_none());

    assert_eq!(metrics.count(LIST, Code::Unauthenticated), 1);
    assert!(metrics.count(LIST, Code::ResourceExhausted) >= 2);
    assert!(metrics.count(LIST, Code::Ok) >= 3);
    assert_eq!(metrics.count("/mirage.v1.RaftInternal/Vote", Code::Ok), 0);
}
