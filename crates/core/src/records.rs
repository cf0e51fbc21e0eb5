//! The records the cluster keeps about datasets, models, jobs, generations, reports,
//! budgets and nodes. Timestamps are milliseconds since the Unix epoch.

use serde::{Deserialize, Serialize};

use crate::condition::Condition;
use crate::ids::{DatasetId, GenerationId, JobId, ModelId, NodeId, ReportId, TenantId};
use crate::profile::DatasetProfile;
use crate::schema::Schema;

/// A dataset registered with the cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetRecord {
    /// Its id.
    pub id: DatasetId,
    /// Its owner.
    pub tenant: TenantId,
    /// A name chosen by the user.
    pub name: String,
    /// Where its rows are stored (object-store path or file).
    pub location: String,
    /// Its schema.
    pub schema: Schema,
    /// Its profile, once computed.
    pub profile: Option<DatasetProfile>,
    /// Rows.
    pub rows: u64,
    /// When it was registered.
    pub created_at_ms: i64,
}

/// The model families Mirage offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// Gaussian copula with fitted marginals.
    GaussianCopula,
    /// Conditional tabular GAN.
    Ctgan,
    /// CTGAN over copula-transformed columns.
    CopulaGan,
    /// Tabular variational autoencoder.
    Tvae,
    /// Tabular denoising diffusion.
    TabDdpm,
    /// Tabular autoregressive network.
    TabularArgn,
    /// DoppelGANger for sequences.
    Dgan,
    /// TimeGAN for sequences.
    TimeGan,
    /// Maximum-spanning-tree DP marginals.
    Mst,
    /// Adaptive iterative DP marginals.
    Aim,
}

impl ModelKind {
    /// Every kind.
    pub const ALL: [ModelKind; 10] = [
        ModelKind::GaussianCopula,
        ModelKind::Ctgan,
        ModelKind::CopulaGan,
        ModelKind::Tvae,
        ModelKind::TabDdpm,
        ModelKind::TabularArgn,
        ModelKind::Dgan,
        ModelKind::TimeGan,
        ModelKind::Mst,
        ModelKind::Aim,
    ];

    /// The kebab-case name used on the command line and in model files.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::GaussianCopula => "gaussian-copula",
            ModelKind::Ctgan => "ctgan",
            ModelKind::CopulaGan => "copula-gan",
            ModelKind::Tvae => "tvae",
            ModelKind::TabDdpm => "tab-ddpm",
            ModelKind::TabularArgn => "tabular-argn",
            ModelKind::Dgan => "dgan",
            ModelKind::TimeGan => "time-gan",
            ModelKind::Mst => "mst",
            ModelKind::Aim => "aim",
        }
    }

    /// The kind named `name`, if any. Case, `-` and `_` are ignored, so the spellings
    /// users bring from other tools (`copulagan`, `TabDDPM`, `tabular_argn`) resolve too.
    pub fn from_name(name: &str) -> Option<Self> {
        let squash = |s: &str| {
            s.chars()
                .filter(|c| *c != '-' && *c != '_')
                .flat_map(char::to_lowercase)
                .collect::<String>()
        };
        let wanted = squash(name);
        Self::ALL.into_iter().find(|k| squash(k.name()) == wanted)
    }
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An immutable trained model version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRecord {
    /// Its id.
    pub id: ModelId,
    /// Its owner.
    pub tenant: TenantId,
    /// The dataset it learned.
    pub dataset: DatasetId,
    /// Its family.
    pub kind: ModelKind,
    /// Version number within the dataset, from 1.
    pub version: u32,
    /// Hyperparameters as JSON.
    pub config_json: String,
    /// Where the model directory is stored.
    pub location: String,
    /// The privacy spent training it, if trained with DP.
    pub epsilon: Option<f64>,
    /// When training finished.
    pub created_at_ms: i64,
}

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Ingest and profile a dataset.
    Ingest,
    /// Train a model.
    Train,
    /// Generate rows from a model.
    Generate,
    /// Score a generation.
    Assess,
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for a node.
    Queued,
    /// Running under a lease.
    Running,
    /// Finished well.
    Succeeded,
    /// Finished with an error.
    Failed,
    /// Stopped by a user.
    Cancelled,
}

impl JobStatus {
    /// Whether the job will never change again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled
        )
    }
}

/// A unit of scheduled work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// Its id.
    pub id: JobId,
    /// Its owner.
    pub tenant: TenantId,
    /// What it does.
    pub kind: JobKind,
    /// Where it is.
    pub status: JobStatus,
    /// Higher runs first.
    pub priority: i32,
    /// The dataset it reads.
    pub dataset: Option<DatasetId>,
    /// The model it trains or samples.
    pub model: Option<ModelId>,
    /// The node holding its lease.
    pub node: Option<NodeId>,
    /// When the lease runs out unless renewed.
    pub lease_expires_at_ms: Option<i64>,
    /// Fraction done, in [0, 1].
    pub progress: f64,
    /// Where the last checkpoint is.
    pub checkpoint: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// When it was submitted.
    pub created_at_ms: i64,
    /// What it produced, once succeeded (JSON).
    #[serde(default)]
    pub result_json: Option<String>,
    /// Leases it has been given.
    #[serde(default)]
    pub attempts: u32,
}

/// A request for synthetic rows and what came of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationRecord {
    /// Its id.
    pub id: GenerationId,
    /// Its owner.
    pub tenant: TenantId,
    /// The model sampled.
    pub model: ModelId,
    /// Rows asked for.
    pub rows: u64,
    /// Random seed (same seed, same rows).
    pub seed: u64,
    /// Constraints on the rows.
    pub conditions: Vec<Condition>,
    /// Where the rows are stored.
    pub location: Option<String>,
    /// Its quality report.
    pub report: Option<ReportId>,
    /// When it was requested.
    pub created_at_ms: i64,
}

/// The headline numbers of a quality report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualitySummary {
    /// Its id.
    pub id: ReportId,
    /// The generation it scores.
    pub generation: GenerationId,
    /// Mean of the property scores, in [0, 1].
    pub overall: f64,
    /// Column shapes score.
    pub column_shapes: f64,
    /// Column pair trends score.
    pub column_pair_trends: f64,
    /// Whether the quality gate passed.
    pub gate_passed: bool,
}

/// A dataset's privacy budget and what has been spent of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrivacyBudget {
    /// The dataset it protects.
    pub dataset: DatasetId,
    /// Total ε allowed.
    pub epsilon_limit: f64,
    /// The δ every mechanism must meet.
    pub delta: f64,
    /// ε committed by finished jobs.
    pub epsilon_spent: f64,
    /// ε held by running jobs.
    pub epsilon_reserved: f64,
}

impl PrivacyBudget {
    /// ε neither spent nor reserved.
    pub fn remaining(&self) -> f64 {
        (self.epsilon_limit - self.epsilon_spent - self.epsilon_reserved).max(0.0)
    }
}

/// A GPU a node offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuInfo {
    /// Device index.
    pub index: u32,
    /// Marketing name.
    pub name: String,
    /// Memory in bytes.
    pub memory_bytes: u64,
}

/// A node's role in Raft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeRole {
    /// The current leader.
    Leader,
    /// A voting follower.
    Follower,
    /// A non-voting learner catching up.
    Learner,
}

/// A cluster member and what it offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Raft id.
    pub id: NodeId,
    /// gRPC address.
    pub address: String,
    /// Role.
    pub role: NodeRole,
    /// CPU cores.
    pub cpu_cores: u32,
    /// Memory in bytes.
    pub memory_bytes: u64,
    /// GPUs.
    pub gpus: Vec<GpuInfo>,
    /// Last heartbeat.
    pub last_heartbeat_ms: i64,
    /// The jobs running on it.
    #[serde(default)]
    pub running_jobs: Vec<String>,
    /// Whether its heartbeat is recent enough for it to get work.
    #[serde(default)]
    pub alive: bool,
}

/// Jobs by status, as one node's state holds them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCounts {
    /// Waiting for a node.
    pub queued: u32,
    /// Running under a lease.
    pub running: u32,
    /// Finished well.
    pub succeeded: u32,
    /// Finished with an error.
    pub failed: u32,
    /// Stopped by a user.
    pub cancelled: u32,
}

/// The cluster at a glance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterStatus {
    /// The leader, if one is known.
    pub leader: Option<NodeId>,
    /// Raft term.
    pub term: u64,
    /// Raft commit index.
    pub commit_index: u64,
    /// Members.
    pub nodes: Vec<NodeInfo>,
    /// The last log index applied on the answering node.
    #[serde(default)]
    pub last_applied: u64,
    /// Jobs by status.
    #[serde(default)]
    pub jobs: JobCounts,
    /// Privacy ledgers held.
    #[serde(default)]
    pub ledgers: u32,
    /// Whether every ledger's hash chain verifies on the answering node.
    #[serde(default)]
    pub ledgers_verified: bool,
    /// The node that answered.
    #[serde(default)]
    pub answered_by: Option<NodeId>,
    /// The last log index in the answering node's latest snapshot.
    #[serde(default)]
    pub snapshot_index: u64,
    /// The last log index compacted away on the answering node.
    #[serde(default)]
    pub purged_index: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_kind_names_round_trip() {
        for kind in ModelKind::ALL {
            assert_eq!(ModelKind::from_name(kind.name()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", kind.name()));
        }
        assert_eq!(ModelKind::from_name("gan"), None);
        assert_eq!(
            ModelKind::from_name("copulagan"),
            Some(ModelKind::CopulaGan)
        );
        assert_eq!(ModelKind::from_name("TabDDPM"), Some(ModelKind::TabDdpm));
        assert_eq!(
            ModelKind::from_name("tabular_argn"),
            Some(ModelKind::TabularArgn)
        );
    }

    #[test]
    fn remaining_budget_never_goes_negative() {
        let budget = PrivacyBudget {
            dataset: DatasetId::new(),
            epsilon_limit: 1.0,
            delta: 1e-5,
            epsilon_spent: 0.75,
            epsilon_reserved: 0.5,
        };
        assert_eq!(budget.remaining(), 0.0);
    }
}
