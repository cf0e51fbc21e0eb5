//! `[rate_limits]`: how many requests each tenant may make, per gRPC method.
//!
//! Every (tenant, method) pair has its own token bucket. Its limit is the first found of:
//! the tenant's override for the method, the tenant's own default, the global override for
//! the method, the global default. A method is named by its gRPC method name
//! (`SubmitTraining`) or its full path (`/mirage.v1.JobService/SubmitTraining`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ConfigError, invalid};
use crate::TenantId;

/// A token bucket's size: a sustained rate and how many requests may come at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// Tokens added per second.
    pub requests_per_second: u32,
    /// The bucket's capacity: requests admitted at once after a quiet period.
    pub burst: u32,
}

impl Limit {
    fn validate(&self, field: &str) -> Result<(), ConfigError> {
        if self.requests_per_second == 0 {
            return Err(invalid(
                format!("{field}.requests_per_second"),
                "must be at least 1 (remove the entry to use the default)",
            ));
        }
        if self.burst == 0 {
            return Err(invalid(
                format!("{field}.burst"),
                "must be at least 1 (a bucket of 0 admits nothing)",
            ));
        }
        Ok(())
    }
}

/// One tenant's overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantLimits {
    /// The tenant's rate for every method without its own entry; default: the global rate.
    pub requests_per_second: Option<u32>,
    /// The tenant's burst; default: the global burst.
    pub burst: Option<u32>,
    /// Per-method limits, by method name or full path.
    pub methods: BTreeMap<String, Limit>,
}

/// The rate limits of the public API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// The default rate of every tenant for every method.
    pub requests_per_second: u32,
    /// The default burst.
    pub burst: u32,
    /// Per-method limits for every tenant, by method name or full path.
    pub methods: BTreeMap<String, Limit>,
    /// Per-tenant overrides, by tenant id (`tnt_…` or a UUID).
    pub tenants: BTreeMap<String, TenantLimits>,
}

impl Default for RateLimitConfig {
    /// Generous enough that normal use never meets it: it only stops floods.
    fn default() -> Self {
        Self {
            requests_per_second: 1000,
            burst: 2000,
            methods: BTreeMap::new(),
            tenants: BTreeMap::new(),
        }
    }
}

impl RateLimitConfig {
    /// Checks every limit and tenant id.
    pub fn validate(&self) -> Result<(), ConfigError> {
        Limit {
            requests_per_second: self.requests_per_second,
            burst: self.burst,
        }
        .validate("rate_limits")?;
        for (method, limit) in &self.methods {
            check_method("rate_limits.methods", method)?;
            limit.validate(&format!("rate_limits.methods.{method}"))?;
        }
        for (tenant, limits) in &self.tenants {
            let field = format!("rate_limits.tenants.{tenant}");
            if tenant.parse::<TenantId>().is_err() {
                return Err(invalid(
                    field,
                    "is not a tenant id: use the tnt_… id (or UUID) `mirage admin create-key` printed",
                ));
            }
            Limit {
                requests_per_second: limits.requests_per_second.unwrap_or(1),
                burst: limits.burst.unwrap_or(1),
            }
            .validate(&field)?;
            for (method, limit) in &limits.methods {
                check_method(&format!("{field}.methods"), method)?;
                limit.validate(&format!("{field}.methods.{method}"))?;
            }
        }
        Ok(())
    }

    /// The tenant overrides with their ids parsed (call after [`Self::validate`]; entries
    /// that do not parse are left out).
    pub fn tenant_limits(&self) -> BTreeMap<TenantId, &TenantLimits> {
        self.tenants
            .iter()
            .filter_map(|(id, limits)| id.parse().ok().map(|id| (id, limits)))
            .collect()
    }
}

fn check_method(field: &str, method: &str) -> Result<(), ConfigError> {
    let name = method.rsplit('/').next().unwrap_or_default();
    let well_formed = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && (!method.contains('/') || method.starts_with('/'));
    if well_formed {
        Ok(())
    } else {
        Err(invalid(
            format!("{field}.{method}"),
            "is not a method: use a gRPC method name (SubmitTraining) or its full path \
             (/mirage.v1.JobService/SubmitTraining)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_generous_and_valid() {
        let config = RateLimitConfig::default();
        config.validate().expect("valid");
        assert!(config.requests_per_second >= 1000);
    }

    #[test]
    fn each_limit_rule_names_its_field() {
        let tenant = "tnt_00000000000000000000000000000001";
        let limit = |requests_per_second, burst| Limit {
            requests_per_second,
            burst,
        };
        let with = |change: &dyn Fn(&mut RateLimitConfig)| {
            let mut config = RateLimitConfig::default();
            change(&mut config);
            config
        };
        let cases: Vec<(RateLimitConfig, String)> = vec![
            (
                with(&|c| c.requests_per_second = 0),
                "rate_limits.requests_per_second".into(),
            ),
            (with(&|c| c.burst = 0), "rate_limits.burst".into()),
            (
                with(&|c| {
                    c.methods.insert("Submit Training".into(), limit(1, 1));
                }),
                "rate_limits.methods.Submit Training".into(),
            ),
            (
                with(&|c| {
                    c.methods.insert("SubmitTraining".into(), limit(0, 1));
                }),
                "rate_limits.methods.SubmitTraining.requests_per_second".into(),
            ),
            (
                with(&|c| {
                    c.tenants.insert("acme".into(), TenantLimits::default());
                }),
                "rate_limits.tenants.acme".into(),
            ),
            (
                with(&|c| {
                    c.tenants.insert(
                        tenant.into(),
                        TenantLimits {
                            burst: Some(0),
                            ..TenantLimits::default()
                        },
                    );
                }),
                format!("rate_limits.tenants.{tenant}.burst"),
            ),
            (
                with(&|c| {
                    let mut methods = BTreeMap::new();
                    methods.insert("/mirage.v1.JobService/SubmitTraining".into(), limit(1, 0));
                    c.tenants.insert(
                        tenant.into(),
                        TenantLimits {
                            methods,
                            ..TenantLimits::default()
                        },
                    );
                }),
                format!(
                    "rate_limits.tenants.{tenant}.methods./mirage.v1.JobService/SubmitTraining.burst"
                ),
            ),
        ];
        for (config, field) in cases {
            let error = config.validate().expect_err(&field);
            assert_eq!(error.field, field, "{error}");
        }
    }

    #[test]
    fn tenant_overrides_parse_from_toml() {
        let config: RateLimitConfig = toml::from_str(
            r#"
            requests_per_second = 100
            burst = 200
            [methods]
            SubmitTraining = { requests_per_second = 1, burst = 5 }
            [tenants.tnt_00000000000000000000000000000001]
            requests_per_second = 10
            [tenants.tnt_00000000000000000000000000000001.methods]
            GenerateRows = { requests_per_second = 2, burst = 2 }
            "#,
        )
        .expect("parses");
        config.validate().expect("valid");
        let tenants = config.tenant_limits();
        let limits = tenants
            .get(&TenantId::from_uuid(uuid::Uuid::from_u128(1)))
            .expect("tenant 1");
        assert_eq!(limits.requests_per_second, Some(10));
        assert_eq!(limits.methods["GenerateRows"].burst, 2);
    }
}
