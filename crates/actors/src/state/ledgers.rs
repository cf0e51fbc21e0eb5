//! The privacy ledger of every dataset, decided inside `apply`: Raft orders all
//! reservations, so concurrent ones from any node can never jointly overspend.
//!
//! A [`Ledger`] persists as its hash-chained log only ([`LedgerFile`]); the snapshot holds
//! those logs and rebuilding replays them, which also verifies every chain.

use std::collections::BTreeMap;

use mirage_core::{DatasetId, JobId};
use mirage_privacy::{Ledger, LedgerError, LedgerFile, MechanismEvent, Spend};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ClusterState;
use super::outcome::{Outcome, Response};
use crate::error::StateError;

/// The ledgers, by dataset.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ledgers(pub(super) BTreeMap<DatasetId, Ledger>);

impl Serialize for Ledgers {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let files: BTreeMap<&DatasetId, LedgerFile> =
            self.0.iter().map(|(id, l)| (id, l.to_file())).collect();
        files.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Ledgers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let files = BTreeMap::<DatasetId, LedgerFile>::deserialize(deserializer)?;
        let mut ledgers = BTreeMap::new();
        for (id, file) in files {
            let ledger = Ledger::from_file(&file)
                .map_err(|e| D::Error::custom(format!("privacy ledger of dataset {id}: {e}")))?;
            ledgers.insert(id, ledger);
        }
        Ok(Ledgers(ledgers))
    }
}

fn valid_spend(field: &str, spend: Spend) -> Result<(), StateError> {
    let ok = spend.epsilon.is_finite()
        && spend.epsilon >= 0.0
        && spend.delta.is_finite()
        && (0.0..1.0).contains(&spend.delta);
    if ok {
        Ok(())
    } else {
        Err(StateError::invalid(
            field,
            format!(
                "ε={}, δ={}: ε must be finite and ≥ 0, δ in [0, 1)",
                spend.epsilon, spend.delta
            ),
        ))
    }
}

fn ledger_error(dataset: DatasetId, error: LedgerError) -> StateError {
    match error {
        LedgerError::BudgetExceeded {
            request,
            requested_epsilon,
            requested_delta,
            available_epsilon,
            available_delta,
        } => StateError::BudgetExceeded {
            dataset,
            request,
            requested_epsilon,
            requested_delta,
            available_epsilon,
            available_delta,
        },
        LedgerError::InvalidSpend { epsilon, delta, .. } => StateError::invalid(
            "spend",
            format!("ε={epsilon}, δ={delta}: ε must be finite and ≥ 0, δ in [0, 1)"),
        ),
        other => StateError::Ledger {
            dataset,
            message: other.to_string(),
        },
    }
}

impl ClusterState {
    pub(super) fn set_budget(&mut self, dataset: DatasetId, budget: Spend) -> Response {
        valid_spend("budget", budget)?;
        if !self.datasets.contains_key(&dataset) {
            return Err(StateError::UnknownDataset { dataset });
        }
        match self.ledgers.0.get_mut(&dataset) {
            None => {
                self.ledgers.0.insert(dataset, Ledger::new(budget));
                Ok(Outcome::Applied)
            }
            Some(ledger) => {
                let before = ledger.log().len();
                ledger
                    .set_budget(budget)
                    .map_err(|e| ledger_error(dataset, e))?;
                Ok(changed(before, ledger))
            }
        }
    }

    pub(super) fn reserve(&mut self, dataset: DatasetId, request: &str, spend: Spend) -> Response {
        let ledger = self.ledger_mut(dataset, request)?;
        let before = ledger.log().len();
        ledger
            .reserve(request, spend)
            .map_err(|e| ledger_error(dataset, e))?;
        Ok(changed(before, ledger))
    }

    pub(super) fn commit(
        &mut self,
        dataset: DatasetId,
        request: &str,
        spend: Spend,
        mechanisms: &[MechanismEvent],
    ) -> Response {
        let ledger = self.ledger_mut(dataset, request)?;
        let before = ledger.log().len();
        ledger
            .commit_mechanisms(request, spend, mechanisms)
            .map_err(|e| ledger_error(dataset, e))?;
        Ok(changed(before, ledger))
    }

    /// Gives back whatever a job that ended without success had reserved (its request id
    /// is the job id): a failed or cancelled job spends nothing.
    pub(super) fn release_reservations(&mut self, job: JobId) {
        let request = job.to_string();
        for ledger in self.ledgers.0.values_mut() {
            ledger.release(&request);
        }
    }

    pub(super) fn release(&mut self, dataset: DatasetId, request: &str) -> Response {
        let ledger = self.ledger_mut(dataset, request)?;
        let before = ledger.log().len();
        ledger.release(request);
        Ok(changed(before, ledger))
    }

    fn ledger_mut(&mut self, dataset: DatasetId, request: &str) -> Result<&mut Ledger, StateError> {
        if request.trim().is_empty() {
            return Err(StateError::invalid(
                "request",
                "a ledger request needs an id (usually the job's)",
            ));
        }
        if !self.datasets.contains_key(&dataset) {
            return Err(StateError::UnknownDataset { dataset });
        }
        self.ledgers
            .0
            .get_mut(&dataset)
            .ok_or(StateError::NoBudget { dataset })
    }
}

/// `Applied` when the ledger logged an event, `Unchanged` for a repeated request.
fn changed(log_before: usize, ledger: &Ledger) -> Outcome {
    if ledger.log().len() > log_before {
        Outcome::Applied
    } else {
        Outcome::Unchanged
    }
}
