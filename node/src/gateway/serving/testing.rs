//! Test fixtures for serving: a Gaussian-copula model of the Adult demo table stored and
//! registered like a train job would, and a minimal `GenerationService` over a real tonic
//! server on loopback.

use std::net::SocketAddr;

use mirage_actors::{Command, DatasetSpec, ModelSpec};
use mirage_core::records::ModelKind;
use mirage_core::{DatasetId, ModelId, Table};
use mirage_proto::v1;
use mirage_proto::v1::generation_service_server::GenerationServiceServer;
use tokio::sync::oneshot;
use tonic::Request;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

use super::ModelCache;
use crate::gateway::testing::TestGateway;
use crate::gateway::{Caller, Gateway};

/// Reads the Adult demo table, keeping its first `rows` rows (all when `None`).
pub fn adult_table(rows: Option<usize>) -> anyhow::Result<Table> {
    let path = crate::demo::adult_path()?;
    let table = mirage_data::read_table(&path, &mirage_data::ReadOptions::default())?;
    let Some(rows) = rows.filter(|&rows| rows < table.num_rows()) else {
        return Ok(table);
    };
    let indices: Vec<u32> = (0..rows as u32).collect();
    Ok(table.take_rows(&indices)?)
}

/// Fits a Gaussian copula on `table` and stores it under `models/<id>/` as a train job
/// does. Blocking.
pub fn store_copula(test: &TestGateway, table: &Table, model: ModelId) -> anyhow::Result<String> {
    let mut context = mirage_models::FitContext::new(|_| {}, Default::default());
    let fitted = mirage_models::fit(
        ModelKind::GaussianCopula,
        table,
        &serde_json::json!({}),
        &mut context,
    )?;
    let dir = tempfile::tempdir_in(test.dir.path())?;
    let local = dir.path().join("model");
    mirage_models::save_model(fitted.as_ref(), &local)?;
    let key = format!("models/{model}");
    test.gateway.storage().upload_dir(&local, &key, None)?;
    Ok(key)
}

/// Registers a dataset and `model` (stored under `key`) for `caller`'s tenant, and waits
/// until this node sees the model.
pub async fn register_model(
    gateway: &Gateway,
    caller: &Caller,
    model: ModelId,
    key: &str,
) -> anyhow::Result<()> {
    let dataset = DatasetId::new();
    gateway
        .apply(Command::RegisterDataset(DatasetSpec {
            id: dataset,
            tenant: caller.tenant,
            name: "adult".into(),
            url: "datasets/adult".into(),
        }))
        .await?;
    gateway
        .apply_visible(
            Command::RegisterModel(ModelSpec {
                id: model,
                tenant: caller.tenant,
                dataset,
                kind: ModelKind::GaussianCopula,
                config_hash: "test".into(),
                url: key.to_string(),
                job: None,
            }),
            |state| state.model(model).is_some(),
        )
        .await?;
    Ok(())
}

/// Fits, stores and registers a copula of the first `rows` Adult rows for `caller`.
pub async fn adult_model(
    test: &TestGateway,
    caller: &Caller,
    rows: Option<usize>,
) -> anyhow::Result<ModelId> {
    let model = ModelId::new();
    let key = tokio::task::block_in_place(|| {
        let table = adult_table(rows)?;
        store_copula(test, &table, model)
    })?;
    register_model(&test.gateway, caller, model, &key).await?;
    Ok(model)
}

/// A model cache over the test gateway's object store, with `config`.
pub fn cache(test: &TestGateway, config: mirage_core::config::ServingConfig) -> ModelCache {
    ModelCache::new(
        config,
        test.gateway.storage().clone(),
        test.dir.path().join("serving-cache"),
    )
}

/// The node's real `GenerationService`, every call acting for one caller (standing in
/// for the authentication layer).
#[derive(Debug, Clone)]
pub struct SampleOnlyService {
    api: crate::api::GenerationApi,
    caller: Caller,
}

impl SampleOnlyService {
    /// The service over `gateway` and `cache`, every call acting for `caller`.
    pub fn new(gateway: Gateway, cache: ModelCache, caller: Caller) -> Self {
        Self {
            api: crate::api::GenerationApi::new(gateway, cache),
            caller,
        }
    }
}

/// A tonic server on a loopback port; stops when dropped.
#[derive(Debug)]
pub struct LoopbackServer {
    /// Where it listens.
    pub address: SocketAddr,
    _stop: oneshot::Sender<()>,
}

impl LoopbackServer {
    /// Serves `service` on `127.0.0.1:0`.
    pub async fn start(service: SampleOnlyService) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        let (stop, stopped) = oneshot::channel::<()>();
        let caller = service.caller.clone();
        let server = tonic::service::interceptor::InterceptedService::new(
            GenerationServiceServer::new(service.api),
            move |mut request: Request<()>| {
                request.extensions_mut().insert(caller.clone());
                Ok(request)
            },
        );
        tokio::spawn(
            Server::builder()
                .add_service(server)
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stopped.await;
                }),
        );
        Ok(Self {
            address,
            _stop: stop,
        })
    }

    /// A client of it.
    pub async fn client(
        &self,
    ) -> anyhow::Result<
        v1::generation_service_client::GenerationServiceClient<tonic::transport::Channel>,
    > {
        let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{}", self.address))?
            .tcp_nodelay(true);
        Ok(v1::generation_service_client::GenerationServiceClient::new(
            endpoint.connect().await?,
        ))
    }
}
