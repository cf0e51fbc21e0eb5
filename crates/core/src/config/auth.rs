//! `[auth]`: how callers of the public API prove who they are.
//!
//! API keys (created with `mirage admin create-key`) and the cluster secret always work.
//! `[auth.oidc]` adds bearer tokens (JWTs) from an OpenID Connect provider, checked against
//! its published keys (JWKS).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{ConfigError, invalid};

/// Authentication settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Accept JWTs from an OIDC provider; unset = API keys only.
    pub oidc: Option<OidcConfig>,
}

impl AuthConfig {
    /// Checks the OIDC settings, when present.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match &self.oidc {
            Some(oidc) => oidc.validate(),
            None => Ok(()),
        }
    }
}

/// An OIDC provider whose tokens are accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The `iss` every token must carry.
    pub issuer: String,
    /// The `aud` every token must include.
    pub audience: String,
    /// Where the provider publishes its keys (`https://…/jwks.json`); or use `jwks_file`.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// A local JWKS file (tests, air-gapped sites); or use `jwks_url`.
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    /// The claim holding the tenant id (`tnt_…` or a UUID).
    #[serde(default = "default_tenant_claim")]
    pub tenant_claim: String,
    /// The claim holding the role (`admin`, `operator` or `analyst`).
    #[serde(default = "default_role_claim")]
    pub role_claim: String,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    #[serde(default = "default_leeway_s")]
    pub leeway_s: u64,
    /// How often the keys are re-read even when nothing asks for it, in seconds.
    #[serde(default = "default_refresh_s")]
    pub refresh_s: u64,
    /// A token signed by an unknown key (`kid`) re-reads the keys (the provider may have
    /// rotated them), at most once per this many seconds.
    #[serde(default = "default_refetch_s")]
    pub min_refetch_interval_s: u64,
}

fn default_tenant_claim() -> String {
    "mirage_tenant".into()
}

fn default_role_claim() -> String {
    "mirage_role".into()
}

fn default_leeway_s() -> u64 {
    30
}

fn default_refresh_s() -> u64 {
    3600
}

fn default_refetch_s() -> u64 {
    30
}

impl OidcConfig {
    /// An OIDC provider with the default claim names and timings.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            jwks_url: None,
            jwks_file: None,
            tenant_claim: default_tenant_claim(),
            role_claim: default_role_claim(),
            leeway_s: default_leeway_s(),
            refresh_s: default_refresh_s(),
            min_refetch_interval_s: default_refetch_s(),
        }
    }

    /// Checks each setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.issuer.trim().is_empty() {
            return Err(invalid(
                "auth.oidc.issuer",
                "must name the provider's issuer (the `iss` of its tokens)",
            ));
        }
        if self.audience.trim().is_empty() {
            return Err(invalid(
                "auth.oidc.audience",
                "must name the audience tokens are issued for (their `aud`)",
            ));
        }
        match (&self.jwks_url, &self.jwks_file) {
            (None, None) => {
                return Err(invalid(
                    "auth.oidc.jwks_url",
                    "set jwks_url (or jwks_file) to where the provider's keys are",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "auth.oidc.jwks_file",
                    "set only one of jwks_url and jwks_file",
                ));
            }
            (Some(url), None) if !(url.starts_with("https://") || url.starts_with("http://")) => {
                return Err(invalid(
                    "auth.oidc.jwks_url",
                    format!("{url:?} must start with https:// (or http://)"),
                ));
            }
            _ => {}
        }
        for (field, claim) in [
            ("auth.oidc.tenant_claim", &self.tenant_claim),
            ("auth.oidc.role_claim", &self.role_claim),
        ] {
            if claim.trim().is_empty() {
                return Err(invalid(field, "must name a claim"));
            }
        }
        if self.refresh_s == 0 {
            return Err(invalid("auth.oidc.refresh_s", "must be at least 1"));
        }
        if self.leeway_s > 300 {
            return Err(invalid(
                "auth.oidc.leeway_s",
                "must be at most 300: fix the clocks instead of accepting long-expired tokens",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_oidc_rule_names_its_field() {
        let good = OidcConfig {
            jwks_file: Some("jwks.json".into()),
            ..OidcConfig::new("https://idp.example", "mirage")
        };
        good.validate().expect("valid");
        let cases: Vec<(OidcConfig, &str)> = vec![
            (
                OidcConfig {
                    issuer: " ".into(),
                    ..good.clone()
                },
                "auth.oidc.issuer",
            ),
            (
                OidcConfig {
                    audience: String::new(),
                    ..good.clone()
                },
                "auth.oidc.audience",
            ),
            (
                OidcConfig {
                    jwks_file: None,
                    ..good.clone()
                },
                "auth.oidc.jwks_url",
            ),
            (
                OidcConfig {
                    jwks_url: Some("https://idp.example/jwks".into()),
                    ..good.clone()
                },
                "auth.oidc.jwks_file",
            ),
            (
                OidcConfig {
                    jwks_file: None,
                    jwks_url: Some("ftp://idp.example/jwks".into()),
                    ..good.clone()
                },
                "auth.oidc.jwks_url",
            ),
            (
                OidcConfig {
                    role_claim: String::new(),
                    ..good.clone()
                },
                "auth.oidc.role_claim",
            ),
            (
                OidcConfig {
                    refresh_s: 0,
                    ..good.clone()
                },
                "auth.oidc.refresh_s",
            ),
            (
                OidcConfig {
                    leeway_s: 3600,
                    ..good.clone()
                },
                "auth.oidc.leeway_s",
            ),
        ];
        for (config, field) in cases {
            let error = AuthConfig { oidc: Some(config) }
                .validate()
                .expect_err(field);
            assert_eq!(error.field, field, "{error}");
        }
    }

    #[test]
    fn claim_names_default_in_toml() {
        let config: AuthConfig = toml::from_str(
            r#"
            [oidc]
            issuer = "https://idp.example"
            audience = "mirage"
            jwks_url = "https://idp.example/jwks.json"
            "#,
        )
        .expect("parses");
        let oidc = config.oidc.expect("oidc");
        assert_eq!(oidc.tenant_claim, "mirage_tenant");
        assert_eq!(oidc.role_claim, "mirage_role");
        assert_eq!(oidc.leeway_s, 30);
    }
}
