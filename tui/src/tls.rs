//! TLS for client connections to nodes, shared by the console and `mirage cluster status`:
//! the `--tls-*` options ([`TlsArgs`]), read and checked once into a [`ClientTls`] that
//! turns a node address into a tonic [`Endpoint`].
//!
//! A bare `HOST:PORT` (as the member list gives them) is dialled with TLS (`https`) when
//! `--tls-ca` is given or an address given says `https://`, and in plaintext otherwise;
//! `https://HOST:PORT` and `http://HOST:PORT` say so explicitly. TLS without `--tls-ca`
//! trusts the system's root certificates.

use std::path::{Path, PathBuf};

use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

use crate::{Error, Result};

/// The `--tls-*` options.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsArgs {
    /// PEM CA certificate the nodes' certificates must be signed by (a node's
    /// `[tls] ca_file`); with it, a bare HOST:PORT address is dialled with TLS.
    #[arg(long = "tls-ca", env = "MIRAGE_TLS_CA", value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// PEM client certificate (with --tls-key), for nodes whose `[tls] ca_file` makes them
    /// require one.
    #[arg(long = "tls-cert", env = "MIRAGE_TLS_CERT", value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long = "tls-key", env = "MIRAGE_TLS_KEY", value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// The name the nodes' certificates must carry (default: the host of each address).
    #[arg(
        long = "tls-server-name",
        env = "MIRAGE_TLS_SERVER_NAME",
        value_name = "NAME"
    )]
    pub server_name: Option<String>,
}

/// How each option is named in errors: the flag and its environment variable.
const CA: &str = "--tls-ca (MIRAGE_TLS_CA)";
const CERT: &str = "--tls-cert (MIRAGE_TLS_CERT)";
const KEY: &str = "--tls-key (MIRAGE_TLS_KEY)";
const SERVER_NAME: &str = "--tls-server-name (MIRAGE_TLS_SERVER_NAME)";

/// The checked TLS settings of a client: which scheme a bare address gets, and the tonic
/// TLS config for `https` addresses.
#[derive(Debug, Clone, Default)]
pub struct ClientTls {
    /// `None`: no `--tls-*` option was given (an `https` address trusts the system roots).
    config: Option<ClientTlsConfig>,
    /// Whether a bare `HOST:PORT` means `https` (`--tls-ca` or an `https` address given).
    by_default: bool,
}

impl ClientTls {
    /// Reads and checks the files `args` names. `addresses` are the addresses given on
    /// the command line: client-side options without `--tls-ca` make sense only when one
    /// of them says `https://`.
    pub fn new(args: &TlsArgs, addresses: &[String]) -> Result<Self> {
        let https_given = addresses.iter().any(|address| is_https(address));
        if args.ca.is_none() && !https_given {
            let unused = [
                (args.cert.is_some(), CERT),
                (args.key.is_some(), KEY),
                (args.server_name.is_some(), SERVER_NAME),
            ];
            if let Some((_, option)) = unused.iter().find(|(given, _)| *given) {
                return Err(Error::Tls {
                    option,
                    reason: "is used only over TLS: add --tls-ca FILE (the CA that signed \
                             the nodes' certificates) or give the address as https://HOST:PORT"
                        .into(),
                });
            }
            return Ok(Self::default());
        }
        if args.ca.is_none() && args.cert.is_none() && args.server_name.is_none() {
            // Only `https` addresses: the system roots, as `endpoint` would use anyway.
            return Ok(Self {
                config: None,
                by_default: true,
            });
        }
        install_crypto_provider();
        let mut config = ClientTlsConfig::new();
        config = match &args.ca {
            Some(ca) => {
                config.ca_certificate(Certificate::from_pem(read_pem(CA, ca, "CERTIFICATE")?))
            }
            None => config.with_native_roots(),
        };
        match (&args.cert, &args.key) {
            (Some(cert), Some(key)) => {
                config = config.identity(Identity::from_pem(
                    read_pem(CERT, cert, "CERTIFICATE")?,
                    read_pem(KEY, key, "PRIVATE KEY")?,
                ));
            }
            (Some(_), None) => {
                return Err(Error::Tls {
                    option: KEY,
                    reason: "is needed with --tls-cert: name the certificate's private key (PEM)"
                        .into(),
                });
            }
            (None, Some(_)) => {
                return Err(Error::Tls {
                    option: CERT,
                    reason: "is needed with --tls-key: name the client certificate (PEM)".into(),
                });
            }
            (None, None) => {}
        }
        if let Some(name) = &args.server_name {
            config = config.domain_name(name.clone());
        }
        Ok(Self {
            config: Some(config),
            by_default: true,
        })
    }

    /// Whether a bare `HOST:PORT` is dialled with TLS.
    pub fn by_default(&self) -> bool {
        self.by_default
    }

    /// The URI `address` is dialled at: its own scheme, else `https` when TLS is on by
    /// default, else `http`.
    pub fn uri(&self, address: &str) -> String {
        if address.contains("://") {
            address.to_owned()
        } else if self.by_default {
            format!("https://{address}")
        } else {
            format!("http://{address}")
        }
    }

    /// `address` without its scheme when that scheme is what a bare address gets anyway,
    /// so an address given as `https://…` matches the same one learned from the members.
    pub fn canonical(&self, address: &str) -> String {
        let default = if self.by_default {
            "https://"
        } else {
            "http://"
        };
        match address.get(..default.len()) {
            Some(scheme) if scheme.eq_ignore_ascii_case(default) => {
                address[default.len()..].to_owned()
            }
            _ => address.to_owned(),
        }
    }

    /// An endpoint for the node at `address` (`HOST:PORT` or with a scheme), with TLS
    /// when its URI is `https`.
    pub fn endpoint(&self, address: &str) -> Result<Endpoint> {
        let uri = self.uri(address);
        let https = is_https(&uri);
        let endpoint = Endpoint::from_shared(uri).map_err(|error| Error::Address {
            address: address.to_owned(),
            reason: error.to_string(),
        })?;
        if !https {
            return Ok(endpoint);
        }
        let config = match &self.config {
            Some(config) => config.clone(),
            None => {
                install_crypto_provider();
                ClientTlsConfig::new().with_native_roots()
            }
        };
        endpoint.tls_config(config).map_err(|error| Error::Address {
            address: address.to_owned(),
            reason: format!("cannot use TLS: {error}"),
        })
    }
}

fn is_https(address: &str) -> bool {
    address
        .get(..8)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
}

/// Makes rustls use the *ring* provider: builds that enable rustls with several providers
/// (as the `mirage` binary does) leave rustls unable to pick one by itself.
fn install_crypto_provider() {
    // Fails only if a provider is installed already, which is just as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The bytes of the PEM file `path` that `option` names, which must hold a `label` block
/// (`CERTIFICATE`, `PRIVATE KEY`).
fn read_pem(option: &'static str, path: &Path, label: &str) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|error| Error::Tls {
        option,
        reason: format!(
            "cannot read {}: {error}; check the path and its permissions",
            path.display()
        ),
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let has_block = text
        .match_indices("-----BEGIN ")
        .any(|(at, _)| text[at..].lines().next().is_some_and(|l| l.contains(label)));
    if !has_block {
        return Err(Error::Tls {
            option,
            reason: format!(
                "{} holds no PEM {label} (-----BEGIN …{label}-----); name a PEM file of that kind",
                path.display()
            ),
        });
    }
    Ok(bytes)
}

#[cfg(test)]
#[path = "tls_tests.rs"]
mod tests;
