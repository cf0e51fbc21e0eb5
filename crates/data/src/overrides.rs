//! Schema overrides: a TOML or JSON file in which the user corrects what inference got
//! wrong, per column (`kind`, datetime `format`, and what to do with personal data), plus
//! the table's primary key.
//!
//! ```toml
//! primary_key = "id"
//! [columns.zip]
//! kind = "categorical"
//! [columns.signup]
//! kind = "datetime"
//! format = "%d/%m/%Y"
//! [columns.email]
//! pii = "keep"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mirage_core::schema::PhysicalType;
use mirage_core::{ColumnKind, PiiKind, PiiPolicy};
use serde::Deserialize;

use crate::datetime::DatetimeFormat;
use crate::error::{DataError, Result};

/// The kinds a schema file may name, as written there.
const KIND_NAMES: &str =
    "integer, float, boolean, categorical, high_cardinality, datetime, text, identifier, constant";

/// What the schema file says about one column. Every field is optional: what is left out
/// stays as inferred.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColumnOverride {
    /// The column's kind. A `Datetime` with an empty format keeps the inferred format.
    pub kind: Option<ColumnKind>,
    /// What to do with the column if it holds personal data.
    pub pii: Option<PiiPolicy>,
    /// Marks the column as personal data of this kind, whatever detection finds.
    pub pii_kind: Option<PiiKind>,
}

/// Corrections to an inferred schema, usually read from a file with [`Self::from_path`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SchemaOverrides {
    /// The table's primary key column.
    pub primary_key: Option<String>,
    /// Per-column settings by column name.
    pub columns: BTreeMap<String, ColumnOverride>,
    /// The file the overrides came from, named in errors.
    pub source: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOverrides {
    primary_key: Option<String>,
    #[serde(default)]
    columns: BTreeMap<String, RawColumn>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawColumn {
    kind: Option<String>,
    format: Option<String>,
    pii: Option<String>,
    pii_kind: Option<String>,
}

impl SchemaOverrides {
    /// Reads a schema file, TOML or JSON by its extension.
    pub fn from_path(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("toml") => Self::from_toml_str(&text, path),
            Some("json") => Self::from_json_str(&text, path),
            _ => Err(DataError::OverridesSyntax {
                path: path.to_path_buf(),
                message: "the file name must end in .toml or .json, so Mirage knows how to read it"
                    .into(),
            }),
        }
    }

    /// Parses TOML text; `source` names the file in errors.
    pub fn from_toml_str(text: &str, source: &Path) -> Result<Self> {
        let raw: RawOverrides = toml::from_str(text).map_err(|e| DataError::OverridesSyntax {
            path: source.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        Self::from_raw(raw, source)
    }

    /// Parses JSON text; `source` names the file in errors.
    pub fn from_json_str(text: &str, source: &Path) -> Result<Self> {
        let raw: RawOverrides =
            serde_json::from_str(text).map_err(|e| DataError::OverridesSyntax {
                path: source.to_path_buf(),
                message: e.to_string(),
            })?;
        Self::from_raw(raw, source)
    }

    fn from_raw(raw: RawOverrides, source: &Path) -> Result<Self> {
        let field_error = |field: String, message: String| DataError::OverridesField {
            path: source.to_path_buf(),
            field,
            message,
        };
        let mut columns = BTreeMap::new();
        for (name, raw_column) in raw.columns {
            let field = |key: &str| format!("columns.{name}.{key}");
            let kind = match (raw_column.kind.as_deref(), raw_column.format) {
                (Some(kind), format) => {
                    Some(parse_kind(kind, format).map_err(|m| field_error(field("kind"), m))?)
                }
                (None, Some(format)) => Some(ColumnKind::Datetime { format }),
                (None, None) => None,
            };
            if let Some(ColumnKind::Datetime { format }) = &kind
                && !format.is_empty()
                && DatetimeFormat::new(format).is_none()
            {
                return Err(field_error(
                    field("format"),
                    format!(
                        "{format:?} is not a valid strftime format; write it like \"%Y-%m-%d %H:%M:%S\""
                    ),
                ));
            }
            let pii = raw_column
                .pii
                .as_deref()
                .map(parse_policy)
                .transpose()
                .map_err(|m| field_error(field("pii"), m))?;
            let pii_kind = raw_column
                .pii_kind
                .as_deref()
                .map(parse_pii_kind)
                .transpose()
                .map_err(|m| field_error(field("pii_kind"), m))?;
            columns.insert(
                name,
                ColumnOverride {
                    kind,
                    pii,
                    pii_kind,
                },
            );
        }
        Ok(Self {
            primary_key: raw.primary_key,
            columns,
            source: Some(source.to_path_buf()),
        })
    }

    /// The settings for a column, if the file has any.
    pub fn column(&self, name: &str) -> Option<&ColumnOverride> {
        self.columns.get(name)
    }

    /// Checks that every column the overrides name exists in `names`, the columns of `data`.
    pub fn check_columns(&self, names: &[String], data: &Path) -> Result<()> {
        let named = self
            .columns
            .keys()
            .map(|c| (format!("columns.{c}"), c))
            .chain(
                self.primary_key
                    .iter()
                    .map(|k| ("primary_key".to_string(), k)),
            );
        for (field, column) in named {
            if !names.iter().any(|n| n == column) {
                return Err(DataError::UnknownOverrideColumn {
                    overrides: self
                        .source
                        .clone()
                        .unwrap_or_else(|| PathBuf::from("<schema overrides>")),
                    field,
                    column: column.clone(),
                    data: data.to_path_buf(),
                    available: names.join(", "),
                });
            }
        }
        Ok(())
    }
}

fn parse_kind(text: &str, format: Option<String>) -> Result<ColumnKind, String> {
    let normalized = text.trim().to_ascii_lowercase().replace(['-', ' '], "_");
    let kind = match normalized.as_str() {
        "integer" | "int" => ColumnKind::Integer,
        "float" | "real" | "number" => ColumnKind::Float,
        "boolean" | "bool" => ColumnKind::Boolean,
        "categorical" | "category" => ColumnKind::Categorical,
        "high_cardinality" => ColumnKind::HighCardinality,
        "datetime" | "date" | "timestamp" => ColumnKind::Datetime {
            format: format.clone().unwrap_or_default(),
        },
        "text" => ColumnKind::Text,
        "identifier" | "id" => ColumnKind::Identifier,
        "constant" => ColumnKind::Constant,
        _ => return Err(format!("unknown kind {text:?}; use one of {KIND_NAMES}")),
    };
    if format.is_some() && !matches!(kind, ColumnKind::Datetime { .. }) {
        return Err(format!(
            "a format is given but the kind is {text:?}; formats belong to kind = \"datetime\""
        ));
    }
    Ok(kind)
}

fn parse_policy(text: &str) -> Result<PiiPolicy, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "exclude" => Ok(PiiPolicy::Exclude),
        "keep" => Ok(PiiPolicy::Keep),
        "fake" => Ok(PiiPolicy::Fake),
        _ => Err(format!(
            "unknown policy {text:?}; use \"exclude\", \"keep\" or \"fake\""
        )),
    }
}

fn parse_pii_kind(text: &str) -> Result<PiiKind, String> {
    let normalized = text.trim().to_ascii_lowercase().replace(['-', ' '], "_");
    PiiKind::ALL
        .into_iter()
        .find(|kind| {
            serde_json::to_value(kind)
                .ok()
                .is_some_and(|v| v.as_str() == Some(normalized.as_str()))
        })
        .ok_or_else(|| {
            format!(
                "unknown personal-data kind {text:?}; use one of email, phone, credit_card, iban, ipv4, ipv6, ssn, date_of_birth, person_name, street_address"
            )
        })
}

/// The kind and storage of a column the user overrode to `kind`, given what inference found
/// (`None` for a column with no values).
pub(crate) fn resolve_kind(
    kind: &ColumnKind,
    inferred_physical: Option<PhysicalType>,
    inferred_kind: Option<&ColumnKind>,
) -> Result<(ColumnKind, PhysicalType), String> {
    let physical = match kind {
        ColumnKind::Integer => PhysicalType::Int64,
        ColumnKind::Float => PhysicalType::Float64,
        ColumnKind::Boolean => PhysicalType::Boolean,
        ColumnKind::Categorical | ColumnKind::HighCardinality | ColumnKind::Text => {
            PhysicalType::Utf8
        }
        ColumnKind::Datetime { format } if format.is_empty() => {
            return match inferred_kind {
                Some(found @ ColumnKind::Datetime { .. }) => Ok((found.clone(), PhysicalType::TimestampMillis)),
                _ => Err(
                    "kind datetime needs a format here, since no known format reads every value; add format = \"...\" in the schema file"
                        .into(),
                ),
            };
        }
        ColumnKind::Datetime { .. } => PhysicalType::TimestampMillis,
        ColumnKind::Identifier => match inferred_physical {
            Some(PhysicalType::Int64) => PhysicalType::Int64,
            _ => PhysicalType::Utf8,
        },
        ColumnKind::Constant => inferred_physical.unwrap_or(PhysicalType::Utf8),
    };
    Ok((kind.clone(), physical))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toml(text: &str) -> Result<SchemaOverrides> {
        SchemaOverrides::from_toml_str(text, Path::new("schema.toml"))
    }

    #[test]
    fn reads_the_documented_shape() {
        let overrides = toml(
            "primary_key = \"id\"\n[columns.zip]\nkind = \"categorical\"\n[columns.signup]\nkind = \"datetime\"\nformat = \"%d/%m/%Y\"\n[columns.email]\npii = \"keep\"\n",
        )
        .expect("valid");
        assert_eq!(overrides.primary_key.as_deref(), Some("id"));
        assert_eq!(overrides.columns["zip"].kind, Some(ColumnKind::Categorical));
        assert_eq!(
            overrides.columns["signup"].kind,
            Some(ColumnKind::Datetime {
                format: "%d/%m/%Y".into()
            })
        );
        assert_eq!(overrides.columns["email"].pii, Some(PiiPolicy::Keep));
    }

    #[test]
    fn bad_fields_are_named() {
        let err = toml("[columns.a]\nkind = \"number-ish\"\n").expect_err("bad kind");
        let message = err.to_string();
        assert!(
            message.contains("schema.toml") && message.contains("columns.a.kind"),
            "{message}"
        );
        let err = toml("[columns.a]\npii = \"maybe\"\n").expect_err("bad policy");
        assert!(err.to_string().contains("columns.a.pii"), "{err}");
        let err =
            toml("[columns.a]\nkind = \"datetime\"\nformat = \"%Q\"\n").expect_err("bad format");
        assert!(err.to_string().contains("columns.a.format"), "{err}");
    }

    #[test]
    fn pii_kinds_use_their_snake_case_names() {
        assert_eq!(parse_pii_kind("credit-card"), Ok(PiiKind::CreditCard));
        assert!(parse_pii_kind("passport").is_err());
    }

    #[test]
    fn overriding_to_datetime_without_a_format_keeps_the_inferred_one() {
        let inferred = ColumnKind::Datetime {
            format: "%Y-%m-%d".into(),
        };
        let empty = ColumnKind::Datetime {
            format: String::new(),
        };
        let (kind, physical) =
            resolve_kind(&empty, Some(PhysicalType::TimestampMillis), Some(&inferred))
                .expect("resolves");
        assert_eq!((kind, physical), (inferred, PhysicalType::TimestampMillis));
        assert!(resolve_kind(&empty, Some(PhysicalType::Utf8), Some(&ColumnKind::Text)).is_err());
    }
}
