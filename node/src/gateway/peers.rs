//! Objects from other members over Arrow Flight, for nodes that do not share one object
//! store: [`PeerObjects`] asks each peer's Flight service (with the cluster secret) for an
//! object or a listing, and the Flight service answers those two internal actions from its
//! own store only ([`object_action`]) — never asking further, so two nodes that both lack
//! an object cannot ask each other in circles.

use std::time::Duration;

use arrow_flight::flight_service_client::FlightServiceClient;
use arrow_flight::{Action, Result as FlightResult};
use bytes::Bytes;
use tokio::runtime::Handle;
use tokio_stream::StreamExt;
use tonic::Status;

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

/// Fetches objects from the other members' Flight services.
pub struct PeerObjects {
    peers: Vec<String>,
    secret: String,
    runtime: Handle,
}

impl std::fmt::Debug for PeerObjects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerObjects")
            .field("peers", &self.peers)
            .finish_non_exhaustive()
    }
}

impl PeerObjects {
    /// Asks the Flight services at `peers` (`host:port`), authenticated by `secret`.
    pub fn new(peers: Vec<String>, secret: String, runtime: Handle) -> Self {
        Self {
            peers,
            secret,
            runtime,
        }
    }

    async fn call(&self, peer: &str, kind: &str, body: &str) -> Result<Vec<Bytes>, Status> {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{peer}"))
            .map_err(|e| Status::invalid_argument(e.to_string()))?
            .connect_timeout(Duration::from_secs(2))
            .timeout(PEER_TIMEOUT)
            .connect()
            .await
            .map_err(|e| Status::unavailable(format!("cannot reach {peer}: {e}")))?;
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
        let mut stream = client.do_action(request).await?.into_inner();
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
            Ok(bytes) => Ok(bytes
                .chunks(CHUNK_BYTES)
                .map(|c| FlightResult {
                    body: Bytes::copy_from_slice(c),
                })
                .collect()),
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
