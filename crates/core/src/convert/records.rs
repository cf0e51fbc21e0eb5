//! Datasets, models, generations, quality summaries and privacy budgets.

use super::{
    WithinField, convert_all, decode_enum, optional_id_text, parse_id, parse_optional_id, proto,
    required, unspecified,
};
use crate::error::{CoreError, Result};
use crate::records::{
    DatasetRecord, GenerationRecord, ModelKind, ModelRecord, PrivacyBudget, QualitySummary,
};

impl From<DatasetRecord> for proto::Dataset {
    fn from(dataset: DatasetRecord) -> Self {
        proto::Dataset {
            id: dataset.id.to_string(),
            tenant_id: dataset.tenant.to_string(),
            name: dataset.name,
            location: dataset.location,
            schema: Some(dataset.schema.into()),
            profile: dataset.profile.map(Into::into),
            rows: dataset.rows,
            created_at_ms: dataset.created_at_ms,
        }
    }
}

impl TryFrom<proto::Dataset> for DatasetRecord {
    type Error = CoreError;

    fn try_from(dataset: proto::Dataset) -> Result<Self> {
        Ok(DatasetRecord {
            id: parse_id(&dataset.id, "id")?,
            tenant: parse_id(&dataset.tenant_id, "tenant_id")?,
            name: dataset.name,
            location: dataset.location,
            schema: required(dataset.schema, "schema")?
                .try_into()
                .within("schema")?,
            profile: dataset
                .profile
                .map(TryInto::try_into)
                .transpose()
                .within("profile")?,
            rows: dataset.rows,
            created_at_ms: dataset.created_at_ms,
        })
    }
}

impl From<ModelKind> for proto::ModelKind {
    fn from(kind: ModelKind) -> Self {
        match kind {
            ModelKind::GaussianCopula => proto::ModelKind::GaussianCopula,
            ModelKind::Ctgan => proto::ModelKind::Ctgan,
            ModelKind::CopulaGan => proto::ModelKind::CopulaGan,
            ModelKind::Tvae => proto::ModelKind::Tvae,
            ModelKind::TabDdpm => proto::ModelKind::TabDdpm,
            ModelKind::TabularArgn => proto::ModelKind::TabularArgn,
            ModelKind::Dgan => proto::ModelKind::Dgan,
            ModelKind::TimeGan => proto::ModelKind::TimeGan,
            ModelKind::Mst => proto::ModelKind::Mst,
            ModelKind::Aim => proto::ModelKind::Aim,
        }
    }
}

impl TryFrom<proto::ModelKind> for ModelKind {
    type Error = CoreError;

    fn try_from(kind: proto::ModelKind) -> Result<Self> {
        Ok(match kind {
            proto::ModelKind::Unspecified => {
                return Err(unspecified::<proto::ModelKind>(kind.as_str_name()));
            }
            proto::ModelKind::GaussianCopula => ModelKind::GaussianCopula,
            proto::ModelKind::Ctgan => ModelKind::Ctgan,
            proto::ModelKind::CopulaGan => ModelKind::CopulaGan,
            proto::ModelKind::Tvae => ModelKind::Tvae,
            proto::ModelKind::TabDdpm => ModelKind::TabDdpm,
            proto::ModelKind::TabularArgn => ModelKind::TabularArgn,
            proto::ModelKind::Dgan => ModelKind::Dgan,
            proto::ModelKind::TimeGan => ModelKind::TimeGan,
            proto::ModelKind::Mst => ModelKind::Mst,
            proto::ModelKind::Aim => ModelKind::Aim,
        })
    }
}

impl From<ModelRecord> for proto::Model {
    fn from(model: ModelRecord) -> Self {
        proto::Model {
            id: model.id.to_string(),
            tenant_id: model.tenant.to_string(),
            dataset_id: model.dataset.to_string(),
            kind: proto::ModelKind::from(model.kind) as i32,
            version: model.version,
            config_json: model.config_json,
            location: model.location,
            epsilon: model.epsilon,
            created_at_ms: model.created_at_ms,
            training_summary_json: String::new(),
            job_id: String::new(),
        }
    }
}

impl TryFrom<proto::Model> for ModelRecord {
    type Error = CoreError;

    fn try_from(model: proto::Model) -> Result<Self> {
        Ok(ModelRecord {
            id: parse_id(&model.id, "id")?,
            tenant: parse_id(&model.tenant_id, "tenant_id")?,
            dataset: parse_id(&model.dataset_id, "dataset_id")?,
            kind: decode_enum::<proto::ModelKind, _>(model.kind, "kind")?,
            version: model.version,
            config_json: model.config_json,
            location: model.location,
            epsilon: model.epsilon,
            created_at_ms: model.created_at_ms,
        })
    }
}

impl From<GenerationRecord> for proto::Generation {
    fn from(generation: GenerationRecord) -> Self {
        proto::Generation {
            id: generation.id.to_string(),
            tenant_id: generation.tenant.to_string(),
            model_id: generation.model.to_string(),
            rows: generation.rows,
            seed: generation.seed,
            conditions: generation.conditions.into_iter().map(Into::into).collect(),
            location: generation.location,
            report_id: optional_id_text(generation.report),
            created_at_ms: generation.created_at_ms,
            ..proto::Generation::default()
        }
    }
}

impl TryFrom<proto::Generation> for GenerationRecord {
    type Error = CoreError;

    fn try_from(generation: proto::Generation) -> Result<Self> {
        Ok(GenerationRecord {
            id: parse_id(&generation.id, "id")?,
            tenant: parse_id(&generation.tenant_id, "tenant_id")?,
            model: parse_id(&generation.model_id, "model_id")?,
            rows: generation.rows,
            seed: generation.seed,
            conditions: convert_all(generation.conditions, "conditions")?,
            location: generation.location,
            report: parse_optional_id(&generation.report_id, "report_id")?,
            created_at_ms: generation.created_at_ms,
        })
    }
}

impl From<QualitySummary> for proto::QualitySummary {
    fn from(summary: QualitySummary) -> Self {
        proto::QualitySummary {
            id: summary.id.to_string(),
            generation_id: summary.generation.to_string(),
            overall: summary.overall,
            column_shapes: summary.column_shapes,
            column_pair_trends: summary.column_pair_trends,
            gate_passed: summary.gate_passed,
        }
    }
}

impl TryFrom<proto::QualitySummary> for QualitySummary {
    type Error = CoreError;

    fn try_from(summary: proto::QualitySummary) -> Result<Self> {
        Ok(QualitySummary {
            id: parse_id(&summary.id, "id")?,
            generation: parse_id(&summary.generation_id, "generation_id")?,
            overall: summary.overall,
            column_shapes: summary.column_shapes,
            column_pair_trends: summary.column_pair_trends,
            gate_passed: summary.gate_passed,
        })
    }
}

impl From<PrivacyBudget> for proto::PrivacyBudget {
    fn from(budget: PrivacyBudget) -> Self {
        proto::PrivacyBudget {
            dataset_id: budget.dataset.to_string(),
            epsilon_limit: budget.epsilon_limit,
            delta: budget.delta,
            epsilon_spent: budget.epsilon_spent,
            epsilon_reserved: budget.epsilon_reserved,
            epsilon_remaining: budget.remaining(),
        }
    }
}

impl TryFrom<proto::PrivacyBudget> for PrivacyBudget {
    type Error = CoreError;

    /// `epsilon_remaining` is output only and is not read.
    fn try_from(budget: proto::PrivacyBudget) -> Result<Self> {
        Ok(PrivacyBudget {
            dataset: parse_id(&budget.dataset_id, "dataset_id")?,
            epsilon_limit: budget.epsilon_limit,
            delta: budget.delta,
            epsilon_spent: budget.epsilon_spent,
            epsilon_reserved: budget.epsilon_reserved,
        })
    }
}
