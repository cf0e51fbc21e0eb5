//! The counters of row serving, rendered in the Prometheus text exposition format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of the model cache and of the rows it served. Lock-free: every request
/// touches them.
#[derive(Debug, Default)]
pub struct ServingMetrics {
    hits: AtomicU64,
    misses: AtomicU64,
    loads: AtomicU64,
    loaded_bytes: AtomicU64,
    load_failures: AtomicU64,
    evicted_for_capacity: AtomicU64,
    evicted_for_ttl: AtomicU64,
    rows_generated: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Requests answered by a warm model.
    pub hits: u64,
    /// Requests that found no warm model (and loaded it or waited for its load).
    pub misses: u64,
    /// Models loaded from the object store.
    pub loads: u64,
    /// Their estimated memory, summed over every load, in bytes.
    pub loaded_bytes: u64,
    /// Loads that failed.
    pub load_failures: u64,
    /// Models dropped to stay within the cache's memory budget.
    pub evicted_for_capacity: u64,
    /// Models dropped after going unused for the TTL.
    pub evicted_for_ttl: u64,
    /// Rows sent to clients.
    pub rows_generated: u64,
}

/// What the cache holds now (gauges, read under its lock).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheOccupancy {
    /// Warm models.
    pub models: u64,
    /// Their estimated memory, in bytes.
    pub bytes: u64,
    /// The budget, in bytes.
    pub capacity_bytes: u64,
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

impl ServingMetrics {
    /// A request found its model warm.
    pub fn hit(&self) {
        bump(&self.hits, 1);
    }

    /// A request found its model cold.
    pub fn miss(&self) {
        bump(&self.misses, 1);
    }

    /// A model of `bytes` (estimated) was loaded.
    pub fn loaded(&self, bytes: u64) {
        bump(&self.loads, 1);
        bump(&self.loaded_bytes, bytes);
    }

    /// A model failed to load.
    pub fn load_failed(&self) {
        bump(&self.load_failures, 1);
    }

    /// A model was dropped for the memory budget.
    pub fn evicted_for_capacity(&self) {
        bump(&self.evicted_for_capacity, 1);
    }

    /// A model was dropped after the TTL.
    pub fn evicted_for_ttl(&self) {
        bump(&self.evicted_for_ttl, 1);
    }

    /// `rows` rows were sent to a client.
    pub fn rows_generated(&self, rows: u64) {
        bump(&self.rows_generated, rows);
    }

    /// The counters now.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        MetricsSnapshot {
            hits: read(&self.hits),
            misses: read(&self.misses),
            loads: read(&self.loads),
            loaded_bytes: read(&self.loaded_bytes),
            load_failures: read(&self.load_failures),
            evicted_for_capacity: read(&self.evicted_for_capacity),
            evicted_for_ttl: read(&self.evicted_for_ttl),
            rows_generated: read(&self.rows_generated),
        }
    }

    /// Appends the counters and `occupancy` to `out` in the text exposition format.
    pub fn render(&self, occupancy: CacheOccupancy, out: &mut String) {
        let now = self.snapshot();
        let mut family = |name: &str, kind: &str, help: &str, samples: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        family(
            "mirage_rows_generated_total",
            "counter",
            "Rows streamed to clients from warm models.",
            &[("", now.rows_generated)],
        );
        family(
            "mirage_model_cache_hits_total",
            "counter",
            "Row requests answered by a warm model.",
            &[("", now.hits)],
        );
        family(
            "mirage_model_cache_misses_total",
            "counter",
            "Row requests that found their model cold.",
            &[("", now.misses)],
        );
        family(
            "mirage_model_cache_loads_total",
            "counter",
            "Models loaded from the object store into the cache.",
            &[("", now.loads)],
        );
        family(
            "mirage_model_cache_loaded_bytes_total",
            "counter",
            "Estimated memory of the models loaded, summed over every load, in bytes.",
            &[("", now.loaded_bytes)],
        );
        family(
            "mirage_model_cache_load_failures_total",
            "counter",
            "Model loads that failed.",
            &[("", now.load_failures)],
        );
        family(
            "mirage_model_cache_evictions_total",
            "counter",
            "Models dropped from the cache, by reason.",
            &[
                ("{reason=\"capacity\"}", now.evicted_for_capacity),
                ("{reason=\"ttl\"}", now.evicted_for_ttl),
            ],
        );
        family(
            "mirage_model_cache_models",
            "gauge",
            "Warm models in the cache.",
            &[("", occupancy.models)],
        );
        family(
            "mirage_model_cache_bytes",
            "gauge",
            "Estimated memory of the warm models, in bytes.",
            &[("", occupancy.bytes)],
        );
        family(
            "mirage_model_cache_capacity_bytes",
            "gauge",
            "The cache's memory budget, in bytes.",
            &[("", occupancy.capacity_bytes)],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_in_the_text_format() {
        let metrics = ServingMetrics::default();
        metrics.hit();
        metrics.hit();
        metrics.miss();
        metrics.loaded(300);
        metrics.load_failed();
        metrics.evicted_for_ttl();
        metrics.rows_generated(42);
        let mut out = String::new();
        metrics.render(
            CacheOccupancy {
                models: 1,
                bytes: 100,
                capacity_bytes: 1000,
            },
            &mut out,
        );
        for line in [
            "# TYPE mirage_rows_generated_total counter",
            "mirage_rows_generated_total 42",
            "mirage_model_cache_hits_total 2",
            "mirage_model_cache_misses_total 1",
            "mirage_model_cache_loads_total 1",
            "mirage_model_cache_loaded_bytes_total 300",
            "mirage_model_cache_load_failures_total 1",
            "mirage_model_cache_evictions_total{reason=\"capacity\"} 0",
            "mirage_model_cache_evictions_total{reason=\"ttl\"} 1",
            "mirage_model_cache_models 1",
            "mirage_model_cache_bytes 100",
            "mirage_model_cache_capacity_bytes 1000",
        ] {
            assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
        }
    }
}
