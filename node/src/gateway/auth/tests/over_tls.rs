//! A real tonic server with TLS (and client certificates) behind the layer, called over
//! the network: the round trip works, plaintext and missing credentials do not.

use mirage_core::config::{RateLimitConfig, TlsConfig};
use mirage_proto::v1::model_service_client::ModelServiceClient;
use mirage_proto::v1::model_service_server::{ModelService, ModelServiceServer};
use mirage_proto::v1::{GetModelRequest, GetModelResponse, ListModelsRequest, ListModelsResponse};
use tonic::transport::{Endpoint, Server};

use super::*;
use crate::gateway::limits::RateLimiter;

/// Lists nothing, and names the caller's tenant in the next-page token.
#[derive(Debug)]
struct Models;

#[tonic::async_trait]
impl ModelService for Models {
    async fn list_models(
        &self,
        request: tonic::Request<ListModelsRequest>,
    ) -> Result<tonic::Response<ListModelsResponse>, tonic::Status> {
        let caller = crate::gateway::caller(&request)?;
        Ok(tonic::Response::new(ListModelsResponse {
            models: Vec::new(),
            next_page_token: caller.tenant.to_string(),
        }))
    }

    async fn get_model(
        &self,
        _: tonic::Request<GetModelRequest>,
    ) -> Result<tonic::Response<GetModelResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("not in this test"))
    }
}

fn fixture_tls() -> TlsConfig {
    TlsConfig {
        cert_file: Some(fixture("node.pem")),
        key_file: Some(fixture("node.key.pem")),
        ca_file: Some(fixture("ca.pem")),
        server_name: Some("localhost".into()),
        allow_plaintext: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_server_behind_the_layer_answers_a_tls_client() -> anyhow::Result<()> {
    let config = fixture_tls();
    let key = generate_api_key();
    let auth = authenticator(
        vec![(key.clone(), key_record(&key, 3, Role::Analyst, "t"))],
        None,
    );
    let layer = AuthLayer::new(
        auth,
        RateLimiter::new(&RateLimitConfig::default()),
        Arc::new(RpcMetrics::new()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let server_tls = tls::server_config(&config)?.expect("tls on");
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        Server::builder()
            .tls_config(server_tls)?
            .layer(layer)
            .add_service(ModelServiceServer::new(Models))
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stopped.await;
            }),
    );

    let client_tls = tls::client_config(&config)?.expect("tls on");
    let channel = Endpoint::from_shared(format!("https://127.0.0.1:{port}"))?
        .tls_config(client_tls)?
        .connect()
        .await?;
    let mut client = ModelServiceClient::new(channel);
    let mut request = tonic::Request::new(ListModelsRequest::default());
    request.metadata_mut().insert("x-api-key", key.parse()?);
    let answer = client.list_models(request).await?;
    assert_eq!(answer.get_ref().next_page_token, tenant(3).to_string());
    assert!(answer.metadata().get(REQUEST_ID_HEADER).is_some());
    let refused = client
        .list_models(ListModelsRequest::default())
        .await
        .expect_err("no key");
    assert_eq!(refused.code(), Code::Unauthenticated);

    // A plaintext client gets nowhere.
    let plain = Endpoint::from_shared(format!("http://127.0.0.1:{port}"))?
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(2))
        .connect()
        .await;
    if let Ok(channel) = plain {
        let mut request = tonic::Request::new(ListModelsRequest::default());
        request.metadata_mut().insert("x-api-key", key.parse()?);
        ModelServiceClient::new(channel)
            .list_models(request)
            .await
            .expect_err("plaintext to a TLS server");
    }

    // A client without a certificate is refused when the server requires one (ca_file).
    let anonymous = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(std::fs::read(
            fixture("ca.pem"),
        )?))
        .domain_name("localhost");
    let anonymous = Endpoint::from_shared(format!("https://127.0.0.1:{port}"))?
        .tls_config(anonymous)?
        .timeout(Duration::from_secs(2))
        .connect()
        .await;
    if let Ok(channel) = anonymous {
        let mut request = tonic::Request::new(ListModelsRequest::default());
        request.metadata_mut().insert("x-api-key", key.parse()?);
        ModelServiceClient::new(channel)
            .list_models(request)
            .await
            .expect_err("no client certificate");
    }

    let _ = stop.send(());
    server.abort();
    Ok(())
}

#[test]
fn unreadable_or_non_pem_files_name_their_setting() {
    let mut config = fixture_tls();
    config.key_file = Some("/nonexistent/node.key.pem".into());
    let error = tls::server_config(&config).expect_err("missing key");
    assert!(
        error.to_string().starts_with("tls.key_file: cannot read"),
        "{error}"
    );
    let mut config = fixture_tls();
    config.ca_file = Some(fixture("jwks.json"));
    let error = tls::client_config(&config).expect_err("not pem");
    assert!(error.to_string().contains("tls.ca_file"), "{error}");
    assert!(
        tls::server_config(&TlsConfig::default())
            .expect("off")
            .is_none()
    );
}
