//! The configuration of a Mirage node: identity, addresses, storage and resources.
//!
//! Loading (defaults, then a TOML file, then `MIRAGE_*` environment variables, then the
//! command line) lives in the binary; this module holds the typed settings and their
//! validation, so every entry point checks them the same way.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

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
    /// Object store for datasets, models and outputs: `file:///path` or `s3://bucket/prefix`;
    /// empty = `<data_dir>/objects` on the local filesystem.
    pub object_store: String,
    /// The other members to form a cluster with; empty = a single-node cluster.
    pub peers: Vec<PeerConfig>,
    /// What the node offers.
    pub resources: ResourcesConfig,
    /// The secret shared by the members of a multi-node cluster, presented on every internal
    /// Raft call (`MIRAGE_CLUSTER_SECRET` overrides it). Never written back out, so printing
    /// a config does not leak it.
    #[serde(skip_serializing)]
    pub cluster_secret: Option<String>,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            node_id: 1,
            data_dir: PathBuf::from("mirage-data"),
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 7700)),
            flight_addr: SocketAddr::from(([127, 0, 0, 1], 7701)),
            object_store: String::new(),
            peers: Vec::new(),
            resources: ResourcesConfig::default(),
            cluster_secret: None,
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
    fn each_rule_names_its_field() {
        let base = NodeConfig::default();
        let peer = |id, port| PeerConfig {
            node_id: id,
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], port)),
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
        ];
        for (config, field) in cases {
            let err = config.validate().expect_err(field);
            assert_eq!(err.field, field, "{err}");
        }
    }
}
