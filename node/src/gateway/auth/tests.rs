//! Every refusal of the authentication layer, and the happy paths, without a cluster
//! (except the revocation test, which uses the real replica).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::HeaderMap;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mirage_actors::{ApiKey, Command, Role, hash_api_key};
use mirage_core::TenantId;
use mirage_core::config::{AuthConfig, OidcConfig};
use serde_json::json;
use tonic::Code;

use super::*;
use crate::raft::ClusterSecret;

mod over_tls;
mod through_layer;

pub(super) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/auth")
        .join(name)
}

pub(super) fn tenant(n: u128) -> TenantId {
    TenantId::from_uuid(uuid::Uuid::from_u128(n))
}

pub(super) fn key_record(key: &str, n: u128, role: Role, label: &str) -> ApiKey {
    ApiKey {
        key_hash: hash_api_key(key),
        tenant: tenant(n),
        label: label.into(),
        role,
        created_at_ms: 0,
    }
}

/// An authenticator knowing `keys`, the secret `s3cret`, and OIDC when given.
pub(super) fn authenticator(
    keys: Vec<(String, ApiKey)>,
    oidc: Option<OidcConfig>,
) -> Authenticator {
    Authenticator::new(
        Arc::new(fixed_keys(keys)),
        Some(ClusterSecret::new("s3cret").expect("secret")),
        &AuthConfig { oidc },
    )
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(*name, value.parse().expect("header value"));
    }
    map
}

async fn refused(auth: &Authenticator, pairs: &[(&'static str, &str)]) -> tonic::Status {
    let status = auth
        .authenticate(&headers(pairs))
        .await
        .expect_err("refused");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(
        status
            .metadata()
            .get(crate::gateway::status::ERROR_CODE_KEY)
            .and_then(|v| v.to_str().ok()),
        Some("ERROR_CODE_UNAUTHENTICATED")
    );
    status
}

#[tokio::test]
async fn api_keys_and_the_cluster_secret_authenticate() {
    let key = generate_api_key();
    let auth = authenticator(
        vec![(key.clone(), key_record(&key, 5, Role::Operator, "ci"))],
        None,
    );
    let caller = auth
        .authenticate(&headers(&[("x-api-key", &key)]))
        .await
        .expect("x-api-key");
    assert_eq!(caller.tenant, tenant(5));
    assert_eq!(caller.role, Role::Operator);
    assert!(caller.subject.starts_with("key ci ("), "{}", caller.subject);
    let bearer = format!("Bearer {key}");
    let caller = auth
        .authenticate(&headers(&[("authorization", &bearer)]))
        .await
        .expect("bearer key");
    assert_eq!(caller.tenant, tenant(5));
    let caller = auth
        .authenticate(&headers(&[("x-mirage-cluster-secret", "s3cret")]))
        .await
        .expect("secret");
    assert_eq!(caller.tenant, default_tenant());
    assert_eq!(caller.role, Role::Admin);
    assert_eq!(caller.subject, "cluster secret");
}

#[tokio::test]
async fn each_bad_credential_is_refused_with_what_to_do() {
    let key = generate_api_key();
    let auth = authenticator(
        vec![(key.clone(), key_record(&key, 5, Role::Admin, "root"))],
        None,
    );
    let missing = refused(&auth, &[]).await;
    assert!(missing.message().contains("no credentials"), "{missing:?}");
    let unknown = refused(&auth, &[("x-api-key", &generate_api_key())]).await;
    assert!(
        unknown.message().contains("unknown or was revoked"),
        "{unknown:?}"
    );
    let malformed = refused(&auth, &[("x-api-key", "hunter2")]).await;
    assert!(malformed.message().contains("malformed"), "{malformed:?}");
    let secret = refused(&auth, &[("x-mirage-cluster-secret", "guess")]).await;
    assert!(secret.message().contains("cluster's secret"), "{secret:?}");
    let scheme = refused(&auth, &[("authorization", "Basic dXNlcjpwYXNz")]).await;
    assert!(scheme.message().contains("Bearer"), "{scheme:?}");
    let neither = refused(&auth, &[("authorization", "Bearer opaque-token")]).await;
    assert!(neither.message().contains("neither"), "{neither:?}");
    let no_oidc = refused(&auth, &[("authorization", "Bearer a.b.c")]).await;
    assert!(no_oidc.message().contains("[auth.oidc]"), "{no_oidc:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_stops_working_at_once() -> anyhow::Result<()> {
    let test = crate::gateway::testing::TestGateway::start().await?;
    let admin = test.caller(9, Role::Admin).await?;
    let key = generate_api_key();
    test.gateway
        .apply(Command::AddApiKey {
            tenant: admin.tenant,
            key_hash: hash_api_key(&key),
            label: "laptop".into(),
            role: Role::Analyst,
        })
        .await?;
    let auth = Authenticator::new(Arc::new(test.gateway.clone()), None, &AuthConfig::default());
    let caller = auth.authenticate(&headers(&[("x-api-key", &key)])).await?;
    assert_eq!((caller.tenant, caller.role), (admin.tenant, Role::Analyst));
    test.gateway
        .apply(Command::RevokeApiKey {
            key_hash: hash_api_key(&key),
        })
        .await?;
    let revoked = refused(&auth, &[("x-api-key", &key)]).await;
    assert!(revoked.message().contains("revoked"), "{revoked:?}");
    // Without a configured secret, the secret header admits nobody.
    refused(&auth, &[("x-mirage-cluster-secret", "anything")]).await;
    test.stop().await
}

// ---- OIDC ----

const ISSUER: &str = "https://idp.example";
const AUDIENCE: &str = "mirage";

fn oidc_config(jwks_file: &Path) -> OidcConfig {
    OidcConfig {
        jwks_file: Some(jwks_file.to_owned()),
        ..OidcConfig::new(ISSUER, AUDIENCE)
    }
}

fn now_s() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn claims() -> serde_json::Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "exp": now_s() + 600,
        "mirage_tenant": tenant(7).to_string(),
        "mirage_role": "operator",
    })
}

/// A token signed with the fixture key `signer`, naming key id `kid`.
fn token(alg: Algorithm, signer: &str, kid: &str, claims: &serde_json::Value) -> String {
    let pem = std::fs::read(fixture(signer)).expect("fixture key");
    let key = match alg {
        Algorithm::ES256 => EncodingKey::from_ec_pem(&pem),
        _ => EncodingKey::from_rsa_pem(&pem),
    }
    .expect("signing key");
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &key).expect("encode")
}

fn verifier() -> OidcVerifier {
    OidcVerifier::new(&oidc_config(&fixture("jwks.json")))
}

async fn token_refused(verifier: &OidcVerifier, token: &str, expect: &str) {
    let status = verifier
        .verify(token, Instant::now())
        .await
        .expect_err(expect);
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(
        status.message().contains(expect),
        "expected {expect:?} in {:?}",
        status.message()
    );
}

#[tokio::test]
async fn rs256_and_es256_tokens_map_their_claims_to_a_caller() {
    let verifier = verifier();
    let caller = verifier
        .verify(
            &token(Algorithm::RS256, "rsa-a.key.pem", "rsa-a", &claims()),
            Instant::now(),
        )
        .await
        .expect("rs256");
    assert_eq!(caller.tenant, tenant(7));
    assert_eq!(caller.role, Role::Operator);
    assert_eq!(caller.subject, format!("token alice from {ISSUER}"));
    let mut admin = claims();
    admin["mirage_role"] = json!("admin");
    admin["aud"] = json!(["other", AUDIENCE]);
    let caller = verifier
        .verify(
            &token(Algorithm::ES256, "ec-a.key.pem", "ec-a", &admin),
            Instant::now(),
        )
        .await
        .expect("es256");
    assert_eq!(caller.role, Role::Admin);
    // Through the authenticator, as a bearer token.
    let auth = authenticator(Vec::new(), Some(oidc_config(&fixture("jwks.json"))));
    let bearer = format!(
        "Bearer {}",
        token(Algorithm::RS256, "rsa-a.key.pem", "rsa-a", &claims())
    );
    let caller = auth
        .authenticate(&headers(&[("authorization", &bearer)]))
        .await
        .expect("bearer jwt");
    assert_eq!(caller.tenant, tenant(7));
}

#[tokio::test]
async fn bad_tokens_are_refused_with_the_reason() {
    let verifier = verifier();
    let sign =
        |claims: &serde_json::Value| token(Algorithm::RS256, "rsa-a.key.pem", "rsa-a", claims);
    let with = |field: &str, value: serde_json::Value| {
        let mut claims = claims();
        claims[field] = value;
        claims
    };
    let without = |field: &str| {
        let mut claims = claims();
        claims.as_object_mut().expect("object").remove(field);
        claims
    };
    token_refused(
        &verifier,
        &sign(&with("exp", json!(now_s() - 3600))),
        "has expired",
    )
    .await;
    token_refused(
        &verifier,
        &sign(&with("iss", json!("https://evil.example"))),
        "not issued by",
    )
    .await;
    token_refused(
        &verifier,
        &sign(&with("aud", json!("someone-else"))),
        "not meant for audience",
    )
    .await;
    token_refused(&verifier, &sign(&without("exp")), "no exp claim").await;
    token_refused(
        &verifier,
        &sign(&without("mirage_tenant")),
        "no mirage_tenant claim",
    )
    .await;
    token_refused(
        &verifier,
        &sign(&with("mirage_tenant", json!("acme"))),
        "is not a tenant id",
    )
    .await;
    token_refused(
        &verifier,
        &sign(&without("mirage_role")),
        "no mirage_role claim",
    )
    .await;
    token_refused(
        &verifier,
        &sign(&with("mirage_role", json!("root"))),
        "is not a role",
    )
    .await;
    // Signed by another key than the one it names.
    let forged = token(Algorithm::RS256, "rsa-b.key.pem", "rsa-a", &claims());
    token_refused(&verifier, &forged, "signature does not verify").await;
    // Claims of another token spliced onto a good token's signature.
    let good = sign(&claims());
    let admin = sign(&with("mirage_role", json!("admin")));
    let good_parts: Vec<&str> = good.split('.').collect();
    let admin_parts: Vec<&str> = admin.split('.').collect();
    let spliced = format!("{}.{}.{}", good_parts[0], admin_parts[1], good_parts[2]);
    token_refused(&verifier, &spliced, "signature does not verify").await;
    // A shared-secret algorithm is never accepted.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("rsa-a".into());
    let hmac = jsonwebtoken::encode(&header, &claims(), &EncodingKey::from_secret(b"public"))
        .expect("hs256");
    token_refused(&verifier, &hmac, "not accepted").await;
    token_refused(&verifier, "not.a.jwt", "not a valid JWT").await;
    let mut no_kid = Header::new(Algorithm::RS256);
    no_kid.kid = None;
    let pem = std::fs::read(fixture("rsa-a.key.pem")).expect("key");
    let anonymous = jsonwebtoken::encode(
        &no_kid,
        &claims(),
        &EncodingKey::from_rsa_pem(&pem).expect("key"),
    )
    .expect("encode");
    token_refused(&verifier, &anonymous, "names no signing key").await;
}

#[tokio::test]
async fn an_unknown_kid_rereads_the_keys_once_per_interval() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jwks = dir.path().join("jwks.json");
    std::fs::copy(fixture("jwks.json"), &jwks).expect("copy");
    let verifier = OidcVerifier::new(&oidc_config(&jwks));
    let start = Instant::now();
    let known = token(Algorithm::RS256, "rsa-a.key.pem", "rsa-a", &claims());
    verifier
        .verify(&known, start)
        .await
        .expect("rsa-a published");
    assert_eq!(verifier.jwks().fetches(), 1);
    let rotated = token(Algorithm::RS256, "rsa-b.key.pem", "rsa-b", &claims());
    // Just read: an unknown kid does not re-read at once.
    let status = verifier
        .verify(&rotated, start + Duration::from_secs(1))
        .await
        .expect_err("rsa-b not published");
    assert!(
        status.message().contains("unknown key \"rsa-b\""),
        "{status:?}"
    );
    assert_eq!(verifier.jwks().fetches(), 1);
    // The provider rotates; past the interval, the unknown kid triggers one read.
    std::fs::copy(fixture("jwks-rotated.json"), &jwks).expect("rotate");
    let later = start + Duration::from_secs(40);
    verifier
        .verify(&rotated, later)
        .await
        .expect("rotated key found");
    assert_eq!(verifier.jwks().fetches(), 2);
    verifier.verify(&rotated, later).await.expect("cached");
    assert_eq!(verifier.jwks().fetches(), 2);
    // A flood of tokens with a made-up kid reads at most once per interval.
    let made_up = token(Algorithm::RS256, "rsa-b.key.pem", "nobody", &claims());
    for second in 41..60 {
        verifier
            .verify(&made_up, start + Duration::from_secs(second))
            .await
            .expect_err("unknown");
    }
    assert_eq!(verifier.jwks().fetches(), 2);
    verifier
        .verify(&made_up, start + Duration::from_secs(71))
        .await
        .expect_err("still unknown");
    assert_eq!(verifier.jwks().fetches(), 3);
    // The keys are re-read once they are older than refresh_s, unasked.
    let stale = start + Duration::from_secs(71 + 3601);
    verifier.verify(&known, stale).await.expect("refreshed");
    assert_eq!(verifier.jwks().fetches(), 4);
}
