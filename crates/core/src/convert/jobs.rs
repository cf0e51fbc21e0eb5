//! Job kinds, statuses and records.

use super::{decode_enum, optional_id_text, parse_id, parse_optional_id, proto, unspecified};
use crate::error::{CoreError, Result};
use crate::ids::NodeId;
use crate::records::{JobKind, JobRecord, JobStatus};

impl From<JobKind> for proto::JobKind {
    fn from(kind: JobKind) -> Self {
        match kind {
            JobKind::Ingest => proto::JobKind::Ingest,
            JobKind::Train => proto::JobKind::Train,
            JobKind::Generate => proto::JobKind::Generate,
            JobKind::Assess => proto::JobKind::Assess,
        }
    }
}

impl TryFrom<proto::JobKind> for JobKind {
    type Error = CoreError;

    fn try_from(kind: proto::JobKind) -> Result<Self> {
        Ok(match kind {
            proto::JobKind::Unspecified => {
                return Err(unspecified::<proto::JobKind>(kind.as_str_name()));
            }
            proto::JobKind::Ingest => JobKind::Ingest,
            proto::JobKind::Train => JobKind::Train,
            proto::JobKind::Generate => JobKind::Generate,
            proto::JobKind::Assess => JobKind::Assess,
        })
    }
}

impl From<JobStatus> for proto::JobStatus {
    fn from(status: JobStatus) -> Self {
        match status {
            JobStatus::Queued => proto::JobStatus::Queued,
            JobStatus::Running => proto::JobStatus::Running,
            JobStatus::Succeeded => proto::JobStatus::Succeeded,
            JobStatus::Failed => proto::JobStatus::Failed,
            JobStatus::Cancelled => proto::JobStatus::Cancelled,
        }
    }
}

impl TryFrom<proto::JobStatus> for JobStatus {
    type Error = CoreError;

    fn try_from(status: proto::JobStatus) -> Result<Self> {
        Ok(match status {
            proto::JobStatus::Unspecified => {
                return Err(unspecified::<proto::JobStatus>(status.as_str_name()));
            }
            proto::JobStatus::Queued => JobStatus::Queued,
            proto::JobStatus::Running => JobStatus::Running,
            proto::JobStatus::Succeeded => JobStatus::Succeeded,
            proto::JobStatus::Failed => JobStatus::Failed,
            proto::JobStatus::Cancelled => JobStatus::Cancelled,
        })
    }
}

impl From<JobRecord> for proto::Job {
    fn from(job: JobRecord) -> Self {
        proto::Job {
            id: job.id.to_string(),
            tenant_id: job.tenant.to_string(),
            kind: proto::JobKind::from(job.kind) as i32,
            status: proto::JobStatus::from(job.status) as i32,
            priority: job.priority,
            dataset_id: optional_id_text(job.dataset),
            model_id: optional_id_text(job.model),
            node_id: job.node.map(|node| node.0),
            lease_expires_at_ms: job.lease_expires_at_ms,
            progress: job.progress,
            checkpoint: job.checkpoint,
            error: job.error,
            created_at_ms: job.created_at_ms,
            result_json: job.result_json,
            attempts: job.attempts,
        }
    }
}

impl TryFrom<proto::Job> for JobRecord {
    type Error = CoreError;

    fn try_from(job: proto::Job) -> Result<Self> {
        Ok(JobRecord {
            id: parse_id(&job.id, "id")?,
            tenant: parse_id(&job.tenant_id, "tenant_id")?,
            kind: decode_enum::<proto::JobKind, _>(job.kind, "kind")?,
            status: decode_enum::<proto::JobStatus, _>(job.status, "status")?,
            priority: job.priority,
            dataset: parse_optional_id(&job.dataset_id, "dataset_id")?,
            model: parse_optional_id(&job.model_id, "model_id")?,
            node: job.node_id.map(NodeId),
            lease_expires_at_ms: job.lease_expires_at_ms,
            progress: job.progress,
            checkpoint: job.checkpoint,
            error: job.error,
            created_at_ms: job.created_at_ms,
            result_json: job.result_json,
            attempts: job.attempts,
        })
    }
}
