//! The configuration of a Mirage node: identity, addresses, storage and resources.
//!
//! Loading (defaults, then a TOML file, then `MIRAGE_*` environment variables, then the
//! command line) lives in the binary; this module holds the typed settings and their
//! validation, so every entry point checks them the same way.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

mod auth;
mod rate_limits;
mod tls;

pub use auth::{AuthConfig, OidcConfig};
pub use rate_limits::{Limit, RateLimitConfig, TenantLimits};
pub use tls::TlsConfig;

/// Why a configuration is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid node config: {field}: {message}")]
pub struct ConfigError {
    /// The offending setting, as written in the file (e.g. `peers[1].grpc_addr`).
    pub field: String,
    /// What is wrong and what to do.
    pub message: String,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        field: field.into(),
        message: message.into(),
    }
}

/// Another member this node contacts when the cluster forms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// The peer's Raft id.
    pub node_id: u64,
    /// The peer's gRPC address.
    pub grpc_addr: SocketAddr,
    /// The peer's actor address (ractor_cluster); default: its gRPC port + 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_addr: Option<SocketAddr>,
    /// The peer's Arrow Flight address; default: its gRPC port + 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flight_addr: Option<SocketAddr>,
}

impl PeerConfig {
    /// The peer's Flight address, with the default filled in.
    pub fn flight_addr(&self) -> SocketAddr {
        self.flight_addr.unwrap_or_else(|| {
            SocketAddr::new(self.grpc_addr.ip(), self.grpc_addr.port().wrapping_add(1))
        })
    }

    /// The peer's actor address, with the default filled in.
    pub fn actor_addr(&self) -> SocketAddr {
        self.actor_addr
            .unwrap_or_else(|| default_actor_addr(self.grpc_addr))
    }
}

/// The actor (ractor_cluster) address beside a gRPC address: the same host, port + 2.
pub fn default_actor_addr(grpc_addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(grpc_addr.ip(), grpc_addr.port().wrapping_add(2))
}

/// Timings of the cluster runtime: Raft elections and compaction, job leases, heartbeats
/// and the scheduler. The defaults suit a LAN; tests shorten them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterTimingConfig {
    /// How often the Raft leader sends heartbeats, in milliseconds.
    pub raft_heartbeat_ms: u64,
    /// Lower bound of the randomized election timeout, in milliseconds.
    pub election_timeout_min_ms: u64,
    /// Upper bound of the randomized election timeout, in milliseconds.
    pub election_timeout_max_ms: u64,
    /// Build a Raft snapshot (and compact the log) after this many entries.
    pub snapshot_after_logs: u64,
    /// How long a job's lease lasts unless its node's heartbeat renews it, in milliseconds.
    pub lease_ms: u64,
    /// How often a node heartbeats (renewing its leases), in milliseconds.
    pub node_heartbeat_ms: u64,
    /// How often the scheduler runs a round, in milliseconds.
    pub schedule_ms: u64,
}

impl Default for ClusterTimingConfig {
    fn default() -> Self {
        Self {
            raft_heartbeat_ms: 100,
            election_timeout_min_ms: 500,
            election_timeout_max_ms: 1000,
            snapshot_after_logs: 5000,
            lease_ms: 10_000,
            node_heartbeat_ms: 2_000,
            schedule_ms: 500,
        }
    }
}

impl ClusterTimingConfig {
    /// Checks the timings against each other.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("cluster.raft_heartbeat_ms", self.raft_heartbeat_ms),
            (
                "cluster.election_timeout_min_ms",
                self.election_timeout_min_ms,
            ),
            ("cluster.snapshot_after_logs", self.snapshot_after_logs),
            ("cluster.lease_ms", self.lease_ms),
            ("cluster.node_heartbeat_ms", self.node_heartbeat_ms),
            ("cluster.schedule_ms", self.schedule_ms),
        ];
        for (field, value) in positive {
            if value == 0 {
                return Err(invalid(field, "must be at least 1"));
            }
        }
        if self.election_timeout_max_ms <= self.election_timeout_min_ms {
            return Err(invalid(
                "cluster.election_timeout_max_ms",
                format!(
                    "must be above election_timeout_min_ms ({})",
                    self.election_timeout_min_ms
                ),
            ));
        }
        if self.election_timeout_min_ms <= self.raft_heartbeat_ms {
            return Err(invalid(
                "cluster.election_timeout_min_ms",
                format!(
                    "must be above raft_heartbeat_ms ({}), or followers start elections \
                     between heartbeats",
                    self.raft_heartbeat_ms
                ),
            ));
        }
        if self.lease_ms < self.node_heartbeat_ms.saturating_mul(2) {
            return Err(invalid(
                "cluster.lease_ms",
                format!(
                    "must be at least twice node_heartbeat_ms ({}), or one late heartbeat \
                     loses every lease",
                    self.node_heartbeat_ms
                ),
            ));
        }
        Ok(())
    }
}

/// A GPU the operator declares (instead of detection).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuConfig {
    /// Device index.
    pub index: u32,
    /// Memory in MiB.
    pub memory_mib: u64,
}

/// What the node offers to the scheduler; unset values are detected at start.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResourcesConfig {
    /// CPU cores offered.
    pub cpu_cores: Option<u32>,
    /// Memory offered, in MiB.
    pub memory_mib: Option<u64>,
    /// GPUs offered; empty = detect (none without the `cuda` feature).
    pub gpus: Vec<GpuConfig>,
}

/// Serving rows straight from warm models (`GenerationService.SampleRows`): the per-node
/// model cache and the limits of one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServingConfig {
    /// Most memory the warm models of this node may take, in bytes (estimated from the
    /// size of their stored files); least recently used models are dropped beyond it.
    pub cache_bytes: u64,
    /// A warm model unused for this many seconds is dropped.
    pub ttl_secs: u64,
    /// Most rows one `SampleRows` call may ask for.
    pub max_stream_rows: u64,
    /// Rows per streamed batch when a request leaves `batch_rows` at 0.
    pub default_batch_rows: u32,
    /// Most rows per streamed batch; larger requested batches are cut to this.
    pub max_batch_rows: u32,
    /// Batches sampled ahead of a slow client before sampling waits for it.
    pub prefetch_batches: u32,
    /// Most bytes of one streamed message: a batch that encodes larger is sent as several
    /// smaller ones. gRPC clients refuse messages over 4 MiB unless told otherwise.
    pub max_message_bytes: u64,
}

impl Default for ServingConfig {
    fn default() -> Self {
        Self {
            cache_bytes: 2 << 30,
            ttl_secs: 600,
            max_stream_rows: 100_000_000,
            default_batch_rows: 4096,
            max_batch_rows: 65_536,
            prefetch_batches: 4,
            max_message_bytes: 4_000_000,
        }
    }
}

impl ServingConfig {
    /// Checks the settings one by one and against each other.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("serving.cache_bytes", self.cache_bytes),
            ("serving.ttl_secs", self.ttl_secs),
            ("serving.max_stream_rows", self.max_stream_rows),
            (
                "serving.default_batch_rows",
                u64::from(self.default_batch_rows),
            ),
            ("serving.max_batch_rows", u64::from(self.max_batch_rows)),
            ("serving.prefetch_batches", u64::from(self.prefetch_batches)),
        ];
        for (field, value) in positive {
            if value == 0 {
                return Err(invalid(field, "must be at least 1"));
            }
        }
        if self.max_message_bytes < 65_536 {
            return Err(invalid(
                "serving.max_message_bytes",
                "must be at least 65536: smaller messages cost more framing than rows",
            ));
        }
        if self.default_batch_rows > self.max_batch_rows {
            return Err(invalid(
                "serving.default_batch_rows",
                format!(
                    "must not exceed max_batch_rows ({}): lower it or raise max_batch_rows",
                    self.max_batch_rows
                ),
            ));
        }
        Ok(())
    }
}

/// One node's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeConfig {
    /// Raft id, unique in the cluster, ≥ 1.
    pub node_id: u64,
    /// Where the node keeps its Raft log, state and local objects.
    pub data_dir: PathBuf,
    /// The gRPC API and internal RPC address.
    pub grpc_addr: SocketAddr,
    /// The Arrow Flight address.
    pub flight_addr: SocketAddr,
    /// Where other members reach this node's actors (ractor_cluster); default: the gRPC
    /// port + 2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_addr: Option<SocketAddr>,
    /// Where the node serves Prometheus metrics and its health/readiness over HTTP
    /// (`/metrics`, `/health`, `/ready`); default: the gRPC port + 3.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_addr: Option<SocketAddr>,
    /// Object store for datasets, models and outputs: `file:///path` or `s3://bucket/prefix`;
    /// empty = `<data_dir>/objects` on the local filesystem.
    pub object_store: String,
    /// The other members to form a cluster with; empty = a single-node cluster.
    pub peers: Vec<PeerConfig>,
    /// What the node offers.
    pub resources: ResourcesConfig,
    /// Runtime timings (elections, leases, heartbeats, scheduling).
    pub cluster: ClusterTimingConfig,
    /// Serving rows from warm models (`[serving]`).
    #[serde(default)]
    pub serving: ServingConfig,
    /// The secret shared by the members of a multi-node cluster, presented on every internal
    /// Raft call (`MIRAGE_CLUSTER_SECRET` overrides it). Never written back out, so printing
    /// a config does not leak it.
    #[serde(skip_serializing)]
    pub cluster_secret: Option<String>,
    /// How public API callers authenticate (API keys always; OIDC tokens when set).
    pub auth: AuthConfig,
    /// Per-tenant, per-method request rate limits of the public API.
    pub rate_limits: RateLimitConfig,
    /// TLS for the gRPC server and node-to-node calls.
    pub tls: TlsConfig,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            node_id: 1,
            data_dir: PathBuf::from("mirage-data"),
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 7700)),
            flight_addr: SocketAddr::from(([127, 0, 0, 1], 7701)),
            actor_addr: None,
            metrics_addr: None,
            object_store: String::new(),
            peers: Vec::new(),
            resources: ResourcesConfig::default(),
            cluster: ClusterTimingConfig::default(),
            serving: ServingConfig::default(),
            cluster_secret: None,
            auth: AuthConfig::default(),
            rate_limits: RateLimitConfig::default(),
            tls: TlsConfig::default(),
        }
    }
}

impl NodeConfig {
    /// Checks the settings one by one and against each other.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.node_id == 0 {
            return Err(invalid("node_id", "must be at least 1 (Raft reserves 0)"));
        }
        if self.data_dir.as_os_str().is_empty() {
            return Err(invalid("data_dir", "must name a directory"));
        }
        if self.grpc_addr == self.flight_addr {
            return Err(invalid(
                "flight_addr",
                format!("must differ from grpc_addr ({})", self.grpc_addr),
            ));
        }
        if !(self.object_store.is_empty()
            || self.object_store.starts_with("file://")
            || self.object_store.starts_with("s3://"))
        {
            return Err(invalid(
                "object_store",
                format!("{:?} must start with file:// or s3://", self.object_store),
            ));
        }
        let mut ids = HashSet::from([self.node_id]);
        let mut addrs = HashSet::from([self.grpc_addr]);
        for (i, peer) in self.peers.iter().enumerate() {
            if peer.node_id == 0 {
                return Err(invalid(format!("peers[{i}].node_id"), "must be at least 1"));
            }
            if !ids.insert(peer.node_id) {
                return Err(invalid(
                    format!("peers[{i}].node_id"),
                    format!(
                        "node id {} is used twice (or is this node's own id)",
                        peer.node_id
                    ),
                ));
            }
            if !addrs.insert(peer.grpc_addr) {
                return Err(invalid(
                    format!("peers[{i}].grpc_addr"),
                    format!(
                        "address {} is used twice (or is this node's own address)",
                        peer.grpc_addr
                    ),
                ));
            }
        }
        let actor_addr = self.actor_addr();
        if actor_addr == self.grpc_addr || actor_addr == self.flight_addr {
            return Err(invalid(
                "actor_addr",
                format!("{actor_addr} must differ from grpc_addr and flight_addr"),
            ));
        }
        let metrics_addr = self.metrics_addr();
        if [self.grpc_addr, self.flight_addr, actor_addr].contains(&metrics_addr) {
            return Err(invalid(
                "metrics_addr",
                format!("{metrics_addr} must differ from grpc_addr, flight_addr and actor_addr"),
            ));
        }
        self.cluster.validate()?;
        self.auth.validate()?;
        self.rate_limits.validate()?;
        self.tls.validate(self.grpc_addr)?;
        self.serving.validate()?;
        if let Some(secret) = &self.cluster_secret {
            validate_secret(secret).map_err(|message| invalid("cluster_secret", message))?;
        }
        if let Some(0) = self.resources.cpu_cores {
            return Err(invalid(
                "resources.cpu_cores",
                "must be at least 1 when set",
            ));
        }
        let mut gpus = HashSet::new();
        for (i, gpu) in self.resources.gpus.iter().enumerate() {
            if !gpus.insert(gpu.index) {
                return Err(invalid(
                    format!("resources.gpus[{i}].index"),
                    "GPU index used twice",
                ));
            }
            if gpu.memory_mib == 0 {
                return Err(invalid(
                    format!("resources.gpus[{i}].memory_mib"),
                    "must be at least 1",
                ));
            }
        }
        Ok(())
    }

    /// The actor (ractor_cluster) address, with the default filled in.
    pub fn actor_addr(&self) -> SocketAddr {
        self.actor_addr
            .unwrap_or_else(|| default_actor_addr(self.grpc_addr))
    }

    /// The metrics (HTTP) address, with the default filled in: the gRPC port + 3.
    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics_addr.unwrap_or_else(|| {
            SocketAddr::new(self.grpc_addr.ip(), self.grpc_addr.port().wrapping_add(3))
        })
    }

    /// The object store URL, with the default filled in.
    pub fn object_store_url(&self) -> String {
        if self.object_store.is_empty() {
            format!("file://{}", self.data_dir.join("objects").display())
        } else {
            self.object_store.clone()
        }
    }
}

/// Checks that a cluster secret can travel in a gRPC header: non-empty, visible ASCII only.
pub fn validate_secret(secret: &str) -> Result<(), &'static str> {
    if secret.is_empty() {
        return Err("must not be empty");
    }
    if !secret.bytes().all(|byte| byte.is_ascii_graphic()) {
        return Err("must hold only visible ASCII characters (no spaces or control characters)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        NodeConfig::default().validate().expect("valid");
        assert_eq!(
            NodeConfig::default().object_store_url(),
            "file://mirage-data/objects"
        );
    }

    #[test]
    fn serving_settings_default_and_name_their_field() {
        let config: NodeConfig =
            serde_json::from_str(r#"{"node_id": 2}"#).expect("no [serving] section");
        assert_eq!(config.serving, ServingConfig::default());
        assert_eq!(config.serving.cache_bytes, 2 * 1024 * 1024 * 1024);
        assert_eq!(config.serving.ttl_secs, 600);
        let config: NodeConfig = serde_json::from_str(r#"{"serving": {"ttl_secs": 5}}"#)
            .expect("a partial [serving] section");
        assert_eq!(config.serving.ttl_secs, 5);
        assert_eq!(config.serving.max_batch_rows, 65_536);
        let unknown = serde_json::from_str::<NodeConfig>(r#"{"serving": {"cache_size": 5}}"#);
        assert!(unknown.is_err(), "unknown serving keys are refused");
        type Change = fn(&mut ServingConfig);
        let cases: [(Change, &str); 8] = [
            (|s| s.cache_bytes = 0, "serving.cache_bytes"),
            (|s| s.ttl_secs = 0, "serving.ttl_secs"),
            (|s| s.max_stream_rows = 0, "serving.max_stream_rows"),
            (|s| s.default_batch_rows = 0, "serving.default_batch_rows"),
            (|s| s.max_batch_rows = 0, "serving.max_batch_rows"),
            (|s| s.prefetch_batches = 0, "serving.prefetch_batches"),
            (|s| s.max_message_bytes = 1000, "serving.max_message_bytes"),
            (
                |s| s.default_batch_rows = s.max_batch_rows + 1,
                "serving.default_batch_rows",
            ),
        ];
        for (change, field) in cases {
            let mut config = NodeConfig::default();
            change(&mut config.serving);
            let error = config.validate().expect_err(field);
            assert_eq!(error.field, field);
        }
    }

    #[test]
    fn the_actor_address_defaults_beside_the_grpc_address() {
        let config = NodeConfig::default();
        assert_eq!(
            config.actor_addr(),
            SocketAddr::from(([127, 0, 0, 1], 7702))
        );
        let peer: PeerConfig =
            serde_json::from_str(r#"{"node_id": 2, "grpc_addr": "127.0.0.1:7710"}"#).expect("peer");
        assert_eq!(peer.actor_addr(), SocketAddr::from(([127, 0, 0, 1], 7712)));
    }

    #[test]
    fn each_rule_names_its_field() {
        let base = NodeConfig::default();
        let peer = |id, port| PeerConfig {
            node_id: id,
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], port)),
            actor_addr: None,
            flight_addr: None,
        };
        let timing = |change: fn(&mut ClusterTimingConfig)| {
            let mut cluster = ClusterTimingConfig::default();
            change(&mut cluster);
            NodeConfig {
                cluster,
                ..NodeConfig::default()
            }
        };
        let cases: Vec<(NodeConfig, &str)> = vec![
            (
                NodeConfig {
                    node_id: 0,
                    ..base.clone()
                },
                "node_id",
            ),
            (
                NodeConfig {
                    data_dir: PathBuf::new(),
                    ..base.clone()
                },
                "data_dir",
            ),
            (
                NodeConfig {
                    flight_addr: base.grpc_addr,
                    ..base.clone()
                },
                "flight_addr",
            ),
            (
                NodeConfig {
                    object_store: "ftp://x".into(),
                    ..base.clone()
                },
                "object_store",
            ),
            (
                NodeConfig {
                    peers: vec![peer(1, 7800)],
                    ..base.clone()
                },
                "peers[0].node_id",
            ),
            (
                NodeConfig {
                    peers: vec![peer(2, 7800), peer(3, 7800)],
                    ..base.clone()
                },
                "peers[1].grpc_addr",
            ),
            (
                NodeConfig {
                    peers: vec![peer(2, 7700)],
                    ..base.clone()
                },
                "peers[0].grpc_addr",
            ),
            (
                NodeConfig {
                    resources: ResourcesConfig {
                        cpu_cores: Some(0),
                        ..ResourcesConfig::default()
                    },
                    ..base.clone()
                },
                "resources.cpu_cores",
            ),
            (
                NodeConfig {
                    cluster_secret: Some("two words".into()),
                    ..base.clone()
                },
                "cluster_secret",
            ),
            (
                NodeConfig {
                    cluster_secret: Some(String::new()),
                    ..base.clone()
                },
                "cluster_secret",
            ),
            (
                NodeConfig {
                    actor_addr: Some(base.flight_addr),
                    ..base.clone()
                },
                "actor_addr",
            ),
            (
                NodeConfig {
                    metrics_addr: Some(base.actor_addr()),
                    ..base.clone()
                },
                "metrics_addr",
            ),
            (timing(|c| c.lease_ms = 0), "cluster.lease_ms"),
            (timing(|c| c.schedule_ms = 0), "cluster.schedule_ms"),
            (
                timing(|c| c.election_timeout_max_ms = c.election_timeout_min_ms),
                "cluster.election_timeout_max_ms",
            ),
            (
                timing(|c| c.raft_heartbeat_ms = c.election_timeout_min_ms),
                "cluster.election_timeout_min_ms",
            ),
            (
                timing(|c| c.lease_ms = c.node_heartbeat_ms),
                "cluster.lease_ms",
            ),
        ];
        for (config, field) in cases {
            let err = config.validate().expect_err(field);
            assert_eq!(err.field, field, "{err}");
        }
    }
}
