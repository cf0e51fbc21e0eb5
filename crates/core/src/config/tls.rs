//! `[tls]`: the certificate a node serves its gRPC API with, and how it checks its peers.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{ConfigError, invalid};

/// TLS for the gRPC server and the node-to-node (Raft) client.
///
/// With `cert_file` and `key_file` set, the node serves TLS and dials its peers with
/// `https`, trusting `ca_file` (or, without one, its own certificate). A node whose
/// `grpc_addr` is not a loopback address must have them, or say `allow_plaintext = true`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain the node presents (as a server, and as a client to peers).
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`.
    pub key_file: Option<PathBuf>,
    /// PEM CA certificate(s): peers' server certificates are checked against it, and the
    /// server then also requires client certificates it signed (mutual TLS between nodes).
    pub ca_file: Option<PathBuf>,
    /// The name peers' certificates must carry; default: the host of each peer's address
    /// (an IP address, so the certificates need it as an IP subject alternative name).
    pub server_name: Option<String>,
    /// Serve plaintext gRPC on a non-loopback address (only on a trusted network).
    pub allow_plaintext: bool,
}

impl TlsConfig {
    /// Whether the node serves TLS.
    pub fn enabled(&self) -> bool {
        self.cert_file.is_some()
    }

    /// Checks the settings, and that a node reachable from other hosts is not plaintext by
    /// accident.
    pub fn validate(&self, grpc_addr: SocketAddr) -> Result<(), ConfigError> {
        match (&self.cert_file, &self.key_file) {
            (Some(_), None) => {
                return Err(invalid(
                    "tls.key_file",
                    "is needed with tls.cert_file: name the certificate's private key (PEM)",
                ));
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "tls.cert_file",
                    "is needed with tls.key_file: name the certificate chain (PEM)",
                ));
            }
            _ => {}
        }
        if !self.enabled() {
            if self.ca_file.is_some() {
                return Err(invalid(
                    "tls.ca_file",
                    "needs tls.cert_file and tls.key_file: set them or remove tls.ca_file",
                ));
            }
            if !grpc_addr.ip().is_loopback() && !self.allow_plaintext {
                return Err(invalid(
                    "tls.cert_file",
                    format!(
                        "grpc_addr {grpc_addr} is reachable from other hosts: set tls.cert_file \
                         and tls.key_file, or tls.allow_plaintext = true on a trusted network"
                    ),
                ));
            }
        } else if self.allow_plaintext {
            return Err(invalid(
                "tls.allow_plaintext",
                "contradicts tls.cert_file: remove one of them",
            ));
        }
        if self
            .server_name
            .as_ref()
            .is_some_and(|name| name.trim().is_empty())
        {
            return Err(invalid(
                "tls.server_name",
                "must not be empty: leave it out to use each peer's address",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().expect("address")
    }

    #[test]
    fn plaintext_is_refused_off_loopback_unless_allowed() {
        let plain = TlsConfig::default();
        plain.validate(addr("127.0.0.1:7700")).expect("loopback");
        plain.validate(addr("[::1]:7700")).expect("loopback v6");
        let error = plain.validate(addr("10.0.0.5:7700")).expect_err("exposed");
        assert_eq!(error.field, "tls.cert_file");
        assert!(error.message.contains("tls.allow_plaintext"), "{error}");
        assert!(error.message.contains("tls.key_file"), "{error}");
        let allowed = TlsConfig {
            allow_plaintext: true,
            ..TlsConfig::default()
        };
        allowed.validate(addr("0.0.0.0:7700")).expect("allowed");
    }

    #[test]
    fn each_tls_rule_names_its_field() {
        let cert = Some(PathBuf::from("node.pem"));
        let key = Some(PathBuf::from("node.key.pem"));
        let exposed = addr("10.0.0.5:7700");
        let cases = [
            (
                TlsConfig {
                    cert_file: cert.clone(),
                    ..TlsConfig::default()
                },
                "tls.key_file",
            ),
            (
                TlsConfig {
                    key_file: key.clone(),
                    ..TlsConfig::default()
                },
                "tls.cert_file",
            ),
            (
                TlsConfig {
                    ca_file: Some("ca.pem".into()),
                    allow_plaintext: true,
                    ..TlsConfig::default()
                },
                "tls.ca_file",
            ),
            (
                TlsConfig {
                    cert_file: cert.clone(),
                    key_file: key.clone(),
                    allow_plaintext: true,
                    ..TlsConfig::default()
                },
                "tls.allow_plaintext",
            ),
            (
                TlsConfig {
                    cert_file: cert.clone(),
                    key_file: key.clone(),
                    server_name: Some(" ".into()),
                    ..TlsConfig::default()
                },
                "tls.server_name",
            ),
        ];
        for (config, field) in cases {
            let error = config.validate(exposed).expect_err(field);
            assert_eq!(error.field, field, "{error}");
        }
        TlsConfig {
            cert_file: cert,
            key_file: key,
            ca_file: Some("ca.pem".into()),
            ..TlsConfig::default()
        }
        .validate(exposed)
        .expect("complete");
    }
}
