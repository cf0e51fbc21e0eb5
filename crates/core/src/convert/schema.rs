//! Column kinds, physical types, column formats, columns, keys and schemas.

use super::{WithinField, convert_all, decode_enum, decode_proto_enum, invalid, missing, proto};
use super::{required_text, unspecified, unspecified_message};
use crate::error::{CoreError, Result};
use crate::schema::{
    ColumnFormat, ColumnKind, ColumnSchema, ForeignKey, PhysicalType, Schema, SequenceKey,
};

/// The proto kind of a column; the datetime format travels in a field of its own.
impl From<&ColumnKind> for proto::ColumnKind {
    fn from(kind: &ColumnKind) -> Self {
        match kind {
            ColumnKind::Integer => proto::ColumnKind::Integer,
            ColumnKind::Float => proto::ColumnKind::Float,
            ColumnKind::Boolean => proto::ColumnKind::Boolean,
            ColumnKind::Categorical => proto::ColumnKind::Categorical,
            ColumnKind::HighCardinality => proto::ColumnKind::HighCardinality,
            ColumnKind::Datetime { .. } => proto::ColumnKind::Datetime,
            ColumnKind::Text => proto::ColumnKind::Text,
            ColumnKind::Identifier => proto::ColumnKind::Identifier,
            ColumnKind::Constant => proto::ColumnKind::Constant,
        }
    }
}

/// The `kind` and `datetime_format` fields of a column or column profile.
pub(crate) fn column_kind_to_proto(kind: ColumnKind) -> (i32, Option<String>) {
    let proto_kind = proto::ColumnKind::from(&kind) as i32;
    match kind {
        ColumnKind::Datetime { format } => (proto_kind, Some(format)),
        _ => (proto_kind, None),
    }
}

/// The column kind from the `kind` and `datetime_format` fields: the format is required for
/// datetimes and refused for every other kind, so that a wrong kind is not hidden.
pub(crate) fn column_kind_from_proto(
    kind: i32,
    datetime_format: Option<String>,
) -> Result<ColumnKind> {
    let kind = decode_proto_enum::<proto::ColumnKind>(kind, "kind")?;
    Ok(match (kind, datetime_format) {
        (proto::ColumnKind::Unspecified, _) => {
            return Err(invalid(
                "kind",
                unspecified_message::<proto::ColumnKind>(kind.as_str_name()),
            ));
        }
        (proto::ColumnKind::Datetime, Some(format)) => ColumnKind::Datetime { format },
        (proto::ColumnKind::Datetime, None) => return Err(missing("datetime_format")),
        (_, Some(_)) => {
            return Err(invalid(
                "datetime_format",
                format!(
                    "only COLUMN_KIND_DATETIME columns have a format, this one is {}: unset it",
                    kind.as_str_name()
                ),
            ));
        }
        (proto::ColumnKind::Integer, None) => ColumnKind::Integer,
        (proto::ColumnKind::Float, None) => ColumnKind::Float,
        (proto::ColumnKind::Boolean, None) => ColumnKind::Boolean,
        (proto::ColumnKind::Categorical, None) => ColumnKind::Categorical,
        (proto::ColumnKind::HighCardinality, None) => ColumnKind::HighCardinality,
        (proto::ColumnKind::Text, None) => ColumnKind::Text,
        (proto::ColumnKind::Identifier, None) => ColumnKind::Identifier,
        (proto::ColumnKind::Constant, None) => ColumnKind::Constant,
    })
}

impl From<PhysicalType> for proto::PhysicalType {
    fn from(physical: PhysicalType) -> Self {
        match physical {
            PhysicalType::Int64 => proto::PhysicalType::Int64,
            PhysicalType::Float64 => proto::PhysicalType::Float64,
            PhysicalType::Boolean => proto::PhysicalType::Boolean,
            PhysicalType::Utf8 => proto::PhysicalType::Utf8,
            PhysicalType::TimestampMillis => proto::PhysicalType::TimestampMillis,
        }
    }
}

impl TryFrom<proto::PhysicalType> for PhysicalType {
    type Error = CoreError;

    fn try_from(physical: proto::PhysicalType) -> Result<Self> {
        Ok(match physical {
            proto::PhysicalType::Unspecified => {
                return Err(unspecified::<proto::PhysicalType>(physical.as_str_name()));
            }
            proto::PhysicalType::Int64 => PhysicalType::Int64,
            proto::PhysicalType::Float64 => PhysicalType::Float64,
            proto::PhysicalType::Boolean => PhysicalType::Boolean,
            proto::PhysicalType::Utf8 => PhysicalType::Utf8,
            proto::PhysicalType::TimestampMillis => PhysicalType::TimestampMillis,
        })
    }
}

impl From<ColumnFormat> for proto::ColumnFormat {
    fn from(format: ColumnFormat) -> Self {
        let format = match format {
            ColumnFormat::Boolean {
                true_label,
                false_label,
            } => proto::column_format::Format::Boolean(proto::BooleanLabels {
                true_label,
                false_label,
            }),
            ColumnFormat::Datetime { format } => proto::column_format::Format::Datetime(format),
        };
        proto::ColumnFormat {
            format: Some(format),
        }
    }
}

impl TryFrom<proto::ColumnFormat> for ColumnFormat {
    type Error = CoreError;

    /// Refuses an empty message and empty or equal labels; whether the format fits the
    /// column's storage is checked by [`column_format_from_proto`].
    fn try_from(format: proto::ColumnFormat) -> Result<Self> {
        match format.format {
            None => Err(invalid(
                "format",
                "set one of boolean or datetime, or leave the column's format unset",
            )),
            Some(proto::column_format::Format::Boolean(labels)) => {
                let true_label = required_text(labels.true_label, "boolean.true_label")?;
                let false_label = required_text(labels.false_label, "boolean.false_label")?;
                if true_label == false_label {
                    return Err(invalid(
                        "boolean.false_label",
                        format!(
                            "true and false are both spelled {true_label:?}, so they could not be told apart: give false another label"
                        ),
                    ));
                }
                Ok(ColumnFormat::Boolean {
                    true_label,
                    false_label,
                })
            }
            Some(proto::column_format::Format::Datetime(format)) => Ok(ColumnFormat::Datetime {
                format: required_text(format, "datetime")?,
            }),
        }
    }
}

/// The `format` field of a column stored as `physical`: boolean labels are refused for
/// anything but booleans and datetime formats for anything but timestamps, so that a wrong
/// physical type is not hidden.
fn column_format_from_proto(
    format: Option<proto::ColumnFormat>,
    physical: PhysicalType,
) -> Result<Option<ColumnFormat>> {
    let Some(format) = format else {
        return Ok(None);
    };
    let format = ColumnFormat::try_from(format).within("format")?;
    let (fits, wanted) = match &format {
        ColumnFormat::Boolean { .. } => (physical == PhysicalType::Boolean, "boolean labels"),
        ColumnFormat::Datetime { .. } => (
            physical == PhysicalType::TimestampMillis,
            "a datetime format",
        ),
    };
    if !fits {
        return Err(invalid(
            "format",
            format!(
                "{wanted} do not fit a column stored as {}: unset the format or fix physical",
                proto::PhysicalType::from(physical).as_str_name()
            ),
        ));
    }
    Ok(Some(format))
}

impl From<ColumnSchema> for proto::ColumnSchema {
    fn from(column: ColumnSchema) -> Self {
        let (kind, datetime_format) = column_kind_to_proto(column.kind);
        proto::ColumnSchema {
            name: column.name,
            kind,
            datetime_format,
            physical: proto::PhysicalType::from(column.physical) as i32,
            nullable: column.nullable,
            pii: column.pii.map(Into::into),
            pii_policy: proto::PiiPolicy::from(column.pii_policy) as i32,
            format: column.format.map(Into::into),
        }
    }
}

impl TryFrom<proto::ColumnSchema> for ColumnSchema {
    type Error = CoreError;

    fn try_from(column: proto::ColumnSchema) -> Result<Self> {
        let physical = decode_enum::<proto::PhysicalType, _>(column.physical, "physical")?;
        Ok(ColumnSchema {
            name: required_text(column.name, "name")?,
            kind: column_kind_from_proto(column.kind, column.datetime_format)?,
            physical,
            nullable: column.nullable,
            pii: column
                .pii
                .map(TryInto::try_into)
                .transpose()
                .within("pii")?,
            pii_policy: decode_enum::<proto::PiiPolicy, _>(column.pii_policy, "pii_policy")?,
            format: column_format_from_proto(column.format, physical)?,
        })
    }
}

impl From<ForeignKey> for proto::ForeignKey {
    fn from(key: ForeignKey) -> Self {
        proto::ForeignKey {
            column: key.column,
            parent_table: key.parent_table,
            parent_column: key.parent_column,
        }
    }
}

impl TryFrom<proto::ForeignKey> for ForeignKey {
    type Error = CoreError;

    fn try_from(key: proto::ForeignKey) -> Result<Self> {
        Ok(ForeignKey {
            column: required_text(key.column, "column")?,
            parent_table: required_text(key.parent_table, "parent_table")?,
            parent_column: required_text(key.parent_column, "parent_column")?,
        })
    }
}

impl From<SequenceKey> for proto::SequenceKey {
    fn from(key: SequenceKey) -> Self {
        proto::SequenceKey {
            entity_column: key.entity_column,
            order_column: key.order_column,
        }
    }
}

impl TryFrom<proto::SequenceKey> for SequenceKey {
    type Error = CoreError;

    fn try_from(key: proto::SequenceKey) -> Result<Self> {
        Ok(SequenceKey {
            entity_column: required_text(key.entity_column, "entity_column")?,
            order_column: required_text(key.order_column, "order_column")?,
        })
    }
}

impl From<Schema> for proto::Schema {
    fn from(schema: Schema) -> Self {
        proto::Schema {
            columns: schema.columns.into_iter().map(Into::into).collect(),
            primary_key: schema.primary_key,
            foreign_keys: schema.foreign_keys.into_iter().map(Into::into).collect(),
            sequence_key: schema.sequence_key.map(Into::into),
        }
    }
}

impl TryFrom<proto::Schema> for Schema {
    type Error = CoreError;

    /// Also checks the schema: unique column names, keys that name columns.
    fn try_from(schema: proto::Schema) -> Result<Self> {
        let primary_key = match schema.primary_key {
            Some(key) => Some(required_text(key, "primary_key")?),
            None => None,
        };
        let schema = Schema {
            columns: convert_all(schema.columns, "columns")?,
            primary_key,
            foreign_keys: convert_all(schema.foreign_keys, "foreign_keys")?,
            sequence_key: schema
                .sequence_key
                .map(TryInto::try_into)
                .transpose()
                .within("sequence_key")?,
        };
        schema.validate()?;
        Ok(schema)
    }
}
