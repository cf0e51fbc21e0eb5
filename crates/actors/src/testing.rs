//! Builders shared by the unit tests: ids from small numbers, nodes, jobs.

use mirage_core::records::JobKind;
use mirage_core::{DatasetId, GenerationId, JobId, ModelId, NodeId, ReportId, TenantId};
use uuid::Uuid;

use crate::state::{Command, Gpu, JobSpec, NodeSpec, Resources};

pub(crate) const GIB: u64 = 1 << 30;

pub(crate) fn job(n: u128) -> JobId {
    JobId::from_uuid(Uuid::from_u128(n))
}

pub(crate) fn tenant(n: u128) -> TenantId {
    TenantId::from_uuid(Uuid::from_u128(n))
}

pub(crate) fn dataset(n: u128) -> DatasetId {
    DatasetId::from_uuid(Uuid::from_u128(n))
}

pub(crate) fn model(n: u128) -> ModelId {
    ModelId::from_uuid(Uuid::from_u128(n))
}

pub(crate) fn generation(n: u128) -> GenerationId {
    GenerationId::from_uuid(Uuid::from_u128(n))
}

pub(crate) fn report(n: u128) -> ReportId {
    ReportId::from_uuid(Uuid::from_u128(n))
}

/// A node with `cores` cores, `memory_gib` GiB and GPUs of the given GiB each.
pub(crate) fn node(id: u64, cores: u32, memory_gib: u64, gpus_gib: &[u64]) -> Command {
    Command::RegisterNode(NodeSpec {
        id: NodeId(id),
        address: format!("127.0.0.1:{}", 7000 + id),
        cpu_cores: cores,
        memory_bytes: memory_gib * GIB,
        gpus: gpus_gib
            .iter()
            .enumerate()
            .map(|(index, gib)| Gpu {
                index: index as u32,
                memory_bytes: gib * GIB,
            })
            .collect(),
    })
}

/// A CPU job of one core and `memory_gib` GiB.
pub(crate) fn cpu_job(n: u128, owner: u128, priority: i32, memory_gib: u64) -> JobSpec {
    JobSpec {
        id: job(n),
        tenant: tenant(owner),
        kind: JobKind::Train,
        priority,
        resources: Resources {
            cpu_cores: 1,
            memory_bytes: memory_gib * GIB,
            gpu: false,
            gpu_memory_bytes: 0,
        },
        payload: serde_json::json!({ "n": n as u64 }),
    }
}

/// A GPU job of one core, 1 GiB and a GPU with `gpu_gib` GiB.
pub(crate) fn gpu_job(n: u128, owner: u128, priority: i32, gpu_gib: u64) -> JobSpec {
    let mut spec = cpu_job(n, owner, priority, 1);
    spec.resources.gpu = true;
    spec.resources.gpu_memory_bytes = gpu_gib * GIB;
    spec
}
