//! The node's public services: the gRPC cluster status and jobs for now, and the HTTP
//! metrics/health endpoints ([`metrics`]).
//! Every node serves them; writes go through the node's [`RaftStateClient`]
//! (forwarded to the leader), reads that must be current use read-index on the leader.
//!
//! Authentication and tenants arrive with the gateway; until then every call acts for the
//! [`default_tenant`].
//!
//! [`RaftStateClient`]: crate::cluster::RaftStateClient

mod cluster;
mod convert;
mod datasets;
#[cfg(test)]
mod flow_tests;
mod generations;
mod jobs;
pub mod metrics;
mod models;
mod privacy;
mod quality;
mod services;

pub use cluster::ClusterApi;
pub use convert::default_tenant;
#[allow(unused_imports)]
pub use datasets::DatasetApi;
#[allow(unused_imports)]
pub use generations::GenerationApi;
pub use jobs::JobApi;
#[allow(unused_imports)]
pub use models::ModelApi;
#[allow(unused_imports)]
pub use privacy::PrivacyApi;
#[allow(unused_imports)]
pub use quality::QualityApi;
pub use services::PublicServices;
