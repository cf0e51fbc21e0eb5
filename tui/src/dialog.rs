//! The confirmation dialog of a destructive or costly operator action.

use mirage_proto::v1::ModelKind;

use crate::snapshot::Command;

/// The model families offered when retrying a training job (the job record does not keep
/// the family it was asked for, so the operator picks it).
pub const RETRY_KINDS: [ModelKind; 5] = [
    ModelKind::GaussianCopula,
    ModelKind::Ctgan,
    ModelKind::Tvae,
    ModelKind::TabularArgn,
    ModelKind::Mst,
];

/// A dialog waiting for the operator's yes or no.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dialog {
    /// Cancel a queued or running job.
    Cancel {
        /// The job.
        job_id: String,
    },
    /// Re-submit a failed training job's dataset.
    Retry {
        /// The failed job.
        job_id: String,
        /// Its dataset.
        dataset_id: String,
        /// Index into [`RETRY_KINDS`].
        kind: usize,
    },
}

impl Dialog {
    /// The question shown.
    pub fn question(&self) -> String {
        match self {
            Dialog::Cancel { job_id } => format!("Cancel job {job_id}?"),
            Dialog::Retry {
                job_id, dataset_id, ..
            } => format!("Retry {job_id}: train again on {dataset_id}?"),
        }
    }

    /// The chosen model family, for a retry.
    pub fn model_kind(&self) -> Option<ModelKind> {
        match self {
            Dialog::Retry { kind, .. } => Some(RETRY_KINDS[kind % RETRY_KINDS.len()]),
            Dialog::Cancel { .. } => None,
        }
    }

    /// Moves the model choice by `step` (wrapping); nothing for other dialogs.
    pub fn choose(&mut self, step: isize) {
        if let Dialog::Retry { kind, .. } = self {
            let count = RETRY_KINDS.len() as isize;
            *kind = ((*kind as isize + step).rem_euclid(count)) as usize;
        }
    }

    /// The command a "yes" sends.
    pub fn command(&self) -> Command {
        match self {
            Dialog::Cancel { job_id } => Command::Cancel {
                job_id: job_id.clone(),
            },
            Dialog::Retry {
                job_id,
                dataset_id,
                kind,
            } => Command::Retry {
                job_id: job_id.clone(),
                dataset_id: dataset_id.clone(),
                model_kind: RETRY_KINDS[kind % RETRY_KINDS.len()],
            },
        }
    }
}

/// A model family's short name, as the CLI writes it.
pub fn model_kind_name(kind: ModelKind) -> &'static str {
    match kind {
        ModelKind::Unspecified => "unspecified",
        ModelKind::GaussianCopula => "gaussian-copula",
        ModelKind::Ctgan => "ctgan",
        ModelKind::CopulaGan => "copulagan",
        ModelKind::Tvae => "tvae",
        ModelKind::TabDdpm => "tabddpm",
        ModelKind::TabularArgn => "tabular-argn",
        ModelKind::Dgan => "dgan",
        ModelKind::TimeGan => "timegan",
        ModelKind::Mst => "mst",
        ModelKind::Aim => "aim",
    }
}
