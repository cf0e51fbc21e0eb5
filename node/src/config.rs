//! Loading a node's configuration: defaults, then a TOML file, then `MIRAGE_*` environment
//! variables. The settings and their validation live in `mirage_core::config`.

use std::path::Path;

use anyhow::Context;
use mirage_core::config::NodeConfig;

/// The environment variables read, and the setting each overrides.
pub const ENVIRONMENT: [(&str, &str); 5] = [
    ("MIRAGE_NODE_ID", "node_id"),
    ("MIRAGE_DATA_DIR", "data_dir"),
    ("MIRAGE_GRPC_ADDR", "grpc_addr"),
    ("MIRAGE_FLIGHT_ADDR", "flight_addr"),
    ("MIRAGE_OBJECT_STORE", "object_store"),
];

/// Loads and validates a node config from an optional file and an environment lookup.
pub fn load(
    file: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<NodeConfig> {
    let mut config = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            toml::from_str::<NodeConfig>(&text)
                .with_context(|| format!("{} is not a valid node config", path.display()))?
        }
        None => NodeConfig::default(),
    };
    for (variable, field) in ENVIRONMENT {
        let Some(value) = env(variable) else { continue };
        let bad = |e: &dyn std::fmt::Display| {
            anyhow::anyhow!("{variable}={value:?} is not a valid {field}: {e}")
        };
        match field {
            "node_id" => config.node_id = value.parse().map_err(|e| bad(&e))?,
            "data_dir" => config.data_dir = value.clone().into(),
            "grpc_addr" => config.grpc_addr = value.parse().map_err(|e| bad(&e))?,
            "flight_addr" => config.flight_addr = value.parse().map_err(|e| bad(&e))?,
            _ => config.object_store = value.clone(),
        }
    }
    let origin = file.map_or_else(|| "the defaults".to_string(), |p| p.display().to_string());
    config
        .validate()
        .with_context(|| format!("in {origin} (after MIRAGE_* variables)"))?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn every_file_in_cluster_configs_loads() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cluster-configs");
        let mut files = Vec::new();
        let mut dirs = vec![root];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("cluster-configs exists") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "toml") {
                    files.push(path);
                }
            }
        }
        assert!(files.len() >= 5, "{files:?}");
        for file in files {
            load(Some(&file), no_env).unwrap_or_else(|e| panic!("{}: {e:#}", file.display()));
        }
    }

    #[test]
    fn the_three_node_configs_name_each_other() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cluster-configs/three-node");
        for id in 1..=3u64 {
            let config = load(Some(&dir.join(format!("node-{id}.toml"))), no_env).expect("loads");
            assert_eq!(config.node_id, id);
            let mut peers: Vec<u64> = config.peers.iter().map(|p| p.node_id).collect();
            peers.sort_unstable();
            assert_eq!(peers, (1..=3).filter(|p| *p != id).collect::<Vec<_>>());
        }
    }

    #[test]
    fn environment_overrides_the_file_and_bad_values_are_named() {
        let env = |name: &str| match name {
            "MIRAGE_NODE_ID" => Some("7".to_string()),
            "MIRAGE_GRPC_ADDR" => Some("127.0.0.1:9000".to_string()),
            _ => None,
        };
        let config = load(None, env).expect("loads");
        assert_eq!(config.node_id, 7);
        assert_eq!(config.grpc_addr.port(), 9000);
        let err = load(None, |n: &str| {
            (n == "MIRAGE_NODE_ID").then(|| "seven".to_string())
        })
        .expect_err("bad id");
        assert!(
            format!("{err:#}").contains("MIRAGE_NODE_ID=\"seven\""),
            "{err:#}"
        );
        let err = load(None, |n: &str| {
            (n == "MIRAGE_FLIGHT_ADDR").then(|| "127.0.0.1:7700".to_string())
        })
        .expect_err("same address");
        assert!(format!("{err:#}").contains("flight_addr"), "{err:#}");
    }

    #[test]
    fn unknown_settings_and_missing_files_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("node.toml");
        std::fs::write(&path, "node_id = 1\ngrpc_adr = \"127.0.0.1:1\"\n").expect("write");
        let err = load(Some(&path), no_env).expect_err("typo");
        let text = format!("{err:#}");
        assert!(
            text.contains("node.toml") && text.contains("grpc_adr"),
            "{text}"
        );
        let err = load(Some(&dir.path().join("none.toml")), no_env).expect_err("missing");
        assert!(format!("{err:#}").contains("none.toml"), "{err:#}");
    }
}
