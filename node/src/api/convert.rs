//! Conversions between the replicated state's records and the public protobuf messages.

use mirage_actors::runtime::JobProgress;
use mirage_actors::{Job, JobState};
use mirage_core::TenantId;
use mirage_core::records::JobKind;
use mirage_proto::v1;

/// The tenant every call acts for until authentication lands.
pub fn default_tenant() -> TenantId {
    TenantId::from_uuid(uuid::Uuid::nil())
}

/// The protobuf job kind.
pub fn job_kind(kind: JobKind) -> v1::JobKind {
    match kind {
        JobKind::Ingest => v1::JobKind::Ingest,
        JobKind::Train => v1::JobKind::Train,
        JobKind::Generate => v1::JobKind::Generate,
        JobKind::Assess => v1::JobKind::Assess,
    }
}

/// The protobuf status of a job state.
pub fn job_status(state: &JobState) -> v1::JobStatus {
    match state {
        JobState::Queued => v1::JobStatus::Queued,
        JobState::Running { .. } => v1::JobStatus::Running,
        JobState::Succeeded { .. } => v1::JobStatus::Succeeded,
        JobState::Failed { .. } => v1::JobStatus::Failed,
        JobState::Cancelled => v1::JobStatus::Cancelled,
    }
}

fn millis(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// The protobuf view of a job, with the latest progress this node saw.
pub fn job(job: &Job, progress: Option<&JobProgress>) -> v1::Job {
    let payload = &job.spec.payload;
    let text = |key: &str| {
        payload
            .get(key)
            .and_then(|value| value.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let result_json = match &job.state {
        JobState::Succeeded { result, .. } => Some(result.to_string()),
        _ => None,
    };
    let (node_id, lease_expires_at_ms, error, done) = match &job.state {
        JobState::Running { node, lease, .. } => {
            (Some(node.0), Some(millis(lease.expires_at_ms)), None, false)
        }
        JobState::Succeeded { node, .. } => (Some(node.0), None, None, true),
        JobState::Failed { node, error, .. } => (Some(node.0), None, Some(error.clone()), false),
        JobState::Queued | JobState::Cancelled => (None, None, None, false),
    };
    v1::Job {
        id: job.spec.id.to_string(),
        tenant_id: job.spec.tenant.to_string(),
        kind: job_kind(job.spec.kind) as i32,
        status: job_status(&job.state) as i32,
        priority: job.spec.priority,
        dataset_id: text("dataset_id"),
        model_id: text("model_id"),
        node_id,
        lease_expires_at_ms,
        progress: if done {
            1.0
        } else {
            progress.map_or(0.0, JobProgress::fraction)
        },
        checkpoint: job.checkpoint.as_ref().map(|c| c.url.clone()),
        error,
        created_at_ms: millis(job.submitted_at_ms),
        result_json,
        attempts: job.attempts,
    }
}
