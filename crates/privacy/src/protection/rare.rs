//! Rare-category protection: a category seen fewer than `k` times could single out the
//! few rows that hold it, so it is merged into an "other" value before a model sees it.
//!
//! With DP the kept set comes from Gaussian noisy counts. When the category list is not
//! declared, the keys themselves come from the data, so keeping one is a Gaussian
//! partition selection: a key survives only when its noisy count reaches
//! max(k, τ), where τ lets a key held by one row through with probability δ_sel; that δ
//! is charged next to the Gaussian. When the list is declared, every declared category
//! gets a noisy count (zero when absent) and no δ is spent.

use std::collections::{BTreeMap, BTreeSet};

use rand::Rng;

use super::{Protection, check_rho, in_column, invalid, mark_plain};
use crate::error::Result;
use crate::mechanism::{gaussian_sigma, noisy_counts, partition_threshold, select_partitions};
use crate::tracker::{Mechanism, PrivacyTracker};

/// The usual minimum count of a kept category.
pub const DEFAULT_K: f64 = 5.0;

/// The value rare categories are merged into, unless set otherwise.
pub const DEFAULT_OTHER_LABEL: &str = "(other)";

/// The categories of one column that are kept; every other value maps to the "other"
/// label.
#[derive(Debug, Clone, PartialEq)]
pub struct RareCategories {
    column: String,
    kept: BTreeSet<String>,
    other: String,
}

impl RareCategories {
    /// Fits the kept set of `column` from its category counts (a category may appear
    /// more than once in `counts`; its counts are added up).
    ///
    /// - `k`: the least count of a kept category (≥ 1; usually [`DEFAULT_K`]).
    /// - `selection_delta`: the δ of partition selection, used (and charged) only by DP
    ///   without a declared category list.
    /// - `source`: [`Protection::Declared`] keeps the declared categories whatever the
    ///   counts; [`Protection::Dp`] keeps those whose noisy count reaches the threshold;
    ///   [`Protection::Plain`] keeps those whose exact count reaches `k` and marks the
    ///   run not DP.
    ///
    /// Errors name the column: `k` not a number ≥ 1, no counts (when the data is read),
    /// ρ not positive, δ not in (0, 1), or a declaration without categories.
    pub fn fit(
        column: &str,
        counts: &[(String, u64)],
        k: f64,
        selection_delta: f64,
        source: Protection<'_>,
        tracker: &mut PrivacyTracker,
        rng: &mut impl Rng,
    ) -> Result<Self> {
        if !(k >= 1.0 && k.is_finite()) {
            return Err(invalid(
                column,
                "k",
                format!("{k} is not a number of at least 1"),
            ));
        }
        let kept = match source {
            Protection::Declared(declared) => {
                let Some(categories) = &declared.categories else {
                    return Err(invalid(
                        column,
                        "categories",
                        "no categories are declared; declare them or measure them with DP",
                    ));
                };
                if categories.is_empty() {
                    return Err(invalid(column, "categories", "the declared list is empty"));
                }
                categories.iter().cloned().collect()
            }
            Protection::Dp { rho, declared } => {
                check_rho(column, rho)?;
                let merged = merge(column, counts)?;
                match declared.and_then(|d| d.categories.as_ref()) {
                    Some(categories) => {
                        dp_declared(column, &merged, categories, k, rho, tracker, rng)?
                    }
                    None => dp_selected(column, &merged, k, selection_delta, rho, tracker, rng)?,
                }
            }
            Protection::Plain => {
                let merged = merge(column, counts)?;
                mark_plain(tracker, "rare-category protection", column);
                merged
                    .into_iter()
                    .filter(|(_, count)| *count as f64 >= k)
                    .map(|(category, _)| category.to_string())
                    .collect()
            }
        };
        Ok(Self {
            column: column.to_string(),
            kept,
            other: DEFAULT_OTHER_LABEL.to_string(),
        })
    }

    /// Sets the value rare categories map to. A label equal to a kept category merges
    /// the rare ones into it.
    pub fn with_other_label(mut self, label: impl Into<String>) -> Self {
        self.other = label.into();
        self
    }

    /// `value` when it is kept, otherwise the "other" label.
    pub fn apply<'a>(&'a self, value: &'a str) -> &'a str {
        if self.kept.contains(value) {
            value
        } else {
            &self.other
        }
    }

    /// Whether `value` is kept as it is.
    pub fn is_kept(&self, value: &str) -> bool {
        self.kept.contains(value)
    }

    /// The kept categories, sorted.
    pub fn kept(&self) -> impl Iterator<Item = &str> {
        self.kept.iter().map(String::as_str)
    }

    /// The value rare categories map to.
    pub fn other_label(&self) -> &str {
        &self.other
    }

    /// The column this was fitted on.
    pub fn column(&self) -> &str {
        &self.column
    }
}

/// Adds up repeated categories (sorted, so the noise is drawn in a fixed order).
fn merge<'a>(column: &str, counts: &'a [(String, u64)]) -> Result<BTreeMap<&'a str, u64>> {
    if counts.is_empty() {
        return Err(invalid(column, "counts", "no category counts were given"));
    }
    let mut merged = BTreeMap::new();
    for (category, count) in counts {
        *merged.entry(category.as_str()).or_insert(0u64) += count;
    }
    Ok(merged)
}

/// Noisy counts over the declared list (its keys are public: no partition selection).
fn dp_declared(
    column: &str,
    merged: &BTreeMap<&str, u64>,
    categories: &[String],
    k: f64,
    rho: f64,
    tracker: &mut PrivacyTracker,
    rng: &mut impl Rng,
) -> Result<BTreeSet<String>> {
    let sigma = gaussian_sigma(rho, 1.0).map_err(|e| in_column(column, e))?;
    tracker
        .charge(
            format!("category counts of {column}"),
            Mechanism::Gaussian {
                sigma,
                sensitivity: 1.0,
            },
        )
        .map_err(|e| in_column(column, e))?;
    // A repeated declared category would be counted twice; keep the first.
    let mut seen = BTreeSet::new();
    let declared: Vec<&str> = categories
        .iter()
        .map(String::as_str)
        .filter(|c| seen.insert(*c))
        .collect();
    let exact: Vec<f64> = declared
        .iter()
        .map(|c| merged.get(c).copied().unwrap_or(0) as f64)
        .collect();
    let noisy = noisy_counts(&exact, sigma, rng).map_err(|e| in_column(column, e))?;
    Ok(declared
        .into_iter()
        .zip(noisy)
        .filter(|(_, n)| *n >= k)
        .map(|(c, _)| c.to_string())
        .collect())
}

/// Gaussian partition selection over the categories seen in the data.
fn dp_selected(
    column: &str,
    merged: &BTreeMap<&str, u64>,
    k: f64,
    selection_delta: f64,
    rho: f64,
    tracker: &mut PrivacyTracker,
    rng: &mut impl Rng,
) -> Result<BTreeSet<String>> {
    let sigma = gaussian_sigma(rho, 1.0).map_err(|e| in_column(column, e))?;
    let threshold = partition_threshold(sigma, selection_delta)
        .map_err(|e| in_column(column, e))?
        .max(k);
    // The δ first: it is the charge that can be refused.
    tracker
        .charge(
            format!("category selection of {column}"),
            Mechanism::Delta {
                delta: selection_delta,
            },
        )
        .map_err(|e| in_column(column, e))?;
    tracker
        .charge(
            format!("category counts of {column}"),
            Mechanism::Gaussian {
                sigma,
                sensitivity: 1.0,
            },
        )
        .map_err(|e| in_column(column, e))?;
    let exact: Vec<(&str, f64)> = merged.iter().map(|(c, n)| (*c, *n as f64)).collect();
    let kept =
        select_partitions(&exact, sigma, threshold, rng).map_err(|e| in_column(column, e))?;
    Ok(kept.into_iter().map(|(c, _)| c.to_string()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::public::PublicColumn;
    use crate::tracker::PrivacyBudget;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn tracker() -> PrivacyTracker {
        PrivacyTracker::new(PrivacyBudget::new(20.0, 1e-5).expect("budget"))
    }

    fn counts() -> Vec<(String, u64)> {
        [
            ("Private", 5000),
            ("Self-emp", 800),
            ("Gov", 50),
            ("Never-worked", 5),
            ("Without-pay", 4),
            ("Alien", 1),
            ("Ghost", 1),
        ]
        .into_iter()
        .map(|(c, n)| (c.to_string(), n))
        .collect()
    }

    #[test]
    fn dp_keeps_common_categories_drops_singletons_and_charges() {
        let mut tracker = tracker();
        let before = tracker.report().expect("report").epsilon_rdp;
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let rare = RareCategories::fit(
            "workclass",
            &counts(),
            DEFAULT_K,
            1e-7,
            Protection::dp(1.0),
            &mut tracker,
            &mut rng,
        )
        .expect("fit");
        for kept in ["Private", "Self-emp", "Gov"] {
            assert!(rare.is_kept(kept), "{kept}");
        }
        // Counts near k (4, 5) go either way; singletons never pass τ.
        for dropped in ["Alien", "Ghost"] {
            assert!(!rare.is_kept(dropped), "{dropped}");
            assert_eq!(rare.apply(dropped), DEFAULT_OTHER_LABEL);
        }
        assert_eq!(rare.apply("Private"), "Private");
        let report = tracker.report().expect("report");
        assert!(report.differentially_private);
        assert!(report.epsilon_rdp > before);
        assert!((report.extra_delta - 1e-7).abs() < 1e-18);
        assert_eq!(report.events.len(), 2);
        assert!(report.events.iter().all(|e| e.label.contains("workclass")));
        assert!(matches!(
            report.events[0].mechanism,
            Mechanism::Delta { .. }
        ));
        assert!(matches!(
            report.events[1].mechanism,
            Mechanism::Gaussian { sensitivity, .. } if sensitivity == 1.0
        ));
    }

    #[test]
    fn dp_with_declared_list_spends_no_delta_and_maps_undeclared_to_other() {
        let declared = PublicColumn {
            categories: Some(vec![
                "Private".into(),
                "Gov".into(),
                "Retired".into(),
                "Alien".into(),
            ]),
            ..Default::default()
        };
        let mut tracker = tracker();
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let rare = RareCategories::fit(
            "workclass",
            &counts(),
            DEFAULT_K,
            1e-7,
            Protection::dp_with(1.0, &declared),
            &mut tracker,
            &mut rng,
        )
        .expect("fit")
        .with_other_label("Other");
        assert_eq!(rare.kept().collect::<Vec<_>>(), vec!["Gov", "Private"]);
        // Undeclared, however common.
        assert_eq!(rare.apply("Self-emp"), "Other");
        // Declared but absent from the data, and declared but rare.
        assert_eq!(rare.apply("Retired"), "Other");
        assert_eq!(rare.apply("Alien"), "Other");
        let report = tracker.report().expect("report");
        assert_eq!(report.extra_delta, 0.0);
        assert_eq!(report.events.len(), 1);
        assert!(report.differentially_private);
    }

    #[test]
    fn declared_list_is_kept_and_costs_nothing() {
        let declared = PublicColumn {
            categories: Some(vec!["Private".into(), "Alien".into()]),
            ..Default::default()
        };
        let mut tracker = tracker();
        let mut rng = ChaCha8Rng::seed_from_u64(13);
        let rare = RareCategories::fit(
            "workclass",
            &[],
            DEFAULT_K,
            1e-7,
            Protection::Declared(&declared),
            &mut tracker,
            &mut rng,
        )
        .expect("fit");
        assert_eq!(rare.apply("Alien"), "Alien");
        assert_eq!(rare.apply("Self-emp"), "(other)");
        assert_eq!(rare.column(), "workclass");
        let report = tracker.report().expect("report");
        assert!(report.events.is_empty());
        assert!(report.differentially_private);
    }

    #[test]
    fn plain_keeps_exact_counts_from_k_and_is_not_dp() {
        let mut tracker = tracker();
        let mut rng = ChaCha8Rng::seed_from_u64(14);
        let mut repeated = counts();
        repeated.push(("Without-pay".into(), 1));
        let rare = RareCategories::fit(
            "workclass",
            &repeated,
            DEFAULT_K,
            1e-7,
            Protection::Plain,
            &mut tracker,
            &mut rng,
        )
        .expect("fit");
        assert_eq!(
            rare.kept().collect::<Vec<_>>(),
            vec!["Gov", "Never-worked", "Private", "Self-emp", "Without-pay"]
        );
        let report = tracker.report().expect("report");
        assert!(!report.differentially_private);
        assert!(report.events.is_empty());
        assert_eq!(
            report.not_dp_reasons,
            vec![
                "rare-category protection: workclass computed from the data without DP".to_string()
            ]
        );
    }

    /// (k, counts, δ_sel, source) of a refused fit.
    type Case<'a> = (f64, Vec<(String, u64)>, f64, Protection<'a>);

    #[test]
    fn bad_parameters_are_refused_with_the_column() {
        let undeclared = PublicColumn::default();
        let cases: Vec<Case<'_>> = vec![
            (0.0, counts(), 1e-7, Protection::Plain),
            (f64::NAN, counts(), 1e-7, Protection::dp(1.0)),
            (5.0, Vec::new(), 1e-7, Protection::Plain),
            (5.0, Vec::new(), 1e-7, Protection::dp(1.0)),
            (5.0, counts(), 1e-7, Protection::dp(0.0)),
            (5.0, counts(), 1e-7, Protection::dp(-1.0)),
            (5.0, counts(), 0.0, Protection::dp(1.0)),
            (5.0, counts(), 1e-7, Protection::Declared(&undeclared)),
        ];
        for (k, counts, delta, source) in cases {
            let mut tracker = tracker();
            let mut rng = ChaCha8Rng::seed_from_u64(15);
            let err = RareCategories::fit(
                "workclass",
                &counts,
                k,
                delta,
                source,
                &mut tracker,
                &mut rng,
            )
            .expect_err("refused");
            assert!(err.to_string().contains("\"workclass\""), "{err}");
            assert!(tracker.events().is_empty());
        }
    }
}
