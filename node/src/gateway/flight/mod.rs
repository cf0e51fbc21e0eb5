//! Arrow Flight over the gateway: bulk upload and download of tables, tenant-scoped like
//! every public service.
//!
//! - `DoPut` with descriptor `["datasets", <name>]` uploads a table: the batches stream
//!   into Parquet at `uploads/<uuid>/data.parquet` ([`upload`]) and the dataset is created
//!   through the same path as `DatasetService.CreateDataset`, with its ingest job queued.
//! - `DoGet` with ticket `dataset/<id>` or `generation/<id>` ([`target`]) streams the
//!   stored rows batch by batch ([`stored`]); generations pass their quality gate first.
//! - `GetFlightInfo`, `GetSchema` (descriptor `["datasets", <id>]` or
//!   `["generations", <id>]`) and `ListFlights` describe the caller's tables, with one
//!   endpoint whose locations are every node's Flight address ([`catalog`]).
//! - `DoAction` `release-generation` (admins) releases a generation whose gate failed.
//!
//! The service ([`FlightGateway`]) reads the [`Caller`](crate::gateway::Caller) from each
//! request's extensions, so the authentication layer wraps [`flight_server`]'s server as
//! a tower layer or an interceptor; [`serve`] runs any such wrapped service.

pub mod catalog;
mod service;
pub mod stored;
pub mod target;
pub mod upload;

#[cfg(test)]
mod bench;
#[cfg(test)]
mod harness;
#[cfg(test)]
mod tests;

use std::path::PathBuf;

use arrow_flight::flight_service_server::FlightServiceServer;
use mirage_core::config::NodeConfig;
use tonic::server::NamedService;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

use crate::gateway::Gateway;

/// The largest gRPC message the Flight server sends or accepts: a record batch is one
/// message, so this bounds the batch a client may upload in one piece.
pub const MAX_MESSAGE_BYTES: usize = 512 * 1024 * 1024;

/// The largest HTTP/2 frame the server accepts; clients pulling large tables should set
/// the same on their channel (`Endpoint::max_frame_size`).
pub const MAX_FRAME_BYTES: u32 = 1024 * 1024;

/// Arrow Flight for a node's gateway. Cheap to clone.
#[derive(Debug, Clone)]
pub struct FlightGateway {
    gateway: Gateway,
    locations: Vec<String>,
    scratch: PathBuf,
}

impl FlightGateway {
    /// Flight over `gateway`; `locations` are the Flight URIs of every node
    /// (`grpc+tcp://host:port`, see [`locations`]) that `GetFlightInfo` advertises.
    /// Upload staging files and downloaded copies go to the system's temporary directory
    /// unless [`FlightGateway::with_scratch`] names another.
    pub fn new(gateway: Gateway, locations: Vec<String>) -> Self {
        Self {
            gateway,
            locations,
            scratch: std::env::temp_dir(),
        }
    }

    /// Uses `dir` for upload staging files and downloaded copies.
    pub fn with_scratch(mut self, dir: PathBuf) -> Self {
        self.scratch = dir;
        self
    }
}

/// The gRPC service of `service`, with message limits raised for large batches. Wrap it
/// (authentication layer, interceptor) before passing it to [`serve`].
pub fn flight_server(service: FlightGateway) -> FlightServiceServer<FlightGateway> {
    FlightServiceServer::new(service)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
}

/// The Flight URIs of every node of `config`'s cluster: this node's `flight_addr`, then
/// each peer's.
pub fn locations(config: &NodeConfig) -> Vec<String> {
    std::iter::once(config.flight_addr)
        .chain(config.peers.iter().map(|peer| peer.flight_addr()))
        .map(|address| format!("grpc+tcp://{address}"))
        .collect()
}

/// A server tuned for bulk transfers: large HTTP/2 windows keep a fast link busy, and
/// fewer, larger frames carry uploads (the default frame is 16 KiB).
pub fn builder() -> Server {
    Server::builder()
        .initial_stream_window_size(Some(8 * 1024 * 1024))
        .initial_connection_window_size(Some(32 * 1024 * 1024))
        .max_frame_size(Some(MAX_FRAME_BYTES))
}

/// Serves `service` (the [`flight_server`], possibly wrapped) on `listener` until
/// `shutdown` completes.

pub async fn serve<S>(
    listener: tokio::net::TcpListener,
    service: S,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error>
where
    S: tonic::codegen::Service<
            tonic::codegen::http::Request<tonic::body::Body>,
            Error = std::convert::Infallible,
        > + NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Response: axum::response::IntoResponse,
    S::Future: Send + 'static,
{
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    builder()
        .add_service(service)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}
