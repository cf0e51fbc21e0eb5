//! [`TokenBucket`]: a rate and a burst, with the clock passed in so tests need no sleeps.

use std::time::{Duration, Instant};

use mirage_core::config::Limit;

/// Holds up to `burst` tokens, refilled at `requests_per_second`; each request takes one.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    /// A full bucket of `limit` at `now`.
    pub fn new(limit: Limit, now: Instant) -> Self {
        let capacity = f64::from(limit.burst.max(1));
        Self {
            rate: f64::from(limit.requests_per_second.max(1)),
            capacity,
            tokens: capacity,
            updated: now,
        }
    }

    /// Takes a token at `now`; when none is left, says how long until one is.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        // A clock read earlier by another thread may arrive later: never refill backwards.
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        if now > self.updated {
            self.updated = now;
        }
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        let missing = 1.0 - self.tokens;
        Err(Duration::from_secs_f64(missing / self.rate).max(Duration::from_millis(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(
            Limit {
                requests_per_second: 10,
                burst: 3,
            },
            start,
        );
        for _ in 0..3 {
            bucket.take(start).expect("within the burst");
        }
        let wait = bucket.take(start).expect_err("burst spent");
        assert_eq!(wait, Duration::from_millis(100));
        // Half a token later the wait halves; a full token later one request passes.
        let wait = bucket
            .take(start + Duration::from_millis(50))
            .expect_err("half a token");
        assert_eq!(wait, Duration::from_millis(50));
        bucket
            .take(start + Duration::from_millis(100))
            .expect("refilled one");
        bucket
            .take(start + Duration::from_millis(100))
            .expect_err("only one");
        // A long pause refills no more than the burst.
        let later = start + Duration::from_secs(60);
        for _ in 0..3 {
            bucket.take(later).expect("full again");
        }
        assert!(bucket.take(later).is_err());
    }

    #[test]
    fn an_earlier_clock_reading_neither_refills_nor_panics() {
        let start = Instant::now() + Duration::from_secs(1);
        let mut bucket = TokenBucket::new(
            Limit {
                requests_per_second: 1,
                burst: 1,
            },
            start,
        );
        bucket.take(start).expect("first");
        assert!(bucket.take(start - Duration::from_millis(500)).is_err());
    }
}
