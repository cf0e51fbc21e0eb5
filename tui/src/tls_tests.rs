use std::path::PathBuf;

use super::*;

/// The node tests' TLS fixtures: a CA and a leaf it signed for `localhost`.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../node/tests/fixtures/auth")
        .join(name)
}

fn mutual() -> TlsArgs {
    TlsArgs {
        ca: Some(fixture("ca.pem")),
        cert: Some(fixture("node.pem")),
        key: Some(fixture("node.key.pem")),
        server_name: Some("localhost".into()),
    }
}

fn addresses(list: &[&str]) -> Vec<String> {
    list.iter().map(|a| (*a).to_owned()).collect()
}

fn tls_error(args: &TlsArgs, list: &[&str]) -> String {
    ClientTls::new(args, &addresses(list))
        .expect_err("refused")
        .to_string()
}

#[test]
fn without_options_a_bare_address_is_plaintext() {
    let tls = ClientTls::new(&TlsArgs::default(), &addresses(&["127.0.0.1:7700"])).expect("ok");
    assert!(!tls.by_default());
    assert_eq!(tls.uri("127.0.0.1:7700"), "http://127.0.0.1:7700");
    let endpoint = tls.endpoint("127.0.0.1:7700").expect("endpoint");
    assert_eq!(endpoint.uri().scheme_str(), Some("http"));
}

#[test]
fn with_a_ca_a_bare_address_means_https_and_an_explicit_scheme_wins() {
    let tls = ClientTls::new(&mutual(), &addresses(&["127.0.0.1:7700"])).expect("ok");
    assert!(tls.by_default());
    let endpoint = tls.endpoint("127.0.0.1:7700").expect("endpoint");
    assert_eq!(endpoint.uri().scheme_str(), Some("https"));
    assert_eq!(tls.uri("http://10.0.0.1:7700"), "http://10.0.0.1:7700");
    assert_eq!(tls.uri("HTTPS://10.0.0.1:7700"), "HTTPS://10.0.0.1:7700");
}

#[test]
fn an_https_address_needs_no_ca_and_makes_learned_addresses_https() {
    let tls = ClientTls::new(
        &TlsArgs::default(),
        &addresses(&["https://node.example:7700"]),
    )
    .expect("ok");
    assert!(tls.by_default());
    let endpoint = tls.endpoint("https://node.example:7700").expect("endpoint");
    assert_eq!(endpoint.uri().scheme_str(), Some("https"));
    // A member's address as the cluster lists it.
    let endpoint = tls.endpoint("10.0.0.2:7700").expect("endpoint");
    assert_eq!(endpoint.uri().scheme_str(), Some("https"));
    // A client certificate is fine over https without a CA, too.
    let args = TlsArgs {
        ca: None,
        ..mutual()
    };
    ClientTls::new(&args, &addresses(&["https://node.example:7700"])).expect("ok");
}

#[test]
fn client_options_without_tls_are_refused_naming_the_option() {
    let args = TlsArgs {
        ca: None,
        ..mutual()
    };
    let error = tls_error(&args, &["127.0.0.1:7700"]);
    assert!(
        error.contains("--tls-cert") && error.contains("--tls-ca FILE"),
        "{error}"
    );
    let args = TlsArgs {
        server_name: Some("localhost".into()),
        ..TlsArgs::default()
    };
    let error = tls_error(&args, &["127.0.0.1:7700"]);
    assert!(error.contains("--tls-server-name"), "{error}");
}

#[test]
fn a_missing_file_is_named_with_its_option() {
    let missing = fixture("no-such.pem");
    let args = TlsArgs {
        ca: Some(missing.clone()),
        ..mutual()
    };
    let error = tls_error(&args, &["127.0.0.1:7700"]);
    assert!(error.contains("--tls-ca (MIRAGE_TLS_CA)"), "{error}");
    assert!(error.contains(&missing.display().to_string()), "{error}");
    assert!(error.contains("check the path"), "{error}");
}

#[test]
fn a_file_of_the_wrong_kind_is_refused() {
    // Not PEM at all.
    let args = TlsArgs {
        ca: Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")),
        ..mutual()
    };
    let error = tls_error(&args, &["127.0.0.1:7700"]);
    assert!(
        error.contains("--tls-ca") && error.contains("no PEM CERTIFICATE"),
        "{error}"
    );
    // The key where the certificate belongs.
    let args = TlsArgs {
        cert: Some(fixture("node.key.pem")),
        ..mutual()
    };
    let error = tls_error(&args, &["127.0.0.1:7700"]);
    assert!(
        error.contains("--tls-cert") && error.contains("node.key.pem"),
        "{error}"
    );
    // The certificate where the key belongs.
    let args = TlsArgs {
        key: Some(fixture("node.pem")),
        ..mutual()
    };
    let error = tls_error(&args, &["127.0.0.1:7700"]);
    assert!(
        error.contains("--tls-key") && error.contains("PRIVATE KEY"),
        "{error}"
    );
}

#[test]
fn a_certificate_and_its_key_come_together() {
    let args = TlsArgs {
        key: None,
        ..mutual()
    };
    let error = tls_error(&args, &["127.0.0.1:7700"]);
    assert!(
        error.contains("--tls-key") && error.contains("is needed"),
        "{error}"
    );
    let args = TlsArgs {
        cert: None,
        ..mutual()
    };
    let error = tls_error(&args, &["127.0.0.1:7700"]);
    assert!(
        error.contains("--tls-cert") && error.contains("is needed"),
        "{error}"
    );
}

#[test]
fn the_default_scheme_is_dropped_so_given_and_learned_addresses_match() {
    let tls = ClientTls::new(&mutual(), &addresses(&["https://127.0.0.1:7700"])).expect("ok");
    assert_eq!(tls.canonical("https://127.0.0.1:7700"), "127.0.0.1:7700");
    assert_eq!(tls.canonical("HTTPS://127.0.0.1:7700"), "127.0.0.1:7700");
    assert_eq!(
        tls.canonical("http://127.0.0.1:7700"),
        "http://127.0.0.1:7700"
    );
    let plain = ClientTls::default();
    assert_eq!(plain.canonical("http://127.0.0.1:7700"), "127.0.0.1:7700");
    assert_eq!(
        plain.canonical("https://127.0.0.1:7700"),
        "https://127.0.0.1:7700"
    );
}
