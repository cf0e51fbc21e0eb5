//! Serving rows straight from warm models (`GenerationService.SampleRows`, issue 8 §5).
//!
//! - `cache.rs`: [`ModelCache`], the models this node keeps warm (LRU by estimated
//!   memory, a TTL, single-flight loads), with its counters (`metrics.rs`) and how a model
//!   is fetched and restored (`loader.rs`).
//! - `request.rs`: `SamplePlan`, a request checked against the limits in `[serving]`;
//!   `conditions.rs`: conditions from the wire, checked against the model.
//! - `stream.rs`: [`sample_rows`] / [`sample_stream`], sampling on a blocking thread into
//!   a bounded channel of Arrow IPC batches (`ipc.rs`).
//!
//! A call reads the model's record from this node's applied state and never writes
//! through Raft, so one row costs one RPC.

#[cfg(test)]
mod bench;
pub mod cache;
pub mod conditions;
pub mod ipc;
pub mod loader;
pub mod metrics;
pub mod request;
pub mod stream;
#[cfg(test)]
pub mod testing;
#[cfg(test)]
mod tests;

pub use cache::ModelCache;
#[allow(unused_imports)] // the seed header is for clients and tests
pub use stream::{RowStream, SEED_HEADER, sample_rows, sample_stream};
