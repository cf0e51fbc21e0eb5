//! Request rate limits of the public API: one token bucket per (tenant, method).
//!
//! - `bucket.rs`: [`TokenBucket`], the pure refill-and-take logic with time passed in.
//! - `limiter.rs`: [`RateLimiter`], the buckets of every tenant and method, sized from
//!   `[rate_limits]`, and the `RESOURCE_EXHAUSTED` status of a refusal ([`RateLimited`]).

pub mod bucket;
pub mod limiter;

pub use bucket::TokenBucket;
pub use limiter::{RETRY_AFTER_KEY, RateLimiter};
