//! Settings of a privacy evaluation.

use serde::{Deserialize, Serialize};

use super::error::PrivacyError;

/// How [`evaluate_privacy`](super::evaluate_privacy) samples and attacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrivacyOptions {
    /// Seed of every subsample, split and attack.
    pub seed: u64,
    /// Each table is subsampled (seeded, without replacement) to at most this many rows;
    /// the training and holdout tables are further cut to the same size (see the module doc).
    pub max_rows: usize,
    /// Anonymeter-style attacks per risk (targets, predicates).
    pub attacks: usize,
    /// The attribute-inference target; `None` takes the last categorical column (the last
    /// compared column when there is none).
    pub secret: Option<String>,
    /// The two column sets of the linkability attack; `None` splits the compared columns
    /// in two halves in schema order.
    pub aux_columns: Option<(Vec<String>, Vec<String>)>,
}

impl Default for PrivacyOptions {
    fn default() -> Self {
        Self {
            seed: 0,
            max_rows: 20_000,
            attacks: 500,
            secret: None,
            aux_columns: None,
        }
    }
}

impl PrivacyOptions {
    /// Checks the sizes and that the linkability column sets are non-empty and disjoint
    /// (whether they name compared columns is checked against the tables).
    pub fn validate(&self) -> Result<(), PrivacyError> {
        let invalid = |message: &str| PrivacyError::InvalidOptions {
            message: message.to_string(),
        };
        if self.max_rows < 2 {
            return Err(invalid("max_rows must be at least 2"));
        }
        if self.attacks == 0 {
            return Err(invalid("attacks must be at least 1"));
        }
        if let Some((first, second)) = &self.aux_columns {
            if first.is_empty() || second.is_empty() {
                return Err(invalid(
                    "aux_columns needs at least one column in each of its two sets",
                ));
            }
            for set in [first, second] {
                if let Some((_, repeated)) = set
                    .iter()
                    .enumerate()
                    .find(|(at, c)| set[..*at].contains(c))
                {
                    return Err(PrivacyError::InvalidOptions {
                        message: format!(
                            "aux_columns names column {repeated:?} twice in one set; name each \
                             column once"
                        ),
                    });
                }
            }
            if let Some(shared) = first.iter().find(|c| second.contains(c)) {
                return Err(PrivacyError::InvalidOptions {
                    message: format!(
                        "aux_columns: column {shared:?} is in both sets; the two sets must be \
                         disjoint"
                    ),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        PrivacyOptions::default().validate().expect("defaults");
        let zero = PrivacyOptions {
            attacks: 0,
            ..PrivacyOptions::default()
        };
        assert!(
            zero.validate()
                .expect_err("zero")
                .to_string()
                .contains("attacks")
        );
        let overlap = PrivacyOptions {
            aux_columns: Some((vec!["a".into(), "b".into()], vec!["b".into()])),
            ..PrivacyOptions::default()
        };
        let err = overlap.validate().expect_err("overlap").to_string();
        assert!(err.contains("\"b\""), "{err}");
        let twice = PrivacyOptions {
            aux_columns: Some((vec!["a".into(), "a".into()], vec!["b".into()])),
            ..PrivacyOptions::default()
        };
        let err = twice.validate().expect_err("twice").to_string();
        assert!(err.contains("\"a\" twice"), "{err}");
    }
}
