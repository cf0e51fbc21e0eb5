//! The privacy side of `mirage synth --epsilon`: which models may train with DP, the
//! reservation against the dataset's budget before training, the `privacy` section the
//! model gets, and the commit (or release) after it.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use mirage_core::records::ModelKind;
use mirage_privacy::{PrivacyBudget, PrivacyReport, PublicSchema, Spend};
use serde::Serialize;

use crate::budget::{BudgetStore, DEFAULT_BUDGET, check_dataset_name};

/// What the user asked for with `--epsilon`.
#[derive(Debug, Clone)]
pub struct PrivacyRequest {
    /// Target ε.
    pub epsilon: f64,
    /// Target δ.
    pub delta: f64,
    /// A file of facts declared public.
    pub public: Option<PathBuf>,
    /// The dataset whose budget pays; from the source's name when `None`.
    pub dataset: Option<String>,
}

/// The models that can train with DP.
pub const DP_MODELS: [ModelKind; 4] = [
    ModelKind::Mst,
    ModelKind::TabularArgn,
    ModelKind::Tvae,
    ModelKind::Ctgan,
];

/// Whether `kind` can train with differential privacy.
pub fn supports_dp(kind: ModelKind) -> bool {
    DP_MODELS.contains(&kind)
}

/// The model for a DP run: the named one if it supports DP, else MST at ε ≤ 1 (marginal
/// models beat DP-SGD at small ε) and TabularARGN above.
pub fn choose(named: Option<ModelKind>, epsilon: f64) -> anyhow::Result<(ModelKind, String)> {
    match named {
        Some(kind) if DP_MODELS.contains(&kind) => Ok((kind, "named with --model".into())),
        Some(kind) => bail!(
            "{kind} cannot train with differential privacy; use one of {}",
            DP_MODELS.map(|k| k.name()).join(", ")
        ),
        None if epsilon <= 1.0 => Ok((
            ModelKind::Mst,
            format!("DP at ε = {epsilon} ≤ 1: marginal-based MST"),
        )),
        None => Ok((
            ModelKind::TabularArgn,
            format!("DP at ε = {epsilon} > 1: DP-SGD TabularARGN"),
        )),
    }
}

/// The dataset name of a source: its file name without extensions, with characters a
/// name may not hold replaced by `_`.
pub fn dataset_name(source: &Path) -> String {
    let name = source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dataset".into());
    let mut stem = name.as_str();
    for suffix in [".gz", ".csv", ".tsv", ".txt", ".parquet"] {
        if let Some(s) = stem.strip_suffix(suffix) {
            stem = s;
        }
    }
    let cleaned: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "dataset".into()
    } else {
        cleaned
    }
}

/// A reservation held for one DP run.
#[derive(Debug)]
pub struct Reservation {
    store: BudgetStore,
    dataset: String,
    request: String,
    budget_created: bool,
}

/// What a DP run spent, for the summary.
#[derive(Debug, Clone, Serialize)]
pub struct PrivacySummary {
    /// The dataset that paid.
    pub dataset: String,
    /// The model's report (target, ε by RDP and PRV, events).
    pub report: PrivacyReport,
    /// The dataset's budget.
    pub budget: Spend,
    /// Its committed spend after this run.
    pub committed: Spend,
    /// Whether this run created the dataset's budget (at [`DEFAULT_BUDGET`]).
    pub budget_created: bool,
}

impl PrivacyRequest {
    /// Validates the request and returns the `privacy` section for the model's config.
    pub fn model_section(&self) -> anyhow::Result<serde_json::Value> {
        PrivacyBudget::new(self.epsilon, self.delta).context("--epsilon/--delta")?;
        let public = match &self.public {
            Some(path) => PublicSchema::load(path).context("--public")?,
            None => PublicSchema::default(),
        };
        Ok(serde_json::json!({
            "epsilon": self.epsilon,
            "delta": self.delta,
            "public": public,
        }))
    }

    /// Reserves (ε, δ) from the dataset's budget; refuses when it would be exceeded.
    pub fn reserve(&self, store: BudgetStore, source: &Path) -> anyhow::Result<Reservation> {
        let dataset = match &self.dataset {
            Some(name) => name.clone(),
            None => dataset_name(source),
        };
        check_dataset_name(&dataset).context("--dataset")?;
        let request = format!("synth-{}", uuid::Uuid::new_v4());
        let ((), created) = store.update(&dataset, Some(DEFAULT_BUDGET), |ledger| {
            ledger
                .reserve(&request, Spend::new(self.epsilon, self.delta))
                .with_context(|| {
                    format!(
                        "the privacy budget of dataset {dataset:?} (ε = {}, δ = {:e}) would be exceeded; \
                         see `mirage budget show {dataset}`",
                        ledger.budget().epsilon,
                        ledger.budget().delta
                    )
                })
        })?;
        Ok(Reservation {
            store,
            dataset,
            request,
            budget_created: created,
        })
    }
}

impl Reservation {
    /// Gives the reservation back (the run failed before spending anything final).
    pub fn release(self) -> anyhow::Result<()> {
        self.store.update(&self.dataset, None, |ledger| {
            ledger.release(&self.request);
            Ok(())
        })?;
        Ok(())
    }

    /// Commits what the model reports it spent, with every mechanism it ran.
    pub fn commit(self, report: &PrivacyReport) -> anyhow::Result<PrivacySummary> {
        let spend = Spend::new(report.epsilon_rdp, report.target.delta);
        let (ledger, _) = self.store.update(&self.dataset, None, |ledger| {
            ledger.commit_mechanisms(&self.request, spend, &report.events)?;
            Ok(ledger.clone())
        })?;
        Ok(PrivacySummary {
            dataset: self.dataset,
            report: report.clone(),
            budget: ledger.budget(),
            committed: ledger.committed(),
            budget_created: self.budget_created,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dp_models_and_defaults() {
        assert_eq!(choose(None, 1.0).expect("mst").0, ModelKind::Mst);
        assert_eq!(choose(None, 3.0).expect("argn").0, ModelKind::TabularArgn);
        assert_eq!(
            choose(Some(ModelKind::Tvae), 0.5).expect("tvae").0,
            ModelKind::Tvae
        );
        let err = choose(Some(ModelKind::GaussianCopula), 1.0).expect_err("not dp");
        assert!(
            err.to_string()
                .contains("cannot train with differential privacy")
        );
    }

    #[test]
    fn dataset_names_come_from_the_file() {
        assert_eq!(dataset_name(Path::new("/x/adult.csv.gz")), "adult");
        assert_eq!(dataset_name(Path::new("my data.parquet")), "my_data");
    }

    #[test]
    fn reservations_refuse_overspending_and_release() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = BudgetStore::at(dir.path().to_path_buf());
        let request = PrivacyRequest {
            epsilon: 6.0,
            delta: 1e-5,
            public: None,
            dataset: Some("d".into()),
        };
        let held = request
            .reserve(store.clone(), Path::new("d.csv"))
            .expect("fits the default budget");
        let err = request
            .reserve(store.clone(), Path::new("d.csv"))
            .expect_err("12 > 10");
        assert!(format!("{err:#}").contains("would be exceeded"), "{err:#}");
        held.release().expect("release");
        request
            .reserve(store, Path::new("d.csv"))
            .expect("fits again");
    }
}
