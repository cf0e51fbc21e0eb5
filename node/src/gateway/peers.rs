//! Objects from other members over Arrow Flight, for nodes that do not share one object
//! store: [`PeerObjects`] asks each peer's Flight service (with the cluster secret) for an
//! object or a listing, and the Flight service answers those two internal actions from its
//! own store only ([`object_action`]) — never asking further, so two nodes that both lack
//! an object cannot ask each other in circles.
//!
//! Peers are dialled with the node's `[tls]` client settings (https, its certificate) when
//! it serves TLS, over one channel per peer kept for the node's life.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use arrow_flight::flight_service_client::FlightServiceClient;
use arrow_flight::{Action, Result as FlightResult};
use bytes::Bytes;
use tokio::runtime::Handle;
use tokio_stream::StreamExt;
use tonic::Status;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

use super::{Caller, status};
use crate::jobs::storage::{ObjectStorage, RemoteObjects, StorageError};

/// The action that reads one object: body = the key; answers its bytes in chunks.
pub const GET_OBJECT: &str = "mirage.get-object";
/// The action that lists a prefix: body = the prefix; answers one JSON array of keys.
pub const LIST_OBJECTS: &str = "mirage.list-objects";
/// Bytes per answered chunk.
const CHUNK_BYTES: usize = 4 * 1024 * 1024;
/// How long one peer may take to answer.
const PEER_TIMEOUT: Duration = Duration::from_secs(120);

/// How long dialling a peer may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Fetches objects from the other members' Flight services.
pub struct PeerObjects {
    peers: Vec<String>,
    secret: String,
    /// The node's client TLS (`None`: plaintext).
    tls: Option<ClientTlsConfig>,
    /// One lazily connected channel per peer; tonic reconnects it when the peer restarts.
    channels: Mutex<HashMap<String, Channel>>,
    runtime: Handle,
}

impl std::fmt::Debug for PeerObjects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerObjects")
            .field("peers", &self.peers)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl PeerObjects {
    /// Asks the Flight services at `peers` (`host:port`), authenticated by `secret`, over
    /// TLS with `tls` (the node's [`client_config`](super::auth::tls::client_config)) when
    /// it is set.
    pub fn new(
        peers: Vec<String>,
        secret: String,
        tls: Option<ClientTlsConfig>,
        runtime: Handle,
    ) -> Self {
        Self {
            peers,
            secret,
            tls,
            channels: Mutex::new(HashMap::new()),
            runtime,
        }
    }

    /// The endpoint of `peer`'s Flight service: https with the node's TLS, else http.
    fn endpoint(&self, peer: &str) -> Result<Endpoint, Status> {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let mut endpoint = Endpoint::from_shared(format!("{scheme}://{peer}"))
            .map_err(|e| Status::invalid_argument(format!("peer address {peer}: {e}")))?
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(PEER_TIMEOUT);
        if let Some(tls) = &self.tls {
            endpoint = endpoint
                .tls_config(tls.clone())
                .map_err(|e| Status::internal(format!("tls for peer {peer}: {e}")))?;
        }
        Ok(endpoint)
    }

    /// The channel to `peer`, made on first use (lazily: it connects on the first call).
    /// Must run inside the runtime, which the channel's worker is spawned on.
    fn channel(&self, peer: &str) -> Result<Channel, Status> {
        // A panic elsewhere while holding the lock leaves the map intact: keep using it.
        let mut channels = self
            .channels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(channel) = channels.get(peer) {
            return Ok(channel.clone());
        }
        let channel = self.endpoint(peer)?.connect_lazy();
        channels.insert(peer.to_owned(), channel.clone());
        Ok(channel)
    }

    async fn call(&self, peer: &str, kind: &str, body: &str) -> Result<Vec<Bytes>, Status> {
        let channel = self.channel(peer)?;
        let mut client =
            FlightServiceClient::new(channel).max_decoding_message_size(2 * CHUNK_BYTES);
        let mut request = tonic::Request::new(Action {
            r#type: kind.to_owned(),
            body: Bytes::from(body.to_owned()),
        });
        let secret = self
            .secret
            .parse()
            .map_err(|_| Status::invalid_argument("the cluster secret is not a valid header"))?;
        request
            .metadata_mut()
            .insert("x-mirage-cluster-secret", secret);
        crate::request_id::attach(request.metadata_mut());
        let mut stream = client
            .do_action(request)
            .await
            .map_err(|status| unreachable_named(peer, status))?
            .into_inner();
        let mut chunks = Vec::new();
        while let Some(chunk) = stream.next().await {
            chunks.push(chunk?.body);
        }
        Ok(chunks)
    }
}

impl RemoteObjects for PeerObjects {
    fn fetch(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        let mut failures = Vec::new();
        for peer in &self.peers {
            match self.runtime.block_on(self.call(peer, GET_OBJECT, key)) {
                Ok(chunks) => return Ok(Some(chunks.concat())),
                Err(status) if status.code() == tonic::Code::NotFound => {}
                Err(status) => failures.push(format!("{peer}: {}", status.message())),
            }
        }
        if failures.len() == self.peers.len() && !failures.is_empty() {
            return Err(failures.join("; "));
        }
        Ok(None)
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, String> {
        let mut keys = std::collections::BTreeSet::new();
        let mut failures = Vec::new();
        for peer in &self.peers {
            match self.runtime.block_on(self.call(peer, LIST_OBJECTS, prefix)) {
                Ok(chunks) => {
                    let listed: Vec<String> = serde_json::from_slice(&chunks.concat())
                        .map_err(|e| format!("{peer}: {e}"))?;
                    keys.extend(listed);
                }
                Err(status) => failures.push(format!("{peer}: {}", status.message())),
            }
        }
        if failures.len() == self.peers.len() && !failures.is_empty() {
            return Err(failures.join("; "));
        }
        Ok(keys.into_iter().collect())
    }
}

/// A failure on this side (the peer is down, TLS failed: the status has a source error) as
/// `UNAVAILABLE` naming the peer and the reason; the peer's own answers pass unchanged.
fn unreachable_named(peer: &str, status: Status) -> Status {
    let mut source = std::error::Error::source(&status);
    if source.is_none() {
        return status;
    }
    let mut reason = status.message().to_owned();
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    Status::unavailable(format!("cannot reach {peer}: {reason}"))
}

/// Answers an internal object action from this node's own store; `None` when `action` is
/// not one of them. Only callers holding the cluster secret may ask.
pub async fn object_action(
    storage: &ObjectStorage,
    caller: &Caller,
    action: &Action,
) -> Option<Result<Vec<FlightResult>, Status>> {
    let kind = action.r#type.as_str();
    if kind != GET_OBJECT && kind != LIST_OBJECTS {
        return None;
    }
    if !caller.cluster {
        return Some(Err(status::error(
            mirage_proto::v1::ErrorCode::PermissionDenied,
            format!("{kind} is for cluster members only"),
        )));
    }
    let Ok(key) = std::str::from_utf8(&action.body).map(str::to_owned) else {
        return Some(Err(status::invalid(
            "body",
            "must be an object key in UTF-8",
        )));
    };
    let storage = storage.clone();
    let list = kind == LIST_OBJECTS;
    let answer = tokio::task::spawn_blocking(move || {
        if list {
            let keys = storage
                .list(&key)
                .map_err(|e| status::internal(e.to_string()))?;
            let json = serde_json::to_vec(&keys).map_err(|e| status::internal(e.to_string()))?;
            return Ok(vec![FlightResult { body: json.into() }]);
        }
        match storage.get_bytes_here(&key) {
            Ok(bytes) => {
                // Chunks are views of the one buffer read, not copies.
                let bytes = Bytes::from(bytes);
                Ok((0..bytes.len())
                    .step_by(CHUNK_BYTES)
                    .map(|start| FlightResult {
                        body: bytes.slice(start..bytes.len().min(start + CHUNK_BYTES)),
                    })
                    .collect())
            }
            Err(StorageError::NotFound { .. }) => {
                Err(status::not_found(format!("no object {key} here")))
            }
            Err(other) => Err(status::internal(other.to_string())),
        }
    })
    .await
    .map_err(|e| status::internal(format!("reading an object failed: {e}")));
    Some(answer.and_then(|inner| inner))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/auth")
            .join(name);
        std::fs::read(path).expect("a TLS fixture")
    }

    fn peers(tls: Option<ClientTlsConfig>) -> PeerObjects {
        PeerObjects::new(
            vec!["127.0.0.1:1".into()],
            "secret".into(),
            tls,
            Handle::current(),
        )
    }

    #[tokio::test]
    async fn peers_are_dialled_with_the_nodes_tls_and_one_channel_each() {
        super::super::auth::tls::install_crypto_provider();
        let tls = ClientTlsConfig::new()
            .ca_certificate(tonic::transport::Certificate::from_pem(fixture("ca.pem")));
        let secure = peers(Some(tls));
        let endpoint = secure.endpoint("127.0.0.1:1").expect("endpoint");
        assert_eq!(endpoint.uri().scheme_str(), Some("https"));
        let plain = peers(None);
        let endpoint = plain.endpoint("127.0.0.1:1").expect("endpoint");
        assert_eq!(endpoint.uri().scheme_str(), Some("http"));

        secure.channel("127.0.0.1:1").expect("channel");
        secure.channel("127.0.0.1:1").expect("the same channel");
        secure.channel("127.0.0.1:2").expect("another peer's");
        let channels = secure.channels.lock().expect("not poisoned");
        assert_eq!(channels.len(), 2, "one channel per peer, kept");
    }

    #[tokio::test]
    async fn an_unreachable_peer_is_named_with_the_reason() {
        let objects = peers(None);
        let error = objects
            .call("127.0.0.1:1", GET_OBJECT, "datasets/x")
            .await
            .expect_err("nothing listens on port 1");
        assert_eq!(error.code(), tonic::Code::Unavailable, "{error:?}");
        assert!(
            error.message().contains("cannot reach 127.0.0.1:1"),
            "{error:?}"
        );
    }
}
