//! [`RpcMetrics`]: latency histograms and request counters per gRPC method and status code,
//! rendered in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tonic::Code;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Clone, Default)]
struct Histogram {
    /// Per bucket (not cumulative); the last slot counts what exceeds every bound.
    counts: [u64; BUCKETS.len() + 1],
    sum_seconds: f64,
    count: u64,
}

/// The calls seen by a server, by (method path, status code). Cheap to share in an `Arc`.
#[derive(Debug, Default)]
pub struct RpcMetrics {
    /// Keyed by method path and the code's number (`Code` is not `Ord`).
    calls: Mutex<BTreeMap<(String, i32), Histogram>>,
}

/// A code's name as gRPC spells it (`OK`, `Unauthenticated`), the usual label value.
pub fn code_name(code: Code) -> String {
    match code {
        Code::Ok => "OK".to_owned(),
        other => format!("{other:?}"),
    }
}

impl RpcMetrics {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one call of `method` that ended with `code` after `elapsed`.
    pub fn observe(&self, method: &str, code: Code, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let slot = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        // Each update is one step on plain numbers, so a poisoned lock holds nothing torn.
        let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        let histogram = calls.entry((method.to_owned(), code as i32)).or_default();
        histogram.counts[slot] += 1;
        histogram.sum_seconds += seconds;
        histogram.count += 1;
    }

    /// How many calls of `method` ended with `code`.
    pub fn count(&self, method: &str, code: Code) -> u64 {
        let calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        calls
            .get(&(method.to_owned(), code as i32))
            .map_or(0, |histogram| histogram.count)
    }

    /// Appends `mirage_rpc_duration_seconds` and `mirage_rpc_requests_total` to `out`.
    pub fn render(&self, out: &mut String) {
        let calls = self
            .calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        out.push_str(
            "# HELP mirage_rpc_duration_seconds Time to answer a public gRPC call, by method and status code.\n\
             # TYPE mirage_rpc_duration_seconds histogram\n",
        );
        for ((method, code), histogram) in &calls {
            let labels = format!(
                "method=\"{}\",code=\"{}\"",
                escape(method),
                code_name(Code::from_i32(*code))
            );
            let mut cumulative = 0;
            for (bound, count) in BUCKETS.iter().zip(histogram.counts) {
                cumulative += count;
                let _ = writeln!(
                    out,
                    "mirage_rpc_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "mirage_rpc_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                histogram.count
            );
            let _ = writeln!(
                out,
                "mirage_rpc_duration_seconds_sum{{{labels}}} {}",
                histogram.sum_seconds
            );
            let _ = writeln!(
                out,
                "mirage_rpc_duration_seconds_count{{{labels}}} {}",
                histogram.count
            );
        }
        out.push_str(
            "# HELP mirage_rpc_requests_total Public gRPC calls answered, by method and status code.\n\
             # TYPE mirage_rpc_requests_total counter\n",
        );
        for ((method, code), histogram) in &calls {
            let _ = writeln!(
                out,
                "mirage_rpc_requests_total{{method=\"{}\",code=\"{}\"}} {}",
                escape(method),
                code_name(Code::from_i32(*code)),
                histogram.count
            );
        }
    }
}

/// Escapes a label value (backslash, quote, newline), as the text format requires.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_render_as_cumulative_buckets_and_counters() {
        let metrics = RpcMetrics::new();
        let method = "/mirage.v1.JobService/ListJobs";
        metrics.observe(method, Code::Ok, Duration::from_millis(3));
        metrics.observe(method, Code::Ok, Duration::from_secs(20));
        metrics.observe(method, Code::Unauthenticated, Duration::from_micros(10));
        assert_eq!(metrics.count(method, Code::Ok), 2);
        let mut text = String::new();
        metrics.render(&mut text);
        let ok = format!("method=\"{method}\",code=\"OK\"");
        for line in [
            "# TYPE mirage_rpc_duration_seconds histogram".to_owned(),
            format!("mirage_rpc_duration_seconds_bucket{{{ok},le=\"0.001\"}} 0"),
            format!("mirage_rpc_duration_seconds_bucket{{{ok},le=\"0.005\"}} 1"),
            format!("mirage_rpc_duration_seconds_bucket{{{ok},le=\"10\"}} 1"),
            format!("mirage_rpc_duration_seconds_bucket{{{ok},le=\"+Inf\"}} 2"),
            format!("mirage_rpc_duration_seconds_count{{{ok}}} 2"),
            format!("mirage_rpc_requests_total{{{ok}}} 2"),
            format!("mirage_rpc_requests_total{{method=\"{method}\",code=\"Unauthenticated\"}} 1"),
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
