//! Dataset and column statistics.

use super::schema::{column_kind_from_proto, column_kind_to_proto};
use super::{convert_all, proto, required_text};
use crate::error::{CoreError, Result};
use crate::profile::{ColumnProfile, DatasetProfile, HistogramBin, TopValue};

impl From<HistogramBin> for proto::HistogramBin {
    fn from(bin: HistogramBin) -> Self {
        proto::HistogramBin {
            lower: bin.lower,
            upper: bin.upper,
            count: bin.count,
        }
    }
}

impl From<proto::HistogramBin> for HistogramBin {
    fn from(bin: proto::HistogramBin) -> Self {
        HistogramBin {
            lower: bin.lower,
            upper: bin.upper,
            count: bin.count,
        }
    }
}

impl From<TopValue> for proto::TopValue {
    fn from(top: TopValue) -> Self {
        proto::TopValue {
            value: top.value,
            count: top.count,
        }
    }
}

impl From<proto::TopValue> for TopValue {
    fn from(top: proto::TopValue) -> Self {
        TopValue {
            value: top.value,
            count: top.count,
        }
    }
}

impl From<ColumnProfile> for proto::ColumnProfile {
    fn from(profile: ColumnProfile) -> Self {
        let (kind, datetime_format) = column_kind_to_proto(profile.kind);
        proto::ColumnProfile {
            name: profile.name,
            kind,
            datetime_format,
            count: profile.count,
            null_count: profile.null_count,
            null_rate: profile.null_rate,
            cardinality: profile.cardinality,
            cardinality_exact: profile.cardinality_exact,
            min: profile.min,
            max: profile.max,
            mean: profile.mean,
            std: profile.std,
            quantiles: profile
                .quantiles
                .into_iter()
                .map(|(probability, value)| proto::Quantile { probability, value })
                .collect(),
            histogram: profile.histogram.into_iter().map(Into::into).collect(),
            top_values: profile.top_values.into_iter().map(Into::into).collect(),
            mean_length: profile.mean_length,
            pii: profile.pii.into_iter().map(Into::into).collect(),
        }
    }
}

impl TryFrom<proto::ColumnProfile> for ColumnProfile {
    type Error = CoreError;

    fn try_from(profile: proto::ColumnProfile) -> Result<Self> {
        Ok(ColumnProfile {
            name: required_text(profile.name, "name")?,
            kind: column_kind_from_proto(profile.kind, profile.datetime_format)?,
            count: profile.count,
            null_count: profile.null_count,
            null_rate: profile.null_rate,
            cardinality: profile.cardinality,
            cardinality_exact: profile.cardinality_exact,
            min: profile.min,
            max: profile.max,
            mean: profile.mean,
            std: profile.std,
            quantiles: profile
                .quantiles
                .into_iter()
                .map(|q| (q.probability, q.value))
                .collect(),
            histogram: profile.histogram.into_iter().map(Into::into).collect(),
            top_values: profile.top_values.into_iter().map(Into::into).collect(),
            mean_length: profile.mean_length,
            pii: convert_all(profile.pii, "pii")?,
        })
    }
}

impl From<DatasetProfile> for proto::DatasetProfile {
    fn from(profile: DatasetProfile) -> Self {
        proto::DatasetProfile {
            rows: profile.rows,
            sample_rate: profile.sample_rate,
            columns: profile.columns.into_iter().map(Into::into).collect(),
        }
    }
}

impl TryFrom<proto::DatasetProfile> for DatasetProfile {
    type Error = CoreError;

    fn try_from(profile: proto::DatasetProfile) -> Result<Self> {
        Ok(DatasetProfile {
            rows: profile.rows,
            sample_rate: profile.sample_rate,
            columns: convert_all(profile.columns, "columns")?,
        })
    }
}
