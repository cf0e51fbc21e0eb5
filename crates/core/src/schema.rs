//! The logical schema of a table: column names, kinds, physical storage, keys.

use arrow::datatypes::{DataType, Field, Schema as ArrowSchema, TimeUnit};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::Arc;

use crate::error::{CoreError, Result};
use crate::pii::{PiiFinding, PiiPolicy};

/// What a column means, which decides how it is profiled, modelled and scored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ColumnKind {
    /// Whole numbers (counts, ages, amounts in cents).
    Integer,
    /// Real numbers.
    Float,
    /// Two values: true and false (however they were spelled in the source; the spelling is
    /// kept in [`ColumnSchema::format`]).
    Boolean,
    /// A small set of labels.
    Categorical,
    /// Labels from a large set (above the high-cardinality threshold).
    HighCardinality,
    /// Points in time, written in the source with a `strftime` format.
    Datetime {
        /// The chrono/strftime format of the source, used to write values back.
        format: String,
    },
    /// Free text (long, mostly unique strings with spaces).
    Text,
    /// A unique key: one distinct value per row.
    Identifier,
    /// One value in every non-null row. A constant datetime keeps its source format in
    /// [`ColumnSchema::format`].
    Constant,
}

impl ColumnKind {
    /// Short lowercase name for tables and logs.
    pub fn name(&self) -> &'static str {
        match self {
            ColumnKind::Integer => "integer",
            ColumnKind::Float => "float",
            ColumnKind::Boolean => "boolean",
            ColumnKind::Categorical => "categorical",
            ColumnKind::HighCardinality => "high_cardinality",
            ColumnKind::Datetime { .. } => "datetime",
            ColumnKind::Text => "text",
            ColumnKind::Identifier => "identifier",
            ColumnKind::Constant => "constant",
        }
    }

    /// Numbers and datetimes: compared by distance and scored by KS.
    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            ColumnKind::Integer | ColumnKind::Float | ColumnKind::Datetime { .. }
        )
    }

    /// Labels: compared by equality and scored by total variation.
    pub fn is_discrete(&self) -> bool {
        matches!(
            self,
            ColumnKind::Boolean | ColumnKind::Categorical | ColumnKind::HighCardinality
        )
    }
}

impl std::fmt::Display for ColumnKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ColumnKind::Datetime { format } => write!(f, "datetime ({format})"),
            other => f.write_str(other.name()),
        }
    }
}

/// How a column's values are held in Arrow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhysicalType {
    /// `Int64`.
    Int64,
    /// `Float64`.
    Float64,
    /// `Boolean`.
    Boolean,
    /// `Utf8`.
    Utf8,
    /// `Timestamp(Millisecond, None)`: milliseconds since the Unix epoch, no time zone.
    TimestampMillis,
}

impl PhysicalType {
    /// The Arrow data type.
    pub fn arrow_type(self) -> DataType {
        match self {
            PhysicalType::Int64 => DataType::Int64,
            PhysicalType::Float64 => DataType::Float64,
            PhysicalType::Boolean => DataType::Boolean,
            PhysicalType::Utf8 => DataType::Utf8,
            PhysicalType::TimestampMillis => DataType::Timestamp(TimeUnit::Millisecond, None),
        }
    }

    /// The physical type for an Arrow type, where Mirage stores that type natively.
    pub fn from_arrow(data_type: &DataType) -> Option<Self> {
        match data_type {
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32 => Some(PhysicalType::Int64),
            DataType::Float16 | DataType::Float32 | DataType::Float64 => {
                Some(PhysicalType::Float64)
            }
            DataType::Boolean => Some(PhysicalType::Boolean),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some(PhysicalType::Utf8),
            DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64 => {
                Some(PhysicalType::TimestampMillis)
            }
            _ => None,
        }
    }
}

/// How a column's values are written as text where its kind does not say: the spellings of a
/// boolean column, or the format of a datetime column whose kind is not
/// [`ColumnKind::Datetime`] (a constant one). Storage is unaffected (Arrow `Boolean` and
/// `Timestamp` stay as they are); CSV output reads it so that synthetic text looks like the
/// source's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ColumnFormat {
    /// The spellings of true and false in the source (`Yes`/`No`, `T`/`F`, `1`/`0`), each the
    /// one seen most often. For [`PhysicalType::Boolean`] columns.
    Boolean {
        /// How true is written.
        true_label: String,
        /// How false is written.
        false_label: String,
    },
    /// The chrono/strftime format of the source, for [`PhysicalType::TimestampMillis`]
    /// columns whose kind carries none. A [`ColumnKind::Datetime`] format takes precedence.
    Datetime {
        /// The chrono/strftime format.
        format: String,
    },
}

/// One column of a [`Schema`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnSchema {
    /// The column's name as in the source.
    pub name: String,
    /// What the column means.
    pub kind: ColumnKind,
    /// How its values are stored.
    pub physical: PhysicalType,
    /// Whether the source has nulls in it.
    pub nullable: bool,
    /// The strongest personal-data finding, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pii: Option<PiiFinding>,
    /// What to do with the column if it holds personal data.
    #[serde(default)]
    pub pii_policy: PiiPolicy,
    /// How values are written as text where the kind does not say; `None` writes Mirage's
    /// defaults (`true`/`false`, `%Y-%m-%d %H:%M:%S`). Absent from schemas saved before it
    /// existed, which read as `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<ColumnFormat>,
}

impl ColumnSchema {
    /// A column with no PII finding.
    pub fn new(name: impl Into<String>, kind: ColumnKind, physical: PhysicalType) -> Self {
        Self {
            name: name.into(),
            kind,
            physical,
            nullable: true,
            pii: None,
            pii_policy: PiiPolicy::default(),
            format: None,
        }
    }

    /// The strftime format to write the column's datetimes in: the kind's, else the one in
    /// [`Self::format`]; `None` when neither has one.
    pub fn datetime_format(&self) -> Option<&str> {
        match (&self.kind, &self.format) {
            (ColumnKind::Datetime { format }, _) => Some(format),
            (_, Some(ColumnFormat::Datetime { format })) => Some(format),
            _ => None,
        }
    }

    /// The spellings of true and false, when [`Self::format`] records them.
    pub fn boolean_labels(&self) -> Option<(&str, &str)> {
        match &self.format {
            Some(ColumnFormat::Boolean {
                true_label,
                false_label,
            }) => Some((true_label, false_label)),
            _ => None,
        }
    }

    /// Whether the column is fed to models: PII columns are not, unless the user kept them.
    pub fn is_modelled(&self) -> bool {
        self.pii.is_none() || self.pii_policy == PiiPolicy::Keep
    }

    /// The Arrow field for this column.
    pub fn arrow_field(&self) -> Field {
        Field::new(&self.name, self.physical.arrow_type(), self.nullable)
    }
}

/// A reference from this table's column to a key of another table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignKey {
    /// Column in this table.
    pub column: String,
    /// The parent table's name.
    pub parent_table: String,
    /// The parent's key column.
    pub parent_column: String,
}

/// Marks a table as event sequences: rows grouped by entity, ordered by a column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SequenceKey {
    /// The column naming the entity a row belongs to.
    pub entity_column: String,
    /// The column that orders an entity's rows.
    pub order_column: String,
}

/// The logical schema of one table.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Schema {
    /// Columns in source order.
    pub columns: Vec<ColumnSchema>,
    /// The primary key column, if the table has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_key: Option<String>,
    /// References to parent tables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub foreign_keys: Vec<ForeignKey>,
    /// Set when rows are events of entities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_key: Option<SequenceKey>,
}

impl Schema {
    /// A schema of these columns, checked.
    pub fn new(columns: Vec<ColumnSchema>) -> Result<Self> {
        let schema = Self {
            columns,
            ..Self::default()
        };
        schema.validate()?;
        Ok(schema)
    }

    /// Checks names are unique and keys name existing columns.
    pub fn validate(&self) -> Result<()> {
        let mut seen = HashSet::new();
        for column in &self.columns {
            if !seen.insert(column.name.as_str()) {
                return Err(CoreError::DuplicateColumn {
                    column: column.name.clone(),
                });
            }
        }
        let keys = self
            .primary_key
            .iter()
            .chain(self.foreign_keys.iter().map(|fk| &fk.column))
            .chain(
                self.sequence_key
                    .iter()
                    .flat_map(|s| [&s.entity_column, &s.order_column]),
            );
        for key in keys {
            if !seen.contains(key.as_str()) {
                return Err(CoreError::UnknownColumn {
                    column: key.clone(),
                });
            }
        }
        Ok(())
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// Whether there are no columns.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// The position of a column.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// A column by name.
    pub fn column(&self, name: &str) -> Option<&ColumnSchema> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// A column by name, or an error naming it.
    pub fn require(&self, name: &str) -> Result<&ColumnSchema> {
        self.column(name).ok_or_else(|| CoreError::UnknownColumn {
            column: name.to_string(),
        })
    }

    /// The Arrow schema of batches holding this table.
    pub fn arrow_schema(&self) -> Arc<ArrowSchema> {
        Arc::new(ArrowSchema::new(
            self.columns
                .iter()
                .map(ColumnSchema::arrow_field)
                .collect::<Vec<_>>(),
        ))
    }

    /// The same schema restricted to the named columns, in this schema's order.
    pub fn project(&self, keep: &[&str]) -> Schema {
        Schema {
            columns: self
                .columns
                .iter()
                .filter(|c| keep.contains(&c.name.as_str()))
                .cloned()
                .collect(),
            primary_key: self
                .primary_key
                .clone()
                .filter(|k| keep.contains(&k.as_str())),
            foreign_keys: self
                .foreign_keys
                .iter()
                .filter(|fk| keep.contains(&fk.column.as_str()))
                .cloned()
                .collect(),
            sequence_key: self.sequence_key.clone().filter(|s| {
                keep.contains(&s.entity_column.as_str()) && keep.contains(&s.order_column.as_str())
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str) -> ColumnSchema {
        ColumnSchema::new(name, ColumnKind::Integer, PhysicalType::Int64)
    }

    #[test]
    fn duplicate_names_are_refused_by_name() {
        let err = Schema::new(vec![column("a"), column("b"), column("a")]).expect_err("dup");
        assert!(err.to_string().contains("\"a\""), "{err}");
    }

    #[test]
    fn keys_must_name_columns() {
        let mut schema = Schema::new(vec![column("id")]).expect("valid");
        schema.primary_key = Some("key".into());
        let err = schema.validate().expect_err("unknown key");
        assert!(err.to_string().contains("\"key\""), "{err}");
    }

    #[test]
    fn arrow_schema_follows_physical_types() {
        let schema = Schema::new(vec![
            column("n"),
            ColumnSchema::new(
                "t",
                ColumnKind::Datetime {
                    format: "%Y-%m-%d".into(),
                },
                PhysicalType::TimestampMillis,
            ),
        ])
        .expect("valid");
        let arrow = schema.arrow_schema();
        assert_eq!(arrow.field(0).data_type(), &DataType::Int64);
        assert_eq!(
            arrow.field(1).data_type(),
            &DataType::Timestamp(TimeUnit::Millisecond, None)
        );
    }

    #[test]
    fn formats_serialize_with_a_tag_and_only_when_set() {
        let mut column = ColumnSchema::new("paid", ColumnKind::Boolean, PhysicalType::Boolean);
        let json = serde_json::to_string(&column).expect("json");
        assert!(!json.contains("format"), "{json}");
        column.format = Some(ColumnFormat::Boolean {
            true_label: "Yes".into(),
            false_label: "No".into(),
        });
        let json = serde_json::to_string(&column).expect("json");
        assert!(
            json.contains(r#""format":{"type":"boolean","true_label":"Yes","false_label":"No"}"#),
            "{json}"
        );
        let back: ColumnSchema = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, column);
        assert_eq!(back.boolean_labels(), Some(("Yes", "No")));
    }

    #[test]
    fn schemas_saved_without_formats_still_load() {
        let json = r#"{"columns":[
            {"name":"paid","kind":{"kind":"boolean"},"physical":"boolean","nullable":false},
            {"name":"day","kind":{"kind":"constant"},"physical":"timestamp_millis","nullable":true,"pii_policy":"exclude"}
        ]}"#;
        let schema: Schema = serde_json::from_str(json).expect("old schema loads");
        assert!(schema.columns.iter().all(|c| c.format.is_none()));
        assert_eq!(schema.columns[0].boolean_labels(), None);
        assert_eq!(schema.columns[1].datetime_format(), None);
    }

    #[test]
    fn the_kind_format_wins_over_the_column_format() {
        let mut column = ColumnSchema::new(
            "day",
            ColumnKind::Datetime {
                format: "%d/%m/%Y".into(),
            },
            PhysicalType::TimestampMillis,
        );
        column.format = Some(ColumnFormat::Datetime {
            format: "%Y".into(),
        });
        assert_eq!(column.datetime_format(), Some("%d/%m/%Y"));
        column.kind = ColumnKind::Constant;
        assert_eq!(column.datetime_format(), Some("%Y"));
    }

    #[test]
    fn kinds_serialize_with_a_tag() {
        let kind = ColumnKind::Datetime {
            format: "%d/%m/%Y".into(),
        };
        let json = serde_json::to_string(&kind).expect("json");
        assert_eq!(json, r#"{"kind":"datetime","format":"%d/%m/%Y"}"#);
        let back: ColumnKind = serde_json::from_str(r#"{"kind":"categorical"}"#).expect("parse");
        assert_eq!(back, ColumnKind::Categorical);
    }
}
