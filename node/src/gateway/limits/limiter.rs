//! [`RateLimiter`]: the token buckets of every (tenant, method), sized from `[rate_limits]`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use mirage_core::TenantId;
use mirage_core::config::{Limit, RateLimitConfig, TenantLimits};
use mirage_proto::v1;
use tonic::Status;

use super::TokenBucket;
use crate::gateway::status;

/// The metadata key of a refusal's wait, in milliseconds.
pub const RETRY_AFTER_KEY: &str = "retry-after-ms";

/// The method name of a gRPC path: `/mirage.v1.JobService/SubmitTraining` → `SubmitTraining`.
pub fn method_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// A request refused by its rate limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimited {
    /// The caller's tenant.
    pub tenant: TenantId,
    /// The method's name.
    pub method: String,
    /// The limit that was reached.
    pub limit: Limit,
    /// When a token is back.
    pub retry_after: Duration,
}

impl RateLimited {
    /// `RESOURCE_EXHAUSTED`, with the wait in `retry-after-ms`.
    pub fn to_status(&self) -> Status {
        // Round up so a client that waits exactly this long finds a token.
        let millis = self.retry_after.as_micros().div_ceil(1000);
        let mut status = status::error(
            v1::ErrorCode::ResourceExhausted,
            format!(
                "rate limit of {} requests/s for {} reached for tenant {}; retry in {millis} ms",
                self.limit.requests_per_second, self.method, self.tenant
            ),
        );
        if let Ok(value) = millis.to_string().parse() {
            status.metadata_mut().insert(RETRY_AFTER_KEY, value);
        }
        status
    }
}

/// The buckets of every tenant and method seen so far.
#[derive(Debug)]
pub struct RateLimiter {
    default: Limit,
    methods: BTreeMap<String, Limit>,
    tenants: BTreeMap<TenantId, TenantLimits>,
    buckets: Mutex<HashMap<(TenantId, String), TokenBucket>>,
}

impl RateLimiter {
    /// A limiter with the limits of `config` (validated).
    pub fn new(config: &RateLimitConfig) -> Self {
        Self {
            default: Limit {
                requests_per_second: config.requests_per_second,
                burst: config.burst,
            },
            methods: config.methods.clone(),
            tenants: config
                .tenant_limits()
                .into_iter()
                .map(|(id, limits)| (id, limits.clone()))
                .collect(),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The limit of `tenant` calling `path`: the tenant's method entry, the tenant's own
    /// rate, the global method entry, the global default.
    pub fn limit(&self, tenant: TenantId, path: &str) -> Limit {
        let name = method_name(path);
        let lookup = |methods: &BTreeMap<String, Limit>| {
            methods.get(name).or_else(|| methods.get(path)).copied()
        };
        if let Some(limits) = self.tenants.get(&tenant) {
            if let Some(limit) = lookup(&limits.methods) {
                return limit;
            }
            if limits.requests_per_second.is_some() || limits.burst.is_some() {
                return Limit {
                    requests_per_second: limits
                        .requests_per_second
                        .unwrap_or(self.default.requests_per_second),
                    burst: limits.burst.unwrap_or(self.default.burst),
                };
            }
        }
        lookup(&self.methods).unwrap_or(self.default)
    }

    /// Admits a request of `tenant` to `path` at `now`, or says when to retry.
    pub fn check(&self, tenant: TenantId, path: &str, now: Instant) -> Result<(), RateLimited> {
        let limit = self.limit(tenant, path);
        let name = method_name(path);
        // A bucket is updated in one step, so a panic elsewhere cannot leave it torn.
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = buckets
            .entry((tenant, name.to_owned()))
            .or_insert_with(|| TokenBucket::new(limit, now));
        bucket.take(now).map_err(|retry_after| RateLimited {
            tenant,
            method: name.to_owned(),
            limit,
            retry_after,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(n: u128) -> TenantId {
        TenantId::from_uuid(uuid::Uuid::from_u128(n))
    }

    const TRAIN: &str = "/mirage.v1.JobService/SubmitTraining";
    const LIST: &str = "/mirage.v1.JobService/ListJobs";

    fn config() -> RateLimitConfig {
        toml::from_str(
            r#"
            requests_per_second = 5
            burst = 5
            [methods]
            ListJobs = { requests_per_second = 100, burst = 100 }
            [tenants.tnt_00000000000000000000000000000002]
            requests_per_second = 50
            burst = 50
            [tenants.tnt_00000000000000000000000000000003.methods]
            "/mirage.v1.JobService/SubmitTraining" = { requests_per_second = 1, burst = 1 }
            "#,
        )
        .expect("config")
    }

    #[test]
    fn limits_resolve_from_the_most_specific_entry() {
        let limiter = RateLimiter::new(&config());
        assert_eq!(limiter.limit(tenant(1), TRAIN).burst, 5);
        assert_eq!(limiter.limit(tenant(1), LIST).burst, 100);
        assert_eq!(limiter.limit(tenant(2), LIST).burst, 50);
        assert_eq!(limiter.limit(tenant(3), TRAIN).burst, 1);
        assert_eq!(limiter.limit(tenant(3), LIST).burst, 100);
    }

    #[test]
    fn a_flooding_tenant_is_refused_while_another_is_admitted() {
        let limiter = RateLimiter::new(&config());
        let now = Instant::now();
        let (a, b) = (tenant(1), tenant(2));
        let mut refused = None;
        for i in 0..20 {
            let at = now + Duration::from_millis(i);
            match limiter.check(a, TRAIN, at) {
                Ok(()) => assert!(refused.is_none(), "admitted again after a refusal"),
                Err(limited) => {
                    refused.get_or_insert(limited);
                }
            }
            limiter
                .check(b, TRAIN, at)
                .expect("tenant b has its own bucket");
            if i < 4 {
                limiter
                    .check(b, LIST, at)
                    .expect("another method has its own bucket");
            }
        }
        let limited = refused.expect("tenant a flooded past its burst");
        assert_eq!(limited.tenant, a);
        assert_eq!(limited.method, "SubmitTraining");
        let status = limited.to_status();
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        assert!(
            status.message().starts_with(
                "rate limit of 5 requests/s for SubmitTraining reached for tenant tnt_"
            ),
            "{}",
            status.message()
        );
        let retry: u64 = status
            .metadata()
            .get(RETRY_AFTER_KEY)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse().ok())
            .expect("retry-after-ms");
        assert!((1..=200).contains(&retry), "{retry}");
        assert!(status.message().contains(&format!("retry in {retry} ms")));
        // After the wait, tenant a is admitted again.
        let later = now + Duration::from_secs(1);
        limiter.check(a, TRAIN, later).expect("refilled");
    }
}
