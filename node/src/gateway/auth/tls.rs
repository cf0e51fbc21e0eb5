//! The `[tls]` settings as tonic configs: the server's identity (and client CA), and what
//! node-to-node clients trust and present.

use std::path::Path;

use mirage_core::config::TlsConfig;
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file named in `[tls]` cannot be read.
    #[error("tls.{field}: cannot read {path}: {source}; check the path and its permissions")]
    Read {
        /// The setting.
        field: &'static str,
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A file holds no PEM block.
    #[error("tls.{field}: {path} holds no PEM data (-----BEGIN …); convert it to PEM")]
    NotPem {
        /// The setting.
        field: &'static str,
        /// The file.
        path: String,
    },
}

/// Makes rustls use the *ring* provider. Several crates in this build enable rustls with
/// different providers, in which case rustls will not pick one by itself.
pub fn install_crypto_provider() {
    // Fails only if a provider is installed already, which is just as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn read_pem(field: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    let bytes = std::fs::read(path).map_err(|source| TlsError::Read {
        field,
        path: path.display().to_string(),
        source,
    })?;
    if !bytes.windows(11).any(|window| window == b"-----BEGIN ") {
        return Err(TlsError::NotPem {
            field,
            path: path.display().to_string(),
        });
    }
    Ok(bytes)
}

/// The node's certificate and key.
fn identity(config: &TlsConfig) -> Result<Option<Identity>, TlsError> {
    match (&config.cert_file, &config.key_file) {
        (Some(cert), Some(key)) => Ok(Some(Identity::from_pem(
            read_pem("cert_file", cert)?,
            read_pem("key_file", key)?,
        ))),
        _ => Ok(None),
    }
}

/// The server side: `None` when TLS is off. With `ca_file`, clients must present a
/// certificate it signed.
pub fn server_config(config: &TlsConfig) -> Result<Option<ServerTlsConfig>, TlsError> {
    let Some(identity) = identity(config)? else {
        return Ok(None);
    };
    install_crypto_provider();
    let mut server = ServerTlsConfig::new().identity(identity);
    if let Some(ca) = &config.ca_file {
        server = server.client_ca_root(Certificate::from_pem(read_pem("ca_file", ca)?));
    }
    Ok(Some(server))
}

/// The node-to-node client side: `None` when TLS is off. It trusts `ca_file` (or the
/// node's own certificate), presents the node's certificate, and checks peers for
/// `server_name` when set.
pub fn client_config(config: &TlsConfig) -> Result<Option<ClientTlsConfig>, TlsError> {
    let Some(identity) = identity(config)? else {
        return Ok(None);
    };
    install_crypto_provider();
    let trusted = match (&config.ca_file, &config.cert_file) {
        (Some(ca), _) => read_pem("ca_file", ca)?,
        (None, Some(cert)) => read_pem("cert_file", cert)?,
        (None, None) => return Ok(None),
    };
    let mut client = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(trusted))
        .identity(identity);
    if let Some(name) = &config.server_name {
        client = client.domain_name(name.clone());
    }
    Ok(Some(client))
}
