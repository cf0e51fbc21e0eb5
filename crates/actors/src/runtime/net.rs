//! [`ActorNet`]: this node's end of the actor network. A `ractor_cluster` node server
//! listens on the actor address; sessions to peers authenticate with the cluster secret
//! (a challenge on the shared cookie, so the secret never crosses the wire, and a peer with
//! another secret gets no session). Once a session is up, the two nodes mirror each other's
//! pg groups, so [`super::ActorGroups`] lookups return remote actors as well as local ones.
//!
//! [`ActorNet::connect`] keeps a link to one peer: a background task connects, watches the
//! session and reconnects with exponential backoff whenever it is missing.
//!
//! A node wires it up as: `ActorNet::start(node, actor_addr, secret)`, `connect` for every
//! configured peer, a [`super::NodeSupervisor`] on every node and a
//! [`super::ClusterSupervisor`] only on the Raft leader, all with the same
//! [`super::ActorGroups`] (the default one in production).
//!
//! Two nodes that connect to each other at once end up with one session (ractor_cluster
//! keeps the one opened by the node whose name sorts last). A link recognises a session
//! the peer opened by the listen address the peer announces (`<bind ip>:<port>`), so a
//! peer should be configured by the address it binds; one that binds `0.0.0.0` is only
//! recognised by the session this node opened.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use mirage_core::NodeId;
use ractor::{Actor, ActorRef};
use ractor_cluster::node::NodeConnectionMode;
use ractor_cluster::{NodeServer, NodeServerMessage};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use super::error::{RuntimeError, RuntimeResult};

/// How long a call to the node server may take before it counts as unreachable.
const SERVER_CALL: Duration = Duration::from_secs(5);

/// The name this node goes by on the actor network: `mirage-<id>`.
pub fn actor_node_name(node: NodeId) -> String {
    format!("mirage-{}", node.0)
}

/// How a link to a peer is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkConfig {
    /// The wait after the first failed attempt.
    pub initial_backoff: Duration,
    /// The longest wait between attempts (the backoff doubles up to it).
    pub max_backoff: Duration,
    /// How long a new connection may take to authenticate before the attempt counts as
    /// failed (a peer with another secret never does).
    pub handshake_timeout: Duration,
    /// How often a live session is checked.
    pub check_interval: Duration,
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(3),
            check_interval: Duration::from_millis(500),
        }
    }
}

/// An authenticated session with a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerSession {
    /// The peer's full name, `mirage-<id>@<host>`.
    pub name: String,
    /// The address the peer's node server listens on, as it announced it.
    pub listen_address: String,
    /// The other end of the TCP connection.
    pub peer_address: String,
    /// Whether the peer opened the connection.
    pub inbound: bool,
}

/// This node's end of the actor network: a node server and the links it keeps to peers.
pub struct ActorNet {
    node: NodeId,
    local_addr: SocketAddr,
    server: ActorRef<NodeServerMessage>,
    config: LinkConfig,
    links: Mutex<BTreeMap<String, JoinHandle<()>>>,
}

impl std::fmt::Debug for ActorNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActorNet")
            .field("node", &self.node)
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl ActorNet {
    /// Starts the node server for `node` on `addr` (port 0 picks a free port; see
    /// [`Self::local_addr`]), authenticating peers with `secret`.
    pub async fn start(node: NodeId, addr: SocketAddr, secret: &str) -> RuntimeResult<Self> {
        Self::start_with(node, addr, secret, LinkConfig::default()).await
    }

    /// [`Self::start`] with explicit link settings.
    pub async fn start_with(
        node: NodeId,
        addr: SocketAddr,
        secret: &str,
        config: LinkConfig,
    ) -> RuntimeResult<Self> {
        let local_addr = resolve_port(addr)?;
        // The host part names this node to its peers and is how a peer that connected to
        // us is recognised as the one a link points at.
        let host = local_addr.ip().to_string();
        let server = NodeServer::new(
            local_addr.port(),
            secret.to_owned(),
            actor_node_name(node),
            host,
            None,
            Some(NodeConnectionMode::Isolated),
        )
        .with_listen_addr(local_addr.ip());
        let (server, _) = Actor::spawn(None, server, ())
            .await
            .map_err(|err| net_error(format!("cannot listen on {local_addr}: {err}")))?;
        info!(%node, %local_addr, "actor network listening");
        Ok(Self {
            node,
            local_addr,
            server,
            config,
            links: Mutex::new(BTreeMap::new()),
        })
    }

    /// The address the node server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// This node's id.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// Keeps a session with the peer listening on `peer` (`host:port`): connects now in the
    /// background and again, with backoff, whenever the session is missing. Calling it
    /// again for the same peer does nothing.
    pub fn connect(&self, peer: impl Into<String>) {
        let peer = peer.into();
        let mut links = self.links.lock().unwrap_or_else(|e| e.into_inner());
        if links.get(&peer).is_some_and(|task| !task.is_finished()) {
            return;
        }
        let task = tokio::spawn(keep_link(self.server.clone(), peer.clone(), self.config));
        links.insert(peer, task);
    }

    /// Stops keeping the link to `peer` (an open session stays until it drops).
    pub fn disconnect(&self, peer: &str) {
        let mut links = self.links.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(task) = links.remove(peer) {
            task.abort();
        }
    }

    /// One connection attempt to `peer`, without waiting for it to authenticate.
    pub async fn connect_once(&self, peer: &str) -> RuntimeResult<()> {
        ractor_cluster::client_connect(&self.server, peer)
            .await
            .map_err(|err| net_error(format!("cannot connect to {peer}: {err}")))
    }

    /// The authenticated sessions, by peer name.
    pub async fn sessions(&self) -> RuntimeResult<Vec<PeerSession>> {
        sessions(&self.server).await
    }

    /// Waits until at least `count` sessions are authenticated; returns them, or the ones
    /// there are after `timeout`.
    pub async fn wait_for_sessions(
        &self,
        count: usize,
        timeout: Duration,
    ) -> RuntimeResult<Vec<PeerSession>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let sessions = self.sessions().await?;
            if sessions.len() >= count || tokio::time::Instant::now() >= deadline {
                return Ok(sessions);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the links and the node server (closing every session).
    pub async fn shutdown(&self) {
        self.stop_links();
        let wait = Some(Duration::from_secs(2));
        self.server.stop_children_and_wait(None, wait).await;
        if let Err(err) = self.server.stop_and_wait(None, wait).await {
            debug!(error = %err, "node server already stopped");
        }
        info!(node = %self.node, "actor network stopped");
    }

    fn stop_links(&self) {
        let mut links = self.links.lock().unwrap_or_else(|e| e.into_inner());
        for (_, task) in std::mem::take(&mut *links) {
            task.abort();
        }
    }
}

impl Drop for ActorNet {
    fn drop(&mut self) {
        self.stop_links();
        self.server.stop_children(None);
        self.server.stop(None);
    }
}

/// `addr` with its port made concrete: port 0 is swapped for a free one. (The node server
/// does not say which port it got, and peers and tests need to know.)
fn resolve_port(addr: SocketAddr) -> RuntimeResult<SocketAddr> {
    if addr.port() != 0 {
        return Ok(addr);
    }
    let probe = std::net::TcpListener::bind(addr)
        .map_err(|err| net_error(format!("cannot bind {addr}: {err}")))?;
    probe
        .local_addr()
        .map_err(|err| net_error(format!("cannot read the bound address of {addr}: {err}")))
}

async fn sessions(server: &ActorRef<NodeServerMessage>) -> RuntimeResult<Vec<PeerSession>> {
    let reply = server
        .call(NodeServerMessage::GetSessions, Some(SERVER_CALL))
        .await
        .map_err(|err| net_error(format!("the node server is gone: {err}")))?
        .success_or_else(|| net_error("the node server did not answer".to_owned()))?;
    let mut sessions: Vec<PeerSession> = reply
        .into_values()
        .filter_map(|session| {
            let name = session.peer_name?;
            Some(PeerSession {
                name: name.name,
                listen_address: name.connection_string,
                peer_address: session.peer_addr,
                inbound: session.is_server,
            })
        })
        .collect();
    sessions.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(sessions)
}

/// The session `peer` is linked by, if one is up: an outgoing one to its address, or any
/// session from the node that announced that address (or whose name we learned).
async fn linked(
    server: &ActorRef<NodeServerMessage>,
    peer: &str,
    known_name: Option<&str>,
) -> RuntimeResult<Option<PeerSession>> {
    let addresses: Vec<String> = match tokio::net::lookup_host(peer).await {
        Ok(found) => found.map(|addr| addr.to_string()).collect(),
        Err(_) => Vec::new(),
    };
    let found = sessions(server).await?.into_iter().find(|session| {
        known_name == Some(session.name.as_str())
            || session.listen_address == peer
            || addresses.contains(&session.listen_address)
            || (!session.inbound && addresses.contains(&session.peer_address))
    });
    Ok(found)
}

/// Keeps a session with `peer` until aborted.
async fn keep_link(server: ActorRef<NodeServerMessage>, peer: String, config: LinkConfig) {
    let mut backoff = config.initial_backoff;
    let mut known_name: Option<String> = None;
    let mut was_up = false;
    loop {
        match linked(&server, &peer, known_name.as_deref()).await {
            Ok(Some(session)) => {
                if !was_up {
                    info!(%peer, name = %session.name, "actor network session up");
                }
                was_up = true;
                known_name = Some(session.name);
                backoff = config.initial_backoff;
                tokio::time::sleep(config.check_interval).await;
                continue;
            }
            Ok(None) => {}
            Err(err) => {
                // The node server is gone: nothing left to link.
                debug!(%peer, error = %err, "link stopped");
                return;
            }
        }
        if was_up {
            warn!(%peer, "actor network session lost; reconnecting");
            was_up = false;
        }
        if attempt(&server, &peer, known_name.as_deref(), config).await {
            continue;
        }
        debug!(%peer, backoff_ms = backoff.as_millis() as u64, "no session yet; retrying");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(config.max_backoff);
    }
}

/// One connection to `peer`; whether a session authenticated within the handshake timeout.
async fn attempt(
    server: &ActorRef<NodeServerMessage>,
    peer: &str,
    known_name: Option<&str>,
    config: LinkConfig,
) -> bool {
    if let Err(err) = ractor_cluster::client_connect(server, peer).await {
        debug!(%peer, error = %err, "cannot connect");
        return false;
    }
    let deadline = tokio::time::Instant::now() + config.handshake_timeout;
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(25)).await;
        if let Ok(Some(_)) = linked(server, peer, known_name).await {
            return true;
        }
    }
    warn!(%peer, "the peer did not authenticate (another cluster secret?)");
    false
}

fn net_error(reason: String) -> RuntimeError {
    RuntimeError::Net { reason }
}
