//! Information the user declares public: per column, the category set, value bounds,
//! whether nulls occur, and the longest sequence. Declared facts cost no budget; the
//! rest is measured with DP or the run is not DP.
//!
//! The file is JSON or TOML:
//! ```toml
//! [columns.age]
//! bounds = [17, 90]
//! quantum = 1
//! [columns.workclass]
//! categories = ["Private", "Self-emp-not-inc", "Local-gov"]
//! nullable = true
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{PrivacyError, Result};

/// What is public about one column.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicColumn {
    /// Every value the column may take (as written in the source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
    /// `[lower, upper]` of a numeric column (datetimes in epoch milliseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bounds: Option<[f64; 2]>,
    /// Values are multiples of this (0.01 for cents, 86400000 for datetimes on whole
    /// days): generated values are rounded to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantum: Option<f64>,
    /// Whether nulls may occur.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nullable: Option<bool>,
    /// Longest sequence of events per entity (for the sequence key column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
}

/// Declared public information about a table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicSchema {
    /// By column name.
    #[serde(default)]
    pub columns: BTreeMap<String, PublicColumn>,
}

impl PublicSchema {
    /// The declaration of `column`, if any.
    pub fn column(&self, column: &str) -> Option<&PublicColumn> {
        self.columns.get(column)
    }

    /// Checks every declaration: bounds finite and ordered, category lists non-empty and
    /// without repeats. Errors name the column and field.
    pub fn validate(&self) -> Result<()> {
        for (name, column) in &self.columns {
            if let Some([low, high]) = column.bounds
                && !(low.is_finite() && high.is_finite() && low < high)
            {
                return Err(PrivacyError::InvalidParameter {
                    field: "bounds",
                    message: format!("column {name:?}: [{low}, {high}] is not a finite interval"),
                });
            }
            if let Some(categories) = &column.categories {
                if categories.is_empty() {
                    return Err(PrivacyError::InvalidParameter {
                        field: "categories",
                        message: format!("column {name:?}: the list is empty"),
                    });
                }
                let mut seen = std::collections::HashSet::new();
                if let Some(repeat) = categories.iter().find(|c| !seen.insert(c.as_str())) {
                    return Err(PrivacyError::InvalidParameter {
                        field: "categories",
                        message: format!("column {name:?}: {repeat:?} is listed twice"),
                    });
                }
            }
            if let Some(q) = column.quantum
                && !(q > 0.0 && q.is_finite())
            {
                return Err(PrivacyError::InvalidParameter {
                    field: "quantum",
                    message: format!("column {name:?}: {q} is not a positive number"),
                });
            }
            if column.max_length == Some(0) {
                return Err(PrivacyError::InvalidParameter {
                    field: "max_length",
                    message: format!("column {name:?}: must be at least 1"),
                });
            }
        }
        Ok(())
    }

    /// Parses JSON or TOML text (by `path`'s extension; JSON when unknown), validated.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let is_toml = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
        let schema: Self = if is_toml {
            toml::from_str(text).map_err(|e| PrivacyError::InvalidParameter {
                field: "public schema",
                message: format!("{}: {e}", path.display()),
            })?
        } else {
            serde_json::from_str(text).map_err(|e| PrivacyError::InvalidParameter {
                field: "public schema",
                message: format!("{}: {e}", path.display()),
            })?
        };
        schema
            .validate()
            .map_err(|e| PrivacyError::InvalidParameter {
                field: "public schema",
                message: format!("{}: {e}", path.display()),
            })?;
        Ok(schema)
    }

    /// Reads and parses a file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| PrivacyError::InvalidParameter {
            field: "public schema",
            message: format!("{}: {e}", path.display()),
        })?;
        Self::parse(&text, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_and_json_parse_to_the_same_declaration() {
        let toml = "[columns.age]\nbounds = [17, 90]\n[columns.sex]\ncategories = [\"Male\", \"Female\"]\n";
        let json = r#"{"columns": {"age": {"bounds": [17, 90]}, "sex": {"categories": ["Male", "Female"]}}}"#;
        let a = PublicSchema::parse(toml, Path::new("p.toml")).expect("toml");
        let b = PublicSchema::parse(json, Path::new("p.json")).expect("json");
        assert_eq!(a, b);
        assert_eq!(a.column("age").and_then(|c| c.bounds), Some([17.0, 90.0]));
    }

    #[test]
    fn bad_declarations_name_the_file_and_column() {
        let cases = [
            r#"{"columns": {"age": {"bounds": [90, 17]}}}"#,
            r#"{"columns": {"sex": {"categories": []}}}"#,
            r#"{"columns": {"sex": {"categories": ["a", "a"]}}}"#,
            r#"{"columns": {"sex": {"colour": 1}}}"#,
            r#"{"columns": {"seq": {"max_length": 0}}}"#,
            r#"{"columns": {"x": {"quantum": 0}}}"#,
            "not json",
        ];
        for case in cases {
            let err = PublicSchema::parse(case, Path::new("public.json")).expect_err(case);
            let text = err.to_string();
            assert!(text.contains("public.json"), "{text}");
        }
        let err = PublicSchema::load(Path::new("/nonexistent/p.json")).expect_err("missing");
        assert!(err.to_string().contains("/nonexistent/p.json"));
    }
}
