//! The command line of `mirage-tui` and `mirage tui`.

use std::time::Duration;

/// Open the operator console on a running cluster.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Node gRPC addresses (HOST:PORT, or https://HOST:PORT), comma-separated; the console
    /// moves to the next when one stops answering, and learns the other members' addresses
    /// from the cluster (dialled with TLS too when --tls-ca is given or an address is https).
    #[arg(long, value_delimiter = ',', default_value = "127.0.0.1:7700")]
    pub addr: Vec<String>,
    /// An API key, sent as `x-api-key`.
    #[arg(long, env = "MIRAGE_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// The cluster secret, sent as `x-mirage-cluster-secret` when no API key is given
    /// (operators on a member's machine).
    #[arg(long, env = "MIRAGE_CLUSTER_SECRET", hide_env_values = true)]
    pub cluster_secret: Option<String>,
    /// How often to poll the cluster, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub interval_ms: u64,
    /// TLS to the nodes.
    #[command(flatten)]
    pub tls: crate::TlsArgs,
}

impl Args {
    /// The polling interval (at least 100 ms, so a typo cannot flood the cluster).
    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms.max(100))
    }

    /// The addresses, trimmed, without empty entries.
    pub fn addresses(&self) -> crate::Result<Vec<String>> {
        let addresses: Vec<String> = self
            .addr
            .iter()
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty())
            .collect();
        if addresses.is_empty() {
            return Err(crate::Error::Address {
                address: String::new(),
                reason: "no address given".into(),
            });
        }
        for address in &addresses {
            let host_port = address
                .split_once("://")
                .map_or(address.as_str(), |(_, rest)| rest);
            let valid = host_port
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !valid {
                return Err(crate::Error::Address {
                    address: address.clone(),
                    reason: "expected HOST:PORT".into(),
                });
            }
        }
        Ok(addresses)
    }

    /// The addresses and the TLS they are dialled with (files read and checked); an
    /// address's scheme is dropped where it is the default, so that it matches the same
    /// member's address learned from the cluster.
    pub fn connection(&self) -> crate::Result<(Vec<String>, crate::ClientTls)> {
        let addresses = self.addresses()?;
        let tls = crate::ClientTls::new(&self.tls, &addresses)?;
        let addresses = addresses.iter().map(|a| tls.canonical(a)).collect();
        Ok((addresses, tls))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn addresses_split_on_commas_and_are_checked() {
        let cli =
            Cli::try_parse_from(["x", "--addr", "127.0.0.1:7710, 127.0.0.1:7720,"]).expect("parse");
        assert_eq!(
            cli.args.addresses().expect("valid"),
            ["127.0.0.1:7710", "127.0.0.1:7720"]
        );
        let cli = Cli::try_parse_from(["x", "--addr", "nohost"]).expect("parse");
        let error = cli.args.addresses().expect_err("no port");
        assert!(error.to_string().contains("HOST:PORT"), "{error}");
    }

    fn fixture(name: &str) -> String {
        format!(
            "{}/../node/tests/fixtures/auth/{name}",
            env!("CARGO_MANIFEST_DIR")
        )
    }

    #[test]
    fn tls_options_make_bare_addresses_https_and_match_given_ones() {
        let cli = Cli::try_parse_from([
            "x",
            "--addr",
            "https://127.0.0.1:7710,127.0.0.1:7720",
            "--tls-ca",
            &fixture("ca.pem"),
            "--tls-cert",
            &fixture("node.pem"),
            "--tls-key",
            &fixture("node.key.pem"),
            "--tls-server-name",
            "localhost",
        ])
        .expect("parse");
        let (addresses, tls) = cli.args.connection().expect("valid");
        assert_eq!(addresses, ["127.0.0.1:7710", "127.0.0.1:7720"]);
        assert!(tls.by_default());
        assert_eq!(tls.uri(&addresses[1]), "https://127.0.0.1:7720");
    }

    #[test]
    fn a_missing_tls_file_is_named_with_its_flag() {
        let cli = Cli::try_parse_from([
            "x",
            "--addr",
            "127.0.0.1:7710",
            "--tls-ca",
            "/nonexistent/ca.pem",
        ])
        .expect("parse");
        let error = cli.args.connection().expect_err("no such file");
        let text = error.to_string();
        assert!(
            text.contains("--tls-ca") && text.contains("/nonexistent/ca.pem"),
            "{text}"
        );
    }
}
