//! The replicated state machine.
//!
//! [`ClusterState`] is what Raft replicates: node registry, datasets, model versions, jobs
//! with their leases and checkpoints, generations, quality reports, tenants and API keys,
//! and a privacy ledger per dataset. It changes only through [`ClusterState::apply`],
//! which is deterministic: the same commands with the same leader timestamps give the same
//! state on every node, and a serde round trip of the state (the Raft snapshot) behaves
//! identically afterwards. Every map is ordered, so iteration (and therefore every answer
//! that lists jobs) is the same everywhere.
//!
//! One file per record family: [`nodes`], [`catalog`] (datasets, models), [`jobs`],
//! [`results`] (generations, reports), [`tenants`], [`ledgers`]; [`usage`] is the resource
//! account shared with the scheduler's placement.

pub mod catalog;
pub mod command;
pub mod jobs;
pub mod ledgers;
pub mod nodes;
pub mod outcome;
pub mod results;
pub mod tenants;
pub mod usage;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use mirage_core::{DatasetId, GenerationId, JobId, ModelId, NodeId, ReportId, TenantId};
use mirage_privacy::Ledger;
use serde::{Deserialize, Serialize};

pub use catalog::{Dataset, DatasetSpec, ModelSpec, ModelVersion};
pub use command::{Command, LeaseClaim};
pub use jobs::{Checkpoint, Job, JobSpec, JobState, Lease, Resources};
pub use ledgers::Ledgers;
pub use nodes::{Gpu, Node, NodeSpec};
pub use outcome::{Outcome, Response};
pub use results::{Generation, GenerationSpec, QualityReport, ReportSpec};
pub use tenants::{ApiKey, Role, Tenant, hash_api_key};
pub use usage::{NodeUsage, Shortfall};

/// Settings of the state machine itself, fixed when the cluster is created and replicated
/// with the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// A node whose last heartbeat is older than this is not alive and gets no new jobs.
    pub node_timeout_ms: u64,
    /// Leases a job may be given before a crash of its worker fails it for good.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
}

fn default_max_attempts() -> u32 {
    3
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            node_timeout_ms: 15_000,
            max_attempts: default_max_attempts(),
        }
    }
}

impl Default for ClusterState {
    fn default() -> Self {
        Self::new(Settings::default())
    }
}

/// The cluster's replicated state; also its Raft snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterState {
    settings: Settings,
    /// The latest leader timestamp applied: the state's clock never runs backwards, even
    /// when a new leader's clock is behind the old one's.
    clock_ms: u64,
    /// The next lease's fencing token.
    next_token: u64,
    /// The next job's submission number.
    next_submit_seq: u64,
    nodes: BTreeMap<NodeId, Node>,
    datasets: BTreeMap<DatasetId, Dataset>,
    models: BTreeMap<ModelId, ModelVersion>,
    jobs: BTreeMap<JobId, Job>,
    generations: BTreeMap<GenerationId, Generation>,
    reports: BTreeMap<ReportId, QualityReport>,
    tenants: BTreeMap<TenantId, Tenant>,
    /// API keys by the hex SHA-256 of the key.
    api_keys: BTreeMap<String, ApiKey>,
    ledgers: Ledgers,
}

impl ClusterState {
    /// An empty state with these settings.
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            clock_ms: 0,
            // Tokens start at 1, so 0 never names a lease.
            next_token: 1,
            next_submit_seq: 0,
            nodes: BTreeMap::new(),
            datasets: BTreeMap::new(),
            models: BTreeMap::new(),
            jobs: BTreeMap::new(),
            generations: BTreeMap::new(),
            reports: BTreeMap::new(),
            tenants: BTreeMap::new(),
            api_keys: BTreeMap::new(),
            ledgers: Ledgers::default(),
        }
    }

    /// Applies one committed command stamped `now_ms` by the leader. A refusal leaves the
    /// state unchanged, apart from the clock, which moves to `now_ms` if that is later.
    pub fn apply(&mut self, command: Command, now_ms: u64) -> Response {
        self.clock_ms = self.clock_ms.max(now_ms);
        match command {
            Command::RegisterNode(spec) => self.register_node(spec),
            Command::Heartbeat { node, leases } => self.heartbeat(node, leases),
            Command::RemoveNode { node } => self.remove_node(node),
            Command::RegisterDataset(spec) => self.register_dataset(spec),
            Command::SetDatasetProfile {
                dataset,
                schema,
                profile,
                rows,
            } => self.set_dataset_profile(dataset, schema, profile, rows),
            Command::RegisterModel(spec) => self.register_model(spec),
            Command::SubmitJob(spec) => self.submit_job(spec),
            Command::Assign {
                job,
                node,
                lease_ms,
                gpu,
            } => self.assign(job, node, lease_ms, gpu),
            Command::RenewLease { job, node, token } => self.renew_lease(job, node, token),
            Command::ExpireLeases => self.expire_leases(),
            Command::Checkpoint { job, token, url } => self.checkpoint(job, token, url),
            Command::Complete { job, token, result } => self.complete(job, token, result),
            Command::Fail {
                job,
                token,
                error,
                retry,
            } => self.fail(job, token, error, retry),
            Command::Cancel { job } => self.cancel(job),
            Command::RecordGeneration(spec) => self.record_generation(spec),
            Command::RecordReport(spec) => self.record_report(spec),
            Command::CreateTenant { id, name } => self.create_tenant(id, name),
            Command::AddApiKey {
                tenant,
                key_hash,
                label,
                role,
            } => self.add_api_key(tenant, key_hash, label, role),
            Command::RevokeApiKey { key_hash } => self.revoke_api_key(&key_hash),
            Command::SetBudget { dataset, budget } => self.set_budget(dataset, budget),
            Command::Reserve {
                dataset,
                request,
                spend,
            } => self.reserve(dataset, &request, spend),
            Command::Commit {
                dataset,
                request,
                spend,
                mechanisms,
            } => self.commit(dataset, &request, spend, &mechanisms),
            Command::Release { dataset, request } => self.release(dataset, &request),
            Command::ReleaseGeneration { generation } => self.release_generation(generation),
            Command::DeleteDataset { dataset } => self.delete_dataset(dataset),
        }
    }

    /// The state machine's settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The latest leader timestamp applied.
    pub fn clock_ms(&self) -> u64 {
        self.clock_ms
    }

    /// Every registered node, by id.
    pub fn nodes(&self) -> &BTreeMap<NodeId, Node> {
        &self.nodes
    }

    /// One node.
    pub fn node(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(&id)
    }

    /// Whether the node is registered and heard from within the node timeout at `now_ms`.
    pub fn is_alive(&self, id: NodeId, now_ms: u64) -> bool {
        self.nodes
            .get(&id)
            .is_some_and(|n| n.is_alive(now_ms, self.settings.node_timeout_ms))
    }

    /// Every job, by id.
    pub fn jobs(&self) -> &BTreeMap<JobId, Job> {
        &self.jobs
    }

    /// One job.
    pub fn job(&self, id: JobId) -> Option<&Job> {
        self.jobs.get(&id)
    }

    /// Every dataset, by id.
    pub fn datasets(&self) -> &BTreeMap<DatasetId, Dataset> {
        &self.datasets
    }

    /// One dataset.
    pub fn dataset(&self, id: DatasetId) -> Option<&Dataset> {
        self.datasets.get(&id)
    }

    /// Every model version, by id.
    pub fn models(&self) -> &BTreeMap<ModelId, ModelVersion> {
        &self.models
    }

    /// One model version.
    pub fn model(&self, id: ModelId) -> Option<&ModelVersion> {
        self.models.get(&id)
    }

    /// Every generation, by id.
    pub fn generations(&self) -> &BTreeMap<GenerationId, Generation> {
        &self.generations
    }

    /// Every quality report, by id.
    pub fn reports(&self) -> &BTreeMap<ReportId, QualityReport> {
        &self.reports
    }

    /// Every tenant, by id.
    pub fn tenants(&self) -> &BTreeMap<TenantId, Tenant> {
        &self.tenants
    }

    /// The API key `key` (in clear, as a client presents it), if it is valid.
    pub fn authenticate(&self, key: &str) -> Option<&ApiKey> {
        self.api_keys.get(&hash_api_key(key))
    }

    /// A dataset's privacy ledger, once its budget is set.
    pub fn ledger(&self, dataset: DatasetId) -> Option<&Ledger> {
        self.ledgers.0.get(&dataset)
    }

    /// Every dataset's privacy ledger, by dataset.
    pub fn ledgers(&self) -> &BTreeMap<DatasetId, Ledger> {
        &self.ledgers.0
    }

    /// The resources held on each node by its running jobs.
    pub fn usage(&self) -> BTreeMap<NodeId, NodeUsage> {
        NodeUsage::by_node(self)
    }
}
